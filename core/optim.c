/*
 * optim.c - Adam (torch 1.13 semantics) with deferred dense updates of
 * row-sparse blocks; see optim.h for the closed form.
 */
#include "optim.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct adam_block {
    nb_block *b;
    float *m, *v;        /* [rows][cols] moments */
    int64_t *row_t;      /* deferred ROWS blocks: step each row is current at */
    uint8_t *lock;       /* deferred ROWS blocks: per-row spin lock */
} adam_block;

struct nb_optim {
    nb_adam_opts o;
    int n;
    adam_block *blk;
    int64_t t;           /* steps taken */
    int64_t cap;         /* capacity of the per-step tables */
    float *step_size;    /* [cap] lr / (1 - b1^s) at step s (1-based) */
    float *bc2_sqrt;     /* [cap] sqrt(1 - b2^s) */
    double *b1_pow;      /* [cap] b1^j */
    double *b2_half;     /* [cap] b2^(j/2) */
};

/* One Adam step with gradient g over n elements. */
__attribute__((target_clones("avx2", "default")))
static void adam_update(float *restrict p, float *restrict m, float *restrict v,
                        const float *restrict g, int64_t n, float b1, float b2,
                        float step_size, float bc2_sqrt, float eps)
{
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (int64_t k = 0; k < n; k++) {
        m[k] = m[k] * b1 + g[k] * c1;
        v[k] = v[k] * b2 + g[k] * g[k] * c2;
        p[k] -= step_size * (m[k] / (sqrtf(v[k]) / bc2_sqrt + eps));
    }
}

/* One Adam step with a zero gradient (the dense path of idle rows). */
__attribute__((target_clones("avx2", "default")))
static void adam_idle(float *restrict p, float *restrict m, float *restrict v, int64_t n,
                      float b1, float b2, float step_size, float bc2_sqrt, float eps)
{
    for (int64_t k = 0; k < n; k++) {
        m[k] = m[k] * b1;
        v[k] = v[k] * b2;
        p[k] -= step_size * (m[k] / (sqrtf(v[k]) / bc2_sqrt + eps));
    }
}

/* k idle steps in closed form (optim.h): per element
 *   acc = sum_j a_j / (sv r_j + eps),  sv = sqrt(v).
 * Writing x = eps / sv, 1/(sv r + eps) = (1/(sv r)) sum_n (-x/r)^n, so
 *   acc = (1/sv) sum_n (-x)^n C_n,  C_n = sum_j a_j / r_j^(n+1),
 * with per-row constants C_0..C_3. When x / min_j r_j <= 0.02 the series
 * truncated after 4 terms is exact to float precision (error <= 2e-7
 * relative); otherwise (tiny v) the element takes the direct sum. */
__attribute__((target_clones("avx2", "default")))
static void adam_idle_k(float *restrict p, float *restrict m, float *restrict v, int64_t n,
                        const float *restrict a, const float *restrict r, int64_t k,
                        float b1k, float b2k, float eps, const double C[4], float x_max)
{
    const float c0 = (float)C[0], c1 = (float)C[1], c2 = (float)C[2], c3 = (float)C[3];
    for (int64_t e = 0; e < n; e++) {
        float sv = sqrtf(v[e]), acc;
        if (m[e] == 0.0f) {
            acc = 0.0f;
        } else if (sv * x_max >= eps) {          /* x = eps/sv <= x_max */
            float x = eps / sv;
            acc = (c0 - x * (c1 - x * (c2 - x * c3))) / sv;
        } else {
            acc = 0.0f;
            for (int64_t j = 0; j < k; j++) acc += a[j] / (sv * r[j] + eps);
        }
        p[e] -= m[e] * acc;
        m[e] *= b1k;
        v[e] *= b2k;
    }
}

static void ensure_tables(nb_optim *o, int64_t t)
{
    if (t < o->cap) return;
    int64_t old = o->cap, cap = old ? old : 1024;
    while (cap <= t) cap *= 2;
    o->step_size = nb_xrealloc(o->step_size, (size_t)cap * sizeof(float));
    o->bc2_sqrt = nb_xrealloc(o->bc2_sqrt, (size_t)cap * sizeof(float));
    o->b1_pow = nb_xrealloc(o->b1_pow, (size_t)cap * sizeof(double));
    o->b2_half = nb_xrealloc(o->b2_half, (size_t)cap * sizeof(double));
    for (int64_t s = old; s < cap; s++) {
        double bc1 = 1.0 - pow(o->o.beta1, (double)s);
        double bc2 = 1.0 - pow(o->o.beta2, (double)s);
        o->step_size[s] = s ? (float)(o->o.lr / bc1) : 0.0f;
        o->bc2_sqrt[s] = s ? (float)sqrt(bc2) : 1.0f;
        o->b1_pow[s] = pow(o->o.beta1, (double)s);
        o->b2_half[s] = pow(o->o.beta2, 0.5 * (double)s);
    }
    o->cap = cap;
}

int optim_create(nb_block *const *blocks, int n, const nb_adam_opts *opts,
                 nb_optim **out, char **err)
{
    nb_optim *o = nb_xcalloc(1, sizeof *o);
    o->o = *opts;
    o->n = n;
    o->blk = nb_xcalloc((size_t)(n ? n : 1), sizeof *o->blk);
    for (int i = 0; i < n; i++) {
        nb_block *b = blocks[i];
        size_t elems = (size_t)(b->rows * b->cols);
        o->blk[i].b = b;
        o->blk[i].m = nb_aligned_zalloc(elems * sizeof(float));
        o->blk[i].v = nb_aligned_zalloc(elems * sizeof(float));
        if (!o->blk[i].m || !o->blk[i].v) {
            optim_free(o);
            return nb_fail(err, NB_ENOMEM, "out of memory for Adam state of block %s", b->name);
        }
        if ((b->flags & NB_BLOCK_ROWS) && o->o.mode == 0 && o->o.deferred && o->o.deferred[i]) {
            o->blk[i].row_t = nb_xcalloc((size_t)b->rows, sizeof(int64_t));
            o->blk[i].lock = nb_xcalloc((size_t)b->rows, 1);
        }
    }
    o->o.deferred = NULL; /* the caller's array: read here only (row_t says it after) */
    ensure_tables(o, 1);
    *out = o;
    return NB_OK;
}

void optim_free(nb_optim *o)
{
    if (!o) return;
    for (int i = 0; i < o->n; i++) {
        free(o->blk[i].m);
        free(o->blk[i].v);
        free(o->blk[i].row_t);
        free(o->blk[i].lock);
    }
    free(o->blk);
    free(o->step_size);
    free(o->bc2_sqrt);
    free(o->b1_pow);
    free(o->b2_half);
    free(o);
}

/* Apply the idle steps row r missed, up to step t (caller holds the row). */
static void catch_up_row(nb_optim *o, adam_block *ab, int64_t r, int64_t t)
{
    int64_t t0 = ab->row_t[r], k = t - t0;
    if (k <= 0) return;
    int64_t c = ab->b->cols;
    float *p = ab->b->value + r * c, *m = ab->m + r * c, *v = ab->v + r * c;
    const float eps = (float)o->o.eps;
    if (k == 1) {
        adam_idle(p, m, v, c, (float)o->o.beta1, (float)o->o.beta2, o->step_size[t],
                  o->bc2_sqrt[t], eps);
    } else {
        float a[256], rr[256];
        for (int64_t done = 0; done < k;) { /* chunks of at most 256 steps */
            int64_t n = k - done < 256 ? k - done : 256;
            /* m and v are current at step t0 + done: tables relative to it */
            double C[4] = { 0, 0, 0, 0 }, rmin = INFINITY;
            for (int64_t j = 0; j < n; j++) {
                int64_t s = t0 + done + j + 1;
                double aj = o->b1_pow[j + 1] * (double)o->step_size[s];
                double rj = o->b2_half[j + 1] / (double)o->bc2_sqrt[s];
                double q = aj / rj;
                a[j] = (float)aj;
                rr[j] = (float)rj;
                for (int e = 0; e < 4; e++, q /= rj) C[e] += q;
                if (rj < rmin) rmin = rj;
            }
            adam_idle_k(p, m, v, c, a, rr, n, (float)o->b1_pow[n],
                        (float)(o->b2_half[n] * o->b2_half[n]), eps, C, (float)(0.02 * rmin));
            done += n;
        }
    }
    __atomic_store_n(&ab->row_t[r], t, __ATOMIC_RELEASE);
}

static void lock_row(adam_block *ab, int64_t r)
{
    while (__atomic_test_and_set(&ab->lock[r], __ATOMIC_ACQUIRE)) { /* spin */ }
}

static void unlock_row(adam_block *ab, int64_t r)
{
    __atomic_clear(&ab->lock[r], __ATOMIC_RELEASE);
}

void optim_sync_row(nb_optim *o, int bi, int64_t r)
{
    adam_block *ab = &o->blk[bi];
    if (!ab->row_t || __atomic_load_n(&ab->row_t[r], __ATOMIC_ACQUIRE) >= o->t) return;
    lock_row(ab, r);
    catch_up_row(o, ab, r, o->t);
    unlock_row(ab, r);
}

double optim_read_share(int64_t rows, double reads)
{
    return rows > 0 ? 1.0 - exp(-reads / (double)rows) : 0.0;
}

int optim_defer_pays(int64_t rows, double reads)
{
    return rows > 0 && optim_read_share(rows, reads) <= OPTIM_DEFER_MAX_SHARE;
}

int optim_block_deferred(const nb_optim *o, int bi)
{
    return bi >= 0 && bi < o->n && o->blk[bi].row_t != NULL;
}

int optim_block_index(const nb_optim *o, const float *value)
{
    for (int i = 0; i < o->n; i++)
        if (o->blk[i].b->value == value) return i;
    return -1;
}

/* The steps below run as work-shared loops (orphaned "omp for") inside the
 * one parallel region of optim_step, or on the calling thread when that
 * region is not parallel. One region per step, with no serial code between
 * the blocks, because a region costs more than its work when threads are
 * scarce: a thread that went to sleep between two regions must be woken
 * (tens of microseconds in a virtual machine), and a thread that lost its
 * core to another program holds up the whole region. Dynamic schedules let
 * the thread that still has its core take the rest of the work. Every loop
 * is elementwise or row-wise, so the schedule does not change any bit. */

enum { ADAM_CHUNK = 16384, ADAM_ROWS_CHUNK = 32 };

/* 1 when block ab steps as a whole table (a dense block, or a ROWS block
 * with plain dense Adam), 0 when only its touched rows step. */
static int steps_whole_table(const nb_optim *o, const adam_block *ab)
{
    return !(ab->b->flags & NB_BLOCK_ROWS) || (!ab->row_t && o->o.mode == 0);
}

/* Adam at step t over the whole block in chunks of ADAM_CHUNK elements,
 * zeroing each chunk's gradient after it when zero_grad. No barrier at the
 * end: a caller that then touches rows of the block waits first. */
static void adam_chunks(nb_optim *o, adam_block *ab, int64_t t, int zero_grad)
{
    nb_block *b = ab->b;
    const int64_t n = b->rows * b->cols;
    const float b1 = (float)o->o.beta1, b2 = (float)o->o.beta2, eps = (float)o->o.eps;
    const float ss = o->step_size[t], bs = o->bc2_sqrt[t];
    #pragma omp for schedule(dynamic, 1) nowait
    for (int64_t s = 0; s < n; s += ADAM_CHUNK) {
        int64_t len = n - s < ADAM_CHUNK ? n - s : ADAM_CHUNK;
        adam_update(b->value + s, ab->m + s, ab->v + s, b->grad + s, len, b1, b2, ss, bs, eps);
        if (zero_grad) memset(b->grad + s, 0, (size_t)len * sizeof(float));
    }
}

/* Zero the gradient and the mark of every touched row of b (no barrier). */
static void clear_touched_rows(nb_block *b)
{
    const int64_t c = b->cols;
    #pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < b->n_touched; i++) {
        int64_t r = b->touched[i];
        memset(b->grad + r * c, 0, (size_t)c * sizeof(float));
        b->mark[r] = 0;
    }
}

static void step_rows_block(nb_optim *o, adam_block *ab, int64_t t)
{
    nb_block *b = ab->b;
    const int64_t c = b->cols;
    const float b1 = (float)o->o.beta1, b2 = (float)o->o.beta2, eps = (float)o->o.eps;
    const float ss = o->step_size[t], bs = o->bc2_sqrt[t];
    if (steps_whole_table(o, ab)) {
        /* plain dense: every row. An untouched row's gradient is zero, and
         * the update with a zero gradient moves p exactly as adam_idle does
         * (m and v may differ in the sign of a zero only), so the whole
         * table goes in contiguous chunks; the touched rows' gradients are
         * zeroed once every chunk has read them. */
        adam_chunks(o, ab, t, 0);
        #pragma omp barrier
        clear_touched_rows(b);
        return;
    }
    /* each touched row once (the touched list has no repeats): update it,
     * then zero its gradient and its mark on the same thread */
    #pragma omp for schedule(dynamic, ADAM_ROWS_CHUNK) nowait
    for (int64_t i = 0; i < b->n_touched; i++) {
        int64_t r = b->touched[i];
        if (i + 4 < b->n_touched) { /* random rows: fetch ahead */
            int64_t q = b->touched[i + 4] * c;
            for (int64_t k = 0; k < c; k += 16) {
                __builtin_prefetch(b->value + q + k, 1);
                __builtin_prefetch(ab->m + q + k, 1);
                __builtin_prefetch(ab->v + q + k, 1);
                __builtin_prefetch(b->grad + q + k, 1);
            }
        }
        if (ab->row_t) catch_up_row(o, ab, r, t - 1);
        adam_update(b->value + r * c, ab->m + r * c, ab->v + r * c, b->grad + r * c, c, b1,
                    b2, ss, bs, eps);
        if (ab->row_t) ab->row_t[r] = t;
        memset(b->grad + r * c, 0, (size_t)c * sizeof(float));
        b->mark[r] = 0;
    }
}

/* 1 when a step has enough work for more than one thread: as before the
 * region was shared, a dense table of more than 65536 elements or more than
 * 256 touched rows. */
static int step_worth_threads(const nb_optim *o)
{
    for (int i = 0; i < o->n; i++) {
        const adam_block *ab = &o->blk[i];
        const nb_block *b = ab->b;
        if (steps_whole_table(o, ab) ? b->rows * b->cols > 65536 : b->n_touched > 256) return 1;
    }
    return 0;
}

void optim_step(nb_optim *o)
{
    int64_t t = o->t + 1;
    ensure_tables(o, t + 1);
    #pragma omp parallel num_threads(o->o.threads > 0 ? o->o.threads : 1) if (step_worth_threads(o))
    for (int i = 0; i < o->n; i++) {
        adam_block *ab = &o->blk[i];
        if (ab->b->flags & NB_BLOCK_ROWS) step_rows_block(o, ab, t);
        else adam_chunks(o, ab, t, 1);
    }
    for (int i = 0; i < o->n; i++)
        if (o->blk[i].b->flags & NB_BLOCK_ROWS) o->blk[i].b->n_touched = 0;
    o->t = t;
}

void optim_flush(nb_optim *o)
{
    for (int i = 0; i < o->n; i++) {
        adam_block *ab = &o->blk[i];
        if (!ab->row_t) continue;
        int64_t rows = ab->b->rows;
        #pragma omp parallel for schedule(static, 256) num_threads(o->o.threads > 0 ? o->o.threads : 1)
        for (int64_t r = 0; r < rows; r++) catch_up_row(o, ab, r, o->t);
    }
}

void optim_values_written(nb_optim *o)
{
    for (int i = 0; i < o->n; i++) {
        adam_block *ab = &o->blk[i];
        if (!ab->row_t) continue;
        for (int64_t r = 0; r < ab->b->rows; r++) ab->row_t[r] = o->t;
    }
}

int64_t optim_steps(const nb_optim *o)
{
    return o->t;
}
