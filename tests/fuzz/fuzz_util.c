/*
 * fuzz_util.c - temporary files for the libFuzzer harnesses: the parsers
 * under test read paths, so each input is written to a per-process file.
 */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_SLOTS 4

static char paths[FUZZ_SLOTS][4096];

void fuzz_remove_files(void)
{
    for (int i = 0; i < FUZZ_SLOTS; i++)
        if (paths[i][0]) unlink(paths[i]);
}

const char *fuzz_write_file(int slot, const char *suffix, const uint8_t *data, size_t n)
{
    static int registered;
    if (slot < 0 || slot >= FUZZ_SLOTS) return NULL;
    if (!registered) registered = 1, atexit(fuzz_remove_files);
    const char *tmp = getenv("TMPDIR");
    char *p = paths[slot];
    if (p[0]) unlink(p);
    snprintf(p, sizeof paths[slot], "%s/nbfuzz-%ld-%d%s", tmp && *tmp ? tmp : "/tmp",
             (long)getpid(), slot, suffix);
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    int bad = n && fwrite(data, 1, n, f) != n;
    if (fclose(f) != 0 || bad) return NULL;
    return p;
}
