/*
 * interrupt.c - the SIGINT/SIGTERM handler of the commands that write a
 * store (see interrupt.h). The handler uses only async-signal-safe calls
 * (write, _exit).
 */
#define _GNU_SOURCE
#include "interrupt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t interrupt_flag;
static volatile sig_atomic_t deferred;
static char exit_line[160];
static size_t exit_len;

static void on_signal(int sig)
{
    interrupt_flag = sig;
    if (!deferred) {
        ssize_t w = write(STDERR_FILENO, exit_line, exit_len);
        (void)w;
        _exit(75);
    }
}

void interrupt_install(const char *who)
{
    struct sigaction sa;
    int n = snprintf(exit_line, sizeof exit_line, "%s: interrupted; nothing written\n", who);
    exit_len = n > 0 && (size_t)n < sizeof exit_line ? (size_t)n : strlen(exit_line);
    deferred = 0;
    interrupt_flag = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void interrupt_set_deferred(int set_deferred)
{
    deferred = set_deferred;
    if (!set_deferred && interrupt_flag) on_signal(interrupt_flag);
}

int interrupt_sleep(double seconds)
{
    struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    if (!interrupt_flag) nanosleep(&ts, NULL); /* a signal cuts it short (EINTR) */
    return interrupt_flag != 0;
}
