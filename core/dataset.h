/*
 * dataset.h - interaction data: loaders, splits and the synthetic generator.
 *
 * Formats: the LightGCN/DENS line format ("user item item ..." per line),
 * RecBole atomic .inter files (tab-separated, typed header such as
 * "user_id:token item_id:token rating:float timestamp:float"), and plain
 * delimited "user,item[,rating][,timestamp]" (comma, tab or whitespace).
 *
 * Ids: the host works with 0-based contiguous ids. Numeric ids of the line
 * format keep their value when dense (n = max id + 1 over all files, while
 * that is at most 2 x distinct + 1024) and are renumbered by rank when
 * sparse (docs/hardening.md); tokens of .inter and delimited files are
 * numbered in order of first appearance.
 * Duplicated (user, item) pairs within a split collapse to one interaction
 * and n_duplicates reports how many were collapsed.
 *
 * Splits: "given" (train/test files, optional valid file), "ratio" (random
 * per-interaction ratio with a seed), "time_global" (one timestamp cutoff),
 * "time_user" (per-user chronological ratio), and a seeded validation share
 * carved from train (valid_share) when no validation part exists.
 */
#ifndef NB_DATASET_H
#define NB_DATASET_H

#include <stdint.h>
#include <stdio.h>

/* Sparse rows: row r holds idx[ptr[r] .. ptr[r+1]), ascending, no repeats. */
typedef struct nb_csr {
    int32_t n_rows;
    int64_t nnz;
    int64_t *ptr;   /* [n_rows+1] */
    int32_t *idx;   /* [nnz] */
} nb_csr;

enum nb_data_format { NB_FMT_AUTO = 0, NB_FMT_LINES, NB_FMT_INTER, NB_FMT_CSV };
enum nb_split_kind {
    NB_SPLIT_GIVEN = 0,   /* train (+valid) (+test) files as given */
    NB_SPLIT_RATIO,       /* random ratio over interactions, seeded */
    NB_SPLIT_TIME_GLOBAL, /* train: timestamp <= cutoff; test: the rest */
    NB_SPLIT_TIME_USER    /* each user's oldest ratio[0] to train, ... */
};

/* What the YAML's data: block resolves to. Strings are owned by the spec. */
typedef struct nb_data_spec {
    int synthetic;            /* 1: use the embedded generator */
    /* synthetic generator */
    int32_t syn_users, syn_items, syn_rank;
    double syn_per_user;      /* mean interactions per user */
    double syn_pop_skew;      /* Zipf-like exponent of item popularity */
    double syn_test_share;    /* share of each user's items held out as test */
    /* files */
    int format;               /* enum nb_data_format */
    char *train_path;         /* given split: train file; else the single file */
    char *valid_path;         /* optional */
    char *test_path;          /* optional (given split) */
    double min_rating;        /* keep rows with rating >= this (if rated) */
    /* splitting */
    int split;                /* enum nb_split_kind */
    double ratio[3];          /* train/valid/test shares for RATIO, TIME_USER */
    double cutoff;            /* TIME_GLOBAL cutoff (unix seconds) ... */
    double cutoff_quantile;   /* ... or, when cutoff is NAN, this quantile */
    double valid_share;       /* carve this share of train as validation (0: none) */
    uint64_t seed;            /* split and generator seed */
} nb_data_spec;

/* Fill a spec with the documented defaults. */
void data_spec_defaults(nb_data_spec *spec);
void data_spec_free(nb_data_spec *spec);

typedef struct nb_dataset {
    int32_t n_users, n_items;
    nb_csr train, valid, test;    /* by user, n_rows = n_users */
    nb_csr train_by_item;         /* transpose of train, n_rows = n_items */
    int64_t n_duplicates;         /* (user, item) repeats collapsed */
    int64_t n_rows_read;          /* interaction rows read from files */
    char checksum[65];            /* SHA-256 hex of the input files' bytes
                                     (synthetic: of the generator parameters) */
    char *source;                 /* one-line description of the source */
} nb_dataset;

/* Load and split. On failure *err names the file and line. */
int dataset_load(const nb_data_spec *spec, nb_dataset *out, char **err);

/* The checksum dataset_load would put in out->checksum (SHA-256 hex of the
 * files' bytes, or of the generator's parameters), without parsing: for
 * identifying grid runs before they load their data (core/sweep.c). */
int dataset_checksum(const nb_data_spec *spec, char out[65], char **err);
/* Check that every user of ds's train split leaves at least one item out,
 * so that a negative can be drawn for each of its positives (a user with
 * every item as a positive fails every sampler). The message names the
 * train file (or the synthetic data), the first such user (0-based id) and
 * how many there are. Run before anything is stored. */
int dataset_check_negatives(const nb_data_spec *spec, const nb_dataset *ds, char **err);
void dataset_free(nb_dataset *ds);

/* Print users, items, interactions, density and per-split counts. */
void dataset_describe(const nb_dataset *ds, FILE *out);

/* 1 when item i is in row r of m (binary search). */
int csr_has(const nb_csr *m, int32_t r, int32_t i);
void csr_free(nb_csr *m);

#endif /* NB_DATASET_H */
