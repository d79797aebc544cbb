/*
 * util.c - error strings, checked allocation, clock, peak RSS, paths.
 */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

char *nb_vstrf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) {
        fputs("negbench: out of memory\n", stderr);
        abort();
    }
    return s;
}

char *nb_strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = nb_vstrf(fmt, ap);
    va_end(ap);
    return s;
}

int nb_fail(char **err, int code, const char *fmt, ...)
{
    if (err && !*err) {
        va_list ap;
        va_start(ap, fmt);
        *err = nb_vstrf(fmt, ap);
        va_end(ap);
    }
    return code;
}

static void *oom(size_t n)
{
    fprintf(stderr, "negbench: out of memory allocating %zu bytes\n", n);
    abort();
}

void *nb_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    return p ? p : oom(n);
}

void *nb_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : oom(n * size);
}

void *nb_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    return q ? q : oom(n);
}

char *nb_xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    return d ? d : oom(strlen(s) + 1);
}

void *nb_aligned_zalloc(size_t bytes)
{
    void *p = NULL;
    size_t n = (bytes + 63) & ~(size_t)63, align = 64;
#ifdef MADV_HUGEPAGE
    /* Tables of 2 MiB and more (embeddings, layer stacks, gradients) go on
     * 2 MiB boundaries and ask for transparent huge pages: the graph
     * products gather rows at random, and with 4 KiB pages most gathers
     * also miss the TLB (about 10% of a Gowalla SpMM). Advice only: where
     * THP is off the memory is ordinary. */
    if (n >= ((size_t)2 << 20)) align = (size_t)2 << 20;
#endif
    if (posix_memalign(&p, align, n ? n : 64) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (align > 64) madvise(p, n & ~(align - 1), MADV_HUGEPAGE); /* whole huge pages of p only */
#endif
    memset(p, 0, n ? n : 64);
    return p;
}

double nb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t nb_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (int64_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

int nb_read_file(const char *path, char **data, size_t *len, char **err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f) return nb_fail(err, -1, "%s: cannot open: %s", path, strerror(errno));
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 131072;
            buf = nb_xrealloc(buf, cap + 1);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return nb_fail(err, -1, "%s: read error", path);
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    if (len) *len = n;
    return 0;
}

char *nb_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return nb_xstrdup(".");
    if (slash == path) return nb_xstrdup("/");
    return strndup(path, (size_t)(slash - path));
}

char *nb_path_join(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0)
        return nb_xstrdup(path);
    return nb_strf("%s/%s", dir, path);
}

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and transpositions of adjacent characters each cost 1. */
int nb_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), w = lb + 1;
    int *d = nb_xcalloc((la + 1) * w, sizeof *d);
    for (size_t i = 0; i <= la; i++) d[i * w] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = d[(i - 1) * w + j - 1] + cost;
            if (d[(i - 1) * w + j] + 1 < best) best = d[(i - 1) * w + j] + 1;
            if (d[i * w + j - 1] + 1 < best) best = d[i * w + j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[(i - 2) * w + j - 2] + 1 < best)
                best = d[(i - 2) * w + j - 2] + 1;
            d[i * w + j] = best;
        }
    int out = d[la * w + lb];
    free(d);
    return out;
}
