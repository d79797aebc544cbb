/*
 * blas_core.h - which of OpenBLAS's kernel sets (its "core") the process
 * uses, and negbench's default when the library's own CPU detection falls
 * back to a kernel set older than the CPU.
 *
 * OpenBLAS (built with DYNAMIC_ARCH, as Debian ships it) picks its kernels
 * at load from the CPU's family and model numbers. A CPU newer than the
 * library's table gets a fallback: OpenBLAS 0.3.21 runs Emerald Rapids
 * (family 6, model 207) on its SSE3 "Prescott" kernels, which leave AVX2,
 * FMA and AVX-512 unused. NGCF's step then takes 2.3x the time it takes on
 * the SkylakeX kernels (docs/performance.md#blas-kernels). The library
 * reads OPENBLAS_CORETYPE only when it loads, so the choice is made before
 * the re-execution of thread_env_prepare (thread_env.h).
 */
#ifndef NB_BLAS_CORE_H
#define NB_BLAS_CORE_H

#include <stddef.h>

/* CPU features that decide a kernel set: bit flags. */
enum {
    BLAS_CPU_AVX2_FMA = 1, /* AVX2 and FMA, with OS support: "Haswell" */
    BLAS_CPU_AVX512 = 2    /* AVX-512 F, CD, BW, DQ and VL: "SkylakeX" */
};

/* The features of the CPU this process runs on (BLAS_CPU_* flags). */
unsigned blas_core_cpu_features(void);

/* The kernel set to ask for when OpenBLAS detected `detected` on a CPU with
 * `features`: "SkylakeX" or "Haswell" when `detected` is a kernel set
 * without AVX2 (a fallback) while the CPU has AVX2 and FMA; NULL to keep
 * the library's choice (it uses AVX2 already, or the CPU has no AVX2).
 * The returned string is static. */
const char *blas_core_choice(const char *detected, unsigned features);

/* Set OPENBLAS_CORETYPE to blas_core_choice's answer for the loaded
 * library unless the user set it, remembering what the library detected
 * (NEGBENCH_BLAS_DETECTED) for blas_core_describe. Returns 1 when the
 * environment changed (the caller re-executes), else 0; always 0 without
 * OpenBLAS. */
int blas_core_prepare(void);

/* The kernel set in use and who chose it, into buf: "SkylakeX
 * (negbench's choice: OpenBLAS detected Prescott on this CPU)",
 * "Haswell (detected)", "Prescott (OPENBLAS_CORETYPE, yours)", "Prescott
 * detected; runs ask for SkylakeX (negbench's choice)" (before
 * blas_core_prepare, as in negbench --version), or
 * "fallback kernel" without OpenBLAS. */
void blas_core_describe(char *buf, size_t size);

#endif
