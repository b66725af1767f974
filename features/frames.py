"""Tables without pandas: ``simbox features`` never imports it (its import takes longer
than the whole command on a small input).  DataFrames given by library callers are told
apart without importing pandas, and the Arrow table of the feature columns is built
from their buffers.
"""
from __future__ import annotations

import sys

import numpy as np


def _pandas():
    """pandas if it is imported (a DataFrame can only exist then), else None."""
    return sys.modules.get("pandas")


def is_frame(x) -> bool:
    """A pandas DataFrame (without importing pandas)."""
    return _is_a(x, "DataFrame")


def is_series(x) -> bool:
    """A pandas Series (without importing pandas)."""
    return _is_a(x, "Series")


def _is_a(x, name: str) -> bool:
    """``x`` is a ``pandas.<name>``; False while pandas is being imported by another thread
    (``simbox scan`` imports it beside the feature run: :mod:`simbox.features_ahead`) and
    has no such class yet, when no such object can exist."""
    cls = getattr(_pandas(), name, None)
    return cls is not None and isinstance(x, cls)


def arrow_table(columns: dict):
    """The pyarrow Table of :attr:`FeatureResult.columns`, as ``pa.Table.from_pandas``
    makes it of ``features.reset_index()`` (imsi a large_string first, NaN as null).

    Built from buffers: ``pa.array`` imports pandas (to ask whether its input is a
    pandas object).
    """
    import pyarrow as pa    # lazy: ~80 ms, only to write Parquet
    arrays = {}
    for name, a in columns.items():
        a = np.ascontiguousarray(a)
        if name == "imsi":
            arrays[name] = _arrow_strings(a)
            continue
        if a.dtype.kind not in "iuf":
            raise TypeError(f"feature column {name!r}: dtype {a.dtype} is not numeric")
        mask = np.isnan(a) if a.dtype.kind == "f" else None
        nulls = int(mask.sum()) if mask is not None else 0
        valid = pa.py_buffer(np.packbits(~mask, bitorder="little")) if nulls else None
        arrays[name] = pa.Array.from_buffers(pa.from_numpy_dtype(a.dtype), len(a),
                                             [valid, pa.py_buffer(a)], null_count=nulls)
    return pa.table(arrays)


def _arrow_strings(a: np.ndarray):
    """A large_string pyarrow Array of a numpy str array (no nulls)."""
    import pyarrow as pa    # lazy: ~80 ms, only to write Parquet
    n = len(a)
    offsets = np.zeros(n + 1, np.int64)
    try:
        b = a.astype("S")                   # IMSIs: ASCII digits, one fixed-width block
    except UnicodeEncodeError:
        b = None
    if b is not None and n and b.dtype.itemsize:
        mat = b.view(np.uint8).reshape(n, b.dtype.itemsize)
        keep = mat != 0                     # the NUL padding after each string
        np.cumsum(keep.sum(axis=1), out=offsets[1:])
        data = mat[keep].tobytes()
    else:
        enc = [s.encode() for s in a.tolist()]
        np.cumsum(np.fromiter(map(len, enc), np.int64, n), out=offsets[1:])
        data = b"".join(enc)
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets),
                                                       pa.py_buffer(data)], null_count=0)
