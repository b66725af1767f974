"""Event rows sorted by every field, each distinct row once: the hour slices of
``simbox watch`` (the wrapper of ``_slicerows.pyx``).

A row is a record of :data:`ROW_DTYPE` (the event columns, the subscriber first).  Rows
are ordered by every field in turn, as ``numpy.lexsort`` over the fields (last field
least significant) orders them, so that a subscriber's events are one run found by
binary search and exact duplicates are neighbours::

    rows = distinct(rows)                 # sorted, each distinct row once
    merged = merge_distinct(rows, more)   # rows (sorted, distinct) with more added

:func:`merge_distinct` sorts only ``more`` and merges it in one pass: adding a drop to an
hour's slice costs the drop's sort and a linear pass, not a sort of the whole hour.
"""
from __future__ import annotations

import numpy as np

from simbox.fastpath import _slicerows
from simbox.fastpath.events import COLUMNS

#: the fields of a row, in sort order (the subscriber first)
ROW_FIELDS = ("imsi", "time", "rtype", "imei", "msisdn", "other", "duration", "cell")
ROW_DTYPE = np.dtype([(n, dict(COLUMNS)[n]) for n in ROW_FIELDS])


def _rows(rows, what: str) -> np.ndarray:
    rows = np.asarray(rows)
    if rows.dtype != ROW_DTYPE:
        raise TypeError(f"{what}: rows of dtype {ROW_DTYPE} expected, got {rows.dtype}")
    return np.ascontiguousarray(rows)


def sort_rows(rows) -> np.ndarray:
    """A sorted copy of ``rows`` (stable)."""
    rows = _rows(rows, "sort_rows")
    order = np.empty(len(rows), np.int64)
    _slicerows.sort_order(rows, order)
    return rows[order]


def merge_distinct(old, new) -> np.ndarray:
    """The distinct rows of ``old`` and ``new``, sorted; ``old`` must be sorted already
    (an hour's slice: sorted and distinct), ``new`` may be in any order."""
    old = _rows(old, "merge_distinct")
    new = sort_rows(new)
    out = np.empty(len(old) + len(new), ROW_DTYPE)
    n = _slicerows.merge_distinct(old, new, out)
    return out[:n]


def distinct(rows) -> np.ndarray:
    """The distinct rows of ``rows`` (any order), sorted."""
    return merge_distinct(np.empty(0, ROW_DTYPE), rows)
