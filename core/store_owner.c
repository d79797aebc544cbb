/*
 * store_owner.c - the run_owner table: claims, heartbeats and takeover of
 * runs (see store_owner.h for the rules).
 *
 * A process is identified by its host name, the kernel's boot id, its pid
 * and its start time (field 22 of /proc/<pid>/stat, clock ticks after boot),
 * so a recycled pid or a rebooted machine never looks like the old owner.
 */
#define _GNU_SOURCE
#include "store_owner.h"

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "negbench/plugin.h"
#include "util.h"

/* ---- schema: the one place that defines run_owner ---------------------- */
static const char owner_table_sql[] =
    "CREATE TABLE IF NOT EXISTS run_owner (\n"
    "    run_id     INTEGER PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,\n"
    "    host       TEXT NOT NULL,     -- host name of the owning process\n"
    "    boot_id    TEXT NOT NULL,     -- kernel boot id ('' if unknown)\n"
    "    pid        INTEGER NOT NULL,  -- its process id\n"
    "    pid_start  INTEGER NOT NULL,  -- its start, clock ticks after boot (-1 unknown)\n"
    "    claimed_at TEXT NOT NULL,     -- when claimed (ISO-8601 UTC)\n"
    "    heartbeat  REAL NOT NULL      -- unix seconds of its last committed epoch\n"
    ")";
/* ---- end of schema ------------------------------------------------------ */

typedef struct owner {
    char host[256];
    char boot[64];
    int64_t pid, start;
    double beat;
} owner;

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double owner_timeout(void)
{
    const char *v = getenv("NEGBENCH_OWNER_TIMEOUT");
    double t = v ? strtod(v, NULL) : 0.0;
    return t > 0 ? t : 1800.0;
}

/* Start time of process pid in clock ticks after boot, -1 if it is gone. */
static int64_t proc_start(int64_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return -1;
    for (int field = 2; field < 22 && p; field++) p = strchr(p + 1, ' ');
    return p ? strtoll(p + 1, NULL, 10) : -1;
}

/* The calling process (after a fork, the child). */
static void self_get(owner *me)
{
    memset(me, 0, sizeof *me);
    if (gethostname(me->host, sizeof me->host - 1) != 0) strcpy(me->host, "unknown");
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(me->boot, sizeof me->boot, f)) me->boot[0] = '\0';
        me->boot[strcspn(me->boot, "\n")] = '\0';
        fclose(f);
    }
    me->pid = getpid();
    me->start = proc_start(me->pid);
    me->beat = now_unix();
}

static int same_machine(const owner *a, const owner *b)
{
    return !strcmp(a->host, b->host) && !strcmp(a->boot, b->boot);
}

static int is_me(const owner *o, const owner *me)
{
    return same_machine(o, me) && o->pid == me->pid && o->start == me->start;
}

/* 1 when o may still be running: its process exists on this machine, or
 * its heartbeat is fresh when it is on another one. A claim from this host
 * name with another boot id belongs to a rebooted machine: dead. */
static int alive(const owner *o, const owner *me)
{
    if (same_machine(o, me)) {
        if (o->start >= 0) return proc_start(o->pid) == o->start;
        return kill((pid_t)o->pid, 0) == 0 || errno == EPERM; /* no /proc */
    }
    if (!strcmp(o->host, me->host)) return 0;
    return me->beat - o->beat < owner_timeout();
}

static char *describe(const owner *o, const owner *me)
{
    return nb_strf("pid %lld on %s, heartbeat %.0f s ago", (long long)o->pid, o->host,
                   me->beat - o->beat);
}

static int sql_fail(sqlite3 *db, const char *path, const char *what, char **err)
{
    return nb_fail(err, NB_ERR, "%s: %s: %s", path, what, sqlite3_errmsg(db));
}

static int table_exists(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int found = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
                                       "name = 'run_owner'", -1, &st, NULL) == SQLITE_OK &&
                sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static void row_get(sqlite3_stmt *st, owner *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(o->boot, sizeof o->boot, "%s", (const char *)sqlite3_column_text(st, 1));
    o->pid = sqlite3_column_int64(st, 2);
    o->start = sqlite3_column_int64(st, 3);
    o->beat = sqlite3_column_double(st, 4);
}

/* The owner row of run_id into *o: 1 found, 0 none (or no table), < 0 error. */
static int row_read(sqlite3 *db, const char *path, int64_t run_id, owner *o, char **err)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (!table_exists(db)) return 0;
    if (sqlite3_prepare_v2(db, "SELECT host, boot_id, pid, pid_start, heartbeat FROM run_owner"
                               " WHERE run_id = ?1", -1, &st, NULL) != SQLITE_OK)
        return sql_fail(db, path, "cannot read the owner of a run", err);
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) row_get(st, o), found = 1;
    else if (rc != SQLITE_DONE) found = sql_fail(db, path, "cannot read the owner of a run", err);
    sqlite3_finalize(st);
    return found;
}

/* Run one statement on run_id with this process's identity bound as ?2..?6
 * (host, boot id, pid, start, heartbeat); *changes receives the row count. */
static int exec_owned(sqlite3 *db, const char *path, const char *sql, int64_t run_id,
                      const owner *me, int *changes, char **err)
{
    sqlite3_stmt *st = NULL;
    int status = NB_OK;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return sql_fail(db, path, "cannot record the owner of a run", err);
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, me->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, me->boot, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, me->pid);
    sqlite3_bind_int64(st, 5, me->start);
    sqlite3_bind_double(st, 6, me->beat);
    if (sqlite3_step(st) != SQLITE_DONE)
        status = sql_fail(db, path, "cannot record the owner of a run", err);
    *changes = sqlite3_changes(db);
    sqlite3_finalize(st);
    return status;
}

int owner_check_foreign(sqlite3 *db, const char *path, char **err)
{
    sqlite3_stmt *st = NULL;
    owner me, o;
    int status = NB_OK, rc;
    if (!table_exists(db)) return NB_OK;
    self_get(&me);
    if (sqlite3_prepare_v2(db, "SELECT host, boot_id, pid, pid_start, heartbeat, run_id"
                               " FROM run_owner WHERE host <> ?1 ORDER BY heartbeat DESC",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(db, path, "cannot read the owners of runs", err);
    sqlite3_bind_text(st, 1, me.host, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_get(st, &o);
        if (!alive(&o, &me)) continue;
        char *who = describe(&o, &me);
        status = nb_fail(err, NB_EINVAL, "%s: run %lld of this store is being trained by %s: a "
                         "store is written from one host at a time (SQLite's WAL); run on %s, "
                         "or here once its heartbeat is %.0f s old (NEGBENCH_OWNER_TIMEOUT)",
                         path, (long long)sqlite3_column_int64(st, 5), who, o.host,
                         owner_timeout());
        free(who);
        break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        status = sql_fail(db, path, "cannot read the owners of runs", err);
    sqlite3_finalize(st);
    return status;
}

int owner_claim(sqlite3 *db, const char *path, int64_t run_id, char **err)
{
    static const char claim_sql[] =
        "INSERT OR REPLACE INTO run_owner (run_id, host, boot_id, pid, pid_start, claimed_at,"
        " heartbeat) VALUES (?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?6)";
    owner me, o;
    int status, changes = 0;
    char *msg = NULL;
    self_get(&me);
    if (sqlite3_exec(db, owner_table_sql, NULL, NULL, &msg) != SQLITE_OK) {
        status = nb_fail(err, NB_ERR, "%s: cannot create run_owner: %s", path, msg);
        sqlite3_free(msg);
        return status;
    }
    if ((status = owner_check_foreign(db, path, err))) return status;
    int found = row_read(db, path, run_id, &o, err);
    if (found < 0) return found;
    if (found && !is_me(&o, &me) && alive(&o, &me)) {
        char *who = describe(&o, &me);
        status = nb_fail(err, NB_STORE_BUSY, "%s: run %lld is being trained by %s", path,
                         (long long)run_id, who);
        free(who);
        return status;
    }
    return exec_owned(db, path, claim_sql, run_id, &me, &changes, err);
}

int owner_beat(sqlite3 *db, const char *path, int64_t run_id, char **err)
{
    static const char beat_sql[] =
        "UPDATE run_owner SET heartbeat = ?6 WHERE run_id = ?1 AND host = ?2 AND boot_id = ?3"
        " AND pid = ?4 AND pid_start = ?5";
    owner me, o;
    int changes = 0, status;
    self_get(&me);
    if ((status = exec_owned(db, path, beat_sql, run_id, &me, &changes, err))) return status;
    if (changes == 1) return NB_OK;
    int found = row_read(db, path, run_id, &o, err);
    if (found < 0) return found;
    char *who = found ? describe(&o, &me) : nb_xstrdup("nobody");
    status = nb_fail(err, NB_EINVAL, "%s: run %lld was taken over (its owner is now %s): "
                     "this process stops writing it", path, (long long)run_id, who);
    free(who);
    return status;
}

int owner_release(sqlite3 *db, const char *path, int64_t run_id, char **err)
{
    owner me, o;
    int status;
    self_get(&me);
    int found = row_read(db, path, run_id, &o, err);
    if (found <= 0) return found;
    if (!is_me(&o, &me) && alive(&o, &me)) {
        char *who = describe(&o, &me);
        status = nb_fail(err, NB_EINVAL, "%s: run %lld was taken over by %s: not finishing it "
                         "here", path, (long long)run_id, who);
        free(who);
        return status;
    }
    sqlite3_stmt *st = NULL;
    status = NB_OK;
    if (sqlite3_prepare_v2(db, "DELETE FROM run_owner WHERE run_id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return sql_fail(db, path, "cannot release a run", err);
    sqlite3_bind_int64(st, 1, run_id);
    if (sqlite3_step(st) != SQLITE_DONE) status = sql_fail(db, path, "cannot release a run", err);
    sqlite3_finalize(st);
    return status;
}

int owner_live(sqlite3 *db, const char *path, int64_t run_id, char **who, char **err)
{
    owner me, o;
    *who = NULL;
    self_get(&me);
    int found = row_read(db, path, run_id, &o, err);
    if (found <= 0) return found;
    if (is_me(&o, &me) || !alive(&o, &me)) return 0;
    *who = describe(&o, &me);
    return 1;
}
