/*
 * stats.c - summary statistics and significance tests (see stats.h).
 * Formulas: the paired and Welch t statistics and Welch-Satterthwaite
 * degrees of freedom as in any statistics text (e.g. Welch, Biometrika 34,
 * 1947); the signed-rank null distribution by counting the subsets of
 * {1..n} with each rank sum; the tie-corrected variance
 * n(n+1)(2n+1)/24 - sum(t^3 - t)/48 (Hollander and Wolfe, Nonparametric
 * Statistical Methods); Holm, Scand. J. Statist. 6, 1979.
 */
#include "stats.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>

#include "util.h"

int64_t stats_mean_sd(const double *x, int64_t n, double *mean, double *sd)
{
    double s = 0.0, ss = 0.0;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) { s += x[i]; m++; }
    *mean = m ? s / (double)m : NAN;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = m > 1 ? sqrt(ss / (double)(m - 1)) : NAN;
    return m;
}

/* Two-sided p of a t statistic with df degrees of freedom. */
static double t_two_sided(double t, double df)
{
    return 2.0 * gsl_cdf_tdist_Q(fabs(t), df);
}

nb_test stats_paired_t(const double *x, const double *y, int64_t n)
{
    nb_test r = {.stat = NAN, .df = NAN, .p = NAN, .n = 0, .exact = 0};
    double s = 0.0, ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) { s += x[i] - y[i]; r.n++; }
    if (r.n < 2) return r;
    double mean = s / (double)r.n;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            double d = x[i] - y[i] - mean;
            ss += d * d;
        }
    double se = sqrt(ss / (double)(r.n - 1) / (double)r.n);
    r.df = (double)(r.n - 1);
    if (se == 0.0) {
        r.stat = mean == 0.0 ? 0.0 : copysign(INFINITY, mean);
        r.p = mean == 0.0 ? 1.0 : 0.0;
        return r;
    }
    r.stat = mean / se;
    r.p = t_two_sided(r.stat, r.df);
    return r;
}

nb_test stats_welch_t(const double *x, int64_t nx, const double *y, int64_t ny)
{
    nb_test r = {.stat = NAN, .df = NAN, .p = NAN, .n = 0, .exact = 0};
    double mx, sx, my, sy;
    int64_t a = stats_mean_sd(x, nx, &mx, &sx), b = stats_mean_sd(y, ny, &my, &sy);
    r.n = a + b;
    if (a < 2 || b < 2) return r;
    double vx = sx * sx / (double)a, vy = sy * sy / (double)b, v = vx + vy;
    if (v == 0.0) {
        r.stat = mx == my ? 0.0 : copysign(INFINITY, mx - my);
        r.p = mx == my ? 1.0 : 0.0;
        return r;
    }
    r.stat = (mx - my) / sqrt(v);
    r.df = v * v / (vx * vx / (double)(a - 1) + vy * vy / (double)(b - 1));
    r.p = t_two_sided(r.stat, r.df);
    return r;
}

typedef struct { double abs; int pos; } sdiff;

static int cmp_sdiff(const void *a, const void *b)
{
    double x = ((const sdiff *)a)->abs, y = ((const sdiff *)b)->abs;
    return (x > y) - (x < y);
}

/* P(V <= v) under the exact null for n untied ranks (n < 64). */
static double signrank_cdf(double v, int n)
{
    int max = n * (n + 1) / 2;
    double *c = nb_xcalloc((size_t)max + 1, sizeof *c), total = 0.0, below = 0.0;
    c[0] = 1.0;
    for (int r = 1; r <= n; r++)
        for (int s = max; s >= r; s--) c[s] += c[s - r];
    for (int s = 0; s <= max; s++) {
        total += c[s];
        if (s <= v) below += c[s];
    }
    free(c);
    return below / total;
}

nb_test stats_wilcoxon(const double *x, const double *y, int64_t n)
{
    nb_test r = {.stat = NAN, .df = NAN, .p = NAN, .n = 0, .exact = 0};
    sdiff *d = nb_xmalloc((size_t)(n ? n : 1) * sizeof *d);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i]) && x[i] != y[i])
            d[m++] = (sdiff){fabs(x[i] - y[i]), x[i] > y[i]};
    r.n = m;
    qsort(d, (size_t)m, sizeof *d, cmp_sdiff);
    double v = 0.0, tie_sum = 0.0;
    int ties = 0;
    for (int64_t i = 0; i < m;) {
        int64_t j = i;
        while (j + 1 < m && d[j + 1].abs == d[i].abs) j++;
        double rank = (double)(i + j) / 2.0 + 1.0, t = (double)(j - i + 1);
        for (int64_t q = i; q <= j; q++) if (d[q].pos) v += rank;
        if (t > 1) { ties = 1; tie_sum += t * t * t - t; }
        i = j + 1;
    }
    free(d);
    r.stat = v;
    if (m == 0) { r.p = 1.0; return r; }
    double nn = (double)m, mu = nn * (nn + 1) / 4.0;
    if (m < 50 && !ties) {
        r.exact = 1;
        double p = v > mu ? 1.0 - signrank_cdf(v - 1.0, (int)m) : signrank_cdf(v, (int)m);
        r.p = fmin(1.0, 2.0 * p);
        return r;
    }
    double sigma = sqrt(nn * (nn + 1) * (2 * nn + 1) / 24.0 - tie_sum / 48.0), z = v - mu;
    z = (z - (z > 0 ? 0.5 : z < 0 ? -0.5 : 0.0)) / sigma;
    r.p = fmin(1.0, 2.0 * fmin(gsl_cdf_ugaussian_P(z), gsl_cdf_ugaussian_Q(z)));
    return r;
}

typedef struct { double p; int i; } pidx;

static int cmp_pidx(const void *a, const void *b)
{
    double x = ((const pidx *)a)->p, y = ((const pidx *)b)->p;
    return (x > y) - (x < y);
}

void stats_holm(const double *p, int m, double *adj)
{
    pidx *s = nb_xmalloc((size_t)(m ? m : 1) * sizeof *s);
    int k = 0;
    for (int i = 0; i < m; i++)
        if (isfinite(p[i])) s[k++] = (pidx){p[i], i};
    qsort(s, (size_t)k, sizeof *s, cmp_pidx);
    for (int i = 0; i < m; i++)
        if (!isfinite(p[i])) adj[i] = NAN;
    double run = 0.0;
    for (int j = 0; j < k; j++) {
        double a = fmin(1.0, (double)(k - j) * s[j].p);
        if (a > run) run = a;
        adj[s[j].i] = run;
    }
    free(s);
}
