/*
 * report_per.c - PER (Fig. 2) between the methods (row labels) of a report.
 *
 * H_x is the set of test (user, item) pairs run x ranks within its top K at
 * its best-validation epoch (from user_ranks). PER(x, y) = |H_x \ H_y| /
 * |H_y| (--per-denom y, the default) or / |H_x| (--per-denom x): the share
 * of y's hits, or of x's, that x finds and y misses. For methods x and y
 * in one column group, runs are matched by seed and the PER values of the
 * matched pairs are averaged; with --per-seeds cross every pair of runs of
 * different seeds is averaged instead, so PER(x, x) measures how much two
 * seeds of one method differ (the floor a PER between methods exceeds).
 * The counts of every pair are cached in the table run_pair_per of run x's
 * store (keyed by both config hashes, the
 * split and K), and read from there when present. The unfinished and
 * missing runs are listed after the matrices, as after a table.
 */
#define _GNU_SOURCE
#include "report_impl.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "negbench/plugin.h"
#include "user_ranks.h"
#include "util.h"

int64_t report_set_minus(const uint64_t *a, int64_t na, const uint64_t *b, int64_t nb)
{
    int64_t i = 0, j = 0, out = 0;
    while (i < na) {
        while (j < nb && b[j] < a[i]) j++;
        if (j >= nb || b[j] != a[i]) out++;
        i++;
    }
    return out;
}

/* Counts of (x, y) at K from x's store, or computed and cached there. */
static int pair_counts(rp_set *set, rp_run *x, rp_run *y, int32_t K, int64_t cnt[3],
                       char **err)
{
    sqlite3 *db = store_db(set->stores[x->store]);
    sqlite3_stmt *st = NULL;
    int found = 0, status = NB_OK;
    if (sqlite3_prepare_v2(db, "SELECT n_x, n_y, n_x_not_y FROM run_pair_per WHERE hash_x = ?1"
                           " AND hash_y = ?2 AND split = 'test' AND k = ?3", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, x->hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, y->hash, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, K);
        if (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < 3; i++) cnt[i] = sqlite3_column_int64(st, i);
            found = 1;
        }
    }
    sqlite3_finalize(st);
    if (found) return 1;
    const nb_hits *hx = report_ranks(set, x, err), *hy = hx ? report_ranks(set, y, err) : NULL;
    if (!hy || K > hx->k || K > hy->k) return 0;
    uint64_t *a = NULL, *b = NULL;
    cnt[0] = user_ranks_hit_set(hx, K, &a);
    cnt[1] = user_ranks_hit_set(hy, K, &b);
    cnt[2] = report_set_minus(a, cnt[0], b, cnt[1]);
    free(a);
    free(b);
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO run_pair_per (hash_x, hash_y, split, k,"
                           " n_x, n_y, n_x_not_y) VALUES (?1, ?2, 'test', ?3, ?4, ?5, ?6)", -1,
                           &st, NULL) != SQLITE_OK)
        return nb_fail(err, NB_ERR, "%s: cannot cache PER: %s", set->paths[x->store],
                       sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, x->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, y->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, K);
    for (int i = 0; i < 3; i++) sqlite3_bind_int64(st, 4 + i, cnt[i]);
    if (sqlite3_step(st) != SQLITE_DONE)
        status = nb_fail(err, NB_ERR, "%s: cannot cache PER: %s", set->paths[x->store],
                         sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return status ? status : 1;
}

int report_per_cross(const rp_opts *o)
{
    return o->per_seeds && !strcmp(o->per_seeds, "cross");
}

double report_per_value(rp_set *set, const rp_opts *o, const char *lx, const char *ly,
                        const char *g, int32_t K, int *pairs, char **err)
{
    double sum = 0.0;
    const int cross = report_per_cross(o);
    *pairs = 0;
    for (int i = 0; i < set->n_runs; i++) {
        rp_run *x = &set->runs[i];
        if (strcmp(x->status, "done") || strcmp(x->row, lx) || strcmp(x->col, g)) continue;
        for (int j = 0; j < set->n_runs; j++) {
            rp_run *y = &set->runs[j];
            if ((cross ? y->seed == x->seed : y->seed != x->seed) || strcmp(y->status, "done") ||
                strcmp(y->row, ly) || strcmp(y->col, g))
                continue;
            int64_t cnt[3];
            int rc = pair_counts(set, x, y, K, cnt, err);
            if (rc < 0) return NAN;
            if (rc == 0) continue;
            int64_t den = o->per_denom && !strcmp(o->per_denom, "x") ? cnt[0] : cnt[1];
            sum += den ? (double)cnt[2] / (double)den : 0.0;
            (*pairs)++;
            if (!cross) break;
        }
    }
    return *pairs ? sum / *pairs : NAN;
}

int32_t report_per_k(const rp_set *set, const rp_opts *o)
{
    int32_t K = o->n_ks ? o->ks[0] : 0;
    for (int i = 0; !o->n_ks && i < set->n_runs; i++)
        if (set->runs[i].report_k > K) K = set->runs[i].report_k;
    return K;
}

int report_per(rp_set *set, const rp_opts *o, FILE *out, char **err)
{
    int nr, ng, csv = !strcmp(o->format, "csv"), status = NB_OK;
    char **rows = report_labels(set, 1, &nr), **groups = report_labels(set, 0, &ng);
    int32_t K = report_per_k(set, o);
    if (csv) fputs("table,col,x,y,k,denominator,pairs,per\n", out);
    for (int g = 0; g < ng && !status; g++) {
        if (!csv) {
            fprintf(out, "%sPER(x, y) = |H_x \\ H_y| / |H_%s| at K = %d, %s (x: row, y: column%s)"
                    "\n\n| x \\ y", g ? "\n" : "", o->per_denom ? o->per_denom : "y", (int)K,
                    groups[g],
                    report_per_cross(o)
                        ? "; runs of different seeds paired: the diagonal is the seed floor"
                        : "");
            for (int y = 0; y < nr; y++) fprintf(out, " | %s", rows[y]);
            fputs(" |\n|---", out);
            for (int y = 0; y < nr; y++) fputs("|---", out);
            fputs("|\n", out);
        }
        for (int x = 0; x < nr && !status; x++) {
            if (!csv) fprintf(out, "| %s", rows[x]);
            for (int y = 0; y < nr; y++) {
                int pairs = 0;
                char *e = NULL;
                double v = report_per_value(set, o, rows[x], rows[y], groups[g], K, &pairs, &e);
                if (e) { status = nb_fail(err, NB_ERR, "%s", e); free(e); break; }
                if (csv)
                    fprintf(out, "per,%s,%s,%s,%d,%s,%d,%.10g\n", groups[g], rows[x], rows[y],
                            (int)K, o->per_denom ? o->per_denom : "y", pairs, v);
                else if (isnan(v)) fputs(" | –", out);
                else fprintf(out, " | %.4f", v);
            }
            if (!csv) fputs(" |\n", out);
        }
    }
    if (!status) report_print_left_out(set, o, out);
    for (int i = 0; i < nr; i++) free(rows[i]);
    for (int i = 0; i < ng; i++) free(groups[i]);
    free(rows);
    free(groups);
    return status;
}
