/*
 * ngcf_impl.h - NGCF forward and backward (Wang et al., SIGIR 2019; RecBole
 * v1.1.1 ngcf.py + layers.py BiGNNLayer, see
 * docs/methods/ngcf.md), written once and instantiated
 * per precision: define SUF, REAL and NGCF_GEMM (a function
 *   void NGCF_GEMM(const void *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
 *                  int64_t k, const REAL *a, int64_t lda, const REAL *b, int64_t ldb,
 *                  REAL beta, REAL *c, int64_t ldc)
 * computing C = op(A) op(B) + beta C, row-major with row strides lda, ldb,
 * ldc: op(A) = A^T (A stored [k][lda]) when trans_a, else A ([m][lda]);
 * op(B) = B^T ([n][ldb]) when trans_b, else B ([k][ldb])), then include
 * this file after negbench/graph.h.
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
 *
 * Layout for speed: the two linear maps share one GEMM per direction with
 * Wc = [W1 | W2] ([d][2d]) and A = [X + S | S . X] ([N][2d]):
 *   Z = A Wc^T;  [dW1 | dW2] = P^T A;  [R | Q] = P Wc
 * (transposes and strides through NGCF_GEMM, nothing transposed by hand).
 * The per-row passes are OpenMP loops over rows with branch-free inner
 * loops; the row norms and dots sum in double over 8 fixed lanes (the same
 * bits for any thread count, not the bits of a serial loop).
 */
#define NGCF_CAT_(a, b) a##_##b
#define NGCF_CAT(a, b) NGCF_CAT_(a, b)
#define NGCF_WS NGCF_CAT(ngcf_ws, SUF)
#define NGCF_SPMM NGCF_CAT(graph_spmm, SUF)
#define NGCF_SPMM_EX NGCF_CAT(graph_spmm_ex, SUF)

#ifndef NGCF_DB_ROWS
#define NGCF_DB_ROWS 256 /* rows per partial bias sum (fixed: thread-count independent) */
#endif

/* Activations kept for backward and scratch, carved by ngcf_ws_bind from
 * one caller-owned block of ngcf_ws_bytes (N nodes, width d, L layers). */
typedef struct NGCF_WS {
    int64_t N;
    int32_t d, L;
    REAL *X;       /* [N][L+1][d] layer stack = concatenated output */
    REAL *S;       /* [L][N][d] Ahat X^k */
    REAL *Z;       /* [L][N][d] pre-activation */
    REAL *nrm;     /* [L][N] |D_row| */
    REAL *A;       /* [N][2d] [X + S | S . X] (backward: packed rows) */
    REAL *P;       /* [N][d] dZ (packed rows), then the SpMM input R + Q . X */
    REAL *RQ;      /* [N][2d] [R | Q] = P [W1 | W2] (packed rows) */
    REAL *G0, *G1; /* [N][d] Gamma buffers; G0 holds X^k contiguously in forward */
    REAL *Wc;      /* [d][2d] [W1 | W2] of one layer */
    REAL *dWc;     /* [d][2d] [dW1 | dW2] of one layer */
    double *dbp;   /* [ceil(N / NGCF_DB_ROWS)][d] partial bias sums */
    int32_t *srt;  /* [N] the marked rows, ascending */
} NGCF_WS;

/* Point w's arrays into base (the block of ngcf_ws_bytes(N, d, L) bytes,
 * 64-byte aligned, owned by the caller; NULL: only measure, pointers NULL)
 * and return the bytes used (every array rounded up to 64 bytes). */
static size_t NGCF_CAT(ngcf_ws_bind, SUF)(NGCF_WS *w, int64_t N, int32_t d, int32_t L, void *base)
{
    size_t nd = (size_t)N * (size_t)d, r = sizeof(REAL), dd = (size_t)d * (size_t)d;
    size_t nb = (size_t)(N + NGCF_DB_ROWS - 1) / NGCF_DB_ROWS, off = 0;
#define NGCF_TAKE(field, bytes)                                    \
    do {                                                           \
        w->field = base ? (void *)((char *)base + off) : NULL;     \
        off += ((bytes) + 63) & ~(size_t)63;                       \
    } while (0)
    w->N = N; w->d = d; w->L = L;
    NGCF_TAKE(X, nd * (size_t)(L + 1) * r);
    NGCF_TAKE(S, nd * (size_t)L * r);
    NGCF_TAKE(Z, nd * (size_t)L * r);
    NGCF_TAKE(nrm, (size_t)N * (size_t)L * r);
    NGCF_TAKE(A, 2 * nd * r);
    NGCF_TAKE(P, nd * r);
    NGCF_TAKE(RQ, 2 * nd * r);
    NGCF_TAKE(G0, nd * r);
    NGCF_TAKE(G1, nd * r);
    NGCF_TAKE(Wc, 2 * dd * r);
    NGCF_TAKE(dWc, 2 * dd * r);
    NGCF_TAKE(dbp, nb * (size_t)d * sizeof(double));
    NGCF_TAKE(srt, (size_t)N * sizeof(int32_t));
#undef NGCF_TAKE
    return off;
}

/* Bytes of the workspace block for N nodes, width d, L layers. */
static size_t NGCF_CAT(ngcf_ws_bytes, SUF)(int64_t N, int32_t d, int32_t L)
{
    NGCF_WS w;
    return NGCF_CAT(ngcf_ws_bind, SUF)(&w, N, d, L, NULL);
}

/* Wc = [W1_k | W2_k] ([d][2d]) from W1_k, W2_k [d][d]. */
static void NGCF_CAT(ngcf_concat_w, SUF)(REAL *Wc, const REAL *w1, const REAL *w2, int32_t d)
{
    for (int32_t o = 0; o < d; o++) {
        memcpy(Wc + (int64_t)o * 2 * d, w1 + (int64_t)o * d, (size_t)d * sizeof(REAL));
        memcpy(Wc + (int64_t)o * 2 * d + d, w2 + (int64_t)o * d, (size_t)d * sizeof(REAL));
    }
}

/* a [2d] = [x + s | s . x] for one row. */
static inline void NGCF_CAT(ngcf_bi_row, SUF)(REAL *restrict a, const REAL *restrict x,
                                              const REAL *restrict s, int32_t d)
{
#pragma omp simd
    for (int32_t j = 0; j < d; j++) {
        a[j] = x[j] + s[j];
        a[d + j] = s[j] * x[j];
    }
}

/* c ? a : b on the bits, for c in {0, 1}: integer masks, so the selects
 * below compile without branches (GCC keeps a float select as a branch,
 * and a branch on the sign or a dropout bit mispredicts half the time). */
static inline REAL NGCF_CAT(ngcf_sel, SUF)(int c, REAL a, REAL b)
{
    if (sizeof(REAL) == sizeof(uint32_t)) {
        uint32_t x, y, m = 0u - (uint32_t)c;
        memcpy(&x, &a, sizeof x);
        memcpy(&y, &b, sizeof y);
        x = (x & m) | (y & ~m);
        memcpy(&a, &x, sizeof x);
        return a;
    }
    uint64_t x, y, m = 0u - (uint64_t)c;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    x = (x & m) | (y & ~m);
    memcpy(&a, &x, sizeof x);
    return a;
}

/* 1 when v > 0 (and for a NaN of positive sign), from the bits. */
static inline int NGCF_CAT(ngcf_pos, SUF)(REAL v)
{
    if (sizeof(REAL) == sizeof(int32_t)) {
        int32_t b;
        memcpy(&b, &v, sizeof b);
        return b > 0;
    }
    int64_t b;
    memcpy(&b, &v, sizeof b);
    return b > 0;
}

/* sum_j a[j] b[j] over d entries in double, in 8 interleaved lanes (fixed
 * order, independent of threads). */
static inline double NGCF_CAT(ngcf_dot, SUF)(const REAL *restrict a, const REAL *restrict b,
                                             int32_t d)
{
    double acc[8] = {0};
    int32_t j = 0;
    for (; j + 8 <= d; j += 8)
        for (int t = 0; t < 8; t++) acc[t] += (double)a[j + t] * (double)b[j + t];
    for (int t = 0; j < d; j++, t++) acc[t] += (double)a[j] * (double)b[j];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* y [d] = y * mask / (1 - p) (scale), 0 where the mask is 0. */
static inline void NGCF_CAT(ngcf_drop_row, SUF)(REAL *restrict y, const uint8_t *restrict mk,
                                                REAL scale, int32_t d)
{
    for (int32_t j = 0; j < d; j++) {
        REAL v = y[j] * scale;
        y[j] = NGCF_CAT(ngcf_sel, SUF)(mk[j] != 0, v, (REAL)0);
    }
}

/* One row of the layer output: z += c1 + c2 (kept), y = LeakyReLU(z)
 * (. mask / (1 - p), mk nullable) normalised to unit length, also copied
 * to yc. Returns the norm before normalisation (summed in double). */
static inline REAL NGCF_CAT(ngcf_act_row, SUF)(REAL *restrict z, REAL *restrict y,
                                               REAL *restrict yc, const REAL *restrict c1,
                                               const REAL *restrict c2,
                                               const uint8_t *restrict mk, REAL scale,
                                               int32_t d)
{
    for (int32_t j = 0; j < d; j++) {
        REAL v = z[j] + (c1[j] + c2[j]), lo = (REAL)0.2 * v;
        z[j] = v;
        y[j] = NGCF_CAT(ngcf_sel, SUF)(NGCF_CAT(ngcf_pos, SUF)(v), v, lo);
    }
    if (mk) NGCF_CAT(ngcf_drop_row, SUF)(y, mk, scale, d);
    REAL n = (REAL)sqrt(NGCF_CAT(ngcf_dot, SUF)(y, y, d));
    REAL den = n > (REAL)1e-12 ? n : (REAL)1e-12;
    for (int32_t j = 0; j < d; j++) yc[j] = y[j] = y[j] / den;
    return n;
}

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
    int64_t ld = (int64_t)(L + 1) * d, nd = N * d, d2 = 2 * (int64_t)d;
    REAL scale = mask ? (REAL)(1.0 / (1.0 - p)) : (REAL)1;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N; r++) memcpy(w->X + r * ld, E0 + r * d, (size_t)d * sizeof(REAL));
    for (int32_t k = 0; k < L; k++) {
        /* X^k contiguously: E0, then G0 (written by the previous layer) */
        const REAL *Xc = k == 0 ? E0 : w->G0;
        REAL *S = w->S + k * nd, *Z = w->Z + k * nd, *nrm = w->nrm + k * N;
        const uint8_t *mk = mask ? mask + k * nd : NULL;
        const REAL *c1 = b1 + (int64_t)k * d, *c2 = b2 + (int64_t)k * d;
        NGCF_SPMM(g, val, Xc, d, NULL, 0, S, d, d);
        NGCF_CAT(ngcf_concat_w, SUF)(w->Wc, W1 + (int64_t)k * d * d, W2 + (int64_t)k * d * d, d);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < N; r++)
            NGCF_CAT(ngcf_bi_row, SUF)(w->A + r * d2, Xc + r * d, S + r * d, d);
        NGCF_GEMM(ctx, 0, 1, N, d, d2, w->A, d2, w->Wc, d2, 0, Z, d);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < N; r++)
            nrm[r] = NGCF_CAT(ngcf_act_row, SUF)(Z + r * d, w->X + r * ld + (int64_t)(k + 1) * d,
                                                 w->G0 + r * d, c1, c2, mk ? mk + r * d : NULL,
                                                 scale, d);
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

/* One row of dZ: pr [d] = Gamma gm through the row normalisation (y, n),
 * the dropout mask (mk, nullable) and the LeakyReLU (z); a [2d] = [x + s |
 * s . x] for the weight gradients. */
static inline void NGCF_CAT(ngcf_dz_row, SUF)(REAL *restrict pr, REAL *restrict a,
                                              const REAL *restrict y, const REAL *restrict gm,
                                              REAL n, const uint8_t *restrict mk, REAL scale,
                                              const REAL *restrict z, const REAL *restrict x,
                                              const REAL *restrict s, int32_t d)
{
    if (n >= (REAL)1e-12) {
        REAL dot = (REAL)NGCF_CAT(ngcf_dot, SUF)(y, gm, d);
        for (int32_t j = 0; j < d; j++) pr[j] = (gm[j] - y[j] * dot) / n;
    } else {
        for (int32_t j = 0; j < d; j++) pr[j] = gm[j] / (REAL)1e-12;
    }
    if (mk) NGCF_CAT(ngcf_drop_row, SUF)(pr, mk, scale, d);
    for (int32_t j = 0; j < d; j++) {
        REAL v = pr[j], lo = v * (REAL)0.2;
        pr[j] = NGCF_CAT(ngcf_sel, SUF)(NGCF_CAT(ngcf_pos, SUF)(z[j]), v, lo);
    }
    NGCF_CAT(ngcf_bi_row, SUF)(a, x, s, d);
}

/* acc [d] += (double) pr [d]. */
static inline void NGCF_CAT(ngcf_colsum_row, SUF)(double *restrict acc, const REAL *restrict pr,
                                                  int32_t d)
{
#pragma omp simd
    for (int32_t j = 0; j < d; j++) acc[j] += (double)pr[j];
}

/* Backward after ngcf_forward with the same val/mask. valT: values of
 * Ahat^T on the same structure (nullable: symmetric, stored values).
 * Gf/Gl [N][(L+1)d] (nullable) are nonzero only on rows[] (NULL: all;
 * rows[] distinct); rowmark [N] (nullable, needs rows) is 1 exactly on
 * rows[]: the top layer's dZ then lives on those rows only, and its weight
 * and input-gradient GEMMs and Ahat^T product run over them alone, packed
 * in ascending order (zero terms dropped: the same bits with an in-order
 * GEMM, float rounding with a blocked BLAS). The bias sums run in double
 * over fixed blocks of NGCF_DB_ROWS rows, also the same bits either way.
 * Accumulates (+=) into dE0 [N][d], dW1/dW2 [L][d][d], db1/db2 [L][d].
 * Long on purpose (about 100 lines): the layers in reverse with their
 * shared packed-row bookkeeping; it is instantiated in float and in double
 * (the double one is the reference the fused float path is checked
 * against), and the two must stay the same statement for statement. */
static void NGCF_CAT(ngcf_backward, SUF)(const void *ctx, NGCF_WS *w, const nb_graph *g,
                                         const REAL *valT, const REAL *W1, const REAL *W2,
                                         const uint8_t *mask, double p, const REAL *Gf,
                                         const REAL *Gl, const int32_t *rows, int64_t n_rows,
                                         const uint8_t *rowmark, REAL *dE0, REAL *dW1,
                                         REAL *db1, REAL *dW2, REAL *db2)
{
    int64_t N = w->N;
    int32_t d = w->d, L = w->L;
    int64_t ld = (int64_t)(L + 1) * d, nd = N * d, nr = rows ? n_rows : N, d2 = 2 * (int64_t)d;
    int64_t nblk = (N + NGCF_DB_ROWS - 1) / NGCF_DB_ROWS;
    REAL scale = mask ? (REAL)(1.0 / (1.0 - p)) : (REAL)1;
    REAL *G = w->G0, *Gn = w->G1;
    int packed = rows && rowmark;
    /* Gamma of the top layer: the direct gradients (only rows[] when packed:
     * nothing else of G is read) */
    if (packed) {
        int64_t m = 0;
        for (int64_t r = 0; r < N; r++)
            if (rowmark[r]) w->srt[m++] = (int32_t)r;
        n_rows = m;
    } else if (rows) {
        memset(G, 0, (size_t)nd * sizeof(REAL));
    }
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < nr; q++) {
        int64_t r = rows ? rows[q] : q;
        memset(G + r * d, 0, (size_t)d * sizeof(REAL));
        NGCF_CAT(ngcf_add_direct, SUF)(G + r * d, r, L, ld, d, Gf, Gl);
    }
    for (int32_t k = L - 1; k >= 0; k--) {
        const REAL *Xk = w->X + (int64_t)k * d, *Y = w->X + (int64_t)(k + 1) * d;
        const REAL *S = w->S + k * nd, *Z = w->Z + k * nd, *nrm = w->nrm + k * N;
        const uint8_t *mk = mask ? mask + k * nd : NULL;
        /* top layer with a row mask: G, hence P = dZ, is exactly +0 off
         * rows[], so P and A hold those m rows packed (row q <-> srt[q]) */
        int sp = k == L - 1 && packed;
        int64_t m = sp ? n_rows : N;
        NGCF_CAT(ngcf_concat_w, SUF)(w->Wc, W1 + (int64_t)k * d * d, W2 + (int64_t)k * d * d, d);
        memset(w->dbp, 0, (size_t)(nblk * d) * sizeof(double));
        /* through the row normalisation, dropout and LeakyReLU; bias sums
         * per block of rows (in the loop when unpacked, rows = blocks) */
        int64_t nqb = (m + NGCF_DB_ROWS - 1) / NGCF_DB_ROWS;
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < nqb; b++) {
            int64_t q1 = (b + 1) * NGCF_DB_ROWS < m ? (b + 1) * NGCF_DB_ROWS : m;
            for (int64_t q = b * NGCF_DB_ROWS; q < q1; q++) {
                int64_t r = sp ? w->srt[q] : q;
                REAL *pr = w->P + q * d;
                NGCF_CAT(ngcf_dz_row, SUF)(pr, w->A + q * d2, Y + r * ld, G + r * d, nrm[r],
                                           mk ? mk + r * d : NULL, scale, Z + r * d,
                                           Xk + r * ld, S + r * d, d);
                if (!sp) NGCF_CAT(ngcf_colsum_row, SUF)(w->dbp + b * d, pr, d);
            }
        }
        if (sp)
            for (int64_t q = 0; q < m; q++)
                NGCF_CAT(ngcf_colsum_row, SUF)(w->dbp + (w->srt[q] / NGCF_DB_ROWS) * d,
                                               w->P + q * d, d);
        for (int32_t j = 0; j < d; j++) {
            double s = 0;
            for (int64_t b = 0; b < nblk; b++) s += w->dbp[b * d + j];
            db1[(int64_t)k * d + j] += (REAL)s;
            db2[(int64_t)k * d + j] += (REAL)s;
        }
        if (m > 0) {
            /* [dW1 | dW2] = P^T A; [R | Q] = P [W1 | W2] */
            NGCF_GEMM(ctx, 1, 0, d, d2, m, w->P, d, w->A, d2, 0, w->dWc, d2);
            for (int64_t o = 0; o < d; o++)
                for (int64_t i = 0; i < d; i++) {
                    dW1[(int64_t)k * d * d + o * d + i] += w->dWc[o * d2 + i];
                    dW2[(int64_t)k * d * d + o * d + i] += w->dWc[o * d2 + d + i];
                }
            NGCF_GEMM(ctx, 0, 0, m, d2, d, w->P, d, w->Wc, d2, 0, w->RQ, d2);
        }
        /* input gradient: P (dead) row r = R + Q . X^k (the SpMM input),
         * Gn row r = R + Q . S (+0 off rows[] when packed) */
        if (sp) memset(Gn, 0, (size_t)nd * sizeof(REAL));
#pragma omp parallel for schedule(static)
        for (int64_t q = 0; q < m; q++) {
            int64_t r = sp ? w->srt[q] : q;
            const REAL *rr = w->RQ + q * d2, *qq = rr + d, *x = Xk + r * ld, *s = S + r * d;
            REAL *a = w->P + r * d, *gn = Gn + r * d;
#pragma omp simd
            for (int32_t j = 0; j < d; j++) {
                a[j] = rr[j] + qq[j] * x[j];
                gn[j] = rr[j] + qq[j] * s[j];
            }
        }
        NGCF_SPMM_EX(g, valT, sp ? rowmark : NULL, w->P, d, Gn, d, Gn, d, NULL, 0, d);
#pragma omp parallel for schedule(static)
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
