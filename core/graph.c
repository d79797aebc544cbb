/*
 * graph.c - the normalised bipartite adjacency, SpMM and graph dropout
 * (negbench/graph.h). Self-contained: libc, libm and OpenMP only.
 *
 * Ahat = D^{-1/2} A D^{-1/2} follows RecBole v1.1.1 LightGCN/NGCF
 * (get_norm_adj_mat: deg = nonzeros per row + 1e-7, np.power(deg, -0.5)),
 * see ../shared/specs/backbones-and-eval.md section 2.2.
 */
#include "negbench/graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set *err (if wanted and unset) to a malloc'd message; return code. */
static int graph_fail(char **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int graph_fail(char **err, int code, const char *fmt, ...)
{
    if (err && !*err) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (s) {
            va_start(ap, fmt);
            vsnprintf(s, (size_t)n + 1, fmt, ap);
            va_end(ap);
        }
        *err = s;
    }
    return code;
}

void graph_free(nb_graph *g)
{
    free(g->ptr);
    free(g->col);
    free(g->mirror);
    free(g->val);
    free(g->dval);
    free(g->dinv);
    free(g->deg);
    memset(g, 0, sizeof *g);
}

int graph_build(const nb_train *t, const uint8_t *keep, double eps, nb_graph *g,
                char **err)
{
    int rc = NB_OK;
    int32_t U = t->n_users, I = t->n_items;
    int64_t N = (int64_t)U + I;
    int64_t *fill = NULL;
    memset(g, 0, sizeof *g);
    if (U < 0 || I < 0 || !(eps >= 0.0)) {
        rc = graph_fail(err, NB_EINVAL, "graph_build: bad sizes (%d users, %d items) or eps %g",
                        U, I, eps);
        goto out;
    }
    g->n_users = U;
    g->n_items = I;
    g->n = N;
    g->ptr = calloc((size_t)N + 1, sizeof *g->ptr);
    g->deg = calloc((size_t)N + 1, sizeof *g->deg);
    g->dinv = calloc((size_t)N + 1, sizeof *g->dinv);
    fill = calloc((size_t)N + 1, sizeof *fill);
    if (!g->ptr || !g->deg || !g->dinv || !fill) goto nomem;

    /* degrees of the kept pairs */
    for (int32_t u = 0; u < U; u++)
        for (int64_t p = t->user_ptr[u]; p < t->user_ptr[u + 1]; p++) {
            if (keep && !keep[p]) continue;
            int32_t i = t->user_items[p];
            if (i < 0 || i >= I) {
                rc = graph_fail(err, NB_EINVAL, "graph_build: pair %lld has item %d outside [0, %d)",
                                (long long)p, i, I);
                goto out;
            }
            g->deg[u]++;
            g->deg[U + i]++;
        }
    for (int64_t r = 0; r < N; r++) g->ptr[r + 1] = g->ptr[r] + g->deg[r];
    g->nnz = g->ptr[N];
    size_t nz = g->nnz ? (size_t)g->nnz : 1;
    g->col = malloc(nz * sizeof *g->col);
    g->mirror = malloc(nz * sizeof *g->mirror);
    g->val = malloc(nz * sizeof *g->val);
    g->dval = malloc(nz * sizeof *g->dval);
    if (!g->col || !g->mirror || !g->val || !g->dval) goto nomem;

    /* Users in ascending order, items ascending within a user: user rows get
     * ascending item columns, and item rows get users appended in ascending
     * order, so every row is sorted. The user-side entry of pair p and the
     * item-side entry are each other's mirror. */
    memcpy(fill, g->ptr, (size_t)N * sizeof *fill);
    for (int32_t u = 0; u < U; u++)
        for (int64_t p = t->user_ptr[u]; p < t->user_ptr[u + 1]; p++) {
            if (keep && !keep[p]) continue;
            int64_t r = U + (int64_t)t->user_items[p];
            int64_t eu = fill[u]++, ei = fill[r]++;
            if (eu > g->ptr[u] && g->col[eu - 1] >= (int32_t)r) {
                rc = graph_fail(err, NB_EINVAL,
                                "graph_build: items of user %d are not strictly ascending", u);
                goto out;
            }
            g->col[eu] = (int32_t)r;
            g->col[ei] = u;
            g->mirror[eu] = ei;
            g->mirror[ei] = eu;
        }

    for (int64_t r = 0; r < N; r++)
        g->dinv[r] = g->deg[r] > 0 ? pow((double)g->deg[r] + eps, -0.5) : 0.0;
    for (int64_t r = 0; r < N; r++)
        for (int64_t e = g->ptr[r]; e < g->ptr[r + 1]; e++) {
            g->dval[e] = g->dinv[r] * g->dinv[g->col[e]];
            g->val[e] = (float)g->dval[e];
        }
    goto out;
nomem:
    rc = graph_fail(err, NB_ENOMEM, "graph_build: out of memory for %lld nodes", (long long)N);
out:
    free(fill);
    if (rc != NB_OK) graph_free(g);
    return rc;
}

/* One SpMM body per precision. */
#define GRAPH_SPMM(SUF, REAL, DEFVAL)                                                  \
    void graph_spmm_##SUF(const nb_graph *g, const REAL *val, const REAL *x,           \
                          int64_t ldx, const REAL *add, int64_t ldadd, REAL *y,        \
                          int64_t ldy, int32_t d)                                      \
    {                                                                                  \
        const REAL *v = val ? val : g->DEFVAL;                                         \
        const int64_t *ptr = g->ptr;                                                   \
        const int32_t *col = g->col;                                                   \
        int64_t n = g->n;                                                              \
        _Pragma("omp parallel for schedule(dynamic, 512)")                             \
        for (int64_t r = 0; r < n; r++) {                                              \
            REAL *yr = y + r * ldy;                                                    \
            if (add) {                                                                 \
                const REAL *ar = add + r * ldadd;                                      \
                if (ar != yr) for (int32_t k = 0; k < d; k++) yr[k] = ar[k];           \
            } else {                                                                   \
                for (int32_t k = 0; k < d; k++) yr[k] = 0;                             \
            }                                                                          \
            if (d == 64) { /* the common size: accumulate in registers */              \
                REAL acc[64];                                                          \
                for (int32_t k = 0; k < 64; k++) acc[k] = yr[k];                       \
                int64_t e1 = ptr[r + 1];                                               \
                for (int64_t e = ptr[r]; e < e1; e++) {                                \
                    const REAL w = v[e];                                               \
                    const REAL *xr = x + (int64_t)col[e] * ldx;                        \
                    if (e + 4 < e1) { /* fetch the row needed 4 entries ahead */        \
                        const char *pf = (const char *)(x + (int64_t)col[e + 4] * ldx); \
                        for (size_t o = 0; o < 64 * sizeof(REAL); o += 64)             \
                            __builtin_prefetch(pf + o);                                \
                    }                                                                  \
                    for (int32_t k = 0; k < 64; k++) acc[k] += w * xr[k];              \
                }                                                                      \
                for (int32_t k = 0; k < 64; k++) yr[k] = acc[k];                       \
                continue;                                                              \
            }                                                                          \
            for (int64_t e = ptr[r]; e < ptr[r + 1]; e++) {                            \
                const REAL w = v[e];                                                   \
                const REAL *xr = x + (int64_t)col[e] * ldx;                            \
                for (int32_t k = 0; k < d; k++) yr[k] += w * xr[k];                    \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
    void graph_transpose_vals_##SUF(const nb_graph *g, const REAL *val, REAL *valT)     \
    {                                                                                  \
        for (int64_t e = 0; e < g->nnz; e++) valT[e] = val[g->mirror[e]];              \
    }

GRAPH_SPMM(f32, float, val)
GRAPH_SPMM(f64, double, dval)

void graph_entry_dropout_f32(const nb_graph *g, double p, uint64_t seed, uint64_t key,
                             float *out)
{
    double kprob = 1.0 - p;
    double scale = 1.0 / kprob;
    int64_t n = g->n;
#pragma omp parallel for schedule(dynamic, 512)
    for (int64_t r = 0; r < n; r++) {
        nb_rng rng;
        nb_rng_seed(&rng, seed, key, (uint64_t)r);
        for (int64_t e = g->ptr[r]; e < g->ptr[r + 1]; e++) {
            double u = nb_rng_uniform(&rng);
            out[e] = u + kprob >= 1.0 ? (float)(g->dval[e] * scale) : 0.0f;
        }
    }
}

int graph_edge_dropout(const nb_train *t, double rho, double eps, uint64_t seed,
                       uint64_t key, uint8_t *keep_out, nb_graph *g, char **err)
{
    int rc = NB_OK;
    int64_t n = t->n_pairs;
    int64_t *perm = NULL;
    uint8_t *keep = keep_out;
    if (!(rho >= 0.0 && rho < 1.0)) {
        rc = graph_fail(err, NB_EINVAL, "graph_edge_dropout: ratio %g outside [0, 1)", rho);
        goto out;
    }
    perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    if (!keep) keep = malloc((size_t)(n ? n : 1));
    if (!perm || !keep) {
        rc = graph_fail(err, NB_ENOMEM, "graph_edge_dropout: out of memory");
        goto out;
    }
    int64_t k = (int64_t)floor((double)n * (1.0 - rho));
    nb_rng rng;
    nb_rng_seed(&rng, seed, key, 0);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    memset(keep, 0, (size_t)n);
    /* partial Fisher-Yates: perm[0..k) is a uniform k-subset */
    for (int64_t i = 0; i < k; i++) {
        int64_t j = i + (int64_t)(nb_rng_uniform(&rng) * (double)(n - i));
        if (j >= n) j = n - 1;
        int64_t tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
        keep[perm[i]] = 1;
    }
    rc = graph_build(t, keep, eps, g, err);
out:
    free(perm);
    if (keep != keep_out) free(keep);
    return rc;
}

int graph_node_dropout(const nb_train *t, double rho, double eps, uint64_t seed,
                       uint64_t key, uint8_t *keep_out, nb_graph *g, char **err)
{
    int rc = NB_OK;
    int32_t U = t->n_users, I = t->n_items;
    int64_t N = (int64_t)U + I;
    int64_t *perm = NULL;
    uint8_t *drop = NULL, *keep = keep_out;
    if (!(rho >= 0.0 && rho < 1.0)) {
        rc = graph_fail(err, NB_EINVAL, "graph_node_dropout: ratio %g outside [0, 1)", rho);
        goto out;
    }
    perm = malloc((size_t)(N ? N : 1) * sizeof *perm);
    drop = calloc((size_t)(N ? N : 1), 1);
    if (!keep) keep = malloc((size_t)(t->n_pairs ? t->n_pairs : 1));
    if (!perm || !drop || !keep) {
        rc = graph_fail(err, NB_ENOMEM, "graph_node_dropout: out of memory");
        goto out;
    }
    nb_rng rng;
    nb_rng_seed(&rng, seed, key, 1);
    /* users: a floor(rho U)-subset of [0, U); items likewise of [U, N) */
    for (int side = 0; side < 2; side++) {
        int64_t base = side ? U : 0, m = side ? I : U;
        int64_t k = (int64_t)floor(rho * (double)m);
        for (int64_t i = 0; i < m; i++) perm[i] = base + i;
        for (int64_t i = 0; i < k; i++) {
            int64_t j = i + (int64_t)(nb_rng_uniform(&rng) * (double)(m - i));
            if (j >= m) j = m - 1;
            int64_t tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
            drop[perm[i]] = 1;
        }
    }
    for (int32_t u = 0; u < U; u++)
        for (int64_t p = t->user_ptr[u]; p < t->user_ptr[u + 1]; p++)
            keep[p] = !drop[u] && !drop[U + t->user_items[p]];
    rc = graph_build(t, keep, eps, g, err);
out:
    free(perm);
    free(drop);
    if (keep != keep_out) free(keep);
    return rc;
}
