/*
 * cmd_slurm.c - `negbench slurm GRID.yaml`: validate the grid, then write a
 * Slurm job array (one shard per task), a merge job and a submit script for
 * the user to run. Nothing is submitted and no Slurm library is used.
 *
 * Requeue: the array asks for USR1 to its batch shell 120 s before the time
 * limit (--signal=B:USR1@120). The shell forwards SIGTERM to negbench, which
 * commits the current epoch, marks the run interrupted and exits 75; only
 * then (USR1 seen and status 75) does the shell requeue its own task, which
 * later resumes the shard (done runs are skipped). A plain SIGTERM (scancel,
 * preemption) is forwarded too but requeues nothing: Slurm's own preemption
 * requeue (--requeue) applies, and a cancelled task stays cancelled.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "shard.h"
#include "sweep.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void slurm_usage(FILE *out)
{
    fputs("usage: negbench slurm GRID.yaml [--shards N] [--max-parallel K] [--time T]\n"
          "             [--partition P] [--cpus-per-task C] [--db PATH] [--out DIR]\n"
          "\n"
          "Validate the grid (as negbench grid does), then write, for you to submit:\n"
          "  DIR/array.sbatch  a job array of N tasks; task I runs negbench run GRID\n"
          "                    --shard I/N into <db stem>.shard-I-of-N.sqlite\n"
          "  DIR/merge.sbatch  negbench merge DB <every shard file found>\n"
          "  DIR/submit.sh     sbatch the array, then the merge job with\n"
          "                    --dependency=afterok:<array> --kill-on-invalid-dep=yes\n"
          "                    (its arguments go to both sbatch calls, e.g. --wait)\n"
          "Logs go to DIR/logs/shard-<job>_<task>.out. Near the time limit a task commits\n"
          "its current epoch and requeues itself; run again, it resumes.\n"
          "\n"
          "  --shards N          array tasks (default: one per distinct run, at most 1000)\n"
          "  --max-parallel K    at most K tasks at a time (--array=0-(N-1)%K)\n"
          "  --time T            time limit per task (sbatch --time, e.g. 4:00:00)\n"
          "  --partition P       partition of both jobs\n"
          "  --cpus-per-task C   CPUs per task (default 1); a run uses them all unless\n"
          "                      train.threads is set\n"
          "  --db PATH           the merged store (default results/<name>.sqlite)\n"
          "  --out DIR           where the scripts go (default slurm/<name>)\n"
          "  -h, --help          this help\n"
          "\n"
          "Paths in the scripts are absolute; the jobs run in the current directory.\n", out);
}

/* 'text' quoted for sh (malloc'd). */
static char *sh_quote(const char *text)
{
    size_t n = 3;
    for (const char *p = text; *p; p++) n += *p == '\'' ? 4 : 1;
    char *out = nb_xcalloc(n, 1), *o = out;
    *o++ = '\'';
    for (const char *p = text; *p; p++) {
        if (*p == '\'') memcpy(o, "'\\''", 4), o += 4;
        else *o++ = *p;
    }
    *o = '\'';
    return out;
}

/* path made absolute against cwd (malloc'd). */
static char *absolute(const char *cwd, const char *path)
{
    return path[0] == '/' ? nb_xstrdup(path) : nb_strf("%s/%s", cwd, path);
}

/* mkdir -p; 0 or -1 with errno. */
static int mkdirs(const char *path)
{
    char *p = nb_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1; *s && !rc; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) rc = -1;
            *s = '/';
        }
    if (!rc && mkdir(p, 0777) != 0 && errno != EEXIST) rc = -1;
    free(p);
    return rc;
}

typedef struct slurm_job {
    const char *name, *time, *partition;
    int shards, max_parallel, cpus;
    char *nb, *grid, *db, *stem, *dir, *cwd;   /* sh-quoted absolute paths */
    char *dir_raw;                             /* DIR, unquoted */
} slurm_job;

/* The #SBATCH lines both jobs share. */
static void common_header(FILE *f, const slurm_job *j)
{
    fprintf(f, "#SBATCH --chdir=%s\n", j->cwd);
    if (j->time) fprintf(f, "#SBATCH --time=%s\n", j->time);
    if (j->partition) fprintf(f, "#SBATCH --partition=%s\n", j->partition);
}

static void write_array(FILE *f, const slurm_job *j, const char *yaml)
{
    fprintf(f, "#!/bin/bash\n"
            "# array.sbatch - written by negbench slurm from %s.\n"
            "# Task I of %d runs shard I/%d of the sweep into its own store; see submit.sh.\n"
            "#SBATCH --job-name=nb-%s\n", yaml, j->shards, j->shards, j->name);
    if (j->max_parallel > 0)
        fprintf(f, "#SBATCH --array=0-%d%%%d\n", j->shards - 1, j->max_parallel);
    else fprintf(f, "#SBATCH --array=0-%d\n", j->shards - 1);
    fprintf(f, "#SBATCH --output=%s/logs/shard-%%A_%%a.out\n"
            "#SBATCH --open-mode=append\n"
            "#SBATCH --cpus-per-task=%d\n"
            "#SBATCH --requeue\n"
            "#SBATCH --signal=B:USR1@120\n", j->dir_raw, j->cpus);
    common_header(f, j);
    fprintf(f, "\n"
            "# USR1 (120 s before the time limit): stop at the next step, commit the\n"
            "# epoch, and requeue this task when negbench exits 75 (interrupted); it\n"
            "# resumes the shard. TERM (scancel, preemption) is forwarded, no requeue.\n"
            "NB=${NEGBENCH:-%s}\n"
            "requeue=0\n"
            "mkdir -p \"$(dirname %s)\"\n"
            "\"$NB\" run %s --db %s -j 1 --shard \"$SLURM_ARRAY_TASK_ID/%d\" &\n"
            "pid=$!\n"
            "trap 'requeue=1; kill -TERM $pid 2>/dev/null' USR1\n"
            "trap 'kill -TERM $pid 2>/dev/null' TERM INT\n"
            "while kill -0 $pid 2>/dev/null; do wait $pid; done\n"
            "wait $pid\n"
            "rc=$?\n"
            "if [ $rc -eq 75 ] && [ $requeue -eq 1 ]; then\n"
            "  task=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\n"
            "  echo \"negbench slurm: time limit near: requeueing $task\" >&2\n"
            "  scontrol requeue \"$task\"\n"
            "fi\n"
            "exit $rc\n", j->nb, j->db, j->grid, j->db, j->shards);
}

static void write_merge(FILE *f, const slurm_job *j)
{
    fprintf(f, "#!/bin/bash\n"
            "# merge.sbatch - written by negbench slurm: merge every shard store found.\n"
            "# negbench merge reports missing or partial shards (exit 1).\n"
            "#SBATCH --job-name=nb-%s-merge\n"
            "#SBATCH --output=%s/logs/merge-%%j.out\n"
            "#SBATCH --cpus-per-task=1\n", j->name, j->dir_raw);
    common_header(f, j);
    fprintf(f, "\n"
            "NB=${NEGBENCH:-%s}\n"
            "set --\n"
            "for i in $(seq 0 %d); do\n"
            "  f=%s.shard-$i-of-%d.sqlite\n"
            "  [ -e \"$f\" ] && set -- \"$@\" \"$f\"\n"
            "done\n"
            "exec \"$NB\" merge %s \"$@\"\n", j->nb, j->shards - 1, j->stem, j->shards, j->db);
}

static void write_submit(FILE *f, const slurm_job *j)
{
    fprintf(f, "#!/bin/sh\n"
            "# submit.sh - written by negbench slurm: the shard array, then the merge job\n"
            "# once every task succeeded (killed if one fails). Arguments go to both\n"
            "# sbatch calls (e.g. --wait, --account=...).\n"
            "set -e\n"
            "cd \"$(dirname \"$0\")\"\n"
            "A=$(sbatch --parsable \"$@\" array.sbatch)\n"
            "A=${A%%%%;*}\n"
            "M=$(sbatch --parsable \"$@\" --dependency=afterok:$A --kill-on-invalid-dep=yes \\\n"
            "  merge.sbatch)\n"
            "M=${M%%%%;*}\n"
            "echo \"array job $A (%d tasks), merge job $M; merged store: \"%s\n", j->shards, j->db);
}

/* Write DIR/name with mode 0755 through fn. 0 or -1 (message printed). */
static int write_file(const char *dir, const char *name, const slurm_job *j, const char *yaml,
                      int which)
{
    char *path = nb_strf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (!f) {
        fprintf(stderr, "negbench slurm: %s: %s\n", path, strerror(errno));
        free(path);
        return -1;
    }
    if (which == 0) write_array(f, j, yaml);
    else if (which == 1) write_merge(f, j);
    else write_submit(f, j);
    if (fclose(f) != 0 || chmod(path, 0755) != 0) {
        fprintf(stderr, "negbench slurm: %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

static int parse_pos(const char *s, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* The options of negbench slurm into j, *db and *out. Returns -1 to go
 * on, else the exit status (after the usage or a bad value). */
static int slurm_parse_args(int argc, char **argv, slurm_job *j, const char **db,
                            const char **out)
{
    static const struct option opts[] = {
        {"shards", required_argument, 0, 'n'}, {"max-parallel", required_argument, 0, 'k'},
        {"time", required_argument, 0, 't'},   {"partition", required_argument, 0, 'p'},
        {"cpus-per-task", required_argument, 0, 'c'}, {"db", required_argument, 0, 'd'},
        {"out", required_argument, 0, 'o'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:k:t:p:c:d:o:h", opts, NULL)) != -1) {
        int *target = c == 'n' ? &j->shards : c == 'k' ? &j->max_parallel : &j->cpus;
        switch (c) {
        case 'n': case 'k': case 'c':
            if (parse_pos(optarg, c == 'n' ? 100000 : 4096, target)) {
                fprintf(stderr, "negbench slurm: --%s takes a positive count, got \"%s\"\n",
                        c == 'n' ? "shards" : c == 'k' ? "max-parallel" : "cpus-per-task", optarg);
                return NB_EXIT_USAGE;
            }
            break;
        case 't': j->time = optarg; break;
        case 'p': j->partition = optarg; break;
        case 'd': *db = optarg; break;
        case 'o': *out = optarg; break;
        case 'h': slurm_usage(stdout); return NB_EXIT_OK;
        default: slurm_usage(stderr); return NB_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        slurm_usage(stderr);
        return NB_EXIT_USAGE;
    }
    return -1;
}

/* The path every shard store of db_abs shares before ".shard-I-of-N.sqlite"
 * (malloc'd). */
static char *shard_stem(const char *db_abs, int shards)
{
    char *stem = shard_db_path(db_abs, 0, shards);
    char *suffix = nb_strf(".shard-0-of-%d.sqlite", shards);
    stem[strlen(stem) - strlen(suffix)] = '\0';
    free(suffix);
    return stem;
}

int cmd_slurm(int argc, char **argv)
{
    slurm_job j = {.cpus = 1};
    const char *db = NULL, *out = NULL;
    char cwd[PATH_MAX], exe[PATH_MAX], *grid_abs = NULL, *db_abs = NULL, *dir = NULL;
    char *shard0 = NULL;
    int status = slurm_parse_args(argc, argv, &j, &db, &out);
    if (status >= 0) return status;
    status = NB_EXIT_OK;
    nb_registry reg = {0};
    nb_sweep sw;
    memset(&sw, 0, sizeof sw);
    if ((status = cli_load_sweep(argv[optind], -1, &reg, &sw))) goto out;
    if (!j.shards) j.shards = sw.n_distinct < 1000 ? sw.n_distinct : 1000;
    if (j.shards > sw.n_distinct) {
        fprintf(stderr, "negbench slurm: --shards %d: the grid has %d distinct runs\n", j.shards,
                sw.n_distinct);
        status = NB_EXIT_USAGE;
        goto out;
    }
    ssize_t n_exe = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (!getcwd(cwd, sizeof cwd) || n_exe <= 0 || !(grid_abs = realpath(argv[optind], NULL))) {
        fprintf(stderr, "negbench slurm: cannot resolve the paths: %s\n", strerror(errno));
        status = NB_EXIT_USAGE;
        goto out;
    }
    exe[n_exe] = '\0';
    db_abs = db ? absolute(cwd, db) : nb_strf("%s/results/%s.sqlite", cwd, sw.name);
    dir = out ? absolute(cwd, out) : nb_strf("%s/slurm/%s", cwd, sw.name);
    char *logs = nb_strf("%s/logs", dir);
    int mk = mkdirs(logs);
    free(logs);
    if (mk != 0) {
        fprintf(stderr, "negbench slurm: cannot create %s/logs: %s\n", dir, strerror(errno));
        status = NB_EXIT_USAGE;
        goto out;
    }
    shard0 = shard_stem(db_abs, j.shards);
    j.name = sw.name;
    j.nb = sh_quote(exe), j.grid = sh_quote(grid_abs), j.db = sh_quote(db_abs);
    j.stem = sh_quote(shard0), j.cwd = nb_xstrdup(cwd), j.dir_raw = dir;
    if (write_file(dir, "array.sbatch", &j, grid_abs, 0) ||
        write_file(dir, "merge.sbatch", &j, NULL, 1) || write_file(dir, "submit.sh", &j, NULL, 2)) {
        status = NB_EXIT_USAGE;
        goto out;
    }
    printf("%s: %d distinct runs in %d array tasks (at most %d at a time); wrote "
           "%s/array.sbatch, merge.sbatch, submit.sh\nsubmit with: sh %s/submit.sh   "
           "(merged store: %s)\n", argv[optind], sw.n_distinct, j.shards,
           j.max_parallel ? j.max_parallel : j.shards, dir, dir, db_abs);
out:
    free(j.nb), free(j.grid), free(j.db), free(j.stem), free(j.cwd);
    free(grid_abs), free(db_abs), free(dir), free(shard0);
    sweep_free(&sw);
    registry_free(&reg);
    return status;
}
