/*
 * ans.c - ANS, augmented negative sampling (Zhao et al., RecSys 2023), its
 * four ablations, and HNS; two descriptors in one object: "ans", "hns".
 * The math lives in ans_impl.h (float instantiation here; see its top
 * comment for the formulas and samplers.md §4-§5 for the sources).
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
 * Variants (parameter "variant"; reconstructions of samplers.md §5):
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
 * HNS (samplers.md §5): one uniform negative n, gate g from the same gate
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
    nb_block blk[P_COUNT];
    int n_blk;
    char *work;                  /* the ans_batch_f32 work area */
    ans_batch_f32 w;
    int32_t *cand;               /* [max_batch][M] candidate ids */
    int32_t *slot;               /* [n_items] -1 (ans_dedupe's item -> distinct map) */
    int nth;                     /* OpenMP threads */
    nb_pass_stats st;
    double sum_overlap, sum_gain;
    int64_t n_pos;
    nb_stat out[5];
    const int32_t *fix_cand;     /* tests only: fixed candidates [B][M] */
    const float *fix_r;          /* tests only: fixed noise [B][M][d] */
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
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};
enum { V_M, V_GAMMA, V_EPS, V_GATE_INIT, V_VARIANT, V_DIR_MODE, V_MAG_MODE, V_AUGMENT };
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
    s->h->free(s);
}

/* Fill the parameters from the run seed: torch default U(+-1/sqrt(d)), or
 * xavier-uniform weights (biases keep the torch bound). */
static void ans_init_params(ans_state *s, int xavier, uint64_t seed)
{
    const int32_t d = s->cfg.d;
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
}

/* Shared init of both descriptors once cfg is resolved. */
static int ans_init_common(const nb_host *h, const char *name, const ans_cfg *cfg, int xavier,
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
    s->w.threads = s->nth;
    s->w.cand = s->cand;
    s->w.slot = s->slot;
    int64_t off = 0;
    for (int p = 0; p < P_COUNT; p++) {
        s->pval[p] = s->pv + off;
        s->pgrad[p] = s->pg + off;
        off += size[p];
    }
    s->w.Wu = s->pval[P_W_U];
    s->w.bu = s->pval[P_B_U];
    s->w.Wi = s->pval[P_W_I];
    s->w.bi = s->pval[P_B_I];
    s->w.w = s->pval[P_W];
    s->w.bw = s->pval[P_B_W];
    ans_init_params(s, xavier, seed);
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
    return ans_init_common(h, "ans", &c, values[V_GATE_INIT].i == 1, train, max_batch, seed,
                           state, err);
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
    return ans_init_common(h, "hns", &c, values[H_GATE_INIT].i == 1, train, max_batch, seed,
                           state, err);
}

static int32_t ans_reg_rows(void *state) { return ((ans_state *)state)->cfg.M; }

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
 * (or copy the fixed test inputs). Returns the failing user or -1. */
static int32_t ans_draw(ans_state *s, const nb_batch *batch, int32_t b, nb_draw_stats *ds)
{
    const int32_t d = s->cfg.d, M = s->cfg.M;
    const int32_t user = batch->users[b];
    const int need_noise = s->cfg.augment && !s->cfg.hns;
    int32_t *cand = s->cand + (int64_t)b * M;
    float *r = s->w.r + (int64_t)b * M * d;
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
        memcpy(r, s->fix_r + (int64_t)b * M * d, (size_t)M * d * sizeof(float));
    else
        ans_noise_fill(&rn, r, (int64_t)M * d);
    if (s->w.rad) {
        float *rad = s->w.rad + (int64_t)b * M * d;
        for (int64_t k = 0; k < (int64_t)M * d; k++) rad[k] = (nb_rng_u64(&rn) >> 63) ? 1.0f : -1.0f;
    }
    return -1;
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
    uint64_t drawn = 0, rejected = 0;
    int32_t failed_user = -1;
    s->w.B = B;
    #pragma omp parallel for schedule(static) reduction(+ : drawn, rejected) \
        reduction(max : failed_user) num_threads(s->nth)
    for (int32_t b = 0; b < B; b++) {
        nb_draw_stats ds = { 0, 0 };
        int32_t fu = ans_draw(s, batch, b, &ds);
        drawn += ds.drawn;
        rejected += ds.rejected;
        if (fu >= 0) {
            if (fu > failed_user) failed_user = fu;
            continue;
        }
        memcpy(s->w.Ub + (int64_t)b * d, view->user + (int64_t)batch->users[b] * d,
               (size_t)d * sizeof(float));
        memcpy(s->w.Pb + (int64_t)b * d, view->item + (int64_t)batch->pos[b] * d,
               (size_t)d * sizeof(float));
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
    ans_dedupe_f32(&s->cfg, &s->w);
    #pragma omp parallel for schedule(static) num_threads(s->nth)
    for (int32_t j = 0; j < s->w.nU; j++) {
        const int32_t i = s->w.uitem[j];
        nb_view_sync(view, NB_ITEMS, i); /* the host syncs users and positives */
        memcpy(s->w.Nu + (int64_t)j * d, view->item + (int64_t)i * d, (size_t)d * sizeof(float));
    }
    if (ans_forward_f32(&s->cfg, &s->w, s->h->sgemm, 1) != NB_OK) {
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
    for (int32_t b = 0; b < B; b++) {
        const int32_t *cand = s->cand + (int64_t)b * M;
        out->item[b] = cand[s->w.chosen[b]];
        s->sum_overlap += cand[s->w.chosen[b]] == cand[s->w.dns[b]];
        s->sum_gain += s->w.gain[b];
    }
    s->n_pos += B;
    if (M > 1) nb_pass_stats_batch(&s->st, s->w.smax, s->w.smin, B);
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
    if (B != s->w.B) {
        *err = s->h->mprintf("%s: backward for a batch of %d after negatives for %d", s->name,
                             B, s->w.B);
        return NB_EINVAL;
    }
    if (ans_backward_f32(&s->cfg, &s->w, d_neg, s->h->sgemm, &pg) != NB_OK) {
        *err = s->h->mprintf("%s: non-finite gradient (epoch %d, positions %lld..%lld)",
                             s->name, batch->epoch, (long long)batch->first,
                             (long long)(batch->first + B - 1));
        return NB_ENUMERIC;
    }
    /* serial scatter, positives in b order, then the distinct candidate
     * items in first-appearance order: deterministic with duplicate rows */
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
    s->sum_overlap = s->sum_gain = 0.0;
    s->n_pos = 0;
    *stats = s->out;
    *n_stats = s->cfg.hns ? 1 : 5;
    return NB_OK;
}

#ifdef NB_ANS_TESTING
/* Tests only: use these candidates [B][M] and noise [B][M][d] instead of
 * drawing (NULL restores drawing); the pointers must outlive the calls. */
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
