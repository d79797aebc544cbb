/*
 * corpus.c - the bad-file corpus runner behind corpus.h.
 */
#define _GNU_SOURCE
#include "corpus.h"
#include "tap/tap.h"
#include "util.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

char *replace_all(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = strstr(s, from); p; p = strstr(p + fl, from)) n++;
    char *out = nb_xmalloc(strlen(s) + n * tl + 1), *o = out;
    for (const char *p; (p = strstr(s, from)); s = p + fl) {
        memcpy(o, s, (size_t)(p - s));
        o += p - s;
        memcpy(o, to, tl);
        o += tl;
    }
    strcpy(o, s);
    return out;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The "# expect: " header of a file, FILE and DIR substituted; returns the count. */
static int read_expected(const char *path, const char *dir, char *want[], int max)
{
    char *text = NULL, *err = NULL;
    int n = 0;
    if (nb_read_file(path, &text, NULL, &err)) tap_bail("%s", err);
    for (char *line = text; line && !strncmp(line, "# expect: ", 10) && n < max;) {
        char *eol = strchr(line, '\n');
        char *raw = eol ? strndup(line + 10, (size_t)(eol - line - 10)) : nb_xstrdup(line + 10);
        char *a = replace_all(raw, "FILE", path);
        want[n++] = replace_all(a, "DIR", dir);
        free(raw);
        free(a);
        line = eol ? eol + 1 : NULL;
    }
    free(text);
    return n;
}

int corpus_check(const char *dir, int min_files, corpus_load_fn load, void *ctx)
{
    DIR *dp = opendir(dir);
    char **names = NULL;
    int n = 0;
    if (!dp) tap_bail("cannot open %s", dir);
    for (struct dirent *de; (de = readdir(dp));) {
        size_t l = strlen(de->d_name);
        if (!strncmp(de->d_name, "bad-", 4) && l > 5 && !strcmp(de->d_name + l - 5, ".yaml")) {
            names = nb_xrealloc(names, (size_t)(n + 1) * sizeof *names);
            names[n++] = nb_xstrdup(de->d_name);
        }
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    ok(n >= min_files, "corpus: %d bad files in %s", n, dir);
    for (int f = 0; f < n; f++) {
        char *path = nb_strf("%s/%s", dir, names[f]);
        char *want[8];
        int n_want = read_expected(path, dir, want, 8);
        nb_diags d = { 0 };
        int rc = load(path, &d, ctx);
        int good = n_want > 0 && rc == NB_EINVAL && d.n == n_want;
        for (int i = 0; good && i < n_want; i++) good = !strcmp(d.msg[i], want[i]);
        ok(good, "corpus: %s gives its %d expected message(s)", names[f], n_want);
        if (!good) {
            for (int i = 0; i < n_want; i++) diag("want: %s", want[i]);
            for (int i = 0; i < d.n; i++) diag("got:  %s", d.msg[i]);
        }
        diags_free(&d);
        for (int i = 0; i < n_want; i++) free(want[i]);
        free(path);
        free(names[f]);
    }
    free(names);
    return n;
}
