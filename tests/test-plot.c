/*
 * test-plot.c - negbench plot on a fixture store built here: every kind
 * writes a non-empty KIND.dat and KIND.gp, and with gnuplot installed a
 * non-empty PNG and SVG (skipped with a message otherwise); without gnuplot
 * on PATH the data and script are still written and plot_make reports
 * "not rendered". Checks some data values: the curve mean ± sd over seeds,
 * the shaded 80% of a histogram.
 *
 * Fixture: data set toy, samplers dns and ans, gamma 0.1 and 1, seeds 1-2,
 * 3 epochs each with valid recall@20 = 0.1 * epoch + 0.01 * seed (+ 0.05
 * for ans), cand_max_norm / cand_min_norm, and a 4-bin score histogram at
 * epochs 0 and 3 with counts 5, 3, 1, 1.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "negbench/plugin.h"
#include "plot.h"
#include "store.h"
#include "tap/tap.h"
#include "util.h"

static void add_run(nb_store *s, int64_t exp, const char *sampler, double gamma, int seed)
{
    char *json = nb_strf("{\"data\":{\"train\":\"/d/toy/train.txt\"},\"model\":{\"name\":\"mf\"},"
                         "\"sampler\":{\"gamma\":%g,\"name\":\"%s\"},\"train\":{\"seed\":%d}}",
                         gamma, sampler, seed);
    char *hash = nb_strf("%s-%g-%d", sampler, gamma, seed), *err = NULL;
    nb_run_info info = {.experiment_id = exp, .config_json = json, .config_hash = hash,
                        .seed = seed, .model = "mf", .sampler = sampler};
    int64_t run = 0, counts[4] = {5, 3, 1, 1};
    nb_metrics m = {.n_ks = 1, .ks = {20}};
    if (store_run_begin(s, &info, &run, &err)) tap_bail("%s", err);
    store_histogram(s, run, 0, "unobserved_scores", -1.0, 1.0, 4, counts, &err);
    for (int e = 1; e <= 3; e++) {
        for (int mi = 0; mi < NB_N_METRICS; mi++)
            m.value[mi][0] = 0.1 * e + 0.01 * seed + (sampler[0] == 'a' ? 0.05 : 0) + gamma / 100;
        nb_stat_value st[2] = {{"cand_max_norm", 0.9 - 0.1 * e}, {"cand_min_norm", 0.1 * e}};
        nb_epoch_record rec = {.epoch = e, .loss = 1.0 / e, .train_seconds = 1.0 + seed,
                               .valid = &m, .stats = st, .n_stats = 2};
        if (store_epoch(s, run, &rec, &err)) tap_bail("%s", err);
    }
    store_histogram(s, run, 3, "unobserved_scores", -1.0, 1.0, 4, counts, &err);
    /* 10 users, one test item each; dns hits users 3-9, ans users 0-6 */
    int64_t ptr[11] = {0};
    int32_t idx[10], rank[10], nt[10];
    int n = 0;
    for (int u = 0; u < 10; u++) {
        nt[u] = 1;
        if (sampler[0] == 'a' ? u < 7 : u >= 3) idx[n] = u, rank[n++] = 1 + u;
        ptr[u + 1] = n;
    }
    nb_hits h = {.n_rows = 10, .nnz = n, .ptr = ptr, .idx = idx, .rank = rank, .n_truth = nt,
                 .k = 20};
    nb_run_result res = {.status = "done", .best_epoch = 3, .epochs_run = 3, .best_test = &m,
                         .hits = &h, .report_k = 20};
    if (store_run_finish(s, run, &res, &err)) tap_bail("%s", err);
    free(json);
    free(hash);
}

static char *slurp(const char *path)
{
    char *d = NULL, *err = NULL;
    size_t n = 0;
    if (nb_read_file(path, &d, &n, &err)) { free(err); return NULL; }
    return d;
}

/* The contents of dir/name (free it), NULL when unreadable. */
static char *slurp_in(const char *dir, const char *name)
{
    char *path = nb_strf("%s/%s", dir, name), *d = slurp(path);
    free(path);
    return d;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Make one kind into dir; returns rendered (or -1 on error). */
static int make(char *store, const char *kind, const char *dir, const char *param)
{
    nb_plot_opts o = {.r = {.table = param ? "sensitivity" : "main", .format = "md",
                            .rows = param ? param : "sampler.name", .cols = "data",
                            .metrics = "recall", .alpha = 0.05, .test = "wilcoxon",
                            .stat = "dns_overlap"},
                      .kind = kind, .metric = "recall@20"};
    if (param) o.r.where[o.r.n_where++] = "sampler.name=ans";
    else o.r.where[o.r.n_where++] = "sampler.gamma=0.1";
    rp_set set;
    char *err = NULL, *paths[1] = {store};
    int rendered = -1;
    if (report_load(paths, 1, &o.r, &set, &err) || plot_make(&set, &o, dir, &rendered, &err)) {
        diag("%s: %s", kind, err ? err : "?");
        rendered = -1;
    }
    report_set_free(&set);
    free(err);
    return rendered;
}

int main(void)
{
    char *store = nb_strf("%s/p.sqlite", tap_tmpdir()), *err = NULL;
    nb_store *s = NULL;
    int64_t e = 0;
    if (store_open(store, &s, &err) || store_experiment(s, "px", "name: px\n", &e, &err))
        tap_bail("%s", err);
    for (int seed = 1; seed <= 2; seed++) {
        add_run(s, e, "dns", 0.1, seed);
        add_run(s, e, "ans", 0.1, seed);
        add_run(s, e, "ans", 1.0, seed);
        add_run(s, e, "ans", 0.01, seed);
    }
    store_close(s);
    int have_gnuplot = system("command -v gnuplot >/dev/null 2>&1") == 0;
    const char *kinds[6] = {"curves", "sensitivity", "histogram", "maxmin", "per", "efficiency"};
    char *dir = nb_strf("%s/fig", tap_tmpdir());
    for (int k = 0; k < 6; k++) {
        int r = make(store, kinds[k], dir, k == 1 ? "sampler.gamma" : NULL);
        ok(r >= 0, "plot %s runs", kinds[k]);
        char *dat = nb_strf("%s/%s.dat", dir, kinds[k]), *gp = nb_strf("%s/%s.gp", dir, kinds[k]);
        char *png = nb_strf("%s/%s.png", dir, kinds[k]), *svg = nb_strf("%s/%s.svg", dir, kinds[k]);
        ok(file_size(dat) > 60 && file_size(gp) > 100, "%s: .dat and .gp written", kinds[k]);
        if (have_gnuplot)
            ok(r == 1 && file_size(png) > 1000 && file_size(svg) > 1000,
               "%s: PNG (%ld bytes) and SVG (%ld bytes) rendered", kinds[k], file_size(png),
               file_size(svg));
        else
            skip(1, "gnuplot is not installed: no PNG/SVG check for %s", kinds[k]);
        free(dat); free(gp); free(png); free(svg);
    }
    char *d = slurp_in(dir, "curves.dat");
    /* dns epoch 2: seeds 0.2 + 0.01 + 0.001 and 0.2 + 0.02 + 0.001: mean 0.216, sd 0.00707 */
    ok(d && strstr(d, "# dns toy\n") && strstr(d, "2\t0.216\t0.20892893\t0.22307107\t2\n"),
       "curves: mean and mean ± sample sd over 2 seeds");
    free(d);
    d = slurp_in(dir, "histogram.dat");
    /* counts 5 3 1 1 over [-1, 1): density c / 10 / 0.5; the bins starting
     * below 80% of the mass (cumulative 0, 5, 8) are shaded */
    ok(d && strstr(d, "-0.75\t1\t1\n-0.25\t0.6\t0.6\n0.25\t0.2\t0\n0.75\t0.2\t0\n"),
       "histogram: densities and the lowest-80%% shading");
    ok(d && strstr(d, "epoch 0") && strstr(d, "epoch 3"), "histogram: both stored epochs");
    free(d);
    d = slurp_in(dir, "per.dat");
    /* H_dns = users 3-9, H_ans = users 0-6: PER(ans, dns) = |{0,1,2}| / 7 */
    ok(d && strstr(d, "\ndns\t0\t0.42857143\n") && strstr(d, "\nans\t0.42857143\t0\n"),
       "per: PER(ans, dns) = PER(dns, ans) = 3/7, PER(x, x) = 0");
    free(d);
    d = slurp_in(dir, "sensitivity.dat");
    ok(d && strstr(d, "\n0\t0.01\t") && strstr(d, "\n1\t0.1\t") && strstr(d, "\n2\t1\t"),
       "sensitivity: one point per gamma, with its position");
    free(d);
    d = slurp_in(dir, "sensitivity.gp");
    ok(d && strstr(d, "using 1:3:4:xtic(2)") && strstr(d, "set xrange [-0.5:2.5]"),
       "sensitivity: gamma 0.01, 0.1, 1 evenly spaced, labelled with the values");
    free(d);
    /* a series with missing points says so; --x-axis linear puts values at their value */
    nb_plot_opts so = {.r = {.table = "sensitivity", .format = "md", .rows = "sampler.gamma",
                             .cols = "sampler.name", .metrics = "recall", .alpha = 0.05,
                             .test = "wilcoxon"},
                       .kind = "sensitivity", .metric = "recall@20", .x_axis = "linear"};
    rp_set set;
    char *paths[1] = {store}, *dir3 = nb_strf("%s/missing", tap_tmpdir());
    int rendered = -1;
    if (report_load(paths, 1, &so.r, &set, &err) || plot_make(&set, &so, dir3, &rendered, &err))
        diag("sensitivity by sampler: %s", err ? err : "?"), rendered = -1;
    report_set_free(&set);
    d = slurp_in(dir3, "sensitivity.dat");
    ok(rendered >= 0 && d && strstr(d, "# no run: sampler.gamma = 0.01\n") &&
           strstr(d, "# no run: sampler.gamma = 1\n") && strstr(d, "\n1\t0.1\t"),
       "sensitivity: dns's missing gamma 0.01 and 1 are marked, its 0.1 drawn");
    free(d);
    d = slurp_in(dir3, "sensitivity.gp");
    ok(d && strstr(d, "using 2:3:4 ") && !strstr(d, "xrange"), "--x-axis linear: x is the value");
    free(d);
    free(dir3);
    /* PER in three groups (gamma 0.01, 0.1, 1; dns only at 0.1): one legend,
     * the same colour for each y in every group, and dns's columns at 0.01
     * and 1 (no run: nan) left out of the drawing, which gnuplot would refuse */
    nb_plot_opts po = {.r = {.table = "main", .format = "md", .rows = "sampler.name",
                             .cols = "sampler.gamma", .metrics = "recall", .alpha = 0.05,
                             .test = "wilcoxon"},
                       .kind = "per", .metric = "recall@20"};
    char *dir4 = nb_strf("%s/per3", tap_tmpdir());
    rendered = -1;
    if (report_load(paths, 1, &po.r, &set, &err) || plot_make(&set, &po, dir4, &rendered, &err))
        diag("per by gamma: %s", err ? err : "?"), rendered = -1;
    report_set_free(&set);
    d = slurp_in(dir4, "per.gp");
    int titled = 0, untitled = 0;
    for (const char *q = d; q && (q = strstr(q, "title \"y = ")); q++) titled++;
    for (const char *q = d; q && (q = strstr(q, "notitle")); q++) untitled++;
    /* per terminal (the script draws the PNG, then the SVG): ans titled at
     * 0.01, dns titled at 0.1, ans untitled at 0.1 and 1 */
    ok(rendered == have_gnuplot && d && titled == 2 * 2 && untitled == 2 * 2 &&
           strstr(d, "newhistogram \"0.01\", \\\n     \"per.dat\" index 0 using 3:xtic(1) lc 2 title \"y = ans\"") &&
           strstr(d, "index 1 using 2:xtic(1) lc 1 title \"y = dns\""),
       "per in three groups: one legend (%d titled, %d untitled series), no empty series",
       titled, untitled);
    free(d);
    d = slurp_in(dir4, "per.dat");
    ok(d && strstr(d, "\ndns\tnan\tnan\n") && strstr(d, "\nans\tnan\t0\n"),
       "per: the pairs without runs are nan in the data");
    free(d);
    free(dir4);
    const char *lin[] = {"0.1", "0.2", "0.3"}, *geo[] = {"2", "4", "8"}, *gam[] = {"0", "0.001",
                                                                                    "0.01"};
    const char *names[] = {"rns", "dns"};
    ok(plot_axis_even(lin, 3, NULL) == 0 && plot_axis_even(lin, 3, "even") == 1,
       "plot_axis_even: 0.1, 0.2, 0.3 linear by default, even on request");
    ok(plot_axis_even(geo, 3, "auto") == 1 && plot_axis_even(gam, 3, NULL) == 1 &&
           plot_axis_even(geo, 3, "linear") == 0,
       "plot_axis_even: 2, 4, 8 and 0, 0.001, 0.01 even by default, linear on request");
    ok(plot_axis_even(names, 2, NULL) == 1 && plot_axis_even(names, 2, "linear") == -1 &&
           plot_axis_even(lin, 3, "log") == -1,
       "plot_axis_even: names are placed evenly; linear names and unknown modes refused");
    /* without gnuplot on PATH: data and script, not rendered */
    const char *path = getenv("PATH");
    char *saved = path ? nb_xstrdup(path) : NULL;
    char *dir2 = nb_strf("%s/nognuplot", tap_tmpdir());
    setenv("PATH", "/nonexistent", 1);
    int r = make(store, "curves", dir2, NULL);
    if (saved) setenv("PATH", saved, 1);
    char *dat2 = nb_strf("%s/curves.dat", dir2), *png2 = nb_strf("%s/curves.png", dir2);
    ok(r == 0 && file_size(dat2) > 60 && file_size(png2) < 0,
       "without gnuplot: data and script written, nothing rendered, no error");
    free(saved); free(dir2); free(dat2); free(png2);
    free(dir);
    free(store);
    return tap_done();
}
