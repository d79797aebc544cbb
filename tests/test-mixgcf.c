/*
 * test-mixgcf.c - the MixGCF-on-MF sampler: central finite differences in
 * double of BPR(u, p, n') + the squared regulariser including |n'|^2 through
 * the mixing (alpha and the pick held fixed); the pick is the first argmax of
 * u.n'_m and with alpha = 0 it is DNS's pick; through the float plugin
 * vtable: the mixed vector, routing with weights alpha / 1-alpha, no training
 * positive as base item, no allocation on the hot path, statistics,
 * thread-count independence and NaN handling.
 *
 * The plugin source is included (not linked) so the test can hand it fixed
 * candidates through its test_cand hook.
 */
#include "../plugins/samplers/mixgcf.c"

#define REAL double
#define SUF f64
#include "../plugins/samplers/mixgcf_impl.h"
#undef REAL
#undef SUF

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpr.h"
#include "tap/tap.h"
#include "testhost.h"

/* ---------------------------------------------- finite differences (f64) */

typedef struct fdctx {
    int B, d, nU, nI;
    int32_t users[4], pos[4], negs[4];
    double alpha[4];
    double U[64], I[128];
    double l2;
} fdctx;

/* L = BPR(u, p, n') + l2 (|u|^2 + |p|^2 + |n'|^2) / 2B with n' = a p + (1-a) n,
 * the picks negs[] and alpha fixed. Gradients (nullable) accumulate into
 * gU, gI through the mixing. */
static double fd_loss_grad(fdctx *c, double *gU, double *gI)
{
    int B = c->B, d = c->d;
    double mixed[64] = {0}, gneg[64] = {0}, greg[64] = {0}, raw;
    for (int b = 0; b < B; b++)
        mixgcf_mix_f64(d, c->alpha[b], c->I + c->pos[b] * d, c->I + c->negs[b] * d,
                       mixed + b * d);
    double L = bpr_loss_grad_f64(B, d, c->users, c->pos, c->U, c->I, mixed, gU, gI,
                                 gU ? gneg : NULL, NULL);
    L += reg_loss_grad_f64(1, c->l2, B, d, c->users, c->pos, c->negs, 1, mixed, c->U, c->I, gU,
                           gI, gU ? greg : NULL, &raw);
    if (gU)
        for (int b = 0; b < B; b++) {
            mixgcf_route_f64(d, c->alpha[b], gneg + b * d, gI + c->pos[b] * d,
                             gI + c->negs[b] * d);
            mixgcf_route_f64(d, c->alpha[b], greg + b * d, gI + c->pos[b] * d,
                             gI + c->negs[b] * d);
        }
    return L;
}

static double fd_f(void *ctx) { return fd_loss_grad(ctx, NULL, NULL); }

/* max |fd - an| / (1e-6 |an| + 1e-8) over an array (<= 1 passes). */
static double fd_array(fdctx *c, double *x, const double *an, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double fd = fd_central(fd_f, c, &x[i], 1e-6);
        double e = fabs(fd - an[i]) / (1e-6 * fabs(an[i]) + 1e-8);
        if (e > worst) worst = e;
    }
    return worst;
}

static void finite_differences(void)
{
    fdctx c = {.B = 3, .d = 5, .nU = 3, .nI = 9, .l2 = 0.05};
    nb_rng r;
    nb_rng_seed(&r, 77, 1, 2);
    for (int i = 0; i < c.nU * c.d; i++) c.U[i] = 2 * nb_rng_uniform(&r) - 1;
    for (int i = 0; i < c.nI * c.d; i++) c.I[i] = 2 * nb_rng_uniform(&r) - 1;
    int32_t users[3] = {0, 2, 0}, pos[3] = {1, 5, 3};
    /* item 3 is the positive of row 2 and a candidate of rows 0 and 1 */
    int32_t cand[12] = {3, 0, 6, 7, 2, 3, 4, 8, 0, 2, 5, 7};
    double alpha[3] = {0.37, 0.81, 0.05};
    memcpy(c.users, users, sizeof users);
    memcpy(c.pos, pos, sizeof pos);
    memcpy(c.alpha, alpha, sizeof alpha);
    for (int b = 0; b < c.B; b++) {
        double sc[4];
        int m = mixgcf_select_one_f64(c.d, 4, alpha[b], c.U + users[b] * c.d,
                                      c.I + pos[b] * c.d, c.I, cand + 4 * b, sc);
        c.negs[b] = cand[4 * b + m];
    }
    diag("FD case: picks %d %d %d", c.negs[0], c.negs[1], c.negs[2]);
    double gU[64] = {0}, gI[128] = {0};
    fd_loss_grad(&c, gU, gI);
    ok(fd_array(&c, c.U, gU, (size_t)c.nU * c.d) <= 1,
       "FD: dL/dU (BPR on the mixed negative + squared reg)");
    ok(fd_array(&c, c.I, gI, (size_t)c.nI * c.d) <= 1,
       "FD: dL/dI for every row (p, chosen n through the mixing incl. |n'|^2, others 0)");
    double nz = 0;
    for (int j = 0; j < c.d; j++) nz += fabs(gI[c.negs[0] * c.d + j]);
    ok(nz > 1e-4, "FD: the chosen base row gets a gradient (%g)", nz);
}

/* ------------------------------------------------- selection (template) */

static void selection(void)
{
    nb_rng r;
    nb_rng_seed(&r, 5, 5, 5);
    int d = 6, M = 7, agree_argmax = 1, agree_dns = 1, first_tie = 1;
    for (int t = 0; t < 300; t++) {
        double u[6], p[6], I[7 * 6], sc[7];
        int32_t cand[7] = {0, 1, 2, 3, 4, 5, 6};
        for (int j = 0; j < d; j++) { u[j] = 2 * nb_rng_uniform(&r) - 1; p[j] = 2 * nb_rng_uniform(&r) - 1; }
        for (int j = 0; j < M * d; j++) I[j] = 2 * nb_rng_uniform(&r) - 1;
        double a = nb_rng_uniform(&r);
        /* independent argmax of u.(a p + (1-a) n_m) */
        int want = 0;
        double best = -INFINITY;
        for (int m = 0; m < M; m++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += u[j] * (a * p[j] + (1 - a) * I[m * d + j]);
            if (s > best) { best = s; want = m; }
        }
        agree_argmax &= mixgcf_select_one_f64(d, M, a, u, p, I, cand, sc) == want;
        /* alpha = 0: DNS's argmax u.n_m */
        int dns = 0;
        best = -INFINITY;
        for (int m = 0; m < M; m++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += u[j] * I[m * d + j];
            if (s > best) { best = s; dns = m; }
        }
        agree_dns &= mixgcf_select_one_f64(d, M, 0.0, u, p, I, cand, sc) == dns;
        /* duplicate candidates tie exactly: the first index wins */
        int32_t dup[3] = {(int32_t)want, (int32_t)want, (int32_t)dns};
        int got = mixgcf_select_one_f64(d, 3, a, u, p, I, dup, sc);
        first_tie &= got == 0 || (want != dns && got == 2);
    }
    ok(agree_argmax, "pick = first argmax_m u.(alpha p + (1-alpha) n_m) (300 random cases)");
    ok(agree_dns, "alpha = 0 reduces to DNS's pick argmax_m u.n_m (300 random cases)");
    ok(first_tie, "ties between duplicate candidates go to the first index");
}

/* ------------------------------------------------------ plugin harness */

static const nb_sampler_vt *mixgcf_vtable(void)
{
    const nb_plugin_desc *pd = nb_plugin_descriptor(0);
    return pd ? (const nb_sampler_vt *)pd->vtable : NULL;
}

/* Mixed vector and gradient routing through the vtable, fixed candidates. */
static void routing(void)
{
    enum { NU = 2, NI = 8, D = 3, B = 2, M = 3 };
    const nb_sampler_vt *vt = mixgcf_vtable();
    test_train tt;
    test_make_train(&tt, NU, NI, NULL, 0);
    nb_value vals[1] = {{.i = M}};
    void *st = NULL;
    char *err = NULL;
    if (vt->init(testhost(), vals, &tt.t, D, B, 1, &st, &err) != NB_OK) tap_bail("init: %s", err);
    ok(vt->reg_rows(st) == 1 && vt->blocks == NULL, "reg_rows 1, no parameter blocks");
    mixgcf_state *s = st;
    int32_t cand[B * M] = {2, 3, 4, 5, 6, 7}; /* disjoint, so every row is distinct */
    s->test_cand = cand;
    float U[NU * D] = {1, 0.5f, -0.25f, -0.5f, 1, 0.75f};
    float I[NI * D] = {0.1f, 0.2f, 0.3f, -0.4f, 0.5f, 0.6f, 0.7f, -0.8f, 0.9f,
                       1.0f, 1.1f, -1.2f, 0.3f, 0.3f, 0.3f, -0.6f, 0.2f, 0.1f,
                       0.4f, -0.9f, 0.8f, 0.2f, 0.6f, -0.3f};
    nb_view v = {.n_users = NU, .n_items = NI, .dim = D, .user = U, .item = I,
                 .user_layers = U, .item_layers = I, .user_ego = U, .item_ego = I};
    int32_t users[B] = {0, 1}, pos[B] = {0, 1};
    float vec[B * D], regvec[B * D];
    int32_t item[B], regit[B];
    nb_negatives out = {vec, item, 1, regit, 0, regvec, 1.0};
    nb_batch bt = {.size = B, .users = users, .pos = pos, .epoch = 3, .step = 11, .first = 40,
                   .seed = 99};
    int rc = vt->negatives(st, &bt, &v, &out, &err);
    is_int(rc, NB_OK, "negatives with fixed candidates");
    ok(out.use_reg_vec == 1 && out.aux_loss == 0.0, "use_reg_vec = 1, no aux loss");
    int mix_ok = 1, pick_ok = 1;
    float al[B];
    for (int b = 0; b < B; b++) {
        al[b] = mixgcf_alpha(99, 3, 40 + b);
        double a = al[b];
        /* independent pick */
        int want = -1;
        double best = -INFINITY;
        for (int m = 0; m < M; m++) {
            const float *n = I + cand[b * M + m] * D;
            double sc = 0;
            for (int j = 0; j < D; j++) sc += (double)U[users[b] * D + j] * (a * I[pos[b] * D + j] + (1 - a) * n[j]);
            if (sc > best) { best = sc; want = cand[b * M + m]; }
        }
        pick_ok &= item[b] == want && regit[b] == want;
        for (int j = 0; j < D; j++) {
            double w = a * I[pos[b] * D + j] + (1 - a) * I[item[b] * D + j];
            mix_ok &= fabs(vec[b * D + j] - w) < 1e-6 && vec[b * D + j] == regvec[b * D + j];
        }
    }
    ok(pick_ok, "plugin pick = argmax of u.n'_m with alpha from the documented stream");
    ok(mix_ok, "vec = reg_vec = alpha p + (1-alpha) n_{m*}");
    ok(al[0] != al[1] && al[0] >= 0 && al[0] < 1, "one alpha per positive in [0,1): %g %g",
       al[0], al[1]);

    test_grads tg;
    test_make_grads(&tg, NU, NI, D);
    float dneg[B * D], dreg[B * D];
    for (int i = 0; i < B * D; i++) { dneg[i] = 0.5f + (float)i; dreg[i] = 0.0f; }
    rc = vt->backward(st, &bt, &v, dneg, NULL, &tg.g, &err);
    is_int(rc, NB_OK, "backward");
    int route_ok = 1;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < D; j++) {
            route_ok &= fabs(tg.gi[pos[b] * D + j] - al[b] * dneg[b * D + j]) < 1e-5;
            route_ok &= fabs(tg.gi[item[b] * D + j] - (1 - al[b]) * dneg[b * D + j]) < 1e-5;
        }
    ok(route_ok, "d_neg routes alpha d_neg into p and (1-alpha) d_neg into n_{m*}");
    int others = 1;
    for (int i = 0; i < NI; i++)
        if (i != pos[0] && i != pos[1] && i != item[0] && i != item[1])
            for (int j = 0; j < D; j++) others &= tg.gi[i * D + j] == 0.0f;
    ok(others && tg.item.n_touched == 4, "no other item row is touched (%lld touched)",
       (long long)tg.item.n_touched);
    /* d_reg adds the same routing */
    test_make_grads(&tg, NU, NI, D);
    for (int i = 0; i < B * D; i++) { dneg[i] = 0.0f; dreg[i] = 1.0f - 0.25f * (float)i; }
    rc = vt->backward(st, &bt, &v, dneg, dreg, &tg.g, &err);
    route_ok = rc == NB_OK;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < D; j++) {
            route_ok &= fabs(tg.gi[pos[b] * D + j] - al[b] * dreg[b * D + j]) < 1e-5;
            route_ok &= fabs(tg.gi[item[b] * D + j] - (1 - al[b]) * dreg[b * D + j]) < 1e-5;
        }
    ok(route_ok, "d_reg routes the same way (into the ego rows)");
    vt->free(st);
    free(err);
}

/* --------------------------------- draws, stats, allocation, threads, NaN */

static void plugin_behaviour(void)
{
    enum { NU = SMALL_U, NI = SMALL_I, D = SMALL_D, B = SMALL_B };
    static test_small_world w;
    test_small_world_make(&w);
    const nb_sampler_vt *vt = mixgcf_vtable();
    nb_value vals[1] = {{.i = 4}};
    void *st[2] = {NULL, NULL};
    char *err = NULL;
    nb_host h4 = *testhost();
    h4.threads = 4;
    if (vt->init(testhost(), vals, &w.tt.t, D, B, 5, &st[0], &err) != NB_OK ||
        vt->init(&h4, vals, &w.tt.t, D, B, 5, &st[1], &err) != NB_OK)
        tap_bail("init: %s", err);
    float vec[2][B * D], regvec[2][B * D];
    int32_t item[2][B], regit[2][B];
    test_grads *tg = calloc(2, sizeof *tg);
    int viol = 0, allocs_delta = 0, rc = 0;
    for (int q = 0; q < 2; q++) {
        nb_negatives out = {vec[q], item[q], 1, regit[q], 0, regvec[q], 0.0};
        rc |= test_small_world_steps(&w, vt, st[q], &out, &tg[q], 1, 1, 6, 4321, &allocs_delta,
                                     &viol, &err);
    }
    is_int(rc, NB_OK, "negatives/backward succeed");
    is_int(allocs_delta, 0, "negatives/backward do not allocate");
    is_int(viol, 0, "never a training positive as base item");
    ok(memcmp(item[0], item[1], sizeof item[0]) == 0 && memcmp(vec[0], vec[1], sizeof vec[0]) == 0 &&
           memcmp(tg[0].gi, tg[1].gi, sizeof tg[0].gi) == 0,
       "1 and 4 threads: identical picks, vectors and gradients");
    const nb_stat *stats;
    int ns;
    vt->epoch_stats(st[0], &stats, &ns);
    is_int(ns, 3, "three statistics");
    ok(ns == 3 && strcmp(stats[0].name, "reject_rate") == 0 && stats[0].value > 0.1 &&
           stats[0].value < 1, "reject_rate in (0.1, 1): %g", stats[0].value);
    ok(ns == 3 && strcmp(stats[1].name, "cand_max_norm") == 0 &&
           strcmp(stats[2].name, "cand_min_norm") == 0 && stats[1].value > stats[2].value &&
           stats[1].value <= 1 && stats[2].value >= 0,
       "cand_max_norm %g > cand_min_norm %g within [0,1]", stats[1].value, stats[2].value);
    vt->epoch_stats(st[0], &stats, &ns);
    ok(stats[0].value == 0 && isnan(stats[1].value), "statistics reset after each call (no batch: NaN)");

    w.I[2 * D + 1] = INFINITY;
    w.I[3 * D + 1] = NAN;
    for (int i = 0; i < NI; i++) w.I[i * D] = NAN;
    nb_negatives out = {vec[0], item[0], 1, regit[0], 0, regvec[0], 0.0};
    free(err);
    test_small_world_nonfinite(&w, vt, st[0], &out, 1, 4321, "NaN embeddings");
    free(tg);
    vt->free(st[0]);
    vt->free(st[1]);
}

/* The float selection (four candidates at a time where d is a multiple of
 * 4) against its loop written out one candidate at a time: the same scores,
 * bit for bit, and the same first argmax, also with ties and a NaN. */
static void selection_f32_bits(void)
{
    enum { RR = 9, DM = 68 };
    static float Iw[RR * DM], uw[DM], pw[DM];
    nb_rng g;
    nb_rng_seed(&g, 5, 0, 0);
    for (int k = 0; k < RR * DM; k++) Iw[k] = (float)(nb_rng_uniform(&g) - 0.5);
    for (int k = 0; k < DM; k++) uw[k] = (float)(nb_rng_uniform(&g) - 0.5), pw[k] = (float)(nb_rng_uniform(&g) - 0.5);
    const int32_t widths[3] = {64, 68, 6};
    const int32_t cand[7] = {4, 1, 8, 4, 0, 7, 2}; /* 4 twice: a tie */
    int bad = 0;
    for (int w = 0; w < 3; w++)
        for (int32_t M = 1; M <= 7; M++)
            for (int nan = 0; nan < 2; nan++) {
                const int32_t d = widths[w];
                if (nan) Iw[8 * d + 1] = NAN; else Iw[8 * d + 1] = 0.25f;
                const float a = 0.3f, be = 1.0f - a;
                double got[7], want[7];
                int32_t best = mixgcf_select_one_f32(d, M, a, uw, pw, Iw, cand, got), wb = -1;
                double bs = 0.0;
                for (int32_t m = 0; m < M; m++) {
                    const float *n = Iw + (int64_t)cand[m] * d;
                    double s4[4] = {0, 0, 0, 0};
                    int32_t j = 0;
                    for (; j + 4 <= d; j += 4)
                        for (int t = 0; t < 4; t++) {
                            float x = a * pw[j + t] + be * n[j + t];
                            s4[t] += (double)uw[j + t] * (double)x;
                        }
                    for (; j < d; j++) {
                        float x = a * pw[j] + be * n[j];
                        s4[0] += (double)uw[j] * (double)x;
                    }
                    want[m] = (s4[0] + s4[1]) + (s4[2] + s4[3]);
                    if (want[m] == want[m] && (wb < 0 || want[m] > bs)) wb = m, bs = want[m];
                    bad += !(got[m] == want[m] || (got[m] != got[m] && want[m] != want[m]));
                }
                bad += best != wb;
            }
    is_int(bad, 0, "float selection = its loop one candidate at a time, bit for bit, and the "
                   "same first argmax (d 64, 68, 6; M 1-7; a tie; a NaN row)");
}

int main(void)
{
    const nb_plugin_desc *pd = nb_plugin_descriptor(0);
    ok(pd && pd->kind == NB_KIND_SAMPLER && strcmp(pd->name, "mixgcf") == 0 &&
           nb_plugin_descriptor(1) == NULL, "descriptor 0 is the sampler mixgcf");
    finite_differences();
    selection();
    selection_f32_bits();
    routing();
    plugin_behaviour();
    return tap_done();
}
