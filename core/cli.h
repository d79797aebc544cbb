/*
 * cli.h - the negbench subcommands (git style) and their shared helpers.
 * Exit statuses: 0 success, 1 a run failed, 2 usage or configuration
 * error, 75 interrupted by a signal (the run can be resumed).
 */
#ifndef NB_CLI_H
#define NB_CLI_H

#include <stdint.h>

#include "negbench/plugin.h"
#include "plugin_loader.h"

enum { NB_EXIT_OK = 0, NB_EXIT_RUN_FAILED = 1, NB_EXIT_USAGE = 2, NB_EXIT_INTERRUPTED = 75 };

/* The subcommands: cmd_X runs `negbench X` with argv[0] the command name
 * and returns the exit status (above); each prints its own errors. */
int cmd_run(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
/* core/cmd_plugins_check.c: negbench plugins --check NAME (argv from "plugins"). */
int cmd_plugins_check(int argc, char **argv);
int cmd_data(int argc, char **argv);
/* core/cmd_grid.c: the dry run of a grid, and negbench run on a grid file. */
int cmd_grid(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
/* core/cmd_merge.c, core/cmd_slurm.c: shard stores and Slurm job arrays. */
int cmd_merge(int argc, char **argv);
int cmd_slurm(int argc, char **argv);
/* core/cmd_report.c: tables from results stores; core/cmd_plot.c: figures. */
int cmd_report(int argc, char **argv);
int cmd_plot(int argc, char **argv);

struct rp_opts;
/* One report option (--table, --rows, --where, ... as in negbench report
 * --help) into o; --param goes to *param. 1 taken, 0 not a report option,
 * -1 a bad value. */
int cli_report_option(struct rp_opts *o, const char *a, const char *v, const char **param);
/* Fill o's unset fields with o->table's defaults and check them; prints
 * "negbench CMD: ..." and returns 1 on a bad combination. */
int cli_report_defaults(struct rp_opts *o, const char *param, const char *cmd);
/* "15,20" into out[*n...] (at most max values in [lo, hi]); 0 ok, 1 bad. */
int cli_int_list(const char *s, int32_t *out, int *n, int max, long lo, long hi);

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

/* Load the plugin search path; on failure prints the error, frees what was
 * registered before it (reg is left empty) and returns non-zero. */
int cli_load_plugins(nb_registry *reg);

/* True when argv has -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
