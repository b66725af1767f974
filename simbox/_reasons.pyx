# cython: language_level=3
"""The reasons' places picked for every SIM (see reasons.py, ``_pick_all``)."""
import numpy as np
from libc.math cimport isnan
from libc.stdint cimport int64_t, uint8_t


def pick_places(const double[:, :] values, const double[:, :] scores, const int64_t[::1] tie,
                const int64_t[::1] group_of, double floor, const int64_t[::1] limit,
                int64_t[::1] count, int64_t[:, ::1] picked, uint8_t[:, ::1] used):
    """For each SIM (row) ``i``, until it has ``limit[i]`` places (``count[i]``, updated):
    the features ``j`` with ``scores[i, j] > floor`` (never NaN) in the order of their score,
    higher first, ties by ``tie[j]`` (smaller first), each taken unless its value is NaN or
    its group ``group_of[j]`` is already worded (``used[i, g]``, updated); a taken feature
    goes to ``picked[i, count[i]]``.  Without the GIL: O(features) per SIM and place."""
    cdef Py_ssize_t n = scores.shape[0], f = scores.shape[1], i, j, t, best, m
    cdef int64_t[::1] cand = np.empty(max(f, 1), dtype=np.int64)
    cdef double s, sb
    cdef int64_t g
    if values.shape[0] != n or values.shape[1] != f or picked.shape[0] != n or \
            count.shape[0] != n or limit.shape[0] != n or used.shape[0] != n or \
            tie.shape[0] != f or group_of.shape[0] != f:
        raise ValueError("pick_places: the arrays' shapes do not agree")
    for j in range(f):
        if group_of[j] < 0 or group_of[j] >= used.shape[1]:
            raise ValueError(f"pick_places: feature {j}'s group {group_of[j]} is out of range")
    with nogil:
        for i in range(n):
            if count[i] >= limit[i] or count[i] >= picked.shape[1]:
                continue
            m = 0
            for j in range(f):          # the candidates: above floor, a value, a group free
                s = scores[i, j]
                if s > floor and not isnan(values[i, j]) and not used[i, group_of[j]]:
                    cand[m] = j
                    m += 1
            while m > 0 and count[i] < limit[i] and count[i] < picked.shape[1]:
                best = 0
                sb = scores[i, cand[0]]
                for t in range(1, m):
                    s = scores[i, cand[t]]
                    if s > sb or (s == sb and tie[cand[t]] < tie[cand[best]]):
                        best, sb = t, s
                j = cand[best]
                m -= 1
                cand[best] = cand[m]
                g = group_of[j]
                if used[i, g]:          # a feature of the same group came first
                    continue
                used[i, g] = 1
                picked[i, count[i]] = j
                count[i] += 1
