/*
 * test-cpus.c - the CPUs a process may use (core/cpus.c): cgroup CPU quotas
 * read through fake mountinfo and cgroup membership files over a temporary
 * tree (v2 cpu.max, v1 cfs quota and period, the smallest on the way up, a
 * mount of a subtree, escaped mount points, both hierarchies at once, no
 * quota), and cpus_detect's choice among affinity, quota and
 * SLURM_CPUS_PER_TASK.
 */
#define _GNU_SOURCE
#include "cpus.h"
#include "tap/tap.h"
#include "util.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *tmp;

/* Write text to tmp/rel, creating its directories. */
static void put(const char *rel, const char *text)
{
    char *path = nb_strf("%s/%s", tmp, rel);
    for (char *p = path + strlen(tmp) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0777);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    if (!f) tap_bail("cannot write %s", path);
    fputs(text, f);
    fclose(f);
    free(path);
}

/* The quota seen with mountinfo lines mi (%s: the temporary directory) and
 * membership lines cg. */
static double quota(const char *mi, const char *cg)
{
    char *m = nb_strf(mi, tmp, tmp);
    put("mountinfo", m);
    put("cgroup", cg);
    char *mp = nb_strf("%s/mountinfo", tmp), *cp = nb_strf("%s/cgroup", tmp);
    double q = cpus_cgroup_quota(mp, cp);
    free(m);
    free(mp);
    free(cp);
    return q;
}

#define V2 "30 23 0:26 / %s/v2 rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
#define V1 "31 23 0:27 / %s/v1 rw,nosuid shared:5 - cgroup cgroup rw,cpu,cpuacct\n"
#define OTHER "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"

int main(void)
{
    tap_plan(16);
    tmp = tap_tmpdir();

    /* cgroup v2: the job's cgroup has no limit, its parent 1.5 CPUs */
    put("v2/slurm/job/cpu.max", "max 100000\n");
    put("v2/slurm/cpu.max", "150000 100000\n");
    put("v2/cpu.max", "max 100000\n");
    is_close(quota(OTHER V2, "0::/slurm/job\n"), 1.5, 1e-9, 0, "v2: a parent's cpu.max limits");
    put("v2/slurm/job/cpu.max", "50000 100000\n");
    is_close(quota(OTHER V2, "0::/slurm/job\n"), 0.5, 1e-9, 0, "v2: the smallest on the way up");
    put("v2/slurm/job/cpu.max", "max 100000\n");
    put("v2/slurm/cpu.max", "max 100000\n");
    is_close(quota(OTHER V2, "0::/slurm/job\n"), 0.0, 0, 0, "v2: max everywhere is no quota");
    put("v2/other/cpu.max", "100000 100000\n");
    is_close(quota(OTHER V2, "0::/slurm/job\n"), 0.0, 0, 0,
             "v2: a sibling's quota does not count");

    /* cgroup v1: cfs quota over period, -1 for none */
    put("v1/job/cpu.cfs_quota_us", "300000\n");
    put("v1/job/cpu.cfs_period_us", "100000\n");
    put("v1/cpu.cfs_quota_us", "-1\n");
    put("v1/cpu.cfs_period_us", "100000\n");
    is_close(quota(OTHER V1, "5:cpu,cpuacct:/job\n0::/\n"), 3.0, 1e-9, 0,
             "v1: cpu.cfs_quota_us / cpu.cfs_period_us");
    is_close(quota(OTHER V1, "5:cpuacct:/job\n0::/\n"), 0.0, 0, 0,
             "v1: a hierarchy without the cpu controller is not read");
    is_close(quota(OTHER V1, "5:cpu,cpuacct:/\n"), 0.0, 0, 0, "v1: -1 is no quota");

    /* both hierarchies: the smaller quota */
    put("v2/slurm/cpu.max", "250000 100000\n");
    is_close(quota(OTHER V2 V1, "5:cpu,cpuacct:/job\n0::/slurm/job\n"), 2.5, 1e-9, 0,
             "v1 and v2: the smaller of the two");

    /* a container's mount of a subtree: root /docker/c1 mounted at v1c */
    put("v1c/cpu.cfs_quota_us", "200000\n");
    put("v1c/cpu.cfs_period_us", "100000\n");
    is_close(quota("40 23 0:28 /docker/c1 %s/v1c rw - cgroup cgroup rw,cpuacct,cpu\n",
                   "3:cpuacct,cpu:/docker/c1\n"), 2.0, 1e-9, 0,
             "v1: a mounted subtree is the process's cgroup");
    /* a mount point with a space, escaped as \040 in mountinfo */
    put("v 2/cpu.max", "100000 100000\n");
    is_close(quota("41 23 0:29 / %s/v\\0402 rw - cgroup2 cgroup2 rw\n", "0::/\n"), 1.0, 1e-9, 0,
             "v2: an escaped mount point");
    is_close(cpus_cgroup_quota("/nonexistent/mountinfo", "/nonexistent/cgroup"), 0.0, 0, 0,
             "no mountinfo: no quota");

    /* the choice: the fewest of affinity, quota (rounded up) and Slurm's count */
    nb_cpus c;
    cpu_set_t one, all;
    if (sched_getaffinity(0, sizeof all, &all) != 0) tap_bail("sched_getaffinity failed");
    CPU_ZERO(&one);
    for (int i = 0; i < CPU_SETSIZE; i++) /* the first CPU this test may use */
        if (CPU_ISSET(i, &all)) {
            CPU_SET(i, &one);
            break;
        }
    unsetenv("SLURM_CPUS_PER_TASK");
    if (sched_setaffinity(0, sizeof one, &one) == 0) {
        cpus_detect(&c);
        ok(c.affinity == 1 && (c.count == 1 || c.quota > 0), "affinity to one CPU: count %d",
           c.count);
    } else {
        skip(1, "sched_setaffinity refused");
    }
    sched_setaffinity(0, sizeof all, &all); /* back to the mask the test started with */
    cpus_detect(&c);
    int base = c.count;
    setenv("SLURM_CPUS_PER_TASK", "1", 1);
    cpus_detect(&c);
    ok(c.count == 1 && c.slurm == 1 && (base == 1 || !strcmp(c.by, "SLURM_CPUS_PER_TASK")),
       "SLURM_CPUS_PER_TASK=1: count %d by %s", c.count, c.by);
    setenv("SLURM_CPUS_PER_TASK", "100000", 1);
    cpus_detect(&c);
    ok(c.count == base && c.slurm == 100000, "a Slurm count above the affinity does not raise it");
    setenv("SLURM_CPUS_PER_TASK", "2x", 1);
    cpus_detect(&c);
    ok(c.slurm == 0 && c.count == base, "SLURM_CPUS_PER_TASK=2x is ignored");
    char buf[256];
    setenv("SLURM_CPUS_PER_TASK", "1", 1);
    cpus_detect(&c);
    cpus_describe(&c, buf, sizeof buf);
    ok(strstr(buf, "SLURM_CPUS_PER_TASK 1") && !strncmp(buf, "1 by ", 5), "described: %s", buf);
    unsetenv("SLURM_CPUS_PER_TASK");
    return tap_done();
}
