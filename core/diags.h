/*
 * diags.h - a growing list of one-line diagnostics ("file:line:col: message")
 * that validation fills with every problem it finds (core/diags.c).
 *
 * Ownership: the list owns its messages; a zeroed nb_diags is empty and
 * diags_free returns it to that state. Adding never fails (allocation
 * failure aborts, as everywhere in the host).
 */
#ifndef NB_DIAGS_H
#define NB_DIAGS_H

#include <stdio.h>

typedef struct nb_diags {
    int n, cap;
    char **msg;             /* "file:line:col: message" each */
    /* diags_add_unique's index of msg[0..n_indexed) (open addressing) */
    int *slot, n_slots, n_indexed;
} nb_diags;

/* At most this many diagnostics are printed, then a count of the rest. */
#define NB_DIAGS_MAX_PRINT 20

/* Append one message formatted from fmt: file NULL gives the message alone,
 * line <= 0 "file: message", col <= 0 "file:line: message", else
 * "file:line:col: message" (1-based). */
void diags_add(nb_diags *d, const char *file, int line, int col,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Print the first NB_DIAGS_MAX_PRINT messages, one per line, and then
 * "negbench: ... and N more problems" when there are more. */
void diags_print(const nb_diags *d, FILE *out);
/* Free every message and the index; d is left empty and reusable. */
void diags_free(nb_diags *d);
/* Append to dst each message of src not already in dst (points of a grid
 * repeat the same problem; it is reported once). Hashed: O(|src|). */
void diags_add_unique(nb_diags *dst, const nb_diags *src);

#endif /* NB_DIAGS_H */
