/*
 * shard.h - slices of a sweep for clusters (`negbench run GRID --shard I/N`):
 * parsing I/N, taking it from the launcher's environment (Slurm job arrays,
 * srun, mpirun), the shard's store name, and the identity a shard records in
 * its store's meta table so that `negbench merge` can tell missing, partial
 * and foreign shards apart (core/merge.h); and the plan every sweep records
 * in its store (plan_stamp).
 *
 * Meta keys of a shard store (all text): shard_index, shard_count,
 * grid_identity (nb_sweep.identity), grid_runs (distinct runs of the grid),
 * shard_runs (distinct runs of this shard), experiment (the name).
 */
#ifndef NB_SHARD_H
#define NB_SHARD_H

#include "store.h"
#include "sweep.h"

/* The largest N of a split, and the most runs a grid has (its points). */
#define NB_SHARD_MAX 100000
#define NB_SHARD_MAX_RUNS 100000

/* Parse "I/N" (0 <= I < N <= NB_SHARD_MAX). 0, or -1 when malformed. */
int shard_parse(const char *text, int *index, int *count);

/* I/N from the environment, in this order: SLURM_ARRAY_TASK_ID (minus
 * SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_COUNT, SLURM_PROCID /
 * SLURM_NTASKS, OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE. Returns 1 and
 * sets *source to the variable names when found with N > 1, 0 when none
 * applies (or N is 1), -1 with *err (malloc'd) when a pair is malformed. */
int shard_from_env(int *index, int *count, const char **source, char **err);

/* The store of shard I/N of db: "results/x.sqlite" -> "results/x.shard-3-of-8.sqlite"
 * (the extension of the last path component, if any, is replaced); malloc'd. */
char *shard_db_path(const char *db, int index, int count);

/* Record the shard's identity in s (first time) or check it against the
 * one recorded: refuses a store of another grid, another I/N, or a plain
 * store that already holds runs. 0 or an error code with *err. */
int shard_stamp(nb_store *s, const nb_sweep *sw, int index, int count, char **err);

/* Record every distinct run of the whole grid (not only this shard's) as
 * planned in s (table sweep_plan, one transaction; points already there
 * are kept), so that negbench report can list the points that never ran.
 * 0 or an error code with *err. */
int plan_stamp(nb_store *s, const nb_sweep *sw, char **err);

#endif
