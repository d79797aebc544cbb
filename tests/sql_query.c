/*
 * sql_query.c - one-value SQL queries for the store tests (sql_query.h).
 */
#include <stddef.h>

#include "sql_query.h"
#include "tap/tap.h"

int64_t q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -999999;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        diag("query failed: %s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}
