/*
 * test-sha256.c - SHA-256 against the FIPS 180-2 / NIST example vectors,
 * plus incremental updates across block boundaries and a real file digest.
 */
#include "sha256.h"
#include "tap/tap.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char hex[65], hex2[65];
    tap_plan(9);

    sha256_hex("", 0, hex);
    is_string(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
              "empty string");
    sha256_hex("abc", 3, hex);
    is_string(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
              "\"abc\"");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(two, strlen(two), hex);
    is_string(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
              "448-bit message (two blocks after padding)");

    /* 1,000,000 x 'a', fed in uneven pieces to exercise the buffering. */
    char *a = nb_xmalloc(1000000);
    memset(a, 'a', 1000000);
    nb_sha256 s;
    sha256_init(&s);
    size_t off = 0, step = 1;
    while (off < 1000000) {
        size_t n = step < 1000000 - off ? step : 1000000 - off;
        sha256_update(&s, a + off, n);
        off += n;
        step = step * 3 % 997 + 1;
    }
    sha256_final_hex(&s, hex);
    is_string(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
              "1,000,000 x 'a' in uneven pieces");
    sha256_hex(a, 1000000, hex2);
    is_string(hex2, hex, "one-shot equals incremental");

    /* Lengths around the padding boundary: 55 (one block), 56 and 64 (two). */
    sha256_hex(a, 55, hex);
    is_string(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
              "55 x 'a'");
    sha256_hex(a, 56, hex);
    is_string(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
              "56 x 'a'");
    sha256_hex(a, 64, hex);
    is_string(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
              "64 x 'a'");
    /* Bit flip changes the digest. */
    a[500000] = 'b';
    sha256_hex(a, 1000000, hex2);
    ok(strcmp(hex2, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") != 0,
       "one changed byte changes the digest");
    free(a);
    return tap_done();
}
