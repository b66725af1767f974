/* The exit leaf of one tree for a block of rows, by leaf masks (_trees.pyx).
 *
 * A tree of at most 32 leaves numbers its leaves 0..31.  Each split node holds two
 * masks: `keep_left`, every leaf but those under its right child, and `keep_right`,
 * every leaf but those under its left child.  A row's mask starts at all ones and
 * is ANDed, at EVERY split node of the tree, with the mask of the side the row
 * takes there: a leaf off the row's path lies under the other side of some node of
 * the path and is cleared there; nodes off the path only clear leaves under
 * themselves.  So exactly the bit of the row's leaf is left (for a tree: each node
 * but the root the child of exactly one node, which trees.py checks before it
 * hands a tree to this kernel).  Every row of the block does the same work in the
 * same order, so the loop over rows is vectorised (the QuickScorer idea, without
 * its early exits; Lucchese et al., SIGIR 2015).
 *
 * masks_tree(...) is compiled three times: for every x86-64 (SSE2), for AVX2 and for
 * AVX-512 (BW/VL); masks_level() picks the widest the CPU and OS support, and
 * masks_set_level() lets the tests run each (integers only: the same masks on all).
 */
#ifndef SIMBOX_TREES_MASKS_H
#define SIMBOX_TREES_MASKS_H
#include <stdint.h>
#include <stddef.h>

typedef struct {
    uint32_t keep_left;    /* the leaves kept when the row goes left */
    uint32_t keep_right;   /* the leaves kept when it goes right */
    uint16_t column;       /* the feature tested (a column of the code block) */
    uint8_t shift;         /* 1 when MISSING (255) goes left: codes are tested plus one, mod 256 */
    uint8_t threshold;     /* go left when (uint8)(code + shift) <= threshold */
} mask_node_t;

/* m[r] for the rows 0..rows of the block xc (column-major: feature f's codes at
 * xc[f * stride .. f * stride + rows]): the mask of the tree's splits nd[0..n_split]. */
#define SIMBOX_MASKS_BODY                                                          \
    {                                                                              \
        ptrdiff_t s, r;                                                            \
        for (r = 0; r < rows; r++) m[r] = 0xffffffffu;                             \
        for (s = 0; s < n_split; s++) {                                            \
            const uint8_t* x = xc + (ptrdiff_t)nd[s].column * stride;              \
            const uint8_t sh = nd[s].shift, t = nd[s].threshold;                   \
            const uint32_t kl = nd[s].keep_left, kr = nd[s].keep_right;            \
            for (r = 0; r < rows; r++)                                             \
                m[r] &= ((uint8_t)(x[r] + sh) <= t) ? kl : kr;                     \
        }                                                                          \
    }
#define SIMBOX_MASKS_ARGS const mask_node_t* nd, ptrdiff_t n_split, const uint8_t* xc, \
                          ptrdiff_t stride, ptrdiff_t rows, uint32_t* m

/* Never inlined: inlined into its caller, GCC 12 gave the SSE2 loop up (scalar, 5x slower). */
#if defined(__GNUC__) || defined(__clang__)
#define SIMBOX_MASKS_NOINLINE __attribute__((noinline))
#else
#define SIMBOX_MASKS_NOINLINE
#endif

SIMBOX_MASKS_NOINLINE
static void masks_tree_base(SIMBOX_MASKS_ARGS) SIMBOX_MASKS_BODY

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define SIMBOX_MASKS_X86 1
SIMBOX_MASKS_NOINLINE __attribute__((target("avx2")))
static void masks_tree_avx2(SIMBOX_MASKS_ARGS) SIMBOX_MASKS_BODY
SIMBOX_MASKS_NOINLINE __attribute__((target("avx2,avx512f,avx512bw,avx512vl")))
static void masks_tree_avx512(SIMBOX_MASKS_ARGS) SIMBOX_MASKS_BODY
#endif

/* 0: SSE2 (or the plain loop off x86-64), 1: AVX2, 2: AVX-512; -1: not chosen yet */
static int masks_chosen = -1;

/* The widest level this CPU and OS run. */
static int masks_level(void)
{
#ifdef SIMBOX_MASKS_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) return 2;
    if (__builtin_cpu_supports("avx2")) return 1;
#endif
    return 0;
}

/* Use `level` (at most masks_level()) from now on; -1: the widest.  Returns the level used. */
static int masks_set_level(int level)
{
    int best = masks_level();
    masks_chosen = (level < 0 || level > best) ? best : level;
    return masks_chosen;
}

/* The masks of a tree (masks_set_level must have been called once). */
static void masks_tree(SIMBOX_MASKS_ARGS)
{
#ifdef SIMBOX_MASKS_X86
    if (masks_chosen == 2) { masks_tree_avx512(nd, n_split, xc, stride, rows, m); return; }
    if (masks_chosen == 1) { masks_tree_avx2(nd, n_split, xc, stride, rows, m); return; }
#endif
    masks_tree_base(nd, n_split, xc, stride, rows, m);
}

/* The leaf a row's mask names: its lowest set bit (bit 31 when the mask is empty, which
 * no checked tree gives: still one of the tree's 32 slots). */
static inline int masks_leaf(uint32_t m)
{
    m |= 0x80000000u;
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctz(m);
#else
    int i = 0;
    while (!(m & 1u)) { m >>= 1; i++; }
    return i;
#endif
}

#endif
