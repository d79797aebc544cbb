/*
 * report_format.c - print a report table as Markdown, LaTeX (booktabs) or
 * CSV (one tidy row per cell), then the runs that were left out.
 *
 * Cells read "mean ± sd"; best in bold, second underlined; "(n=2)" marks a
 * cell with fewer seeds than the most in its column; "*" marks a cell whose
 * per-user test against the column's reference row (o->test: Wilcoxon or
 * paired t) is significant after Holm's correction at o->alpha, "†" the
 * same for Welch's test across seeds. The gain row (--gain X) is
 * (X - best other) / best other, in percent, per column. A cell is also
 * marked "(n=k)" when it has fewer finished seeds than runs of its own:
 * failed, unfinished, or planned by a sweep and never started ("– (n=0)"
 * when none finished). Under the table: the unfinished runs, then the
 * missing ones ("missing: LABEL (HASH12)"), each list counted; CSV gets
 * them as a section of its own after a blank line, and two more columns
 * per cell, n_planned and fewer_seeds.
 */
#define _GNU_SOURCE
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const metric_title[NB_N_METRICS] = {"Recall", "NDCG", "Hit", "Precision",
                                                       "MRR"};
static const char *const measure_title[] = {"", "s/epoch", "best epoch", "total s",
                                            "peak RSS MB", "mean"};

/* Column title "group Recall@20" (malloc'd). */
static char *col_title(const rp_colspec *c, const rp_opts *o)
{
    if (c->measure == RM_METRIC)
        return nb_strf("%s %s@%d", c->group, metric_title[c->metric], (int)c->k);
    if (c->measure == RM_STAT) return nb_strf("%s %s", c->group, o->stat);
    return nb_strf("%s %s", c->group, measure_title[c->measure]);
}

static int user_test(const rp_opts *o)
{
    return o->test && !strcmp(o->test, "ttest") ? RP_USER_T : RP_USER_W;
}

/* "0.1234 ± 0.0012" with the digits of the measure (malloc'd). */
static char *num_text(const rp_colspec *c, const rp_cell *cell, int latex)
{
    int dig = c->measure == RM_METRIC || c->measure == RM_STAT ? 4
              : c->measure == RM_BEST_EPOCH ? 1 : 2;
    const char *pm = latex ? " $\\pm$ " : " ± ";
    if (!isfinite(cell->sd)) return nb_strf("%.*f", dig, cell->mean);
    return nb_strf("%.*f%s%.*f", dig, cell->mean, pm, dig, cell->sd);
}

/* The full text of a cell in Markdown or LaTeX (malloc'd). */
static char *cell_text(const rp_table *t, int r, int c, const rp_opts *o, int latex)
{
    const rp_cell *cell = &t->cells[r * t->n_cols + c];
    if (!cell->n) return nb_xstrdup(cell->fewer ? (latex ? "-- (n=0)" : "– (n=0)")
                                                : (latex ? "--" : "–"));
    char *num = num_text(&t->cols[c], cell, latex), *s;
    if (cell->mark == 1) s = nb_strf(latex ? "\\textbf{%s}" : "**%s**", num);
    else if (cell->mark == 2) s = nb_strf(latex ? "\\underline{%s}" : "<u>%s</u>", num);
    else s = nb_xstrdup(num);
    free(num);
    const char *sig = cell->padj[user_test(o)] < o->alpha ? "*" : "";
    const char *dag = cell->padj[RP_SEED_WELCH] < o->alpha ? (latex ? "$^\\dagger$" : "†") : "";
    char *few = cell->fewer ? nb_strf(" (n=%d)", cell->n) : nb_xstrdup("");
    char *out = nb_strf("%s%s%s%s", s, sig, dag, few);
    free(s);
    free(few);
    return out;
}

/* The gain of row g over the best other row in column c, NAN if none. */
static double gain(const rp_table *t, int g, int c)
{
    const rp_cell *x = &t->cells[g * t->n_cols + c];
    double best = NAN;
    int sign = t->cols[c].lower_better ? -1 : 1;
    for (int r = 0; r < t->n_rows; r++) {
        const rp_cell *y = &t->cells[r * t->n_cols + c];
        if (r != g && y->n && (isnan(best) || sign * y->mean > sign * best)) best = y->mean;
    }
    if (!x->n || isnan(best) || best == 0.0) return NAN;
    return sign * (x->mean - best) / fabs(best) * 100.0;
}

/* LaTeX-escape &, %, _, # (malloc'd). */
static char *tex(const char *s)
{
    char *out = nb_xmalloc(2 * strlen(s) + 1), *p = out;
    for (; *s; s++) {
        if (strchr("&%_#", *s)) *p++ = '\\';
        *p++ = *s;
    }
    *p = '\0';
    return out;
}

static void print_grid(const rp_opts *o, const rp_table *t, FILE *out, int latex)
{
    const char *sep = latex ? " & " : " | ", *end = latex ? " \\\\\n" : " |\n";
    int g = report_row_index(t, o->gain);
    if (latex) {
        fputs("\\begin{tabular}{l", out);
        for (int c = 0; c < t->n_cols; c++) fputc('c', out);
        fputs("}\n\\toprule\n", out);
    }
    char *rh = latex ? tex(o->rows) : nb_strf("| %s", o->rows);
    fputs(rh, out);
    free(rh);
    for (int c = 0; c < t->n_cols; c++) {
        char *h = col_title(&t->cols[c], o), *e = latex ? tex(h) : nb_xstrdup(h);
        fprintf(out, "%s%s", sep, e);
        free(h);
        free(e);
    }
    fputs(end, out);
    if (latex) fputs("\\midrule\n", out);
    else {
        fputs("|---", out);
        for (int c = 0; c < t->n_cols; c++) fputs("|---", out);
        fputs("|\n", out);
    }
    for (int r = 0; r < t->n_rows; r++) {
        char *l = latex ? tex(t->rows[r]) : nb_xstrdup(t->rows[r]);
        fprintf(out, "%s%s", latex ? "" : "| ", l);
        free(l);
        for (int c = 0; c < t->n_cols; c++) {
            char *s = cell_text(t, r, c, o, latex);
            fprintf(out, "%s%s", sep, s);
            free(s);
        }
        fputs(end, out);
    }
    if (g >= 0) {
        if (latex) fputs("\\midrule\n", out);
        fprintf(out, "%sgain of %s", latex ? "" : "| ", t->rows[g]);
        for (int c = 0; c < t->n_cols; c++) {
            double v = gain(t, g, c);
            if (isnan(v)) fprintf(out, "%s%s", sep, latex ? "--" : "–");
            else fprintf(out, "%s%+.2f%s", sep, fabs(v) < 0.005 ? 0.0 : v, latex ? "\\%" : "%");
        }
        fputs(end, out);
    }
    if (latex) fputs("\\bottomrule\n\\end{tabular}\n", out);
}

static void csv_num(FILE *out, double v)
{
    if (isfinite(v)) fprintf(out, ",%.10g", v);
    else fputs(",", out);
}

/* A CSV field, quoted when needed. */
static void csv_str(FILE *out, const char *s, int first)
{
    if (!first) fputc(',', out);
    if (!strpbrk(s, ",\"\n")) { fputs(s, out); return; }
    fputc('"', out);
    for (; *s; s++) { if (*s == '"') fputc('"', out); fputc(*s, out); }
    fputc('"', out);
}

static void print_csv(const rp_opts *o, const rp_table *t, FILE *out)
{
    fputs("table,row,col,measure,k,n,mean,sd,mark,reference,p_user_t,p_user_wilcoxon,"
          "p_seed_welch,p_user_t_holm,p_user_wilcoxon_holm,p_seed_welch_holm,n_planned,"
          "fewer_seeds\n", out);
    for (int r = 0; r < t->n_rows; r++)
        for (int c = 0; c < t->n_cols; c++) {
            const rp_cell *cell = &t->cells[r * t->n_cols + c];
            const rp_colspec *cs = &t->cols[c];
            if (!cell->n && !cell->fewer) continue;
            csv_str(out, o->table, 1);
            csv_str(out, t->rows[r], 0);
            csv_str(out, cs->group, 0);
            csv_str(out, cs->measure == RM_METRIC ? nb_metric_names[cs->metric]
                         : cs->measure == RM_STAT ? o->stat : measure_title[cs->measure], 0);
            if (cs->measure == RM_METRIC) fprintf(out, ",%d", (int)cs->k);
            else fputs(",", out);
            fprintf(out, ",%d", cell->n);
            csv_num(out, cell->mean);
            csv_num(out, cell->sd);
            fprintf(out, ",%s", cell->mark == 1 ? "best" : cell->mark == 2 ? "second" : "");
            csv_str(out, t->ref[c] >= 0 ? t->rows[t->ref[c]] : "", 0);
            for (int q = 0; q < RP_N_TESTS; q++) csv_num(out, cell->p[q]);
            for (int q = 0; q < RP_N_TESTS; q++) csv_num(out, cell->padj[q]);
            fprintf(out, ",%d,%d\n", cell->planned > cell->n ? cell->planned : cell->n,
                    cell->fewer);
        }
}

/* A path without its directory. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The file name of store i without its directory. */
static const char *store_name(const rp_set *set, int i)
{
    return base_name(set->paths[i]);
}

/* The runs left out after a CSV table: a blank line, then a section of its
 * own, one row per unfinished run and per missing planned point. */
static void print_left_out_csv(const rp_set *set, FILE *out)
{
    int n = set->n_missing;
    for (int i = 0; i < set->n_runs; i++) n += strcmp(set->runs[i].status, "done") != 0;
    if (!n) return;
    fputs("\nleft_out,status,row,col,seed,label,hash,store,epochs_run,error\n", out);
    for (int i = 0; i < set->n_runs; i++) {
        const rp_run *r = &set->runs[i];
        if (!strcmp(r->status, "done")) continue;
        char seed[32];
        snprintf(seed, sizeof seed, "%lld", (long long)r->seed);
        csv_str(out, "left_out", 1);
        csv_str(out, r->status, 0);
        csv_str(out, r->row, 0);
        csv_str(out, r->col, 0);
        csv_str(out, seed, 0);
        csv_str(out, "", 0);
        csv_str(out, r->hash, 0);
        csv_str(out, store_name(set, r->store), 0);
        fprintf(out, ",%d", r->epochs_run);
        csv_str(out, r->error ? r->error : "", 0);
        fputc('\n', out);
    }
    for (int i = 0; i < set->n_missing; i++) {
        const rp_missing *m = &set->missing[i];
        csv_str(out, "left_out", 1);
        csv_str(out, "missing", 0);
        csv_str(out, m->row, 0);
        csv_str(out, m->col, 0);
        csv_str(out, m->seed, 0);
        csv_str(out, m->label, 0);
        csv_str(out, m->hash, 0);
        csv_str(out, base_name(m->source), 0);
        fputs(",0,\n", out);
    }
}

/* The runs left out after a Markdown or LaTeX table: the unfinished ones
 * with their status and error, then the planned points never started. */
static void print_left_out(const rp_set *set, const rp_opts *o, FILE *out)
{
    int n = 0;
    const char *c = !strcmp(o->format, "latex") ? "% " : "";
    for (int i = 0; i < set->n_runs; i++) n += strcmp(set->runs[i].status, "done") != 0;
    if (n) fprintf(out, "\n%sNot in the table: %d unfinished run%s\n", c, n, n == 1 ? "" : "s");
    for (int i = 0; i < set->n_runs; i++) {
        const rp_run *r = &set->runs[i];
        if (!strcmp(r->status, "done")) continue;
        fprintf(out, "%s- %s, %s, seed %lld: %s after %d epoch%s (run %.12s in %s)%s%s\n", c,
                r->row, r->col, (long long)r->seed, r->status, r->epochs_run,
                r->epochs_run == 1 ? "" : "s", r->hash, store_name(set, r->store),
                r->error ? ": " : "", r->error ? r->error : "");
    }
    if (!set->n_missing) return;
    fprintf(out, "\n%sMissing: %d planned run%s never started\n", c, set->n_missing,
            set->n_missing == 1 ? "" : "s");
    for (int i = 0; i < set->n_missing; i++) {
        const rp_missing *m = &set->missing[i];
        fprintf(out, "%s- missing: %s (%.12s): %s, %s, seed %s (planned in %s)\n", c,
                *m->label ? m->label : "-", m->hash, m->row, m->col, m->seed,
                base_name(m->source));
    }
}

void report_print_left_out(const rp_set *set, const rp_opts *o, FILE *out)
{
    if (!strcmp(o->format, "csv")) print_left_out_csv(set, out);
    else print_left_out(set, o, out);
}

int report_print(const rp_set *set, const rp_opts *o, const rp_table *t, FILE *out)
{
    if (!strcmp(o->format, "csv")) {
        print_csv(o, t, out);
        print_left_out_csv(set, out);
        return 0;
    }
    print_grid(o, t, out, !strcmp(o->format, "latex"));
    int tested = 0;
    for (int c = 0; c < t->n_cols; c++) tested |= t->ref[c] >= 0;
    if (strcmp(o->format, "latex")) {
        fputs("\nmean ± sample sd over seeds; **best**, <u>second</u>; (n=k): fewer seeds than "
              "the column's most or than the cell's runs", out);
        if (tested)
            fprintf(out, "; * %s per user, † Welch over seeds: differs from the column's "
                    "reference row (Holm-adjusted p < %g)",
                    user_test(o) == RP_USER_T ? "paired t-test" : "Wilcoxon signed-rank",
                    o->alpha);
        fputs(".\n", out);
    }
    print_left_out(set, o, out);
    return 0;
}

int report_table(rp_set *set, const rp_opts *o, FILE *out, char **err)
{
    rp_table t;
    int status = report_build(set, o, &t, err);
    if (!status) status = report_print(set, o, &t, out);
    report_table_free(&t);
    return status;
}
