/*
 * test-bpr-mf.c - central finite differences, in double precision, of the
 * host's BPR loss plus regulariser (both forms) through MF, with respect to
 * the user, positive and negative rows (duplicates included); and the float
 * path against the double one.
 */
#include "bpr.h"
#include "tap/tap.h"
#include "testhost.h"

#include <math.h>
#include <string.h>

enum { NU = 4, NI = 6, D = 5, B = 5 };
static const int32_t users[B] = { 0, 2, 2, 3, 1 };
static const int32_t pos[B] = { 1, 3, 0, 5, 1 };
static const int32_t negs[B] = { 4, 1, 3, 0, 4 };   /* item 1 is positive and negative */

typedef struct ctx { double U[NU * D], I[NI * D]; int form; double lambda; } ctx;

/* The MF forward: the negative vectors are rows of I. */
static double loss_of(void *p)
{
    ctx *c = p;
    double nv[B * D];
    for (int b = 0; b < B; b++) memcpy(nv + b * D, c->I + negs[b] * D, sizeof(double) * D);
    double l = bpr_loss_grad_f64(B, D, users, pos, c->U, c->I, nv, NULL, NULL, NULL, NULL);
    l += reg_loss_grad_f64(c->form, c->lambda, B, D, users, pos, negs, 1, NULL, c->U, c->I,
                           NULL, NULL, NULL, NULL);
    return l;
}

static void grads_of(ctx *c, double *gU, double *gI)
{
    double nv[B * D], gn[B * D];
    memset(gU, 0, sizeof(double) * NU * D);
    memset(gI, 0, sizeof(double) * NI * D);
    memset(gn, 0, sizeof gn);
    for (int b = 0; b < B; b++) memcpy(nv + b * D, c->I + negs[b] * D, sizeof(double) * D);
    bpr_loss_grad_f64(B, D, users, pos, c->U, c->I, nv, gU, gI, gn, NULL);
    reg_loss_grad_f64(c->form, c->lambda, B, D, users, pos, negs, 1, NULL, c->U, c->I, gU, gI,
                      NULL, NULL);
    /* MF backward: the negative's gradient scatters into its item row */
    for (int b = 0; b < B; b++)
        for (int k = 0; k < D; k++) gI[negs[b] * D + k] += gn[b * D + k];
}

int main(void)
{
    tap_plan(0);
    ctx c;
    nb_rng r;
    nb_rng_seed(&r, 1, 2, 3);
    for (int i = 0; i < NU * D; i++) c.U[i] = nb_rng_uniform(&r) - 0.5;
    for (int i = 0; i < NI * D; i++) c.I[i] = nb_rng_uniform(&r) - 0.5;

    for (int form = 0; form <= 1; form++) {
        c.form = form;
        c.lambda = 0.3; /* large, so the regulariser's gradient is visible */
        double gU[NU * D], gI[NI * D], worst = 0.0;
        grads_of(&c, gU, gI);
        for (int i = 0; i < NU * D; i++) {
            double fd = fd_central(loss_of, &c, &c.U[i], 1e-6);
            double e = fabs(fd - gU[i]) / (fabs(fd) + 1e-6);
            if (e > worst) worst = e;
        }
        for (int i = 0; i < NI * D; i++) {
            double fd = fd_central(loss_of, &c, &c.I[i], 1e-6);
            double e = fabs(fd - gI[i]) / (fabs(fd) + 1e-6);
            if (e > worst) worst = e;
        }
        diag("form %s: max relative error %.3g", form ? "squared" : "norm", worst);
        ok(worst < 1e-6, "BPR + %s regulariser through MF: analytic gradient = central differences",
           form ? "squared" : "norm");

        /* the float instantiation agrees with the double one */
        float Uf[NU * D], If[NI * D], nf[B * D], gUf[NU * D] = { 0 }, gIf[NI * D] = { 0 },
              gnf[B * D] = { 0 };
        for (int i = 0; i < NU * D; i++) Uf[i] = (float)c.U[i];
        for (int i = 0; i < NI * D; i++) If[i] = (float)c.I[i];
        for (int b = 0; b < B; b++) memcpy(nf + b * D, If + negs[b] * D, sizeof(float) * D);
        double lf = bpr_loss_grad_f32(B, D, users, pos, Uf, If, nf, gUf, gIf, gnf, NULL);
        lf += reg_loss_grad_f32(form, c.lambda, B, D, users, pos, negs, 1, NULL, Uf, If, gUf, gIf,
                                NULL, NULL);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < D; k++) gIf[negs[b] * D + k] += gnf[b * D + k];
        is_close(lf, loss_of(&c), 1e-6, 1e-5, "float loss matches double");
        double gworst = 0.0;
        for (int i = 0; i < NI * D; i++) gworst = fmax(gworst, fabs(gIf[i] - gI[i]));
        ok(gworst < 1e-5, "float item gradient matches double (max abs diff %.2g)", gworst);
    }

    /* hand-computed BPR on one pair: x = u.(p - n) */
    double U1[2] = { 1.0, 2.0 }, I1[4] = { 0.5, 0.25, -1.0, 0.0 };
    int32_t u0 = 0, p0 = 0;
    double n1[2] = { -1.0, 0.0 }, x = 0.0;
    double l = bpr_loss_grad_f64(1, 2, &u0, &p0, U1, I1, n1, NULL, NULL, NULL, &x);
    is_close(x, 2.0, 0, 1e-15, "margin x = u.p - u.n");
    is_close(l, -log(1e-10 + 1.0 / (1.0 + exp(-2.0))), 0, 1e-14, "BPR = -log(1e-10 + sigmoid(x))");
    return tap_done();
}
