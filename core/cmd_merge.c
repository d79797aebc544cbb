/*
 * cmd_merge.c - `negbench merge OUT.sqlite SHARD...`: merge the shard
 * stores of a sweep (core/merge.c) and say which shards are missing or
 * partial.
 */
#include "cli.h"
#include "interrupt.h"
#include "merge.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void merge_usage(FILE *out)
{
    fputs("usage: negbench merge OUT.sqlite SHARD.sqlite...\n"
          "\n"
          "Merge the shard stores written by negbench run GRID --shard I/N into OUT\n"
          "(created if absent), one transaction per shard. Runs are keyed by their\n"
          "configuration hash, so merging again replaces rather than duplicates, and\n"
          "merging the same shards twice changes nothing. All inputs must be shards of\n"
          "the same grid and split (checked before anything is written).\n"
          "\n"
          "  -q, --quiet    no summary line on stdout\n"
          "  -h, --help     this help\n"
          "\n"
          "Exit status: 0 every shard 0..N-1 given and all their runs done; 1 merged,\n"
          "but a shard is missing or partial (one line each on stderr); 2 usage error\n"
          "or a refused input (not a negbench store, not a shard, another grid or\n"
          "split, a shard given twice, a meta value out of range, a run whose hash\n"
          "does not match its configuration, an OUT holding another grid's merge):\n"
          "nothing written.\n", out);
}

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    nb_merge_report rep;
    char *err = NULL;
    int c, quiet = 0, status;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q': quiet = 1; break;
        case 'h': merge_usage(stdout); return NB_EXIT_OK;
        default: merge_usage(stderr); return NB_EXIT_USAGE;
        }
    }
    if (argc - optind < 2) {
        merge_usage(stderr);
        return NB_EXIT_USAGE;
    }
    const char *out = argv[optind];
    interrupt_install("negbench merge"); /* deferred by merge_shards once it writes */
    if (merge_shards(out, argv + optind + 1, argc - optind - 1, &rep, &err) != 0) {
        fprintf(stderr, "negbench merge: %s\n", err);
        status = interrupt_flag ? NB_EXIT_INTERRUPTED
                 : rep.copied   ? NB_EXIT_RUN_FAILED
                                : NB_EXIT_USAGE;
        goto out;
    }
    for (int k = 0; k < rep.n_missing; k++)
        fprintf(stderr, "negbench merge: shard %d/%d missing (no file given)\n", rep.missing[k],
                rep.count);
    for (int i = 0; i < rep.n; i++) {
        const nb_merge_shard *sh = &rep.shards[i];
        if (sh->duplicate || sh->done >= sh->expected) continue;
        fprintf(stderr, "negbench merge: %s: shard %d/%d partial: %d of %d runs done (%d failed, "
                "%d unfinished, %d not started)\n", sh->path, sh->index, sh->count, sh->done,
                sh->expected, sh->failed, sh->runs - sh->done - sh->failed,
                sh->expected - sh->runs > 0 ? sh->expected - sh->runs : 0);
    }
    int complete = !rep.n_missing && !rep.n_partial;
    if (!quiet)
        printf("merge %s: %d of %d shards, %d of %d runs done, %d runs written; %s into %s\n",
               rep.experiment, rep.count - rep.n_missing, rep.count, rep.done_total,
               rep.grid_runs, rep.copied, complete ? "complete" : "INCOMPLETE", out);
    status = complete ? NB_EXIT_OK : NB_EXIT_RUN_FAILED;
out:
    merge_report_free(&rep);
    free(err);
    return status;
}
