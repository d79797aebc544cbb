/*
 * run_plan.h - one run, resolved and identified before it executes: the
 * path that `negbench run FILE.yaml` and every point of a sweep share.
 *
 * A single-run file is a sweep of one point. Both go through the same
 * steps, each once in the code base:
 *
 *   run_plan_resolve   the model and sampler plugins by name, and their
 *                      parameter values against the plugin schemas
 *   run_plan_identify  the run's identity: canonical JSON of the resolved
 *                      configuration with the data checksum, and its SHA-256
 *   run_plan_check     its state in a store, with --force applied
 *   run_plan_begin     the store's run row (nb_run_info filled from the plan)
 *
 * and then run_train_and_record (run_exec.h). Errors are codes (NB_OK or a
 * negative NB_E* / NB_STORE_BUSY) with the problem in diagnostics or *err;
 * the caller prints them in its own voice.
 */
#ifndef NB_RUN_PLAN_H
#define NB_RUN_PLAN_H

#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "plugin_loader.h"
#include "store.h"

typedef struct nb_run_plan {
    nb_config cfg;               /* the resolved configuration (owns its tree) */
    const nb_plugin *model, *sampler; /* in the registry (not owned) */
    nb_value *mvals, *svals;     /* plugin parameters, one per schema entry */
    int n_mvals, n_svals;        /* their counts */
    char *json;                  /* canonical JSON (config_to_json) */
    char hash[65];               /* SHA-256 hex of json: the run's identity */
    char data_sum[65];           /* the data's checksum (dataset_checksum) */
    /* its place in a sweep (a single run: label "", dup_of -1, rank 0) */
    const char *label;           /* the point's axis values (owned by the grid) */
    int dup_of;                  /* index of the first identical run, or -1 */
    int rank;                    /* 0-based among distinct runs in grid order, -1 if a dup */
    int status;                  /* in the store: 0 absent, 1 done, 2 unfinished */
} nb_run_plan;

/* An empty plan: everything zero, label "", dup_of -1. cfg is then filled by
 * config_load or config_load_tree. */
void run_plan_init(nb_run_plan *p);

/* Resolve p->cfg's model and sampler in reg and their parameter values
 * (defaults filled in; host keys name/dim skipped). Problems go to diags
 * with positions ("unknown sampler ... (did you mean ...)", bad values).
 * Returns NB_OK, or NB_EINVAL when diags grew. */
int run_plan_resolve(nb_run_plan *p, const nb_registry *reg, nb_diags *diags);

/* The run's identity from its resolved plan and data_sum (the data set's
 * checksum, dataset_checksum or nb_dataset.checksum: the same 64 hex
 * digits): p->json, p->hash, p->data_sum. Returns NB_OK, or NB_EINVAL when
 * the plugin values do not match their schemas (nothing set). */
int run_plan_identify(nb_run_plan *p, const char *data_sum);

/* p's state in store s before it runs; sets p->status (0 absent, 1 done,
 * 2 unfinished). A done run is reopened when force is set (store_run_reopen).
 * Returns 1 when it is done and stays so (skip it), 0 when it is to run,
 * or a negative code with *err. */
int run_plan_check(nb_store *s, nb_run_plan *p, int force, char **err);

/* Begin p in store s under experiment exp_id (store_run_begin): the run
 * row records the plugins and versions, seed, threads, host, negbench's
 * version and revision, and ds's description and checksum (ds NULL: a data
 * set that could not be loaded, "(not loaded)" and p->data_sum). Returns
 * NB_OK with *run_id, NB_STORE_BUSY when a live other process owns the run
 * (nothing written), or another negative code, with *err in both cases. */
int run_plan_begin(nb_store *s, const nb_run_plan *p, int64_t exp_id, const nb_dataset *ds,
                   int threads, int64_t *run_id, char **err);

/* Free what the plan owns (configuration, values, JSON); p is left empty. */
void run_plan_free(nb_run_plan *p);

#endif /* NB_RUN_PLAN_H */
