/*
 * sweep_exec.c - running the points of a loaded sweep (sweep_execute in
 * sweep_exec.h). The parent never trains and never enters an OpenMP region
 * (libgomp's pool does not survive fork); each run is a child that sets its
 * thread counts, loads its data (or takes the one the parent loaded for
 * several runs), begins its run row (run_plan_begin), trains and records
 * (run_train_and_record). The parent keeps -j slots busy, waits for runs
 * another live process owns, and prints one progress line per run.
 */
#define _GNU_SOURCE
#include "build_config.h"
#include "sweep_exec.h"
#include "run_exec.h"
#include "run_plan.h"
#include "data_cache.h"
#include "dataset.h"
#include "host.h"
#include "interrupt.h"
#include "kernels.h"
#include "shard.h"
#include "store.h"
#include "train.h"
#include "util.h"
#include "blas_core.h"

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

/* Begin run r in its worker: 0 begun, CHILD_BUSY when a live other process
 * owns it or finished it meanwhile (left to it: nothing written), 1 with
 * *err on a store error. */
static int child_begin(nb_store *store, const nb_sweep_run *r, int64_t exp_id,
                       const nb_dataset *ds, int threads, int64_t *run_id, char **err)
{
    int begun = run_plan_begin(store, r, exp_id, ds, threads, run_id, err);
    if (begun != 0 && store_run_status(store, r->hash, run_id, NULL) == 1) {
        fprintf(stderr, "run %s: finished by another process\n", r->hash);
        begun = NB_STORE_BUSY; /* the parent counts it when it looks again */
    }
    if (begun == NB_STORE_BUSY) {
        fprintf(stderr, "run %s: %s; left to it\n", r->hash, *err);
        return CHILD_BUSY;
    }
    return begun != 0;
}

/* Train the begun run on ds and record its outcome in out and the store. */
static int child_train(nb_store *store, int64_t run_id, const nb_sweep_run *r,
                       const nb_dataset *ds, int threads, nb_train_out *out, char **err)
{
    fprintf(stderr, "data: %s: %d users, %d items\n", ds->source, ds->n_users, ds->n_items);
    nb_train_in in = {
        .cfg = &r->cfg, .ds = ds, .model = r->model->desc, .sampler = r->sampler->desc,
        .model_values = r->mvals, .sampler_values = r->svals, .n_model_values = r->n_mvals,
        .n_sampler_values = r->n_svals, .threads = threads,
        .store = store, .run_id = run_id, .verbose = 1, .stop = &interrupt_flag,
    };
    return run_train_and_record(&in, out, err);
}

/* Record the begun run as failed because its data set is unusable: *data_err
 * (taken) when it leaves a training user no negative, else data's load
 * error. */
static int child_record_bad_data(nb_store *store, int64_t run_id, const nb_sweep_run *r,
                                 const nb_data_entry *data, char **data_err,
                                 nb_train_out *out, char **err)
{
    out->status = NB_RUN_FAILED;
    out->error = *data_err ? *data_err
                           : nb_xstrdup(data->err ? data->err : "the data set could not be loaded");
    *data_err = NULL;
    return run_record(store, run_id, &r->cfg, out, err);
}

/* The worker's exit status for the run's outcome, said on stderr. */
static int child_outcome(const nb_sweep_run *r, const nb_train_out *out)
{
    if (out->status == NB_RUN_DONE) {
        fprintf(stderr, "run %s: done, best epoch %d of %d\n", r->hash, out->best_epoch,
                out->epochs_run);
        return 0;
    }
    if (out->status == NB_RUN_INTERRUPTED) {
        fprintf(stderr, "run %s: interrupted after %d epochs\n", r->hash, out->epochs_run);
        return 75;
    }
    fprintf(stderr, "run %s: failed: %s\n", r->hash, out->error ? out->error : "?");
    return 1;
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
    char *err = NULL, *data_err = NULL;
    int64_t run_id = 0;
    int status = 1;
    memset(&own, 0, sizeof own);
    memset(&out, 0, sizeof out);
    if (!data) {
        own.loaded = dataset_load(&r->cfg.data, &own.ds, &own.err) == 0;
        data = &own;
    }
    const nb_dataset *ds = data->loaded ? &data->ds : NULL;
    /* a data set no sampler can train on fails like a load error */
    if (ds && dataset_check_negatives(&r->cfg.data, ds, &data_err) != 0) ds = NULL;
    int threads = r->cfg.train.threads > 0 ? r->cfg.train.threads : o->threads;
    nb_set_threads(threads);
    char blas[160];
    blas_core_describe(blas, sizeof blas);
    fprintf(stderr, "run %s: %s (%s + %s, %d threads; BLAS kernels %s)\n", r->hash,
            *r->label ? r->label : "-", r->cfg.model, r->cfg.sampler, threads, blas);
    if (store_open(o->db, &store, &err) != 0) goto fail;
    interrupt_set_deferred(1); /* from here a signal stops the run at its next step */
    status = child_begin(store, r, exp_id, ds, threads, &run_id, &err);
    if (status == CHILD_BUSY) goto done;
    if (status != 0) goto fail;
    if ((ds ? child_train(store, run_id, r, ds, threads, &out, &err)
            : child_record_bad_data(store, run_id, r, data, &data_err, &out, &err)) != 0)
        goto fail;
    status = child_outcome(r, &out);
    goto done;
fail:
    fprintf(stderr, "run %s: %s\n", r->hash, err ? err : "failed");
    status = 1;
done:
    train_out_free(&out);
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


/* Before anything is written (store, logs): every distinct data set of this
 * shard's runs must leave each training user a negative to draw, else the
 * whole sweep is a configuration error (exit 2), as for a single run. Each
 * data set is loaded, checked and freed here (one extra load per distinct
 * data set); one that does not load is left to its runs, which fail with
 * their load error. Returns 0 or 2. */
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

/* The parent's state while it runs a sweep (sweep_execute). */
typedef struct sweep_exec {
    nb_sweep *sw;
    const nb_sweep_opts *o;
    nb_store *s;                 /* the parent's connection (statuses, owners, crashes) */
    char *logs;                  /* <store dir>/<store stem>.logs */
    int64_t exp_id;              /* the experiment row */
    char shard_label[48];        /* " shard I/N", or "" */
    int *todo, n_todo, next;     /* the runs to start here in order; the next one */
    int *later, n_later;         /* runs a live other process owned when looked at */
    double later_check;          /* when to look at them again */
    pid_t *pids;                 /* per slot (o->jobs): its worker, or 0 */
    int *slot_run;               /* per slot: the worker's run */
    double *slot_t0;             /* per slot: when it started */
    int running, finished, failed, interrupted;
    int already, n_mine;         /* done before this sweep; runs of this shard */
    int elsewhere, reported;     /* done by other processes; of them, said */
    double t_start;
    int forwarded;               /* the stop signal was passed to the workers */
    nb_data_cache data;          /* data sets loaded here for several runs */
    char *err;
} sweep_exec;

/* No more runs start: a stop signal, or a failure under --fail-fast. */
static int exec_halted(const sweep_exec *x)
{
    return sweep_stop || (x->o->fail_fast && x->failed);
}

/* Before any child starts: the log directory, the store (checked), the
 * experiment row and the shard stamp. 0, or 2 after printing the error. */
static int exec_open(sweep_exec *x)
{
    const nb_sweep_opts *o = x->o;
    if (mkdir(x->logs, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "negbench: cannot create %s: %s\n", x->logs, strerror(errno));
        return 2;
    }
    if (store_open(o->db, &x->s, &x->err) != 0 || store_check(x->s, &x->err) != 0 ||
        store_experiment(x->s, x->sw->name, x->sw->grid.text, &x->exp_id, &x->err) != 0) {
        fprintf(stderr, "%s\n", x->err);
        return 2;
    }
    /* the whole grid's points, so that a report lists those never run */
    if (plan_stamp(x->s, x->sw, &x->err) != 0) {
        fprintf(stderr, "negbench: %s\n", x->err);
        return 2;
    }
    if (o->shard_count <= 0) return 0;
    snprintf(x->shard_label, sizeof x->shard_label, " shard %d/%d", o->shard_index,
             o->shard_count);
    if (shard_stamp(x->s, x->sw, o->shard_index, o->shard_count, &x->err) != 0) {
        fprintf(stderr, "negbench: %s\n", x->err);
        return 2;
    }
    return 0;
}

/* Each distinct run of this shard: already done (counted), or to do (in
 * todo; done runs too with --force, reopened). 0, or 2 on a store error. */
static int exec_plan(sweep_exec *x)
{
    nb_sweep *sw = x->sw;
    for (int i = 0; i < sw->n; i++) {
        if (!sweep_in_shard(sw, i, x->o->shard_index, x->o->shard_count)) continue;
        x->n_mine++;
        int st = run_plan_check(x->s, &sw->runs[i], x->o->force, &x->err);
        if (st < 0) {
            fprintf(stderr, "%s\n", x->err);
            return 2;
        }
        if (st == 1) x->already++;
        else x->todo[x->n_todo++] = i;
    }
    return 0;
}

/* "sweep NAME: ..." on stderr: the counts, the jobs and the threads the runs
 * to do will use (train.threads or --threads), the store and the logs. */
static void exec_announce(const sweep_exec *x)
{
    const nb_sweep *sw = x->sw;
    const nb_sweep_opts *o = x->o;
    int tmin = o->threads, tmax = o->threads;
    char tlabel[32], mine[48] = "";
    for (int q = 0; q < x->n_todo; q++) {
        int t = sw->runs[x->todo[q]].cfg.train.threads;
        if (t <= 0) t = o->threads;
        if (q == 0 || t < tmin) tmin = t;
        if (q == 0 || t > tmax) tmax = t;
    }
    if (tmin == tmax) snprintf(tlabel, sizeof tlabel, "%d", tmin);
    else snprintf(tlabel, sizeof tlabel, "%d-%d", tmin, tmax);
    if (o->shard_count > 0) snprintf(mine, sizeof mine, "; %d in this shard", x->n_mine);
    fprintf(stderr, "sweep %s%s: %d runs (%d distinct%s), %d already done, %d to run, "
            "-j %d x %s threads; store %s, logs %s/\n", sw->name, x->shard_label, sw->n,
            sw->n_distinct, mine, x->already, x->n_todo, o->jobs, tlabel, o->db, x->logs);
}

/* The next run to start: the next to do (its data set loaded here when
 * another run to do reads it too, into *d; *who set when a live other
 * process owns it), or, at most once a second, an owned run no process
 * owns any more. -1 when there is none now. */
static int exec_pick(sweep_exec *x, char **who, const nb_data_entry **d)
{
    nb_sweep *sw = x->sw;
    int i = -1;
    if (x->next < x->n_todo) {
        i = x->todo[x->next];
        if (store_run_owner(x->s, sw->runs[i].hash, who, &x->err) != 1 &&
            data_shared(sw, x->todo, x->n_todo, x->next)) {
            parent_loading = 1;
            *d = data_cache_get(&x->data, &sw->runs[i].cfg.data, sw->runs[i].data_sum);
            parent_loading = 0;
        }
        x->next++;
    } else if (nb_now() >= x->later_check) {
        x->later_check = nb_now() + 1.0; /* owned runs are looked at every second */
        i = later_take(x->s, sw, x->later, &x->n_later, &x->elsewhere, &x->err);
        for (; x->reported < x->elsewhere; x->reported++)
            if (!x->o->quiet)
                fprintf(stderr, "[%d/%d] done by another process\n",
                        x->already + x->finished + x->reported + 1, x->n_mine);
    }
    if (x->err) fprintf(stderr, "negbench: %s\n", x->err), free(x->err), x->err = NULL;
    return i;
}

/* Run i is trained by the live process who (taken): look again later. */
static void exec_defer(sweep_exec *x, int i, char *who)
{
    const nb_sweep_run *r = &x->sw->runs[i];
    if (!x->o->quiet)
        fprintf(stderr, "[%d/%d] waiting     %.12s  %s  (being trained by %s)\n",
                x->already + x->finished + x->elsewhere, x->n_mine, r->hash,
                *r->label ? r->label : "-", who);
    x->later[x->n_later++] = i;
    free(who);
}

/* Start run i in a free slot. 0, or -1 when fork failed (the sweep stops). */
static int exec_start(sweep_exec *x, int i, const nb_data_entry *d)
{
    int k = 0;
    while (x->pids[k]) k++;
    pid_t pid = spawn(&x->sw->runs[i], x->o, x->exp_id, d, x->logs);
    if (pid < 0) {
        fprintf(stderr, "negbench: fork: %s\n", strerror(errno));
        sweep_stop = SIGTERM;
        return -1;
    }
    x->pids[k] = pid;
    x->slot_run[k] = i;
    x->slot_t0[k] = nb_now();
    x->running++;
    return 0;
}

/* Start runs while slots are free and there are runs to start now. */
static void exec_fill(sweep_exec *x)
{
    while (x->running < x->o->jobs && !exec_halted(x)) {
        const nb_data_entry *d = NULL;
        char *who = NULL;
        int i = exec_pick(x, &who, &d);
        if (i < 0) break;
        if (who) exec_defer(x, i, who);
        else if (exec_start(x, i, d) != 0) break;
    }
}

/* What the wait status of run r's worker means: "done", "interrupted" or
 * "FAILED" (counted); a worker that died without recording its run (a
 * signal, an unexpected status) has its run marked failed here. */
static const char *exec_classify(sweep_exec *x, const nb_sweep_run *r, int wst)
{
    if (WIFEXITED(wst) && WEXITSTATUS(wst) == 0) return "done";
    if (WIFEXITED(wst) && WEXITSTATUS(wst) == 75) {
        x->interrupted++;
        return "interrupted";
    }
    x->failed++;
    char *why = NULL;
    if (WIFSIGNALED(wst))
        why = nb_strf("the worker process was killed by signal %d", WTERMSIG(wst));
    else if (WEXITSTATUS(wst) != 1)
        why = nb_strf("the worker process exited with status %d", WEXITSTATUS(wst));
    if (why) record_crash(x->s, r, why);
    free(why);
    return "FAILED";
}

/* "[n/N] what took hash label ETA ..." for the run of slot k. */
static void exec_progress(const sweep_exec *x, int k, const char *what)
{
    const nb_sweep_run *r = &x->sw->runs[x->slot_run[k]];
    double el = nb_now() - x->t_start;
    int left = x->n_todo - x->finished - x->elsewhere;
    char *eta = fmt_secs(x->finished ? el / x->finished * (left > 0 ? left : 0) : 0);
    char *took = fmt_secs(nb_now() - x->slot_t0[k]);
    char *log = strcmp(what, "done") ? nb_strf("  (log %s/%.12s.log)", x->logs, r->hash)
                                     : nb_xstrdup("");
    fprintf(stderr, "[%*d/%d] %-11s %s  %.12s  %s  ETA %s%s\n",
            (int)snprintf(NULL, 0, "%d", x->n_mine), x->already + x->finished + x->elsewhere,
            x->n_mine, what, took, r->hash, *r->label ? r->label : "-", eta, log);
    free(log);
    free(eta);
    free(took);
}

/* Account for the worker pid that ended with wait status wst. */
static void exec_reap(sweep_exec *x, pid_t pid, int wst)
{
    int k = 0;
    while (k < x->o->jobs && x->pids[k] != pid) k++;
    if (k == x->o->jobs) return;
    x->pids[k] = 0;
    x->running--;
    if (WIFEXITED(wst) && WEXITSTATUS(wst) == CHILD_BUSY) { /* claimed meanwhile */
        x->later[x->n_later++] = x->slot_run[k];
        return;
    }
    const char *what = exec_classify(x, &x->sw->runs[x->slot_run[k]], wst);
    x->finished++;
    if (!x->o->quiet) exec_progress(x, k, what);
}

/* Start and reap workers until every run is done, failed or left (or the
 * sweep is stopped). 0, or 2 when waiting failed. */
static int exec_loop(sweep_exec *x)
{
    while (x->running > 0 || ((x->next < x->n_todo || x->n_later) && !exec_halted(x))) {
        exec_fill(x);
        if (sweep_stop && !x->forwarded) {
            for (int k = 0; k < x->o->jobs; k++)
                if (x->pids[k]) kill(x->pids[k], SIGTERM);
            x->forwarded = 1;
        }
        if (!x->running && (!x->n_later || exec_halted(x))) break;
        int wst;
        pid_t pid = x->running ? waitpid(-1, &wst, x->n_later ? WNOHANG : 0) : 0;
        if (pid == 0) { /* runs owned elsewhere: poll (a signal cuts the sleep short) */
            struct timespec nap = {0, 250000000L};
            nanosleep(&nap, NULL);
            continue;
        }
        if (pid < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "negbench: waitpid: %s\n", strerror(errno));
            return 2;
        }
        exec_reap(x, pid, wst);
    }
    return 0;
}

/* Run exec_loop with the parent's SIGINT/SIGTERM handler installed. */
static int exec_run_workers(sweep_exec *x)
{
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_parent_signal; /* no SA_RESTART: waitpid returns EINTR */
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sweep_stop = 0;
    x->t_start = nb_now();
    live_pids = x->pids;
    live_slots = x->o->jobs;
    int status = exec_loop(x);
    live_pids = NULL;
    live_slots = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return status;
}

/* "sweep NAME: N done (...)" on stdout; the sweep's exit status. */
static int exec_summary(const sweep_exec *x)
{
    int not_started = x->n_todo - x->next + x->n_later;
    char other[48] = "";
    if (x->elsewhere) snprintf(other, sizeof other, ", %d by another process", x->elsewhere);
    printf("sweep %s%s: %d done (%d before%s), %d failed, %d interrupted, %d not started; "
           "store %s\n", x->sw->name, x->shard_label,
           x->already + x->elsewhere + x->finished - x->failed - x->interrupted, x->already,
           other, x->failed, x->interrupted, not_started, x->o->db);
    return sweep_stop || x->interrupted ? 75 : x->failed || not_started ? 1 : 0;
}

int sweep_execute(nb_sweep *sw, const nb_sweep_opts *o)
{
    if (sweep_check_data(sw, o) != 0) return 2;
    sweep_exec x;
    memset(&x, 0, sizeof x);
    x.sw = sw;
    x.o = o;
    x.logs = log_dir(o->db);
    x.todo = nb_xcalloc((size_t)sw->n + 1, sizeof *x.todo);
    x.later = nb_xcalloc((size_t)sw->n + 1, sizeof *x.later);
    x.pids = nb_xcalloc((size_t)o->jobs, sizeof *x.pids);
    x.slot_run = nb_xcalloc((size_t)o->jobs, sizeof *x.slot_run);
    x.slot_t0 = nb_xcalloc((size_t)o->jobs, sizeof *x.slot_t0);
    int status = exec_open(&x);
    if (status == 0) status = exec_plan(&x);
    /* x.s stays open (never used by the children): while the parent holds a
     * connection, a child's close is not the last one, so it neither
     * checkpoints nor deletes the WAL (tens of ms per run otherwise). */
    if (status == 0 && !o->quiet) exec_announce(&x);
    if (status == 0) status = exec_run_workers(&x);
    if (status == 0) status = exec_summary(&x);
    if (x.s) store_close(x.s);
    data_cache_free(&x.data);
    free(x.err);
    free(x.logs);
    free(x.todo);
    free(x.later);
    free(x.pids);
    free(x.slot_run);
    free(x.slot_t0);
    return status;
}
