# cython: language_level=3
"""Signaling packet decoder: a bounds-checked TLV walker from link layer to attach fields.

One packet in (a slice ``[start, end)`` of a byte buffer), zero or more attach
events out, into a :class:`Sink`.  Layers walked:

- link: Ethernet (with 802.1Q/802.1ad tags), Linux cooked v1/v2, raw IPv4/IPv6, BSD loopback;
- IPv4 (fragments skipped) and IPv6 (extension headers walked, fragments skipped);
- UDP port 2123 -> GTPv2-C (piggybacked messages walked): Create Session Request;
- TCP port 3868 -> Diameter messages, several per segment; a segment that starts
  inside a message, or a message that continues in the next segment, is counted
  and skipped (no TCP reassembly);
- SCTP DATA chunks (PPID 46 or port 3868) -> Diameter: S6a Update-Location-Request,
  Gx Credit-Control-Request;
- SCTP DATA chunks (PPID 3 or port 2905: M3UA; PPID 5 or port 3565: M2PA) -> SCCP
  UDT / XUDT -> TCAP -> GSM MAP registration, authentication, CheckIMEI and location
  answers (``_sigmap.pxi``).

Every read is checked against the end of its enclosing structure; a structure that
does not fit is a reject (reason code ``R_*``, field code = protocol << 32 | IE type
or AVP code), never an out-of-bounds read.  The kernel trusts its arguments
(``start <= end <= len(b)``); the wrappers in ``signaling.py`` check them.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, int16_t, int32_t, int64_t, uint64_t

cnp.import_array()

DEBUG = SIMBOX_DEBUG   # built with bounds checks (SIMBOX_DEBUG=1)?

# message kinds (Sink.kind)
cdef enum:
    KIND_GTP_CSR = 1
    KIND_S6A_ULR = 2
    KIND_GX_CCR = 3
    KIND_MAP_UL = 4
    KIND_MAP_UGL = 5
    KIND_MAP_SAI = 6
    KIND_MAP_CHECK_IMEI = 7
    KIND_MAP_PSI = 8
    KIND_MAP_ATI = 9
KIND_NAMES = {KIND_GTP_CSR: "gtpv2_csr", KIND_S6A_ULR: "s6a_ulr", KIND_GX_CCR: "gx_ccr",
              KIND_MAP_UL: "map_ul", KIND_MAP_UGL: "map_ugl", KIND_MAP_SAI: "map_sai",
              KIND_MAP_CHECK_IMEI: "map_check_imei", KIND_MAP_PSI: "map_psi",
              KIND_MAP_ATI: "map_ati"}

# counts (Sink.counts); the message-level ones count messages, the others packets
cdef enum:
    C_PACKETS = 0
    C_EVENTS = 1
    C_NOT_IP = 2
    C_NOT_SIGNALING = 3
    C_IP_FRAGMENT = 4
    C_GTP_OTHER = 5
    C_DIAMETER_OTHER = 6
    C_TCP_CONTINUATION = 7
    C_TCP_SPLIT = 8
    C_SCTP_OTHER = 9
    C_NO_IMSI = 10
    C_REJECTED = 11
    C_SIGTRAN_OTHER = 12
    C_SCCP_OTHER = 13
    C_SCCP_SEGMENT = 14
    C_TCAP_OTHER = 15
    C_MAP_OTHER = 16
    N_COUNTS = 17
COUNT_NAMES = ("packets", "events", "not_ip", "not_signaling", "ip_fragment", "gtp_other",
               "diameter_other", "tcp_continuation", "tcp_split", "sctp_other", "no_imsi",
               "rejected", "sigtran_other", "sccp_other", "sccp_segment", "tcap_other",
               "map_other")

# reject reasons (Sink.rej_reason)
cdef enum:
    R_LINK_TRUNC = 1
    R_IP_HDR = 2
    R_L4_HDR = 3
    R_GTP_TRUNC = 4
    R_GTP_IE = 5
    R_DIAM_TRUNC = 6
    R_DIAM_AVP = 7
    R_DIGITS = 8
    R_ULI = 9
    R_SCTP_CHUNK = 10
    R_GTP_HDR = 11
    R_DIAM_HDR = 12
    R_M3UA = 13
    R_M2PA = 14
    R_SCCP = 15
    R_TCAP = 16
    R_MAP = 17
    R_MAP_LOCATION = 18
REASONS = {
    R_LINK_TRUNC: "truncated link-layer header",
    R_IP_HDR: "invalid or truncated IP header",
    R_L4_HDR: "invalid or truncated UDP/TCP/SCTP header",
    R_GTP_TRUNC: "GTPv2-C message longer than the packet",
    R_GTP_IE: "GTPv2-C IE runs past the end of its message",
    R_DIAM_TRUNC: "Diameter message longer than the packet",
    R_DIAM_AVP: "Diameter AVP length invalid",
    R_DIGITS: "invalid digits",
    R_ULI: "invalid user location information",
    R_SCTP_CHUNK: "SCTP chunk length invalid",
    R_GTP_HDR: "GTPv2-C header invalid",
    R_DIAM_HDR: "Diameter header invalid",
    R_M3UA: "M3UA message or parameter length invalid",
    R_M2PA: "M2PA message length invalid",
    R_SCCP: "SCCP pointer or length invalid",
    R_TCAP: "TCAP message invalid (BER TLV, transaction id or component)",
    R_MAP: "MAP parameter invalid (BER TLV or type)",
    R_MAP_LOCATION: "invalid MAP location (LAI / CGI)",
}
cdef enum:
    F_GTP = 1
    F_DIAM = 2
    F_MAP = 3
    F_TCAP = 4
    F_SCCP = 5
    F_M3UA = 6
    F_M2PA = 7

cdef enum:
    PORT_GTPC = 2123
    PORT_DIAMETER = 3868
    PPID_DIAMETER = 46
    APP_S6A = 16777251
    APP_GX = 16777238
    VENDOR_3GPP = 10415


cdef struct Msg:
    int64_t imsi
    int64_t imei
    int64_t msisdn
    int64_t plmn
    int64_t ci
    int32_t lac
    int32_t rat
    int64_t node         # MAP: digits code of the VLR / SGSN number, 0 = none
    int32_t status       # MAP CheckIMEI: equipment status, -1 = none
    int64_t imei_raw     # Diameter IMEI AVP (digits code)
    int64_t sv           # Diameter Software-Version AVP (digits code)
    int64_t vplmn        # Diameter Visited-PLMN-Id
    int32_t grp_type     # Subscription-Id-Type / User-Equipment-Info-Type inside the current group
    Py_ssize_t grp_pos   # ... and the position / length of its data AVP
    Py_ssize_t grp_len
    int reason           # reject reason, 0 = none
    int64_t field        # field code of the reject


cdef class Sink:
    """Growable output of the decoder: one row per attach event, plus counts and rejects."""
    # event columns (numpy arrays owned here; the v_* views below point into them)
    cdef public object time      # int64 epoch seconds
    cdef public object imsi      # int64 digits code
    cdef public object imei      # int64 digits code, 0 = none (IMEI or IMEISV)
    cdef public object msisdn    # int64 digits code, 0 = none
    cdef public object plmn      # int64 digits code of MCC+MNC of the cell (or visited PLMN), 0 = none
    cdef public object lac       # int32 TAC / LAC of the cell, -1 = none
    cdef public object ci        # int64 ECI (28 bits) / CI / SAC, -1 = no cell
    cdef public object kind      # uint8 message kind (KIND_*)
    cdef public object rat       # int16 RAT type (GTPv2 value or Diameter RAT-Type), -1 = none
    cdef public object packet    # int64 packet number in its file (0-based)
    cdef public object node      # int64 digits code of the MAP VLR / SGSN number, 0 = none
    cdef public object status    # int16 MAP CheckIMEI equipment status, -1 = none
    cdef int64_t[::1] v_time
    cdef int64_t[::1] v_imsi
    cdef int64_t[::1] v_imei
    cdef int64_t[::1] v_msisdn
    cdef int64_t[::1] v_plmn
    cdef int32_t[::1] v_lac
    cdef int64_t[::1] v_ci
    cdef uint8_t[::1] v_kind
    cdef int16_t[::1] v_rat
    cdef int64_t[::1] v_packet
    cdef int64_t[::1] v_node
    cdef int16_t[::1] v_status
    # MAP Begins waiting for their answer (_sigmap.pxi), direct-mapped by transaction key
    cdef public object tx_key    # int64 key (1 << 62 | point code << 32 | TCAP id), 0 = empty
    cdef int64_t[::1] v_tx_key
    cdef uint8_t[::1] v_tx_kind      # KIND_* of the request
    cdef int64_t[::1] v_tx_imsi
    cdef int64_t[::1] v_tx_msisdn
    cdef int64_t[::1] v_tx_row       # the request's event row in the sink (-1 none)
    cdef int64_t[::1] v_tx_packet    # ... and its packet number
    cdef public Py_ssize_t n     # rows filled
    cdef Py_ssize_t cap          # rows allocated
    cdef public int64_t last_time  # seconds of the last pcap record walked whose time is
                                   # trusted (near the one before, or near its neighbour); -1: none
    cdef public int64_t prev_time  # seconds of the last pcap record walked
    # counts by C_* index (the message-level ones count messages, the others packets)
    cdef public object counts
    cdef int64_t[::1] v_counts
    # rejects: packet number, file offset of the packet record, reason code, field code
    cdef public object rej_packet
    cdef public object rej_offset
    cdef public object rej_reason
    cdef public object rej_field
    cdef int64_t[::1] v_rej_packet
    cdef int64_t[::1] v_rej_offset
    cdef int32_t[::1] v_rej_reason
    cdef int64_t[::1] v_rej_field
    cdef public Py_ssize_t nrej  # rejects filled
    cdef Py_ssize_t rejcap       # rejects allocated

    def __init__(self, Py_ssize_t capacity=4096):
        self.last_time = -1
        self.prev_time = -1
        self.cap = max(capacity, 16)
        self.n = 0
        self.time = np.empty(self.cap, np.int64)
        self.imsi = np.empty(self.cap, np.int64)
        self.imei = np.empty(self.cap, np.int64)
        self.msisdn = np.empty(self.cap, np.int64)
        self.plmn = np.empty(self.cap, np.int64)
        self.lac = np.empty(self.cap, np.int32)
        self.ci = np.empty(self.cap, np.int64)
        self.kind = np.empty(self.cap, np.uint8)
        self.rat = np.empty(self.cap, np.int16)
        self.packet = np.empty(self.cap, np.int64)
        self.node = np.empty(self.cap, np.int64)
        self.status = np.empty(self.cap, np.int16)
        self._views()
        self.tx_key = np.zeros(1 << TX_BITS, np.int64)
        self.v_tx_key = self.tx_key
        self.v_tx_kind = np.zeros(1 << TX_BITS, np.uint8)
        self.v_tx_imsi = np.zeros(1 << TX_BITS, np.int64)
        self.v_tx_msisdn = np.zeros(1 << TX_BITS, np.int64)
        self.v_tx_row = np.zeros(1 << TX_BITS, np.int64)
        self.v_tx_packet = np.zeros(1 << TX_BITS, np.int64)
        self.counts = np.zeros(N_COUNTS, np.int64)
        self.v_counts = self.counts
        self.rejcap = 64
        self.nrej = 0
        self.rej_packet = np.empty(self.rejcap, np.int64)
        self.rej_offset = np.empty(self.rejcap, np.int64)
        self.rej_reason = np.empty(self.rejcap, np.int32)
        self.rej_field = np.empty(self.rejcap, np.int64)
        self._rej_views()

    def _views(self):
        self.v_time = self.time
        self.v_imsi = self.imsi
        self.v_imei = self.imei
        self.v_msisdn = self.msisdn
        self.v_plmn = self.plmn
        self.v_lac = self.lac
        self.v_ci = self.ci
        self.v_kind = self.kind
        self.v_rat = self.rat
        self.v_packet = self.packet
        self.v_node = self.node
        self.v_status = self.status

    def _rej_views(self):
        self.v_rej_packet = self.rej_packet
        self.v_rej_offset = self.rej_offset
        self.v_rej_reason = self.rej_reason
        self.v_rej_field = self.rej_field

    cdef int grow(self) except -1:
        self.cap *= 2
        for name in ("time", "imsi", "imei", "msisdn", "plmn", "lac", "ci", "kind", "rat", "packet",
                     "node", "status"):
            old = getattr(self, name)
            new = np.empty(self.cap, old.dtype)
            new[:self.n] = old[:self.n]
            setattr(self, name, new)
        self._views()
        return 0

    cdef int grow_rejects(self) except -1:
        self.rejcap *= 2
        for name in ("rej_packet", "rej_offset", "rej_reason", "rej_field"):
            old = getattr(self, name)
            new = np.empty(self.rejcap, old.dtype)
            new[:self.nrej] = old[:self.nrej]
            setattr(self, name, new)
        self._rej_views()
        return 0

    def clear(self):
        """Forget the rows and rejects (counts are kept)."""
        self.n = 0
        self.nrej = 0

    def rows(self):
        """The filled event columns as a dict of arrays (copies)."""
        return {name: getattr(self, name)[:self.n].copy()
                for name in ("time", "imsi", "imei", "msisdn", "plmn", "lac", "ci", "kind",
                             "rat", "packet", "node", "status")}

    def rejects(self):
        """(packet, byte_offset, reason_code, field_code) of each reject, as a list of tuples."""
        return [(int(self.rej_packet[i]), int(self.rej_offset[i]), int(self.rej_reason[i]),
                 int(self.rej_field[i])) for i in range(self.nrej)]


# ---------------------------------------------------------------------------
# bytes and digits

cdef inline int64_t be16(const uint8_t[::1] b, Py_ssize_t p) except? -1:
    return (<int64_t>b[p] << 8) | b[p + 1]


cdef inline int64_t be24(const uint8_t[::1] b, Py_ssize_t p) except? -1:
    return (<int64_t>b[p] << 16) | (<int64_t>b[p + 1] << 8) | b[p + 2]


cdef inline int64_t be32(const uint8_t[::1] b, Py_ssize_t p) except? -1:
    return ((<int64_t>b[p] << 24) | (<int64_t>b[p + 1] << 16) | (<int64_t>b[p + 2] << 8)
            | b[p + 3])


cdef int64_t tbcd(const uint8_t[::1] b, Py_ssize_t p, Py_ssize_t n, int lo, int hi) except -2:
    """Digits code of TBCD digits (low nibble first, a final 0xF filler); -1 if invalid."""
    cdef int64_t v = 1
    cdef int nd = 0, d, k
    cdef Py_ssize_t i
    for i in range(n):
        for k in range(2):
            d = b[p + i] & 0x0F if k == 0 else b[p + i] >> 4
            if d == 0x0F and k == 1 and i == n - 1:
                break
            if d > 9 or nd >= hi:
                return -1
            v = v * 10 + d
            nd += 1
    if nd < lo:
        return -1
    return v


cdef int64_t ascii_digits(const uint8_t[::1] b, Py_ssize_t p, Py_ssize_t n, int lo, int hi) except -2:
    """Digits code of ASCII digits; -1 if not lo..hi digits."""
    cdef int64_t v = 1
    cdef Py_ssize_t i
    cdef int d
    if n < lo or n > hi:
        return -1
    for i in range(n):
        d = <int>b[p + i] - 48
        if d < 0 or d > 9:
            return -1
        v = v * 10 + d
    return v


cdef int64_t any_digits(const uint8_t[::1] b, Py_ssize_t p, Py_ssize_t n, int lo, int hi) except -2:
    """Digits of an IMEI(SV) octet string: ASCII digits, one value 0-9 per octet, or TBCD."""
    cdef int64_t v = 1
    cdef Py_ssize_t i
    cdef bint small = n >= lo and n <= hi
    for i in range(n):
        if b[p + i] > 9:
            small = False
            break
    if small:
        for i in range(n):
            v = v * 10 + b[p + i]
        return v
    v = ascii_digits(b, p, n, lo, hi)
    if v >= 0:
        return v
    return tbcd(b, p, n, lo, hi)


cdef int64_t plmn_code(const uint8_t[::1] b, Py_ssize_t p) except -2:
    """Digits code of MCC+MNC from the 3 BCD octets of TS 24.008 (MNC 2 or 3 digits); -1 if invalid."""
    cdef int d1 = b[p] & 0x0F, d2 = b[p] >> 4, d3 = b[p + 1] & 0x0F
    cdef int m3 = b[p + 1] >> 4, m1 = b[p + 2] & 0x0F, m2 = b[p + 2] >> 4
    if d1 > 9 or d2 > 9 or d3 > 9 or m1 > 9 or m2 > 9:
        return -1
    cdef int64_t v = (((((1 * 10 + d1) * 10 + d2) * 10 + d3) * 10 + m1) * 10 + m2)
    if m3 == 0x0F:
        return v
    if m3 > 9:
        return -1
    return v * 10 + m3


cdef int uli(Msg* m, const uint8_t[::1] b, Py_ssize_t p, Py_ssize_t end, int flags) except -1:
    """User Location Information fields (TS 29.274 8.21) in [p, end) as flagged: the cell.

    Cell preference: ECGI (with the TAC of the TAI), then CGI, then SAI.  Returns 1 if
    the fields do not fit or a PLMN is not BCD.
    """
    cdef Py_ssize_t cgi = -1, sai = -1, tai = -1, ecgi = -1, q = p
    cdef int64_t plmn
    if flags & 0x01:
        cgi = q
        q += 7
    if flags & 0x02:
        sai = q
        q += 7
    if flags & 0x04:
        q += 7
    if flags & 0x08:
        tai = q
        q += 5
    if flags & 0x10:
        ecgi = q
        q += 7
    if q > end:
        return 1
    if ecgi >= 0:
        plmn = plmn_code(b, ecgi)
        m.lac = <int32_t>be16(b, tai + 3) if tai >= 0 else -1
        m.ci = ((<int64_t>(b[ecgi + 3] & 0x0F) << 24) | (<int64_t>b[ecgi + 4] << 16)
                | (<int64_t>b[ecgi + 5] << 8) | b[ecgi + 6])
    elif cgi >= 0 or sai >= 0:
        if cgi < 0:
            cgi = sai
        plmn = plmn_code(b, cgi)
        m.lac = <int32_t>be16(b, cgi + 3)
        m.ci = be16(b, cgi + 5)
    else:
        return 0
    if plmn < 0:
        m.ci = -1
        m.lac = -1
        return 1
    m.plmn = plmn
    return 0


cdef inline int reject(Msg* m, int reason, int64_t field) noexcept:
    m.reason = reason
    m.field = field
    return 0


cdef inline bint put(Msg* m, int64_t* dst, int64_t x, int64_t field) noexcept:
    """Store the digits code ``x`` in ``*dst``; if it is -1 (invalid), note the reject, False."""
    if x < 0:
        m.reason = R_DIGITS
        m.field = field
        return False
    dst[0] = x
    return True


cdef int add_reject(Sink s, int reason, int64_t field, int64_t pkt_no, int64_t file_offset) except -1:
    if s.nrej >= s.rejcap:
        s.grow_rejects()
    s.v_rej_packet[s.nrej] = pkt_no
    s.v_rej_offset[s.nrej] = file_offset
    s.v_rej_reason[s.nrej] = reason
    s.v_rej_field[s.nrej] = field
    s.nrej += 1
    s.v_counts[C_REJECTED] += 1
    return 0


cdef int emit(Sink s, Msg* m, int kind, int64_t t, int64_t pkt_no) except -1:
    if m.imsi <= 0:
        s.v_counts[C_NO_IMSI] += 1
        return 0
    if s.n >= s.cap:
        s.grow()
    cdef Py_ssize_t i = s.n
    s.v_time[i] = t
    s.v_imsi[i] = m.imsi
    s.v_imei[i] = m.imei
    s.v_msisdn[i] = m.msisdn
    s.v_plmn[i] = m.plmn
    s.v_lac[i] = m.lac
    s.v_ci[i] = m.ci
    s.v_kind[i] = kind
    s.v_rat[i] = m.rat
    s.v_packet[i] = pkt_no
    s.v_node[i] = m.node
    s.v_status[i] = <int16_t>m.status
    s.n = i + 1
    s.v_counts[C_EVENTS] += 1
    return 0


cdef inline void msg_init(Msg* m) noexcept:
    m.imsi = 0
    m.imei = 0
    m.msisdn = 0
    m.plmn = 0
    m.ci = -1
    m.lac = -1
    m.rat = -1
    m.node = 0
    m.status = -1
    m.imei_raw = 0
    m.sv = 0
    m.vplmn = 0
    m.grp_type = -1
    m.grp_pos = -1
    m.grp_len = 0
    m.reason = 0
    m.field = 0


# ---------------------------------------------------------------------------
# GTPv2-C

cdef int gtp_csr(Msg* m, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end) except -1:
    """IEs of a Create Session Request body [q, end) into m (instance 0 only)."""
    cdef int t, inst
    cdef Py_ssize_t l, v
    cdef int64_t gf = <int64_t>F_GTP << 32       # field code of a GTPv2 IE: gf | type
    while q < end:
        if end - q < 4:
            return reject(m, R_GTP_IE, gf)
        t = b[q]
        l = be16(b, q + 1)
        inst = b[q + 3] & 0x0F
        v = q + 4
        if v + l > end:
            return reject(m, R_GTP_IE, gf | t)
        if inst == 0:
            if t == 1:
                if not put(m, &m.imsi, tbcd(b, v, l, 6, 15), gf | t):
                    return 0
            elif t == 75:
                if not put(m, &m.imei, tbcd(b, v, l, 14, 16), gf | t):
                    return 0
            elif t == 76:
                if not put(m, &m.msisdn, tbcd(b, v, l, 1, 15), gf | t):
                    return 0
            elif t == 86:
                if l < 1 or uli(m, b, v + 1, v + l, b[v]):
                    return reject(m, R_ULI, gf | t)
            elif t == 82 and l >= 1:
                m.rat = b[v]
        q = v + l
    return 0


cdef int gtp(Sink s, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end,
             int64_t t, int64_t pkt_no, int64_t file_offset) except -1:
    cdef int flags, hdr
    cdef Py_ssize_t mlen
    cdef Msg m
    while True:
        if end - q < 8:
            return add_reject(s, R_GTP_HDR, <int64_t>F_GTP << 32, pkt_no, file_offset)
        flags = b[q]
        if flags >> 5 != 2:
            s.v_counts[C_GTP_OTHER] += 1
            return 0
        mlen = be16(b, q + 2) + 4
        hdr = 12 if flags & 0x08 else 8
        if mlen < hdr:
            return add_reject(s, R_GTP_HDR, <int64_t>F_GTP << 32, pkt_no, file_offset)
        if q + mlen > end:
            return add_reject(s, R_GTP_TRUNC, <int64_t>F_GTP << 32, pkt_no, file_offset)
        if b[q + 1] == 32:
            msg_init(&m)
            gtp_csr(&m, b, q + hdr, q + mlen)
            if m.reason:
                return add_reject(s, m.reason, m.field, pkt_no, file_offset)
            emit(s, &m, KIND_GTP_CSR, t, pkt_no)
        else:
            s.v_counts[C_GTP_OTHER] += 1
        q += mlen
        if not (flags & 0x10) or q >= end:
            return 0


# ---------------------------------------------------------------------------
# Diameter

cdef int avps(Msg* m, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end, int kind,
              int64_t parent) except -1:
    """Walk the AVPs in [q, end); parent = code of the enclosing grouped AVP (0 at top)."""
    cdef int64_t code, vendor, x
    cdef int64_t df = <int64_t>F_DIAM << 32      # field code of an AVP: df | code
    cdef int fl
    cdef Py_ssize_t alen, hl, v, vl
    while q < end:
        if end - q < 8:
            return reject(m, R_DIAM_AVP, df | parent)
        code = be32(b, q)
        fl = b[q + 4]
        alen = be24(b, q + 5)
        hl = 12 if fl & 0x80 else 8
        if alen < hl or q + alen > end:
            return reject(m, R_DIAM_AVP, df | code)
        vendor = be32(b, q + 8) if fl & 0x80 else 0
        v = q + hl
        vl = alen - hl
        if parent == 0:
            if code == 1 and vendor == 0 and kind == KIND_S6A_ULR:
                if not put(m, &m.imsi, ascii_digits(b, v, vl, 6, 15), df | code):
                    return 0
            elif code == 1032 and vendor == VENDOR_3GPP and vl == 4:
                x = be32(b, v)
                m.rat = <int32_t>x if x <= 32767 else -1       # RAT-Type values are small
            elif code == 1401 and vendor == VENDOR_3GPP and kind == KIND_S6A_ULR:
                avps(m, b, v, v + vl, kind, code)
            elif code == 1407 and vendor == VENDOR_3GPP and kind == KIND_S6A_ULR:
                if not put(m, &m.vplmn, plmn_code(b, v) if vl == 3 else -1, df | code):
                    return 0
            elif (code == 443 or code == 458) and vendor == 0 and kind == KIND_GX_CCR:
                m.grp_type = -1
                m.grp_pos = -1
                avps(m, b, v, v + vl, kind, code)
                if m.reason:
                    return 0
                if m.grp_pos >= 0 and code == 443 and (m.grp_type == 0 or m.grp_type == 1):
                    x = ascii_digits(b, m.grp_pos, m.grp_len, 6 if m.grp_type == 1 else 1, 15)
                    if x < 0:
                        return reject(m, R_DIGITS, df | 444)
                    if m.grp_type == 1:
                        m.imsi = x
                    else:
                        m.msisdn = x
                elif m.grp_pos >= 0 and code == 458 and m.grp_type == 0:
                    if not put(m, &m.imei, any_digits(b, m.grp_pos, m.grp_len, 14, 16), df | 460):
                        return 0
            elif code == 22 and vendor == VENDOR_3GPP and kind == KIND_GX_CCR and vl >= 1:
                fl = b[v]
                fl = (0x01 if fl == 0 else 0x02 if fl == 1 else 0x04 if fl == 2 else
                      0x08 if fl == 128 else 0x10 if fl == 129 else 0x18 if fl == 130 else 0)
                if uli(m, b, v + 1, v + vl, fl):
                    return reject(m, R_ULI, df | code)
        elif parent == 1401 and vendor == VENDOR_3GPP:
            if code == 1402:
                if not put(m, &m.imei_raw, ascii_digits(b, v, vl, 14, 16), df | code):
                    return 0
            elif code == 1403:
                if not put(m, &m.sv, ascii_digits(b, v, vl, 2, 2), df | code):
                    return 0
        elif (parent == 443 and vendor == 0 and code == 450) or \
                (parent == 458 and vendor == 0 and code == 459):
            if vl == 4:
                m.grp_type = <int32_t>be32(b, v)
        elif (parent == 443 and vendor == 0 and code == 444) or \
                (parent == 458 and vendor == 0 and code == 460):
            m.grp_pos = v
            m.grp_len = vl
        if m.reason:
            return 0
        q += (alen + 3) & ~3
    return 0


cdef int diameter(Sink s, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end,
                  int64_t t, int64_t pkt_no, int64_t file_offset) except -1:
    """One complete Diameter message in [q, end)."""
    cdef int64_t code, app
    cdef int kind = 0
    cdef int64_t x
    cdef Msg m
    if end - q < 20 or b[q] != 1:
        return add_reject(s, R_DIAM_HDR, <int64_t>F_DIAM << 32, pkt_no, file_offset)
    code = be24(b, q + 5)
    app = be32(b, q + 8)
    if b[q + 4] & 0x80:
        if code == 316 and app == APP_S6A:
            kind = KIND_S6A_ULR
        elif code == 272 and app == APP_GX:
            kind = KIND_GX_CCR
    if kind == 0:
        s.v_counts[C_DIAMETER_OTHER] += 1
        return 0
    msg_init(&m)
    avps(&m, b, q + 20, end, kind, 0)
    if m.reason:
        return add_reject(s, m.reason, m.field, pkt_no, file_offset)
    if kind == KIND_S6A_ULR:
        if m.imei_raw > 0:
            if m.sv > 0 and m.imei_raw >= 100000000000000:
                # IMEISV = the 14 IMEI digits (no check digit) + 2 software-version digits
                x = m.imei_raw // 10 if m.imei_raw >= 1000000000000000 else m.imei_raw
                m.imei = x * 100 + (m.sv - 100)
            else:
                m.imei = m.imei_raw
        if m.vplmn > 0 and m.ci < 0:
            m.plmn = m.vplmn
    emit(s, &m, kind, t, pkt_no)
    return 0


cdef inline bint diameter_header_ok(const uint8_t[::1] b, Py_ssize_t q) except -1:
    cdef int64_t mlen = be24(b, q + 1)
    return b[q] == 1 and mlen >= 20 and (mlen & 3) == 0 and (b[q + 4] & 0x0F) == 0


cdef int diameter_stream(Sink s, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end, bint cut,
                         int64_t t, int64_t pkt_no, int64_t file_offset) except -1:
    """Diameter messages at the start of a TCP segment payload [q, end)."""
    cdef Py_ssize_t mlen
    cdef bint first = True
    while q < end:
        if end - q < 20 or not diameter_header_ok(b, q):
            if first and end - q >= 20:
                s.v_counts[C_TCP_CONTINUATION] += 1
            else:
                s.v_counts[C_TCP_SPLIT] += 1
            return 0
        mlen = be24(b, q + 1)
        if q + mlen > end:
            if cut:
                return add_reject(s, R_DIAM_TRUNC, <int64_t>F_DIAM << 32, pkt_no, file_offset)
            s.v_counts[C_TCP_SPLIT] += 1
            return 0
        diameter(s, b, q, q + mlen, t, pkt_no, file_offset)
        q += mlen
        first = False
    return 0


include "_sigmap.pxi"


cdef int sctp(Sink s, const uint8_t[::1] b, Py_ssize_t q, Py_ssize_t end, int64_t sport,
              int64_t dport, int64_t t, int64_t pkt_no, int64_t file_offset) except -1:
    cdef bint port_diam = sport == PORT_DIAMETER or dport == PORT_DIAMETER
    cdef bint port_m3ua = sport == PORT_M3UA or dport == PORT_M3UA
    cdef bint port_m2pa = sport == PORT_M2PA or dport == PORT_M2PA
    cdef int ct, cf
    cdef Py_ssize_t cl, mlen
    cdef int64_t ppid
    cdef bint data = False, other = False
    q += 12
    while end - q >= 4:
        ct = b[q]
        cf = b[q + 1]
        cl = be16(b, q + 2)
        if cl < 4 or q + cl > end or (ct == 0 and cl < 16):
            return add_reject(s, R_SCTP_CHUNK, 0, pkt_no, file_offset)
        if ct == 0:
            ppid = be32(b, q + 12)
            if ppid == PPID_DIAMETER or (port_diam and ppid == 0):
                if (cf & 3) != 3:
                    other = True      # a fragment of a larger message
                elif cl - 16 >= 4:
                    data = True
                    mlen = be24(b, q + 17)
                    if q + 16 + mlen > q + cl:
                        return add_reject(s, R_DIAM_TRUNC, <int64_t>F_DIAM << 32, pkt_no, file_offset)
                    diameter(s, b, q + 16, q + 16 + mlen, t, pkt_no, file_offset)
                else:
                    return add_reject(s, R_DIAM_HDR, <int64_t>F_DIAM << 32, pkt_no, file_offset)
            elif ppid == PPID_M3UA or ppid == PPID_M2PA or (ppid == 0 and (port_m3ua or port_m2pa)):
                if (cf & 3) != 3:
                    other = True      # a fragment of a larger message
                else:
                    data = True
                    if ppid == PPID_M3UA or (ppid == 0 and port_m3ua):
                        m3ua(s, b, q + 16, q + cl, t, pkt_no, file_offset)
                    else:
                        m2pa(s, b, q + 16, q + cl, t, pkt_no, file_offset)
            else:
                other = True
        q += (cl + 3) & ~3
    if not data:
        s.v_counts[C_SCTP_OTHER if other or port_diam or port_m3ua or port_m2pa
                   else C_NOT_SIGNALING] += 1
    return 0


# ---------------------------------------------------------------------------
# packet

cdef int decode_packet(Sink s, const uint8_t[::1] b, Py_ssize_t start, Py_ssize_t end,
                       int linktype, int64_t t, int64_t pkt_no, int64_t file_offset,
                       bint cut) except -1:
    cdef Py_ssize_t p = start, hl, l4end, tl
    cdef int64_t et = -1, sport, dport
    cdef int proto, nh
    s.v_counts[C_PACKETS] += 1
    # link layer -> et (ethertype) and p (start of the network header)
    if linktype == 1:
        if end - p < 14:
            return add_reject(s, R_LINK_TRUNC, 0, pkt_no, file_offset)
        et = be16(b, p + 12)
        p += 14
        while et == 0x8100 or et == 0x88A8 or et == 0x9100:
            if end - p < 4:
                return add_reject(s, R_LINK_TRUNC, 0, pkt_no, file_offset)
            et = be16(b, p + 2)
            p += 4
    elif linktype == 113:
        if end - p < 16:
            return add_reject(s, R_LINK_TRUNC, 0, pkt_no, file_offset)
        et = be16(b, p + 14)
        p += 16
    elif linktype == 276:
        if end - p < 20:
            return add_reject(s, R_LINK_TRUNC, 0, pkt_no, file_offset)
        et = be16(b, p)
        p += 20
    elif linktype == 0 or linktype == 108:
        if end - p < 5:
            return add_reject(s, R_LINK_TRUNC, 0, pkt_no, file_offset)
        p += 4
        et = 0x0800 if b[p] >> 4 == 4 else 0x86DD if b[p] >> 4 == 6 else -1
    elif linktype == 101 or linktype == 12 or linktype == 14 or linktype == 228 or linktype == 229:
        if end - p < 1:
            return add_reject(s, R_LINK_TRUNC, 0, pkt_no, file_offset)
        et = 0x0800 if b[p] >> 4 == 4 else 0x86DD if b[p] >> 4 == 6 else -1
    if et == 0x0800:
        if end - p < 20 or b[p] >> 4 != 4:
            return add_reject(s, R_IP_HDR, 0, pkt_no, file_offset)
        hl = (b[p] & 0x0F) * 4
        tl = be16(b, p + 2)
        if hl < 20 or tl < hl or p + hl > end:
            return add_reject(s, R_IP_HDR, 0, pkt_no, file_offset)
        if be16(b, p + 6) & 0x3FFF:
            s.v_counts[C_IP_FRAGMENT] += 1
            return 0
        proto = b[p + 9]
        if p + tl < end:
            end = p + tl          # link-layer padding
        elif p + tl > end:
            cut = True
        p += hl
    elif et == 0x86DD:
        if end - p < 40 or b[p] >> 4 != 6:
            return add_reject(s, R_IP_HDR, 0, pkt_no, file_offset)
        tl = be16(b, p + 4) + 40
        nh = b[p + 6]
        if p + tl < end:
            end = p + tl
        elif p + tl > end:
            cut = True
        p += 40
        while nh == 0 or nh == 43 or nh == 60 or nh == 44:
            if nh == 44:
                s.v_counts[C_IP_FRAGMENT] += 1
                return 0
            if end - p < 8:
                return add_reject(s, R_IP_HDR, 0, pkt_no, file_offset)
            nh = b[p]
            p += (b[p + 1] + 1) * 8
            if p > end:
                return add_reject(s, R_IP_HDR, 0, pkt_no, file_offset)
        proto = nh
    else:
        s.v_counts[C_NOT_IP] += 1
        return 0
    # transport
    if proto == 17:
        if end - p < 8:
            return add_reject(s, R_L4_HDR, 0, pkt_no, file_offset)
        sport = be16(b, p)
        dport = be16(b, p + 2)
        tl = be16(b, p + 4)
        if tl < 8:
            return add_reject(s, R_L4_HDR, 0, pkt_no, file_offset)
        l4end = p + tl if p + tl < end else end
        if sport == PORT_GTPC or dport == PORT_GTPC:
            return gtp(s, b, p + 8, l4end, t, pkt_no, file_offset)
    elif proto == 6:
        if end - p < 20:
            return add_reject(s, R_L4_HDR, 0, pkt_no, file_offset)
        sport = be16(b, p)
        dport = be16(b, p + 2)
        hl = (b[p + 12] >> 4) * 4
        if hl < 20 or p + hl > end:
            return add_reject(s, R_L4_HDR, 0, pkt_no, file_offset)
        if (sport == PORT_DIAMETER or dport == PORT_DIAMETER) and p + hl < end:
            return diameter_stream(s, b, p + hl, end, cut, t, pkt_no, file_offset)
    elif proto == 132:
        if end - p < 12:
            return add_reject(s, R_L4_HDR, 0, pkt_no, file_offset)
        sport = be16(b, p)
        dport = be16(b, p + 2)
        return sctp(s, b, p, end, sport, dport, t, pkt_no, file_offset)
    s.v_counts[C_NOT_SIGNALING] += 1
    return 0


def decode_packets(Sink sink, const uint8_t[::1] buf, const int64_t[::1] starts,
                   const int64_t[::1] ends, const int32_t[::1] linktypes,
                   const int64_t[::1] times, const uint8_t[::1] cut,
                   const int64_t[::1] offsets, int64_t first_packet):
    """Decode packets ``buf[starts[i]:ends[i]]`` into ``sink`` (IN: all arrays; OUT: sink).

    ``linktypes``, ``times`` (epoch seconds), ``cut`` (captured length < wire length) and
    ``offsets`` (byte offset of the packet's record in its file) are per packet; packet i
    is numbered ``first_packet + i``.  Callers guarantee 0 <= starts[i] <= ends[i] <= len(buf).
    """
    cdef Py_ssize_t i, n = starts.shape[0]
    for i in range(n):
        decode_packet(sink, buf, starts[i], ends[i], linktypes[i], times[i],
                      first_packet + i, offsets[i], cut[i] != 0)
    return n


# ---------------------------------------------------------------------------
# classic pcap container: records walked here, pcapng stays with scapy

cdef inline int64_t u32(const uint8_t[::1] b, Py_ssize_t p, bint swapped) except? -1:
    if swapped:
        return ((<int64_t>b[p] << 24) | (<int64_t>b[p + 1] << 16) | (<int64_t>b[p + 2] << 8)
                | b[p + 3])
    return ((<int64_t>b[p + 3] << 24) | (<int64_t>b[p + 2] << 16) | (<int64_t>b[p + 1] << 8)
            | b[p])


#: seconds within which a record's time must be of the last trusted one to resynchronise on it
TIME_WINDOW = 30 * 86400


cdef inline bint plausible_header(const uint8_t[::1] b, Py_ssize_t p, bint swapped,
                                  int64_t max_record, int64_t frac_limit) except -1:
    """Does a pcap record header start at ``b[p]`` (16 bytes there)?  Its captured length
    is at most ``max_record`` and not above the original length, and (``frac_limit`` > 0)
    its sub-second part is below ``frac_limit`` (10**6 or 10**9)."""
    cdef int64_t incl = u32(b, p + 8, swapped)
    if incl > max_record or u32(b, p + 12, swapped) < incl:
        return False
    return frac_limit <= 0 or u32(b, p + 4, swapped) < frac_limit


def walk_records(Sink sink, const uint8_t[::1] buf, Py_ssize_t pos, bint swapped, int linktype,
                 int64_t first_packet, int64_t base_offset, int64_t max_packets,
                 int64_t max_record, int64_t frac_limit=0):
    """Decode the complete pcap records in ``buf[pos:]`` (at most ``max_packets``).

    IN: ``swapped`` (file written big-endian), ``linktype`` (of the file header),
    ``first_packet`` (number of the first record here), ``base_offset`` (file offset of
    ``buf[0]``), ``max_record`` (largest acceptable captured length), ``frac_limit``
    (10**6 or 10**9: the sub-second field must be below it, and the captured length not
    above the original one; 0: only ``max_record`` is checked).
    OUT: the sink.  Returns ``(pos, packets, bad)``: where the next record starts,
    how many were decoded, and ``bad`` = 1 when the record header at ``pos`` is not
    plausible (a damaged file: see :func:`find_record`; 0 if none).
    """
    cdef Py_ssize_t end = buf.shape[0]
    cdef int64_t n = 0, ts, incl, orig
    while n < max_packets and end - pos >= 16:
        ts = u32(buf, pos, swapped)
        incl = u32(buf, pos + 8, swapped)
        orig = u32(buf, pos + 12, swapped)
        if incl > max_record or (frac_limit > 0 and not plausible_header(
                buf, pos, swapped, max_record, frac_limit)):
            return pos, n, 1
        if end - pos - 16 < incl:
            break
        decode_packet(sink, buf, pos + 16, pos + 16 + incl, linktype, ts,
                      first_packet + n, base_offset + pos, incl < orig)
        if (sink.last_time < 0 or abs(ts - sink.last_time) <= TIME_WINDOW
                or abs(ts - sink.prev_time) <= TIME_WINDOW):
            sink.last_time = ts            # one damaged time stamp is not trusted
        sink.prev_time = ts
        pos += 16 + incl
        n += 1
    return pos, n, 0


def find_record(const uint8_t[::1] buf, Py_ssize_t pos, bint swapped, int64_t max_record,
                int64_t frac_limit, bint final, int64_t last_time=-1, int64_t window=0):
    """Resynchronise after a damaged record header, as tcpdump's and Wireshark's repair
    tools do: the first offset >= ``pos`` where a plausible record header starts whose
    record is followed by another plausible header (or ends exactly at the end of the
    data, when ``final``).  Both headers' seconds must be within ``window`` of
    ``last_time`` (the time of the last good record; when < 0, of the candidate's own
    time), and the candidate's captured length above 0 (zero bytes look like headers).

    Returns ``(offset, found)``.  Not found: ``offset`` is where the search must go on
    once more bytes are in the buffer (``final``: the end of the buffer).
    """
    cdef Py_ssize_t end = buf.shape[0], p, q
    cdef int64_t t
    p = pos
    while p + 16 <= end:
        t = u32(buf, p, swapped)
        if u32(buf, p + 8, swapped) > 0 and plausible_header(
                buf, p, swapped, max_record, frac_limit) and (
                last_time < 0 or abs(t - last_time) <= window):
            q = p + 16 + u32(buf, p + 8, swapped)
            if q == end and final:
                return p, True
            if q + 16 <= end:
                # the next header: plausible too, and near in time (to the candidate's
                # own time when there is no good record yet)
                if plausible_header(buf, q, swapped, max_record, frac_limit) and abs(
                        u32(buf, q, swapped) - (last_time if last_time >= 0 else t)) <= window:
                    return p, True
            elif not final:
                return p, False            # the next header is not read yet
        p += 1
    return (end if final else p), False


