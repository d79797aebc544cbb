/*
 * util.h - small helpers shared by the host: error strings, checked
 * allocation, timing, peak memory, string utilities.
 *
 * Conventions for the whole core: functions return int status codes
 * (0 = NB_OK, negative = failure, see enum nb_status in negbench/plugin.h)
 * and, on failure, set *err to a one-line message allocated with malloc
 * (nb_strf) that the caller frees with free(). Messages about input carry
 * their position as "file:line:col: message" or "file:line: message".
 */
#ifndef NB_UTIL_H
#define NB_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A malloc'd formatted string (never NULL: aborts on out-of-memory). */
char *nb_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *nb_vstrf(const char *fmt, va_list ap);

/* Set *err (if err is non-NULL and *err is NULL) and return code. */
int nb_fail(char **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checked allocation: abort with a message on failure. */
void *nb_xmalloc(size_t n);
void *nb_xcalloc(size_t n, size_t size);
void *nb_xrealloc(void *p, size_t n);
char *nb_xstrdup(const char *s);

/* 64-byte aligned, zeroed allocation (NULL on failure); free with free().
 * From 2 MiB on: 2 MiB aligned, with transparent huge pages advised. */
void *nb_aligned_zalloc(size_t bytes);

/* Monotonic wall clock in seconds. */
double nb_now(void);

/* Peak resident set size of this process in bytes (0 if unknown). */
int64_t nb_peak_rss_bytes(void);

/* Read a whole regular file into a NUL-terminated malloc'd buffer (*data,
 * caller frees; *len, if len is given, the bytes read, which may include NUL
 * bytes). A directory, FIFO, device or socket is refused without blocking
 * ("PATH: not a regular file (a FIFO)"); max > 0 refuses a file larger than
 * max bytes. 0, or -1 with *err. */
int nb_read_file_max(const char *path, size_t max, char **data, size_t *len, char **err);
/* nb_read_file_max without a size limit. */
int nb_read_file(const char *path, char **data, size_t *len, char **err);

struct stat;
/* NULL for a regular file, else what it is: "a directory", "a FIFO",
 * "a character device", "a block device", "a socket". */
const char *nb_file_kind(const struct stat *st);

/* Directory part of a path ("." if none); malloc'd. */
char *nb_dirname(const char *path);

/* Join dir and a relative path (path returned as is when absolute). */
char *nb_path_join(const char *dir, const char *path);

/* FNV-1a (64-bit) of n bytes, for hash tables. */
uint64_t nb_hash_bytes(const void *p, size_t n);

/* Levenshtein distance, for "did you mean" suggestions. */
int nb_edit_distance(const char *a, const char *b);

#endif /* NB_UTIL_H */
