/*
 * dataset_load.c - parsers for the three interaction formats and the token
 * map. Each parser walks the file buffer (read once with nb_read_file) with
 * a hand-written scanner and appends rows to an nb_rows list; nothing is
 * allocated per line.
 *
 *   LINES  "user item item ..." (LightGCN/DENS): whitespace separated,
 *          non-negative int32 ids (made rows by ids_settle_lines: dense ids
 *          keep their value); a line with only a user id declares the user;
 *          blank lines are ignored.
 *   INTER  RecBole atomic file: a tab-separated header of name:type fields
 *          that must include user_id and item_id (any order); rating and
 *          timestamp columns are used when present; other columns ignored.
 *   CSV    user,item[,rating][,timestamp] by position. The delimiter is
 *          chosen per file from the first non-blank line: ',' if it has one,
 *          else tab if it has one, else runs of blanks. The first line is a
 *          header (skipped) when any of its fields is not a number. Every
 *          data line must have the field count of the first data line.
 *
 * INTER and CSV ids are tokens numbered 0, 1, ... in order of first
 * appearance, users and items separately, shared by all files of a spec.
 * A file with a NUL or another control byte is refused as binary. Errors
 * are NB_EINVAL with "path:line:col: what is wrong".
 */
#define _GNU_SOURCE /* memmem */
#include "dataset_impl.h"
#include "negbench/plugin.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- rows ------------------------------------------------------------ */

/* Empty list; with_ts: keep a timestamp per row. */
void rows_init(nb_rows *r, int with_ts)
{
    memset(r, 0, sizeof *r);
    r->has_ts = with_ts;
}

void rows_free(nb_rows *r)
{
    free(r->u);
    free(r->i);
    free(r->ts);
    memset(r, 0, sizeof *r);
}

/* ---- token map ------------------------------------------------------- */

void tokmap_init(nb_tokmap *m)
{
    memset(m, 0, sizeof *m);
    m->cap = 1024;
    m->slot = nb_xmalloc((size_t)m->cap * sizeof *m->slot);
    memset(m->slot, 0xff, (size_t)m->cap * sizeof *m->slot);
}

void tokmap_free(nb_tokmap *m)
{
    free(m->slot);
    free(m->key_off);
    free(m->key_len);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

/* FNV-1a, 64-bit. */
static uint64_t tok_hash(const char *s, int32_t len) { return nb_hash_bytes(s, (size_t)len); }

static void tokmap_rehash(nb_tokmap *m)
{
    int64_t cap = m->cap * 2;
    int32_t *slot = nb_xmalloc((size_t)cap * sizeof *slot);
    memset(slot, 0xff, (size_t)cap * sizeof *slot);
    for (int32_t id = 0; id < m->n; id++) {
        uint64_t h = tok_hash(m->arena + m->key_off[id], m->key_len[id]);
        int64_t s = (int64_t)(h & (uint64_t)(cap - 1));
        while (slot[s] >= 0) s = (s + 1) & (cap - 1);
        slot[s] = id;
    }
    free(m->slot);
    m->slot = slot;
    m->cap = cap;
}

/* Id of s[0..len), added in order of first appearance when new. */
int32_t tokmap_get(nb_tokmap *m, const char *s, int32_t len)
{
    uint64_t h = tok_hash(s, len);
    int64_t at = (int64_t)(h & (uint64_t)(m->cap - 1));
    for (;;) {
        int32_t id = m->slot[at];
        if (id < 0) break;
        if (m->key_len[id] == len && memcmp(m->arena + m->key_off[id], s, (size_t)len) == 0)
            return id;
        at = (at + 1) & (m->cap - 1);
    }
    if (m->n == m->ids_cap) {
        m->ids_cap = m->ids_cap ? 2 * m->ids_cap : 1024;
        m->key_off = nb_xrealloc(m->key_off, (size_t)m->ids_cap * sizeof *m->key_off);
        m->key_len = nb_xrealloc(m->key_len, (size_t)m->ids_cap * sizeof *m->key_len);
    }
    if (m->arena_len + len > m->arena_cap) {
        while (m->arena_len + len > m->arena_cap)
            m->arena_cap = m->arena_cap ? 2 * m->arena_cap : 16384;
        m->arena = nb_xrealloc(m->arena, (size_t)m->arena_cap);
    }
    memcpy(m->arena + m->arena_len, s, (size_t)len);
    int32_t id = m->n++;
    m->key_off[id] = m->arena_len;
    m->key_len[id] = len;
    m->arena_len += len;
    m->slot[at] = id;
    if ((int64_t)m->n * 2 > m->cap) tokmap_rehash(m);
    return id;
}

/* ---- scanning helpers ------------------------------------------------ */

/* A line [b, e) of the buffer with its 1-based number. */
typedef struct line { const char *b, *e; int64_t no; } line;

/* Next line starting at *p (CR before LF is dropped); 0 at end of buffer. */
static int next_line(const char **p, const char *end, line *l)
{
    if (*p >= end) return 0;
    const char *b = *p;
    const char *e = memchr(b, '\n', (size_t)(end - b));
    if (!e) e = end;
    *p = e < end ? e + 1 : end;
    l->b = b;
    l->e = (e > b && e[-1] == '\r') ? e - 1 : e;
    l->no++;
    return 1;
}

static int is_blank(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static int line_is_blank(const line *l)
{
    for (const char *q = l->b; q < l->e; q++)
        if (!is_blank((unsigned char)*q)) return 0;
    return 1;
}

/* Shown excerpt of a bad token (at most 40 bytes). */
static int show_len(const char *b, const char *e) { return e - b > 40 ? 40 : (int)(e - b); }

/* Parse a non-negative int32 token [b, e). 0 or an error message code:
 * 1 not numeric, 2 negative, 3 too large. */
static int parse_id(const char *b, const char *e, int32_t *out)
{
    if (b == e) return 1;
    if (*b == '-') {
        const char *q = b + 1;
        if (q == e) return 1;
        for (; q < e; q++)
            if (*q < '0' || *q > '9') return 1;
        return 2;
    }
    if (*b == '+') b++;
    if (b == e) return 1;
    uint64_t v = 0;
    for (const char *q = b; q < e; q++) {
        if (*q < '0' || *q > '9') return 1;
        v = v * 10 + (uint64_t)(*q - '0');
        if (v >= INT32_MAX) { /* id + 1 must fit an int32 count */
            for (q++; q < e; q++)
                if (*q < '0' || *q > '9') return 1;
            return 3;
        }
    }
    *out = (int32_t)v;
    return 0;
}

/* 1-based column of p in line l. */
static int col_of(const line *l, const char *p) { return (int)(p - l->b) + 1; }

/* NB_EINVAL with "path:line:col: message", col that of p in l. */
static int fail_at(char **err, const char *path, const line *l, const char *p, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
static int fail_at(char **err, const char *path, const line *l, const char *p, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = nb_vstrf(fmt, ap);
    va_end(ap);
    nb_fail(err, NB_EINVAL, "%s:%lld:%d: %s", path, (long long)l->no, col_of(l, p), m);
    free(m);
    return NB_EINVAL;
}

static int id_error(char **err, const char *path, const line *l, int code, const char *what,
                    const char *b, const char *e)
{
    static const char *why[] = {"", "non-numeric", "negative", "too large for int32"};
    return fail_at(err, path, l, b, "%s %s id '%.*s'", why[code], what, show_len(b, e), b);
}

/* Text only: the first NUL or control byte (other than tab, CR, LF, VT,
 * FF, and DEL) is refused at its position, so that a binary file is not
 * taken apart as fields of junk. */
static int check_text(const char *path, const char *buf, size_t len, char **err)
{
    int64_t no = 1;
    const char *bol = buf;
    for (const char *q = buf; q < buf + len; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch == '\n') no++, bol = q + 1;
        else if ((ch < 0x20 && !is_blank(ch)) || ch == 0x7f)
            return nb_fail(err, NB_EINVAL, "%s:%lld:%d: binary data (byte 0x%02x): not a text "
                           "data file", path, (long long)no, (int)(q - bol) + 1, ch);
    }
    return NB_OK;
}

/* Parse a whole field [b, e) as a finite number. */
static int parse_num(const char *b, const char *e, double *out)
{
    char tmp[64];
    if (b == e || e - b >= (int)sizeof tmp) return -1;
    memcpy(tmp, b, (size_t)(e - b));
    tmp[e - b] = '\0';
    char *stop;
    double v = strtod(tmp, &stop);
    if (stop != tmp + (e - b) || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Split a line into fields: delim '\t' or ',' splits exactly (blanks
 * around a field trimmed), delim ' ' splits on runs of blanks. Returns the
 * field count (fields beyond max are counted but not stored). */
static int split_fields(const line *l, char delim, const char **fb, const char **fe, int max)
{
    int n = 0;
    const char *q = l->b;
    if (delim == ' ') {
        for (;;) {
            while (q < l->e && is_blank((unsigned char)*q)) q++;
            if (q >= l->e) break;
            const char *s = q;
            while (q < l->e && !is_blank((unsigned char)*q)) q++;
            if (n < max) { fb[n] = s; fe[n] = q; }
            n++;
        }
        return n;
    }
    for (;;) {
        const char *s = q;
        while (q < l->e && *q != delim) q++;
        const char *t = q;
        while (s < t && (*s == ' ' || *s == '\r')) s++;
        while (t > s && (t[-1] == ' ' || t[-1] == '\r')) t--;
        if (n < max) { fb[n] = s; fe[n] = t; }
        n++;
        if (q >= l->e) break;
        q++;
    }
    return n;
}

/* ---- format detection ------------------------------------------------ */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* INTER for a ".inter" name or a typed header (":token"/":float"); CSV for a
 * ".csv" name or a first non-blank line with ',' or a tab; else LINES. */
int load_detect_format(const char *path, const char *buf, size_t len)
{
    if (ends_with(path, ".inter")) return NB_FMT_INTER;
    if (ends_with(path, ".csv")) return NB_FMT_CSV;
    const char *p = buf;
    line l = {0};
    while (next_line(&p, buf + len, &l)) {
        if (line_is_blank(&l)) continue;
        size_t n = (size_t)(l.e - l.b);
        if (memmem(l.b, n, ":token", 6) || memmem(l.b, n, ":float", 6)) return NB_FMT_INTER;
        if (memchr(l.b, ',', n) || memchr(l.b, '\t', n)) return NB_FMT_CSV;
        return NB_FMT_LINES;
    }
    return NB_FMT_LINES;
}

/* ---- LINES ----------------------------------------------------------- */

static int parse_lines(nb_load_ctx *ctx, const char *path, const char *buf, size_t len,
                       nb_rows *out, char **err)
{
    const char *p = buf, *end = buf + len;
    line l = {0};
    int64_t content = 0;
    rows_init(out, 0);
    while (next_line(&p, end, &l)) {
        const char *q = l.b;
        int32_t u = -1;
        int lone = 0;
        for (;;) {
            while (q < l.e && is_blank((unsigned char)*q)) q++;
            if (q >= l.e) break;
            const char *s = q;
            while (q < l.e && !is_blank((unsigned char)*q)) q++;
            int32_t id;
            int bad = parse_id(s, q, &id);
            if (bad) return id_error(err, path, &l, bad, u < 0 ? "user" : "item", s, q);
            if (u < 0) {
                u = id;
                if (u > ctx->max_user) ctx->max_user = u;
                content++;
                lone = 1;
            } else {
                lone = 0;
                if (id > ctx->max_item) ctx->max_item = id;
                rows_push(out, u, id, 0.0);
                ctx->n_rows_read++;
            }
        }
        if (lone) { /* a user without items: still a user (ids_settle_lines) */
            if (ctx->n_lone == ctx->cap_lone) {
                ctx->cap_lone = ctx->cap_lone ? 2 * ctx->cap_lone : 256;
                ctx->lone_users = nb_xrealloc(ctx->lone_users,
                                              (size_t)ctx->cap_lone * sizeof *ctx->lone_users);
            }
            ctx->lone_users[ctx->n_lone++] = u;
        }
    }
    if (content == 0)
        return nb_fail(err, NB_EINVAL, "%s:%lld:1: empty file (no user lines)", path,
                       (long long)(l.no + 1));
    return NB_OK;
}

/* ---- CSV ------------------------------------------------------------- */

#define MAX_FIELDS 64

static int parse_csv(nb_load_ctx *ctx, const char *path, const char *buf, size_t len,
                     nb_rows *out, char **err)
{
    const char *p = buf, *end = buf + len;
    const char *fb[MAX_FIELDS], *fe[MAX_FIELDS];
    line l = {0};
    char delim = 0;
    int nf = 0, first = 1;
    int64_t data_lines = 0;
    out->n = 0;
    while (next_line(&p, end, &l)) {
        if (line_is_blank(&l)) continue;
        if (!delim) {
            size_t n = (size_t)(l.e - l.b);
            delim = memchr(l.b, ',', n) ? ',' : memchr(l.b, '\t', n) ? '\t' : ' ';
        }
        int n = split_fields(&l, delim, fb, fe, MAX_FIELDS);
        if (first) {
            first = 0;
            int numeric = 1;
            double v;
            for (int k = 0; k < n && k < MAX_FIELDS; k++)
                if (parse_num(fb[k], fe[k], &v) != 0) numeric = 0;
            if (!numeric) continue; /* header line */
        }
        if (!nf) {
            if (n < 2 || n > 4)
                return fail_at(err, path, &l, l.b, "expected 2 to 4 fields (user, item[, rating]"
                               "[, timestamp]), found %d", n);
            nf = n;
            rows_init(out, nf == 4);
            if (nf >= 3) ctx->has_rating = 1;
        } else if (n != nf) {
            return fail_at(err, path, &l, l.b, "expected %d fields, found %d", nf, n);
        }
        data_lines++;
        ctx->n_rows_read++;
        if (fb[0] == fe[0] || fb[1] == fe[1])
            return fail_at(err, path, &l, fb[0] == fe[0] ? fb[0] : fb[1], "empty %s id",
                           fb[0] == fe[0] ? "user" : "item");
        double rating = 0, ts = 0;
        if (nf >= 3 && parse_num(fb[2], fe[2], &rating) != 0)
            return fail_at(err, path, &l, fb[2], "bad rating '%.*s'", show_len(fb[2], fe[2]), fb[2]);
        if (nf == 4 && parse_num(fb[3], fe[3], &ts) != 0)
            return fail_at(err, path, &l, fb[3], "bad timestamp '%.*s'", show_len(fb[3], fe[3]),
                           fb[3]);
        if (nf >= 3 && rating < ctx->min_rating) {
            ctx->n_rows_dropped++;
            continue;
        }
        int32_t u = tokmap_get(&ctx->users, fb[0], (int32_t)(fe[0] - fb[0]));
        int32_t i = tokmap_get(&ctx->items, fb[1], (int32_t)(fe[1] - fb[1]));
        rows_push(out, u, i, ts);
    }
    if (data_lines == 0)
        return nb_fail(err, NB_EINVAL, "%s:%lld:1: empty file (no data lines)", path,
                       (long long)(l.no + 1));
    return NB_OK;
}

/* ---- INTER ----------------------------------------------------------- */

static int parse_inter(nb_load_ctx *ctx, const char *path, const char *buf, size_t len,
                       nb_rows *out, char **err)
{
    const char *p = buf, *end = buf + len;
    const char *fb[MAX_FIELDS], *fe[MAX_FIELDS];
    line l = {0};
    int nf = 0, cu = -1, ci = -1, cr = -1, ct = -1;
    int64_t data_lines = 0;
    out->n = 0;
    /* header */
    while (next_line(&p, end, &l))
        if (!line_is_blank(&l)) break;
    if (l.no == 0 || line_is_blank(&l))
        return nb_fail(err, NB_EINVAL, "%s:%lld:1: empty file (no header)", path,
                       (long long)(l.no + 1));
    nf = split_fields(&l, '\t', fb, fe, MAX_FIELDS);
    if (nf > MAX_FIELDS)
        return fail_at(err, path, &l, l.b, "bad header: more than %d columns", MAX_FIELDS);
    for (int k = 0; k < nf; k++) {
        const char *colon = memchr(fb[k], ':', (size_t)(fe[k] - fb[k]));
        if (!colon || colon == fb[k] || colon + 1 == fe[k])
            return fail_at(err, path, &l, fb[k], "bad header field '%.*s' (expected name:type)",
                           show_len(fb[k], fe[k]), fb[k]);
        size_t nl = (size_t)(colon - fb[k]);
        int *col = nl == 7 && !memcmp(fb[k], "user_id", 7)     ? &cu
                   : nl == 7 && !memcmp(fb[k], "item_id", 7)   ? &ci
                   : nl == 6 && !memcmp(fb[k], "rating", 6)    ? &cr
                   : nl == 9 && !memcmp(fb[k], "timestamp", 9) ? &ct
                                                               : NULL;
        if (col) {
            if (*col >= 0)
                return fail_at(err, path, &l, fb[k], "bad header: column '%.*s' repeated",
                               (int)nl, fb[k]);
            *col = k;
        }
    }
    if (cu < 0 || ci < 0)
        return fail_at(err, path, &l, l.b, "bad header: no %s column",
                       cu < 0 ? "user_id" : "item_id");
    rows_init(out, ct >= 0);
    if (cr >= 0) ctx->has_rating = 1;
    while (next_line(&p, end, &l)) {
        if (line_is_blank(&l)) continue;
        int n = split_fields(&l, '\t', fb, fe, MAX_FIELDS);
        if (n != nf)
            return fail_at(err, path, &l, l.b, "expected %d fields, found %d", nf, n);
        data_lines++;
        ctx->n_rows_read++;
        if (fb[cu] == fe[cu] || fb[ci] == fe[ci])
            return fail_at(err, path, &l, fb[cu] == fe[cu] ? fb[cu] : fb[ci], "empty %s",
                           fb[cu] == fe[cu] ? "user_id" : "item_id");
        double rating = 0, ts = 0;
        if (cr >= 0 && parse_num(fb[cr], fe[cr], &rating) != 0)
            return fail_at(err, path, &l, fb[cr], "bad rating '%.*s'", show_len(fb[cr], fe[cr]),
                           fb[cr]);
        if (ct >= 0 && parse_num(fb[ct], fe[ct], &ts) != 0)
            return fail_at(err, path, &l, fb[ct], "bad timestamp '%.*s'", show_len(fb[ct], fe[ct]),
                           fb[ct]);
        if (cr >= 0 && rating < ctx->min_rating) {
            ctx->n_rows_dropped++;
            continue;
        }
        int32_t u = tokmap_get(&ctx->users, fb[cu], (int32_t)(fe[cu] - fb[cu]));
        int32_t i = tokmap_get(&ctx->items, fb[ci], (int32_t)(fe[ci] - fb[ci]));
        rows_push(out, u, i, ts);
    }
    if (data_lines == 0)
        return nb_fail(err, NB_EINVAL, "%s:%lld:1: no data lines after the header", path,
                       (long long)(l.no + 1));
    return NB_OK;
}

/* Parse one file's bytes with the context's format into out (initialised
 * here; the caller frees it with rows_free even on failure). */
int load_parse(nb_load_ctx *ctx, const char *path, const char *buf, size_t len,
               nb_rows *out, char **err)
{
    rows_init(out, 0);
    if (check_text(path, buf, len, err)) return NB_EINVAL;
    switch (ctx->format) {
    case NB_FMT_LINES: return parse_lines(ctx, path, buf, len, out, err);
    case NB_FMT_CSV: return parse_csv(ctx, path, buf, len, out, err);
    case NB_FMT_INTER: return parse_inter(ctx, path, buf, len, out, err);
    default: return nb_fail(err, NB_EINVAL, "%s: unknown data format %d", path, ctx->format);
    }
}
