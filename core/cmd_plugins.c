/*
 * cmd_plugins.c - `negbench plugins`: every model and sampler found on the
 * search path, with its parameter schema; and the loader helper the other
 * commands share.
 */
#include "cli.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

int cli_load_plugins(nb_registry *reg)
{
    char *err = NULL;
    if (registry_load_default(reg, &err) != NB_OK) {
        fprintf(stderr, "%s\n", err);
        free(err);
        registry_free(reg);
        return -1;
    }
    return 0;
}

static const char *type_name(int t)
{
    switch (t) {
    case NB_PARAM_INT: return "int";
    case NB_PARAM_FLOAT: return "float";
    case NB_PARAM_BOOL: return "bool";
    default: return "choice";
    }
}

static void print_plugin(const nb_plugin *p)
{
    const nb_plugin_desc *d = p->desc;
    printf("%-8s %-10s %-7s %s\n", d->kind == NB_KIND_MODEL ? "model" : "sampler", d->name,
           d->version, d->description);
    printf("         file: %s\n", p->path);
    for (int i = 0; d->params && d->params[i].name; i++) {
        const nb_param_spec *s = &d->params[i];
        char range[96];
        if (nb_param_type(s) == NB_PARAM_INT || nb_param_type(s) == NB_PARAM_FLOAT)
            snprintf(range, sizeof range, "[%g, %g]", s->min, s->max);
        else if (nb_param_type(s) == NB_PARAM_CHOICE)
            snprintf(range, sizeof range, "%s", s->choices);
        else
            snprintf(range, sizeof range, "true|false");
        printf("         %-12s %-6s default %-14s %-22s %s\n", s->name, type_name(nb_param_type(s)), s->def,
               range, s->help ? s->help : "");
    }
}

int cmd_plugins(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) /* negbench plugins --check NAME: cmd_plugins_check.c */
        if (!strcmp(argv[i], "--check") || !strncmp(argv[i], "--check=", 8))
            return cmd_plugins_check(argc, argv);
    if (cli_wants_help(argc, argv)) {
        puts("usage: negbench plugins\n"
             "\n"
             "List every model and sampler plugin found, with its parameters (name, type,\n"
             "default, range, help). Search path: the build tree beside the executable,\n"
             "then NEGBENCH_PLUGIN_PATH (colon separated), then the installed plugin\n"
             "directory. A broken plugin is reported with its file and exit status 2.\n"
             "\n"
             "negbench plugins --check NAME: train NAME a few steps with and without its\n"
             "performance hints and compare the losses (negbench plugins --check --help).");
        return NB_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "negbench plugins: unexpected argument \"%s\"\n", argv[1]);
        return NB_EXIT_USAGE;
    }
    nb_registry reg = { 0 };
    if (cli_load_plugins(&reg) != 0) return NB_EXIT_USAGE;
    for (int kind = NB_KIND_MODEL; kind <= NB_KIND_SAMPLER; kind++)
        for (int i = 0; i < reg.n; i++)
            if ((int)reg.plugins[i].desc->kind == kind) print_plugin(&reg.plugins[i]);
    if (reg.n == 0) fprintf(stderr, "negbench: no plugins found (set NEGBENCH_PLUGIN_PATH)\n");
    registry_free(&reg);
    return NB_EXIT_OK;
}
