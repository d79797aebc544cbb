/*
 * test-dens.c - the DENS sampler: the double template (dens_impl.h) against
 * the official DENS golden vectors (../shared/golden/dens-mf, 1e-9 relative
 * with max-abs scaling) and central finite differences; the float plugin
 * through its vtable against the same vectors (1e-4); the beta schedule;
 * draws, statistics, no allocation on the hot path, thread-count
 * independence and NaN handling.
 *
 * The plugin source is included (not linked) so the test can hand it the
 * golden candidates through its test_cand hook.
 */
#include "../plugins/samplers/dens.c"

#define REAL double
#define SUF f64
#include "../plugins/samplers/dens_impl.h"
#undef REAL
#undef SUF

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpr.h"
#include "json.h"
#include "tap/tap.h"
#include "testhost.h"

#define MAXN 4096

/* ---------------------------------------------------------------- helpers */

/* A flattened numeric array of the golden file (malloc'd); *n its length. */
static double *garr(const json *root, const char *path, size_t *n)
{
    const json *j = json_get(root, path);
    if (!j) tap_bail("golden key %s missing", path);
    double *a = calloc(MAXN, sizeof *a);
    size_t c = json_flatten(j, a, MAXN);
    if (n) *n = c;
    return a;
}

static double gnum(const json *root, const char *path)
{
    const json *j = json_get(root, path);
    if (!j) tap_bail("golden key %s missing", path);
    return json_num(j);
}

/* golden/README.md tolerance: |a-b| <= tol * max(|b|, 1e-3 * max|b|). */
static int arr_close(const double *got, const double *want, size_t n, double tol,
                     const char *what)
{
    double scale = 0.0, worst = 0.0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) if (fabs(want[i]) > scale) scale = fabs(want[i]);
    for (size_t i = 0; i < n; i++) {
        double den = fmax(fabs(want[i]), 1e-3 * scale);
        double e = den > 0 ? fabs(got[i] - want[i]) / den : fabs(got[i] - want[i]);
        if (!(e <= worst)) { worst = e; wi = i; }
    }
    int c = ok(worst <= tol, "%s (max scaled err %.2e)", what, worst);
    if (!c) diag("    worst at %zu: got %.17g want %.17g", wi, got[wi], want[wi]);
    return c;
}

static const char *gate_key[DENS_N_GW] = {
    "W_user_gate", "b_user_gate", "W_item_gate", "b_item_gate",
    "W_pos_gate", "b_pos_gate", "W_neg_gate", "b_neg_gate"};

/* One golden case, in double. */
typedef struct gcase {
    json *root;
    int B, M, K, d, nU, nI;
    int users[8], pos[8], cand[64];
    double *U, *I, *gw[DENS_N_GW];
    double beta, gamma, l2;
    int cur_epoch, warmup;
} gcase;

static int load_case(gcase *c, const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/dens-mf/%s", tap_golden_dir(), file);
    memset(c, 0, sizeof *c);
    c->root = json_load(path);
    if (!c->root) return 0;
    c->B = (int)gnum(c->root, "layout.B");
    c->M = (int)gnum(c->root, "layout.M");
    c->K = (int)gnum(c->root, "layout.K");
    c->d = (int)gnum(c->root, "layout.d");
    c->nU = (int)gnum(c->root, "layout.n_users");
    c->nI = (int)gnum(c->root, "layout.n_items");
    double *t = garr(c->root, "inputs.users", NULL);
    for (int b = 0; b < c->B; b++) c->users[b] = (int)t[b];
    free(t);
    t = garr(c->root, "inputs.positives", NULL);
    for (int b = 0; b < c->B; b++) c->pos[b] = (int)t[b];
    free(t);
    t = garr(c->root, "inputs.neg_items", NULL);
    for (int i = 0; i < c->B * c->K * c->M; i++) c->cand[i] = (int)t[i];
    free(t);
    c->U = garr(c->root, "inputs.U", NULL);
    c->I = garr(c->root, "inputs.I", NULL);
    for (int k = 0; k < DENS_N_GW; k++) {
        char key[64];
        snprintf(key, sizeof key, "inputs.%s", gate_key[k]);
        c->gw[k] = garr(c->root, key, NULL);
    }
    c->beta = gnum(c->root, "hyper.beta");
    c->gamma = gnum(c->root, "hyper.gamma");
    c->l2 = gnum(c->root, "hyper.l2");
    c->cur_epoch = (int)gnum(c->root, "hyper.cur_epoch");
    c->warmup = (int)gnum(c->root, "hyper.warmup");
    return 1;
}

static void free_case(gcase *c)
{
    free(c->U);
    free(c->I);
    for (int k = 0; k < DENS_N_GW; k++) free(c->gw[k]);
    json_free(c->root);
}

static size_t gw_len(int k, int d) { return (size_t)((k % 2 == 0) ? d * d : d); }

/* ------------------------------------------- golden, double template path */

static void golden_double(const char *file)
{
    gcase c;
    if (!load_case(&c, file)) tap_bail("cannot read golden %s", file);
    int B = c.B, M = c.M, K = c.K, d = c.d;
    const double *gw[DENS_N_GW];
    for (int k = 0; k < DENS_N_GW; k++) gw[k] = c.gw[k];
    diag("%s: beta %g, K %d", file, c.beta, K);
    is_close(fmin(1.0, (double)c.cur_epoch / c.warmup), c.beta, 0, 1e-15,
             "%s: beta = min(1, cur_epoch/warmup)", file);

    double sel_work[64], scores[64], gate_p[64], gate_n[4096];
    int32_t chosen[16];
    dens_select_batch_f64(B, K, M, d, c.beta, gw, c.U, c.I, c.users, c.pos, c.cand, 1,
                          sel_work, scores, gate_p, gate_n, chosen);
    double *want = garr(c.root, "outputs.chosen_index", NULL);
    int same = 1;
    for (int k = 0; k < K; k++)
        for (int b = 0; b < B; b++) same &= chosen[b * K + k] == (int)want[k * B + b];
    ok(same, "%s: chosen_index exact", file);
    free(want);
    /* per-group intermediates (group k in the golden has its own M block) */
    for (int k = 0; k < K; k++) {
        char key[128];
        double gs[64], gn[4096];
        for (int b = 0; b < B; b++)
            for (int m = 0; m < M; m++) {
                gs[b * M + m] = scores[(b * K + k) * M + m];
                memcpy(gn + ((size_t)b * M + m) * d, gate_n + ((size_t)(b * K + k) * M + m) * d,
                       sizeof(double) * (size_t)d);
            }
        size_t n;
        snprintf(key, sizeof key, "outputs.intermediates.selection.k%d.scores", k);
        want = garr(c.root, key, &n);
        arr_close(gs, want, n, 1e-9, "selection scores");
        free(want);
        snprintf(key, sizeof key, "outputs.intermediates.selection.k%d.gate_n", k);
        want = garr(c.root, key, &n);
        arr_close(gn, want, n, 1e-9, "gate_n");
        free(want);
        if (k == 0) {
            snprintf(key, sizeof key, "outputs.intermediates.selection.k%d.gate_p", k);
            want = garr(c.root, key, &n);
            arr_close(gate_p, want, n, 1e-9, "gate_p = sigmoid(item_gate(p) + user_gate(u))");
            free(want);
        }
    }

    /* aux loss and its gradient */
    int32_t negs[16];
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++)
            negs[b * K + k] = c.cand[(b * K + k) * M + chosen[b * K + k]];
    double work[1024], lossb[16], tb[64], tmean[4];
    const double *nk[8];
    double gu[64], gp[64], gn[128], ga[64], gc[128], pr[64];
    double aux = dens_aux_batch_f64(B, K, d, c.gamma, gw, c.U, c.I, c.users, c.pos, negs, 1,
                                    work, nk, lossb, tb, tmean, gu, gp, gn, ga, gc, pr);
    const char *tn[4] = {"outputs.T1", "outputs.T2", "outputs.T3", "outputs.T4"};
    for (int q = 0; q < 4; q++) {
        double w = gnum(c.root, tn[q]);
        is_close(tmean[q], w, 0, 1e-9, "%s", tn[q] + 8);
    }
    is_close(aux, gnum(c.root, "outputs.gamma_term"), 0, 1e-9, "gamma_term");

    double *gU = calloc((size_t)c.nU * d, sizeof *gU), *gI = calloc((size_t)c.nI * d, sizeof *gI);
    double *gg[DENS_N_GW];
    for (int k = 0; k < DENS_N_GW; k++) gg[k] = calloc(gw_len(k, d), sizeof(double));
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < d; j++) {
            gU[c.users[b] * d + j] += gu[b * d + j];
            gI[c.pos[b] * d + j] += gp[b * d + j];
            for (int k = 0; k < K; k++) gI[negs[b * K + k] * d + j] += gn[(b * K + k) * d + j];
        }
    }
    dens_aux_wgrad_f64(B, K, d, c.U, c.I, c.users, c.pos, negs, ga, gc, pr, 1, gg);

    if (K == 1) {
        /* (a) the official softplus BPR (test-local) + squared reg: every
         * gradient to 1e-9; (b) the host's -log(1e-10 + sigma) BPR from
         * core/bpr.c: its 1e-10 changes dL/dx by a relative 1e-10/sigma(x). */
        double negv[64], gneg[64] = {0}, gneg_h[64] = {0}, raw, sp = 0.0;
        double *gUh = calloc((size_t)c.nU * d, sizeof *gUh);
        double *gIh = calloc((size_t)c.nI * d, sizeof *gIh);
        memcpy(gUh, gU, sizeof(double) * c.nU * d);
        memcpy(gIh, gI, sizeof(double) * c.nI * d);
        for (int b = 0; b < B; b++) memcpy(negv + b * d, c.I + negs[b] * d, sizeof(double) * d);
        for (int b = 0; b < B; b++) {
            const double *u = c.U + c.users[b] * d, *p = c.I + c.pos[b] * d, *n = negv + b * d;
            double x = 0.0;
            for (int j = 0; j < d; j++) x += u[j] * p[j] - u[j] * n[j];
            sp += x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x));
            double gx = -dens_sigmoid(-x) / B;
            for (int j = 0; j < d; j++) {
                gU[c.users[b] * d + j] += gx * (p[j] - n[j]);
                gI[c.pos[b] * d + j] += gx * u[j];
                gneg[b * d + j] = -gx * u[j];
            }
        }
        sp /= B;
        double bpr = bpr_loss_grad_f64(B, d, c.users, c.pos, c.U, c.I, negv, gUh, gIh, gneg_h,
                                       NULL);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < d; j++) {
                gI[negs[b] * d + j] += gneg[b * d + j];
                gIh[negs[b] * d + j] += gneg_h[b * d + j];
            }
        double reg = reg_loss_grad_f64(1, c.l2, B, d, c.users, c.pos, negs, 1, NULL, c.U, c.I, gU,
                                       gI, NULL, &raw);
        reg_loss_grad_f64(1, c.l2, B, d, c.users, c.pos, negs, 1, NULL, c.U, c.I, gUh, gIh, NULL,
                          &raw);
        double want_bpr = gnum(c.root, "outputs.bpr_kpair");
        is_close(sp, want_bpr, 0, 1e-12, "softplus BPR = bpr_kpair");
        is_close(bpr, want_bpr, 0, 1e-9, "host BPR -log(1e-10+sigma) = bpr_kpair to 1e-9 (rel %.1e)",
                 fabs(bpr / want_bpr - 1));
        is_close(reg, gnum(c.root, "outputs.emb_loss"), 0, 1e-9, "emb_loss (squared reg)");
        is_close(bpr + reg + aux, gnum(c.root, "outputs.loss_total"), 0, 1e-9,
                 "loss_total (host BPR + reg + aux)");
        size_t n;
        want = garr(c.root, "outputs.grad_total.U", &n);
        arr_close(gU, want, n, 1e-9, "grad_total.U (softplus BPR)");
        arr_close(gUh, want, n, 1e-8, "grad_total.U (host BPR, 1e-8: the 1e-10 in the log)");
        free(want);
        want = garr(c.root, "outputs.grad_total.I", &n);
        arr_close(gI, want, n, 1e-9, "grad_total.I (softplus BPR)");
        arr_close(gIh, want, n, 1e-8, "grad_total.I (host BPR, 1e-8: the 1e-10 in the log)");
        free(want);
        free(gUh);
        free(gIh);
    } else {
        /* K-pair BPR is not the host's: compare the gamma part of the grads */
        size_t n;
        double *w2;
        want = garr(c.root, "outputs.grad_total.U", &n);
        w2 = garr(c.root, "outputs.grad_bpr_plus_reg.U", NULL);
        for (size_t i = 0; i < n; i++) want[i] -= w2[i];
        arr_close(gU, want, n, 1e-9, "K=2: grad_total.U - grad_bpr_plus_reg.U (gamma part)");
        free(want);
        free(w2);
        want = garr(c.root, "outputs.grad_total.I", &n);
        w2 = garr(c.root, "outputs.grad_bpr_plus_reg.I", NULL);
        for (size_t i = 0; i < n; i++) want[i] -= w2[i];
        arr_close(gI, want, n, 1e-9, "K=2: grad_total.I - grad_bpr_plus_reg.I (gamma part)");
        free(want);
        free(w2);
    }
    for (int k = 0; k < DENS_N_GW; k++) {
        char key[128], what[128];
        size_t n;
        snprintf(key, sizeof key, "outputs.grad_total.%s", gate_key[k]);
        snprintf(what, sizeof what, "grad_total.%s", gate_key[k]);
        want = garr(c.root, key, &n);
        arr_close(gg[k], want, n, 1e-9, what);
        free(want);
        free(gg[k]);
    }
    free(gU);
    free(gI);
    free_case(&c);
}

/* ------------------------------------------------------ plugin harness */

static const nb_sampler_vt *dens_vtable(void)
{
    const nb_plugin_desc *pd = nb_plugin_descriptor(0);
    return pd ? (const nb_sampler_vt *)pd->vtable : NULL;
}

/* ------------------------------------------- golden, float plugin path */

static void golden_float(const char *file)
{
    gcase c;
    if (!load_case(&c, file)) tap_bail("cannot read golden %s", file);
    int B = c.B, M = c.M, d = c.d;
    const nb_sampler_vt *vt = dens_vtable();
    test_train tt;
    test_make_train(&tt, c.nU, c.nI, NULL, 0);
    nb_value vals[4] = {{.i = M}, {.f = c.gamma}, {.i = c.warmup}, {.i = 0}};
    void *st = NULL;
    char *err = NULL;
    int rc = vt->init(testhost(), vals, &tt.t, d, B, 1, &st, &err);
    if (rc != NB_OK) tap_bail("dens init: %s", err ? err : "?");
    dens_state *s = st;
    for (int k = 0; k < DENS_N_GW; k++)
        for (size_t i = 0; i < gw_len(k, d); i++) s->val[k][i] = (float)c.gw[k][i];
    s->test_cand = c.cand;
    (void)s;

    float U[256], I[256];
    for (int i = 0; i < c.nU * d; i++) U[i] = (float)c.U[i];
    for (int i = 0; i < c.nI * d; i++) I[i] = (float)c.I[i];
    nb_view v = {.n_users = c.nU, .n_items = c.nI, .dim = d, .user = U, .item = I,
                 .user_layers = U, .item_layers = I, .user_ego = U, .item_ego = I};
    nb_batch bt = {.size = B, .users = c.users, .pos = c.pos, .epoch = c.cur_epoch, .step = 0,
                   .first = 0, .seed = 7};
    float vec[64], regvec[64];
    int32_t item[8], regit[8];
    nb_negatives out = {vec, item, 1, regit, 0, regvec, 0.0};
    rc = vt->negatives(st, &bt, &v, &out, &err);
    is_int(rc, NB_OK, "%s float plugin: negatives", file);
    double *want = garr(c.root, "outputs.chosen_item_id", NULL);
    int same = 1;
    for (int b = 0; b < B; b++) same &= item[b] == (int)want[b] && regit[b] == item[b];
    ok(same, "float plugin: chosen items and reg_items match chosen_item_id");
    free(want);

    test_grads tg;
    test_make_grads(&tg, c.nU, c.nI, d);
    float gneg[64] = {0};
    double raw;
    double bpr = bpr_loss_grad_f32(B, d, c.users, c.pos, U, I, vec, tg.gu, tg.gi, gneg, NULL);
    double reg = reg_loss_grad_f32(1, c.l2, B, d, c.users, c.pos, regit, 1, NULL, U, I, tg.gu,
                                   tg.gi, NULL, &raw);
    is_close(bpr + reg + out.aux_loss, gnum(c.root, "outputs.loss_total"), 0, 1e-4,
             "float plugin: loss_total");
    rc = vt->backward(st, &bt, &v, gneg, NULL, &tg.g, &err);
    is_int(rc, NB_OK, "float plugin: backward");
    double got[4096];
    size_t n;
    want = garr(c.root, "outputs.grad_total.U", &n);
    for (size_t i = 0; i < n; i++) got[i] = tg.gu[i];
    arr_close(got, want, n, 1e-4, "float plugin: grad_total.U");
    free(want);
    want = garr(c.root, "outputs.grad_total.I", &n);
    for (size_t i = 0; i < n; i++) got[i] = tg.gi[i];
    arr_close(got, want, n, 1e-4, "float plugin: grad_total.I");
    free(want);
    nb_block *blk;
    int nblk;
    vt->blocks(st, &blk, &nblk);
    is_int(nblk, DENS_N_GW, "float plugin: 8 gate blocks");
    int allgood = 1;
    for (int k = 0; k < DENS_N_GW && k < nblk; k++) {
        char key[128];
        snprintf(key, sizeof key, "outputs.grad_total.%s", blk[k].name);
        want = garr(c.root, key, &n);
        allgood &= n == (size_t)(blk[k].rows * blk[k].cols) && blk[k].flags == NB_BLOCK_DENSE;
        for (size_t i = 0; i < n; i++) got[i] = blk[k].grad[i];
        char what[128];
        snprintf(what, sizeof what, "float plugin: grad_total.%s", blk[k].name);
        arr_close(got, want, n, 1e-4, what);
        free(want);
    }
    ok(allgood, "float plugin: gate blocks are dense with the golden shapes");
    vt->free(st);
    free(err);
    free_case(&c);
}

/* ---------------------------------------------- finite differences (f64) */

typedef struct fdctx {
    int B, M, d, nU, nI;
    int32_t users[4], pos[4], negs[4];
    double U[64], I[128], gwv[DENS_N_GW][64];
    double gamma, l2;
} fdctx;

/* The whole loss: BPR(u, p, n_{m*}) + squared reg + gamma/4 sum T, with the
 * picks held fixed. Gradients (nullable) accumulate into gU, gI, gg. */
static double fd_loss_grad(fdctx *c, double *gU, double *gI, double **gg)
{
    const double *gw[DENS_N_GW];
    for (int k = 0; k < DENS_N_GW; k++) gw[k] = c->gwv[k];
    int B = c->B, d = c->d;
    double negv[64] = {0}, gneg[64] = {0}, raw;
    for (int b = 0; b < B; b++) memcpy(negv + b * d, c->I + c->negs[b] * d, sizeof(double) * d);
    double L = bpr_loss_grad_f64(B, d, c->users, c->pos, c->U, c->I, negv, gU, gI,
                                 gU ? gneg : NULL, NULL);
    L += reg_loss_grad_f64(1, c->l2, B, d, c->users, c->pos, c->negs, 1, NULL, c->U, c->I, gU,
                           gI, NULL, &raw);
    double work[512], lossb[4], tb[16];
    const double *nk[1];
    double gu[64], gp[64], gn[64], ga[64], gc[64], pr[64];
    L += dens_aux_batch_f64(B, 1, d, c->gamma, gw, c->U, c->I, c->users, c->pos, c->negs, 1,
                            work, nk, lossb, tb, NULL, gu, gp, gn, ga, gc, pr);
    if (gU) {
        for (int b = 0; b < B; b++)
            for (int j = 0; j < d; j++) {
                gI[c->negs[b] * d + j] += gneg[b * d + j] + gn[b * d + j];
                gU[c->users[b] * d + j] += gu[b * d + j];
                gI[c->pos[b] * d + j] += gp[b * d + j];
            }
        dens_aux_wgrad_f64(B, 1, d, c->U, c->I, c->users, c->pos, c->negs, ga, gc, pr, 1, gg);
    }
    return L;
}

static double fd_f(void *ctx) { return fd_loss_grad(ctx, NULL, NULL, NULL); }

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
    fdctx c = {.B = 3, .M = 4, .d = 4, .nU = 3, .nI = 8, .gamma = 0.7, .l2 = 0.05};
    nb_rng r;
    nb_rng_seed(&r, 42, 1, 2);
    for (int i = 0; i < c.nU * c.d; i++) c.U[i] = 2 * nb_rng_uniform(&r) - 1;
    for (int i = 0; i < c.nI * c.d; i++) c.I[i] = 2 * nb_rng_uniform(&r) - 1;
    for (int k = 0; k < DENS_N_GW; k++)
        for (size_t i = 0; i < gw_len(k, c.d); i++) c.gwv[k][i] = 1.2 * nb_rng_uniform(&r) - 0.6;
    int32_t users[3] = {0, 2, 0}, pos[3] = {1, 5, 3};
    /* item 3 is the positive of row 2 and a candidate of rows 0 and 1 */
    int32_t cand[12] = {3, 0, 6, 7, 2, 3, 4, 6, 0, 2, 5, 7};
    memcpy(c.users, users, sizeof users);
    memcpy(c.pos, pos, sizeof pos);
    const double *gw[DENS_N_GW];
    for (int k = 0; k < DENS_N_GW; k++) gw[k] = c.gwv[k];
    double sw[16], sc[16];
    int32_t ch[3];
    dens_select_batch_f64(c.B, 1, c.M, c.d, 0.4, gw, c.U, c.I, c.users, c.pos, cand, 1, sw, sc,
                          NULL, NULL, ch);
    for (int b = 0; b < c.B; b++) c.negs[b] = cand[b * c.M + ch[b]];
    diag("FD case: picks %d %d %d", c.negs[0], c.negs[1], c.negs[2]);

    double gU[64] = {0}, gI[128] = {0}, gstore[DENS_N_GW][64];
    double *gg[DENS_N_GW];
    memset(gstore, 0, sizeof gstore);
    for (int k = 0; k < DENS_N_GW; k++) gg[k] = gstore[k];
    fd_loss_grad(&c, gU, gI, gg);
    ok(fd_array(&c, c.U, gU, (size_t)c.nU * c.d) <= 1, "FD: dL/dU (BPR + reg + gamma/4 sum T)");
    ok(fd_array(&c, c.I, gI, (size_t)c.nI * c.d) <= 1, "FD: dL/dI (p, chosen n, other rows 0)");
    for (int k = 0; k < DENS_N_GW; k++)
        ok(fd_array(&c, c.gwv[k], gstore[k], gw_len(k, c.d)) <= 1, "FD: dL/d%s", gate_key[k]);
    double gnorm = 0;
    for (int k = 0; k < DENS_N_GW; k++)
        for (size_t i = 0; i < gw_len(k, c.d); i++) gnorm += fabs(gstore[k][i]);
    ok(gnorm > 1e-3, "FD: gate gradients are not trivially zero (%g)", gnorm);
}

/* ---------------------------------------------- beta schedule (plugin) */

/* d = 2, all gate weights 0 and biases 0: g_n = 1/2 everywhere, so the
 * criterion is (1/2 - beta) u.n: beta = 0 picks the highest u.n, beta = 1
 * the lowest. */
static void beta_schedule(void)
{
    const nb_sampler_vt *vt = dens_vtable();
    test_train tt;
    test_make_train(&tt, 1, 4, NULL, 0);
    nb_value vals[4] = {{.i = 3}, {.f = 0.0}, {.i = 10}, {.i = 0}};
    void *st = NULL;
    char *err = NULL;
    if (vt->init(testhost(), vals, &tt.t, 2, 1, 3, &st, &err) != NB_OK) tap_bail("init: %s", err);
    dens_state *s = st;
    for (int k = 0; k < DENS_N_GW; k++) memset(s->val[k], 0, gw_len(k, 2) * sizeof(float));
    int32_t cand[3] = {1, 2, 3};
    s->test_cand = cand;
    float U[2] = {1, 0.5f}, I[8] = {0, 0, 0.5f, 0, 2, 1, -1, 0.25f}; /* u.n: 0.5, 2.5, -0.875 */
    nb_view v = {.n_users = 1, .n_items = 4, .dim = 2, .user = U, .item = I,
                 .user_layers = U, .item_layers = I, .user_ego = U, .item_ego = I};
    int32_t users[1] = {0}, pos[1] = {0};
    float vec[2], regvec[2];
    int32_t item[1], regit[1];
    nb_negatives out = {vec, item, 1, regit, 0, regvec, 0.0};
    int epochs[4] = {0, 4, 10, 25}, want[4] = {2, 2, 3, 3};
    for (int q = 0; q < 4; q++) {
        nb_batch bt = {.size = 1, .users = users, .pos = pos, .epoch = epochs[q], .step = 0,
                       .first = 0, .seed = 1};
        int rc = vt->negatives(st, &bt, &v, &out, &err);
        is_int(rc == NB_OK ? item[0] : -1, want[q], "beta schedule: warmup 10, epoch %d picks %d",
               epochs[q], want[q]);
        ok(vec[0] == I[want[q] * 2] && vec[1] == I[want[q] * 2 + 1],
           "beta schedule: epoch %d returns the raw chosen row", epochs[q]);
    }
    vt->free(st);
    free(err);
}

/* --------------------------------- draws, stats, allocation, threads, NaN */

static void plugin_behaviour(void)
{
    enum { NU = SMALL_U, NI = SMALL_I, D = SMALL_D, B = SMALL_B };
    static test_small_world w;
    test_small_world_make(&w);
    const nb_sampler_vt *vt = dens_vtable();
    nb_value vals[4] = {{.i = 5}, {.f = 0.3}, {.i = 100}, {.i = 1}};

    void *st[2] = {NULL, NULL};
    char *err = NULL;
    nb_host h4 = *testhost();
    h4.threads = 4;
    if (vt->init(testhost(), vals, &w.tt.t, D, B, 5, &st[0], &err) != NB_OK ||
        vt->init(&h4, vals, &w.tt.t, D, B, 5, &st[1], &err) != NB_OK)
        tap_bail("init: %s", err);
    ok(vt->reg_rows(st[0]) == 1, "reg_rows is 1 (the chosen item)");
    dens_state *s0 = st[0];
    int xav_bias_zero = 1;
    for (int j = 0; j < D; j++) xav_bias_zero &= s0->val[DENS_B_NEG][j] == 0.0f;
    ok(xav_bias_zero && s0->val[DENS_W_NEG][0] != 0.0f, "gate_init xavier: W random, b zero");

    float vec[2][B * D], regvec[B * D];
    int32_t item[2][B], regit[2][B];
    double aux[2];
    test_grads *tg = calloc(2, sizeof *tg);
    int viol = 0, allocs_delta = 0;
    for (int q = 0; q < 2; q++) {
        nb_negatives out = {vec[q], item[q], 1, regit[q], 0, regvec, 0.0};
        int rc = test_small_world_steps(&w, vt, st[q], &out, &tg[q], 0, 2, 5, 1234,
                                        &allocs_delta, &viol, &err);
        aux[q] = out.aux_loss;
        if (rc) diag("error: %s", err ? err : "?");
    }
    is_int(allocs_delta, 0, "negatives/backward do not allocate");
    is_int(viol, 0, "never a training positive as the negative");
    int same = memcmp(item[0], item[1], sizeof item[0]) == 0 &&
               memcmp(vec[0], vec[1], sizeof vec[0]) == 0 && aux[0] == aux[1];
    ok(same, "1 and 4 threads: identical picks and aux loss");
    int gsame = memcmp(tg[0].gu, tg[1].gu, sizeof tg[0].gu) == 0 &&
                memcmp(tg[0].gi, tg[1].gi, sizeof tg[0].gi) == 0;
    dens_state *s1 = st[1];
    for (int k = 0; k < DENS_N_GW; k++)
        gsame &= memcmp(s0->grad[k], s1->grad[k], gw_len(k, D) * sizeof(float)) == 0;
    ok(gsame, "1 and 4 threads: identical gradients (rows and gates)");

    const nb_stat *stats;
    int ns;
    vt->epoch_stats(st[0], &stats, &ns);
    is_int(ns, 3, "three statistics");
    /* user 0 has 7 of 9 items: rejection is frequent */
    ok(ns == 3 && strcmp(stats[0].name, "reject_rate") == 0 && stats[0].value > 0.1 &&
           stats[0].value < 1, "reject_rate in (0.1, 1): %g", ns ? stats[0].value : -1);
    ok(ns == 3 && strcmp(stats[1].name, "cand_max_norm") == 0 &&
           strcmp(stats[2].name, "cand_min_norm") == 0 && stats[1].value >= stats[2].value &&
           stats[1].value <= 1 && stats[2].value >= 0 && stats[1].value > 0,
       "cand_max_norm %g >= cand_min_norm %g within [0,1]", stats[1].value, stats[2].value);
    vt->epoch_stats(st[0], &stats, &ns);
    ok(stats[0].value == 0 && isnan(stats[1].value), "statistics reset after each call (no batch: NaN)");

    /* NaN in an embedding -> NB_ENUMERIC with a message */
    w.U[0] = NAN;
    nb_negatives out = {vec[0], item[0], 1, regit[0], 0, regvec, 0.0};
    free(err);
    test_small_world_nonfinite(&w, vt, st[0], &out, 2, 1234, "NaN embedding");
    free(tg);
    vt->free(st[0]);
    vt->free(st[1]);
}

int main(void)
{
    const nb_plugin_desc *pd = nb_plugin_descriptor(0);
    ok(pd && pd->kind == NB_KIND_SAMPLER && strcmp(pd->name, "dens") == 0 &&
           nb_plugin_descriptor(1) == NULL, "descriptor 0 is the sampler dens");
    /* the four golden files give 148 points: four double cases, three float */
    static const char *const golden[4] = {"case1_beta0.3_gamma0.3.json", "case2_beta0_gamma0.3.json",
                                          "case3_beta1_gamma0.3.json", "case4_beta0.3_K2.json"};
    if (golden_present("dens-mf", golden, 4)) {
        for (int k = 0; k < 4; k++) golden_double(golden[k]);
        for (int k = 0; k < 3; k++) golden_float(golden[k]);
    } else {
        skip_shared(148, "golden dens-mf files not found under %s", tap_golden_dir());
    }
    finite_differences();
    beta_schedule();
    plugin_behaviour();
    return tap_done();
}
