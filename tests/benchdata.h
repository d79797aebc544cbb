/*
 * benchdata.h - the training data of the graph benchmark harnesses
 * (bench-ngcf, bench-sgl; not TAP tests), and the timing helpers of the
 * benchmark programs.
 */
#ifndef NB_TEST_BENCHDATA_H
#define NB_TEST_BENCHDATA_H

#include "dataset.h"
#include "negbench/plugin.h"

/* Load the Gowalla training file: argv[2] when argc > 2, else
 * $NB_DATA_DIR (default ../shared/data)/gowalla-lightgcn/train.txt, LightGCN
 * line format, every pair (no validation carve). The file name goes to
 * path [4096]; *ds owns the data and *tr points into it. Returns 1 when
 * loaded, 0 when the file is absent ("# skip: ..." printed), -1 on an error
 * (printed as "# ..."). */
int bench_load_train(int argc, char **argv, char *path, nb_dataset *ds, nb_train *tr);

/* The start of bench-ngcf and bench-sgl: *steps from argv[1] (default
 * def_steps, at least 1), *threads from NB_BENCH_THREADS (default 2), and
 * the training data as bench_load_train loads it (its return value). */
int bench_start(int argc, char **argv, int def_steps, int *steps, int *threads, char *path,
                nb_dataset *ds, nb_train *tr);
/* CPU seconds of the whole process (all threads): shows contention when the
 * machine is shared (wall >> cpu / threads). */
double bench_cpu_now(void);
/* qsort comparison of doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

#endif
