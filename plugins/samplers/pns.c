/*
 * pns.c - PNS, popularity negative sampling (docs/methods/pns.md; RecBole's
 * "distribution: popularity" sampler).
 *
 * P(i) ∝ cnt_i^alpha, where cnt_i is the number of TRAINING interactions of
 * item i. RecBole counts train + valid + test interactions, which leaks the
 * held-out splits into training; negbench counts train only. Items with
 * cnt_i = 0 are never drawn (also with alpha = 0, where every item with
 * cnt_i > 0 weighs 1).
 *
 * Draws use a Walker alias table (Vose's construction, "A linear algorithm
 * for generating random numbers with a given distribution", IEEE TSE 1991)
 * over the items with cnt_i > 0, built once at init: O(1) per draw. A drawn
 * item that is a training positive of the user is redrawn (RecBole's
 * rejection); "reject_rate" = redrawn / drawn over the epoch. Every
 * training positive has cnt_i > 0, so a user whose positives cover all items
 * with cnt_i > 0 could never be served: such a user falls back to uniform
 * draws over all items (nb_draw_uniform), which then return cnt-0 items.
 * init fails if a user has every item as a positive (no negative exists).
 *
 * Stream: nb_rng_seed(seed, epoch, first + b) per positive. reg_rows = 1
 * (the drawn item); n~ = I*[drawn]; backward scatter-adds d_neg in b order.
 */
#include "negbench/plugin.h"
#include "sampler_common.h"

typedef struct pns_state {
    const nb_host *h;
    nb_train train;
    int32_t d, max_batch;
    int32_t n_nz;        /* items with cnt > 0: the alias table's columns */
    double *prob;        /* [n_nz] keep probability of column k */
    int32_t *alias;      /* [n_nz] column taken when not kept */
    int32_t *item_of;    /* [n_nz] item id of column k */
    int32_t *chosen;     /* [max_batch] items of the last negatives() call */
    nb_pass_stats st;
} pns_state;

static const nb_param_spec pns_params[] = {
    { "alpha", NB_PARAM_FLOAT, "1.0", 0, 10, NULL,
      "popularity exponent: P(i) ~ cnt_i^alpha, cnt over training interactions" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

/* Vose's alias construction for weights w [n] (w >= 0, sum > 0): fills prob
 * [n] and alias [n] so that column k is drawn with probability 1/n and kept
 * with probability prob[k], else replaced by alias[k]. work [n] is scratch.
 * Returns NB_EINVAL when the weights sum to 0 or are not finite. */
static int pns_alias_build(const double *w, int32_t n, double *prob, int32_t *alias,
                           int32_t *work)
{
    double sum = 0.0;
    for (int32_t k = 0; k < n; k++) sum += w[k];
    if (!(sum > 0.0) || !isfinite(sum)) return NB_EINVAL;
    /* work holds the "small" stack from the front and "large" from the back */
    int32_t ns = 0, nl = 0;
    for (int32_t k = 0; k < n; k++) {
        prob[k] = w[k] * (double)n / sum;
        alias[k] = k;
        if (prob[k] < 1.0) work[ns++] = k;
        else work[n - 1 - nl++] = k;
    }
    while (ns > 0 && nl > 0) {
        int32_t sm = work[--ns], lg = work[n - nl];
        nl--;
        alias[sm] = lg;
        prob[lg] = (prob[lg] + prob[sm]) - 1.0;
        if (prob[lg] < 1.0) work[ns++] = lg;
        else work[n - 1 - nl++] = lg;
    }
    /* what is left has probability 1 up to rounding */
    while (nl > 0) prob[work[n - nl--]] = 1.0;
    while (ns > 0) prob[work[--ns]] = 1.0;
    return NB_OK;
}

static void pns_free(void *state)
{
    pns_state *s = state;
    if (!s) return;
    s->h->free(s->prob);
    s->h->free(s->alias);
    s->h->free(s->item_of);
    s->h->free(s->chosen);
    s->h->free(s);
}

/* Count training popularity and build the alias table. */
static int pns_init(const nb_host *h, const nb_value *values, const nb_train *train,
                    int32_t dim, int32_t max_batch, uint64_t seed, void **state, char **err)
{
    (void)seed;
    int rc = NB_OK;
    double *w = NULL;
    int32_t *work = NULL;
    const double alpha = values[0].f;
    pns_state *s = h->alloc(sizeof *s);
    if (!s) {
        *err = h->mprintf("pns: out of memory");
        return NB_ENOMEM;
    }
    s->h = h;
    s->train = *train;
    s->d = dim;
    s->max_batch = max_batch;
    for (int32_t u = 0; u < train->n_users; u++)
        if (train->user_ptr[u + 1] - train->user_ptr[u] >= train->n_items) {
            *err = h->mprintf("pns: user %d has every item as a training positive", u);
            rc = NB_EINVAL;
            goto out;
        }
    for (int32_t i = 0; i < train->n_items; i++)
        if (train->item_ptr[i + 1] > train->item_ptr[i]) s->n_nz++;
    if (s->n_nz == 0) {
        *err = h->mprintf("pns: the training set has no interactions");
        rc = NB_EINVAL;
        goto out;
    }
    s->prob = h->alloc((size_t)s->n_nz * sizeof(double));
    s->alias = h->alloc((size_t)s->n_nz * sizeof(int32_t));
    s->item_of = h->alloc((size_t)s->n_nz * sizeof(int32_t));
    s->chosen = h->alloc((size_t)(max_batch > 0 ? max_batch : 1) * sizeof(int32_t));
    w = h->alloc((size_t)s->n_nz * sizeof(double));
    work = h->alloc((size_t)s->n_nz * sizeof(int32_t));
    if (!s->prob || !s->alias || !s->item_of || !s->chosen || !w || !work) {
        *err = h->mprintf("pns: out of memory");
        rc = NB_ENOMEM;
        goto out;
    }
    for (int32_t i = 0, k = 0; i < train->n_items; i++) {
        int64_t c = train->item_ptr[i + 1] - train->item_ptr[i];
        if (c == 0) continue;
        s->item_of[k] = i;
        w[k++] = pow((double)c, alpha);
    }
    if (pns_alias_build(w, s->n_nz, s->prob, s->alias, work) != NB_OK) {
        *err = h->mprintf("pns: popularity weights cnt^%g are not finite", alpha);
        rc = NB_EINVAL;
        goto out;
    }
    *state = s;
out:
    h->free(w);
    h->free(work);
    if (rc != NB_OK) pns_free(s);
    return rc;
}

static int32_t pns_reg_rows(void *state)
{
    (void)state;
    return 1;
}

/* One drawn item row per positive (the host's Adam deferral uses it). */
static int32_t pns_rows_per_positive(void *state)
{
    (void)state;
    return 1;
}

/* One popularity draw for user u, redrawn while a training positive. */
static int32_t pns_draw(const pns_state *s, nb_rng *r, int32_t u, nb_draw_stats *st)
{
    if (s->train.user_ptr[u + 1] - s->train.user_ptr[u] >= s->n_nz)
        return nb_draw_uniform(r, &s->train, u, st); /* every popular item is positive */
    for (;;) {
        int32_t k = (int32_t)nb_rng_below(r, (uint32_t)s->n_nz);
        if (nb_rng_uniform(r) >= s->prob[k]) k = s->alias[k];
        int32_t i = s->item_of[k];
        st->drawn++;
        if (!nb_train_has(&s->train, u, i)) return i;
        st->rejected++;
    }
}

static int pns_negatives(void *state, const nb_batch *batch, const nb_view *view,
                         nb_negatives *out, char **err)
{
    pns_state *s = state;
    const int32_t d = s->d;
    if (batch->size > s->max_batch) {
        *err = s->h->mprintf("pns: batch of %d exceeds max_batch %d", batch->size, s->max_batch);
        return NB_EINVAL;
    }
    for (int32_t b = 0; b < batch->size; b++) {
        nb_rng r;
        nb_rng_seed(&r, batch->seed, (uint64_t)batch->epoch, (uint64_t)(batch->first + b));
        int32_t i = pns_draw(s, &r, batch->users[b], &s->st.draws);
        s->chosen[b] = i;
        out->item[b] = i;
        out->reg_items[b] = i; /* R = 1 */
        nb_view_sync(view, NB_ITEMS, i);
        memcpy(out->vec + (int64_t)b * d, view->item + (int64_t)i * d, (size_t)d * sizeof(float));
    }
    out->reg_rows = 1;
    out->use_reg_vec = 0;
    out->aux_loss = 0.0;
    return NB_OK;
}

/* Scatter dL/dn~ into the drawn items' rows, in b order. */
static int pns_backward(void *state, const nb_batch *batch, const nb_view *view,
                        const float *d_neg, const float *d_reg, nb_grads *g, char **err)
{
    (void)view; (void)d_reg; (void)err;
    pns_state *s = state;
    nb_scatter_rows(g->item, s->chosen, d_neg, batch->size, s->d);
    return NB_OK;
}

static int pns_epoch_stats(void *state, const nb_stat **stats, int *n_stats)
{
    pns_state *s = state;
    nb_pass_stats_emit(&s->st, 1, stats, n_stats);
    return NB_OK;
}

static const nb_sampler_vt pns_vt = {
    .init = pns_init,
    .reg_rows = pns_reg_rows,
    .rows_per_positive = pns_rows_per_positive,
    .blocks = NULL,
    .epoch_begin = NULL,
    .negatives = pns_negatives,
    .backward = pns_backward,
    .epoch_stats = pns_epoch_stats,
    .free = pns_free,
    .flags = NB_SAMPLER_SYNCS_ROWS | NB_SAMPLER_FINAL_ONLY | NB_SAMPLER_FEW_ROWS, /* the drawn row is synced */
};

static const nb_plugin_desc pns_desc = NB_PLUGIN_DESC_INIT(
    NB_KIND_SAMPLER, "pns", "1.0.0",
    "PNS: one negative drawn with P(i) ~ cnt_i^alpha (training counts), positives redrawn",
    pns_params, &pns_vt);

/* The plugin's one exported symbol. */
const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &pns_desc : NULL;
}
