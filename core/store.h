/*
 * store.h - the SQLite results store, schema v3 (results/schema.sql).
 *
 * One file per sweep or shard. Every write is transactional: an epoch (its
 * loss, timings, metrics and sampler statistics) commits in one transaction,
 * so a killed process leaves whole epochs only. Runs are identified by the
 * hash of their resolved configuration.
 */
#ifndef NB_STORE_H
#define NB_STORE_H

#include <stdint.h>
#include "eval.h"
#include "store_owner.h" /* NB_STORE_BUSY */

#define NB_STORE_SCHEMA_VERSION 3

typedef struct nb_store nb_store;

/* Open (creating the file and schema if needed). Refuses a file whose
 * schema version is newer than this build's; upgrades a version 1 or 2
 * store to version 3 in place, in one transaction (new tables and views
 * only: every row and run identity stays). busy timeout is set so that
 * several processes can share a file. */
int store_open(const char *path, nb_store **out, char **err);
void store_close(nb_store *s);

/* Open an existing store for reading only (negbench grid): nothing is
 * written, not even WAL's -shm file; on read-only media the file is read
 * as immutable. Write functions then fail. An older store is not upgraded
 * (store_version tells its version): the tables of schema version 1 (run,
 * epoch, ...) read as in a current store, later ones may be absent. */
int store_open_readonly(const char *path, nb_store **out, char **err);

/* Before writing: PRAGMA quick_check (every page, index and record read
 * once; a damaged store is refused with the command that lists the damage)
 * and no live claim from another host (core/store_owner.h). */
int store_check(nb_store *s, char **err);

/* The quick_check of store_check on a file opened read-only (merge inputs). */
int store_check_file(const char *path, char **err);

/* Insert the experiment (name, YAML text) or find the identical one. */
int store_experiment(nb_store *s, const char *name, const char *yaml_text,
                     int64_t *experiment_id, char **err);

typedef struct nb_run_info {
    int64_t experiment_id;
    const char *config_json;     /* resolved configuration, canonical JSON */
    const char *config_hash;     /* hex digest of config_json */
    int64_t seed;
    const char *model, *model_version;
    const char *sampler, *sampler_version;
    const char *dataset;         /* short description */
    const char *data_checksum;   /* content checksum of the data files */
    int threads;
    const char *host;            /* hostname */
    const char *git_revision;    /* of negbench, "unknown" if not known */
    const char *negbench_version;
} nb_run_info;

/* Start a run (status "running", start time now). If a run with the same
 * config_hash exists and is unfinished, its epochs are deleted and it is
 * restarted under the same id (call store_run_status first to know whether
 * it was already there). A "done" run gives NB_EINVAL. */
int store_run_begin(nb_store *s, const nb_run_info *info, int64_t *run_id,
                    char **err);

/* Mark a finished run as unfinished so that store_run_begin restarts it
 * (negbench run --force); a run that is not done is left alone. One
 * statement, atomic. */
int store_run_reopen(nb_store *s, const char *config_hash, char **err);

/* Ownership (core/store_owner.h): store_run_begin claims the run for the
 * calling process and gives NB_STORE_BUSY (-20), writing nothing, when a
 * live other process owns it; store_epoch refreshes the claim's heartbeat
 * and fails once the run was taken over; store_run_finish drops it. This
 * one says whether a live other process owns the unfinished run with this
 * hash: 1 and *who (malloc'd "pid P on HOST, heartbeat N s ago"), 0 no,
 * < 0 error. */
int store_run_owner(nb_store *s, const char *config_hash, char **who, char **err);

/* Status of the run with this hash: 0 absent, 1 finished ("done"),
 * 2 present but unfinished. */
int store_run_status(nb_store *s, const char *config_hash, int64_t *run_id,
                     char **err);

typedef struct nb_stat_value { const char *name; double value; } nb_stat_value;

typedef struct nb_epoch_record {
    int32_t epoch;               /* 1-based */
    double loss;                 /* mean training loss of the epoch */
    double train_seconds, eval_seconds;
    const nb_metrics *valid;     /* NULL when not evaluated this epoch */
    const nb_metrics *test;      /* NULL when not evaluated on test */
    const nb_stat_value *stats;  /* sampler/host statistics of the epoch */
    int n_stats;
} nb_epoch_record;

/* One transaction: the epoch row, its metrics and statistics. */
int store_epoch(nb_store *s, int64_t run_id, const nb_epoch_record *rec,
                char **err);

/* A histogram of scores (Fig. 1a-c): bins over [lo, hi). */
int store_histogram(nb_store *s, int64_t run_id, int32_t epoch, const char *name,
                    double lo, double hi, int n_bins, const int64_t *counts,
                    char **err);

typedef struct nb_run_result {
    const char *status;          /* "done", "failed", "interrupted" */
    const char *error;           /* message when failed (else NULL) */
    int32_t best_epoch;          /* 0 if none */
    int32_t epochs_run;
    const nb_metrics *best_valid;
    const nb_metrics *best_test;
    const nb_hits *hits;         /* per-user test ranks at report_k, or NULL
                                  * (with rank and n_truth: table user_ranks) */
    const nb_hits *valid_hits;   /* the same for validation, or NULL */
    int32_t report_k;
    int64_t peak_rss_bytes;
} nb_run_result;

/* One transaction: final metrics, per-user ranks, status, end time. */
int store_run_finish(nb_store *s, int64_t run_id, const nb_run_result *res,
                     char **err);

/* The value of key in the meta table (malloc'd into *value): 1 found,
 * 0 absent (*value NULL), < 0 error. */
int store_meta_get(nb_store *s, const char *key, char **value, char **err);

/* Set key to value in the meta table (one statement, atomic). */
int store_meta_set(nb_store *s, const char *key, const char *value, char **err);

/* The underlying handle, for tests and reports. */
struct sqlite3 *store_db(nb_store *s);

/* The schema version of the open store: NB_STORE_SCHEMA_VERSION, or an
 * older one for a store opened read-only. */
int store_version(const nb_store *s);

/* One planned point of a sweep (table sweep_plan). */
typedef struct nb_plan_point {
    const char *config_hash;     /* the run's identity */
    const char *label;           /* the point's axis values ("" if none) */
    const char *config_json;     /* resolved configuration, canonical JSON */
    int position;                /* 0-based rank among the grid's distinct runs */
} nb_plan_point;

/* Record the planned points of a sweep of experiment `experiment`, in one
 * transaction (core/store_plan.c): points already recorded (same hash) are
 * kept as they are, so a resumed sweep adds nothing. */
int store_plan(nb_store *s, const char *experiment, const nb_plan_point *points, int n,
               char **err);

#endif /* NB_STORE_H */
