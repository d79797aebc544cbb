/*
 * benchdata.c - the training data of the graph benchmark harnesses
 * (benchdata.h).
 */
#include "benchdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int bench_load_train(int argc, char **argv, char *path, nb_dataset *ds, nb_train *tr)
{
    const char *dd = getenv("NB_DATA_DIR");
    if (argc > 2) snprintf(path, 4096, "%s", argv[2]);
    else snprintf(path, 4096, "%s/gowalla-lightgcn/train.txt", dd ? dd : "../shared/data");
    FILE *probe = fopen(path, "r");
    if (!probe) {
        printf("# skip: %s not found\n", path);
        return 0;
    }
    fclose(probe);
    nb_data_spec spec;
    data_spec_defaults(&spec);
    spec.synthetic = 0;
    spec.format = NB_FMT_LINES;
    spec.valid_share = 0;
    spec.train_path = strdup(path);
    char *err = NULL;
    int rc = dataset_load(&spec, ds, &err) == NB_OK ? 1 : -1;
    if (rc < 0) printf("# %s\n", err ? err : "dataset not loaded");
    else *tr = (nb_train){ds->n_users, ds->n_items, ds->train.nnz, ds->train.ptr, ds->train.idx,
                          ds->train_by_item.ptr, ds->train_by_item.idx};
    free(err);
    data_spec_free(&spec);
    return rc;
}

double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int bench_start(int argc, char **argv, int def_steps, int *steps, int *threads, char *path,
                nb_dataset *ds, nb_train *tr)
{
    *steps = argc > 1 ? atoi(argv[1]) : def_steps;
    if (*steps < 1) *steps = 1;
    const char *te = getenv("NB_BENCH_THREADS");
    *threads = te ? atoi(te) : 2;
    return bench_load_train(argc, argv, path, ds, tr);
}
