/*
 * thread_env.c - the settings the thread libraries read once, when they load
 * (libgomp: GOMP_SPINCOUNT; OpenBLAS's own pool: OPENBLAS_THREAD_TIMEOUT):
 * negbench's defaults, put in the environment before a re-execution of the
 * process, unless the user set the variable (or OMP_WAIT_POLICY) first. The
 * names negbench set itself are listed in NEGBENCH_SET_ENV, so the
 * re-executed process can tell its defaults from the user's settings.
 */
#define _GNU_SOURCE
#include "build_config.h" /* NB_HAVE_CBLAS */
#include "thread_env.h"
#include "blas_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when name was set by negbench (listed in NEGBENCH_SET_ENV). */
int thread_env_ours(const char *name)
{
    const char *list = getenv("NEGBENCH_SET_ENV");
    size_t n = strlen(name);
    for (const char *p = list; p && *p; p += strcspn(p, " "), p += *p == ' ')
        if (!strncmp(p, name, n) && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

int thread_env_set_default(const char *name, const char *value)
{
    if (getenv(name)) return 0;
    const char *list = getenv("NEGBENCH_SET_ENV");
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s%s", list && *list ? list : "", list && *list ? " " : "", name);
    setenv(name, value, 1);
    setenv("NEGBENCH_SET_ENV", buf, 1);
    return 1;
}

int thread_env_prepare(void)
{
    int changed = 0;
    /* Waiting at OpenMP barriers (and in OpenBLAS's calls, whose threads are
     * libgomp's in its OpenMP build): spin at most NB_SPINCOUNT rounds, then
     * sleep (see NB_SPINCOUNT for the value and why). */
    if (!getenv("OMP_WAIT_POLICY")) changed |= thread_env_set_default("GOMP_SPINCOUNT", NB_SPINCOUNT);
#ifdef NB_HAVE_CBLAS
    /* OpenBLAS's pthreads build keeps its workers spinning for 2^28 cycles
     * after each call, which takes a core from the OpenMP passes that
     * follow; with 4 they sleep at once (Gowalla, 2 threads, pairs of runs:
     * NGCF step 73-75 -> 61-62 s per 357 steps, SGL 280 -> 254, MF + ANS(32)
     * 25.8 -> 22.4 s/epoch; the evaluation unchanged). */
    changed |= thread_env_set_default("OPENBLAS_THREAD_TIMEOUT", "4");
#endif
    /* OpenBLAS's kernels, when its detection fell back (blas_core.h). */
    changed |= blas_core_prepare();
    return changed;
}

void thread_env_describe(char *buf, size_t size)
{
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    if (spin)
        snprintf(buf, size, "GOMP_SPINCOUNT=%s%s", spin,
                 thread_env_ours("GOMP_SPINCOUNT") ? " (negbench's default)" : " (yours)");
    else if (policy)
        snprintf(buf, size, "OMP_WAIT_POLICY=%s (yours)", policy);
    else /* what thread_env_prepare sets before a run */
        snprintf(buf, size, "GOMP_SPINCOUNT=%s (negbench's default)", NB_SPINCOUNT);
}
