/*
 * plot.h - negbench plot: figures of a paper from results stores through
 * gnuplot. Every kind writes DIR/KIND.dat (tab-separated data blocks, one
 * per series, separated by two blank lines) and DIR/KIND.gp (a gnuplot
 * script that renders DIR/KIND.png with pngcairo and DIR/KIND.svg), then
 * runs gnuplot on the script when it is installed.
 *
 * Kinds: curves (a metric per epoch, mean over seeds with a ± sd band),
 * sensitivity (final metric against a swept parameter, error bars),
 * histogram (score histograms at chosen epochs, lowest 80% shaded), maxmin
 * (normalised first-pass max and min score per epoch: the sampler
 * statistics cand_max_norm and cand_min_norm), per (PER bars), efficiency
 * (seconds per epoch bars, ± sd).
 */
#ifndef NB_PLOT_H
#define NB_PLOT_H

#include <stdio.h>

#include "report.h"

#define PLOT_MAX_EPOCHS 64

typedef struct nb_plot_opts {
    rp_opts r;                  /* filters, rows, cols, k, param as for report */
    const char *kind;           /* see above */
    const char *metric;         /* curves: "recall@20" */
    const char *split;          /* curves: "valid" (default) or "test" */
    int32_t epochs[PLOT_MAX_EPOCHS]; /* histogram epochs (none: every one stored) */
    int n_epochs;
    const char *x_axis;         /* sensitivity: "auto" (NULL), "linear" or "even" */
} nb_plot_opts;

/* A plot being written: its data file, its data blocks and the clauses of
 * its gnuplot plot command. */
typedef struct plot_ctx {
    FILE *dat;
    const char *name;           /* KIND: file names KIND.dat, KIND.gp */
    int blocks;                 /* data blocks written so far */
    char **panels;              /* per panel the clauses of its plot command */
    char **titles;              /* per panel its title (NULL: one plain plot) */
    int n_panels;
    char *settings;             /* gnuplot set commands */
} plot_ctx;

/* Start data block (the next index) titled title; returns its index. */
int plot_block(plot_ctx *p, const char *title);
/* Start a new panel (a multiplot of one panel per call) titled title. */
void plot_panel(plot_ctx *p, const char *title);
/* Append a plot clause (printf format) to the current panel, and gnuplot
 * settings. */
void plot_clause(plot_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void plot_set(plot_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 when a sensitivity plot puts its n parameter values (rows, in table
 * order) at evenly spaced positions labelled with the values: always for
 * mode "even", never for "linear" (which needs every value numeric: -1
 * otherwise), and for "auto" (or NULL) when a value is not a number or
 * the values are not equally spaced (e.g. gamma 0, 0.001, 0.01, ...; M 2,
 * 4, 8, ...). -1 for an unknown mode. */
int plot_axis_even(const char *const *rows, int n, const char *mode);

/* The kinds (plot_series.c, plot_bars.c): write the data and clauses. */
int plot_curves(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err);
int plot_maxmin(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err);
int plot_histogram(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err);
int plot_sensitivity(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err);
int plot_per(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err);
int plot_efficiency(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err);

/* Write DIR/KIND.dat and DIR/KIND.gp for o->kind and render them when
 * gnuplot is on PATH. *rendered is 1 when PNG and SVG were made, 0 when
 * gnuplot is missing (the note on stderr says how to render them). */
int plot_make(rp_set *set, const nb_plot_opts *o, const char *dir, int *rendered, char **err);

#endif /* NB_PLOT_H */
