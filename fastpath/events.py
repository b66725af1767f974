"""The columnar event batch: the one format every reader produces.

Readers (CDR CSV, 3GPP BER, signaling pcap) turn records into :class:`EventBatch`
objects of bounded size; the aggregation kernels consume them.  Columns:

==========  =======  ==========================================================
column      dtype    meaning
==========  =======  ==========================================================
rtype       uint8    record type, one of :class:`RecordType`
time        int64    event start, epoch seconds UTC
imsi        int64    digits code of the IMSI (never 0 in a batch)
imei        int64    digits code of the IMEI / IMEISV, 0 = unknown
msisdn      int64    digits code of the subscriber's MSISDN, 0 = unknown
other       int64    digits code of the other party, 0 = none (DATA); for ATTACH
                     its source (signaling.SOURCES: 0 LTE, 1 MAP registration,
                     2 MAP authentication, 3 MAP CheckIMEI, 4 MAP location answer)
duration    int32    seconds, 0 for SMS and unanswered calls; for a MAP ATTACH the
                     LAC + 1 of its location (0 = unknown; LTE ATTACH: 0)
cell        int32    code in the reader's :class:`CellDict`, -1 = unknown
==========  =======  ==========================================================

Digits code
-----------
A string of decimal digits ``d`` (1 to 18 digits) is stored as the integer
``int("1" + d)``: the leading ``1`` keeps leading zeros and the length, so
``"0049"`` and ``"49"`` stay distinct, and numbers of the same length keep their
order and numeric distance (consecutive IMSIs stay consecutive).  ``0`` means
empty.  :func:`encode_digits` / :func:`decode_digits` convert; the kernels in
``_digits.pyx`` do the same on whole arrays.
"""
from __future__ import annotations

import enum
import re

import numpy as np

from simbox.fastpath import _digits

MAX_DIGITS = 18


class RecordType(enum.IntEnum):
    MOC = 0      # mobile-originated call
    MTC = 1      # mobile-terminated call
    SMS_MO = 2   # SMS sent
    SMS_MT = 3   # SMS received
    DATA = 4     # data session
    ATTACH = 5   # attach / location update seen in signaling


RECORD_TYPE_NAMES = [t.name for t in RecordType]

COLUMNS = (
    ("rtype", np.uint8),
    ("time", np.int64),
    ("imsi", np.int64),
    ("imei", np.int64),
    ("msisdn", np.int64),
    ("other", np.int64),
    ("duration", np.int32),
    ("cell", np.int32),
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
DTYPES = dict(COLUMNS)
BYTES_PER_EVENT = sum(np.dtype(t).itemsize for _, t in COLUMNS)


def encode_digits(s: str) -> int:
    """Digits code of a digit string (``""`` -> 0).  Raises ValueError otherwise."""
    if s == "":
        return 0
    if not s.isdigit() or not s.isascii():
        raise ValueError(f"not a digit string: {s!r}")
    if len(s) > MAX_DIGITS:
        raise ValueError(f"more than {MAX_DIGITS} digits: {s!r}")
    return int("1" + s)


def decode_digits(code: int) -> str:
    """Digit string of a digits code (0 -> ``""``)."""
    code = int(code)
    if code == 0:
        return ""
    if code < 10:
        raise ValueError(f"not a digits code: {code}")
    return str(code)[1:]


def digits_length(code: int) -> int:
    """Number of digits encoded in ``code`` (0 for empty)."""
    return 0 if code == 0 else len(str(int(code))) - 1


def decode_array(codes) -> np.ndarray:
    """Digit strings (object array) of an array of digits codes."""
    return _digits.decode_array(np.ascontiguousarray(codes, dtype=np.int64))


def decode_buffers(codes) -> tuple:
    """:func:`decode_array`'s texts as Arrow holds them: ``(data, offsets)``, their ASCII bytes
    (uint8) and the int64 offset of each (one more than the codes)."""
    return _digits.decode_buffers(np.ascontiguousarray(codes, dtype=np.int64))


_NUMERIC_CELL = re.compile(r"^([0-9]+)\.0+$")


def normalise_cell_id(token: str) -> str:
    """A cell id as both sides are matched: ``7585772.0`` -> ``7585772`` (others as given)."""
    if "." not in token:
        return token
    m = _NUMERIC_CELL.match(token)
    return m.group(1) if m else token


class CellDict:
    """Dictionary coding of cell tokens, shared by all readers of one run.

    ``code(token)`` gives the dense int32 code of a token, adding it if new;
    ``tokens[code]`` gives the token back.
    """

    def __init__(self, tokens=()):
        self.tokens: list[str] = []
        self._codes: dict[str, int] = {}
        for t in tokens:
            self.code(t)

    def code(self, token: str) -> int:
        c = self._codes.get(token)
        if c is None:
            c = len(self.tokens)
            self._codes[token] = c
            self.tokens.append(token)
        return c

    def get(self, token: str, default: int = -1) -> int:
        return self._codes.get(token, default)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token) -> bool:
        return token in self._codes

    def array(self) -> np.ndarray:
        """Tokens as an object array indexed by code."""
        return np.array(self.tokens, dtype=object)


class EventBatch:
    """A bounded chunk of events in columns (see the module docstring).

    ``columns`` maps each name of :data:`COLUMN_NAMES` to a 1-d array of the
    documented dtype, all of one length.  ``source`` names where it came from.
    ``reusable``: the arrays belong to this batch alone (see the attribute);
    ``home``: for a reusable batch, a callable that takes the column dict back
    (a reader refilling the same memory, see :meth:`recycle`).
    """

    __slots__ = ("rtype", "time", "imsi", "imei", "msisdn", "other", "duration", "cell", "source",
                 "reusable", "_home", "extra")

    def __init__(self, columns: dict, source: str | None = None, *, reusable: bool = False,
                 home=None, extra: dict | None = None):
        n = None
        for name, dtype in COLUMNS:
            arr = np.asarray(columns[name])
            if arr.dtype != dtype:
                arr = arr.astype(dtype)
            if arr.ndim != 1:
                raise ValueError(f"column {name} must be 1-d")
            if n is None:
                n = len(arr)
            elif len(arr) != n:
                raise ValueError(f"column {name} has {len(arr)} rows, expected {n}")
            setattr(self, name, arr)
        self.source = source
        # True when nothing else refers to the column arrays (a reader's fresh batch):
        # the one consumer may then overwrite them (the partitioner reuses their memory)
        self.reusable = reusable
        self._home = home if reusable else None
        # columns a profile keeps for later features (``keep``: trunks, a record kind):
        # header name -> object array of the raw values, one per event; None without
        self.extra = extra

    def recycle(self) -> None:
        """Hand the column arrays back to the reader that made them (if it takes them).

        Only its one consumer may call this, once done with the batch: the reader
        then parses a later batch into the same memory (no fresh pages per batch).
        """
        home, self._home = self._home, None
        if home is not None:
            home(self.columns())

    def __len__(self) -> int:
        return len(self.time)

    def columns(self) -> dict:
        return {name: getattr(self, name) for name in COLUMN_NAMES}

    @classmethod
    def empty(cls, source=None) -> "EventBatch":
        return cls({name: np.empty(0, dtype) for name, dtype in COLUMNS}, source)

    @classmethod
    def concat(cls, batches) -> "EventBatch":
        batches = list(batches)
        if not batches:
            return cls.empty()
        extra = None
        if all(b.extra is not None for b in batches):
            keys = set.intersection(*(set(b.extra) for b in batches))
            extra = {k: np.concatenate([b.extra[k] for b in batches]) for k in sorted(keys)}
        return cls({name: np.concatenate([getattr(b, name) for b in batches])
                    for name in COLUMN_NAMES}, extra=extra)

    def take(self, index) -> "EventBatch":
        extra = None if self.extra is None else {k: v[index] for k, v in self.extra.items()}
        return EventBatch({name: getattr(self, name)[index] for name in COLUMN_NAMES}, self.source,
                          extra=extra)

    def to_pandas(self, cells: CellDict | None = None):
        """A readable DataFrame (digits decoded, types named, times as UTC)."""
        import pandas as pd  # lazy: ~0.4 s, only for this DataFrame
        from simbox.fastpath.keys import decode_ids  # lazy: keys imports this module
        book = getattr(cells, "keys", None)
        df = pd.DataFrame({
            "record_type": pd.Categorical.from_codes(self.rtype.astype(np.int8), RECORD_TYPE_NAMES),
            "start_time": pd.to_datetime(self.time, unit="s", utc=True),
            "imsi": decode_ids(self.imsi, book),
            "imei": decode_ids(self.imei, book),
            "msisdn": decode_array(self.msisdn),
            "other_party": decode_array(self.other),
            "duration_s": self.duration,
        })
        if cells is not None:
            toks = np.array(cells.tokens + [""], dtype=object)
            df["cell_id"] = toks[self.cell]  # -1 picks the trailing ""
        else:
            df["cell"] = self.cell
        for name, values in (self.extra or {}).items():
            df[name] = values
        return df
