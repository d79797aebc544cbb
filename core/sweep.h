/*
 * sweep.h - the runs of a grid: resolution and validation of every point
 * against the plugin schemas, identities (hash of the canonical JSON, as
 * `negbench run`), their status in a store, and their execution by forked
 * worker processes (`negbench run GRID.yaml -j N`).
 *
 * Execution: every run is one child process (fork, no exec) that opens the
 * store itself, writes its per-epoch lines to <store dir>/<store stem>.logs/
 * <hash12>.log and exits 0 (done), 1 (failed: the error is stored on the run)
 * or 75 (interrupted). Children die with the parent (PR_SET_PDEATHSIG), and
 * the store commits whole epochs, so a sweep killed at any point (even
 * SIGKILL) resumes with every run present exactly once: done runs are
 * skipped, unfinished ones restart from scratch under the same id.
 *
 * Sharding (--shard I/N, core/shard.h): distinct run k (in grid order) goes
 * to shard k % N, so the slices are disjoint, cover the grid, and do not
 * depend on what is already done (stable under resume).
 */
#ifndef NB_SWEEP_H
#define NB_SWEEP_H

#include "config.h"
#include "grid.h"
#include "plugin_loader.h"
#include "run_plan.h"

/* One point of the grid: a run plan (run_plan.h) with its place in the
 * sweep (label, dup_of, rank) and its status in the store. */
typedef nb_run_plan nb_sweep_run;

typedef struct nb_sweep {
    nb_grid grid;
    const nb_registry *reg;      /* not owned */
    int n;                       /* one run per grid point */
    nb_sweep_run *runs;
    int n_distinct;              /* runs with dup_of < 0 */
    char identity[65];           /* SHA-256 hex of every point's hash in grid order */
    char *name;                  /* the experiment name */
} nb_sweep;

/* Expand path, validate every point (host keys, plugins, plugin parameters,
 * per-plugin blocks) and hash each run. threads >= 0 overrides train.threads
 * (as negbench run --threads: it is part of the identity). Returns 0, or
 * NB_EINVAL with every distinct problem in diags (sw freed). */
int sweep_load(const char *path, const nb_registry *reg, int threads, nb_sweep *sw,
               nb_diags *diags);
/* Free the runs (run_plan_free), the grid and the name; sw is left empty. */
void sweep_free(nb_sweep *sw);

/* results/<name>.sqlite (creating results/); malloc'd. */
char *sweep_default_db(const nb_sweep *sw);

/* Fill runs[].status from the store at db (opened, not created, if absent:
 * every status 0). */
int sweep_read_status(nb_sweep *sw, const char *db, char **err);

/* 1 when run i is run by shard index of count (always with count 0). */
int sweep_in_shard(const nb_sweep *sw, int i, int index, int count);

#endif /* NB_SWEEP_H */
