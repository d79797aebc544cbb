/*
 * config.h - experiment files: YAML (libyaml) into a tree with positions,
 * then into a validated nb_config.
 *
 * Every diagnostic is one line "file:line:col: message" (1-based, from
 * libyaml's marks); all errors of a file are collected, not just the first.
 * Unknown keys are errors with the nearest valid key suggested.
 *
 * The file format (version 1) is documented in docs/configuration.md.
 */
#ifndef NB_CONFIG_H
#define NB_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include "negbench/plugin.h"
#include "dataset.h"
#include "eval.h"

/* ---- generic YAML tree ---------------------------------------------- */
enum nb_node_kind { NB_NODE_SCALAR = 1, NB_NODE_SEQ, NB_NODE_MAP };

typedef struct nb_node nb_node;
struct nb_node {
    int kind;
    int line, col;          /* 1-based position of the node */
    char *text;             /* SCALAR: the text */
    int quoted;             /* SCALAR: was quoted (never a number/bool) */
    int n;                  /* SEQ: items; MAP: pairs */
    nb_node **items;        /* SEQ items, or MAP values */
    char **keys;            /* MAP keys */
    int *key_line, *key_col;/* MAP key positions */
    /* Grids (core/grid.c) merge trees of several files: the file of a node
     * and of each map key, NULL meaning the experiment file itself. The
     * strings are not owned by the tree; key_file (may be NULL) is. */
    const char *file;
    const char **key_file;
};

/* The file of key i of a MAP node (NULL: the experiment file). */
static inline const char *node_key_file(const nb_node *m, int i)
{
    return m->key_file && m->key_file[i] ? m->key_file[i] : m->file;
}

/* Parse a YAML document; on a syntax error, *err is "file:line:col: ...". */
int node_parse(const char *path, const char *text, nb_node **root, char **err);
void node_free(nb_node *n);
/* The value of key in a MAP node, or NULL. */
const nb_node *node_get(const nb_node *map, const char *key);
/* Read a YAML file for node_parse into *text (caller frees): a regular file
 * of at most 4 MiB without NUL bytes ("file:line:col: a NUL byte ...").
 * 0, or NB_EINVAL with *err. */
int node_read_file(const char *path, char **text, char **err);

/* ---- diagnostics ------------------------------------------------------ */
typedef struct nb_diags {
    int n, cap;
    char **msg;             /* "file:line:col: message" each */
    /* diags_add_unique's index of msg[0..n_indexed) (open addressing) */
    int *slot, n_slots, n_indexed;
} nb_diags;

/* At most this many diagnostics are printed, then a count of the rest. */
#define NB_DIAGS_MAX_PRINT 20

void diags_add(nb_diags *d, const char *file, int line, int col,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Print the first NB_DIAGS_MAX_PRINT messages, one per line, and then
 * "negbench: ... and N more problems" when there are more. */
void diags_print(const nb_diags *d, FILE *out);
void diags_free(nb_diags *d);
/* Append to dst each message of src not already in dst (points of a grid
 * repeat the same problem; it is reported once). Hashed: O(|src|). */
void diags_add_unique(nb_diags *dst, const nb_diags *src);

/* Every map of the tree n: a key given twice is a diagnostic at the second
 * ("duplicate key ... (first given at line L)"), in O(n log n) per map.
 * file names keys whose node has no file of its own. */
void node_check_duplicates(const nb_node *n, const char *file, nb_diags *d);

/* ---- the experiment --------------------------------------------------- */
enum nb_reg_form { NB_REG_NORM = 0,     /* (|U_b|_F + |P_b|_F + |N_b|_F) / B (RecBole EmbLoss default) */
                   NB_REG_SQUARED = 1 };/* (|U_b|^2 + |P_b|^2 + |N_b|^2) / (2B) */
enum nb_adam_mode { NB_ADAM_DENSE = 0, NB_ADAM_LAZY = 1 };
/* Dense Adam on embedding tables whose readers sync rows: defer each idle
 * row's update until it is read where that pays (auto), always, or never.
 * Deferred and per-step updates agree up to float rounding. */
enum nb_adam_defer { NB_DEFER_AUTO = 0, NB_DEFER_ON = 1, NB_DEFER_OFF = 2 };
enum nb_batch_mode { NB_BATCH_POSITIVES = 0, /* batch_size positives per step */
                     NB_BATCH_RECBOLE = 1 }; /* batch_size / M positives per step */

typedef struct nb_train_opts {
    int32_t epochs;          /* 300 */
    int32_t batch_size;      /* 2048 */
    int batch_mode;          /* enum nb_batch_mode */
    double lr;               /* 1e-3 */
    double beta1, beta2, adam_eps; /* 0.9, 0.999, 1e-8 */
    int adam_mode;           /* enum nb_adam_mode */
    int adam_defer;          /* enum nb_adam_defer (auto) */
    double reg_weight;       /* 1e-4 */
    int reg_form;            /* enum nb_reg_form */
    uint64_t seed;           /* 2020 */
    int threads;             /* 0: all cores */
    int drop_last;           /* drop each epoch's last partial batch (0) */
} nb_train_opts;

typedef struct nb_eval_cfg {
    int32_t every;           /* evaluate every N epochs (1) ... */
    int32_t first;           /* ... from this epoch on: first, first + every, ... (every) */
    nb_eval_opts opts;       /* ks (default 10 15 20), report_k (20) */
    char *metric;            /* early-stopping metric on validation, "recall@20" */
    int32_t patience;        /* stop when more than this many evaluations in a row miss (10) */
    int32_t min_epochs;      /* misses after epochs <= this do not count toward patience (0) */
    int test_every_eval;     /* also compute test metrics at each evaluation (0) */
    /* Score histograms of a seeded sample of unobserved (user, item) pairs
     * (paper Fig. 1a-c) after the listed epochs (0 = before training). */
    int n_hist_epochs;
    int32_t hist_epochs[32];
    int32_t hist_pairs;      /* sampled pairs (100000) */
    int32_t hist_bins;       /* bins between the sample's min and max (50) */
} nb_eval_cfg;

typedef struct nb_config {
    char *path;              /* the YAML file */
    char *text;              /* its contents */
    nb_node *root;
    char *name;              /* experiment name (default: file stem) */
    nb_data_spec data;       /* paths resolved relative to the file */
    char *model;             /* plugin name */
    int32_t dim;             /* model.dim (64) */
    const nb_node *model_params;   /* the model: map (name/dim are host keys) */
    char *sampler;
    const nb_node *sampler_params; /* the sampler: map */
    nb_train_opts train;
    nb_eval_cfg eval;
} nb_config;

/* Load and validate the host part of an experiment file. Plugin parameters
 * are checked later against the plugin schemas (config_plugin_values).
 * Returns 0, or NB_EINVAL with every problem in diags. */
int config_load(const char *path, nb_config *cfg, nb_diags *diags);
void config_free(nb_config *cfg);

/* config_load for a tree built in memory (a grid point, core/grid.c): cfg
 * takes root (freed by config_free, or at once on failure) and copies text;
 * path is the grid file, for messages and the default name. */
int config_load_tree(const char *path, const char *text, nb_node *root, nb_config *cfg,
                     nb_diags *diags);

/* Resolve a plugin's parameters from its YAML map against its schema:
 * defaults filled in, unknown keys, wrong types and out-of-range values
 * reported into diags with positions. host_keys lists keys of the map that
 * belong to the host (e.g. "name", "dim") and are skipped. values has
 * n_values slots, which must be one per schema entry (else an error is
 * diagnosed and values is not written). */
int config_plugin_values(const nb_config *cfg, const nb_node *map,
                         const char *plugin_name, const nb_param_spec *schema,
                         const char *const *host_keys, nb_value *values, int n_values,
                         nb_diags *diags);

/* Canonical JSON of the resolved run: host options, data spec (paths and the
 * data checksum) and every plugin parameter (defaults included), keys sorted.
 * Caller frees. */
char *config_to_json(const nb_config *cfg, const char *data_checksum,
                     const nb_param_spec *model_schema, const nb_value *model_values,
                     int n_model_values, const nb_param_spec *sampler_schema,
                     const nb_value *sampler_values, int n_sampler_values);

#endif /* NB_CONFIG_H */
