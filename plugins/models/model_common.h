/*
 * model_common.h - pieces the model plugins share (header only: plugins
 * link nothing of the host): RecBole's Xavier initialisation and the
 * view-gradient plumbing of the graph models.
 *
 * A graph model keeps four NB_BLOCK_ROWS gradient blocks over its view
 * (final user rows, final item rows, per-layer user rows, per-layer item
 * rows) and two parameter blocks (the ego tables E0 of users and items).
 */
#ifndef NB_MODEL_COMMON_H
#define NB_MODEL_COMMON_H

#include "negbench/plugin.h"

/* xavier_uniform_ of a [rows][d] table (torch: fan_in d, fan_out rows, so
 * the bound is sqrt(6 / (rows + d))), drawn from the stream (seed, tag, 0). */
static inline void model_xavier_uniform(float *w, int64_t rows, int32_t d, uint64_t seed,
                                        uint64_t tag)
{
    nb_rng r;
    nb_rng_seed(&r, seed, tag, 0);
    double b = sqrt(6.0 / (double)(rows + d));
    for (int64_t i = 0; i < rows * d; i++) w[i] = (float)((2.0 * nb_rng_uniform(&r) - 1.0) * b);
}

/* Point g at the four view blocks vg[0..3] and the ego parameter blocks. */
static inline void view_grads_expose(nb_grads *g, nb_block vg[4], nb_block params[2])
{
    g->user = &vg[0];
    g->item = &vg[1];
    g->user_layers = &vg[2];
    g->item_layers = &vg[3];
    g->user_ego = &params[0];
    g->item_ego = &params[1];
}

/* The union of the rows touched in the four view blocks as node ids (users
 * 0..U-1, items U..U+I-1) into rows[], marking rowmark[] (the caller clears
 * the marks). Returns the number of rows. */
static inline int64_t view_grads_touched(nb_block vg[4], int64_t U, uint8_t *rowmark,
                                         int32_t *rows)
{
    int64_t n_rows = 0;
    for (int b = 0; b < 4; b++) {
        nb_block *blk = &vg[b];
        int64_t off = (b & 1) ? U : 0;
        for (int64_t q = 0; q < blk->n_touched; q++) {
            int64_t r = off + blk->touched[q];
            if (!rowmark[r]) { rowmark[r] = 1; rows[n_rows++] = (int32_t)r; }
        }
    }
    return n_rows;
}

#endif /* NB_MODEL_COMMON_H */
