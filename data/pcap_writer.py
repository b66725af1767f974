"""Write attach events as a signaling capture: GTPv2-C and Diameter S6a, built with scapy.

Each attach ``(time, imsi, imei, msisdn, cell)`` becomes two packets in a classic
pcap (Ethernet, microsecond timestamps):

1. a Diameter S6a Update-Location-Request over TCP port 3868, MME -> HSS
   (User-Name = IMSI, Terminal-Information = IMEI [+ Software-Version for an
   IMEISV], Visited-PLMN-Id = the cell's PLMN), at ``time + 0.1 s``;
2. a GTPv2-C Create Session Request over UDP port 2123, MME -> SGW (IMSI, MSISDN,
   MEI, ULI with TAI and ECGI, Serving Network, RAT type E-UTRAN) at ``time + 0.3 s``.

Building a million packets as scapy objects would take an hour, so scapy builds one
template packet per message type and field-length shape, and each attach patches its
fields into a copy as bytes (sequence numbers, identities, PLMN, TAC, ECI, TCP
sequence and checksum).  Tests check that scapy dissects the written packets back to
the same values.

Cells are tokens ``MCCMNC-LAC-CI`` (5-digit PLMN = MCC + 2-digit MNC, 6 digits =
3-digit MNC); they are written as TAI (TAC = LAC) + ECGI (ECI = CI), so the reader
gives back the same token (``docs/input-formats-signaling.md``).
"""
from __future__ import annotations

import pathlib
import struct

import numpy as np

from simbox.errors import InputError
from simbox.fastpath.events import decode_array

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
MME, SGW, HSS = "10.10.0.1", "10.20.0.1", "10.30.0.1"
ULR_USEC, CSR_USEC = 100_000, 300_000
CHUNK = 100_000

# placeholders, found once in each template and replaced per attach
_P_IMSI = "1" * 15
_P_TAC, _P_ECI = 0x7A7B, 0x0ABCDEF


def _tbcd(d: str) -> bytes:
    if len(d) % 2:
        d += "F"
    return bytes(int(d[i + 1], 16) << 4 | int(d[i], 16) for i in range(0, len(d), 2))


def plmn_octets(plmn: str) -> bytes:
    """3 BCD octets of MCC+MNC (TS 24.008 10.5.1.3); 5 digits = 2-digit MNC."""
    if not (plmn.isdigit() and len(plmn) in (5, 6)):
        raise InputError(f"cell PLMN must be 5 or 6 digits (MCC+MNC), not {plmn!r}")
    mcc, mnc = plmn[:3], plmn[3:]
    m3 = int(mnc[2]) if len(mnc) == 3 else 0xF
    return bytes([int(mcc[1]) << 4 | int(mcc[0]), m3 << 4 | int(mcc[2]), int(mnc[1]) << 4 | int(mnc[0])])


def parse_cell(token: str) -> tuple[str, int, int]:
    """(plmn, lac, ci) of a ``MCCMNC-LAC-CI`` token; LAC must fit a TAC (16 bits), CI an ECI (28 bits)."""
    parts = token.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise InputError(f"cell id {token!r} is not MCCMNC-LAC-CI")
    lac, ci = int(parts[1]), int(parts[2])
    if lac > 0xFFFF or ci > 0x0FFFFFFF:
        raise InputError(f"cell id {token!r}: LAC must be < 65536 and CI < 2**28 to map to TAC/ECI")
    plmn_octets(parts[0])
    return parts[0], lac, ci


def _ones_sum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(memoryview(b).cast("H"))            # native order; swapped back below
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


class _Templates:
    """Template packets (bytes) and their field offsets, one per length shape."""

    def __init__(self):
        import scapy.contrib.diameter as dm  # lazy: scapy contrib layers, only when writing pcap
        import scapy.contrib.gtp_v2 as g2  # lazy: as above
        from scapy.layers.inet import IP, TCP, UDP  # lazy: as above
        from scapy.layers.l2 import Ether  # lazy: as above
        self.g2, self.dm = g2, dm
        self.Ether, self.IP, self.UDP, self.TCP = Ether, IP, UDP, TCP
        self.cache = {}

    def csr(self, n_imsi, n_msisdn, n_imei):
        key = ("csr", n_imsi, n_msisdn, n_imei)
        if key not in self.cache:
            g2 = self.g2
            ies = [g2.IE_IMSI(IMSI="2" * n_imsi)]
            if n_msisdn:
                ies.append(g2.IE_MSISDN(digits="3" * n_msisdn))
            if n_imei:
                ies.append(g2.IE_MEI(MEI="4" * n_imei))
            ies += [g2.IE_ULI(TAI_Present=1, ECGI_Present=1, TAI=g2.ULI_TAI(TAC=_P_TAC),
                              ECGI=g2.ULI_ECGI(ECI=_P_ECI)),
                    g2.IE_ServingNetwork(), g2.IE_RAT(RAT_type=6), g2.IE_APN(APN="internet")]
            pkt = (self.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                   / self.IP(src=MME, dst=SGW, id=0) / self.UDP(sport=2123, dport=2123, chksum=0)
                   / g2.GTPHeader(T=1, teid=0, seq=1, gtp_type=32)
                   / g2.GTPV2CreateSessionRequest(IE_list=ies))
            b = bytes(pkt)
            off = {"seq": 42 + 8}
            q = 42 + 12
            while q < len(b):
                t, ln = b[q], int.from_bytes(b[q + 1:q + 3], "big")
                off.setdefault(t, q + 4)
                q += 4 + ln
            self.cache[key] = (b, off)
        return self.cache[key]

    def ulr(self, n_imsi, n_imei, with_sv):
        key = ("ulr", n_imsi, n_imei, with_sv)
        if key not in self.cache:
            dm = self.dm
            ti = [dm.AVP([1402, 10415], val="5" * n_imei)]
            if with_sv:
                ti.append(dm.AVP([1403, 10415], val="66"))
            avps = [dm.AVP(263, val="mme.sim;0000000000;00000000"),
                    dm.AVP(277, val=1), dm.AVP(264, val="mme.sim"), dm.AVP(296, val="sim"),
                    dm.AVP(283, val="hss.sim"), dm.AVP(1, val="7" * n_imsi),
                    dm.AVP([1032, 10415], val=1004), dm.AVP([1405, 10415], val=34),
                    dm.AVP([1407, 10415], val=b"\x99\x99\x99")]
            if n_imei:
                avps.append(dm.AVP([1401, 10415], val=ti))
            diam = dm.DiamG(drFlags=0xC0, drCode=316, drAppId=16777251, drHbHId=0, drEtEId=0,
                            avpList=avps)
            pkt = (self.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:03")
                   / self.IP(src=MME, dst=HSS, id=0) / self.TCP(sport=40000, dport=3868, flags="PA",
                                                               seq=1, ack=1, window=65535)
                   / diam)
            b = bytes(pkt)
            off = {}
            q = 54 + 20
            self._avp_offsets(b, q, len(b), off)
            self.cache[key] = (b, off)
        return self.cache[key]

    def _avp_offsets(self, b, q, end, off):
        while q + 8 <= end:
            code, fl = int.from_bytes(b[q:q + 4], "big"), b[q + 4]
            ln = int.from_bytes(b[q + 5:q + 8], "big")
            hl = 12 if fl & 0x80 else 8
            off.setdefault(code, q + hl)
            if code == 1401:
                self._avp_offsets(b, q + hl, q + ln, off)
            q += (ln + 3) & ~3


class AttachPcapWriter:
    """Writes attaches to a classic pcap file; use as a context manager."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.fh = open(self.path, "wb")
        self.fh.write(PCAP_HEADER)
        self.t = _Templates()
        self.seq = 0
        self.tcp_seq = 1
        self.written = 0

    def write(self, time, imsi, imei, msisdn, cells):
        """Write attaches given as arrays: time (epoch s), digit strings, cell tokens."""
        out = [self.record(t, data) for t, data in self.packets(time, imsi, imei, msisdn, cells)]
        self.fh.write(b"".join(out))
        self.packets_written(len(out))

    def packets_written(self, n: int):
        self.written += n

    def packets(self, time, imsi, imei, msisdn, cells) -> list:
        """``(time_us, packet)`` of attaches given as in :meth:`write` (not written)."""
        out = []
        cell_cache = {}
        for t, i, e, m, c in zip(time, imsi, imei, msisdn, cells):
            if c not in cell_cache:
                p, lac, ci = parse_cell(c)
                cell_cache[c] = (plmn_octets(p), lac.to_bytes(2, "big"),
                                 (ci & 0x0FFFFFFF).to_bytes(4, "big"))
            plmn, tac, eci = cell_cache[c]
            t = int(t) * 1_000_000
            out.append((t + ULR_USEC, self._ulr(i, e, plmn)))
            out.append((t + CSR_USEC, self._csr(i, e, m, plmn, tac, eci)))
        return out

    @staticmethod
    def record(t_us, data):
        return struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(data), len(data)) + data

    def _csr(self, imsi, imei, msisdn, plmn, tac, eci):
        tpl, off = self.t.csr(len(imsi), len(msisdn), len(imei))
        b = bytearray(tpl)
        self.seq = (self.seq + 1) & 0xFFFFFF
        b[off["seq"]:off["seq"] + 3] = self.seq.to_bytes(3, "big")
        o = off[1]
        b[o:o + (len(imsi) + 1) // 2] = _tbcd(imsi)
        if msisdn:
            o = off[76]
            b[o:o + (len(msisdn) + 1) // 2] = _tbcd(msisdn)
        if imei:
            o = off[75]
            b[o:o + (len(imei) + 1) // 2] = _tbcd(imei)
        o = off[86] + 1                      # after the ULI flags: TAI (5) then ECGI (7)
        b[o:o + 3] = plmn
        b[o + 3:o + 5] = tac
        b[o + 5:o + 8] = plmn
        b[o + 8:o + 12] = eci
        o = off[83]
        b[o:o + 3] = plmn
        return bytes(b)

    def _ulr(self, imsi, imei, plmn):
        sv = len(imei) == 16
        tpl, off = self.t.ulr(len(imsi), 14 if sv else len(imei), sv)
        b = bytearray(tpl)
        self.seq = (self.seq + 1) & 0xFFFFFF
        b[54 + 12:54 + 20] = self.seq.to_bytes(4, "big") * 2          # hop-by-hop, end-to-end
        sid = f"{self.seq:010d}".encode()
        o = off[263] + 8
        b[o:o + 10] = sid
        o = off[1]
        b[o:o + len(imsi)] = imsi.encode()
        o = off[1407]
        b[o:o + 3] = plmn
        if imei:
            o = off[1402]
            b[o:o + (14 if sv else len(imei))] = imei[:14].encode() if sv else imei.encode()
            if sv:
                o = off[1403]
                b[o:o + 2] = imei[14:].encode()
        # TCP sequence number and checksum (pseudo-header + segment)
        b[38:42] = self.tcp_seq.to_bytes(4, "big")
        self.tcp_seq = (self.tcp_seq + len(b) - 54) & 0xFFFFFFFF
        b[50:52] = b"\0\0"
        seg = bytes(b[34:])
        pseudo = bytes(b[26:34]) + struct.pack("!HH", 6, len(seg))
        s = _ones_sum(pseudo) + _ones_sum(seg)
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        b[50:52] = struct.pack("=H", ~s & 0xFFFF)
        return bytes(b)

    def close(self):
        self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_attach_pcap(path, time, imsi, imei, msisdn, cells, progress=None) -> int:
    """Write attaches (``imsi``/``imei``/``msisdn`` as digits codes, ``cells`` as tokens) as a pcap.

    Returns the number of packets written (two per attach).
    """
    n = len(time)
    with AttachPcapWriter(path) as w:
        for start in range(0, n, CHUNK):
            sl = slice(start, min(n, start + CHUNK))
            w.write(np.asarray(time[sl]).tolist(), decode_array(imsi[sl]), decode_array(imei[sl]),
                    decode_array(msisdn[sl]), cells[sl])
            if progress is not None:
                progress(sl.stop - sl.start)
        return w.written


def write_signaling(net, out_dir, progress=None) -> dict:
    """Simulator writer: ``signaling.pcap`` from ``net.attaches`` (``cell`` = row of ``net.cells``).

    The registrations of subscribers on 2G/3G (SIM boxes, part of the population) are
    GSM MAP over SIGTRAN dialogues (``data/sigtran_writer.py``: authentication, location
    updates, CheckIMEI, the SIM bank's rotation, periodic updates); the others LTE attaches
    (Diameter S6a + GTPv2-C).  Packets in time order within each chunk of attaches.
    """
    from simbox.data.sigtran_writer import registration_plan, registration_records
    a = net.attaches
    tokens = np.asarray(net.cells["cell_id"], dtype=object)
    path = pathlib.Path(out_dir) / "signaling.pcap"
    plan = registration_plan(net, net.seed)
    lte, mt = plan["lte"], plan["time"]
    until = int(net.end)
    with AttachPcapWriter(path) as w:
        j = 0
        for start in range(0, max(len(lte), 1), CHUNK):
            sl = lte[start:start + CHUNK]
            last = start + CHUNK >= len(lte)
            j2 = len(mt) if last else int(np.searchsorted(mt, a.time[sl[-1]], "right"))
            recs = w.packets(np.asarray(a.time[sl]).tolist(), decode_array(a.imsi[sl]),
                             decode_array(a.imei[sl]), decode_array(a.msisdn[sl]),
                             tokens[a.cell[sl]])
            recs += registration_records(plan, tokens, net.seed, j, j2, until)
            recs.sort(key=lambda r: r[0])
            w.fh.write(b"".join(w.record(t, d) for t, d in recs))
            w.packets_written(len(recs))
            if progress is not None:
                progress(len(sl) + j2 - j)
            j = j2
    return {"signaling": path}


__all__ = ["AttachPcapWriter", "write_attach_pcap", "write_signaling", "parse_cell", "plmn_octets"]
