"""A scan's flags as one row of the history store (schema 2): its columns as arrays.

A scan's flagged (and excluded) SIMs are written as one row of ``flag_batches``, one BLOB
per column, each holding arrays in numpy's ``.npy`` format (read with
``allow_pickle=False``, whole or element by element through SQLite's incremental BLOB
reads):

- ``sim``: the keys, sorted, each as :func:`fixed_texts` encodes it (one width: a key is
  found by a binary search);
- ``score``: float64 (NaN: NULL, as SQLite keeps a NaN);
- each text column (:data:`TEXT_COLUMNS`): a dictionary of values (:func:`fixed_texts`)
  followed by each row's code in it: -1 for NULL; int8, int16 or int32, the smallest
  that holds the dictionary; one code alone: every row has it; no code: row ``i`` has
  value ``i`` (a column of distinct values, such as MSISDNs, without NULLs).

Inserting a scan is then one row (some 3 MB for 100,000 flags) instead of a row per flag
in three B-trees; the store's ``sims`` table (one row per SIM ever recorded) answers what a
scan asks of each SIM (flagged before? since when?), and what asks about one SIM searches
each batch's sorted keys from the SIM's first scan on (see :mod:`simbox.feedback.history`).
"""
from __future__ import annotations

import bisect
import functools
import io
import json

import numpy as np

from simbox.errors import InputError
from simbox.fastpath.csvwrite import json_fixed

__all__ = ["TEXT_COLUMNS", "COLUMNS", "Batch", "DamagedBatch", "fixed_texts", "texts_of",
           "json_texts", "pack"]

#: the text columns of a flag after its SIM and score
TEXT_COLUMNS = ("msisdn", "class", "deployment_id", "status", "excluded_by", "exclusion_reason")
#: every column of a batch, in the order of a row of schema 1's ``flags`` after ``scan_id``
COLUMNS = ("sim", "msisdn", "class", "score", "deployment_id", "status", "excluded_by",
           "exclusion_reason")

_END = 0xFF           # ends every encoded text: a byte UTF-8 never uses
#: at most this many keys are looked up one by one (binary searches of BLOB reads)
_FEW = 32


def _arrow(values):
    """The pyarrow array of a pandas Arrow-backed string array (else None)."""
    pa_array = getattr(values, "_pa_array", None)
    if pa_array is None:
        return None
    import pyarrow as pa  # (pandas holds it: imported already)
    arr = pa_array.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return arr


def fixed_texts(values) -> np.ndarray:
    """Texts (str: a list, an object array or a pandas Arrow string array, no missing
    value) as one numpy bytes array of one width: each text's UTF-8 then the byte 0xFF,
    padded with NULs.  The end byte keeps a text that ends with NUL characters apart from
    the same text without them (numpy drops trailing NULs when it compares), so two texts
    are equal exactly when their encodings are, and the order is a total one (not
    SQLite's: a text sorts after its own extensions)."""
    arr = _arrow(values)
    if arr is not None:             # straight from the Arrow buffers: no Python object
        import pyarrow as pa
        width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
        offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + len(arr) + 1]
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None \
            else np.zeros(0, np.uint8)
        lengths = np.diff(offsets).astype(np.int64)
        body = data[offsets[0]:offsets[-1]] if len(offsets) else data[:0]
    else:
        obj = np.asarray(values, dtype=object)
        try:
            body = np.frombuffer("".join(obj.tolist()).encode("ascii"), dtype=np.uint8)
            lengths = np.fromiter(map(len, obj), np.int64, len(obj))
        except UnicodeEncodeError:
            enc = [s.encode("utf-8") for s in obj]
            body = np.frombuffer(b"".join(enc), dtype=np.uint8)
            lengths = np.fromiter(map(len, enc), np.int64, len(enc))
    n = len(lengths)
    width = int(lengths.max()) + 1 if n else 1
    out = np.zeros((n, width), dtype=np.uint8)
    if n and (lengths == width - 1).all():
        out[:, :-1] = body.reshape(n, width - 1)
    elif n:
        out[np.arange(width) < lengths[:, None]] = body        # row by row, as concatenated
    out[np.arange(n), lengths] = _END
    return out.view(f"S{width}").ravel()


def texts_of(fixed: np.ndarray) -> list:
    """The texts :func:`fixed_texts` encoded."""
    return [b[:-1].decode("utf-8") for b in fixed.tolist()]


def json_texts(fixed: np.ndarray) -> str:
    """The JSON array of the texts :func:`fixed_texts` encoded (for SQLite's ``json_each``):
    written from the bytes by a kernel when no text needs escaping (printable ASCII, no
    quote or backslash: :func:`simbox.fastpath.csvwrite.json_fixed`), else by
    :func:`json.dumps`."""
    if not len(fixed):
        return "[]"
    text = json_fixed(fixed)
    return json.dumps(texts_of(fixed)) if text is None else text


def _npy(*arrays) -> bytes:
    buf = io.BytesIO()
    for a in arrays:
        np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _codes_dtype(n: int):
    return np.int8 if n < 2 ** 7 else np.int16 if n < 2 ** 15 else np.int32


def text_column(codes, uniques) -> bytes:
    """A text column from codes (-1: NULL) into ``uniques`` (:func:`fixed_texts`' input);
    ``codes`` None: row ``i`` is ``uniques[i]``."""
    if codes is None:
        return _npy(fixed_texts(uniques), np.zeros(0, dtype=np.int8))
    codes = np.asarray(codes)
    if len(codes) > 1 and (codes == codes[0]).all():
        codes = codes[:1]
    return _npy(fixed_texts(uniques), codes.astype(_codes_dtype(len(uniques)), copy=False))


def pack(sims: np.ndarray, score: np.ndarray, texts: dict) -> dict:
    """The BLOBs of a batch: ``sims`` (:func:`fixed_texts`, sorted, distinct), ``score``
    (float64) and, for each of :data:`TEXT_COLUMNS`, ``texts[name]`` = (codes, uniques) as
    :func:`text_column` takes them, every array in the order of ``sims``."""
    out = {"sim": _npy(sims), "score": _npy(np.asarray(score, dtype=np.float64))}
    for name in TEXT_COLUMNS:
        out[name] = text_column(*texts[name])
    return out


class _Arrays:
    """The arrays of one ``.npy`` BLOB (an open :class:`sqlite3.Blob`): read whole or
    element by element."""

    def __init__(self, blob, count: int):
        self.blob, self.parts, at = blob, [], 0
        size = len(blob)
        for _ in range(count):
            blob.seek(at)
            version = np.lib.format.read_magic(blob)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read(blob)
            start, n = blob.tell(), int(np.prod(shape))
            # (a damaged BLOB: every later read stays inside it, and no object is unpickled)
            if dtype.hasobject or dtype.itemsize == 0 or n < 0 or \
                    start + n * dtype.itemsize > size:
                raise ValueError(f"array {len(self.parts) + 1} of {dtype} x {n} does not fit "
                                 f"the {size:,} bytes")
            self.parts.append((start, n, dtype))
            at = start + n * dtype.itemsize

    def __len__(self):
        return self.parts[0][1]

    def whole(self, part: int = 0) -> np.ndarray:
        start, n, dtype = self.parts[part]
        self.blob.seek(start)
        return np.frombuffer(self.blob.read(n * dtype.itemsize), dtype=dtype)

    def at(self, i: int, part: int = 0):
        start, _, dtype = self.parts[part]
        self.blob.seek(start + i * dtype.itemsize)
        return np.frombuffer(self.blob.read(dtype.itemsize), dtype=dtype)[0]

    def take(self, rows: np.ndarray, part: int = 0) -> np.ndarray:
        """The elements at ``rows``: one by one when few, else from the whole array."""
        start, n, dtype = self.parts[part]
        if len(rows) > _FEW:
            return self.whole(part)[rows]
        out = np.empty(len(rows), dtype=dtype)
        for j, i in enumerate(rows.tolist()):
            out[j] = self.at(i, part)
        return out


class DamagedBatch(InputError):
    """A scan's flags that cannot be read back (a store damaged on disk or edited by hand)."""


#: what reading a damaged BLOB raises (numpy's header parser, a short read, a code past
#: the dictionary, bytes that are not UTF-8)
_DAMAGE = (ValueError, EOFError, IndexError, UnicodeDecodeError, SyntaxError)


def _guarded(method):
    """``method`` of :class:`Batch`, raising :class:`DamagedBatch` (one line: the scan and
    the column) for what reading a damaged BLOB raises."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DamagedBatch:
            raise
        except _DAMAGE as exc:
            raise DamagedBatch(f"{self.where}: the flags of scan {self.scan_id} are damaged "
                               f"({type(exc).__name__}: {str(exc)[:200]}); restore the store "
                               "from a backup") from None
    return wrapper


class Batch:
    """One scan's flags as read back from ``flag_batches``: ``open(column)`` gives the
    column's BLOB (:class:`sqlite3.Blob`, read only), opened on first use.  Its reads raise
    :class:`DamagedBatch` (naming ``where``, the store) when the BLOBs are not what
    :func:`pack` wrote."""

    def __init__(self, scan_id: int, open_blob, where: str = "history store"):
        self.scan_id, self.where = scan_id, where
        self._open = open_blob
        self._cols: dict = {}

    def _col(self, name: str) -> _Arrays:
        if name not in self._cols:
            self._cols[name] = _Arrays(self._open(name), 1 if name in ("sim", "score") else 2)
        return self._cols[name]

    @property
    @_guarded
    def sims(self) -> np.ndarray:
        """The keys (:func:`fixed_texts`), sorted."""
        return self._col("sim").whole()

    @_guarded
    def __len__(self) -> int:
        return len(self._col("sim"))

    @_guarded
    def find(self, wanted: np.ndarray) -> np.ndarray:
        """Each wanted key's row (:func:`fixed_texts`), -1 where the batch lacks it: a few
        by binary searches of single keys, many against the whole sorted array."""
        col = self._col("sim")
        n = len(col)
        if len(wanted) <= _FEW:
            keys = _Lazy(col, n)
            out = np.full(len(wanted), -1, dtype=np.intp)
            for j, w in enumerate(wanted.tolist()):
                i = bisect.bisect_left(keys, w)
                if i < n and keys[i] == w:
                    out[j] = i
            return out
        sims = col.whole()
        if not n or not len(wanted):
            return np.full(len(wanted), -1, dtype=np.intp)
        at = np.searchsorted(sims, wanted)
        hit = at < n
        hit[hit] = sims[at[hit]] == wanted[hit]
        return np.where(hit, at, -1)

    @_guarded
    def score(self, rows=None) -> np.ndarray:
        col = self._col("score")
        return col.whole() if rows is None else col.take(np.asarray(rows))

    @_guarded
    def codes(self, name: str, rows=None) -> np.ndarray:
        """A text column's codes at ``rows`` (all: None)."""
        col = self._col(name)
        n = len(self)
        _, count, _ = col.parts[1]
        if count == 0:                                   # row i: value i
            return np.arange(n) if rows is None else np.asarray(rows)
        if count == 1:                                   # one code for every row
            return np.full(n if rows is None else len(rows), col.at(0, 1))
        return col.whole(1) if rows is None else col.take(np.asarray(rows), 1)

    @_guarded
    def texts(self, name: str, rows=None) -> list:
        """A text column's values (str or None) at ``rows`` (all: None)."""
        codes = self.codes(name, rows)
        used = np.unique(codes[codes >= 0])
        words = dict(zip(used.tolist(), texts_of(self._col(name).take(used, 0))))
        return [words.get(c) for c in codes.tolist()]

    @_guarded
    def rows_with(self, name: str, values) -> np.ndarray:
        """The rows whose text column ``name`` holds one of ``values`` (str)."""
        want = np.flatnonzero(np.isin(self._col(name).whole(0), fixed_texts(list(values))))
        return np.flatnonzero(np.isin(self.codes(name), want))

    @_guarded
    def rows(self, rows=None) -> dict:
        """Every column at ``rows`` (all: None), as lists: ``sim``, ``score``, the texts."""
        sims = self.sims if rows is None else self._col("sim").take(np.asarray(rows))
        out = {"sim": texts_of(sims)}
        out["score"] = [None if s != s else s for s in self.score(rows).tolist()]
        for name in TEXT_COLUMNS:
            out[name] = self.texts(name, rows)
        return out


class _Lazy:
    """A BLOB's array read element by element (for :func:`bisect.bisect_left`)."""

    def __init__(self, col: _Arrays, n: int):
        self.col, self.n = col, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return bytes(self.col.at(i))
