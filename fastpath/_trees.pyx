# cython: language_level=3
"""Sum of the leaf values of a tree ensemble, one row at a time (see trees.py).

A few rows at a time walk every tree while their features stay in the cache:
several times faster than one tree over all rows (scikit-learn's order), which
reads the whole input again for every tree.  The caller (``trees.Ensemble``) has checked the nodes:
children lie after their parent inside the same tree and features inside the row,
so every walk ends at a leaf and every read is in bounds.  Byte codes (``CodeTrees``)
are scored a block of rows at a time, tree after tree, by leaf masks
(``_trees_masks.h``) for the trees that have them, else by the walk.
"""
from libc.math cimport isnan
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t
from libc.stdlib cimport calloc, free, malloc


cdef packed struct node_t:
    double value            # leaf value (leaves only)
    double threshold        # go left when x <= threshold
    int32_t feature         # column of the row tested (split nodes only)
    int32_t left            # absolute index of the left child in the node array
    int32_t right           # absolute index of the right child
    uint8_t missing_left    # a NaN goes left (else right)
    uint8_t is_leaf


cdef enum:
    ROWS = 8      # rows walked together: their walks are independent, the CPU overlaps them


cdef inline void start_rows(double[:, ::1] out, Py_ssize_t i0, Py_ssize_t rows,
                            const double[::1] baseline) noexcept nogil:
    """Rows ``i0:i0 + rows`` of ``out`` set to the baseline, as scikit-learn starts them:
    zeros, then += baseline (so -0.0 becomes 0.0 alike)."""
    cdef Py_ssize_t j, c
    for j in range(rows):
        for c in range(baseline.shape[0]):
            out[i0 + j, c] = 0.0 + baseline[c]


def raw_predict(const double[:, :] X,            # IN (rows, features), any layout
                const node_t[::1] nodes,         # IN all trees' nodes, one after another
                const int64_t[::1] roots,        # IN index of each tree's root
                const int32_t[::1] output,       # IN the output column of each tree
                const double[::1] baseline,      # IN the starting value of each column
                double[:, ::1] out):             # OUT (rows, columns)
    cdef Py_ssize_t n = X.shape[0], t_count = roots.shape[0]
    cdef Py_ssize_t i0, j, rows, t
    cdef int64_t at[ROWS]
    cdef const node_t* nd
    cdef const node_t* base = &nodes[0]
    cdef double v
    cdef bint walking, left
    with nogil:
        i0 = 0
        while i0 < n:
            rows = min(<Py_ssize_t>ROWS, n - i0)
            start_rows(out, i0, rows, baseline)
            for t in range(t_count):
                for j in range(rows):
                    at[j] = roots[t]
                walking = True
                while walking:          # one step down for each row not yet at a leaf
                    walking = False
                    for j in range(rows):
                        nd = base + at[j]
                        if not nd.is_leaf:
                            v = X[i0 + j, nd.feature]
                            # without branches (a conditional move): NaN goes missing_left's way
                            left = (v <= nd.threshold) | (isnan(v) & (nd.missing_left != 0))
                            at[j] = nd.left if left else nd.right
                            walking = True
                for j in range(rows):
                    out[i0 + j, output[t]] += base[at[j]].value
            i0 += rows


def bin_codes(const double[:, :] X,              # IN (rows, features), any layout
              const double[::1] edges,           # IN every column's sorted edges, one after another
              const int64_t[::1] offsets,        # IN column j's edges: edges[offsets[j]:offsets[j+1]]
              double[:, ::1] out):               # OUT (rows, features): the bin of each value
    """Each value's bin among its column's edges: the number of edges below it (numpy's
    ``searchsorted(edges, v, side="left")``); NaN stays NaN.  The caller checked that
    ``offsets`` has one more entry than the columns and stays inside ``edges``."""
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], i, j
    cdef int64_t lo, hi, mid, first
    cdef double v
    with nogil:
        for i in range(n):
            for j in range(m):
                v = X[i, j]
                if isnan(v):
                    out[i, j] = v
                    continue
                first = offsets[j]
                lo = 0
                hi = offsets[j + 1] - first
                while lo < hi:             # the first edge at or above v
                    mid = (lo + hi) >> 1
                    if edges[first + mid] < v:
                        lo = mid + 1
                    else:
                        hi = mid
                out[i, j] = <double>lo


# ---- small codes: the trees over the quantile bins as bytes ------------------------------

cdef packed struct code_node_t:
    int32_t left            # absolute index of the left child (split nodes only)
    int32_t right           # absolute index of the right child
    int16_t feature         # column of the row tested (split nodes only)
    int16_t threshold       # go left when (code + shift) % 256 <= threshold
    uint8_t shift           # 1 when MISSING goes left (it becomes 0), else 0 (it stays 255)
    uint8_t is_leaf
    uint8_t pad[2]          # 16 bytes: a node never straddles a cache line


cdef enum:
    MISSING = 255           # the code of NaN (a bin index is at most 254)
    CODE_ROWS = 8


cdef extern from "_trees_masks.h" nogil:
    ctypedef struct mask_node_t:
        uint32_t keep_left      # the leaves kept when the row goes left
        uint32_t keep_right     # the leaves kept when it goes right
        uint16_t column         # the feature tested
        uint8_t shift           # 1 when MISSING goes left (codes tested plus one, mod 256)
        uint8_t threshold       # go left when (uint8)(code + shift) <= threshold
    void masks_tree(const mask_node_t* nd, Py_ssize_t n_split, const uint8_t* xc,
                    Py_ssize_t stride, Py_ssize_t rows, uint32_t* m)
    int masks_leaf(uint32_t m)
    int c_masks_set_level "masks_set_level"(int level)


cdef enum:
    BLOCK = 256             # rows whose codes (column-major) and masks stay in L1 while every tree passes
    MASK_MIN_ROWS = 64      # a block of fewer rows walks every tree (the masks cost every split)
    MASK_ROUND = 64         # masks made for a multiple of 64 rows (the widest vector loop's step)
    MASK_LEAVES = 32        # the leaves of a tree scored by masks, at most (one uint32)

c_masks_set_level(-1)


def masks_set_level(int level):
    """The vector width of the mask kernel: 0 SSE2, 1 AVX2, 2 AVX-512, -1 the widest this
    CPU runs (the default); a level the CPU lacks gives the widest.  Returns the level used."""
    return c_masks_set_level(level)


cdef inline void walk_tree(const uint8_t* x, Py_ssize_t m, Py_ssize_t rows,
                           const code_node_t* base, int64_t root, const double* values,
                           double* out, Py_ssize_t k) noexcept nogil:
    """``rows`` rows of codes (``x``, ``m`` a row) down one tree from ``root``, CODE_ROWS at
    a time, each adding its leaf's value to its row of ``out`` (``k`` a row)."""
    cdef Py_ssize_t g0 = 0, j, grows
    cdef int64_t at[CODE_ROWS]
    cdef const uint8_t* row[CODE_ROWS]
    cdef const code_node_t* nd
    cdef int v
    cdef bint walking
    while g0 < rows:
        grows = min(<Py_ssize_t>CODE_ROWS, rows - g0)
        for j in range(grows):
            at[j] = root
            row[j] = x + (g0 + j) * m
        walking = True
        while walking:          # one step down for each row not yet at a leaf
            walking = False
            for j in range(grows):
                nd = base + at[j]
                if not nd.is_leaf:
                    v = row[j][nd.feature]
                    at[j] = nd.left if ((v + nd.shift) & 255) <= nd.threshold else nd.right
                    walking = True
        for j in range(grows):
            out[(g0 + j) * k] += values[at[j]]
        g0 += grows


cdef class CodeTrees:
    """The trees packed for byte codes (``trees.Ensemble`` makes it, from checked nodes):
    held here so that a call passes only its rows (a small call costs little more than
    its walk)."""
    cdef const code_node_t[::1] nodes     # all trees' nodes, one after another
    cdef const double[::1] values         # each node's leaf value
    cdef const int64_t[::1] roots         # index of each tree's root
    cdef const int32_t[::1] output        # the output column of each tree
    cdef const double[::1] baseline       # the starting value of each column
    cdef const mask_node_t[::1] mask_nodes  # the split nodes of the trees by masks
    cdef const int64_t[::1] mask_start    # tree t's: mask_nodes[mask_start[t]:mask_start[t + 1]]
    cdef const uint8_t[::1] by_masks      # 1: tree t by masks, 0: walked
    cdef const double[::1] leaves         # leaf i of tree t (by masks): leaves[32 t + i]

    def __init__(self, const code_node_t[::1] nodes, const double[::1] values,
                 const int64_t[::1] roots, const int32_t[::1] output,
                 const double[::1] baseline, const mask_node_t[::1] mask_nodes,
                 const int64_t[::1] mask_start, const uint8_t[::1] by_masks,
                 const double[::1] leaves):
        self.nodes, self.values, self.roots, self.output = nodes, values, roots, output
        self.baseline, self.mask_nodes, self.mask_start = baseline, mask_nodes, mask_start
        self.by_masks, self.leaves = by_masks, leaves

    def raw_predict(self, const uint8_t[:, ::1] X,      # IN (rows, features) codes, MISSING for NaN
                    double[:, ::1] out):                # OUT (rows, columns)
        """:func:`raw_predict` over byte codes: the same leaves, so the same sums, bit for
        bit (a code ``c`` goes left at ``threshold`` exactly when ``float(c) <= float
        threshold``).

        Blocks of BLOCK rows: the block's codes turned column-major, then each tree in
        turn adds its leaf's value to every row of the block (so each row's sum in the
        trees' order): by masks (``_trees_masks.h``) the trees of ``by_masks``, when the
        block holds MASK_MIN_ROWS rows or more; else a walk down the nodes.  The caller
        checked the nodes (children after their parent in the tree, features inside the
        row) and built the masks of trees only (each node but the root the child of one)."""
        cdef Py_ssize_t n = X.shape[0], m = X.shape[1], k = out.shape[1]
        cdef Py_ssize_t t_count = self.roots.shape[0]
        cdef Py_ssize_t i0, j, f, rows, t, c
        cdef const code_node_t* base = &self.nodes[0]
        cdef const mask_node_t* mbase = &self.mask_nodes[0] if self.mask_nodes.shape[0] else NULL
        cdef const double* values = &self.values[0]
        cdef const int64_t* roots = &self.roots[0]
        cdef const int32_t* output = &self.output[0]
        cdef const int64_t* mask_start = &self.mask_start[0]
        cdef const uint8_t* by_masks = &self.by_masks[0]
        cdef const double* lv
        cdef Py_ssize_t block = min(<Py_ssize_t>BLOCK, n), stride
        cdef uint8_t* xc
        cdef uint32_t* msk
        if n == 0:
            return
        stride = (block + MASK_ROUND - 1) // MASK_ROUND * MASK_ROUND
        # rows past a block's end hold codes (zeros, or an earlier block's): masks made and unused
        xc = <uint8_t*>calloc(stride * m + 1, 1)
        msk = <uint32_t*>malloc(stride * sizeof(uint32_t))
        if xc == NULL or msk == NULL:
            free(xc)
            free(msk)
            raise MemoryError(f"raw_predict_codes: no memory for a block of {block} rows")
        with nogil:
            i0 = 0
            while i0 < n:
                rows = min(block, n - i0)
                start_rows(out, i0, rows, self.baseline)
                stride = (rows + MASK_ROUND - 1) // MASK_ROUND * MASK_ROUND
                if rows >= MASK_MIN_ROWS:
                    for j in range(rows):
                        for f in range(m):
                            xc[f * stride + j] = X[i0 + j, f]
                for t in range(t_count):
                    c = output[t]
                    if rows >= MASK_MIN_ROWS and by_masks[t]:
                        masks_tree(mbase + mask_start[t], mask_start[t + 1] - mask_start[t],
                                   xc, stride, stride, msk)
                        lv = &self.leaves[MASK_LEAVES * t]
                        for j in range(rows):
                            out[i0 + j, c] += lv[masks_leaf(msk[j])]
                    else:
                        walk_tree(&X[i0, 0], m, rows, base, roots[t], values, &out[i0, c], k)
                i0 += rows
        free(xc)
        free(msk)


def bin_columns(list xs,                                 # IN each column's values (float64)
                list edges,                              # IN each column's sorted edges (<= 254)
                list masks,                              # IN each column's mask (uint8; empty: none)
                uint8_t[:, ::1] out,                     # OUT (rows, features) codes
                Py_ssize_t lo, Py_ssize_t hi):           # IN the rows to fill
    """Rows ``lo:hi`` of ``out``: in column ``j`` each value of ``xs[j]`` binned among
    ``edges[j]`` (the number of edges below it, as :func:`bin_codes`), MISSING for NaN and
    for the rows ``masks[j]`` marks.  Every column in one pass without the GIL (a call per
    column would take the GIL back between columns: behind another thread holding it, up
    to a switch interval each).  The caller checked the lengths (every column ``out``'s
    rows, a mask those or none) and that each edges array holds at most 254 values."""
    cdef Py_ssize_t f = len(xs), j, i, m, a, b, mid
    cdef const double[::1] xv
    cdef const double[::1] ev
    cdef const uint8_t[::1] mv
    cdef double v
    cdef const double* x
    cdef const double* e
    cdef const uint8_t* k
    if len(edges) != f or len(masks) != f or out.shape[1] < f:
        raise ValueError("bin_columns: one values, edges and mask array per column of out")
    if not (0 <= lo <= hi <= out.shape[0]):
        raise ValueError(f"bin_columns: rows {lo}:{hi} outside the {out.shape[0]} of out")
    if hi == lo or f == 0:
        return
    cdef const double** xp = <const double**>malloc(f * sizeof(double*))
    cdef const double** ep = <const double**>malloc(f * sizeof(double*))
    cdef const uint8_t** kp = <const uint8_t**>malloc(f * sizeof(uint8_t*))
    cdef Py_ssize_t* ms = <Py_ssize_t*>malloc(f * sizeof(Py_ssize_t))
    if xp == NULL or ep == NULL or kp == NULL or ms == NULL:
        free(xp); free(ep); free(kp); free(ms)
        raise MemoryError()
    try:
        for j in range(f):           # (the lists hold the arrays: their data stay in place)
            xv = xs[j]
            ev = edges[j]
            mv = masks[j]
            if xv.shape[0] != out.shape[0] or mv.shape[0] not in (0, out.shape[0]):
                raise ValueError(f"bin_columns: column {j} has {xv.shape[0]} values and a mask "
                                 f"of {mv.shape[0]} for {out.shape[0]} rows")
            xp[j] = &xv[0]
            ms[j] = ev.shape[0]
            ep[j] = &ev[0] if ev.shape[0] else NULL
            kp[j] = &mv[0] if mv.shape[0] else NULL
        with nogil:
            for j in range(f):
                x, e, k, m = xp[j], ep[j], kp[j], ms[j]
                for i in range(lo, hi):
                    v = x[i]
                    if isnan(v) or (k != NULL and k[i]):
                        out[i, j] = MISSING
                        continue
                    a = 0
                    b = m
                    while a < b:
                        mid = (a + b) >> 1
                        if e[mid] < v:
                            a = mid + 1
                        else:
                            b = mid
                    out[i, j] = <uint8_t>a
    finally:
        free(xp); free(ep); free(kp); free(ms)
