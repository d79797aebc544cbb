/*
 * sweep.c - resolving, validating and identifying the points of a grid, and
 * their status in a store (see sweep.h). Each point is a run plan
 * (run_plan.h), resolved and identified as a single run is; running them is
 * sweep_exec.c's.
 */
#define _GNU_SOURCE
#include "build_config.h"
#include "sweep.h"
#include "dataset.h"
#include "run_plan.h"
#include "sha256.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- resolution and validation ---------------------------------------- */

/* Every block of sampler_params / model_params names a known plugin. */
static void check_block_names(const nb_registry *reg, const nb_node *b, int kind, nb_diags *d)
{
    const char *what = kind == NB_KIND_MODEL ? "model" : "sampler";
    for (int i = 0; b && b->kind == NB_NODE_MAP && i < b->n; i++) {
        if (registry_find(reg, kind, b->keys[i])) continue;
        const char *near = registry_nearest(reg, kind, b->keys[i]);
        if (near)
            diags_add(d, node_key_file(b, i), b->key_line[i], b->key_col[i],
                      "%s_params: unknown %s \"%s\" (did you mean \"%s\"?)", what, what,
                      b->keys[i], near);
        else
            diags_add(d, node_key_file(b, i), b->key_line[i], b->key_col[i],
                      "%s_params: unknown %s \"%s\" (negbench plugins lists them)", what, what,
                      b->keys[i]);
    }
}

/* Resolve point i into run r (run_plan_resolve); problems go to d. */
static void resolve_point(nb_sweep *sw, int i, nb_diags *d)
{
    nb_sweep_run *r = &sw->runs[i];
    nb_grid_point *pt = &sw->grid.points[i];
    run_plan_init(r);
    r->label = pt->label;
    nb_node *tree = pt->tree;
    pt->tree = NULL;
    if (config_load_tree(sw->grid.path, sw->grid.text, tree, &r->cfg, d) != 0) return;
    run_plan_resolve(r, sw->reg, d);
}

/* A small cache of data checksums by file triple (a grid reads few data sets). */
typedef struct sum_cache {
    int n;
    char *key[64];
    char sum[64][65];
} sum_cache;

static int data_sum(sum_cache *c, const nb_data_spec *s, char out[65], char **err)
{
    if (s->synthetic) return dataset_checksum(s, out, err);
    char *key = nb_strf("%s\n%s\n%s", s->train_path ? s->train_path : "",
                        s->valid_path ? s->valid_path : "", s->test_path ? s->test_path : "");
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->key[i], key)) {
            memcpy(out, c->sum[i], 65);
            free(key);
            return 0;
        }
    int rc = dataset_checksum(s, out, err);
    if (rc == 0 && c->n < 64) {
        c->key[c->n] = key;
        memcpy(c->sum[c->n++], out, 65);
    } else {
        free(key);
    }
    return rc;
}

int sweep_load(const char *path, const nb_registry *reg, int threads, nb_sweep *sw,
               nb_diags *diags)
{
    nb_diags pd = {0};
    sum_cache cache = {0};
    int before = diags->n;
    char *err = NULL;
    memset(sw, 0, sizeof *sw);
    sw->reg = reg;
    if (grid_load(path, &sw->grid, diags) != 0) goto out;
    check_block_names(reg, sw->grid.sampler_blocks, NB_KIND_SAMPLER, diags);
    check_block_names(reg, sw->grid.model_blocks, NB_KIND_MODEL, diags);
    sw->n = sw->grid.n_points;
    sw->runs = nb_xcalloc((size_t)sw->n, sizeof *sw->runs);
    for (int i = 0; i < sw->n; i++) {
        resolve_point(sw, i, &pd);
        diags_add_unique(diags, &pd);
        diags_free(&pd);
    }
    if (diags->n > before) goto out;
    sw->name = nb_xstrdup(sw->runs[0].cfg.name);
    for (int i = 0; i < sw->n; i++) {
        nb_sweep_run *r = &sw->runs[i];
        char sum[65];
        if (threads >= 0) r->cfg.train.threads = threads;
        if (data_sum(&cache, &r->cfg.data, sum, &err) != 0) {
            diags_add(diags, NULL, 0, 0, "%s", err);
            free(err);
            err = NULL;
            continue;
        }
        if (run_plan_identify(r, sum) != 0) {
            diags_add(diags, NULL, 0, 0, "run %d: plugin values do not match their schemas", i);
            continue;
        }
        for (int j = 0; j < i && r->dup_of < 0; j++)
            if (sw->runs[j].dup_of < 0 && !strcmp(sw->runs[j].hash, r->hash)) r->dup_of = j;
        r->rank = r->dup_of < 0 ? sw->n_distinct++ : -1;
    }
    if (diags->n == before) {
        nb_sha256 h;
        sha256_init(&h);
        for (int i = 0; i < sw->n; i++) {
            sha256_update(&h, sw->runs[i].hash, 64);
            sha256_update(&h, "\n", 1);
        }
        sha256_final_hex(&h, sw->identity);
    }
out:
    for (int i = 0; i < cache.n; i++) free(cache.key[i]);
    diags_free(&pd);
    if (diags->n > before) {
        sweep_free(sw);
        return NB_EINVAL;
    }
    return 0;
}

void sweep_free(nb_sweep *sw)
{
    if (!sw) return;
    for (int i = 0; i < sw->n; i++) run_plan_free(&sw->runs[i]);
    free(sw->runs);
    free(sw->name);
    grid_free(&sw->grid);
    memset(sw, 0, sizeof *sw);
}

char *sweep_default_db(const nb_sweep *sw)
{
    mkdir("results", 0777);
    return nb_strf("results/%s.sqlite", sw->name);
}

int sweep_read_status(nb_sweep *sw, const char *db, char **err)
{
    struct stat st;
    nb_store *s = NULL;
    int rc = 0;
    for (int i = 0; i < sw->n; i++) sw->runs[i].status = 0;
    if (stat(db, &st) != 0) return 0;
    if ((rc = store_open_readonly(db, &s, err)) != 0) return rc;
    for (int i = 0; i < sw->n; i++) {
        int64_t id;
        int r = store_run_status(s, sw->runs[i].hash, &id, err);
        if (r < 0) {
            rc = r;
            break;
        }
        sw->runs[i].status = r;
    }
    store_close(s);
    return rc;
}

int sweep_in_shard(const nb_sweep *sw, int i, int index, int count)
{
    const nb_sweep_run *r = &sw->runs[i];
    return r->dup_of < 0 && (count <= 0 || r->rank % count == index);
}
