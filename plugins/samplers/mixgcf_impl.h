/*
 * mixgcf_impl.h - the math of MixGCF on MF, written once and compiled per
 * precision: define REAL (element type) and SUF (function suffix), then
 * include this file (mixgcf.c: float/f32; the tests: double/f64). Dot
 * products accumulate in double.
 *
 * Source: MixGCF (Huang et al., KDD 2021), official code
 * huangtinglin/MixGCF @e659f4a, modules/LightGCN.py:138-204; spec
 * ../shared/specs/samplers.md §7. With one layer (MF) hop mixing is a no-op
 * and what remains is positive mixing followed by DNS on the mixed vectors
 * (as in the ANS authors' RecBole port, PNN-RecBole mixgcf.py, n_layers 0):
 *   n'_m = alpha p + (1 - alpha) n_m     one alpha ~ U(0,1) per positive
 *   m*   = first argmax_m u . n'_m       (index detached)
 *   negative = n'_{m*}; gradient: dL/dp += alpha g, dL/dn_{m*} += (1-alpha) g
 * The host's BPR and its squared regulariser on the mixed vector n'_{m*}
 * supply g. On a graph backbone each layer would pick its own m*_l with its
 * own alpha_l (not done here).
 */
#define MIXGCF_CAT_(a, b) a##_##b
#define MIXGCF_CAT(a, b) MIXGCF_CAT_(a, b)

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
    for (int32_t m = 0; m < M; m++) {
        const REAL *n = I + (int64_t)cand[m] * d;
        double s = 0.0;
        for (int32_t j = 0; j < d; j++) {
            REAL x = alpha * p[j] + beta * n[j];
            s += (double)u[j] * (double)x;
        }
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

#undef MIXGCF_CAT
#undef MIXGCF_CAT_
