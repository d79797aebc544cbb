/*
 * ngcf.c - the NGCF backbone plugin "ngcf" (Wang et al., SIGIR 2019; RecBole
 * v1.1.1 ngcf.py, docs/methods/ngcf.md). The math lives
 * in ngcf_impl.h (float here, double in the tests).
 *
 * Parameters (all DENSE blocks): user_emb [U][d], item_emb [I][d], and per
 * layer l: W1_l [d][d], b1_l [d] (BiGNNLayer.linear), W2_l [d][d], b2_l [d]
 * (interActTransform); weights stored [out][in]. Every hidden width is d, so
 * the scoring rows are the concatenation [X^0..X^L] of width (L+1) d.
 * Init as RecBole (xavier_normal_initialization): N(0, 2/(rows + d)) for
 * the tables with rows = n_users / n_items (no PAD row in negbench), N(0,
 * 2/(d + d)) for W, biases 0. Streams nb_rng_seed(seed, tag, 0) with tag
 * "user", "item", then 0x5731 + l ("W1") and 0x5732 + l ("W2").
 *
 * Training forward: node dropout (RecBole SparseDropout: each stored entry
 * of Ahat kept with prob 1 - p and scaled by 1/(1 - p), directions drawn
 * independently, streams (seed ^ "ndrp", step, row)) and message dropout
 * (0/1 mask per layer/row/column kept with prob 1 - p, streams
 * (seed ^ "mdrp", step, l N + row)); step = batch->step, the global step,
 * so the masks are a function of (seed, epoch, step). Evaluation applies NO
 * dropout: RecBole 1.1.1 creates nn.Dropout inline in forward, so its
 * full-sort scores are stochastic (fixed upstream in commit f2c20523); we
 * deliberately do not reproduce that bug. An EVAL forward's activations are
 * reused by the next EVAL forward of the same params_version (nb_cache).
 *
 * Deviation: RecBole regularises the final concatenated rows of u, p, n;
 * the negbench host regularises the ego (layer-0) rows for every backbone
 * (view.user_ego). Losses therefore differ from RecBole's by that term
 * (reg_weight 1e-5 by default, so the effect is small).
 *
 * An EVAL forward overwrites the training activations: backward must follow
 * a TRAIN forward (it returns NB_EINVAL otherwise).
 */
#include "negbench/graph.h"
#include "negbench/plugin.h"
#include "model_common.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The GEMM context: the host and, for a host without sgemm_ex (ABI 1.0),
 * scratch for op(A) made compact. */
typedef struct ngcf_blas {
    const nb_host *h;
    int has_ex;    /* h->sgemm_ex exists (struct_size covers it) */
    float *at;     /* [N][d] compact op(A), only without sgemm_ex */
} ngcf_blas;

/* C = op(A) op(B) + beta C (the NGCF_GEMM contract) through the host's
 * sgemm_ex, or its plain sgemm after copying op(A) into compact scratch;
 * that path needs compact B and C (ldb, ldc = widths) and m k <= N d, as
 * every NGCF call has. */
static void ngcf_gemm_f32(const void *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
                          int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                          float beta, float *c, int64_t ldc)
{
    const ngcf_blas *x = ctx;
    if (x->has_ex) {
        x->h->sgemm_ex(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    (void)ldb; (void)ldc;
    if (trans_a || lda != k) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m; i++)
            for (int64_t p = 0; p < k; p++)
                x->at[i * k + p] = trans_a ? a[p * lda + i] : a[i * lda + p];
        a = x->at;
    }
    x->h->sgemm(trans_b, m, n, k, 1.0f, a, b, beta, c);
}

#define SUF f32
#define REAL float
#define NGCF_GEMM ngcf_gemm_f32
#include "ngcf_impl.h"
#undef NGCF_GEMM
#undef SUF
#undef REAL

enum { P_LAYERS = 0, P_MSG_DROPOUT, P_NODE_DROPOUT, P_DEGREE_EPS };
enum { NGCF_MAX_LAYERS = 8 };

static const nb_param_spec ngcf_params[] = {
    {"layers", NB_PARAM_INT, "3", 1, NGCF_MAX_LAYERS, NULL,
     "propagation layers L (RecBole hidden_size_list [64,64,64]: 3), all of width d"},
    {"message_dropout", NB_PARAM_FLOAT, "0.1", 0, 0.999, NULL,
     "dropout after LeakyReLU in each layer (training only)"},
    {"node_dropout", NB_PARAM_FLOAT, "0.0", 0, 0.999, NULL,
     "drop rate of stored Ahat entries per training forward (RecBole SparseDropout)"},
    {"degree_eps", NB_PARAM_FLOAT, "1e-7", 0, 1, NULL,
     "added to node degrees before D^-1/2 (RecBole 1e-7)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

typedef struct ngcf {
    const nb_host *h;
    int32_t U, I, d, L;
    int64_t N;
    double p_msg, p_node;
    nb_graph g;
    ngcf_blas blas;
    ngcf_ws_f32 ws;
    void *wsbuf;                  /* the block behind ws */
    float *E0, *E0g;              /* [N][d] */
    float *W, *Wg;                /* W1 [L][d][d] | b1 [L][d] | W2 [L][d][d] | b2 [L][d] */
    float *W1, *b1, *W2, *b2, *gW1, *gb1, *gW2, *gb2; /* into W / Wg */
    uint8_t *mask;                /* [L][N][d] message dropout mask */
    float *val, *valT;            /* [nnz] node-dropped Ahat and its transpose */
    float *Gf, *Gl;               /* [N][(L+1)d] view gradients */
    int32_t *touch, *rows;        /* [4][N], [N] */
    uint8_t *mark, *rowmark;      /* [4][N], [N] */
    nb_block params[2 + 4 * NGCF_MAX_LAYERS];
    char names[4 * NGCF_MAX_LAYERS][8];
    nb_block vg[4];
    nb_view view;
    int trained;                  /* activations are from a TRAIN forward */
    nb_cache eval_cache;          /* activations are an EVAL forward at its version */
    int used_mask, used_val;      /* dropouts applied in the last TRAIN forward */
} ngcf;

static void ngcf_free(void *state)
{
    ngcf *s = state;
    if (!s) return;
    const nb_host *h = s->h;
    graph_free(&s->g);
    float *bufs[] = {s->wsbuf, s->blas.at, s->E0, s->E0g, s->W, s->Wg, s->val, s->valT,
                     s->Gf, s->Gl};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) h->free(bufs[k]);
    h->free(s->mask); h->free(s->touch); h->free(s->rows); h->free(s->mark);
    h->free(s->rowmark);
    h->free(s);
}

/* n values N(0, std^2) by Box-Muller from the stream (seed, tag, 0). */
static void ngcf_normal(float *w, int64_t n, double std, uint64_t seed, uint64_t tag)
{
    nb_rng r;
    nb_rng_seed(&r, seed, tag, 0);
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - nb_rng_uniform(&r), u2 = nb_rng_uniform(&r);
        double rad = sqrt(-2.0 * log(u1));
        w[i] = (float)(std * rad * cos(2.0 * M_PI * u2));
        if (i + 1 < n) w[i + 1] = (float)(std * rad * sin(2.0 * M_PI * u2));
    }
}

/* The workspace, embeddings, layer weights, dropout masks, edge values
 * and row bookkeeping for N nodes and L layers. NB_OK, or NB_ENOMEM with
 * *err. */
static int ngcf_alloc(ngcf *s, char **err)
{
    const nb_host *h = s->h;
    int64_t N = s->N, d = s->d, L = s->L, nd = N * d, ld = (L + 1) * d, per = 2 * d * d + 2 * d;
    size_t fs = sizeof(float);
    s->blas.h = h;
    s->blas.has_ex = h->struct_size >= offsetof(nb_host, sgemm_ex) + sizeof h->sgemm_ex &&
                     h->sgemm_ex != NULL;
    int blas_ok = s->blas.has_ex || (s->blas.at = h->alloc((size_t)nd * fs)) != NULL;
    s->wsbuf = h->alloc(ngcf_ws_bytes_f32(N, s->d, s->L));
    if (s->wsbuf) ngcf_ws_bind_f32(&s->ws, N, s->d, s->L, s->wsbuf);
    s->E0 = h->alloc((size_t)nd * fs);
    s->E0g = h->alloc((size_t)nd * fs);
    s->W = h->alloc((size_t)(L * per) * fs);
    s->Wg = h->alloc((size_t)(L * per) * fs);
    s->mask = h->alloc((size_t)(L * nd));
    s->val = h->alloc((size_t)(s->g.nnz + 1) * fs);
    s->valT = h->alloc((size_t)(s->g.nnz + 1) * fs);
    s->Gf = h->alloc((size_t)(N * ld) * fs);
    s->Gl = h->alloc((size_t)(N * ld) * fs);
    s->touch = h->alloc((size_t)(4 * N + 1) * sizeof(int32_t));
    s->rows = h->alloc((size_t)(N + 1) * sizeof(int32_t));
    s->mark = h->alloc((size_t)(4 * N + 1));
    s->rowmark = h->alloc((size_t)(N + 1));
    if (!blas_ok || !s->wsbuf || !s->E0 || !s->E0g || !s->W || !s->Wg || !s->mask || !s->val ||
        !s->valT || !s->Gf || !s->Gl ||
        !s->touch || !s->rows || !s->mark || !s->rowmark) {
        *err = h->mprintf("ngcf: out of memory for %lld nodes x %d x %d layers", (long long)N,
                          s->d, s->L);
        return NB_ENOMEM;
    }
    return NB_OK;
}

/* The initial parameters (Xavier-normal embeddings, N(0, 1/d) weights, zero
 * biases) from seed, their blocks (item_emb, then W1_l, b1_l, W2_l, b2_l
 * per layer) and the view's layout. */
static void ngcf_init_params(ngcf *s, uint64_t seed)
{
    int64_t d = s->d, L = s->L, ld = (L + 1) * d;
    ngcf_normal(s->E0, (int64_t)s->U * d, sqrt(2.0 / (double)(s->U + d)), seed, 0x75736572u);
    ngcf_normal(s->E0 + s->U * d, (int64_t)s->I * d, sqrt(2.0 / (double)(s->I + d)), seed,
                0x6974656du);
    s->params[1] = (nb_block){"item_emb", s->E0 + s->U * d, s->E0g + s->U * d, s->I, d,
                              NB_BLOCK_DENSE, NULL, 0, NULL};
    s->W1 = s->W;                s->gW1 = s->Wg;
    s->b1 = s->W1 + L * d * d;   s->gb1 = s->gW1 + L * d * d;
    s->W2 = s->b1 + L * d;       s->gW2 = s->gb1 + L * d;
    s->b2 = s->W2 + L * d * d;   s->gb2 = s->gW2 + L * d * d;
    for (int64_t l = 0; l < L; l++) {
        ngcf_normal(s->W1 + l * d * d, d * d, sqrt(1.0 / (double)d), seed, 0x5731u + (uint64_t)l);
        ngcf_normal(s->W2 + l * d * d, d * d, sqrt(1.0 / (double)d), seed, 0x5732u + (uint64_t)l);
        static const char *fmt[4] = {"W1_%d", "b1_%d", "W2_%d", "b2_%d"};
        float *val[4] = {s->W1 + l * d * d, s->b1 + l * d, s->W2 + l * d * d, s->b2 + l * d};
        float *grad[4] = {s->gW1 + l * d * d, s->gb1 + l * d, s->gW2 + l * d * d, s->gb2 + l * d};
        int64_t rows[4] = {d, 1, d, 1};
        for (int b = 0; b < 4; b++) {
            char *nm = s->names[l * 4 + b];
            snprintf(nm, sizeof s->names[0], fmt[b], (int)l);
            s->params[2 + l * 4 + b] = (nb_block){nm, val[b], grad[b], rows[b], d,
                                                  NB_BLOCK_DENSE, NULL, 0, NULL};
        }
    }
    /* concatenated layers: the final rows are the stack itself */
    graph_model_layout(&(graph_model_arrays){s->U, s->I, (int32_t)d, s->L, ld, s->E0, s->E0g,
                                             s->ws.X, s->ws.X, s->Gl, s->Gf, s->touch,
                                             s->mark},
                       s->params, s->vg, &s->view);
}

static int ngcf_init(const nb_host *h, const nb_value *values, const nb_train *train,
                     int32_t dim, uint64_t seed, void **state, char **err)
{
    int rc = NB_OK;
    char *gerr = NULL;
    ngcf *s = h->alloc(sizeof *s);
    if (!s) { *err = h->mprintf("ngcf: out of memory"); return NB_ENOMEM; }
    s->h = h;
    s->U = train->n_users;
    s->I = train->n_items;
    s->N = (int64_t)s->U + s->I;
    s->d = dim;
    s->L = (int32_t)values[P_LAYERS].i;
    s->p_msg = values[P_MSG_DROPOUT].f;
    s->p_node = values[P_NODE_DROPOUT].f;
    if (dim <= 0 || s->L < 1 || s->L > NGCF_MAX_LAYERS || !(s->p_msg >= 0 && s->p_msg < 1) ||
        !(s->p_node >= 0 && s->p_node < 1)) {
        *err = h->mprintf("ngcf: bad dim %d, layers %d or dropout (%g, %g)", dim, s->L,
                          s->p_msg, s->p_node);
        rc = NB_EINVAL;
        goto out;
    }
    rc = graph_build(train, NULL, values[P_DEGREE_EPS].f, &s->g, &gerr);
    if (rc != NB_OK) {
        *err = h->mprintf("ngcf: %s", gerr ? gerr : "graph build failed");
        goto out;
    }
    if ((rc = ngcf_alloc(s, err)) != NB_OK) goto out;
    ngcf_init_params(s, seed);
out:
    free(gerr);
    if (rc != NB_OK) { ngcf_free(s); s = NULL; }
    *state = s;
    return rc;
}

static int ngcf_blocks(void *state, nb_block **blocks, int *n_blocks)
{
    ngcf *s = state;
    *blocks = s->params;
    *n_blocks = 2 + 4 * s->L;
    return NB_OK;
}

static void ngcf_run_forward(ngcf *s, const float *val, const uint8_t *mask, double p)
{
    ngcf_forward_f32(&s->blas, &s->ws, &s->g, val, s->W1, s->b1, s->W2, s->b2, mask, p, s->E0);
}

static int ngcf_forward(void *state, int mode, const nb_batch *batch, const nb_view **view,
                        char **err)
{
    ngcf *s = state;
    (void)err;
    *view = &s->view;
    if (mode != NB_MODE_TRAIN) {
        if (!nb_cache_valid(&s->eval_cache, batch)) ngcf_run_forward(s, NULL, NULL, 0.0);
        nb_cache_record(&s->eval_cache, batch);
        s->trained = 0;
        return NB_OK;
    }
    uint64_t seed = batch ? batch->seed : 0, step = batch ? (uint64_t)batch->step : 0;
    int64_t N = s->N, d = s->d;
    s->used_val = s->p_node > 0;
    s->used_mask = s->p_msg > 0;
    if (s->used_val) {
        graph_entry_dropout_f32(&s->g, s->p_node, seed ^ 0x6e647270u, step, s->val);
        graph_transpose_vals_f32(&s->g, s->val, s->valT);
    }
    if (s->used_mask) {
        double keep = 1.0 - s->p_msg;
        int64_t rows = (int64_t)s->L * N;
#pragma omp parallel for schedule(static)
        for (int64_t q = 0; q < rows; q++) {
            nb_rng r;
            nb_rng_seed(&r, seed ^ 0x6d647270u, step, (uint64_t)q);
            uint8_t *m = s->mask + q * d;
            for (int64_t j = 0; j < d; j++) m[j] = nb_rng_uniform(&r) < keep;
        }
    }
    ngcf_run_forward(s, s->used_val ? s->val : NULL, s->used_mask ? s->mask : NULL, s->p_msg);
    s->trained = 1;
    nb_cache_clear(&s->eval_cache);
    return NB_OK;
}

static int ngcf_grads(void *state, nb_grads *g)
{
    ngcf *s = state;
    view_grads_expose(g, s->vg, s->params);
    return NB_OK;
}

static int ngcf_backward(void *state, const nb_batch *batch, char **err)
{
    ngcf *s = state;
    (void)batch;
    if (!s->trained) {
        *err = s->h->mprintf("ngcf: backward without a training forward");
        return NB_EINVAL;
    }
    /* the union of touched nodes of the four view-gradient blocks */
    int64_t n_rows = view_grads_touched(s->vg, s->U, s->rowmark, s->rows);
    ngcf_backward_f32(&s->blas, &s->ws, &s->g, s->used_val ? s->valT : NULL, s->W1, s->W2,
                      s->used_mask ? s->mask : NULL, s->p_msg, s->Gf, s->Gl, s->rows, n_rows,
                      s->rowmark, s->E0g, s->gW1, s->gb1, s->gW2, s->gb2);
    view_grads_clear(s->vg, s->rowmark, s->rows, n_rows);
    s->trained = 0;
    return NB_OK;
}

static const nb_model_vt ngcf_vt = {ngcf_init, ngcf_blocks, ngcf_forward, ngcf_grads,
                                    ngcf_backward, ngcf_free};

static const nb_plugin_desc ngcf_desc =
    NB_PLUGIN_DESC_INIT(NB_KIND_MODEL, "ngcf", "1.0.0",
                        "NGCF: bi-interaction graph convolution, concatenated layers",
                        ngcf_params, &ngcf_vt);

__attribute__((visibility("default"))) const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)
{
    return index == 0 ? &ngcf_desc : NULL;
}
