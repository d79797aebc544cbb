/*
 * json.c - the reader behind json.h (recursive descent, tests only).
 */
#include "json.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *p; const char *end; int bad; } cursor;

static void ws(cursor *c)
{
    while (c->p < c->end && isspace((unsigned char)*c->p)) c->p++;
}

static json *node(int type)
{
    json *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->type = type;
    return j;
}

static void push(json *j, char *key, json *v)
{
    j->items = realloc(j->items, (size_t)(j->n + 1) * sizeof *j->items);
    if (!j->items) abort();
    if (j->type == JSON_OBJ) {
        j->keys = realloc(j->keys, (size_t)(j->n + 1) * sizeof *j->keys);
        if (!j->keys) abort();
        j->keys[j->n] = key;
    }
    j->items[j->n++] = v;
}

static char *parse_string(cursor *c)
{
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    if (!s) abort();
    c->p++; /* opening quote */
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p++;
        if (ch == '\\' && c->p < c->end) {
            char e = *c->p++;
            switch (e) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'u': ch = '?'; c->p += 4; break; /* not needed by the vectors */
            default: ch = e;
            }
        }
        if (n + 2 > cap) { cap *= 2; s = realloc(s, cap); if (!s) abort(); }
        s[n++] = ch;
    }
    if (c->p >= c->end) c->bad = 1; else c->p++;
    s[n] = '\0';
    return s;
}

static json *parse_value(cursor *c)
{
    ws(c);
    if (c->p >= c->end) { c->bad = 1; return node(JSON_NULL); }
    char ch = *c->p;
    if (ch == '{' || ch == '[') {
        json *j = node(ch == '{' ? JSON_OBJ : JSON_ARR);
        char close = ch == '{' ? '}' : ']';
        c->p++;
        ws(c);
        if (c->p < c->end && *c->p == close) { c->p++; return j; }
        while (!c->bad) {
            char *key = NULL;
            if (j->type == JSON_OBJ) {
                ws(c);
                if (c->p >= c->end || *c->p != '"') { c->bad = 1; break; }
                key = parse_string(c);
                ws(c);
                if (c->p >= c->end || *c->p != ':') { c->bad = 1; free(key); break; }
                c->p++;
            }
            push(j, key, parse_value(c));
            ws(c);
            if (c->p < c->end && *c->p == ',') { c->p++; continue; }
            if (c->p < c->end && *c->p == close) { c->p++; break; }
            c->bad = 1;
        }
        return j;
    }
    if (ch == '"') {
        json *j = node(JSON_STR);
        j->str = parse_string(c);
        return j;
    }
    if (!strncmp(c->p, "true", 4)) { c->p += 4; json *j = node(JSON_BOOL); j->num = 1; return j; }
    if (!strncmp(c->p, "false", 5)) { c->p += 5; return node(JSON_BOOL); }
    if (!strncmp(c->p, "null", 4)) { c->p += 4; return node(JSON_NULL); }
    if (!strncmp(c->p, "NaN", 3)) { c->p += 3; json *j = node(JSON_NUM); j->num = NAN; return j; }
    if (!strncmp(c->p, "Infinity", 8)) { c->p += 8; json *j = node(JSON_NUM); j->num = INFINITY; return j; }
    if (!strncmp(c->p, "-Infinity", 9)) { c->p += 9; json *j = node(JSON_NUM); j->num = -INFINITY; return j; }
    char *endp = NULL;
    double v = strtod(c->p, &endp);
    if (endp == c->p) { c->bad = 1; return node(JSON_NULL); }
    c->p = endp;
    json *j = node(JSON_NUM);
    j->num = v;
    return j;
}

json *json_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "json: cannot open %s\n", path); return NULL; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f); free(buf);
        fprintf(stderr, "json: cannot read %s\n", path);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    cursor c = { buf, buf + n, 0 };
    json *j = parse_value(&c);
    free(buf);
    if (c.bad) {
        fprintf(stderr, "json: syntax error in %s\n", path);
        json_free(j);
        return NULL;
    }
    return j;
}

void json_free(json *j)
{
    if (!j) return;
    for (int i = 0; i < j->n; i++) {
        json_free(j->items[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->str);
    free(j);
}

const json *json_get(const json *obj, const char *path)
{
    char key[256];
    while (obj && *path) {
        size_t len = strcspn(path, ".");
        if (len >= sizeof key) return NULL;
        memcpy(key, path, len);
        key[len] = '\0';
        path += len + (path[len] == '.');
        const json *next = NULL;
        if (obj->type == JSON_OBJ)
            for (int i = 0; i < obj->n; i++)
                if (!strcmp(obj->keys[i], key)) { next = obj->items[i]; break; }
        obj = next;
    }
    return obj;
}

const json *json_at(const json *arr, int i)
{
    if (!arr || arr->type != JSON_ARR || i < 0 || i >= arr->n) return NULL;
    return arr->items[i];
}

double json_num(const json *j)
{
    if (!j) return NAN;
    if (j->type == JSON_NUM || j->type == JSON_BOOL) return j->num;
    if (j->type == JSON_STR) {
        if (!strcmp(j->str, "-inf") || !strcmp(j->str, "-Infinity")) return -INFINITY;
        if (!strcmp(j->str, "inf") || !strcmp(j->str, "Infinity")) return INFINITY;
    }
    return NAN;
}

static size_t flat(const json *j, double *out, size_t cap, size_t n)
{
    if (!j) return n;
    if (j->type == JSON_ARR) {
        for (int i = 0; i < j->n; i++) n = flat(j->items[i], out, cap, n);
        return n;
    }
    if (n < cap && out) out[n] = json_num(j);
    return n + 1;
}

size_t json_flatten(const json *j, double *out, size_t cap)
{
    return flat(j, out, cap, 0);
}
