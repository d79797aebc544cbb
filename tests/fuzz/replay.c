/*
 * replay.c - main() for a fuzz harness built without libFuzzer (make check):
 * runs LLVMFuzzerTestOneInput once on each file named on the command line,
 * printing one TAP point per file. Under --enable-sanitizers this replays
 * the committed corpus with ASan and UBSan; in any build a crash fails it.
 */
#include "tap/tap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes of path (malloc'd, *n set), or NULL. */
static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)len + 1);
        if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) free(buf), buf = NULL;
        *n = (size_t)len;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    tap_plan(0);
    if (argc < 2) tap_bail("usage: %s FILE...", argv[0]);
    for (int i = 1; i < argc; i++) {
        size_t n = 0;
        uint8_t *buf = read_all(argv[i], &n);
        if (!buf) {
            ok(0, "%s: cannot be read", argv[i]);
            continue;
        }
        ok(LLVMFuzzerTestOneInput(buf, n) == 0, "%s replays", argv[i]);
        free(buf);
    }
    return tap_done();
}
