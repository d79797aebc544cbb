/*
 * bench-ngcf.c - one NGCF training step (forward + backward, ngcf_impl.h
 * in float, d = 64, 3 layers, message dropout 0.1) on the real Gowalla
 * training graph (../shared/data/gowalla-lightgcn/train.txt), with the
 * time spent in the host SGEMM split by shape: forward N x d x d, input
 * gradient N x d x d, weight gradient d x d x N (reduction over N). The view
 * gradient is random on the rows of B = 2048 random (user, item, item)
 * triples, as a BPR step leaves it. Not a TAP test: prints e.g.
 *   ngcf step fwd_ms=... bwd_ms=... gemm_fwd_ms=... gemm_dx_ms=... gemm_dw_ms=...
 * (medians over steps) and a hash of the gradients' bits. Usage: bench-ngcf [steps [train.txt]] (defaults 7
 * and $NB_DATA_DIR or ../shared/data); NB_BENCH_THREADS (default 2).
 */
#include "benchdata.h"
#include "dataset.h"
#include "host.h"
#include "kernels.h"
#include "util.h"
#include "negbench/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double gemm_ms[3]; /* forward, input gradient, weight gradient */

/* The host sgemm_ex, timed into gemm_ms by shape (ctx is the nb_host):
 * forward A Wc^T (trans_b), input gradient P Wc, weight gradient P^T A
 * (trans_a). */
static void bench_gemm(const void *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc)
{
    const nb_host *h = ctx;
    double t0 = nb_now();
    h->sgemm_ex(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    gemm_ms[trans_b ? 0 : trans_a ? 2 : 1] += (nb_now() - t0) * 1e3;
}

#define SUF f32
#define REAL float
#define NGCF_GEMM bench_gemm
#include "../plugins/models/ngcf_impl.h"
#undef NGCF_GEMM
#undef SUF
#undef REAL

/* Median of v[n] (sorts v in place; n is small). */
static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j]; v[j] = v[j - 1]; v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    int steps, threads;
    char path[4096];
    nb_dataset ds;
    nb_train tr;
    int got = bench_start(argc, argv, 7, &steps, &threads, path, &ds, &tr);
    if (got <= 0) return got < 0;
    if (steps > 64) steps = 64;
    nb_set_threads(threads);
    const nb_host *h = host_table(threads);
    char *err = NULL;
    nb_graph g = {0};
    if (graph_build(&tr, NULL, 1e-7, &g, &err) != NB_OK) { printf("# %s\n", err); return 1; }
    const int32_t d = 64, L = 3, B = 2048;
    int64_t N = g.n, nd = N * d, ld = (int64_t)(L + 1) * d;
    size_t fs = sizeof(float);
    ngcf_ws_f32 w;
    ngcf_ws_bind_f32(&w, N, d, L, h->alloc(ngcf_ws_bytes_f32(N, d, L)));
    float *E0 = h->alloc((size_t)nd * fs), *dE0 = h->alloc((size_t)nd * fs);
    float *W = h->alloc((size_t)(4 * L * d * d) * fs), *Gf = h->alloc((size_t)(N * ld) * fs);
    uint8_t *mask = h->alloc((size_t)(L * nd)), *rowmark = h->alloc((size_t)N);
    int32_t *rows = h->alloc((size_t)N * sizeof(int32_t));
    nb_rng r;
    nb_rng_seed(&r, 2020, 1, 0);
    for (int64_t q = 0; q < nd; q++) E0[q] = (float)(0.1 * (nb_rng_uniform(&r) - 0.5));
    for (int64_t q = 0; q < 4 * L * d * d; q++) W[q] = (float)(0.25 * (nb_rng_uniform(&r) - 0.5));
    for (int64_t q = 0; q < L * nd; q++) mask[q] = nb_rng_uniform(&r) < 0.9;
    float *W1 = W, *W2 = W + L * d * d, *dW1 = W + 2 * L * d * d, *dW2 = W + 3 * L * d * d;
    float *b1 = calloc((size_t)(4 * L * d), fs), *b2 = b1 + L * d, *db1 = b1 + 2 * L * d,
          *db2 = b1 + 3 * L * d;
    printf("# %s: N=%lld nnz=%lld d=%d L=%d B=%d threads=%d blas=%s\n", path, (long long)N,
           (long long)g.nnz, d, L, B, threads, nb_blas_name());
    double fw[64], bw[64], gm[3][64], chk = 0;
    for (int s = -1; s < steps; s++) { /* step -1 warms up, untimed */
        int64_t nr = 0;
        for (int b = 0; b < 3 * B; b++) {
            int64_t v = b < B ? (int64_t)(nb_rng_uniform(&r) * tr.n_users)
                              : tr.n_users + (int64_t)(nb_rng_uniform(&r) * tr.n_items);
            if (!rowmark[v]) { rowmark[v] = 1; rows[nr++] = (int32_t)v; }
            for (int64_t j = 0; j < ld; j++) Gf[v * ld + j] += (float)(nb_rng_uniform(&r) - 0.5);
        }
        memset(gemm_ms, 0, sizeof gemm_ms);
        double t0 = nb_now();
        ngcf_forward_f32(h, &w, &g, NULL, W1, b1, W2, b2, mask, 0.1, E0);
        double t1 = nb_now();
        ngcf_backward_f32(h, &w, &g, NULL, W1, W2, mask, 0.1, Gf, NULL, rows, nr, rowmark, dE0,
                          dW1, db1, dW2, db2);
        double t2 = nb_now();
        for (int64_t q = 0; q < nr; q++) {
            memset(Gf + (int64_t)rows[q] * ld, 0, (size_t)ld * fs);
            rowmark[rows[q]] = 0;
        }
        if (s < 0) continue;
        fw[s] = (t1 - t0) * 1e3;
        bw[s] = (t2 - t1) * 1e3;
        for (int c = 0; c < 3; c++) gm[c][s] = gemm_ms[c];
    }
    for (int64_t q = 0; q < 2 * L * d * d; q++) chk += fabs((double)dW1[q]);
    uint64_t hash = 1469598103934665603ull; /* FNV-1a of the bits of dE0, dW, db */
    const unsigned char *bytes[2] = {(const unsigned char *)dE0, (const unsigned char *)dW1};
    size_t nbytes[2] = {(size_t)nd * fs, (size_t)(2 * L * d * d) * fs};
    for (int a = 0; a < 2; a++)
        for (size_t q = 0; q < nbytes[a]; q++) hash = (hash ^ bytes[a][q]) * 1099511628211ull;
    for (int64_t q = 0; q < 2 * L * d; q++) hash = (hash ^ (uint64_t)(db1[q] * 1e6f)) * 1099511628211ull;
    double mf = median(fw, steps), mb = median(bw, steps);
    printf("ngcf step fwd_ms=%.1f bwd_ms=%.1f gemm_fwd_ms=%.1f gemm_dx_ms=%.1f gemm_dw_ms=%.1f "
           "(medians of %d) s_per_epoch_357=%.1f sum|dW|=%.6g bits=%016llx\n",
           mf, mb, median(gm[0], steps), median(gm[1], steps), median(gm[2], steps), steps,
           357 * (mf + mb) * 1e-3, chk, (unsigned long long)hash);
    graph_free(&g);
    dataset_free(&ds);
    return 0;
}
