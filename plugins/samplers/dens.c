/*
 * dens.c - the DENS sampler plugin "dens" (Lai et al., WSDM 2023: hierarchical
 * gating and factor-aware selection; official code Riwei-HEU/DENS @4c32d72,
 * docs/methods/dens.md). The math lives in dens_impl.h; this
 * file holds the state, the candidate draws, the statistics and the glue to
 * the host. It runs on MF views (n_layers 0) and on graph views (below).
 *
 * Per step, for each positive (u, p): M uniform candidates (redrawn while a
 * training positive) from the stream nb_rng_seed(seed, epoch, first + b);
 * m* = first argmax_m u . ((1 - beta) n_m - g_n,m * n_m) with
 * beta = min(1, epoch / warmup). epoch is the host's 0-based batch->epoch,
 * which is DENS's cur_epoch (its main.py passes the 0-based loop counter to
 * model(cur_epoch, batch)), so epoch 0 uses beta = 0 and every epoch >= warmup
 * uses beta = 1. The negative vector is the RAW chosen row n_{m*} (d_neg is
 * scatter-added into that item row; reg_rows = 1, the chosen item). DENS
 * regularises with squared norms, so the experiment YAML should set
 * train.reg: squared. The auxiliary loss gamma/4 (T1+T2+T3+T4) is recomputed
 * on the chosen negative; its gradient goes into u, p, n_{m*} and the four
 * gates (W/b for user_gate, item_gate, pos_gate, neg_gate: DENSE blocks owned
 * here). K = 1 (the host's BPR is single-negative); the template supports K.
 *
 * Graph views (L = n_layers > 0, stacks [n][L+1][d], mean or sum pooling read
 * off the view by view_layers.h; concat views are refused, because the gates
 * are d x d with d the view's width). As the official code with
 * context_hops = L: the gates run per layer with shared weights and each
 * layer picks its own m*_l = first argmax_m u^(l) . ((1 - beta) n^(l)_m -
 * g_n^(l)_m * n^(l)_m) with that layer's u^(l) (not pooled). The negative is
 * pool_l(n^(l)_{m*_l}) of the raw picks; d_neg goes into layer l of item
 * n_{m*_l} with weight c (1/(L+1) mean, 1 sum) through g->item_layers. The
 * gating loss runs the gates per layer on the picks and pools the gated
 * vectors (dens_aux_graph_one); its gradient goes into the layer rows of u, p
 * and the picks (g->user_layers, g->item_layers) and into the gates.
 * reg_items and out->item hold the layer-0 pick (the regulariser is on the
 * ego rows). L <= NB_VIEW_MAX_LAYERS. The selection runs batched
 * (dens_select_graph_blk when d is a multiple of 32, dens_select_graph_batch
 * otherwise) and keeps each pair's gates g_p, p_r and the pick's g_n for
 * the gating loss, so no gate product runs twice.
 *
 * Statistics (epoch_stats, reset after each call):
 *   reject_rate    redrawn / drawn candidates over the epoch
 *   cand_max_norm  per positive, the max of its first-pass candidate scores
 *                  u.n_m (the plain model score, before any gating), min-max
 *                  normalised by the min and max of all first-pass candidate
 *                  scores of the same batch, averaged over the epoch's
 *                  positives (paper Fig. 1d); batches whose scores are all
 *                  equal are left out of the average
 *   cand_min_norm  the same for the min
 */
#include "negbench/plugin.h"
#include "sampler_common.h"
#include "view_layers.h"

#define REAL float
#define SUF f32
#include "dens_impl.h"
#undef REAL
#undef SUF

static const char *const dens_block_names[DENS_N_GW] = {
    "W_user_gate", "b_user_gate", "W_item_gate", "b_item_gate",
    "W_pos_gate", "b_pos_gate", "W_neg_gate", "b_neg_gate"};

enum { P_M = 0, P_GAMMA, P_WARMUP, P_GATE_INIT };

static const nb_param_spec dens_params[] = {
    {"M", NB_PARAM_INT, "6", 1, 1024, NULL, "candidates per positive (DENS n_negs)"},
    {"gamma", NB_PARAM_FLOAT, "0.3", 0, 100, NULL, "weight of the gating loss gamma/4 (T1+T2+T3+T4)"},
    {"warmup", NB_PARAM_INT, "100", 1, 1e6, NULL, "epochs until beta = min(1, epoch/warmup) reaches 1"},
    {"gate_init", NB_PARAM_CHOICE, "torch", 0, 0, "torch|xavier",
     "gate init: torch nn.Linear default U(+-1/sqrt(d)), or xavier-uniform W with zero bias"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

typedef struct dens_state {
    const nb_host *h;
    const nb_train *train;
    int32_t d, max_batch, M, warmup;
    double gamma;
    int nt;                       /* threads */
    float *val[DENS_N_GW], *grad[DENS_N_GW];
    const float *cval[DENS_N_GW]; /* the same arrays, const-typed for the template */
    nb_block blocks[DENS_N_GW];
    /* per-positive scratch, sized for max_batch */
    int32_t *cand;                /* [B][M] candidate ids */
    double *scores;               /* [B][M] selection criteria */
    double *raw_max, *raw_min;    /* [B] first-pass score extremes */
    nb_draw_stats *draws;         /* [B] */
    int32_t *chosen;              /* [B] index m* */
    int32_t *neg;                 /* [B] chosen item id */
    double *lossb, *tb;           /* [B], [B][4] */
    float *gu, *gp, *gn, *ga, *gc, *pr; /* [B][NL][d] each (K = 1; MF uses [B][d]) */
    double *sel_work, *aux_work;  /* [nt][...] */
    const float **nk;             /* [nt][3 NL] */
    /* graph views (NL = NB_VIEW_MAX_LAYERS + 1 slots per positive): rows of
     * the stacks seen as tables of d-wide rows (node r, layer l -> r nl + l) */
    int32_t *uidx, *pidx, *nidx;  /* [B][nl] rows of u^(l), p^(l), the layer-l pick */
    int32_t *candl;               /* [B][nl][M] candidate rows per layer */
    int32_t *chosenl;             /* [B][nl] m*_l */
    int32_t *negl;                /* [B][nl] item picked at layer l */
    double *lscores;              /* [B][nl][M] */
    double *wd;                   /* [4][d][d] the gates' W in double (the selection's) */
    double *cgp, *cpr, *cgn;      /* [B][nl][d] gates kept by the selection for the loss */
    double *gsel_work;            /* [nt][dens_select_graph_work_size] */
    double *wt;                   /* [4][d][d] + [4][d]: dens_gates_double_t (blocked path) */
    double *bsel_work;            /* [nt][dens_select_blk_work_size] (blocked path) */
    nb_view_layers vl;            /* pooling of the last graph batch */
    int graph;                    /* the last batch came from a graph view */
    int have_aux;                 /* the aux gradients of the last batch are pending */
    int32_t last_B;
    /* epoch counters */
    nb_pass_stats st;             /* epoch statistics (sampler_common.h) */
    /* Tests only: fixed candidates [B][M] used instead of draws (NULL in
     * production; set by tests that include this file). */
    const int32_t *test_cand;
    /* Tests only: run the per-pair reference selection and gates on graph
     * views (dens_select_batch, dens_aux_graph_batch) instead of the
     * batched ones. */
    int test_ref_graph;
} dens_state;

static void dens_free(void *state)
{
    dens_state *s = state;
    if (!s) return;
    void (*f)(void *) = s->h->free;
    for (int k = 0; k < DENS_N_GW; k++) { f(s->val[k]); f(s->grad[k]); }
    f(s->cand); f(s->scores); f(s->raw_max); f(s->raw_min); f(s->draws);
    f(s->chosen); f(s->neg); f(s->lossb); f(s->tb);
    f(s->gu); f(s->gp); f(s->gn); f(s->ga); f(s->gc); f(s->pr);
    f(s->sel_work); f(s->aux_work); f((void *)s->nk);
    f(s->uidx); f(s->pidx); f(s->nidx); f(s->candl); f(s->chosenl); f(s->negl); f(s->lscores);
    f(s->wd); f(s->cgp); f(s->cpr); f(s->cgn); f(s->gsel_work);
    f(s->wt); f(s->bsel_work);
    f(s);
}

/* The gate blocks (W_ig, b_ig, W_ug, b_ug, ...): allocated and drawn from
 * seed, as PyTorch's nn.Linear (torch) or Xavier with zero bias. 0, or -1
 * when out of memory. */
static int dens_gates_init(dens_state *s, const nb_value *values, uint64_t seed)
{
    const nb_host *h = s->h;
    size_t d = (size_t)s->d;
    for (int k = 0; k < DENS_N_GW; k++) {
        size_t rows = (k % 2 == 0) ? d : 1;
        s->val[k] = h->alloc(rows * d * sizeof(float));
        s->grad[k] = h->alloc(rows * d * sizeof(float));
        if (!s->val[k] || !s->grad[k]) return -1;
        s->cval[k] = s->val[k];
        s->blocks[k] = (nb_block){.name = dens_block_names[k], .value = s->val[k],
                                  .grad = s->grad[k], .rows = (int64_t)rows,
                                  .cols = (int64_t)d, .flags = NB_BLOCK_DENSE};
        /* torch: W and b ~ U(+-1/sqrt(fan_in)); xavier: W ~ U(+-sqrt(6/(2d))), b = 0 */
        int xavier = values[P_GATE_INIT].i == 1;
        double bound = xavier ? sqrt(3.0 / (double)d) : 1.0 / sqrt((double)d);
        if (xavier && k % 2 == 1) continue;
        nb_rng r;
        nb_rng_seed(&r, seed, 0xDE45u, (uint64_t)k);
        for (size_t i = 0; i < rows * d; i++)
            s->val[k][i] = (float)((2.0 * nb_rng_uniform(&r) - 1.0) * bound);
    }
    return 0;
}

/* Every per-batch and per-thread scratch array, sized once for max_batch
 * (nothing is allocated per step). 0, or -1 when out of memory. */
static int dens_scratch_alloc(dens_state *s)
{
    const nb_host *h = s->h;
    int32_t dim = s->d;
    size_t d = (size_t)dim, B = (size_t)s->max_batch, M = (size_t)s->M, nt = (size_t)s->nt;
    s->cand = h->alloc(B * M * sizeof(int32_t));
    s->scores = h->alloc(B * M * sizeof(double));
    s->raw_max = h->alloc(B * sizeof(double));
    s->raw_min = h->alloc(B * sizeof(double));
    s->draws = h->alloc(B * sizeof(nb_draw_stats));
    s->chosen = h->alloc(B * sizeof(int32_t));
    s->neg = h->alloc(B * sizeof(int32_t));
    s->lossb = h->alloc(B * sizeof(double));
    s->tb = h->alloc(B * 4 * sizeof(double));
    size_t NL = NB_VIEW_MAX_LAYERS + 1;
    s->gu = h->alloc(B * NL * d * sizeof(float));
    s->gp = h->alloc(B * NL * d * sizeof(float));
    s->gn = h->alloc(B * NL * d * sizeof(float));
    s->ga = h->alloc(B * NL * d * sizeof(float));
    s->gc = h->alloc(B * NL * d * sizeof(float));
    s->pr = h->alloc(B * NL * d * sizeof(float));
    s->sel_work = h->alloc(nt * (size_t)dens_select_work_size(dim) * sizeof(double));
    size_t aw = (size_t)dens_aux_work_size(dim, 1);
    size_t gws = (size_t)dens_aux_graph_work_size(dim, (int32_t)NL);
    s->aux_work = h->alloc(nt * (aw > gws ? aw : gws) * sizeof(double));
    s->nk = h->alloc(nt * 3 * NL * sizeof(float *));
    s->uidx = h->alloc(B * NL * sizeof(int32_t));
    s->pidx = h->alloc(B * NL * sizeof(int32_t));
    s->nidx = h->alloc(B * NL * sizeof(int32_t));
    s->candl = h->alloc(B * NL * M * sizeof(int32_t));
    s->chosenl = h->alloc(B * NL * sizeof(int32_t));
    s->negl = h->alloc(B * NL * sizeof(int32_t));
    s->lscores = h->alloc(B * NL * M * sizeof(double));
    s->wd = h->alloc(4 * d * d * sizeof(double));
    s->cgp = h->alloc(B * NL * d * sizeof(double));
    s->cpr = h->alloc(B * NL * d * sizeof(double));
    s->cgn = h->alloc(B * NL * d * sizeof(double));
    s->gsel_work = h->alloc(nt * (size_t)dens_select_graph_work_size(dim) * sizeof(double));
    s->wt = h->alloc((4 * d * d + 4 * d) * sizeof(double));
    s->bsel_work = h->alloc(nt * (size_t)dens_select_blk_work_size(dim, s->M) * sizeof(double));
    if (!s->cand || !s->scores || !s->raw_max || !s->raw_min || !s->draws || !s->chosen ||
        !s->neg || !s->lossb || !s->tb || !s->gu || !s->gp || !s->gn || !s->ga || !s->gc ||
        !s->pr || !s->sel_work || !s->aux_work || !s->nk || !s->uidx || !s->pidx ||
        !s->nidx || !s->candl || !s->chosenl || !s->negl || !s->lscores || !s->wd ||
        !s->cgp || !s->cpr || !s->cgn || !s->gsel_work || !s->wt || !s->bsel_work)
        return -1;
    return 0;
}

static int dens_init(const nb_host *h, const nb_value *values, const nb_train *train,
                     int32_t dim, int32_t max_batch, uint64_t seed, void **state, char **err)
{
    int rc = NB_OK;
    dens_state *s = NULL;
    if (dim <= 0 || max_batch <= 0 || !train || train->n_items <= 0) {
        *err = h->mprintf("dens: invalid init arguments (dim %d, max_batch %d)", dim, max_batch);
        return NB_EINVAL;
    }
    s = h->alloc(sizeof *s);
    if (!s) goto nomem;
    s->h = h;
    s->train = train;
    s->d = dim;
    s->max_batch = max_batch;
    s->M = (int32_t)values[P_M].i;
    s->gamma = values[P_GAMMA].f;
    s->warmup = (int32_t)values[P_WARMUP].i;
    s->nt = h->threads > 0 ? h->threads : 1;
    if (s->M < 1 || s->warmup < 1 || !(s->gamma >= 0)) {
        *err = h->mprintf("dens: invalid parameters (M %d, warmup %d, gamma %g)", s->M,
                          s->warmup, s->gamma);
        rc = NB_EINVAL;
        goto out;
    }
    if (dens_gates_init(s, values, seed) != 0 || dens_scratch_alloc(s) != 0) goto nomem;
    *state = s;
    return NB_OK;
nomem:
    *err = h->mprintf("dens: out of memory (dim %d, max_batch %d)", dim, max_batch);
    rc = NB_ENOMEM;
out:
    if (s) dens_free(s);
    return rc;
}

static int32_t dens_reg_rows(void *state)
{
    (void)state;
    return 1;
}

/* M candidate rows per positive (the host's Adam deferral uses it). */
static int32_t dens_rows_per_positive(void *state)
{
    return ((dens_state *)state)->M;
}

static int dens_blocks(void *state, nb_block **blocks, int *n_blocks)
{
    dens_state *s = state;
    *blocks = s->blocks;
    *n_blocks = DENS_N_GW;
    return NB_OK;
}

/* Draw (or copy) the candidates of the batch and their first-pass score
 * extremes. Returns the first positive whose user has no negative, or -1. */
static int32_t dens_draw(dens_state *s, const nb_batch *bt, const nb_view *v)
{
    int32_t B = bt->size, M = s->M, d = s->d, bad = -1;
#pragma omp parallel for num_threads(s->nt) schedule(static)
    for (int32_t b = 0; b < B; b++) {
        int32_t *c = s->cand + (int64_t)b * M;
        nb_draw_stats ds = {0, 0};
        int none = 0;
        if (s->test_cand) {
            for (int32_t m = 0; m < M; m++) {
                c[m] = s->test_cand[(int64_t)b * M + m];
                nb_view_sync(v, NB_ITEMS, c[m]);
            }
        } else {
            nb_rng r;
            nb_rng_seed(&r, bt->seed, (uint64_t)bt->epoch, (uint64_t)(bt->first + b));
            for (int32_t m = 0; m < M; m++) {
                c[m] = nb_draw_uniform(&r, s->train, bt->users[b], &ds);
                if (c[m] < 0) {
                    none = 1;
#pragma omp critical(dens_bad)
                    if (bad < 0 || b < bad) bad = b;
                    break;
                }
                nb_view_sync(v, NB_ITEMS, c[m]);
            }
        }
        s->draws[b] = ds;
        if (none) continue;
        nb_first_pass_range(v->user + (int64_t)bt->users[b] * d, v->item, c, M, d,
                            &s->raw_max[b], &s->raw_min[b]);
    }
    return bad;
}

/* Add the accepted batch's draws and first-pass score extremes to the epoch
 * counters (the same arithmetic as the MF path). */
static void dens_count(dens_state *s, int32_t B)
{
    nb_pass_stats_draws(&s->st, s->draws, B);
    nb_pass_stats_batch(&s->st, s->raw_max, s->raw_min, B);
}

/* negatives() on a graph view (candidates drawn, s->vl set): per-layer
 * selection, the pooled raw negative, the gating loss on pooled vectors. */
/* The per-layer selection of a graph batch: (positive, layer) index lists,
 * then the reference, blocked or eight-lane kernel into s->chosenl (the
 * latter two keep their gate products for the loss). Returns how many pairs
 * had no finite score. */
static int64_t dens_graph_select(dens_state *s, const nb_batch *bt, const nb_view *v,
                                 double beta)
{
    int32_t B = bt->size, M = s->M, d = s->d, nl = s->vl.nl;
    for (int32_t b = 0; b < B; b++)
        for (int32_t l = 0; l < nl; l++) {
            int64_t q = (int64_t)b * nl + l;
            s->uidx[q] = bt->users[b] * nl + l;
            s->pidx[q] = bt->pos[b] * nl + l;
            for (int32_t m = 0; m < M; m++)
                s->candl[q * M + m] = s->cand[(int64_t)b * M + m] * nl + l;
        }
    int64_t nbad;
    if (s->test_ref_graph) {
        nbad = dens_select_batch_f32(B * nl, 1, M, d, beta, s->cval, v->user_layers,
                                     v->item_layers, s->uidx, s->pidx, s->candl, s->nt,
                                     s->sel_work, s->lscores, NULL, NULL, s->chosenl);
    } else if (dens_blocked_ok(d)) {
        /* blocked products, the gates kept for the loss */
        dens_gates_double_f32(d, s->cval, s->wd);
        dens_gates_double_t_f32(d, s->cval, s->wt);
        nbad = dens_select_graph_blk_f32(B * nl, M, d, beta, s->wt, v->user_layers,
                                         v->item_layers, s->uidx, s->pidx, s->candl, s->nt,
                                         s->bsel_work, s->lscores, s->chosenl, s->cgp, s->cpr,
                                         s->cgn);
    } else {
        /* eight pairs or candidates at a time, the gates kept for the loss */
        dens_gates_double_f32(d, s->cval, s->wd);
        nbad = dens_select_graph_batch_f32(B * nl, M, d, beta, s->cval, s->wd, v->user_layers,
                                           v->item_layers, s->uidx, s->pidx, s->candl, s->nt,
                                           s->gsel_work, s->lscores, s->chosenl, s->cgp,
                                           s->cpr, s->cgn);
    }
    return nbad;
}

/* The chosen negative of every layer, pooled as the view pools its layers,
 * into out->vec; layer 0's item is the row the host regularises. */
static void dens_graph_pool(dens_state *s, const nb_batch *bt, const nb_view *v,
                            nb_negatives *out)
{
    int32_t B = bt->size, M = s->M, d = s->d, nl = s->vl.nl;
    double c = s->vl.c;
    for (int32_t b = 0; b < B; b++) {
        float *vec = out->vec + (int64_t)b * d;
        for (int32_t l = 0; l < nl; l++) {
            int64_t q = (int64_t)b * nl + l;
            int32_t n = s->cand[(int64_t)b * M + s->chosenl[q]];
            s->negl[q] = n;
            s->nidx[q] = n * nl + l;
        }
        for (int32_t j = 0; j < d; j++) {
            double acc = 0.0;
            for (int32_t l = 0; l < nl; l++)
                acc += (double)v->item_layers[(int64_t)s->nidx[(int64_t)b * nl + l] * d + j];
            vec[j] = (float)(c * acc);
        }
        s->neg[b] = s->negl[(int64_t)b * nl];
        out->item[b] = s->neg[b];
        out->reg_items[(int64_t)b * out->reg_rows] = s->neg[b];
    }
}

static int dens_negatives_graph(dens_state *s, const nb_batch *bt, const nb_view *v,
                                double beta, nb_negatives *out, char **err)
{
    const nb_host *h = s->h;
    int32_t B = bt->size, d = s->d, nl = s->vl.nl;
    double c = s->vl.c;
    if (dens_graph_select(s, bt, v, beta) > 0) {
        for (int64_t q = 0; q < (int64_t)B * nl; q++)
            if (s->chosenl[q] < 0) {
                *err = h->mprintf("dens: no finite selection score for user %d, positive %d, "
                                  "layer %d (NaN or Inf in the embeddings or gates)",
                                  bt->users[q / nl], bt->pos[q / nl], (int)(q % nl));
                break;
            }
        return NB_ENUMERIC;
    }
    dens_graph_pool(s, bt, v, out);
    out->use_reg_vec = 0;
    out->aux_loss = 0.0;
    if (s->gamma > 0.0) {
        int cached = !s->test_ref_graph;
        double aux = dens_aux_graph_batch_ex_f32(
            B, nl, d, c, s->gamma, s->cval, v->user_layers, v->item_layers, s->uidx, s->pidx,
            s->nidx, cached ? s->cgp : NULL, cached ? s->cpr : NULL, cached ? s->cgn : NULL,
            cached ? s->wd : NULL, s->nt, s->aux_work, s->nk, s->lossb, s->tb, NULL, s->gu, s->gp, s->gn, s->ga, s->gc,
            s->pr);
        if (!isfinite(aux)) {
            *err = h->mprintf("dens: non-finite gating loss (%g) at epoch %d, step %lld", aux,
                              bt->epoch, (long long)bt->step);
            return NB_ENUMERIC;
        }
        out->aux_loss = aux;
        s->have_aux = 1;
    }
    dens_count(s, B);
    s->last_B = B;
    return NB_OK;
}

/* backward() on a graph view: d_neg and the gating-loss gradients into the
 * layer rows, then the gate weight gradients over (positive, layer) pairs. */
static int dens_backward_graph(dens_state *s, const nb_batch *bt, const nb_view *v,
                               const float *d_neg, nb_grads *g, char **err)
{
    int32_t B = bt->size, d = s->d, nl = s->vl.nl;
    float c = (float)s->vl.c;
    if (!g->item_layers || (s->have_aux && !g->user_layers)) {
        *err = s->h->mprintf("dens: the model gives no per-layer gradient blocks for its "
                             "%d-layer view", nl - 1);
        return NB_EINVAL;
    }
    for (int32_t b = 0; b < B; b++) {
        const float *dn = d_neg + (int64_t)b * d;
        for (int32_t l = 0; l < nl; l++) {
            int64_t q = (int64_t)b * nl + l, o = q * d;
            float *gi = nb_block_grad_row(g->item_layers, s->negl[q]) + (int64_t)l * d;
            for (int32_t j = 0; j < d; j++) gi[j] += c * dn[j];
            if (!s->have_aux) continue;
            for (int32_t j = 0; j < d; j++) gi[j] += s->gn[o + j];
            float *gu = nb_block_grad_row(g->user_layers, bt->users[b]) + (int64_t)l * d;
            for (int32_t j = 0; j < d; j++) gu[j] += s->gu[o + j];
            float *gp = nb_block_grad_row(g->item_layers, bt->pos[b]) + (int64_t)l * d;
            for (int32_t j = 0; j < d; j++) gp[j] += s->gp[o + j];
        }
    }
    if (s->have_aux)
        dens_aux_wgrad_f32(B * nl, 1, d, v->user_layers, v->item_layers, s->uidx, s->pidx,
                           s->nidx, s->ga, s->gc, s->pr, s->nt, s->grad);
    s->have_aux = 0;
    return NB_OK;
}

/* The view a batch is scored on: its dimension, and on a graph backbone its
 * layer stacks and a mean or sum pooling (into s->vl). NB_OK or NB_EINVAL. */
static int dens_check_view(dens_state *s, const nb_batch *bt, const nb_view *v, char **err)
{
    const nb_host *h = s->h;
    int32_t B = bt->size;
    if (B < 0 || B > s->max_batch || v->dim != s->d) {
        *err = h->mprintf("dens: batch of %d (max %d) or view dim %d (want %d)", B,
                          s->max_batch, v->dim, s->d);
        return NB_EINVAL;
    }
    s->graph = v->n_layers > 0;
    if (!s->graph) return NB_OK;
    if (v->n_layers > NB_VIEW_MAX_LAYERS || !v->user_layers || !v->item_layers) {
        *err = h->mprintf("dens: a view with %d layers (at most %d, with both layer "
                          "stacks) is not supported", v->n_layers, NB_VIEW_MAX_LAYERS);
        return NB_EINVAL;
    }
    if (B > 0 && nb_view_layers_detect(v, bt->pos, B, &s->vl) != 0) {
        *err = h->mprintf("dens: cannot tell how the view pools its %d layers (its final "
                          "rows are not their mean, sum or concatenation)", v->n_layers);
        return NB_EINVAL;
    }
    if (B > 0 && s->vl.pool == NB_POOL_CONCAT) {
        *err = h->mprintf("dens: the view concatenates its %d layers (width %d); DENS gates "
                          "need mean or sum pooling (layer width = view width)",
                          v->n_layers, v->dim);
        return NB_EINVAL;
    }
    return NB_OK;
}

/* negatives() on MF (candidates drawn): the gated selection, the chosen raw
 * negative, the gating loss. */
static int dens_negatives_mf(dens_state *s, const nb_batch *bt, const nb_view *v,
                             double beta, nb_negatives *out, char **err)
{
    const nb_host *h = s->h;
    int32_t B = bt->size, M = s->M, d = s->d;
    int64_t nbad = dens_select_batch_f32(B, 1, M, d, beta, s->cval, v->user, v->item,
                                         bt->users, bt->pos, s->cand, s->nt, s->sel_work,
                                         s->scores, NULL, NULL, s->chosen);
    if (nbad > 0) {
        for (int32_t b = 0; b < B; b++)
            if (s->chosen[b] < 0) {
                *err = h->mprintf("dens: no finite selection score for user %d, positive %d "
                                  "(NaN or Inf in the embeddings or gates)",
                                  bt->users[b], bt->pos[b]);
                break;
            }
        return NB_ENUMERIC;
    }
    for (int32_t b = 0; b < B; b++) {
        int32_t n = s->cand[(int64_t)b * M + s->chosen[b]];
        s->neg[b] = n;
        out->item[b] = n;
        out->reg_items[(int64_t)b * out->reg_rows] = n;
        memcpy(out->vec + (int64_t)b * d, v->item + (int64_t)n * d, (size_t)d * sizeof(float));
    }
    out->use_reg_vec = 0;
    out->aux_loss = 0.0;
    if (s->gamma > 0.0) {
        double aux = dens_aux_batch_f32(B, 1, d, s->gamma, s->cval, v->user, v->item,
                                        bt->users, bt->pos, s->neg, s->nt, s->aux_work,
                                        s->nk, s->lossb, s->tb, NULL, s->gu, s->gp, s->gn,
                                        s->ga, s->gc, s->pr);
        if (!isfinite(aux)) {
            *err = h->mprintf("dens: non-finite gating loss (%g) at epoch %d, step %lld", aux,
                              bt->epoch, (long long)bt->step);
            return NB_ENUMERIC;
        }
        out->aux_loss = aux;
        s->have_aux = 1;
    }
    /* statistics, once the batch is accepted */
    dens_count(s, B);
    s->last_B = B;
    return NB_OK;
}

static int dens_negatives(void *state, const nb_batch *bt, const nb_view *v,
                          nb_negatives *out, char **err)
{
    dens_state *s = state;
    int32_t B = bt->size;
    s->have_aux = 0;
    s->last_B = 0;
    int rc = dens_check_view(s, bt, v, err);
    if (rc != NB_OK) return rc;
    if (B == 0) { out->aux_loss = 0.0; out->use_reg_vec = 0; return NB_OK; }
    double beta = (double)bt->epoch / (double)s->warmup;
    if (beta > 1.0) beta = 1.0;
    if (beta < 0.0) beta = 0.0;
    int32_t bad = dens_draw(s, bt, v);
    if (bad >= 0) {
        *err = s->h->mprintf("dens: user %d has every item as a training positive",
                             bt->users[bad]);
        return NB_EINVAL;
    }
    if (s->graph) return dens_negatives_graph(s, bt, v, beta, out, err);
    return dens_negatives_mf(s, bt, v, beta, out, err);
}

static int dens_backward(void *state, const nb_batch *bt, const nb_view *v,
                         const float *d_neg, const float *d_reg, nb_grads *g, char **err)
{
    dens_state *s = state;
    int32_t B = bt->size, d = s->d;
    (void)d_reg;
    if (B != s->last_B) {
        *err = s->h->mprintf("dens: backward for a batch of %d after negatives for %d", B,
                             s->last_B);
        return NB_EINVAL;
    }
    if (s->graph) return dens_backward_graph(s, bt, v, d_neg, g, err);
    for (int32_t b = 0; b < B; b++) {
        float *gi = nb_block_grad_row(g->item, s->neg[b]);
        const float *dn = d_neg + (int64_t)b * d;
        for (int32_t j = 0; j < d; j++) gi[j] += dn[j];
        if (!s->have_aux) continue;
        const float *an = s->gn + (int64_t)b * d;
        for (int32_t j = 0; j < d; j++) gi[j] += an[j];
        float *gu = nb_block_grad_row(g->user, bt->users[b]);
        const float *au = s->gu + (int64_t)b * d;
        for (int32_t j = 0; j < d; j++) gu[j] += au[j];
        float *gp = nb_block_grad_row(g->item, bt->pos[b]);
        const float *ap = s->gp + (int64_t)b * d;
        for (int32_t j = 0; j < d; j++) gp[j] += ap[j];
    }
    if (s->have_aux)
        dens_aux_wgrad_f32(B, 1, d, v->user, v->item, bt->users, bt->pos, s->neg, s->ga, s->gc,
                           s->pr, s->nt, s->grad);
    s->have_aux = 0;
    return NB_OK;
}

static int dens_epoch_stats(void *state, const nb_stat **stats, int *n_stats)
{
    nb_pass_stats_emit(&((dens_state *)state)->st, 3, stats, n_stats);
    return NB_OK;
}

static const nb_sampler_vt dens_vt = {
    .init = dens_init,
    .reg_rows = dens_reg_rows,
    .rows_per_positive = dens_rows_per_positive,
    .blocks = dens_blocks,
    .epoch_begin = NULL,
    .negatives = dens_negatives,
    .backward = dens_backward,
    .epoch_stats = dens_epoch_stats,
    .free = dens_free,
    .flags = NB_SAMPLER_SYNCS_ROWS, /* candidate rows are synced when drawn */
};

static const nb_plugin_desc dens_desc = NB_PLUGIN_DESC_INIT(
    NB_KIND_SAMPLER, "dens", "1.0.0",
    "DENS: gated factor-aware selection among M uniform candidates, per layer on graphs (WSDM'23)",
    dens_params, &dens_vt);

/* The plugin's one exported symbol: descriptor 0 is "dens". */
const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &dens_desc : NULL;
}
