/*
 * sgl_impl.h - the self-supervised part of SGL (Wu et al., SIGIR 2021, as
 * RecBole v1.1.1 sgl.py implements it; ../shared/specs/backbones-and-eval.md
 * 2.4): the propagation of an augmented view and its backward, and the
 * InfoNCE loss over all users / all items with its gradient. Written once
 * and instantiated per precision: define SUF (f32 / f64) and REAL (float /
 * double) and include this file after negbench/graph.h. The plugin uses the
 * float instantiation; the tests use double (finite differences, golden).
 *
 * View propagation (mean pooling, as LightGCN), layer l+1 on graph gs[l]:
 *   E^{l+1} = Ahat_l E^l,  Z = (1/(L+1)) sum_{l=0..L} E^l
 * ED/ND pass the same graph for every layer, RW one graph per layer.
 * Backward (every Ahat_l symmetric): dE0 += sum_l Ahat_0 ... Ahat_{l-1} dZ/(L+1),
 * in Horner form H <- G; for l = L-1..0: H <- G + Ahat_l H, G = dZ/(L+1).
 *
 * InfoNCE, one side (users, or items), anchors r with weight w_r (ssl_weight
 * times the anchor's multiplicity in the batch), a_r = Z1[v_r]/|.|,
 * c_v = Z2[v]/|.| for EVERY row v of the side, s_rv = a_r . c_v / tau:
 *   loss = sum_r w_r (lse_r - s_{r v_r}),  lse_r = log sum_v exp(s_rv)
 *   da_r = w_r (sum_v pi_rv c_v - c_{v_r}) / tau,
 *   dc_v += sum_r w_r pi_rv a_r / tau,  dc_{v_r} -= w_r a_r / tau
 * with pi_rv = exp(s_rv - lse_r); normalisation x -> x / max(|x|, 1e-12)
 * (F.normalize) back-propagates as dx = (dy - y (y . dy)) / |x| (dy / 1e-12
 * below the floor). The all-row denominator is computed in blocks of at most
 * sb scores (rows in chunks of rb): pass 1 streams a log-sum-exp per row,
 * pass 2 recomputes the block, forms w pi / tau and accumulates
 * dA += P C and dC += P^T A with the gemm; no n-wide score row is kept.
 */
#include <math.h>
#include <string.h>

#define SGL_CAT_(a, b) a##_##b
#define SGL_CAT(a, b) SGL_CAT_(a, b)
#define SGL_SPMM SGL_CAT(graph_spmm, SUF)

#ifndef SGL_IMPL_COMMON
#define SGL_IMPL_COMMON
/* Floor of F.normalize. */
#define SGL_NORM_EPS 1e-12

/* Distinct ids of list [n] in first-seen order into out_ids, their counts
 * times weight into out_w; cnt [range] must be zero on entry and is left
 * zero. Returns the number of distinct ids. */
static inline int64_t sgl_distinct(const int32_t *list, int64_t n, double weight, int32_t *cnt,
                            int32_t *out_ids, double *out_w)
{
    int64_t m = 0;
    for (int64_t b = 0; b < n; b++)
        if (cnt[list[b]]++ == 0) out_ids[m++] = list[b];
    for (int64_t q = 0; q < m; q++) {
        out_w[q] = weight * (double)cnt[out_ids[q]];
        cnt[out_ids[q]] = 0;
    }
    return m;
}

/* x[c] = exp(x[c] - shift) * scale for c < n; returns sum of exp(x[c] - shift)
 * in double. Float: a 4-wide polynomial exp (Cody-Waite range reduction
 * x = k ln2 + r, |r| <= ln2/2, degree-6 Taylor polynomial of e^r, 2^k from
 * the exponent bits; relative error < 3e-7, arguments below -87 flush to
 * e^-87), written with GCC vector extensions so it vectorises on any target. */
typedef float sgl_v4f __attribute__((vector_size(16)));
typedef int32_t sgl_v4i __attribute__((vector_size(16)));

static inline sgl_v4f sgl_exp4(sgl_v4f x)
{
    const sgl_v4f lo = {-87.0f, -87.0f, -87.0f, -87.0f};
    sgl_v4i below = x < lo;
    x = (sgl_v4f)(((sgl_v4i)lo & below) | ((sgl_v4i)x & ~below));
    sgl_v4f k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x/ln2) */
    sgl_v4f r = x - k * 0.693359375f;                                     /* ln2 high part */
    r = r + k * 2.12194440e-4f;                                           /* ln2 low part */
    sgl_v4f p = r * (1.0f / 720.0f) + (1.0f / 120.0f);
    p = p * r + (1.0f / 24.0f);
    p = p * r + (1.0f / 6.0f);
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    sgl_v4i e = (__builtin_convertvector(k, sgl_v4i) + 127) << 23;
    return p * (sgl_v4f)e;
}

static inline double sgl_expscale_f32(float *x, int64_t n, double shift, double scale)
{
    double total = 0;
    const float sh = (float)shift, sc = (float)scale;
    int64_t c = 0;
    while (c + 4 <= n) { /* chunks of up to 64 values summed in float lanes */
        sgl_v4f acc = {0, 0, 0, 0};
        int64_t end = c + 64 <= n ? c + 64 : n - (n - c) % 4;
        for (; c < end; c += 4) {
            sgl_v4f v;
            memcpy(&v, x + c, sizeof v);
            v = sgl_exp4(v - sh);
            acc += v;
            v *= sc;
            memcpy(x + c, &v, sizeof v);
        }
        total += (double)acc[0] + (double)acc[1] + (double)acc[2] + (double)acc[3];
    }
    for (; c < n; c++) {
        float v = expf(x[c] - sh);
        total += v;
        x[c] = v * sc;
    }
    return total;
}

static inline double sgl_expscale_f64(double *x, int64_t n, double shift, double scale)
{
    double total = 0;
    for (int64_t c = 0; c < n; c++) {
        double v = exp(x[c] - shift);
        total += v;
        x[c] = v * scale;
    }
    return total;
}

/* The reference GEMM of the double instantiation (tests only; sizes are tiny):
 * C[m][n] = alpha A[m][k] op(B) + beta C, the nb_host sgemm contract. */
static inline void sgl_gemm_f64(int trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                                const double *a, const double *b, double beta, double *c)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t q = 0; q < k; q++) s += a[i * k + q] * (trans_b ? b[j * k + q] : b[q * n + j]);
            c[i * n + j] = alpha * s + (beta == 0.0 ? 0.0 : beta * c[i * n + j]);
        }
}
#endif /* SGL_IMPL_COMMON */

/* Z [N][d] = mean-pooled propagation of E0 [N][d] over gs[0..L) (layer l+1
 * uses gs[l]). cur, nxt [N][d] scratch. */
static void SGL_CAT(sgl_view_forward, SUF)(const nb_graph *const *gs, int32_t L, int32_t d,
                                           int64_t N, const REAL *E0, REAL *cur, REAL *nxt,
                                           REAL *Z)
{
    const int64_t nd = N * d;
    memcpy(Z, E0, (size_t)nd * sizeof(REAL));
    const REAL *x = E0;
    for (int32_t l = 0; l < L; l++) {
        SGL_SPMM(gs[l], NULL, x, d, NULL, 0, nxt, d, d);
#pragma omp parallel for schedule(static)
        for (int64_t q = 0; q < nd; q++) Z[q] += nxt[q];
        x = nxt;
        REAL *t = cur; cur = nxt; nxt = t;
    }
    const REAL inv = (REAL)1 / (REAL)(L + 1);
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < nd; q++) Z[q] *= inv;
}

/* dE0 [N][d] += the transposed view propagation of dZ [N][d] (dZ is scaled
 * by 1/(L+1) in place). H0, H1 [N][d] scratch. */
static void SGL_CAT(sgl_view_backward, SUF)(const nb_graph *const *gs, int32_t L, int32_t d,
                                            int64_t N, REAL *dZ, REAL *H0, REAL *H1, REAL *dE0)
{
    const int64_t nd = N * d;
    const REAL inv = (REAL)1 / (REAL)(L + 1);
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < nd; q++) dZ[q] *= inv;
    const REAL *h = dZ;
    for (int32_t l = L - 1; l >= 0; l--) {
        SGL_SPMM(gs[l], NULL, h, d, dZ, d, H0, d, d); /* H0 = G + Ahat_l h */
        h = H0;
        REAL *t = H0; H0 = H1; H1 = t;
    }
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < nd; q++) dE0[q] += h[q];
}

/* y = x / max(|x|, 1e-12) for the d-vector x; returns the divisor. */
static inline double SGL_CAT(sgl_normalize, SUF)(const REAL *x, int32_t d, REAL *y)
{
    double s = 0;
    for (int32_t k = 0; k < d; k++) s += (double)x[k] * (double)x[k];
    double den = fmax(sqrt(s), SGL_NORM_EPS);
    for (int32_t k = 0; k < d; k++) y[k] = (REAL)(x[k] / den);
    return den;
}

/* dx += (dy - y (y . dy)) / den (den at the floor: dy / den). */
static inline void SGL_CAT(sgl_normalize_back, SUF)(const REAL *y, const REAL *dy, double den,
                                                    int32_t d, REAL *dx)
{
    double yd = 0;
    if (den > SGL_NORM_EPS)
        for (int32_t k = 0; k < d; k++) yd += (double)y[k] * (double)dy[k];
    for (int32_t k = 0; k < d; k++) dx[k] += (REAL)(((double)dy[k] - (double)y[k] * yd) / den);
}

/* Scratch of sgl_infonce: rows_max anchors, n_max rows per side. */
typedef struct SGL_CAT(sgl_scratch, SUF) {
    REAL *An, *gA;     /* [rows_max][d] normalised anchors, their gradient */
    REAL *Cn, *gC;     /* [n_max][d] normalised view-2 rows, their gradient */
    double *den1;      /* [rows_max] anchor divisors */
    double *den2;      /* [n_max] view-2 divisors */
    double *lse;       /* [rb] per-row log-sum-exp (and running max in pass 1) */
    double *run;       /* [rb] running sums of pass 1 */
    REAL *S, *PT;      /* [sb] a block of scores, and its transpose */
    int64_t rb, sb;    /* rows per chunk, scores per block (sb >= rb) */
} SGL_CAT(sgl_scratch, SUF);

typedef void (*SGL_CAT(sgl_gemm_fn, SUF))(int trans_b, int64_t m, int64_t n, int64_t k,
                                         REAL alpha, const REAL *a, const REAL *b, REAL beta,
                                         REAL *c);

/* One side of the SSL loss (see the top of the file). Z1, Z2 [n][d] are the
 * two views' rows of this side; anchors ids[R] (distinct) with weights w[R].
 * Returns the weighted loss; accumulates dZ1 (anchor rows) and dZ2 (every
 * row). gemm: the host's sgemm (float) or sgl_gemm_f64. */
static double SGL_CAT(sgl_infonce, SUF)(SGL_CAT(sgl_gemm_fn, SUF) gemm, int32_t d, double tau,
                                        int64_t n, const REAL *Z1, const REAL *Z2,
                                        const int32_t *ids, const double *w, int64_t R,
                                        REAL *dZ1, REAL *dZ2, SGL_CAT(sgl_scratch, SUF) *sc)
{
    REAL *An = sc->An, *gA = sc->gA, *Cn = sc->Cn, *gC = sc->gC, *S = sc->S, *PT = sc->PT;
    const double invt = 1.0 / tau;
    double loss = 0;
#pragma omp parallel for schedule(static)
    for (int64_t v = 0; v < n; v++)
        sc->den2[v] = SGL_CAT(sgl_normalize, SUF)(Z2 + v * d, d, Cn + v * d);
    for (int64_t r = 0; r < R; r++)
        sc->den1[r] = SGL_CAT(sgl_normalize, SUF)(Z1 + (int64_t)ids[r] * d, d, An + r * d);
    memset(gA, 0, (size_t)(R * d) * sizeof(REAL));
    memset(gC, 0, (size_t)(n * d) * sizeof(REAL));

    for (int64_t r0 = 0; r0 < R; r0 += sc->rb) {
        const int64_t rc = R - r0 < sc->rb ? R - r0 : sc->rb;
        const int64_t cb = sc->sb / rc;
        const REAL *A = An + r0 * d;
        double *m = sc->lse, *run = sc->run;
        for (int64_t r = 0; r < rc; r++) { m[r] = -HUGE_VAL; run[r] = 0; }
        /* pass 1: streamed log-sum-exp of every row over all n columns */
        for (int64_t c0 = 0; c0 < n; c0 += cb) {
            const int64_t nc = n - c0 < cb ? n - c0 : cb;
            gemm(1, rc, nc, d, (REAL)invt, A, Cn + c0 * d, 0, S);
#pragma omp parallel for schedule(static)
            for (int64_t r = 0; r < rc; r++) {
                REAL *s = S + r * nc;
                double mx = s[0];
                for (int64_t c = 1; c < nc; c++) mx = s[c] > mx ? s[c] : mx;
                if (mx > m[r]) { run[r] *= exp(m[r] - mx); m[r] = mx; }
                run[r] += SGL_CAT(sgl_expscale, SUF)(s, nc, m[r], 1.0);
            }
        }
        for (int64_t r = 0; r < rc; r++) m[r] += log(run[r]); /* m = lse */
        /* pass 2: P = w pi / tau, dA += P C, dC += P^T A */
        for (int64_t c0 = 0; c0 < n; c0 += cb) {
            const int64_t nc = n - c0 < cb ? n - c0 : cb;
            gemm(1, rc, nc, d, (REAL)invt, A, Cn + c0 * d, 0, S);
#pragma omp parallel for schedule(static)
            for (int64_t r = 0; r < rc; r++)
                SGL_CAT(sgl_expscale, SUF)(S + r * nc, nc, m[r], w[r0 + r] * invt);
            gemm(0, rc, d, nc, 1, S, Cn + c0 * d, 1, gA + r0 * d);
#pragma omp parallel for schedule(static)
            for (int64_t c = 0; c < nc; c++)
                for (int64_t r = 0; r < rc; r++) PT[c * rc + r] = S[r * nc + c];
            gemm(0, nc, d, rc, 1, PT, A, 1, gC + c0 * d);
        }
        /* the anchor's own pair */
        for (int64_t r = 0; r < rc; r++) {
            const int64_t q = r0 + r, v = ids[q];
            const REAL *a = An + q * d, *c = Cn + v * d;
            double dot = 0;
            for (int32_t k = 0; k < d; k++) dot += (double)a[k] * (double)c[k];
            loss += w[q] * (m[r] - dot * invt);
            const double f = w[q] * invt;
            for (int32_t k = 0; k < d; k++) {
                gA[q * d + k] -= (REAL)(f * c[k]);
                gC[v * d + k] -= (REAL)(f * a[k]);
            }
        }
    }
    for (int64_t r = 0; r < R; r++)
        SGL_CAT(sgl_normalize_back, SUF)(An + r * d, gA + r * d, sc->den1[r], d,
                                         dZ1 + (int64_t)ids[r] * d);
#pragma omp parallel for schedule(static)
    for (int64_t v = 0; v < n; v++)
        SGL_CAT(sgl_normalize_back, SUF)(Cn + v * d, gC + v * d, sc->den2[v], d, dZ2 + v * d);
    return loss;
}

#undef SGL_SPMM
#undef SGL_CAT
#undef SGL_CAT_
