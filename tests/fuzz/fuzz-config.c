/*
 * fuzz-config.c - libFuzzer harness: the experiment parser (config_load:
 * libyaml through yaml_tree into nb_config with positioned diagnostics).
 * Any input must load or be refused with diagnostics, never crash or leak.
 */
#include "config.h"
#include "fuzz_util.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file(0, ".yaml", data, size);
    if (!path) return 0;
    nb_config cfg;
    nb_diags d = { 0 };
    memset(&cfg, 0, sizeof cfg);
    if (config_load(path, &cfg, &d) == 0) config_free(&cfg);
    diags_free(&d);
    return 0;
}
