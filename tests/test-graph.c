/*
 * test-graph.c - the normalised adjacency, SpMM and graph dropout
 * (negbench/graph.h): exact values on a hand-built graph with and without
 * the degree epsilon, SpMM against a dense reference (both precisions,
 * strides, thread-count independence), entry/edge/node dropout reproducible
 * from the seed and renormalised. SpMM timings are in make bench
 * (tests/bench-graph).
 */
#include "negbench/graph.h"
#include "tap/tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* A training set owned by the test: CSR from a 0/1 dense matrix R[U][I]. */
typedef struct tset {
    nb_train t;
    int64_t *uptr, *iptr;
    int32_t *uitems, *iusers;
} tset;

static void tset_from_pairs(tset *s, int32_t U, int32_t I, const uint8_t *R)
{
    memset(s, 0, sizeof *s);
    int64_t n = 0;
    for (int64_t k = 0; k < (int64_t)U * I; k++) n += R[k] != 0;
    s->uptr = calloc((size_t)U + 1, sizeof(int64_t));
    s->iptr = calloc((size_t)I + 1, sizeof(int64_t));
    s->uitems = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    s->iusers = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    int64_t p = 0;
    for (int32_t u = 0; u < U; u++) {
        for (int32_t i = 0; i < I; i++)
            if (R[(int64_t)u * I + i]) s->uitems[p++] = i;
        s->uptr[u + 1] = p;
    }
    p = 0;
    for (int32_t i = 0; i < I; i++) {
        for (int32_t u = 0; u < U; u++)
            if (R[(int64_t)u * I + i]) s->iusers[p++] = u;
        s->iptr[i + 1] = p;
    }
    s->t = (nb_train){U, I, n, s->uptr, s->uitems, s->iptr, s->iusers};
}

static void tset_free(tset *s)
{
    free(s->uptr); free(s->iptr); free(s->uitems); free(s->iusers);
}

/* Dense copy of the stored matrix (values v or g->dval). */
static double *dense_of(const nb_graph *g, const double *v)
{
    double *A = calloc((size_t)(g->n * g->n), sizeof(double));
    for (int64_t r = 0; r < g->n; r++)
        for (int64_t e = g->ptr[r]; e < g->ptr[r + 1]; e++)
            A[r * g->n + g->col[e]] = v ? v[e] : g->dval[e];
    return A;
}

static void test_hand_built(void)
{
    /* U = 3, I = 4: u0-{i0,i1,i2}, u1-{i1}, u2 isolated, i3 isolated */
    uint8_t R[12] = {1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    tset s;
    tset_from_pairs(&s, 3, 4, R);
    double deg[7] = {3, 1, 0, 1, 2, 1, 0};
    for (int pass = 0; pass < 2; pass++) {
        double eps = pass ? 1e-7 : 0.0;
        nb_graph g = {0};
        char *err = NULL;
        int rc = graph_build(&s.t, NULL, eps, &g, &err);
        is_int(rc, NB_OK, "hand graph builds (eps %g) %s", eps, err ? err : "");
        free(err);
        is_int(g.nnz, 8, "nnz = 2 x 4 interactions");
        int exact = 1, sym = 1, mir = 1, sorted = 1;
        double *A = dense_of(&g, NULL);
        for (int r = 0; r < 7; r++)
            for (int c = 0; c < 7; c++) {
                int edge = (r < 3 && c >= 3 && R[r * 4 + (c - 3)]) ||
                           (c < 3 && r >= 3 && R[c * 4 + (r - 3)]);
                double want = edge ? 1.0 / sqrt((deg[r] + eps) * (deg[c] + eps)) : 0.0;
                if (fabs(A[r * 7 + c] - want) > 1e-15 * fabs(want)) exact = 0;
                if (A[r * 7 + c] != A[c * 7 + r]) sym = 0;
            }
        for (int64_t r = 0; r < g.n; r++)
            for (int64_t e = g.ptr[r]; e < g.ptr[r + 1]; e++) {
                int64_t m = g.mirror[e];
                if (g.col[m] != r || g.mirror[m] != e) mir = 0;
                if (e > g.ptr[r] && g.col[e - 1] >= g.col[e]) sorted = 0;
                if (g.val[e] != (float)g.dval[e]) exact = 0;
            }
        ok(exact, "Ahat[r][c] = 1/sqrt((deg_r+eps)(deg_c+eps)) (eps %g), float = rounded double", eps);
        ok(sym, "Ahat symmetric (eps %g)", eps);
        ok(mir && sorted, "mirror[] pairs (r,c) with (c,r); columns ascending");
        ok(g.ptr[3] == g.ptr[2] && g.ptr[7] == g.ptr[6] && g.dinv[2] == 0.0,
           "isolated user and item: empty rows, dinv 0");
        if (pass == 0)
            is_close(A[0 * 7 + 4], 1.0 / sqrt(6.0), 0, 1e-15, "Ahat[u0][i1] = 1/sqrt(3*2)");
        else
            ok(A[0 * 7 + 4] != 1.0 / sqrt(6.0) &&
                   fabs(A[0 * 7 + 4] - 1.0 / sqrt(6.0)) < 1e-7,
               "eps 1e-7 shifts Ahat[u0][i1] by ~1e-8 relative");
        free(A);
        graph_free(&g);
    }
    nb_graph g = {0};
    char *err = NULL;
    int rc = graph_build(&s.t, NULL, -1.0, &g, &err);
    ok(rc == NB_EINVAL && err && strstr(err, "eps"), "negative eps refused: %s", err ? err : "");
    free(err);
    tset_free(&s);
}

static void random_set(tset *s, int32_t U, int32_t I, double dens, uint64_t seed)
{
    uint8_t *R = calloc((size_t)U * I, 1);
    nb_rng r;
    nb_rng_seed(&r, seed, 1, 2);
    for (int64_t k = 0; k < (int64_t)U * I; k++) R[k] = nb_rng_uniform(&r) < dens;
    tset_from_pairs(s, U, I, R);
    free(R);
}

static void test_spmm(void)
{
    tset s;
    random_set(&s, 37, 53, 0.15, 7);
    nb_graph g = {0};
    graph_build(&s.t, NULL, 1e-7, &g, NULL);
    int64_t N = g.n;
    int32_t d = 5;
    int64_t ldx = 7, ldy = 9;
    double *A = dense_of(&g, NULL);
    double *x = malloc((size_t)(N * ldx) * sizeof(double));
    double *add = malloc((size_t)(N * d) * sizeof(double));
    double *y = calloc((size_t)(N * ldy), sizeof(double));
    float *xf = malloc((size_t)(N * ldx) * sizeof(float));
    float *yf = calloc((size_t)(N * ldy), sizeof(float));
    nb_rng r;
    nb_rng_seed(&r, 3, 4, 5);
    for (int64_t k = 0; k < N * ldx; k++) { x[k] = nb_rng_uniform(&r) - 0.5; xf[k] = (float)x[k]; }
    for (int64_t k = 0; k < N * d; k++) add[k] = nb_rng_uniform(&r);
    graph_spmm_f64(&g, NULL, x, ldx, add, d, y, ldy, d);
    graph_spmm_f32(&g, NULL, xf, ldx, NULL, 0, yf, ldy, d);
    double e64 = 0, e32 = 0;
    for (int64_t i = 0; i < N; i++)
        for (int k = 0; k < d; k++) {
            double ref = 0;
            for (int64_t j = 0; j < N; j++) ref += A[i * N + j] * x[j * ldx + k];
            e64 = fmax(e64, fabs(y[i * ldy + k] - (ref + add[i * d + k])));
            e32 = fmax(e32, fabs(yf[i * ldy + k] - ref));
        }
    ok(e64 < 1e-13, "SpMM f64 (+add, strided) = dense reference (max err %.2g)", e64);
    ok(e32 < 1e-5, "SpMM f32 (strided) = dense reference (max err %.2g)", e32);

    /* transposed values: a random reweighting w, then w^T against dense */
    double *w = malloc((size_t)g.nnz * sizeof(double)), *wt = malloc((size_t)g.nnz * sizeof(double));
    for (int64_t e = 0; e < g.nnz; e++) w[e] = nb_rng_uniform(&r);
    graph_transpose_vals_f64(&g, w, wt);
    double *W = dense_of(&g, w), *WT = dense_of(&g, wt);
    int tr = 1, asym = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) {
            if (WT[i * N + j] != W[j * N + i]) tr = 0;
            if (W[i * N + j] != W[j * N + i]) asym = 1;
        }
    ok(tr && asym, "transpose_vals gives the transpose of a non-symmetric reweighting");
    free(W); free(WT); free(w); free(wt);

#ifdef _OPENMP
    float *y1 = calloc((size_t)(N * ldy), sizeof(float));
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    graph_spmm_f32(&g, NULL, xf, ldx, NULL, 0, y1, ldy, d);
    omp_set_num_threads(4);
    graph_spmm_f32(&g, NULL, xf, ldx, NULL, 0, yf, ldy, d);
    omp_set_num_threads(nt);
    ok(memcmp(y1, yf, (size_t)(N * ldy) * sizeof(float)) == 0,
       "SpMM bit-identical with 1 and 4 threads");
    free(y1);
#else
    skip(1, "built without OpenMP");
#endif
    free(A); free(x); free(add); free(y); free(xf); free(yf);
    graph_free(&g);
    tset_free(&s);
}

/* max_r |sum_c Ahat[r][c] sqrt(deg_c) - sqrt(deg_r)| over the graph's own
 * degrees: with eps = 0, sqrt(deg) is Ahat's eigenvector of eigenvalue 1, so
 * this is 0 exactly when the values are renormalised to the kept edges. */
static double renorm_err(const nb_graph *g)
{
    double worst = 0;
    for (int64_t r = 0; r < g->n; r++) {
        double s = 0;
        for (int64_t e = g->ptr[r]; e < g->ptr[r + 1]; e++) s += g->dval[e] * sqrt((double)g->deg[g->col[e]]);
        worst = fmax(worst, fabs(s - sqrt((double)g->deg[r])));
    }
    return worst;
}

static void test_dropout(void)
{
    tset s;
    random_set(&s, 60, 80, 0.1, 11);
    nb_graph g = {0};
    graph_build(&s.t, NULL, 1e-7, &g, NULL);

    /* NGCF entry dropout */
    float *a = malloc((size_t)g.nnz * sizeof(float)), *b = malloc((size_t)g.nnz * sizeof(float));
    graph_entry_dropout_f32(&g, 0.3, 42, 9, a);
    graph_entry_dropout_f32(&g, 0.3, 42, 9, b);
    ok(memcmp(a, b, (size_t)g.nnz * sizeof(float)) == 0, "entry dropout reproducible from the seed");
    graph_entry_dropout_f32(&g, 0.3, 43, 9, b);
    ok(memcmp(a, b, (size_t)g.nnz * sizeof(float)) != 0, "another seed drops other entries");
    int64_t kept = 0, onedir = 0;
    int vals = 1;
    for (int64_t e = 0; e < g.nnz; e++) {
        if (a[e] != 0.0f) {
            kept++;
            if (a[e] != (float)(g.dval[e] * (1.0 / 0.7))) vals = 0;
        }
        if ((a[e] != 0.0f) != (a[g.mirror[e]] != 0.0f)) onedir++;
    }
    double frac = (double)kept / (double)g.nnz;
    ok(fabs(frac - 0.7) < 0.05, "entry dropout keeps ~70%% (%.3f of %lld)", frac, (long long)g.nnz);
    ok(vals, "kept entries scaled by 1/(1-p)");
    ok(onedir > 0, "the two directions drop independently (%lld one-way)", (long long)onedir);

    /* SGL edge dropout */
    int64_t n = s.t.n_pairs, want = (int64_t)floor((double)n * 0.8);
    uint8_t *k1 = malloc((size_t)n), *k2 = malloc((size_t)n);
    nb_graph v1 = {0}, v2 = {0}, v3 = {0};
    graph_edge_dropout(&s.t, 0.2, 0.0, 5, 1, k1, &v1, NULL);
    graph_edge_dropout(&s.t, 0.2, 0.0, 5, 1, k2, &v2, NULL);
    int64_t c1 = 0;
    for (int64_t p = 0; p < n; p++) c1 += k1[p];
    is_int(c1, want, "edge dropout keeps floor(|R| 0.8) pairs");
    is_int(v1.nnz, 2 * want, "view has 2 x kept entries");
    ok(memcmp(k1, k2, (size_t)n) == 0 && v1.nnz == v2.nnz &&
           memcmp(v1.dval, v2.dval, (size_t)v1.nnz * sizeof(double)) == 0,
       "edge dropout reproducible from the seed");
    graph_edge_dropout(&s.t, 0.2, 0.0, 5, 2, k2, &v3, NULL);
    ok(memcmp(k1, k2, (size_t)n) != 0, "another key keeps other pairs");
    double e_full = renorm_err(&g), e_view = renorm_err(&v1);
    nb_graph g0 = {0};
    graph_build(&s.t, NULL, 0.0, &g0, NULL);
    ok(renorm_err(&g0) < 1e-12 && e_view < 1e-12,
       "Ahat sqrt(deg) = sqrt(deg) on the full graph and the view (eps 0): %.2g", e_view);
    diag("the same check on the eps 1e-7 graph: %.2g", e_full);
    /* a stale normalisation (full-graph values on kept edges) fails the check */
    {
        nb_graph st = v1;
        double *sv = malloc((size_t)v1.nnz * sizeof(double));
        for (int64_t r = 0; r < st.n; r++)
            for (int64_t e = st.ptr[r]; e < st.ptr[r + 1]; e++)
                sv[e] = g0.dinv[r] * g0.dinv[st.col[e]];
        st.dval = sv;
        ok(renorm_err(&st) > 1e-3, "check detects un-renormalised values (%.2g)", renorm_err(&st));
        free(sv);
    }
    graph_free(&v1); graph_free(&v2); graph_free(&v3);

    /* SGL node dropout */
    nb_graph nd = {0};
    graph_node_dropout(&s.t, 0.2, 0.0, 5, 1, k1, &nd, NULL);
    int64_t du = 0, di = 0;
    int clean = 1;
    for (int32_t u = 0; u < 60; u++) du += nd.deg[u] == 0 && g.deg[u] > 0;
    for (int32_t i = 0; i < 80; i++) di += nd.deg[60 + i] == 0 && g.deg[60 + i] > 0;
    for (int32_t u = 0; u < 60; u++)
        for (int64_t p = s.t.user_ptr[u]; p < s.t.user_ptr[u + 1]; p++)
            if (k1[p] != (nd.deg[u] > 0 && nd.deg[60 + s.t.user_items[p]] > 0)) clean = 0;
    ok(du >= 12 && di >= 16, "node dropout empties >= floor(0.2 n) users (%lld) and items (%lld)",
       (long long)du, (long long)di);
    ok(clean && renorm_err(&nd) < 1e-12, "node dropout: kept pairs = both ends alive; renormalised");
    graph_free(&nd);
    graph_free(&g0);
    free(k1); free(k2); free(a); free(b);
    graph_free(&g);
    tset_free(&s);
}

int main(void)
{
    test_hand_built();
    test_spmm();
    test_dropout();
    return tap_done();
}
