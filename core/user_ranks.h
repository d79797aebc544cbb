/*
 * user_ranks.h - the per-user ranking data of a run (store table user_ranks,
 * schema v2): for every user, |R(u)| and the (rank, item) of each ground
 * truth item found in the top k, packed in one compact BLOB per run and
 * split. From it every per-user metric at every K <= k is recomputed
 * (user_ranks_values) and the hit sets of PER are rebuilt.
 *
 * BLOB layout: one byte 1 (the format), then per user 0..n_users-1:
 * varint |R(u)|, varint n_hits, then n_hits pairs (varint rank 1..k,
 * varint item), ranks ascending. Varints are unsigned LEB128. About
 * 3 bytes per user plus 3-4 per hit: 0.2 MB for Gowalla's test split.
 */
#ifndef NB_USER_RANKS_H
#define NB_USER_RANKS_H

#include <stddef.h>
#include <stdint.h>
#include "eval.h"

/* Pack h (which must have rank and n_truth) into a malloc'd BLOB of *len
 * bytes; the caller frees it. */
unsigned char *user_ranks_encode(const nb_hits *h, size_t *len);

/* Unpack a BLOB of n_users users at cut-off k into out (free with
 * hits_free). what names the source in the error ("store.sqlite: run 3").
 * NB_EINVAL for a malformed BLOB. */
int user_ranks_decode(const void *blob, size_t len, int32_t n_users, int32_t k,
                      const char *what, nb_hits *out, char **err);

/* Per-user values of metric (enum nb_metric) at cut-off K <= h->k into
 * out[n_rows]; NAN for users without ground truth. The formulas are eval.h's
 * (RecBole 1.1.1), so the mean over users equals the stored final metric.
 * Returns the number of evaluated users, or -1 when K > h->k or K < 1. */
int64_t user_ranks_values(const nb_hits *h, int metric, int32_t K, double *out);

/* Hit set H at cut-off K as sorted 64-bit keys user * 2^32 + item into a
 * malloc'd *keys; returns |H| (the caller frees *keys). */
int64_t user_ranks_hit_set(const nb_hits *h, int32_t K, uint64_t **keys);

#endif /* NB_USER_RANKS_H */
