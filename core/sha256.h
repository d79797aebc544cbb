/*
 * sha256.h - SHA-256 (FIPS 180-4) for run hashes and data checksums.
 */
#ifndef NB_SHA256_H
#define NB_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct nb_sha256 {
    uint32_t h[8];
    uint64_t len;        /* bytes hashed so far */
    uint8_t buf[64];
    size_t fill;
} nb_sha256;

void sha256_init(nb_sha256 *s);
void sha256_update(nb_sha256 *s, const void *data, size_t len);
/* Finish and write 64 lowercase hex digits and a NUL into out. */
void sha256_final_hex(nb_sha256 *s, char out[65]);
/* One-shot digest of a buffer. */
void sha256_hex(const void *data, size_t len, char out[65]);

#endif
