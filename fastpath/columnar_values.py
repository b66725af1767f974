"""Arrow columns into event columns through the ``_columnar`` kernels (the columnar
readers' fast path, ``columnar.py``).

:class:`Values` reads a column of any layout the kernels take in place (text,
dictionary, integers, decimals; timestamps are ``columnar.py``'s) under a field's rule
(:data:`RULES`, those of the CSV kernel), remembering the codes of the last dictionary
per field; :func:`record_type_codes` and :func:`cell_table` build the codes of the
distinct record types and cell tokens of a batch.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simbox.fastpath import _columnar
from simbox.fastpath.csvread import MAX_RECORD
from simbox.fastpath.events import RecordType

MAX_DURATION = 172800
MEMO = 1 << 18                  # cell tokens remembered by a reader (then forgotten at once)


def _address(buf) -> int:
    return buf.address if buf is not None else 0


def text_column(arr):
    """A :class:`_columnar.Text` over a ``string``, ``large_string`` or ``string_view`` array
    (by its buffers, no copy; it holds the array), or None for another type."""
    t = arr.type
    if pa.types.is_string(t):
        layout = _columnar.TEXT_OFFSETS32
    elif pa.types.is_large_string(t):
        layout = _columnar.TEXT_OFFSETS64
    elif STRING_VIEW is not None and t == STRING_VIEW:
        bufs = arr.buffers()
        data = np.array([_address(b) for b in bufs[2:]], np.uint64)
        return _columnar.Text(_columnar.TEXT_VIEWS, len(arr), arr.offset, _address(bufs[0]),
                              _address(bufs[1]), 0, data, arr)
    else:
        return None
    bufs = arr.buffers()
    return _columnar.Text(layout, len(arr), arr.offset, _address(bufs[0]), _address(bufs[1]),
                          _address(bufs[2]), None, arr)


STRING_VIEW = pa.string_view() if hasattr(pa, "string_view") else None
_INDEX = {8: np.int8, 16: np.int16, 32: np.int32, 64: np.int64}


def int64s(arr):
    """(int64 numpy view of the values, validity address, offset, the array owning the
    validity bitmap: keep it while the address is used) of an integer, decimal (scale 0)
    or timestamp array, or None when its values do not fit int64."""
    t = arr.type
    if pa.types.is_timestamp(t):
        arr = arr.view(pa.int64())
    elif not (pa.types.is_integer(t) and t.bit_width == 64 and pa.types.is_signed_integer(t)):
        if pa.types.is_decimal(t) and t.scale != 0:
            return None
        try:
            arr = arr.cast(pa.int64())          # safe: fails on a value out of range
        except pa.ArrowInvalid:
            return None
    bufs = arr.buffers()
    v = np.frombuffer(bufs[1], np.int64, count=len(arr), offset=8 * arr.offset) \
        if len(arr) else np.zeros(0, np.int64)
    return v, _address(bufs[0]), arr.offset, arr


class Values:
    """Fills event columns from Arrow columns of any layout through the ``_columnar``
    kernels.  A dictionary column repeats its row group's dictionary in every read batch:
    the codes of the last dictionary seen per field are kept with it, and reused while the
    dictionaries are equal."""

    def __init__(self):
        self._dicts = {}
        self._scratch = np.empty(0, np.int64)

    def fill(self, arr, rule, out) -> bool:
        """``out`` = the values of ``arr`` (Array or ChunkedArray) under ``rule`` (kind, lo,
        hi, empty_ok, plus_ok); False at the first value not plain."""
        if isinstance(arr, pa.ChunkedArray):
            k = 0
            for chunk in arr.chunks:
                if not self.fill(chunk, rule, out[k:k + len(chunk)]):
                    return False
                k += len(chunk)
            return True
        kind, lo, hi, empty_ok, plus_ok = rule
        t = arr.type
        if pa.types.is_dictionary(t):
            null_ok = kind == _columnar.SECONDS or (kind == _columnar.DIGITS and empty_ok)
            return self._gather(arr, rule, lambda d: self._convert(d, rule), null_ok, 0, out)
        col = text_column(arr)
        if col is not None:
            return _columnar.text_values(col, kind, lo, hi, empty_ok, plus_ok, out) == -1
        if kind == _columnar.ISO or not (pa.types.is_integer(t) or pa.types.is_decimal(t)):
            return False
        got = int64s(arr)
        return got is not None and _columnar.int_values(got[0], got[1], got[2], kind, lo, hi,
                                                        empty_ok, out) == -1

    def _convert(self, d, rule):
        """(codes, bad) of each value of a dictionary under ``rule``."""
        table, bad = np.empty(len(d), np.int64), np.empty(len(d), np.uint8)
        col = text_column(d)
        if col is not None:
            _columnar.text_values(col, *rule, table, bad)
        else:                               # a dictionary of integers: each value alone
            for i in range(len(d)):
                bad[i] = not self.fill(d.slice(i, 1), rule, table[i:i + 1])
        return table, bad

    def codes(self, arr, key, build, null_value, out) -> bool:
        """``out`` = the code ``build`` gives each distinct value of a text column (``build``:
        list of str -> (int64 codes, uint8 bad)); null as ``null_value``; False at a bad one."""
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if not pa.types.is_dictionary(arr.type):
            if text_column(arr) is None:
                arr = arr.cast(pa.string())
            arr = pc.dictionary_encode(arr)
        return self._gather(arr, key, lambda d: build(d.cast(pa.string()).to_pylist()),
                            null_value is not None, null_value or 0, out)

    def _gather(self, arr, key, convert, null_ok, null_value, out) -> bool:
        d = arr.dictionary
        got = self._dicts.get(key)
        if got is None or not (len(got[0]) == len(d) and got[0].equals(d)):
            got = self._dicts[key] = (d, *convert(d))
        idx = arr.indices
        bufs = idx.buffers()
        v = np.frombuffer(bufs[1], _INDEX[idx.type.bit_width], count=len(idx),
                          offset=idx.type.bit_width // 8 * idx.offset) if len(idx) else \
            np.zeros(0, np.int32)
        if out.dtype == np.int64:
            return _columnar.gather(v, _address(bufs[0]), idx.offset, got[1], got[2], null_ok,
                                    null_value, out) == -1
        if len(self._scratch) < len(idx):
            self._scratch = np.empty(len(idx), np.int64)
        tmp = self._scratch[:len(idx)]
        if _columnar.gather(v, _address(bufs[0]), idx.offset, got[1], got[2], null_ok,
                            null_value, tmp) != -1:
            return False
        out[:] = tmp
        return True


#: (kind, lo, hi, empty_ok, plus_ok) of each field: the CSV kernel's (``_csvread.pyx``)
RULES = {"imsi": (_columnar.DIGITS, 15, 15, False, False),
         "imei": (_columnar.DIGITS, 14, 16, True, False),
         "msisdn": (_columnar.DIGITS, 1, 18, True, True),
         "other_party": (_columnar.DIGITS, 1, 18, True, True),
         "duration_s": (_columnar.SECONDS, 0, MAX_DURATION, True, False),
         "start_time": (_columnar.ISO, 0, 0, False, False)}


def record_type_codes(m):
    """build for :meth:`Values.codes`: the code of each record type word of the profile's
    table; bad when not in it or skipped."""
    def build(values):
        rts = [m.record_types.get(v, "?") for v in values]
        bad = np.array([rt is None or rt == "?" for rt in rts], np.uint8)
        return np.array([0 if b else int(RecordType[rt]) for rt, b in zip(rts, bad)],
                        np.int64), bad
    return build


def cell_table(cells):
    """build for :meth:`Values.codes`: the code in ``cells`` of each cell token (-1: empty);
    bad when it holds a space or a ``.`` (the normaliser trims and reads ``7585772.0`` as
    ``7585772``) or is longer than a record may be."""
    memo = {}                   # token -> code (-2: bad), for columns not dictionary-encoded

    def one(v):
        c = memo[v] = -2 if "." in v or v != v.strip() or len(v) > MAX_RECORD else \
            cells.code(v) if v else -1
        return c

    def build(values):
        if len(memo) > MEMO:
            memo.clear()
        codes = np.array([memo[v] if v in memo else one(v) for v in values], np.int64)
        bad = (codes == -2).astype(np.uint8)
        return codes, bad
    return build
