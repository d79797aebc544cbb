/*
 * test-dataset.c - the dataset module: the three loaders on good and
 * malformed fixtures (tests/fixtures/data), duplicate collapsing, the four
 * splits (determinism, disjointness, exact counts), the synthetic generator
 * (determinism, stats, learnability), dataset_describe, and the real data
 * sets of ../shared/data when present (exact counts; load times are measured
 * by tests/bench-data in make bench).
 */
#define _GNU_SOURCE
#include "dataset.h"
#include "negbench/plugin.h"
#include "tap/tap.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *fixture(const char *name)
{
    return nb_strf("%s/fixtures/data/%s", tap_srcdir(), name);
}

/* A file-based spec (synthetic off, valid_share 0, given split). */
static void spec_files(nb_data_spec *s, const char *train, const char *valid, const char *test)
{
    data_spec_defaults(s);
    s->synthetic = 0;
    s->valid_share = 0;
    s->train_path = train ? fixture(train) : NULL;
    s->valid_path = valid ? fixture(valid) : NULL;
    s->test_path = test ? fixture(test) : NULL;
}

/* Row r of m equals the n items given (ascending). */
static int row_is(const nb_csr *m, int32_t r, int n, const int32_t *items)
{
    if (r >= m->n_rows || m->ptr[r + 1] - m->ptr[r] != n) return 0;
    for (int k = 0; k < n; k++)
        if (m->idx[m->ptr[r] + k] != items[k]) return 0;
    return 1;
}
#define ROW(m, r, ...)                                                                 \
    row_is((m), (r), (int)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)),       \
           (int32_t[]){__VA_ARGS__})
#define ROW_EMPTY(m, r) ((m)->ptr[(r) + 1] == (m)->ptr[(r)])

static int csr_equal(const nb_csr *a, const nb_csr *b)
{
    if (a->n_rows != b->n_rows || a->nnz != b->nnz) return 0;
    return memcmp(a->ptr, b->ptr, ((size_t)a->n_rows + 1) * sizeof *a->ptr) == 0 &&
           memcmp(a->idx, b->idx, (size_t)a->nnz * sizeof *a->idx) == 0;
}

/* Every row ascending without repeats, ids in range. */
static int csr_valid(const nb_csr *m, int32_t n_cols)
{
    if (m->ptr[0] != 0 || m->ptr[m->n_rows] != m->nnz) return 0;
    for (int32_t r = 0; r < m->n_rows; r++)
        for (int64_t k = m->ptr[r]; k < m->ptr[r + 1]; k++) {
            if (m->idx[k] < 0 || m->idx[k] >= n_cols) return 0;
            if (k > m->ptr[r] && m->idx[k] <= m->idx[k - 1]) return 0;
        }
    return 1;
}

/* Pairs of a in b. */
static int64_t overlap(const nb_csr *a, const nb_csr *b)
{
    int64_t n = 0;
    for (int32_t r = 0; r < a->n_rows; r++)
        for (int64_t k = a->ptr[r]; k < a->ptr[r + 1]; k++) n += csr_has(b, r, a->idx[k]);
    return n;
}

/* train/valid/test pairwise disjoint and their union exactly `all`. */
static int partition_of(const nb_dataset *d, const nb_csr *all)
{
    if (overlap(&d->train, &d->valid) || overlap(&d->train, &d->test) ||
        overlap(&d->valid, &d->test))
        return 0;
    if (d->train.nnz + d->valid.nnz + d->test.nnz != all->nnz) return 0;
    return overlap(&d->train, all) + overlap(&d->valid, all) + overlap(&d->test, all) ==
           all->nnz;
}

static int load_ok(const nb_data_spec *s, nb_dataset *d, const char *what)
{
    char *err = NULL;
    int rc = dataset_load(s, d, &err);
    if (!ok(rc == NB_OK, "%s loads", what)) diag("error: %s", err ? err : "(none)");
    free(err);
    return rc == NB_OK;
}

/* Load must fail with NB_EINVAL and a message containing want. */
static void load_fails(nb_data_spec *s, const char *want, const char *what)
{
    nb_dataset d;
    char *err = NULL;
    int rc = dataset_load(s, &d, &err);
    is_int(rc, NB_EINVAL, "%s: NB_EINVAL", what);
    if (!ok(err && strstr(err, want) != NULL, "%s: message has '%s'", what, want))
        diag("got: %s", err ? err : "(null)");
    free(err);
    data_spec_free(s);
}

/* ---- loaders ------------------------------------------------------------ */

static void test_lines(void)
{
    nb_data_spec s;
    nb_dataset d;
    spec_files(&s, "lines-train.txt", NULL, "lines-test.txt");
    if (load_ok(&s, &d, "lines fixture")) {
        is_int(d.n_users, 4, "lines: n_users = max id + 1 (user 2 has no items)");
        is_int(d.n_items, 6, "lines: n_items = max id + 1 over both files");
        is_int(d.train.nnz, 7, "lines: 7 distinct train pairs");
        is_int(d.test.nnz, 4, "lines: 4 test pairs");
        is_int(d.valid.nnz, 0, "lines: no valid with valid_share 0");
        is_int(d.n_duplicates, 1, "lines: the repeated '2' of user 1 collapsed");
        is_int(d.n_rows_read, 12, "lines: 12 rows (item entries) read");
        ok(ROW(&d.train, 0, 1, 2, 3) && ROW(&d.train, 1, 2, 4) && ROW_EMPTY(&d.train, 2) &&
               ROW(&d.train, 3, 0, 4),
           "lines: train rows keep numeric ids, sorted, deduplicated");
        ok(ROW(&d.test, 0, 4) && ROW(&d.test, 1, 0) && ROW(&d.test, 3, 4, 5), "lines: test rows");
        ok(csr_valid(&d.train_by_item, d.n_users) && d.train_by_item.n_rows == 6 &&
               ROW(&d.train_by_item, 2, 0, 1) && ROW(&d.train_by_item, 4, 1, 3) &&
               ROW_EMPTY(&d.train_by_item, 5),
           "lines: train_by_item is the transpose");
        ok(d.source && strstr(d.source, "train&test 1"), "lines: overlap counted in source");
        ok(ROW(&d.test, 3, 4, 5) && csr_has(&d.train, 3, 4), "lines: overlapping pair kept as given");
        is_int((int64_t)strlen(d.checksum), 64, "lines: checksum is 64 hex digits");
        dataset_free(&d);
    }
    data_spec_free(&s);

    /* sparse ids (range over 2 x distinct + 1024) renumbered by rank, over
     * both files; a user line without items still counts (user 2000) */
    spec_files(&s, "lines-sparse.txt", NULL, "lines-sparse-test.txt");
    if (load_ok(&s, &d, "lines with sparse ids")) {
        ok(d.n_users == 3 && d.n_items == 3, "sparse lines: 3 users, 3 items (got %d, %d)",
           (int)d.n_users, (int)d.n_items);
        ok(ROW(&d.train, 0, 0, 2) && ROW(&d.train, 2, 0) && ROW_EMPTY(&d.train, 1) &&
               ROW(&d.test, 0, 1),
           "sparse lines: ids 3 < 2000 < 900000 and 7 < 5e7 < 1e8 become rows by rank");
        ok(d.source && strstr(d.source, "user ids renumbered by rank (3 distinct in 0..900000)") &&
               strstr(d.source, "item ids renumbered by rank (3 distinct in 0..100000000)"),
           "sparse lines: the source says so");
        dataset_free(&d);
    }
    data_spec_free(&s);

    /* a blank-run file read as LINES (auto) and as CSV (forced) */
    spec_files(&s, "spaces.txt", NULL, NULL);
    if (load_ok(&s, &d, "spaces.txt as lines")) {
        ok(d.n_users == 12 && d.n_items == 31 && d.train.nnz == 3 && ROW(&d.train, 10, 20, 30),
           "auto: no ',' or tab -> lines format");
        dataset_free(&d);
    }
    s.format = NB_FMT_CSV;
    if (load_ok(&s, &d, "spaces.txt as csv")) {
        ok(d.n_users == 2 && d.n_items == 2 && ROW(&d.train, 0, 0, 1) && ROW(&d.train, 1, 0),
           "csv with runs of blanks: tokens mapped in order of appearance");
        dataset_free(&d);
    }
    data_spec_free(&s);
}

static void test_inter(void)
{
    nb_data_spec s;
    nb_dataset d;
    spec_files(&s, "good.inter", NULL, NULL);
    if (load_ok(&s, &d, "good.inter")) {
        /* users bob 0, alice 1, carol 2; items i10 0, i20 1, i30 2 */
        ok(d.n_users == 3 && d.n_items == 3, "inter: 3 users, 3 items");
        ok(ROW(&d.train, 0, 0, 1) && ROW(&d.train, 1, 0, 1) && ROW(&d.train, 2, 2),
           "inter: columns found by name (item before user), ids by first appearance");
        is_int(d.n_duplicates, 1, "inter: one duplicate collapsed");
        is_int(d.n_rows_read, 6, "inter: 6 rows read");
        dataset_free(&d);
    }
    s.min_rating = 3;
    if (load_ok(&s, &d, "good.inter with min_rating 3")) {
        ok(d.n_users == 2 && d.n_items == 2 && ROW(&d.train, 0, 0) && ROW(&d.train, 1, 0, 1),
           "inter: rows below min_rating dropped before id mapping");
        is_int(d.n_rows_read, 6, "inter: dropped rows still count as read");
        ok(d.source && strstr(d.source, "2 dropped"), "inter: source reports dropped rows");
        dataset_free(&d);
    }
    s.split = NB_SPLIT_TIME_GLOBAL;
    s.cutoff = 250;
    s.min_rating = -INFINITY;
    if (load_ok(&s, &d, "good.inter time_global")) {
        /* bob-i10 first at 300 (>250), bob-i20 400, alice-i20 100, alice-i10 200, carol 50 */
        ok(ROW(&d.train, 1, 0, 1) && ROW(&d.train, 2, 2) && ROW_EMPTY(&d.train, 0) &&
               ROW(&d.test, 0, 0, 1),
           "inter: timestamp column used by time_global");
        dataset_free(&d);
    }
    data_spec_free(&s);
}

static void test_csv(void)
{
    nb_data_spec s;
    nb_dataset d;
    spec_files(&s, "good.csv", NULL, NULL);
    if (load_ok(&s, &d, "good.csv")) {
        /* users 7 -> 0, 3 -> 1; items 100 -> 0, 200 -> 1, 300 -> 2 */
        ok(d.n_users == 2 && d.n_items == 3 && ROW(&d.train, 0, 0, 1) && ROW(&d.train, 1, 0, 2),
           "csv: header skipped, tokens mapped in order of appearance");
        is_int(d.n_duplicates, 1, "csv: duplicate collapsed");
        is_int(d.n_rows_read, 5, "csv: 5 rows read (header not counted)");
        dataset_free(&d);
    }
    s.min_rating = 4;
    if (load_ok(&s, &d, "good.csv min_rating 4")) {
        ok(d.n_users == 2 && d.n_items == 3 && ROW(&d.train, 0, 0, 1) && ROW(&d.train, 1, 2),
           "csv: rating 2 dropped, 4.5 and 3-dup kept/dropped by rating");
        is_int(d.n_duplicates, 0, "csv: the duplicate row had rating 3 and was dropped");
        dataset_free(&d);
    }
    data_spec_free(&s);

    spec_files(&s, "tab.data", NULL, NULL);
    if (load_ok(&s, &d, "tab.data (u.data style)")) {
        ok(d.n_users == 2 && d.n_items == 3 && ROW(&d.train, 0, 0, 2) && ROW(&d.train, 1, 1),
           "csv: tab-separated file without header detected as csv");
        dataset_free(&d);
    }
    data_spec_free(&s);
}

static void test_malformed(void)
{
    nb_data_spec s;
    spec_files(&s, "lines-bad-alpha.txt", NULL, NULL);
    load_fails(&s, "lines-bad-alpha.txt:3:3: non-numeric item id 'x7'", "lines non-numeric");
    spec_files(&s, "lines-bad-neg.txt", NULL, NULL);
    load_fails(&s, "lines-bad-neg.txt:2:1: negative user id '-1'", "lines negative id");
    spec_files(&s, "lines-bad-big.txt", NULL, NULL);
    load_fails(&s, "lines-bad-big.txt:4:3: too large for int32 item id", "lines id > int32");
    spec_files(&s, "lines-max-id.txt", NULL, NULL);
    load_fails(&s, "lines-max-id.txt:3:1: too large for int32 user id", "lines id = INT32_MAX");
    spec_files(&s, "lines-train.txt", NULL, "lines-bad-alpha.txt");
    load_fails(&s, "lines-bad-alpha.txt:3:", "error in the test file names it");
    spec_files(&s, "empty.txt", NULL, NULL);
    load_fails(&s, "empty.txt:1:1: empty file", "empty lines file");
    spec_files(&s, "empty.txt", NULL, NULL);
    s.format = NB_FMT_CSV;
    load_fails(&s, "empty.txt:1:1: empty file", "empty csv file");
    spec_files(&s, "empty.txt", NULL, NULL);
    s.format = NB_FMT_INTER;
    load_fails(&s, "empty.txt:1:1: empty file", "empty inter file");
    spec_files(&s, "bad-header.inter", NULL, NULL);
    load_fails(&s, "bad-header.inter:1:15: bad header field 'item_id'", "inter header w/o type");
    spec_files(&s, "no-user.inter", NULL, NULL);
    load_fails(&s, "no-user.inter:1:1: bad header: no user_id column", "inter w/o user_id");
    spec_files(&s, "bad-fields.inter", NULL, NULL);
    load_fails(&s, "bad-fields.inter:4:1: expected 3 fields, found 2", "inter field count");
    spec_files(&s, "bad-fields.csv", NULL, NULL);
    load_fails(&s, "bad-fields.csv:3:1: expected 2 fields, found 3", "csv field count");
    spec_files(&s, "bad-rating.csv", NULL, NULL);
    load_fails(&s, "bad-rating.csv:3:5: bad rating 'abc'", "csv bad rating");
    spec_files(&s, "no-such-file.txt", NULL, NULL);
    load_fails(&s, "no-such-file.txt", "unreadable file");
    spec_files(&s, "lines-train.txt", NULL, NULL);
    s.split = NB_SPLIT_TIME_GLOBAL;
    load_fails(&s, "needs a timestamp column", "time split without timestamps");
    spec_files(&s, "lines-train.txt", NULL, "lines-test.txt");
    s.split = NB_SPLIT_RATIO;
    load_fails(&s, "reads one file", "ratio split with two files");
    data_spec_defaults(&s);
    s.synthetic = 0;
    load_fails(&s, "no train_path", "no file and no synthetic");
}

/* ---- splits ------------------------------------------------------------- */

/* A lines file in the tmp dir: 80 users, repeated items (duplicates). */
static char *write_ratio_file(void)
{
    char *path = nb_strf("%s/ratio.txt", tap_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) tap_bail("cannot write %s", path);
    for (int u = 0; u < 80; u++) {
        fprintf(f, "%d", u);
        for (int k = 0; k < 1 + (u * 7) % 23; k++) {
            fprintf(f, " %d", (u * 13 + k * k * 5) % 97);
            if (k % 4 == 1) fprintf(f, " %d", (u * 13 + k * k * 5) % 97); /* a repeat */
        }
        fputc('\n', f);
    }
    fclose(f);
    return path;
}

static void test_ratio_and_carve(void)
{
    char *path = write_ratio_file();
    nb_data_spec s;
    nb_dataset all, a, b, c;
    data_spec_defaults(&s);
    s.synthetic = 0;
    s.valid_share = 0;
    s.train_path = nb_xstrdup(path);
    if (!load_ok(&s, &all, "ratio source (given, no valid)")) goto out;
    ok(all.n_duplicates > 0, "ratio source has duplicates (%lld)", (long long)all.n_duplicates);

    s.split = NB_SPLIT_RATIO;
    s.seed = 7;
    if (load_ok(&s, &a, "ratio seed 7") && load_ok(&s, &b, "ratio seed 7 again")) {
        s.seed = 8;
        if (load_ok(&s, &c, "ratio seed 8")) {
            int64_t n = all.train.nnz, c1 = (int64_t)floor(0.1 * (double)n);
            is_int(a.valid.nnz, c1, "ratio: valid = floor(0.1 n)");
            is_int(a.test.nnz, c1, "ratio: test = floor(0.1 n)");
            is_int(a.train.nnz, n - 2 * c1, "ratio: train = the rest");
            ok(partition_of(&a, &all.train), "ratio: disjoint parts, union = distinct pairs");
            ok(csr_equal(&a.train, &b.train) && csr_equal(&a.valid, &b.valid) &&
                   csr_equal(&a.test, &b.test),
               "ratio: same seed, same split");
            ok(!csr_equal(&a.test, &c.test), "ratio: different seed, different split");
            ok(partition_of(&c, &all.train), "ratio seed 8: partition");
            is_int(a.n_duplicates, all.n_duplicates, "ratio: duplicates counted before splitting");
            dataset_free(&c);
        }
        dataset_free(&a);
        dataset_free(&b);
    }

    /* given split with a carved valid share */
    s.split = NB_SPLIT_GIVEN;
    s.valid_share = 0.25;
    s.seed = 3;
    if (load_ok(&s, &a, "given + valid 0.25") && load_ok(&s, &b, "given + valid 0.25 again")) {
        s.seed = 4;
        if (load_ok(&s, &c, "given + valid 0.25 seed 4")) {
            is_int(a.valid.nnz, llround(0.25 * (double)all.train.nnz),
                   "carve: valid = round(0.25 n_train)");
            ok(partition_of(&a, &all.train), "carve: train + valid partition the train file");
            ok(csr_equal(&a.valid, &b.valid), "carve: same seed, same valid");
            ok(!csr_equal(&a.valid, &c.valid), "carve: different seed, different valid");
            ok(csr_valid(&a.train, a.n_items) && csr_valid(&a.valid, a.n_items),
               "carve: rows sorted and unique");
            dataset_free(&c);
        }
        dataset_free(&a);
        dataset_free(&b);
    }
    dataset_free(&all);
out:
    data_spec_free(&s);
    free(path);
}

/* Item ids of time.csv in order of first appearance. */
static int32_t tid(const char *name)
{
    static const char *order[] = {"a3", "b4", "a0", "a7", "b3", "a9", "c0", "a1", "b1",
                                  "a5", "a2", "b2", "d0", "a8", "b0", "a4", "c1", "a6"};
    for (int32_t k = 0; k < 18; k++)
        if (!strcmp(order[k], name)) return k;
    tap_bail("unknown item %s", name);
}

/* Row r of m holds exactly the named items. */
static int row_named(const nb_csr *m, int32_t r, const char *names)
{
    char buf[128];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", names);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
        if (!csr_has(m, r, tid(t))) return 0;
        n++;
    }
    return m->ptr[r + 1] - m->ptr[r] == n;
}

static void test_time_splits(void)
{
    nb_data_spec s;
    nb_dataset d, all;
    spec_files(&s, "time.csv", NULL, NULL);
    if (!load_ok(&s, &all, "time.csv given")) goto out;
    is_int(all.train.nnz, 18, "time.csv: 18 distinct pairs");
    is_int(all.n_duplicates, 2, "time.csv: 2 repeats");

    s.split = NB_SPLIT_TIME_USER;
    if (load_ok(&s, &d, "time_user")) {
        ok(row_named(&d.train, 0, "a0 a1 a9 a2 a3 a4 a5 a6") && row_named(&d.valid, 0, "a7") &&
               row_named(&d.test, 0, "a8"),
           "time_user: n=10 -> 8/1/1, oldest first (a9 keeps its earliest time)");
        ok(row_named(&d.train, 1, "b0 b1 b3") && row_named(&d.valid, 1, "b2") &&
               row_named(&d.test, 1, "b4"),
           "time_user: n=5 -> 3/1/1, tie broken by file order");
        ok(row_named(&d.train, 2, "c1") && row_named(&d.valid, 2, "") && row_named(&d.test, 2, "c0"),
           "time_user: n=2 -> 1/0/1");
        ok(row_named(&d.train, 3, "d0") && row_named(&d.valid, 3, "") && row_named(&d.test, 3, ""),
           "time_user: n=1 -> 1/0/0");
        ok(partition_of(&d, &all.train), "time_user: partition of the distinct pairs");
        dataset_free(&d);
    }

    s.split = NB_SPLIT_TIME_GLOBAL;
    s.cutoff = 45;
    if (load_ok(&s, &d, "time_global cutoff 45")) {
        ok(row_named(&d.train, 0, "a0 a1 a9 a2 a3 a4") && row_named(&d.test, 0, "a5 a6 a7 a8"),
           "time_global: ts <= 45 in train (a9 by its earlier repeat)");
        ok(row_named(&d.train, 1, "b0 b1 b2 b3") && row_named(&d.test, 1, "b4"),
           "time_global: b0 keeps its first time 5, not the repeat at 95");
        ok(row_named(&d.train, 2, "c1") && row_named(&d.test, 2, "c0") &&
               row_named(&d.train, 3, "") && row_named(&d.test, 3, "d0"),
           "time_global: users 2 and 3");
        ok(d.train.nnz == 11 && d.test.nnz == 7 && d.valid.nnz == 0, "time_global: 11/0/7");
        ok(partition_of(&d, &all.train), "time_global: partition");
        dataset_free(&d);
    }
    s.cutoff = NAN;
    s.cutoff_quantile = 0.5; /* median of the 20 row timestamps = 45 */
    if (load_ok(&s, &d, "time_global quantile 0.5")) {
        ok(d.train.nnz == 11 && d.test.nnz == 7, "time_global: quantile 0.5 -> cutoff 45");
        ok(d.source && strstr(d.source, "cutoff 45 "), "time_global: cutoff in source");
        dataset_free(&d);
    }
    s.cutoff_quantile = 0.3; /* 25 + 0.7 * (30 - 25) = 28.5 */
    if (load_ok(&s, &d, "time_global quantile 0.3")) {
        ok(d.train.nnz == 6 && row_named(&d.train, 1, "b0 b1") && row_named(&d.train, 0, "a0 a1 a9 a2"),
           "time_global: quantile 0.3 -> cutoff 28.5 (interpolated)");
        dataset_free(&d);
    }
    s.cutoff = 45;
    s.valid_share = 0.5;
    if (load_ok(&s, &d, "time_global + valid 0.5")) {
        ok(d.valid.nnz == 6 && d.train.nnz == 5 && d.test.nnz == 7,
           "time_global: valid = round(0.5 * 11) = 6 carved from train");
        ok(partition_of(&d, &all.train), "time_global + valid: partition");
        ok(!overlap(&d.valid, &d.test) && !csr_has(&d.valid, 0, tid("a5")),
           "time_global: valid drawn only from pre-cutoff pairs");
        dataset_free(&d);
    }
    dataset_free(&all);
out:
    data_spec_free(&s);
}

/* ---- synthetic ---------------------------------------------------------- */

/* Recall@20 on test of item-cosine kNN (train rows; train+valid masked),
 * and of a uniformly random ranking (expected). */
static void knn_recall(const nb_dataset *d, double *knn, double *rnd)
{
    int32_t I = d->n_items;
    float *sim = nb_xcalloc((size_t)I * I, sizeof *sim);
    float *sc = nb_xmalloc((size_t)I * sizeof *sc);
    double *norm = nb_xcalloc((size_t)I, sizeof *norm);
    for (int32_t u = 0; u < d->n_users; u++)
        for (int64_t a = d->train.ptr[u]; a < d->train.ptr[u + 1]; a++) {
            norm[d->train.idx[a]] += 1;
            for (int64_t b = d->train.ptr[u]; b < d->train.ptr[u + 1]; b++)
                sim[(int64_t)d->train.idx[a] * I + d->train.idx[b]] += 1;
        }
    for (int32_t i = 0; i < I; i++)
        for (int32_t j = 0; j < I; j++)
            sim[(int64_t)i * I + j] /= (float)sqrt((norm[i] + 1) * (norm[j] + 1));
    double sum = 0, sum_rnd = 0;
    int n = 0;
    for (int32_t u = 0; u < d->n_users; u++) {
        int64_t nt = d->test.ptr[u + 1] - d->test.ptr[u];
        if (!nt) continue;
        memset(sc, 0, (size_t)I * sizeof *sc);
        for (int64_t a = d->train.ptr[u]; a < d->train.ptr[u + 1]; a++)
            for (int32_t j = 0; j < I; j++) sc[j] += sim[(int64_t)d->train.idx[a] * I + j];
        int32_t cand = 0;
        for (int32_t j = 0; j < I; j++)
            if (csr_has(&d->train, u, j) || csr_has(&d->valid, u, j)) sc[j] = -INFINITY;
            else cand++;
        int hits = 0;
        for (int k = 0; k < 20; k++) {
            int32_t best = 0;
            for (int32_t j = 1; j < I; j++)
                if (sc[j] > sc[best]) best = j;
            hits += csr_has(&d->test, u, best);
            sc[best] = -INFINITY;
        }
        sum += (double)hits / (double)nt;
        sum_rnd += 20.0 / cand;
        n++;
    }
    *knn = sum / n;
    *rnd = sum_rnd / n;
    free(sim);
    free(sc);
    free(norm);
}

static void test_synthetic(void)
{
    nb_data_spec s;
    nb_dataset a, b, c;
    data_spec_defaults(&s);
    ok(s.synthetic == 1 && s.syn_users == 2000 && s.syn_items == 1000 && s.syn_rank == 8 &&
           s.syn_per_user == 30 && s.syn_pop_skew == 0.8 && s.syn_test_share == 0.2 &&
           s.valid_share == 0.1 && s.seed == 2020 && s.split == NB_SPLIT_GIVEN &&
           s.format == NB_FMT_AUTO && isnan(s.cutoff) && s.cutoff_quantile == 0.8 &&
           s.ratio[0] == 0.8 && s.ratio[1] == 0.1 && s.ratio[2] == 0.1 &&
           isinf(s.min_rating) && s.min_rating < 0,
       "data_spec_defaults");
    if (!load_ok(&s, &a, "synthetic default")) return;
    if (load_ok(&s, &b, "synthetic again")) {
        ok(csr_equal(&a.train, &b.train) && csr_equal(&a.valid, &b.valid) &&
               csr_equal(&a.test, &b.test) && !strcmp(a.checksum, b.checksum),
           "synthetic: same seed, identical data and checksum");
        dataset_free(&b);
    }
    s.seed = 2021;
    if (load_ok(&s, &c, "synthetic seed 2021")) {
        ok(!csr_equal(&a.train, &c.train) && strcmp(a.checksum, c.checksum) != 0,
           "synthetic: different seed, different data and checksum");
        dataset_free(&c);
    }
    is_int(a.n_users, 2000, "synthetic: users");
    is_int(a.n_items, 1000, "synthetic: items");
    int64_t tot = a.train.nnz + a.valid.nnz + a.test.nnz;
    ok(tot > 2000 * 27 && tot < 2000 * 33, "synthetic: ~30 per user (%.2f)", tot / 2000.0);
    is_int(a.valid.nnz, llround(0.1 * (double)(a.train.nnz + a.valid.nnz)),
           "synthetic: valid = round(0.1 * train pairs)");
    int min_ok = 1, test_ok = 1, varied = 0;
    int64_t first = -1;
    for (int32_t u = 0; u < a.n_users; u++) {
        int64_t nt = a.test.ptr[u + 1] - a.test.ptr[u];
        int64_t n = a.train.ptr[u + 1] - a.train.ptr[u] + a.valid.ptr[u + 1] - a.valid.ptr[u] + nt;
        if (n < 3) min_ok = 0;
        if (n >= 3 && nt < 1) test_ok = 0;
        if (first < 0) first = n; else if (n != first) varied = 1;
    }
    ok(min_ok && varied, "synthetic: every user has >= 3 items, counts vary");
    ok(test_ok, "synthetic: every user has a test item");
    ok(csr_valid(&a.train, 1000) && csr_valid(&a.test, 1000) && csr_valid(&a.valid, 1000) &&
           !overlap(&a.train, &a.test) && !overlap(&a.train, &a.valid) && !overlap(&a.valid, &a.test),
       "synthetic: parts sorted, unique and disjoint");
    /* popularity skew: the 10% most popular items hold far more than 10% */
    int64_t *deg = nb_xcalloc(1000, sizeof *deg);
    for (int64_t k = 0; k < a.train.nnz; k++) deg[a.train.idx[k]]++;
    int64_t top = 0;
    for (int r = 0; r < 100; r++) {
        int best = 0;
        for (int j = 1; j < 1000; j++)
            if (deg[j] > deg[best]) best = j;
        top += deg[best];
        deg[best] = -1;
    }
    free(deg);
    ok((double)top / (double)a.train.nnz > 0.25, "synthetic: top 10%% items hold %.1f%% of train",
       100.0 * (double)top / (double)a.train.nnz);
    double knn, rnd;
    knn_recall(&a, &knn, &rnd);
    diag("synthetic: item-kNN Recall@20 %.4f, random %.4f", knn, rnd);
    ok(knn > 5 * rnd, "synthetic: learnable (item-kNN recall@20 %.3f >> random %.3f)", knn, rnd);
    ok(a.source && strstr(a.source, "synthetic") && strlen(a.checksum) == 64,
       "synthetic: source and checksum set");

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    dataset_describe(&a, f);
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "test %lld,%03lld", (long long)(a.test.nnz / 1000),
             (long long)(a.test.nnz % 1000));
    ok(strstr(text, "users          2,000") && strstr(text, "items          1,000") &&
           strstr(text, want) && strstr(text, a.checksum) && strstr(text, "density"),
       "describe: aligned counts with separators, checksum");
    free(text);
    dataset_free(&a);

    data_spec_defaults(&s);
    s.syn_users = 50;
    s.syn_items = 5000; /* candidate-subset path */
    s.syn_per_user = 10;
    s.valid_share = 0;
    if (load_ok(&s, &a, "synthetic 50 x 5000")) {
        ok(a.valid.nnz == 0 && csr_valid(&a.train, 5000) && a.train.nnz + a.test.nnz >= 150,
           "synthetic: many items, no valid share");
        dataset_free(&a);
    }
}

/* ---- real data ---------------------------------------------------------- */

static int have_dir(const char *sub, char **dir)
{
    struct stat st;
    *dir = nb_strf("%s/%s", tap_data_dir(), sub);
    return stat(*dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static void real_spec(nb_data_spec *s, const char *dir, const char *train, const char *test)
{
    data_spec_defaults(s);
    s->synthetic = 0;
    s->valid_share = 0;
    s->train_path = nb_strf("%s/%s", dir, train);
    s->test_path = test ? nb_strf("%s/%s", dir, test) : NULL;
}

static void test_real(void)
{
    char *dir = NULL;
    nb_data_spec s;
    nb_dataset d;

    if (have_dir("dens-baby", &dir)) {
        real_spec(&s, dir, "train.txt", "test.txt");
        if (load_ok(&s, &d, "dens-baby")) {
            ok(d.n_users == 4314 && d.n_items == 5854 && d.train.nnz == 31567 &&
                   d.test.nnz == 11090 && d.n_duplicates == 0,
               "dens-baby: 4,314 x 5,854, 31,567 + 11,090");
            dataset_free(&d);
        }
        s.valid_share = 0.1;
        if (load_ok(&s, &d, "dens-baby + 10 percent valid")) {
            ok(d.valid.nnz == 3157 && d.train.nnz == 31567 - 3157,
               "dens-baby: valid = round(0.1 * 31,567) = 3,157");
            dataset_free(&d);
        }
        data_spec_free(&s);
    } else {
        skip_shared(4, "dens-baby not found under %s", tap_data_dir());
    }
    free(dir);

    if (have_dir("gowalla-lightgcn", &dir)) {
        real_spec(&s, dir, "train.txt", "test.txt");
        if (load_ok(&s, &d, "gowalla")) {
            ok(d.n_users == 29858 && d.n_items == 40981 && d.train.nnz == 810128 &&
                   d.test.nnz == 217242,
               "gowalla: 29,858 x 40,981, 810,128 + 217,242");
            dataset_free(&d);
        }
        data_spec_free(&s);
    } else {
        skip_shared(2, "gowalla-lightgcn not found under %s", tap_data_dir());
    }
    free(dir);

    if (have_dir("dens-lastfm", &dir)) {
        real_spec(&s, dir, "train.txt", "test.txt");
        if (load_ok(&s, &d, "dens-lastfm")) {
            ok(d.n_users == 640 && d.n_items == 4165 && d.train.nnz == 13039 &&
                   d.test.nnz == 6014,
               "dens-lastfm: 13,039 + 6,014 distinct pairs");
            is_int(d.n_duplicates, (90136 - 13039) + (30839 - 6014),
                   "dens-lastfm: repeated entries collapsed and counted");
            is_int(d.n_rows_read, 90136 + 30839, "dens-lastfm: every entry read");
            dataset_free(&d);
        }
        data_spec_free(&s);
    } else {
        skip_shared(4, "dens-lastfm not found under %s", tap_data_dir());
    }
    free(dir);

    if (have_dir("ml-100k", &dir)) {
        real_spec(&s, dir, "u.data", NULL);
        if (load_ok(&s, &d, "ml-100k u.data")) {
            ok(d.n_users == 943 && d.n_items == 1682 && d.train.nnz == 100000,
               "ml-100k u.data: 943 x 1,682, 100,000");
            is_string(d.checksum,
                      "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
                      "ml-100k u.data: checksum = sha256 of the file (README)");
            dataset_free(&d);
        }
        s.min_rating = 4;
        if (load_ok(&s, &d, "ml-100k min_rating 4")) {
            ok(d.train.nnz == 55375 && d.n_users == 942 && d.n_items == 1447,
               "ml-100k: 55,375 ratings >= 4 (942 users, 1,447 items)");
            dataset_free(&d);
        }
        data_spec_free(&s);
        real_spec(&s, dir, "recbole/ml-100k.inter", NULL);
        s.split = NB_SPLIT_TIME_USER;
        if (load_ok(&s, &d, "ml-100k.inter time_user")) {
            int counts_ok = 1;
            for (int32_t u = 0; u < d.n_users; u++) {
                int64_t n0 = d.train.ptr[u + 1] - d.train.ptr[u], n1 = d.valid.ptr[u + 1] - d.valid.ptr[u],
                        n2 = d.test.ptr[u + 1] - d.test.ptr[u], n = n0 + n1 + n2;
                if (n1 != (int64_t)floor(0.1 * n) || n2 != (int64_t)floor(0.1 * n)) counts_ok = 0;
            }
            ok(d.n_users == 943 && counts_ok && d.train.nnz + d.valid.nnz + d.test.nnz == 100000,
               "ml-100k.inter time_user: per-user floor(0.1 n) valid and test");
            dataset_free(&d);
        }
        data_spec_free(&s);
    } else {
        skip_shared(7, "ml-100k not found under %s", tap_data_dir());
    }
    free(dir);
}

int main(void)
{
    tap_plan(0);
    test_lines();
    test_inter();
    test_csv();
    test_malformed();
    test_ratio_and_carve();
    test_time_splits();
    test_synthetic();
    test_real();
    return tap_done();
}
