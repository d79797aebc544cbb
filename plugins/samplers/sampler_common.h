/*
 * sampler_common.h - small inline pieces shared by the item-choosing
 * sampler plugins (header only: plugins link nothing of the host).
 *
 * Statistics of two-pass samplers (paper Fig. 1d): for each positive, the
 * largest and smallest first-pass candidate score, min-max normalised by the
 * smallest and largest first-pass candidate score of the whole batch, are
 * averaged over the epoch's positives ("cand_max_norm", "cand_min_norm").
 * "reject_rate" is the share of uniform draws that hit a training positive
 * and were redrawn.
 */
#ifndef NB_SAMPLER_COMMON_H
#define NB_SAMPLER_COMMON_H

#include "negbench/plugin.h"

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

/* Ask for the cache lines of a row of bytes bytes at p (a hint). */
static inline void nb_prefetch_row(const void *p, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + o);
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

#endif /* NB_SAMPLER_COMMON_H */
