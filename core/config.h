/*
 * config.h - experiment files: a YAML tree (yaml_tree.h) into a validated
 * nb_config, plugin parameters against their schemas, and the canonical JSON
 * that identifies a run (config_json.c).
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
#include "diags.h"
#include "yaml_tree.h"

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
    int64_t min_steps;       /* misses before this many optimizer steps do not count (0) */
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
