/*
 * graph.c - the normalised bipartite adjacency, SpMM and graph dropout
 * (negbench/graph.h): the plugin-side library libnbgraph that the graph
 * models link (the host does not). Self-contained: libc, libm, OpenMP and,
 * on x86-64, the compiler's intrinsics. Errors follow the host's convention
 * (a negative NB_E* code, a one-line message in *err set once); memory is
 * malloc'd and stays with the plugin that built the graph (graph_free).
 *
 * Ahat = D^{-1/2} A D^{-1/2} follows RecBole v1.1.1 LightGCN/NGCF
 * (get_norm_adj_mat: deg = nonzeros per row + 1e-7, np.power(deg, -0.5)),
 * see docs/methods/lightgcn.md.
 */
#include "negbench/graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h> /* the non-temporal stores of the SpMM's output */
#endif

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

/* Instruction sets the SpMM kernel is compiled for, chosen once at run time.
 * This file is built with -ffp-contract=off (Makefile.am), so no variant
 * fuses a multiply-add: every lane does the same IEEE multiply and add in
 * the same order, and all variants give the same bits. */
enum { GRAPH_ISA_BASE = 0, GRAPH_ISA_AVX2 = 1, GRAPH_ISA_AVX512 = 2 };
#if defined(__x86_64__) && defined(__GNUC__)
#define GRAPH_ATTR_AVX2 __attribute__((target("avx2")))
#define GRAPH_ATTR_AVX512 __attribute__((target("avx512f", "prefer-vector-width=512")))
#define GRAPH_HAVE_ISA 1
#else
#define GRAPH_HAVE_ISA 0
#endif
static int graph_isa = -1; /* chosen when the library loads (graph_isa_init) */
/* Prefetch distance of the gathers in entries: 16 beat 4 and 8 on Gowalla
 * (d = 64, 1 and 2 threads), and 32-64 beat 16 by 10-20% on 2 threads
 * (alternating builds, medians of 31 products); 96 and 128, or a second,
 * L2-only prefetch 128-256 entries ahead, were 10-20% slower than 64.
 * Crossing row ends helps the many short rows. */
#ifndef GRAPH_PF
#define GRAPH_PF 64
#endif

static int graph_isa_detect(void)
{
#if GRAPH_HAVE_ISA
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return GRAPH_ISA_AVX512;
    if (__builtin_cpu_supports("avx2")) return GRAPH_ISA_AVX2;
#endif
    return GRAPH_ISA_BASE;
}

/* Choose the best set when the library loads: graph_spmm_row_* may be
 * called first from inside a parallel region. */
__attribute__((constructor)) static void graph_isa_init(void)
{
    if (graph_isa < 0) graph_isa = graph_isa_detect();
}

int graph_spmm_set_isa(int isa)
{
    int best = graph_isa_detect();
    if (isa < 0 || isa > best) isa = best;
    graph_isa = isa;
    return isa;
}

/* Vectors of each precision in the register width of each variant (GCC
 * vector extensions: xmm for the baseline, ymm for AVX2, zmm for AVX-512F;
 * a vector wider than the registers would be lowered through memory). */
typedef float graph_vec16_f32 __attribute__((vector_size(16)));
typedef double graph_vec16_f64 __attribute__((vector_size(16)));
typedef float graph_vec32_f32 __attribute__((vector_size(32)));
typedef double graph_vec32_f64 __attribute__((vector_size(32)));
typedef float graph_vec64_f32 __attribute__((vector_size(64)));
typedef double graph_vec64_f64 __attribute__((vector_size(64)));

/* Stores of one vector: plain, or non-temporal (no read-for-ownership of
 * the line; for output that is not read again soon). p is aligned to the
 * vector's width when streaming (the caller checks). */
#if GRAPH_HAVE_ISA
static inline void graph_stream_f32_16(float *p, graph_vec16_f32 v) { _mm_stream_ps(p, (__m128)v); }
static inline void graph_stream_f64_16(double *p, graph_vec16_f64 v) { _mm_stream_pd(p, (__m128d)v); }
GRAPH_ATTR_AVX2 static inline void graph_stream_f32_32(float *p, graph_vec32_f32 v)
{
    _mm256_stream_ps(p, (__m256)v);
}
GRAPH_ATTR_AVX2 static inline void graph_stream_f64_32(double *p, graph_vec32_f64 v)
{
    _mm256_stream_pd(p, (__m256d)v);
}
GRAPH_ATTR_AVX512 static inline void graph_stream_f32_64(float *p, graph_vec64_f32 v)
{
    _mm512_stream_ps(p, (__m512)v);
}
GRAPH_ATTR_AVX512 static inline void graph_stream_f64_64(double *p, graph_vec64_f64 v)
{
    _mm512_stream_pd(p, (__m512d)v);
}
#define GRAPH_SFENCE() _mm_sfence()
#else
#define GRAPH_STREAM_PLAIN(SUF, REAL, VB)                                               \
    static inline void graph_stream_##SUF##_##VB(REAL *p, graph_vec##VB##_##SUF v)      \
    {                                                                                  \
        __builtin_memcpy(p, &v, VB);                                                   \
    }
GRAPH_STREAM_PLAIN(f32, float, 16)
GRAPH_STREAM_PLAIN(f64, double, 16)
#define GRAPH_SFENCE() ((void)0)
#endif

/* Entries of a row examined per step of the masked loop: their positions
 * whose x row is nonzero are first collected without branches (a mask
 * with a few percent of ones made the per-entry test mispredict often). */
enum { GRAPH_MASK_CHUNK = 64 };

/* Inside GRAPH_ROW64: prefetch row c of x (64 REALs: sizeof(REAL) lines),
 * and add entry e's weighted x row to the accumulators. */
#define GRAPH_PREFETCH_ROW(REAL, c)                                                    \
    do {                                                                               \
        const char *pf = (const char *)(x + (int64_t)(c) * ldx);                       \
        _Pragma("GCC unroll 8") for (int j = 0; j < (int)sizeof(REAL); j++)            \
            __builtin_prefetch(pf + 64 * j);                                           \
    } while (0)
#define GRAPH_ACC_ENTRY(REAL, VB, e)                                                     \
    do {                                                                               \
        const REAL w = v[e];                                                           \
        const REAL *xr = x + (int64_t)col[e] * ldx;                                    \
        _Pragma("GCC unroll 32") for (int j = 0; j < NV; j++) {                        \
            vec xv;                                                                    \
            __builtin_memcpy(&xv, xr + j * NL, VB);                                    \
            acc[j] += w * xv;                                                          \
        }                                                                              \
    } while (0)

/* One row of y = Ahat x for d == 64: the row lives in 64 sizeof(REAL) / VB
 * vector accumulators of VB bytes (registers, not memory), rows pf_dist
 * entries ahead (before entry pf_end) are prefetched a line at a time, and
 * entries whose x row is zero (xmask) are skipped. MASKED is a compile-time constant, so each
 * caller gets a loop without the test it does not need. The finished row
 * goes through the fused tail (graph_spmm_opts) while still in registers. */
#define GRAPH_ROW64(SUF, REAL, VB, MASKED)                                             \
    do {                                                                               \
        enum { NV = 64 * (int)sizeof(REAL) / VB, NL = VB / (int)sizeof(REAL) };        \
        typedef graph_vec##VB##_##SUF vec;                                             \
        vec acc[NV];                                                                   \
        if (ar) {                                                                      \
            _Pragma("GCC unroll 32") for (int j = 0; j < NV; j++)                      \
                __builtin_memcpy(&acc[j], ar + j * NL, VB);                            \
        } else {                                                                       \
            _Pragma("GCC unroll 32") for (int j = 0; j < NV; j++) acc[j] = (vec){0};   \
        }                                                                              \
        if (MASKED) {                                                                  \
            int32_t sel[GRAPH_MASK_CHUNK];                                             \
            for (int64_t c0 = e0; c0 < e1; c0 += GRAPH_MASK_CHUNK) {                   \
                const int64_t c1 = c0 + GRAPH_MASK_CHUNK < e1 ? c0 + GRAPH_MASK_CHUNK : e1; \
                int32_t ns = 0;                                                        \
                for (int64_t e = c0; e < c1; e++) {                                    \
                    sel[ns] = (int32_t)(e - c0);                                       \
                    ns += xmask[col[e]] != 0;                                          \
                }                                                                      \
                for (int32_t q = 0; q < ns; q++) {                                     \
                    if (q + 4 < ns) GRAPH_PREFETCH_ROW(REAL, col[c0 + sel[q + 4]]);    \
                    GRAPH_ACC_ENTRY(REAL, VB, c0 + sel[q]);                            \
                }                                                                      \
            }                                                                          \
        } else {                                                                       \
            for (int64_t e = e0; e < e1; e++) {                                        \
                if (e + pf_dist < pf_end) GRAPH_PREFETCH_ROW(REAL, col[e + pf_dist]); \
                GRAPH_ACC_ENTRY(REAL, VB, e);                                          \
            }                                                                          \
        }                                                                              \
        if (o->y2) {                                                                   \
            REAL *zr = o->y2 + r * o->ldy2;                                            \
            _Pragma("GCC unroll 32") for (int j = 0; j < NV; j++)                      \
                __builtin_memcpy(zr + j * NL, &acc[j], VB);                            \
        }                                                                              \
        if (o->accum) {                                                                \
            REAL *qr = o->accum + r * d;                                               \
            _Pragma("GCC unroll 32") for (int j = 0; j < NV; j++) {                    \
                vec q;                                                                 \
                __builtin_memcpy(&q, qr + j * NL, VB);                                 \
                q += acc[j] / o->accum_div;                                            \
                __builtin_memcpy(qr + j * NL, &q, VB);                                 \
            }                                                                          \
        }                                                                              \
        if (o->n_pool) { /* (0 + P_0) + P_1 + ... + P_{n-1} + y, then / div */        \
            _Pragma("GCC unroll 32") for (int j = 0; j < NV; j++) {                    \
                vec f, t;                                                              \
                __builtin_memcpy(&t, o->pool[0] + r * d + j * NL, VB);                 \
                f = (vec){0} + t;                                                      \
                for (int32_t q = 1; q < o->n_pool; q++) {                              \
                    __builtin_memcpy(&t, o->pool[q] + r * d + j * NL, VB);             \
                    f += t;                                                            \
                }                                                                      \
                f += acc[j];                                                           \
                acc[j] = f / o->pool_div;                                              \
            }                                                                          \
        }                                                                              \
        if (stream) {                                                                  \
            _Pragma("GCC unroll 32") for (int j = 0; j < NV; j++)                      \
                graph_stream_##SUF##_##VB(yr + j * NL, acc[j]);                        \
        } else if (!o->y_scratch) {                                                    \
            _Pragma("GCC unroll 32") for (int j = 0; j < NV; j++)                      \
                __builtin_memcpy(yr + j * NL, &acc[j], VB);                            \
        }                                                                              \
    } while (0)

/* The tail of one row for any d, on the row already in y (the same
 * operations in the same order as GRAPH_ROW64's). */
#define GRAPH_ROW_TAIL(REAL)                                                           \
    do {                                                                               \
        if (o->y2) {                                                                   \
            REAL *zr = o->y2 + r * o->ldy2;                                            \
            for (int32_t k = 0; k < d; k++) zr[k] = yr[k];                             \
        }                                                                              \
        if (o->accum) {                                                                \
            REAL *qr = o->accum + r * d;                                               \
            for (int32_t k = 0; k < d; k++) qr[k] += yr[k] / o->accum_div;             \
        }                                                                              \
        if (o->n_pool)                                                                 \
            for (int32_t k = 0; k < d; k++) {                                          \
                REAL f = (REAL)0 + o->pool[0][r * d + k];                              \
                for (int32_t q = 1; q < o->n_pool; q++) f += o->pool[q][r * d + k];    \
                f += yr[k];                                                            \
                yr[k] = f / o->pool_div;                                               \
            }                                                                          \
    } while (0)

/* Row r of y = Ahat x and its tail, in the scope of GRAPH_SPMM_ROWS or
 * GRAPH_SPMM_ONE (g, v, x, ldx, y, ldy, d, o, ptr, col, xmask, stream and
 * pf_end, the entry before which gathers are prefetched, in scope). */
#define GRAPH_ROW(SUF, REAL, VB)                                                       \
    do {                                                                               \
        REAL *yr = y + r * ldy;                                                        \
        const REAL *ar = o->add && (!o->addmask || o->addmask[r])                      \
                             ? o->add + r * o->ldadd : NULL;                           \
        int64_t e0 = ptr[r], e1 = ptr[r + 1];                                          \
        if (d == 64) { /* the common size: accumulate in registers */                  \
            if (xmask) GRAPH_ROW64(SUF, REAL, VB, 1);                                  \
            else GRAPH_ROW64(SUF, REAL, VB, 0);                                        \
        } else {                                                                       \
            if (ar) {                                                                  \
                if (ar != yr) for (int32_t k = 0; k < d; k++) yr[k] = ar[k];           \
            } else {                                                                   \
                for (int32_t k = 0; k < d; k++) yr[k] = 0;                             \
            }                                                                          \
            for (int64_t e = e0; e < e1; e++) {                                        \
                if (xmask && !xmask[col[e]]) continue;                                 \
                const REAL w = v[e];                                                   \
                const REAL *xr = x + (int64_t)col[e] * ldx;                            \
                for (int32_t k = 0; k < d; k++) yr[k] += w * xr[k];                    \
            }                                                                          \
            GRAPH_ROW_TAIL(REAL);                                                      \
        }                                                                              \
    } while (0)

/* The row loop of y = Ahat x, one copy per precision and instruction set.
 * Rows are independent and each is summed in entry order by one thread, so
 * any schedule gives the same bits (every lane does the multiply, then the
 * add, as the scalar loop does). Skipping an entry whose x row is zero
 * (xmask) leaves the sum unchanged, as does not reading an add row that is
 * zero (addmask). Rows are prefetched across row ends: a thread's rows are
 * consecutive. */
#define GRAPH_SPMM_ROWS(SUF, REAL, ISA, VB, ATTR)                                        \
    ATTR static void graph_spmm_rows_##SUF##_##ISA(const nb_graph *g, const REAL *v,   \
                                                   const REAL *x, int64_t ldx, REAL *y,  \
                                                   int64_t ldy, int32_t d,               \
                                                   const graph_spmm_opts_##SUF *o)       \
    {                                                                                  \
        const int64_t *ptr = g->ptr;                                                   \
        const int32_t *col = g->col;                                                   \
        const uint8_t *xmask = o->xmask;                                               \
        const int64_t n = g->n, pf_end = g->nnz, pf_dist = GRAPH_PF;                   \
        const int stream = o->y_stream && d == 64 && ldy % (VB / (int)sizeof(REAL)) == 0 \
                           && (uintptr_t)y % VB == 0;                                  \
        _Pragma("omp parallel")                                                        \
        {                                                                              \
        _Pragma("omp for schedule(dynamic, 512) nowait")                               \
        for (int64_t r = 0; r < n; r++) GRAPH_ROW(SUF, REAL, VB);                      \
        if (stream) GRAPH_SFENCE(); /* order this thread's streamed rows */            \
        }                                                                              \
    }

/* Row r alone, on the calling thread (no OpenMP): the same operations as
 * the row loop's, so the same bits; gathers are prefetched within the row
 * only, and the row is stored plainly (y_stream is ignored). Prefetching
 * the row's first entries and its pooled rows before the loop made a
 * batch's rows 10-20% slower (1.4-1.5 against 1.2-1.3 ms for 3,750 rows). */
#define GRAPH_SPMM_ONE(SUF, REAL, ISA, VB, ATTR)                                         \
    ATTR static void graph_spmm_one_##SUF##_##ISA(const nb_graph *g, const REAL *v,    \
                                                  const REAL *x, int64_t ldx, REAL *y,   \
                                                  int64_t ldy, int32_t d,                \
                                                  const graph_spmm_opts_##SUF *o,        \
                                                  int64_t r)                             \
    {                                                                                  \
        const int64_t *ptr = g->ptr;                                                   \
        const int32_t *col = g->col;                                                   \
        const uint8_t *xmask = o->xmask;                                               \
        const int64_t pf_end = ptr[r + 1], pf_dist = GRAPH_PF;                         \
        const int stream = 0;                                                          \
        GRAPH_ROW(SUF, REAL, VB);                                                      \
    }

/* The exported entry points of one precision: dispatch on graph_isa. */
#if GRAPH_HAVE_ISA
#define GRAPH_SPMM_DISPATCH(KIND, SUF, ...)                                            \
    switch (graph_isa) {                                                               \
    case GRAPH_ISA_AVX512: graph_spmm_##KIND##_##SUF##_avx512(__VA_ARGS__); break;     \
    case GRAPH_ISA_AVX2: graph_spmm_##KIND##_##SUF##_avx2(__VA_ARGS__); break;         \
    default: graph_spmm_##KIND##_##SUF##_base(__VA_ARGS__); break;                     \
    }
#else
#define GRAPH_SPMM_DISPATCH(KIND, SUF, ...) graph_spmm_##KIND##_##SUF##_base(__VA_ARGS__);
#endif
#define GRAPH_SPMM(SUF, REAL, DEFVAL)                                                  \
    void graph_spmm_run_##SUF(const nb_graph *g, const REAL *val, const REAL *x,        \
                              int64_t ldx, REAL *y, int64_t ldy, int32_t d,             \
                              const graph_spmm_opts_##SUF *opts)                        \
    {                                                                                  \
        static const graph_spmm_opts_##SUF none;                                       \
        const graph_spmm_opts_##SUF *o = opts ? opts : &none;                          \
        const REAL *v = val ? val : g->DEFVAL;                                         \
        GRAPH_SPMM_DISPATCH(rows, SUF, g, v, x, ldx, y, ldy, d, o)                     \
    }                                                                                  \
    void graph_spmm_row_##SUF(const nb_graph *g, const REAL *val, const REAL *x,        \
                              int64_t ldx, int64_t r, REAL *y, int64_t ldy, int32_t d,  \
                              const graph_spmm_opts_##SUF *opts)                        \
    {                                                                                  \
        static const graph_spmm_opts_##SUF none;                                       \
        const graph_spmm_opts_##SUF *o = opts ? opts : &none;                          \
        const REAL *v = val ? val : g->DEFVAL;                                         \
        GRAPH_SPMM_DISPATCH(one, SUF, g, v, x, ldx, y, ldy, d, o, r)                   \
    }                                                                                  \
    void graph_spmm_ex_##SUF(const nb_graph *g, const REAL *val, const uint8_t *xmask,  \
                             const REAL *x, int64_t ldx, const REAL *add,              \
                             int64_t ldadd, REAL *y, int64_t ldy, REAL *y2,            \
                             int64_t ldy2, int32_t d)                                  \
    {                                                                                  \
        graph_spmm_opts_##SUF o = {.xmask = xmask, .add = add, .ldadd = ldadd,         \
                                   .y2 = y2, .ldy2 = ldy2};                            \
        graph_spmm_run_##SUF(g, val, x, ldx, y, ldy, d, &o);                           \
    }                                                                                  \
    void graph_spmm_##SUF(const nb_graph *g, const REAL *val, const REAL *x, int64_t ldx, \
                          const REAL *add, int64_t ldadd, REAL *y, int64_t ldy, int32_t d) \
    {                                                                                  \
        graph_spmm_ex_##SUF(g, val, NULL, x, ldx, add, ldadd, y, ldy, NULL, 0, d);     \
    }                                                                                  \
    void graph_transpose_vals_##SUF(const nb_graph *g, const REAL *val, REAL *valT)     \
    {                                                                                  \
        for (int64_t e = 0; e < g->nnz; e++) valT[e] = val[g->mirror[e]];              \
    }

#define GRAPH_KERNELS(SUF, REAL, ISA, VB, ATTR)                                        \
    GRAPH_SPMM_ROWS(SUF, REAL, ISA, VB, ATTR)                                          \
    GRAPH_SPMM_ONE(SUF, REAL, ISA, VB, ATTR)
GRAPH_KERNELS(f32, float, base, 16, )
GRAPH_KERNELS(f64, double, base, 16, )
#if GRAPH_HAVE_ISA
GRAPH_KERNELS(f32, float, avx2, 32, GRAPH_ATTR_AVX2)
GRAPH_KERNELS(f64, double, avx2, 32, GRAPH_ATTR_AVX2)
GRAPH_KERNELS(f32, float, avx512, 64, GRAPH_ATTR_AVX512)
GRAPH_KERNELS(f64, double, avx512, 64, GRAPH_ATTR_AVX512)
#endif
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
