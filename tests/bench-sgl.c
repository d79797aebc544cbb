/*
 * bench-sgl.c - SGL step time on the real Gowalla training graph
 * (../shared/data/gowalla-lightgcn/train.txt) through the plugin's vtable
 * (sgl.c linked in, default parameters, ED views, d = 64, 3 layers, B =
 * 2048 random training pairs per step), next to what its floor is made
 * of: the host's SGEMM at the InfoNCE shapes, one SpMM on the main graph,
 * and the InfoNCE kernel alone (sgl_impl.h, random rows) against its FLOP
 * floor. Not a TAP test: prints one line per measurement, e.g.
 *   sgemm trans_b=1 m=40981 n=256 k=64 threads=2 median_ms=... gflops=...
 *   sgl step forward_ms=... backward_ms=... steps_per_epoch=... s_per_epoch=...
 *   infonce side=items n=40981 anchors=... median_ms=... floor_gflop=... gflops=...
 * s_per_epoch = steps_per_epoch x the median model step (no BPR, sampler or
 * Adam). A step's floor: floor_gflop of both sides / SGEMM GFLOP/s plus 18
 * SpMMs (3 + 6 forward and backward: main graph and two views).
 * Usage: bench-sgl [steps [train.txt]] (defaults 8 and $NB_DATA_DIR or
 * ../shared/data); NB_BENCH_THREADS (default 2).
 */
#include "benchdata.h"
#include "dataset.h"
#include "host.h"
#include "kernels.h"
#include "util.h"
#include "negbench/graph.h"
#include "negbench/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUF f32
#define REAL float
#include "../plugins/models/sgl_impl.h"
#undef SUF
#undef REAL

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index);

static double now_ms(void)
{
    return nb_now() * 1e3;
}

/* Median of v[n] (sorts v in place; n is small). */
static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j]; v[j] = v[j - 1]; v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median time of `reps` InfoNCE passes (one side: n rows, the distinct
 * anchors of list[B]) on random rows, against its floor 6 R n d FLOPs. */
static void bench_infonce(const nb_host *h, const char *side, int64_t n, const int32_t *list,
                          int32_t B, int32_t d, int reps)
{
    float *Z1 = malloc((size_t)(n * d) * sizeof(float)), *Z2 = malloc((size_t)(n * d) * sizeof(float));
    float *dZ1 = calloc((size_t)(n * d), sizeof(float)), *dZ2 = calloc((size_t)(n * d), sizeof(float));
    int32_t *cnt = calloc((size_t)n, sizeof *cnt), *ids = malloc((size_t)n * sizeof *ids);
    double *w = malloc((size_t)n * sizeof *w), ms[16];
    void *mem = h->alloc(sgl_scratch_bytes_f32(n, n, d, 256));
    nb_rng r;
    nb_rng_seed(&r, 7, 0, 0);
    for (int64_t q = 0; q < n * d; q++) Z1[q] = (float)(nb_rng_uniform(&r) - 0.5);
    for (int64_t q = 0; q < n * d; q++) Z2[q] = Z1[q] + 0.3f * (float)(nb_rng_uniform(&r) - 0.5);
    int64_t R = sgl_distinct(list, B, 0.05 / B, cnt, ids, w);
    sgl_scratch_f32 sc;
    sgl_scratch_carve_f32(&sc, mem, n, n, d, 256, 1024); /* sgl.c's SGL_ROWS, SGL_COLS */
    double loss = 0;
    if (reps > 16) reps = 16;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now_ms();
        loss = sgl_infonce_f32(h->sgemm, d, 0.5, n, Z1, Z2, ids, w, R, dZ1, dZ2, &sc);
        ms[rep] = now_ms() - t0;
    }
    double med = median(ms, reps);
    printf("infonce side=%s n=%lld anchors=%lld d=%d median_ms=%.1f floor_gflop=%.2f gflops=%.1f loss=%.6g\n",
           side, (long long)n, (long long)R, d, med, 6e-9 * (double)(R * n * d),
           6e-6 * (double)(R * n * d) / med, loss);
    h->free(mem);
    free(Z1); free(Z2); free(dZ1); free(dZ2); free(cnt); free(ids); free(w);
}

/* Median time of 5 host SGEMMs of the given shape, with its GFLOP/s. */
static void bench_sgemm(const nb_host *h, int trans_b, int64_t m, int64_t n, int64_t k)
{
    float *a = malloc((size_t)(m * k) * sizeof(float)), *b = malloc((size_t)(n * k) * sizeof(float));
    float *c = malloc((size_t)(m * n) * sizeof(float));
    for (int64_t q = 0; q < m * k; q++) a[q] = (float)(q % 7) * 0.1f;
    for (int64_t q = 0; q < n * k; q++) b[q] = (float)(q % 5) * 0.1f;
    memset(c, 0, (size_t)(m * n) * sizeof(float));
    double ms[5];
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ms();
        h->sgemm(trans_b, m, n, k, 1.0f, a, b, 1.0f, c);
        ms[rep] = now_ms() - t0;
    }
    double med = median(ms, 5);
    printf("sgemm trans_b=%d m=%lld n=%lld k=%lld threads=%d median_ms=%.2f gflops=%.1f\n", trans_b,
           (long long)m, (long long)n, (long long)k, h->threads, med, 2e-6 * (double)(m * n * k) / med);
    free(a); free(b); free(c);
}

int main(int argc, char **argv)
{
    int steps, threads;
    char path[4096];
    nb_dataset ds;
    nb_train tr;
    int got = bench_start(argc, argv, 8, &steps, &threads, path, &ds, &tr);
    if (got <= 0) return got < 0;
    nb_set_threads(threads);
    const nb_host *h = host_table(threads);
    char *err = NULL;
    const int32_t d = 64, B = 2048, RB = 256;
    printf("# %s: %d users, %d items, %lld pairs, d=%d, B=%d, threads=%d, blas=%s\n", path, tr.n_users,
           tr.n_items, (long long)tr.n_pairs, d, B, threads, nb_blas_name());

    /* SGEMM at the InfoNCE shapes (item side, a chunk of RB anchors) */
    bench_sgemm(h, 1, tr.n_items, RB, d);   /* scores S^T = C A^T */
    bench_sgemm(h, 0, tr.n_items, d, RB);   /* dC += P^T A */
    bench_sgemm(h, 0, d, RB, tr.n_items);   /* dA^T += C^T P^T */
    bench_sgemm(h, 1, B, tr.n_items, d);    /* all anchors at once */

    /* one SpMM on the main graph */
    nb_graph g = {0};
    if (graph_build(&tr, NULL, 1e-7, &g, &err) != NB_OK) { printf("# %s\n", err); return 1; }
    float *x = malloc((size_t)(g.n * d) * sizeof(float)), *y = malloc((size_t)(g.n * d) * sizeof(float));
    for (int64_t q = 0; q < g.n * d; q++) x[q] = (float)(q % 11) * 0.01f;
    double sp[5];
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ms();
        graph_spmm_f32(&g, NULL, x, d, NULL, 0, y, d, d);
        sp[rep] = now_ms() - t0;
    }
    printf("spmm nodes=%lld nnz=%lld d=%d median_ms=%.2f\n", (long long)g.n, (long long)g.nnz, d,
           median(sp, 5));

    /* SGL steps through the vtable */
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    nb_value vals[7] = {{.i = 3}, {.f = 0.5}, {.f = 0.05}, {.f = 0.1}, {.i = 0}, {.f = 1e-7}, {.i = 0}};
    void *st = NULL;
    if (vt->init(h, vals, &tr, d, 2020, &st, &err) != NB_OK) { printf("# init: %s\n", err); return 1; }
    int32_t *bu = malloc((size_t)B * sizeof *bu), *bp = malloc((size_t)B * sizeof *bp);
    int64_t *ufirst = ds.train.ptr;
    nb_rng r;
    nb_rng_seed(&r, 2020, 1, 0);
    double *fw = malloc((size_t)steps * sizeof *fw), *bw = malloc((size_t)steps * sizeof *bw);
    double loss = 0;
    for (int s = -1; s < steps; s++) { /* step -1 draws the views, untimed */
        for (int b = 0; b < B; b++) {
            int64_t p = (int64_t)(nb_rng_uniform(&r) * (double)tr.n_pairs);
            int32_t lo = 0, hi = tr.n_users; /* the pair's user: last u with ptr[u] <= p */
            while (hi - lo > 1) { int32_t mid = (lo + hi) / 2; if (ufirst[mid] <= p) lo = mid; else hi = mid; }
            bu[b] = lo;
            bp[b] = tr.user_items[p];
        }
        nb_batch batch = {.size = B, .users = bu, .pos = bp, .epoch = 0, .step = s + 1, .seed = 2020};
        const nb_view *v;
        double t0 = now_ms();
        if (vt->forward(st, NB_MODE_TRAIN, &batch, &v, &err) != NB_OK) { printf("# %s\n", err); return 1; }
        double t1 = now_ms();
        loss = v->aux_loss;
        vt->backward(st, &batch, &err);
        double t2 = now_ms();
        if (s >= 0) { fw[s] = t1 - t0; bw[s] = t2 - t1; }
    }
    int64_t spe = (tr.n_pairs + B - 1) / B;
    double mf = median(fw, steps), mb = median(bw, steps);
    printf("sgl step forward_ms=%.1f backward_ms=%.1f (medians of %d steps, aux_loss %.6g) "
           "steps_per_epoch=%lld s_per_epoch=%.1f\n",
           mf, mb, steps, loss, (long long)spe, (double)spe * (mf + mb) * 1e-3);
    vt->free(st);
    bench_infonce(h, "users", tr.n_users, bu, B, d, steps);
    bench_infonce(h, "items", tr.n_items, bp, B, d, steps);
    free(fw); free(bw); free(bu); free(bp); free(x); free(y);
    graph_free(&g);
    dataset_free(&ds);
    return 0;
}
