# cython: language_level=3
# distutils: language = c++
"""Per-IMSI aggregation kernels (see aggregate.py for the wrapper).

``reduce_partition`` groups the events of one partition by dense IMSI id (ids from
``_partition.dense_ids``; counting sort, stable), sorts each IMSI's events by the
full event key, drops exact duplicates and computes every kernel quantity of
``SLOTS``, one ``cdef inline ... nogil`` helper per block of quantities
(``_aggregate_blocks.pxi``):

==================  =========================================================
``reduce_counts``   counts by record type, local hours, days and week, own number
``reduce_calls``    MOC: callees, durations, gaps, international, max per hour
``reduce_peers``    MTC callers, SMS peers, call-backs, incoming international
``reduce_cells``    IMSI-cell pairs, main cell, cell entropy, gyration
``reduce_sites``    IMSI-site pairs, main site (from the distinct cells)
``reduce_devices``  IMSI-IMEI pairs, main IMEI, IMEI changes
``reduce_moves``    moves: site changes between runs of events at one site
``reduce_registrations``  MAP registrations, authentication bursts, idle
                    registrations, the reg_* table (``_aggregate_registration.pxi``)
==================  =========================================================

Kernels trust their inputs: the wrapper checks shapes and dtypes and allocates the
outputs.  Inputs and outputs are named (:class:`Arrays`: typed views of the caller's
arrays, bounds-checked in the debug build); the memory of one call is one ``Scratch``
struct, freed in one place.  docs/internals.md ("Merging partial reductions") says
which outputs merge across partials (sums, minima, maxima) and which need the events.
"""
import numpy as np
cimport cython
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.math cimport NAN, asin, cos, floor, isnan, log2, sin, sqrt
from libcpp.algorithm cimport sort as std_sort

cnp.import_array()

# Kernel quantities in output-slot order; the wrapper maps registry columns onto them.
SLOTS = (
    "n_moc", "n_moc_answered", "moc_callees", "moc_callee_ratio", "moc_callee_entropy",
    "moc_repeat_share", "moc_dur_mean", "moc_dur_median", "moc_dur_std", "moc_zero_share",
    "moc_short_share", "moc_intl_share", "n_mtc", "mtc_callers", "mt_mo_ratio", "n_sms_mo",
    "n_sms_mt", "sms_peers", "sms_mt_short_share", "n_data", "n_cells", "n_sites",
    "gyration_km", "top_cell_share", "cell_entropy", "n_events", "active_days", "active_hours",
    "moc_night_share", "night_share", "hour_entropy", "moc_gap_median", "moc_gap_p10",
    "moc_gap_cv", "moc_gap_lt30_share", "moc_max_per_hour", "n_imeis", "imei_changes",
    "main_imei_share", "first_seen", "last_seen", "moc_weekend_share", "moc_office_share",
    "moc_evening_share", "mtc_callback_share", "moc_called_back_share", "in_intl_share",
    "n_registrations", "auth_max_per_hour", "reg_idle_share", "mtc_zero_share",
)

cdef enum Slot:
    S_N_MOC, S_N_MOC_ANSWERED, S_MOC_CALLEES, S_MOC_CALLEE_RATIO, S_MOC_CALLEE_ENTROPY,
    S_MOC_REPEAT_SHARE, S_MOC_DUR_MEAN, S_MOC_DUR_MEDIAN, S_MOC_DUR_STD, S_MOC_ZERO_SHARE,
    S_MOC_SHORT_SHARE, S_MOC_INTL_SHARE, S_N_MTC, S_MTC_CALLERS, S_MT_MO_RATIO, S_N_SMS_MO,
    S_N_SMS_MT, S_SMS_PEERS, S_SMS_MT_SHORT_SHARE, S_N_DATA, S_N_CELLS, S_N_SITES,
    S_GYRATION_KM, S_TOP_CELL_SHARE, S_CELL_ENTROPY, S_N_EVENTS, S_ACTIVE_DAYS, S_ACTIVE_HOURS,
    S_MOC_NIGHT_SHARE, S_NIGHT_SHARE, S_HOUR_ENTROPY, S_MOC_GAP_MEDIAN, S_MOC_GAP_P10,
    S_MOC_GAP_CV, S_MOC_GAP_LT30_SHARE, S_MOC_MAX_PER_HOUR, S_N_IMEIS, S_IMEI_CHANGES,
    S_MAIN_IMEI_SHARE, S_FIRST_SEEN, S_LAST_SEEN, S_MOC_WEEKEND_SHARE, S_MOC_OFFICE_SHARE,
    S_MOC_EVENING_SHARE, S_MTC_CALLBACK_SHARE, S_MOC_CALLED_BACK_SHARE, S_IN_INTL_SHARE,
    S_N_REGISTRATIONS, S_AUTH_MAX_PER_HOUR, S_REG_IDLE_SHARE, S_MTC_ZERO_SHARE, N_SLOTS

assert len(SLOTS) == N_SLOTS

cdef enum:
    MOC = 0
    MTC = 1
    SMS_MO = 2
    SMS_MT = 3
    DATA = 4
    OFFSET_BUCKET = 900          # time-zone offsets are looked up per 15 minutes

# The numbers that define feature values live in fastpath/constants.py (the feature
# schema hash covers them); read once here, when the module is imported.
from simbox.fastpath import constants as _K
cdef int64_t SHORT_CALL_S = _K.SHORT_CALL_S
cdef int64_t SHORT_CODE_MIN = _K.SHORT_CODE_MIN
cdef int64_t SHORT_CODE_END = _K.SHORT_CODE_END
cdef int INTL_MIN_DIGITS = _K.INTL_MIN_DIGITS
cdef int64_t BURST_GAP_S = _K.BURST_GAP_S
cdef int NIGHT_END = _K.NIGHT_END
cdef int OFFICE_FROM = _K.OFFICE_FROM
cdef int OFFICE_TO = _K.OFFICE_TO
cdef int EVENING_FROM = _K.EVENING_FROM
cdef double EARTH_KM = _K.EARTH_KM
cdef int64_t MOVE_GAP_S = _K.MOVE_GAP_S


def constants_in_use() -> dict:
    """The values of fastpath/constants.py this module computes with (a test compares)."""
    return {"SHORT_CALL_S": SHORT_CALL_S, "SHORT_CODE_MIN": SHORT_CODE_MIN,
            "SHORT_CODE_END": SHORT_CODE_END, "INTL_MIN_DIGITS": INTL_MIN_DIGITS,
            "BURST_GAP_S": BURST_GAP_S, "NIGHT_END": NIGHT_END, "OFFICE_FROM": OFFICE_FROM,
            "OFFICE_TO": OFFICE_TO, "EVENING_FROM": EVENING_FROM, "EARTH_KM": EARTH_KM,
            "MOVE_GAP_S": MOVE_GAP_S}


cdef struct Ev:
    # one event of one IMSI, in sort-key order
    int64_t time       # epoch seconds UTC
    int64_t other      # digits code of the other party, 0 = none
    int64_t imei       # digits code, 0 = unknown
    int64_t msisdn     # digits code, 0 = unknown
    int32_t duration   # seconds
    int32_t cell       # cell code, -1 = unknown
    uint8_t rtype      # RecordType


EV_BYTES = sizeof(Ev)     # bytes of one grouped event (size of reduce_partition's ev_buf)


cdef inline bint ev_less(const Ev& a, const Ev& b) noexcept nogil:
    if a.time != b.time:
        return a.time < b.time
    if a.rtype != b.rtype:
        return a.rtype < b.rtype
    if a.other != b.other:
        return a.other < b.other
    if a.imei != b.imei:
        return a.imei < b.imei
    if a.msisdn != b.msisdn:
        return a.msisdn < b.msisdn
    if a.duration != b.duration:
        return a.duration < b.duration
    return a.cell < b.cell


cdef inline bint ev_equal(const Ev& a, const Ev& b) noexcept nogil:
    return (a.time == b.time and a.rtype == b.rtype and a.other == b.other and a.imei == b.imei
            and a.msisdn == b.msisdn and a.duration == b.duration and a.cell == b.cell)


cdef enum:
    ORDER_STRICT = 0      # sorted by the full key, no two events equal
    ORDER_SORTED = 1      # sorted, with exact duplicates (adjacent)
    ORDER_UNSORTED = 2


cdef inline int ev_order(const Ev* ev, Py_ssize_t m) noexcept nogil:
    """How ev[0..m) is ordered by ev_less (one pass; times usually decide at once)."""
    cdef Py_ssize_t k
    cdef int order = ORDER_STRICT
    for k in range(1, m):
        if ev[k].time > ev[k - 1].time:
            continue
        if ev_less(ev[k], ev[k - 1]):
            return ORDER_UNSORTED
        if not ev_less(ev[k - 1], ev[k]):
            order = ORDER_SORTED
    return order


include "_aggregate_math.pxi"


cdef inline Py_ssize_t sort_unique(Ev* ev, Py_ssize_t m) noexcept nogil:
    """Sort ev[0..m) by the full event key and drop exact duplicates; returns the events
    kept.  One pass tells sorted (the usual case: arrival order) and duplicates."""
    cdef Py_ssize_t j = 0, k
    cdef int order = ev_order(ev, m)
    if order == ORDER_STRICT:
        return m
    if order == ORDER_UNSORTED:
        std_sort(ev, ev + m, ev_less)
    for k in range(m):                     # duplicates are adjacent after the full-key sort
        if k > 0 and ev_equal(ev[k], ev[j - 1]):
            continue
        if j != k:
            ev[j] = ev[k]
        j += 1
    return j


# --------------------------------------------------------------------------- named arrays

cdef struct Counts:
    # rows written by one reduce_partition call (returned to Python as a dict)
    int64_t duplicates   # exact duplicate events dropped
    int64_t dev          # IMSI-IMEI pairs written to dev_*
    int64_t cell         # IMSI-cell pairs written to cell_*
    int64_t site         # IMSI-site pairs written to site_*
    int64_t move         # moves written to move_*
    int64_t reg          # MAP registration rows written to reg_*


@cython.final
cdef class Arrays:
    """The named inputs and outputs of one reduce_partition call: typed views of the
    caller's arrays (memoryviews cannot live in a C struct; these are bounds-checked in
    the debug build), and the rows written so far."""
    # IN: the events of the partition, any order
    cdef const uint8_t[::1] rtype
    cdef const int64_t[::1] time
    cdef const int32_t[::1] ids           # dense IMSI id = output row
    cdef const int64_t[::1] imei
    cdef const int64_t[::1] msisdn
    cdef const int64_t[::1] other
    cdef const int32_t[::1] duration
    cdef const int32_t[::1] cell
    # IN: UTC offset (s) of local time per 15-min bucket (time // 900 - q0)
    cdef const int32_t[::1] tz_offset
    cdef int64_t q0
    # IN: per cell code: site code, latitude, longitude (NaN = not located); ranks of the
    # cell and site codes by name (ties of "main" go to the lowest rank)
    cdef const int32_t[::1] cell_site
    cdef const double[::1] cell_lat
    cdef const double[::1] cell_lon
    cdef const int32_t[::1] cell_rank
    cdef const int32_t[::1] site_rank
    # IN: output column of each slot of SLOTS (-1 = not wanted)
    cdef const int32_t[::1] cols
    # OUT per IMSI
    cdef double[:, ::1] feats             # (IMSIs, columns)
    cdef int32_t[:, ::1] hours            # (IMSIs, 24) events per local hour
    cdef int64_t[::1] msisdn_out          # last non-empty MSISDN, 0 = none
    cdef int64_t[::1] main_imei           # 0 = none
    cdef int32_t[::1] main_cell           # -1 = none
    cdef int32_t[::1] main_site           # -1 = none
    # OUT: pair and move tables (capacity = number of events), rows counted in n
    cdef int32_t[::1] dev_row
    cdef int64_t[::1] dev_imei
    cdef int64_t[::1] dev_events
    cdef int64_t[::1] dev_first
    cdef int64_t[::1] dev_last
    cdef int32_t[::1] cell_row
    cdef int32_t[::1] cell_code
    cdef int64_t[::1] cell_events
    cdef int32_t[::1] site_row
    cdef int32_t[::1] site_code
    cdef int64_t[::1] site_events
    cdef int32_t[::1] move_row
    cdef int32_t[::1] move_from
    cdef int32_t[::1] move_to
    cdef int64_t[::1] move_time
    cdef int32_t[::1] reg_row             # MAP registrations (reduce_registrations)
    cdef int64_t[::1] reg_imei
    cdef int64_t[::1] reg_time
    cdef int32_t[::1] reg_lac             # LAC + 1, 0 = unknown
    cdef Counts n


cdef inline int put(Arrays a, Py_ssize_t u, int slot, double v) except -1 nogil:
    """Feature ``slot`` of row u (not written when the caller did not ask for it)."""
    cdef int32_t c = a.cols[slot]
    if c >= 0:
        a.feats[u, c] = v
    return 0


# --------------------------------------------------------------------------- scratch

cdef enum:
    N_WORK = 5           # work arrays of the largest group size


cdef struct Scratch:
    # the memory of one reduce_partition call, freed in one place (scratch_free)
    int64_t* start       # U + 1: first grouped event of each IMSI id
    int64_t* cursor      # U: scatter position of each IMSI id
    Ev* evs              # the grouped events, when not in the caller's ev_buf
    Ev* grouped          # the grouped events (evs or the caller's ev_buf)
    Py_ssize_t maxg      # the largest group (>= 1)
    int64_t* work[N_WORK]   # arrays of maxg: each block names the ones it uses at its top;
                            # nothing in them outlives the block
    int64_t* cells       # maxg: distinct cell codes of the current IMSI (cells -> sites)
    int32_t* mark_cell   # per cell code: last IMSI id that used it
    int32_t* mark_site   # per site code: likewise
    int64_t* cnt_cell    # per cell code: events of the current IMSI
    int64_t* cnt_site    # per site code: likewise
    int64_t* hset        # hash-set slots (hash_set_slots(maxg))
    int64_t* hcall       # a second hash set of that size (numbers called, reduce_peers)
    uint8_t* hflag       # one flag per slot of hcall


cdef void scratch_free(Scratch* w) noexcept nogil:
    cdef int k
    free(w.start); free(w.cursor); free(w.evs)
    for k in range(N_WORK):
        free(w.work[k])
    free(w.cells)
    free(w.mark_cell); free(w.mark_site); free(w.cnt_cell); free(w.cnt_site)
    free(w.hset); free(w.hcall); free(w.hflag)
    memset(w, 0, sizeof(Scratch))


cdef int scratch_groups(Scratch* w, Arrays a, uint8_t[::1] ev_buf) except -1:
    """Group the events by IMSI id (counting sort, stable: arrival order within an IMSI)
    into the caller's ev_buf when it is large enough, else into memory of w."""
    cdef Py_ssize_t n = a.time.shape[0], U = a.feats.shape[0], i, u
    cdef int64_t* start
    cdef int64_t* cursor
    cdef Ev* ev
    # the columns as local views: the scatter's byte stores (rtype) would otherwise make
    # the compiler reload every column's address from `a` at each event
    cdef const int32_t[::1] ids = a.ids
    cdef const uint8_t[::1] rtype = a.rtype
    cdef const int64_t[::1] time = a.time, other = a.other, imei = a.imei, msisdn = a.msisdn
    cdef const int32_t[::1] duration = a.duration, cell = a.cell
    w.start = <int64_t*>calloc(U + 1, sizeof(int64_t))
    w.cursor = <int64_t*>malloc((U if U > 0 else 1) * sizeof(int64_t))
    if ev_buf is None or ev_buf.shape[0] < <Py_ssize_t>sizeof(Ev) * (n if n > 0 else 1):
        w.evs = w.grouped = <Ev*>malloc((n if n > 0 else 1) * sizeof(Ev))
    else:
        w.grouped = <Ev*>&ev_buf[0]
    if w.start == NULL or w.cursor == NULL or w.grouped == NULL:
        raise MemoryError("reduce_partition: out of memory")
    start = w.start
    cursor = w.cursor
    with nogil:
        for i in range(n):
            start[ids[i] + 1] += 1
        for u in range(U):
            if start[u + 1] > w.maxg:
                w.maxg = start[u + 1]
            start[u + 1] += start[u]
            cursor[u] = start[u]
        # scatter the events into groups (columns read in order, one struct write each)
        for i in range(n):
            ev = w.grouped + cursor[ids[i]]
            cursor[ids[i]] += 1
            ev.time = time[i]
            ev.other = other[i]
            ev.imei = imei[i]
            ev.msisdn = msisdn[i]
            ev.duration = duration[i]
            ev.cell = cell[i]
            ev.rtype = rtype[i]
    if w.maxg == 0:
        w.maxg = 1
    return 0


cdef int scratch_blocks(Scratch* w, Arrays a) except -1:
    """The block helpers' memory: work arrays of the largest group, per cell / site code
    tables (marks -1: no IMSI yet), hash-set slots for distinct counts and their flags."""
    cdef Py_ssize_t NC = a.cell_site.shape[0], NS = a.site_rank.shape[0], k
    cdef Py_ssize_t maxg = w.maxg, slots = hash_set_slots(w.maxg)
    cdef bint ok = True
    for k in range(N_WORK):
        w.work[k] = <int64_t*>malloc(maxg * sizeof(int64_t))
        ok = ok and w.work[k] != NULL
    w.cells = <int64_t*>malloc(maxg * sizeof(int64_t))
    w.mark_cell = <int32_t*>malloc((NC + 1) * sizeof(int32_t))
    w.mark_site = <int32_t*>malloc((NS + 1) * sizeof(int32_t))
    w.cnt_cell = <int64_t*>malloc((NC + 1) * sizeof(int64_t))
    w.cnt_site = <int64_t*>malloc((NS + 1) * sizeof(int64_t))
    w.hset = <int64_t*>malloc(slots * sizeof(int64_t))
    w.hcall = <int64_t*>malloc(slots * sizeof(int64_t))
    w.hflag = <uint8_t*>malloc(slots * sizeof(uint8_t))
    if (not ok or w.cells == NULL or w.mark_cell == NULL or w.mark_site == NULL
            or w.cnt_cell == NULL or w.cnt_site == NULL or w.hset == NULL or w.hcall == NULL
            or w.hflag == NULL):
        raise MemoryError("reduce_partition: out of memory for scratch arrays")
    for k in range(NC):
        w.mark_cell[k] = -1
    for k in range(NS):
        w.mark_site[k] = -1
    return 0


# --------------------------------------------------------------------------- blocks

include "_aggregate_blocks.pxi"
include "_aggregate_registration.pxi"


cdef int reduce_groups(Arrays a, Scratch* w) except -1 nogil:
    """Every block for each IMSI id in turn (its events grouped by scratch_groups)."""
    cdef Sub s
    cdef Py_ssize_t u, m
    cdef Ev* ev
    for u in range(a.feats.shape[0]):
        memset(&s, 0, sizeof(Sub))
        ev = w.grouped + w.start[u]
        m = w.start[u + 1] - w.start[u]
        s.row = u
        s.ev = ev
        s.m = sort_unique(ev, m)
        a.n.duplicates += m - s.m
        reduce_counts(a, &s, w)
        reduce_calls(a, &s, w)
        reduce_peers(a, &s, w)
        reduce_cells(a, &s, w)
        reduce_sites(a, &s, w)
        reduce_devices(a, &s, w)
        reduce_moves(a, &s, w)
        reduce_registrations(a, &s, w)
    return 0


# --------------------------------------------------------------------------- entry

def reduce_partition(events, const int32_t[::1] ids, tz, cells, const int32_t[::1] columns,
                     out, uint8_t[::1] ev_buf=None):
    """Reduce the events of one partition; returns the rows written, a dict ``Counts``:
    ``duplicates`` (dropped), ``dev``, ``cell``, ``site``, ``move`` (rows of each table).

    IN ``events``: mapping of the EventBatch columns (rtype, time, imei, msisdn, other,
    duration, cell; contiguous, their dtypes), any order; ``ids``: the dense IMSI id of
    each event (0 .. IMSIs - 1); ``tz``: ``(offsets, q0)``, the UTC offset (s, int32) of
    local time per 15-min bucket ``time // 900 - q0``; ``cells``: per cell code ``site``,
    ``lat``, ``lon`` and the ranks ``cell_rank``, ``site_rank`` (aggregate.CellTable);
    ``columns``: the output column of each slot of SLOTS (-1 = not wanted).
    OUT ``out``: the arrays named as the fields of aggregate.Reduced, allocated by the
    caller: per IMSI ``feats`` (IMSIs x columns), ``hours`` (IMSIs x 24), ``msisdn``,
    ``main_imei``, ``main_cell``, ``main_site``; the tables ``dev_*``, ``cell_*``,
    ``site_*``, ``move_*``, ``reg_*`` with room for one row per event.
    IN/OUT, optional ``ev_buf``: scratch of >= n * EV_BYTES bytes for the grouped events
    (a buffer reused across partitions saves paging in fresh memory each time).
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
    cdef Scratch w
    memset(&w, 0, sizeof(Scratch))
    try:
        scratch_groups(&w, a, ev_buf)
        scratch_blocks(&w, a)
        with nogil:
            reduce_groups(a, &w)
    finally:
        scratch_free(&w)
    return a.n


# --------------------------------------------------------------------------- partials

include "_aggregate_partial.pxi"
include "_aggregate_merge.pxi"
