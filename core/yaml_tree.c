/*
 * yaml_tree.c - a YAML document into an nb_node tree that keeps positions.
 *
 * Built on libyaml's event API (yaml_parser_parse). The tree is deliberately
 * small: scalars keep their text and whether they were quoted (a quoted or
 * block scalar is always a string, never a number or a bool), maps keep
 * their keys in document order with the key positions. Refused with a
 * positioned error: anchors and aliases, merge keys (<<), explicit tags
 * (!!str, !custom), non-scalar map keys, and more than one document.
 * Duplicate keys are kept (node_check_duplicates reports them, so that they
 * join the other diagnostics of the file). node_read_file reads a YAML file
 * with the size limit and refuses NUL bytes (libyaml would stop at the first).
 */
#define _GNU_SOURCE /* qsort_r */
#include "yaml_tree.h"
#include "negbench/plugin.h" /* NB_EINVAL, NB_ENOMEM */
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The largest YAML file read (experiment, grid or included file). */
#define TREE_MAX_FILE_BYTES ((size_t)4 << 20)

typedef struct tree_ctx {
    yaml_parser_t parser;
    const char *path;
    const char *text;
    char *err;
    int depth;
} tree_ctx;

#define TREE_MAX_DEPTH 256

static int tree_fail_at(tree_ctx *c, yaml_mark_t m, const char *what)
{
    return nb_fail(&c->err, NB_EINVAL, "%s:%d:%d: %s", c->path,
                   (int)m.line + 1, (int)m.column + 1, what);
}

/* libyaml's own problem (scanner, parser or reader error). */
static int tree_fail_syntax(tree_ctx *c)
{
    yaml_parser_t *p = &c->parser;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR) { /* no mark: count lines up to the byte */
        int line = 1, col = 1;
        for (size_t i = 0; i < p->problem_offset && c->text[i]; i++) {
            if (c->text[i] == '\n') line++, col = 1;
            else col++;
        }
        return nb_fail(&c->err, NB_EINVAL, "%s:%d:%d: YAML: %s (byte %zu)", c->path,
                       line, col, problem, p->problem_offset);
    }
    if (p->context)
        return nb_fail(&c->err, NB_EINVAL, "%s:%d:%d: YAML syntax error: %s (%s at line %d, column %d)",
                       c->path, (int)p->problem_mark.line + 1,
                       (int)p->problem_mark.column + 1, problem, p->context,
                       (int)p->context_mark.line + 1,
                       (int)p->context_mark.column + 1);
    return nb_fail(&c->err, NB_EINVAL, "%s:%d:%d: YAML syntax error: %s", c->path,
                   (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
                   problem);
}

static int tree_next(tree_ctx *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->parser, ev)) return tree_fail_syntax(c);
    return 0;
}

static nb_node *node_new(int kind, yaml_mark_t m)
{
    nb_node *n = nb_xcalloc(1, sizeof *n);
    n->kind = kind;
    n->line = (int)m.line + 1;
    n->col = (int)m.column + 1;
    return n;
}

static void node_push(nb_node *n, nb_node *item, char *key, yaml_mark_t km)
{
    /* Grow by powers of two: n == 0, 1, 2, 4, ... triggers a realloc. */
    if ((n->n & (n->n - 1)) == 0) {
        size_t cap = n->n ? 2 * (size_t)n->n : 1;
        n->items = nb_xrealloc(n->items, cap * sizeof *n->items);
        if (n->kind == NB_NODE_MAP) {
            n->keys = nb_xrealloc(n->keys, cap * sizeof *n->keys);
            n->key_line = nb_xrealloc(n->key_line, cap * sizeof *n->key_line);
            n->key_col = nb_xrealloc(n->key_col, cap * sizeof *n->key_col);
        }
    }
    n->items[n->n] = item;
    if (n->kind == NB_NODE_MAP) {
        n->keys[n->n] = key;
        n->key_line[n->n] = (int)km.line + 1;
        n->key_col[n->n] = (int)km.column + 1;
    }
    n->n++;
}

static int tree_node(tree_ctx *c, yaml_event_t *ev, nb_node **out);

/* Anchors are refused: they only make sense with aliases. */
static int tree_check_anchor(tree_ctx *c, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL;
    if (ev->type == YAML_SCALAR_EVENT) anchor = ev->data.scalar.anchor;
    else if (ev->type == YAML_SEQUENCE_START_EVENT) anchor = ev->data.sequence_start.anchor;
    else if (ev->type == YAML_MAPPING_START_EVENT) anchor = ev->data.mapping_start.anchor;
    if (anchor)
        return tree_fail_at(c, ev->start_mark,
                            "YAML anchors and aliases are not supported: write the value out");
    return 0;
}

/* Explicit tags are refused: the tree has no types beyond its own scalar
 * rules, so a tag would be silently ignored. */
static int tree_check_tag(tree_ctx *c, const yaml_event_t *ev)
{
    const yaml_char_t *tag = NULL;
    static const char core[] = "tag:yaml.org,2002:";
    if (ev->type == YAML_SCALAR_EVENT) tag = ev->data.scalar.tag;
    else if (ev->type == YAML_SEQUENCE_START_EVENT) tag = ev->data.sequence_start.tag;
    else if (ev->type == YAML_MAPPING_START_EVENT) tag = ev->data.mapping_start.tag;
    if (!tag) return 0;
    const char *t = (const char *)tag;
    int is_core = !strncmp(t, core, sizeof core - 1);
    char *what = nb_strf("YAML tag %s%s is not supported: write the value without it",
                         is_core ? "!!" : "", is_core ? t + sizeof core - 1 : t);
    int rc = tree_fail_at(c, ev->start_mark, what);
    free(what);
    return rc;
}

/* Children of a sequence or map until its end event. */
static int tree_children(tree_ctx *c, nb_node *n)
{
    yaml_event_t ev, kev;
    int rc = 0;
    for (;;) {
        if ((rc = tree_next(c, &ev))) return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        nb_node *child = NULL;
        if (n->kind == NB_NODE_SEQ) {
            rc = tree_node(c, &ev, &child);
            if (rc) return rc;
            node_push(n, child, NULL, ev.start_mark);
            continue;
        }
        /* map: ev is the key */
        kev = ev;
        if (kev.type == YAML_ALIAS_EVENT || tree_check_anchor(c, &kev)) {
            rc = tree_fail_at(c, kev.start_mark,
                              "YAML anchors and aliases are not supported: write the value out");
            yaml_event_delete(&kev);
            return rc;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            rc = tree_fail_at(c, kev.start_mark, "map keys must be plain scalars");
            yaml_event_delete(&kev);
            return rc;
        }
        if ((rc = tree_check_tag(c, &kev))) {
            yaml_event_delete(&kev);
            return rc;
        }
        if (kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            !strcmp((const char *)kev.data.scalar.value, "<<")) {
            rc = tree_fail_at(c, kev.start_mark,
                              "YAML merge keys (<<) are not supported: write the keys out");
            yaml_event_delete(&kev);
            return rc;
        }
        char *key = nb_xstrdup((const char *)kev.data.scalar.value);
        yaml_mark_t km = kev.start_mark;
        yaml_event_delete(&kev);
        if ((rc = tree_next(c, &ev))) {
            free(key);
            return rc;
        }
        rc = tree_node(c, &ev, &child);
        if (rc) {
            free(key);
            return rc;
        }
        node_push(n, child, key, km);
    }
}

/* Build the node that starts with ev (consumed). */
static int tree_node(tree_ctx *c, yaml_event_t *ev, nb_node **out)
{
    int rc = 0;
    nb_node *n = NULL;
    *out = NULL;
    if (ev->type == YAML_ALIAS_EVENT) {
        rc = tree_fail_at(c, ev->start_mark,
                          "YAML anchors and aliases are not supported: write the value out");
        goto out;
    }
    if ((rc = tree_check_anchor(c, ev)) || (rc = tree_check_tag(c, ev))) goto out;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = node_new(NB_NODE_SCALAR, ev->start_mark);
        n->text = nb_xstrdup((const char *)ev->data.scalar.value);
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (++c->depth > TREE_MAX_DEPTH) {
            rc = tree_fail_at(c, ev->start_mark, "YAML nested too deeply");
            goto out;
        }
        n = node_new(ev->type == YAML_SEQUENCE_START_EVENT ? NB_NODE_SEQ : NB_NODE_MAP,
                     ev->start_mark);
        rc = tree_children(c, n);
        c->depth--;
        break;
    default:
        rc = tree_fail_at(c, ev->start_mark, "unexpected YAML event");
        break;
    }
out:
    yaml_event_delete(ev);
    if (rc) node_free(n);
    else *out = n;
    return rc;
}

/* Parse text (the contents of path, used in messages) into *root.
 * An empty document gives *root = NULL and status 0. On error *err is
 * "path:line:col: message" (caller frees) and *root is NULL. The tree is
 * owned by the caller: node_free(). */
int node_parse(const char *path, const char *text, nb_node **root, char **err)
{
    tree_ctx c;
    yaml_event_t ev;
    int rc = 0, started = 0, n_docs = 0;
    nb_node *doc = NULL;
    memset(&c, 0, sizeof c);
    c.path = path;
    c.text = text;
    *root = NULL;
    if (!yaml_parser_initialize(&c.parser)) {
        rc = nb_fail(&c.err, NB_ENOMEM, "%s: cannot initialise the YAML parser", path);
        goto out;
    }
    started = 1;
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, strlen(text));
    for (;;) {
        if ((rc = tree_next(&c, &ev))) goto out;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT && n_docs++ > 0) {
            rc = tree_fail_at(&c, ev.start_mark,
                              "a second YAML document: an experiment file holds exactly one");
            yaml_event_delete(&ev);
            goto out;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT ||
            t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if ((rc = tree_node(&c, &ev, &doc))) goto out;
    }
out:
    if (started) yaml_parser_delete(&c.parser);
    if (rc) {
        node_free(doc);
        if (err) *err = c.err;
        else free(c.err);
        return rc;
    }
    *root = doc;
    return 0;
}

/* Free a tree (NULL is fine). */
void node_free(nb_node *n)
{
    if (!n) return;
    for (int i = 0; i < n->n; i++) {
        node_free(n->items[i]);
        if (n->keys) free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->key_line);
    free(n->key_col);
    free(n->key_file);
    free(n->text);
    free(n);
}

/* The value of key in a MAP node (first occurrence), or NULL. */
const nb_node *node_get(const nb_node *map, const char *key)
{
    if (!map || map->kind != NB_NODE_MAP) return NULL;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) return map->items[i];
    return NULL;
}

/* Read a YAML file (at most TREE_MAX_FILE_BYTES, a regular file) into *text
 * (caller frees). A NUL byte is refused at its position: libyaml would read
 * the text only up to it. 0, or NB_EINVAL with *err. */
int node_read_file(const char *path, char **text, char **err)
{
    size_t len = 0;
    *text = NULL;
    if (nb_read_file_max(path, TREE_MAX_FILE_BYTES, text, &len, err)) return NB_EINVAL;
    const char *nul = memchr(*text, '\0', len);
    if (!nul) return 0;
    size_t at = (size_t)(nul - *text);
    int line = 1, col = 1;
    for (const char *q = *text; q < nul; q++) {
        if (*q == '\n') line++, col = 1;
        else col++;
    }
    free(*text);
    *text = NULL;
    return nb_fail(err, NB_EINVAL, "%s:%d:%d: a NUL byte (byte %zu): a YAML file is text", path,
                   line, col, at);
}

/* Key order for the duplicate check: by key, then by position in the map. */
static int dup_cmp(const void *a, const void *b, void *map)
{
    const nb_node *m = map;
    int i = *(const int *)a, j = *(const int *)b;
    int c = strcmp(m->keys[i], m->keys[j]);
    return c ? c : (i > j) - (i < j);
}

/* Every map of the tree: a key given twice is an error at the second (in
 * document order), naming the first's line. Sorting the keys of each map
 * makes it O(n log n). file: the file of nodes without one (NULL tags). */
void node_check_duplicates(const nb_node *n, const char *file, nb_diags *d)
{
    int *order = NULL, *first = NULL;
    if (!n) return;
    if (n->kind == NB_NODE_MAP && n->n > 1) {
        order = nb_xmalloc((size_t)n->n * sizeof *order);
        first = nb_xmalloc((size_t)n->n * sizeof *first);
        for (int i = 0; i < n->n; i++) order[i] = i, first[i] = -1;
        qsort_r(order, (size_t)n->n, sizeof *order, dup_cmp, (void *)n);
        for (int r = 1; r < n->n; r++)
            if (!strcmp(n->keys[order[r]], n->keys[order[r - 1]]))
                first[order[r]] = first[order[r - 1]] >= 0 ? first[order[r - 1]] : order[r - 1];
    }
    for (int i = 0; i < n->n; i++) {
        if (first && first[i] >= 0) {
            const char *f = node_key_file(n, i);
            diags_add(d, f ? f : file, n->key_line[i], n->key_col[i],
                      "duplicate key \"%s\" (first given at line %d)", n->keys[i],
                      n->key_line[first[i]]);
        }
        node_check_duplicates(n->items[i], file, d);
    }
    free(order);
    free(first);
}
