"""The slice rows kernel (fastpath/_slicerows.pyx) against numpy.lexsort over every field."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.fastpath.slicerows import ROW_DTYPE, ROW_FIELDS, distinct, merge_distinct, sort_rows


def reference(rows: np.ndarray) -> np.ndarray:
    """Sorted by every field (the first most significant), each distinct row once."""
    rows = rows[np.lexsort([rows[n] for n in reversed(ROW_FIELDS)])]
    if len(rows) < 2:
        return rows
    same = np.ones(len(rows) - 1, bool)
    for n in ROW_FIELDS:
        same &= rows[n][1:] == rows[n][:-1]
    return rows[np.r_[True, ~same]]


def _values(name):
    info = np.iinfo(ROW_DTYPE[name])
    # the extremes (signs in the comparison) and a few small values (ties on every field)
    return st.sampled_from(sorted(v for v in {info.min, info.min + 1, -1, 0, 1, 2, 3,
                                              info.max - 1, info.max} if v >= info.min))


ROW = st.tuples(*[_values(n) for n in ROW_FIELDS])


def as_rows(tuples) -> np.ndarray:
    return np.array(list(tuples), ROW_DTYPE)


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, max_size=80), st.lists(ROW, max_size=80))
def test_merge_equals_the_sorted_distinct_union(old, new):
    old, new = reference(as_rows(old)), as_rows(new)
    got = merge_distinct(old, new)
    assert got.dtype == ROW_DTYPE
    assert np.array_equal(got, reference(np.concatenate([old, new])))
    assert np.array_equal(distinct(new), reference(new))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=200))
def test_the_sort_is_stable(keys):
    rows = np.zeros(len(keys), ROW_DTYPE)
    rows["imsi"] = [k for k, _ in keys]
    rows["cell"] = [c for _, c in keys]          # equal rows but for the tag below
    rows["time"] = 0
    got = sort_rows(rows)
    want = rows[np.lexsort([rows[n] for n in reversed(ROW_FIELDS)], axis=0)]
    assert np.array_equal(got, want)


def test_a_large_hour_read_from_a_memory_map(tmp_path):
    rng = np.random.default_rng(7)
    rows = np.zeros(50_000, ROW_DTYPE)
    for n in ROW_FIELDS:
        info = np.iinfo(ROW_DTYPE[n])
        rows[n] = rng.integers(max(info.min, -5), min(info.max, 40), len(rows))
    old = reference(rows[:40_000])
    np.save(tmp_path / "slice.npy", old)
    mapped = np.load(tmp_path / "slice.npy", mmap_mode="r")
    assert np.array_equal(merge_distinct(mapped, rows[30_000:]), reference(rows))


def test_rows_of_another_layout_are_refused():
    with pytest.raises(TypeError, match="rows of dtype"):
        distinct(np.zeros(3, [("imsi", "i8"), ("time", "i8")]))
