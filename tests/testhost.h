/*
 * testhost.h - an nb_host for tests that call plugin vtables directly
 * (plain malloc, a naive SGEMM, logging to the TAP diagnostics), and the
 * central finite-difference helper every gradient check uses, and the
 * training matrix of the tiny hand-built graphs.
 */
#ifndef NB_TESTHOST_H
#define NB_TESTHOST_H

#include "json.h"
#include "negbench/plugin.h"

/* A host table with threads = 1. Allocation counts are kept so tests can
 * assert that hot paths do not allocate. */
const nb_host *testhost(void);
long testhost_allocs(void);

/* Central difference (f(x+h) - f(x-h)) / 2h of a scalar function of x[i]
 * (x is modified and restored). */
double fd_central(double (*f)(void *ctx), void *ctx, double *x, double h);
/* The gradient grad [n] of f with respect to x [n] against central
 * differences with step h: the largest |fd_k - grad_k| / max(|grad_k|,
 * 1e-2 max|grad|); *gmax (nullable) = max|grad|. */
double fd_worst(double (*f)(void *ctx), void *ctx, double *x, const double *grad, int64_t n,
                double h, double *gmax);

/* *t = the training matrix of n distinct pairs (user, item) - base (ids of
 * pairs start at base), U users, I items: user-major rows into uptr [U+1]
 * and uitems [n], item-major into iptr [I+1] and iusers [n], each row
 * ascending. The arrays are the caller's; t points into them. */
void test_train_from_pairs(int32_t U, int32_t I, const int32_t (*pairs)[2], int n, int base,
                           int64_t *uptr, int32_t *uitems, int64_t *iptr, int32_t *iusers,
                           nb_train *t);

/* A training matrix with its own storage (at most 63 users, 63 items and
 * 256 pairs) and the row-sparse gradient blocks of a view's tables (at most
 * 512 rows of 8 columns each), for the sampler tests. */
typedef struct test_train {
    nb_train t;
    int64_t uptr[64], iptr[64];
    int32_t uit[256], ius[256];
} test_train;
typedef struct test_grads {
    nb_block user, item;
    float gu[4096], gi[4096];
    int32_t tu[512], ti[512];
    uint8_t mu[512], mi[512];
    nb_grads g;
} test_grads;

/* A model plugin's embedding tables (blocks 0 and 1: users, items) in
 * double, one table after the other as E0 [users + items][d]: set them
 * (returns the plugin's blocks), read their values or their gradients. */
nb_block *test_model_set_e0(const nb_model_vt *vt, void *state, const double *E0);
void test_model_get_e0(const nb_model_vt *vt, void *state, double *E0);
void test_model_e0_grad(const nb_model_vt *vt, void *state, double *g);

/* A small world for a sampler's behaviour checks (draws, allocation, thread
 * counts, NaN): 4 users, 9 items and 12 training pairs, d 6, tables drawn
 * uniformly from [-0.5, 0.5) (seed 9), one view whose final, layer and ego
 * rows are those tables, and a batch of 8 (users, positives). */
enum { SMALL_U = 4, SMALL_I = 9, SMALL_D = 6, SMALL_B = 8 };
typedef struct test_small_world {
    test_train tt;
    float U[SMALL_U * SMALL_D], I[SMALL_I * SMALL_D];
    nb_view v;
    int32_t users[SMALL_B], pos[SMALL_B];
} test_small_world;
void test_small_world_make(test_small_world *w);
/* steps batches of the small world's batch (epoch, seed, first = step * B)
 * through a sampler: negatives() into *out, then backward() with the
 * gradient 0.01 (i % 7) for every negative row (and for every d_reg row when
 * with_dreg) into tg, made afresh. Returns the OR of the statuses; adds the
 * host allocations during the calls to *n_allocs and the negatives that are
 * training positives of their user to *viol. */
int test_small_world_steps(const test_small_world *w, const nb_sampler_vt *vt, void *state,
                           nb_negatives *out, test_grads *tg, int with_dreg, int32_t epoch,
                           int steps, uint64_t seed, int *n_allocs, int *viol, char **err);

/* One batch of the small world (epoch, seed) through negatives(), whose
 * tables the caller made non-finite: two points, NB_ENUMERIC and a message
 * (what names the case). */
void test_small_world_nonfinite(const test_small_world *w, const nb_sampler_vt *vt, void *state,
                                nb_negatives *out, int32_t epoch, uint64_t seed, const char *what);

/* tt = nU users and nI items with the n distinct 0-based pairs (none when
 * n is 0: candidates then come from elsewhere). */
void test_make_train(test_train *tt, int32_t nU, int32_t nI, const int32_t (*pairs)[2], int n);
/* tg = zeroed row-sparse blocks "user_emb" [nU][d] and "item_emb" [nI][d],
 * each both the final-row and the ego gradient. */
void test_make_grads(test_grads *tg, int32_t nU, int32_t nI, int32_t d);

/* Max over k < n of |a[k] - b[k]| / max(|b[k]|, 1e-3 max|b|): the golden
 * README's scaled error. */
double test_scaled_err(const double *a, const double *b, int64_t n);

/* The tiny graph of the golden README: 5 users, 7 items and 14 training
 * pairs in RecBole ids (1-based; 0 is the padding id), and its batch of 4
 * (users, positives, negatives; 0-based). */
enum { TINY_U = 5, TINY_I = 7, TINY_NNZ = 14, TINY_B = 4 };
extern const int32_t tiny_pairs[TINY_NNZ][2];
extern const int32_t tiny_users[TINY_B], tiny_pos[TINY_B], tiny_neg[TINY_B];
/* tt = the tiny graph's training matrix, 0-based (pad 0: TINY_U x TINY_I),
 * or in RecBole ids with the padding user and item 0 isolated (pad 1). */
void test_tiny_train(test_train *tt, int pad);
/* E0 [TINY_U + TINY_I][d] from the golden tables prefix.U [TINY_U + 1][d]
 * and prefix.I [TINY_I + 1][d] (RecBole ids), their padding rows 0 dropped. */
void test_tiny_golden_e0(const json *j, const char *prefix, int32_t d, double *E0);
/* Node r of a golden array over RecBole's 14 rows (padding user 0, users
 * 1-5, padding item 6, items 7-13) as a 0-based node, -1 for a padding row. */
int test_tiny_node(int r);

#endif
