"""Attach events from signaling captures (pcap, pcapng; plain or gzip).

Each GTPv2-C Create Session Request, Diameter S6a Update-Location-Request and Gx
Credit-Control-Request with an IMSI becomes one ``ATTACH`` event
``(time, imsi, imei, msisdn, cell)``; so does each GSM MAP UpdateLocation,
UpdateGprsLocation, SendAuthenticationInfo and CheckIMEI (with an IMSI) and each
answered ProvideSubscriberInfo / AnyTimeInterrogation with a location, over
SIGTRAN (M3UA or M2PA, SCCP, TCAP).  An ATTACH event's ``other`` column holds its
source (:data:`SOURCES`) and, for MAP, its ``duration`` column the LAC + 1 of its location
(0: unknown; LTE attaches: 0): a MAP location area without a cell (a LAI) is no cell
(``cell`` -1); every other packet is counted and skipped, and
truncated or malformed packets are counted, written to the rejects file with their
packet number and byte offset, and skipped (see ``docs/input-formats-signaling.md``).

Classic pcap is read in blocks and walked in Cython (``_sigdecode.walk_records``);
pcapng is read with scapy's ``RawPcapNgReader`` and its packets decoded by the same
Cython walker.  ``simbox.fastpath.signaling_ref`` is the slow scapy reference.
"""
from __future__ import annotations

import collections
import os
import struct
from typing import Iterator

import numpy as np

from simbox.errors import ConfigError, EmptyInputError, InputError
from simbox.fastpath import _sigdecode
from simbox.fastpath.badrecords import BadRecords
from simbox.fastpath.bytesource import STDIN, open_source
from simbox.fastpath.events import CellDict, EventBatch, RecordType, decode_array
from simbox.fastpath.stats import ReadStats, check_policy
from simbox.progress import NO_PROGRESS, as_progress

__all__ = ["read_signaling_events", "decode_signaling", "is_capture", "cell_token",
           "COUNT_NAMES", "KIND_NAMES"]

COUNT_NAMES = _sigdecode.COUNT_NAMES
#: the source of an ATTACH event, by message kind: the code in the event's ``other`` column
#: (0 for LTE attaches, as before MAP was read) and its name
SOURCE_NAMES = ("lte_attach", "map_registration", "map_auth", "map_check_imei", "map_location")
SOURCES = {"gtpv2_csr": 0, "s6a_ulr": 0, "gx_ccr": 0, "map_ul": 1, "map_ugl": 1, "map_sai": 2,
           "map_check_imei": 3, "map_psi": 4, "map_ati": 4}
_SOURCE_OF_KIND = np.zeros(256, np.int64)
for _k, _name in _sigdecode.KIND_NAMES.items():
    _SOURCE_OF_KIND[_k] = SOURCES[_name]
KIND_NAMES = _sigdecode.KIND_NAMES
REASONS = _sigdecode.REASONS
SKIP_COUNTS = ("not_ip", "not_signaling", "ip_fragment", "gtp_other", "diameter_other",
               "tcp_continuation", "tcp_split", "sctp_other", "no_imsi", "sigtran_other",
               "sccp_other", "sccp_segment", "tcap_other", "map_other")

PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": False, b"\xa1\xb2\xc3\xd4": True,      # microseconds
              b"\x4d\x3c\xb2\xa1": False, b"\xa1\xb2\x3c\x4d": True}      # nanoseconds
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
NANO_MAGIC = (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
BAD_HEADER = "bad pcap record header"
BLOCK = 4 << 20            # bytes read per step from a classic pcap
DECODE_PACKETS = 65536     # pcapng packets decoded per kernel call
MAX_RECORD = 64 << 20      # a pcap record larger than this means a corrupt file
RESYNC_WINDOW = _sigdecode.TIME_WINDOW  # a record found after damage is this near the last good one

# names of the IEs / AVPs a field code (protocol << 32 | code) can point at
FIELD_NAMES = {
    (1, 1): "GTPv2 IE 1 (IMSI)", (1, 75): "GTPv2 IE 75 (MEI)", (1, 76): "GTPv2 IE 76 (MSISDN)",
    (1, 86): "GTPv2 IE 86 (ULI)",
    (2, 1): "Diameter AVP 1 (User-Name)", (2, 22): "Diameter AVP 22 (3GPP-User-Location-Info)",
    (2, 444): "Diameter AVP 444 (Subscription-Id-Data)",
    (2, 460): "Diameter AVP 460 (User-Equipment-Info-Value)",
    (2, 1402): "Diameter AVP 1402 (IMEI)", (2, 1403): "Diameter AVP 1403 (Software-Version)",
    (2, 1407): "Diameter AVP 1407 (Visited-PLMN-Id)",
    (3, 2): "MAP updateLocation", (3, 23): "MAP updateGprsLocation",
    (3, 56): "MAP sendAuthenticationInfo", (3, 43): "MAP checkIMEI",
    (3, 70): "MAP provideSubscriberInfo", (3, 71): "MAP anyTimeInterrogation",
    (4, 0x48): "TCAP OTID", (4, 0x49): "TCAP DTID", (4, 0x6C): "TCAP component portion",
    (4, 0xA1): "TCAP Invoke", (4, 0xA2): "TCAP ReturnResult", (4, 0xA7): "TCAP ReturnResult",
    (5, 0x09): "SCCP UDT", (5, 0x11): "SCCP XUDT", (6, 0x0210): "M3UA Protocol Data",
}
PROTOCOL_NAMES = {1: "GTPv2-C", 2: "Diameter", 3: "MAP", 4: "TCAP", 5: "SCCP", 6: "M3UA", 7: "M2PA"}


def field_name(code: int) -> str:
    proto, c = code >> 32, code & 0xFFFFFFFF
    if proto == 0:
        return ""
    if (proto, c) in FIELD_NAMES:
        return FIELD_NAMES[(proto, c)]
    if proto == 1:
        return f"GTPv2 IE {c}" if c else "GTPv2-C"
    if proto == 2:
        return f"Diameter AVP {c}" if c else "Diameter"
    name = PROTOCOL_NAMES.get(proto, f"protocol {proto}")
    if proto == 3:
        return f"MAP operation {c}"
    return f"{name} tag/type {c}" if c else name


def is_capture(head: bytes) -> bool:
    """True if ``head`` (the first bytes of a file) starts a pcap or pcapng capture."""
    return head[:4] in PCAP_MAGIC or head[:4] == PCAPNG_MAGIC


def cell_token(plmn: str, lac: int, ci: int) -> str:
    """The cell token of a decoded location: ``MCCMNC-TAC-ECI`` / ``MCCMNC-LAC-CI``.

    ``lac`` < 0 (an ECGI without a TAI) gives ``MCCMNC-ECI``; a location area without a
    cell (a MAP LAI) gives ``MCCMNC-LAC-*``; no location gives "".
    """
    if not plmn or (ci < 0 and lac < 0):
        return ""
    if ci < 0:
        return f"{plmn}-{lac}-*"
    return f"{plmn}-{ci}" if lac < 0 else f"{plmn}-{lac}-{ci}"


def _cell_codes(cells: CellDict, plmn, lac, ci) -> np.ndarray:
    """CellDict codes (-1 = no cell) of the locations, formatting each distinct one once."""
    out = np.full(len(ci), -1, np.int32)
    has = ci >= 0                    # a location area without a cell (a MAP LAI) is no cell
    if not has.any():
        return out
    p, l, c = plmn[has], lac[has].astype(np.int64), ci[has]
    pu, pinv = np.unique(p, return_inverse=True)
    key = (pinv.astype(np.int64) << 45) | ((l + 1) << 28) | c
    ku, kinv = np.unique(key, return_inverse=True)
    codes = np.empty(len(ku), np.int32)
    for j, k in enumerate(ku.tolist()):
        plmn_s = str(int(pu[k >> 45]))[1:]
        codes[j] = cells.code(cell_token(plmn_s, ((k >> 28) & 0x1FFFF) - 1, k & 0xFFFFFFF))
    out[has] = codes[kinv]
    return out


class _Source:
    """One capture, read once through a ByteSource: sniffed, then read as pcap (Cython) or
    pcapng (scapy)."""

    def __init__(self, src, name=None):
        self.src = open_source(src, name, what="a capture")
        self.owned = self.src is not src
        self.name, self.size, self.compressed = self.src.name, self.src.size, self.src.gzipped
        self.fh = self.src
        head = self.src.peek(4)
        if len(head) == 0:
            self.close()
            if self.src.problem:
                raise InputError(f"{self.name}: {self.src.problem[0]} ({self.src.problem[1]}) "
                                 "before the capture header")
            raise EmptyInputError(f"{self.name}: empty file (no capture header, no packets)")
        if len(head) < 4:
            self.close()
            raise InputError(f"{self.name}: not a capture (too short for a pcap header)")
        if head in PCAP_MAGIC:
            self.format = "pcap"
        elif head == PCAPNG_MAGIC:
            self.format = "pcapng"
        else:
            self.close()
            raise InputError(f"{self.name}: not a pcap or pcapng capture "
                             f"(starts with {head.hex()}); export the capture as pcap or pcapng")
        self.head = head

    def position(self) -> int:
        """Bytes of the input consumed so far (for progress)."""
        return self.src.raw_pos

    def close(self):
        if self.owned:
            self.src.close()


class _Reader:
    """Shared state of one read: the sink, the policy, the counts, the rejects."""

    def __init__(self, cells, stats, rejects, on_bad_records, counts):
        self.cells = cells if cells is not None else CellDict()
        self.stats = stats if stats is not None else ReadStats()
        self.rejects = rejects
        self.policy = check_policy(on_bad_records)
        self.bad = BadRecords(on_bad_records, rejects, self.stats)
        self.counts = counts if counts is not None else collections.Counter()
        self.sink = _sigdecode.Sink(1 << 16)
        self._last_counts = np.zeros(len(COUNT_NAMES), np.int64)
        self.keep_rows = None      # a list: decode_signaling keeps the raw rows here

    def reject(self, src, packet, offset, reason, field="", record=None, detail=None):
        """One bad packet (or damaged stretch) at ``offset``; ``packet``: 0-based number."""
        self.bad.reject(src.name, reason, detail or f"packet {packet + 1}", offset=offset,
                        field=field or None,
                        record=f"packet {packet + 1}" + (f": {record.hex()}" if record else ""))

    def drain_rejects(self, src, packet_bytes):
        """Write the sink's rejects (while their packets are still in memory) and forget them."""
        s = self.sink
        for pkt, off, reason, fld in s.rejects():
            self.reject(src, pkt, off, REASONS[reason], field_name(fld), packet_bytes(pkt, off))
        s.nrej = 0

    def flush(self, src) -> EventBatch | None:
        """Turn the sink's rows into an EventBatch, add up the counts; clear the sink."""
        s = self.sink
        diff = s.counts - self._last_counts
        self._last_counts = s.counts.copy()
        for name, v in zip(COUNT_NAMES, diff.tolist()):
            if v:
                self.counts[name] += v
        self.stats.records += int(diff[0])
        self.stats.accepted += int(diff[1])
        self.stats.skipped += int(sum(diff[COUNT_NAMES.index(k)] for k in SKIP_COUNTS))
        n = s.n
        if n == 0:
            return None
        rows = s.rows()
        s.clear()
        if self.keep_rows is not None:
            self.keep_rows.append(rows)
        source = _SOURCE_OF_KIND[rows["kind"]]
        return EventBatch({
            "rtype": np.full(n, int(RecordType.ATTACH), np.uint8), "time": rows["time"],
            "imsi": rows["imsi"], "imei": rows["imei"], "msisdn": rows["msisdn"],
            "other": source,
            "duration": np.where((source > 0) & (rows["lac"] >= 0), rows["lac"] + 1,
                                 0).astype(np.int32),
            "cell": _cell_codes(self.cells, rows["plmn"], rows["lac"], rows["ci"]),
        }, source=src.name)

    # -- classic pcap, walked in Cython ------------------------------------------------
    def read_pcap(self, src, chunk_packets, progress) -> Iterator[EventBatch]:
        hdr = src.fh.read(24)
        if len(hdr) < 24:
            raise InputError(f"{src.name}: truncated pcap file header ({len(hdr)} of 24 bytes)")
        swapped = PCAP_MAGIC[src.head]
        snaplen, linktype = struct.unpack((">" if swapped else "<") + "II", hdr[16:24])
        linktype &= 0xFFFF
        max_record = max(min(snaplen, MAX_RECORD), 1 << 18)
        frac = 10 ** 9 if src.head in NANO_MAGIC else 10 ** 6
        buf, base, pos, packet, since = b"", 24, 0, 0, 0     # base: file offset of buf[0]
        damage = None           # offset where unreadable bytes began (while resynchronising)
        self.sink.last_time = self.sink.prev_time = -1
        pos_prog = src.position()

        def packet_bytes(pkt, off):
            return bytes(buf[off - base + 16: off - base + 16 + 64]) if off >= base else None

        while True:
            data = src.fh.read(BLOCK)
            final = not data
            if pos:
                buf, base, pos = buf[pos:], base + pos, 0
            buf = buf + data if buf else data
            while True:
                if damage is not None:
                    pos, found = _sigdecode.find_record(buf, pos, swapped, max_record, frac, final,
                                                        self.sink.last_time, RESYNC_WINDOW)
                    if not found and not final:
                        break                  # search on once more bytes are in
                    self._passed_over(src, packet, damage, base + pos, found)
                    damage = None
                    self.sink.prev_time = -1
                    if not found:
                        break
                pos, n, bad = _sigdecode.walk_records(self.sink, buf, pos, swapped, linktype,
                                                      packet, base, chunk_packets - since,
                                                      max_record, frac)
                packet += n
                since += n
                self.drain_rejects(src, packet_bytes)
                if bad:
                    damage, pos = base + pos, pos + 1
                    continue
                if since < chunk_packets:
                    break                      # the block holds no further complete record
                batch = self.flush(src)
                since = 0
                if batch is not None:
                    yield batch
            now = src.position()
            progress(now - pos_prog, total=src.size)
            pos_prog = now
            if final:
                self._end(src, packet, base + pos, len(buf) - pos)
                batch = self.flush(src)
                if batch is not None:
                    yield batch
                return

    def _passed_over(self, src, packet, start, stop, found):
        """A damaged stretch ``start..stop`` (file offsets) passed over: one rejected record."""
        self.stats.records += 1
        self.stats.skipped_bytes += stop - start
        where = (f"to the next plausible record at byte {stop:,}" if found
                 else "to the end of the capture, no plausible record after them")
        self.reject(src, packet, start, BAD_HEADER,
                    detail=f"{stop - start:,} bytes passed over {where}")

    def _end(self, src, packet, offset, left):
        """The end of a capture: a record cut by it, or a damaged gzip stream, is one reject."""
        problem = src.src.problem
        if not left and problem is None:
            return
        self.stats.records += 1
        if problem is not None:
            reason, detail = problem
            if left:
                detail += f"; {left:,} bytes of a packet record left"
        else:
            reason, detail = "capture ends inside a packet record", f"{left:,} bytes left"
        self.reject(src, packet, offset, reason, detail=detail)

    @staticmethod
    def _pcapng_tail(src, reader, last):
        """RawPcapNgReader stops silently at a cut block: find one after the last packet."""
        fh = src.src.mappable()            # a plain regular file: walked again by offset
        if fh is None or src.size is None:
            return None
        try:
            return _pcapng_tail_check(fh, last, src.size, reader.endian)
        except (OSError, ValueError, struct.error):
            return None

    # -- pcapng, blocks read by scapy ----------------------------------------------------
    def read_pcapng(self, src, chunk_packets, progress) -> Iterator[EventBatch]:
        from scapy.utils import RawPcapNgReader  # lazy: scapy (~1 s), for pcapng only
        try:
            reader = RawPcapNgReader(src.fh)
        except Exception as exc:  # scapy raises Scapy_Exception / struct.error on a bad header
            raise InputError(f"{src.name}: unreadable pcapng section header: {exc}") from exc
        packet, since, pos_prog = 0, 0, src.position()
        datas, times, links, cuts, offs = [], [], [], [], []
        state = {}

        def packet_bytes(pkt, off):
            i = pkt - state["first"]
            return bytes(datas[i][:64]) if 0 <= i < len(datas) else None

        def decode():
            state["first"] = packet - len(datas)
            lens = np.fromiter((len(d) for d in datas), np.int64, len(datas))
            ends = np.cumsum(lens)
            _sigdecode.decode_packets(self.sink, b"".join(datas), ends - lens, ends,
                                      np.array(links, np.int32), np.array(times, np.int64),
                                      np.array(cuts, np.uint8), np.array(offs, np.int64),
                                      state["first"])
            self.drain_rejects(src, packet_bytes)

        last = src.fh.tell()
        while True:
            try:
                data, meta = reader._read_packet()
            except EOFError:
                break
            except Exception as exc:  # a malformed block: scapy cannot go on either
                self.stats.records += 1
                self.reject(src, packet, last, "unreadable pcapng block",
                            detail=f"{exc}; rest of the file skipped")
                break
            tsresol = meta.tsresol or 1000000
            datas.append(data)
            times.append(((meta.tshigh << 32) | meta.tslow) // tsresol)
            links.append(meta.linktype)
            cuts.append(len(data) < (meta.wirelen or 0))
            offs.append(last)
            last = src.fh.tell()
            packet += 1
            since += 1
            if len(datas) >= DECODE_PACKETS or since >= chunk_packets:
                decode()
                if since >= chunk_packets:
                    batch = self.flush(src)
                    since = 0
                    if batch is not None:
                        yield batch
                datas, times, links, cuts, offs = [], [], [], [], []
                now = src.position()
                progress(now - pos_prog, total=src.size)
                pos_prog = now
        if datas:
            decode()
        left = self._pcapng_tail(src, reader, last)
        if left:
            self.stats.records += 1
            self.reject(src, packet, left[0], "capture ends inside a pcapng block",
                        detail=f"{left[1]} bytes left")
        elif src.src.problem is not None:
            self.stats.records += 1
            self.reject(src, packet, last, *src.src.problem[:1], detail=src.src.problem[1])
        batch = self.flush(src)
        if batch is not None:
            yield batch
        progress(src.position() - pos_prog, total=src.size)


def check_captures(paths) -> None:
    """InputError naming the first file (folders: each file in them) that is not a capture.

    Standard input (``-``), FIFOs and file objects are not looked at here (they can be
    read only once): they are checked when read."""
    for p in _as_list(paths):
        if not isinstance(p, (str, os.PathLike)):
            continue                                   # file objects are checked when read
        if os.path.isdir(p):
            files = [os.path.join(r, f) for r, _, fs in os.walk(p) for f in fs if not f.startswith(".")]
            check_captures(sorted(files))
            continue
        if os.fspath(p) == STDIN or (os.path.exists(p) and not os.path.isfile(p)):
            continue                                   # a pipe is read once: checked when read
        _Source(p).close()


def sniff_capture(head: bytes, gzipped: bool) -> bool:
    """``open_events`` format table: is this content (inflated if gzip) a capture?"""
    return is_capture(head)


def read_capture_format(source, *, name, columns, cells, stats, rejects, on_bad_records,
                        chunk_rows, progress):
    """``open_events`` format table: the capture's attach events (``columns`` is for CSV only)."""
    return read_signaling_events(source, cells=cells, stats=stats, rejects=rejects,
                                 on_bad_records=on_bad_records, chunk_packets=chunk_rows,
                                 progress=progress, name=name)


def _pcapng_tail_check(fh, pos, size, endian):
    """(offset, bytes) of a block cut by the end of the file, walking blocks from ``pos``; or None."""
    while pos < size:
        fh.seek(pos)
        head = fh.read(8)
        blen = struct.unpack(endian + "I", head[4:8])[0] if len(head) == 8 else 0
        if len(head) < 8 or blen < 12 or pos + blen > size:
            return pos, size - pos
        pos += blen
    return None


def _as_list(paths):
    if isinstance(paths, (str, os.PathLike)) or hasattr(paths, "read"):
        return [paths]
    return list(paths)


def read_signaling_events(paths, *, cells: CellDict | None = None, stats: ReadStats | None = None,
                          rejects=None, on_bad_records: str = "skip",
                          chunk_packets: int = 1_000_000, progress=None,
                          counts: collections.Counter | None = None,
                          name: str | None = None) -> Iterator[EventBatch]:
    """Yield ``ATTACH`` event batches from one or many captures, streamed.

    ``paths``: a path, a binary file object, or a list of them (pcap, pcapng, gzip of
    either).  ``cells``: the run's :class:`CellDict` (cell tokens are added to it).
    ``stats``: a :class:`ReadStats` the counts are added to (records = packets,
    accepted = events, skipped = packets and messages set aside).  ``rejects``: a
    :class:`RejectsWriter`.  ``on_bad_records="error"`` raises :class:`ParseError` at
    the first truncated or malformed packet.  ``chunk_packets``: packets per batch.
    ``progress(advance_bytes, total=file_bytes)``.  ``counts``: a Counter that gets the
    detailed counts (``COUNT_NAMES``).  ``name``: the file name to report for a single
    file object.
    """
    if not isinstance(chunk_packets, int) or chunk_packets < 1:
        raise ConfigError(f"chunk_packets must be a positive integer, not {chunk_packets!r}")
    reader = _Reader(cells, stats, rejects, on_bad_records, counts)
    progress = as_progress(progress)
    for p in _as_list(paths):
        src = _Source(p, name)
        try:
            reader.stats.files += 1
            read = reader.read_pcap if src.format == "pcap" else reader.read_pcapng
            before = reader.stats.records
            yield from read(src, chunk_packets, progress)
            reader.stats.bytes += src.position()
            if reader.stats.records == before:
                raise EmptyInputError(f"{src.name}: the capture holds no packets")
        finally:
            src.close()


def decode_signaling(paths, *, on_bad_records: str = "skip", rejects=None,
                     stats: ReadStats | None = None, counts=None):
    """All attach messages of the captures as a DataFrame, with every decoded field.

    Columns: ``packet`` (0-based, per file), ``kind`` (gtpv2_csr, s6a_ulr, gx_ccr, map_ul,
    map_ugl, map_sai, map_check_imei, map_psi, map_ati), ``source`` (:data:`SOURCE_NAMES`),
    ``time``, ``imsi``, ``imei``, ``msisdn`` (digit strings), ``plmn``, ``lac``
    (TAC/LAC, -1 none), ``ci`` (ECI/CI, -1 none), ``cell_id`` (token), ``rat``, ``node``
    (MAP: VLR / SGSN number), ``status`` (MAP CheckIMEI equipment status, -1 none), ``file``.
    For inspection and tests; meant for captures that fit in memory.
    """
    import pandas as pd  # lazy: ~0.4 s, only for this DataFrame
    frames = []
    reader = _Reader(None, stats, rejects, on_bad_records, counts)
    for p in _as_list(paths):
        src = _Source(p)
        reader.stats.files += 1
        rows = reader.keep_rows = []
        try:
            read = reader.read_pcap if src.format == "pcap" else reader.read_pcapng
            for _ in read(src, 1 << 30, NO_PROGRESS):
                pass
        finally:
            src.close()
        cols = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]} if rows else \
            {k: np.empty(0, np.int64) for k in ("time", "imsi", "imei", "msisdn", "plmn", "lac",
                                                  "ci", "kind", "rat", "packet", "node",
                                                  "status")}
        df = pd.DataFrame({
            "packet": cols["packet"].astype(np.int64),
            "kind": [KIND_NAMES.get(int(k), "") for k in cols["kind"]],
            "time": cols["time"].astype(np.int64),
            "imsi": decode_array(cols["imsi"]), "imei": decode_array(cols["imei"]),
            "msisdn": decode_array(cols["msisdn"]), "plmn": decode_array(cols["plmn"]),
            "lac": cols["lac"].astype(np.int64), "ci": cols["ci"].astype(np.int64),
            "rat": cols["rat"].astype(np.int64),
            "source": [SOURCE_NAMES[_SOURCE_OF_KIND[int(k)]] for k in cols["kind"]],
            "node": decode_array(cols["node"]), "status": cols["status"].astype(np.int64),
        })
        df["cell_id"] = [cell_token(p_, l_, c_) for p_, l_, c_ in
                         zip(df["plmn"], df["lac"].tolist(), df["ci"].tolist())]
        df["file"] = src.name
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
