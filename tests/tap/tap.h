/*
 * tap.h - a small TAP producer for the test programs (our own, in the shape
 * of c-tap-harness: plan, ok, is_*, diag, skip, bail). The exit status of
 * tap_done() is non-zero when any test failed or the plan was not met, so
 * tap-driver.sh and plain shells both see failures.
 */
#ifndef NB_TAP_H
#define NB_TAP_H

#include <stdint.h>

/* Announce n tests (0: lazy plan printed by tap_done). */
void tap_plan(int n);
/* Skip the whole program with a reason; exits 0. */
void tap_skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Abort the whole program; exits 255. */
void tap_bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* One test point; returns cond. */
int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int is_int(int64_t got, int64_t want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int is_string(const char *got, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* |got - want| <= atol + rtol * |want| (NaN equals NaN). */
int is_close(double got, double want, double atol, double rtol, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Skip n test points with a reason. */
void skip(int n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A "# ..." comment line. */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print the lazy plan if needed; return the exit status. */
int tap_done(void);

/* Directory of the test sources (NB_TEST_SRCDIR, else "tests"). */
const char *tap_srcdir(void);
/* Directory beside the source tree with the golden vectors and data sets
 * (NEGBENCH_SHARED, else $NB_TEST_SRCDIR/../../shared). */
const char *tap_shared_dir(void);
/* Directory of the shared golden files (NB_GOLDEN_DIR, else
 * tap_shared_dir()/golden). */
const char *tap_golden_dir(void);
/* Directory of the shared data sets (NB_DATA_DIR, else
 * tap_shared_dir()/data). */
const char *tap_data_dir(void);
/* Non-zero when every file tap_golden_dir()/dir/files[k] (k < n) is readable. */
int golden_present(const char *dir, const char *const *files, int n);
/* Non-zero when NEGBENCH_REQUIRE_SHARED is set (non-empty, not "0"). */
int tap_require_shared(void);
/* n test points that need a golden file or data set that is missing: n
 * SKIPs with the reason, or n failures when tap_require_shared(). Give one
 * point for every check that would have run, so that the totals are the
 * same with and without the shared files. */
void skip_shared(int n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A fresh temporary directory, removed by tap_done(). */
const char *tap_tmpdir(void);

#endif /* NB_TAP_H */
