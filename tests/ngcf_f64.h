/*
 * ngcf_f64.h - ngcf_impl.h instantiated in double with a naive GEMM, for the
 * NGCF tests (test-ngcf, test-graph-fused). Include after negbench/graph.h.
 */
#ifndef NB_TEST_NGCF_F64_H
#define NB_TEST_NGCF_F64_H

#include <stdint.h>
#include <string.h>

/* Naive C = op(A) op(B) + beta C in double (the NGCF_GEMM contract). */
static void gemm_f64(const void *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                     const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                     double *c, int64_t ldc)
{
    (void)ctx;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t q = 0; q < k; q++)
                s += (trans_a ? a[q * lda + i] : a[i * lda + q]) *
                     (trans_b ? b[j * ldb + q] : b[q * ldb + j]);
            c[i * ldc + j] = s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
        }
}

#define SUF f64
#define REAL double
#define NGCF_GEMM gemm_f64
#include "../plugins/models/ngcf_impl.h"
#undef NGCF_GEMM
#undef SUF
#undef REAL

#endif /* NB_TEST_NGCF_F64_H */
