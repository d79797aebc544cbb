/*
 * test-pns.c - the PNS sampler plugin: alias-table exactness, draw
 * frequencies against cnt^alpha (training counts) for alpha 1 and 0.5,
 * rejection of positives, cnt-0 items, the uniform fallback, the
 * reject_rate statistic, determinism, gradient scatter and no allocation on
 * the per-batch path. The plugin source is included (one translation unit)
 * to reach its alias table; do not link pns.c as well.
 */
#include "../plugins/samplers/pns.c"

#include <stdio.h>
#include <stdlib.h>

#include "tap/tap.h"
#include "testhost.h"

/* Implied probability of every column of an alias table. */
static void alias_implied(const double *prob, const int32_t *alias, int32_t n, double *p)
{
    for (int32_t k = 0; k < n; k++) p[k] = prob[k] / n;
    for (int32_t k = 0; k < n; k++) p[alias[k]] += (1.0 - prob[k]) / n;
}

static void test_alias_exact(void)
{
    static const double w1[] = { 1, 2, 3, 4, 0.5, 7, 0, 10 };
    double prob[1000], p[1000], w[1000];
    int32_t alias[1000], work[1000];
    const int32_t n1 = 8;
    double sum = 0;
    for (int k = 0; k < n1; k++) sum += w1[k];
    is_int(pns_alias_build(w1, n1, prob, alias, work), NB_OK, "alias build (8 columns)");
    alias_implied(prob, alias, n1, p);
    double err = 0;
    for (int k = 0; k < n1; k++) err = fmax(err, fabs(p[k] - w1[k] / sum));
    ok(err <= 1e-12, "alias table implies w/sum exactly (max err %.3g)", err);
    ok(p[6] == 0.0, "a zero weight has implied probability exactly 0");

    /* a larger skewed case: w_k = (k+1)^-1.2, k < 1000 */
    sum = 0;
    for (int k = 0; k < 1000; k++) sum += (w[k] = pow(k + 1.0, -1.2));
    pns_alias_build(w, 1000, prob, alias, work);
    alias_implied(prob, alias, 1000, p);
    err = 0;
    for (int k = 0; k < 1000; k++) err = fmax(err, fabs(p[k] - w[k] / sum));
    ok(err <= 1e-12, "alias table, 1000 Zipf columns, max err %.3g", err);
    int inrange = 1;
    for (int k = 0; k < 1000; k++)
        if (!(prob[k] >= 0 && prob[k] <= 1.0 + 1e-12) || alias[k] < 0 || alias[k] >= 1000) inrange = 0;
    ok(inrange, "alias probabilities in [0,1] and aliases in range");
    double z[3] = { 0, 0, 0 };
    is_int(pns_alias_build(z, 3, prob, alias, work), NB_EINVAL, "all-zero weights refused");
}

/* Popularity fixture: 10 items, target counts cnt[], user 6 holds {2, 5};
 * users 0..5 fill the remaining counts. Items 1 and 6 have cnt 0. */
static const int cnt_target[10] = { 5, 0, 3, 1, 4, 2, 0, 6, 1, 3 };

static int fixture_pairs(int32_t (*pairs)[2])
{
    int n = 0;
    for (int32_t u = 0; u < 6; u++)
        for (int32_t i = 0; i < 10; i++) {
            int need = cnt_target[i] - (i == 2 || i == 5);
            if (u < need) { pairs[n][0] = u; pairs[n][1] = i; n++; }
        }
    pairs[n][0] = 6; pairs[n][1] = 2; n++;
    pairs[n][0] = 6; pairs[n][1] = 5; n++;
    return n;
}

typedef struct run {
    void *st;
    nb_negatives out;
    float vec[1000 * 2];
    int32_t item[1000], reg[1000];
    int32_t users[1000], pos[1000];
    float table[10 * 2];
    nb_view view;
} run;

static void run_setup(run *r, int32_t user, int32_t posi)
{
    for (int k = 0; k < 1000; k++) { r->users[k] = user; r->pos[k] = posi; }
    for (int k = 0; k < 20; k++) r->table[k] = (float)(k + 1);
    memset(&r->out, 0, sizeof r->out);
    r->out.vec = r->vec;
    r->out.item = r->item;
    r->out.reg_items = r->reg;
    r->out.reg_rows = 1;
    memset(&r->view, 0, sizeof r->view);
    r->view.n_items = 10;
    r->view.dim = 2;
    r->view.item = r->table;
}

/* Draw n_batches x 1000 negatives for `user`; histogram into h[10]. */
static int draw_many(run *r, int32_t user, int n_batches, uint64_t seed, int32_t epoch, long *h)
{
    const nb_sampler_vt *vt = nb_plugin_descriptor(0)->vtable;
    nb_batch b = { .size = 1000, .users = r->users, .pos = r->pos, .epoch = epoch,
                   .seed = seed };
    (void)user;
    for (int k = 0; k < n_batches; k++) {
        char *err = NULL;
        b.first = (int64_t)k * 1000;
        b.step = k;
        if (vt->negatives(r->st, &b, &r->view, &r->out, &err) != NB_OK) {
            diag("negatives: %s", err ? err : "?");
            free(err);
            return -1;
        }
        for (int q = 0; q < 1000; q++) h[r->item[q]]++;
    }
    return 0;
}

/* y = the fixture's training set: 7 users, 10 items. */
static void fixture_train(test_train *y)
{
    int32_t pairs[80][2];
    int n = fixture_pairs(pairs);
    test_make_train(y, 7, 10, (const int32_t (*)[2])pairs, n);
}

static void test_frequencies(double alpha)
{
    test_train y;
    fixture_train(&y);
    const nb_plugin_desc *desc = nb_plugin_descriptor(0);
    const nb_sampler_vt *vt = desc->vtable;
    nb_value v[1] = { { .i = 0 } };
    v[0].f = alpha;
    static run r;
    run_setup(&r, 6, 2);
    char *err = NULL;
    if (vt->init(testhost(), v, &y.t, 2, 1000, 1, &r.st, &err) != NB_OK) {
        diag("init: %s", err ? err : "?");
        free(err);
        ok(0, "init alpha=%g", alpha);
        return;
    }
    long h[10] = { 0 };
    long a0 = testhost_allocs();
    int rc = draw_many(&r, 6, 2000, 42, 0, h);
    is_int(rc, 0, "alpha=%g: 2e6 draws", alpha);
    is_int(testhost_allocs() - a0, 0, "alpha=%g: negatives() does not allocate", alpha);
    /* expected: cnt^alpha over the user's non-positive items */
    double w[10], z = 0, wall = 0, wpos = 0;
    for (int i = 0; i < 10; i++) {
        w[i] = cnt_target[i] ? pow(cnt_target[i], alpha) : 0.0;
        wall += w[i];
        if (i == 2 || i == 5) { wpos += w[i]; w[i] = 0.0; }
        z += w[i];
    }
    double chi2 = 0;
    int df = -1;
    for (int i = 0; i < 10; i++) {
        if (w[i] == 0.0) continue;
        double e = 2e6 * w[i] / z;
        chi2 += (h[i] - e) * (h[i] - e) / e;
        df++;
    }
    diag("alpha=%g chi2=%.2f df=%d", alpha, chi2, df);
    /* df = 5 (6 drawable items): P(chi2 > 35) ~ 1.5e-6 */
    ok(chi2 < 35.0, "alpha=%g: frequencies match cnt^alpha (chi2 %.2f, df %d)", alpha, chi2, df);
    is_int(h[2] + h[5], 0, "alpha=%g: never a training positive", alpha);
    is_int(h[1] + h[6], 0, "alpha=%g: items with cnt 0 never drawn", alpha);
    const nb_stat *st;
    int ns;
    vt->epoch_stats(r.st, &st, &ns);
    is_int(ns, 1, "one statistic");
    is_string(st[0].name, "reject_rate", "statistic name");
    /* accepted draws ~ geometric: rejection share = P(positive) = wpos/wall */
    is_close(st[0].value, wpos / wall, 0.003, 0, "alpha=%g: reject_rate %.4f ~ %.4f", alpha,
             st[0].value, wpos / wall);
    vt->epoch_stats(r.st, &st, &ns);
    is_close(st[0].value, 0.0, 0, 0, "counters reset after epoch_stats");
    vt->free(r.st);
}

static void test_vtable_misc(void)
{
    test_train y;
    fixture_train(&y);
    const nb_plugin_desc *desc = nb_plugin_descriptor(0);
    const nb_sampler_vt *vt = desc->vtable;
    is_string(desc->name, "pns", "descriptor name");
    ok(desc->kind == NB_KIND_SAMPLER && nb_plugin_descriptor(1) == NULL, "one sampler descriptor");
    is_string(desc->params[0].name, "alpha", "param alpha");
    ok(desc->params[1].name == NULL, "schema terminated");
    nb_value v[1];
    v[0].f = 1.0;
    static run r1, r2;
    char *err = NULL;
    run_setup(&r1, 6, 2);
    run_setup(&r2, 6, 2);
    vt->init(testhost(), v, &y.t, 2, 1000, 1, &r1.st, &err);
    vt->init(testhost(), v, &y.t, 2, 1000, 1, &r2.st, &err);
    is_int(vt->reg_rows(r1.st), 1, "reg_rows = 1");
    long h1[10] = { 0 }, h2[10] = { 0 };
    draw_many(&r1, 6, 1, 7, 3, h1);
    draw_many(&r2, 6, 1, 7, 3, h2);
    ok(memcmp(r1.item, r2.item, sizeof r1.item) == 0, "same streams -> same items");
    int vec_ok = 1, reg_ok = 1;
    for (int q = 0; q < 1000; q++) {
        if (r1.reg[q] != r1.item[q]) reg_ok = 0;
        if (r1.vec[2 * q] != r1.table[2 * r1.item[q]] ||
            r1.vec[2 * q + 1] != r1.table[2 * r1.item[q] + 1]) vec_ok = 0;
    }
    ok(vec_ok, "n~ is the drawn item's row");
    ok(reg_ok, "reg_items is the drawn item");
    draw_many(&r2, 6, 1, 7, 4, h2);
    ok(memcmp(r1.item, r2.item, sizeof r1.item) != 0, "another epoch -> other items");

    /* backward: scatter-add into the drawn rows, duplicates summed */
    float gval[20] = { 0 }, dneg[2000];
    int32_t touched[10];
    uint8_t mark[10] = { 0 };
    nb_block gi = { .name = "item", .grad = gval, .rows = 10, .cols = 2,
                    .flags = NB_BLOCK_ROWS, .touched = touched, .mark = mark };
    nb_grads g = { .item = &gi };
    for (int q = 0; q < 2000; q++) dneg[q] = (float)(q % 7) * 0.25f - 0.5f;
    nb_batch b = { .size = 1000, .users = r1.users, .pos = r1.pos, .epoch = 3, .seed = 7 };
    vt->backward(r1.st, &b, &r1.view, dneg, NULL, &g, &err);
    double want[20] = { 0 };
    for (int q = 0; q < 1000; q++)
        for (int k = 0; k < 2; k++) want[2 * r1.item[q] + k] += dneg[2 * q + k];
    double e = 0;
    for (int k = 0; k < 20; k++) e = fmax(e, fabs(gval[k] - want[k]));
    ok(e < 1e-3, "backward scatter-adds d_neg into drawn rows (max err %.2g)", e);
    int tmark = 1;
    for (int i = 0; i < 10; i++) {
        int drawn = want[2 * i] != 0 || want[2 * i + 1] != 0;
        if (drawn && !mark[i]) tmark = 0;
    }
    ok(tmark && gi.n_touched > 0, "touched rows marked (%ld)", (long)gi.n_touched);
    vt->free(r1.st);
    vt->free(r2.st);

    /* fallback: user 0 holds every item with cnt > 0 -> uniform over cnt-0 ones */
    static const int32_t fb[][2] = { { 0, 0 }, { 0, 1 }, { 0, 2 }, { 1, 1 } };
    test_train z;
    test_make_train(&z, 2, 5, fb, 4);
    static run r3;
    run_setup(&r3, 0, 1);
    if (vt->init(testhost(), v, &z.t, 2, 1000, 1, &r3.st, &err) == NB_OK) {
        long h[10] = { 0 };
        draw_many(&r3, 0, 10, 9, 0, h);
        ok(h[0] + h[1] + h[2] == 0 && h[3] + h[4] == 10000, "fallback draws only cnt-0 items");
        ok(h[3] > 4700 && h[4] > 4700, "fallback is uniform (%ld / %ld)", h[3], h[4]);
        vt->free(r3.st);
    } else {
        ok(0, "fallback init");
        ok(0, "fallback init");
    }

    /* a user with every item as a positive: init refuses with a message */
    static const int32_t all[][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 } };
    test_train a;
    test_make_train(&a, 2, 2, all, 3);
    void *st = NULL;
    int rc = vt->init(testhost(), v, &a.t, 2, 10, 1, &st, &err);
    is_int(rc, NB_EINVAL, "init refuses a user with every item positive");
    ok(err && strstr(err, "user 0"), "message names the user (%s)", err ? err : "");
    free(err);
}

int main(void)
{
    tap_plan(0);
    test_alias_exact();
    test_frequencies(1.0);
    test_frequencies(0.5);
    test_vtable_misc();
    return tap_done();
}
