# cython: language_level=3
"""Kernels of co-movement (``comove.py``).

``matched_peers`` pairs the moves of one bucket of site pairs, sorted by (site pair,
time): for each move that is not crowded, the distinct other IMSIs with a move of the
same site pair within ``match_s``.  ``count_runs`` and ``merge_counts`` count them per
(IMSI, peer); ``tally`` turns the counts into ``comove_peers`` and the largest count.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t

cnp.import_array()


def matched_peers(const int64_t[::1] vs, const int64_t[::1] rs, int64_t match_s,
                  Py_ssize_t crowd, int64_t n):
    """One key ``row * n + peer`` per distinct (move, peer): the moves, unordered.

    IN vs: the moves' (site pair code, time) values, sorted; values of two site pairs
    are more than ``2 * match_s`` apart.  IN rs: the row (IMSI) of each move, in the
    same order, in ``0..n-1``.  A move is crowded when more than ``crowd`` moves
    (itself included) lie within ``match_s`` of it; crowded moves match nothing.
    A move matches the moves of other rows within ``match_s`` of it: its peers.
    """
    cdef Py_ssize_t m = vs.shape[0], i, j, k = 0, first, lo = 0, hi = 0, d
    cdef int64_t bound = 0, r, key
    cdef bint dup
    cdef uint8_t[::1] free = np.zeros(m, np.uint8)
    with nogil:
        # pass 1: the crowded moves, and the most keys pass 2 can write
        for i in range(m):
            while lo < i and vs[lo] < vs[i] - match_s:
                lo += 1
            while hi < m and vs[hi] <= vs[i] + match_s:
                hi += 1
            d = hi - lo
            if 1 < d <= crowd:
                free[i] = 1
                bound += d - 1
    # pages of ``out`` never written cost no memory: the bound may be loose
    cdef int64_t[::1] out = np.empty(bound, np.int64)
    with nogil:
        lo = 0
        hi = 0
        for i in range(m):
            while lo < i and vs[lo] < vs[i] - match_s:
                lo += 1
            while hi < m and vs[hi] <= vs[i] + match_s:
                hi += 1
            if not free[i]:
                continue
            r = rs[i]
            first = k
            for j in range(lo, hi):
                if not free[j] or rs[j] == r:
                    continue
                key = r * n + rs[j]
                dup = False
                for d in range(first, k):     # at most crowd - 1 peers so far
                    if out[d] == key:
                        dup = True
                        break
                if not dup:
                    out[k] = key
                    k += 1
    return np.asarray(out)[:k]


def tally(const int64_t[::1] keys, const int64_t[::1] shared, int64_t n,
          int64_t min_shared, double[::1] peers, double[::1] best):
    """Per (row, peer) key ``row * n + peer`` with ``shared`` moves of the row matched.

    OUT peers[row] += 1 for each peer with ``shared >= min_shared``; OUT best[row]:
    the largest ``shared`` of the row (at least its value on entry).
    """
    cdef Py_ssize_t i, r
    cdef int64_t c
    with nogil:
        for i in range(keys.shape[0]):
            r = keys[i] // n
            c = shared[i]
            if c >= min_shared:
                peers[r] += 1.0
            if c > best[r]:
                best[r] = <double>c


def count_runs(const int64_t[::1] x):
    """The distinct values of a sorted array and how often each occurs: ``(keys, counts)``."""
    cdef Py_ssize_t m = x.shape[0], i, k = 0
    keys_a = np.empty(m, np.int64)
    counts_a = np.empty(m, np.int64)
    cdef int64_t[::1] keys = keys_a, counts = counts_a
    with nogil:
        for i in range(m):
            if k and keys[k - 1] == x[i]:
                counts[k - 1] += 1
            else:
                keys[k] = x[i]
                counts[k] = 1
                k += 1
    return keys_a[:k], counts_a[:k]


def merge_counts(const int64_t[::1] ka, const int64_t[::1] ca,
                 const int64_t[::1] kb, const int64_t[::1] cb):
    """Two ``(keys, counts)`` with sorted distinct keys as one: counts of a key summed."""
    cdef Py_ssize_t na = ka.shape[0], nb = kb.shape[0], i = 0, j = 0, k = 0
    keys_a = np.empty(na + nb, np.int64)
    counts_a = np.empty(na + nb, np.int64)
    cdef int64_t[::1] keys = keys_a, counts = counts_a
    with nogil:
        while i < na or j < nb:
            if j == nb or (i < na and ka[i] < kb[j]):
                keys[k] = ka[i]
                counts[k] = ca[i]
                i += 1
            elif i == na or kb[j] < ka[i]:
                keys[k] = kb[j]
                counts[k] = cb[j]
                j += 1
            else:
                keys[k] = ka[i]
                counts[k] = ca[i] + cb[j]
                i += 1
                j += 1
            k += 1
    return keys_a[:k], counts_a[:k]
