/*
 * test-store.c - the SQLite results store (core/store.c, schema v3).
 *
 * Round trip of every value through a reopened file and the views; opening
 * is idempotent and refuses newer or foreign files; version 1 and 2 stores
 * (tests/fixtures/stores/store-v1.sql, store-v2.sql) are upgraded in place
 * with every row kept, and opened read-only they are read as they are; a
 * sweep's plan is recorded in one transaction, once per point; a run killed with
 * SIGKILL in the middle of its epoch loop leaves whole epochs only and
 * restarts under the same id; a failed write leaves the file unchanged;
 * core/store_schema.h is results/schema.sql.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "negbench/plugin.h"
#include "store.h"
#include "store_schema.h"
#include "sql_query.h"
#include "tap/tap.h"
#include "user_ranks.h"
#include "util.h"

/* Metric names as eval.c defines them; weak so that linking eval.o wins. */
__attribute__((weak)) const char *const nb_metric_names[NB_N_METRICS] = {
    "recall", "ndcg", "hit", "precision", "mrr"};

/* The names the stored rows must carry, independent of the array above. */
static const char *const want_names[NB_N_METRICS] = {
    "recall", "ndcg", "hit", "precision", "mrr"};

/* ---- helpers ------------------------------------------------------------ */

static double q_double(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    double v = -999999.0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    else
        diag("query failed: %s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

/* First column as a malloc'd string ("<NULL>" for NULL, "<ERR>" on error). */
static char *q_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    char *v;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = nb_xstrdup(sqlite3_column_type(st, 0) == SQLITE_NULL
                           ? "<NULL>" : (const char *)sqlite3_column_text(st, 0));
    else {
        diag("query failed: %s: %s", sql, sqlite3_errmsg(db));
        v = nb_xstrdup("<ERR>");
    }
    sqlite3_finalize(st);
    return v;
}

static void is_text(sqlite3 *db, const char *sql, const char *want, const char *what)
{
    char *got = q_text(db, sql);
    is_string(got, want, "%s", what);
    free(got);
}

/* First column as a BLOB compared with want[n]. */
static int blob_is(sqlite3 *db, const char *sql, const unsigned char *want, int n)
{
    sqlite3_stmt *st = NULL;
    int same = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        same = sqlite3_column_bytes(st, 0) == n && (n == 0 || memcmp(b, want, n) == 0);
    }
    sqlite3_finalize(st);
    return same;
}

/* Metrics with value[m][k] = base + m/100 + k/1000 (exactly representable
 * enough for == after a round trip through SQLite's 8-byte REAL). */
static double mval(double base, int m, int k) { return base + m * 0.01 + k * 0.001; }

static void fill_metrics(nb_metrics *mt, int n_ks, const int32_t *ks, double base)
{
    memset(mt, 0, sizeof *mt);
    mt->n_ks = n_ks;
    for (int k = 0; k < n_ks; k++) {
        mt->ks[k] = ks[k];
        for (int m = 0; m < NB_N_METRICS; m++) mt->value[m][k] = mval(base, m, k);
    }
    mt->n_evaluated = 42;
}

/* Check that the rows of table for (run, [epoch,] split) equal fill_metrics(base). */
static int metrics_match(sqlite3 *db, const char *table, int64_t run, int epoch,
                         const char *split, int n_ks, const int32_t *ks, double base)
{
    int bad = 0, rows = 0;
    for (int m = 0; m < NB_N_METRICS; m++)
        for (int k = 0; k < n_ks; k++) {
            char *sql = epoch > 0
                ? sqlite3_mprintf("SELECT value FROM %s WHERE run_id=%lld AND "
                                  "epoch=%d AND split=%Q AND metric=%Q AND k=%d",
                                  table, (long long)run, epoch, split,
                                  want_names[m], ks[k])
                : sqlite3_mprintf("SELECT value FROM %s WHERE run_id=%lld AND "
                                  "split=%Q AND metric=%Q AND k=%d", table,
                                  (long long)run, split, want_names[m], ks[k]);
            double v = q_double(db, sql);
            if (v != mval(base, m, k)) {
                diag("%s: got %.17g want %.17g", sql, v, mval(base, m, k));
                bad++;
            }
            rows++;
            sqlite3_free(sql);
        }
    return bad == 0 && rows == NB_N_METRICS * n_ks;
}

static nb_run_info demo_info(int64_t experiment_id, const char *hash)
{
    nb_run_info in = {
        .experiment_id = experiment_id, .config_json = "{\"model\":\"mf\",\"seed\":7}",
        .config_hash = hash, .seed = 7, .model = "mf", .model_version = "1.0",
        .sampler = "ans", .sampler_version = "0.3", .dataset = "synthetic 100x50",
        .data_checksum = "ff00", .threads = 2, .host = "testhost",
        .git_revision = "deadbeef", .negbench_version = "0.1.0"};
    return in;
}

/* A digest of every table's content, to check that a failed write changed
 * nothing. */
static char *fingerprint(sqlite3 *db)
{
    return q_text(db,
        "SELECT (SELECT count(*) FROM experiment) || '/' ||"
        " (SELECT group_concat(id || status || epochs_run, ',') FROM run) || '/' ||"
        " (SELECT count(*) || ':' || total(loss) FROM epoch) || '/' ||"
        " (SELECT count(*) || ':' || total(value) FROM epoch_metric) || '/' ||"
        " (SELECT count(*) || ':' || total(value) FROM sampler_stat) || '/' ||"
        " (SELECT count(*) FROM final_metric) || '/' ||"
        " (SELECT count(*) FROM user_hits) || '/' ||"
        " (SELECT count(*) FROM user_ranks) || '/' ||"
        " (SELECT count(*) FROM score_histogram)");
}

static int contains(const char *s, const char *sub) { return s && strstr(s, sub); }

/* ---- schema file --------------------------------------------------------- */

static void test_schema_file(void)
{
    char *path = nb_strf("%s/../results/schema.sql", tap_srcdir());
    char *text = NULL, *err = NULL;
    size_t len = 0;
    int rc = nb_read_file(path, &text, &len, &err);
    is_int(rc, 0, "read %s%s%s", path, err ? ": " : "", err ? err : "");
    ok(text && len == strlen(nb_store_schema_sql) &&
       memcmp(text, nb_store_schema_sql, len) == 0,
       "core/store_schema.h is identical to results/schema.sql");
    free(text);
    free(err);
    free(path);
}

/* ---- round trip ------------------------------------------------------------ */

static const int32_t ks2[2] = {10, 20};

static void test_round_trip(const char *path)
{
    nb_store *s = NULL;
    char *err = NULL;
    int64_t e1 = 0, e1b = 0, e2 = 0, run = 0, id = -1;
    nb_metrics valid, test, bvalid, btest;

    is_int(store_open(path, &s, &err), 0, "open a new store");
    if (!s) tap_bail("cannot open %s: %s", path, err ? err : "?");
    is_int(store_experiment(s, "demo", "name: demo\n", &e1, &err), 0, "experiment");
    is_int(store_experiment(s, "demo", "name: demo\n", &e1b, &err), 0,
           "same experiment again");
    is_int(e1b, e1, "identical YAML gives the same experiment id");
    is_int(store_experiment(s, "other", "name: other\n", &e2, &err), 0,
           "another experiment");
    ok(e2 != e1, "different YAML gives a new experiment id");

    nb_run_info in = demo_info(e1, "hash-rt");
    is_int(store_run_status(s, "hash-rt", &id, &err), 0, "status of an absent run is 0");
    is_int(id, 0, "absent run has id 0");
    is_int(store_run_begin(s, &in, &run, &err), 0, "run_begin");
    ok(run > 0, "run id is positive");
    is_int(store_run_status(s, "hash-rt", &id, &err), 2, "status of a running run is 2");
    is_int(id, run, "status returns the run id");

    for (int e = 1; e <= 3; e++) {
        fill_metrics(&valid, 2, ks2, 0.1 * e);
        fill_metrics(&test, 2, ks2, 0.5);
        nb_stat_value st[2] = {{"dns_overlap", 0.25 * e}, {"max_min", -1.5 * e}};
        nb_epoch_record rec = {.epoch = e, .loss = 0.7 / e, .train_seconds = 1.5 + e,
                               .eval_seconds = 0.25 * e, .valid = &valid,
                               .test = e == 3 ? &test : NULL, .stats = st,
                               .n_stats = 2};
        int rc = store_epoch(s, run, &rec, &err);
        is_int(rc, 0, "epoch %d stored%s%s", e, err ? ": " : "", err ? err : "");
    }
    int64_t counts[4] = {0, 7, (int64_t)1 << 40, 123};
    is_int(store_histogram(s, run, 2, "unobserved", -2.0, 3.0, 4, counts, &err), 0,
           "histogram stored");

    /* hits: user 0 {5, 3} at ranks 1, 4; user 1 none; user 2 {7} at 20;
     * user 3 {100000, 1} at 2, 3; |R(u)| 2, 0, 1, 300 */
    int64_t hptr[5] = {0, 2, 2, 3, 5};
    int32_t hidx[5] = {5, 3, 7, 100000, 1}, hrank[5] = {1, 4, 20, 2, 3};
    int32_t htruth[4] = {2, 0, 1, 300};
    nb_hits hits = {.n_rows = 4, .nnz = 5, .ptr = hptr, .idx = hidx, .rank = hrank,
                    .n_truth = htruth, .k = 20};
    int32_t vrank[1] = {1}, vtruth[4] = {1, 1, 0, 0}, vidx[1] = {9};
    int64_t vptr[5] = {0, 1, 1, 1, 1};
    nb_hits vhits = {.n_rows = 4, .nnz = 1, .ptr = vptr, .idx = vidx, .rank = vrank,
                     .n_truth = vtruth, .k = 20};
    fill_metrics(&bvalid, 2, ks2, 0.2);
    fill_metrics(&btest, 2, ks2, 0.9);
    nb_run_result res = {.status = "done", .best_epoch = 2, .epochs_run = 3,
                         .best_valid = &bvalid, .best_test = &btest, .hits = &hits,
                         .valid_hits = &vhits, .report_k = 20, .peak_rss_bytes = 123456789};
    is_int(store_run_finish(s, run, &res, &err), 0, "run_finish");
    store_close(s);
    s = NULL;

    /* reopen and read everything back */
    is_int(store_open(path, &s, &err), 0, "reopen");
    if (!s) tap_bail("cannot reopen %s: %s", path, err ? err : "?");
    sqlite3 *db = store_db(s);
    char sql[512];

    is_int(q_int(db, "PRAGMA user_version"), 3, "user_version is 3");
    is_text(db, "PRAGMA journal_mode", "wal", "journal mode is WAL");
    is_int(q_int(db, "PRAGMA foreign_keys"), 1, "foreign keys are on");
    is_int(q_int(db, "PRAGMA synchronous"), 1, "synchronous is NORMAL");
    is_int(q_int(db, "PRAGMA busy_timeout"), 10000, "busy timeout is 10 s");
    is_text(db, "SELECT value FROM meta WHERE key='schema_version'", "3",
            "meta schema_version");
    is_text(db, "SELECT value FROM meta WHERE key='created_by'", "negbench",
            "meta created_by");

    snprintf(sql, sizeof sql, "SELECT name || '|' || yaml_text || '|' || yaml_sha256"
             " FROM experiment WHERE id=%lld", (long long)e1);
    is_text(db, sql, "demo|name: demo\n|"
            "8789e7eabb7ba5922a5087c25d315a1e5fbb6b0f97510862579d348428dbd9d4",
            "experiment row (SHA-256 of the YAML text)");
    is_int(q_int(db, "SELECT count(*) FROM experiment WHERE created_at GLOB "
                 "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:"
                 "[0-9][0-9].[0-9][0-9][0-9]Z' AND julianday(created_at) > 2460000"),
           2, "created_at is ISO-8601 UTC");

    snprintf(sql, sizeof sql,
             "SELECT experiment_id || '|' || config_json || '|' || config_hash || '|'"
             " || seed || '|' || model || '|' || model_version || '|' || sampler"
             " || '|' || sampler_version || '|' || dataset || '|' || data_checksum"
             " || '|' || threads || '|' || host || '|' || git_revision || '|' ||"
             " negbench_version || '|' || status || '|' || ifnull(error, 'NULL')"
             " || '|' || epochs_run || '|' || best_epoch || '|' || report_k || '|'"
             " || peak_rss_bytes FROM run WHERE id=%lld", (long long)run);
    char want_run[512];
    snprintf(want_run, sizeof want_run,
             "%lld|{\"model\":\"mf\",\"seed\":7}|hash-rt|7|mf|1.0|ans|0.3|"
             "synthetic 100x50|ff00|2|testhost|deadbeef|0.1.0|done|NULL|3|2|20|"
             "123456789", (long long)e1);
    is_text(db, sql, want_run, "run row");
    snprintf(sql, sizeof sql, "SELECT julianday(finished_at) >= julianday(started_at)"
             " AND finished_at LIKE '%%Z' AND started_at LIKE '%%Z' FROM run "
             "WHERE id=%lld", (long long)run);
    is_int(q_int(db, sql), 1, "start and end time stamps");

    is_int(q_int(db, "SELECT count(*) FROM epoch"), 3, "3 epoch rows");
    int bad = 0;
    for (int e = 1; e <= 3; e++) {
        snprintf(sql, sizeof sql, "SELECT loss FROM epoch WHERE epoch=%d", e);
        bad += q_double(db, sql) != 0.7 / e;
        snprintf(sql, sizeof sql, "SELECT train_seconds FROM epoch WHERE epoch=%d", e);
        bad += q_double(db, sql) != 1.5 + e;
        snprintf(sql, sizeof sql, "SELECT eval_seconds FROM epoch WHERE epoch=%d", e);
        bad += q_double(db, sql) != 0.25 * e;
        snprintf(sql, sizeof sql, "SELECT value FROM sampler_stat WHERE epoch=%d"
                 " AND name='dns_overlap'", e);
        bad += q_double(db, sql) != 0.25 * e;
        snprintf(sql, sizeof sql, "SELECT value FROM sampler_stat WHERE epoch=%d"
                 " AND name='max_min'", e);
        bad += q_double(db, sql) != -1.5 * e;
        bad += !metrics_match(db, "epoch_metric", run, e, "valid", 2, ks2, 0.1 * e);
    }
    is_int(bad, 0, "epoch losses, timings, statistics and valid metrics exact");
    is_int(q_int(db, "SELECT count(*) FROM sampler_stat"), 6, "6 sampler_stat rows");
    is_int(q_int(db, "SELECT count(*) FROM epoch_metric"), 40, "40 epoch_metric rows");
    is_int(q_int(db, "SELECT count(*) FROM epoch_metric WHERE split='test'"), 10,
           "test metrics only at epoch 3");
    ok(metrics_match(db, "epoch_metric", run, 3, "test", 2, ks2, 0.5),
       "epoch 3 test metrics exact");

    unsigned char hb[32];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) hb[8 * i + j] = (unsigned char)((uint64_t)counts[i] >> (8 * j));
    ok(blob_is(db, "SELECT counts FROM score_histogram WHERE epoch=2 AND "
               "name='unobserved'", hb, 32), "histogram counts little-endian int64");
    snprintf(sql, sizeof sql, "-2.0,3.0,%lld", (long long)run);
    is_text(db, "SELECT lo || ',' || hi || ',' || run_id FROM score_histogram", sql,
            "histogram edges");

    ok(metrics_match(db, "final_metric", run, 0, "valid", 2, ks2, 0.2),
       "final valid metrics exact");
    ok(metrics_match(db, "final_metric", run, 0, "test", 2, ks2, 0.9),
       "final test metrics exact");
    is_int(q_int(db, "SELECT count(*) FROM final_metric"), 20, "20 final_metric rows");

    is_int(q_int(db, "SELECT count(*) FROM user_hits"), 0, "no user_hits rows (v1 only)");
    is_text(db, "SELECT group_concat(split || ':' || k || ':' || n_users || ':' || n_hits)"
            " FROM user_ranks", "test:20:4:5,valid:20:4:1", "one user_ranks row per split");
    /* 1; user 0: 2 2 (1 5) (4 3); user 1: 0 0; user 2: 1 1 (20 7);
     * user 3: 300 = ac 02, 2 (2 100000 = a0 8d 06) (3 1) */
    unsigned char rb[] = {1, 2, 2, 1, 5, 4, 3, 0, 0, 1, 1, 20, 7,
                          0xac, 0x02, 2, 2, 0xa0, 0x8d, 0x06, 3, 1};
    ok(blob_is(db, "SELECT data FROM user_ranks WHERE split='test'", rb, sizeof rb),
       "test ranks packed as documented (LEB128 varints)");
    nb_hits back;
    sqlite3_stmt *rs = NULL;
    int drc = -1;
    if (sqlite3_prepare_v2(db, "SELECT data FROM user_ranks WHERE split='test'", -1, &rs,
                           NULL) == SQLITE_OK && sqlite3_step(rs) == SQLITE_ROW)
        drc = user_ranks_decode(sqlite3_column_blob(rs, 0),
                                (size_t)sqlite3_column_bytes(rs, 0), 4, 20, "rt", &back, &err);
    sqlite3_finalize(rs);
    is_int(drc, 0, "ranks decode");
    if (drc == 0) {
        int same = back.nnz == 5 && back.k == 20;
        for (int u = 0; same && u < 4; u++)
            same = back.ptr[u + 1] == hptr[u + 1] && back.n_truth[u] == htruth[u];
        for (int q = 0; same && q < 5; q++)
            same = back.idx[q] == hidx[q] && back.rank[q] == hrank[q];
        ok(same, "ranks round-trip: items, ranks and |R(u)| of every user");
        hits_free(&back);
        is_int(user_ranks_decode(rb, sizeof rb - 1, 4, 20, "cut", &back, &err), NB_EINVAL,
               "a truncated BLOB is refused");
        ok(contains(err, "cut: malformed per-user ranks"), "message: %s", err ? err : "");
        free(err);
        err = NULL;
        is_int(user_ranks_decode(rb, sizeof rb, 4, 3, "k3", &back, &err), NB_EINVAL,
               "a rank beyond k is refused");
        free(err);
        err = NULL;
    }

    /* views */
    char want_sum[256];
    snprintf(want_sum, sizeof want_sum, "%lld|demo|mf|ans|7|synthetic 100x50|done|3|2|20",
             (long long)run);
    is_text(db, "SELECT run_id || '|' || experiment || '|' || model || '|' ||"
            " sampler || '|' || seed || '|' || dataset || '|' || status || '|' ||"
            " epochs_run || '|' || best_epoch || '|' || report_k FROM run_summary",
            want_sum, "run_summary row");
    ok(q_double(db, "SELECT test_recall FROM run_summary") == mval(0.9, NB_M_RECALL, 1) &&
       q_double(db, "SELECT test_ndcg FROM run_summary") == mval(0.9, NB_M_NDCG, 1) &&
       q_double(db, "SELECT test_hit FROM run_summary") == mval(0.9, NB_M_HIT, 1),
       "run_summary: test recall/ndcg/hit at report_k");
    is_int(q_int(db, "SELECT count(*) FROM run_summary"), 1, "run_summary: one row");
    is_int(q_int(db, "SELECT count(*) FROM epoch_curve"), 40, "epoch_curve rows");
    bad = 0;
    for (int e = 1; e <= 3; e++) {
        snprintf(sql, sizeof sql, "SELECT value FROM epoch_curve WHERE run_id=%lld AND"
                 " epoch=%d AND split='valid' AND metric='recall' AND k=20",
                 (long long)run, e);
        bad += q_double(db, sql) != mval(0.1 * e, NB_M_RECALL, 1);
        snprintf(sql, sizeof sql, "SELECT loss FROM epoch_curve WHERE run_id=%lld AND"
                 " epoch=%d AND split='valid' AND metric='ndcg' AND k=10",
                 (long long)run, e);
        bad += q_double(db, sql) != 0.7 / e;
    }
    is_int(bad, 0, "epoch_curve: valid recall@20 and loss per epoch");
    is_int(q_int(db, "SELECT count(*) FROM final_long WHERE experiment='demo' AND"
                 " model='mf' AND sampler='ans' AND seed=7"), 20, "final_long rows");
    is_close(q_double(db, "SELECT value FROM final_long WHERE split='test' AND"
                      " metric='ndcg' AND k=10"), mval(0.9, NB_M_NDCG, 0), 0, 0,
             "final_long test ndcg@10");

    /* a done run is not restarted */
    is_int(store_run_status(s, "hash-rt", &id, &err), 1, "status of a done run is 1");
    free(err);
    err = NULL;
    is_int(store_run_begin(s, &in, &id, &err), NB_EINVAL, "run_begin on a done run");
    ok(contains(err, "run hash-rt is already done") && contains(err, path),
       "message: %s", err ? err : "(none)");
    free(err);
    err = NULL;
    nb_epoch_record late = {.epoch = 4, .loss = 1};
    is_int(store_epoch(s, run, &late, &err), NB_EINVAL, "no epoch after done");
    ok(contains(err, "not running"), "message: %s", err ? err : "(none)");
    free(err);
    store_close(s);
}

/* ---- opening --------------------------------------------------------------- */

static void test_open(const char *rt_path)
{
    nb_store *a = NULL, *b = NULL;
    char *err = NULL;
    is_int(store_open(rt_path, &a, &err), 0, "open an existing store");
    is_int(store_open(rt_path, &b, &err), 0, "open it a second time at once");
    if (a && b) {
        is_int(q_int(store_db(b), "SELECT count(*) FROM meta"), 3, "meta not duplicated");
        is_int(q_int(store_db(b), "SELECT count(*) FROM sqlite_schema WHERE "
                     "type='table' AND name <> 'run_owner'"), 12, "12 tables (and run_owner)");
        is_int(q_int(store_db(b), "SELECT count(*) FROM sqlite_schema WHERE "
                     "type='view'"), 4, "4 views");
        is_int(q_int(store_db(a), "SELECT count(*) FROM epoch_metric"), 40,
               "data kept");
    } else {
        skip(4, "open failed: %s", err ? err : "?");
    }
    store_close(a);
    store_close(b);
    free(err);
    err = NULL;

    /* a newer schema */
    char *p2 = nb_strf("%s/newer.sqlite", tap_tmpdir());
    sqlite3 *db = NULL;
    sqlite3_open(p2, &db);
    sqlite3_exec(db, "CREATE TABLE t(a); PRAGMA user_version = 4;", NULL, NULL, NULL);
    sqlite3_close(db);
    is_int(store_open(p2, &a, &err), NB_EINVAL, "a version 4 file is refused");
    ok(a == NULL, "no handle on failure");
    ok(contains(err, p2) && contains(err, "version 4"), "message: %s",
       err ? err : "(none)");
    free(err);
    err = NULL;
    is_int(store_open_readonly(p2, &a, &err), NB_EINVAL, "... also read-only");
    ok(contains(err, p2) && contains(err, "version 4"), "message: %s", err ? err : "(none)");
    free(err);
    err = NULL;

    /* a foreign SQLite file and a file that is not SQLite at all */
    char *p3 = nb_strf("%s/other.sqlite", tap_tmpdir());
    sqlite3_open(p3, &db);
    sqlite3_exec(db, "CREATE TABLE t(a);", NULL, NULL, NULL);
    sqlite3_close(db);
    is_int(store_open(p3, &a, &err), NB_EINVAL, "a foreign SQLite file is refused");
    ok(contains(err, p3) && contains(err, "not a negbench results store"),
       "message: %s", err ? err : "(none)");
    free(err);
    err = NULL;
    char *p4 = nb_strf("%s/text.sqlite", tap_tmpdir());
    FILE *f = fopen(p4, "w");
    if (f) {
        for (int i = 0; i < 200; i++) fputs("this is not a database\n", f);
        fclose(f);
    }
    ok(store_open(p4, &a, &err) < 0 && contains(err, p4), "a text file is refused: %s",
       err ? err : "(none)");
    free(err);
    free(p2);
    free(p3);
    free(p4);
}

/* ---- error path ---------------------------------------------------------- */

static void test_errors(void)
{
    char *path = nb_strf("%s/err.sqlite", tap_tmpdir());
    nb_store *s = NULL;
    char *err = NULL;
    int64_t e = 0, run = 0;
    nb_metrics valid;

    if (store_open(path, &s, &err) || store_experiment(s, "x", "x: 1\n", &e, &err))
        tap_bail("setup: %s", err ? err : "?");
    nb_run_info in = demo_info(e, "hash-err");
    if (store_run_begin(s, &in, &run, &err)) tap_bail("setup: %s", err);
    fill_metrics(&valid, 2, ks2, 0.3);
    nb_stat_value st[2] = {{"a", 1}, {"b", 2}};
    nb_epoch_record rec = {.epoch = 1, .loss = 0.5, .valid = &valid, .stats = st,
                           .n_stats = 2};
    is_int(store_epoch(s, run, &rec, &err), 0, "epoch 1");
    sqlite3 *db = store_db(s);
    char *before = fingerprint(db);

    is_int(store_epoch(s, 999, &rec, &err), NB_EINVAL, "epoch of run 999 fails");
    ok(contains(err, "run 999 does not exist") && contains(err, path),
       "message: %s", err ? err : "(none)");
    free(err);
    err = NULL;
    char *after = fingerprint(db);
    is_string(after, before, "store unchanged");
    free(after);

    /* a failure after the epoch row and its metrics were written rolls back */
    nb_stat_value dup[2] = {{"a", 1}, {"a", 2}};
    nb_epoch_record rec2 = {.epoch = 2, .loss = 0.25, .valid = &valid, .stats = dup,
                            .n_stats = 2};
    ok(store_epoch(s, run, &rec2, &err) < 0 && contains(err, "UNIQUE"),
       "duplicate statistic fails: %s", err ? err : "(none)");
    free(err);
    err = NULL;
    after = fingerprint(db);
    is_string(after, before, "half-written epoch rolled back");
    free(after);
    ok(sqlite3_get_autocommit(db), "no transaction left open");

    ok(store_epoch(s, run, &rec, &err) < 0, "duplicate epoch fails");
    free(err);
    err = NULL;
    is_int(store_histogram(s, 999, 1, "h", 0, 1, 1, (int64_t[]){1}, &err), NB_EINVAL,
           "histogram of run 999 fails");
    free(err);
    err = NULL;
    nb_run_result res = {.status = "done"};
    is_int(store_run_finish(s, 999, &res, &err), NB_EINVAL, "finish of run 999 fails");
    free(err);
    err = NULL;
    after = fingerprint(db);
    is_string(after, before, "store still unchanged");
    free(after);

    rec2.stats = st;
    is_int(store_epoch(s, run, &rec2, &err), 0, "the store is usable afterwards");
    is_int(q_int(db, "SELECT count(*) FROM epoch_metric WHERE epoch=2"), 10,
           "epoch 2 complete");
    free(before);
    free(err);
    store_close(s);
    free(path);
}

/* ---- killed run ---------------------------------------------------------- */

#define KILL_EPOCHS 3000
#define KILL_KS 16
#define KILL_STATS 40
#define KILL_METRIC_ROWS (2 * NB_N_METRICS * KILL_KS)

/* The child: begin (or restart) the run and write epochs until killed. */
static void __attribute__((noreturn)) child_loop(const char *path)
{
    nb_store *s = NULL;
    char *err = NULL;
    int64_t e = 0, run = 0;
    int32_t ks[KILL_KS];
    nb_metrics valid, test;
    nb_stat_value st[KILL_STATS];
    char names[KILL_STATS][16];

    for (int k = 0; k < KILL_KS; k++) ks[k] = 5 * (k + 1);
    for (int i = 0; i < KILL_STATS; i++) {
        snprintf(names[i], sizeof names[i], "stat%02d", i);
        st[i].name = names[i];
    }
    if (store_open(path, &s, &err) || store_experiment(s, "kill", "kill: 1\n", &e, &err))
        _exit(3);
    nb_run_info in = demo_info(e, "hash-kill");
    if (store_run_begin(s, &in, &run, &err)) _exit(4);
    for (int ep = 1; ep <= KILL_EPOCHS; ep++) {
        fill_metrics(&valid, KILL_KS, ks, ep);
        fill_metrics(&test, KILL_KS, ks, -ep);
        for (int i = 0; i < KILL_STATS; i++) st[i].value = ep + i;
        nb_epoch_record rec = {.epoch = ep, .loss = 1.0 / ep, .valid = &valid,
                               .test = &test, .stats = st, .n_stats = KILL_STATS};
        if (store_epoch(s, run, &rec, &err)) _exit(5);
    }
    store_close(s);
    _exit(0);
}

/* Epochs of the killed run visible to a reader (-1: not yet readable). */
static int64_t visible_epochs(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM epoch JOIN run ON run.id ="
                           " epoch.run_id WHERE config_hash='hash-kill'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_kill(void)
{
    char *path = nb_strf("%s/kill.sqlite", tap_tmpdir());
    int64_t first_id = 0;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

    for (int round = 0; round < 4; round++) {
        /* no connection to the file is open in this process across fork */
        pid_t pid = fork();
        if (pid < 0) tap_bail("fork failed");
        if (pid == 0) child_loop(path);

        int64_t seen = -1;
        double t0 = nb_now();
        while ((seen = visible_epochs(path)) < 1 && nb_now() - t0 < 10)
            usleep(200);
        useconds_t delay = (useconds_t)(round * 2000 + (seed + 7919u * round) % 1500);
        usleep(delay);
        kill(pid, SIGKILL);
        int wst = 0;
        waitpid(pid, &wst, 0);
        ok(seen >= 1 && WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL,
           "round %d: child killed %u us after epoch %lld was visible", round,
           (unsigned)delay, (long long)seen);

        nb_store *s = NULL;
        char *err = NULL;
        int64_t id = 0, id2 = 0;
        if (store_open(path, &s, &err)) tap_bail("reopen after kill: %s", err);
        sqlite3 *db = store_db(s);
        is_text(db, "PRAGMA integrity_check", "ok", "integrity check");
        int64_t n = q_int(db, "SELECT count(*) FROM epoch");
        ok(n >= 1 && n < KILL_EPOCHS, "round %d: %lld whole epochs survive", round,
           (long long)n);
        is_int(q_int(db, "SELECT max(epoch) FROM epoch"), n, "epochs are 1..n");
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM epoch e WHERE"
                 " (SELECT count(*) FROM epoch_metric m WHERE m.run_id=e.run_id AND"
                 "  m.epoch=e.epoch) != %d OR"
                 " (SELECT count(*) FROM sampler_stat t WHERE t.run_id=e.run_id AND"
                 "  t.epoch=e.epoch) != %d", KILL_METRIC_ROWS, KILL_STATS);
        is_int(q_int(db, sql), 0, "no half-written epoch");
        is_int(q_int(db, "SELECT count(*) FROM epoch_metric"), n * KILL_METRIC_ROWS,
               "metric rows = epochs x %d", KILL_METRIC_ROWS);
        is_text(db, "SELECT status FROM run WHERE config_hash='hash-kill'", "running",
                "status is still running");
        is_int(q_int(db, "SELECT epochs_run FROM run WHERE config_hash='hash-kill'"),
               n, "epochs_run matches the committed epochs");

        is_int(store_run_status(s, "hash-kill", &id, &err), 2, "unfinished run: 2");
        if (round == 0) first_id = id;
        is_int(id, first_id, "same run id every round");
        nb_run_info in = demo_info(q_int(db, "SELECT id FROM experiment"), "hash-kill");
        is_int(store_run_begin(s, &in, &id2, &err), 0, "restart%s%s", err ? ": " : "",
               err ? err : "");
        is_int(id2, first_id, "restarted under the same id");
        is_int(q_int(db, "SELECT (SELECT count(*) FROM epoch) + (SELECT count(*) FROM"
                     " epoch_metric) + (SELECT count(*) FROM sampler_stat)"), 0,
               "restart deleted the epochs");
        is_int(q_int(db, "SELECT count(*) FROM run"), 1, "still one run row");
        nb_run_result res = {.status = "interrupted"}; /* release it for the next child */
        is_int(store_run_finish(s, id2, &res, &err), 0, "released");
        free(err);
        store_close(s);
    }
    free(path);
}

/* ---- upgrade from version 1 -------------------------------------------------- */

/* Every row of every version 1 table, as one text. */
static char *v1_dump(sqlite3 *db)
{
    return q_text(db,
        "SELECT (SELECT group_concat(key || '=' || value, ';') FROM meta"
        "          WHERE key NOT IN ('schema_version', 'upgraded_from')) || '/' ||"
        " (SELECT group_concat(id || name || yaml_text || yaml_sha256 || created_at) FROM experiment)"
        " || '/' || (SELECT group_concat(id || '|' || experiment_id || config_hash || config_json"
        "   || seed || model || model_version || sampler || sampler_version || dataset ||"
        "   data_checksum || threads || host || git_revision || negbench_version || status ||"
        "   ifnull(error, '-') || started_at || ifnull(finished_at, '-') || epochs_run ||"
        "   ifnull(best_epoch, '-') || ifnull(report_k, '-') || ifnull(peak_rss_bytes, '-'))"
        "   FROM run) || '/' ||"
        " (SELECT group_concat(run_id || ',' || epoch || ',' || ifnull(loss, '-') || ','"
        "   || train_seconds || ',' || eval_seconds) FROM epoch) || '/' ||"
        " (SELECT group_concat(run_id || epoch || split || metric || k || value) FROM epoch_metric)"
        " || '/' || (SELECT group_concat(run_id || epoch || name || value) FROM sampler_stat)"
        " || '/' || (SELECT group_concat(run_id || split || metric || k || value) FROM final_metric)"
        " || '/' || (SELECT group_concat(run_id || user || k || hex(items)) FROM user_hits)"
        " || '/' || (SELECT group_concat(run_id || epoch || name || lo || hi || hex(counts))"
        "   FROM score_histogram)");
}

/* The upgraded store db has exactly the schema of the new store fresh. */
static void same_schema(sqlite3 *db, sqlite3 *fresh)
{
    const char *q = "SELECT group_concat(name || ':' || sql, ';') FROM (SELECT name, sql"
                    " FROM sqlite_schema ORDER BY name)";
    char *a = q_text(db, q), *b = q_text(fresh, q);
    is_string(a, b, "the upgraded schema equals a new store's");
    free(a);
    free(b);
}

static void test_upgrade_v1(void)
{
    char *fix = nb_strf("%s/fixtures/stores/store-v1.sql", tap_srcdir());
    char *path = nb_strf("%s/v1.sqlite", tap_tmpdir());
    char *fresh = nb_strf("%s/fresh-v2.sqlite", tap_tmpdir());
    size_t len = 0;
    char *sql = NULL, *err = NULL;
    sqlite3 *db = NULL;
    nb_store *s = NULL, *f = NULL;
    if (nb_read_file(fix, &sql, &len, &err)) tap_bail("cannot read %s: %s", fix, err);
    sqlite3_open(path, &db);
    is_int(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "v1 fixture store built");
    is_int(q_int(db, "PRAGMA user_version"), 1, "fixture is version 1");
    char *before = v1_dump(db);
    sqlite3_close(db);

    is_int(store_open(path, &s, &err), 0, "a version 1 store opens (%s)", err ? err : "ok");
    if (!s) tap_bail("upgrade failed: %s", err ? err : "?");
    db = store_db(s);
    is_int(q_int(db, "PRAGMA user_version"), 3, "upgraded to version 3");
    is_text(db, "SELECT value FROM meta WHERE key='schema_version'", "3", "meta says 3");
    is_int(q_int(db, "SELECT count(*) FROM sweep_plan"), 0, "with an empty sweep_plan");
    is_text(db, "SELECT value FROM meta WHERE key='upgraded_from'", "1", "meta upgraded_from 1");
    char *after = v1_dump(db);
    ok(before && after && strlen(before) > 300, "dump of the v1 rows is not empty");
    is_string(after, before, "every v1 row survived, unchanged");
    is_text(db, "SELECT group_concat(config_hash) FROM run", "h1,h2", "run identities kept");
    is_int(store_open(fresh, &f, &err), 0, "a fresh store");
    if (f) same_schema(db, store_db(f));
    /* the upgraded store takes a new run with ranks */
    int64_t run = 0;
    nb_run_info info = {.experiment_id = 1, .config_json = "{}", .config_hash = "h3",
                        .seed = 2, .model = "mf", .sampler = "ans"};
    int32_t rk[1] = {3}, nt[2] = {1, 2}, it[1] = {4};
    int64_t pt[3] = {0, 0, 1};
    nb_hits h = {.n_rows = 2, .nnz = 1, .ptr = pt, .idx = it, .rank = rk, .n_truth = nt, .k = 5};
    nb_run_result res = {.status = "done", .hits = &h, .report_k = 5, .epochs_run = 1};
    ok(store_run_begin(s, &info, &run, &err) == 0 && store_run_finish(s, run, &res, &err) == 0,
       "a run finishes in the upgraded store (%s)", err ? err : "ok");
    is_int(q_int(db, "SELECT count(*) FROM user_ranks"), 1, "its ranks are stored");
    store_close(s);
    store_close(f);
    s = NULL;
    is_int(store_open(path, &s, &err), 0, "reopening the upgraded store");
    store_close(s);
    free(before);
    free(after);
    free(sql);
    free(err);
    free(fix);
    free(path);
    free(fresh);
}

/* Every row of a version 2 store: those of version 1 plus user_ranks and
 * run_pair_per. */
static char *v2_dump(sqlite3 *db)
{
    char *v1 = v1_dump(db), *v2 = q_text(db,
        "SELECT (SELECT group_concat(run_id || split || k || n_users || n_hits || hex(data))"
        " FROM user_ranks) || '/' || (SELECT group_concat(hash_x || hash_y || split || k || n_x"
        " || n_y || n_x_not_y) FROM run_pair_per)");
    char *out = nb_strf("%s/%s", v1 ? v1 : "(null)", v2 ? v2 : "(null)");
    free(v1);
    free(v2);
    return out;
}

/* Build the store of fixture NAME (a .sql file) at path; its version. */
static int fixture_store(const char *name, const char *path, char **dump,
                         char *(*dumper)(sqlite3 *))
{
    char *fix = nb_strf("%s/fixtures/stores/%s", tap_srcdir(), name), *sql = NULL, *err = NULL;
    size_t len = 0;
    sqlite3 *db = NULL;
    if (nb_read_file(fix, &sql, &len, &err)) tap_bail("cannot read %s: %s", fix, err);
    unlink(path);
    sqlite3_open(path, &db);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        tap_bail("cannot build %s: %s", fix, sqlite3_errmsg(db));
    int v = q_int(db, "PRAGMA user_version");
    *dump = dumper(db);
    sqlite3_close(db);
    free(fix);
    free(sql);
    return v;
}

static void test_upgrade_v2(void)
{
    char *path = nb_strf("%s/v2.sqlite", tap_tmpdir());
    char *fresh = nb_strf("%s/fresh-v3.sqlite", tap_tmpdir());
    char *before = NULL, *err = NULL;
    nb_store *s = NULL, *f = NULL;
    is_int(fixture_store("store-v2.sql", path, &before, v2_dump), 2, "fixture is version 2");
    ok(before && strlen(before) > 400 && !strstr(before, "(null)"),
       "dump of the v2 rows is not empty (ranks and PER rows too)");
    is_int(store_open(path, &s, &err), 0, "a version 2 store opens (%s)", err ? err : "ok");
    if (!s) tap_bail("upgrade failed: %s", err ? err : "?");
    sqlite3 *db = store_db(s);
    is_int(q_int(db, "PRAGMA user_version"), 3, "upgraded to version 3");
    is_int(store_version(s), 3, "store_version says 3");
    is_text(db, "SELECT value FROM meta WHERE key='schema_version'", "3", "meta says 3");
    is_text(db, "SELECT value FROM meta WHERE key='upgraded_from'", "2", "meta upgraded_from 2");
    char *after = v2_dump(db);
    is_string(after, before, "every v2 row survived, unchanged");
    is_int(store_open(fresh, &f, &err), 0, "a fresh store");
    if (f) same_schema(db, store_db(f));
    nb_plan_point p = {"h1", "sampler.name=rns", "{}", 0};
    is_int(store_plan(s, "old", &p, 1, &err), 0, "the upgraded store takes a plan");
    is_text(db, "SELECT group_concat(label || '=' || status) FROM plan_status",
            "sampler.name=rns=done", "plan_status joins it to its done run");
    store_close(s);
    store_close(f);
    free(after);
    free(before);
    free(err);
    free(path);
    free(fresh);
}

/* Opened read-only, a version 1 or 2 store is read as it is: nothing is
 * upgraded or written, run statuses read. */
static void test_readonly_old(void)
{
    static const char *const fixtures[] = {"store-v1.sql", "store-v2.sql"};
    static char *(*const dumpers[])(sqlite3 *) = {v1_dump, v2_dump};
    for (int i = 0; i < 2; i++) {
        char *path = nb_strf("%s/ro-v%d.sqlite", tap_tmpdir(), i + 1), *before = NULL;
        char *err = NULL, *after = NULL;
        nb_store *s = NULL;
        int64_t id = 0;
        int v = fixture_store(fixtures[i], path, &before, dumpers[i]);
        is_int(store_open_readonly(path, &s, &err), 0, "version %d store opens read-only (%s)", v,
               err ? err : "ok");
        if (!s) continue;
        is_int(store_version(s), v, "... not upgraded (store_version %d)", v);
        is_int(store_run_status(s, "h1", &id, &err), 1, "... run h1 reads as done");
        is_int(store_run_status(s, "h2", &id, &err), 2, "... run h2 as unfinished (failed)");
        is_int(store_run_status(s, "h9", &id, &err), 0, "... an unknown hash as absent");
        store_close(s);
        sqlite3 *db = NULL;
        sqlite3_open(path, &db);
        is_int(q_int(db, "PRAGMA user_version"), v, "... the file is still version %d", v);
        after = dumpers[i](db);
        is_string(after, before, "... with the same rows");
        sqlite3_close(db);
        free(after);
        free(before);
        free(err);
        free(path);
    }
}

/* store_plan: one transaction, once per hash, a failure writes nothing. */
static void test_plan(void)
{
    char *path = nb_strf("%s/plan.sqlite", tap_tmpdir()), *err = NULL;
    nb_store *s = NULL;
    unlink(path);
    if (store_open(path, &s, &err)) tap_bail("cannot open %s: %s", path, err);
    sqlite3 *db = store_db(s);
    nb_plan_point p[3] = {{"ha", "x=1", "{\"x\":1}", 0}, {"hb", "x=2", "{\"x\":2}", 1},
                          {"hc", NULL, "{\"x\":3}", 2}};
    is_int(store_plan(s, "e", p, 3, &err), 0, "a plan of 3 points");
    is_text(db, "SELECT group_concat(config_hash || position || label || status, ';') FROM"
            " (SELECT * FROM plan_status ORDER BY position)", "ha0x=1missing;hb1x=2missing;hc2missing",
            "recorded in order, all missing (a NULL label is '')");
    is_int(store_plan(s, "e", p, 3, &err), 0, "the same plan again (a resumed sweep)");
    is_int(q_int(db, "SELECT count(*) FROM sweep_plan"), 3, "adds no row");
    nb_plan_point bad[2] = {{"hd", "x=4", "{}", 3}, {NULL, "x=5", "{}", 4}};
    ok(store_plan(s, "e", bad, 2, &err) != 0 && err && strstr(err, "plan.sqlite"),
       "a point without a hash fails, naming the file (%s)", err ? err : "?");
    is_int(q_int(db, "SELECT count(*) FROM sweep_plan"), 3, "and writes nothing (one transaction)");
    store_close(s);
    free(err);
    free(path);
}

int main(void)
{
    char *rt = nb_strf("%s/rt.sqlite", tap_tmpdir());
    test_schema_file();
    test_round_trip(rt);
    test_open(rt);
    test_errors();
    test_kill();
    test_upgrade_v1();
    test_upgrade_v2();
    test_readonly_old();
    test_plan();
    free(rt);
    return tap_done();
}
