/*
 * fuzz-lines.c - libFuzzer harness: the data loader for the LightGCN/DENS line format, "user item item ...", through dataset_load and its
 * splits (fuzz_data.c). Never a crash or a leak, whatever the bytes.
 */
#include "dataset.h"
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_data_one(NB_FMT_LINES, ".txt", data, size);
}
