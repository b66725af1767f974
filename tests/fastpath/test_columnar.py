"""Parquet and ORC inputs (fastpath/columnar.py) against the CSV readers, and --from/--to."""
import csv
import datetime
import gzip
import pathlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from simbox.errors import ConfigError, EmptyInputError, InputError, ParseError
from simbox.fastpath.events import EventBatch
from simbox.fastpath.readers import detect_format, open_events
from simbox.fastpath.stats import ReadStats, RejectsWriter
from simbox.fastpath.window import TimeWindow, hive_window
from simbox.features import compute_features

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "cdrs.csv.gz"
CSV = ROOT / "tests" / "data" / "csv"
HEADER = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party", "duration_s",
          "cell_id"]


def as_text_table(path, sep=","):
    """The CSV file as an Arrow table of strings (empty fields null)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        header = next(csv.reader(f, delimiter=sep))
    return pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter=sep),
                         convert_options=pcsv.ConvertOptions(
                             column_types={c: pa.string() for c in header}))


def events(inputs, **kw):
    stats = ReadStats()
    b = EventBatch.concat(open_events(inputs, stats=stats, **kw))
    order = np.lexsort((b.cell, b.other, b.time, b.imsi))
    return {k: v[order] for k, v in b.columns().items() if k != "cell"}, stats


@pytest.fixture(scope="module")
def sample_table():
    return as_text_table(SAMPLE)


def test_parquet_copy_gives_the_csv_features(tmp_path, sample_table):
    p = tmp_path / "cdrs.parquet"
    pq.write_table(sample_table, p, row_group_size=40_000)
    a = compute_features(SAMPLE)
    b = compute_features(p)
    pd.testing.assert_frame_equal(a.features, b.features)
    assert a.stats.as_dict() | {"bytes": 0} == b.stats.as_dict() | {"bytes": 0}
    assert b.stats.bytes == p.stat().st_size


def test_typed_parquet_and_orc_give_the_csv_events(tmp_path, sample_table):
    t = sample_table
    typed = pa.table({
        "record_type": t["record_type"].dictionary_encode(),
        "start_time": pa.array(pd.to_datetime(t["start_time"].to_pandas(), utc=True)),
        "imsi": t["imsi"].cast(pa.int64()),
        "imei": t["imei"],
        "msisdn": t["msisdn"].cast(pa.int64()),
        "other_party": t["other_party"],
        "duration_s": t["duration_s"].cast(pa.int32()),
        "cell_id": t["cell_id"].dictionary_encode(),
    })
    pq.write_table(typed, tmp_path / "typed.parquet", row_group_size=30_000)
    import pyarrow.orc as orc
    orc.write_table(sample_table, tmp_path / "copy.orc")
    ref, rs = events(SAMPLE)
    for name in ("typed.parquet", "copy.orc"):
        got, gs = events(tmp_path / name, chunk_rows=7_000)
        assert (gs.records, gs.accepted) == (rs.records, rs.accepted)
        for k in ref:
            np.testing.assert_array_equal(got[k], ref[k], err_msg=f"{name}: {k}")
    assert detect_format(tmp_path / "copy.orc").name == "orc"
    assert detect_format(tmp_path / "typed.parquet").name == "parquet"


def test_naive_timestamps_are_wall_clock_of_the_profile(tmp_path):
    t = pa.table({"TYPE": ["MO", "GPRS"], "IMSI": ["460001234567890"] * 2,
                  "MSISDN": ["8613800000001"] * 2, "PEER": ["10086", None],
                  "CELL": ["46000-1234-56789"] * 2,
                  "START_LOCAL": pa.array([datetime.datetime(2026, 3, 1, 20, 0, 5),
                                           datetime.datetime(2026, 3, 1, 8, 0, 5)])})
    pq.write_table(t, tmp_path / "local.parquet")
    got, _ = events(tmp_path / "local.parquet", columns=str(CSV / "user_profile.json"))
    expect = [int(datetime.datetime(2026, 3, 1, h, 0, 5, tzinfo=datetime.timezone.utc).timestamp())
              for h in (0, 12)]        # +08:00 wall clock
    assert sorted(got["time"].tolist()) == expect


def test_profiled_parquet_matches_the_profiled_csv(tmp_path):
    t = as_text_table(CSV / "msc_semicolon.csv", sep=";")
    pq.write_table(t, tmp_path / "msc.parquet")
    ref, rs = events(CSV / "msc_semicolon.csv", columns="msc-semicolon")
    got, gs = events(tmp_path / "msc.parquet", columns="msc-semicolon")
    assert (gs.records, gs.accepted, gs.skipped, gs.rejected) == \
        (rs.records, rs.accepted, rs.skipped, rs.rejected)
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k)


def bad_file(path):
    good = ["MOC", "2026-03-01T12:00:01Z", "460001234567891", "35678901234567", "8613800000001",
            "8613912345678", "1", "46000-1234-56789"]
    rows = [good, good[:2] + ["46000123456789X"] + good[3:], good,
            good[:1] + ["2026-03-01 25:00:05"] + good[2:]]
    t = pa.table({h: [r[i] for r in rows] for i, h in enumerate(HEADER)})
    pq.write_table(t, path, row_group_size=2)


def test_bad_values_are_rejected_with_row_group_and_row(tmp_path):
    p = tmp_path / "bad.parquet"
    bad_file(p)
    rej = tmp_path / "rejects.csv"
    with RejectsWriter(rej) as w:
        got, st = events(p, rejects=w)
    assert (st.records, st.accepted) == (4, 2)
    assert dict(st.rejected) == {"imsi is not 15 digits": 1, "unparsable time": 1}
    rows = list(csv.DictReader(open(rej)))
    assert [(r["line"], r["field"], r["reason"], r["detail"]) for r in rows] == [
        ("row group 0, row 1", "imsi", "imsi is not 15 digits", "value '46000123456789X'"),
        ("row group 1, row 1", "start_time", "unparsable time", "value '2026-03-01 25:00:05'")]
    assert rows[0]["record"].startswith("MOC,2026-03-01T12:00:01Z,46000123456789X,")
    with pytest.raises(ParseError) as e:
        list(open_events(p, on_bad_records="error"))
    assert str(e.value) == (f"{p}:row group 0, row 1: field 'imsi': imsi is not 15 digits "
                            "(value '46000123456789X')")


def test_missing_column_and_damaged_file_are_one_line_errors(tmp_path):
    p = tmp_path / "few.parquet"
    pq.write_table(pa.table({"record_type": ["MOC"], "imsi": ["460001234567890"]}), p)
    with pytest.raises(InputError) as e:
        list(open_events(p))
    assert "start_time" in str(e.value) and "\n" not in str(e.value)
    d = tmp_path / "damaged.parquet"
    d.write_bytes(b"PAR1" + b"\0" * 100)
    with pytest.raises(InputError) as e:
        list(open_events(d))
    assert str(e.value).startswith(f"{d}: cannot read it as PARQUET (")
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({h: pa.array([], pa.string()) for h in HEADER}), empty)
    with pytest.raises(EmptyInputError):
        list(open_events(empty))


def test_hive_window_of_paths():
    day = int(datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc).timestamp())
    assert hive_window("lake/cdr/date=2026-03-01/hour=13/part-0.parquet") == \
        (day + 13 * 3600, day + 14 * 3600)
    assert hive_window("lake/dt=20260301/x.parquet") == (day, day + 86400)
    assert hive_window("lake/year=2026/month=3/day=1/x.orc") == (day, day + 86400)
    assert hive_window("lake/cdrs/x.parquet") is None
    with pytest.raises(ConfigError):
        TimeWindow("2026-03-02", "2026-03-01")
    with pytest.raises(ConfigError) as e:
        TimeWindow("yesterday")
    assert str(e.value).startswith("--from 'yesterday': give an ISO-8601 time or date")


def test_hive_dataset_is_pruned_and_filtered_by_from_to(tmp_path, sample_table):
    """Partitions outside the window are not read; events outside it are dropped from the
    rest; the features equal those of the CSV rows inside the window (pandas reference)."""
    df = sample_table.to_pandas()
    ts = pd.to_datetime(df["start_time"], utc=True)
    root = tmp_path / "lake"
    for (day, hour), part in df.groupby([ts.dt.strftime("%Y-%m-%d"), ts.dt.hour]):
        d = root / f"date={day}" / f"hour={hour:02d}"
        d.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), d / "part-0.parquet")
    lo, hi = ts.min() + pd.Timedelta(hours=30, minutes=30), ts.min() + pd.Timedelta(hours=77)
    inside = df[(ts >= lo) & (ts < hi)]
    ref_csv = tmp_path / "inside.csv"
    inside.to_csv(ref_csv, index=False)
    ref = compute_features(ref_csv)
    got = compute_features(root, time_from=lo.isoformat(), time_to=hi.isoformat())
    pd.testing.assert_frame_equal(ref.features, got.features)
    nfiles = len(list(root.rglob("*.parquet")))
    assert got.stats.pruned_files == nfiles - got.stats.files
    assert got.stats.pruned_files > 0
    assert got.stats.accepted - got.stats.filtered == len(inside)
    assert "outside --from/--to" in got.stats.summary()
    # the CSV reader takes the same window (no pruning: one file)
    flat = compute_features(SAMPLE, time_from=lo.isoformat(), time_to=hi.isoformat())
    pd.testing.assert_frame_equal(ref.features, flat.features)
    assert flat.stats.filtered == len(df) - len(inside)


def test_columns_detect_reads_a_parquet_or_orc_sample(tmp_path):
    """``simbox columns detect`` proposes the profile of a columnar file from its first rows
    (written as CSV), and that profile reads the file as the CSV is read."""
    from simbox.fastpath.detect import detect_profile
    t = as_text_table(CSV / "msc_semicolon.csv", sep=";")
    pq.write_table(t, tmp_path / "msc.parquet")
    import pyarrow.orc as orc
    orc.write_table(t, tmp_path / "msc.orc")
    ref, rs = events(CSV / "msc_semicolon.csv", columns="msc-semicolon")
    for name in ("msc.parquet", "msc.orc"):
        d = detect_profile(tmp_path / name)
        got, gs = events(tmp_path / name, columns=d.profile)
        assert (gs.records, gs.accepted, gs.skipped) == (rs.records, rs.accepted, rs.skipped)
        for k in ref:
            np.testing.assert_array_equal(got[k], ref[k], err_msg=f"{name}: {k}")
