/*
 * merge.c - shard stores into one store (see merge.h): check every input,
 * then one transaction per shard of set-based INSERT ... SELECT statements
 * through a temporary map of shard run ids to OUT's run ids; the shards'
 * planned points (sweep_plan) are merged as a union by config hash.
 */
#define _GNU_SOURCE
#include "merge.h"
#include "sha256.h"
#include "shard.h"
#include "interrupt.h"
#include "store.h"
#include "util.h"
#include "negbench/plugin.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The columns of run besides id, experiment_id and config_hash. */
static const char run_cols[] =
    "config_json, seed, model, model_version, sampler, sampler_version, dataset,"
    " data_checksum, threads, host, git_revision, negbench_version, status, error,"
    " started_at, finished_at, epochs_run, best_epoch, report_k, peak_rss_bytes";

/* The tables keyed by run_id, children first (deleted in this order), and
 * their columns besides run_id. */
static const char *const child_tables[][2] = {
    {"epoch_metric", "epoch, split, metric, k, value"},
    {"sampler_stat", "epoch, name, value"},
    {"epoch", "epoch, loss, train_seconds, eval_seconds"},
    {"final_metric", "split, metric, k, value"},
    {"user_hits", "user, k, items"},
    {"user_ranks", "split, k, n_users, n_hits, data"},
    {"score_histogram", "epoch, name, lo, hi, counts"},
};
#define N_CHILD (sizeof child_tables / sizeof *child_tables)

/* "a, b" -> "p.a, p.b" (malloc'd). */
static char *prefixed(const char *cols, const char *p)
{
    char *out = nb_xstrdup(""), *list = nb_xstrdup(cols), *save = NULL;
    for (char *c = strtok_r(list, ", ", &save); c; c = strtok_r(NULL, ", ", &save)) {
        char *next = nb_strf("%s%s%s.%s", out, *out ? ", " : "", p, c);
        free(out);
        out = next;
    }
    free(list);
    return out;
}

static int exec_sql(sqlite3 *db, const char *path, const char *sql, char **err)
{
    char *msg = NULL;
    int status = NB_OK;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        status = nb_fail(err, NB_ERR, "%s: merge: %s", path, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return status;
}

/* One integer from a query on db (0 when no row). */
static int query_int(sqlite3 *db, const char *sql, long long *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    *out = 0;
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0), rc = SQLITE_OK;
    else if (rc == SQLITE_DONE) rc = SQLITE_OK;
    sqlite3_finalize(st);
    return rc;
}

/* A meta value of the open shard (malloc'd), or NULL. */
static char *meta(sqlite3 *db, const char *key)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = nb_xstrdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return v;
}

/* A meta value read as an integer in [lo, hi]: the whole text a decimal
 * number. 0, or NB_EINVAL naming the file and key: a shard's meta table is
 * input like any other (a damaged or edited store must not index arrays). */
static int meta_int(const char *path, const char *key, const char *text, long long lo,
                    long long hi, int *out, char **err)
{
    char *end = NULL;
    errno = 0;
    long long v = text && *text ? strtoll(text, &end, 10) : 0;
    if (!text || !*text || *end || errno || v < lo || v > hi)
        return nb_fail(err, NB_EINVAL, "%s: meta %s = '%.40s' is not an integer in [%lld, %lld] "
                       "(a damaged or edited shard store)", path, key, text ? text : "",
                       lo, hi);
    *out = (int)v;
    return NB_OK;
}

/* 64 lowercase hex digits (a SHA-256). */
static int is_sha256_hex(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
    return n == 64;
}

/* Every run's config_hash must be the SHA-256 of its config_json: a run
 * is merged by its hash, so a mismatch would file it under another run. */
static int check_run_hashes(sqlite3 *db, const char *path, char **err)
{
    sqlite3_stmt *st = NULL;
    int status = NB_OK, rc;
    if (sqlite3_prepare_v2(db, "SELECT id, config_hash, config_json FROM run ORDER BY id", -1,
                           &st, NULL) != SQLITE_OK)
        return nb_fail(err, NB_EINVAL, "%s: cannot read its runs: %s", path, sqlite3_errmsg(db));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(st, 1);
        const unsigned char *json = sqlite3_column_text(st, 2);
        char want[65];
        sha256_hex(json ? (const char *)json : "", json ? (size_t)sqlite3_column_bytes(st, 2) : 0,
                   want);
        if (!hash || strcmp(hash, want) != 0) {
            status = nb_fail(err, NB_EINVAL, "%s: run %lld: config_hash %.12s does not match its "
                             "config_json (sha256 %.12s): a damaged or edited store", path,
                             (long long)sqlite3_column_int64(st, 0), hash ? hash : "(null)",
                             want);
            break;
        }
    }
    if (!status && rc != SQLITE_DONE)
        status = nb_fail(err, NB_EINVAL, "%s: cannot read its runs: %s", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return status;
}

/* Read shard path's identity and counts into sh (and the grid's into rep
 * for the first one), every value checked. 0 or NB_EINVAL with *err. */
static int inspect(const char *path, nb_merge_shard *sh, nb_merge_report *rep, char **err)
{
    sqlite3 *db = NULL;
    struct stat st;
    long long version = 0, v;
    char *idx = NULL, *cnt = NULL, *ident = NULL, *runs = NULL, *grid = NULL, *name = NULL;
    int status = NB_OK, grid_runs = 0;
    sh->path = path;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        status = nb_fail(err, NB_EINVAL, "%s: %s", path,
                         stat(path, &st) != 0 ? "no such file" : "not a regular file");
        goto out;
    }
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        query_int(db, "PRAGMA user_version", &version) != SQLITE_OK ||
        query_int(db, "SELECT count(*) FROM meta WHERE key = 'created_by' AND value = 'negbench'",
                  &v) != SQLITE_OK || v != 1) {
        status = nb_fail(err, NB_EINVAL, "%s: not a negbench store", path);
        goto out;
    }
    if (version < 2 || version > NB_STORE_SCHEMA_VERSION) { /* 2: no sweep_plan, else alike */
        status = nb_fail(err, NB_EINVAL, "%s: store schema version %lld, this negbench merges "
                         "2 to %d", path, version, NB_STORE_SCHEMA_VERSION);
        goto out;
    }
    idx = meta(db, "shard_index"), cnt = meta(db, "shard_count");
    ident = meta(db, "grid_identity"), runs = meta(db, "shard_runs");
    grid = meta(db, "grid_runs"), name = meta(db, "experiment");
    if (!idx || !cnt || !ident || !runs || !grid || !name) {
        status = nb_fail(err, NB_EINVAL, "%s: not a shard store (no shard identity in its meta "
                         "table; it was not written by negbench run --shard)", path);
        goto out;
    }
    if ((status = meta_int(path, "shard_count", cnt, 1, NB_SHARD_MAX, &sh->count, err)) ||
        (status = meta_int(path, "shard_index", idx, 0, sh->count - 1, &sh->index, err)) ||
        (status = meta_int(path, "grid_runs", grid, 0, NB_SHARD_MAX_RUNS, &grid_runs, err)) ||
        (status = meta_int(path, "shard_runs", runs, 0, grid_runs, &sh->expected, err)))
        goto out;
    if (!is_sha256_hex(ident)) {
        status = nb_fail(err, NB_EINVAL, "%s: meta grid_identity = '%.40s' is not a SHA-256 "
                         "(a damaged or edited shard store)", path, ident);
        goto out;
    }
    if ((status = check_run_hashes(db, path, err))) goto out;
    if (query_int(db, "SELECT count(*) FROM run", &v) == SQLITE_OK) sh->runs = (int)v;
    if (query_int(db, "SELECT count(*) FROM run WHERE status = 'done'", &v) == SQLITE_OK)
        sh->done = (int)v;
    if (query_int(db, "SELECT count(*) FROM run WHERE status = 'failed'", &v) == SQLITE_OK)
        sh->failed = (int)v;
    if (!rep->experiment) {
        rep->count = sh->count;
        rep->grid_runs = grid_runs;
        snprintf(rep->identity, sizeof rep->identity, "%s", ident);
        rep->experiment = nb_xstrdup(name);
    } else if (strcmp(ident, rep->identity) != 0 || sh->count != rep->count ||
               grid_runs != rep->grid_runs) {
        status = nb_fail(err, NB_EINVAL, "%s: shard %d/%d of another grid or split than %s "
                         "(shard %d/%d of %s): merge each grid on its own", path, sh->index,
                         sh->count, rep->shards[0].path, rep->shards[0].index, rep->count,
                         rep->experiment);
    }
out:
    sqlite3_close(db);
    free(idx), free(cnt), free(ident), free(runs), free(grid), free(name);
    return status;
}

/* Same file (device and inode) as another path? */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The statements merging the attached schema "shard" into main. */
static char *merge_sql(void)
{
    char *r_cols = prefixed(run_cols, "r");
    char *sql = nb_strf(
        "CREATE TEMP TABLE IF NOT EXISTS merge_map (src INTEGER PRIMARY KEY, hash TEXT NOT NULL,"
        " dst INTEGER);\n"
        "DELETE FROM temp.merge_map;\n"
        "INSERT OR IGNORE INTO main.experiment (name, yaml_text, yaml_sha256, created_at)"
        " SELECT name, yaml_text, yaml_sha256, created_at FROM shard.experiment ORDER BY id;\n"
        /* the shard's runs to copy: new, or replacing one not done (or done
         * by a done one), and not the very same result */
        "INSERT INTO temp.merge_map (src, hash, dst)"
        " SELECT r.id, r.config_hash, m.id FROM shard.run r"
        " LEFT JOIN main.run m ON m.config_hash = r.config_hash"
        " WHERE m.id IS NULL OR ((m.status != 'done' OR r.status = 'done') AND NOT"
        " (m.status = r.status AND m.started_at = r.started_at AND m.finished_at IS"
        " r.finished_at AND m.epochs_run = r.epochs_run));\n");
    for (size_t t = 0; t < N_CHILD; t++) {
        char *next = nb_strf("%sDELETE FROM main.%s WHERE run_id IN"
                             " (SELECT dst FROM temp.merge_map WHERE dst IS NOT NULL);\n",
                             sql, child_tables[t][0]);
        free(sql);
        sql = next;
    }
    char *next = nb_strf(
        "%s"
        "UPDATE main.run AS t SET (experiment_id, %s) = (x.id, %s)"
        " FROM shard.run r JOIN temp.merge_map mm ON mm.src = r.id"
        " JOIN shard.experiment se ON se.id = r.experiment_id"
        " JOIN main.experiment x ON x.yaml_sha256 = se.yaml_sha256"
        " WHERE t.id = mm.dst;\n"
        "INSERT INTO main.run (experiment_id, config_hash, %s)"
        " SELECT x.id, r.config_hash, %s FROM shard.run r"
        " JOIN temp.merge_map mm ON mm.src = r.id AND mm.dst IS NULL"
        " JOIN shard.experiment se ON se.id = r.experiment_id"
        " JOIN main.experiment x ON x.yaml_sha256 = se.yaml_sha256 ORDER BY r.id;\n"
        "UPDATE temp.merge_map SET dst = (SELECT m.id FROM main.run m"
        " WHERE m.config_hash = merge_map.hash) WHERE dst IS NULL;\n",
        sql, run_cols, r_cols, run_cols, r_cols);
    free(sql);
    sql = next;
    for (size_t t = N_CHILD; t-- > 0;) {
        char *c_cols = prefixed(child_tables[t][1], "c");
        next = nb_strf("%sINSERT INTO main.%s (run_id, %s) SELECT mm.dst, %s FROM shard.%s c"
                       " JOIN temp.merge_map mm ON mm.src = c.run_id ORDER BY c.rowid;\n",
                       sql, child_tables[t][0], child_tables[t][1], c_cols, child_tables[t][0]);
        free(c_cols);
        free(sql);
        sql = next;
    }
    free(r_cols);
    return sql;
}

/* The union of the planned points: the attached shard's sweep_plan rows
 * whose hash OUT lacks (a shard of schema version 2 has none). */
static int merge_plan(sqlite3 *db, const char *out_path, char **err)
{
    long long has = 0;
    if (query_int(db, "SELECT count(*) FROM shard.sqlite_schema WHERE type = 'table'"
                  " AND name = 'sweep_plan'", &has) != SQLITE_OK)
        return nb_fail(err, NB_ERR, "%s: merge: %s", out_path, sqlite3_errmsg(db));
    if (!has) return NB_OK;
    return exec_sql(db, out_path,
                    "INSERT OR IGNORE INTO main.sweep_plan (config_hash, experiment, position,"
                    " label, config_json, planned_at) SELECT config_hash, experiment, position,"
                    " label, config_json, planned_at FROM shard.sweep_plan ORDER BY position",
                    err);
}

/* The meta key of a merged store naming the grid merged into it. */
#define MERGED_GRID_KEY "merged_grid_identity"

/* Merge one shard in one transaction, which also records the grid's
 * identity in OUT; sh->copied receives its run count. */
static int merge_one(nb_store *out, const char *out_path, const char *sql, const char *identity,
                     nb_merge_shard *sh, char **err)
{
    sqlite3 *db = store_db(out);
    sqlite3_stmt *st = NULL;
    long long copied = 0;
    int status = NB_OK;
    if (sqlite3_prepare_v2(db, "ATTACH ?1 AS shard", -1, &st, NULL) != SQLITE_OK) {
        status = nb_fail(err, NB_ERR, "%s: merge: %s", out_path, sqlite3_errmsg(db));
        goto out;
    }
    sqlite3_bind_text(st, 1, sh->path, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        status = nb_fail(err, NB_ERR, "%s: cannot attach: %s", sh->path, sqlite3_errmsg(db));
        goto out;
    }
    if ((status = exec_sql(db, out_path, "BEGIN IMMEDIATE", err)) ||
        (status = store_meta_set(out, MERGED_GRID_KEY, identity, err)) ||
        (status = exec_sql(db, out_path, sql, err)) ||
        (status = merge_plan(db, out_path, err)) ||
        query_int(db, "SELECT count(*) FROM temp.merge_map", &copied) != SQLITE_OK ||
        (status = exec_sql(db, out_path, "COMMIT", err)))
        goto detach;
    sh->copied = (int)copied;
detach:
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(db, "DETACH shard", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    return status;
}

/* SQLite's progress callback: non-zero aborts the statement (a signal). */
static int merge_stop(void *unused)
{
    (void)unused;
    return interrupt_flag != 0;
}

int merge_shards(const char *out, char *const *paths, int n, nb_merge_report *rep, char **err)
{
    nb_store *s = NULL;
    char *sql = NULL, *kind = NULL;
    int status = NB_OK;
    memset(rep, 0, sizeof *rep);
    rep->n = n;
    rep->shards = nb_xcalloc((size_t)n + 1, sizeof *rep->shards);
    /* 1. every input, before anything is written */
    for (int i = 0; i < n; i++) {
        nb_merge_shard *sh = &rep->shards[i];
        if (same_file(out, paths[i])) {
            status = nb_fail(err, NB_EINVAL, "%s: the output is also an input", out);
            goto out;
        }
        if ((status = inspect(paths[i], sh, rep, err))) goto out;
        for (int j = 0; j < i && !sh->duplicate; j++) {
            if (rep->shards[j].duplicate || rep->shards[j].index != sh->index) continue;
            if (!same_file(paths[i], paths[j])) {
                status = nb_fail(err, NB_EINVAL, "%s: shard %d/%d given twice (also %s)",
                                 paths[i], sh->index, sh->count, paths[j]);
                goto out;
            }
            sh->duplicate = 1;
        }
    }
    /* 2. the output: a plain store; inputs and output undamaged */
    for (int i = 0; i < n; i++)
        if ((status = store_check_file(paths[i], err))) goto out;
    if ((status = store_open(out, &s, err)) || (status = store_check(s, err))) goto out;
    if ((status = store_meta_get(s, "shard_index", &kind, err)) < 0) goto out;
    if (status == 1) {
        status = nb_fail(err, NB_EINVAL, "%s: is itself a shard store: merge into another file",
                         out);
        goto out;
    }
    free(kind);
    kind = NULL;
    if ((status = store_meta_get(s, MERGED_GRID_KEY, &kind, err)) < 0) goto out;
    if (status == 1 && strcmp(kind, rep->identity) != 0) {
        status = nb_fail(err, NB_EINVAL, "%s: holds the merge of another grid (identity %.12s, "
                         "the shards' %.12s): merge into another file", out, kind,
                         rep->identity);
        goto out;
    }
    status = NB_OK;
    /* 3. one transaction per shard; a signal stops it between SQLite steps
     * (the shard in progress rolls back, those merged stay) */
    interrupt_set_deferred(1);
    sqlite3_progress_handler(store_db(s), 1000, merge_stop, NULL);
    sql = merge_sql();
    int *seen = nb_xcalloc((size_t)rep->count + 1, sizeof *seen);
    for (int i = 0; i < n && !status; i++) {
        nb_merge_shard *sh = &rep->shards[i];
        if (sh->duplicate) continue;
        seen[sh->index] = 1;
        if (interrupt_flag || (status = merge_one(s, out, sql, rep->identity, sh, err))) break;
        rep->copied += sh->copied;
        rep->done_total += sh->done;
        rep->n_partial += sh->done < sh->expected;
    }
    rep->missing = nb_xcalloc((size_t)rep->count + 1, sizeof *rep->missing);
    for (int k = 0; k < rep->count; k++)
        if (!seen[k]) rep->missing[rep->n_missing++] = k;
    free(seen);
    if (interrupt_flag) {
        free(*err);
        *err = NULL;
        status = nb_fail(err, NB_EINTR, "%s: interrupted; the shards merged so far are "
                         "committed: merge again to complete it", out);
    }
out:
    store_close(s);
    free(sql);
    free(kind);
    return status;
}

void merge_report_free(nb_merge_report *rep)
{
    if (!rep) return;
    free(rep->shards);
    free(rep->missing);
    free(rep->experiment);
    memset(rep, 0, sizeof *rep);
}
