"""Long lines, fields and names (issue 14.2): the 1 MiB record limit holds whatever the
buffer size, messages stay one short line, and memory stays bounded."""
import io
import pathlib
import sys
import tracemalloc

import numpy as np
import pytest

from simbox.errors import ParseError
from simbox.fastpath import csvread
from simbox.fastpath.aggregate import _ranks
from simbox.fastpath.csvref import read_reference
from test_csvread import GOOD_ROW, HEADER, read

MIB = 1 << 20
ROOT = pathlib.Path(__file__).resolve().parents[2]


def long_row(n: int) -> bytes:
    """A row whose cell_id is ``n`` bytes."""
    return GOOD_ROW[:GOOD_ROW.rindex(b",") + 1] + b"c" * n + b"\n"


@pytest.mark.parametrize("chunk_bytes", [16 * MIB, 64 << 10], ids=["whole in buffer", "cut"])
@pytest.mark.parametrize("mapped", [False, True])
def test_3mib_cell_id_is_too_long(tmp_path, monkeypatch, chunk_bytes, mapped):
    monkeypatch.setattr(csvread, "MAP_MIN", 0 if mapped else 1 << 62)
    data = HEADER + GOOD_ROW + long_row(3 * MIB) + GOOD_ROW * 2
    p = tmp_path / "long.csv"
    p.write_bytes(data)
    batch, stats, cells, rows = read(str(p), chunk_bytes=chunk_bytes, name="long.csv",
                                     rejects_path=tmp_path / "r.csv")
    ref_rows, ref_rejects, _ = read_reference(data)
    assert len(batch) == len(ref_rows) == 3
    assert ref_rejects == [(3, None, "record too long")]
    assert dict(stats.rejected) == {"record too long": 1} and stats.records == 4
    assert [(r["line"], r["byte_offset"], r["reason"]) for r in rows] == [
        ("3", str(len(HEADER + GOOD_ROW)), "record too long")]
    assert len(rows[0]["record"]) <= 2000 + 40
    detail = "longer than 1,048,576 bytes"          # whatever the buffering
    assert rows[0]["detail"] == detail
    with pytest.raises(ParseError) as e:
        read(str(p), chunk_bytes=chunk_bytes, name="long.csv", on_bad_records="error")
    assert str(e.value) == f"long.csv:3: record too long ({detail})"


@pytest.mark.parametrize("mapped", [False, True])
def test_long_last_line_without_newline_is_too_long_not_a_field_count(tmp_path, monkeypatch,
                                                                      mapped):
    monkeypatch.setattr(csvread, "MAP_MIN", 0 if mapped else 1 << 62)
    p = tmp_path / "noeol.csv"
    p.write_bytes(HEADER + GOOD_ROW * 3 + b"9" * (5 * MIB))
    batch, stats, _, rows = read(str(p), name="noeol.csv", chunk_bytes=1 * MIB,
                                 rejects_path=tmp_path / "r.csv")
    assert len(batch) == 3 and dict(stats.rejected) == {"record too long": 1}
    assert (rows[0]["line"], rows[0]["detail"]) == ("5", "longer than 1,048,576 bytes")


def test_a_record_just_at_the_limit_is_kept_whatever_the_buffer(monkeypatch):
    monkeypatch.setattr(csvread, "MAX_RECORD", 4096)
    row = long_row(4096 - len(long_row(0)) + 1)
    assert len(row) - 1 == 4096
    for chunk in (1000, 4096, 4097, 1 << 16):
        batch, stats, _, _ = read(io.BytesIO(HEADER + row + long_row(5000) + GOOD_ROW),
                                  chunk_bytes=chunk)
        assert (len(batch), dict(stats.rejected)) == (2, {"record too long": 1}), chunk


def test_messages_cut_long_values():
    bad = b"1" * 5000
    data = HEADER + GOOD_ROW.replace(b"460001234567890", bad)
    with pytest.raises(ParseError) as e:
        read(io.BytesIO(data), name="f.csv", on_bad_records="error")
    assert str(e.value) == ("f.csv:2: field 'imsi': imsi is not 15 digits (value '"
                            + "1" * 40 + "... (5000 bytes)')")


def test_ranks_of_names_cost_their_size_not_longest_times_count():
    names = ["46000-%d-1" % i for i in range(1500)] + ["x" * (3 * MIB)]
    tracemalloc.start()
    r = _ranks(names)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 * MIB                       # a fixed-width array: 1501 * 3 MiB * 4 = 18 GB
    ref = np.empty(len(names), np.int32)
    ref[sorted(range(len(names)), key=lambda i: names[i])] = np.arange(len(names))
    assert (r == ref).all()


def test_ranks_match_a_fixed_width_sort():
    rng = np.random.default_rng(3)
    names = ["".join(rng.choice(list("ab\u00e9Z9-"), rng.integers(0, 6))) for _ in range(3000)]
    ref = np.empty(len(names), np.int32)
    ref[np.argsort(np.asarray(names, dtype=str), kind="stable")] = np.arange(len(names))
    assert (_ranks(names) == ref).all() and (_ranks(np.array(names, dtype=object)) == ref).all()


@pytest.mark.parametrize("case", ["200 MB line without newline", "200 MiB cell_id field",
                                  "3 MiB cell_id among 1,500 cells",
                                  "10^6 distinct 100-byte cell names"])
def test_peak_memory_is_bounded_with_a_tight_memory_limit(tmp_path, case):
    """benchmarks/bench_long_fields.py at a tenth of its size (the full table: docs/performance.md)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_long_fields as bench
    finally:
        sys.path.pop(0)
    path = tmp_path / "case.csv"
    want = bench.CASES[case](path, 0.1)
    code, peak_mib, _, summary, err = bench.run(path, tmp_path / "f.parquet", "16MB")
    assert code == 0, err
    assert summary["accepted"] == want["kept"]
    assert summary["rejected_by_reason"] == want["rejected"]
    assert peak_mib < 250, f"{case}: peak {peak_mib:.0f} MiB"
