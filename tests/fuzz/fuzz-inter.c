/*
 * fuzz-inter.c - libFuzzer harness: the data loader for RecBole .inter files (tab-separated, typed header), through dataset_load and its
 * splits (fuzz_data.c). Never a crash or a leak, whatever the bytes.
 */
#include "dataset.h"
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_data_one(NB_FMT_INTER, ".inter", data, size);
}
