/*
 * bench-busy.c - the companion of the contention benchmark
 * (experiments/bench/contention.sh): THREADS threads that keep a CPU busy
 * with arithmetic for at most SECONDS, standing for another program's job on
 * a shared machine. It stops by itself after SECONDS, when it receives
 * SIGTERM or SIGINT, or when its parent exits (so a benchmark that dies
 * cannot leave it behind).
 * Usage: bench-busy THREADS SECONDS
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static double deadline;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* One busy thread: a dependent chain of multiply-adds (registers only, so it
 * takes CPU time without taking memory bandwidth), the clock read every
 * million iterations. */
static void *spin(void *arg)
{
    volatile double sink = 0.0;
    double x = 1.0 + (double)(size_t)arg * 1e-9;
    while (!stop && now() < deadline) {
        for (int i = 0; i < 1000000; i++) x = x * 0.9999999 + 1e-7;
        sink = x;
    }
    (void)sink;
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc == 3 ? atoi(argv[1]) : 0;
    double secs = argc == 3 ? atof(argv[2]) : 0.0;
    pthread_t th[256];
    int started = 0, status = 0;
    if (n < 1 || n > 256 || secs <= 0.0) {
        fputs("usage: bench-busy THREADS SECONDS   (1-256 threads, at most SECONDS)\n", stderr);
        return 2;
    }
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) return 0; /* the parent exited before the line above */
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    deadline = now() + secs;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, spin, (void *)(size_t)started) != 0) {
            fprintf(stderr, "bench-busy: cannot start thread %d\n", started + 1);
            stop = 1;
            status = 1;
            break;
        }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    return status;
}
