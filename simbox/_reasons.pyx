# cython: language_level=3
"""The reasons' places picked for every SIM (see reasons.py, ``_pick_all``)."""
import numpy as np
from libc.math cimport fabs, isnan
from libc.stdint cimport int64_t, uint8_t


def pick_places(const double[:, :] values, const double[:, :] scores, const int64_t[::1] rows,
                const int64_t[::1] tie, const int64_t[::1] group_of, double floor,
                const int64_t[::1] limit, int64_t[::1] count, int64_t[:, ::1] picked,
                uint8_t[:, ::1] used, median=None, scale=None, direction=None,
                double cap=np.inf):
    """For each SIM (row of ``values``) ``i`` whose scores are ``scores[rows[i]]`` (none when
    ``rows[i] < 0``), until it has ``limit[i]`` places (``count[i]``, updated): the features
    ``j`` scoring above ``floor`` (never NaN) in the order of their score, higher first, ties
    by ``tie[j]`` (smaller first), each taken unless its value is NaN or its group
    ``group_of[j]`` is already worded (``used[i, g]``, updated); a taken feature goes to
    ``picked[i, count[i]]``.

    With ``median``, ``scale`` and ``direction`` (one float per feature), ``scores`` holds
    the features' values on the reference statistics' scale (``log1p`` for counts) and a
    feature scores its robust z-score ``(s - median) / scale``, times ``direction``
    (0: its absolute value), at most ``cap`` (NaN stays NaN): the deviations, made per SIM
    as they are picked.  Without the GIL: O(features) per SIM and place."""
    cdef Py_ssize_t n = values.shape[0], f = values.shape[1], i, j, t, best, m, r
    cdef int64_t[::1] cand = np.empty(max(f, 1), dtype=np.int64)
    cdef double[::1] sc = np.empty(max(f, 1), dtype=np.float64)
    cdef const double[::1] med, scl, dirn
    cdef bint deviations = median is not None
    cdef double s, sb
    cdef int64_t g
    if scores.shape[1] != f or picked.shape[0] != n or count.shape[0] != n or \
            limit.shape[0] != n or used.shape[0] != n or rows.shape[0] != n or \
            tie.shape[0] != f or group_of.shape[0] != f:
        raise ValueError("pick_places: the arrays' shapes do not agree")
    for i in range(n):
        if rows[i] >= scores.shape[0]:
            raise ValueError(f"pick_places: SIM {i}'s score row {rows[i]} is out of range")
    for j in range(f):
        if group_of[j] < 0 or group_of[j] >= used.shape[1]:
            raise ValueError(f"pick_places: feature {j}'s group {group_of[j]} is out of range")
    if deviations:
        med = np.ascontiguousarray(median, dtype=np.float64)
        scl = np.ascontiguousarray(scale, dtype=np.float64)
        dirn = np.ascontiguousarray(direction, dtype=np.float64)
        if med.shape[0] != f or scl.shape[0] != f or dirn.shape[0] != f:
            raise ValueError("pick_places: median, scale and direction need one value per feature")
    with nogil:
        for i in range(n):
            r = rows[i]
            if r < 0 or count[i] >= limit[i] or count[i] >= picked.shape[1]:
                continue
            m = 0
            for j in range(f):          # the candidates: above floor, a value, a group free
                s = scores[r, j]
                if deviations:          # as reasons._deviation_array, operation by operation
                    s = (s - med[j]) / scl[j]
                    if dirn[j] != 0:
                        s = s * dirn[j]
                    else:
                        s = fabs(s)
                    if s > cap:
                        s = cap
                if s > floor and not isnan(values[i, j]) and not used[i, group_of[j]]:
                    cand[m] = j
                    sc[j] = s
                    m += 1
            while m > 0 and count[i] < limit[i] and count[i] < picked.shape[1]:
                best = 0
                sb = sc[cand[0]]
                for t in range(1, m):
                    s = sc[cand[t]]
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
