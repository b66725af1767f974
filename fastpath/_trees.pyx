# cython: language_level=3
"""Sum of the leaf values of a tree ensemble, one row at a time (see trees.py).

A few rows at a time walk every tree while their features stay in the cache:
several times faster than one tree over all rows (scikit-learn's order), which
reads the whole input again for every tree.  The caller (``trees.Ensemble``) has checked the nodes:
children lie after their parent inside the same tree and features inside the row,
so every walk ends at a leaf and every read is in bounds.
"""
from libc.math cimport isnan
from libc.stdint cimport int32_t, int64_t, uint8_t


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


def raw_predict(const double[:, :] X,            # IN (rows, features), any layout
                const node_t[::1] nodes,         # IN all trees' nodes, one after another
                const int64_t[::1] roots,        # IN index of each tree's root
                const int32_t[::1] output,       # IN the output column of each tree
                const double[::1] baseline,      # IN the starting value of each column
                double[:, ::1] out):             # OUT (rows, columns)
    cdef Py_ssize_t n = X.shape[0], k = baseline.shape[0], t_count = roots.shape[0]
    cdef Py_ssize_t i0, j, rows, t, c
    cdef int64_t at[ROWS]
    cdef const node_t* nd
    cdef const node_t* base = &nodes[0]
    cdef double v
    cdef bint walking, left
    with nogil:
        i0 = 0
        while i0 < n:
            rows = min(<Py_ssize_t>ROWS, n - i0)
            for j in range(rows):
                for c in range(k):
                    out[i0 + j, c] = 0.0 + baseline[c]   # as scikit-learn: zeros, then += baseline
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
