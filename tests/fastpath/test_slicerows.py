"""The slice rows kernel (fastpath/_slicerows.pyx) against numpy.lexsort over every field."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.fastpath.slicerows import (ROW_DTYPE, ROW_FIELDS, distinct, distinct_keys,
                                       merge_distinct, merge_parts, merge_rows, sort_order,
                                       sort_rows)


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


# rows with long runs of one subscriber (past the insertion sort's 24) and subscribers that
# differ in high and low digits of the radix passes, signs included
IMSI = st.sampled_from([np.iinfo(np.int64).min, -(1 << 40), -1, 0, 1, 2, 2047, 2048,
                        (1 << 22) + 5, 262_800_000_000_001, 262_800_000_004_097,
                        np.iinfo(np.int64).max])
MANY = st.lists(st.tuples(IMSI, *[_values(n) for n in ROW_FIELDS[1:]]), max_size=300)


@settings(max_examples=300, deadline=None)
@given(MANY)
def test_the_radix_sort_equals_the_merge_sort_it_replaced(tuples):
    rows = as_rows(tuples)
    got = sort_order(rows)
    assert np.array_equal(got, sort_order(rows, radix=False))     # positions: both stable
    assert np.array_equal(rows[got], rows[np.lexsort([rows[n] for n in reversed(ROW_FIELDS)])])


def test_the_radix_sort_of_a_large_drop():
    rng = np.random.default_rng(3)
    rows = np.zeros(200_000, ROW_DTYPE)
    rows["imsi"] = 262_800_000_000_000 + rng.integers(0, 30_000, len(rows))
    rows["imsi"][:5000] = 262_800_000_000_000 + 17            # one long run
    rows["time"] = rng.integers(0, 3600, len(rows))
    rows["cell"] = rng.integers(0, 3, len(rows))
    assert np.array_equal(sort_order(rows), sort_order(rows, radix=False))


def _one_after_the_other(old, parts) -> tuple:
    """The reference of a group's merge: merge_distinct of each part in turn (the rows,
    each part's duplicates)."""
    want, dups = old, []
    for p in parts:
        after = merge_distinct(want, p)
        dups.append(len(want) + len(p) - len(after))
        want = after
    return want, dups


@settings(max_examples=200, deadline=None)
@given(st.lists(ROW, max_size=60), st.lists(st.lists(ROW, max_size=50), max_size=5))
def test_parts_merged_at_once_equal_the_parts_merged_one_after_the_other(old, parts):
    """merge_parts (one sort, one pass for the files of a group) against merge_distinct
    of each file in turn, the path it replaced: the same rows, each file's duplicates."""
    old = reference(as_rows(old))
    parts = [as_rows(p) for p in parts]
    merged, dups, subs = merge_parts(old, parts)
    want, want_dups = _one_after_the_other(old, parts)
    assert np.array_equal(merged, want)
    assert dups.tolist() == want_dups
    every = np.concatenate([p["imsi"] for p in parts]) if parts else np.zeros(0, np.int64)
    assert np.array_equal(subs, np.unique(every))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(-3, 3) | st.sampled_from(
    [0, np.iinfo(np.int64).min, np.iinfo(np.int64).max]), max_size=30), max_size=6))
def test_distinct_keys_equal_numpy_unique(lists):
    arrays = [np.unique(np.array(x, np.int64)) for x in lists]
    want = np.unique(np.concatenate(arrays)) if arrays else np.zeros(0, np.int64)
    got = distinct_keys(arrays)
    assert got.dtype == np.int64 and np.array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(st.lists(ROW, max_size=60), st.lists(st.lists(ROW, max_size=50), max_size=5))
def test_rows_given_as_one_array_merge_as_the_parts(old, parts):
    """merge_rows (the parts one after the other in one array, and their sizes) against
    merge_distinct of each part in turn."""
    old = reference(as_rows(old))
    parts = [as_rows(p) for p in parts]
    new = np.concatenate([np.empty(0, ROW_DTYPE), *parts])
    merged, dups, subs = merge_rows(old, new, [len(p) for p in parts])
    want, want_dups = _one_after_the_other(old, parts)
    assert np.array_equal(merged, want)
    assert dups.tolist() == want_dups
    assert np.array_equal(subs, np.unique(new["imsi"]))


def test_merge_rows_refuses_sizes_that_do_not_add_up():
    with pytest.raises(ValueError, match=r"^merge_rows: the parts' sizes add up to 3, not to "
                                         r"the 2 rows given$"):
        merge_rows(None, np.zeros(2, ROW_DTYPE), [1, 2])
