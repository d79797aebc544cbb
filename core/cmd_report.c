/*
 * cmd_report.c - negbench report STORE... [options]: tables of a paper from
 * results stores (report.h does the work; docs/reporting.md documents it).
 * --plan GRID.yaml loads and hashes a grid as negbench run does, so that
 * its points without a run are listed as missing also for stores whose
 * sweeps recorded no plan (schema before version 3).
 */
#define _GNU_SOURCE
#include "cli.h"
#include "report.h"
#include "sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void report_usage(FILE *out)
{
    fputs("usage: negbench report STORE... [options]\n"
          "  --table T          main (default), per, overlap, ablation, efficiency, sensitivity\n"
          "  --format F         md (default), latex, csv\n"
          "  --rows PATH        row labels (default sampler.name; ablation sampler.variant)\n"
          "  --cols PATH[,P]    column groups (default data,model.name; data for the others)\n"
          "  --where PATH=V     keep runs whose resolved config has PATH = V (repeatable)\n"
          "  --experiment NAME  keep the runs of this experiment\n"
          "  --metrics LIST     recall,ndcg,hit (default), precision, mrr\n"
          "  --k K[,K]          cut-offs (default every K stored; PER: the largest)\n"
          "  --gain LABEL       print LABEL's gain over the best other row per column\n"
          "  --ref LABEL        reference row of the significance marks (default --gain,\n"
          "                     else the best row of each column)\n"
          "  --test T           per-user test of the * mark: wilcoxon (default) or ttest\n"
          "  --alpha A          level of the marks, Holm-adjusted (default 0.05)\n"
          "  --stat NAME        sampler statistic of --table overlap (default dns_overlap)\n"
          "  --param PATH       the swept parameter of --table sensitivity (its rows)\n"
          "  --per-denom y|x    PER denominator |H_y| (default) or |H_x|\n"
          "  --per-seeds same|cross  PER pairs runs of the same seed (default) or of\n"
          "                     different seeds (the diagonal is then the seed-to-seed floor)\n"
          "  --plan GRID.yaml   also list this grid's points that no store has a run of\n"
          "                     (for stores whose sweeps recorded no plan)\n"
          "  --plan-threads N   the --threads the grid was run with, if any (part of\n"
          "                     each run's identity)\n", out);
}

int cli_report_defaults(rp_opts *o, const char *param, const char *cmd)
{
    static const char *const tables[] = {"main", "per", "overlap", "ablation", "efficiency",
                                         "sensitivity"};
    int known = 0;
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) known |= !strcmp(o->table, tables[i]);
    if (!known) {
        fprintf(stderr, "negbench %s: unknown table \"%s\"\n", cmd, o->table);
        return 1;
    }
    if (strcmp(o->format, "md") && strcmp(o->format, "latex") && strcmp(o->format, "csv")) {
        fprintf(stderr, "negbench %s: unknown format \"%s\" (md, latex, csv)\n", cmd, o->format);
        return 1;
    }
    if (!strcmp(o->table, "sensitivity")) {
        if (!param && !o->rows) {
            fprintf(stderr, "negbench %s: sensitivity needs --param PATH\n", cmd);
            return 1;
        }
        if (!o->rows) o->rows = param;
        if (!o->metrics) o->metrics = "recall";
    }
    if (!o->rows) o->rows = !strcmp(o->table, "ablation") ? "sampler.variant" : "sampler.name";
    if (!o->cols) o->cols = !strcmp(o->table, "main") ? "data,model.name" : "data";
    if (!o->metrics) o->metrics = "recall,ndcg,hit";
    if (!o->stat) o->stat = "dns_overlap";
    if (o->per_denom && strcmp(o->per_denom, "x") && strcmp(o->per_denom, "y")) {
        fprintf(stderr, "negbench %s: --per-denom is x or y\n", cmd);
        return 1;
    }
    if (o->per_seeds && strcmp(o->per_seeds, "same") && strcmp(o->per_seeds, "cross")) {
        fprintf(stderr, "negbench %s: --per-seeds is same or cross\n", cmd);
        return 1;
    }
    return 0;
}

int cli_int_list(const char *s, int32_t *out, int *n, int max, long lo, long hi)
{
    char *list = nb_xstrdup(s), *save = NULL, *end;
    int bad = 0;
    for (char *t = strtok_r(list, ",", &save); t && !bad; t = strtok_r(NULL, ",", &save)) {
        long v = strtol(t, &end, 10);
        bad = *end || v < lo || v > hi || *n == max;
        if (!bad) out[(*n)++] = (int32_t)v;
    }
    free(list);
    return bad;
}

int cli_report_option(rp_opts *o, const char *a, const char *v, const char **param)
{
    if (!strcmp(a, "--table")) o->table = v;
    else if (!strcmp(a, "--format")) o->format = v;
    else if (!strcmp(a, "--rows")) o->rows = v;
    else if (!strcmp(a, "--cols")) o->cols = v;
    else if (!strcmp(a, "--experiment")) o->experiment = v;
    else if (!strcmp(a, "--metrics")) o->metrics = v;
    else if (!strcmp(a, "--gain")) o->gain = v;
    else if (!strcmp(a, "--ref")) o->ref = v;
    else if (!strcmp(a, "--test")) {
        if (strcmp(v, "wilcoxon") && strcmp(v, "ttest")) return -1;
        o->test = v;
    } else if (!strcmp(a, "--alpha")) {
        if (!((o->alpha = atof(v)) > 0 && o->alpha < 1)) return -1;
    } else if (!strcmp(a, "--stat")) o->stat = v;
    else if (!strcmp(a, "--param")) *param = v;
    else if (!strcmp(a, "--per-denom")) o->per_denom = v;
    else if (!strcmp(a, "--per-seeds")) o->per_seeds = v;
    else if (!strcmp(a, "--k")) {
        if (cli_int_list(v, o->ks, &o->n_ks, NB_MAX_KS, 1, 100000)) return -1;
    } else if (!strcmp(a, "--where")) {
        if (!strchr(v, '=') || strchr(v, '=') == v || o->n_where >= RP_MAX_WHERE) return -1;
        o->where[o->n_where++] = v;
    } else return 0;
    return 1;
}

/* Parse argv into o and the store list (--plan-threads into *plan_threads,
 * -1 when absent); 0 ok, else an exit status. */
static int parse(int argc, char **argv, rp_opts *o, char ***stores, int *n_stores,
                 int *plan_threads)
{
    const char *param = NULL;
    *stores = nb_xcalloc((size_t)argc + 1, sizeof **stores);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' || a[1] != '-') { (*stores)[(*n_stores)++] = argv[i]; continue; }
        if (!v) { fprintf(stderr, "negbench report: %s needs a value\n", a); return NB_EXIT_USAGE; }
        i++;
        if (!strcmp(a, "--plan")) { o->plan_path = v; continue; }
        if (!strcmp(a, "--plan-threads")) {
            char *end;
            long t = strtol(v, &end, 10);
            if (!*v || *end || t < 0 || t > 1024) {
                fprintf(stderr, "negbench report: --plan-threads takes 0 to 1024, got \"%s\"\n", v);
                return NB_EXIT_USAGE;
            }
            *plan_threads = (int)t;
            continue;
        }
        if (cli_report_option(o, a, v, &param) != 1) {
            fprintf(stderr, "negbench report: bad option %s %s (see negbench report --help)\n", a, v);
            return NB_EXIT_USAGE;
        }
    }
    if (!*n_stores) {
        report_usage(stderr);
        return NB_EXIT_USAGE;
    }
    return cli_report_defaults(o, param, "report") ? NB_EXIT_USAGE : 0;
}

/* The distinct runs of the grid at o->plan_path as o's plan points (the
 * grid validated and hashed as negbench run does); 0 or an exit status. */
static int load_grid_plan(rp_opts *o, int threads, nb_registry *reg, nb_sweep *sw,
                          nb_plan_point **points)
{
    int status = cli_load_sweep(o->plan_path, threads, reg, sw);
    if (status) return status;
    *points = nb_xcalloc((size_t)sw->n + 1, sizeof **points);
    for (int i = 0; i < sw->n; i++) {
        const nb_sweep_run *r = &sw->runs[i];
        if (r->dup_of < 0)
            (*points)[o->n_plan_points++] = (nb_plan_point){r->hash, r->label, r->json, r->rank};
    }
    o->plan_points = *points;
    o->plan_experiment = sw->name;
    return 0;
}

int cmd_report(int argc, char **argv)
{
    rp_opts o = {.table = "main", .format = "md", .test = "wilcoxon", .alpha = 0.05};
    rp_set set;
    nb_registry reg = {0};
    nb_sweep sw;
    nb_plan_point *points = NULL;
    char **stores = NULL, *err = NULL;
    int n_stores = 0, status, plan_threads = -1;
    memset(&sw, 0, sizeof sw);
    if (cli_wants_help(argc, argv)) {
        report_usage(stdout);
        return NB_EXIT_OK;
    }
    if ((status = parse(argc, argv, &o, &stores, &n_stores, &plan_threads))) goto out;
    if (o.plan_path && (status = load_grid_plan(&o, plan_threads, &reg, &sw, &points))) goto out;
    if (report_load(stores, n_stores, &o, &set, &err) ||
        (!strcmp(o.table, "per") ? report_per(&set, &o, stdout, &err)
                                 : report_table(&set, &o, stdout, &err))) {
        fprintf(stderr, "negbench report: %s\n", err ? err : "failed");
        status = NB_EXIT_USAGE;
    }
    report_set_free(&set);
out:
    free(points);
    if (o.plan_path) {
        sweep_free(&sw);
        registry_free(&reg);
    }
    free(stores);
    free(err);
    return status;
}
