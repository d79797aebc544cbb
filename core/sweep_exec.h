/*
 * sweep_exec.h - running a loaded sweep (core/sweep_exec.c): every distinct
 * run not yet done, each in a forked worker, -j at a time. The workers and
 * the store's guarantees are described in sweep.h.
 */
#ifndef NB_SWEEP_EXEC_H
#define NB_SWEEP_EXEC_H

#include "sweep.h"

typedef struct nb_sweep_opts {
    const char *db;              /* the store */
    int jobs;                    /* worker processes (>= 1) */
    int threads;                 /* per run when train.threads is 0 (>= 1) */
    int force;                   /* re-run done runs */
    int fail_fast;               /* stop starting runs after a failure */
    int quiet;                   /* no progress lines */
    int shard_index, shard_count; /* run only distinct runs with rank % count ==
                                  * index (count 0: all); db is then the shard's
                                  * file, stamped by shard_stamp */
} nb_sweep_opts;

/* Run every distinct run not done (all with force), jobs at a time. One
 * progress line per finished run on stderr. Returns the exit status: 0 all
 * done, 1 some failed, 75 interrupted (SIGINT/SIGTERM), 2 store errors. */
int sweep_execute(nb_sweep *sw, const nb_sweep_opts *o);

#endif /* NB_SWEEP_EXEC_H */
