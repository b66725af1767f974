"""The slow, obviously-correct reference of the signaling decoder: scapy's full dissection.

Each packet is dissected by scapy (link layer from the capture's link type, IP, UDP /
TCP / SCTP, ``scapy.contrib.gtp_v2``, ``scapy.contrib.diameter``) and the attach fields
are read from scapy's fields, with two fixes for known scapy pitfalls (see
``docs/input-formats-signaling.md``): PLMNs are decoded from the 3 raw BCD octets
(scapy splits the MCC/MNC nibbles wrongly), and AVP padding items (``Raw``) are
ignored.  Framing that scapy does not do (several Diameter messages in one TCP
segment, piggybacked GTPv2 messages) is done here by message length, each message
then dissected by scapy.  Same output as ``signaling.decode_signaling`` (one dict per
attach message) for well-formed packets; tests compare the two.

Runs at a few thousand packets/s: for tests and the benchmark only.
"""
from __future__ import annotations

import os

import scapy.contrib.diameter as _dm
import scapy.contrib.gtp_v2 as _g2
from scapy.config import conf
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
from scapy.layers.sctp import SCTP, SCTPChunkData
from scapy.packet import Raw
from scapy.utils import RawPcapReader

KIND_GTP_CSR, KIND_S6A_ULR, KIND_GX_CCR = "gtpv2_csr", "s6a_ulr", "gx_ccr"
APP_S6A, APP_GX, VENDOR_3GPP = 16777251, 16777238, 10415


class Malformed(ValueError):
    """A field the reference cannot accept (bad digits, short ULI)."""


def plmn(octets: bytes) -> str:
    """MCC+MNC digits of 3 BCD octets (TS 24.008 10.5.1.3): MNC of 2 digits when its 3rd nibble is F."""
    if len(octets) != 3:
        raise Malformed("PLMN is not 3 octets")
    n = [octets[0] & 15, octets[0] >> 4, octets[1] & 15, octets[2] & 15, octets[2] >> 4,
         octets[1] >> 4]
    if any(d > 9 for d in n[:5]) or (n[5] > 9 and n[5] != 15):
        raise Malformed("PLMN is not BCD")
    return "".join(map(str, n[:5])) + ("" if n[5] == 15 else str(n[5]))


def digits(value, lo: int, hi: int) -> str:
    s = value.decode("ascii", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
    if not (s.isascii() and s.isdigit() and lo <= len(s) <= hi):
        raise Malformed(f"bad digits {s!r}")
    return s


def imeisv_octets(b: bytes) -> str:
    """User-Equipment-Info-Value: one digit value per octet, ASCII digits, or TBCD."""
    if 14 <= len(b) <= 16 and all(x <= 9 for x in b):
        return "".join(map(str, b))
    try:
        return digits(b, 14, 16)
    except Malformed:
        return tbcd(b, 14, 16)


def tbcd(b: bytes, lo: int, hi: int) -> str:
    """Digits of TBCD octets (low nibble first, a final F filler), ``lo`` to ``hi`` of them."""
    out = []
    for i, x in enumerate(b):
        for k, d in enumerate((x & 15, x >> 4)):
            if d == 15 and k == 1 and i == len(b) - 1:
                break
            out.append(d)
    if any(d > 9 for d in out):
        raise Malformed("bad TBCD digits")
    return digits("".join(map(str, out)), lo, hi)


def _empty(kind, packet, t):
    return {"packet": packet, "kind": kind, "time": t, "imsi": "", "imei": "", "msisdn": "",
            "plmn": "", "lac": -1, "ci": -1, "rat": -1}


def _uli_raw(ie_bytes: bytes, flags: int, off: int, out: dict):
    """Cell of a ULI: ECGI (TAC of the TAI), else CGI, else SAI; fields taken from raw offsets."""
    sizes = [(0x01, "cgi", 7), (0x02, "sai", 7), (0x04, "rai", 7), (0x08, "tai", 5), (0x10, "ecgi", 7)]
    pos, q = {}, off
    for bit, name, size in sizes:
        if flags & bit:
            pos[name] = q
            q += size
    if q > len(ie_bytes):
        raise Malformed("ULI shorter than its flags")
    return pos


def _gtp_uli(ie, out):
    raw = bytes(ie)[4:4 + ie.length]
    if not raw:
        raise Malformed("empty ULI")
    flags = raw[0]
    pos = _uli_raw(raw, flags, 1, out)
    if ie.ECGI_Present and ie.ECGI is not None:
        out["plmn"] = plmn(raw[pos["ecgi"]:pos["ecgi"] + 3])
        out["ci"] = int(ie.ECGI.ECI)
        out["lac"] = int(ie.TAI.TAC) if ie.TAI_Present and ie.TAI is not None else -1
    elif (ie.CGI_Present and ie.CGI is not None) or (ie.SAI_Present and ie.SAI is not None):
        key = "cgi" if ie.CGI_Present else "sai"
        sub = ie.CGI if ie.CGI_Present else ie.SAI
        out["plmn"] = plmn(raw[pos[key]:pos[key] + 3])
        out["lac"] = int(sub.LAC)
        out["ci"] = int(sub.CI if ie.CGI_Present else sub.SAC)


def _gtp_csr(msg: bytes, packet: int, t: int) -> dict:
    h = _g2.GTPHeader(msg)
    out = _empty(KIND_GTP_CSR, packet, t)
    for ie in h[_g2.GTPV2CreateSessionRequest].IE_list:
        if ie.instance != 0:
            continue
        if isinstance(ie, _g2.IE_IMSI):
            out["imsi"] = digits(ie.IMSI, 6, 15)
        elif isinstance(ie, _g2.IE_MEI):
            out["imei"] = digits(ie.MEI, 14, 16)
        elif isinstance(ie, _g2.IE_MSISDN):
            out["msisdn"] = digits(ie.digits, 1, 15)
        elif isinstance(ie, _g2.IE_ULI):
            _gtp_uli(ie, out)
        elif isinstance(ie, _g2.IE_RAT):
            out["rat"] = int(ie.RAT_type)
    return out


def _avps(lst):
    return [a for a in lst if not isinstance(a, Raw) and hasattr(a, "avpCode")]


def _vendor(a) -> int:
    return int(getattr(a, "avpVnd", 0) or 0) if int(a.avpFlags) & 0x80 else 0


def _raw_val(a) -> bytes:
    """The AVP's data octets (scapy turns some into enums or ints)."""
    b = bytes(a)
    hl = 12 if int(a.avpFlags) & 0x80 else 8
    return b[hl:int(a.avpLen)]


def _diameter(msg: bytes, packet: int, t: int) -> dict | None:
    d = _dm.DiamG(msg)
    if not int(d.drFlags) & 0x80:
        return None
    code, app = int(d.drCode), int(d.drAppId)
    kind = (KIND_S6A_ULR if (code, app) == (316, APP_S6A) else
            KIND_GX_CCR if (code, app) == (272, APP_GX) else None)
    if kind is None:
        return None
    out = _empty(kind, packet, t)
    imei, sv, vplmn = "", "", ""
    for a in _avps(d.avpList):
        c, v = int(a.avpCode), _vendor(a)
        if c == 1032 and v == VENDOR_3GPP and len(_raw_val(a)) == 4:
            rat = int.from_bytes(_raw_val(a), "big")
            out["rat"] = rat if rat <= 32767 else -1
        elif kind == KIND_S6A_ULR and (c, v) == (1, 0):
            out["imsi"] = digits(_raw_val(a), 6, 15)
        elif kind == KIND_S6A_ULR and (c, v) == (1401, VENDOR_3GPP):
            for s in _avps(a.val):
                if (int(s.avpCode), _vendor(s)) == (1402, VENDOR_3GPP):
                    imei = digits(_raw_val(s), 14, 16)
                elif (int(s.avpCode), _vendor(s)) == (1403, VENDOR_3GPP):
                    sv = digits(_raw_val(s), 2, 2)
        elif kind == KIND_S6A_ULR and (c, v) == (1407, VENDOR_3GPP):
            vplmn = plmn(_raw_val(a))
        elif kind == KIND_GX_CCR and (c, v) in ((443, 0), (458, 0)):
            typ, data = None, None
            for s in _avps(a.val):
                sc = (int(s.avpCode), _vendor(s))
                if sc in ((450, 0), (459, 0)) and len(_raw_val(s)) == 4:
                    typ = int.from_bytes(_raw_val(s), "big")
                elif sc in ((444, 0), (460, 0)):
                    data = _raw_val(s)
            if data is not None and c == 443 and typ in (0, 1):
                out["imsi" if typ == 1 else "msisdn"] = digits(data, 6 if typ == 1 else 1, 15)
            elif data is not None and c == 458 and typ == 0:
                out["imei"] = imeisv_octets(data)
        elif kind == KIND_GX_CCR and (c, v) == (22, VENDOR_3GPP):
            raw = _raw_val(a)
            if raw:
                flags = {0: 0x01, 1: 0x02, 2: 0x04, 128: 0x08, 129: 0x10, 130: 0x18}.get(raw[0], 0)
                # scapy has no layer for the 29.061 ULI: read TAC/ECI/LAC/CI from the octets
                pos = _uli_raw(raw, flags, 1, out)
                if "ecgi" in pos:
                    e = pos["ecgi"]
                    out["plmn"] = plmn(raw[e:e + 3])
                    out["ci"] = int.from_bytes(raw[e + 3:e + 7], "big") & 0x0FFFFFFF
                    out["lac"] = int.from_bytes(raw[pos["tai"] + 3:pos["tai"] + 5], "big") \
                        if "tai" in pos else -1
                elif "cgi" in pos or "sai" in pos:
                    g = pos.get("cgi", pos.get("sai"))
                    out["plmn"] = plmn(raw[g:g + 3])
                    out["lac"] = int.from_bytes(raw[g + 3:g + 5], "big")
                    out["ci"] = int.from_bytes(raw[g + 5:g + 7], "big")
    if imei:
        out["imei"] = imei[:14] + sv if sv and len(imei) >= 14 else imei
    if vplmn and out["ci"] < 0:
        out["plmn"] = vplmn
    return out


def decode_packet(data: bytes, linktype: int, t: int, packet: int, map_ref=None) -> list[dict]:
    """Attach messages of one packet, via scapy's dissection (``Malformed`` if a field is bad).

    ``map_ref``: a :class:`~simbox.fastpath.sigtran_ref.MapReference` (state of one
    capture) that decodes the M3UA and M2PA payloads (SCTP PPID 3 or port 2905, PPID 5 or
    port 3565); None: skipped."""
    cls = conf.l2types.get(linktype)
    if cls is None:
        return []
    p = cls(data)
    out = []
    if IP in p:
        ip = p[IP]
        if ip.flags.MF or ip.frag:
            return []
    elif IPv6 in p:
        if IPv6ExtHdrFragment in p:
            return []
    else:
        return []
    if UDP in p and 2123 in (p[UDP].sport, p[UDP].dport):
        payload = bytes(p[UDP].payload)
        q = 0
        while len(payload) - q >= 8 and payload[q] >> 5 == 2:
            mlen = int.from_bytes(payload[q + 2:q + 4], "big") + 4
            if payload[q + 1] == 32:
                out.append(_gtp_csr(payload[q:q + mlen], packet, t))
            if not payload[q] & 0x10:
                break
            q += mlen
    elif TCP in p and 3868 in (p[TCP].sport, p[TCP].dport):
        payload = bytes(p[TCP].payload)
        q = 0
        while len(payload) - q >= 20 and payload[q] == 1:
            mlen = int.from_bytes(payload[q + 1:q + 4], "big")
            if mlen < 20 or q + mlen > len(payload):
                break
            m = _diameter(payload[q:q + mlen], packet, t)
            if m is not None:
                out.append(m)
            q += mlen
    elif SCTP in p:
        # scapy reads whatever follows a DATA chunk as its payload (even another chunk):
        # frame the chunks by their length here, then let scapy dissect each DATA chunk
        port = 3868 in (p[SCTP].sport, p[SCTP].dport)
        port_m3ua = 2905 in (p[SCTP].sport, p[SCTP].dport)
        port_m2pa = 3565 in (p[SCTP].sport, p[SCTP].dport)
        raw = bytes(p[SCTP])
        q = 12
        while len(raw) - q >= 4:
            ln = int.from_bytes(raw[q + 2:q + 4], "big")
            if ln < 4:
                break
            if raw[q] == 0:
                c = SCTPChunkData(raw[q:q + ln])
                if (c.proto_id == 46 or (port and c.proto_id == 0)) and c.beginning and c.ending:
                    m = _diameter(bytes(c.data)[:ln - 16], packet, t)
                    if m is not None:
                        out.append(m)
                elif (map_ref is not None and (c.proto_id == 3 or (port_m3ua and c.proto_id == 0))
                      and c.beginning and c.ending):
                    out.extend(map_ref.m3ua(bytes(c.data)[:ln - 16], packet, t))
                elif (map_ref is not None and (c.proto_id == 5 or (port_m2pa and c.proto_id == 0))
                      and c.beginning and c.ending):
                    out.extend(map_ref.m2pa(bytes(c.data)[:ln - 16], packet, t))
            q += (ln + 3) & ~3
    return [m for m in out if m["imsi"]]


def reference_decode(path) -> list[dict]:
    """Attach messages of a capture file (one dict per message, as ``decode_signaling`` rows)."""
    from simbox.fastpath.sigtran_ref import MapReference  # lazy: pycrate, for MAP captures
    out = []
    map_ref = MapReference()
    reader = RawPcapReader(os.fspath(path))
    try:
        for i, (data, meta) in enumerate(reader):
            lt = getattr(meta, "linktype", None)
            if lt is None:
                lt = reader.linktype
                t = meta.sec
            else:
                t = ((meta.tshigh << 32) | meta.tslow) // (meta.tsresol or 1000000)
            out.extend(decode_packet(data, lt, t, i, map_ref))
    finally:
        reader.close()
    return out
