/*
 * test-ans-graph.c - ANS per layer on a graph backbone (docs/methods/ans.md):
 * the double template, run on the (positive, layer) rows of a 2-layer
 * LightGCN, against the official ANS golden steps with n_layers 2
 * (../shared/golden/ans-lightgcn, 1e-9: per-layer gates, margins,
 * directions, criteria and picks, the chosen augmented vectors, bpr,
 * reg_raw, L_c, D, O, the total loss and the gradients of U, I through the
 * propagation and of all six gate/margin arrays); central finite
 * differences in double of the whole per-layer loss (BPR on the pooled
 * per-layer augmented negatives, L_c, D, O, regulariser; picks fixed) w.r.t.
 * E0 through the real propagation and every gate/margin weight, for mean,
 * sum and concat pooling; the float plugin on the real lightgcn plugin against the
 * golden (concat: the official BPR score, 1e-4) and against the double
 * reference (mean); per_layer vs pooled differ where the per-layer picks
 * differ, pooled equals the MF code on the pooled rows, and on an MF view
 * the two modes are bit-identical; every ablation per layer, plugin against
 * the double reference; thread count independence and no allocation in a
 * step.
 *
 * The golden files use RecBole ids with PAD = 0; here PAD user 0 and PAD
 * item 0 are kept as isolated nodes (6 users, 8 items, 14 nodes), so the ids
 * and Ahat (deg + 1e-7) are the files' own.
 */
#define nb_plugin_descriptor ans_plugin_descriptor
#include "../plugins/samplers/ans.c"
#undef nb_plugin_descriptor

#define REAL double
#define SUF f64
#include "../plugins/samplers/ans_impl.h"
#undef REAL
#undef SUF

#include "graph_sampler_test.h"

enum { NU = 6, NI = 8, NN = 14, D = 4, BB = 4, MM = 4, L = 2, NL = 3, NR = BB * NL };
enum { REG_NORM = 0, REG_SQUARED = 1 }; /* core/bpr.h "form" */
static const char *const pkey[P_COUNT] = { "W_u", "b_u", "W_i", "b_i", "w", "b_w" };
static const int64_t plen[P_COUNT] = { D * D, D, D * D, D, D, 1 };

static test_train r_tiny; /* the tiny graph in RecBole ids (testhost.h) */
static nb_train r_train;
static nb_graph r_graph; /* RecBole's Ahat: deg + 1e-7, PAD nodes isolated */

static void r_setup(void)
{
    test_tiny_train(&r_tiny, 1);
    r_train = r_tiny.t;
    char *err = NULL;
    if (graph_build(&r_train, NULL, 1e-7, &r_graph, &err) != NB_OK) tap_bail("graph: %s", err);
}

/* ------------------------------------------------------------------------
 * The double reference: LightGCN (pool) on E0, ANS per layer on the B*nl
 * (positive, layer) rows, the pooled negative, the host's BPR on final rows,
 * the regulariser on ego rows of u, p and all M candidates. */
typedef struct aref {
    int pool, reg_form, select;
    int variant, dir_mode, mag_mode, augment; /* the plugin's values (ans_new) */
    double reg_w;
    ans_cfg cfg;
    double E0[NN * D];
    double par[P_COUNT][D * D];
    int32_t users[BB], pos[BB], cand[BB * MM]; /* RecBole ids */
    double r[NR * MM * D];                     /* [B][nl][M][d] */
    int32_t chosen[NR];                        /* out (select) or in */
    double vec[BB * NL * D];                   /* pooled negative [B][df] */
    double bpr, reg_raw;
    /* work */
    ans_batch_f64 w;
    char *mem;
    int32_t candl[NR * MM], slot[NN * NL];
    double dbg_t[NR * MM], dbg_mu[NR * MM], dbg_crit[NR * MM], dbg_dir[NR * MM * D];
} aref;

static void aref_init(aref *a, double gamma, double eps)
{
    memset(a, 0, sizeof *a);
    a->cfg = (ans_cfg){ .d = D, .M = MM, .gamma = gamma, .eps = eps, .gate = 1, .augment = 1,
                        .use_mu = 1, .dir = ANS_DIR_SGN, .rmode = ANS_R_UNIT,
                        .n_items = NN * NL, .o_layers = NL };
    a->mem = calloc(1, ans_carve_f64(&a->w, &a->cfg, NR, NULL));
    ans_carve_f64(&a->w, &a->cfg, NR, a->mem);
    for (int k = 0; k < NN * NL; k++) a->slot[k] = -1;
    a->w.cand = a->candl;
    a->w.slot = a->slot;
    a->w.threads = 1;
    a->w.Wu = a->par[P_W_U]; a->w.bu = a->par[P_B_U]; a->w.Wi = a->par[P_W_I];
    a->w.bi = a->par[P_B_I]; a->w.w = a->par[P_W]; a->w.bw = a->par[P_B_W];
    a->w.dbg_t = a->dbg_t; a->w.dbg_mu = a->dbg_mu;
    a->w.dbg_crit = a->dbg_crit; a->w.dbg_dir = a->dbg_dir;
    a->select = 1;
    a->augment = 1;
}

/* Switch a to one of the ablations (the plugin's mapping in ans_init):
 * 1 no_dis, 2 no_dir raw, 3 no_mag uniform, 4 no_mag easy, 5 augment false. */
static const char *aref_variant(aref *a, int v)
{
    static const char *names[6] = { "full", "no_dis", "no_dir raw", "no_mag uniform",
                                    "no_mag easy", "augment false" };
    switch (v) {
    case 1: a->variant = VAR_NO_DIS; a->cfg.gate = 0; break;
    case 2: a->variant = VAR_NO_DIR; a->dir_mode = 1; a->cfg.dir = ANS_DIR_ONE; a->cfg.use_edif = 1; break;
    case 3: a->variant = VAR_NO_MAG; a->cfg.use_mu = 0; a->cfg.rmode = ANS_R_RAW; break;
    case 4:
        a->variant = VAR_NO_MAG; a->mag_mode = 1; a->cfg.use_mu = 0; a->cfg.dir = ANS_DIR_ONE;
        a->cfg.rmode = ANS_R_ONE; a->cfg.use_edif = 1;
        break;
    case 5: a->augment = 0; a->cfg.augment = 0; break;
    default: break;
    }
    return names[v];
}

/* The loss; dE0 [N][d] and dpar (both nullable together) get the gradient. */
static double aref_run(aref *a, double *dE0, double (*dpar)[D * D])
{
    static double layers[NN * NL * D], final[NN * NL * D], Gf[NN * NL * D], Gl[NN * NL * D],
        H0[NN * D], H1[NN * D];
    const int concat = a->pool == LGCN_CONCAT;
    const int32_t df = concat ? NL * D : D;
    const double c = a->pool == LGCN_MEAN ? 1.0 / NL : 1.0;
    ans_batch_f64 *w = &a->w;
    lgcn_forward_f64(&r_graph, NULL, L, D, a->pool, a->E0, layers, final);
    w->B = NR;
    for (int b = 0; b < BB; b++)
        for (int l = 0; l < NL; l++) {
            const int q = b * NL + l;
            memcpy(w->Ub + q * D, layers + ((int64_t)a->users[b] * NL + l) * D, sizeof(double) * D);
            memcpy(w->Pb + q * D, layers + ((int64_t)(NU + a->pos[b]) * NL + l) * D,
                   sizeof(double) * D);
            for (int m = 0; m < MM; m++) a->candl[q * MM + m] = (NU + a->cand[b * MM + m]) * NL + l;
        }
    memcpy(w->r, a->r, sizeof a->r);
    ans_dedupe_f64(&a->cfg, w);
    for (int j = 0; j < w->nU; j++)
        memcpy(w->Nu + j * D, layers + (int64_t)w->uitem[j] * D, sizeof(double) * D);
    if (!a->select) memcpy(w->chosen, a->chosen, sizeof a->chosen);
    if (ans_forward_f64(&a->cfg, w, ans_gemm_ref_f64, a->select) != NB_OK) return NAN;
    memcpy(a->chosen, w->chosen, sizeof a->chosen);
    for (int b = 0; b < BB; b++)
        for (int k = 0; k < df; k++) {
            if (concat) { a->vec[b * df + k] = w->vec[b * NL * D + k]; continue; }
            double s = 0;
            for (int l = 0; l < NL; l++) s += w->vec[(b * NL + l) * D + k];
            a->vec[b * df + k] = c * s;
        }
    double gneg[BB * NL * D] = { 0 };
    memset(Gf, 0, sizeof Gf);
    memset(Gl, 0, sizeof Gl);
    if (dE0) memset(dE0, 0, sizeof(double) * NN * D);
    a->bpr = bpr_loss_grad_f64(BB, df, a->users, a->pos, final, final + NU * df, a->vec, Gf,
                               Gf + NU * df, gneg, NULL);
    double reg = reg_loss_grad_f64(a->reg_form, a->reg_w, BB, D, a->users, a->pos, a->cand, MM,
                                   NULL, a->E0, a->E0 + NU * D, dE0, dE0 ? dE0 + NU * D : NULL,
                                   NULL, &a->reg_raw);
    const double loss = a->bpr + reg + w->aux;
    if (!dE0) return loss;
    /* dL/dn~^(l): c d_neg (mean, sum) or the l-th slice (concat) */
    double dnl[NR * D];
    for (int b = 0; b < BB; b++)
        for (int l = 0; l < NL; l++)
            for (int k = 0; k < D; k++)
                dnl[(b * NL + l) * D + k] = concat ? gneg[b * df + l * D + k] : c * gneg[b * df + k];
    for (int p = 0; p < P_COUNT; p++) memset(dpar[p], 0, sizeof(double) * D * D);
    const ans_pgrad_f64 pg = { dpar[0], dpar[1], dpar[2], dpar[3], dpar[4], dpar[5] };
    if (ans_backward_f64(&a->cfg, w, dnl, ans_gemm_ref_f64, &pg) != NB_OK) return NAN;
    for (int b = 0; b < BB; b++)
        for (int l = 0; l < NL; l++)
            for (int k = 0; k < D; k++) {
                const int q = b * NL + l;
                Gl[((int64_t)a->users[b] * NL + l) * D + k] += w->Gu[q * D + k];
                Gl[((int64_t)(NU + a->pos[b]) * NL + l) * D + k] += w->Gp[q * D + k];
            }
    for (int j = 0; j < w->nU; j++)
        for (int k = 0; k < D; k++) Gl[(int64_t)w->uitem[j] * D + k] += w->GnU[j * D + k];
    lgcn_backward_f64(&r_graph, NULL, L, D, a->pool, Gf, Gl, NULL, 0, H0, H1, dE0);
    return loss;
}

/* Inputs of a golden case into a (concat pooling: the official BPR score). */
static void aref_load(json *j, aref *a)
{
    aref_init(a, gs_num(j, "hyper.gamma"), gs_num(j, "hyper.eps"));
    a->pool = LGCN_CONCAT;
    a->reg_form = gs_num(j, "hyper.require_pow") != 0 ? REG_SQUARED : REG_NORM;
    a->reg_w = gs_num(j, "hyper.reg_weight");
    double *u = gs_arr(j, "inputs.U", NULL), *it = gs_arr(j, "inputs.I", NULL);
    memcpy(a->E0, u, sizeof(double) * NU * D);
    memcpy(a->E0 + NU * D, it, sizeof(double) * NI * D);
    free(u); free(it);
    for (int p = 0; p < P_COUNT; p++) {
        char key[64];
        snprintf(key, sizeof key, "inputs.%s", pkey[p]);
        if (p == P_B_W) { a->par[p][0] = gs_num(j, key); continue; }
        double *x = gs_arr(j, key, NULL);
        memcpy(a->par[p], x, sizeof(double) * plen[p]);
        free(x);
    }
    double *us = gs_arr(j, "inputs.users", NULL), *ps = gs_arr(j, "inputs.positives", NULL),
           *cs = gs_arr(j, "inputs.candidates", NULL), *r = gs_arr(j, "inputs.r", NULL);
    for (int b = 0; b < BB; b++) {
        a->users[b] = (int32_t)us[b];
        a->pos[b] = (int32_t)ps[b];
        for (int m = 0; m < MM; m++) a->cand[b * MM + m] = (int32_t)cs[b * MM + m];
    }
    /* r [B][M][L+1][d] -> [B][L+1][M][d] */
    for (int b = 0; b < BB; b++)
        for (int m = 0; m < MM; m++)
            for (int l = 0; l < NL; l++)
                for (int k = 0; k < D; k++)
                    a->r[((b * NL + l) * MM + m) * D + k] = r[((b * MM + m) * NL + l) * D + k];
    free(us); free(ps); free(cs); free(r);
}

/* Per-candidate array [B*nl][M](x width) of the reference in the golden
 * layout [B][M][nl](x width). */
static void to_golden(const double *x, int width, double *out)
{
    for (int b = 0; b < BB; b++)
        for (int m = 0; m < MM; m++)
            for (int l = 0; l < NL; l++)
                for (int k = 0; k < width; k++)
                    out[((b * MM + m) * NL + l) * width + k] = x[((b * NL + l) * MM + m) * width + k];
}

static double cmp_key(json *j, const char *key, const double *got, size_t n)
{
    size_t cnt = 0;
    double *want = gs_arr(j, key, &cnt);
    double e = cnt == n ? test_scaled_err(got, want, n) : INFINITY;
    free(want);
    return e;
}

static void test_golden_double(const char *file)
{
    json *j = gs_load("ans-lightgcn", file);
    if (!j) { skip_shared(6, "golden %s/ans-lightgcn/%s not readable", tap_golden_dir(), file); return; }
    static aref a;
    aref_load(j, &a);
    double dE0[NN * D], dpar[P_COUNT][D * D];
    double loss = aref_run(&a, dE0, dpar);
    double *ci = gs_arr(j, "outputs.chosen_index", NULL);
    int same = 1;
    for (int q = 0; q < NR; q++) same &= a.chosen[q] == (int32_t)ci[q];
    free(ci);
    ok(same, "%s: per-layer picks m*_l = golden chosen_index", file);
    double g[NR * MM * D], e = 0;
    to_golden(a.w.G, D, g);
    e = fmax(e, cmp_key(j, "outputs.intermediates.gate_g", g, NR * MM * D));
    to_golden(a.dbg_t, 1, g);
    e = fmax(e, cmp_key(j, "outputs.intermediates.margin_t", g, NR * MM));
    to_golden(a.dbg_mu, 1, g);
    e = fmax(e, cmp_key(j, "outputs.intermediates.mu", g, NR * MM));
    to_golden(a.dbg_crit, 1, g);
    e = fmax(e, cmp_key(j, "outputs.intermediates.selection_criterion", g, NR * MM));
    to_golden(a.dbg_dir, D, g);
    e = fmax(e, cmp_key(j, "outputs.intermediates.direction", g, NR * MM * D));
    e = fmax(e, cmp_key(j, "outputs.augmented_negative_chosen", a.w.vec, NR * D));
    ok(e < 1e-9, "%s: per-layer gate, t, mu, direction, criterion, chosen n~ to 1e-9 (%.2g)",
       file, e);
    const double terms[6] = { a.bpr, a.reg_raw, a.w.Lc, a.w.D, a.w.O, loss };
    static const char *tk[6] = { "outputs.bpr", "outputs.reg_raw", "outputs.L_c", "outputs.D",
                                 "outputs.O", "outputs.loss_total" };
    double te = 0;
    for (int q = 0; q < 6; q++) te = fmax(te, fabs(terms[q] / gs_num(j, tk[q]) - 1));
    ok(te < 1e-9, "%s: bpr (concat score), reg_raw, L_c (mean over b,l), D (mean over b,m,l), "
       "O (sum over l), loss_total to 1e-9 (%.2g)", file, te);
    double eu = cmp_key(j, "outputs.grad_total.U", dE0, NU * D);
    double ei = cmp_key(j, "outputs.grad_total.I", dE0 + NU * D, NI * D);
    ok(eu < 1e-9 && ei < 1e-9, "%s: grad_total U, I through the propagation to 1e-9 (%.2g, %.2g)",
       file, eu, ei);
    double pe = 0;
    for (int p = 0; p < P_COUNT; p++) {
        char key[64];
        snprintf(key, sizeof key, "outputs.grad_total.%s", pkey[p]);
        if (p == P_B_W) pe = fmax(pe, fabs(dpar[p][0] / gs_num(j, key) - 1));
        else pe = fmax(pe, cmp_key(j, key, dpar[p], (size_t)plen[p]));
    }
    ok(pe < 1e-9, "%s: grad_total W_u b_u W_i b_i w b_w to 1e-9 (%.2g)", file, pe);
    int differ = 0;
    for (int b = 0; b < BB; b++) differ |= a.chosen[b * NL + 1] != a.chosen[b * NL];
    ok(differ, "%s: some positive picks different candidates at different layers", file);
    free(a.mem);
    json_free(j);
}

/* ------------------------------------------------------------------------
 * Finite differences of the whole per-layer loss, picks fixed. */
static double fd_cb(void *ctx) { return aref_run(ctx, NULL, NULL); }

/* Central differences at h and h/2 combined by Richardson extrapolation
 * (O(h^4)): the w gradients are ~1e-7 next to a loss of ~1, so a small
 * step would drown them in rounding (h = 1e-3 for the weights, 1e-4 for
 * E0). */
static double fd_richardson(aref *a, double *x, double h)
{
    const double f1 = fd_central(fd_cb, a, x, h), f2 = fd_central(fd_cb, a, x, h / 2);
    return (4.0 * f2 - f1) / 3.0;
}

static void test_fd(int pool)
{
    static aref a;
    aref_init(&a, 0.7, 0.4);
    a.pool = pool;
    a.reg_form = REG_NORM;
    a.reg_w = 0.05;
    nb_rng rg;
    nb_rng_seed(&rg, 77, (uint64_t)pool, 0);
    for (int k = 0; k < NN * D; k++) a.E0[k] = nb_rng_uniform(&rg) - 0.5;
    for (int p = 0; p < P_COUNT; p++)
        for (int i = 0; i < plen[p]; i++) a.par[p][i] = nb_rng_uniform(&rg) - 0.5;
    for (int k = 0; k < NR * MM * D; k++) a.r[k] = nb_rng_uniform(&rg);
    static const int32_t us[BB] = { 1, 3, 5, 1 }, ps[BB] = { 2, 5, 7, 3 };
    static const int32_t cs[BB * MM] = { 6, 4, 6, 7, 2, 7, 3, 4, 4, 1, 3, 5, 5, 7, 4, 6 };
    memcpy(a.users, us, sizeof us);
    memcpy(a.pos, ps, sizeof ps);
    memcpy(a.cand, cs, sizeof cs);
    double dE0[NN * D], dpar[P_COUNT][D * D];
    aref_run(&a, dE0, dpar); /* picks */
    int differ = 0;
    for (int b = 0; b < BB; b++)
        for (int l = 1; l < NL; l++) differ |= a.chosen[b * NL + l] != a.chosen[b * NL];
    a.select = 0;
    aref_run(&a, dE0, dpar);
    double gmax = 0, worst = 0;
    for (int k = 0; k < NN * D; k++) gmax = fmax(gmax, fabs(dE0[k]));
    for (int k = 0; k < NN * D; k++) {
        double fd = fd_richardson(&a, &a.E0[k], 1e-4);
        worst = fmax(worst, fabs(fd - dE0[k]) / fmax(fabs(dE0[k]), 1e-2 * gmax));
    }
    double pw[P_COUNT] = { 0 }, pworst = 0;
    for (int p = 0; p < P_COUNT; p++) {
        double pmax = 0;
        for (int i = 0; i < plen[p]; i++) pmax = fmax(pmax, fabs(dpar[p][i]));
        for (int i = 0; i < plen[p]; i++) {
            double fd = fd_richardson(&a, &a.par[p][i], 1e-3);
            pw[p] = fmax(pw[p], fabs(fd - dpar[p][i]) / fmax(fabs(dpar[p][i]), 1e-2 * pmax + 1e-12));
        }
        pworst = fmax(pworst, pw[p]);
    }
    /* w's gradients are ~1e-7 (BPR through mu only): 1e-5 relative is ~1e-12 absolute */
    ok(worst < 1e-6 && pworst < 1e-5 && gmax > 1e-3 && differ,
       "FD (L=2, %s, per-layer picks differ): E0 through the propagation %.2g; W_u %.2g b_u %.2g "
       "W_i %.2g b_i %.2g w %.2g b_w %.2g", pool == LGCN_MEAN ? "mean" : pool == LGCN_SUM ? "sum" : "concat", worst, pw[0],
       pw[1], pw[2], pw[3], pw[4], pw[5]);
    free(a.mem);
}

/* ------------------------------------------------------------------------
 * The float plugin on the real lightgcn plugin. */
static const nb_sampler_vt *ans_vt_get(void)
{
    return (const nb_sampler_vt *)ans_plugin_descriptor(0)->vtable;
}

/* A lightgcn plugin on the PAD graph (degree eps 1e-7) with E0 from double. */
static void *lg_new(int layers, int pool, const double *E0)
{
    nb_value vals[4] = { { .i = layers }, { .i = pool }, { .f = 1e-7 }, { .i = 0 } };
    void *st = NULL;
    char *err = NULL;
    if (gs_lgcn()->init(testhost(), vals, &r_train, D, 3, &st, &err) != NB_OK)
        tap_bail("lightgcn init: %s", err);
    test_model_set_e0(gs_lgcn(), st, E0);
    return st;
}

/* The lightgcn plugin's E0 gradient as double [N][d]. */
static void lg_e0grad(void *st, double *g)
{
    test_model_e0_grad(gs_lgcn(), st, g);
}

/* An ans plugin for the reference a (layers: 0 per_layer, 1 pooled) on a
 * view of width dim whose layers are e wide (ans_prepare lays the gates
 * out before they are set); the noise of a (per-layer layout, or its
 * layer-0 rows when pooled) and its candidates are fixed. */
static void *ans_new(const nb_host *h, const aref *a, int mode, int32_t dim, int32_t nl,
                     int32_t e, float *rf, int32_t *cf)
{
    nb_value vals[11] = { { .i = MM }, { .f = a->cfg.gamma }, { .f = a->cfg.eps }, { .i = 0 },
                          { .i = a->variant }, { .i = a->dir_mode }, { .i = a->mag_mode },
                          { .i = a->augment }, { .i = mode }, { .i = 0 } };
    void *st = NULL;
    char *err = NULL;
    if (ans_vt_get()->init(h, vals, &r_train, dim, BB, 5, &st, &err) != NB_OK)
        tap_bail("ans init: %s", err);
    ans_state *s = st;
    if (ans_prepare(s, nl, e, &err) != NB_OK) tap_bail("ans prepare: %s", err);
    for (int p = 0; p < P_COUNT; p++)
        for (int i = 0; i < plen[p]; i++) s->pval[p][i] = (float)a->par[p][i];
    for (int k = 0; k < BB * MM; k++) cf[k] = a->cand[k];
    for (int b = 0; b < BB; b++)
        for (int q = 0; q < nl * MM * D; q++) /* pooled (nl 1): layer 0 of each positive */
            rf[b * nl * MM * D + q] = (float)a->r[b * NL * MM * D + q];
    s->fix_cand = cf;
    s->fix_r = rf;
    return st;
}

/* One host-style step (core/train.c): forward, negatives, BPR on the final
 * rows, the regulariser on ego rows, sampler and model backward. */
static double step_run(void *ast, void *mst, const aref *a, nb_negatives *out, char **err)
{
    const nb_model_vt *mvt = gs_lgcn();
    const nb_view *v;
    nb_grads g;
    nb_batch bt = {.size = BB, .users = a->users, .pos = a->pos, .epoch = 0, .step = 0, .first = 0,
                   .seed = 2020};
    if (mvt->forward(mst, NB_MODE_TRAIN, &bt, &v, err) != NB_OK) return NAN;
    memset(&g, 0, sizeof g);
    mvt->grads(mst, &g);
    out->aux_loss = 0;
    if (ans_vt_get()->negatives(ast, &bt, v, out, err) != NB_OK) return NAN;
    float dneg[BB * NL * D] = { 0 };
    for (int b = 0; b < BB; b++) {
        nb_block_grad_row(g.user, a->users[b]);
        nb_block_grad_row(g.item, a->pos[b]);
    }
    double loss = bpr_loss_grad_f32(BB, v->dim, a->users, a->pos, v->user, v->item, out->vec,
                                    g.user->grad, g.item->grad, dneg, NULL);
    loss += reg_loss_grad_f32(a->reg_form, a->reg_w, BB, D, a->users, a->pos, out->reg_items,
                              out->reg_rows, NULL, v->user_ego, v->item_ego, g.user_ego->grad,
                              g.item_ego->grad, NULL, NULL);
    if (ans_vt_get()->backward(ast, &bt, v, dneg, NULL, &g, err) != NB_OK) return NAN;
    if (mvt->backward(mst, &bt, err) != NB_OK) return NAN;
    return loss + out->aux_loss;
}

/* Everything one plugin step leaves behind, for comparisons. */
typedef struct pres {
    float vec[BB * NL * D];
    int32_t item[BB], regit[BB * MM];
    double loss, dE0[NN * D], dpar[P_COUNT][D * D];
    int32_t chosen[NR];
    long allocs;
} pres;

static void plugin_run(const nb_host *h, const aref *a, int mode, int lpool, int layers,
                       pres *o, char **err)
{
    const int32_t nl = layers ? NL : 1, e = D, dim = lpool == LGCN_CONCAT ? NL * D : D;
    const int32_t rnl = mode == 1 ? 1 : nl; /* noise rows per positive */
    static float rf[NR * MM * D];
    static int32_t cf[BB * MM];
    memset(o, 0, sizeof *o);
    void *mst = lg_new(layers, lpool, a->E0);
    void *st = ans_new(h, a, mode, dim, rnl, mode == 1 ? dim : e, rf, cf);
    nb_negatives out = { o->vec, o->item, MM, o->regit, 0, NULL, 0.0 };
    long a0 = testhost_allocs();
    o->loss = step_run(st, mst, a, &out, err);
    o->allocs = testhost_allocs() - a0;
    lg_e0grad(mst, o->dE0);
    ans_state *s = st;
    for (int p = 0; p < P_COUNT; p++)
        for (int i = 0; i < plen[p]; i++) o->dpar[p][i] = s->pgrad[p][i];
    for (int q = 0; q < s->w.B && q < NR; q++) o->chosen[q] = s->w.chosen[q];
    ans_vt_get()->free(st);
    gs_lgcn()->free(mst);
}

static double par_err(double (*got)[D * D], double (*want)[D * D])
{
    double e = 0;
    for (int p = 0; p < P_COUNT; p++) e = fmax(e, test_scaled_err(got[p], want[p], (size_t)plen[p]));
    return e;
}

static void test_plugin_golden(const char *file)
{
    json *j = gs_load("ans-lightgcn", file);
    if (!j) { skip_shared(4, "golden %s/ans-lightgcn/%s not readable", tap_golden_dir(), file); return; }
    static aref a;
    aref_load(j, &a);
    static pres o[2];
    char *err = NULL;
    nb_host h4 = *testhost();
    h4.threads = 4;
    plugin_run(testhost(), &a, 0, LGCN_CONCAT, L, &o[0], &err);
    plugin_run(&h4, &a, 0, LGCN_CONCAT, L, &o[1], &err);
    double *ci = gs_arr(j, "outputs.chosen_index", NULL);
    int same = 1;
    for (int q = 0; q < NR; q++) same &= o[0].chosen[q] == (int32_t)ci[q];
    for (int b = 0; b < BB; b++)
        same &= o[0].item[b] == a.cand[b * MM + (int32_t)ci[b * NL]] &&
                memcmp(o[0].regit + b * MM, a.cand + b * MM, sizeof(int32_t) * MM) == 0;
    free(ci);
    ok(same, "%s: plugin on lightgcn concat: per-layer picks = golden, item = layer-0 pick, "
       "reg rows = the M candidates", file);
    is_close(o[0].loss, gs_num(j, "outputs.loss_total"), 0, 1e-4, "%s: plugin loss_total to "
             "1e-4 (%s)", file, err ? err : "ok");
    double gpar[P_COUNT][D * D];
    for (int p = 0; p < P_COUNT; p++) {
        char key[64];
        snprintf(key, sizeof key, "outputs.grad_total.%s", pkey[p]);
        if (p == P_B_W) { gpar[p][0] = gs_num(j, key); continue; }
        double *x = gs_arr(j, key, NULL);
        memcpy(gpar[p], x, sizeof(double) * plen[p]);
        free(x);
    }
    double eu = cmp_key(j, "outputs.grad_total.U", o[0].dE0, NU * D);
    double ei = cmp_key(j, "outputs.grad_total.I", o[0].dE0 + NU * D, NI * D);
    double ep = par_err(o[0].dpar, gpar);
    ok(eu < 1e-4 && ei < 1e-4 && ep < 1e-4, "%s: plugin + lightgcn backward: U, I and gate/margin "
       "gradients = golden to 1e-4 (%.2g, %.2g, %.2g)", file, eu, ei, ep);
    ok(o[0].allocs == 0 && memcmp(o[0].vec, o[1].vec, sizeof o[0].vec) == 0 &&
       o[0].loss == o[1].loss && memcmp(o[0].dE0, o[1].dE0, sizeof o[0].dE0) == 0 &&
       memcmp(o[0].dpar, o[1].dpar, sizeof o[0].dpar) == 0,
       "%s: 1 and 4 threads identical, no allocation in the step", file);
    free(err);
    free(a.mem);
    json_free(j);
}

/* Mean pooling: per_layer = the double reference; pooled = the MF code on
 * the pooled rows (and differs from per_layer); an MF view (layers 0):
 * both modes bit-identical. */
static void test_modes(void)
{
    json *j = gs_load("ans-lightgcn", "case1_L2_eps0.5_gamma0.3.json");
    if (!j) { skip_shared(4, "golden %s/ans-lightgcn/case1 not readable", tap_golden_dir()); return; }
    static aref a;
    aref_load(j, &a);
    a.pool = LGCN_MEAN;
    double dE0[NN * D], dpar[P_COUNT][D * D];
    double loss = aref_run(&a, dE0, dpar);
    static pres pl, po;
    char *err = NULL;
    plugin_run(testhost(), &a, 0, LGCN_MEAN, L, &pl, &err);
    int same = 1;
    for (int q = 0; q < NR; q++) same &= pl.chosen[q] == a.chosen[q];
    double vd[BB * D];
    for (int k = 0; k < BB * D; k++) vd[k] = pl.vec[k];
    double ev = test_scaled_err(vd, a.vec, BB * D), eg = test_scaled_err(pl.dE0, dE0, NN * D);
    double ep = par_err(pl.dpar, dpar);
    ok(same && ev < 1e-5 && fabs(pl.loss / loss - 1) < 1e-5 && eg < 1e-4 && ep < 1e-4,
       "mean pooling: plugin per_layer = double reference (picks, vec %.2g, loss, E0 grad %.2g, "
       "gate grads %.2g)", ev, eg, ep);

    /* pooled: the MF template on the final (mean) rows, noise of layer 0 */
    plugin_run(testhost(), &a, 1, LGCN_MEAN, L, &po, &err);
    static double layers[NN * NL * D], final[NN * D];
    lgcn_forward_f64(&r_graph, NULL, L, D, LGCN_MEAN, a.E0, layers, final);
    static aref m;
    aref_init(&m, a.cfg.gamma, a.cfg.eps);
    m.cfg.o_layers = 0;
    memcpy(m.par, a.par, sizeof a.par);
    m.w.B = BB;
    for (int b = 0; b < BB; b++) {
        memcpy(m.w.Ub + b * D, final + (int64_t)a.users[b] * D, sizeof(double) * D);
        memcpy(m.w.Pb + b * D, final + (int64_t)(NU + a.pos[b]) * D, sizeof(double) * D);
        for (int mm = 0; mm < MM; mm++) m.candl[b * MM + mm] = NU + a.cand[b * MM + mm];
        memcpy(m.w.r + b * MM * D, a.r + b * NL * MM * D, sizeof(double) * MM * D);
    }
    ans_dedupe_f64(&m.cfg, &m.w);
    for (int q = 0; q < m.w.nU; q++)
        memcpy(m.w.Nu + q * D, final + (int64_t)m.w.uitem[q] * D, sizeof(double) * D);
    ans_forward_f64(&m.cfg, &m.w, ans_gemm_ref_f64, 1);
    int psame = 1, differ = 0;
    for (int b = 0; b < BB; b++) psame &= po.chosen[b] == m.w.chosen[b];
    for (int k = 0; k < BB * D; k++) {
        vd[k] = po.vec[k];
        differ |= fabs((double)po.vec[k] - (double)pl.vec[k]) > 1e-3;
    }
    double epo = test_scaled_err(vd, m.w.vec, BB * D);
    ok(psame && epo < 1e-5, "pooled: the MF code on the pooled rows (picks, vec %.2g)", epo);
    ok(differ && memcmp(pl.dpar, po.dpar, sizeof pl.dpar) != 0,
       "per_layer and pooled give different negatives and gate gradients");

    /* MF view: both modes identical to the last bit */
    static pres f0, f1;
    plugin_run(testhost(), &a, 0, LGCN_MEAN, 0, &f0, &err);
    plugin_run(testhost(), &a, 1, LGCN_MEAN, 0, &f1, &err);
    ok(memcmp(f0.vec, f1.vec, sizeof f0.vec) == 0 && f0.loss == f1.loss && isfinite(f0.loss) &&
       memcmp(f0.dE0, f1.dE0, sizeof f0.dE0) == 0 && memcmp(f0.dpar, f1.dpar, sizeof f0.dpar) == 0,
       "MF view (layers 0): per_layer and pooled bit-identical (loss %.6f)", f0.loss);
    free(err);
    free(a.mem);
    free(m.mem);
    json_free(j);
}

/* Every ablation per layer (mean pooling): the plugin = the double reference. */
static void test_variants(void)
{
    json *j = gs_load("ans-lightgcn", "case1_L2_eps0.5_gamma0.3.json");
    if (!j) { skip_shared(1, "golden %s/ans-lightgcn/case1 not readable", tap_golden_dir()); return; }
    double worst = 0;
    int same = 1;
    char *err = NULL;
    for (int v = 1; v <= 5; v++) {
        static aref a;
        aref_load(j, &a);
        a.pool = LGCN_MEAN;
        const char *name = aref_variant(&a, v);
        double dE0[NN * D], dpar[P_COUNT][D * D];
        double loss = aref_run(&a, dE0, dpar);
        static pres o;
        plugin_run(testhost(), &a, 0, LGCN_MEAN, L, &o, &err);
        for (int q = 0; q < NR; q++) same &= o.chosen[q] == a.chosen[q];
        double vd[BB * D];
        for (int k = 0; k < BB * D; k++) vd[k] = o.vec[k];
        double e = fmax(fmax(test_scaled_err(vd, a.vec, BB * D), fabs(o.loss / loss - 1)),
                        fmax(test_scaled_err(o.dE0, dE0, NN * D), par_err(o.dpar, dpar)));
        if (a.cfg.gate == 0) /* no gates: only w, b_w are trained */
            e = fmax(fmax(test_scaled_err(o.dE0, dE0, NN * D), fabs(o.loss / loss - 1)),
                     fmax(test_scaled_err(o.dpar[P_W], dpar[P_W], D), test_scaled_err(vd, a.vec, BB * D)));
        diag("%s: %.2g (%s)", name, e, err ? err : "ok");
        worst = fmax(worst, e);
        free(a.mem);
    }
    ok(same && worst < 1e-4, "ablations per layer (no_dis, no_dir raw, no_mag uniform/easy, "
       "augment false): plugin = double reference to 1e-4 (%.2g)", worst);
    free(err);
    json_free(j);
}

int main(void)
{
    /* the 0-based MixGCF/DENS graph helpers of graph_sampler_test.h are unused here */
    (void)gs_setup; (void)gs_e0; (void)gs_softplus_bpr; (void)gs_lgcn_new; (void)gs_step;
    (void)gs_lgcn_e0grad; (void)gs_picks_differ;
    r_setup();
    test_golden_double("case1_L2_eps0.5_gamma0.3.json");
    test_golden_double("case2_L2_eps1_gamma0.1_pow.json");
    test_fd(LGCN_MEAN);
    test_fd(LGCN_SUM);
    test_fd(LGCN_CONCAT);
    test_plugin_golden("case1_L2_eps0.5_gamma0.3.json");
    test_plugin_golden("case2_L2_eps1_gamma0.1_pow.json");
    test_modes();
    test_variants();
    graph_free(&r_graph);
    return tap_done();
}
