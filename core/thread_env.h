/*
 * thread_env.h - negbench's defaults for the thread settings that libgomp
 * and OpenBLAS read when they load, and how a process tells them from the
 * user's own settings.
 */
#ifndef NB_THREAD_ENV_H
#define NB_THREAD_ENV_H

#include <stddef.h>

/* The spin count before a waiting OpenMP thread sleeps (GOMP_SPINCOUNT):
 * libgomp's own default, 300000 rounds (about 4 ms of pause instructions
 * here), set explicitly so that a run reports it. Measured
 * (docs/performance-shared-machines.md): 10000 was 2-5x faster on a machine
 * loaded by many other jobs and 25-30% faster for LightGCN-3 on Gowalla
 * beside two busy threads, but on a nearly quiet machine it cost that case
 * 5-10% alone, so the default stays until a quiet machine decides; users of busy
 * machines set GOMP_SPINCOUNT or OMP_WAIT_POLICY themselves. */
#define NB_SPINCOUNT "300000"

/* Put negbench's defaults in the environment for the variables the user did
 * not set: GOMP_SPINCOUNT (unless OMP_WAIT_POLICY is set) and, with
 * OpenBLAS, OPENBLAS_THREAD_TIMEOUT. Returns 1 when the environment
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
