/*
 * test-lightgcn.c - the LightGCN backbone: the double instantiation of
 * lightgcn_impl.h against central finite differences (BPR + reg through a
 * 2-layer propagation, every E0 entry, mean and concat pooling, and the
 * per-layer gradient path) and against the RecBole golden vectors
 * (../shared/golden/lightgcn, 1e-9); the float plugin through its vtable
 * against the same vectors (1e-4); layers = 0 equals MF; the eval cache;
 * the stack-free step and the final rows computed on demand.
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
#undef SUF
#undef REAL

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index);

/* ---- the shared tiny graph (0-based ids, golden README; testhost.h) ---- */
enum { U = TINY_U, I = TINY_I, N = U + I, D = 4, B = TINY_B };
static const int32_t *const b_users = tiny_users, *const b_pos = tiny_pos, *const b_neg = tiny_neg;
static test_train tiny;

/* ---- double loss: BPR on final rows + reg on ego rows (+ layer term) ---- */
typedef struct lctx {
    nb_graph *g;
    int32_t L;
    int pool, form;
    double reg_w, layer_w;     /* layer_w: weight of the per-layer probe term */
    double E0[N * D];
    double layers[N * 9 * D], final[N * 9 * D];
    double wl[9 * D];          /* probe weights per (layer, k) */
} lctx;

/* Loss; when grad != NULL also dL/dE0 into grad [N][D]. */
static double lgcn_loss(lctx *c, double *grad)
{
    int32_t L = c->L, df = c->pool == LGCN_CONCAT ? (L + 1) * D : D, ld = (L + 1) * D;
    lgcn_forward_f64(c->g, NULL, L, D, c->pool, c->E0, c->layers, c->final);
    double neg[B * 9 * D], gneg[B * 9 * D] = {0};
    for (int b = 0; b < B; b++)
        memcpy(neg + b * df, c->final + (int64_t)(U + b_neg[b]) * df, (size_t)df * sizeof(double));
    static double Gf[N * 9 * D], Gl[N * 9 * D];
    memset(Gf, 0, sizeof Gf);
    memset(Gl, 0, sizeof Gl);
    double loss = bpr_loss_grad_f64(B, df, b_users, b_pos, c->final, c->final + U * df, neg,
                                    Gf, Gf + U * df, gneg, NULL);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < df; k++) Gf[(U + b_neg[b]) * df + k] += gneg[b * df + k];
    if (grad) memset(grad, 0, sizeof(double) * N * D);
    loss += reg_loss_grad_f64(c->form, c->reg_w, B, D, b_users, b_pos, b_neg, 1, NULL, c->E0,
                              c->E0 + U * D, grad ? grad : NULL, grad ? grad + U * D : NULL,
                              NULL, NULL);
    if (c->layer_w != 0) /* probe: layer_w sum_b sum_l wl[l] . E^l[u_b] */
        for (int b = 0; b < B; b++)
            for (int k = 0; k < ld; k++) {
                loss += c->layer_w * c->wl[k] * c->layers[b_users[b] * ld + k];
                Gl[b_users[b] * ld + k] += c->layer_w * c->wl[k];
            }
    if (grad) {
        static double H0[N * D], H1[N * D];
        /* no layer term: Gl = NULL, the Horner recursion on Gf alone */
        lgcn_backward_f64(c->g, NULL, L, D, c->pool, Gf, c->layer_w != 0 ? Gl : NULL, NULL, 0,
                          H0, H1, grad);
    }
    return loss;
}

static double loss_cb(void *ctx) { return lgcn_loss(ctx, NULL); }

static void test_fd(nb_graph *g)
{
    static lctx c;
    struct { int pool; double lw; const char *name; } cases[4] = {
        {LGCN_MEAN, 0.0, "mean"}, {LGCN_CONCAT, 0.0, "concat"}, {LGCN_SUM, 0.7, "sum + layer probe"},
        {LGCN_SUM, 0.0, "sum"}};
    nb_rng r;
    nb_rng_seed(&r, 17, 0, 0);
    for (int cs = 0; cs < 4; cs++) {
        c.g = g;
        c.L = 2;
        c.pool = cases[cs].pool;
        c.form = cs == 1;
        c.reg_w = 0.05;
        c.layer_w = cases[cs].lw;
        for (int k = 0; k < N * D; k++) c.E0[k] = nb_rng_uniform(&r) - 0.5;
        for (int k = 0; k < 3 * D; k++) c.wl[k] = nb_rng_uniform(&r) - 0.5;
        double grad[N * D];
        lgcn_loss(&c, grad);
        double gmax = 0;
        double worst = fd_worst(loss_cb, &c, c.E0, grad, N * D, 1e-6, &gmax);
        ok(worst < 1e-6 && gmax > 1e-3, "FD (L=2, %s): every E0 entry, max rel err %.2g",
           cases[cs].name, worst);
    }
}

static void test_golden(nb_graph *g, const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/lightgcn/%s", tap_golden_dir(), file);
    json *j = json_load(path);
    if (!j) { skip_shared(10, "golden %s not readable", path); return; }
    static lctx c;
    c.g = g;
    c.L = 2;
    c.pool = LGCN_MEAN;
    c.form = json_get(j, "hyper.require_pow")->num != 0;
    c.reg_w = json_num(json_get(j, "hyper.reg_weight"));
    c.layer_w = 0;
    test_tiny_golden_e0(j, "inputs", D, c.E0);

    /* Ahat */
    double A[14 * 14], err = 0;
    json_flatten(json_get(j, "outputs.norm_adj_dense"), A, 14 * 14);
    double *mine = calloc(N * N, sizeof(double));
    for (int64_t r = 0; r < g->n; r++)
        for (int64_t e = g->ptr[r]; e < g->ptr[r + 1]; e++) mine[r * N + g->col[e]] = g->dval[e];
    int pad_zero = 1;
    for (int r = 0; r < 14; r++)
        for (int q = 0; q < 14; q++) {
            int a = test_tiny_node(r), b = test_tiny_node(q);
            if (a < 0 || b < 0) { if (A[r * 14 + q] != 0) pad_zero = 0; continue; }
            err = fmax(err, fabs(mine[a * N + b] - A[r * 14 + q]));
        }
    free(mine);
    ok(err < 1e-15 && pad_zero, "%s: Ahat (deg + 1e-7) = norm_adj_dense (max err %.2g)", file, err);

    double grad[N * D];
    double loss = lgcn_loss(&c, grad);
    /* layers and final rows */
    double want[3 * 14 * D], got[3 * 14 * D];
    int n = 0;
    json_flatten(json_get(j, "outputs.layer_embeddings"), want, 3 * 14 * D);
    double w2[3 * 14 * D];
    for (int l = 0; l < 3; l++)
        for (int r = 0; r < 14; r++) {
            int a = test_tiny_node(r);
            if (a < 0) continue;
            for (int k = 0; k < D; k++) {
                got[n] = c.layers[(a * 3 + l) * D + k];
                w2[n++] = want[(l * 14 + r) * D + k];
            }
        }
    ok(test_scaled_err(got, w2, n) < 1e-9, "%s: layer_embeddings to 1e-9 (%.2g)", file, test_scaled_err(got, w2, n));
    json_flatten(json_get(j, "outputs.final_embeddings"), want, 14 * D);
    n = 0;
    for (int r = 0; r < 14; r++) {
        int a = test_tiny_node(r);
        if (a < 0) continue;
        for (int k = 0; k < D; k++) { got[n] = c.final[a * D + k]; w2[n++] = want[r * D + k]; }
    }
    ok(test_scaled_err(got, w2, n) < 1e-9, "%s: final_embeddings to 1e-9 (%.2g)", file, test_scaled_err(got, w2, n));
    double lt = json_num(json_get(j, "outputs.loss_total"));
    is_close(loss, lt, 0, 1e-9, "%s: loss_total %.12g", file, lt);

    double gwant[N * D], gfull[14 * D], padg = 0;
    test_tiny_golden_e0(j, "outputs.grad_total", D, gwant);
    json_flatten(json_get(j, "outputs.grad_total.U"), gfull, 6 * D);
    for (int k = 0; k < D; k++) padg = fmax(padg, fabs(gfull[k]));
    json_flatten(json_get(j, "outputs.grad_total.I"), gfull, 8 * D);
    for (int k = 0; k < D; k++) padg = fmax(padg, fabs(gfull[k]));
    ok(padg == 0.0, "%s: golden PAD rows have zero gradient (so dropping them is exact)", file);
    ok(test_scaled_err(grad, gwant, U * D) < 1e-9, "%s: grad_total.U to 1e-9 (%.2g)", file,
       test_scaled_err(grad, gwant, U * D));
    ok(test_scaled_err(grad + U * D, gwant + U * D, I * D) < 1e-9, "%s: grad_total.I to 1e-9 (%.2g)",
       file, test_scaled_err(grad + U * D, gwant + U * D, I * D));

    /* the float plugin through its vtable, host-style step */
    const nb_plugin_desc *desc = nb_plugin_descriptor(0);
    const nb_model_vt *vt = desc->vtable;
    nb_value vals[4] = {{.i = 2}, {.i = LGCN_MEAN}, {.f = 1e-7}, {.i = 0}};
    void *st = NULL;
    char *perr = NULL;
    int rc = vt->init(testhost(), vals, &tiny.t, D, 1, &st, &perr);
    if (rc != NB_OK) {
        ok(0, "%s: the float plugin initialises: %s", file, perr ? perr : "?");
        free(perr);
        json_free(j);
        return;
    }
    test_model_set_e0(vt, st, c.E0);
    const nb_view *v;
    nb_grads gr;
    vt->forward(st, NB_MODE_TRAIN, NULL, &v, &perr);
    vt->grads(st, &gr);
    float neg[B * D], gneg[B * D] = {0};
    for (int b = 0; b < B; b++) {
        memcpy(neg + b * D, v->item + b_neg[b] * D, sizeof(float) * D);
        nb_block_grad_row(gr.user, b_users[b]);
        nb_block_grad_row(gr.item, b_pos[b]);
    }
    double fl = bpr_loss_grad_f32(B, D, b_users, b_pos, v->user, v->item, neg, gr.user->grad,
                                  gr.item->grad, gneg, NULL);
    for (int b = 0; b < B; b++) {
        float *row = nb_block_grad_row(gr.item, b_neg[b]);
        for (int k = 0; k < D; k++) row[k] += gneg[b * D + k];
    }
    fl += reg_loss_grad_f32(c.form, c.reg_w, B, D, b_users, b_pos, b_neg, 1, NULL, v->user_ego,
                            v->item_ego, gr.user_ego->grad, gr.item_ego->grad, NULL, NULL);
    vt->backward(st, NULL, &perr);
    double pg[N * D];
    test_model_e0_grad(vt, st, pg);
    is_close(fl, lt, 0, 1e-4, "%s: float plugin loss to 1e-4", file);
    ok(test_scaled_err(pg, gwant, U * D) < 1e-4 && test_scaled_err(pg + U * D, gwant + U * D, I * D) < 1e-4,
       "%s: float plugin E0 gradients to 1e-4 (%.2g, %.2g)", file, test_scaled_err(pg, gwant, U * D),
       test_scaled_err(pg + U * D, gwant + U * D, I * D));
    int clean = gr.user->n_touched == 0 && gr.item->n_touched == 0;
    for (int k = 0; k < N * D; k++) clean &= gr.user->grad[k] == 0.0f;
    ok(clean, "%s: backward zeroed and cleared the view-gradient blocks", file);
    vt->free(st);
    json_free(j);
}

/* layers = 0: the view is E0 and backward copies the final-row gradient. */
static void test_mf(void)
{
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    nb_value vals[4] = {{.i = 0}, {.i = LGCN_MEAN}, {.f = 1e-7}, {.i = 0}};
    void *st = NULL;
    char *perr = NULL;
    vt->init(testhost(), vals, &tiny.t, D, 5, &st, &perr);
    nb_block *blk;
    int nb;
    vt->blocks(st, &blk, &nb);
    const nb_view *v;
    nb_grads gr;
    vt->forward(st, NB_MODE_TRAIN, NULL, &v, &perr);
    vt->grads(st, &gr);
    ok(v->n_layers == 0 && v->dim == D && memcmp(v->user, blk[0].value, sizeof(float) * U * D) == 0 &&
           memcmp(v->item, blk[1].value, sizeof(float) * I * D) == 0 &&
           v->user_ego == blk[0].value && v->item_ego == blk[1].value,
       "layers 0: view rows == E0 (MF)");
    /* MF reference: BPR + reg straight on the tables */
    float ref[N * D] = {0}, neg[B * D], gneg[B * D] = {0}, rneg[B * D] = {0};
    for (int b = 0; b < B; b++) memcpy(neg + b * D, blk[1].value + b_neg[b] * D, sizeof(float) * D);
    bpr_loss_grad_f32(B, D, b_users, b_pos, blk[0].value, blk[1].value, neg, ref, ref + U * D, rneg, NULL);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < D; k++) ref[U * D + b_neg[b] * D + k] += rneg[b * D + k];
    reg_loss_grad_f32(0, 0.1, B, D, b_users, b_pos, b_neg, 1, NULL, blk[0].value, blk[1].value,
                      ref, ref + U * D, NULL, NULL);
    /* host-style step through the plugin */
    for (int b = 0; b < B; b++) {
        nb_block_grad_row(gr.user, b_users[b]);
        nb_block_grad_row(gr.item, b_pos[b]);
    }
    bpr_loss_grad_f32(B, D, b_users, b_pos, v->user, v->item, neg, gr.user->grad, gr.item->grad, gneg, NULL);
    for (int b = 0; b < B; b++) {
        float *row = nb_block_grad_row(gr.item, b_neg[b]);
        for (int k = 0; k < D; k++) row[k] += gneg[b * D + k];
    }
    reg_loss_grad_f32(0, 0.1, B, D, b_users, b_pos, b_neg, 1, NULL, v->user_ego, v->item_ego,
                      gr.user_ego->grad, gr.item_ego->grad, NULL, NULL);
    vt->backward(st, NULL, &perr);
    double e = 0;
    for (int k = 0; k < U * D; k++) e = fmax(e, fabs(blk[0].grad[k] - ref[k]));
    for (int k = 0; k < I * D; k++) e = fmax(e, fabs(blk[1].grad[k] - ref[U * D + k]));
    ok(e < 1e-7, "layers 0: E0 gradient == MF gradient (max diff %.2g)", e);

    /* init: xavier_uniform bound sqrt(6/(rows+d)), seeded */
    double bu = sqrt(6.0 / (U + D)), mx = 0;
    int inb = 1;
    for (int k = 0; k < U * D; k++) { mx = fmax(mx, fabs(blk[0].value[k])); inb &= fabs(blk[0].value[k]) <= bu; }
    ok(inb && mx > 0.5 * bu, "user_emb ~ U(-b, b), b = sqrt(6/(U+d)) = %.3f (max |x| %.3f)", bu, mx);
    void *st2 = NULL;
    vt->init(testhost(), vals, &tiny.t, D, 5, &st2, &perr);
    nb_block *blk2;
    vt->blocks(st2, &blk2, &nb);
    int same = memcmp(blk[1].value, blk2[1].value, sizeof(float) * I * D) == 0;
    vt->free(st2);
    vt->init(testhost(), vals, &tiny.t, D, 6, &st2, &perr);
    vt->blocks(st2, &blk2, &nb);
    ok(same && memcmp(blk[1].value, blk2[1].value, sizeof(float) * I * D) != 0,
       "init reproducible from the seed, differs across seeds");
    vt->free(st2);
    vt->free(st);
}

/* Eval reuses the propagation until backward, then sees new parameters. */
static void test_eval_cache(void)
{
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    nb_value vals[4] = {{.i = 3}, {.i = LGCN_SUM}, {.f = 1e-7}, {.i = 0}};
    void *st = NULL;
    char *perr = NULL;
    vt->init(testhost(), vals, &tiny.t, D, 9, &st, &perr);
    nb_block *blk;
    int nb;
    vt->blocks(st, &blk, &nb);
    const nb_view *v;
    vt->forward(st, NB_MODE_EVAL, NULL, &v, &perr);
    float before = v->item[0];
    vt->backward(st, NULL, &perr);         /* an (empty) step: parameters may change */
    for (int k = 0; k < U * D; k++) blk[0].value[k] += 1.0f;
    vt->forward(st, NB_MODE_EVAL, NULL, &v, &perr);
    ok(v->item[0] != before, "eval after backward recomputes the propagation");
    long a0 = testhost_allocs();
    vt->forward(st, NB_MODE_TRAIN, NULL, &v, &perr);
    vt->backward(st, NULL, &perr);
    is_int(testhost_allocs() - a0, 0, "training forward/backward allocate nothing through the host");
    vt->free(st);
}

/* eval_rows ego: the EVAL view ranks with layer 0 alone (u^(0) . i^(0), at
 * the view's width: E0, or E0 padded with zeros for concat), while TRAIN
 * views stay the pooled propagation of the default. */
static void test_eval_ego(void)
{
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    for (int pool = LGCN_MEAN; pool <= LGCN_CONCAT; pool++) {
        nb_value dv[4] = {{.i = 2}, {.i = pool}, {.f = 1e-7}, {.i = 0}};
        nb_value ev[4] = {{.i = 2}, {.i = pool}, {.f = 1e-7}, {.i = 1}};
        void *sd = NULL, *se = NULL;
        char *perr = NULL;
        vt->init(testhost(), dv, &tiny.t, D, 9, &sd, &perr);
        vt->init(testhost(), ev, &tiny.t, D, 9, &se, &perr);
        nb_block *bd, *be;
        int nd, ne;
        vt->blocks(sd, &bd, &nd);
        vt->blocks(se, &be, &ne);
        const nb_view *vd, *ve;
        vt->forward(sd, NB_MODE_TRAIN, NULL, &vd, &perr);
        vt->forward(se, NB_MODE_TRAIN, NULL, &ve, &perr);
        const int32_t w = vd->dim;
        int same = ve->dim == w && ve->n_layers == 2 &&
                   !memcmp(vd->user, ve->user, sizeof(float) * (size_t)(U * w)) &&
                   !memcmp(vd->item, ve->item, sizeof(float) * (size_t)(I * w));
        ok(same, "eval_rows ego, pool %d: the TRAIN view is the default's", pool);
        for (int k = 0; k < U * D; k++) be[0].value[k] += 0.25f; /* new parameters */
        vt->forward(se, NB_MODE_EVAL, NULL, &ve, &perr);
        double worst = 0;
        int shape = ve->dim == w && ve->n_layers == 0;
        for (int32_t u = 0; u < U && shape; u++)
            for (int32_t i = 0; i < I; i++) {
                double want = 0, got = 0;
                for (int j = 0; j < D; j++)
                    want += (double)be[0].value[u * D + j] * be[1].value[i * D + j];
                for (int j = 0; j < w; j++)
                    got += (double)ve->user[(int64_t)u * w + j] * ve->item[(int64_t)i * w + j];
                if (fabs(got - want) > worst) worst = fabs(got - want);
            }
        ok(shape && worst == 0,
           "eval_rows ego, pool %d: the EVAL view scores u0 . i0 of the current parameters "
           "(width %d, largest difference %g)", pool, ve->dim, worst);
        vt->forward(se, NB_MODE_TRAIN, NULL, &ve, &perr);
        ok(ve->n_layers == 2 && ve->user != ve->user_ego,
           "eval_rows ego, pool %d: the next TRAIN view is the propagation again", pool);
        vt->free(sd);
        vt->free(se);
    }
}

/* A training step whose sampler reads only final rows (batch final_only):
 * the view has the same final rows bit for bit and no layer stack; the next
 * EVAL forward brings the stack back. */
static void test_final_only(void)
{
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    for (int pool = LGCN_MEAN; pool <= LGCN_CONCAT; pool++) {
        nb_value vals[4] = {{.i = 3}, {.i = pool}, {.f = 1e-7}, {.i = 0}};
        void *st = NULL;
        char *perr = NULL;
        vt->init(testhost(), vals, &tiny.t, D, 11, &st, &perr);
        const nb_view *v;
        nb_batch full = {.size = 0}, fonly = {.size = 0, .final_only = 1};
        vt->forward(st, NB_MODE_TRAIN, &full, &v, &perr);
        int64_t n = (int64_t)(U + I) * v->dim, nl = (int64_t)(U + I) * 4 * D;
        float *ref = malloc((size_t)n * sizeof(float)), *lay = malloc((size_t)nl * sizeof(float));
        memcpy(ref, v->user, (size_t)n * sizeof(float));
        memcpy(lay, v->user_layers, (size_t)nl * sizeof(float));
        vt->forward(st, NB_MODE_TRAIN, &fonly, &v, &perr);
        int same = !memcmp(ref, v->user, (size_t)n * sizeof(float));
        int stackless = !v->user_layers && !v->item_layers;
        if (pool == LGCN_CONCAT) {
            ok(same && !stackless, "pool concat: final_only keeps the stack (it is the final row)");
        } else {
            ok(same && stackless,
               "pool %s: a final_only step has the same final rows, bit for bit, and no stack",
               pool == LGCN_MEAN ? "mean" : "sum");
            vt->forward(st, NB_MODE_EVAL, NULL, &v, &perr);
            ok(v->user_layers && !memcmp(lay, v->user_layers, (size_t)nl * sizeof(float)) &&
                   !memcmp(ref, v->user, (size_t)n * sizeof(float)),
               "pool %s: the EVAL forward after it rebuilds the stack",
               pool == LGCN_MEAN ? "mean" : "sum");
        }
        free(ref); free(lay);
        vt->free(st);
    }
}

/* Final rows on demand (batch rows_on_demand): the forward computes the
 * batch's users' and positives' rows and leaves the others (poisoned with
 * NaN here, so a full last product would show) to view->sync, which gives
 * every row of the full forward bit for bit, from several threads at once,
 * and recomputes rows of an earlier step after the parameters move. */
static void test_rows_on_demand(int32_t dim, int pool, int32_t L)
{
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    const char *pn = pool == LGCN_MEAN ? "mean" : pool == LGCN_SUM ? "sum" : "concat";
    nb_value vals[4] = {{.i = L}, {.i = pool}, {.f = 1e-7}, {.i = 0}};
    void *st = NULL;
    char *perr = NULL;
    if (vt->init(testhost(), vals, &tiny.t, dim, 5, &st, &perr) != NB_OK) tap_bail("init: %s", perr);
    nb_block *pb = NULL;
    int npb = 0;
    vt->blocks(st, &pb, &npb);
    const nb_view *v;
    const int64_t n = (int64_t)N * dim;
    float *ref = malloc((size_t)n * sizeof(float));
    nb_batch full = {.size = 0};
    nb_batch lazy = {.size = B, .users = b_users, .pos = b_pos, .final_only = 1,
                     .rows_on_demand = 1};
    const int on_demand = pool != LGCN_CONCAT && L >= 1;
    for (int step = 0; step < 2; step++) {
        if (step == 1) /* the parameters move: rows of step 0 are stale */
            for (int k = 0; k < npb; k++)
                for (int64_t e = 0; e < pb[k].rows * pb[k].cols; e++) pb[k].value[e] += 0.01f * (float)(e % 7);
        vt->forward(st, NB_MODE_TRAIN, &full, &v, &perr);
        memcpy(ref, v->user, (size_t)n * sizeof(float));
        if (on_demand) memset((float *)v->user, 0xff, (size_t)n * sizeof(float));
        vt->forward(st, NB_MODE_TRAIN, &lazy, &v, &perr);
        if (!on_demand) {
            ok(!v->sync && !memcmp(ref, v->user, (size_t)n * sizeof(float)),
               "dim %d, pool %s, L %d: no rows on demand; the final rows are all there", dim, pn, L);
            break;
        }
        int batch_done = 1;
        for (int b = 0; b < B; b++) {
            batch_done &= !memcmp(v->user + (int64_t)b_users[b] * dim, ref + (int64_t)b_users[b] * dim,
                                  (size_t)dim * sizeof(float));
            batch_done &= !memcmp(v->item + (int64_t)b_pos[b] * dim,
                                  ref + (int64_t)(U + b_pos[b]) * dim, (size_t)dim * sizeof(float));
        }
        int lazy_left = v->sync && !v->user_layers && isnan(v->user[1 * dim]) && isnan(v->item[0]);
        /* every row, three times over, in a scrambled order, from 4 threads */
        #pragma omp parallel for schedule(dynamic, 1) num_threads(4)
        for (int32_t q = 0; q < 3 * N; q++) {
            int32_t r = (q * 7 + 3) % N;
            nb_view_sync(v, r < U ? NB_USERS : NB_ITEMS, r < U ? r : r - U);
        }
        ok(batch_done && lazy_left && !memcmp(ref, v->user, (size_t)n * sizeof(float)),
           "dim %d, pool %s, L %d, step %d: the batch's rows come with the forward, the others "
           "only when synced, all bit for bit as the full forward's", dim, pn, L, step);
    }
    if (on_demand) {
        vt->forward(st, NB_MODE_EVAL, NULL, &v, &perr);
        ok(!v->sync && v->user_layers && !memcmp(ref, v->user, (size_t)n * sizeof(float)),
           "dim %d, pool %s, L %d: the EVAL forward after it has every row and the stack", dim, pn,
           L);
    }
    free(ref);
    vt->free(st);
}

int main(void)
{
    test_tiny_train(&tiny, 0);
    nb_graph g = {0};
    char *err = NULL;
    if (graph_build(&tiny.t, NULL, 1e-7, &g, &err) != NB_OK) tap_bail("graph_build: %s", err);
    test_fd(&g);
    test_golden(&g, "case1_L2_reg1e-4.json");
    test_golden(&g, "case2_L2_reg1e-2_pow.json");
    test_mf();
    test_eval_cache();
    test_eval_ego();
    test_final_only();
    for (int32_t dim = 4; dim <= 64; dim += 60)
        for (int pool = LGCN_MEAN; pool <= LGCN_CONCAT; pool++)
            for (int32_t L = 0; L <= 3; L++) test_rows_on_demand(dim, pool, L);
    graph_free(&g);
    return tap_done();
}
