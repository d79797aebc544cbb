/*
 * tap.c - the TAP producer behind tap.h.
 */
#define _GNU_SOURCE
#include "tap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int planned = -1, run = 0, failed = 0;
static char tmpdir[4096];

static void vline(const char *prefix, int num, const char *fmt, va_list ap)
{
    if (num > 0) printf("%s %d - ", prefix, num); else printf("%s", prefix);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
}

void tap_plan(int n)
{
    planned = n;
    if (n > 0) printf("1..%d\n", n);
    fflush(stdout);
}

void tap_skip_all(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("1..0 # SKIP ");
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    exit(0);
}

void tap_bail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("Bail out! ");
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    fflush(stdout);
    exit(255);
}

static int vok(int cond, const char *fmt, va_list ap)
{
    run++;
    if (!cond) failed++;
    vline(cond ? "ok" : "not ok", run, fmt, ap);
    return cond;
}

int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vok(cond, fmt, ap);
    va_end(ap);
    return cond;
}

int is_int(int64_t got, int64_t want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int c = vok(got == want, fmt, ap);
    va_end(ap);
    if (!c) diag("    got: %lld\n    want: %lld", (long long)got, (long long)want);
    return c;
}

int is_string(const char *got, const char *want, const char *fmt, ...)
{
    int c = (got == NULL && want == NULL) ||
            (got && want && strcmp(got, want) == 0);
    va_list ap;
    va_start(ap, fmt);
    vok(c, fmt, ap);
    va_end(ap);
    if (!c) diag("    got: \"%s\"\n    want: \"%s\"", got ? got : "(null)",
                 want ? want : "(null)");
    return c;
}

int is_close(double got, double want, double atol, double rtol, const char *fmt, ...)
{
    int c;
    if (isnan(got) || isnan(want)) c = isnan(got) && isnan(want);
    else c = fabs(got - want) <= atol + rtol * fabs(want);
    va_list ap;
    va_start(ap, fmt);
    vok(c, fmt, ap);
    va_end(ap);
    if (!c) diag("    got: %.17g\n    want: %.17g\n    diff: %.3g (atol %.3g, rtol %.3g)",
                 got, want, fabs(got - want), atol, rtol);
    return c;
}

void skip(int n, const char *fmt, ...)
{
    for (int i = 0; i < n; i++) {
        va_list ap;
        va_start(ap, fmt);
        run++;
        printf("ok %d # SKIP ", run);
        vprintf(fmt, ap);
        putchar('\n');
        va_end(ap);
    }
    fflush(stdout);
}

void diag(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    if (!s) return;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n"))
        printf("# %s\n", line);
    free(s);
    fflush(stdout);
}

int tap_done(void)
{
    if (tmpdir[0]) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", tmpdir) >= 0) {
            if (system(cmd) != 0) diag("could not remove %s", tmpdir);
            free(cmd);
        }
    }
    if (planned <= 0) printf("1..%d\n", run);
    else if (run != planned) {
        diag("planned %d tests but ran %d", planned, run);
        return 2;
    }
    fflush(stdout);
    return failed ? 1 : 0;
}

const char *tap_srcdir(void)
{
    const char *s = getenv("NB_TEST_SRCDIR");
    return s && *s ? s : "tests";
}

const char *tap_shared_dir(void)
{
    static char buf[4096];
    const char *s = getenv("NEGBENCH_SHARED");
    if (s && *s) return s;
    snprintf(buf, sizeof buf, "%s/../../shared", tap_srcdir());
    return buf;
}

static const char *shared_dir(const char *env, const char *leaf, char *buf, size_t n)
{
    const char *s = getenv(env);
    if (s && *s) return s;
    snprintf(buf, n, "%s/%s", tap_shared_dir(), leaf);
    return buf;
}

const char *tap_golden_dir(void)
{
    static char buf[4096];
    return shared_dir("NB_GOLDEN_DIR", "golden", buf, sizeof buf);
}

const char *tap_data_dir(void)
{
    static char buf[4096];
    return shared_dir("NB_DATA_DIR", "data", buf, sizeof buf);
}

int golden_present(const char *dir, const char *const *files, int n)
{
    for (int k = 0; k < n; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/%s", tap_golden_dir(), dir, files[k]);
        if (access(path, R_OK) != 0) return 0;
    }
    return 1;
}

int tap_require_shared(void)
{
    const char *s = getenv("NEGBENCH_REQUIRE_SHARED");
    return s && *s && strcmp(s, "0") != 0;
}

void skip_shared(int n, const char *fmt, ...)
{
    char *reason = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&reason, fmt, ap) < 0) reason = NULL;
    va_end(ap);
    const char *r = reason ? reason : "a shared file is missing";
    if (tap_require_shared())
        for (int i = 0; i < n; i++)
            ok(0, "%s (NEGBENCH_REQUIRE_SHARED is set: a missing golden file or data set fails)", r);
    else
        skip(n, "%s", r);
    free(reason);
}

const char *tap_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/nbtest.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) tap_bail("cannot create a temporary directory");
    }
    return tmpdir;
}
