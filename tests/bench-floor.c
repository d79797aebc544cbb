/*
 * bench-floor.c - the per-epoch floors of the graph benchmark cases
 * (experiments/bench/run.sh): what this machine's memory bandwidth and
 * SGEMM throughput allow for the propagations of one epoch, computed from
 * the dataset's shape. Not a TAP test.
 *
 * Usage: bench-floor [THREADS]   (default 2; data: $NB_DATA_DIR or
 * ../shared/data, Gowalla train.txt with valid_share 0.1, as run.sh)
 *
 * Measured on this machine, THREADS OpenMP/BLAS threads, 7 repeats each:
 *   copy / triad: STREAM-style a = b and a = b + s c over 128 MiB float
 *     arrays (bytes counted as STREAM does: 2 and 3 arrays, no
 *     write-allocate);
 *   sgemm: nb_sgemm (OpenBLAS when configured) at the dense shapes of the
 *     cases: 2048 x (U+I) x 64 (SGL's InfoNCE) and (U+I) x 64 x 64 (NGCF).
 * Model (one epoch = ceil(pairs / 2048) steps, d = 64, L = 3, N = U + I,
 * nnz = 2 x training pairs):
 *   SpMM bytes (compulsory, perfect cache for x): row pointers 8(N+1) +
 *     columns 4 nnz + values 4 nnz + x read once 4Nd + y written once 4Nd.
 *     A product whose input lives on the batch rows only (the first one of
 *     every backward pass) reads 4 R d of x, R = 3 x 2048 rows.
 *     For reference the cache-free gather model reads 4 nnz d for x.
 *   LightGCN-L: L products forward, L backward (the first sparse-input).
 *   + RNS: the last forward product on demand (final rows on demand): only
 *     the rows a step reads (the batch's users, positives and negatives,
 *     sampled as an epoch draws them): their entries 8 B each, their
 *     distinct neighbours' x rows, L pooled rows read and the final row
 *     written per row; its gathers count against the ceiling as a full
 *     product's do. SGL-L + RNS: the same on its main graph.
 *   + DNS(M): the scored candidates' final rows, 4 B M d bytes per step.
 *   + MixGCF(M): the candidates' layer rows, 4 B M (L+1) d bytes per step.
 *   NGCF-L: the same 2L products + 6L GEMMs of N x d x d (2 per layer
 *     forward, 4 backward) at the measured SGEMM rate.
 *   SGL-L: 2L products on the main graph and on each of the two views
 *     (edge dropout 0.1: 0.9 nnz), + InfoNCE: 3 GEMMs (scores, both
 *     gradients) of B x (U+I) x d at the measured SGEMM rate.
 *   Gather ceiling: every stored entry of a full product loads one d-wide
 *     row of x, so a product also takes at least nnz / G seconds, where G
 *     is this machine's peak rate of such row gathers: measured with the
 *     same SpMM kernel on the same row structure, but with every column
 *     drawn from the first 256 rows (a 64 KiB table that stays in L1/L2),
 *     i.e. with no memory stall at all. A full product's floor is the
 *     larger of its compulsory bytes / triad bandwidth and nnz / G (a
 *     roofline with the gather rate as the compute roof); products with a
 *     sparse input count their bytes only.
 * floor seconds = products' floors + FLOPs / SGEMM rate, all from the best
 * of the repeats: a floor is a lower bound, and on a machine shared with
 * other jobs the medians swing 2-3x between runs (they are printed too).
 * The bytes-only floor (no gather ceiling) is printed as a comment, and so is
 * the product with its columns drawn uniformly over all N rows (what the
 * graph's locality saves; not a floor). The dense
 * Adam update, the pooling and copies, and the samplers' own work beyond
 * the gathers above are not counted: the floor is the propagation's.
 * Output: "# ..." lines describing the machine, then one line per case
 *   floor CASE SECONDS
 */
#include "dataset.h"
#include "kernels.h"
#include "negbench/graph.h"
#include "benchdata.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { REPS = 7, D = 64, B = 2048, L = 3 };

/* Sorts v; returns the median (and the minimum in *best). */
static double median(double *v, int n, double *best)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    if (best) *best = v[0];
    return v[n / 2];
}

/* STREAM copy and triad bandwidth in GB/s (1e9 bytes): median, and the
 * best repeat in *triad_best. */
static void stream_bw(double *copy_gbs, double *triad_gbs, double *triad_best)
{
    const int64_t n = (int64_t)32 << 20; /* 128 MiB per array */
    float *a = nb_aligned_zalloc((size_t)n * sizeof(float));
    float *b = nb_aligned_zalloc((size_t)n * sizeof(float));
    float *c = nb_aligned_zalloc((size_t)n * sizeof(float));
    double tc[REPS], tt[REPS];
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) { a[i] = 1.0f; b[i] = 2.0f; c[i] = 0.5f; }
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = nb_now();
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) a[i] = b[i];
        double t1 = nb_now();
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) a[i] = b[i] + 3.0f * c[i];
        double t2 = nb_now();
        tc[rep] = t1 - t0;
        tt[rep] = t2 - t1;
    }
    double tmin;
    *copy_gbs = 2.0 * (double)n * sizeof(float) / median(tc, REPS, NULL) / 1e9;
    *triad_gbs = 3.0 * (double)n * sizeof(float) / median(tt, REPS, &tmin) / 1e9;
    *triad_best = 3.0 * (double)n * sizeof(float) / tmin / 1e9;
    free(a); free(b); free(c);
}

/* GFLOP/s of C[m][n] = A[m][k] B[n][k]^T (trans_b) or A B[k][n]: median,
 * and the best repeat in *best. */
static double sgemm_rate(int trans_b, int64_t m, int64_t n, int64_t k, double *best)
{
    float *a = nb_aligned_zalloc((size_t)(m * k) * sizeof(float));
    float *b = nb_aligned_zalloc((size_t)(n * k) * sizeof(float));
    float *c = nb_aligned_zalloc((size_t)(m * n) * sizeof(float));
    for (int64_t i = 0; i < m * k; i++) a[i] = (float)(i % 7) * 0.1f;
    for (int64_t i = 0; i < n * k; i++) b[i] = (float)(i % 5) * 0.1f;
    double t[REPS];
    nb_sgemm(trans_b, m, n, k, 1.0f, a, b, 0.0f, c); /* warm up */
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = nb_now();
        nb_sgemm(trans_b, m, n, k, 1.0f, a, b, 0.0f, c);
        t[rep] = nb_now() - t0;
    }
    free(a); free(b); free(c);
    double flops = 2.0 * (double)m * (double)n * (double)k, tmin, med = median(t, REPS, &tmin);
    *best = flops / tmin / 1e9;
    return flops / med / 1e9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1) threads = 1;
    nb_set_threads(threads);
    const char *dd = getenv("NB_DATA_DIR");
    char train[4096], test[4096];
    snprintf(train, sizeof train, "%s/gowalla-lightgcn/train.txt", dd ? dd : "../shared/data");
    snprintf(test, sizeof test, "%s/gowalla-lightgcn/test.txt", dd ? dd : "../shared/data");
    nb_data_spec spec;
    data_spec_defaults(&spec);
    spec.synthetic = 0;
    spec.train_path = strdup(train);
    spec.test_path = strdup(test);
    spec.valid_share = 0.1;
    nb_dataset ds;
    char *err = NULL;
    memset(&ds, 0, sizeof ds);
    if (dataset_load(&spec, &ds, &err) != NB_OK) {
        printf("# skip: %s\n", err ? err : "dataset not loaded");
        free(err);
        data_spec_free(&spec);
        return 0;
    }
    nb_train t = {ds.n_users, ds.n_items, ds.train.nnz, ds.train.ptr, ds.train.idx,
                  ds.train_by_item.ptr, ds.train_by_item.idx};
    nb_graph g = {0};
    if (graph_build(&t, NULL, 1e-7, &g, &err) != NB_OK) {
        printf("# graph_build: %s\n", err ? err : "failed");
        return 1;
    }
    const double N = (double)g.n, nnz = (double)g.nnz, U = ds.n_users, I = ds.n_items;
    const double steps = ceil((double)t.n_pairs / B), R = fmin(3.0 * B, N);

    double copy_gbs, triad_gbs, triad_best, sgl_best, ngcf_best;
    stream_bw(&copy_gbs, &triad_gbs, &triad_best);
    double gf_sgl = sgemm_rate(1, B, (int64_t)(U + I), D, &sgl_best);
    double gf_ngcf = sgemm_rate(1, (int64_t)N, D, D, &ngcf_best);

    /* one measured SpMM, for the achieved-bandwidth line */
    float *x = nb_aligned_zalloc((size_t)(g.n * D) * sizeof(float));
    float *y = nb_aligned_zalloc((size_t)(g.n * D) * sizeof(float));
    for (int64_t i = 0; i < g.n * D; i++) x[i] = (float)(i % 13) * 0.01f;
    double ts[REPS];
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = nb_now();
        graph_spmm_f32(&g, NULL, x, D, NULL, 0, y, D, D);
        ts[rep] = nb_now() - t0;
    }
    double spmm_s = median(ts, REPS, NULL);
    /* the gather ceiling: the same rows, columns within a cache-resident table */
    nb_graph synth = g; /* the real rows, synthetic columns */
    synth.col = malloc((size_t)g.nnz * sizeof *synth.col);
    if (!synth.col) { printf("# out of memory\n"); return 1; }
    nb_rng r;
    nb_rng_seed(&r, 2020, 7, 0);
    for (int64_t e = 0; e < g.nnz; e++) synth.col[e] = (int32_t)nb_rng_below(&r, 256);
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = nb_now();
        graph_spmm_f32(&synth, NULL, x, D, NULL, 0, y, D, D);
        ts[rep] = nb_now() - t0;
    }
    double small_best, small_med = median(ts, REPS, &small_best);
    /* the same rows with columns uniform over all N rows: how much of the
     * real product's time the graph's own locality saves (not a floor) */
    for (int64_t e = 0; e < g.nnz; e++) synth.col[e] = (int32_t)nb_rng_below(&r, (uint32_t)g.n);
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = nb_now();
        graph_spmm_f32(&synth, NULL, x, D, NULL, 0, y, D, D);
        ts[rep] = nb_now() - t0;
    }
    double uni_med = median(ts, REPS, NULL);
    free(synth.col);
    const double gather_rate = nnz / small_best; /* row gathers per second */

    /* The last forward product on demand (RNS: the batch's users,
     * positives and negatives; batches drawn as an epoch's are, 32 of them):
     * its mean distinct rows, entries and distinct neighbours per step. */
    double od_rows = 0, od_nnz = 0, od_nbrs = 0;
    {
        enum { NB_SAMPLE = 32 };
        uint8_t *in_set = calloc((size_t)g.n, 1), *is_nbr = calloc((size_t)g.n, 1);
        int32_t *set = malloc((size_t)g.n * sizeof *set), *nbrs = malloc((size_t)g.n * sizeof *nbrs);
        if (!in_set || !is_nbr || !set || !nbrs) { printf("# out of memory\n"); return 1; }
        for (int s = 0; s < NB_SAMPLE; s++) {
            int64_t ns = 0, nn = 0;
            for (int b = 0; b < B; b++) {
                int64_t p = (int64_t)nb_rng_below(&r, (uint32_t)t.n_pairs), u = 0;
                int64_t lo = 0, hi = t.n_users; /* the pair's user: upper bound in user_ptr */
                while (hi - lo > 1) {
                    int64_t mid = (lo + hi) / 2;
                    if (t.user_ptr[mid] <= p) lo = mid; else hi = mid;
                }
                u = lo;
                int64_t rows3[3] = {u, t.n_users + t.user_items[p],
                                    t.n_users + (int64_t)nb_rng_below(&r, (uint32_t)t.n_items)};
                for (int k = 0; k < 3; k++)
                    if (!in_set[rows3[k]]) { in_set[rows3[k]] = 1; set[ns++] = (int32_t)rows3[k]; }
            }
            for (int64_t q = 0; q < ns; q++) {
                od_nnz += (double)(g.ptr[set[q] + 1] - g.ptr[set[q]]);
                for (int64_t e = g.ptr[set[q]]; e < g.ptr[set[q] + 1]; e++)
                    if (!is_nbr[g.col[e]]) { is_nbr[g.col[e]] = 1; nbrs[nn++] = g.col[e]; }
            }
            od_rows += (double)ns;
            od_nbrs += (double)nn;
            for (int64_t q = 0; q < ns; q++) in_set[set[q]] = 0;
            for (int64_t q = 0; q < nn; q++) is_nbr[nbrs[q]] = 0;
        }
        od_rows /= NB_SAMPLE; od_nnz /= NB_SAMPLE; od_nbrs /= NB_SAMPLE;
        free(in_set); free(is_nbr); free(set); free(nbrs);
    }

    const double csr = 8.0 * (N + 1) + 8.0 * nnz;
    const double full = csr + 8.0 * N * D;                 /* x read + y written */
    const double sparse_in = csr + 4.0 * R * D + 4.0 * N * D;
    const double gather = csr + 4.0 * nnz * D + 4.0 * N * D;
    const double bw = triad_best * 1e9;
    /* LightGCN-L per step: 2L - 1 full products + 1 with a sparse input */
    const double lgcn_bytes = (2.0 * L - 1) * full + sparse_in;
    const double lgcn_s = (2.0 * L - 1) * fmax(full / bw, nnz / gather_rate) + sparse_in / bw;
    /* on demand: L - 1 full products forward, then the rows' entries, their
     * distinct neighbours' x rows, their L pooled rows read and final row
     * written (RNS, and SGL + RNS on its main graph) */
    const double od_bytes = 8.0 * od_nnz + 4.0 * od_nbrs * D + 4.0 * (L + 1) * od_rows * D;
    const double od_s = (2.0 * L - 2) * fmax(full / bw, nnz / gather_rate) + sparse_in / bw +
                        fmax(od_bytes / bw, od_nnz / gather_rate);
    const double od_total_bytes = (2.0 * L - 2) * full + sparse_in + od_bytes;
    const double vnnz = 2.0 * floor((double)t.n_pairs * 0.9);
    const double vcsr = 8.0 * (N + 1) + 8.0 * vnnz;
    const double view_bytes = (2.0 * L - 1) * (vcsr + 8.0 * N * D) + vcsr + 4.0 * R * D + 4.0 * N * D;
    const double view_s = (2.0 * L - 1) * fmax((vcsr + 8.0 * N * D) / bw, vnnz / gather_rate) +
                          (vcsr + 4.0 * R * D + 4.0 * N * D) / bw;
    const double ngcf_flops = 6.0 * L * 2.0 * N * D * D;
    const double sgl_flops = 3.0 * 2.0 * B * (U + I) * D;

    printf("# floor model: %d threads, N = %.0f nodes, nnz = %.0f, %.0f steps of %d, d = %d, L = %d\n",
           threads, N, nnz, steps, B, D, L);
    printf("# memory: copy %.1f GB/s, triad %.1f GB/s (best repeat %.1f; STREAM-style, "
           "3 x 128 MiB, medians)\n", copy_gbs, triad_gbs, triad_best);
    printf("# sgemm: %.1f GFLOP/s at %d x %.0f x %d (best %.1f), %.1f GFLOP/s at %.0f x %d x %d "
           "(best %.1f)\n", gf_sgl, B, U + I, D, sgl_best, gf_ngcf, N, D, D, ngcf_best);
    printf("# one SpMM: %.1f MB compulsory (%.1f ms at the best triad), %.1f MB cache-free gather "
           "(%.1f ms), measured %.1f ms\n",
           full / 1e6, full / bw * 1e3, gather / 1e6, gather / bw * 1e3, spmm_s * 1e3);
    printf("# gather ceiling: the SpMM from a 256-row table %.1f ms (median %.1f): %.0f M row "
           "gathers/s, so a full product takes at least %.1f ms\n",
           small_best * 1e3, small_med * 1e3, gather_rate / 1e6, nnz / gather_rate * 1e3);
    printf("# the same product with columns drawn uniformly over all %.0f rows: %.1f ms "
           "(median), against %.1f ms with the real columns (the graph's locality)\n", N,
           uni_med * 1e3, spmm_s * 1e3);
    printf("# RNS's last forward product on demand: %.0f distinct rows, %.0f entries (%.1f%% of "
           "nnz), %.0f distinct neighbours per step\n", od_rows, od_nnz, 100.0 * od_nnz / nnz,
           od_nbrs);
    const double ngcf_dense = steps * ngcf_flops / (ngcf_best * 1e9);
    const double sgl_dense = steps * sgl_flops / (sgl_best * 1e9);
    const double mv_dns = steps * 4.0 * B * 32 * D / bw, mv_mix = steps * 4.0 * B * 32 * (L + 1) * D / bw;
    printf("# bytes-only floors (no gather ceiling): lightgcn3 %.2f (rns, on demand %.2f), "
           "+dns32 %.2f, +mixgcf32 %.2f, ngcf3 %.2f, sgl3 %.2f s/epoch\n",
           steps * lgcn_bytes / bw, steps * od_total_bytes / bw, steps * lgcn_bytes / bw + mv_dns,
           steps * lgcn_bytes / bw + mv_mix, steps * lgcn_bytes / bw + ngcf_dense,
           steps * (od_total_bytes + 2.0 * view_bytes) / bw + sgl_dense);
    double lgcn = steps * lgcn_s;
    printf("# with the whole last forward product (as before on-demand rows): lightgcn3-rns %.2f, "
           "sgl3-rns %.2f s/epoch\n", lgcn, steps * (lgcn_s + 2.0 * view_s) + sgl_dense);
    printf("floor gowalla-lightgcn3-rns %.2f\n", steps * od_s);
    printf("floor gowalla-lightgcn3-dns32 %.2f\n", lgcn + mv_dns);
    printf("floor gowalla-lightgcn3-mixgcf32 %.2f\n", lgcn + mv_mix);
    printf("floor gowalla-ngcf3-rns %.2f\n", lgcn + ngcf_dense);
    printf("floor gowalla-sgl3-rns %.2f\n", steps * (od_s + 2.0 * view_s) + sgl_dense);
    free(x); free(y);
    graph_free(&g);
    dataset_free(&ds);
    data_spec_free(&spec);
    return 0;
}
