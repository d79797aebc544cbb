/*
 * dns.c - DNS: M uniform candidates per positive (each redrawn while it is a
 * training positive), keep the one the current model scores highest, first
 * index on ties (docs/methods/dns.md). Selection carries no gradient: only the
 * chosen item's row receives the BPR gradient.
 *
 * The sampler kit (negbench/sampler_kit.h) does all of it: its default pick
 * is the first argmax of u . i over the candidates, positives run on OpenMP
 * threads, each on its own stream (seed, epoch, position), so the choice
 * does not depend on the thread count. Statistics: reject_rate,
 * cand_max_norm, cand_min_norm (sampler_kit.h).
 */
#include "negbench/sampler_kit.h"

static const nb_param_spec dns_params[] = {
    { "M", NB_PARAM_INT, "32", 1, 4096, NULL, "uniform candidates per positive" },
    NB_PARAM_END
};

/* M candidates from the parameter "M"; pick NULL: the first argmax. */
static const nb_kit_spec dns_spec = { .m_param = "M" };

NB_KIT_SAMPLER(dns, dns_spec, dns_params, "1.0.0",
               "dynamic negative sampling: argmax score among M uniform candidates")

NB_PLUGIN_EXPORT(&dns_desc)
