/*
 * bench-eval.c - wall time of eval_full_ranking on Gowalla-sized random data
 * (29,858 users x 40,981 items, d = 64, K = 20, ~25 masked training items and
 * ~7 ground-truth items per user). Not a TAP test: `make bench` runs it and
 * it prints one line with the median of 3 runs.
 *
 * Usage: bench-eval [threads [block_users [user_scale]]]   (defaults 2, 0, 1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval.h"
#include "kernels.h"
#include "negbench/plugin.h"
#include "benchdata.h"
#include "util.h"

#define N_USERS 29858
#define N_ITEMS 40981
#define DIM 64
#define RUNS 3

/* Random rows for mask (15..35 items) and truth (3..11 items), disjoint and
 * ascending per user. */
static void make_rows(nb_rng *r, int32_t n_users, nb_csr *mask, nb_csr *truth)
{
    mask->n_rows = truth->n_rows = n_users;
    mask->ptr = nb_xcalloc((size_t)n_users + 1, sizeof(int64_t));
    truth->ptr = nb_xcalloc((size_t)n_users + 1, sizeof(int64_t));
    mask->idx = nb_xmalloc((size_t)n_users * 35 * sizeof(int32_t));
    truth->idx = nb_xmalloc((size_t)n_users * 11 * sizeof(int32_t));
    int32_t pick[46];
    for (int32_t u = 0; u < n_users; u++) {
        int nm = 15 + (int)nb_rng_below(r, 21), nt = 3 + (int)nb_rng_below(r, 9);
        int n = 0;
        while (n < nm + nt) {
            int32_t i = (int32_t)nb_rng_below(r, N_ITEMS), dup = 0;
            for (int q = 0; q < n; q++) dup |= pick[q] == i;
            if (!dup) pick[n++] = i;
        }
        /* first nm picks are masked, the rest are truth; sort each part */
        for (int part = 0; part < 2; part++) {
            int32_t *a = pick + (part ? nm : 0);
            int len = part ? nt : nm;
            for (int x = 1; x < len; x++)
                for (int y = x; y > 0 && a[y - 1] > a[y]; y--) {
                    int32_t t = a[y]; a[y] = a[y - 1]; a[y - 1] = t;
                }
        }
        memcpy(mask->idx + mask->ptr[u], pick, (size_t)nm * sizeof(int32_t));
        mask->ptr[u + 1] = mask->ptr[u] + nm;
        memcpy(truth->idx + truth->ptr[u], pick + nm, (size_t)nt * sizeof(int32_t));
        truth->ptr[u + 1] = truth->ptr[u] + nt;
    }
    mask->nnz = mask->ptr[n_users];
    truth->nnz = truth->ptr[n_users];
}

/* CPU seconds of the whole process (all threads): shows contention when the
 * machine is shared (wall >> cpu / threads). */
int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int block = argc > 2 ? atoi(argv[2]) : 0;
    double scale = argc > 3 ? atof(argv[3]) : 1.0;
    int32_t n_users = (int32_t)(N_USERS * scale);
    if (n_users < 1) n_users = 1;

    nb_rng r;
    nb_rng_seed(&r, 2023, 0, 0);
    float *user = nb_xmalloc((size_t)n_users * DIM * sizeof(float));
    float *item = nb_xmalloc((size_t)N_ITEMS * DIM * sizeof(float));
    for (size_t t = 0; t < (size_t)n_users * DIM; t++)
        user[t] = (float)(nb_rng_uniform(&r) - 0.5);
    for (size_t t = 0; t < (size_t)N_ITEMS * DIM; t++)
        item[t] = (float)(nb_rng_uniform(&r) - 0.5);
    nb_csr mask, truth;
    make_rows(&r, n_users, &mask, &truth);

    nb_eval_opts o;
    memset(&o, 0, sizeof o);
    o.n_ks = 1;
    o.ks[0] = 20;
    o.report_k = 20;
    o.threads = threads;
    o.block_users = block;
    double times[RUNS], cpu[RUNS];
    nb_metrics m;
    int rc = 0;
    for (int run = 0; run < RUNS; run++) {
        nb_hits h;
        char *err = NULL;
        double t0 = nb_now(), c0 = bench_cpu_now();
        rc = eval_full_ranking(user, item, n_users, N_ITEMS, DIM, &truth, &mask,
                               NULL, &o, &m, &h, &err);
        times[run] = nb_now() - t0;
        cpu[run] = bench_cpu_now() - c0;
        if (rc) {
            fprintf(stderr, "bench-eval: %s\n", err);
            free(err);
            break;
        }
        hits_free(&h);
    }
    if (!rc) {
        qsort(times, RUNS, sizeof times[0], bench_cmp_double);
        qsort(cpu, RUNS, sizeof cpu[0], bench_cmp_double);
        printf("eval_full_ranking users=%d items=%d d=%d K=20 threads=%d median_s=%.3f"
               " (min_s=%.3f median_cpu_s=%.3f blas=%s recall@20=%.5f)\n", n_users,
               N_ITEMS, DIM, threads, times[RUNS / 2], times[0], cpu[RUNS / 2],
               nb_blas_name(), m.value[NB_M_RECALL][0]);
    }
    free(user);
    free(item);
    free(mask.ptr); free(mask.idx);
    free(truth.ptr); free(truth.idx);
    return rc ? 1 : 0;
}
