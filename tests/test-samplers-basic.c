/*
 * test-samplers-basic.c - RNS and DNS as loaded from the build tree: RNS
 * never returns a training positive; DNS returns the argmax-scored of its
 * M candidates (first index on ties) and never a training positive; both
 * scatter the negative's gradient into the chosen row; neither allocates on
 * the per-batch path; statistics are reported. nb_train_has, the positive
 * test every candidate sampler uses, agrees with a linear scan on every
 * user and item of random sorted lists of 0 to 40 items.
 */
#include "plugin_loader.h"
#include "tap/tap.h"
#include "testhost.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

enum { NU = 30, NI = 50, D = 8, B = 64, M = 7 };

static int64_t uptr[NU + 1];
static int32_t uitems[NU * NI];
static float U[NU * D], I[NI * D];

/* User u likes items i with (i * 7 + u) % 5 == 0 (user 0 likes 49 of 50). */
static nb_train make_train(void)
{
    int64_t n = 0;
    for (int u = 0; u < NU; u++) {
        uptr[u] = n;
        for (int i = 0; i < NI; i++)
            if (u == 0 ? i != 17 : (i * 7 + u) % 5 == 0) uitems[n++] = i;
    }
    uptr[NU] = n;
    nb_train t = { .n_users = NU, .n_items = NI, .n_pairs = n, .user_ptr = uptr,
                   .user_items = uitems };
    return t;
}

static const nb_plugin_desc *load(nb_registry *r, const char *name)
{
    const char *bd = getenv("NB_BUILDDIR");
    char *dir = nb_strf("%s/plugins/samplers/.libs", bd && *bd ? bd : ".");
    char *err = NULL;
    if (r->n == 0 && registry_load_dir(r, dir, &err) != NB_OK) tap_bail("%s", err);
    free(dir);
    const nb_plugin *p = registry_find(r, NB_KIND_SAMPLER, name);
    if (!p) tap_bail("sampler %s not found in the build tree", name);
    return p->desc;
}

/* nb_train_has against a linear scan: users with 0..40 sorted distinct
 * items out of 0..99, every item queried (and -1 and 100, off both ends). */
static void test_train_has(void)
{
    enum { NU_H = 41, NI_H = 100 };
    static int64_t ptr[NU_H + 1];
    static int32_t items[NU_H * NI_H];
    nb_rng r;
    nb_rng_seed(&r, 5, 0, 0);
    int64_t n = 0;
    for (int u = 0; u < NU_H; u++) {
        ptr[u] = n;
        int want = u, have = 0; /* u items, drawn by selection sampling: ascending */
        for (int i = 0; i < NI_H && have < want; i++)
            if (nb_rng_below(&r, (uint32_t)(NI_H - i)) < (uint32_t)(want - have)) {
                items[n++] = i;
                have++;
            }
    }
    ptr[NU_H] = n;
    nb_train t = { .n_users = NU_H, .n_items = NI_H, .n_pairs = n, .user_ptr = ptr,
                   .user_items = items };
    int64_t wrong = 0, queries = 0;
    for (int u = 0; u < NU_H; u++)
        for (int i = -1; i <= NI_H; i++) {
            int scan = 0;
            for (int64_t e = ptr[u]; e < ptr[u + 1]; e++) scan |= items[e] == i;
            wrong += nb_train_has(&t, u, i) != scan;
            queries++;
        }
    ok(wrong == 0, "nb_train_has equals a linear scan (%lld queries, lists of 0-40 items)",
       (long long)queries);
}

int main(void)
{
    tap_plan(0);
    test_train_has();
    nb_registry reg = { 0 };
    nb_train tr = make_train();
    nb_rng r;
    nb_rng_seed(&r, 11, 0, 0);
    for (int i = 0; i < NU * D; i++) U[i] = (float)(nb_rng_uniform(&r) - 0.5);
    for (int i = 0; i < NI * D; i++) I[i] = (float)(nb_rng_uniform(&r) - 0.5);
    nb_view view = { .n_users = NU, .n_items = NI, .dim = D, .user = U, .item = I,
                     .user_layers = U, .item_layers = I, .user_ego = U, .item_ego = I };
    int32_t bu[B], bp[B];
    for (int b = 0; b < B; b++) {
        bu[b] = b % NU;                 /* includes user 0 with a single non-positive */
        bp[b] = uitems[uptr[bu[b]]];
    }
    nb_batch batch = { .size = B, .users = bu, .pos = bp, .epoch = 3, .step = 9, .first = 128,
                       .seed = 2020 };
    float vec[B * D], dneg[B * D];
    int32_t item[B], reg_items[B];
    float gI[NI * D], gU[NU * D];
    int32_t touched[NI];
    uint8_t mark[NI];
    nb_block gib = { .name = "gi", .value = I, .grad = gI, .rows = NI, .cols = D,
                     .flags = NB_BLOCK_ROWS, .touched = touched, .mark = mark };
    int32_t touched_u[NU];
    uint8_t mark_u[NU];
    nb_block gub = { .name = "gu", .value = U, .grad = gU, .rows = NU, .cols = D,
                     .flags = NB_BLOCK_ROWS, .touched = touched_u, .mark = mark_u };
    nb_grads g = { .user = &gub, .item = &gib, .user_ego = &gub, .item_ego = &gib };

    for (int which = 0; which < 2; which++) {
        const char *name = which ? "dns" : "rns";
        const nb_plugin_desc *d = load(&reg, name);
        const nb_sampler_vt *vt = d->vtable;
        nb_value vals[2] = { { .i = M }, { .i = 0 } };
        void *st = NULL;
        char *err = NULL;
        ok(vt->init(testhost(), vals, &tr, D, B, 99, &st, &err) == NB_OK, "%s: init", name);
        is_int(vt->reg_rows(st), 1, "%s: regularises the chosen row", name);
        nb_negatives out = { .vec = vec, .item = item, .reg_rows = 1, .reg_items = reg_items };
        long allocs = testhost_allocs();
        ok(vt->negatives(st, &batch, &view, &out, &err) == NB_OK, "%s: negatives", name);
        is_int(testhost_allocs(), allocs, "%s: the per-batch path does not allocate", name);
        int positives = 0, wrong_vec = 0, argmax_ok = 1;
        for (int b = 0; b < B; b++) {
            positives += nb_train_has(&tr, bu[b], item[b]);
            wrong_vec += memcmp(vec + b * D, I + item[b] * D, sizeof(float) * D) != 0;
            if (bu[b] == 0 && item[b] != 17) argmax_ok = 0; /* the only non-positive */
        }
        is_int(positives, 0, "%s: no negative is a training positive", name);
        is_int(wrong_vec, 0, "%s: the negative vector is the chosen item's row", name);
        ok(argmax_ok, "%s: a user with one non-positive item always gets it", name);
        if (which == 1) {
            /* redraw the documented stream: M draws from (seed, epoch, first + b) */
            int mismatch = 0;
            for (int b = 0; b < B; b++) {
                nb_rng rr;
                nb_draw_stats ds = { 0, 0 };
                nb_rng_seed(&rr, batch.seed, (uint64_t)batch.epoch, (uint64_t)(batch.first + b));
                int32_t best = -1;
                float best_s = 0;
                for (int m = 0; m < M; m++) {
                    int32_t i = nb_draw_uniform(&rr, &tr, bu[b], &ds);
                    float s = 0;
                    for (int k = 0; k < D; k++) s += U[bu[b] * D + k] * I[i * D + k];
                    if (best < 0 || s > best_s) { best = i; best_s = s; }
                }
                mismatch += best != item[b];
            }
            is_int(mismatch, 0, "dns: every choice is the argmax of its M candidates");
        }
        /* backward scatters d_neg into the chosen rows (duplicates add up) */
        memset(gI, 0, sizeof gI);
        memset(mark, 0, sizeof mark);
        gib.n_touched = 0;
        for (int i = 0; i < B * D; i++) dneg[i] = 1.0f;
        ok(vt->backward(st, &batch, &view, dneg, NULL, &g, &err) == NB_OK, "%s: backward", name);
        int count17 = 0;
        for (int b = 0; b < B; b++) count17 += item[b] == 17;
        float sum = 0;
        for (int i = 0; i < NI * D; i++) sum += gI[i];
        is_close(sum, (double)B * D, 0, 1e-6, "%s: all of d_neg reached the item rows", name);
        is_close(gI[17 * D], (double)count17, 0, 0, "%s: duplicates accumulate", name);
        const nb_stat *stats = NULL;
        int ns = 0;
        ok(vt->epoch_stats && vt->epoch_stats(st, &stats, &ns) == NB_OK && ns >= 1,
           "%s: statistics reported", name);
        ok(ns >= 1 && !strcmp(stats[0].name, "reject_rate") && stats[0].value > 0.0 &&
               stats[0].value < 1.0, "%s: reject_rate = %.3f in (0,1)", name, ns ? stats[0].value : -1);
        if (which == 1) {
            ok(ns == 3 && stats[1].value >= stats[2].value && stats[1].value <= 1.0 &&
                   stats[2].value >= 0.0, "dns: normalised max/min of first-pass candidates in [0,1]");
        }
        vt->free(st);
        free(err);
    }
    registry_free(&reg);
    return tap_done();
}
