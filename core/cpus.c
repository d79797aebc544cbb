/*
 * cpus.c - the CPUs this process may use (see cpus.h): the affinity mask,
 * the cgroup CPU quota found through mountinfo and the process's cgroup
 * membership, and SLURM_CPUS_PER_TASK.
 */
#define _GNU_SOURCE
#include "cpus.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The quota of one cgroup directory in CPUs (0: none). v2: cpu.max holds
 * "max PERIOD" or "QUOTA PERIOD"; v1: cpu.cfs_quota_us (-1: none) and
 * cpu.cfs_period_us. */
static double dir_quota(const char *dir, int v2)
{
    char path[4096];
    double quota = 0.0, q = 0.0, p = 0.0;
    FILE *f = NULL;
    if (v2) {
        char word[32];
        snprintf(path, sizeof path, "%s/cpu.max", dir);
        if (!(f = fopen(path, "r"))) goto out;
        if (fscanf(f, "%31s %lf", word, &p) == 2 && strcmp(word, "max") != 0) q = atof(word);
    } else {
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
        if (!(f = fopen(path, "r"))) goto out;
        if (fscanf(f, "%lf", &q) != 1) q = 0.0;
        fclose(f);
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
        if (!(f = fopen(path, "r"))) goto out;
        if (fscanf(f, "%lf", &p) != 1) p = 0.0;
    }
    if (q > 0.0 && p > 0.0) quota = q / p;
out:
    if (f) fclose(f);
    return quota;
}

/* The smallest quota from mount/rel up to mount (0: none). */
static double tree_quota(const char *mount, const char *rel, int v2)
{
    char dir[4096];
    double best = 0.0;
    size_t base = strlen(mount);
    snprintf(dir, sizeof dir, "%s%s%s", mount, *rel == '/' ? "" : "/", rel);
    for (;;) {
        size_t len = strlen(dir);
        while (len > base && dir[len - 1] == '/') dir[--len] = '\0';
        double q = dir_quota(dir, v2);
        if (q > 0.0 && (best == 0.0 || q < best)) best = q;
        char *slash = strrchr(dir, '/');
        if (len <= base || !slash || (size_t)(slash - dir) < base) break;
        *slash = '\0';
    }
    return best;
}

/* 1 when the comma-separated list has the element word. */
static int list_has(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (!strncmp(p, word, n) && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

/* Decode mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* The path of this process's cgroup in the v2 hierarchy (v2 = 1) or the v1
 * hierarchy with the cpu controller, from the membership file; 0 if absent. */
static int member_path(const char *cgroup, int v2, char *out, size_t size)
{
    char line[4096];
    int found = 0;
    FILE *f = fopen(cgroup, "r");
    if (!f) return 0;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c1 = *c2 = '\0'; /* line: hierarchy id, c1 + 1: controllers, c2 + 1: path */
        if (v2 ? (!strcmp(line, "0") && c2 == c1 + 1) : list_has(c1 + 1, "cpu")) {
            snprintf(out, size, "%s", c2 + 1);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

double cpus_cgroup_quota(const char *mountinfo, const char *cgroup)
{
    char line[8192], path[2][4096];
    int have[2];
    double best = 0.0;
    FILE *f = fopen(mountinfo, "r");
    if (!f) return 0.0;
    have[0] = member_path(cgroup, 0, path[0], sizeof path[0]);
    have[1] = member_path(cgroup, 1, path[1], sizeof path[1]);
    while (fgets(line, sizeof line, f)) {
        char *tok[64], *save = NULL;
        int n = 0, dash = -1;
        for (char *t = strtok_r(line, " \n", &save); t && n < 64; t = strtok_r(NULL, " \n", &save)) {
            if (dash < 0 && !strcmp(t, "-")) dash = n;
            tok[n++] = t;
        }
        if (dash < 6 || dash + 1 >= n) continue; /* id parent dev root mount options ... - */
        const char *fstype = tok[dash + 1], *super = dash + 3 < n ? tok[dash + 3] : "";
        int v2 = !strcmp(fstype, "cgroup2");
        if (!v2 && !(strcmp(fstype, "cgroup") == 0 && list_has(super, "cpu"))) continue;
        if (!have[v2]) continue;
        char *root = tok[3], *mount = tok[4];
        unescape(root);
        unescape(mount);
        const char *rel = path[v2];
        size_t rl = strlen(root);
        if (strcmp(root, "/") != 0) { /* the mount shows a subtree: path relative to it */
            if (!strncmp(rel, root, rl) && (rel[rl] == '/' || rel[rl] == '\0')) rel += rl;
            else rel = "";
        }
        double q = tree_quota(mount, rel, v2);
        if (q > 0.0 && (best == 0.0 || q < best)) best = q;
    }
    fclose(f);
    return best;
}

void cpus_detect(nb_cpus *c)
{
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    memset(c, 0, sizeof *c);
    c->affinity = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                              : (int)(online > 0 ? online : 1);
    if (c->affinity < 1) c->affinity = 1;
    c->quota = cpus_cgroup_quota("/proc/self/mountinfo", "/proc/self/cgroup");
    const char *s = getenv("SLURM_CPUS_PER_TASK");
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : 0;
    c->slurm = s && end != s && *end == '\0' && v > 0 && v < 1 << 20 ? (int)v : 0;
    c->count = c->affinity;
    c->by = "affinity";
    int q = 0;
    if (c->quota > 0.0 && c->quota < 1 << 20) { /* a fraction of a CPU rounds up */
        q = (int)c->quota;
        if (q < c->quota - 1e-6) q++;
    }
    if (q > 0 && q < c->count) c->count = q, c->by = "cgroup quota";
    if (c->slurm > 0 && c->slurm < c->count) c->count = c->slurm, c->by = "SLURM_CPUS_PER_TASK";
    if (c->count < 1) c->count = 1;
}

void cpus_describe(const nb_cpus *c, char *buf, size_t size)
{
    char quota[48] = "no cgroup quota", slurm[48] = "SLURM_CPUS_PER_TASK unset";
    if (c->quota > 0.0) snprintf(quota, sizeof quota, "cgroup quota %.2f", c->quota);
    if (c->slurm > 0) snprintf(slurm, sizeof slurm, "SLURM_CPUS_PER_TASK %d", c->slurm);
    snprintf(buf, size, "%d by %s (affinity %d, %s, %s)", c->count, c->by, c->affinity, quota,
             slurm);
}
