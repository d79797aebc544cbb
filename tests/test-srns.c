/*
 * test-srns.c - the SRNS sampler plugin: the selection criterion on a
 * hand-computed case (pure functions and through the vtable with a poked
 * state), population std, warm-up scaling, alpha < 0, the memory refresh
 * (distinct indices, softmax(s/tau) sampling, top-S1 for tiny tau), the
 * pool/snapshot shift, and a multi-epoch smoke run through the vtable
 * (determinism across thread counts, no positive chosen, statistics, no
 * allocation per batch). The plugin source is included (one translation
 * unit) to reach its state; do not link srns.c as well.
 */
#include "../plugins/samplers/srns.c"

#include <stdio.h>
#include <stdlib.h>

#include "tap/tap.h"
#include "testhost.h"

/* ---------------------------------------------------------------------
 * Hand case (used twice). Positive score s_p = 1; three memory candidates
 * with current scores s = (1.5, 1.2, 0.0); history T = 3 snapshots with the
 * positive at 0 and the candidates at
 *   j0: (0, 0, 0)   l = (.5, .5, .5)                 std 0
 *   j1: (2, -2, 0)  l = (.880797, .119203, .5)       mean .5,
 *                   var = 2 * .380797^2 / 3 = .096671, std .3109195
 *   j2: (4, -4, 4)  l = (.982014, .017986, .982014)  mean .660671,
 *                   var = (2 * .321343^2 + .642685^2) / 3 = .206522,
 *                   std .4544470 (the sample std would be .5566)
 * sigmoid(s - s_p) = (.622459, .549834, .268941). With alpha = 5:
 *   warm 0   (epoch 0):              (.622459, .549834, .268941) -> j0
 *   warm 0.1 (epoch 5, warmup 50):   (.622459, .705294, .496165) -> j1
 *   warm 1   (epoch 60, warmup 50):  (.622459, 2.104432, 2.541176) -> j2
 *   alpha -1 (any epoch): argmax std -> j2
 * ------------------------------------------------------------------- */
static const float hand_s[3] = { 1.5f, 1.2f, 0.0f };
static const float hand_hc[3 * 3] = { 0, 2, 4, /* t = 0: j0 j1 j2 */
                                      0, -2, -4, /* t = 1 */
                                      0, 0, 4 }; /* t = 2 */
static const float hand_hp[3] = { 0, 0, 0 };

static void test_select_pure(void)
{
    double sd;
    is_close(srns_hist_std(hand_hc + 0, 3, hand_hp, 3), 0.0, 1e-15, 0, "std j0 = 0");
    is_close(srns_hist_std(hand_hc + 1, 3, hand_hp, 3), 0.3109195121962096, 1e-12, 0,
             "std j1 = .3109195 (population)");
    is_close(srns_hist_std(hand_hc + 2, 3, hand_hp, 3), 0.45444695941497837, 1e-12, 0,
             "std j2 = .4544470 (population, not sample .5566)");
    is_close(srns_hist_std(hand_hc + 2, 3, hand_hp, 1), 0.0, 0, 0, "T = 1 gives std 0");
    is_close(srns_warm(0, 50), 0.0, 0, 0, "warm(0, 50) = 0");
    is_close(srns_warm(5, 50), 0.1, 1e-15, 0, "warm(5, 50) = 0.1");
    is_close(srns_warm(60, 50), 1.0, 0, 0, "warm(60, 50) = 1 (capped)");
    is_close(srns_warm(3, 0), 1.0, 0, 0, "warmup 0 -> 1");
    is_int(srns_select(3, 3, 1.0, hand_s, hand_hc, hand_hp, 5.0, 0.0, &sd), 0,
           "warm 0: hardest by score (j0)");
    is_close(sd, 0.0, 1e-15, 0, "std of chosen j0");
    is_int(srns_select(3, 3, 1.0, hand_s, hand_hc, hand_hp, 5.0, 0.1, &sd), 1,
           "warm 0.1: j1");
    is_close(sd, 0.3109195121962096, 1e-12, 0, "std of chosen j1");
    is_int(srns_select(3, 3, 1.0, hand_s, hand_hc, hand_hp, 5.0, 1.0, &sd), 2,
           "warm 1: j2");
    is_int(srns_select(3, 3, 1.0, hand_s, hand_hc, hand_hp, -1.0, 0.0, &sd), 2,
           "alpha < 0: argmax std even at warm 0");
    static const float eq_s[3] = { 0.3f, 0.3f, 0.3f };
    static const float eq_h[3] = { 1, 1, 1 };
    is_int(srns_select(3, 1, 0.0, eq_s, eq_h, hand_hp, 5.0, 1.0, &sd), 0, "ties -> first index");
}

static int distinct(const int32_t *m, int n, int32_t V)
{
    for (int a = 0; a < n; a++) {
        if (m[a] < 0 || m[a] >= V) return 0;
        for (int b = 0; b < a; b++)
            if (m[a] == m[b]) return 0;
    }
    return 1;
}

static void test_refresh_pure(void)
{
    nb_rng r;
    nb_rng_seed(&r, 11, 0, 0);
    int32_t idx[4 + 32], mem[4];
    float s[36];
    double w[36];
    int new_ok = 1, keep_ok = 1, from_ok = 1;
    for (int trial = 0; trial < 200; trial++) {
        idx[0] = 3; idx[1] = 7; idx[2] = 0; idx[3] = 9;
        srns_draw_new(&r, 4, 32, 10, idx);
        for (int k = 4; k < 36; k++)
            if (idx[k] < 0 || idx[k] >= 10 || idx[k] == 3 || idx[k] == 7 || idx[k] == 0 ||
                idx[k] == 9) new_ok = 0;
        for (int k = 0; k < 36; k++) s[k] = (float)(nb_rng_uniform(&r) * 4 - 2);
        srns_keep(&r, 4, 36, 1.0, idx, s, w, mem);
        if (!distinct(mem, 4, 10)) keep_ok = 0;
        for (int j = 0; j < 4; j++) {
            int found = 0;
            for (int k = 0; k < 36; k++) found |= idx[k] == mem[j];
            if (!found) from_ok = 0;
        }
    }
    ok(new_ok, "new indices in [0,V) and never in the old memory");
    ok(keep_ok, "refresh keeps S1 distinct indices (with repeated new ones)");
    ok(from_ok, "kept indices come from old + new");

    /* tiny tau and separated scores: the top-S1 scored indices are kept */
    int32_t id2[8] = { 10, 11, 12, 13, 20, 21, 22, 23 };
    float s2[8] = { 0.1f, 3.0f, -1.0f, 2.0f, 5.0f, -4.0f, 4.0f, 0.0f };
    int top_ok = 1;
    for (int trial = 0; trial < 50; trial++) {
        srns_keep(&r, 4, 8, 1e-6, id2, s2, w, mem);
        /* top 4 scores: 5 (20), 4 (22), 3 (11), 2 (13) */
        int have = 0;
        for (int j = 0; j < 4; j++)
            have += mem[j] == 20 || mem[j] == 22 || mem[j] == 11 || mem[j] == 13;
        if (have != 4 || mem[0] != 20) top_ok = 0;
    }
    ok(top_ok, "tau -> 0 keeps the top-S1 scored indices");

    /* duplicates among the new ones: a repeated index is kept once */
    int32_t id3[6] = { 0, 1, 5, 5, 5, 5 };
    float s3[6] = { 0, 0, 9, 9, 9, 9 };
    srns_keep(&r, 2, 6, 1e-3, id3, s3, w, mem);
    ok(mem[0] == 5 && (mem[1] == 0 || mem[1] == 1), "repeated new index kept once (%d %d)",
       mem[0], mem[1]);

    /* S1 = 1: P(k) = softmax(s / tau); s = (0, 1, 2), tau = 2 */
    int32_t id4[3] = { 0, 1, 2 };
    float s4[3] = { 0, 1, 2 };
    long h[3] = { 0, 0, 0 };
    for (int trial = 0; trial < 200000; trial++) {
        srns_keep(&r, 1, 3, 2.0, id4, s4, w, mem);
        h[mem[0]]++;
    }
    double z = 1 + exp(0.5) + exp(1.0), chi2 = 0;
    for (int k = 0; k < 3; k++) {
        double e = 200000 * exp(k * 0.5) / z;
        chi2 += (h[k] - e) * (h[k] - e) / e;
    }
    ok(chi2 < 25, "refresh samples with softmax(s/tau) (chi2 %.2f, df 2)", chi2);
}

/* ---------------------------------------------------------------------
 * Vtable fixtures.
 * ------------------------------------------------------------------- */
typedef struct toy {
    nb_train t;
    int64_t uptr[64], iptr[128];
    int32_t uit[1024], ius[1024];
} toy;

/* Build CSR/CSC from a dense 0/1 matrix has[U][I]. */
static void toy_build(toy *y, int32_t U, int32_t I, const uint8_t *has)
{
    static int32_t pairs[1024][2];
    int n = 0;
    for (int32_t u = 0; u < U; u++)
        for (int32_t i = 0; i < I; i++)
            if (has[u * I + i]) { pairs[n][0] = u; pairs[n][1] = i; n++; }
    memset(y, 0, sizeof *y);
    test_train_from_pairs(U, I, (const int32_t (*)[2])pairs, n, 0, y->uptr, y->uit, y->iptr,
                          y->ius, &y->t);
}

static void set_values(nb_value *v, int S1, int S2div, int V, double alpha, int warmup,
                       double tau, int hist)
{
    v[P_S1].i = S1;
    v[P_S2DIV].i = S2div;
    v[P_V].i = V;
    v[P_ALPHA].f = alpha;
    v[P_WARMUP].i = warmup;
    v[P_TAU].f = tau;
    v[P_HISTORY].i = hist;
}

static void test_descriptor(void)
{
    const nb_plugin_desc *d = nb_plugin_descriptor(0);
    is_string(d->name, "srns", "descriptor name");
    ok(d->kind == NB_KIND_SAMPLER && nb_plugin_descriptor(1) == NULL, "one sampler descriptor");
    static const char *names[] = { "S1", "S2_div_S1", "V", "alpha", "warmup", "tau", "history" };
    int good = 1;
    for (int k = 0; k < 7; k++)
        if (!d->params[k].name || strcmp(d->params[k].name, names[k])) good = 0;
    ok(good && d->params[7].name == NULL, "parameter schema in order, terminated");
    const nb_sampler_vt *vt = d->vtable;
    ok(vt->init && vt->reg_rows && vt->negatives && vt->backward && vt->free && vt->epoch_begin &&
       vt->epoch_stats, "callbacks present");
}

/* The hand case through the vtable: 2 users, 6 items, d = 2. User 0 has
 * positive item 0 = (1, 7) and embedding (1, 0), so s_p = 1; its pool is
 * (5, 2, 3, 4) and memory (1, 2, 3) -> items 2 = (1.5, 0), 3 = (1.2, -3),
 * 4 = (0, 5): current scores (1.5, 1.2, 0). The history is poked to the
 * hand values above, so epochs 0 / 5 / 60 choose items 2 / 3 / 4. */
static void test_hand_vtable(void)
{
    const nb_sampler_vt *vt = nb_plugin_descriptor(0)->vtable;
    uint8_t has[2 * 6] = { 1, 0, 0, 0, 0, 0, /* user 0: {0} */
                           0, 1, 0, 0, 0, 0 }; /* user 1: {1} */
    toy y;
    toy_build(&y, 2, 6, has);
    nb_value v[7];
    set_values(v, 3, 1, 4, 5.0, 50, 1.0, 5);
    float users[4] = { 1, 0, 0, 1 };
    float items[12] = { 1, 7, 0, 1, 1.5f, 0, 1.2f, -3, 0, 5, 2, 2 };
    nb_view view = { .n_users = 2, .n_items = 6, .dim = 2, .user = users, .item = items,
                     .user_layers = users, .item_layers = items, .user_ego = users,
                     .item_ego = items };
    void *vs = NULL;
    char *err = NULL;
    if (vt->init(testhost(), v, &y.t, 2, 4, 3, &vs, &err) != NB_OK) {
        diag("init: %s", err);
        free(err);
        ok(0, "hand init");
        return;
    }
    srns_state *s = vs;
    is_int(vt->epoch_begin(s, 0, &view), NB_OK, "epoch_begin(0)");
    is_int(s->slot_n[s->head], 1, "first epoch: one snapshot");
    /* poke: pool, memory, T = 3 snapshots, positive history */
    int32_t *cur = s->pool + (int64_t)s->head * s->UV;
    cur[0] = 5; cur[1] = 2; cur[2] = 3; cur[3] = 4;
    s->slot_n[s->head] = 3;
    static const float hp_shift[3] = { 1.0f, -1.0f, 0.5f };
    for (int t = 0; t < 3; t++) {
        int32_t id = t; /* buffers 0..2 are still free after one epoch_begin */
        s->slot_snap[s->head * s->H + t] = id;
        float *sn = s->snap + (int64_t)id * s->UV;
        sn[0] = 99; /* pool position 0 (item 5) is outside the memory */
        for (int j = 0; j < 3; j++) sn[1 + j] = hand_hc[t * 3 + j] + hp_shift[t];
    }
    /* The positive's window holds hp_shift at the last three ring slots
     * (7 snapshots taken: slots 2, 3, 4, then 0, 1 wrapped; the last three
     * are slots 4, 0, 1, oldest first); the candidates are shifted by the
     * same amounts, so l_{j,t} stays as in the hand case only when the
     * plugin aligns positive and candidate snapshots in time. */
    s->pos_count = 7;
    for (int k = 0; k < 5; k++) s->pos_hist[0 * s->H + k] = 50.0f; /* stale slots */
    s->pos_hist[0 * s->H + 4] = hp_shift[0];
    s->pos_hist[0 * s->H + 0] = hp_shift[1];
    s->pos_hist[0 * s->H + 1] = hp_shift[2];
    static const int32_t want_item[3] = { 2, 3, 4 };
    static const int32_t epochs[3] = { 0, 5, 60 };
    static const double want_std[3] = { 0.0, 0.3109195121962096, 0.45444695941497837 };
    for (int c = 0; c < 3; c++) {
        int32_t *m = s->mem;
        m[0] = 1; m[1] = 2; m[2] = 3;
        int32_t bu[1] = { 0 }, bp[1] = { 0 }, oi[1], orr[1];
        float ov[2];
        nb_negatives out = { .vec = ov, .item = oi, .reg_rows = 1, .reg_items = orr };
        nb_batch b = { .size = 1, .users = bu, .pos = bp, .epoch = epochs[c], .seed = 5 };
        is_int(vt->negatives(s, &b, &view, &out, &err), NB_OK, "negatives epoch %d", epochs[c]);
        is_int(oi[0], want_item[c], "epoch %d chooses item %d", epochs[c], want_item[c]);
        ok(ov[0] == items[2 * oi[0]] && ov[1] == items[2 * oi[0] + 1] && orr[0] == oi[0],
           "n~ and reg_items are the chosen item's");
        ok(distinct(s->mem, 3, 4), "memory refreshed to 3 distinct indices");
        const nb_stat *st;
        int ns;
        vt->epoch_stats(s, &st, &ns);
        is_int(ns, 4, "four statistics");
        is_string(st[3].name, "mean_std", "mean_std name");
        is_close(st[3].value, want_std[c], 1e-6, 0, "mean_std = chosen std");
        is_close(st[1].value, 1.0, 0, 0, "cand_max_norm of a one-positive batch");
        is_close(st[2].value, 0.0, 0, 0, "cand_min_norm of a one-positive batch");
    }
    /* alpha < 0 through the vtable at epoch 0 -> item 4 (argmax std) */
    s->alpha = -1.0;
    s->mem[0] = 1; s->mem[1] = 2; s->mem[2] = 3;
    int32_t bu[1] = { 0 }, bp[1] = { 0 }, oi[1], orr[1];
    float ov[2];
    nb_negatives out = { .vec = ov, .item = oi, .reg_rows = 1, .reg_items = orr };
    nb_batch b = { .size = 1, .users = bu, .pos = bp, .epoch = 0, .seed = 5 };
    vt->negatives(s, &b, &view, &out, &err);
    is_int(oi[0], 4, "alpha < 0: argmax std through the vtable");
    /* a user twice in one batch is refreshed once, on its first positive's
     * stream: replay that refresh by hand and compare (10 seeds) */
    int once = 1;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        int32_t bu2[2] = { 0, 0 }, bp2[2] = { 0, 0 }, oi2[2], orr2[2], want[3], idx[6];
        float ov2[4], sc[6];
        double w[6];
        nb_negatives out2 = { .vec = ov2, .item = oi2, .reg_rows = 1, .reg_items = orr2 };
        nb_batch b2 = { .size = 2, .users = bu2, .pos = bp2, .epoch = 2, .first = 40,
                        .seed = seed };
        s->mem[0] = 1; s->mem[1] = 2; s->mem[2] = 3;
        nb_rng r;
        nb_rng_seed(&r, seed, 2, 40);
        idx[0] = 1; idx[1] = 2; idx[2] = 3;
        srns_draw_new(&r, 3, 3, 4, idx);
        for (int k = 0; k < 6; k++) {
            int32_t it = cur[idx[k]];
            sc[k] = users[0] * items[2 * it] + users[1] * items[2 * it + 1];
        }
        s->tau = 1.0;
        srns_keep(&r, 3, 6, 1.0, idx, sc, w, want);
        vt->negatives(s, &b2, &view, &out2, &err);
        if (memcmp(want, s->mem, sizeof want)) once = 0;
    }
    ok(once, "a user twice in a batch is refreshed once (first positive's stream)");
    /* a pair that is not in train is refused with a message */
    bp[0] = 3;
    int rc = vt->negatives(s, &b, &view, &out, &err);
    ok(rc == NB_EINVAL && err && strstr(err, "not a training pair"), "non-training pair refused");
    free(err);
    vt->free(s);
}

/* Smoke run: U = 24, I = 40, d = 4, ~6 positives per user, V = 12, S1 = 4,
 * history 3, 6 epochs of 144 positives in batches of 16; the view drifts
 * each epoch so the score history has a spread. */
typedef struct smoke {
    int32_t chosen[6][200];
    double stat[6][4];
    int no_pos, mem_ok, shift_ok, T_ok, snap_ok;
    long allocs;
} smoke;

static void smoke_run(const toy *y, smoke *o, int threads)
{
    static nb_host hosts[3];
    hosts[threads] = *testhost();
    hosts[threads].threads = threads;
    const nb_sampler_vt *vt = nb_plugin_descriptor(0)->vtable;
    enum { U = 24, I = 40, D = 4, BS = 16, E = 6 };
    nb_value v[7];
    set_values(v, 4, 2, 12, 5.0, 2, 0.5, 3);
    static float users[U * D], items[I * D], gval[I * D], dneg[BS * D], ov[BS * D];
    static int32_t touched[I], bu[BS], bp[BS], oi[BS], orr[BS], prev_f0[U * 12];
    static uint8_t mark[I];
    memset(o, 0, sizeof *o);
    o->no_pos = o->mem_ok = o->shift_ok = o->T_ok = o->snap_ok = 1;
    void *vs = NULL;
    char *err = NULL;
    if (vt->init(&hosts[threads], v, &y->t, D, BS, 77, &vs, &err) != NB_OK) {
        diag("init: %s", err);
        free(err);
        o->no_pos = 0;
        return;
    }
    srns_state *s = vs;
    nb_block gi = { .name = "item", .grad = gval, .rows = I, .cols = D, .flags = NB_BLOCK_ROWS,
                    .touched = touched, .mark = mark };
    nb_grads g = { .item = &gi };
    nb_view view = { .n_users = U, .n_items = I, .dim = D, .user = users, .item = items,
                     .user_layers = users, .item_layers = items, .user_ego = users,
                     .item_ego = items };
    const int64_t P = y->t.n_pairs;
    for (int32_t e = 0; e < E; e++) {
        for (int k = 0; k < U * D; k++) users[k] = (float)sin(0.7 * k + 0.9 * e);
        for (int k = 0; k < I * D; k++) items[k] = (float)cos(1.3 * k - 0.6 * e * (k % 3));
        if (e > 0) memcpy(prev_f0, s->pool + (int64_t)srns_slot(s, 0) * s->UV,
                          sizeof(int32_t) * U * 12);
        vt->epoch_begin(s, e, &view);
        int32_t T = s->slot_n[s->head];
        int32_t wantT = e == 0 ? 1 : (e < 3 ? e : 3);
        if (T != wantT) o->T_ok = 0;
        if (e > 0 && memcmp(prev_f0, s->pool + (int64_t)s->head * s->UV, sizeof prev_f0))
            o->shift_ok = 0;
        /* the newest snapshot of the current pool is its score under this view */
        const float *sn = s->snap + (int64_t)s->slot_snap[s->head * s->H + T - 1] * s->UV;
        const int32_t *cur = s->pool + (int64_t)s->head * s->UV;
        for (int u = 0; u < U; u++)
            for (int q = 0; q < 12; q++) {
                double want = 0;
                for (int k = 0; k < D; k++)
                    want += (double)users[u * D + k] * items[cur[u * 12 + q] * D + k];
                if (fabs(sn[u * 12 + q] - want) > 1e-5) o->snap_ok = 0;
                if (nb_train_has(&y->t, u, cur[u * 12 + q])) o->no_pos = 0;
            }
        long a0 = testhost_allocs();
        for (int64_t first = 0; first < P; first += BS) {
            int32_t B = (int32_t)(P - first < BS ? P - first : BS);
            for (int32_t b = 0; b < B; b++) {
                /* a fixed per-epoch order: pair (first + b) * 7 mod P */
                int64_t e2 = ((first + b) * 7 + e) % P;
                int32_t u = 0;
                while (y->t.user_ptr[u + 1] <= e2) u++;
                bu[b] = u;
                bp[b] = y->t.user_items[e2];
            }
            nb_negatives out = { .vec = ov, .item = oi, .reg_rows = 1, .reg_items = orr };
            nb_batch bt = { .size = B, .users = bu, .pos = bp, .epoch = e, .step = first / BS,
                            .first = first, .seed = 1234 };
            if (vt->negatives(s, &bt, &view, &out, &err) != NB_OK) {
                diag("negatives: %s", err);
                free(err);
                err = NULL;
                o->no_pos = 0;
                break;
            }
            for (int32_t b = 0; b < B; b++) {
                o->chosen[e][first + b] = oi[b];
                if (nb_train_has(&y->t, bu[b], oi[b])) o->no_pos = 0;
                for (int k = 0; k < D; k++) dneg[b * D + k] = 0.01f * (float)(b + k);
            }
            vt->backward(s, &bt, &view, dneg, NULL, &g, &err);
        }
        o->allocs += testhost_allocs() - a0;
        for (int u = 0; u < U; u++)
            if (!distinct(s->mem + u * 4, 4, 12)) o->mem_ok = 0;
        const nb_stat *st;
        int ns;
        vt->epoch_stats(s, &st, &ns);
        for (int k = 0; k < 4 && k < ns; k++) o->stat[e][k] = st[k].value;
    }
    vt->free(s);
}

static void test_smoke(void)
{
    enum { U = 24, I = 40 };
    uint8_t has[U * I] = { 0 };
    nb_rng r;
    nb_rng_seed(&r, 5, 5, 5);
    for (int u = 0; u < U; u++)
        for (int k = 0; k < 6; k++) has[u * I + (int)nb_rng_below(&r, I)] = 1;
    static toy y;
    toy_build(&y, U, I, has);
    diag("smoke: %lld training pairs", (long long)y.t.n_pairs);
    static smoke a, b;
    smoke_run(&y, &a, 1);
    smoke_run(&y, &b, 2);
    ok(a.no_pos, "no pool item or chosen negative is a training positive");
    ok(a.mem_ok, "memory holds S1 distinct indices after every epoch");
    ok(a.T_ok, "current pool has min(max(e,1), history) snapshots");
    ok(a.shift_ok, "current pool = previous future[0] (memory re-points)");
    ok(a.snap_ok, "newest snapshot = scores under the epoch_begin view");
    is_int(a.allocs, 0, "negatives/backward do not allocate");
    ok(memcmp(a.chosen, b.chosen, sizeof a.chosen) == 0,
       "two runs (1 and 2 threads) choose the same items");
    ok(memcmp(a.stat, b.stat, sizeof a.stat) == 0, "and report the same statistics");
    int var = 0;
    for (int e = 0; e < 6; e++) var |= memcmp(a.chosen[0], a.chosen[e], sizeof a.chosen[0]) != 0;
    ok(var, "choices change across epochs");
    ok(a.stat[0][0] > 0 && a.stat[0][0] < 1, "epoch 0 reject_rate in (0,1): %.3f", a.stat[0][0]);
    is_close(a.stat[0][3], 0.0, 0, 0, "epoch 0: mean_std = 0 (one snapshot)");
    is_close(a.stat[1][3], 0.0, 0, 0, "epoch 1: mean_std = 0 (one snapshot)");
    ok(a.stat[3][3] > 0, "epoch 3: mean_std > 0 (%.4f)", a.stat[3][3]);
    int norm_ok = 1;
    for (int e = 0; e < 6; e++)
        if (!(a.stat[e][1] >= a.stat[e][2] && a.stat[e][1] <= 1 && a.stat[e][2] >= 0))
            norm_ok = 0;
    ok(norm_ok, "0 <= cand_min_norm <= cand_max_norm <= 1");
}

static void test_init_errors(void)
{
    const nb_sampler_vt *vt = nb_plugin_descriptor(0)->vtable;
    uint8_t has[2 * 3] = { 1, 0, 0, 1, 1, 1 };
    toy y;
    toy_build(&y, 2, 3, has);
    nb_value v[7];
    set_values(v, 2, 1, 8, 5.0, 50, 1.0, 5);
    void *s = NULL;
    char *err = NULL;
    is_int(vt->init(testhost(), v, &y.t, 2, 4, 1, &s, &err), NB_EINVAL,
           "init refuses a user with every item positive");
    ok(err && strstr(err, "user 1"), "message names the user");
    free(err);
    err = NULL;
    has[3] = 0;
    toy_build(&y, 2, 3, has);
    set_values(v, 8, 1, 8, 5.0, 50, 1.0, 5);
    is_int(vt->init(testhost(), v, &y.t, 2, 4, 1, &s, &err), NB_EINVAL, "init refuses V <= S1");
    free(err);
}

int main(void)
{
    tap_plan(0);
    test_select_pure();
    test_refresh_pure();
    test_descriptor();
    test_hand_vtable();
    test_smoke();
    test_init_errors();
    return tap_done();
}
