/*
 * sampler_common.h - the pieces the item-choosing sampler plugins share
 * (statistics, gradient scatter, dot products) are public now, in
 * negbench/sampler_kit.h; this header stays for the plugins that include it.
 */
#ifndef NB_SAMPLER_COMMON_H
#define NB_SAMPLER_COMMON_H

#include "negbench/sampler_kit.h"

#endif /* NB_SAMPLER_COMMON_H */
