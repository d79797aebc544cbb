/*
 * json.h - a minimal JSON reader for the golden test vectors (tests only).
 * Parses the whole document into a tree; numbers are doubles; the strings
 * "-inf", "inf" and "nan" read as numbers through json_num().
 */
#ifndef NB_TEST_JSON_H
#define NB_TEST_JSON_H

#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

typedef struct json json;
struct json {
    int type;
    double num;        /* NUM, BOOL (0/1) */
    char *str;         /* STR */
    int n;             /* ARR/OBJ: element count */
    json **items;      /* ARR/OBJ values */
    char **keys;       /* OBJ keys */
};

/* Parse a file; NULL on error (message on stderr). Free with json_free. */
json *json_load(const char *path);
void json_free(json *j);
/* Object member by key, or NULL; a path "a.b.c" walks nested objects. */
const json *json_get(const json *obj, const char *path);
/* Array element, or NULL. */
const json *json_at(const json *arr, int i);
/* A number (also "-inf"/"inf"/"nan" strings); NAN if not numeric. */
double json_num(const json *j);
/* Total count of numbers in a nested array, and a flattened copy (row-major)
 * into out (up to cap). Returns the count. */
size_t json_flatten(const json *j, double *out, size_t cap);

#endif
