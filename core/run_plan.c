/*
 * run_plan.c - resolving, identifying and beginning one run (run_plan.h):
 * the steps a single run and each point of a sweep share.
 */
#define _GNU_SOURCE
#include "build_config.h"
#include "run_plan.h"
#include "sha256.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/git_revision.h" /* NB_GIT_REVISION, generated at each build */

void run_plan_init(nb_run_plan *p)
{
    memset(p, 0, sizeof *p);
    p->label = "";
    p->dup_of = -1;
}

/* The plugin of this kind and name, or NULL after diagnosing "unknown model
 * (did you mean ...)" at the position of map's name key (its own file when
 * the node came from an included file). */
static const nb_plugin *plan_find_plugin(const nb_registry *reg, const nb_config *cfg, int kind,
                                         const char *name, const nb_node *map, nb_diags *diags)
{
    const nb_plugin *p = registry_find(reg, kind, name);
    if (p) return p;
    const nb_node *n = map ? node_get(map, "name") : NULL;
    const char *file = n && n->file ? n->file : cfg->path;
    const char *near = registry_nearest(reg, kind, name);
    const char *what = kind == NB_KIND_MODEL ? "model" : "sampler";
    if (near)
        diags_add(diags, file, n ? n->line : 0, n ? n->col : 0,
                  "unknown %s \"%s\" (did you mean \"%s\"?)", what, name, near);
    else
        diags_add(diags, file, n ? n->line : 0, n ? n->col : 0,
                  "unknown %s \"%s\" (negbench plugins lists them)", what, name);
    return NULL;
}

/* The values of plugin p's parameters from map, one slot per schema entry
 * (*n of them, plus a spare); malloc'd. */
static nb_value *plan_values(const nb_config *cfg, const nb_node *map, const nb_plugin *p,
                             const char *const *host_keys, int *n, nb_diags *diags)
{
    *n = schema_count(p->desc->params);
    nb_value *v = nb_xcalloc((size_t)*n + 1, sizeof *v);
    config_plugin_values(cfg, map, p->desc->name, p->desc->params, host_keys, v, *n, diags);
    return v;
}

int run_plan_resolve(nb_run_plan *p, const nb_registry *reg, nb_diags *diags)
{
    static const char *const mkeys[] = { "name", "dim", NULL };
    static const char *const skeys[] = { "name", NULL };
    nb_config *c = &p->cfg;
    int before = diags->n;
    p->model = plan_find_plugin(reg, c, NB_KIND_MODEL, c->model, c->model_params, diags);
    p->sampler = plan_find_plugin(reg, c, NB_KIND_SAMPLER, c->sampler, c->sampler_params, diags);
    if (p->model) p->mvals = plan_values(c, c->model_params, p->model, mkeys, &p->n_mvals, diags);
    if (p->sampler)
        p->svals = plan_values(c, c->sampler_params, p->sampler, skeys, &p->n_svals, diags);
    return diags->n > before ? NB_EINVAL : NB_OK;
}

int run_plan_identify(nb_run_plan *p, const char *data_sum)
{
    p->json = config_to_json(&p->cfg, data_sum, p->model->desc->params, p->mvals, p->n_mvals,
                             p->sampler->desc->params, p->svals, p->n_svals);
    if (!p->json) return NB_EINVAL;
    memcpy(p->data_sum, data_sum, sizeof p->data_sum - 1);
    p->data_sum[sizeof p->data_sum - 1] = '\0';
    sha256_hex(p->json, strlen(p->json), p->hash);
    return NB_OK;
}

int run_plan_check(nb_store *s, nb_run_plan *p, int force, char **err)
{
    int64_t id = 0;
    int st = store_run_status(s, p->hash, &id, err);
    if (st < 0) return st;
    p->status = st;
    if (st != 1) return 0;
    if (!force) return 1;
    int rc = store_run_reopen(s, p->hash, err);
    return rc != NB_OK ? rc : 0;
}

int run_plan_begin(nb_store *s, const nb_run_plan *p, int64_t exp_id, const nb_dataset *ds,
                   int threads, int64_t *run_id, char **err)
{
    char hostname[256] = "unknown";
    gethostname(hostname, sizeof hostname - 1);
    const nb_plugin_desc *m = p->model->desc, *smp = p->sampler->desc;
    nb_run_info info = {
        .experiment_id = exp_id, .config_json = p->json, .config_hash = p->hash,
        .seed = (int64_t)p->cfg.train.seed, .model = m->name, .model_version = m->version,
        .sampler = smp->name, .sampler_version = smp->version,
        .dataset = ds ? ds->source : "(not loaded)",
        .data_checksum = ds ? ds->checksum : p->data_sum, .threads = threads, .host = hostname,
        .git_revision = NB_GIT_REVISION, .negbench_version = PACKAGE_VERSION,
    };
    return store_run_begin(s, &info, run_id, err);
}

void run_plan_free(nb_run_plan *p)
{
    config_free(&p->cfg);
    free(p->mvals);
    free(p->svals);
    free(p->json);
    run_plan_init(p);
}
