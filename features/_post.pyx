# cython: language_level=3
"""Kernels of the post-processing (``post.py``): numeric neighbours.

``close_pairs`` finds, in (group, row) pairs sorted by (group, value), the pairs of
distinct rows of one group whose values are at most ``distance`` apart;
``distinct_per_row`` counts the distinct peers of each row.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t

cnp.import_array()


def close_pairs(const int64_t[::1] group, const int64_t[::1] rows, const int64_t[::1] v,
                int64_t distance, int64_t n):
    """Keys ``a * n + b`` and ``b * n + a`` of each close pair of rows: unordered, repeats.

    IN group, rows, v: one entry per (group, row), sorted by (group, v); rows in
    ``0..n-1``.  Rows ``a != b`` are close when one group holds both and their values
    differ by at most ``distance``.
    """
    cdef Py_ssize_t m = group.shape[0], i, j, k = 0
    cdef int64_t count = 0
    with nogil:        # pass 1: how many keys
        for i in range(m):
            j = i + 1
            while j < m and group[j] == group[i] and v[j] - v[i] <= distance:
                if rows[j] != rows[i]:
                    count += 2
                j += 1
    out_a = np.empty(count, np.int64)
    cdef int64_t[::1] out = out_a
    with nogil:
        for i in range(m):
            j = i + 1
            while j < m and group[j] == group[i] and v[j] - v[i] <= distance:
                if rows[j] != rows[i]:
                    out[k] = rows[i] * n + rows[j]
                    out[k + 1] = rows[j] * n + rows[i]
                    k += 2
                j += 1
    return out_a


def distinct_per_row(const int64_t[::1] keys, int64_t n, double[::1] out):
    """OUT out[a] += 1 for each distinct key ``a * n + b`` of a sorted array."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(keys.shape[0]):
            if i == 0 or keys[i] != keys[i - 1]:
                out[keys[i] // n] += 1.0
