/*
 * config_json.c - the canonical JSON of a resolved run (its identity).
 *
 * Objects have their keys sorted (strcmp), there is no whitespace, floats
 * print with "%.17g" (exact round trip), integers plainly, NaN/Inf as null,
 * choices as their words. The experiment's name and description are left
 * out on purpose: renaming a file or editing its prose does not change what
 * runs, so it must not change the run's identity (hash). train.threads is
 * in: a different thread count may give different bits. Data paths appear
 * as resolved (environment expanded, joined to the YAML's directory);
 * the data checksum pins the content.
 */
#include "config.h"
#include "plugin_loader.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An object under construction: key/value pairs, values already rendered. */
typedef struct jobj {
    int n, cap;
    char **key, **val;
} jobj;

static void jobj_put(jobj *o, const char *key, char *val /* taken */)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 16;
        o->key = nb_xrealloc(o->key, (size_t)o->cap * sizeof *o->key);
        o->val = nb_xrealloc(o->val, (size_t)o->cap * sizeof *o->val);
    }
    o->key[o->n] = nb_xstrdup(key);
    o->val[o->n++] = val;
}

static char *json_str(const char *s)
{
    if (!s) return nb_xstrdup("null");
    size_t n = strlen(s), len = 0;
    char *out = nb_xmalloc(6 * n + 3);
    out[len++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') out[len++] = '\\', out[len++] = (char)*p;
        else if (*p < 0x20) len += (size_t)sprintf(out + len, "\\u%04x", *p);
        else out[len++] = (char)*p;
    }
    out[len++] = '"';
    out[len] = '\0';
    return out;
}

static char *json_num(double x)
{
    return isfinite(x) ? nb_strf("%.17g", x) : nb_xstrdup("null");
}

static char *json_int(int64_t x) { return nb_strf("%lld", (long long)x); }

static char *json_bool(int b) { return nb_xstrdup(b ? "true" : "false"); }

/* The word at index k of "a|b|c" (malloc'd JSON string), null if absent. */
static char *json_choice(const char *choices, int64_t k)
{
    const char *p = choices;
    for (int64_t i = 0; p && i < k; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p || k < 0) return nb_xstrdup("null");
    const char *bar = strchr(p, '|');
    char *w = bar ? strndup(p, (size_t)(bar - p)) : nb_xstrdup(p);
    char *s = json_str(w);
    free(w);
    return s;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Render with sorted keys and free the builder. */
static char *jobj_done(jobj *o)
{
    char ***order = nb_xmalloc(((size_t)o->n + 1) * sizeof *order);
    size_t len = 2;
    for (int i = 0; i < o->n; i++) {
        order[i] = &o->key[i];
        len += strlen(o->key[i]) * 6 + strlen(o->val[i]) + 4;
    }
    qsort(order, (size_t)o->n, sizeof *order, key_cmp);
    char *out = nb_xmalloc(len + 1), *p = out;
    *p++ = '{';
    for (int j = 0; j < o->n; j++) {
        int i = (int)(order[j] - o->key);
        char *k = json_str(o->key[i]);
        p += sprintf(p, "%s%s:%s", j ? "," : "", k, o->val[i]);
        free(k);
    }
    *p++ = '}';
    *p = '\0';
    for (int i = 0; i < o->n; i++) free(o->key[i]), free(o->val[i]);
    free(o->key);
    free(o->val);
    free(order);
    memset(o, 0, sizeof *o);
    return out;
}

/* A parameter appended to a released schema (NB_PARAM_ADDED) at its
 * default value: left out of the identity. */
static int param_at_added_default(const nb_param_spec *sp, const nb_value *value)
{
    if (!(sp->type & NB_PARAM_ADDED) || !sp->def) return 0;
    nb_value def = { 0 };
    switch (nb_param_type(sp)) {
    case NB_PARAM_FLOAT: return strtod(sp->def, NULL) == value->f;
    case NB_PARAM_BOOL: return (!strcmp(sp->def, "true")) == (value->i != 0);
    case NB_PARAM_CHOICE: {
        char *word = json_choice(sp->choices, value->i); /* "\"word\"" */
        size_t n = strlen(sp->def);
        int same = strlen(word) == n + 2 && !strncmp(word + 1, sp->def, n);
        free(word);
        return same;
    }
    default: def.i = strtoll(sp->def, NULL, 10); return def.i == value->i;
    }
}

static void json_params(jobj *o, const nb_param_spec *schema, const nb_value *values)
{
    for (int s = 0; schema && schema[s].name; s++) {
        const nb_param_spec *sp = &schema[s];
        char *v;
        if (param_at_added_default(sp, &values[s])) continue;
        switch (nb_param_type(sp)) {
        case NB_PARAM_FLOAT: v = json_num(values[s].f); break;
        case NB_PARAM_BOOL: v = json_bool(values[s].i != 0); break;
        case NB_PARAM_CHOICE: v = json_choice(sp->choices, values[s].i); break;
        default: v = json_int(values[s].i); break;
        }
        jobj_put(o, sp->name, v);
    }
}

static char *json_data(const nb_data_spec *d, const char *checksum)
{
    static const char *const formats[] = {"auto", "lines", "inter", "csv"};
    static const char *const splits[] = {"given", "ratio", "time_global", "time_user"};
    jobj o = {0}, syn = {0};
    jobj_put(&o, "checksum", json_str(checksum));
    jobj_put(&o, "cutoff", json_num(d->cutoff));
    jobj_put(&o, "cutoff_quantile", json_num(d->cutoff_quantile));
    jobj_put(&o, "format", json_str(d->format >= 0 && d->format < 4 ? formats[d->format] : NULL));
    jobj_put(&o, "min_rating", json_num(d->min_rating));
    char *r0 = json_num(d->ratio[0]), *r1 = json_num(d->ratio[1]), *r2 = json_num(d->ratio[2]);
    jobj_put(&o, "ratio", nb_strf("[%s,%s,%s]", r0, r1, r2));
    free(r0), free(r1), free(r2);
    jobj_put(&o, "seed", nb_strf("%llu", (unsigned long long)d->seed));
    jobj_put(&o, "split", json_str(d->split >= 0 && d->split < 4 ? splits[d->split] : NULL));
    if (d->synthetic) {
        jobj_put(&syn, "items", json_int(d->syn_items));
        jobj_put(&syn, "per_user", json_num(d->syn_per_user));
        jobj_put(&syn, "pop_skew", json_num(d->syn_pop_skew));
        jobj_put(&syn, "rank", json_int(d->syn_rank));
        jobj_put(&syn, "test_share", json_num(d->syn_test_share));
        jobj_put(&syn, "users", json_int(d->syn_users));
        jobj_put(&o, "synthetic", jobj_done(&syn));
    } else {
        jobj_put(&o, "synthetic", nb_xstrdup("null"));
    }
    jobj_put(&o, "test", json_str(d->test_path));
    jobj_put(&o, "train", json_str(d->train_path));
    jobj_put(&o, "valid", json_str(d->valid_path));
    jobj_put(&o, "valid_share", json_num(d->valid_share));
    return jobj_done(&o);
}

static int ks_cmp(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static char *json_eval(const nb_eval_cfg *e)
{
    jobj o = {0};
    int32_t ks[NB_MAX_KS];
    int n = e->opts.n_ks < 0 ? 0 : e->opts.n_ks > NB_MAX_KS ? NB_MAX_KS : e->opts.n_ks;
    memcpy(ks, e->opts.ks, (size_t)n * sizeof *ks);
    qsort(ks, (size_t)n, sizeof *ks, ks_cmp); /* topk order is not identity */
    char *list = nb_strf("[");
    for (int i = 0; i < n; i++) {
        char *t = nb_strf("%s%s%d", list, i ? "," : "", (int)ks[i]);
        free(list);
        list = t;
    }
    char *t = nb_strf("%s]", list);
    free(list);
    jobj_put(&o, "every", json_int(e->every));
    /* eval.first, eval.min_epochs, eval.min_steps and train.drop_last appear only when not
     * their defaults (first = every, 0, false), like train.adam_defer: the
     * identities of runs stored before these keys existed stay as they were */
    if (e->first != e->every) jobj_put(&o, "first", json_int(e->first));
    if (e->n_hist_epochs > 0) { /* only when used: older run hashes stay valid */
        char *eps = nb_strf("[");
        for (int i = 0; i < e->n_hist_epochs; i++) {
            char *u = nb_strf("%s%s%d", eps, i ? "," : "", (int)e->hist_epochs[i]);
            free(eps);
            eps = u;
        }
        char *u = nb_strf("%s]", eps);
        free(eps);
        jobj_put(&o, "histogram_bins", json_int(e->hist_bins));
        jobj_put(&o, "histogram_epochs", u);
        jobj_put(&o, "histogram_pairs", json_int(e->hist_pairs));
    }
    jobj_put(&o, "metric", json_str(e->metric));
    if (e->min_epochs != 0) jobj_put(&o, "min_epochs", json_int(e->min_epochs));
    if (e->min_steps != 0) jobj_put(&o, "min_steps", json_int(e->min_steps));
    jobj_put(&o, "patience", json_int(e->patience));
    jobj_put(&o, "report_k", json_int(e->opts.report_k));
    jobj_put(&o, "test_every_eval", json_bool(e->test_every_eval));
    jobj_put(&o, "topk", t);
    return jobj_done(&o);
}

static char *json_train(const nb_train_opts *t)
{
    jobj o = {0};
    jobj_put(&o, "adam", json_str(t->adam_mode == NB_ADAM_LAZY ? "lazy" : "dense"));
    /* only when not "auto" (the default), so the identities of runs stored
     * before the key existed stay as they were: those runs deferred always
     * ("on"), which differs from what auto picks only in float rounding */
    if (t->adam_defer != NB_DEFER_AUTO)
        jobj_put(&o, "adam_defer", json_str(t->adam_defer == NB_DEFER_ON ? "on" : "off"));
    jobj_put(&o, "adam_eps", json_num(t->adam_eps));
    jobj_put(&o, "batch_mode", json_str(t->batch_mode == NB_BATCH_RECBOLE ? "recbole" : "positives"));
    jobj_put(&o, "batch_size", json_int(t->batch_size));
    jobj_put(&o, "beta1", json_num(t->beta1));
    jobj_put(&o, "beta2", json_num(t->beta2));
    if (t->drop_last) jobj_put(&o, "drop_last", json_bool(1)); /* see json_eval */
    jobj_put(&o, "epochs", json_int(t->epochs));
    jobj_put(&o, "lr", json_num(t->lr));
    jobj_put(&o, "reg", json_str(t->reg_form == NB_REG_SQUARED ? "squared" : "norm"));
    jobj_put(&o, "reg_weight", json_num(t->reg_weight));
    jobj_put(&o, "seed", nb_strf("%llu", (unsigned long long)t->seed));
    jobj_put(&o, "threads", json_int(t->threads));
    return jobj_done(&o);
}

/* The canonical JSON described at the top of this file; malloc'd, the
 * caller frees. data_checksum may be NULL (null); a schema may be NULL (no
 * parameters), else values holds n values, one per schema entry: NULL when
 * a count does not match its schema. */
char *config_to_json(const nb_config *cfg, const char *data_checksum,
                     const nb_param_spec *model_schema, const nb_value *model_values,
                     int n_model_values, const nb_param_spec *sampler_schema,
                     const nb_value *sampler_values, int n_sampler_values)
{
    jobj root = {0}, model = {0}, sampler = {0};
    if (n_model_values != schema_count(model_schema) ||
        n_sampler_values != schema_count(sampler_schema))
        return NULL;
    jobj_put(&root, "data", json_data(&cfg->data, data_checksum));
    jobj_put(&root, "eval", json_eval(&cfg->eval));
    json_params(&model, model_schema, model_values);
    jobj_put(&model, "name", json_str(cfg->model));
    jobj_put(&model, "dim", json_int(cfg->dim));
    jobj_put(&root, "model", jobj_done(&model));
    json_params(&sampler, sampler_schema, sampler_values);
    jobj_put(&sampler, "name", json_str(cfg->sampler));
    jobj_put(&root, "sampler", jobj_done(&sampler));
    jobj_put(&root, "train", json_train(&cfg->train));
    jobj_put(&root, "version", json_int(1));
    return jobj_done(&root);
}
