/*
 * dataset_split.c - from loaded rows to train/valid/test CSRs.
 *
 * Duplicates: a (user, item) pair repeated within the rows a split part is
 * built from collapses to one interaction; n_duplicates counts the
 * collapsed repeats. For RATIO and TIME_* the rows are de-duplicated before
 * splitting (a repeated pair keeps its earliest timestamp, ties by file
 * order), so every distinct pair lands in exactly one part.
 *
 * Counts:
 *   valid carve  round(valid_share * nnz(train)) pairs (half away from
 *                zero), chosen by a seeded Fisher-Yates shuffle over the
 *                distinct train pairs in (user, item) order - one global
 *                share, as in the ANS paper.
 *   RATIO        RecBole's _calcu_split_ids over the whole shuffled list of
 *                distinct pairs (ratios normalised to sum 1): c_k =
 *                floor(r_k n) for k >= 1, c_0 = n - c_1 - c_2, then from the
 *                last part backwards a part with 0 < r_k n < 1 takes one pair
 *                from c_0 unless c_0 <= 1.
 *   TIME_GLOBAL  train: first timestamp <= cutoff; test: the rest. The
 *                cutoff is spec->cutoff, or when NAN the cutoff_quantile of
 *                the timestamps of all rows kept (linear interpolation
 *                between order statistics, numpy's default). valid carved
 *                from train as above.
 *   TIME_USER    per user, pairs stably sorted by first timestamp (ties in
 *                file order), cut with the _calcu_split_ids counts.
 * valid_share is used by GIVEN (only without a valid file) and TIME_GLOBAL;
 * RATIO and TIME_USER take their validation part from ratio[1].
 */
#include "dataset_impl.h"
#include "negbench/plugin.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Stream keys that separate the random streams of one seed. */
enum { STREAM_VALID = 0x56414c4944, STREAM_RATIO = 0x524154494f };

/* Uniform integer in [0, n), n > 0, for 64-bit n. */
static uint64_t rng_below64(nb_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)nb_rng_u64(r) * n) >> 64);
}

/* ---- sorting and CSR -------------------------------------------------- */

void pairs_sort_perm(int64_t n, const int32_t *u, const int32_t *i, int32_t n_users,
                     int32_t n_items, int64_t *perm)
{
    int64_t k0 = 1;
    while (k0 < n && (u[k0 - 1] < u[k0] || (u[k0 - 1] == u[k0] && i[k0 - 1] <= i[k0]))) k0++;
    if (k0 >= n) { /* already in order (typical of line-format files) */
        for (int64_t k = 0; k < n; k++) perm[k] = k;
        return;
    }
    int64_t *cnt_i = nb_xcalloc((size_t)n_items + 1, sizeof *cnt_i);
    int64_t *cnt_u = nb_xcalloc((size_t)n_users + 1, sizeof *cnt_u);
    int64_t *tmp = nb_xmalloc((size_t)(n ? n : 1) * sizeof *tmp);
    for (int64_t k = 0; k < n; k++) cnt_i[i[k] + 1]++;
    for (int32_t k = 0; k < n_items; k++) cnt_i[k + 1] += cnt_i[k];
    for (int64_t k = 0; k < n; k++) tmp[cnt_i[i[k]]++] = k;
    for (int64_t k = 0; k < n; k++) cnt_u[u[k] + 1]++;
    for (int32_t k = 0; k < n_users; k++) cnt_u[k + 1] += cnt_u[k];
    for (int64_t k = 0; k < n; k++) perm[cnt_u[u[tmp[k]]]++] = tmp[k];
    free(tmp);
    free(cnt_u);
    free(cnt_i);
}

void pairs_to_csr(int64_t n, const int32_t *u, const int32_t *i, int32_t n_users,
                  int32_t n_items, nb_csr *out, int64_t *n_dup)
{
    int64_t *perm = nb_xmalloc((size_t)(n ? n : 1) * sizeof *perm);
    pairs_sort_perm(n, u, i, n_users, n_items, perm);
    out->n_rows = n_users;
    out->ptr = nb_xcalloc((size_t)n_users + 1, sizeof *out->ptr);
    out->idx = nb_xmalloc((size_t)(n ? n : 1) * sizeof *out->idx);
    int64_t nnz = 0, dup = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t a = perm[k];
        if (k > 0 && u[perm[k - 1]] == u[a] && i[perm[k - 1]] == i[a]) {
            dup++;
            continue;
        }
        out->idx[nnz++] = i[a];
        out->ptr[u[a] + 1]++;
    }
    for (int32_t r = 0; r < n_users; r++) out->ptr[r + 1] += out->ptr[r];
    out->nnz = nnz;
    if (n_dup) *n_dup += dup;
    free(perm);
}

void csr_transpose(const nb_csr *m, int32_t n_cols, nb_csr *out)
{
    out->n_rows = n_cols;
    out->nnz = m->nnz;
    out->ptr = nb_xcalloc((size_t)n_cols + 1, sizeof *out->ptr);
    out->idx = nb_xmalloc((size_t)(m->nnz ? m->nnz : 1) * sizeof *out->idx);
    for (int64_t k = 0; k < m->nnz; k++) out->ptr[m->idx[k] + 1]++;
    for (int32_t c = 0; c < n_cols; c++) out->ptr[c + 1] += out->ptr[c];
    int64_t *fill = nb_xmalloc(((size_t)n_cols + 1) * sizeof *fill);
    memcpy(fill, out->ptr, ((size_t)n_cols + 1) * sizeof *fill);
    for (int32_t r = 0; r < m->n_rows; r++)
        for (int64_t k = m->ptr[r]; k < m->ptr[r + 1]; k++) out->idx[fill[m->idx[k]]++] = r;
    free(fill);
}

/* Expand a CSR into parallel (u, i) arrays (malloc'd, [nnz]). */
static void csr_to_pairs(const nb_csr *m, int32_t **u, int32_t **i)
{
    *u = nb_xmalloc((size_t)(m->nnz ? m->nnz : 1) * sizeof **u);
    *i = nb_xmalloc((size_t)(m->nnz ? m->nnz : 1) * sizeof **i);
    for (int32_t r = 0; r < m->n_rows; r++)
        for (int64_t k = m->ptr[r]; k < m->ptr[r + 1]; k++) {
            (*u)[k] = r;
            (*i)[k] = m->idx[k];
        }
}

/* ---- counts ----------------------------------------------------------- */

void split_counts(int64_t n, const double ratio[3], int64_t cnt[3])
{
    double tot = ratio[0] + ratio[1] + ratio[2], r[3];
    for (int k = 0; k < 3; k++) r[k] = ratio[k] / tot;
    cnt[1] = (int64_t)floor(r[1] * (double)n);
    cnt[2] = (int64_t)floor(r[2] * (double)n);
    cnt[0] = n - cnt[1] - cnt[2];
    for (int k = 2; k >= 1; k--) {
        if (cnt[0] <= 1) break;
        double x = r[k] * (double)n;
        if (x > 0 && x < 1) {
            cnt[k]++;
            cnt[0]--;
        }
    }
}

/* ---- validation carve ------------------------------------------------- */

int64_t split_carve_valid(nb_csr *train, nb_csr *valid, int32_t n_items, double share,
                          uint64_t seed)
{
    int64_t n = train->nnz, k = llround(share * (double)n);
    int32_t n_users = train->n_rows;
    if (k > n) k = n;
    if (k < 0) k = 0;
    int32_t *u, *it;
    csr_to_pairs(train, &u, &it);
    int64_t *idx = nb_xmalloc((size_t)(n ? n : 1) * sizeof *idx);
    uint8_t *pick = nb_xcalloc((size_t)(n ? n : 1), 1);
    for (int64_t a = 0; a < n; a++) idx[a] = a;
    nb_rng r;
    nb_rng_seed(&r, seed, STREAM_VALID, 0);
    for (int64_t a = 0; a < k; a++) {
        int64_t b = a + (int64_t)rng_below64(&r, (uint64_t)(n - a));
        int64_t t = idx[a];
        idx[a] = idx[b];
        idx[b] = t;
        pick[idx[a]] = 1;
    }
    /* compact: picked pairs to the valid arrays, the rest stay in train */
    int32_t *vu = nb_xmalloc((size_t)(k ? k : 1) * sizeof *vu);
    int32_t *vi = nb_xmalloc((size_t)(k ? k : 1) * sizeof *vi);
    int64_t nt = 0, nv = 0;
    for (int64_t a = 0; a < n; a++) {
        if (pick[a]) {
            vu[nv] = u[a];
            vi[nv++] = it[a];
        } else {
            u[nt] = u[a];
            it[nt++] = it[a];
        }
    }
    csr_free(train);
    pairs_to_csr(nt, u, it, n_users, n_items, train, NULL);
    pairs_to_csr(nv, vu, vi, n_users, n_items, valid, NULL);
    free(vu);
    free(vi);
    free(pick);
    free(idx);
    free(u);
    free(it);
    return k;
}

/* ---- distinct pairs with their first timestamp ------------------------- */

typedef struct dpair { double ts; int64_t row; int32_t u, i; } dpair;

/* Distinct pairs of r in (user, item) order, each with the earliest
 * timestamp of its rows (ties: the earlier row). *n_dup += repeats. */
static dpair *rows_distinct(const nb_rows *r, int32_t n_users, int32_t n_items, int64_t *n_out,
                            int64_t *n_dup)
{
    int64_t *perm = nb_xmalloc((size_t)(r->n ? r->n : 1) * sizeof *perm);
    dpair *d = nb_xmalloc((size_t)(r->n ? r->n : 1) * sizeof *d);
    int64_t m = 0;
    pairs_sort_perm(r->n, r->u, r->i, n_users, n_items, perm);
    for (int64_t k = 0; k < r->n; k++) {
        int64_t a = perm[k];
        double ts = r->has_ts ? r->ts[a] : 0.0;
        if (m > 0 && d[m - 1].u == r->u[a] && d[m - 1].i == r->i[a]) {
            if (ts < d[m - 1].ts) { /* perm is stable: rows come in file order */
                d[m - 1].ts = ts;
                d[m - 1].row = a;
            }
            (*n_dup)++;
            continue;
        }
        d[m++] = (dpair){ts, a, r->u[a], r->i[a]};
    }
    free(perm);
    *n_out = m;
    return d;
}

static int cmp_time(const void *pa, const void *pb)
{
    const dpair *a = pa, *b = pb;
    if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Quantile q of the n values (sorted copy; linear interpolation). */
static double quantile(const double *v, int64_t n, double q)
{
    double *s = nb_xmalloc((size_t)n * sizeof *s);
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double pos = q * (double)(n - 1);
    int64_t lo = (int64_t)floor(pos);
    if (lo >= n - 1) lo = n - 1;
    double frac = pos - (double)lo;
    double x = lo + 1 < n ? s[lo] + frac * (s[lo + 1] - s[lo]) : s[lo];
    free(s);
    return x;
}

/* Build the three parts from distinct pairs and a part label per pair. */
static void parts_from_labels(const dpair *d, int64_t m, const uint8_t *lab, int32_t n_users,
                              int32_t n_items, nb_dataset *ds)
{
    int32_t *u = nb_xmalloc((size_t)(m ? m : 1) * sizeof *u);
    int32_t *it = nb_xmalloc((size_t)(m ? m : 1) * sizeof *it);
    nb_csr *part[3] = {&ds->train, &ds->valid, &ds->test};
    for (int p = 0; p < 3; p++) {
        int64_t n = 0;
        for (int64_t k = 0; k < m; k++)
            if (lab[k] == p) {
                u[n] = d[k].u;
                it[n++] = d[k].i;
            }
        pairs_to_csr(n, u, it, n_users, n_items, part[p], NULL);
    }
    free(u);
    free(it);
}

/* Pairs present in both a and b. */
static int64_t csr_overlap(const nb_csr *a, const nb_csr *b)
{
    int64_t n = 0;
    for (int32_t r = 0; r < a->n_rows; r++)
        for (int64_t k = a->ptr[r]; k < a->ptr[r + 1]; k++) n += csr_has(b, r, a->idx[k]);
    return n;
}

void note_add(char **note, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = nb_vstrf(fmt, ap);
    va_end(ap);
    char *t = nb_strf("%s%s%s", *note ? *note : "", *note ? "; " : "", s);
    free(s);
    free(*note);
    *note = t;
}

static const char *split_name(int k)
{
    static const char *names[] = {"given", "ratio", "time_global", "time_user"};
    return k >= 0 && k < 4 ? names[k] : "?";
}

/* ---- the splits ------------------------------------------------------- */

/* Carve a validation split out of ds->train (valid_share of each user's
 * pairs, seeded), replacing ds->valid, and say so in *note. */
static void carve_valid(const nb_data_spec *spec, nb_dataset *ds, char **note)
{
    csr_free(&ds->valid);
    int64_t k = split_carve_valid(&ds->train, &ds->valid, ds->n_items, spec->valid_share,
                                  spec->seed);
    note_add(note, "valid: %lld train pairs carved (share %g, seed %llu)", (long long)k,
             spec->valid_share, (unsigned long long)spec->seed);
}

/* split 'given': the three files as they are (a validation split carved
 * from train when there is no valid file and valid_share > 0); overlaps
 * between them are kept and noted. */
static void split_given(const nb_data_spec *spec, nb_rows *files, const char **paths,
                        nb_dataset *ds, char **note)
{
    nb_csr *part[3] = {&ds->train, &ds->valid, &ds->test};
    for (int p = 0; p < 3; p++)
        pairs_to_csr(files[p].n, files[p].u, files[p].i, ds->n_users, ds->n_items, part[p],
                     &ds->n_duplicates);
    if (!paths[1] && spec->valid_share > 0) carve_valid(spec, ds, note);
    int64_t tv = csr_overlap(&ds->train, &ds->valid), tt = csr_overlap(&ds->train, &ds->test),
            vt = csr_overlap(&ds->valid, &ds->test);
    if (tv || tt || vt)
        note_add(note, "overlap kept as given: train&test %lld, train&valid %lld, "
                 "valid&test %lld", (long long)tt, (long long)tv, (long long)vt);
}

/* What a split of one file needs: a known kind, no valid/test file, a
 * usable ratio (except time_global), a timestamp column (except ratio). */
static int split_check(const nb_data_spec *spec, const nb_rows *files, const char **paths,
                       char **err)
{
    if (spec->split < NB_SPLIT_GIVEN || spec->split > NB_SPLIT_TIME_USER)
        return nb_fail(err, NB_EINVAL, "data: unknown split kind %d", spec->split);
    if (paths[1] || paths[2])
        return nb_fail(err, NB_EINVAL, "data: split '%s' reads one file (train_path); "
                       "valid_path/test_path are only for split 'given'", split_name(spec->split));
    const double *r = spec->ratio;
    if (spec->split != NB_SPLIT_TIME_GLOBAL &&
        !(r[0] >= 0 && r[1] >= 0 && r[2] >= 0 && r[0] + r[1] + r[2] > 0))
        return nb_fail(err, NB_EINVAL, "data: ratio [%g, %g, %g] must be >= 0 with a "
                       "positive sum", r[0], r[1], r[2]);
    if (spec->split != NB_SPLIT_RATIO && !files[0].has_ts)
        return nb_fail(err, NB_EINVAL, "%s: split '%s' needs a timestamp column", paths[0],
                       split_name(spec->split));
    return NB_OK;
}

/* split 'ratio': a seeded shuffle of the m distinct pairs, cut by ratio. */
static void label_ratio(const nb_data_spec *spec, int64_t m, uint8_t *lab, char **note)
{
    int64_t *idx = nb_xmalloc((size_t)(m ? m : 1) * sizeof *idx), cnt[3];
    for (int64_t k = 0; k < m; k++) idx[k] = k;
    nb_rng r;
    nb_rng_seed(&r, spec->seed, STREAM_RATIO, 0);
    for (int64_t k = m - 1; k > 0; k--) {
        int64_t j = (int64_t)rng_below64(&r, (uint64_t)k + 1);
        int64_t t = idx[k];
        idx[k] = idx[j];
        idx[j] = t;
    }
    split_counts(m, spec->ratio, cnt);
    for (int64_t k = 0; k < m; k++) lab[idx[k]] = k < cnt[0] ? 0 : k < cnt[0] + cnt[1] ? 1 : 2;
    free(idx);
    note_add(note, "split ratio %g/%g/%g (seed %llu)", spec->ratio[0], spec->ratio[1],
             spec->ratio[2], (unsigned long long)spec->seed);
}

/* split 'time_global': train up to the cutoff (given, or the quantile of
 * the file's timestamps), test after it. NB_EINVAL for a bad quantile. */
static int label_time_global(const nb_data_spec *spec, const nb_rows *file, const dpair *d,
                             int64_t m, uint8_t *lab, char **note, char **err)
{
    double cut = spec->cutoff;
    if (isnan(cut)) {
        double q = spec->cutoff_quantile;
        if (!(q >= 0 && q <= 1))
            return nb_fail(err, NB_EINVAL, "data: cutoff_quantile %g is not in [0, 1]", q);
        cut = quantile(file->ts, file->n, q);
        note_add(note, "time cutoff %.17g (quantile %g)", cut, q);
    } else {
        note_add(note, "time cutoff %.17g", cut);
    }
    for (int64_t k = 0; k < m; k++) lab[k] = d[k].ts <= cut ? 0 : 2;
    return NB_OK;
}

/* split 'time_user': each user's pairs by time, cut by ratio. d is in user
 * order, so each user's pairs are contiguous (sorted by time here). */
static void label_time_user(const nb_data_spec *spec, dpair *d, int64_t m, uint8_t *lab,
                            char **note)
{
    int64_t a = 0, cnt[3];
    while (a < m) {
        int64_t b = a;
        while (b < m && d[b].u == d[a].u) b++;
        qsort(d + a, (size_t)(b - a), sizeof *d, cmp_time);
        split_counts(b - a, spec->ratio, cnt);
        for (int64_t k = a; k < b; k++)
            lab[k] = k - a < cnt[0] ? 0 : k - a < cnt[0] + cnt[1] ? 1 : 2;
        a = b;
    }
    note_add(note, "split time_user %g/%g/%g", spec->ratio[0], spec->ratio[1],
             spec->ratio[2]);
}

int split_apply(const nb_data_spec *spec, nb_rows *files, const char **paths, nb_dataset *ds,
                char **note, char **err)
{
    int32_t U = ds->n_users, I = ds->n_items;
    int64_t m = 0;
    int rc;
    if (!(spec->valid_share >= 0 && spec->valid_share < 1))
        return nb_fail(err, NB_EINVAL, "data: valid_share %g is not in [0, 1)",
                       spec->valid_share);
    if (spec->split == NB_SPLIT_GIVEN) {
        split_given(spec, files, paths, ds, note);
        return NB_OK;
    }
    if ((rc = split_check(spec, files, paths, err)) != NB_OK) return rc;
    dpair *d = rows_distinct(&files[0], U, I, &m, &ds->n_duplicates);
    uint8_t *lab = nb_xcalloc((size_t)(m ? m : 1), 1);
    if (spec->split == NB_SPLIT_RATIO) {
        label_ratio(spec, m, lab, note);
    } else if (spec->split == NB_SPLIT_TIME_GLOBAL) {
        rc = label_time_global(spec, &files[0], d, m, lab, note, err);
    } else {
        label_time_user(spec, d, m, lab, note);
    }
    if (rc == NB_OK) parts_from_labels(d, m, lab, U, I, ds);
    if (rc == NB_OK && spec->split == NB_SPLIT_TIME_GLOBAL && spec->valid_share > 0)
        carve_valid(spec, ds, note);
    free(d);
    free(lab);
    return rc;
}
