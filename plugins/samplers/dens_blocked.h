/*
 * dens_blocked.h - register-blocked kernels for DENS on graph views, d a
 * multiple of 32 (dens_blocked_ok): the gate products of the selection and
 * the transposed products of the gating loss as small matrix products (four
 * rows by 32 outputs in sixteen vector accumulators of eight doubles), and
 * the gate weight gradients G^T X with four gradient rows held in registers
 * while the batch streams past. Included by dens_impl.h once per precision
 * (REAL, SUF); the untemplated part is compiled once.
 *
 * The results are those of the per-pair reference (dens_select_one,
 * dens_aux_graph_one) up to the rounding of double sums taken in another
 * order (the selection criteria and the gates agree to about 1e-16
 * relative); the weight gradients add over the batch in the same order as
 * dens_aux_wgrad's reference loop.
 */
#ifndef DENS_BLOCKED_COMMON
#define DENS_BLOCKED_COMMON

/* Y[r][j] = (acc ? Y[r][j] : 0) + sum_i X[r][i] A[i][j] for r < nr (a
 * multiple of 4) and j < d (a multiple of 32); X, Y [nr][d], A [d][d], all
 * double and row-major. Each output adds its d terms in order of i. */
DENS_V8_INLINE void dens_rows_mul(int32_t nr, int32_t d, const double *X, const double *A,
                                  double *Y, int acc)
{
    for (int32_t r0 = 0; r0 < nr; r0 += 4) {
        const double *x0 = X + (int64_t)r0 * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        double *y0 = Y + (int64_t)r0 * d, *y1 = y0 + d, *y2 = y1 + d, *y3 = y2 + d;
        for (int32_t j0 = 0; j0 < d; j0 += 32) {
            dens_v8d z = {0, 0, 0, 0, 0, 0, 0, 0};
#define DENS_LD(y, v) (acc ? (dens_v8d) * (const dens_v8du *)((y) + j0 + 8 * (v)) : z)
            dens_v8d c00 = DENS_LD(y0, 0), c01 = DENS_LD(y0, 1), c02 = DENS_LD(y0, 2), c03 = DENS_LD(y0, 3);
            dens_v8d c10 = DENS_LD(y1, 0), c11 = DENS_LD(y1, 1), c12 = DENS_LD(y1, 2), c13 = DENS_LD(y1, 3);
            dens_v8d c20 = DENS_LD(y2, 0), c21 = DENS_LD(y2, 1), c22 = DENS_LD(y2, 2), c23 = DENS_LD(y2, 3);
            dens_v8d c30 = DENS_LD(y3, 0), c31 = DENS_LD(y3, 1), c32 = DENS_LD(y3, 2), c33 = DENS_LD(y3, 3);
#undef DENS_LD
            for (int32_t i = 0; i < d; i++) {
                const double *a = A + (int64_t)i * d + j0;
                dens_v8d a0 = *(const dens_v8du *)a, a1 = *(const dens_v8du *)(a + 8);
                dens_v8d a2 = *(const dens_v8du *)(a + 16), a3 = *(const dens_v8du *)(a + 24);
                double s0 = x0[i], s1 = x1[i], s2 = x2[i], s3 = x3[i];
                c00 += s0 * a0; c01 += s0 * a1; c02 += s0 * a2; c03 += s0 * a3;
                c10 += s1 * a0; c11 += s1 * a1; c12 += s1 * a2; c13 += s1 * a3;
                c20 += s2 * a0; c21 += s2 * a1; c22 += s2 * a2; c23 += s2 * a3;
                c30 += s3 * a0; c31 += s3 * a1; c32 += s3 * a2; c33 += s3 * a3;
            }
#define DENS_ST(y, v, c) (*(dens_v8du *)((y) + j0 + 8 * (v)) = (c))
            DENS_ST(y0, 0, c00); DENS_ST(y0, 1, c01); DENS_ST(y0, 2, c02); DENS_ST(y0, 3, c03);
            DENS_ST(y1, 0, c10); DENS_ST(y1, 1, c11); DENS_ST(y1, 2, c12); DENS_ST(y1, 3, c13);
            DENS_ST(y2, 0, c20); DENS_ST(y2, 1, c21); DENS_ST(y2, 2, c22); DENS_ST(y2, 3, c23);
            DENS_ST(y3, 0, c30); DENS_ST(y3, 1, c31); DENS_ST(y3, 2, c32); DENS_ST(y3, 3, c33);
#undef DENS_ST
        }
    }
}

/* The sum of the eight lanes. */
DENS_V8_INLINE double dens_hsum_v8(dens_v8d v)
{
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* Doubles of scratch per thread of dens_select_graph_blk_* (M candidates). */
static inline int64_t dens_select_blk_work_size(int32_t d, int32_t M)
{
    int64_t M4 = ((int64_t)M + 3) / 4 * 4;
    return (6 * 4 + 2 * M4 + 1) * (int64_t)d;
}

#endif /* DENS_BLOCKED_COMMON */

/* eight REAL read or written at any address (converted to and from dens_v8d) */
typedef REAL DENS_CAT(dens_vr8, SUF) __attribute__((vector_size(8 * sizeof(REAL)), aligned(sizeof(REAL))));

/* wt [4][d][d] + [4][d]: the transposed gate matrices (user, item, pos,
 * neg; wt[k][i][j] = W_k[j][i]) and then the four biases, in double. */
static inline void DENS_CAT(dens_gates_double_t, SUF)(int32_t d, const REAL *const *gw, double *wt)
{
    int64_t dd = (int64_t)d * d;
    for (int k = 0; k < 4; k++) {
        for (int32_t j = 0; j < d; j++)
            for (int32_t i = 0; i < d; i++)
                wt[k * dd + (int64_t)i * d + j] = (double)gw[2 * k][(int64_t)j * d + i];
        for (int32_t j = 0; j < d; j++) wt[4 * dd + k * (int64_t)d + j] = (double)gw[2 * k + 1][j];
    }
}

/* Row r of the double buffer X [.][d] = row (REAL) or zeros (row NULL). */
static inline void DENS_CAT(dens_row_double, SUF)(int32_t d, const REAL *row, double *x)
{
    if (row) for (int32_t i = 0; i < d; i++) x[i] = (double)row[i];
    else for (int32_t i = 0; i < d; i++) x[i] = 0.0;
}

/*
 * dens_select_graph_batch with blocked products (dens_blocked_ok(d)): four
 * pairs at a time for the positive side, then each pair's M candidates as
 * one [M][d] x [d][d] product; the gate of each candidate and its criterion
 * run with the outputs j in the lanes. wt is dens_gates_double_t of gw;
 * work is [nt][dens_select_blk_work_size(d, M)]. Same arguments and outputs
 * (scores, chosen, cgp, cpr, cgn) as dens_select_graph_batch.
 * Kept whole (over 80 lines) on purpose: an ISA-cloned kernel whose
 * statement order fixes where the compiler contracts multiply-adds; split
 * into calls it could round differently, and the picks and losses are
 * pinned to the reference implementation bit for bit by the tests.
 */
NB_ISA_CLONES __attribute__((unused)) static int64_t DENS_CAT(dens_select_graph_blk, SUF)(
    int32_t Q, int32_t M, int32_t d, double beta, const double *wt, const REAL *Ul,
    const REAL *Il, const int32_t *uidx, const int32_t *pidx, const int32_t *candl, int nt,
    double *work, double *scores, int32_t *chosen, double *cgp, double *cpr, double *cgn)
{
    int64_t bad = 0, ws = dens_select_blk_work_size(d, M), dd = (int64_t)d * d;
    int32_t G = (Q + 3) / 4, M4 = (M + 3) / 4 * 4, nv = d / 8;
    const double *bu = wt + 4 * dd, *bi = bu + d, *bp = bi + d, *bn = bp + d;
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : bad)
    for (int32_t grp = 0; grp < G; grp++) {
        double *w = work + ws * dens_thread_num();
        int64_t d4 = 4 * (int64_t)d;
        double *XP = w, *XU = XP + d4, *GP = XU + d4, *ZU = GP + d4, *PR = ZU + d4, *C0 = PR + d4;
        double *XN = C0 + d4, *ZN = XN + (int64_t)M4 * d, *GB = ZN + (int64_t)M4 * d;
        int32_t q0 = grp * 4, nq = Q - q0 < 4 ? Q - q0 : 4;
        for (int32_t t = 0; t < 4; t++) {
            DENS_CAT(dens_row_double, SUF)(d, t < nq ? Il + (int64_t)pidx[q0 + t] * d : NULL,
                                           XP + (int64_t)t * d);
            DENS_CAT(dens_row_double, SUF)(d, t < nq ? Ul + (int64_t)uidx[q0 + t] * d : NULL,
                                           XU + (int64_t)t * d);
        }
        /* g_p = sigmoid(W_ig p + W_ug u + b_ig + b_ug), p_r = p g_p */
        dens_rows_mul(4, d, XP, wt + dd, GP, 0);
        dens_rows_mul(4, d, XU, wt, ZU, 0);
        for (int64_t k = 0; k < 4 * (int64_t)nv; k++) {
            int64_t o = 8 * k, jb = o % d;
            dens_v8d a = *(dens_v8du *)(GP + o), b = *(dens_v8du *)(ZU + o);
            dens_v8d g = dens_sigmoid_v8(((a + b) + *(const dens_v8du *)(bi + jb)) +
                                         *(const dens_v8du *)(bu + jb));
            *(dens_v8du *)(GP + o) = g;
            *(dens_v8du *)(PR + o) = *(dens_v8du *)(XP + o) * g;
        }
        /* c0 = W_pg p_r + b_pg + b_ng */
        dens_rows_mul(4, d, PR, wt + 2 * dd, C0, 0);
        for (int64_t k = 0; k < 4 * (int64_t)nv; k++) {
            int64_t o = 8 * k, jb = o % d;
            *(dens_v8du *)(C0 + o) = (*(dens_v8du *)(C0 + o) + *(const dens_v8du *)(bp + jb)) +
                                     *(const dens_v8du *)(bn + jb);
        }
        for (int32_t t = 0; t < nq; t++) {
            int64_t q = q0 + t;
            if (q + 1 < Q) /* the next pair's candidate rows are scattered: fetch them now */
                for (int32_t m = 0; m < M; m++)
                    nb_prefetch_row(Il + (int64_t)candl[(q + 1) * M + m] * d,
                                    (size_t)d * sizeof(REAL));
            for (int32_t m = 0; m < M4; m++)
                DENS_CAT(dens_row_double, SUF)(d, m < M ? Il + (int64_t)candl[q * M + m] * d : NULL,
                                               XN + (int64_t)m * d);
            dens_rows_mul(M4, d, XN, wt + 3 * dd, ZN, 0);
            const double *c0 = C0 + (int64_t)t * d, *u = XU + (int64_t)t * d;
            int32_t best = -1;
            double best_s = 0.0;
            for (int32_t m = 0; m < M; m++) {
                const double *n = XN + (int64_t)m * d, *z = ZN + (int64_t)m * d;
                dens_v8d sc = {0, 0, 0, 0, 0, 0, 0, 0};
                for (int32_t k = 0; k < nv; k++) {
                    dens_v8d nk = *(const dens_v8du *)(n + 8 * k);
                    dens_v8d g = dens_sigmoid_v8(*(const dens_v8du *)(c0 + 8 * k) +
                                                 *(const dens_v8du *)(z + 8 * k));
                    *(dens_v8du *)(GB + 8 * k) = g;
                    sc += *(const dens_v8du *)(u + 8 * k) * ((1.0 - beta) * nk - g * nk);
                }
                double s = dens_hsum_v8(sc);
                scores[q * M + m] = s;
                if (s == s && (best < 0 || s > best_s)) {
                    best = m;
                    best_s = s;
                    for (int32_t j = 0; j < d; j++) cgn[q * d + j] = GB[j];
                }
            }
            chosen[q] = best;
            if (best < 0) bad++;
            for (int32_t j = 0; j < d; j++) {
                cgp[q * d + j] = GP[(int64_t)t * d + j];
                cpr[q * d + j] = PR[(int64_t)t * d + j];
            }
        }
    }
    return bad;
}

/*
 * dens_aux_graph_one with the gates kept by the selection (cgp, cpr, cgn,
 * required) and the transposed products of the nl layers run together
 * (dens_rows_mul; wd is dens_gates_double of gw, [out][in]). Same
 * arguments and outputs; work holds dens_aux_blk_work_size(d, nl) doubles.
 */
DENS_V8_INLINE double DENS_CAT(dens_aux_graph_blk_one, SUF)(
    int32_t d, int32_t nl, double c, double scale, const REAL *const *ur,
    const REAL *const *prw, const REAL *const *nrw, const double *cgp, const double *cpr,
    const double *cgn, const double *wd, double *t, REAL *gu, REAL *gp, REAL *gn, REAL *ga,
    REAL *gc, REAL *pr_out, double *work)
{
    typedef DENS_CAT(dens_vr8, SUF) R8;
    int32_t n4 = (nl + 3) / 4 * 4, nv = d / 8;
    int64_t nd = (int64_t)n4 * d, dd = (int64_t)d * d;
    double *Gu = work, *Gp = Gu + nd, *Gn = Gp + nd, *Gpr = Gn + nd, *Gc = Gpr + nd, *Ga = Gc + nd;
    double *ub = Ga + nd, *Pr = ub + d, *Pir = Pr + d, *Nr = Pir + d, *Nir = Nr + d, *Gub = Nir + d;
#define V(p, k) (*(dens_v8du *)((p) + 8 * (int64_t)(k)))
#define VR(p, k) __builtin_convertvector(*(const R8 *)((p) + 8 * (int64_t)(k)), dens_v8d)
    const dens_v8d zero = {0, 0, 0, 0, 0, 0, 0, 0};
    dens_v8d vspr = zero, vspir = zero, vsnr = zero, vsnir = zero;
    for (int32_t k = 0; k < nv; k++) {
        dens_v8d vu = zero, vpr = zero, vpir = zero, vnr = zero, vnir = zero;
        for (int32_t l = 0; l < nl; l++) {
            int64_t o = (int64_t)l * d;
            dens_v8d pr = V(cpr + o, k), n = VR(nrw[l], k), nr = n * V(cgn + o, k);
            vu += VR(ur[l], k);
            vpr += pr;
            vpir += VR(prw[l], k) - pr;
            vnr += nr;
            vnir += n - nr;
        }
        vu *= c; vpr *= c; vpir *= c; vnr *= c; vnir *= c;
        V(ub, k) = vu; V(Pr, k) = vpr; V(Pir, k) = vpir; V(Nr, k) = vnr; V(Nir, k) = vnir;
        vspr += vu * vpr;
        vspir += vu * vpir;
        vsnr += vu * vnr;
        vsnir += vu * vnir;
    }
    double spr = dens_hsum_v8(vspr), spir = dens_hsum_v8(vspir);
    double snr = dens_hsum_v8(vsnr), snir = dens_hsum_v8(vsnir);
    double dsc[4];
    double tsum = dens_terms_pooled(spr, spir, snr, snir, scale, t, dsc);
    if (scale == 0.0) return tsum;
    double dspr = dsc[0], dspir = dsc[1], dnr = dsc[2], dnir = dsc[3];

    for (int32_t k = 0; k < nv; k++)
        V(Gub, k) = c * (dspr * V(Pr, k) + dspir * V(Pir, k) + dnr * V(Nr, k) + dnir * V(Nir, k));
    for (int64_t i = (int64_t)nl * d; i < nd; i++) Gc[i] = Ga[i] = 0.0; /* padding rows */
    for (int32_t l = 0; l < nl; l++) {
        int64_t o = (int64_t)l * d;
        for (int32_t k = 0; k < nv; k++) {
            dens_v8d cu = c * V(ub, k), g = V(cgn + o, k);
            V(Gu + o, k) = V(Gub, k);
            V(Gp + o, k) = dspir * cu;
            V(Gpr + o, k) = (dspr - dspir) * cu;
            V(Gn + o, k) = (dnr * g + dnir * (1.0 - g)) * cu;
            V(Gc + o, k) = (dnr - dnir) * cu * VR(nrw[l], k) * g * (1.0 - g);
        }
    }
    /* Gn += W_ng^T Gc, Gpr += W_pg^T Gc for every layer at once */
    dens_rows_mul(n4, d, Gc, wd + 3 * dd, Gn, 1);
    dens_rows_mul(n4, d, Gc, wd + 2 * dd, Gpr, 1);
    for (int32_t l = 0; l < nl; l++) {
        int64_t o = (int64_t)l * d;
        for (int32_t k = 0; k < nv; k++) {
            dens_v8d g_p = V(cgp + o, k), gpr = V(Gpr + o, k);
            V(Gp + o, k) += gpr * g_p;
            V(Ga + o, k) = gpr * VR(prw[l], k) * g_p * (1.0 - g_p);
        }
    }
    dens_rows_mul(n4, d, Ga, wd + dd, Gp, 1);
    dens_rows_mul(n4, d, Ga, wd, Gu, 1);
    for (int64_t k = 0; k < (int64_t)nl * nv; k++) {
        *(R8 *)(gu + 8 * k) = __builtin_convertvector(V(Gu, k), R8);
        *(R8 *)(gp + 8 * k) = __builtin_convertvector(V(Gp, k), R8);
        *(R8 *)(gn + 8 * k) = __builtin_convertvector(V(Gn, k), R8);
        *(R8 *)(ga + 8 * k) = __builtin_convertvector(V(Ga, k), R8);
        *(R8 *)(gc + 8 * k) = __builtin_convertvector(V(Gc, k), R8);
        *(R8 *)(pr_out + 8 * k) = __builtin_convertvector(*(const dens_v8du *)(cpr + 8 * k), R8);
    }
#undef V
#undef VR
    return tsum;
}


/* 64 bytes of REAL read or written at any address */
typedef REAL DENS_CAT(dens_vr, SUF) __attribute__((vector_size(64), aligned(sizeof(REAL))));

/* The blocked weight gradients need d to be a multiple of four vectors. */
static inline int DENS_CAT(dens_wgrad_blk_ok, SUF)(int32_t d)
{
    return d > 0 && d % (int32_t)(256 / sizeof(REAL)) == 0;
}

/*
 * W[j][i] += sum_{s < S} a[s][j] x[s][i] and bias[j] += sum_s a[s][j] for
 * the rows j in [j0, j1) of a [d][d] gradient (a row-major [S][d], x[s] row
 * pointers), s in order for every element, as dens_rows_axpy4 adds them.
 * Four rows of W stay in sixteen vector registers while the S rows of x
 * stream past. d as dens_wgrad_blk_ok.
 */
DENS_V8_INLINE void DENS_CAT(dens_wgrad_blk, SUF)(int32_t d, int32_t j0, int32_t j1, int32_t S,
                                                  const REAL *a, const REAL *const *x, REAL *W,
                                                  REAL *bias)
{
    typedef DENS_CAT(dens_vr, SUF) V;
    const int32_t NV = (int32_t)(64 / sizeof(REAL)), IB = 4 * NV;
    for (int32_t s = 0; s < S; s++)
        for (int32_t j = j0; j < j1; j++) bias[j] += a[(int64_t)s * d + j];
    int32_t j = j0;
    for (; j + 4 <= j1; j += 4)
        for (int32_t i0 = 0; i0 < d; i0 += IB) {
            REAL *w0 = W + (int64_t)j * d + i0, *w1 = w0 + d, *w2 = w1 + d, *w3 = w2 + d;
            V c00 = *(V *)w0, c01 = *(V *)(w0 + NV), c02 = *(V *)(w0 + 2 * NV), c03 = *(V *)(w0 + 3 * NV);
            V c10 = *(V *)w1, c11 = *(V *)(w1 + NV), c12 = *(V *)(w1 + 2 * NV), c13 = *(V *)(w1 + 3 * NV);
            V c20 = *(V *)w2, c21 = *(V *)(w2 + NV), c22 = *(V *)(w2 + 2 * NV), c23 = *(V *)(w2 + 3 * NV);
            V c30 = *(V *)w3, c31 = *(V *)(w3 + NV), c32 = *(V *)(w3 + 2 * NV), c33 = *(V *)(w3 + 3 * NV);
            for (int32_t s = 0; s < S; s++) {
                const REAL *xs = x[s] + i0, *as = a + (int64_t)s * d + j;
                V x0 = *(const V *)xs, x1 = *(const V *)(xs + NV);
                V x2 = *(const V *)(xs + 2 * NV), x3 = *(const V *)(xs + 3 * NV);
                REAL e0 = as[0], e1 = as[1], e2 = as[2], e3 = as[3];
                c00 += e0 * x0; c01 += e0 * x1; c02 += e0 * x2; c03 += e0 * x3;
                c10 += e1 * x0; c11 += e1 * x1; c12 += e1 * x2; c13 += e1 * x3;
                c20 += e2 * x0; c21 += e2 * x1; c22 += e2 * x2; c23 += e2 * x3;
                c30 += e3 * x0; c31 += e3 * x1; c32 += e3 * x2; c33 += e3 * x3;
            }
            *(V *)w0 = c00; *(V *)(w0 + NV) = c01; *(V *)(w0 + 2 * NV) = c02; *(V *)(w0 + 3 * NV) = c03;
            *(V *)w1 = c10; *(V *)(w1 + NV) = c11; *(V *)(w1 + 2 * NV) = c12; *(V *)(w1 + 3 * NV) = c13;
            *(V *)w2 = c20; *(V *)(w2 + NV) = c21; *(V *)(w2 + 2 * NV) = c22; *(V *)(w2 + 3 * NV) = c23;
            *(V *)w3 = c30; *(V *)(w3 + NV) = c31; *(V *)(w3 + 2 * NV) = c32; *(V *)(w3 + 3 * NV) = c33;
        }
    for (; j < j1; j++)
        for (int32_t i0 = 0; i0 < d; i0 += IB) {
            REAL *w0 = W + (int64_t)j * d + i0;
            V c0 = *(V *)w0, c1 = *(V *)(w0 + NV), c2 = *(V *)(w0 + 2 * NV), c3 = *(V *)(w0 + 3 * NV);
            for (int32_t s = 0; s < S; s++) {
                const REAL *xs = x[s] + i0;
                REAL e = a[(int64_t)s * d + j];
                c0 += e * *(const V *)xs; c1 += e * *(const V *)(xs + NV);
                c2 += e * *(const V *)(xs + 2 * NV); c3 += e * *(const V *)(xs + 3 * NV);
            }
            *(V *)w0 = c0; *(V *)(w0 + NV) = c1; *(V *)(w0 + 2 * NV) = c2; *(V *)(w0 + 3 * NV) = c3;
        }
}

/* dens_aux_wgrad's sums for this thread's rows [j0, j1) with the blocked
 * kernel, in chunks of 128 positives (or (positive, k) pairs). */
DENS_V8_INLINE void DENS_CAT(dens_aux_wgrad_blk, SUF)(int32_t B, int32_t K, int32_t d,
                                                      int32_t j0, int32_t j1, const REAL *U,
                                                      const REAL *I, const int32_t *users,
                                                      const int32_t *pos, const int32_t *negs,
                                                      const REAL *ga, const REAL *gc,
                                                      const REAL *pr, REAL *const *gg)
{
    enum { CH = 128 };
    const REAL *X0[CH], *X1[CH];
    for (int32_t b0 = 0; b0 < B; b0 += CH) {
        int32_t n = B - b0 < CH ? B - b0 : CH;
        for (int32_t t = 0; t < n; t++) {
            X0[t] = I + (int64_t)pos[b0 + t] * d;
            X1[t] = U + (int64_t)users[b0 + t] * d;
        }
        const REAL *a = ga + (int64_t)b0 * d;
        DENS_CAT(dens_wgrad_blk, SUF)(d, j0, j1, n, a, X0, gg[DENS_W_ITEM], gg[DENS_B_ITEM]);
        DENS_CAT(dens_wgrad_blk, SUF)(d, j0, j1, n, a, X1, gg[DENS_W_USER], gg[DENS_B_USER]);
    }
    int64_t S = (int64_t)B * K;
    for (int64_t s0 = 0; s0 < S; s0 += CH) {
        int32_t n = S - s0 < CH ? (int32_t)(S - s0) : CH;
        for (int32_t t = 0; t < n; t++) {
            X0[t] = I + (int64_t)negs[s0 + t] * d;
            X1[t] = pr + (s0 + t) / K * d;
        }
        const REAL *a = gc + s0 * d;
        DENS_CAT(dens_wgrad_blk, SUF)(d, j0, j1, n, a, X0, gg[DENS_W_NEG], gg[DENS_B_NEG]);
        DENS_CAT(dens_wgrad_blk, SUF)(d, j0, j1, n, a, X1, gg[DENS_W_POS], gg[DENS_B_POS]);
    }
}
