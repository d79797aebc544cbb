/*
 * store_owner.h - who is training a run: the run_owner table of a results
 * store, so that two processes never train (or restart) the same run.
 *
 * A process claims a run inside the IMMEDIATE transaction that begins it,
 * refreshes a heartbeat with every epoch it commits and drops the claim in
 * the transaction that finishes the run. A claim is stale, and may be taken
 * over, when its owner is on this machine (same host name and kernel boot
 * id) and its process (pid and start time) is gone, or when it is on
 * another machine and its heartbeat is older than owner_timeout(). A store
 * with a fresh claim from another machine is refused for writing: SQLite's
 * WAL needs every writer of a file on one host.
 *
 * These functions take the store's connection and file name (for messages)
 * and run inside the caller's transaction unless said otherwise. The table
 * is created by the first claim (CREATE TABLE IF NOT EXISTS); reading a
 * store without it means "no claims".
 */
#ifndef NB_STORE_OWNER_H
#define NB_STORE_OWNER_H

#include <stdint.h>

struct sqlite3;

/* Returned by owner_claim (and store_run_begin) when a live process of
 * this machine, or a fresh claim of another one, owns the run. */
#define NB_STORE_BUSY (-20)

/* Heartbeat age in seconds after which another machine's claim is stale:
 * NEGBENCH_OWNER_TIMEOUT if set to a positive number, else 1800. */
double owner_timeout(void);

/* Claim run_id for the calling process (insert or replace its row) unless
 * a live owner other than this process holds it: then NB_STORE_BUSY and
 * *err says who ("pid 123 on host h, heartbeat 4 s ago"). */
int owner_claim(struct sqlite3 *db, const char *path, int64_t run_id, char **err);

/* Refresh this process's heartbeat on run_id; NB_EINVAL when the row is
 * not this process's (the run was taken over: stop writing it). */
int owner_beat(struct sqlite3 *db, const char *path, int64_t run_id, char **err);

/* Drop the claim on run_id when the run is finished: allowed when the row
 * is this process's, absent, or stale (a parent recording a dead worker);
 * NB_EINVAL when a live other process owns the run. */
int owner_release(struct sqlite3 *db, const char *path, int64_t run_id, char **err);

/* Outside a transaction: 1 and *who (malloc'd description) when a live
 * process other than this one owns run_id, 0 when none does, < 0 error. */
int owner_live(struct sqlite3 *db, const char *path, int64_t run_id, char **who, char **err);

/* NB_EINVAL, naming the host, when another machine holds a fresh claim in
 * this store (it is being written from there); NB_OK otherwise. */
int owner_check_foreign(struct sqlite3 *db, const char *path, char **err);

#endif /* NB_STORE_OWNER_H */
