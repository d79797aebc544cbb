/*
 * ans_layers.h - the glue between a graph view's per-layer stacks and the
 * row batch of ans_impl.h, for ANS's per-layer mode (docs/methods/ans.md; the
 * official ans.py with n_layers > 0). Header only, float, included by ans.c.
 *
 * A batch of B positives becomes B (L+1) rows, row b*nl + l holding layer l
 * (nl = L+1, layer width e) of positive b: u^(l), p^(l) and the candidates'
 * layer-l rows. A stack [n][nl][e] is read as a table of n*nl rows of width
 * e, so the layer-l row of item i is row i*nl + l; candidate "ids" handed to
 * ans_dedupe are these row numbers, and each distinct (item, layer) row is
 * gated once. The per-layer augmented negatives n~^(l)_{m*_l} [B*nl][e] are
 * combined with the view's own pooling (view_layers.h) into the vector the
 * host scores: mean c sum_l, sum, or the concatenation (whose dot product
 * with the concatenated user row is the official sum_l u^(l).n~^(l)). The
 * host's dL/d(that vector) goes back per layer: c d_neg (mean, sum) or the
 * l-th slice (concat); the row gradients of u, p and the candidates go into
 * the layer blocks g->user_layers / g->item_layers.
 */
#ifndef NB_ANS_LAYERS_H
#define NB_ANS_LAYERS_H

#include "negbench/plugin.h"
#include "view_layers.h"

#include <string.h>

/* Ub, Pb [B*nl][e] = layer rows of the users and positives; candl
 * [B*nl][M] = stack rows cand[b][m]*nl + l of the candidates cand [B][M]. */
static void ans_layers_gather(const nb_view *v, const nb_view_layers *vl, int32_t B, int32_t M,
                              const int32_t *users, const int32_t *pos, const int32_t *cand,
                              float *Ub, float *Pb, int32_t *candl)
{
    const int32_t nl = vl->nl, e = vl->e;
    for (int32_t b = 0; b < B; b++)
        for (int32_t l = 0; l < nl; l++) {
            const int64_t q = (int64_t)b * nl + l;
            memcpy(Ub + q * e, v->user_layers + ((int64_t)users[b] * nl + l) * e,
                   (size_t)e * sizeof(float));
            memcpy(Pb + q * e, v->item_layers + ((int64_t)pos[b] * nl + l) * e,
                   (size_t)e * sizeof(float));
            for (int32_t m = 0; m < M; m++)
                candl[q * M + m] = cand[(int64_t)b * M + m] * nl + l;
        }
}

/* out [B][df] = the pooled per-layer rows vecl [B*nl][e]. */
static void ans_layers_pool(const nb_view_layers *vl, int32_t B, const float *vecl, float *out)
{
    const int32_t nl = vl->nl, e = vl->e;
    for (int32_t b = 0; b < B; b++) {
        const float *x = vecl + (int64_t)b * nl * e;
        float *o = out + (int64_t)b * vl->df;
        if (vl->pool == NB_POOL_CONCAT) {
            memcpy(o, x, (size_t)nl * e * sizeof(float));
            continue;
        }
        for (int32_t k = 0; k < e; k++) {
            double s = 0.0;
            for (int32_t l = 0; l < nl; l++) s += (double)x[(int64_t)l * e + k];
            o[k] = (float)(vl->c * s);
        }
    }
}

/* dnl [B*nl][e] = dL/dn~^(l) from d_neg [B][df] = dL/d(pooled vector). */
static void ans_layers_split(const nb_view_layers *vl, int32_t B, const float *d_neg, float *dnl)
{
    const int32_t nl = vl->nl, e = vl->e;
    const float c = (float)vl->c;
    for (int32_t b = 0; b < B; b++) {
        const float *dn = d_neg + (int64_t)b * vl->df;
        float *o = dnl + (int64_t)b * nl * e;
        if (vl->pool == NB_POOL_CONCAT) {
            memcpy(o, dn, (size_t)nl * e * sizeof(float));
            continue;
        }
        for (int32_t l = 0; l < nl; l++)
            for (int32_t k = 0; k < e; k++) o[(int64_t)l * e + k] = c * dn[k];
    }
}

/* Add the row gradients of a per-layer batch into the view's layer blocks:
 * Gu, Gp [B*nl][e] into layer l of users[b], pos[b]; GnU [nU][e] into the
 * stack rows uitem[j] (= item*nl + l). Serial, in b then j order. */
static void ans_layers_scatter(const nb_view_layers *vl, int32_t B, const int32_t *users,
                               const int32_t *pos, const float *Gu, const float *Gp, int32_t nU,
                               const int32_t *uitem, const float *GnU, nb_grads *g)
{
    const int32_t nl = vl->nl, e = vl->e;
    for (int32_t b = 0; b < B; b++) {
        float *gu = nb_block_grad_row(g->user_layers, users[b]);
        float *gp = nb_block_grad_row(g->item_layers, pos[b]);
        const float *su = Gu + (int64_t)b * nl * e, *sp = Gp + (int64_t)b * nl * e;
        for (int32_t k = 0; k < nl * e; k++) { gu[k] += su[k]; gp[k] += sp[k]; }
    }
    for (int32_t j = 0; j < nU; j++) {
        float *gn = nb_block_grad_row(g->item_layers, uitem[j] / nl) + (int64_t)(uitem[j] % nl) * e;
        const float *sn = GnU + (int64_t)j * e;
        for (int32_t k = 0; k < e; k++) gn[k] += sn[k];
    }
}

#endif /* NB_ANS_LAYERS_H */
