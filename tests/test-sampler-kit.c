/*
 * test-sampler-kit.c - negbench/sampler_kit.h on in-test kit samplers:
 * the default pick is the first argmax and a custom pick (argmin) gets the
 * candidates' scores and the positive's stream; a custom draw is used;
 * statistics take the largest and smallest score whatever the pick; no
 * allocation per batch; a bad pick, a missing M parameter and M on a
 * one-candidate sampler are errors.
 *
 * Threads. The kit's parallel loop writes only slot b of its per-positive
 * arrays and its own thread's scratch row, its counters are OpenMP
 * reductions, and a user without negatives is found after the loop, from
 * the picks (rns.c and dns.c used to set one shared flag from every
 * thread). ThreadSanitizer cannot see through an uninstrumented libgomp,
 * so this test checks the consequences instead: 1 and 4 threads give the
 * same picks, vectors and statistics, bit for bit, and the failure names
 * the user of the first failing positive in batch order, every time (50
 * repetitions with 4 threads; a flag written by every thread names any of
 * them).
 */
#include "negbench/sampler_kit.h"
#include "tap/tap.h"
#include "testhost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { NU = 40, NI = 60, D = 8, B = 256, M = 6 };

static int64_t uptr[NU + 1];
static int32_t uitems[NU * NI];
static float U[NU * D], I[NI * D];
static nb_train tr;

static const nb_param_spec m_params[] = {
    { "M", NB_PARAM_INT, "6", 1, 100, NULL, "candidates" },
    NB_PARAM_END
};
static const nb_param_spec no_params[] = { NB_PARAM_END };

/* argmin of the scores (first on ties). */
static int32_t pick_min(const void *data, const float *score, int32_t m, nb_rng *r)
{
    (void)data; (void)r;
    int32_t k = 0;
    for (int32_t j = 1; j < m; j++)
        if (score[j] < score[k]) k = j;
    return k;
}

static int32_t pick_bad(const void *data, const float *score, int32_t m, nb_rng *r)
{
    (void)data; (void)score; (void)r;
    return m;
}

/* Uniform draws, but none for users 25 and up (they have "no negative"). */
static int32_t draw_some(const void *data, nb_rng *r, const nb_train *t, int32_t u,
                         nb_draw_stats *st)
{
    (void)data;
    return u >= 25 ? -1 : nb_draw_uniform(r, t, u, st);
}

static const nb_kit_spec max_spec = { .m_param = "M" };
static const nb_kit_spec min_spec = { .m_param = "M", .pick = pick_min };
static const nb_kit_spec bad_spec = { .m_param = "M", .pick = pick_bad };
static const nb_kit_spec some_spec = { .m_param = "M", .draw = draw_some };
static const nb_kit_spec lost_spec = { .m_param = "K" };
static const nb_kit_spec one_spec = { .m_param = NULL };
NB_KIT_SAMPLER(kmax, max_spec, m_params, "1", "argmax")
NB_KIT_SAMPLER(kmin, min_spec, m_params, "1", "argmin")
NB_KIT_SAMPLER(kbad, bad_spec, m_params, "1", "bad pick")
NB_KIT_SAMPLER(ksome, some_spec, m_params, "1", "no draw for some users")
NB_KIT_SAMPLER(klost, lost_spec, m_params, "1", "M parameter not in the schema")
NB_KIT_SAMPLER_ONE(kone, max_spec, m_params, "1", "one candidate, but an M parameter")
NB_KIT_SAMPLER_ONE(kuni, one_spec, no_params, "1", "uniform")

/* The result of one negatives() call. */
typedef struct result {
    int rc;
    char *err;
    int32_t item[B], reg[B];
    float vec[B * D];
    int n_stats;
    double stats[3];
} result;

static nb_view view;
static int32_t bu[B], bp[B];

/* init with threads, one batch, statistics, free. */
static void run(const nb_plugin_desc *d, int threads, result *res)
{
    const nb_sampler_vt *vt = d->vtable;
    nb_host h = *testhost();
    h.threads = threads;
    nb_value v[1] = { { .i = M } };
    void *st = NULL;
    memset(res, 0, sizeof *res);
    nb_batch batch = { .size = B, .users = bu, .pos = bp, .epoch = 2, .first = 512, .seed = 77 };
    nb_negatives out = { .vec = res->vec, .item = res->item, .reg_rows = 1, .reg_items = res->reg };
    if ((res->rc = vt->init(&h, v, &tr, D, B, 1, &st, &res->err)) != NB_OK) return;
    long a0 = testhost_allocs();
    res->rc = vt->negatives(st, &batch, &view, &out, &res->err);
    if (testhost_allocs() != a0) res->rc = -99;
    const nb_stat *s = NULL;
    vt->epoch_stats(st, &s, &res->n_stats);
    for (int k = 0; k < res->n_stats && k < 3; k++) res->stats[k] = s[k].value;
    vt->free(st);
}

static float score(int32_t u, int32_t i)
{
    float s = 0;
    for (int k = 0; k < D; k++) s += U[u * D + k] * I[i * D + k];
    return s;
}

/* For positive b: the candidates the stream gives, and the index the
 * argmax (want_min 0) or argmin (1) picks by brute force. */
static int32_t brute(int b, int want_min)
{
    nb_rng r;
    nb_draw_stats ds = { 0, 0 };
    nb_rng_seed(&r, 77, 2, (uint64_t)(512 + b));
    int32_t best = -1;
    float bs = 0;
    for (int m = 0; m < M; m++) {
        int32_t i = nb_draw_uniform(&r, &tr, bu[b], &ds);
        float s = score(bu[b], i);
        if (best < 0 || (want_min ? s < bs : s > bs)) best = i, bs = s;
    }
    return best;
}

int main(void)
{
    tap_plan(0);
    int64_t n = 0;
    for (int u = 0; u < NU; u++) { /* user u likes items i with (i + u) % 3 == 0 */
        uptr[u] = n;
        for (int i = 0; i < NI; i++)
            if ((i + u) % 3 == 0) uitems[n++] = i;
    }
    uptr[NU] = n;
    tr = (nb_train){ .n_users = NU, .n_items = NI, .n_pairs = n, .user_ptr = uptr,
                     .user_items = uitems };
    nb_rng r;
    nb_rng_seed(&r, 3, 0, 0);
    for (int k = 0; k < NU * D; k++) U[k] = (float)(nb_rng_uniform(&r) - 0.5);
    for (int k = 0; k < NI * D; k++) I[k] = (float)(nb_rng_uniform(&r) - 0.5);
    view = (nb_view){ .n_users = NU, .n_items = NI, .dim = D, .user = U, .item = I,
                      .user_layers = U, .item_layers = I, .user_ego = U, .item_ego = I };
    for (int b = 0; b < B; b++) {
        bu[b] = (b * 7) % NU;
        bp[b] = uitems[uptr[bu[b]]];
    }

    static result a, c;
    const nb_plugin_desc *picks[2] = { &kmax_desc, &kmin_desc };
    for (int p = 0; p < 2; p++) {
        run(picks[p], 1, &a);
        run(picks[p], 4, &c);
        ok(a.rc == NB_OK && c.rc == NB_OK, "%s: negatives with 1 and 4 threads, no allocation",
           picks[p]->name);
        int wrong = 0;
        for (int b = 0; b < B; b++) wrong += a.item[b] != brute(b, p) || a.reg[b] != a.item[b];
        is_int(wrong, 0, "%s: every pick is the brute-force %s of the stream's %d candidates",
               picks[p]->name, p ? "argmin" : "argmax", M);
        ok(!memcmp(a.item, c.item, sizeof a.item) && !memcmp(a.vec, c.vec, sizeof a.vec),
           "%s: 1 and 4 threads pick the same items and vectors", picks[p]->name);
        ok(a.n_stats == 3 && c.n_stats == 3 && !memcmp(a.stats, c.stats, sizeof a.stats),
           "%s: ... and the same statistics, bit for bit", picks[p]->name);
        ok(a.stats[1] > a.stats[2],
           "%s: cand_max_norm %.3f > cand_min_norm %.3f", picks[p]->name, a.stats[1], a.stats[2]);
    }
    /* the statistics do not depend on the pick */
    static result mx;
    run(&kmax_desc, 1, &mx);
    ok(!memcmp(mx.stats, a.stats, sizeof a.stats), "the statistics do not depend on the pick");

    run(&kuni_desc, 4, &a);
    int pos = 0;
    for (int b = 0; b < B; b++) pos += nb_train_has(&tr, bu[b], a.item[b]);
    ok(a.rc == NB_OK && pos == 0 && a.n_stats == 1, "one-candidate kit: no positive, reject_rate only");

    /* nb_dot4_f32 and nb_first_pass_range: the bits of nb_dot_f32, one row
     * at a time, for widths on and off the four-lane path */
    {
        static float rows[7 * 67], va[67];
        nb_rng g;
        nb_rng_seed(&g, 11, 0, 0);
        for (int k = 0; k < 7 * 67; k++) rows[k] = (float)(nb_rng_uniform(&g) - 0.5);
        for (int k = 0; k < 67; k++) va[k] = (float)(nb_rng_uniform(&g) - 0.5);
        const int32_t widths[4] = {64, 12, 67, 3};
        int bad = 0;
        for (int w = 0; w < 4; w++) {
            const int32_t d = widths[w];
            const float *r4[4] = {rows + 2 * d, rows, rows + 5 * d, rows + 2 * d};
            double x[4];
            nb_dot4_f32(va, r4, d, x);
            for (int q = 0; q < 4; q++) bad += x[q] != nb_dot_f32(va, r4[q], d);
            for (int32_t m = 1; m <= 7; m++) { /* 1..7 candidates: partial groups */
                const int32_t c7[7] = {3, 0, 6, 2, 2, 5, 1};
                double got_hi, got_lo, hi = -INFINITY, lo = INFINITY;
                nb_first_pass_range(va, rows, c7, m, d, &got_hi, &got_lo);
                for (int32_t q = 0; q < m; q++) {
                    double v = nb_dot_f32(va, rows + (int64_t)c7[q] * d, d);
                    if (v > hi) hi = v;
                    if (v < lo) lo = v;
                }
                bad += got_hi != hi || got_lo != lo;
            }
        }
        is_int(bad, 0, "nb_dot4_f32 and nb_first_pass_range give nb_dot_f32's bits "
                       "(d 64, 12, 67, 3; 1 to 7 candidates)");
    }

    /* failures */
    int same = 1;
    int32_t first = -1;
    for (int b = 0; b < B && first < 0; b++)
        if (bu[b] >= 25) first = bu[b];
    char want[96];
    snprintf(want, sizeof want, "ksome: user %d has every item as a positive", first);
    for (int rep = 0; rep < 50; rep++) {
        run(&ksome_desc, 4, &a);
        same &= a.rc == NB_EINVAL && a.err && !strcmp(a.err, want);
        free(a.err);
    }
    ok(same, "a failed draw names the first failing positive's user, 50 times of 50 (%s)", want);
    run(&kbad_desc, 2, &a);
    ok(a.rc == NB_EINVAL && a.err && strstr(a.err, "pick returned an index outside [0, 6)"),
       "a pick outside [0, M) is an error (%s)", a.err ? a.err : "");
    free(a.err);
    run(&klost_desc, 1, &a);
    ok(a.rc == NB_EINVAL && a.err && strstr(a.err, "bad candidate parameter \"K\""),
       "an m_param missing from the schema is an init error (%s)", a.err ? a.err : "");
    free(a.err);
    run(&kone_desc, 1, &a);
    ok(a.rc == NB_EINVAL && a.err && strstr(a.err, "kone: bad candidate parameter"),
       "NB_KIT_SAMPLER_ONE with an m_param is an init error");
    free(a.err);
    return tap_done();
}
