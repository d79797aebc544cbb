/*
 * sql_query.h - one-value SQL queries for the store tests.
 */
#ifndef NB_TEST_SQL_QUERY_H
#define NB_TEST_SQL_QUERY_H

#include <sqlite3.h>
#include <stdint.h>

/* First column of the first row of sql as int64 (-999999 on error, with a
 * TAP diagnostic). */
int64_t q_int(sqlite3 *db, const char *sql);

#endif
