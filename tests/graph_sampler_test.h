/*
 * graph_sampler_test.h - shared pieces of the graph-sampler tests
 * (test-mixgcf-graph, test-dens-graph): the MixGCF/DENS tiny graph of the
 * golden README (0-based ids, no PAD, Ahat without degree epsilon), golden
 * readers, the scaled comparison, the double LightGCN propagation
 * (lightgcn_impl.h) and the real lightgcn plugin's vtable. Static functions
 * only: include once per test program, which links plugins/models/lightgcn.c
 * (whose nb_plugin_descriptor is the model's) and libnbgraph.
 */
#ifndef NB_GRAPH_SAMPLER_TEST_H
#define NB_GRAPH_SAMPLER_TEST_H

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

const nb_plugin_desc *nb_plugin_descriptor(uint32_t index); /* lightgcn.c */

/* The tiny graph: 5 users, 7 items, 12 nodes, d 4, batch of 4, 2 layers. */
enum { GU = TINY_U, GI = TINY_I, GN = GU + GI, GD = 4, GB = TINY_B, GL = 2, GNL = 3 };
static const int32_t *const g_users = tiny_users, *const g_pos = tiny_pos;

static test_train g_tiny;
static nb_graph g_graph;   /* Ahat without epsilon, as the MixGCF/DENS repos */

static void gs_setup(void)
{
    test_tiny_train(&g_tiny, 0);
    char *err = NULL;
    if (graph_build(&g_tiny.t, NULL, 0.0, &g_graph, &err) != NB_OK) tap_bail("graph: %s", err);
}

/* A golden array flattened (malloc'd; NULL and a failed test when absent). */
static double *gs_arr(const json *root, const char *path, size_t *n)
{
    const json *j = json_get(root, path);
    size_t cnt = j ? json_flatten(j, NULL, 0) : 0;
    if (!cnt) { ok(0, "golden key %s", path); return calloc(1, sizeof(double)); }
    double *a = malloc(cnt * sizeof *a);
    json_flatten(j, a, cnt);
    if (n) *n = cnt;
    return a;
}

static double gs_num(const json *root, const char *path)
{
    return json_num(json_get(root, path));
}

/* Non-zero when some row of the batch picks different items in two layers
 * (ch [GB][GNL]): the case the per-layer finite differences need. */
static int gs_picks_differ(const int32_t *ch)
{
    int differ = 0;
    for (int b = 0; b < GB; b++)
        for (int l = 1; l < GNL; l++) differ |= ch[b * GNL + l] != ch[b * GNL];
    return differ;
}

/* E0 [N][d] from the golden U [5][4] and I [7][4] under prefix. */
static void gs_e0(const json *root, const char *prefix, double *E0)
{
    char key[128];
    snprintf(key, sizeof key, "%s.U", prefix);
    double *u = gs_arr(root, key, NULL);
    snprintf(key, sizeof key, "%s.I", prefix);
    double *i = gs_arr(root, key, NULL);
    memcpy(E0, u, sizeof(double) * GU * GD);
    memcpy(E0 + GU * GD, i, sizeof(double) * GI * GD);
    free(u);
    free(i);
}

static json *gs_load(const char *dir, const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", tap_golden_dir(), dir, file);
    return json_load(path);
}

/* The official softplus BPR log(1 + e^(u.n - u.p)) on final rows (df wide):
 * returns the batch mean; gradients (nullable) add into Gf [N][df] (u, p) and
 * gneg [B][df]. */
static double gs_softplus_bpr(int32_t df, const double *final, const double *neg, double *Gf,
                              double *gneg)
{
    double loss = 0;
    for (int b = 0; b < GB; b++) {
        const double *u = final + (int64_t)g_users[b] * df;
        const double *p = final + (int64_t)(GU + g_pos[b]) * df, *n = neg + (int64_t)b * df;
        double x = 0;
        for (int k = 0; k < df; k++) x += u[k] * p[k] - u[k] * n[k];
        loss += x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x));
        double sg = x >= 0 ? exp(-x) / (1 + exp(-x)) : 1 / (1 + exp(x)); /* sigma(-x) */
        double gx = -sg / GB;
        if (!Gf) continue;
        for (int k = 0; k < df; k++) {
            Gf[(int64_t)g_users[b] * df + k] += gx * (p[k] - n[k]);
            Gf[(int64_t)(GU + g_pos[b]) * df + k] += gx * u[k];
            gneg[(int64_t)b * df + k] -= gx * u[k];
        }
    }
    return loss / GB;
}

static const nb_model_vt *gs_lgcn(void)
{
    return (const nb_model_vt *)nb_plugin_descriptor(0)->vtable;
}

/* A lightgcn plugin (2 layers, eps 0) with E0 set from double (NULL: its own
 * init). */
static void *gs_lgcn_new(int pool, const double *E0)
{
    nb_value vals[4] = {{.i = GL}, {.i = pool}, {.f = 0.0}, {.i = 0}};
    void *st = NULL;
    char *err = NULL;
    if (gs_lgcn()->init(testhost(), vals, &g_tiny.t, GD, 3, &st, &err) != NB_OK)
        tap_bail("lightgcn init: %s", err);
    if (E0) test_model_set_e0(gs_lgcn(), st, E0);
    return st;
}

/* The plugin's E0 gradient as double [N][d]. */
static void gs_lgcn_e0grad(void *st, double *g)
{
    test_model_e0_grad(gs_lgcn(), st, g);
}

static inline void gs_lgcn_e0(void *st, double *E0)
{
    test_model_get_e0(gs_lgcn(), st, E0);
}

/* One host-style training step of a sampler on the lightgcn plugin, as
 * core/train.c: forward, negatives, BPR on final rows, squared regulariser
 * (l2) on the ego rows, sampler backward, model backward. Returns the loss
 * (BPR + reg + aux) or NAN on a callback failure (*err set). */
static double gs_step(const nb_sampler_vt *svt, void *sst, void *mst, int32_t epoch, double l2,
                      nb_negatives *out, char **err)
{
    const nb_model_vt *mvt = gs_lgcn();
    const nb_view *v;
    nb_grads g;
    nb_batch bt = {.size = GB, .users = g_users, .pos = g_pos, .epoch = epoch, .step = 0,
                   .first = 0, .seed = 2020};
    if (mvt->forward(mst, NB_MODE_TRAIN, &bt, &v, err) != NB_OK) return NAN;
    memset(&g, 0, sizeof g);
    mvt->grads(mst, &g);
    out->aux_loss = 0;
    out->use_reg_vec = 0;
    if (svt->negatives(sst, &bt, v, out, err) != NB_OK) return NAN;
    int32_t df = v->dim;
    float dneg[GB * 3 * GD] = {0}, dreg[GB * GD] = {0};
    for (int b = 0; b < GB; b++) {
        nb_block_grad_row(g.user, g_users[b]);
        nb_block_grad_row(g.item, g_pos[b]);
    }
    double loss = bpr_loss_grad_f32(GB, df, g_users, g_pos, v->user, v->item, out->vec,
                                    g.user->grad, g.item->grad, dneg, NULL);
    loss += reg_loss_grad_f32(1, l2, GB, GD, g_users, g_pos, out->reg_items, out->reg_rows,
                              out->use_reg_vec ? out->reg_vec : NULL, v->user_ego, v->item_ego,
                              g.user_ego->grad, g.item_ego->grad,
                              out->use_reg_vec ? dreg : NULL, NULL);
    if (svt->backward(sst, &bt, v, dneg, out->use_reg_vec ? dreg : NULL, &g, err) != NB_OK)
        return NAN;
    if (mvt->backward(mst, &bt, err) != NB_OK) return NAN;
    return loss + out->aux_loss;
}

#endif /* NB_GRAPH_SAMPLER_TEST_H */
