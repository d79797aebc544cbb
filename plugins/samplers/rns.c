/*
 * rns.c - RNS: one uniform negative per positive, redrawn while it is a
 * training positive of the user (RecBole's uniform sampler, docs/methods/rns.md).
 * The negative vector is the item's row; its gradient scatters back there.
 * Everything is the sampler kit's default (negbench/sampler_kit.h).
 */
#include "negbench/sampler_kit.h"

static const nb_param_spec rns_params[] = { NB_PARAM_END };

/* One candidate per positive, drawn uniformly: every hook is the default. */
static const nb_kit_spec rns_spec = { .m_param = NULL };

NB_KIT_SAMPLER_ONE(rns, rns_spec, rns_params, "1.0.0",
                   "uniform random negative, redrawn while a training positive")

NB_PLUGIN_EXPORT(&rns_desc)
