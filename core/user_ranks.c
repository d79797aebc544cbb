/*
 * user_ranks.c - pack and unpack the per-user ranking BLOB of a run, and
 * recompute per-user metrics and hit sets from it (see user_ranks.h).
 */
#include "user_ranks.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "negbench/plugin.h"
#include "util.h"

#define FORMAT_BYTE 1

/* Write v at p as a little-endian base-128 varint (7 bits a byte, the high
 * bit set on all but the last); returns its length (at most 10 bytes). */
static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    do {
        unsigned char b = v & 0x7f;
        v >>= 7;
        p[n++] = (unsigned char)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

/* Read a varint at *pos (< len); 0 ok, -1 truncated or too long. */
static int get_varint(const unsigned char *p, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) return -1;
        unsigned char b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

unsigned char *user_ranks_encode(const nb_hits *h, size_t *len)
{
    size_t cap = 1 + (size_t)h->n_rows * 10 + (size_t)h->nnz * 10, n = 0;
    unsigned char *b = nb_xmalloc(cap);
    b[n++] = FORMAT_BYTE;
    for (int32_t u = 0; u < h->n_rows; u++) {
        int64_t a = h->ptr[u], m = h->ptr[u + 1] - a;
        n += put_varint(b + n, h->n_truth ? (uint32_t)h->n_truth[u] : 0);
        n += put_varint(b + n, (uint64_t)m);
        for (int64_t j = 0; j < m; j++) {
            n += put_varint(b + n, h->rank ? (uint32_t)h->rank[a + j] : (uint64_t)(j + 1));
            n += put_varint(b + n, (uint32_t)h->idx[a + j]);
        }
    }
    *len = n;
    return b;
}

/* Count the hits of a BLOB (first pass of decode); -1 when malformed. */
static int64_t count_hits(const unsigned char *p, size_t len, int32_t n_users)
{
    size_t pos = 1;
    int64_t nnz = 0;
    uint64_t v, m;
    for (int32_t u = 0; u < n_users; u++) {
        if (get_varint(p, len, &pos, &v) || get_varint(p, len, &pos, &m)) return -1;
        if (m > (uint64_t)len) return -1;
        for (uint64_t j = 0; j < 2 * m; j++)
            if (get_varint(p, len, &pos, &v)) return -1;
        nnz += (int64_t)m;
    }
    return pos == len ? nnz : -1;
}

int user_ranks_decode(const void *blob, size_t len, int32_t n_users, int32_t k,
                      const char *what, nb_hits *out, char **err)
{
    const unsigned char *p = blob;
    int64_t nnz = (p && len >= 1 && p[0] == FORMAT_BYTE && n_users >= 0)
                      ? count_hits(p, len, n_users) : -1;
    memset(out, 0, sizeof *out);
    if (nnz < 0)
        return nb_fail(err, NB_EINVAL, "%s: malformed per-user ranks (%zu bytes for %d "
                       "users)", what, len, n_users);
    out->n_rows = n_users;
    out->nnz = nnz;
    out->k = k;
    out->ptr = nb_xcalloc((size_t)n_users + 1, sizeof *out->ptr);
    out->n_truth = nb_xcalloc((size_t)n_users + 1, sizeof *out->n_truth);
    out->idx = nb_xmalloc((size_t)(nnz ? nnz : 1) * sizeof *out->idx);
    out->rank = nb_xmalloc((size_t)(nnz ? nnz : 1) * sizeof *out->rank);
    size_t pos = 1;
    int64_t q = 0;
    uint64_t v = 0, m = 0, r = 0, it = 0;
    for (int32_t u = 0; u < n_users; u++) {
        get_varint(p, len, &pos, &v);
        get_varint(p, len, &pos, &m);
        out->n_truth[u] = (int32_t)v;
        for (uint64_t j = 0; j < m; j++, q++) {
            get_varint(p, len, &pos, &r);
            get_varint(p, len, &pos, &it);
            if (r < 1 || r > (uint64_t)k || (j > 0 && (int64_t)r <= out->rank[q - 1]) ||
                m > v || it > INT32_MAX) {
                hits_free(out);
                return nb_fail(err, NB_EINVAL, "%s: malformed per-user ranks (user %d: "
                               "rank %llu of %d, %llu hits of %llu)", what, u,
                               (unsigned long long)r, k, (unsigned long long)m,
                               (unsigned long long)v);
            }
            out->rank[q] = (int32_t)r;
            out->idx[q] = (int32_t)it;
        }
        out->ptr[u + 1] = q;
    }
    return NB_OK;
}

int64_t user_ranks_values(const nb_hits *h, int metric, int32_t K, double *out)
{
    if (K < 1 || K > h->k) return -1;
    /* disc[r] = 1/log2(r + 1) for ranks 1..K; idcg[n] = sum of the first n */
    double *disc = nb_xmalloc(2 * ((size_t)K + 1) * sizeof *disc), *idcg = disc + K + 1;
    idcg[0] = disc[0] = 0.0;
    for (int32_t j = 1; j <= K; j++) {
        disc[j] = 1.0 / log2((double)j + 1.0);
        idcg[j] = idcg[j - 1] + disc[j];
    }
    int64_t n_eval = 0;
    for (int32_t u = 0; u < h->n_rows; u++) {
        int32_t nt = h->n_truth[u];
        if (nt <= 0) {
            out[u] = NAN;
            continue;
        }
        n_eval++;
        int32_t hits = 0, first = 0;
        double dcg = 0.0;
        for (int64_t q = h->ptr[u]; q < h->ptr[u + 1] && h->rank[q] <= K; q++) {
            hits++;
            dcg += disc[h->rank[q]];
            if (!first) first = h->rank[q];
        }
        switch (metric) {
        case NB_M_RECALL: out[u] = (double)hits / nt; break;
        case NB_M_NDCG: out[u] = dcg / idcg[nt < K ? nt : K]; break;
        case NB_M_HIT: out[u] = hits > 0; break;
        case NB_M_PRECISION: out[u] = (double)hits / K; break;
        default: out[u] = first ? 1.0 / first : 0.0; break;
        }
    }
    free(disc);
    return n_eval;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int64_t user_ranks_hit_set(const nb_hits *h, int32_t K, uint64_t **keys)
{
    uint64_t *k = nb_xmalloc((size_t)(h->nnz ? h->nnz : 1) * sizeof *k);
    int64_t n = 0;
    for (int32_t u = 0; u < h->n_rows; u++)
        for (int64_t q = h->ptr[u]; q < h->ptr[u + 1]; q++)
            if (!h->rank || h->rank[q] <= K)
                k[n++] = ((uint64_t)(uint32_t)u << 32) | (uint32_t)h->idx[q];
    qsort(k, (size_t)n, sizeof *k, cmp_u64); /* already sorted by user; items by rank */
    *keys = k;
    return n;
}
