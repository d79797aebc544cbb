/*
 * test-optim.c - Adam: the first step against a hand computation, the
 * deferred dense mode against updating every row every step, and lazy mode
 * leaving untouched rows alone.
 */
#include "optim.h"
#include "tap/tap.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct table {
    nb_block b;
    float value[40 * 3], grad[40 * 3];
    int32_t touched[40];
    uint8_t mark[40];
} table;

static void table_init(table *t, int flags)
{
    memset(t, 0, sizeof *t);
    t->b = (nb_block){ .name = "t", .value = t->value, .grad = t->grad, .rows = 40, .cols = 3,
                       .flags = (uint32_t)flags, .touched = t->touched, .mark = t->mark };
    for (int i = 0; i < 120; i++) t->value[i] = (float)sin(0.37 * i);
}

/* A sparse gradient at step s: a few rows, deterministic. */
static void put_grad(table *t, int s)
{
    nb_rng r;
    nb_rng_seed(&r, 7, (uint64_t)s, 0);
    int rows = 1 + (int)nb_rng_below(&r, 4);
    for (int k = 0; k < rows; k++) {
        int row = (int)nb_rng_below(&r, 40);
        if (s > 50 && row < 20) continue; /* rows 0..19 idle for a long stretch */
        float *g = nb_block_grad_row(&t->b, row);
        for (int c = 0; c < 3; c++) g[c] += (float)(nb_rng_uniform(&r) - 0.5) * 1e-3f;
    }
}

int main(void)
{
    tap_plan(0);
    nb_adam_opts o = { .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .mode = 0,
                       .deferred = NULL, .threads = 1 };
    char *err = NULL;

    /* 1. first step by hand: m = 0.1 g, v = 0.001 g^2, p -= lr m/(1-b1) / (sqrt(v/(1-b2)) + eps) */
    {
        table t;
        table_init(&t, NB_BLOCK_DENSE);
        nb_block *bp = &t.b;
        nb_optim *opt = NULL;
        ok(optim_create(&bp, 1, &o, &opt, &err) == NB_OK, "create");
        float p0 = t.value[5];
        t.grad[5] = 0.02f;
        optim_step(opt);
        double m = 0.1 * 0.02, v = 0.001 * 0.02 * 0.02;
        double want = p0 - 1e-3 * (m / 0.1) / (sqrt(v / 0.001) + 1e-8);
        is_close(t.value[5], want, 1e-7, 1e-6, "first Adam step equals the hand computation");
        is_close(t.value[6], (float)sin(0.37 * 6), 0, 0, "zero gradient, zero moments: unchanged");
        ok(t.grad[5] == 0.0f, "gradients are zeroed after the step");
        optim_free(opt);
    }

    /* 2. deferred dense == plain dense (every row every step), 300 steps */
    {
        table a, b;
        table_init(&a, NB_BLOCK_ROWS);
        table_init(&b, NB_BLOCK_ROWS);
        nb_block *pa = &a.b, *pb = &b.b;
        nb_optim *oa = NULL, *ob = NULL;
        nb_adam_opts od = o;
        static const uint8_t defer_first[1] = {1};
        od.deferred = defer_first;
        optim_create(&pa, 1, &o, &oa, &err);
        optim_create(&pb, 1, &od, &ob, &err);
        double worst = 0.0, moved = 0.0, maxmove = 0.0;
        for (int s = 1; s <= 300; s++) {
            put_grad(&a, s);
            put_grad(&b, s);
            if (s % 37 == 0) optim_sync_row(ob, 0, 3); /* a read in between */
            optim_step(oa);
            optim_step(ob);
        }
        optim_flush(ob);
        for (int i = 0; i < 120; i++) {
            double mv = fabs((double)a.value[i] - (float)sin(0.37 * i));
            moved += mv;
            if (mv > maxmove) maxmove = mv;
        }
        for (int i = 0; i < 120; i++) {
            double d = fabs((double)a.value[i] - b.value[i]);
            if (d / maxmove > worst) worst = d / maxmove;
        }
        diag("max difference relative to the largest parameter move: %.3g", worst);
        ok(moved > 1e-3, "parameters moved");
        ok(worst < 1e-4, "deferred dense Adam equals per-step dense Adam (to float rounding)");
        ok(a.value[0] != (float)sin(0.0) || a.value[3] != (float)sin(0.37 * 3),
           "idle rows drift on momentum in dense mode");
        optim_free(oa);
        optim_free(ob);
    }

    /* 2b. deferral is chosen per block, and only where it pays: a share
     * 1 - exp(-reads/rows) of the rows read per step, at most 0.03 */
    {
        table a, b;
        table_init(&a, NB_BLOCK_ROWS);
        table_init(&b, NB_BLOCK_ROWS);
        nb_block *pair[2] = {&a.b, &b.b};
        nb_optim *op = NULL;
        nb_adam_opts od = o;
        static const uint8_t defer_second[2] = {0, 1};
        od.deferred = defer_second;
        ok(optim_create(pair, 2, &od, &op, &err) == NB_OK, "create two blocks");
        ok(!optim_block_deferred(op, 0) && optim_block_deferred(op, 1) &&
           !optim_block_deferred(op, -1), "deferral is per block (block 1 only)");
        optim_free(op);
        /* Gowalla's 40,981 items and MF + RNS (2 rows read per positive):
         * batch 512 reads a share 0.025 (deferral pays), 1024 0.049 and
         * 2048 0.095 (every step is cheaper) */
        ok(optim_defer_pays(40981, 512.0 * 2), "share 0.025: deferral pays");
        ok(!optim_defer_pays(40981, 1024.0 * 2), "share 0.049: every step is cheaper");
        ok(!optim_defer_pays(40981, 2048.0 * 2), "share 0.095: every step is cheaper");
        ok(optim_defer_pays(10000, 290) && !optim_defer_pays(10000, 320),
           "the threshold lies between shares 0.0286 and 0.0315");
        ok(!optim_defer_pays(0, 1), "an empty block is not deferred");
    }

    /* 3. lazy: rows without gradient do not move */
    {
        table a;
        table_init(&a, NB_BLOCK_ROWS);
        nb_block *pa = &a.b;
        nb_optim *oa = NULL;
        nb_adam_opts ol = o;
        ol.mode = 1;
        optim_create(&pa, 1, &ol, &oa, &err);
        float *g = nb_block_grad_row(&a.b, 2);
        g[0] = 0.5f;
        optim_step(oa);
        float after1 = a.value[2 * 3];
        optim_step(oa); /* no gradient anywhere */
        is_close(a.value[2 * 3], after1, 0, 0, "lazy: a row without gradient stays put");
        ok(after1 != (float)sin(0.37 * 6), "lazy: the touched row moved");
        optim_free(oa);
    }
    free(err);
    return tap_done();
}
