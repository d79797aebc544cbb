/*
 * test-dens-graph.c - DENS per-layer selection on a graph backbone: the
 * double template against the official DENS golden steps with context_hops
 * 2 (../shared/golden/dens-lightgcn, beta 0.3 and 1; 1e-9: per-layer gates,
 * criteria and picks with each layer's own u^(l), T1..T4 on pooled gated
 * vectors, loss and every gradient, E0 through the propagation and the four
 * gates, with the official softplus BPR; 1e-8 with the host's BPR); central
 * finite differences in double of the whole loss (picks held fixed) w.r.t.
 * E0 and the gates for mean and sum pooling; the float plugin on the real
 * lightgcn plugin against the golden (1e-4); concat views refused; thread
 * count independence and no allocation on the hot path.
 */
#define nb_plugin_descriptor dens_plugin_descriptor
#include "../plugins/samplers/dens.c"
#undef nb_plugin_descriptor

#define REAL double
#define SUF f64
#include "../plugins/samplers/dens_impl.h"
#undef REAL
#undef SUF

#include "graph_sampler_test.h"

static const char *gate_key[DENS_N_GW] = {
    "W_user_gate", "b_user_gate", "W_item_gate", "b_item_gate",
    "W_pos_gate", "b_pos_gate", "W_neg_gate", "b_neg_gate"};
static int64_t gw_len(int k) { return k % 2 == 0 ? GD * GD : GD; }

/* The double reference: LightGCN (mean or sum) on E0, gates gw, fixed picks
 * ch [B][nl]; BPR (softplus or host) on pooled rows + squared reg on ego rows
 * (layer-0 pick) + gamma/4 (T1..T4). Returns the loss; dE0 and dgw
 * (nullable) receive the gradients, t[4] the batch means of T1..T4. */
typedef struct dref {
    int pool, host_bpr;
    double l2, gamma;
    double E0[GN * GD];
    double gwv[DENS_N_GW][GD * GD];
    int32_t ch[GB * GNL];
} dref;

static void idx_build(const dref *r, int32_t *ui, int32_t *pi, int32_t *ni)
{
    for (int b = 0; b < GB; b++)
        for (int l = 0; l < GNL; l++) {
            ui[b * GNL + l] = g_users[b] * GNL + l;
            pi[b * GNL + l] = (GU + g_pos[b]) * GNL + l;      /* rows of the node stack */
            ni[b * GNL + l] = (GU + r->ch[b * GNL + l]) * GNL + l;
        }
}

static double dref_loss(const dref *r, double *dE0, double **dgw, double *t)
{
    double c = r->pool == LGCN_MEAN ? 1.0 / GNL : 1.0;
    static double layers[GN * GNL * GD], final[GN * GD], Gf[GN * GD], Gl[GN * GNL * GD],
        H0[GN * GD], H1[GN * GD];
    lgcn_forward_f64(&g_graph, NULL, GL, GD, r->pool, r->E0, layers, final);
    const double *gw[DENS_N_GW];
    for (int k = 0; k < DENS_N_GW; k++) gw[k] = r->gwv[k];
    int32_t ui[GB * GNL], pi[GB * GNL], ni[GB * GNL];
    idx_build(r, ui, pi, ni);
    double vec[GB * GD], gneg[GB * GD] = {0};
    for (int b = 0; b < GB; b++)
        for (int j = 0; j < GD; j++) {
            double a = 0;
            for (int l = 0; l < GNL; l++) a += layers[(int64_t)ni[b * GNL + l] * GD + j];
            vec[b * GD + j] = c * a;
        }
    memset(Gf, 0, sizeof Gf);
    memset(Gl, 0, sizeof Gl);
    double loss = r->host_bpr ? bpr_loss_grad_f64(GB, GD, g_users, g_pos, final, final + GU * GD,
                                                  vec, Gf, Gf + GU * GD, gneg, NULL)
                              : gs_softplus_bpr(GD, final, vec, Gf, gneg);
    if (dE0) memset(dE0, 0, sizeof(double) * GN * GD);
    int32_t n0[GB];
    for (int b = 0; b < GB; b++) n0[b] = r->ch[b * GNL];
    loss += reg_loss_grad_f64(1, r->l2, GB, GD, g_users, g_pos, n0, 1, NULL, r->E0, r->E0 + GU * GD,
                              dE0, dE0 ? dE0 + GU * GD : NULL, NULL, NULL);
    double work[3 * GNL * GD + 13 * GD], lossb[GB], tb[4 * GB];
    double gu[GB * GNL * GD], gp[GB * GNL * GD], gn[GB * GNL * GD], ga[GB * GNL * GD],
        gc[GB * GNL * GD], pr[GB * GNL * GD];
    const double *rows[3 * GNL];
    loss += dens_aux_graph_batch_f64(GB, GNL, GD, c, r->gamma, gw, layers, layers, ui, pi, ni, 1,
                                     work, rows, lossb, tb, t, gu, gp, gn, ga, gc, pr);
    if (!dE0) return loss;
    for (int b = 0; b < GB; b++)
        for (int l = 0; l < GNL; l++)
            for (int j = 0; j < GD; j++) {
                int64_t q = (int64_t)(b * GNL + l) * GD + j;
                Gl[(int64_t)ni[b * GNL + l] * GD + j] += c * gneg[b * GD + j] + gn[q];
                Gl[(int64_t)ui[b * GNL + l] * GD + j] += gu[q];
                Gl[(int64_t)pi[b * GNL + l] * GD + j] += gp[q];
            }
    lgcn_backward_f64(&g_graph, NULL, GL, GD, r->pool, Gf, Gl, NULL, 0, H0, H1, dE0);
    if (dgw) {
        for (int k = 0; k < DENS_N_GW; k++) memset(dgw[k], 0, sizeof(double) * gw_len(k));
        dens_aux_wgrad_f64(GB * GNL, 1, GD, layers, layers, ui, pi, ni, ga, gc, pr, 1, dgw);
    }
    return loss;
}

/* Per-layer picks (each layer with its own u^(l)) for candidates cand [B][M]. */
static void dref_select(dref *r, int M, const int32_t *cand, double beta, double *scores,
                        double *gate_p, double *gate_n)
{
    static double layers[GN * GNL * GD], final[GN * GD];
    lgcn_forward_f64(&g_graph, NULL, GL, GD, r->pool, r->E0, layers, final);
    const double *gw[DENS_N_GW];
    for (int k = 0; k < DENS_N_GW; k++) gw[k] = r->gwv[k];
    int32_t ui[GB * GNL], pi[GB * GNL], ni[GB * GNL], cl[GB * GNL * 8], ms[GB * GNL];
    idx_build(r, ui, pi, ni);
    for (int q = 0; q < GB * GNL; q++)
        for (int m = 0; m < M; m++) cl[q * M + m] = (GU + cand[(q / GNL) * M + m]) * GNL + q % GNL;
    double work[3 * GD];
    dens_select_batch_f64(GB * GNL, 1, M, GD, beta, gw, layers, layers, ui, pi, cl, 1, work,
                          scores, gate_p, gate_n, ms);
    for (int q = 0; q < GB * GNL; q++) r->ch[q] = cand[(q / GNL) * M + ms[q]];
}

static void load_ref(json *j, dref *r)
{
    r->pool = LGCN_MEAN;
    r->l2 = gs_num(j, "hyper.l2");
    r->gamma = gs_num(j, "hyper.gamma");
    gs_e0(j, "inputs", r->E0);
    for (int k = 0; k < DENS_N_GW; k++) {
        char key[64];
        snprintf(key, sizeof key, "inputs.%s", gate_key[k]);
        double *a = gs_arr(j, key, NULL);
        memcpy(r->gwv[k], a, sizeof(double) * gw_len(k));
        free(a);
    }
}

static void test_golden_double(const char *file)
{
    json *j = gs_load("dens-lightgcn", file);
    if (!j) { skip_shared(7, "golden %s/dens-lightgcn/%s not readable", tap_golden_dir(), file); return; }
    static dref r;
    load_ref(j, &r);
    double beta = gs_num(j, "hyper.beta"), *cd = gs_arr(j, "inputs.neg_items", NULL);
    int32_t cand[GB * 3];
    for (int k = 0; k < GB * 3; k++) cand[k] = (int32_t)cd[k];
    double sc[GB * GNL * 3], gp[GB * GNL * GD], gn[GB * GNL * 3 * GD];
    dref_select(&r, 3, cand, beta, sc, gp, gn);
    double *wid = gs_arr(j, "outputs.chosen_item_id", NULL);
    double *wsc = gs_arr(j, "outputs.intermediates.selection.k0.scores", NULL);
    double *wgp = gs_arr(j, "outputs.intermediates.selection.k0.gate_p", NULL);
    double *wgn = gs_arr(j, "outputs.intermediates.selection.k0.gate_n", NULL);
    int same = 1;
    for (int k = 0; k < GB * GNL; k++) same &= r.ch[k] == (int32_t)wid[k];
    double s2[GB * 3 * GNL], g2[GB * 3 * GNL * GD];
    for (int b = 0; b < GB; b++)
        for (int m = 0; m < 3; m++)
            for (int l = 0; l < GNL; l++) {
                s2[(b * 3 + m) * GNL + l] = sc[(b * GNL + l) * 3 + m];
                for (int k = 0; k < GD; k++)
                    g2[((b * 3 + m) * GNL + l) * GD + k] = gn[((b * GNL + l) * 3 + m) * GD + k];
            }
    ok(same && test_scaled_err(s2, wsc, GB * 3 * GNL) < 1e-9 && test_scaled_err(gp, wgp, GB * GNL * GD) < 1e-9 &&
           test_scaled_err(g2, wgn, GB * 3 * GNL * GD) < 1e-9,
       "%s: per-layer picks, scores (own u^(l)), gate_p, gate_n to 1e-9 (%.2g)", file,
       test_scaled_err(s2, wsc, GB * 3 * GNL));
    double dE0[GN * GD], gwg[DENS_N_GW][GD * GD], *dgw[DENS_N_GW], t[4];
    for (int k = 0; k < DENS_N_GW; k++) dgw[k] = gwg[k];
    double loss = dref_loss(&r, dE0, dgw, t);
    static const char *tk[4] = {"outputs.T1", "outputs.T2", "outputs.T3", "outputs.T4"};
    double terr = 0;
    for (int q = 0; q < 4; q++) terr = fmax(terr, fabs(t[q] / gs_num(j, tk[q]) - 1));
    ok(terr < 1e-9, "%s: T1..T4 on pooled gated vectors to 1e-9 (%.2g)", file, terr);
    is_close(loss, gs_num(j, "outputs.loss_total"), 0, 1e-9, "%s: loss_total (softplus BPR)", file);
    double gw0[GN * GD];
    gs_e0(j, "outputs.grad_total", gw0);
    ok(test_scaled_err(dE0, gw0, GU * GD) < 1e-9 && test_scaled_err(dE0 + GU * GD, gw0 + GU * GD, GI * GD) < 1e-9,
       "%s: grad_total U, I through the propagation to 1e-9 (%.2g, %.2g)", file,
       test_scaled_err(dE0, gw0, GU * GD), test_scaled_err(dE0 + GU * GD, gw0 + GU * GD, GI * GD));
    double werr = 0;
    for (int k = 0; k < DENS_N_GW; k++) {
        char key[64];
        snprintf(key, sizeof key, "outputs.grad_total.%s", gate_key[k]);
        double *w = gs_arr(j, key, NULL);
        werr = fmax(werr, test_scaled_err(dgw[k], w, (size_t)gw_len(k)));
        free(w);
    }
    ok(werr < 1e-9, "%s: the eight gate gradients to 1e-9 (%.2g)", file, werr);
    r.host_bpr = 1;
    double lh = dref_loss(&r, dE0, NULL, NULL);
    is_close(lh, gs_num(j, "outputs.loss_total"), 0, 1e-9, "%s: loss_total with the host BPR", file);
    ok(test_scaled_err(dE0, gw0, GU * GD) < 1e-8 && test_scaled_err(dE0 + GU * GD, gw0 + GU * GD, GI * GD) < 1e-8,
       "%s: grad_total U, I with the host BPR to 1e-8", file);
    free(cd); free(wid); free(wsc); free(wgp); free(wgn);
    json_free(j);
}

static double fd_cb(void *ctx) { return dref_loss(ctx, NULL, NULL, NULL); }

static void test_fd(void)
{
    static const int pools[2] = {LGCN_MEAN, LGCN_SUM};
    nb_rng rg;
    nb_rng_seed(&rg, 41, 0, 0);
    int32_t cand[GB * 4] = {3, 5, 0, 6, 0, 6, 3, 1, 0, 3, 2, 4, 6, 4, 3, 0};
    for (int q = 0; q < 2; q++) {
        static dref r;
        r.pool = pools[q];
        r.host_bpr = 1;
        r.l2 = 0.05;
        r.gamma = 0.7;
        for (int k = 0; k < GN * GD; k++) r.E0[k] = nb_rng_uniform(&rg) - 0.5;
        for (int k = 0; k < DENS_N_GW; k++)
            for (int i = 0; i < gw_len(k); i++) r.gwv[k][i] = nb_rng_uniform(&rg) - 0.5;
        double sc[GB * GNL * 4];
        dref_select(&r, 4, cand, 0.4, sc, NULL, NULL);
        int differ = gs_picks_differ(r.ch);
        double dE0[GN * GD], gwg[DENS_N_GW][GD * GD], *dgw[DENS_N_GW], worst = 0, gmax = 0;
        for (int k = 0; k < DENS_N_GW; k++) dgw[k] = gwg[k];
        dref_loss(&r, dE0, dgw, NULL);
        worst = fd_worst(fd_cb, &r, r.E0, dE0, GN * GD, 1e-6, &gmax);
        double wworst = 0;
        for (int k = 0; k < DENS_N_GW; k++) {
            double wmax = 0;
            for (int i = 0; i < gw_len(k); i++) wmax = fmax(wmax, fabs(dgw[k][i]));
            for (int i = 0; i < gw_len(k); i++) {
                double fd = fd_central(fd_cb, &r, &r.gwv[k][i], 1e-5);
                wworst = fmax(wworst, fabs(fd - dgw[k][i]) / fmax(fabs(dgw[k][i]), 1e-2 * wmax + 1e-9));
            }
        }
        ok(worst < 1e-6 && wworst < 1e-6 && gmax > 1e-3 && differ,
           "FD (L=2, %s, per-layer picks differ): E0 %.2g, gates %.2g", q ? "sum" : "mean", worst,
           wworst);
    }
}

static const nb_sampler_vt *dens_vt_get(void)
{
    return (const nb_sampler_vt *)dens_plugin_descriptor(0)->vtable;
}

static void test_plugin(const char *file)
{
    json *j = gs_load("dens-lightgcn", file);
    if (!j) { skip_shared(4, "golden %s/dens-lightgcn/%s not readable", tap_golden_dir(), file); return; }
    static dref r;
    load_ref(j, &r);
    double *cd = gs_arr(j, "inputs.neg_items", NULL), *wid = gs_arr(j, "outputs.chosen_item_id", NULL);
    int32_t cand[GB * 3];
    for (int k = 0; k < GB * 3; k++) cand[k] = (int32_t)cd[k];
    int32_t epoch = (int32_t)gs_num(j, "hyper.cur_epoch");
    void *st[2], *mst[2];
    nb_host h4 = *testhost();
    h4.threads = 4;
    nb_value vals[4] = {{.i = 3}, {.f = r.gamma}, {.i = (int64_t)gs_num(j, "hyper.warmup")}, {.i = 0}};
    float vec[2][GB * GD], rv[GB * GD];
    int32_t item[2][GB], regit[GB];
    double loss[2], pg[2][GN * GD];
    float wg[2][DENS_N_GW][GD * GD];
    memset(wg, 0, sizeof wg);
    char *err = NULL;
    long allocs = 0;
    for (int q = 0; q < 2; q++) {
        mst[q] = gs_lgcn_new(LGCN_MEAN, r.E0);
        if (dens_vt_get()->init(q ? &h4 : testhost(), vals, &g_tiny.t, GD, GB, 1, &st[q], &err) != NB_OK)
            tap_bail("dens init: %s", err);
        dens_state *s = st[q];
        s->test_cand = cand;
        for (int k = 0; k < DENS_N_GW; k++)
            for (int i = 0; i < gw_len(k); i++) s->val[k][i] = (float)r.gwv[k][i];
        nb_negatives out = {vec[q], item[q], 1, regit, 0, rv, 0.0};
        long a = testhost_allocs();
        loss[q] = gs_step(dens_vt_get(), st[q], mst[q], epoch, r.l2, &out, &err);
        allocs += testhost_allocs() - a;
        gs_lgcn_e0grad(mst[q], pg[q]);
        for (int k = 0; k < DENS_N_GW; k++)
            for (int i = 0; i < gw_len(k); i++) wg[q][k][i] = s->grad[k][i];
    }
    dens_state *s = st[0];
    int same = s->vl.pool == NB_POOL_MEAN;
    for (int b = 0; b < GB; b++) {
        for (int l = 0; l < GNL; l++) same &= s->negl[b * GNL + l] == (int32_t)wid[b * GNL + l];
        same &= item[0][b] == (int32_t)wid[b * GNL] && regit[b] == item[0][b];
    }
    ok(same, "%s: plugin on lightgcn: mean pooling detected, per-layer picks = golden", file);
    is_close(loss[0], gs_num(j, "outputs.loss_total"), 0, 1e-4, "%s: plugin loss_total to 1e-4 (%s)",
             file, err ? err : "ok");
    double gw0[GN * GD], werr = 0;
    gs_e0(j, "outputs.grad_total", gw0);
    for (int k = 0; k < DENS_N_GW; k++) {
        char key[64];
        snprintf(key, sizeof key, "outputs.grad_total.%s", gate_key[k]);
        double *w = gs_arr(j, key, NULL), got[GD * GD];
        for (int i = 0; i < gw_len(k); i++) got[i] = wg[0][k][i];
        werr = fmax(werr, test_scaled_err(got, w, (size_t)gw_len(k)));
        free(w);
    }
    ok(test_scaled_err(pg[0], gw0, GU * GD) < 1e-4 && test_scaled_err(pg[0] + GU * GD, gw0 + GU * GD, GI * GD) < 1e-4 &&
           werr < 1e-4,
       "%s: plugin + lightgcn backward: E0 and gate gradients = golden to 1e-4 (%.2g, %.2g, %.2g)",
       file, test_scaled_err(pg[0], gw0, GU * GD), test_scaled_err(pg[0] + GU * GD, gw0 + GU * GD, GI * GD), werr);
    ok(allocs == 0 && memcmp(vec[0], vec[1], sizeof vec[0]) == 0 && loss[0] == loss[1] &&
           memcmp(pg[0], pg[1], sizeof pg[0]) == 0 && memcmp(wg[0], wg[1], sizeof wg[0]) == 0,
       "%s: 1 and 4 threads identical, no allocation in the step", file);
    for (int q = 0; q < 2; q++) {
        dens_vt_get()->free(st[q]);
        gs_lgcn()->free(mst[q]);
    }
    free(cd); free(wid); free(err);
    json_free(j);
}

/* The batched graph selection (eight pairs or candidates in the lanes,
 * gates kept) against the per-pair reference, in double on random layer
 * rows with sizes that leave partial lane groups (Q = 37 pairs, M = 11, d =
 * 10): the same picks, criteria and gates to 1e-13, and the gating loss and
 * its gradients from the kept gates equal to those that run the gates. */
static void test_batched_selection(void)
{
    enum { Q = 37, M = 11, D = 10, ROWS = 60, NLB = 3 };
    nb_rng rg;
    nb_rng_seed(&rg, 7, 1, 2);
    static double U[ROWS * D], I[ROWS * D], gwv[DENS_N_GW][D * D], wd[4 * D * D];
    const double *gw[DENS_N_GW];
    for (int k = 0; k < ROWS * D; k++) { U[k] = nb_rng_uniform(&rg) - 0.5; I[k] = nb_rng_uniform(&rg) - 0.5; }
    for (int k = 0; k < DENS_N_GW; k++) {
        for (int i = 0; i < D * D; i++) gwv[k][i] = 2.0 * nb_rng_uniform(&rg) - 1.0;
        gw[k] = gwv[k];
    }
    int32_t ui[Q], pi[Q], cl[Q * M], ch0[Q], ch1[Q];
    for (int q = 0; q < Q; q++) {
        ui[q] = (int32_t)(nb_rng_uniform(&rg) * ROWS);
        pi[q] = (int32_t)(nb_rng_uniform(&rg) * ROWS);
        for (int m = 0; m < M; m++) cl[q * M + m] = (int32_t)(nb_rng_uniform(&rg) * ROWS);
    }
    static double sc0[Q * M], sc1[Q * M], gp0[Q * D], gn0[Q * M * D], cgp[Q * D], cpr[Q * D],
        cgn[Q * D], work[2 * 64 * D];
    dens_gates_double_f64(D, gw, wd);
    int64_t b0 = dens_select_batch_f64(Q, 1, M, D, 0.3, gw, U, I, ui, pi, cl, 1, work, sc0, gp0,
                                       gn0, ch0);
    int64_t b1 = dens_select_graph_batch_f64(Q, M, D, 0.3, gw, wd, U, I, ui, pi, cl, 2, work, sc1,
                                             ch1, cgp, cpr, cgn);
    double es = 0, eg = 0;
    int same = b0 == 0 && b1 == 0;
    for (int q = 0; q < Q; q++) {
        same &= ch0[q] == ch1[q];
        for (int m = 0; m < M; m++)
            es = fmax(es, fabs(sc0[q * M + m] - sc1[q * M + m]) / fmax(fabs(sc0[q * M + m]), 1e-3));
        for (int j = 0; j < D; j++) {
            eg = fmax(eg, fabs(gp0[q * D + j] - cgp[q * D + j]));
            eg = fmax(eg, fabs(I[pi[q] * D + j] * gp0[q * D + j] - cpr[q * D + j]));
            eg = fmax(eg, fabs(gn0[((int64_t)q * M + ch0[q]) * D + j] - cgn[q * D + j]));
        }
    }
    ok(same && es < 1e-13 && eg < 1e-13,
       "batched graph selection = per-pair reference: picks, criteria (%.2g), kept gates (%.2g)",
       es, eg);
    /* the gating loss over Q / NLB positives of NLB layers, gates run or kept */
    enum { BB = Q / NLB };
    int32_t ni[Q];
    for (int q = 0; q < Q; q++) ni[q] = cl[q * M + ch1[q]];
    static double aw[2 * (3 * NLB * D + 13 * D)], lb[2][BB], tb[2][4 * BB];
    static double g[2][6][BB * NLB * D];
    const double *rows[2 * 3 * NLB];
    double l0 = dens_aux_graph_batch_f64(BB, NLB, D, 0.5, 0.3, gw, U, I, ui, pi, ni, 1, aw, rows,
                                         lb[0], tb[0], NULL, g[0][0], g[0][1], g[0][2], g[0][3],
                                         g[0][4], g[0][5]);
    double l1 = dens_aux_graph_batch_ex_f64(BB, NLB, D, 0.5, 0.3, gw, U, I, ui, pi, ni, cgp, cpr,
                                            cgn, wd, 2, aw, rows, lb[1], tb[1], NULL, g[1][0], g[1][1],
                                            g[1][2], g[1][3], g[1][4], g[1][5]);
    double ea = 0;
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < BB * NLB * D; i++)
            ea = fmax(ea, fabs(g[0][k][i] - g[1][k][i]) / fmax(fabs(g[0][k][i]), 1e-6));
    ok(fabs(l0 - l1) <= 1e-13 * fabs(l0) && ea < 1e-11,
       "gating loss from the kept gates = with the gates run (loss %.3g vs %.3g, grads %.2g)", l0,
       l1, ea);
}

/* A concat view (df = (L+1) d) is refused with a message. */
static void test_concat_refused(void)
{
    void *mst = gs_lgcn_new(LGCN_CONCAT, NULL), *st = NULL;
    nb_value vals[4] = {{.i = 3}, {.f = 0.3}, {.i = 100}, {.i = 0}};
    char *err = NULL;
    dens_vt_get()->init(testhost(), vals, &g_tiny.t, GNL * GD, GB, 1, &st, &err);
    float vec[GB * GNL * GD], rv[GB * GD];
    int32_t item[GB], regit[GB];
    nb_negatives out = {vec, item, 1, regit, 0, rv, 0.0};
    double l = gs_step(dens_vt_get(), st, mst, 0, 0.0, &out, &err);
    ok(isnan(l) && err && strstr(err, "concatenates"), "concat view refused: %s", err ? err : "(none)");
    free(err);
    dens_vt_get()->free(st);
    gs_lgcn()->free(mst);
}

int main(void)
{
    (void)dens_aux_batch_f64; /* the MF batch path is test-dens's */
    gs_setup();
    test_golden_double("case1_hops2_beta0.3.json");
    test_golden_double("case2_hops2_beta1.json");
    test_fd();
    test_plugin("case1_hops2_beta0.3.json");
    test_plugin("case2_hops2_beta1.json");
    test_concat_refused();
    test_batched_selection();
    graph_free(&g_graph);
    return tap_done();
}
