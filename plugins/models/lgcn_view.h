/*
 * lgcn_view.h - the forward step the LightGCN-style models share (lightgcn.c,
 * sgl.c): which propagation a TRAIN or EVAL forward runs and where the
 * view's layer stacks point. Float only; include after lightgcn_impl.h
 * instantiated with SUF f32.
 */
#ifndef NB_LGCN_VIEW_H
#define NB_LGCN_VIEW_H

#include "negbench/plugin.h"

/* Propagate E0 [N][d] (N = U + I) for a forward of `mode` over `batch`
 * (NULL for EVAL). When the batch reads no layer (final_only) and the
 * pooling is mean or sum, the stack-free path runs: layers [N][L+1][d] is
 * scratch, view->user_layers/item_layers become NULL and *fresh 0, so the
 * next EVAL forward rebuilds the stack. Otherwise the stack path runs (an
 * EVAL forward reuses the last one while *fresh), the view points at the
 * stack and *fresh becomes 1. H0, H1 [N][d] scratch. */
static inline void lgcn_view_forward(const nb_graph *g, int32_t L, int32_t d, int pool,
                                     int64_t U, int mode, const nb_batch *batch,
                                     const float *E0, float *layers, float *final, float *H0,
                                     float *H1, int *fresh, nb_view *view)
{
    if (mode == NB_MODE_TRAIN && batch && batch->final_only && pool != LGCN_CONCAT &&
        L < LGCN_MAX_POOLED) {
        lgcn_forward_final_f32(g, NULL, L, d, pool, E0, layers, final);
        view->user_layers = view->item_layers = NULL;
        *fresh = 0;
        return;
    }
    if (mode == NB_MODE_TRAIN || !*fresh)
        lgcn_forward_ex_f32(g, NULL, L, d, pool, E0, layers, final, H0, H1);
    view->user_layers = layers;
    view->item_layers = layers + U * (int64_t)(L + 1) * d;
    *fresh = 1;
}

#endif /* NB_LGCN_VIEW_H */
