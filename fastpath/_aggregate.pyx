# cython: language_level=3
# distutils: language = c++
"""Per-IMSI aggregation kernels (see aggregate.py for the wrapper).

``reduce_partition`` groups the events of one partition by dense IMSI id (ids from
``_partition.dense_ids``; counting sort, stable), sorts each IMSI's events by the
full event key, drops exact duplicates and computes every kernel quantity of
``SLOTS`` in one pass per IMSI.  Kernels trust their inputs: the wrapper checks
shapes and dtypes and allocates the outputs.
"""
import numpy as np
cimport cython
cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport calloc, free, malloc
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
    S_MOC_EVENING_SHARE, S_MTC_CALLBACK_SHARE, S_MOC_CALLED_BACK_SHARE, S_IN_INTL_SHARE, N_SLOTS

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


cdef struct Scratch:
    # the memory of one reduce_partition call, freed in one place (scratch_free)
    int64_t* start       # U + 1: first grouped event of each IMSI id
    int64_t* cursor      # U: scatter position of each IMSI id
    Ev* evs              # the grouped events, when not in the caller's ev_buf
    int64_t* sa          # five arrays of the largest group size
    int64_t* sb
    int64_t* sc
    int64_t* sd
    int64_t* se
    int32_t* mark_cell   # per cell code: last IMSI id that used it
    int32_t* mark_site   # per site code: likewise
    int64_t* cnt_cell    # per cell code: events of the current IMSI
    int64_t* cnt_site    # per site code: likewise
    int64_t* hset        # hash-set slots (hash_set_slots of the largest group)
    int64_t* hcall       # a second hash set of that size (numbers called, reduce_peers)
    uint8_t* hflag       # one flag per slot of hcall


cdef void scratch_free(Scratch* w) noexcept nogil:
    free(w.start); free(w.cursor); free(w.evs)
    free(w.sa); free(w.sb); free(w.sc); free(w.sd); free(w.se)
    free(w.mark_cell); free(w.mark_site); free(w.cnt_cell); free(w.cnt_site)
    free(w.hset); free(w.hcall); free(w.hflag)
    memset(w, 0, sizeof(Scratch))


cdef struct Peers:
    # the other parties of one IMSI's incoming traffic and SMS
    Py_ssize_t callers      # distinct calling numbers over MTC
    Py_ssize_t sms_peers    # distinct other parties over SMS MO and MT
    int64_t mtc_known       # MTC with a calling number
    int64_t callbacks       # of those, from a number the IMSI called (MOC) at an earlier event
    int64_t called_back     # distinct numbers called (MOC) that called the IMSI (MTC) later
    int64_t incoming_intl   # MTC and SMS MT from an international number


cdef inline void reduce_peers(const Ev* ev, Py_ssize_t m, Py_ssize_t n_moc, Py_ssize_t n_mtc,
                              int own_cc, int64_t own_ccv, int64_t* callers, int64_t* peers,
                              int64_t* hset, int64_t* called, uint8_t* flag,
                              Peers* out) noexcept nogil:
    """One pass over the IMSI's events ev[0..m) in sort order.

    The numbers called so far go into a hash set (``called``, ``flag``:
    hash_set_slots(n_moc) entries, overwritten; a flag marks a callee that called
    back), where each MTC's caller is looked up: only when the IMSI has both MOC and
    MTC.  ``callers``, ``peers``: room for m numbers; ``hset``: the slots of
    count_distinct_hashed for m values.
    """
    cdef Py_ssize_t k, ncal = 0, npeer = 0
    cdef bint track = n_moc > 0 and n_mtc > 0
    cdef uint64_t mask = <uint64_t>(hash_set_slots(n_moc) - 1), h
    cdef int64_t x
    cdef uint8_t r
    memset(out, 0, sizeof(Peers))
    if track:
        memset(called, 0, (mask + 1) * sizeof(int64_t))
        memset(flag, 0, (mask + 1) * sizeof(uint8_t))
    for k in range(m):
        x = ev[k].other
        if x == 0:
            continue
        r = ev[k].rtype
        if r == MOC:
            if track:
                h = hash_slot(called, mask, x)
                called[h] = x
        elif r == MTC:
            callers[ncal] = x
            ncal += 1
            if is_international(x, own_cc, own_ccv):
                out.incoming_intl += 1
            if track:
                h = hash_slot(called, mask, x)
                if called[h] == x:
                    out.callbacks += 1
                    if flag[h] == 0:
                        flag[h] = 1
                        out.called_back += 1
        elif r == SMS_MO or r == SMS_MT:
            peers[npeer] = x
            npeer += 1
            if r == SMS_MT and is_international(x, own_cc, own_ccv):
                out.incoming_intl += 1
    out.mtc_known = ncal
    out.callers = count_distinct_hashed(callers, ncal, hset)
    out.sms_peers = count_distinct_hashed(peers, npeer, hset)


def reduce_partition(
        # IN: the events of one partition (any order)
        const uint8_t[::1] rtype, const int64_t[::1] time, const int32_t[::1] ids,
        const int64_t[::1] imei, const int64_t[::1] msisdn, const int64_t[::1] other,
        const int32_t[::1] duration, const int32_t[::1] cell,
        # IN: time zone: offset in seconds of local time for 15-min bucket (time // 900 - q0)
        const int32_t[::1] tz_offset, int64_t q0,
        # IN: per cell code: site code, latitude, longitude (NaN = not located)
        const int32_t[::1] cell_site, const double[::1] cell_lat, const double[::1] cell_lon,
        # IN: rank of each cell code / site code by name (ties of "main" go to the lowest rank)
        const int32_t[::1] cell_rank, const int32_t[::1] site_rank,
        # IN: output column of each slot of SLOTS (-1 = not wanted)
        const int32_t[::1] cols,
        # OUT: per IMSI id
        double[:, ::1] feats, int32_t[:, ::1] hours, int64_t[::1] msisdn_out,
        int64_t[::1] main_imei, int32_t[::1] main_cell, int32_t[::1] main_site,
        # OUT: IMSI-IMEI, IMSI-cell and IMSI-site pairs (capacity = number of events)
        int32_t[::1] dev_id, int64_t[::1] dev_imei, int64_t[::1] dev_events,
        int64_t[::1] dev_first, int64_t[::1] dev_last,
        int32_t[::1] cell_id_out, int32_t[::1] cell_code_out, int64_t[::1] cell_events,
        int32_t[::1] site_id_out, int32_t[::1] site_code_out, int64_t[::1] site_events,
        # OUT: moves (site changes, see below; capacity = number of events)
        int32_t[::1] move_id, int32_t[::1] move_from, int32_t[::1] move_to,
        int64_t[::1] move_time,
        # IN/OUT, optional: scratch of >= n * EV_BYTES bytes for the grouped events (a
        # buffer reused across partitions saves paging in fresh memory each time)
        uint8_t[::1] ev_buf=None):
    """Reduce one partition.  Returns (duplicates dropped, number of IMSI-IMEI, IMSI-cell,
    IMSI-site pairs, moves written)."""
    cdef Py_ssize_t n = time.shape[0], U = feats.shape[0], NB = tz_offset.shape[0]
    cdef Py_ssize_t i, j, u, m, maxg = 0, s, e
    cdef Py_ssize_t NC = cell_site.shape[0], NS = site_rank.shape[0]
    cdef Scratch w
    memset(&w, 0, sizeof(Scratch))
    cdef bint own_evs = ev_buf is None or ev_buf.shape[0] < <Py_ssize_t>sizeof(Ev) * (n if n > 0 else 1)
    w.start = <int64_t*>calloc(U + 1, sizeof(int64_t))
    w.cursor = <int64_t*>malloc((U if U > 0 else 1) * sizeof(int64_t))
    if own_evs:
        w.evs = <Ev*>malloc((n if n > 0 else 1) * sizeof(Ev))
    cdef Ev* evd = w.evs if own_evs else <Ev*>&ev_buf[0]   # all events, grouped by id
    cdef Ev* ev = NULL
    cdef int64_t* start = w.start
    cdef int64_t* cursor = w.cursor
    cdef int64_t ndup = 0, ndev = 0, ncell = 0, nsite = 0, nmove = 0
    if start == NULL or cursor == NULL or evd == NULL:
        scratch_free(&w)
        raise MemoryError("reduce_partition: out of memory")
    with nogil:
        # counting sort by id (stable: keeps arrival order within an IMSI)
        for i in range(n):
            start[ids[i] + 1] += 1
        for u in range(U):
            if start[u + 1] > maxg:
                maxg = start[u + 1]
            start[u + 1] += start[u]
    maxg = maxg if maxg > 0 else 1
    # scratch arrays of the largest group size; per cell / site code tables; hash-set
    # slots for distinct counts (a power of two >= 2 * the largest group) and their flags
    w.sa = <int64_t*>malloc(maxg * sizeof(int64_t))
    w.sb = <int64_t*>malloc(maxg * sizeof(int64_t))
    w.sc = <int64_t*>malloc(maxg * sizeof(int64_t))
    w.sd = <int64_t*>malloc(maxg * sizeof(int64_t))
    w.se = <int64_t*>malloc(maxg * sizeof(int64_t))
    w.mark_cell = <int32_t*>malloc((NC + 1) * sizeof(int32_t))
    w.mark_site = <int32_t*>malloc((NS + 1) * sizeof(int32_t))
    w.cnt_cell = <int64_t*>malloc((NC + 1) * sizeof(int64_t))
    w.cnt_site = <int64_t*>malloc((NS + 1) * sizeof(int64_t))
    w.hset = <int64_t*>malloc(hash_set_slots(maxg) * sizeof(int64_t))
    w.hcall = <int64_t*>malloc(hash_set_slots(maxg) * sizeof(int64_t))
    w.hflag = <uint8_t*>malloc(hash_set_slots(maxg) * sizeof(uint8_t))
    if (w.sa == NULL or w.sb == NULL or w.sc == NULL or w.sd == NULL or w.se == NULL
            or w.mark_cell == NULL or w.mark_site == NULL or w.cnt_cell == NULL
            or w.cnt_site == NULL or w.hset == NULL or w.hcall == NULL or w.hflag == NULL):
        scratch_free(&w)
        raise MemoryError("reduce_partition: out of memory for scratch arrays")
    cdef int64_t* sa = w.sa
    cdef int64_t* sb = w.sb
    cdef int64_t* sc = w.sc
    cdef int64_t* sd = w.sd
    cdef int64_t* se = w.se
    cdef int32_t* mark_cell = w.mark_cell
    cdef int32_t* mark_site = w.mark_site
    cdef int64_t* cnt_cell = w.cnt_cell
    cdef int64_t* cnt_site = w.cnt_site
    cdef int64_t* hset = w.hset
    cdef int64_t t, loc, hb, prev_hb, day
    cdef int64_t n_moc, n_ans, n_mtc, n_smo, n_smt, n_data, n_zero, n_short, n_intl, n_night_moc
    cdef int64_t n_night, n_short_mt, n_known_cell, n_loc, n_known_imei, n_changes, prev_imei
    cdef int64_t n_weekend_moc, n_office_moc, n_evening_moc
    cdef int64_t cnt, best, own_ms, run, maxrun, n_hours, own_ccv
    cdef double sum_d, mean_d, ss, slat, slon, clat, clon, dist, gmean, gss
    cdef int hour, own_n, own_cc, hh, weekday
    cdef int32_t c, site
    cdef char own[24]
    cdef int64_t hist[24]
    cdef bint days_sorted
    cdef int order
    cdef Peers peers
    cdef Py_ssize_t d_callees
    cdef Py_ssize_t k, nm, ng, ncal, ncel, ndays, nimei, d, nd, nds
    for k in range(NC):
        mark_cell[k] = -1
    for k in range(NS):
        mark_site[k] = -1
    with nogil:
        for u in range(U):
            cursor[u] = start[u]
        # scatter the events into groups (columns read in order, one struct write each)
        for i in range(n):
            ev = evd + cursor[ids[i]]
            cursor[ids[i]] += 1
            ev.time = time[i]
            ev.other = other[i]
            ev.imei = imei[i]
            ev.msisdn = msisdn[i]
            ev.duration = duration[i]
            ev.cell = cell[i]
            ev.rtype = rtype[i]

        for u in range(U):
            s = start[u]
            e = start[u + 1]
            m = e - s
            ev = evd + s
            # one pass tells sorted (the usual case: arrival order) and duplicates
            order = ev_order(ev, m)
            if order == ORDER_UNSORTED:
                std_sort(ev, ev + m, ev_less)
            if order != ORDER_STRICT:
                # drop exact duplicates (adjacent after the full-key sort)
                j = 0
                for k in range(m):
                    if k > 0 and ev_equal(ev[k], ev[j - 1]):
                        continue
                    if j != k:
                        ev[j] = ev[k]
                    j += 1
                ndup += m - j
                m = j

            # ---- pass 1: counts, own MSISDN, hours, nights
            n_moc = n_ans = n_mtc = n_smo = n_smt = n_data = n_zero = n_short = 0
            n_night_moc = n_night = n_short_mt = 0
            n_weekend_moc = n_office_moc = n_evening_moc = 0
            own_ms = 0
            n_hours = 0
            prev_hb = -1
            ndays = 0            # local days, recorded when the day changes
            days_sorted = True
            for hh in range(24):
                hist[hh] = 0
            for k in range(m):
                t = ev[k].time
                if ev[k].msisdn != 0:
                    own_ms = ev[k].msisdn
                hb = floordiv(t, 3600)
                if k == 0 or hb != prev_hb:
                    n_hours += 1
                    prev_hb = hb
                j = floordiv(t, OFFSET_BUCKET) - q0
                loc = t + (tz_offset[j] if 0 <= j < NB else 0)
                day = floordiv(loc, 86400)
                hour = <int>(floordiv(loc - day * 86400, 3600))
                hist[hour] += 1
                if ndays == 0 or day != sd[ndays - 1]:
                    if ndays > 0 and day < sd[ndays - 1]:
                        days_sorted = False       # local time went back (DST end)
                    sd[ndays] = day
                    ndays += 1
                if hour < NIGHT_END:
                    n_night += 1
                if ev[k].rtype == MOC:
                    n_moc += 1
                    if ev[k].duration > 0:
                        n_ans += 1
                        if ev[k].duration < SHORT_CALL_S:
                            n_short += 1
                    else:
                        n_zero += 1
                    if hour < NIGHT_END:
                        n_night_moc += 1
                    elif hour >= EVENING_FROM:
                        n_evening_moc += 1
                    weekday = <int>(day + 3 - 7 * floordiv(day + 3, 7))   # 0 = Monday (day 0: a Thursday)
                    if weekday >= 5:
                        n_weekend_moc += 1
                    elif OFFICE_FROM <= hour < OFFICE_TO:
                        n_office_moc += 1
                elif ev[k].rtype == MTC:
                    n_mtc += 1
                elif ev[k].rtype == SMS_MO:
                    n_smo += 1
                elif ev[k].rtype == SMS_MT:
                    n_smt += 1
                    if SHORT_CODE_MIN <= ev[k].other < SHORT_CODE_END:   # 3-6 digits
                        n_short_mt += 1
                elif ev[k].rtype == DATA:
                    n_data += 1
            msisdn_out[u] = own_ms
            own_n = ndigits(own_ms, own)
            own_cc = cc_len(own) if own_n >= 8 and own[0] != 48 else 0
            own_ccv = own_prefix(own, own_cc)
            if not days_sorted:
                sort_i64(sd, ndays)
            for hh in range(24):
                hours[u, hh] = <int32_t>hist[hh]
            put(feats, cols, u, S_N_EVENTS, m)
            put(feats, cols, u, S_N_MOC, n_moc)
            put(feats, cols, u, S_N_MOC_ANSWERED, n_ans)
            put(feats, cols, u, S_N_MTC, n_mtc)
            put(feats, cols, u, S_N_SMS_MO, n_smo)
            put(feats, cols, u, S_N_SMS_MT, n_smt)
            put(feats, cols, u, S_N_DATA, n_data)
            put(feats, cols, u, S_MOC_ZERO_SHARE, ratio(n_zero, n_moc))
            put(feats, cols, u, S_MOC_SHORT_SHARE, ratio(n_short, n_moc))
            put(feats, cols, u, S_MT_MO_RATIO, ratio(n_mtc, n_moc))
            put(feats, cols, u, S_SMS_MT_SHORT_SHARE, ratio(n_short_mt, n_smt))
            put(feats, cols, u, S_MOC_NIGHT_SHARE, ratio(n_night_moc, n_moc))
            put(feats, cols, u, S_MOC_WEEKEND_SHARE, ratio(n_weekend_moc, n_moc))
            put(feats, cols, u, S_MOC_OFFICE_SHARE, ratio(n_office_moc, n_moc))
            put(feats, cols, u, S_MOC_EVENING_SHARE, ratio(n_evening_moc, n_moc))
            put(feats, cols, u, S_NIGHT_SHARE, ratio(n_night, m))
            put(feats, cols, u, S_ACTIVE_HOURS, n_hours)
            put(feats, cols, u, S_ACTIVE_DAYS, count_distinct(sd, ndays))
            put(feats, cols, u, S_FIRST_SEEN, <double>ev[0].time if m > 0 else <double>NAN)
            put(feats, cols, u, S_LAST_SEEN, <double>ev[m - 1].time if m > 0 else <double>NAN)
            # hour-of-day entropy from the 24 bins
            gss = 0.0
            for hh in range(24):
                if hist[hh] > 0:
                    dist = <double>hist[hh] / m
                    gss -= dist * log2(dist)
            put(feats, cols, u, S_HOUR_ENTROPY, gss if gss > 0.0 else 0.0)

            # ---- MOC: callees, durations, gaps, international, max per hour
            nm = 0
            ncal = 0
            ng = 0
            n_intl = 0
            sum_d = 0.0
            maxrun = 0
            run = 0
            prev_hb = -1
            for k in range(m):
                if ev[k].rtype != MOC:
                    continue
                sb[nm] = ev[k].duration
                sum_d += ev[k].duration
                if nm > 0:
                    sc[ng] = ev[k].time - t
                    ng += 1
                t = ev[k].time
                nm += 1
                if ev[k].other != 0:
                    sa[ncal] = ev[k].other
                    ncal += 1
                if is_international(ev[k].other, own_cc, own_ccv):
                    n_intl += 1
                hb = floordiv(t, 3600)
                if hb == prev_hb:
                    run += 1
                else:
                    run = 1
                    prev_hb = hb
                if run > maxrun:
                    maxrun = run
            put(feats, cols, u, S_MOC_INTL_SHARE, ratio(n_intl, nm))
            put(feats, cols, u, S_MOC_MAX_PER_HOUR, maxrun)
            mean_d = sum_d / nm if nm > 0 else NAN
            ss = 0.0
            for k in range(nm):
                ss += (sb[k] - mean_d) * (sb[k] - mean_d)
            put(feats, cols, u, S_MOC_DUR_MEAN, mean_d)
            put(feats, cols, u, S_MOC_DUR_STD, sqrt(ss / (nm - 1)) if nm > 1 else NAN)
            put(feats, cols, u, S_MOC_DUR_MEDIAN, median(sb, nm))
            sort_i64(sa, ncal)
            d = count_distinct(sa, ncal)
            put(feats, cols, u, S_MOC_CALLEES, d)
            d_callees = d
            put(feats, cols, u, S_MOC_CALLEE_RATIO, ratio(d, nm))
            put(feats, cols, u, S_MOC_CALLEE_ENTROPY, entropy_of_runs(sa, ncal))
            # repeat contacts: distinct callees called 2 or more times
            rle(sa, ncal, sd, se, &best)
            cnt = 0
            for k in range(d):
                if se[k] >= 2:
                    cnt += 1
            put(feats, cols, u, S_MOC_REPEAT_SHARE, ratio(cnt, d))
            # gaps
            gmean = 0.0
            cnt = 0
            for k in range(ng):
                gmean += sc[k]
                if sc[k] < BURST_GAP_S:
                    cnt += 1
            gmean = gmean / ng if ng > 0 else NAN
            gss = 0.0
            for k in range(ng):
                gss += (sc[k] - gmean) * (sc[k] - gmean)
            put(feats, cols, u, S_MOC_GAP_CV, sqrt(gss / (ng - 1)) / gmean if ng > 1 and gmean != 0 else NAN)
            put(feats, cols, u, S_MOC_GAP_LT30_SHARE, ratio(cnt, ng))
            put(feats, cols, u, S_MOC_GAP_P10, quantile(sc, ng, 0.1))
            put(feats, cols, u, S_MOC_GAP_MEDIAN, median(sc, ng))

            # ---- MTC callers, SMS peers, call-backs, where incoming traffic comes from
            reduce_peers(ev, m, n_moc, n_mtc, own_cc, own_ccv, sa, sb, hset, w.hcall, w.hflag,
                         &peers)
            put(feats, cols, u, S_MTC_CALLERS, peers.callers)
            put(feats, cols, u, S_SMS_PEERS, peers.sms_peers)
            put(feats, cols, u, S_MTC_CALLBACK_SHARE, ratio(peers.callbacks, peers.mtc_known))
            put(feats, cols, u, S_MOC_CALLED_BACK_SHARE, ratio(peers.called_back, d_callees))
            put(feats, cols, u, S_IN_INTL_SHARE, ratio(peers.incoming_intl, n_mtc + n_smt))

            # ---- cells, sites, gyration: distinct cells/sites by mark arrays (no sort)
            ncel = 0
            nd = 0
            nds = 0
            for k in range(m):
                c = ev[k].cell
                if c < 0:
                    continue
                ncel += 1
                if mark_cell[c] != u:
                    mark_cell[c] = <int32_t>u
                    cnt_cell[c] = 0
                    sa[nd] = c
                    nd += 1
                cnt_cell[c] += 1
                site = cell_site[c]
                if mark_site[site] != u:
                    mark_site[site] = <int32_t>u
                    cnt_site[site] = 0
                    sb[nds] = site
                    nds += 1
                cnt_site[site] += 1
            best = 0
            gss = 0.0
            n_loc = 0
            slat = slon = 0.0
            main_cell[u] = -1
            for k in range(nd):
                c = <int32_t>sa[k]
                cnt = cnt_cell[c]
                cell_id_out[ncell] = <int32_t>u
                cell_code_out[ncell] = c
                cell_events[ncell] = cnt
                ncell += 1
                dist = <double>cnt / ncel
                gss -= dist * log2(dist)
                if cnt > best or (cnt == best and cell_rank[c] < cell_rank[main_cell[u]]):
                    best = cnt
                    main_cell[u] = c
                if not isnan(cell_lat[c]) and not isnan(cell_lon[c]):
                    slat += cnt * cell_lat[c]
                    slon += cnt * cell_lon[c]
                    n_loc += cnt
            put(feats, cols, u, S_N_CELLS, nd)
            put(feats, cols, u, S_TOP_CELL_SHARE, ratio(best, ncel))
            put(feats, cols, u, S_CELL_ENTROPY, (gss if gss > 0.0 else 0.0) if ncel > 0 else NAN)
            best = 0
            main_site[u] = -1
            for k in range(nds):
                site = <int32_t>sb[k]
                cnt = cnt_site[site]
                site_id_out[nsite] = <int32_t>u
                site_code_out[nsite] = site
                site_events[nsite] = cnt
                nsite += 1
                if cnt > best or (cnt == best and site_rank[site] < site_rank[main_site[u]]):
                    best = cnt
                    main_site[u] = site
            put(feats, cols, u, S_N_SITES, nds)
            if n_loc > 0:
                clat = slat / n_loc
                clon = slon / n_loc
                ss = 0.0
                for k in range(nd):
                    c = <int32_t>sa[k]
                    if isnan(cell_lat[c]) or isnan(cell_lon[c]):
                        continue
                    dist = haversine_km(cell_lat[c], cell_lon[c], clat, clon)
                    ss += cnt_cell[c] * dist * dist
                put(feats, cols, u, S_GYRATION_KM, sqrt(ss / n_loc))
            else:
                put(feats, cols, u, S_GYRATION_KM, NAN)

            # ---- devices: distinct IMEIs with events/first/last, changes, main share
            nimei = 0
            n_changes = 0
            prev_imei = 0
            for k in range(m):
                if ev[k].imei == 0:
                    continue
                sa[nimei] = ev[k].imei
                nimei += 1
                if prev_imei != 0 and ev[k].imei != prev_imei:
                    n_changes += 1
                prev_imei = ev[k].imei
            sort_i64(sa, nimei)
            d = rle(sa, nimei, sb, se, &best)      # distinct IMEIs (sorted) and their events
            main_imei[u] = 0
            for k in range(d):
                if se[k] == best:                  # ties: the smallest IMEI
                    main_imei[u] = sb[k]
                    break
            for k in range(d):
                sc[k] = -1             # first index seen
                sd[k] = -1             # last index seen
            for k in range(m):
                if ev[k].imei == 0:
                    continue
                i = bsearch(sb, d, ev[k].imei)
                if sc[i] < 0:
                    sc[i] = ev[k].time
                sd[i] = ev[k].time
            for k in range(d):
                dev_id[ndev] = <int32_t>u
                dev_imei[ndev] = sb[k]
                dev_events[ndev] = se[k]
                dev_first[ndev] = sc[k]
                dev_last[ndev] = sd[k]
                ndev += 1
            put(feats, cols, u, S_N_IMEIS, d)
            put(feats, cols, u, S_IMEI_CHANGES, n_changes)
            put(feats, cols, u, S_MAIN_IMEI_SHARE, ratio(best, nimei))

            # ---- moves: runs of events at one site (a lone event at B between runs at A,
            # a serving-cell flicker, is dropped and A's run goes on); consecutive runs at
            # most MOVE_GAP_S apart give a move (from site, to site, first time at the new
            # site).  sa: site, sb: first time, sc: last time, sd: events of each run.
            nd = 0
            for k in range(m):
                c = ev[k].cell
                if c < 0:
                    continue
                site = cell_site[c]
                t = ev[k].time
                if nd > 0 and sa[nd - 1] == site:
                    sc[nd - 1] = t
                    sd[nd - 1] += 1
                elif nd >= 2 and sd[nd - 1] == 1 and sa[nd - 2] == site:
                    nd -= 1
                    sc[nd - 1] = t
                    sd[nd - 1] += 1
                else:
                    sa[nd] = site
                    sb[nd] = t
                    sc[nd] = t
                    sd[nd] = 1
                    nd += 1
            for k in range(1, nd):
                if sb[k] - sc[k - 1] <= MOVE_GAP_S:
                    move_id[nmove] = <int32_t>u
                    move_from[nmove] = <int32_t>sa[k - 1]
                    move_to[nmove] = <int32_t>sa[k]
                    move_time[nmove] = sb[k]
                    nmove += 1

    scratch_free(&w)
    return ndup, ndev, ncell, nsite, nmove

