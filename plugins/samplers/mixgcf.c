/*
 * mixgcf.c - the MixGCF sampler plugin "mixgcf" (Huang et al., KDD 2021;
 * docs/methods/mixgcf.md; math in mixgcf_impl.h), on any
 * backbone: positive mixing + DNS on the mixed candidates on MF, and per
 * layer hop mixing on graph views (n_layers > 0).
 *
 * MF (n_layers 0). Per step, for each positive b (u, p): M uniform
 * candidates (redrawn while a training positive) from the stream
 * nb_rng_seed(seed, epoch, first + b); alpha_b ~ U[0,1) from a second stream
 * nb_rng_seed(seed ^ MIXGCF_ALPHA_KEY, epoch, first + b), one value shared by
 * the candidates and dimensions; n'_m = alpha p + (1 - alpha) n_m; m* = first
 * argmax_m u . n'_m. The negative vector is the synthetic n'_{m*}; out->item
 * is the base item n_{m*}. The regulariser covers the mixed layer-0 vector
 * (|n'^(0)|^2, squared norms as in the official code: the experiment YAML should set train.reg:
 * squared), so use_reg_vec = 1 and reg_vec = alpha p_ego + (1 - alpha) n_ego
 * (reg_rows is 1 and reg_items also holds n_{m*}, for hosts that read it).
 * backward routes d_neg into the final rows p (alpha d_neg) and n_{m*}
 * ((1 - alpha) d_neg), and d_reg the same way into the ego rows.
 *
 * Graph views (L = n_layers > 0, stacks [n][L+1][e]; pooling read off the
 * view, view_layers.h). The same candidates; alpha_{b,l} for l = 0..L are the
 * first L+1 uniforms of the alpha stream (so alpha_{b,0} is the MF alpha).
 * Per layer l: n'^(l)_m = alpha_l p^(l) + (1 - alpha_l) n^(l)_m and m*_l =
 * first argmax_m us . n'^(l)_m with us the pooled user row (mean, sum) or
 * u^(l) (concat), as the official negative_sampling. The negative is
 * pool_l(n'^(l)_{m*_l}) in the view's final space; backward routes d_neg per
 * layer through g->item_layers (layer l of p: alpha_l P_l^T d_neg; layer l of
 * n_{m*_l}: (1 - alpha_l) P_l^T d_neg, P_l^T = c = 1/(L+1) for mean, 1 for
 * sum, the l-th slice for concat). The regulariser's vector is the mixed
 * layer-0 negative alpha_0 p^(0) + (1 - alpha_0) n^(0)_{m*_0} from the ego
 * rows ([B][e]); d_reg goes into g->item_ego rows p and n_{m*_0}. out->item
 * and reg_items hold the layer-0 pick n_{m*_0}. L <= NB_VIEW_MAX_LAYERS.
 * No auxiliary loss, no parameters.
 *
 * Statistics (epoch_stats, reset after each call):
 *   reject_rate    redrawn / drawn candidates over the epoch
 *   cand_max_norm  per positive, the max of its first-pass candidate scores
 *                  u.n_m (the plain model score of the drawn items on the
 *                  final rows, before mixing), min-max normalised by the min
 *                  and max of all first-pass candidate scores of the same
 *                  batch, averaged over the epoch's positives (paper Fig.
 *                  1d); batches whose scores are all equal are left out
 *   cand_min_norm  the same for the min
 */
#include "negbench/plugin.h"
#include "sampler_common.h"
#include "view_layers.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define REAL float
#define SUF f32
#include "mixgcf_impl.h"
#undef REAL
#undef SUF

/* Mixed into the seed for the alpha stream (independent of the draws). */
#define MIXGCF_ALPHA_KEY 0xA1FA3C6F0D5E7B29ull

static const nb_param_spec mixgcf_params[] = {
    {"M", NB_PARAM_INT, "16", 1, 1024, NULL, "candidates per positive (MixGCF n_negs)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

typedef struct mixgcf_state {
    const nb_host *h;
    const nb_train *train;
    int32_t d, max_batch, M;
    int nt;
    int32_t *cand;              /* [B][M] */
    double *scores;             /* [B][M] mixed scores */
    double *raw_max, *raw_min;  /* [B] first-pass score extremes */
    nb_draw_stats *draws;       /* [B] */
    int32_t *chosen;            /* [B] m* */
    int32_t *neg;               /* [B] base item n_{m*} */
    float *alpha;               /* [B] */
    /* graph views: NL = NB_VIEW_MAX_LAYERS + 1 slots per positive */
    float *alphal;              /* [B][NL] alpha_{b,l} */
    int32_t *negl;              /* [B][NL] item picked at layer l */
    int32_t *candl;             /* [nt][M] scratch: candidates as layer rows */
    double *lscores;            /* [nt][NL][M] scratch: per-layer criteria */
    float *tmp;                 /* [d] backward scratch */
    nb_view_layers vl;          /* pooling of the last graph batch */
    int graph;                  /* the last batch came from a graph view */
    int32_t last_B;
    nb_pass_stats st;             /* epoch statistics (sampler_common.h) */
    /* Tests only: fixed candidates [B][M] instead of draws (NULL in
     * production; set by tests that include this file). */
    const int32_t *test_cand;
    /* Tests only: fixed alpha_{b,l} [B][L+1] on graph views (NULL in
     * production). */
    const float *test_alpha;
} mixgcf_state;

/* alpha of positive `pos` (= first + b) of an epoch. */
static float mixgcf_alpha(uint64_t seed, int32_t epoch, int64_t pos)
{
    nb_rng r;
    nb_rng_seed(&r, seed ^ MIXGCF_ALPHA_KEY, (uint64_t)epoch, (uint64_t)pos);
    return (float)nb_rng_uniform(&r);
}

/* alpha_{b,l}, l = 0..nl-1, of positive `pos`: the first nl uniforms of the
 * same stream (out[0] == mixgcf_alpha(seed, epoch, pos)). */
static void mixgcf_alpha_layers(uint64_t seed, int32_t epoch, int64_t pos, int32_t nl,
                                float *out)
{
    nb_rng r;
    nb_rng_seed(&r, seed ^ MIXGCF_ALPHA_KEY, (uint64_t)epoch, (uint64_t)pos);
    for (int32_t l = 0; l < nl; l++) out[l] = (float)nb_rng_uniform(&r);
}

static void mixgcf_free(void *state)
{
    mixgcf_state *s = state;
    if (!s) return;
    void (*f)(void *) = s->h->free;
    f(s->cand); f(s->scores); f(s->raw_max); f(s->raw_min); f(s->draws);
    f(s->chosen); f(s->neg); f(s->alpha);
    f(s->alphal); f(s->negl); f(s->candl); f(s->lscores); f(s->tmp);
    f(s);
}

static int mixgcf_init(const nb_host *h, const nb_value *values, const nb_train *train,
                       int32_t dim, int32_t max_batch, uint64_t seed, void **state, char **err)
{
    (void)seed;
    if (dim <= 0 || max_batch <= 0 || !train || train->n_items <= 0 || values[0].i < 1) {
        *err = h->mprintf("mixgcf: invalid init arguments (dim %d, max_batch %d, M %lld)", dim,
                          max_batch, (long long)values[0].i);
        return NB_EINVAL;
    }
    mixgcf_state *s = h->alloc(sizeof *s);
    if (!s) goto nomem;
    s->h = h;
    s->train = train;
    s->d = dim;
    s->max_batch = max_batch;
    s->M = (int32_t)values[0].i;
    s->nt = h->threads > 0 ? h->threads : 1;
    size_t B = (size_t)max_batch, M = (size_t)s->M;
    s->cand = h->alloc(B * M * sizeof(int32_t));
    s->scores = h->alloc(B * M * sizeof(double));
    s->raw_max = h->alloc(B * sizeof(double));
    s->raw_min = h->alloc(B * sizeof(double));
    s->draws = h->alloc(B * sizeof(nb_draw_stats));
    s->chosen = h->alloc(B * sizeof(int32_t));
    s->neg = h->alloc(B * sizeof(int32_t));
    s->alpha = h->alloc(B * sizeof(float));
    size_t NL = NB_VIEW_MAX_LAYERS + 1, nt = (size_t)s->nt;
    s->alphal = h->alloc(B * NL * sizeof(float));
    s->negl = h->alloc(B * NL * sizeof(int32_t));
    s->candl = h->alloc(nt * M * sizeof(int32_t));
    s->lscores = h->alloc(nt * NL * M * sizeof(double));
    s->tmp = h->alloc((size_t)dim * sizeof(float));
    if (!s->cand || !s->scores || !s->raw_max || !s->raw_min || !s->draws || !s->chosen ||
        !s->neg || !s->alpha || !s->alphal || !s->negl || !s->candl || !s->lscores || !s->tmp)
        goto nomem;
    *state = s;
    return NB_OK;
nomem:
    *err = h->mprintf("mixgcf: out of memory (dim %d, max_batch %d)", dim, max_batch);
    if (s) mixgcf_free(s);
    return NB_ENOMEM;
}

static int32_t mixgcf_reg_rows(void *state)
{
    (void)state;
    return 1;
}

/* M candidate rows per positive (the host's Adam deferral uses it). */
static int32_t mixgcf_rows_per_positive(void *state)
{
    return ((mixgcf_state *)state)->M;
}

/* Hop mixing of positive b on a graph view (candidates in s->cand): fills
 * alphal/negl, chosen (0, or -1 when a layer has no finite score), neg (the
 * layer-0 pick), out->vec and out->reg_vec. Called from the parallel loop. */
static void mixgcf_graph_one(mixgcf_state *s, const nb_batch *bt, const nb_view *v, int32_t b,
                             nb_negatives *out)
{
    const nb_view_layers *vl = &s->vl;
    int32_t M = s->M, nl = vl->nl, e = vl->e, df = vl->df;
#ifdef _OPENMP
    int th = omp_get_thread_num();
#else
    int th = 0;
#endif
    int32_t NL = NB_VIEW_MAX_LAYERS + 1, u = bt->users[b], p = bt->pos[b];
    float *al = s->alphal + (int64_t)b * NL;
    int32_t *ch = s->negl + (int64_t)b * NL;
    if (s->test_alpha)
        for (int32_t l = 0; l < nl; l++) al[l] = s->test_alpha[(int64_t)b * nl + l];
    else
        mixgcf_alpha_layers(bt->seed, bt->epoch, bt->first + b, nl, al);
    s->alpha[b] = al[0];
    int concat = vl->pool == NB_POOL_CONCAT;
    const float *ubar = concat ? NULL : v->user + (int64_t)u * df;
    if (mixgcf_select_layers_f32(e, nl, M, al, ubar, v->user_layers, v->item_layers, u, p,
                                 s->cand + (int64_t)b * M, s->candl + (int64_t)th * M,
                                 s->lscores + (int64_t)th * NL * M, ch) != 0) {
        s->chosen[b] = -1;
        return;
    }
    s->chosen[b] = 0;
    s->neg[b] = ch[0];
    mixgcf_pool_mixed_f32(e, nl, concat, vl->c, al, v->item_layers, p, ch,
                          out->vec + (int64_t)b * df);
    mixgcf_mix_f32(e, al[0], v->item_ego + (int64_t)p * e, v->item_ego + (int64_t)ch[0] * e,
                   out->reg_vec + (int64_t)b * e);
}

/* The view a batch is scored on: its dimension, and on a graph backbone its
 * layer stacks and how it pools them (into s->vl). NB_OK or NB_EINVAL. */
static int mixgcf_check_view(mixgcf_state *s, const nb_batch *bt, const nb_view *v,
                             char **err)
{
    const nb_host *h = s->h;
    int32_t B = bt->size;
    if (B < 0 || B > s->max_batch || v->dim != s->d) {
        *err = h->mprintf("mixgcf: batch of %d (max %d) or view dim %d (want %d)", B,
                          s->max_batch, v->dim, s->d);
        return NB_EINVAL;
    }
    s->graph = v->n_layers > 0;
    if (!s->graph) return NB_OK;
    if (v->n_layers > NB_VIEW_MAX_LAYERS || !v->user_layers || !v->item_layers) {
        *err = h->mprintf("mixgcf: a view with %d layers (at most %d, with both layer "
                          "stacks) is not supported", v->n_layers, NB_VIEW_MAX_LAYERS);
        return NB_EINVAL;
    }
    if (nb_view_layers_detect(v, bt->pos, B, &s->vl) != 0) {
        *err = h->mprintf("mixgcf: cannot tell how the view pools its %d layers (its "
                          "final rows are not their mean, sum or concatenation)",
                          v->n_layers);
        return NB_EINVAL;
    }
    return NB_OK;
}

/* Draw positive b's M candidates into c (or take the test's), syncing and
 * prefetching their rows; draw counts into s->draws[b]. 0, or -1 when the
 * user has no item left to draw (c then holds the draws before it). */
static int mixgcf_draw(mixgcf_state *s, const nb_batch *bt, const nb_view *v, int32_t b,
                       int32_t *c)
{
    int32_t M = s->M, d = s->d;
    nb_draw_stats ds = {0, 0};
    int status = 0;
    nb_rng r;
    nb_rng_seed(&r, bt->seed, (uint64_t)bt->epoch, (uint64_t)(bt->first + b));
    for (int32_t m = 0; m < M; m++) {
        c[m] = s->test_cand ? s->test_cand[(int64_t)b * M + m]
                            : nb_draw_uniform(&r, s->train, bt->users[b], &ds);
        if (c[m] < 0) {
            status = -1;
            break;
        }
        nb_view_sync(v, NB_ITEMS, c[m]);
        /* every pass below reads the candidates' rows, scattered over the
         * tables: fetch them all now, while the other draws run (in the
         * layer passes a fetch two candidates ahead stalled on memory) */
        nb_prefetch_row(v->item + (int64_t)c[m] * d, (size_t)d * sizeof(float));
        if (s->graph)
            nb_prefetch_row(v->item_layers + (int64_t)c[m] * s->vl.nl * s->vl.e,
                            (size_t)s->vl.nl * (size_t)s->vl.e * sizeof(float));
    }
    s->draws[b] = ds;
    return status;
}

/* MF (no layers): positive mixing with alpha, the hardest mixed candidate,
 * the mixed negative and its ego row into out; s->chosen[b] -1 when no
 * candidate scored finitely. */
static void mixgcf_mf_one(mixgcf_state *s, const nb_batch *bt, const nb_view *v, int32_t b,
                          const int32_t *c, nb_negatives *out)
{
    int32_t M = s->M, d = s->d;
    const float *u = v->user + (int64_t)bt->users[b] * d;
    const float *p = v->item + (int64_t)bt->pos[b] * d;
    float a = mixgcf_alpha(bt->seed, bt->epoch, bt->first + b);
    s->alpha[b] = a;
    int32_t ms = mixgcf_select_one_f32(d, M, a, u, p, v->item, c, s->scores + (int64_t)b * M);
    s->chosen[b] = ms;
    if (ms < 0) return;
    int32_t n = c[ms];
    s->neg[b] = n;
    mixgcf_mix_f32(d, a, p, v->item + (int64_t)n * d, out->vec + (int64_t)b * d);
    mixgcf_mix_f32(d, a, v->item_ego + (int64_t)bt->pos[b] * d, v->item_ego + (int64_t)n * d,
                   out->reg_vec + (int64_t)b * d);
}

/* The batch's chosen negatives into out and the pass statistics; NB_ENUMERIC
 * when a positive has no finite candidate score. */
static int mixgcf_collect(mixgcf_state *s, const nb_batch *bt, nb_negatives *out, char **err)
{
    int32_t B = bt->size;
    for (int32_t b = 0; b < B; b++) {
        if (s->chosen[b] < 0) {
            *err = s->h->mprintf("mixgcf: no finite candidate score for user %d, positive %d "
                                 "(NaN or Inf in the embeddings)",
                                 bt->users[b], bt->pos[b]);
            return NB_ENUMERIC;
        }
        out->item[b] = s->neg[b];
        out->reg_items[(int64_t)b * out->reg_rows] = s->neg[b];
    }
    out->use_reg_vec = 1;
    out->aux_loss = 0.0;
    nb_pass_stats_draws(&s->st, s->draws, B);
    nb_pass_stats_batch(&s->st, s->raw_max, s->raw_min, B);
    s->last_B = B;
    return NB_OK;
}

static int mixgcf_negatives(void *state, const nb_batch *bt, const nb_view *v,
                            nb_negatives *out, char **err)
{
    mixgcf_state *s = state;
    int32_t B = bt->size, M = s->M, d = s->d, bad = -1;
    s->last_B = 0;
    int rc = mixgcf_check_view(s, bt, v, err);
    if (rc != NB_OK) return rc;
#pragma omp parallel for num_threads(s->nt) schedule(static)
    for (int32_t b = 0; b < B; b++) {
        int32_t *c = s->cand + (int64_t)b * M;
        s->chosen[b] = -1;
        if (mixgcf_draw(s, bt, v, b, c) != 0) {
#pragma omp critical(mixgcf_bad)
            if (bad < 0 || b < bad) bad = b;
            continue;
        }
        nb_first_pass_range(v->user + (int64_t)bt->users[b] * d, v->item, c, M, d,
                            &s->raw_max[b], &s->raw_min[b]);
        if (s->graph)
            mixgcf_graph_one(s, bt, v, b, out);
        else
            mixgcf_mf_one(s, bt, v, b, c, out);
    }
    if (bad >= 0) {
        *err = s->h->mprintf("mixgcf: user %d has every item as a training positive",
                             bt->users[bad]);
        return NB_EINVAL;
    }
    return mixgcf_collect(s, bt, out, err);
}

static int mixgcf_backward(void *state, const nb_batch *bt, const nb_view *v,
                           const float *d_neg, const float *d_reg, nb_grads *g, char **err)
{
    mixgcf_state *s = state;
    int32_t B = bt->size, d = s->d;
    (void)v;
    if (B != s->last_B) {
        *err = s->h->mprintf("mixgcf: backward for a batch of %d after negatives for %d", B,
                             s->last_B);
        return NB_EINVAL;
    }
    nb_block *ego = g->item_ego ? g->item_ego : g->item;
    if (s->graph) {
        const nb_view_layers *vl = &s->vl;
        int32_t nl = vl->nl, e = vl->e, NL = NB_VIEW_MAX_LAYERS + 1;
        if (!g->item_layers) {
            *err = s->h->mprintf("mixgcf: the model gives no per-layer item gradient "
                                 "(item_layers) for its %d-layer view", nl - 1);
            return NB_EINVAL;
        }
        float *gp[NB_VIEW_MAX_LAYERS + 1], *gn[NB_VIEW_MAX_LAYERS + 1];
        for (int32_t b = 0; b < B; b++) {
            const float *al = s->alphal + (int64_t)b * NL;
            const int32_t *ch = s->negl + (int64_t)b * NL;
            float *rp = nb_block_grad_row(g->item_layers, bt->pos[b]);
            for (int32_t l = 0; l < nl; l++) {
                gp[l] = rp + (int64_t)l * e;
                gn[l] = nb_block_grad_row(g->item_layers, ch[l]) + (int64_t)l * e;
            }
            mixgcf_route_layers_f32(e, nl, vl->pool == NB_POOL_CONCAT, vl->c, al,
                                    d_neg + (int64_t)b * vl->df, gp, gn, s->tmp);
            if (d_reg)
                mixgcf_route_f32(e, al[0], d_reg + (int64_t)b * e,
                                 nb_block_grad_row(ego, bt->pos[b]),
                                 nb_block_grad_row(ego, ch[0]));
        }
        return NB_OK;
    }
    for (int32_t b = 0; b < B; b++) {
        float a = s->alpha[b];
        mixgcf_route_f32(d, a, d_neg + (int64_t)b * d, nb_block_grad_row(g->item, bt->pos[b]),
                         nb_block_grad_row(g->item, s->neg[b]));
        if (d_reg)
            mixgcf_route_f32(d, a, d_reg + (int64_t)b * d, nb_block_grad_row(ego, bt->pos[b]),
                             nb_block_grad_row(ego, s->neg[b]));
    }
    return NB_OK;
}

static int mixgcf_epoch_stats(void *state, const nb_stat **stats, int *n_stats)
{
    nb_pass_stats_emit(&((mixgcf_state *)state)->st, 3, stats, n_stats);
    return NB_OK;
}

static const nb_sampler_vt mixgcf_vt = {
    .init = mixgcf_init,
    .reg_rows = mixgcf_reg_rows,
    .rows_per_positive = mixgcf_rows_per_positive,
    .blocks = NULL,
    .epoch_begin = NULL,
    .negatives = mixgcf_negatives,
    .backward = mixgcf_backward,
    .epoch_stats = mixgcf_epoch_stats,
    .free = mixgcf_free,
    .flags = NB_SAMPLER_SYNCS_ROWS, /* candidate rows are synced when drawn */
};

static const nb_plugin_desc mixgcf_desc = NB_PLUGIN_DESC_INIT(
    NB_KIND_SAMPLER, "mixgcf", "1.0.0",
    "MixGCF: positive mixing and per-layer hop mixing of M candidates (KDD'21)",
    mixgcf_params, &mixgcf_vt);

/* The plugin's one exported symbol: descriptor 0 is "mixgcf". */
const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &mixgcf_desc : NULL;
}
