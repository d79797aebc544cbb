/*
 * optim.h - Adam over the registered parameter blocks (model + sampler).
 *
 * Update rule of torch.optim.Adam 1.13 (weight_decay 0, amsgrad off):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * NB_ADAM_DENSE (default) is PyTorch's behaviour: every element of every
 * block takes a step every iteration, including rows whose gradient is zero
 * (they keep drifting on their momentum). With `deferred` set, NB_BLOCK_ROWS
 * blocks compute this lazily: a row records the step it is current at, and
 * when it is next read (optim_sync_row), touched, or flushed, the k
 * zero-gradient steps it missed are applied in closed form:
 *   m <- b1^k m,  v <- b2^k v,
 *   p <- p - m * sum_{j=1..k} a_j / (sqrt(v) r_j + eps),
 *   a_j = b1^j lr/(1 - b1^s),  r_j = b2^(j/2) / sqrt(1 - b2^s),  s = t0 + j,
 * which is the dense update up to float rounding, with each row read from
 * memory once instead of once per step. Deferral is only sound when every
 * reader syncs rows first (the host does for the batch's rows; samplers
 * declare NB_SAMPLER_SYNCS_ROWS), so the trainer enables it only then, and
 * per block only where it pays (optim_defer_pays).
 * DENSE blocks are updated in full every step.
 *
 * NB_ADAM_LAZY updates only the touched rows of ROWS blocks (m, v and p of
 * untouched rows are left alone; torch.optim.SparseAdam's semantics, with
 * the global step count in the bias corrections).
 */
#ifndef NB_OPTIM_H
#define NB_OPTIM_H

#include "negbench/plugin.h"

typedef struct nb_optim nb_optim;

typedef struct nb_adam_opts {
    double lr, beta1, beta2, eps;
    int mode;          /* enum nb_adam_mode (config.h): 0 dense, 1 lazy */
    const uint8_t *deferred; /* [n] nullable, read by optim_create only: 1 where a
                                ROWS block's idle rows are deferred (dense mode) */
    int threads;
} nb_adam_opts;

/* Create state for n blocks (the pointers must stay valid). */
int optim_create(nb_block *const *blocks, int n, const nb_adam_opts *o,
                 nb_optim **out, char **err);
/* Free the optimizer's moments and bookkeeping (not the blocks); NULL is ok. */
void optim_free(nb_optim *o);

/* One Adam step from the blocks' gradients, then zero those gradients
 * (touched rows of ROWS blocks, everything of DENSE blocks). */
void optim_step(nb_optim *o);

/* Bring every lazily-deferred row up to the current step (dense mode);
 * call before reading parameters (evaluation, snapshots). */
void optim_flush(nb_optim *o);

/* The caller wrote the blocks' values outside a step (restored a
 * snapshot): every deferred row is taken as current at the present step,
 * so no idle step is applied to the values written. */
void optim_values_written(nb_optim *o);

/* Make row r of block index bi current (all steps so far applied).
 * Thread-safe; a no-op unless the block is deferred. */
void optim_sync_row(nb_optim *o, int bi, int64_t r);

/* When a step reads more than this share of a deferred block's rows,
 * catching them up one by one (random rows, each under its lock, inside
 * the reader's loop: about 0.6 us a row) costs more than updating the
 * whole table in one pass of contiguous chunks (about 20 ns a row).
 * Measured on Gowalla (29,858 users, 40,981 items), MF + RNS, 2 threads,
 * s/epoch deferred against every step: batch 512 (users' share 0.017,
 * items' 0.025) 1.85-1.93 against 2.29-2.30; batch 1024 (0.034, 0.049)
 * 1.60-1.63 against 1.40-1.42; batch 2048 (0.066, 0.095) 1.07-1.25
 * against 0.81-0.86; DNS M 4 (items 0.22) 1.63-1.89 against 1.09-1.16. */
#define OPTIM_DEFER_MAX_SHARE 0.03

/* The share of a block's `rows` rows that `reads` row reads per step, drawn
 * about uniformly, touch: 1 - exp(-reads / rows) (0 for an empty block). */
double optim_read_share(int64_t rows, double reads);

/* 1 when deferring a ROWS block of `rows` rows pays: optim_read_share of
 * its `reads` per step is at most OPTIM_DEFER_MAX_SHARE. */
int optim_defer_pays(int64_t rows, double reads);

/* 1 when block index bi (-1: none) has its idle rows deferred. */
int optim_block_deferred(const nb_optim *o, int bi);

/* Index of the optimizer's block whose value array is `value`, or -1. */
int optim_block_index(const nb_optim *o, const float *value);

/* Steps taken so far. */
int64_t optim_steps(const nb_optim *o);

#endif /* NB_OPTIM_H */
