/*
 * grid.h - experiment grids (version 1): a base experiment, `include`d
 * defaults, explicit axes under `grid:` (product, zip, seeds, repeats) and
 * per-plugin parameter blocks (`sampler_params`, `model_params`), expanded
 * into one resolved single-run tree per point.
 *
 * The syntax is documented in docs/sweeps-and-clusters.md. Nothing here
 * knows the plugins: each point's tree is validated by config_load_tree and
 * the plugin schemas in core/sweep.c. Every node of a point's tree carries
 * the file it came from (nb_node.file), so diagnostics name the grid file or
 * the included file, line and column of the value that caused them.
 */
#ifndef NB_GRID_H
#define NB_GRID_H

#include "config.h"

typedef struct nb_grid_point {
    nb_node *tree;      /* the resolved experiment (owned; NULL once taken) */
    char *label;        /* the point's axis values, "sampler.name=dns seed=2021" ("" if none) */
} nb_grid_point;

typedef struct nb_grid {
    char *path;         /* the grid file, as given */
    char *text;         /* its contents (stored as the experiment's YAML) */
    int is_grid;        /* the file has a grid: key */
    char *shape;        /* "3 x 2 x 3" (the axes' sizes), "1" without axes */
    int n_points;
    nb_grid_point *points;
    nb_node *sampler_blocks;  /* sampler_params: {plugin name: {param: value}} or NULL */
    nb_node *model_blocks;    /* model_params, likewise */
    int n_files;
    char **files;       /* every file read, [0] = path; nb_node.file points here */
} nb_grid;

/* Read path (and its includes), check the grid syntax and expand every
 * point. Returns 0, or NB_EINVAL with every problem in diags (file:line:col
 * one-liners); g is then freed (grid_free stays safe). */
int grid_load(const char *path, nb_grid *g, nb_diags *diags);
void grid_free(nb_grid *g);

/* 1 when path is a YAML map with a top-level grid, include, sampler_params
 * or model_params key (negbench run hands such files to the sweep), else 0
 * (also when it cannot be read or parsed: the single-run path reports it). */
int grid_file_is_sweep(const char *path);

/* Deep copy of a tree (file tags kept). */
nb_node *node_clone(const nb_node *n);

/* A node in YAML flow style, "[10, 20]", "{train: a.txt}" (malloc'd). */
char *node_render(const nb_node *n);

#endif /* NB_GRID_H */
