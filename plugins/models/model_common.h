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
#include <string.h>

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

/* Node-major arrays of a graph model (users first, then items) and the
 * blocks and view laid over them by graph_model_layout. */
typedef struct graph_model_arrays {
    int32_t U, I, d, L;
    int64_t df;                 /* width of a final row: d, or (L+1)d for concat */
    float *E0, *E0g;            /* [N][d] ego tables and their gradient */
    float *layers, *final;      /* [N][(L+1)d] stack, [N][df] final rows (may alias) */
    float *Gl, *Gf;             /* gradients of the stack and of the final rows */
    int32_t *touch;             /* [4N] touched lists of the four view blocks */
    uint8_t *mark;              /* [4N] their marks */
} graph_model_arrays;

/* Fill the ego parameter blocks params[0..1] (DENSE), the four view-gradient
 * blocks vg[0..3] (ROWS: final users, final items, layer users, layer items)
 * and the view over the arrays of a. */
static inline void graph_model_layout(const graph_model_arrays *a, nb_block params[2],
                                      nb_block vg[4], nb_view *view)
{
    const int64_t U = a->U, N = (int64_t)a->U + a->I, d = a->d, ld = (int64_t)(a->L + 1) * d;
    params[0] = (nb_block){"user_emb", a->E0, a->E0g, a->U, d, NB_BLOCK_DENSE, NULL, 0, NULL};
    params[1] = (nb_block){"item_emb", a->E0 + U * d, a->E0g + U * d, a->I, d, NB_BLOCK_DENSE,
                           NULL, 0, NULL};
    static const char *vnames[4] = {"user_final", "item_final", "user_layers", "item_layers"};
    for (int b = 0; b < 4; b++) {
        int item = b & 1, lay = b >> 1;
        int64_t cols = lay ? ld : a->df, off = item ? U : 0;
        float *val = lay ? a->layers : a->final, *grad = lay ? a->Gl : a->Gf;
        vg[b] = (nb_block){vnames[b], val + off * cols, grad + off * cols, item ? a->I : a->U,
                           cols, NB_BLOCK_ROWS, a->touch + (int64_t)b * N, 0,
                           a->mark + (int64_t)b * N};
    }
    *view = (nb_view){.n_users = a->U, .n_items = a->I, .dim = (int32_t)a->df,
                      .n_layers = a->L, .user = a->final, .item = a->final + U * a->df,
                      .user_layers = a->layers, .item_layers = a->layers + U * ld,
                      .user_ego = a->E0, .item_ego = a->E0 + U * d};
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

/* Whether a sampler wrote any per-layer view gradient (blocks vg[2], vg[3]);
 * if not, the backward pass may skip the layer-gradient array. */
static inline int view_grads_layers_touched(const nb_block vg[4])
{
    return vg[2].n_touched > 0 || vg[3].n_touched > 0;
}

/* After a backward pass: zero the touched rows of the four view blocks, clear
 * their marks and touched lists, and clear rowmark[] on rows[0..n_rows). */
static inline void view_grads_clear(nb_block vg[4], uint8_t *rowmark, const int32_t *rows,
                                    int64_t n_rows)
{
    for (int b = 0; b < 4; b++) {
        nb_block *blk = &vg[b];
        for (int64_t q = 0; q < blk->n_touched; q++) {
            int64_t r = blk->touched[q];
            memset(blk->grad + r * blk->cols, 0, (size_t)blk->cols * sizeof(float));
            blk->mark[r] = 0;
        }
        blk->n_touched = 0;
    }
    for (int64_t q = 0; q < n_rows; q++) rowmark[rows[q]] = 0;
}

/* After a backward pass that wrote into the layer-gradient rows rows[] (node
 * ids) of the stack vg[2].grad [N][cols] (users, then items: vg[3] is its
 * item part), as lgcn_backward_fold does: zero those rows and forget the
 * layer blocks' touched lists, so view_grads_clear does not zero them again. */
static inline void view_grads_zero_layers(nb_block vg[4], const int32_t *rows, int64_t n_rows)
{
    float *Gl = vg[2].grad;
    const int64_t cols = vg[2].cols;
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < n_rows; q++)
        memset(Gl + (int64_t)rows[q] * cols, 0, (size_t)cols * sizeof(float));
    for (int b = 2; b < 4; b++) {
        for (int64_t q = 0; q < vg[b].n_touched; q++) vg[b].mark[vg[b].touched[q]] = 0;
        vg[b].n_touched = 0;
    }
}

#endif /* NB_MODEL_COMMON_H */
