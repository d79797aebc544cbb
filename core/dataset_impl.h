/*
 * dataset_impl.h - internals shared by the dataset module's files
 * (dataset.c, dataset_load.c, dataset_split.c, synthetic.c). Not part of
 * the host's public interface.
 *
 * The pipeline: parsers append rows to an nb_rows list (ids already mapped
 * to 0-based ints), the splitter turns row lists into three pair lists, and
 * pairs_to_csr collapses duplicates into sorted CSR rows.
 */
#ifndef NB_DATASET_IMPL_H
#define NB_DATASET_IMPL_H

#include "dataset.h"
#include "util.h"

/* A growable list of interactions. ts is NULL unless the source had a
 * timestamp column. Arrays grow by doubling (no per-row allocation). */
typedef struct nb_rows {
    int64_t n, cap;
    int32_t *u, *i;
    double *ts;          /* [cap] when has_ts, else NULL */
    int has_ts;
} nb_rows;

/* An empty row list (timestamps kept when with_ts); rows_free releases it. */
void rows_init(nb_rows *r, int with_ts);
void rows_free(nb_rows *r);

/* Token -> 0-based id map (order of first appearance), open addressing
 * over one byte arena; keys are never allocated one by one. */
typedef struct nb_tokmap {
    int32_t n;           /* ids handed out */
    int64_t cap;         /* slots, power of two */
    int32_t *slot;       /* [cap] id or -1 */
    int64_t *key_off;    /* [ids] offset of the key in arena */
    int32_t *key_len;    /* [ids] */
    char *arena;
    int64_t arena_len, arena_cap;
    int64_t ids_cap;
} nb_tokmap;

/* An empty token map; tokmap_free releases its tokens and table. */
void tokmap_init(nb_tokmap *m);
void tokmap_free(nb_tokmap *m);
/* Id of the token s[0..len), adding it when new. */
int32_t tokmap_get(nb_tokmap *m, const char *s, int32_t len);

/* What the parsers share across the files of one spec. */
typedef struct nb_load_ctx {
    int format;                  /* resolved enum nb_data_format */
    double min_rating;
    nb_tokmap users, items;      /* INTER and CSV */
    int32_t max_user, max_item;  /* LINES: largest id seen (-1: none) */
    int32_t *lone_users;         /* LINES: users of lines without items */
    int64_t n_lone, cap_lone;
    int64_t n_rows_read;         /* rows read, before min_rating */
    int64_t n_rows_dropped;      /* rows dropped by min_rating */
    int has_rating;              /* some file had a rating column */
} nb_load_ctx;

/* Pick the format of a file from its name and first line. */
int load_detect_format(const char *path, const char *buf, size_t len);
/* Parse buf (the bytes of path, NUL-terminated) into out. out->ts is set up
 * by the parser: it has timestamps when the file has a timestamp column. */
int load_parse(nb_load_ctx *ctx, const char *path, const char *buf, size_t len,
               nb_rows *out, char **err);

/* LINES: the users and items of rows[0..n_files) (and ctx->lone_users)
 * into row numbers, in place: dense ids keep their value, sparse ones
 * (range over 2 x distinct + 1024) are renumbered by rank (dataset_ids.c).
 * Sets *n_users / *n_items; a renumbering is noted in *note ("; "-joined,
 * malloc'd, may be NULL on entry). */
int ids_settle_lines(nb_load_ctx *ctx, nb_rows *rows, int n_files, int32_t *n_users,
                     int32_t *n_items, char **note);

/* Permutation perm[n] that sorts the pairs by (u, i), stable: two counting
 * sorts, O(n + n_users + n_items). */
void pairs_sort_perm(int64_t n, const int32_t *u, const int32_t *i, int32_t n_users,
                     int32_t n_items, int64_t *perm);

/* Build a CSR by user from the n pairs (any order); duplicates collapse and
 * are added to *n_dup (may be NULL). */
void pairs_to_csr(int64_t n, const int32_t *u, const int32_t *i, int32_t n_users,
                  int32_t n_items, nb_csr *out, int64_t *n_dup);
/* Transpose a CSR (n_cols = number of columns of m). */
void csr_transpose(const nb_csr *m, int32_t n_cols, nb_csr *out);

/* Split the loaded rows into d's train/valid/test CSRs according to spec.
 * files[3] and paths[3] are the train, valid and test slots (path NULL and
 * rows empty when absent); d->n_users/n_items must be set. Adds to
 * d->n_duplicates and appends "; "-separated notes to *note (malloc'd, may
 * be NULL on entry). */
int split_apply(const nb_data_spec *spec, nb_rows *files, const char **paths,
                nb_dataset *d, char **note, char **err);

/* Carve round(share * nnz) pairs of train (chosen by a seeded shuffle) into
 * valid, which must be empty. Returns the number carved. */
int64_t split_carve_valid(nb_csr *train, nb_csr *valid, int32_t n_items,
                          double share, uint64_t seed);

/* Append "; <formatted>" to the malloc'd note (NULL: start it). */
void note_add(char **note, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* RecBole's _calcu_split_ids: counts of n items over 3 ratios (normalised). */
void split_counts(int64_t n, const double ratio[3], int64_t cnt[3]);

/* Generate the synthetic data set into d (train/valid/test, counts). */
int synthetic_generate(const nb_data_spec *spec, nb_dataset *d, char **err);
/* The generator parameters' canonical string, hashed into its checksum
 * (malloc'd). */
char *synthetic_canonical(const nb_data_spec *spec);

/* Double the capacity of r (amortised O(1) appends). */
static inline void rows_grow(nb_rows *r)
{
    int64_t cap = r->cap ? 2 * r->cap : 4096;
    r->u = nb_xrealloc(r->u, (size_t)cap * sizeof *r->u);
    r->i = nb_xrealloc(r->i, (size_t)cap * sizeof *r->i);
    if (r->has_ts) r->ts = nb_xrealloc(r->ts, (size_t)cap * sizeof *r->ts);
    r->cap = cap;
}

/* Append one row (ts ignored when the list has no timestamps). */
static inline void rows_push(nb_rows *r, int32_t u, int32_t i, double ts)
{
    if (r->n == r->cap) rows_grow(r);
    r->u[r->n] = u;
    r->i[r->n] = i;
    if (r->has_ts) r->ts[r->n] = ts;
    r->n++;
}

#endif /* NB_DATASET_IMPL_H */
