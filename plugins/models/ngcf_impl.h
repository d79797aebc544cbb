/*
 * ngcf_impl.h - NGCF forward and backward (Wang et al., SIGIR 2019; RecBole
 * v1.1.1 ngcf.py + layers.py BiGNNLayer, see
 * ../shared/specs/backbones-and-eval.md 2.3), written once and instantiated
 * per precision: define SUF, REAL and NGCF_GEMM (a function
 *   void NGCF_GEMM(const void *ctx, int trans_b, int64_t m, int64_t n, int64_t k,
 *                  const REAL *a, const REAL *b, REAL beta, REAL *c)
 * computing C[m][n] = A[m][k] op(B) + beta C, op(B) = B^T ([n][k]) when
 * trans_b, else B ([k][n])), then include this file after negbench/graph.h.
 *
 * Layer k (all widths d), Linear(x) = x W^T + b with W stored [out][in]:
 *   S = Ahat X;  Z = (X + S) W1^T + b1 + (S . X) W2^T + b2
 *   H = LeakyReLU(Z, 0.2);  D = H . mask / (1 - p)  (message dropout, train)
 *   X' = D / max(|D_row|, 1e-12)
 * Output: the concatenation [X^0, ..., X^L] ([N][(L+1) d]), which is both
 * the scoring rows and the per-layer stack.
 * Backward per layer, Gamma = dL/dX' (spec 2.3):
 *   dD = (Gamma - y (y . Gamma)) / |D| (Gamma / 1e-12 when |D| < 1e-12)
 *   dH = dD . mask / (1 - p);  P = dZ = dH . (Z > 0 ? 1 : 0.2)
 *   dW1 += P^T (X + S);  dW2 += P^T (S . X);  db1 = db2 += sum_rows P
 *   Q = P W2, R = P W1;  dX = R + Q . S + Ahat^T (R + Q . X) (+ direct slice)
 * Ahat^T matters when node (entry) dropout made Ahat non-symmetric.
 */
#define NGCF_CAT_(a, b) a##_##b
#define NGCF_CAT(a, b) NGCF_CAT_(a, b)
#define NGCF_WS NGCF_CAT(ngcf_ws, SUF)
#define NGCF_SPMM NGCF_CAT(graph_spmm, SUF)
#define NGCF_SPMM_EX NGCF_CAT(graph_spmm_ex, SUF)

/* Activations kept for backward and scratch; every array is owned by the
 * caller (sizes in the comments, N nodes, width d, L layers). */
typedef struct NGCF_WS {
    int64_t N;
    int32_t d, L;
    REAL *X;     /* [N][L+1][d] layer stack = concatenated output */
    REAL *S;     /* [L][N][d] Ahat X^k */
    REAL *Z;     /* [L][N][d] pre-activation */
    REAL *nrm;   /* [L][N] |D_row| */
    REAL *A1;    /* [N][d] scratch: X + S, later R + Q.X */
    REAL *A2;    /* [N][d] scratch: S . X */
    REAL *T;     /* [N][d] scratch */
    REAL *P;     /* [N][d] dZ */
    REAL *Pt;    /* [d][N] P transposed */
    REAL *Q;     /* [N][d] */
    REAL *R;     /* [N][d] */
    REAL *G0, *G1; /* [N][d] Gamma buffers; G0 holds X^k contiguously in forward */
} NGCF_WS;

/* Forward. val: Ahat values used (nullable: the stored ones). W1/W2 [L][d][d],
 * b1/b2 [L][d]. mask [L][N][d] 0/1 (nullable: no message dropout), p its
 * rate. E0 [N][d]. */
static void NGCF_CAT(ngcf_forward, SUF)(const void *ctx, NGCF_WS *w, const nb_graph *g,
                                        const REAL *val, const REAL *W1, const REAL *b1,
                                        const REAL *W2, const REAL *b2, const uint8_t *mask,
                                        double p, const REAL *E0)
{
    int64_t N = w->N;
    int32_t d = w->d, L = w->L;
    int64_t ld = (int64_t)(L + 1) * d, nd = N * d;
    REAL scale = mask ? (REAL)(1.0 / (1.0 - p)) : (REAL)1;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N; r++) memcpy(w->X + r * ld, E0 + r * d, (size_t)d * sizeof(REAL));
    for (int32_t k = 0; k < L; k++) {
        REAL *Xk = w->X + (int64_t)k * d, *S = w->S + k * nd, *Z = w->Z + k * nd;
        REAL *nrm = w->nrm + k * N;
        const uint8_t *mk = mask ? mask + k * nd : NULL;
        const REAL *w1 = W1 + (int64_t)k * d * d, *w2 = W2 + (int64_t)k * d * d;
        const REAL *c1 = b1 + (int64_t)k * d, *c2 = b2 + (int64_t)k * d;
        /* gather from a contiguous copy of X^k: E0, then G0 (written below) */
        NGCF_SPMM(g, val, k == 0 ? E0 : w->G0, d, NULL, 0, S, d, d);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < N; r++)
            for (int32_t j = 0; j < d; j++) {
                REAL x = Xk[r * ld + j], s = S[r * d + j];
                w->A1[r * d + j] = x + s;
                w->A2[r * d + j] = s * x;
            }
        NGCF_GEMM(ctx, 1, N, d, d, w->A1, w1, 0, Z);
        NGCF_GEMM(ctx, 1, N, d, d, w->A2, w2, 0, w->T);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < N; r++) {
            REAL *z = Z + r * d, *t = w->T + r * d, *y = w->X + r * ld + (int64_t)(k + 1) * d;
            /* separate passes over the row (the same operations per element
             * as one fused loop, so the same bits); the norm's double sum
             * stays in order. The selects vectorise only with
             * -fno-trapping-math; measured gain without it is within noise. */
            for (int32_t j = 0; j < d; j++) {
                REAL v = (z[j] + c1[j]) + (t[j] + c2[j]), lo = (REAL)0.2 * v;
                z[j] = v;
                y[j] = v > 0 ? v : lo;
            }
            if (mk)
                for (int32_t j = 0; j < d; j++) {
                    REAL v = y[j] * scale;
                    y[j] = mk[r * d + j] ? v : (REAL)0;
                }
            double ss = 0;
            for (int32_t j = 0; j < d; j++) ss += (double)y[j] * y[j];
            REAL n = (REAL)sqrt(ss);
            nrm[r] = n;
            REAL den = n > (REAL)1e-12 ? n : (REAL)1e-12;
            REAL *yc = w->G0 + r * d;
            for (int32_t j = 0; j < d; j++) yc[j] = y[j] /= den;
        }
    }
}

/* Add the direct gradient of layer k's slice at row r (Gf, Gl: [N][(L+1)d],
 * nullable) into h [d]. */
static inline void NGCF_CAT(ngcf_add_direct, SUF)(REAL *h, int64_t r, int32_t k, int64_t ld,
                                                  int32_t d, const REAL *Gf, const REAL *Gl)
{
    if (Gf) for (int32_t j = 0; j < d; j++) h[j] += Gf[r * ld + (int64_t)k * d + j];
    if (Gl) for (int32_t j = 0; j < d; j++) h[j] += Gl[r * ld + (int64_t)k * d + j];
}

/* Row r of the input-gradient terms A1 = R + Q . X^k and Gn = R + Q . S
 * from row c of Q and R (c = r, or r's packed row). */
static inline void NGCF_CAT(ngcf_input_row, SUF)(NGCF_WS *w, int64_t c, int64_t r, int64_t ld,
                                                 const REAL *Xk, const REAL *S, REAL *Gn)
{
    int32_t d = w->d;
    const REAL *q = w->Q + c * d, *rr = w->R + c * d, *x = Xk + r * ld, *s = S + r * d;
    REAL *a = w->A1 + r * d, *gn = Gn + r * d;
    for (int32_t j = 0; j < d; j++) {
        a[j] = rr[j] + q[j] * x[j];
        gn[j] = rr[j] + q[j] * s[j];
    }
}

/* Backward after ngcf_forward with the same val/mask. valT: values of
 * Ahat^T on the same structure (nullable: symmetric, stored values).
 * Gf/Gl [N][(L+1)d] (nullable) are nonzero only on rows[] (NULL: all);
 * rowmark [N] (nullable, needs rows; rows[] distinct) is 1 exactly on
 * rows[]: the top layer's dZ then lives on those rows only, and its weight
 * and input-gradient GEMMs and Ahat^T product run over them alone (zero
 * terms dropped: the same bits with an in-order GEMM, float rounding with
 * a blocked BLAS).
 * Accumulates (+=) into dE0 [N][d], dW1/dW2 [L][d][d], db1/db2 [L][d]. */
static void NGCF_CAT(ngcf_backward, SUF)(const void *ctx, NGCF_WS *w, const nb_graph *g,
                                         const REAL *valT, const REAL *W1, const REAL *W2,
                                         const uint8_t *mask, double p, const REAL *Gf,
                                         const REAL *Gl, const int32_t *rows, int64_t n_rows,
                                         const uint8_t *rowmark, REAL *dE0, REAL *dW1, REAL *db1, REAL *dW2, REAL *db2)
{
    int64_t N = w->N;
    int32_t d = w->d, L = w->L;
    int64_t ld = (int64_t)(L + 1) * d, nd = N * d, nr = rows ? n_rows : N;
    REAL scale = mask ? (REAL)(1.0 / (1.0 - p)) : (REAL)1;
    REAL *G = w->G0, *Gn = w->G1;
    memset(G, 0, (size_t)nd * sizeof(REAL));
    for (int64_t q = 0; q < nr; q++) {
        int64_t r = rows ? rows[q] : q;
        NGCF_CAT(ngcf_add_direct, SUF)(G + r * d, r, L, ld, d, Gf, Gl);
    }
    for (int32_t k = L - 1; k >= 0; k--) {
        const REAL *Xk = w->X + (int64_t)k * d, *Y = w->X + (int64_t)(k + 1) * d;
        const REAL *S = w->S + k * nd, *Z = w->Z + k * nd, *nrm = w->nrm + k * N;
        const uint8_t *mk = mask ? mask + k * nd : NULL;
        /* top layer with a row mask: G, hence P = dZ, is exactly +0 off
         * rows[], so P, X + S and S . X are packed to those m rows in
         * ascending order and every product below runs over them only
         * (zero terms dropped; the same bits with an in-order GEMM) */
        int sp = k == L - 1 && rows && rowmark;
        int64_t m = sp ? n_rows : N;
        /* through the row normalisation, dropout and LeakyReLU */
#pragma omp parallel for schedule(static)
        for (int64_t q = 0; q < m; q++) {
            int64_t r = sp ? rows[q] : q;
            const REAL *y = Y + r * ld, *gm = G + r * d;
            REAL *pr = w->P + r * d;
            if (nrm[r] >= (REAL)1e-12) {
                REAL dot = 0;
                for (int32_t j = 0; j < d; j++) dot += y[j] * gm[j];
                for (int32_t j = 0; j < d; j++) pr[j] = (gm[j] - y[j] * dot) / nrm[r];
            } else {
                for (int32_t j = 0; j < d; j++) pr[j] = gm[j] / (REAL)1e-12;
            }
            /* separate passes, the same operations per element as a
             * fused loop (see the forward's note) */
            if (mk)
                for (int32_t j = 0; j < d; j++) {
                    REAL v = pr[j] * scale;
                    pr[j] = mk[r * d + j] ? v : (REAL)0;
                }
            const REAL *zr = Z + r * d;
            for (int32_t j = 0; j < d; j++) {
                REAL v = pr[j], lo = v * (REAL)0.2;
                pr[j] = zr[j] > 0 ? v : lo;
            }
            REAL *a1 = w->A1 + r * d, *a2 = w->A2 + r * d;
            const REAL *xr = Xk + r * ld, *sr = S + r * d;
            for (int32_t j = 0; j < d; j++) {
                a1[j] = xr[j] + sr[j];
                a2[j] = sr[j] * xr[j];
            }
        }
        if (sp) /* pack in place, ascending: a row only moves down */
            for (int64_t r = 0, q = 0; r < N; r++) {
                if (!rowmark[r]) continue;
                if (q != r) {
                    size_t b = (size_t)d * sizeof(REAL);
                    memcpy(w->P + q * d, w->P + r * d, b);
                    memcpy(w->A1 + q * d, w->A1 + r * d, b);
                    memcpy(w->A2 + q * d, w->A2 + r * d, b);
                }
                q++;
            }
        /* parameter gradients. P^T and the column sums in chunks of 64 bytes
         * of columns: each chunk reads its cache line of every P row once
         * (a column at a time re-read each line 16 times); every sum still
         * runs over r ascending in double. */
        const int32_t cw = (int32_t)(64 / sizeof(REAL)), nch = (d + cw - 1) / cw;
#pragma omp parallel for schedule(static)
        for (int32_t c = 0; c < nch; c++) {
            int32_t j0 = c * cw, j1 = j0 + cw < d ? j0 + cw : d;
            double s[64 / sizeof(REAL)] = {0};
            for (int64_t r = 0; r < m; r++)
                for (int32_t j = j0; j < j1; j++) {
                    REAL v = w->P[r * d + j];
                    w->Pt[(int64_t)j * m + r] = v;
                    s[j - j0] += (double)v;
                }
            for (int32_t j = j0; j < j1; j++) {
                db1[(int64_t)k * d + j] += (REAL)s[j - j0];
                db2[(int64_t)k * d + j] += (REAL)s[j - j0];
            }
        }
        if (m > 0) {
            NGCF_GEMM(ctx, 0, d, d, m, w->Pt, w->A1, 1, dW1 + (int64_t)k * d * d);
            NGCF_GEMM(ctx, 0, d, d, m, w->Pt, w->A2, 1, dW2 + (int64_t)k * d * d);
            /* input gradient */
            NGCF_GEMM(ctx, 0, m, d, d, w->P, W2 + (int64_t)k * d * d, 0, w->Q);
            NGCF_GEMM(ctx, 0, m, d, d, w->P, W1 + (int64_t)k * d * d, 0, w->R);
        }
        if (sp) { /* +0 off rows[], as R + Q . X of a zero P row */
            memset(w->A1, 0, (size_t)nd * sizeof(REAL));
            memset(Gn, 0, (size_t)nd * sizeof(REAL));
        }
        if (sp) /* packed row q belongs to the q-th marked node */
            for (int64_t r = 0, q = 0; r < N; r++) {
                if (!rowmark[r]) continue;
                NGCF_CAT(ngcf_input_row, SUF)(w, q, r, ld, Xk, S, Gn);
                q++;
            }
        else
#pragma omp parallel for schedule(static)
            for (int64_t r = 0; r < N; r++) NGCF_CAT(ngcf_input_row, SUF)(w, r, r, ld, Xk, S, Gn);
        NGCF_SPMM_EX(g, valT, k == L - 1 && rows ? rowmark : NULL, w->A1, d, Gn, d, Gn, d,
                     NULL, 0, d);
        for (int64_t q = 0; q < nr; q++) {
            int64_t r = rows ? rows[q] : q;
            NGCF_CAT(ngcf_add_direct, SUF)(Gn + r * d, r, k, ld, d, Gf, Gl);
        }
        REAL *t = G; G = Gn; Gn = t;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nd; i++) dE0[i] += G[i];
}

#undef NGCF_SPMM
#undef NGCF_SPMM_EX
#undef NGCF_WS
#undef NGCF_CAT
#undef NGCF_CAT_
