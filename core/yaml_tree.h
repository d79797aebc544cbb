/*
 * yaml_tree.h - a YAML document as a small tree of scalars, sequences and
 * maps that keeps every node's position, for positioned diagnostics
 * (core/yaml_tree.c, built on libyaml's event API).
 *
 * Ownership: node_parse returns a tree the caller frees with node_free;
 * node_get returns a node inside the tree (not owned).
 */
#ifndef NB_YAML_TREE_H
#define NB_YAML_TREE_H

#include "diags.h"

enum nb_node_kind { NB_NODE_SCALAR = 1, NB_NODE_SEQ, NB_NODE_MAP };

typedef struct nb_node nb_node;
struct nb_node {
    int kind;
    int line, col;          /* 1-based position of the node */
    char *text;             /* SCALAR: the text */
    int quoted;             /* SCALAR: was quoted (never a number/bool) */
    int n;                  /* SEQ: items; MAP: pairs */
    nb_node **items;        /* SEQ items, or MAP values */
    char **keys;            /* MAP keys */
    int *key_line, *key_col;/* MAP key positions */
    /* Grids (core/grid.c) merge trees of several files: the file of a node
     * and of each map key, NULL meaning the experiment file itself. The
     * strings are not owned by the tree; key_file (may be NULL) is. */
    const char *file;
    const char **key_file;
};

/* The file of key i of a MAP node (NULL: the experiment file). */
static inline const char *node_key_file(const nb_node *m, int i)
{
    return m->key_file && m->key_file[i] ? m->key_file[i] : m->file;
}

/* Parse a YAML document; on a syntax error, *err is "file:line:col: ...". */
int node_parse(const char *path, const char *text, nb_node **root, char **err);
/* Free the tree under n (n may be NULL). */
void node_free(nb_node *n);
/* The value of key in a MAP node, or NULL. */
const nb_node *node_get(const nb_node *map, const char *key);
/* Read a YAML file for node_parse into *text (caller frees): a regular file
 * of at most 4 MiB without NUL bytes ("file:line:col: a NUL byte ...").
 * 0, or NB_EINVAL with *err. */
int node_read_file(const char *path, char **text, char **err);

/* Every map of the tree n: a key given twice is a diagnostic at the second
 * ("duplicate key ... (first given at line L)"), in O(n log n) per map.
 * file names keys whose node has no file of its own. */
void node_check_duplicates(const nb_node *n, const char *file, nb_diags *d);

#endif /* NB_YAML_TREE_H */
