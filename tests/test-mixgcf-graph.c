/*
 * test-mixgcf-graph.c - MixGCF hop mixing on a graph backbone: the double
 * template against the official MixGCF golden step
 * (../shared/golden/mixgcf-lightgcn, 1e-9: propagation, per-layer picks and
 * scores, the pooled synthetic negative, loss and E0 gradients with the
 * official softplus BPR; 1e-8 with the host's -log(1e-10 + sigma)); central
 * finite differences in double of BPR + the squared regulariser on the mixed
 * layer-0 negative through a 2-layer LightGCN propagation, for mean, sum
 * and concat pooling (picks and alphas held fixed); the float plugin on the
 * real lightgcn plugin against the golden (1e-4) and against the double
 * reference for sum and concat pooling (pooling read off the view); the
 * alpha stream, thread-count independence and no allocation on the hot path.
 */
#define nb_plugin_descriptor mixgcf_plugin_descriptor
#include "../plugins/samplers/mixgcf.c"
#undef nb_plugin_descriptor

#define REAL double
#define SUF f64
#include "../plugins/samplers/mixgcf_impl.h"
#undef REAL
#undef SUF

#include "graph_sampler_test.h"

/* The double reference step: LightGCN (pool) on E0, the picks ch [B][nl] and
 * alphas al [B][nl] fixed; BPR (softplus or the host's) on the final rows,
 * the squared regulariser with the mixed layer-0 negative. Returns the loss;
 * dE0 [N][d] (nullable) receives its gradient; vec [B][df] (nullable) the
 * pooled synthetic negatives. */
typedef struct mref {
    int pool, host_bpr;
    double l2;
    double E0[GN * GD];
    double al[GB * GNL];
    int32_t ch[GB * GNL];
} mref;

static double mref_loss(const mref *r, double *dE0, double *vec_out)
{
    int concat = r->pool == LGCN_CONCAT;
    int32_t df = concat ? GNL * GD : GD;
    double c = r->pool == LGCN_MEAN ? 1.0 / GNL : 1.0;
    static double layers[GN * GNL * GD], final[GN * GNL * GD], Gf[GN * GNL * GD],
        Gl[GN * GNL * GD], H0[GN * GD], H1[GN * GD];
    lgcn_forward_f64(&g_graph, NULL, GL, GD, r->pool, r->E0, layers, final);
    const double *Il = layers + (int64_t)GU * GNL * GD, *Iego = r->E0 + GU * GD;
    double vec[GB * GNL * GD], gneg[GB * GNL * GD] = {0}, rv[GB * GD], greg[GB * GD] = {0};
    for (int b = 0; b < GB; b++) {
        mixgcf_pool_mixed_f64(GD, GNL, concat, c, r->al + b * GNL, Il, g_pos[b], r->ch + b * GNL,
                              vec + b * df);
        mixgcf_mix_f64(GD, r->al[b * GNL], Iego + g_pos[b] * GD, Iego + r->ch[b * GNL] * GD,
                       rv + b * GD);
    }
    if (vec_out) memcpy(vec_out, vec, sizeof(double) * GB * df);
    memset(Gf, 0, sizeof Gf);
    memset(Gl, 0, sizeof Gl);
    double loss;
    if (r->host_bpr)
        loss = bpr_loss_grad_f64(GB, df, g_users, g_pos, final, final + GU * df, vec, Gf,
                                 Gf + GU * df, gneg, NULL);
    else
        loss = gs_softplus_bpr(df, final, vec, Gf, gneg);
    if (dE0) memset(dE0, 0, sizeof(double) * GN * GD);
    int32_t dummy[GB] = {0};
    loss += reg_loss_grad_f64(1, r->l2, GB, GD, g_users, g_pos, dummy, 1, rv, r->E0,
                              r->E0 + GU * GD, dE0, dE0 ? dE0 + GU * GD : NULL, greg, NULL);
    if (!dE0) return loss;
    double tmp[GD], *gp[GNL], *gn[GNL];
    double *GlI = Gl + (int64_t)GU * GNL * GD;
    for (int b = 0; b < GB; b++) {
        for (int l = 0; l < GNL; l++) {
            gp[l] = GlI + ((int64_t)g_pos[b] * GNL + l) * GD;
            gn[l] = GlI + ((int64_t)r->ch[b * GNL + l] * GNL + l) * GD;
        }
        mixgcf_route_layers_f64(GD, GNL, concat, c, r->al + b * GNL, gneg + b * df, gp, gn, tmp);
        mixgcf_route_f64(GD, r->al[b * GNL], greg + b * GD, dE0 + (GU + g_pos[b]) * GD,
                         dE0 + (GU + r->ch[b * GNL]) * GD);
    }
    lgcn_backward_f64(&g_graph, NULL, GL, GD, r->pool, Gf, Gl, NULL, 0, H0, H1, dE0);
    return loss;
}

/* The double picks for candidates cand [B][M] on r->E0 (pooled user unless
 * concat). */
static void mref_select(mref *r, int M, const int32_t *cand, double *scores)
{
    static double layers[GN * GNL * GD], final[GN * GNL * GD];
    int concat = r->pool == LGCN_CONCAT;
    int32_t df = concat ? GNL * GD : GD;
    lgcn_forward_f64(&g_graph, NULL, GL, GD, r->pool, r->E0, layers, final);
    int32_t candl[16];
    for (int b = 0; b < GB; b++)
        mixgcf_select_layers_f64(GD, GNL, M, r->al + b * GNL,
                                 concat ? NULL : final + g_users[b] * df, layers,
                                 layers + (int64_t)GU * GNL * GD, g_users[b], g_pos[b],
                                 cand + b * M, candl, scores + b * GNL * M, r->ch + b * GNL);
}

static double fd_cb(void *ctx) { return mref_loss(ctx, NULL, NULL); }

static void test_golden_double(void)
{
    json *j = gs_load("mixgcf-lightgcn", "case1_hops2_M3_mean.json");
    if (!j) { skip_shared(8, "golden %s/mixgcf-lightgcn not readable", tap_golden_dir()); return; }
    static mref r;
    r.pool = LGCN_MEAN;
    r.l2 = gs_num(j, "hyper.l2");
    gs_e0(j, "inputs", r.E0);
    double *al = gs_arr(j, "inputs.alpha", NULL), *cd = gs_arr(j, "inputs.neg_candidates", NULL);
    memcpy(r.al, al, sizeof r.al);
    int32_t cand[GB * 3];
    for (int k = 0; k < GB * 3; k++) cand[k] = (int32_t)cd[k];
    /* propagation */
    static double layers[GN * GNL * GD], final[GN * GD];
    lgcn_forward_f64(&g_graph, NULL, GL, GD, LGCN_MEAN, r.E0, layers, final);
    double *ge = gs_arr(j, "outputs.gcn_embeddings", NULL);
    ok(test_scaled_err(layers, ge, GN * GNL * GD) < 1e-9, "golden: gcn_embeddings to 1e-9 (Ahat without eps)");
    /* per-layer picks and criteria */
    double sc[GB * GNL * 3], want_sc[GB * 3 * GNL], got_sc[GB * 3 * GNL];
    mref_select(&r, 3, cand, sc);
    double *wid = gs_arr(j, "outputs.chosen_item_id", NULL), *wsc = gs_arr(j, "outputs.scores", NULL);
    int same = 1;
    for (int k = 0; k < GB * GNL; k++) same &= r.ch[k] == (int32_t)wid[k];
    ok(same, "golden: chosen_item_id per (row, layer), row 2 picks differ by layer");
    for (int b = 0; b < GB; b++)
        for (int m = 0; m < 3; m++)
            for (int l = 0; l < GNL; l++) {
                got_sc[(b * 3 + m) * GNL + l] = sc[(b * GNL + l) * 3 + m];
                want_sc[(b * 3 + m) * GNL + l] = wsc[(b * 3 + m) * GNL + l];
            }
    ok(test_scaled_err(got_sc, want_sc, GB * 3 * GNL) < 1e-9, "golden: scores[B][M][L+1] with the pooled user to 1e-9 (%.2g)",
       test_scaled_err(got_sc, want_sc, GB * 3 * GNL));
    /* pooled negative, loss, gradients */
    double vec[GB * GD], dE0[GN * GD];
    double loss = mref_loss(&r, dE0, vec);
    double *wv = gs_arr(j, "outputs.mixed_negative_pooled", NULL);
    ok(test_scaled_err(vec, wv, GB * GD) < 1e-9, "golden: mixed_negative_pooled to 1e-9 (%.2g)", test_scaled_err(vec, wv, GB * GD));
    double lt = gs_num(j, "outputs.loss_total");
    is_close(loss, lt, 0, 1e-9, "golden: loss_total %.12g (softplus BPR + squared reg on n'^(0))", lt);
    double gw[GN * GD];
    gs_e0(j, "outputs.grad_total", gw);
    ok(test_scaled_err(dE0, gw, GU * GD) < 1e-9 && test_scaled_err(dE0 + GU * GD, gw + GU * GD, GI * GD) < 1e-9,
       "golden: grad_total U, I to 1e-9 (%.2g, %.2g)", test_scaled_err(dE0, gw, GU * GD),
       test_scaled_err(dE0 + GU * GD, gw + GU * GD, GI * GD));
    r.host_bpr = 1;
    double lh = mref_loss(&r, dE0, NULL);
    is_close(lh, lt, 0, 1e-9, "golden: loss_total with the host's -log(1e-10+sigma) BPR");
    ok(test_scaled_err(dE0, gw, GU * GD) < 1e-8 && test_scaled_err(dE0 + GU * GD, gw + GU * GD, GI * GD) < 1e-8,
       "golden: grad_total U, I with the host BPR to 1e-8 (%.2g, %.2g)", test_scaled_err(dE0, gw, GU * GD),
       test_scaled_err(dE0 + GU * GD, gw + GU * GD, GI * GD));
    free(al); free(cd); free(ge); free(wid); free(wsc); free(wv);
    json_free(j);
}

static void test_fd(void)
{
    static const int pools[3] = {LGCN_MEAN, LGCN_SUM, LGCN_CONCAT};
    static const char *names[3] = {"mean", "sum", "concat"};
    nb_rng rg;
    nb_rng_seed(&rg, 31, 0, 0);
    int32_t cand[GB * 4] = {3, 5, 0, 6, 1, 6, 3, 1, 0, 3, 2, 4, 6, 4, 3, 0};
    for (int q = 0; q < 3; q++) {
        static mref r;
        r.pool = pools[q];
        r.host_bpr = 1;
        r.l2 = 0.05;
        for (int k = 0; k < GN * GD; k++) r.E0[k] = nb_rng_uniform(&rg) - 0.5;
        for (int k = 0; k < GB * GNL; k++) r.al[k] = nb_rng_uniform(&rg);
        double sc[GB * GNL * 4];
        mref_select(&r, 4, cand, sc);
        int differ = gs_picks_differ(r.ch);
        double dE0[GN * GD], worst = 0, gmax = 0;
        mref_loss(&r, dE0, NULL);
        worst = fd_worst(fd_cb, &r, r.E0, dE0, GN * GD, 1e-6, &gmax);
        ok(worst < 1e-6 && gmax > 1e-3 && differ,
           "FD (L=2, %s, per-layer picks differ): every E0 entry, max rel err %.2g", names[q], worst);
    }
}

static const nb_sampler_vt *mix_vt(void)
{
    return (const nb_sampler_vt *)mixgcf_plugin_descriptor(0)->vtable;
}

/* The float plugin on the lightgcn plugin. */
static void test_plugin(void)
{
    json *j = gs_load("mixgcf-lightgcn", "case1_hops2_M3_mean.json");
    if (!j) { skip_shared(10, "golden %s/mixgcf-lightgcn not readable", tap_golden_dir()); return; }
    static mref r;
    r.pool = LGCN_MEAN;
    r.l2 = gs_num(j, "hyper.l2");
    gs_e0(j, "inputs", r.E0);
    double *al = gs_arr(j, "inputs.alpha", NULL), *cd = gs_arr(j, "inputs.neg_candidates", NULL);
    float alf[GB * GNL];
    int32_t cand[GB * 3];
    for (int k = 0; k < GB * GNL; k++) alf[k] = (float)al[k];
    for (int k = 0; k < GB * 3; k++) cand[k] = (int32_t)cd[k];
    void *mst = gs_lgcn_new(LGCN_MEAN, r.E0);
    nb_value vals[1] = {{.i = 3}};
    void *sst = NULL;
    char *err = NULL;
    if (mix_vt()->init(testhost(), vals, &g_tiny.t, GD, GB, 1, &sst, &err) != NB_OK)
        tap_bail("mixgcf init: %s", err);
    mixgcf_state *s = sst;
    s->test_cand = cand;
    s->test_alpha = alf;
    float vec[GB * 3 * GD], regvec[GB * GD];
    int32_t item[GB], regit[GB];
    nb_negatives out = {vec, item, 1, regit, 0, regvec, 0.0};
    double loss = gs_step(mix_vt(), sst, mst, 0, r.l2, &out, &err);
    ok(out.use_reg_vec == 1 && s->vl.pool == NB_POOL_MEAN && s->vl.e == GD,
       "plugin: mean pooling read off the lightgcn view, use_reg_vec = 1");
    double *wid = gs_arr(j, "outputs.chosen_item_id", NULL);
    int same = 1;
    for (int b = 0; b < GB; b++) {
        for (int l = 0; l < GNL; l++) same &= s->negl[b * (NB_VIEW_MAX_LAYERS + 1) + l] == (int32_t)wid[b * GNL + l];
        same &= item[b] == (int32_t)wid[b * GNL] && regit[b] == item[b];
    }
    ok(same, "plugin: per-layer picks = golden, item/reg_items = the layer-0 pick");
    is_close(loss, gs_num(j, "outputs.loss_total"), 0, 1e-4, "plugin: loss_total to 1e-4 (%s)",
             err ? err : "ok");
    double pg[GN * GD], gw[GN * GD];
    gs_lgcn_e0grad(mst, pg);
    gs_e0(j, "outputs.grad_total", gw);
    ok(test_scaled_err(pg, gw, GU * GD) < 1e-4 && test_scaled_err(pg + GU * GD, gw + GU * GD, GI * GD) < 1e-4,
       "plugin + lightgcn backward: E0 gradients = golden grad_total to 1e-4 (%.2g, %.2g)",
       test_scaled_err(pg, gw, GU * GD), test_scaled_err(pg + GU * GD, gw + GU * GD, GI * GD));
    mix_vt()->free(sst);
    gs_lgcn()->free(mst);
    free(al); free(cd); free(wid);
    json_free(j);

    /* sum and concat pooling, alphas from the stream: vs the double reference */
    static const int pools[2] = {LGCN_SUM, LGCN_CONCAT};
    for (int q = 0; q < 2; q++) {
        int32_t df = pools[q] == LGCN_CONCAT ? GNL * GD : GD;
        mst = gs_lgcn_new(pools[q], NULL);
        gs_lgcn_e0(mst, r.E0);
        r.pool = pools[q];
        r.host_bpr = 1;
        r.l2 = 0.01;
        vals[0].i = 4;
        void *st[2];
        nb_host h4 = *testhost();
        h4.threads = 4;
        mix_vt()->init(df == GD ? testhost() : &h4, vals, &g_tiny.t, df, GB, 1, &st[0], &err);
        double l = gs_step(mix_vt(), st[0], mst, 2, r.l2, &out, &err);
        s = st[0];
        for (int b = 0; b < GB; b++)
            for (int k = 0; k < GNL; k++) {
                r.al[b * GNL + k] = s->alphal[b * (NB_VIEW_MAX_LAYERS + 1) + k];
                r.ch[b * GNL + k] = s->negl[b * (NB_VIEW_MAX_LAYERS + 1) + k];
            }
        float a0 = mixgcf_alpha(2020, 2, 1);
        double vref[GB * 3 * GD], dref[GN * GD], dE0[GN * GD];
        double lref = mref_loss(&r, dref, vref);
        double vgot[GB * 3 * GD];
        for (int k = 0; k < GB * df; k++) vgot[k] = vec[k];
        gs_lgcn_e0grad(mst, dE0);
        /* the picks of the double template on the same (float-exact) inputs */
        int32_t keep[GB * GNL];
        memcpy(keep, r.ch, sizeof keep);
        double sc[GB * GNL * 4];
        mref_select(&r, 4, s->cand, sc);
        ok(memcmp(keep, r.ch, sizeof keep) == 0 && s->vl.pool == (q ? NB_POOL_CONCAT : NB_POOL_SUM) &&
               r.al[GNL] == a0 && r.al[GNL + 1] != r.al[GNL],
           "plugin (%s): pooling detected, picks = double template, alpha_{b,0} = the MF stream",
           q ? "concat" : "sum");
        ok(test_scaled_err(vgot, vref, GB * df) < 1e-5 && fabs(l - lref) < 1e-5 * fabs(lref) &&
               test_scaled_err(dE0, dref, GN * GD) < 1e-4,
           "plugin (%s): negative, loss and E0 gradients = double reference (%.2g, %.2g)",
           q ? "concat" : "sum", test_scaled_err(vgot, vref, GB * df), test_scaled_err(dE0, dref, GN * GD));
        /* thread count and allocation: a fresh pair of model + sampler */
        void *m2 = gs_lgcn_new(pools[q], r.E0);
        mix_vt()->init(df == GD ? &h4 : testhost(), vals, &g_tiny.t, df, GB, 1, &st[1], &err);
        float vec2[GB * 3 * GD], rv2[GB * GD];
        int32_t it2[GB], ri2[GB];
        nb_negatives o2 = {vec2, it2, 1, ri2, 0, rv2, 0.0};
        long a = testhost_allocs();
        gs_step(mix_vt(), st[1], m2, 2, r.l2, &o2, &err);
        double dE1[GN * GD];
        gs_lgcn_e0grad(m2, dE1);
        ok(testhost_allocs() == a && memcmp(vec, vec2, sizeof(float) * GB * df) == 0 &&
               memcmp(dE0, dE1, sizeof dE0) == 0,
           "plugin (%s): 1 and 4 threads identical, no allocation in the step", q ? "concat" : "sum");
        mix_vt()->free(st[0]);
        mix_vt()->free(st[1]);
        gs_lgcn()->free(mst);
        gs_lgcn()->free(m2);
    }
    free(err);
}

int main(void)
{
    gs_setup();
    test_golden_double();
    test_fd();
    test_plugin();
    graph_free(&g_graph);
    return tap_done();
}
