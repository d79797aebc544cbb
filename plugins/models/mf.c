/*
 * mf.c - the MF model plugin: score(u, i) = U_u . I_i.
 *
 * Parameters are the two embedding tables, Xavier-uniform initialised with
 * bound sqrt(6 / (rows + d)) as RecBole's xavier_uniform_ (rows counts the
 * real ids only: negbench has no PAD row). The view's final, per-layer and
 * ego rows are all the tables themselves, so the gradients the host and the
 * sampler write are already the parameter gradients and backward has
 * nothing to do. Both tables are NB_BLOCK_ROWS: only the batch's rows get a
 * gradient, and the host's Adam handles the rest (dense or lazy).
 */
#include "negbench/plugin.h"

#include <stdlib.h>

static const nb_param_spec mf_params[] = {
    { "init", NB_PARAM_CHOICE, "xavier_uniform", 0, 0, "xavier_uniform|xavier_normal",
      "initialisation of both tables (RecBole BPR uses xavier_normal, ANS xavier_uniform)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

typedef struct mf_state {
    const nb_host *h;
    nb_block blocks[2];          /* user, item */
    nb_view view;
} mf_state;

static void mf_free(void *state)
{
    mf_state *s = state;
    if (!s) return;
    for (int i = 0; i < 2; i++) {
        s->h->free(s->blocks[i].value);
        s->h->free(s->blocks[i].grad);
        s->h->free(s->blocks[i].touched);
        s->h->free(s->blocks[i].mark);
    }
    s->h->free(s);
}

/* Xavier init of a [rows][d] table from one seeded stream. */
static void xavier_fill(float *x, int64_t rows, int32_t d, int normal, nb_rng *r)
{
    double bound = sqrt(6.0 / (double)(rows + d));
    double std = sqrt(2.0 / (double)(rows + d));
    for (int64_t i = 0; i < rows * d; i++) {
        if (normal) {
            /* Box-Muller; one draw per element keeps the stream layout simple */
            double u1 = nb_rng_uniform(r), u2 = nb_rng_uniform(r);
            x[i] = (float)(std * sqrt(-2.0 * log(u1 > 0 ? u1 : 1e-300)) * cos(6.283185307179586 * u2));
        } else {
            x[i] = (float)((2.0 * nb_rng_uniform(r) - 1.0) * bound);
        }
    }
}

static int mf_init(const nb_host *h, const nb_value *values, const nb_train *train,
                   int32_t dim, uint64_t seed, void **state, char **err)
{
    mf_state *s = h->alloc(sizeof *s);
    if (!s) goto oom;
    s->h = h;
    const char *names[2] = { "user_emb", "item_emb" };
    const int64_t rows[2] = { train->n_users, train->n_items };
    for (int i = 0; i < 2; i++) {
        nb_block *b = &s->blocks[i];
        b->name = names[i];
        b->rows = rows[i];
        b->cols = dim;
        b->flags = NB_BLOCK_ROWS;
        b->value = h->alloc((size_t)(rows[i] * dim) * sizeof(float));
        b->grad = h->alloc((size_t)(rows[i] * dim) * sizeof(float));
        b->touched = h->alloc((size_t)rows[i] * sizeof(int32_t));
        b->mark = h->alloc((size_t)rows[i]);
        if (!b->value || !b->grad || !b->touched || !b->mark) goto oom;
        nb_rng r;
        nb_rng_seed(&r, seed, 0x6d66ull /* "mf" */, (uint64_t)i);
        xavier_fill(b->value, rows[i], dim, values[0].i == 1, &r);
    }
    nb_view *v = &s->view;
    v->n_users = train->n_users;
    v->n_items = train->n_items;
    v->dim = dim;
    v->n_layers = 0;
    v->user = v->user_layers = v->user_ego = s->blocks[0].value;
    v->item = v->item_layers = v->item_ego = s->blocks[1].value;
    *state = s;
    return NB_OK;
oom:
    if (s) mf_free(s);
    *err = h->mprintf("mf: out of memory for %d x %d tables", train->n_users + train->n_items, dim);
    return NB_ENOMEM;
}

static int mf_blocks(void *state, nb_block **blocks, int *n)
{
    mf_state *s = state;
    *blocks = s->blocks;
    *n = 2;
    return NB_OK;
}

static int mf_forward(void *state, int mode, const nb_batch *batch, const nb_view **view,
                      char **err)
{
    (void)mode; (void)batch; (void)err;
    *view = &((mf_state *)state)->view;
    return NB_OK;
}

static int mf_grads(void *state, nb_grads *g)
{
    mf_state *s = state;
    g->user = g->user_layers = g->user_ego = &s->blocks[0];
    g->item = g->item_layers = g->item_ego = &s->blocks[1];
    return NB_OK;
}

static int mf_backward(void *state, const nb_batch *batch, char **err)
{
    (void)state; (void)batch; (void)err;
    return NB_OK; /* the view rows are the parameters */
}

static const nb_model_vt mf_vt = {
    .init = mf_init,
    .blocks = mf_blocks,
    .forward = mf_forward,
    .grads = mf_grads,
    .backward = mf_backward,
    .free = mf_free,
};

static const nb_plugin_desc mf_desc = NB_PLUGIN_DESC_INIT(
    NB_KIND_MODEL, "mf", "1.0.0", "matrix factorisation: score = user . item (MF-BPR backbone)",
    mf_params, &mf_vt);

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &mf_desc : NULL;
}
