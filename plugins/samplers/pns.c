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
 * The rest is the sampler kit's (negbench/sampler_kit.h): stream
 * nb_rng_seed(seed, epoch, first + b) per positive, reg_rows = 1 (the drawn
 * item), n~ = I*[drawn], backward scatter-adds d_neg in b order.
 */
#include "negbench/sampler_kit.h"

/* The alias table over the items with cnt > 0 (built by pns_setup). */
typedef struct pns_data {
    const nb_host *h;
    int32_t n_nz;        /* items with cnt > 0: the alias table's columns */
    double *prob;        /* [n_nz] keep probability of column k */
    int32_t *alias;      /* [n_nz] column taken when not kept */
    int32_t *item_of;    /* [n_nz] item id of column k */
} pns_data;

static const nb_param_spec pns_params[] = {
    { "alpha", NB_PARAM_FLOAT, "1.0", 0, 10, NULL,
      "popularity exponent: P(i) ~ cnt_i^alpha, cnt over training interactions" },
    NB_PARAM_END
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

static void pns_teardown(const nb_host *h, void *data)
{
    pns_data *p = data;
    if (!p) return;
    h->free(p->prob);
    h->free(p->alias);
    h->free(p->item_of);
    h->free(p);
}

/* Count training popularity and build the alias table into *data. */
static int pns_setup(const nb_host *h, const nb_value *values, const nb_train *train,
                     void **data, char **err)
{
    int rc = NB_OK;
    double *w = NULL;
    int32_t *work = NULL;
    const double alpha = values[0].f;
    pns_data *p = h->alloc(sizeof *p);
    if (!p) {
        *err = h->mprintf("pns: out of memory");
        return NB_ENOMEM;
    }
    p->h = h;
    for (int32_t i = 0; i < train->n_items; i++)
        if (train->item_ptr[i + 1] > train->item_ptr[i]) p->n_nz++;
    if (p->n_nz == 0) {
        *err = h->mprintf("pns: the training set has no interactions");
        rc = NB_EINVAL;
        goto out;
    }
    p->prob = h->alloc((size_t)p->n_nz * sizeof(double));
    p->alias = h->alloc((size_t)p->n_nz * sizeof(int32_t));
    p->item_of = h->alloc((size_t)p->n_nz * sizeof(int32_t));
    w = h->alloc((size_t)p->n_nz * sizeof(double));
    work = h->alloc((size_t)p->n_nz * sizeof(int32_t));
    if (!p->prob || !p->alias || !p->item_of || !w || !work) {
        *err = h->mprintf("pns: out of memory");
        rc = NB_ENOMEM;
        goto out;
    }
    for (int32_t i = 0, k = 0; i < train->n_items; i++) {
        int64_t c = train->item_ptr[i + 1] - train->item_ptr[i];
        if (c == 0) continue;
        p->item_of[k] = i;
        w[k++] = pow((double)c, alpha);
    }
    if (pns_alias_build(w, p->n_nz, p->prob, p->alias, work) != NB_OK) {
        *err = h->mprintf("pns: popularity weights cnt^%g are not finite", alpha);
        rc = NB_EINVAL;
        goto out;
    }
    *data = p;
out:
    h->free(w);
    h->free(work);
    if (rc != NB_OK) pns_teardown(h, p);
    return rc;
}

/* One popularity draw for user u, redrawn while a training positive. */
static int32_t pns_draw(const void *data, nb_rng *r, const nb_train *t, int32_t u,
                        nb_draw_stats *st)
{
    const pns_data *p = data;
    if (t->user_ptr[u + 1] - t->user_ptr[u] >= p->n_nz)
        return nb_draw_uniform(r, t, u, st); /* every popular item is positive */
    for (;;) {
        int32_t k = (int32_t)nb_rng_below(r, (uint32_t)p->n_nz);
        if (nb_rng_uniform(r) >= p->prob[k]) k = p->alias[k];
        int32_t i = p->item_of[k];
        st->drawn++;
        if (!nb_train_has(t, u, i)) return i;
        st->rejected++;
    }
}

static const nb_kit_spec pns_spec = {
    .setup = pns_setup, .teardown = pns_teardown, .draw = pns_draw,
};

NB_KIT_SAMPLER_ONE(pns, pns_spec, pns_params, "1.0.0",
                   "PNS: one negative drawn with P(i) ~ cnt_i^alpha (training counts), positives redrawn")

/* The plugin's one exported symbol. */
NB_PLUGIN_EXPORT(&pns_desc)
