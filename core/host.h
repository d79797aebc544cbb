/*
 * host.h - the nb_host function table handed to plugins.
 */
#ifndef NB_HOST_H
#define NB_HOST_H

#include "negbench/plugin.h"

/* The process-wide host table with `threads` set (static storage). */
const nb_host *host_table(int threads);

/* Minimum level logged by host->log (default NB_LOG_INFO; -q raises it). */
void host_set_log_level(int level);

#endif
