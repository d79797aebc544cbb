/*
 * sweep.c - resolving, validating, identifying and running the points of a
 * grid (see sweep.h). The parent never trains and never enters an OpenMP
 * region (libgomp's pool does not survive fork); each run is a child that
 * sets its thread counts, loads its data, opens the store and trains.
 */
#define _GNU_SOURCE
#include "build_config.h"
#include "sweep.h"
#include "run_exec.h"
#include "data_cache.h"
#include "dataset.h"
#include "host.h"
#include "interrupt.h"
#include "kernels.h"
#include "sha256.h"
#include "shard.h"
#include "store.h"
#include "train.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef NB_GIT_REVISION
#define NB_GIT_REVISION "unknown"
#endif

/* ---- resolution and validation ---------------------------------------- */

/* Every block of sampler_params / model_params names a known plugin. */
static void check_block_names(const nb_registry *reg, const nb_node *b, int kind, nb_diags *d)
{
    const char *what = kind == NB_KIND_MODEL ? "model" : "sampler";
    for (int i = 0; b && b->kind == NB_NODE_MAP && i < b->n; i++) {
        if (registry_find(reg, kind, b->keys[i])) continue;
        const char *near = registry_nearest(reg, kind, b->keys[i]);
        if (near)
            diags_add(d, node_key_file(b, i), b->key_line[i], b->key_col[i],
                      "%s_params: unknown %s \"%s\" (did you mean \"%s\"?)", what, what,
                      b->keys[i], near);
        else
            diags_add(d, node_key_file(b, i), b->key_line[i], b->key_col[i],
                      "%s_params: unknown %s \"%s\" (negbench plugins lists them)", what, what,
                      b->keys[i]);
    }
}

/* Resolve point i into run r; problems go to d. */
static void resolve_point(nb_sweep *sw, int i, nb_diags *d)
{
    nb_sweep_run *r = &sw->runs[i];
    nb_grid_point *pt = &sw->grid.points[i];
    static const char *const mkeys[] = {"name", "dim", NULL};
    static const char *const skeys[] = {"name", NULL};
    r->label = pt->label;
    r->dup_of = -1;
    nb_node *tree = pt->tree;
    pt->tree = NULL;
    if (config_load_tree(sw->grid.path, sw->grid.text, tree, &r->cfg, d) != 0) return;
    r->model = run_find_plugin(sw->reg, &r->cfg, NB_KIND_MODEL, r->cfg.model, r->cfg.model_params, d);
    r->sampler = run_find_plugin(sw->reg, &r->cfg, NB_KIND_SAMPLER, r->cfg.sampler,
                             r->cfg.sampler_params, d);
    if (r->model) {
        r->n_mvals = schema_count(r->model->desc->params);
        r->mvals = nb_xcalloc((size_t)r->n_mvals + 1, sizeof *r->mvals);
        config_plugin_values(&r->cfg, r->cfg.model_params, r->model->desc->name,
                             r->model->desc->params, mkeys, r->mvals, r->n_mvals, d);
    }
    if (r->sampler) {
        r->n_svals = schema_count(r->sampler->desc->params);
        r->svals = nb_xcalloc((size_t)r->n_svals + 1, sizeof *r->svals);
        config_plugin_values(&r->cfg, r->cfg.sampler_params, r->sampler->desc->name,
                             r->sampler->desc->params, skeys, r->svals, r->n_svals, d);
    }
}

/* A small cache of data checksums by file triple (a grid reads few data sets). */
typedef struct sum_cache {
    int n;
    char *key[64];
    char sum[64][65];
} sum_cache;

static int data_sum(sum_cache *c, const nb_data_spec *s, char out[65], char **err)
{
    if (s->synthetic) return dataset_checksum(s, out, err);
    char *key = nb_strf("%s\n%s\n%s", s->train_path ? s->train_path : "",
                        s->valid_path ? s->valid_path : "", s->test_path ? s->test_path : "");
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->key[i], key)) {
            memcpy(out, c->sum[i], 65);
            free(key);
            return 0;
        }
    int rc = dataset_checksum(s, out, err);
    if (rc == 0 && c->n < 64) {
        c->key[c->n] = key;
        memcpy(c->sum[c->n++], out, 65);
    } else {
        free(key);
    }
    return rc;
}

int sweep_load(const char *path, const nb_registry *reg, int threads, nb_sweep *sw,
               nb_diags *diags)
{
    nb_diags pd = {0};
    sum_cache cache = {0};
    int before = diags->n;
    char *err = NULL;
    memset(sw, 0, sizeof *sw);
    sw->reg = reg;
    if (grid_load(path, &sw->grid, diags) != 0) goto out;
    check_block_names(reg, sw->grid.sampler_blocks, NB_KIND_SAMPLER, diags);
    check_block_names(reg, sw->grid.model_blocks, NB_KIND_MODEL, diags);
    sw->n = sw->grid.n_points;
    sw->runs = nb_xcalloc((size_t)sw->n, sizeof *sw->runs);
    for (int i = 0; i < sw->n; i++) {
        resolve_point(sw, i, &pd);
        diags_add_unique(diags, &pd);
        diags_free(&pd);
    }
    if (diags->n > before) goto out;
    sw->name = nb_xstrdup(sw->runs[0].cfg.name);
    for (int i = 0; i < sw->n; i++) {
        nb_sweep_run *r = &sw->runs[i];
        char sum[65];
        if (threads >= 0) r->cfg.train.threads = threads;
        if (data_sum(&cache, &r->cfg.data, sum, &err) != 0) {
            diags_add(diags, NULL, 0, 0, "%s", err);
            free(err);
            err = NULL;
            continue;
        }
        memcpy(r->data_sum, sum, sizeof sum);
        r->json = config_to_json(&r->cfg, sum, r->model->desc->params, r->mvals, r->n_mvals,
                                 r->sampler->desc->params, r->svals, r->n_svals);
        if (!r->json) {
            diags_add(diags, NULL, 0, 0, "run %d: plugin values do not match their schemas", i);
            continue;
        }
        sha256_hex(r->json, strlen(r->json), r->hash);
        for (int j = 0; j < i && r->dup_of < 0; j++)
            if (sw->runs[j].dup_of < 0 && !strcmp(sw->runs[j].hash, r->hash)) r->dup_of = j;
        r->rank = r->dup_of < 0 ? sw->n_distinct++ : -1;
    }
    if (diags->n == before) {
        nb_sha256 h;
        sha256_init(&h);
        for (int i = 0; i < sw->n; i++) {
            sha256_update(&h, sw->runs[i].hash, 64);
            sha256_update(&h, "\n", 1);
        }
        sha256_final_hex(&h, sw->identity);
    }
out:
    for (int i = 0; i < cache.n; i++) free(cache.key[i]);
    diags_free(&pd);
    if (diags->n > before) {
        sweep_free(sw);
        return NB_EINVAL;
    }
    return 0;
}

void sweep_free(nb_sweep *sw)
{
    if (!sw) return;
    for (int i = 0; i < sw->n; i++) {
        config_free(&sw->runs[i].cfg);
        free(sw->runs[i].mvals);
        free(sw->runs[i].svals);
        free(sw->runs[i].json);
    }
    free(sw->runs);
    free(sw->name);
    grid_free(&sw->grid);
    memset(sw, 0, sizeof *sw);
}

char *sweep_default_db(const nb_sweep *sw)
{
    mkdir("results", 0777);
    return nb_strf("results/%s.sqlite", sw->name);
}

int sweep_read_status(nb_sweep *sw, const char *db, char **err)
{
    struct stat st;
    nb_store *s = NULL;
    int rc = 0;
    for (int i = 0; i < sw->n; i++) sw->runs[i].status = 0;
    if (stat(db, &st) != 0) return 0;
    if ((rc = store_open_readonly(db, &s, err)) != 0) return rc;
    for (int i = 0; i < sw->n; i++) {
        int64_t id;
        int r = store_run_status(s, sw->runs[i].hash, &id, err);
        if (r < 0) {
            rc = r;
            break;
        }
        sw->runs[i].status = r;
    }
    store_close(s);
    return rc;
}

/* ---- execution -------------------------------------------------------- */

static volatile sig_atomic_t sweep_stop;  /* parent: SIGINT/SIGTERM seen */
static volatile sig_atomic_t parent_loading; /* parent: loading a shared data set */
static pid_t *live_pids;                     /* parent: its workers (0: free slot) */
static int live_slots;

/* A worker exits 3, writing nothing, when a live other process owns its run. */
enum { CHILD_BUSY = 3 };

/* The parent's handler. While it loads a data set (which has no stop
 * check) it forwards the signal, waits for the workers to commit and mark
 * their runs interrupted, and exits 75 at once. */
static void on_parent_signal(int sig)
{
    sweep_stop = sig;
    if (!parent_loading) return;
    for (int k = 0; k < live_slots; k++)
        if (live_pids[k] > 0) kill(live_pids[k], SIGTERM);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
    }
    static const char line[] = "negbench: sweep interrupted while loading data\n";
    ssize_t w = write(STDERR_FILENO, line, sizeof line - 1);
    (void)w;
    _exit(75);
}

/* <dir of db>/<stem of db>.logs (malloc'd). */
static char *log_dir(const char *db)
{
    char *dir = nb_dirname(db);
    const char *base = strrchr(db, '/');
    base = base ? base + 1 : db;
    const char *dot = strrchr(base, '.');
    int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    char *out = nb_strf("%s/%.*s.logs", dir, len, base);
    free(dir);
    return out;
}

/* The whole life of one run in a child process; returns its exit status.
 * exp_id is the experiment row the parent stored, data the data set it
 * loaded for the run (or the load error), or NULL: the run loads its own. */
static int child_run(const nb_sweep_run *r, const nb_sweep_opts *o, int64_t exp_id,
                     const nb_data_entry *data)
{
    nb_store *store = NULL;
    nb_data_entry own;
    nb_train_out out;
    char *err = NULL;
    int have_out = 0, status = 1;
    memset(&own, 0, sizeof own);
    if (!data) {
        own.loaded = dataset_load(&r->cfg.data, &own.ds, &own.err) == 0;
        data = &own;
    }
    const nb_dataset *ds = data->loaded ? &data->ds : NULL;
    char *data_err = NULL; /* a data set no sampler can train on fails like a load error */
    if (ds && dataset_check_negatives(&r->cfg.data, ds, &data_err) != 0) ds = NULL;
    int have_ds = ds != NULL;
    int64_t run_id = 0;
    const nb_config *cfg = &r->cfg;
    int threads = cfg->train.threads > 0 ? cfg->train.threads : o->threads;
    char hostname[256] = "unknown";
    memset(&out, 0, sizeof out);

    nb_set_threads(threads);
    gethostname(hostname, sizeof hostname - 1);
    fprintf(stderr, "run %s: %s (%s + %s, %d threads)\n", r->hash, *r->label ? r->label : "-",
            cfg->model, cfg->sampler, threads);
    if (store_open(o->db, &store, &err) != 0) goto fail;
    interrupt_set_deferred(1); /* from here a signal stops the run at its next step */
    nb_run_info info = {
        .experiment_id = exp_id, .config_json = r->json, .config_hash = r->hash,
        .seed = (int64_t)cfg->train.seed, .model = r->model->desc->name,
        .model_version = r->model->desc->version, .sampler = r->sampler->desc->name,
        .sampler_version = r->sampler->desc->version,
        .dataset = have_ds ? ds->source : "(not loaded)",
        .data_checksum = have_ds ? ds->checksum : r->data_sum, .threads = threads, .host = hostname,
        .git_revision = NB_GIT_REVISION, .negbench_version = PACKAGE_VERSION,
    };
    int begun = store_run_begin(store, &info, &run_id, &err);
    if (begun != 0 && store_run_status(store, r->hash, &run_id, NULL) == 1) {
        fprintf(stderr, "run %s: finished by another process\n", r->hash);
        begun = NB_STORE_BUSY; /* the parent counts it when it looks again */
    }
    if (begun == NB_STORE_BUSY) {
        fprintf(stderr, "run %s: %s; left to it\n", r->hash, err);
        status = CHILD_BUSY;
        goto done;
    }
    if (begun != 0) goto fail;
    if (!have_ds) {
        out.status = NB_RUN_FAILED;
        out.error = data_err ? data_err
                             : nb_xstrdup(data->err ? data->err : "the data set could not be loaded");
        data_err = NULL;
        have_out = 1;
        if (run_record(store, run_id, cfg, &out, &err) != 0) goto fail;
    } else {
        fprintf(stderr, "data: %s: %d users, %d items\n", ds->source, ds->n_users, ds->n_items);
        nb_train_in in = {
            .cfg = cfg, .ds = ds, .model = r->model->desc, .sampler = r->sampler->desc,
            .model_values = r->mvals, .sampler_values = r->svals, .n_model_values = r->n_mvals,
            .n_sampler_values = r->n_svals, .threads = threads,
            .store = store, .run_id = run_id, .verbose = 1, .stop = &interrupt_flag,
        };
        have_out = 1;
        if (run_train_and_record(&in, &out, &err) != 0) goto fail;
    }
    if (out.status == NB_RUN_DONE) {
        fprintf(stderr, "run %s: done, best epoch %d of %d\n", r->hash, out.best_epoch,
                out.epochs_run);
        status = 0;
    } else if (out.status == NB_RUN_INTERRUPTED) {
        fprintf(stderr, "run %s: interrupted after %d epochs\n", r->hash, out.epochs_run);
        status = 75;
    } else {
        fprintf(stderr, "run %s: failed: %s\n", r->hash, out.error ? out.error : "?");
        status = 1;
    }
    goto done;
fail:
    fprintf(stderr, "run %s: %s\n", r->hash, err ? err : "failed");
    status = 1;
done:
    if (have_out) train_out_free(&out);
    if (store) store_close(store);
    if (own.loaded) dataset_free(&own.ds);
    free(own.err);
    free(data_err);
    free(err);
    return status;
}

/* 1 when a run to do other than todo[k] reads the same data set. */
static int data_shared(const nb_sweep *sw, const int *todo, int n_todo, int k)
{
    const nb_sweep_run *r = &sw->runs[todo[k]];
    for (int j = 0; j < n_todo; j++) {
        const nb_sweep_run *o = &sw->runs[todo[j]];
        if (j != k && !strcmp(o->data_sum, r->data_sum) &&
            data_spec_same(&o->cfg.data, &r->cfg.data))
            return 1;
    }
    return 0;
}

/* Fork the child of run r; its stdout and stderr go to its log. */
static pid_t spawn(const nb_sweep_run *r, const nb_sweep_opts *o, int64_t exp_id,
                   const nb_data_entry *data, const char *logs)
{
    pid_t parent = getpid();
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    fflush(stdout);
    fflush(stderr);
    sigprocmask(SIG_BLOCK, &block, &old); /* the child installs its handler first */
    pid_t pid = fork();
    if (pid != 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return pid;
    }
    /* child: until its run begins, a signal ends it at once (nothing stored) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(75);
    char who[32];
    snprintf(who, sizeof who, "run %.12s", r->hash);
    interrupt_install(who);
    sigprocmask(SIG_SETMASK, &old, NULL);
    char *log = nb_strf("%s/%.12s.log", logs, r->hash);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    free(log);
    int st = child_run(r, o, exp_id, data);
    fflush(stdout);
    fflush(stderr);
    _exit(st);
}

/* Mark a run whose child died without finishing it as failed. */
static void record_crash(nb_store *s, const nb_sweep_run *r, const char *why)
{
    char *err = NULL;
    int64_t id = 0;
    if (store_run_status(s, r->hash, &id, &err) == 2) {
        nb_run_result res = {.status = "failed", .error = why};
        store_run_finish(s, id, &res, &err);
    }
    if (err) fprintf(stderr, "negbench: %s\n", err);
    free(err);
}

/* Of the runs another process owned (later[0..*n)), drop those now done
 * (counted in *elsewhere) and take out and return the first one no live
 * process owns, to run here; -1 when every one is still owned. */
static int later_take(nb_store *s, const nb_sweep *sw, int *later, int *n, int *elsewhere,
                      char **err)
{
    for (int q = 0; q < *n; q++) {
        const nb_sweep_run *r = &sw->runs[later[q]];
        int64_t id;
        char *who = NULL;
        int st = store_run_status(s, r->hash, &id, err);
        int owned = st == 2 ? store_run_owner(s, r->hash, &who, err) : 0;
        free(who);
        if (st < 0 || owned < 0) return -1;
        if (owned == 1) continue;
        int i = later[q];
        memmove(later + q, later + q + 1, (size_t)(*n - q - 1) * sizeof *later);
        (*n)--;
        if (st != 1) return i;
        (*elsewhere)++;
        q--;
    }
    return -1;
}

static char *fmt_secs(double s)
{
    if (s < 60) return nb_strf("%.1fs", s);
    long t = (long)(s + 0.5);
    if (t >= 3600) return nb_strf("%ldh%02ldm", t / 3600, (t / 60) % 60);
    return nb_strf("%ldm%02lds", t / 60, t % 60);
}

int sweep_in_shard(const nb_sweep *sw, int i, int index, int count)
{
    const nb_sweep_run *r = &sw->runs[i];
    return r->dup_of < 0 && (count <= 0 || r->rank % count == index);
}

/* Before anything is written (store, logs): every distinct data set of this
 * shard's runs must leave each training user a negative to draw, else the
 * whole sweep is a configuration error (exit 2), as for a single run. Each
 * data set is loaded, checked and freed here (one extra load per distinct
 * data set); one that does not load is left to its runs, which fail with
 * the load error as before. Returns 0 or 2. */
static int sweep_check_data(const nb_sweep *sw, const nb_sweep_opts *o)
{
    const char **seen = nb_xcalloc((size_t)sw->n + 1, sizeof *seen);
    int n_seen = 0, status = 0;
    for (int i = 0; i < sw->n && !status; i++) {
        const nb_sweep_run *r = &sw->runs[i];
        int dup = 0;
        if (!sweep_in_shard(sw, i, o->shard_index, o->shard_count)) continue;
        for (int k = 0; k < n_seen && !dup; k++) dup = !strcmp(seen[k], r->data_sum);
        if (dup) continue;
        seen[n_seen++] = r->data_sum;
        nb_dataset ds;
        char *err = NULL;
        memset(&ds, 0, sizeof ds);
        if (dataset_load(&r->cfg.data, &ds, &err) != 0) {
            free(err);
            continue;
        }
        if (dataset_check_negatives(&r->cfg.data, &ds, &err) != 0) {
            fprintf(stderr, "negbench: %s\n", err);
            status = 2;
        }
        free(err);
        dataset_free(&ds);
    }
    free(seen);
    return status;
}

int sweep_execute(nb_sweep *sw, const nb_sweep_opts *o)
{
    if (sweep_check_data(sw, o) != 0) return 2;
    nb_store *s = NULL;
    char *err = NULL, *logs = log_dir(o->db);
    int *todo = nb_xcalloc((size_t)sw->n + 1, sizeof *todo);
    pid_t *pids = nb_xcalloc((size_t)o->jobs, sizeof *pids);
    int *slot_run = nb_xcalloc((size_t)o->jobs, sizeof *slot_run);
    double *slot_t0 = nb_xcalloc((size_t)o->jobs, sizeof *slot_t0);
    int *later = nb_xcalloc((size_t)sw->n + 1, sizeof *later); /* owned by others */
    int n_todo = 0, next = 0, running = 0, finished = 0, failed = 0, interrupted = 0;
    int status = 0, already = 0, n_mine = 0, n_later = 0, elsewhere = 0, reported = 0;
    double later_check = 0.0;
    int64_t exp_id;
    char shard_label[48] = "", mine[48] = "";
    struct sigaction sa, old_int, old_term;
    nb_data_cache data = {0};

    if (mkdir(logs, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "negbench: cannot create %s: %s\n", logs, strerror(errno));
        status = 2;
        goto out;
    }
    /* statuses, --force, and the experiment row, before any child starts */
    if (store_open(o->db, &s, &err) != 0 || store_check(s, &err) != 0 ||
        store_experiment(s, sw->name, sw->grid.text, &exp_id, &err) != 0) {
        fprintf(stderr, "%s\n", err);
        status = 2;
        goto out;
    }
    if (o->shard_count > 0) {
        snprintf(shard_label, sizeof shard_label, " shard %d/%d", o->shard_index, o->shard_count);
        if (shard_stamp(s, sw, o->shard_index, o->shard_count, &err) != 0) {
            fprintf(stderr, "negbench: %s\n", err);
            status = 2;
            goto out;
        }
    }
    /* the whole grid's points, so that a report lists those never run */
    if (plan_stamp(s, sw, &err) != 0) {
        fprintf(stderr, "negbench: %s\n", err);
        status = 2;
        goto out;
    }
    for (int i = 0; i < sw->n; i++) {
        nb_sweep_run *r = &sw->runs[i];
        int64_t id;
        if (!sweep_in_shard(sw, i, o->shard_index, o->shard_count)) continue;
        n_mine++;
        int st = store_run_status(s, r->hash, &id, &err);
        if (st < 0) {
            fprintf(stderr, "%s\n", err);
            status = 2;
            goto out;
        }
        r->status = st;
        if (st == 1 && o->force && store_run_reopen(s, r->hash, &err) != 0) {
            fprintf(stderr, "%s\n", err);
            status = 2;
            goto out;
        }
        if (st == 1 && !o->force) already++;
        else todo[n_todo++] = i;
    }
    /* s stays open (never used by the children): while the parent holds a
     * connection, a child's close is not the last one, so it neither
     * checkpoints nor deletes the WAL (tens of ms per run otherwise). */
    if (o->shard_count > 0)
        snprintf(mine, sizeof mine, "; %d in this shard", n_mine);
    if (!o->quiet) { /* the threads the runs to do will use (train.threads or --threads) */
        int tmin = o->threads, tmax = o->threads;
        char tlabel[32];
        for (int q = 0; q < n_todo; q++) {
            int t = sw->runs[todo[q]].cfg.train.threads;
            if (t <= 0) t = o->threads;
            if (q == 0 || t < tmin) tmin = t;
            if (q == 0 || t > tmax) tmax = t;
        }
        if (tmin == tmax) snprintf(tlabel, sizeof tlabel, "%d", tmin);
        else snprintf(tlabel, sizeof tlabel, "%d-%d", tmin, tmax);
        fprintf(stderr, "sweep %s%s: %d runs (%d distinct%s), %d already done, %d to run, "
                "-j %d x %s threads; store %s, logs %s/\n", sw->name, shard_label, sw->n,
                sw->n_distinct, mine, already, n_todo, o->jobs, tlabel, o->db, logs);
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_parent_signal; /* no SA_RESTART: waitpid returns EINTR */
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sweep_stop = 0;
    double t_start = nb_now();
    int forwarded = 0;
    live_pids = pids;
    live_slots = o->jobs;
    while (running > 0 ||
           ((next < n_todo || n_later) && !sweep_stop && !(o->fail_fast && failed))) {
        while (running < o->jobs && !sweep_stop && !(o->fail_fast && failed)) {
            int i = -1, k = 0;
            const nb_data_entry *d = NULL;
            char *who = NULL;
            if (next < n_todo) {
                i = todo[next];
                /* a data set several runs read is loaded once, here; others by the run */
                if (store_run_owner(s, sw->runs[i].hash, &who, &err) != 1 &&
                    data_shared(sw, todo, n_todo, next)) {
                    parent_loading = 1;
                    d = data_cache_get(&data, &sw->runs[i].cfg.data, sw->runs[i].data_sum);
                    parent_loading = 0;
                }
                next++;
            } else if (nb_now() >= later_check) {
                later_check = nb_now() + 1.0; /* owned runs are looked at every second */
                i = later_take(s, sw, later, &n_later, &elsewhere, &err);
                for (; reported < elsewhere; reported++)
                    if (!o->quiet)
                        fprintf(stderr, "[%d/%d] done by another process\n",
                                already + finished + reported + 1, n_mine);
            }
            if (err) fprintf(stderr, "negbench: %s\n", err), free(err), err = NULL;
            if (i < 0) break;
            const nb_sweep_run *r = &sw->runs[i];
            if (who) { /* a live other process trains it: look again later */
                if (!o->quiet)
                    fprintf(stderr, "[%d/%d] waiting     %.12s  %s  (being trained by %s)\n",
                            already + finished + elsewhere, n_mine, r->hash,
                            *r->label ? r->label : "-", who);
                later[n_later++] = i;
                free(who);
                continue;
            }
            while (pids[k]) k++;
            pid_t pid = spawn(r, o, exp_id, d, logs);
            if (pid < 0) {
                fprintf(stderr, "negbench: fork: %s\n", strerror(errno));
                sweep_stop = SIGTERM;
                break;
            }
            pids[k] = pid;
            slot_run[k] = i;
            slot_t0[k] = nb_now();
            running++;
        }
        if (sweep_stop && !forwarded) {
            for (int k = 0; k < o->jobs; k++)
                if (pids[k]) kill(pids[k], SIGTERM);
            forwarded = 1;
        }
        if (!running && (!n_later || sweep_stop || (o->fail_fast && failed))) break;
        int wst;
        pid_t pid = running ? waitpid(-1, &wst, n_later ? WNOHANG : 0) : 0;
        if (pid == 0) { /* runs owned elsewhere: poll (a signal cuts the sleep short) */
            struct timespec nap = {0, 250000000L};
            nanosleep(&nap, NULL);
            continue;
        }
        if (pid < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "negbench: waitpid: %s\n", strerror(errno));
            status = 2;
            break;
        }
        int k = 0;
        while (k < o->jobs && pids[k] != pid) k++;
        if (k == o->jobs) continue;
        pids[k] = 0;
        running--;
        const nb_sweep_run *r = &sw->runs[slot_run[k]];
        const char *what;
        if (WIFEXITED(wst) && WEXITSTATUS(wst) == CHILD_BUSY) { /* claimed meanwhile */
            later[n_later++] = slot_run[k];
            continue;
        }
        if (WIFEXITED(wst) && WEXITSTATUS(wst) == 0) what = "done";
        else if (WIFEXITED(wst) && WEXITSTATUS(wst) == 75) what = "interrupted", interrupted++;
        else {
            what = "FAILED", failed++;
            if (WIFSIGNALED(wst)) {
                char *why = nb_strf("the worker process was killed by signal %d", WTERMSIG(wst));
                record_crash(s, r, why);
                free(why);
            } else if (WEXITSTATUS(wst) != 1) {
                char *why = nb_strf("the worker process exited with status %d", WEXITSTATUS(wst));
                record_crash(s, r, why);
                free(why);
            }
        }
        finished++;
        if (!o->quiet) {
            double el = nb_now() - t_start;
            int left = n_todo - finished - elsewhere;
            char *eta = fmt_secs(finished ? el / finished * (left > 0 ? left : 0) : 0);
            char *took = fmt_secs(nb_now() - slot_t0[k]);
            char *log = strcmp(what, "done") ? nb_strf("  (log %s/%.12s.log)", logs, r->hash)
                                             : nb_xstrdup("");
            fprintf(stderr, "[%*d/%d] %-11s %s  %.12s  %s  ETA %s%s\n",
                    (int)snprintf(NULL, 0, "%d", n_mine), already + finished + elsewhere,
                    n_mine, what, took, r->hash, *r->label ? r->label : "-", eta, log);
            free(log);
            free(eta);
            free(took);
        }
    }
    live_pids = NULL;
    live_slots = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (status == 0) {
        int not_started = n_todo - next + n_later;
        char other[48] = "";
        if (elsewhere) snprintf(other, sizeof other, ", %d by another process", elsewhere);
        printf("sweep %s%s: %d done (%d before%s), %d failed, %d interrupted, %d not started; "
               "store %s\n", sw->name, shard_label,
               already + elsewhere + finished - failed - interrupted, already, other, failed,
               interrupted, not_started, o->db);
        status = sweep_stop || interrupted ? 75 : failed || not_started ? 1 : 0;
    }
out:
    if (s) store_close(s);
    data_cache_free(&data);
    free(err);
    free(logs);
    free(todo);
    free(later);
    free(pids);
    free(slot_run);
    free(slot_t0);
    return status;
}
