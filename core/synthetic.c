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

int synthetic_generate(const nb_data_spec *spec, nb_dataset *d, char **err)
{
    int32_t U = spec->syn_users, I = spec->syn_items, R = spec->syn_rank;
    float *P = NULL, *Q = NULL;
    double *logpop = NULL;
    int32_t *perm = NULL, *stamp = NULL, *tu = NULL, *ti = NULL, *su = NULL, *si = NULL;
    kv *heap = NULL;
    char *canon = NULL;
    int rc = NB_OK;

    if (U < 1 || I < 1 || R < 1 || !(spec->syn_per_user > 0) || !(spec->syn_pop_skew >= 0) ||
        !(spec->syn_test_share >= 0 && spec->syn_test_share < 1)) {
        rc = nb_fail(err, NB_EINVAL, "data: synthetic needs users, items, rank >= 1, "
                     "per_user > 0, pop_skew >= 0 and test_share in [0, 1)");
        goto out;
    }
    nb_rng g;
    nb_rng_seed(&g, spec->seed, STREAM_SYN, 0);
    P = nb_xmalloc((size_t)U * (size_t)R * sizeof *P);
    Q = nb_xmalloc((size_t)I * (size_t)R * sizeof *Q);
    float scale = (float)(1.0 / sqrt((double)R) / SYN_TEMPERATURE);
    for (int64_t k = 0; k < (int64_t)U * R; k++) P[k] = (float)rng_normal(&g) * scale;
    for (int64_t k = 0; k < (int64_t)I * R; k++) Q[k] = (float)rng_normal(&g);
    /* popularity: a random permutation gives each item its rank */
    perm = nb_xmalloc((size_t)I * sizeof *perm);
    logpop = nb_xmalloc((size_t)I * sizeof *logpop);
    for (int32_t j = 0; j < I; j++) perm[j] = j;
    for (int32_t j = I - 1; j > 0; j--) {
        int32_t k = (int32_t)nb_rng_below(&g, (uint32_t)j + 1), t = perm[j];
        perm[j] = perm[k];
        perm[k] = t;
    }
    for (int32_t j = 0; j < I; j++) logpop[perm[j]] = -spec->syn_pop_skew * log((double)j + 1);

    int32_t kmax = I, lo = I < 3 ? I : 3;
    heap = nb_xmalloc((size_t)kmax * sizeof *heap);
    stamp = nb_xcalloc((size_t)I, sizeof *stamp);
    int64_t cap = (int64_t)(spec->syn_per_user * 1.5 * U) + 16, ntr = 0, nte = 0;
    tu = nb_xmalloc((size_t)cap * sizeof *tu);
    ti = nb_xmalloc((size_t)cap * sizeof *ti);
    su = nb_xmalloc((size_t)cap * sizeof *su);
    si = nb_xmalloc((size_t)cap * sizeof *si);
    for (int32_t u = 0; u < U; u++) {
        double z = rng_normal(&g);
        int64_t nu = llround(spec->syn_per_user * exp(0.5 * z - 0.125));
        int32_t k = (int32_t)(nu < lo ? lo : nu > I ? I : nu), nh = 0;
        int32_t ncand = I > SYN_FULL_ITEMS ? (16 * k > SYN_FULL_ITEMS ? 16 * k : SYN_FULL_ITEMS) : I;
        if (ncand > I) ncand = I;
        const float *p = P + (int64_t)u * R;
        for (int32_t c = 0; c < ncand; c++) {
            int32_t j = ncand == I ? c : (int32_t)nb_rng_below(&g, (uint32_t)I);
            if (stamp[j] == u + 1) continue; /* repeated candidate */
            stamp[j] = u + 1;
            const float *q = Q + (int64_t)j * R;
            float s = 0;
            for (int32_t a = 0; a < R; a++) s += p[a] * q[a];
            /* Gumbel noise from a 23-bit uniform strictly inside (0, 1), float for speed */
            float un = ((float)(nb_rng_u64(&g) >> 41) + 0.5f) * 0x1p-23f;
            double gum = -logf(-logf(un));
            heap_offer(heap, &nh, k, (double)s + logpop[j] + gum, j);
        }
        /* random order, then the first n_test go to test */
        for (int32_t a = nh - 1; a > 0; a--) {
            int32_t b = (int32_t)nb_rng_below(&g, (uint32_t)a + 1);
            kv t = heap[a];
            heap[a] = heap[b];
            heap[b] = t;
        }
        int32_t ntest = (int32_t)llround(spec->syn_test_share * nh);
        if (nh >= 3 && ntest < 1 && spec->syn_test_share > 0) ntest = 1;
        if (ntr + nh > cap || nte + nh > cap) {
            cap = 2 * cap + nh;
            tu = nb_xrealloc(tu, (size_t)cap * sizeof *tu);
            ti = nb_xrealloc(ti, (size_t)cap * sizeof *ti);
            su = nb_xrealloc(su, (size_t)cap * sizeof *su);
            si = nb_xrealloc(si, (size_t)cap * sizeof *si);
        }
        for (int32_t a = 0; a < nh; a++) {
            if (a < ntest) {
                su[nte] = u;
                si[nte++] = heap[a].item;
            } else {
                tu[ntr] = u;
                ti[ntr++] = heap[a].item;
            }
        }
    }
    d->n_users = U;
    d->n_items = I;
    pairs_to_csr(ntr, tu, ti, U, I, &d->train, &d->n_duplicates);
    pairs_to_csr(nte, su, si, U, I, &d->test, &d->n_duplicates);
    if (spec->valid_share > 0)
        split_carve_valid(&d->train, &d->valid, I, spec->valid_share, spec->seed);
    else
        pairs_to_csr(0, tu, ti, U, I, &d->valid, NULL);
    canon = synthetic_canonical(spec);
    sha256_hex(canon, strlen(canon), d->checksum);
    d->source = nb_strf("synthetic: %d users, %d items, rank %d, ~%g per user, pop_skew %g, "
                        "test_share %g, valid_share %g, seed %llu",
                        U, I, R, spec->syn_per_user, spec->syn_pop_skew, spec->syn_test_share,
                        spec->valid_share, (unsigned long long)spec->seed);
out:
    free(P);
    free(Q);
    free(logpop);
    free(perm);
    free(stamp);
    free(heap);
    free(tu);
    free(ti);
    free(su);
    free(si);
    free(canon);
    return rc;
}
