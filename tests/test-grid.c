/*
 * test-grid.c - experiment grids (core/grid.c, core/sweep.c): expansion of
 * products, zips, seeds and repeats (run counts, order, labels), per-plugin
 * blocks, includes (override, removal, relative paths), list-valued
 * parameters, duplicate points, run identities equal to negbench run's, the
 * data checksum without loading, and the corpus of bad grids in
 * fixtures/grid (each names its expected diagnostics in "# expect: " lines,
 * FILE and DIR standing for the file's path and directory).
 */
#define _GNU_SOURCE
#include "config.h"
#include "dataset.h"
#include "grid.h"
#include "sha256.h"
#include "sweep.h"
#include "util.h"
#include "tap/tap.h"
#include "corpus.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static nb_registry reg;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) tap_bail("cannot write %s", path);
}

static char *tmp(const char *name) { return nb_strf("%s/%s", tap_tmpdir(), name); }

/* Load a grid written to a temp file; bails with its diagnostics on error. */
static void load_text(const char *name, const char *text, nb_sweep *sw)
{
    char *path = tmp(name);
    nb_diags d = {0};
    write_file(path, text);
    if (sweep_load(path, &reg, -1, sw, &d) != 0) {
        for (int i = 0; i < d.n; i++) diag("%s", d.msg[i]);
        tap_bail("%s does not load", name);
    }
    diags_free(&d);
    free(path);
}

/* The value of a plugin parameter of run r by name (NAN if absent). */
static double sparam(const nb_sweep_run *r, const char *name)
{
    const nb_param_spec *s = r->sampler->desc->params;
    for (int i = 0; s && s[i].name; i++)
        if (!strcmp(s[i].name, name))
            return s[i].type == NB_PARAM_FLOAT ? r->svals[i].f : (double)r->svals[i].i;
    return NAN;
}

#define BASE "data: {synthetic: {users: 60, items: 50, rank: 4, per_user: 8}}\n" \
             "model: {name: mf, dim: 8}\n"

static void test_product_zip_seeds(void)
{
    nb_sweep sw;
    load_text("pzs.yaml",
              "version: 1\n" BASE
              "sampler: {name: rns}\n"
              "train: {epochs: 2, lr: 0.5}\n"
              "eval: {topk: [5, 10]}\n"
              "grid:\n"
              "  product:\n"
              "    sampler.name: [rns, dns, ans]\n"
              "    model.dim: [8, 16]\n"
              "  zip:\n"
              "    - {train.lr: [0.1, 0.01], train.reg_weight: [0.001, 0.0001]}\n"
              "  seeds: [11, 12, 13]\n",
              &sw);
    is_int(sw.n, 3 * 2 * 2 * 3, "product 3 x 2, a zip of 2, 3 seeds: 36 runs");
    is_int(sw.n_distinct, 36, "... all distinct");
    is_string(sw.grid.shape, "3 x 2 x 2 x 3", "... shape");
    is_string(sw.runs[0].label, "sampler.name=rns model.dim=8 train.lr=0.1 train.reg_weight=0.001 seed=11",
              "first point: every axis at its first value");
    is_string(sw.runs[35].label, "sampler.name=ans model.dim=16 train.lr=0.01 train.reg_weight=0.0001 seed=13",
              "last point: every axis at its last value");
    const nb_sweep_run *r = &sw.runs[1 * 12 + 1 * 6 + 1 * 3 + 2]; /* dns, 16, zip #2, seed 13 */
    ok(!strcmp(r->cfg.sampler, "dns") && r->cfg.dim == 16 && r->cfg.train.lr == 0.01 &&
       r->cfg.train.reg_weight == 0.0001 && r->cfg.train.seed == 13,
       "a middle point has the values of its label (%s)", r->label);
    ok(r->cfg.train.epochs == 2 && r->cfg.eval.opts.n_ks == 2, "base values are kept");
    int zipped = 1;
    for (int i = 0; i < sw.n; i++)
        zipped &= (sw.runs[i].cfg.train.lr == 0.1) == (sw.runs[i].cfg.train.reg_weight == 0.001);
    ok(zipped, "zipped axes vary together (never lr 0.1 with reg 1e-4)");
    int hashes_ok = 1;
    for (int i = 0; i < sw.n; i++) hashes_ok &= strlen(sw.runs[i].hash) == 64;
    ok(hashes_ok, "every run has a SHA-256 identity");
    sweep_free(&sw);
}

static void test_blocks(void)
{
    nb_sweep sw;
    load_text("blocks.yaml",
              "version: 1\n" BASE
              "sampler: {name: rns}\n"
              "grid: {product: {sampler.name: [rns, dns, ans]}}\n"
              "sampler_params:\n"
              "  dns: {M: 4}\n"
              "  ans: {M: 8, gamma: 0.25}\n"
              "model_params:\n"
              "  lightgcn: {layers: 1}\n",
              &sw);
    is_int(sw.n, 3, "3 samplers: 3 runs");
    ok(!strcmp(sw.runs[0].cfg.sampler, "rns") && strstr(sw.runs[0].json, "\"M\"") == NULL,
       "rns gets no M (the blocks of other samplers do not apply)");
    ok(sparam(&sw.runs[1], "M") == 4, "dns gets its block's M = 4");
    ok(sparam(&sw.runs[2], "M") == 8 && sparam(&sw.runs[2], "gamma") == 0.25,
       "ans gets its block's M = 8 and gamma = 0.25");
    ok(fabs(sparam(&sw.runs[2], "eps") - 0.1) < 1e-12, "ans keeps the default eps");
    sweep_free(&sw);

    load_text("blocks2.yaml",
              "version: 1\n" BASE
              "sampler: {name: dns, M: 16}\n"
              "grid: {product: {train.lr: [0.1, 0.2]}}\n"
              "sampler_params: {dns: {M: 4}}\n",
              &sw);
    ok(sparam(&sw.runs[0], "M") == 16 && sparam(&sw.runs[1], "M") == 16,
       "a value the sampler section sets wins over its block");
    sweep_free(&sw);

    load_text("blocks3.yaml",
              "version: 1\n" BASE
              "sampler: dns\n"
              "sampler_params: {dns: {M: 5}}\n",
              &sw);
    ok(sw.n == 1 && sparam(&sw.runs[0], "M") == 5,
       "a block applies to the short form \"sampler: dns\" (no grid: one run)");
    sweep_free(&sw);
}

static void test_includes(void)
{
    char *sub = tmp("sub"), *data = tmp("sub/data");
    mkdir(sub, 0777);
    mkdir(data, 0777);
    char *train = tmp("sub/data/train.txt"), *test = tmp("sub/data/test.txt");
    write_file(train, "0 1 2 3\n1 2 3 4\n2 0 4 5\n3 5 1 0\n");
    write_file(test, "0 4\n1 5\n2 1\n3 2\n");
    char *inc = tmp("sub/defaults.yaml");
    write_file(inc,
               "data: {train: data/train.txt, test: data/test.txt}\n"
               "model: {name: mf, dim: 8}\n"
               "sampler: {name: dns, M: 3}\n"
               "train: {epochs: 3, lr: 0.05}\n"
               "eval: {patience: 3, topk: [2, 3]}\n"
               "sampler_params: {ans: {M: 7}}\n");
    nb_sweep sw;
    load_text("inc.yaml",
              "version: 1\n"
              "include: sub/defaults.yaml\n"
              "train: {epochs: 5}\n"
              "eval: {patience: ~}\n"
              "grid: {product: {sampler.name: [dns, ans]}}\n",
              &sw);
    is_int(sw.n, 2, "an included base with a grid: 2 runs");
    const nb_config *c = &sw.runs[0].cfg;
    ok(c->train.epochs == 5 && c->train.lr == 0.05, "the file overrides the include key by key "
       "(epochs 5 from the file, lr 0.05 from the include)");
    is_int(c->eval.patience, 10, "key: ~ removes an included key (patience back to its default)");
    ok(c->data.train_path && strstr(c->data.train_path, "sub/data/train.txt") != NULL,
       "relative data paths of an included file are resolved from its directory (%s)",
       c->data.train_path ? c->data.train_path : "?");
    ok(sparam(&sw.runs[0], "M") == 3 && sparam(&sw.runs[1], "M") == 3,
       "the sampler section's M (3) wins over the included ans block");
    sweep_free(&sw);
    free(sub), free(data), free(train), free(test), free(inc);
}

static void test_lists_and_dups(void)
{
    nb_sweep sw;
    load_text("list1.yaml",
              "version: 1\n" BASE
              "sampler: {name: rns}\n"
              "eval: {topk: [5, 10], metric: ndcg@5}\n"
              "include: []\n",
              &sw);
    ok(sw.n == 1 && sw.runs[0].cfg.eval.opts.n_ks == 2 && !sw.grid.is_grid,
       "a list-valued parameter outside grid: is a parameter, not an axis (1 run, topk of 2)");
    sweep_free(&sw);

    load_text("list2.yaml",
              "version: 1\n" BASE
              "sampler: {name: rns}\n"
              "eval: {metric: recall@10}\n"
              "grid: {product: {eval.topk: [[5, 10], [10, 20, 50]]}}\n",
              &sw);
    ok(sw.n == 2 && sw.runs[0].cfg.eval.opts.n_ks == 2 && sw.runs[1].cfg.eval.opts.n_ks == 3 &&
       sw.runs[1].cfg.eval.opts.ks[2] == 50,
       "an axis whose values are lists: 2 runs, topk [5, 10] and [10, 20, 50]");
    is_string(sw.runs[1].label, "eval.topk=[10, 20, 50]", "... labelled in flow style");
    sweep_free(&sw);

    load_text("blocks.yaml",
              "version: 1\n"
              "model: {name: mf, dim: 8}\n"
              "sampler: {name: rns}\n"
              "data: {synthetic: {users: 60, items: 50, rank: 4, per_user: 8}}\n"
              "grid:\n"
              "  product:\n"
              "    data:\n"
              "      - {synthetic: {users: 60, items: 50, rank: 4, per_user: 8}}\n"
              "      - {synthetic: {users: 70, items: 50, rank: 4, per_user: 8}}\n",
              &sw);
    ok(sw.n == 2 && sw.runs[1].cfg.data.syn_users == 70,
       "an axis whose values are mappings: 2 runs, the second with 70 users");
    is_string(sw.runs[1].label, "data=#2@line9", "... labelled by list position and line");
    sweep_free(&sw);

    load_text("repeats.yaml",
              "version: 1\n" BASE
              "sampler: {name: rns}\n"
              "train: {seed: 40}\n"
              "grid: {product: {sampler.name: [rns, dns]}, repeats: 3}\n",
              &sw);
    ok(sw.n == 6 && sw.runs[0].cfg.train.seed == 40 && sw.runs[1].cfg.train.seed == 41 &&
       sw.runs[2].cfg.train.seed == 42 && sw.runs[3].cfg.train.seed == 40,
       "repeats: 3 runs seeds train.seed + 0, 1, 2 innermost");
    sweep_free(&sw);

    load_text("dups.yaml",
              "version: 1\n" BASE
              "sampler: {name: rns}\n"
              "grid: {product: {sampler.name: [rns, dns, rns]}}\n",
              &sw);
    ok(sw.n == 3 && sw.n_distinct == 2 && sw.runs[2].dup_of == 0 && sw.runs[1].dup_of < 0,
       "identical points are one run (3 points, 2 distinct; #3 is #1)");
    sweep_free(&sw);

    load_text("data-axis.yaml",
              "version: 1\n" BASE
              "sampler: {name: rns}\n"
              "grid:\n"
              "  product:\n"
              "    data: [{synthetic: {users: 30, items: 20}}, {synthetic: {users: 40, items: 20}}]\n",
              &sw);
    ok(sw.n == 2 && sw.runs[0].cfg.data.syn_users == 30 && sw.runs[1].cfg.data.syn_users == 40 &&
       sw.runs[0].cfg.data.syn_per_user == 30,
       "a map-valued axis (data) replaces the whole section (per_user back to its default)");
    sweep_free(&sw);
}

/* A grid point is the same run (same JSON, same hash) as the equivalent
 * single-run file through config_load, as negbench run computes it. */
static void test_identity(void)
{
    nb_sweep sw;
    load_text("ident.yaml",
              "version: 1\n" BASE
              "sampler: {name: rns}\n"
              "train: {epochs: 3}\n"
              "grid: {product: {sampler.name: [dns]}, seeds: [9]}\n"
              "sampler_params: {dns: {M: 6}}\n",
              &sw);
    char *single = tmp("single.yaml");
    write_file(single, "version: 1\n" BASE "sampler: {name: dns, M: 6}\n"
                       "train: {epochs: 3, seed: 9}\n");
    nb_config cfg;
    nb_diags d = {0};
    nb_dataset ds;
    char *err = NULL;
    int rc = config_load(single, &cfg, &d);
    if (rc) tap_bail("single.yaml does not load");
    if (dataset_load(&cfg.data, &ds, &err)) tap_bail("%s", err);
    char sum[65];
    ok(dataset_checksum(&cfg.data, sum, &err) == 0 && !strcmp(sum, ds.checksum),
       "dataset_checksum equals dataset_load's checksum (synthetic)");
    const nb_sweep_run *r = &sw.runs[0];
    nb_value sv[8];
    static const char *const skeys[] = {"name", NULL};
    int nsv = schema_count(r->sampler->desc->params);
    if (nsv > 8) tap_bail("dns has more than 8 parameters");
    config_plugin_values(&cfg, cfg.sampler_params, "dns", r->sampler->desc->params, skeys, sv,
                         nsv, &d);
    char *json = config_to_json(&cfg, ds.checksum, r->model->desc->params, r->mvals, r->n_mvals,
                                r->sampler->desc->params, sv, nsv);
    is_string(r->json, json, "the grid point's canonical JSON is the single run's");
    free(json);
    dataset_free(&ds);
    config_free(&cfg);

    /* file data: the checksum of the bytes, without parsing */
    nb_data_spec spec;
    data_spec_defaults(&spec);
    spec.synthetic = 0;
    spec.train_path = tmp("sub/data/train.txt");
    spec.test_path = tmp("sub/data/test.txt");
    if (dataset_load(&spec, &ds, &err)) tap_bail("%s", err);
    ok(dataset_checksum(&spec, sum, &err) == 0 && !strcmp(sum, ds.checksum),
       "dataset_checksum equals dataset_load's checksum (files)");
    dataset_free(&ds);
    data_spec_free(&spec);
    char *ident = tmp("ident.yaml");
    ok(grid_file_is_sweep(ident) && !grid_file_is_sweep(single),
       "grid_file_is_sweep tells a grid from a single run");
    free(ident);
    sweep_free(&sw);
    diags_free(&d);
    free(single);
}

/* ---- the corpus of bad grids ------------------------------------------ */

static int load_grid(const char *path, nb_diags *d, void *ctx)
{
    (void)ctx;
    nb_sweep sw;
    int rc = sweep_load(path, &reg, -1, &sw, d);
    if (rc == NB_OK) sweep_free(&sw);
    return rc;
}

static void test_corpus(void)
{
    char *dir = nb_strf("%s/fixtures/grid", tap_srcdir());
    corpus_check(dir, 20, load_grid, NULL);
    free(dir);
}

int main(void)
{
    const char *b = getenv("NB_BUILDDIR");
    char *err = NULL;
    char *m = nb_strf("%s/plugins/models/.libs", b ? b : ".");
    char *s = nb_strf("%s/plugins/samplers/.libs", b ? b : ".");
    if (registry_load_dir(&reg, m, &err) || registry_load_dir(&reg, s, &err))
        tap_bail("plugins: %s", err);
    if (!registry_find(&reg, NB_KIND_SAMPLER, "ans"))
        tap_bail("the ans sampler is not among the plugins built in %s (make builds them)", s);
    test_product_zip_seeds();
    test_blocks();
    test_includes();
    test_lists_and_dups();
    test_identity();
    test_corpus();
    registry_free(&reg);
    free(m);
    free(s);
    return tap_done();
}
