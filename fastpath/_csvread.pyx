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
"""
cimport cython
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy

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
cdef enum:
    TF_ISO = 0
    TF_EPOCH = 1
    TF_EPOCH_MS = 2
    TF_PATTERN = 3
    OP_LIT = 0
    OP_Y4 = 1
    OP_Y2 = 2
    OP_MON = 3
    OP_DAY = 4
    OP_HOUR = 5
    OP_MIN = 6
    OP_SEC = 7
    OP_FRAC = 8
    OP_TZ = 9
    MAX_OPS = 64

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

cdef int64_t MAX_DURATION = 172800
cdef int64_t MAX_EPOCH = 7258118400   # 2200-01-01


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
    uint64_t h            # hash of the token
    int64_t off           # offset of the token in the arena
    int32_t length        # token length in bytes
    int32_t code          # CellDict code, -1 = empty slot


cdef inline bint _eq(const uint8_t* a, const uint8_t* b, Py_ssize_t n) noexcept nogil:
    """a[:n] == b[:n], word by word (tokens are short: no call to memcmp)."""
    cdef uint64_t x, y
    while n >= 8:
        memcpy(&x, a, 8)
        memcpy(&y, b, 8)
        if x != y:
            return False
        a += 8
        b += 8
        n -= 8
    while n > 0:
        if a[0] != b[0]:
            return False
        a += 1
        b += 1
        n -= 1
    return True


cdef inline uint64_t _hash(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = <uint64_t>0x9E3779B97F4A7C15 ^ <uint64_t>n
    cdef uint64_t w
    while n >= 8:
        memcpy(&w, s, 8)
        h = (h ^ w) * <uint64_t>0xff51afd7ed558ccd
        h ^= h >> 32
        s += 8
        n -= 8
    w = 0
    if n > 0:
        memcpy(&w, s, n)
    h = (h ^ w) * <uint64_t>0xc4ceb9fe1a85ec53
    h ^= h >> 29
    return h


cdef class CellCache:
    """A C hash table memoising ``cells.code(token)`` for byte tokens.

    Every code comes from the ``CellDict`` itself, so the codes stay those of the
    run's dictionary whoever else adds tokens to it.
    """
    cdef Slot* slots        # open addressing, linear probing
    cdef size_t mask        # capacity - 1 (capacity a power of two)
    cdef size_t used
    cdef uint8_t* arena     # token bytes
    cdef size_t arena_len, arena_cap
    cdef readonly object cells

    def __cinit__(self, cells):
        self.cells = cells
        self.mask = 1023
        self.slots = <Slot*>malloc((self.mask + 1) * sizeof(Slot))
        self.arena_cap = 1 << 16
        self.arena = <uint8_t*>malloc(self.arena_cap)
        if self.slots == NULL or self.arena == NULL:
            raise MemoryError("cell cache")
        cdef size_t i
        for i in range(self.mask + 1):
            self.slots[i].code = -1
        self.used = 0
        self.arena_len = 0

    def __dealloc__(self):
        free(self.slots)
        free(self.arena)

    def __len__(self):
        return self.used

    def lookup(self, bytes token):
        """Code of ``token`` (UTF-8 bytes), added to the CellDict if new."""
        return self._lookup(<const uint8_t*>(<char*>token), len(token))

    cdef int32_t _lookup(self, const uint8_t* s, Py_ssize_t n) except -2 nogil:
        cdef uint64_t h = _hash(s, n)
        cdef size_t i = h & self.mask
        cdef Slot* sl
        while True:
            sl = &self.slots[i]
            if sl.code < 0:
                break
            if sl.h == h and sl.length == n and _eq(self.arena + sl.off, s, n):
                return sl.code
            i = (i + 1) & self.mask
        with gil:
            return self._insert(s, n, h)

    cdef int32_t _insert(self, const uint8_t* s, Py_ssize_t n, uint64_t h) except -2:
        token = (<const char*>s)[:n].decode("utf-8", "surrogateescape")
        cdef int64_t code = self.cells.code(token)
        if code < 0 or code > 2147483647:
            raise OverflowError(f"cell code {code} out of int32 range")
        cdef uint8_t* na
        if self.arena_len + n > self.arena_cap:
            while self.arena_len + n > self.arena_cap:
                self.arena_cap *= 2
            na = <uint8_t*>realloc(self.arena, self.arena_cap)
            if na == NULL:
                raise MemoryError("cell cache")
            self.arena = na
        memcpy(self.arena + self.arena_len, s, n)
        if (self.used + 1) * 2 > self.mask + 1:
            self._grow()
        cdef size_t i = h & self.mask
        while self.slots[i].code >= 0:
            i = (i + 1) & self.mask
        self.slots[i].h = h
        self.slots[i].off = self.arena_len
        self.slots[i].length = <int32_t>n
        self.slots[i].code = <int32_t>code
        self.arena_len += n
        self.used += 1
        return <int32_t>code

    cdef int _grow(self) except -1:
        cdef size_t cap = (self.mask + 1) * 2, i, j
        cdef Slot* ns = <Slot*>malloc(cap * sizeof(Slot))
        if ns == NULL:
            raise MemoryError("cell cache")
        for i in range(cap):
            ns[i].code = -1
        for i in range(self.mask + 1):
            if self.slots[i].code >= 0:
                j = self.slots[i].h & (cap - 1)
                while ns[j].code >= 0:
                    j = (j + 1) & (cap - 1)
                ns[j] = self.slots[i]
        free(self.slots)
        self.slots = ns
        self.mask = cap - 1
        return 0


# ---- field converters (return 0 on success, -1 on a bad value) -------------------

cdef inline int _digits(const uint8_t* s, Py_ssize_t n, int minlen, int maxlen,
                        bint allow_empty, bint allow_plus, bint float_ok,
                        int64_t* out) noexcept nogil:
    """Digits code of s[:n]; optional leading '+', optional '.0*' suffix."""
    cdef Py_ssize_t i, k
    cdef int64_t v
    cdef uint8_t c
    if allow_plus and n > 0 and s[0] == 43:   # '+'
        s += 1
        n -= 1
        if n == 0:
            return -1
    if float_ok:
        for i in range(n):
            if s[i] == 46:                     # '.'
                if i == 0:
                    return -1
                for k in range(i + 1, n):
                    if s[k] != 48:
                        return -1
                n = i
                break
    if n == 0:
        out[0] = 0
        return 0 if allow_empty else -1
    if n < minlen or n > maxlen:
        return -1
    v = 1
    for i in range(n):
        c = s[i] - 48
        if c > 9:
            return -1
        v = v * 10 + c
    out[0] = v
    return 0


cdef inline int _duration(const uint8_t* s, Py_ssize_t n, int32_t* out) noexcept nogil:
    """Seconds 0-172800; empty = 0; a fraction is rounded half up."""
    cdef Py_ssize_t i = 0
    cdef int64_t v = 0
    cdef uint8_t c
    if n == 0:
        out[0] = 0
        return 0
    while i < n and s[i] != 46:
        c = s[i] - 48
        if c > 9 or v > MAX_DURATION:
            return -1
        v = v * 10 + c
        i += 1
    if i == 0:
        return -1
    if i < n:                                  # fraction
        if i + 1 == n:
            return -1
        c = s[i + 1] - 48
        if c > 9:
            return -1
        if c >= 5:
            v += 1
        for i in range(i + 1, n):
            if <uint8_t>(s[i] - 48) > 9:
                return -1
    if v > MAX_DURATION:
        return -1
    out[0] = <int32_t>v
    return 0


cdef inline int64_t _days_from_civil(int64_t y, int64_t m, int64_t d) noexcept nogil:
    # Howard Hinnant's algorithm; y >= 1900 here, so C division is floor division.
    if m <= 2:
        y -= 1
    cdef int64_t era = y // 400
    cdef int64_t yoe = y - era * 400
    cdef int64_t mp = m - 3 if m > 2 else m + 9
    cdef int64_t doy = (153 * mp + 2) // 5 + d - 1
    cdef int64_t doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef inline int _days_in_month(int64_t y, int64_t m) noexcept nogil:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


cdef inline int _num(const uint8_t* s, Py_ssize_t n, Py_ssize_t p, int width) noexcept nogil:
    """Value of exactly `width` digits at s[p:], -1 if not digits."""
    cdef int v = 0, i
    cdef uint8_t c
    if p + width > n:
        return -1
    for i in range(width):
        c = s[p + i] - 48
        if c > 9:
            return -1
        v = v * 10 + c
    return v


cdef inline int _tz(const uint8_t* s, Py_ssize_t n, Py_ssize_t* p, int64_t* off) noexcept nogil:
    """Parse Z | +HH | +HHMM | +HH:MM (and '-') at s[p[0]:]; seconds east of UTC."""
    cdef Py_ssize_t q = p[0]
    cdef int hh, mm = 0, sign
    if q >= n:
        return -1
    if s[q] == 90:                             # 'Z'
        off[0] = 0
        p[0] = q + 1
        return 0
    if s[q] == 43:
        sign = 1
    elif s[q] == 45:
        sign = -1
    else:
        return -1
    hh = _num(s, n, q + 1, 2)
    if hh < 0 or hh > 23:
        return -1
    q += 3
    if q < n and s[q] == 58:                   # ':'
        mm = _num(s, n, q + 1, 2)
        if mm < 0:
            return -1
        q += 3
    elif q + 1 < n and <uint8_t>(s[q] - 48) <= 9:
        mm = _num(s, n, q, 2)
        if mm < 0:
            return -1
        q += 2
    if mm > 59:
        return -1
    off[0] = sign * (hh * 3600 + mm * 60)
    p[0] = q
    return 0


cdef inline int _finish_time(int64_t Y, int64_t M, int64_t D, int64_t h, int64_t mi,
                             int64_t sec, int64_t off, int64_t* out) noexcept nogil:
    if Y < 1900 or Y > 2199 or M < 1 or M > 12 or D < 1 or D > _days_in_month(Y, M):
        return -1
    if h > 23 or mi > 59 or sec > 59:
        return -1
    out[0] = _days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off
    return 0


cdef inline int _iso(const uint8_t* s, Py_ssize_t n, int64_t naive_off, int64_t* out) noexcept nogil:
    """YYYY-MM-DD(T| )HH:MM:SS[.f{1,9}][Z|+HH[[:]MM]]; no zone = local at naive_off."""
    cdef int Y, M, D, h, mi, sec
    cdef Py_ssize_t p, k
    cdef int64_t off = naive_off
    if n < 19 or s[4] != 45 or s[7] != 45 or (s[10] != 84 and s[10] != 32) \
            or s[13] != 58 or s[16] != 58:
        return -1
    Y = _num(s, n, 0, 4)
    M = _num(s, n, 5, 2)
    D = _num(s, n, 8, 2)
    h = _num(s, n, 11, 2)
    mi = _num(s, n, 14, 2)
    sec = _num(s, n, 17, 2)
    if Y < 0 or M < 0 or D < 0 or h < 0 or mi < 0 or sec < 0:
        return -1
    p = 19
    if p < n and s[p] == 46:
        k = p + 1
        while k < n and <uint8_t>(s[k] - 48) <= 9:
            k += 1
        if k == p + 1 or k - p - 1 > 9:
            return -1
        p = k
    if p < n:
        if _tz(s, n, &p, &off) < 0 or p != n:
            return -1
    return _finish_time(Y, M, D, h, mi, sec, off, out)


cdef inline int _epoch(const uint8_t* s, Py_ssize_t n, int64_t div, int64_t* out) noexcept nogil:
    """Integer epoch seconds (div=1) or milliseconds (div=1000), optional '.digits'."""
    cdef Py_ssize_t i = 0
    cdef int64_t v = 0
    cdef uint8_t c
    while i < n and s[i] != 46:
        c = s[i] - 48
        if c > 9 or i >= 15:
            return -1
        v = v * 10 + c
        i += 1
    if i == 0:
        return -1
    if i < n:
        if i + 1 == n:
            return -1
        for i in range(i + 1, n):
            if <uint8_t>(s[i] - 48) > 9:
                return -1
    v = v // div
    if v >= MAX_EPOCH:
        return -1
    out[0] = v
    return 0


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
        if ncols < 1 or ncols > 100000:
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

    def reject_external(self, int reason):
        """Count a reject found by the wrapper (e.g. a record too long for any buffer)."""
        self.records += 1
        self.rejected_by[reason] += 1

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

    cdef int _split_fast(self, const uint8_t* b, Py_ssize_t* pp, Py_ssize_t end,
                         Split* sp) noexcept nogil:
        """The record at pp[0] when it holds no quote: 64 bytes per step, SIMD.

        Returns 1 with the same outputs as _split, or 0 (nothing changed) when the
        record needs the byte-by-byte path (a quote nearby, or near the buffer end).
        """
        cdef Py_ssize_t p = pp[0], fs = p, e
        cdef uint64_t stop, qm, hm, hi = 0
        cdef int nf = 0, ncols = self.ncols, k
        cdef Field* fields = self.fields
        while p + 64 <= end:
            stop = csv_scan64(b + p, self.sep, self.quote, &qm, &hm)
            if qm:
                return 0
            while stop:
                k = csv_ctz64(stop)
                e = p + k
                if nf < ncols:
                    fields[nf].start = fs
                    fields[nf].end = e
                    fields[nf].escaped = 0
                nf += 1
                if b[e] == 10:
                    if e > fs and b[e - 1] == 13:
                        if nf <= ncols:
                            fields[nf - 1].end = e - 1
                        sp.recend = e - 1
                    else:
                        sp.recend = e
                    if k < 63:
                        hm &= (<uint64_t>2 << k) - 1
                    sp.nf = nf
                    sp.hi = 0x80 if (hi | hm) else 0
                    sp.nl_in = 0
                    sp.bad_quote = 0
                    pp[0] = e + 1
                    return 1
                fs = e + 1
                stop &= stop - 1
            hi |= hm
            p += 64
        return 0

    cdef int _split(self, const uint8_t* b, Py_ssize_t* pp, Py_ssize_t end, bint final,
                    Split* sp) noexcept nogil:
        """Find the fields of the record at pp[0]; -1 if it is not complete in the buffer.

        OUT: self.fields (first ncols), sp; pp[0] = start of the next record.
        """
        cdef Py_ssize_t p = pp[0], fs, fe
        cdef uint8_t c, hi = 0, sep = self.sep, quote = self.quote, esc, bad_quote = 0
        cdef int nf = 0, ncols = self.ncols
        cdef int64_t nl_in = 0
        cdef Field* fields = self.fields
        while True:
            if p < end and b[p] == quote:
                p += 1
                fs = p
                esc = 0
                while p < end:
                    c = b[p]
                    if c == quote:
                        if p + 1 < end and b[p + 1] == quote:
                            esc = 1
                            p += 2
                            continue
                        break
                    hi |= c
                    if c == 10:
                        nl_in += 1
                    p += 1
                fe = p
                if p >= end:                       # no closing quote in the buffer
                    if not final:
                        return -1
                    bad_quote = 2                  # unterminated at the end of input
                else:
                    p += 1                         # the closing quote
                    if p == end and not final:
                        return -1                  # a "" pair may continue in the next read
                    if p < end and b[p] != sep and b[p] != 10:
                        if b[p] == 13 and p + 1 < end and b[p + 1] == 10:
                            p += 1                 # the \r of \r\n
                        elif b[p] == 13 and p + 1 == end:
                            if not final:
                                return -1
                            p += 1
                        else:
                            bad_quote = 1          # junk after the closing quote
                            while p < end and b[p] != sep and b[p] != 10:
                                hi |= b[p]
                                p += 1
                            if p >= end and not final:
                                return -1
                if nf < ncols:
                    fields[nf].start = fs
                    fields[nf].end = fe
                    fields[nf].escaped = esc
            else:
                fs = p
                while p < end:
                    c = b[p]
                    if c == sep or c == 10:
                        break
                    hi |= c
                    p += 1
                if p >= end and not final:
                    return -1
                fe = p
                if fe > fs and b[fe - 1] == 13 and (p >= end or b[p] == 10):
                    fe -= 1
                if nf < ncols:
                    fields[nf].start = fs
                    fields[nf].end = fe
                    fields[nf].escaped = 0
            nf += 1
            if p >= end:
                sp.recend = p
                if p > pp[0] and b[p - 1] == 13:
                    sp.recend = p - 1
                break
            if b[p] == sep:
                p += 1
                continue
            sp.recend = p                          # b[p] == '\n'
            if p > pp[0] and b[p - 1] == 13:
                sp.recend = p - 1
            p += 1
            break
        sp.nf = nf
        sp.hi = hi
        sp.nl_in = nl_in
        sp.bad_quote = bad_quote
        pp[0] = p
        return 0

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
            if not self._split_fast(b, &p, end, &sp) and self._split(b, &p, end, final, &sp) < 0:
                # incomplete record at the end of the buffer
                p = rec
                if end - rec >= self.max_record:
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
                    self._reject(BAD_TOO_LONG, -1, self.line, rec, min(rec + 2000, end), end - rec)
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
            if bad_quote:
                self._reject(BAD_QUOTE, -1, rec_line, rec, recend, 0)
                continue
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
                reason = _iso(s, n, self.naive_off, &t)
            elif self.time_kind == TF_PATTERN:
                reason = self._pattern(s, n, &t)
            elif self.time_kind == TF_EPOCH:
                reason = _epoch(s, n, 1, &t)
            else:
                reason = _epoch(s, n, 1000, &t)
            if reason < 0:
                self._reject(BAD_TIME, col, rec_line, rec, recend, 0)
                continue
            # imsi
            col = self.role_col[R_IMSI]
            f = &fields[col]
            if _digits(b + f.start, f.end - f.start, 15, 15, False, False,
                       self.float_numbers, &o_imsi[out_n]) < 0:
                self._reject(BAD_IMSI, col, rec_line, rec, recend, 0)
                continue
            # imei
            col = self.role_col[R_IMEI]
            if col >= 0:
                f = &fields[col]
                if _digits(b + f.start, f.end - f.start, 14, 16, True, False,
                           self.float_numbers, &o_imei[out_n]) < 0:
                    self._reject(BAD_IMEI, col, rec_line, rec, recend, 0)
                    continue
            else:
                o_imei[out_n] = 0
            # msisdn
            col = self.role_col[R_MSISDN]
            if col >= 0:
                f = &fields[col]
                if _digits(b + f.start, f.end - f.start, 1, 18, True, True,
                           self.float_numbers, &o_msisdn[out_n]) < 0:
                    self._reject(BAD_MSISDN, col, rec_line, rec, recend, 0)
                    continue
            else:
                o_msisdn[out_n] = 0
            # other party
            col = self.role_col[R_OTHER]
            if col >= 0:
                f = &fields[col]
                if _digits(b + f.start, f.end - f.start, 1, 18, True, True,
                           self.float_numbers, &o_other[out_n]) < 0:
                    self._reject(BAD_OTHER, col, rec_line, rec, recend, 0)
                    continue
            else:
                o_other[out_n] = 0
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
                    else:
                        code = self.cache._lookup(b + f.start, n)
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

    cdef int _pattern(self, const uint8_t* s, Py_ssize_t n, int64_t* out) noexcept nogil:
        """Time by a strftime-style pattern compiled to ops (see columns.py)."""
        cdef int64_t Y = -1, M = -1, D = -1, h = 0, mi = 0, sec = 0, off = self.naive_off
        cdef Py_ssize_t p = 0, k
        cdef int i, op, v, width
        for i in range(self.n_ops):
            op = self.ops[i]
            if op == OP_LIT:
                if p >= n or s[p] != self.op_args[i]:
                    return -1
                p += 1
            elif op == OP_Y4:
                v = _num(s, n, p, 4)
                if v < 0:
                    return -1
                Y = v
                p += 4
            elif op == OP_FRAC:
                k = p
                while k < n and <uint8_t>(s[k] - 48) <= 9:
                    k += 1
                if k == p or k - p > 9:
                    return -1
                p = k
            elif op == OP_TZ:
                if _tz(s, n, &p, &off) < 0:
                    return -1
            else:
                # two digits; one when the pattern allows it (a literal follows: arg 1)
                # and the next byte is not a digit, as in 1/3/2026 8:00:05
                width = 2
                if self.op_args[i] and not (p + 1 < n and <uint8_t>(s[p + 1] - 48) <= 9):
                    width = 1
                v = _num(s, n, p, width)
                if v < 0:
                    return -1
                p += width
                if op == OP_Y2:
                    Y = 2000 + v
                elif op == OP_MON:
                    M = v
                elif op == OP_DAY:
                    D = v
                elif op == OP_HOUR:
                    h = v
                elif op == OP_MIN:
                    mi = v
                else:
                    sec = v
        if p != n:
            return -1
        return _finish_time(Y, M, D, h, mi, sec, off, out)


cdef Py_ssize_t _utf8_error(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    """Offset of the first byte that is not valid UTF-8 (as Python decodes it), -1 if none."""
    cdef Py_ssize_t i = 0, k, need
    cdef uint8_t c, c1
    while i < n:
        c = s[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            need = 1
        elif 0xE0 <= c <= 0xEF:
            need = 2
        elif 0xF0 <= c <= 0xF4:
            need = 3
        else:
            return i
        if i + need >= n:
            return i
        c1 = s[i + 1]
        if (c1 & 0xC0) != 0x80:
            return i
        if c == 0xE0 and c1 < 0xA0:
            return i
        if c == 0xED and c1 > 0x9F:
            return i
        if c == 0xF0 and c1 < 0x90:
            return i
        if c == 0xF4 and c1 > 0x8F:
            return i
        for k in range(2, need + 1):
            if (s[i + k] & 0xC0) != 0x80:
                return i
        i += need + 1
    return -1
