"""The ``_columnar`` kernels (through ``columnar_values.Values``) against a pure-Python reference
of their rules, on random Arrow arrays of every layout they read in place: string,
large_string, string_view, dictionary (of strings, with null indices), sliced arrays
(offset != 0), chunked arrays, integers with nulls, timestamps of every unit."""
import datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.fastpath import _columnar, columnar
from simbox.fastpath.columnar_values import RULES, Values, text_column


#: each field's plain values, as docs/input-formats.md and the CSV kernel state them
#: (written out again here: the test does not take them from the code it checks)
SPEC = {"imsi": ("digits", 15, 15, False, False), "imei": ("digits", 14, 16, True, False),
        "msisdn": ("digits", 1, 18, True, True), "other_party": ("digits", 1, 18, True, True),
        "duration_s": ("seconds", 0, 172800, True, False),
        "start_time": ("iso", 0, 0, False, False)}


def plain_reference(value, field):
    """The value of ``field`` as the spec states it, or None when it is not plain."""
    kind, lo, hi, empty_ok, plus_ok = SPEC[field]
    if kind == "iso":
        if value is None:
            return None
        try:
            d = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return None
        if len(value) != 20 or not value.isascii():
            return None
        t = int(d.replace(tzinfo=datetime.timezone.utc).timestamp())
        return t if 1900 <= 1970 + t // 31556952 <= 2199 else None
    if value is None or value == "":
        return 0 if empty_ok else None
    if isinstance(value, int):
        if value < 0:
            return None
        digits = str(value)
    else:
        digits = value[1:] if plus_ok and value.startswith("+") else value
        if not (digits.isascii() and digits.isdigit()):
            return None
    if kind == "seconds":
        return int(digits) if len(digits) <= 9 and int(digits) <= hi else None
    return int("1" + digits) if lo <= len(digits) <= hi else None


def reference(values, field):
    got = [plain_reference(v, field) for v in values]
    return None if any(g is None for g in got) else got


texts = st.one_of(
    st.none(), st.just(""), st.text("0123456789", min_size=1, max_size=20),
    st.text("0123456789", min_size=1, max_size=17).map(lambda s: "+" + s),
    st.sampled_from(["+", " 123", "12a", "٣٣", "1.0", "-5", "++1", "460001234567890",
                     "0" * 18, "9" * 19, "2026-03-01T12:00:05Z", "2026-02-29T12:00:05Z",
                     "2024-02-29T23:59:59Z", "2026-13-01T00:00:00Z", "2026-03-01T12:00:05",
                     "1899-12-31T23:59:59Z", "2199-12-31T18:00:00Z", "2026-03-01T24:00:00Z"]),
    st.datetimes(min_value=datetime.datetime(1890, 1, 1), max_value=datetime.datetime(2210, 1, 1))
    .map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")))
def same_as_reference(arr, values, field, how):
    """The kernels read ``arr`` (``values`` laid out as ``how``) as the reference does."""
    out = np.full(len(values), -7, np.int64)
    ok = Values().fill(arr, RULES[field], out)
    want = reference(values, field)
    assert ok == (want is not None), (values, field, how)
    if ok:
        assert out.tolist() == want


LAYOUTS = ["string", "large_string", "string_view", "dictionary", "chunked", "sliced"]


def layout(values, how):
    arr = pa.array(values, pa.string())
    if how == "large_string":
        return arr.cast(pa.large_string())
    if how == "string_view":
        return arr.cast(pa.string_view())
    if how == "dictionary":
        return arr.dictionary_encode()
    if how == "chunked":
        k = len(values) // 2
        return pa.chunked_array([arr.slice(0, k), arr.slice(k)], pa.string())
    if how == "sliced":                  # a slice of a longer array: offset != 0
        return pa.array(["x", None, "7"] + values + ["y"], pa.string()).slice(3, len(values))
    return arr


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=30), st.sampled_from(sorted(RULES)),
       st.sampled_from(LAYOUTS))
def test_text_columns_as_the_reference(values, field, how):
    arr = layout(values, how)
    if how != "chunked":
        assert how == "string" or arr.offset or pa.types.is_dictionary(arr.type) \
            or arr.type != pa.string()
    same_as_reference(arr, values, field, how)


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, min_size=1, max_size=30), st.sampled_from(sorted(RULES)))
def test_each_bad_value_is_marked(values, field):
    """text_values with ``bad``: every value judged alone (what a dictionary needs)."""
    rule = RULES[field]
    table, bad = np.empty(len(values), np.int64), np.empty(len(values), np.uint8)
    col = text_column(pa.array(values, pa.string()))
    assert _columnar.text_values(col, *rule, table, bad) == -1
    for v, t, b in zip(values, table, bad):
        want = plain_reference(v, field)
        assert bool(b) == (want is None), v
        assert t == (0 if want is None else want)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | st.integers(-5, 2 ** 63 - 1) | st.integers(0, 10 ** 16),
                min_size=1, max_size=30),
       st.sampled_from(["imsi", "imei", "msisdn", "duration_s"]),
       st.sampled_from(["int64", "int32", "uint64", "decimal", "sliced", "dictionary"]))
def test_integer_columns_as_the_reference(values, field, how):
    if how == "int32":
        values = [None if v is None else v % 2 ** 31 for v in values]
    arr = pa.array(values, pa.decimal128(20, 0) if how == "decimal" else
                   pa.uint64() if how == "uint64" and all(v is None or v >= 0 for v in values)
                   else pa.int32() if how == "int32" else pa.int64())
    if how == "sliced":
        arr = pa.concat_arrays([pa.array([1, None], arr.type), arr]).slice(2)
    if how == "dictionary":
        arr = arr.dictionary_encode()
    same_as_reference(arr, values, field, how)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.none() | st.integers(-10 ** 17, 10 ** 17), min_size=1, max_size=30),
       st.sampled_from(["s", "ms", "us", "ns"]), st.sampled_from([None, "UTC", "+05:30"]),
       st.integers(0, 3))
def test_timestamps_as_the_reference(ticks, unit, tz, cut):
    arr = pa.array(ticks, pa.int64()).cast(pa.timestamp(unit, tz=tz))[cut:]
    ticks = ticks[cut:]
    per = {"s": 1, "ms": 10 ** 3, "us": 10 ** 6, "ns": 10 ** 9}[unit]
    r = columnar.batch_reader("canonical", name="t", cells=columnar.CellDict(),
                              stats=columnar.ReadStats())
    out = np.full(len(ticks), -7, np.int64)
    ok = r._instants_plain(arr, out)
    assert ok == all(t is not None for t in ticks)
    if ok:
        assert out.tolist() == [t // per for t in ticks]      # floor, also before 1970


def test_a_dictionary_converts_each_distinct_value_once():
    """Equal dictionaries in later batches reuse the codes; a new one is converted."""
    v = Values()
    calls = []
    convert = v._convert
    v._convert = lambda d, rule: calls.append(len(d)) or convert(d, rule)
    words = pa.array(["460001234567890", "460001234567891", "x"])
    out = np.empty(2, np.int64)
    for _ in range(3):
        arr = pa.DictionaryArray.from_arrays(pa.array([1, 0], pa.int32()), words.slice(0))
        assert v.fill(arr, RULES["imsi"], out)
    assert calls == [3] and out.tolist() == [1460001234567891, 1460001234567890]
    arr = pa.DictionaryArray.from_arrays(pa.array([2, None], pa.int8()), words)
    assert not v.fill(arr, RULES["imsi"], out)             # "x" is used: not plain
    arr = pa.DictionaryArray.from_arrays(pa.array([None, 1], pa.int8()), words)
    assert not v.fill(arr, RULES["imsi"], out)             # a null IMSI: not plain
    assert v.fill(arr, RULES["imei"], out)                 # a null IMEI is 0
    assert out.tolist() == [0, 1460001234567891]


@pytest.mark.parametrize("bad_rule", [(0, 5, 19, True, False), (9, 0, 0, False, False)])
def test_a_bad_rule_is_a_value_error(bad_rule):
    col = text_column(pa.array(["1"]))
    with pytest.raises(ValueError):
        _columnar.text_values(col, *bad_rule, np.empty(1, np.int64))
