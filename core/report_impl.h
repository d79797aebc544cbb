/*
 * report_impl.h - the table of negbench report shared by report_table.c
 * (cells), report_sig.c (significance) and report_format.c (printing).
 */
#ifndef NB_REPORT_IMPL_H
#define NB_REPORT_IMPL_H

#include "report.h"

/* What a column measures. */
enum { RM_METRIC = 0, RM_SEC_EPOCH, RM_BEST_EPOCH, RM_TOTAL_SEC, RM_RSS_MB, RM_STAT };
/* The tests of a comparison: per-user paired t, per-user Wilcoxon, Welch over seeds. */
enum { RP_USER_T = 0, RP_USER_W, RP_SEED_WELCH, RP_N_TESTS };

typedef struct rp_colspec {
    char *group;                /* column group label (owned) */
    int measure;                /* RM_* */
    int metric;                 /* enum nb_metric, for RM_METRIC */
    int32_t k;                  /* cut-off, for RM_METRIC */
    int lower_better;           /* marks: smallest is best */
} rp_colspec;

typedef struct rp_cell {
    int n;                      /* seeds (finished runs) */
    int planned;                /* runs of the cell whatever their state: finished,
                                 * unfinished, failed or planned and never started */
    int fewer;                  /* marked: n below the column's most or below planned */
    double mean, sd;            /* over seeds; sd NAN below 2 */
    int mark;                   /* 1 best, 2 second, 0 neither */
    double p[RP_N_TESTS];       /* against the column's reference, NAN if none */
    double padj[RP_N_TESTS];    /* Holm-adjusted over the table */
} rp_cell;

typedef struct rp_table {
    char **rows;                /* row labels, sorted */
    int n_rows;
    char **groups;              /* column group labels, sorted */
    int n_groups;
    rp_colspec *cols;
    int n_cols;
    rp_cell *cells;             /* [n_rows][n_cols] */
    int *n_max;                 /* [n_cols] most seeds of a cell in the column */
    int *ref;                   /* [n_cols] reference row of the tests, -1 none */
} rp_table;

/* Build the cells of o->table (free with report_table_free). */
int report_build(rp_set *set, const rp_opts *o, rp_table *t, char **err);
void report_table_free(rp_table *t);
/* The value of column c for run r (NAN when it has none). */
double report_measure(const rp_run *r, const rp_colspec *c);
/* Index of a row label, or -1 (label may be NULL). */
int report_row_index(const rp_table *t, const char *label);
/* Fill p and padj of every metric cell (report_sig.c). */
int report_significance(rp_set *set, const rp_opts *o, rp_table *t, char **err);
/* Print t in o->format, then the runs left out (report_format.c). */
int report_print(const rp_set *set, const rp_opts *o, const rp_table *t, FILE *out);

#endif /* NB_REPORT_IMPL_H */
