"""Writers of a simulated network: the canonical CSV files, and a table of formats.

:data:`WRITERS` maps a format name (``simulate(..., format=...)``) to a function
``write(network, out_dir, progress=None) -> dict[name, Path]`` that writes the
CDRs in that format; the reference tables (``cells.csv``, ``tac.csv``,
``truth.csv``, ``labels.csv``, ``deployments.csv``) are always written as CSV.
Other formats (3GPP BER, signaling pcap) register themselves with
:func:`register_writer`; the attach events have their own table.

CSV text is built column-wise with pyarrow compute kernels and compressed with
ISA-L, chunk by chunk; gzip headers carry no time or name, so the same network
gives byte-identical files.
"""
from __future__ import annotations

import pathlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simbox.fastpath.events import RECORD_TYPE_NAMES

CDR_HEADER = "record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
ATTACH_HEADER = "time,imsi,imei,msisdn,cell_id\n"
CHUNK = 500_000

WRITERS: dict = {}             # CDR formats: simulate(..., format=name)
SIGNALING_WRITERS: dict = {}   # attach events: simulate(..., signaling=name)


def register_writer(name: str, func, *, signaling: bool = False) -> None:
    """Register ``func(network, out_dir, progress) -> {name: Path}``.

    A CDR writer by default (``simulate(..., format=name)``), an attach-event
    writer with ``signaling=True`` (``simulate(..., signaling=name)``; a writer
    named ``pcap`` becomes the default of ``signaling=True``).
    """
    (SIGNALING_WRITERS if signaling else WRITERS)[name] = func


def _digits(codes: np.ndarray) -> pa.Array:
    """Digit strings of digits codes ("" for 0) as a pyarrow string array."""
    s = pc.cast(pa.array(codes, pa.int64()), pa.string())
    s = pc.utf8_slice_codeunits(s, 1)
    return s   # code 0 -> "0" -> sliced to ""


def _timestamps(t: np.ndarray) -> pa.Array:
    """ISO-8601 UTC strings ``YYYY-MM-DDTHH:MM:SSZ`` of epoch seconds (fixed width)."""
    t = np.asarray(t, np.int64)
    day = t // 86400
    sod = t - day * 86400
    days = np.unique(day)
    dates = np.array([np.datetime_as_string(np.datetime64(int(d), "D")) for d in days], "S10")
    buf = np.empty((len(t), 20), np.uint8)
    buf[:, :10] = dates.view(np.uint8).reshape(-1, 10)[np.searchsorted(days, day)]
    buf[:, 10] = ord("T")
    h, rem = np.divmod(sod, 3600)
    mi, se = np.divmod(rem, 60)
    for col, v in ((11, h), (14, mi), (17, se)):
        buf[:, col] = 48 + v // 10
        buf[:, col + 1] = 48 + v % 10
    buf[:, 13] = buf[:, 16] = ord(":")
    buf[:, 19] = ord("Z")
    offsets = pa.array(np.arange(0, 20 * len(t) + 1, 20, dtype=np.int32))
    return pa.StringArray.from_buffers(len(t), offsets.buffers()[1], pa.py_buffer(buf.tobytes()))


def _lines(columns) -> bytes:
    """CSV text of string columns (no quoting needed: digits, fixed tokens)."""
    line = pc.binary_join_element_wise(*columns, ",")
    line = pc.binary_join_element_wise(line, pa.scalar(""), "\n")
    line = line.combine_chunks() if isinstance(line, pa.ChunkedArray) else line
    offsets = np.frombuffer(line.buffers()[1], np.int32)[line.offset: line.offset + len(line) + 1]
    data = line.buffers()[2]
    return data.to_pybytes()[offsets[0]: offsets[-1]]


def _gzip_writer(path):
    from isal import igzip  # lazy: isal only when writing .gz
    raw = open(path, "wb")
    return igzip.IGzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0), raw


def cdr_csv_bytes(net, start: int, stop: int) -> bytes:
    c = net.cdrs
    sl = slice(start, stop)
    rtype = pa.array(np.array(RECORD_TYPE_NAMES, dtype=object)[c.rtype[sl]], pa.string())
    cell_tokens = pa.array(net.cells["cell_id"].to_numpy(dtype=object)[c.cell[sl]], pa.string())
    dur = pc.cast(pa.array(c.duration[sl]), pa.string())
    return _lines([rtype, _timestamps(c.time[sl]), _digits(c.imsi[sl]), _digits(c.imei[sl]),
                   _digits(c.msisdn[sl]), _digits(c.other[sl]), dur, cell_tokens])


def write_cdrs_csv(net, out_dir, progress=None, name="cdrs.csv.gz"):
    """``cdrs.csv.gz``: the canonical CDR CSV of DESIGN.md, gzip."""
    path = pathlib.Path(out_dir) / name
    n = len(net.cdrs)
    gz, raw = _gzip_writer(path)
    try:
        gz.write(CDR_HEADER.encode())
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            gz.write(cdr_csv_bytes(net, start, stop))
            if progress:
                progress(stop - start)
    finally:
        gz.close()
        raw.close()
    return {"cdrs": path}


def write_attaches_csv(net, out_dir, progress=None):
    """``attaches.csv.gz``: attach / location-update events (time, imsi, imei, msisdn, cell)."""
    path = pathlib.Path(out_dir) / "attaches.csv.gz"
    a = net.attaches
    gz, raw = _gzip_writer(path)
    try:
        gz.write(ATTACH_HEADER.encode())
        for start in range(0, len(a), CHUNK):
            sl = slice(start, min(len(a), start + CHUNK))
            cells = pa.array(net.cells["cell_id"].to_numpy(dtype=object)[a.cell[sl]], pa.string())
            gz.write(_lines([_timestamps(a.time[sl]), _digits(a.imsi[sl]), _digits(a.imei[sl]),
                             _digits(a.msisdn[sl]), cells]))
    finally:
        gz.close()
        raw.close()
    return {"attaches": path}


def _csv(df, path):
    # lineterminator fixed, floats as written by the generator (already rounded)
    df.to_csv(path, index=False, lineterminator="\n")
    return path


def write_tables(net, out_dir) -> dict:
    """The reference tables, always CSV."""
    out = pathlib.Path(out_dir)
    return {
        "cells": _csv(net.cells, out / "cells.csv"),
        "tac": _csv(net.tac, out / "tac.csv"),
        "truth": _csv(net.truth, out / "truth.csv"),
        "labels": _csv(net.labels, out / "labels.csv"),
        "deployments": _csv(net.deployments, out / "deployments.csv"),
    }


register_writer("csv", write_cdrs_csv)
register_writer("csv", write_attaches_csv, signaling=True)


def _write_signaling_pcap(net, out_dir, progress=None):
    """``signaling.pcap``: the attaches as GTPv2-C + Diameter S6a packets (data/pcap_writer.py)."""
    from simbox.data.pcap_writer import write_signaling  # lazy: scapy, only when writing pcap
    return write_signaling(net, out_dir, progress)


register_writer("pcap", _write_signaling_pcap, signaling=True)


def _write_cdrs_ber(net, out_dir, progress=None):
    """``cdrs/``: the CS CDRs as TS 32.297 BER files, DATA as CSV (data/ber_writer.py)."""
    from simbox.data.ber_writer import write_network  # lazy: circular (ber_writer imports writers)
    return write_network(net, out_dir, progress)


register_writer("ber", _write_cdrs_ber)
