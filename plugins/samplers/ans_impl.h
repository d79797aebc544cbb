/*
 * ans_impl.h - the math of ANS (samplers.md §4.1-4.3), its ablations (§5)
 * and HNS, written once and compiled per precision: the including file
 * defines REAL (float or double) and SUF (f32 or f64) and includes this
 * header; the plugin (ans.c) uses the float instantiation, the tests the
 * double one (central finite differences, golden vectors in float64).
 *
 * Everything works on GATHERED rows, so the same code serves the plugin
 * (rows copied from the nb_view) and the tests (rows copied from their own
 * tables); scattering the row gradients back is the caller's job. Layout:
 * candidate m of positive b is row b*M+m of every [B*M][d] array.
 *
 * Per candidate (MF, L = 0; a later multi-layer version applies the same
 * per-candidate code once per layer with shared weights):
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
 *
 * Guard: |t| < 1e-12 is replaced by sign(t)·1e-12 (t = 0 by +1e-12); there
 * mu is constant in t, so no gradient flows through mu (torch gives NaN).
 */
#ifndef NB_ANS_IMPL_COMMON
#define NB_ANS_IMPL_COMMON

#include "negbench/plugin.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

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
} ans_cfg;

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

#endif /* NB_ANS_IMPL_COMMON */

/* ---------------------------------------------------------------------- */
/* Per-precision part. */

#define ANS_CAT_(a, b) a##_##b
#define ANS_CAT(a, b) ANS_CAT_(a, b)
#define ANS_FN(name) ANS_CAT(name, SUF)
#define ANS_UNUSED __attribute__((unused))

/* C[m][n] = alpha A[m][k] op(B) + beta C, op(B) = B^T ([n][k]) when trans_b,
 * else B ([k][n]); row-major (the signature of nb_host.sgemm). */
typedef void (*ANS_FN(ans_gemm_fn))(int trans_b, int64_t m, int64_t n, int64_t k,
                                     REAL alpha, const REAL *a, const REAL *b, REAL beta,
                                     REAL *c);

/* The batch work area: inputs (gathered rows), scratch and outputs. Every
 * pointer is carved from one caller-owned block by ans_carve. */
typedef struct ANS_FN(ans_batch) {
    int32_t B;
    /* inputs, filled by the caller */
    REAL *Ub;       /* [B][d] user rows */
    REAL *Pb;       /* [B][d] positive rows */
    REAL *N;        /* [B*M][d] candidate rows */
    REAL *r;        /* [B*M][d] noise, uniform in [0,1) */
    REAL *rad;      /* [B*M][d] +-1 (dir == ANS_DIR_RAD only, else NULL) */
    const REAL *Wu, *bu, *Wi, *bi, *w, *bw;  /* parameters, set by caller */
    /* scratch */
    REAL *A;        /* [B][d] user gate a */
    REAL *C;        /* [B*M][d] item gate c; after backward: dL/dN (= Gn) */
    REAL *Gn;       /* alias of C: dL/d candidate rows after backward */
    REAL *G;        /* [B*M][d] gate g (forward) */
    REAL *Gc;       /* [B*M][d] dL/dc */
    REAL *GcT;      /* [d][B*M] dL/dc transposed (weight-gradient GEMM) */
    REAL *Gu, *Gp;  /* [B][d] dL/du, dL/dp of the sampler's terms (outputs) */
    REAL *Ga;       /* [B][d] dL/da */
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

static inline ANS_UNUSED REAL ANS_FN(ans_sig)(REAL x)
{
    if (sizeof(REAL) == sizeof(float)) {
        float xf = (float)x;
        if (xf >= 0) return (REAL)(1.0f / (1.0f + expf(-xf)));
        float e = expf(xf);
        return (REAL)(e / (1.0f + e));
    }
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
#define ANS_TAKE(ptr, type, count)                                   \
    do {                                                             \
        if (base) (ptr) = (type *)(void *)(base + off);              \
        off += (((count) * sizeof(type)) + 63) & ~(size_t)63;        \
    } while (0)
    memset(w, 0, base ? sizeof *w : 0);
    ANS_TAKE(w->Ub, REAL, b * d);
    ANS_TAKE(w->Pb, REAL, b * d);
    ANS_TAKE(w->N, REAL, bm * d);
    ANS_TAKE(w->r, REAL, bm * d);
    if (cfg->dir == ANS_DIR_RAD) ANS_TAKE(w->rad, REAL, bm * d);
    ANS_TAKE(w->A, REAL, b * d);
    ANS_TAKE(w->C, REAL, bm * d);
    ANS_TAKE(w->G, REAL, bm * d);
    if (cfg->gate) {
        ANS_TAKE(w->Gc, REAL, bm * d);
        ANS_TAKE(w->GcT, REAL, bm * d);
    }
    ANS_TAKE(w->Gu, REAL, b * d);
    ANS_TAKE(w->Gp, REAL, b * d);
    ANS_TAKE(w->Ga, REAL, b * d);
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
    if (base) w->Gn = w->C;
    return off;
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
static inline ANS_UNUSED void ANS_FN(ans_augment_row)(const ans_cfg *cfg, const REAL *p,
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

/* Forward for a batch of w->B positives. select = 1 picks m* (first argmax
 * of the criterion); select = 0 keeps the caller's w->chosen (finite-
 * difference checks). Fills vec, chosen, dns, smax/smin, gain, Lc/D/O/aux.
 * Returns NB_OK, or NB_ENUMERIC when a non-finite value appears. */
static ANS_UNUSED int ANS_FN(ans_forward)(const ans_cfg *cfg, ANS_FN(ans_batch) *w,
                                          ANS_FN(ans_gemm_fn) gemm, int select)
{
    const int32_t d = cfg->d, M = cfg->M, B = w->B;
    const int64_t BM = (int64_t)B * M;
    double Lc = 0.0, D = 0.0, O = 0.0;
    int bad = 0;

    if (cfg->gate) {
        /* a = Ub W_u^T + b_u, c = N W_i^T + b_i: W stored [out][in]. */
        gemm(1, B, d, d, 1, w->Ub, w->Wu, 0, w->A);
        gemm(1, BM, d, d, 1, w->N, w->Wi, 0, w->C);
        for (int32_t b = 0; b < B; b++)
            for (int32_t k = 0; k < d; k++) w->A[(int64_t)b * d + k] += w->bu[k];
        for (int64_t row = 0; row < BM; row++)
            for (int32_t k = 0; k < d; k++) w->C[row * d + k] += w->bi[k];
    }

    #pragma omp parallel for schedule(static) reduction(+ : Lc, D, O) reduction(| : bad)
    for (int32_t b = 0; b < B; b++) {
        const REAL *u = w->Ub + (int64_t)b * d, *p = w->Pb + (int64_t)b * d;
        const REAL *a = w->A + (int64_t)b * d;
        REAL *out = w->vec + (int64_t)b * d;
        double lse_max = 0.0, lse_sum = 1.0; /* LSE over {0, z_1..z_M} */
        double best = -INFINITY, best_dns = -INFINITY;
        int32_t mstar = 0, mdns = 0;
        REAL smax = 0, smin = 0;
        for (int32_t m = 0; m < M; m++) {
            const int64_t row = (int64_t)b * M + m;
            const REAL *n = w->N + row * d, *c = w->C + row * d;
            const REAL *r = w->r + row * d, *rad = w->rad ? w->rad + row * d : NULL;
            REAL *g = w->G + row * d;
            REAL sn = 0, z = 0, dd = 0, oo = 0, tt = 0;
            for (int32_t k = 0; k < d; k++) {
                REAL gk = cfg->gate ? ANS_FN(ans_sig)(a[k] * c[k]) : 0;
                g[k] = gk;
                sn += u[k] * n[k];
                if (cfg->gate) {
                    REAL hk = n[k] * gk, hpk = p[k] * gk;
                    z += u[k] * (n[k] - hk) - u[k] * hk;
                    REAL vk = hk - hpk + (REAL)1e-6;
                    REAL yk = (p[k] - hpk) * (n[k] - hk);
                    dd += vk * vk;
                    oo += yk * yk;
                }
                REAL gm = cfg->gate ? gk : 1;
                tt += w->w[k] * (n[k] * gm) * (p[k] * gm);
            }
            if (m == 0 || sn > smax) smax = sn;
            if (m == 0 || sn < smin) smin = sn;
            if (m == 0 || (double)sn > best_dns) { best_dns = sn; mdns = m; }
            if (cfg->gate) {
                double zd = z;
                if (zd > lse_max) { lse_sum = lse_sum * exp(lse_max - zd) + 1.0; lse_max = zd; }
                else lse_sum += exp(zd - lse_max);
                D += sqrt((double)dd);
                O += sqrt((double)oo);
            }
            int guarded;
            double t = ans_guard_t((double)tt + (double)w->bw[0], &guarded);
            double mu = ans_sigmoid_d(1.0 / t);
            if (w->dbg_t) { w->dbg_t[row] = (double)tt + (double)w->bw[0]; w->dbg_mu[row] = mu; }
            if (w->dbg_dir)
                for (int32_t k = 0; k < d; k++)
                    w->dbg_dir[row * d + k] = ANS_FN(ans_sgn)((p[k] - p[k] * g[k]) -
                                                              (n[k] - n[k] * g[k]));
            double crit = sn;
            if (cfg->augment && !cfg->hns) {
                REAL s = cfg->use_mu ? (REAL)(0.1 * mu) : 1;
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
        /* the chosen candidate's vector, t and mu */
        const int64_t row = (int64_t)b * M + mstar;
        const REAL *n = w->N + row * d, *g = w->G + row * d;
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
        if (cfg->gate) Lc += w->lse[b];
    }
    w->Lc = cfg->gate ? Lc / B : 0.0;
    w->D = cfg->gate ? D / (double)BM : 0.0;
    w->O = cfg->gate ? O / (double)BM : 0.0;
    w->aux = cfg->gate ? cfg->gamma * (w->Lc + w->D + w->O) : 0.0;
    if (bad || !isfinite(w->aux)) return NB_ENUMERIC;
    return NB_OK;
}

/* Backward after ans_forward (same w). d_neg [B][d] is dL/dn~ (from the
 * host's BPR). Writes the sampler's row gradients into w->Gu, w->Gp [B][d]
 * and w->Gn [B*M][d] (overwriting, the caller scatters them) and
 * ACCUMULATES the parameter gradients into pg. Returns NB_OK or
 * NB_ENUMERIC. */
static ANS_UNUSED int ANS_FN(ans_backward)(const ans_cfg *cfg, ANS_FN(ans_batch) *w,
                                           const REAL *d_neg, ANS_FN(ans_gemm_fn) gemm,
                                           const ANS_FN(ans_pgrad) *pg)
{
    const int32_t d = cfg->d, M = cfg->M, B = w->B;
    const int64_t BM = (int64_t)B * M;
    const double kappa = cfg->gamma / (double)BM;
    const int margin = cfg->augment && !cfg->hns && cfg->use_mu;
    int bad = 0;

    #pragma omp parallel for schedule(static) reduction(| : bad)
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
            const REAL *n = w->N + row * d, *g = w->G + row * d;
            const REAL *r = w->r + row * d, *rad = w->rad ? w->rad + row * d : NULL;
            REAL *c = w->C + row * d; /* read c[k], then overwritten by dL/dn[k] */
            const int star = (m == w->chosen[b]);
            /* pass 1: the scalars of this candidate */
            REAL z = 0, dd = 0, oo = 0;
            if (cfg->gate)
                for (int32_t k = 0; k < d; k++) {
                    REAL hk = n[k] * g[k], hpk = p[k] * g[k];
                    z += u[k] * (n[k] - hk) - u[k] * hk;
                    REAL vk = hk - hpk + (REAL)1e-6, yk = (p[k] - hpk) * (n[k] - hk);
                    dd += vk * vk;
                    oo += yk * yk;
                }
            double pi = cfg->gate ? exp((double)z - w->lse[b]) : 0.0;
            REAL kc = (REAL)(cfg->gamma * pi / B);
            REAL dnorm = (REAL)sqrt((double)dd), onorm = (REAL)sqrt((double)oo);
            REAL kd = dnorm > 0 ? (REAL)(kappa / dnorm) : 0;
            REAL ko = onorm > 0 ? (REAL)(kappa / onorm) : 0;
            /* the augmentation path of the chosen candidate */
            REAL rnorm = ANS_FN(ans_rnorm)(cfg, r), s = 1, gt = 0;
            if (star && margin) {
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
            /* pass 2: element-wise gradients */
            for (int32_t k = 0; k < d; k++) {
                const REAL gk = cfg->gate ? g[k] : 0;
                REAL Gg = 0, Gn = 0;
                if (star) {
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
                }
                if (cfg->gate) {
                    /* L_c */
                    REAL f = 1 - 2 * gk;
                    gu[k] += kc * n[k] * f;
                    Gn += kc * u[k] * f;
                    Gg -= 2 * kc * u[k] * n[k];
                    /* D */
                    REAL rho = kd * (n[k] * gk - p[k] * gk + (REAL)1e-6);
                    Gn += gk * rho;
                    gp[k] -= gk * rho;
                    Gg += (n[k] - p[k]) * rho;
                    /* O */
                    REAL om = 1 - gk;
                    REAL omg = ko * ((p[k] - p[k] * gk) * (n[k] - n[k] * gk));
                    gp[k] += n[k] * om * om * omg;
                    Gn += p[k] * om * om * omg;
                    Gg -= 2 * p[k] * n[k] * om * omg;
                    /* through g = sigmoid(a c) */
                    REAL Gz = Gg * gk * (1 - gk);
                    REAL Gc = Gz * a[k];
                    ga[k] += Gz * c[k];
                    w->Gc[row * d + k] = Gc;
                    w->GcT[(int64_t)k * BM + row] = Gc;
                }
                c[k] = Gn; /* C now holds dL/dn */
                if (!isfinite((double)Gn)) bad = 1;
            }
        }
    }
    if (bad) return NB_ENUMERIC;

    if (cfg->gate) {
        /* Gn += Gc W_i; dW_i += Gc^T N; db_i += sum Gc */
        gemm(0, BM, d, d, 1, w->Gc, w->Wi, 1, w->Gn);
        gemm(0, d, d, BM, 1, w->GcT, w->N, 1, pg->Wi);
        for (int64_t row = 0; row < BM; row++)
            for (int32_t k = 0; k < d; k++) pg->bi[k] += w->Gc[row * d + k];
        /* Gu += Ga W_u; dW_u += Ga^T Ub; db_u += sum Ga */
        gemm(0, B, d, d, 1, w->Ga, w->Wu, 1, w->Gu);
        for (int32_t b = 0; b < B; b++) {
            const REAL *ga = w->Ga + (int64_t)b * d, *u = w->Ub + (int64_t)b * d;
            for (int32_t o = 0; o < d; o++) {
                REAL *dst = pg->Wu + (int64_t)o * d;
                for (int32_t i = 0; i < d; i++) dst[i] += ga[o] * u[i];
                pg->bu[o] += ga[o];
            }
        }
    }
    if (margin) {
        for (int32_t b = 0; b < B; b++) {
            const REAL *gw = w->Gw + (int64_t)b * d;
            for (int32_t k = 0; k < d; k++) pg->w[k] += gw[k];
            pg->bw[0] += (REAL)w->Gbw[b];
        }
    }
    return NB_OK;
}

#undef ANS_UNUSED
#undef ANS_FN
#undef ANS_CAT
#undef ANS_CAT_
