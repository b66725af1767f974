# SIGTRAN -> SCCP -> TCAP -> GSM MAP, included by _sigdecode.pyx.
#
# Layers (each read checked against the end of its enclosing structure):
# - M3UA (RFC 4666) Transfer DATA: the Protocol Data parameter (OPC, DPC, SI; SI 3 = SCCP);
# - M2PA (RFC 4165) User Data: the MTP3 message (SIO, ITU routing label) inside;
# - SCCP (Q.713) UDT and XUDT (unsegmented, or the first segment of a single-segment
#   message); other SCCP messages and later segments are counted and skipped;
# - TCAP (Q.773) Begin, Continue, End: transaction ids and the components
#   (Invoke, ReturnResult last / not last), BER with definite lengths;
# - MAP (TS 29.002) operations: updateLocation (2), updateGprsLocation (23),
#   sendAuthenticationInfo (56), checkIMEI (43, with the IMSI of Ericsson's
#   EnhancedCheckIMEI-Arg, [PRIVATE 1]), provideSubscriberInfo (70) and
#   anyTimeInterrogation (71) whose answers carry the location.
#
# Pairing: a Begin's requests that need their answer (checkIMEI: the equipment status;
# PSI, ATI: the location) are kept in a direct-mapped table of the Sink keyed by
# (originating transaction id, originating point code); an End / Continue from the
# other side finds them by (destination transaction id, destination point code).

cdef enum:
    PPID_M3UA = 3
    PPID_M2PA = 5
    PORT_M3UA = 2905
    PORT_M2PA = 3565
    OP_UL = 2
    OP_SEND_PARAMETERS = 9
    OP_CHECK_IMEI = 43
    OP_UGL = 23
    OP_SAI = 56
    OP_PSI = 70
    OP_ATI = 71
    TX_BITS = 14          # pending-transaction table: 2**TX_BITS slots

cdef struct Mtp:
    # what the layers under SCCP tell about one message
    int64_t opc          # originating point code
    int64_t dpc          # destination point code


cdef inline Py_ssize_t ber(const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end, int* tag,
                           Py_ssize_t* vlen) except -2:
    """One BER TLV at ``q``: its tag (the first octet; ``first << 16 | number`` for a
    high tag number) into ``*tag``, the value length into ``*vlen``; returns where the
    value starts, or -1 when the TLV does not fit in ``[q, end)`` or its length is
    indefinite or longer than 3 octets."""
    cdef int t, n = 0, k = 0
    cdef Py_ssize_t l
    if end - q < 2:
        return -1
    t = b[q]
    q += 1
    if (t & 0x1F) == 0x1F:
        while True:
            if q >= end or k == 3:
                return -1
            n = (n << 7) | (b[q] & 0x7F)
            k += 1
            q += 1
            if not (b[q - 1] & 0x80):
                break
        t = (t << 16) | n
    if q >= end:
        return -1
    l = b[q]
    q += 1
    if l & 0x80:
        k = l & 0x7F
        if k == 0 or k > 3 or end - q < k:
            return -1
        l = 0
        while k:
            l = (l << 8) | b[q]
            q += 1
            k -= 1
    if l > end - q:
        return -1
    tag[0] = t
    vlen[0] = l
    return q


cdef int64_t address_digits(const uint8_t[::1] b, Py_ssize_t p, Py_ssize_t n) except -2:
    """Digits code of an ISDN-AddressString (nature octet, then TBCD); -1 if invalid."""
    if n < 2:
        return -1
    return tbcd(b, p + 1, n - 1, 1, 15)


cdef int lai(Msg* m, const uint8_t[::1] b, Py_ssize_t p, Py_ssize_t n) except -1:
    """A LAI (5 octets) or CGI / SAI (7 octets) of TS 24.008 / 29.002: PLMN, LAC (, CI).
    Returns 1 if the length is wrong or the PLMN not BCD."""
    cdef int64_t plmn
    if n != 5 and n != 7:
        return 1
    plmn = plmn_code(b, p)
    if plmn < 0:
        return 1
    m.plmn = plmn
    m.lac = <int32_t>be16(b, p + 3)
    m.ci = be16(b, p + 5) if n == 7 else -1
    return 0


cdef int map_add_info(Msg* m, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end,
                      int64_t field) except -1:
    """ADD-Info ::= SEQUENCE { imeisv [0] IMEI, ... } in [q, end)."""
    cdef int tag
    cdef Py_ssize_t l, v
    while q < end:
        v = ber(b, q, end, &tag, &l)
        if v < 0:
            return reject(m, R_MAP, field)
        if tag == 0x80 and not put(m, &m.imei, tbcd(b, v, l, 14, 16), field):
            return 0
        q = v + l
    return 0


cdef int map_update_location(Msg* m, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end,
                             int op, int64_t field) except -1:
    """UpdateLocationArg / UpdateGprsLocationArg (a SEQUENCE's contents in [q, end)):
    the IMSI, the VLR / SGSN number, the IMEISV of add-info, the LAI of pagingArea."""
    cdef int tag, tag2, octets = 0
    cdef Py_ssize_t l, v, l2, v2
    cdef int add_info = 0xAD if op == OP_UL else 0xA4
    while q < end:
        v = ber(b, q, end, &tag, &l)
        if v < 0:
            return reject(m, R_MAP, field)
        if tag == 0x04:
            octets += 1
            if octets == 1:
                if not put(m, &m.imsi, tbcd(b, v, l, 6, 15), field):
                    return 0
            elif octets == 2:
                if not put(m, &m.node, address_digits(b, v, l), field):
                    return 0
        elif tag == add_info:
            map_add_info(m, b, v, v + l, field)
            if m.reason:
                return 0
        elif tag == 0xAE and op == OP_UL and m.ci < 0 and m.lac < 0:
            # pagingArea: SEQUENCE OF LocationArea { laiFixedLength [0] | lac [1] }
            v2 = ber(b, v, v + l, &tag2, &l2)
            if v2 < 0:
                return reject(m, R_MAP, field)
            if tag2 == 0x80 and lai(m, b, v2, l2):
                return reject(m, R_MAP_LOCATION, field)
        q = v + l
    return 0


cdef int map_location_info(Msg* m, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end,
                           int64_t field) except -1:
    """LocationInformation (contents in [q, end)): cellGlobalIdOrServiceAreaIdOrLAI [3]."""
    cdef int tag, tag2
    cdef Py_ssize_t l, v, l2, v2
    while q < end:
        v = ber(b, q, end, &tag, &l)
        if v < 0:
            return reject(m, R_MAP, field)
        if tag == 0xA3:
            v2 = ber(b, v, v + l, &tag2, &l2)
            if v2 < 0:
                return reject(m, R_MAP, field)
            if (tag2 == 0x80 and l2 == 7) or (tag2 == 0x81 and l2 == 5):
                if lai(m, b, v2, l2):
                    return reject(m, R_MAP_LOCATION, field)
            else:
                return reject(m, R_MAP_LOCATION, field)
        q = v + l
    return 0


cdef int map_subscriber_info(Msg* m, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end,
                             int64_t field) except -1:
    """PSI-Res / ATI-Res contents: SubscriberInfo { locationInformation [0], imei [5] }."""
    cdef int tag
    cdef Py_ssize_t l, v
    v = ber(b, q, end, &tag, &l)
    if v < 0 or tag != 0x30:
        return reject(m, R_MAP, field)
    end = v + l
    q = v
    while q < end:
        v = ber(b, q, end, &tag, &l)
        if v < 0:
            return reject(m, R_MAP, field)
        if tag == 0xA0:
            map_location_info(m, b, v, v + l, field)
        elif tag == 0x85:
            put(m, &m.imei, tbcd(b, v, l, 14, 16), field)
        if m.reason:
            return 0
        q = v + l
    return 0


cdef int map_invoke(Msg* m, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end,
                    int op) except -1:
    """The argument of an Invoke of ``op`` (its TLV in [q, end), or empty) into m.
    Returns the kind of event it makes (0: none)."""
    cdef int tag, tag2, tag3
    cdef Py_ssize_t l, v, l2, v2, l3, v3, e
    cdef int64_t field = (<int64_t>F_MAP << 32) | op
    if q >= end:
        return 0
    v = ber(b, q, end, &tag, &l)
    if v < 0:
        reject(m, R_MAP, field)
        return 0
    e = v + l
    if op == OP_UL or op == OP_UGL:
        if tag != 0x30:
            reject(m, R_MAP, field)
            return 0
        map_update_location(m, b, v, e, op, field)
        return KIND_MAP_UL if op == OP_UL else KIND_MAP_UGL
    if op == OP_SAI:
        if tag == 0x04:                               # MAP v2: the IMSI alone
            put(m, &m.imsi, tbcd(b, v, l, 6, 15), field)
            return KIND_MAP_SAI
        if tag != 0x30:
            reject(m, R_MAP, field)
            return 0
        while v < e:
            v2 = ber(b, v, e, &tag2, &l2)
            if v2 < 0:
                reject(m, R_MAP, field)
                return 0
            if tag2 == 0x80 and not put(m, &m.imsi, tbcd(b, v2, l2, 6, 15), field):
                return 0
            v = v2 + l2
        return KIND_MAP_SAI
    if op == OP_CHECK_IMEI:
        if tag == 0x04:                               # MAP v2: the IMEI alone
            put(m, &m.imei, tbcd(b, v, l, 14, 16), field)
            return KIND_MAP_CHECK_IMEI
        if tag != 0x30:
            reject(m, R_MAP, field)
            return 0
        while v < e:
            v2 = ber(b, v, e, &tag2, &l2)
            if v2 < 0:
                reject(m, R_MAP, field)
                return 0
            if tag2 == 0x04:
                if not put(m, &m.imei, tbcd(b, v2, l2, 14, 16), field):
                    return 0
            elif tag2 == 0xC1:                        # Ericsson: imsi [PRIVATE 1]
                if not put(m, &m.imsi, tbcd(b, v2, l2, 6, 15), field):
                    return 0
            v = v2 + l2
        return KIND_MAP_CHECK_IMEI
    if op == OP_PSI or op == OP_ATI:
        if tag != 0x30:
            reject(m, R_MAP, field)
            return 0
        while v < e:
            v2 = ber(b, v, e, &tag2, &l2)
            if v2 < 0:
                reject(m, R_MAP, field)
                return 0
            if op == OP_PSI and tag2 == 0x80:
                if not put(m, &m.imsi, tbcd(b, v2, l2, 6, 15), field):
                    return 0
            elif op == OP_ATI and tag2 == 0xA0:       # subscriberIdentity: imsi [0] | msisdn [1]
                v3 = ber(b, v2, v2 + l2, &tag3, &l3)
                if v3 < 0:
                    reject(m, R_MAP, field)
                    return 0
                if tag3 == 0x80 and not put(m, &m.imsi, tbcd(b, v3, l3, 6, 15), field):
                    return 0
                if tag3 == 0x81 and not put(m, &m.msisdn, address_digits(b, v3, l3), field):
                    return 0
            v = v2 + l2
        return KIND_MAP_PSI if op == OP_PSI else KIND_MAP_ATI
    return 0


cdef int map_result(Msg* m, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end,
                    int op) except -1:
    """The result of ``op`` (its TLV in [q, end)) into m: the equipment status of a
    checkIMEI, the location and IMEI of a PSI / ATI answer."""
    cdef int tag, tag2
    cdef Py_ssize_t l, v, l2, v2, e
    cdef int64_t field = (<int64_t>F_MAP << 32) | op
    if q >= end:
        return 0
    v = ber(b, q, end, &tag, &l)
    if v < 0:
        return reject(m, R_MAP, field)
    e = v + l
    if op == OP_CHECK_IMEI:
        if tag == 0x0A and l == 1:                    # MAP v2: EquipmentStatus alone
            m.status = b[v]
        elif tag == 0x30:
            while v < e:
                v2 = ber(b, v, e, &tag2, &l2)
                if v2 < 0:
                    return reject(m, R_MAP, field)
                if tag2 == 0x0A and l2 == 1:
                    m.status = b[v2]
                v = v2 + l2
        else:
            return reject(m, R_MAP, field)
    elif op == OP_PSI or op == OP_ATI:
        if tag != 0x30:
            return reject(m, R_MAP, field)
        map_subscriber_info(m, b, v, e, field)
    return 0


# ---------------------------------------------------------------------------
# TCAP and the pending transactions

cdef inline Py_ssize_t tx_slot(int64_t key) noexcept:
    return <Py_ssize_t>((<uint64_t>key * <uint64_t>0x9E3779B97F4A7C15) >> (64 - TX_BITS))


cdef inline int64_t tx_key(int64_t tid, int64_t pc) noexcept:
    return (<int64_t>1 << 62) | (pc << 32) | tid


cdef int tcap_invoke(Sink s, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end, int mtype,
                     int64_t otid, Mtp* mtp, int64_t t, int64_t pkt_no,
                     int64_t file_offset) except -1:
    """An Invoke after its invokeID, in [q, end): (linkedID [0]), the local operation code,
    the MAP argument -> its event; a Begin's checkIMEI / PSI / ATI waits for its answer
    (PSI / ATI events come with the answer).  Returns 1 when the component is not valid
    TCAP (a reject is added), else 0."""
    cdef int tag, op, kind
    cdef Py_ssize_t l, v, slot
    cdef int64_t key
    cdef Msg m
    v = ber(b, q, end, &tag, &l) if q < end else -1
    if v >= 0 and tag == 0x80:                       # linkedID
        q = v + l
        v = ber(b, q, end, &tag, &l) if q < end else -1
    if v >= 0 and tag == 0x06:
        s.v_counts[C_MAP_OTHER] += 1                 # a global (OID) operation code
        return 0
    if v < 0 or tag != 0x02 or l < 1 or l > 2:
        add_reject(s, R_TCAP, (<int64_t>F_TCAP << 32) | 0xA1, pkt_no, file_offset)
        return 1
    op = b[v] if l == 1 else <int>be16(b, v)
    msg_init(&m)
    kind = map_invoke(&m, b, v + l, end, op)
    if m.reason:
        add_reject(s, m.reason, m.field, pkt_no, file_offset)
        return 0
    if kind == 0:
        s.v_counts[C_MAP_OTHER] += 1
        return 0
    if (kind == KIND_MAP_PSI or kind == KIND_MAP_ATI or kind == KIND_MAP_CHECK_IMEI) and \
            mtype == 0x62 and otid >= 0:
        key = tx_key(otid, mtp.opc)
        slot = tx_slot(key)
        s.v_tx_key[slot] = key
        s.v_tx_kind[slot] = kind
        s.v_tx_imsi[slot] = m.imsi
        s.v_tx_msisdn[slot] = m.msisdn
        s.v_tx_row[slot] = s.n if m.imsi > 0 else -1
        s.v_tx_packet[slot] = pkt_no
    if kind != KIND_MAP_PSI and kind != KIND_MAP_ATI:
        emit(s, &m, kind, t, pkt_no)
    return 0


cdef int tcap_result(Sink s, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end, int ctag,
                     int64_t dtid, Mtp* mtp, int64_t t, int64_t pkt_no,
                     int64_t file_offset) except -1:
    """A ReturnResult (last: ``ctag`` 0xA2, not last: 0xA7) after its invokeID, in [q, end),
    answering a pending Begin (found by DTID and DPC): the equipment status of a checkIMEI,
    the PSI / ATI event with the answer's location.  Returns 1 when the component is not
    valid TCAP (a reject is added), else 0."""
    cdef int tag, op, kind
    cdef Py_ssize_t l, v, lo, vo, slot
    cdef int64_t key
    cdef Msg m
    if q >= end or dtid < 0:
        return 0
    key = tx_key(dtid, mtp.dpc)
    slot = tx_slot(key)
    if s.v_tx_key[slot] != key:
        return 0
    kind = s.v_tx_kind[slot]
    op = OP_CHECK_IMEI if kind == KIND_MAP_CHECK_IMEI else OP_PSI if kind == KIND_MAP_PSI else OP_ATI
    v = ber(b, q, end, &tag, &l)                     # SEQUENCE { opcode, result }
    vo = ber(b, v, v + l, &tag, &lo) if v >= 0 and tag == 0x30 else -1
    if vo < 0 or tag != 0x02:
        add_reject(s, R_TCAP, (<int64_t>F_TCAP << 32) | ctag, pkt_no, file_offset)
        return 1
    msg_init(&m)
    map_result(&m, b, vo + lo, v + l, op)
    if m.reason:
        add_reject(s, m.reason, m.field, pkt_no, file_offset)
        return 0
    if kind == KIND_MAP_CHECK_IMEI:
        slot_status(s, slot, m.status)
    elif m.lac >= 0 or m.imei > 0:
        m.imsi = s.v_tx_imsi[slot]
        m.msisdn = s.v_tx_msisdn[slot]
        emit(s, &m, kind, t, pkt_no)
    if ctag == 0xA2:
        s.v_tx_key[slot] = 0
    return 0


cdef int tcap(Sink s, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end, Mtp* mtp,
              int64_t t, int64_t pkt_no, int64_t file_offset) except -1:
    """A TCAP message in [q, end) (the SCCP user data): its transaction ids, then each
    component of its component portion (Invoke, ReturnResult; others skipped)."""
    cdef int tag, mtype, ctag, k
    cdef Py_ssize_t l, v, e, cl, cv, ce, pl, pv, nxt
    cdef int64_t otid = -1, dtid = -1, key, tcf = <int64_t>F_TCAP << 32
    v = ber(b, q, end, &mtype, &l)
    if v < 0:
        return add_reject(s, R_TCAP, tcf, pkt_no, file_offset)
    if mtype != 0x62 and mtype != 0x65 and mtype != 0x64:
        s.v_counts[C_TCAP_OTHER] += 1               # Unidirectional, Abort, ANSI TCAP
        return 0
    e = v + l
    q = v
    while q < e:
        v = ber(b, q, e, &tag, &l)
        if v < 0:
            return add_reject(s, R_TCAP, tcf, pkt_no, file_offset)
        nxt = v + l
        if tag == 0x48 or tag == 0x49:               # OTID / DTID: 1 to 4 octets
            if l < 1 or l > 4:
                return add_reject(s, R_TCAP, tcf | tag, pkt_no, file_offset)
            key = 0
            for k in range(l):
                key = (key << 8) | b[v + k]
            if tag == 0x48:
                otid = key
            else:
                dtid = key
        elif tag == 0x6C:                            # component portion
            ce = nxt
            cv = v
            while cv < ce:
                pv = ber(b, cv, ce, &ctag, &cl)
                if pv < 0:
                    return add_reject(s, R_TCAP, tcf | 0x6C, pkt_no, file_offset)
                cv = pv + cl
                if ctag != 0xA1 and ctag != 0xA2 and ctag != 0xA7:
                    continue                          # ReturnError, Reject
                pv = ber(b, pv, cv, &tag, &pl) if pv < cv else -1        # invokeID
                if pv < 0 or tag != 0x02:
                    return add_reject(s, R_TCAP, tcf | ctag, pkt_no, file_offset)
                if ctag == 0xA1:
                    if tcap_invoke(s, b, pv + pl, cv, mtype, otid, mtp, t, pkt_no, file_offset):
                        return 0
                elif mtype != 0x62 and tcap_result(s, b, pv + pl, cv, ctag, dtid, mtp, t,
                                                   pkt_no, file_offset):
                    return 0
        q = nxt
    return 0


cdef inline int slot_status(Sink s, Py_ssize_t slot, int status) except -1:
    """The equipment status of a pending checkIMEI onto its event, while still in the sink."""
    cdef int64_t row = s.v_tx_row[slot]
    if 0 <= row < s.n and s.v_packet[row] == s.v_tx_packet[slot]:
        s.v_status[row] = status
    return 0


# ---------------------------------------------------------------------------
# SCCP, M3UA, M2PA

cdef int sccp(Sink s, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end, Mtp* mtp,
              int64_t t, int64_t pkt_no, int64_t file_offset) except -1:
    """An SCCP message in [q, end): the user data of a UDT or XUDT to TCAP."""
    cdef int mt
    cdef Py_ssize_t d, dl, o, ol
    cdef int64_t sf = <int64_t>F_SCCP << 32
    if end - q < 1:
        return add_reject(s, R_SCCP, sf, pkt_no, file_offset)
    mt = b[q]
    if mt == 0x09:                                   # UDT: type, class, 3 pointers
        if end - q < 5:
            return add_reject(s, R_SCCP, sf | mt, pkt_no, file_offset)
        d = q + 4 + b[q + 4]
    elif mt == 0x11:                                 # XUDT: type, class, hops, 4 pointers
        if end - q < 7:
            return add_reject(s, R_SCCP, sf | mt, pkt_no, file_offset)
        d = q + 5 + b[q + 5]
        if b[q + 6]:                                 # optional part: a segmentation parameter?
            o = q + 6 + b[q + 6]
            while o < end and b[o] != 0:
                if end - o < 2:
                    return add_reject(s, R_SCCP, sf | mt, pkt_no, file_offset)
                ol = b[o + 1]
                if o + 2 + ol > end:
                    return add_reject(s, R_SCCP, sf | mt, pkt_no, file_offset)
                if b[o] == 0x10:
                    if ol != 4:
                        return add_reject(s, R_SCCP, sf | mt, pkt_no, file_offset)
                    if (b[o + 2] & 0x0F) != 0 or not (b[o + 2] & 0x80):
                        s.v_counts[C_SCCP_SEGMENT] += 1   # one of several segments
                        return 0
                o += 2 + ol
    else:
        s.v_counts[C_SCCP_OTHER] += 1
        return 0
    if d >= end:
        return add_reject(s, R_SCCP, sf | mt, pkt_no, file_offset)
    dl = b[d]
    if d + 1 + dl > end:
        return add_reject(s, R_SCCP, sf | mt, pkt_no, file_offset)
    return tcap(s, b, d + 1, d + 1 + dl, mtp, t, pkt_no, file_offset)


cdef int m3ua(Sink s, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end,
              int64_t t, int64_t pkt_no, int64_t file_offset) except -1:
    """An M3UA message in [q, end): the SCCP message of a Transfer DATA."""
    cdef Py_ssize_t mlen, pl
    cdef int tag
    cdef Mtp mtp
    cdef int64_t mf = <int64_t>F_M3UA << 32
    if end - q < 8 or b[q] != 1:
        return add_reject(s, R_M3UA, mf, pkt_no, file_offset)
    mlen = be32(b, q + 4)
    if mlen < 8 or q + mlen > end:
        return add_reject(s, R_M3UA, mf, pkt_no, file_offset)
    if b[q + 2] != 1 or b[q + 3] != 1:
        s.v_counts[C_SIGTRAN_OTHER] += 1             # management, state, traffic maintenance
        return 0
    end = q + mlen
    q += 8
    while end - q >= 4:
        tag = <int>be16(b, q)
        pl = be16(b, q + 2)
        if pl < 4 or q + pl > end:
            return add_reject(s, R_M3UA, mf | tag, pkt_no, file_offset)
        if tag == 0x0210:
            if pl < 16:
                return add_reject(s, R_M3UA, mf | tag, pkt_no, file_offset)
            if b[q + 12] != 3:
                s.v_counts[C_SIGTRAN_OTHER] += 1     # ISUP, TUP, ...: not SCCP
                return 0
            mtp.opc = be32(b, q + 4)
            mtp.dpc = be32(b, q + 8)
            return sccp(s, b, q + 16, q + pl, &mtp, t, pkt_no, file_offset)
        q += (pl + 3) & ~3
    return add_reject(s, R_M3UA, mf | 0x0210, pkt_no, file_offset)


cdef int m2pa(Sink s, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end,
              int64_t t, int64_t pkt_no, int64_t file_offset) except -1:
    """An M2PA message in [q, end): the MTP3 message of a User Data (ITU routing label)."""
    cdef Py_ssize_t mlen
    cdef Mtp mtp
    cdef int64_t label, mf = <int64_t>F_M2PA << 32
    if end - q < 8 or b[q] != 1:
        return add_reject(s, R_M2PA, mf, pkt_no, file_offset)
    mlen = be32(b, q + 4)
    if mlen < 16 or q + mlen > end:
        return add_reject(s, R_M2PA, mf, pkt_no, file_offset)
    if b[q + 2] != 11 or b[q + 3] != 1 or mlen == 16:
        s.v_counts[C_SIGTRAN_OTHER] += 1             # link status, or no data
        return 0
    end = q + mlen
    q += 17                                          # header, BSN, FSN, priority
    if end - q < 5:
        return add_reject(s, R_M2PA, mf, pkt_no, file_offset)
    if (b[q] & 0x0F) != 3:
        s.v_counts[C_SIGTRAN_OTHER] += 1
        return 0
    label = ((<int64_t>b[q + 4] << 24) | (<int64_t>b[q + 3] << 16) | (<int64_t>b[q + 2] << 8)
             | b[q + 1])
    mtp.dpc = label & 0x3FFF
    mtp.opc = (label >> 14) & 0x3FFF
    return sccp(s, b, q + 5, end, &mtp, t, pkt_no, file_offset)
