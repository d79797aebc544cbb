/*
 * fuzz_util.h - helpers shared by the libFuzzer harnesses of tests/fuzz/
 * (built by make fuzz, see docs/sanitizers-and-fuzzing.md).
 */
#ifndef NB_FUZZ_UTIL_H
#define NB_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Write data[0..n) to a file of this process under TMPDIR (or /tmp) whose
 * name ends in suffix (".yaml", ".inter", ...), replacing its previous
 * content; returns its path (static storage, valid until the next call with
 * the same suffix slot), or NULL when it cannot be written. slot (0..3)
 * lets one input become several files. */
const char *fuzz_write_file(int slot, const char *suffix, const uint8_t *data, size_t n);

/* Remove the files fuzz_write_file wrote (registered with atexit on first use). */
void fuzz_remove_files(void);

#endif
