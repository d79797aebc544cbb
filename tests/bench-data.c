/*
 * bench-data.c - data loading times (make bench; not a TAP test): the
 * default synthetic set's generation, and the Gowalla training and test
 * files (LightGCN line format, 1,027,370 rows), wall and CPU seconds of
 * this process, the median of five. Expected on one core: under 0.2 s of
 * CPU for the synthetic set and under a second for Gowalla.
 * Prints one line per measurement:
 *   load data=synthetic|gowalla wall_s=... cpu_s=...
 * Usage: bench-data (data: $NB_DATA_DIR or ../shared/data).
 */
#include "dataset.h"
#include "negbench/plugin.h"
#include "benchdata.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Load spec five times; print the median wall and CPU seconds. */
static int measure(const char *name, nb_data_spec *s)
{
    double wall[5], cpu[5];
    for (int rep = 0; rep < 5; rep++) {
        nb_dataset d;
        char *err = NULL;
        double t0 = nb_now(), c0 = bench_cpu_now();
        if (dataset_load(s, &d, &err) != NB_OK) {
            printf("# %s: %s\n", name, err ? err : "not loaded");
            free(err);
            return 1;
        }
        wall[rep] = nb_now() - t0;
        cpu[rep] = bench_cpu_now() - c0;
        dataset_free(&d);
    }
    qsort(wall, 5, sizeof wall[0], bench_cmp_double);
    qsort(cpu, 5, sizeof cpu[0], bench_cmp_double);
    printf("load data=%s wall_s=%.3f cpu_s=%.3f\n", name, wall[2], cpu[2]);
    return 0;
}

int main(void)
{
    int bad = 0;
    nb_data_spec s;
    data_spec_defaults(&s);
    bad |= measure("synthetic", &s);
    data_spec_free(&s);

    const char *dd = getenv("NB_DATA_DIR");
    char *dir = nb_strf("%s/gowalla-lightgcn", dd && *dd ? dd : "../shared/data");
    data_spec_defaults(&s);
    s.synthetic = 0;
    s.valid_share = 0;
    s.train_path = nb_strf("%s/train.txt", dir);
    s.test_path = nb_strf("%s/test.txt", dir);
    FILE *probe = fopen(s.train_path, "r");
    if (probe) {
        fclose(probe);
        bad |= measure("gowalla", &s);
    } else {
        printf("# skip: %s not found\n", s.train_path);
    }
    data_spec_free(&s);
    free(dir);
    return bad;
}
