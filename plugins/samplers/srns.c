/*
 * srns.c - SRNS, variance-based negative sampling with a score memory
 * (Ding et al., NeurIPS 2020; official TF code SRNS_real/,
 * docs/methods/srns.md), with the selection rule put on the view's inner product u . i (MF-BPR
 * as in the ANS comparison, not SRNS's GMF).
 *
 * State (all allocated at init, H = param "history", default 5):
 *   pools    H + 1 slots of [U][V] item ids: the current pool C_u and H future
 *            pools, each V uniform non-positive items per user, drawn with
 *            replacement (nb_draw_uniform on the stream (seed ^ POOL, pool
 *            number, u)).
 *   snapshots score snapshots [U][V] float32 of the pools; a pool is scored at
 *            every epoch_begin while it is a future pool, so it has
 *            min(epoch, H) snapshots when it becomes current. At most
 *            H(H+1)/2 snapshots are live (H for the current pool, H-1 .. 0
 *            for the future ones), recycled through a free list.
 *   pos_hist the positives' scores, a rolling window of H per training pair
 *            [n_pairs][H], indexed by the CSR position of (u, p) in
 *            train.user_items (binary search).
 *   memory   S1 distinct indices into [0, V) per user [U][S1].
 * Memory: 4 * U * V * (H + 1 + H(H+1)/2) bytes + 4 * n_pairs * H, about
 * 7.5 GB for Gowalla (U = 29,858) at the official V = 3000 and H = 5, and
 * 1.25 GB at V = 500: shrink V on large data sets (100-500 is reasonable).
 * The official code keeps 5 pools x 5 snapshots in float64.
 *
 * epoch_begin(e, view): at the first call, draw all H + 1 pools and score
 * the current pool and the positives once (before training: std = 0 in the
 * first epoch). Later calls score the H future pools and the positives with
 * the model as it ended epoch e-1, then shift: current <- future[0] with its
 * T = min(e, H) snapshots, future[k] <- future[k+1], and a fresh future[H-1].
 * The cost is O((H·U·V + n_pairs)·d), parallel over users (OpenMP).
 * The memory keeps its index positions across the shift, so (as in the
 * official code) the items in memory are re-randomised every epoch: the
 * indices now point into a new pool.
 *
 * negatives(), for each positive (u, p), with T = snapshots of the current
 * pool and l_{j,t} = sigmoid(s_{j,t} - s_{p,t}) over those snapshots:
 *   j* = argmax_j sigmoid(s_j - s_p) + alpha * min(1, epoch/warmup) * std_j
 *   (std: population std over t; alpha < 0: argmax std_j; ties: first j);
 *   n~ = I*[C_u[mem_u[j*]]]. Selection of the whole batch reads the memory
 *   as it was at the start of the batch. Then, before the gradient step,
 *   each user of the batch is refreshed once, on the stream of its first
 *   positive in batch order (the official code's numpy assignment keeps the
 *   last duplicate row instead; statistically the same): S2 = S1 * S2_div_S1
 *   new indices (drawn against the old set only), all S1 + S2 scored, S1 kept
 *   without replacement with p = softmax(s / tau) (see srns_impl.h). Random
 *   numbers come from the positive's stream nb_rng_seed(seed, epoch,
 *   first + b); selection and the refreshes of distinct users are
 *   independent per positive and run in parallel (host->threads) without
 *   changing any result.
 *
 * Statistics per epoch: "reject_rate" (pool draws in epoch_begin that hit a
 * training positive), "cand_max_norm"/"cand_min_norm" (per positive the
 * max/min current score of its S1 memory candidates, min-max normalised by
 * the min and max over all memory candidates of the batch, averaged over the
 * epoch's positives; batches whose scores are all equal are left out; see
 * sampler_common.h) and "mean_std" (the chosen candidate's std_j*, averaged).
 * reg_rows = 1 (the chosen item); backward scatter-adds d_neg in b order.
 */
#include "negbench/plugin.h"
#include "sampler_common.h"
#include "srns_impl.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define SRNS_KEY_POOL 0x53524e53504f4f4cull /* stream key of pool draws */
#define SRNS_KEY_MEM 0x53524e534d454d30ull  /* stream key of the first memory */

typedef struct srns_state {
    const nb_host *h;
    nb_train train;
    int32_t U, I, d, max_batch;
    int32_t S1, S2, V, H, warmup;
    double alpha, tau;
    uint64_t seed;
    int64_t UV;             /* U * V */
    int32_t *pool;          /* [H+1][U][V] pool slots */
    int32_t head;           /* slot of the current pool */
    int64_t n_pools;        /* pools drawn so far (stream number) */
    float *snap;            /* [H(H+1)/2][U][V] snapshot buffers */
    int32_t *free_ids;      /* [H(H+1)/2] free snapshot buffers */
    int32_t n_free;
    int32_t *slot_snap;     /* [H+1][H] snapshot ids per slot, oldest first */
    int32_t *slot_n;        /* [H+1] snapshots per slot */
    float *pos_hist;        /* [n_pairs][H] rolling positive scores */
    int64_t pos_count;      /* positive snapshots taken */
    int32_t *mem;           /* [U][S1] memory indices into [0, V) */
    int64_t n_begun;        /* epoch_begin calls */
    int64_t *refreshed;     /* [U] batch tag of the user's last refresh */
    int64_t batch_tag;
    /* per-batch scratch, [max_batch] or [max_batch][...] */
    int32_t *chosen;
    float *s_cand;          /* [max_batch][S1] current memory scores */
    float *h_cand;          /* [max_batch][H][S1] gathered history */
    float *mx, *mn;         /* [max_batch] per-positive max/min memory score */
    double *std_ch;         /* [max_batch] std of the chosen candidate */
    uint8_t *do_ref;        /* [max_batch] 1: refresh this positive's user */
    int32_t nthr;           /* threads (host->threads, at least 1) */
    int32_t *r_idx;         /* [nthr][S1+S2] refresh scratch per thread */
    float *r_s;             /* [nthr][S1+S2] */
    double *r_w;            /* [nthr][S1+S2] */
    /* statistics */
    nb_pass_stats st;
    double sum_std;
    int64_t n_std;
    nb_stat out[4];
} srns_state;

enum { P_S1, P_S2DIV, P_V, P_ALPHA, P_WARMUP, P_TAU, P_HISTORY };

static const nb_param_spec srns_params[] = {
    { "S1", NB_PARAM_INT, "8", 1, 1024, NULL,
      "memory size per user (the ANS comparison maps S1 = M)" },
    { "S2_div_S1", NB_PARAM_INT, "8", 0, 64, NULL,
      "new random indices per refresh, as a multiple of S1" },
    { "V", NB_PARAM_INT, "3000", 2, 100000, NULL,
      "candidate pool size per user; memory ~ 4*U*V*(H+1+H(H+1)/2) bytes, use 100-500 on large data" },
    { "alpha", NB_PARAM_FLOAT, "5.0", -1000, 1000, NULL,
      "weight of the score-history std (negative: pick by std only)" },
    { "warmup", NB_PARAM_INT, "50", 0, 1000000, NULL,
      "epochs over which the std weight ramps up: min(1, epoch/warmup)" },
    { "tau", NB_PARAM_FLOAT, "10.0", 1e-6, 1e6, NULL,
      "softmax temperature of the memory refresh" },
    { "history", NB_PARAM_INT, "5", 1, SRNS_MAX_H, NULL,
      "score-history window T (and number of future pools)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

static void srns_free(void *state)
{
    srns_state *s = state;
    if (!s) return;
    const nb_host *h = s->h;
    h->free(s->pool); h->free(s->snap); h->free(s->free_ids); h->free(s->slot_snap);
    h->free(s->slot_n); h->free(s->pos_hist); h->free(s->mem); h->free(s->refreshed);
    h->free(s->chosen); h->free(s->s_cand); h->free(s->h_cand); h->free(s->mx);
    h->free(s->mn); h->free(s->std_ch); h->free(s->r_idx); h->free(s->r_s); h->free(s->r_w);
    h->free(s->do_ref);
    h->free(s);
}

/* The parameters from values into s, checked: NB_OK, or NB_EINVAL with
 * *err. */
static int srns_set_params(srns_state *s, const nb_value *values, const nb_train *train,
                           int32_t dim, int32_t max_batch, char **err)
{
    const nb_host *h = s->h;
    s->S1 = (int32_t)values[P_S1].i;
    s->S2 = (int32_t)(values[P_S1].i * values[P_S2DIV].i);
    s->V = (int32_t)values[P_V].i;
    s->alpha = values[P_ALPHA].f;
    s->warmup = (int32_t)values[P_WARMUP].i;
    s->tau = values[P_TAU].f;
    s->H = (int32_t)values[P_HISTORY].i;
    s->UV = (int64_t)s->U * s->V;
    if (s->V <= s->S1) {
        *err = h->mprintf("srns: V (%d) must exceed S1 (%d)", s->V, s->S1);
        return NB_EINVAL;
    }
    if (s->H < 1 || s->H > SRNS_MAX_H || max_batch < 1 || dim < 1) {
        *err = h->mprintf("srns: invalid history %d, max_batch %d or dim %d", s->H,
                          max_batch, dim);
        return NB_EINVAL;
    }
    for (int32_t u = 0; u < s->U; u++)
        if (train->user_ptr[u + 1] - train->user_ptr[u] >= s->I) {
            *err = h->mprintf("srns: user %d has every item as a training positive", u);
            return NB_EINVAL;
        }
    return NB_OK;
}

/* The pools, score snapshots and history, the memory and the per-batch
 * scratch (logged in MiB). NB_OK, or NB_ENOMEM with *err. */
static int srns_alloc(srns_state *s, const nb_train *train, int32_t max_batch, char **err)
{
    const nb_host *h = s->h;
    const int32_t H = s->H, nsnap = H * (H + 1) / 2, n = s->S1 + s->S2;
    const size_t UV = (size_t)s->UV;
    double mib = (4.0 * (double)UV * (H + 1 + nsnap) + 4.0 * (double)train->n_pairs * H) /
                 1048576.0;
    h->log(NB_LOG_INFO, "srns: %.1f MiB of pools and score history (U=%d V=%d history=%d)",
           mib, s->U, s->V, H);
    s->pool = h->alloc(UV * (H + 1) * sizeof(int32_t));
    s->snap = h->alloc(UV * nsnap * sizeof(float));
    s->free_ids = h->alloc((size_t)nsnap * sizeof(int32_t));
    s->slot_snap = h->alloc((size_t)(H + 1) * H * sizeof(int32_t));
    s->slot_n = h->alloc((size_t)(H + 1) * sizeof(int32_t));
    s->pos_hist = h->alloc((size_t)(train->n_pairs ? train->n_pairs : 1) * H * sizeof(float));
    s->mem = h->alloc((size_t)(s->U ? s->U : 1) * s->S1 * sizeof(int32_t));
    s->refreshed = h->alloc((size_t)(s->U ? s->U : 1) * sizeof(int64_t));
    s->chosen = h->alloc((size_t)max_batch * sizeof(int32_t));
    s->s_cand = h->alloc((size_t)max_batch * s->S1 * sizeof(float));
    s->h_cand = h->alloc((size_t)max_batch * H * s->S1 * sizeof(float));
    s->mx = h->alloc((size_t)max_batch * sizeof(float));
    s->mn = h->alloc((size_t)max_batch * sizeof(float));
    s->std_ch = h->alloc((size_t)max_batch * sizeof(double));
    s->nthr = h->threads > 0 ? h->threads : 1;
    s->do_ref = h->alloc((size_t)max_batch);
    s->r_idx = h->alloc((size_t)s->nthr * n * sizeof(int32_t));
    s->r_s = h->alloc((size_t)s->nthr * n * sizeof(float));
    s->r_w = h->alloc((size_t)s->nthr * n * sizeof(double));
    if (!s->pool || !s->snap || !s->free_ids || !s->slot_snap || !s->slot_n || !s->pos_hist ||
        !s->mem || !s->refreshed || !s->chosen || !s->s_cand || !s->h_cand || !s->mx ||
        !s->mn || !s->std_ch || !s->r_idx || !s->r_s || !s->r_w || !s->do_ref) {
        *err = h->mprintf("srns: out of memory for %.1f MiB of state (lower V)", mib);
        return NB_ENOMEM;
    }
    return NB_OK;
}

/* First memory: S1 distinct indices per user (partial rejection). */
static void srns_first_memory(srns_state *s, uint64_t seed)
{
    for (int32_t u = 0; u < s->U; u++) {
        nb_rng r;
        nb_rng_seed(&r, seed ^ SRNS_KEY_MEM, 0, (uint64_t)u);
        int32_t *m = s->mem + (int64_t)u * s->S1;
        for (int32_t j = 0; j < s->S1; j++) {
            int32_t x, clash;
            do {
                x = (int32_t)nb_rng_below(&r, (uint32_t)s->V);
                clash = 0;
                for (int32_t q = 0; q < j; q++)
                    if (m[q] == x) { clash = 1; break; }
            } while (clash);
            m[j] = x;
        }
    }
}

/* Allocate state, check the parameters, draw the first memory. */
static int srns_init(const nb_host *h, const nb_value *values, const nb_train *train,
                     int32_t dim, int32_t max_batch, uint64_t seed, void **state, char **err)
{
    srns_state *s = h->alloc(sizeof *s);
    if (!s) {
        *err = h->mprintf("srns: out of memory");
        return NB_ENOMEM;
    }
    s->h = h;
    s->train = *train;
    s->U = train->n_users;
    s->I = train->n_items;
    s->d = dim;
    s->max_batch = max_batch;
    s->seed = seed;
    int rc = srns_set_params(s, values, train, dim, max_batch, err);
    if (rc == NB_OK) rc = srns_alloc(s, train, max_batch, err);
    if (rc != NB_OK) {
        srns_free(s);
        return rc;
    }
    srns_first_memory(s, seed);
    *state = s;
    return NB_OK;
}

static int32_t srns_reg_rows(void *state)
{
    (void)state;
    return 1;
}

/* Slot of future pool k (0-based) and the current one. */
static inline int32_t srns_slot(const srns_state *s, int32_t k)
{
    return (s->head + 1 + k) % (s->H + 1);
}

/* Draw pool slot `slot` for every user from pool stream number n_pools.
 * Draw counts go to the epoch's statistics. */
static void srns_draw_pool(srns_state *s, int32_t slot)
{
    int32_t *pool = s->pool + (int64_t)slot * s->UV;
    uint64_t num = (uint64_t)s->n_pools++;
    uint64_t drawn = 0, rejected = 0;
#pragma omp parallel for num_threads(s->nthr) schedule(static) reduction(+ : drawn, rejected)
    for (int32_t u = 0; u < s->U; u++) {
        nb_rng r;
        nb_draw_stats st = { 0, 0 };
        nb_rng_seed(&r, s->seed ^ SRNS_KEY_POOL, num, (uint64_t)u);
        int32_t *row = pool + (int64_t)u * s->V;
        for (int32_t v = 0; v < s->V; v++) row[v] = nb_draw_uniform(&r, &s->train, u, &st);
        drawn += st.drawn;
        rejected += st.rejected;
    }
    s->st.draws.drawn += drawn;
    s->st.draws.rejected += rejected;
}

/* a . b with 8 independent partial sums (vectorisable without fast-math;
 * the summation order depends on d only, not on threads). */
static inline float srns_dot(const float *a, const float *b, int32_t d)
{
    float acc[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    int32_t k = 0;
    for (; k + 8 <= d; k += 8)
        for (int32_t q = 0; q < 8; q++) acc[q] += a[k + q] * b[k + q];
    for (; k < d; k++) acc[0] += a[k] * b[k];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* Score with the view: each slot in slots[0..n_slots) into a fresh snapshot
 * buffer appended to that slot, and the positives into the rolling window. */
static void srns_score(srns_state *s, const nb_view *view, const int32_t *slots, int32_t n_slots)
{
    float *dst[SRNS_MAX_H + 1];
    const int32_t *src[SRNS_MAX_H + 1];
    for (int32_t q = 0; q < n_slots; q++) {
        int32_t sl = slots[q], id = s->free_ids[--s->n_free];
        s->slot_snap[sl * s->H + s->slot_n[sl]++] = id;
        dst[q] = s->snap + (int64_t)id * s->UV;
        src[q] = s->pool + (int64_t)sl * s->UV;
    }
    const int32_t ring = (int32_t)(s->pos_count % s->H), d = s->d, V = s->V;
#pragma omp parallel for num_threads(s->nthr) schedule(dynamic, 64)
    for (int32_t u = 0; u < s->U; u++) {
        const float *eu = view->user + (int64_t)u * d;
        for (int32_t q = 0; q < n_slots; q++) {
            const int32_t *ids = src[q] + (int64_t)u * V;
            float *out = dst[q] + (int64_t)u * V;
            for (int32_t v = 0; v < V; v++) out[v] = srns_dot(eu, view->item + (int64_t)ids[v] * d, d);
        }
        for (int64_t e = s->train.user_ptr[u]; e < s->train.user_ptr[u + 1]; e++)
            s->pos_hist[e * s->H + ring] =
                srns_dot(eu, view->item + (int64_t)s->train.user_items[e] * d, d);
    }
    s->pos_count++;
}

/* Release every snapshot of a slot. */
static void srns_release(srns_state *s, int32_t slot)
{
    for (int32_t k = 0; k < s->slot_n[slot]; k++) s->free_ids[s->n_free++] = s->slot_snap[slot * s->H + k];
    s->slot_n[slot] = 0;
}

/* Before each epoch: draw/score/shift the pools as described at the top. */
static int srns_epoch_begin(void *state, int32_t epoch, const nb_view *view)
{
    srns_state *s = state;
    (void)epoch;
    if (!view || !view->user || !view->item) {
        s->h->log(NB_LOG_WARN, "srns: epoch_begin needs the model's view");
        return NB_EINVAL;
    }
    const int32_t H = s->H;
    int32_t slots[SRNS_MAX_H + 1];
    if (s->n_begun == 0) {
        s->n_free = H * (H + 1) / 2;
        for (int32_t k = 0; k < s->n_free; k++) s->free_ids[k] = k;
        s->head = 0;
        for (int32_t sl = 0; sl <= H; sl++) {
            s->slot_n[sl] = 0;
            srns_draw_pool(s, sl);
        }
        slots[0] = s->head;
        srns_score(s, view, slots, 1);
    } else {
        srns_release(s, s->head);
        for (int32_t k = 0; k < H; k++) slots[k] = srns_slot(s, k);
        srns_score(s, view, slots, H);
        int32_t old = s->head;
        s->head = srns_slot(s, 0);
        srns_draw_pool(s, old); /* the old current slot becomes future[H-1] */
    }
    s->n_begun++;
    return NB_OK;
}

/* CSR position of (u, p) in train.user_items, or -1. */
static int64_t srns_pair_pos(const nb_train *t, int32_t u, int32_t p)
{
    int64_t lo = t->user_ptr[u], hi = t->user_ptr[u + 1];
    while (lo < hi) {
        int64_t mid = (lo + hi) >> 1;
        if (t->user_items[mid] < p) lo = mid + 1; else hi = mid;
    }
    return lo < t->user_ptr[u + 1] && t->user_items[lo] == p ? lo : -1;
}

/* The batch fits and every (user, positive) is a training pair, after the
 * first epoch_begin. NB_OK, or NB_EINVAL with *err. */
static int srns_check_batch(const srns_state *s, const nb_batch *batch, char **err)
{
    const int32_t B = batch->size;
    if (s->n_begun == 0) {
        *err = s->h->mprintf("srns: negatives() before the first epoch_begin()");
        return NB_EINVAL;
    }
    if (B > s->max_batch) {
        *err = s->h->mprintf("srns: batch of %d exceeds max_batch %d", B, s->max_batch);
        return NB_EINVAL;
    }
    for (int32_t b = 0; b < B; b++)
        if (srns_pair_pos(&s->train, batch->users[b], batch->pos[b]) < 0) {
            *err = s->h->mprintf("srns: (user %d, item %d) is not a training pair",
                                 batch->users[b], batch->pos[b]);
            return NB_EINVAL;
        }
    return NB_OK;
}

/* Selection for every positive (memory as at batch start): scores of its
 * user's memory with the view and its snapshots, srns_select's pick into
 * chosen[b], and the score range into mx/mn. */
static void srns_select_batch(srns_state *s, const nb_batch *batch, const nb_view *view)
{
    const int32_t B = batch->size, d = s->d, S1 = s->S1, V = s->V, H = s->H;
    const int32_t T = s->slot_n[s->head];
    const float *snaps[SRNS_MAX_H];
    for (int32_t t = 0; t < T; t++)
        snaps[t] = s->snap + (int64_t)s->slot_snap[s->head * H + t] * s->UV;
    const int32_t *cur = s->pool + (int64_t)s->head * s->UV;
    const double warm = srns_warm(batch->epoch, s->warmup);

#pragma omp parallel for num_threads(s->nthr) schedule(static)
    for (int32_t b = 0; b < B; b++) {
        const int32_t u = batch->users[b];
        const int64_t e = srns_pair_pos(&s->train, u, batch->pos[b]);
        const float *eu = view->user + (int64_t)u * d;
        const int32_t *m = s->mem + (int64_t)u * S1;
        const int32_t *cu = cur + (int64_t)u * V;
        float *sc = s->s_cand + (int64_t)b * S1, *hc = s->h_cand + (int64_t)b * H * S1;
        float hp[SRNS_MAX_H], lo = INFINITY, hi = -INFINITY;
        for (int32_t t = 0; t < T; t++) {
            hp[t] = s->pos_hist[e * H + (s->pos_count - T + t) % H];
            for (int32_t j = 0; j < S1; j++) hc[t * S1 + j] = snaps[t][(int64_t)u * V + m[j]];
        }
        for (int32_t j = 0; j < S1; j++) {
            sc[j] = srns_dot(eu, view->item + (int64_t)cu[m[j]] * d, d);
            if (sc[j] < lo) lo = sc[j];
            if (sc[j] > hi) hi = sc[j];
        }
        double s_p = srns_dot(eu, view->item + (int64_t)batch->pos[b] * d, d);
        int32_t j = srns_select(S1, T, s_p, sc, hc, hp, s->alpha, warm, &s->std_ch[b]);
        s->chosen[b] = cu[m[j]];
        s->mx[b] = hi;
        s->mn[b] = lo;
    }
}

/* The chosen negatives into out (one regularised row each) and the
 * batch's statistics. */
static void srns_emit(srns_state *s, int32_t B, const nb_view *view, nb_negatives *out)
{
    const int32_t d = s->d;
    for (int32_t b = 0; b < B; b++) {
        int32_t i = s->chosen[b];
        out->item[b] = i;
        out->reg_items[b] = i; /* R = 1 */
        memcpy(out->vec + (int64_t)b * d, view->item + (int64_t)i * d, (size_t)d * sizeof(float));
        s->sum_std += s->std_ch[b];
    }
    s->n_std += B;
    nb_pass_stats_batch(&s->st, s->mx, s->mn, B);
    out->reg_rows = 1;
    out->use_reg_vec = 0;
    out->aux_loss = 0.0;
}

/* Memory refresh: each user once, at its first positive of the batch
 * (marked serially in b order); the refreshes of distinct users are
 * independent and use their positive's stream, so they run in parallel
 * with per-thread scratch. Cost (S1+S2)·d per user. */
static void srns_refresh(srns_state *s, const nb_batch *batch, const nb_view *view)
{
    const int32_t B = batch->size, d = s->d, S1 = s->S1, V = s->V;
    const int32_t *cur = s->pool + (int64_t)s->head * s->UV;
    const int64_t tag = ++s->batch_tag;
    const int32_t n = S1 + s->S2;
    for (int32_t b = 0; b < B; b++) {
        const int32_t u = batch->users[b];
        s->do_ref[b] = s->refreshed[u] != tag;
        s->refreshed[u] = tag;
    }
#pragma omp parallel for num_threads(s->nthr) schedule(dynamic, 16)
    for (int32_t b = 0; b < B; b++) {
        if (!s->do_ref[b]) continue;
        int32_t th = 0;
#ifdef _OPENMP
        th = omp_get_thread_num();
#endif
        int32_t *idx = s->r_idx + (int64_t)th * n;
        float *sc = s->r_s + (int64_t)th * n;
        double *w = s->r_w + (int64_t)th * n;
        const int32_t u = batch->users[b];
        nb_rng r;
        nb_rng_seed(&r, batch->seed, (uint64_t)batch->epoch, (uint64_t)(batch->first + b));
        int32_t *m = s->mem + (int64_t)u * S1;
        const int32_t *cu = cur + (int64_t)u * V;
        const float *eu = view->user + (int64_t)u * d;
        memcpy(idx, m, (size_t)S1 * sizeof(int32_t));
        srns_draw_new(&r, S1, s->S2, V, idx);
        for (int32_t k = 0; k < n; k++)
            sc[k] = srns_dot(eu, view->item + (int64_t)cu[idx[k]] * d, d);
        srns_keep(&r, S1, n, s->tau, idx, sc, w, m);
    }
}

/* Selection for the whole batch (memory as at batch start), then the memory
 * refresh in batch order, once per user. */
static int srns_negatives(void *state, const nb_batch *batch, const nb_view *view,
                          nb_negatives *out, char **err)
{
    srns_state *s = state;
    int rc = srns_check_batch(s, batch, err);
    if (rc != NB_OK) return rc;
    srns_select_batch(s, batch, view);
    srns_emit(s, batch->size, view, out);
    srns_refresh(s, batch, view);
    return NB_OK;
}

/* Scatter dL/dn~ into the chosen items' rows, in b order. */
static int srns_backward(void *state, const nb_batch *batch, const nb_view *view,
                         const float *d_neg, const float *d_reg, nb_grads *g, char **err)
{
    (void)view; (void)d_reg; (void)err;
    srns_state *s = state;
    nb_scatter_rows(g->item, s->chosen, d_neg, batch->size, s->d);
    return NB_OK;
}

static int srns_epoch_stats(void *state, const nb_stat **stats, int *n_stats)
{
    srns_state *s = state;
    nb_pass_stats_emit(&s->st, 3, stats, n_stats);
    s->out[0] = s->st.out[0];
    s->out[1] = s->st.out[1];
    s->out[2] = s->st.out[2];
    s->out[3].name = "mean_std";
    s->out[3].value = s->n_std ? s->sum_std / (double)s->n_std : NAN;
    s->sum_std = 0.0;
    s->n_std = 0;
    *stats = s->out;
    *n_stats = 4;
    return NB_OK;
}

static const nb_sampler_vt srns_vt = {
    .init = srns_init,
    .reg_rows = srns_reg_rows,
    .blocks = NULL,
    .epoch_begin = srns_epoch_begin,
    .negatives = srns_negatives,
    .backward = srns_backward,
    .epoch_stats = srns_epoch_stats,
    .free = srns_free,
    .flags = NB_SAMPLER_FINAL_ONLY,
};

static const nb_plugin_desc srns_desc = NB_PLUGIN_DESC_INIT(
    NB_KIND_SAMPLER, "srns", "1.0.0",
    "SRNS: memory of S1 candidates, pick by score + alpha * std of the score history",
    srns_params, &srns_vt);

/* The plugin's one exported symbol. */
const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &srns_desc : NULL;
}
