/*
 * cmd_run.c - `negbench run FILE.yaml`: validate, load data and plugins,
 * train, store every epoch, print the result table.
 *
 * The store defaults to results/<experiment name>.sqlite under the current
 * directory (--db overrides). A run is identified by the SHA-256 of its
 * resolved configuration (canonical JSON, data by content checksum): a run
 * already done is not repeated (--force repeats it), an unfinished one is
 * restarted.
 *
 * A single-run file is a sweep of one point: its plugins, parameter values,
 * identity and run row come from the same functions as a sweep's points
 * (run_plan.h), and it trains through run_train_and_record (run_exec.h). It
 * differs in running in this process (no worker, no log file) and in
 * waiting for a run another live process owns instead of leaving it.
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
#include "thread_env.h"
#include "blas_core.h"
#include "run_exec.h"
#include "run_plan.h"
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

/* The options of one `negbench run FILE.yaml`. */
typedef struct run_opts {
    const char *path;            /* the experiment file */
    const char *db_path;         /* --db, or NULL for the default */
    int threads_override;        /* --threads, or -1 */
    int force, quiet;
} run_opts;

/* Everything one single run holds; single_run_free releases it. */
typedef struct single_run {
    const run_opts *o;
    nb_registry reg;
    nb_run_plan plan;
    nb_dataset ds;
    int have_ds;
    nb_cpus cpus;
    int threads;                 /* the run's thread count */
    const char *db;              /* the store's path (o->db_path or db_default) */
    char *db_default;
    nb_store *store;
    int64_t exp_id, run_id;
    char *err;
} single_run;

/* A step's result when the run goes on to the next step (any other value
 * is the command's exit status). */
enum { RUN_GO_ON = -1 };

/* Print *err (and free it) and return status. */
static int single_fail(single_run *s, int status)
{
    fprintf(stderr, "%s\n", s->err);
    free(s->err);
    s->err = NULL;
    return status;
}

/* Load and validate the file, then its plugins and their parameters. */
static int single_resolve(single_run *s)
{
    nb_diags diags = { 0 };
    int status = RUN_GO_ON;
    if (config_load(s->o->path, &s->plan.cfg, &diags) != NB_OK) goto diag_exit;
    if (cli_load_plugins(&s->reg) != 0) {
        status = NB_EXIT_USAGE;
        goto done;
    }
    if (run_plan_resolve(&s->plan, &s->reg, &diags) == NB_OK && !diags.n) goto done;
diag_exit:
    diags_print(&diags, stderr);
    status = NB_EXIT_USAGE;
done:
    diags_free(&diags);
    return status;
}

/* The thread count: --threads, else train.threads, else the CPUs usable. */
static void single_threads(single_run *s)
{
    nb_config *cfg = &s->plan.cfg;
    if (s->o->threads_override >= 0) cfg->train.threads = s->o->threads_override;
    cpus_detect(&s->cpus);
    s->threads = cfg->train.threads > 0 ? cfg->train.threads : s->cpus.count;
    nb_set_threads(s->threads);
}

/* "threads: ..." on stderr: the count and where it came from. */
static void single_describe_threads(const single_run *s)
{
    char why[256], wait[128], blas[160];
    cpus_describe(&s->cpus, why, sizeof why);
    thread_env_describe(wait, sizeof wait);
    blas_core_describe(blas, sizeof blas);
    if (s->plan.cfg.train.threads <= 0)
        fprintf(stderr, "threads: %d = the CPUs this process may use, %s; waiting: %s; BLAS "
                "kernels: %s\n", s->threads, why, wait, blas);
    else
        fprintf(stderr, "threads: %d from %s (the CPUs this process may use: %s); waiting: "
                "%s; BLAS kernels: %s\n", s->threads,
                s->o->threads_override > 0 ? "--threads" : "train.threads", why, wait, blas);
}

/* Load the data set and refuse one that leaves a training user no negative
 * (exit 2, nothing stored); then the run's identity from its checksum. */
static int single_load_data(single_run *s)
{
    const nb_config *cfg = &s->plan.cfg;
    double t0 = nb_now();
    if (dataset_load(&cfg->data, &s->ds, &s->err) != NB_OK) return single_fail(s, NB_EXIT_USAGE);
    s->have_ds = 1;
    if (dataset_check_negatives(&cfg->data, &s->ds, &s->err) != NB_OK)
        return single_fail(s, NB_EXIT_USAGE);
    const nb_dataset *ds = &s->ds;
    if (!s->o->quiet) { /* the threads after the data, so that a data error stays one line */
        fprintf(stderr, "data: %s: %d users, %d items, %lld/%lld/%lld train/valid/test (%.2fs)\n",
                ds->source ? ds->source : "?", ds->n_users, ds->n_items, (long long)ds->train.nnz,
                (long long)ds->valid.nnz, (long long)ds->test.nnz, nb_now() - t0);
        single_describe_threads(s);
    }
    if (run_plan_identify(&s->plan, ds->checksum) != NB_OK) {
        fprintf(stderr, "negbench: %s: plugin values do not match their schemas\n", s->o->path);
        return NB_EXIT_USAGE;
    }
    return RUN_GO_ON;
}

/* Open the store, skip a run already done (unless --force), and store the
 * experiment row. */
static int single_open_store(single_run *s)
{
    const nb_run_plan *p = &s->plan;
    s->db = s->o->db_path;
    if (!s->db) s->db = s->db_default = default_db_path(&p->cfg);
    if (store_open(s->db, &s->store, &s->err) != NB_OK || store_check(s->store, &s->err) != NB_OK)
        return single_fail(s, NB_EXIT_USAGE);
    int st = run_plan_check(s->store, &s->plan, s->o->force, &s->err);
    if (st < 0) return single_fail(s, NB_EXIT_RUN_FAILED);
    if (st == 1) {
        fprintf(stderr, "negbench: run %.12s is already done in %s (--force to run it again)\n",
                p->hash, s->db);
        return NB_EXIT_OK;
    }
    if (store_experiment(s->store, p->cfg.name, p->cfg.text, &s->exp_id, &s->err) != NB_OK)
        return single_fail(s, NB_EXIT_RUN_FAILED);
    return RUN_GO_ON;
}

/* Begin the run, or wait while a live other process owns it (checking
 * every second). */
static int single_begin(single_run *s)
{
    const char *hash = s->plan.hash;
    int waited = 0, rc;
    while ((rc = run_plan_begin(s->store, &s->plan, s->exp_id, &s->ds, s->threads, &s->run_id,
                                &s->err)) == NB_STORE_BUSY) {
        if (!waited++)
            fprintf(stderr, "negbench: %s; waiting until it ends (checked every second)\n",
                    s->err);
        free(s->err);
        s->err = NULL;
        if (interrupt_sleep(1.0)) {
            fprintf(stderr, "negbench: interrupted while waiting; nothing stored\n");
            return NB_EXIT_INTERRUPTED;
        }
        if (store_run_status(s->store, hash, &s->run_id, NULL) == 1) break;
    }
    if (rc == NB_OK) return RUN_GO_ON;
    if (store_run_status(s->store, hash, &s->run_id, NULL) == 1) {
        /* done by the process it waited for, or by one that finished meanwhile */
        fprintf(stderr, "negbench: run %.12s was finished by another process in %s\n", hash,
                s->db);
        free(s->err);
        s->err = NULL;
        return NB_EXIT_OK;
    }
    return single_fail(s, NB_EXIT_RUN_FAILED);
}

/* Train the begun run, record it, and report its outcome. */
static int single_train(single_run *s)
{
    const nb_run_plan *p = &s->plan;
    nb_train_out out;
    memset(&out, 0, sizeof out);
    int tty = isatty(STDERR_FILENO), quiet = s->o->quiet, status;
    const char *no_color = getenv("NO_COLOR");
    nb_train_in in = {
        .cfg = &p->cfg, .ds = &s->ds, .model = p->model->desc, .sampler = p->sampler->desc,
        .model_values = p->mvals, .sampler_values = p->svals,
        .n_model_values = p->n_mvals, .n_sampler_values = p->n_svals,
        .threads = s->threads, .store = s->store, .run_id = s->run_id, .verbose = !quiet,
        .progress = tty && !quiet, .color = tty && !(no_color && *no_color),
        .stop = &interrupt_flag,
    };
    if (run_train_and_record(&in, &out, &s->err) != NB_OK) {
        status = single_fail(s, NB_EXIT_RUN_FAILED);
    } else if (out.status == NB_RUN_DONE) {
        print_results(&p->cfg, &out, stdout);
        printf("  stored in %s (run %.12s)\n", s->db, p->hash);
        status = NB_EXIT_OK;
    } else if (out.status == NB_RUN_INTERRUPTED) {
        fprintf(stderr, "negbench: interrupted after %d epochs; run again to resume\n",
                out.epochs_run);
        status = NB_EXIT_INTERRUPTED;
    } else {
        fprintf(stderr, "negbench: %s: run failed: %s\n", s->o->path,
                out.error ? out.error : "?");
        status = NB_EXIT_RUN_FAILED;
    }
    train_out_free(&out);
    return status;
}

static void single_run_free(single_run *s)
{
    if (s->store) store_close(s->store);
    if (s->have_ds) dataset_free(&s->ds);
    registry_free(&s->reg);
    run_plan_free(&s->plan);
    free(s->err);
    free(s->db_default);
}

/* The steps of one run in order; the first that does not go on decides
 * the exit status. */
static int run_single(const run_opts *o)
{
    single_run s;
    memset(&s, 0, sizeof s);
    s.o = o;
    run_plan_init(&s.plan);
    int status = single_resolve(&s);
    if (status == RUN_GO_ON) {
        single_threads(&s);
        status = single_load_data(&s);
    }
    if (status == RUN_GO_ON) status = single_open_store(&s);
    if (status == RUN_GO_ON) {
        interrupt_set_deferred(1); /* from here a signal stops the run at its next step */
        status = single_begin(&s);
    }
    if (status == RUN_GO_ON) status = single_train(&s);
    single_run_free(&s);
    return status;
}

/* 1 when argv names a grid file (grid/include/sampler_params/model_params),
 * which is a sweep: the value of an option taking one is skipped. */
static int run_names_grid(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") || !strcmp(argv[i], "-d") || !strcmp(argv[i], "--threads") ||
            !strcmp(argv[i], "-t") || !strcmp(argv[i], "-j") || !strcmp(argv[i], "--jobs"))
            i++; /* skip the option's value */
        else if (argv[i][0] != '-' && grid_file_is_sweep(argv[i])) return 1;
    }
    return 0;
}

int cmd_run(int argc, char **argv)
{
    if (run_names_grid(argc, argv)) return cmd_sweep(argc, argv);
    static const struct option opts[] = {
        { "db", required_argument, 0, 'd' }, { "threads", required_argument, 0, 't' },
        { "force", no_argument, 0, 'f' },   { "quiet", no_argument, 0, 'q' },
        { "help", no_argument, 0, 'h' },    { 0, 0, 0, 0 },
    };
    run_opts o = { .threads_override = -1 };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:t:fqh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o.db_path = optarg; break;
        case 't': o.threads_override = atoi(optarg); break;
        case 'f': o.force = 1; break;
        case 'q': o.quiet = 1; break;
        case 'h': run_usage(stdout); return NB_EXIT_OK;
        default: run_usage(stderr); return NB_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        run_usage(stderr);
        return NB_EXIT_USAGE;
    }
    o.path = argv[optind];
    cli_run_prepare_env();
    interrupt_install("negbench"); /* exits 75 at once until the run begins */
    return run_single(&o);
}
