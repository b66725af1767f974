"""CSV rows written by a kernel: the csv module's bytes for columns of numbers and texts.

:func:`csv_chunks` yields the bytes of the rows of ``columns`` (float64, int64 and
bool arrays, lists of ``str``, object arrays (:data:`OBJECTS`: each ``str`` written, None
and float NaN empty), texts as Arrow holds them: :func:`arrow_text`, repeated texts
as codes into their distinct values: :func:`codes_column`) in chunks of :data:`CHUNK_ROWS` rows, as
``csv.writer(f, lineterminator="\\n").writerows(zip(*texts))`` writes them when
``texts`` holds each float as ``"%.{precision}g" % v`` (NaN empty), each integer and
bool as ``str`` of it, each time (:data:`TIME`: int64 seconds since 1970, UTC; NaT
empty, see :func:`time_column`) as ``numpy.datetime_as_string(unit="s") + "Z"``, and
the texts as they are.  When a value is one the kernel leaves to the csv module (a
carriage return, a text not exactly a ``str``, an object of an OBJECTS column neither a
``str``, None nor a float NaN, a time outside the years 1-9999), it
yields None and stops: the caller writes the table with the csv module instead.  A table
without a list of ``str`` or an object array is written with the GIL released (a thread may
write another).

:func:`json_text` writes rows as JSON in the same way (the history store's insert of a
scan's flags), or leaves them to ``json.dumps`` when a text needs an escape.
"""
from __future__ import annotations

import json

import numpy as np

from simbox.fastpath import _csvwrite

TEXT, FLOAT, INT, BOOL, TIME, ARROW, CODES, OBJECTS = 0, 1, 2, 3, 4, 5, 6, 7
#: rows a chunk: about 1 MB of a wide table (flagged.csv, 22 columns).  Chunks of this size are
#: taken by the allocator from memory it has had back (two at a time: one written, one made),
#: where chunks of 65,536 rows (19 MB) were fresh pages each scan: 7,000 page faults, some
#: 20 ms of a 100,000-row flagged.csv
CHUNK_ROWS = 1 << 12


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


def first_chars_in(values, table: np.ndarray) -> np.ndarray:
    """Whether each of the objects ``values`` is a ``str`` whose first character is one of
    ``table`` (256 booleans, by character code): one look-up a value, no value hashed."""
    values = np.ascontiguousarray(values, dtype=object)
    table = np.ascontiguousarray(table, dtype=bool)
    if values.ndim != 1:
        raise ValueError(f"not one column of values: {values.ndim} dimensions")
    if table.shape != (256,):
        raise ValueError(f"the table of characters has {table.size} entries, not 256")
    out = np.empty(len(values), dtype=np.uint8)
    _csvwrite.first_chars_in(values, table.view(np.uint8), out)
    return out.view(bool)


def first_bytes_in(texts: tuple, table: np.ndarray) -> np.ndarray:
    """:func:`first_chars_in` of an :data:`ARROW` column ``texts`` (:func:`arrow_text`) for
    ASCII characters (``table`` true only below 128): whether each valid, non-empty text's
    first byte is one of ``table``."""
    data, offsets, valid = texts
    table = np.ascontiguousarray(table, dtype=bool)
    if table.shape != (256,) or table[128:].any():
        raise ValueError("the table of characters must have 256 entries, true only below 128")
    if not _arrow_ok(texts, len(valid)):
        raise ValueError("not texts as arrow_text gives them")
    out = np.empty(len(valid), dtype=np.uint8)
    _csvwrite.first_bytes_in(data, offsets, valid, table.view(np.uint8), out)
    return out.view(bool)


def time_column(values: np.ndarray) -> np.ndarray:
    """A ``datetime64`` array (UTC, naive) as :data:`TIME` values: whole seconds, floored
    as ``astype("datetime64[s]")`` does; NaT stays NaT (numpy's int64 minimum)."""
    return np.ascontiguousarray(values.astype("datetime64[s]").view(np.int64))


def csv_chunks(columns: list, kinds: list, precision: int = 10):
    """The bytes of the rows, :data:`CHUNK_ROWS` at a time; None (then nothing more) when
    a text must be written by the csv module."""
    kinds = np.asarray(kinds, dtype=np.uint8)
    n = _rows(columns[0], kinds[0]) if columns else 0
    for j, (c, k) in enumerate(zip(columns, kinds)):
        if k == ARROW:
            ok = _arrow_ok(c, n)
        elif k == CODES:
            ok = _codes_ok(c, n, j)
        else:
            ok = (isinstance(c, list) if k == TEXT else
                  isinstance(c, np.ndarray) and c.dtype == object and c.ndim == 1 and
                  c.flags.c_contiguous if k == OBJECTS else
                  isinstance(c, np.ndarray) and c.flags.c_contiguous and
                  c.dtype == {FLOAT: np.float64, INT: np.int64, BOOL: np.uint8,
                              TIME: np.int64}.get(int(k))) and len(c) == n
        if not ok:
            raise ValueError(f"column {j}: not {n} values of kind {k}")
    for start in range(0, n, CHUNK_ROWS):
        chunk = _csvwrite.csv_rows(columns, kinds, precision, start, min(n, start + CHUNK_ROWS))
        yield chunk
        if chunk is None:
            return


def _rows(column, kind) -> int:
    """The rows of a column of ``kind`` (an ARROW column: its validity's; CODES: its codes')."""
    if kind in (ARROW, CODES) and isinstance(column, tuple) and len(column) == 3:
        return len(column[2] if kind == ARROW else column[0])
    return len(column)


def arrow_text(array) -> tuple:
    """An :data:`ARROW` column of a pyarrow ``string`` or ``large_string`` array (or chunked
    array): ``(data, offsets, valid)``, the UTF-8 bytes, the int64 offsets of each value
    (one more than the values) and 1 per valid value (a null is written empty, as
    ``csv_texts`` writes a missing value): the texts as Arrow holds them, no ``str`` made."""
    import pyarrow as pa  # lazy: only for Arrow-backed text columns (pandas has imported it)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        raise ValueError(f"not an Arrow text array: {array.type}")
    n = len(array)
    buffers = array.buffers()
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(buffers[1], dtype=width)[array.offset:array.offset + n + 1] \
        if n else np.zeros(1, dtype=width)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None and \
        buffers[2].size else np.zeros(1, dtype=np.uint8)
    valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else \
        np.ones(n, dtype=bool)
    return (data, np.ascontiguousarray(offsets, dtype=np.int64),
            np.ascontiguousarray(valid, dtype=bool).view(np.uint8))


def codes_column(codes, texts) -> tuple:
    """A :data:`CODES` column: each row's ``codes`` (integers; -1: a missing value, written
    empty) into ``texts`` (a list of ``str``, each written as a text field is): ``(codes,
    data, offsets)``, the codes as int64 and the texts' UTF-8 bytes and int64 offsets (one
    more than the texts).  Each distinct text is quoted once, then copied per row: for
    columns of few distinct texts (a class, a deployment, a reason repeated)."""
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8)
    return np.ascontiguousarray(codes, dtype=np.int64), data, offsets


def _codes_ok(c, n: int, j: int) -> bool:
    """Whether ``c`` is a :data:`CODES` column of ``n`` rows (a code out of range: ValueError
    naming it)."""
    if not (isinstance(c, tuple) and len(c) == 3 and
            all(isinstance(a, np.ndarray) and a.ndim == 1 and a.flags.c_contiguous for a in c)):
        return False
    codes, data, offsets = c
    if not (codes.dtype == np.int64 and data.dtype == np.uint8 and offsets.dtype == np.int64 and
            len(codes) == n and len(data) > 0 and len(offsets) >= 1 and offsets[0] >= 0 and
            offsets[-1] <= len(data) and bool((offsets[1:] >= offsets[:-1]).all())):
        return False
    k = len(offsets) - 1
    bad = (codes < -1) | (codes >= k)
    if bad.any():
        raise ValueError(f"column {j}: code {int(codes[np.argmax(bad)])} in row "
                         f"{int(np.argmax(bad))} is not one of its {k} texts (0 to {k - 1}, "
                         "or -1 for none)")
    return True


def _arrow_ok(c, n: int) -> bool:
    """Whether ``c`` is an :data:`ARROW` column of ``n`` values the kernel may trust."""
    if not (isinstance(c, tuple) and len(c) == 3 and
            all(isinstance(a, np.ndarray) and a.ndim == 1 and a.flags.c_contiguous for a in c)):
        return False
    data, offsets, valid = c
    return data.dtype == np.uint8 and offsets.dtype == np.int64 and valid.dtype == np.uint8 and \
        len(data) > 0 and len(offsets) == n + 1 and len(valid) == n and \
        (n == 0 or (offsets[0] >= 0 and offsets[-1] <= len(data) and
                    bool((offsets[1:] >= offsets[:-1]).all())))


def json_fixed(fixed: np.ndarray) -> str | None:
    """``json.dumps`` of the texts of a numpy bytes array laid out as
    ``simbox.feedback.flagbatch.fixed_texts`` lays them out (each text's UTF-8, 0xFF, NULs),
    written by the kernel; None when a text may need an escape (a byte that is not printable
    ASCII, a quote, a backslash) or a row is not laid out so."""
    width = fixed.dtype.itemsize
    if fixed.dtype.kind != "S" or width == 0:
        raise ValueError(f"not texts of one width: {fixed.dtype}")
    return _csvwrite.json_fixed(np.ascontiguousarray(fixed).view(np.uint8).reshape(len(fixed),
                                                                                    width))


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
