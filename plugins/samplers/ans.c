/*
 * ans.c - ANS, augmented negative sampling (Zhao et al., RecSys 2023), its
 * four ablations, and HNS; two descriptors in one object: "ans", "hns".
 * The math lives in ans_impl.h (float instantiation here; see its top
 * comment for the formulas and docs/methods/ans.md for the sources).
 *
 * Per positive (u, p): M uniform candidates (redrawn while a training
 * positive) from the stream (seed, epoch, position), noise r ~ U[0,1)^{M x d}
 * (24-bit floats, two per 64-bit draw: ans_noise_fill) from a second stream
 * (seed ^ ANS_NOISE_KEY, epoch, position) drawn after
 * the candidates' stream is set up (no_dir rademacher: the d signs per
 * candidate follow the noise in the same stream). The candidates of a batch
 * are grouped by item (ans_dedupe) and only the distinct item rows are
 * synced and gathered; the item gate c = N W_i^T + b_i is one SGEMM over the
 * distinct items, and the backward does dN += dC W_i and dW_i += dC^T N over
 * them, with dC and dN summed per item first. Positives run on
 * host->threads OpenMP threads with per-positive scratch; every reduction
 * into shared rows or weights is done in a fixed order, so results do not
 * depend on the thread count.
 *
 * The negative vector is the augmented n~_{m*} (it keeps its gradient: into
 * n_{m*}, and through mu into w, b_w, the gates and p); all M candidates are
 * regularised (reg_rows = M); aux_loss = gamma (L_c + D + O).
 *
 * Graph backbones (view n_layers = L > 0), parameter "layers":
 *   per_layer (default; the official ans.py with n_layers = L,
 *            docs/methods/ans.md): every formula runs independently on each layer's rows
 *            u^(l), p^(l), n^(l)_m (width e) with shared gate/margin
 *            weights, m* is chosen per layer (layers may pick different
 *            candidates), L_c and D average over layers, O sums over them.
 *            The negative vector is the view's own pooling of the per-layer
 *            augmented n~^(l)_{m*_l} (ans_layers.h), so the host's BPR and
 *            the evaluation score with the same rows; with a concat view
 *            the BPR score is the official sum_l u^(l).n~^(l). d_neg goes
 *            back per layer into g->user_layers / g->item_layers, and from
 *            there through the model's propagation. Noise: nl*M*e values
 *            per positive from the same stream (rows b*nl + l, layer 0 first).
 *            out->item is the layer-0 pick; reg_items are the M candidates
 *            (ego rows, as the official EmbLoss). Concat views have layers
 *            narrower than the view: see ans_prepare for the gate layout.
 *   pooled   the MF code on the view's final (pooled) rows.
 * On MF views both modes run the MF code unchanged. HNS always uses the
 * final rows. Statistics in per-layer mode count (positive, layer) rows.
 *
 * Variants (parameter "variant"; reconstructions, docs/methods/ans.md):
 *   full     the official code.
 *   no_gain  eps forced to 0: m* = argmax u·n~ (identical to eps: 0).
 *   no_dis   no gates and no gamma losses (aux 0); margin
 *            mu = sigmoid(1/(w·(n.p) + b_w)); direction sgn(p - n).
 *   no_dir   dir_mode rademacher (default): i.i.d. +-1 per element instead of
 *            sgn(e_dif); dir_mode raw: the raw e_dif = (p - n).(1 - g), with
 *            its gradient, times r/|r|.
 *   no_mag   mag_mode uniform (default): n~ = n + sgn(e_dif).r (no 0.1, no
 *            mu, no normalisation); mag_mode easy: n~ = n + e_dif.
 * augment: false gives n~ = n and DNS selection over the same candidates
 * (the gates are still trained by the gamma losses).
 * gate_init: torch = PyTorch nn.Linear default, U(+-1/sqrt(d)) for every
 * weight and bias (the official code); xavier = U(+-sqrt(6/(fan_in +
 * fan_out))) for W_u, W_i, w, biases still U(+-1/sqrt(d)).
 *
 * HNS (docs/methods/ans.md): one uniform negative n, gate g from the same gate
 * layers, the negative vector is h = n.g (BPR on u·p - u·h, whose gradient
 * reaches n, u and the gates through g), plus gamma (L_c + D + O) with M = 1.
 *
 * Statistics (epoch_stats, per epoch, reset after each call):
 *   reject_rate    redrawn / drawn candidates.
 *   cand_max_norm, cand_min_norm  per positive, the max and min first-pass
 *                  score u·n_m over its candidates, min-max normalised by
 *                  the min and max of all candidate scores of the same batch,
 *                  averaged over the epoch's positives (paper Fig. 1d).
 *   dns_overlap    share of positives whose chosen base item equals the item
 *                  DNS picks (argmax_m u·n_m, first index on ties) among the
 *                  same candidates (paper Table 4). Items are compared, so a
 *                  duplicate candidate counts as the same choice.
 *   aug_gain       mean of u·(n~_{m*} - n_{m*}).
 * HNS reports reject_rate only.
 */
#include "negbench/plugin.h"
#include "sampler_common.h"
#include "ans_layers.h"

#define REAL float
#define SUF f32
#include "ans_impl.h"
#undef REAL
#undef SUF

#define ANS_NOISE_KEY 0x414E534E4F495345ull /* "ANSNOISE" */
#define ANS_INIT_KEY 0x414E53494E495431ull  /* "ANSINIT1" */

enum { P_W_U, P_B_U, P_W_I, P_B_I, P_W, P_B_W, P_COUNT };
static const char *const ans_block_names[P_COUNT] = { "W_u", "b_u", "W_i", "b_i", "w", "b_w" };

typedef struct ans_state {
    const nb_host *h;
    const nb_train *train;
    const char *name;            /* "ans" or "hns", for messages */
    ans_cfg cfg;
    int32_t max_batch;
    float *pv, *pg;              /* parameter values / gradients, W_u b_u W_i b_i w b_w */
    float *pval[P_COUNT], *pgrad[P_COUNT];
    int64_t n_par;               /* floats in pv (and pg) */
    nb_block blk[P_COUNT];
    int n_blk;
    char *work;                  /* the ans_batch_f32 work area */
    ans_batch_f32 w;
    int32_t *cand;               /* [max_batch][M] candidate ids */
    int32_t *slot;               /* [n_items * nl] -1 (ans_dedupe's row -> distinct map) */
    int nth;                     /* OpenMP threads */
    nb_pass_stats st;
    double sum_overlap, sum_gain, sum_mu;
    int64_t n_pos;
    nb_stat out[8];
    int margin_init;             /* enum ans_margin_init: the sign of b_w at init */
    double bw_init;              /* b_w as initialised (the regime it sets) */
    /* per-layer mode (graph views; see "Graph backbones" above) */
    int per_layer;               /* layers: per_layer */
    int xavier;                  /* gate_init: xavier (for the gate re-layout) */
    uint64_t seed;
    int32_t carved_nl, carved_e; /* the shape work/slot/candl/dnl are sized for */
    int32_t gate_e;              /* the width the gate parameters are laid out for */
    int started;                 /* a batch was seen: the parameters may have moved */
    int graph;                   /* the last batch ran per layer */
    ans_cfg cfgl;                /* cfg of the per-layer rows (d = e, o_layers = L+1) */
    nb_view_layers vl;           /* pooling of the last per-layer batch */
    int32_t *candl;              /* [max_batch*nl][M] candidate stack rows */
    float *dnl;                  /* [max_batch*nl][e] per-layer dL/dn~ */
    const int32_t *fix_cand;     /* tests only: fixed candidates [B][M] */
    const float *fix_r;          /* tests only: fixed noise [B][nl][M][e] ([B][M][d] on MF) */
} ans_state;

static const nb_param_spec ans_params[] = {
    { "M", NB_PARAM_INT, "32", 1, 1024, NULL, "uniform candidates per positive" },
    { "gamma", NB_PARAM_FLOAT, "0.1", 0, 100, NULL, "weight of the gate losses L_c + D + O" },
    { "eps", NB_PARAM_FLOAT, "0.1", 0, 100, NULL, "weight of the augmentation gain in the selection" },
    { "gate_init", NB_PARAM_CHOICE, "torch", 0, 0, "torch|xavier",
      "gate/margin init: torch U(+-1/sqrt(d)) as the official code, or xavier weights" },
    { "variant", NB_PARAM_CHOICE, "full", 0, 0, "full|no_dis|no_gain|no_dir|no_mag",
      "ANS or one ablation of paper Table 5" },
    { "dir_mode", NB_PARAM_CHOICE, "rademacher", 0, 0, "rademacher|raw",
      "no_dir: random +-1 direction, or the raw easy-factor difference" },
    { "mag_mode", NB_PARAM_CHOICE, "uniform", 0, 0, "uniform|easy",
      "no_mag: unnormalised U[0,1) noise, or a full move by |e_dif|" },
    { "augment", NB_PARAM_BOOL, "true", 0, 0, NULL,
      "false: no augmentation, DNS selection over the same candidates" },
    { "layers", NB_PARAM_CHOICE, "per_layer", 0, 0, "per_layer|pooled",
      "graph views: every formula per layer with shared gates (official), or on pooled rows" },
    { "margin_init", NB_PARAM_CHOICE | NB_PARAM_ADDED, "torch", 0, 0,
      "torch|positive|negative|zero",
      "margin bias b_w: torch's U(+-1/sqrt(d)) draw, or that draw's magnitude with a fixed sign, or 0" },
    { "subnormals", NB_PARAM_CHOICE | NB_PARAM_ADDED, "flush", 0, 0, "flush|keep",
      "gate gradients below the smallest normal float: zeroed before the GEMMs (fast), or kept" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};
enum { V_M, V_GAMMA, V_EPS, V_GATE_INIT, V_VARIANT, V_DIR_MODE, V_MAG_MODE, V_AUGMENT, V_LAYERS,
       V_MARGIN_INIT, V_SUBNORMALS };
/* margin_init: how b_w's draw is used (the draws themselves never change). */
enum ans_margin_init { MARGIN_TORCH, MARGIN_POSITIVE, MARGIN_NEGATIVE, MARGIN_ZERO };
enum { VAR_FULL, VAR_NO_DIS, VAR_NO_GAIN, VAR_NO_DIR, VAR_NO_MAG };

static const nb_param_spec hns_params[] = {
    { "gamma", NB_PARAM_FLOAT, "0.1", 0, 100, NULL, "weight of the gate losses L_c + D + O" },
    { "gate_init", NB_PARAM_CHOICE, "torch", 0, 0, "torch|xavier",
      "gate init: torch U(+-1/sqrt(d)) as the official code, or xavier weights" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};
enum { H_GAMMA, H_GATE_INIT };

static void ans_free(void *state)
{
    ans_state *s = state;
    if (!s) return;
    s->h->free(s->pv);
    s->h->free(s->pg);
    s->h->free(s->work);
    s->h->free(s->cand);
    s->h->free(s->slot);
    s->h->free(s->candl);
    s->h->free(s->dnl);
    s->h->free(s);
}

/* Point the carved work area at the state's arrays and parameters. */
static void ans_work_bind(ans_state *s, int32_t *cand)
{
    s->w.threads = s->nth;
    s->w.cand = cand;
    s->w.slot = s->slot;
    s->w.Wu = s->pval[P_W_U];
    s->w.bu = s->pval[P_B_U];
    s->w.Wi = s->pval[P_W_I];
    s->w.bi = s->pval[P_B_I];
    s->w.w = s->pval[P_W];
    s->w.bw = s->pval[P_B_W];
}

/* Fill the parameters, laid out for gates of width d, from the run seed:
 * torch default U(+-1/sqrt(d)), or xavier-uniform weights (biases keep the
 * torch bound). Then b_w as margin_init says: the draw, its magnitude with
 * a fixed sign, or 0 (the same stream either way, so every other parameter
 * is the same whatever the choice). */
static void ans_init_params(ans_state *s, int xavier, uint64_t seed, int32_t d)
{
    const double tb = 1.0 / sqrt((double)d);
    const double bound[P_COUNT] = {
        xavier ? sqrt(6.0 / (2.0 * d)) : tb, tb, xavier ? sqrt(6.0 / (2.0 * d)) : tb, tb,
        xavier ? sqrt(6.0 / (d + 1.0)) : tb, tb
    };
    const int64_t size[P_COUNT] = { (int64_t)d * d, d, (int64_t)d * d, d, d, 1 };
    nb_rng r;
    nb_rng_seed(&r, seed, ANS_INIT_KEY, 0);
    for (int p = 0; p < P_COUNT; p++)
        for (int64_t i = 0; i < size[p]; i++)
            s->pval[p][i] = (float)((2.0 * nb_rng_uniform(&r) - 1.0) * bound[p]);
    float *bw = s->pval[P_B_W];
    if (s->margin_init == MARGIN_POSITIVE) bw[0] = fabsf(bw[0]);
    else if (s->margin_init == MARGIN_NEGATIVE) bw[0] = -fabsf(bw[0]);
    else if (s->margin_init == MARGIN_ZERO) bw[0] = 0.0f;
    s->bw_init = bw[0];
}

/* Shared init of both descriptors once cfg is resolved. */
static int ans_init_common(const nb_host *h, const char *name, const ans_cfg *cfg, int xavier,
                           int margin_init,
                           const nb_train *train, int32_t max_batch, uint64_t seed,
                           void **state, char **err)
{
    const int32_t d = cfg->d;
    const int64_t size[P_COUNT] = { (int64_t)d * d, d, (int64_t)d * d, d, d, 1 };
    ans_state *s = h->alloc(sizeof *s);
    if (!s) goto oom;
    s->h = h;
    s->train = train;
    s->name = name;
    s->cfg = *cfg;
    s->max_batch = max_batch;
    int64_t total = 0;
    for (int p = 0; p < P_COUNT; p++) total += size[p];
    s->pv = h->alloc((size_t)total * sizeof(float));
    s->pg = h->alloc((size_t)total * sizeof(float));
    size_t bytes = ans_carve_f32(&s->w, cfg, max_batch, NULL);
    s->work = h->alloc(bytes);
    s->cand = h->alloc((size_t)max_batch * (size_t)cfg->M * sizeof(int32_t));
    s->slot = h->alloc((size_t)(train->n_items > 0 ? train->n_items : 1) * sizeof(int32_t));
    if (!s->pv || !s->pg || !s->work || !s->cand || !s->slot) goto oom;
    for (int32_t i = 0; i < train->n_items; i++) s->slot[i] = -1;
    ans_carve_f32(&s->w, cfg, max_batch, s->work);
    s->nth = h->threads > 0 ? h->threads : 1;
    s->n_par = total;
    int64_t off = 0;
    for (int p = 0; p < P_COUNT; p++) {
        s->pval[p] = s->pv + off;
        s->pgrad[p] = s->pg + off;
        off += size[p];
    }
    ans_work_bind(s, s->cand);
    s->xavier = xavier;
    s->margin_init = margin_init;
    s->seed = seed;
    s->gate_e = d;
    s->carved_nl = 1;
    s->carved_e = d;
    ans_init_params(s, xavier, seed, d);
    /* register the blocks the configuration trains */
    for (int p = 0; p < P_COUNT; p++) {
        int gate_param = p <= P_B_I;
        if (gate_param && !cfg->gate) continue;
        if (!gate_param && cfg->hns) continue;
        nb_block *b = &s->blk[s->n_blk++];
        b->name = ans_block_names[p];
        b->value = s->pval[p];
        b->grad = s->pgrad[p];
        b->rows = (p == P_W_U || p == P_W_I) ? d : 1;
        b->cols = (p == P_B_W) ? 1 : d;
        b->flags = NB_BLOCK_DENSE;
    }
    *state = s;
    return NB_OK;
oom:
    ans_free(s);
    *err = h->mprintf("%s: out of memory (max_batch %d, M %d, d %d)", name, max_batch,
                      cfg->M, d);
    return NB_ENOMEM;
}

static int ans_init(const nb_host *h, const nb_value *values, const nb_train *train,
                    int32_t dim, int32_t max_batch, uint64_t seed, void **state, char **err)
{
    ans_cfg c = { 0 };
    c.d = dim;
    c.n_items = train->n_items;
    c.M = (int32_t)values[V_M].i;
    c.gamma = values[V_GAMMA].f;
    c.eps = values[V_EPS].f;
    c.gate = 1;
    c.augment = (int)values[V_AUGMENT].i;
    c.use_mu = 1;
    c.dir = ANS_DIR_SGN;
    c.rmode = ANS_R_UNIT;
    c.keep_subnormals = values[V_SUBNORMALS].i == 1;
    switch (values[V_VARIANT].i) {
    case VAR_NO_DIS: c.gate = 0; break;
    case VAR_NO_GAIN: c.eps = 0.0; break;
    case VAR_NO_DIR:
        if (values[V_DIR_MODE].i == 0) c.dir = ANS_DIR_RAD;
        else { c.dir = ANS_DIR_ONE; c.use_edif = 1; }
        break;
    case VAR_NO_MAG:
        c.use_mu = 0;
        if (values[V_MAG_MODE].i == 0) c.rmode = ANS_R_RAW;
        else { c.dir = ANS_DIR_ONE; c.rmode = ANS_R_ONE; c.use_edif = 1; }
        break;
    default: break;
    }
    int rc = ans_init_common(h, "ans", &c, values[V_GATE_INIT].i == 1,
                             (int)values[V_MARGIN_INIT].i, train, max_batch, seed, state, err);
    if (rc == NB_OK) ((ans_state *)*state)->per_layer = values[V_LAYERS].i == 0;
    return rc;
}

static int hns_init(const nb_host *h, const nb_value *values, const nb_train *train,
                    int32_t dim, int32_t max_batch, uint64_t seed, void **state, char **err)
{
    ans_cfg c = { 0 };
    c.d = dim;
    c.n_items = train->n_items;
    c.M = 1;
    c.gamma = values[H_GAMMA].f;
    c.gate = 1;
    c.hns = 1;
    return ans_init_common(h, "hns", &c, values[H_GATE_INIT].i == 1, MARGIN_TORCH, train,
                           max_batch, seed, state, err);
}

static int32_t ans_reg_rows(void *state) { return ((ans_state *)state)->cfg.M; }

/* M candidate rows per positive (HNS: 1; the host's Adam deferral uses it). */
static int32_t ans_rows_per_positive(void *state) { return ((ans_state *)state)->cfg.M; }

static int ans_blocks(void *state, nb_block **blocks, int *n_blocks)
{
    ans_state *s = state;
    *blocks = s->blk;
    *n_blocks = s->n_blk;
    return NB_OK;
}

/* n uniforms in [0, 1) from r, two 24-bit floats per 64-bit draw (high
 * bits first): exact multiples of 2^-24, never 1.0f. */
static void ans_noise_fill(nb_rng *r, float *out, int64_t n)
{
    int64_t k = 0;
    for (; k + 1 < n; k += 2) {
        const uint64_t x = nb_rng_u64(r);
        out[k] = (float)(x >> 40) * 0x1p-24f;
        out[k + 1] = (float)((x >> 8) & 0xFFFFFF) * 0x1p-24f;
    }
    if (k < n) out[k] = (float)(nb_rng_u64(r) >> 40) * 0x1p-24f;
}

/* Draw candidates and noise for positive b into s->cand and s->w.r/rad
 * (or copy the fixed test inputs): nr = nl*M*e noise values per positive
 * (M*d on MF; per layer the rows b*nl+l, so layer 0 gets the MF values).
 * Returns the failing user or -1. */
static int32_t ans_draw(ans_state *s, const nb_batch *batch, int32_t b, int64_t nr,
                        nb_draw_stats *ds)
{
    const int32_t M = s->cfg.M;
    const int32_t user = batch->users[b];
    const int need_noise = s->cfg.augment && !s->cfg.hns;
    int32_t *cand = s->cand + (int64_t)b * M;
    float *r = s->w.r + (int64_t)b * nr;
    nb_rng rc, rn;
    nb_rng_seed(&rc, batch->seed, (uint64_t)batch->epoch, (uint64_t)(batch->first + b));
    nb_rng_seed(&rn, batch->seed ^ ANS_NOISE_KEY, (uint64_t)batch->epoch,
                (uint64_t)(batch->first + b));
    for (int32_t m = 0; m < M; m++) {
        cand[m] = s->fix_cand ? s->fix_cand[(int64_t)b * M + m]
                              : nb_draw_uniform(&rc, s->train, user, ds);
        if (cand[m] < 0) return user;
    }
    if (!need_noise) return -1;
    if (s->fix_r)
        memcpy(r, s->fix_r + (int64_t)b * nr, (size_t)nr * sizeof(float));
    else
        ans_noise_fill(&rn, r, nr);
    if (s->w.rad) {
        float *rad = s->w.rad + (int64_t)b * nr;
        for (int64_t k = 0; k < nr; k++) rad[k] = (nb_rng_u64(&rn) >> 63) ? 1.0f : -1.0f;
    }
    return -1;
}

/* Draw the batch's candidates and noise (nr values per positive, see
 * ans_draw), count the draws, and check the ids. */
static int ans_draw_batch(ans_state *s, const nb_batch *batch, int64_t nr, char **err)
{
    const int32_t M = s->cfg.M, B = batch->size;
    uint64_t drawn = 0, rejected = 0;
    int32_t failed_user = -1;
    #pragma omp parallel for schedule(static) reduction(+ : drawn, rejected) \
        reduction(max : failed_user) num_threads(s->nth)
    for (int32_t b = 0; b < B; b++) {
        nb_draw_stats ds = { 0, 0 };
        int32_t fu = ans_draw(s, batch, b, nr, &ds);
        drawn += ds.drawn;
        rejected += ds.rejected;
        if (fu > failed_user) failed_user = fu;
    }
    s->st.draws.drawn += drawn;
    s->st.draws.rejected += rejected;
    if (failed_user >= 0) {
        *err = s->h->mprintf("%s: user %d has every item as a positive", s->name, failed_user);
        return NB_EINVAL;
    }
    for (int64_t q = 0; q < (int64_t)B * M; q++)
        if (s->cand[q] < 0 || s->cand[q] >= s->train->n_items) {
            *err = s->h->mprintf("%s: candidate item %d outside the %d items", s->name,
                                 s->cand[q], s->train->n_items);
            return NB_EINVAL;
        }
    return NB_OK;
}


/* Add the batch's rows to the epoch statistics: R rows (positives, or
 * (positive, layer) rows) of M candidate ids crow [R][M], in row order. */
static void ans_count(ans_state *s, const int32_t *crow, int32_t R)
{
    const int32_t M = s->cfg.M;
    for (int32_t q = 0; q < R; q++) {
        const int32_t *c = crow + (int64_t)q * M;
        s->sum_overlap += c[s->w.chosen[q]] == c[s->w.dns[q]];
        s->sum_gain += s->w.gain[q];
        s->sum_mu += s->w.mu[q];
    }
    s->n_pos += R;
    if (M > 1) nb_pass_stats_batch(&s->st, s->w.smax, s->w.smin, R);
}

/* Make the work area fit batches of nl layers of width e (nl = 1, e = d:
 * the MF/pooled shape of init) and lay the gates out for width e. Only the
 * first batch of a view shape allocates. A concat view's layers are
 * narrower than the view (e = d/(L+1)): the gates, registered as d x d
 * blocks at init, are re-initialised once as packed e x e arrays (the rest
 * of each block stays 0 and gets no gradient); that is only possible
 * before any batch has trained them. */
static int ans_prepare(ans_state *s, int32_t nl, int32_t e, char **err)
{
    const nb_host *h = s->h;
    if (e != s->gate_e) {
        if (s->started) {
            *err = h->mprintf("%s: the view's layer width %d differs from the %d its gates "
                              "were trained for", s->name, e, s->gate_e);
            return NB_EINVAL;
        }
        memset(s->pv, 0, (size_t)s->n_par * sizeof(float));
        ans_init_params(s, s->xavier, s->seed, e);
        s->gate_e = e;
    }
    if (nl == s->carved_nl && e == s->carved_e) return NB_OK;
    const int64_t rows = (int64_t)s->max_batch * nl, slots = (int64_t)s->train->n_items * nl;
    if (rows * s->cfg.M > INT32_MAX || slots > INT32_MAX) {
        *err = h->mprintf("%s: %d layers x %d items (or x %d positives x M %d) exceed the "
                          "32-bit row ids", s->name, nl, s->train->n_items, s->max_batch,
                          s->cfg.M);
        return NB_EINVAL;
    }
    ans_cfg c = s->cfg;
    c.d = e;
    c.n_items = (int32_t)slots;
    c.o_layers = nl;
    h->free(s->work); h->free(s->slot); h->free(s->candl); h->free(s->dnl);
    s->candl = NULL;
    s->dnl = NULL;
    s->carved_nl = 0; /* until the allocations succeed */
    s->work = h->alloc(ans_carve_f32(&s->w, &c, (int32_t)rows, NULL));
    s->slot = h->alloc((size_t)slots * sizeof(int32_t));
    if (nl > 1) {
        s->candl = h->alloc((size_t)(rows * c.M) * sizeof(int32_t));
        s->dnl = h->alloc((size_t)(rows * e) * sizeof(float));
    }
    if (!s->work || !s->slot || (nl > 1 && (!s->candl || !s->dnl))) {
        *err = h->mprintf("%s: out of memory for %d layers (max_batch %d, M %d, width %d)",
                          s->name, nl, s->max_batch, c.M, e);
        return NB_ENOMEM;
    }
    for (int64_t i = 0; i < slots; i++) s->slot[i] = -1;
    ans_carve_f32(&s->w, &c, (int32_t)rows, s->work);
    ans_work_bind(s, nl > 1 ? s->candl : s->cand);
    s->cfgl = c;
    s->carved_nl = nl;
    s->carved_e = e;
    return NB_OK;
}

/* negatives() in per-layer mode on a graph view (docs/methods/ans.md): the
 * B positives become B (L+1) rows (ans_layers.h), each with its own m*;
 * the negative vector pools the per-layer n~^(l)_{m*_l} as the view does. */
static int ans_negatives_layers(ans_state *s, const nb_batch *batch, const nb_view *view,
                                nb_negatives *out, char **err)
{
    const int32_t M = s->cfg.M, B = batch->size;
    int rc;
    if (view->n_layers > NB_VIEW_MAX_LAYERS || !view->user_layers || !view->item_layers) {
        *err = s->h->mprintf("%s: a view with %d layers (at most %d, with both layer stacks) "
                             "is not supported per layer", s->name, view->n_layers,
                             NB_VIEW_MAX_LAYERS);
        return NB_EINVAL;
    }
    if (B > 0 && nb_view_layers_detect(view, batch->pos, B, &s->vl) != 0) {
        *err = s->h->mprintf("%s: cannot tell how the view pools its %d layers (its final rows "
                             "are not their mean, sum or concatenation)", s->name,
                             view->n_layers);
        return NB_EINVAL;
    }
    if (B == 0) { out->aux_loss = 0.0; out->use_reg_vec = 0; s->w.B = s->w.nU = 0; return NB_OK; }
    const int32_t nl = s->vl.nl, e = s->vl.e, R = B * nl;
    if ((rc = ans_prepare(s, nl, e, err)) != NB_OK) return rc;
    s->started = 1;
    s->graph = 1;
    s->w.B = R;
    if ((rc = ans_draw_batch(s, batch, (int64_t)nl * M * e, err)) != NB_OK) return rc;
    ans_layers_gather(view, &s->vl, B, M, batch->users, batch->pos, s->cand, s->w.Ub, s->w.Pb,
                      s->candl);
    ans_dedupe_f32(&s->cfgl, &s->w);
    #pragma omp parallel for schedule(static) num_threads(s->nth)
    for (int32_t j = 0; j < s->w.nU; j++) {
        const int32_t row = s->w.uitem[j];
        nb_view_sync(view, NB_ITEMS, row / nl);
        memcpy(s->w.Nu + (int64_t)j * e, view->item_layers + (int64_t)row * e,
               (size_t)e * sizeof(float));
    }
    const unsigned csr = ans_ftz_enter(s->cfgl.keep_subnormals); /* the GEMMs on this thread */
    const int fwd = ans_forward_f32(&s->cfgl, &s->w, s->h->sgemm, 1);
    ans_ftz_leave(csr);
    if (fwd != NB_OK) {
        *err = s->h->mprintf("%s: non-finite value in the per-layer forward pass (epoch %d, "
                             "positions %lld..%lld)", s->name, batch->epoch,
                             (long long)batch->first, (long long)(batch->first + B - 1));
        return NB_ENUMERIC;
    }
    ans_layers_pool(&s->vl, B, s->w.vec, out->vec);
    memcpy(out->reg_items, s->cand, (size_t)B * M * sizeof(int32_t));
    out->reg_rows = M;
    out->use_reg_vec = 0;
    out->aux_loss = s->w.aux;
    for (int32_t b = 0; b < B; b++) out->item[b] = s->cand[(int64_t)b * M + s->w.chosen[(int64_t)b * nl]];
    ans_count(s, s->candl, R);
    return NB_OK;
}

static int ans_negatives(void *state, const nb_batch *batch, const nb_view *view,
                         nb_negatives *out, char **err)
{
    ans_state *s = state;
    const int32_t d = s->cfg.d, M = s->cfg.M, B = batch->size;
    if (B > s->max_batch || view->dim != d) {
        *err = s->h->mprintf("%s: batch of %d (max %d) or view dim %d (want %d)", s->name, B,
                             s->max_batch, view->dim, d);
        return NB_EINVAL;
    }
    int rc;
    s->graph = 0;
    if (view->n_layers > 0 && s->per_layer) return ans_negatives_layers(s, batch, view, out, err);
    if ((rc = ans_prepare(s, 1, d, err)) != NB_OK) return rc;
    s->started = 1;
    s->w.B = B;
    if ((rc = ans_draw_batch(s, batch, (int64_t)M * d, err)) != NB_OK) return rc;
    for (int32_t b = 0; b < B; b++) {
        memcpy(s->w.Ub + (int64_t)b * d, view->user + (int64_t)batch->users[b] * d,
               (size_t)d * sizeof(float));
        memcpy(s->w.Pb + (int64_t)b * d, view->item + (int64_t)batch->pos[b] * d,
               (size_t)d * sizeof(float));
    }
    ans_dedupe_f32(&s->cfg, &s->w);
    #pragma omp parallel for schedule(static) num_threads(s->nth)
    for (int32_t j = 0; j < s->w.nU; j++) {
        const int32_t i = s->w.uitem[j];
        nb_view_sync(view, NB_ITEMS, i); /* the host syncs users and positives */
        memcpy(s->w.Nu + (int64_t)j * d, view->item + (int64_t)i * d, (size_t)d * sizeof(float));
    }
    const unsigned csr = ans_ftz_enter(s->cfg.keep_subnormals); /* the GEMMs on this thread */
    const int fwd = ans_forward_f32(&s->cfg, &s->w, s->h->sgemm, 1);
    ans_ftz_leave(csr);
    if (fwd != NB_OK) {
        *err = s->h->mprintf("%s: non-finite value in the forward pass (epoch %d, positions "
                             "%lld..%lld)", s->name, batch->epoch, (long long)batch->first,
                             (long long)(batch->first + B - 1));
        return NB_ENUMERIC;
    }
    memcpy(out->vec, s->w.vec, (size_t)B * d * sizeof(float));
    memcpy(out->reg_items, s->cand, (size_t)B * M * sizeof(int32_t));
    out->reg_rows = M;
    out->use_reg_vec = 0;
    out->aux_loss = s->w.aux;
    for (int32_t b = 0; b < B; b++) out->item[b] = s->cand[(int64_t)b * M + s->w.chosen[b]];
    ans_count(s, s->cand, B);
    return NB_OK;
}

static int ans_backward(void *state, const nb_batch *batch, const nb_view *view,
                        const float *d_neg, const float *d_reg, nb_grads *g, char **err)
{
    (void)view; (void)d_reg;
    ans_state *s = state;
    const int32_t d = s->cfg.d, B = batch->size;
    const ans_pgrad_f32 pg = { s->pgrad[P_W_U], s->pgrad[P_B_U], s->pgrad[P_W_I],
                               s->pgrad[P_B_I], s->pgrad[P_W], s->pgrad[P_B_W] };
    const int32_t nl = s->graph ? s->vl.nl : 1;
    if ((int64_t)B * nl != s->w.B) {
        *err = s->h->mprintf("%s: backward for a batch of %d after negatives for %d", s->name,
                             B, s->w.B / nl);
        return NB_EINVAL;
    }
    if (s->graph && (!g->user_layers || !g->item_layers)) {
        *err = s->h->mprintf("%s: the model gives no per-layer gradient blocks for its "
                             "%d-layer view", s->name, nl - 1);
        return NB_EINVAL;
    }
    if (s->graph) ans_layers_split(&s->vl, B, d_neg, s->dnl);
    const ans_cfg *bc = s->graph ? &s->cfgl : &s->cfg;
    const unsigned csr = ans_ftz_enter(bc->keep_subnormals); /* the GEMMs on this thread */
    const int bwd = ans_backward_f32(bc, &s->w, s->graph ? s->dnl : d_neg, s->h->sgemm, &pg);
    ans_ftz_leave(csr);
    if (bwd != NB_OK) {
        *err = s->h->mprintf("%s: non-finite gradient (epoch %d, positions %lld..%lld)",
                             s->name, batch->epoch, (long long)batch->first,
                             (long long)(batch->first + B - 1));
        return NB_ENUMERIC;
    }
    /* serial scatter, positives in b order, then the distinct candidate
     * items in first-appearance order: deterministic with duplicate rows */
    if (s->graph) {
        ans_layers_scatter(&s->vl, B, batch->users, batch->pos, s->w.Gu, s->w.Gp, s->w.nU,
                           s->w.uitem, s->w.GnU, g);
        return NB_OK;
    }
    for (int32_t b = 0; b < B; b++) {
        float *gu = nb_block_grad_row(g->user, batch->users[b]);
        float *gp = nb_block_grad_row(g->item, batch->pos[b]);
        const float *su = s->w.Gu + (int64_t)b * d, *sp = s->w.Gp + (int64_t)b * d;
        for (int32_t k = 0; k < d; k++) { gu[k] += su[k]; gp[k] += sp[k]; }
    }
    for (int32_t j = 0; j < s->w.nU; j++) {
        float *gn = nb_block_grad_row(g->item, s->w.uitem[j]);
        const float *sn = s->w.GnU + (int64_t)j * d;
        for (int32_t k = 0; k < d; k++) gn[k] += sn[k];
    }
    return NB_OK;
}

static int ans_epoch_stats(void *state, const nb_stat **stats, int *n_stats)
{
    ans_state *s = state;
    const nb_stat *ps;
    int n;
    nb_pass_stats_emit(&s->st, 3, &ps, &n);
    memcpy(s->out, ps, 3 * sizeof *ps);
    s->out[3].name = "dns_overlap";
    s->out[3].value = s->n_pos ? s->sum_overlap / (double)s->n_pos : NAN;
    s->out[4].name = "aug_gain";
    s->out[4].value = s->n_pos ? s->sum_gain / (double)s->n_pos : NAN;
    s->out[5].name = "mu";
    s->out[5].value = s->n_pos ? s->sum_mu / (double)s->n_pos : NAN;
    s->out[6].name = "margin_bias";
    s->out[6].value = s->pval[P_B_W][0];
    s->out[7].name = "margin_bias_init";
    s->out[7].value = s->bw_init;
    s->sum_overlap = s->sum_gain = s->sum_mu = 0.0;
    s->n_pos = 0;
    *stats = s->out;
    *n_stats = s->cfg.hns ? 1 : 8;
    return NB_OK;
}

#ifdef NB_ANS_TESTING
/* Tests only: use these candidates [B][M] and noise [B][M][d] ([B][L+1][M][e]
 * per layer) instead of drawing (NULL restores drawing); the pointers must
 * outlive the calls. */
void ans_testing_fix(void *state, const int32_t *cand, const float *r);
void ans_testing_fix(void *state, const int32_t *cand, const float *r)
{
    ((ans_state *)state)->fix_cand = cand;
    ((ans_state *)state)->fix_r = r;
}

/* Tests only: the chosen and the DNS candidate index [B] of the last batch. */
const int32_t *ans_testing_chosen(void *state, const int32_t **dns);
const int32_t *ans_testing_chosen(void *state, const int32_t **dns)
{
    if (dns) *dns = ((ans_state *)state)->w.dns;
    return ((ans_state *)state)->w.chosen;
}
#endif

static const nb_sampler_vt ans_vt = {
    .init = ans_init,
    .reg_rows = ans_reg_rows,
    .rows_per_positive = ans_rows_per_positive,
    .blocks = ans_blocks,
    .negatives = ans_negatives,
    .backward = ans_backward,
    .epoch_stats = ans_epoch_stats,
    .free = ans_free,
    .flags = NB_SAMPLER_SYNCS_ROWS, /* candidate rows are synced when gathered */
};

static const nb_sampler_vt hns_vt = {
    .init = hns_init,
    .reg_rows = ans_reg_rows,
    .rows_per_positive = ans_rows_per_positive,
    .blocks = ans_blocks,
    .negatives = ans_negatives,
    .backward = ans_backward,
    .epoch_stats = ans_epoch_stats,
    .free = ans_free,
    .flags = NB_SAMPLER_SYNCS_ROWS, /* candidate rows are synced when gathered */
};

static const nb_plugin_desc ans_desc = NB_PLUGIN_DESC_INIT(
    NB_KIND_SAMPLER, "ans", "1.0.0",
    "augmented negative sampling (gated hard/easy factors, regulated augmentation) and "
    "its ablations", ans_params, &ans_vt);

static const nb_plugin_desc hns_desc = NB_PLUGIN_DESC_INIT(
    NB_KIND_SAMPLER, "hns", "1.0.0",
    "uniform negative trained through its gated hard factor (ANS paper §5.3)", hns_params,
    &hns_vt);

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &ans_desc : index == 1 ? &hns_desc : NULL;
}
