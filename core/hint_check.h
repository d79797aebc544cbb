/*
 * hint_check.h - the checking mode of the sampler performance hints
 * (NB_CHECK_HINTS=1, or `negbench plugins --check`).
 *
 * The hints of ABI 1.1-1.6 let the host skip work: with
 * NB_SAMPLER_SYNCS_ROWS the view's final rows may lag (deferred Adam) or be
 * filled only when synced (rows on demand), and from ABI 1.6 so may the
 * rows of the per-layer stack (layers on demand); with NB_SAMPLER_FINAL_ONLY
 * a graph model may leave the per-layer stack unfilled. A sampler that
 * claims a hint and breaks it trains on stale rows without any error. In
 * checking mode the sampler sees a copy of the view in which
 *   - (SYNCS_ROWS) every final user and item row is NaN until it is synced
 *     (the host syncs the batch's users and positives; nb_view_sync does
 *     the rest); ego and stack pointers that alias the final tables (MF)
 *     alias the copy; for a sampler whose promise covers the stack (built
 *     for ABI >= 1.6, not FINAL_ONLY) the stack rows of a graph view are NaN
 *     until synced as well;
 *   - (FINAL_ONLY) the per-layer stack is NaN (unless it aliases the final
 *     rows), whatever the model filled;
 * and after negatives every negative vector must be finite and every
 * regularised item synced, and after backward no per-layer gradient row may
 * have been written by a FINAL_ONLY sampler. A broken hint then fails the
 * run with a message naming the sampler. Rows made readable in a step are
 * NaN again after it. Costs one copy of the final tables (and of the stack
 * for FINAL_ONLY or a synced stack); nothing is allocated per step.
 */
#ifndef NB_HINT_CHECK_H
#define NB_HINT_CHECK_H

#include "negbench/plugin.h"

typedef struct hint_check hint_check;

/* Checking state for a sampler with these flags over views shaped like v0
 * (sizes, and whether the stack aliases the final rows). stack_synced: the
 * sampler's SYNCS_ROWS promise covers the per-layer stack (built for ABI
 * >= 1.6). NULL when the flags promise nothing to check. */
hint_check *hint_check_create(uint32_t flags, const nb_view *v0, int stack_synced);
void hint_check_free(hint_check *c);

/* The view to hand the sampler this step, over the model's (and host's)
 * view `real` after the host synced the batch's rows; valid until
 * hint_check_end. */
const nb_view *hint_check_view(hint_check *c, const nb_view *real, const nb_batch *batch);

/* After sampler.negatives: NB_ENUMERIC when a negative vector [B][vd] is not
 * finite, NB_EINVAL when a regularised item (reg_items [B][R], unless
 * use_reg_vec) was never synced; *err names the sampler. */
int hint_check_negatives(hint_check *c, const char *sampler, const nb_negatives *neg,
                         int32_t B, int32_t R, char **err);

/* After sampler.backward: NB_EINVAL when a FINAL_ONLY sampler wrote a
 * per-layer gradient row of g. */
int hint_check_backward(hint_check *c, const char *sampler, const nb_grads *g, char **err);

/* End of the step: the rows made readable are NaN again. */
void hint_check_end(hint_check *c);

/* 1 when the environment asks for checking mode (NB_CHECK_HINTS set, not "0"). */
int hint_check_requested(void);

#endif /* NB_HINT_CHECK_H */
