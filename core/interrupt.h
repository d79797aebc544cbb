/*
 * interrupt.h - SIGINT and SIGTERM in the commands that write a store.
 *
 * Two modes. Before anything of a run is stored (validation, data loading,
 * waiting for another process's run), a signal ends the process at once
 * with exit status 75 and one line on stderr: there is nothing to save, and
 * the store's transactions keep it whole. Once a run has begun, a signal
 * only sets interrupt_flag; the training loop (every step), the evaluation
 * (every block of users) and the merge (every 1000 SQLite VM steps)
 * check it, commit what is whole, mark the run interrupted and exit 75.
 */
#ifndef NB_INTERRUPT_H
#define NB_INTERRUPT_H

#include <signal.h>

/* The signal number once SIGINT or SIGTERM arrived in deferred mode, else 0. */
extern volatile sig_atomic_t interrupt_flag;

/* Install the handlers (no SA_RESTART, so sleeps and waits return) in
 * immediate mode; who prefixes the exit line ("negbench", "run 1a2b..."). */
void interrupt_install(const char *who);

/* Deferred mode (set_deferred 1) or back to immediate mode (0). A signal
 * that arrived while deferred still ends the process when going back. */
void interrupt_set_deferred(int set_deferred);

/* Sleep up to `seconds`; returns early (1) when interrupt_flag is set. */
int interrupt_sleep(double seconds);

#endif /* NB_INTERRUPT_H */
