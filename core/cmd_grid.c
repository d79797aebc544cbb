/*
 * cmd_grid.c - `negbench grid FILE.yaml` (expand and validate a grid, list
 * its runs: short hash, status in a store, the values that vary) and
 * cmd_sweep, which `negbench run` calls for grid files (core/sweep.c runs
 * the points in forked worker processes).
 */
#define _GNU_SOURCE
#include "build_config.h" /* NB_HAVE_CBLAS */
#include "cli.h"
#include "interrupt.h"
#include "config.h"
#include "cpus.h"
#include "grid.h"
#include "shard.h"
#include "sweep_exec.h"
#include "thread_env.h"
#include "blas_core.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void grid_usage(FILE *out)
{
    fputs("usage: negbench grid FILE.yaml [--db PATH] [--threads N]\n"
          "\n"
          "Expand and validate the grid of FILE.yaml (every point against the plugin\n"
          "schemas) and list its runs without running them: the short hash that\n"
          "identifies each run, and the parameters that vary. Nothing is written.\n"
          "\n"
          "  --db PATH      also show which runs are done in this store\n"
          "  --threads N    as for negbench run (train.threads is part of a run's identity)\n"
          "  -h, --help     this help\n", out);
}

static void sweep_usage(FILE *out)
{
    fputs("usage: negbench run GRID.yaml [-j N] [--threads T] [--db PATH] [--force]\n"
          "                  [--fail-fast] [--quiet] [--shard I/N | --no-shard]\n"
          "\n"
          "Run every point of a grid file into one store, each in its own worker process:\n"
          "done runs are skipped, unfinished ones restarted. One progress line per run;\n"
          "the per-epoch lines go to <store>.logs/<hash>.log beside the store.\n"
          "\n"
          "  -j, --jobs N   worker processes (default 1)\n"
          "  --threads T    threads per run (default when train.threads is 0: the CPUs this\n"
          "                 process may use / N; negbench --version shows them;\n"
          "                 given here it overrides train.threads, as for single runs)\n"
          "  --db PATH      results store (default: results/<experiment name>.sqlite)\n"
          "  --force        run done runs again\n"
          "  --fail-fast    start no run after the first failure\n"
          "  -q, --quiet    no progress lines\n"
          "  --shard I/N    run only slice I (0-based) of N: distinct run k goes to shard\n"
          "                 k %% N; the store is <db stem>.shard-I-of-N.sqlite (merge them\n"
          "                 with negbench merge). Default: from SLURM_ARRAY_TASK_ID/COUNT,\n"
          "                 SLURM_PROCID/NTASKS or OMPI_COMM_WORLD_RANK/SIZE when N > 1\n"
          "  --no-shard     ignore those variables: run the whole grid\n"
          "  -h, --help     this help\n"
          "\n"
          "Exit status: 0 all runs done, 1 a run failed, 2 invalid grid (nothing run),\n"
          "75 interrupted (run again to resume).\n", out);
}

static int parse_count(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int cli_load_sweep(const char *path, int threads, nb_registry *reg, nb_sweep *sw)
{
    nb_diags d = {0};
    if (cli_load_plugins(reg) != 0) return NB_EXIT_USAGE;
    if (sweep_load(path, reg, threads, sw, &d) != 0) {
        diags_print(&d, stderr);
        diags_free(&d);
        return NB_EXIT_USAGE;
    }
    return 0;
}

int cmd_grid(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},     {0, 0, 0, 0},
    };
    const char *db = NULL;
    int threads = -1, c, status;
    nb_registry reg = {0};
    nb_sweep sw;
    char *err = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 't':
            if (parse_count(optarg, 0, 1024, &threads)) {
                fprintf(stderr, "negbench grid: --threads takes 0 to 1024, got \"%s\"\n", optarg);
                return NB_EXIT_USAGE;
            }
            break;
        case 'h': grid_usage(stdout); return NB_EXIT_OK;
        default: grid_usage(stderr); return NB_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        grid_usage(stderr);
        return NB_EXIT_USAGE;
    }
    memset(&sw, 0, sizeof sw);
    if ((status = cli_load_sweep(argv[optind], threads, &reg, &sw))) goto out;
    if (db && sweep_read_status(&sw, db, &err) != 0) {
        fprintf(stderr, "%s\n", err);
        status = NB_EXIT_USAGE;
        goto out;
    }
    int n_done = 0, n_unfinished = 0;
    for (int i = 0; i < sw.n; i++)
        if (sw.runs[i].dup_of < 0) {
            n_done += sw.runs[i].status == 1;
            n_unfinished += sw.runs[i].status == 2;
        }
    printf("%s: experiment %s, %d points (%s), %d distinct runs", sw.grid.path, sw.name, sw.n,
           sw.grid.shape, sw.n_distinct);
    if (db) printf("; in %s: %d done, %d unfinished", db, n_done, n_unfinished);
    printf("\n");
    for (int i = 0; i < sw.n; i++) {
        const nb_sweep_run *r = &sw.runs[i];
        static const char *const st[] = {"new", "done", "unfinished"};
        char dup[32] = "";
        if (r->dup_of >= 0) snprintf(dup, sizeof dup, "  (same run as #%d)", r->dup_of + 1);
        printf("%5d  %.12s  %s%-10s  %s  %s %s%s\n", i + 1, r->hash, db ? "" : "",
               db ? st[r->status] : "", *r->label ? r->label : "-", r->cfg.model,
               r->cfg.sampler, dup);
    }
out:
    sweep_free(&sw);
    registry_free(&reg);
    free(err);
    return status;
}

void cli_run_prepare_env(void)
{
    if (!cli_argv || !thread_env_prepare()) return;
    fflush(stdout);
    fflush(stderr);
    execv("/proc/self/exe", cli_argv);
}

/* Two costs every forked worker pays, which only the environment of the
 * process at its start can remove, so a sweep executes itself once more
 * (same pid, same arguments) with, unless already set:
 * - OPENBLAS_NUM_THREADS = the largest thread count of its runs. OpenBLAS
 *   (pthreads build) sizes its pool once, at load (default: one thread per
 *   core), and its fork handler rebuilds the whole pool in the parent and in
 *   every worker at each fork, whatever the run asks for; the fresh threads
 *   spin for a while, taking CPU from the runs (about 10-20% of a tiny run).
 * - LD_BIND_NOW = 1: symbols are bound once in the parent, not again (with
 *   a copy-on-write fault per GOT page) in every worker (about 10% of the
 *   CPU time of a tiny run);
 * - the waiting and OpenBLAS settings of thread_env_prepare (thread_env.h).
 * Returns only when there is nothing to do or exec failed. */
static void sweep_prepare_env(const nb_sweep *sw, const nb_sweep_opts *o)
{
    char v[16];
    int t = 1, again = 0;
    if (!cli_argv) return;
#ifdef NB_HAVE_CBLAS
    if (!getenv("OPENBLAS_NUM_THREADS")) {
        for (int i = 0; i < sw->n; i++)
            if (sweep_in_shard(sw, i, o->shard_index, o->shard_count)) {
                const nb_config *c = &sw->runs[i].cfg;
                int ti = c->train.threads > 0 ? c->train.threads : o->threads;
                if (ti > t) t = ti;
            }
        snprintf(v, sizeof v, "%d", t);
        again = thread_env_set_default("OPENBLAS_NUM_THREADS", v);
    }
#else
    (void)sw, (void)o, (void)t, (void)v;
#endif
    if (!getenv("LD_BIND_NOW")) setenv("LD_BIND_NOW", "1", 1), again = 1;
    if (thread_env_prepare()) again = 1;
    if (!again) return;
    fflush(stdout);
    fflush(stderr);
    execv("/proc/self/exe", cli_argv);
}

/* The options of negbench run on a grid file into o, *threads (-1 when
 * not given) and *no_shard. Returns -1 to go on, else the exit status
 * (after the usage or a bad value). */
static int sweep_parse_args(int argc, char **argv, nb_sweep_opts *o, int *threads, int *no_shard)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'}, {"threads", required_argument, 0, 't'},
        {"jobs", required_argument, 0, 'j'}, {"force", no_argument, 0, 'f'},
        {"fail-fast", no_argument, 0, 'F'}, {"quiet", no_argument, 0, 'q'},
        {"shard", required_argument, 0, 'S'}, {"no-shard", no_argument, 0, 'N'},
        {"help", no_argument, 0, 'h'},     {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:t:j:fFqh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->db = optarg; break;
        case 't':
            if (parse_count(optarg, 0, 1024, threads)) {
                fprintf(stderr, "negbench run: --threads takes 0 to 1024, got \"%s\"\n", optarg);
                return NB_EXIT_USAGE;
            }
            break;
        case 'j':
            if (parse_count(optarg, 1, 1024, &o->jobs)) {
                fprintf(stderr, "negbench run: -j takes 1 to 1024, got \"%s\"\n", optarg);
                return NB_EXIT_USAGE;
            }
            break;
        case 'f': o->force = 1; break;
        case 'F': o->fail_fast = 1; break;
        case 'q': o->quiet = 1; break;
        case 'S':
            if (shard_parse(optarg, &o->shard_index, &o->shard_count)) {
                fprintf(stderr, "negbench run: --shard takes I/N with 0 <= I < N, got \"%s\"\n",
                        optarg);
                return NB_EXIT_USAGE;
            }
            break;
        case 'N': *no_shard = 1; break;
        case 'h': sweep_usage(stdout); return NB_EXIT_OK;
        default: sweep_usage(stderr); return NB_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        sweep_usage(stderr);
        return NB_EXIT_USAGE;
    }
    return -1;
}

/* "threads: N per run ..." on stderr (threads: --threads, or -1). */
static void sweep_describe_threads(const nb_cpus *cpus, const nb_sweep_opts *o, int threads)
{
    char why[256], wait[128], blas[160];
    cpus_describe(cpus, why, sizeof why);
    thread_env_describe(wait, sizeof wait);
    blas_core_describe(blas, sizeof blas);
    if (threads > 0)
        fprintf(stderr, "threads: %d per run from --threads (the CPUs this process may use: "
                "%s); waiting: %s; BLAS kernels: %s\n", o->threads, why, wait, blas);
    else
        fprintf(stderr, "threads: %d per run where train.threads is 0 (the CPUs this process "
                "may use / -j %d; CPUs: %s); waiting: %s; BLAS kernels: %s\n", o->threads,
                o->jobs, why, wait, blas);
}

int cmd_sweep(int argc, char **argv)
{
    nb_sweep_opts o = {.jobs = 1};
    int threads = -1, no_shard = 0;
    int status = sweep_parse_args(argc, argv, &o, &threads, &no_shard);
    if (status >= 0) return status;
    const char *shard_src = "--shard";
    nb_registry reg = {0};
    nb_sweep sw;
    char *db_default = NULL, *db_shard = NULL, *err = NULL;
    memset(&sw, 0, sizeof sw);
    if (!o.shard_count && !no_shard &&
        shard_from_env(&o.shard_index, &o.shard_count, &shard_src, &err) < 0) {
        fprintf(stderr, "negbench run: %s\n", err);
        status = NB_EXIT_USAGE;
        goto out;
    }
    if (no_shard) o.shard_count = 0;
    interrupt_install("negbench"); /* until the workers start: exit 75 at once */
    if ((status = cli_load_sweep(argv[optind], threads, &reg, &sw))) goto out;
    /* the CPUs this process may use (a Slurm task's, under affinity or cgroups) */
    nb_cpus cpus;
    cpus_detect(&cpus);
    o.threads = threads > 0 ? threads : (cpus.count / o.jobs > 0 ? cpus.count / o.jobs : 1);
    sweep_prepare_env(&sw, &o);
    if (!o.quiet) sweep_describe_threads(&cpus, &o, threads);
    if (!o.db) o.db = db_default = sweep_default_db(&sw);
    if (o.shard_count > 0) {
        o.db = db_shard = shard_db_path(o.db, o.shard_index, o.shard_count);
        if (!o.quiet)
            fprintf(stderr, "shard %d/%d (from %s) into %s\n", o.shard_index, o.shard_count,
                    shard_src, o.db);
    }
    status = sweep_execute(&sw, &o);
out:
    sweep_free(&sw);
    registry_free(&reg);
    free(db_default);
    free(db_shard);
    free(err);
    return status;
}
