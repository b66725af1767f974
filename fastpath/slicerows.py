"""Event rows sorted by every field, each distinct row once: the hour slices of
``simbox watch`` (the wrapper of ``_slicerows.pyx``).

A row is a record of :data:`ROW_DTYPE` (the event columns, the subscriber first).  Rows
are ordered by every field in turn, as ``numpy.lexsort`` over the fields (last field
least significant) orders them, so that a subscriber's events are one run found by
binary search and exact duplicates are neighbours::

    rows = distinct(rows)                 # sorted, each distinct row once
    merged = merge_distinct(rows, more)   # rows (sorted, distinct) with more added
    merged, dups = merge_parts(rows, [a, b, c])   # and the duplicates of each part
    merged, dups = merge_rows(rows, abc, [len(a), len(b), len(c)])   # the same, given as one

:func:`merge_distinct` sorts only ``more`` and merges it in one pass: adding a drop to an
hour's slice costs the drop's sort and a linear pass, not a sort of the whole hour.
:func:`merge_parts` adds the rows of several files to an hour in one sort and one pass,
counting each file's duplicates as if the files had been added one after the other.
The sort is a radix pass on the subscriber, then each subscriber's few rows compared on
every field (``_slicerows.sort_order``; ``radix=False``: the merge sort it replaced).
"""
from __future__ import annotations

import numpy as np

from simbox.fastpath import _partition, _slicerows
from simbox.fastpath.events import COLUMNS

#: the fields of a row, in sort order (the subscriber first)
ROW_FIELDS = ("imsi", "time", "rtype", "imei", "msisdn", "other", "duration", "cell")
ROW_DTYPE = np.dtype([(n, dict(COLUMNS)[n]) for n in ROW_FIELDS])


def _rows(rows, what: str) -> np.ndarray:
    rows = np.asarray(rows)
    if rows.dtype != ROW_DTYPE:
        raise TypeError(f"{what}: rows of dtype {ROW_DTYPE} expected, got {rows.dtype}")
    return np.ascontiguousarray(rows)


def sort_order(rows, radix: bool = True) -> np.ndarray:
    """The positions of ``rows`` in sorted order (stable); ``radix`` False: the merge sort
    on every field the radix pass replaced (the same order, slower)."""
    rows = _rows(rows, "sort_order")
    order = np.empty(len(rows), np.int64)
    _slicerows.sort_order(rows, order, radix)
    return order


def sort_rows(rows) -> np.ndarray:
    """A sorted copy of ``rows`` (stable)."""
    rows = _rows(rows, "sort_rows")
    return rows[sort_order(rows)]


def merge_parts(old, parts: list) -> tuple:
    """(the distinct rows of ``old`` and of every part, sorted; per part, its rows already
    in ``old``, in an earlier part or earlier in itself; the distinct subscribers of the
    parts, ascending).  ``old`` (None: no rows) must be sorted and distinct (an hour's
    slice); the parts (a file's rows each, in the order taken) may be in any order."""
    parts = [_rows(p, "merge_parts") for p in parts]
    new = parts[0] if len(parts) == 1 else np.concatenate([np.empty(0, ROW_DTYPE), *parts])
    return merge_rows(old, new, [len(p) for p in parts])


def merge_rows(old, new, sizes: list) -> tuple:
    """:func:`merge_parts` of the parts given one after the other in ``new`` (``sizes``:
    the rows of each): a group's rows of an hour made in one array need no concatenation."""
    old = np.empty(0, ROW_DTYPE) if old is None else _rows(old, "merge_rows")
    new = _rows(new, "merge_rows")
    if sum(sizes) != len(new):
        raise ValueError(f"merge_rows: the parts' sizes add up to {sum(sizes)}, not to the "
                         f"{len(new)} rows given")
    tag = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    order = sort_order(new)
    out = np.empty(len(old) + len(new), ROW_DTYPE)
    dups = np.zeros(len(sizes), np.int64)
    subs = np.empty(len(new), np.int64)
    n, ns = _slicerows.merge_distinct(old, new, order, tag, out, dups, subs)
    return out[:n], dups, subs[:ns].copy()


def merge_distinct(old, new) -> np.ndarray:
    """The distinct rows of ``old`` and ``new``, sorted; ``old`` must be sorted already
    (an hour's slice: sorted and distinct), ``new`` may be in any order."""
    return merge_parts(old, [new])[0]


def distinct_keys(sorted_keys: list) -> np.ndarray:
    """The distinct values of int64 arrays, ascending (the subscribers of several hours:
    a hash pass, then a sort of the distinct values only)."""
    keys = [np.asarray(k, np.int64) for k in sorted_keys if len(k)]
    if not keys:
        return np.zeros(0, np.int64)
    if len(keys) == 1:
        return keys[0].copy()
    allk = np.concatenate(keys)
    zero = allk == 0                  # (the hash's empty slot: taken apart)
    has_zero = bool(zero.any())
    if has_zero:
        allk = allk[~zero]
    found = _partition.dense_ids(allk, np.empty(len(allk), np.int32))
    found = np.sort(np.asarray(found, np.int64))
    return np.insert(found, np.searchsorted(found, 0), 0) if has_zero else found


def distinct(rows) -> np.ndarray:
    """The distinct rows of ``rows`` (any order), sorted."""
    return merge_distinct(np.empty(0, ROW_DTYPE), rows)
