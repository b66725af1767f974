# The per-IMSI block helpers of reduce_partition, included by _aggregate.pyx (after the
# Arrays, Scratch and put they use).  Each block reads the IMSI's sorted events (Sub),
# names the scratch arrays it uses at its top and writes its outputs into Arrays.

cdef struct Sub:
    # one IMSI (subscriber) being reduced, and what its blocks pass on to later ones
    Py_ssize_t row       # its IMSI id = output row
    const Ev* ev         # its events, sorted by the full key, without duplicates
    Py_ssize_t m         # their number
    int own_cc           # digits of the country code of its own number (0 = unknown)
    int64_t own_ccv      # their value                                  (reduce_counts)
    int64_t n_moc        # MOC, MTC and SMS MT events                   (reduce_counts)
    int64_t n_mtc
    int64_t n_smt
    Py_ssize_t callees   # distinct numbers called                      (reduce_calls)
    Py_ssize_t n_cells   # distinct cells, in Scratch.cells             (reduce_cells)


cdef inline int reduce_counts(Arrays a, Sub* s, Scratch* w) except -1 nogil:
    """Counts by record type, local hours, days and week, active hours, first and last
    seen, and the IMSI's own number (its last non-empty MSISDN) with its country code."""
    cdef int64_t* days = w.work[0]       # local days, recorded when the day changes
    cdef const Ev* ev = s.ev
    cdef const int32_t[::1] tz = a.tz_offset
    cdef Py_ssize_t u = s.row, m = s.m, NB = tz.shape[0], k, j, ndays = 0
    cdef int64_t q0 = a.q0
    cdef int64_t n_moc = 0, n_ans = 0, n_mtc = 0, n_smo = 0, n_smt = 0, n_data = 0
    cdef int64_t n_zero = 0, n_mtc_zero = 0, n_short = 0, n_night_moc = 0, n_night = 0, n_short_mt = 0
    cdef int64_t n_weekend_moc = 0, n_office_moc = 0, n_evening_moc = 0
    cdef int64_t own_ms = 0, n_hours = 0, prev_hb = -1, t, hb, loc, day
    cdef int64_t hist[24]
    cdef int hour, hh, weekday, own_n
    cdef char own[24]
    cdef bint days_sorted = True
    cdef double gss, dist
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
        loc = t + (tz[j] if 0 <= j < NB else 0)
        day = floordiv(loc, 86400)
        hour = <int>(floordiv(loc - day * 86400, 3600))
        hist[hour] += 1
        if ndays == 0 or day != days[ndays - 1]:
            if ndays > 0 and day < days[ndays - 1]:
                days_sorted = False       # local time went back (DST end)
            days[ndays] = day
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
            if ev[k].duration <= 0:
                n_mtc_zero += 1
        elif ev[k].rtype == SMS_MO:
            n_smo += 1
        elif ev[k].rtype == SMS_MT:
            n_smt += 1
            if SHORT_CODE_MIN <= ev[k].other < SHORT_CODE_END:   # 3-6 digits
                n_short_mt += 1
        elif ev[k].rtype == DATA:
            n_data += 1
    a.msisdn_out[u] = own_ms
    own_n = ndigits(own_ms, own)
    s.own_cc = cc_len(own) if own_n >= 8 and own[0] != 48 else 0
    s.own_ccv = own_prefix(own, s.own_cc)
    s.n_moc = n_moc
    s.n_mtc = n_mtc
    s.n_smt = n_smt
    if not days_sorted:
        sort_i64(days, ndays)
    for hh in range(24):
        a.hours[u, hh] = <int32_t>hist[hh]
    put(a, u, S_N_EVENTS, m)
    put(a, u, S_N_MOC, n_moc)
    put(a, u, S_N_MOC_ANSWERED, n_ans)
    put(a, u, S_N_MTC, n_mtc)
    put(a, u, S_N_SMS_MO, n_smo)
    put(a, u, S_N_SMS_MT, n_smt)
    put(a, u, S_N_DATA, n_data)
    put(a, u, S_MOC_ZERO_SHARE, ratio(n_zero, n_moc))
    put(a, u, S_MOC_SHORT_SHARE, ratio(n_short, n_moc))
    put(a, u, S_MT_MO_RATIO, ratio(n_mtc, n_moc))
    put(a, u, S_MTC_ZERO_SHARE, ratio(n_mtc_zero, n_mtc))
    put(a, u, S_SMS_MT_SHORT_SHARE, ratio(n_short_mt, n_smt))
    put(a, u, S_MOC_NIGHT_SHARE, ratio(n_night_moc, n_moc))
    put(a, u, S_MOC_WEEKEND_SHARE, ratio(n_weekend_moc, n_moc))
    put(a, u, S_MOC_OFFICE_SHARE, ratio(n_office_moc, n_moc))
    put(a, u, S_MOC_EVENING_SHARE, ratio(n_evening_moc, n_moc))
    put(a, u, S_NIGHT_SHARE, ratio(n_night, m))
    put(a, u, S_ACTIVE_HOURS, n_hours)
    put(a, u, S_ACTIVE_DAYS, count_distinct(days, ndays))
    put(a, u, S_FIRST_SEEN, <double>ev[0].time if m > 0 else <double>NAN)
    put(a, u, S_LAST_SEEN, <double>ev[m - 1].time if m > 0 else <double>NAN)
    gss = 0.0                            # hour-of-day entropy from the 24 bins
    for hh in range(24):
        if hist[hh] > 0:
            dist = <double>hist[hh] / m
            gss -= dist * log2(dist)
    put(a, u, S_HOUR_ENTROPY, gss if gss > 0.0 else 0.0)
    return 0


cdef inline int reduce_calls(Arrays a, Sub* s, Scratch* w) except -1 nogil:
    """MOC: callees (distinct, ratio, entropy, repeat share), durations, gaps between
    calls, international share, the most calls in one UTC hour."""
    cdef int64_t* callees = w.work[0]     # numbers called, in call order, then sorted
    cdef int64_t* durations = w.work[1]
    cdef int64_t* gaps = w.work[2]        # seconds between consecutive MOC
    cdef int64_t* distinct = w.work[3]    # distinct callees (rle of callees) ...
    cdef int64_t* times = w.work[4]       # ... and how often each was called
    cdef const Ev* ev = s.ev
    cdef Py_ssize_t u = s.row, k, nm = 0, ncal = 0, ng = 0, d
    cdef int64_t n_intl = 0, run = 0, maxrun = 0, prev_hb = -1, hb, t = 0, cnt, best
    cdef double sum_d = 0.0, mean_d, ss, gmean, gss
    for k in range(s.m):
        if ev[k].rtype != MOC:
            continue
        durations[nm] = ev[k].duration
        sum_d += ev[k].duration
        if nm > 0:
            gaps[ng] = ev[k].time - t
            ng += 1
        t = ev[k].time
        nm += 1
        if ev[k].other != 0:
            callees[ncal] = ev[k].other
            ncal += 1
        if is_international(ev[k].other, s.own_cc, s.own_ccv):
            n_intl += 1
        hb = floordiv(t, 3600)
        if hb == prev_hb:
            run += 1
        else:
            run = 1
            prev_hb = hb
        if run > maxrun:
            maxrun = run
    put(a, u, S_MOC_INTL_SHARE, ratio(n_intl, nm))
    put(a, u, S_MOC_MAX_PER_HOUR, maxrun)
    mean_d = sum_d / nm if nm > 0 else NAN
    ss = 0.0
    for k in range(nm):
        ss += (durations[k] - mean_d) * (durations[k] - mean_d)
    put(a, u, S_MOC_DUR_MEAN, mean_d)
    put(a, u, S_MOC_DUR_STD, sqrt(ss / (nm - 1)) if nm > 1 else NAN)
    put(a, u, S_MOC_DUR_MEDIAN, median(durations, nm))
    sort_i64(callees, ncal)
    d = count_distinct(callees, ncal)
    s.callees = d
    put(a, u, S_MOC_CALLEES, d)
    put(a, u, S_MOC_CALLEE_RATIO, ratio(d, nm))
    put(a, u, S_MOC_CALLEE_ENTROPY, entropy_of_runs(callees, ncal))
    # repeat contacts: distinct callees called 2 or more times
    rle(callees, ncal, distinct, times, &best)
    cnt = 0
    for k in range(d):
        if times[k] >= 2:
            cnt += 1
    put(a, u, S_MOC_REPEAT_SHARE, ratio(cnt, d))
    gmean = 0.0
    cnt = 0
    for k in range(ng):
        gmean += gaps[k]
        if gaps[k] < BURST_GAP_S:
            cnt += 1
    gmean = gmean / ng if ng > 0 else NAN
    gss = 0.0
    for k in range(ng):
        gss += (gaps[k] - gmean) * (gaps[k] - gmean)
    put(a, u, S_MOC_GAP_CV, sqrt(gss / (ng - 1)) / gmean if ng > 1 and gmean != 0 else NAN)
    put(a, u, S_MOC_GAP_LT30_SHARE, ratio(cnt, ng))
    put(a, u, S_MOC_GAP_P10, quantile(gaps, ng, 0.1))
    put(a, u, S_MOC_GAP_MEDIAN, median(gaps, ng))
    return 0


cdef inline int reduce_peers(Arrays a, Sub* s, Scratch* w) except -1 nogil:
    """The other parties of incoming traffic and SMS, in one pass in sort order: distinct
    MTC callers and SMS peers, call-backs, the share of incoming international traffic.

    The numbers called so far go into a hash set (``called``, ``flag``:
    hash_set_slots(n_moc) slots; a flag marks a callee that called back), where each
    MTC's caller is looked up: only when the IMSI has both MOC and MTC.
    """
    cdef int64_t* callers = w.work[0]     # calling numbers of MTC
    cdef int64_t* peers = w.work[1]       # other parties of SMS MO and MT
    cdef int64_t* called = w.hcall
    cdef uint8_t* flag = w.hflag
    cdef const Ev* ev = s.ev
    cdef Py_ssize_t u = s.row, k, ncal = 0, npeer = 0
    cdef bint track = s.n_moc > 0 and s.n_mtc > 0
    cdef uint64_t mask = <uint64_t>(hash_set_slots(s.n_moc) - 1), h
    cdef int64_t x, callbacks = 0, called_back = 0, incoming_intl = 0
    cdef uint8_t r
    if track:
        memset(called, 0, (mask + 1) * sizeof(int64_t))
        memset(flag, 0, (mask + 1) * sizeof(uint8_t))
    for k in range(s.m):
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
            if is_international(x, s.own_cc, s.own_ccv):
                incoming_intl += 1
            if track:
                h = hash_slot(called, mask, x)
                if called[h] == x:
                    callbacks += 1         # from a number the IMSI called at an earlier event
                    if flag[h] == 0:
                        flag[h] = 1
                        called_back += 1   # distinct numbers called that called back
        elif r == SMS_MO or r == SMS_MT:
            peers[npeer] = x
            npeer += 1
            if r == SMS_MT and is_international(x, s.own_cc, s.own_ccv):
                incoming_intl += 1
    put(a, u, S_MTC_CALLERS, count_distinct_hashed(callers, ncal, w.hset))
    put(a, u, S_SMS_PEERS, count_distinct_hashed(peers, npeer, w.hset))
    put(a, u, S_MTC_CALLBACK_SHARE, ratio(callbacks, ncal))
    put(a, u, S_MOC_CALLED_BACK_SHARE, ratio(called_back, s.callees))
    put(a, u, S_IN_INTL_SHARE, ratio(incoming_intl, s.n_mtc + s.n_smt))
    return 0


cdef inline int reduce_cells(Arrays a, Sub* s, Scratch* w) except -1 nogil:
    """IMSI-cell pairs with their events, main cell, top cell share, cell entropy and
    radius of gyration.  Distinct cells by mark arrays (no sort), in order of first event:
    left in Scratch.cells, their events in Scratch.cnt_cell, for reduce_sites."""
    cdef int64_t* cells = w.cells
    cdef int32_t* mark = w.mark_cell
    cdef int64_t* count = w.cnt_cell
    cdef const Ev* ev = s.ev
    cdef Py_ssize_t u = s.row, k, nd = 0
    cdef int64_t n_known = 0, n_loc = 0, cnt, best = 0, row = a.n.cell   # next row of cell_*
    cdef int32_t c, main = -1
    cdef double gss = 0.0, slat = 0.0, slon = 0.0, clat, clon, dist, ss
    for k in range(s.m):
        c = ev[k].cell
        if c < 0:
            continue
        n_known += 1
        if mark[c] != u:
            mark[c] = <int32_t>u
            count[c] = 0
            cells[nd] = c
            nd += 1
        count[c] += 1
    s.n_cells = nd
    for k in range(nd):
        c = <int32_t>cells[k]
        cnt = count[c]
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
            c = <int32_t>cells[k]
            if isnan(a.cell_lat[c]) or isnan(a.cell_lon[c]):
                continue
            dist = haversine_km(a.cell_lat[c], a.cell_lon[c], clat, clon)
            ss += count[c] * dist * dist
        put(a, u, S_GYRATION_KM, sqrt(ss / n_loc))
    else:
        put(a, u, S_GYRATION_KM, NAN)
    return 0


cdef inline int reduce_sites(Arrays a, Sub* s, Scratch* w) except -1 nogil:
    """IMSI-site pairs with their events and the main site, from the distinct cells of
    reduce_cells: walking them in order of first event meets the sites in order of first
    event, and a site's events are the sum of its cells' events."""
    cdef int64_t* sites = w.work[0]       # distinct site codes, in order of first event
    cdef int32_t* mark = w.mark_site
    cdef int64_t* count = w.cnt_site
    cdef Py_ssize_t u = s.row, k, nds = 0
    cdef int64_t cnt, best = 0, row = a.n.site        # next row of site_*
    cdef int32_t c, site, main = -1
    for k in range(s.n_cells):
        c = <int32_t>w.cells[k]
        site = a.cell_site[c]
        if mark[site] != u:
            mark[site] = <int32_t>u
            count[site] = 0
            sites[nds] = site
            nds += 1
        count[site] += w.cnt_cell[c]
    for k in range(nds):
        site = <int32_t>sites[k]
        cnt = count[site]
        a.site_row[row] = <int32_t>u
        a.site_code[row] = site
        a.site_events[row] = cnt
        row += 1
        if cnt > best or (cnt == best and a.site_rank[site] < a.site_rank[main]):
            best = cnt
            main = site
    a.n.site = row
    a.main_site[u] = main
    put(a, u, S_N_SITES, nds)
    return 0


cdef inline int reduce_devices(Arrays a, Sub* s, Scratch* w) except -1 nogil:
    """IMSI-IMEI pairs with their events, first and last time; the main IMEI (most
    events, ties: the smallest) and its share; IMEI changes between consecutive events."""
    cdef int64_t* imeis = w.work[0]       # known IMEIs in event order, then sorted
    cdef int64_t* distinct = w.work[1]    # distinct IMEIs (sorted) ...
    cdef int64_t* events = w.work[2]      # ... their events,
    cdef int64_t* first = w.work[3]       # first time (-1 = not yet)
    cdef int64_t* last = w.work[4]        # and last time
    cdef const Ev* ev = s.ev
    cdef Py_ssize_t u = s.row, k, i, n = 0, d
    cdef int64_t n_changes = 0, prev = 0, best, row = a.n.dev    # next row of dev_*
    for k in range(s.m):
        if ev[k].imei == 0:
            continue
        imeis[n] = ev[k].imei
        n += 1
        if prev != 0 and ev[k].imei != prev:
            n_changes += 1
        prev = ev[k].imei
    sort_i64(imeis, n)
    d = rle(imeis, n, distinct, events, &best)
    a.main_imei[u] = 0
    for k in range(d):
        if events[k] == best:
            a.main_imei[u] = distinct[k]
            break
    for k in range(d):
        first[k] = -1
        last[k] = -1
    for k in range(s.m):
        if ev[k].imei == 0:
            continue
        i = bsearch(distinct, d, ev[k].imei)
        if first[i] < 0:
            first[i] = ev[k].time
        last[i] = ev[k].time
    for k in range(d):
        a.dev_row[row] = <int32_t>u
        a.dev_imei[row] = distinct[k]
        a.dev_events[row] = events[k]
        a.dev_first[row] = first[k]
        a.dev_last[row] = last[k]
        row += 1
    a.n.dev = row
    put(a, u, S_N_IMEIS, d)
    put(a, u, S_IMEI_CHANGES, n_changes)
    put(a, u, S_MAIN_IMEI_SHARE, ratio(best, n))
    return 0


cdef inline int reduce_moves(Arrays a, Sub* s, Scratch* w) except -1 nogil:
    """Moves: runs of events at one site (a lone event at B between runs at A, a
    serving-cell flicker, is dropped and A's run goes on); consecutive runs at most
    MOVE_GAP_S apart give a move (from site, to site, first time at the new site)."""
    cdef int64_t* site_of = w.work[0]     # per run: its site,
    cdef int64_t* t_first = w.work[1]     # first time,
    cdef int64_t* t_last = w.work[2]      # last time
    cdef int64_t* events = w.work[3]      # and events
    cdef const Ev* ev = s.ev
    cdef Py_ssize_t u = s.row, k, nr = 0
    cdef const int32_t[::1] cell_site = a.cell_site
    cdef int64_t t, row = a.n.move                    # next row of move_*
    cdef int32_t c, site
    for k in range(s.m):
        c = ev[k].cell
        if c < 0:
            continue
        site = cell_site[c]
        t = ev[k].time
        if nr > 0 and site_of[nr - 1] == site:
            t_last[nr - 1] = t
            events[nr - 1] += 1
        elif nr >= 2 and events[nr - 1] == 1 and site_of[nr - 2] == site:
            nr -= 1
            t_last[nr - 1] = t
            events[nr - 1] += 1
        else:
            site_of[nr] = site
            t_first[nr] = t
            t_last[nr] = t
            events[nr] = 1
            nr += 1
    for k in range(1, nr):
        if t_first[k] - t_last[k - 1] <= MOVE_GAP_S:
            a.move_row[row] = <int32_t>u
            a.move_from[row] = <int32_t>site_of[k - 1]
            a.move_to[row] = <int32_t>site_of[k]
            a.move_time[row] = t_first[k]
            row += 1
    a.n.move = row
    return 0
