/*
 * merge.h - merging the shard stores of a sweep into one store
 * (`negbench merge OUT.sqlite SHARD...`).
 *
 * Every input must be a shard store (core/shard.h) of the same grid split
 * the same way; this is checked for all inputs before OUT is written. Then
 * each shard is merged in one transaction (ATTACH, INSERT ... SELECT,
 * DETACH): runs are keyed by their configuration hash, integer run ids are
 * remapped to OUT's, and a run already in OUT is replaced in place (same
 * id) unless OUT has it done and the shard does not, or OUT already holds
 * the very same result (same status, start, end and epochs: left as is).
 * Merging the same shards again therefore changes nothing.
 */
#ifndef NB_MERGE_H
#define NB_MERGE_H

typedef struct nb_merge_shard {
    const char *path;            /* as given (not owned) */
    int index, count;            /* shard I/N */
    int expected;                /* distinct runs of the shard (meta shard_runs) */
    int runs, done, failed;      /* run rows in the shard, done, failed */
    int copied;                  /* runs written to OUT by this merge */
    int duplicate;               /* the same file given again: skipped */
} nb_merge_shard;

typedef struct nb_merge_report {
    int n;                       /* inputs */
    nb_merge_shard *shards;      /* one per input, in the order given */
    int count;                   /* N of the split */
    int grid_runs;               /* distinct runs of the grid */
    char identity[65];           /* the grid's identity */
    char *experiment;            /* its name */
    int n_missing;               /* shard indices in 0..N-1 not given */
    int *missing;                /* those indices, ascending */
    int n_partial;               /* shards with done < expected */
    int copied, done_total;      /* runs written; done runs over all shards */
} nb_merge_report;

/* Merge the shard stores paths[0..n-1] into out (created if absent).
 * Returns 0 (rep filled; missing and partial shards are in rep, not
 * errors), NB_EINVAL with *err when an input is refused (nothing written),
 * or another error code when a write failed (shards merged before it stay
 * merged). Free rep with merge_report_free. */
int merge_shards(const char *out, char *const *paths, int n, nb_merge_report *rep, char **err);
void merge_report_free(nb_merge_report *rep);

#endif
