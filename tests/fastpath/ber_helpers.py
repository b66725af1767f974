"""Shared helpers of the BER tests: sample events, files, and the kernel-vs-reference check."""
import io
import os
import struct
import tempfile

import numpy as np
import pandas as pd

from simbox.data import ber_writer
from simbox.fastpath import ReadStats, RejectsWriter, ber, ber_reference


def sample_events(n=3, seed=0, data_rows=False):
    """Events of the CSV contract (the first three are fixed, the rest random)."""
    fixed = pd.DataFrame(dict(
        record_type=["MOC", "SMS_MO", "MTC"], start_time=[1772366405, 1772366410, 1772366420],
        imsi=["460001234567890"] * 3, imei=["35693803197834"] * 3, msisdn=["8613800000001"] * 3,
        other_party=["0049301234", "10086", "8613800000002"], duration_s=[65, 0, 12],
        cell_id=["46000-1234-56789"] * 3))
    if n <= 3:
        return fixed.head(n).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    m = n - 3
    kinds = ["MOC", "MTC", "SMS_MO", "SMS_MT"] + (["DATA"] if data_rows else [])
    rt = rng.choice(kinds, m)
    rand = pd.DataFrame(dict(
        record_type=rt,
        start_time=rng.integers(946771200, 4102358400, m),
        imsi=[str(x) if x % 11 else str(x)[:14] for x in rng.integers(10**14, 10**15, m)],
        imei=[str(x) if x % 5 else "" for x in rng.integers(10**13, 10**16, m)],
        msisdn=[str(x) if x % 7 else "" for x in rng.integers(10**6, 10**15, m)],
        other_party=[rng.choice(["", "0049301234567", "112", "8613900000000", "0" * 18])
                     if r != "DATA" else "" for r in rt],
        duration_s=np.where(np.isin(rt, ["MOC", "MTC"]), rng.integers(0, 10**5, m), 0),
        cell_id=[rng.choice(["", "46000-1-2", "310410-65535-0", "7-8"]) for _ in range(m)]))
    return pd.concat([fixed, rand], ignore_index=True)


def ber_bytes(events, **kwargs) -> bytes:
    """The TS 32.297 file simbox's writer makes of ``events`` (kwargs: BerWriter's)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.cdr")
        ber_writer.write_ber(path, events, **kwargs)
        with open(path, "rb") as f:
            return f.read()


raw_records = ber_writer.records_without_headers


class Recorder(RejectsWriter):
    """A RejectsWriter that keeps (byte_offset, "reason (detail)", field, record hex) in memory."""

    def __init__(self):
        super().__init__(None)
        self.items = []

    def write(self, file, reason, *, line=None, byte_offset=None, field=None, record=None,
              detail=None):
        super().write(file, reason, line=line, byte_offset=byte_offset, field=field, record=record,
                      detail=detail)
        self.items.append((byte_offset, f"{reason} ({detail})" if detail else reason, field, record))


def kernel(data: bytes, **kwargs):
    """(rows, rejects, stats) from the real reader on bytes."""
    rec = Recorder()
    stats = ReadStats()
    df = ber.read_ber_records(io.BytesIO(data), rejects=rec, stats=stats, **kwargs)
    rows = [(int(r.offset), r.record_type, r.imsi, r.imei, r.msisdn, r.other_party,
             int(r.other_ton), int(r.time), int(r.seizure), int(r.answer), int(r.release),
             int(r.duration), int(r.cause), r.cell_id) for r in df.itertuples()]
    return rows, [(o, reason, field) for o, reason, field, _ in rec.items], stats


def reference(data: bytes):
    """The same, from the pure-Python reference (None if the layout is not recognised or
    the input holds no record)."""
    layout = ber.sniff(data[:ber.HEAD_BYTES])
    if layout is None:
        return None
    if layout == "ts32297":
        hl = struct.unpack_from(">I", data, 4)[0]
        if len(data) < hl:
            return [], [(0, f"truncated file ({hl} bytes needed, {len(data)} left)", "file header")], 0
        rows, rejects, skipped = ber_reference.decode_bytes(data, hl, 1)
    else:
        rows, rejects, skipped = ber_reference.decode_bytes(data, 0, 2)
    d = lambda v: str(v)[1:] if v else ""  # noqa: E731
    out = [(r["offset"], ber.RECORD_NAMES[r["kind"]], d(r["imsi"]), d(r["imei"]), d(r["msisdn"]),
            d(r["other"]), r["other_ton"], r["time"], r["seizure"], r["answer"], r["release"],
            r["duration"], r["cause"], ber.cell_token(r["cellkey"]) if r["cellkey"] >= 0 else "")
           for r in rows]
    rej = []
    for off, stop, code, field, kind, a, b, at in rejects:
        detail = ber.reason_detail(code, field, a, b, off, at)
        rej.append((off, ber.REASONS[code] + (f" ({detail})" if detail else ""),
                    ber.field_name(field, kind)))
    if not out and not rej and not skipped:
        return None         # no record at all: the reader refuses the input (EmptyInputError)
    return out, rej, skipped
