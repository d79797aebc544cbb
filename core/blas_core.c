/*
 * blas_core.c - OpenBLAS's kernel set: what the library detected, what
 * negbench asks for when that is a fallback older than the CPU, and a line
 * that says which one a run used (blas_core.h).
 */
#define _GNU_SOURCE
#include "build_config.h" /* NB_HAVE_CBLAS */
#include "blas_core.h"
#include "thread_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef NB_HAVE_CBLAS
/* Declared here, as in kernels.c, to avoid depending on the
 * openblas_config.h variant; present in every OpenBLAS since 0.2. */
char *openblas_get_corename(void);
#endif

unsigned blas_core_cpu_features(void)
{
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    /* GCC's checks include the operating system's support for the AVX and
     * AVX-512 register state (XGETBV), not only the CPUID bits. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) f |= BLAS_CPU_AVX2_FMA;
    if ((f & BLAS_CPU_AVX2_FMA) && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        f |= BLAS_CPU_AVX512;
#endif
    return f;
}

const char *blas_core_choice(const char *detected, unsigned features)
{
    /* OpenBLAS's x86-64 kernel sets that use AVX2 (or are AMD's own
     * choice for its CPUs): a detection that gave one of these stands. */
    static const char *const modern[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake",
                                         "SapphireRapids", "Excavator"};
    if (!detected || !(features & BLAS_CPU_AVX2_FMA)) return NULL;
    for (size_t i = 0; i < sizeof modern / sizeof *modern; i++)
        if (!strcasecmp(detected, modern[i])) return NULL;
    return features & BLAS_CPU_AVX512 ? "SkylakeX" : "Haswell";
}

int blas_core_prepare(void)
{
#ifdef NB_HAVE_CBLAS
    if (getenv("OPENBLAS_CORETYPE")) return 0;
    const char *detected = openblas_get_corename();
    const char *choice = blas_core_choice(detected, blas_core_cpu_features());
    if (!choice) return 0;
    setenv("NEGBENCH_BLAS_DETECTED", detected, 1);
    return thread_env_set_default("OPENBLAS_CORETYPE", choice);
#else
    return 0;
#endif
}

void blas_core_describe(char *buf, size_t size)
{
#ifdef NB_HAVE_CBLAS
    const char *core = openblas_get_corename(), *detected = getenv("NEGBENCH_BLAS_DETECTED");
    const char *choice = blas_core_choice(core, blas_core_cpu_features());
    if (!getenv("OPENBLAS_CORETYPE") && choice) /* before thread_env_prepare */
        snprintf(buf, size, "%s detected; runs ask for %s (negbench's choice)", core, choice);
    else if (!getenv("OPENBLAS_CORETYPE"))
        snprintf(buf, size, "%s (detected)", core);
    else if (thread_env_ours("OPENBLAS_CORETYPE"))
        snprintf(buf, size, "%s (negbench's choice: OpenBLAS detected %s on this CPU)", core,
                 detected ? detected : "an older kernel set");
    else
        snprintf(buf, size, "%s (OPENBLAS_CORETYPE, yours)", core);
#else
    snprintf(buf, size, "fallback kernel");
#endif
}
