/*
 * test-ngcf.c - the NGCF backbone: the double instantiation of ngcf_impl.h
 * against central finite differences (2 layers, fixed node- and
 * message-dropout masks, every entry of E0 and of all W/b, plus the
 * per-layer gradient path) and against the RecBole golden vectors
 * (../shared/golden/ngcf case1 without dropout, case2 with the file's masks,
 * 1e-9); the float plugin through its vtable against case1 (1e-4); eval
 * without dropout; backward refused after an eval forward; the plugin on
 * an ABI 1.0 host (no sgemm_ex) gives the same gradient bits.
 */
#include "negbench/graph.h"
#include "negbench/plugin.h"
#include "bpr.h"
#include "json.h"
#include "tap/tap.h"
#include "testhost.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngcf_f64.h"

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index);

/* the shared tiny graph (0-based ids, golden README; testhost.h) */
enum { U = TINY_U, I = TINY_I, N = U + I, D = 4, B = TINY_B, L = 2, LD = (L + 1) * D };
static const int32_t *const b_users = tiny_users, *const b_pos = tiny_pos, *const b_neg = tiny_neg;
static test_train tiny;
static nb_graph graph;

/* Parameters in one array: E0 [N][D] | W1 [L][D][D] | b1 [L][D] | W2 | b2. */
enum { OFF_W1 = N * D, OFF_B1 = OFF_W1 + L * D * D, OFF_W2 = OFF_B1 + L * D,
       OFF_B2 = OFF_W2 + L * D * D, NPAR = OFF_B2 + L * D };

typedef struct nctx {
    double par[NPAR];
    double *val, *valT;          /* [nnz] or NULL */
    uint8_t *mask;               /* [L][N][D] or NULL */
    double p;
    int form;
    double reg_w, layer_w, wl[LD];
    ngcf_ws_f64 ws;
} nctx;

static void *wsbuf; /* the workspace block, allocated once */

static void ctx_init(nctx *c)
{
    memset(c, 0, sizeof *c);
    size_t bytes = ngcf_ws_bytes_f64(N, D, L);
    if (!wsbuf && posix_memalign(&wsbuf, 64, bytes) != 0) tap_bail("out of memory");
    memset(wsbuf, 0, bytes);
    ngcf_ws_bind_f64(&c->ws, N, D, L, wsbuf);
}

/* RecBole's NGCF loss: BPR on the concatenated rows + reg on the same rows
 * (+ an optional probe on the per-layer stack). grad [NPAR] nullable. */
static double ngcf_loss(nctx *c, double *grad)
{
    double *P = c->par;
    ngcf_forward_f64(NULL, &c->ws, &graph, c->val, P + OFF_W1, P + OFF_B1, P + OFF_W2,
                     P + OFF_B2, c->mask, c->p, P);
    const double *F = c->ws.X;
    double neg[B * LD], gneg[B * LD] = {0};
    static double Gf[N * LD], Gl[N * LD];
    memset(Gf, 0, sizeof Gf);
    memset(Gl, 0, sizeof Gl);
    for (int b = 0; b < B; b++) memcpy(neg + b * LD, F + (U + b_neg[b]) * LD, sizeof(double) * LD);
    double loss = bpr_loss_grad_f64(B, LD, b_users, b_pos, F, F + U * LD, neg, Gf, Gf + U * LD,
                                    gneg, NULL);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < LD; k++) Gf[(U + b_neg[b]) * LD + k] += gneg[b * LD + k];
    loss += reg_loss_grad_f64(c->form, c->reg_w, B, LD, b_users, b_pos, b_neg, 1, NULL, F,
                              F + U * LD, Gf, Gf + U * LD, NULL, NULL);
    if (c->layer_w != 0)
        for (int b = 0; b < B; b++)
            for (int k = 0; k < LD; k++) {
                loss += c->layer_w * c->wl[k] * F[b_pos[b] * LD + k + U * LD];
                Gl[(U + b_pos[b]) * LD + k] += c->layer_w * c->wl[k];
            }
    if (grad) {
        memset(grad, 0, sizeof(double) * NPAR);
        ngcf_backward_f64(NULL, &c->ws, &graph, c->valT, P + OFF_W1, P + OFF_W2, c->mask, c->p,
                          Gf, Gl, NULL, 0, NULL, grad, grad + OFF_W1, grad + OFF_B1, grad + OFF_W2,
                          grad + OFF_B2);
    }
    return loss;
}

static double loss_cb(void *ctx) { return ngcf_loss(ctx, NULL); }

static void test_fd(void)
{
    static nctx c;
    ctx_init(&c);
    nb_rng r;
    nb_rng_seed(&r, 23, 0, 0);
    for (int k = 0; k < NPAR; k++) c.par[k] = nb_rng_uniform(&r) - 0.5;
    static double val[64], valT[64];
    static uint8_t mask[L * N * D];
    for (int64_t e = 0; e < graph.nnz; e++) val[e] = nb_rng_uniform(&r) < 0.3 ? 0 : graph.dval[e] / 0.7;
    graph_transpose_vals_f64(&graph, val, valT);
    for (int k = 0; k < L * N * D; k++) mask[k] = nb_rng_uniform(&r) >= 0.2;
    c.val = val;
    c.valT = valT;
    c.mask = mask;
    c.p = 0.2;
    c.form = 0;
    c.reg_w = 0.03;
    c.layer_w = 0.4;
    for (int k = 0; k < LD; k++) c.wl[k] = nb_rng_uniform(&r) - 0.5;
    double grad[NPAR];
    ngcf_loss(&c, grad);
    const char *names[5] = {"E0", "W1", "b1", "W2", "b2"};
    int off[6] = {0, OFF_W1, OFF_B1, OFF_W2, OFF_B2, NPAR};
    for (int a = 0; a < 5; a++) {
        double gmax = 0;
        double worst = fd_worst(loss_cb, &c, c.par + off[a], grad + off[a], off[a + 1] - off[a],
                                1e-6, &gmax);
        ok(worst < 1e-6 && gmax > 1e-4, "FD (2 layers, fixed dropout masks): %s, max rel err %.2g",
           names[a], worst);
    }
}

/* Golden parameters (RecBole PAD rows dropped) into par [NPAR]. */
static void golden_params(const json *j, const char *pre, double *par)
{
    char key[128];
    test_tiny_golden_e0(j, pre, D, par);
    const char *nm[4] = {"W1", "b1", "W2", "b2"};
    int off[4] = {OFF_W1, OFF_B1, OFF_W2, OFF_B2}, sz[4] = {D * D, D, D * D, D};
    for (int a = 0; a < 4; a++)
        for (int l = 0; l < L; l++) {
            snprintf(key, sizeof key, "%s.%s_%d", pre, nm[a], l);
            json_flatten(json_get(j, key), par + off[a] + l * sz[a], (size_t)sz[a]);
        }
}

static int64_t entry_of(int r, int c)
{
    for (int64_t e = graph.ptr[r]; e < graph.ptr[r + 1]; e++)
        if (graph.col[e] == c) return e;
    return -1;
}

static void test_golden(const char *file, int dropout)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/ngcf/%s", tap_golden_dir(), file);
    json *j = json_load(path);
    if (!j) { skip_shared(dropout ? 9 : 10, "golden %s not readable", path); return; }
    static nctx c;
    ctx_init(&c);
    golden_params(j, "inputs", c.par);
    c.form = 0;
    c.reg_w = json_num(json_get(j, "hyper.reg_weight"));
    static double val[64], valT[64];
    static uint8_t mask[L * N * D];
    if (dropout) {
        double p_node = json_num(json_get(j, "hyper.node_dropout"));
        c.p = json_num(json_get(j, "hyper.message_dropout"));
        const json *ord = json_get(j, "inputs.adj_entry_order");
        double rnd[64];
        json_flatten(json_get(j, "inputs.node_dropout_rand"), rnd, 64);
        int mapped = 0;
        for (int k = 0; k < ord->n; k++) {
            int a = test_tiny_node((int)json_num(json_at(json_at(ord, k), 0)));
            int b = test_tiny_node((int)json_num(json_at(json_at(ord, k), 1)));
            int64_t e = a >= 0 && b >= 0 ? entry_of(a, b) : -1;
            if (e < 0) continue;
            mapped++;
            val[e] = rnd[k] + (1.0 - p_node) >= 1.0 ? graph.dval[e] * (1.0 / (1.0 - p_node)) : 0.0;
        }
        is_int(mapped, graph.nnz, "%s: every stored entry has a node_dropout_rand value", file);
        graph_transpose_vals_f64(&graph, val, valT);
        double A[14 * 14], err = 0;
        json_flatten(json_get(j, "outputs.adj_used_dense"), A, 14 * 14);
        for (int r = 0; r < 14; r++)
            for (int q = 0; q < 14; q++) {
                int a = test_tiny_node(r), b = test_tiny_node(q);
                if (a < 0 || b < 0) continue;
                int64_t e = entry_of(a, b);
                err = fmax(err, fabs((e >= 0 ? val[e] : 0.0) - A[r * 14 + q]));
            }
        ok(err < 1e-15, "%s: node-dropped Ahat = adj_used_dense (%.2g)", file, err);
        double m[L * 14 * D];
        json_flatten(json_get(j, "inputs.message_dropout_masks"), m, L * 14 * D);
        for (int l = 0; l < L; l++)
            for (int r = 0; r < 14; r++) {
                int a = test_tiny_node(r);
                if (a < 0) continue;
                for (int k = 0; k < D; k++) mask[(l * N + a) * D + k] = m[(l * 14 + r) * D + k] != 0;
            }
        c.val = val;
        c.valT = valT;
        c.mask = mask;
    }
    double grad[NPAR];
    double loss = ngcf_loss(&c, grad);
    double want[14 * LD], got[14 * LD], w2[14 * LD];
    json_flatten(json_get(j, "outputs.final_embeddings"), want, 14 * LD);
    int n = 0;
    for (int r = 0; r < 14; r++) {
        int a = test_tiny_node(r);
        if (a < 0) continue;
        for (int k = 0; k < LD; k++) { got[n] = c.ws.X[a * LD + k]; w2[n++] = want[r * LD + k]; }
    }
    ok(test_scaled_err(got, w2, n) < 1e-9, "%s: final (concatenated) embeddings to 1e-9 (%.2g)", file,
       test_scaled_err(got, w2, n));
    double lt = json_num(json_get(j, "outputs.loss_total"));
    is_close(loss, lt, 0, 1e-9, "%s: loss_total %.12g (reg on final rows, as RecBole)", file, lt);
    double gw[NPAR];
    golden_params(j, "outputs.grad_total", gw);
    const char *names[5] = {"E0 (U, I)", "W1", "b1", "W2", "b2"};
    int off[6] = {0, OFF_W1, OFF_B1, OFF_W2, OFF_B2, NPAR};
    for (int a = 0; a < 5; a++) {
        double e = test_scaled_err(grad + off[a], gw + off[a], off[a + 1] - off[a]);
        ok(e < 1e-9, "%s: grad_total %s to 1e-9 (%.2g)", file, names[a], e);
    }

    if (!dropout) {
        /* the float plugin, same inputs, no dropout */
        const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
        nb_value vals[4] = {{.i = L}, {.f = 0.0}, {.f = 0.0}, {.f = 1e-7}};
        void *st = NULL;
        char *perr = NULL;
        if (vt->init(testhost(), vals, &tiny.t, D, 1, &st, &perr) != NB_OK)
            tap_bail("the float plugin does not initialise: %s", perr ? perr : "?");
        nb_block *blk;
        int nb;
        vt->blocks(st, &blk, &nb);
        /* blocks: user_emb, item_emb, then per layer W1, b1, W2, b2 */
        for (int k = 0; k < N * D; k++) *(k < U * D ? &blk[0].value[k] : &blk[1].value[k - U * D]) = (float)c.par[k];
        for (int l = 0; l < L; l++) {
            int off2[4] = {OFF_W1 + l * D * D, OFF_B1 + l * D, OFF_W2 + l * D * D, OFF_B2 + l * D};
            for (int a = 0; a < 4; a++)
                for (int k = 0; k < (a & 1 ? D : D * D); k++)
                    blk[2 + l * 4 + a].value[k] = (float)c.par[off2[a] + k];
        }
        const nb_view *v;
        nb_grads gr;
        vt->forward(st, NB_MODE_TRAIN, NULL, &v, &perr);
        vt->grads(st, &gr);
        float neg[B * LD], gneg[B * LD] = {0};
        for (int b = 0; b < B; b++) {
            memcpy(neg + b * LD, v->item + b_neg[b] * LD, sizeof(float) * LD);
            nb_block_grad_row(gr.user, b_users[b]);
            nb_block_grad_row(gr.item, b_pos[b]);
            nb_block_grad_row(gr.item, b_neg[b]);
        }
        double fl = bpr_loss_grad_f32(B, LD, b_users, b_pos, v->user, v->item, neg, gr.user->grad,
                                      gr.item->grad, gneg, NULL);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < LD; k++) gr.item->grad[b_neg[b] * LD + k] += gneg[b * LD + k];
        /* RecBole's reg on the final rows, written into the final-row grads */
        fl += reg_loss_grad_f32(0, c.reg_w, B, LD, b_users, b_pos, b_neg, 1, NULL, v->user,
                                v->item, gr.user->grad, gr.item->grad, NULL, NULL);
        ok(v->dim == LD && v->n_layers == L, "plugin view: dim (L+1)d = %d, %d layers", v->dim, v->n_layers);
        is_close(fl, lt, 0, 1e-4, "%s: float plugin loss to 1e-4", file);
        vt->backward(st, NULL, &perr);
        double pg[NPAR];
        for (int k = 0; k < N * D; k++) pg[k] = k < U * D ? blk[0].grad[k] : blk[1].grad[k - U * D];
        for (int l = 0; l < L; l++) {
            int off2[4] = {OFF_W1 + l * D * D, OFF_B1 + l * D, OFF_W2 + l * D * D, OFF_B2 + l * D};
            for (int a = 0; a < 4; a++)
                for (int k = 0; k < (a & 1 ? D : D * D); k++) pg[off2[a] + k] = blk[2 + l * 4 + a].grad[k];
        }
        double worst = 0;
        for (int a = 0; a < 5; a++)
            worst = fmax(worst, test_scaled_err(pg + off[a], gw + off[a], off[a + 1] - off[a]));
        ok(worst < 1e-4, "%s: float plugin gradients (E0, W, b) to 1e-4 (%.2g)", file, worst);
        vt->free(st);
    }
    json_free(j);
}

/* Dropout only in training; eval is deterministic and cached. */
static void test_modes(void)
{
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    nb_value vals[4] = {{.i = 3}, {.f = 0.3}, {.f = 0.2}, {.f = 1e-7}};
    void *st = NULL;
    char *perr = NULL;
    int rc = vt->init(testhost(), vals, &tiny.t, 8, 3, &st, &perr);
    is_int(rc, NB_OK, "init with 3 layers, both dropouts %s", perr ? perr : "");
    const nb_view *v;
    float e1[N * 32], e2[N * 32], t1[N * 32], t2[N * 32];
    vt->forward(st, NB_MODE_EVAL, NULL, &v, &perr);
    memcpy(e1, v->user, sizeof e1);
    nb_batch bt = {.size = 0, .epoch = 0, .step = 7, .seed = 11};
    vt->forward(st, NB_MODE_TRAIN, &bt, &v, &perr);
    memcpy(t1, v->user, sizeof t1);
    vt->forward(st, NB_MODE_TRAIN, &bt, &v, &perr);
    memcpy(t2, v->user, sizeof t2);
    ok(memcmp(t1, t2, sizeof t1) == 0, "training masks reproducible from (seed, step)");
    bt.step = 8;
    vt->forward(st, NB_MODE_TRAIN, &bt, &v, &perr);
    ok(memcmp(t1, v->user, sizeof t1) != 0, "another step draws other masks");
    ok(memcmp(t1, e1, sizeof t1) != 0, "training view differs from eval (dropout on)");
    vt->forward(st, NB_MODE_EVAL, NULL, &v, &perr);
    memcpy(e2, v->user, sizeof e2);
    ok(memcmp(e1, e2, sizeof e1) == 0, "eval has no dropout: identical across calls");
    perr = NULL;
    rc = vt->backward(st, NULL, &perr);
    ok(rc == NB_EINVAL && perr && strstr(perr, "training forward"),
       "backward after an eval forward refused: %s", perr ? perr : "");
    free(perr);
    vt->free(st);
}

/* One training step of the float plugin on host h (both dropouts, a fixed
 * view gradient on the batch rows); the parameter gradients into out. */
static void plugin_step(const nb_host *h, float *out, int64_t n_out)
{
    const nb_model_vt *vt = nb_plugin_descriptor(0)->vtable;
    nb_value vals[4] = {{.i = 3}, {.f = 0.3}, {.f = 0.2}, {.f = 1e-7}};
    void *st = NULL;
    char *perr = NULL;
    vt->init(h, vals, &tiny.t, 8, 5, &st, &perr);
    const nb_view *v;
    nb_grads gr;
    nb_batch bt = {.size = 0, .epoch = 0, .step = 3, .seed = 9};
    vt->forward(st, NB_MODE_TRAIN, &bt, &v, &perr);
    vt->grads(st, &gr);
    for (int b = 0; b < B; b++) {
        float *gu = nb_block_grad_row(gr.user, b_users[b]);
        float *gi = nb_block_grad_row(gr.item, b_pos[b]);
        for (int k = 0; k < v->dim; k++) {
            gu[k] += 0.1f * (float)(k - b);
            gi[k] -= 0.05f * (float)k;
        }
    }
    vt->backward(st, NULL, &perr);
    nb_block *blk;
    int nb;
    vt->blocks(st, &blk, &nb);
    int64_t n = 0;
    for (int a = 0; a < nb; a++)
        for (int64_t k = 0; k < blk[a].rows * blk[a].cols && n < n_out; k++)
            out[n++] = blk[a].grad[k];
    vt->free(st);
}

/* A host of ABI 1.0 (struct_size ends before sgemm_ex): the plugin falls
 * back to sgemm on a transposed copy; with the test host's in-order
 * double loops both paths give the same bits. */
static void test_old_host(void)
{
    nb_host old = *testhost();
    old.struct_size = (uint32_t)offsetof(nb_host, sgemm_ex);
    old.sgemm_ex = NULL;
    enum { NG = N * 8 + 3 * (2 * 8 * 8 + 2 * 8) };
    static float ga[NG], gb[NG];
    plugin_step(testhost(), ga, NG);
    plugin_step(&old, gb, NG);
    double sum = 0;
    for (int k = 0; k < NG; k++) sum += fabs(ga[k]);
    ok(sum > 0 && !memcmp(ga, gb, sizeof ga),
       "plugin on an ABI 1.0 host (no sgemm_ex) = with sgemm_ex, all gradients bit for bit");
}

int main(void)
{
    test_tiny_train(&tiny, 0);
    char *err = NULL;
    if (graph_build(&tiny.t, NULL, 1e-7, &graph, &err) != NB_OK) tap_bail("graph_build: %s", err);
    test_fd();
    test_golden("case1_nodropout.json", 0);
    test_golden("case2_dropout_fixed_masks.json", 1);
    test_modes();
    test_old_host();
    graph_free(&graph);
    return tap_done();
}
