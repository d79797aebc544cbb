/*
 * negbench/plugin.h - the plugin ABI, version 1.
 *
 * This is the only header a model or sampler plugin includes. Plugins never
 * see core internals and link against nothing of the host's: everything they
 * need from the host arrives in the nb_host table handed to init().
 *
 * A plugin shared object exports exactly one symbol, nb_plugin_descriptor(),
 * that returns descriptors by index (0, 1, 2, ... until NULL), so one .so may
 * hold several plugins (LADSPA style). Each descriptor starts with the ABI
 * major/minor it was built against and its own struct size; the host accepts
 * a plugin when major == NB_ABI_MAJOR and minor <= NB_ABI_MINOR (GStreamer
 * rule), and reads fields appended later only when struct_size covers them.
 * Never reorder or remove fields: append and bump NB_ABI_MINOR, or bump the
 * major.
 *
 * The training-step contract (docs/design.md), per batch of B positives (u, p):
 *
 *   model.forward(TRAIN)   -> nb_view: final rows U*, I*, and the per-layer
 *                             stack for graph models
 *   sampler.negatives      -> for each positive a negative VECTOR (a row of
 *                             I* or a synthetic vector), the id of the item it
 *                             came from, the rows to regularise, and the
 *                             sampler's own auxiliary loss
 *   host                   -> BPR on (u*, p*, n~) and the regulariser
 *   sampler.backward       <- dL/dn~ routed into the nb_grads of the view
 *                             (and into its own parameter blocks)
 *   model.backward         <- nb_grads to its parameter blocks
 *   host optimizer step    Adam over every registered nb_block
 *
 * Shapes in comments use: U = n_users, I = n_items, d = dim, B = positives in
 * the batch, M = candidates per positive, L = graph layers (0 for MF).
 * Every matrix is row-major float32.
 */
#ifndef NEGBENCH_PLUGIN_H
#define NEGBENCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_ABI_MAJOR 1 /* bump on any incompatible change */
#define NB_ABI_MINOR 6 /* bump when fields are appended */

/* Status codes returned by every callback: 0 is success. */
enum nb_status {
    NB_OK = 0,
    NB_ERR = -1,       /* generic failure; the message says why */
    NB_ENOMEM = -2,    /* allocation failed */
    NB_EINVAL = -3,    /* invalid argument or configuration */
    NB_ENUMERIC = -4   /* NaN or Inf met where a finite value is required */
};

enum nb_kind { NB_KIND_MODEL = 1, NB_KIND_SAMPLER = 2 };

/* ------------------------------------------------------------------------
 * Parameter schema: declared in the descriptor, validated by the host before
 * init() is called (unknown key, wrong type, out of range are errors that name
 * the YAML file, line and column).
 * ---------------------------------------------------------------------- */
enum nb_param_type {
    NB_PARAM_INT = 1,    /* integer in [min, max] */
    NB_PARAM_FLOAT = 2,  /* real in [min, max] */
    NB_PARAM_BOOL = 3,   /* true / false */
    NB_PARAM_CHOICE = 4  /* one of the '|'-separated words in choices */
};

/* NB_PARAM_ADDED (ABI 1.5), OR'ed into nb_param_spec.type: a parameter
 * appended to a released plugin's schema. While it has its default value
 * it is left out of the run's identity (the canonical JSON), so runs stored
 * before it existed keep their identities and are still found done. */
#define NB_PARAM_ADDED 0x100

typedef struct nb_param_spec {
    const char *name;       /* YAML key, [A-Za-z0-9_]+ */
    int type;               /* enum nb_param_type, optionally | NB_PARAM_ADDED */
    const char *def;        /* default value as YAML text ("32", "0.1", "true", "sum") */
    double min, max;        /* inclusive range for INT and FLOAT */
    const char *choices;    /* NB_PARAM_CHOICE: "sum|mean|concat"; else NULL */
    const char *help;       /* one line for `negbench plugins` */
} nb_param_spec;

/* The parameter's enum nb_param_type, without NB_PARAM_ADDED. */
static inline int nb_param_type(const nb_param_spec *p)
{
    return p->type & 0xff;
}

/* A resolved parameter value; values[i] belongs to params[i] of the schema. */
typedef union nb_value {
    int64_t i;              /* INT, BOOL (0/1), CHOICE (index into choices) */
    double f;               /* FLOAT */
} nb_value;

/* NB_ISA_CLONES before a hot function of a plugin: GCC also compiles it
 * (and the OpenMP regions inside it) for x86-64-v3 (AVX2, FMA) and v4
 * (AVX-512) and picks the copy at load time, where the baseline build would
 * run 4-float SSE vectors. Floating-point results of the copies may differ
 * in the last bits between CPUs (fused multiply-adds), as OpenBLAS's do; on
 * one machine they do not change between runs or with the thread count.
 * Empty where GCC's target_clones is unavailable. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define NB_ISA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NB_ISA_CLONES
#endif

/* ------------------------------------------------------------------------
 * Random numbers: xoshiro256** (Blackman and Vigna, 2018) seeded through
 * splitmix64. Inline so that the per-sample paths of plugins stay cheap. The
 * host gives each positive of each epoch its own stream derived from (seed,
 * epoch, position), so results do not depend on thread scheduling.
 * ---------------------------------------------------------------------- */
typedef struct nb_rng { uint64_t s[4]; } nb_rng;

static inline uint64_t nb_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Seed a stream from up to three 64-bit keys (seed, epoch, position). */
static inline void nb_rng_seed(nb_rng *r, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = a ^ nb_splitmix64(&b) ^ (nb_splitmix64(&c) << 1);
    for (int k = 0; k < 4; k++) r->s[k] = nb_splitmix64(&x);
}

static inline uint64_t nb_rng_u64(nb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t t = s[1] << 17;
    uint64_t out = s[1] * 5;
    out = ((out << 7) | (out >> 57)) * 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = (s[3] << 45) | (s[3] >> 19);
    return out;
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < n/2^64). */
static inline uint32_t nb_rng_below(nb_rng *r, uint32_t n)
{
    return (uint32_t)(((unsigned __int128)nb_rng_u64(r) * n) >> 64);
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double nb_rng_uniform(nb_rng *r)
{
    return (double)(nb_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------------
 * Training data as plugins see it: 0-based ids, duplicates collapsed.
 * The host owns every array; they stay valid until the plugin is freed.
 * ---------------------------------------------------------------------- */
typedef struct nb_train {
    int32_t n_users, n_items;
    int64_t n_pairs;               /* distinct training (user, item) pairs */
    const int64_t *user_ptr;       /* [U+1] CSR offsets into user_items */
    const int32_t *user_items;     /* [n_pairs] items of each user, ascending */
    const int64_t *item_ptr;       /* [I+1] CSC offsets into item_users */
    const int32_t *item_users;     /* [n_pairs] users of each item, ascending */
} nb_train;

/* 1 when (u, i) is a training positive: binary search in u's sorted items,
 * without branches (each step a conditional move: the candidate samplers
 * test uniform items, whose comparisons a branch predictor cannot learn). */
static inline int nb_train_has(const nb_train *t, int32_t u, int32_t i)
{
    const int32_t *a = t->user_items + t->user_ptr[u];
    int64_t n = t->user_ptr[u + 1] - t->user_ptr[u];
    if (n <= 0) return 0;
    while (n > 1) { /* invariant: a[0] <= i unless i precedes every item */
        const int64_t half = n >> 1;
        a = a[half] <= i ? a + half : a;
        n -= half;
    }
    return *a == i;
}

/* Counters every candidate draw feeds: the positive-rejection rate. */
typedef struct nb_draw_stats { uint64_t drawn, rejected; } nb_draw_stats;

/* One uniform candidate for user u, redrawn while it is a training positive
 * (RecBole's sampler). Returns -1 only if u has every item as a positive. */
static inline int32_t nb_draw_uniform(nb_rng *r, const nb_train *t, int32_t u,
                                      nb_draw_stats *st)
{
    if (t->user_ptr[u + 1] - t->user_ptr[u] >= t->n_items) return -1;
    for (;;) {
        int32_t i = (int32_t)nb_rng_below(r, (uint32_t)t->n_items);
        st->drawn++;
        if (!nb_train_has(t, u, i)) return i;
        st->rejected++;
    }
}

/* ------------------------------------------------------------------------
 * Parameter blocks: flat float arrays a plugin registers with the host, so
 * one optimizer, one checkpoint format and one gradient checker serve every
 * plugin (llm.c). A ROWS block is a table whose gradient is row-sparse: only
 * the rows listed in touched[] may be nonzero, and writers mark them with
 * nb_block_grad_row(). A DENSE block's gradient may be nonzero anywhere.
 * The host zeroes gradients after each optimizer step.
 * ---------------------------------------------------------------------- */
enum nb_block_flags { NB_BLOCK_DENSE = 0, NB_BLOCK_ROWS = 1 };

typedef struct nb_block {
    const char *name;     /* "user_emb", "W_u", ... (unique within the plugin) */
    float *value;         /* [rows][cols], owned by the plugin */
    float *grad;          /* [rows][cols], owned by the plugin, zero at start */
    int64_t rows, cols;
    uint32_t flags;       /* enum nb_block_flags */
    /* ROWS blocks only; the arrays are owned by the plugin, sized [rows]: */
    int32_t *touched;     /* rows written since the last zeroing */
    int64_t n_touched;
    uint8_t *mark;        /* mark[r] = 1 when r is in touched[] */
} nb_block;

/* The gradient row r of a block, marking it touched. Not thread-safe: call it
 * from one thread, or mark rows first and write from several. */
static inline float *nb_block_grad_row(nb_block *b, int64_t r)
{
    if ((b->flags & NB_BLOCK_ROWS) && !b->mark[r]) {
        b->mark[r] = 1;
        b->touched[b->n_touched++] = (int32_t)r;
    }
    return b->grad + r * b->cols;
}

/* ------------------------------------------------------------------------
 * The model's view after forward, and the gradients the host and samplers
 * accumulate into before model.backward.
 * ---------------------------------------------------------------------- */
typedef struct nb_view {
    int32_t n_users, n_items, dim;
    int32_t n_layers;          /* L; 0 for MF */
    const float *user;         /* [U][d] final user rows: score = user . item */
    const float *item;         /* [I][d] final item rows */
    const float *user_layers;  /* [U][L+1][d] per-layer stack (MF: == user) */
    const float *item_layers;  /* [I][L+1][d] per-layer stack (MF: == item) */
    const float *user_ego;     /* [U][d] layer-0 rows the regulariser reads */
    const float *item_ego;     /* [I][d] */
    double aux_loss;           /* the model's own loss term (SGL), weighted */
    /* When non-NULL, rows of user/item may not be current: they lag behind
     * the optimizer (dense Adam applied lazily, optim.h; set by the host),
     * or they are computed on demand (set by the model's forward in a batch
     * with rows_on_demand or layers_on_demand). A sampler whose vtable
     * declares NB_SAMPLER_SYNCS_ROWS calls nb_view_sync() before reading a
     * row other than the batch's own users and positives (those the host
     * syncs); from ABI 1.6 that covers the rows of user_layers and
     * item_layers too (a sync makes the row's final and per-layer rows
     * current). Thread-safe. */
    void (*sync)(void *ctx, int which, int32_t row);
    void *sync_ctx;
} nb_view;

enum nb_view_table { NB_USERS = 0, NB_ITEMS = 1 };

/* Make row `row` of table `which` (NB_USERS or NB_ITEMS) current. */
static inline void nb_view_sync(const nb_view *v, int which, int32_t row)
{
    if (v->sync) v->sync(v->sync_ctx, which, row);
}

typedef struct nb_grads {
    nb_block *user;            /* dL/d user rows of the view, [U][d] */
    nb_block *item;            /* dL/d item rows of the view, [I][d] */
    nb_block *user_layers;     /* [U][(L+1)*d] or NULL if the model has none */
    nb_block *item_layers;     /* [I][(L+1)*d] or NULL */
    nb_block *user_ego;        /* dL/d layer-0 rows (regulariser) */
    nb_block *item_ego;
} nb_grads;

/* A batch of positives in training order. */
typedef struct nb_batch {
    int32_t size;              /* B */
    const int32_t *users;      /* [B] */
    const int32_t *pos;        /* [B] */
    int32_t epoch;             /* 0-based */
    int64_t step;              /* global optimizer step, 0-based */
    int64_t first;             /* index of users[0] in the epoch's order */
    uint64_t seed;             /* run seed; streams: nb_rng_seed(seed, epoch, first + b) */
    /* ABI 1.2: 1 when nothing in this step reads the per-layer stack or
     * writes its gradient (the sampler declared NB_SAMPLER_FINAL_ONLY): a
     * graph model may then skip filling it and set view->user_layers and
     * item_layers to NULL for the step. */
    int32_t final_only;
    /* ABI 1.3: 1 when every reader of the view's final rows in this step
     * syncs them first and they are few: the host syncs the batch's users
     * and positives, and the sampler declared NB_SAMPLER_SYNCS_ROWS,
     * NB_SAMPLER_FINAL_ONLY and NB_SAMPLER_FEW_ROWS. A model may then leave
     * final rows unfilled in forward and set view->sync to fill a row when
     * it is asked for (the host keeps the model's sync; it sets this only
     * when it has none of its own). */
    int32_t rows_on_demand;
    /* ABI 1.5: the version of the parameter values this forward reads. The
     * host changes it whenever it writes any parameter block: each
     * optimizer step, and every write outside a step (restoring the best
     * epoch's parameters, resuming, loading). A model may reuse state it
     * derived from its parameters (an evaluation's propagation) only for a
     * forward that carries the same version; derived state can then never
     * outlive the parameters it was computed from. The host passes it in
     * TRAIN batches and, to plugins built with abi_minor >= 5, in EVAL
     * forwards as a batch of size 0 (users and pos NULL). An EVAL forward
     * given batch NULL (older hosts, tests) must recompute everything. */
    uint64_t params_version;
    /* ABI 1.6: 1 when every reader of the view in this step syncs a row
     * before reading it, final or per-layer, other than the batch's own
     * users and positives: the sampler declared NB_SAMPLER_SYNCS_ROWS and
     * not NB_SAMPLER_FINAL_ONLY, and was built for ABI >= 1.6 (where that
     * promise covers the per-layer stack). A graph model may then leave rows
     * of the stack and the final rows unfilled in forward and fill a row's
     * stack and final row when it is synced (view->sync), as for
     * rows_on_demand. */
    int32_t layers_on_demand;
} nb_batch;

/* State a plugin derives from parameters (a propagation, a score table),
 * tagged with the params_version it was computed at (ABI 1.5). Zeroed, it
 * holds nothing. */
typedef struct nb_cache { int valid; uint64_t version; } nb_cache;

/* 1 when the state tagged by c was computed from the parameters `batch`
 * reads; never for batch NULL (no version: recompute). */
static inline int nb_cache_valid(const nb_cache *c, const nb_batch *batch)
{
    return batch && c->valid && c->version == batch->params_version;
}

/* Tag the state as computed from the parameters `batch` reads (batch NULL:
 * untagged, never valid). */
static inline void nb_cache_record(nb_cache *c, const nb_batch *batch)
{
    c->valid = batch != NULL;
    c->version = batch ? batch->params_version : 0;
}

/* Forget the state (it no longer matches any version). */
static inline void nb_cache_clear(nb_cache *c)
{
    c->valid = 0;
}

/* What sampler.negatives fills; the host sizes every array for the largest
 * batch and the sampler's declared max_reg_rows. */
typedef struct nb_negatives {
    float *vec;                /* [B][d] the negative vector n~ in final space */
    int32_t *item;             /* [B] the base item it came from (statistics) */
    int32_t reg_rows;          /* R: ego item rows per positive to regularise */
    int32_t *reg_items;        /* [B][R] item ids for the regulariser's N term */
    int use_reg_vec;           /* 1: regularise reg_vec instead of reg_items */
    float *reg_vec;            /* [B][d] synthetic vectors for the N term
                                  (MixGCF's mixed layer-0 negative) */
    double aux_loss;           /* the sampler's own loss, already weighted */
} nb_negatives;

/* One named statistic a sampler reports for the epoch just finished. */
typedef struct nb_stat { const char *name; double value; } nb_stat;

/* ------------------------------------------------------------------------
 * Host function table, handed to init (SQLite and Redis extension style).
 * Append-only: struct_size tells a plugin which fields exist.
 * ---------------------------------------------------------------------- */
enum nb_log_level { NB_LOG_DEBUG = 0, NB_LOG_INFO = 1, NB_LOG_WARN = 2 };

typedef struct nb_host {
    uint32_t struct_size;
    /* Log one line, printf style. */
    void (*log)(int level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    /* A heap string for *err out-parameters; the host frees it. */
    char *(*mprintf)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
    /* Zeroed, 64-byte aligned memory; NULL on failure. Free with host->free. */
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    /* C[m][n] = alpha * A[m][k] . op(B) + beta * C, row-major. op(B) = B^T
     * (B is [n][k]) when trans_b, else B ([k][n]). BLAS when available. */
    void (*sgemm)(int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, const float *b, float beta, float *c);
    /* Threads the run may use (the plugin may size scratch per thread). */
    int threads;
    /* ABI 1.1: C = alpha * op(A) . op(B) + beta * C, row-major with leading
     * dimensions (row strides): op(A) is m x k (A stored [k][lda] when
     * trans_a, else [m][lda]), op(B) is k x n (B stored [n][ldb] when
     * trans_b, else [k][ldb]), C is [m][ldc]. beta == 0 does not read C.
     * Present when struct_size covers it. */
    void (*sgemm_ex)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc);
} nb_host;

/* ------------------------------------------------------------------------
 * Callback tables. Required callbacks must be non-NULL (the loader refuses a
 * descriptor otherwise); optional ones may be NULL.
 * ---------------------------------------------------------------------- */
enum nb_mode { NB_MODE_TRAIN = 0, NB_MODE_EVAL = 1 };

typedef struct nb_model_vt {
    /* Required. Allocate state for the training data; dim from the host
     * (the YAML's model.dim). seed drives the initialisation. */
    int (*init)(const nb_host *h, const nb_value *values, const nb_train *train,
                int32_t dim, uint64_t seed, void **state, char **err);
    /* Required. Parameter blocks; *blocks points into the state. */
    int (*blocks)(void *state, nb_block **blocks, int *n_blocks);
    /* Required. Compute the view for training or evaluation. batch is the
     * step's batch in TRAIN mode; in EVAL mode it is NULL or (ABI 1.5) a
     * batch of size 0 that carries only params_version (see nb_batch). */
    int (*forward)(void *state, int mode, const nb_batch *batch,
                   const nb_view **view, char **err);
    /* Required. The gradient blocks the host and samplers write into, valid
     * after forward; for MF they are the parameter gradients themselves. */
    int (*grads)(void *state, nb_grads *grads);
    /* Required. Turn nb_grads into parameter gradients (MF: nothing to do)
     * and add the gradient of view->aux_loss. */
    int (*backward)(void *state, const nb_batch *batch, char **err);
    /* Required. */
    void (*free)(void *state);
} nb_model_vt;

typedef struct nb_sampler_vt {
    /* Required. max_batch bounds B; dim is the view's d. */
    int (*init)(const nb_host *h, const nb_value *values, const nb_train *train,
                int32_t dim, int32_t max_batch, uint64_t seed, void **state,
                char **err);
    /* Required. R, the regulariser rows per positive this sampler fills
     * (1: the chosen item; M for ANS; 0 if it regularises on its own). */
    int32_t (*reg_rows)(void *state);
    /* Optional. The sampler's own parameter blocks (ANS/DENS gates). */
    int (*blocks)(void *state, nb_block **blocks, int *n_blocks);
    /* Optional. Called before the first batch of every epoch. */
    int (*epoch_begin)(void *state, int32_t epoch, const nb_view *view);
    /* Required. Fill out for the batch. Hot path: must not allocate. */
    int (*negatives)(void *state, const nb_batch *batch, const nb_view *view,
                     nb_negatives *out, char **err);
    /* Required. d_neg [B][d] is dL/dn~; route it (and the gradient of the
     * sampler's aux loss) into g and into the sampler's blocks. d_reg [B][d]
     * is dL/d reg_vec when the sampler set use_reg_vec, else NULL. */
    int (*backward)(void *state, const nb_batch *batch, const nb_view *view,
                    const float *d_neg, const float *d_reg, nb_grads *g,
                    char **err);
    /* Optional. Statistics of the epoch just trained; resets the counters.
     * *stats points into the state and stays valid until the next call. */
    int (*epoch_stats)(void *state, const nb_stat **stats, int *n_stats);
    /* Required. */
    void (*free)(void *state);
    /* enum nb_sampler_flags. Without NB_SAMPLER_SYNCS_ROWS the host keeps
     * every row current after each step (plain dense Adam). */
    uint32_t flags;
    /* Optional (ABI 1.4; read only from plugins built with abi_minor >= 4).
     * The item rows of the view negatives reads per positive besides the
     * positive, drawn about uniformly: 1 for RNS and PNS, M for the
     * candidate samplers. With NB_SAMPLER_SYNCS_ROWS the host uses it to
     * decide whether deferring the dense Adam update of idle item rows
     * pays (train.adam_defer: auto); NULL: 1 with NB_SAMPLER_FEW_ROWS, else
     * the host defers. */
    int32_t (*rows_per_positive)(void *state);
} nb_sampler_vt;

/* NB_SAMPLER_FINAL_ONLY (ABI 1.2): negatives, backward and epoch_begin
 * read only the view's final and ego rows and write no per-layer gradient,
 * so the host lets a graph model skip the layer stack in training steps.
 * NB_SAMPLER_FEW_ROWS (ABI 1.3): beyond the batch's users and positives,
 * negatives reads a few final rows per positive (RNS, PNS: one), not a
 * candidate pool; with NB_SAMPLER_SYNCS_ROWS the host then lets a graph
 * model compute final rows on demand (nb_batch.rows_on_demand). */
enum nb_sampler_flags {
    NB_SAMPLER_SYNCS_ROWS = 1,
    NB_SAMPLER_FINAL_ONLY = 2,
    NB_SAMPLER_FEW_ROWS = 4,
};

/* ------------------------------------------------------------------------
 * The descriptor.
 * ---------------------------------------------------------------------- */
typedef struct nb_plugin_desc {
    uint32_t abi_major, abi_minor;  /* NB_ABI_* at build time */
    uint32_t struct_size;           /* sizeof(nb_plugin_desc) at build time */
    uint32_t kind;                  /* enum nb_kind */
    const char *name;               /* stable YAML id, [a-z0-9_]+ */
    const char *version;            /* plugin version, "1.0.0" */
    const char *description;        /* one line */
    const nb_param_spec *params;    /* schema, terminated by {NULL} */
    const void *vtable;             /* nb_model_vt or nb_sampler_vt */
} nb_plugin_desc;

typedef const nb_plugin_desc *(*nb_descriptor_fn)(uint32_t index);

/* The one exported symbol of every plugin. */
#define NB_DESCRIPTOR_SYMBOL "nb_plugin_descriptor"

#define NB_PLUGIN_DESC_INIT(kind_, name_, version_, descr_, params_, vt_) \
    { NB_ABI_MAJOR, NB_ABI_MINOR, (uint32_t)sizeof(nb_plugin_desc), (kind_), \
      (name_), (version_), (descr_), (params_), (vt_) }

/* NB_PLUGIN_EXPORT(&desc_a, &desc_b, ...): define the one exported symbol,
 * nb_plugin_descriptor(), returning the listed descriptors by index and then
 * NULL. Once per shared object, at file scope; C linkage and default
 * visibility, so C++ and -fvisibility=hidden builds export it too. */
#ifdef __cplusplus
#define NB_EXPORT_LINKAGE_ extern "C"
#else
#define NB_EXPORT_LINKAGE_
#endif
#define NB_PLUGIN_EXPORT(...)                                                          \
    NB_EXPORT_LINKAGE_ __attribute__((visibility("default")))                          \
    const nb_plugin_desc *nb_plugin_descriptor(uint32_t index);                        \
    NB_EXPORT_LINKAGE_ __attribute__((visibility("default")))                          \
    const nb_plugin_desc *nb_plugin_descriptor(uint32_t index)                         \
    {                                                                                  \
        static const nb_plugin_desc *const nb_exported_[] = { __VA_ARGS__ };           \
        return index < sizeof nb_exported_ / sizeof nb_exported_[0] ? nb_exported_[index] \
                                                                     : NULL;           \
    }

#ifdef __cplusplus
}
#endif
#endif /* NEGBENCH_PLUGIN_H */
