/*
 * srns_impl.h - the pure math of SRNS (docs/methods/srns.md), kept apart
 * from the plugin's state so that tests can call it on hand-built arrays.
 * Header only (static functions); included by srns.c. SRNS passes no
 * gradient through selection or memory, so there is no double/float
 * template here: scores arrive as float and are combined in double.
 *
 * Shapes: S1 memory slots per user, T <= SRNS_MAX_H history snapshots,
 * hist_c [T][S1] (t-major, oldest first) the candidates' past scores,
 * hist_p [T] the positive's past scores at the same snapshots.
 */
#ifndef NB_SRNS_IMPL_H
#define NB_SRNS_IMPL_H

#include "negbench/plugin.h"

#define SRNS_MAX_H 10 /* largest history window (param "history") */

/* Logistic function without overflow. */
static inline double srns_sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* Population standard deviation over t < T of l_t = sigmoid(c[t*stride] -
 * p[t]): the "variance" part of SRNS's criterion. T = 1 gives 0. */
static double srns_hist_std(const float *c, int32_t stride, const float *p, int32_t T)
{
    double l[SRNS_MAX_H], mean = 0.0, var = 0.0;
    for (int32_t t = 0; t < T; t++) {
        l[t] = srns_sigmoid((double)c[(int64_t)t * stride] - (double)p[t]);
        mean += l[t];
    }
    mean /= (double)T;
    for (int32_t t = 0; t < T; t++) var += (l[t] - mean) * (l[t] - mean);
    return sqrt(var / (double)T);
}

/* The warm-up weight min(1, epoch / warmup) of the std term (warmup 0: 1). */
static inline double srns_warm(int32_t epoch, int32_t warmup)
{
    if (warmup <= 0) return 1.0;
    double w = (double)epoch / (double)warmup;
    return w < 1.0 ? w : 1.0;
}

/* Pick j* = argmax_j sigmoid(s[j] - s_p) + alpha * warm * std_j over the S1
 * memory slots (alpha < 0: argmax std_j); ties go to the first index. s [S1]
 * are current scores, hist_c [T][S1] and hist_p [T] the history. *std_out
 * receives std_{j*}. */
static int32_t srns_select(int32_t S1, int32_t T, double s_p, const float *s,
                           const float *hist_c, const float *hist_p, double alpha,
                           double warm, double *std_out)
{
    int32_t best = 0;
    double best_v = -INFINITY, best_std = 0.0;
    for (int32_t j = 0; j < S1; j++) {
        double sd = srns_hist_std(hist_c + j, S1, hist_p, T);
        double v = alpha < 0 ? sd : srns_sigmoid((double)s[j] - s_p) + alpha * warm * sd;
        if (v > best_v) {
            best_v = v;
            best = j;
            best_std = sd;
        }
    }
    *std_out = best_std;
    return best;
}

/* Memory refresh, step 1: idx[0..S1) holds the old memory (distinct indices
 * into [0, V), V > S1); append S2 uniform indices idx[S1..S1+S2), each
 * redrawn while it equals an old index. As in the official code, the new
 * ones are not checked against each other, so they may repeat. */
static void srns_draw_new(nb_rng *r, int32_t S1, int32_t S2, int32_t V, int32_t *idx)
{
    for (int32_t k = 0; k < S2; k++) {
        int32_t x;
        int clash;
        do {
            x = (int32_t)nb_rng_below(r, (uint32_t)V);
            clash = 0;
            for (int32_t j = 0; j < S1; j++)
                if (idx[j] == x) { clash = 1; break; }
        } while (clash);
        idx[S1 + k] = x;
    }
}

/* Memory refresh, step 2: keep S1 of the n = S1 + S2 entries idx[n] with
 * current scores s[n], drawn without replacement with probability
 * softmax(s / tau), renormalised over what remains after every pick (numpy's
 * choice(replace=False, p)). A pick also removes the other entries holding
 * the same index, so the memory keeps S1 distinct indices (numpy would let a
 * repeated new index occupy two slots). When every remaining weight has
 * underflowed to 0 (tiny tau), the highest remaining score is taken, the
 * tau -> 0 limit. w [n] is scratch; mem [S1] receives the new memory in
 * pick order. The old entries alone are S1 distinct indices, so S1 picks
 * always exist. */
static void srns_keep(nb_rng *r, int32_t S1, int32_t n, double tau, const int32_t *idx,
                      const float *s, double *w, int32_t *mem)
{
    double mx = -INFINITY;
    for (int32_t k = 0; k < n; k++)
        if ((double)s[k] > mx) mx = s[k];
    for (int32_t k = 0; k < n; k++) w[k] = exp(((double)s[k] - mx) / tau);
    for (int32_t j = 0; j < S1; j++) {
        double tot = 0.0;
        for (int32_t k = 0; k < n; k++)
            if (w[k] > 0.0) tot += w[k];
        int32_t pick = -1;
        if (tot > 0.0) {
            double x = nb_rng_uniform(r) * tot, acc = 0.0;
            for (int32_t k = 0; k < n; k++) {
                if (w[k] <= 0.0) continue;
                acc += w[k];
                pick = k;
                if (x < acc) break;
            }
        } else {
            double bs = -INFINITY;
            for (int32_t k = 0; k < n; k++)
                if (w[k] == 0.0 && (double)s[k] > bs) {
                    bs = s[k];
                    pick = k;
                }
        }
        mem[j] = idx[pick];
        for (int32_t k = 0; k < n; k++)
            if (idx[k] == mem[j]) w[k] = -1.0; /* removed */
    }
}

#endif /* NB_SRNS_IMPL_H */
