/*
 * data_cache.c - data sets loaded once per sweep (see data_cache.h).
 */
#include "data_cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Two optional strings are equal: both NULL, or the same text. */
static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Two spec numbers are equal; NaN (an unset cutoff) equals NaN. */
static int same_num(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

int data_spec_same(const nb_data_spec *a, const nb_data_spec *b)
{
    return a->synthetic == b->synthetic && a->syn_users == b->syn_users &&
           a->syn_items == b->syn_items && a->syn_rank == b->syn_rank &&
           same_num(a->syn_per_user, b->syn_per_user) &&
           same_num(a->syn_pop_skew, b->syn_pop_skew) &&
           same_num(a->syn_test_share, b->syn_test_share) && a->format == b->format &&
           same_str(a->train_path, b->train_path) && same_str(a->valid_path, b->valid_path) &&
           same_str(a->test_path, b->test_path) && same_num(a->min_rating, b->min_rating) &&
           a->split == b->split && same_num(a->ratio[0], b->ratio[0]) &&
           same_num(a->ratio[1], b->ratio[1]) && same_num(a->ratio[2], b->ratio[2]) &&
           same_num(a->cutoff, b->cutoff) && same_num(a->cutoff_quantile, b->cutoff_quantile) &&
           same_num(a->valid_share, b->valid_share) && a->seed == b->seed;
}

/* Free an entry's data set or load error; the slot is left empty. */
static void entry_free(nb_data_entry *e)
{
    if (e->loaded) dataset_free(&e->ds);
    free(e->err);
    memset(e, 0, sizeof *e);
}

const nb_data_entry *data_cache_get(nb_data_cache *c, const nb_data_spec *spec, const char *sum)
{
    nb_data_entry *e = NULL;
    c->tick++;
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].sum, sum) && data_spec_same(c->e[i].spec, spec)) {
            c->e[i].used = c->tick;
            return &c->e[i];
        }
    if (c->n < DATA_CACHE_SLOTS) {
        e = &c->e[c->n++];
    } else {
        e = &c->e[0];
        for (int i = 1; i < c->n; i++)
            if (c->e[i].used < e->used) e = &c->e[i];
        entry_free(e);
    }
    e->spec = spec;
    memcpy(e->sum, sum, sizeof e->sum);
    e->used = c->tick;
    e->loaded = dataset_load(spec, &e->ds, &e->err) == 0;
    return e;
}

void data_cache_free(nb_data_cache *c)
{
    for (int i = 0; i < c->n; i++) entry_free(&c->e[i]);
    memset(c, 0, sizeof *c);
}
