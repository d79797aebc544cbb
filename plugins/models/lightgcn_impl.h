/*
 * lightgcn_impl.h - LightGCN propagation and its backward, written once and
 * instantiated per precision: define SUF (f32 / f64) and REAL (float /
 * double) and include this file after negbench/graph.h. The plugin uses the
 * float instantiation; tests instantiate it in double for finite differences
 * and the golden vectors.
 *
 * Math (docs/methods/lightgcn.md, He et al. SIGIR 2020):
 *   E^0 = [E_u; E_i],  E^{l+1} = Ahat E^l,  l = 0..L-1
 *   pool mean:   F = (1/(L+1)) sum_l E^l   (LightGCN, RecBole)
 *   pool sum:    F = sum_l E^l
 *   pool concat: F = [E^0, ..., E^L]      (row-wise concatenation)
 * Backward, with Gamma_l = dL/dE^l from the final rows (G_F) plus the
 * per-layer stack (G_l): E^l = Ahat^l E^0 and Ahat symmetric, so
 *   dL/dE^0 = sum_l Ahat^l Gamma_l, in Horner form
 *   H <- Gamma_L;  for l = L-1..0: H <- Gamma_l + Ahat H;  dE^0 += H.
 *
 * Shapes (N = U + I nodes, users first): E0 [N][d]; layers [N][L+1][d]
 * (layer l of node r at layers + r*(L+1)*d + l*d); final [N][df] with
 * df = d (mean, sum) or (L+1)*d (concat, where final may alias layers).
 */
#ifndef LGCN_POOL_DEFINED
#define LGCN_POOL_DEFINED
enum lgcn_pool { LGCN_MEAN = 0, LGCN_SUM = 1, LGCN_CONCAT = 2 };
#endif

#define LGCN_CAT_(a, b) a##_##b
#define LGCN_CAT(a, b) LGCN_CAT_(a, b)
#define LGCN_SPMM LGCN_CAT(graph_spmm, SUF)
#define LGCN_SPMM_EX LGCN_CAT(graph_spmm_ex, SUF)
#define LGCN_SPMM_RUN LGCN_CAT(graph_spmm_run, SUF)
#define LGCN_OPTS LGCN_CAT(graph_spmm_opts, SUF)
#ifndef LGCN_MAX_POOLED
#define LGCN_MAX_POOLED 16 /* layers the stack-free forward pools (more: the stack path) */
#endif

/* The options of the last product, which pools in its tail:
 *   final_r = ((((0 + E^0_r) + E^1_r) + ...) + E^L_r) / (L+1)   (sum: / 1),
 * the stack path's pooling operations in its order, so the same bits. */
static inline LGCN_OPTS LGCN_CAT(lgcn_pool_opts, SUF)(int32_t L, int pool, const REAL **src)
{
    LGCN_OPTS o = {.pool = src, .n_pool = L,
                   .pool_div = pool == LGCN_MEAN ? (REAL)(L + 1) : (REAL)1};
    return o;
}

/* Propagate E0 through L layers of Ahat (val: nullable value override) into
 * layers, and pool into final (skipped when final == layers). T0, T1 [N][d]
 * (nullable, both or neither) are scratch: with them every layer is gathered
 * from a contiguous buffer instead of its slot in the stack (same bits,
 * faster). */
static void LGCN_CAT(lgcn_forward_ex, SUF)(const nb_graph *g, const REAL *val, int32_t L,
                                           int32_t d, int pool, const REAL *E0,
                                           REAL *layers, REAL *final, REAL *T0, REAL *T1)
{
    int64_t N = g->n, ld = (int64_t)(L + 1) * d;
    if (!T0) { /* the first product gathers from slot 0 */
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < N; r++)
            memcpy(layers + r * ld, E0 + r * d, (size_t)d * sizeof(REAL));
    }
    const int concat = pool == LGCN_CONCAT;
    /* With scratch and at most 3 layers, E^0 .. E^{L-1} are all still in
     * E0, T0, T1 when the last product runs: it pools them in its tail
     * (graph_spmm_opts.pool, the reference pooling's order, so the same
     * bits) and writes E^L to its slot, and no pass over the stack is left
     * but slot 0's copy. */
    const int pool_in_tail = T0 && !concat && L >= 1 && L <= 3;
    const REAL *src[3] = {E0, T0, T1};
    const REAL *x = E0;
    int64_t ldx = d;
    for (int32_t l = 0; l < L; l++) {
        REAL *slot = layers + (int64_t)(l + 1) * d;
        if (!T0) {
            LGCN_SPMM(g, val, layers + (int64_t)l * d, ld, NULL, 0, slot, ld, d);
        } else if (l == L - 1 && pool_in_tail) {
            LGCN_OPTS o = LGCN_CAT(lgcn_pool_opts, SUF)(L, pool, src);
            o.y2 = slot;
            o.ldy2 = ld;
            LGCN_SPMM_RUN(g, val, x, ldx, final, d, d, &o);
        } else if (l == L - 1) { /* the last layer is only needed in the stack */
            LGCN_SPMM_EX(g, val, NULL, x, ldx, NULL, 0, slot, ld, NULL, 0, d);
        } else {
            REAL *t = (l & 1) ? T1 : T0;
            LGCN_SPMM_EX(g, val, NULL, x, ldx, NULL, 0, t, d, slot, ld, d);
            x = t;
            ldx = d;
        }
    }
    /* One pass over the stack: slot 0 (with scratch, not written yet) and,
     * unless the last product did, the pooled row, summed per element in
     * layer order from 0 as the reference pooling does (so the bits do not
     * depend on the path). */
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N; r++) {
        REAL *xr = layers + r * ld;
        const REAL *e0 = E0 + r * d;
        if (T0) memcpy(xr, e0, (size_t)d * sizeof(REAL));
        if (concat || pool_in_tail) continue;
        REAL *f = final + r * d;
        for (int32_t k = 0; k < d; k++) f[k] = (REAL)0 + e0[k];
        for (int32_t l = 1; l <= L; l++) {
            const REAL *xl = xr + (int64_t)l * d;
            for (int32_t k = 0; k < d; k++) f[k] += xl[k];
        }
        if (pool == LGCN_MEAN)
            for (int32_t k = 0; k < d; k++) f[k] /= (REAL)(L + 1);
    }
    if (concat && final != layers) memcpy(final, layers, (size_t)(N * ld) * sizeof(REAL));
}

/* The layers E^1..E^{L-1} of the stack-free forward (L >= 1): layer-major
 * to S (layer l at S + (l-1)*N*d; S holds (L-1)*N*d), each product
 * gathering from a contiguous table; src[0..L) receives E0, E^1, ...,
 * E^{L-1}, the tables the last layer pools. */
static void LGCN_CAT(lgcn_forward_layers, SUF)(const nb_graph *g, const REAL *val, int32_t L,
                                               int32_t d, const REAL *E0, REAL *S,
                                               const REAL **src)
{
    int64_t N = g->n;
    src[0] = E0;
    for (int32_t l = 0; l < L - 1; l++) {
        REAL *y = S + (int64_t)l * N * d;
        LGCN_SPMM_RUN(g, val, src[l], d, y, d, d, NULL);
        src[l + 1] = y;
    }
}

/* The forward pass without the layer stack, for steps that read only the
 * final rows (pool mean or sum; the caller uses lgcn_forward_ex otherwise):
 * lgcn_forward_layers, then the last product pools in its tail (E^L is
 * never stored) and streams the final rows out. S as in
 * lgcn_forward_layers. */
__attribute__((unused)) /* a test may instantiate a precision it does not call */
static void LGCN_CAT(lgcn_forward_final, SUF)(const nb_graph *g, const REAL *val, int32_t L,
                                              int32_t d, int pool, const REAL *E0, REAL *S,
                                              REAL *final)
{
    int64_t N = g->n;
    const REAL *src[LGCN_MAX_POOLED];
    if (L == 0) {
#pragma omp parallel for schedule(static) /* the pooling of one layer: / 1 */
        for (int64_t i = 0; i < N * d; i++) final[i] = (REAL)0 + E0[i];
        return;
    }
    LGCN_CAT(lgcn_forward_layers, SUF)(g, val, L, d, E0, S, src);
    /* streamed out: not read again in this product (plain stores were no
     * faster for DNS, which reads most item rows next) */
    LGCN_OPTS o = LGCN_CAT(lgcn_pool_opts, SUF)(L, pool, src);
    o.y_stream = 1;
    LGCN_SPMM_RUN(g, val, src[L - 1], d, final, d, d, &o);
}

/* lgcn_forward_ex without scratch (gathers from the stack). */
static inline void LGCN_CAT(lgcn_forward, SUF)(const nb_graph *g, const REAL *val, int32_t L,
                                               int32_t d, int pool, const REAL *E0,
                                               REAL *layers, REAL *final)
{
    LGCN_CAT(lgcn_forward_ex, SUF)(g, val, L, d, pool, E0, layers, final, NULL, NULL);
}

/* h += Gamma_l row r, from Gf [N][df] and Gl [N][(L+1)d] (each nullable). */
static inline void LGCN_CAT(lgcn_add_gamma, SUF)(REAL *h, int64_t r, int32_t l, int32_t L,
                                                 int32_t d, int pool, const REAL *Gf,
                                                 const REAL *Gl)
{
    if (Gf) {
        if (pool == LGCN_CONCAT) {
            const REAL *gr = Gf + r * (int64_t)(L + 1) * d + (int64_t)l * d;
            for (int32_t k = 0; k < d; k++) h[k] += gr[k];
        } else {
            const REAL *gr = Gf + r * d;
            if (pool == LGCN_MEAN)
                for (int32_t k = 0; k < d; k++) h[k] += gr[k] / (REAL)(L + 1);
            else
                for (int32_t k = 0; k < d; k++) h[k] += gr[k];
        }
    }
    if (Gl) {
        const REAL *gr = Gl + r * (int64_t)(L + 1) * d + (int64_t)l * d;
        for (int32_t k = 0; k < d; k++) h[k] += gr[k];
    }
}

/* H row r += Gamma_l row r for the rows[] (NULL: all N rows). Rows are
 * distinct, so the threads never share a row; the rows are scattered over
 * H, so the one a few iterations ahead is prefetched. */
static void LGCN_CAT(lgcn_add_gamma_rows, SUF)(REAL *H, const int32_t *rows, int64_t nr,
                                               int32_t l, int32_t L, int32_t d, int pool,
                                               const REAL *Gf, const REAL *Gl)
{
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < nr; q++) {
        int64_t r = rows ? rows[q] : q;
        if (rows && q + 4 < nr) {
            const char *pf = (const char *)(H + (int64_t)rows[q + 4] * d);
            for (size_t o = 0; o < (size_t)d * sizeof(REAL); o += 64) __builtin_prefetch(pf + o, 1);
        }
        LGCN_CAT(lgcn_add_gamma, SUF)(H + r * d, r, l, L, d, pool, Gf, Gl);
    }
}

/* dE0 += sum_l Ahat^l Gamma_l. rows [n_rows] lists the nodes where Gf/Gl
 * may be nonzero (NULL: all N); rowmark [N] (nullable, needs rows) is 1
 * exactly on rows[], which lets the first product skip the zero rows of
 * Gamma_L (same bits). H0, H1 [N][d] scratch. valT: the values of Ahat^T
 * (nullable: Ahat is symmetric). */
static void LGCN_CAT(lgcn_backward_ex, SUF)(const nb_graph *g, const REAL *valT, int32_t L,
                                            int32_t d, int pool, const REAL *Gf,
                                            const REAL *Gl, const int32_t *rows, int64_t n_rows,
                                            const uint8_t *rowmark, REAL *H0, REAL *H1,
                                            REAL *dE0)
{
    int64_t N = g->n, nr = rows ? n_rows : N;
    REAL *H = H0, *T = H1;
    if (L == 0) {
        for (int64_t q = 0; q < nr; q++) {
            int64_t r = rows ? rows[q] : q;
            LGCN_CAT(lgcn_add_gamma, SUF)(dE0 + r * d, r, 0, L, d, pool, Gf, Gl);
        }
        return;
    }
    const uint8_t *mask = rows ? rowmark : NULL;
    if (!Gl && Gf && pool != LGCN_CONCAT) {
        /* Every Gamma_l is c Gf (c = 1/(L+1) for the mean, 1 for the sum):
         * dE0 += c (Gf + Ahat (Gf + ... Ahat Gf)), Horner on Gf itself, its
         * add folded into each product (Gf is zero off rows[], and those
         * rows are not read: addmask); the last product adds its rows into
         * dE0 in its tail, dE0 += x / (L+1) (mean) or x / 1. No scattered
         * row passes; the rounding differs from the general path below. */
        const REAL *x = Gf;
        for (int32_t l = L - 1; l >= 0; l--) {
            LGCN_OPTS o = {.xmask = l == L - 1 ? mask : NULL, .add = Gf, .ldadd = d,
                           .addmask = mask};
            if (l == 0) { /* only the sum into dE0 is kept of the last product */
                o.accum = dE0;
                o.accum_div = pool == LGCN_MEAN ? (REAL)(L + 1) : (REAL)1;
                o.y_scratch = 1;
            }
            LGCN_SPMM_RUN(g, valT, x, d, H, d, d, &o);
            x = H;
            H = T;
            T = (REAL *)x;
        }
        return;
    }
    if (mask) { /* only the rows[] of H are read by the first product */
#pragma omp parallel for schedule(static)
        for (int64_t q = 0; q < nr; q++) memset(H + (int64_t)rows[q] * d, 0, (size_t)d * sizeof(REAL));
    } else {
        memset(H, 0, (size_t)(N * d) * sizeof(REAL));
    }
    LGCN_CAT(lgcn_add_gamma_rows, SUF)(H, rows, nr, L, L, d, pool, Gf, Gl);
    for (int32_t l = L - 1; l >= 0; l--) {
        LGCN_SPMM_EX(g, valT, l == L - 1 ? mask : NULL, H, d, NULL, 0, T, d, NULL, 0, d);
        LGCN_CAT(lgcn_add_gamma_rows, SUF)(T, rows, nr, l, L, d, pool, Gf, Gl);
        REAL *s = H; H = T; T = s;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N * d; i++) dE0[i] += H[i];
}

/* lgcn_backward_ex for a caller that discards Gl afterwards (the plugins:
 * it is their view gradient): Gamma_l is folded into Gl's rows[] (all N
 * when rows is NULL; Gf's share added to each layer slot), and the Horner
 * recursion takes its adds from those slots in each product's tail, the
 * first product reading Gamma_L in place and the last adding into dE0 in its
 * tail: no scattered row passes over H and no pass over dE0. Gl's rows[]
 * hold Gamma on return (the caller zeroes them). Equal to lgcn_backward_ex
 * up to rounding (each sum starts from Gamma_l instead of adding it last).
 * Gl NULL, or L 0: lgcn_backward_ex. */
__attribute__((unused)) /* a test may instantiate a precision it does not call */
static void LGCN_CAT(lgcn_backward_fold, SUF)(const nb_graph *g, const REAL *valT, int32_t L,
                                              int32_t d, int pool, const REAL *Gf, REAL *Gl,
                                              const int32_t *rows, int64_t n_rows,
                                              const uint8_t *rowmark, REAL *H0, REAL *H1,
                                              REAL *dE0)
{
    if (!Gl || L == 0) {
        LGCN_CAT(lgcn_backward_ex, SUF)(g, valT, L, d, pool, Gf, Gl, rows, n_rows, rowmark, H0,
                                        H1, dE0);
        return;
    }
    int64_t nr = rows ? n_rows : g->n, ld = (int64_t)(L + 1) * d;
    if (Gf) {
#pragma omp parallel for schedule(static)
        for (int64_t q = 0; q < nr; q++) {
            int64_t r = rows ? rows[q] : q;
            for (int32_t l = 0; l <= L; l++)
                LGCN_CAT(lgcn_add_gamma, SUF)(Gl + r * ld + (int64_t)l * d, r, l, L, d, pool,
                                              Gf, NULL);
        }
    }
    const uint8_t *mask = rows ? rowmark : NULL;
    const REAL *x = Gl + (int64_t)L * d;
    int64_t ldx = ld;
    REAL *H = H0, *T = H1;
    for (int32_t l = L - 1; l >= 0; l--) {
        LGCN_OPTS o = {.xmask = l == L - 1 ? mask : NULL, .add = Gl + (int64_t)l * d,
                       .ldadd = ld, .addmask = mask};
        if (l == 0) { /* only the sum into dE0 is kept of the last product */
            o.accum = dE0;
            o.accum_div = (REAL)1;
            o.y_scratch = 1;
        }
        LGCN_SPMM_RUN(g, valT, x, ldx, H, d, d, &o);
        x = H;
        ldx = d;
        H = T;
        T = (REAL *)x;
    }
}

/* lgcn_backward_ex without the row mask. */
static inline void LGCN_CAT(lgcn_backward, SUF)(const nb_graph *g, const REAL *valT, int32_t L,
                                                int32_t d, int pool, const REAL *Gf,
                                                const REAL *Gl, const int32_t *rows,
                                                int64_t n_rows, REAL *H0, REAL *H1, REAL *dE0)
{
    LGCN_CAT(lgcn_backward_ex, SUF)(g, valT, L, d, pool, Gf, Gl, rows, n_rows, NULL, H0, H1,
                                    dE0);
}

#undef LGCN_SPMM
#undef LGCN_SPMM_EX
#undef LGCN_SPMM_RUN
#undef LGCN_OPTS
#undef LGCN_CAT
#undef LGCN_CAT_
