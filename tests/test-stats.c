/*
 * test-stats.c - core/stats.c against values computed independently:
 * R 4.x outputs for the sleep data (Student 1908; R's datasets::sleep) and
 * the depression data of Hollander and Wolfe (1973, p. 29; the example of
 * R's ?wilcox.test), as printed by R and recorded here; the exact
 * signed-rank p-value against a brute-force enumeration of all 2^n sign
 * patterns; Holm's adjustment on a case worked by hand.
 */
#include <math.h>
#include <stdlib.h>

#include "stats.h"
#include "tap/tap.h"

/* sleep: extra hours of sleep of 10 patients under drug 1 and drug 2 */
static const double g1[10] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
static const double g2[10] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};

static void test_t(void)
{
    /* R: t.test(extra ~ group, data = sleep, paired = TRUE)
     *    t = -4.0621, df = 9, p-value = 0.002833 */
    nb_test r = stats_paired_t(g1, g2, 10);
    is_close(r.stat, -4.0621, 1e-4, 0, "paired t statistic (R: -4.0621)");
    is_close(r.df, 9, 0, 0, "paired df 9");
    is_close(r.p, 0.002833, 1e-6, 0, "paired p (R: 0.002833)");
    /* R: t.test(extra ~ group, data = sleep)   (Welch)
     *    t = -1.8608, df = 17.776, p-value = 0.07939 */
    r = stats_welch_t(g1, 10, g2, 10);
    is_close(r.stat, -1.8608, 1e-4, 0, "Welch t (R: -1.8608)");
    is_close(r.df, 17.776, 1e-3, 0, "Welch df (R: 17.776)");
    is_close(r.p, 0.07939, 1e-5, 0, "Welch p (R: 0.07939)");
    double c[3] = {1, 1, 1}, z[3] = {0, 0, 0}, nanv[3] = {NAN, 1, 2};
    is_close(stats_paired_t(c, c, 3).p, 1.0, 0, 0, "identical samples: p = 1");
    is_close(stats_paired_t(c, z, 3).p, 0.0, 0, 0, "constant non-zero difference: p = 0");
    is_int(stats_paired_t(nanv, c, 3).n, 2, "pairs with a NaN are left out");
    ok(isnan(stats_welch_t(c, 1, z, 3).p), "Welch with one value: p undefined");
}

/* Exact two-sided p by enumerating every sign pattern of ranks 1..n. */
static double brute_p(const double *d, int n)
{
    double v = 0, below = 0, above = 0, total = 0;
    for (int i = 0; i < n; i++) {
        int rank = 1;
        for (int j = 0; j < n; j++) rank += fabs(d[j]) < fabs(d[i]);
        if (d[i] > 0) v += rank;
    }
    for (long mask = 0; mask < (1L << n); mask++) {
        double s = 0;
        for (int r = 1; r <= n; r++) if (mask & (1L << (r - 1))) s += r;
        total++;
        below += s <= v;
        above += s >= v;
    }
    double p = 2 * fmin(below, above) / total;
    return p > 1 ? 1 : p;
}

static void test_wilcoxon(void)
{
    /* R ?wilcox.test: depression scale before (x) and after (y) therapy
     * wilcox.test(x, y, paired = TRUE): V = 40, p-value = 0.03906 (exact) */
    double x[9] = {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
    double y[9] = {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29};
    nb_test r = stats_wilcoxon(x, y, 9);
    is_close(r.stat, 40, 0, 0, "Wilcoxon V = 40 (R)");
    ok(r.exact, "exact null distribution for 9 untied differences");
    is_close(r.p, 0.03906, 1e-5, 0, "exact p (R: 0.03906)");
    /* sleep, paired: one zero difference and one tie (1.3, 1.3), so R uses
     * the normal approximation: V = 0, p-value = 0.009091 */
    r = stats_wilcoxon(g1, g2, 10);
    is_close(r.stat, 0, 0, 0, "sleep: V = 0");
    ok(!r.exact && r.n == 9, "ties and a zero: normal approximation over 9 pairs");
    is_close(r.p, 0.009091, 1e-6, 0, "approximate p with tie correction (R: 0.009091)");
    /* exact against brute force, both tails, n = 12 */
    double d[12], zero[12] = {0};
    unsigned s = 12345;
    int bad = 0;
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < 12; i++) {
            s = s * 1103515245u + 12345u;
            d[i] = ((double)(s >> 8) / (1 << 24) - 0.3 + 0.03 * trial) * (i + 1);
        }
        nb_test w = stats_wilcoxon(d, zero, 12);
        if (!w.exact || fabs(w.p - brute_p(d, 12)) > 1e-12) bad++;
    }
    is_int(bad, 0, "exact p equals the enumeration of 2^12 sign patterns (20 samples)");
    /* 60 untied differences: normal approximation without ties:
     * d_i = i - 20 for i = 1..61 except 20 (zero dropped): positives 21..41
     * ranks? |d| = 1..19 twice (ties) -> use 1..60 distinct instead */
    double a[60], b0[60] = {0};
    for (int i = 0; i < 60; i++) a[i] = (i % 3 == 0 ? -1.0 : 1.0) * (i + 1);
    r = stats_wilcoxon(a, b0, 60);
    /* V = sum of i+1 with i % 3 != 0 = 1830 - (1+4+...+58) = 1830 - 590 = 1240;
     * mu = 915, sigma^2 = 60*61*121/24 = 18452.5, z = (325 - 0.5)/135.84 */
    is_close(r.stat, 1240, 0, 0, "n = 60: V = 1240");
    double zz = (1240 - 915 - 0.5) / sqrt(18452.5);
    is_close(r.p, erfc(zz / sqrt(2.0)), 1e-12, 0, "n = 60: normal approximation, z = %.4f", zz);
    double same[4] = {1, 2, 3, 4};
    nb_test e = stats_wilcoxon(same, same, 4);
    ok(e.n == 0 && e.p == 1.0, "all differences zero: p = 1");
}

static void test_holm(void)
{
    /* sorted 0.005 0.01 0.03 0.04 -> 4x, 3x, 2x, 1x = 0.02 0.03 0.06 0.04,
     * made monotone: 0.02 0.03 0.06 0.06 (R: p.adjust(p, "holm")) */
    double p[5] = {0.01, 0.04, 0.03, 0.005, NAN}, adj[5];
    stats_holm(p, 5, adj);
    ok(fabs(adj[0] - 0.03) < 1e-15 && fabs(adj[1] - 0.06) < 1e-15 &&
       fabs(adj[2] - 0.06) < 1e-15 && fabs(adj[3] - 0.02) < 1e-15 && isnan(adj[4]),
       "Holm: 0.03 0.06 0.06 0.02 NaN");
    double q[2] = {0.6, 0.9};
    stats_holm(q, 2, q);
    ok(q[0] == 1.0 && q[1] == 1.0, "Holm caps at 1 (in place)");
    double xs[4] = {1, 2, 3, NAN}, mean, sd;
    is_int(stats_mean_sd(xs, 4, &mean, &sd), 3, "mean/sd skip NaN");
    ok(mean == 2.0 && sd == 1.0, "mean 2, sample sd 1");
}

int main(void)
{
    test_t();
    test_wilcoxon();
    test_holm();
    return tap_done();
}
