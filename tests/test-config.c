/*
 * test-config.c - experiment files: the YAML tree, a full file and the
 * defaults, the corpus of bad files in fixtures/yaml (each names its
 * expected diagnostics in "# expect: " lines, FILE and DIR standing for the
 * path and directory of the file), plugin parameters against a schema, and
 * the canonical JSON (stable under key order, sensitive to values).
 */
#define _GNU_SOURCE
#include "config.h"
#include "util.h"
#include "json.h"
#include "tap/tap.h"
#include "corpus.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *fixture(const char *name)
{
    return nb_strf("%s/fixtures/yaml/%s", tap_srcdir(), name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) tap_bail("cannot write %s", path);
}

/* ---- the tree --------------------------------------------------------- */

static void test_tree(void)
{
    nb_node *root = NULL;
    char *err = NULL;
    const char *text = "a: 1\nb:\n  - x\n  - 'y'\nc: {d: \"5\"}\n";
    is_int(node_parse("t.yaml", text, &root, &err), 0, "tree: parses");
    if (!root) {
        skip(9, "no tree");
        free(err);
        return;
    }
    is_int(root->kind, NB_NODE_MAP, "tree: root is a map");
    is_int(root->n, 3, "tree: three keys");
    const nb_node *b = node_get(root, "b");
    ok(b && b->kind == NB_NODE_SEQ && b->n == 2, "tree: b is a 2-item sequence");
    ok(b && b->n == 2 && !b->items[0]->quoted && b->items[1]->quoted &&
           !strcmp(b->items[1]->text, "y"), "tree: plain and quoted items");
    ok(b && b->n == 2 && b->items[1]->line == 4 && b->items[1]->col == 5,
       "tree: item position 4:5");
    ok(root->key_line[2] == 5 && root->key_col[2] == 1, "tree: key c at 5:1");
    const nb_node *d = node_get(node_get(root, "c"), "d");
    ok(d && d->quoted && !strcmp(d->text, "5") && d->line == 5 && d->col == 8,
       "tree: nested quoted scalar at 5:8");
    ok(node_get(root, "zz") == NULL && node_get(b, "x") == NULL,
       "tree: node_get misses and non-map");
    node_free(root);

    root = NULL;
    is_int(node_parse("t.yaml", "a: [1, 2\n", &root, &err), NB_EINVAL, "tree: syntax error");
    ok(err && !strncmp(err, "t.yaml:2:1: YAML syntax error: ", 31), "tree: syntax message %s",
       err ? err : "(none)");
    free(err);
    err = NULL;
    node_parse("t.yaml", "a: 1\nb: *x\n", &root, &err);
    is_string(err, "t.yaml:2:4: YAML anchors and aliases are not supported: write the value out",
              "tree: alias refused");
    free(err);
    err = NULL;
    ok(node_parse("t.yaml", "# nothing\n", &root, &err) == 0 && root == NULL,
       "tree: empty document gives NULL");
    /* tags and merge keys were once silently ignored */
    node_parse("t.yaml", "a: !!str 5\n", &root, &err);
    is_string(err, "t.yaml:1:4: YAML tag !!str is not supported: write the value without it",
              "tree: core tag refused");
    free(err);
    err = NULL;
    node_parse("t.yaml", "a: !local {b: 1}\n", &root, &err);
    is_string(err, "t.yaml:1:4: YAML tag !local is not supported: write the value without it",
              "tree: local tag on a map refused");
    free(err);
    err = NULL;
    node_parse("t.yaml", "m:\n  <<: {b: 1}\n", &root, &err);
    is_string(err, "t.yaml:2:3: YAML merge keys (<<) are not supported: write the keys out",
              "tree: merge key refused");
    free(err);
    err = NULL;
    ok(node_parse("t.yaml", "\"<<\": 1\n", &root, &err) == 0 && root, "tree: a quoted \"<<\" is a key");
    node_free(root);
    root = NULL;
}

/* node_check_duplicates: sorted, so large maps are fast; each repeat is
 * reported in document order and names the first occurrence. */
static void test_duplicates(void)
{
    nb_node *root = NULL;
    nb_diags d = {0};
    char *err = NULL;
    const char *text = "b: 1\na: 1\nb: 2\nc: {x: 1, x: 2}\nb: 3\n";
    is_int(node_parse("t.yaml", text, &root, &err), 0, "dups: parses");
    node_check_duplicates(root, "t.yaml", &d);
    ok(d.n == 3 && !strcmp(d.msg[0], "t.yaml:3:1: duplicate key \"b\" (first given at line 1)") &&
           !strcmp(d.msg[1], "t.yaml:4:11: duplicate key \"x\" (first given at line 4)") &&
           !strcmp(d.msg[2], "t.yaml:5:1: duplicate key \"b\" (first given at line 1)"),
       "dups: three repeats, in document order, each naming the first");
    diags_free(&d);
    node_free(root);
    /* 100,000 distinct keys and one repeat: a quadratic check took seconds */
    size_t cap = 100001 * 16;
    char *big = malloc(cap), *p = big;
    for (int i = 0; i < 100000; i++) p += sprintf(p, "k%d: 1\n", i);
    sprintf(p, "k7: 2\n");
    root = NULL;
    is_int(node_parse("big.yaml", big, &root, &err), 0, "dups: 100,000 keys parse");
    double t0 = nb_now();
    node_check_duplicates(root, "big.yaml", &d);
    double dt = nb_now() - t0;
    ok(d.n == 1 && !strcmp(d.msg[0], "big.yaml:100001:1: duplicate key \"k7\" (first given at line 8)"),
       "dups: the one repeat among 100,000 keys");
    ok(dt < 2.0, "dups: 100,000 keys checked in %.3f s (< 2 s)", dt);
    diags_free(&d);
    node_free(root);
    free(big);
}

/* At most NB_DIAGS_MAX_PRINT lines and a count; diags_add_unique drops
 * repeats, also within its source. */
static void test_diags_cap(void)
{
    nb_diags d = {0}, src = {0};
    char buf[4096] = "";
    for (int i = 0; i < 25; i++) diags_add(&src, "f.yaml", 1, 1, "problem %d", i % 23);
    diags_add_unique(&d, &src);
    is_int(d.n, 23, "diags: 25 messages, 23 distinct");
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    diags_print(&d, f);
    fclose(f);
    int lines = 0;
    for (char *q = buf; *q; q++) lines += *q == '\n';
    ok(lines == NB_DIAGS_MAX_PRINT + 1 && strstr(buf, "negbench: ... and 3 more problems"),
       "diags: 20 lines and a count of the other 3");
    diags_free(&d);
    diags_free(&src);
}

/* ---- a full file and the defaults ---------------------------------------- */

static void test_full(void)
{
    const char *tmp = tap_tmpdir();
    char *dir = nb_strf("%s/exp", tmp), *data = nb_strf("%s/exp/data", tmp);
    char *src = fixture("good-full.yaml"), *text = NULL, *err = NULL;
    char *dst = nb_strf("%s/good-full.yaml", dir);
    mkdir(dir, 0700);
    mkdir(data, 0700);
    if (nb_read_file(src, &text, NULL, &err)) tap_bail("%s", err);
    write_file(dst, text);
    const char *leaf[] = {"train.txt", "valid.txt", "test.txt"};
    char *paths[3];
    for (int i = 0; i < 3; i++) {
        paths[i] = nb_strf("%s/%s", data, leaf[i]);
        write_file(paths[i], "0 1 2\n1 2\n");
    }
    setenv("NB_CFG_TEST_DATA", data, 1);
    unsetenv("NB_CFG_TEST_UNSET_VAR");

    nb_config cfg;
    nb_diags d = {0};
    int rc = config_load(dst, &cfg, &d);
    is_int(rc, 0, "full: loads");
    for (int i = 0; i < d.n; i++) diag("%s", d.msg[i]);
    if (rc) {
        skip(30, "full file did not load");
        goto out;
    }
    is_string(cfg.name, "full-example", "full: name");
    is_int(cfg.data.synthetic, 0, "full: files, not synthetic");
    is_int(cfg.data.format, NB_FMT_LINES, "full: format");
    is_string(cfg.data.train_path, paths[0], "full: train relative to the YAML");
    is_string(cfg.data.valid_path, paths[1], "full: valid from ${NB_CFG_TEST_DATA}");
    is_string(cfg.data.test_path, paths[2], "full: test from ${VAR:-data}");
    is_close(cfg.data.min_rating, 4, 0, 0, "full: min_rating");
    is_int(cfg.data.split, NB_SPLIT_GIVEN, "full: split");
    ok(cfg.data.ratio[0] == 0.7 && cfg.data.ratio[1] == 0.1 && cfg.data.ratio[2] == 0.2,
       "full: ratio");
    is_close(cfg.data.cutoff, 1396310400, 0, 0, "full: cutoff");
    is_close(cfg.data.valid_share, 0.05, 0, 0, "full: valid_share");
    is_int((int64_t)cfg.data.seed, 7, "full: data.seed");
    is_string(cfg.model, "lightgcn", "full: model");
    is_int(cfg.dim, 32, "full: dim");
    ok(cfg.model_params && node_get(cfg.model_params, "n_layers"), "full: model params kept");
    is_string(cfg.sampler, "ans", "full: sampler");
    ok(cfg.sampler_params && node_get(cfg.sampler_params, "M"), "full: sampler params kept");
    nb_train_opts *t = &cfg.train;
    ok(t->epochs == 50 && t->batch_size == 1024 && t->batch_mode == NB_BATCH_RECBOLE,
       "full: epochs, batch_size, batch_mode");
    ok(t->lr == 5e-4 && t->beta1 == 0.8 && t->beta2 == 0.99 && t->adam_eps == 1e-6,
       "full: lr and Adam constants");
    ok(t->adam_mode == NB_ADAM_LAZY && t->adam_defer == NB_DEFER_OFF && t->reg_weight == 1e-5 &&
       t->reg_form == NB_REG_SQUARED, "full: adam, adam_defer, reg_weight, reg");
    ok(t->seed == 99 && t->threads == 4 && t->drop_last == 1, "full: seed, threads, drop_last");
    nb_eval_cfg *e = &cfg.eval;
    ok(e->every == 2 && e->patience == 3 && e->test_every_eval == 1, "full: every, patience, test_every_eval");
    ok(e->first == 1 && e->min_epochs == 4 && e->min_steps == 5000, "full: first, min_epochs, min_steps");
    ok(e->opts.n_ks == 3 && e->opts.ks[0] == 20 && e->opts.ks[1] == 5 && e->opts.ks[2] == 50,
       "full: topk as given");
    is_int(e->opts.report_k, 5, "full: report_k");
    is_string(e->metric, "ndcg@50", "full: metric");
    is_int(e->opts.threads, 4, "full: eval threads = train.threads");
    ok(cfg.text && strstr(cfg.text, "every key given"), "full: YAML text kept");
    config_free(&cfg);
    ok(cfg.path == NULL && cfg.root == NULL, "full: config_free zeroes");

    /* ${VAR:-default} with VAR set takes VAR; a relative value is YAML-relative */
    setenv("NB_CFG_TEST_UNSET_VAR", "data", 1);
    rc = config_load(dst, &cfg, &d);
    ok(rc == 0 && !strcmp(cfg.data.test_path, paths[2]), "full: ${VAR:-x} uses VAR when set");
    config_free(&cfg);
    unsetenv("NB_CFG_TEST_UNSET_VAR");
    /* without the variable, the valid path cannot be formed */
    unsetenv("NB_CFG_TEST_DATA");
    rc = config_load(dst, &cfg, &d);
    ok(rc == NB_EINVAL && d.n == 1 && strstr(d.msg[0], ":9:10: data.valid: environment variable NB_CFG_TEST_DATA is not set"),
       "full: unset variable reported at 9:10");
    ok(cfg.path == NULL, "full: cfg freed on failure");
out:
    diags_free(&d);
    for (int i = 0; i < 3; i++) free(paths[i]);
    free(dir), free(data), free(src), free(text), free(dst);
}

static void test_defaults(void)
{
    nb_config cfg;
    nb_diags d = {0};
    char *path = fixture("good-minimal.yaml");
    int rc = config_load(path, &cfg, &d);
    is_int(rc, 0, "defaults: loads");
    if (rc) {
        skip(9, "minimal file did not load");
        goto out;
    }
    is_string(cfg.name, "good-minimal", "defaults: name is the file stem");
    ok(cfg.data.synthetic == 1 && cfg.data.syn_users == 2000 && cfg.data.syn_items == 1000 &&
       cfg.data.train_path == NULL, "defaults: synthetic data");
    is_int((int64_t)cfg.data.seed, 2020, "defaults: data.seed = train.seed");
    is_int(cfg.dim, 64, "defaults: dim");
    nb_train_opts *t = &cfg.train;
    ok(t->epochs == 300 && t->batch_size == 2048 && t->batch_mode == NB_BATCH_POSITIVES &&
       t->lr == 1e-3 && t->beta1 == 0.9 && t->beta2 == 0.999 && t->adam_eps == 1e-8 &&
       t->adam_mode == NB_ADAM_DENSE && t->adam_defer == NB_DEFER_AUTO &&
       t->reg_weight == 1e-4 && t->reg_form == NB_REG_NORM &&
       t->seed == 2020 && t->threads == 0, "defaults: train");
    nb_eval_cfg *e = &cfg.eval;
    ok(e->every == 1 && e->patience == 10 && e->test_every_eval == 0, "defaults: eval scalars");
    ok(e->first == e->every && e->min_epochs == 0 && e->min_steps == 0 && t->drop_last == 0,
       "defaults: first = every, min_epochs 0, min_steps 0, drop_last false");
    ok(e->opts.n_ks == 3 && e->opts.ks[0] == 10 && e->opts.ks[1] == 15 && e->opts.ks[2] == 20,
       "defaults: topk 10 15 20");
    is_int(e->opts.report_k, 20, "defaults: report_k = largest topk");
    is_string(e->metric, "recall@20", "defaults: metric");
    config_free(&cfg);
out:
    diags_free(&d);
    free(path);

    /* data.seed follows train.seed when absent; report_k follows topk */
    char *p2 = nb_strf("%s/seed.yaml", tap_tmpdir());
    write_file(p2, "version: 1\ndata: {synthetic: {users: 50}}\nmodel: {name: mf}\n"
                   "sampler: {name: rns}\ntrain: {seed: 5}\neval: {topk: [3, 7]}\n");
    rc = config_load(p2, &cfg, &d);
    ok(rc == 0 && cfg.data.seed == 5 && cfg.data.syn_users == 50 && cfg.eval.opts.report_k == 7 &&
       !strcmp(cfg.eval.metric, "recall@7"), "defaults: data.seed, report_k and metric follow");
    config_free(&cfg);
    diags_free(&d);
    free(p2);
}

/* ---- the corpus of bad files -------------------------------------------- */

static int load_config(const char *path, nb_diags *d, void *ctx)
{
    (void)ctx;
    nb_config cfg;
    int rc = config_load(path, &cfg, d);
    if (rc == NB_OK) config_free(&cfg);
    return rc;
}

static void test_corpus(void)
{
    char *dir = nb_strf("%s/fixtures/yaml", tap_srcdir());
    corpus_check(dir, 15, load_config, NULL);
    free(dir);
}

/* ---- plugin parameters ---------------------------------------------------- */

static const nb_param_spec model_schema[] = {
    {"layers", NB_PARAM_INT, "2", 1, 8, NULL, "graph layers"},
    {"agg", NB_PARAM_CHOICE, "sum", 0, 0, "sum|mean|concat", "layer aggregation"},
    {"dropout", NB_PARAM_FLOAT, "0.1", 0, 1, NULL, "edge dropout"},
    {"norm", NB_PARAM_BOOL, "true", 0, 0, NULL, "normalise"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static const nb_param_spec sampler_schema[] = {
    {"M", NB_PARAM_INT, "8", 1, 1000, NULL, "candidates"},
    {"alpha", NB_PARAM_FLOAT, "0.5", 0, 1, NULL, "mixing"},
    {"warm", NB_PARAM_BOOL, "false", 0, 0, NULL, "warm start"},
    {"mode", NB_PARAM_CHOICE, "max", 0, 0, "max|min|mean", "selection"},
    {"layers", NB_PARAM_INT, "2", 1, 10, NULL, "hops"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static void test_plugin_values(void)
{
    static const char *const model_host[] = {"name", "dim", NULL};
    static const char *const sampler_host[] = {"name", NULL};
    char *path = fixture("plugin-params.yaml");
    nb_config cfg;
    nb_diags d = {0};
    nb_value mv[4], sv[5];
    int rc = config_load(path, &cfg, &d);
    is_int(rc, 0, "plugin: host part loads (plugin keys are not checked yet)");
    if (rc) {
        skip(12, "plugin-params.yaml did not load");
        goto out;
    }
    rc = config_plugin_values(&cfg, cfg.model_params, "toy", model_schema, model_host, mv, 4, &d);
    is_int(rc, 0, "plugin: model values resolve");
    ok(mv[0].i == 3 && mv[1].i == 1, "plugin: given INT and CHOICE (index)");
    ok(mv[2].f == 0.1 && mv[3].i == 1, "plugin: FLOAT and BOOL defaults");
    is_int(d.n, 0, "plugin: no diagnostics for the model");

    rc = config_plugin_values(&cfg, cfg.sampler_params, "dns", sampler_schema, sampler_host, sv, 5, &d);
    is_int(rc, NB_EINVAL, "plugin: sampler values rejected");
    const char *want[] = {
        ":10:3: unknown parameter \"MM\" for sampler \"dns\" (did you mean \"M\"?)",
        ":11:10: sampler.alpha = 2.5 is out of range [0, 1]",
        ":12:9: expected true or false for sampler.warm, got a quoted string \"yes\"",
        ":13:9: expected one of max|min|mean for sampler.mode, got \"fancy\"",
        ":14:11: expected an integer for sampler.layers, got \"1.5\""};
    is_int(d.n, 5, "plugin: five sampler errors");
    for (int i = 0; i < 5; i++) {
        char *w = nb_strf("%s%s", path, want[i]);
        is_string(i < d.n ? d.msg[i] : NULL, w, "plugin: sampler error %d", i + 1);
        free(w);
    }
    is_int(sv[0].i, 8, "plugin: M keeps its default beside the unknown MM");
    diags_free(&d);

    /* nothing close: list the parameters; no parameters at all; bad default */
    nb_node *m = NULL;
    char *err = NULL;
    node_parse("p.yaml", "zzzzzz: 1\n", &m, &err);
    config_plugin_values(&cfg, m, "dns", sampler_schema, NULL, sv, 5, &d);
    ok(d.n == 1 && strstr(d.msg[0], "(valid parameters: M, alpha, warm, mode, layers)"),
       "plugin: far key lists the parameters");
    diags_free(&d);
    node_free(m);
    m = NULL;
    node_parse("p.yaml", "M: \"5\"\nalpha: 1\nlayers: 10\n", &m, &err);
    rc = config_plugin_values(&cfg, m, "dns", sampler_schema, NULL, sv, 5, &d);
    ok(rc == NB_EINVAL && d.n == 1 &&
       strstr(d.msg[0], ":1:4: expected an integer for plugin.M, got a quoted string \"5\""),
       "plugin: a quoted number is a string");
    ok(sv[1].f == 1.0 && sv[4].i == 10, "plugin: inclusive upper bounds accepted");
    diags_free(&d);
    /* a value array shorter than the schema: refused before any slot is written */
    nb_value shortv[5];
    for (int i = 0; i < 5; i++) shortv[i].i = -7;
    rc = config_plugin_values(&cfg, m, "dns", sampler_schema, NULL, shortv, 4, &d);
    ok(rc == NB_EINVAL && d.n == 1 &&
       !strcmp(d.msg[0], "plugin \"dns\": 4 parameter values given for a schema of 5"),
       "plugin: a value array shorter than the schema is refused");
    ok(shortv[0].i == -7 && shortv[3].i == -7 && shortv[4].i == -7,
       "plugin: ... and none of its slots is written");
    char *bad = config_to_json(&cfg, NULL, model_schema, mv, 3, sampler_schema, sv, 5);
    ok(!bad, "plugin: config_to_json refuses 3 model values for a schema of 4");
    free(bad);
    diags_free(&d);
    node_free(m);
    m = NULL;
    node_parse("p.yaml", "zzzzzz: 1\n", &m, &err);
    config_plugin_values(&cfg, m, "rns", NULL, NULL, NULL, 0, &d);
    ok(d.n == 1 && strstr(d.msg[0], "unknown parameter \"zzzzzz\" for plugin \"rns\" (it takes no parameters)"),
       "plugin: schema without parameters");
    diags_free(&d);
    static const nb_param_spec bad_default[] = {
        {"x", NB_PARAM_INT, "abc", 0, 1, NULL, NULL}, {NULL, 0, NULL, 0, 0, NULL, NULL}};
    nb_value bv[1];
    rc = config_plugin_values(&cfg, NULL, "toy", bad_default, NULL, bv, 1, &d);
    ok(rc == NB_EINVAL && d.n == 1 &&
       !strcmp(d.msg[0], "plugin \"toy\": bad default \"abc\" for parameter \"x\" (expected an integer)"),
       "plugin: bad schema default reported without position");
    diags_free(&d);
    node_free(m);
    config_free(&cfg);
out:
    diags_free(&d);
    free(path);
}

/* ---- canonical JSON -------------------------------------------------------- */

static const nb_param_spec dns_schema[] = {
    {"M", NB_PARAM_INT, "8", 1, 1000, NULL, "candidates"},
    {"mode", NB_PARAM_CHOICE, "max", 0, 0, "max|min", "selection"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static char *json_of(const char *path)
{
    nb_config cfg;
    nb_diags d = {0};
    nb_value sv[2];
    char *out = NULL;
    static const char *const host[] = {"name", NULL};
    if (config_load(path, &cfg, &d) == 0 &&
        config_plugin_values(&cfg, cfg.sampler_params, cfg.sampler, dns_schema, host, sv, 2, &d) == 0)
        out = config_to_json(&cfg, "c0ffee", NULL, NULL, 0, dns_schema, sv, 2);
    for (int i = 0; i < d.n; i++) diag("%s", d.msg[i]);
    diags_free(&d);
    config_free(&cfg);
    return out;
}

/* eval.first, eval.min_epochs and train.drop_last: at their defaults
 * (first = every, 0, false), given or not, the identity is that of the file
 * without them (ja, from text); other values are in it. text has
 * "patience: 4" in eval and "threads: 2" in train, every left at 1. */
static void test_json_protocol_keys(const char *text, const char *ja)
{
    static const struct { const char *from, *to, *key, *what; } cases[] = {
        {"patience: 4", "patience: 4\n  first: 1", NULL, "first 1 with every 1"},
        {"patience: 4", "patience: 4\n  min_epochs: 0", NULL, "min_epochs 0"},
        {"threads: 2", "threads: 2\n  drop_last: false", NULL, "drop_last false"},
        {"patience: 4", "patience: 4\n  every: 3\n  first: 3", "\"every\":3,\"metric\"",
         "first 3 with every 3 (no first)"},
        {"patience: 4", "patience: 4\n  first: 2", "\"first\":2", "first 2"},
        {"patience: 4", "patience: 4\n  every: 3\n  first: 1", "\"every\":3,\"first\":1",
         "first 1 with every 3"},
        {"patience: 4", "patience: 4\n  min_epochs: 10", "\"min_epochs\":10,\"patience\":4",
         "min_epochs 10"},
        {"threads: 2", "threads: 2\n  drop_last: true", "\"drop_last\":true,\"epochs\"",
         "drop_last true"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = replace_all(text, cases[i].from, cases[i].to);
        char *p = nb_strf("%s/proto%zu.yaml", tap_tmpdir(), i);
        write_file(p, t);
        char *jc = json_of(p);
        if (!cases[i].key)
            ok(jc && ja && !strcmp(jc, ja), "json: %s is the identity without it", cases[i].what);
        else
            ok(jc && ja && strstr(jc, cases[i].key) && strcmp(jc, ja) != 0, "json: %s gives %s",
               cases[i].what, cases[i].key);
        free(jc), free(t), free(p);
    }
}

static void test_json(void)
{
    char *pa = fixture("good-order-a.yaml"), *pb = fixture("good-order-b.yaml");
    char *ja = json_of(pa), *jb = json_of(pb), *text = NULL, *err = NULL;
    ok(ja && jb, "json: both orders load");
    is_string(ja, jb, "json: key order, topk order, name and description do not matter");

    const char *want =
        "{\"data\":{\"checksum\":\"c0ffee\",\"cutoff\":null,\"cutoff_quantile\":0.80000000000000004,"
        "\"format\":\"auto\",\"min_rating\":null,"
        "\"ratio\":[0.80000000000000004,0.10000000000000001,0.10000000000000001],"
        "\"seed\":11,\"split\":\"given\",\"synthetic\":{\"items\":200,\"per_user\":30,"
        "\"pop_skew\":0.80000000000000004,\"rank\":8,\"test_share\":0.20000000000000001,"
        "\"users\":300},\"test\":null,\"train\":null,\"valid\":null,"
        "\"valid_share\":0.20000000000000001},"
        "\"eval\":{\"every\":1,\"metric\":\"ndcg@10\",\"patience\":4,\"report_k\":20,"
        "\"test_every_eval\":false,\"topk\":[5,10,20]},"
        "\"model\":{\"dim\":16,\"name\":\"mf\"},"
        "\"sampler\":{\"M\":4,\"mode\":\"max\",\"name\":\"dns\"},"
        "\"train\":{\"adam\":\"dense\",\"adam_eps\":1e-08,\"batch_mode\":\"positives\","
        "\"batch_size\":2048,\"beta1\":0.90000000000000002,\"beta2\":0.999,\"epochs\":20,"
        "\"lr\":0.002,\"reg\":\"norm\",\"reg_weight\":0.001,\"seed\":2020,\"threads\":2},"
        "\"version\":1}";
    is_string(ja, want, "json: the exact canonical text");

    /* it is valid JSON that reads back */
    char *jpath = nb_strf("%s/run.json", tap_tmpdir());
    if (ja) write_file(jpath, ja);
    json *j = ja ? json_load(jpath) : NULL;
    ok(j && json_get(j, "train.lr") && json_get(j, "train.lr")->num == 0.002 &&
       json_get(j, "sampler.M") && json_get(j, "sampler.M")->num == 4,
       "json: parses back with train.lr and sampler.M");
    json_free(j);

    /* one value changed: a different identity */
    if (nb_read_file(pa, &text, NULL, &err)) tap_bail("%s", err);
    const char *edits[][2] = {{"lr: 0.002", "lr: 0.003"}, {"threads: 2", "threads: 3"},
                              {"M: 4", "M: 5"}, {"users: 300", "users: 301"}};
    for (int i = 0; i < 4; i++) {
        char *t = replace_all(text, edits[i][0], edits[i][1]);
        char *p = nb_strf("%s/edit%d.yaml", tap_tmpdir(), i);
        write_file(p, t);
        char *jc = json_of(p);
        ok(jc && ja && strcmp(jc, ja) != 0, "json: changing \"%s\" changes it", edits[i][0]);
        free(jc), free(t), free(p);
    }

    /* train.adam_defer: "auto" (the default) keeps the identity of a file
     * without the key; "on" and "off" are in it */
    const char *defer[3] = {"auto", "on", "off"};
    for (int i = 0; i < 3; i++) {
        char *with = nb_strf("threads: 2\n  adam_defer: %s", defer[i]);
        char *t = replace_all(text, "threads: 2", with);
        char *p = nb_strf("%s/defer%d.yaml", tap_tmpdir(), i);
        write_file(p, t);
        char *jc = json_of(p), *key = nb_strf("\"adam_defer\":\"%s\"", defer[i]);
        if (i == 0)
            ok(jc && ja && !strcmp(jc, ja), "json: adam_defer auto is the identity without it");
        else
            ok(jc && strstr(jc, key) && strcmp(jc, ja) != 0, "json: adam_defer %s is in it",
               defer[i]);
        free(jc), free(key), free(t), free(p), free(with);
    }
    test_json_protocol_keys(text, ja);
    free(text), free(jpath), free(ja), free(jb), free(pa), free(pb);
}

int main(void)
{
    tap_plan(0);
    test_tree();
    test_duplicates();
    test_diags_cap();
    test_full();
    test_defaults();
    test_corpus();
    test_plugin_values();
    test_json();
    return tap_done();
}
