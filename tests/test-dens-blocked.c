/*
 * test-dens-blocked.c - the register-blocked DENS kernels (dens_blocked.h,
 * the plugin's path on graph views when d is a multiple of 32) against the
 * per-pair reference of dens_impl.h, in double on random layer rows with d =
 * 64, M = 11 (candidate rows padded to a multiple of four) and 31 pairs (a
 * partial group): the same picks, criteria and kept gates to 1e-13; the
 * gating loss and its gradients to 1e-13 and 1e-11; the blocked gate weight
 * gradients against plain loops over the batch (errors relative to the
 * gradients' scale, about 1: 1e-12 in double, 1e-4 in float, where fused
 * multiply-adds round differently from the plain loops). Scratch buffers are passed unaligned on purpose.
 */
#include "../plugins/samplers/dens.c"

#define REAL double
#define SUF f64
#include "../plugins/samplers/dens_impl.h"
#undef REAL
#undef SUF

#include <stdlib.h>

#include "tap/tap.h"

enum { Q = 31, M = 11, D = 64, ROWS = 90, NLB = 4, BB = 28 / NLB };

static double U[ROWS * D], I[ROWS * D], gwv[DENS_N_GW][D * D];
static const double *gw[DENS_N_GW];
static int32_t ui[Q], pi_[Q], cl[Q * M];

static void fill(void)
{
    nb_rng rg;
    nb_rng_seed(&rg, 11, 3, 5);
    for (int k = 0; k < ROWS * D; k++) {
        U[k] = nb_rng_uniform(&rg) - 0.5;
        I[k] = nb_rng_uniform(&rg) - 0.5;
    }
    for (int k = 0; k < DENS_N_GW; k++) {
        for (int i = 0; i < D * D; i++) gwv[k][i] = (2.0 * nb_rng_uniform(&rg) - 1.0) / 8.0;
        gw[k] = gwv[k];
    }
    for (int q = 0; q < Q; q++) {
        ui[q] = (int32_t)(nb_rng_uniform(&rg) * ROWS);
        pi_[q] = (int32_t)(nb_rng_uniform(&rg) * ROWS);
        for (int m = 0; m < M; m++) cl[q * M + m] = (int32_t)(nb_rng_uniform(&rg) * ROWS);
    }
}

static double relerr(double a, double b, double floor_)
{
    return fabs(a - b) / fmax(fabs(a), floor_);
}

/* selection and gating loss, blocked against the reference */
static void test_select_and_aux(void)
{
    static double sc0[Q * M], sc1[Q * M], gp0[Q * D], gn0[Q * M * D], cgp[Q * D], cpr[Q * D],
        cgn[Q * D], wt[4 * D * D + 4 * D], wd[4 * D * D], rwork[3 * D];
    int32_t ch0[Q], ch1[Q];
    ok(dens_blocked_ok(D) && !dens_blocked_ok(40) && !dens_blocked_ok(0), "blocked path for d 64 only among 64, 40, 0");
    double *bw = malloc(2 * (size_t)dens_select_blk_work_size(D, M) * sizeof(double) + 8);
    double *bwu = bw + 1; /* deliberately not 16-byte aligned */
    dens_gates_double_t_f64(D, gw, wt);
    dens_gates_double_f64(D, gw, wd);
    int64_t b0 = dens_select_batch_f64(Q, 1, M, D, 0.3, gw, U, I, ui, pi_, cl, 1, rwork, sc0, gp0,
                                       gn0, ch0);
    int64_t b1 = dens_select_graph_blk_f64(Q, M, D, 0.3, wt, U, I, ui, pi_, cl, 2, bwu, sc1, ch1,
                                           cgp, cpr, cgn);
    double es = 0, eg = 0;
    int same = b0 == 0 && b1 == 0;
    for (int q = 0; q < Q; q++) {
        same &= ch0[q] == ch1[q];
        for (int m = 0; m < M; m++) es = fmax(es, relerr(sc0[q * M + m], sc1[q * M + m], 1e-3));
        for (int j = 0; j < D; j++) {
            eg = fmax(eg, fabs(gp0[q * D + j] - cgp[q * D + j]));
            eg = fmax(eg, fabs(I[pi_[q] * D + j] * gp0[q * D + j] - cpr[q * D + j]));
            eg = fmax(eg, fabs(gn0[((int64_t)q * M + ch0[q]) * D + j] - cgn[q * D + j]));
        }
    }
    ok(same && es < 1e-13 && eg < 1e-13,
       "blocked selection = per-pair reference: picks, criteria (%.2g), kept gates (%.2g)", es, eg);
    free(bw);

    /* the gating loss over BB positives of NLB layers: gates run per pair
     * (reference) and kept, transposed products blocked */
    int32_t ni[Q];
    for (int q = 0; q < Q; q++) ni[q] = cl[q * M + ch1[q]];
    static double aw[3 * NLB * D + 13 * D], lb[2][BB], tb[2][4 * BB], g[2][6][BB * NLB * D];
    double *xw = malloc(2 * (size_t)dens_aux_graph_work_size(D, NLB) * sizeof(double) + 8);
    const double *rows[2 * 3 * NLB];
    double l0 = dens_aux_graph_batch_f64(BB, NLB, D, 0.25, 0.3, gw, U, I, ui, pi_, ni, 1, aw, rows,
                                         lb[0], tb[0], NULL, g[0][0], g[0][1], g[0][2], g[0][3],
                                         g[0][4], g[0][5]);
    double l1 = dens_aux_graph_batch_ex_f64(BB, NLB, D, 0.25, 0.3, gw, U, I, ui, pi_, ni, cgp, cpr,
                                            cgn, wd, 2, xw + 1, rows, lb[1], tb[1], NULL, g[1][0],
                                            g[1][1], g[1][2], g[1][3], g[1][4], g[1][5]);
    double ea = 0;
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < BB * NLB * D; i++) ea = fmax(ea, relerr(g[0][k][i], g[1][k][i], 1e-6));
    ok(fabs(l0 - l1) <= 1e-13 * fabs(l0) && ea < 1e-11,
       "blocked gating loss = reference (loss %.6g vs %.6g, grads %.2g)", l0, l1, ea);
    free(xw);
}

/* blocked weight gradients against plain loops, in REAL = double and float */
static void test_wgrad(void)
{
    enum { S = 300, K = 2, BP = S / K };
    static double ga[BP * D], gc[S * D], pr[BP * D], ref[DENS_N_GW][D * D], got[DENS_N_GW][D * D];
    static float fU[ROWS * D], fI[ROWS * D], fga[BP * D], fgc[S * D], fpr[BP * D];
    static float fref[DENS_N_GW][D * D], fgot[DENS_N_GW][D * D];
    int32_t users[BP], pos[BP], negs[S];
    nb_rng rg;
    nb_rng_seed(&rg, 5, 9, 1);
    for (int b = 0; b < BP; b++) {
        users[b] = (int32_t)(nb_rng_uniform(&rg) * ROWS);
        pos[b] = (int32_t)(nb_rng_uniform(&rg) * ROWS);
        for (int j = 0; j < D; j++) {
            ga[b * D + j] = nb_rng_uniform(&rg) - 0.5;
            pr[b * D + j] = nb_rng_uniform(&rg) - 0.5;
        }
    }
    for (int s = 0; s < S; s++) {
        negs[s] = (int32_t)(nb_rng_uniform(&rg) * ROWS);
        for (int j = 0; j < D; j++) gc[s * D + j] = nb_rng_uniform(&rg) - 0.5;
    }
    for (int k = 0; k < ROWS * D; k++) { fU[k] = (float)U[k]; fI[k] = (float)I[k]; }
    for (int k = 0; k < BP * D; k++) { fga[k] = (float)ga[k]; fpr[k] = (float)pr[k]; }
    for (int k = 0; k < S * D; k++) fgc[k] = (float)gc[k];
    /* plain loops: each element sums over the batch in order */
    for (int j = 0; j < D; j++) {
        for (int b = 0; b < BP; b++) {
            double a = ga[b * D + j];
            float fa = fga[b * D + j];
            ref[DENS_B_ITEM][j] += a; ref[DENS_B_USER][j] += a;
            fref[DENS_B_ITEM][j] += fa; fref[DENS_B_USER][j] += fa;
            for (int i = 0; i < D; i++) {
                ref[DENS_W_ITEM][j * D + i] += a * I[pos[b] * D + i];
                ref[DENS_W_USER][j * D + i] += a * U[users[b] * D + i];
                fref[DENS_W_ITEM][j * D + i] += fa * fI[pos[b] * D + i];
                fref[DENS_W_USER][j * D + i] += fa * fU[users[b] * D + i];
            }
        }
        for (int s = 0; s < S; s++) {
            double c = gc[s * D + j];
            float fc = fgc[s * D + j];
            ref[DENS_B_NEG][j] += c; ref[DENS_B_POS][j] += c;
            fref[DENS_B_NEG][j] += fc; fref[DENS_B_POS][j] += fc;
            for (int i = 0; i < D; i++) {
                ref[DENS_W_NEG][j * D + i] += c * I[negs[s] * D + i];
                ref[DENS_W_POS][j * D + i] += c * pr[s / K * D + i];
                fref[DENS_W_NEG][j * D + i] += fc * fI[negs[s] * D + i];
                fref[DENS_W_POS][j * D + i] += fc * fpr[s / K * D + i];
            }
        }
    }
    double *gg[DENS_N_GW];
    float *fgg[DENS_N_GW];
    for (int k = 0; k < DENS_N_GW; k++) { gg[k] = got[k]; fgg[k] = fgot[k]; }
    ok(dens_wgrad_blk_ok_f64(D) && dens_wgrad_blk_ok_f32(D), "blocked weight gradients for d 64");
    dens_aux_wgrad_f64(BP, K, D, U, I, users, pos, negs, ga, gc, pr, 2, gg);
    dens_aux_wgrad_f32(BP, K, D, fU, fI, users, pos, negs, fga, fgc, fpr, 2, fgg);
    double e = 0, fe = 0;
    for (int k = 0; k < DENS_N_GW; k++) {
        int64_t n = k % 2 == 0 ? D * D : D;
        for (int64_t i = 0; i < n; i++) {
            e = fmax(e, relerr(ref[k][i], got[k][i], 1.0));
            fe = fmax(fe, relerr(fref[k][i], fgot[k][i], 1.0));
        }
    }
    ok(e < 1e-12 && fe < 1e-4, "blocked weight gradients = plain loops (double %.2g, float %.2g)",
       e, fe);
}

int main(void)
{
    fill();
    test_select_and_aux();
    test_wgrad();
    return tap_done();
}
