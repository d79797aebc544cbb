/*
 * grid.c - expanding an experiment grid (version 1) into resolved trees.
 *
 * Order of resolution for one point (later wins):
 *   1. included files, in the order listed (each may include others);
 *   2. the grid file itself (maps merge key by key; `key: ~` or `key: null`
 *      removes an included key; any other value replaces it);
 *   3. the point's axis values: each axis names a dotted path ("train.lr",
 *      "sampler.name", "data") whose node is replaced as a whole;
 *   4. the per-plugin block of the point's sampler (sampler_params.<name>)
 *      and model (model_params.<name>): only keys the section does not set.
 * Axes: `grid.product` (a map of path -> list: the cartesian product, the
 * first axis outermost), `grid.zip` (a list of such maps, or one map: the
 * lists of a group vary together and need the same length), then
 * `grid.seeds` (a list: train.seed) or `grid.repeats` (N: train.seed + 0..N-1)
 * innermost. A list-valued parameter is an axis only under `grid:`.
 */
#define _GNU_SOURCE
#include "grid.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define GRID_MAX_POINTS 100000
#define GRID_MAX_INCLUDE_DEPTH 16
#define GRID_MAX_FILES 256              /* distinct included files */
#define GRID_MAX_INCLUDES 4096          /* include: entries followed, repeats included */
#define GRID_MAX_TOTAL_BYTES ((size_t)16 << 20) /* all files read */

/* A file read for an include, by identity: its merged tree (with its own
 * includes), cloned for every further include of the same file. */
typedef struct seen_file {
    dev_t dev;
    ino_t ino;
    nb_node *tree;      /* NULL: it failed (reported once) */
} seen_file;

typedef struct gctx {
    nb_grid *g;
    nb_diags *d;
    seen_file *seen;
    int n_seen, n_includes;
    size_t bytes;
} gctx;

static void gerr(nb_diags *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void gerr(nb_diags *d, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = nb_vstrf(fmt, ap);
    va_end(ap);
    diags_add(d, file, line, col, "%s", m);
    free(m);
}

#define GERR_NODE(d, n, ...) gerr((d), (n)->file, (n)->line, (n)->col, __VA_ARGS__)
#define GERR_KEY(d, m, i, ...) \
    gerr((d), node_key_file((m), (i)), (m)->key_line[i], (m)->key_col[i], __VA_ARGS__)

/* ---- tree helpers ----------------------------------------------------- */

static void node_tag(nb_node *n, const char *file)
{
    if (!n) return;
    n->file = file;
    for (int i = 0; i < n->n; i++) node_tag(n->items[i], file);
}

nb_node *node_clone(const nb_node *n)
{
    if (!n) return NULL;
    nb_node *c = nb_xcalloc(1, sizeof *c);
    *c = *n;
    c->text = n->text ? nb_xstrdup(n->text) : NULL;
    c->items = NULL;
    c->keys = NULL;
    c->key_line = c->key_col = NULL;
    c->key_file = NULL;
    if (n->n) {
        c->items = nb_xmalloc((size_t)n->n * sizeof *c->items);
        for (int i = 0; i < n->n; i++) c->items[i] = node_clone(n->items[i]);
    }
    if (n->kind == NB_NODE_MAP && n->n) {
        c->keys = nb_xmalloc((size_t)n->n * sizeof *c->keys);
        c->key_line = nb_xmalloc((size_t)n->n * sizeof *c->key_line);
        c->key_col = nb_xmalloc((size_t)n->n * sizeof *c->key_col);
        c->key_file = nb_xcalloc((size_t)n->n, sizeof *c->key_file);
        for (int i = 0; i < n->n; i++) {
            c->keys[i] = nb_xstrdup(n->keys[i]);
            c->key_line[i] = n->key_line[i];
            c->key_col[i] = n->key_col[i];
            c->key_file[i] = node_key_file(n, i);
        }
    }
    return c;
}

static nb_node *node_new_map(const char *file, int line, int col)
{
    nb_node *m = nb_xcalloc(1, sizeof *m);
    m->kind = NB_NODE_MAP;
    m->file = file;
    m->line = line;
    m->col = col;
    return m;
}

static nb_node *node_new_scalar(const char *text, const char *file, int line, int col)
{
    nb_node *s = nb_xcalloc(1, sizeof *s);
    s->kind = NB_NODE_SCALAR;
    s->text = nb_xstrdup(text);
    s->file = file;
    s->line = line;
    s->col = col;
    return s;
}

static int map_find(const nb_node *m, const char *key)
{
    for (int i = 0; m && m->kind == NB_NODE_MAP && i < m->n; i++)
        if (!strcmp(m->keys[i], key)) return i;
    return -1;
}

/* Append key: val (val taken) with the key's position. */
static void map_append(nb_node *m, const char *key, nb_node *val, const char *file,
                       int line, int col)
{
    size_t n = (size_t)m->n + 1;
    m->items = nb_xrealloc(m->items, n * sizeof *m->items);
    m->keys = nb_xrealloc(m->keys, n * sizeof *m->keys);
    m->key_line = nb_xrealloc(m->key_line, n * sizeof *m->key_line);
    m->key_col = nb_xrealloc(m->key_col, n * sizeof *m->key_col);
    if (!m->key_file) {
        m->key_file = nb_xcalloc(n, sizeof *m->key_file);
        for (int i = 0; i < m->n; i++) m->key_file[i] = m->file;
    } else {
        m->key_file = nb_xrealloc(m->key_file, n * sizeof *m->key_file);
    }
    m->items[m->n] = val;
    m->keys[m->n] = nb_xstrdup(key);
    m->key_line[m->n] = line;
    m->key_col[m->n] = col;
    m->key_file[m->n] = file;
    m->n++;
}

/* Remove entry i, freeing its key and value. */
static void map_remove(nb_node *m, int i)
{
    node_free(m->items[i]);
    free(m->keys[i]);
    for (int j = i + 1; j < m->n; j++) {
        m->items[j - 1] = m->items[j];
        m->keys[j - 1] = m->keys[j];
        m->key_line[j - 1] = m->key_line[j];
        m->key_col[j - 1] = m->key_col[j];
        if (m->key_file) m->key_file[j - 1] = m->key_file[j];
    }
    m->n--;
}

/* Take the value of key out of a map (NULL if absent). */
static nb_node *map_take(nb_node *m, const char *key)
{
    int i = map_find(m, key);
    if (i < 0) return NULL;
    nb_node *v = m->items[i];
    m->items[i] = NULL;
    map_remove(m, i);
    return v;
}

static int is_delete(const nb_node *n)
{
    return n->kind == NB_NODE_SCALAR && !n->quoted &&
           (!strcmp(n->text, "~") || !strcmp(n->text, "null"));
}

/* Positions of a map's keys by hash (open addressing), so that merging a
 * map of n keys over another costs O(n), not O(n^2). */
typedef struct key_index {
    int mask;
    int *slot;          /* a position in the map, or -1 */
} key_index;

/* The slot of key: where its position is, or the empty slot for it. */
static int kidx_slot(const key_index *x, const nb_node *m, const char *key)
{
    int k = (int)(nb_hash_bytes(key, strlen(key)) & (uint64_t)x->mask);
    while (x->slot[k] >= 0 && strcmp(m->keys[x->slot[k]], key) != 0) k = (k + 1) & x->mask;
    return k;
}

/* Index m's keys (the first of equal keys wins, as map_find), with room for
 * extra keys appended later. */
static void kidx_build(key_index *x, const nb_node *m, int extra)
{
    int cap = 16;
    while (cap < 2 * (m->n + extra) + 2) cap *= 2;
    x->mask = cap - 1;
    x->slot = nb_xmalloc((size_t)cap * sizeof *x->slot);
    memset(x->slot, 0xff, (size_t)cap * sizeof *x->slot);
    for (int i = 0; i < m->n; i++) {
        int k = kidx_slot(x, m, m->keys[i]);
        if (x->slot[k] < 0) x->slot[k] = i;
    }
}

/* Drop the entries whose value was removed (NULL), keeping the order. */
static void map_compact(nb_node *m)
{
    int w = 0;
    for (int r = 0; r < m->n; r++) {
        if (!m->items[r]) {
            free(m->keys[r]);
            continue;
        }
        m->items[w] = m->items[r];
        m->keys[w] = m->keys[r];
        m->key_line[w] = m->key_line[r];
        m->key_col[w] = m->key_col[r];
        if (m->key_file) m->key_file[w] = m->key_file[r];
        w++;
    }
    m->n = w;
}

/* Merge over into base (both maps): see the file comment, step 2. A
 * removed key's value is set to NULL and the map compacted at the end. */
static void merge_into(nb_node *base, const nb_node *over)
{
    key_index x;
    int removed = 0;
    kidx_build(&x, base, over->n);
    for (int i = 0; i < over->n; i++) {
        const char *k = over->keys[i];
        const nb_node *v = over->items[i];
        int s = kidx_slot(&x, base, k);
        int j = x.slot[s] >= 0 && base->items[x.slot[s]] ? x.slot[s] : -1;
        if (is_delete(v)) {
            if (j >= 0) node_free(base->items[j]), base->items[j] = NULL, removed = 1;
            continue;
        }
        if (j >= 0 && base->items[j]->kind == NB_NODE_MAP && v->kind == NB_NODE_MAP) {
            merge_into(base->items[j], v);
        } else if (j >= 0) {
            node_free(base->items[j]);
            base->items[j] = node_clone(v);
            if (!base->key_file) {
                base->key_file = nb_xcalloc((size_t)base->n, sizeof *base->key_file);
                for (int q = 0; q < base->n; q++) base->key_file[q] = base->file;
            }
            base->key_file[j] = node_key_file(over, i);
            base->key_line[j] = over->key_line[i];
            base->key_col[j] = over->key_col[i];
        } else {
            map_append(base, k, node_clone(v), node_key_file(over, i), over->key_line[i],
                       over->key_col[i]);
            x.slot[s] = base->n - 1;
        }
    }
    free(x.slot);
    if (removed) map_compact(base);
}

char *node_render(const nb_node *n)
{
    if (!n) return nb_xstrdup("");
    if (n->kind == NB_NODE_SCALAR)
        return n->quoted ? nb_strf("\"%s\"", n->text) : nb_xstrdup(n->text);
    char *s = nb_xstrdup(n->kind == NB_NODE_SEQ ? "[" : "{");
    for (int i = 0; i < n->n; i++) {
        char *v = node_render(n->items[i]);
        char *t = n->kind == NB_NODE_SEQ ? nb_strf("%s%s%s", s, i ? ", " : "", v)
                                         : nb_strf("%s%s%s: %s", s, i ? ", " : "", n->keys[i], v);
        free(v);
        free(s);
        s = t;
    }
    char *t = nb_strf("%s%s", s, n->kind == NB_NODE_SEQ ? "]" : "}");
    free(s);
    return t;
}

/* The label of one axis value in a point's label (caller frees): scalars and
 * lists as written; a mapping (a whole data set, say) by its 1-based position
 * in the axis list and its line, "#2@line21", since rendering it in full
 * buries what varies in a long line. */
static char *grid_value_label(const nb_node *v, int index)
{
    if (v->kind != NB_NODE_MAP) return node_render(v);
    return nb_strf("#%d@line%d", index + 1, v->line);
}

static int parse_int(const char *s, long long *out)
{
    char *end;
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!isdigit((unsigned char)*p)) return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return *end || errno ? -1 : 0;
}

/* The nearest of words within edit distance 3, or NULL. */
static const char *nearest(const char *w, const char *const *words)
{
    const char *best = NULL;
    int best_d = 4;
    for (int i = 0; words[i]; i++) {
        int dd = nb_edit_distance(w, words[i]);
        if (dd < best_d) best_d = dd, best = words[i];
    }
    return best;
}

/* ---- files and includes ----------------------------------------------- */

static const char *grid_keep_file(nb_grid *g, const char *path)
{
    g->files = nb_xrealloc(g->files, (size_t)(g->n_files + 1) * sizeof *g->files);
    g->files[g->n_files] = nb_xstrdup(path);
    return g->files[g->n_files++];
}

static nb_node *load_file(gctx *c, const char *path, const nb_node *at, int depth,
                          const char **chain);

/* The merged tree of an included file (caller owns it; NULL after an error,
 * reported at the include's node p). Each file is read and parsed once,
 * known by its device and inode; its next includes take a copy. Bounded:
 * GRID_MAX_INCLUDES includes followed, GRID_MAX_FILES distinct files. */
static nb_node *include_file(gctx *c, const char *path, const nb_node *p, int depth,
                             const char **chain)
{
    struct stat st;
    if (++c->n_includes > GRID_MAX_INCLUDES) {
        GERR_NODE(c->d, p, "more than %d includes (counting repeats)", GRID_MAX_INCLUDES);
        return NULL;
    }
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return load_file(c, path, p, depth, chain); /* reports what it is */
    for (int k = 0; k < c->n_seen; k++)
        if (c->seen[k].dev == st.st_dev && c->seen[k].ino == st.st_ino)
            return c->seen[k].tree ? node_clone(c->seen[k].tree) : NULL;
    if (c->g->n_files > GRID_MAX_FILES) { /* files[0] is the top file */
        GERR_NODE(c->d, p, "includes more than %d files", GRID_MAX_FILES);
        return NULL;
    }
    nb_node *tree = load_file(c, path, p, depth, chain);
    c->seen = nb_xrealloc(c->seen, (size_t)(c->n_seen + 1) * sizeof *c->seen);
    c->seen[c->n_seen++] = (seen_file){st.st_dev, st.st_ino, tree};
    return tree ? node_clone(tree) : NULL;
}

/* Read and parse one file into a map tagged with its file name, checked
 * for duplicate keys and for its version (required in the top file). NULL
 * after an error, reported (at the include's node at, NULL for the top
 * file). */
static nb_node *read_tree(gctx *c, const char *path, const nb_node *at)
{
    char *text = NULL, *err = NULL;
    nb_node *root = NULL;
    int before = c->d->n;
    if (node_read_file(path, &text, &err)) {
        if (at) GERR_NODE(c->d, at, "cannot read the included file: %s", err);
        else diags_add(c->d, NULL, 0, 0, "%s", err);
        goto out;
    }
    c->bytes += strlen(text);
    if (at && c->bytes > GRID_MAX_TOTAL_BYTES) {
        GERR_NODE(c->d, at, "the included files total more than %zu MiB",
                  GRID_MAX_TOTAL_BYTES >> 20);
        goto out;
    }
    const char *file = grid_keep_file(c->g, path);
    if (!at) c->g->text = nb_xstrdup(text);
    if (node_parse(file, text, &root, &err)) {
        diags_add(c->d, NULL, 0, 0, "%s", err);
        goto out;
    }
    if (!root || root->kind != NB_NODE_MAP) {
        diags_add(c->d, file, root ? root->line : 1, root ? root->col : 1,
                  "%s must be a map of sections", at ? "an included file" : "the experiment");
        goto out;
    }
    node_tag(root, file);
    node_check_duplicates(root, file, c->d);
    const nb_node *v = node_get(root, "version");
    long long version = 0;
    if (!at && !v) {
        gerr(c->d, file, root->line, root->col,
             "missing required key \"version\" (this negbench reads version 1)");
    } else if (v && (v->kind != NB_NODE_SCALAR || v->quoted || parse_int(v->text, &version) ||
                     version != 1)) {
        GERR_NODE(c->d, v, "unsupported version %s (this negbench reads version 1)",
                  v->kind == NB_NODE_SCALAR ? v->text : "(not a number)");
    }
out:
    free(text);
    free(err);
    if (c->d->n > before) {
        node_free(root);
        return NULL;
    }
    return root;
}

/* Whether the include p (of sub_path, real path real or NULL) may be read
 * at depth + 1: not a cycle through chain[0..depth], not too deep. 0, or
 * -1 after reporting why not. */
static int include_allowed(gctx *c, const nb_node *p, const char *sub_path, const char *real,
                           int depth, const char **chain)
{
    for (int k = 0; k <= depth && real; k++)
        if (!strcmp(chain[k], real)) {
            GERR_NODE(c->d, p, "include cycle: %s is already being read", sub_path);
            return -1;
        }
    if (depth + 1 >= GRID_MAX_INCLUDE_DEPTH) {
        GERR_NODE(c->d, p, "includes nested more than %d deep", GRID_MAX_INCLUDE_DEPTH);
        return -1;
    }
    return 0;
}

/* The files named by inc (a file name or a list of them, relative to
 * path's directory) merged in order into *base. 0, or -1 after an error
 * (reported, or reported when the file was first read). */
static int load_includes(gctx *c, const char *path, const nb_node *inc, int depth,
                         const char **chain, nb_node **base)
{
    char *dir = nb_dirname(path);
    int bad = 0, n = inc->kind == NB_NODE_SEQ ? inc->n : 1;
    for (int i = 0; i < n && !bad; i++) {
        const nb_node *p = inc->kind == NB_NODE_SEQ ? inc->items[i] : inc;
        if (p->kind != NB_NODE_SCALAR || !p->text[0]) {
            GERR_NODE(c->d, p, "include: expected a file name or a list of file names");
            bad = 1;
            break;
        }
        char *sub_path = nb_path_join(dir, p->text);
        char *real = realpath(sub_path, NULL);
        bad = include_allowed(c, p, sub_path, real, depth, chain) != 0;
        if (!bad) {
            chain[depth + 1] = real ? real : sub_path;
            nb_node *sub = include_file(c, sub_path, p, depth + 1, chain);
            if (!sub) bad = 1;
            else if (!*base) *base = sub;
            else merge_into(*base, sub), node_free(sub);
        }
        free(real);
        free(sub_path);
    }
    free(dir);
    return bad ? -1 : 0;
}

/* Read one file and its includes into a merged tree (NULL after an error,
 * reported). at: the include's node in the including file (NULL for the
 * top file); chain: the files being read, for cycles. The file's own keys
 * override those of its includes. */
static nb_node *load_file(gctx *c, const char *path, const nb_node *at, int depth,
                          const char **chain /* real paths */)
{
    int before = c->d->n, bad = 0;
    nb_node *base = NULL, *root = read_tree(c, path, at);
    if (!root) return NULL;
    if (at) {
        int gi = map_find(root, "grid");
        if (gi >= 0)
            GERR_KEY(c->d, root, gi, "grid: only the top file defines the grid (this file is included)");
    }
    nb_node *inc = map_take(root, "include");
    if (inc) {
        bad = load_includes(c, path, inc, depth, chain, &base) != 0;
        node_free(inc);
    }
    if (!bad && c->d->n == before && base) {
        merge_into(base, root);
        base->file = root->file;
        base->line = root->line;
        base->col = root->col;
        node_free(root);
        root = base;
        base = NULL;
    }
    node_free(base);
    if (c->d->n > before) {
        node_free(root);
        return NULL;
    }
    return root;
}

/* ---- axes ------------------------------------------------------------- */

typedef struct axis {
    char *path;             /* dotted path, or "train.seed" for seeds */
    const char *label;      /* "train.lr", "seed" */
    const nb_node *keymap;  /* the map holding the axis key (positions) */
    int ki;
    nb_node *vals;          /* SEQ of values (owned for repeats) */
    int owned;
} axis;

typedef struct dimension { int first, n_axes, len; } dimension;

typedef struct axes {
    int n, n_dims;
    axis a[256];
    dimension dim[256];
} axes;

static int path_ok(const char *p)
{
    if (!*p || *p == '.') return 0;
    for (const char *q = p; *q; q++) {
        if (*q == '.' && (q[1] == '.' || q[1] == '\0')) return 0;
        if (*q != '.' && !isalnum((unsigned char)*q) && *q != '_') return 0;
    }
    return 1;
}

/* a is b, or a prefix of b at a dot. */
static int path_covers(const char *a, const char *b)
{
    size_t n = strlen(a);
    return !strncmp(a, b, n) && (b[n] == '\0' || b[n] == '.');
}

/* Add the axes of one map (path -> list) as a dimension; zip: lengths equal. */
static void add_axis_map(nb_diags *d, axes *ax, const nb_node *m, const char *where, int zip)
{
    if (m->kind != NB_NODE_MAP || m->n == 0) {
        GERR_NODE(d, m, "%s: expected a map of parameter paths to lists of values", where);
        return;
    }
    int first = ax->n, len = -1, first_len_i = -1;
    for (int i = 0; i < m->n; i++) {
        const nb_node *v = m->items[i];
        if (ax->n >= 256 || ax->n_dims >= 256) {
            GERR_KEY(d, m, i, "%s: more than 256 axes", where);
            return;
        }
        if (!path_ok(m->keys[i])) {
            GERR_KEY(d, m, i, "%s: \"%s\" is not a parameter path (write section.key, e.g. train.lr)",
                     where, m->keys[i]);
            continue;
        }
        if (v->kind != NB_NODE_SEQ || v->n == 0) {
            char *r = node_render(v);
            GERR_NODE(d, v, "%s: axis %s needs a non-empty list of values, got %s (write [%s] for one value)",
                      where, m->keys[i], v->kind == NB_NODE_SEQ ? "[]" : r,
                      v->kind == NB_NODE_SEQ ? "..." : r);
            free(r);
            continue;
        }
        int dup = 0;
        for (int j = 0; j < ax->n && !dup; j++)
            if (path_covers(ax->a[j].path, m->keys[i]) || path_covers(m->keys[i], ax->a[j].path)) {
                GERR_KEY(d, m, i, "%s: axis %s overlaps axis %s (line %d): each parameter may vary on one axis",
                         where, m->keys[i], ax->a[j].path, ax->a[j].keymap->key_line[ax->a[j].ki]);
                dup = 1;
            }
        if (dup) continue;
        if (zip && len >= 0 && v->n != len) {
            GERR_NODE(d, v, "%s: axis %s has %d values but %s has %d (zipped axes vary together and need the same length)",
                      where, m->keys[i], v->n, m->keys[first_len_i], len);
            continue;
        }
        if (len < 0) len = v->n, first_len_i = i;
        axis *a = &ax->a[ax->n++];
        a->path = nb_xstrdup(m->keys[i]);
        a->label = m->keys[i];
        a->keymap = m;
        a->ki = i;
        a->vals = (nb_node *)v;
        a->owned = 0;
        if (!zip) ax->dim[ax->n_dims++] = (dimension){ax->n - 1, 1, v->n};
    }
    if (zip && ax->n > first) ax->dim[ax->n_dims++] = (dimension){first, ax->n - first, len};
}

/* The base's train.seed (2020 if absent or not an integer). */
static long long base_seed(const nb_node *base)
{
    const nb_node *t = node_get(base, "train");
    const nb_node *s = t ? node_get(t, "seed") : NULL;
    long long v;
    if (s && s->kind == NB_NODE_SCALAR && !parse_int(s->text, &v)) return v;
    return 2020;
}

/* The values of grid.seeds: the list itself when every item is a
 * non-negative integer, else NULL after reporting the first bad one. */
static nb_node *seed_values(nb_diags *d, const nb_node *seeds)
{
    if (seeds->kind != NB_NODE_SEQ || seeds->n == 0) {
        GERR_NODE(d, seeds, "grid.seeds: expected a non-empty list of integers");
        return NULL;
    }
    for (int i = 0; i < seeds->n; i++) {
        const nb_node *s = seeds->items[i];
        long long x;
        if (s->kind != NB_NODE_SCALAR || s->quoted || parse_int(s->text, &x) || x < 0) {
            char *r = node_render(s);
            GERR_NODE(d, s, "grid.seeds: expected a non-negative integer, got %s", r);
            free(r);
            return NULL;
        }
    }
    return (nb_node *)seeds;
}

/* The values of grid.repeats N: a new list of the seeds base_seed .. +N-1
 * (caller owns it), or NULL after reporting a bad N. */
static nb_node *repeat_values(nb_diags *d, const nb_node *repeats, const nb_node *base)
{
    long long nrep = 0;
    if (repeats->kind != NB_NODE_SCALAR || repeats->quoted ||
        parse_int(repeats->text, &nrep) || nrep < 1 || nrep > GRID_MAX_POINTS) {
        char *r = node_render(repeats);
        GERR_NODE(d, repeats, "grid.repeats: expected an integer in [1, %d], got %s",
                  GRID_MAX_POINTS, r);
        free(r);
        return NULL;
    }
    long long s0 = base_seed(base);
    nb_node *vals = nb_xcalloc(1, sizeof *vals);
    vals->kind = NB_NODE_SEQ;
    vals->file = repeats->file;
    vals->line = repeats->line;
    vals->col = repeats->col;
    vals->items = nb_xmalloc((size_t)nrep * sizeof *vals->items);
    for (long long r = 0; r < nrep; r++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", s0 + r);
        vals->items[vals->n++] = node_new_scalar(buf, repeats->file, repeats->line, repeats->col);
    }
    return vals;
}

/* The seed axis of grid.seeds or grid.repeats (key si of grid), unless an
 * axis already varies train.seed or both are given. */
static void add_seed_axis(nb_diags *d, const nb_node *grid, const nb_node *base, axes *ax,
                          const nb_node *seeds, const nb_node *repeats, int si)
{
    if (seeds && repeats) {
        GERR_KEY(d, grid, si, "grid: give seeds or repeats, not both");
        return;
    }
    for (int j = 0; j < ax->n; j++)
        if (path_covers(ax->a[j].path, "train.seed")) {
            GERR_KEY(d, grid, si, "grid.%s sets train.seed, which axis %s (line %d) already varies",
                     seeds ? "seeds" : "repeats", ax->a[j].path,
                     ax->a[j].keymap->key_line[ax->a[j].ki]);
            return;
        }
    nb_node *vals = seeds ? seed_values(d, seeds) : repeat_values(d, repeats, base);
    if (!vals) return;
    if (ax->n >= 256) { /* no room (the axes were reported) */
        if (repeats) node_free(vals);
        return;
    }
    axis *a = &ax->a[ax->n++];
    a->path = nb_xstrdup("train.seed");
    a->label = "seed";
    a->keymap = grid;
    a->ki = si;
    a->vals = vals;
    a->owned = repeats != NULL;
    ax->dim[ax->n_dims++] = (dimension){ax->n - 1, 1, vals->n};
}

/* The axes of the grid section: product and zip maps, then the seeds. */
static void parse_grid(nb_diags *d, const nb_node *grid, const nb_node *base, axes *ax)
{
    static const char *const keys[] = {"product", "zip", "seeds", "repeats", NULL};
    const nb_node *seeds = NULL, *repeats = NULL;
    int seeds_i = -1, repeats_i = -1;
    if (grid->kind != NB_NODE_MAP) {
        GERR_NODE(d, grid, "grid: expected a map with product, zip, seeds or repeats");
        return;
    }
    for (int i = 0; i < grid->n; i++) {
        const char *k = grid->keys[i];
        const nb_node *v = grid->items[i];
        if (!strcmp(k, "product")) add_axis_map(d, ax, v, "grid.product", 0);
        else if (!strcmp(k, "zip")) {
            if (v->kind == NB_NODE_MAP) add_axis_map(d, ax, v, "grid.zip", 1);
            else if (v->kind == NB_NODE_SEQ)
                for (int g = 0; g < v->n; g++) add_axis_map(d, ax, v->items[g], "grid.zip", 1);
            else GERR_NODE(d, v, "grid.zip: expected a list of maps (each a group of axes that vary together)");
        } else if (!strcmp(k, "seeds")) seeds = v, seeds_i = i;
        else if (!strcmp(k, "repeats")) repeats = v, repeats_i = i;
        else {
            const char *near = nearest(k, keys);
            if (near) GERR_KEY(d, grid, i, "unknown key \"%s\" in grid (did you mean \"%s\"?)", k, near);
            else GERR_KEY(d, grid, i, "unknown key \"%s\" in grid (valid keys: product, zip, seeds, repeats)", k);
        }
    }
    if (seeds || repeats)
        add_seed_axis(d, grid, base, ax, seeds, repeats, repeats ? repeats_i : seeds_i);
}

static void axes_free(axes *ax)
{
    for (int i = 0; i < ax->n; i++) {
        free(ax->a[i].path);
        if (ax->a[i].owned) node_free(ax->a[i].vals);
    }
}

/* Replace the node at a's path in root by val (taken). */
static void set_path(nb_diags *d, nb_node *root, const axis *a, nb_node *val)
{
    const char *kf = node_key_file(a->keymap, a->ki);
    int kl = a->keymap->key_line[a->ki], kc = a->keymap->key_col[a->ki];
    char *p = nb_xstrdup(a->path), *save = NULL;
    nb_node *cur = root;
    char *seg = strtok_r(p, ".", &save);
    for (;;) {
        char *next = strtok_r(NULL, ".", &save);
        int j = map_find(cur, seg);
        if (!next) {
            if (j >= 0) {
                node_free(cur->items[j]);
                cur->items[j] = val;
            } else {
                map_append(cur, seg, val, kf, kl, kc);
            }
            val = NULL;
            break;
        }
        if (j < 0) {
            nb_node *m = node_new_map(kf, kl, kc);
            map_append(cur, seg, m, kf, kl, kc);
            cur = m;
        } else if (cur->items[j]->kind != NB_NODE_MAP) {
            gerr(d, kf, kl, kc, "grid axis %s: %.*s is not a map in the experiment", a->path,
                 (int)(next - 1 - p), a->path);
            break;
        } else {
            cur = cur->items[j];
        }
        seg = next;
    }
    node_free(val);
    free(p);
}

/* Step 4: the block of the section's plugin, for keys it does not set. */
static void apply_block(nb_node *root, const char *section, const nb_node *blocks)
{
    int si = map_find(root, section);
    if (si < 0 || !blocks) return;
    nb_node *sect = root->items[si];
    const nb_node *name = sect->kind == NB_NODE_MAP ? node_get(sect, "name") : sect;
    if (!name || name->kind != NB_NODE_SCALAR) return;
    const nb_node *blk = node_get(blocks, name->text);
    if (!blk || blk->kind != NB_NODE_MAP) return;
    if (sect->kind == NB_NODE_SCALAR) { /* "sampler: dns" -> {name: dns} */
        nb_node *m = node_new_map(sect->file, sect->line, sect->col);
        map_append(m, "name", sect, sect->file, sect->line, sect->col);
        root->items[si] = sect = m;
    }
    for (int i = 0; i < blk->n; i++)
        if (map_find(sect, blk->keys[i]) < 0)
            map_append(sect, blk->keys[i], node_clone(blk->items[i]), node_key_file(blk, i),
                       blk->key_line[i], blk->key_col[i]);
}

/* sampler_params / model_params: a map of plugin name -> map. */
static void check_blocks(nb_diags *d, const nb_node *b, const char *what)
{
    if (!b) return;
    if (b->kind != NB_NODE_MAP) {
        GERR_NODE(d, b, "%s: expected a map of %s names to parameter maps", what,
                  strcmp(what, "sampler_params") ? "model" : "sampler");
        return;
    }
    for (int i = 0; i < b->n; i++)
        if (b->items[i]->kind != NB_NODE_MAP)
            GERR_NODE(d, b->items[i], "%s.%s: expected a map of parameters", what, b->keys[i]);
}

/* ---- the whole grid --------------------------------------------------- */

int grid_load(const char *path, nb_grid *g, nb_diags *diags)
{
    gctx c = {g, diags, NULL, 0, 0, 0};
    int before = diags->n;
    nb_node *base = NULL, *gridn = NULL;
    axes *ax = nb_xcalloc(1, sizeof *ax);
    const char *chain[GRID_MAX_INCLUDE_DEPTH + 1];
    nb_diags pd = {0};

    memset(g, 0, sizeof *g);
    g->path = nb_xstrdup(path);
    char *real = realpath(path, NULL);
    chain[0] = real ? real : path;
    if (!(base = load_file(&c, path, NULL, 0, chain))) goto out;
    int gi = map_find(base, "grid");
    g->is_grid = gi >= 0;
    gridn = map_take(base, "grid");
    g->sampler_blocks = map_take(base, "sampler_params");
    g->model_blocks = map_take(base, "model_params");
    check_blocks(diags, g->sampler_blocks, "sampler_params");
    check_blocks(diags, g->model_blocks, "model_params");
    if (gridn) parse_grid(diags, gridn, base, ax);
    if (diags->n > before) goto out;

    long long total = 1;
    for (int i = 0; i < ax->n_dims; i++) {
        total *= ax->dim[i].len;
        if (total > GRID_MAX_POINTS) {
            GERR_NODE(diags, gridn, "the grid has more than %d points", GRID_MAX_POINTS);
            goto out;
        }
    }
    g->shape = nb_xstrdup(ax->n_dims ? "" : "1");
    for (int i = 0; i < ax->n_dims; i++) {
        char *t = nb_strf("%s%s%d", g->shape, i ? " x " : "", ax->dim[i].len);
        free(g->shape);
        g->shape = t;
    }
    g->n_points = (int)total;
    g->points = nb_xcalloc((size_t)total, sizeof *g->points);
    for (long long p = 0; p < total; p++) {
        nb_node *t = node_clone(base);
        char *label = nb_xstrdup("");
        long long rest = p;
        int idx[256];
        for (int k = ax->n_dims - 1; k >= 0; k--) {
            idx[k] = (int)(rest % ax->dim[k].len);
            rest /= ax->dim[k].len;
        }
        for (int k = 0; k < ax->n_dims; k++)
            for (int a = ax->dim[k].first; a < ax->dim[k].first + ax->dim[k].n_axes; a++) {
                const nb_node *v = ax->a[a].vals->items[idx[k]];
                char *r = grid_value_label(v, idx[k]);
                char *l = nb_strf("%s%s%s=%s", label, *label ? " " : "", ax->a[a].label, r);
                free(r);
                free(label);
                label = l;
                set_path(&pd, t, &ax->a[a], node_clone(v));
            }
        apply_block(t, "sampler", g->sampler_blocks);
        apply_block(t, "model", g->model_blocks);
        g->points[p].tree = t;
        g->points[p].label = label;
    }
    diags_add_unique(diags, &pd);
out:
    for (int k = 0; k < c.n_seen; k++) node_free(c.seen[k].tree);
    free(c.seen);
    diags_free(&pd);
    node_free(base);
    node_free(gridn);
    axes_free(ax);
    free(ax);
    free(real);
    if (diags->n > before) {
        grid_free(g);
        return NB_EINVAL;
    }
    return 0;
}

void grid_free(nb_grid *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_points; i++) {
        node_free(g->points[i].tree);
        free(g->points[i].label);
    }
    free(g->points);
    node_free(g->sampler_blocks);
    node_free(g->model_blocks);
    for (int i = 0; i < g->n_files; i++) free(g->files[i]);
    free(g->files);
    free(g->path);
    free(g->text);
    free(g->shape);
    memset(g, 0, sizeof *g);
}

int grid_file_is_sweep(const char *path)
{
    char *text = NULL, *err = NULL;
    nb_node *root = NULL;
    int yes = 0;
    if (node_read_file(path, &text, &err) == 0 && node_parse(path, text, &root, &err) == 0 &&
        root && root->kind == NB_NODE_MAP)
        yes = node_get(root, "grid") || node_get(root, "include") ||
              node_get(root, "sampler_params") || node_get(root, "model_params");
    node_free(root);
    free(text);
    free(err);
    return yes;
}
