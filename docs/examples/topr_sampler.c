/*
 * topr_sampler.c - an out-of-tree sampler on negbench's sampler kit: M
 * uniform candidates per positive, scored u . i, and one of the r best
 * picked uniformly at random ("top-r of M"; r = 1 is DNS). The kit does the
 * draws, row syncs, scores, negative vector, gradient and statistics; this
 * file is the pick and its parameter.
 *
 *   cc -shared -fPIC $(pkg-config --cflags negbench) topr_sampler.c -o topr.so
 *   NEGBENCH_PLUGIN_PATH=$PWD negbench plugins --check topr
 */
#include <negbench/sampler_kit.h>

static const nb_param_spec topr_params[] = {
    { "M", NB_PARAM_INT, "32", 1, 4096, NULL, "uniform candidates per positive" },
    { "r", NB_PARAM_INT, "4", 1, 4096, NULL, "pick uniformly among the r best" },
    NB_PARAM_END
};

/* The sampler's data: r (values[1]), in host memory. */
static int topr_setup(const nb_host *h, const nb_value *values, const nb_train *train,
                      void **data, char **err)
{
    (void)train;
    int32_t *r = h->alloc(sizeof *r);
    if (!r) {
        *err = h->mprintf("topr: out of memory");
        return NB_ENOMEM;
    }
    *r = (int32_t)values[1].i;
    *data = r;
    return NB_OK;
}

static void topr_teardown(const nb_host *h, void *data)
{
    h->free(data);
}

/* The candidate with exactly k better ones (ties: the lower index is
 * better), k uniform in [0, min(r, M)). */
static int32_t topr_pick(const void *data, const float *score, int32_t M, nb_rng *rng)
{
    const int32_t r = *(const int32_t *)data < M ? *(const int32_t *)data : M;
    const int32_t k = (int32_t)nb_rng_below(rng, (uint32_t)r);
    for (int32_t m = 0; m < M; m++) {
        int32_t better = 0;
        for (int32_t j = 0; j < M; j++)
            better += score[j] > score[m] || (score[j] == score[m] && j < m);
        if (better == k) return m;
    }
    return 0;
}

static const nb_kit_spec topr_spec = {
    .m_param = "M", .setup = topr_setup, .teardown = topr_teardown, .pick = topr_pick,
};

NB_KIT_SAMPLER(topr, topr_spec, topr_params, "1.0.0",
               "one of the r best of M uniform candidates, picked uniformly")

NB_PLUGIN_EXPORT(&topr_desc)
