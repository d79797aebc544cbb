/*
 * data_cache.h - the data sets of a sweep, loaded once in the sweep's parent
 * process and shared with its forked workers (copy on write) instead of
 * being read and split again by every run. Keyed by the whole data spec
 * (files, format, split and its parameters, generator) and the files'
 * checksum; at most DATA_CACHE_SLOTS are kept, the least recently used is
 * dropped first. Loading uses no OpenMP (the parent must not).
 */
#ifndef NB_DATA_CACHE_H
#define NB_DATA_CACHE_H

#include "dataset.h"

#define DATA_CACHE_SLOTS 4

typedef struct nb_data_entry {
    const nb_data_spec *spec;   /* not owned: the run's, alive as long as the cache */
    char sum[65];               /* dataset_checksum of spec */
    int loaded;                 /* 1: ds is valid; 0: err says why not */
    nb_dataset ds;
    char *err;                  /* the load error (malloc'd) or NULL */
    unsigned long used;         /* last use, for eviction */
} nb_data_entry;

typedef struct nb_data_cache {
    int n;
    nb_data_entry e[DATA_CACHE_SLOTS];
    unsigned long tick;
} nb_data_cache;

/* 1 when a and b describe the same data set (every field dataset_load reads). */
int data_spec_same(const nb_data_spec *a, const nb_data_spec *b);

/* The entry for spec (with checksum sum), loading it on first use; a load
 * failure is an entry with loaded 0 and its error. The pointer stays valid
 * until the next data_cache_get or data_cache_free. */
const nb_data_entry *data_cache_get(nb_data_cache *c, const nb_data_spec *spec, const char *sum);
void data_cache_free(nb_data_cache *c);

#endif
