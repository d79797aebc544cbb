/*
 * corpus.h - the bad-file corpora of the config and grid tests: every
 * bad-*.yaml of a directory starts with "# expect: MESSAGE" lines (FILE and
 * DIR stand for the file's path and directory), and loading it must give
 * exactly those diagnostics, in order, with status NB_EINVAL.
 */
#ifndef NB_TEST_CORPUS_H
#define NB_TEST_CORPUS_H

#include "config.h"

/* Replace every occurrence of from by to; malloc'd. */
char *replace_all(const char *s, const char *from, const char *to);

/* Loads one file into diags; returns its status. ctx is passed through. */
typedef int (*corpus_load_fn)(const char *path, nb_diags *diags, void *ctx);

/* One TAP point per file of dir (sorted by name), plus one asserting that
 * there are at least min_files. Returns the number of files. */
int corpus_check(const char *dir, int min_files, corpus_load_fn load, void *ctx);

#endif
