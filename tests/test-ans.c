/*
 * test-ans.c - ANS/HNS math: the double instantiation of ans_impl.h against
 * the official golden vectors (../shared/golden/ans-mf, 1e-9) and against
 * central finite differences of the whole loss (BPR through n~_{m*}, L_c, D,
 * O, regulariser) for every variant; the float plugin (through its vtable
 * and the test host) against the golden vectors (1e-4) and against the
 * double math for every variant. BPR and the regulariser come from the
 * host's core/bpr.c, as in training.
 */
#include "negbench/plugin.h"
#include "bpr.h"
#include "plugin_loader.h"
#include "json.h"
#include "tap/tap.h"
#include "testhost.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REAL double
#define SUF f64
#include "../plugins/samplers/ans_impl.h"
#undef REAL
#undef SUF

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index);
void ans_testing_fix(void *state, const int32_t *cand, const float *r);
const int32_t *ans_testing_chosen(void *state, const int32_t **dns);

enum { REG_NORM = 0, REG_SQUARED = 1 }; /* core/bpr.h "form" */
enum { NPAR = 6 };
static const char *const par_names[NPAR] = { "W_u", "b_u", "W_i", "b_i", "w", "b_w" };

/* ------------------------------------------------------------------------
 * A double-precision case: tables, ids, parameters and the work area. */
typedef struct dcase {
    ans_cfg cfg;
    int32_t nu, ni, B;
    double *U, *I;             /* [nu][d], [ni][d] */
    double *par[NPAR];         /* W_u b_u W_i b_i w b_w */
    int64_t psz[NPAR];
    int32_t *users, *pos, *cand; /* [B], [B], [B][M] */
    int32_t *slot;             /* [ni] -1: ans_dedupe's map */
    int reg_form;
    double reg_w;
    ans_batch_f64 w;
    char *mem;
    double bpr, reg_raw, total;
} dcase;

static void dcase_alloc(dcase *c, const ans_cfg *cfg, int32_t nu, int32_t ni, int32_t B)
{
    const int32_t d = cfg->d;
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    c->nu = nu; c->ni = ni; c->B = B;
    c->U = calloc((size_t)nu * d, sizeof(double));
    c->I = calloc((size_t)ni * d, sizeof(double));
    const int64_t sz[NPAR] = { (int64_t)d * d, d, (int64_t)d * d, d, d, 1 };
    for (int p = 0; p < NPAR; p++) {
        c->psz[p] = sz[p];
        c->par[p] = calloc((size_t)sz[p], sizeof(double));
    }
    c->users = calloc((size_t)B, sizeof(int32_t));
    c->pos = calloc((size_t)B, sizeof(int32_t));
    c->cand = calloc((size_t)B * cfg->M, sizeof(int32_t));
    c->slot = malloc((size_t)ni * sizeof(int32_t));
    for (int32_t i = 0; i < ni; i++) c->slot[i] = -1;
    c->mem = calloc(1, ans_carve_f64(&c->w, cfg, B, NULL));
    ans_carve_f64(&c->w, cfg, B, c->mem);
    c->w.B = B;
    c->w.cand = c->cand;
    c->w.slot = c->slot;
    c->w.Wu = c->par[0]; c->w.bu = c->par[1]; c->w.Wi = c->par[2];
    c->w.bi = c->par[3]; c->w.w = c->par[4]; c->w.bw = c->par[5];
}

static void dcase_free(dcase *c)
{
    free(c->U); free(c->I);
    for (int p = 0; p < NPAR; p++) free(c->par[p]);
    free(c->users); free(c->pos); free(c->cand); free(c->slot); free(c->mem);
}

/* Gather rows, run the sampler forward, add BPR and the regulariser. */
static int dcase_forward(dcase *c, int select)
{
    const int32_t d = c->cfg.d, M = c->cfg.M;
    for (int32_t b = 0; b < c->B; b++) {
        memcpy(c->w.Ub + (int64_t)b * d, c->U + (int64_t)c->users[b] * d, d * sizeof(double));
        memcpy(c->w.Pb + (int64_t)b * d, c->I + (int64_t)c->pos[b] * d, d * sizeof(double));
    }
    ans_dedupe_f64(&c->cfg, &c->w);
    for (int32_t j = 0; j < c->w.nU; j++)
        memcpy(c->w.Nu + (int64_t)j * d, c->I + (int64_t)c->w.uitem[j] * d, d * sizeof(double));
    int rc = ans_forward_f64(&c->cfg, &c->w, ans_gemm_ref_f64, select);
    c->bpr = bpr_loss_grad_f64(c->B, d, c->users, c->pos, c->U, c->I, c->w.vec, NULL, NULL,
                               NULL, NULL);
    double reg = reg_loss_grad_f64(c->reg_form, c->reg_w, c->B, d, c->users, c->pos, c->cand,
                                   M, NULL, c->U, c->I, NULL, NULL, NULL, &c->reg_raw);
    c->total = c->bpr + reg + c->w.aux;
    return rc;
}

/* The whole-loss gradient with the current selection held fixed:
 * gU [nu][d], gI [ni][d], gp[p] like par[p] (all overwritten). */
static int dcase_grad(dcase *c, double *gU, double *gI, double **gp)
{
    const int32_t d = c->cfg.d, M = c->cfg.M, B = c->B;
    memset(gU, 0, (size_t)c->nu * d * sizeof(double));
    memset(gI, 0, (size_t)c->ni * d * sizeof(double));
    for (int p = 0; p < NPAR; p++) memset(gp[p], 0, (size_t)c->psz[p] * sizeof(double));
    int rc = dcase_forward(c, 0);
    double *g_neg = calloc((size_t)B * d, sizeof(double));
    bpr_loss_grad_f64(B, d, c->users, c->pos, c->U, c->I, c->w.vec, gU, gI, g_neg, NULL);
    double raw;
    reg_loss_grad_f64(c->reg_form, c->reg_w, B, d, c->users, c->pos, c->cand, M, NULL, c->U,
                      c->I, gU, gI, NULL, &raw);
    ans_pgrad_f64 pg = { gp[0], gp[1], gp[2], gp[3], gp[4], gp[5] };
    if (rc == NB_OK) rc = ans_backward_f64(&c->cfg, &c->w, g_neg, ans_gemm_ref_f64, &pg);
    for (int32_t b = 0; b < B; b++)
        for (int32_t k = 0; k < d; k++) {
            gU[(int64_t)c->users[b] * d + k] += c->w.Gu[(int64_t)b * d + k];
            gI[(int64_t)c->pos[b] * d + k] += c->w.Gp[(int64_t)b * d + k];
        }
    for (int32_t j = 0; j < c->w.nU; j++)
        for (int32_t k = 0; k < d; k++)
            gI[(int64_t)c->w.uitem[j] * d + k] += c->w.GnU[(int64_t)j * d + k];
    free(g_neg);
    return rc;
}

/* |got - want| <= tol * max(|want|, 1e-3 * scale) for every element, scale
 * = max |want| (golden/README.md); one test point. */
static int cmp_arr(const double *got, const double *want, size_t n, double tol,
                   const char *what)
{
    double scale = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++) if (fabs(want[i]) > scale) scale = fabs(want[i]);
    int good = 1;
    for (size_t i = 0; i < n; i++) {
        double den = fmax(fabs(want[i]), 1e-3 * scale);
        double e = den > 0 ? fabs(got[i] - want[i]) / den : fabs(got[i]);
        if (!(e <= tol)) good = 0;
        if (!(e <= worst)) worst = e;
    }
    return ok(good, "%s (max scaled err %.2e, n %zu)", what, worst, n);
}

/* ------------------------------------------------------------------------
 * Configurations of the variants (what ans.c maps "variant" onto). */
typedef struct variant {
    const char *name;
    int64_t variant, dir_mode, mag_mode, augment; /* plugin values */
    int hns;
} variant;

static const variant variants[] = {
    { "full", 0, 0, 0, 1, 0 },
    { "no_dis", 1, 0, 0, 1, 0 },
    { "no_gain", 2, 0, 0, 1, 0 },
    { "no_dir rademacher", 3, 0, 0, 1, 0 },
    { "no_dir raw", 3, 1, 0, 1, 0 },
    { "no_mag uniform", 4, 0, 0, 1, 0 },
    { "no_mag easy", 4, 0, 1, 1, 0 },
    { "augment false", 0, 0, 0, 0, 0 },
    { "hns", 0, 0, 0, 0, 1 },
};
enum { N_VARIANTS = sizeof variants / sizeof variants[0] };

static ans_cfg variant_cfg(const variant *v, int32_t d, int32_t M, double gamma, double eps)
{
    ans_cfg c = { 0 };
    c.d = d; c.M = v->hns ? 1 : M; c.gamma = gamma; c.eps = eps;
    c.gate = 1; c.augment = (int)v->augment; c.use_mu = 1;
    c.dir = ANS_DIR_SGN; c.rmode = ANS_R_UNIT; c.hns = v->hns;
    if (v->hns) { c.augment = 0; c.eps = 0; c.use_mu = 0; return c; }
    switch (v->variant) {
    case 1: c.gate = 0; break;
    case 2: c.eps = 0; break;
    case 3:
        if (v->dir_mode == 0) c.dir = ANS_DIR_RAD;
        else { c.dir = ANS_DIR_ONE; c.use_edif = 1; }
        break;
    case 4:
        c.use_mu = 0;
        if (v->mag_mode == 0) c.rmode = ANS_R_RAW;
        else { c.dir = ANS_DIR_ONE; c.rmode = ANS_R_ONE; c.use_edif = 1; }
        break;
    }
    return c;
}

/* ------------------------------------------------------------------------
 * The float plugin on a case (fixed candidates and noise). */
typedef struct fcase {
    const nb_plugin_desc *desc;
    const nb_sampler_vt *vt;
    void *state;
    nb_train train;
    int64_t *uptr, *iptr;
    int32_t *uit, *ius;
    float *U, *I, *gU, *gI;
    int32_t *cand;
    float *r;
    float *vec, *d_neg;
    int32_t *item, *reg_items;
    double aux, bpr, reg_raw, total;
} fcase;

/* A training set where each user's only positives are its batch positives. */
static void train_from_pairs(fcase *f, int32_t nu, int32_t ni, const int32_t *users,
                             const int32_t *pos, int32_t B)
{
    f->uptr = calloc((size_t)nu + 1, sizeof(int64_t));
    f->iptr = calloc((size_t)ni + 1, sizeof(int64_t));
    f->uit = calloc((size_t)B, sizeof(int32_t));
    f->ius = calloc((size_t)B, sizeof(int32_t));
    int64_t n = 0;
    for (int32_t u = 0; u < nu; u++) {
        f->uptr[u] = n;
        for (int32_t i = 0; i < ni; i++) {
            int has = 0;
            for (int32_t b = 0; b < B; b++) has |= users[b] == u && pos[b] == i;
            if (has) f->uit[n++] = i;
        }
    }
    f->uptr[nu] = n;
    int64_t q = 0;
    for (int32_t i = 0; i < ni; i++) {
        f->iptr[i] = q;
        for (int32_t u = 0; u < nu; u++)
            for (int64_t k = f->uptr[u]; k < f->uptr[u + 1]; k++)
                if (f->uit[k] == i) f->ius[q++] = u;
    }
    f->iptr[ni] = q;
    f->train = (nb_train){ nu, ni, n, f->uptr, f->uit, f->iptr, f->ius };
}

/* Run negatives + host BPR/reg + backward through the plugin vtable on the
 * double case's data (converted to float). Returns 0 on success. */
static int fcase_run(fcase *f, const dcase *c, const variant *v, double gamma, double eps)
{
    const int32_t d = c->cfg.d, M = c->cfg.M, B = c->B;
    char *err = NULL;
    memset(f, 0, sizeof *f);
    f->desc = nb_plugin_descriptor(v->hns ? 1 : 0);
    f->vt = f->desc->vtable;
    train_from_pairs(f, c->nu, c->ni, c->users, c->pos, B);
    nb_value vals[11] = { { 0 } }; /* the schema's 11 (ans) or 2 (hns) values; 0 = default choice */
    int nvals;
    if (v->hns) {
        vals[0].f = gamma; vals[1].i = 0;
        nvals = 2;
    } else {
        vals[0].i = M; vals[1].f = gamma; vals[2].f = eps; vals[3].i = 0;
        vals[4].i = v->variant; vals[5].i = v->dir_mode; vals[6].i = v->mag_mode;
        vals[7].i = v->augment; vals[8].i = 0; /* layers: per_layer */
        vals[9].i = 0;                     /* margin_init: torch */
        nvals = 11;
    }
    if (plugin_sampler_init(f->desc, testhost(), vals, nvals, &f->train, d, B, 7, &f->state,
                            &err) != NB_OK) {
        diag("init: %s", err);
        free(err);
        return -1;
    }
    nb_block *blk;
    int nblk;
    f->vt->blocks(f->state, &blk, &nblk);
    for (int b = 0; b < nblk; b++)
        for (int p = 0; p < NPAR; p++)
            if (!strcmp(blk[b].name, par_names[p]))
                for (int64_t i = 0; i < c->psz[p]; i++) blk[b].value[i] = (float)c->par[p][i];
    f->U = malloc((size_t)c->nu * d * sizeof(float));
    f->I = malloc((size_t)c->ni * d * sizeof(float));
    f->gU = calloc((size_t)c->nu * d, sizeof(float));
    f->gI = calloc((size_t)c->ni * d, sizeof(float));
    for (int64_t i = 0; i < (int64_t)c->nu * d; i++) f->U[i] = (float)c->U[i];
    for (int64_t i = 0; i < (int64_t)c->ni * d; i++) f->I[i] = (float)c->I[i];
    f->cand = malloc((size_t)B * M * sizeof(int32_t));
    memcpy(f->cand, c->cand, (size_t)B * M * sizeof(int32_t));
    f->r = malloc((size_t)B * M * d * sizeof(float));
    for (int64_t i = 0; i < (int64_t)B * M * d; i++) f->r[i] = (float)c->w.r[i];
    ans_testing_fix(f->state, f->cand, f->r);
    f->vec = calloc((size_t)B * d, sizeof(float));
    f->d_neg = calloc((size_t)B * d, sizeof(float));
    f->item = calloc((size_t)B, sizeof(int32_t));
    f->reg_items = calloc((size_t)B * M, sizeof(int32_t));
    nb_view view = { c->nu, c->ni, d, 0, f->U, f->I, f->U, f->I, f->U, f->I, 0.0, NULL, NULL };
    nb_batch batch = {.size = B, .users = c->users, .pos = c->pos, .epoch = 0, .step = 0,
                      .first = 0, .seed = 7};
    nb_negatives out = { f->vec, f->item, 0, f->reg_items, 0, NULL, 0.0 };
    if (f->vt->negatives(f->state, &batch, &view, &out, &err) != NB_OK) {
        diag("negatives: %s", err);
        free(err);
        return -1;
    }
    f->aux = out.aux_loss;
    f->bpr = bpr_loss_grad_f32(B, d, c->users, c->pos, f->U, f->I, f->vec, f->gU, f->gI,
                               f->d_neg, NULL);
    double reg = reg_loss_grad_f32(c->reg_form, c->reg_w, B, d, c->users, c->pos,
                                   f->reg_items, out.reg_rows, NULL, f->U, f->I, f->gU, f->gI,
                                   NULL, &f->reg_raw);
    f->total = f->bpr + reg + f->aux;
    nb_block ub = { "user", f->U, f->gU, c->nu, d, NB_BLOCK_DENSE, NULL, 0, NULL };
    nb_block ib = { "item", f->I, f->gI, c->ni, d, NB_BLOCK_DENSE, NULL, 0, NULL };
    nb_grads g = { &ub, &ib, NULL, NULL, &ub, &ib };
    if (f->vt->backward(f->state, &batch, &view, f->d_neg, NULL, &g, &err) != NB_OK) {
        diag("backward: %s", err);
        free(err);
        return -1;
    }
    return 0;
}

/* The plugin's gradient of parameter p (NULL when not registered). */
static const float *fcase_pgrad(const fcase *f, int p)
{
    nb_block *blk;
    int nblk;
    f->vt->blocks(f->state, &blk, &nblk);
    for (int b = 0; b < nblk; b++)
        if (!strcmp(blk[b].name, par_names[p])) return blk[b].grad;
    return NULL;
}

static void fcase_free(fcase *f)
{
    if (f->state) f->vt->free(f->state);
    free(f->uptr); free(f->iptr); free(f->uit); free(f->ius);
    free(f->U); free(f->I); free(f->gU); free(f->gI); free(f->cand); free(f->r);
    free(f->vec); free(f->d_neg); free(f->item); free(f->reg_items);
}

static double *to_double(const float *x, size_t n)
{
    double *y = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) y[i] = x[i];
    return y;
}

/* ------------------------------------------------------------------------
 * Golden vectors. */
static double *flat(const json *j, const char *path, size_t *n)
{
    const json *a = json_get(j, path);
    if (!a) tap_bail("golden: missing %s", path);
    size_t cnt = json_flatten(a, NULL, 0);
    double *out = malloc((cnt ? cnt : 1) * sizeof(double));
    json_flatten(a, out, cnt);
    if (n) *n = cnt;
    return out;
}

static double num(const json *j, const char *path)
{
    const json *a = json_get(j, path);
    if (!a) tap_bail("golden: missing %s", path);
    return json_num(a);
}

/* Load a golden case into c (RecBole ids -> 0-based, PAD rows dropped). */
static void golden_case(dcase *c, const json *j, const variant *v)
{
    const int32_t nu = (int32_t)num(j, "layout.n_users") - 1;
    const int32_t ni = (int32_t)num(j, "layout.n_items") - 1;
    const int32_t d = (int32_t)num(j, "layout.d"), B = (int32_t)num(j, "layout.B");
    const int32_t M = (int32_t)num(j, "layout.M");
    ans_cfg cfg = variant_cfg(v, d, M, num(j, "hyper.gamma"), num(j, "hyper.eps"));
    dcase_alloc(c, &cfg, nu, ni, B);
    c->reg_form = json_get(j, "hyper.require_pow")->num ? REG_SQUARED : REG_NORM;
    c->reg_w = num(j, "hyper.reg_weight");
    double *U = flat(j, "inputs.U", NULL), *I = flat(j, "inputs.I", NULL);
    memcpy(c->U, U + d, (size_t)nu * d * sizeof(double));
    memcpy(c->I, I + d, (size_t)ni * d * sizeof(double));
    free(U); free(I);
    double *x = flat(j, "inputs.users", NULL);
    for (int32_t b = 0; b < B; b++) c->users[b] = (int32_t)x[b] - 1;
    free(x);
    x = flat(j, "inputs.positives", NULL);
    for (int32_t b = 0; b < B; b++) c->pos[b] = (int32_t)x[b] - 1;
    free(x);
    x = flat(j, "inputs.candidates", NULL);
    for (int32_t i = 0; i < B * M; i++) c->cand[i] = (int32_t)x[i] - 1;
    free(x);
    static const char *const keys[NPAR] = { "inputs.W_u", "inputs.b_u", "inputs.W_i",
                                            "inputs.b_i", "inputs.w", "inputs.b_w" };
    for (int p = 0; p < NPAR; p++) {
        size_t n;
        x = flat(j, keys[p], &n);
        if ((int64_t)n != c->psz[p]) tap_bail("golden: %s has %zu values", keys[p], n);
        memcpy(c->par[p], x, n * sizeof(double));
        free(x);
    }
    x = flat(j, "inputs.r", NULL);
    memcpy(c->w.r, x, (size_t)B * M * d * sizeof(double));
    free(x);
}

static void golden_file(const char *file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ans-mf/%s", tap_golden_dir(), file);
    json *j = json_load(path);
    if (!j) tap_bail("cannot read %s", path);
    dcase c;
    golden_case(&c, j, &variants[0]);
    const int32_t d = c.cfg.d, M = c.cfg.M, B = c.B;
    const size_t BM = (size_t)B * M;
    c.w.dbg_t = calloc(BM, sizeof(double));
    c.w.dbg_mu = calloc(BM, sizeof(double));
    c.w.dbg_crit = calloc(BM, sizeof(double));
    c.w.dbg_dir = calloc(BM * d, sizeof(double));

    /* double: forward with selection */
    ok(dcase_forward(&c, 1) == NB_OK, "%s f64: forward", file);
    double *want = flat(j, "outputs.chosen_index", NULL);
    int same = 1;
    for (int32_t b = 0; b < B; b++) same &= c.w.chosen[b] == (int32_t)want[b];
    ok(same, "%s f64: chosen_index exact", file);
    free(want);
    static const char *const scal[] = { "L_c", "D", "O", "bpr", "reg_raw", "loss_total" };
    const double got_s[] = { c.w.Lc, c.w.D, c.w.O, c.bpr, c.reg_raw, c.total };
    for (int s = 0; s < 6; s++) {
        char key[64];
        snprintf(key, sizeof key, "outputs.%s", scal[s]);
        double wv = num(j, key);
        cmp_arr(&got_s[s], &wv, 1, 1e-9, scal[s]);
    }
    struct { const char *key; const double *got; size_t n; } arr[] = {
        { "outputs.augmented_negative_chosen", c.w.vec, (size_t)B * d },
        { "outputs.intermediates.gate_g", c.w.G, BM * d },
        { "outputs.intermediates.mu", c.w.dbg_mu, BM },
        { "outputs.intermediates.margin_t", c.w.dbg_t, BM },
        { "outputs.intermediates.direction", c.w.dbg_dir, BM * d },
        { "outputs.intermediates.selection_criterion", c.w.dbg_crit, BM },
    };
    for (size_t a = 0; a < sizeof arr / sizeof arr[0]; a++) {
        size_t n;
        double *wv = flat(j, arr[a].key, &n);
        if (n != arr[a].n) tap_bail("%s: %zu values, want %zu", arr[a].key, n, arr[a].n);
        cmp_arr(arr[a].got, wv, n, 1e-9, arr[a].key + 8);
        free(wv);
    }

    /* double: gradients */
    double *gU = calloc((size_t)c.nu * d, sizeof(double));
    double *gI = calloc((size_t)c.ni * d, sizeof(double));
    double *gp[NPAR];
    for (int p = 0; p < NPAR; p++) gp[p] = calloc((size_t)c.psz[p], sizeof(double));
    ok(dcase_grad(&c, gU, gI, gp) == NB_OK, "%s f64: backward", file);
    size_t n;
    double *wU = flat(j, "outputs.grad_total.U", &n);
    cmp_arr(gU, wU + d, (size_t)c.nu * d, 1e-9, "grad U (f64)");
    ok(fabs(wU[0]) + fabs(wU[d - 1]) == 0.0, "golden PAD row of grad U is zero");
    double *wI = flat(j, "outputs.grad_total.I", &n);
    cmp_arr(gI, wI + d, (size_t)c.ni * d, 1e-9, "grad I (f64)");
    double *wp[NPAR];
    for (int p = 0; p < NPAR; p++) {
        char key[64], what[64];
        snprintf(key, sizeof key, "outputs.grad_total.%s", par_names[p]);
        snprintf(what, sizeof what, "grad %s (f64)", par_names[p]);
        wp[p] = flat(j, key, &n);
        cmp_arr(gp[p], wp[p], (size_t)c.psz[p], 1e-9, what);
    }

    /* float: the plugin through its vtable */
    fcase f;
    if (fcase_run(&f, &c, &variants[0], c.cfg.gamma, c.cfg.eps) != 0) {
        ok(0, "%s f32: plugin run", file);
    } else {
        const int32_t *ch = ans_testing_chosen(f.state, NULL);
        want = flat(j, "outputs.chosen_index", NULL);
        same = 1;
        for (int32_t b = 0; b < B; b++) same &= ch[b] == (int32_t)want[b];
        free(want);
        ok(same, "%s f32: chosen_index exact", file);
        want = flat(j, "outputs.chosen_item_id", NULL);
        same = 1;
        for (int32_t b = 0; b < B; b++) same &= f.item[b] == (int32_t)want[b] - 1;
        free(want);
        ok(same, "%s f32: out->item is the chosen base item", file);
        same = 1;
        for (int32_t i = 0; i < B * M; i++) same &= f.reg_items[i] == c.cand[i];
        ok(same, "%s f32: reg_items are all M candidates", file);
        double wl = num(j, "outputs.loss_total");
        cmp_arr(&f.total, &wl, 1, 1e-4, "loss_total (f32)");
        double ga = num(j, "outputs.gamma_term");
        cmp_arr(&f.aux, &ga, 1, 1e-4, "aux_loss = gamma_term (f32)");
        double *v = to_double(f.vec, (size_t)B * d);
        double *wv = flat(j, "outputs.augmented_negative_chosen", NULL);
        cmp_arr(v, wv, (size_t)B * d, 1e-4, "augmented_negative_chosen (f32)");
        free(v); free(wv);
        v = to_double(f.gU, (size_t)c.nu * d);
        cmp_arr(v, wU + d, (size_t)c.nu * d, 1e-4, "grad U (f32)");
        free(v);
        v = to_double(f.gI, (size_t)c.ni * d);
        cmp_arr(v, wI + d, (size_t)c.ni * d, 1e-4, "grad I (f32)");
        free(v);
        for (int p = 0; p < NPAR; p++) {
            char what[64];
            snprintf(what, sizeof what, "grad %s (f32)", par_names[p]);
            const float *g = fcase_pgrad(&f, p);
            if (!g) { ok(0, "%s: block missing", what); continue; }
            v = to_double(g, (size_t)c.psz[p]);
            cmp_arr(v, wp[p], (size_t)c.psz[p], 1e-4, what);
            free(v);
        }
    }
    fcase_free(&f);
    free(wU); free(wI);
    for (int p = 0; p < NPAR; p++) { free(gp[p]); free(wp[p]); }
    free(gU); free(gI);
    free(c.w.dbg_t); free(c.w.dbg_mu); free(c.w.dbg_crit); free(c.w.dbg_dir);
    dcase_free(&c);
    json_free(j);
}

/* ------------------------------------------------------------------------
 * Finite differences on a random small case. */
static double fd_loss(void *ctx)
{
    dcase *c = ctx;
    dcase_forward(c, 0);
    return c->total;
}

static uint64_t lcg = 12345;
static double urand(void) /* U[0,1) */
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) * (1.0 / 9007199254740992.0);
}

/* d = 5, B = 3, M = 4, user 0 twice, candidate 2 twice in row 0, the
 * positive of row 0 a candidate of row 1. */
static void random_case(dcase *c, const variant *v, double gamma, double eps, int reg_form)
{
    const int32_t d = 5, B = 3, M = 4, nu = 4, ni = 9;
    ans_cfg cfg = variant_cfg(v, d, M, gamma, eps);
    dcase_alloc(c, &cfg, nu, ni, B);
    c->reg_form = reg_form;
    c->reg_w = 0.01;
    lcg = 12345;
    for (int64_t i = 0; i < (int64_t)nu * d; i++) c->U[i] = 2 * urand() - 1;
    for (int64_t i = 0; i < (int64_t)ni * d; i++) c->I[i] = 2 * urand() - 1;
    for (int p = 0; p < NPAR; p++)
        for (int64_t i = 0; i < c->psz[p]; i++) c->par[p][i] = 1.6 * urand() - 0.8;
    c->par[5][0] = 0.35; /* b_w: keep |t| away from 0 */
    const int32_t users[3] = { 0, 2, 0 }, pos[3] = { 1, 3, 5 };
    const int32_t cand[3][4] = { { 2, 6, 2, 7 }, { 1, 8, 4, 2 }, { 7, 0, 8, 4 } };
    for (int32_t b = 0; b < B; b++) {
        c->users[b] = users[b];
        c->pos[b] = pos[b];
        for (int32_t m = 0; m < cfg.M; m++) c->cand[b * cfg.M + m] = cand[b][m];
    }
    for (int64_t i = 0; i < (int64_t)B * cfg.M * d; i++) c->w.r[i] = urand();
    if (c->w.rad)
        for (int64_t i = 0; i < (int64_t)B * cfg.M * d; i++) c->w.rad[i] = urand() < 0.5 ? -1 : 1;
}

/* One FD check over every entry of U, I and the parameters. */
static void fd_check(const variant *v, double gamma, double eps, int reg_form)
{
    dcase c;
    random_case(&c, v, gamma, eps, reg_form);
    const int32_t d = c.cfg.d;
    dcase_forward(&c, 1); /* choose, then hold the selection fixed */
    double *gU = calloc((size_t)c.nu * d, sizeof(double));
    double *gI = calloc((size_t)c.ni * d, sizeof(double));
    double *gp[NPAR];
    for (int p = 0; p < NPAR; p++) gp[p] = calloc((size_t)c.psz[p], sizeof(double));
    int rc = dcase_grad(&c, gU, gI, gp);
    double *X[2 + NPAR] = { c.U, c.I, c.par[0], c.par[1], c.par[2], c.par[3], c.par[4], c.par[5] };
    double *G[2 + NPAR] = { gU, gI, gp[0], gp[1], gp[2], gp[3], gp[4], gp[5] };
    int64_t n[2 + NPAR] = { (int64_t)c.nu * d, (int64_t)c.ni * d, c.psz[0], c.psz[1],
                            c.psz[2], c.psz[3], c.psz[4], c.psz[5] };
    /* pass: |fd - g| <= 1e-6 |g| + 2e-9; the floor is ~5x the rounding
     * noise of a central difference at h = 1e-6 (eps |L| / h ~ 3e-10) */
    double worst = 0.0, worst_abs = 0.0, gmax = 0.0;
    int good = rc == NB_OK;
    for (int a = 0; a < 2 + NPAR; a++) {
        for (int64_t i = 0; i < n[a]; i++) gmax = fmax(gmax, fabs(G[a][i]));
        for (int64_t i = 0; i < n[a]; i++) {
            double fd = fd_central(fd_loss, &c, &X[a][i], 1e-6);
            double diff = fabs(fd - G[a][i]);
            if (!(diff <= 1e-6 * fabs(G[a][i]) + 2e-9)) {
                good = 0;
                diag("array %d entry %ld: fd %.12e analytic %.12e", a, (long)i, fd, G[a][i]);
            }
            worst = fmax(worst, diff / fmax(fabs(G[a][i]), 1e-3));
            worst_abs = fmax(worst_abs, diff);
        }
    }
    ok(good, "FD %s (gamma %g, eps %g, %s reg): max rel err %.2e, max abs err %.2e", v->name,
       gamma, eps, reg_form ? "squared" : "norm", worst, worst_abs);
    /* a wrong gradient must be caught: the check is not vacuous */
    ok(gmax > 1e-3, "FD %s: gradients are non-trivial (max |g| %.3g)", v->name, gmax);
    free(gU); free(gI);
    for (int p = 0; p < NPAR; p++) free(gp[p]);
    dcase_free(&c);
}

/* Float plugin vs double math on the random case, for a variant. */
static void float_vs_double(const variant *v)
{
    dcase c;
    random_case(&c, v, 0.3, 0.5, REG_NORM);
    const int32_t d = c.cfg.d, B = c.B;
    if (v->variant == 3 && v->dir_mode == 0) {
        /* rademacher signs come from the plugin's stream: skip here */
        dcase_free(&c);
        return;
    }
    dcase_forward(&c, 1);
    double *gU = calloc((size_t)c.nu * d, sizeof(double));
    double *gI = calloc((size_t)c.ni * d, sizeof(double));
    double *gp[NPAR];
    for (int p = 0; p < NPAR; p++) gp[p] = calloc((size_t)c.psz[p], sizeof(double));
    dcase_grad(&c, gU, gI, gp);
    fcase f;
    if (fcase_run(&f, &c, v, 0.3, 0.5) != 0) {
        ok(0, "f32 %s: plugin run", v->name);
    } else {
        const int32_t *ch = ans_testing_chosen(f.state, NULL);
        int same = 1;
        for (int32_t b = 0; b < B; b++) same &= ch[b] == c.w.chosen[b];
        double *fv = to_double(f.vec, (size_t)B * d);
        double *fu = to_double(f.gU, (size_t)c.nu * d), *fi = to_double(f.gI, (size_t)c.ni * d);
        double maxe = 0;
        int good = same && fabs(f.total - c.total) <= 1e-4 * fabs(c.total);
        for (int64_t i = 0; i < (int64_t)B * d; i++) maxe = fmax(maxe, fabs(fv[i] - c.w.vec[i]));
        good &= maxe <= 1e-4;
        for (int64_t i = 0; i < (int64_t)c.nu * d; i++) good &= fabs(fu[i] - gU[i]) <= 1e-4;
        for (int64_t i = 0; i < (int64_t)c.ni * d; i++) good &= fabs(fi[i] - gI[i]) <= 1e-4;
        for (int p = 0; p < NPAR; p++) {
            const float *g = fcase_pgrad(&f, p);
            double gm = 0;
            for (int64_t i = 0; i < c.psz[p]; i++) gm = fmax(gm, fabs(gp[p][i]));
            if (!g) { good &= gm == 0.0; continue; } /* unregistered: must be unused */
            for (int64_t i = 0; i < c.psz[p]; i++) good &= fabs(g[i] - gp[p][i]) <= 1e-4;
        }
        ok(good, "f32 plugin %s matches the f64 math (picks, loss %.6f vs %.6f, grads)",
           v->name, f.total, c.total);
        free(fv); free(fu); free(fi);
    }
    fcase_free(&f);
    free(gU); free(gI);
    for (int p = 0; p < NPAR; p++) free(gp[p]);
    dcase_free(&c);
}

/* The float kernels' exp and the candidate grouping. */
static void check_kernels(void)
{
    double worst = 0.0;
    for (double x = -87.0; x <= 87.0; x += 1.0 / 1024.0 + 1e-7) {
        const float xf = (float)x;
        const double e = exp((double)xf);
        worst = fmax(worst, fabs((double)ans_expf(xf) - e) / e);
    }
    ok(worst < 2.4e-7, "ans_expf: max relative error %.3g over [-87, 87] (< 2 ulp)", worst);
    ok(isnan(ans_expf(NAN)) && isnan(ans_sigmoidf(NAN)), "ans_expf, ans_sigmoidf: NaN stays NaN");
    ok(isfinite(ans_expf(1e30f)) && ans_expf(-1e30f) > 0 && ans_sigmoidf(-INFINITY) >= 0 &&
       ans_sigmoidf(INFINITY) == 1.0f && ans_sigmoidf(0) == 0.5f,
       "ans_expf clamps |x| to 87; sigmoid limits");

    /* 3 positives x 4 candidates with repeats: groups in first-appearance
     * order, ascending rows, slot restored */
    ans_cfg cfg = { 0 };
    cfg.d = 2; cfg.M = 4; cfg.gate = 1;
    ans_batch_f64 w;
    char *mem = calloc(1, ans_carve_f64(&w, &cfg, 3, NULL));
    ans_carve_f64(&w, &cfg, 3, mem);
    const int32_t cand[12] = { 5, 2, 5, 7, 2, 2, 0, 5, 7, 9, 0, 5 };
    int32_t slot[10];
    for (int i = 0; i < 10; i++) slot[i] = -1;
    w.B = 3; w.cand = cand; w.slot = slot;
    ans_dedupe_f64(&cfg, &w);
    static const int32_t want_item[5] = { 5, 2, 7, 0, 9 };
    static const int32_t want_ptr[6] = { 0, 4, 7, 9, 11, 12 };
    static const int32_t want_row[12] = { 0, 2, 7, 11, 1, 4, 5, 3, 8, 6, 10, 9 };
    int good = w.nU == 5;
    for (int j = 0; good && j < 5; j++) good &= w.uitem[j] == want_item[j];
    for (int j = 0; good && j < 6; j++) good &= w.uptr[j] == want_ptr[j];
    for (int q = 0; good && q < 12; q++) good &= w.urow[q] == want_row[q] && w.rpos[want_row[q]] == q;
    for (int r = 0; good && r < 12; r++) good &= w.uitem[w.cidx[r]] == cand[r];
    for (int i = 0; i < 10; i++) good &= slot[i] == -1;
    ok(good, "ans_dedupe: distinct items, ascending row lists, positions, slot restored");
    free(mem);
}

/* ans_flush_tiny zeroes exactly the subnormal entries: zero, the smallest
 * normal numbers and everything above stay; the subnormals of either sign,
 * down to the smallest, become 0. */
static void check_flush_tiny(void)
{
    double x[10] = {0.0, DBL_MIN, -DBL_MIN, DBL_MIN / 2, -DBL_MIN / 2, 4.9e-324, -4.9e-324,
                    1.0, -3e-300, DBL_MIN * 0.999999};
    const double want[10] = {0.0, DBL_MIN, -DBL_MIN, 0.0, 0.0, 0.0, 0.0, 1.0, -3e-300, 0.0};
    ans_flush_tiny_f64(x, 10);
    int bad = 0;
    for (int k = 0; k < 10; k++) bad += x[k] != want[k];
    ok(bad == 0, "ans_flush_tiny zeroes the subnormals only (%d of 10 wrong)", bad);
}

int main(void)
{
    check_kernels();
    check_flush_tiny();
    /* the three golden files give 114 points between them */
    static const char *const golden[3] = {"case1_eps0.5_gamma0.3.json", "case2_eps0_gamma0.json",
                                          "case3_eps1_gamma0.1_pow.json"};
    if (golden_present("ans-mf", golden, 3)) {
        for (int k = 0; k < 3; k++) golden_file(golden[k]);
    } else {
        skip_shared(114, "golden ans-mf files not found under %s", tap_golden_dir());
    }
    for (int v = 0; v < N_VARIANTS; v++) {
        fd_check(&variants[v], 0.3, 0.5, v % 2 ? REG_SQUARED : REG_NORM);
        if (v == 0) fd_check(&variants[v], 0.0, 0.0, REG_NORM);
    }
    for (int v = 0; v < N_VARIANTS; v++) float_vs_double(&variants[v]);
    return tap_done();
}
