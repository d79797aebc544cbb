/*
 * test-ans-ablations.c - the ANS/HNS plugin through its vtable on synthetic
 * data: each ablation changes the negative exactly as documented (checked
 * against formulas recomputed here from the view and the gate blocks),
 * no_gain equals eps 0, augment false reproduces DNS (dns_overlap exactly
 * 1), drawn items are never training positives, negatives/backward do not
 * allocate, results do not depend on the thread count, statistics, the
 * NaN path, and one B=2048, M=32, d=64 batch.
 */
#include "negbench/plugin.h"
#include "plugin_loader.h"
#include "tap/tap.h"
#include "testhost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index);
void ans_testing_fix(void *state, const int32_t *cand, const float *r);
const int32_t *ans_testing_chosen(void *state, const int32_t **dns);

static uint64_t lcg = 99;
static double urand(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) * (1.0 / 9007199254740992.0);
}

/* Synthetic data: a random training set, float tables and a batch. */
typedef struct world {
    int32_t nu, ni, d, B;
    nb_train train;
    int64_t *uptr, *iptr;
    int32_t *uit, *ius;
    float *U, *I, *gU, *gI;
    int32_t *users, *pos;
} world;

static void world_make(world *w, int32_t nu, int32_t ni, int32_t d, int32_t B, int per_user)
{
    memset(w, 0, sizeof *w);
    w->nu = nu; w->ni = ni; w->d = d; w->B = B;
    w->uptr = calloc((size_t)nu + 1, sizeof(int64_t));
    w->uit = calloc((size_t)nu * per_user, sizeof(int32_t));
    uint8_t *has = calloc((size_t)ni, 1);
    int64_t n = 0;
    for (int32_t u = 0; u < nu; u++) {
        w->uptr[u] = n;
        memset(has, 0, (size_t)ni);
        for (int k = 0; k < per_user; k++) has[(int32_t)(urand() * ni)] = 1;
        for (int32_t i = 0; i < ni; i++) if (has[i]) w->uit[n++] = i;
    }
    w->uptr[nu] = n;
    free(has);
    w->iptr = calloc((size_t)ni + 1, sizeof(int64_t));
    w->ius = calloc((size_t)n ? (size_t)n : 1, sizeof(int32_t));
    for (int64_t k = 0; k < n; k++) w->iptr[w->uit[k] + 1]++;
    for (int32_t i = 0; i < ni; i++) w->iptr[i + 1] += w->iptr[i];
    int64_t *fill = calloc((size_t)ni, sizeof(int64_t));
    for (int32_t u = 0; u < nu; u++)
        for (int64_t k = w->uptr[u]; k < w->uptr[u + 1]; k++) {
            int32_t i = w->uit[k];
            w->ius[w->iptr[i] + fill[i]++] = u;
        }
    free(fill);
    w->train = (nb_train){ nu, ni, n, w->uptr, w->uit, w->iptr, w->ius };
    w->U = malloc((size_t)nu * d * sizeof(float));
    w->I = malloc((size_t)ni * d * sizeof(float));
    w->gU = calloc((size_t)nu * d, sizeof(float));
    w->gI = calloc((size_t)ni * d, sizeof(float));
    for (int64_t i = 0; i < (int64_t)nu * d; i++) w->U[i] = (float)(urand() - 0.5);
    for (int64_t i = 0; i < (int64_t)ni * d; i++) w->I[i] = (float)(urand() - 0.5);
    w->users = malloc((size_t)B * sizeof(int32_t));
    w->pos = malloc((size_t)B * sizeof(int32_t));
    for (int32_t b = 0; b < B; b++) {
        int64_t k = (int64_t)(urand() * (double)n);
        int32_t u = 0;
        while (w->uptr[u + 1] <= k) u++;
        w->users[b] = u;
        w->pos[b] = w->uit[k];
    }
}

static void world_free(world *w)
{
    free(w->uptr); free(w->iptr); free(w->uit); free(w->ius);
    free(w->U); free(w->I); free(w->gU); free(w->gI); free(w->users); free(w->pos);
}

/* One plugin instance with its output buffers. */
typedef struct run {
    const nb_sampler_vt *vt;
    void *state;
    int32_t M;
    float *vec, *d_neg;
    int32_t *item, *reg_items;
    double aux;
    int rc;
} run;

enum { VAR_FULL, VAR_NO_DIS, VAR_NO_GAIN, VAR_NO_DIR, VAR_NO_MAG };

/* host->threads handed to the plugin (check_threads varies it) */
static int host_threads = 1;
static nb_host run_host;

/* ANS values: M gamma eps gate_init variant dir_mode mag_mode augment layers. */

static int run_init(run *r, const world *w, int hns, int32_t M, double gamma, double eps,
                    int variant, int dir_mode, int mag_mode, int augment, uint64_t seed)
{
    memset(r, 0, sizeof *r);
    run_host = *testhost();
    run_host.threads = host_threads;
    const nb_plugin_desc *desc = nb_plugin_descriptor(hns ? 1 : 0);
    nb_value v[11] = { { 0 } }; /* the schema's 11 (ans) or 2 (hns) values */
    int nv = 11;
    if (hns) { v[0].f = gamma; v[1].i = 0; M = 1; nv = 2; }
    else {
        v[0].i = M; v[1].f = gamma; v[2].f = eps; v[3].i = 0; v[4].i = variant;
        v[5].i = dir_mode; v[6].i = mag_mode; v[7].i = augment; v[8].i = 0; v[9].i = 0;
    }
    r->vt = desc->vtable;
    r->M = M;
    char *err = NULL;
    if (plugin_sampler_init(desc, &run_host, v, nv, &w->train, w->d, w->B, seed, &r->state,
                            &err) != NB_OK) {
        diag("init: %s", err);
        free(err);
        return -1;
    }
    r->vec = calloc((size_t)w->B * w->d, sizeof(float));
    r->d_neg = calloc((size_t)w->B * w->d, sizeof(float));
    r->item = calloc((size_t)w->B, sizeof(int32_t));
    r->reg_items = calloc((size_t)w->B * M, sizeof(int32_t));
    return 0;
}

static nb_view world_view(const world *w)
{
    nb_view v = { w->nu, w->ni, w->d, 0, w->U, w->I, w->U, w->I, w->U, w->I, 0.0, NULL, NULL };
    return v;
}

static int run_negatives(run *r, const world *w, int32_t epoch, int64_t first)
{
    nb_view view = world_view(w);
    nb_batch batch = {.size = w->B, .users = w->users, .pos = w->pos, .epoch = epoch, .step = 0,
                      .first = first, .seed = 2023};
    nb_negatives out = { r->vec, r->item, 0, r->reg_items, 0, NULL, 0.0 };
    char *err = NULL;
    r->rc = r->vt->negatives(r->state, &batch, &view, &out, &err);
    if (r->rc != NB_OK) { diag("negatives: %s", err); free(err); }
    r->aux = out.aux_loss;
    return r->rc;
}

/* Backward with d_neg = 0.01 * (row index pattern), gradients into w->gU/gI. */
static int run_backward(run *r, world *w, int32_t epoch, int64_t first)
{
    for (int64_t i = 0; i < (int64_t)w->B * w->d; i++) r->d_neg[i] = (float)(0.01 * ((i % 7) - 3));
    nb_view view = world_view(w);
    nb_batch batch = {.size = w->B, .users = w->users, .pos = w->pos, .epoch = epoch, .step = 0,
                      .first = first, .seed = 2023};
    nb_block ub = { "user", w->U, w->gU, w->nu, w->d, NB_BLOCK_DENSE, NULL, 0, NULL };
    nb_block ib = { "item", w->I, w->gI, w->ni, w->d, NB_BLOCK_DENSE, NULL, 0, NULL };
    nb_grads g = { &ub, &ib, NULL, NULL, &ub, &ib };
    char *err = NULL;
    int rc = r->vt->backward(r->state, &batch, &view, r->d_neg, NULL, &g, &err);
    if (rc != NB_OK) { diag("backward: %s", err); free(err); }
    return rc;
}

static void run_free(run *r)
{
    if (r->state) r->vt->free(r->state);
    free(r->vec); free(r->d_neg); free(r->item); free(r->reg_items);
}

static const float *block(const run *r, const char *name, int *n_blocks)
{
    nb_block *b;
    int n;
    r->vt->blocks(r->state, &b, &n);
    if (n_blocks) *n_blocks = n;
    for (int i = 0; i < n; i++) if (!strcmp(b[i].name, name)) return b[i].value;
    return NULL;
}

static double sig(double x) { return 1.0 / (1.0 + exp(-x)); }
static double sgn(double x) { return (x > 0) - (x < 0); }

/* ------------------------------------------------------------------------
 * Each variant's negative against the formula, recomputed here in double
 * from the view, the blocks and the fixed candidates/noise. */
static void check_formula(world *w, const char *name, int hns, int variant, int dir_mode,
                          int mag_mode)
{
    const int32_t d = w->d, B = w->B, M = hns ? 1 : 4;
    run r;
    if (run_init(&r, w, hns, M, 0.2, 0.3, variant, dir_mode, mag_mode, 1, 5) != 0) {
        ok(0, "%s: init", name);
        return;
    }
    int32_t *cand = malloc((size_t)B * M * sizeof(int32_t));
    float *noise = malloc((size_t)B * M * d * sizeof(float));
    for (int32_t b = 0; b < B; b++)
        for (int32_t m = 0; m < M; m++) {
            int32_t i;
            do i = (int32_t)(urand() * w->ni); while (nb_train_has(&w->train, w->users[b], i));
            cand[b * M + m] = i;
        }
    for (int64_t i = 0; i < (int64_t)B * M * d; i++) noise[i] = (float)urand();
    ans_testing_fix(r.state, cand, noise);
    run_negatives(&r, w, 0, 0);
    const int32_t *ch = ans_testing_chosen(r.state, NULL);
    int n_blocks;
    const float *Wu = block(&r, "W_u", &n_blocks), *bu = block(&r, "b_u", NULL);
    const float *Wi = block(&r, "W_i", NULL), *bi = block(&r, "b_i", NULL);
    const float *wm = block(&r, "w", NULL), *bw = block(&r, "b_w", NULL);
    double maxe = 0.0, big = 0.0;
    int64_t sign_agree = 0, sign_total = 0;
    for (int32_t b = 0; b < B; b++) {
        const int32_t m = ch[b], item = cand[b * M + m];
        const float *u = w->U + (int64_t)w->users[b] * d, *p = w->I + (int64_t)w->pos[b] * d;
        const float *n = w->I + (int64_t)item * d, *rr = noise + ((int64_t)b * M + m) * d;
        double g[256], rn = 0, t = bw ? bw[0] : 0;
        for (int32_t k = 0; k < d; k++) {
            double a = bu ? bu[k] : 0, c = bi ? bi[k] : 0;
            for (int32_t j = 0; j < d && Wu; j++) { a += Wu[k * d + j] * u[j]; c += Wi[k * d + j] * n[j]; }
            g[k] = Wu ? sig(a * c) : 0.0;
            rn += (double)rr[k] * rr[k];
        }
        rn = sqrt(rn);
        for (int32_t k = 0; k < d && wm; k++) {
            double gm = variant == VAR_NO_DIS ? 1.0 : g[k];
            t += wm[k] * n[k] * p[k] * gm * gm;
        }
        double mu = sig(1.0 / t);
        for (int32_t k = 0; k < d; k++) {
            double e = (p[k] - n[k]) * (1 - g[k]), want, got = r.vec[(int64_t)b * d + k];
            if (hns) want = n[k] * g[k];
            else if (variant == VAR_NO_MAG && mag_mode == 0) want = n[k] + sgn(p[k] - n[k]) * rr[k];
            else if (variant == VAR_NO_MAG) want = n[k] + e;
            else if (variant == VAR_NO_DIR && dir_mode == 1) want = n[k] + 0.1 * mu * e * rr[k] / rn;
            else if (variant == VAR_NO_DIR) {
                /* unknown random sign: check the magnitude, count sign agreement */
                want = n[k] + 0.1 * mu * rr[k] / rn * sgn(got - n[k]);
                sign_agree += sgn(got - n[k]) == sgn(p[k] - n[k]);
                sign_total++;
            } else want = n[k] + 0.1 * mu * sgn(p[k] - n[k]) * rr[k] / rn;
            maxe = fmax(maxe, fabs(got - want));
            big = fmax(big, fabs(got - n[k]));
        }
    }
    ok(r.rc == NB_OK && maxe < 2e-5, "%s: negative vector follows its formula (max err %.2e)",
       name, maxe);
    if (variant == VAR_NO_DIS && !hns)
        ok(r.aux == 0.0 && n_blocks == 2 && !Wu,
           "no_dis: no gate blocks (%d blocks) and aux loss %g", n_blocks, r.aux);
    if (variant == VAR_NO_DIR && dir_mode == 0)
        ok(sign_total && sign_agree < 0.75 * sign_total && sign_agree > 0.25 * sign_total,
           "no_dir: direction is not sgn(p - n) (%lld of %lld signs agree)",
           (long long)sign_agree, (long long)sign_total);
    if (variant == VAR_NO_MAG && mag_mode == 0)
        ok(big > 0.5, "no_mag: perturbation unnormalised (max |n~ - n| %.3f)", big);
    if (variant == VAR_FULL && !hns)
        ok(big <= 0.1 + 1e-6, "full: |n~ - n| <= 0.1 elementwise (max %.4f)", big);
    if (hns) ok(r.aux > 0.0, "hns: gate losses present (aux %g)", r.aux);
    free(cand);
    free(noise);
    run_free(&r);
}

/* no_gain ignores eps: identical to full with eps 0, unlike full with eps. */
static void check_no_gain(world *w)
{
    run a, b, c;
    run_init(&a, w, 0, 8, 0.1, 0.0, VAR_FULL, 0, 0, 1, 3);
    run_init(&b, w, 0, 8, 0.1, 100.0, VAR_NO_GAIN, 0, 0, 1, 3);
    run_init(&c, w, 0, 8, 0.1, 100.0, VAR_FULL, 0, 0, 1, 3);
    run_negatives(&a, w, 1, 0);
    run_negatives(&b, w, 1, 0);
    run_negatives(&c, w, 1, 0);
    size_t vb = (size_t)w->B * w->d * sizeof(float);
    ok(!memcmp(a.vec, b.vec, vb) && !memcmp(a.item, b.item, (size_t)w->B * sizeof(int32_t)) &&
       a.aux == b.aux, "no_gain with eps 100 == full with eps 0");
    int differ = 0;
    for (int32_t i = 0; i < w->B; i++) differ += a.item[i] != c.item[i];
    ok(differ > 0, "eps 100 changes the picks of full (%d of %d differ)", differ, w->B);
    run_free(&a); run_free(&b); run_free(&c);
}

/* augment false: DNS over the same candidates, dns_overlap exactly 1. */
static void check_dns(world *w)
{
    const int32_t d = w->d, M = 8;
    run r;
    run_init(&r, w, 0, M, 0.1, 0.5, VAR_FULL, 0, 0, 0, 4);
    int good = 1, same_vec = 1;
    for (int rep = 0; rep < 3; rep++) {
        run_negatives(&r, w, 2, (int64_t)rep * w->B);
        for (int32_t b = 0; b < w->B; b++) {
            const float *u = w->U + (int64_t)w->users[b] * d;
            int32_t best = -1;
            double bs = -INFINITY;
            for (int32_t m = 0; m < M; m++) {
                const float *n = w->I + (int64_t)r.reg_items[b * M + m] * d;
                float s = 0;
                for (int32_t k = 0; k < d; k++) s += u[k] * n[k];
                if (s > bs) { bs = s; best = r.reg_items[b * M + m]; }
            }
            good &= r.item[b] == best;
            same_vec &= !memcmp(r.vec + (int64_t)b * d, w->I + (int64_t)r.item[b] * d,
                                (size_t)d * sizeof(float));
        }
    }
    ok(good, "augment false: picks are DNS's argmax u.n over the candidates");
    ok(same_vec, "augment false: the negative vector is the raw item row");
    const nb_stat *st;
    int ns;
    r.vt->epoch_stats(r.state, &st, &ns);
    double ov = NAN;
    for (int i = 0; i < ns; i++) if (!strcmp(st[i].name, "dns_overlap")) ov = st[i].value;
    ok(ov == 1.0, "augment false: dns_overlap is exactly 1 (%g)", ov);
    run_free(&r);

    /* full ANS for comparison: report the overlap (Table 4) */
    run_init(&r, w, 0, M, 0.1, 0.5, VAR_FULL, 0, 0, 1, 4);
    run_negatives(&r, w, 2, 0);
    r.vt->epoch_stats(r.state, &st, &ns);
    ok(ns == 8, "ans reports 8 statistics");
    {
        const char *want[] = { "dns_overlap", "aug_gain", "mu", "margin_bias", "margin_bias_init" };
        int found = 0;
        for (int k = 0; k < 5; k++)
            for (int i = 0; i < ns; i++) found += !strcmp(st[i].name, want[k]);
        ok(found == 5, "ans names dns_overlap, aug_gain, mu, margin_bias, margin_bias_init (%d)",
           found);
    }
    for (int i = 0; i < ns; i++) diag("full ANS stat %s = %.4f", st[i].name, st[i].value);
    int in_range = 1;
    for (int i = 0; i < ns; i++) {
        if (!strcmp(st[i].name, "cand_max_norm") || !strcmp(st[i].name, "cand_min_norm") ||
            !strcmp(st[i].name, "dns_overlap") || !strcmp(st[i].name, "reject_rate"))
            in_range &= st[i].value >= 0.0 && st[i].value <= 1.0;
    }
    ok(in_range && st[1].value > st[2].value && st[4].value != 0.0,
       "statistics in range, cand_max_norm > cand_min_norm, aug_gain nonzero");
    r.vt->epoch_stats(r.state, &st, &ns);
    ok(st[0].value == 0.0 && isnan(st[3].value), "statistics reset after epoch_stats");
    run_free(&r);
}

/* Drawn base items and regularised rows are never training positives;
 * reject rate matches the training density; no allocation on the hot path. */
static void check_draws(world *w)
{
    run r;
    run_init(&r, w, 0, 16, 0.1, 0.5, VAR_FULL, 0, 0, 1, 6);
    long before = testhost_allocs();
    int good = 1, rc = NB_OK;
    for (int ep = 0; ep < 5; ep++) {
        rc |= run_negatives(&r, w, ep, (int64_t)ep * 1000);
        rc |= run_backward(&r, w, ep, (int64_t)ep * 1000);
        for (int32_t b = 0; b < w->B; b++) {
            good &= !nb_train_has(&w->train, w->users[b], r.item[b]);
            for (int32_t m = 0; m < r.M; m++)
                good &= !nb_train_has(&w->train, w->users[b], r.reg_items[b * r.M + m]);
        }
    }
    long after = testhost_allocs();
    ok(rc == NB_OK, "negatives/backward succeed over 5 batches");
    ok(good, "no drawn candidate is a training positive of its user");
    ok(after == before, "negatives()+backward() do not allocate (%ld allocations)",
       after - before);
    const nb_stat *st;
    int ns;
    r.vt->epoch_stats(r.state, &st, &ns);
    double density = (double)w->train.n_pairs / ((double)w->nu * w->ni);
    ok(!strcmp(st[0].name, "reject_rate") && st[0].value > 0.5 * density &&
       st[0].value < 2.0 * density,
       "reject_rate %.4f ~ training density %.4f", st[0].value, density);
    run_free(&r);

    run_init(&r, w, 1, 1, 0.1, 0, 0, 0, 0, 0, 6);
    before = testhost_allocs();
    rc = run_negatives(&r, w, 0, 0) | run_backward(&r, w, 0, 0);
    good = 1;
    for (int32_t b = 0; b < w->B; b++) good &= !nb_train_has(&w->train, w->users[b], r.item[b]);
    ok(rc == NB_OK && good && testhost_allocs() == before && r.vt->reg_rows(r.state) == 1,
       "hns: draws non-positives, R = 1, no allocation");
    r.vt->epoch_stats(r.state, &st, &ns);
    ok(ns == 1 && !strcmp(st[0].name, "reject_rate"), "hns reports reject_rate only");
    run_free(&r);
}

/* Same results with 1 and 4 threads (vectors, picks, gradients). */
static void check_threads(world *w)
{
#ifdef _OPENMP
    const size_t nv = (size_t)w->B * w->d, ni = (size_t)w->ni * w->d, nu = (size_t)w->nu * w->d;
    static const char *const pnames[6] = { "W_u", "b_u", "W_i", "b_i", "w", "b_w" };
    float *v1 = malloc(nv * sizeof(float)), *g1 = malloc(ni * sizeof(float));
    float *u1 = malloc(nu * sizeof(float)), *p1[6] = { 0 };
    double aux1 = 0;
    int same = 1, pgsame = 1;
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t ? 4 : 1);
        host_threads = t ? 4 : 1;
        run r;
        run_init(&r, w, 0, 8, 0.3, 0.5, VAR_FULL, 0, 0, 1, 8);
        memset(w->gI, 0, ni * sizeof(float));
        memset(w->gU, 0, nu * sizeof(float));
        run_negatives(&r, w, 3, 77);
        run_backward(&r, w, 3, 77);
        nb_block *blk;
        int nblk;
        r.vt->blocks(r.state, &blk, &nblk);
        if (!t) {
            memcpy(v1, r.vec, nv * sizeof(float));
            memcpy(g1, w->gI, ni * sizeof(float));
            memcpy(u1, w->gU, nu * sizeof(float));
            aux1 = r.aux;
        } else {
            same = !memcmp(v1, r.vec, nv * sizeof(float)) &&
                   !memcmp(g1, w->gI, ni * sizeof(float)) &&
                   !memcmp(u1, w->gU, nu * sizeof(float)) && aux1 == r.aux;
        }
        for (int b = 0; b < nblk; b++)
            for (int q = 0; q < 6; q++) {
                if (strcmp(blk[b].name, pnames[q])) continue;
                size_t n = (size_t)(blk[b].rows * blk[b].cols);
                if (!t) {
                    p1[q] = malloc(n * sizeof(float));
                    memcpy(p1[q], blk[b].grad, n * sizeof(float));
                } else {
                    pgsame &= p1[q] && !memcmp(p1[q], blk[b].grad, n * sizeof(float));
                }
            }
        run_free(&r);
    }
    omp_set_num_threads(1);
    host_threads = 1;
    ok(same, "bit-identical negatives, aux loss, user and item gradients with 1 and 4 threads");
    ok(pgsame, "bit-identical gate/margin parameter gradients with 1 and 4 threads");
    free(v1); free(g1); free(u1);
    for (int q = 0; q < 6; q++) free(p1[q]);
#else
    (void)w;
    skip(2, "built without OpenMP");
#endif
}

/* A NaN in the view is reported as NB_ENUMERIC with a message. */
static void check_nan(world *w)
{
    run r;
    run_init(&r, w, 0, 4, 0.1, 0.5, VAR_FULL, 0, 0, 1, 9);
    float keep = w->U[(int64_t)w->users[0] * w->d];
    w->U[(int64_t)w->users[0] * w->d] = NAN;
    int rc = run_negatives(&r, w, 0, 0);
    w->U[(int64_t)w->users[0] * w->d] = keep;
    ok(rc == NB_ENUMERIC, "NaN in the view: negatives returns NB_ENUMERIC");
    run_free(&r);
}

/* One B=2048, M=32, d=64 batch through negatives() and backward() (the
 * size of the paper's setting; make bench times ANS per epoch on Gowalla). */
static void large_batch(void)
{
    world w;
    lcg = 7;
    world_make(&w, 1000, 1700, 64, 2048, 50);
    nb_host host = *testhost();
    host.threads = 2;
    const nb_plugin_desc *desc = nb_plugin_descriptor(0);
    const nb_sampler_vt *vt = desc->vtable;
    nb_value v[11] = { { .i = 32 }, { .f = 0.1 }, { .f = 0.1 }, { .i = 0 }, { .i = 0 },
                       { .i = 0 },  { .i = 0 },   { .i = 1 },   { .i = 0 }, { .i = 0 } };
    void *state = NULL;
    char *err = NULL;
    if (plugin_sampler_init(desc, &host, v, 11, &w.train, 64, 2048, 1, &state, &err) != NB_OK) {
        ok(0, "B=2048 M=32 d=64: init: %s", err ? err : "?");
        free(err);
        world_free(&w);
        return;
    }
    float *vec = malloc((size_t)2048 * 64 * sizeof(float)), *dn = calloc((size_t)2048 * 64, 4);
    int32_t *item = malloc(2048 * sizeof(int32_t)), *reg = malloc((size_t)2048 * 32 * 4);
    nb_view view = world_view(&w);
    nb_batch batch = {.size = 2048, .users = w.users, .pos = w.pos, .epoch = 0, .step = 0,
                      .first = 0, .seed = 1};
    nb_negatives out = { vec, item, 0, reg, 0, NULL, 0.0 };
    nb_block ub = { "user", w.U, w.gU, w.nu, 64, NB_BLOCK_DENSE, NULL, 0, NULL };
    nb_block ib = { "item", w.I, w.gI, w.ni, 64, NB_BLOCK_DENSE, NULL, 0, NULL };
    nb_grads g = { &ub, &ib, NULL, NULL, &ub, &ib };
    for (int64_t i = 0; i < 2048 * 64; i++) dn[i] = 1e-3f;
    int rc = vt->negatives(state, &batch, &view, &out, &err);
    if (rc == NB_OK) rc = vt->backward(state, &batch, &view, dn, NULL, &g, &err);
    ok(rc == NB_OK, "B=2048 M=32 d=64: negatives and backward succeed%s%s", err ? ": " : "",
       err ? err : "");
    free(err);
    vt->free(state);
    free(vec); free(dn); free(item); free(reg);
    world_free(&w);
}

/* margin_init: the same parameter draws whatever the choice, b_w's sign (or
 * zero) as chosen, and reported as margin_bias_init. */
static void check_margin_init(const world *w)
{
    const nb_plugin_desc *desc = nb_plugin_descriptor(0);
    const nb_sampler_vt *vt = desc->vtable;
    float *ref = NULL;
    int64_t n_ref = 0;
    double bw_ref = 0.0;
    for (int mode = 0; mode < 4; mode++) {
        nb_value v[11] = { { .i = 8 }, { .f = 0.1 }, { .f = 0.1 }, { .i = 0 }, { .i = 0 },
                           { .i = 0 }, { .i = 0 },  { .i = 1 },   { .i = 0 }, { .i = mode } };
        void *state = NULL;
        char *err = NULL;
        if (vt->init(testhost(), v, &w->train, w->d, 16, 3, &state, &err) != NB_OK) {
            ok(0, "margin_init %d: init: %s", mode, err);
            free(err);
            return;
        }
        nb_block *b = NULL;
        int nbk = 0;
        vt->blocks(state, &b, &nbk);
        int64_t n = 0;
        for (int i = 0; i < nbk; i++) n += b[i].rows * b[i].cols;
        float *all = malloc((size_t)n * sizeof(float)), *p = all;
        double bw = 0.0;
        for (int i = 0; i < nbk; i++) {
            int64_t len = b[i].rows * b[i].cols;
            memcpy(p, b[i].value, (size_t)len * sizeof(float));
            if (!strcmp(b[i].name, "b_w")) { bw = b[i].value[0]; p[0] = 0.0f; }
            p += len;
        }
        if (mode == 0) {
            ref = all;
            n_ref = n;
            bw_ref = bw;
            ok(bw != 0.0, "margin_init torch: b_w is the U(+-1/sqrt(d)) draw (%g)", bw);
        } else {
            ok(n == n_ref && !memcmp(all, ref, (size_t)n * sizeof(float)),
               "margin_init %d: every parameter but b_w is torch's draw", mode);
            double want = mode == 1 ? fabs(bw_ref) : mode == 2 ? -fabs(bw_ref) : 0.0;
            ok(bw == (double)(float)want, "margin_init %d: b_w %g (want %g)", mode, bw, want);
            free(all);
        }
        const nb_stat *st = NULL;
        int ns = 0;
        vt->epoch_stats(state, &st, &ns);
        double init = NAN;
        for (int i = 0; i < ns; i++)
            if (!strcmp(st[i].name, "margin_bias_init")) init = st[i].value;
        ok(init == bw, "margin_init %d: margin_bias_init reports b_w (%g)", mode, init);
        vt->free(state);
    }
    free(ref);
}

int main(void)
{
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    world w;
    world_make(&w, 40, 120, 16, 48, 12);
    check_formula(&w, "full", 0, VAR_FULL, 0, 0);
    check_formula(&w, "no_dis", 0, VAR_NO_DIS, 0, 0);
    check_formula(&w, "no_dir rademacher", 0, VAR_NO_DIR, 0, 0);
    check_formula(&w, "no_dir raw", 0, VAR_NO_DIR, 1, 0);
    check_formula(&w, "no_mag uniform", 0, VAR_NO_MAG, 0, 0);
    check_formula(&w, "no_mag easy", 0, VAR_NO_MAG, 0, 1);
    check_formula(&w, "hns", 1, VAR_FULL, 0, 0);
    check_no_gain(&w);
    check_dns(&w);
    check_draws(&w);
    check_threads(&w);
    check_nan(&w);
    check_margin_init(&w);
    world_free(&w);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    large_batch();
    return tap_done();
}
