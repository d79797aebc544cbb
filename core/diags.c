/*
 * diags.c - a growing list of one-line diagnostics ("file:line:col: message").
 *
 * Validation code pushes every problem it finds here instead of stopping at
 * the first, so a user fixes a whole experiment file in one pass; printing
 * stops after NB_DIAGS_MAX_PRINT lines with a count of the rest, so that a
 * hostile file of 200,000 bad keys gives a screenful, not 200,000 lines.
 */
#include "diags.h"
#include "util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Append one message. file NULL: the message alone; line <= 0: "file: msg";
 * else "file:line:col: msg" (1-based, col <= 0 omits the column). */
void diags_add(nb_diags *d, const char *file, int line, int col,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = nb_vstrf(fmt, ap);
    va_end(ap);
    char *s;
    if (!file) s = m, m = NULL;
    else if (line <= 0) s = nb_strf("%s: %s", file, m);
    else if (col <= 0) s = nb_strf("%s:%d: %s", file, line, m);
    else s = nb_strf("%s:%d:%d: %s", file, line, col, m);
    free(m);
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 8;
        d->msg = nb_xrealloc(d->msg, (size_t)d->cap * sizeof *d->msg);
    }
    d->msg[d->n++] = s;
}

/* Print the first NB_DIAGS_MAX_PRINT messages and a count of the rest. */
void diags_print(const nb_diags *d, FILE *out)
{
    for (int i = 0; i < d->n && i < NB_DIAGS_MAX_PRINT; i++) fprintf(out, "%s\n", d->msg[i]);
    if (d->n > NB_DIAGS_MAX_PRINT)
        fprintf(out, "negbench: ... and %d more problems (the first %d are shown)\n",
                d->n - NB_DIAGS_MAX_PRINT, NB_DIAGS_MAX_PRINT);
}

/* The slot of message s in d's index: where it is, or the empty slot where
 * it would go. */
static int slot_of(const nb_diags *d, const char *s)
{
    int mask = d->n_slots - 1, k = (int)(nb_hash_bytes(s, strlen(s)) & (uint64_t)mask);
    while (d->slot[k] >= 0 && strcmp(d->msg[d->slot[k]], s) != 0) k = (k + 1) & mask;
    return k;
}

/* Index msg[n_indexed..n), growing the table to keep it at most half full. */
static void index_messages(nb_diags *d)
{
    if (2 * d->n >= d->n_slots) {
        int cap = 64;
        while (cap <= 2 * d->n) cap *= 2;
        free(d->slot);
        d->slot = nb_xmalloc((size_t)cap * sizeof *d->slot);
        memset(d->slot, 0xff, (size_t)cap * sizeof *d->slot);
        d->n_slots = cap;
        d->n_indexed = 0;
    }
    for (; d->n_indexed < d->n; d->n_indexed++) {
        int k = slot_of(d, d->msg[d->n_indexed]);
        if (d->slot[k] < 0) d->slot[k] = d->n_indexed;
    }
}

void diags_add_unique(nb_diags *dst, const nb_diags *src)
{
    for (int i = 0; i < src->n; i++) {
        index_messages(dst);
        if (dst->slot[slot_of(dst, src->msg[i])] < 0) diags_add(dst, NULL, 0, 0, "%s", src->msg[i]);
    }
}

/* Free the messages; the struct is left empty and reusable. */
void diags_free(nb_diags *d)
{
    for (int i = 0; i < d->n; i++) free(d->msg[i]);
    free(d->msg);
    free(d->slot);
    memset(d, 0, sizeof *d);
}
