/*
 * cmd_plot.c - negbench plot KIND STORE... --out DIR: the figures of a
 * paper through gnuplot (plot.h does the work; docs/reporting.md
 * documents it). Exit status 0 when the files were written, also when
 * gnuplot is not installed (then only KIND.dat and KIND.gp are written and
 * a note says how to render them); 2 for bad options or stores.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void plot_usage(FILE *out)
{
    fputs("usage: negbench plot KIND STORE... --out DIR [options]\n"
          "  KIND: curves | sensitivity | histogram | maxmin | per | efficiency\n"
          "  --out DIR          where KIND.dat, KIND.gp, KIND.png and KIND.svg go\n"
          "  --metric NAME@K    curves: the metric (default recall@20)\n"
          "  --split S          curves: valid (default) or test (eval.test_every_eval)\n"
          "  --epochs E[,E]     histogram: the epochs (default every one stored)\n"
          "  --param PATH       sensitivity: the swept parameter (e.g. sampler.gamma)\n"
          "  --x-axis A         sensitivity: auto (default: evenly spaced values when they\n"
          "                     are not equally spaced or not numbers), linear or even\n"
          "  and negbench report's --rows, --cols, --where, --experiment, --metrics, --k,\n"
          "  --stat, --per-denom (defaults: rows sampler.name, columns data)\n", out);
}

/* Parse argv (argv[1] = KIND); 0 ok, else an exit status. */
static int parse(int argc, char **argv, nb_plot_opts *o, const char **dir, char ***stores,
                 int *n_stores)
{
    const char *param = NULL;
    *stores = nb_xcalloc((size_t)argc + 1, sizeof **stores);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' || a[1] != '-') { (*stores)[(*n_stores)++] = argv[i]; continue; }
        if (!v) { fprintf(stderr, "negbench plot: %s needs a value\n", a); return NB_EXIT_USAGE; }
        i++;
        int r = 1;
        if (!strcmp(a, "--out")) *dir = v;
        else if (!strcmp(a, "--metric")) o->metric = v;
        else if (!strcmp(a, "--split") && (!strcmp(v, "valid") || !strcmp(v, "test"))) o->split = v;
        else if (!strcmp(a, "--x-axis") && plot_axis_even(NULL, 0, v) >= 0) /* a known mode */
            o->x_axis = v;
        else if (!strcmp(a, "--epochs"))
            r = cli_int_list(v, o->epochs, &o->n_epochs, PLOT_MAX_EPOCHS, 0, 1000000) ? -1 : 1;
        else r = cli_report_option(&o->r, a, v, &param);
        if (r != 1) {
            fprintf(stderr, "negbench plot: bad option %s %s (see negbench plot --help)\n", a, v);
            return NB_EXIT_USAGE;
        }
    }
    if (!*n_stores || !*dir) {
        fprintf(stderr, "negbench plot: needs KIND, at least one STORE and --out DIR\n");
        return NB_EXIT_USAGE;
    }
    if (!strcmp(o->kind, "sensitivity")) o->r.table = "sensitivity";
    else if (!o->r.cols) o->r.cols = "data";
    return cli_report_defaults(&o->r, param, "plot") ? NB_EXIT_USAGE : 0;
}

int cmd_plot(int argc, char **argv)
{
    nb_plot_opts o = {.r = {.table = "main", .format = "md", .test = "wilcoxon", .alpha = 0.05},
                      .metric = "recall@20"};
    rp_set set;
    const char *dir = NULL;
    char **stores = NULL, *err = NULL;
    int n_stores = 0, status, rendered = 0;
    if (cli_wants_help(argc, argv) || argc < 2) {
        plot_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? NB_EXIT_USAGE : NB_EXIT_OK;
    }
    o.kind = argv[1];
    if ((status = parse(argc, argv, &o, &dir, &stores, &n_stores))) goto out;
    if (report_load(stores, n_stores, &o.r, &set, &err) ||
        plot_make(&set, &o, dir, &rendered, &err)) {
        fprintf(stderr, "negbench plot: %s\n", err ? err : "failed");
        status = NB_EXIT_USAGE;
    } else if (!rendered) {
        fprintf(stderr, "negbench plot: gnuplot is not installed: wrote %s/%s.dat and %s.gp; "
                "render them with: cd %s && gnuplot %s.gp (Debian package gnuplot-nox)\n", dir,
                o.kind, o.kind, dir, o.kind);
    } else {
        fprintf(stderr, "negbench plot: wrote %s/%s.png and %s.svg (data %s.dat, script %s.gp)\n",
                dir, o.kind, o.kind, o.kind, o.kind);
    }
    report_set_free(&set);
out:
    free(stores);
    free(err);
    return status;
}
