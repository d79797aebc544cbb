/*
 * hint_check.c - the checking mode of the sampler performance hints: a NaN
 * copy of the view whose rows become readable only when synced
 * (hint_check.h).
 */
#include "hint_check.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One final table of the copy. */
typedef struct hc_table {
    float *copy;          /* [rows][vd], NaN except the readable rows */
    uint8_t *mark;        /* [rows] 0 NaN, 1 being copied, 2 readable */
    int32_t *list;        /* [rows] the readable rows of this step */
    int64_t n;            /* entries of list (atomic) */
    int32_t rows;
} hc_table;

struct hint_check {
    uint32_t flags;
    int32_t vd;
    hc_table t[2];        /* NB_USERS, NB_ITEMS */
    float *stack;         /* [max(U, I)][(L+1) vd] NaN (FINAL_ONLY), or NULL */
    float *lay[2];        /* SYNCS_ROWS of the stack (ABI 1.6): [rows][ld] NaN copies of
                             the user and item stacks except synced rows, or NULL */
    int64_t ld;           /* (L+1) vd */
    nb_view real;         /* this step's view of the model and host */
    nb_view view;         /* the sampler's */
};

static void fill_nan(float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++) p[i] = NAN;
}

static void table_init(hc_table *t, int32_t rows, int32_t vd)
{
    t->rows = rows;
    t->copy = nb_xmalloc((size_t)rows * (size_t)vd * sizeof(float) + 1);
    fill_nan(t->copy, (int64_t)rows * vd);
    t->mark = nb_xcalloc((size_t)rows + 1, 1);
    t->list = nb_xmalloc(((size_t)rows + 1) * sizeof(int32_t));
    t->n = 0;
}

hint_check *hint_check_create(uint32_t flags, const nb_view *v0, int stack_synced)
{
    flags &= NB_SAMPLER_SYNCS_ROWS | NB_SAMPLER_FINAL_ONLY;
    if (!flags) return NULL;
    hint_check *c = nb_xcalloc(1, sizeof *c);
    c->flags = flags;
    c->vd = v0->dim;
    c->ld = (int64_t)(v0->n_layers + 1) * v0->dim;
    if (flags & NB_SAMPLER_SYNCS_ROWS) {
        table_init(&c->t[NB_USERS], v0->n_users, v0->dim);
        table_init(&c->t[NB_ITEMS], v0->n_items, v0->dim);
        if (stack_synced && !(flags & NB_SAMPLER_FINAL_ONLY) && v0->n_layers > 0 &&
            v0->user_layers && v0->user_layers != v0->user) {
            int32_t rows[2] = {v0->n_users, v0->n_items};
            for (int w = 0; w < 2; w++) {
                c->lay[w] = nb_xmalloc((size_t)rows[w] * (size_t)c->ld * sizeof(float) + 1);
                fill_nan(c->lay[w], rows[w] * c->ld);
            }
        }
    }
    if (flags & NB_SAMPLER_FINAL_ONLY) {
        int64_t rows = v0->n_users > v0->n_items ? v0->n_users : v0->n_items;
        int64_t n = rows * (int64_t)(v0->n_layers + 1) * v0->dim;
        c->stack = nb_xmalloc((size_t)n * sizeof(float) + 1);
        fill_nan(c->stack, n);
    }
    return c;
}

void hint_check_free(hint_check *c)
{
    if (!c) return;
    for (int w = 0; w < 2; w++) {
        free(c->t[w].copy);
        free(c->t[w].mark);
        free(c->t[w].list);
    }
    free(c->stack);
    free(c->lay[0]);
    free(c->lay[1]);
    free(c);
}

/* nb_view.sync of the sampler's view: sync the real row, then copy it in.
 * The first thread to ask copies; others wait until it is readable. */
static void check_sync(void *ctx, int which, int32_t row)
{
    hint_check *c = ctx;
    if ((which != NB_USERS && which != NB_ITEMS) || row < 0 || row >= c->t[which].rows) return;
    hc_table *t = &c->t[which];
    uint8_t expect = 0;
    if (__atomic_compare_exchange_n(&t->mark[row], &expect, 1, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        nb_view_sync(&c->real, which, row);
        const float *src = which == NB_USERS ? c->real.user : c->real.item;
        memcpy(t->copy + (int64_t)row * c->vd, src + (int64_t)row * c->vd,
               (size_t)c->vd * sizeof(float));
        const float *lsrc = which == NB_USERS ? c->real.user_layers : c->real.item_layers;
        if (c->lay[which] && lsrc)
            memcpy(c->lay[which] + row * c->ld, lsrc + row * c->ld,
                   (size_t)c->ld * sizeof(float));
        t->list[__atomic_fetch_add(&t->n, 1, __ATOMIC_RELAXED)] = row;
        __atomic_store_n(&t->mark[row], 2, __ATOMIC_RELEASE);
    } else {
        while (__atomic_load_n(&t->mark[row], __ATOMIC_ACQUIRE) != 2)
            ; /* another thread is copying the row */
    }
}

/* The copy standing for a pointer of the real view (aliases kept). */
static const float *alias(const hint_check *c, const nb_view *real, const float *p,
                          const float *otherwise)
{
    if (p && p == real->user) return c->t[NB_USERS].copy;
    if (p && p == real->item) return c->t[NB_ITEMS].copy;
    return otherwise;
}

const nb_view *hint_check_view(hint_check *c, const nb_view *real, const nb_batch *batch)
{
    c->real = *real;
    c->view = *real;
    if (c->flags & NB_SAMPLER_SYNCS_ROWS) {
        c->view.user = c->t[NB_USERS].copy;
        c->view.item = c->t[NB_ITEMS].copy;
        c->view.user_ego = alias(c, real, real->user_ego, real->user_ego);
        c->view.item_ego = alias(c, real, real->item_ego, real->item_ego);
        c->view.user_layers = alias(c, real, real->user_layers, real->user_layers);
        c->view.item_layers = alias(c, real, real->item_layers, real->item_layers);
        if (c->lay[NB_USERS] && real->user_layers && real->user_layers != real->user)
            c->view.user_layers = c->lay[NB_USERS];
        if (c->lay[NB_ITEMS] && real->item_layers && real->item_layers != real->item)
            c->view.item_layers = c->lay[NB_ITEMS];
        c->view.sync = check_sync;
        c->view.sync_ctx = c;
        for (int32_t b = 0; b < batch->size; b++) { /* the rows the host syncs */
            check_sync(c, NB_USERS, batch->users[b]);
            check_sync(c, NB_ITEMS, batch->pos[b]);
        }
    }
    if (c->flags & NB_SAMPLER_FINAL_ONLY) {
        if (real->user_layers != real->user) c->view.user_layers = c->stack;
        if (real->item_layers != real->item) c->view.item_layers = c->stack;
    }
    return &c->view;
}

int hint_check_negatives(hint_check *c, const char *sampler, const nb_negatives *neg,
                         int32_t B, int32_t R, char **err)
{
    for (int64_t i = 0; i < (int64_t)B * c->vd; i++)
        if (!isfinite(neg->vec[i]))
            return nb_fail(err, NB_ENUMERIC,
                           "sampler %s: hint check: the negative vector of positive %lld is not "
                           "finite: it read a row it did not sync (NB_SAMPLER_SYNCS_ROWS; final or, "
                           "from ABI 1.6, stack rows) or the per-layer stack "
                           "(NB_SAMPLER_FINAL_ONLY)",
                           sampler, (long long)(i / c->vd));
    if (!(c->flags & NB_SAMPLER_SYNCS_ROWS) || neg->use_reg_vec) return NB_OK;
    const hc_table *t = &c->t[NB_ITEMS];
    for (int64_t r = 0; r < (int64_t)B * R; r++) {
        int32_t i = neg->reg_items[r];
        if (i >= 0 && i < t->rows && t->mark[i] != 2)
            return nb_fail(err, NB_EINVAL,
                           "sampler %s: hint check: regularised item %d was never synced "
                           "(NB_SAMPLER_SYNCS_ROWS): the regulariser would read a stale row",
                           sampler, i);
    }
    return NB_OK;
}

int hint_check_backward(hint_check *c, const char *sampler, const nb_grads *g, char **err)
{
    if (!(c->flags & NB_SAMPLER_FINAL_ONLY)) return NB_OK;
    const nb_block *lay[2] = { g->user_layers, g->item_layers };
    const nb_block *fin[2] = { g->user, g->item };
    for (int w = 0; w < 2; w++)
        if (lay[w] && lay[w] != fin[w] && (lay[w]->flags & NB_BLOCK_ROWS) && lay[w]->n_touched > 0)
            return nb_fail(err, NB_EINVAL,
                           "sampler %s: hint check: backward wrote %lld per-layer %s gradient "
                           "rows, but NB_SAMPLER_FINAL_ONLY says it writes none",
                           sampler, (long long)lay[w]->n_touched, w ? "item" : "user");
    return NB_OK;
}

void hint_check_end(hint_check *c)
{
    if (!(c->flags & NB_SAMPLER_SYNCS_ROWS)) return;
    for (int w = 0; w < 2; w++) {
        hc_table *t = &c->t[w];
        for (int64_t k = 0; k < t->n; k++) {
            fill_nan(t->copy + (int64_t)t->list[k] * c->vd, c->vd);
            if (c->lay[w]) fill_nan(c->lay[w] + (int64_t)t->list[k] * c->ld, c->ld);
            t->mark[t->list[k]] = 0;
        }
        t->n = 0;
    }
}

int hint_check_requested(void)
{
    const char *e = getenv("NB_CHECK_HINTS");
    return e && *e && strcmp(e, "0");
}
