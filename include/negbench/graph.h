/*
 * negbench/graph.h - sparse machinery of the graph backbones (LightGCN, NGCF,
 * SGL): the symmetric normalised adjacency of the user-item bipartite graph,
 * a deterministic multi-threaded SpMM, and the dropout helpers of SGL/NGCF.
 *
 * Compiled from plugins/lib/graph.c into a small PIC convenience library
 * (libnbgraph, not installed) that the graph plugins link; it depends on
 * libc, libm, OpenMP and negbench/plugin.h only (never on the host), so
 * plugins stay self-contained.
 *
 * Node order: N = U + I nodes, users first (node u), then items (node U + i).
 * A is the 0/1 adjacency of the training pairs (duplicates are already
 * collapsed in nb_train), no self loops, and
 *     Ahat = D^{-1/2} A D^{-1/2},  Ahat[r][c] = (deg_r + eps)^{-1/2} (deg_c + eps)^{-1/2}
 * with deg = number of neighbours. eps is the degree epsilon: RecBole adds
 * 1e-7 (LightGCN, NGCF, SGL); MixGCF/DENS use 0. Isolated nodes have no
 * stored entries, so their rows of Ahat are 0 whatever eps is.
 *
 * Storage: CSR with int64 row pointers and int32 column indices, columns
 * ascending in every row; values in float32 (training) and float64 (gradient
 * checks, golden tests). The structure is symmetric, and mirror[e] is the
 * index of the transposed entry (c, r) of entry e = (r, c), so the transpose
 * of a non-symmetric reweighting (NGCF's entry dropout) costs one gather.
 *
 * Errors: functions return 0 (NB_OK) or a negative NB_E* code and set *err
 * (when non-NULL and still NULL) to a malloc'd one-line message; the caller
 * frees it with free().
 */
#ifndef NEGBENCH_GRAPH_H
#define NEGBENCH_GRAPH_H

#include <stdint.h>

#include "negbench/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_graph {
    int32_t n_users, n_items;
    int64_t n;          /* N = U + I nodes */
    int64_t nnz;        /* stored entries = 2 * kept interactions */
    int64_t *ptr;       /* [N+1] row offsets */
    int32_t *col;       /* [nnz] column (node) of each entry, ascending per row */
    int64_t *mirror;    /* [nnz] index of the transposed entry */
    float *val;         /* [nnz] Ahat values, float32 */
    double *dval;       /* [nnz] the same values in float64 */
    double *dinv;       /* [N] (deg + eps)^{-1/2}, 0 for isolated nodes */
    int32_t *deg;       /* [N] number of neighbours */
} nb_graph;

/* Build Ahat from the training pairs. keep (nullable) is indexed by pair
 * position in t->user_items (user-major order) and selects the pairs that
 * become edges (NULL: all). eps >= 0 is the degree epsilon. *g must be
 * zeroed or freed; on failure it is left empty. */
int graph_build(const nb_train *t, const uint8_t *keep, double eps, nb_graph *g,
                char **err);

/* Release the arrays of g and zero it (safe on a zeroed graph). */
void graph_free(nb_graph *g);

/* y = Ahat x (+ add), one dense block of d columns per node:
 *   x row r at x + r*ldx, y row r at y + r*ldy, add row r at add + r*ldadd
 *   (add may be NULL; it may alias y only when ldadd == ldy).
 * val (nullable) overrides the stored values with a reweighted matrix of the
 * same structure ([nnz], e.g. after entry dropout). x and y must not overlap.
 * OpenMP over rows, each row summed in entry order by one thread, so the
 * result does not depend on the thread count. */
void graph_spmm_f32(const nb_graph *g, const float *val, const float *x, int64_t ldx,
                    const float *add, int64_t ldadd, float *y, int64_t ldy, int32_t d);
void graph_spmm_f64(const nb_graph *g, const double *val, const double *x, int64_t ldx,
                    const double *add, int64_t ldadd, double *y, int64_t ldy, int32_t d);

/* The same product with two options of the fused graph passes:
 *   xmask [N] (nullable): entries whose column c has xmask[c] == 0 are
 *     skipped, which is exact when those rows of x are zero (a backward pass
 *     whose input lives on the batch rows only) and saves their gathers;
 *   y2 (nullable, row r at y2 + r*ldy2): receives a copy of each y row, so a
 *     layer can go to a contiguous buffer (the next gather's source) and to
 *     its slot of a layer stack in one pass.
 * Gathering from a contiguous [N][d] x is about twice as fast as from a
 * slot of a [N][L+1][d] stack on Gowalla (fewer pages and lines in flight). */
void graph_spmm_ex_f32(const nb_graph *g, const float *val, const uint8_t *xmask,
                       const float *x, int64_t ldx, const float *add, int64_t ldadd, float *y,
                       int64_t ldy, float *y2, int64_t ldy2, int32_t d);
void graph_spmm_ex_f64(const nb_graph *g, const double *val, const uint8_t *xmask,
                       const double *x, int64_t ldx, const double *add, int64_t ldadd,
                       double *y, int64_t ldy, double *y2, int64_t ldy2, int32_t d);

/* Optional work fused into one product (graph_spmm_run_*); a zeroed struct
 * (or NULL) is the plain y = Ahat x. Each output row is finished, then
 * passes through the tail in this order while it is still in registers:
 *   xmask [N]: entries whose column c has xmask[c] == 0 are skipped (exact
 *     when those rows of x are zero: a backward input on the batch rows);
 *   add (row r at add + r*ldadd): y starts from it (may alias y only when
 *     ldadd == ldy); addmask [N]: rows r with addmask[r] == 0 of add are
 *     zero and not read;
 *   y2 (row r at y2 + r*ldy2): a copy of each y row (a layer to its slot of
 *     a layer stack and to the next gather's contiguous source in one pass);
 *   accum [N][d]: accum_r += y_r / accum_div (1 adds y_r itself: x / 1 is
 *     exact), so a sum that would be a pass of its own is folded in;
 *   pool [n_pool] tables [N][d]: y_r becomes
 *     ((((0 + pool[0]_r) + pool[1]_r) + ...) + y_r) / pool_div, element by
 *     element in that order (LightGCN's layer mean, or sum with div 1).
 *   y_scratch: y's rows are not needed after the call (only the tails'
 *     outputs): when d == 64 they are not stored;
 *   y_stream: y is not read again soon: when d == 64 (and y is aligned to
 *     the vector width) its rows are written with non-temporal stores, which
 *     skip reading each line before writing it.
 * Otherwise y is written. */
#define GRAPH_SPMM_OPTS(SUF, REAL)                                                     \
    typedef struct graph_spmm_opts_##SUF {                                             \
        const uint8_t *xmask;                                                          \
        const REAL *add;                                                               \
        int64_t ldadd;                                                                 \
        const uint8_t *addmask;                                                        \
        REAL *y2;                                                                      \
        int64_t ldy2;                                                                  \
        REAL *accum;                                                                   \
        REAL accum_div;                                                                \
        const REAL *const *pool;                                                       \
        int32_t n_pool;                                                                \
        REAL pool_div;                                                                 \
        int y_scratch;                                                                 \
        int y_stream;                                                                  \
    } graph_spmm_opts_##SUF;
GRAPH_SPMM_OPTS(f32, float)
GRAPH_SPMM_OPTS(f64, double)
#undef GRAPH_SPMM_OPTS

/* y = Ahat x with the fused options o (nullable); the other arguments as in
 * graph_spmm_*. The result does not depend on the thread count or the
 * instruction set. */
void graph_spmm_run_f32(const nb_graph *g, const float *val, const float *x, int64_t ldx,
                        float *y, int64_t ldy, int32_t d, const graph_spmm_opts_f32 *o);
void graph_spmm_run_f64(const nb_graph *g, const double *val, const double *x, int64_t ldx,
                        double *y, int64_t ldy, int32_t d, const graph_spmm_opts_f64 *o);

/* Row r of graph_spmm_run_* alone (written at y + r*ldy, with its tail:
 * the same operations, so the same bits as the full product's row r;
 * y_stream is ignored). Runs on the calling thread without OpenMP, so
 * threads may compute distinct rows at once (rows computed on demand). */
void graph_spmm_row_f32(const nb_graph *g, const float *val, const float *x, int64_t ldx,
                        int64_t r, float *y, int64_t ldy, int32_t d,
                        const graph_spmm_opts_f32 *o);
void graph_spmm_row_f64(const nb_graph *g, const double *val, const double *x, int64_t ldx,
                        int64_t r, double *y, int64_t ldy, int32_t d,
                        const graph_spmm_opts_f64 *o);

/* The SpMM kernels exist for several x86-64 instruction sets (baseline,
 * AVX2, AVX-512F), picked when the library loads by what the CPU supports; none
 * fuses multiply-adds, so all give the same bits. Force a set for tests and
 * benchmarks: isa 0 = baseline, 1 = AVX2, 2 = AVX-512F (clamped to what the
 * CPU supports; -1 = the best). Returns the set in use. Not thread-safe:
 * call it outside parallel regions. */
int graph_spmm_set_isa(int isa);

/* Values of the transposed matrix on the same structure: valT[e] = val[mirror[e]]. */
void graph_transpose_vals_f32(const nb_graph *g, const float *val, float *valT);
void graph_transpose_vals_f64(const nb_graph *g, const double *val, double *valT);

/* NGCF "node dropout" (RecBole SparseDropout, which drops stored ENTRIES):
 * entry e is kept iff rand_e + (1 - p) >= 1 and then scaled by 1/(1 - p);
 * dropped entries get value 0 (the structure is kept). The two directions of
 * an edge are dropped independently, so the result is not symmetric. rand_e
 * comes from one stream per row, nb_rng_seed(seed, key, row), drawn in entry
 * order. out [nnz]. 0 <= p < 1. */
void graph_entry_dropout_f32(const nb_graph *g, double p, uint64_t seed, uint64_t key,
                             float *out);

/* SGL edge dropout (ED): keep floor(n_pairs * (1 - rho)) training pairs drawn
 * without replacement (partial Fisher-Yates over pair positions, stream
 * nb_rng_seed(seed, key, 0)) and build the renormalised Ahat of the kept
 * pairs into *g. keep_out [n_pairs] (nullable) receives the mask. */
int graph_edge_dropout(const nb_train *t, double rho, double eps, uint64_t seed,
                       uint64_t key, uint8_t *keep_out, nb_graph *g, char **err);

/* SGL node dropout (ND): drop floor(rho * U) users and floor(rho * I) items
 * (without replacement, stream nb_rng_seed(seed, key, 1)), delete their
 * edges and build the renormalised Ahat into *g. keep_out as above. */
int graph_node_dropout(const nb_train *t, double rho, double eps, uint64_t seed,
                       uint64_t key, uint8_t *keep_out, nb_graph *g, char **err);

#ifdef __cplusplus
}
#endif
#endif /* NEGBENCH_GRAPH_H */
