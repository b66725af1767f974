# cython: language_level=3
"""CDR CSV kernel: split and convert complete records of a byte buffer into columns.

The Python wrapper (``csvread.py``) reads the file, parses the header, allocates
the output columns and turns the reject entries into messages.  This kernel
trusts its inputs and runs without the GIL, except to add a cell token never
seen before to the run's ``CellDict``.

One call of :meth:`Parser.parse` consumes whole records from ``buf[pos:end]``
and stops when the buffer holds no complete record any more (status
``NEED_INPUT``), the output columns are full (``OUT_FULL``) or the reject
buffer is full / the first reject was seen under the ``error`` policy
(``REJECTS_READY``).  It returns the position of the first unconsumed byte.

Record syntax (RFC 4180 with a configurable separator): fields separated by
``sep``; a field starting with the quote character runs to the closing quote,
``""`` inside stands for one quote, separators and newlines inside are data;
records end with ``\\n`` or ``\\r\\n``; blank lines are ignored.

Parts: ``_csvsplit.pxi`` splits a record (``_csvscan.h``: 64 bytes per step with
SSE2 for records without quotes), ``_csvfields.pxi`` converts fields,
``_cellcache.pxi`` memoises cell codes in a C hash table.
"""
cimport cython
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint64_t, uint32_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy, memset

DEBUG = SIMBOX_DEBUG   # built with bounds checks (SIMBOX_DEBUG=1)?

include "_csvfields.pxi"

cdef extern from "_csvscan.h" nogil:
    uint64_t csv_scan64(const uint8_t* s, uint8_t sep, uint8_t quote, uint64_t* quotes,
                        uint64_t* high)
    int csv_ctz64(uint64_t x)

# ---- roles of columns (index into role_col) --------------------------------
cdef enum:
    R_IGNORE = 0
    R_RTYPE = 1
    R_TIME = 2
    R_IMSI = 3
    R_IMEI = 4
    R_MSISDN = 5
    R_OTHER = 6
    R_DURATION = 7
    R_CELL = 8          # R_CELL + k: part k of the cell token
    MAX_CELL_PARTS = 4
    N_ROLES = 12

ROLE_RTYPE, ROLE_TIME, ROLE_IMSI, ROLE_IMEI = R_RTYPE, R_TIME, R_IMSI, R_IMEI
ROLE_MSISDN, ROLE_OTHER, ROLE_DURATION, ROLE_CELL = R_MSISDN, R_OTHER, R_DURATION, R_CELL
CELL_PARTS = MAX_CELL_PARTS

# ---- reject reasons ----------------------------------------------------------
cdef enum:
    BAD_FIELD_COUNT = 1
    BAD_UTF8 = 2
    BAD_QUOTE = 3
    BAD_TOO_LONG = 4
    BAD_RTYPE = 5
    BAD_TIME = 6
    BAD_IMSI = 7
    BAD_IMEI = 8
    BAD_MSISDN = 9
    BAD_OTHER = 10
    BAD_DURATION = 11
    N_REASONS = 12

#: Human text of each reason code (index = code); also the key of ReadStats.rejected.
REASONS = (
    "",
    "wrong field count",
    "not UTF-8",
    "bad quoting",
    "record too long",
    "unknown record type",
    "unparsable time",
    "imsi is not 15 digits",
    "imei is not 14-16 digits",
    "msisdn is not a digit string",
    "other_party is not a digit string",
    "duration is not 0-172800 seconds",
)
REASON_FIELD_COUNT, REASON_UTF8, REASON_QUOTE, REASON_TOO_LONG = (
    BAD_FIELD_COUNT, BAD_UTF8, BAD_QUOTE, BAD_TOO_LONG)

# ---- time formats ------------------------------------------------------------
TIME_ISO, TIME_EPOCH, TIME_EPOCH_MS, TIME_PATTERN = TF_ISO, TF_EPOCH, TF_EPOCH_MS, TF_PATTERN
PATTERN_OPS = {"Y": OP_Y4, "y": OP_Y2, "m": OP_MON, "d": OP_DAY, "H": OP_HOUR,
               "M": OP_MIN, "S": OP_SEC, "f": OP_FRAC, "z": OP_TZ}
OP_LITERAL = OP_LIT

# ---- statuses of parse() -------------------------------------------------------
cdef enum:
    ST_NEED_INPUT = 0
    ST_OUT_FULL = 1
    ST_REJECTS_READY = 2

NEED_INPUT, OUT_FULL, REJECTS_READY = ST_NEED_INPUT, ST_OUT_FULL, ST_REJECTS_READY

cdef enum:
    REJ_CAP = 256          # reject entries buffered per call
    MAX_CODES = 64         # record-type codes
    MAX_CODE_LEN = 32



cdef struct Field:
    Py_ssize_t start      # first byte of the content (after an opening quote)
    Py_ssize_t end        # one past the last content byte
    uint8_t escaped       # quoted and holding "" pairs


cdef struct Split:
    int nf                # fields seen
    Py_ssize_t recend     # one past the record's last byte (before \r\n)
    uint8_t hi            # OR of the record's bytes (bit 7 set: non-ASCII seen)
    int64_t nl_in         # newlines inside quoted fields
    uint8_t bad_quote     # 1: junk after a closing quote, 2: unterminated at end of input


cdef struct Slot:
    # 32 bytes, aligned: a lookup of a token of up to 16 bytes reads one cache line
    uint32_t h            # high half of the token's hash (the low half picks the slot)
    int32_t length        # token length in bytes
    int32_t code          # CellDict code, -1 = empty slot
    uint32_t off          # offset of the token in the arena (tokens longer than INLINE)
    uint8_t head[16]      # the token's first INLINE bytes, zero padded


include "_cellcache.pxi"
include "_csvsplit.pxi"


cdef class Parser:
    """Parses the records of one CSV file (see the module docstring)."""
    cdef:
        int ncols                       # fields per record
        int8_t* roles                   # role of each column
        int role_col[N_ROLES]           # column of each role, -1 = absent
        int n_cell_parts
        uint8_t sep, quote
        bint float_numbers
        int time_kind
        int n_ops
        uint8_t ops[MAX_OPS]
        uint8_t op_args[MAX_OPS]
        int64_t naive_off               # seconds east of UTC of times without a zone
        int n_codes
        uint8_t code_len[MAX_CODES]
        uint8_t code_txt[MAX_CODES][MAX_CODE_LEN]
        int8_t code_val[MAX_CODES]      # RecordType, -1 = skip the record
        bint stop_on_reject
        Py_ssize_t max_record
        Field* fields
        uint8_t* tmp                    # scratch: unescaped fields, joined cells
        Py_ssize_t tmp_cap
        bint skipping                   # dropping the rest of an over-long record
        CellCache cache
        DateCache dates                 # the last ISO date parsed (see _iso)
        # counts
        int64_t rejected_by[N_REASONS]
        # reject entries of the last call
        int n_rej
        int64_t rej_line[REJ_CAP]
        Py_ssize_t rej_start[REJ_CAP]
        Py_ssize_t rej_end[REJ_CAP]
        Py_ssize_t rej_fstart[REJ_CAP]
        Py_ssize_t rej_fend[REJ_CAP]
        uint8_t rej_reason[REJ_CAP]
        int rej_col[REJ_CAP]
        int64_t rej_aux[REJ_CAP]
    cdef readonly int64_t records, accepted, skipped
    cdef public int64_t line          # line number of the next record (1-based)

    def __cinit__(self, int ncols, roles, int sep, int quote, int time_kind, bytes time_ops,
                  bytes time_args, int64_t naive_offset, codes, bint float_numbers,
                  bint stop_on_reject, Py_ssize_t max_record, CellCache cache, int64_t line=2):
        cdef int i, r
        if ncols < 1 or ncols > (1 << 21):
            raise ValueError("ncols out of range")
        self.ncols = ncols
        self.roles = <int8_t*>calloc(ncols, 1)
        self.fields = <Field*>malloc((ncols + 1) * sizeof(Field))
        self.tmp_cap = 4096
        self.tmp = <uint8_t*>malloc(self.tmp_cap)
        if self.roles == NULL or self.fields == NULL or self.tmp == NULL:
            raise MemoryError()
        for i in range(N_ROLES):
            self.role_col[i] = -1
        self.n_cell_parts = 0
        for i, r in roles:
            if not (0 <= i < ncols) or not (R_RTYPE <= r < N_ROLES):
                raise ValueError(f"bad role {(i, r)}")
            self.roles[i] = r
            self.role_col[r] = i
            if r >= R_CELL:
                self.n_cell_parts = max(self.n_cell_parts, r - R_CELL + 1)
        if self.role_col[R_RTYPE] < 0 or self.role_col[R_TIME] < 0 or self.role_col[R_IMSI] < 0:
            raise ValueError("record_type, start_time and imsi columns are required")
        for i in range(self.n_cell_parts):
            if self.role_col[R_CELL + i] < 0:
                raise ValueError("cell parts must be consecutive")
        self.sep = sep
        self.quote = quote
        self.time_kind = time_kind
        if len(time_ops) != len(time_args) or len(time_ops) > MAX_OPS:
            raise ValueError("bad time pattern")
        self.n_ops = len(time_ops)
        for i in range(self.n_ops):
            self.ops[i] = time_ops[i]
            self.op_args[i] = time_args[i]
        self.naive_off = naive_offset
        self.n_codes = 0
        for txt, val in codes:
            if self.n_codes >= MAX_CODES or len(txt) >= MAX_CODE_LEN:
                raise ValueError("too many or too long record-type codes")
            self.code_len[self.n_codes] = len(txt)
            for i in range(len(txt)):
                self.code_txt[self.n_codes][i] = txt[i]
            self.code_val[self.n_codes] = val
            self.n_codes += 1
        self.float_numbers = float_numbers
        self.stop_on_reject = stop_on_reject
        self.max_record = max_record
        self.cache = cache
        self.line = line
        self.skipping = False

    def __dealloc__(self):
        free(self.roles)
        free(self.fields)
        free(self.tmp)

    def counts(self):
        """(records, accepted, skipped, {reason code: rejected count})."""
        return (self.records, self.accepted, self.skipped,
                {r: self.rejected_by[r] for r in range(1, N_REASONS) if self.rejected_by[r]})

    def take_rejects(self):
        """Reject entries of the last call, as tuples
        (reason, column or -1, line, record start, record end, field start, field end, aux)."""
        out = [(self.rej_reason[i], self.rej_col[i], self.rej_line[i], self.rej_start[i],
                self.rej_end[i], self.rej_fstart[i], self.rej_fend[i], self.rej_aux[i])
               for i in range(self.n_rej)]
        self.n_rej = 0
        return out

    def parse(self, const uint8_t[::1] buf, Py_ssize_t pos, Py_ssize_t end, bint final,
              uint8_t[::1] rtype, int64_t[::1] time, int64_t[::1] imsi, int64_t[::1] imei,
              int64_t[::1] msisdn, int64_t[::1] other, int32_t[::1] duration,
              int32_t[::1] cell, Py_ssize_t out_n):
        """Parse records of buf[pos:end] into the columns from row out_n.

        IN: buf, pos, end, final (no more input follows end).
        OUT: the columns (rows out_n..).  Returns (pos, out_n, status).
        """
        cdef Py_ssize_t cap = rtype.shape[0]
        cdef int status
        if end > buf.shape[0] or pos < 0 or pos > end:
            raise ValueError("pos/end outside the buffer")
        if (time.shape[0] < cap or imsi.shape[0] < cap or imei.shape[0] < cap
                or msisdn.shape[0] < cap or other.shape[0] < cap
                or duration.shape[0] < cap or cell.shape[0] < cap):
            raise ValueError("columns of unequal capacity")
        if out_n >= cap:
            return pos, out_n, ST_OUT_FULL
        self.n_rej = 0
        with nogil:
            status = self._run(&buf[0] if buf.shape[0] else NULL, &pos, end, final,
                               &rtype[0], &time[0], &imsi[0], &imei[0], &msisdn[0],
                               &other[0], &duration[0], &cell[0], &out_n, cap)
        return pos, out_n, status

    cdef inline void _reject(self, int reason, int col, int64_t line, Py_ssize_t rs,
                             Py_ssize_t re, int64_t aux) noexcept nogil:
        cdef int i = self.n_rej
        self.rejected_by[reason] += 1
        self.rej_reason[i] = reason
        self.rej_col[i] = col
        self.rej_line[i] = line
        self.rej_start[i] = rs
        self.rej_end[i] = re
        if col >= 0:
            self.rej_fstart[i] = self.fields[col].start
            self.rej_fend[i] = self.fields[col].end
        else:
            self.rej_fstart[i] = rs
            self.rej_fend[i] = rs
        self.rej_aux[i] = aux
        self.n_rej = i + 1

    cdef int _grow_tmp(self, Py_ssize_t need) except -1 nogil:
        cdef uint8_t* t
        if need <= self.tmp_cap:
            return 0
        while self.tmp_cap < need:
            self.tmp_cap *= 2
        t = <uint8_t*>realloc(self.tmp, self.tmp_cap)
        if t == NULL:
            with gil:
                raise MemoryError("csv scratch buffer")
        self.tmp = t
        return 0

    cdef Py_ssize_t _unescape(self, const uint8_t* b, Field* f, uint8_t* dst) noexcept nogil:
        """Copy the content of a quoted field with "" pairs collapsed; returns its length."""
        cdef Py_ssize_t i = f.start, k = 0
        while i < f.end:
            dst[k] = b[i]
            k += 1
            if b[i] == self.quote:
                i += 1
            i += 1
        return k

    cdef int _run(self, const uint8_t* b, Py_ssize_t* ppos, Py_ssize_t end, bint final,
                  uint8_t* o_rtype, int64_t* o_time, int64_t* o_imsi, int64_t* o_imei,
                  int64_t* o_msisdn, int64_t* o_other, int32_t* o_dur, int32_t* o_cell,
                  Py_ssize_t* pout, Py_ssize_t cap) except -1 nogil:
        cdef Py_ssize_t p = ppos[0], rec, recend, n, k
        cdef Py_ssize_t out_n = pout[0]
        cdef int nf, ncols = self.ncols, col, rt, reason, badcol, i
        cdef uint8_t hi, quote = self.quote, bad_quote
        cdef Split sp
        cdef int64_t nl_in, rec_line
        cdef int32_t d32, code
        cdef Field* f
        cdef Field* fields = self.fields
        cdef const uint8_t* s
        cdef const uint8_t* nlp
        cdef int status = ST_NEED_INPUT
        cdef int64_t t = 0
        cdef uint64_t cell_h = 0

        if self.skipping:
            nlp = <const uint8_t*>memchr(b + p, 10, end - p)
            if nlp == NULL:
                ppos[0] = end
                return ST_NEED_INPUT
            p = nlp - b + 1
            self.line += 1
            self.skipping = False

        while p < end:
            if out_n >= cap:
                status = ST_OUT_FULL
                break
            if self.n_rej >= REJ_CAP or (self.stop_on_reject and self.n_rej > 0):
                status = ST_REJECTS_READY
                break
            # ---- split one record ----
            rec = p
            if not _split_fast(fields, ncols, self.sep, quote, b, &p, end, &sp) and \
                    _split(fields, ncols, self.sep, quote, b, &p, end, final, &sp) < 0:
                # incomplete record at the end of the buffer
                p = rec
                if end - rec > self.max_record:     # over the limit before its line end
                    nlp = <const uint8_t*>memchr(b + rec, 10, end - rec)
                    self.records += 1
                    if nlp != NULL:
                        # an opening quote never closed: the record ends at its first newline
                        recend = nlp - b
                        p = recend + 1
                        if recend > rec and b[recend - 1] == 13:
                            recend -= 1
                        self._reject(BAD_QUOTE, -1, self.line, rec, recend, 0)
                        self.line += 1
                        continue
                    self._reject(BAD_TOO_LONG, -1, self.line, rec, min(rec + 2000, end), 0)
                    self.skipping = True
                    p = end
                break
            nf = sp.nf
            recend = sp.recend
            hi = sp.hi
            nl_in = sp.nl_in
            bad_quote = sp.bad_quote
            # ---- a complete record rec..recend, next record at p ----
            rec_line = self.line
            if bad_quote == 2:
                # unterminated quote at the end of input: the record ends at its first newline
                nlp = <const uint8_t*>memchr(b + rec, 10, end - rec)
                if nlp != NULL:
                    recend = nlp - b
                    p = recend + 1
                    if recend > rec and b[recend - 1] == 13:
                        recend -= 1
                else:
                    recend = end
                    p = end
                self.line += 1
                self.records += 1
                self._reject(BAD_QUOTE, -1, rec_line, rec, recend, 0)
                continue
            self.line += 1 + nl_in
            if nf == 1 and fields[0].end == fields[0].start and b[rec] != quote:
                continue                               # blank line
            self.records += 1
            if recend - rec > self.max_record:
                # whole in the buffer but longer than the limit (aux: its length)
                self._reject(BAD_TOO_LONG, -1, rec_line, rec, min(rec + 2000, recend), recend - rec)
                continue
            if bad_quote:
                self._reject(BAD_QUOTE, -1, rec_line, rec, recend, 0)
                continue
            cell_h = 0
            if self.n_cell_parts == 1 and nf == ncols:
                f = &fields[self.role_col[R_CELL]]
                if not f.escaped:
                    cell_h = self.cache._prefetch(b + f.start, f.end - f.start)
            if nf != ncols:
                self._reject(BAD_FIELD_COUNT, -1, rec_line, rec, recend, nf)
                continue
            if hi & 0x80:
                k = _utf8_error(b + rec, recend - rec)
                if k >= 0:
                    badcol = -1
                    for i in range(ncols):
                        if fields[i].start <= rec + k < fields[i].end + 1:
                            badcol = i
                            break
                    self._reject(BAD_UTF8, badcol, rec_line, rec, recend, k)
                    continue
            # ---- convert ----
            # record type
            f = &fields[self.role_col[R_RTYPE]]
            s = b + f.start
            n = f.end - f.start
            if f.escaped:
                self._grow_tmp(n)
                n = self._unescape(b, f, self.tmp)
                s = self.tmp
            rt = -2
            for i in range(self.n_codes):
                if self.code_len[i] == n and _eq(self.code_txt[i], s, n):
                    rt = self.code_val[i]
                    break
            if rt == -2:
                self._reject(BAD_RTYPE, self.role_col[R_RTYPE], rec_line, rec, recend, 0)
                continue
            if rt == -1:
                self.skipped += 1
                continue
            # time
            col = self.role_col[R_TIME]
            f = &fields[col]
            s = b + f.start
            n = f.end - f.start
            if self.time_kind == TF_ISO:
                reason = _iso(s, n, self.naive_off, &t, &self.dates)
            elif self.time_kind == TF_PATTERN:
                reason = _pattern(self.ops, self.op_args, self.n_ops, self.naive_off, s, n, &t)
            elif self.time_kind == TF_EPOCH:
                reason = _epoch(s, n, 1, &t)
            else:
                reason = _epoch(s, n, 1000, &t)
            if reason < 0:
                self._reject(BAD_TIME, col, rec_line, rec, recend, 0)
                continue
            # imsi, imei, msisdn, other party
            if self._digit_field(b, R_IMSI, 15, 15, False, False, &o_imsi[out_n]) < 0:
                self._reject(BAD_IMSI, self.role_col[R_IMSI], rec_line, rec, recend, 0)
                continue
            if self._digit_field(b, R_IMEI, 14, 16, True, False, &o_imei[out_n]) < 0:
                self._reject(BAD_IMEI, self.role_col[R_IMEI], rec_line, rec, recend, 0)
                continue
            if self._digit_field(b, R_MSISDN, 1, 18, True, True, &o_msisdn[out_n]) < 0:
                self._reject(BAD_MSISDN, self.role_col[R_MSISDN], rec_line, rec, recend, 0)
                continue
            if self._digit_field(b, R_OTHER, 1, 18, True, True, &o_other[out_n]) < 0:
                self._reject(BAD_OTHER, self.role_col[R_OTHER], rec_line, rec, recend, 0)
                continue
            # duration
            col = self.role_col[R_DURATION]
            if col >= 0:
                f = &fields[col]
                if _duration(b + f.start, f.end - f.start, &d32) < 0:
                    self._reject(BAD_DURATION, col, rec_line, rec, recend, 0)
                    continue
            else:
                d32 = 0
            # cell
            code = -1
            if self.n_cell_parts == 1:
                f = &fields[self.role_col[R_CELL]]
                n = f.end - f.start
                if n > 0:
                    if f.escaped:
                        self._grow_tmp(n)
                        n = self._unescape(b, f, self.tmp)
                        code = self.cache._lookup(self.tmp, n)
                    else:                          # hashed when its slot was prefetched
                        code = self.cache._lookup_hashed(b + f.start, n, cell_h)
            elif self.n_cell_parts > 1:
                code = self._joined_cell(b)
            o_rtype[out_n] = <uint8_t>rt
            o_time[out_n] = t
            o_dur[out_n] = d32
            o_cell[out_n] = code
            out_n += 1
            self.accepted += 1
            continue


        ppos[0] = p
        pout[0] = out_n
        if status == ST_NEED_INPUT and self.n_rej > 0 and (
                self.stop_on_reject or self.n_rej >= REJ_CAP):
            status = ST_REJECTS_READY
        return status

    cdef inline int _digit_field(self, const uint8_t* b, int role, int lo, int hi,
                                 bint empty_ok, bint plus_ok, int64_t* out) noexcept nogil:
        """Digits code of the role's column into out[0] (0 when the file lacks the
        column); -1 for a bad value."""
        cdef int col = self.role_col[role]
        cdef Field* f
        if col < 0:
            out[0] = 0
            return 0
        f = &self.fields[col]
        return _digits(b + f.start, f.end - f.start, lo, hi, empty_ok, plus_ok,
                       self.float_numbers, out)

    cdef int _joined_cell(self, const uint8_t* b) except -2 nogil:
        """Cell token of several columns joined with '-' (all empty = unknown)."""
        cdef Py_ssize_t need = 0, k = 0
        cdef int i
        cdef Field* f
        cdef bint any_part = False
        for i in range(self.n_cell_parts):
            f = &self.fields[self.role_col[R_CELL + i]]
            need += f.end - f.start + 1
            if f.end > f.start:
                any_part = True
        if not any_part:
            return -1
        self._grow_tmp(need)
        for i in range(self.n_cell_parts):
            f = &self.fields[self.role_col[R_CELL + i]]
            if i:
                self.tmp[k] = 45
                k += 1
            if f.escaped:
                k += self._unescape(b, f, self.tmp + k)
            else:
                memcpy(self.tmp + k, b + f.start, f.end - f.start)
                k += f.end - f.start
        return self.cache._lookup(self.tmp, k)
