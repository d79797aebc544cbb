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
#include "benchdata.h"
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

/* The paths of one LightGCN-3 step's propagation that bench-graph times. */
enum step_path { PATH_PLAIN, PATH_FUSED, PATH_TRAIN_DNS, PATH_TRAIN_RNS };
static const char *const step_path_name[] = {"plain", "fused", "train-dns", "train-rns"};

/* What a step reads and writes: tables [N][d] (layers [N][L+1][d], S
 * [2][N][d]) allocated by main; rows/mark: the nodes with a final-row
 * gradient (Gf nonzero there only). */
typedef struct step_bench {
    const nb_graph *g;
    int32_t L, d, B;
    const float *x;
    float *layers, *fin, *S, *H0, *H1, *Gf, *dE;
    int32_t *rows;
    uint8_t *mark;
    int64_t nr;
    const int32_t *negs;   /* [B] the negatives RNS syncs */
    const nb_batch *batch; /* users and positives of the TRAIN paths */
    lgcn_lazy *z;
} step_bench;

/* Put a small gradient on the final rows of nodes[0..3B) (users, positives,
 * negatives) and list them, distinct, in s->rows. */
static void step_mark_rows(step_bench *s, const int64_t *nodes)
{
    memset(s->mark, 0, (size_t)s->g->n);
    memset(s->Gf, 0, (size_t)(s->g->n * s->d) * sizeof(float));
    s->nr = 0;
    for (int32_t b = 0; b < 3 * s->B; b++) {
        int64_t node = nodes[b];
        if (!s->mark[node]) { s->mark[node] = 1; s->rows[s->nr++] = (int32_t)node; }
        s->Gf[node * s->d + b % s->d] += 1e-3f;
    }
}

/* One step's forward and backward along path; returns its milliseconds,
 * the forward's in *fw_ms. */
static double step_run(step_bench *s, int path, double *fw_ms)
{
    const nb_graph *g = s->g;
    const int32_t L = s->L, d = s->d;
    graph_spmm_set_isa(path == PATH_PLAIN ? 0 : -1);
    double a = now_ms();
    if (path == PATH_PLAIN || path == PATH_FUSED) {
        const int fused = path == PATH_FUSED;
        lgcn_forward_ex_f32(g, NULL, L, d, LGCN_MEAN, s->x, s->layers, s->fin,
                            fused ? s->H0 : NULL, fused ? s->H1 : NULL);
    } else if (path == PATH_TRAIN_DNS) {
        lgcn_forward_final_f32(g, NULL, L, d, LGCN_MEAN, s->x, s->S, s->fin);
    } else { /* as lgcn_view_forward, then the sampler's syncs */
        lgcn_lazy *z = s->z;
        lgcn_forward_layers_f32(g, NULL, L, d, s->x, s->S, z->src);
        z->o = lgcn_pool_opts_f32(L, LGCN_MEAN, z->src);
        z->stamp++;
        lgcn_lazy_fill_batch(z, s->batch);
#pragma omp parallel for schedule(static)
        for (int32_t b = 0; b < s->B; b++) lgcn_lazy_sync(z, NB_ITEMS, s->negs[b]);
    }
    *fw_ms = now_ms() - a;
    lgcn_backward_ex_f32(g, NULL, L, d, LGCN_MEAN, s->Gf, NULL, s->rows, s->nr,
                         path == PATH_PLAIN ? NULL : s->mark, s->H0, s->H1, s->dE);
    return now_ms() - a;
}

/* Time paths pa and pb alternately, 5 steps each, with 1 and 2 threads;
 * print the medians. */
static void step_time_pair(step_bench *s, int pa, int pb)
{
    static const int threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
#ifdef _OPENMP
        omp_set_num_threads(threads[ti]);
#endif
        double ms[2][5], fw[2][5];
        for (int rep = 0; rep < 5; rep++)
            for (int k = 0; k < 2; k++) ms[k][rep] = step_run(s, k ? pb : pa, &fw[k][rep]);
        for (int k = 0; k < 2; k++) {
            qsort(ms[k], 5, sizeof ms[0][0], bench_cmp_double);
            qsort(fw[k], 5, sizeof fw[0][0], bench_cmp_double);
            printf("lightgcn3 step=%s rows=%lld threads=%d median_ms=%.2f forward_median_ms=%.2f\n",
                   step_path_name[k ? pb : pa], (long long)s->nr, threads[ti], ms[k][2],
                   fw[k][2]);
        }
    }
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
            qsort(ms[isa], 9, sizeof ms[0][0], bench_cmp_double);
            printf("spmm nodes=%lld nnz=%lld d=64 isa=%d threads=%d median_ms=%.2f\n",
                   (long long)g.n, (long long)g.nnz, isa, threads[ti], ms[isa][4]);
        }
    }
    /* one LightGCN-3 step: forward, then backward from a batch of B users,
     * B positives and B negatives (about the rows a batch of 2048 touches) */
    int32_t L = 3, B = 2048;
    int64_t nd = g.n * d, ld = (int64_t)(L + 1) * d;
    int64_t *nodes = malloc((size_t)(3 * B) * sizeof *nodes);
    int32_t *bu = malloc((size_t)B * sizeof *bu), *bp = malloc((size_t)B * sizeof *bp);
    int32_t *negs = malloc((size_t)B * sizeof *negs);
    nb_batch batch = {.size = B, .users = bu, .pos = bp, .final_only = 1, .rows_on_demand = 1};
    lgcn_lazy z = {.g = &g, .d = d, .U = U, .L = L,
                   .state = calloc((size_t)g.n, sizeof(uint32_t)),
                   .list = malloc((size_t)g.n * sizeof(int32_t))};
    step_bench sb = {.g = &g, .L = L, .d = d, .B = B, .x = x, .negs = negs, .batch = &batch,
                     .z = &z, .layers = table_alloc(g.n * ld), .fin = table_alloc(nd),
                     .S = table_alloc(2 * nd), .H0 = table_alloc(nd), .H1 = table_alloc(nd),
                     .Gf = table_alloc(nd), .dE = table_alloc(nd),
                     .rows = malloc((size_t)g.n * sizeof(int32_t)), .mark = calloc((size_t)g.n, 1)};
    z.final = sb.fin;
    for (int32_t b = 0; b < 3 * B; b++)
        nodes[b] = b < B ? (int64_t)(nb_rng_u64(&r) % (uint64_t)U)
                         : U + (int64_t)(nb_rng_u64(&r) % (uint64_t)I);
    step_mark_rows(&sb, nodes);
    step_time_pair(&sb, PATH_PLAIN, PATH_FUSED);
    /* the TRAIN paths: B training pairs drawn as an epoch draws them */
    for (int32_t b = 0; b < B; b++) {
        int64_t e = (int64_t)(nb_rng_u64(&r) % (uint64_t)n), lo = 0, hi = U;
        while (hi - lo > 1) { /* the user whose row holds entry e */
            int64_t mid = (lo + hi) / 2;
            if (uptr[mid] <= e) lo = mid; else hi = mid;
        }
        bu[b] = (int32_t)lo;
        bp[b] = items[e];
        negs[b] = (int32_t)(nb_rng_u64(&r) % (uint64_t)I);
        nodes[b] = bu[b];
        nodes[B + b] = U + (int64_t)bp[b];
        nodes[2 * B + b] = U + (int64_t)negs[b];
    }
    step_mark_rows(&sb, nodes);
    step_time_pair(&sb, PATH_TRAIN_DNS, PATH_TRAIN_RNS);
    free(nodes); free(bu); free(bp); free(negs); free(z.state); free(z.list);
    free(sb.layers); free(sb.fin); free(sb.S); free(sb.H0); free(sb.H1); free(sb.Gf);
    free(sb.dE); free(sb.rows); free(sb.mark);
    free(x); free(y); free(items); free(uptr);
    graph_free(&g);
    return 0;
}
