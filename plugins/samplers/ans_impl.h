/*
 * ans_impl.h - the math of ANS (docs/methods/ans.md), its ablations
 * and HNS, written once and compiled per precision: the including file
 * defines REAL (float or double) and SUF (f32 or f64) and includes this
 * header; the plugin (ans.c) uses the float instantiation, the tests the
 * double one (central finite differences, golden vectors in float64).
 *
 * Everything works on GATHERED rows, so the same code serves the plugin
 * (rows copied from the nb_view) and the tests (rows copied from their own
 * tables); scattering the row gradients back is the caller's job. Candidate
 * m of positive b is "row" b*M+m. Candidates are DEDUPLICATED per batch
 * (ans_dedupe): the item gate c = W_i n + b_i depends only on the item, so
 * it is computed once per distinct item j (ml-100k: <= 1,682 distinct items
 * for 65,536 candidates), and dL/dc, dL/dn are summed per distinct item
 * (over its rows in ascending row order: deterministic) before the two
 * weight/input-gradient GEMMs. Call order per batch:
 *   fill w->cand, ans_dedupe, gather Nu[j] = row of item uitem[j],
 *   fill Ub, Pb, r (and rad), ans_forward, ans_backward, scatter
 *   Gu/Gp (per positive) and GnU (per distinct item).
 *
 * Per candidate (MF, L = 0). Graph backbones (per-layer mode) run the same code on
 * B (L+1) "positives", one per (positive, layer) pair with that layer's
 * rows u^(l), p^(l), n^(l)_m and shared weights: m* is then chosen per
 * layer, L_c and D are means over (b, l) and (b, m, l) as they are here,
 * and cfg->o_layers = L+1 turns O into the sum over layers (ans.c does the
 * gathering and pooling):
 *   a = W_u u + b_u, c_m = W_i n_m + b_i       (two GEMMs over the batch)
 *   g_m = sigmoid(a . c_m)                     (element-wise; "." = ⊙)
 *   z_m = u·(n_m.(1 - 2 g_m))                  L_c = mean_b LSE(0, z_1..z_M)
 *   D   = mean_{b,m} |n_m.g_m - p.g_m + 1e-6|  O = mean_{b,m} |p.n_m.(1-g_m)^2|
 *   t_m = w·(n_m.p.gm^2) + b_w,  gm = g_m (gm = 1 for no_dis),  mu_m = sigmoid(1/t_m)
 *   v_m = s_m . q_m . E_m,  n~_m = n_m + v_m
 *   crit_m = u·n~_m + eps (u·n~_m - u·n_m),  m* = first argmax
 *   aux = gamma (L_c + D + O)
 * with, per variant (q_m constant, carries no gradient):
 *   full / no_gain / no_dis : s = 0.1 mu, q = sgn(e_dif) . r/max(|r|,1e-12), E = 1
 *   no_dir (rademacher)     : s = 0.1 mu, q = rad . r/max(|r|,1e-12),      E = 1
 *   no_dir (raw)            : s = 0.1 mu, q = r/max(|r|,1e-12),            E = e_dif
 *   no_mag (uniform)        : s = 1,      q = sgn(e_dif) . r,              E = 1
 *   no_mag (easy)           : s = 1,      q = 1,                           E = e_dif
 *   e_dif = (p - p.g) - (n - n.g) (torch's float formula; = (p - n).(1 - g))
 * augment = 0: v = 0 and crit = u·n (DNS over the same candidates).
 * HNS: M = 1, the negative vector is h = n.g, no augmentation or selection.
 * For full / no_gain / no_dis the criterion is evaluated without forming
 * n~_m: u·n~_m - u·n_m = 0.1 mu (u . sgn(e_dif))·r / max(|r|, 1e-12), all in
 * the same vectorised pass as the gate (the other variants form n~_m).
 *
 * Speed: the element-wise passes are `omp simd` loops (reductions reordered
 * in lanes: deterministic for a given build), the float instantiation uses
 * a branch-free exp (ans_expf, relative error < 2 ulp) so the gate sigmoid
 * vectorises; the double one keeps libm's exp. Positives run on OpenMP
 * threads (w->threads) with per-positive / per-candidate outputs only; every
 * sum over positives or candidates is done in a fixed order, so results do
 * not depend on the thread count.
 *
 * Guard: |t| < 1e-12 is replaced by sign(t)·1e-12 (t = 0 by +1e-12); there
 * mu is constant in t, so no gradient flows through mu (torch gives NaN).
 */
#ifndef NB_ANS_IMPL_COMMON
#define NB_ANS_IMPL_COMMON

#include "negbench/plugin.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum ans_dir { ANS_DIR_SGN = 0, ANS_DIR_RAD = 1, ANS_DIR_ONE = 2 };
enum ans_rmode { ANS_R_UNIT = 0, ANS_R_RAW = 1, ANS_R_ONE = 2 };

/* The resolved configuration (ans.c maps the YAML variant onto it). */
typedef struct ans_cfg {
    int32_t d, M;
    double gamma, eps;   /* eps is already 0 for the no_gain variant */
    int gate;            /* 1: gates and the gamma losses exist (0: no_dis) */
    int augment;         /* 0: n~ = n and DNS selection */
    int hns;             /* 1: HNS (M must be 1) */
    int use_mu;          /* s = 0.1 mu (1) or s = 1 (0: no_mag) */
    int use_edif;        /* E = e_dif with its gradient (1) or E = 1 (0) */
    int dir;             /* enum ans_dir */
    int rmode;           /* enum ans_rmode */
    int32_t n_items;     /* bound on distinct candidates per batch (0: B*M) */
    int keep_subnormals; /* 1: the gate gradients' subnormal entries stay (slow);
                            0: zeroed before the GEMMs (ans_flush_tiny) */
    int32_t o_layers;    /* per-layer batches: each "positive" is one
                            (positive, layer) pair of L+1 layers and O is summed
                            over layers, so O = o_layers * mean over rows;
                            0 or 1: O is the plain mean (MF) */
} ans_cfg;

/* The factor on O: the number of layers it is summed over (1 on MF). */
static inline double ans_o_mul(const ans_cfg *cfg)
{
    return cfg->o_layers > 1 ? (double)cfg->o_layers : 1.0;
}

#define ANS_T_GUARD 1e-12

/* |t| floored at 1e-12 keeping the sign (0 -> +1e-12); *guarded set. */
static inline double ans_guard_t(double t, int *guarded)
{
    *guarded = fabs(t) < ANS_T_GUARD;
    if (!*guarded) return t;
    return t < 0 ? -ANS_T_GUARD : ANS_T_GUARD;
}

/* Overflow-free logistic in double. */
static inline double ans_sigmoid_d(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* e^x in float without branches or calls, so that loops calling it
 * vectorise. |x| is clamped to 87 on the bit pattern (integer selects
 * if-convert, floating comparisons may trap and would not; a NaN stays a
 * NaN), so the result stays a normal float; x = n ln2 + f with
 * n = round(x / ln2) (Cody-Waite split of ln2), e^f by its degree-7 Taylor
 * polynomial (truncation < 6e-9 relative for |f| <= ln2/2), times 2^n built
 * in the exponent bits. Relative error below 2 ulp. */
static inline float ans_expf(float x)
{
    union { float f; int32_t i; } v = { x };
    const int32_t lim = 0x42ae0000; /* 87.0f */
    int32_t mag = v.i & INT32_MAX;
    mag = ((mag > lim) & (mag <= 0x7f800000)) ? lim : mag;
    v.i = (v.i & INT32_MIN) | mag;
    x = v.f;
    /* round to nearest by the 1.5 * 2^23 trick (|x / ln2| < 2^22) */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float f = x - n * 0.693359375f;
    f = f + n * 2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * f + 1.0f / 720.0f;
    p = p * f + 1.0f / 120.0f;
    p = p * f + 1.0f / 24.0f;
    p = p * f + 1.0f / 6.0f;
    p = p * f + 0.5f;
    p = p * f + 1.0f;
    p = p * f + 1.0f;
    union { uint32_t u; float f; } sc;
    sc.u = (uint32_t)((int32_t)n + 127) << 23;
    return p * sc.f;
}

/* Logistic in float through ans_expf (vectorisable, no overflow). */
static inline float ans_sigmoidf(float x)
{
    return 1.0f / (1.0f + ans_expf(-x));
}

#define ANS_INLINE static inline __attribute__((always_inline, unused))


#endif /* NB_ANS_IMPL_COMMON */

/* ---------------------------------------------------------------------- */
/* Per-precision part. */

#define ANS_CAT_(a, b) a##_##b
#define ANS_CAT(a, b) ANS_CAT_(a, b)
#define ANS_FN(name) ANS_CAT(name, SUF)
#define ANS_UNUSED __attribute__((unused))
#define ANS_IS_F32 (sizeof(REAL) == sizeof(float))

/* C[m][n] = alpha A[m][k] op(B) + beta C, op(B) = B^T ([n][k]) when trans_b,
 * else B ([k][n]); row-major (the signature of nb_host.sgemm). */
typedef void (*ANS_FN(ans_gemm_fn))(int trans_b, int64_t m, int64_t n, int64_t k,
                                     REAL alpha, const REAL *a, const REAL *b, REAL beta,
                                     REAL *c);

/* The batch work area: inputs (gathered rows), scratch and outputs. Every
 * array is carved from one caller-owned block by ans_carve; "row" = b*M+m,
 * "j" = a distinct candidate item (ans_dedupe), nU of them. */
typedef struct ANS_FN(ans_batch) {
    int32_t B;
    int threads;    /* OpenMP threads for the loops (0: the OpenMP default) */
    /* inputs, filled by the caller */
    const int32_t *cand; /* [B*M] candidate item ids (caller-owned) */
    int32_t *slot;  /* [n_items] all -1 between batches (caller-owned; ans_dedupe
                       uses and restores it) */
    REAL *Ub;       /* [B][d] user rows */
    REAL *Pb;       /* [B][d] positive rows */
    REAL *Nu;       /* [nU][d] distinct candidate rows: Nu[j] = row of uitem[j] */
    REAL *r;        /* [B*M][d] noise, uniform in [0,1) */
    REAL *rad;      /* [B*M][d] +-1 (dir == ANS_DIR_RAD only, else NULL) */
    const REAL *Wu, *bu, *Wi, *bi, *w, *bw;  /* parameters, set by caller */
    /* distinct candidates (ans_dedupe) */
    int32_t nU;
    int32_t *uitem; /* [nU] item id of j, in order of first appearance */
    int32_t *cidx;  /* [B*M] j of each row */
    int32_t *uptr;  /* [nU+1] rows of j: urow[uptr[j] .. uptr[j+1]), ascending */
    int32_t *urow;  /* [B*M] */
    int32_t *rpos;  /* [B*M] position of each row in urow (its slot in GnR/GcR) */
    /* scratch */
    REAL *A;        /* [B][d] user gate a */
    REAL *C;        /* [nU][d] item gate c of each distinct item */
    REAL *G;        /* [B*M][d] gate g (forward) */
    double *zc, *dnrm, *onrm; /* [B*M] z_m, |D vector|, |O vector| per row */
    double *Dsum, *Osum;      /* [B] sums of dnrm, onrm over a positive's rows */
    REAL *GnR;      /* [B*M][d] dL/dn per row, without the W_i term, stored at
                       rpos[row] so that each item's rows are contiguous */
    REAL *GcR;      /* [B*M][d] dL/dc per row, also at rpos[row] */
    REAL *GcU;      /* [nU][d] dL/dc summed per distinct item */
    REAL *GcUT;     /* [d][nU] its transpose (weight-gradient GEMM) */
    REAL *Gu, *Gp;  /* [B][d] dL/du, dL/dp of the sampler's terms (outputs) */
    REAL *GnU;      /* [nU][d] dL/d candidate row of distinct item j (output) */
    REAL *Ga;       /* [B][d] dL/da */
    REAL *GaT;      /* [d][B] its transpose */
    REAL *Gw;       /* [B][d] per-positive dL/dw */
    double *Gbw;    /* [B] per-positive dL/db_w */
    double *lse;    /* [B] LSE(0, z) of each positive */
    double *t, *mu; /* [B] guarded t and mu of the chosen candidate (|t| ==
                       1e-12 exactly marks a guarded t: no gradient via mu) */
    /* outputs */
    int32_t *chosen;  /* [B] m*; an INPUT when forward runs with select = 0 */
    int32_t *dns;     /* [B] argmax_m u·n_m (first index on ties) */
    REAL *vec;        /* [B][d] the negative vector n~_{m*} (HNS: h) */
    REAL *smax, *smin;/* [B] max / min first-pass score u·n_m */
    double *gain;     /* [B] u·(n~_{m*} - n_{m*}) */
    double Lc, D, O;  /* unweighted terms */
    double aux;       /* gamma (Lc + D + O) */
    /* optional per-candidate intermediates (tests), NULL to skip */
    double *dbg_t, *dbg_mu, *dbg_crit;  /* [B*M] */
    REAL *dbg_dir;                      /* [B*M][d] sgn(e_dif) */
} ANS_FN(ans_batch);

/* Parameter-gradient destinations, accumulated (+=); NULL entries skipped
 * only where the configuration does not use the parameter. */
typedef struct ANS_FN(ans_pgrad) {
    REAL *Wu, *bu, *Wi, *bi, *w, *bw;
} ANS_FN(ans_pgrad);

/* The gate sigmoid: vectorisable ans_sigmoidf in float, libm in double. */
ANS_INLINE REAL ANS_FN(ans_sig)(REAL x)
{
    if (ANS_IS_F32) return (REAL)ans_sigmoidf((float)x);
    return (REAL)ans_sigmoid_d((double)x);
}

static inline ANS_UNUSED REAL ANS_FN(ans_sgn)(REAL x)
{
    return (REAL)((x > 0) - (x < 0));
}

/* Lay the work area out in base (64-byte aligned pieces) for up to maxB
 * positives; returns the bytes needed (call with base = NULL to size). */
static ANS_UNUSED size_t ANS_FN(ans_carve)(ANS_FN(ans_batch) *w, const ans_cfg *cfg,
                                           int32_t maxB, char *base)
{
    size_t off = 0;
    const size_t d = (size_t)cfg->d, bm = (size_t)maxB * (size_t)cfg->M, b = (size_t)maxB;
    const size_t nu = cfg->n_items > 0 && (size_t)cfg->n_items < bm ? (size_t)cfg->n_items : bm;
#define ANS_TAKE(ptr, type, count)                                   \
    do {                                                             \
        if (base) (ptr) = (type *)(void *)(base + off);              \
        off += (((count) * sizeof(type)) + 63) & ~(size_t)63;        \
    } while (0)
    memset(w, 0, base ? sizeof *w : 0);
    ANS_TAKE(w->Ub, REAL, b * d);
    ANS_TAKE(w->Pb, REAL, b * d);
    ANS_TAKE(w->Nu, REAL, nu * d);
    ANS_TAKE(w->r, REAL, bm * d);
    if (cfg->dir == ANS_DIR_RAD) ANS_TAKE(w->rad, REAL, bm * d);
    ANS_TAKE(w->uitem, int32_t, nu);
    ANS_TAKE(w->cidx, int32_t, bm);
    ANS_TAKE(w->uptr, int32_t, nu + 1);
    ANS_TAKE(w->urow, int32_t, bm);
    ANS_TAKE(w->rpos, int32_t, bm);
    ANS_TAKE(w->A, REAL, b * d);
    ANS_TAKE(w->C, REAL, nu * d);
    ANS_TAKE(w->G, REAL, bm * d);
    ANS_TAKE(w->zc, double, bm);
    ANS_TAKE(w->dnrm, double, bm);
    ANS_TAKE(w->onrm, double, bm);
    ANS_TAKE(w->Dsum, double, b);
    ANS_TAKE(w->Osum, double, b);
    ANS_TAKE(w->GnR, REAL, bm * d);
    if (cfg->gate) {
        ANS_TAKE(w->GcR, REAL, bm * d);
        ANS_TAKE(w->GcU, REAL, nu * d);
        ANS_TAKE(w->GcUT, REAL, nu * d);
    }
    ANS_TAKE(w->GnU, REAL, nu * d);
    ANS_TAKE(w->Gu, REAL, b * d);
    ANS_TAKE(w->Gp, REAL, b * d);
    ANS_TAKE(w->Ga, REAL, b * d);
    ANS_TAKE(w->GaT, REAL, b * d);
    ANS_TAKE(w->Gw, REAL, b * d);
    ANS_TAKE(w->Gbw, double, b);
    ANS_TAKE(w->lse, double, b);
    ANS_TAKE(w->t, double, b);
    ANS_TAKE(w->mu, double, b);
    ANS_TAKE(w->chosen, int32_t, b);
    ANS_TAKE(w->dns, int32_t, b);
    ANS_TAKE(w->vec, REAL, b * d);
    ANS_TAKE(w->smax, REAL, b);
    ANS_TAKE(w->smin, REAL, b);
    ANS_TAKE(w->gain, double, b);
#undef ANS_TAKE
    return off;
}

/* Group the B*M candidates w->cand by item: uitem (first-appearance order),
 * cidx, and the row lists uptr/urow (ascending rows). Uses w->slot (all -1
 * on entry, restored on return). Serial: O(B*M). */
static ANS_UNUSED void ANS_FN(ans_dedupe)(const ans_cfg *cfg, ANS_FN(ans_batch) *w)
{
    const int64_t BM = (int64_t)w->B * cfg->M;
    int32_t nU = 0;
    for (int64_t row = 0; row < BM; row++) {
        const int32_t it = w->cand[row];
        int32_t j = w->slot[it];
        if (j < 0) {
            j = w->slot[it] = nU;
            w->uitem[nU++] = it;
        }
        w->cidx[row] = j;
    }
    memset(w->uptr, 0, ((size_t)nU + 1) * sizeof(int32_t));
    for (int64_t row = 0; row < BM; row++) w->uptr[w->cidx[row] + 1]++;
    for (int32_t j = 0; j < nU; j++) w->uptr[j + 1] += w->uptr[j];
    /* the slot of each item now serves as its fill cursor */
    for (int32_t j = 0; j < nU; j++) w->slot[w->uitem[j]] = w->uptr[j];
    for (int64_t row = 0; row < BM; row++) {
        const int32_t q = w->slot[w->cand[row]]++;
        w->urow[q] = (int32_t)row;
        w->rpos[row] = q;
    }
    for (int32_t j = 0; j < nU; j++) w->slot[w->uitem[j]] = -1;
    w->nU = nU;
}

#ifndef ANS_FTZ_DEFINED
#define ANS_FTZ_DEFINED
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
/* Flush-to-zero and denormals-are-zero on the calling thread (x86 MXCSR
 * bits 15 and 6) unless keep: subnormal results become 0 and subnormal
 * operands count as 0 (see ans_flush_tiny for why). Returns the previous
 * control word for ans_ftz_leave. Elsewhere a no-op. */
static inline unsigned ans_ftz_enter(int keep)
{
#if defined(__SSE__)
    const unsigned csr = _mm_getcsr();
    if (!keep) _mm_setcsr(csr | 0x8040u);
    return csr;
#else
    (void)keep;
    return 0;
#endif
}

/* Restore the control word ans_ftz_enter returned. */
static inline void ans_ftz_leave(unsigned csr)
{
#if defined(__SSE__)
    if (_mm_getcsr() != csr) _mm_setcsr(csr);
#else
    (void)csr;
#endif
}
#endif

/* Zero the subnormal entries of x [n] (|x| below the smallest normal
 * REAL). The gate gradients Ga and GcU feed the weight and input-gradient
 * GEMMs; a gating-loss weight gamma pi / B with a vanishing softmax share pi
 * makes many of their entries subnormal as training goes on, and every
 * multiply with a subnormal operand takes a slow microcode path on x86 (an
 * MF + ANS epoch on dens-beauty grew from 3.5 s to 27 s in 12 epochs at
 * gamma 0.2, and to 100 s later). ANS's loops also run with flush-to-zero
 * (ans_ftz_enter); this covers the GEMM's operands on a BLAS's own threads.
 * A subnormal term is below 2^-126 and is lost beside any normal term of the
 * same sum, so results change at float-rounding level only; `subnormals:
 * keep` turns both off for a comparison (docs/methods/ans.md has one). */
static ANS_UNUSED void ANS_FN(ans_flush_tiny)(REAL *x, int64_t n)
{
    const REAL tiny = sizeof(REAL) == sizeof(float) ? (REAL)FLT_MIN : (REAL)DBL_MIN;
    for (int64_t i = 0; i < n; i++)
        if (x[i] != 0 && x[i] > -tiny && x[i] < tiny) x[i] = 0;
}

/* The reference GEMM (tests; the plugin uses the host's). */
static ANS_UNUSED void ANS_FN(ans_gemm_ref)(int trans_b, int64_t m, int64_t n, int64_t k,
                                            REAL alpha, const REAL *a, const REAL *b,
                                            REAL beta, REAL *c)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0.0;
            for (int64_t q = 0; q < k; q++)
                s += (double)a[i * k + q] * (double)(trans_b ? b[j * k + q] : b[q * n + j]);
            c[i * n + j] = (REAL)(alpha * s + (beta == 0 ? 0.0 : (double)beta * c[i * n + j]));
        }
}

/* The constant part q_k of the perturbation of one candidate (no gradient),
 * given its gate row g, for element k; rnorm = max(|r|, 1e-12). */
static inline ANS_UNUSED REAL ANS_FN(ans_q)(const ans_cfg *cfg, const REAL *p, const REAL *n,
                                            const REAL *g, const REAL *r, const REAL *rad,
                                            REAL rnorm, int32_t k)
{
    REAL dir, rk;
    if (cfg->dir == ANS_DIR_SGN) {
        REAL gk = cfg->gate ? g[k] : 0;
        dir = ANS_FN(ans_sgn)((p[k] - p[k] * gk) - (n[k] - n[k] * gk));
    } else if (cfg->dir == ANS_DIR_RAD) {
        dir = rad[k];
    } else {
        dir = 1;
    }
    if (cfg->rmode == ANS_R_UNIT) rk = r[k] / rnorm;
    else if (cfg->rmode == ANS_R_RAW) rk = r[k];
    else rk = 1;
    return dir * rk;
}

/* max(|r|, 1e-12) for the unit-noise modes (1 otherwise). */
static inline ANS_UNUSED REAL ANS_FN(ans_rnorm)(const ans_cfg *cfg, const REAL *r)
{
    if (cfg->rmode != ANS_R_UNIT) return 1;
    REAL s = 0;
    for (int32_t k = 0; k < cfg->d; k++) s += r[k] * r[k];
    s = (REAL)sqrt((double)s);
    return s > (REAL)1e-12 ? s : (REAL)1e-12;
}

/* The augmented row n~ = n + s q E of one candidate into out [d]. */
ANS_INLINE void ANS_FN(ans_augment_row)(const ans_cfg *cfg, const REAL *p,
                                                      const REAL *n, const REAL *g,
                                                      const REAL *r, const REAL *rad,
                                                      REAL s, REAL *out)
{
    REAL rnorm = ANS_FN(ans_rnorm)(cfg, r);
    for (int32_t k = 0; k < cfg->d; k++) {
        REAL q = ANS_FN(ans_q)(cfg, p, n, g, r, rad, rnorm, k);
        REAL e = 1;
        if (cfg->use_edif) {
            REAL gk = cfg->gate ? g[k] : 0;
            e = (p[k] - p[k] * gk) - (n[k] - n[k] * gk);
        }
        out[k] = n[k] + s * q * e;
    }
}

/* The scalars of one candidate in one vectorised pass (writes its gate row
 * g when gate): out = {u·n, z, |D vec|^2, |O vec|^2, t - b_w, |r|^2,
 * (u.sgn(e_dif))·r}; the last two only when fast. gate and fast are
 * constants at every call site, so each instantiation is branch-free. */
ANS_INLINE void ANS_FN(ans_cand_fwd)(const int gate, const int fast, const int32_t d,
                                     const REAL *restrict u, const REAL *restrict p,
                                     const REAL *restrict n, const REAL *restrict a,
                                     const REAL *restrict c, const REAL *restrict wv,
                                     const REAL *restrict r, REAL *restrict g, REAL out[7])
{
    REAL sn = 0, z = 0, dd = 0, oo = 0, tt = 0, rr = 0, ur = 0;
    #pragma omp simd reduction(+ : sn, z, dd, oo, tt, rr, ur)
    for (int32_t k = 0; k < d; k++) {
        const REAL uk = u[k], nk = n[k], pk = p[k];
        const REAL gk = gate ? ANS_FN(ans_sig)(a[k] * c[k]) : 0;
        if (gate) g[k] = gk;
        const REAL hk = nk * gk, hpk = pk * gk;
        sn += uk * nk;
        if (gate) {
            z += uk * (nk - hk) - uk * hk;
            const REAL vk = hk - hpk + (REAL)1e-6, yk = (pk - hpk) * (nk - hk);
            dd += vk * vk;
            oo += yk * yk;
        }
        const REAL gm = gate ? gk : 1;
        tt += wv[k] * (nk * gm) * (pk * gm);
        if (fast) {
            const REAL e = (pk - hpk) - (nk - hk), rk = r[k];
            rr += rk * rk;
            ur += uk * (__builtin_isgreater(e, 0) ? rk : (__builtin_isless(e, 0) ? -rk : 0));
        }
    }
    out[0] = sn; out[1] = z; out[2] = dd; out[3] = oo; out[4] = tt; out[5] = rr; out[6] = ur;
}

/* Forward for a batch of w->B positives, after ans_dedupe and the gathers.
 * select = 1 picks m* (first argmax of the criterion); select = 0 keeps the
 * caller's w->chosen (finite-difference checks). Fills vec, chosen, dns,
 * smax/smin, gain, Lc/D/O/aux. Returns NB_OK, or NB_ENUMERIC when a
 * non-finite value appears.
 * Long on purpose (about 150 lines): one pass of the method's equations in
 * their order, compiled per instruction set (NB_ISA_CLONES). Its float
 * expressions are contracted into fused multiply-adds within the function;
 * split into calls, the contraction (and so the bits the golden trajectory
 * and finite-difference tests compare) could change per clone. */
NB_ISA_CLONES static ANS_UNUSED int ANS_FN(ans_forward)(const ans_cfg *cfg, ANS_FN(ans_batch) *w,
                                          ANS_FN(ans_gemm_fn) gemm, int select)
{
    const int32_t d = cfg->d, M = cfg->M, B = w->B, nU = w->nU;
    const int64_t BM = (int64_t)B * M;
    /* the fused criterion (see the top comment) */
    const int fast = cfg->augment && !cfg->hns && cfg->dir == ANS_DIR_SGN &&
                     cfg->rmode == ANS_R_UNIT && !cfg->use_edif && cfg->use_mu;
    int bad = 0;
#ifdef _OPENMP
    const int nth = w->threads > 0 ? w->threads : omp_get_max_threads();
#endif

    if (cfg->gate) {
        /* a = Ub W_u^T + b_u (per positive), c = Nu W_i^T + b_i (per item) */
        gemm(1, B, d, d, 1, w->Ub, w->Wu, 0, w->A);
        gemm(1, nU, d, d, 1, w->Nu, w->Wi, 0, w->C);
        for (int32_t b = 0; b < B; b++)
            for (int32_t k = 0; k < d; k++) w->A[(int64_t)b * d + k] += w->bu[k];
        for (int32_t j = 0; j < nU; j++)
            for (int32_t k = 0; k < d; k++) w->C[(int64_t)j * d + k] += w->bi[k];
    }

    #pragma omp parallel num_threads(nth)
    {
        const unsigned csr = ans_ftz_enter(cfg->keep_subnormals);
        #pragma omp for schedule(static) reduction(| : bad)
        for (int32_t b = 0; b < B; b++) {
            const REAL *u = w->Ub + (int64_t)b * d, *p = w->Pb + (int64_t)b * d;
            const REAL *a = w->A + (int64_t)b * d;
            REAL *out = w->vec + (int64_t)b * d;
            double lse_max = 0.0, lse_sum = 1.0; /* LSE over {0, z_1..z_M} */
            double best = -INFINITY, best_dns = -INFINITY, Ds = 0.0, Os = 0.0;
            int32_t mstar = 0, mdns = 0;
            REAL smax = 0, smin = 0;
            for (int32_t m = 0; m < M; m++) {
                const int64_t row = (int64_t)b * M + m;
                const int64_t j = w->cidx[row];
                const REAL *n = w->Nu + j * d, *c = w->C + j * d;
                const REAL *r = w->r + row * d, *rad = w->rad ? w->rad + row * d : NULL;
                REAL *g = w->G + row * d;
                REAL sc[7];
                if (cfg->gate) {
                    if (fast) ANS_FN(ans_cand_fwd)(1, 1, d, u, p, n, a, c, w->w, r, g, sc);
                    else ANS_FN(ans_cand_fwd)(1, 0, d, u, p, n, a, c, w->w, r, g, sc);
                } else {
                    if (fast) ANS_FN(ans_cand_fwd)(0, 1, d, u, p, n, a, c, w->w, r, g, sc);
                    else ANS_FN(ans_cand_fwd)(0, 0, d, u, p, n, a, c, w->w, r, g, sc);
                }
                const REAL sn = sc[0];
                if (m == 0 || sn > smax) smax = sn;
                if (m == 0 || sn < smin) smin = sn;
                if (m == 0 || (double)sn > best_dns) { best_dns = sn; mdns = m; }
                if (cfg->gate) {
                    const double zd = sc[1];
                    w->zc[row] = zd;
                    if (zd > lse_max) { lse_sum = lse_sum * exp(lse_max - zd) + 1.0; lse_max = zd; }
                    else lse_sum += exp(zd - lse_max);
                    Ds += w->dnrm[row] = sqrt((double)sc[2]);
                    Os += w->onrm[row] = sqrt((double)sc[3]);
                }
                int guarded;
                const double t = ans_guard_t((double)sc[4] + (double)w->bw[0], &guarded);
                const double mu = ans_sigmoid_d(1.0 / t);
                if (w->dbg_t) { w->dbg_t[row] = (double)sc[4] + (double)w->bw[0]; w->dbg_mu[row] = mu; }
                if (w->dbg_dir)
                    for (int32_t k = 0; k < d; k++) {
                        const REAL gk = cfg->gate ? g[k] : 0;
                        w->dbg_dir[row * d + k] = ANS_FN(ans_sgn)((p[k] - p[k] * gk) -
                                                                  (n[k] - n[k] * gk));
                    }
                double crit = sn;
                if (fast) {
                    const REAL s = (REAL)(0.1 * mu);
                    REAL rn = (REAL)sqrt((double)sc[5]);
                    rn = rn > (REAL)1e-12 ? rn : (REAL)1e-12;
                    const double gain = (double)s * ((double)sc[6] / (double)rn);
                    crit = (double)sn + gain + cfg->eps * gain;
                } else if (cfg->augment && !cfg->hns) {
                    const REAL s = cfg->use_mu ? (REAL)(0.1 * mu) : 1;
                    ANS_FN(ans_augment_row)(cfg, p, n, g, r, rad, s, out);
                    REAL sa = 0;
                    for (int32_t k = 0; k < d; k++) sa += u[k] * out[k];
                    crit = (double)sa + cfg->eps * ((double)sa - (double)sn);
                }
                if (w->dbg_crit) w->dbg_crit[row] = crit;
                if (select && (m == 0 || crit > best)) { best = crit; mstar = m; }
            }
            if (!select) mstar = w->chosen[b];
            w->chosen[b] = mstar;
            w->dns[b] = mdns;
            w->smax[b] = smax;
            w->smin[b] = smin;
            w->Dsum[b] = Ds;
            w->Osum[b] = Os;
            /* the chosen candidate's vector, t and mu */
            const int64_t row = (int64_t)b * M + mstar;
            const REAL *n = w->Nu + (int64_t)w->cidx[row] * d, *g = w->G + row * d;
            REAL tt = 0;
            for (int32_t k = 0; k < d; k++) {
                REAL gm = cfg->gate ? g[k] : 1;
                tt += w->w[k] * (n[k] * gm) * (p[k] * gm);
            }
            int guarded;
            w->t[b] = ans_guard_t((double)tt + (double)w->bw[0], &guarded);
            double mu = w->mu[b] = ans_sigmoid_d(1.0 / w->t[b]);
            if (cfg->hns) {
                for (int32_t k = 0; k < d; k++) out[k] = n[k] * g[k];
            } else if (cfg->augment) {
                REAL s = cfg->use_mu ? (REAL)(0.1 * mu) : 1;
                ANS_FN(ans_augment_row)(cfg, p, n, g, w->r + row * d, w->rad ? w->rad + row * d : NULL,
                                        s, out);
            } else {
                memcpy(out, n, (size_t)d * sizeof(REAL));
            }
            double gain = 0.0;
            for (int32_t k = 0; k < d; k++) {
                gain += (double)u[k] * ((double)out[k] - (double)n[k]);
                if (!isfinite((double)out[k])) bad = 1;
            }
            w->gain[b] = gain;
            w->lse[b] = lse_max + log(lse_sum);
        }
        ans_ftz_leave(csr);
    }
    /* sums over positives in b order: independent of the thread count */
    double Lc = 0.0, D = 0.0, O = 0.0;
    if (cfg->gate)
        for (int32_t b = 0; b < B; b++) { Lc += w->lse[b]; D += w->Dsum[b]; O += w->Osum[b]; }
    w->Lc = cfg->gate ? Lc / B : 0.0;
    w->D = cfg->gate ? D / (double)BM : 0.0;
    w->O = cfg->gate ? O / (double)BM : 0.0;
    if (cfg->o_layers > 1) w->O *= ans_o_mul(cfg);
    w->aux = cfg->gate ? cfg->gamma * (w->Lc + w->D + w->O) : 0.0;
    if (bad || !isfinite(w->aux)) return NB_ENUMERIC;
    return NB_OK;
}

/* The gradient of one candidate's gamma terms (L_c, D, O) in one vectorised
 * pass: its dL/dn (without the W_i term) into gn, dL/dc into gc, and the
 * positive's dL/du, dL/dp, dL/da accumulated into gu, gp, ga. */
ANS_INLINE void ANS_FN(ans_cand_bwd)(const int32_t d, const REAL kc, const REAL kd,
                                     const REAL ko, const REAL *restrict u,
                                     const REAL *restrict p, const REAL *restrict n,
                                     const REAL *restrict a, const REAL *restrict c,
                                     const REAL *restrict g, REAL *restrict gn,
                                     REAL *restrict gc, REAL *restrict gu,
                                     REAL *restrict gp, REAL *restrict ga)
{
    #pragma omp simd
    for (int32_t k = 0; k < d; k++) {
        const REAL gk = g[k], uk = u[k], nk = n[k], pk = p[k];
        /* L_c */
        const REAL f = 1 - 2 * gk;
        REAL Gn = kc * uk * f, Gg = -2 * kc * uk * nk, Gp = 0;
        gu[k] += kc * nk * f;
        /* D */
        const REAL rho = kd * (nk * gk - pk * gk + (REAL)1e-6);
        Gn += gk * rho;
        Gp -= gk * rho;
        Gg += (nk - pk) * rho;
        /* O */
        const REAL om = 1 - gk;
        const REAL omg = ko * ((pk - pk * gk) * (nk - nk * gk));
        Gp += nk * om * om * omg;
        Gn += pk * om * om * omg;
        Gg -= 2 * pk * nk * om * omg;
        gp[k] += Gp;
        /* through g = sigmoid(a c) */
        const REAL Gz = Gg * gk * (1 - gk);
        gc[k] = Gz * a[k];
        ga[k] += Gz * c[k];
        gn[k] = Gn;
    }
}

/* Backward after ans_forward (same w). d_neg [B][d] is dL/dn~ (from the
 * host's BPR). Writes the sampler's row gradients into w->Gu, w->Gp [B][d]
 * (per positive) and w->GnU [nU][d] (per distinct candidate item uitem[j]),
 * overwriting (the caller scatters them), and ACCUMULATES the parameter
 * gradients into pg. Returns NB_OK or NB_ENUMERIC.
 * Long on purpose (about 130 lines), for the reason given at ans_forward:
 * the chain rule through the same equations, in reverse, in one clone. */
NB_ISA_CLONES static ANS_UNUSED int ANS_FN(ans_backward)(const ans_cfg *cfg, ANS_FN(ans_batch) *w,
                                           const REAL *d_neg, ANS_FN(ans_gemm_fn) gemm,
                                           const ANS_FN(ans_pgrad) *pg)
{
    const int32_t d = cfg->d, M = cfg->M, B = w->B, nU = w->nU;
    const int64_t BM = (int64_t)B * M;
    const double kappa = cfg->gamma / (double)BM;
    const int margin = cfg->augment && !cfg->hns && cfg->use_mu;
#ifdef _OPENMP
    const int nth = w->threads > 0 ? w->threads : omp_get_max_threads();
#endif

    #pragma omp parallel num_threads(nth)
    {
        const unsigned csr = ans_ftz_enter(cfg->keep_subnormals);
        #pragma omp for schedule(static)
        for (int32_t b = 0; b < B; b++) {
            const REAL *u = w->Ub + (int64_t)b * d, *p = w->Pb + (int64_t)b * d;
            const REAL *a = w->A + (int64_t)b * d, *dn = d_neg + (int64_t)b * d;
            REAL *gu = w->Gu + (int64_t)b * d, *gp = w->Gp + (int64_t)b * d;
            REAL *ga = w->Ga + (int64_t)b * d, *gw = w->Gw + (int64_t)b * d;
            memset(gu, 0, (size_t)d * sizeof(REAL));
            memset(gp, 0, (size_t)d * sizeof(REAL));
            memset(ga, 0, (size_t)d * sizeof(REAL));
            memset(gw, 0, (size_t)d * sizeof(REAL));
            w->Gbw[b] = 0.0;
            for (int32_t m = 0; m < M; m++) {
                const int64_t row = (int64_t)b * M + m;
                const int64_t j = w->cidx[row];
                const REAL *n = w->Nu + j * d, *c = w->C + j * d, *g = w->G + row * d;
                const int64_t q = w->rpos[row];
                REAL *gn = w->GnR + q * d, *gc = cfg->gate ? w->GcR + q * d : NULL;
                if (cfg->gate) {
                    const double pi = exp(w->zc[row] - w->lse[b]);
                    const REAL kc = (REAL)(cfg->gamma * pi / B);
                    const REAL dnorm = (REAL)w->dnrm[row], onorm = (REAL)w->onrm[row];
                    const REAL kd = dnorm > 0 ? (REAL)(kappa / dnorm) : 0;
                    const REAL ko = onorm > 0 ? (REAL)(kappa * ans_o_mul(cfg) / onorm) : 0;
                    ANS_FN(ans_cand_bwd)(d, kc, kd, ko, u, p, n, a, c, g, gn, gc, gu, gp, ga);
                } else {
                    memset(gn, 0, (size_t)d * sizeof(REAL));
                }
                if (m != w->chosen[b]) continue;
                /* the chosen candidate: BPR through n~ (or h for HNS) */
                const REAL *r = w->r + row * d, *rad = w->rad ? w->rad + row * d : NULL;
                REAL rnorm = ANS_FN(ans_rnorm)(cfg, r), s = 1, gt = 0;
                if (margin) {
                    double mu = w->mu[b];
                    s = (REAL)(0.1 * mu);
                    if (fabs(w->t[b]) > ANS_T_GUARD) { /* guarded t: mu constant */
                        double gmu = 0.0; /* dL/dmu = 0.1 sum_k dn q E */
                        for (int32_t k = 0; k < d; k++) {
                            REAL e = 1;
                            if (cfg->use_edif) {
                                REAL gk = cfg->gate ? g[k] : 0;
                                e = (p[k] - p[k] * gk) - (n[k] - n[k] * gk);
                            }
                            gmu += (double)dn[k] * (double)ANS_FN(ans_q)(cfg, p, n, g, r, rad, rnorm, k) *
                                   (double)e;
                        }
                        gmu *= 0.1;
                        gt = (REAL)(gmu * mu * (1.0 - mu) * (-1.0 / (w->t[b] * w->t[b])));
                        w->Gbw[b] += gt;
                    }
                }
                for (int32_t k = 0; k < d; k++) {
                    const REAL gk = cfg->gate ? g[k] : 0;
                    REAL Gg = 0, Gn = 0;
                    if (cfg->hns) {
                        Gn += dn[k] * gk;
                        Gg += dn[k] * n[k];
                    } else {
                        Gn += dn[k];
                        if (margin) {
                            REAL gm = cfg->gate ? gk : 1, gm2 = gm * gm;
                            Gn += gt * w->w[k] * p[k] * gm2;
                            gp[k] += gt * w->w[k] * n[k] * gm2;
                            gw[k] += gt * n[k] * p[k] * gm2;
                            if (cfg->gate) Gg += gt * 2 * w->w[k] * n[k] * p[k] * gk;
                        }
                        if (cfg->augment && cfg->use_edif) {
                            REAL GE = s * ANS_FN(ans_q)(cfg, p, n, g, r, rad, rnorm, k) * dn[k];
                            gp[k] += GE * (1 - gk);
                            Gn -= GE * (1 - gk);
                            if (cfg->gate) Gg -= GE * (p[k] - n[k]);
                        }
                    }
                    gn[k] += Gn;
                    if (cfg->gate) {
                        const REAL Gz = Gg * gk * (1 - gk);
                        gc[k] += Gz * a[k];
                        ga[k] += Gz * c[k];
                    }
                }
            }
        }
        ans_ftz_leave(csr);
    }

    /* per distinct item: sum its rows in ascending row order */
    #pragma omp parallel num_threads(nth)
    {
        const unsigned csr = ans_ftz_enter(cfg->keep_subnormals);
        #pragma omp for schedule(static)
        for (int32_t j = 0; j < nU; j++) {
            REAL *gn = w->GnU + (int64_t)j * d, *gc = cfg->gate ? w->GcU + (int64_t)j * d : NULL;
            memset(gn, 0, (size_t)d * sizeof(REAL));
            if (gc) memset(gc, 0, (size_t)d * sizeof(REAL));
            for (int64_t q = w->uptr[j]; q < w->uptr[j + 1]; q++) {
                const REAL *sn = w->GnR + q * d;
                #pragma omp simd
                for (int32_t k = 0; k < d; k++) gn[k] += sn[k];
                if (gc) {
                    const REAL *sc = w->GcR + q * d;
                    #pragma omp simd
                    for (int32_t k = 0; k < d; k++) gc[k] += sc[k];
                }
            }
            if (gc) {
                if (!cfg->keep_subnormals) ANS_FN(ans_flush_tiny)(gc, d);
                for (int32_t k = 0; k < d; k++) w->GcUT[(int64_t)k * nU + j] = gc[k];
            }
        }
        ans_ftz_leave(csr);
    }

    if (cfg->gate) {
        /* GnU += GcU W_i; dW_i += GcU^T Nu; db_i += sum_j GcU */
        gemm(0, nU, d, d, 1, w->GcU, w->Wi, 1, w->GnU);
        gemm(0, d, d, nU, 1, w->GcUT, w->Nu, 1, pg->Wi);
        for (int32_t j = 0; j < nU; j++)
            for (int32_t k = 0; k < d; k++) pg->bi[k] += w->GcU[(int64_t)j * d + k];
        /* Gu += Ga W_u; dW_u += Ga^T Ub; db_u += sum_b Ga */
        if (!cfg->keep_subnormals) ANS_FN(ans_flush_tiny)(w->Ga, (int64_t)B * d);
        gemm(0, B, d, d, 1, w->Ga, w->Wu, 1, w->Gu);
        for (int32_t b = 0; b < B; b++)
            for (int32_t k = 0; k < d; k++) pg->bu[k] += w->Ga[(int64_t)b * d + k];
        /* GaT = Ga^T in blocks of 16 rows, so each store run fills a line: a
         * row at a time wrote d floats B apart, and with B a multiple of 1024
         * they all fell into one L1 set */
        for (int32_t b0 = 0; b0 < B; b0 += 16) {
            const int32_t b1 = b0 + 16 < B ? b0 + 16 : B;
            for (int32_t k = 0; k < d; k++)
                for (int32_t b = b0; b < b1; b++)
                    w->GaT[(int64_t)k * B + b] = w->Ga[(int64_t)b * d + k];
        }
        gemm(0, d, d, B, 1, w->GaT, w->Ub, 1, pg->Wu);
    }
    if (margin) {
        for (int32_t b = 0; b < B; b++) {
            const REAL *gw = w->Gw + (int64_t)b * d;
            for (int32_t k = 0; k < d; k++) pg->w[k] += gw[k];
            pg->bw[0] += (REAL)w->Gbw[b];
        }
    }
    /* a NaN or Inf anywhere upstream reaches these sums */
    /* (in any order: only "not zero" matters, so the sums may be vectorised;
     * a serial sum was a chain of dependent adds as long as the arrays) */
    REAL chk = 0;
    #pragma omp simd reduction(+ : chk)
    for (int64_t i = 0; i < (int64_t)nU * d; i++) chk += w->GnU[i] * 0;
    #pragma omp simd reduction(+ : chk)
    for (int64_t i = 0; i < (int64_t)B * d; i++) chk += (w->Gu[i] + w->Gp[i]) * 0;
    if (chk != 0) return NB_ENUMERIC;
    return NB_OK;
}

#undef ANS_IS_F32
#undef ANS_UNUSED
#undef ANS_FN
#undef ANS_CAT
#undef ANS_CAT_
