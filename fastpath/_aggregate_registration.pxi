# The registration block of reduce_partition (issue 19), included by _aggregate.pyx after
# _aggregate_blocks.pxi.  ATTACH events from GSM MAP carry their source in ``other``
# (fastpath/signaling.py SOURCES: 1 registration = UpdateLocation / UpdateGprsLocation,
# 2 authentication = SendAuthenticationInfo, 3 CheckIMEI) and the LAC + 1 of their
# location area in ``duration`` (0 = unknown).

cdef enum:
    ATTACH = 5
    SRC_REGISTRATION = 1
    SRC_AUTH = 2
    SRC_CHECK_IMEI = 3


cdef inline int reduce_registrations(Arrays a, Sub* s, Scratch* w) except -1 nogil:
    """MAP registrations of one IMSI: their number, the most authentications in one clock
    hour, the share of registrations after which the SIM has no call or SMS (MOC, MTC,
    SMS MO / MT) before its next registration or its last event (events in sort order);
    and one row of reg_* per registration or CheckIMEI with an IMEI or a LAC, consecutive
    repeats of (IMEI, clock hour, LAC) written once."""
    cdef const Ev* ev = s.ev
    cdef Py_ssize_t u = s.row, k
    cdef int64_t n_reg = 0, n_idle = 0, auth_hour = -1, auth_n = 0, auth_max = 0, hb
    cdef int64_t row = a.n.reg, last_imei = -1, last_hour = -1
    cdef int32_t last_lac = -1, lac
    cdef bint open_reg = False            # a registration not yet followed by traffic
    for k in range(s.m):
        if ev[k].rtype <= SMS_MT:         # MOC, MTC, SMS MO, SMS MT: traffic
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
            if auth_n > auth_max:
                auth_max = auth_n
            continue
        if ev[k].other == SRC_REGISTRATION:
            if open_reg:
                n_idle += 1
            open_reg = True
            n_reg += 1
        lac = ev[k].duration
        if ev[k].imei != 0 or lac > 0:
            if ev[k].imei != last_imei or hb != last_hour or lac != last_lac:
                a.reg_row[row] = <int32_t>u
                a.reg_imei[row] = ev[k].imei
                a.reg_time[row] = ev[k].time
                a.reg_lac[row] = lac
                row += 1
                last_imei, last_hour, last_lac = ev[k].imei, hb, lac
    if open_reg:
        n_idle += 1
    a.n.reg = row
    put(a, u, S_N_REGISTRATIONS, n_reg)
    put(a, u, S_AUTH_MAX_PER_HOUR, auth_max)
    put(a, u, S_REG_IDLE_SHARE, ratio(n_idle, n_reg))
    return 0
