"""CSV rows written by a kernel: the csv module's bytes for columns of numbers and texts.

:func:`csv_chunks` yields the bytes of the rows of ``columns`` (float64, int64 and
bool arrays, lists of ``str``) in chunks of :data:`CHUNK_ROWS` rows, as
``csv.writer(f, lineterminator="\\n").writerows(zip(*texts))`` writes them when
``texts`` holds each float as ``"%.{precision}g" % v`` (NaN empty), each integer and
bool as ``str`` of it, each time (:data:`TIME`: int64 seconds since 1970, UTC; NaT
empty, see :func:`time_column`) as ``numpy.datetime_as_string(unit="s") + "Z"``, and
the texts as they are.  When a value is one the kernel leaves to the csv module (a
carriage return, a text not exactly a ``str``, a time outside the years 1-9999), it
yields None and stops: the caller writes the table with the csv module instead.

:func:`json_text` writes rows as JSON in the same way (the history store's insert of a
scan's flags), or leaves them to ``json.dumps`` when a text needs an escape.
"""
from __future__ import annotations

import json

import numpy as np

from simbox.fastpath import _csvwrite

TEXT, FLOAT, INT, BOOL, TIME = 0, 1, 2, 3, 4
CHUNK_ROWS = 1 << 16


def kernel_column(values):
    """``(kind, column)`` for :func:`csv_chunks`: a float, integer or bool numpy array as the
    kernel reads it; None for anything else (the caller passes it as texts)."""
    if not isinstance(values, np.ndarray) or values.ndim != 1:
        return None
    k, size = values.dtype.kind, values.dtype.itemsize
    if k == "f":
        return FLOAT, np.ascontiguousarray(values, dtype=np.float64)
    if k == "i" or (k == "u" and size < 8):
        return INT, np.ascontiguousarray(values, dtype=np.int64)
    if k == "b":
        return BOOL, np.ascontiguousarray(values).view(np.uint8)
    return None


def time_column(values: np.ndarray) -> np.ndarray:
    """A ``datetime64`` array (UTC, naive) as :data:`TIME` values: whole seconds, floored
    as ``astype("datetime64[s]")`` does; NaT stays NaT (numpy's int64 minimum)."""
    return np.ascontiguousarray(values.astype("datetime64[s]").view(np.int64))


def csv_chunks(columns: list, kinds: list, precision: int = 10):
    """The bytes of the rows, :data:`CHUNK_ROWS` at a time; None (then nothing more) when
    a text must be written by the csv module."""
    kinds = np.asarray(kinds, dtype=np.uint8)
    n = len(columns[0]) if columns else 0
    for j, (c, k) in enumerate(zip(columns, kinds)):
        ok = isinstance(c, list) if k == TEXT else \
            isinstance(c, np.ndarray) and c.flags.c_contiguous and \
            c.dtype == {FLOAT: np.float64, INT: np.int64, BOOL: np.uint8,
                        TIME: np.int64}.get(int(k))
        if not ok or len(c) != n:
            raise ValueError(f"column {j}: not {n} values of kind {k}")
    for start in range(0, n, CHUNK_ROWS):
        chunk = _csvwrite.csv_rows(columns, kinds, precision, start, min(n, start + CHUNK_ROWS))
        yield chunk
        if chunk is None:
            return


def json_text(columns: list, nulls: list | None = None) -> str:
    """``json.dumps(list(zip(*columns)), ensure_ascii=False, separators=(",", ":"))``
    (``allow_nan=False``): ``columns`` are lists of ``str`` or None (``null``) and int64
    arrays, an integer column ``null`` where ``nulls[j]`` (a bool array, or None) is true.
    The kernel writes the rows; a text that needs an escape (a quote, a backslash, a
    control character), or a value of another type, leaves them to ``json.dumps``."""
    n = len(columns[0]) if columns else 0
    nulls = list(nulls) if nulls is not None else [None] * len(columns)
    kinds, cols, masks = [], [], []
    for j, (c, z) in enumerate(zip(columns, nulls)):
        if isinstance(c, np.ndarray) and c.dtype == np.int64 and c.ndim == 1:
            kinds.append(INT)
            cols.append(np.ascontiguousarray(c))
            masks.append(None if z is None else np.ascontiguousarray(z, dtype=bool).view(np.uint8))
        elif isinstance(c, list) and z is None:
            kinds.append(TEXT)
            cols.append(c)
            masks.append(None)
        else:
            raise ValueError(f"column {j}: not a list of texts nor an int64 array")
        if len(c) != n or (masks[-1] is not None and len(masks[-1]) != n):
            raise ValueError(f"column {j}: not {n} values")
    try:
        text = _csvwrite.json_rows(cols, np.asarray(kinds, dtype=np.uint8), masks, n)
    except UnicodeEncodeError:       # a lone surrogate: json.dumps writes it as it is
        text = None
    if text is not None:
        return text
    rows = [c.tolist() if k == INT else c for c, k in zip(cols, kinds)]
    for r, z in zip(rows, masks):
        if z is not None:
            for i in np.flatnonzero(z):
                r[i] = None
    return json.dumps(list(zip(*rows)), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))
