/*
 * diags.c - a growing list of one-line diagnostics ("file:line:col: message").
 *
 * Validation code pushes every problem it finds here instead of stopping at
 * the first, so a user fixes a whole experiment file in one pass.
 */
#include "config.h"
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>

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

/* Print every message on its own line. */
void diags_print(const nb_diags *d, FILE *out)
{
    for (int i = 0; i < d->n; i++) fprintf(out, "%s\n", d->msg[i]);
}

/* Free the messages; the struct is left empty and reusable. */
void diags_free(nb_diags *d)
{
    for (int i = 0; i < d->n; i++) free(d->msg[i]);
    free(d->msg);
    d->msg = NULL;
    d->n = d->cap = 0;
}
