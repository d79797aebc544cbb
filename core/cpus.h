/*
 * cpus.h - the CPUs this process may use, which give the default thread
 * count: its affinity mask, a cgroup CPU quota (v2 cpu.max, v1
 * cpu.cfs_quota_us / cpu.cfs_period_us, the smallest on the way up the
 * hierarchy) and Slurm's SLURM_CPUS_PER_TASK, not the machine's core count.
 */
#ifndef NB_CPUS_H
#define NB_CPUS_H

#include <stddef.h>

typedef struct nb_cpus {
    int affinity;  /* CPUs in the affinity mask (the online CPUs if unknown) */
    double quota;  /* cgroup CPU quota in CPUs (0: none found) */
    int slurm;     /* SLURM_CPUS_PER_TASK (0: unset or not a positive number) */
    int count;     /* the fewest of the three (a quota rounded up), at least 1 */
    const char *by; /* what set count: "affinity", "cgroup quota" or "SLURM_CPUS_PER_TASK" */
} nb_cpus;

/* Read the CPUs this process may use from the system and the environment. */
void cpus_detect(nb_cpus *c);

/* The CPU quota of this process's cgroups, in CPUs, from a mountinfo file and
 * a cgroup membership file (normally /proc/self/mountinfo and
 * /proc/self/cgroup): the smallest quota of the cgroup v2 and v1 "cpu"
 * hierarchies, from the process's cgroup up to the mount's root. Returns 0
 * when there is none (or the files cannot be read), else the quota (> 0). */
double cpus_cgroup_quota(const char *mountinfo, const char *cgroup);

/* "2 (affinity 2, no cgroup quota, SLURM_CPUS_PER_TASK unset)": count and
 * what set it, into buf (always NUL-terminated). */
void cpus_describe(const nb_cpus *c, char *buf, size_t size);

#endif
