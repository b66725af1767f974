# cython: language_level=3
# distutils: extra_compile_args = -ffp-contract=off
"""The site+hours leader rule of every site in one call (see deployments.py,
``_site_hours_links``).  ``-ffp-contract=off``: no product is fused with the sum after it
(an FMA would round differently), so a cosine's bits never depend on the machine's
instructions or on where its leader sits."""
import numpy as np
from libc.math cimport INFINITY, ceil, isnan, sqrt
from libc.stdint cimport int32_t, int64_t

cdef extern from *:
    """
    #if defined(__GNUC__)
    #define SIMBOX_PREFETCH(p) __builtin_prefetch(p)
    #else
    #define SIMBOX_PREFETCH(p) ((void)0)
    #endif
    """
    void prefetch "SIMBOX_PREFETCH"(const void* p) noexcept nogil

cdef extern from "_leaders.h":
    enum: LEADERS_LANES
    void leaders_products(const double* u, const Py_ssize_t* nz, Py_ssize_t nnz,
                          const double* lt, Py_ssize_t stride, Py_ssize_t jb0, Py_ssize_t j1,
                          double scale, double* out) noexcept nogil
    int leaders_set_level(int level) noexcept nogil

leaders_set_level(-1)


def set_level(int level):
    """The products' code from now on: 0 SSE2, 1 AVX2, -1 the widest this CPU runs (the
    default).  Returns the level used (the same cosines on every level: for the tests)."""
    return leaders_set_level(level)

ctypedef fused hour_t:
    int32_t
    int64_t
    double

cdef inline Py_ssize_t unit_row(const hour_t[:, ::1] hours, Py_ssize_t r, double* u,
                                Py_ssize_t* nz) noexcept nogil:
    """Row ``r`` of ``hours`` divided by its norm into ``u``; a zero row stays zero.  The
    columns where it is not zero go to ``nz``; returns how many.  The norm is the square root
    of the sum of squares, summed in four lanes: exact, so the same as numpy's in any order,
    while the sum is a whole number below 2^53 (counts)."""
    cdef Py_ssize_t w = hours.shape[1], k, m = 0
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, norm
    cdef const hour_t* h
    if w == 0:
        return 0
    h = &hours[r, 0]
    k = 0
    while k + 4 <= w:
        s0 = s0 + <double>h[k] * <double>h[k]
        s1 = s1 + <double>h[k + 1] * <double>h[k + 1]
        s2 = s2 + <double>h[k + 2] * <double>h[k + 2]
        s3 = s3 + <double>h[k + 3] * <double>h[k + 3]
        k += 4
    while k < w:
        s0 = s0 + <double>h[k] * <double>h[k]
        k += 1
    norm = sqrt((s0 + s1) + (s2 + s3))
    for k in range(w):
        nz[m] = k
        m += h[k] != 0
    for k in range(w):
        u[k] = 0.0
    if norm > 0:
        for k in range(m):
            u[nz[k]] = <double>h[nz[k]] / norm
    return m


cdef inline void fetch(const hour_t[:, ::1] hours, Py_ssize_t r, const int64_t* first,
                       const int64_t* last) noexcept nogil:
    """Ask the cache for row ``r`` of ``hours`` and its period (the rows come in site order,
    from anywhere in the table)."""
    cdef Py_ssize_t off, size = hours.shape[1] * sizeof(hour_t)
    cdef const char* p
    if size:
        p = <const char*>&hours[r, 0]
        for off in range(0, size, 64):
            prefetch(p + off)
        prefetch(p + size - 1)
    prefetch(first + r)
    prefetch(last + r)


cdef enum:
    AHEAD = 4       # rows of hours fetched ahead of their turn (they are read in site order)


cdef inline Py_ssize_t best_leader(const double* u, const Py_ssize_t* nz, Py_ssize_t nnz,
                                   const double* lt, Py_ssize_t stride, Py_ssize_t j0,
                                   Py_ssize_t j1, double* rounded, const int64_t* lf,
                                   const int64_t* ll, int64_t f, int64_t l, double scale,
                                   double rmin) noexcept nogil:
    """The first of the leaders ``j0 <= j < j1`` with the largest rounded cosine among those
    that fit the unit row ``u`` (``nz``: its hours not zero): rounded cosine at least the
    threshold (``rint(cosine x scale) >= rmin``) and periods ``[lf[j], ll[j]]`` and
    ``[f, l]`` overlapping; -1 when none fits.  The cosines: ``leaders_products`` (_leaders.h)
    into ``rounded``."""
    cdef Py_ssize_t j, best = -1
    cdef double r, br = -INFINITY
    leaders_products(u, nz, nnz, lt, stride, j0 - j0 % LEADERS_LANES, j1, scale, rounded)
    for j in range(j0, j1):
        r = rounded[j]
        if r >= rmin and r > br and f <= ll[j] and lf[j] <= l:
            best = j
            br = r
    return best


cdef double least_fit(double threshold, double scale) noexcept nogil:
    """The least whole ``r`` with ``r / scale >= threshold``: a rounded cosine ``r / scale``
    reaches the threshold exactly when ``r`` reaches it (division by ``scale`` keeps the order
    of whole numbers up to 2^51).  NaN when none does (a NaN threshold)."""
    cdef double c
    cdef int i
    if isnan(threshold):
        return threshold
    if threshold > 2.0:            # cosines are at most 1
        return INFINITY
    if threshold < -2.0:
        return -INFINITY
    c = ceil(threshold * scale)
    for i in range(4):
        if (c - 1.0) / scale >= threshold:
            c = c - 1.0
    for i in range(4):
        if c / scale < threshold:
            c = c + 1.0
    return c


def site_leaders(const hour_t[:, ::1] hours, const int64_t[::1] order,
                 const int64_t[::1] starts, const int64_t[::1] first,
                 const int64_t[::1] last, double threshold, Py_ssize_t max_leaders,
                 Py_ssize_t chunk, double scale, int64_t[:, ::1] links,
                 int64_t[::1] chunk_done, int64_t[::1] chunk_comparisons):
    """The site+hours links of every site: the leader rule of ``deployments._site_hours_links``.

    IN: ``hours`` (SIMs x hours, counts: int32, int64 or float64), ``order`` (the SIMs of each site in order of
    first activity, site after site: rows of ``hours``), ``starts`` (site ``s`` is
    ``order[starts[s]:starts[s + 1]]``), ``first``/``last`` (each SIM's active period);
    ``threshold``, ``max_leaders``, ``chunk`` (rows decided against the leaders made before
    them first), ``scale`` (cosines are rounded to ``rint(c x scale) / scale``).
    OUT: ``links`` (leader, SIM) rows, ``chunk_done`` and ``chunk_comparisons``: after each
    chunk of a site of two SIMs or more, the SIMs of such sites done and the comparisons made
    so far.  Returns ``(links, chunks, comparisons)``: the rows of ``links`` and of the chunk
    arrays filled, and the comparisons.

    A site's SIMs go in chunks of ``chunk`` rows.  Each SIM of a chunk is compared with the
    leaders made by earlier chunks and linked to the most alike that fits (rounded cosine at
    least ``threshold``, periods overlapping; ties to the earlier leader); these links come
    first, in row order.  The chunk's other SIMs, in order, are compared with the leaders
    made from them before, linked to the most alike that fits, else made a leader while the
    site has fewer than ``max_leaders``; these links follow, in row order.  Without the GIL:
    O(SIMs x leaders x non-zero hours)."""
    cdef Py_ssize_t n = hours.shape[0], w = hours.shape[1], nblocks = starts.shape[0] - 1
    cdef Py_ssize_t b, lo, hi, c0, c1, i, r, k, m, j, nl, old, cap = 0, nlinks = 0, nchunks = 0
    cdef Py_ssize_t stride, nnz, nlate, longest = 0, chunks_max = 0, done = 0
    cdef int64_t comparisons = 0
    cdef double rmin = least_fit(threshold, scale)
    if first.shape[0] != n or last.shape[0] != n:
        raise ValueError(f"site_leaders: first and last need one time per SIM ({n}), "
                         f"not {first.shape[0]} and {last.shape[0]}")
    if links.shape[1] != 2 or links.shape[0] < order.shape[0]:
        raise ValueError(f"site_leaders: links must hold {order.shape[0]} (leader, SIM) rows")
    if chunk < 1 or max_leaders < 1 or not scale > 0:
        raise ValueError(f"site_leaders: chunk ({chunk}), max_leaders ({max_leaders}) and "
                         f"scale ({scale}) must be positive")
    if nblocks < 0 or starts[0] != 0 or starts[nblocks] != order.shape[0]:
        raise ValueError("site_leaders: starts must run from 0 to the length of order")
    for b in range(nblocks):
        if starts[b + 1] < starts[b]:
            raise ValueError(f"site_leaders: starts decrease at site {b}")
        if starts[b + 1] - starts[b] >= 2:
            longest = max(longest, starts[b + 1] - starts[b])
            chunks_max += (starts[b + 1] - starts[b] + chunk - 1) // chunk
    for i in range(order.shape[0]):
        if order[i] < 0 or order[i] >= n:
            raise ValueError(f"site_leaders: order[{i}] = {order[i]} is not a row of hours ({n})")
    if chunk_done.shape[0] < chunks_max or chunk_comparisons.shape[0] < chunks_max:
        raise ValueError(f"site_leaders: the chunk arrays must hold {chunks_max} chunks")
    cap = min(max_leaders, longest)
    stride = (cap + LEADERS_LANES - 1) // LEADERS_LANES * LEADERS_LANES
    # leaders' unit rows transposed, their periods and rows; one chunk's late links; scratch
    cdef double[::1] lt = np.zeros(max(w * stride, 1), dtype=np.float64)
    cdef int64_t[::1] lf = np.zeros(max(cap, 1), dtype=np.int64)
    cdef int64_t[::1] ll = np.zeros(max(cap, 1), dtype=np.int64)
    cdef int64_t[::1] lead = np.zeros(max(cap, 1), dtype=np.int64)
    cdef int64_t[:, ::1] late = np.zeros((max(min(chunk, longest), 1), 2), dtype=np.int64)
    cdef double[::1] rounded = np.zeros(max(stride, 1), dtype=np.float64)
    cdef double[::1] u = np.zeros(max(w, 1), dtype=np.float64)
    cdef Py_ssize_t[::1] nz = np.zeros(max(w, 1), dtype=np.intp)
    with nogil:
        for b in range(nblocks):
            lo, hi = starts[b], starts[b + 1]
            if hi - lo < 2:
                continue
            nl = 0
            c0 = lo
            while c0 < hi:
                c1 = min(c0 + chunk, hi)
                old = nl                    # the leaders of earlier chunks
                nlate = 0
                for i in range(c0, c1):
                    if i + AHEAD < hi:
                        fetch(hours, order[i + AHEAD], &first[0], &last[0])
                    r = order[i]
                    nnz = unit_row(hours, r, &u[0], &nz[0])
                    j = -1
                    if old:                 # the leaders of earlier chunks first
                        comparisons += old
                        j = best_leader(&u[0], &nz[0], nnz, &lt[0], stride, 0, old, &rounded[0],
                                        &lf[0], &ll[0], first[r], last[r], scale, rmin)
                    if j < 0 and nl > old:  # then those this chunk made before the row
                        comparisons += nl - old
                        j = best_leader(&u[0], &nz[0], nnz, &lt[0], stride, old, nl, &rounded[0],
                                        &lf[0], &ll[0], first[r], last[r], scale, rmin)
                    if j >= old:            # a leader of this chunk: its links follow
                        late[nlate, 0] = lead[j]
                        late[nlate, 1] = r
                        nlate += 1
                    elif j >= 0:
                        links[nlinks, 0] = lead[j]
                        links[nlinks, 1] = r
                        nlinks += 1
                    elif nl < cap:          # a new leader
                        for k in range(w):
                            lt[k * stride + nl] = u[k]
                        lf[nl] = first[r]
                        ll[nl] = last[r]
                        lead[nl] = r
                        nl += 1
                for m in range(nlate):
                    links[nlinks, 0] = late[m, 0]
                    links[nlinks, 1] = late[m, 1]
                    nlinks += 1
                done += c1 - c0
                chunk_done[nchunks] = done
                chunk_comparisons[nchunks] = comparisons
                nchunks += 1
                c0 = c1
    return nlinks, nchunks, comparisons
