/*
 * report_sig.c - significance of a report table (see report_table.c): per
 * column, the reference row against every other row, per user (paired t and
 * Wilcoxon on per-user values averaged over matched seeds) and across seeds
 * (Welch), then Holm over all comparisons of the table, per test.
 */
#define _GNU_SOURCE
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "negbench/plugin.h"
#include "user_ranks.h"
#include "util.h"

/* The finished run of (row, col group, seed), or NULL. */
static rp_run *run_at(rp_set *set, const char *row, const char *group, int64_t seed)
{
    for (int i = 0; i < set->n_runs; i++) {
        rp_run *r = &set->runs[i];
        if (r->seed == seed && !strcmp(r->status, "done") && !strcmp(r->row, row) &&
            !strcmp(r->col, group))
            return r;
    }
    return NULL;
}

/* Per-user values of run r's ranks h for (metric, k), cached on the run. */
static const double *run_values(rp_run *r, const nb_hits *h, int metric, int32_t k)
{
    if (!r->uv || r->uv_metric != metric || r->uv_k != k) {
        if (!r->uv) r->uv = nb_xmalloc(((size_t)h->n_rows + 1) * sizeof *r->uv);
        user_ranks_values(h, metric, k, r->uv);
        r->uv_metric = metric;
        r->uv_k = k;
    }
    return r->uv;
}

/* Per-user values of rows a and b in column c averaged over matched seeds
 * into *xa, *xb (malloc'd, n users); returns n, 0 when no seed matches. */
static int64_t user_values(rp_set *set, const rp_table *t, int c, int a, int b,
                           double **xa, double **xb, char **err)
{
    const rp_colspec *col = &t->cols[c];
    int64_t n = 0;
    int seeds = 0;
    *xa = *xb = NULL;
    for (int i = 0; i < set->n_runs; i++) {
        rp_run *ra = &set->runs[i];
        if (strcmp(ra->status, "done") || strcmp(ra->row, t->rows[a]) || strcmp(ra->col, col->group))
            continue;
        rp_run *rb = run_at(set, t->rows[b], col->group, ra->seed);
        const nb_hits *ha = rb ? report_ranks(set, ra, err) : NULL;
        const nb_hits *hb = ha ? report_ranks(set, rb, err) : NULL;
        if (!hb || ha->n_rows != hb->n_rows || col->k > ha->k || col->k > hb->k) continue;
        if (!seeds) {
            n = ha->n_rows;
            *xa = nb_xcalloc((size_t)n + 1, sizeof **xa);
            *xb = nb_xcalloc((size_t)n + 1, sizeof **xb);
        } else if (ha->n_rows != n) {
            continue;
        }
        const double *va = run_values(ra, ha, col->metric, col->k);
        const double *vb = run_values(rb, hb, col->metric, col->k);
        for (int64_t u = 0; u < n; u++) { (*xa)[u] += va[u]; (*xb)[u] += vb[u]; }
        seeds++;
    }
    for (int64_t u = 0; u < n; u++) { (*xa)[u] /= seeds; (*xb)[u] /= seeds; }
    return seeds ? n : 0;
}

/* Per-seed values of cell (row, c) into v; returns the count. */
static int seed_values(const rp_set *set, const rp_table *t, int row, int c, double *v)
{
    int n = 0;
    for (int i = 0; i < set->n_runs; i++) {
        const rp_run *r = &set->runs[i];
        if (!strcmp(r->status, "done") && !strcmp(r->row, t->rows[row]) &&
            !strcmp(r->col, t->cols[c].group))
            v[n++] = report_measure(r, &t->cols[c]);
    }
    return n;
}

/* Reference row of column c: --ref, else --gain, else the (first) best row. */
static int reference_row(const rp_table *t, const rp_opts *o, int c)
{
    int r = report_row_index(t, o->ref ? o->ref : o->gain);
    if (r >= 0) return t->cells[r * t->n_cols + c].n ? r : -1;
    for (r = 0; r < t->n_rows; r++)
        if (t->cells[r * t->n_cols + c].mark == 1) return r;
    return -1;
}

/* Tests of column c, reference ref against every other row. */
static void column_tests(rp_set *set, rp_table *t, int c, int ref, double *va, double *vb,
                         char **err)
{
    int na = seed_values(set, t, ref, c, va);
    for (int r = 0; r < t->n_rows; r++) {
        rp_cell *cell = &t->cells[r * t->n_cols + c];
        if (r == ref || !cell->n) continue;
        int nb = seed_values(set, t, r, c, vb);
        cell->p[RP_SEED_WELCH] = stats_welch_t(va, na, vb, nb).p;
        double *xa, *xb;
        int64_t n = user_values(set, t, c, ref, r, &xa, &xb, err);
        if (n > 0) {
            cell->p[RP_USER_T] = stats_paired_t(xa, xb, n).p;
            cell->p[RP_USER_W] = stats_wilcoxon(xa, xb, n).p;
        }
        free(xa);
        free(xb);
    }
}

int report_significance(rp_set *set, const rp_opts *o, rp_table *t, char **err)
{
    int total = t->n_rows * t->n_cols;
    double *va = nb_xmalloc(((size_t)set->n_runs + 1) * sizeof *va);
    double *vb = nb_xmalloc(((size_t)set->n_runs + 1) * sizeof *vb);
    double *p = nb_xmalloc(((size_t)total + 1) * sizeof *p);
    for (int c = 0; c < t->n_cols; c++) {
        t->ref[c] = t->cols[c].measure == RM_METRIC ? reference_row(t, o, c) : -1;
        if (t->ref[c] >= 0) column_tests(set, t, c, t->ref[c], va, vb, err);
    }
    for (int q = 0; q < RP_N_TESTS; q++) {
        for (int i = 0; i < total; i++) p[i] = t->cells[i].p[q];
        stats_holm(p, total, p);
        for (int i = 0; i < total; i++) t->cells[i].padj[q] = p[i];
    }
    free(va);
    free(vb);
    free(p);
    return NB_OK;
}
