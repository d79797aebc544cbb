/*
 * test-report.c - negbench report on fixture stores built here: the main
 * table in Markdown, LaTeX and CSV against the files in tests/fixtures/report
 * (mean ± sd, best and second marks, a cell with fewer seeds, a run found
 * in two stores counted once, an unfinished run listed and not averaged,
 * significance marks); per-user metrics recomputed from user_ranks equal
 * the stored means; PER on hand-built hit sets (empty sets, identical runs);
 * planned points never run (sweep_plan) listed, counted and marked in
 * every format.
 *
 * Fixture: data sets toy-a and toy-b, samplers rns, dns, ans, seeds 1-3
 * (dns on toy-b has seeds 1-2 only), 60 users with 2 test items each; a
 * run's user u hits item 0 at rank r(u) when u % q < h for per-sampler q, h
 * (ans hits most), so the per-user tests see real differences.
 */
#define _GNU_SOURCE
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negbench/plugin.h"
#include "report.h"
#include "store.h"
#include "tap/tap.h"
#include "user_ranks.h"
#include "util.h"

#define NU 60

/* Hits of a fixture run: which users hit, at which rank (seed shifts it). */
static void make_hits(const char *sampler, int seed, nb_hits *h, int64_t *ptr, int32_t *idx,
                      int32_t *rank, int32_t *nt)
{
    int q = !strcmp(sampler, "ans") ? 4 : !strcmp(sampler, "dns") ? 5 : 6;
    int64_t n = 0;
    ptr[0] = 0;
    for (int u = 0; u < NU; u++) {
        nt[u] = u == NU - 1 ? 0 : 2;
        if (nt[u] && (u + seed) % q < 3) {
            rank[n] = 1 + (u * 7 + seed) % 20;
            idx[n++] = u % 50;
        }
        ptr[u + 1] = n;
    }
    *h = (nb_hits){.n_rows = NU, .nnz = n, .ptr = ptr, .idx = idx, .rank = rank,
                   .n_truth = nt, .k = 20};
}

/* Add one finished (or unfinished) run to store s. */
static void add_run(nb_store *s, int64_t exp, const char *data, const char *sampler, int seed,
                    const char *status)
{
    char *json = nb_strf("{\"data\":{\"train\":\"/d/%s/train.txt\"},\"model\":{\"name\":\"mf\"},"
                         "\"sampler\":{\"name\":\"%s\"},\"train\":{\"seed\":%d}}",
                         data, sampler, seed);
    char *hash = nb_strf("%s-%s-%d", data, sampler, seed), *err = NULL;
    nb_run_info info = {.experiment_id = exp, .config_json = json, .config_hash = hash,
                        .seed = seed, .model = "mf", .sampler = sampler};
    int64_t run = 0, ptr[NU + 1];
    int32_t idx[NU], rank[NU], nt[NU];
    nb_hits h;
    nb_metrics m = {.n_ks = 2, .ks = {10, 20}};
    double v[NU];
    if (store_run_begin(s, &info, &run, &err)) tap_bail("run_begin: %s", err);
    make_hits(sampler, seed, &h, ptr, idx, rank, nt);
    for (int mi = 0; mi < NB_N_METRICS; mi++)
        for (int ki = 0; ki < 2; ki++) {
            double mean, sd;
            user_ranks_values(&h, mi, m.ks[ki], v);
            stats_mean_sd(v, NU, &mean, &sd);
            m.value[mi][ki] = mean;
        }
    nb_epoch_record rec = {.epoch = 1, .loss = 0.5, .train_seconds = 2.0 + seed,
                           .eval_seconds = 0.5, .valid = &m};
    if (store_epoch(s, run, &rec, &err)) tap_bail("epoch: %s", err);
    nb_run_result res = {.status = status, .best_epoch = 1, .epochs_run = 1, .best_valid = &m,
                         .best_test = &m, .hits = &h, .report_k = 20,
                         .peak_rss_bytes = 100 << 20};
    if (strcmp(status, "running") && store_run_finish(s, run, &res, &err))
        tap_bail("finish: %s", err);
    free(json);
    free(hash);
}

/* Store A: every run; store B: one run of A again and an unfinished run. */
static void make_stores(const char *a, const char *b)
{
    nb_store *s = NULL;
    int64_t e = 0;
    char *err = NULL;
    if (store_open(a, &s, &err) || store_experiment(s, "fx", "name: fx\n", &e, &err))
        tap_bail("%s: %s", a, err);
    const char *samplers[3] = {"rns", "dns", "ans"}, *data[2] = {"toy-a", "toy-b"};
    for (int d = 0; d < 2; d++)
        for (int q = 0; q < 3; q++)
            for (int seed = 1; seed <= 3; seed++)
                if (!(d == 1 && q == 1 && seed == 3)) add_run(s, e, data[d], samplers[q], seed, "done");
    store_close(s);
    if (store_open(b, &s, &err) || store_experiment(s, "fx", "name: fx\n", &e, &err))
        tap_bail("%s: %s", b, err);
    add_run(s, e, "toy-a", "ans", 1, "done");
    add_run(s, e, "toy-b", "dns", 3, "failed");
    store_close(s);
}

/* Output of a report into a malloc'd string. */
static char *run_report(char **paths, int n, rp_opts *o, int per)
{
    rp_set set;
    char *buf = NULL, *err = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = report_load(paths, n, o, &set, &err);
    if (!rc) rc = per ? report_per(&set, o, f, &err) : report_table(&set, o, f, &err);
    if (rc) diag("report: %s", err ? err : "?");
    report_set_free(&set);
    fclose(f);
    free(err);
    return buf;
}

/* got equals the fixture file; on a difference, shows got. With
 * NB_UPDATE_FIXTURES=1 in the environment, got is written to the fixture
 * first (review the diff before committing it). */
static void is_fixture(const char *got, const char *name)
{
    char *path = nb_strf("%s/fixtures/report/%s", tap_srcdir(), name), *want = NULL, *err = NULL;
    size_t len = 0;
    FILE *upd = getenv("NB_UPDATE_FIXTURES") && got ? fopen(path, "w") : NULL;
    if (upd) { fputs(got, upd); fclose(upd); }
    if (nb_read_file(path, &want, &len, &err)) want = NULL;
    int same = want && got && !strcmp(got, want);
    ok(same, "%s matches tests/fixtures/report/%s", name, name);
    if (!same && got) {
        char *out = nb_strf("%s/%s", tap_tmpdir(), name);
        FILE *f = fopen(out, "w");
        if (f) { fputs(got, f); fclose(f); }
        diag("got (also in %s):\n%s", out, got);
        free(out);
    }
    free(want);
    free(err);
    free(path);
}

static rp_opts main_opts(const char *format)
{
    rp_opts o = {.table = "main", .format = format, .rows = "sampler.name", .cols = "data",
                 .metrics = "recall,ndcg", .test = "wilcoxon", .alpha = 0.05, .gain = "ans",
                 .stat = "dns_overlap"};
    return o;
}

static void test_tables(char **paths)
{
    rp_opts o = main_opts("md");
    char *md = run_report(paths, 2, &o, 0);
    is_fixture(md, "main.md");
    ok(md && strstr(md, "(n=2)"), "the cell with 2 seeds of 3 is marked");
    ok(md && strstr(md, "toy-b, seed 3: failed"), "the failed run is listed under the table");
    o = main_opts("latex");
    char *tex = run_report(paths, 2, &o, 0);
    is_fixture(tex, "main.tex");
    o = main_opts("csv");
    char *csv = run_report(paths, 2, &o, 0);
    is_fixture(csv, "main.csv");
    /* the run in both stores counts once: 3 seeds, not 4 */
    ok(csv && strstr(csv, "main,ans,toy-a,recall,10,3,"), "a run in two stores counts once");
    o = main_opts("md");
    o.table = "efficiency";
    char *eff = run_report(paths, 2, &o, 0);
    is_fixture(eff, "efficiency.md");
    /* "experiment" labels by the experiment's name (fx), not a config path */
    o = main_opts("csv");
    o.cols = "experiment,data";
    char *byexp = run_report(paths, 2, &o, 0);
    ok(byexp && strstr(byexp, "main,ans,fx toy-a,recall,10,3,") && !strstr(byexp, ",toy-a,"),
       "--cols experiment,data: columns \"fx toy-a\", \"fx toy-b\"");
    free(byexp);
    free(md);
    free(tex);
    free(csv);
    free(eff);
}

/* Per-user values averaged equal the stored final metrics. */
static void test_user_values(void)
{
    int64_t ptr[NU + 1];
    int32_t idx[NU], rank[NU], nt[NU];
    nb_hits h;
    make_hits("ans", 2, &h, ptr, idx, rank, nt);
    double v[NU], mean, sd;
    is_int(user_ranks_values(&h, NB_M_RECALL, 10, v), NU - 1, "59 users evaluated");
    ok(isnan(v[NU - 1]), "a user without test items has no value");
    stats_mean_sd(v, NU, &mean, &sd);
    /* by hand: hits of user u at rank 1 + (7u + 2) % 20 when (u + 2) % 4 < 3 */
    int cnt = 0;
    double nd = 0;
    for (int u = 0; u < NU - 1; u++)
        if ((u + 2) % 4 < 3 && 1 + (7 * u + 2) % 20 <= 10) {
            cnt++;
            nd += (1.0 / log2(1 + (1 + (7 * u + 2) % 20))) / (1 + 1 / log2(3));
        }
    is_close(mean, cnt / 2.0 / (NU - 1), 1e-15, 0, "recall@10 = hits / 2 per user, averaged");
    user_ranks_values(&h, NB_M_NDCG, 10, v);
    stats_mean_sd(v, NU, &mean, &sd);
    is_close(mean, nd / (NU - 1), 1e-15, 0, "ndcg@10 with IDCG over 2 positions");
    is_int(user_ranks_values(&h, NB_M_HIT, 21, v), -1, "K beyond the stored k is refused");
}

/* PER(x, y) = |H_x \ H_y| / |H_y| by hand, for the fixture's hit sets: H(q, s)
 * = the users u < NU - 1 with (u + s) % q < 3 (ans q 4, rns q 6), item u % 50. */
static double hand_per(int qx, int sx, int qy, int sy)
{
    int only = 0, ny = 0;
    for (int u = 0; u < NU - 1; u++) {
        int x = (u + sx) % qx < 3, y = (u + sy) % qy < 3;
        only += x && !y;
        ny += y;
    }
    return (double)only / ny;
}

static void test_per(char **paths)
{
    uint64_t a[4] = {1, 5, 9, 12}, b[3] = {5, 9, 30};
    is_int(report_set_minus(a, 4, b, 3), 2, "|{1,5,9,12} \\ {5,9,30}| = 2");
    is_int(report_set_minus(b, 3, a, 4), 1, "|{5,9,30} \\ {1,5,9,12}| = 1");
    is_int(report_set_minus(a, 0, b, 3), 0, "empty minus anything = 0");
    is_int(report_set_minus(a, 4, b, 0), 4, "minus the empty set = all");
    is_int(report_set_minus(a, 4, a, 4), 0, "identical sets: 0");
    rp_opts o = main_opts("csv");
    o.table = "per";
    o.n_ks = 1;
    o.ks[0] = 20;
    char *csv = run_report(paths, 1, &o, 1);
    ok(csv && strstr(csv, "per,toy-a,ans,ans,20,y,3,0\n"), "PER(x, x) = 0 (identical runs)");
    double want = 0;
    for (int s = 1; s <= 3; s++) want += hand_per(4, s, 6, s) / 3;
    char *line = nb_strf("per,toy-a,ans,rns,20,y,3,%.10g\n", want);
    ok(csv && strstr(csv, line), "PER(ans, rns) = mean over seeds of |H_x \\ H_y| / |H_y| = %.6f",
       want);
    sqlite3 *db = NULL;
    sqlite3_open(paths[0], &db);
    sqlite3_stmt *st = NULL;
    int64_t rows = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM run_pair_per WHERE k = 20", -1, &st, NULL) ==
            SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        rows = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    is_int(rows, 27 + 22, "PER counts cached per run pair");
    char *again = run_report(paths, 1, &o, 1);
    is_string(again, csv, "a second PER report (from the cache) prints the same");
    /* --per-seeds cross: every ordered pair of different seeds (6 of 3 seeds);
     * PER(ans, ans) is then how much two seeds of ans differ, by hand */
    o.per_seeds = "cross";
    char *cross = run_report(paths, 1, &o, 1);
    double floor = 0;
    for (int s = 1; s <= 3; s++)
        for (int t = 1; t <= 3; t++)
            if (s != t) floor += hand_per(4, s, 4, t) / 6;
    char *fl = nb_strf("per,toy-a,ans,ans,20,y,6,%.10g\n", floor);
    ok(cross && floor > 0 && strstr(cross, fl),
       "--per-seeds cross: PER(ans, ans) = the mean over 6 seed pairs = %.6f", floor);
    o.per_seeds = NULL;
    free(cross);
    free(fl);
    free(line);
    free(csv);
    free(again);
}

/* A store holding only a sweep's plan: points name "data-sampler-seed". */
static void make_plan_store(const char *path, const char *const *points, int n)
{
    nb_store *s = NULL;
    char *err = NULL;
    nb_plan_point p[8];
    char *json[8], *label[8];
    if (store_open(path, &s, &err)) tap_bail("%s: %s", path, err);
    for (int i = 0; i < n; i++) {
        char data[16], sampler[16];
        int seed = 0;
        if (sscanf(points[i], "toy-%1[ab]-%15[a-z]-%d", data + 4, sampler, &seed) != 3)
            tap_bail("bad point %s", points[i]);
        memcpy(data, "toy-", 4);
        json[i] = nb_strf("{\"data\":{\"train\":\"/d/%s/train.txt\"},\"model\":{\"name\":"
                          "\"mf\"},\"sampler\":{\"name\":\"%s\"},\"train\":{\"seed\":%d}}",
                          data, sampler, seed);
        label[i] = nb_strf("sampler.name=%s seed=%d", sampler, seed);
        p[i] = (nb_plan_point){points[i], label[i], json[i], i};
    }
    if (store_plan(s, "fx", p, n, &err)) tap_bail("plan: %s", err);
    for (int i = 0; i < n; i++) free(json[i]), free(label[i]);
    store_close(s);
}

/* Planned points without a run are listed under the table, counted, and
 * mark their cells; those with a run (done or failed, in any store) and
 * those --where excludes are not; a point planned by two stores counts
 * once; the means are those of the finished runs. */
static void test_missing(char *a, char *b)
{
    char *c = nb_strf("%s/c.sqlite", tap_tmpdir()), *d = nb_strf("%s/d.sqlite", tap_tmpdir());
    static const char *const pc[] = {"toy-a-rns-1", "toy-b-dns-3", "toy-a-dns-4", "toy-a-pns-1"};
    static const char *const pd[] = {"toy-a-dns-4"};
    make_plan_store(c, pc, 4);
    make_plan_store(d, pd, 1);
    char *paths[4] = {a, b, c, d};
    rp_opts o = main_opts("md");
    char *md = run_report(paths, 4, &o, 0);
    ok(md && strstr(md, "\nMissing: 2 planned runs never started\n"), "two missing runs, counted");
    ok(md && strstr(md, "\n- missing: sampler.name=dns seed=4 (toy-a-dns-4): dns, toy-a, seed 4 "
                        "(planned in c.sqlite)\n") &&
       strstr(md, "\n- missing: sampler.name=pns seed=1 (toy-a-pns-1): pns, toy-a, seed 1"),
       "each listed as 'missing: LABEL (HASH12)' with its cell and store");
    ok(md && !strstr(md, "toy-a-rns-1") && !strstr(md, "missing: sampler.name=dns seed=3"),
       "planned points with a run (done, or failed in another store) are not missing");
    ok(md && strstr(md, "\n| dns | <u>0.1525 ± 0.0000</u> (n=3) |") &&
       strstr(md, "| <u>0.1525 ± 0.0000</u> (n=2) |"),
       "dns on toy-a: 3 of its 4 planned seeds, marked (n=3) though no cell has more; same mean");
    ok(md && strstr(md, "\n| rns | 0.1271 ± 0.0000* |"), "rns on toy-a: complete, not marked");
    ok(md && !strstr(md, "| pns |"), "a row whose runs are all missing is not in the table");
    o = main_opts("latex");
    char *tex = run_report(paths, 4, &o, 0);
    ok(tex && strstr(tex, "\n% Missing: 2 planned runs never started\n") &&
       strstr(tex, "\n% - missing: sampler.name=dns seed=4 (toy-a-dns-4)") &&
       strstr(tex, "\\underline{0.1525 $\\pm$ 0.0000} (n=3)"),
       "LaTeX: the list as comments, the cell marked");
    o = main_opts("csv");
    char *csv = run_report(paths, 4, &o, 0);
    ok(csv && strstr(csv, "\nmain,dns,toy-a,recall,10,3,0.1525423729,0,second,") &&
       strstr(csv, ",4,1\nmain,dns,toy-a,recall,20,"), "CSV: n 3, n_planned 4, fewer_seeds 1");
    ok(csv && strstr(csv, "\n\nleft_out,status,row,col,seed,label,hash,store,epochs_run,error\n") &&
       strstr(csv, "\nleft_out,failed,dns,toy-b,3,,toy-b-dns-3,b.sqlite,1,\n") &&
       strstr(csv, "\nleft_out,missing,dns,toy-a,4,sampler.name=dns seed=4,toy-a-dns-4,c.sqlite,0,\n") &&
       strstr(csv, "\nleft_out,missing,pns,toy-a,1,sampler.name=pns seed=1,toy-a-pns-1,c.sqlite,0,\n"),
       "CSV: the left_out section lists the failed run and both missing ones");
    o = main_opts("md");
    o.where[o.n_where++] = "sampler.name=ans";
    char *ans = run_report(paths, 4, &o, 0);
    ok(ans && !strstr(ans, "issing") && !strstr(ans, " (n=2)") && !strstr(ans, " (n=3)"),
       "--where leaves the missing points out");
    o = main_opts("md");
    o.table = "per";
    o.n_ks = 1;
    o.ks[0] = 20;
    char *per = run_report(paths, 4, &o, 1);
    ok(per && strstr(per, "\nMissing: 2 planned runs never started\n") &&
       strstr(per, "\nNot in the table: 1 unfinished run\n"),
       "the PER matrix lists the unfinished and missing runs too");
    free(per);
    free(md);
    free(tex);
    free(csv);
    free(ans);
    free(c);
    free(d);
}

int main(void)
{
    char *a = nb_strf("%s/a.sqlite", tap_tmpdir()), *b = nb_strf("%s/b.sqlite", tap_tmpdir());
    char *paths[2] = {a, b};
    make_stores(a, b);
    test_tables(paths);
    test_user_values();
    test_per(paths);
    test_missing(a, b);
    free(a);
    free(b);
    return tap_done();
}
