/*
 * cmd_data.c - `negbench data describe SPEC`: statistics of a data set.
 * SPEC is an experiment YAML file (its data: block, split included), a
 * directory holding train.txt (+ test.txt, valid.txt), or one data file.
 */
#include "cli.h"
#include "config.h"
#include "dataset.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* 1 when s ends with suffix (".yaml": SPEC is an experiment file). */
static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* dir/leaf when that file exists (malloc'd), else NULL. */
static char *existing(const char *dir, const char *leaf)
{
    char *p = nb_strf("%s/%s", dir, leaf);
    struct stat st;
    if (stat(p, &st) == 0) return p;
    free(p);
    return NULL;
}

int cmd_data(int argc, char **argv)
{
    if (cli_wants_help(argc, argv) || argc < 2) {
        FILE *out = argc < 2 ? stderr : stdout;
        fputs("usage: negbench data describe SPEC\n"
              "\n"
              "Users, items, interactions, density and per-split counts of a data set.\n"
              "SPEC: an experiment YAML file (uses its data: block), a directory with\n"
              "train.txt (+ valid.txt, test.txt), or a single data file (.txt, .inter, .csv).\n",
              out);
        return argc < 2 ? NB_EXIT_USAGE : NB_EXIT_OK;
    }
    if (strcmp(argv[1], "describe") != 0 || argc != 3) {
        fprintf(stderr, "negbench data: expected \"describe SPEC\" (see negbench data --help)\n");
        return NB_EXIT_USAGE;
    }
    const char *spec_path = argv[2];
    int status = NB_EXIT_USAGE;
    char *err = NULL;
    nb_config cfg;
    nb_diags diags = { 0 };
    nb_data_spec spec;
    nb_dataset ds;
    int own_spec = 0, have_cfg = 0;
    memset(&cfg, 0, sizeof cfg);
    memset(&ds, 0, sizeof ds);
    struct stat st;

    if (stat(spec_path, &st) != 0) {
        fprintf(stderr, "negbench data: %s: no such file or directory\n", spec_path);
        return NB_EXIT_USAGE;
    }
    if (ends_with(spec_path, ".yaml") || ends_with(spec_path, ".yml")) {
        have_cfg = 1;
        if (config_load(spec_path, &cfg, &diags) != NB_OK) {
            diags_print(&diags, stderr);
            goto done;
        }
        spec = cfg.data;
    } else {
        data_spec_defaults(&spec);
        own_spec = 1;
        spec.synthetic = 0;
        spec.valid_share = 0.0;
        if (S_ISDIR(st.st_mode)) {
            spec.train_path = existing(spec_path, "train.txt");
            spec.valid_path = existing(spec_path, "valid.txt");
            spec.test_path = existing(spec_path, "test.txt");
            if (!spec.train_path) {
                fprintf(stderr, "negbench data: %s: no train.txt in this directory\n", spec_path);
                goto done;
            }
        } else {
            spec.train_path = nb_xstrdup(spec_path);
        }
    }
    if (dataset_load(&spec, &ds, &err) != NB_OK) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    dataset_describe(&ds, stdout);
    dataset_free(&ds);
    status = NB_EXIT_OK;
done:
    if (own_spec) data_spec_free(&spec);
    if (have_cfg) config_free(&cfg);
    diags_free(&diags);
    free(err);
    return status;
}
