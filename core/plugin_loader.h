/*
 * plugin_loader.h - finding, opening and validating plugins (ABI v1).
 *
 * Search path, in order: the build tree next to the running executable
 * (<exe dir>/plugins/{models,samplers}/.libs), every directory of
 * NEGBENCH_PLUGIN_PATH (colon separated), then the installed pkglibdir.
 * Within that order the first plugin of a given kind and name wins; two
 * plugins of the same kind and name in ONE directory are an error.
 *
 * A shared object is refused, with one line naming the file, when: it has no
 * nb_plugin_descriptor symbol, a descriptor's ABI major differs from the
 * host's or its minor is newer, its struct_size is smaller than the v1.0
 * descriptor, its name is not [a-z0-9_]+, a required callback is NULL, or
 * its parameter schema is malformed (bad type, default outside its range),
 * its descriptor list does not end within NB_MAX_DESCRIPTORS entries, or it
 * crashes, exits or hangs (20 s) while a child process loads it first.
 */
#ifndef NB_PLUGIN_LOADER_H
#define NB_PLUGIN_LOADER_H

#include "negbench/plugin.h"

/* Descriptors read from one shared object at most. */
#define NB_MAX_DESCRIPTORS 256

typedef struct nb_plugin {
    const nb_plugin_desc *desc;
    char *path;                  /* the .so it came from */
} nb_plugin;

typedef struct nb_registry {
    int n;
    nb_plugin *plugins;
    int n_handles;
    void **handles;              /* dlopen handles, closed by registry_free */
} nb_registry;

/* Open one shared object and register its descriptors. dir_tag identifies
 * the search-path directory for the duplicate rule (same tag = same dir). */
int registry_load_file(nb_registry *r, const char *path, char **err);

/* Load every *.so of a directory (missing directory: not an error). */
int registry_load_dir(nb_registry *r, const char *dir, char **err);

/* Load the whole search path described above. */
int registry_load_default(nb_registry *r, char **err);

/* The plugin of this kind and name, or NULL. */
const nb_plugin *registry_find(const nb_registry *r, int kind, const char *name);

/* The registered name of that kind nearest to name (for suggestions). */
const char *registry_nearest(const nb_registry *r, int kind, const char *name);

/* Close every plugin handle and free the list; r is left empty. */
void registry_free(nb_registry *r);

/* Number of entries in a {NULL}-terminated schema. */
int schema_count(const nb_param_spec *schema);

/* NB_OK when n_values, the length of a resolved value array, is the number
 * of entries in the plugin's schema; else NB_EINVAL with a message naming
 * the plugin and both counts. Every host path that hands values to a plugin
 * checks this first, so a plugin never reads past a short array. */
int plugin_values_check(const nb_plugin_desc *d, int n_values, char **err);

/* The model's init() after plugin_values_check (d->kind must be a model). */
int plugin_model_init(const nb_plugin_desc *d, const nb_host *h, const nb_value *values,
                      int n_values, const nb_train *train, int32_t dim, uint64_t seed,
                      void **state, char **err);

/* The sampler's init() after plugin_values_check (d->kind must be a sampler). */
int plugin_sampler_init(const nb_plugin_desc *d, const nb_host *h, const nb_value *values,
                        int n_values, const nb_train *train, int32_t dim, int32_t max_batch,
                        uint64_t seed, void **state, char **err);

/* Validate a descriptor (also used by tests on in-process descriptors). */
int plugin_validate(const nb_plugin_desc *d, const char *path, char **err);

#endif /* NB_PLUGIN_LOADER_H */
