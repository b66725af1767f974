"""The columnar fast path (``_columnar.pyx`` kernels) against the profiled normaliser it
stands in for: the same events, counts and rejects on random batches of plain and
not-quite-plain values (the normaliser is the reference: the fast path switched off)."""
import datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.fastpath import columnar
from simbox.fastpath.events import CellDict, EventBatch
from simbox.fastpath.stats import ReadStats

HEADER = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party", "duration_s",
          "cell_id"]

digits = st.text("0123456789", min_size=0, max_size=19)
times = st.one_of(
    st.datetimes(min_value=datetime.datetime(1899, 12, 31), max_value=datetime.datetime(2200, 1, 2))
    .map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.sampled_from(["2026-02-30T12:00:00Z", "2026-03-01T24:00:00Z", "2026-03-01T12:00:60Z",
                     "2026-03-01 12:00:05Z", "2026-03-01T12:00:05", "2026-03-01T12:00:05.5Z",
                     "1900-01-01T00:10:00Z", "2199-12-31T23:00:00Z", "", "x"]))
values = {
    "record_type": st.sampled_from(["MOC", "MTC", "SMS_MO", "SMS_MT", "DATA", "moc", " MOC", ""]),
    "start_time": times,
    "imsi": st.one_of(st.just("460001234567890"), digits, st.just("46000123456789X")),
    "imei": st.one_of(st.just("35678901234567"), st.just(""), digits),
    "msisdn": st.one_of(digits, st.just("+8613800000001")),
    "other_party": st.one_of(digits, st.just(" 10086")),
    "duration_s": st.one_of(st.integers(0, 200000).map(str), st.sampled_from(["", "1.5", "-1"])),
    "cell_id": st.sampled_from(["46000-1-1", "46000-1-2", "7585772.0", "", " x", "c"]),
}
plain = {
    "record_type": st.sampled_from(["MOC", "MTC", "SMS_MO", "SMS_MT", "DATA"]),
    "start_time": st.datetimes(min_value=datetime.datetime(1900, 1, 2),
                               max_value=datetime.datetime(2199, 12, 1))
    .map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    "imsi": st.text("0123456789", min_size=15, max_size=15),
    "imei": st.one_of(st.just(""), st.text("0123456789", min_size=14, max_size=16)),
    "msisdn": st.text("0123456789", min_size=0, max_size=18),
    "other_party": st.text("0123456789", min_size=0, max_size=18),
    "duration_s": st.integers(0, 172800).map(str),
    "cell_id": st.sampled_from(["46000-1-1", "46000-1-2", "", "c"]),
}
#: plain rows with, at times, one of any kind among them
rows = st.tuples(st.lists(st.fixed_dictionaries(plain), min_size=1, max_size=40),
                 st.lists(st.fixed_dictionaries(values), max_size=1),
                 st.integers(0, 40)).map(lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:])
HITS = []


def read(table, fast: bool):
    stats, cells, seen = ReadStats(), CellDict(), []

    class Keep:
        def write(self, file, reason, **where):
            seen.append((reason, where["line"], where["field"], where["detail"]))

    r = columnar.batch_reader("canonical", name="t", cells=cells, stats=stats, rejects=Keep())
    wanted, _ = r.columns_read(table.schema.names)
    r.fast = r.fast and fast
    plain_batch = r._plain

    def counted(*a):
        out = plain_batch(*a)
        HITS.append(out is not None)
        return out
    r._plain = counted
    evs = []
    for i, b in enumerate(table.to_batches(max_chunksize=16)):
        evs += list(r.convert(b, wanted, f"batch {i}", 0))
    ev = EventBatch.concat(evs)
    cols = ev.columns()
    cols["cell"] = np.array(cells.tokens + [""], dtype=object)[ev.cell]
    return cols, stats.as_dict(), seen


def same(table):
    a = read(table, True)
    b = read(table, False)
    for k in a[0]:
        np.testing.assert_array_equal(a[0][k], b[0][k], err_msg=k)
    assert a[1:] == b[1:]


@settings(max_examples=150, deadline=None)
@given(rows)
def test_text_batches(rows):
    same(pa.table({h: pa.array([r[h] for r in rows], pa.string()) for h in HEADER}))


def test_the_random_batches_took_both_paths():
    """(after the tests above) the fast path read some batches, the normaliser others"""
    assert any(HITS) and not all(HITS)


@settings(max_examples=60, deadline=None)
@given(rows, st.lists(st.integers(-1, 2 ** 63 - 1) | st.none(), min_size=40, max_size=40))
def test_typed_columns(rows, ints):
    """Integer digits columns, integer durations, timestamps, dictionaries, nulls."""
    n = len(rows)
    ints = (ints * (n // len(ints) + 1))[:n]       # as many as the rows (rows may be more)
    t = {h: pa.array([r[h] for r in rows], pa.string()) for h in HEADER}
    t["msisdn"] = pa.array(ints, pa.int64())
    t["duration_s"] = pa.array([None if v is None else v % 200000 for v in ints], pa.int32())
    t["record_type"] = t["record_type"].dictionary_encode()
    t["start_time"] = pa.array([datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
                                + datetime.timedelta(seconds=17 * i) for i in range(n)],
                               pa.timestamp("ms", tz="UTC"))
    same(pa.table(t))


def test_the_fast_path_is_taken_on_plain_batches():
    t = pa.table({h: pa.array([v], pa.string()) for h, v in zip(HEADER, [
        "MOC", "2026-03-01T12:00:01Z", "460001234567891", "35678901234567", "8613800000001",
        "8613912345678", "1", "46000-1234-56789"])})
    r = columnar.batch_reader("canonical", name="t", cells=CellDict(), stats=ReadStats())
    wanted, _ = r.columns_read(t.schema.names)
    out, home = r._plain(t.to_batches()[0], wanted)
    assert out["time"][0] == 1772366401 and out["imsi"][0] == 1460001234567891


@pytest.mark.parametrize("value", ["2026-03-01T12:00:01", "46000123456789"])
def test_not_plain_goes_to_the_normaliser(value):
    row = ["MOC", "2026-03-01T12:00:01Z", "460001234567891", "", "", "", "1", "c"]
    row[1 if "T" in value else 2] = value
    t = pa.table({h: pa.array([v], pa.string()) for h, v in zip(HEADER, row)})
    r = columnar.batch_reader("canonical", name="t", cells=CellDict(), stats=ReadStats())
    wanted, _ = r.columns_read(t.schema.names)
    assert r._plain(t.to_batches()[0], wanted) is None


@pytest.mark.parametrize("time", ["1900-01-01T00:10:00Z", "1900-01-01T01:00:00Z",
                                  "2199-12-31T18:00:00Z", "2199-12-31T19:00:00Z",
                                  "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
                                  "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_edge_times_as_the_normaliser(time):
    """The normaliser's year check (an approximate year) and real dates, at their edges."""
    row = ["MOC", time, "460001234567891", "", "", "", "1", "c"]
    same(pa.table({h: pa.array([v], pa.string()) for h, v in zip(HEADER, row)}))
