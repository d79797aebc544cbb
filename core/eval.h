/*
 * eval.h - full-ranking evaluation.
 *
 * Scores of a block of users against a tile of items come from one SGEMM
 * (kernels.h), then a per-user top-K selection carried across the item
 * tiles; the users x items matrix is never materialised (block of at most
 * block_users rows x 4096 items per thread).
 * Masked items (training items, and validation items when testing) never
 * enter the ranking. Tie rule: higher score first, then lower item id.
 *
 * Metrics follow RecBole 1.1.1 (docs/methods/evaluation.md):
 *   Hit@K = 1 if any of the top K is relevant; Recall@K = hits/|R(u)|;
 *   Precision@K = hits/K; NDCG@K = DCG/IDCG with IDCG over min(|R(u)|, K)
 *   positions and gain 1/log2(rank+1); MRR@K = 1/rank of the first hit.
 * Means are over users with at least one ground-truth item; users without
 * ground truth are skipped and not counted.
 */
#ifndef NB_EVAL_H
#define NB_EVAL_H

#include <signal.h>
#include <stdint.h>
#include "dataset.h"

/* eval_full_ranking stopped by opts->stop. */
#define NB_EINTR (-30)

#define NB_MAX_KS 16

enum nb_metric { NB_M_RECALL = 0, NB_M_NDCG, NB_M_HIT, NB_M_PRECISION, NB_M_MRR,
                 NB_N_METRICS };

/* "recall", "ndcg", "hit", "precision", "mrr" */
extern const char *const nb_metric_names[NB_N_METRICS];

typedef struct nb_metrics {
    int n_ks;
    int32_t ks[NB_MAX_KS];                 /* ascending */
    double value[NB_N_METRICS][NB_MAX_KS]; /* mean over evaluated users */
    int64_t n_evaluated;                   /* users with ground truth */
} nb_metrics;

/* Per-user hits at the reporting K: the relevant items found in the top K,
 * in rank order, with their 1-based ranks and each user's number of ground
 * truth items, which is enough to recompute every per-user metric at every
 * K <= k (user_ranks.h). Row u is empty for users without ground truth
 * (n_truth[u] = 0). Free with hits_free. */
typedef struct nb_hits {
    int32_t n_rows;    /* users */
    int64_t nnz;       /* hits in all */
    int64_t *ptr;      /* [n_rows + 1] */
    int32_t *idx;      /* [nnz] item ids, rank order within a row */
    int32_t *rank;     /* [nnz] their ranks, 1..k ascending within a row
                        * (NULL in hit lists built by hand without ranks) */
    int32_t *n_truth;  /* [n_rows] |R(u)| (NULL: unknown) */
    int32_t k;         /* the cut-off of the lists (report_k) */
} nb_hits;

/* Release the arrays of h and zero it (NULL-safe members). */
void hits_free(nb_hits *h);

typedef struct nb_eval_opts {
    int n_ks;
    int32_t ks[NB_MAX_KS];   /* any order; sorted internally */
    int32_t report_k;        /* K of the stored hit lists (0: none) */
    int threads;             /* OpenMP threads (<=0: current default) */
    int32_t block_users;     /* users per SGEMM block (0: automatic) */
    const volatile sig_atomic_t *stop; /* when set (SIGINT/SIGTERM), blocks not yet
                                          started are skipped and NB_EINTR returned;
                                          may be NULL */
} nb_eval_opts;

/* Evaluate user rows [n_users][d] against item rows [n_items][d].
 * truth: ground truth by user; mask_a, mask_b: items to exclude by user
 * (mask_b may be NULL). hits may be NULL; otherwise it receives malloc'd
 * arrays that hits_free releases. */
int eval_full_ranking(const float *user, const float *item, int32_t n_users,
                      int32_t n_items, int32_t d, const nb_csr *truth,
                      const nb_csr *mask_a, const nb_csr *mask_b,
                      const nb_eval_opts *opts, nb_metrics *out, nb_hits *hits,
                      char **err);

/* Metrics of one user from its ranked list: rel[j] = 1 if the item at rank
 * j+1 is relevant (length = largest K), n_truth = |R(u)| > 0, ks ascending
 * (as in nb_metrics). Adds this user's values to acc[metric][k index] (the
 * caller divides by the user count). */
void eval_accumulate_user(const uint8_t *rel, int32_t n_truth, const int32_t *ks,
                          int n_ks, double acc[NB_N_METRICS][NB_MAX_KS]);

/* Look up "recall@20" style names; returns 0 and fills metric/k index. */
int eval_parse_metric(const char *name, const nb_metrics *m, int *metric,
                      int *k_index);

#endif /* NB_EVAL_H */
