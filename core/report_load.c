/*
 * report_load.c - read the runs of results stores for negbench report:
 * open (and upgrade) every store, keep one run per config hash, apply the
 * experiment and --where filters, label rows and columns, load final test
 * metrics, timings, peak RSS and the mean of a sampler statistic; then the
 * planned points of the stores' sweeps (sweep_plan) that match the same
 * filters and have no run in any store: the missing runs.
 */
#define _GNU_SOURCE
#include "report.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "negbench/plugin.h"
#include "user_ranks.h"
#include "util.h"

/* One row per run with everything but the metrics. ?1 = statistic name. */
static const char run_sql[] =
    "SELECT r.id, r.config_hash, r.config_json, r.status, r.error, e.name, r.seed,"
    " ifnull(r.best_epoch, 0), r.epochs_run, ifnull(r.report_k, 0), r.peak_rss_bytes,"
    " (SELECT avg(train_seconds) FROM epoch WHERE run_id = r.id),"
    " (SELECT total(train_seconds) + total(eval_seconds) FROM epoch WHERE run_id = r.id),"
    " (SELECT avg(value) FROM sampler_stat WHERE run_id = r.id AND name = ?1)"
    " FROM run r JOIN experiment e ON e.id = r.experiment_id ORDER BY r.id";

static char *dup_col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? nb_xstrdup((const char *)t) : NULL;
}

static double col_num(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Last path component of s before its end (s is modified). */
static const char *base(char *s)
{
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/') s[--n] = '\0';
    char *slash = strrchr(s, '/');
    return slash ? slash + 1 : s;
}

/* The data set's label: the directory of data.train, else "synthetic". */
static char *data_label(sqlite3 *db, const char *json)
{
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, "SELECT json_extract(?1, '$.data.train'),"
                           " json_extract(?1, '$.data.synthetic')", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
            char *p = nb_xstrdup((const char *)sqlite3_column_text(st, 0));
            char *slash = strrchr(p, '/');
            if (slash && slash != p) *slash = '\0';
            out = nb_xstrdup(slash ? base(p) : p);
            free(p);
        } else {
            out = nb_xstrdup("synthetic");
        }
    }
    sqlite3_finalize(st);
    return out ? out : nb_xstrdup("?");
}

char *report_label(const char *json, const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *out = NULL, *jp = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) goto done;
    if (!strcmp(path, "data")) {
        out = data_label(db, json);
        goto done;
    }
    jp = nb_strf("$.%s", path);
    if (sqlite3_prepare_v2(db, "SELECT json_extract(?1, ?2)", -1, &st, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, jp, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = nb_xstrdup((const char *)sqlite3_column_text(st, 0));
done:
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(jp);
    return out ? out : nb_xstrdup("-");
}

/* Labels of several comma-separated paths joined by a space (malloc'd). A
 * path the run does not have ("-") is left out, so that with --rows
 * sampler.name,sampler.margin_init an RNS row reads "rns", not "rns -";
 * a run with none of the paths is "-". The path "experiment" is the run's
 * experiment name. */
static char *labels(const char *json, const char *experiment, const char *paths)
{
    char *list = nb_xstrdup(paths), *save = NULL, *out = NULL;
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        /* "experiment": the experiment's name, not a configuration path */
        char *l = !strcmp(p, "experiment") ? nb_xstrdup(experiment) : report_label(json, p);
        if (!strcmp(l, "-")) {
            free(l);
            continue;
        }
        char *n = out ? nb_strf("%s %s", out, l) : nb_xstrdup(l);
        free(out);
        free(l);
        out = n;
    }
    free(list);
    return out ? out : nb_xstrdup("-");
}

/* Numbers compare as numbers ("0.10" = "0.1"), else as text. */
static int same_value(const char *a, const char *b)
{
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (ea != a && !*ea && eb != b && !*eb) return x == y;
    return !strcmp(a, b);
}

/* Every --where path=value holds for json. */
static int matches(const char *json, const rp_opts *o)
{
    for (int i = 0; i < o->n_where; i++) {
        const char *eq = strchr(o->where[i], '=');
        char *path = nb_strf("%.*s", (int)(eq - o->where[i]), o->where[i]);
        char *v = report_label(json, path);
        int m = same_value(v, eq + 1);
        free(path);
        free(v);
        if (!m) return 0;
    }
    return 1;
}

/* Load the final test metrics of r from its store. */
static int load_metrics(sqlite3 *db, const char *path, rp_run *r, char **err)
{
    sqlite3_stmt *st = NULL;
    int status = NB_OK;
    if (sqlite3_prepare_v2(db, "SELECT metric, k, value FROM final_metric WHERE run_id = ?1"
                           " AND split = 'test' ORDER BY metric, k", -1, &st, NULL) != SQLITE_OK)
        return nb_fail(err, NB_ERR, "%s: cannot read final metrics: %s", path,
                       sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, r->id);
    while (sqlite3_step(st) == SQLITE_ROW && r->n_fm < NB_N_METRICS * NB_MAX_KS) {
        const char *m = (const char *)sqlite3_column_text(st, 0);
        for (int q = 0; q < NB_N_METRICS; q++)
            if (m && !strcmp(m, nb_metric_names[q])) {
                r->fm[r->n_fm].metric = q;
                r->fm[r->n_fm].k = sqlite3_column_int(st, 1);
                r->fm[r->n_fm++].value = col_num(st, 2);
            }
    }
    sqlite3_finalize(st);
    return status;
}

/* Index of the run with this hash among the first n, or -1. */
static int find_hash(const rp_set *set, const char *hash)
{
    for (int i = 0; i < set->n_runs; i++)
        if (!strcmp(set->runs[i].hash, hash)) return i;
    return -1;
}

/* Read one store's runs into set. */
static int load_store(rp_set *set, int si, const rp_opts *o, int *cap, char **err)
{
    sqlite3 *db = store_db(set->stores[si]);
    sqlite3_stmt *st = NULL;
    int status = NB_OK;
    if (sqlite3_prepare_v2(db, run_sql, -1, &st, NULL) != SQLITE_OK)
        return nb_fail(err, NB_ERR, "%s: cannot read runs: %s", set->paths[si],
                       sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, o->stat ? o->stat : "dns_overlap", -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(st, 1);
        const char *json = (const char *)sqlite3_column_text(st, 2);
        const char *stat = (const char *)sqlite3_column_text(st, 3);
        const char *exp = (const char *)sqlite3_column_text(st, 5);
        if (o->experiment && strcmp(exp, o->experiment)) continue;
        if (!matches(json, o)) continue;
        int dup = find_hash(set, hash);
        if (dup >= 0 && (strcmp(stat, "done") || !strcmp(set->runs[dup].status, "done")))
            continue; /* counted once: the first finished copy wins */
        if (dup < 0 && set->n_runs == *cap) {
            *cap = *cap ? 2 * *cap : 64;
            set->runs = nb_xrealloc(set->runs, (size_t)*cap * sizeof *set->runs);
        }
        rp_run *r = &set->runs[dup >= 0 ? dup : set->n_runs++];
        if (dup >= 0) {
            free(r->hash); free(r->json); free(r->status); free(r->error);
            free(r->experiment); free(r->row); free(r->col);
        }
        memset(r, 0, sizeof *r);
        r->store = si;
        r->id = sqlite3_column_int64(st, 0);
        r->hash = nb_xstrdup(hash);
        r->json = nb_xstrdup(json);
        r->status = nb_xstrdup(stat);
        r->error = dup_col(st, 4);
        r->experiment = nb_xstrdup(exp);
        r->seed = sqlite3_column_int64(st, 6);
        r->best_epoch = sqlite3_column_int(st, 7);
        r->epochs_run = sqlite3_column_int(st, 8);
        r->report_k = sqlite3_column_int(st, 9);
        r->peak_rss_mb = col_num(st, 10) / 1048576.0;
        r->sec_epoch = col_num(st, 11);
        r->total_sec = col_num(st, 12);
        r->stat_mean = col_num(st, 13);
        r->row = labels(json, exp, o->rows);
        r->col = labels(json, exp, o->cols);
        if ((status = load_metrics(db, set->paths[si], r, err))) break;
    }
    sqlite3_finalize(st);
    return status;
}

/* Keep a planned point as missing when it matches the filters and has no
 * run in any store (set->runs holds every matching run of every store) and
 * is not missing already (planned by several stores or the grid too). */
static void add_missing(rp_set *set, const rp_opts *o, const char *source, const char *hash,
                        const char *exp, const char *label, const char *json, int *cap)
{
    if (!hash || !exp || !json) return;
    if ((o->experiment && strcmp(exp, o->experiment)) || !matches(json, o) ||
        find_hash(set, hash) >= 0)
        return;
    for (int i = 0; i < set->n_missing; i++)
        if (!strcmp(set->missing[i].hash, hash)) return;
    if (set->n_missing == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        set->missing = nb_xrealloc(set->missing, (size_t)*cap * sizeof *set->missing);
    }
    set->missing[set->n_missing++] = (rp_missing){
        .source = source, .hash = nb_xstrdup(hash), .label = nb_xstrdup(label ? label : ""),
        .experiment = nb_xstrdup(exp), .row = labels(json, exp, o->rows),
        .col = labels(json, exp, o->cols),
        .seed = report_label(json, "train.seed")};
}

/* The planned points of one store (table sweep_plan) that are missing. */
static int load_plan(rp_set *set, int si, const rp_opts *o, int *cap, char **err)
{
    sqlite3 *db = store_db(set->stores[si]);
    sqlite3_stmt *st = NULL;
    int status = NB_OK, rc;
    if (sqlite3_prepare_v2(db, "SELECT config_hash, experiment, label, config_json"
                           " FROM sweep_plan ORDER BY experiment, position", -1, &st,
                           NULL) != SQLITE_OK)
        return nb_fail(err, NB_ERR, "%s: cannot read the sweep plan: %s", set->paths[si],
                       sqlite3_errmsg(db));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        add_missing(set, o, set->paths[si], (const char *)sqlite3_column_text(st, 0),
                    (const char *)sqlite3_column_text(st, 1),
                    (const char *)sqlite3_column_text(st, 2),
                    (const char *)sqlite3_column_text(st, 3), cap);
    if (rc != SQLITE_DONE)
        status = nb_fail(err, NB_ERR, "%s: cannot read the sweep plan: %s", set->paths[si],
                         sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return status;
}

int report_load(char **paths, int n_paths, const rp_opts *o, rp_set *set, char **err)
{
    int status = NB_OK, cap = 0, mcap = 0;
    memset(set, 0, sizeof *set);
    set->paths = paths;
    set->stores = nb_xcalloc((size_t)n_paths, sizeof *set->stores);
    for (int i = 0; i < n_paths; i++) {
        if (access(paths[i], F_OK) != 0)
            return nb_fail(err, NB_EINVAL, "%s: no such results store", paths[i]);
        if ((status = store_open(paths[i], &set->stores[i], err))) return status;
        set->n_stores = i + 1;
        if ((status = load_store(set, i, o, &cap, err))) return status;
    }
    /* the plans once every store's runs are known: a point run in any store
     * is not missing */
    for (int i = 0; i < n_paths && !status; i++) status = load_plan(set, i, o, &mcap, err);
    for (int i = 0; !status && i < o->n_plan_points; i++) {
        const nb_plan_point *p = &o->plan_points[i];
        add_missing(set, o, o->plan_path, p->config_hash, o->plan_experiment, p->label,
                    p->config_json, &mcap);
    }
    return status;
}

int report_planned(const rp_set *set, const char *row, const char *col)
{
    int n = 0;
    for (int i = 0; i < set->n_runs; i++)
        n += !strcmp(set->runs[i].row, row) && !strcmp(set->runs[i].col, col);
    for (int i = 0; i < set->n_missing; i++)
        n += !strcmp(set->missing[i].row, row) && !strcmp(set->missing[i].col, col);
    return n;
}

void report_set_free(rp_set *set)
{
    for (int i = 0; i < set->n_runs; i++) {
        rp_run *r = &set->runs[i];
        free(r->hash); free(r->json); free(r->status); free(r->error);
        free(r->experiment); free(r->row); free(r->col);
        hits_free(&r->ranks);
        free(r->uv);
    }
    free(set->runs);
    for (int i = 0; i < set->n_missing; i++) {
        rp_missing *m = &set->missing[i];
        free(m->hash); free(m->label); free(m->experiment); free(m->row); free(m->col);
        free(m->seed);
    }
    free(set->missing);
    for (int i = 0; i < set->n_stores; i++) store_close(set->stores[i]);
    free(set->stores);
    memset(set, 0, sizeof *set);
}

const nb_hits *report_ranks(rp_set *set, rp_run *r, char **err)
{
    sqlite3 *db = store_db(set->stores[r->store]);
    sqlite3_stmt *st = NULL;
    if (r->ranks_state) return r->ranks_state > 0 ? &r->ranks : NULL;
    r->ranks_state = -1;
    if (sqlite3_prepare_v2(db, "SELECT n_users, k, data FROM user_ranks WHERE run_id = ?1"
                           " AND split = 'test'", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(st, 1, r->id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        char *what = nb_strf("%s: run %lld", set->paths[r->store], (long long)r->id);
        if (user_ranks_decode(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
                              sqlite3_column_int(st, 0), sqlite3_column_int(st, 1), what,
                              &r->ranks, err) == NB_OK)
            r->ranks_state = 1;
        free(what);
    }
    sqlite3_finalize(st);
    return r->ranks_state > 0 ? &r->ranks : NULL;
}

/* Paper order of the samplers; others after them. */
static int sampler_rank(const char *s)
{
    static const char *const order[] = {"rns", "pns", "dns", "srns", "mixgcf", "dens", "ans"};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (!strcmp(s, order[i])) return (int)i;
    return 99;
}

int report_label_cmp(const char *a, const char *b)
{
    int ra = sampler_rank(a), rb = sampler_rank(b);
    if (ra != rb) return ra - rb;
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (ea != a && !*ea && eb != b && !*eb && x != y) return x < y ? -1 : 1;
    return strcmp(a, b);
}
