/*
 * fuzz_data.c - one data-loader run for the format harnesses (fuzz_data.h).
 */
#include "fuzz_data.h"
#include "dataset.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

int fuzz_data_one(int format, const char *suffix, const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *path = fuzz_write_file(0, suffix, data + 1, size - 1);
    if (!path) return 0;
    nb_data_spec spec;
    nb_dataset ds;
    char *err = NULL;
    data_spec_defaults(&spec);
    spec.synthetic = 0;
    spec.format = format;
    spec.split = data[0] & 3;
    spec.valid_share = (data[0] & 4) ? 0.1 : 0.0;
    spec.cutoff_quantile = (data[0] & 8) ? 0.5 : spec.cutoff_quantile;
    spec.train_path = strdup(path);
    memset(&ds, 0, sizeof ds);
    if (dataset_load(&spec, &ds, &err) == 0) dataset_free(&ds);
    free(err);
    data_spec_free(&spec);
    return 0;
}
