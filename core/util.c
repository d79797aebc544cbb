/*
 * util.c - error strings, checked allocation, clock, peak RSS, paths.
 */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* What a non-regular file is, for messages. */
static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a file";
}

const char *nb_file_kind(const struct stat *st)
{
    return S_ISREG(st->st_mode) ? NULL : file_kind(st->st_mode);
}

int nb_read_file_max(const char *path, size_t max, char **data, size_t *len, char **err)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; the mode is
     * checked on the descriptor, so the file read is the file checked. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    struct stat st;
    int status = 0;
    if (fd < 0) return nb_fail(err, -1, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        status = nb_fail(err, -1, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        status = nb_fail(err, -1, "%s: is a directory, not a file", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        status = nb_fail(err, -1, "%s: not a regular file (%s)", path, file_kind(st.st_mode));
        goto out;
    }
    if (max && (uint64_t)st.st_size > max) {
        status = nb_fail(err, -1, "%s: larger than %zu MiB (%lld bytes)", path, max >> 20,
                         (long long)st.st_size);
        goto out;
    }
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 131072;
            buf = nb_xrealloc(buf, cap + 1);
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            status = nb_fail(err, -1, "%s: read error: %s", path, strerror(errno));
            goto out;
        }
        if (got == 0) break;
        n += (size_t)got;
        if (max && n > max) { /* grew while being read */
            status = nb_fail(err, -1, "%s: larger than %zu MiB", path, max >> 20);
            goto out;
        }
    }
    buf[n] = '\0';
    *data = buf;
    buf = NULL;
    if (len) *len = n;
out:
    close(fd);
    free(buf);
    return status;
}

int nb_read_file(const char *path, char **data, size_t *len, char **err)
{
    return nb_read_file_max(path, 0, data, len, err);
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

uint64_t nb_hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < n; k++) h = (h ^ b[k]) * 0x100000001b3ull;
    return h;
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
