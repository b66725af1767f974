"""The Parquet page kernels (``_parquet_pages.pxi`` through ``parquet_pages.py``) against the
pyarrow path they stand in for (``columnar.PAGES`` off: pyarrow decodes, the ``_columnar``
kernels and the normaliser convert), and against the CSV reader: the same events, counts
and rejects (row group and row) on random files written every way pyarrow writes them
(dictionary and plain pages, a dictionary that overflows into plain pages mid-chunk, v1
and v2 data pages, several pages, row groups and codecs, nulls, empty strings, bad
values, typed times and durations), and no crash on damaged pages."""
import datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simbox.fastpath import _columnar, columnar, parquet_pages
from simbox.fastpath.csvread import read_csv_events
from simbox.fastpath.events import CellDict, EventBatch
from simbox.fastpath.stats import ReadStats
from test_columnar_fastpath import HEADER, plain, values  # the strategies of the fast path


class Keep:
    def __init__(self):
        self.seen = []

    def write(self, file, reason, **where):
        self.seen.append((reason, where["line"], where["field"], where["detail"],
                          where.get("record")))


def read(path, pages: bool, monkeypatch, kind="parquet", **kw):
    """(event columns with cell tokens, counts, rejects, rows the page kernels took)."""
    monkeypatch.setattr(columnar, "PAGES", pages)
    took = []
    fill = parquet_pages.RowGroup.fill

    def counted(self, out, n):
        ok = fill(self, out, n)
        took.append(n if ok else 0)
        return ok
    monkeypatch.setattr(parquet_pages.RowGroup, "fill", counted)
    stats, cells, keep = ReadStats(), CellDict(), Keep()
    reader = columnar.read_columnar_events if kind == "parquet" else read_csv_events
    opts = {"kind": "parquet"} if kind == "parquet" else {}
    got = list(reader(str(path), stats=stats, cells=cells, rejects=keep, **opts, **kw))
    ev = EventBatch.concat([EventBatch(b.columns()) for b in got]) if got else None
    cols = {} if ev is None else ev.columns()
    if ev is not None:
        cols["cell"] = np.array(cells.tokens + [""], dtype=object)[ev.cell]
    return cols, stats.as_dict(), keep.seen, sum(took)


def same(a, b, same_file=True):
    assert a[0].keys() == b[0].keys()
    for k in a[0]:
        np.testing.assert_array_equal(a[0][k], b[0][k], err_msg=k)
    if not same_file:                               # bytes read: of each file
        a, b = [({**x[1], "bytes": 0}, x[2]) for x in (a, b)]
    assert a[1:3] == b[1:3]


def to_table(rows, typed: bool):
    """The rows as an Arrow table: strings (empty strings kept, None null); ``typed``: times
    as timestamp[us, UTC] and durations as int32 where they are plain (else the row's
    values become nulls there, which the readers reject or read as 0)."""
    cols = {h: [r[h] for r in rows] for h in HEADER}
    if not typed:
        return pa.table({h: pa.array(cols[h], pa.string()) for h in HEADER})

    def instant(v):
        try:
            return datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
        except (TypeError, ValueError):
            return None
    out = {h: pa.array(cols[h], pa.string()) for h in HEADER}
    out["start_time"] = pa.array([instant(v) for v in cols["start_time"]],
                                 pa.timestamp("us", tz="UTC"))
    out["duration_s"] = pa.array([int(v) if v and v.isdigit() and int(v) < 2 ** 31 else None
                                  for v in cols["duration_s"]], pa.int32())
    return pa.table(out)


nullable = {h: st.one_of(s, st.none()) for h, s in values.items()}
#: (rows, all plain): plain rows, repeated (dictionaries of any width), and a few of any
#: kind (nulls too)
rows = st.tuples(st.lists(st.fixed_dictionaries(plain), min_size=1, max_size=12),
                 st.lists(st.fixed_dictionaries(nullable), max_size=3),
                 st.integers(1, 400), st.randoms(use_true_random=False)).map(
    lambda t: (t[3].sample(t[0] * (t[2] // len(t[0]) + 1), t[2]) + t[1], not t[1]))
writer = st.fixed_dictionaries({
    "use_dictionary": st.sampled_from([True, False, ["record_type", "cell_id"],
                                       ["imsi", "start_time"]]),
    "compression": st.sampled_from(["snappy", "zstd", "gzip", "none", "lz4"]),
    "data_page_version": st.sampled_from(["1.0", "2.0"]),
    "data_page_size": st.sampled_from([64, 512, 1 << 20]),
    "dictionary_pagesize_limit": st.sampled_from([40, 200, 1 << 20]),
    "row_group_size": st.sampled_from([7, 100, 1000]),
    "typed": st.booleans(),
    "shuffle": st.booleans()})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(rows, writer)
def test_pages_read_as_pyarrow_does(tmp_path, monkeypatch, rows, writer):
    rows, all_plain = rows
    w = dict(writer)
    typed, size = w.pop("typed"), w.pop("row_group_size")
    if w.pop("shuffle"):
        rows = rows[::-1]
    path = tmp_path / "t.parquet"
    pq.write_table(to_table(rows, typed), path, row_group_size=size, write_batch_size=16, **w)
    a = read(path, True, monkeypatch)
    b = read(path, False, monkeypatch)
    same(a, b)
    assert b[3] == 0
    if all_plain and w["compression"] != "lz4":      # the kernels took every row
        assert a[3] == len(rows)


def test_the_random_files_took_every_kind_of_page(tmp_path, monkeypatch):
    """One file of each kind the hypothesis test draws, its pages as the kernels saw them:
    v1 and v2 pages, dictionary and plain ones, a dictionary overflowing into plain pages."""
    seen = set()
    page = _columnar.PageColumn.page

    class Spy(_columnar.PageColumn):
        def page(self, levels, values, n, encoding):
            seen.add((levels is None, encoding))
            return page(self, levels, values, n, encoding)
    monkeypatch.setattr(_columnar, "PageColumn", Spy)
    rows = [{"record_type": "MOC", "start_time": f"2026-03-01T12:00:{i % 60:02d}Z",
             "imsi": f"4600012345{i:05d}", "imei": "", "msisdn": str(i), "other_party": None,
             "duration_s": str(i), "cell_id": f"c{i % 3}"} for i in range(300)]
    for version in ("1.0", "2.0"):
        path = tmp_path / f"v{version}.parquet"
        pq.write_table(to_table(rows, False), path, data_page_version=version,
                       dictionary_pagesize_limit=500, data_page_size=256, write_batch_size=16)
        got = read(path, True, monkeypatch)
        assert got[3] == 300 and got[1]["accepted"] == 300
    assert {(True, 0), (True, 8), (False, 0), (False, 8)} <= seen   # PLAIN, RLE_DICTIONARY


def test_bad_values_are_rejected_where_pyarrow_rejects_them(tmp_path, monkeypatch):
    """A bad value in the second row group: the rows before it come from the kernels, the
    rest of its row group through the normaliser, with the same rejects."""
    rows = [{"record_type": "MOC", "start_time": "2026-03-01T12:00:00Z",
             "imsi": "460001234567890", "imei": "35678901234567", "msisdn": "8613800000001",
             "other_party": "10086", "duration_s": "5", "cell_id": "46000-1-1"}] * 10
    rows = [dict(r) for r in rows]
    rows[3]["imsi"] = "46000123456789X"
    rows[7]["start_time"] = None
    path = tmp_path / "bad.parquet"
    pq.write_table(to_table(rows, False), path, row_group_size=5)
    a = read(path, True, monkeypatch)
    b = read(path, False, monkeypatch)
    same(a, b)
    assert [(r[1], r[2]) for r in a[2]] == [("row group 0, row 3", "imsi"),
                                             ("row group 1, row 2", "start_time")]
    assert a[3] == 0 or a[3] < 10                   # the kernels stopped at the bad values
    assert a[1]["accepted"] == 8


def test_the_lake_layout_gives_the_csv_events(tmp_path, monkeypatch):
    """Typed times and durations, dictionary and plain pages, zstd: the events of the CSV."""
    rng = np.random.default_rng(17)
    n = 3000
    rt = rng.choice(["MOC", "MTC", "SMS_MO", "SMS_MT", "DATA"], n)
    t0 = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
    times = sorted(t0 + datetime.timedelta(seconds=int(s)) for s in rng.integers(0, 86400, n))
    imsi = [f"46000{x:010d}" for x in rng.integers(0, 400, n)]
    imei = [f"{x:014d}" if x % 5 else "" for x in rng.integers(0, 10 ** 14, n)]
    msisdn = [f"86138{x:08d}" for x in rng.integers(0, 400, n)]
    other = [f"0{x}" if x % 3 else "" for x in rng.integers(0, 10 ** 9, n)]
    dur = rng.integers(0, 3600, n)
    cell = [f"46000-{x // 10}-{x}" for x in rng.integers(0, 300, n)]
    csv_path = tmp_path / "c.csv"
    with open(csv_path, "w") as f:
        f.write(",".join(HEADER) + "\n")
        for row in zip(rt, times, imsi, imei, msisdn, other, dur, cell):
            f.write(",".join([row[0], row[1].strftime("%Y-%m-%dT%H:%M:%SZ"), *row[2:6],
                              str(row[6]), row[7]]) + "\n")
    table = pa.table({"record_type": rt, "start_time": pa.array(times, pa.timestamp(
        "us", tz="UTC")), "imsi": imsi, "imei": imei, "msisdn": msisdn, "other_party": other,
        "duration_s": pa.array(dur, pa.int32()), "cell_id": cell})
    path = tmp_path / "lake.parquet"
    pq.write_table(table, path, compression="zstd", row_group_size=1000,
                   dictionary_pagesize_limit=2000)
    a = read(path, True, monkeypatch)
    c = read(csv_path, True, monkeypatch, kind="csv")
    assert a[3] == n
    same(a, c, same_file=False)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 70))
def test_a_damaged_page_header_is_not_a_crash(data, pos):
    h = np.zeros(_columnar.HEADER_SLOTS, np.int64)
    buf = np.frombuffer(data, np.uint8)
    if pos > len(buf):
        with pytest.raises(ValueError):
            _columnar.page_header(buf, pos, h)
        return
    n = _columnar.page_header(buf, pos, h)
    assert n == -1 or 0 < n <= len(buf) - pos


def chunk_file(tmp_path):
    rows = [{"record_type": "MOC", "start_time": f"2026-03-01T12:00:{i % 60:02d}Z",
             "imsi": f"4600012345{i:05d}", "imei": "", "msisdn": str(i), "other_party": "1",
             "duration_s": str(i), "cell_id": f"c{i % 3}"} for i in range(200)]
    path = tmp_path / "ok.parquet"
    pq.write_table(to_table(rows, False), path, data_page_size=128, write_batch_size=16,
                   compression="none", dictionary_pagesize_limit=300)
    return path


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_pages_are_not_read_past_their_buffers(tmp_path, data):
    """Every byte of a column chunk flipped or cut: the kernels say "cannot take" or read
    values, never past their buffers (a bounds-checked build turns an overrun into an
    error; here a crash)."""
    path = chunk_file(tmp_path)
    pf = pq.ParquetFile(path)
    meta = pf.metadata
    j = data.draw(st.integers(0, len(HEADER) - 1))
    c = meta.row_group(0).column(j)
    start = c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
    raw = bytearray(open(path, "rb").read()[start:start + c.total_compressed_size])
    k = data.draw(st.integers(0, len(raw) - 1))
    if data.draw(st.booleans()):
        raw[k] = data.draw(st.integers(0, 255))
    else:
        raw = raw[:k]
    buf = np.frombuffer(bytes(raw), np.uint8)
    col = pf.schema.column(j)
    field = parquet_pages.Field(HEADER[j], j, _columnar.PQ_TEXT if HEADER[j] not in (
        "record_type", "cell_id") else _columnar.PQ_CODES, _columnar.PQ_BYTE_ARRAY,
        col.max_definition_level, (_columnar.DIGITS, 0, 18, True, True),
        null_ok=True, codes=(lambda v: (np.arange(len(v), dtype=np.int64),
                                        np.zeros(len(v), np.uint8)),
                             lambda arr, out: out.fill(1) is None))
    pages = parquet_pages._Pages(field, buf, None)
    out = np.empty(200, np.int64)
    pages.take(out, 200)                          # True or False; no crash


def test_a_file_the_kernels_cannot_plan_is_read_by_pyarrow(tmp_path, monkeypatch):
    """INT96 times (Spark's legacy timestamps): pyarrow for the whole file, same events."""
    t = pa.table({"record_type": ["MOC", "SMS_MO"], "start_time": pa.array(
        [datetime.datetime(2026, 3, 1, 12), datetime.datetime(2026, 3, 1, 13)],
        pa.timestamp("ns")), "imsi": ["460001234567890"] * 2, "imei": ["", ""],
        "msisdn": ["1", "2"], "other_party": ["2", ""], "duration_s": ["3", "0"],
        "cell_id": ["c", "d"]})
    path = tmp_path / "int96.parquet"
    pq.write_table(t, path, use_deprecated_int96_timestamps=True)
    assert pq.ParquetFile(path).schema.column(1).physical_type == "INT96"
    a = read(path, True, monkeypatch)
    assert a[3] == 0 and a[1]["accepted"] == 2
    same(a, read(path, False, monkeypatch))
