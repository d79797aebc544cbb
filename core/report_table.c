/*
 * report_table.c - the cells of a negbench report table: one row per row
 * label, one column per (column group, measure); a cell holds the mean and
 * sample sd over the seeds of its finished runs, its best/second mark and
 * its significance against the column's reference row (report_format.c
 * prints it).
 *
 * Significance, per column, reference row R against each other row X:
 *   per user: the per-user values (user_ranks) of R and X averaged over the
 *     seeds both have (same data, same seed), then a paired t-test and a
 *     Wilcoxon signed-rank test over users;
 *   across seeds: Welch's t-test on the per-seed values.
 * Holm's correction runs over all comparisons of the table, per test.
 */
#define _GNU_SOURCE
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "negbench/plugin.h"
#include "user_ranks.h"
#include "util.h"

char **report_labels(const rp_set *set, int use_row, int *n)
{
    char **out = nb_xcalloc((size_t)set->n_runs + 1, sizeof *out);
    *n = 0;
    for (int i = 0; i < set->n_runs; i++) {
        const char *l = use_row ? set->runs[i].row : set->runs[i].col;
        int seen = 0;
        for (int j = 0; j < *n && !seen; j++) seen = !strcmp(out[j], l);
        if (!seen && !strcmp(set->runs[i].status, "done")) out[(*n)++] = nb_xstrdup(l);
    }
    for (int a = 1; a < *n; a++) /* insertion sort: few labels */
        for (int b = a; b > 0 && report_label_cmp(out[b - 1], out[b]) > 0; b--) {
            char *t = out[b]; out[b] = out[b - 1]; out[b - 1] = t;
        }
    return out;
}

/* Ks of metric stored by the finished runs of group g (ascending), or o->ks. */
static int ks_of(const rp_set *set, const rp_opts *o, const char *g, int metric,
                 int32_t ks[NB_MAX_KS])
{
    int n = 0;
    if (o->n_ks) {
        memcpy(ks, o->ks, (size_t)o->n_ks * sizeof *ks);
        return o->n_ks;
    }
    for (int i = 0; i < set->n_runs; i++) {
        const rp_run *r = &set->runs[i];
        if (strcmp(r->col, g) || strcmp(r->status, "done")) continue;
        for (int q = 0; q < r->n_fm; q++) {
            int32_t k = r->fm[q].k;
            int at = 0;
            if (r->fm[q].metric != metric) continue;
            while (at < n && ks[at] < k) at++;
            if ((at < n && ks[at] == k) || n == NB_MAX_KS) continue;
            memmove(ks + at + 1, ks + at, (size_t)(n - at) * sizeof *ks);
            ks[at] = k;
            n++;
        }
    }
    return n;
}

static void add_col(rp_table *t, const char *group, int measure, int metric, int32_t k)
{
    t->cols = nb_xrealloc(t->cols, (size_t)(t->n_cols + 1) * sizeof *t->cols);
    t->cols[t->n_cols++] = (rp_colspec){nb_xstrdup(group), measure, metric, k,
                                        measure == RM_SEC_EPOCH || measure == RM_TOTAL_SEC ||
                                            measure == RM_RSS_MB || measure == RM_BEST_EPOCH};
}

/* The columns of o->table for every column group. */
static int make_cols(rp_table *t, const rp_set *set, const rp_opts *o, char **err)
{
    for (int g = 0; g < t->n_groups; g++) {
        const char *grp = t->groups[g];
        if (!strcmp(o->table, "efficiency")) {
            for (int m = RM_SEC_EPOCH; m <= RM_RSS_MB; m++) add_col(t, grp, m, 0, 0);
            continue;
        }
        if (!strcmp(o->table, "overlap")) {
            add_col(t, grp, RM_STAT, 0, 0);
            continue;
        }
        char *list = nb_xstrdup(o->metrics), *save = NULL;
        for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
            int metric = -1;
            for (int q = 0; q < NB_N_METRICS; q++)
                if (!strcasecmp(m, nb_metric_names[q])) metric = q;
            if (metric < 0) {
                free(list);
                return nb_fail(err, NB_EINVAL, "report: unknown metric \"%s\" (recall, ndcg, "
                               "hit, precision, mrr)", m);
            }
            int32_t ks[NB_MAX_KS];
            int nk = ks_of(set, o, grp, metric, ks);
            if (!strcmp(o->table, "sensitivity") && nk > 1) ks[0] = ks[nk - 1], nk = 1;
            for (int j = 0; j < nk; j++) add_col(t, grp, RM_METRIC, metric, ks[j]);
        }
        free(list);
    }
    return NB_OK;
}

/* The value of column c for run r (NAN when it has none). */
double report_measure(const rp_run *r, const rp_colspec *c)
{
    switch (c->measure) {
    case RM_SEC_EPOCH: return r->sec_epoch;
    case RM_BEST_EPOCH: return r->best_epoch > 0 ? r->best_epoch : NAN;
    case RM_TOTAL_SEC: return r->total_sec;
    case RM_RSS_MB: return r->peak_rss_mb;
    case RM_STAT: return r->stat_mean;
    default:
        for (int q = 0; q < r->n_fm; q++)
            if (r->fm[q].metric == c->metric && r->fm[q].k == c->k) return r->fm[q].value;
        return NAN;
    }
}

/* Runs of cell (row, col): indexes of finished runs into idx; returns count. */
static int cell_runs(const rp_set *set, const rp_table *t, int row, int col, int *idx)
{
    int n = 0;
    for (int i = 0; i < set->n_runs; i++) {
        const rp_run *r = &set->runs[i];
        if (!strcmp(r->status, "done") && !strcmp(r->row, t->rows[row]) &&
            !strcmp(r->col, t->cols[col].group) && isfinite(report_measure(r, &t->cols[col])))
            idx[n++] = i;
    }
    return n;
}

/* Best/second marks of column c: every row at the best mean gets 1, every
 * row at the next distinct mean 2. */
static void mark_column(rp_table *t, int c)
{
    int sign = t->cols[c].lower_better ? -1 : 1;
    double best = -INFINITY, second = -INFINITY;
    for (int r = 0; r < t->n_rows; r++) {
        const rp_cell *cell = &t->cells[r * t->n_cols + c];
        if (cell->n && sign * cell->mean > best) best = sign * cell->mean;
    }
    for (int r = 0; r < t->n_rows; r++) {
        const rp_cell *cell = &t->cells[r * t->n_cols + c];
        double m = sign * cell->mean;
        if (cell->n && m < best && m > second) second = m;
    }
    for (int r = 0; r < t->n_rows; r++) {
        rp_cell *cell = &t->cells[r * t->n_cols + c];
        if (cell->n) cell->mark = sign * cell->mean == best ? 1 : sign * cell->mean == second ? 2 : 0;
    }
}

/* Means, sds, n, and best/second marks of every cell. */
static void fill_cells(rp_table *t, const rp_set *set, int *idx, double *v)
{
    for (int c = 0; c < t->n_cols; c++) {
        for (int r = 0; r < t->n_rows; r++) {
            rp_cell *cell = &t->cells[r * t->n_cols + c];
            int n = cell_runs(set, t, r, c, idx);
            for (int i = 0; i < n; i++) v[i] = report_measure(&set->runs[idx[i]], &t->cols[c]);
            cell->n = (int)stats_mean_sd(v, n, &cell->mean, &cell->sd);
            cell->planned = report_planned(set, t->rows[r], t->cols[c].group);
            for (int q = 0; q < RP_N_TESTS; q++) cell->p[q] = cell->padj[q] = NAN;
            if (cell->n > t->n_max[c]) t->n_max[c] = cell->n;
        }
        /* fewer seeds than the column's most, or than the cell's own runs
         * (some failed, unfinished or never started) */
        for (int r = 0; r < t->n_rows; r++) {
            rp_cell *cell = &t->cells[r * t->n_cols + c];
            cell->fewer = cell->n < t->n_max[c] || cell->n < cell->planned;
        }
        mark_column(t, c);
    }
}

/* Drop the rows without a value in any column (e.g. samplers without the
 * statistic of an overlap table). */
static void drop_empty_rows(rp_table *t)
{
    int kept = 0;
    for (int r = 0; r < t->n_rows; r++) {
        int any = 0;
        for (int c = 0; c < t->n_cols; c++) any |= t->cells[r * t->n_cols + c].n > 0;
        if (!any) {
            free(t->rows[r]);
            continue;
        }
        t->rows[kept] = t->rows[r];
        memmove(t->cells + (size_t)kept * t->n_cols, t->cells + (size_t)r * t->n_cols,
                (size_t)t->n_cols * sizeof *t->cells);
        kept++;
    }
    t->n_rows = kept;
}

/* Index of a row label, or -1. */
int report_row_index(const rp_table *t, const char *label)
{
    for (int r = 0; label && r < t->n_rows; r++)
        if (!strcmp(t->rows[r], label)) return r;
    return -1;
}

int report_build(rp_set *set, const rp_opts *o, rp_table *t, char **err)
{
    int status;
    memset(t, 0, sizeof *t);
    t->rows = report_labels(set, 1, &t->n_rows);
    t->groups = report_labels(set, 0, &t->n_groups);
    if ((status = make_cols(t, set, o, err))) return status;
    t->cells = nb_xcalloc((size_t)t->n_rows * t->n_cols + 1, sizeof *t->cells);
    t->n_max = nb_xcalloc((size_t)t->n_cols + 1, sizeof *t->n_max);
    t->ref = nb_xcalloc((size_t)t->n_cols + 1, sizeof *t->ref);
    int *idx = nb_xmalloc(((size_t)set->n_runs + 1) * sizeof *idx);
    double *v = nb_xmalloc(((size_t)set->n_runs + 1) * sizeof *v);
    fill_cells(t, set, idx, v);
    drop_empty_rows(t);
    free(idx);
    free(v);
    return report_significance(set, o, t, err);
}

void report_table_free(rp_table *t)
{
    for (int r = 0; r < t->n_rows; r++) free(t->rows[r]);
    for (int g = 0; g < t->n_groups; g++) free(t->groups[g]);
    for (int c = 0; c < t->n_cols; c++) free(t->cols[c].group);
    free(t->rows);
    free(t->groups);
    free(t->cols);
    free(t->cells);
    free(t->n_max);
    free(t->ref);
    memset(t, 0, sizeof *t);
}
