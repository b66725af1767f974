"""The Cython CSV reader against the slow pure-Python reference, on random and mutated input."""
import csv
import gzip
import io

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from simbox.errors import EmptyInputError, SimboxError
from simbox.fastpath import CellDict, EventBatch, ReadStats, RejectsWriter
from simbox.fastpath.csvread import read_csv_events
from simbox.fastpath.csvref import read_reference

FIELDS = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party", "duration_s",
          "cell_id"]
BAD_BYTES = "\udcff\udc80\udcc3\udce2"     # lone surrogates -> invalid UTF-8 bytes

garbage = st.text(alphabet=',;"\r\n \t+-.:0123456789TZaé€😀\x00' + BAD_BYTES, max_size=12)


def digits(lo, hi):
    return st.text(alphabet="0123456789", min_size=lo, max_size=hi)


iso_time = st.builds(
    lambda y, mo, d, h, mi, s, frac, sep, zone: f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:"
                                                  f"{s:02d}{frac}{zone}",
    st.integers(1890, 2210), st.integers(0, 13), st.integers(0, 32), st.integers(0, 24),
    st.integers(0, 60), st.integers(0, 60), st.sampled_from(["", ".5", ".123456789", ".1234567890"]),
    st.sampled_from(["T", " ", "t"]),
    st.sampled_from(["Z", "", "+08:00", "-0530", "+02", "+24:00", "z", "+1"]))

field_values = {
    "record_type": st.one_of(st.sampled_from(["MOC", "MTC", "SMS_MO", "SMS_MT", "DATA"]), garbage),
    "start_time": st.one_of(iso_time, garbage),
    "imsi": st.one_of(digits(15, 15), digits(13, 17), digits(15, 15).map(lambda s: s + ".0"),
                      garbage),
    "imei": st.one_of(st.just(""), digits(12, 17), garbage),
    "msisdn": st.one_of(digits(0, 20), digits(1, 15).map(lambda s: "+" + s), garbage),
    "other_party": st.one_of(digits(0, 20), garbage),
    "duration_s": st.one_of(st.integers(-5, 200000).map(str), st.just(""),
                            st.sampled_from(["12.5", "12.49", "0.0", "172800.5", ".5", "5."]),
                            garbage),
    "cell_id": st.one_of(st.sampled_from(["46000-1-2", "46000-1-3", ""]), garbage),
}

row = st.tuples(st.tuples(*(field_values[f] for f in FIELDS)).map(list),
                st.sampled_from(["ok"] * 8 + ["drop", "add", "blank"]))


def to_bytes(rows, quoting, terminator):
    out = io.StringIO()
    w = csv.writer(out, quoting=quoting, lineterminator=terminator)
    w.writerow(FIELDS)
    for values, shape in rows:
        if shape == "blank":
            out.write(terminator)
            continue
        w.writerow(values[:-1] if shape == "drop" else values + ["x"] if shape == "add" else values)
    return out.getvalue().encode("utf-8", "surrogateescape")


def kernel(data, mapping="canonical", chunk_bytes=1 << 20, chunk_rows=1000):
    """(rows, rejects, skipped, stats) of read_csv_events in the reference's form."""
    cells, stats = CellDict(), ReadStats()

    class Collect(RejectsWriter):
        def __init__(self):
            super().__init__(None)
            self.rows = []

        def write(self, file, reason, *, line=None, byte_offset=None, field=None, record=None,
                  detail=None):
            super().write(file, reason, line=line)
            self.rows.append((line, field, reason))

    rej = Collect()
    b = EventBatch.concat(read_csv_events(io.BytesIO(data), mapping=mapping, cells=cells,
                                          stats=stats, rejects=rej, chunk_bytes=chunk_bytes,
                                          chunk_rows=chunk_rows))
    rows = [(int(r), int(t), int(i), int(e), int(m), int(o), int(d),
             cells.tokens[c] if c >= 0 else None)
            for r, t, i, e, m, o, d, c in zip(*b.columns().values())]
    assert stats.records == stats.accepted + stats.rejected_total + stats.skipped
    assert stats.accepted == len(rows) and stats.rejected_total == len(rej.rows)
    return rows, rej.rows, stats.skipped, stats


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=1, max_size=20),
       st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]), st.sampled_from(["\n", "\r\n"]),
       st.integers(1, 300), st.integers(1, 7))
def test_kernel_matches_reference(rows, quoting, terminator, chunk_bytes, chunk_rows):
    data = to_bytes(rows, quoting, terminator)
    ref_rows, ref_rejects, ref_skipped = read_reference(data)
    if all(shape == "blank" for _, shape in rows):
        with pytest.raises(EmptyInputError):
            kernel(data)
        return
    got_rows, got_rejects, got_skipped, stats = kernel(data, chunk_bytes=chunk_bytes,
                                                       chunk_rows=chunk_rows)
    assert got_rows == ref_rows
    assert got_rejects == ref_rejects
    assert got_skipped == ref_skipped
    assert stats.records == sum(shape != "blank" for _, shape in rows)


VENDOR = (b"RECORD_TYPE;SEIZURE_TIME;SERVED_IMSI;SERVED_IMEI;SERVED_MSISDN;OTHER_PARTY;"
          b"CALL_DURATION;MCCMNC;LAC;CI\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(["0", "1", "2", "6", "7", "9", ""]),
    st.one_of(st.datetimes().map(lambda d: d.strftime("%Y%m%d%H%M%S")), garbage),
    st.one_of(digits(15, 15), digits(15, 15).map(lambda s: s + ".0"), digits(15, 15).map(
        lambda s: s + ".00"), digits(14, 15).map(lambda s: s + ".1")),
    st.one_of(st.just(""), digits(14, 16).map(lambda s: s + ".0")),
    digits(0, 16), digits(0, 16), st.sampled_from(["0", "65.0", "12.5", ""]),
    st.sampled_from(["46000", ""]), st.sampled_from(["1234", "", "1;2"]), digits(0, 5)),
    min_size=1, max_size=20), st.integers(1, 200))
def test_vendor_profile_matches_reference(rows, chunk_bytes):
    data = VENDOR + b"".join(";".join(r).encode("utf-8", "surrogateescape") + b"\n" for r in rows)
    got_rows, got_rejects, got_skipped, _ = kernel(data, "msc-semicolon", chunk_bytes)
    ref_rows, ref_rejects, ref_skipped = read_reference(data, "msc-semicolon")
    assert (got_rows, got_rejects, got_skipped) == (ref_rows, ref_rejects, ref_skipped)


SEED = (b"record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
        b"MOC,2026-03-01T12:00:05Z,460001234567890,35678901234567,8613800000001,10086,65,46000-1-2\n"
        b'"MTC","2026-03-01 12:00:05.5+08:00","460001234567891",,"+86138","0049",0,"46000-""1"",2"\r\n'
        b"SMS_MO,2026-03-01T12:00:05Z,460001234567892,,8613800000001,10086,12.5,\n"
        b'DATA,2026-03-01T12:00:05Z,460001234567893,,8613800000001,,3600,"a\nb"\n')

mutation = st.tuples(st.sampled_from(["set", "insert", "delete"]), st.integers(0, len(SEED)),
                     st.one_of(st.sampled_from(b',"\r\n\x00\xff\xc3\x80.+-:ZT09 '),
                               st.integers(0, 255)))


def mutate(data, edits):
    b = bytearray(data)
    for op, pos, byte in edits:
        pos = min(pos, len(b))
        if op == "insert":
            b[pos:pos] = bytes([byte])
        elif pos < len(b):
            if op == "set":
                b[pos] = byte
            else:
                del b[pos]
    return bytes(b)


@settings(max_examples=2000, deadline=None)
@given(st.lists(mutation, min_size=1, max_size=8), st.integers(1, 120))
def test_fuzz_mutations_never_crash_and_match_reference(edits, chunk_bytes):
    data = mutate(SEED, edits)
    try:
        got_rows, got_rejects, got_skipped, _ = kernel(data, chunk_bytes=chunk_bytes)
    except SimboxError:
        return          # a destroyed header or no records: a clear error, not a crash
    ref_rows, ref_rejects, ref_skipped = read_reference(data)
    assert (got_rows, got_rejects, got_skipped) == (ref_rows, ref_rejects, ref_skipped)


GZ = gzip.compress(SEED * 3)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["set", "insert", "delete"]),
                          st.integers(0, len(GZ)), st.integers(0, 255)), min_size=1, max_size=4),
       st.integers(0, len(GZ)))
def test_fuzz_gzip_never_crashes(edits, cut):
    data = mutate(GZ, edits)[:cut or None]
    try:
        kernel(data, chunk_bytes=50)
    except SimboxError:
        pass
