/*
 * dns.c - DNS: M uniform candidates per positive (each redrawn while it is a
 * training positive), keep the one the current model scores highest, first
 * index on ties (docs/methods/dns.md). Selection carries no gradient: only the
 * chosen item's row receives the BPR gradient.
 *
 * Scoring is M dot products per positive on the view's final rows; positives
 * are independent, so the loop runs on OpenMP threads. Each positive's draws
 * come from its own stream (seed, epoch, position), so the choice does not
 * depend on the thread count. Statistics: see sampler_common.h.
 */
#include "negbench/plugin.h"
#include "sampler_common.h"

typedef struct dns_state {
    const nb_host *h;
    const nb_train *train;
    int32_t dim, M;
    int32_t *chosen;             /* [max_batch] */
    float *smax, *smin;          /* [max_batch] first-pass max / min score */
    nb_pass_stats st;
} dns_state;

static const nb_param_spec dns_params[] = {
    { "M", NB_PARAM_INT, "32", 1, 4096, NULL, "uniform candidates per positive" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

static void dns_free(void *state)
{
    dns_state *s = state;
    if (!s) return;
    s->h->free(s->chosen);
    s->h->free(s->smax);
    s->h->free(s->smin);
    s->h->free(s);
}

static int dns_init(const nb_host *h, const nb_value *values, const nb_train *train,
                    int32_t dim, int32_t max_batch, uint64_t seed, void **state, char **err)
{
    (void)seed;
    dns_state *s = h->alloc(sizeof *s);
    if (!s) goto oom;
    s->h = h;
    s->train = train;
    s->dim = dim;
    s->M = (int32_t)values[0].i;
    s->chosen = h->alloc((size_t)max_batch * sizeof(int32_t));
    s->smax = h->alloc((size_t)max_batch * sizeof(float));
    s->smin = h->alloc((size_t)max_batch * sizeof(float));
    if (!s->chosen || !s->smax || !s->smin) goto oom;
    *state = s;
    return NB_OK;
oom:
    dns_free(s);
    *err = h->mprintf("dns: out of memory");
    return NB_ENOMEM;
}

static int32_t dns_reg_rows(void *state)
{
    (void)state;
    return 1;
}

/* M candidate rows per positive (the host's Adam deferral uses it). */
static int32_t dns_rows_per_positive(void *state)
{
    return ((dns_state *)state)->M;
}

static int dns_negatives(void *state, const nb_batch *batch, const nb_view *view,
                         nb_negatives *out, char **err)
{
    dns_state *s = state;
    const int32_t d = s->dim, M = s->M, B = batch->size;
    uint64_t drawn = 0, rejected = 0;
    int failed_user = -1;
    #pragma omp parallel for schedule(static) reduction(+ : drawn, rejected) num_threads(s->h->threads)
    for (int32_t b = 0; b < B; b++) {
        nb_rng r;
        nb_draw_stats ds = { 0, 0 };
        nb_rng_seed(&r, batch->seed, (uint64_t)batch->epoch, (uint64_t)(batch->first + b));
        const float *u = view->user + (int64_t)batch->users[b] * d;
        int32_t best = -1;
        float best_s = -INFINITY, lo = INFINITY;
        /* draw in chunks, prefetch the chunk's rows, then score them: the
         * item rows are random, so their loads overlap instead of stalling */
        int32_t ids[16];
        for (int32_t m0 = 0; m0 < M && failed_user < 0; m0 += 16) {
            int32_t n = M - m0 < 16 ? M - m0 : 16;
            for (int32_t j = 0; j < n; j++) {
                ids[j] = nb_draw_uniform(&r, s->train, batch->users[b], &ds);
                if (ids[j] < 0) { failed_user = batch->users[b]; n = 0; break; }
                for (int32_t k = 0; k < d; k += 16) __builtin_prefetch(view->item + (int64_t)ids[j] * d + k);
            }
            for (int32_t j = 0; j < n; j++) {
                nb_view_sync(view, NB_ITEMS, ids[j]);
                const float *it = view->item + (int64_t)ids[j] * d;
                float sc = 0.0f;
                #pragma omp simd reduction(+ : sc)
                for (int32_t k = 0; k < d; k++) sc += u[k] * it[k];
                if (best < 0 || sc > best_s) { best_s = sc; best = ids[j]; }
                if (sc < lo) lo = sc;
            }
        }
        drawn += ds.drawn;
        rejected += ds.rejected;
        s->chosen[b] = best;
        s->smax[b] = best_s;
        s->smin[b] = lo;
    }
    s->st.draws.drawn += drawn;
    s->st.draws.rejected += rejected;
    if (failed_user >= 0) {
        *err = s->h->mprintf("dns: user %d has every item as a positive", failed_user);
        return NB_EINVAL;
    }
    for (int32_t b = 0; b < B; b++) {
        out->item[b] = out->reg_items[b] = s->chosen[b];
        memcpy(out->vec + (int64_t)b * d, view->item + (int64_t)s->chosen[b] * d,
               (size_t)d * sizeof(float));
    }
    nb_pass_stats_batch(&s->st, s->smax, s->smin, B);
    out->aux_loss = 0.0;
    return NB_OK;
}

static int dns_backward(void *state, const nb_batch *batch, const nb_view *view,
                        const float *d_neg, const float *d_reg, nb_grads *g, char **err)
{
    (void)view; (void)d_reg; (void)err;
    dns_state *s = state;
    nb_scatter_rows(g->item, s->chosen, d_neg, batch->size, s->dim);
    return NB_OK;
}

static int dns_epoch_stats(void *state, const nb_stat **stats, int *n_stats)
{
    nb_pass_stats_emit(&((dns_state *)state)->st, 3, stats, n_stats);
    return NB_OK;
}

static const nb_sampler_vt dns_vt = {
    .init = dns_init,
    .reg_rows = dns_reg_rows,
    .rows_per_positive = dns_rows_per_positive,
    .negatives = dns_negatives,
    .backward = dns_backward,
    .epoch_stats = dns_epoch_stats,
    .free = dns_free,
    .flags = NB_SAMPLER_SYNCS_ROWS | NB_SAMPLER_FINAL_ONLY,
};

static const nb_plugin_desc dns_desc = NB_PLUGIN_DESC_INIT(
    NB_KIND_SAMPLER, "dns", "1.0.0",
    "dynamic negative sampling: argmax score among M uniform candidates", dns_params, &dns_vt);

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &dns_desc : NULL;
}
