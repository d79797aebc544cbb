/*
 * train.h - the training loop: one run of one configuration.
 *
 * Per epoch the training pairs are shuffled with a stream derived from
 * (seed, epoch); per step the host runs the training-step contract of
 * negbench/plugin.h (model forward, sampler negatives, BPR + regulariser,
 * sampler backward, model backward, Adam); with `train.drop_last` the
 * epoch's last partial batch is skipped. After epochs `eval.first`,
 * first + `eval.every`, ... and the last, the model is evaluated on the
 * validation split; early stopping follows RecBole: an evaluation improves
 * when metric >= best (ties refresh the best), and training stops once more
 * than `patience` evaluations in a row did not improve, misses after epochs
 * up to `eval.min_epochs`, or before `eval.min_steps` optimizer steps, not
 * counting. The parameters of the best
 * evaluation are kept and the test split is evaluated with them at the end
 * (training and validation items masked). Without a validation split the
 * last epoch is the best.
 */
#ifndef NB_TRAIN_H
#define NB_TRAIN_H

#include <signal.h>
#include "config.h"
#include "dataset.h"
#include "eval.h"
#include "store.h"

typedef struct nb_train_in {
    const nb_config *cfg;
    const nb_dataset *ds;
    const nb_plugin_desc *model, *sampler;
    const nb_value *model_values, *sampler_values;
    int n_model_values, n_sampler_values; /* checked against the schemas */
    int32_t batch_M;             /* sampler's M for batch_mode recbole (1 if none) */
    int threads;
    nb_store *store;             /* may be NULL (tests) */
    int64_t run_id;
    int verbose;                 /* print one line per evaluated epoch */
    int progress;                /* live progress bar (stderr is a terminal) */
    int color;                   /* ANSI colour allowed */
    volatile sig_atomic_t *stop; /* set by SIGINT/SIGTERM; may be NULL */
    /* `negbench plugins --check` (core/cmd_plugins_check.c): */
    int ignore_hints;            /* run as if the sampler set no flags */
    int check_hints;             /* checking mode (hint_check.h); also NB_CHECK_HINTS=1 */
    double *step_loss;           /* [n_step_loss] the first steps' losses, or NULL */
    int64_t n_step_loss;
} nb_train_in;

enum nb_run_status { NB_RUN_DONE = 0, NB_RUN_FAILED = 1, NB_RUN_INTERRUPTED = 2 };

typedef struct nb_train_out {
    int status;                  /* enum nb_run_status */
    char *error;                 /* malloc'd message when failed */
    int32_t best_epoch, epochs_run;
    int has_valid;
    nb_metrics best_valid, best_test;
    nb_hits hits;                /* per-user test ranks at report_k */
    nb_hits valid_hits;          /* per-user validation ranks at the best epoch */
    double median_epoch_seconds; /* training time only */
} nb_train_out;

/* Train and evaluate; fills out (free with train_out_free). Returns 0 when
 * the run finished, failed or was interrupted in an orderly way (see
 * out->status), negative only for errors before training could start. */
int train_run(const nb_train_in *in, nb_train_out *out, char **err);
void train_out_free(nb_train_out *out);

#endif
