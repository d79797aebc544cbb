/*
 * main.c - the negbench command: dispatch to subcommands, --help, --version.
 */
#include "cli.h"
#include "cpus.h"
#include "kernels.h"
#include "thread_env.h"
#include "blas_core.h"

#include <stdio.h>
#include <string.h>

#include "build_config.h" /* PACKAGE_VERSION */

#include "core/git_revision.h" /* NB_GIT_REVISION, generated at each build */

static void usage(FILE *out)
{
    fputs("usage: negbench <command> [options]\n"
          "\n"
          "Negative-sampling experiments for implicit-feedback collaborative filtering.\n"
          "\n"
          "commands:\n"
          "  run FILE.yaml [--db PATH]   train and evaluate the experiment of FILE.yaml\n"
          "  grid FILE.yaml [--db PATH]  expand and validate a grid; list its runs (dry run)\n"
          "  merge OUT SHARD...          merge the shard stores of a sweep (run --shard I/N)\n"
          "  slurm FILE.yaml             write a Slurm job array and merge job for a grid\n"
          "  report STORE...             tables of a paper from results stores (Markdown,\n"
          "                              LaTeX, CSV; significance tests, PER)\n"
          "  plot KIND STORE... --out DIR  figures through gnuplot (curves, sensitivity,\n"
          "                              histogram, maxmin, per, efficiency)\n"
          "  plugins                     list the models and samplers found, with parameters\n"
          "  data describe SPEC          statistics of a data set (YAML file, data file or dir)\n"
          "\n"
          "options:\n"
          "  -h, --help                  help (also after a command: negbench run --help)\n"
          "  --version                   the version, and the default thread count and why\n"
          "\n"
          "Exit status: 0 success, 1 a run failed, 2 usage or configuration error,\n"
          "75 interrupted (run again to resume).\n", out);
}

char **cli_argv;

/* negbench [--version|--help] COMMAND ARGS...: dispatch to cmd_COMMAND with
 * argv from the command name on; its return value is the exit status. */
int main(int argc, char **argv)
{
    cli_argv = argv;
    if (argc < 2) {
        usage(stderr);
        return NB_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return NB_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        nb_cpus cpus;
        char why[256], wait[128];
        cpus_detect(&cpus);
        cpus_describe(&cpus, why, sizeof why);
        thread_env_describe(wait, sizeof wait);
        printf("negbench %s (git %s, plugin ABI %d.%d, BLAS %s, %s threads)\n",
               PACKAGE_VERSION, NB_GIT_REVISION, NB_ABI_MAJOR, NB_ABI_MINOR, nb_blas_name(),
               nb_blas_threading());
        printf("default threads: %s; waiting: %s\n", why, wait);
        blas_core_describe(why, sizeof why);
        printf("BLAS kernels: %s\n", why);
        return NB_EXIT_OK;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "grid")) return cmd_grid(argc - 1, argv + 1);
    if (!strcmp(cmd, "merge")) return cmd_merge(argc - 1, argv + 1);
    if (!strcmp(cmd, "slurm")) return cmd_slurm(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "plugins")) return cmd_plugins(argc - 1, argv + 1);
    if (!strcmp(cmd, "data")) return cmd_data(argc - 1, argv + 1);
    fprintf(stderr, "negbench: unknown command \"%s\" (see negbench --help)\n", cmd);
    return NB_EXIT_USAGE;
}
