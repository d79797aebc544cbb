/*
 * testhost.h - an nb_host for tests that call plugin vtables directly
 * (plain malloc, a naive SGEMM, logging to the TAP diagnostics), and the
 * central finite-difference helper every gradient check uses, and the
 * training matrix of the tiny hand-built graphs.
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

/* *t = the training matrix of n distinct pairs (user, item) - base (ids of
 * pairs start at base), U users, I items: user-major rows into uptr [U+1]
 * and uitems [n], item-major into iptr [I+1] and iusers [n], each row
 * ascending. The arrays are the caller's; t points into them. */
void test_train_from_pairs(int32_t U, int32_t I, const int32_t (*pairs)[2], int n, int base,
                           int64_t *uptr, int32_t *uitems, int64_t *iptr, int32_t *iusers,
                           nb_train *t);

#endif
