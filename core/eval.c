/*
 * eval.c - full-ranking evaluation (see eval.h for the contract).
 *
 * Layout of one call:
 *   1. Validate inputs; list the users with ground truth (the others are
 *      skipped and not counted).
 *   2. OpenMP over blocks of at most block_users evaluated users. A thread
 *      gathers its users' rows, then walks the items in tiles of ITEM_TILE:
 *      one single-threaded SGEMM per tile into the thread's scratch
 *      [block_users][ITEM_TILE], masks (mask_a/mask_b minus truth) set to
 *      -INFINITY, and a threshold scan feeds a per-user binary heap of the K
 *      best (score, item). Tiling the items keeps the score tile in cache.
 *      All scratch is allocated once per call, before the parallel region.
 *   3. Each user's heap is sorted (score desc, item id asc) into top[u][K]
 *      and rel[u][K].
 *   4. One sequential pass in user order accumulates the metrics and builds
 *      the hit lists, so results do not depend on the thread count or the
 *      block size (given identical scores).
 *
 * Masked items never enter the ranking; when fewer than K items remain, the
 * missing ranks count as misses (RecBole would rank -inf items there, which
 * are never relevant). An item both masked and in the truth stays unmasked,
 * as in RecBole 1.1.1 (docs/methods/evaluation.md).
 */
#include "eval.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels.h"
#include "negbench/plugin.h"
#include "util.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Tile sizes: a [256][4096] float score tile is 4 MiB per thread. Measured
 * on Gowalla-sized data (tests/bench-eval.c), 2048..16384 items x 128..512
 * users were within noise of each other. */
#ifndef ITEM_TILE
#define ITEM_TILE 4096        /* items per SGEMM tile */
#endif
#ifndef MAX_AUTO_BLOCK_USERS
#define MAX_AUTO_BLOCK_USERS 256
#endif

const char *const nb_metric_names[NB_N_METRICS] = {
    "recall", "ndcg", "hit", "precision", "mrr"
};

/* One candidate of a top-K heap. */
typedef struct cand { float s; int32_t id; } cand;

/* 1 when a ranks below b: lower score, or equal score and higher id. */
static inline int cand_worse(cand a, cand b)
{
    return a.s < b.s || (a.s == b.s && a.id > b.id);
}

/* Min-heap on cand_worse (root = worst kept). Push into a heap of n < cap. */
static inline void heap_push(cand *h, int32_t n, cand c)
{
    int32_t i = n;
    while (i > 0) {
        int32_t p = (i - 1) >> 1;
        if (!cand_worse(c, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

/* Replace the root of a full heap of n entries by c and restore the order. */
static inline void heap_replace_root(cand *h, int32_t n, cand c)
{
    int32_t i = 0;
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, w = i;
        cand wc = c;
        if (l < n && cand_worse(h[l], wc)) { w = l; wc = h[l]; }
        if (r < n && cand_worse(h[r], wc)) { w = r; wc = h[r]; }
        if (w == i) break;
        h[i] = h[w];
        i = w;
    }
    h[i] = c;
}

/* Offer the scores row[0..n) of items base.. to the heap h (*len of cap).
 * Items arrive in ascending id order, so a score equal to the current
 * threshold never beats the root (its id is larger): strict > suffices. */
static void scan_row(const float *row, int32_t n, int32_t base, cand *h,
                     int32_t *len, int32_t cap)
{
    int32_t hl = *len;
    float thr = hl == cap ? h[0].s : -INFINITY;
    int32_t j = 0;
    for (; j + 16 <= n; j += 16) {
        int any = 0;
        for (int t = 0; t < 16; t++) any |= row[j + t] > thr;
        if (!any) continue;
        for (int t = 0; t < 16; t++) {
            float s = row[j + t];
            if (!(s > thr)) continue;
            cand c = { s, base + j + t };
            if (hl < cap) {
                heap_push(h, hl++, c);
                if (hl == cap) thr = h[0].s;
            } else {
                heap_replace_root(h, hl, c);
                thr = h[0].s;
            }
        }
    }
    for (; j < n; j++) {
        float s = row[j];
        if (!(s > thr)) continue;
        cand c = { s, base + j };
        if (hl < cap) {
            heap_push(h, hl++, c);
            if (hl == cap) thr = h[0].s;
        } else {
            heap_replace_root(h, hl, c);
            thr = h[0].s;
        }
    }
    *len = hl;
}

/* 1 when item i is in row r of m (rows ascending; checked by check_csr). */
static int row_has(const nb_csr *m, int32_t r, int32_t i)
{
    const int32_t *a = m->idx + m->ptr[r];
    int64_t lo = 0, hi = m->ptr[r + 1] - m->ptr[r];
    while (lo < hi) {
        int64_t mid = (lo + hi) >> 1;
        if (a[mid] < i) lo = mid + 1; else hi = mid;
    }
    return lo < m->ptr[r + 1] - m->ptr[r] && a[lo] == i;
}

/* Set -INFINITY on the items of mask row u inside the tile [j0, j0+nb),
 * except ground-truth items. */
static void mask_row(float *row, const nb_csr *mask, const nb_csr *truth,
                     int32_t u, int32_t j0, int32_t nb)
{
    if (!mask) return;
    for (int64_t q = mask->ptr[u]; q < mask->ptr[u + 1]; q++) {
        int32_t i = mask->idx[q];
        if (i < j0 || i >= j0 + nb) continue;
        if (!row_has(truth, u, i)) row[i - j0] = -INFINITY;
    }
}

/* Validate a CSR of n_users rows over n_items: offsets, range, ascending. */
static int check_csr(const char *what, const nb_csr *m, int32_t n_users,
                     int32_t n_items, char **err)
{
    if (m->n_rows != n_users)
        return nb_fail(err, NB_EINVAL, "eval: %s has %d rows, expected %d users",
                       what, m->n_rows, n_users);
    if (!m->ptr || m->ptr[0] != 0 || m->ptr[n_users] != m->nnz || (m->nnz && !m->idx))
        return nb_fail(err, NB_EINVAL, "eval: %s has inconsistent row offsets", what);
    for (int32_t u = 0; u < n_users; u++) {
        if (m->ptr[u + 1] < m->ptr[u])
            return nb_fail(err, NB_EINVAL, "eval: %s row %d has negative length",
                           what, u);
        for (int64_t q = m->ptr[u]; q < m->ptr[u + 1]; q++) {
            int32_t i = m->idx[q];
            if (i < 0 || i >= n_items)
                return nb_fail(err, NB_EINVAL, "eval: %s row %d: item %d out of "
                               "range [0, %d)", what, u, i, n_items);
            if (q > m->ptr[u] && m->idx[q - 1] >= i)
                return nb_fail(err, NB_EINVAL, "eval: %s row %d is not strictly "
                               "ascending at item %d", what, u, i);
        }
    }
    return NB_OK;
}

/* Validate the options; fill ks ascending into out. */
static int check_opts(const nb_eval_opts *o, nb_metrics *out, char **err)
{
    if (o->n_ks < 1 || o->n_ks > NB_MAX_KS)
        return nb_fail(err, NB_EINVAL, "eval: %d cut-offs (K), expected 1..%d",
                       o->n_ks, NB_MAX_KS);
    if (o->report_k < 0)
        return nb_fail(err, NB_EINVAL, "eval: report_k %d is negative", o->report_k);
    if (o->block_users < 0)
        return nb_fail(err, NB_EINVAL, "eval: block_users %d is negative",
                       o->block_users);
    out->n_ks = o->n_ks;
    for (int t = 0; t < o->n_ks; t++) {
        int32_t k = o->ks[t];
        if (k < 1)
            return nb_fail(err, NB_EINVAL, "eval: K = %d, expected K >= 1", k);
        int s = t;  /* insertion sort, rejecting repeats */
        while (s > 0 && out->ks[s - 1] > k) { out->ks[s] = out->ks[s - 1]; s--; }
        if (s > 0 && out->ks[s - 1] == k)
            return nb_fail(err, NB_EINVAL, "eval: K = %d is listed twice", k);
        out->ks[s] = k;
    }
    return NB_OK;
}

/* Sort kept candidates best first (score desc, id asc); n <= K is small. */
static void sort_best_first(cand *h, int32_t n)
{
    for (int32_t a = 1; a < n; a++) {
        cand c = h[a];
        int32_t b = a;
        while (b > 0 && cand_worse(h[b - 1], c)) { h[b] = h[b - 1]; b--; }
        h[b] = c;
    }
}

/* Accumulate one user's metrics at each K (ks ascending; rel has ks[n_ks-1]
 * entries). Formulas of RecBole 1.1.1 metrics.py, see eval.h. */
void eval_accumulate_user(const uint8_t *rel, int32_t n_truth, const int32_t *ks,
                          int n_ks, double acc[NB_N_METRICS][NB_MAX_KS])
{
    int32_t hits = 0, first = 0;
    double dcg = 0.0, idcg = 0.0;
    int t = 0;
    int32_t kmax = ks[n_ks - 1];
    for (int32_t j = 0; j < kmax && t < n_ks; j++) {
        double disc = 1.0 / log2((double)j + 2.0);
        if (rel[j]) {
            hits++;
            dcg += disc;
            if (!first) first = j + 1;
        }
        if (j < n_truth) idcg += disc;
        while (t < n_ks && ks[t] == j + 1) {
            double k = (double)ks[t];
            acc[NB_M_RECALL][t] += (double)hits / (double)n_truth;
            acc[NB_M_NDCG][t] += dcg / idcg;
            acc[NB_M_HIT][t] += hits > 0 ? 1.0 : 0.0;
            acc[NB_M_PRECISION][t] += (double)hits / k;
            acc[NB_M_MRR][t] += first ? 1.0 / (double)first : 0.0;
            t++;
        }
    }
}

/* "metric@K" (metric name case-insensitive) -> indexes into m. Returns 0, or
 * NB_EINVAL for an unknown metric, a malformed K or a K not in m->ks. */
int eval_parse_metric(const char *name, const nb_metrics *m, int *metric,
                      int *k_index)
{
    const char *at = name ? strchr(name, '@') : NULL;
    if (!at || at == name || !at[1]) return NB_EINVAL;
    size_t len = (size_t)(at - name);
    int mi = -1;
    for (int q = 0; q < NB_N_METRICS; q++)
        if (strlen(nb_metric_names[q]) == len && !strncasecmp(name, nb_metric_names[q], len))
            mi = q;
    if (mi < 0) return NB_EINVAL;
    long k = 0;
    for (const char *p = at + 1; *p; p++) {
        if (!isdigit((unsigned char)*p) || k > 100000000L) return NB_EINVAL;
        k = k * 10 + (*p - '0');
    }
    for (int t = 0; t < m->n_ks; t++)
        if (m->ks[t] == k) {
            *metric = mi;
            *k_index = t;
            return NB_OK;
        }
    return NB_EINVAL;
}

void hits_free(nb_hits *h)
{
    free(h->ptr);
    free(h->idx);
    free(h->rank);
    free(h->n_truth);
    memset(h, 0, sizeof *h);
}

/* Build the hit lists from top/rel (users in order), with ranks and |R(u)|. */
static int build_hits(const int32_t *top, const uint8_t *rel, const int32_t *eval_users,
                      int32_t n_eval, int32_t n_users, int32_t kcap,
                      int32_t report_k, const nb_csr *truth, nb_hits *hits, char **err)
{
    int64_t nnz = 0;
    for (int32_t e = 0; e < n_eval; e++)
        for (int32_t j = 0; j < report_k; j++) nnz += rel[(int64_t)e * kcap + j];
    hits->ptr = calloc((size_t)n_users + 1, sizeof *hits->ptr);
    hits->idx = malloc((size_t)(nnz ? nnz : 1) * sizeof *hits->idx);
    hits->rank = malloc((size_t)(nnz ? nnz : 1) * sizeof *hits->rank);
    hits->n_truth = calloc((size_t)n_users + 1, sizeof *hits->n_truth);
    if (!hits->ptr || !hits->idx || !hits->rank || !hits->n_truth) {
        hits_free(hits);
        return nb_fail(err, NB_ENOMEM, "eval: out of memory for the hit lists");
    }
    int64_t q = 0;
    int32_t e = 0;
    for (int32_t u = 0; u < n_users; u++) {
        hits->n_truth[u] = (int32_t)(truth->ptr[u + 1] - truth->ptr[u]);
        if (e < n_eval && eval_users[e] == u) {
            for (int32_t j = 0; j < report_k; j++)
                if (rel[(int64_t)e * kcap + j]) {
                    hits->rank[q] = j + 1;
                    hits->idx[q++] = top[(int64_t)e * kcap + j];
                }
            e++;
        }
        hits->ptr[u + 1] = q;
    }
    hits->n_rows = n_users;
    hits->nnz = nnz;
    hits->k = report_k;
    return NB_OK;
}

/* Finite check of a [rows][d] matrix; returns the first bad row or -1. */
static int64_t first_nonfinite_row(const float *x, int64_t rows, int32_t d)
{
    for (int64_t t = 0; t < rows * d; t++)
        if (!isfinite(x[t])) return t / d;
    return -1;
}

/* Every argument of eval_full_ranking checked, ks sorted into res: NB_OK,
 * or NB_EINVAL / NB_ENUMERIC with *err. */
static int check_inputs(const float *user, const float *item, int32_t n_users, int32_t n_items,
                        int32_t d, const nb_csr *truth, const nb_csr *mask_a,
                        const nb_csr *mask_b, const nb_eval_opts *opts, const nb_metrics *out,
                        nb_metrics *res, char **err)
{
    int rc;
    if (!user || !item || !truth || !opts || !out || n_users < 0 || n_items < 1 || d < 1)
        return nb_fail(err, NB_EINVAL, "eval: invalid arguments (users %d, items %d, "
                       "dim %d)", n_users, n_items, d);
    if ((rc = check_opts(opts, res, err)) != NB_OK) return rc;
    if ((rc = check_csr("truth", truth, n_users, n_items, err)) != NB_OK) return rc;
    if (mask_a && (rc = check_csr("mask_a", mask_a, n_users, n_items, err)) != NB_OK) return rc;
    if (mask_b && (rc = check_csr("mask_b", mask_b, n_users, n_items, err)) != NB_OK) return rc;
    int64_t bad = first_nonfinite_row(item, n_items, d);
    if (bad >= 0)
        return nb_fail(err, NB_ENUMERIC, "eval: item row %lld is not finite", (long long)bad);
    bad = first_nonfinite_row(user, n_users, d);
    if (bad >= 0)
        return nb_fail(err, NB_ENUMERIC, "eval: user row %lld is not finite", (long long)bad);
    return NB_OK;
}

/* One ranking pass: the inputs, the partition into blocks and the scratch
 * (allocated once per call, before the parallel region). */
typedef struct rank_ctx {
    const float *user, *item;
    int32_t n_items, d;
    const nb_csr *truth, *mask_a, *mask_b;
    const int32_t *eval_users;   /* [n_eval] users with ground truth, in order */
    int32_t n_eval, kcap;        /* kcap: the largest K (or report_k) */
    int32_t bu, tile;            /* users per block, items per SGEMM tile */
    int64_t n_blocks;
    int nt;                      /* OpenMP threads */
    const volatile sig_atomic_t *stop;
    int32_t *top;                /* [n_eval][kcap] item ids, best first (-1: none) */
    uint8_t *rel;                /* [n_eval][kcap] 1 when in the truth */
    float *scores, *gather;      /* per thread: [bu][tile] scores, [bu][d] user rows */
    cand *heaps;                 /* per thread: [bu][kcap] */
    int32_t *heap_len;           /* per thread: [bu] */
} rank_ctx;

/* Threads and blocks: automatic blocks give at least 8 blocks when possible,
 * whatever the thread count (results must not depend on it: step 4 at the
 * top of this file). */
static void rank_partition(rank_ctx *c, const nb_eval_opts *opts)
{
    int nt = opts->threads;
#ifdef _OPENMP
    if (nt <= 0) nt = omp_get_max_threads();
#else
    nt = 1;
#endif
    if (nt < 1) nt = 1;
    int32_t bu = opts->block_users;
    if (bu <= 0) {
        bu = (c->n_eval + 7) / 8;
        if (bu < 16) bu = 16;
        if (bu > MAX_AUTO_BLOCK_USERS) bu = MAX_AUTO_BLOCK_USERS;
    }
    if (c->n_eval > 0 && bu > c->n_eval) bu = c->n_eval;
    if (bu < 1) bu = 1;
    c->bu = bu;
    c->tile = c->n_items < ITEM_TILE ? c->n_items : ITEM_TILE;
    c->n_blocks = ((int64_t)c->n_eval + bu - 1) / bu;
    if (nt > c->n_blocks) nt = c->n_blocks > 0 ? (int)c->n_blocks : 1;
    c->nt = nt;
}

/* The result arrays and per-thread scratch; 0, or -1 out of memory (what
 * was allocated is freed by rank_free). */
static int rank_alloc(rank_ctx *c)
{
    size_t nt = (size_t)c->nt, bu = (size_t)c->bu, kcap = (size_t)c->kcap;
    c->top = malloc(((size_t)c->n_eval * kcap + 1) * sizeof *c->top);
    c->rel = calloc((size_t)c->n_eval * kcap + 1, 1);
    c->scores = nb_aligned_zalloc(nt * bu * (size_t)c->tile * sizeof *c->scores);
    c->gather = nb_aligned_zalloc(nt * bu * (size_t)c->d * sizeof *c->gather);
    c->heaps = malloc(nt * bu * kcap * sizeof *c->heaps);
    c->heap_len = malloc(nt * bu * sizeof *c->heap_len);
    return c->top && c->rel && c->scores && c->gather && c->heaps && c->heap_len ? 0 : -1;
}

static void rank_free(rank_ctx *c)
{
    free(c->top);
    free(c->rel);
    free(c->scores);
    free(c->gather);
    free(c->heaps);
    free(c->heap_len);
}

/* Block blk of users on thread tid's scratch: gather their rows, score the
 * items tile by tile (one single-threaded SGEMM each), mask, keep each
 * user's K best in its heap, and write their sorted top-K and relevance. */
static void rank_block(const rank_ctx *c, int tid, int64_t blk)
{
    const int32_t bu = c->bu, kcap = c->kcap, d = c->d, n_items = c->n_items;
    float *S = c->scores + (size_t)tid * bu * c->tile;
    float *A = c->gather + (size_t)tid * bu * d;
    cand *H = c->heaps + (size_t)tid * bu * kcap;
    int32_t *HL = c->heap_len + (size_t)tid * bu;
    int32_t e0 = (int32_t)(blk * bu);
    int32_t mb = c->n_eval - e0 < bu ? c->n_eval - e0 : bu;
    for (int32_t r = 0; r < mb; r++) {
        memcpy(A + (size_t)r * d, c->user + (size_t)c->eval_users[e0 + r] * d,
               (size_t)d * sizeof *A);
        HL[r] = 0;
    }
    for (int32_t j0 = 0; j0 < n_items; j0 += c->tile) {
        int32_t nb = n_items - j0 < c->tile ? n_items - j0 : c->tile;
        nb_sgemm(1, mb, nb, d, 1.0f, A, c->item + (size_t)j0 * d, 0.0f, S);
        for (int32_t r = 0; r < mb; r++) {
            int32_t u = c->eval_users[e0 + r];
            float *row = S + (size_t)r * nb;
            mask_row(row, c->mask_a, c->truth, u, j0, nb);
            mask_row(row, c->mask_b, c->truth, u, j0, nb);
            scan_row(row, nb, j0, H + (size_t)r * kcap, &HL[r], kcap);
        }
    }
    for (int32_t r = 0; r < mb; r++) {
        int32_t e = e0 + r, u = c->eval_users[e];
        cand *h = H + (size_t)r * kcap;
        sort_best_first(h, HL[r]);
        int32_t *tu = c->top + (size_t)e * kcap;
        uint8_t *ru = c->rel + (size_t)e * kcap;
        for (int32_t j = 0; j < kcap; j++) {
            tu[j] = j < HL[r] ? h[j].id : -1;
            ru[j] = j < HL[r] && row_has(c->truth, u, h[j].id);
        }
    }
}

/* Every block, nt threads, one single-threaded BLAS call per thread (the
 * BLAS thread count is restored after). A stop request skips the rest. */
static void rank_all(const rank_ctx *c)
{
    int blas_prev = nb_blas_set_threads(1);
#ifdef _OPENMP
#pragma omp parallel num_threads(c->nt)
#endif
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t blk = 0; blk < c->n_blocks; blk++) {
            if (c->stop && *c->stop) continue; /* interrupted: skip the rest */
            rank_block(c, tid, blk);
        }
    }
    nb_blas_set_threads(blas_prev);
}

/* Means in user order into res: independent of threads and blocks. */
static void rank_means(const rank_ctx *c, nb_metrics *res)
{
    double acc[NB_N_METRICS][NB_MAX_KS];
    memset(acc, 0, sizeof acc);
    for (int32_t e = 0; e < c->n_eval; e++) {
        int32_t u = c->eval_users[e];
        eval_accumulate_user(c->rel + (size_t)e * c->kcap,
                             (int32_t)(c->truth->ptr[u + 1] - c->truth->ptr[u]),
                             res->ks, res->n_ks, acc);
    }
    res->n_evaluated = c->n_eval;
    for (int q = 0; q < NB_N_METRICS; q++)
        for (int t = 0; t < res->n_ks; t++)
            res->value[q][t] = c->n_eval ? acc[q][t] / (double)c->n_eval : 0.0;
}

int eval_full_ranking(const float *user, const float *item, int32_t n_users,
                      int32_t n_items, int32_t d, const nb_csr *truth,
                      const nb_csr *mask_a, const nb_csr *mask_b,
                      const nb_eval_opts *opts, nb_metrics *out, nb_hits *hits,
                      char **err)
{
    int32_t *eval_users = NULL;
    rank_ctx c;
    nb_metrics res;
    memset(&c, 0, sizeof c);
    memset(&res, 0, sizeof res);
    if (hits) memset(hits, 0, sizeof *hits);
    int rc = check_inputs(user, item, n_users, n_items, d, truth, mask_a, mask_b, opts, out,
                          &res, err);
    if (rc != NB_OK) goto out;
    /* Users with ground truth, in order. */
    eval_users = malloc(((size_t)n_users + 1) * sizeof *eval_users);
    if (!eval_users) goto oom;
    int32_t n_eval = 0;
    for (int32_t u = 0; u < n_users; u++)
        if (truth->ptr[u + 1] > truth->ptr[u]) eval_users[n_eval++] = u;
    c = (rank_ctx){ .user = user, .item = item, .n_items = n_items, .d = d, .truth = truth,
                    .mask_a = mask_a, .mask_b = mask_b, .eval_users = eval_users,
                    .n_eval = n_eval, .kcap = res.ks[res.n_ks - 1], .stop = opts->stop };
    if (opts->report_k > c.kcap) c.kcap = opts->report_k;
    rank_partition(&c, opts);
    if (rank_alloc(&c) != 0) goto oom;
    rank_all(&c);
    if (opts->stop && *opts->stop) {
        rc = nb_fail(err, NB_EINTR, "eval: interrupted");
        goto out;
    }
    rank_means(&c, &res);
    if (hits && (rc = build_hits(c.top, c.rel, eval_users, n_eval, n_users, c.kcap,
                                 opts->report_k, truth, hits, err)) != NB_OK)
        goto out;
    *out = res;
    goto out;
oom:
    rc = nb_fail(err, NB_ENOMEM, "eval: out of memory (%d users x %d items)",
                 n_users, n_items);
out:
    free(eval_users);
    rank_free(&c);
    return rc;
}
