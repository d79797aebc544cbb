/*
 * bpr.h - the host's loss: BPR over (u, p, n~) and the embedding
 * regulariser, each compiled for float (training) and double (gradient
 * checks) from one template (bpr_impl.h).
 *
 * BPR (RecBole BPRLoss): L = -(1/B) sum_b log(1e-10 + sigmoid(x_b)),
 *   x_b = u_b . p_b - u_b . n_b.
 * Regulariser over the ego (layer-0) rows of the batch's users U_b,
 * positives P_b and the sampler's N term (reg_items rows, or reg_vec):
 *   NB_REG_NORM    (RecBole EmbLoss, require_pow False; the ANS default):
 *       R = (|U_b|_F + |P_b|_F + |N_b|_F) / B, unsquared Frobenius norms
 *   NB_REG_SQUARED (require_pow True; MixGCF/DENS):
 *       R = (|U_b|_F^2 + |P_b|_F^2 + |N_b|_F^2) / (2B)
 * The caller multiplies R by reg_weight (the functions take the weight and
 * return the weighted value; *raw receives R).
 *
 * Shapes: users/pos [B]; U, I tables [rows][d]; neg [B][d]; reg_items
 * [B][R]. Gradients are ACCUMULATED (+=) into gU/gI rows and g_neg; any
 * gradient pointer may be NULL to skip it.
 */
#ifndef NB_BPR_H
#define NB_BPR_H

#include <stdint.h>

#define NB_BPR_DECLARE(SUF, REAL)                                               \
    /* Returns the BPR loss; accumulates dL/du (gU rows), dL/dp (gI rows)   \
     * and dL/dn (g_neg). x_out [B] (nullable) receives the margins. */     \
    double bpr_loss_grad_##SUF(int32_t B, int32_t d, const int32_t *users,   \
                               const int32_t *pos, const REAL *U,            \
                               const REAL *I, const REAL *neg, REAL *gU,     \
                               REAL *gI, REAL *g_neg, double *x_out);        \
    /* Returns weight * R; *raw = R. N term: reg_items [B][R] rows of Iego  \
     * when reg_vec is NULL, else the vectors reg_vec [B][d] (gradient into \
     * g_reg_vec). */                                                        \
    double reg_loss_grad_##SUF(int form, double weight, int32_t B, int32_t d,  \
                               const int32_t *users, const int32_t *pos,     \
                               const int32_t *reg_items, int32_t R,          \
                               const REAL *reg_vec, const REAL *Uego,        \
                               const REAL *Iego, REAL *gU, REAL *gI,         \
                               REAL *g_reg_vec, double *raw);

NB_BPR_DECLARE(f32, float)
NB_BPR_DECLARE(f64, double)

#endif /* NB_BPR_H */
