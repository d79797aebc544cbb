/*
 * bench-graph.c - SpMM timing on the real Gowalla training graph
 * (../shared/data/gowalla-lightgcn/train.txt, LightGCN line format
 * "user item item ...") and the propagation of one LightGCN-3 step (forward
 * and backward, no Adam, loss or sampling), run alternately:
 *   plain:     the baseline SpMM kernel gathering from the layer stack,
 *              dense backward (the code before the fused paths);
 *   fused:     the stack path the plugin runs for EVAL forwards and for
 *              samplers that read layers (contiguous gathers, masked first
 *              backward product, the best instruction set);
 *   train-dns: the plugin's TRAIN path when the sampler reads final rows
 *              only (DNS): no stack, the last product pools in its tail;
 *   train-rns: the same with final rows on demand (RNS, PNS): L - 1
 *              products, the batch's users' and positives' rows, then B
 *              uniform negatives' rows one at a time as a sampler syncs
 *              them; the backward is the Horner path with its mask.
 * plain and fused take a batch of B uniform users, positives and
 * negatives; the train paths draw B training pairs as an epoch does (the
 * users and items of positives are degree-biased) and B uniform negatives.
 * Not a TAP test: prints one line per measurement,
 *   spmm nodes=... nnz=... d=64 isa=0|1|2 threads=2 median_ms=...
 *   lightgcn3 step=plain|fused|train-dns|train-rns rows=... threads=2
 *     median_ms=... forward_median_ms=...
 * Usage: bench-graph [train.txt] (default: $NB_DATA_DIR or ../shared/data).
 */
#include "negbench/graph.h"
#include "util.h"


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define SUF f32
#define REAL float
#include "../plugins/models/lightgcn_impl.h"
#undef SUF
#undef REAL
#include "../plugins/models/lgcn_view.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* n zeroed floats allocated as the plugin's tables are (nb_aligned_zalloc:
 * 64-byte rows start on a line, so a 256-byte row spans four cache lines,
 * not five; large tables on huge pages). */
static float *table_alloc(int64_t n)
{
    return nb_aligned_zalloc((size_t)n * sizeof(float));
}

static int cmp_i(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    char path[4096];
    const char *dd = getenv("NB_DATA_DIR");
    if (argc > 1) snprintf(path, sizeof path, "%s", argv[1]);
    else snprintf(path, sizeof path, "%s/gowalla-lightgcn/train.txt", dd ? dd : "../shared/data");
    FILE *f = fopen(path, "r");
    if (!f) { printf("# skip: %s not found\n", path); return 0; }
    int64_t cap = 1 << 20, n = 0, ucap = 1 << 16;
    int32_t *items = malloc((size_t)cap * sizeof *items);
    int64_t *uptr = calloc((size_t)ucap + 1, sizeof *uptr);
    int32_t U = 0, I = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        char *p = line, *e;
        long u = strtol(p, &e, 10);
        if (e == p) continue;
        p = e;
        while (u >= U) { if (U + 1 >= ucap) break; uptr[U + 1] = n; U++; }
        int64_t start = n;
        for (;;) {
            long it = strtol(p, &e, 10);
            if (e == p) break;
            p = e;
            if (n == cap) { cap *= 2; items = realloc(items, (size_t)cap * sizeof *items); }
            items[n++] = (int32_t)it;
            if (it + 1 > I) I = (int32_t)it + 1;
        }
        qsort(items + start, (size_t)(n - start), sizeof *items, cmp_i);
        int64_t w = start;
        for (int64_t k = start; k < n; k++)
            if (k == start || items[k] != items[k - 1]) items[w++] = items[k];
        n = w;
        uptr[u + 1] = n;
    }
    fclose(f);
    free(line);
    nb_train t = {U, I, n, uptr, items, NULL, NULL};
    nb_graph g = {0};
    char *err = NULL;
    if (graph_build(&t, NULL, 1e-7, &g, &err) != NB_OK) { printf("# %s\n", err); return 1; }
    int32_t d = 64;
    float *x = table_alloc(g.n * d), *y = table_alloc(g.n * d);
    nb_rng r;
    nb_rng_seed(&r, 1, 2, 3);
    for (int64_t k = 0; k < g.n * d; k++) x[k] = (float)(nb_rng_uniform(&r) - 0.5);
    int threads[2] = {1, 2}, best = graph_spmm_set_isa(-1);
    for (int ti = 0; ti < 2; ti++) {
#ifdef _OPENMP
        omp_set_num_threads(threads[ti]);
#endif
        double ms[3][9];
        for (int rep = 0; rep < 9; rep++)
            for (int isa = 0; isa <= best; isa++) {
                graph_spmm_set_isa(isa);
                double a = now_ms();
                graph_spmm_f32(&g, NULL, x, d, NULL, 0, y, d, d);
                ms[isa][rep] = now_ms() - a;
            }
        for (int isa = 0; isa <= best; isa++) {
            qsort(ms[isa], 9, sizeof ms[0][0], cmp_d);
            printf("spmm nodes=%lld nnz=%lld d=64 isa=%d threads=%d median_ms=%.2f\n",
                   (long long)g.n, (long long)g.nnz, isa, threads[ti], ms[isa][4]);
        }
    }
    /* one LightGCN-3 step: forward, then backward from a batch of B users,
     * B positives and B negatives (about the rows a batch of 2048 touches) */
    int32_t L = 3, B = 2048;
    int64_t nd = g.n * d, ld = (int64_t)(L + 1) * d;
    float *layers = table_alloc(g.n * ld), *fin = table_alloc(nd);
    float *H0 = table_alloc(nd), *H1 = table_alloc(nd);
    float *Gf = table_alloc(nd), *dE = table_alloc(nd);
    int32_t *rows = malloc((size_t)g.n * sizeof *rows);
    uint8_t *mark = calloc((size_t)g.n, 1);
    int64_t nr = 0;
    for (int32_t b = 0; b < 3 * B; b++) {
        int64_t node = b < B ? (int64_t)(nb_rng_u64(&r) % (uint64_t)U)
                             : U + (int64_t)(nb_rng_u64(&r) % (uint64_t)I);
        if (!mark[node]) { mark[node] = 1; rows[nr++] = (int32_t)node; }
        Gf[node * d + b % d] += 1e-3f;
    }
    for (int ti = 0; ti < 2; ti++) {
#ifdef _OPENMP
        omp_set_num_threads(threads[ti]);
#endif
        double ms[2][5], fw[2][5];
        for (int rep = 0; rep < 5; rep++)
            for (int fused = 0; fused < 2; fused++) {
                graph_spmm_set_isa(fused ? -1 : 0);
                double a = now_ms();
                lgcn_forward_ex_f32(&g, NULL, L, d, LGCN_MEAN, x, layers, fin, fused ? H0 : NULL,
                                    fused ? H1 : NULL);
                fw[fused][rep] = now_ms() - a;
                lgcn_backward_ex_f32(&g, NULL, L, d, LGCN_MEAN, Gf, NULL, rows, nr,
                                     fused ? mark : NULL, H0, H1, dE);
                ms[fused][rep] = now_ms() - a;
            }
        for (int fused = 0; fused < 2; fused++) {
            qsort(ms[fused], 5, sizeof ms[0][0], cmp_d);
            qsort(fw[fused], 5, sizeof fw[0][0], cmp_d);
            printf("lightgcn3 step=%s rows=%lld threads=%d median_ms=%.2f forward_median_ms=%.2f\n",
                   fused ? "fused" : "plain", (long long)nr, threads[ti], ms[fused][2],
                   fw[fused][2]);
        }
    }
    /* the TRAIN paths: B training pairs drawn as an epoch draws them */
    int32_t *bu = malloc((size_t)B * sizeof *bu), *bp = malloc((size_t)B * sizeof *bp);
    int32_t *negs = malloc((size_t)B * sizeof *negs);
    float *S = table_alloc(2 * nd); /* E^1, E^2 */
    lgcn_lazy z = {.state = calloc((size_t)g.n, sizeof(uint32_t)),
                   .list = malloc((size_t)g.n * sizeof(int32_t))};
    for (int32_t b = 0; b < B; b++) {
        int64_t e = (int64_t)(nb_rng_u64(&r) % (uint64_t)n), lo = 0, hi = U;
        while (hi - lo > 1) { /* the user whose row holds entry e */
            int64_t mid = (lo + hi) / 2;
            if (uptr[mid] <= e) lo = mid; else hi = mid;
        }
        bu[b] = (int32_t)lo;
        bp[b] = items[e];
        negs[b] = (int32_t)(nb_rng_u64(&r) % (uint64_t)I);
    }
    nb_batch batch = {.size = B, .users = bu, .pos = bp, .final_only = 1, .rows_on_demand = 1};
    memset(mark, 0, (size_t)g.n);
    memset(Gf, 0, (size_t)nd * sizeof(float));
    nr = 0;
    for (int32_t b = 0; b < 3 * B; b++) { /* the rows BPR writes a gradient to */
        int64_t node = b < B ? bu[b] : U + (int64_t)(b < 2 * B ? bp[b - B] : negs[b - 2 * B]);
        if (!mark[node]) { mark[node] = 1; rows[nr++] = (int32_t)node; }
        Gf[node * d + b % d] += 1e-3f;
    }
    for (int ti = 0; ti < 2; ti++) {
#ifdef _OPENMP
        omp_set_num_threads(threads[ti]);
#endif
        graph_spmm_set_isa(-1);
        double ms[2][5], fw[2][5];
        for (int rep = 0; rep < 5; rep++)
            for (int on_demand = 0; on_demand < 2; on_demand++) {
                double a = now_ms();
                if (on_demand) {
                    lgcn_forward_layers_f32(&g, NULL, L, d, x, S, z.src);
                    z.g = &g;
                    z.d = d;
                    z.U = U;
                    z.L = L;
                    z.o = lgcn_pool_opts_f32(L, LGCN_MEAN, z.src);
                    z.final = fin;
                    z.stamp++;
                    lgcn_lazy_fill_batch(&z, &batch);
#pragma omp parallel for schedule(static)
                    for (int32_t b = 0; b < B; b++) lgcn_lazy_sync(&z, NB_ITEMS, negs[b]);
                } else {
                    lgcn_forward_final_f32(&g, NULL, L, d, LGCN_MEAN, x, S, fin);
                }
                fw[on_demand][rep] = now_ms() - a;
                lgcn_backward_ex_f32(&g, NULL, L, d, LGCN_MEAN, Gf, NULL, rows, nr, mark, H0, H1,
                                     dE);
                ms[on_demand][rep] = now_ms() - a;
            }
        for (int on_demand = 0; on_demand < 2; on_demand++) {
            qsort(ms[on_demand], 5, sizeof ms[0][0], cmp_d);
            qsort(fw[on_demand], 5, sizeof fw[0][0], cmp_d);
            printf("lightgcn3 step=%s rows=%lld threads=%d median_ms=%.2f forward_median_ms=%.2f\n",
                   on_demand ? "train-rns" : "train-dns", (long long)nr, threads[ti],
                   ms[on_demand][2], fw[on_demand][2]);
        }
    }
    free(bu); free(bp); free(negs); free(S); free(z.state); free(z.list);
    free(layers); free(fin); free(H0); free(H1); free(Gf); free(dE); free(rows); free(mark);
    free(x); free(y); free(items); free(uptr);
    graph_free(&g);
    return 0;
}
