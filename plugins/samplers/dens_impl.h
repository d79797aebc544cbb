/*
 * dens_impl.h - the math of the DENS sampler, written once and compiled per
 * precision: define REAL (element type) and SUF (function suffix), then
 * include this file (dens.c: float/f32 for training; the tests: double/f64
 * for finite-difference and golden checks). Intermediate sums are kept in
 * double in both instantiations, except the gate weight gradients
 * (dens_aux_wgrad), which accumulate in REAL.
 *
 * Source: DENS (Lai et al., WSDM 2023), official code Riwei-HEU/DENS @4c32d72,
 * DENS/modules/LightGCN.py:165-186 (dise_negative_sampling) and 247-297
 * (create_bpr_loss); restated in docs/methods/dens.md. On MF there
 * is one "layer", so mean pooling is the identity (dens_select_*,
 * dens_aux_one/batch). Graph backbones (dens_aux_graph_*, below) run the
 * gates per layer with shared weights: the selection is dens_select_batch
 * over (positive, layer) pairs, each layer scored with its own u^(l); the
 * gating loss pools the per-layer gated vectors. The plugin runs that
 * selection batched (dens_select_graph_batch: eight pairs or candidates in
 * the lanes of vector doubles, the same dot products) and keeps its gates,
 * so the gating loss does not run them again (dens_aux_graph_batch_ex).
 * When d is a multiple of 32 the plugin uses the register-blocked versions
 * of both instead (dens_blocked.h).
 *
 * Per positive (u, p) with candidates n_1..n_M (nn.Linear: y = W x + b, W
 * stored [out][in]):
 *   g_p  = sigmoid(W_ig p + b_ig + W_ug u + b_ug)   item_gate(p) + user_gate(u)
 *   p_r  = p * g_p,  p_ir = p - p_r
 *   g_n  = sigmoid(W_ng n + b_ng + W_pg p_r + b_pg)  neg_gate(n) + pos_gate(p_r)
 *   n_r  = n * g_n,  n_ir = n - n_r
 *   select: m* = first argmax_m u . ((1 - beta) n_m - g_n,m * n_m)
 *   aux (on the K chosen raw negatives), with sp(x) = log(1 + e^x) and the
 *   K-sum inside the log:
 *     T1 = sp(u.p_ir - u.p_r)          T2 = log(1 + sum_k e^(u.n_r,k - u.n_ir,k))
 *     T3 = log(1 + sum_k e^(u.n_r,k - u.p_r))
 *     T4 = log(1 + sum_k e^(u.p_ir - u.n_ir,k))
 *     aux = gamma/4 * mean_b (T1 + T2 + T3 + T4)
 * The gates learn only from aux; selection carries no gradient. log(1+sum e^z)
 * is evaluated as a log-sum-exp with 0 included, so it never overflows.
 *
 * The eight gate arrays are passed as pointer tables indexed by enum dens_gw:
 * W_* are [d][d], b_* are [d].
 */
#ifndef DENS_IMPL_COMMON
#define DENS_IMPL_COMMON

#include <math.h>
#include <stdint.h>

#include "sampler_common.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* This thread's number in the enclosing OpenMP team (0 without OpenMP). */
static inline int dens_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

enum dens_gw {
    DENS_W_USER = 0, DENS_B_USER, DENS_W_ITEM, DENS_B_ITEM,
    DENS_W_POS, DENS_B_POS, DENS_W_NEG, DENS_B_NEG, DENS_N_GW
};

/* Logistic function without overflow. */
static inline double dens_sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* log(1 + sum_k e^z[k]) as a log-sum-exp over {0, z}; pi[k] (nullable)
 * receives its partial derivatives e^z[k] / (1 + sum e^z). */
static inline double dens_log1p_sumexp(const double *z, int32_t K, double *pi)
{
    double mx = 0.0;
    for (int32_t k = 0; k < K; k++) if (z[k] > mx) mx = z[k];
    double s = exp(-mx);
    for (int32_t k = 0; k < K; k++) s += exp(z[k] - mx);
    if (pi) for (int32_t k = 0; k < K; k++) pi[k] = exp(z[k] - mx) / s;
    return mx + log(s);
}

/* The four terms of a graph positive (K = 1) from its pooled scores
 * u.P_r, u.P_ir, u.N_r, u.N_ir: T1 = sp(spir - spr), T2 = sp(snr - snir),
 * T3 = sp(snr - spr), T4 = sp(spir - snir). Returns their sum; t[4]
 * (nullable) receives them, dsc[4] the derivatives of scale (T1+..+T4)
 * w.r.t. the four scores, in that order. */
static inline double dens_terms_pooled(double spr, double spir, double snr, double snir,
                                       double scale, double *t, double *dsc)
{
    /* term k is sp(score up[k] - score dn[k]), scores in dsc's order */
    static const int up[4] = {1, 2, 2, 1}, dn[4] = {0, 3, 0, 3};
    const double sc[4] = {spr, spir, snr, snir};
    double sum = 0.0;
    dsc[0] = dsc[1] = dsc[2] = dsc[3] = 0.0;
    for (int k = 0; k < 4; k++) {
        double z = sc[up[k]] - sc[dn[k]], pi;
        double T = dens_log1p_sumexp(&z, 1, &pi);
        if (t) t[k] = T;
        sum += T;
        dsc[up[k]] += scale * pi;
        dsc[dn[k]] -= scale * pi;
    }
    return sum;
}

/* Doubles of scratch one call of dens_aux_one_* needs. */
static inline int64_t dens_aux_work_size(int32_t d, int32_t K)
{
    return (int64_t)(6 + 3 * K) * d + 6 * K;
}

/* The blocked paths need d to be a multiple of 32 (and at most 1024). */
static inline int dens_blocked_ok(int32_t d) { return d > 0 && d % 32 == 0 && d <= 1024; }

/* Doubles of scratch one call of dens_aux_graph_blk_one_* (nl layers). */
static inline int64_t dens_aux_blk_work_size(int32_t d, int32_t nl)
{
    int64_t n4 = ((int64_t)nl + 3) / 4 * 4;
    return (6 * n4 + 6) * (int64_t)d;
}

/* Doubles of scratch one call of dens_aux_graph_one_* needs (nl layers),
 * or of dens_aux_graph_blk_one_* when that is more and d allows it. */
static inline int64_t dens_aux_graph_work_size(int32_t d, int32_t nl)
{
    int64_t w = (int64_t)3 * nl * d + 13 * (int64_t)d;
    if (dens_blocked_ok(d) && dens_aux_blk_work_size(d, nl) > w) w = dens_aux_blk_work_size(d, nl);
    return w;
}

/* Doubles of scratch one call of dens_select_one_* needs. */
static inline int64_t dens_select_work_size(int32_t d) { return (int64_t)3 * d; }

/* Doubles of scratch per thread of dens_select_graph_batch_* (eight tables
 * of d lane vectors; read unaligned, so any double buffer will do). */
static inline int64_t dens_select_graph_work_size(int32_t d) { return (int64_t)64 * d; }

/*
 * Eight lanes of doubles (GCC vector extensions: AVX-512 registers in the
 * x86-64-v4 copy, pairs of SSE registers in the baseline one). The batched
 * graph selection runs eight candidates (or eight positives) side by side,
 * each lane doing exactly the scalar code's operations in its order.
 */
/* GCC notes the ABI of 64-byte vector arguments at the end of the unit;
 * these helpers are inline and never cross a call boundary between copies */
#pragma GCC diagnostic ignored "-Wpsabi"
/* always inlined, so they are compiled for each copy of their caller */
#define DENS_V8_INLINE static inline __attribute__((always_inline))
typedef double dens_v8d __attribute__((vector_size(64)));
typedef long long dens_v8i __attribute__((vector_size(64)));
/* the same eight doubles read or written at any address (scratch from a
 * caller need not be 64-byte aligned) */
typedef double dens_v8du __attribute__((vector_size(64), aligned(8)));

/* Lane-wise m ? a : b for a comparison mask m (all ones or zero). */
DENS_V8_INLINE dens_v8d dens_v8_select(dens_v8i m, dens_v8d a, dens_v8d b)
{
    return (dens_v8d)((m & (dens_v8i)a) | (~m & (dens_v8i)b));
}

/* e^x per lane for x <= 0 (the sigmoid's argument), within 1 ulp of the C
 * library's exp: x = k ln2 + r with |r| <= ln2/2 (ln2 in two parts, so
 * k ln2_hi is exact), e^r by its Taylor series to degree 13 (truncation
 * below 1e-17), times 2^k built in the exponent bits (in two factors, so
 * results below 2^-1022 come out subnormal as exp's do). x < -745 is taken
 * as -745 (e^x below the smallest subnormal); NaN stays NaN. */
DENS_V8_INLINE dens_v8d dens_exp_v8(dens_v8d x)
{
    const double shift = 0x1.8p52; /* adding it rounds x log2(e) to an integer */
    x = dens_v8_select(x < -745.0, x * 0.0 - 745.0, x);
    dens_v8d t = x * 1.4426950408889634 + shift;
    dens_v8d k = t - shift;
    dens_v8i ki = (dens_v8i)t - (dens_v8i)(t * 0.0 + shift);
    dens_v8d r = (x - k * 0x1.62e42fee00000p-1) - k * 0x1.a39ef35793c76p-33;
    dens_v8d p = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    dens_v8i k1 = ki >> 1, k2 = ki - k1;
    return p * (dens_v8d)((k1 + 1023) << 52) * (dens_v8d)((k2 + 1023) << 52);
}

/* The logistic function per lane, dens_sigmoid's formulas (1/(1+e^-x) for
 * x >= 0, e^x/(1+e^x) below) on dens_exp_v8. */
DENS_V8_INLINE dens_v8d dens_sigmoid_v8(dens_v8d x)
{
    dens_v8d e = dens_exp_v8((dens_v8d)((dens_v8i)x | INT64_MIN)); /* e^-|x| */
    return dens_v8_select(x >= 0.0, e * 0.0 + 1.0, e) / (1.0 + e);
}

/* Two outputs j, j+1 of a matrix-vector product for eight lanes at once:
 * z0 = w0 . X, z1 = w1 . X with X [d] lane vectors and w0, w1 rows of a
 * d x d matrix in double. Each lane sums as nb_dot / dens_dotd do (four
 * partial sums over i mod 4, in order, then (s0 + s1) + (s2 + s3)), so it
 * gives their bits. */
DENS_V8_INLINE void dens_wdot2_v8(const double *w0, const double *w1, const dens_v8du *X,
                                 int32_t d, dens_v8du *z0, dens_v8du *z1)
{
    dens_v8d a0 = X[0] * 0.0, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int32_t i = 0;
    for (; i + 4 <= d; i += 4) {
        a0 += w0[i] * X[i];
        b0 += w1[i] * X[i];
        a1 += w0[i + 1] * X[i + 1];
        b1 += w1[i + 1] * X[i + 1];
        a2 += w0[i + 2] * X[i + 2];
        b2 += w1[i + 2] * X[i + 2];
        a3 += w0[i + 3] * X[i + 3];
        b3 += w1[i + 3] * X[i + 3];
    }
    for (; i < d; i++) {
        a0 += w0[i] * X[i];
        b0 += w1[i] * X[i];
    }
    *z0 = (a0 + a1) + (a2 + a3);
    *z1 = (b0 + b1) + (b2 + b3);
}

/* out[j] = W_j . X for j < d (X [d] lane vectors, W [d][d] double). */
DENS_V8_INLINE void dens_matvec_v8(int32_t d, const double *W, const dens_v8du *X, dens_v8du *out)
{
    int32_t j = 0;
    for (; j + 2 <= d; j += 2)
        dens_wdot2_v8(W + (int64_t)j * d, W + (int64_t)(j + 1) * d, X, d, out + j, out + j + 1);
    if (j < d) {
        dens_v8du dummy;
        dens_wdot2_v8(W + (int64_t)j * d, W + (int64_t)j * d, X, d, out + j, &dummy);
    }
}

/* r[0..8) as the columns of an 8 x 8 block: on return r[k][t] is the
 * former r[t][k] (three rounds of lane shuffles). */
DENS_V8_INLINE void dens_transpose8_v8(dens_v8du *r)
{
    const dens_v8i e = {0, 8, 2, 10, 4, 12, 6, 14}, o = {1, 9, 3, 11, 5, 13, 7, 15};
    const dens_v8i lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    const dens_v8i lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    dens_v8d t[8], u[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = __builtin_shuffle(r[k], r[k + 1], e);
        t[k + 1] = __builtin_shuffle(r[k], r[k + 1], o);
    }
    for (int k = 0; k < 8; k += 4) {
        u[k] = __builtin_shuffle(t[k], t[k + 2], lo2);
        u[k + 2] = __builtin_shuffle(t[k], t[k + 2], hi2);
        u[k + 1] = __builtin_shuffle(t[k + 1], t[k + 3], lo2);
        u[k + 3] = __builtin_shuffle(t[k + 1], t[k + 3], hi2);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = __builtin_shuffle(u[k], u[k + 4], lo4);
        r[k + 4] = __builtin_shuffle(u[k], u[k + 4], hi4);
    }
}

/* y1 += W1^T g and y2 += W2^T g (W1, W2 [d][d] in double, [out][in]) in
 * one pass: dens_matvec_t's operations in its order for each, so its bits. */
NB_ISA_CLONES static void dens_matvec_t2d(int32_t d, const double *W1, const double *W2,
                                          const double *g, double *y1, double *y2)
{
    for (int32_t j = 0; j < d; j++) {
        const double *w1 = W1 + (int64_t)j * d, *w2 = W2 + (int64_t)j * d;
        double gj = g[j];
        if (gj == 0.0) continue;
        for (int32_t i = 0; i < d; i++) {
            y1[i] += w1[i] * gj;
            y2[i] += w2[i] * gj;
        }
    }
}

#endif /* DENS_IMPL_COMMON */

#define DENS_CAT_(a, b) a##_##b
#define DENS_CAT(a, b) DENS_CAT_(a, b)

#include "dens_blocked.h"

/* w . x with a double x, in double with four partial sums (as nb_dot_*). */
static inline double DENS_CAT(dens_dotd, SUF)(const REAL *w, const double *x, int32_t d)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int32_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += (double)w[i] * x[i];
        s1 += (double)w[i + 1] * x[i + 1];
        s2 += (double)w[i + 2] * x[i + 2];
        s3 += (double)w[i + 3] * x[i + 3];
    }
    for (; i < d; i++) s0 += (double)w[i] * x[i];
    return (s0 + s1) + (s2 + s3);
}

/* y[j] = sum_i W[j][i] x[i] (+= when acc), W [d][d] [out][in]. */
NB_ISA_CLONES static void DENS_CAT(dens_matvec, SUF)(int32_t d, const REAL *W, const REAL *x, double *y,
                                       int acc)
{
    for (int32_t j = 0; j < d; j++) {
        double s = DENS_CAT(nb_dot, SUF)(W + (int64_t)j * d, x, d);
        y[j] = acc ? y[j] + s : s;
    }
}

/* y[i] += sum_j W[j][i] g[j] (W^T g), W [d][d] [out][in]. */
NB_ISA_CLONES static void DENS_CAT(dens_matvec_t, SUF)(int32_t d, const REAL *W, const double *g, double *y)
{
    for (int32_t j = 0; j < d; j++) {
        const REAL *w = W + (int64_t)j * d;
        double gj = g[j];
        if (gj == 0.0) continue;
        for (int32_t i = 0; i < d; i++) y[i] += (double)w[i] * gj;
    }
}

/* The positive gate: gp = sigmoid(W_ig p + b_ig + W_ug u + b_ug), pr = p*gp
 * (all [d], double). */
NB_ISA_CLONES static void DENS_CAT(dens_pos_gate, SUF)(int32_t d, const REAL *const *gw, const REAL *u,
                                         const REAL *p, double *gp, double *pr)
{
    DENS_CAT(dens_matvec, SUF)(d, gw[DENS_W_ITEM], p, gp, 0);
    DENS_CAT(dens_matvec, SUF)(d, gw[DENS_W_USER], u, gp, 1);
    for (int32_t j = 0; j < d; j++) {
        gp[j] = dens_sigmoid(gp[j] + (double)gw[DENS_B_ITEM][j] + (double)gw[DENS_B_USER][j]);
        pr[j] = (double)p[j] * gp[j];
    }
}

/* c0 = W_pg pr + b_pg + b_ng: the candidate-independent part of the
 * negative gate's pre-activation ([d], double). */
NB_ISA_CLONES static void DENS_CAT(dens_neg_base, SUF)(int32_t d, const REAL *const *gw, const double *pr,
                                         double *c0)
{
    const REAL *W = gw[DENS_W_POS];
    for (int32_t j = 0; j < d; j++) {
        double s = DENS_CAT(dens_dotd, SUF)(W + (int64_t)j * d, pr, d);
        c0[j] = s + (double)gw[DENS_B_POS][j] + (double)gw[DENS_B_NEG][j];
    }
}

/*
 * Selection for one positive: scores[m] = u . ((1-beta) n_m - g_n,m * n_m)
 * for the M candidate rows cand[m] of the item table I ([rows][d]); returns
 * the first argmax (ties to the lower index; NaN scores never win, -1 when
 * no score is a number). gate_p [d] and gate_n [M][d] receive the gates when
 * non-NULL (tests); work holds dens_select_work_size(d) doubles.
 */
NB_ISA_CLONES static int32_t DENS_CAT(dens_select_one, SUF)(int32_t d, int32_t M, double beta,
                                              const REAL *const *gw, const REAL *u,
                                              const REAL *p, const REAL *I,
                                              const int32_t *cand, double *scores,
                                              REAL *gate_p, REAL *gate_n, double *work)
{
    double *gp = work, *pr = work + d, *c0 = work + 2 * d;
    DENS_CAT(dens_pos_gate, SUF)(d, gw, u, p, gp, pr);
    if (gate_p) for (int32_t j = 0; j < d; j++) gate_p[j] = (REAL)gp[j];
    DENS_CAT(dens_neg_base, SUF)(d, gw, pr, c0);
    const REAL *W = gw[DENS_W_NEG];
    int32_t best = -1;
    double best_s = 0.0;
    for (int32_t m = 0; m < M; m++) {
        const REAL *n = I + (int64_t)cand[m] * d;
        double s = 0.0;
        for (int32_t j = 0; j < d; j++) {
            double g = dens_sigmoid(c0[j] + DENS_CAT(nb_dot, SUF)(W + (int64_t)j * d, n, d));
            if (gate_n) gate_n[(int64_t)m * d + j] = (REAL)g;
            s += (double)u[j] * ((1.0 - beta) * (double)n[j] - g * (double)n[j]);
        }
        scores[m] = s;
        if (s == s && (best < 0 || s > best_s)) { best = m; best_s = s; }
    }
    return best;
}

/*
 * The auxiliary terms for one positive and its K chosen raw negatives nk[k]
 * (row pointers, [d] each). Returns T1+T2+T3+T4 (unweighted); t[4]
 * (nullable) receives them separately. When scale != 0 (scale = gamma/(4B)),
 * writes (=, not +=) the gradient of scale*(T1+..+T4) w.r.t. the rows: gu [d],
 * gp [d], gn [K][d], and what the gate weight gradients need: ga [d] (dL/d
 * pre-activation of the positive gate), gc [K][d] (of the negative gate) and
 * pr_out [d] (p_r, the input of pos_gate). work holds dens_aux_work_size(d, K)
 * doubles.
 * Kept whole (over 80 lines) on purpose: an ISA-cloned kernel whose
 * statement order fixes where the compiler contracts multiply-adds; split
 * into calls it could round differently, and the picks and losses are
 * pinned to the reference implementation bit for bit by the tests.
 */
NB_ISA_CLONES static double DENS_CAT(dens_aux_one, SUF)(int32_t d, int32_t K, double scale,
                                          const REAL *const *gw, const REAL *u,
                                          const REAL *p, const REAL *const *nk,
                                          double *t, REAL *gu, REAL *gp, REAL *gn,
                                          REAL *ga, REAL *gc, REAL *pr_out, double *work)
{
    double *g_p = work, *pr = work + d, *c0 = work + 2 * d;
    double *Gu = work + 3 * d, *Gp = work + 4 * d, *Gpr = work + 5 * d;
    double *gnk = work + 6 * d;                    /* [K][d] negative gates */
    double *Gn = gnk + (int64_t)K * d;             /* [K][d] */
    double *Gc = Gn + (int64_t)K * d;              /* [K][d] */
    double *snr = Gc + (int64_t)K * d, *snir = snr + K, *z = snir + K, *pi = z + K;
    double *dnr = pi + K, *dnir = dnr + K;
    double spr = 0.0, spir = 0.0, dspr = 0.0, dspir = 0.0;

    /* forward: gates and the gated scores */
    DENS_CAT(dens_pos_gate, SUF)(d, gw, u, p, g_p, pr);
    DENS_CAT(dens_neg_base, SUF)(d, gw, pr, c0);
    for (int32_t j = 0; j < d; j++) {
        spr += (double)u[j] * pr[j];
        spir += (double)u[j] * ((double)p[j] - pr[j]);
    }
    for (int32_t k = 0; k < K; k++) {
        double *g = gnk + (int64_t)k * d;
        DENS_CAT(dens_matvec, SUF)(d, gw[DENS_W_NEG], nk[k], g, 0);
        double a = 0.0, b = 0.0;
        for (int32_t j = 0; j < d; j++) {
            g[j] = dens_sigmoid(g[j] + c0[j]);
            double nr = (double)nk[k][j] * g[j];
            a += (double)u[j] * nr;
            b += (double)u[j] * ((double)nk[k][j] - nr);
        }
        snr[k] = a;
        snir[k] = b;
        dnr[k] = dnir[k] = 0.0;
    }

    /* the four terms and their derivatives w.r.t. the scores */
    z[0] = spir - spr;
    double T1 = dens_log1p_sumexp(z, 1, pi);
    dspir += scale * pi[0];
    dspr -= scale * pi[0];
    for (int32_t k = 0; k < K; k++) z[k] = snr[k] - snir[k];
    double T2 = dens_log1p_sumexp(z, K, pi);
    for (int32_t k = 0; k < K; k++) { dnr[k] += scale * pi[k]; dnir[k] -= scale * pi[k]; }
    for (int32_t k = 0; k < K; k++) z[k] = snr[k] - spr;
    double T3 = dens_log1p_sumexp(z, K, pi);
    for (int32_t k = 0; k < K; k++) { dnr[k] += scale * pi[k]; dspr -= scale * pi[k]; }
    for (int32_t k = 0; k < K; k++) z[k] = spir - snir[k];
    double T4 = dens_log1p_sumexp(z, K, pi);
    for (int32_t k = 0; k < K; k++) { dspir += scale * pi[k]; dnir[k] -= scale * pi[k]; }
    if (t) { t[0] = T1; t[1] = T2; t[2] = T3; t[3] = T4; }
    if (scale == 0.0) return T1 + T2 + T3 + T4;

    /* backward through the scores u.p_r, u.p_ir, u.n_r,k, u.n_ir,k */
    for (int32_t j = 0; j < d; j++) {
        Gu[j] = dspr * pr[j] + dspir * ((double)p[j] - pr[j]);
        Gp[j] = (dspr * g_p[j] + dspir * (1.0 - g_p[j])) * (double)u[j];
        Gpr[j] = 0.0;
    }
    for (int32_t k = 0; k < K; k++) {
        const double *g = gnk + (int64_t)k * d;
        double *gnr = Gn + (int64_t)k * d, *gcr = Gc + (int64_t)k * d;
        for (int32_t j = 0; j < d; j++) {
            double n = (double)nk[k][j], nr = n * g[j];
            Gu[j] += dnr[k] * nr + dnir[k] * (n - nr);
            gnr[j] = (dnr[k] * g[j] + dnir[k] * (1.0 - g[j])) * (double)u[j];
            /* dL/dg_n then through the sigmoid */
            gcr[j] = (dnr[k] - dnir[k]) * (double)u[j] * n * g[j] * (1.0 - g[j]);
        }
        DENS_CAT(dens_matvec_t, SUF)(d, gw[DENS_W_NEG], gcr, gnr);
        DENS_CAT(dens_matvec_t, SUF)(d, gw[DENS_W_POS], gcr, Gpr);
    }
    double *Ga = c0;   /* c0 is no longer needed */
    for (int32_t j = 0; j < d; j++) {
        double ggp = (dspr - dspir) * (double)u[j] * (double)p[j] + Gpr[j] * (double)p[j];
        Gp[j] += Gpr[j] * g_p[j];
        Ga[j] = ggp * g_p[j] * (1.0 - g_p[j]);
    }
    DENS_CAT(dens_matvec_t, SUF)(d, gw[DENS_W_ITEM], Ga, Gp);
    DENS_CAT(dens_matvec_t, SUF)(d, gw[DENS_W_USER], Ga, Gu);

    for (int32_t j = 0; j < d; j++) {
        gu[j] = (REAL)Gu[j];
        gp[j] = (REAL)Gp[j];
        ga[j] = (REAL)Ga[j];
        pr_out[j] = (REAL)pr[j];
    }
    for (int64_t i = 0; i < (int64_t)K * d; i++) {
        gn[i] = (REAL)Gn[i];
        gc[i] = (REAL)Gc[i];
    }
    return T1 + T2 + T3 + T4;
}

/*
 * Selection for a batch: for each positive b and group k, m*[b][k] = first
 * argmax over the candidates cand[b][k*M + m] (ids into I). scores [B][K*M]
 * receive the criteria; gate_p [B][d] and gate_n [B][K*M][d] the gates when
 * non-NULL. OpenMP over positives with nt threads; work is [nt][select work].
 * Returns the number of (b, k) with no finite score (chosen set to -1).
 */
NB_ISA_CLONES static int64_t DENS_CAT(dens_select_batch, SUF)(int32_t B, int32_t K, int32_t M, int32_t d,
                                                double beta, const REAL *const *gw,
                                                const REAL *U, const REAL *I,
                                                const int32_t *users, const int32_t *pos,
                                                const int32_t *cand, int nt, double *work,
                                                double *scores, REAL *gate_p, REAL *gate_n,
                                                int32_t *chosen)
{
    int64_t bad = 0;
    int64_t ws = dens_select_work_size(d);
    (void)nt;
    (void)ws;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : bad)
    for (int32_t b = 0; b < B; b++) {
#ifdef _OPENMP
        double *w = work + ws * omp_get_thread_num();
#else
        double *w = work;
#endif
        const REAL *u = U + (int64_t)users[b] * d, *p = I + (int64_t)pos[b] * d;
        for (int32_t k = 0; k < K; k++) {
            int64_t o = (int64_t)b * K * M + (int64_t)k * M;
            int32_t m = DENS_CAT(dens_select_one, SUF)(
                d, M, beta, gw, u, p, I, cand + o, scores + o,
                k == 0 && gate_p ? gate_p + (int64_t)b * d : NULL,
                gate_n ? gate_n + o * d : NULL, w);
            chosen[(int64_t)b * K + k] = m;
            if (m < 0) bad++;
        }
    }
    return bad;
}

/* wd [4][d][d] = the gates' W (user, item, pos, neg) in double: the batched
 * graph selection reads them so (the conversion is exact). */
static inline void DENS_CAT(dens_gates_double, SUF)(int32_t d, const REAL *const *gw, double *wd)
{
    int64_t dd = (int64_t)d * d;
    for (int k = 0; k < 4; k++)
        for (int64_t i = 0; i < dd; i++) wd[k * dd + i] = (double)gw[2 * k][i];
}

/* X[i][k] = rows[k][i] for i < d and k < 8 (rows[k] NULL: zeros): eight
 * rows of REAL into the lanes of d doubles, 8 x 8 blocks at a time. */
DENS_V8_INLINE void DENS_CAT(dens_lanes8, SUF)(int32_t d, const REAL *const *rows, dens_v8du *X)
{
    int32_t i0 = 0;
    for (; i0 + 8 <= d; i0 += 8) {
        dens_v8du *blk = X + i0;
        for (int k = 0; k < 8; k++)
            for (int t = 0; t < 8; t++) blk[k][t] = rows[k] ? (double)rows[k][i0 + t] : 0.0;
        dens_transpose8_v8(blk);
    }
    for (int32_t i = i0; i < d; i++)
        for (int k = 0; k < 8; k++) X[i][k] = rows[k] ? (double)rows[k][i] : 0.0;
}

/*
 * dens_select_batch over Q (positive, layer) pairs of a graph view with K =
 * 1, computed eight at a time, keeping what the gating loss needs: for
 * pair q (rows uidx[q] of Ul, pidx[q] of Il, candidates candl[q][M] of Il),
 * cgp [Q][d] the positive gate g_p, cpr [Q][d] p_r, cgn [Q][d] the negative
 * gate of the pick (dens_aux_graph_batch_ex takes them instead of running
 * the gates again). The positive gates run with eight pairs in the lanes,
 * the candidate gates with eight candidates; every dot product has
 * nb_dot's bits (dens_wdot2_v8) and the sigmoid uses dens_exp_v8, so the
 * criteria match dens_select_one to an ulp of double. wd is
 * dens_gates_double of gw; work is [nt][dens_select_graph_work_size(d)]
 * (any alignment). scores [Q][M] and chosen [Q] as dens_select_batch;
 * returns the number of pairs with no finite score (chosen -1).
 * Kept whole (over 80 lines) on purpose: an ISA-cloned kernel whose
 * statement order fixes where the compiler contracts multiply-adds; split
 * into calls it could round differently, and the picks and losses are
 * pinned to the reference implementation bit for bit by the tests.
 */
NB_ISA_CLONES static int64_t DENS_CAT(dens_select_graph_batch, SUF)(
    int32_t Q, int32_t M, int32_t d, double beta, const REAL *const *gw, const double *wd,
    const REAL *Ul, const REAL *Il, const int32_t *uidx, const int32_t *pidx,
    const int32_t *candl, int nt, double *work, double *scores, int32_t *chosen, double *cgp,
    double *cpr, double *cgn)
{
    int64_t bad = 0, ws = dens_select_graph_work_size(d), dd = (int64_t)d * d;
    int32_t G = (Q + 7) / 8;
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : bad)
    for (int32_t grp = 0; grp < G; grp++) {
#ifdef _OPENMP
        dens_v8du *w = (dens_v8du *)(work + ws * omp_get_thread_num());
#else
        dens_v8du *w = (dens_v8du *)work;
#endif
        dens_v8du *PT = w, *UT = PT + d, *GP = UT + d, *PR = GP + d, *C0 = PR + d;
        dens_v8du *NT = C0 + d, *GN = NT + d, *Z = GN + d;
        int32_t q0 = grp * 8, nq = Q - q0 < 8 ? Q - q0 : 8;
        /* the positive side, pairs in the lanes (missing lanes are zero) */
        const REAL *rp[8], *ru[8];
        for (int32_t t = 0; t < 8; t++) {
            rp[t] = t < nq ? Il + (int64_t)pidx[q0 + t] * d : NULL;
            ru[t] = t < nq ? Ul + (int64_t)uidx[q0 + t] * d : NULL;
        }
        DENS_CAT(dens_lanes8, SUF)(d, rp, PT);
        DENS_CAT(dens_lanes8, SUF)(d, ru, UT);
        /* g_p = sigmoid(W_ig p + W_ug u + b_ig + b_ug), p_r = p g_p (dens_pos_gate) */
        dens_matvec_v8(d, wd + dd, PT, GP);
        dens_matvec_v8(d, wd, UT, Z);
        for (int32_t j = 0; j < d; j++) {
            GP[j] = dens_sigmoid_v8(((GP[j] + Z[j]) + (double)gw[DENS_B_ITEM][j]) +
                                    (double)gw[DENS_B_USER][j]);
            PR[j] = PT[j] * GP[j];
        }
        /* c0 = W_pg p_r + b_pg + b_ng (dens_neg_base) */
        dens_matvec_v8(d, wd + 2 * dd, PR, C0);
        for (int32_t j = 0; j < d; j++)
            C0[j] = (C0[j] + (double)gw[DENS_B_POS][j]) + (double)gw[DENS_B_NEG][j];
        /* the candidates of each pair, eight in the lanes */
        for (int32_t t = 0; t < nq; t++) {
            int64_t q = q0 + t;
            const REAL *u = Ul + (int64_t)uidx[q] * d;
            if (q + 1 < Q) /* the next pair's candidate rows are scattered: fetch them now */
                for (int32_t m = 0; m < M; m++)
                    nb_prefetch_row(Il + (int64_t)candl[(q + 1) * M + m] * d,
                                    (size_t)d * sizeof(REAL));
            int32_t best = -1;
            double best_s = 0.0;
            for (int32_t m0 = 0; m0 < M; m0 += 8) {
                int32_t mb = M - m0 < 8 ? M - m0 : 8;
                const REAL *rn[8];
                for (int32_t k = 0; k < 8; k++)
                    rn[k] = k < mb ? Il + (int64_t)candl[q * M + m0 + k] * d : NULL;
                DENS_CAT(dens_lanes8, SUF)(d, rn, NT);
                dens_matvec_v8(d, wd + 3 * dd, NT, Z);
                dens_v8d sc = Z[0] * 0.0;
                for (int32_t j = 0; j < d; j++) {
                    dens_v8d g = dens_sigmoid_v8(C0[j][t] + Z[j]);
                    GN[j] = g;
                    sc += (double)u[j] * ((1.0 - beta) * NT[j] - g * NT[j]);
                }
                for (int32_t k = 0; k < mb; k++) {
                    double sk = sc[k];
                    scores[q * M + m0 + k] = sk;
                    if (sk == sk && (best < 0 || sk > best_s)) {
                        best = m0 + k;
                        best_s = sk;
                        for (int32_t j = 0; j < d; j++) cgn[q * d + j] = GN[j][k];
                    }
                }
            }
            chosen[q] = best;
            if (best < 0) bad++;
            for (int32_t j = 0; j < d; j++) {
                cgp[q * d + j] = GP[j][t];
                cpr[q * d + j] = PR[j][t];
            }
        }
    }
    return bad;
}

/*
 * The auxiliary loss of a batch: returns gamma/4 * mean_b (T1+..+T4)_b for
 * the chosen raw negatives negs [B][K] (ids into I). lossb [B] receives the
 * per-positive T sums, tb [B][4] the per-positive T1..T4, tmean [4]
 * (nullable) their batch means.
 * Per-positive outputs (written, not accumulated; see dens_aux_one): gu, gp,
 * ga, pr [B][d]; gn, gc [B][K][d]. OpenMP over positives with nt threads;
 * work is [nt][dens_aux_work_size(d, K)]; nk is [nt][K] row pointers.
 * The per-positive sums are added serially, so the result does not depend on
 * the thread count.
 */
NB_ISA_CLONES static double DENS_CAT(dens_aux_batch, SUF)(int32_t B, int32_t K, int32_t d, double gamma,
                                            const REAL *const *gw, const REAL *U,
                                            const REAL *I, const int32_t *users,
                                            const int32_t *pos, const int32_t *negs,
                                            int nt, double *work, const REAL **nk,
                                            double *lossb, double *tb, double *tmean,
                                            REAL *gu, REAL *gp, REAL *gn, REAL *ga,
                                            REAL *gc, REAL *pr)
{
    int64_t ws = dens_aux_work_size(d, K);
    double scale = gamma / (4.0 * B);
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int32_t b = 0; b < B; b++) {
#ifdef _OPENMP
        int th = omp_get_thread_num();
#else
        int th = 0;
#endif
        const REAL **rows = nk + (int64_t)th * K;
        for (int32_t k = 0; k < K; k++) rows[k] = I + (int64_t)negs[(int64_t)b * K + k] * d;
        int64_t o = (int64_t)b * d, ok = (int64_t)b * K * d;
        lossb[b] = DENS_CAT(dens_aux_one, SUF)(
            d, K, scale, gw, U + (int64_t)users[b] * d, I + (int64_t)pos[b] * d,
            (const REAL *const *)rows, tb + 4 * (int64_t)b, gu + o, gp + o, gn + ok,
            ga + o, gc + ok, pr + o, work + ws * th);
    }
    double s = 0.0, tm[4] = {0, 0, 0, 0};
    for (int32_t b = 0; b < B; b++) {
        s += lossb[b];
        for (int q = 0; q < 4; q++) tm[q] += tb[4 * (int64_t)b + q];
    }
    if (tmean) for (int q = 0; q < 4; q++) tmean[q] = tm[q] / B;
    return gamma / 4.0 * s / B;
}

/* w[i] += a[t] x[t][i] for t = 0..n-1 in order (n <= 4), skipping a
 * zero a[t] as a row at a time does; with four terms the row is read and
 * written once. */
static inline void DENS_CAT(dens_rows_axpy4, SUF)(int32_t d, REAL *w, const REAL *a,
                                                 const REAL *const *x, int32_t n)
{
    if (n == 4 && a[0] != 0 && a[1] != 0 && a[2] != 0 && a[3] != 0) {
        const REAL *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
        REAL a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
        for (int32_t i = 0; i < d; i++) {
            REAL v = w[i];
            v += a0 * x0[i];
            v += a1 * x1[i];
            v += a2 * x2[i];
            v += a3 * x3[i];
            w[i] = v;
        }
        return;
    }
    for (int32_t t = 0; t < n; t++) {
        if (a[t] == 0) continue;
        const REAL *xt = x[t];
        REAL at = a[t];
        for (int32_t i = 0; i < d; i++) w[i] += at * xt[i];
    }
}

/*
 * Adds (+=) the gate weight gradients of a batch to gg[DENS_N_GW] from the
 * per-positive outputs of dens_aux_batch:
 *   W_ig += sum_b ga_b p_b^T   W_ug += sum_b ga_b u_b^T   b_ig, b_ug += sum_b ga_b
 *   W_ng += sum_bk gc_bk n_bk^T   W_pg += sum_bk gc_bk pr_b^T   b_ng, b_pg += sum gc
 * Each thread owns a range of output rows and every row sums over b in
 * order, so the result is the same for any thread count.
 */
NB_ISA_CLONES static void DENS_CAT(dens_aux_wgrad, SUF)(int32_t B, int32_t K, int32_t d, const REAL *U,
                                          const REAL *I, const int32_t *users,
                                          const int32_t *pos, const int32_t *negs,
                                          const REAL *ga, const REAL *gc, const REAL *pr,
                                          int nt, REAL *const *gg)
{
    (void)nt;
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        int T = omp_get_num_threads(), th = omp_get_thread_num();
#else
        int T = 1, th = 0;
#endif
        /* this thread's rows [j0, j1); each row sums over b in order */
        int32_t j0 = (int32_t)((int64_t)d * th / T), j1 = (int32_t)((int64_t)d * (th + 1) / T);
        if (DENS_CAT(dens_wgrad_blk_ok, SUF)(d)) {
            DENS_CAT(dens_aux_wgrad_blk, SUF)(B, K, d, j0, j1, U, I, users, pos, negs, ga, gc, pr,
                                              gg);
        } else {
            /* blocks of four positives (or (positive, k) pairs): a row of a
             * gradient matrix is read and written once per block, its four
             * updates added in order, so the sums are those of one at a time */
            for (int32_t b0 = 0; b0 < B; b0 += 4) {
                int32_t nb = B - b0 < 4 ? B - b0 : 4;
                const REAL *P[4], *Uu[4];
                for (int32_t t = 0; t < nb; t++) {
                    P[t] = I + (int64_t)pos[b0 + t] * d;
                    Uu[t] = U + (int64_t)users[b0 + t] * d;
                }
                for (int32_t j = j0; j < j1; j++) {
                    REAL a[4];
                    for (int32_t t = 0; t < nb; t++) {
                        a[t] = ga[(int64_t)(b0 + t) * d + j];
                        gg[DENS_B_ITEM][j] += a[t];
                        gg[DENS_B_USER][j] += a[t];
                    }
                    DENS_CAT(dens_rows_axpy4, SUF)(d, gg[DENS_W_ITEM] + (int64_t)j * d, a, P, nb);
                    DENS_CAT(dens_rows_axpy4, SUF)(d, gg[DENS_W_USER] + (int64_t)j * d, a, Uu, nb);
                }
            }
            int64_t S = (int64_t)B * K; /* (b, k) pairs, k fastest */
            for (int64_t s0 = 0; s0 < S; s0 += 4) {
                int32_t ns = S - s0 < 4 ? (int32_t)(S - s0) : 4;
                const REAL *N[4], *R[4];
                for (int32_t t = 0; t < ns; t++) {
                    N[t] = I + (int64_t)negs[s0 + t] * d;
                    R[t] = pr + (s0 + t) / K * d;
                }
                for (int32_t j = j0; j < j1; j++) {
                    REAL c[4];
                    for (int32_t t = 0; t < ns; t++) {
                        c[t] = gc[(s0 + t) * d + j];
                        gg[DENS_B_NEG][j] += c[t];
                        gg[DENS_B_POS][j] += c[t];
                    }
                    DENS_CAT(dens_rows_axpy4, SUF)(d, gg[DENS_W_NEG] + (int64_t)j * d, c, N, ns);
                    DENS_CAT(dens_rows_axpy4, SUF)(d, gg[DENS_W_POS] + (int64_t)j * d, c, R, ns);
                }
            }
        }
    }
}

/*
 * The auxiliary terms for one positive on a graph view with nl = L+1 layers
 * and pooling weight c (mean 1/nl, sum 1), K = 1. ur, prw, nrw [nl] point at
 * the layer rows u^(l), p^(l) and n^(l) (the layer-l pick), [d] each. Per
 * layer, with the shared gates:
 *   g_p^(l) = sigmoid(W_ig p^(l) + b_ig + W_ug u^(l) + b_ug), p_r^(l) = p^(l) g_p^(l)
 *   g_n^(l) = sigmoid(W_ng n^(l) + b_ng + W_pg p_r^(l) + b_pg), n_r^(l) = n^(l) g_n^(l)
 * then u = c sum_l u^(l), P_r = c sum_l p_r^(l), P_ir = c sum_l (p^(l) - p_r^(l)),
 * N_r, N_ir likewise, and T1..T4 as dens_aux_one on these pooled vectors.
 * Returns T1+T2+T3+T4; t[4] (nullable) receives them. When scale != 0 writes
 * (=) the gradient of scale*(T1+..+T4) w.r.t. the layer rows, gu, gp, gn
 * [nl][d], and per layer ga [nl][d] (positive-gate pre-activation), gc
 * [nl][d] (negative gate) and pr_out [nl][d] (p_r^(l)). cgp, cpr, cgn
 * ([nl][d] each, all or none) are the gates g_p^(l), p_r^(l), g_n^(l) when
 * the selection kept them (dens_select_graph_batch), else NULL: the gates
 * run here. wd (nullable) is dens_gates_double of gw: the transposed
 * products read it. work holds dens_aux_graph_work_size(d, nl) doubles.
 */
static inline double DENS_CAT(dens_aux_graph_one, SUF)(int32_t d, int32_t nl, double c, double scale,
                                                const REAL *const *gw, const REAL *const *ur,
                                                const REAL *const *prw, const REAL *const *nrw,
                                                const double *cgp, const double *cpr,
                                                const double *cgn, const double *wd,
                                                double *t, REAL *gu,
                                                REAL *gp, REAL *gn, REAL *ga, REAL *gc,
                                                REAL *pr_out, double *work)
{
    int64_t nd = (int64_t)nl * d;
    double *wgp = work, *wpr = wgp + nd, *wgn = wpr + nd;   /* [nl][d] each */
    double *ub = wgn + nd, *Pr = ub + d, *Pir = Pr + d, *Nr = Pir + d, *Nir = Nr + d;
    double *c0 = Nir + d, *Gu = c0 + d, *Gp = Gu + d, *Gn = Gp + d, *Gpr = Gn + d;
    double *Gc = Gpr + d, *Ga = Gc + d, *Gub = Ga + d;
    const double *gpg = cgp ? cgp : wgp, *prl = cgp ? cpr : wpr, *gng = cgp ? cgn : wgn;

    /* forward: per-layer gates, then the pooled vectors */
    for (int32_t j = 0; j < d; j++) ub[j] = Pr[j] = Pir[j] = Nr[j] = Nir[j] = 0.0;
    for (int32_t l = 0; l < nl; l++) {
        if (!cgp) {
            double *wg = wgn + (int64_t)l * d;
            DENS_CAT(dens_pos_gate, SUF)(d, gw, ur[l], prw[l], wgp + (int64_t)l * d,
                                         wpr + (int64_t)l * d);
            DENS_CAT(dens_neg_base, SUF)(d, gw, wpr + (int64_t)l * d, c0);
            DENS_CAT(dens_matvec, SUF)(d, gw[DENS_W_NEG], nrw[l], wg, 0);
            for (int32_t j = 0; j < d; j++) wg[j] = dens_sigmoid(wg[j] + c0[j]);
        }
        const double *pr = prl + (int64_t)l * d, *g = gng + (int64_t)l * d;
        for (int32_t j = 0; j < d; j++) {
            double n = (double)nrw[l][j], nr = n * g[j];
            ub[j] += (double)ur[l][j];
            Pr[j] += pr[j];
            Pir[j] += (double)prw[l][j] - pr[j];
            Nr[j] += nr;
            Nir[j] += n - nr;
        }
    }
    double spr = 0.0, spir = 0.0, snr = 0.0, snir = 0.0;
    for (int32_t j = 0; j < d; j++) {
        ub[j] *= c; Pr[j] *= c; Pir[j] *= c; Nr[j] *= c; Nir[j] *= c;
        spr += ub[j] * Pr[j];
        spir += ub[j] * Pir[j];
        snr += ub[j] * Nr[j];
        snir += ub[j] * Nir[j];
    }

    /* the four terms (K = 1) and their derivatives w.r.t. the scores */
    double dsc[4];
    double tsum = dens_terms_pooled(spr, spir, snr, snir, scale, t, dsc);
    if (scale == 0.0) return tsum;
    double dspr = dsc[0], dspir = dsc[1], dnr = dsc[2], dnir = dsc[3];

    /* backward: pooled scores -> pooled vectors -> each layer (weight c) */
    for (int32_t j = 0; j < d; j++)
        Gub[j] = c * (dspr * Pr[j] + dspir * Pir[j] + dnr * Nr[j] + dnir * Nir[j]);
    for (int32_t l = 0; l < nl; l++) {
        const double *g_p = gpg + (int64_t)l * d, *pr = prl + (int64_t)l * d;
        const double *g = gng + (int64_t)l * d;
        const REAL *p = prw[l], *n = nrw[l];
        for (int32_t j = 0; j < d; j++) {
            double cu = c * ub[j], nj = (double)n[j];
            Gu[j] = Gub[j];
            Gp[j] = dspir * cu;                       /* P_ir = c sum (p - p_r) */
            Gpr[j] = (dspr - dspir) * cu;             /* through p_r in P_r and P_ir */
            Gn[j] = (dnr * g[j] + dnir * (1.0 - g[j])) * cu;
            Gc[j] = (dnr - dnir) * cu * nj * g[j] * (1.0 - g[j]);
        }
        if (wd) {
            dens_matvec_t2d(d, wd + 3 * (int64_t)d * d, wd + 2 * (int64_t)d * d, Gc, Gn, Gpr);
        } else {
            DENS_CAT(dens_matvec_t, SUF)(d, gw[DENS_W_NEG], Gc, Gn);
            DENS_CAT(dens_matvec_t, SUF)(d, gw[DENS_W_POS], Gc, Gpr);
        }
        for (int32_t j = 0; j < d; j++) {
            Gp[j] += Gpr[j] * g_p[j];
            Ga[j] = Gpr[j] * (double)p[j] * g_p[j] * (1.0 - g_p[j]);
        }
        if (wd) {
            dens_matvec_t2d(d, wd + (int64_t)d * d, wd, Ga, Gp, Gu);
        } else {
            DENS_CAT(dens_matvec_t, SUF)(d, gw[DENS_W_ITEM], Ga, Gp);
            DENS_CAT(dens_matvec_t, SUF)(d, gw[DENS_W_USER], Ga, Gu);
        }
        int64_t o = (int64_t)l * d;
        for (int32_t j = 0; j < d; j++) {
            gu[o + j] = (REAL)Gu[j];
            gp[o + j] = (REAL)Gp[j];
            gn[o + j] = (REAL)Gn[j];
            ga[o + j] = (REAL)Ga[j];
            gc[o + j] = (REAL)Gc[j];
            pr_out[o + j] = (REAL)pr[j];
        }
    }
    return tsum;
}

/*
 * The auxiliary loss of a batch on a graph view: returns gamma/4 * mean_b
 * (T1+..+T4)_b. Ul / Il are layer-row tables ([rows][d]: the view's stacks
 * with row r*nl + l = layer l of node r); uidx, pidx, nidx [B][nl] are the
 * rows of u^(l), p^(l) and the layer-l pick. cgp, cpr, cgn [B][nl][d] (all
 * or none) are the gates kept by dens_select_graph_batch, or NULL; wd
 * (nullable) is dens_gates_double of gw. lossb
 * [B], tb [B][4], tmean [4] (nullable) as dens_aux_batch. Per-positive
 * outputs gu, gp, gn, ga, gc, pr [B][nl][d] (written). OpenMP over
 * positives with nt threads; work is [nt][dens_aux_graph_work_size(d, nl)],
 * rows is [nt][3 nl] pointers. Sums over b are serial, so the result does
 * not depend on the thread count. With the gates kept, wd given and
 * dens_blocked_ok(d), each positive runs dens_aux_graph_blk_one (the same
 * result to the rounding of double sums).
 */
NB_ISA_CLONES static double DENS_CAT(dens_aux_graph_batch_ex, SUF)(
    int32_t B, int32_t nl, int32_t d, double c, double gamma, const REAL *const *gw,
    const REAL *Ul, const REAL *Il, const int32_t *uidx, const int32_t *pidx,
    const int32_t *nidx, const double *cgp, const double *cpr, const double *cgn,
    const double *wd, int nt, double *work, const REAL **rows, double *lossb, double *tb, double *tmean, REAL *gu,
    REAL *gp, REAL *gn, REAL *ga, REAL *gc, REAL *pr)
{
    int64_t ws = dens_aux_graph_work_size(d, nl);
    double scale = gamma / (4.0 * B);
    int blk = cgp && wd && dens_blocked_ok(d); /* dens_blocked.h */
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int32_t b = 0; b < B; b++) {
#ifdef _OPENMP
        int th = omp_get_thread_num();
#else
        int th = 0;
#endif
        const REAL **r = rows + (int64_t)th * 3 * nl;
        int64_t q = (int64_t)b * nl;
        for (int32_t l = 0; l < nl; l++) {
            r[l] = Ul + (int64_t)uidx[q + l] * d;
            r[nl + l] = Il + (int64_t)pidx[q + l] * d;
            r[2 * nl + l] = Il + (int64_t)nidx[q + l] * d;
        }
        int64_t o = q * d;
        if (blk) /* the transposed products of all layers at once, element-wise on vectors */
            lossb[b] = DENS_CAT(dens_aux_graph_blk_one, SUF)(
                d, nl, c, scale, (const REAL *const *)r, (const REAL *const *)(r + nl),
                (const REAL *const *)(r + 2 * nl), cgp + o, cpr + o, cgn + o, wd,
                tb + 4 * (int64_t)b, gu + o, gp + o, gn + o, ga + o, gc + o, pr + o,
                work + ws * th);
        else
            lossb[b] = DENS_CAT(dens_aux_graph_one, SUF)(
                d, nl, c, scale, gw, (const REAL *const *)r, (const REAL *const *)(r + nl),
                (const REAL *const *)(r + 2 * nl), cgp ? cgp + o : NULL, cgp ? cpr + o : NULL,
                cgp ? cgn + o : NULL, wd, tb + 4 * (int64_t)b, gu + o, gp + o, gn + o, ga + o,
                gc + o, pr + o, work + ws * th);
    }
    double s = 0.0, tm[4] = {0, 0, 0, 0};
    for (int32_t b = 0; b < B; b++) {
        s += lossb[b];
        for (int k = 0; k < 4; k++) tm[k] += tb[4 * (int64_t)b + k];
    }
    if (tmean) for (int k = 0; k < 4; k++) tmean[k] = tm[k] / B;
    return gamma / 4.0 * s / B;
}

/* dens_aux_graph_batch_ex with the gates run here (no cache). */
static inline double DENS_CAT(dens_aux_graph_batch, SUF)(int32_t B, int32_t nl, int32_t d, double c,
                                                  double gamma, const REAL *const *gw,
                                                  const REAL *Ul, const REAL *Il,
                                                  const int32_t *uidx, const int32_t *pidx,
                                                  const int32_t *nidx, int nt, double *work,
                                                  const REAL **rows, double *lossb, double *tb,
                                                  double *tmean, REAL *gu, REAL *gp, REAL *gn,
                                                  REAL *ga, REAL *gc, REAL *pr)
{
    return DENS_CAT(dens_aux_graph_batch_ex, SUF)(B, nl, d, c, gamma, gw, Ul, Il, uidx, pidx,
                                                  nidx, NULL, NULL, NULL, NULL, nt, work, rows, lossb,
                                                  tb, tmean, gu, gp, gn, ga, gc, pr);
}

#undef DENS_CAT
#undef DENS_CAT_
