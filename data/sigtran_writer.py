"""GSM MAP over SIGTRAN packets, BER-encoded by hand: the simulator's 2G/3G registration traffic.

Each MAP dialogue is two packets in Ethernet / IPv4 / SCTP (one DATA chunk, PPID 3) /
M3UA Transfer DATA / SCCP UDT (route on SSN + point code) / TCAP (ITU Q.773):

- a Begin (OTID, dialogue portion AARQ with the MAP application context, v3) with one
  Invoke, from the VLR / SGSN / MSC to the HLR or EIR;
- an End (DTID = the Begin's OTID, AARE accepted) with the ReturnResultLast.

Operations (TS 29.002): updateLocation (IMSI, MSC and VLR numbers, add-info IMEISV,
pagingArea LAI), updateGprsLocation (IMSI, SGSN number and address, add-info IMEISV),
sendAuthenticationInfo (IMSI, 5 vectors asked), checkIMEI (Ericsson's
EnhancedCheckIMEI-Arg: IMEI, requested equipment status, IMSI [PRIVATE 1]; the answer
carries the equipment status), provideSubscriberInfo (IMSI; the answer the CGI).
Tests decode what is written here with pycrate and tshark (``docs/input-formats-signaling.md``).
SCTP checksums are left 0 (Wireshark does not check them by default).
"""
from __future__ import annotations

import struct

import numpy as np

from simbox.data.pcap_writer import PCAP_HEADER, _ones_sum, _tbcd, parse_cell, plmn_octets
from simbox.fastpath.events import decode_digits, encode_digits

OP_UL, OP_UGL, OP_SAI, OP_CHECK_IMEI, OP_PSI = 2, 23, 56, 43, 70
# MAP application contexts (0.4.0.0.1.0.<ac>.3) of each operation
AC = {OP_UL: 1, OP_UGL: 32, OP_SAI: 14, OP_CHECK_IMEI: 13, OP_PSI: 28}
DIALOGUE_AS = bytes.fromhex("00118605010101")   # 0.0.17.773.1.1.1 (dialogue-as-id)
SSN_HLR, SSN_VLR, SSN_MSC, SSN_EIR, SSN_SGSN = 6, 7, 8, 9, 149
# point codes, IP addresses of the nodes
PC = {"vlr": 101, "hlr": 201, "eir": 301, "sgsn": 401}
IP = {"vlr": "10.40.0.1", "hlr": "10.40.0.2", "eir": "10.40.0.3", "sgsn": "10.40.0.4"}
HLR_NUMBER = "8613900000001"
STATUS = {"white": 0, "black": 1, "grey": 2}


def tlv(tag: int, value: bytes) -> bytes:
    """One BER TLV, definite length (short or long form)."""
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    if n < 0x100:
        return bytes([tag, 0x81, n]) + value
    return bytes([tag, 0x82, n >> 8, n & 0xFF]) + value


def address(digits: str) -> bytes:
    """ISDN-AddressString: international E.164, then TBCD digits."""
    return b"\x91" + _tbcd(digits)


def imei_octets(digits: str) -> bytes:
    """IMEI (15 digits, F filler) or IMEISV (16 digits): 8 TBCD octets."""
    return _tbcd(digits)


def lai_octets(plmn: str, lac: int, ci: int | None = None) -> bytes:
    """LAI (5 octets) or CGI (7 octets) of TS 24.008."""
    b = plmn_octets(plmn) + lac.to_bytes(2, "big")
    return b + ci.to_bytes(2, "big") if ci is not None else b


def _oid_ac(op: int) -> bytes:
    return bytes([0x06, 7, 0x04, 0, 0, 1, 0, AC[op], 3])


def dialogue_request(op: int) -> bytes:
    aarq = tlv(0x60, b"\x80\x02\x07\x80" + tlv(0xA1, _oid_ac(op)))
    return tlv(0x6B, tlv(0x28, tlv(0x06, DIALOGUE_AS) + tlv(0xA0, aarq)))


def dialogue_response(op: int) -> bytes:
    aare = tlv(0x61, b"\x80\x02\x07\x80" + tlv(0xA1, _oid_ac(op)) + b"\xa2\x03\x02\x01\x00"
               + b"\xa3\x05\xa1\x03\x02\x01\x00")
    return tlv(0x6B, tlv(0x28, tlv(0x06, DIALOGUE_AS) + tlv(0xA0, aare)))


def begin(otid: int, op: int, arg: bytes, invoke_id: int = 1) -> bytes:
    inv = tlv(0xA1, b"\x02\x01" + bytes([invoke_id]) + b"\x02\x01" + bytes([op]) + arg)
    return tlv(0x62, tlv(0x48, otid.to_bytes(4, "big")) + dialogue_request(op) + tlv(0x6C, inv))


def end(dtid: int, op: int, res: bytes | None, invoke_id: int = 1) -> bytes:
    body = b"\x02\x01" + bytes([invoke_id])
    if res is not None:
        body += tlv(0x30, b"\x02\x01" + bytes([op]) + res)
    return tlv(0x64, tlv(0x49, dtid.to_bytes(4, "big")) + dialogue_response(op)
               + tlv(0x6C, tlv(0xA2, body)))


# --- MAP arguments and results --------------------------------------------------------

def ul_arg(imsi: str, vlr: str, imeisv: str = "", lai: bytes = b"") -> bytes:
    b = tlv(0x04, _tbcd(imsi)) + tlv(0x81, address(vlr)) + tlv(0x04, address(vlr))
    if imeisv:
        b += tlv(0xAD, tlv(0x80, imei_octets(imeisv)))
    if lai:
        b += tlv(0xAE, tlv(0x80, lai))
    return tlv(0x30, b)


def ugl_arg(imsi: str, sgsn: str, imeisv: str = "") -> bytes:
    b = tlv(0x04, _tbcd(imsi)) + tlv(0x04, address(sgsn)) + tlv(0x04, b"\x04\x0a\x28\x00\x04")
    if imeisv:
        b += tlv(0xA4, tlv(0x80, imei_octets(imeisv)))
    return tlv(0x30, b)


def sai_arg(imsi: str) -> bytes:
    return tlv(0x30, tlv(0x80, _tbcd(imsi)) + b"\x02\x01\x05")


def check_imei_arg(imei: str, imsi: str = "") -> bytes:
    b = tlv(0x04, imei_octets(imei)) + b"\x03\x02\x00\x80"
    if imsi:
        b += tlv(0xC1, _tbcd(imsi))
    return tlv(0x30, b)


def psi_arg(imsi: str) -> bytes:
    return tlv(0x30, tlv(0x80, _tbcd(imsi)) + tlv(0xA2, b"\x80\x00"))


def ul_res() -> bytes:
    return tlv(0x30, tlv(0x04, address(HLR_NUMBER)))


def check_imei_res(status: int) -> bytes:
    return tlv(0x30, bytes([0x0A, 1, status]))


def psi_res(cgi: bytes, imei: str = "") -> bytes:
    loc = tlv(0xA0, b"\x02\x01\x00" + tlv(0xA3, tlv(0x80 if len(cgi) == 7 else 0x81, cgi)))
    return tlv(0x30, tlv(0x30, loc + (tlv(0x85, imei_octets(imei)) if imei else b"")))


def sai_res() -> bytes:
    return tlv(0xA3, b"")


# --- SCCP, M3UA, SCTP, IPv4, Ethernet ---------------------------------------------------

def sccp_udt(data: bytes, called_pc: int, called_ssn: int, calling_pc: int,
             calling_ssn: int) -> bytes:
    """UDT, class 0 (return on error), both addresses route on SSN with a point code."""
    called = bytes([0x43, called_pc & 0xFF, called_pc >> 8, called_ssn])
    calling = bytes([0x43, calling_pc & 0xFF, calling_pc >> 8, calling_ssn])
    if len(data) > 255:
        raise ValueError("SCCP UDT data longer than 255 octets")
    return (bytes([0x09, 0x80, 3, 3 + len(called), 3 + len(called) + len(calling)])
            + bytes([len(called)]) + called + bytes([len(calling)]) + calling
            + bytes([len(data)]) + data)


def sccp_xudt(data: bytes, called_pc: int, called_ssn: int, calling_pc: int,
              calling_ssn: int, segment: bytes | None = None) -> bytes:
    """XUDT, class 0, hop counter 15; ``segment``: the 4 octets of a Segmentation
    parameter (optional part), None: no optional part."""
    called = bytes([0x43, called_pc & 0xFF, called_pc >> 8, called_ssn])
    calling = bytes([0x43, calling_pc & 0xFF, calling_pc >> 8, calling_ssn])
    if len(data) > 254:
        raise ValueError("SCCP XUDT data longer than 254 octets")
    p_data = 2 + 1 + len(called) + 1 + len(calling)      # from the pointer at offset 5
    body = (bytes([len(called)]) + called + bytes([len(calling)]) + calling
            + bytes([len(data)]) + data)
    p_opt = 0 if segment is None else 1 + len(body)      # from the pointer at offset 6
    opt = b"" if segment is None else bytes([0x10, 4]) + segment + b"\0"
    return bytes([0x11, 0x80, 15, 4, 3 + len(called) + 1, p_data, p_opt]) + body + opt


def m2pa_data(sccp: bytes, opc: int, dpc: int, sls: int = 0, fsn: int = 1) -> bytes:
    """M2PA User Data carrying an MTP3 message (SIO: SCCP, national; ITU routing label)."""
    label = (dpc & 0x3FFF) | ((opc & 0x3FFF) << 14) | ((sls & 0xF) << 28)
    data = bytes([0, 0x83]) + label.to_bytes(4, "little") + sccp     # priority, SIO, label
    return struct.pack("!BBBBIII", 1, 0, 11, 1, 16 + len(data), 0xFFFFFF, fsn & 0xFFFFFF) + data


def m3ua_data(sccp: bytes, opc: int, dpc: int, sls: int = 0) -> bytes:
    pd = struct.pack("!IIBBBB", opc, dpc, 3, 2, 0, sls & 0xFF) + sccp
    param = struct.pack("!HH", 0x0210, 4 + len(pd)) + pd
    param += b"\0" * (-len(param) % 4)
    rc = struct.pack("!HHI", 0x0006, 8, 1)
    return struct.pack("!BBBBI", 1, 0, 1, 1, 8 + len(rc) + len(param)) + rc + param


class Framer:
    """Ethernet / IPv4 / SCTP DATA framing with per-association TSN and stream sequence."""

    def __init__(self):
        self.tsn = {}
        self.ip_id = 0

    def packet(self, src: str, dst: str, payload: bytes, ppid: int = 3, port: int = 2905) -> bytes:
        key = (src, dst)
        tsn = self.tsn.get(key, 1)
        self.tsn[key] = tsn + 1
        chunk = struct.pack("!BBHIHHI", 0, 3, 16 + len(payload), tsn, 0, tsn & 0xFFFF, ppid) + payload
        chunk += b"\0" * (-len(chunk) % 4)
        # the verification tag is the receiver's: one per direction of an association
        vtag = 0x5C000000 | (sum(map(int, dst.split("."))) << 8) | sum(map(int, src.split(".")))
        sctp = struct.pack("!HHII", port, port, vtag, 0) + chunk
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(sctp), self.ip_id, 0x4000,
                                   64, 132, 0, bytes(map(int, src.split("."))),
                                   bytes(map(int, dst.split(".")))))
        s = _ones_sum(bytes(ip))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        ip[10:12] = struct.pack("=H", ~s & 0xFFFF)
        return (b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + bytes(ip) + sctp)


class MapDialogues:
    """Builds the two packets (Begin, End) of each MAP dialogue; ``records`` collects
    ``(time_us, packet)``."""

    def __init__(self, transport: str = "m3ua", sccp: str = "udt"):
        if transport not in ("m3ua", "m2pa") or sccp not in ("udt", "xudt"):
            raise ValueError(f"transport m3ua|m2pa and sccp udt|xudt, not {transport}, {sccp}")
        self.transport, self.sccp = transport, sccp
        self.framer = Framer()
        self.tid = 0x1000
        self.records: list[tuple[int, bytes]] = []

    def _dialogue(self, t_us: int, op: int, arg: bytes, res: bytes | None, client: str,
                  server: str, client_ssn: int, server_ssn: int, delay_us: int = 20_000):
        self.tid = (self.tid + 1) & 0xFFFFFFFF
        udt = sccp_udt if self.sccp == "udt" else sccp_xudt
        req = udt(begin(self.tid, op, arg), PC[server], server_ssn, PC[client], client_ssn)
        ans = udt(end(self.tid, op, res), PC[client], client_ssn, PC[server], server_ssn)
        self.records.append((t_us, self._frame(client, server, req)))
        self.records.append((t_us + delay_us, self._frame(server, client, ans)))

    def _frame(self, src, dst, sccp):
        if self.transport == "m3ua":
            return self.framer.packet(IP[src], IP[dst], m3ua_data(sccp, PC[src], PC[dst], self.tid))
        return self.framer.packet(IP[src], IP[dst], m2pa_data(sccp, PC[src], PC[dst], self.tid,
                                                              self.tid), ppid=5, port=3565)

    def update_location(self, t_us, imsi, vlr, imeisv="", lai=b""):
        self._dialogue(t_us, OP_UL, ul_arg(imsi, vlr, imeisv, lai), ul_res(), "vlr", "hlr",
                       SSN_VLR, SSN_HLR)

    def update_gprs_location(self, t_us, imsi, sgsn, imeisv=""):
        self._dialogue(t_us, OP_UGL, ugl_arg(imsi, sgsn, imeisv), ul_res(), "sgsn", "hlr",
                       SSN_SGSN, SSN_HLR)

    def send_auth_info(self, t_us, imsi):
        self._dialogue(t_us, OP_SAI, sai_arg(imsi), sai_res(), "vlr", "hlr", SSN_VLR, SSN_HLR)

    def check_imei(self, t_us, imei, imsi="", status=0):
        self._dialogue(t_us, OP_CHECK_IMEI, check_imei_arg(imei, imsi), check_imei_res(status),
                       "vlr", "eir", SSN_VLR, SSN_EIR)

    def provide_subscriber_info(self, t_us, imsi, cgi, imei=""):
        self._dialogue(t_us, OP_PSI, psi_arg(imsi), psi_res(cgi, imei), "hlr", "vlr",
                       SSN_HLR, SSN_VLR)


def pcap_records(records) -> bytes:
    """Classic pcap records (microsecond times), in time order."""
    out = []
    for t_us, data in sorted(records, key=lambda r: r[0]):
        out.append(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(data), len(data)))
        out.append(data)
    return b"".join(out)


def write_map_pcap(path, records) -> int:
    """Write ``(time_us, packet)`` records as a classic pcap (Ethernet); returns packets."""
    with open(path, "wb") as fh:
        fh.write(PCAP_HEADER)
        fh.write(pcap_records(records))
    return len(records)


__all__ = ["MapDialogues", "write_map_pcap", "pcap_records", "lai_octets", "tlv"]


# --- the simulator's registration traffic ------------------------------------------------

#: share of the ordinary population on 2G/3G (their registrations go through MAP; the others
#: attach on LTE: GTPv2-C + Diameter, data/pcap_writer.py); SIM boxes (GSM gateways) all
MAP_SHARE = 0.3
PERIODIC_S = 6 * 3600          # periodic location update timer (T3212): authenticated with SAI
PERIODIC_MAX = 2               # periodic updates written after a registration, at most
GPRS_SHARE = 0.4               # registrations followed by a GPRS attach (UpdateGprsLocation)
PSI_SHARE = 0.05               # registrations after which the HLR asks the VLR for the location
BANK_SHARE = 0.6               # box registrations that bring another SIM of the bank in (rotation)
VLR_NUMBER, SGSN_NUMBER = "8613900000101", "8613900000401"


def _on_map(imsi: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Which subscribers register over MAP: SIM boxes, and MAP_SHARE of the others (a fixed
    hash of the IMSI, so a SIM keeps its technology)."""
    h = (imsi.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    return (cls == "simbox") | ((h % np.uint64(1000)).astype(np.int64) < MAP_SHARE * 1000)


def registration_plan(net, seed: int = 0) -> dict:
    """The MAP registrations of a simulated network, as arrays (one row per registration).

    From ``net.attaches`` (a SIM's first event, each new local day, a new device or
    location area: power-on and location updates): the attaches of MAP subscribers
    (:func:`_on_map`), and for SIM boxes the bank's rotation: BANK_SHARE of a box SIM's
    registrations bring another SIM of its deployment onto the same port (IMEI, cell)
    within 5 minutes, whether or not that SIM then calls.  Returns ``time``, ``imsi``,
    ``imei`` (digits codes), ``cell`` (row of ``net.cells``), ``map`` (bool: MAP, else
    LTE) and ``lte`` (the rows of ``net.attaches`` left to the LTE writer).
    """
    a = net.attaches.columns()
    truth = net.truth
    code = {encode_digits(i): (c, d) for i, c, d in zip(truth["imsi"], truth["class"],
                                                         truth["deployment_id"])}
    cls = np.array([code.get(int(i), ("legit", ""))[0] for i in a["imsi"]], dtype=object)
    dep = np.array([code.get(int(i), ("legit", ""))[1] for i in a["imsi"]], dtype=object)
    on_map = _on_map(a["imsi"], cls)
    rng = np.random.default_rng([seed, 19])
    t, imsi, imei, cell = (a["time"][on_map], a["imsi"][on_map], a["imei"][on_map],
                           a["cell"][on_map])
    # SIM-bank rotation: another SIM of the deployment registers on the same port
    box = on_map & (cls == "simbox")
    extra_t, extra_imsi, extra_imei, extra_cell = [], [], [], []
    if box.any():
        sims_of = {}
        for i, d in zip(a["imsi"][box], dep[box]):
            sims_of.setdefault(d, set()).add(int(i))
        sims_of = {d: np.array(sorted(s), np.int64) for d, s in sims_of.items()}
        rows = np.flatnonzero(box)
        pick = rows[rng.random(len(rows)) < BANK_SHARE]
        for r in pick.tolist():
            pool = sims_of[dep[r]]
            extra_t.append(int(a["time"][r]) + int(rng.integers(1, 300)))
            extra_imsi.append(int(pool[rng.integers(0, len(pool))]))
            extra_imei.append(int(a["imei"][r]))
            extra_cell.append(int(a["cell"][r]))
    t = np.concatenate([t, np.array(extra_t, np.int64)])
    o = np.argsort(t, kind="stable")
    return {"time": t[o], "imsi": np.concatenate([imsi, np.array(extra_imsi, np.int64)])[o],
            "imei": np.concatenate([imei, np.array(extra_imei, np.int64)])[o],
            "cell": np.concatenate([cell, np.array(extra_cell, np.int64)])[o],
            "periodic": ~np.concatenate([box[on_map], np.ones(len(extra_t), bool)])[o],
            "lte": np.flatnonzero(~on_map)}


def registration_records(plan: dict, cells: np.ndarray, seed: int = 0, start: int = 0,
                         stop: int | None = None, until: int | None = None) -> list:
    """``(time_us, packet)`` of the MAP dialogues of plan rows ``start:stop``: per
    registration sendAuthenticationInfo, updateLocation (IMEISV, LAI), checkIMEI (with
    the IMSI); GPRS_SHARE of them an updateGprsLocation, PSI_SHARE a provideSubscriberInfo
    answered with the cell; ordinary SIMs (``periodic``) then authenticate at each periodic
    location update (every PERIODIC_S, at most PERIODIC_MAX, before ``until``)."""
    stop = len(plan["time"]) if stop is None else stop
    rng = np.random.default_rng([seed, 19, start])
    w = MapDialogues()
    w.tid = (start * 16) & 0xFFFFFFFF
    loc = {}
    for k in range(start, stop):
        t_us = int(plan["time"][k]) * 1_000_000 + int(rng.integers(0, 900_000))
        imsi = decode_digits(plan["imsi"][k])
        imei = decode_digits(plan["imei"][k]) if plan["imei"][k] else ""
        c = int(plan["cell"][k])
        if c not in loc:
            p, lac, ci = parse_cell(str(cells[c]))
            loc[c] = (lai_octets(p, lac), lai_octets(p, lac, ci & 0xFFFF))
        lai, cgi = loc[c]
        w.send_auth_info(t_us - 2_000_000, imsi)
        w.update_location(t_us - 1_000_000, imsi, VLR_NUMBER, imei, lai)
        if imei:
            w.check_imei(t_us, imei, imsi, 0)
        if rng.random() < GPRS_SHARE:
            w.update_gprs_location(t_us + 3_000_000, imsi, SGSN_NUMBER, imei)
        if rng.random() < PSI_SHARE:
            w.provide_subscriber_info(t_us + int(rng.integers(60, 3600)) * 1_000_000, imsi, cgi,
                                      imei)
        if plan["periodic"][k]:
            for j in range(1, PERIODIC_MAX + 1):
                tp = t_us + j * PERIODIC_S * 1_000_000
                if until is not None and tp // 1_000_000 >= until:
                    break
                w.send_auth_info(tp, imsi)
    return w.records
