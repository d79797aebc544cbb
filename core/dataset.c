/*
 * dataset.c - the dataset module's entry points: spec defaults, loading
 * (read files, checksum, parse, split, transpose), description, and the
 * CSR helpers. Parsers are in dataset_load.c, splits in dataset_split.c,
 * the generator in synthetic.c.
 */
#include "dataset.h"
#include "dataset_impl.h"
#include "negbench/plugin.h"
#include "sha256.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Defaults: the synthetic set (2000 users, 1000 items, rank 8, ~30 per
 * user, pop_skew 0.8, test_share 0.2), format AUTO, split GIVEN, ratio
 * 0.8/0.1/0.1, cutoff NAN with quantile 0.8, valid_share 0.1 (used by the
 * synthetic set, GIVEN without a valid file, and TIME_GLOBAL), min_rating
 * -INFINITY (keep all), seed 2020. */
void data_spec_defaults(nb_data_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->synthetic = 1;
    spec->syn_users = 2000;
    spec->syn_items = 1000;
    spec->syn_rank = 8;
    spec->syn_per_user = 30;
    spec->syn_pop_skew = 0.8;
    spec->syn_test_share = 0.2;
    spec->format = NB_FMT_AUTO;
    spec->min_rating = -INFINITY;
    spec->split = NB_SPLIT_GIVEN;
    spec->ratio[0] = 0.8;
    spec->ratio[1] = 0.1;
    spec->ratio[2] = 0.1;
    spec->cutoff = NAN;
    spec->cutoff_quantile = 0.8;
    spec->valid_share = 0.1;
    spec->seed = 2020;
}

/* Free the spec's path strings (the spec itself is the caller's). */
void data_spec_free(nb_data_spec *spec)
{
    free(spec->train_path);
    free(spec->valid_path);
    free(spec->test_path);
    spec->train_path = spec->valid_path = spec->test_path = NULL;
}

void csr_free(nb_csr *m)
{
    free(m->ptr);
    free(m->idx);
    memset(m, 0, sizeof *m);
}

int csr_has(const nb_csr *m, int32_t r, int32_t i)
{
    if (!m->ptr || r < 0 || r >= m->n_rows) return 0;
    int64_t lo = m->ptr[r], hi = m->ptr[r + 1];
    while (lo < hi) {
        int64_t mid = (lo + hi) >> 1;
        if (m->idx[mid] < i) lo = mid + 1; else hi = mid;
    }
    return lo < m->ptr[r + 1] && m->idx[lo] == i;
}

void dataset_free(nb_dataset *ds)
{
    csr_free(&ds->train);
    csr_free(&ds->valid);
    csr_free(&ds->test);
    csr_free(&ds->train_by_item);
    free(ds->source);
    memset(ds, 0, sizeof *ds);
}

static const char *format_name(int f)
{
    static const char *n[] = {"auto", "lines", "inter", "csv"};
    return f >= 0 && f < 4 ? n[f] : "?";
}

static const char *split_kind_name(int k)
{
    static const char *n[] = {"given", "ratio", "time_global", "time_user"};
    return k >= 0 && k < 4 ? n[k] : "?";
}

/* See dataset.h: the same bytes as load_files / synthetic_generate hash. */
int dataset_checksum(const nb_data_spec *spec, char out[65], char **err)
{
    if (spec->synthetic) {
        char *canon = synthetic_canonical(spec);
        sha256_hex(canon, strlen(canon), out);
        free(canon);
        return NB_OK;
    }
    const char *paths[3] = {spec->train_path, spec->valid_path, spec->test_path};
    nb_sha256 sh;
    sha256_init(&sh);
    if (!paths[0] || !*paths[0])
        return nb_fail(err, NB_EINVAL, "data: no train_path given and synthetic is off");
    for (int p = 0; p < 3; p++) {
        char *buf = NULL;
        size_t len = 0;
        if (!paths[p]) continue;
        if (nb_read_file(paths[p], &buf, &len, err) != 0) return NB_EINVAL;
        sha256_update(&sh, buf, len);
        free(buf);
    }
    sha256_final_hex(&sh, out);
    return NB_OK;
}

/* Read, hash and parse the spec's files, then split. */
static int load_files(const nb_data_spec *spec, nb_dataset *out, char **err)
{
    const char *paths[3] = {spec->train_path, spec->valid_path, spec->test_path};
    const char *role[3] = {"train", "valid", "test"};
    nb_rows rows[3];
    nb_load_ctx ctx;
    nb_sha256 sh;
    char *buf = NULL, *note = NULL, *rerr = NULL;
    int rc = NB_OK;

    memset(rows, 0, sizeof rows);
    memset(&ctx, 0, sizeof ctx);
    tokmap_init(&ctx.users);
    tokmap_init(&ctx.items);
    ctx.max_user = ctx.max_item = -1;
    ctx.min_rating = spec->min_rating;
    ctx.format = spec->format;
    sha256_init(&sh);
    if (!paths[0] || !*paths[0]) {
        rc = nb_fail(err, NB_EINVAL, "data: no train_path given and synthetic is off");
        goto out;
    }
    for (int p = 0; p < 3; p++) {
        size_t len = 0;
        if (!paths[p]) continue;
        if (nb_read_file(paths[p], &buf, &len, &rerr) != 0) {
            rc = nb_fail(err, NB_EINVAL, "%s (%s file)", rerr, role[p]);
            goto out;
        }
        if (ctx.format == NB_FMT_AUTO) ctx.format = load_detect_format(paths[p], buf, len);
        sha256_update(&sh, buf, len);
        rc = load_parse(&ctx, paths[p], buf, len, &rows[p], err);
        free(buf);
        buf = NULL;
        if (rc) goto out;
    }
    if (ctx.format == NB_FMT_LINES) {
        ids_settle_lines(&ctx, rows, 3, &out->n_users, &out->n_items, &note);
    } else {
        out->n_users = ctx.users.n;
        out->n_items = ctx.items.n;
    }
    out->n_rows_read = ctx.n_rows_read;
    rc = split_apply(spec, rows, paths, out, &note, err);
    if (rc) goto out;
    sha256_final_hex(&sh, out->checksum);
    out->source = nb_strf("%s %s%s%s%s%s; split %s%s%s; %lld rows read",
                          format_name(ctx.format), paths[0], paths[1] ? " + " : "",
                          paths[1] ? paths[1] : "", paths[2] ? " + " : "",
                          paths[2] ? paths[2] : "", split_kind_name(spec->split),
                          note ? "; " : "", note ? note : "", (long long)ctx.n_rows_read);
    if (ctx.n_rows_dropped) {
        char *s = nb_strf("%s, %lld dropped (rating < %g)", out->source,
                          (long long)ctx.n_rows_dropped, spec->min_rating);
        free(out->source);
        out->source = s;
    }
out:
    for (int p = 0; p < 3; p++) rows_free(&rows[p]);
    tokmap_free(&ctx.users);
    tokmap_free(&ctx.items);
    free(ctx.lone_users);
    free(buf);
    free(note);
    free(rerr);
    return rc;
}

int dataset_load(const nb_data_spec *spec, nb_dataset *out, char **err)
{
    int rc;
    memset(out, 0, sizeof *out);
    rc = spec->synthetic ? synthetic_generate(spec, out, err) : load_files(spec, out, err);
    if (rc) {
        dataset_free(out);
        return rc;
    }
    csr_transpose(&out->train, out->n_items, &out->train_by_item);
    return NB_OK;
}

int dataset_check_negatives(const nb_data_spec *spec, const nb_dataset *ds, char **err)
{
    int32_t first = -1, n_full = 0;
    for (int32_t u = 0; u < ds->train.n_rows; u++)
        if (ds->train.ptr[u + 1] - ds->train.ptr[u] >= ds->n_items) {
            if (first < 0) first = u;
            n_full++;
        }
    if (first < 0) return NB_OK;
    return nb_fail(err, NB_EINVAL,
                   "%s: user %d has every one of the %d items as a training positive, so no "
                   "negative can be drawn for it (%d such user%s)",
                   spec->synthetic ? "synthetic data" : spec->train_path, first, ds->n_items,
                   n_full, n_full == 1 ? "" : "s");
}

/* n with thousands separators into buf. */
static const char *grouped(int64_t n, char buf[32])
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%lld", (long long)(n < 0 ? -n : n)), o = 0;
    if (n < 0) buf[o++] = '-';
    for (int k = 0; k < len; k++) {
        if (k > 0 && (len - k) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[k];
    }
    buf[o] = '\0';
    return buf;
}

void dataset_describe(const nb_dataset *ds, FILE *out)
{
    char a[32], b[32], c[32], e[32];
    int64_t tot = ds->train.nnz + ds->valid.nnz + ds->test.nnz, empty = 0;
    for (int32_t u = 0; u < ds->train.n_rows; u++) empty += ds->train.ptr[u + 1] == ds->train.ptr[u];
    double cells = (double)ds->n_users * (double)ds->n_items;
    double nu = ds->n_users > 0 ? (double)ds->n_users : 1;
    fprintf(out, "%-14s %s\n", "source", ds->source ? ds->source : "?");
    fprintf(out, "%-14s sha256:%s\n", "checksum", ds->checksum);
    fprintf(out, "%-14s %s (%s with no train items)\n", "users", grouped(ds->n_users, a),
            grouped(empty, b));
    fprintf(out, "%-14s %s\n", "items", grouped(ds->n_items, a));
    fprintf(out, "%-14s train %s, valid %s, test %s, total %s\n", "interactions",
            grouped(ds->train.nnz, a), grouped(ds->valid.nnz, b), grouped(ds->test.nnz, c),
            grouped(tot, e));
    fprintf(out, "%-14s %.4f%% (total / users x items)\n", "density",
            cells > 0 ? 100.0 * (double)tot / cells : 0.0);
    fprintf(out, "%-14s %.2f train, %.2f total\n", "per user", (double)ds->train.nnz / nu,
            (double)tot / nu);
    fprintf(out, "%-14s %s collapsed\n", "duplicates", grouped(ds->n_duplicates, a));
    fprintf(out, "%-14s %s\n", "rows read", grouped(ds->n_rows_read, a));
}
