/*
 * negbench/sampler_kit.h - a sampler that draws candidates and picks one, in
 * a few lines: the author writes the math (how to draw, how to pick), the
 * kit writes the rest of the sampler contract of negbench/plugin.h.
 *
 * Header only, like plugin.h: plugins link nothing of the host.
 *
 * Per positive b of a batch, on the stream nb_rng_seed(seed, epoch, first + b):
 *   1. draw M candidate items for the user: spec.draw, or nb_draw_uniform
 *      (uniform, redrawn while a training positive);
 *   2. NB_KIT_SAMPLER only: sync each candidate's row (nb_view_sync) and
 *      score it, s_m = u . i_m on the view's final rows (float);
 *   3. pick one: spec.pick(scores, M, stream), or the first argmax;
 *      NB_KIT_SAMPLER_ONE (M = 1) takes its one candidate and syncs it.
 * The negative vector is the picked item's final row, the regulariser's row
 * is the picked item (R = 1), backward scatter-adds dL/dn~ into that row in
 * b order, and the statistics are reject_rate (plus cand_max_norm and
 * cand_min_norm, the normalised largest and smallest score, for
 * NB_KIT_SAMPLER). Kit samplers set NB_SAMPLER_SYNCS_ROWS and
 * NB_SAMPLER_FINAL_ONLY (they sync every row they read beyond the batch and
 * read final rows only); NB_KIT_SAMPLER_ONE also NB_SAMPLER_FEW_ROWS, and
 * rows_per_positive is M. Positives run on host->threads OpenMP threads when
 * the plugin is compiled with OpenMP (serially otherwise); the result does
 * not depend on the thread count. Nothing is allocated per batch.
 *
 * RNS, complete:
 *
 *   #include <negbench/sampler_kit.h>
 *   static const nb_param_spec rns_params[] = { NB_PARAM_END };
 *   static const nb_kit_spec rns_spec = { .m_param = NULL };
 *   NB_KIT_SAMPLER_ONE(rns, rns_spec, rns_params, "1.0.0", "uniform negative")
 *   NB_PLUGIN_EXPORT(&rns_desc)
 *
 * DNS is the same with an INT parameter "M", .m_param = "M" and
 * NB_KIT_SAMPLER (pick NULL: the first argmax).
 *
 * The statistics helpers below (nb_pass_stats_*, nb_scatter_rows, nb_dot_*)
 * serve samplers written without the kit as well.
 */
#ifndef NEGBENCH_SAMPLER_KIT_H
#define NEGBENCH_SAMPLER_KIT_H

#include "negbench/plugin.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* An OpenMP pragma, only when compiling with OpenMP (no unknown-pragma
 * warnings otherwise). */
#ifdef _OPENMP
#define NB_KIT_PRAGMA_(x) _Pragma(#x)
#else
#define NB_KIT_PRAGMA_(x)
#endif

/* The terminator of a parameter schema. */
#define NB_PARAM_END { NULL, 0, NULL, 0, 0, NULL, NULL }

/* ------------------------------------------------------------------------
 * Statistics and gradient helpers.
 *
 * Statistics of two-pass samplers (paper Fig. 1d): for each positive, the
 * largest and smallest first-pass candidate score, min-max normalised by the
 * smallest and largest first-pass candidate score of the whole batch, are
 * averaged over the epoch's positives ("cand_max_norm", "cand_min_norm").
 * "reject_rate" is the share of uniform draws that hit a training positive
 * and were redrawn.
 * ---------------------------------------------------------------------- */

/* Per-epoch counters every item-choosing sampler keeps. */
typedef struct nb_pass_stats {
    nb_draw_stats draws;
    double sum_max_norm, sum_min_norm;
    int64_t n_norm;
    nb_stat out[3];
} nb_pass_stats;

/* a . b over d REALs (nb_dot_f32, nb_dot_f64), in double with four
 * independent partial sums (one serial double sum is latency-bound: ~4
 * cycles per element); the order is fixed, so the result depends on the
 * inputs only. */
#define NB_DOT_DEFINE(SUF, REAL)                                                       \
    static inline double nb_dot_##SUF(const REAL *a, const REAL *b, int32_t d)         \
    {                                                                                  \
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;                                 \
        int32_t j = 0;                                                                 \
        for (; j + 4 <= d; j += 4) {                                                   \
            s0 += (double)a[j] * (double)b[j];                                         \
            s1 += (double)a[j + 1] * (double)b[j + 1];                                 \
            s2 += (double)a[j + 2] * (double)b[j + 2];                                 \
            s3 += (double)a[j + 3] * (double)b[j + 3];                                 \
        }                                                                              \
        for (; j < d; j++) s0 += (double)a[j] * (double)b[j];                          \
        return (s0 + s1) + (s2 + s3);                                                  \
    }
NB_DOT_DEFINE(f32, float)
NB_DOT_DEFINE(f64, double)
#undef NB_DOT_DEFINE

#if defined(__SSE2__)
/* (s0 + s1) + (s2 + s3) of the partial sums held as lo = (s0, s1), hi =
 * (s2, s3): how nb_dot_f32 ends, for the vector kernels that keep its
 * order. */
static inline double nb_sum_lanes_pd(__m128d lo, __m128d hi)
{
    double l[2], h[2];
    _mm_storeu_pd(l, lo);
    _mm_storeu_pd(h, hi);
    return (l[0] + l[1]) + (h[0] + h[1]);
}
#endif

/* out[c] = nb_dot_f32(a, b[c], d) for four rows b[0..3] at once, each with
 * the same operations in the same order (so the same bits): the four sums
 * are independent chains, where one dot alone waits on its adds. */
static inline void nb_dot4_f32(const float *a, const float *const b[4], int32_t d, double out[4])
{
#if defined(__SSE2__)
    if (d % 4 == 0) { /* lanes (s0, s1) and (s2, s3) of each dot */
        __m128d lo[4], hi[4];
        for (int c = 0; c < 4; c++) lo[c] = hi[c] = _mm_setzero_pd();
        for (int32_t j = 0; j < d; j += 4) {
            const __m128 a4 = _mm_loadu_ps(a + j);
            const __m128d alo = _mm_cvtps_pd(a4), ahi = _mm_cvtps_pd(_mm_movehl_ps(a4, a4));
            for (int c = 0; c < 4; c++) {
                const __m128 b4 = _mm_loadu_ps(b[c] + j);
                lo[c] = _mm_add_pd(lo[c], _mm_mul_pd(alo, _mm_cvtps_pd(b4)));
                hi[c] = _mm_add_pd(hi[c], _mm_mul_pd(ahi, _mm_cvtps_pd(_mm_movehl_ps(b4, b4))));
            }
        }
        for (int c = 0; c < 4; c++) out[c] = nb_sum_lanes_pd(lo[c], hi[c]);
        return;
    }
#endif
    for (int c = 0; c < 4; c++) out[c] = nb_dot_f32(a, b[c], d);
}

/* Ask for the cache lines of a row of bytes bytes at p (a hint). */
static inline void nb_prefetch_row(const void *p, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + o);
}

/* The largest and smallest first-pass score u . items[c[m]] over the M
 * candidate rows c (rows of d floats in items) into *mx and *mn, for the
 * cand_max_norm / cand_min_norm statistics of a sampler that keeps no score
 * array. Four rows at a time (nb_dot4_f32: the same bits as nb_dot_f32),
 * the next four prefetched. */
static inline void nb_first_pass_range(const float *u, const float *items, const int32_t *c,
                                       int32_t M, int32_t d, double *mx, double *mn)
{
    double hi = -INFINITY, lo = INFINITY;
    for (int32_t m0 = 0; m0 < M; m0 += 4) { /* four rows at a time (nb_dot4_f32) */
        const int32_t k = M - m0 < 4 ? M - m0 : 4;
        const float *rows[4];
        double x[4];
        for (int32_t q = 0; q < 4; q++) rows[q] = items + (int64_t)c[m0 + (q < k ? q : 0)] * d;
        for (int32_t q = m0 + 4; q < M && q < m0 + 8; q++)
            nb_prefetch_row(items + (int64_t)c[q] * d, (size_t)d * sizeof(float));
        nb_dot4_f32(u, rows, d, x);
        for (int32_t q = 0; q < k; q++) {
            if (x[q] > hi) hi = x[q];
            if (x[q] < lo) lo = x[q];
        }
    }
    *mx = hi;
    *mn = lo;
}

/* Scatter-add d_neg[b] into the gradient row of item[b], in b order. */
static inline void nb_scatter_rows(nb_block *g, const int32_t *item, const float *d_neg,
                                   int32_t B, int32_t d)
{
    for (int32_t b = 0; b < B; b++) {
        float *row = nb_block_grad_row(g, item[b]);
        const float *src = d_neg + (int64_t)b * d;
        for (int32_t k = 0; k < d; k++) row[k] += src[k];
    }
}

/* Add per-positive draw counters [B] to the epoch's totals. */
static inline void nb_pass_stats_draws(nb_pass_stats *st, const nb_draw_stats *draws, int32_t B)
{
    for (int32_t b = 0; b < B; b++) {
        st->draws.drawn += draws[b].drawn;
        st->draws.rejected += draws[b].rejected;
    }
}

/* Fold one batch's per-positive max/min first-pass scores [B] (float or
 * double arrays) into the statistics. */
#define NB_PASS_STATS_BATCH_BODY                                   \
    double lo = INFINITY, hi = -INFINITY;                          \
    for (int32_t b = 0; b < B; b++) {                              \
        if (mn[b] < lo) lo = mn[b];                                \
        if (mx[b] > hi) hi = mx[b];                                \
    }                                                              \
    if (!(hi > lo)) return;                                        \
    for (int32_t b = 0; b < B; b++) {                              \
        st->sum_max_norm += ((double)mx[b] - lo) / (hi - lo);      \
        st->sum_min_norm += ((double)mn[b] - lo) / (hi - lo);      \
    }                                                              \
    st->n_norm += B;

static inline void nb_pass_stats_batch_f(nb_pass_stats *st, const float *mx, const float *mn,
                                         int32_t B)
{
    NB_PASS_STATS_BATCH_BODY
}

static inline void nb_pass_stats_batch_d(nb_pass_stats *st, const double *mx, const double *mn,
                                         int32_t B)
{
    NB_PASS_STATS_BATCH_BODY
}

#define nb_pass_stats_batch(st, mx, mn, B)                                          \
    _Generic((mx), float *: nb_pass_stats_batch_f, const float *: nb_pass_stats_batch_f, \
             default: nb_pass_stats_batch_d)(st, mx, mn, B)

/* Publish and reset the epoch's statistics; n_out = 1 (reject rate only)
 * for one-pass samplers, 3 for two-pass ones. */
static inline void nb_pass_stats_emit(nb_pass_stats *st, int n_out, const nb_stat **stats,
                                      int *n_stats)
{
    st->out[0].name = "reject_rate";
    st->out[0].value = st->draws.drawn ? (double)st->draws.rejected / (double)st->draws.drawn : 0.0;
    st->out[1].name = "cand_max_norm";
    st->out[1].value = st->n_norm ? st->sum_max_norm / (double)st->n_norm : NAN;
    st->out[2].name = "cand_min_norm";
    st->out[2].value = st->n_norm ? st->sum_min_norm / (double)st->n_norm : NAN;
    *stats = st->out;
    *n_stats = n_out;
    st->draws.drawn = st->draws.rejected = 0;
    st->sum_max_norm = st->sum_min_norm = 0.0;
    st->n_norm = 0;
}

/* ------------------------------------------------------------------------
 * The kit.
 * ---------------------------------------------------------------------- */

/* What a kit sampler adds to the defaults; every field may be NULL. */
typedef struct nb_kit_spec {
    /* Name of the INT parameter giving M, the candidates per positive
     * (NB_KIT_SAMPLER); NULL: M = 1. NB_KIT_SAMPLER_ONE requires NULL. */
    const char *m_param;
    /* Build the sampler's own data from its parameter values (alias tables,
     * ...); *data is handed to draw, pick and teardown. Called once, after
     * the kit has checked that every user has a non-positive item. */
    int (*setup)(const nb_host *h, const nb_value *values, const nb_train *train, void **data,
                 char **err);
    /* Free what setup built. */
    void (*teardown)(const nb_host *h, void *data);
    /* One candidate for user `user` from stream r, counting draws and
     * rejections in *st; -1 if there is none. Thread-safe (data is shared).
     * NULL: nb_draw_uniform. */
    int32_t (*draw)(const void *data, nb_rng *r, const nb_train *train, int32_t user,
                    nb_draw_stats *st);
    /* The index in [0, M) of the candidate to use, from its scores [M]
     * (u . i, float) and the positive's stream after the draws.
     * Thread-safe. NULL: the first index of the largest score. */
    int32_t (*pick)(const void *data, const float *score, int32_t M, nb_rng *r);
} nb_kit_spec;

/* A kit sampler's state (owned by the kit; spec.setup's data in `data`). */
typedef struct nb_kit_state {
    const nb_kit_spec *spec;
    const char *name;         /* the plugin's name, for messages */
    const nb_host *h;
    const nb_train *train;
    void *data;               /* spec.setup's */
    int32_t dim, M, max_batch, threads;
    int one;                  /* NB_KIT_SAMPLER_ONE: no scores */
    int32_t *chosen;          /* [max_batch] picked item; -1 none drawn, -2 bad pick */
    int32_t *cand;            /* [threads][M] candidates of the positive in hand */
    float *score;             /* [threads][M] their scores */
    float *smax, *smin;       /* [max_batch] largest / smallest score */
    nb_pass_stats st;
} nb_kit_state;

/* The calling OpenMP thread's number (0 without OpenMP). */
static inline int nb_kit_thread(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* u . i over d floats (a SIMD sum under OpenMP). */
static inline float nb_kit_score(const float *u, const float *it, int32_t d)
{
    float sc = 0.0f;
    NB_KIT_PRAGMA_(omp simd reduction(+ : sc))
    for (int32_t k = 0; k < d; k++) sc += u[k] * it[k];
    return sc;
}

/* Free a kit state (NULL is fine). */
static inline void nb_kit_free(void *state)
{
    nb_kit_state *s = (nb_kit_state *)state;
    if (!s) return;
    if (s->spec->teardown && s->data) s->spec->teardown(s->h, s->data);
    s->h->free(s->chosen);
    s->h->free(s->cand);
    s->h->free(s->score);
    s->h->free(s->smax);
    s->h->free(s->smin);
    s->h->free(s);
}

/* nb_sampler_vt.init of a kit sampler named `name` with schema `params`;
 * one = 1 for NB_KIT_SAMPLER_ONE. Refuses a training set in which a user
 * has every item as a positive (no negative exists for that user). */
static inline int nb_kit_init(const nb_kit_spec *spec, const char *name,
                              const nb_param_spec *params, int one, const nb_host *h,
                              const nb_value *values, const nb_train *train, int32_t dim,
                              int32_t max_batch, void **state, char **err)
{
    int rc = NB_ENOMEM;
    nb_kit_state *s = (nb_kit_state *)h->alloc(sizeof *s);
    if (!s) {
        *err = h->mprintf("%s: out of memory", name);
        return NB_ENOMEM;
    }
    s->spec = spec;
    s->name = name;
    s->h = h;
    s->train = train;
    s->dim = dim;
    s->one = one;
    s->M = 1;
    s->max_batch = max_batch > 0 ? max_batch : 1;
    s->threads = h->threads > 0 ? h->threads : 1;
    int found = 0;
    for (int i = 0; spec->m_param && params && params[i].name; i++)
        if (!strcmp(params[i].name, spec->m_param) && params[i].type == NB_PARAM_INT) {
            s->M = (int32_t)values[i].i;
            found = 1;
        }
    if ((spec->m_param && (one || !found)) || s->M < 1) {
        *err = h->mprintf("%s: bad candidate parameter \"%s\" (M = %d)", name,
                          spec->m_param ? spec->m_param : "", s->M);
        rc = NB_EINVAL;
        goto fail;
    }
    for (int32_t u = 0; u < train->n_users; u++)
        if (train->user_ptr[u + 1] - train->user_ptr[u] >= train->n_items) {
            *err = h->mprintf("%s: user %d has every item as a training positive", name, u);
            rc = NB_EINVAL;
            goto fail;
        }
    const size_t mb = (size_t)s->max_batch, tm = (size_t)s->threads * (size_t)s->M;
    s->chosen = (int32_t *)h->alloc(mb * sizeof(int32_t));
    s->cand = (int32_t *)h->alloc(tm * sizeof(int32_t));
    s->score = (float *)h->alloc(tm * sizeof(float));
    s->smax = (float *)h->alloc(mb * sizeof(float));
    s->smin = (float *)h->alloc(mb * sizeof(float));
    if (!s->chosen || !s->cand || !s->score || !s->smax || !s->smin) {
        *err = h->mprintf("%s: out of memory", name);
        goto fail;
    }
    if (spec->setup && (rc = spec->setup(h, values, train, &s->data, err)) != NB_OK) goto fail;
    *state = s;
    return NB_OK;
fail:
    nb_kit_free(s);
    return rc;
}

/* One candidate for user u (the spec's draw or the uniform one). */
static inline int32_t nb_kit_draw(const nb_kit_state *s, nb_rng *r, int32_t u, nb_draw_stats *ds)
{
    return s->spec->draw ? s->spec->draw(s->data, r, s->train, u, ds)
                         : nb_draw_uniform(r, s->train, u, ds);
}

/* Positive b: draw, sync, score and pick into chosen[b] (smax/smin[b]),
 * using thread tid's scratch. */
static inline void nb_kit_positive(nb_kit_state *s, const nb_batch *batch, const nb_view *view,
                                   int32_t b, int tid, nb_draw_stats *ds)
{
    const int32_t d = s->dim, M = s->M, u = batch->users[b];
    nb_rng r;
    nb_rng_seed(&r, batch->seed, (uint64_t)batch->epoch, (uint64_t)(batch->first + b));
    if (s->one) {
        int32_t i = nb_kit_draw(s, &r, u, ds);
        if (i >= 0) nb_view_sync(view, NB_ITEMS, i);
        s->chosen[b] = i;
        return;
    }
    int32_t *cand = s->cand + (int64_t)tid * M;
    float *sc = s->score + (int64_t)tid * M;
    const float *urow = view->user + (int64_t)u * d;
    /* draw in chunks, prefetch the chunk's rows, then score them: the item
     * rows are random, so their loads overlap instead of stalling */
    for (int32_t m0 = 0; m0 < M; m0 += 16) {
        const int32_t n = M - m0 < 16 ? M - m0 : 16;
        for (int32_t j = m0; j < m0 + n; j++) {
            if ((cand[j] = nb_kit_draw(s, &r, u, ds)) < 0) {
                s->chosen[b] = -1;
                return;
            }
            nb_prefetch_row(view->item + (int64_t)cand[j] * d, (size_t)d * sizeof(float));
        }
        for (int32_t j = m0; j < m0 + n; j++) {
            nb_view_sync(view, NB_ITEMS, cand[j]);
            sc[j] = nb_kit_score(urow, view->item + (int64_t)cand[j] * d, d);
        }
    }
    int32_t best = 0;
    float lo = INFINITY;
    for (int32_t m = 0; m < M; m++) {
        if (m > 0 && sc[m] > sc[best]) best = m;
        if (sc[m] < lo) lo = sc[m];
    }
    s->smax[b] = sc[best];
    s->smin[b] = lo;
    const int32_t k = s->spec->pick ? s->spec->pick(s->data, sc, M, &r) : best;
    s->chosen[b] = k >= 0 && k < M ? cand[k] : -2;
}

/* nb_sampler_vt.negatives of a kit sampler. */
static inline int nb_kit_negatives(void *state, const nb_batch *batch, const nb_view *view,
                                   nb_negatives *out, char **err)
{
    nb_kit_state *s = (nb_kit_state *)state;
    const int32_t d = s->dim, B = batch->size;
    if (B > s->max_batch) {
        *err = s->h->mprintf("%s: batch of %d exceeds max_batch %d", s->name, B, s->max_batch);
        return NB_EINVAL;
    }
    uint64_t drawn = 0, rejected = 0;
    /* each iteration writes only its own b's slots and its thread's scratch */
    NB_KIT_PRAGMA_(omp parallel for schedule(static) reduction(+ : drawn, rejected)
                   num_threads(s->threads))
    for (int32_t b = 0; b < B; b++) {
        nb_draw_stats ds = { 0, 0 };
        nb_kit_positive(s, batch, view, b, nb_kit_thread(), &ds);
        drawn += ds.drawn;
        rejected += ds.rejected;
    }
    s->st.draws.drawn += drawn;
    s->st.draws.rejected += rejected;
    for (int32_t b = 0; b < B; b++) {
        if (s->chosen[b] == -1) {
            *err = s->h->mprintf("%s: user %d has every item as a positive", s->name,
                                 batch->users[b]);
            return NB_EINVAL;
        }
        if (s->chosen[b] < 0) {
            *err = s->h->mprintf("%s: pick returned an index outside [0, %d)", s->name, s->M);
            return NB_EINVAL;
        }
    }
    for (int32_t b = 0; b < B; b++) {
        out->item[b] = out->reg_items[b] = s->chosen[b];
        memcpy(out->vec + (int64_t)b * d, view->item + (int64_t)s->chosen[b] * d,
               (size_t)d * sizeof(float));
    }
    if (!s->one) nb_pass_stats_batch(&s->st, s->smax, s->smin, B);
    out->aux_loss = 0.0;
    return NB_OK;
}

/* nb_sampler_vt.backward: dL/dn~ into the picked rows, in b order. */
static inline int nb_kit_backward(void *state, const nb_batch *batch, const nb_view *view,
                                  const float *d_neg, const float *d_reg, nb_grads *g,
                                  char **err)
{
    (void)view; (void)d_reg; (void)err;
    nb_kit_state *s = (nb_kit_state *)state;
    nb_scatter_rows(g->item, s->chosen, d_neg, batch->size, s->dim);
    return NB_OK;
}

/* nb_sampler_vt.reg_rows: the picked item. */
static inline int32_t nb_kit_reg_rows(void *state)
{
    (void)state;
    return 1;
}

/* nb_sampler_vt.rows_per_positive: the M candidates. */
static inline int32_t nb_kit_rows_per_positive(void *state)
{
    return ((const nb_kit_state *)state)->M;
}

/* nb_sampler_vt.epoch_stats: reject_rate (+ cand_max_norm, cand_min_norm). */
static inline int nb_kit_epoch_stats(void *state, const nb_stat **stats, int *n_stats)
{
    nb_kit_state *s = (nb_kit_state *)state;
    nb_pass_stats_emit(&s->st, s->one ? 1 : 3, stats, n_stats);
    return NB_OK;
}

#define NB_KIT_SAMPLER_(id, spec, params, version, description, one, flags_)           \
    static int id##_kit_init(const nb_host *h, const nb_value *values,                 \
                             const nb_train *train, int32_t dim, int32_t max_batch,    \
                             uint64_t seed, void **state, char **err)                  \
    {                                                                                  \
        (void)seed;                                                                    \
        return nb_kit_init(&(spec), #id, params, one, h, values, train, dim, max_batch, \
                           state, err);                                                \
    }                                                                                  \
    static const nb_sampler_vt id##_kit_vt = {                                         \
        .init = id##_kit_init, .reg_rows = nb_kit_reg_rows,                            \
        .negatives = nb_kit_negatives, .backward = nb_kit_backward,                    \
        .epoch_stats = nb_kit_epoch_stats, .free = nb_kit_free, .flags = (flags_),     \
        .rows_per_positive = nb_kit_rows_per_positive,                                 \
    };                                                                                 \
    static const nb_plugin_desc id##_desc = NB_PLUGIN_DESC_INIT(                       \
        NB_KIND_SAMPLER, #id, version, description, params, &id##_kit_vt);

/* Define the descriptor id##_desc of a kit sampler named #id (its YAML
 * name) that draws M candidates (spec.m_param), scores them and picks one;
 * export it with NB_PLUGIN_EXPORT(&id##_desc). */
#define NB_KIT_SAMPLER(id, spec, params, version, description)                         \
    NB_KIT_SAMPLER_(id, spec, params, version, description, 0,                         \
                    NB_SAMPLER_SYNCS_ROWS | NB_SAMPLER_FINAL_ONLY)

/* The same for a sampler that draws one candidate per positive and uses it
 * (no scores; spec.m_param and spec.pick unused). */
#define NB_KIT_SAMPLER_ONE(id, spec, params, version, description)                     \
    NB_KIT_SAMPLER_(id, spec, params, version, description, 1,                         \
                    NB_SAMPLER_SYNCS_ROWS | NB_SAMPLER_FINAL_ONLY | NB_SAMPLER_FEW_ROWS)

#ifdef __cplusplus
}
#endif
#endif /* NEGBENCH_SAMPLER_KIT_H */
