/*
 * train.c - the training loop behind train.h.
 */
#define _GNU_SOURCE
#include "train.h"
#include "bpr.h"
#include "hint_check.h"
#include "host.h"
#include "kernels.h"
#include "optim.h"
#include "plugin_loader.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BLOCKS 64

typedef struct trainer {
    const nb_train_in *in;
    const nb_config *cfg;
    const nb_host *host;
    nb_train train;                  /* plugin-facing view of the training data */
    const nb_model_vt *mvt;
    const nb_sampler_vt *svt;
    void *model, *sampler;
    nb_block *blocks[MAX_BLOCKS];    /* model blocks, then sampler blocks */
    int n_blocks;
    float *snapshot[MAX_BLOCKS];     /* parameters at the best evaluation */
    uint64_t params_version;         /* bumped by every write to a block (nb_batch) */
    int check_cache;                 /* NB_CHECK_CACHE set: prove EVAL views fresh */
    void *shadow;                    /* check_cache's second model instance */
    int n_model_blocks;              /* blocks[0 .. n_model_blocks) are the model's */
    nb_optim *opt;
    int ublock, iblock;              /* optimizer indices of the synced tables */
    int32_t vdim, max_batch, R;
    /* per-step buffers */
    int32_t *pair_user, *pair_item; /* [n_pairs] training pairs */
    int64_t *order;                 /* [n_pairs] epoch permutation */
    int32_t *bu, *bp;               /* [max_batch] the batch */
    nb_negatives neg;
    float *d_neg, *d_reg;           /* [max_batch][vdim] */
    nb_view view;                   /* host copy of the model's view + sync */
    int profile;                    /* NB_PROFILE set: time the phases of a step */
    int on_demand;                  /* batches may have rows_on_demand (NB_ON_DEMAND=0: never) */
    int layers_on_demand;           /* batches may have layers_on_demand (NB_ON_DEMAND=0: never) */
    double phase[6];                /* forward, negatives, loss, backward, adam, sync */
    uint32_t sflags;                /* the sampler's flags (0 with in->ignore_hints) */
    hint_check *hc;                 /* checking mode of the hints, or NULL */
} trainer;

static const char *const phase_names[6] = { "forward", "negatives", "loss", "backward",
                                            "adam", "sync" };

/* nb_view.sync: make a row of the user or item table current. */
static void view_sync(void *ctx, int which, int32_t row)
{
    trainer *t = ctx;
    int bi = which == NB_USERS ? t->ublock : t->iblock;
    if (bi >= 0) optim_sync_row(t->opt, bi, row);
}

/* The sampler flags that let a graph model compute final rows on demand. */
#define ON_DEMAND (NB_SAMPLER_SYNCS_ROWS | NB_SAMPLER_FINAL_ONLY | NB_SAMPLER_FEW_ROWS)

/* 1 when the view's final rows are optimizer blocks whose dense Adam update
 * is deferred (MF): the host then syncs rows itself. */
static int host_syncs(const trainer *t)
{
    return t->opt && (optim_block_deferred(t->opt, t->ublock) ||
                      optim_block_deferred(t->opt, t->iblock));
}

/* Item rows of the view the sampler reads per positive besides the
 * positive (nb_sampler_vt.rows_per_positive), or -1 when it does not say. */
static int32_t sampler_rows_per_positive(const trainer *t)
{
    if (t->in->sampler->abi_minor >= 4 && t->svt->rows_per_positive)
        return t->svt->rows_per_positive(t->sampler);
    return (t->sflags & NB_SAMPLER_FEW_ROWS) ? 1 : -1;
}

/* defer[i]: whether block i's idle rows have their dense Adam update
 * deferred (optim.h). Only when every reader syncs rows (the sampler
 * declares NB_SAMPLER_SYNCS_ROWS); with train.adam_defer auto, the view's
 * user table only if the B users of a step are few enough for it
 * (optim_defer_pays), its item table only if the B positives and the
 * rows_per_positive rows read per positive are; other blocks (and
 * samplers that do not say) defer. With NB_PROFILE, each view table's
 * share of rows read per step and its choice go to stderr. */
static void choose_deferral(const trainer *t, const nb_view *v0, uint8_t *defer)
{
    const int mode = t->cfg->train.adam_defer;
    const int syncs = (t->sflags & NB_SAMPLER_SYNCS_ROWS) != 0;
    const int32_t k = sampler_rows_per_positive(t);
    const double B = (double)t->max_batch;
    for (int i = 0; i < t->n_blocks; i++) {
        const nb_block *b = t->blocks[i];
        const int user = b->value == v0->user;
        double reads = -1.0;
        if (user) reads = B;
        else if (b->value == v0->item && k >= 0) reads = B * (1.0 + k);
        defer[i] = (uint8_t)(syncs && mode != NB_DEFER_OFF &&
                             (mode == NB_DEFER_ON || reads < 0.0 || optim_defer_pays(b->rows, reads)));
        if (t->profile && reads >= 0.0)
            fprintf(stderr, "profile: %s table: %.1f%% of its rows read per step, dense Adam %s\n",
                    user ? "user" : "item", 100.0 * optim_read_share(b->rows, reads),
                    defer[i] ? "deferred" : "every step");
    }
}

/* NB_CHECK_CACHE: evaluate the same parameters in a second instance of the
 * model that has never run a forward (created on first use with the same
 * arguments, its blocks overwritten with the trained model's values), and
 * compare the final rows of both views bit for bit. The second instance
 * can hold no derived state, so any state the trained model reused beyond
 * the parameters it was computed from shows as a difference, however the
 * model keys its caches. */
static int check_eval_cache(trainer *t, const nb_view *v, char **perr)
{
    const nb_train_in *in = t->in;
    nb_block *sb = NULL;
    int n = 0, rc;
    if (!t->shadow && (rc = t->mvt->init(t->host, in->model_values, &t->train, t->cfg->dim,
                                         t->cfg->train.seed ^ 0x6d6f64656cull, &t->shadow,
                                         perr)) != NB_OK)
        return rc;
    if ((rc = t->mvt->blocks(t->shadow, &sb, &n)) != NB_OK) return rc;
    if (n != t->n_model_blocks) {
        *perr = nb_strf("NB_CHECK_CACHE: model %s's second instance has %d blocks, not %d",
                        in->model->name, n, t->n_model_blocks);
        return NB_ERR;
    }
    for (int i = 0; i < n; i++)
        memcpy(sb[i].value, t->blocks[i]->value,
               (size_t)(sb[i].rows * sb[i].cols) * sizeof(float));
    const nb_view *w = NULL;
    if ((rc = t->mvt->forward(t->shadow, NB_MODE_EVAL, NULL, &w, perr)) != NB_OK) return rc;
    const size_t nu = (size_t)v->n_users * (size_t)v->dim, ni = (size_t)v->n_items * (size_t)v->dim;
    const size_t lw = (size_t)v->n_layers + 1;
    int differ = memcmp(v->user, w->user, nu * sizeof(float)) ||
                 memcmp(v->item, w->item, ni * sizeof(float));
    if (!differ && v->n_layers > 0 && v->user_layers && w->user_layers) /* the layer stacks */
        differ = memcmp(v->user_layers, w->user_layers, nu * lw * sizeof(float)) ||
                 memcmp(v->item_layers, w->item_layers, ni * lw * sizeof(float));
    if (differ) {
        *perr = nb_strf("NB_CHECK_CACHE: model %s's evaluation view at parameter version %llu "
                        "differs from a fresh instance's on the same parameters (derived state "
                        "outlived the parameters it was computed from)",
                        in->model->name, (unsigned long long)t->params_version);
        return NB_ERR;
    }
    return NB_OK;
}

/* The model's EVAL forward at the current parameters. Plugins built for
 * ABI 1.5 get a batch of size 0 that carries params_version, so they may
 * reuse a propagation derived from the same parameter values; older ones
 * get NULL (they must recompute). With NB_CHECK_CACHE set, every EVAL
 * forward is checked against a forward the model cannot serve from a cache
 * (a version no state was computed at): the final rows must be equal bit
 * for bit, else the run fails naming the model. */
static int model_eval_forward(trainer *t, const nb_view **view, char **err)
{
    nb_batch eb = { .size = 0, .epoch = -1, .seed = t->cfg->train.seed,
                    .params_version = t->params_version };
    const nb_batch *bp = t->in->model->abi_minor >= 5 ? &eb : NULL;
    char *perr = NULL;
    int rc = t->mvt->forward(t->model, NB_MODE_EVAL, bp, view, &perr);
    if (rc == NB_OK && t->check_cache && t->n_model_blocks > 0)
        rc = check_eval_cache(t, *view, &perr);
    if (rc != NB_OK) {
        rc = nb_fail(err, rc, "%s", perr ? perr : "model forward failed");
        free(perr);
    }
    return rc;
}

static int collect_blocks(trainer *t, char **err)
{
    nb_block *b = NULL;
    int n = 0, rc;
    if ((rc = t->mvt->blocks(t->model, &b, &n)) != NB_OK)
        return nb_fail(err, rc, "model %s: blocks() failed", t->in->model->name);
    if (n > MAX_BLOCKS)
        return nb_fail(err, NB_EINVAL, "model %s: %d parameter blocks, more than the host's %d",
                       t->in->model->name, n, MAX_BLOCKS);
    for (int i = 0; i < n; i++) t->blocks[t->n_blocks++] = &b[i];
    t->n_model_blocks = t->n_blocks;
    if (t->svt->blocks) {
        b = NULL;
        n = 0;
        if ((rc = t->svt->blocks(t->sampler, &b, &n)) != NB_OK)
            return nb_fail(err, rc, "sampler %s: blocks() failed", t->in->sampler->name);
        if (n > MAX_BLOCKS - t->n_blocks)
            return nb_fail(err, NB_EINVAL,
                           "sampler %s: %d parameter blocks, more than the %d the host has left "
                           "beside the model's", t->in->sampler->name, n, MAX_BLOCKS - t->n_blocks);
        for (int i = 0; i < n; i++) t->blocks[t->n_blocks++] = &b[i];
    }
    for (int i = 0; i < t->n_blocks; i++) {
        size_t bytes = (size_t)(t->blocks[i]->rows * t->blocks[i]->cols) * sizeof(float);
        t->snapshot[i] = nb_xmalloc(bytes);
        memcpy(t->snapshot[i], t->blocks[i]->value, bytes);
    }
    return NB_OK;
}

/* Copy the parameters to the snapshot (restore 0), or write the snapshot
 * back (restore 1). A restore is a write outside a training step: the
 * parameters' version changes, so no state a plugin derived from the
 * parameters it overwrote can be reused, and the optimizer's deferred rows
 * are current as written (optim_values_written). */
static void snapshot_save(trainer *t, int restore)
{
    for (int i = 0; i < t->n_blocks; i++) {
        size_t bytes = (size_t)(t->blocks[i]->rows * t->blocks[i]->cols) * sizeof(float);
        if (restore) memcpy(t->blocks[i]->value, t->snapshot[i], bytes);
        else memcpy(t->snapshot[i], t->blocks[i]->value, bytes);
    }
    if (restore) {
        optim_values_written(t->opt);
        t->params_version++;
    }
}

static void trainer_free(trainer *t)
{
    if (t->sampler) t->svt->free(t->sampler);
    if (t->model) t->mvt->free(t->model);
    optim_free(t->opt);
    hint_check_free(t->hc);
    for (int i = 0; i < t->n_blocks; i++) free(t->snapshot[i]);
    free(t->pair_user); free(t->pair_item); free(t->order);
    free(t->bu); free(t->bp);
    free(t->neg.vec); free(t->neg.item); free(t->neg.reg_items); free(t->neg.reg_vec);
    free(t->d_neg); free(t->d_reg);
    if (t->shadow) t->mvt->free(t->shadow);
}

/* The training pairs in user order and the per-step buffers, sized for
 * max_batch positives (allocated once: a step allocates nothing). */
static void trainer_alloc(trainer *t)
{
    const nb_dataset *ds = t->in->ds;
    int64_t np = ds->train.nnz;
    t->pair_user = nb_xmalloc((size_t)np * sizeof(int32_t));
    t->pair_item = nb_xmalloc((size_t)np * sizeof(int32_t));
    t->order = nb_xmalloc((size_t)np * sizeof(int64_t));
    for (int32_t u = 0; u < ds->n_users; u++)
        for (int64_t j = ds->train.ptr[u]; j < ds->train.ptr[u + 1]; j++) {
            t->pair_user[j] = u;
            t->pair_item[j] = ds->train.idx[j];
        }
    size_t mb = (size_t)t->max_batch, vd = (size_t)t->vdim;
    t->bu = nb_xmalloc(mb * sizeof(int32_t));
    t->bp = nb_xmalloc(mb * sizeof(int32_t));
    t->neg.vec = nb_xcalloc(mb * vd, sizeof(float));
    t->neg.item = nb_xcalloc(mb, sizeof(int32_t));
    t->neg.reg_items = nb_xcalloc(mb * (size_t)(t->R ? t->R : 1), sizeof(int32_t));
    t->neg.reg_vec = nb_xcalloc(mb * (size_t)t->cfg->dim, sizeof(float));
    t->neg.reg_rows = t->R;
    t->d_neg = nb_xcalloc(mb * vd, sizeof(float));
    t->d_reg = nb_xcalloc(mb * (size_t)t->cfg->dim, sizeof(float));
}

/* Positives per step: train.batch_size, divided by the sampler's M under
 * batch_mode recbole; at least 1. */
static int32_t max_batch_size(const nb_config *cfg, int32_t batch_M)
{
    int32_t bs = cfg->train.batch_size;
    if (cfg->train.batch_mode == NB_BATCH_RECBOLE) bs = bs / (batch_M > 0 ? batch_M : 1);
    return bs > 0 ? bs : 1;
}

static int trainer_setup(trainer *t, const nb_train_in *in, char **err)
{
    const nb_dataset *ds = in->ds;
    const nb_config *cfg = in->cfg;
    char *perr = NULL;
    int rc;
    t->in = in;
    t->cfg = cfg;
    t->host = host_table(in->threads);
    t->mvt = in->model->vtable;
    t->svt = in->sampler->vtable;
    t->sflags = in->ignore_hints ? 0 : t->svt->flags;
    t->train = (nb_train){
        .n_users = ds->n_users, .n_items = ds->n_items, .n_pairs = ds->train.nnz,
        .user_ptr = ds->train.ptr, .user_items = ds->train.idx,
        .item_ptr = ds->train_by_item.ptr, .item_users = ds->train_by_item.idx,
    };
    if (ds->train.nnz == 0) return nb_fail(err, NB_EINVAL, "the training split is empty");

    rc = plugin_model_init(in->model, t->host, in->model_values, in->n_model_values, &t->train,
                           cfg->dim, cfg->train.seed ^ 0x6d6f64656cull, &t->model, &perr);
    if (rc != NB_OK) goto plugin_error;
    const nb_view *v0 = NULL;
    const char *cc = getenv("NB_CHECK_CACHE");
    t->check_cache = cc && *cc && strcmp(cc, "0");
    if ((rc = model_eval_forward(t, &v0, err)) != NB_OK) return rc;
    t->vdim = v0->dim;

    t->max_batch = max_batch_size(cfg, in->batch_M);
    if (cfg->train.drop_last && ds->train.nnz < t->max_batch)
        return nb_fail(err, NB_EINVAL,
                       "train.drop_last: the training split has %lld pairs, fewer than one batch "
                       "of %d positives, so every epoch would be empty",
                       (long long)ds->train.nnz, (int)t->max_batch);
    rc = plugin_sampler_init(in->sampler, t->host, in->sampler_values, in->n_sampler_values,
                             &t->train, t->vdim, t->max_batch, cfg->train.seed ^ 0x73616d70ull,
                             &t->sampler, &perr);
    if (rc != NB_OK) goto plugin_error;
    t->R = t->svt->reg_rows(t->sampler);
    if (t->R < 0) return nb_fail(err, NB_EINVAL, "sampler %s: reg_rows() < 0", in->sampler->name);

    if ((rc = collect_blocks(t, err)) != NB_OK) return rc;
    uint8_t defer[MAX_BLOCKS];
    choose_deferral(t, v0, defer);
    nb_adam_opts ao = {
        .lr = cfg->train.lr, .beta1 = cfg->train.beta1, .beta2 = cfg->train.beta2,
        .eps = cfg->train.adam_eps, .mode = cfg->train.adam_mode, .deferred = defer,
        .threads = in->threads,
    };
    if ((rc = optim_create(t->blocks, t->n_blocks, &ao, &t->opt, err)) != NB_OK) return rc;
    t->ublock = optim_block_index(t->opt, v0->user);
    t->iblock = optim_block_index(t->opt, v0->item);
    if (in->check_hints || hint_check_requested())
        t->hc = hint_check_create(t->sflags, v0, in->sampler->abi_minor >= 6);

    trainer_alloc(t);
    return NB_OK;
plugin_error:
    rc = nb_fail(err, rc, "%s", perr ? perr : "plugin initialisation failed");
    free(perr);
    return rc;
}

static int is_finite(double x)
{
    return !isnan(x) && !isinf(x);
}

/* NB_PROFILE: add the time since c0 to phase i; returns the new c0. */
static double phase_mark(trainer *t, int i, double c0)
{
    if (!t->profile) return c0;
    double c1 = nb_now();
    t->phase[i] += c1 - c0;
    return c1;
}

/* The model's view mv into t->view, and the batch's rows brought up to
 * date when the view syncs rows (the host's deferred Adam rows, or the
 * model's rows on demand). */
static void step_sync_rows(trainer *t, const nb_view *mv, const nb_batch *batch)
{
    t->view = *mv;
    if (host_syncs(t)) {
        t->view.sync = view_sync;
        t->view.sync_ctx = t;
    }
    if (t->view.sync) { /* thread-safe per row */
        const int32_t B = batch->size;
        #pragma omp parallel for schedule(static) num_threads(t->in->threads)
        for (int32_t b = 0; b < B; b++) {
            nb_view_sync(&t->view, NB_USERS, batch->users[b]);
            nb_view_sync(&t->view, NB_ITEMS, batch->pos[b]);
        }
    }
}

/* BPR on the final rows: mark the rows it writes, then accumulate the
 * gradients into g and t->d_neg. Returns the loss. */
static double step_bpr(trainer *t, const nb_batch *batch, nb_grads *g)
{
    const int32_t B = batch->size, vd = t->vdim;
    for (int32_t b = 0; b < B; b++) {
        nb_block_grad_row(g->user, batch->users[b]);
        nb_block_grad_row(g->item, batch->pos[b]);
    }
    memset(t->d_neg, 0, (size_t)B * (size_t)vd * sizeof(float));
    return bpr_loss_grad_f32(B, vd, batch->users, batch->pos, t->view.user, t->view.item,
                             t->neg.vec, g->user->grad, g->item->grad, t->d_neg, NULL);
}

/* The regulariser on the ego rows (the sampler's reg rows, or its reg
 * vectors into t->d_reg when it uses them). Returns the loss. */
static double step_reg(trainer *t, const nb_batch *batch, nb_grads *g)
{
    const nb_config *cfg = t->cfg;
    const int32_t B = batch->size, d = cfg->dim;
    for (int32_t b = 0; b < B; b++) {
        nb_block_grad_row(g->user_ego, batch->users[b]);
        nb_block_grad_row(g->item_ego, batch->pos[b]);
    }
    const int use_vec = t->neg.use_reg_vec;
    if (!use_vec)
        for (int64_t r = 0; r < (int64_t)B * t->R; r++) nb_block_grad_row(g->item_ego, t->neg.reg_items[r]);
    if (use_vec) memset(t->d_reg, 0, (size_t)B * (size_t)d * sizeof(float));
    double reg_raw = 0.0;
    return reg_loss_grad_f32(cfg->train.reg_form, cfg->train.reg_weight, B, d, batch->users,
                             batch->pos, t->neg.reg_items, t->R,
                             use_vec ? t->neg.reg_vec : NULL, t->view.user_ego,
                             t->view.item_ego, g->user_ego->grad, g->item_ego->grad,
                             use_vec ? t->d_reg : NULL, &reg_raw);
}

/* One optimizer step on the batch bu/bp[0..B): forward, negatives, loss,
 * backward through the sampler and the model, Adam. Returns the batch loss
 * in *loss; non-zero with *err on failure. */
static int train_step(trainer *t, nb_batch *batch, double *loss, char **err)
{
    const int32_t B = batch->size;
    char *perr = NULL;
    int rc;
    nb_grads g;
    double c0 = t->profile ? nb_now() : 0.0;
    const nb_view *mv = NULL;
    if ((rc = t->mvt->forward(t->model, NB_MODE_TRAIN, batch, &mv, &perr)) != NB_OK) goto fail;
    c0 = phase_mark(t, 0, c0);
    step_sync_rows(t, mv, batch);
    c0 = phase_mark(t, 5, c0);
    memset(&g, 0, sizeof g);
    if ((rc = t->mvt->grads(t->model, &g)) != NB_OK) goto fail;
    const nb_view *sv = t->hc ? hint_check_view(t->hc, &t->view, batch) : &t->view;
    t->neg.aux_loss = 0.0;
    t->neg.use_reg_vec = 0;
    t->neg.reg_rows = t->R;
    if ((rc = t->svt->negatives(t->sampler, batch, sv, &t->neg, &perr)) != NB_OK) goto fail;
    if (t->hc && (rc = hint_check_negatives(t->hc, t->in->sampler->name, &t->neg, B, t->R, err)) != NB_OK)
        return rc;
    c0 = phase_mark(t, 1, c0);
    double bpr = step_bpr(t, batch, &g);
    double reg = step_reg(t, batch, &g);
    c0 = phase_mark(t, 2, c0);
    if ((rc = t->svt->backward(t->sampler, batch, sv, t->d_neg,
                               t->neg.use_reg_vec ? t->d_reg : NULL, &g, &perr)) != NB_OK)
        goto fail;
    if (t->hc && (rc = hint_check_backward(t->hc, t->in->sampler->name, &g, err)) != NB_OK)
        return rc;
    if ((rc = t->mvt->backward(t->model, batch, &perr)) != NB_OK) goto fail;
    c0 = phase_mark(t, 3, c0);
    optim_step(t->opt);
    t->params_version++;
    if (t->hc) hint_check_end(t->hc);
    phase_mark(t, 4, c0);
    *loss = bpr + reg + t->neg.aux_loss + t->view.aux_loss;
    if (!is_finite(*loss))
        return nb_fail(err, NB_ENUMERIC,
                       "non-finite loss at epoch %d step %lld (bpr %g, reg %g, sampler %g, model %g)",
                       batch->epoch + 1, (long long)batch->step, bpr, reg, t->neg.aux_loss,
                       t->view.aux_loss);
    return NB_OK;
fail:
    rc = nb_fail(err, rc, "%s", perr ? perr : "plugin callback failed");
    free(perr);
    return rc;
}

/* Fisher-Yates shuffle of the pair order from the (seed, epoch) stream. */
static void shuffle_pairs(trainer *t, int32_t epoch)
{
    int64_t n = t->train.n_pairs;
    nb_rng r;
    nb_rng_seed(&r, t->cfg->train.seed, (uint64_t)epoch, 0x5348554646ull /* "SHUFF" */);
    for (int64_t i = 0; i < n; i++) t->order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(((unsigned __int128)nb_rng_u64(&r) * (uint64_t)(i + 1)) >> 64);
        int64_t tmp = t->order[i];
        t->order[i] = t->order[j];
        t->order[j] = tmp;
    }
}

static void progress_draw(int32_t epoch, int64_t done, int64_t total)
{
    int width = 30, fill = total ? (int)(width * done / total) : width;
    fprintf(stderr, "\r  epoch %d [", epoch);
    for (int i = 0; i < width; i++) fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %3d%%", total ? (int)(100 * done / total) : 100);
    fflush(stderr);
}

static void progress_clear(void)
{
    fputs("\r\033[K", stderr);
}

/* True when epoch (1-based) is on the evaluation schedule: eval.first,
 * first + every, first + 2 every, ... (the caller adds the last epoch). */
static int eval_due(const nb_eval_cfg *e, int32_t epoch)
{
    return epoch >= e->first && (epoch - e->first) % e->every == 0;
}

/* Evaluate the current parameters on truth, masking mask_a (+ mask_b). */
static int evaluate(trainer *t, const nb_csr *truth, const nb_csr *mask_a, const nb_csr *mask_b,
                    nb_metrics *m, nb_hits *hits, char **err)
{
    const nb_view *v = NULL;
    optim_flush(t->opt);
    int rc = model_eval_forward(t, &v, err);
    if (rc != NB_OK) return rc;
    nb_eval_opts eo = t->cfg->eval.opts;
    eo.threads = t->in->threads;
    eo.stop = t->in->stop; /* a signal ends a long evaluation too */
    if (!hits) eo.report_k = 0;
    return eval_full_ranking(v->user, v->item, v->n_users, v->n_items, v->dim, truth, mask_a,
                             mask_b, &eo, m, hits, err);
}

/* An evaluation that failed, or stopped because of a signal: the run is
 * then interrupted, not failed, with the `committed` epochs stored. */
static void eval_failed(const nb_train_in *in, nb_train_out *out, int32_t committed)
{
    out->status = in->stop && *in->stop ? NB_RUN_INTERRUPTED : NB_RUN_FAILED;
    if (out->status == NB_RUN_INTERRUPTED) {
        free(out->error);
        out->error = NULL;
        out->epochs_run = committed;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* True when `epoch` (0 = before training) is listed in eval.histogram_epochs. */
static int histogram_due(const nb_config *cfg, int32_t epoch)
{
    for (int i = 0; i < cfg->eval.n_hist_epochs; i++)
        if (cfg->eval.hist_epochs[i] == epoch) return 1;
    return 0;
}

/* Fig. 1a-c: scores of a seeded sample of unobserved (user, item) pairs, the
 * same pairs at every epoch, binned between the sample's min and max and
 * stored as score_histogram "unobserved_scores". */
static int store_score_histogram(trainer *t, int32_t epoch, char **err)
{
    const nb_config *cfg = t->cfg;
    const nb_dataset *ds = t->in->ds;
    const nb_view *v = NULL;
    int rc;
    if (!t->in->store) return NB_OK;
    optim_flush(t->opt);
    if ((rc = model_eval_forward(t, &v, err)) != NB_OK) return rc;
    int32_t n = cfg->eval.hist_pairs, bins = cfg->eval.hist_bins;
    float *score = nb_xmalloc((size_t)n * sizeof(float));
    int64_t *count = nb_xcalloc((size_t)bins, sizeof(int64_t));
    nb_rng r;
    nb_rng_seed(&r, cfg->train.seed, 0x48495354ull /* "HIST" */, 0);
    float lo = INFINITY, hi = -INFINITY;
    for (int32_t i = 0; i < n; i++) {
        int32_t u, it;
        do {
            u = (int32_t)nb_rng_below(&r, (uint32_t)ds->n_users);
            it = (int32_t)nb_rng_below(&r, (uint32_t)ds->n_items);
        } while (csr_has(&ds->train, u, it));
        score[i] = nb_dot(v->user + (int64_t)u * v->dim, v->item + (int64_t)it * v->dim, v->dim);
        if (score[i] < lo) lo = score[i];
        if (score[i] > hi) hi = score[i];
    }
    double width = hi > lo ? ((double)hi - lo) / bins : 1.0;
    for (int32_t i = 0; i < n; i++) {
        int32_t b = (int32_t)(((double)score[i] - lo) / width);
        count[b < bins ? b : bins - 1]++;
    }
    rc = store_histogram(t->in->store, t->in->run_id, epoch, "unobserved_scores", lo,
                         hi > lo ? hi : lo + 1.0, bins, count, err);
    free(score);
    free(count);
    return rc;
}

/* Copy the sampler's statistics into store form and write the epoch. */
static int store_epoch_row(trainer *t, int32_t epoch, double loss, double train_s, double eval_s,
                           const nb_metrics *valid, const nb_metrics *test, char **err)
{
    const nb_stat *st = NULL;
    int ns = 0;
    if (!t->svt->epoch_stats || t->svt->epoch_stats(t->sampler, &st, &ns) != NB_OK || ns < 0) ns = 0;
    if (!t->in->store) return NB_OK;
    nb_stat_value *sv = nb_xcalloc((size_t)ns + 1, sizeof *sv); /* every statistic, however many */
    for (int i = 0; i < ns; i++) sv[i] = (nb_stat_value){ st[i].name, st[i].value };
    nb_epoch_record rec = {
        .epoch = epoch, .loss = loss, .train_seconds = train_s, .eval_seconds = eval_s,
        .valid = valid, .test = test, .stats = sv, .n_stats = ns,
    };
    int rc = store_epoch(t->in->store, t->in->run_id, &rec, err);
    free(sv);
    return rc;
}

/* The training loop's state across epochs (train_run). */
typedef struct loop_state {
    int metric, kidx;            /* the early-stopping metric and its k's index */
    double best;                 /* its best validation value so far */
    int32_t since_best;          /* evaluations since that missed it (patience) */
    int32_t epochs;              /* train.epochs (0 when the run failed before) */
    int64_t n;                   /* pairs per epoch (whole batches with drop_last) */
    int64_t step;                /* optimizer steps so far */
    double *epoch_secs;          /* [epochs] training seconds of each epoch */
} loop_state;

/* The early-stopping metric (eval.metric) as indexes into the metrics the
 * evaluation returns: NB_OK, or NB_EINVAL with *err. */
static int loop_metric(const nb_config *cfg, loop_state *ls, char **err)
{
    nb_metrics probe = { 0 };
    probe.n_ks = cfg->eval.opts.n_ks;
    memcpy(probe.ks, cfg->eval.opts.ks, sizeof probe.ks);
    /* eval sorts ks: mirror that so kidx matches its output */
    for (int i = 1; i < probe.n_ks; i++)
        for (int j = i; j > 0 && probe.ks[j - 1] > probe.ks[j]; j--) {
            int32_t tmp = probe.ks[j]; probe.ks[j] = probe.ks[j - 1]; probe.ks[j - 1] = tmp;
        }
    if (eval_parse_metric(cfg->eval.metric, &probe, &ls->metric, &ls->kidx) != 0)
        return nb_fail(err, NB_EINVAL, "%s: unknown validation metric %s", cfg->path,
                       cfg->eval.metric);
    return NB_OK;
}

/* The sampler's epoch_begin on the current evaluation rows (samplers that
 * score outside the batch, SRNS). 0, or -1 with the run failed in out. */
static int loop_epoch_begin(trainer *t, int32_t epoch, nb_train_out *out)
{
    const nb_view *ev = NULL;
    optim_flush(t->opt);
    if (model_eval_forward(t, &ev, &out->error) != NB_OK) {
        out->status = NB_RUN_FAILED;
        return -1;
    }
    if (t->svt->epoch_begin(t->sampler, epoch, ev) != NB_OK) {
        out->error = nb_strf("sampler %s: epoch_begin failed at epoch %d",
                             t->in->sampler->name, epoch + 1);
        out->status = NB_RUN_FAILED;
        return -1;
    }
    return 0;
}

/* The steps of one epoch over the shuffled pairs, with the progress bar.
 * Stops early on a failed step (out->status) or a stop request. Returns the
 * mean step loss (0 without steps). */
static double loop_steps(trainer *t, loop_state *ls, int32_t epoch, nb_train_out *out)
{
    const nb_train_in *in = t->in;
    double last_draw = 0.0, loss_sum = 0.0;
    int64_t n_steps = 0, n = ls->n;
    for (int64_t first = 0; first < n; first += t->max_batch) {
        int32_t B = (int32_t)(n - first < t->max_batch ? n - first : t->max_batch);
        for (int32_t b = 0; b < B; b++) {
            int64_t j = t->order[first + b];
            t->bu[b] = t->pair_user[j];
            t->bp[b] = t->pair_item[j];
        }
        nb_batch batch = { .size = B, .users = t->bu, .pos = t->bp, .epoch = epoch,
                           .step = ls->step, .first = first, .seed = t->cfg->train.seed,
                           .final_only = (t->sflags & NB_SAMPLER_FINAL_ONLY) != 0,
                           .rows_on_demand = t->on_demand,
                           .params_version = t->params_version,
                           .layers_on_demand = t->layers_on_demand };
        double l = 0.0;
        if (train_step(t, &batch, &l, &out->error) != NB_OK) {
            out->status = NB_RUN_FAILED;
            break;
        }
        if (in->step_loss && ls->step < in->n_step_loss) in->step_loss[ls->step] = l;
        loss_sum += l;
        n_steps++;
        ls->step++;
        if (in->progress && nb_now() - last_draw > 0.2) {
            progress_draw(epoch + 1, first + B, n);
            last_draw = nb_now();
        }
        if (in->stop && *in->stop) break;
    }
    if (in->progress) progress_clear();
    return n_steps ? loss_sum / (double)n_steps : 0.0;
}

/* NB_PROFILE: the epoch's time per phase of a step on stderr (then reset). */
static void loop_profile(trainer *t, int32_t epoch)
{
    if (!t->profile) return;
    fprintf(stderr, "profile epoch %d:", epoch + 1);
    for (int i = 0; i < 6; i++) {
        fprintf(stderr, " %s %.3fs", phase_names[i], t->phase[i]);
        t->phase[i] = 0.0;
    }
    fputc('\n', stderr);
}

/* The validation after an epoch (and the test with eval.test_every_eval,
 * *have_test), into vm and tm: an improvement keeps the parameters and the
 * per-user ranks of the best epoch, a miss counts toward the patience. Prints
 * the epoch line. 0, or -1 when the evaluation failed or was stopped (out
 * says which). */
static int loop_validate(trainer *t, loop_state *ls, int32_t epoch, double loss, double train_s,
                         nb_metrics *vm, nb_metrics *tm, int *have_test, double *eval_s,
                         nb_train_out *out)
{
    const nb_train_in *in = t->in;
    const nb_config *cfg = t->cfg;
    const nb_dataset *ds = in->ds;
    double e0 = nb_now();
    nb_hits vh; /* per-user ranks, kept for the store when best */
    if (evaluate(t, &ds->valid, &ds->train, NULL, vm, &vh, &out->error) != NB_OK) {
        eval_failed(in, out, epoch);
        return -1;
    }
    if (cfg->eval.test_every_eval) {
        if (evaluate(t, &ds->test, &ds->train, ds->valid.nnz ? &ds->valid : NULL, tm, NULL,
                     &out->error) != NB_OK) {
            eval_failed(in, out, epoch);
            hits_free(&vh);
            return -1;
        }
        *have_test = 1;
    }
    *eval_s = nb_now() - e0;
    double score = vm->value[ls->metric][ls->kidx];
    int improved = score >= ls->best; /* RecBole: ties refresh the best */
    if (improved) {
        ls->best = score;
        ls->since_best = 0;
        out->best_epoch = epoch + 1;
        out->best_valid = *vm;
        hits_free(&out->valid_hits);
        out->valid_hits = vh;
        snapshot_save(t, 0);
    } else {
        /* warm-up guard: a miss after an epoch <= min_epochs, or before
         * min_steps optimizer steps have been taken, is not counted */
        if (epoch + 1 > cfg->eval.min_epochs && ls->step >= cfg->eval.min_steps) ls->since_best++;
        hits_free(&vh);
    }
    if (in->verbose)
        fprintf(stderr, "epoch %4d  loss %.4f  train %.2fs  eval %.2fs  valid %s %.4f%s\n",
                epoch + 1, loss, train_s, *eval_s, cfg->eval.metric, score,
                improved ? (in->color ? "  \033[32m*\033[0m" : "  *") : "");
    return 0;
}

/* One epoch: shuffle, train, evaluate when due, store the epoch row and
 * the histogram when listed. Returns 1 when the loop ends here (failed,
 * interrupted, or out of patience), else 0. */
static int loop_epoch(trainer *t, loop_state *ls, int32_t epoch, nb_train_out *out)
{
    const nb_train_in *in = t->in;
    const nb_config *cfg = t->cfg;
    double t0 = nb_now();
    shuffle_pairs(t, epoch);
    if (t->svt->epoch_begin && loop_epoch_begin(t, epoch, out) != 0) return 1;
    double loss = loop_steps(t, ls, epoch, out);
    if (out->status == NB_RUN_FAILED) return 1;
    if (in->stop && *in->stop) {
        out->status = NB_RUN_INTERRUPTED;
        return 1;
    }
    double train_s = nb_now() - t0;
    loop_profile(t, epoch);
    ls->epoch_secs[epoch] = train_s;
    out->epochs_run = epoch + 1;
    int evaluate_now = out->has_valid && (eval_due(&cfg->eval, epoch + 1) || epoch + 1 == ls->epochs);
    nb_metrics vm, tm;
    int have_test = 0;
    double eval_s = 0.0;
    if (evaluate_now) {
        if (loop_validate(t, ls, epoch, loss, train_s, &vm, &tm, &have_test, &eval_s, out) != 0)
            return 1;
    } else if (in->verbose && !out->has_valid && eval_due(&cfg->eval, epoch + 1)) {
        fprintf(stderr, "epoch %4d  loss %.4f  train %.2fs\n", epoch + 1, loss, train_s);
    }
    if (store_epoch_row(t, epoch + 1, loss, train_s, eval_s, evaluate_now ? &vm : NULL,
                        have_test ? &tm : NULL, &out->error) != NB_OK ||
        (histogram_due(cfg, epoch + 1) &&
         store_score_histogram(t, epoch + 1, &out->error) != NB_OK)) {
        out->status = NB_RUN_FAILED;
        return 1;
    }
    return evaluate_now && ls->since_best > cfg->eval.patience;
}

/* After the loop: the median epoch time, and for a run done, the test
 * evaluation at the best parameters (restored) or the last ones. */
static void loop_finish(trainer *t, loop_state *ls, nb_train_out *out)
{
    const nb_dataset *ds = t->in->ds;
    if (out->epochs_run > 0) {
        qsort(ls->epoch_secs, (size_t)out->epochs_run, sizeof(double), cmp_double);
        out->median_epoch_seconds = ls->epoch_secs[out->epochs_run / 2];
    }
    if (out->status != NB_RUN_DONE) return;
    if (out->has_valid) snapshot_save(t, 1); /* restore the best parameters */
    else out->best_epoch = out->epochs_run;
    if (evaluate(t, &ds->test, &ds->train, ds->valid.nnz ? &ds->valid : NULL, &out->best_test,
                 &out->hits, &out->error) != NB_OK)
        eval_failed(t->in, out, out->epochs_run);
}

int train_run(const nb_train_in *in, nb_train_out *out, char **err)
{
    trainer t;
    loop_state ls;
    memset(&t, 0, sizeof t);
    memset(&ls, 0, sizeof ls);
    memset(out, 0, sizeof *out);
    const nb_config *cfg = in->cfg;
    const char *prof = getenv("NB_PROFILE");
    t.profile = prof && *prof && strcmp(prof, "0");
    int rc = trainer_setup(&t, in, err);
    if (rc != NB_OK) goto out;
    const char *od = getenv("NB_ON_DEMAND");
    t.on_demand = (t.sflags & ON_DEMAND) == ON_DEMAND && !host_syncs(&t) &&
                  !(od && !strcmp(od, "0"));
    /* the stack on demand: a sampler that syncs every row it reads, stack
     * rows included (its promise from ABI 1.6), and reads the stack */
    t.layers_on_demand = (t.sflags & (NB_SAMPLER_SYNCS_ROWS | NB_SAMPLER_FINAL_ONLY)) ==
                             NB_SAMPLER_SYNCS_ROWS &&
                         in->sampler->abi_minor >= 6 && !host_syncs(&t) &&
                         !(od && !strcmp(od, "0"));
    if (t.profile)
        fprintf(stderr, "profile: on demand: %s\n",
                t.on_demand ? "final rows" : t.layers_on_demand ? "stack rows" : "none");
    if ((rc = loop_metric(cfg, &ls, err)) != NB_OK) goto out;
    out->has_valid = in->ds->valid.nnz > 0;
    ls.best = -INFINITY;
    ls.epochs = cfg->train.epochs;
    ls.epoch_secs = nb_xcalloc((size_t)ls.epochs, sizeof(double));
    ls.n = t.train.n_pairs;
    if (cfg->train.drop_last) ls.n -= ls.n % t.max_batch; /* whole batches only */
    if (histogram_due(cfg, 0) && store_score_histogram(&t, 0, &out->error) != NB_OK) {
        out->status = NB_RUN_FAILED;
        ls.epochs = 0;
    }
    for (int32_t epoch = 0; epoch < ls.epochs; epoch++)
        if (loop_epoch(&t, &ls, epoch, out)) break;
    loop_finish(&t, &ls, out);
    free(ls.epoch_secs);
out:
    trainer_free(&t);
    return rc;
}

void train_out_free(nb_train_out *out)
{
    free(out->error);
    hits_free(&out->hits);
    hits_free(&out->valid_hits);
    memset(out, 0, sizeof *out);
}
