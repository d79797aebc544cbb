/*
 * config.c - an experiment file (YAML, version 1) into a validated nb_config,
 * and plugin parameter maps into nb_value arrays against plugin schemas.
 *
 * Every problem becomes one diagnostic "file:line:col: message" (positions
 * from the YAML tree, 1-based) and validation goes on, so a file's errors
 * are all reported at once. Scalar rules: integers are plain digits with an
 * optional sign (no 1.5, no 1e3); floats also take a fraction and an
 * exponent; bools are true/false/yes/no; a quoted or block scalar is always
 * a string. Path values expand ${NAME} and ${NAME:-default} from the
 * environment and are then resolved against the directory of the YAML file.
 */
#define _GNU_SOURCE
#include "config.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- context and positioned diagnostics ------------------------------- */

typedef struct cfg_ctx {
    const char *file;   /* the YAML path, as given */
    char *dir;          /* its directory, for relative paths */
    nb_diags *d;
} cfg_ctx;

/* file: the node's own file (an included one, set by core/grid.c), or NULL
 * for the experiment file itself. */
static void err_at_file(cfg_ctx *c, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void err_at_file(cfg_ctx *c, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = nb_vstrf(fmt, ap);
    va_end(ap);
    diags_add(c->d, file ? file : c->file, line, col, "%s", m);
    free(m);
}

#define err_at(c, line, col, ...) err_at_file((c), NULL, (line), (col), __VA_ARGS__)
#define ERR_NODE(c, n, ...) err_at_file((c), (n)->file, (n)->line, (n)->col, __VA_ARGS__)
#define ERR_KEY(c, m, i, ...) err_at_file((c), node_key_file((m), (i)), (m)->key_line[i], \
                                          (m)->key_col[i], __VA_ARGS__)

/* "a map", "a sequence", "an empty value", "a quoted string \"5\"" or
 * "\"ten\"" for type errors; malloc'd. */
static int scalar_is_null(const nb_node *n)
{
    return n->kind == NB_NODE_SCALAR && !n->quoted &&
           (!n->text[0] || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
            !strcmp(n->text, "Null") || !strcmp(n->text, "NULL"));
}

/* What a node is, for "expected X, got Y" messages (malloc'd): "a map",
 * "a sequence", "an empty value", or the scalar's text. */
static char *node_describe(const nb_node *n)
{
    if (n->kind == NB_NODE_MAP) return nb_xstrdup("a map");
    if (n->kind == NB_NODE_SEQ) return nb_xstrdup("a sequence");
    if (scalar_is_null(n)) return nb_xstrdup("an empty value");
    if (n->quoted) return nb_strf("a quoted string \"%s\"", n->text);
    return nb_strf("\"%s\"", n->text);
}

/* "qname: expected what, got ..." at n. */
static void err_type(cfg_ctx *c, const nb_node *n, const char *what, const char *qname)
{
    char *got = node_describe(n);
    ERR_NODE(c, n, "expected %s for %s, got %s", what, qname, got);
    free(got);
}

/* ---- scalar syntax ---------------------------------------------------- */

/* Plain integer: [+-]?[0-9]+ without overflow. */
static int scalar_int(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return -1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE) return -1;
    *out = (int64_t)v;
    return 0;
}

/* Decimal real: [+-]?(digits[.digits?]|.digits)([eE][+-]?digits)?, finite. */
static int scalar_float(const char *s, double *out)
{
    const char *p = s;
    int digits = 0;
    if (*p == '+' || *p == '-') p++;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++, digits++;
    }
    if (!digits) return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return -1;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p) return -1;
    double v = strtod(s, NULL);
    if (!isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* true/yes or false/no into *out: 0, or -1 for any other word. */
static int scalar_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "yes")) return *out = 1, 0;
    if (!strcmp(s, "false") || !strcmp(s, "no")) return *out = 0, 0;
    return -1;
}

/* Index of word in a '|'-separated list, or -1. */
static int choice_index(const char *choices, const char *word)
{
    size_t wl = strlen(word);
    int i = 0;
    for (const char *p = choices; p; i++) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == wl && !strncmp(p, word, l)) return i;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* ---- typed getters: 0 and *out set, or -1 with a diagnostic ------------ */

static int get_int(cfg_ctx *c, const nb_node *n, const char *qname, int64_t lo,
                   int64_t hi, int64_t *out)
{
    int64_t v;
    if (n->kind != NB_NODE_SCALAR || n->quoted || scalar_int(n->text, &v)) {
        err_type(c, n, "an integer", qname);
        return -1;
    }
    if (v < lo || v > hi) {
        ERR_NODE(c, n, "%s = %s is out of range [%lld, %lld]", qname, n->text,
                 (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int get_i32(cfg_ctx *c, const nb_node *n, const char *qname, int64_t lo,
                   int64_t hi, int32_t *out)
{
    int64_t v;
    if (get_int(c, n, qname, lo, hi, &v)) return -1;
    *out = (int32_t)v;
    return 0;
}

/* Real in a range; lo_open/hi_open make that end exclusive. Infinite
 * bounds are not checked. */
static int get_float(cfg_ctx *c, const nb_node *n, const char *qname, double lo,
                     int lo_open, double hi, int hi_open, double *out)
{
    double v;
    if (n->kind != NB_NODE_SCALAR || n->quoted || scalar_float(n->text, &v)) {
        err_type(c, n, "a number", qname);
        return -1;
    }
    if ((lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi)) {
        char *lo_s = isinf(lo) ? nb_strf("-inf") : nb_strf("%g", lo);
        char *hi_s = isinf(hi) ? nb_strf("inf") : nb_strf("%g", hi);
        ERR_NODE(c, n, "%s = %s is out of range %c%s, %s%c", qname, n->text,
                 lo_open ? '(' : '[', lo_s, hi_s, hi_open ? ')' : ']');
        free(lo_s);
        free(hi_s);
        return -1;
    }
    *out = v;
    return 0;
}

static int get_bool(cfg_ctx *c, const nb_node *n, const char *qname, int *out)
{
    if (n->kind != NB_NODE_SCALAR || n->quoted || scalar_bool(n->text, out)) {
        err_type(c, n, "true or false", qname);
        return -1;
    }
    return 0;
}

/* A non-empty string (a plain number is fine: it is read as text). */
static int get_string(cfg_ctx *c, const nb_node *n, const char *qname, char **out)
{
    if (n->kind != NB_NODE_SCALAR || scalar_is_null(n) || !n->text[0]) {
        err_type(c, n, "a string", qname);
        return -1;
    }
    free(*out);
    *out = nb_xstrdup(n->text);
    return 0;
}

static int get_choice(cfg_ctx *c, const nb_node *n, const char *qname,
                      const char *choices, int *out)
{
    int k;
    if (n->kind != NB_NODE_SCALAR || (k = choice_index(choices, n->text)) < 0) {
        char *what = nb_strf("one of %s", choices);
        err_type(c, n, what, qname);
        free(what);
        return -1;
    }
    *out = k;
    return 0;
}

/* Expand ${NAME} and ${NAME:-default} (default when unset or empty).
 * Returns a malloc'd string, or NULL with a diagnostic. */
static char *path_expand(cfg_ctx *c, const nb_node *n, const char *qname)
{
    const char *s = n->text;
    size_t cap = strlen(s) + 64, len = 0;
    char *out = nb_xmalloc(cap);
    while (*s) {
        const char *piece = s, *val = NULL;
        size_t plen = 1;
        char *name = NULL;
        if (s[0] == '$' && s[1] == '{') {
            const char *close = strchr(s + 2, '}');
            const char *q = s + 2;
            while (isalnum((unsigned char)*q) || *q == '_') q++;
            if (!close || q == s + 2 || isdigit((unsigned char)s[2]) ||
                (q != close && strncmp(q, ":-", 2) != 0)) {
                ERR_NODE(c, n, "%s: bad variable reference in \"%s\" (write ${NAME} or ${NAME:-default})",
                         qname, n->text);
                free(out);
                return NULL;
            }
            name = strndup(s + 2, (size_t)(q - (s + 2)));
            const char *env = getenv(name);
            if (env && *env) val = env;
            else if (q != close) {
                piece = q + 2;
                plen = (size_t)(close - piece);
            } else {
                ERR_NODE(c, n, "%s: environment variable %s is not set (write ${%s:-default} to give a default)",
                         qname, name, name);
                free(name);
                free(out);
                return NULL;
            }
            if (val) piece = val, plen = strlen(val);
            s = close + 1;
            free(name);
        } else {
            s++;
        }
        if (len + plen + 1 > cap) {
            cap = 2 * (len + plen + 1);
            out = nb_xrealloc(out, cap);
        }
        memcpy(out + len, piece, plen);
        len += plen;
    }
    out[len] = '\0';
    return out;
}

/* A data path: expanded, resolved against the YAML's directory, and checked
 * to be a readable file. */
static int get_path(cfg_ctx *c, const nb_node *n, const char *qname, char **out)
{
    char *raw = NULL, *exp = NULL;
    int rc = -1;
    struct stat st;
    if (get_string(c, n, qname, &raw)) goto out;
    if (!(exp = path_expand(c, n, qname))) goto out;
    free(*out);
    if (n->file) { /* a value from an included file: relative to that file */
        char *dir = nb_dirname(n->file);
        *out = nb_path_join(dir, exp);
        free(dir);
    } else {
        *out = nb_path_join(c->dir, exp);
    }
    if (stat(*out, &st) != 0) {
        if (errno == ENOENT) ERR_NODE(c, n, "data file not found: %s", *out);
        else ERR_NODE(c, n, "data file %s: %s", *out, strerror(errno));
        goto out;
    }
    const char *kind = nb_file_kind(&st);
    if (kind) {
        ERR_NODE(c, n, "data file %s is %s, not a regular file", *out, kind);
        goto out;
    }
    if (access(*out, R_OK) != 0) {
        ERR_NODE(c, n, "data file not readable: %s", *out);
        goto out;
    }
    rc = 0;
out:
    free(raw);
    free(exp);
    return rc;
}

/* The experiment name: an identifier, since it names files (the store
 * results/<name>.sqlite, slurm/<name>): ASCII letters, digits, '_', '-',
 * '.', '+', not starting with '.' or '-', at most NAME_MAX_LEN bytes. So no
 * path separator, no "..", no hidden file, no option-like word. */
#define NAME_MAX_LEN 128
static int get_name(cfg_ctx *c, const nb_node *n, char **out)
{
    char *name = NULL;
    if (get_string(c, n, "name", &name)) return -1;
    size_t len = strlen(name);
    int ok = len <= NAME_MAX_LEN && name[0] != '.' && name[0] != '-';
    for (const char *q = name; ok && *q; q++)
        ok = isalnum((unsigned char)*q) || strchr("_-.+", *q);
    if (!ok) {
        ERR_NODE(c, n, "name \"%.*s\" is not an identifier (letters, digits, _ - . + up to %d "
                 "characters, not starting with . or -): it names the store results/<name>.sqlite",
                 NAME_MAX_LEN, name, NAME_MAX_LEN);
        free(name);
        return -1;
    }
    free(*out);
    *out = name;
    return 0;
}

/* ---- unknown keys ----------------------------------------------------- */

/* A familiar name from another tool, mapped to ours ("did you mean"). */
typedef struct key_alias { const char *alias, *key; } key_alias;

static const key_alias cfg_aliases[] = {
    {"learning_rate", "lr"}, {"train_batch_size", "batch_size"},
    {"epoch", "epochs"}, {"embedding_size", "dim"}, {"eval_step", "every"},
    {"stopping_step", "patience"}, {"valid_metric", "metric"},
    {"weight_decay", "reg_weight"}, {"seeds", "seed"}, {NULL, NULL}};

/* The nearest of keys (and of aliases whose target is in keys) within edit
 * distance 3, or NULL. */
static const char *key_nearest(const char *key, const char *const *keys)
{
    const char *best = NULL;
    int best_d = 4;
    for (int i = 0; keys[i]; i++) {
        int d = nb_edit_distance(key, keys[i]);
        if (d < best_d) best_d = d, best = keys[i];
    }
    for (int a = 0; cfg_aliases[a].alias; a++)
        for (int i = 0; keys[i]; i++)
            if (!strcmp(cfg_aliases[a].key, keys[i])) {
                int d = nb_edit_distance(key, cfg_aliases[a].alias);
                if (d < best_d) best_d = d, best = keys[i];
            }
    return best;
}

/* "(did you mean "lr"?)" or "(valid keys: a, b, c)"; malloc'd. */
static char *key_hint(const char *key, const char *const *keys, const char *noun)
{
    const char *near = key_nearest(key, keys);
    if (near) return nb_strf("(did you mean \"%s\"?)", near);
    if (!keys[0]) return nb_strf("(it takes no %ss)", noun);
    char *s = nb_strf("(valid %ss: %s", noun, keys[0]);
    for (int i = 1; keys[i]; i++) {
        char *t = nb_strf("%s, %s", s, keys[i]);
        free(s);
        s = t;
    }
    char *t = nb_strf("%s)", s);
    free(s);
    return t;
}

/* Key i of map is not one of keys: diagnosed with the nearest valid key. */
static void err_unknown(cfg_ctx *c, const nb_node *map, int i, const char *where,
                        const char *const *keys)
{
    char *hint = key_hint(map->keys[i], keys, "key");
    ERR_KEY(c, map, i, "unknown key \"%s\" %s %s", map->keys[i], where, hint);
    free(hint);
}

/* ---- sections --------------------------------------------------------- */

/* Where a section is reported when something is missing from it. */
typedef struct sect_pos { int line, col; } sect_pos;

/* 1 when section n is a map, else 0 after a diagnostic. */
static int sect_is_map(cfg_ctx *c, const nb_node *n, const char *qname)
{
    if (n->kind == NB_NODE_MAP) return 1;
    err_type(c, n, "a map", qname);
    return 0;
}

/* The sections of an experiment, each into its part of nb_config with a
 * diagnostic per bad key or value: data.synthetic, data.ratio, data,
 * train, eval. */
static void load_synthetic(cfg_ctx *c, const nb_node *m, nb_data_spec *ds,
                           int *have_seed)
{
    static const char *const keys[] = {"users", "items", "rank", "per_user", "pop_skew",
                                       "test_share", "seed", NULL};
    if (scalar_is_null(m)) return; /* "synthetic:" alone: every default */
    if (!sect_is_map(c, m, "data.synthetic")) return;
    for (int i = 0; i < m->n; i++) {
        const char *k = m->keys[i];
        const nb_node *v = m->items[i];
        int64_t seed;
        if (!strcmp(k, "users")) get_i32(c, v, "data.synthetic.users", 1, 100000000, &ds->syn_users);
        else if (!strcmp(k, "items")) get_i32(c, v, "data.synthetic.items", 2, 100000000, &ds->syn_items);
        else if (!strcmp(k, "rank")) get_i32(c, v, "data.synthetic.rank", 1, 4096, &ds->syn_rank);
        else if (!strcmp(k, "per_user")) get_float(c, v, "data.synthetic.per_user", 0, 1, 1e6, 0, &ds->syn_per_user);
        else if (!strcmp(k, "pop_skew")) get_float(c, v, "data.synthetic.pop_skew", 0, 0, 10, 0, &ds->syn_pop_skew);
        else if (!strcmp(k, "test_share")) get_float(c, v, "data.synthetic.test_share", 0, 0, 1, 1, &ds->syn_test_share);
        else if (!strcmp(k, "seed")) {
            if (!get_int(c, v, "data.synthetic.seed", 0, INT64_MAX, &seed)) {
                ds->seed = (uint64_t)seed;
                *have_seed = 2;
            }
        } else err_unknown(c, m, i, "in data.synthetic", keys);
    }
}

static void load_ratio(cfg_ctx *c, const nb_node *n, double ratio[3])
{
    double r[3], sum = 0;
    int bad = 0;
    if (n->kind != NB_NODE_SEQ) {
        err_type(c, n, "a list of 3 numbers", "data.ratio");
        return;
    }
    if (n->n != 3) {
        ERR_NODE(c, n, "data.ratio needs 3 numbers (train, valid, test), got %d", n->n);
        return;
    }
    for (int i = 0; i < 3; i++) {
        bad |= get_float(c, n->items[i], "data.ratio", 0, 0, 1, 0, &r[i]) != 0;
        sum += bad ? 0 : r[i];
    }
    if (bad) return;
    if (fabs(sum - 1) > 1e-6) {
        ERR_NODE(c, n, "data.ratio must sum to 1, got %g", sum);
        return;
    }
    memcpy(ratio, r, sizeof r);
}

static void load_data(cfg_ctx *c, const nb_node *m, sect_pos at, nb_data_spec *ds,
                      int *have_seed)
{
    static const char *const keys[] = {"synthetic", "format", "train", "valid", "test",
                                       "min_rating", "split", "ratio", "cutoff",
                                       "cutoff_quantile", "valid_share", "seed", NULL};
    const nb_node *syn = NULL, *split = NULL, *cutoff = NULL;
    int file_i[3] = {-1, -1, -1};
    if (!sect_is_map(c, m, "data")) return;
    ds->synthetic = 0;
    for (int i = 0; i < m->n; i++) {
        const char *k = m->keys[i];
        const nb_node *v = m->items[i];
        int64_t seed;
        if (!strcmp(k, "synthetic")) syn = v;
        else if (!strcmp(k, "format")) get_choice(c, v, "data.format", "auto|lines|inter|csv", &ds->format);
        else if (!strcmp(k, "train")) file_i[0] = i, get_path(c, v, "data.train", &ds->train_path);
        else if (!strcmp(k, "valid")) file_i[1] = i, get_path(c, v, "data.valid", &ds->valid_path);
        else if (!strcmp(k, "test")) file_i[2] = i, get_path(c, v, "data.test", &ds->test_path);
        else if (!strcmp(k, "min_rating")) get_float(c, v, "data.min_rating", -INFINITY, 0, INFINITY, 0, &ds->min_rating);
        else if (!strcmp(k, "split")) {
            if (!get_choice(c, v, "data.split", "given|ratio|time_global|time_user", &ds->split))
                split = v;
        } else if (!strcmp(k, "ratio")) load_ratio(c, v, ds->ratio);
        else if (!strcmp(k, "cutoff")) {
            if (!get_float(c, v, "data.cutoff", -INFINITY, 0, INFINITY, 0, &ds->cutoff)) cutoff = v;
        } else if (!strcmp(k, "cutoff_quantile")) {
            if (!get_float(c, v, "data.cutoff_quantile", 0, 1, 1, 1, &ds->cutoff_quantile) && cutoff)
                ERR_NODE(c, v, "give either data.cutoff or data.cutoff_quantile, not both");
        } else if (!strcmp(k, "valid_share")) get_float(c, v, "data.valid_share", 0, 0, 1, 1, &ds->valid_share);
        else if (!strcmp(k, "seed")) {
            if (!get_int(c, v, "data.seed", 0, INT64_MAX, &seed) && *have_seed < 2) {
                ds->seed = (uint64_t)seed;
                *have_seed = 1;
            }
        } else err_unknown(c, m, i, "in data", keys);
    }
    if (syn) {
        ds->synthetic = 1;
        load_synthetic(c, syn, ds, have_seed);
        for (int f = 0; f < 3; f++)
            if (file_i[f] >= 0)
                ERR_KEY(c, m, file_i[f], "data.synthetic and data.%s cannot be used together",
                        m->keys[file_i[f]]);
        if (split && ds->split != NB_SPLIT_GIVEN)
            ERR_NODE(c, split, "data.split = %s needs data files (data.synthetic is set)", split->text);
    } else if (file_i[0] < 0) {
        err_at(c, at.line, at.col, "data needs either \"synthetic\" or \"train\"");
    } else if (ds->split != NB_SPLIT_GIVEN) {
        for (int f = 1; f < 3; f++)
            if (file_i[f] >= 0)
                ERR_KEY(c, m, file_i[f], "data.%s is only read by the given split (data.split is %s)",
                        m->keys[file_i[f]], split->text);
    }
}

/* model: and sampler: name (required), model's dim; the rest is the
 * plugin's (config_plugin_values). */
static void load_plugin_sect(cfg_ctx *c, const nb_node *m, sect_pos at, const char *sect,
                             char **name, int32_t *dim)
{
    if (!sect_is_map(c, m, sect)) return;
    const nb_node *n = node_get(m, "name");
    char *qname = nb_strf("%s.name", sect);
    if (!n) err_at(c, at.line, at.col, "missing required key \"name\" in %s", sect);
    else get_string(c, n, qname, name);
    free(qname);
    if (dim && (n = node_get(m, "dim"))) get_i32(c, n, "model.dim", 1, 4096, dim);
}

static void load_train(cfg_ctx *c, const nb_node *m, nb_train_opts *t)
{
    static const char *const keys[] = {"epochs", "batch_size", "batch_mode", "lr", "beta1",
                                       "beta2", "adam_eps", "adam", "adam_defer", "reg_weight", "reg",
                                       "seed", "threads", "drop_last", NULL};
    if (!sect_is_map(c, m, "train")) return;
    for (int i = 0; i < m->n; i++) {
        const char *k = m->keys[i];
        const nb_node *v = m->items[i];
        int64_t x;
        int32_t th;
        if (!strcmp(k, "epochs")) get_i32(c, v, "train.epochs", 1, 100000, &t->epochs);
        else if (!strcmp(k, "batch_size")) get_i32(c, v, "train.batch_size", 1, 1 << 24, &t->batch_size);
        else if (!strcmp(k, "batch_mode")) get_choice(c, v, "train.batch_mode", "positives|recbole", &t->batch_mode);
        else if (!strcmp(k, "lr")) get_float(c, v, "train.lr", 0, 1, 10, 0, &t->lr);
        else if (!strcmp(k, "beta1")) get_float(c, v, "train.beta1", 0, 0, 1, 1, &t->beta1);
        else if (!strcmp(k, "beta2")) get_float(c, v, "train.beta2", 0, 0, 1, 1, &t->beta2);
        else if (!strcmp(k, "adam_eps")) get_float(c, v, "train.adam_eps", 0, 1, 1, 0, &t->adam_eps);
        else if (!strcmp(k, "adam")) get_choice(c, v, "train.adam", "dense|lazy", &t->adam_mode);
        else if (!strcmp(k, "adam_defer")) get_choice(c, v, "train.adam_defer", "auto|on|off", &t->adam_defer);
        else if (!strcmp(k, "reg_weight")) get_float(c, v, "train.reg_weight", 0, 0, 1e6, 0, &t->reg_weight);
        else if (!strcmp(k, "reg")) get_choice(c, v, "train.reg", "norm|squared", &t->reg_form);
        else if (!strcmp(k, "seed")) {
            if (!get_int(c, v, "train.seed", 0, INT64_MAX, &x)) t->seed = (uint64_t)x;
        } else if (!strcmp(k, "threads")) {
            if (!get_i32(c, v, "train.threads", 0, 1024, &th)) t->threads = th;
        } else if (!strcmp(k, "drop_last")) get_bool(c, v, "train.drop_last", &t->drop_last);
        else err_unknown(c, m, i, "in train", keys);
    }
}

/* "[10, 15, 20]" for messages; malloc'd. */
static char *ks_text(const nb_eval_opts *o)
{
    char *s = nb_strf("[");
    for (int i = 0; i < o->n_ks; i++) {
        char *t = nb_strf("%s%s%d", s, i ? ", " : "", (int)o->ks[i]);
        free(s);
        s = t;
    }
    char *t = nb_strf("%s]", s);
    free(s);
    return t;
}

/* 1 when k is one of eval.topk. */
static int ks_has(const nb_eval_opts *o, int32_t k)
{
    for (int i = 0; i < o->n_ks; i++)
        if (o->ks[i] == k) return 1;
    return 0;
}

/* Returns 0 when topk was read (or absent), -1 after an error. */
static int load_topk(cfg_ctx *c, const nb_node *n, nb_eval_opts *o)
{
    int32_t ks[NB_MAX_KS];
    int bad = 0;
    if (n->kind != NB_NODE_SEQ) {
        err_type(c, n, "a list of integers", "eval.topk");
        return -1;
    }
    if (n->n < 1 || n->n > NB_MAX_KS) {
        ERR_NODE(c, n, "eval.topk needs 1 to %d values, got %d", NB_MAX_KS, n->n);
        return -1;
    }
    for (int i = 0; i < n->n; i++) {
        if (get_i32(c, n->items[i], "eval.topk", 1, 10000, &ks[i])) {
            bad = 1;
            continue;
        }
        for (int j = 0; j < i; j++)
            if (ks[j] == ks[i]) {
                ERR_NODE(c, n->items[i], "duplicate value %d in eval.topk", (int)ks[i]);
                bad = 1;
                break;
            }
    }
    if (bad) return -1;
    o->n_ks = n->n;
    memcpy(o->ks, ks, (size_t)n->n * sizeof *ks);
    return 0;
}

/* "<name>@K" with K in topk; on success *metric is rewritten in its
 * canonical spelling ("recall@020" -> "recall@20"). */
static void check_metric(cfg_ctx *c, const nb_node *n, char **metricp,
                         const nb_eval_opts *o)
{
    const char *metric = *metricp;
    const char *at = strchr(metric, '@');
    int64_t k;
    char *name = at ? strndup(metric, (size_t)(at - metric)) : NULL;
    if (!at || scalar_int(at + 1, &k) || at[1] == '+' || at[1] == '-') {
        ERR_NODE(c, n, "eval.metric must look like recall@20 (<recall|ndcg|hit|precision|mrr>@K), got \"%s\"",
                 metric);
        goto out;
    }
    int found = 0;
    for (int m = 0; m < NB_N_METRICS; m++) found |= !strcmp(name, nb_metric_names[m]);
    if (!found) {
        const char *names[NB_N_METRICS + 1];
        for (int m = 0; m < NB_N_METRICS; m++) names[m] = nb_metric_names[m];
        names[NB_N_METRICS] = NULL;
        char *hint = key_hint(name, names, "metric");
        ERR_NODE(c, n, "unknown metric \"%s\" in eval.metric %s", name, hint);
        free(hint);
        goto out;
    }
    if (!ks_has(o, (int32_t)k)) {
        char *ks = ks_text(o);
        ERR_NODE(c, n, "eval.metric = %s: K = %lld is not in eval.topk %s", metric,
                 (long long)k, ks);
        free(ks);
        goto out;
    }
    char *canon = nb_strf("%s@%lld", name, (long long)k);
    free(*metricp);
    *metricp = canon;
out:
    free(name);
}

/* eval.histogram_epochs: a list of distinct epochs >= 0 (0 = before training). */
static void load_hist_epochs(cfg_ctx *c, const nb_node *n, nb_eval_cfg *e)
{
    int cap = (int)(sizeof e->hist_epochs / sizeof e->hist_epochs[0]);
    if (n->kind != NB_NODE_SEQ) {
        err_type(c, n, "a list of integers", "eval.histogram_epochs");
        return;
    }
    if (n->n > cap) {
        ERR_NODE(c, n, "eval.histogram_epochs takes at most %d epochs, got %d", cap, n->n);
        return;
    }
    e->n_hist_epochs = 0;
    for (int i = 0; i < n->n; i++) {
        int32_t ep;
        if (get_i32(c, n->items[i], "eval.histogram_epochs", 0, 1000000, &ep)) continue;
        e->hist_epochs[e->n_hist_epochs++] = ep;
    }
}

static void load_eval(cfg_ctx *c, const nb_node *m, nb_eval_cfg *e)
{
    static const char *const keys[] = {"every", "first", "topk", "metric", "patience",
                                       "min_epochs", "min_steps", "report_k", "test_every_eval",
                                       "histogram_epochs", "histogram_pairs", "histogram_bins",
                                       NULL};
    const nb_node *metric = NULL, *report = NULL;
    int topk_ok = 0;
    if (!sect_is_map(c, m, "eval")) return;
    for (int i = 0; i < m->n; i++) {
        const char *k = m->keys[i];
        const nb_node *v = m->items[i];
        if (!strcmp(k, "every")) get_i32(c, v, "eval.every", 1, 100000, &e->every);
        else if (!strcmp(k, "first")) get_i32(c, v, "eval.first", 1, 100000, &e->first);
        else if (!strcmp(k, "topk")) topk_ok = load_topk(c, v, &e->opts) == 0 ? 1 : -1;
        else if (!strcmp(k, "metric")) {
            if (!get_string(c, v, "eval.metric", &e->metric)) metric = v;
        } else if (!strcmp(k, "patience")) get_i32(c, v, "eval.patience", 0, 100000, &e->patience);
        else if (!strcmp(k, "min_steps"))
            get_int(c, v, "eval.min_steps", 0, (int64_t)1 << 40, &e->min_steps);
        else if (!strcmp(k, "min_epochs"))
            get_i32(c, v, "eval.min_epochs", 0, 100000, &e->min_epochs);
        else if (!strcmp(k, "report_k")) {
            if (!get_i32(c, v, "eval.report_k", 1, 10000, &e->opts.report_k)) report = v;
        } else if (!strcmp(k, "test_every_eval")) get_bool(c, v, "eval.test_every_eval", &e->test_every_eval);
        else if (!strcmp(k, "histogram_epochs")) load_hist_epochs(c, v, e);
        else if (!strcmp(k, "histogram_pairs"))
            get_i32(c, v, "eval.histogram_pairs", 1, 100000000, &e->hist_pairs);
        else if (!strcmp(k, "histogram_bins"))
            get_i32(c, v, "eval.histogram_bins", 1, 100000, &e->hist_bins);
        else err_unknown(c, m, i, "in eval", keys);
    }
    if (topk_ok < 0) return; /* cross checks would only repeat the error */
    if (report && !ks_has(&e->opts, e->opts.report_k)) {
        char *ks = ks_text(&e->opts);
        ERR_NODE(c, report, "eval.report_k = %d is not in eval.topk %s",
                 (int)e->opts.report_k, ks);
        free(ks);
    }
    if (metric) check_metric(c, metric, &e->metric, &e->opts);
}

/* ---- the whole file --------------------------------------------------- */

/* The file name of path without directory and extension (the default
 * experiment name); malloc'd. */
static char *file_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? strndup(base, (size_t)(dot - base)) : nb_xstrdup(base);
}

/* Every host option at its documented default (docs/configuration.md). */
static void config_defaults(nb_config *cfg)
{
    data_spec_defaults(&cfg->data);
    cfg->dim = 64;
    cfg->train.epochs = 300;
    cfg->train.batch_size = 2048;
    cfg->train.batch_mode = NB_BATCH_POSITIVES;
    cfg->train.lr = 1e-3;
    cfg->train.beta1 = 0.9;
    cfg->train.beta2 = 0.999;
    cfg->train.adam_eps = 1e-8;
    cfg->train.adam_mode = NB_ADAM_DENSE;
    cfg->train.adam_defer = NB_DEFER_AUTO;
    cfg->train.reg_weight = 1e-4;
    cfg->train.reg_form = NB_REG_NORM;
    cfg->train.seed = 2020;
    cfg->train.threads = 0;
    cfg->train.drop_last = 0;
    cfg->eval.every = 1;
    cfg->eval.first = 0; /* not given: eval.every, set after reading */
    cfg->eval.patience = 10;
    cfg->eval.min_epochs = 0;
    cfg->eval.min_steps = 0;
    cfg->eval.test_every_eval = 0;
    cfg->eval.n_hist_epochs = 0;
    cfg->eval.hist_pairs = 100000;
    cfg->eval.hist_bins = 50;
    cfg->eval.opts.n_ks = 3;
    cfg->eval.opts.ks[0] = 10;
    cfg->eval.opts.ks[1] = 15;
    cfg->eval.opts.ks[2] = 20;
    cfg->eval.opts.report_k = 0; /* largest topk, set after reading */
}

/* The top-level keys and sections of the tree into cfg, with every
 * problem diagnosed (unknown keys, types, ranges, missing required keys). */
static void config_validate(cfg_ctx *c, nb_config *cfg)
{
    static const char *const keys[] = {"version", "name", "description", "data", "model",
                                       "sampler", "train", "eval", "grid", NULL};
    const nb_node *root = cfg->root;
    sect_pos top = {root->line, root->col};
    int have_seed = 0, seen_data = 0, seen_model = 0, seen_sampler = 0;
    int64_t version;

    const nb_node *v = node_get(root, "version");
    if (!v) err_at(c, top.line, top.col, "missing required key \"version\" (this negbench reads version 1)");
    else if (!get_int(c, v, "version", INT64_MIN, INT64_MAX, &version) && version != 1) {
        ERR_NODE(c, v, "unsupported version %lld (this negbench reads version 1)",
                 (long long)version);
        return; /* the rest of the file is in a format we do not know */
    }
    for (int i = 0; i < root->n; i++) {
        const char *k = root->keys[i];
        const nb_node *n = root->items[i];
        sect_pos at = {root->key_line[i], root->key_col[i]};
        if (!strcmp(k, "version")) continue;
        else if (!strcmp(k, "name")) get_name(c, n, &cfg->name);
        else if (!strcmp(k, "description")) {
            if (n->kind != NB_NODE_SCALAR) err_type(c, n, "text", "description");
        } else if (!strcmp(k, "data")) seen_data = 1, load_data(c, n, at, &cfg->data, &have_seed);
        else if (!strcmp(k, "model")) {
            seen_model = 1;
            load_plugin_sect(c, n, at, "model", &cfg->model, &cfg->dim);
            if (n->kind == NB_NODE_MAP) cfg->model_params = n;
        } else if (!strcmp(k, "sampler")) {
            seen_sampler = 1;
            load_plugin_sect(c, n, at, "sampler", &cfg->sampler, NULL);
            if (n->kind == NB_NODE_MAP) cfg->sampler_params = n;
        } else if (!strcmp(k, "train")) load_train(c, n, &cfg->train);
        else if (!strcmp(k, "eval")) load_eval(c, n, &cfg->eval);
        else if (!strcmp(k, "grid"))
            err_at(c, at.line, at.col, "this file is a grid (a sweep of runs), not one run: negbench run and negbench grid expand it");
        else err_unknown(c, root, i, "at the top level", keys);
    }
    if (!seen_data)
        err_at(c, top.line, top.col, "missing required key \"data\" (give data.synthetic or data.train)");
    if (!seen_model) err_at(c, top.line, top.col, "missing required key \"model\"");
    if (!seen_sampler) err_at(c, top.line, top.col, "missing required key \"sampler\"");

    if (!have_seed) cfg->data.seed = cfg->train.seed;
    nb_eval_opts *o = &cfg->eval.opts;
    if (o->report_k <= 0) {
        for (int i = 0; i < o->n_ks; i++)
            if (o->ks[i] > o->report_k) o->report_k = o->ks[i];
    }
    if (!cfg->eval.metric) cfg->eval.metric = nb_strf("recall@%d", (int)o->report_k);
    if (cfg->eval.first <= 0) cfg->eval.first = cfg->eval.every; /* today's schedule */
    o->threads = cfg->train.threads;
    o->block_users = 0;
}

/* Load path into cfg (zeroed first). On success cfg owns the file text, the
 * YAML tree and every string; free it with config_free(). On failure every
 * problem is in diags, cfg is already freed (config_free stays safe) and the
 * return is NB_EINVAL (NB_ERR when the file cannot be read). */
int config_load(const char *path, nb_config *cfg, nb_diags *diags)
{
    cfg_ctx c = {path, NULL, diags};
    char *err = NULL;
    int before = diags->n, rc = 0;
    memset(cfg, 0, sizeof *cfg);
    config_defaults(cfg);
    cfg->path = nb_xstrdup(path);
    cfg->name = file_stem(path);
    c.dir = nb_dirname(path);
    if (node_read_file(path, &cfg->text, &err)) {
        diags_add(diags, NULL, 0, 0, "%s", err);
        rc = NB_ERR;
        goto out;
    }
    if (node_parse(path, cfg->text, &cfg->root, &err)) {
        diags_add(diags, NULL, 0, 0, "%s", err);
        goto out;
    }
    if (!cfg->root) {
        diags_add(diags, path, 1, 1, "the experiment file is empty (it needs version, data, model and sampler)");
        goto out;
    }
    node_check_duplicates(cfg->root, path, diags);
    if (cfg->root->kind != NB_NODE_MAP) {
        err_type(&c, cfg->root, "a map of sections", "the experiment");
        goto out;
    }
    config_validate(&c, cfg);
out:
    free(err);
    free(c.dir);
    if (diags->n > before) {
        config_free(cfg);
        return rc ? rc : NB_EINVAL;
    }
    return 0;
}

/* One resolved point of a grid (core/grid.c): like config_load, but from a
 * tree already built. cfg takes root (freed with cfg, also on failure) and
 * copies text (the grid file's, stored as the experiment's YAML); path names
 * the grid file in diagnostics and the default experiment name. */
int config_load_tree(const char *path, const char *text, nb_node *root, nb_config *cfg,
                     nb_diags *diags)
{
    cfg_ctx c = {path, NULL, diags};
    int before = diags->n;
    memset(cfg, 0, sizeof *cfg);
    config_defaults(cfg);
    cfg->path = nb_xstrdup(path);
    cfg->name = file_stem(path);
    cfg->text = nb_xstrdup(text ? text : "");
    cfg->root = root;
    c.dir = nb_dirname(path);
    if (!root || root->kind != NB_NODE_MAP) {
        diags_add(diags, path, 1, 1, "the experiment is not a map of sections");
        goto out;
    }
    node_check_duplicates(root, path, diags);
    config_validate(&c, cfg);
out:
    free(c.dir);
    if (diags->n > before) {
        config_free(cfg);
        return NB_EINVAL;
    }
    return 0;
}

/* Free everything cfg owns and zero it. */
void config_free(nb_config *cfg)
{
    if (!cfg) return;
    free(cfg->path);
    free(cfg->text);
    node_free(cfg->root);
    free(cfg->name);
    data_spec_free(&cfg->data);
    free(cfg->model);
    free(cfg->sampler);
    free(cfg->eval.metric);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- plugin parameters ------------------------------------------------ */

/* Parse one parameter value from text: 0 ok, 1 wrong type, 2 out of range. */
static int param_parse(const nb_param_spec *s, const char *text, int quoted, nb_value *v)
{
    int64_t i;
    double f;
    int b, k;
    switch (nb_param_type(s)) {
    case NB_PARAM_INT:
        if (quoted || scalar_int(text, &i)) return 1;
        if ((double)i < s->min || (double)i > s->max) return 2;
        v->i = i;
        return 0;
    case NB_PARAM_FLOAT:
        if (quoted || scalar_float(text, &f)) return 1;
        if (f < s->min || f > s->max) return 2;
        v->f = f;
        return 0;
    case NB_PARAM_BOOL:
        if (quoted || scalar_bool(text, &b)) return 1;
        v->i = b;
        return 0;
    case NB_PARAM_CHOICE:
        if (!s->choices || (k = choice_index(s->choices, text)) < 0) return 1;
        v->i = k;
        return 0;
    default:
        return 1;
    }
}

/* A plugin parameter's type and range in words, for diagnostics. */
static const char *param_what(const nb_param_spec *s)
{
    switch (nb_param_type(s)) {
    case NB_PARAM_INT: return "an integer";
    case NB_PARAM_FLOAT: return "a number";
    case NB_PARAM_BOOL: return "true or false";
    default: return "a choice";
    }
}

static char *param_range(const nb_param_spec *s)
{
    if (nb_param_type(s) == NB_PARAM_INT) return nb_strf("[%.0f, %.0f]", s->min, s->max);
    return nb_strf("[%g, %g]", s->min, s->max);
}

/* Resolve map (may be NULL: all defaults) against schema into values
 * [one per schema entry]. Keys listed in host_keys (NULL-terminated, or
 * NULL) are skipped. Diagnostics name cfg->path and the value's position;
 * a default that does not parse is reported without position. Returns 0 or
 * NB_EINVAL. */
int config_plugin_values(const nb_config *cfg, const nb_node *map,
                         const char *plugin_name, const nb_param_spec *schema,
                         const char *const *host_keys, nb_value *values, int n_values,
                         nb_diags *diags)
{
    cfg_ctx c = {cfg->path, NULL, diags};
    const char *kind = map && map == cfg->model_params ? "model"
                     : map && map == cfg->sampler_params ? "sampler" : "plugin";
    int before = diags->n, n_schema = 0;
    const char **names = NULL;

    while (schema && schema[n_schema].name) n_schema++;
    if (n_values != n_schema) {
        diags_add(diags, NULL, 0, 0, "%s \"%s\": %d parameter value%s given for a schema of %d",
                  kind, plugin_name, n_values, n_values == 1 ? "" : "s", n_schema);
        return NB_EINVAL;
    }
    names = nb_xcalloc((size_t)n_schema + 1, sizeof *names);
    for (int s = 0; s < n_schema; s++) {
        const nb_param_spec *sp = &schema[s];
        names[s] = sp->name;
        memset(&values[s], 0, sizeof values[s]);
        if (!sp->def || param_parse(sp, sp->def, 0, &values[s]))
            diags_add(diags, NULL, 0, 0,
                      "%s \"%s\": bad default \"%s\" for parameter \"%s\" (expected %s)",
                      kind, plugin_name, sp->def ? sp->def : "(none)", sp->name,
                      param_what(sp));
    }
    if (map && map->kind != NB_NODE_MAP) {
        err_type(&c, map, "a map", kind);
        goto out;
    }
    for (int i = 0; map && i < map->n; i++) {
        const char *k = map->keys[i];
        const nb_node *v = map->items[i];
        int s, host = 0;
        for (int h = 0; host_keys && host_keys[h]; h++) host |= !strcmp(host_keys[h], k);
        if (host) continue;
        for (s = 0; s < n_schema && strcmp(schema[s].name, k); s++) {}
        if (s == n_schema) {
            char *hint = key_hint(k, names, "parameter");
            ERR_KEY(&c, map, i, "unknown parameter \"%s\" for %s \"%s\" %s", k, kind,
                    plugin_name, hint);
            free(hint);
            continue;
        }
        const nb_param_spec *sp = &schema[s];
        int r = v->kind == NB_NODE_SCALAR ? param_parse(sp, v->text, v->quoted, &values[s]) : 1;
        if (r == 1 && nb_param_type(sp) == NB_PARAM_CHOICE) {
            char *what = nb_strf("one of %s", sp->choices ? sp->choices : "");
            char *q = nb_strf("%s.%s", kind, k);
            err_type(&c, v, what, q);
            free(what);
            free(q);
        } else if (r == 1) {
            char *q = nb_strf("%s.%s", kind, k);
            err_type(&c, v, param_what(sp), q);
            free(q);
        } else if (r == 2) {
            char *range = param_range(sp);
            ERR_NODE(&c, v, "%s.%s = %s is out of range %s", kind, k, v->text, range);
            free(range);
        }
    }
out:
    free(names);
    return diags->n > before ? NB_EINVAL : 0;
}
