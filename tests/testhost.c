/*
 * testhost.c - the test host behind testhost.h.
 */
#define _GNU_SOURCE
#include "testhost.h"
#include "tap/tap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long allocs;

static void th_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# [plugin %d] ", level);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

static char *th_mprintf(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

static void *th_alloc(size_t n)
{
    void *p = NULL;
    allocs++;
    if (posix_memalign(&p, 64, n ? (n + 63) & ~(size_t)63 : 64) != 0) return NULL;
    memset(p, 0, n);
    return p;
}

static void th_free(void *p) { free(p); }

static void th_sgemm(int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, const float *b, float beta, float *c)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t q = 0; q < k; q++)
                s += (double)a[i * k + q] * (trans_b ? b[j * k + q] : b[q * n + j]);
            c[i * n + j] = (float)(alpha * s + (beta == 0.0f ? 0.0 : beta * c[i * n + j]));
        }
}

/* The same naive double loop with transposes and leading dimensions. */
static void th_sgemm_ex(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t q = 0; q < k; q++)
                s += (double)(trans_a ? a[q * lda + i] : a[i * lda + q]) *
                     (trans_b ? b[j * ldb + q] : b[q * ldb + j]);
            c[i * ldc + j] = (float)(alpha * s + (beta == 0.0f ? 0.0 : beta * c[i * ldc + j]));
        }
}

static const nb_host host = {
    .struct_size = sizeof(nb_host),
    .log = th_log,
    .mprintf = th_mprintf,
    .alloc = th_alloc,
    .free = th_free,
    .sgemm = th_sgemm,
    .threads = 1,
    .sgemm_ex = th_sgemm_ex,
};

const nb_host *testhost(void) { return &host; }
long testhost_allocs(void) { return allocs; }

double fd_central(double (*f)(void *ctx), void *ctx, double *x, double h)
{
    double x0 = *x;
    *x = x0 + h;
    double fp = f(ctx);
    *x = x0 - h;
    double fm = f(ctx);
    *x = x0;
    return (fp - fm) / (2.0 * h);
}

double fd_worst(double (*f)(void *ctx), void *ctx, double *x, const double *grad, int64_t n,
                double h, double *gmax)
{
    double worst = 0, gm = 0;
    for (int64_t k = 0; k < n; k++) gm = fmax(gm, fabs(grad[k]));
    for (int64_t k = 0; k < n; k++) {
        double fd = fd_central(f, ctx, &x[k], h);
        worst = fmax(worst, fabs(fd - grad[k]) / fmax(fabs(grad[k]), 1e-2 * gm));
    }
    if (gmax) *gmax = gm;
    return worst;
}

void test_train_from_pairs(int32_t U, int32_t I, const int32_t (*pairs)[2], int n, int base,
                           int64_t *uptr, int32_t *uitems, int64_t *iptr, int32_t *iusers,
                           nb_train *t)
{
    uint8_t *R = calloc((size_t)U * (size_t)I, 1);
    if (!R) abort();
    for (int k = 0; k < n; k++) R[(int64_t)(pairs[k][0] - base) * I + (pairs[k][1] - base)] = 1;
    int64_t p = 0;
    uptr[0] = 0;
    for (int32_t u = 0; u < U; u++) {
        for (int32_t i = 0; i < I; i++) if (R[(int64_t)u * I + i]) uitems[p++] = i;
        uptr[u + 1] = p;
    }
    p = 0;
    iptr[0] = 0;
    for (int32_t i = 0; i < I; i++) {
        for (int32_t u = 0; u < U; u++) if (R[(int64_t)u * I + i]) iusers[p++] = u;
        iptr[i + 1] = p;
    }
    *t = (nb_train){U, I, n, uptr, uitems, iptr, iusers};
    free(R);
}

void test_make_train(test_train *tt, int32_t nU, int32_t nI, const int32_t (*pairs)[2], int n)
{
    if (nU >= 64 || nI >= 64 || n > 256) abort();
    memset(tt, 0, sizeof *tt);
    test_train_from_pairs(nU, nI, pairs, n, 0, tt->uptr, tt->uit, tt->iptr, tt->ius, &tt->t);
}

void test_make_grads(test_grads *tg, int32_t nU, int32_t nI, int32_t d)
{
    if (nU > 512 || nI > 512 || (int64_t)nU * d > 4096 || (int64_t)nI * d > 4096) abort();
    memset(tg, 0, sizeof *tg);
    tg->user = (nb_block){"user_emb", NULL, tg->gu, nU, d, NB_BLOCK_ROWS, tg->tu, 0, tg->mu};
    tg->item = (nb_block){"item_emb", NULL, tg->gi, nI, d, NB_BLOCK_ROWS, tg->ti, 0, tg->mi};
    tg->g = (nb_grads){&tg->user, &tg->item, NULL, NULL, &tg->user, &tg->item};
}

double test_scaled_err(const double *a, const double *b, int64_t n)
{
    double scale = 0, worst = 0;
    for (int64_t k = 0; k < n; k++) scale = fmax(scale, fabs(b[k]));
    for (int64_t k = 0; k < n; k++)
        worst = fmax(worst, fabs(a[k] - b[k]) / fmax(fabs(b[k]), 1e-3 * scale + 1e-300));
    return worst;
}

const int32_t tiny_pairs[TINY_NNZ][2] = {{1, 1}, {1, 2}, {1, 3}, {2, 2}, {2, 4}, {3, 1}, {3, 5},
                                         {3, 6}, {4, 3}, {4, 7}, {4, 4}, {5, 6}, {5, 2}, {5, 7}};
const int32_t tiny_users[TINY_B] = {0, 2, 4, 0}, tiny_pos[TINY_B] = {1, 4, 6, 2},
              tiny_neg[TINY_B] = {5, 1, 3, 6};

void test_tiny_train(test_train *tt, int pad)
{
    memset(tt, 0, sizeof *tt);
    test_train_from_pairs(TINY_U + pad, TINY_I + pad, tiny_pairs, TINY_NNZ, 1 - pad, tt->uptr,
                          tt->uit, tt->iptr, tt->ius, &tt->t);
}

void test_small_world_make(test_small_world *w)
{
    static const int32_t pairs[12][2] = {{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5},
                                         {0, 6}, {1, 2}, {1, 7}, {2, 0}, {2, 8}, {3, 4}};
    static const int32_t users[SMALL_B] = {0, 1, 2, 3, 0, 1, 2, 3},
                         pos[SMALL_B] = {0, 2, 8, 4, 6, 7, 0, 4};
    memset(w, 0, sizeof *w);
    test_make_train(&w->tt, SMALL_U, SMALL_I, pairs, 12);
    nb_rng r;
    nb_rng_seed(&r, 9, 9, 9);
    for (int i = 0; i < SMALL_U * SMALL_D; i++) w->U[i] = (float)(nb_rng_uniform(&r) - 0.5);
    for (int i = 0; i < SMALL_I * SMALL_D; i++) w->I[i] = (float)(nb_rng_uniform(&r) - 0.5);
    w->v = (nb_view){.n_users = SMALL_U, .n_items = SMALL_I, .dim = SMALL_D, .user = w->U,
                     .item = w->I, .user_layers = w->U, .item_layers = w->I,
                     .user_ego = w->U, .item_ego = w->I};
    memcpy(w->users, users, sizeof users);
    memcpy(w->pos, pos, sizeof pos);
}

int test_small_world_steps(const test_small_world *w, const nb_sampler_vt *vt, void *state,
                           nb_negatives *out, test_grads *tg, int with_dreg, int32_t epoch,
                           int steps, uint64_t seed, int *n_allocs, int *viol, char **err)
{
    enum { B = SMALL_B, D = SMALL_D };
    int rc = 0;
    float dneg[B * D];
    for (int i = 0; i < B * D; i++) dneg[i] = 0.01f * (float)(i % 7);
    test_make_grads(tg, SMALL_U, SMALL_I, D);
    for (int step = 0; step < steps; step++) {
        nb_batch bt = {.size = B, .users = w->users, .pos = w->pos, .epoch = epoch,
                       .step = step, .first = (int64_t)step * B, .seed = seed};
        long a0 = testhost_allocs();
        rc |= vt->negatives(state, &bt, &w->v, out, err);
        rc |= vt->backward(state, &bt, &w->v, dneg, with_dreg ? dneg : NULL, &tg->g, err);
        *n_allocs += (int)(testhost_allocs() - a0);
        for (int b = 0; b < B; b++) *viol += nb_train_has(&w->tt.t, w->users[b], out->item[b]);
    }
    return rc;
}

void test_tiny_golden_e0(const json *j, const char *prefix, int32_t d, double *E0)
{
    double *tmp = calloc((size_t)(TINY_I + 1) * (size_t)d, sizeof *tmp);
    char key[256];
    snprintf(key, sizeof key, "%s.U", prefix);
    json_flatten(json_get(j, key), tmp, (size_t)(TINY_U + 1) * (size_t)d);
    memcpy(E0, tmp + d, sizeof(double) * TINY_U * (size_t)d);
    snprintf(key, sizeof key, "%s.I", prefix);
    json_flatten(json_get(j, key), tmp, (size_t)(TINY_I + 1) * (size_t)d);
    memcpy(E0 + (size_t)TINY_U * d, tmp + d, sizeof(double) * TINY_I * (size_t)d);
    free(tmp);
}

int test_tiny_node(int r)
{
    return r == 0 || r == TINY_U + 1 ? -1 : (r <= TINY_U ? r - 1 : r - 2);
}

nb_block *test_model_set_e0(const nb_model_vt *vt, void *state, const double *E0)
{
    nb_block *blk;
    int nb;
    vt->blocks(state, &blk, &nb);
    int64_t nu = blk[0].rows * blk[0].cols, ni = blk[1].rows * blk[1].cols;
    for (int64_t k = 0; k < nu; k++) blk[0].value[k] = (float)E0[k];
    for (int64_t k = 0; k < ni; k++) blk[1].value[k] = (float)E0[nu + k];
    return blk;
}

/* out = the values (grad 0) or the gradients (grad 1) of blocks 0 and 1. */
static void model_e0_read(const nb_model_vt *vt, void *state, double *out, int grad)
{
    nb_block *blk;
    int nb;
    vt->blocks(state, &blk, &nb);
    for (int t = 0, off = 0; t < 2; off += (int)(blk[t].rows * blk[t].cols), t++)
        for (int64_t k = 0; k < blk[t].rows * blk[t].cols; k++)
            out[off + k] = grad ? blk[t].grad[k] : blk[t].value[k];
}

void test_model_get_e0(const nb_model_vt *vt, void *state, double *E0)
{
    model_e0_read(vt, state, E0, 0);
}

void test_model_e0_grad(const nb_model_vt *vt, void *state, double *g)
{
    model_e0_read(vt, state, g, 1);
}

void test_small_world_nonfinite(const test_small_world *w, const nb_sampler_vt *vt, void *state,
                                nb_negatives *out, int32_t epoch, uint64_t seed, const char *what)
{
    nb_batch bt = {.size = SMALL_B, .users = w->users, .pos = w->pos, .epoch = epoch, .step = 0,
                   .first = 0, .seed = seed};
    char *err = NULL;
    int rc = vt->negatives(state, &bt, &w->v, out, &err);
    is_int(rc, NB_ENUMERIC, "%s -> NB_ENUMERIC", what);
    ok(err != NULL, "with a message: %s", err ? err : "(none)");
    free(err);
}
