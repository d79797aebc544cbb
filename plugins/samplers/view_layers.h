/*
 * view_layers.h - how a graph view's final rows pool its per-layer stack,
 * for samplers that work per layer (MixGCF hop mixing, DENS per-layer
 * selection). Header only: plugins link nothing of the host.
 *
 * A view with n_layers = L > 0 carries the stack user_layers/item_layers
 * [n][L+1][e] and final rows user/item [n][df]. negbench's backbones pool the
 * stack in one of three linear ways, which the sampler must know to build a
 * synthetic negative in final space and to route its gradient per layer:
 *   mean    final = 1/(L+1) sum_l layer_l   (df = e; LightGCN default)
 *   sum     final = sum_l layer_l           (df = e)
 *   concat  final = [layer_0 .. layer_L]    (df = (L+1) e; NGCF, LightGCN concat)
 * The plugin ABI does not name the pooling, so it is read off the data: a
 * view whose final rows alias the stack is concat; otherwise the final row of
 * an item is compared with the mean and with the sum of its layers (to 1e-4
 * of the row's max-abs; the two hypotheses differ by a factor L+1 >= 2). A
 * view matching none of them is refused by the caller.
 */
#ifndef NB_VIEW_LAYERS_H
#define NB_VIEW_LAYERS_H

#include "negbench/plugin.h"

/* Largest L a per-layer sampler sizes its buffers for (the graph backbones
 * accept layers <= 8). */
#define NB_VIEW_MAX_LAYERS 8

enum nb_view_pool { NB_POOL_MEAN = 0, NB_POOL_SUM = 1, NB_POOL_CONCAT = 2 };

typedef struct nb_view_layers {
    int32_t nl;     /* L + 1 */
    int32_t e;      /* width of one layer row */
    int32_t df;     /* width of a final row (view->dim) */
    int pool;       /* enum nb_view_pool */
    double c;       /* pooling weight of each layer: 1/(L+1) (mean) or 1 */
} nb_view_layers;

/* Classify the pooling of a view with n_layers > 0 from the item rows
 * items[0..n) (the first decisive row wins). Returns 0 and fills *out, or -1
 * when no row is decisive or the rows fit none of mean, sum, concat. */
static inline int nb_view_layers_detect(const nb_view *v, const int32_t *items, int32_t n,
                                        nb_view_layers *out)
{
    int32_t nl = v->n_layers + 1, df = v->dim;
    if (v->n_layers <= 0 || df <= 0 || !v->item_layers || !v->user_layers) return -1;
    if (v->item == v->item_layers && v->user == v->user_layers) {
        if (df % nl) return -1;
        *out = (nb_view_layers){nl, df / nl, df, NB_POOL_CONCAT, 1.0};
        return 0;
    }
    for (int32_t q = 0; q < n; q++) {
        const float *f = v->item + (int64_t)items[q] * df;
        const float *x = v->item_layers + (int64_t)items[q] * nl * df;
        double scale = 0.0, em = 0.0, es = 0.0;
        for (int32_t k = 0; k < df; k++) {
            double s = 0.0;
            for (int32_t l = 0; l < nl; l++) s += (double)x[(int64_t)l * df + k];
            double fk = (double)f[k];
            scale = fmax(scale, fabs(fk));
            em = fmax(em, fabs(fk - s / nl));
            es = fmax(es, fabs(fk - s));
        }
        if (!(scale > 0.0)) continue;
        int mean = em <= 1e-4 * scale, sum = es <= 1e-4 * scale;
        if (mean == sum) {
            if (mean) continue; /* cannot tell (a zero-sum row) */
            return -1;
        }
        *out = (nb_view_layers){nl, df, df, mean ? NB_POOL_MEAN : NB_POOL_SUM,
                                mean ? 1.0 / nl : 1.0};
        return 0;
    }
    return -1;
}

#endif /* NB_VIEW_LAYERS_H */
