/*
 * cli.h - the negbench subcommands (git style) and their shared helpers.
 * Exit statuses: 0 success, 1 a run failed, 2 usage or configuration
 * error, 75 interrupted by a signal (the run can be resumed).
 */
#ifndef NB_CLI_H
#define NB_CLI_H

#include "negbench/plugin.h"
#include "plugin_loader.h"

enum { NB_EXIT_OK = 0, NB_EXIT_RUN_FAILED = 1, NB_EXIT_USAGE = 2, NB_EXIT_INTERRUPTED = 75 };

int cmd_run(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_data(int argc, char **argv);
/* core/cmd_grid.c: the dry run of a grid, and negbench run on a grid file. */
int cmd_grid(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
/* core/cmd_merge.c, core/cmd_slurm.c: shard stores and Slurm job arrays. */
int cmd_merge(int argc, char **argv);
int cmd_slurm(int argc, char **argv);

struct nb_sweep;
/* Load the plugins and expand and validate the grid at path (threads >= 0
 * overrides train.threads); prints every problem. 0 or NB_EXIT_USAGE. */
int cli_load_sweep(const char *path, int threads, nb_registry *reg, struct nb_sweep *sw);

/* main's argv, NULL-terminated (a sweep re-executes itself with it). */
extern char **cli_argv;

/* Before a single run: set the thread settings the libraries read when they
 * load (thread_env_prepare: GOMP_SPINCOUNT, OPENBLAS_THREAD_TIMEOUT, each
 * unless the user set it) and, if that changed the
 * environment, re-execute this process with it (same pid and arguments).
 * Returns only when nothing had to change or exec failed. */
void cli_run_prepare_env(void);

/* Load the plugin search path; prints the error and returns non-zero. */
int cli_load_plugins(nb_registry *reg);

/* True when argv has -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
