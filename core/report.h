/*
 * report.h - negbench report: tables from one or more results stores.
 *
 * report_load reads the runs of the stores (a run found in several stores
 * counts once, by config hash), keeps those that match the filters and
 * labels each with its row and column group (values of resolved-config
 * paths); the points the stores' sweeps planned but never started (table
 * sweep_plan) are kept as missing, labelled the same way. report_build turns them into a table of cells (mean and sample
 * sd over seeds, best and second marks, significance against a reference
 * row); report_print writes it as Markdown, LaTeX or CSV. report_per prints
 * the PER matrix (Fig. 2) and caches its counts in the stores.
 */
#ifndef NB_REPORT_H
#define NB_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "eval.h"
#include "stats.h"
#include "store.h"

#define RP_MAX_WHERE 32

typedef struct rp_opts {
    const char *table;          /* main, per, overlap, ablation, efficiency, sensitivity */
    const char *format;         /* md, latex, csv */
    const char *rows, *cols;    /* config paths; cols may list several, comma-separated */
    const char *where[RP_MAX_WHERE]; /* "path=value" */
    int n_where;
    const char *experiment;     /* experiment name filter, or NULL */
    const char *metrics;        /* comma-separated metric names */
    int32_t ks[NB_MAX_KS];      /* cut-offs to print; n_ks 0: every K stored */
    int n_ks;
    const char *gain;           /* row label whose gain over the best other to print */
    const char *ref;            /* reference row of the significance tests */
    const char *test;           /* per-user test of the marks: wilcoxon or ttest */
    double alpha;               /* level of the marks (Holm-adjusted) */
    const char *stat;           /* sampler statistic of the overlap table */
    const char *per_denom;      /* "y" (|H_y|) or "x" (|H_x|) */
    const char *per_seeds;      /* "same" (NULL: runs of one seed paired) or "cross"
                                 * (every pair of different seeds: PER(x, x) is then
                                 * the seed-to-seed floor) */
    const char *plan_path;      /* --plan GRID.yaml: where plan_points come from */
    const char *plan_experiment;/* the grid's experiment name */
    const nb_plan_point *plan_points; /* the grid's distinct runs (not owned) */
    int n_plan_points;
} rp_opts;

typedef struct rp_run {
    int store;                  /* index of its store */
    int64_t id;                 /* run id in that store */
    char *hash, *json, *status, *error, *experiment;
    int64_t seed;
    int32_t best_epoch, epochs_run, report_k;
    double peak_rss_mb;         /* NAN when unknown */
    double sec_epoch, total_sec;/* mean training s/epoch, all train + eval seconds */
    double stat_mean;           /* mean over epochs of opts.stat, NAN if none */
    char *row, *col;            /* labels */
    int n_fm;                   /* final test metrics */
    struct { int metric; int32_t k; double value; } fm[NB_N_METRICS * NB_MAX_KS];
    nb_hits ranks;              /* test per-user ranks, loaded on demand */
    int ranks_state;            /* 0 not loaded, 1 loaded, -1 absent */
    double *uv;                 /* per-user values of (uv_metric, uv_k), cached */
    int uv_metric;
    int32_t uv_k;
} rp_run;

/* A planned point of a sweep (table sweep_plan) that matches the filters
 * and has no run in any of the stores: never started. */
typedef struct rp_missing {
    const char *source;         /* the store (the first) or grid file that planned it */
    char *hash, *label, *experiment;
    char *row, *col;            /* labels, as a run's */
    char *seed;                 /* train.seed of its configuration, as text */
} rp_missing;

typedef struct rp_set {
    char **paths;
    nb_store **stores;
    int n_stores;
    rp_run *runs;               /* matching runs, done or not */
    int n_runs;
    rp_missing *missing;        /* matching planned points without a run */
    int n_missing;
} rp_set;

/* Open the stores (upgrading older ones) and load the matching runs and
 * the matching planned points that have no run (set->missing): those of
 * the stores' sweep_plan tables, then o->plan_points (--plan GRID.yaml). */
int report_load(char **paths, int n_paths, const rp_opts *o, rp_set *set, char **err);
void report_set_free(rp_set *set);

/* The label of a config path in a resolved-config JSON (malloc'd): the
 * value as text; "data" gives the data set's directory name. */
char *report_label(const char *json, const char *path);

/* Per-user test ranks of a run (loaded once); NULL when not stored. */
const nb_hits *report_ranks(rp_set *set, rp_run *r, char **err);

/* Sort labels in the paper's sampler order, numbers numerically, else
 * alphabetically. */
int report_label_cmp(const char *a, const char *b);

/* Unique row (rows = 1) or column-group labels of the finished runs,
 * sorted; malloc'd array of malloc'd strings, *n of them. */
char **report_labels(const rp_set *set, int rows, int *n);

/* Runs that belong to cell (row, col) by their labels, whatever became of
 * them: the set's runs of any status plus its missing points. */
int report_planned(const rp_set *set, const char *row, const char *col);

/* After a table or the PER matrix: the unfinished runs and the missing
 * planned points, each list counted (Markdown; LaTeX as % comments; CSV as
 * a left_out section after a blank line). Nothing when there are none. */
void report_print_left_out(const rp_set *set, const rp_opts *o, FILE *out);

/* Print the table of o->table to out; 0 or an error code. */
int report_table(rp_set *set, const rp_opts *o, FILE *out, char **err);

/* Print the PER matrix among the row labels per column group. */
int report_per(rp_set *set, const rp_opts *o, FILE *out, char **err);

/* Mean PER(lx, ly) in column group g at K over the seeds both rows have
 * (pairs receives their number); NAN when none; *err set on a failure. */
double report_per_value(rp_set *set, const rp_opts *o, const char *lx, const char *ly,
                        const char *g, int32_t K, int *pairs, char **err);
/* K of PER: the first of o->ks, else the largest report_k of the runs. */
int32_t report_per_k(const rp_set *set, const rp_opts *o);
/* 1 when o pairs runs of different seeds (--per-seeds cross). */
int report_per_cross(const rp_opts *o);

/* |A \ B| of two sorted key arrays. */
int64_t report_set_minus(const uint64_t *a, int64_t na, const uint64_t *b, int64_t nb);

#endif /* NB_REPORT_H */
