/*
 * test-store-owner.c - who trains a run (core/store_owner.c) and the
 * store's integrity check (store_check).
 *
 * A live process's run is refused to another one (NB_STORE_BUSY, nothing
 * wiped) and taken over once that process is killed; a claim from another
 * host blocks the store while its heartbeat is fresh and is taken over when
 * it is stale; a process whose run was taken over can no longer write it;
 * --force's reopen never touches a running run; a damaged file is refused
 * by store_check with the command that lists the damage.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "negbench/plugin.h"
#include "sql_query.h"
#include "store.h"
#include "tap/tap.h"
#include "util.h"

__attribute__((weak)) const char *const nb_metric_names[NB_N_METRICS] = {
    "recall", "ndcg", "hit", "precision", "mrr"};

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        diag("exec failed: %s: %s", sql, sqlite3_errmsg(db));
}

static nb_run_info info_of(int64_t experiment_id, const char *hash)
{
    nb_run_info in = {.experiment_id = experiment_id, .config_json = "{}", .config_hash = hash,
                      .seed = 1, .model = "mf", .sampler = "rns", .threads = 1};
    return in;
}

static int contains(const char *s, const char *sub) { return s && strstr(s, sub); }

static int epoch(nb_store *s, int64_t run, int ep, char **err)
{
    nb_epoch_record rec = {.epoch = ep, .loss = 1.0};
    return store_epoch(s, run, &rec, err);
}

/* Child: begin the run "hash-own", commit one epoch, tell the parent, wait. */
static void __attribute__((noreturn)) owner_child(const char *path, int ready, int hold)
{
    nb_store *s = NULL;
    char *err = NULL, c = 'x';
    int64_t e = 0, run = 0;
    if (store_open(path, &s, &err) || store_experiment(s, "own", "own: 1\n", &e, &err))
        _exit(3);
    nb_run_info in = info_of(e, "hash-own");
    if (store_run_begin(s, &in, &run, &err) || epoch(s, run, 1, &err)) _exit(4);
    if (write(ready, &c, 1) != 1) _exit(5);
    if (read(hold, &c, 1) < 0) _exit(6); /* until killed */
    _exit(0);
}

static void test_local(const char *path)
{
    int ready[2], hold[2];
    char c, *err = NULL, *who = NULL;
    nb_store *s = NULL;
    int64_t id = 0, id2 = 0;
    int rc;
    if (pipe(ready) || pipe(hold)) tap_bail("pipe");
    pid_t pid = fork();
    if (pid < 0) tap_bail("fork");
    if (pid == 0) owner_child(path, ready[1], hold[0]);
    if (read(ready[0], &c, 1) != 1) tap_bail("the owner child failed");

    if (store_open(path, &s, &err)) tap_bail("open: %s", err);
    sqlite3 *db = store_db(s);
    nb_run_info in = info_of(q_int(db, "SELECT id FROM experiment"), "hash-own");
    is_int(store_run_owner(s, "hash-own", &who, &err), 1, "a live child owns the run");
    char want[64];
    snprintf(want, sizeof want, "pid %d on ", (int)pid);
    ok(contains(who, want), "... named by its pid (%s)", who ? who : "");
    free(who);
    is_int(store_run_begin(s, &in, &id, &err), NB_STORE_BUSY, "a second process is refused");
    ok(contains(err, "is being trained by"), "... with who trains it (%s)", err ? err : "");
    free(err);
    err = NULL;
    is_int(q_int(db, "SELECT count(*) FROM epoch"), 1, "... and the owner's epoch is kept");
    is_int(store_run_reopen(s, "hash-own", &err), 0, "reopen (--force) of a running run");
    is_int(q_int(db, "SELECT count(*) FROM run WHERE status = 'running'"), 1,
           "... leaves it running");

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    is_int(store_run_owner(s, "hash-own", &who, &err), 0, "a killed owner owns nothing");
    free(who);
    is_int(store_run_begin(s, &in, &id2, &err), 0, "its run is taken over%s%s",
           err ? ": " : "", err ? err : "");
    is_int(q_int(db, "SELECT count(*) FROM epoch"), 0, "... restarted from scratch");
    is_int(q_int(db, "SELECT count(*) FROM run"), 1, "... under the same id (one row)");
    is_int(epoch(s, id2, 1, &err), 0, "the new owner writes epoch 1");
    is_int(q_int(db, "SELECT count(*) FROM run_owner"), 1, "one claim");

    /* a claim by a dead pid of this host (say a killed sweep worker) */
    exec(db, "UPDATE run_owner SET pid = pid + 4000000");
    rc = epoch(s, id2, 2, &err);
    ok(rc != 0 && contains(err, "taken over"),
       "a process whose claim is gone stops writing (%s)", err ? err : "");
    free(err);
    err = NULL;
    nb_run_result res = {.status = "failed", .error = "worker killed"};
    is_int(store_run_finish(s, id2, &res, &err), 0, "a dead owner's run can be recorded failed");
    is_int(q_int(db, "SELECT count(*) FROM run_owner"), 0, "... which drops the claim");
    free(err);
    store_close(s);
    close(ready[0]);
    close(ready[1]);
    close(hold[0]);
    close(hold[1]);
}

static void test_foreign(const char *path)
{
    nb_store *s = NULL;
    char *err = NULL, sql[256];
    int64_t id = 0, e = 0;
    if (store_open(path, &s, &err) || store_experiment(s, "own", "own: 1\n", &e, &err))
        tap_bail("open: %s", err);
    sqlite3 *db = store_db(s);
    nb_run_info in = info_of(e, "hash-far");
    if (store_run_begin(s, &in, &id, &err)) tap_bail("begin: %s", err);
    is_int(store_check(s, &err), 0, "store_check passes a store claimed by this host");
    /* another machine took the run over and is training it */
    snprintf(sql, sizeof sql, "UPDATE run_owner SET host = 'far-away-node', pid = 77,"
             " heartbeat = %.0f WHERE run_id = %lld", (double)time(NULL), (long long)id);
    exec(db, sql);
    int rc = epoch(s, id, 1, &err);
    ok(rc != 0 && contains(err, "taken over"),
       "the old owner cannot write after a takeover (%s)", err ? err : "");
    free(err);
    err = NULL;
    nb_run_result res = {.status = "interrupted"};
    ok(store_run_finish(s, id, &res, &err) != 0, "... nor finish the run");
    free(err);
    err = NULL;
    rc = store_check(s, &err);
    ok(rc != 0 && contains(err, "far-away-node") &&
           contains(err, "one host at a time"),
       "a fresh claim from another host blocks writing (%s)", err ? err : "");
    free(err);
    err = NULL;
    is_int(store_run_begin(s, &in, &id, &err), NB_EINVAL, "... and beginning its run");
    free(err);
    err = NULL;
    /* its heartbeat stops: after the timeout the claim is stale */
    snprintf(sql, sizeof sql, "UPDATE run_owner SET heartbeat = %.0f", (double)time(NULL) - 4000);
    exec(db, sql);
    is_int(store_check(s, &err), 0, "a stale claim (heartbeat 4000 s > 1800 s) is ignored");
    is_int(store_run_begin(s, &in, &id, &err), 0, "... and the run taken over%s%s",
           err ? ": " : "", err ? err : "");
    is_int(q_int(db, "SELECT count(*) FROM run_owner WHERE host = 'far-away-node'"), 0,
           "... by this host");
    snprintf(sql, sizeof sql, "UPDATE run_owner SET host = 'far-away-node', heartbeat = %.0f",
             (double)time(NULL) - 4000);
    exec(db, sql);
    setenv("NEGBENCH_OWNER_TIMEOUT", "5000", 1);
    ok(store_check(s, &err) != 0, "NEGBENCH_OWNER_TIMEOUT sets the timeout (5000 s)");
    unsetenv("NEGBENCH_OWNER_TIMEOUT");
    free(err);
    store_close(s);
}

/* Overwrite n bytes at off with 0x5a. */
static void damage(const char *path, long off, int n)
{
    int fd = open(path, O_WRONLY);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    if (fd < 0 || pwrite(fd, junk, (size_t)n, off) != n) tap_bail("cannot damage %s", path);
    close(fd);
}

static void test_integrity(void)
{
    char *path = nb_strf("%s/damaged.sqlite", tap_tmpdir());
    nb_store *s = NULL;
    char *err = NULL;
    int64_t e = 0, id = 0;
    if (store_open(path, &s, &err) || store_experiment(s, "d", "d: 1\n", &e, &err))
        tap_bail("open: %s", err);
    for (int r = 0; r < 40; r++) {
        char hash[32];
        snprintf(hash, sizeof hash, "hash-%02d", r);
        nb_run_info in = info_of(e, hash);
        if (store_run_begin(s, &in, &id, &err)) tap_bail("begin: %s", err);
        for (int ep = 1; ep <= 20; ep++)
            if (epoch(s, id, ep, &err)) tap_bail("epoch: %s", err);
    }
    sqlite3_exec(store_db(s), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    is_int(store_check(s, &err), 0, "an intact store passes store_check");
    is_int(store_check_file(path, &err), 0, "... and store_check_file");
    store_close(s);
    struct stat st;
    stat(path, &st);
    ok(st.st_size >= 8 * 4096, "the store has %lld bytes", (long long)st.st_size);
    damage(path, 5 * 4096 + 100, 3000); /* inside a b-tree page, not the header */
    int rc = store_open(path, &s, &err);
    if (rc == 0) rc = store_check(s, &err);
    ok(rc != 0, "a damaged store is refused (%s)", err ? err : "");
    ok(contains(err, "PRAGMA integrity_check"), "... naming the command that checks it");
    free(err);
    err = NULL;
    store_close(s);
    ok(store_check_file(path, &err) != 0 && contains(err, "integrity_check"),
       "store_check_file refuses it too");
    free(err);
    free(path);
}

int main(void)
{
    char *path = nb_strf("%s/owner.sqlite", tap_tmpdir());
    test_local(path);
    test_foreign(path);
    test_integrity();
    free(path);
    return tap_done();
}
