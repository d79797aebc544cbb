/*
 * lgcn_view.h - the forward step the LightGCN-style models share (lightgcn.c,
 * sgl.c): which propagation a TRAIN or EVAL forward runs, where the view's
 * layer stacks point, and the final rows computed on demand. Float only;
 * include after lightgcn_impl.h instantiated with SUF f32.
 */
#ifndef NB_LGCN_VIEW_H
#define NB_LGCN_VIEW_H

#include <string.h>

#include "negbench/plugin.h"
#include "model_common.h"

/* The final rows of a stack-free TRAIN forward left to be computed on
 * demand (the batch says rows_on_demand): the view's sync fills row r the
 * first time the step asks for it, with the last product's row r and its
 * pooling tail (graph_spmm_row_f32: the same bits as the full product).
 * The model owns it; state [N] (zeroed) and list [N] are allocated with it. */
typedef struct lgcn_lazy {
    const nb_graph *g;
    int32_t d;
    int64_t U;
    const float *src[LGCN_MAX_POOLED]; /* E^0 .. E^{L-1}; the product reads the last */
    int32_t L;
    graph_spmm_opts_f32 o;             /* the pooling tail, o.pool = src (and, with
                                          the stack, o.y2 = its slot L) */
    float *final;                      /* [N][d] */
    float *layers;                     /* [N][L+1][d] the stack, or NULL: final rows only */
    uint32_t *state;                   /* [N]: 2 stamp done, 2 stamp + 1 being computed */
    uint32_t stamp;                    /* this step's; rows of older steps are stale */
    int32_t *list;                     /* [N] scratch: the batch's distinct rows */
} lgcn_lazy;

/* Final row r (node index) of the step: the last product's row r and its
 * pooling tail; with the stack, also its row r (slots 0..L-1 copied from the
 * layer tables, slot L written by the product's tail). */
static inline void lgcn_lazy_row(const lgcn_lazy *z, int64_t r)
{
    if (z->layers) {
        float *xr = z->layers + r * (int64_t)(z->L + 1) * z->d;
        for (int32_t l = 0; l < z->L; l++)
            memcpy(xr + (int64_t)l * z->d, z->src[l] + r * z->d, (size_t)z->d * sizeof(float));
    }
    graph_spmm_row_f32(z->g, NULL, z->src[z->L - 1], z->d, r, z->final, z->d, z->d, &z->o);
}

/* nb_view.sync of an on-demand step: make final row `row` of table `which`
 * current. Thread-safe: the first caller of a row computes it, the others
 * wait for it (a row costs one row of a product). */
static void lgcn_lazy_sync(void *ctx, int which, int32_t row)
{
    lgcn_lazy *z = ctx;
    const int64_t r = which == NB_ITEMS ? z->U + row : row;
    const uint32_t done = 2 * z->stamp;
    uint32_t st = __atomic_load_n(&z->state[r], __ATOMIC_ACQUIRE);
    if (st == done) return;
    if (st != done + 1 && __atomic_compare_exchange_n(&z->state[r], &st, done + 1, 0,
                                                      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        lgcn_lazy_row(z, r);
        __atomic_store_n(&z->state[r], done, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&z->state[r], __ATOMIC_ACQUIRE) != done) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

/* Compute the final rows of the batch's users and positives (every step
 * reads them) in one parallel pass, in node order. They are marked done
 * before they are computed: nothing syncs a row while forward runs. */
static void lgcn_lazy_fill_batch(lgcn_lazy *z, const nb_batch *batch)
{
    const uint32_t done = 2 * z->stamp;
    for (int32_t b = 0; b < batch->size; b++) {
        z->state[batch->users[b]] = done;
        z->state[z->U + batch->pos[b]] = done;
    }
    int64_t n = 0;
    for (int64_t r = 0; r < z->g->n; r++)
        if (z->state[r] == done) z->list[n++] = (int32_t)r;
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t q = 0; q < n; q++) lgcn_lazy_row(z, z->list[q]);
}

/* Start a step whose rows the sampler syncs (lazy->src[0..L) set): stamp,
 * the batch's rows at once, view->sync. */
static inline void lgcn_lazy_start(const nb_graph *g, int32_t L, int32_t d, int pool, int64_t U,
                                   const nb_batch *batch, float *final, float *layers,
                                   lgcn_lazy *lazy, nb_view *view)
{
    lazy->g = g;
    lazy->d = d;
    lazy->U = U;
    lazy->L = L;
    lazy->o = lgcn_pool_opts_f32(L, pool, lazy->src);
    lazy->final = final;
    lazy->layers = layers;
    if (layers) {
        lazy->o.y2 = layers + (int64_t)L * d;
        lazy->o.ldy2 = (int64_t)(L + 1) * d;
    }
    if (++lazy->stamp >= 0x7fffffffu) { /* 2 stamp + 1 must fit: start over */
        memset(lazy->state, 0, (size_t)g->n * sizeof *lazy->state);
        lazy->stamp = 1;
    }
    lgcn_lazy_fill_batch(lazy, batch);
    view->sync = lgcn_lazy_sync;
    view->sync_ctx = lazy;
}

/* Propagate E0 [N][d] (N = U + I) for a forward of `mode` over `batch`
 * (NULL for EVAL). When the batch reads no layer (final_only) and the
 * pooling is mean or sum, the stack-free path runs: layers [N][L+1][d] is
 * scratch, view->user_layers/item_layers become NULL and the cache is
 * cleared, so the next EVAL forward rebuilds the stack; if the batch also has
 * rows_on_demand (and L >= 1), the last product is not run
 * and view->sync computes the final rows the step reads (those of the
 * batch's users and positives at once, here). Otherwise the
 * stack path runs (an EVAL forward reuses the last one while the cache is
 * valid for its batch's params_version: nb_cache_valid), the view points at
 * the stack and the cache records the version, unless the TRAIN batch has
 * layers_on_demand and S0, S1 are given (pool mean or sum, 1 <= L <= 3):
 * then E^1 .. E^{L-1} go to S0, S1, the last product is not run, and
 * view->sync fills a row of the stack and its final row when a sampler asks
 * for it (the batch's users and positives at once, here); the cache is
 * cleared. view->sync is NULL but in on-demand steps. H0, H1 [N][d]
 * scratch of the forward; S0, S1 [N][d] (nullable) scratch the sampler's
 * syncs read until the step's backward (a model that needs them in between,
 * as SGL for its views, passes NULL); lazy: the model's on-demand state. */
static inline void lgcn_view_forward(const nb_graph *g, int32_t L, int32_t d, int pool,
                                     int64_t U, int mode, const nb_batch *batch,
                                     const float *E0, float *layers, float *final, float *H0,
                                     float *H1, float *S0, float *S1, nb_cache *cache,
                                     lgcn_lazy *lazy, nb_view *view)
{
    view->sync = NULL;
    view->sync_ctx = NULL;
    if (mode == NB_MODE_TRAIN && batch && batch->final_only && pool != LGCN_CONCAT &&
        L < LGCN_MAX_POOLED) {
        if (batch->rows_on_demand && L >= 1) {
            lgcn_forward_layers_f32(g, NULL, L, d, E0, layers, lazy->src);
            lgcn_lazy_start(g, L, d, pool, U, batch, final, NULL, lazy, view);
        } else {
            lgcn_forward_final_f32(g, NULL, L, d, pool, E0, layers, final);
        }
        view->user_layers = view->item_layers = NULL;
        nb_cache_clear(cache);
        return;
    }
    if (mode == NB_MODE_TRAIN && batch && batch->layers_on_demand && S0 && pool != LGCN_CONCAT &&
        L >= 1 && L <= 3) {
        /* E^1 .. E^{L-1} into S0, S1 (the products of lgcn_forward_ex's
         * scratch path, so the same bits); stack rows on demand */
        float *const dst[2] = {S0, S1};
        lazy->src[0] = E0;
        for (int32_t l = 0; l + 1 < L; l++) {
            graph_spmm_run_f32(g, NULL, lazy->src[l], d, dst[l], d, d, NULL);
            lazy->src[l + 1] = dst[l];
        }
        lgcn_lazy_start(g, L, d, pool, U, batch, final, layers, lazy, view);
        view->user_layers = layers;
        view->item_layers = layers + U * (int64_t)(L + 1) * d;
        nb_cache_clear(cache);
        return;
    }
    if (mode == NB_MODE_TRAIN || !nb_cache_valid(cache, batch))
        lgcn_forward_ex_f32(g, NULL, L, d, pool, E0, layers, final, H0, H1);
    view->user_layers = layers;
    view->item_layers = layers + U * (int64_t)(L + 1) * d;
    nb_cache_record(cache, batch);
}

/* The backward step the LightGCN-style models share: the union of the
 * touched rows of the view-gradient blocks vg[0..3] (marking rowmark, listing
 * rows [N]), dE0 += the transposed propagation of their gradients
 * (lgcn_backward_fold, which writes Gamma into the layer-gradient rows it
 * then zeroes here), and the blocks cleared. Gf [N][df], Gl [N][(L+1)d];
 * H0, H1 [N][d] scratch. */
static inline void lgcn_view_backward(const nb_graph *g, int32_t L, int32_t d, int pool,
                                      int64_t U, nb_block vg[4], float *Gf, float *Gl,
                                      uint8_t *rowmark, int32_t *rows, float *H0, float *H1,
                                      float *dE0)
{
    const int64_t n_rows = view_grads_touched(vg, U, rowmark, rows);
    const int layers = view_grads_layers_touched(vg);
    lgcn_backward_fold_f32(g, NULL, L, d, pool, Gf, layers ? Gl : NULL, rows, n_rows, rowmark,
                           H0, H1, dE0);
    if (layers && L > 0) /* the fold wrote Gamma into every row of rows[] */
        view_grads_zero_layers(vg, rows, n_rows);
    view_grads_clear(vg, rowmark, rows, n_rows);
}

#endif /* NB_LGCN_VIEW_H */
