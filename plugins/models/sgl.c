/*
 * sgl.c - the SGL backbone plugin "sgl" (Wu et al., "Self-supervised Graph
 * Learning for Recommendation", SIGIR 2021), as RecBole v1.1.1 sgl.py
 * implements it (docs/methods/sgl.md).
 *
 * Scoring rows: LightGCN propagation with mean pooling on the main graph
 * (lightgcn_impl.h), so the view, the gradient blocks, the eval cache and
 * the initialisation (xavier_uniform, streams (seed, "user"/"item", 0)) are
 * those of lightgcn.c. The host's BPR and regulariser act on that view.
 *
 * Self-supervision (sgl_impl.h): two augmented graphs ("views") are drawn
 * once per epoch, at the first TRAIN forward whose batch->epoch differs
 * from the views' epoch:
 *   ED  keep floor(n_pairs (1 - drop_ratio)) training pairs (graph_edge_dropout)
 *   ND  drop floor(drop_ratio U) users and floor(drop_ratio I) items (graph_node_dropout)
 *   RW  an independent ED graph per layer
 * each renormalised with (deg + degree_eps)^-1/2. Streams: nb_rng_seed(seed ^
 * "SGLV", epoch*64 + view*16 + layer, 0|1), so the views depend on (seed,
 * epoch) only. Every TRAIN forward with a batch then propagates E0 through
 * both views (Z1, Z2), computes
 *   aux_loss = ssl_weight (sum_b l_b^user + sum_b l_b^item)
 * (InfoNCE, cosine / ssl_tau, denominators over ALL users / ALL items,
 * anchors = the batch's users and positives, repeated rows counted as often
 * as they occur) and its gradient w.r.t. Z1, Z2; backward() carries it
 * through both views' propagations into the E0 gradient, next to the main
 * graph's backward of the host's gradients.
 *
 * Deviations from RecBole (documented in docs/methods/sgl.md): negbench has no PAD row,
 * so the denominators lack RecBole's isolated PAD user and item; the main
 * graph is binary (nb_train collapses duplicate pairs, RecBole's SGL sums
 * them); the host's BPR is a batch MEAN with 1e-10 inside the log, while
 * SGL's is a SUM (both the SSL term and BPR are sums there).
 *
 * Memory: besides LightGCN's, 8 [N][d] float arrays (views, their
 * gradients, propagation scratch, normalised rows) and the InfoNCE scratch
 * (sgl_impl.h; mostly SGL_ROWS x max(U, I) floats of exponentiated scores,
 * 42 MB on Gowalla); no allocation after init except the per-epoch view
 * graphs (graph.c, malloc).
 */
#include "negbench/graph.h"
#include "negbench/plugin.h"
#include "model_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUF f32
#define REAL float
#include "lightgcn_impl.h"
#include "sgl_impl.h"
#undef SUF
#undef REAL
#include "lgcn_view.h"

enum { P_LAYERS = 0, P_TAU, P_WEIGHT, P_DROP, P_AUG, P_DEGREE_EPS, P_SCALE };
enum sgl_aug { SGL_ED = 0, SGL_ND = 1, SGL_RW = 2 };

/* Anchors per chunk (the scratch keeps SGL_ROWS x max(U, I) floats) and
 * columns per block (a 1 MiB block of scores stays cached from its GEMM
 * through the exp pass into the next GEMM). */
#define SGL_ROWS 256
#define SGL_COLS 1024
#define SGL_MAX_LAYERS 8

static const nb_param_spec sgl_params[] = {
    {"layers", NB_PARAM_INT, "3", 0, SGL_MAX_LAYERS, NULL,
     "propagation layers L (RecBole SGL.yaml: 3)"},
    {"ssl_tau", NB_PARAM_FLOAT, "0.5", 1e-4, 100, NULL, "InfoNCE temperature"},
    {"ssl_weight", NB_PARAM_FLOAT, "0.05", 0, 1e6, NULL,
     "weight of the summed InfoNCE terms (docs/methods/sgl.md: its scale against BPR)"},
    {"drop_ratio", NB_PARAM_FLOAT, "0.1", 0, 0.99, NULL,
     "share of edges (ED, RW) or of users and items (ND) dropped per view"},
    {"aug", NB_PARAM_CHOICE, "ED", 0, 0, "ED|ND|RW",
     "augmentation: edge dropout, node dropout, or edge dropout per layer"},
    {"degree_eps", NB_PARAM_FLOAT, "1e-7", 0, 1, NULL,
     "added to node degrees before D^-1/2 (RecBole 1e-7)"},
    {"ssl_scale", NB_PARAM_CHOICE, "recbole", 0, 0, "recbole|sum",
     "recbole: divide the summed SSL term by B, keeping RecBole's SSL:BPR ratio under the "
     "host's mean BPR; sum: ssl_weight times the literal sum"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

typedef struct sgl {
    const nb_host *h;
    nb_train train;           /* the host's arrays, valid until free */
    int32_t U, I, d, L, aug;
    int64_t N;
    double tau, weight, drop, eps;
    int per_batch;            /* ssl_scale recbole: weight / B */
    uint64_t seed;
    nb_graph g;               /* main graph */
    nb_graph vg[2][SGL_MAX_LAYERS]; /* view graphs ([v][0] only for ED/ND) */
    const nb_graph *vp[2][SGL_MAX_LAYERS]; /* graph of layer l in view v */
    int32_t view_epoch;       /* epoch the views were drawn for; -1 none */
    float *E0, *E0g, *layers, *final, *Gf, *Gl;
    int32_t *touch, *rows;
    uint8_t *mark, *rowmark;
    float *H0, *H1;           /* [N][d] scratch */
    lgcn_lazy lazy;           /* main final rows on demand; lazy.state [N] */
    float *Z[2], *dZ[2];      /* [N][d] view rows and their SSL gradient */
    int32_t *cnt, *ids;       /* [max(U,I)] distinct-anchor helpers */
    double *w;                /* [max(U,I)] anchor weights */
    sgl_scratch_f32 sc;       /* InfoNCE scratch, carved from scbuf */
    void *scbuf;
    nb_block params[2];
    nb_block vgb[4];          /* user_final, item_final, user_layers, item_layers */
    nb_view view;
    nb_cache cache;           /* the stack's params_version (nb_cache) */
    int ssl_pending;          /* dZ holds a gradient backward must carry */
} sgl;

static void sgl_free_views(sgl *s)
{
    for (int v = 0; v < 2; v++)
        for (int l = 0; l < SGL_MAX_LAYERS; l++) graph_free(&s->vg[v][l]);
    s->view_epoch = -1;
}

static void sgl_free(void *state)
{
    sgl *s = state;
    if (!s) return;
    const nb_host *h = s->h;
    graph_free(&s->g);
    sgl_free_views(s);
    void *arrs[] = {s->E0, s->E0g, s->layers, s->final, s->Gf, s->Gl, s->touch, s->rows,
                    s->mark, s->rowmark, s->H0, s->H1, s->Z[0], s->Z[1], s->dZ[0], s->dZ[1],
                    s->cnt, s->ids, s->w, s->scbuf, s->lazy.state,
                    s->lazy.list};
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0]; k++) h->free(arrs[k]);
    h->free(s);
}

/* The embeddings, layer stacks, gradient rows, row bookkeeping, the two
 * views' buffers and the contrastive scratch (carved). NB_OK, or NB_ENOMEM
 * with *err. */
static int sgl_alloc(sgl *s, char **err)
{
    const nb_host *h = s->h;
    int32_t dim = s->d;
    int64_t N = s->N, d = dim, ld = (int64_t)(s->L + 1) * d;
    int64_t side = s->U > s->I ? s->U : s->I;
    size_t nd = (size_t)(N * d) * sizeof(float);
    s->E0 = h->alloc(nd);
    s->E0g = h->alloc(nd);
    s->layers = h->alloc((size_t)(N * ld) * sizeof(float));
    s->final = h->alloc(nd);
    s->Gf = h->alloc(nd);
    s->Gl = h->alloc((size_t)(N * ld) * sizeof(float));
    s->touch = h->alloc((size_t)(4 * N + 1) * sizeof(int32_t));
    s->mark = h->alloc((size_t)(4 * N + 1));
    s->rows = h->alloc((size_t)(N + 1) * sizeof(int32_t));
    s->rowmark = h->alloc((size_t)(N + 1));
    s->H0 = h->alloc(nd);
    s->H1 = h->alloc(nd);
    s->lazy.state = h->alloc((size_t)(N + 1) * sizeof(uint32_t));
    s->lazy.list = h->alloc((size_t)(N + 1) * sizeof(int32_t));
    for (int v = 0; v < 2; v++) {
        s->Z[v] = h->alloc(nd);
        s->dZ[v] = h->alloc(nd);
    }
    s->cnt = h->alloc((size_t)(side + 1) * sizeof(int32_t));
    s->ids = h->alloc((size_t)(side + 1) * sizeof(int32_t));
    s->w = h->alloc((size_t)(side + 1) * sizeof(double));
    s->scbuf = h->alloc(sgl_scratch_bytes_f32(side + 1, side + 1, dim, SGL_ROWS));
    if (!s->E0 || !s->E0g || !s->layers || !s->final || !s->Gf || !s->Gl || !s->touch ||
        !s->mark || !s->rows || !s->rowmark || !s->H0 || !s->H1 || !s->Z[0] || !s->Z[1] ||
        !s->dZ[0] || !s->dZ[1] || !s->cnt || !s->ids || !s->w || !s->scbuf || !s->lazy.state ||
        !s->lazy.list) {
        *err = h->mprintf("sgl: out of memory for %lld nodes x %d", (long long)N, dim);
        return NB_ENOMEM;
    }
    sgl_scratch_carve_f32(&s->sc, s->scbuf, side + 1, side + 1, dim, SGL_ROWS, SGL_COLS);
    return NB_OK;
}

static int sgl_init(const nb_host *h, const nb_value *values, const nb_train *train,
                    int32_t dim, uint64_t seed, void **state, char **err)
{
    int rc = NB_OK;
    char *gerr = NULL;
    sgl *s = h->alloc(sizeof *s);
    if (!s) { *err = h->mprintf("sgl: out of memory"); return NB_ENOMEM; }
    s->h = h;
    s->train = *train;
    s->U = train->n_users;
    s->I = train->n_items;
    s->N = (int64_t)s->U + s->I;
    s->d = dim;
    s->L = (int32_t)values[P_LAYERS].i;
    s->tau = values[P_TAU].f;
    s->weight = values[P_WEIGHT].f;
    s->drop = values[P_DROP].f;
    s->aug = (int)values[P_AUG].i;
    s->eps = values[P_DEGREE_EPS].f;
    s->per_batch = values[P_SCALE].i == 0;
    s->seed = seed ^ 0x53474c56ull; /* "SGLV" */
    s->view_epoch = -1;
    if (dim <= 0 || s->L < 0 || s->L > SGL_MAX_LAYERS || !(s->tau > 0) ||
        !(s->drop >= 0 && s->drop < 1)) {
        *err = h->mprintf("sgl: bad dim %d, layers %d, ssl_tau %g or drop_ratio %g", dim, s->L,
                          s->tau, s->drop);
        rc = NB_EINVAL;
        goto out;
    }
    rc = graph_build(train, NULL, s->eps, &s->g, &gerr);
    if (rc != NB_OK) {
        *err = h->mprintf("sgl: %s", gerr ? gerr : "graph build failed");
        goto out;
    }
    if ((rc = sgl_alloc(s, err)) != NB_OK) goto out;
    int64_t d = dim;
    model_xavier_uniform(s->E0, s->U, dim, seed, 0x75736572u);
    model_xavier_uniform(s->E0 + (int64_t)s->U * d, s->I, dim, seed, 0x6974656du);

    graph_model_layout(&(graph_model_arrays){s->U, s->I, dim, s->L, d, s->E0, s->E0g,
                                             s->layers, s->final, s->Gl, s->Gf, s->touch,
                                             s->mark},
                       s->params, s->vgb, &s->view);
out:
    free(gerr);
    if (rc != NB_OK) { sgl_free(s); s = NULL; }
    *state = s;
    return rc;
}

static int sgl_blocks(void *state, nb_block **blocks, int *n_blocks)
{
    sgl *s = state;
    *blocks = s->params;
    *n_blocks = 2;
    return NB_OK;
}

/* Draw both views for `epoch` (deterministic from (seed, epoch)). */
static int sgl_draw_views(sgl *s, int32_t epoch, char **err)
{
    int rc = NB_OK;
    char *gerr = NULL;
    sgl_free_views(s);
    for (int v = 0; v < 2 && rc == NB_OK; v++) {
        int n_graphs = s->aug == SGL_RW ? s->L : 1;
        for (int l = 0; l < n_graphs && rc == NB_OK; l++) {
            uint64_t key = (uint64_t)epoch * 64 + (uint64_t)v * 16 + (uint64_t)l;
            rc = s->aug == SGL_ND
                     ? graph_node_dropout(&s->train, s->drop, s->eps, s->seed, key, NULL,
                                          &s->vg[v][l], &gerr)
                     : graph_edge_dropout(&s->train, s->drop, s->eps, s->seed, key, NULL,
                                          &s->vg[v][l], &gerr);
        }
        for (int l = 0; l < SGL_MAX_LAYERS; l++)
            s->vp[v][l] = &s->vg[v][s->aug == SGL_RW ? l : 0];
    }
    if (rc != NB_OK) {
        *err = s->h->mprintf("sgl: view for epoch %d: %s", epoch + 1, gerr ? gerr : "failed");
        sgl_free_views(s);
    } else {
        s->view_epoch = epoch;
    }
    free(gerr);
    return rc;
}

/* Both views' propagation and the SSL loss of the batch; fills dZ[0..1]. */
static double sgl_ssl(sgl *s, const nb_batch *batch)
{
    const int64_t nd = s->N * s->d, U = s->U;
    const int32_t d = s->d;
    for (int v = 0; v < 2; v++) {
        sgl_view_forward_f32(s->vp[v], s->L, d, s->N, s->E0, s->H0, s->H1, s->Z[v]);
        memset(s->dZ[v], 0, (size_t)nd * sizeof(float));
    }
    double loss = 0;
    /* RecBole sums BPR and SSL over the batch; the host's BPR is a mean, so
     * the default divides the SSL sum by B to keep RecBole's ratio */
    const double w = s->per_batch ? s->weight / (double)batch->size : s->weight;
    int64_t R = sgl_distinct(batch->users, batch->size, w, s->cnt, s->ids, s->w);
    loss += sgl_infonce_f32(s->h->sgemm, d, s->tau, U, s->Z[0], s->Z[1], s->ids, s->w, R,
                            s->dZ[0], s->dZ[1], &s->sc);
    R = sgl_distinct(batch->pos, batch->size, w, s->cnt, s->ids, s->w);
    loss += sgl_infonce_f32(s->h->sgemm, d, s->tau, s->I, s->Z[0] + U * d, s->Z[1] + U * d,
                            s->ids, s->w, R, s->dZ[0] + U * d, s->dZ[1] + U * d, &s->sc);
    return loss;
}

static int sgl_forward(void *state, int mode, const nb_batch *batch, const nb_view **view,
                       char **err)
{
    sgl *s = state;
    int rc = NB_OK;
    s->view.aux_loss = 0;
    s->ssl_pending = 0;
    lgcn_view_forward(&s->g, s->L, s->d, LGCN_MEAN, s->U, mode, batch, s->E0, s->layers,
                      s->final, s->H0, s->H1, NULL, NULL, &s->cache, &s->lazy, &s->view);
    if (mode == NB_MODE_TRAIN && batch && batch->size > 0 && s->weight > 0) {
        if (batch->epoch != s->view_epoch && (rc = sgl_draw_views(s, batch->epoch, err)) != NB_OK)
            return rc;
        s->view.aux_loss = sgl_ssl(s, batch);
        s->ssl_pending = 1;
    }
    *view = &s->view;
    return NB_OK;
}

static int sgl_grads(void *state, nb_grads *g)
{
    sgl *s = state;
    view_grads_expose(g, s->vgb, s->params);
    return NB_OK;
}

static int sgl_backward(void *state, const nb_batch *batch, char **err)
{
    sgl *s = state;
    (void)batch; (void)err;
    lgcn_view_backward(&s->g, s->L, s->d, LGCN_MEAN, s->U, s->vgb, s->Gf, s->Gl, s->rowmark,
                       s->rows, s->H0, s->H1, s->E0g);
    /* the two views */
    if (s->ssl_pending)
        for (int v = 0; v < 2; v++)
            sgl_view_backward_f32(s->vp[v], s->L, s->d, s->N, s->dZ[v], s->H0, s->H1, s->E0g);
    s->ssl_pending = 0;
    nb_cache_clear(&s->cache); /* the optimizer step follows */
    return NB_OK;
}

#ifdef NB_SGL_TESTING
/* Tests only: replace the views by the graphs of the given pair masks
 * ([n_pairs], indexed like train->user_items; RW uses keep[v] for every
 * layer) and mark them as drawn for `epoch`. */
int sgl_testing_set_views(void *state, const uint8_t *keep1, const uint8_t *keep2, int32_t epoch);
int sgl_testing_set_views(void *state, const uint8_t *keep1, const uint8_t *keep2, int32_t epoch)
{
    sgl *s = state;
    sgl_free_views(s);
    const uint8_t *keep[2] = {keep1, keep2};
    for (int v = 0; v < 2; v++) {
        if (graph_build(&s->train, keep[v], s->eps, &s->vg[v][0], NULL) != NB_OK) return NB_ERR;
        for (int l = 0; l < SGL_MAX_LAYERS; l++) s->vp[v][l] = &s->vg[v][0];
    }
    s->view_epoch = epoch;
    return NB_OK;
}

/* Tests only: graph of layer l in view v (NULL before the first draw). */
const nb_graph *sgl_testing_view(void *state, int v, int l);
const nb_graph *sgl_testing_view(void *state, int v, int l)
{
    sgl *s = state;
    return s->view_epoch < 0 ? NULL : s->vp[v][l];
}
#endif

static const nb_model_vt sgl_vt = {sgl_init, sgl_blocks, sgl_forward, sgl_grads,
                                   sgl_backward, sgl_free};

static const nb_plugin_desc sgl_desc =
    NB_PLUGIN_DESC_INIT(NB_KIND_MODEL, "sgl", "1.0.0",
                        "SGL: LightGCN plus InfoNCE between two dropped-graph views (ED/ND/RW)",
                        sgl_params, &sgl_vt);

__attribute__((visibility("default"))) const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &sgl_desc : NULL;
}
