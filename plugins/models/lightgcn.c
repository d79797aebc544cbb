/*
 * lightgcn.c - the LightGCN backbone plugin "lightgcn" (He et al., SIGIR
 * 2020; RecBole v1.1.1 lightgcn.py, see docs/methods/lightgcn.md). The math lives in lightgcn_impl.h (float here, double in the tests).
 *
 * Parameters: ego tables user_emb [U][d] and item_emb [I][d] (DENSE blocks:
 * the propagation spreads every batch gradient over the L-hop
 * neighbourhood). Init xavier_uniform as RecBole: U(-b, b) with
 * b = sqrt(6 / (rows + d)), where rows = n_users or n_items: negbench has no
 * PAD row, so RecBole's tables are one row taller and its bound is slightly
 * smaller (negligible for real data). Streams: nb_rng_seed(seed, 0x75736572
 * "user", 0) for user_emb and (seed, 0x6974656d "item", 0) for item_emb,
 * drawn row-major, value = (2u - 1) b.
 *
 * Every TRAIN forward recomputes the full propagation (as RecBole does per
 * batch); an EVAL forward reuses it while the parameters have not changed
 * since (backward marks them dirty, because the optimizer step follows).
 * With eval_rows ego an EVAL forward propagates nothing: its view ranks
 * with layer 0 alone (lgcn_ego_view), as the official ANS code evaluates.
 * A TRAIN forward whose batch says final_only (the sampler reads no layer)
 * skips the layer stack: view->user_layers/item_layers are NULL for that
 * step, the final rows have the same bits, and a third of the forward's
 * memory traffic is gone. If the batch also says rows_on_demand (RNS, PNS:
 * a few final rows read, each synced first), the last product is not run:
 * the batch's users' and positives' final rows are computed in forward and
 * any other row by view->sync when a sampler asks for it (lgcn_view.h).
 * A TRAIN forward whose batch says layers_on_demand (MixGCF, DENS, ANS per
 * layer: samplers that read the stack and sync every row they read) runs
 * the first L-1 products into H0, H1 and no last product: a row's stack and
 * final row are filled when synced (the batch's users and positives in
 * forward), with the bits of the full stack; L <= 3, pool mean or sum.
 * A host that writes parameter values by other means must run a TRAIN
 * forward before an EVAL one.
 *
 * View: user/item = pooled final rows (dim d, or (L+1)d for concat);
 * user_layers/item_layers = the stack [n][L+1][d]; user_ego/item_ego = E0.
 * Gradient blocks (ROWS, owned here): "user_final", "item_final",
 * "user_layers", "item_layers"; user_ego/item_ego are the parameter
 * gradients of user_emb/item_emb. backward() adds the transposed propagation
 * to the E0 gradients, then zeroes the touched view-gradient rows.
 *
 * layers = 0 is MF: final = E0 and backward copies the final-row gradient
 * into the E0 gradient. Default layers = 3: the LightGCN paper and the ANS
 * experiments use 3 (RecBole's LightGCN.yaml says 2; set it explicitly to
 * reproduce RecBole defaults).
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
#undef SUF
#undef REAL
#include "lgcn_view.h"

enum { P_LAYERS = 0, P_POOL, P_DEGREE_EPS, P_EVAL_ROWS };
enum { LGCN_EVAL_POOLED = 0, LGCN_EVAL_EGO = 1 };

static const nb_param_spec lgcn_params[] = {
    {"layers", NB_PARAM_INT, "3", 0, 8, NULL,
     "propagation layers L (paper/ANS: 3; RecBole yaml: 2; 0 = MF)"},
    {"pool", NB_PARAM_CHOICE, "mean", 0, 0, "mean|sum|concat",
     "how layers 0..L combine into the scoring rows (mean = LightGCN)"},
    {"degree_eps", NB_PARAM_FLOAT, "1e-7", 0, 1, NULL,
     "added to node degrees before D^-1/2 (RecBole 1e-7; MixGCF/DENS 0)"},
    {"eval_rows", NB_PARAM_CHOICE | NB_PARAM_ADDED, "pooled", 0, 0, "pooled|ego",
     "rows the evaluation ranks with: pooled (as trained) or ego (layer 0 only, as the "
     "official ANS code's full_sort_predict)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

typedef struct lgcn {
    const nb_host *h;
    int32_t U, I, d, L, pool, df, eval_rows;
    int64_t N;
    nb_graph g;
    float *E0, *E0g;          /* [N][d] parameters and their gradient */
    float *layers;            /* [N][L+1][d] */
    float *final;             /* [N][df]; == layers for concat */
    float *Gf, *Gl;           /* [N][df], [N][(L+1)d] view gradients */
    int32_t *touch;           /* [4][N] touched lists of the 4 view blocks */
    uint8_t *mark;            /* [4][N] */
    int32_t *rows;            /* [N] union of touched nodes */
    uint8_t *rowmark;         /* [N] */
    float *H0, *H1;           /* [N][d] forward and backward scratch */
    lgcn_lazy lazy;           /* final rows on demand; lazy.state [N] */
    nb_block params[2];
    nb_block vg[4];           /* user_final, item_final, user_layers, item_layers */
    nb_view view;
    float *ego_pad;           /* [N][df] E0 then zeros: eval_rows ego with concat */
    nb_view ego_view;         /* the EVAL view under eval_rows ego */
    nb_cache cache;           /* the stack's params_version (nb_cache) */
} lgcn;

static void lgcn_free(void *state)
{
    lgcn *s = state;
    if (!s) return;
    const nb_host *h = s->h;
    graph_free(&s->g);
    h->free(s->E0); h->free(s->E0g); h->free(s->layers);
    if (s->final != s->layers) h->free(s->final);
    h->free(s->Gf); h->free(s->Gl); h->free(s->touch); h->free(s->mark);
    h->free(s->rows); h->free(s->rowmark); h->free(s->H0); h->free(s->H1);
    h->free(s->lazy.state); h->free(s->lazy.list); h->free(s->ego_pad);
    h->free(s);
}

static int lgcn_init(const nb_host *h, const nb_value *values, const nb_train *train,
                     int32_t dim, uint64_t seed, void **state, char **err)
{
    int rc = NB_OK;
    char *gerr = NULL;
    lgcn *s = h->alloc(sizeof *s);
    if (!s) { *err = h->mprintf("lightgcn: out of memory"); return NB_ENOMEM; }
    s->h = h;
    s->U = train->n_users;
    s->I = train->n_items;
    s->N = (int64_t)s->U + s->I;
    s->d = dim;
    s->L = (int32_t)values[P_LAYERS].i;
    s->pool = (int)values[P_POOL].i;
    s->df = s->pool == LGCN_CONCAT ? (s->L + 1) * dim : dim;
    s->eval_rows = (int32_t)values[P_EVAL_ROWS].i;
    if (dim <= 0 || s->L < 0) {
        *err = h->mprintf("lightgcn: bad dim %d or layers %d", dim, s->L);
        rc = NB_EINVAL;
        goto out;
    }
    rc = graph_build(train, NULL, values[P_DEGREE_EPS].f, &s->g, &gerr);
    if (rc != NB_OK) {
        *err = h->mprintf("lightgcn: %s", gerr ? gerr : "graph build failed");
        goto out;
    }
    int64_t N = s->N, d = dim, ld = (int64_t)(s->L + 1) * d;
    s->E0 = h->alloc((size_t)(N * d) * sizeof(float));
    s->E0g = h->alloc((size_t)(N * d) * sizeof(float));
    s->layers = h->alloc((size_t)(N * ld) * sizeof(float));
    s->final = s->pool == LGCN_CONCAT ? s->layers : h->alloc((size_t)(N * d) * sizeof(float));
    s->Gf = h->alloc((size_t)(N * s->df) * sizeof(float));
    s->Gl = h->alloc((size_t)(N * ld) * sizeof(float));
    s->touch = h->alloc((size_t)(4 * N + 1) * sizeof(int32_t));
    s->mark = h->alloc((size_t)(4 * N + 1));
    s->rows = h->alloc((size_t)(N + 1) * sizeof(int32_t));
    s->rowmark = h->alloc((size_t)(N + 1));
    s->H0 = h->alloc((size_t)(N * d) * sizeof(float));
    s->H1 = h->alloc((size_t)(N * d) * sizeof(float));
    s->lazy.state = h->alloc((size_t)(N + 1) * sizeof(uint32_t));
    s->lazy.list = h->alloc((size_t)(N + 1) * sizeof(int32_t));
    if (!s->E0 || !s->E0g || !s->layers || !s->final || !s->Gf || !s->Gl || !s->touch ||
        !s->mark || !s->rows || !s->rowmark || !s->H0 || !s->H1 || !s->lazy.state ||
        !s->lazy.list) {
        *err = h->mprintf("lightgcn: out of memory for %lld nodes x %d", (long long)N, dim);
        rc = NB_ENOMEM;
        goto out;
    }
    if (s->eval_rows == LGCN_EVAL_EGO && s->df != d) {
        s->ego_pad = h->alloc((size_t)(N * s->df) * sizeof(float));
        if (!s->ego_pad) {
            *err = h->mprintf("lightgcn: out of memory for the ego evaluation rows");
            rc = NB_ENOMEM;
            goto out;
        }
        memset(s->ego_pad, 0, (size_t)(N * s->df) * sizeof(float));
    }
    model_xavier_uniform(s->E0, s->U, dim, seed, 0x75736572u);
    model_xavier_uniform(s->E0 + (int64_t)s->U * d, s->I, dim, seed, 0x6974656du);

    graph_model_layout(&(graph_model_arrays){s->U, s->I, dim, s->L, s->df, s->E0, s->E0g,
                                             s->layers, s->final, s->Gl, s->Gf, s->touch,
                                             s->mark},
                       s->params, s->vg, &s->view);
out:
    free(gerr);
    if (rc != NB_OK) { lgcn_free(s); s = NULL; }
    *state = s;
    return rc;
}

static int lgcn_blocks(void *state, nb_block **blocks, int *n_blocks)
{
    lgcn *s = state;
    *blocks = s->params;
    *n_blocks = 2;
    return NB_OK;
}

/* The EVAL view under eval_rows ego: an MF view of the layer-0 rows at
 * the view's width (E0 itself, or E0 padded with zeros for concat, so the
 * score is u^(0) . i^(0) either way), always current: no propagation, no
 * cache. */
static const nb_view *lgcn_ego_view(lgcn *s)
{
    const int64_t N = s->N, d = s->d, df = s->df;
    const float *rows = s->E0;
    if (s->ego_pad) {
        for (int64_t r = 0; r < N; r++)
            memcpy(s->ego_pad + r * df, s->E0 + r * d, (size_t)d * sizeof(float));
        rows = s->ego_pad;
    }
    nb_view *v = &s->ego_view;
    *v = (nb_view){.n_users = s->U, .n_items = s->I, .dim = s->df, .n_layers = 0,
                   .user = rows, .item = rows + (int64_t)s->U * df, .user_layers = rows,
                   .item_layers = rows + (int64_t)s->U * df, .user_ego = s->E0,
                   .item_ego = s->E0 + (int64_t)s->U * d};
    return v;
}

static int lgcn_forward(void *state, int mode, const nb_batch *batch, const nb_view **view,
                        char **err)
{
    lgcn *s = state;
    (void)err;
    if (mode != NB_MODE_TRAIN && s->eval_rows == LGCN_EVAL_EGO) {
        *view = lgcn_ego_view(s);
        return NB_OK;
    }
    lgcn_view_forward(&s->g, s->L, s->d, s->pool, s->U, mode, batch, s->E0, s->layers, s->final,
                      s->H0, s->H1, s->H0, s->H1, &s->cache, &s->lazy, &s->view);
    *view = &s->view;
    return NB_OK;
}

static int lgcn_grads(void *state, nb_grads *g)
{
    lgcn *s = state;
    view_grads_expose(g, s->vg, s->params);
    return NB_OK;
}

static int lgcn_backward(void *state, const nb_batch *batch, char **err)
{
    lgcn *s = state;
    (void)batch; (void)err;
    lgcn_view_backward(&s->g, s->L, s->d, s->pool, s->U, s->vg, s->Gf, s->Gl, s->rowmark,
                       s->rows, s->H0, s->H1, s->E0g);
    nb_cache_clear(&s->cache); /* the optimizer step follows */
    return NB_OK;
}

static const nb_model_vt lgcn_vt = {lgcn_init, lgcn_blocks, lgcn_forward, lgcn_grads,
                                    lgcn_backward, lgcn_free};

static const nb_plugin_desc lgcn_desc =
    NB_PLUGIN_DESC_INIT(NB_KIND_MODEL, "lightgcn", "1.0.0",
                        "LightGCN: parameter-free propagation over the normalised user-item graph",
                        lgcn_params, &lgcn_vt);

__attribute__((visibility("default"))) const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &lgcn_desc : NULL;
}
