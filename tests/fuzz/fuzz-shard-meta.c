/*
 * fuzz-shard-meta.c - libFuzzer harness: the shard metadata reader of
 * negbench merge (merge_shards: each input's meta table, then the output).
 *
 * The input is text: "key=value" lines set keys of a shard store's meta
 * table (shard_index, shard_count, grid_identity, grid_runs, shard_runs,
 * experiment, created_by, ...), "user_version=N" sets the store's schema
 * version instead, and a line "---" starts the next shard (at most 3). Each
 * shard is a fresh negbench store with those keys; all are merged into a
 * fresh output store. Refusals are fine; a crash or a leak is not.
 */
#include "merge.h"
#include "store.h"
#include "fuzz_util.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 3

/* Apply one "key=value" line to the store at path (already opened as s). */
static void apply_line(nb_store *s, const char *path, char *line)
{
    char *eq = strchr(line, '=');
    if (!eq) return;
    *eq = '\0';
    char *err = NULL;
    if (!strcmp(line, "user_version")) {
        sqlite3 *db = NULL;
        if (sqlite3_open(path, &db) == SQLITE_OK) {
            char *sql = sqlite3_mprintf("PRAGMA user_version = %d", atoi(eq + 1));
            sqlite3_exec(db, sql, NULL, NULL, NULL);
            sqlite3_free(sql);
        }
        sqlite3_close(db);
    } else {
        store_meta_set(s, line, eq + 1, &err);
    }
    free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *save = NULL;
    char *paths[MAX_SHARDS];
    nb_store *s = NULL;
    char *err = NULL;
    int n = 0;
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *line = strtok_r(text, "\n", &save); ; line = strtok_r(NULL, "\n", &save)) {
        if (!s) {
            const char *p = fuzz_write_file(n, ".sqlite", (const uint8_t *)"", 0);
            if (!p || store_open(p, &s, &err) != 0) break;
            paths[n++] = (char *)p;
        }
        if (!line) break;
        if (!strcmp(line, "---")) {
            store_close(s);
            s = NULL;
            if (n == MAX_SHARDS) break;
            continue;
        }
        apply_line(s, paths[n - 1], line);
    }
    store_close(s);
    free(err);
    err = NULL;
    const char *out = fuzz_write_file(MAX_SHARDS, ".sqlite", (const uint8_t *)"", 0);
    nb_merge_report rep;
    if (out && n > 0) {
        merge_shards(out, paths, n, &rep, &err);
        merge_report_free(&rep);
    }
    free(err);
    free(text);
    return 0;
}
