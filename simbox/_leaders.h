/* The rounded cosines of one unit hour row with a site's leaders (_leaders.pyx).
 *
 * The leaders' unit rows are stored transposed: hour k of leader j at lt[k * stride + j]
 * (stride a multiple of LEADERS_LANES, the unused places finite).  For the leaders jb0 <= j
 * < j1 (jb0 a multiple of LEADERS_LANES; the rest of the last block is computed too),
 * out[j] = rint(scale x sum over the hours k of u[k] * lt[k * stride + j]), the sum taken in
 * hour order over the hours nz[0..nnz] where u is not zero (a zero term adds nothing: the same
 * sum as over all hours).  Each leader's sum is one lane of its own: its bits do not depend on
 * the leaders around it, nor on the level below (the same additions and products, never fused:
 * the module is compiled with -ffp-contract=off).  LEADERS_LANES leaders are summed at once,
 * in registers.
 *
 * leaders_products(...) is compiled twice: for every x86-64 (SSE2) and for AVX2;
 * leaders_level() is the widest the CPU and OS run, leaders_set_level() lets the tests
 * run each (the same values on both).
 */
#ifndef SIMBOX_LEADERS_H
#define SIMBOX_LEADERS_H
#include <stddef.h>

#define LEADERS_LANES 16
/* 1.5 x 2^52: (y + LEADERS_MAGIC) - LEADERS_MAGIC is rint(y) (to nearest, ties to even; the
 * default rounding) for |y| < 2^51, without a libm call (np.round's rint) per product */
#define LEADERS_MAGIC 6755399441055744.0

#define LEADERS_ARGS const double* u, const ptrdiff_t* nz, ptrdiff_t nnz, const double* lt, \
                     ptrdiff_t stride, ptrdiff_t jb0, ptrdiff_t j1, double scale, double* out
#if defined(__GNUC__) || defined(__clang__)
/* two and four doubles, loaded from any 8-byte aligned place; the operations lane by lane,
 * each lane's the same IEEE operation as on one double */
typedef double leaders_v2 __attribute__((vector_size(16), aligned(8), may_alias));
typedef double leaders_v4 __attribute__((vector_size(32), aligned(8), may_alias));
/* LEADERS_LANES leaders at once in K vectors of type VT (K x lanes = LEADERS_LANES) */
#define LEADERS_BODY(VT, K)                                                            \
    {                                                                                  \
        ptrdiff_t jb, t;                                                               \
        int q;                                                                         \
        VT sc, mg, zero;                                                               \
        for (q = 0; q < (int)(sizeof(VT) / sizeof(double)); q++) {                     \
            sc[q] = scale; mg[q] = LEADERS_MAGIC; zero[q] = 0.0;                       \
        }                                                                              \
        for (jb = jb0; jb < j1; jb += LEADERS_LANES) {                                 \
            VT a[K];                                                                   \
            VT* o = (VT*)(out + jb);                                                   \
            for (q = 0; q < K; q++) a[q] = zero;                                       \
            for (t = 0; t < nnz; t++) {                                                \
                const double x = u[nz[t]];                                             \
                const VT* col = (const VT*)(lt + nz[t] * stride + jb);                 \
                for (q = 0; q < K; q++) a[q] = a[q] + x * col[q];                      \
            }                                                                          \
            for (q = 0; q < K; q++) o[q] = (a[q] * sc + mg) - mg;                      \
        }                                                                              \
    }
#define LEADERS_BODY_BASE LEADERS_BODY(leaders_v2, LEADERS_LANES / 2)
#define LEADERS_BODY_AVX2 LEADERS_BODY(leaders_v4, LEADERS_LANES / 4)
#else
#define LEADERS_BODY_BASE                                                                   \
    {                                                                                  \
        ptrdiff_t jb, t, q;                                                            \
        for (jb = jb0; jb < j1; jb += LEADERS_LANES) {                                 \
            double a[LEADERS_LANES];                                                   \
            for (q = 0; q < LEADERS_LANES; q++) a[q] = 0.0;                            \
            for (t = 0; t < nnz; t++) {                                                \
                const double x = u[nz[t]];                                             \
                const double* col = lt + nz[t] * stride + jb;                          \
                for (q = 0; q < LEADERS_LANES; q++) a[q] = a[q] + x * col[q];          \
            }                                                                          \
            for (q = 0; q < LEADERS_LANES; q++)                                        \
                out[jb + q] = (a[q] * scale + LEADERS_MAGIC) - LEADERS_MAGIC;          \
        }                                                                              \
    }
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SIMBOX_LEADERS_NOINLINE __attribute__((noinline))
#else
#define SIMBOX_LEADERS_NOINLINE
#endif

SIMBOX_LEADERS_NOINLINE
static void leaders_products_base(LEADERS_ARGS) LEADERS_BODY_BASE

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define SIMBOX_LEADERS_X86 1
/* AVX2 only: no FMA (target "avx2" does not enable it, and contraction is off) */
SIMBOX_LEADERS_NOINLINE __attribute__((target("avx2")))
static void leaders_products_avx2(LEADERS_ARGS) LEADERS_BODY_AVX2
#endif

/* 0: SSE2 (or the plain loop off x86-64), 1: AVX2 */
static int leaders_chosen = 0;

/* The widest level this CPU and OS run. */
static int leaders_level(void)
{
#ifdef SIMBOX_LEADERS_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return 1;
#endif
    return 0;
}

/* Use `level` (at most leaders_level()) from now on; -1: the widest.  Returns the level used. */
static int leaders_set_level(int level)
{
    int best = leaders_level();
    leaders_chosen = (level < 0 || level > best) ? best : level;
    return leaders_chosen;
}

static void leaders_products(LEADERS_ARGS)
{
#ifdef SIMBOX_LEADERS_X86
    if (leaders_chosen == 1) { leaders_products_avx2(u, nz, nnz, lt, stride, jb0, j1, scale, out); return; }
#endif
    leaders_products_base(u, nz, nnz, lt, stride, jb0, j1, scale, out);
}

#endif
