/*
 * run_exec.c - the execution step of a begun run, shared by `negbench run`
 * and the sweep workers: train it, then record its outcome in the store.
 */
#include "run_exec.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int32_t run_sampler_M(const nb_plugin_desc *d, const nb_value *v, int n_values)
{
    for (int i = 0; i < n_values && d->params && d->params[i].name; i++)
        if (!strcmp(d->params[i].name, "M") && nb_param_type(&d->params[i]) == NB_PARAM_INT)
            return (int32_t)v[i].i;
    return 1;
}

int run_record(nb_store *store, int64_t run_id, const nb_config *cfg, const nb_train_out *out,
               char **err)
{
    static const char *const names[] = { "done", "failed", "interrupted" };
    nb_run_result res = {
        .status = names[out->status], .error = out->error, .best_epoch = out->best_epoch,
        .epochs_run = out->epochs_run, .best_valid = out->has_valid ? &out->best_valid : NULL,
        .best_test = out->status == NB_RUN_DONE ? &out->best_test : NULL,
        .hits = out->status == NB_RUN_DONE ? &out->hits : NULL,
        .valid_hits = out->status == NB_RUN_DONE && out->valid_hits.ptr ? &out->valid_hits : NULL,
        .report_k = cfg->eval.opts.report_k, .peak_rss_bytes = nb_peak_rss_bytes(),
    };
    return store_run_finish(store, run_id, &res, err);
}

int run_train_and_record(nb_train_in *in, nb_train_out *out, char **err)
{
    char *terr = NULL;
    in->batch_M = run_sampler_M(in->sampler, in->sampler_values, in->n_sampler_values);
    if (train_run(in, out, &terr) != NB_OK) {
        out->status = NB_RUN_FAILED;
        if (!out->error) out->error = terr, terr = NULL;
    }
    free(terr);
    return run_record(in->store, in->run_id, in->cfg, out, err);
}
