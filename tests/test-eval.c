/*
 * test-eval.c - eval_full_ranking against a brute-force reference (scores in
 * double, a full sort per user by score desc then item id asc, metrics from
 * the formulas written out again here) on random instances, for several
 * block sizes and 1 or 2 threads: identical n_evaluated and hit lists, and
 * metrics within 1e-12.
 *
 * Embeddings are exact in float: small integers (massive ties, so the tie
 * rule is exercised, also across the 8192-item SGEMM tile boundary) or
 * multiples of 2^-8 (few ties). Every user's dot products are then exact in
 * float and in double, so both sides rank the same scores.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "negbench/plugin.h"
#include "tap/tap.h"
#include "user_ranks.h"

typedef struct inst {
    int32_t nu, ni, d;
    float *user, *item;
    nb_csr truth, mask_a, mask_b;
} inst;

static void csr_release(nb_csr *m)
{
    free(m->ptr);
    free(m->idx);
}

/* Random ascending rows: row u gets 1..2*mean distinct items (at most ni),
 * or none with probability p_empty. Rows of different matrices overlap at
 * random, so test items are sometimes masked too (they must stay ranked). */
static nb_csr random_rows(nb_rng *r, int32_t nu, int32_t ni, int mean, double p_empty)
{
    nb_csr m;
    uint8_t *mark = calloc((size_t)ni, 1);
    m.n_rows = nu;
    m.ptr = calloc((size_t)nu + 1, sizeof *m.ptr);
    m.idx = malloc((size_t)nu * (2 * mean + 1) * sizeof *m.idx);
    int64_t q = 0;
    for (int32_t u = 0; u < nu; u++) {
        int n = nb_rng_uniform(r) < p_empty ? 0 : 1 + (int)nb_rng_below(r, (uint32_t)(2 * mean));
        if (n > ni) n = ni;
        for (int c = 0; c < n; c++) {
            int32_t i;
            do i = (int32_t)nb_rng_below(r, (uint32_t)ni); while (mark[i]);
            mark[i] = 1;
        }
        /* collect in ascending order: scan marks (ni is small enough) */
        for (int32_t i = 0; i < ni && n; i++)
            if (mark[i]) {
                m.idx[q++] = i;
                mark[i] = 0;
                n--;
            }
        m.ptr[u + 1] = q;
    }
    m.nnz = q;
    free(mark);
    return m;
}

/* kind 0: integers in [-2, 2]; kind 1: multiples of 2^-8 in [-1, 1). */
static void make_inst(inst *t, nb_rng *r, int32_t nu, int32_t ni, int32_t d, int kind,
                      int truth_mean)
{
    t->nu = nu; t->ni = ni; t->d = d;
    t->user = malloc(sizeof(float) * (size_t)nu * d);
    t->item = malloc(sizeof(float) * (size_t)ni * d);
    for (size_t q = 0; q < (size_t)nu * d; q++)
        t->user[q] = kind == 0 ? (float)((int)nb_rng_below(r, 5) - 2)
                               : (float)((int)nb_rng_below(r, 512) - 256) / 256.0f;
    for (size_t q = 0; q < (size_t)ni * d; q++)
        t->item[q] = kind == 0 ? (float)((int)nb_rng_below(r, 5) - 2)
                               : (float)((int)nb_rng_below(r, 512) - 256) / 256.0f;
    t->truth = random_rows(r, nu, ni, truth_mean, 0.1);
    t->mask_a = random_rows(r, nu, ni, 20, 0.05);
    t->mask_b = random_rows(r, nu, ni, 4, 0.3);
}

static void free_inst(inst *t)
{
    free(t->user);
    free(t->item);
    csr_release(&t->truth);
    csr_release(&t->mask_a);
    csr_release(&t->mask_b);
}

static int has(const nb_csr *m, int32_t u, int32_t i)
{
    for (int64_t q = m->ptr[u]; q < m->ptr[u + 1]; q++)
        if (m->idx[q] == i) return 1;
    return 0;
}

typedef struct ref_item { double s; int32_t id; } ref_item;

static int cmp_ref(const void *a, const void *b)
{
    const ref_item *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Brute force: metrics (means) and hit lists at report_k. */
static void reference(const inst *t, const nb_csr *mb, const int32_t *ks, int n_ks,
                      int32_t report_k, double val[NB_N_METRICS][NB_MAX_KS],
                      int64_t *n_eval, nb_csr *hits)
{
    ref_item *all = malloc(sizeof *all * (size_t)t->ni);
    memset(val, 0, sizeof(double) * NB_N_METRICS * NB_MAX_KS);
    *n_eval = 0;
    hits->n_rows = t->nu;
    hits->ptr = calloc((size_t)t->nu + 1, sizeof *hits->ptr);
    hits->idx = malloc(sizeof(int32_t) * ((size_t)t->nu * report_k + 1));
    int64_t hq = 0;
    for (int32_t u = 0; u < t->nu; u++) {
        int64_t n_truth = t->truth.ptr[u + 1] - t->truth.ptr[u];
        if (n_truth > 0) {
            int n = 0;
            for (int32_t i = 0; i < t->ni; i++) {
                int masked = has(&t->mask_a, u, i) || (mb && has(mb, u, i));
                if (masked && !has(&t->truth, u, i)) continue;
                double s = 0;
                for (int32_t k = 0; k < t->d; k++)
                    s += (double)t->user[(size_t)u * t->d + k] * t->item[(size_t)i * t->d + k];
                all[n].s = s;
                all[n++].id = i;
            }
            qsort(all, (size_t)n, sizeof *all, cmp_ref);
            (*n_eval)++;
            for (int c = 0; c < n_ks; c++) {
                int32_t k = ks[c];
                double hitsk = 0, dcg = 0, idcg = 0, rr = 0;
                for (int32_t j = 0; j < k; j++) {
                    int rel = j < n && has(&t->truth, u, all[j].id);
                    if (rel) {
                        hitsk += 1;
                        dcg += 1.0 / log2(j + 2.0);
                        if (rr == 0) rr = 1.0 / (j + 1);
                    }
                    if (j < n_truth) idcg += 1.0 / log2(j + 2.0);
                }
                val[NB_M_RECALL][c] += hitsk / (double)n_truth;
                val[NB_M_NDCG][c] += dcg / idcg;
                val[NB_M_HIT][c] += hitsk > 0;
                val[NB_M_PRECISION][c] += hitsk / k;
                val[NB_M_MRR][c] += rr;
            }
            for (int32_t j = 0; j < report_k && j < n; j++)
                if (has(&t->truth, u, all[j].id)) hits->idx[hq++] = all[j].id;
        }
        hits->ptr[u + 1] = hq;
    }
    hits->nnz = hq;
    for (int q = 0; q < NB_N_METRICS; q++)
        for (int c = 0; c < n_ks; c++)
            if (*n_eval) val[q][c] /= (double)*n_eval;
    free(all);
}

/* Two hit lists from eval are identical (items, ranks, |R(u)|). */
static int same_hits(const nb_hits *a, const nb_hits *b)
{
    if (a->n_rows != b->n_rows || a->nnz != b->nnz || a->k != b->k) return 0;
    for (int32_t r = 0; r <= a->n_rows; r++)
        if (a->ptr[r] != b->ptr[r]) return 0;
    for (int32_t r = 0; r < a->n_rows; r++)
        if (a->n_truth[r] != b->n_truth[r]) return 0;
    for (int64_t q = 0; q < a->nnz; q++)
        if (a->idx[q] != b->idx[q] || a->rank[q] != b->rank[q]) return 0;
    return 1;
}

/* Hit lists a (from eval) equal the item lists of b. */
static int same_csr(const nb_hits *a, const nb_csr *b)
{
    if (a->n_rows != b->n_rows || a->nnz != b->nnz) return 0;
    for (int32_t r = 0; r <= a->n_rows; r++)
        if (a->ptr[r] != b->ptr[r]) return 0;
    for (int64_t q = 0; q < a->nnz; q++)
        if (a->idx[q] != b->idx[q]) return 0;
    return 1;
}

/* Run eval with every (block, threads) pair and compare to the reference. */
static void check_inst(const char *name, const inst *t, int use_mask_b,
                       const int32_t *ks, int n_ks, int32_t report_k)
{
    static const int32_t blocks[] = {1, 7, 64, 0};
    static const int threads[] = {1, 2};
    const nb_csr *mb = use_mask_b ? &t->mask_b : NULL;
    double want[NB_N_METRICS][NB_MAX_KS];
    int64_t want_eval;
    nb_csr want_hits;
    int32_t sk[NB_MAX_KS];  /* eval sorts ks; the reference takes them sorted */
    memcpy(sk, ks, sizeof(int32_t) * (size_t)n_ks);
    for (int x = 1; x < n_ks; x++)
        for (int y = x; y > 0 && sk[y - 1] > sk[y]; y--) {
            int32_t tmp = sk[y]; sk[y] = sk[y - 1]; sk[y - 1] = tmp;
        }
    reference(t, mb, sk, n_ks, report_k, want, &want_eval, &want_hits);
    for (int b = 0; b < 4; b++)
        for (int th = 0; th < 2; th++) {
            nb_eval_opts o;
            memset(&o, 0, sizeof o);
            o.n_ks = n_ks;
            memcpy(o.ks, ks, sizeof(int32_t) * (size_t)n_ks);
            o.report_k = report_k;
            o.threads = threads[th];
            o.block_users = blocks[b];
            nb_metrics m;
            nb_hits h;
            char *err = NULL;
            int rc = eval_full_ranking(t->user, t->item, t->nu, t->ni, t->d, &t->truth,
                                       &t->mask_a, mb, &o, &m, &h, &err);
            if (rc != NB_OK) {
                ok(0, "%s block=%d threads=%d: %s", name, blocks[b], threads[th], err);
                free(err);
                continue;
            }
            double worst = 0;
            for (int q = 0; q < NB_N_METRICS; q++)
                for (int c = 0; c < n_ks; c++) {
                    double e = fabs(m.value[q][c] - want[q][c]);
                    if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
                }
            ok(worst <= 1e-12 && m.n_evaluated == want_eval && same_csr(&h, &want_hits),
               "%s block=%d threads=%d: metrics (max err %.2g), %lld users, hit lists",
               name, blocks[b], threads[th], worst, (long long)m.n_evaluated);
            hits_free(&h);
        }
    csr_release(&want_hits);
}

/* Random (non-exact) floats: no reference, but every block size and thread
 * count must give bit-identical metrics and hit lists. ~12% of the items are
 * test items so that the hit lists carry the rank order of the top 50. */
static void check_self_consistent(nb_rng *r)
{
    const int32_t nu = 150, ni = 5000, d = 64;
    float *user = malloc(sizeof(float) * (size_t)nu * d);
    float *item = malloc(sizeof(float) * (size_t)ni * d);
    for (size_t q = 0; q < (size_t)nu * d; q++) user[q] = (float)(nb_rng_uniform(r) - 0.5);
    for (size_t q = 0; q < (size_t)ni * d; q++) item[q] = (float)(nb_rng_uniform(r) - 0.5);
    nb_csr truth;
    truth.n_rows = nu;
    truth.ptr = calloc((size_t)nu + 1, sizeof *truth.ptr);
    truth.idx = malloc(sizeof(int32_t) * (size_t)nu * (ni / 8));
    int64_t q = 0;
    for (int32_t u = 0; u < nu; u++) {
        for (int32_t g = 0; g < ni / 8; g++) truth.idx[q++] = g * 8 + (int32_t)nb_rng_below(r, 8);
        truth.ptr[u + 1] = q;
    }
    truth.nnz = q;
    static const int32_t blocks[] = {0, 1, 13, 150};
    nb_metrics m0;
    nb_hits h0;
    memset(&h0, 0, sizeof h0);
    int first = 1;
    for (int b = 0; b < 4; b++)
        for (int th = 1; th <= 2; th++) {
            nb_eval_opts o;
            memset(&o, 0, sizeof o);
            o.n_ks = 2;
            o.ks[0] = 10;
            o.ks[1] = 50;
            o.report_k = 50;
            o.threads = th;
            o.block_users = blocks[b];
            nb_metrics m;
            nb_hits h;
            char *err = NULL;
            int rc = eval_full_ranking(user, item, nu, ni, d, &truth, NULL, NULL, &o, &m,
                                       &h, &err);
            if (rc != NB_OK) {
                ok(0, "float self-consistency block=%d threads=%d: %s", blocks[b], th, err);
                free(err);
                continue;
            }
            if (first) {
                m0 = m;
                h0 = h;
                first = 0;
                ok(h.nnz > 500, "float instance: %lld hits in the top 50", (long long)h.nnz);
                double worst = 0, *v = malloc(sizeof *v * (size_t)nu);
                for (int mq = 0; mq < NB_N_METRICS; mq++)
                    for (int t = 0; t < m.n_ks; t++) {
                        double sum = 0;
                        int64_t n = user_ranks_values(&h, mq, m.ks[t], v);
                        for (int32_t u = 0; u < nu; u++) if (!isnan(v[u])) sum += v[u];
                        worst = fmax(worst, fabs(sum / (double)n - m.value[mq][t]) /
                                                fmax(1e-300, fabs(m.value[mq][t])));
                    }
                free(v);
                ok(worst < 1e-12, "float instance: the per-user values of the ranks average to "
                   "every metric at K = 10 and 50 (worst relative %.1e)", worst);
                continue;
            }
            ok(!memcmp(m.value, m0.value, sizeof m.value) && same_hits(&h, &h0),
               "float block=%d threads=%d: bit-identical to block=0 threads=1",
               blocks[b], th);
            hits_free(&h);
        }
    hits_free(&h0);
    free(user);
    free(item);
    csr_release(&truth);
}

int main(void)
{
    tap_plan(6 * 8 + 3 + 2 + 8);
    nb_rng r;
    nb_rng_seed(&r, 7, 1, 2);
    const int32_t ks3[3] = {1, 5, 20}, ks2[2] = {10, 3};

    inst a;  /* integers, d = 6: scores in [-24, 24], thousands of ties;
              * 9000 items cross the 8192-item tile boundary */
    make_inst(&a, &r, 90, 9000, 6, 0, 6);
    check_inst("ints 90x9000 mask_a", &a, 0, ks3, 3, 20);
    check_inst("ints 90x9000 mask_a+mask_b", &a, 1, ks2, 2, 10);
    free_inst(&a);

    inst b;  /* dyadic floats, d = 16, few ties */
    make_inst(&b, &r, 257, 700, 16, 1, 6);
    check_inst("dyadic 257x700 mask_a", &b, 0, ks3, 3, 20);
    check_inst("dyadic 257x700 mask_a+mask_b", &b, 1, ks3, 3, 5);
    free_inst(&b);

    inst e;  /* integers, d = 3: ~25 score levels over 200 items and ~40 test
              * items per user, so ties straddle relevant and non-relevant
              * items at every cut-off */
    make_inst(&e, &r, 60, 200, 3, 0, 40);
    check_inst("ints 60x200 dense truth", &e, 1, ks3, 3, 20);
    free_inst(&e);

    inst c;  /* fewer items than K once masked: the missing ranks are misses */
    make_inst(&c, &r, 40, 30, 4, 0, 6);
    const int32_t ks_big[2] = {25, 50};
    check_inst("ints 40x30 K > items", &c, 1, ks_big, 2, 50);

    /* Masks are respected: masked non-test items never appear at all, so
     * with every non-test item masked, all top ranks are test items. */
    nb_csr full;
    full.n_rows = c.nu;
    full.ptr = calloc((size_t)c.nu + 1, sizeof *full.ptr);
    full.idx = malloc(sizeof(int32_t) * (size_t)c.nu * c.ni);
    int64_t q = 0;
    for (int32_t u = 0; u < c.nu; u++) {
        for (int32_t i = 0; i < c.ni; i++) full.idx[q++] = i;  /* truth overlaps */
        full.ptr[u + 1] = q;
    }
    full.nnz = q;
    nb_eval_opts o;
    memset(&o, 0, sizeof o);
    o.n_ks = 1;
    o.ks[0] = 3;
    o.threads = 2;
    nb_metrics m;
    char *err = NULL;
    int rc = eval_full_ranking(c.user, c.item, c.nu, c.ni, c.d, &c.truth, &full, NULL,
                               &o, &m, NULL, &err);
    /* precision@3 per user = min(|R|, 3)/3 exactly when only test items rank */
    double want = 0;
    int64_t ne = 0;
    for (int32_t u = 0; u < c.nu; u++) {
        int64_t n = c.truth.ptr[u + 1] - c.truth.ptr[u];
        if (!n) continue;
        ne++;
        want += (n < 3 ? n : 3) / 3.0;
    }
    ok(rc == NB_OK && m.n_evaluated == ne, "all-masked run evaluates %lld users", (long long)ne);
    is_close(rc == NB_OK ? m.value[NB_M_PRECISION][0] : -1, want / (double)ne, 1e-12, 0,
             "only unmasked test items are ranked (precision@3)");
    free(err);
    err = NULL;
    /* a signal (opts.stop set) stops the evaluation: NB_EINTR, not metrics */
    volatile sig_atomic_t stop = 1;
    o.stop = &stop;
    rc = eval_full_ranking(c.user, c.item, c.nu, c.ni, c.d, &c.truth, &full, NULL, &o, &m,
                           NULL, &err);
    ok(rc == NB_EINTR && err && strstr(err, "interrupted"), "a set stop flag interrupts it");
    free(err);
    err = NULL;
    stop = 0;
    rc = eval_full_ranking(c.user, c.item, c.nu, c.ni, c.d, &c.truth, &full, NULL, &o, &m,
                           NULL, &err);
    ok(rc == NB_OK && m.n_evaluated == ne, "a clear one does not");
    free(err);
    csr_release(&full);
    free_inst(&c);

    check_self_consistent(&r);
    return tap_done();
}
