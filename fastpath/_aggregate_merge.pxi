# The merge of partials (issue 16), included by _aggregate.pyx after
# _aggregate_partial.pxi: ``combine_partials`` merges the partials of consecutive slices
# into one partial per subscriber; ``finish_partials`` turns partials into the kernel's
# outputs (the rows and tables of reduce_partition), with the kernel's arithmetic where it
# decides bit for bit (counts, ratios, entropies in the kernel's order, quantiles).  The
# standard deviations of durations and gaps sum their squared deviations in value order,
# not call order (equal to about 1e-15).

# the scalars of a partial that add
cdef int SUMMED[24]
for _k, _f in enumerate((P_M, P_N_MOC, P_N_ANS, P_N_MTC, P_N_SMO, P_N_SMT, P_N_DATA, P_N_ZERO,
                         P_N_SHORT, P_N_NIGHT_MOC, P_N_NIGHT, P_N_SHORT_MT, P_N_WEEKEND_MOC,
                         P_N_OFFICE_MOC, P_N_EVENING_MOC, P_N_HOURS, P_SUM_D, P_CALLBACKS,
                         P_IMEI_CHANGES, P_N_IMEI, P_N_REG, P_N_IDLE, P_N_CELL, P_N_MTC_ZERO)):
    SUMMED[_k] = _f
cdef int N_SUMMED = 24


cdef inline void merge_segments(Pair* p, const int64_t* part, Py_ssize_t n) noexcept nogil:
    """Sort p[0..n): segments of equal ``part`` (by position), each sorted already, merged
    one after the other (linear in n per segment, where a sort is n log n)."""
    cdef Py_ssize_t i, mid = 0
    for i in range(1, n + 1):
        if i == n or part[i] != part[i - 1]:
            if mid > 0:
                inplace_merge(p, p + mid, p + i, PairLess())
            mid = i


cdef inline void summed_runs(PSet* o, int kind, Pair* p, const int64_t* part,
                             Py_ssize_t n) noexcept nogil:
    """Entries (value, count) of list ``kind`` from pairs (value, count) in segments
    sorted by value (``part``: the segment of each), counts added."""
    cdef Py_ssize_t i = 0, j
    cdef int64_t* r
    merge_segments(p, part, n)
    while i < n:
        r = entry(o, kind)
        r[0] = p[i].a
        r[1] = p[i].b
        j = i + 1
        while j < n and p[j].a == p[i].a:
            r[1] += p[j].b
            j += 1
        i = j


cdef inline Py_ssize_t gather(PSet** sp, int kind, const int64_t* rows, Py_ssize_t k,
                              PWork* w, Py_ssize_t n) noexcept nogil:
    """Pairs (key, n + position) of the entries of list ``kind`` of the partials sp[j] row
    rows[j], j < k, from w.pairs[n], with w.src (entry) and w.part (which of the k) at the same place."""
    cdef Py_ssize_t j, e
    for j in range(k):
        for e in range(sp[j].off[kind][rows[j]], sp[j].off[kind][rows[j] + 1]):
            w.pairs[n].a = sp[j].dat[kind][e * KW[kind]]
            w.pairs[n].b = n
            w.src[n] = e
            w.part[n] = j
            n += 1
    return n


cdef int combine_scalars(PSet** sp, const int64_t* rows, Py_ssize_t k, int64_t* out,
                         PSet* o, PWork* w, Py_ssize_t* ngap) except -1 nogil:
    """The scalars of the merge of partials sp[j] row rows[j], j < k (in time order); the gaps between
    the last MOC of one and the first of the next as pairs (gap, 1) at w.pairs[0..ngap)."""
    cdef Py_ssize_t j, f
    cdef const int64_t* x
    cdef bint decided
    ngap[0] = 0
    for j in range(k):
        x = sp[j].sc + rows[j] * N_PSC
        if x[P_M] == 0:
            continue
        if out[P_M] == 0:
            out[P_FIRST] = x[P_FIRST]
        out[P_LAST] = x[P_LAST]
        if x[P_OWN_MS] != 0:
            out[P_OWN_MS] = x[P_OWN_MS]
        if x[P_N_MOC] > 0:
            if out[P_N_MOC] > 0:
                w.pairs[ngap[0]].a = x[P_MOC_FIRST] - out[P_MOC_LAST]
                w.pairs[ngap[0]].b = 1
                w.part[ngap[0]] = -1
                ngap[0] += 1
            else:
                out[P_MOC_FIRST] = x[P_MOC_FIRST]
            out[P_MOC_LAST] = x[P_MOC_LAST]
        if x[P_N_IMEI] > 0:
            if out[P_IMEI_LAST] != 0 and x[P_IMEI_FIRST] != out[P_IMEI_LAST]:
                out[P_IMEI_CHANGES] += 1
            if out[P_IMEI_FIRST] == 0:
                out[P_IMEI_FIRST] = x[P_IMEI_FIRST]
            out[P_IMEI_LAST] = x[P_IMEI_LAST]
        # registrations: the first of x's traffic or registration closes one left open
        decided = out[P_N_MOC] + out[P_N_MTC] + out[P_N_SMO] + out[P_N_SMT] + out[P_N_REG] > 0
        if not decided:
            out[P_TRAFFIC_FIRST] = x[P_TRAFFIC_FIRST]
        if out[P_OPEN_REG]:
            if x[P_TRAFFIC_FIRST]:
                out[P_OPEN_REG] = 0
            elif x[P_N_REG] > 0:
                out[P_N_IDLE] += 1
        if x[P_N_REG] > 0:
            out[P_OPEN_REG] = x[P_OPEN_REG]
        out[P_MAXRUN] = max(out[P_MAXRUN], x[P_MAXRUN])
        out[P_AUTH_MAX] = max(out[P_AUTH_MAX], x[P_AUTH_MAX])
        for f in range(N_SUMMED):
            out[SUMMED[f]] += x[SUMMED[f]]
        for f in range(24):
            out[P_HIST + f] += x[P_HIST + f]
    return 0


cdef int combine_lists(PSet** sp, const int64_t* rows, Py_ssize_t k, int64_t* out,
                       PSet* o, PWork* w, Py_ssize_t ngap, int32_t group) except -1 nogil:
    """The lists of the merge of partials sp[j] row rows[j], j < k (in time order)."""
    cdef Py_ssize_t j, e, n, i, q, c0, c, ncallee
    cdef int64_t* r
    cdef const int64_t* x
    cdef int64_t v, fp, cb = 0
    # days: union
    n = 0
    for j in range(k):
        for e in range(sp[j].off[K_DAY][rows[j]], sp[j].off[K_DAY][rows[j] + 1]):
            w.vals[n] = sp[j].dat[K_DAY][e]
            n += 1
    sort_i64(w.vals, n)
    for i in range(n):
        if i == 0 or w.vals[i] != w.vals[i - 1]:
            entry(o, K_DAY)[0] = w.vals[i]
    # durations and gaps: counts added per value (the boundary gaps are in w.pairs already)
    sort_pairs(w.pairs, ngap)
    for i in range(2):
        q = K_GAP if i == 0 else K_DUR      # gaps first: the boundary gaps are in w.pairs
        n = ngap if q == K_GAP else 0
        for j in range(k):
            for e in range(sp[j].off[q][rows[j]], sp[j].off[q][rows[j] + 1]):
                w.pairs[n].a = sp[j].dat[q][e * 2]
                w.pairs[n].b = sp[j].dat[q][e * 2 + 1]
                w.part[n] = j
                n += 1
        summed_runs(o, q, w.pairs, w.part, n)
    # callees: calls added, the first call; w.vals keeps the first partial calling each
    c0 = o.n[K_CALLEE]
    n = gather(sp, K_CALLEE, rows, k, w, 0)
    merge_segments(w.pairs, w.part, n)
    i = 0
    while i < n:
        x = sp[w.part[w.pairs[i].b]].dat[K_CALLEE] + w.src[w.pairs[i].b] * 3
        w.vals[o.n[K_CALLEE] - c0] = w.part[w.pairs[i].b]
        r = entry(o, K_CALLEE)
        r[0], r[1], r[2] = x[0], x[1], x[2]
        i += 1
        while i < n and w.pairs[i].a == r[0]:
            x = sp[w.part[w.pairs[i].b]].dat[K_CALLEE] + w.src[w.pairs[i].b] * 3
            r[1] += x[1]
            r[2] = min(r[2], x[2])
            i += 1
    ncallee = o.n[K_CALLEE] - c0
    # callers: calls added, the last call; the calls of a later partial from a number an
    # earlier one called are call-backs (those before its own first call to it too)
    n = gather(sp, K_CALLER, rows, k, w, 0)
    merge_segments(w.pairs, w.part, n)
    i = 0
    c = 0
    while i < n:
        v = w.pairs[i].a
        while c < ncallee and o.dat[K_CALLEE][(c0 + c) * 3] < v:
            c += 1
        fp = w.vals[c] if c < ncallee and o.dat[K_CALLEE][(c0 + c) * 3] == v else k
        r = entry(o, K_CALLER)
        x = sp[w.part[w.pairs[i].b]].dat[K_CALLER] + w.src[w.pairs[i].b] * 4
        r[0], r[1], r[2], r[3] = v, 0, x[2], 0
        while i < n and w.pairs[i].a == v:
            x = sp[w.part[w.pairs[i].b]].dat[K_CALLER] + w.src[w.pairs[i].b] * 4
            r[1] += x[1]
            r[2] = max(r[2], x[2])
            if fp < w.part[w.pairs[i].b]:
                cb += x[3]
            else:
                r[3] += x[3]
            i += 1
    out[P_CALLBACKS] += cb
    # SMS peers: SMS MT added
    n = 0
    for j in range(k):
        for e in range(sp[j].off[K_SMS][rows[j]], sp[j].off[K_SMS][rows[j] + 1]):
            w.pairs[n].a = sp[j].dat[K_SMS][e * 2]
            w.pairs[n].b = sp[j].dat[K_SMS][e * 2 + 1]
            w.part[n] = j
            n += 1
    summed_runs(o, K_SMS, w.pairs, w.part, n)
    # cells: events added, in order of first event (a later partial's new cells after)
    n = 0
    for j in range(k):
        for e in range(sp[j].off[K_CELL][rows[j]], sp[j].off[K_CELL][rows[j] + 1]):
            v = sp[j].dat[K_CELL][e * 2]
            if w.mark_cell[v] != group:
                w.mark_cell[v] = group
                w.cnt_cell[v] = 0
                w.vals[n] = v
                n += 1
            w.cnt_cell[v] += sp[j].dat[K_CELL][e * 2 + 1]
    for i in range(n):
        r = entry(o, K_CELL)
        r[0] = w.vals[i]
        r[1] = w.cnt_cell[w.vals[i]]
    # devices: events added, first and last time
    n = gather(sp, K_DEV, rows, k, w, 0)
    merge_segments(w.pairs, w.part, n)
    i = 0
    while i < n:
        x = sp[w.part[w.pairs[i].b]].dat[K_DEV] + w.src[w.pairs[i].b] * 4
        r = entry(o, K_DEV)
        r[0], r[1], r[2], r[3] = x[0], x[1], x[2], x[3]
        i += 1
        while i < n and w.pairs[i].a == r[0]:
            x = sp[w.part[w.pairs[i].b]].dat[K_DEV] + w.src[w.pairs[i].b] * 4
            r[1] += x[1]
            r[2] = min(r[2], x[2])
            r[3] = max(r[3], x[3])
            i += 1
    # runs and registration rows: in time order
    for q in range(K_RUN, K_REG + 1):
        for j in range(k):
            for e in range(sp[j].off[q][rows[j]], sp[j].off[q][rows[j] + 1]):
                r = entry(o, q)
                for i in range(KW[q]):
                    r[i] = sp[j].dat[q][e * KW[q] + i]
    return 0


def combine_partials(sets, const int64_t[::1] which, const int64_t[::1] order,
                     const int64_t[::1] gstart, Py_ssize_t ncell, out_sc, out_off, out_dat):
    """Merge groups of partials: group g is the partials (which[i], order[i]) for i in
    gstart[g] .. gstart[g + 1] - 1 (set, row) of one subscriber, in time order (their
    slices whole UTC hours, no hour in two).

    IN ``sets``: (sc, off, dat) of each set of partials (as partial_partition writes
    them); cell codes < ``ncell``.  OUT ``out_sc`` (groups, N_PSC) zeros, ``out_off``,
    ``out_dat`` with room for the entries of the inputs (K_GAP: plus one per input
    partial).  Returns the entries of each list.
    """
    cdef Py_ssize_t S = len(sets), G = gstart.shape[0] - 1, g, j, q, tot, maxg = 1, ngap, kmax = 1
    cdef PSet o = pset_of(out_sc, out_off, out_dat)
    cdef PSet* ps = <PSet*>malloc((S if S > 0 else 1) * sizeof(PSet))
    cdef PSet** sp = NULL
    cdef PWork w
    memset(&w, 0, sizeof(PWork))
    if ps == NULL:
        raise MemoryError("partials: out of memory")
    try:
        for j in range(S):
            ps[j] = pset_of(sets[j][0], sets[j][1], sets[j][2])
        for g in range(G):                   # the most entries of one list in one group
            kmax = max(kmax, gstart[g + 1] - gstart[g])
            for q in range(N_KINDS):
                tot = 0
                for j in range(gstart[g], gstart[g + 1]):
                    tot += ps[which[j]].off[q][order[j] + 1] - ps[which[j]].off[q][order[j]]
                if q == K_GAP:
                    tot += gstart[g + 1] - gstart[g]
                maxg = max(maxg, tot)
        sp = <PSet**>malloc(kmax * sizeof(PSet*))
        if sp == NULL:
            raise MemoryError("partials: out of memory")
        pwork_alloc(&w, maxg, ncell)
        with nogil:
            for g in range(G):
                for j in range(gstart[g], gstart[g + 1]):
                    sp[j - gstart[g]] = &ps[which[j]]
                for q in range(N_KINDS):
                    o.off[q][g] = o.n[q]
                combine_scalars(sp, &order[gstart[g]], gstart[g + 1] - gstart[g],
                                o.sc + g * N_PSC, &o, &w, &ngap)
                combine_lists(sp, &order[gstart[g]], gstart[g + 1] - gstart[g],
                              o.sc + g * N_PSC, &o, &w, ngap, <int32_t>g)
            for q in range(N_KINDS):
                o.off[q][G] = o.n[q]
    finally:
        pwork_free(&w)
        free(ps)
        free(sp)
    return [o.n[q] for q in range(N_KINDS)]


# --------------------------------------------------------------------------- finish

cdef inline int64_t run_kth(const int64_t* e, Py_ssize_t nrun, int64_t kth) noexcept nogil:
    """The kth smallest value (0-based) of the multiset of runs (value, count) e[0..nrun)."""
    cdef Py_ssize_t i
    for i in range(nrun):
        if kth < e[2 * i + 1]:
            return e[2 * i]
        kth -= e[2 * i + 1]
    return e[2 * (nrun - 1)]


cdef inline double run_quantile(const int64_t* e, Py_ssize_t nrun, int64_t n, double q) noexcept nogil:
    """quantile() of the multiset of runs (n values): the same order statistics, the same
    arithmetic."""
    cdef double pos, frac
    cdef int64_t lo, vlo
    if n == 0:
        return NAN
    pos = q * (n - 1)
    lo = <int64_t>floor(pos)
    if lo >= n - 1:
        return <double>e[2 * (nrun - 1)]
    frac = pos - lo
    vlo = run_kth(e, nrun, lo)
    return vlo + (<double>run_kth(e, nrun, lo + 1) - <double>vlo) * frac


cdef inline double run_median(const int64_t* e, Py_ssize_t nrun, int64_t n) noexcept nogil:
    if n == 0:
        return NAN
    if n % 2 == 1:
        return <double>run_kth(e, nrun, n // 2)
    return (<double>run_kth(e, nrun, n // 2 - 1) + <double>run_kth(e, nrun, n // 2)) / 2.0


cdef inline double run_sq_dev(const int64_t* e, Py_ssize_t nrun, double mean) noexcept nogil:
    """Sum of the squared deviations from ``mean`` of the multiset of runs."""
    cdef Py_ssize_t i, c
    cdef double ss = 0.0, d
    for i in range(nrun):
        d = (e[2 * i] - mean) * (e[2 * i] - mean)
        for c in range(e[2 * i + 1]):
            ss += d
    return ss


cdef int finish_counts(Arrays a, Py_ssize_t u, const int64_t* x, Py_ssize_t ndays) except -1 nogil:
    """reduce_counts from a partial."""
    cdef int64_t m = x[P_M], nm = x[P_N_MOC]
    cdef int hh
    cdef double gss = 0.0, dist
    for hh in range(24):
        a.hours[u, hh] = <int32_t>x[P_HIST + hh]
        if x[P_HIST + hh] > 0:
            dist = <double>x[P_HIST + hh] / m
            gss -= dist * log2(dist)
    a.msisdn_out[u] = x[P_OWN_MS]
    put(a, u, S_N_EVENTS, m)
    put(a, u, S_N_MOC, nm)
    put(a, u, S_N_MOC_ANSWERED, x[P_N_ANS])
    put(a, u, S_N_MTC, x[P_N_MTC])
    put(a, u, S_N_SMS_MO, x[P_N_SMO])
    put(a, u, S_N_SMS_MT, x[P_N_SMT])
    put(a, u, S_N_DATA, x[P_N_DATA])
    put(a, u, S_MOC_ZERO_SHARE, ratio(x[P_N_ZERO], nm))
    put(a, u, S_MOC_SHORT_SHARE, ratio(x[P_N_SHORT], nm))
    put(a, u, S_MT_MO_RATIO, ratio(x[P_N_MTC], nm))
    put(a, u, S_MTC_ZERO_SHARE, ratio(x[P_N_MTC_ZERO], x[P_N_MTC]))
    put(a, u, S_SMS_MT_SHORT_SHARE, ratio(x[P_N_SHORT_MT], x[P_N_SMT]))
    put(a, u, S_MOC_NIGHT_SHARE, ratio(x[P_N_NIGHT_MOC], nm))
    put(a, u, S_MOC_WEEKEND_SHARE, ratio(x[P_N_WEEKEND_MOC], nm))
    put(a, u, S_MOC_OFFICE_SHARE, ratio(x[P_N_OFFICE_MOC], nm))
    put(a, u, S_MOC_EVENING_SHARE, ratio(x[P_N_EVENING_MOC], nm))
    put(a, u, S_NIGHT_SHARE, ratio(x[P_N_NIGHT], m))
    put(a, u, S_ACTIVE_HOURS, x[P_N_HOURS])
    put(a, u, S_ACTIVE_DAYS, ndays)
    put(a, u, S_FIRST_SEEN, <double>x[P_FIRST] if m > 0 else <double>NAN)
    put(a, u, S_LAST_SEEN, <double>x[P_LAST] if m > 0 else <double>NAN)
    put(a, u, S_HOUR_ENTROPY, gss if gss > 0.0 else 0.0)
    put(a, u, S_MOC_MAX_PER_HOUR, x[P_MAXRUN])
    put(a, u, S_N_REGISTRATIONS, x[P_N_REG])
    put(a, u, S_AUTH_MAX_PER_HOUR, x[P_AUTH_MAX])
    put(a, u, S_REG_IDLE_SHARE, ratio(x[P_N_IDLE] + x[P_OPEN_REG], x[P_N_REG]))
    return 0


cdef int finish_calls(Arrays a, Py_ssize_t u, const int64_t* x, const PSet* s) except -1 nogil:
    """reduce_calls and reduce_peers from a partial."""
    cdef const int64_t* dur = s.dat[K_DUR] + 2 * s.off[K_DUR][u]
    cdef const int64_t* gap = s.dat[K_GAP] + 2 * s.off[K_GAP][u]
    cdef const int64_t* cal = s.dat[K_CALLEE] + 3 * s.off[K_CALLEE][u]
    cdef const int64_t* clr = s.dat[K_CALLER] + 4 * s.off[K_CALLER][u]
    cdef const int64_t* sms = s.dat[K_SMS] + 2 * s.off[K_SMS][u]
    cdef Py_ssize_t ndur = s.off[K_DUR][u + 1] - s.off[K_DUR][u]
    cdef Py_ssize_t ngap = s.off[K_GAP][u + 1] - s.off[K_GAP][u]
    cdef Py_ssize_t d = s.off[K_CALLEE][u + 1] - s.off[K_CALLEE][u]
    cdef Py_ssize_t ncl = s.off[K_CALLER][u + 1] - s.off[K_CALLER][u]
    cdef Py_ssize_t nsms = s.off[K_SMS][u + 1] - s.off[K_SMS][u]
    cdef int64_t nm = x[P_N_MOC], ncal = 0, n_intl = 0, rep = 0, ng = 0, lt30 = 0, gsum = 0
    cdef int64_t nin = 0, in_intl = 0, back = 0
    cdef Py_ssize_t i, c = 0
    cdef double mean_d, h = 0.0, p, gmean
    cdef char own[24]
    cdef int own_n = ndigits(x[P_OWN_MS], own)
    cdef int own_cc = cc_len(own) if own_n >= 8 and own[0] != 48 else 0
    cdef int64_t own_ccv = own_prefix(own, own_cc)
    for i in range(d):
        ncal += cal[3 * i + 1]
        if cal[3 * i + 1] >= 2:
            rep += 1
        if is_international(cal[3 * i], own_cc, own_ccv):
            n_intl += cal[3 * i + 1]
    for i in range(d):
        p = <double>cal[3 * i + 1] / ncal
        h -= p * log2(p)
    put(a, u, S_MOC_INTL_SHARE, ratio(n_intl, nm))
    mean_d = <double>x[P_SUM_D] / nm if nm > 0 else NAN
    put(a, u, S_MOC_DUR_MEAN, mean_d)
    put(a, u, S_MOC_DUR_STD, sqrt(run_sq_dev(dur, ndur, mean_d) / (nm - 1)) if nm > 1 else NAN)
    put(a, u, S_MOC_DUR_MEDIAN, run_median(dur, ndur, nm))
    put(a, u, S_MOC_CALLEES, d)
    put(a, u, S_MOC_CALLEE_RATIO, ratio(d, nm))
    put(a, u, S_MOC_CALLEE_ENTROPY, (h if h > 0.0 else 0.0) if ncal > 0 else NAN)
    put(a, u, S_MOC_REPEAT_SHARE, ratio(rep, d))
    for i in range(ngap):
        ng += gap[2 * i + 1]
        gsum += gap[2 * i] * gap[2 * i + 1]
        if gap[2 * i] < BURST_GAP_S:
            lt30 += gap[2 * i + 1]
    gmean = <double>gsum / ng if ng > 0 else NAN
    put(a, u, S_MOC_GAP_CV, sqrt(run_sq_dev(gap, ngap, gmean) / (ng - 1)) / gmean
        if ng > 1 and gmean != 0 else NAN)
    put(a, u, S_MOC_GAP_LT30_SHARE, ratio(lt30, ng))
    put(a, u, S_MOC_GAP_P10, run_quantile(gap, ngap, ng, 0.1))
    put(a, u, S_MOC_GAP_MEDIAN, run_median(gap, ngap, ng))
    for i in range(ncl):
        nin += clr[4 * i + 1]
        if is_international(clr[4 * i], own_cc, own_ccv):
            in_intl += clr[4 * i + 1]
    for i in range(nsms):
        if sms[2 * i + 1] > 0 and is_international(sms[2 * i], own_cc, own_ccv):
            in_intl += sms[2 * i + 1]
    for i in range(d):                       # callees called back: a later MTC from them
        while c < ncl and clr[4 * c] < cal[3 * i]:
            c += 1
        if c < ncl and clr[4 * c] == cal[3 * i] and clr[4 * c + 2] >= cal[3 * i + 2]:
            back += 1
    put(a, u, S_MTC_CALLERS, ncl)
    put(a, u, S_SMS_PEERS, nsms)
    put(a, u, S_MTC_CALLBACK_SHARE, ratio(x[P_CALLBACKS], nin))
    put(a, u, S_MOC_CALLED_BACK_SHARE, ratio(back, d))
    put(a, u, S_IN_INTL_SHARE, ratio(in_intl, x[P_N_MTC] + x[P_N_SMT]))
    return 0


cdef int finish_places(Arrays a, Py_ssize_t u, const int64_t* x, const PSet* s,
                       Scratch* w) except -1 nogil:
    """reduce_cells, reduce_sites, reduce_devices, reduce_moves and the reg_* rows from a
    partial (cells in order of first event: the kernel's order of the cell table)."""
    cdef const int64_t* ce = s.dat[K_CELL] + 2 * s.off[K_CELL][u]
    cdef const int64_t* dv = s.dat[K_DEV] + 4 * s.off[K_DEV][u]
    cdef const int64_t* rn = s.dat[K_RUN] + 4 * s.off[K_RUN][u]
    cdef const int64_t* rg = s.dat[K_REG] + 3 * s.off[K_REG][u]
    cdef Py_ssize_t nd = s.off[K_CELL][u + 1] - s.off[K_CELL][u]
    cdef Py_ssize_t ndv = s.off[K_DEV][u + 1] - s.off[K_DEV][u]
    cdef Py_ssize_t nrn = s.off[K_RUN][u + 1] - s.off[K_RUN][u]
    cdef Py_ssize_t nrg = s.off[K_REG][u + 1] - s.off[K_REG][u]
    cdef Py_ssize_t k, nr = 0
    cdef int64_t n_known = x[P_N_CELL], n_loc = 0, cnt, best = 0, row = a.n.cell
    cdef int32_t c, main = -1, site
    cdef double gss = 0.0, slat = 0.0, slon = 0.0, clat, clon, dist, ss
    cdef int64_t* site_of = w.work[0]
    cdef int64_t* t_first = w.work[1]
    cdef int64_t* t_last = w.work[2]
    cdef int64_t* events = w.work[3]
    cdef Sub sub
    for k in range(nd):
        c = <int32_t>ce[2 * k]
        cnt = ce[2 * k + 1]
        w.cells[k] = c
        w.cnt_cell[c] = cnt
        a.cell_row[row] = <int32_t>u
        a.cell_code[row] = c
        a.cell_events[row] = cnt
        row += 1
        dist = <double>cnt / n_known
        gss -= dist * log2(dist)
        if cnt > best or (cnt == best and a.cell_rank[c] < a.cell_rank[main]):
            best = cnt
            main = c
        if not isnan(a.cell_lat[c]) and not isnan(a.cell_lon[c]):
            slat += cnt * a.cell_lat[c]
            slon += cnt * a.cell_lon[c]
            n_loc += cnt
    a.n.cell = row
    a.main_cell[u] = main
    put(a, u, S_N_CELLS, nd)
    put(a, u, S_TOP_CELL_SHARE, ratio(best, n_known))
    put(a, u, S_CELL_ENTROPY, (gss if gss > 0.0 else 0.0) if n_known > 0 else NAN)
    if n_loc > 0:
        clat = slat / n_loc
        clon = slon / n_loc
        ss = 0.0
        for k in range(nd):
            c = <int32_t>ce[2 * k]
            if isnan(a.cell_lat[c]) or isnan(a.cell_lon[c]):
                continue
            dist = haversine_km(a.cell_lat[c], a.cell_lon[c], clat, clon)
            ss += ce[2 * k + 1] * dist * dist
        put(a, u, S_GYRATION_KM, sqrt(ss / n_loc))
    else:
        put(a, u, S_GYRATION_KM, NAN)
    memset(&sub, 0, sizeof(Sub))
    sub.row = u
    sub.n_cells = nd
    reduce_sites(a, &sub, w)
    # devices
    row = a.n.dev
    best = 0
    a.main_imei[u] = 0
    for k in range(ndv):
        if dv[4 * k + 1] > best:
            best = dv[4 * k + 1]
            a.main_imei[u] = dv[4 * k]
        a.dev_row[row] = <int32_t>u
        a.dev_imei[row] = dv[4 * k]
        a.dev_events[row] = dv[4 * k + 1]
        a.dev_first[row] = dv[4 * k + 2]
        a.dev_last[row] = dv[4 * k + 3]
        row += 1
    a.n.dev = row
    put(a, u, S_N_IMEIS, ndv)
    put(a, u, S_IMEI_CHANGES, x[P_IMEI_CHANGES])
    put(a, u, S_MAIN_IMEI_SHARE, ratio(best, x[P_N_IMEI]))
    # moves: the runs of reduce_moves replayed from the runs at one cell (the first event
    # of a run decides as in the kernel; its other events extend the run it joined)
    for k in range(nrn):
        site = a.cell_site[rn[4 * k]]
        if nr > 0 and site_of[nr - 1] == site:
            events[nr - 1] += 1
        elif nr >= 2 and events[nr - 1] == 1 and site_of[nr - 2] == site:
            nr -= 1
            events[nr - 1] += 1
        else:
            site_of[nr] = site
            t_first[nr] = rn[4 * k + 1]
            events[nr] = 1
            nr += 1
        t_last[nr - 1] = rn[4 * k + 2]
        events[nr - 1] += rn[4 * k + 3] - 1
    row = a.n.move
    for k in range(1, nr):
        if t_first[k] - t_last[k - 1] <= MOVE_GAP_S:
            a.move_row[row] = <int32_t>u
            a.move_from[row] = <int32_t>site_of[k - 1]
            a.move_to[row] = <int32_t>site_of[k]
            a.move_time[row] = t_first[k]
            row += 1
    a.n.move = row
    row = a.n.reg
    for k in range(nrg):
        a.reg_row[row] = <int32_t>u
        a.reg_imei[row] = rg[3 * k]
        a.reg_time[row] = rg[3 * k + 1]
        a.reg_lac[row] = <int32_t>rg[3 * k + 2]
        row += 1
    a.n.reg = row
    return 0


def finish_partials(sc, off, dat, cells, const int32_t[::1] columns, out):
    """The kernel outputs of each partial (row u of ``out`` from partial u): what
    reduce_partition writes for the events the partial was made of.

    IN the partials as partial_partition writes them; ``cells``, ``columns`` as
    reduce_partition.  OUT ``out`` as reduce_partition's, the tables with room for the
    entries of the lists (cell, site: K_CELL; dev: K_DEV; move: K_RUN; reg: K_REG).
    Returns the rows written (as reduce_partition).
    """
    cdef PSet s = pset_of(sc, off, dat)
    cdef Arrays a = Arrays.__new__(Arrays)
    cdef Py_ssize_t U = sc.shape[0], u, k, maxg = 1
    cdef Scratch w
    cdef const int64_t* x
    a.cell_site = cells.site
    a.cell_lat = cells.lat
    a.cell_lon = cells.lon
    a.cell_rank = cells.cell_rank
    a.site_rank = cells.site_rank
    a.cols = columns
    a.feats = out.feats
    a.hours = out.hours
    a.msisdn_out = out.msisdn
    a.main_imei = out.main_imei
    a.main_cell = out.main_cell
    a.main_site = out.main_site
    a.dev_row, a.dev_imei, a.dev_events = out.dev_row, out.dev_imei, out.dev_events
    a.dev_first, a.dev_last = out.dev_first, out.dev_last
    a.cell_row, a.cell_code, a.cell_events = out.cell_row, out.cell_code, out.cell_events
    a.site_row, a.site_code, a.site_events = out.site_row, out.site_code, out.site_events
    a.move_row, a.move_from, a.move_to = out.move_row, out.move_from, out.move_to
    a.move_time = out.move_time
    a.reg_row, a.reg_imei, a.reg_time, a.reg_lac = out.reg_row, out.reg_imei, out.reg_time, out.reg_lac
    for u in range(U):                       # the most cells or runs of one partial
        maxg = max(maxg, s.off[K_CELL][u + 1] - s.off[K_CELL][u], s.off[K_RUN][u + 1] - s.off[K_RUN][u])
    memset(&w, 0, sizeof(Scratch))
    w.maxg = maxg
    try:
        scratch_blocks(&w, a)
        with nogil:
            for u in range(U):
                x = s.sc + u * N_PSC
                finish_counts(a, u, x, s.off[K_DAY][u + 1] - s.off[K_DAY][u])
                finish_calls(a, u, x, &s)
                finish_places(a, u, x, &s, &w)
    finally:
        scratch_free(&w)
    return a.n
