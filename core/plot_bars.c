/*
 * plot_bars.c - the kinds of negbench plot drawn from report tables:
 * sensitivity (the final metric against the swept parameter, one line with
 * ± sd error bars per column group and metric), efficiency (seconds per
 * epoch per sampler, clustered bars by column group, ± sd) and per (PER
 * bars: for each column group, PER(x, y) for every pair of row labels).
 */
#define _GNU_SOURCE
#include "plot.h"
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "negbench/plugin.h"
#include "util.h"

static const char *const metric_title[NB_N_METRICS] = {"Recall", "NDCG", "Hit", "Precision",
                                                       "MRR"};

/* 1 when text is a whole number in C syntax (strtod), its value in *v. */
static int axis_number(const char *text, double *v)
{
    char *end;
    *v = strtod(text, &end);
    return end != text && *end == '\0' && isfinite(*v);
}

int plot_axis_even(const char *const *rows, int n, const char *mode)
{
    int numeric = 1, equal = 1;
    double first = 0, prev = 0, step = 0, v;
    for (int i = 0; i < n && numeric; i++) {
        if (!axis_number(rows[i], &v)) numeric = 0;
        else if (i == 1) step = v - prev;
        else if (i > 1 && fabs((v - prev) - step) > 1e-9 * (fabs(v) + fabs(first)))
            equal = 0;
        if (i == 0) first = v;
        prev = v;
    }
    if (!mode || !strcmp(mode, "auto")) return !numeric || !equal;
    if (!strcmp(mode, "even")) return 1;
    if (!strcmp(mode, "linear")) return numeric ? 0 : -1;
    return -1;
}

int plot_sensitivity(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err)
{
    rp_opts r = o->r;
    rp_table t;
    r.table = "sensitivity";
    int status = report_build(set, &r, &t, err);
    int even = status ? 0 : plot_axis_even((const char *const *)t.rows, t.n_rows, o->x_axis);
    if (even < 0)
        status = nb_fail(err, NB_EINVAL, "plot sensitivity: --x-axis %s: %s", o->x_axis,
                         strcmp(o->x_axis, "linear") ? "not auto, linear or even"
                                                     : "a value of the parameter is not a number");
    plot_set(p, "set xlabel \"%s\"\nset ylabel \"test metric (mean ± sd over seeds)\"", r.rows);
    if (!status && even) /* the values as labels at 0, 1, ..., as the ANS paper draws them */
        plot_set(p, "set xrange [-0.5:%d.5]", t.n_rows - 1);
    for (int c = 0; !status && c < t.n_cols; c++) {
        const rp_colspec *cs = &t.cols[c];
        char *title = nb_strf("%s %s@%d", cs->group, metric_title[cs->metric], (int)cs->k);
        int b = plot_block(p, title);
        fprintf(p->dat, "# position\t%s\tmean\tsd\tseeds\n", r.rows);
        for (int row = 0; row < t.n_rows; row++) {
            const rp_cell *cell = &t.cells[row * t.n_cols + c];
            if (cell->n)
                fprintf(p->dat, "%d\t%s\t%.8g\t%.8g\t%d\n", row, t.rows[row], cell->mean,
                        isfinite(cell->sd) ? cell->sd : 0.0, cell->n);
            else { /* said, not silently left out of the line */
                fprintf(p->dat, "# no run: %s = %s\n", r.rows, t.rows[row]);
                fprintf(stderr, "negbench plot: sensitivity: %s has no run at %s = %s\n", title,
                        r.rows, t.rows[row]);
            }
        }
        plot_clause(p, "\"%s.dat\" index %d using %s with yerrorlines lw 2 lc %d title \"%s\"",
                    p->name, b, even ? "1:3:4:xtic(2)" : "2:3:4", b + 1, title);
        free(title);
    }
    report_table_free(&t);
    return status;
}

int plot_efficiency(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err)
{
    rp_opts r = o->r;
    rp_table t;
    r.table = "efficiency";
    int status = report_build(set, &r, &t, err);
    if (!status && t.n_rows) {
        plot_block(p, "seconds per epoch: mean and sd over seeds per column group");
        fputs("# row", p->dat);
        for (int c = 0; c < t.n_cols; c++)
            if (t.cols[c].measure == RM_SEC_EPOCH) fprintf(p->dat, "\t%s\tsd", t.cols[c].group);
        fputc('\n', p->dat);
        for (int row = 0; row < t.n_rows; row++) {
            fprintf(p->dat, "%s", t.rows[row]);
            for (int c = 0; c < t.n_cols; c++) {
                const rp_cell *cell = &t.cells[row * t.n_cols + c];
                if (t.cols[c].measure != RM_SEC_EPOCH) continue;
                fprintf(p->dat, "\t%.8g\t%.8g", cell->n ? cell->mean : NAN,
                        isfinite(cell->sd) ? cell->sd : 0.0);
            }
            fputc('\n', p->dat);
        }
        plot_set(p, "set style data histogram\nset style histogram errorbars gap 1 lw 1\n"
                 "set style fill solid 0.6 border -1\nset ylabel \"training seconds per epoch\"\n"
                 "set yrange [0:*]");
        for (int c = 0, col = 2; c < t.n_cols; c++) {
            if (t.cols[c].measure != RM_SEC_EPOCH) continue;
            plot_clause(p, "\"%s.dat\" index 0 using %d:%d%s title \"%s\"", p->name, col, col + 1,
                        col == 2 ? ":xtic(1)" : "", t.cols[c].group);
            col += 2;
        }
    }
    report_table_free(&t);
    return status;
}

int plot_per(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err)
{
    int nr, ng, status = NB_OK, any = 0;
    char **rows = report_labels(set, 1, &nr), **groups = report_labels(set, 0, &ng);
    /* drawn[y]: column y of the current group has a value (gnuplot refuses a
     * histogram series without one); titled[y]: y is in the legend already */
    char *drawn = nb_xcalloc((size_t)nr + 1, 1), *titled = nb_xcalloc((size_t)nr + 1, 1);
    int32_t K = report_per_k(set, &o->r);
    const char *den = o->r.per_denom ? o->r.per_denom : "y";
    /* the groups' names one line below the bars' x labels */
    plot_set(p, "set style data histogram\nset style histogram clustered gap 1 title offset 0,-1\n"
             "set bmargin 4\nset style fill solid 0.6 border -1\nset yrange [0:*]\n"
             "set ylabel \"PER(x, y) = |H_x \\\\ H_y| / |H_%s| at K = %d (x: bars' group)\"",
             den, (int)K);
    for (int g = 0; g < ng && !status; g++) {
        char *title = nb_strf("%s: PER(x, y), x by row, y by column%s", groups[g],
                              report_per_cross(&o->r)
                                  ? "; runs of different seeds paired (diagonal: the seed floor)"
                                  : "");
        int b = plot_block(p, title);
        free(title);
        fputs("# x", p->dat);
        for (int y = 0; y < nr; y++) fprintf(p->dat, "\t%s", rows[y]);
        fputc('\n', p->dat);
        memset(drawn, 0, (size_t)nr);
        for (int x = 0; x < nr && !status; x++) {
            fprintf(p->dat, "%s", rows[x]);
            for (int y = 0; y < nr; y++) {
                int pairs = 0;
                double v = report_per_value(set, &o->r, rows[x], rows[y], groups[g], K, &pairs, err);
                if (isnan(v) && *err) { status = NB_ERR; break; }
                if (isfinite(v)) drawn[y] = 1;
                fprintf(p->dat, "\t%.8g", v);
            }
            fputc('\n', p->dat);
        }
        /* one legend, the same colour for y in every group; the x labels on
         * the group's first drawn series; a column without a value is left
         * out of the drawing (it stays in the data as nan) */
        int first = 1;
        for (int y = 0; y < nr && !status; y++) {
            if (!drawn[y]) continue;
            if (first) plot_clause(p, "newhistogram \"%s\"", groups[g]);
            char *key = titled[y] ? nb_xstrdup("notitle") : nb_strf("title \"y = %s\"", rows[y]);
            plot_clause(p, "\"%s.dat\" index %d using %d%s lc %d %s", p->name, b, y + 2,
                        first ? ":xtic(1)" : "", y + 1, key);
            free(key);
            titled[y] = 1;
            first = 0;
            any = 1;
        }
    }
    if (!status && !any)
        status = nb_fail(err, NB_EINVAL, "plot per: every PER value is undefined (no group "
                         "has a pair of runs to compare)");
    for (int i = 0; i < nr; i++) free(rows[i]);
    for (int i = 0; i < ng; i++) free(groups[i]);
    free(rows);
    free(groups);
    free(drawn);
    free(titled);
    return status;
}
