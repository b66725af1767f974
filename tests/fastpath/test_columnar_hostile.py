"""Hostile columnar files (a 200 MiB value, row groups of one row, a million distinct long
cell ids) and the feature table of one network read from CSV, Parquet (string and
vendor-typed columns, dictionary-encoded or not) and ORC."""
import csv
import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from simbox.errors import ParseError
from simbox.fastpath.events import EventBatch
from simbox.fastpath.readers import open_events
from simbox.fastpath.stats import ReadStats, RejectsWriter
from simbox.features import compute_features

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "cdrs.csv.gz"
HEADER = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party", "duration_s",
          "cell_id"]
GOOD = ["MOC", "2026-03-01T12:00:01Z", "460001234567891", "35678901234567", "8613800000001",
        "8613912345678", "1", "46000-1234-56789"]

# one read in a process of its own: its counts and its peak RSS
READ = """
import json, sys
from simbox.fastpath.readers import open_events
from simbox.fastpath.stats import ReadStats

def hwm():  # peak RSS of this process (VmHWM: not inherited over exec, unlike ru_maxrss)
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:")) / 1024

st = ReadStats()
base = hwm()
for b in open_events(sys.argv[1], stats=st):
    b.recycle()
print(json.dumps({"stats": st.as_dict(), "peak_mib": hwm(), "base_mib": base}))
"""


def read_alone(path) -> dict:
    p = subprocess.run([sys.executable, "-c", READ, str(path)], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def table(rows):
    return pa.table({h: pa.array([r[i] for r in rows], pa.string()) for i, h in enumerate(HEADER)})


def events(path, **kw):
    stats = ReadStats()
    b = EventBatch.concat(open_events(path, stats=stats, **kw))
    return b, stats


@pytest.mark.slow
def test_a_200_mib_value_is_one_rejected_record(tmp_path):
    big = "4" * (200 << 20)
    rows = [GOOD] * 3
    p = tmp_path / "big.parquet"
    pq.write_table(table(rows[:1] + [GOOD[:5] + [big] + GOOD[6:]] + rows[1:]), p)
    del big
    rej = tmp_path / "rejects.csv"
    with RejectsWriter(rej) as w:
        got, st = events(p, rejects=w)
    assert (st.records, st.accepted, dict(st.rejected)) == (4, 3, {"record too long": 1})
    row = next(csv.DictReader(open(rej)))          # as the CSV reader says it
    assert (row["line"], row["field"], row["detail"]) == \
        ("row group 0, row 1", "", "longer than 1,048,576 bytes")
    assert row["record"].startswith("MOC,2026-03-01T12:00:01Z,460001234567891,35678901234567,"
                                    "8613800000001,4444") and len(row["record"]) < 3000
    with pytest.raises(ParseError) as e:
        list(open_events(p, on_bad_records="error"))
    assert str(e.value) == f"{p}:row group 0, row 1: record too long (longer than 1,048,576 bytes)"
    alone = read_alone(p)
    # the value is held a few times over (column chunk, page, column), never more
    assert alone["peak_mib"] - alone["base_mib"] < 5 * 200, alone
    assert alone["stats"]["rejected_by_reason"] == {"record too long": 1}


def test_row_groups_of_one_row(tmp_path):
    rows = [GOOD[:2] + [f"46000123456{i:04d}"] + GOOD[3:] for i in range(400)]
    rows[300] = GOOD[:1] + ["2026-03-01 25:00:05"] + GOOD[2:]
    p = tmp_path / "ones.parquet"
    pq.write_table(table(rows), p, row_group_size=1)
    assert pq.ParquetFile(p).num_row_groups == 400
    rej = tmp_path / "rejects.csv"
    with RejectsWriter(rej) as w:
        got, st = events(p, rejects=w)
    assert (st.records, st.accepted) == (400, 399)
    assert [r["line"] for r in csv.DictReader(open(rej))] == ["row group 300, row 0"]
    c = tmp_path / "ones.csv"
    c.write_text("\n".join([",".join(HEADER)] + [",".join(r) for r in rows]) + "\n")
    ref, _ = events(c)
    for k, v in ref.columns().items():
        np.testing.assert_array_equal(got.columns()[k], v, err_msg=k)
    assert len(got.time) == 399 and len({int(x) for x in got.imsi}) == 399


@pytest.mark.slow
def test_a_million_distinct_long_cell_ids(tmp_path):
    n = 1_000_000
    i = np.arange(n)
    cells = pa.array([f"46000-{k:07d}-" + "9" * 48 for k in range(n)])
    t = pa.table({"record_type": pa.array(["MOC"] * n).dictionary_encode(),
                  "start_time": pa.array(1772366400 + i, pa.int64()).cast(pa.timestamp("s", "UTC")),
                  "imsi": pa.array(460001000000000 + i % 50_000, pa.int64()),
                  "imei": pa.nulls(n, pa.string()), "msisdn": pa.nulls(n, pa.string()),
                  "other_party": pa.nulls(n, pa.string()),
                  "duration_s": pa.array(i % 100, pa.int32()), "cell_id": cells})
    p = tmp_path / "cells.parquet"
    pq.write_table(t, p, row_group_size=200_000)
    got, st = events(p)
    assert (st.records, st.accepted) == (n, n)
    codes = np.sort(got.cell)
    assert codes[0] == 0 and codes[-1] == n - 1 and (np.diff(codes) == 1).all()
    alone = read_alone(p)
    # the cell table (a million tokens of 62 characters) and a row group, not the file twice
    assert alone["peak_mib"] - alone["base_mib"] < 700, alone


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """The sample network as CSV and in every columnar layout."""
    d = tmp_path_factory.mktemp("formats")
    import pyarrow.csv as pcsv
    t = pcsv.read_csv(SAMPLE, convert_options=pcsv.ConvertOptions(
        column_types={h: pa.string() for h in HEADER}, strings_can_be_null=False))
    paths = {"csv": SAMPLE}
    pq.write_table(t, d / "plain.parquet", row_group_size=25_000, use_dictionary=False)
    pq.write_table(t, d / "dict.parquet", row_group_size=25_000)
    pq.write_table(t.cast(pa.schema([(h, pa.large_string()) for h in HEADER])),
                   d / "large.parquet", row_group_size=40_000)
    typed = pa.table({
        "record_type": t["record_type"],
        "start_time": pa.array(pd.to_datetime(t["start_time"].to_pandas(), utc=True))
        .cast(pa.timestamp("us", tz="UTC")),
        "imsi": t["imsi"].cast(pa.int64()),
        "imei": pa.array([int(v) if v else None for v in t["imei"].to_pylist()], pa.int64()),
        "msisdn": t["msisdn"], "other_party": t["other_party"],
        "duration_s": t["duration_s"].cast(pa.int32()), "cell_id": t["cell_id"]})
    pq.write_table(typed, d / "typed.parquet", row_group_size=30_000)
    orc.write_table(t, d / "snappy.orc", compression="snappy", stripe_size=1 << 20)
    for name in ("plain.parquet", "dict.parquet", "large.parquet", "typed.parquet", "snappy.orc"):
        paths[name] = d / name
    return paths


@pytest.mark.parametrize("name", ["plain.parquet", "dict.parquet", "large.parquet",
                                  "typed.parquet", "snappy.orc"])
def test_feature_tables_equal_the_csv_ones(network, name):
    ref = compute_features(network["csv"])
    got = compute_features(network[name])
    pd.testing.assert_frame_equal(ref.features, got.features)
    assert {k: v for k, v in got.stats.as_dict().items() if k != "bytes"} == \
        {k: v for k, v in ref.stats.as_dict().items() if k != "bytes"}


def test_a_record_too_long_leaves_the_others_rows_where_they_are(tmp_path, monkeypatch):
    from simbox.fastpath import columnar, columnar_values
    monkeypatch.setattr(columnar, "MAX_RECORD", 300)
    monkeypatch.setattr(columnar_values, "MAX_RECORD", 300)
    rows = [GOOD] * 6
    rows[1] = GOOD[:7] + ["46000-" + "7" * 400]      # too long: a cell token too
    rows[2] = GOOD[:5] + ["5" * 400] + GOOD[6:]
    rows[4] = GOOD[:2] + ["46000123456789X"] + GOOD[3:]
    p = tmp_path / "long.parquet"
    pq.write_table(table(rows), p)
    rej = tmp_path / "rejects.csv"
    with RejectsWriter(rej) as w:
        got, st = events(p, rejects=w)
    assert (st.records, st.accepted) == (6, 3)
    assert [(r["line"], r["reason"]) for r in csv.DictReader(open(rej))] == [
        ("row group 0, row 1", "record too long"), ("row group 0, row 2", "record too long"),
        ("row group 0, row 4", "imsi is not 15 digits")]


@pytest.mark.parametrize("name", ["snappy.orc", "dict.parquet"])
def test_a_file_object_reads_as_its_path(network, name):
    ref, rs = events(network[name])
    with open(network[name], "rb") as f:
        got, gs = events(f)
    assert (gs.records, gs.accepted) == (rs.records, rs.accepted)
    for k, v in ref.columns().items():
        np.testing.assert_array_equal(got.columns()[k], v, err_msg=k)
