/*
 * sgl_impl.h - the self-supervised part of SGL (Wu et al., SIGIR 2021, as
 * RecBole v1.1.1 sgl.py implements it; docs/methods/sgl.md): the propagation of an augmented view and its backward, and the
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
 * below the floor).
 *
 * The all-row denominator at SGEMM speed, in one pass: three GEMMs per
 * chunk of rb anchors (the floor's three products), each score computed
 * and exponentiated once. Since |a_r|, |c_v| <= 1, s_rv <= 1/tau, so the
 * shift m_r = 1/tau needs no maximum pass (used while exp(-2/tau) stays a
 * normal number: 2/tau <= max_span; otherwise m_r = max_v s_rv over a
 * single block). Per column block of cb rows v, with A the chunk's anchors:
 *   X = exp(C_blk A^T / tau - m)   ([nc][rc], GEMM, then exp and row sums)
 *   G^T += C_blk^T X               ([d][rc], GEMM on the block while cached)
 * X stays in ST ([n][rc] for the chunk). With S_r = sum_v exp(s_rv - m_r):
 *   lse_r = m_r + log S_r, da_r = (w_r/tau) (G_r / S_r - c_{v_r}),
 *   dC += ST (diag(w/(tau S)) A)   ([n][d], one GEMM over the chunk).
 * The host's SGEMM has no op(A), hence C's transposed copy CT ([d][nc] per
 * block, O(n d)) and the [n][rc] layout of ST: the scores are never
 * transposed. Threads: the GEMMs use the host's (BLAS) threads; the exp
 * pass runs on the calling thread, because an OpenMP region between two
 * GEMMs leaves libgomp's workers spinning against BLAS's threads (2 cores:
 * the step ran up to 2.5x slower with per-block OpenMP exp passes).
 */
#include <math.h>
#include <string.h>

#define SGL_CAT_(a, b) a##_##b
#define SGL_CAT(a, b) SGL_CAT_(a, b)
#define SGL_SPMM_RUN SGL_CAT(graph_spmm_run, SUF)
#define SGL_OPTS SGL_CAT(graph_spmm_opts, SUF)

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

/* The exp of the float instantiation: a 16-wide polynomial exp (Cody-Waite
 * range reduction x = k ln2 + r, |r| <= ln2/2, degree-6 Taylor polynomial
 * of e^r, 2^k from the exponent bits; relative error < 3e-7, arguments
 * below -87 flush to e^-87), written with GCC vector extensions so it
 * vectorises on any target. */
typedef float sgl_v16f __attribute__((vector_size(64)));
typedef int32_t sgl_v16i __attribute__((vector_size(64)));

static inline void sgl_exp16(sgl_v16f *px)
{
    sgl_v16f x = *px, lo = {0};
    lo -= 87.0f;
    sgl_v16i below = x < lo;
    x = (sgl_v16f)(((sgl_v16i)lo & below) | ((sgl_v16i)x & ~below));
    sgl_v16f k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x/ln2) */
    sgl_v16f r = x - k * 0.693359375f;                                     /* ln2 high part */
    r = r + k * 2.12194440e-4f;                                            /* ln2 low part */
    sgl_v16f p = r * (1.0f / 720.0f) + (1.0f / 120.0f);
    p = p * r + (1.0f / 24.0f);
    p = p * r + (1.0f / 6.0f);
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    sgl_v16i e = (__builtin_convertvector(k, sgl_v16i) + 127) << 23;
    *px = p * (sgl_v16f)e;
}


/* x[v][r] = exp(x[v][r] - shift[r]) for v < nv, r < rc (row stride rc) and
 * sum[r] = sum over v of the new x[v][r] (float lanes over runs of 64 rows,
 * then double); acc [rc] scratch. (unused: not every includer needs it.) */
NB_ISA_CLONES __attribute__((unused)) static void sgl_expsum_f32(float *x, int64_t nv, int64_t rc,
                                                              const float *shift, float *acc,
                                                              double *sum)
{
    for (int64_t r = 0; r < rc; r++) sum[r] = 0;
    for (int64_t v0 = 0; v0 < nv; v0 += 64) {
        const int64_t v1 = v0 + 64 < nv ? v0 + 64 : nv;
        memset(acc, 0, (size_t)rc * sizeof *acc);
        for (int64_t v = v0; v < v1; v++) {
            float *row = x + v * rc;
            int64_t r = 0;
            for (; r + 16 <= rc; r += 16) {
                sgl_v16f e, sh, a;
                memcpy(&e, row + r, sizeof e);
                memcpy(&sh, shift + r, sizeof sh);
                memcpy(&a, acc + r, sizeof a);
                e -= sh;
                sgl_exp16(&e);
                a += e;
                memcpy(row + r, &e, sizeof e);
                memcpy(acc + r, &a, sizeof a);
            }
            for (; r < rc; r++) {
                row[r] = expf(row[r] - shift[r]);
                acc[r] += row[r];
            }
        }
        for (int64_t r = 0; r < rc; r++) sum[r] += acc[r];
    }
}

static inline void sgl_expsum_f64(double *x, int64_t nv, int64_t rc, const double *shift,
                                  double *acc, double *sum)
{
    (void)acc;
    for (int64_t r = 0; r < rc; r++) sum[r] = 0;
    for (int64_t v = 0; v < nv; v++)
        for (int64_t r = 0; r < rc; r++) {
            x[v * rc + r] = exp(x[v * rc + r] - shift[r]);
            sum[r] += x[v * rc + r];
        }
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
static inline void SGL_CAT(sgl_view_forward, SUF)(const nb_graph *const *gs, int32_t L, int32_t d,
                                           int64_t N, const REAL *E0, REAL *cur, REAL *nxt,
                                           REAL *Z)
{
    const int64_t nd = N * d;
    memcpy(Z, E0, (size_t)nd * sizeof(REAL));
    const REAL *x = E0;
    SGL_OPTS o = {.accum = Z, .accum_div = (REAL)1}; /* Z += each layer, in its tail */
    for (int32_t l = 0; l < L; l++) {
        SGL_SPMM_RUN(gs[l], NULL, x, d, nxt, d, d, &o);
        x = nxt;
        REAL *t = cur; cur = nxt; nxt = t;
    }
    const REAL inv = (REAL)1 / (REAL)(L + 1);
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < nd; q++) Z[q] *= inv;
}

/* dE0 [N][d] += the transposed view propagation of dZ [N][d] (dZ is scaled
 * by 1/(L+1) in place). H0, H1 [N][d] scratch. */
static inline void SGL_CAT(sgl_view_backward, SUF)(const nb_graph *const *gs, int32_t L, int32_t d,
                                            int64_t N, REAL *dZ, REAL *H0, REAL *H1, REAL *dE0)
{
    const int64_t nd = N * d;
    const REAL inv = (REAL)1 / (REAL)(L + 1);
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < nd; q++) dZ[q] *= inv;
    const REAL *h = dZ;
    for (int32_t l = L - 1; l >= 0; l--) {
        /* H0 = G + Ahat_l h; the last product also does dE0 += H0 in its tail */
        SGL_OPTS o = {.add = dZ, .ldadd = d, .accum = l == 0 ? dE0 : NULL,
                      .accum_div = (REAL)1, .y_scratch = l == 0};
        SGL_SPMM_RUN(gs[l], NULL, h, d, H0, d, d, &o);
        h = H0;
        REAL *t = H0; H0 = H1; H1 = t;
    }
    if (L == 0) {
#pragma omp parallel for schedule(static)
        for (int64_t q = 0; q < nd; q++) dE0[q] += h[q];
    }
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

/* Scratch of sgl_infonce for at most r_max anchors and n_max rows a side,
 * carved from one buffer by sgl_scratch_carve. */
typedef struct SGL_CAT(sgl_scratch, SUF) {
    REAL *An, *gA;     /* [r_max][d] normalised anchors, their gradient */
    REAL *Cn, *gC;     /* [n_max][d] normalised view-2 rows, their gradient */
    REAL *CT;          /* [n_max * d] Cn by column blocks, each transposed to [d][nc] */
    REAL *ST;          /* [n_max][rb] exp(score - shift) of a chunk, one row per column v */
    REAL *gAT;         /* [d][rb] sum_v exp(score - shift) c_v of a chunk, transposed */
    REAL *As;          /* [rb][d] anchors scaled by w / (tau sum) */
    REAL *shift;       /* [rb] per-anchor shift of the exponent */
    REAL *acc;         /* [rb] float partial sums */
    double *den1;      /* [r_max] anchor divisors */
    double *den2;      /* [n_max] view-2 divisors */
    double *sum;       /* [rb] sum_v exp(score - shift) per anchor */
    double *part;      /* [rb] a block's sums / maxima */
    int64_t rb, cb;    /* anchors per chunk, columns per block */
    double max_span;   /* shift = 1/tau when 2/tau <= max_span, else the row maximum */
} SGL_CAT(sgl_scratch, SUF);

/* Bytes of the buffer sgl_scratch_carve needs (64-byte aligned pieces). */
static inline size_t SGL_CAT(sgl_scratch_bytes, SUF)(int64_t r_max, int64_t n_max, int32_t d,
                                                     int64_t rb)
{
    const size_t rs = sizeof(REAL), ds = sizeof(double);
    const size_t sizes[] = {r_max * d * rs, r_max * d * rs, n_max * d * rs, n_max * d * rs,
                            n_max * d * rs, n_max * rb * rs, d * rb * rs, rb * d * rs, rb * rs,
                            rb * rs, r_max * ds, n_max * ds, rb * ds, rb * ds};
    size_t total = 0;
    for (size_t q = 0; q < sizeof sizes / sizeof sizes[0]; q++) total += (sizes[q] + 63) / 64 * 64;
    return total;
}

/* Point sc's arrays into mem (sgl_scratch_bytes(r_max, n_max, d, rb) bytes,
 * 64-byte aligned, owned by the caller); chunks of rb anchors, blocks of cb
 * columns; the fixed shift up to 2/tau = 64 (float) or 1400 (double). */
static inline void SGL_CAT(sgl_scratch_carve, SUF)(SGL_CAT(sgl_scratch, SUF) *sc, void *mem,
                                                   int64_t r_max, int64_t n_max, int32_t d,
                                                   int64_t rb, int64_t cb)
{
    char *p = mem;
#define SGL_TAKE(field, count)                                  \
    do {                                                        \
        sc->field = (void *)p;                                  \
        p += ((size_t)(count) * sizeof *sc->field + 63) / 64 * 64; \
    } while (0)
    SGL_TAKE(An, r_max * d); SGL_TAKE(gA, r_max * d); SGL_TAKE(Cn, n_max * d);
    SGL_TAKE(gC, n_max * d); SGL_TAKE(CT, n_max * d); SGL_TAKE(ST, n_max * rb);
    SGL_TAKE(gAT, d * rb); SGL_TAKE(As, rb * d); SGL_TAKE(shift, rb);
    SGL_TAKE(acc, rb); SGL_TAKE(den1, r_max); SGL_TAKE(den2, n_max);
    SGL_TAKE(sum, rb); SGL_TAKE(part, rb);
#undef SGL_TAKE
    sc->rb = rb;
    sc->cb = cb;
    sc->max_span = sizeof(REAL) == sizeof(float) ? 64.0 : 1400.0;
}

typedef void (*SGL_CAT(sgl_gemm_fn, SUF))(int trans_b, int64_t m, int64_t n, int64_t k,
                                         REAL alpha, const REAL *a, const REAL *b, REAL beta,
                                         REAL *c);

/* mx[r] = max over rows v < nv of x[v][r] (row stride rc). */
static inline void SGL_CAT(sgl_colmax, SUF)(const REAL *x, int64_t nv, int64_t rc, double *mx)
{
    for (int64_t r = 0; r < rc; r++) mx[r] = -HUGE_VAL;
    for (int64_t v = 0; v < nv; v++)
        for (int64_t r = 0; r < rc; r++) mx[r] = x[v * rc + r] > mx[r] ? x[v * rc + r] : mx[r];
}

/* One side of the SSL loss (see the top of the file). Z1, Z2 [n][d] are the
 * two views' rows of this side; anchors ids[R] (distinct) with weights w[R].
 * Returns the weighted loss; accumulates dZ1 (anchor rows) and dZ2 (every
 * row). gemm: the host's sgemm (float) or sgl_gemm_f64. */
static double SGL_CAT(sgl_infonce, SUF)(SGL_CAT(sgl_gemm_fn, SUF) gemm, int32_t d, double tau,
                                        int64_t n, const REAL *Z1, const REAL *Z2,
                                        const int32_t *ids, const double *w, int64_t R,
                                        REAL *dZ1, REAL *dZ2, SGL_CAT(sgl_scratch, SUF) *sc)
{
    REAL *An = sc->An, *gA = sc->gA, *Cn = sc->Cn, *gC = sc->gC, *CT = sc->CT, *ST = sc->ST;
    const double invt = 1.0 / tau;
    const int fixed = 2.0 * invt <= sc->max_span;      /* |score| <= 1/tau: cosines */
    const int64_t cb = fixed && sc->cb < n ? sc->cb : n; /* the row maximum needs one block */
    double loss = 0;
#pragma omp parallel for schedule(static)
    for (int64_t v = 0; v < n; v++) {
        sc->den2[v] = SGL_CAT(sgl_normalize, SUF)(Z2 + v * d, d, Cn + v * d);
        const int64_t c0 = v / cb * cb, nc = n - c0 < cb ? n - c0 : cb;
        for (int32_t k = 0; k < d; k++) CT[c0 * d + k * nc + (v - c0)] = Cn[v * d + k];
    }
    for (int64_t r = 0; r < R; r++)
        sc->den1[r] = SGL_CAT(sgl_normalize, SUF)(Z1 + (int64_t)ids[r] * d, d, An + r * d);
    memset(gC, 0, (size_t)(n * d) * sizeof(REAL));

    for (int64_t r0 = 0; r0 < R; r0 += sc->rb) {
        const int64_t rc = R - r0 < sc->rb ? R - r0 : sc->rb;
        const REAL *A = An + r0 * d;
        double *sum = sc->sum;
        for (int64_t r = 0; r < rc; r++) { sum[r] = 0; sc->shift[r] = (REAL)invt; }
        /* per column block: scores, exp and row sums, dA's sum_v e_rv c_v */
        for (int64_t c0 = 0; c0 < n; c0 += cb) {
            const int64_t nc = n - c0 < cb ? n - c0 : cb;
            REAL *X = ST + c0 * rc;
            gemm(1, nc, rc, d, (REAL)invt, Cn + c0 * d, A, 0, X);
            /* on the calling thread: an OpenMP region here would leave its
             * workers spinning against OpenBLAS's threads in the next GEMM */
            if (!fixed) {
                SGL_CAT(sgl_colmax, SUF)(X, nc, rc, sc->part);
                for (int64_t r = 0; r < rc; r++) sc->shift[r] = (REAL)sc->part[r];
            }
            SGL_CAT(sgl_expsum, SUF)(X, nc, rc, sc->shift, sc->acc, sc->part);
            for (int64_t r = 0; r < rc; r++) sum[r] += sc->part[r];
            gemm(0, d, rc, nc, 1, CT + c0 * d, X, c0 ? 1 : 0, sc->gAT);
        }
        /* loss, dA, and the anchors scaled for dC += P^T A */
        for (int64_t r = 0; r < rc; r++) {
            const int64_t q = r0 + r;
            const REAL *a = An + q * d, *c = Cn + (int64_t)ids[q] * d;
            double dot = 0;
            for (int32_t k = 0; k < d; k++) dot += (double)a[k] * (double)c[k];
            loss += w[q] * ((double)sc->shift[r] + log(sum[r]) - dot * invt);
            const double f = w[q] * invt, scale = f / sum[r];
            for (int32_t k = 0; k < d; k++) {
                gA[q * d + k] = (REAL)(scale * sc->gAT[k * rc + r] - f * c[k]);
                sc->As[r * d + k] = (REAL)(scale * a[k]);
            }
        }
        gemm(0, n, d, rc, 1, ST, sc->As, 1, gC);
        for (int64_t r = 0; r < rc; r++) { /* the anchor's own pair */
            const int64_t q = r0 + r;
            const double f = w[q] * invt;
            for (int32_t k = 0; k < d; k++) gC[(int64_t)ids[q] * d + k] -= (REAL)(f * An[q * d + k]);
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
#undef SGL_SPMM_RUN
#undef SGL_OPTS
#undef SGL_CAT
#undef SGL_CAT_
