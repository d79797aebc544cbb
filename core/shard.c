/*
 * shard.c - shard I/N: parsing, launcher environment, store names and the
 * identity recorded in a shard's store (see shard.h).
 */
#define _GNU_SOURCE
#include "shard.h"
#include "util.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>


/* A non-negative decimal integer, whole string; -1 if not. */
static long parse_nonneg(const char *s)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return -1;
    long v = strtol(s, &end, 10);
    return *end || v > NB_SHARD_MAX ? -1 : v;
}

int shard_parse(const char *text, int *index, int *count)
{
    const char *slash = text ? strchr(text, '/') : NULL;
    if (!slash || slash - text > 16) return -1;
    char head[17];
    memcpy(head, text, (size_t)(slash - text));
    head[slash - text] = '\0';
    long i = parse_nonneg(head), n = parse_nonneg(slash + 1);
    if (i < 0 || n < 1 || i >= n) return -1;
    *index = (int)i;
    *count = (int)n;
    return 0;
}

int shard_from_env(int *index, int *count, const char **source, char **err)
{
    static const char *const pairs[][3] = {
        {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"},
        {"SLURM_PROCID", "SLURM_NTASKS", NULL},
        {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", NULL},
    };
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
        const char *vi = getenv(pairs[k][0]), *vn = getenv(pairs[k][1]);
        if (!vi || !vn) continue;
        long i = parse_nonneg(vi), n = parse_nonneg(vn), lo = 0;
        if (pairs[k][2] && getenv(pairs[k][2])) lo = parse_nonneg(getenv(pairs[k][2]));
        if (i < 0 || n < 1 || lo < 0 || i - lo >= n || i < lo) {
            nb_fail(err, NB_EINVAL, "%s=%s, %s=%s: not a shard I/N with 0 <= I < N (an array "
                    "must be contiguous, e.g. --array=0-%ld; or give --shard I/N)",
                    pairs[k][0], vi, pairs[k][1], vn, n > 0 ? n - 1 : 0);
            return -1;
        }
        if (n == 1) return 0;
        *index = (int)(i - lo);
        *count = (int)n;
        *source = pairs[k][0];
        return 1;
    }
    return 0;
}

char *shard_db_path(const char *db, int index, int count)
{
    const char *base = strrchr(db, '/');
    base = base ? base + 1 : db;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - db) : strlen(db);
    return nb_strf("%.*s.shard-%d-of-%d.sqlite", (int)stem, db, index, count);
}

/* The keys of a shard's identity, in the order written. */
enum { K_INDEX, K_COUNT, K_IDENTITY, K_GRID_RUNS, K_SHARD_RUNS, K_NAME, K_N };
static const char *const keys[K_N] = {
    "shard_index", "shard_count", "grid_identity", "grid_runs", "shard_runs", "experiment",
};

int shard_stamp(nb_store *s, const nb_sweep *sw, int index, int count, char **err)
{
    sqlite3 *db = store_db(s);
    char *vals[K_N] = {0}, *have = NULL, *path = nb_strf("%s", sqlite3_db_filename(db, "main"));
    int mine = 0, status = NB_OK, rc;
    for (int i = 0; i < sw->n; i++) mine += sweep_in_shard(sw, i, index, count);
    vals[K_INDEX] = nb_strf("%d", index);
    vals[K_COUNT] = nb_strf("%d", count);
    vals[K_IDENTITY] = nb_strf("%s", sw->identity);
    vals[K_GRID_RUNS] = nb_strf("%d", sw->n_distinct);
    vals[K_SHARD_RUNS] = nb_strf("%d", mine);
    vals[K_NAME] = nb_strf("%s", sw->name);

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        status = nb_fail(err, NB_ERR, "%s: cannot begin a transaction: %s", path,
                         sqlite3_errmsg(db));
        goto out;
    }
    if ((rc = store_meta_get(s, keys[K_IDENTITY], &have, err)) < 0) { status = rc; goto out; }
    if (rc == 1) {
        for (int k = 0; k < K_N && !status; k++) {
            char *v = NULL;
            if ((rc = store_meta_get(s, keys[k], &v, err)) < 0) status = rc;
            else if (rc == 0 || strcmp(v, vals[k]) != 0)
                status = nb_fail(err, NB_EINVAL, "%s: the shard of another grid or split "
                                 "(%s %s, here %s): remove it or choose another --db", path,
                                 keys[k], v ? v : "absent", vals[k]);
            free(v);
        }
        goto out;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM run", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0)
        status = nb_fail(err, NB_EINVAL, "%s: a store with runs but not a shard: choose "
                         "another --db", path);
    sqlite3_finalize(st);
    for (int k = 0; k < K_N && !status; k++) status = store_meta_set(s, keys[k], vals[k], err);
out:
    if (!status && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        status = nb_fail(err, NB_ERR, "%s: cannot commit: %s", path, sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    for (int k = 0; k < K_N; k++) free(vals[k]);
    free(have);
    free(path);
    return status;
}

int plan_stamp(nb_store *s, const nb_sweep *sw, char **err)
{
    nb_plan_point *p = nb_xcalloc((size_t)sw->n + 1, sizeof *p);
    int n = 0;
    for (int i = 0; i < sw->n; i++) {
        const nb_sweep_run *r = &sw->runs[i];
        if (r->dup_of >= 0) continue; /* the same run as an earlier point */
        p[n++] = (nb_plan_point){r->hash, r->label ? r->label : "", r->json, r->rank};
    }
    int status = store_plan(s, sw->name, p, n, err);
    free(p);
    return status;
}
