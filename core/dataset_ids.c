/*
 * dataset_ids.c - the numeric ids of the LightGCN/DENS line format into
 * row numbers.
 *
 * Real files of the format number users and items 0..n-1, and results and
 * golden tests rely on id k being row k, so dense ids keep their value (a
 * few unused ids are empty rows). An id range wider than
 * 2 x (distinct ids) + IDS_DENSE_SLACK would size the model and the data
 * by the largest id rather than by what the file holds (a 20-byte file with
 * id 100,000,000 asked for gigabytes), so such ids are renumbered by rank:
 * the k-th smallest distinct id becomes row k-1, keeping their order. Users
 * and items are decided separately, over all files of the spec. Memory: a
 * bitmap of the id range only when the range is within a few times the
 * rows read, else a sorted copy of the ids; nothing per id value.
 */
#include "dataset_impl.h"
#include "negbench/plugin.h"

#include <stdlib.h>
#include <string.h>

#define IDS_DENSE_SLACK 1024

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The rank of v in the sorted distinct ids u[0..n). */
static int32_t rank_of(const int32_t *u, int64_t n, int32_t v)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) >> 1;
        if (u[mid] < v) lo = mid + 1; else hi = mid;
    }
    return (int32_t)lo;
}

/* Distinct values among the lists (bitmap over [0, max]). */
static int64_t count_distinct(int32_t *const *vals, const int64_t *counts, int n_lists,
                              int32_t max)
{
    uint64_t *bits = nb_xcalloc(((size_t)max >> 6) + 1, sizeof *bits);
    int64_t d = 0;
    for (int l = 0; l < n_lists; l++)
        for (int64_t k = 0; k < counts[l]; k++) {
            uint32_t v = (uint32_t)vals[l][k];
            uint64_t bit = 1ull << (v & 63);
            d += !(bits[v >> 6] & bit);
            bits[v >> 6] |= bit;
        }
    free(bits);
    return d;
}

/* One kind of id (users or items) held in n_lists arrays: leave the values
 * (dense) or renumber them by rank in place. *n receives the row count;
 * returns the distinct count when renumbered, else -1. */
static int64_t ids_settle_kind(int32_t **vals, const int64_t *counts, int n_lists, int32_t max,
                               int32_t *n)
{
    int64_t total = 0;
    for (int l = 0; l < n_lists; l++) total += counts[l];
    *n = max + 1;
    if (max < 0 || (int64_t)max + 1 <= IDS_DENSE_SLACK) return -1;
    /* distinct <= total: a range within 2 total + slack may still be dense */
    if ((int64_t)max + 1 <= 2 * total + IDS_DENSE_SLACK &&
        (int64_t)max + 1 <= 2 * count_distinct(vals, counts, n_lists, max) + IDS_DENSE_SLACK)
        return -1;
    int32_t *u = nb_xmalloc((size_t)(total ? total : 1) * sizeof *u);
    int64_t m = 0, d = 0;
    for (int l = 0; l < n_lists; l++) {
        if (counts[l]) memcpy(u + m, vals[l], (size_t)counts[l] * sizeof *u);
        m += counts[l];
    }
    qsort(u, (size_t)m, sizeof *u, cmp_i32);
    for (int64_t k = 0; k < m; k++)
        if (d == 0 || u[k] != u[d - 1]) u[d++] = u[k];
    for (int l = 0; l < n_lists; l++)
        for (int64_t k = 0; k < counts[l]; k++) vals[l][k] = rank_of(u, d, vals[l][k]);
    free(u);
    *n = (int32_t)d;
    return d;
}

int ids_settle_lines(nb_load_ctx *ctx, nb_rows *rows, int n_files, int32_t *n_users,
                     int32_t *n_items, char **note)
{
    int32_t *uv[4], *iv[3];
    int64_t uc[4], ic[3];
    if (n_files > 3) return NB_EINVAL;
    for (int f = 0; f < n_files; f++) {
        uv[f] = rows[f].u, uc[f] = rows[f].n;
        iv[f] = rows[f].i, ic[f] = rows[f].n;
    }
    uv[n_files] = ctx->lone_users, uc[n_files] = ctx->n_lone;
    int64_t du = ids_settle_kind(uv, uc, n_files + 1, ctx->max_user, n_users);
    int64_t di = ids_settle_kind(iv, ic, n_files, ctx->max_item, n_items);
    for (int k = 0; k < 2; k++) {
        int64_t d = k ? di : du;
        if (d < 0) continue;
        note_add(note, "%s ids renumbered by rank (%lld distinct in 0..%d)", k ? "item" : "user",
                 (long long)d, (int)(k ? ctx->max_item : ctx->max_user));
    }
    return NB_OK;
}
