# Partial reductions (issue 16), included by _aggregate.pyx after the blocks: the state of
# one subscriber's events of one time slice from which the kernel's outputs follow
# exactly, and their producer ``partial_partition``.  _aggregate_merge.pxi merges partials
# of consecutive slices (``combine_partials``) and turns one into kernel rows
# (``finish_partials``).  docs/internals.md ("Merging partial reductions") gives the rule of
# each output; a partial keeps:
#
# - scalars (N_PSC int64 per partial): counts, sums, first / last times, boundary state;
# - lists (kind K: entries of KW[K] int64 each, the entries of partial p at
#   off[K][p] .. off[K][p + 1]):
#   K_DAY     local day                                      sorted, distinct
#   K_DUR     (MOC duration, calls)                          sorted by duration
#   K_GAP     (gap between consecutive MOC, count)           sorted by gap
#   K_CALLEE  (number called, calls, first MOC time)         sorted by number
#   K_CALLER  (MTC caller, calls, last MTC time, calls before the partial's first MOC
#              to that number: all of them when it has none) sorted by number
#   K_SMS     (SMS peer, SMS MT from it)                     sorted by number
#   K_CELL    (cell code, events)                            in order of first event
#   K_DEV     (IMEI, events, first time, last time)          sorted by IMEI
#   K_RUN     (cell code, first time, last time, events): runs of consecutive events at
#             one cell (known cells only), in time order: the moves are replayed from them
#   K_REG     (IMEI, time, LAC + 1): the reg_* rows, in time order
#
# Partials merge exactly when their slices are whole UTC hours and no two share an hour
# (the most MOC / authentications per hour and the active hours are then max / sum; no
# event is in two of them, so duplicates never straddle).

cdef enum:
    P_M, P_N_MOC, P_N_ANS, P_N_MTC, P_N_SMO, P_N_SMT, P_N_DATA, P_N_ZERO, P_N_SHORT,
    P_N_NIGHT_MOC, P_N_NIGHT, P_N_SHORT_MT, P_N_WEEKEND_MOC, P_N_OFFICE_MOC, P_N_EVENING_MOC,
    P_N_HOURS, P_FIRST, P_LAST, P_OWN_MS, P_SUM_D, P_MAXRUN, P_MOC_FIRST, P_MOC_LAST,
    P_CALLBACKS, P_IMEI_FIRST, P_IMEI_LAST, P_IMEI_CHANGES, P_N_IMEI, P_N_REG, P_N_IDLE,
    P_OPEN_REG, P_TRAFFIC_FIRST, P_AUTH_MAX, P_N_CELL, P_N_MTC_ZERO, P_HIST
    N_PSC = P_HIST + 24

PARTIAL_SCALARS = (
    "m", "n_moc", "n_ans", "n_mtc", "n_smo", "n_smt", "n_data", "n_zero", "n_short",
    "n_night_moc", "n_night", "n_short_mt", "n_weekend_moc", "n_office_moc", "n_evening_moc",
    "n_hours", "first", "last", "own_ms", "sum_d", "maxrun", "moc_first", "moc_last",
    "callbacks", "imei_first", "imei_last", "imei_changes", "n_imei", "n_reg", "n_idle",
    "open_reg", "traffic_first", "auth_max", "n_cell", "n_mtc_zero") + tuple(f"hour{h}" for h in range(24))
assert len(PARTIAL_SCALARS) == N_PSC

cdef enum:
    K_DAY, K_DUR, K_GAP, K_CALLEE, K_CALLER, K_SMS, K_CELL, K_DEV, K_RUN, K_REG, N_KINDS

#: (name, entry width) of each list kind, in kind order
PARTIAL_KINDS = (("day", 1), ("dur", 2), ("gap", 2), ("callee", 3), ("caller", 4), ("sms", 2),
                 ("cell", 2), ("dev", 4), ("run", 4), ("reg", 3))
assert len(PARTIAL_KINDS) == N_KINDS

cdef int64_t KW[N_KINDS]
for _k, (_name, _w) in enumerate(PARTIAL_KINDS):
    KW[_k] = _w


cdef struct PSet:
    # a set of partials: raw pointers into the caller's arrays (the wrapper checks them)
    int64_t* sc              # partials x N_PSC scalars
    int64_t* off[N_KINDS]    # partials + 1 each: where each partial's entries start
    int64_t* dat[N_KINDS]    # entries x KW[k]
    int64_t n[N_KINDS]       # OUT: entries written so far


cdef struct Pair:
    int64_t a
    int64_t b


cdef inline bint pair_less(const Pair& x, const Pair& y) noexcept nogil:
    return x.a < y.a or (x.a == y.a and x.b < y.b)


cdef extern from *:
    """
    // pair_less as a function object: std::sort and std::inplace_merge inline it (through
    // a function pointer every comparison is a call: a tenth of a day's partials)
    struct SimboxPairLess {
        template <class P> bool operator()(const P& x, const P& y) const {
            return x.a < y.a || (x.a == y.a && x.b < y.b);
        }
    };
    """
    cdef cppclass PairLess "SimboxPairLess":
        PairLess() noexcept nogil


cdef inline void sort_pairs(Pair* p, Py_ssize_t n) noexcept nogil:
    """Sort p[0..n) by (a, b): an insertion sort, inlined, for the few pairs of most
    subscribers, std::sort (its comparison inlined: PairLess) for more."""
    cdef Py_ssize_t i, j
    cdef Pair x
    if n > 16:
        std_sort(p, p + n, PairLess())
        return
    for i in range(1, n):
        x = p[i]
        j = i
        while j > 0 and (x.a < p[j - 1].a or (x.a == p[j - 1].a and x.b < p[j - 1].b)):
            p[j] = p[j - 1]
            j -= 1
        p[j] = x


cdef inline int64_t* entry(PSet* o, int kind) noexcept nogil:
    """The next entry of list ``kind`` of o (o.n[kind] is advanced)."""
    cdef int64_t* r = o.dat[kind] + o.n[kind] * KW[kind]
    o.n[kind] += 1
    return r


cdef PSet pset_of(sc, off, dat) except *:
    """A PSet over the wrapper's arrays: ``sc`` (P, N_PSC), ``off`` (N_KINDS, P + 1),
    ``dat`` N_KINDS arrays (entries, KW[k]); all int64, C-contiguous (checked here)."""
    cdef PSet s
    cdef int k
    cdef cnp.ndarray arr
    cdef Py_ssize_t width = off.shape[1]
    for arr in [sc, off] + list(dat):
        if arr.dtype != np.int64 or not arr.flags.c_contiguous:
            raise ValueError("partials: int64 C-contiguous arrays expected")
    if len(dat) != N_KINDS or off.shape[0] != N_KINDS or sc.shape[1] != N_PSC:
        raise ValueError("partials: arrays of the wrong shape")
    s.sc = <int64_t*>cnp.PyArray_DATA(sc)
    for k in range(N_KINDS):
        arr = dat[k]
        if arr.ndim != 2 or arr.shape[1] != KW[k]:
            raise ValueError(f"partials: list {PARTIAL_KINDS[k][0]} must have {KW[k]} columns")
        s.off[k] = (<int64_t*>cnp.PyArray_DATA(off)) + k * width
        s.dat[k] = <int64_t*>cnp.PyArray_DATA(arr)
        s.n[k] = 0
    return s


cdef struct PWork:
    # the memory of partial_partition / combine_partials, freed in one place
    Pair* pairs          # work pairs of the largest group
    int64_t* vals        # work values of the largest group
    int64_t* src         # ... and two more (combine_partials: entry and partial of a pair)
    int64_t* part
    int32_t* mark_cell   # per cell code: last group that used it
    int64_t* cnt_cell    # per cell code: events of the current group


cdef void pwork_free(PWork* w) noexcept nogil:
    free(w.pairs); free(w.vals); free(w.src); free(w.part); free(w.mark_cell); free(w.cnt_cell)
    memset(w, 0, sizeof(PWork))


cdef int pwork_alloc(PWork* w, Py_ssize_t maxg, Py_ssize_t ncell) except -1:
    cdef Py_ssize_t k
    if maxg < 1:
        maxg = 1
    w.pairs = <Pair*>malloc(maxg * sizeof(Pair))
    w.vals = <int64_t*>malloc(maxg * sizeof(int64_t))
    w.src = <int64_t*>malloc(maxg * sizeof(int64_t))
    w.part = <int64_t*>malloc(maxg * sizeof(int64_t))
    w.mark_cell = <int32_t*>malloc((ncell + 1) * sizeof(int32_t))
    w.cnt_cell = <int64_t*>malloc((ncell + 1) * sizeof(int64_t))
    if w.pairs == NULL or w.vals == NULL or w.src == NULL or w.part == NULL or w.mark_cell == NULL or w.cnt_cell == NULL:
        raise MemoryError("partials: out of memory for scratch arrays")
    for k in range(ncell + 1):
        w.mark_cell[k] = -1
    return 0


cdef inline void sorted_runs(PSet* o, int kind, Pair* p, Py_ssize_t n) noexcept nogil:
    """Entries (value, count) of list ``kind`` from the pairs p[0..n) (values in .a)."""
    cdef Py_ssize_t i = 0, j
    cdef int64_t* r
    sort_pairs(p, n)
    while i < n:
        j = i + 1
        while j < n and p[j].a == p[i].a:
            j += 1
        r = entry(o, kind)
        r[0] = p[i].a
        r[1] = j - i
        i = j


# --------------------------------------------------------------------------- producer

cdef int partial_counts(Arrays a, const Ev* ev, Py_ssize_t m, int64_t* sc, PSet* o,
                        PWork* w) except -1 nogil:
    """Counts by record type, local hours and days (K_DAY), week, active UTC hours, first
    and last time, own number: the quantities of reduce_counts before any ratio."""
    cdef const int32_t[::1] tz = a.tz_offset
    cdef Py_ssize_t NB = tz.shape[0], k, j, nd = 0
    cdef int64_t t, hb, prev_hb = -1, loc, day
    cdef int hour, weekday
    cdef int64_t* days = w.vals
    for k in range(m):
        t = ev[k].time
        if ev[k].msisdn != 0:
            sc[P_OWN_MS] = ev[k].msisdn
        hb = floordiv(t, 3600)
        if k == 0 or hb != prev_hb:
            sc[P_N_HOURS] += 1
            prev_hb = hb
        j = floordiv(t, OFFSET_BUCKET) - a.q0
        loc = t + (tz[j] if 0 <= j < NB else 0)
        day = floordiv(loc, 86400)
        hour = <int>(floordiv(loc - day * 86400, 3600))
        sc[P_HIST + hour] += 1
        days[nd] = day
        nd += 1
        if hour < NIGHT_END:
            sc[P_N_NIGHT] += 1
        if ev[k].rtype == MOC:
            sc[P_N_MOC] += 1
            if ev[k].duration > 0:
                sc[P_N_ANS] += 1
                if ev[k].duration < SHORT_CALL_S:
                    sc[P_N_SHORT] += 1
            else:
                sc[P_N_ZERO] += 1
            if hour < NIGHT_END:
                sc[P_N_NIGHT_MOC] += 1
            elif hour >= EVENING_FROM:
                sc[P_N_EVENING_MOC] += 1
            weekday = <int>(day + 3 - 7 * floordiv(day + 3, 7))
            if weekday >= 5:
                sc[P_N_WEEKEND_MOC] += 1
            elif OFFICE_FROM <= hour < OFFICE_TO:
                sc[P_N_OFFICE_MOC] += 1
        elif ev[k].rtype == MTC:
            sc[P_N_MTC] += 1
            if ev[k].duration <= 0:
                sc[P_N_MTC_ZERO] += 1
        elif ev[k].rtype == SMS_MO:
            sc[P_N_SMO] += 1
        elif ev[k].rtype == SMS_MT:
            sc[P_N_SMT] += 1
            if SHORT_CODE_MIN <= ev[k].other < SHORT_CODE_END:
                sc[P_N_SHORT_MT] += 1
        elif ev[k].rtype == DATA:
            sc[P_N_DATA] += 1
    sc[P_M] = m
    sc[P_FIRST] = ev[0].time if m > 0 else 0
    sc[P_LAST] = ev[m - 1].time if m > 0 else 0
    sort_i64(days, nd)
    for k in range(nd):
        if k == 0 or days[k] != days[k - 1]:
            entry(o, K_DAY)[0] = days[k]
    return 0


cdef int partial_calls(const Ev* ev, Py_ssize_t m, int64_t* sc, PSet* o, PWork* w) except -1 nogil:
    """MOC: durations and gaps (sorted runs), callees with their first call, duration
    sum, first and last MOC, the most MOC in one UTC hour."""
    cdef Pair* p = w.pairs
    cdef Py_ssize_t k, n = 0, i, j
    cdef int64_t hb, prev_hb = -1, run = 0, nm = 0
    cdef int64_t* r
    for k in range(m):                       # durations
        if ev[k].rtype != MOC:
            continue
        p[n].a = ev[k].duration
        p[n].b = 0
        n += 1
        sc[P_SUM_D] += ev[k].duration
        if nm == 0:
            sc[P_MOC_FIRST] = ev[k].time
        sc[P_MOC_LAST] = ev[k].time
        hb = floordiv(ev[k].time, 3600)
        if hb == prev_hb:
            run += 1
        else:
            run = 1
            prev_hb = hb
        if run > sc[P_MAXRUN]:
            sc[P_MAXRUN] = run
        nm += 1
    sorted_runs(o, K_DUR, p, n)
    n = 0
    for k in range(m):                       # gaps
        if ev[k].rtype != MOC:
            continue
        p[n].a = ev[k].time
        n += 1
    for k in range(n - 1):
        p[k].a = p[k + 1].a - p[k].a
        p[k].b = 0
    sorted_runs(o, K_GAP, p, n - 1 if n > 0 else 0)
    n = 0
    for k in range(m):                       # callees: (number, time)
        if ev[k].rtype != MOC or ev[k].other == 0:
            continue
        p[n].a = ev[k].other
        p[n].b = ev[k].time
        n += 1
    sort_pairs(p, n)
    i = 0
    while i < n:
        j = i + 1
        while j < n and p[j].a == p[i].a:
            j += 1
        r = entry(o, K_CALLEE)
        r[0] = p[i].a
        r[1] = j - i
        r[2] = p[i].b                        # the earliest: times sorted within a number
        i = j
    return 0


cdef int partial_peers(const Ev* ev, Py_ssize_t m, int64_t* sc, PSet* o, PWork* w,
                       int64_t callee0) except -1 nogil:
    """MTC callers with their last call and the calls before the partial's first call to
    them (call-backs counted after it), SMS peers with their SMS MT.  ``callee0``: the
    first K_CALLEE entry of this partial (entries up to o.n[K_CALLEE])."""
    cdef Pair* p = w.pairs
    cdef Py_ssize_t k, n = 0, i, j, c
    cdef int64_t nce = o.n[K_CALLEE] - callee0, first_moc, pre
    cdef const int64_t* callees = o.dat[K_CALLEE] + callee0 * 3
    cdef int64_t* r
    for k in range(m):
        if ev[k].rtype == MTC and ev[k].other != 0:
            p[n].a = ev[k].other
            p[n].b = ev[k].time
            n += 1
    sort_pairs(p, n)
    i = 0
    c = 0
    while i < n:
        j = i + 1
        while j < n and p[j].a == p[i].a:
            j += 1
        while c < nce and callees[c * 3] < p[i].a:
            c += 1
        pre = j - i
        if c < nce and callees[c * 3] == p[i].a:
            first_moc = callees[c * 3 + 2]
            pre = 0
            for k in range(i, j):
                if p[k].b < first_moc:      # an MTC at the time of the MOC comes after it
                    pre += 1
            sc[P_CALLBACKS] += (j - i) - pre
        r = entry(o, K_CALLER)
        r[0] = p[i].a
        r[1] = j - i
        r[2] = p[j - 1].b
        r[3] = pre
        i = j
    n = 0
    for k in range(m):
        if (ev[k].rtype == SMS_MO or ev[k].rtype == SMS_MT) and ev[k].other != 0:
            p[n].a = ev[k].other
            p[n].b = ev[k].rtype == SMS_MT
            n += 1
    sort_pairs(p, n)
    i = 0
    while i < n:
        j = i + 1
        r = entry(o, K_SMS)
        r[0] = p[i].a
        r[1] = p[i].b
        while j < n and p[j].a == p[i].a:
            r[1] += p[j].b
            j += 1
        i = j
    return 0


cdef int partial_cells_devices(const Ev* ev, Py_ssize_t m, int64_t* sc, PSet* o, PWork* w,
                               int32_t group) except -1 nogil:
    """Cells in order of first event with their events, runs at one cell, IMEIs with
    events, first and last time, the first and last known IMEI and the changes."""
    cdef Pair* p = w.pairs
    cdef int32_t* mark = w.mark_cell
    cdef int64_t* count = w.cnt_cell
    cdef int64_t* cells = w.vals
    cdef Py_ssize_t k, n = 0, nd = 0, i, j
    cdef int32_t c
    cdef int64_t prev = 0
    cdef int64_t* r
    cdef int64_t* run = NULL
    for k in range(m):
        c = ev[k].cell
        if c < 0:
            continue
        sc[P_N_CELL] += 1
        if mark[c] != group:
            mark[c] = group
            count[c] = 0
            cells[nd] = c
            nd += 1
        count[c] += 1
        if run != NULL and run[0] == c:
            run[2] = ev[k].time
            run[3] += 1
        else:
            run = entry(o, K_RUN)
            run[0] = c
            run[1] = ev[k].time
            run[2] = ev[k].time
            run[3] = 1
    for k in range(nd):
        r = entry(o, K_CELL)
        r[0] = cells[k]
        r[1] = count[cells[k]]
    for k in range(m):
        if ev[k].imei == 0:
            continue
        p[n].a = ev[k].imei
        p[n].b = ev[k].time
        n += 1
        if prev == 0:
            sc[P_IMEI_FIRST] = ev[k].imei
        elif ev[k].imei != prev:
            sc[P_IMEI_CHANGES] += 1
        prev = ev[k].imei
    sc[P_IMEI_LAST] = prev
    sc[P_N_IMEI] = n
    sort_pairs(p, n)
    i = 0
    while i < n:
        j = i + 1
        while j < n and p[j].a == p[i].a:
            j += 1
        r = entry(o, K_DEV)
        r[0] = p[i].a
        r[1] = j - i
        r[2] = p[i].b
        r[3] = p[j - 1].b
        i = j
    return 0


cdef int partial_registrations(const Ev* ev, Py_ssize_t m, int64_t* sc, PSet* o) except -1 nogil:
    """As reduce_registrations, keeping the boundary state: the registration still open
    at the end (P_OPEN_REG, not counted in P_N_IDLE) and whether traffic comes before the
    first registration (P_TRAFFIC_FIRST: it closes a registration open before)."""
    cdef Py_ssize_t k
    cdef int64_t auth_hour = -1, auth_n = 0, hb, last_imei = -1, last_hour = -1
    cdef int32_t last_lac = -1, lac
    cdef bint open_reg = False, seen = False
    cdef int64_t* r
    for k in range(m):
        if ev[k].rtype <= SMS_MT:
            if not seen:
                seen = True
                sc[P_TRAFFIC_FIRST] = 1
            open_reg = False
            continue
        if ev[k].rtype != ATTACH or ev[k].other < SRC_REGISTRATION or ev[k].other > SRC_CHECK_IMEI:
            continue
        hb = floordiv(ev[k].time, 3600)
        if ev[k].other == SRC_AUTH:
            if hb != auth_hour:
                auth_hour = hb
                auth_n = 0
            auth_n += 1
            if auth_n > sc[P_AUTH_MAX]:
                sc[P_AUTH_MAX] = auth_n
            continue
        if ev[k].other == SRC_REGISTRATION:
            seen = True
            if open_reg:
                sc[P_N_IDLE] += 1
            open_reg = True
            sc[P_N_REG] += 1
        lac = ev[k].duration
        if ev[k].imei != 0 or lac > 0:
            if ev[k].imei != last_imei or hb != last_hour or lac != last_lac:
                r = entry(o, K_REG)
                r[0] = ev[k].imei
                r[1] = ev[k].time
                r[2] = lac
                last_imei, last_hour, last_lac = ev[k].imei, hb, lac
    sc[P_OPEN_REG] = open_reg
    return 0


cdef int partial_one(Arrays a, Ev* ev, Py_ssize_t m, Py_ssize_t u, PSet* o, PWork* w,
                     int64_t* dups) except -1 nogil:
    """The partial of subscriber ``u`` (row u of o) from its events ev[0..m) in any order:
    sorted, exact duplicates dropped (counted in dups), then every list and scalar.  The
    one body of partial_partition and partial_rows."""
    cdef Py_ssize_t k = sort_unique(ev, m)
    cdef int64_t* row = o.sc + u * N_PSC
    cdef int64_t callee0
    dups[0] += m - k
    m = k
    for k in range(N_KINDS):
        o.off[k][u] = o.n[k]
    partial_counts(a, ev, m, row, o, w)
    callee0 = o.n[K_CALLEE]
    partial_calls(ev, m, row, o, w)
    partial_peers(ev, m, row, o, w, callee0)
    partial_cells_devices(ev, m, row, o, w, <int32_t>u)
    partial_registrations(ev, m, row, o)
    return 0


def partial_partition(events, const int32_t[::1] ids, Py_ssize_t nsub, tz, Py_ssize_t ncell,
                      sc, off, dat):
    """The partial of each subscriber's events (ids: dense id per event, 0 .. nsub - 1).

    IN ``events``, ``ids``, ``tz`` as reduce_partition; ``ncell``: cell codes are < ncell.
    OUT ``sc`` (nsub, N_PSC) zeros, ``off`` (N_KINDS, nsub + 1), ``dat``: each list with
    room for one entry per event.  Returns (duplicates dropped, entries of each list).
    """
    cdef Arrays a = Arrays.__new__(Arrays)
    a.rtype = events["rtype"]
    a.time = events["time"]
    a.ids = ids
    a.imei = events["imei"]
    a.msisdn = events["msisdn"]
    a.other = events["other"]
    a.duration = events["duration"]
    a.cell = events["cell"]
    a.tz_offset, a.q0 = tz
    a.feats = np.empty((nsub, 0))
    cdef PSet o = pset_of(sc, off, dat)
    cdef Scratch s
    cdef PWork w
    cdef Py_ssize_t u, k
    cdef int64_t dups = 0
    memset(&s, 0, sizeof(Scratch))
    memset(&w, 0, sizeof(PWork))
    try:
        scratch_groups(&s, a, None)
        pwork_alloc(&w, s.maxg, ncell)
        with nogil:
            for u in range(nsub):
                partial_one(a, s.grouped + s.start[u], s.start[u + 1] - s.start[u], u, &o, &w,
                            &dups)
            for k in range(N_KINDS):
                o.off[k][nsub] = o.n[k]
    finally:
        scratch_free(&s)
        pwork_free(&w)
    return dups, [o.n[k] for k in range(N_KINDS)]


cdef packed struct SliceRow:
    # one row of the watch's hour slices (slicerows.ROW_DTYPE: the wrapper checks the dtype)
    int64_t imsi
    int64_t time
    uint8_t rtype
    int64_t imei
    int64_t msisdn
    int64_t other
    int32_t duration
    int32_t cell


cdef int grow_events(Ev** ev, Py_ssize_t* cap, Py_ssize_t need, PWork* w) except -1 nogil:
    """Room for ``need`` events of one subscriber in ev[0] and in w's work arrays (the
    cell marks kept: they hold the subscribers already done)."""
    cdef Py_ssize_t c = cap[0] * 2 if cap[0] * 2 > need else need
    cdef Ev* e = <Ev*>realloc(ev[0], c * sizeof(Ev))
    if e == NULL:
        with gil:
            raise MemoryError("partial_rows: out of memory")
    ev[0] = e
    free(w.pairs); free(w.vals); free(w.src); free(w.part)
    w.pairs = <Pair*>malloc(c * sizeof(Pair))
    w.vals = <int64_t*>malloc(c * sizeof(int64_t))
    w.src = <int64_t*>malloc(c * sizeof(int64_t))
    w.part = <int64_t*>malloc(c * sizeof(int64_t))
    if w.pairs == NULL or w.vals == NULL or w.src == NULL or w.part == NULL:
        with gil:
            raise MemoryError("partial_rows: out of memory")
    cap[0] = c
    return 0


def partial_rows(list parts, tz, Py_ssize_t ncell, sc, off, dat, imsi):
    """The partial of each subscriber's events in ``parts``: slice rows (slicerows.ROW_DTYPE,
    C-contiguous), each part sorted by subscriber (an hour's slice, a chunk of one), the
    parts in time order.  Each subscriber's runs are gathered in turn (no partition of the
    events, no copy of their columns) and reduced by the body of partial_partition
    (partial_one), so the result is partial_partition's over the same events.

    IN ``tz`` as reduce_partition; ``ncell``: cell codes are < ncell.  OUT, with room for
    one subscriber (``off``: one list entry) per event: ``sc`` (room, N_PSC) zeros, ``off``
    (N_KINDS, room + 1), ``dat``, ``imsi`` (int64, the subscribers ascending).  Returns
    (subscribers, duplicates dropped, entries of each list).
    """
    cdef Py_ssize_t P = len(parts), j, u = 0, m, cap = 0, k, i
    cdef const SliceRow** rows = <const SliceRow**>calloc(P if P else 1, sizeof(SliceRow*))
    cdef Py_ssize_t* n = <Py_ssize_t*>calloc(P if P else 1, sizeof(Py_ssize_t))
    cdef Py_ssize_t* at = <Py_ssize_t*>calloc(P if P else 1, sizeof(Py_ssize_t))
    cdef int64_t* cur = <int64_t*>calloc(P if P else 1, sizeof(int64_t))
    cdef Ev* ev = NULL
    cdef Ev* e
    cdef const SliceRow* r
    cdef int64_t best = 0, dups = 0, imsi_max = 0x7fffffffffffffff
    cdef bint done
    cdef const uint8_t[::1] raw
    cdef int64_t[::1] out_imsi = imsi
    cdef Arrays a = Arrays.__new__(Arrays)
    cdef PSet o = pset_of(sc, off, dat)
    cdef PWork w
    memset(&w, 0, sizeof(PWork))
    keep = []
    try:
        if rows == NULL or n == NULL or at == NULL or cur == NULL:
            raise MemoryError("partial_rows: out of memory")
        for j in range(P):
            part = parts[j]
            if part.dtype.itemsize != sizeof(SliceRow) or not part.flags.c_contiguous:
                raise ValueError("partial_rows: C-contiguous slice rows expected")
            n[j] = len(part)
            if n[j]:
                raw = part.view(np.uint8).reshape(-1)
                keep.append(raw)
                rows[j] = <const SliceRow*>&raw[0]
        a.tz_offset, a.q0 = tz
        pwork_alloc(&w, 1, ncell)
        with nogil:
            for j in range(P):
                cur[j] = rows[j][0].imsi if n[j] else imsi_max
            while True:
                best = imsi_max                 # the smallest subscriber at the cursors
                done = True                     # (cur: each part's, imsi_max past its end)
                for j in range(P):
                    if cur[j] < best or (cur[j] == best and at[j] < n[j]):
                        best = cur[j]
                        done = False
                if done:
                    break
                m = 0                           # its runs, part after part
                for j in range(P):
                    if cur[j] != best or at[j] == n[j]:
                        continue
                    i = at[j]
                    while i < n[j] and rows[j][i].imsi == best:
                        if m == cap:
                            grow_events(&ev, &cap, m + 1, &w)
                        r = &rows[j][i]
                        e = ev + m
                        e.time = r.time
                        e.other = r.other
                        e.imei = r.imei
                        e.msisdn = r.msisdn
                        e.duration = r.duration
                        e.cell = r.cell
                        e.rtype = r.rtype
                        m += 1
                        i += 1
                    at[j] = i
                    cur[j] = rows[j][i].imsi if i < n[j] else imsi_max
                out_imsi[u] = best
                partial_one(a, ev, m, u, &o, &w, &dups)
                u += 1
            for k in range(N_KINDS):
                o.off[k][u] = o.n[k]
    finally:
        free(rows); free(n); free(at); free(cur); free(ev)
        pwork_free(&w)
    return u, dups, [o.n[k] for k in range(N_KINDS)]
