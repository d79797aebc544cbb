/*
 * fuzz-grid.c - libFuzzer harness: the grid parser (grid_load: includes,
 * product/zip/list expansion, sampler_params and model_params blocks, and
 * each point's config_load_tree). Never a crash or a leak, whatever the input.
 */
#include "config.h"
#include "grid.h"
#include "fuzz_util.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file(0, ".yaml", data, size);
    if (!path) return 0;
    nb_grid g;
    nb_diags d = { 0 };
    memset(&g, 0, sizeof g);
    if (grid_load(path, &g, &d) == 0) grid_free(&g);
    diags_free(&d);
    return 0;
}
