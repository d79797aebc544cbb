/*
 * bpr_impl.h - template body of bpr.h, included by bpr.c once per precision
 * with SUF (function suffix) and REAL (element type) defined. Element-wise
 * work is done in REAL (so the float instantiation vectorises); each row's
 * dot product or squared norm is a REAL sum, and sums over rows are double.
 */
#define NB_CAT_(a, b) a##_##b
#define NB_CAT(a, b) NB_CAT_(a, b)

double NB_CAT(bpr_loss_grad, SUF)(int32_t B, int32_t d, const int32_t *users,
                                  const int32_t *pos, const REAL *U, const REAL *I,
                                  const REAL *neg, REAL *gU, REAL *gI, REAL *g_neg,
                                  double *x_out)
{
    double loss = 0.0;
    for (int32_t b = 0; b < B; b++) {
        if (b + 6 < B) { /* the rows are random: fetch a few positives ahead */
            const int32_t a = b + 6;
            for (int32_t k = 0; k < d; k += 16) {
                __builtin_prefetch(U + (int64_t)users[a] * d + k);
                __builtin_prefetch(I + (int64_t)pos[a] * d + k);
                if (gU) __builtin_prefetch(gU + (int64_t)users[a] * d + k, 1);
                if (gI) __builtin_prefetch(gI + (int64_t)pos[a] * d + k, 1);
            }
        }
        const REAL *u = U + (int64_t)users[b] * d;
        const REAL *p = I + (int64_t)pos[b] * d;
        const REAL *n = neg + (int64_t)b * d;
        REAL xr = 0;
        #pragma omp simd reduction(+ : xr)
        for (int32_t k = 0; k < d; k++) xr += u[k] * (p[k] - n[k]);
        double x = (double)xr;
        if (x_out) x_out[b] = x;
        /* sigma(x) computed without overflow for large |x| */
        double sig = x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
        loss += -log(1e-10 + sig);
        /* dL/dx = -(1/B) sig (1 - sig) / (sig + 1e-10) */
        const REAL gx = (REAL)(-(sig * (1.0 - sig) / (sig + 1e-10)) / (double)B);
        if (gU) {
            REAL *gu = gU + (int64_t)users[b] * d;
            for (int32_t k = 0; k < d; k++) gu[k] += gx * (p[k] - n[k]);
        }
        if (gI) {
            REAL *gp = gI + (int64_t)pos[b] * d;
            for (int32_t k = 0; k < d; k++) gp[k] += gx * u[k];
        }
        if (g_neg) {
            REAL *gn = g_neg + (int64_t)b * d;
            for (int32_t k = 0; k < d; k++) gn[k] -= gx * u[k];
        }
    }
    return loss / (double)B;
}

/* Squared Frobenius norm of the gathered rows. */
static double NB_CAT(gathered_sq, SUF)(const REAL *T, const int32_t *ids, int64_t n,
                                       int32_t d)
{
    double s = 0.0;
    for (int64_t r = 0; r < n; r++) {
        if (r + 6 < n)
            for (int32_t k = 0; k < d; k += 16) __builtin_prefetch(T + (int64_t)ids[r + 6] * d + k);
        const REAL *x = T + (int64_t)ids[r] * d;
        REAL row = 0;
        #pragma omp simd reduction(+ : row)
        for (int32_t k = 0; k < d; k++) row += x[k] * x[k];
        s += (double)row;
    }
    return s;
}

/* g[ids[r]] += c * T[ids[r]] for every gathered row (duplicates accumulate). */
static void NB_CAT(gathered_axpy, SUF)(REAL *g, const REAL *T, const int32_t *ids,
                                       int64_t n, int32_t d, double c)
{
    const REAL cr = (REAL)c;
    for (int64_t r = 0; r < n; r++) {
        if (r + 6 < n)
            for (int32_t k = 0; k < d; k += 16) {
                __builtin_prefetch(T + (int64_t)ids[r + 6] * d + k);
                __builtin_prefetch(g + (int64_t)ids[r + 6] * d + k, 1);
            }
        const REAL *x = T + (int64_t)ids[r] * d;
        REAL *gx = g + (int64_t)ids[r] * d;
        for (int32_t k = 0; k < d; k++) gx[k] += cr * x[k];
    }
}

double NB_CAT(reg_loss_grad, SUF)(int form, double weight, int32_t B, int32_t d,
                                  const int32_t *users, const int32_t *pos,
                                  const int32_t *reg_items, int32_t R,
                                  const REAL *reg_vec, const REAL *Uego,
                                  const REAL *Iego, REAL *gU, REAL *gI,
                                  REAL *g_reg_vec, double *raw)
{
    double su = NB_CAT(gathered_sq, SUF)(Uego, users, B, d);
    double sp = NB_CAT(gathered_sq, SUF)(Iego, pos, B, d);
    double sn = 0.0;
    int64_t nn = reg_vec ? (int64_t)B : (int64_t)B * R;
    if (reg_vec) {
        for (int64_t i = 0; i < (int64_t)B * d; i++) sn += (double)(reg_vec[i] * reg_vec[i]);
    } else {
        sn = NB_CAT(gathered_sq, SUF)(Iego, reg_items, nn, d);
    }
    double r, cu, cp, cn;
    if (form == 1) { /* squared: (su + sp + sn) / 2B, gradient x / B */
        r = (su + sp + sn) / (2.0 * B);
        cu = cp = cn = weight / (double)B;
    } else {         /* norm: (|U| + |P| + |N|) / B, gradient x / (B |X|) */
        double nu = sqrt(su), np = sqrt(sp), nq = sqrt(sn);
        r = (nu + np + nq) / (double)B;
        cu = nu > 0 ? weight / (B * nu) : 0.0;
        cp = np > 0 ? weight / (B * np) : 0.0;
        cn = nq > 0 ? weight / (B * nq) : 0.0;
    }
    if (raw) *raw = r;
    if (gU) NB_CAT(gathered_axpy, SUF)(gU, Uego, users, B, d, cu);
    if (gI) NB_CAT(gathered_axpy, SUF)(gI, Iego, pos, B, d, cp);
    if (reg_vec) {
        if (g_reg_vec)
            for (int64_t i = 0; i < (int64_t)B * d; i++)
                g_reg_vec[i] += (REAL)cn * reg_vec[i];
    } else if (gI && nn > 0) {
        NB_CAT(gathered_axpy, SUF)(gI, Iego, reg_items, nn, d, cn);
    }
    return weight * r;
}

#undef NB_CAT
#undef NB_CAT_
