/*
 * fuzz_data.h - the body shared by the data-loader harnesses (fuzz-lines.c,
 * fuzz-inter.c, fuzz-csv.c): the first input byte picks the split (given,
 * ratio, time_global, time_user) and the validation share, the rest is the
 * single data file given to dataset_load in the harness's format.
 */
#ifndef NB_FUZZ_DATA_H
#define NB_FUZZ_DATA_H

#include <stddef.h>
#include <stdint.h>

/* Load data[1..size) as one file of format (enum nb_data_format) named
 * with suffix; always returns 0 (libFuzzer's convention). */
int fuzz_data_one(int format, const char *suffix, const uint8_t *data, size_t size);

#endif
