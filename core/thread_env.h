/*
 * thread_env.h - negbench's defaults for the thread settings that libgomp
 * and OpenBLAS read when they load, and how a process tells them from the
 * user's own settings.
 */
#ifndef NB_THREAD_ENV_H
#define NB_THREAD_ENV_H

#include <stddef.h>

/* The spin count before a waiting OpenMP thread sleeps (GOMP_SPINCOUNT):
 * 1000 rounds, about 13 us of pause instructions here, against libgomp's
 * default of 300000 (about 4 ms). A thread that finishes its share of a
 * parallel region while its partner has lost its core to another program
 * burns its own share spinning for that partner; 1000 rounds catch only the
 * back-to-back regions of a quiet machine. Measured side by side on a quiet
 * 2-core machine (docs/performance-shared-machines.md): beside two busy
 * threads LightGCN-3 + RNS on Gowalla takes 2.09x its quiet epoch (3.23x
 * with 300000), MF + DNS(32) 1.71x (3.56x), and the quiet epochs stay
 * within the noise of 300000's. Users set GOMP_SPINCOUNT or
 * OMP_WAIT_POLICY themselves to choose otherwise. */
#define NB_SPINCOUNT "1000"

/* Put negbench's defaults in the environment for the variables the user did
 * not set: GOMP_SPINCOUNT (unless OMP_WAIT_POLICY is set) and, with
 * OpenBLAS, OPENBLAS_THREAD_TIMEOUT and (when the library's CPU detection
 * fell back to older kernels, blas_core.h) OPENBLAS_CORETYPE. Returns 1 when the environment
 * changed: the libraries read it only at load, so the caller re-executes. */
int thread_env_prepare(void);

/* Set name=value unless name is set, and list it in NEGBENCH_SET_ENV;
 * returns 1 when the environment changed. */
int thread_env_set_default(const char *name, const char *value);

/* 1 when the variable name was set by negbench, not by the user. */
int thread_env_ours(const char *name);

/* How waiting threads behave in a run (after thread_env_prepare), e.g. "GOMP_SPINCOUNT=10000 (negbench's
 * default)" or "OMP_WAIT_POLICY=passive (yours)", into buf. */
void thread_env_describe(char *buf, size_t size);

#endif
