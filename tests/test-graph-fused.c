/*
 * test-graph-fused.c - the fast paths of the graph backbones give the same
 * bits as the plain ones: graph_spmm_ex (row mask, second output) against
 * graph_spmm, every SpMM instruction-set variant against the baseline,
 * LightGCN's forward with contiguous scratch and its backward with the row
 * mask against the plain calls, and NGCF's backward with the row mask
 * against the unmasked one, on a random bipartite graph, d = 64 (the
 * register path) and d = 5 (the generic path), in float and double. The
 * fused tails of graph_spmm_run (pool, accum, addmask, y_scratch,
 * y_stream) against the same operations written out, each row computed
 * alone (graph_spmm_row) against the full product, and LightGCN's
 * stack-free forward against the stack path.
 * Correctness of the plain paths themselves is test-graph / test-lightgcn /
 * test-ngcf (dense references, finite differences, golden vectors).
 */
#include "negbench/graph.h"
#include "tap/tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUF f64
#define REAL double
#include "../plugins/models/lightgcn_impl.h"
#undef SUF
#undef REAL
#define SUF f32
#define REAL float
#include "../plugins/models/lightgcn_impl.h"
#undef SUF
#undef REAL

#include "ngcf_f64.h"

enum { U = 37, I = 150 };
static nb_graph G;
static nb_rng rng;

/* A random training set (about 12% density, every user with an item), and
 * user 0 with every item: a row longer than two chunks of the masked loop. */
static void build_graph(void)
{
    static int64_t uptr[U + 1];
    static int32_t items[U * I];
    int64_t n = 0;
    nb_rng_seed(&rng, 7, 11, 13);
    for (int32_t u = 0; u < U; u++) {
        for (int32_t i = 0; i < I; i++)
            if (u == 0 || nb_rng_uniform(&rng) < 0.12 || i == (u * 7) % I) items[n++] = i;
        uptr[u + 1] = n;
    }
    nb_train t = {U, I, n, uptr, items, NULL, NULL};
    char *err = NULL;
    if (graph_build(&t, NULL, 1e-7, &G, &err) != NB_OK) tap_bail("graph_build: %s", err);
}

static double *rand_f64(int64_t n)
{
    double *x = malloc((size_t)n * sizeof *x);
    for (int64_t k = 0; k < n; k++) x[k] = nb_rng_uniform(&rng) - 0.5;
    return x;
}

static float *to_f32(const double *x, int64_t n)
{
    float *y = malloc((size_t)n * sizeof *y);
    for (int64_t k = 0; k < n; k++) y[k] = (float)x[k];
    return y;
}

/* The batch rows of a backward pass: every 5th node, marked. */
static int64_t batch_rows(int32_t *rows, uint8_t *mark)
{
    int64_t nr = 0;
    memset(mark, 0, (size_t)G.n);
    for (int64_t r = 0; r < G.n; r += 5) { rows[nr++] = (int32_t)r; mark[r] = 1; }
    return nr;
}

static void test_spmm_ex(int32_t d)
{
    int64_t N = G.n, ldx = d + 3, ldy = d + 1;
    double *x = rand_f64(N * ldx), *y = calloc((size_t)(N * ldy), sizeof(double));
    double *ym = calloc((size_t)(N * ldy), sizeof(double)), *y2 = calloc((size_t)(N * d), sizeof(double));
    int32_t *rows = malloc((size_t)N * sizeof *rows);
    uint8_t *mark = malloc((size_t)N);
    batch_rows(rows, mark);
    for (int64_t r = 0; r < N; r++)
        if (!mark[r]) memset(x + r * ldx, 0, (size_t)ldx * sizeof(double));
    graph_spmm_f64(&G, NULL, x, ldx, NULL, 0, y, ldy, d);
    graph_spmm_ex_f64(&G, NULL, mark, x, ldx, NULL, 0, ym, ldy, y2, d, d);
    int same = !memcmp(y, ym, (size_t)(N * ldy) * sizeof(double)), copy = 1;
    for (int64_t r = 0; r < N; r++)
        copy &= !memcmp(y + r * ldy, y2 + r * d, (size_t)d * sizeof(double));
    ok(same, "d=%d: masked SpMM = plain SpMM bit for bit when x is zero off the mask", d);
    ok(copy, "d=%d: the second output holds the same rows", d);

    /* instruction-set variants, float and double, with an added term */
    float *xf = to_f32(x, N * ldx), *add = to_f32(x, N * ldx);
    float *base = calloc((size_t)(N * ldy), sizeof(float)), *other = calloc((size_t)(N * ldy), sizeof(float));
    double *based = calloc((size_t)(N * ldy), sizeof(double));
    int best = graph_spmm_set_isa(-1);
    graph_spmm_set_isa(0);
    graph_spmm_f32(&G, NULL, xf, ldx, add, ldx, base, ldy, d);
    graph_spmm_f64(&G, NULL, x, ldx, NULL, 0, based, ldy, d);
    for (int isa = 1; isa <= 2; isa++) {
        if (isa > best) { skip(2, "instruction set %d not supported here", isa); continue; }
        graph_spmm_set_isa(isa);
        graph_spmm_f32(&G, NULL, xf, ldx, add, ldx, other, ldy, d);
        ok(!memcmp(base, other, (size_t)(N * ldy) * sizeof(float)),
           "d=%d: float SpMM of instruction set %d = baseline bit for bit", d, isa);
        graph_spmm_f64(&G, NULL, x, ldx, NULL, 0, ym, ldy, d);
        ok(!memcmp(based, ym, (size_t)(N * ldy) * sizeof(double)),
           "d=%d: double SpMM of instruction set %d = baseline bit for bit", d, isa);
    }
    graph_spmm_set_isa(-1);
    free(x); free(y); free(ym); free(y2); free(rows); free(mark);
    free(xf); free(add); free(base); free(other); free(based);
}

/* The tails of graph_spmm_run_f64/f32 against the plain product followed
 * by the same scalar operations, for every instruction set. */
#define TAILS_TEST(SUF, REAL)                                                          \
    static int tails_##SUF(int32_t d, const uint8_t *mark, const double *src)          \
    {                                                                                  \
        int64_t N = G.n, nd = N * d;                                                   \
        REAL *x = malloc((size_t)nd * sizeof(REAL)), *add = calloc((size_t)nd, sizeof(REAL)); \
        REAL *P[3], *acc0 = malloc((size_t)nd * sizeof(REAL));                         \
        REAL *acc = malloc((size_t)nd * sizeof(REAL)), *ref = malloc((size_t)nd * sizeof(REAL)); \
        REAL *plain = malloc((size_t)nd * sizeof(REAL)), *y = NULL;                    \
        if (posix_memalign((void **)&y, 64, (size_t)nd * sizeof(REAL))) tap_bail("oom"); \
        for (int j = 0; j < 3; j++) {                                                  \
            P[j] = malloc((size_t)nd * sizeof(REAL));                                  \
            for (int64_t k = 0; k < nd; k++) P[j][k] = (REAL)src[(k * (j + 3) + j) % nd]; \
        }                                                                              \
        for (int64_t k = 0; k < nd; k++) {                                             \
            x[k] = (REAL)src[k];                                                       \
            acc0[k] = (REAL)src[(k * 7 + 1) % nd];                                     \
            if (mark[k / d]) add[k] = (REAL)src[(k * 5 + 2) % nd];                     \
        }                                                                              \
        int good = 1;                                                                  \
        const REAL div = (REAL)4;                                                      \
        graph_spmm_##SUF(&G, NULL, x, d, add, d, plain, d, d);                         \
        int best = graph_spmm_set_isa(-1);                                             \
        for (int isa = 0; isa <= best; isa++) {                                        \
            graph_spmm_set_isa(isa);                                                   \
            /* addmask: the zero rows of add are not read */                          \
            graph_spmm_opts_##SUF om = {.add = add, .ldadd = d, .addmask = mark};      \
            graph_spmm_run_##SUF(&G, NULL, x, d, y, d, d, &om);                        \
            good &= !memcmp(y, plain, (size_t)nd * sizeof(REAL));                      \
            /* pool: ((0 + P0) + P1 + P2 + y) / div, and streamed stores */            \
            const REAL *pools[3] = {P[0], P[1], P[2]};                                 \
            graph_spmm_opts_##SUF op = {.add = add, .ldadd = d, .pool = pools,         \
                                        .n_pool = 3, .pool_div = div, .y_stream = 1};  \
            graph_spmm_run_##SUF(&G, NULL, x, d, y, d, d, &op);                        \
            for (int64_t k = 0; k < nd; k++) {                                         \
                REAL f = (REAL)0 + P[0][k];                                            \
                f += P[1][k];                                                          \
                f += P[2][k];                                                          \
                f += plain[k];                                                         \
                ref[k] = f / div;                                                      \
            }                                                                          \
            good &= !memcmp(y, ref, (size_t)nd * sizeof(REAL));                        \
            /* accum: acc += y / div, y itself kept or treated as scratch */           \
            for (int scratch = 0; scratch < 2; scratch++) {                            \
                memcpy(acc, acc0, (size_t)nd * sizeof(REAL));                          \
                graph_spmm_opts_##SUF oa = {.add = add, .ldadd = d, .accum = acc,      \
                                            .accum_div = div, .y_scratch = scratch};   \
                graph_spmm_run_##SUF(&G, NULL, x, d, y, d, d, &oa);                    \
                for (int64_t k = 0; k < nd; k++) ref[k] = acc0[k] + plain[k] / div;    \
                good &= !memcmp(acc, ref, (size_t)nd * sizeof(REAL));                  \
                if (!scratch) good &= !memcmp(y, plain, (size_t)nd * sizeof(REAL));    \
            }                                                                          \
        }                                                                              \
        graph_spmm_set_isa(-1);                                                        \
        free(x); free(add); free(acc0); free(acc); free(ref); free(plain); free(y);    \
        for (int j = 0; j < 3; j++) free(P[j]);                                        \
        return good;                                                                   \
    }
TAILS_TEST(f64, double)
TAILS_TEST(f32, float)

/* graph_spmm_row_* against graph_spmm_run_*: every row computed alone (in
 * reverse order, from several threads) equals the full product's, with
 * each tail option, for every instruction set. */
#define ROW_TEST(SUF, REAL)                                                            \
    static int rows_##SUF(int32_t d, const uint8_t *mark, const double *src)           \
    {                                                                                  \
        int64_t N = G.n, nd = N * d;                                                   \
        REAL *x = malloc((size_t)nd * sizeof(REAL)), *add = malloc((size_t)nd * sizeof(REAL)); \
        REAL *P0 = malloc((size_t)nd * sizeof(REAL)), *P1 = malloc((size_t)nd * sizeof(REAL)); \
        REAL *yf = malloc((size_t)nd * sizeof(REAL)), *yr = malloc((size_t)nd * sizeof(REAL)); \
        REAL *af = malloc((size_t)nd * sizeof(REAL)), *ar = malloc((size_t)nd * sizeof(REAL)); \
        for (int64_t k = 0; k < nd; k++) {                                             \
            x[k] = mark[k / d] ? (REAL)src[k] : (REAL)0;                               \
            add[k] = (REAL)src[(k * 5 + 2) % nd];                                      \
            P0[k] = (REAL)src[(k * 3 + 1) % nd];                                       \
            P1[k] = (REAL)src[(k * 7 + 4) % nd];                                       \
        }                                                                              \
        const REAL *pools[2] = {P0, P1};                                               \
        graph_spmm_opts_##SUF opts[5] = {                                              \
            {0},                                                                       \
            {.xmask = mark},                                                           \
            {.add = add, .ldadd = d, .addmask = mark},                                 \
            {.pool = pools, .n_pool = 2, .pool_div = (REAL)3, .y_stream = 1},          \
            {.accum = NULL, .accum_div = (REAL)3, .y2 = NULL},                         \
        };                                                                             \
        int good = 1, best = graph_spmm_set_isa(-1);                                   \
        for (int isa = 0; isa <= best; isa++) {                                        \
            graph_spmm_set_isa(isa);                                                   \
            for (int k = 0; k < 5; k++) {                                              \
                graph_spmm_opts_##SUF of = opts[k], orow = opts[k];                    \
                memcpy(af, add, (size_t)nd * sizeof(REAL));                            \
                memcpy(ar, add, (size_t)nd * sizeof(REAL));                            \
                memset(yr, 0xff, (size_t)nd * sizeof(REAL));                           \
                if (k == 4) { of.accum = af; orow.accum = ar; }                        \
                graph_spmm_run_##SUF(&G, NULL, x, d, yf, d, d, &of);                   \
                _Pragma("omp parallel for schedule(dynamic, 3)")                       \
                for (int64_t r = N - 1; r >= 0; r--)                                   \
                    graph_spmm_row_##SUF(&G, NULL, x, d, r, yr, d, d, &orow);          \
                good &= !memcmp(yf, yr, (size_t)nd * sizeof(REAL));                    \
                good &= !memcmp(af, ar, (size_t)nd * sizeof(REAL));                    \
            }                                                                          \
        }                                                                              \
        graph_spmm_set_isa(-1);                                                        \
        free(x); free(add); free(P0); free(P1); free(yf); free(yr); free(af); free(ar); \
        return good;                                                                   \
    }
ROW_TEST(f64, double)
ROW_TEST(f32, float)

static void test_spmm_tails(int32_t d)
{
    int32_t *rows = malloc((size_t)G.n * sizeof *rows);
    uint8_t *mark = malloc((size_t)G.n);
    batch_rows(rows, mark);
    double *src = rand_f64(G.n * d);
    ok(tails_f64(d, mark, src), "d=%d: pool, accum, addmask, scratch and streamed tails = "
                                "the operations written out, double, every instruction set", d);
    ok(tails_f32(d, mark, src), "d=%d: the same in float", d);
    ok(rows_f64(d, mark, src), "d=%d: each row alone (graph_spmm_row, several threads) = the "
                               "full product's row, every tail, double, every instruction set", d);
    ok(rows_f32(d, mark, src), "d=%d: the same in float", d);
    free(rows); free(mark); free(src);
}

/* LightGCN's stack-free forward gives the stack path's final rows bit for
 * bit (pool mean and sum), in double and float. */
static void test_forward_final(int32_t d, int pool, int32_t L)
{
    int64_t N = G.n, nd = N * d, ld = (int64_t)(L + 1) * d;
    double *E0 = rand_f64(nd), *la = malloc((size_t)(N * ld) * sizeof(double));
    double *fa = malloc((size_t)nd * sizeof(double)), *fb = malloc((size_t)nd * sizeof(double));
    double *S = malloc((size_t)(N * ld) * sizeof(double));
    lgcn_forward_f64(&G, NULL, L, d, pool, E0, la, fa);
    lgcn_forward_final_f64(&G, NULL, L, d, pool, E0, S, fb);
    int same = !memcmp(fa, fb, (size_t)nd * sizeof(double));
    float *E0f = to_f32(E0, nd), *laf = malloc((size_t)(N * ld) * sizeof(float));
    float *faf = malloc((size_t)nd * sizeof(float)), *fbf = malloc((size_t)nd * sizeof(float));
    float *Sf = malloc((size_t)(N * ld) * sizeof(float));
    lgcn_forward_f32(&G, NULL, L, d, pool, E0f, laf, faf);
    lgcn_forward_final_f32(&G, NULL, L, d, pool, E0f, Sf, fbf);
    same &= !memcmp(faf, fbf, (size_t)nd * sizeof(float));
    ok(same, "lightgcn d=%d pool=%d L=%d: stack-free forward = stack path, double and float",
       d, pool, L);
    free(E0); free(la); free(fa); free(fb); free(S);
    free(E0f); free(laf); free(faf); free(fbf); free(Sf);
}

/* LightGCN forward with/without scratch and backward with/without the row
 * mask, for one pool and width, in double and float. */
static void test_lightgcn(int32_t d, int pool, int32_t L)
{
    int64_t N = G.n, nd = N * d, ld = (int64_t)(L + 1) * d;
    int64_t df = pool == LGCN_CONCAT ? ld : d;
    double *E0 = rand_f64(nd), *Gf = calloc((size_t)(N * df), sizeof(double));
    double *Gl = calloc((size_t)(N * ld), sizeof(double));
    int32_t *rows = malloc((size_t)N * sizeof *rows);
    uint8_t *mark = malloc((size_t)N);
    int64_t nr = batch_rows(rows, mark);
    for (int64_t q = 0; q < nr; q++) {
        for (int64_t k = 0; k < df; k++) Gf[rows[q] * df + k] = nb_rng_uniform(&rng) - 0.5;
        if (q % 2) for (int64_t k = 0; k < ld; k++) Gl[rows[q] * ld + k] = nb_rng_uniform(&rng);
    }
    double *la = malloc((size_t)(N * ld) * sizeof(double)), *lb = malloc((size_t)(N * ld) * sizeof(double));
    double *fa = malloc((size_t)(N * df) * sizeof(double)), *fb = malloc((size_t)(N * df) * sizeof(double));
    double *H0 = malloc((size_t)nd * sizeof(double)), *H1 = malloc((size_t)nd * sizeof(double));
    double *ga = calloc((size_t)nd, sizeof(double)), *gb = calloc((size_t)nd, sizeof(double));
    lgcn_forward_f64(&G, NULL, L, d, pool, E0, la, pool == LGCN_CONCAT ? la : fa);
    lgcn_forward_ex_f64(&G, NULL, L, d, pool, E0, lb, pool == LGCN_CONCAT ? lb : fb, H0, H1);
    int same = !memcmp(la, lb, (size_t)(N * ld) * sizeof(double));
    if (pool != LGCN_CONCAT) same &= !memcmp(fa, fb, (size_t)(N * df) * sizeof(double));
    ok(same, "lightgcn d=%d pool=%d L=%d: forward with scratch = plain, double", d, pool, L);
    lgcn_backward_f64(&G, NULL, L, d, pool, Gf, Gl, rows, nr, H0, H1, ga);
    for (int64_t k = 0; k < nd; k++) H0[k] = H1[k] = NAN; /* stale scratch must not leak */
    lgcn_backward_ex_f64(&G, NULL, L, d, pool, Gf, Gl, rows, nr, mark, H0, H1, gb);
    ok(!memcmp(ga, gb, (size_t)nd * sizeof(double)),
       "lightgcn d=%d pool=%d L=%d: backward with row mask = plain, double", d, pool, L);
    {
        /* the plugins' backward: Gamma folded into (a copy of) Gl, adds and
         * the dE0 sum in the products' tails; equal up to rounding, Gamma
         * left in Gl's rows, nothing written off them; with and without the
         * row mask */
        double *Gc = malloc((size_t)(N * ld) * sizeof(double));
        double *gc = calloc((size_t)nd, sizeof(double)), *gu = calloc((size_t)nd, sizeof(double));
        memcpy(Gc, Gl, (size_t)(N * ld) * sizeof(double));
        for (int64_t k = 0; k < nd; k++) H0[k] = H1[k] = NAN;
        lgcn_backward_fold_f64(&G, NULL, L, d, pool, Gf, Gc, rows, nr, mark, H0, H1, gc);
        double worst = 0, big = 0, gam = 0;
        for (int64_t k = 0; k < nd; k++) {
            worst = fmax(worst, fabs(gc[k] - ga[k]));
            big = fmax(big, fabs(ga[k]));
        }
        for (int64_t r = 0; r < N; r++)
            for (int32_t l = 0; l <= L; l++)
                for (int32_t k = 0; k < d; k++) {
                    double want = Gl[r * ld + (int64_t)l * d + k];
                    if (mark[r])
                        want += pool == LGCN_CONCAT ? Gf[r * df + (int64_t)l * d + k]
                                : pool == LGCN_MEAN ? Gf[r * df + k] / (double)(L + 1)
                                                    : Gf[r * df + k];
                    gam = fmax(gam, fabs(Gc[r * ld + (int64_t)l * d + k] - want));
                }
        memcpy(Gc, Gl, (size_t)(N * ld) * sizeof(double));
        lgcn_backward_fold_f64(&G, NULL, L, d, pool, Gf, Gc, NULL, 0, NULL, H0, H1, gu);
        for (int64_t k = 0; k < nd; k++) worst = fmax(worst, fabs(gu[k] - ga[k]));
        ok(big > 0 && worst <= 1e-13 * big && gam <= 1e-15,
           "lightgcn d=%d pool=%d L=%d: folded backward = general path (%.2g of %.2g; Gamma "
           "in Gl to %.2g), masked and plain, double", d, pool, L, worst, big, gam);
        free(Gc); free(gc); free(gu);
    }

    if (pool != LGCN_CONCAT) {
        /* without layer gradients the Horner recursion runs on Gf itself (its
         * add folded into the products): equal to the general path with a
         * zero Gl up to rounding, and masked = plain bit for bit */
        double *Z = calloc((size_t)(N * ld), sizeof(double));
        double *gz = calloc((size_t)nd, sizeof(double)), *gn = calloc((size_t)nd, sizeof(double));
        double *gm = calloc((size_t)nd, sizeof(double));
        lgcn_backward_f64(&G, NULL, L, d, pool, Gf, Z, rows, nr, H0, H1, gz);
        lgcn_backward_f64(&G, NULL, L, d, pool, Gf, NULL, rows, nr, H0, H1, gn);
        lgcn_backward_ex_f64(&G, NULL, L, d, pool, Gf, NULL, rows, nr, mark, H0, H1, gm);
        double worst = 0, big = 0;
        for (int64_t k = 0; k < nd; k++) {
            worst = fmax(worst, fabs(gz[k] - gn[k]));
            big = fmax(big, fabs(gz[k]));
        }
        ok(big > 0 && worst <= 1e-13 * big,
           "lightgcn d=%d pool=%d L=%d: backward without Gl = general path (%.2g of %.2g), double",
           d, pool, L, worst, big);
        ok(!memcmp(gn, gm, (size_t)nd * sizeof(double)),
           "lightgcn d=%d pool=%d L=%d: backward without Gl, row mask = plain, double", d, pool, L);
        free(Z); free(gz); free(gn); free(gm);
    }

    float *E0f = to_f32(E0, nd), *Gff = to_f32(Gf, N * df), *Glf = to_f32(Gl, N * ld);
    float *laf = malloc((size_t)(N * ld) * sizeof(float)), *lbf = malloc((size_t)(N * ld) * sizeof(float));
    float *faf = malloc((size_t)(N * df) * sizeof(float)), *fbf = malloc((size_t)(N * df) * sizeof(float));
    float *H0f = malloc((size_t)nd * sizeof(float)), *H1f = malloc((size_t)nd * sizeof(float));
    float *gaf = calloc((size_t)nd, sizeof(float)), *gbf = calloc((size_t)nd, sizeof(float));
    lgcn_forward_f32(&G, NULL, L, d, pool, E0f, laf, pool == LGCN_CONCAT ? laf : faf);
    lgcn_forward_ex_f32(&G, NULL, L, d, pool, E0f, lbf, pool == LGCN_CONCAT ? lbf : fbf, H0f, H1f);
    same = !memcmp(laf, lbf, (size_t)(N * ld) * sizeof(float));
    if (pool != LGCN_CONCAT) same &= !memcmp(faf, fbf, (size_t)(N * df) * sizeof(float));
    ok(same, "lightgcn d=%d pool=%d L=%d: forward with scratch = plain, float", d, pool, L);
    lgcn_backward_f32(&G, NULL, L, d, pool, Gff, Glf, rows, nr, H0f, H1f, gaf);
    lgcn_backward_ex_f32(&G, NULL, L, d, pool, Gff, Glf, rows, nr, mark, H0f, H1f, gbf);
    ok(!memcmp(gaf, gbf, (size_t)nd * sizeof(float)),
       "lightgcn d=%d pool=%d L=%d: backward with row mask = plain, float", d, pool, L);
    free(E0); free(Gf); free(Gl); free(rows); free(mark); free(la); free(lb); free(fa);
    free(fb); free(H0); free(H1); free(ga); free(gb); free(E0f); free(Gff); free(Glf);
    free(laf); free(lbf); free(faf); free(fbf); free(H0f); free(H1f); free(gaf); free(gbf);
}

/* NGCF backward with and without the row mask (double, with message
 * dropout and a non-symmetric entry-dropped matrix). */
static void test_ngcf(int32_t d, int32_t L)
{
    int64_t N = G.n, nd = N * d, ld = (int64_t)(L + 1) * d, dd = (int64_t)d * d;
    void *wsbuf = NULL;
    if (posix_memalign(&wsbuf, 64, ngcf_ws_bytes_f64(N, d, L)) != 0) tap_bail("out of memory");
    ngcf_ws_f64 ws;
    ngcf_ws_bind_f64(&ws, N, d, L, wsbuf);
    double *E0 = rand_f64(nd), *W1 = rand_f64(L * dd), *W2 = rand_f64(L * dd);
    double *b1 = rand_f64(L * d), *b2 = rand_f64(L * d);
    double *val = malloc((size_t)G.nnz * sizeof(double)), *valT = malloc((size_t)G.nnz * sizeof(double));
    for (int64_t e = 0; e < G.nnz; e++) val[e] = nb_rng_uniform(&rng) < 0.2 ? 0.0 : G.dval[e] * 1.25;
    graph_transpose_vals_f64(&G, val, valT);
    uint8_t *mask = malloc((size_t)(L * nd));
    for (int64_t k = 0; k < L * nd; k++) mask[k] = nb_rng_uniform(&rng) < 0.9;
    double *Gf = calloc((size_t)(N * ld), sizeof(double));
    int32_t *rows = malloc((size_t)N * sizeof *rows);
    uint8_t *mark = malloc((size_t)N);
    int64_t nr = batch_rows(rows, mark);
    for (int64_t q = 0; q < nr; q++)
        for (int64_t k = 0; k < ld; k++) Gf[rows[q] * ld + k] = nb_rng_uniform(&rng) - 0.5;
    int64_t np = nd + 2 * L * dd + 2 * L * d;
    double *ga = calloc((size_t)np, sizeof(double)), *gb = calloc((size_t)np, sizeof(double));
    double *out[2] = {ga, gb};
    for (int m = 0; m < 2; m++) {
        double *g = out[m];
        ngcf_forward_f64(NULL, &ws, &G, val, W1, b1, W2, b2, mask, 0.1, E0);
        ngcf_backward_f64(NULL, &ws, &G, valT, W1, W2, mask, 0.1, Gf, NULL, rows, nr,
                          m ? mark : NULL, g, g + nd, g + nd + L * dd, g + nd + L * dd + L * d,
                          g + nd + 2 * L * dd + L * d);
    }
    ok(!memcmp(ga, gb, (size_t)np * sizeof(double)),
       "ngcf d=%d L=%d: backward with row mask = plain (all gradients), double", d, L);
    free(wsbuf);
    free(E0); free(W1); free(W2); free(b1); free(b2); free(val); free(valT); free(mask);
    free(Gf); free(rows); free(mark); free(ga); free(gb);
}

int main(void)
{
    build_graph();
    int32_t dims[2] = {64, 5};
    for (int k = 0; k < 2; k++) {
        test_spmm_ex(dims[k]);
        test_spmm_tails(dims[k]);
        for (int32_t L = 0; L <= 3; L++) {
            test_forward_final(dims[k], LGCN_MEAN, L);
            test_forward_final(dims[k], LGCN_SUM, L);
        }
        for (int pool = LGCN_MEAN; pool <= LGCN_CONCAT; pool++) test_lightgcn(dims[k], pool, 3);
        test_lightgcn(dims[k], LGCN_MEAN, 1);
        test_lightgcn(dims[k], LGCN_SUM, 2);
        test_lightgcn(dims[k], LGCN_MEAN, 4); /* past the pooling tail's three sources */
        test_ngcf(dims[k], 2);
    }
    graph_free(&G);
    return tap_done();
}
