/*
 * plot_series.c - the per-epoch kinds of negbench plot: curves (a metric
 * per epoch from epoch_metric), maxmin (the sampler statistics
 * cand_max_norm / cand_min_norm per epoch) and histogram (score_histogram
 * at chosen epochs with the lowest 80% of the mass shaded). Series are one
 * per (row label, column group); curves and maxmin average over seeds.
 */
#define _GNU_SOURCE
#include "plot.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "negbench/plugin.h"
#include "util.h"

/* Per-epoch sums of one series. */
typedef struct { double *s, *ss; int *n; int cap; } series;

static void series_add(series *a, int epoch, double v)
{
    if (epoch >= a->cap) {
        int cap = epoch + 64;
        a->s = nb_xrealloc(a->s, (size_t)cap * sizeof *a->s);
        a->ss = nb_xrealloc(a->ss, (size_t)cap * sizeof *a->ss);
        a->n = nb_xrealloc(a->n, (size_t)cap * sizeof *a->n);
        for (int i = a->cap; i < cap; i++) a->s[i] = a->ss[i] = 0.0, a->n[i] = 0;
        a->cap = cap;
    }
    a->s[epoch] += v;
    a->ss[epoch] += v * v;
    a->n[epoch]++;
}

/* Write "epoch mean lo hi n" lines of a series. */
static void series_write(FILE *f, const series *a)
{
    for (int e = 0; e < a->cap; e++) {
        if (!a->n[e]) continue;
        double m = a->s[e] / a->n[e];
        double var = a->n[e] > 1 ? (a->ss[e] - a->n[e] * m * m) / (a->n[e] - 1) : 0.0;
        double sd = var > 0 ? sqrt(var) : 0.0;
        fprintf(f, "%d\t%.8g\t%.8g\t%.8g\t%d\n", e, m, m - sd, m + sd, a->n[e]);
    }
}

/* Add every (epoch, value) of sql (?1 = run id) for run r to a. */
static int add_rows(rp_set *set, const rp_run *r, const char *sql, series *a, char **err)
{
    sqlite3 *db = store_db(set->stores[r->store]);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return nb_fail(err, NB_ERR, "%s: %s", set->paths[r->store], sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, r->id);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (sqlite3_column_type(st, 1) != SQLITE_NULL)
            series_add(a, sqlite3_column_int(st, 0), sqlite3_column_double(st, 1));
    sqlite3_finalize(st);
    return NB_OK;
}

/* One block per (row, col) of the finished runs' sql values, averaged over
 * seeds, with a band and a line per series (style: lines or linespoints). */
static int epoch_series(rp_set *set, plot_ctx *p, const char *sql, const char *what, char **err)
{
    int nr, ng, status = NB_OK;
    char **rows = report_labels(set, 1, &nr), **groups = report_labels(set, 0, &ng);
    for (int g = 0; g < ng && !status; g++)
        for (int r = 0; r < nr && !status; r++) {
            series a = {0};
            for (int i = 0; i < set->n_runs && !status; i++) {
                const rp_run *run = &set->runs[i];
                if (!strcmp(run->status, "done") && !strcmp(run->row, rows[r]) &&
                    !strcmp(run->col, groups[g]))
                    status = add_rows(set, run, sql, &a, err);
            }
            if (a.cap && !status) {
                char *title = nb_strf("%s %s%s%s", rows[r], groups[g], what ? " " : "",
                                      what ? what : "");
                int b = plot_block(p, title);
                fputs("# epoch\tmean\tmean-sd\tmean+sd\tseeds\n", p->dat);
                series_write(p->dat, &a);
                plot_clause(p, "\"%s.dat\" index %d using 1:3:4 with filledcurves "
                            "fillstyle transparent solid 0.2 noborder lc %d notitle", p->name, b,
                            b + 1);
                plot_clause(p, "\"\" index %d using 1:2 with lines lw 2 lc %d title \"%s\"", b,
                            b + 1, title);
                free(title);
            }
            free(a.s);
            free(a.ss);
            free(a.n);
        }
    for (int i = 0; i < nr; i++) free(rows[i]);
    for (int i = 0; i < ng; i++) free(groups[i]);
    free(rows);
    free(groups);
    return status;
}

int plot_curves(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err)
{
    const char *at = o->metric ? strchr(o->metric, '@') : NULL;
    const char *split = o->split ? o->split : "valid";
    if (!at || at == o->metric || atoi(at + 1) < 1)
        return nb_fail(err, NB_EINVAL, "plot curves: --metric is NAME@K (e.g. recall@20)");
    char *sql = sqlite3_mprintf("SELECT epoch, value FROM epoch_metric WHERE run_id = ?1 AND"
                                " split = %Q AND metric = lower(%.*Q) AND k = %d ORDER BY epoch",
                                split, (int)(at - o->metric), o->metric, atoi(at + 1));
    plot_set(p, "set xlabel \"epoch\"\nset ylabel \"%s (%s, mean ± sd over seeds)\"", o->metric,
             split);
    int status = epoch_series(set, p, sql, NULL, err);
    sqlite3_free(sql);
    return status;
}

int plot_maxmin(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err)
{
    (void)o;
    plot_set(p, "set xlabel \"epoch\"\nset ylabel \"normalised first-pass score "
             "(mean ± sd over seeds)\"");
    int status = epoch_series(set, p, "SELECT epoch, value FROM sampler_stat WHERE run_id = ?1"
                              " AND name = 'cand_max_norm' ORDER BY epoch", "max", err);
    if (!status)
        status = epoch_series(set, p, "SELECT epoch, value FROM sampler_stat WHERE run_id = ?1"
                              " AND name = 'cand_min_norm' ORDER BY epoch", "min", err);
    return status;
}

/* True when epoch is asked for (none asked: every epoch). */
static int epoch_wanted(const nb_plot_opts *o, int epoch)
{
    for (int i = 0; i < o->n_epochs; i++)
        if (o->epochs[i] == epoch) return 1;
    return o->n_epochs == 0;
}

/* One histogram row: "center density shaded" per bin, where the shaded
 * column keeps the bins that start below 80% of the mass. */
static void histogram_block(plot_ctx *p, const char *title, double lo, double hi,
                            const unsigned char *blob, int n_bins)
{
    double total = 0, width = (hi - lo) / n_bins, cum = 0;
    int64_t *c = nb_xmalloc((size_t)n_bins * sizeof *c);
    for (int i = 0; i < n_bins; i++) {
        uint64_t v = 0;
        for (int j = 0; j < 8; j++) v |= (uint64_t)blob[8 * i + j] << (8 * j);
        c[i] = (int64_t)v;
        total += (double)v;
    }
    int b = plot_block(p, title);
    plot_panel(p, title);
    fputs("# score\tdensity\tdensity of the lowest 80%\n", p->dat);
    for (int i = 0; i < n_bins; i++) {
        double d = total > 0 ? c[i] / total / width : 0.0;
        fprintf(p->dat, "%.8g\t%.8g\t%.8g\n", lo + (i + 0.5) * width, d, cum < 0.8 * total ? d : 0.0);
        cum += (double)c[i];
    }
    plot_clause(p, "\"%s.dat\" index %d using 1:3 with boxes fillstyle transparent solid 0.3 "
                "noborder lc %d notitle", p->name, b, b + 1);
    plot_clause(p, "\"\" index %d using 1:2 with histeps lw 2 lc %d notitle", b, b + 1);
    free(c);
}

/* The histograms of run r at the wanted epochs. */
static int run_histograms(rp_set *set, const rp_run *r, const nb_plot_opts *o, plot_ctx *p,
                          char **err)
{
    sqlite3 *db = store_db(set->stores[r->store]);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT epoch, name, lo, hi, counts FROM score_histogram"
                           " WHERE run_id = ?1 ORDER BY name, epoch", -1, &st, NULL) != SQLITE_OK)
        return nb_fail(err, NB_ERR, "%s: %s", set->paths[r->store], sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, r->id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int epoch = sqlite3_column_int(st, 0), n = sqlite3_column_bytes(st, 4) / 8;
        if (!epoch_wanted(o, epoch) || n < 1) continue;
        char *title = nb_strf("%s %s seed %lld epoch %d", r->row, r->col, (long long)r->seed,
                              epoch);
        histogram_block(p, title, sqlite3_column_double(st, 2), sqlite3_column_double(st, 3),
                        sqlite3_column_blob(st, 4), n);
        free(title);
    }
    sqlite3_finalize(st);
    return NB_OK;
}

int plot_histogram(rp_set *set, const nb_plot_opts *o, plot_ctx *p, char **err)
{
    int nr, ng, status = NB_OK;
    char **rows = report_labels(set, 1, &nr), **groups = report_labels(set, 0, &ng);
    plot_set(p, "set xlabel \"score of unobserved (user, item) pairs\"\n"
             "set ylabel \"density (shaded: the lowest 80%%)\"");
    for (int g = 0; g < ng && !status; g++)
        for (int r = 0; r < nr && !status; r++) {
            const rp_run *first = NULL; /* the lowest seed's run */
            for (int i = 0; i < set->n_runs; i++) {
                const rp_run *x = &set->runs[i];
                if (!strcmp(x->status, "done") && !strcmp(x->row, rows[r]) &&
                    !strcmp(x->col, groups[g]) && (!first || x->seed < first->seed))
                    first = x;
            }
            if (first) status = run_histograms(set, first, o, p, err);
        }
    for (int i = 0; i < nr; i++) free(rows[i]);
    for (int i = 0; i < ng; i++) free(groups[i]);
    free(rows);
    free(groups);
    return status;
}
