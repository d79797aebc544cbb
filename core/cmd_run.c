/*
 * cmd_run.c - `negbench run FILE.yaml`: validate, load data and plugins,
 * train, store every epoch, print the result table.
 *
 * The store defaults to results/<experiment name>.sqlite under the current
 * directory (--db overrides). A run is identified by the SHA-256 of its
 * resolved configuration (canonical JSON, data by content checksum): a run
 * already done is not repeated (--force repeats it), an unfinished one is
 * restarted.
 */
#define _GNU_SOURCE
#include "build_config.h"
#include "cli.h"
#include "config.h"
#include "cpus.h"
#include "dataset.h"
#include "eval.h"
#include "grid.h" /* grid files go to the sweep (cmd_grid.c) */
#include "host.h"
#include "interrupt.h"
#include "kernels.h"
#include "sha256.h"
#include "thread_env.h"
#include "run_exec.h"
#include "store.h"
#include "train.h"
#include "util.h"

#include <getopt.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/git_revision.h" /* NB_GIT_REVISION, generated at each build */

static void run_usage(FILE *out)
{
    fputs("usage: negbench run FILE.yaml [--db PATH] [--threads N] [--force] [--quiet]\n"
          "\n"
          "Train and evaluate the experiment described by FILE.yaml (format:\n"
          "docs/configuration.md). Every epoch is committed to the SQLite store.\n"
          "\n"
          "  --db PATH      results store (default: results/<experiment name>.sqlite)\n"
          "  --threads N    override train.threads (0 = the CPUs this process may use:\n"
          "                 affinity, cgroup CPU quota, SLURM_CPUS_PER_TASK)\n"
          "  --force        run again even if this exact configuration is already done\n"
          "  -q, --quiet    no per-epoch lines\n"
          "  -h, --help     this help\n", out);
}

static void print_results(const nb_config *cfg, const nb_train_out *o, FILE *out)
{
    const nb_metrics *m = &o->best_test;
    fprintf(out, "\n%s: %s + %s, best epoch %d of %d (%.3f s/epoch), test users %lld\n",
            cfg->name, cfg->model, cfg->sampler, o->best_epoch, o->epochs_run,
            o->median_epoch_seconds, (long long)m->n_evaluated);
    fprintf(out, "  %-10s", "test");
    for (int k = 0; k < m->n_ks; k++) fprintf(out, "  %7s%d", "@", m->ks[k]);
    fputc('\n', out);
    for (int mi = 0; mi < NB_N_METRICS; mi++) {
        fprintf(out, "  %-10s", nb_metric_names[mi]);
        for (int k = 0; k < m->n_ks; k++) fprintf(out, "  %8.4f", m->value[mi][k]);
        fputc('\n', out);
    }
}

static char *default_db_path(const nb_config *cfg)
{
    mkdir("results", 0777);
    return nb_strf("results/%s.sqlite", cfg->name);
}

/* Begin the run, or wait while a live other process owns it (checking
 * every second): 0 begun (*run_id), 1 the other process finished it, 75
 * interrupted while waiting, -1 error (printed). */
static int begin_or_wait(nb_store *store, const nb_run_info *info, const char *db_path,
                         int64_t *run_id)
{
    char *err = NULL;
    int waited = 0, result = -1, rc;
    while ((rc = store_run_begin(store, info, run_id, &err)) == NB_STORE_BUSY) {
        if (!waited++)
            fprintf(stderr, "negbench: %s; waiting until it ends (checked every second)\n", err);
        free(err);
        err = NULL;
        if (interrupt_sleep(1.0)) {
            fprintf(stderr, "negbench: interrupted while waiting; nothing stored\n");
            return 75;
        }
        if (store_run_status(store, info->config_hash, run_id, NULL) == 1) break;
    }
    if (rc == NB_OK) {
        result = 0;
    } else if (store_run_status(store, info->config_hash, run_id, NULL) == 1) {
        /* done by the process it waited for, or by one that finished meanwhile */
        fprintf(stderr, "negbench: run %.12s was finished by another process in %s\n",
                info->config_hash, db_path);
        result = 1;
    } else {
        fprintf(stderr, "%s\n", err);
    }
    free(err);
    return result;
}

int cmd_run(int argc, char **argv)
{
    /* A grid file (grid/include/sampler_params/model_params) is a sweep. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") || !strcmp(argv[i], "-d") || !strcmp(argv[i], "--threads") ||
            !strcmp(argv[i], "-t") || !strcmp(argv[i], "-j") || !strcmp(argv[i], "--jobs"))
            i++; /* skip the option's value */
        else if (argv[i][0] != '-' && grid_file_is_sweep(argv[i])) return cmd_sweep(argc, argv);
    }

    static const struct option opts[] = {
        { "db", required_argument, 0, 'd' }, { "threads", required_argument, 0, 't' },
        { "force", no_argument, 0, 'f' },   { "quiet", no_argument, 0, 'q' },
        { "help", no_argument, 0, 'h' },    { 0, 0, 0, 0 },
    };
    const char *db_path = NULL;
    int threads_override = -1, force = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:t:fqh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db_path = optarg; break;
        case 't': threads_override = atoi(optarg); break;
        case 'f': force = 1; break;
        case 'q': quiet = 1; break;
        case 'h': run_usage(stdout); return NB_EXIT_OK;
        default: run_usage(stderr); return NB_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        run_usage(stderr);
        return NB_EXIT_USAGE;
    }
    const char *path = argv[optind];
    cli_run_prepare_env();
    interrupt_install("negbench"); /* exits 75 at once until the run begins */

    int status = NB_EXIT_USAGE;
    nb_config cfg;
    nb_diags diags = { 0 };
    nb_registry reg = { 0 };
    nb_dataset ds;
    nb_store *store = NULL;
    nb_value *mvals = NULL, *svals = NULL;
    int n_mvals = 0, n_svals = 0;
    char *err = NULL, *json = NULL, *db_default = NULL;
    nb_train_out out;
    memset(&cfg, 0, sizeof cfg);
    memset(&ds, 0, sizeof ds);
    memset(&out, 0, sizeof out);
    int have_ds = 0, have_out = 0;

    if (config_load(path, &cfg, &diags) != NB_OK) goto diag_exit;
    if (cli_load_plugins(&reg) != 0) goto done;
    const nb_plugin *mp = run_find_plugin(&reg, &cfg, NB_KIND_MODEL, cfg.model, cfg.model_params, &diags);
    const nb_plugin *sp = run_find_plugin(&reg, &cfg, NB_KIND_SAMPLER, cfg.sampler, cfg.sampler_params, &diags);
    if (mp) {
        n_mvals = schema_count(mp->desc->params);
        mvals = nb_xcalloc((size_t)n_mvals + 1, sizeof *mvals);
        static const char *const mkeys[] = { "name", "dim", NULL };
        config_plugin_values(&cfg, cfg.model_params, mp->desc->name, mp->desc->params, mkeys,
                             mvals, n_mvals, &diags);
    }
    if (sp) {
        n_svals = schema_count(sp->desc->params);
        svals = nb_xcalloc((size_t)n_svals + 1, sizeof *svals);
        static const char *const skeys[] = { "name", NULL };
        config_plugin_values(&cfg, cfg.sampler_params, sp->desc->name, sp->desc->params, skeys,
                             svals, n_svals, &diags);
    }
    if (diags.n) goto diag_exit;
    if (threads_override >= 0) cfg.train.threads = threads_override;
    nb_cpus cpus;
    cpus_detect(&cpus);
    int threads = cfg.train.threads > 0 ? cfg.train.threads : cpus.count;
    nb_set_threads(threads);

    double t0 = nb_now();
    if (dataset_load(&cfg.data, &ds, &err) != NB_OK) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    have_ds = 1;
    if (dataset_check_negatives(&cfg.data, &ds, &err) != NB_OK) { /* exit 2, nothing stored */
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "data: %s: %d users, %d items, %lld/%lld/%lld train/valid/test (%.2fs)\n",
                ds.source ? ds.source : "?", ds.n_users, ds.n_items, (long long)ds.train.nnz,
                (long long)ds.valid.nnz, (long long)ds.test.nnz, nb_now() - t0);
    if (!quiet) { /* after the data, so that a data error stays one line */
        char why[256], wait[128];
        cpus_describe(&cpus, why, sizeof why);
        thread_env_describe(wait, sizeof wait);
        if (cfg.train.threads <= 0)
            fprintf(stderr, "threads: %d = the CPUs this process may use, %s; waiting: %s\n",
                    threads, why, wait);
        else
            fprintf(stderr, "threads: %d from %s (the CPUs this process may use: %s); waiting: "
                    "%s\n", threads, threads_override > 0 ? "--threads" : "train.threads", why,
                    wait);
    }

    json = config_to_json(&cfg, ds.checksum, mp->desc->params, mvals, n_mvals, sp->desc->params,
                          svals, n_svals);
    if (!json) {
        fprintf(stderr, "negbench: %s: plugin values do not match their schemas\n", path);
        goto done;
    }
    char hash[65];
    sha256_hex(json, strlen(json), hash);

    if (!db_path) db_path = db_default = default_db_path(&cfg);
    if (store_open(db_path, &store, &err) != NB_OK || store_check(store, &err) != NB_OK) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    int64_t run_id = 0, exp_id = 0;
    int st = store_run_status(store, hash, &run_id, &err);
    if (st < 0) { fprintf(stderr, "%s\n", err); status = NB_EXIT_RUN_FAILED; goto done; }
    if (st == 1 && !force) {
        fprintf(stderr, "negbench: run %.12s is already done in %s (--force to run it again)\n",
                hash, db_path);
        status = NB_EXIT_OK;
        goto done;
    }
    if (st == 1 && force && store_run_reopen(store, hash, &err) != NB_OK) {
        fprintf(stderr, "%s\n", err);
        status = NB_EXIT_RUN_FAILED;
        goto done;
    }
    if (store_experiment(store, cfg.name, cfg.text, &exp_id, &err) != NB_OK) {
        fprintf(stderr, "%s\n", err);
        status = NB_EXIT_RUN_FAILED;
        goto done;
    }
    char hostname[256] = "unknown";
    gethostname(hostname, sizeof hostname - 1);
    nb_run_info info = {
        .experiment_id = exp_id, .config_json = json, .config_hash = hash,
        .seed = (int64_t)cfg.train.seed, .model = mp->desc->name,
        .model_version = mp->desc->version, .sampler = sp->desc->name,
        .sampler_version = sp->desc->version, .dataset = ds.source, .data_checksum = ds.checksum,
        .threads = threads, .host = hostname, .git_revision = NB_GIT_REVISION,
        .negbench_version = PACKAGE_VERSION,
    };
    interrupt_set_deferred(1);
    switch (begin_or_wait(store, &info, db_path, &run_id)) {
    case 0: break;
    case 1: status = NB_EXIT_OK; goto done;          /* finished by the other process */
    case 75: status = NB_EXIT_INTERRUPTED; goto done; /* nothing stored */
    default: status = NB_EXIT_RUN_FAILED; goto done;
    }
    int tty = isatty(STDERR_FILENO);
    const char *no_color = getenv("NO_COLOR");
    nb_train_in in = {
        .cfg = &cfg, .ds = &ds, .model = mp->desc, .sampler = sp->desc,
        .model_values = mvals, .sampler_values = svals,
        .n_model_values = n_mvals, .n_sampler_values = n_svals,
        .threads = threads, .store = store, .run_id = run_id, .verbose = !quiet,
        .progress = tty && !quiet, .color = tty && !(no_color && *no_color),
        .stop = &interrupt_flag,
    };
    have_out = 1;
    if (run_train_and_record(&in, &out, &err) != NB_OK) {
        fprintf(stderr, "%s\n", err);
        status = NB_EXIT_RUN_FAILED;
        goto done;
    }
    if (out.status == NB_RUN_DONE) {
        print_results(&cfg, &out, stdout);
        printf("  stored in %s (run %.12s)\n", db_path, hash);
        status = NB_EXIT_OK;
    } else if (out.status == NB_RUN_INTERRUPTED) {
        fprintf(stderr, "negbench: interrupted after %d epochs; run again to resume\n",
                out.epochs_run);
        status = NB_EXIT_INTERRUPTED;
    } else {
        fprintf(stderr, "negbench: %s: run failed: %s\n", path, out.error ? out.error : "?");
        status = NB_EXIT_RUN_FAILED;
    }
    goto done;

diag_exit:
    diags_print(&diags, stderr);
    status = NB_EXIT_USAGE;
done:
    if (have_out) train_out_free(&out);
    if (store) store_close(store);
    if (have_ds) dataset_free(&ds);
    registry_free(&reg);
    diags_free(&diags);
    config_free(&cfg);
    free(mvals);
    free(svals);
    free(json);
    free(err);
    free(db_default);
    return status;
}
