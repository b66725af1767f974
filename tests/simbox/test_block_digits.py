"""``deployments._digits`` (Arrow's kernels) against the entry-by-entry version it keeps
for other objects (``_digits_of_objects``, session 18's code)."""
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.deployments import _digits, _digits_of_objects, _imei_parts

entries = st.one_of(
    st.from_regex(r"\A[0-9]{1,20}\Z"),                  # numbers, 19-20 digits too long
    st.just(""), st.none(), st.just(float("nan")),
    st.sampled_from(["+8613", "86 13", "８６１", "²³", "0", "000123", "12a", "-5", " 7"]),
    st.text(max_size=6))


@settings(max_examples=200, deadline=None)
@given(st.lists(entries, max_size=40), st.sampled_from(["array", "series", "arrow", "index"]))
def test_digits_equal_the_entry_by_entry_version(values, form):
    want = _digits_of_objects(np.array(values, dtype=object))
    if form == "arrow":
        values = [v if isinstance(v, str) else None for v in values]
        want = _digits_of_objects(np.array(values, dtype=object))
        arg = pd.Series(values, dtype="string[pyarrow]")
    elif form == "series":
        arg = pd.Series(values, dtype=object)
    elif form == "index":
        arg = pd.Index(values, dtype=object)
    else:
        arg = np.array(values, dtype=object)
    got = _digits(arg)
    for g, w in zip(got, want):
        assert g.dtype == np.int64 and w.dtype in (np.int64, np.intp)
        assert g.tolist() == w.tolist()


def test_digits_of_other_objects_go_entry_by_entry():
    values = np.array([8613000000001, "8613000000002", 3.0, None], dtype=object)
    assert [a.tolist() for a in _digits(values)] == \
        [a.tolist() for a in _digits_of_objects(values)] == [[0, 1], [13, 13],
                                                             [8613000000001, 8613000000002]]


imeis = st.one_of(st.from_regex(r"\A[0-9]{12,18}\Z"), entries)


@settings(max_examples=200, deadline=None)
@given(st.lists(imeis, max_size=40), st.sampled_from(["array", "series", "arrow"]))
def test_imei_parts_equal_the_entry_by_entry_version(values, form):
    if form == "arrow":
        values = [v if isinstance(v, str) else None for v in values]
        arg = pd.Series(values, dtype="string[pyarrow]")
    else:
        arg = pd.Series(values, dtype=object) if form == "series" else np.array(values, dtype=object)
    s = np.array(values, dtype=object).astype(str)          # session 18's code, the reference
    ok = np.array([x.isdigit() and x.isascii() and 14 <= len(x) <= 16 for x in s], dtype=bool)
    tac, serial, got_ok = _imei_parts(arg)
    assert got_ok.tolist() == ok.tolist()
    assert tac.tolist() == [int(x[:8]) for x in s[ok]]
    assert serial.tolist() == [int(x[8:14]) for x in s[ok]]
    assert tac.dtype == serial.dtype == np.int64
