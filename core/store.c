/*
 * store.c - the SQLite results store, schema v3 (results/schema.sql,
 * embedded as core/store_schema.h).
 *
 * Every write function is one transaction (BEGIN IMMEDIATE ... COMMIT,
 * ROLLBACK on any error), so a killed process leaves whole epochs and whole
 * runs only. The statements used per epoch are prepared once at open and
 * cached in the nb_store. Error messages start with the store's file name.
 */
#define _GNU_SOURCE
#include "store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "negbench/plugin.h"
#include "sha256.h"
#include "store_owner.h"
#include "store_schema.h"
#include "user_ranks.h"
#include "util.h"

/* Cached statements, prepared once by store_open. */
enum {
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
    Q_RUN_STATUS_BY_ID, Q_RUN_BY_HASH,
    Q_EPOCH_INSERT, Q_METRIC_INSERT, Q_STAT_INSERT, Q_RUN_PROGRESS,
    Q_HIST_INSERT,
    Q_N
};

static const char *const query_sql[Q_N] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_RUN_STATUS_BY_ID] = "SELECT status FROM run WHERE id = ?1",
    [Q_RUN_BY_HASH] = "SELECT id, status FROM run WHERE config_hash = ?1",
    [Q_EPOCH_INSERT] = "INSERT INTO epoch (run_id, epoch, loss, train_seconds,"
                       " eval_seconds) VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_METRIC_INSERT] = "INSERT INTO epoch_metric (run_id, epoch, split, metric,"
                        " k, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_STAT_INSERT] = "INSERT INTO sampler_stat (run_id, epoch, name, value)"
                      " VALUES (?1, ?2, ?3, ?4)",
    [Q_RUN_PROGRESS] = "UPDATE run SET epochs_run = max(epochs_run, ?2)"
                       " WHERE id = ?1",
    [Q_HIST_INSERT] = "INSERT INTO score_histogram (run_id, epoch, name, lo, hi,"
                      " counts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

struct nb_store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *q[Q_N];
    unsigned char *buf;      /* scratch for little-endian BLOBs */
    size_t buf_cap;
    int version;             /* schema version (older only when opened read-only) */
};

/* ---- small helpers ---------------------------------------------------- */

/* Current time as ISO-8601 UTC with milliseconds, "2024-05-01T10:11:12.345Z". */
static void now_iso(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* What to run to see the damage in a store (malloc'd). */
static char *check_hint(const char *path)
{
    return nb_strf("the store is damaged: `sqlite3 '%s' 'PRAGMA integrity_check'` lists the "
                   "damage; keep a copy and use a new --db", path);
}

/* A failure message "path: what: sqlite message" for the last error, with
 * the command that checks the file when SQLite found it damaged. */
static int db_fail(nb_store *s, char **err, const char *what)
{
    int code = sqlite3_extended_errcode(s->db) & 0xff;
    if (code != SQLITE_CORRUPT && code != SQLITE_NOTADB)
        return nb_fail(err, NB_ERR, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    char *hint = check_hint(s->path);
    int rc = nb_fail(err, NB_ERR, "%s: %s: %s; %s", s->path, what, sqlite3_errmsg(s->db), hint);
    free(hint);
    return rc;
}

/* Step a cached statement that returns no row, then reset it. */
static int step_done(nb_store *s, sqlite3_stmt *st, const char *what, char **err)
{
    int rc = sqlite3_step(st);
    int status = NB_OK;
    if (rc != SQLITE_DONE) status = db_fail(s, err, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

/* Run sql (no rows wanted); on failure *err is "what: SQLite's message". */
static int exec_sql(nb_store *s, const char *sql, const char *what, char **err)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? NB_OK
                                                                   : db_fail(s, err, what);
}

/* BEGIN and COMMIT through their prepared statements (every write of the
 * store is one transaction: an epoch, a run's start, its finish). */
static int tx_begin(nb_store *s, char **err)
{
    return step_done(s, s->q[Q_BEGIN], "cannot begin a transaction", err);
}

static int tx_commit(nb_store *s, char **err)
{
    return step_done(s, s->q[Q_COMMIT], "cannot commit", err);
}

/* Roll back if a transaction is open (keeps the first error message). */
static void tx_rollback(nb_store *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_step(s->q[Q_ROLLBACK]);
        sqlite3_reset(s->q[Q_ROLLBACK]);
    }
}

/* Bind v to parameter i, or NULL when v is NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* Scratch buffer of at least n bytes (grown, never shrunk). */
static unsigned char *scratch(nb_store *s, size_t n)
{
    if (n > s->buf_cap) {
        s->buf = nb_xrealloc(s->buf, n);
        s->buf_cap = n;
    }
    return s->buf;
}

/* Status text of a run into out[16] ("" when absent); 0 ok, <0 error. */
static int run_status_by_id(nb_store *s, int64_t run_id, char out[16], char **err)
{
    sqlite3_stmt *st = s->q[Q_RUN_STATUS_BY_ID];
    int status = NB_OK;
    out[0] = '\0';
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(out, 16, "%s", (const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_DONE)
        status = db_fail(s, err, "cannot read a run");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

/* Check inside a transaction that run_id exists and is running. */
static int require_running(nb_store *s, int64_t run_id, const char *what,
                           char **err)
{
    char st[16];
    int status = run_status_by_id(s, run_id, st, err);
    if (status) return status;
    if (!st[0])
        return nb_fail(err, NB_EINVAL, "%s: %s: run %lld does not exist",
                       s->path, what, (long long)run_id);
    if (strcmp(st, "running") != 0)
        return nb_fail(err, NB_EINVAL, "%s: %s: run %lld is not running (status %s)",
                       s->path, what, (long long)run_id, st);
    return NB_OK;
}

/* Insert every metric of m under (run, epoch or final, split). */
static int put_metrics(nb_store *s, sqlite3_stmt *st, int64_t run_id,
                       int32_t epoch, const char *split, const nb_metrics *m,
                       char **err)
{
    if (m->n_ks < 0 || m->n_ks > NB_MAX_KS)
        return nb_fail(err, NB_EINVAL, "%s: %s metrics have %d cut-offs (0..%d)",
                       s->path, split, m->n_ks, NB_MAX_KS);
    int col = epoch >= 0 ? 3 : 2;  /* epoch_metric binds epoch at ?2 */
    for (int mi = 0; mi < NB_N_METRICS; mi++)
        for (int ki = 0; ki < m->n_ks; ki++) {
            sqlite3_bind_int64(st, 1, run_id);
            if (epoch >= 0) sqlite3_bind_int(st, 2, epoch);
            sqlite3_bind_text(st, col, split, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, col + 1, nb_metric_names[mi], -1, SQLITE_STATIC);
            sqlite3_bind_int(st, col + 2, m->ks[ki]);
            sqlite3_bind_double(st, col + 3, m->value[mi][ki]);
            int status = step_done(s, st, "cannot store a metric", err);
            if (status) return status;
        }
    return NB_OK;
}

/* ---- open / close ----------------------------------------------------- */

/* The integer a one-row query (a PRAGMA) returns, into *out. */
static int pragma_int(nb_store *s, const char *sql, int *out, char **err)
{
    sqlite3_stmt *st = NULL;
    int status = NB_OK;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        status = db_fail(s, err, "cannot read the schema version");
        goto out;
    }
    *out = sqlite3_column_int(st, 0);
out:
    sqlite3_finalize(st);
    return status;
}

/* ==== schema upgrades ==================================================== */

/* The part of results/schema.sql a store of version v lacks: everything
 * from the marker line of version v + 1 (new tables and views only), or
 * NULL when the schema has no such marker. */
static const char *schema_after(int v)
{
    char marker[64];
    snprintf(marker, sizeof marker, "\n-- ---- added in schema version %d\n", v + 1);
    const char *at = strstr(nb_store_schema_sql, marker);
    return at ? at + 1 : NULL;
}

/* Inside the caller's transaction: add the tables of every later version
 * to a store of version `from` and set the version. Old rows are not
 * touched. */
static int schema_upgrade(nb_store *s, int from, char **err)
{
    const char *part = schema_after(from);
    char *what = nb_strf("cannot upgrade the store from schema version %d to %d", from,
                         NB_STORE_SCHEMA_VERSION), *sql = NULL;
    int status;
    if (!part) {
        status = nb_fail(err, NB_ERR, "%s: internal: no schema part after version %d", s->path,
                         from);
        goto out;
    }
    if ((status = exec_sql(s, part, what, err))) goto out;
    sql = sqlite3_mprintf("UPDATE meta SET value = '%d' WHERE key = 'schema_version';"
                          " INSERT OR REPLACE INTO meta (key, value) VALUES ('upgraded_from', '%d');"
                          " PRAGMA user_version = %d;",
                          NB_STORE_SCHEMA_VERSION, from, NB_STORE_SCHEMA_VERSION);
    status = exec_sql(s, sql, what, err);
out:
    sqlite3_free(sql);
    free(what);
    return status;
}

/* ==== end of the schema upgrades ========================================= */

/* Read-only: accept a store of this or an older version as it is (no
 * upgrade: nothing is written); refuse a newer one or a file that is not a
 * store. */
static int schema_check_readonly(nb_store *s, char **err)
{
    int version = 0, n_tables = 0, status;
    if ((status = pragma_int(s, "PRAGMA user_version", &version, err))) return status;
    s->version = version;
    if (version > NB_STORE_SCHEMA_VERSION)
        return nb_fail(err, NB_EINVAL, "%s: results store schema version %d is newer than "
                       "this negbench's (%d)", s->path, version, NB_STORE_SCHEMA_VERSION);
    if (version >= 1) return NB_OK;
    if ((status = pragma_int(s, "SELECT count(*) FROM sqlite_schema", &n_tables, err)))
        return status;
    return nb_fail(err, NB_EINVAL, "%s: not a negbench results store (schema version %d, "
                   "%d existing objects)", s->path, version, n_tables);
}

/* Create the schema in a new file, upgrade an older store, or check the
 * version of an existing one. Runs in one IMMEDIATE transaction so
 * concurrent openers create (or upgrade) it once. */
static int schema_ensure(nb_store *s, char **err)
{
    int version = 0, n_tables = 0, status;
    char now[32], *sql = NULL;

    /* The common case, an existing store of this version, needs no write
     * lock: a sweep worker opens the store once per run. */
    if ((status = pragma_int(s, "PRAGMA user_version", &version, err))) return status;
    s->version = version;
    if (version == NB_STORE_SCHEMA_VERSION) return NB_OK;
    status = exec_sql(s, "BEGIN IMMEDIATE", "cannot begin a transaction", err);
    if (status) return status;
    if ((status = pragma_int(s, "PRAGMA user_version", &version, err))) goto out;
    s->version = version; /* another process may have upgraded it meanwhile */
    if (version > NB_STORE_SCHEMA_VERSION) {
        status = nb_fail(err, NB_EINVAL, "%s: results store schema version %d is "
                         "newer than this negbench's (%d)", s->path, version,
                         NB_STORE_SCHEMA_VERSION);
        goto out;
    }
    if (version == NB_STORE_SCHEMA_VERSION) goto out;
    if (version >= 1) {
        if ((status = schema_upgrade(s, version, err))) goto out;
        if (!(status = exec_sql(s, "COMMIT", "cannot commit", err)))
            s->version = NB_STORE_SCHEMA_VERSION;
        goto out;
    }
    if ((status = pragma_int(s, "SELECT count(*) FROM sqlite_schema", &n_tables,
                             err)))
        goto out;
    if (version != 0 || n_tables != 0) {
        status = nb_fail(err, NB_EINVAL, "%s: not a negbench results store "
                         "(schema version %d, %d existing objects)", s->path,
                         version, n_tables);
        goto out;
    }
    if ((status = exec_sql(s, nb_store_schema_sql, "cannot create the schema", err)))
        goto out;
    now_iso(now);
    sql = sqlite3_mprintf("INSERT INTO meta (key, value) VALUES ('created_at', %Q)",
                          now);
    if ((status = exec_sql(s, sql, "cannot create the schema", err))) goto out;
    if (!(status = exec_sql(s, "COMMIT", "cannot commit", err)))
        s->version = NB_STORE_SCHEMA_VERSION;
out:
    sqlite3_free(sql);
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return status;
}

/* "file:" URI of path opened as immutable (for read-only media); malloc'd. */
static char *immutable_uri(const char *path)
{
    char *uri = nb_xcalloc(strlen(path) * 3 + 32, 1), *o = uri;
    o += sprintf(o, "file:");
    for (const char *p = path; *p; p++)
        o += (*p == '%' || *p == '?' || *p == '#') ? sprintf(o, "%%%02X", (unsigned char)*p)
                                                   : sprintf(o, "%c", *p);
    strcpy(o, "?immutable=1");
    return uri;
}

/* Open the connection: read-write (creating the file), or read-only, then
 * as immutable when the medium cannot hold WAL's shared-memory file. */
static int open_db(nb_store *s, int readonly, char **err)
{
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int version = 0;
    char *uri = NULL;
    if (sqlite3_open_v2(s->path, &s->db, flags, NULL) == SQLITE_OK && readonly &&
        sqlite3_exec(s->db, "PRAGMA user_version", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(s->db); /* no -shm beside it and none can be created */
        uri = immutable_uri(s->path);
        sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    }
    free(uri);
    if (!s->db || sqlite3_errcode(s->db) != SQLITE_OK)
        return nb_fail(err, NB_ERR, "%s: cannot open results store: %s", s->path,
                       s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 10000);
    if (readonly) return pragma_int(s, "PRAGMA user_version", &version, err);
    int status;
    if ((status = exec_sql(s, "PRAGMA foreign_keys = ON", "cannot open", err)) ||
        (status = exec_sql(s, "PRAGMA journal_mode = WAL", "cannot open", err)) ||
        (status = exec_sql(s, "PRAGMA synchronous = NORMAL", "cannot open", err)))
        return status;
    return NB_OK;
}

/* Open (readonly: without creating or writing) the store at path, create
 * or check its schema and prepare the statements. NB_OK with *out, else a
 * code with *err and *out NULL. */
static int open_mode(const char *path, int readonly, nb_store **out, char **err)
{
    nb_store *s = nb_xcalloc(1, sizeof *s);
    int status = NB_OK;
    *out = NULL;
    s->path = nb_xstrdup(path);
    if ((status = open_db(s, readonly, err)) ||
        (status = readonly ? schema_check_readonly(s, err) : schema_ensure(s, err)))
        goto out;
    for (int i = 0; i < Q_N; i++)
        if (sqlite3_prepare_v3(s->db, query_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->q[i], NULL) != SQLITE_OK) {
            status = db_fail(s, err, "cannot prepare a statement");
            goto out;
        }
    *out = s;
out:
    if (status) store_close(s);
    return status;
}

int store_open(const char *path, nb_store **out, char **err)
{
    return open_mode(path, 0, out, err);
}

int store_open_readonly(const char *path, nb_store **out, char **err)
{
    return open_mode(path, 1, out, err);
}

/* PRAGMA quick_check: NB_OK when the first (only) row is "ok". */
static int quick_check(nb_store *s, char **err)
{
    sqlite3_stmt *st = NULL;
    int status = NB_OK;
    if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        status = db_fail(s, err, "cannot check the store");
    } else if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
        char *hint = check_hint(s->path), *what = nb_xstrdup((const char *)
                                                                sqlite3_column_text(st, 0));
        for (char *c = what; *c; c++)
            if (*c == '\n') *c = ' '; /* one line */
        status = nb_fail(err, NB_EINVAL, "%s: %s (first problem: %s)", s->path, hint, what);
        free(hint);
        free(what);
    }
    sqlite3_finalize(st);
    return status;
}

int store_check(nb_store *s, char **err)
{
    int status = quick_check(s, err);
    return status ? status : owner_check_foreign(s->db, s->path, err);
}

int store_check_file(const char *path, char **err)
{
    nb_store *s = NULL;
    int status = store_open_readonly(path, &s, err);
    if (!status) status = quick_check(s, err);
    store_close(s);
    return status;
}

/* Finalize the cached statements and close the file (NULL is a no-op). */
void store_close(nb_store *s)
{
    if (!s) return;
    for (int i = 0; i < Q_N; i++) sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s->buf);
    free(s->path);
    free(s);
}

struct sqlite3 *store_db(nb_store *s)
{
    return s->db;
}

int store_version(const nb_store *s)
{
    return s->version;
}


/* ---- experiments and runs -------------------------------------------- */

int store_experiment(nb_store *s, const char *name, const char *yaml_text,
                     int64_t *experiment_id, char **err)
{
    sqlite3_stmt *sel = NULL, *ins = NULL;
    char hex[65], now[32];
    int status, rc;

    if (!name || !yaml_text)
        return nb_fail(err, NB_EINVAL, "%s: experiment without a name or YAML text",
                       s->path);
    sha256_hex(yaml_text, strlen(yaml_text), hex);
    if ((status = tx_begin(s, err))) return status;
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM experiment WHERE yaml_sha256 = ?1",
                           -1, &sel, NULL) != SQLITE_OK) {
        status = db_fail(s, err, "cannot find the experiment");
        goto out;
    }
    sqlite3_bind_text(sel, 1, hex, -1, SQLITE_STATIC);
    rc = sqlite3_step(sel);
    if (rc == SQLITE_ROW) {
        *experiment_id = sqlite3_column_int64(sel, 0);
    } else if (rc != SQLITE_DONE) {
        status = db_fail(s, err, "cannot find the experiment");
        goto out;
    } else {
        if (sqlite3_prepare_v2(s->db, "INSERT INTO experiment (name, yaml_text, "
                               "yaml_sha256, created_at) VALUES (?1, ?2, ?3, ?4)",
                               -1, &ins, NULL) != SQLITE_OK) {
            status = db_fail(s, err, "cannot store the experiment");
            goto out;
        }
        now_iso(now);
        sqlite3_bind_text(ins, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, yaml_text, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, now, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            status = db_fail(s, err, "cannot store the experiment");
            goto out;
        }
        *experiment_id = sqlite3_last_insert_rowid(s->db);
    }
    status = tx_commit(s, err);
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    if (status) tx_rollback(s);
    return status;
}

/* Look up a run by hash inside or outside a transaction: 0 absent, 1 done,
 * 2 unfinished; *id receives its id (0 when absent). */
static int run_lookup(nb_store *s, const char *hash, int64_t *id, char **err)
{
    sqlite3_stmt *st = s->q[Q_RUN_BY_HASH];
    int result = 0;
    *id = 0;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        result = strcmp((const char *)sqlite3_column_text(st, 1), "done") == 0 ? 1 : 2;
    } else if (rc != SQLITE_DONE) {
        result = db_fail(s, err, "cannot read a run");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return result;
}

int store_run_status(nb_store *s, const char *config_hash, int64_t *run_id,
                     char **err)
{
    int64_t id = 0;
    if (!config_hash)
        return nb_fail(err, NB_EINVAL, "%s: run status without a hash", s->path);
    int r = run_lookup(s, config_hash, &id, err);
    if (run_id) *run_id = id;
    return r;
}

/* Bind the nb_run_info columns ?1..?15 shared by the INSERT and the UPDATE. */
static void bind_run_info(sqlite3_stmt *st, const nb_run_info *in, const char *now)
{
    sqlite3_bind_int64(st, 1, in->experiment_id);
    bind_text(st, 2, in->config_json);
    bind_text(st, 3, in->config_hash);
    sqlite3_bind_int64(st, 4, in->seed);
    bind_text(st, 5, in->model);
    bind_text(st, 6, in->model_version);
    bind_text(st, 7, in->sampler);
    bind_text(st, 8, in->sampler_version);
    bind_text(st, 9, in->dataset);
    bind_text(st, 10, in->data_checksum);
    sqlite3_bind_int(st, 11, in->threads);
    bind_text(st, 12, in->host);
    bind_text(st, 13, in->git_revision);
    bind_text(st, 14, in->negbench_version);
    sqlite3_bind_text(st, 15, now, -1, SQLITE_TRANSIENT);
}

/* Statements deleting everything a run produced, ?1 = run id. */
static const char *const run_wipe_sql[] = {
    "DELETE FROM epoch_metric WHERE run_id = ?1",
    "DELETE FROM sampler_stat WHERE run_id = ?1",
    "DELETE FROM epoch WHERE run_id = ?1",
    "DELETE FROM final_metric WHERE run_id = ?1",
    "DELETE FROM user_hits WHERE run_id = ?1",
    "DELETE FROM user_ranks WHERE run_id = ?1",
    "DELETE FROM score_histogram WHERE run_id = ?1",
};

/* Delete everything stored under run id except its row (epochs, metrics,
 * statistics, ranks, histograms): an unfinished run restarts empty. */
static int run_wipe(nb_store *s, int64_t id, char **err)
{
    sqlite3_stmt *st = NULL;
    int status = NB_OK;
    for (size_t i = 0; i < sizeof run_wipe_sql / sizeof *run_wipe_sql; i++) {
        if (sqlite3_prepare_v2(s->db, run_wipe_sql[i], -1, &st, NULL) != SQLITE_OK) {
            status = db_fail(s, err, "cannot restart a run");
            goto out;
        }
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) != SQLITE_DONE) {
            status = db_fail(s, err, "cannot restart a run");
            goto out;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
out:
    sqlite3_finalize(st);
    return status;
}

int store_run_begin(nb_store *s, const nb_run_info *info, int64_t *run_id,
                    char **err)
{
    static const char insert_sql[] =
        "INSERT INTO run (experiment_id, config_json, config_hash, seed, model,"
        " model_version, sampler, sampler_version, dataset, data_checksum,"
        " threads, host, git_revision, negbench_version, started_at, status)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
        " ?15, 'running')";
    static const char restart_sql[] =
        "UPDATE run SET experiment_id = ?1, config_json = ?2, seed = ?4,"
        " model = ?5, model_version = ?6, sampler = ?7, sampler_version = ?8,"
        " dataset = ?9, data_checksum = ?10, threads = ?11, host = ?12,"
        " git_revision = ?13, negbench_version = ?14, started_at = ?15,"
        " status = 'running', error = NULL, finished_at = NULL, epochs_run = 0,"
        " best_epoch = NULL, report_k = NULL, peak_rss_bytes = NULL"
        " WHERE config_hash = ?3";
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    char now[32];
    int status, found;

    if (!info->config_hash || !info->config_json || !info->model || !info->sampler)
        return nb_fail(err, NB_EINVAL, "%s: run without a configuration hash, "
                       "JSON, model or sampler", s->path);
    if ((status = tx_begin(s, err))) return status;
    found = run_lookup(s, info->config_hash, &id, err);
    if (found < 0) { status = found; goto out; }
    if (found == 1) {
        status = nb_fail(err, NB_EINVAL, "%s: run %s is already done", s->path,
                         info->config_hash);
        goto out;
    }
    /* an unfinished run is restarted only by the process that can claim it */
    if (found == 2 && ((status = owner_claim(s->db, s->path, id, err)) ||
                       (status = run_wipe(s, id, err))))
        goto out;
    if (sqlite3_prepare_v2(s->db, found ? restart_sql : insert_sql, -1, &st,
                           NULL) != SQLITE_OK) {
        status = db_fail(s, err, "cannot start a run");
        goto out;
    }
    now_iso(now);
    bind_run_info(st, info, now);
    if (sqlite3_step(st) != SQLITE_DONE) {
        status = db_fail(s, err, "cannot start a run");
        goto out;
    }
    if (!found) id = sqlite3_last_insert_rowid(s->db);
    if (!found && (status = owner_claim(s->db, s->path, id, err))) goto out;
    if ((status = tx_commit(s, err))) goto out;
    *run_id = id;
out:
    sqlite3_finalize(st);
    if (status) tx_rollback(s);
    return status;
}

/* ---- epochs ------------------------------------------------------------ */

int store_epoch(nb_store *s, int64_t run_id, const nb_epoch_record *rec,
                char **err)
{
    sqlite3_stmt *st;
    int status;

    if (rec->epoch < 1)
        return nb_fail(err, NB_EINVAL, "%s: epoch %d of run %lld: epochs count "
                       "from 1", s->path, rec->epoch, (long long)run_id);
    if (rec->n_stats < 0 || (rec->n_stats > 0 && !rec->stats))
        return nb_fail(err, NB_EINVAL, "%s: epoch %d of run %lld: bad statistics",
                       s->path, rec->epoch, (long long)run_id);
    if ((status = tx_begin(s, err))) return status;
    if ((status = require_running(s, run_id, "cannot store an epoch", err)) ||
        (status = owner_beat(s->db, s->path, run_id, err)))
        goto out;

    st = s->q[Q_EPOCH_INSERT];
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, rec->epoch);
    sqlite3_bind_double(st, 3, rec->loss);
    sqlite3_bind_double(st, 4, rec->train_seconds);
    sqlite3_bind_double(st, 5, rec->eval_seconds);
    if ((status = step_done(s, st, "cannot store an epoch", err))) goto out;

    if (rec->valid && (status = put_metrics(s, s->q[Q_METRIC_INSERT], run_id,
                                            rec->epoch, "valid", rec->valid, err)))
        goto out;
    if (rec->test && (status = put_metrics(s, s->q[Q_METRIC_INSERT], run_id,
                                           rec->epoch, "test", rec->test, err)))
        goto out;

    st = s->q[Q_STAT_INSERT];
    for (int i = 0; i < rec->n_stats; i++) {
        if (!rec->stats[i].name) {
            status = nb_fail(err, NB_EINVAL, "%s: epoch %d of run %lld: statistic "
                             "%d has no name", s->path, rec->epoch,
                             (long long)run_id, i);
            goto out;
        }
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int(st, 2, rec->epoch);
        sqlite3_bind_text(st, 3, rec->stats[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 4, rec->stats[i].value);
        if ((status = step_done(s, st, "cannot store a sampler statistic", err)))
            goto out;
    }

    st = s->q[Q_RUN_PROGRESS];
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, rec->epoch);
    if ((status = step_done(s, st, "cannot store an epoch", err))) goto out;
    status = tx_commit(s, err);
out:
    if (status) tx_rollback(s);
    return status;
}

int store_histogram(nb_store *s, int64_t run_id, int32_t epoch, const char *name,
                    double lo, double hi, int n_bins, const int64_t *counts,
                    char **err)
{
    sqlite3_stmt *st = s->q[Q_HIST_INSERT];
    unsigned char *b;
    int status;

    if (!name || n_bins <= 0 || !counts || !(lo < hi) || epoch < 0)
        return nb_fail(err, NB_EINVAL, "%s: histogram %s of run %lld epoch %d: "
                       "needs a name, bins, counts, epoch >= 0 and lo < hi",
                       s->path, name ? name : "(null)", (long long)run_id, epoch);
    b = scratch(s, (size_t)n_bins * 8);
    for (int i = 0; i < n_bins; i++) {
        uint64_t v = (uint64_t)counts[i];
        for (int j = 0; j < 8; j++) b[8 * i + j] = (unsigned char)(v >> (8 * j));
    }
    if ((status = tx_begin(s, err))) return status;
    if ((status = require_running(s, run_id, "cannot store a histogram", err)))
        goto out;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, epoch);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, lo);
    sqlite3_bind_double(st, 5, hi);
    sqlite3_bind_blob(st, 6, b, n_bins * 8, SQLITE_STATIC);
    if ((status = step_done(s, st, "cannot store a histogram", err))) goto out;
    status = tx_commit(s, err);
out:
    if (status) tx_rollback(s);
    return status;
}

/* ---- finishing a run --------------------------------------------------- */

/* Insert the per-user ranks of one split as one user_ranks BLOB. */
static int put_ranks(nb_store *s, int64_t run_id, const char *split, const nb_hits *h,
                     int32_t k, char **err)
{
    sqlite3_stmt *st = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;
    int status = NB_OK;

    if (h->n_rows < 0 || !h->ptr || !h->n_truth || !h->rank || k < 1 ||
        (h->nnz > 0 && !h->idx))
        return nb_fail(err, NB_EINVAL, "%s: run %lld: malformed %s ranks (need ranks, "
                       "|R(u)| and K >= 1)", s->path, (long long)run_id, split);
    for (int32_t u = 0; u < h->n_rows; u++)
        if (h->ptr[u + 1] < h->ptr[u] || h->ptr[u + 1] > h->nnz)
            return nb_fail(err, NB_EINVAL, "%s: run %lld: malformed %s ranks of user %d",
                           s->path, (long long)run_id, split, u);
    blob = user_ranks_encode(h, &len);
    if (sqlite3_prepare_v2(s->db, "INSERT INTO user_ranks (run_id, split, k, n_users,"
                           " n_hits, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st,
                           NULL) != SQLITE_OK) {
        status = db_fail(s, err, "cannot store per-user ranks");
        goto out;
    }
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, split, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, k);
    sqlite3_bind_int(st, 4, h->n_rows);
    sqlite3_bind_int64(st, 5, h->nnz);
    sqlite3_bind_blob64(st, 6, blob, len, SQLITE_STATIC);
    status = step_done(s, st, "cannot store per-user ranks", err);
out:
    sqlite3_finalize(st);
    free(blob);
    return status;
}

int store_run_finish(nb_store *s, int64_t run_id, const nb_run_result *res,
                     char **err)
{
    static const char update_sql[] =
        "UPDATE run SET status = ?2, error = ?3, finished_at = ?4,"
        " epochs_run = ?5, best_epoch = ?6, report_k = ?7, peak_rss_bytes = ?8"
        " WHERE id = ?1";
    sqlite3_stmt *fm = NULL, *up = NULL;
    char now[32];
    int status;

    if (!res->status || (strcmp(res->status, "done") != 0 &&
                         strcmp(res->status, "failed") != 0 &&
                         strcmp(res->status, "interrupted") != 0))
        return nb_fail(err, NB_EINVAL, "%s: run %lld: final status must be done, "
                       "failed or interrupted", s->path, (long long)run_id);
    if ((status = tx_begin(s, err))) return status;
    if ((status = require_running(s, run_id, "cannot finish a run", err)) ||
        (status = owner_release(s->db, s->path, run_id, err)))
        goto out;

    if (sqlite3_prepare_v2(s->db, "INSERT INTO final_metric (run_id, split, metric,"
                           " k, value) VALUES (?1, ?2, ?3, ?4, ?5)", -1, &fm,
                           NULL) != SQLITE_OK) {
        status = db_fail(s, err, "cannot store final metrics");
        goto out;
    }
    if (res->best_valid &&
        (status = put_metrics(s, fm, run_id, -1, "valid", res->best_valid, err)))
        goto out;
    if (res->best_test &&
        (status = put_metrics(s, fm, run_id, -1, "test", res->best_test, err)))
        goto out;
    if (res->hits && (status = put_ranks(s, run_id, "test", res->hits, res->report_k, err)))
        goto out;
    if (res->valid_hits &&
        (status = put_ranks(s, run_id, "valid", res->valid_hits, res->report_k, err)))
        goto out;

    if (sqlite3_prepare_v2(s->db, update_sql, -1, &up, NULL) != SQLITE_OK) {
        status = db_fail(s, err, "cannot finish a run");
        goto out;
    }
    now_iso(now);
    sqlite3_bind_int64(up, 1, run_id);
    sqlite3_bind_text(up, 2, res->status, -1, SQLITE_STATIC);
    bind_text(up, 3, res->error);
    sqlite3_bind_text(up, 4, now, -1, SQLITE_STATIC);
    sqlite3_bind_int(up, 5, res->epochs_run);
    if (res->best_epoch > 0) sqlite3_bind_int(up, 6, res->best_epoch);
    if (res->report_k > 0) sqlite3_bind_int(up, 7, res->report_k);
    if (res->peak_rss_bytes > 0) sqlite3_bind_int64(up, 8, res->peak_rss_bytes);
    if (sqlite3_step(up) != SQLITE_DONE) {
        status = db_fail(s, err, "cannot finish a run");
        goto out;
    }
    status = tx_commit(s, err);
out:
    sqlite3_finalize(fm);
    sqlite3_finalize(up);
    if (status) tx_rollback(s);
    return status;
}

int store_run_reopen(nb_store *s, const char *config_hash, char **err)
{
    sqlite3_stmt *st = NULL;
    int rc = NB_OK;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE run SET status = 'interrupted' WHERE config_hash = ?1"
                           " AND status = 'done'", /* never a running run */
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "prepare reopen");
    sqlite3_bind_text(st, 1, config_hash, -1, SQLITE_STATIC);
    rc = step_done(s, st, "reopen run", err);
    sqlite3_finalize(st);
    return rc;
}

int store_run_owner(nb_store *s, const char *config_hash, char **who, char **err)
{
    int64_t id = 0;
    *who = NULL;
    int r = run_lookup(s, config_hash, &id, err);
    if (r != 2) return r < 0 ? r : 0;
    return owner_live(s->db, s->path, id, who, err);
}

/* ---- meta -------------------------------------------------------------- */

int store_meta_get(nb_store *s, const char *key, char **value, char **err)
{
    sqlite3_stmt *st = NULL;
    int result = 0;
    *value = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail(s, err, "cannot read meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *value = nb_xstrdup((const char *)sqlite3_column_text(st, 0));
        result = 1;
    } else if (rc != SQLITE_DONE) {
        result = db_fail(s, err, "cannot read meta");
    }
    sqlite3_finalize(st);
    return result;
}

int store_meta_set(nb_store *s, const char *key, const char *value, char **err)
{
    sqlite3_stmt *st = NULL;
    int status;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot write meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    status = sqlite3_step(st) == SQLITE_DONE ? NB_OK : db_fail(s, err, "cannot write meta");
    sqlite3_finalize(st);
    return status;
}

/* ---- the plan of a sweep ------------------------------------------------ */

int store_plan(nb_store *s, const char *experiment, const nb_plan_point *points, int n,
               char **err)
{
    sqlite3_stmt *st = NULL;
    char now[32];
    int status;
    if (!experiment || n < 0 || (n > 0 && !points))
        return nb_fail(err, NB_EINVAL, "%s: a sweep plan needs an experiment name and points",
                       s->path);
    if ((status = tx_begin(s, err))) return status;
    if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO sweep_plan (config_hash, experiment,"
                           " position, label, config_json, planned_at)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL) != SQLITE_OK) {
        status = db_fail(s, err, "cannot record the sweep's plan");
        goto out;
    }
    now_iso(now);
    for (int i = 0; i < n; i++) {
        const nb_plan_point *p = &points[i];
        if (!p->config_hash || !p->config_json) {
            status = nb_fail(err, NB_EINVAL, "%s: planned point %d has no hash or JSON",
                             s->path, i);
            goto out;
        }
        sqlite3_bind_text(st, 1, p->config_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, experiment, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, p->position);
        sqlite3_bind_text(st, 4, p->label ? p->label : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, p->config_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
        if ((status = step_done(s, st, "cannot record the sweep's plan", err))) goto out;
    }
    status = tx_commit(s, err);
out:
    sqlite3_finalize(st);
    if (status) tx_rollback(s);
    return status;
}
