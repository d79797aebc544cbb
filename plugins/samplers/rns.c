/*
 * rns.c - RNS: one uniform negative per positive, redrawn while it is a
 * training positive of the user (RecBole's uniform sampler, docs/methods/rns.md).
 * The negative vector is the item's row; its gradient scatters back there.
 */
#include "negbench/plugin.h"
#include "sampler_common.h"

typedef struct rns_state {
    const nb_host *h;
    const nb_train *train;
    int32_t dim;
    int32_t *chosen;             /* [max_batch] items of the last negatives() */
    nb_pass_stats st;
} rns_state;

static const nb_param_spec rns_params[] = {
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

static void rns_free(void *state)
{
    rns_state *s = state;
    if (!s) return;
    s->h->free(s->chosen);
    s->h->free(s);
}

static int rns_init(const nb_host *h, const nb_value *values, const nb_train *train,
                    int32_t dim, int32_t max_batch, uint64_t seed, void **state, char **err)
{
    (void)values; (void)seed;
    rns_state *s = h->alloc(sizeof *s);
    if (s) s->chosen = h->alloc((size_t)max_batch * sizeof(int32_t));
    if (!s || !s->chosen) {
        if (s) h->free(s);
        *err = h->mprintf("rns: out of memory");
        return NB_ENOMEM;
    }
    s->h = h;
    s->train = train;
    s->dim = dim;
    *state = s;
    return NB_OK;
}

static int32_t rns_reg_rows(void *state)
{
    (void)state;
    return 1;
}

/* One uniform item row per positive (the host's Adam deferral uses it). */
static int32_t rns_rows_per_positive(void *state)
{
    (void)state;
    return 1;
}

static int rns_negatives(void *state, const nb_batch *batch, const nb_view *view,
                         nb_negatives *out, char **err)
{
    rns_state *s = state;
    const int32_t d = s->dim;
    uint64_t drawn = 0, rejected = 0;
    int32_t failed_user = -1;
    #pragma omp parallel for schedule(static) reduction(+ : drawn, rejected) num_threads(s->h->threads)
    for (int32_t b = 0; b < batch->size; b++) {
        nb_rng r;
        nb_draw_stats ds = { 0, 0 };
        nb_rng_seed(&r, batch->seed, (uint64_t)batch->epoch, (uint64_t)(batch->first + b));
        int32_t i = nb_draw_uniform(&r, s->train, batch->users[b], &ds);
        drawn += ds.drawn;
        rejected += ds.rejected;
        if (i < 0) {
            failed_user = batch->users[b];
            continue;
        }
        s->chosen[b] = out->item[b] = out->reg_items[b] = i;
        nb_view_sync(view, NB_ITEMS, i);
        memcpy(out->vec + (int64_t)b * d, view->item + (int64_t)i * d, (size_t)d * sizeof(float));
    }
    s->st.draws.drawn += drawn;
    s->st.draws.rejected += rejected;
    if (failed_user >= 0) {
        *err = s->h->mprintf("rns: user %d has every item as a positive", failed_user);
        return NB_EINVAL;
    }
    out->aux_loss = 0.0;
    return NB_OK;
}

static int rns_backward(void *state, const nb_batch *batch, const nb_view *view,
                        const float *d_neg, const float *d_reg, nb_grads *g, char **err)
{
    (void)view; (void)d_reg; (void)err;
    rns_state *s = state;
    nb_scatter_rows(g->item, s->chosen, d_neg, batch->size, s->dim);
    return NB_OK;
}

static int rns_epoch_stats(void *state, const nb_stat **stats, int *n_stats)
{
    nb_pass_stats_emit(&((rns_state *)state)->st, 1, stats, n_stats);
    return NB_OK;
}

static const nb_sampler_vt rns_vt = {
    .init = rns_init,
    .reg_rows = rns_reg_rows,
    .rows_per_positive = rns_rows_per_positive,
    .negatives = rns_negatives,
    .backward = rns_backward,
    .epoch_stats = rns_epoch_stats,
    .free = rns_free,
    .flags = NB_SAMPLER_SYNCS_ROWS | NB_SAMPLER_FINAL_ONLY | NB_SAMPLER_FEW_ROWS,
};

static const nb_plugin_desc rns_desc = NB_PLUGIN_DESC_INIT(
    NB_KIND_SAMPLER, "rns", "1.0.0",
    "uniform random negative, redrawn while a training positive", rns_params, &rns_vt);

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &rns_desc : NULL;
}
