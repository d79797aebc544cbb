/*
 * synthetic.c - the embedded data generator: planted low-rank preferences
 * with a popularity skew, the default data set of the quickstart and tests.
 *
 * Model (all draws from one nb_rng stream of spec->seed):
 *   p_u, q_j ~ N(0, I_rank); score s_uj = p_u . q_j / sqrt(rank) ~ N(0, 1);
 *   items get a random popularity rank r_j in 0..I-1 and a log weight
 *   -pop_skew * log(r_j + 1) (Zipf-like);
 *   user u gets n_u = round(per_user * exp(0.5 z - 0.125)), z ~ N(0,1)
 *   (log-normal with mean per_user), clamped to [3, I] (to I when I < 3);
 *   its items are drawn without replacement with probability proportional
 *   to exp(s_uj / T) * (r_j + 1)^-pop_skew, T = 0.5, by Gumbel top-k
 *   (Gumbel-max trick: the n_u largest log-weight + Gumbel noise keys are a
 *   weighted sample without replacement). With more than 4096 items the
 *   candidates are a uniform random subset of max(4096, 16 n_u) items.
 * Split: round(test_share * n_u) of each user's items (at least 1 when
 * n_u >= 3), chosen at random, go to test; then round(valid_share * nnz)
 * train pairs are carved into valid as for file data.
 */
#include "dataset_impl.h"
#include "negbench/plugin.h"
#include "sha256.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SYN_TEMPERATURE 0.5
#define SYN_FULL_ITEMS 4096
enum { STREAM_SYN = 0x53594e };

/* Standard normal (Box-Muller, one value per call). */
static double rng_normal(nb_rng *r)
{
    double a = nb_rng_uniform(r), b = nb_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - a)) * cos(6.283185307179586 * b);
}

/* Min-heap of (key, item) holding the k largest keys seen. */
typedef struct kv { double key; int32_t item; } kv;

static void heap_sift_down(kv *h, int32_t n, int32_t at)
{
    for (;;) {
        int32_t l = 2 * at + 1, m = at;
        if (l < n && h[l].key < h[m].key) m = l;
        if (l + 1 < n && h[l + 1].key < h[m].key) m = l + 1;
        if (m == at) return;
        kv t = h[at];
        h[at] = h[m];
        h[m] = t;
        at = m;
    }
}

static void heap_offer(kv *h, int32_t *n, int32_t k, double key, int32_t item)
{
    if (*n < k) {
        int32_t at = (*n)++;
        h[at] = (kv){key, item};
        while (at > 0 && h[(at - 1) / 2].key > h[at].key) {
            kv t = h[at];
            h[at] = h[(at - 1) / 2];
            h[(at - 1) / 2] = t;
            at = (at - 1) / 2;
        }
    } else if (key > h[0].key) {
        h[0] = (kv){key, item};
        heap_sift_down(h, *n, 0);
    }
}

/* Canonical parameter string hashed into the checksum (malloc'd). */
char *synthetic_canonical(const nb_data_spec *s)
{
    return nb_strf("negbench-synthetic-v1 users=%d items=%d rank=%d per_user=%.17g "
                   "pop_skew=%.17g test_share=%.17g valid_share=%.17g seed=%llu",
                   s->syn_users, s->syn_items, s->syn_rank, s->syn_per_user, s->syn_pop_skew,
                   s->syn_test_share, s->valid_share, (unsigned long long)s->seed);
}

/* The generator's state: one random stream, the planted factors and
 * popularity, and the growing lists of train and test pairs. */
typedef struct syn_state {
    nb_rng g;
    int32_t U, I, R;
    float *P, *Q;                /* [U][R] user factors (scaled), [I][R] item factors */
    double *logpop;              /* [I] the popularity log weights */
    int32_t *stamp;              /* [I] last user that drew the item as a candidate, + 1 */
    kv *heap;                    /* [I] a user's best keys */
    int32_t *tu, *ti, *su, *si;  /* train and test pairs */
    int64_t cap, ntr, nte;
} syn_state;

/* The factors P, Q (standard normal; P scaled by 1/(sqrt(R) T)) and the
 * items' popularity from a random permutation of their ranks. */
static void syn_factors(syn_state *st, double pop_skew)
{
    const int32_t U = st->U, I = st->I, R = st->R;
    st->P = nb_xmalloc((size_t)U * (size_t)R * sizeof *st->P);
    st->Q = nb_xmalloc((size_t)I * (size_t)R * sizeof *st->Q);
    float scale = (float)(1.0 / sqrt((double)R) / SYN_TEMPERATURE);
    for (int64_t k = 0; k < (int64_t)U * R; k++) st->P[k] = (float)rng_normal(&st->g) * scale;
    for (int64_t k = 0; k < (int64_t)I * R; k++) st->Q[k] = (float)rng_normal(&st->g);
    int32_t *perm = nb_xmalloc((size_t)I * sizeof *perm);
    st->logpop = nb_xmalloc((size_t)I * sizeof *st->logpop);
    for (int32_t j = 0; j < I; j++) perm[j] = j;
    for (int32_t j = I - 1; j > 0; j--) {
        int32_t k = (int32_t)nb_rng_below(&st->g, (uint32_t)j + 1), t = perm[j];
        perm[j] = perm[k];
        perm[k] = t;
    }
    for (int32_t j = 0; j < I; j++) st->logpop[perm[j]] = -pop_skew * log((double)j + 1);
    free(perm);
}

/* User u's k items by Gumbel top-k over its candidates, into st->heap in a
 * random order; returns how many (fewer than k only with few candidates). */
static int32_t syn_user_items(syn_state *st, int32_t u, int32_t k)
{
    const int32_t I = st->I, R = st->R;
    int32_t nh = 0;
    int32_t ncand = I > SYN_FULL_ITEMS ? (16 * k > SYN_FULL_ITEMS ? 16 * k : SYN_FULL_ITEMS) : I;
    if (ncand > I) ncand = I;
    const float *p = st->P + (int64_t)u * R;
    for (int32_t c = 0; c < ncand; c++) {
        int32_t j = ncand == I ? c : (int32_t)nb_rng_below(&st->g, (uint32_t)I);
        if (st->stamp[j] == u + 1) continue; /* repeated candidate */
        st->stamp[j] = u + 1;
        const float *q = st->Q + (int64_t)j * R;
        float s = 0;
        for (int32_t a = 0; a < R; a++) s += p[a] * q[a];
        /* Gumbel noise from a 23-bit uniform strictly inside (0, 1), float for speed */
        float un = ((float)(nb_rng_u64(&st->g) >> 41) + 0.5f) * 0x1p-23f;
        double gum = -logf(-logf(un));
        heap_offer(st->heap, &nh, k, (double)s + st->logpop[j] + gum, j);
    }
    for (int32_t a = nh - 1; a > 0; a--) { /* random order */
        int32_t b = (int32_t)nb_rng_below(&st->g, (uint32_t)a + 1);
        kv t = st->heap[a];
        st->heap[a] = st->heap[b];
        st->heap[b] = t;
    }
    return nh;
}

/* Append user u's nh items: the first ntest to test, the rest to train. */
static void syn_append(syn_state *st, int32_t u, int32_t nh, int32_t ntest)
{
    if (st->ntr + nh > st->cap || st->nte + nh > st->cap) {
        st->cap = 2 * st->cap + nh;
        st->tu = nb_xrealloc(st->tu, (size_t)st->cap * sizeof *st->tu);
        st->ti = nb_xrealloc(st->ti, (size_t)st->cap * sizeof *st->ti);
        st->su = nb_xrealloc(st->su, (size_t)st->cap * sizeof *st->su);
        st->si = nb_xrealloc(st->si, (size_t)st->cap * sizeof *st->si);
    }
    for (int32_t a = 0; a < nh; a++) {
        if (a < ntest) {
            st->su[st->nte] = u;
            st->si[st->nte++] = st->heap[a].item;
        } else {
            st->tu[st->ntr] = u;
            st->ti[st->ntr++] = st->heap[a].item;
        }
    }
}

/* The data set from the pairs: train and test, valid carved from train,
 * the checksum of the canonical parameters and the description. */
static void syn_finish(const nb_data_spec *spec, syn_state *st, nb_dataset *d)
{
    const int32_t U = st->U, I = st->I;
    d->n_users = U;
    d->n_items = I;
    pairs_to_csr(st->ntr, st->tu, st->ti, U, I, &d->train, &d->n_duplicates);
    pairs_to_csr(st->nte, st->su, st->si, U, I, &d->test, &d->n_duplicates);
    if (spec->valid_share > 0)
        split_carve_valid(&d->train, &d->valid, I, spec->valid_share, spec->seed);
    else
        pairs_to_csr(0, st->tu, st->ti, U, I, &d->valid, NULL);
    char *canon = synthetic_canonical(spec);
    sha256_hex(canon, strlen(canon), d->checksum);
    free(canon);
    d->source = nb_strf("synthetic: %d users, %d items, rank %d, ~%g per user, pop_skew %g, "
                        "test_share %g, valid_share %g, seed %llu",
                        U, I, st->R, spec->syn_per_user, spec->syn_pop_skew,
                        spec->syn_test_share, spec->valid_share, (unsigned long long)spec->seed);
}

int synthetic_generate(const nb_data_spec *spec, nb_dataset *d, char **err)
{
    int32_t U = spec->syn_users, I = spec->syn_items, R = spec->syn_rank;
    if (U < 1 || I < 1 || R < 1 || !(spec->syn_per_user > 0) || !(spec->syn_pop_skew >= 0) ||
        !(spec->syn_test_share >= 0 && spec->syn_test_share < 1))
        return nb_fail(err, NB_EINVAL, "data: synthetic needs users, items, rank >= 1, "
                       "per_user > 0, pop_skew >= 0 and test_share in [0, 1)");
    syn_state st;
    memset(&st, 0, sizeof st);
    st.U = U, st.I = I, st.R = R;
    nb_rng_seed(&st.g, spec->seed, STREAM_SYN, 0);
    syn_factors(&st, spec->syn_pop_skew);
    int32_t lo = I < 3 ? I : 3;
    st.heap = nb_xmalloc((size_t)I * sizeof *st.heap);
    st.stamp = nb_xcalloc((size_t)I, sizeof *st.stamp);
    st.cap = (int64_t)(spec->syn_per_user * 1.5 * U) + 16;
    st.tu = nb_xmalloc((size_t)st.cap * sizeof *st.tu);
    st.ti = nb_xmalloc((size_t)st.cap * sizeof *st.ti);
    st.su = nb_xmalloc((size_t)st.cap * sizeof *st.su);
    st.si = nb_xmalloc((size_t)st.cap * sizeof *st.si);
    for (int32_t u = 0; u < U; u++) {
        double z = rng_normal(&st.g);
        int64_t nu = llround(spec->syn_per_user * exp(0.5 * z - 0.125));
        int32_t nh = syn_user_items(&st, u, (int32_t)(nu < lo ? lo : nu > I ? I : nu));
        int32_t ntest = (int32_t)llround(spec->syn_test_share * nh);
        if (nh >= 3 && ntest < 1 && spec->syn_test_share > 0) ntest = 1;
        syn_append(&st, u, nh, ntest);
    }
    syn_finish(spec, &st, d);
    free(st.P);
    free(st.Q);
    free(st.logpop);
    free(st.stamp);
    free(st.heap);
    free(st.tu);
    free(st.ti);
    free(st.su);
    free(st.si);
    return NB_OK;
}
