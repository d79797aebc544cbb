/*
 * cmd_plugins_check.c - `negbench plugins --check NAME`: train a plugin a
 * few steps on a small synthetic set twice, once with its performance hints
 * honoured and checked (hint_check.h: unsynced rows read as NaN; dense Adam
 * deferred so rows do lag) and once as if the sampler declared none (every
 * row current, every layer filled), and compare the step losses.
 *
 * A sampler is checked with the models mf and lightgcn, a model with the
 * samplers rns (every hint: rows on demand) and dns; a pair whose other
 * plugin is not found is skipped with a note. Deferred Adam agrees with the
 * every-step update up to float rounding, so losses must agree to a relative
 * 1e-5 (a stale or NaN row moves them far more, or fails the run).
 */
#include "cli.h"
#include "config.h"
#include "dataset.h"
#include "kernels.h"
#include "train.h"
#include "util.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_MAX_STEPS 4096
#define CHECK_REL_TOL 1e-5

/* One training of the check: the experiment text and how to run it. */
typedef struct check_run {
    const char *model, *sampler;
    int hints;               /* 1: honour and check the hints; 0: ignore them */
    int threads;
    double *loss;            /* [CHECK_MAX_STEPS], NAN where no step ran */
} check_run;

/* The YAML of a check run: a synthetic set of 300 users and 200 items,
 * 2 epochs of batches of 128 (about 45 steps). */
static char *check_yaml(const check_run *r)
{
    return nb_strf("version: 1\n"
                   "name: plugin-check\n"
                   "data: {synthetic: {users: 300, items: 200, rank: 4, per_user: 12}}\n"
                   "model: {name: %s, dim: 16}\n"
                   "sampler: {name: %s}\n"
                   "train: {epochs: 2, lr: 0.01, batch_size: 128, threads: %d, adam_defer: %s}\n"
                   "eval: {every: 2, topk: [10], metric: recall@10, patience: 5}\n",
                   r->model, r->sampler, r->threads, r->hints ? "on" : "off");
}

/* Train r; NB_OK with r->loss filled, else *err says why. */
static int check_train(const nb_registry *reg, check_run *r, char **err)
{
    const nb_plugin *mp = registry_find(reg, NB_KIND_MODEL, r->model);
    const nb_plugin *sp = registry_find(reg, NB_KIND_SAMPLER, r->sampler);
    char *text = check_yaml(r), *perr = NULL;
    nb_node *root = NULL;
    nb_config cfg;
    nb_diags diags = { 0 };
    nb_dataset ds;
    nb_train_out out;
    const int n_mvals = schema_count(mp->desc->params), n_svals = schema_count(sp->desc->params);
    nb_value *mvals = nb_xcalloc((size_t)n_mvals + 1, sizeof *mvals);
    nb_value *svals = nb_xcalloc((size_t)n_svals + 1, sizeof *svals);
    int rc = NB_EINVAL, have_cfg = 0, have_ds = 0, have_out = 0;
    memset(&cfg, 0, sizeof cfg);
    memset(&ds, 0, sizeof ds);
    memset(&out, 0, sizeof out);
    if (node_parse("plugin-check.yaml", text, &root, err) != NB_OK) goto done;
    have_cfg = 1;
    static const char *const mkeys[] = { "name", "dim", NULL }, *const skeys[] = { "name", NULL };
    if (config_load_tree("plugin-check.yaml", text, root, &cfg, &diags) != 0 ||
        config_plugin_values(&cfg, cfg.model_params, mp->desc->name, mp->desc->params, mkeys,
                             mvals, n_mvals, &diags) != 0 ||
        config_plugin_values(&cfg, cfg.sampler_params, sp->desc->name, sp->desc->params, skeys,
                             svals, n_svals, &diags) != 0) {
        rc = nb_fail(err, NB_EINVAL, "%s", diags.n ? diags.msg[0] : "bad check configuration");
        goto done;
    }
    if ((rc = dataset_load(&cfg.data, &ds, err)) != NB_OK) goto done;
    have_ds = 1;
    for (int64_t s = 0; s < CHECK_MAX_STEPS; s++) r->loss[s] = NAN;
    nb_train_in in = {
        .cfg = &cfg, .ds = &ds, .model = mp->desc, .sampler = sp->desc,
        .model_values = mvals, .sampler_values = svals, .n_model_values = n_mvals,
        .n_sampler_values = n_svals, .threads = r->threads,
        .ignore_hints = !r->hints, .check_hints = r->hints,
        .step_loss = r->loss, .n_step_loss = CHECK_MAX_STEPS,
    };
    in.batch_M = 1;
    have_out = 1;
    rc = train_run(&in, &out, &perr);
    if (rc == NB_OK && out.status != NB_RUN_DONE)
        rc = nb_fail(err, NB_ERR, "%s", out.error ? out.error : "the run failed");
    else if (rc != NB_OK)
        rc = nb_fail(err, rc, "%s", perr ? perr : "the run could not start");
done:
    if (have_out) train_out_free(&out);
    if (have_ds) dataset_free(&ds);
    if (have_cfg) config_free(&cfg);
    diags_free(&diags);
    free(mvals);
    free(svals);
    free(text);
    free(perr);
    return rc;
}

/* The sampler's hints as words, for the report. */
static void hint_words(const nb_registry *reg, const char *sampler, char *buf, size_t n)
{
    const nb_plugin *sp = registry_find(reg, NB_KIND_SAMPLER, sampler);
    uint32_t f = ((const nb_sampler_vt *)sp->desc->vtable)->flags;
    snprintf(buf, n, "%s%s%s%s", f & NB_SAMPLER_SYNCS_ROWS ? " SYNCS_ROWS" : "",
             f & NB_SAMPLER_FINAL_ONLY ? " FINAL_ONLY" : "",
             f & NB_SAMPLER_FEW_ROWS ? " FEW_ROWS" : "", f ? "" : " none");
}

/* Check one (model, sampler) pair; prints one line; 0 when it passes. */
static int check_pair(const nb_registry *reg, const char *model, const char *sampler, int threads)
{
    double *a = nb_xmalloc(CHECK_MAX_STEPS * sizeof(double));
    double *b = nb_xmalloc(CHECK_MAX_STEPS * sizeof(double));
    check_run plain = { model, sampler, 0, threads, a }, hinted = { model, sampler, 1, threads, b };
    char *err = NULL, hints[64];
    int failed = 1;
    hint_words(reg, sampler, hints, sizeof hints);
    printf("check %s + %s (hints:%s): ", model, sampler, hints);
    fflush(stdout);
    if (check_train(reg, &plain, &err) != NB_OK) {
        printf("FAILED without the hints: %s\n", err);
        goto done;
    }
    if (check_train(reg, &hinted, &err) != NB_OK) {
        printf("FAILED with the hints: %s\n", err);
        goto done;
    }
    int64_t n = 0, worst = 0;
    double worst_rel = 0.0;
    for (; n < CHECK_MAX_STEPS && !isnan(a[n]); n++) {
        double rel = fabs(a[n] - b[n]) / (fabs(a[n]) > 1e-12 ? fabs(a[n]) : 1e-12);
        if (!(rel <= worst_rel)) worst_rel = rel, worst = n; /* NaN counts as worst */
    }
    if (n == 0 || !(worst_rel <= CHECK_REL_TOL)) {
        printf("FAILED: step %lld loss %.9g with the hints, %.9g without (relative difference "
               "%.3g > %g)\n", (long long)worst + 1, b[worst], a[worst], worst_rel, CHECK_REL_TOL);
        goto done;
    }
    printf("ok (%lld steps, largest relative loss difference %.2g)\n", (long long)n, worst_rel);
    failed = 0;
done:
    free(err);
    free(a);
    free(b);
    return failed;
}

static void check_usage(FILE *out)
{
    fputs("usage: negbench plugins --check NAME [--threads N]\n"
          "\n"
          "Train the model or sampler NAME a few steps on a small synthetic set with its\n"
          "performance hints honoured and checked (rows it did not sync read as NaN, the\n"
          "per-layer stack as NaN for FINAL_ONLY samplers, dense Adam deferred) and with\n"
          "the hints ignored, and compare the step losses. A sampler is checked with mf\n"
          "and lightgcn, a model with rns and dns. Exit status 0 when every pair agrees,\n"
          "1 when one fails, 2 on a usage error or an unknown plugin.\n", out);
}

int cmd_plugins_check(int argc, char **argv)
{
    static const struct option opts[] = {
        { "check", required_argument, 0, 'c' }, { "threads", required_argument, 0, 't' },
        { "help", no_argument, 0, 'h' },         { 0, 0, 0, 0 },
    };
    const char *name = NULL;
    int threads = 2, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': name = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'h': check_usage(stdout); return NB_EXIT_OK;
        default: check_usage(stderr); return NB_EXIT_USAGE;
        }
    }
    if (!name || optind != argc || threads < 1) {
        check_usage(stderr);
        return NB_EXIT_USAGE;
    }
    nb_registry reg = { 0 };
    if (cli_load_plugins(&reg) != 0) return NB_EXIT_USAGE;
    nb_set_threads(threads);
    static const char *const models[] = { "mf", "lightgcn" }, *const samplers[] = { "rns", "dns" };
    int status = NB_EXIT_OK, pairs = 0;
    for (int kind = NB_KIND_MODEL; kind <= NB_KIND_SAMPLER; kind++) {
        if (!registry_find(&reg, kind, name)) continue;
        for (int k = 0; k < 2; k++) {
            const char *model = kind == NB_KIND_MODEL ? name : models[k];
            const char *sampler = kind == NB_KIND_MODEL ? samplers[k] : name;
            if (!registry_find(&reg, NB_KIND_MODEL, model) ||
                !registry_find(&reg, NB_KIND_SAMPLER, sampler)) {
                printf("check %s + %s: skipped (%s not found)\n", model, sampler,
                       kind == NB_KIND_MODEL ? sampler : model);
                continue;
            }
            pairs++;
            if (check_pair(&reg, model, sampler, threads)) status = NB_EXIT_RUN_FAILED;
        }
    }
    if (!pairs && status == NB_EXIT_OK) {
        fprintf(stderr, "negbench plugins --check: no plugin \"%s\" to check%s\n", name,
                registry_find(&reg, NB_KIND_MODEL, name) || registry_find(&reg, NB_KIND_SAMPLER, name)
                    ? " with" : " (negbench plugins lists them)");
        status = NB_EXIT_USAGE;
    }
    registry_free(&reg);
    return status;
}
