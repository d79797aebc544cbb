/*
 * test-kernels.c - nb_sgemm and nb_sgemm_ref against a naive double loop on
 * odd sizes (edges of every blocking level), both trans_b values, several
 * alpha/beta pairs (beta = 0 must not read C: it starts as NaN), plus
 * nb_dot and nb_blas_name (and, linked to OpenBLAS's OpenMP build, that
 * nb_blas_threading finds it loaded); nb_sgemm_ex and nb_sgemm_ex_ref with
 * all four transpose pairs and leading dimensions wider than the rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NB_OPENBLAS_OPENMP
#define OPENMP_BUILD_CHECKS 1 /* the OpenMP build of OpenBLAS is the one loaded */
#else
#define OPENMP_BUILD_CHECKS 0
#endif

#include "kernels.h"
#include "blas_core.h"
#include "negbench/plugin.h"
#include "tap/tap.h"

/* Naive C = alpha A op(B) + beta C in double (beta == 0: C ignored). */
static void naive(int trans_b, int m, int n, int k, double alpha, const float *a,
                  const float *b, double beta, const float *c0, double *out)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++) {
                double bv = trans_b ? b[(size_t)j * k + p] : b[(size_t)p * n + j];
                s += (double)a[(size_t)i * k + p] * bv;
            }
            double prev = beta == 0.0 ? 0.0 : beta * c0[(size_t)i * n + j];
            out[(size_t)i * n + j] = alpha * s + prev;
        }
}

static void fill(nb_rng *r, float *x, size_t n)
{
    for (size_t t = 0; t < n; t++) x[t] = (float)(nb_rng_uniform(r) * 2.0 - 1.0);
}

typedef void (*gemm_fn)(int, int64_t, int64_t, int64_t, float, const float *,
                        const float *, float, float *);

/* Max relative error of fn vs the naive loop, scaled by sum |a||b| + |beta c|. */
static double check(gemm_fn fn, int trans_b, int m, int n, int k, float alpha,
                    float beta, nb_rng *r)
{
    float *a = malloc(sizeof(float) * (size_t)m * k);
    float *b = malloc(sizeof(float) * (size_t)n * k);
    float *c = malloc(sizeof(float) * (size_t)m * n);
    float *c0 = malloc(sizeof(float) * (size_t)m * n);
    double *want = malloc(sizeof(double) * (size_t)m * n);
    fill(r, a, (size_t)m * k);
    fill(r, b, (size_t)n * k);
    fill(r, c0, (size_t)m * n);
    if (beta == 0.0f)
        for (size_t t = 0; t < (size_t)m * n; t++) c[t] = NAN;
    else
        memcpy(c, c0, sizeof(float) * (size_t)m * n);
    naive(trans_b, m, n, k, alpha, a, b, beta, c0, want);
    fn(trans_b, m, n, k, alpha, a, b, beta, c);
    double worst = 0.0;
    for (size_t t = 0; t < (size_t)m * n; t++) {
        /* |a| <= 1, |b| <= 1: the scale of the rounding error is k|alpha| + |beta| */
        double scale = (double)k * fabs(alpha) + fabs(beta) + 1.0;
        double e = fabs((double)c[t] - want[t]) / scale;
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
    }
    free(a); free(b); free(c); free(c0); free(want);
    return worst;
}

typedef void (*gemm_ex_fn)(int, int, int64_t, int64_t, int64_t, float, const float *, int64_t,
                           const float *, int64_t, float, float *, int64_t);

/* fn with both transposes and leading dimensions wider than the rows (the
 * padding of A and B is NaN, so reading it poisons C; C's padding holds a
 * sentinel that must survive) against the naive double loop. Returns the
 * scaled error, INFINITY on NaN or a clobbered sentinel. */
static double check_ex(gemm_ex_fn fn, int ta, int tb, int m, int n, int k, float alpha,
                       float beta, nb_rng *r)
{
    int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int lda = ac + 3, ldb = bc + 5, ldc = n + 2;
    float *a = malloc(sizeof(float) * (size_t)ar * lda);
    float *b = malloc(sizeof(float) * (size_t)br * ldb);
    float *c = malloc(sizeof(float) * (size_t)m * ldc);
    double *want = malloc(sizeof(double) * (size_t)m * n);
    for (int i = 0; i < ar; i++)
        for (int j = 0; j < lda; j++) a[i * lda + j] = j < ac ? (float)(nb_rng_uniform(r) * 2 - 1) : NAN;
    for (int i = 0; i < br; i++)
        for (int j = 0; j < ldb; j++) b[i * ldb + j] = j < bc ? (float)(nb_rng_uniform(r) * 2 - 1) : NAN;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ldc; j++)
            c[i * ldc + j] = j >= n ? 12345.0f : beta == 0.0f ? NAN : (float)(nb_rng_uniform(r) * 2 - 1);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                     (tb ? b[j * ldb + p] : b[p * ldb + j]);
            want[i * n + j] = alpha * s + (beta == 0.0f ? 0.0 : beta * (double)c[i * ldc + j]);
        }
    fn(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    double worst = 0.0, scale = (double)k * fabs(alpha) + fabs(beta) + 1.0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ldc; j++) {
            double e = j >= n ? (c[i * ldc + j] == 12345.0f ? 0.0 : INFINITY)
                              : fabs((double)c[i * ldc + j] - want[i * n + j]) / scale;
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        }
    free(a); free(b); free(c); free(want);
    return worst;
}

int main(void)
{
    static const int sizes[][3] = {
        {1, 1, 1}, {3, 5, 7}, {4, 16, 64}, {5, 17, 65}, {63, 33, 9},
        {67, 531, 70}, {130, 1029, 300}, {7, 2, 513}, {200, 3, 1},
    };
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}};
    int n_sizes = (int)(sizeof sizes / sizeof sizes[0]);
    int n_ab = (int)(sizeof ab / sizeof ab[0]);
    tap_plan(2 * 2 * n_sizes * n_ab + 2 * 4 * n_sizes + 5 + OPENMP_BUILD_CHECKS + 11);

    nb_rng r;
    nb_rng_seed(&r, 42, 0, 0);
    for (int f = 0; f < 2; f++) {
        gemm_fn fn = f == 0 ? nb_sgemm_ref : nb_sgemm;
        const char *name = f == 0 ? "nb_sgemm_ref" : "nb_sgemm";
        for (int s = 0; s < n_sizes; s++)
            for (int tb = 0; tb < 2; tb++)
                for (int q = 0; q < n_ab; q++) {
                    int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
                    double e = check(fn, tb, m, n, k, ab[q][0], ab[q][1], &r);
                    ok(e < 1e-6, "%s trans_b=%d m=%d n=%d k=%d alpha=%g beta=%g "
                       "(scaled err %.3g)", name, tb, m, n, k, ab[q][0], ab[q][1], e);
                }
    }

    /* the _ex kernels: all four transpose pairs, ld > width */
    for (int f = 0; f < 2; f++) {
        gemm_ex_fn fn = f == 0 ? nb_sgemm_ex_ref : nb_sgemm_ex;
        const char *name = f == 0 ? "nb_sgemm_ex_ref" : "nb_sgemm_ex";
        for (int s = 0; s < n_sizes; s++)
            for (int t = 0; t < 4; t++) {
                int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2], q = (s + t) % n_ab;
                double e = check_ex(fn, t >> 1, t & 1, m, n, k, ab[q][0], ab[q][1], &r);
                ok(e < 1e-6, "%s trans_a=%d trans_b=%d m=%d n=%d k=%d lda,ldb,ldc > widths "
                   "alpha=%g beta=%g (scaled err %.3g)", name, t >> 1, t & 1, m, n, k,
                   ab[q][0], ab[q][1], e);
            }
    }

    /* alpha = 0 with beta = 1 leaves C unchanged; m = 0 touches nothing. */
    float a1[6] = {1, 2, 3, 4, 5, 6}, b1[6] = {1, 0, 0, 1, 1, 1}, c1[4] = {9, 8, 7, 6};
    nb_sgemm_ref(1, 2, 2, 3, 0.0f, a1, b1, 1.0f, c1);
    ok(c1[0] == 9 && c1[1] == 8 && c1[2] == 7 && c1[3] == 6, "alpha=0 beta=1 keeps C");
    /* Hand case: A = [[1,2,3],[4,5,6]], B (trans) rows [1,0,0],[0,1,1]:
     * C = [[1, 5], [4, 11]]. */
    nb_sgemm_ref(1, 2, 2, 3, 1.0f, a1, (const float[]){1, 0, 0, 0, 1, 1}, 0.0f, c1);
    ok(c1[0] == 1 && c1[1] == 5 && c1[2] == 4 && c1[3] == 11,
       "hand 2x2 trans_b: %g %g %g %g", c1[0], c1[1], c1[2], c1[3]);
    nb_sgemm(1, 0, 2, 3, 1.0f, a1, b1, 0.0f, c1);
    ok(c1[0] == 1, "m=0 is a no-op");

    is_close(nb_dot(a1, b1, 6), 1 * 1 + 4 * 1 + 5 * 1 + 6 * 1, 0, 0, "nb_dot");
    const char *bn = nb_blas_name();
#ifdef NB_HAVE_CBLAS
    is_string(bn, "openblas", "nb_blas_name with CBLAS");
#else
    is_string(bn, "fallback", "nb_blas_name without CBLAS");
#endif
    /* linked to the OpenMP build (configure), the library loaded at run time
     * must be it too: the rpath, not the system's default build */
#ifdef NB_OPENBLAS_OPENMP
    is_string(nb_blas_threading(), "openmp", "the OpenMP build of OpenBLAS is the one loaded");
#else
    diag("BLAS threading: %s (not linked to the OpenMP build)", nb_blas_threading());
#endif

    /* OpenBLAS's kernel set: a fallback without AVX2 on a CPU with it is
     * replaced (by SkylakeX with AVX-512), a detection that uses AVX2 or a
     * CPU without AVX2 is left alone; names compare without case */
    const unsigned avx2 = BLAS_CPU_AVX2_FMA, avx512 = BLAS_CPU_AVX2_FMA | BLAS_CPU_AVX512;
    is_string(blas_core_choice("Prescott", avx512), "SkylakeX", "Prescott on AVX-512: SkylakeX");
    is_string(blas_core_choice("Prescott", avx2), "Haswell", "Prescott on AVX2: Haswell");
    is_string(blas_core_choice("SANDYBRIDGE", avx2), "Haswell", "Sandybridge on AVX2: Haswell");
    is_string(blas_core_choice("Nehalem", avx512), "SkylakeX", "Nehalem on AVX-512: SkylakeX");
    ok(blas_core_choice("Haswell", avx512) == NULL, "Haswell detected stands, even on AVX-512");
    ok(blas_core_choice("zen", avx512) == NULL, "Zen detected stands");
    ok(blas_core_choice("SkylakeX", avx512) == NULL, "SkylakeX detected stands");
    ok(blas_core_choice("Prescott", 0) == NULL, "no AVX2: the library's choice stands");
    ok(blas_core_choice("Prescott", BLAS_CPU_AVX512) == NULL,
       "AVX-512 without the AVX2/FMA flag is not enough");
    ok(blas_core_choice(NULL, avx512) == NULL, "no detection: nothing chosen");
    char desc[160];
    blas_core_describe(desc, sizeof desc);
    diag("BLAS kernels: %s", desc);
#ifdef NB_HAVE_CBLAS
    ok(strstr(desc, "fallback") == NULL, "described as OpenBLAS's kernels");
#else
    is_string(desc, "fallback kernel", "described as the fallback kernel");
#endif
    return tap_done();
}
