/*
 * stats.h - summary statistics and the significance tests of negbench
 * report: paired t-test, Welch's t-test, the Wilcoxon signed-rank test and
 * Holm's correction. Distributions come from GSL (gsl_cdf_*); every p-value
 * is two-sided. The tests follow R's t.test and wilcox.test (defaults):
 * Wilcoxon drops zero differences, gives the exact null distribution when
 * fewer than 50 differences remain and none are tied, and otherwise the
 * normal approximation with the tie correction of the variance and a
 * continuity correction of 0.5.
 */
#ifndef NB_STATS_H
#define NB_STATS_H

#include <stdint.h>

typedef struct nb_test {
    double stat;     /* t, or V = the sum of the ranks of positive differences */
    double df;       /* degrees of freedom (t-tests), NAN for Wilcoxon */
    double p;        /* two-sided p-value, NAN when not defined (n too small) */
    int64_t n;       /* pairs (or values) used */
    int exact;       /* Wilcoxon: 1 exact null distribution, 0 normal */
} nb_test;

/* Mean and sample standard deviation (n - 1) of the finite values among
 * x[0..n-1]; returns how many there were (sd NAN below 2, mean NAN at 0). */
int64_t stats_mean_sd(const double *x, int64_t n, double *mean, double *sd);

/* Paired t-test of x - y over the pairs where both are finite. Constant
 * differences give p = 1 when they are all zero and p = 0 otherwise. */
nb_test stats_paired_t(const double *x, const double *y, int64_t n);

/* Welch's two-sample t-test (unequal variances, Welch-Satterthwaite df). */
nb_test stats_welch_t(const double *x, int64_t nx, const double *y, int64_t ny);

/* Wilcoxon signed-rank test of x - y over the pairs where both are finite
 * (work space is allocated inside). */
nb_test stats_wilcoxon(const double *x, const double *y, int64_t n);

/* Holm's step-down adjustment of m p-values into adj (may alias p); NAN
 * entries are left NAN and do not count in m. */
void stats_holm(const double *p, int m, double *adj);

#endif /* NB_STATS_H */
