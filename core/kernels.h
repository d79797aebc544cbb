/*
 * kernels.h - dense kernels: SGEMM through BLAS (OpenBLAS when configure
 * found it) with a portable blocked fallback, and small vector helpers.
 */
#ifndef NB_KERNELS_H
#define NB_KERNELS_H

#include <stdint.h>

/* C[m][n] = alpha * A[m][k] . op(B) + beta * C, row-major; op(B) = B^T with
 * B stored [n][k] when trans_b, else B stored [k][n]. */
void nb_sgemm(int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, const float *b, float beta, float *c);

/* The portable fallback, always compiled (tests compare it with BLAS). */
void nb_sgemm_ref(int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, const float *b, float beta, float *c);

/* C[m][ldc] = alpha * op(A) . op(B) + beta * C, row-major with leading
 * dimensions: op(A) = A^T with A stored [k][lda] when trans_a, else A
 * stored [m][lda]; op(B) = B^T with B stored [n][ldb] when trans_b, else B
 * stored [k][ldb]. beta == 0 writes C without reading it. */
void nb_sgemm_ex(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                 float *c, int64_t ldc);

/* The portable fallback of nb_sgemm_ex, always compiled. */
void nb_sgemm_ex_ref(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc);

/* Set the thread count of BLAS and OpenMP. */
void nb_set_threads(int threads);

/* Set only the BLAS thread count (threads <= 0: unchanged) and return the
 * previous one (1 for the fallback); eval uses it to run one single-threaded
 * BLAS call per OpenMP thread and then restore the count. */
int nb_blas_set_threads(int threads);

/* "openblas" or "fallback". */
const char *nb_blas_name(void);

/* How the BLAS in use runs its threads, read from the library loaded at
 * run time: "openmp" (libgomp's pool, shared with the OpenMP loops),
 * "pthreads" (a pool of its own) or "serial" (also the fallback kernel). */
const char *nb_blas_threading(void);

static inline float nb_dot(const float *a, const float *b, int32_t d)
{
    float s = 0.0f;
    for (int32_t k = 0; k < d; k++) s += a[k] * b[k];
    return s;
}

#endif /* NB_KERNELS_H */
