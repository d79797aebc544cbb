/*
 * run_exec.h - the last step of one run, which `negbench run` and the sweep
 * workers share: training a begun run, then recording its outcome in the
 * store. The steps before it (plugins, parameter values, identity, the
 * store's run row) are in run_plan.h.
 */
#ifndef NB_RUN_EXEC_H
#define NB_RUN_EXEC_H

#include "config.h"
#include "store.h"
#include "train.h"

/* The value of the sampler's INT parameter M (1 if it has none, or if
 * values, n_values long, has no slot for it), for batch_mode recbole. */
int32_t run_sampler_M(const nb_plugin_desc *sampler, const nb_value *values, int n_values);

/* Record a run's outcome (status, error, best metrics, hits, peak RSS) in
 * one store transaction (store_run_finish). */
int run_record(nb_store *store, int64_t run_id, const nb_config *cfg, const nb_train_out *out,
               char **err);

/* Train the begun run `in->run_id` and record its outcome (status, error,
 * best metrics, hits, peak RSS) with store_run_finish. out receives the
 * result (free with train_out_free). A training failure is an outcome, not
 * an error: returns non-zero only when the store could not be written. */
int run_train_and_record(nb_train_in *in, nb_train_out *out, char **err);

#endif
