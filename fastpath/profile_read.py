"""The profiled engine: real operator exports read through a column profile, streaming.

The Cython kernel (``csvread.py``) reads every profile it can express; the
profiles it cannot (``ColumnMapping.engine == "profile"``: a subscriber key other
than the IMSI, null tokens, a time split over two columns, DST-aware local
times, record types from a word and a code column, served and other party
swapped per record type, device tokens, one column feeding several fields) are
read here, into the same :class:`EventBatch` objects, with the same reasons,
counts and rejects file.

How: pyarrow's streaming CSV reader (``pyarrow.csv.open_csv``, blocks of
``BLOCK_BYTES``, every column read as text) and vectorised normalisation of
each record batch (``pyarrow.compute`` and numpy):

1. fields are trimmed; empty fields and the profile's ``null_tokens`` are empty;
2. the record type is looked up as ``word|code`` (two columns), then ``word``;
   a type mapped to null is *skipped* (counted, not rejected);
3. the fields of a record type listed in ``parties`` come from its columns
   (a terminating record's served subscriber in the B-party columns);
4. the time is the time column, or ``date + " " + time``, parsed with the
   profile's format; a time without a zone is local time of ``timezone``
   (IANA, DST-aware: an ambiguous or skipped wall-clock time takes the earlier
   instant) or of ``utc_offset``.  Impossible dates (Feb 30) are rejected: the
   parsed time printed back must equal the text (one-digit fields padded);
5. digits fields as in the kernel, ``7585772.0`` read as ``7585772`` when
   ``float_numbers``; cell parts are always read so (on both sides: the cell
   table's ids are normalised the same way, ``events.normalise_cell_id``);
6. the subscriber key (``simbox.fastpath.keys``): the IMSI, the MSISDN, a hashed
   token, or per record the IMSI with a fallback to the MSISDN.

A record's first failure, in the kernel's order (field count, record type,
time, subscriber key, imei, msisdn, other_party, duration), is its reason.
``line`` in the rejects file is the record's number counting the header as 1
(the physical line unless a quoted value spans lines or blank lines come
before); ``byte_offset`` is empty; ``record`` is the record's fields joined
again with the separator.
"""
from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from simbox.errors import ConfigError, EmptyInputError, InputError
from simbox.fastpath.badrecords import BadRecords
from simbox.fastpath.columns import (ColumnMapping, _missing_message, _norm, load_mapping,
                                      no_header_message)
from simbox.fastpath.csvread import _Reader
from simbox.fastpath.events import COLUMNS, CellDict, EventBatch, RecordType
from simbox.fastpath.keys import MSISDN_BASE, KeyBook
from simbox.fastpath.stats import ReadStats, check_policy
from simbox.progress import as_progress

BLOCK_BYTES = 4 << 20
MAX_DURATION = 172800
NO_KEY = "no subscriber key"

# reasons in the order they are checked (the kernel's wording)
R_UTF8, R_TYPE, R_TIME, R_IMSI, R_MSISDN_KEY, R_NOKEY, R_IMEI, R_MSISDN, R_OTHER, R_DUR = \
    range(1, 11)
REASON_TEXT = {R_UTF8: "not UTF-8", R_TYPE: "unknown record type", R_TIME: "unparsable time",
               R_IMSI: "imsi is not 15 digits", R_MSISDN_KEY: "msisdn is not a digit string",
               R_NOKEY: NO_KEY, R_IMEI: "imei is not 14-16 digits",
               R_MSISDN: "msisdn is not a digit string",
               R_OTHER: "other_party is not a digit string",
               R_DUR: "duration is not 0-172800 seconds"}
FIELD_COUNT = "wrong field count"


class _Content(io.RawIOBase):
    """The content of a :class:`~simbox.fastpath.bytesource.ByteSource` for pyarrow, whole
    lines only when a damaged gzip stream ends it: the record cut by the damage is kept
    back (``cut``) and rejected by the reader, as the kernel does."""

    def __init__(self, src):
        self.src = src
        self.pending = b""          # content ready to hand over
        self.tail = b""             # content after the last line end seen
        self.ended = False
        self.cut = None             # the incomplete last record of a damaged stream

    @property
    def pos(self) -> int:
        return self.src.raw_pos

    def readable(self):
        return True

    def readinto(self, b):
        mv = memoryview(b).cast("B")
        while True:
            if self.pending:
                k = min(len(mv), len(self.pending))
                mv[:k] = self.pending[:k]
                self.pending = self.pending[k:]
                return k
            if self.ended or not len(mv):
                return 0
            data = self.src.read(max(len(mv), 1 << 16))
            if not data:
                self.ended = True
                if self.src.problem is None:
                    self.pending = self.tail
                else:
                    self.cut = self.tail
                self.tail = b""
                continue
            data = self.tail + data if self.tail else data
            nl = data.rfind(b"\n")
            if nl < 0:
                self.tail = data
                continue
            self.pending, self.tail = data[:nl + 1], data[nl + 1:]


def read_profiled_events(source, *, mapping, cells: CellDict | None = None,
                         stats: ReadStats | None = None, rejects=None,
                         on_bad_records: str = "skip", chunk_rows: int = 1_000_000,
                         progress=None, name: str | None = None):
    """Iterate over the :class:`EventBatch` objects of one CSV file read with a profile.

    The arguments are those of :func:`simbox.fastpath.csvread.read_csv_events`;
    any profile is accepted (the kernel's too, read slower).  Raises
    :class:`EmptyInputError` for a file without records, :class:`InputError`
    when the header lacks a column the profile reads.
    """
    m = load_mapping(mapping)
    check_policy(on_bad_records)
    if int(chunk_rows) < 1:
        raise ConfigError(f"chunk_rows must be positive, not {chunk_rows}")
    return _Profiled(source, m, cells if cells is not None else CellDict(),
                     stats if stats is not None else ReadStats(), rejects, on_bad_records,
                     int(chunk_rows), progress, name).batches()


class _Profiled:
    def __init__(self, source, m: ColumnMapping, cells, stats, rejects, policy, chunk_rows,
                 progress, name):
        self.source, self.m, self.cells, self.stats = source, m, cells, stats
        self.rejects, self.policy, self.chunk_rows = rejects, policy, chunk_rows
        self.progress, self.name = as_progress(progress), name
        self.book = keybook(cells)
        self.bad_rows = []          # (record number, text) of rows with a wrong field count
        self.next_row = 2           # record number of the next data row (header = 1)
        self._seen = 0
        self.bad = BadRecords(policy, rejects, stats)

    # ---- opening ---------------------------------------------------------------
    #: the kernel reader's: the ByteSource opened (name, size), ``_batches``, closed
    batches = _Reader.batches

    def _text(self, src):
        self.src = src
        self.raw = _Content(src)
        return io.BufferedReader(self.raw, 1 << 20)

    def _header(self, text) -> list:
        line = text.readline(1 << 20)
        if not line.strip(b"\xef\xbb\xbf \t\r\n"):
            if self.src.problem:
                raise InputError(f"{self.name}: {self.src.problem[0]} ({self.src.problem[1]}) "
                                 "before the header line")
            raise EmptyInputError(f"{self.name}: empty file (no header line, no records)")
        if line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            s = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise InputError(f"{self.name}:1: the header line is not UTF-8 text (byte "
                             f"0x{line[e.start]:02x} at offset {e.start}); is this a CDR CSV "
                             "file?") from None
        return next(csv.reader([s], delimiter=self.m.separator, quotechar=self.m.quote), [])

    def _check_header(self, header):
        m = self.m
        missing = m.missing_columns(header)
        used = m.used_columns()
        if len(missing) == len(used):
            raise InputError(no_header_message(self.name, m, header, used))
        if missing:
            raise InputError(_missing_message(self.name, m, missing, header))
        index = {}
        for i, h in enumerate(header):
            index.setdefault(_norm(h), i)
        self.col = {n: f"c{index[_norm(n)]}" for n in used}

    def _batches(self, f):
        self.stats.files += 1
        try:
            text = self._text(f)
            self.header = self._header(text)
        except OSError as e:
            raise InputError(f"{self.name}: cannot read it ({e})") from None
        self._check_header(self.header)
        k = len(self.header)
        names = [f"c{i}" for i in range(k)]

        def bad_row(row):       # numbered from the first line after the header (read above)
            number = None if row.number is None else row.number + 1
            self.bad_rows.append((number, row.text, row.actual_columns))
            return "skip"

        try:
            reader = pcsv.open_csv(
                text, read_options=pcsv.ReadOptions(column_names=names, block_size=BLOCK_BYTES,
                                                    use_threads=False),
                parse_options=pcsv.ParseOptions(delimiter=self.m.separator,
                                                 quote_char=self.m.quote,
                                                 newlines_in_values=True,
                                                 invalid_row_handler=bad_row),
                convert_options=pcsv.ConvertOptions(column_types={n: pa.binary() for n in names},
                                                    strings_can_be_null=False,
                                                    quoted_strings_can_be_null=False))
        except pa.ArrowInvalid as e:
            if "Empty CSV file" not in str(e):
                raise InputError(f"{self.name}: cannot read it as CSV ({e})") from None
            reader = None
        while reader is not None:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (OSError, pa.ArrowInvalid) as e:
                raise InputError(f"{self.name}: cannot read it ({e})") from None
            yield from self._convert(batch)
            self._progress()
        self._flush_bad(None)
        problem = self.src.problem
        if problem is not None:         # a damaged gzip stream: the record it cut, rejected
            reason, detail = problem
            self.stats.records += 1
            self.stats_records += 1
            self._reject(reason, self.next_row, None, self.raw.cut or b"", detail)
        self._progress()
        if self.stats_records == 0 and problem is None:
            raise EmptyInputError(f"{self.name}: no records after the header line")

    stats_records = 0

    def _progress(self):
        adv = self.raw.pos - self._seen
        self._seen = self.raw.pos
        self.stats.bytes += adv
        if adv:
            self.progress(adv, total=self.size)

    # ---- rejects ---------------------------------------------------------------
    def _reject(self, reason, line, field, record, detail):
        self.bad.reject(self.name, reason, detail, line=line, field=field, record=record)

    def _flush_bad(self, upto, others=()):
        """Reject the rows with a wrong field count numbered below ``upto`` (None: all),
        with ``others`` (rejects of the batch: (line, reason, field, record, detail)), in
        line order."""
        keep, due = [], list(others)
        for number, text, actual in self.bad_rows:
            if upto is None or (number is not None and number < upto):
                self.stats.records += 1
                self.stats_records += 1
                due.append((number, FIELD_COUNT, None, text,
                            f"expected {len(self.header)} fields, saw {actual}"))
            else:
                keep.append((number, text, actual))
        self.bad_rows = keep
        for line, reason, field, record, detail in sorted(due, key=lambda r: r[0] or 0):
            self._reject(reason, line, field, record, detail)

    def _row_numbers(self, n: int) -> np.ndarray:
        """Record numbers of the next ``n`` good rows (rows with a wrong field count skipped)."""
        taken = sorted(num for num, _, _ in self.bad_rows if num is not None
                       and num >= self.next_row)
        cand = np.arange(self.next_row, self.next_row + n + len(taken), dtype=np.int64)
        if taken:
            cand = cand[~np.isin(cand, taken)]
        rows = cand[:n]
        if n:
            self.next_row = int(rows[-1]) + 1
        return rows

    # ---- one record batch ------------------------------------------------------
    def _convert(self, batch):
        n = batch.num_rows
        rows = self._row_numbers(n)
        if n == 0:
            self._flush_bad(None)
            return
        conv = Normaliser(self.m, batch, self.col, self.cells, self.book)
        out, reason, field = conv.run()
        self.stats.records += n
        self.stats_records += n
        skipped = conv.skipped
        self.stats.skipped += int(skipped.sum())
        others = []
        for i in np.flatnonzero(reason > 0):
            col = field[i]
            value = conv.raw(col, int(i)) if col else ""
            others.append((int(rows[i]), REASON_TEXT[int(reason[i])], col or None,
                           conv.record(int(i)), f"value {value!r}"))
        self._flush_bad(int(rows[-1]) + 1, others)
        ok = (reason == 0) & ~skipped
        self.stats.accepted += int(ok.sum())
        if not ok.any():
            return
        idx = np.flatnonzero(ok)
        kept = {h: np.array(conv.val(h).to_pylist(), dtype=object) for h in self.m.keep}
        for s in range(0, len(idx), self.chunk_rows):
            part = idx[s:s + self.chunk_rows]
            yield EventBatch({name: out[name][part] for name, _ in COLUMNS}, source=self.name,
                             extra={h: v[part] for h, v in kept.items()} if kept else None)


def keybook(cells: CellDict) -> KeyBook:
    """The run's KeyBook (kept beside its CellDict, which every reader of a run shares)."""
    book = getattr(cells, "keys", None)
    if book is None:
        book = cells.keys = KeyBook()
    return book


class Normaliser:
    """Columns of one record batch -> event columns, a reason per row (see the module docstring)."""

    def __init__(self, m: ColumnMapping, batch, col: dict, cells: CellDict, book: KeyBook):
        self.pc, self.m, self.batch, self.col = pc, m, batch, col
        self.cells, self.book = cells, book
        self.n = batch.num_rows
        self._vals = {}
        self.reason = np.zeros(self.n, np.int8)
        self.field = np.full(self.n, "", dtype=object)
        self.skipped = np.zeros(self.n, bool)
        self.text = {}
        by_col = {v: k for k, v in col.items()}
        for j, name in enumerate(batch.schema.names):      # not UTF-8: rejected first
            if name in by_col:
                self.text[name] = self._utf8(batch.column(j), by_col[name])

    def _utf8(self, arr, header_name):
        try:
            return arr.cast(pa.string())
        except pa.ArrowInvalid:
            vals = arr.to_pylist()
            bad = np.zeros(self.n, bool)
            for i, b in enumerate(vals):
                try:
                    b.decode("utf-8")
                except UnicodeDecodeError:
                    bad[i] = True
            self.fail(bad, R_UTF8, header_name)
            return pa.array([None if bad[i] else b for i, b in enumerate(vals)],
                            pa.binary()).cast(pa.string())

    # ---- helpers ---------------------------------------------------------------
    def raw(self, header_name: str, i: int) -> str:
        b = self.batch.column(self.col[header_name])[i].as_py()
        return b.decode("utf-8", "backslashreplace")

    def record(self, i: int) -> bytes:
        return self.m.separator.encode().join(self.batch.column(j)[i].as_py()
                                              for j in range(self.batch.num_columns))

    def val(self, header_name):
        """The column's trimmed values, null where empty or a null token."""
        if header_name is None:
            return pa.nulls(self.n, pa.string())
        v = self._vals.get(header_name)
        if v is None:
            pc = self.pc
            v = self.text[self.col[header_name]]
            if _has_any(pc, v, pc.starts_with, " ") or _has_any(pc, v, pc.ends_with, " "):
                v = pc.utf8_trim_whitespace(v)
            nulls = [""] + list(self.m.null_tokens)
            v = pc.if_else(pc.is_in(v, value_set=_strings(nulls)), pa.nulls(self.n, pa.string()),
                           v)
            self._vals[header_name] = v
        return v

    def fail(self, mask, reason, field):
        """Give rows of ``mask`` that have no reason yet this reason and field."""
        mask = np.asarray(mask, bool) & (self.reason == 0) & ~self.skipped
        self.reason[mask] = reason
        self.field[mask] = field[mask] if isinstance(field, np.ndarray) else field
        return mask

    def party(self, fld):
        """(values, header name per row) of field ``fld`` with ``parties`` applied."""
        pc = self.pc
        names = self.m.source_columns(fld)
        base = names[0] if names else None
        v = self.val(base)
        where = np.full(self.n, base or "", dtype=object)
        for rt, cols in self.m.parties.items():
            if fld not in cols:
                continue
            mask = self.rtype == int(RecordType[rt])
            if mask.any():
                v = pc.if_else(_bools(mask), self.val(cols[fld]), v)
                where[mask] = cols[fld] or ""
        return v, where

    def digits(self, v, lo, hi, plus=False):
        """(digits codes, present, valid) of a string column (``+`` dropped with ``plus``)."""
        pc = self.pc
        present = ~_isnull(v)
        s = v
        if self.m.float_numbers and _has(pc, s, "."):
            s = pc.replace_substring_regex(s, pattern=r"^([0-9]+)\.0+$", replacement=r"\1")
        if plus and _has(pc, s, "+"):
            s = pc.replace_substring_regex(s, pattern=r"^\+", replacement="")
        n = _np(pc.binary_length(s), 0)
        ok = _np(pc.ascii_is_decimal(s), False) & (n >= lo) & (n <= hi)
        s = pc.if_else(_bools(ok), s, _const("0", self.n))
        codes = pc.cast(pc.binary_join_element_wise(_const("1", self.n), s, _const("", self.n)),
                        pa.int64())
        codes = np.where(ok, _np(codes), 0)
        return codes.astype(np.int64), present, ok

    # ---- the steps ---------------------------------------------------------------
    def run(self):
        m = self.m
        self.record_types()
        out = {"rtype": np.where(self.rtype >= 0, self.rtype, 0).astype(np.uint8)}
        out["time"] = self.times()
        out["imsi"] = self.key()
        # imei
        v, where = self.party("imei")
        codes, present, ok = self.digits(v, 14, 16)
        if m.imei_tokens:           # any identifier: digits as digits, the rest hashed
            codes, _, ok = self.digits(v, 1, 18)
            other = present & ~ok
            if other.any():
                codes = codes.copy()
                codes[other] = self.tokens(v, other)
        else:
            self.fail(present & ~ok, R_IMEI, where)
            codes = np.where(ok, codes, 0)
        out["imei"] = codes
        v, where = self.party("msisdn")
        codes, present, ok = self.digits(v, 1, 18, plus=True)
        self.fail(present & ~ok, R_MSISDN, where)
        out["msisdn"] = codes
        v, where = self.party("other_party")
        codes, present, ok = self.digits(v, 1, 18, plus=True)
        self.fail(present & ~ok, R_OTHER, where)
        out["other"] = codes
        out["duration"] = self.durations()
        out["cell"] = self.cell_codes()
        return out, self.reason, self.field

    def record_types(self):
        pc, m = self.pc, self.m
        names = m.source_columns("record_type")
        word = self.val(names[0])
        table = {code: (-1 if rt is None else int(RecordType[rt]))
                 for code, rt in m.record_types.items()}
        codes = list(table)
        values = np.array(list(table.values()) + [-2], np.int64)
        idx = None
        if len(names) > 1:
            both = pc.binary_join_element_wise(word, self.val(names[1]), _const("|", self.n))
            idx = pc.index_in(both, value_set=_strings(codes))
        alone = pc.index_in(word, value_set=_strings(codes))
        idx = alone if idx is None else pc.coalesce(idx, alone)
        idx = _np(idx, len(codes)).astype(np.int64)
        self.rtype = values[idx]
        self.skipped = (self.rtype == -1) & (self.reason == 0)
        self.fail(self.rtype == -2, R_TYPE, names[0])

    def times(self):
        pc, m = self.pc, self.m
        names = m.source_columns("start_time")
        text = self.val(names[0])
        if len(names) > 1:
            text = pc.binary_join_element_wise(text, self.val(names[1]), _const(" ", self.n))
        fmt = {"compact": "%Y%m%d%H%M%S"}.get(m.time_format, m.time_format)
        if fmt in ("epoch", "epoch_ms"):
            num = pc.cast(pc.if_else(pc.match_substring_regex(text, r"^-?[0-9]+(\.[0-9]*)?$"),
                                     text, pa.nulls(self.n, pa.string())), pa.float64())
            sec = _np(num, np.nan).astype(float)
            if fmt == "epoch_ms":
                sec = sec / 1000.0
            bad = ~np.isfinite(sec)
            t = np.where(bad, 0, np.floor(np.where(bad, 0, sec))).astype(np.int64)
            zoned = np.ones(self.n, bool)
        else:
            t, bad, zoned = self._parse(text, fmt)
        if m.timezone and not zoned.all():
            local = _int64s(np.where(zoned, 0, t), pa.timestamp("s"))
            utc = pc.assume_timezone(local, m.timezone, ambiguous="earliest",
                                     nonexistent="earliest")
            t = np.where(zoned, t, _np(utc.cast(pa.int64())))
        elif not zoned.all():
            t = np.where(zoned, t, t - m.offset_seconds)
        self.fail(bad, R_TIME, names[0])
        return t.astype(np.int64)

    def _parse(self, text, fmt):
        """(epoch seconds as written, bad, zoned) of a time column."""
        pc = self.pc
        s = pc.replace_substring_regex(text, pattern=r"\.[0-9]+", replacement="", max_replacements=1) \
            if (fmt == "iso" or "%f" in fmt) else text
        if fmt == "iso":
            fmts = [("%Y-%m-%dT%H:%M:%S%z", True), ("%Y-%m-%d %H:%M:%S%z", True),
                    ("%Y-%m-%dT%H:%M:%S", False), ("%Y-%m-%d %H:%M:%S", False)]
        else:
            f = fmt.replace(".%f", "").replace("%f", "")
            fmts = [(f, "%z" in f)]
        t = np.zeros(self.n, np.int64)
        done = np.zeros(self.n, bool)
        zoned = np.zeros(self.n, bool)
        for f, has_zone in fmts:
            ts = pc.strptime(s, format=f, unit="s", error_is_null=True)
            ok = ~_isnull(ts)
            if not has_zone:
                # an impossible date (Feb 30) parses as a day 1-3 of the next month: those
                # rows are printed back and must give the text (one-digit fields padded)
                early = ok & (_np(pc.day(ts), 9) <= 3)
                if early.any():
                    idx = np.flatnonzero(early)
                    back = pc.strftime(ts.take(_int64s(idx)), format=f)
                    same = _np(pc.equal(back, _pad(pc, s.take(_int64s(idx)))), False)
                    ok[idx[~same]] = False
            new = ok & ~done
            if new.any():
                t[new] = _np(ts.cast(pa.int64()), 0)[new]
                zoned[new] = has_zone
                done |= new
        year = 1970 + t // 31556952
        done &= (year >= 1900) & (year <= 2199)
        return t, ~done, zoned

    def key(self):
        m = self.m
        kind = m.subscriber_key
        key = np.zeros(self.n, np.int64)
        if kind in ("imsi", "imsi_or_msisdn"):
            v, where = self.party("imsi")
            codes, present, ok = self.digits(v, 15, 15)
            self.fail(present & ~ok, R_IMSI, where)
            key = np.where(ok, codes, 0)
            if kind == "imsi":
                self.fail(~present, R_IMSI, where)
        if kind in ("msisdn", "imsi_or_msisdn"):
            v, where = self.party("msisdn")
            codes, present, ok = self.digits(v, 1, 18, plus=True)
            need = key == 0
            self.fail(need & present & ~ok, R_MSISDN_KEY, where)
            key = np.where(need & ok, MSISDN_BASE + codes, key)
        if kind == "token":
            v, where = self.party("token")
            present = ~_isnull(v)
            if present.any():
                key = key.copy()
                key[present] = self.tokens(v, present)
        if kind != "imsi":
            names = [n for f in ("imsi", "msisdn", "token") for n in m.source_columns(f)]
            self.fail(key == 0, R_NOKEY, names[0] if names else "")
        return key

    def tokens(self, v, mask) -> np.ndarray:
        """Token codes of the values of ``v`` where ``mask`` (hashed once per distinct value)."""
        sub = v.filter(_bools(mask))
        enc = self.pc.dictionary_encode(sub)
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        codes = self.book.encode(enc.dictionary.to_pylist())
        return codes[_np(enc.indices)]

    def durations(self):
        pc = self.pc
        v, where = self.party("duration_s")
        present = ~_isnull(v)
        num = pc.cast(pc.if_else(pc.match_substring_regex(v, r"^[+]?[0-9]+(\.[0-9]*)?$"), v,
                                 pa.nulls(self.n, pa.string())), pa.float64())
        x = _np(num, np.nan).astype(float)
        d = np.floor(x + 0.5)
        ok = np.isfinite(d) & (d >= 0) & (d <= MAX_DURATION)
        self.fail(present & ~ok, R_DUR, where)
        return np.where(ok, d, 0).astype(np.int32)

    def cell_codes(self):
        pc = self.pc
        names = self.m.source_columns("cell_id")
        if not names:
            return np.full(self.n, -1, np.int32)
        parts = [pc.replace_substring_regex(self.val(c), pattern=r"^([0-9]+)\.0+$",
                                            replacement=r"\1")
                 if _has(pc, self.val(c), ".") else self.val(c) for c in names]
        tok = parts[0] if len(parts) == 1 else \
            pc.binary_join_element_wise(*parts, _const("-", self.n))
        enc = pc.dictionary_encode(tok)
        table = np.array([self.cells.code(t) for t in enc.dictionary.to_pylist()] + [-1], np.int32)
        idx = _np(enc.indices, len(table) - 1).astype(np.int64)
        return table[idx]


# Arrow arrays are built from buffers: pa.array would import pandas (to ask whether
# its input is a pandas object), half a second the commands never need.

def _strings(values):
    enc = [str(v).encode("utf-8") for v in values]
    offsets = np.zeros(len(enc) + 1, np.int32)
    np.cumsum([len(e) for e in enc], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(enc), [None, pa.py_buffer(offsets),
                                                         pa.py_buffer(b"".join(enc))])


def _bools(mask):
    mask = np.asarray(mask, bool)
    return pa.Array.from_buffers(pa.bool_(), len(mask),
                                 [None, pa.py_buffer(np.packbits(mask, bitorder="little"))])


def _int64s(values, type_=None):
    values = np.ascontiguousarray(values, np.int64)
    return pa.Array.from_buffers(type_ or pa.int64(), len(values),
                                 [None, pa.py_buffer(values)])


def _has(pc, arr, char: str) -> bool:
    """Whether any value of ``arr`` holds ``char`` (a regex is run only then)."""
    return _has_any(pc, arr, pc.match_substring, char)


def _has_any(pc, arr, test, pattern: str) -> bool:
    return bool(pc.any(test(arr, pattern)).as_py())


_NUMPY = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
          "uint8": np.uint8, "uint32": np.uint32, "uint64": np.uint64, "double": np.float64,
          "float": np.float32}


def _np(arr, fill=None) -> np.ndarray:
    """A numpy copy of a primitive or boolean Arrow array, nulls as ``fill`` (from its
    buffers: ``to_numpy`` and ``fill_null`` would import pandas)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n, off = len(arr), arr.offset
    valid_buf, buf = arr.buffers()[:2]
    if n == 0:
        return np.zeros(0, bool if pa.types.is_boolean(arr.type) else np.int64)
    if pa.types.is_boolean(arr.type):
        out = _bits(buf, off, n)
    else:
        dtype = np.int64 if pa.types.is_timestamp(arr.type) else _NUMPY[str(arr.type)]
        out = np.frombuffer(buf, dtype)[off:off + n].copy()
    if arr.null_count:
        if fill is None:
            raise ValueError("_np: nulls need a fill value")
        if isinstance(fill, float) and out.dtype.kind != "f":
            out = out.astype(float)
        out[~_bits(valid_buf, off, n)] = fill
    return out


def _bits(buf, off, n) -> np.ndarray:
    return np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little")[off:off + n].astype(bool)


def _const(text: str, n: int):
    """A string array of ``n`` times ``text``."""
    b = text.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int32) * len(b)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(b * n)])


def _isnull(arr) -> np.ndarray:
    return _np(pc.is_null(arr))


def _pad(pc, s):
    """One-digit numbers padded to two (``13/5/2024 7:05`` -> ``13/05/2024 07:05``)."""
    for _ in range(2):
        s = pc.replace_substring_regex(s, pattern=r"(^|[^0-9])([0-9])([^0-9]|$)",
                                       replacement=r"\10\2\3")
    return s
