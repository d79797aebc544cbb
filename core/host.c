/*
 * host.c - the nb_host table: logging, strings, aligned memory, SGEMM.
 */
#include "host.h"
#include "kernels.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int log_level = NB_LOG_INFO;

void host_set_log_level(int level)
{
    log_level = level;
}

/* The functions of the table (see nb_host in negbench/plugin.h): a log
 * line "negbench: ..." on stderr at or above the level set, heap strings
 * and aligned zeroed memory the host frees with free(). */
static void h_log(int level, const char *fmt, ...)
{
    if (level < log_level) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("negbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static char *h_mprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = nb_vstrf(fmt, ap);
    va_end(ap);
    return s;
}

static void *h_alloc(size_t n)
{
    return nb_aligned_zalloc(n);
}

static void h_free(void *p)
{
    free(p);
}

static nb_host table = {
    .struct_size = sizeof(nb_host),
    .log = h_log,
    .mprintf = h_mprintf,
    .alloc = h_alloc,
    .free = h_free,
    .sgemm = nb_sgemm,
    .threads = 1,
    .sgemm_ex = nb_sgemm_ex,
};

const nb_host *host_table(int threads)
{
    table.threads = threads > 0 ? threads : 1;
    return &table;
}
