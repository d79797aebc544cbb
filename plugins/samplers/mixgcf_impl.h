/*
 * mixgcf_impl.h - the math of MixGCF on MF, written once and compiled per
 * precision: define REAL (element type) and SUF (function suffix), then
 * include this file (mixgcf.c: float/f32; the tests: double/f64). Dot
 * products accumulate in double.
 *
 * Source: MixGCF (Huang et al., KDD 2021), official code
 * huangtinglin/MixGCF @e659f4a, modules/LightGCN.py:138-204; see
 * docs/methods/mixgcf.md. With one layer (MF) hop mixing is a no-op
 * and what remains is positive mixing followed by DNS on the mixed vectors
 * (as in the ANS authors' RecBole port, PNN-RecBole mixgcf.py, n_layers 0):
 *   n'_m = alpha p + (1 - alpha) n_m     one alpha ~ U(0,1) per positive
 *   m*   = first argmax_m u . n'_m       (index detached)
 *   negative = n'_{m*}; gradient: dL/dp += alpha g, dL/dn_{m*} += (1-alpha) g
 * The host's BPR and its squared regulariser on the mixed vector n'_{m*}
 * supply g.
 *
 * Graph backbones (L > 0 layers, stacks [rows][L+1][e], hop mixing):
 *   n'^(l)_m = alpha_l p^(l) + (1 - alpha_l) n^(l)_m   alpha_l per (positive, layer)
 *   m*_l     = first argmax_m us_l . n'^(l)_m          us_l = pooled user (mean,
 *                                                      sum) or u^(l) (concat)
 *   negative = pool_l(n'^(l)_{m*_l})                    in the view's final space
 *   gradient: layer l of p gets alpha_l P_l^T g, layer l of n_{m*_l} gets
 *   (1 - alpha_l) P_l^T g, with P_l^T g = c g (mean c = 1/(L+1), sum c = 1)
 *   or the l-th slice of g (concat).
 */
#include "sampler_common.h"

#define MIXGCF_CAT_(a, b) a##_##b
#define MIXGCF_CAT(a, b) MIXGCF_CAT_(a, b)

#if defined(__SSE2__) && !defined(MIXGCF_SCORES4_DEFINED)
#define MIXGCF_SCORES4_DEFINED
#include <emmintrin.h>
/* The mixed scores of four candidate rows n[0..3] (float, d a multiple of
 * 4), each with the operations of mixgcf_select_one's loop in its order, so
 * the same bits: x = alpha p + beta n rounded to float, four double partial
 * sums of u x (lanes (s0, s1), (s2, s3)), (s0 + s1) + (s2 + s3). Four
 * independent chains, where one candidate alone waits on its adds. */
static inline void mixgcf_scores4_f32(int32_t d, float alpha, float beta, const float *u,
                                      const float *p, const float *const n[4], double out[4])
{
    const __m128 a4 = _mm_set1_ps(alpha), b4 = _mm_set1_ps(beta);
    __m128d lo[4], hi[4];
    for (int c = 0; c < 4; c++) lo[c] = hi[c] = _mm_setzero_pd();
    for (int32_t j = 0; j < d; j += 4) {
        const __m128 u4 = _mm_loadu_ps(u + j), ap = _mm_mul_ps(a4, _mm_loadu_ps(p + j));
        const __m128d ulo = _mm_cvtps_pd(u4), uhi = _mm_cvtps_pd(_mm_movehl_ps(u4, u4));
        for (int c = 0; c < 4; c++) {
            const __m128 x = _mm_add_ps(ap, _mm_mul_ps(b4, _mm_loadu_ps(n[c] + j)));
            lo[c] = _mm_add_pd(lo[c], _mm_mul_pd(ulo, _mm_cvtps_pd(x)));
            hi[c] = _mm_add_pd(hi[c], _mm_mul_pd(uhi, _mm_cvtps_pd(_mm_movehl_ps(x, x))));
        }
    }
    for (int c = 0; c < 4; c++) out[c] = nb_sum_lanes_pd(lo[c], hi[c]);
}
#endif

/* Mixed candidate scores for one positive: scores[m] = u . (alpha p +
 * (1-alpha) n_m) for the rows cand[m] of I ([rows][d]), the mixed vector
 * rounded to REAL as the official code does. Returns the first argmax (NaN
 * never wins; -1 when no score is a number). */
static int32_t MIXGCF_CAT(mixgcf_select_one, SUF)(int32_t d, int32_t M, REAL alpha,
                                                  const REAL *u, const REAL *p, const REAL *I,
                                                  const int32_t *cand, double *scores)
{
    int32_t best = -1;
    double best_s = 0.0;
    REAL beta = (REAL)1 - alpha;
#if defined(__SSE2__)
    if (sizeof(REAL) == sizeof(float) && d % 4 == 0) { /* four candidates at a time */
        for (int32_t m0 = 0; m0 < M; m0 += 4) {
            const int32_t k = M - m0 < 4 ? M - m0 : 4;
            const float *n[4];
            double x[4];
            for (int32_t q = 0; q < 4; q++)
                n[q] = (const float *)(const void *)(I + (int64_t)cand[m0 + (q < k ? q : 0)] * d);
            mixgcf_scores4_f32(d, (float)alpha, (float)beta, (const float *)(const void *)u,
                               (const float *)(const void *)p, n, x);
            for (int32_t q = 0; q < k; q++) {
                scores[m0 + q] = x[q];
                if (x[q] == x[q] && (best < 0 || x[q] > best_s)) { best = m0 + q; best_s = x[q]; }
            }
        }
        return best;
    }
#endif
    for (int32_t m = 0; m < M; m++) {
        const REAL *n = I + (int64_t)cand[m] * d;
        if (m + 2 < M) /* candidate rows are scattered: fetch one two ahead */
            nb_prefetch_row(I + (int64_t)cand[m + 2] * d, (size_t)d * sizeof(REAL));
        /* four independent partial sums in a fixed order (a single serial
         * double sum made this the sampler's bottleneck) */
        double s4[4] = {0.0, 0.0, 0.0, 0.0};
        int32_t j = 0;
        for (; j + 4 <= d; j += 4)
            for (int32_t t = 0; t < 4; t++) {
                REAL x = alpha * p[j + t] + beta * n[j + t];
                s4[t] += (double)u[j + t] * (double)x;
            }
        for (; j < d; j++) {
            REAL x = alpha * p[j] + beta * n[j];
            s4[0] += (double)u[j] * (double)x;
        }
        double s = (s4[0] + s4[1]) + (s4[2] + s4[3]);
        scores[m] = s;
        if (s == s && (best < 0 || s > best_s)) { best = m; best_s = s; }
    }
    return best;
}

/* out [d] = alpha p + (1-alpha) n, with the same rounding as the scores. */
static void MIXGCF_CAT(mixgcf_mix, SUF)(int32_t d, REAL alpha, const REAL *p, const REAL *n,
                                        REAL *out)
{
    REAL beta = (REAL)1 - alpha;
    for (int32_t j = 0; j < d; j++) out[j] = alpha * p[j] + beta * n[j];
}

/* Route a gradient g [d] w.r.t. the mixed vector: gp += alpha g,
 * gn += (1-alpha) g (gp and gn may be the same row). */
static void MIXGCF_CAT(mixgcf_route, SUF)(int32_t d, REAL alpha, const REAL *g, REAL *gp,
                                          REAL *gn)
{
    REAL beta = (REAL)1 - alpha;
    for (int32_t j = 0; j < d; j++) {
        gp[j] += alpha * g[j];
        gn[j] += beta * g[j];
    }
}

/*
 * Hop mixing for one positive on a graph view with nl = L+1 layers of width
 * e. Ul / Il are the stacks ([rows][nl][e]); ubar [e] is the pooled user row
 * (pool mean/sum) or NULL (concat: each layer is scored with u^(l)); alpha
 * [nl]. For each l, chosen[l] = the item cand[m*_l] with m*_l the first
 * argmax_m us_l . n'^(l)_m (scores [nl][M] receive the criteria; candl [M]
 * is scratch). Returns 0, or -1 when a layer has no finite score.
 */
static inline int MIXGCF_CAT(mixgcf_select_layers, SUF)(int32_t e, int32_t nl, int32_t M,
                                                 const REAL *alpha, const REAL *ubar,
                                                 const REAL *Ul, const REAL *Il, int32_t user,
                                                 int32_t pos, const int32_t *cand,
                                                 int32_t *candl, double *scores,
                                                 int32_t *chosen)
{
    for (int32_t l = 0; l < nl; l++) {
        /* rows of layer l seen as a table of e-wide rows: item i -> i*nl + l */
        for (int32_t m = 0; m < M; m++) candl[m] = cand[m] * nl + l;
        const REAL *us = ubar ? ubar : Ul + ((int64_t)user * nl + l) * e;
        const REAL *p = Il + ((int64_t)pos * nl + l) * e;
        int32_t ms = MIXGCF_CAT(mixgcf_select_one, SUF)(e, M, alpha[l], us, p, Il, candl,
                                                        scores + (int64_t)l * M);
        if (ms < 0) return -1;
        chosen[l] = cand[ms];
    }
    return 0;
}

/* The synthetic negative in final space, out [df]: pool_l of the mixed rows
 * alpha_l p^(l) + (1-alpha_l) n^(l)_{chosen[l]} (each rounded to REAL as the
 * scores are). concat: out[l*e..] = mixed^(l); else out = c sum_l mixed^(l),
 * summed in double. */
static inline void MIXGCF_CAT(mixgcf_pool_mixed, SUF)(int32_t e, int32_t nl, int concat, double c,
                                               const REAL *alpha, const REAL *Il, int32_t pos,
                                               const int32_t *chosen, REAL *out)
{
    for (int32_t k = 0; k < e; k++) {
        double acc = 0.0;
        for (int32_t l = 0; l < nl; l++) {
            REAL a = alpha[l], be = (REAL)1 - a;
            REAL x = a * Il[((int64_t)pos * nl + l) * e + k] +
                     be * Il[((int64_t)chosen[l] * nl + l) * e + k];
            if (concat) out[(int64_t)l * e + k] = x;
            else acc += (double)x;
        }
        if (!concat) out[k] = (REAL)(c * acc);
    }
}

/* Route g [df] (dL/d of the pooled synthetic negative) per layer into the
 * stack gradient rows gp[l] (layer l of p) and gn[l] (layer l of
 * n_{chosen[l]}), each [e]: += alpha_l P_l^T g and (1-alpha_l) P_l^T g.
 * tmp [e] is scratch (holds c g for mean/sum). Rows may coincide. */
static inline void MIXGCF_CAT(mixgcf_route_layers, SUF)(int32_t e, int32_t nl, int concat, double c,
                                                 const REAL *alpha, const REAL *g,
                                                 REAL *const *gp, REAL *const *gn, REAL *tmp)
{
    if (!concat)
        for (int32_t k = 0; k < e; k++) tmp[k] = (REAL)(c * (double)g[k]);
    for (int32_t l = 0; l < nl; l++)
        MIXGCF_CAT(mixgcf_route, SUF)(e, alpha[l], concat ? g + (int64_t)l * e : tmp, gp[l],
                                      gn[l]);
}

#undef MIXGCF_CAT
#undef MIXGCF_CAT_
