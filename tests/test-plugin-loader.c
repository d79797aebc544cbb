/*
 * test-plugin-loader.c - the loader refuses broken plugins with one line
 * naming the file, and accepts the real ones.
 */
#include "plugin_loader.h"
#include "tap/tap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char *builddir(void)
{
    const char *b = getenv("NB_BUILDDIR");
    return b && *b ? b : ".";
}

/* Load one fixture (leaf: its path under tests/fixtures/plugins); the error
 * must be one line naming the file and containing `what`. */
static void refuse_file(const char *leaf, const char *what)
{
    nb_registry r = { 0 };
    char *err = NULL;
    char *path = nb_strf("%s/tests/fixtures/plugins/%s", builddir(), leaf);
    int rc = registry_load_file(&r, path, &err);
    ok(rc != NB_OK, "%s is refused", leaf);
    ok(err && strstr(err, path) == err, "the error starts with the file name");
    ok(err && strstr(err, what) != NULL, "the error says \"%s\"", what);
    ok(err && !strchr(err, '\n'), "the error is one line");
    is_int(r.n, 0, "nothing registered from %s", leaf);
    if (err) diag("%s", err);
    free(err);
    free(path);
    registry_free(&r);
}

/* A sampler vtable whose required callbacks are present (never called). */
static int32_t fake_reg_rows(void *s) { (void)s; return 1; }
static void fake_free(void *s) { (void)s; }
static const nb_sampler_vt fake_vt = {
    .init = (void *)1, .reg_rows = fake_reg_rows, .negatives = (void *)1,
    .backward = (void *)1, .free = fake_free,
};

/* A sampler whose init() counts its calls (the value-count check). */
static int counted_inits;
static int counting_init(const nb_host *h, const nb_value *values, const nb_train *train,
                         int32_t dim, int32_t max_batch, uint64_t seed, void **state, char **err)
{
    (void)h, (void)values, (void)train, (void)dim, (void)max_batch, (void)seed, (void)err;
    counted_inits++;
    *state = NULL;
    return NB_OK;
}
static const nb_sampler_vt counting_vt = {
    .init = counting_init, .reg_rows = fake_reg_rows, .negatives = (void *)1,
    .backward = (void *)1, .free = fake_free,
};
static const nb_param_spec two_params[] = {
    { "M", NB_PARAM_INT, "4", 1, 10, NULL, "candidates" },
    { "gamma", NB_PARAM_FLOAT, "0.1", 0, 1, NULL, "weight" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

/* plugin_sampler_init and plugin_model_init refuse a value array whose
 * length is not the schema's, without calling the plugin. */
static void check_value_counts(void)
{
    nb_plugin_desc d = NB_PLUGIN_DESC_INIT(NB_KIND_SAMPLER, "counted", "1", "x", two_params,
                                           &counting_vt);
    nb_value v[3] = { { .i = 4 }, { .f = 0.1 }, { .i = 0 } };
    void *state = (void *)1;
    char *err = NULL;
    nb_train train = { 0 };
    int rc = plugin_sampler_init(&d, NULL, v, 1, &train, 8, 16, 1, &state, &err);
    ok(rc == NB_EINVAL && counted_inits == 0, "values: 1 value for a schema of 2 is refused, "
       "init() not called");
    is_string(err, "sampler counted: 1 parameter value given for a schema of 2",
              "values: the error names the plugin and both counts");
    free(err);
    err = NULL;
    rc = plugin_sampler_init(&d, NULL, v, 3, &train, 8, 16, 1, &state, &err);
    ok(rc == NB_EINVAL && counted_inits == 0, "values: 3 values for a schema of 2 are refused");
    free(err);
    err = NULL;
    rc = plugin_sampler_init(&d, NULL, v, 2, &train, 8, 16, 1, &state, &err);
    ok(rc == NB_OK && counted_inits == 1 && !err, "values: 2 values for a schema of 2 reach init()");
    rc = plugin_model_init(&d, NULL, v, 2, &train, 8, 1, &state, &err);
    ok(rc == NB_EINVAL && err && strstr(err, "is not a model") && counted_inits == 1,
       "values: a sampler descriptor is not initialised as a model");
    free(err);
    err = NULL;
    nb_plugin_desc none = NB_PLUGIN_DESC_INIT(NB_KIND_SAMPLER, "bare", "1", "x", NULL, &counting_vt);
    ok(plugin_values_check(&none, 0, &err) == NB_OK && plugin_values_check(&none, 1, &err) == NB_EINVAL,
       "values: a plugin without a schema takes 0 values, not 1");
    free(err);
}

static const nb_param_spec bad_default[] = {
    { "M", NB_PARAM_INT, "0", 1, 10, NULL, "default below its range" },
    { NULL, 0, NULL, 0, 0, NULL, NULL },
};

int main(void)
{
    tap_plan(0);
    check_value_counts();
    refuse_file(".libs/no_symbol.so", "no nb_plugin_descriptor symbol");
    refuse_file(".libs/abi_major.so", "ABI 2.0 is not compatible");
    refuse_file(".libs/null_callback.so", "required callback negatives is NULL");
    /* hostile plugins: reported, and this process goes on */
    refuse_file("hostile/exit/.libs/ctor_exit.so", "ended the process while loading (exit status 0)");
    refuse_file("hostile/crash/.libs/ctor_crash.so", "crashed while loading (signal 11");
    refuse_file("hostile/garbage/.libs/garbage.so", "crashed while loading (signal 11");
    refuse_file("hostile/endless/.libs/endless.so", "more than 256 descriptors");
    {
        nb_registry h = { 0 };
        char *herr = NULL;
        char *hdir = nb_strf("%s/tests/fixtures/plugins/hostile/crash/.libs", builddir());
        ok(registry_load_dir(&h, hdir, &herr) != NB_OK && herr && strstr(herr, "ctor_crash.so: "),
           "a directory with a crashing plugin is refused naming it");
        free(herr);
        free(hdir);
        registry_free(&h);
    }

    /* two plugins called "twin" in one directory */
    nb_registry r = { 0 };
    char *err = NULL;
    char *dir = nb_strf("%s/tests/fixtures/plugins/dup/.libs", builddir());
    int rc = registry_load_dir(&r, dir, &err);
    ok(rc != NB_OK, "a duplicate plugin name in one directory is refused");
    ok(err && strstr(err, "duplicate sampler name \"twin\"") != NULL, "the error names the duplicate");
    ok(err && strstr(err, "dup_b.so:") != NULL && strstr(err, "dup_a.so") != NULL,
       "the error names both files");
    if (err) diag("%s", err);
    free(err);
    err = NULL;
    free(dir);
    registry_free(&r);

    /* a bad schema default is caught by validation */
    memset(&r, 0, sizeof r);
    nb_plugin_desc d = NB_PLUGIN_DESC_INIT(NB_KIND_SAMPLER, "bad_schema", "1", "x", bad_default, NULL);
    ok(plugin_validate(&d, "inline", &err) != NB_OK, "a NULL vtable is refused");
    free(err);
    err = NULL;
    d.vtable = &fake_vt;
    ok(plugin_validate(&d, "inline", &err) != NB_OK && err &&
           strstr(err, "default 0 of \"M\" is not in [1, 10]"),
       "a schema default outside its range is refused");
    if (err) diag("%s", err);
    free(err);
    err = NULL;

    /* the real plugins of the build tree load, and shadowing across
     * directories is allowed: the first directory wins */
    char *models = nb_strf("%s/plugins/models/.libs", builddir());
    char *samplers = nb_strf("%s/plugins/samplers/.libs", builddir());
    ok(registry_load_dir(&r, models, &err) == NB_OK, "the model plugins load");
    ok(registry_load_dir(&r, samplers, &err) == NB_OK, "the sampler plugins load");
    if (err) diag("%s", err);
    ok(registry_find(&r, NB_KIND_MODEL, "mf") != NULL, "mf is registered");
    ok(registry_find(&r, NB_KIND_SAMPLER, "rns") != NULL, "rns is registered");
    ok(registry_find(&r, NB_KIND_SAMPLER, "dns") != NULL, "dns is registered");
    ok(registry_find(&r, NB_KIND_MODEL, "dns") == NULL, "kinds are separate namespaces");
    int before = r.n;
    ok(registry_load_dir(&r, samplers, &err) == NB_OK, "loading the same directory again is fine");
    is_int(r.n, before, "... and registers nothing new (shadowed)");
    is_string(registry_nearest(&r, NB_KIND_SAMPLER, "dsn"), "dns", "nearest name for a typo");
    free(err);
    free(models);
    free(samplers);
    registry_free(&r);
    return tap_done();
}
