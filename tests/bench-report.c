/*
 * bench-report.c - negbench report on a store of 500 finished runs with
 * per-user ranks on a Gowalla-sized user set (29,858 users, about 3.4 test
 * items each, top 20): 5 samplers x 4 data sets x 25 seeds, generated
 * here (make bench; not part of make check). Prints the seconds to build
 * the store and the seconds of the main table (Recall/NDCG at 20, every
 * per-user paired t and Wilcoxon test and Welch test, Holm) in Markdown.
 *   tests/bench-report [DIR [reuse]]   (the store goes to DIR, default $TMPDIR
 *   or /tmp; with reuse, an existing store there is read again and kept).
 * On a shared machine read the CPU seconds: wall time counts the waits.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "negbench/plugin.h"
#include "report.h"
#include "store.h"
#include "user_ranks.h"
#include "util.h"

#define NU 29858

/* One run's hits: user u has 1 + (u % 6) test items; a sampler of quality
 * q hits some of them at pseudo-random ranks. */
static void make_hits(int q, int seed, nb_hits *h)
{
    uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(q * 1000 + seed + 1);
    int64_t n = 0;
    h->ptr[0] = 0;
    for (int u = 0; u < NU; u++) {
        h->n_truth[u] = 1 + u % 6;
        int32_t last = 0;
        for (int j = 0; j < h->n_truth[u]; j++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            if ((int)(s % 100) < 10 + 2 * q && last < 20) {
                last += 1 + (int32_t)((s >> 20) % 4);
                if (last > 20) break;
                h->rank[n] = last;
                h->idx[n++] = (int32_t)((s >> 32) % 40981);
            }
        }
        h->ptr[u + 1] = n;
    }
    h->nnz = n;
}

static int build(const char *path)
{
    static const char *const samplers[5] = {"rns", "dns", "srns", "dens", "ans"};
    nb_store *st = NULL;
    int64_t e = 0;
    char *err = NULL;
    nb_hits h = {.n_rows = NU, .k = 20};
    h.ptr = nb_xmalloc((NU + 1) * sizeof *h.ptr);
    h.n_truth = nb_xmalloc(NU * sizeof *h.n_truth);
    h.idx = nb_xmalloc(6 * NU * sizeof *h.idx);
    h.rank = nb_xmalloc(6 * NU * sizeof *h.rank);
    if (store_open(path, &st, &err) || store_experiment(st, "bench", "name: bench\n", &e, &err)) {
        fprintf(stderr, "bench-report: %s\n", err);
        return 1;
    }
    for (int d = 0; d < 4; d++)
        for (int q = 0; q < 5; q++)
            for (int seed = 0; seed < 25; seed++) {
                char *json = nb_strf("{\"data\":{\"train\":\"/d/set%d/train.txt\"},\"model\":"
                                     "{\"name\":\"mf\"},\"sampler\":{\"name\":\"%s\"},"
                                     "\"train\":{\"seed\":%d}}", d, samplers[q], seed);
                char *hash = nb_strf("bench-%d-%d-%d", d, q, seed);
                nb_run_info info = {.experiment_id = e, .config_json = json, .config_hash = hash,
                                    .seed = seed, .model = "mf", .sampler = samplers[q]};
                nb_metrics m = {.n_ks = 1, .ks = {20}};
                double *v = nb_xmalloc(NU * sizeof *v), sd;
                int64_t run;
                make_hits(q, seed + 100 * d, &h);
                for (int mi = 0; mi < NB_N_METRICS; mi++) {
                    user_ranks_values(&h, mi, 20, v);
                    stats_mean_sd(v, NU, &m.value[mi][0], &sd);
                }
                nb_run_result res = {.status = "done", .best_epoch = 1, .epochs_run = 1,
                                     .best_test = &m, .hits = &h, .report_k = 20};
                if (store_run_begin(st, &info, &run, &err) || store_run_finish(st, run, &res, &err)) {
                    fprintf(stderr, "bench-report: %s\n", err);
                    return 1;
                }
                free(v);
                free(json);
                free(hash);
            }
    store_close(st);
    hits_free(&h);
    return 0;
}

int main(int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    char *path = nb_strf("%s/bench-report.sqlite", argc > 1 ? argv[1] : tmp ? tmp : "/tmp");
    char *paths[1] = {path}, *err = NULL;
    int reuse = argc > 2 && !strcmp(argv[2], "reuse") && access(path, F_OK) == 0;
    if (!reuse) unlink(path);
    double t0 = nb_now();
    if (!reuse && build(path)) return 1;
    double t1 = nb_now(), c1 = (double)clock() / CLOCKS_PER_SEC;
    rp_opts o = {.table = "main", .format = "md", .rows = "sampler.name", .cols = "data",
                 .metrics = "recall,ndcg", .test = "wilcoxon", .alpha = 0.05, .gain = "ans",
                 .stat = "dns_overlap"};
    rp_set set;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = report_load(paths, 1, &o, &set, &err);
    double tl = nb_now();
    if (!rc) rc = report_table(&set, &o, devnull, &err);
    double t2 = nb_now(), c2 = (double)clock() / CLOCKS_PER_SEC;
    if (rc) fprintf(stderr, "bench-report: %s\n", err);
    report_set_free(&set);
    fclose(devnull);
    printf("bench-report: store of 500 runs x %d users built in %.1f s; main table with "
           "per-user significance (8 columns, 32 comparisons x 3 tests) in %.2f s wall, "
           "%.2f s CPU (loading %.2f s wall)\n", NU, t1 - t0, t2 - t1, c2 - c1, tl - t1);
    if (!(argc > 2 && !strcmp(argv[2], "reuse"))) unlink(path);
    free(path);
    return rc ? 1 : 0;
}
