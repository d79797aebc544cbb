/*
 * kernels.c - dense SGEMM (transposes, leading dimensions): CBLAS (OpenBLAS)
 * when built with NB_HAVE_CBLAS, else a portable cache-blocked C kernel
 * (nb_sgemm_ex_ref), always compiled.
 *
 * The fallback follows the usual GotoBLAS layering (Goto and van de Geijn,
 * "Anatomy of high-performance matrix multiplication", TOMS 2008): op(B) is
 * packed into a KC x NC panel, A into KC x MR slivers, and an MR x NR
 * register tile accumulates over the panel depth. The tile uses GCC/Clang
 * generic vectors (plain loops elsewhere). Each C element is accumulated in
 * the same order whatever m, n and the blocking, so a row's result does not
 * depend on which block it was computed in.
 */
#include "kernels.h"
#include "thread_env.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef NB_HAVE_CBLAS
#include <cblas.h>
/* Declared here to avoid depending on the openblas_config.h variant. */
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
int openblas_get_parallel(void); /* 0 sequential, 1 pthreads, 2 OpenMP */
#endif

#define MR 4     /* rows of the register tile */
#define NR 8     /* columns of the register tile */
#define KC 256   /* depth of a packed panel */
#define NC 512   /* columns of a packed panel (KC*NC floats = 512 KiB) */
#define MC 64    /* rows per parallel work item */

/* C[i][j] *= beta for an m x n row-major C of row stride ldc; beta == 0
 * writes zeros (C is not read, as in BLAS). */
static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc)
{
    if (beta == 1.0f) return;
    for (int64_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            memset(ci, 0, (size_t)n * sizeof *c);
        else
            for (int64_t j = 0; j < n; j++) ci[j] *= beta;
    }
}

/* Pack op(B)[pc..pc+kc)[jc..jc+nc) into bp[kc][ncp] (ncp = nc rounded up to
 * NR; the padding columns are zero). B has row stride ldb. */
static void pack_b(int trans_b, int64_t ldb, const float *b,
                   int64_t pc, int64_t kc, int64_t jc, int64_t nc, int64_t ncp,
                   float *bp)
{
    for (int64_t p = 0; p < kc; p++) {
        float *dst = bp + p * ncp;
        if (trans_b) {
            const float *src = b + jc * ldb + (pc + p);
            for (int64_t j = 0; j < nc; j++) dst[j] = src[j * ldb];
        } else {
            memcpy(dst, b + (pc + p) * ldb + jc, (size_t)nc * sizeof *dst);
        }
        for (int64_t j = nc; j < ncp; j++) dst[j] = 0.0f;
    }
}

/* Pack op(A)[i..i+mr)[pc..pc+kc) into ap[kc][MR] (rows past mr are zero).
 * A has row stride lda; op(A)[i][p] is a[p lda + i] when trans_a. */
static void pack_a(int trans_a, int64_t lda, const float *a, int64_t i, int64_t mr,
                   int64_t pc, int64_t kc, float *ap)
{
    for (int64_t p = 0; p < kc; p++)
        for (int r = 0; r < MR; r++)
            ap[p * MR + r] = r >= mr ? 0.0f
                             : trans_a ? a[(pc + p) * lda + i + r]
                                       : a[(i + r) * lda + pc + p];
}

#if defined(__GNUC__)
/* GCC/Clang generic vectors of 4 floats: one SSE/NEON register, or scalars
 * on targets without SIMD. 8 accumulators + 2 B vectors fit in 16 registers. */
typedef float v4f __attribute__((vector_size(16)));

static inline v4f v4_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
#endif

/* C tile (mr x nr at c, row stride ldc) += alpha * ap . bp over kc steps;
 * ap is [kc][MR], bp rows are NR wide at stride ldb. */
static void micro_tile(int64_t kc, const float *ap, const float *bp, int64_t ldb,
                       float alpha, float *c, int64_t ldc, int64_t mr, int64_t nr)
{
    float acc[MR][NR];
#if defined(__GNUC__) && MR == 4 && NR == 8
    v4f a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0};
    v4f a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};
    for (int64_t p = 0; p < kc; p++) {
        v4f b0 = v4_load(bp + p * ldb), b1 = v4_load(bp + p * ldb + 4);
        const float *acol = ap + p * MR;
        float x0 = acol[0], x1 = acol[1], x2 = acol[2], x3 = acol[3];
        a00 += x0 * b0; a01 += x0 * b1;  /* scalar * vector broadcasts */
        a10 += x1 * b0; a11 += x1 * b1;
        a20 += x2 * b0; a21 += x2 * b1;
        a30 += x3 * b0; a31 += x3 * b1;
    }
    memcpy(acc[0], &a00, 16); memcpy(acc[0] + 4, &a01, 16);
    memcpy(acc[1], &a10, 16); memcpy(acc[1] + 4, &a11, 16);
    memcpy(acc[2], &a20, 16); memcpy(acc[2] + 4, &a21, 16);
    memcpy(acc[3], &a30, 16); memcpy(acc[3] + 4, &a31, 16);
#else
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) acc[r][j] = 0.0f;
    for (int64_t p = 0; p < kc; p++) {
        const float *brow = bp + p * ldb;
        const float *acol = ap + p * MR;
        for (int r = 0; r < MR; r++) {
            float av = acol[r];
            for (int j = 0; j < NR; j++) acc[r][j] += av * brow[j];
        }
    }
#endif
    for (int64_t r = 0; r < mr; r++)
        for (int64_t j = 0; j < nr; j++) c[r * ldc + j] += alpha * acc[r][j];
}

/* Portable SGEMM with transposes and leading dimensions (see kernels.h for
 * the contract). OpenMP over blocks of MC rows when called outside any
 * parallel construct (inside one it runs on the calling thread); each thread
 * packs its panels into buffers allocated once per call. */
void nb_sgemm_ex_ref(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc)
{
    if (m <= 0 || n <= 0) return;
    scale_c(m, n, beta, c, ldc);
    if (k <= 0 || alpha == 0.0f) return;

    int64_t n_blocks = (m + MC - 1) / MC;
#ifdef _OPENMP
    int par = omp_get_level() == 0 && n_blocks > 1 && m * n * k > (int64_t)1 << 20;
#pragma omp parallel if (par)
#endif
    {
        float *bp = malloc(sizeof(float) * KC * (NC + NR));
        float *ap = malloc(sizeof(float) * KC * MR);
        if (!bp || !ap) abort(); /* a few hundred KiB; nothing sane to do */
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            int64_t i0 = blk * MC, mc = m - i0 < MC ? m - i0 : MC;
            for (int64_t jc = 0; jc < n; jc += NC) {
                int64_t nc = n - jc < NC ? n - jc : NC;
                int64_t ncp = (nc + NR - 1) / NR * NR;
                for (int64_t pc = 0; pc < k; pc += KC) {
                    int64_t kc = k - pc < KC ? k - pc : KC;
                    pack_b(trans_b, ldb, b, pc, kc, jc, nc, ncp, bp);
                    for (int64_t i = i0; i < i0 + mc; i += MR) {
                        int64_t mr = i0 + mc - i < MR ? i0 + mc - i : MR;
                        pack_a(trans_a, lda, a, i, mr, pc, kc, ap);
                        for (int64_t j = 0; j < nc; j += NR) {
                            int64_t nr = nc - j < NR ? nc - j : NR;
                            micro_tile(kc, ap, bp + j, ncp, alpha,
                                       c + i * ldc + jc + j, ldc, mr, nr);
                        }
                    }
                }
            }
        }
        free(bp);
        free(ap);
    }
}

/* The compact case of nb_sgemm_ex_ref (A [m][k], B [n][k] or [k][n]). */
void nb_sgemm_ref(int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, const float *b, float beta, float *c)
{
    nb_sgemm_ex_ref(0, trans_b, m, n, k, alpha, a, k, b, trans_b ? k : n, beta, c, n);
}

/* SGEMM with transposes and leading dimensions through CBLAS when available
 * (dimensions and strides must fit in int), else the portable kernel. */
void nb_sgemm_ex(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                 float *c, int64_t ldc)
{
#ifdef NB_HAVE_CBLAS
    if (m > 0 && n > 0 && k > 0 && m <= INT_MAX && n <= INT_MAX && k <= INT_MAX &&
        lda <= INT_MAX && ldb <= INT_MAX && ldc <= INT_MAX) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a,
                    (int)lda, b, (int)ldb, beta, c, (int)ldc);
        return;
    }
#endif
    nb_sgemm_ex_ref(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* SGEMM on compact row-major arrays (see kernels.h). */
void nb_sgemm(int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, const float *b, float beta, float *c)
{
    nb_sgemm_ex(0, trans_b, m, n, k, alpha, a, k, b, trans_b ? k : n, beta, c, n);
}

/* Set the OpenMP and BLAS thread counts (threads <= 0: no change). The
 * user's own OPENBLAS_NUM_THREADS (not one negbench set, thread_env.h)
 * gives the BLAS count instead. */
void nb_set_threads(int threads)
{
    if (threads <= 0) return;
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
#ifdef NB_HAVE_CBLAS
    const char *own = getenv("OPENBLAS_NUM_THREADS");
    int user = own && !thread_env_ours("OPENBLAS_NUM_THREADS") ? atoi(own) : 0;
    openblas_set_num_threads(user > 0 ? user : threads);
#endif
}

/* Set only the BLAS thread count; returns the previous one (1 without BLAS). */
int nb_blas_set_threads(int threads)
{
#ifdef NB_HAVE_CBLAS
    int prev = openblas_get_num_threads();
    if (threads > 0) openblas_set_num_threads(threads);
    return prev;
#else
    (void)threads;
    return 1;
#endif
}

const char *nb_blas_name(void)
{
#ifdef NB_HAVE_CBLAS
    return "openblas";
#else
    return "fallback";
#endif
}

const char *nb_blas_threading(void)
{
#ifdef NB_HAVE_CBLAS
    switch (openblas_get_parallel()) {
    case 1: return "pthreads";
    case 2: return "openmp";
    default: return "serial";
    }
#else
    return "serial";
#endif
}
