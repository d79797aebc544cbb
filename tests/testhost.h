/*
 * testhost.h - an nb_host for tests that call plugin vtables directly
 * (plain malloc, a naive SGEMM, logging to the TAP diagnostics), and the
 * central finite-difference helper every gradient check uses.
 */
#ifndef NB_TESTHOST_H
#define NB_TESTHOST_H

#include "negbench/plugin.h"

/* A host table with threads = 1. Allocation counts are kept so tests can
 * assert that hot paths do not allocate. */
const nb_host *testhost(void);
long testhost_allocs(void);

/* Central difference (f(x+h) - f(x-h)) / 2h of a scalar function of x[i]
 * (x is modified and restored). */
double fd_central(double (*f)(void *ctx), void *ctx, double *x, double h);

#endif
