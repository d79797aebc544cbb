/*
 * test-sgl.c - the SGL backbone: the double instantiation of sgl_impl.h
 * against central finite differences (the SSL loss through both views'
 * 2-layer propagations, fixed dropped graphs, ED and per-layer RW graphs,
 * repeated anchors, chunked and blocked score passes, fixed and row-maximum
 * shifts), the float kernel against the double one, and against the
 * RecBole golden vectors (../shared/golden/sgl, 1e-9): views, embeddings,
 * ssl_user / ssl_item and their gradients, and loss_total / grad_total with
 * a test-local SUM BPR and the host's EmbLoss. The float plugin through its
 * vtable (1e-4) with the host's MEAN BPR; views reproducible from the seed
 * and different across epochs (ED, ND, RW); no host allocation per step.
 *
 * The training graph keeps RecBole's PAD user 0 and PAD item 0 as isolated
 * nodes, so node ids equal the golden files' and the InfoNCE denominators
 * include the PAD rows as RecBole's do.
 */
#include "negbench/graph.h"
#include "negbench/plugin.h"
#include "bpr.h"
#include "json.h"
#include "tap/tap.h"
#include "testhost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUF f64
#define REAL double
#include "../plugins/models/lightgcn_impl.h"
#include "../plugins/models/sgl_impl.h"
#undef SUF
#undef REAL
#define SUF f32
#define REAL float
#include "../plugins/models/sgl_impl.h"
#undef SUF
#undef REAL

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index);
int sgl_testing_set_views(void *state, const uint8_t *keep1, const uint8_t *keep2, int32_t epoch);
const nb_graph *sgl_testing_view(void *state, int v, int l);

/* ---- the shared tiny graph, RecBole ids (0 = PAD, isolated) ------------ */
enum { U = TINY_U + 1, I = TINY_I + 1, N = U + I, D = 4, B = TINY_B, L = 2, NP = TINY_NNZ };
static const int32_t b_users[B] = {1, 3, 5, 1}, b_pos[B] = {2, 5, 7, 3}, b_neg[B] = {6, 2, 4, 7};
static test_train tiny;

/* Position of pair (u, i) in train.user_items. */
static int64_t pair_pos(int32_t u, int32_t i)
{
    for (int64_t p = tiny.uptr[u]; p < tiny.uptr[u + 1]; p++) if (tiny.uit[p] == i) return p;
    return -1;
}

/* ---- the double SSL reference ------------------------------------------ */
typedef struct sctx {
    const nb_graph *gs[2][L];  /* graph of layer l in view v */
    double tau, weight;
    int sides;                 /* 1 users, 2 items, 3 both */
    int64_t rb, cb;            /* anchors per chunk, columns per block */
    double max_span;           /* > 0: override the scratch's fixed-shift limit */
    double E0[N * D];
} sctx;

/* SSL loss of the batch; grad [N][D] (nullable) receives dL/dE0. */
static double ssl_loss(sctx *c, double *grad)
{
    static double Z[2][N * D], dZ[2][N * D], H0[N * D], H1[N * D];
    static double mem[4096];
    sgl_scratch_f64 sc;
    if (sgl_scratch_bytes_f64(N, N, D, c->rb) > sizeof mem) tap_bail("ssl_loss: scratch too small");
    sgl_scratch_carve_f64(&sc, mem, N, N, D, c->rb, c->cb);
    if (c->max_span > 0) sc.max_span = c->max_span;
    int32_t cnt[N] = {0}, ids[N];
    double w[N];
    for (int v = 0; v < 2; v++) {
        sgl_view_forward_f64(c->gs[v], L, D, N, c->E0, H0, H1, Z[v]);
        memset(dZ[v], 0, sizeof dZ[v]);
    }
    double loss = 0;
    if (c->sides & 1) {
        int64_t R = sgl_distinct(b_users, B, c->weight, cnt, ids, w);
        loss += sgl_infonce_f64(sgl_gemm_f64, D, c->tau, U, Z[0], Z[1], ids, w, R, dZ[0], dZ[1], &sc);
    }
    if (c->sides & 2) {
        int64_t R = sgl_distinct(b_pos, B, c->weight, cnt, ids, w);
        loss += sgl_infonce_f64(sgl_gemm_f64, D, c->tau, I, Z[0] + U * D, Z[1] + U * D, ids, w, R,
                                dZ[0] + U * D, dZ[1] + U * D, &sc);
    }
    if (grad) {
        memset(grad, 0, sizeof(double) * N * D);
        for (int v = 0; v < 2; v++) sgl_view_backward_f64(c->gs[v], L, D, N, dZ[v], H0, H1, grad);
    }
    return loss;
}

static double loss_cb(void *ctx) { return ssl_loss(ctx, NULL); }

/* Golden view masks: keep[pair position] from inputs.view<v>_keep. */
static void golden_keep(const json *j, int v, uint8_t *keep)
{
    double inter[NP * 2], idx[NP];
    char key[64];
    json_flatten(json_get(j, "inputs.interactions"), inter, NP * 2);
    snprintf(key, sizeof key, "inputs.view%d_keep", v + 1);
    size_t n = json_flatten(json_get(j, key), idx, NP);
    memset(keep, 0, NP);
    for (size_t q = 0; q < n; q++) {
        int k = (int)idx[q];
        keep[pair_pos((int32_t)inter[2 * k], (int32_t)inter[2 * k + 1])] = 1;
    }
}

static void test_fd(nb_graph *g, nb_graph *v1, nb_graph *v2)
{
    static sctx c;
    struct { const char *name; const nb_graph *gs[2][L]; int64_t rb, cb; double tau, w; } cases[3] = {
        {"ED views", {{v1, v1}, {v2, v2}}, 64, 64, 0.3, 0.7},
        {"RW graphs per layer", {{v1, v2}, {v2, g}}, 64, 64, 0.5, 1.3},
        {"ED, 2-row chunks x 3-column blocks", {{v1, v1}, {v2, v2}}, 2, 3, 0.2, 0.4}};
    nb_rng r;
    nb_rng_seed(&r, 23, 0, 0);
    for (int cs = 0; cs < 3; cs++) {
        memcpy(c.gs, cases[cs].gs, sizeof c.gs);
        c.tau = cases[cs].tau;
        c.weight = cases[cs].w;
        c.sides = 3;
        c.rb = cases[cs].rb;
        c.cb = cases[cs].cb;
        if (cs < 2) for (int k = 0; k < N * D; k++) c.E0[k] = nb_rng_uniform(&r) - 0.5;
        double grad[N * D];
        double loss = ssl_loss(&c, grad);
        double gmax = 0;
        double worst = fd_worst(loss_cb, &c, c.E0, grad, N * D, 1e-6, &gmax);
        ok(worst < 1e-6 && gmax > 1e-3, "FD of the SSL loss (L=2, %s) w.r.t. every E0 entry: max rel err %.2g",
           cases[cs].name, worst);
        if (cs == 2) {
            /* the same loss with one score block */
            c.rb = 64; c.cb = 64;
            double g2[N * D];
            double l2 = ssl_loss(&c, g2);
            ok(fabs(l2 - loss) <= 1e-12 * fabs(l2) && test_scaled_err(grad, g2, N * D) < 1e-12,
               "2-row chunks x 3-column blocks == one chunk and block (loss %.3g, grad err %.2g)",
               fabs(l2 - loss), test_scaled_err(grad, g2, N * D));
            /* the row-maximum shift (taken when 2/tau > max_span) == the fixed 1/tau */
            c.max_span = 1e-9;
            double l3 = ssl_loss(&c, g2);
            c.max_span = 0;
            ok(fabs(l3 - loss) <= 1e-12 * fabs(l3) && test_scaled_err(grad, g2, N * D) < 1e-12,
               "row-maximum shift == fixed shift 1/tau (loss %.3g, grad err %.2g)", fabs(l3 - loss),
               test_scaled_err(grad, g2, N * D));
        }
    }
    /* the repeated anchor (user 1 twice) counts twice: users-only loss with
     * the batch equals the sum over rows computed one row at a time */
    c.sides = 1;
    c.rb = 64; c.cb = 64;
    double whole = ssl_loss(&c, NULL), wsave = c.weight;
    c.weight = 2 * wsave;
    double twice = ssl_loss(&c, NULL);
    c.weight = wsave;
    ok(fabs(twice - 2 * whole) < 1e-12 * fabs(whole) && whole > 0,
       "SSL loss is linear in ssl_weight and positive (%.6g)", whole);
}

/* The float kernel (16-lane exp with its scalar tail, the host's SGEMM
 * contract, several chunks and column blocks) against the double one on a
 * larger random side, with the fixed shift (tau 0.2) and the row-maximum
 * shift (tau 0.01: 2/tau > the float max_span). */
static void test_float_kernel(void)
{
    enum { n = 300, R = 70, d = 16 };
    static double Z1[n * d], Z2[n * d], g1[n * d], g2[n * d], w[R];
    static float f1[n * d], f2[n * d], h1[n * d], h2[n * d];
    int32_t ids[R];
    nb_rng r;
    nb_rng_seed(&r, 29, 0, 0);
    for (int k = 0; k < n * d; k++) {
        Z1[k] = nb_rng_uniform(&r) - 0.5;
        Z2[k] = Z1[k] + 0.5 * (nb_rng_uniform(&r) - 0.5);
        f1[k] = (float)Z1[k];
        f2[k] = (float)Z2[k];
        Z1[k] = f1[k];
        Z2[k] = f2[k];
    }
    for (int q = 0; q < R; q++) {
        ids[q] = (q * 37 + 11) % n; /* distinct: gcd(37, 300) = 1 */
        w[q] = 0.05 * (1 + q % 3);
    }
    void *md = malloc(sgl_scratch_bytes_f64(R, n, d, 64)), *mf = malloc(sgl_scratch_bytes_f32(R, n, d, 32));
    if (!md || !mf) tap_bail("test_float_kernel: out of memory");
    const double taus[2] = {0.2, 0.01}; /* exp(1/0.01) overflows a float */
    for (int t = 0; t < 2; t++) {
        sgl_scratch_f64 sd;
        sgl_scratch_f32 sf;
        sgl_scratch_carve_f64(&sd, md, R, n, d, 64, n);
        sgl_scratch_carve_f32(&sf, mf, R, n, d, 32, 100); /* chunks 32, 32, 6; blocks of 100 */
        memset(g1, 0, sizeof g1); memset(g2, 0, sizeof g2);
        memset(h1, 0, sizeof h1); memset(h2, 0, sizeof h2);
        double ld = sgl_infonce_f64(sgl_gemm_f64, d, taus[t], n, Z1, Z2, ids, w, R, g1, g2, &sd);
        double lf = sgl_infonce_f32(testhost()->sgemm, d, taus[t], n, f1, f2, ids, w, R, h1, h2, &sf);
        /* float scores carry ~1e-7 |s| <= 1e-7 / tau each: scale the loss error by sum w / tau */
        double e1 = 0, e2 = 0, s1 = 0, s2 = 0, sw = 0;
        for (int q = 0; q < R; q++) sw += w[q] / taus[t];
        for (int k = 0; k < n * d; k++) { s1 = fmax(s1, fabs(g1[k])); s2 = fmax(s2, fabs(g2[k])); }
        for (int k = 0; k < n * d; k++) {
            e1 = fmax(e1, fabs(h1[k] - g1[k]) / s1);
            e2 = fmax(e2, fabs(h2[k] - g2[k]) / s2);
        }
        ok(fabs(lf - ld) < 1e-6 * sw && e1 < 1e-4 && e2 < 1e-4 && (2 / taus[t] > sf.max_span) == t,
           "float kernel == double (tau %g, %s shift): loss %.2g of sum w/tau, dZ1 %.2g, dZ2 %.2g",
           taus[t], t ? "row-maximum" : "fixed", fabs(lf - ld) / sw, e1, e2);
    }
    free(md);
    free(mf);
}

/* Test-local RecBole SGL BPR: SUM_b -log sigmoid(x_b), no 1e-10, on the
 * main graph's final rows; accumulates dL/dfinal into Gf. */
static double bpr_sum(const double *final, double *Gf)
{
    double loss = 0;
    for (int b = 0; b < B; b++) {
        const double *u = final + b_users[b] * D, *p = final + (U + b_pos[b]) * D,
                     *n = final + (U + b_neg[b]) * D;
        double x = 0;
        for (int k = 0; k < D; k++) x += u[k] * (p[k] - n[k]);
        loss += x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x));
        double gx = -1.0 / (1.0 + exp(x)); /* d(-log sigma(x))/dx */
        for (int k = 0; k < D; k++) {
            Gf[b_users[b] * D + k] += gx * (p[k] - n[k]);
            Gf[(U + b_pos[b]) * D + k] += gx * u[k];
            Gf[(U + b_neg[b]) * D + k] -= gx * u[k];
        }
    }
    return loss;
}

static void flat2(const json *j, const char *path, double *out)
{
    char key[160];
    snprintf(key, sizeof key, "%s.U", path);
    json_flatten(json_get(j, key), out, U * D);
    snprintf(key, sizeof key, "%s.I", path);
    json_flatten(json_get(j, key), out + U * D, I * D);
}

static double dense_err(const nb_graph *g, const json *j, const char *key)
{
    double A[N * N], mine[N * N] = {0}, err = 0;
    json_flatten(json_get(j, key), A, N * N);
    for (int64_t r = 0; r < g->n; r++)
        for (int64_t e = g->ptr[r]; e < g->ptr[r + 1]; e++) mine[r * N + g->col[e]] = g->dval[e];
    for (int k = 0; k < N * N; k++) err = fmax(err, fabs(mine[k] - A[k]));
    return err;
}

static void test_golden(nb_graph *g, const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/sgl/%s", tap_golden_dir(), file);
    json *j = json_load(path);
    if (!j) { skip_shared(14, "golden %s not readable", path); return; }
    double tau = json_num(json_get(j, "hyper.ssl_tau")), sw = json_num(json_get(j, "hyper.ssl_weight"));
    double rw = json_num(json_get(j, "hyper.reg_weight"));
    uint8_t keep[2][NP];
    nb_graph vg[2] = {{0}};
    for (int v = 0; v < 2; v++) {
        golden_keep(j, v, keep[v]);
        graph_build(&tiny.t, keep[v], 1e-7, &vg[v], NULL);
    }
    double e0 = dense_err(g, j, "outputs.adj_main"), e1 = dense_err(&vg[0], j, "outputs.adj_view1"),
           e2 = dense_err(&vg[1], j, "outputs.adj_view2");
    ok(e0 < 1e-15 && e1 < 1e-15 && e2 < 1e-15 && vg[0].deg[U + 5] == 0,
       "%s: main and view adjacencies (deg + 1e-7) = adj_* (%.2g %.2g %.2g), item 5 isolated in view 1",
       file, e0, e1, e2);

    static sctx c;
    for (int l = 0; l < L; l++) { c.gs[0][l] = &vg[0]; c.gs[1][l] = &vg[1]; }
    c.tau = tau;
    c.weight = 1.0;
    c.rb = 64; c.cb = 64;
    flat2(j, "inputs", c.E0);

    /* embeddings */
    double layers[N * (L + 1) * D], final[N * D], Z[N * D], H0[N * D], H1[N * D], want[N * D];
    lgcn_forward_f64(g, NULL, L, D, LGCN_MEAN, c.E0, layers, final);
    json_flatten(json_get(j, "outputs.emb_main"), want, N * D);
    double em = test_scaled_err(final, want, N * D), ev[2];
    for (int v = 0; v < 2; v++) {
        sgl_view_forward_f64(c.gs[v], L, D, N, c.E0, H0, H1, Z);
        json_flatten(json_get(j, v ? "outputs.emb_view2" : "outputs.emb_view1"), want, N * D);
        ev[v] = test_scaled_err(Z, want, N * D);
    }
    ok(em < 1e-9 && ev[0] < 1e-9 && ev[1] < 1e-9, "%s: emb_main, emb_view1, emb_view2 to 1e-9 (%.2g %.2g %.2g)",
       file, em, ev[0], ev[1]);

    /* each SSL side, unweighted, and its gradient */
    double gu[N * D], gi[N * D], gw[N * D];
    c.sides = 1;
    double su = ssl_loss(&c, gu);
    c.sides = 2;
    double si = ssl_loss(&c, gi);
    is_close(su, json_num(json_get(j, "outputs.ssl_user")), 0, 1e-9, "%s: ssl_user %.12g", file, su);
    is_close(si, json_num(json_get(j, "outputs.ssl_item")), 0, 1e-9, "%s: ssl_item %.12g", file, si);
    flat2(j, "outputs.grad_per_term_unweighted.ssl_user", gw);
    double eu = test_scaled_err(gu, gw, N * D);
    flat2(j, "outputs.grad_per_term_unweighted.ssl_item", gw);
    double ei = test_scaled_err(gi, gw, N * D);
    double padg = 0;
    for (int k = 0; k < D; k++) padg = fmax(padg, fabs(gu[k]) + fabs(gi[U * D + k]));
    ok(eu < 1e-9 && ei < 1e-9 && padg > 0,
       "%s: d ssl_user / dE0, d ssl_item / dE0 to 1e-9 (%.2g %.2g), PAD rows included (|g| %.2g)",
       file, eu, ei, padg);

    /* the weighted SSL term as the plugin reports it */
    c.sides = 3;
    c.weight = sw;
    double gs_[N * D];
    double ssl = ssl_loss(&c, gs_);
    is_close(ssl, json_num(json_get(j, "outputs.ssl_loss")), 0, 1e-9, "%s: ssl_loss = ssl_weight (ssl_user + ssl_item)", file);

    /* total = SUM BPR (test-local) + reg_weight EmbLoss (host) + SSL */
    double Gf[N * D] = {0}, gt[N * D] = {0}, H[2][N * D];
    double bpr = bpr_sum(final, Gf);
    lgcn_backward_f64(g, NULL, L, D, LGCN_MEAN, Gf, NULL, NULL, 0, H[0], H[1], gt);
    double raw = 0;
    double reg = reg_loss_grad_f64(0, rw, B, D, b_users, b_pos, b_neg, 1, NULL, c.E0, c.E0 + U * D,
                                   gt, gt + U * D, NULL, &raw);
    for (int k = 0; k < N * D; k++) gt[k] += gs_[k];
    is_close(bpr, json_num(json_get(j, "outputs.bpr")), 0, 1e-9, "%s: bpr (sum of -log sigma) %.12g", file, bpr);
    is_close(raw, json_num(json_get(j, "outputs.reg_raw")), 0, 1e-9, "%s: reg_raw = host EmbLoss", file);
    double lt = json_num(json_get(j, "outputs.loss_total"));
    is_close(bpr + reg + ssl, lt, 0, 1e-9, "%s: loss_total %.12g", file, lt);
    double gtw[N * D];
    flat2(j, "outputs.grad_total", gtw);
    ok(test_scaled_err(gt, gtw, U * D) < 1e-9 && test_scaled_err(gt + U * D, gtw + U * D, I * D) < 1e-9,
       "%s: grad_total U, I (PAD rows included) to 1e-9 (%.2g %.2g)", file,
       test_scaled_err(gt, gtw, U * D), test_scaled_err(gt + U * D, gtw + U * D, I * D));

    /* the host's BPR is the MEAN with 1e-10 inside the log */
    double neg[B * D];
    for (int b = 0; b < B; b++) memcpy(neg + b * D, final + (U + b_neg[b]) * D, sizeof(double) * D);
    double hb = bpr_loss_grad_f64(B, D, b_users, b_pos, final, final + U * D, neg, NULL, NULL, NULL, NULL);
    is_close(B * hb, bpr, 0, 1e-9, "%s: B x host BPR (mean, 1e-10) = golden SUM BPR to 1e-9", file);

    /* the float plugin, host-style step with the host's mean BPR */
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    nb_value vals[7] = {{.i = L}, {.f = tau}, {.f = sw}, {.f = 0.2}, {.i = 0}, {.f = 1e-7}, {.i = 1 /* sum */}};
    void *st = NULL;
    char *perr = NULL;
    if (vt->init(testhost(), vals, &tiny.t, D, 1, &st, &perr) != NB_OK) {
        ok(0, "%s: the float plugin initialises: %s", file, perr ? perr : "?");
        free(perr);
        goto done;
    }
    nb_block *blk = test_model_set_e0(vt, st, c.E0);
    sgl_testing_set_views(st, keep[0], keep[1], 0);
    nb_batch batch = {.size = B, .users = b_users, .pos = b_pos, .epoch = 0, .seed = 1};
    const nb_view *v;
    nb_grads gr;
    vt->forward(st, NB_MODE_TRAIN, &batch, &v, &perr);
    vt->grads(st, &gr);
    double aux = v->aux_loss;
    float fneg[B * D], gneg[B * D] = {0};
    for (int b = 0; b < B; b++) {
        memcpy(fneg + b * D, v->item + b_neg[b] * D, sizeof(float) * D);
        nb_block_grad_row(gr.user, b_users[b]);
        nb_block_grad_row(gr.item, b_pos[b]);
        nb_block_grad_row(gr.user_ego, b_users[b]);
        nb_block_grad_row(gr.item_ego, b_pos[b]);
        nb_block_grad_row(gr.item_ego, b_neg[b]);
    }
    bpr_loss_grad_f32(B, D, b_users, b_pos, v->user, v->item, fneg, gr.user->grad, gr.item->grad, gneg, NULL);
    for (int b = 0; b < B; b++) {
        float *row = nb_block_grad_row(gr.item, b_neg[b]);
        for (int k = 0; k < D; k++) row[k] += gneg[b * D + k];
    }
    reg_loss_grad_f32(0, rw, B, D, b_users, b_pos, b_neg, 1, NULL, v->user_ego, v->item_ego,
                      gr.user_ego->grad, gr.item_ego->grad, NULL, NULL);
    vt->backward(st, &batch, &perr);
    double pg[N * D], expect[N * D], gb[N * D];
    test_model_e0_grad(vt, st, pg);
    flat2(j, "outputs.grad_per_term_unweighted.bpr", gb);
    for (int k = 0; k < N * D; k++) expect[k] = gtw[k] - (1.0 - 1.0 / B) * gb[k];
    is_close(aux, json_num(json_get(j, "outputs.ssl_loss")), 0, 1e-4, "%s: float plugin aux_loss = ssl_loss to 1e-4", file);
    {   /* the default ssl_scale (recbole) divides the summed term by B */
        nb_value v2[7];
        memcpy(v2, vals, sizeof v2);
        v2[6].i = 0;
        void *st2 = NULL;
        const nb_view *w2;
        if (vt->init(testhost(), v2, &tiny.t, D, 1, &st2, &perr) == NB_OK) {
            nb_block *b2;
            int n2;
            vt->blocks(st2, &b2, &n2);
            memcpy(b2[0].value, blk[0].value, sizeof(float) * U * D);
            memcpy(b2[1].value, blk[1].value, sizeof(float) * I * D);
            sgl_testing_set_views(st2, keep[0], keep[1], 0);
            vt->forward(st2, NB_MODE_TRAIN, &batch, &w2, &perr);
            is_close(w2->aux_loss, aux / B, 0, 1e-6, "%s: ssl_scale recbole = summed term / B", file);
            vt->free(st2);
        } else {
            ok(0, "%s: the float plugin initialises with ssl_scale recbole: %s", file, perr ? perr : "?");
        }
    }
    ok(test_scaled_err(pg, expect, U * D) < 1e-4 && test_scaled_err(pg + U * D, expect + U * D, I * D) < 1e-4,
       "%s: float plugin E0 gradients = grad_total - (1 - 1/B) grad_bpr to 1e-4 (%.2g %.2g)", file,
       test_scaled_err(pg, expect, U * D), test_scaled_err(pg + U * D, expect + U * D, I * D));
    vt->free(st);
done:
    graph_free(&vg[0]);
    graph_free(&vg[1]);
    json_free(j);
}

/* Kept pairs of a view graph, as a 14-bit mask over pair positions. */
static uint32_t view_mask(const nb_graph *g)
{
    uint32_t m = 0;
    for (int32_t u = 0; u < U; u++)
        for (int64_t e = g->ptr[u]; e < g->ptr[u + 1]; e++) m |= 1u << pair_pos(u, g->col[e] - U);
    return m;
}

static void *make(int aug, double drop, uint64_t seed)
{
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    nb_value vals[7] = {{.i = L}, {.f = 0.5}, {.f = 0.1}, {.f = drop}, {.i = aug}, {.f = 1e-7}, {.i = 1 /* sum */}};
    void *st = NULL;
    char *perr = NULL;
    if (vt->init(testhost(), vals, &tiny.t, D, seed, &st, &perr) != NB_OK) tap_bail("init: %s", perr);
    return st;
}

static void step(void *st, int32_t epoch, int64_t stepno)
{
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    nb_batch batch = {.size = B, .users = b_users, .pos = b_pos, .epoch = epoch, .step = stepno};
    const nb_view *v;
    char *perr = NULL;
    if (vt->forward(st, NB_MODE_TRAIN, &batch, &v, &perr) != NB_OK) tap_bail("forward: %s", perr);
    vt->backward(st, &batch, &perr);
}

static void test_views(void)
{
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    void *a = make(0, 0.2, 7), *b = make(0, 0.2, 7), *c = make(0, 0.2, 8);
    step(a, 0, 0);
    step(b, 0, 0);
    step(c, 0, 0);
    uint32_t a0 = view_mask(sgl_testing_view(a, 0, 0)), a1 = view_mask(sgl_testing_view(a, 1, 0));
    uint32_t b0 = view_mask(sgl_testing_view(b, 0, 0)), b1 = view_mask(sgl_testing_view(b, 1, 0));
    uint32_t c0 = view_mask(sgl_testing_view(c, 0, 0));
    ok(a0 == b0 && a1 == b1 && a0 != a1 && a0 != c0,
       "ED views reproducible from the seed, the two views differ, another seed differs (%04x %04x %04x)",
       a0, a1, c0);
    ok(__builtin_popcount(a0) == 11 && __builtin_popcount(a1) == 11 &&
           sgl_testing_view(a, 0, 0)->nnz == 22,
       "ED keeps floor(14 x 0.8) = 11 pairs per view");
    step(a, 0, 1);
    uint32_t a0s = view_mask(sgl_testing_view(a, 0, 0));
    long a_before = testhost_allocs();
    step(a, 0, 2);
    is_int(testhost_allocs() - a_before, 0, "a training step within an epoch allocates nothing through the host");
    step(a, 1, 3);
    uint32_t a0n = view_mask(sgl_testing_view(a, 0, 0)), a1n = view_mask(sgl_testing_view(a, 1, 0));
    step(b, 1, 3);
    ok(a0s == a0 && (a0n != a0 || a1n != a1) && a0n == view_mask(sgl_testing_view(b, 0, 0)),
       "views fixed within an epoch, redrawn (reproducibly) for the next epoch");
    vt->free(a); vt->free(b); vt->free(c);

    /* RW: a graph per layer; ND: dropped nodes lose every edge */
    void *rw = make(2, 0.2, 7);
    step(rw, 0, 0);
    uint32_t r00 = view_mask(sgl_testing_view(rw, 0, 0)), r01 = view_mask(sgl_testing_view(rw, 0, 1));
    ok(r00 != r01 && __builtin_popcount(r00) == 11 && __builtin_popcount(r01) == 11,
       "RW: independent ED graphs per layer (%04x %04x)", r00, r01);
    void *nd = make(1, 0.34, 7);
    step(nd, 0, 0);
    const nb_graph *ng = sgl_testing_view(nd, 0, 0);
    int isolated = 0;
    for (int r = 1; r < N; r++) if (r != U && ng->deg[r] == 0) isolated++;
    int consistent = ng->nnz % 2 == 0 && ng->nnz < 2 * NP;
    ok(consistent && isolated >= 1, "ND: floor(0.34 x 6) users and floor(0.34 x 8) items dropped (%d real nodes isolated, nnz %lld)",
       isolated, (long long)ng->nnz);

    /* the float plugin's SSL on its own drawn views = the double reference */
    for (int which = 0; which < 2; which++) {
        void *st = which ? rw : nd;
        nb_block *blk;
        int nb;
        vt->blocks(st, &blk, &nb);
        nb_batch batch = {.size = B, .users = b_users, .pos = b_pos, .epoch = 0};
        const nb_view *v;
        char *perr = NULL;
        memset(blk[0].grad, 0, sizeof(float) * U * D);
        memset(blk[1].grad, 0, sizeof(float) * I * D);
        vt->forward(st, NB_MODE_TRAIN, &batch, &v, &perr);
        double aux = v->aux_loss;
        vt->backward(st, &batch, &perr);
        static sctx s;
        for (int vv = 0; vv < 2; vv++)
            for (int l = 0; l < L; l++) s.gs[vv][l] = sgl_testing_view(st, vv, l);
        s.tau = 0.5; s.weight = 0.1; s.sides = 3; s.rb = 64; s.cb = 64;
        test_model_get_e0(vt, st, s.E0);
        double gref[N * D], pg[N * D];
        double ref = ssl_loss(&s, gref);
        test_model_e0_grad(vt, st, pg);
        ok(fabs(aux - ref) < 1e-5 * ref && test_scaled_err(pg, gref, N * D) < 1e-4,
           "%s plugin: aux_loss and E0 gradient = double reference on its views (%.2g, %.2g)",
           which ? "RW" : "ND", fabs(aux - ref) / ref, test_scaled_err(pg, gref, N * D));
    }
    vt->free(rw); vt->free(nd);
}

int main(void)
{
    test_tiny_train(&tiny, 1);
    nb_graph g = {0}, v1 = {0}, v2 = {0};
    char *err = NULL;
    if (graph_build(&tiny.t, NULL, 1e-7, &g, &err) != NB_OK) tap_bail("graph_build: %s", err);
    /* fixed dropped graphs for the FD checks: golden case1's views */
    uint8_t k1[NP] = {0}, k2[NP] = {0};
    static const int drop1[3][2] = {{1, 3}, {3, 5}, {4, 4}}, drop2[3][2] = {{1, 1}, {4, 7}, {5, 2}};
    memset(k1, 1, NP);
    memset(k2, 1, NP);
    for (int q = 0; q < 3; q++) {
        k1[pair_pos(drop1[q][0], drop1[q][1])] = 0;
        k2[pair_pos(drop2[q][0], drop2[q][1])] = 0;
    }
    graph_build(&tiny.t, k1, 1e-7, &v1, NULL);
    graph_build(&tiny.t, k2, 1e-7, &v2, NULL);
    test_fd(&g, &v1, &v2);
    test_float_kernel();
    test_golden(&g, "case1_ED_tau0.5.json");
    test_golden(&g, "case2_ED_tau0.2.json");
    test_views();
    graph_free(&g);
    graph_free(&v1);
    graph_free(&v2);
    return tap_done();
}
