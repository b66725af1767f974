# Parquet pages read in place (included by _columnar.pyx; wrapper: parquet_pages.py).
#
# The wrapper reads a column chunk's bytes, finds its pages with page_header and
# decompresses each page with Arrow's codecs; a PageColumn then turns the page's values
# straight into event column values under the field's rule (the _convert of this
# module: no Arrow array, no string per value).  What it reads (the Parquet format,
# parquet-format's parquet.thrift and Encodings.md):
#
# - page headers in the Thrift compact protocol (unknown fields skipped);
# - definition levels of a flat column (max level 0 or 1): the RLE / bit-packed hybrid,
#   after a 4-byte length in a v1 data page, alone in a v2 page's level section;
# - values PLAIN (BYTE_ARRAY: 4-byte length + bytes; INT32, INT64 little-endian) or
#   PLAIN_DICTIONARY / RLE_DICTIONARY (a bit width byte, then the hybrid of indices into
#   the chunk's dictionary page, whose values were converted once: table + bad).
#
# Anything else (other encodings, a damaged page, a value not in its plain form) makes
# take() return -1: the wrapper then reads those rows through pyarrow and the
# normaliser, which decide what is wrong.  Every read is bounds-checked against the
# page: a damaged file cannot make the kernel read outside its buffers.

cdef enum:
    M_TEXT = 0          # BYTE_ARRAY values under a Rule
    M_INT = 1           # INT32 / INT64 values under a Rule (K_DIGITS, K_SECONDS)
    M_INSTANT = 2       # INT64 timestamps: floor(v / unit) - shift; null not plain
    M_CODES = 3         # dictionary pages only: codes from a table set by the wrapper
    P_BYTE_ARRAY = 0
    P_INT32 = 1
    P_INT64 = 2
    E_PLAIN = 0         # parquet.thrift Encoding
    E_PLAIN_DICTIONARY = 2
    E_RLE = 3
    E_RLE_DICTIONARY = 8
    H_TYPE = 0          # slots of page_header's output
    H_UNCOMPRESSED = 1
    H_COMPRESSED = 2
    H_VALUES = 3
    H_ENCODING = 4
    H_DEF_ENCODING = 5
    H_NULLS = 6
    H_DEF_BYTES = 7
    H_REP_BYTES = 8
    H_IS_COMPRESSED = 9
    H_SLOTS = 10

PQ_TEXT, PQ_INT, PQ_INSTANT, PQ_CODES = M_TEXT, M_INT, M_INSTANT, M_CODES
PQ_BYTE_ARRAY, PQ_INT32, PQ_INT64 = P_BYTE_ARRAY, P_INT32, P_INT64
HEADER_SLOTS = H_SLOTS
(H_PAGE_TYPE, H_PAGE_UNCOMPRESSED, H_PAGE_COMPRESSED, H_PAGE_VALUES, H_PAGE_ENCODING,
 H_PAGE_NULLS, H_PAGE_DEF_BYTES, H_PAGE_REP_BYTES, H_PAGE_IS_COMPRESSED) = (
    H_TYPE, H_UNCOMPRESSED, H_COMPRESSED, H_VALUES, H_ENCODING, H_NULLS, H_DEF_BYTES,
    H_REP_BYTES, H_IS_COMPRESSED)


# ---- the Thrift compact protocol (page headers) ----------------------------------------------

cdef struct TIn:
    const uint8_t* p            # next byte
    const uint8_t* end          # end of the buffer
    bint bad                    # read past the end, or malformed


cdef inline uint64_t _uvarint(TIn* t) noexcept nogil:
    cdef uint64_t v = 0
    cdef int shift = 0
    cdef uint8_t b
    while t.p < t.end and shift < 64:
        b = t.p[0]
        t.p += 1
        v |= <uint64_t>(b & 0x7f) << shift
        if not b & 0x80:
            return v
        shift += 7
    t.bad = True
    return 0


cdef inline int64_t _svarint(TIn* t) noexcept nogil:
    cdef uint64_t v = _uvarint(t)
    return <int64_t>(v >> 1) ^ -<int64_t>(v & 1)


cdef void _tskip(TIn* t, int typ, bint in_list, int depth) noexcept nogil:
    """Pass over one value of compact type ``typ`` (1/2: a bool, in a list one byte)."""
    cdef uint64_t n, i
    cdef uint8_t b
    if depth > 32:
        t.bad = True
    if t.bad:
        return
    if typ == 1 or typ == 2:
        if in_list:
            t.p += 1
    elif typ == 3:
        t.p += 1
    elif typ == 4 or typ == 5 or typ == 6:
        _uvarint(t)
    elif typ == 7:
        t.p += 8
    elif typ == 8:
        n = _uvarint(t)
        if n > <uint64_t>(t.end - t.p):
            t.bad = True
            return
        t.p += n
    elif typ == 9 or typ == 10:
        if t.p >= t.end:
            t.bad = True
            return
        b = t.p[0]
        t.p += 1
        n = b >> 4
        if n == 15:
            n = _uvarint(t)
        for i in range(n):
            _tskip(t, b & 15, True, depth + 1)
            if t.bad or t.p > t.end:
                t.bad = True
                return
    elif typ == 11:
        n = _uvarint(t)
        if n:
            if t.p >= t.end:
                t.bad = True
                return
            b = t.p[0]
            t.p += 1
            for i in range(n):
                _tskip(t, b >> 4, True, depth + 1)
                _tskip(t, b & 15, True, depth + 1)
                if t.bad or t.p > t.end:
                    t.bad = True
                    return
    elif typ == 12:
        _tstruct(t, NULL, 0, depth + 1)
    else:
        t.bad = True
    if t.p > t.end:
        t.bad = True


cdef inline int _tfield(TIn* t, int* last, int* typ) noexcept nogil:
    """The id of the struct's next field (its compact type in typ), 0 at its end."""
    cdef uint8_t b
    if t.p >= t.end:
        t.bad = True
        return 0
    b = t.p[0]
    t.p += 1
    if b == 0:
        return 0
    typ[0] = b & 15
    if b >> 4:
        last[0] += b >> 4
    else:
        last[0] = <int>_svarint(t)
    return last[0]


cdef void _tstruct(TIn* t, int64_t* out, int base, int depth) noexcept nogil:
    """Read a struct: with ``out``, the integer fields of page headers into their slots
    (``base`` says which struct: 0 PageHeader, 5 DataPageHeader, 7 DictionaryPageHeader,
    8 DataPageHeaderV2), the others passed over."""
    cdef int last = 0, typ = 0, fid, slot
    while not t.bad:
        fid = _tfield(t, &last, &typ)
        if fid == 0 or t.bad:
            return
        slot = -1
        if out != NULL:
            if base == 0 and typ == 12 and (fid == 5 or fid == 7 or fid == 8):
                _tstruct(t, out, fid, depth + 1)
                continue
            slot = _slot(base, fid)
        if slot >= 0 and typ == 5:
            out[slot] = _svarint(t)
        elif slot == H_IS_COMPRESSED and (typ == 1 or typ == 2):
            out[slot] = typ == 1
        else:
            _tskip(t, typ, False, depth + 1)


cdef inline int _slot(int base, int fid) noexcept nogil:
    if base == 0:                               # PageHeader
        if fid == 1:
            return H_TYPE
        if fid == 2:
            return H_UNCOMPRESSED
        if fid == 3:
            return H_COMPRESSED
    elif base == 5 or base == 7:                # DataPageHeader, DictionaryPageHeader
        if fid == 1:
            return H_VALUES
        if fid == 2:
            return H_ENCODING
        if fid == 3 and base == 5:
            return H_DEF_ENCODING
    elif base == 8:                             # DataPageHeaderV2
        if fid == 1:
            return H_VALUES
        if fid == 2:
            return H_NULLS
        if fid == 4:
            return H_ENCODING
        if fid == 5:
            return H_DEF_BYTES
        if fid == 6:
            return H_REP_BYTES
        if fid == 7:
            return H_IS_COMPRESSED
    return -1


def page_header(const uint8_t[::1] buf, Py_ssize_t pos, int64_t[::1] h):
    """OUT h[H_*]: the fields of the page header at ``buf[pos:]`` (-1 where absent;
    H_IS_COMPRESSED 1 unless a v2 header says 0).  The header's length in bytes, or -1
    when it is damaged or runs past the buffer."""
    cdef TIn t
    cdef Py_ssize_t i
    if h.shape[0] < H_SLOTS or pos < 0 or pos > buf.shape[0]:
        raise ValueError("bad header slots or position")
    for i in range(H_SLOTS):
        h[i] = -1
    h[H_IS_COMPRESSED] = 1
    if pos == buf.shape[0]:
        return -1
    t.p = &buf[0] + pos
    t.end = &buf[0] + buf.shape[0]
    t.bad = False
    with nogil:
        _tstruct(&t, &h[0], 0, 0)
    if t.bad or h[H_TYPE] < 0 or h[H_COMPRESSED] < 0 or h[H_UNCOMPRESSED] < 0:
        return -1
    return t.p - (&buf[0] + pos)


# ---- the RLE / bit-packed hybrid (levels, dictionary indices) --------------------------------

cdef struct Hybrid:
    const uint8_t* p            # next run header
    const uint8_t* end          # end of the encoded data
    int width                   # bits per value (0..32)
    int64_t rle_left            # values left in the current repeated run
    int64_t rle_value
    const uint8_t* run          # the current bit-packed run
    int64_t run_bytes
    int64_t packed_left         # values left in it
    int64_t packed_j            # index of the next one


cdef inline int _hstart(Hybrid* h, const uint8_t* p, const uint8_t* end, int width) noexcept nogil:
    if width < 0 or width > 32:
        return -1
    h.p, h.end, h.width = p, end, width
    h.rle_left = h.packed_left = h.packed_j = h.run_bytes = 0
    h.run = p
    return 0


cdef inline int _hload(Hybrid* h) noexcept nogil:
    """Load the next run once the current one is spent; -1 past the end of the data."""
    cdef TIn t
    cdef uint64_t hdr, w
    cdef int64_t nbytes
    while h.rle_left == 0 and h.packed_left == 0:
        if h.p >= h.end:
            return -1
        t.p, t.end, t.bad = h.p, h.end, False
        hdr = _uvarint(&t)
        if t.bad or hdr >> 1 > (<uint64_t>1 << 40):
            return -1
        h.p = t.p
        if hdr & 1:                             # bit-packed: (hdr >> 1) groups of 8 values
            nbytes = <int64_t>(hdr >> 1) * h.width
            if nbytes > h.end - h.p:
                nbytes = h.end - h.p            # a writer may cut the last run's padding
            h.run, h.run_bytes = h.p, nbytes
            h.packed_left = min(<int64_t>(hdr >> 1) * 8, (nbytes * 8) // h.width) \
                if h.width else <int64_t>(hdr >> 1) * 8
            h.packed_j = 0
            h.p += nbytes
        else:                                   # repeated: (hdr >> 1) times one value
            nbytes = (h.width + 7) // 8
            if nbytes > h.end - h.p:
                return -1
            w = 0
            memcpy(&w, h.p, nbytes)
            h.p += nbytes
            h.rle_left, h.rle_value = <int64_t>(hdr >> 1), <int64_t>w
    return 0


cdef inline int _hnext(Hybrid* h, int64_t* v) noexcept nogil:
    """v[0]: the next value; -1 past the end of the data."""
    cdef uint64_t w
    cdef int64_t bit, byte, k
    if h.rle_left == 0 and h.packed_left == 0 and _hload(h) < 0:
        return -1
    if h.rle_left:
        h.rle_left -= 1
        v[0] = h.rle_value
        return 0
    bit = h.packed_j * h.width
    byte = bit >> 3
    w = 0
    k = h.run_bytes - byte
    memcpy(&w, h.run + byte, 8 if k >= 8 else (k if k > 0 else 0))
    v[0] = <int64_t>((w >> (bit & 7)) & ((<uint64_t>1 << h.width) - 1))
    h.packed_j += 1
    h.packed_left -= 1
    return 0


# ---- one column's values ------------------------------------------------------------------

cdef struct Column:
    int mode                    # M_*
    int phys                    # P_*
    int max_def                 # 0 (required) or 1 (optional)
    Rule rule                   # M_TEXT, M_INT
    int64_t unit                # M_INSTANT: ticks per second
    int64_t shift               # M_INSTANT: seconds subtracted
    bint null_ok                # M_INSTANT, M_CODES: a null is null_value (else not plain)
    int64_t null_value
    const int64_t* table        # the dictionary's codes (tsize of them)
    const uint8_t* tbad         # and whether each is not plain
    Py_ssize_t tsize
    bint has_table
    bint has_defs               # the current page has definition levels
    bint dict_page              # its values are dictionary indices (idx)
    Hybrid defs
    Hybrid idx
    const uint8_t* vp           # else its PLAIN values, vp..vend
    const uint8_t* vend


cdef class PageColumn:
    """The values of one column chunk, page by page: ``PageColumn(mode, physical, max_def,
    rule, unit, shift, null_ok, null_value)`` (mode PQ_*, physical PQ_BYTE_ARRAY/INT32/INT64,
    max_def 0 or 1, rule (kind, lo, hi, empty_ok, plus_ok) for PQ_TEXT/PQ_INT, whose nulls
    follow the rule; unit and shift for PQ_INSTANT; a PQ_INSTANT or PQ_CODES null is
    ``null_value`` when ``null_ok``, else not plain)."""
    cdef Column c
    cdef object _table, _bad, _levels, _values     # owners of the pointers in c
    cdef readonly int64_t left                  # values (with nulls) left in the page
    cdef readonly bint plain_codes              # a PQ_CODES column's PLAIN page: strings()

    def __init__(self, int mode, int physical, int max_def, rule=None, int64_t unit=1,
                 int64_t shift=0, bint null_ok=False, int64_t null_value=0):
        if mode not in (M_TEXT, M_INT, M_INSTANT, M_CODES) or \
                physical not in (P_BYTE_ARRAY, P_INT32, P_INT64) or max_def not in (0, 1) \
                or unit < 1 or (mode in (M_TEXT, M_CODES)) != (physical == P_BYTE_ARRAY) \
                or (mode == M_INSTANT and physical != P_INT64):
            raise ValueError(f"bad column: mode {mode}, physical {physical}, max_def {max_def}")
        if mode in (M_TEXT, M_INT):
            kind, lo, hi, empty_ok, plus_ok = rule
            self.c.rule = _rule(kind, lo, hi, empty_ok, plus_ok)
            if mode == M_INT and self.c.rule.kind == K_ISO:
                raise ValueError("integers are not ISO times")
        self.c.mode, self.c.phys, self.c.max_def = mode, physical, max_def
        self.c.unit, self.c.shift = unit, shift
        self.c.null_ok, self.c.null_value = null_ok, null_value
        self.c.has_table = False
        self.left = 0

    def set_table(self, const int64_t[::1] table, const uint8_t[::1] bad):
        """The code of each dictionary entry, and whether it is not plain (the chunk's
        dictionary page, converted once)."""
        if bad.shape[0] != table.shape[0]:
            raise ValueError("table and bad differ in length")
        self._table, self._bad = table, bad
        self.c.tsize = table.shape[0]
        self.c.table = &table[0] if self.c.tsize else NULL
        self.c.tbad = &bad[0] if self.c.tsize else NULL
        self.c.has_table = True

    def dictionary(self, const uint8_t[::1] page, Py_ssize_t n):
        """Convert the ``n`` PLAIN values of a dictionary page under the column's rule and
        keep them as its table (PQ_CODES: the wrapper converts those from
        :func:`byte_arrays`).  False when the page is damaged."""
        cdef Py_ssize_t i
        cdef const uint8_t* p = &page[0] if page.shape[0] else NULL
        cdef const uint8_t* end = p + page.shape[0]
        cdef const uint8_t* s = NULL
        cdef int64_t m = 0
        cdef bint ok = True
        if self.c.mode == M_CODES or n < 0:
            raise ValueError("codes columns take their table from set_table")
        table, bad = np.zeros(n, np.int64), np.zeros(n, np.uint8)
        cdef int64_t[::1] t = table
        cdef uint8_t[::1] b = bad
        with nogil:
            for i in range(n):
                if _plain_next(self.c.phys, &p, end, &s, &m) < 0:
                    ok = False
                    break
                b[i] = _plain_value(&self.c, s, m, &t[i]) < 0
        if ok:
            self.set_table(table, bad)
        return ok

    def page(self, levels, values, int64_t num_values, int encoding):
        """Start a data page of ``num_values`` values (nulls included): ``levels`` None for
        a v1 page (its definition levels, if any, lead ``values`` after a 4-byte length),
        else a v2 page's definition level bytes; ``values`` the (decompressed) values.
        False when the page uses what this kernel does not read."""
        cdef const uint8_t[::1] v = values
        cdef const uint8_t[::1] lv
        cdef const uint8_t* p = &v[0] if v.shape[0] else NULL
        cdef const uint8_t* end = p + v.shape[0]
        cdef const uint8_t* q
        cdef uint32_t n = 0
        self.left = 0
        if num_values < 0:
            return False
        self.c.has_defs = self.c.max_def > 0
        if self.c.has_defs and levels is None:
            if end - p < 4:
                return False
            memcpy(&n, p, 4)
            if n > <uint32_t>(end - p - 4):
                return False
            _hstart(&self.c.defs, p + 4, p + 4 + n, 1)
            p += 4 + n
        elif self.c.has_defs:
            lv = levels
            self._levels = levels
            q = &lv[0] if lv.shape[0] else NULL
            _hstart(&self.c.defs, q, q + lv.shape[0], 1)
        self.plain_codes = encoding == E_PLAIN and self.c.mode == M_CODES
        if encoding == E_PLAIN:
            self.c.dict_page = False
            self.c.vp, self.c.vend = p, end
        elif encoding == E_PLAIN_DICTIONARY or encoding == E_RLE_DICTIONARY:
            if not self.c.has_table:
                return False
            self.c.dict_page = True
            if p < end:
                if _hstart(&self.c.idx, p + 1, end, p[0]) < 0:
                    return False
            else:                               # no values: every one null
                _hstart(&self.c.idx, end, end, 0)
        else:
            return False
        self._values = values
        self.left = num_values
        return True

    def strings(self, Py_ssize_t n, int32_t[::1] offsets, uint8_t[::1] data,
                uint8_t[::1] valid):
        """OUT the next k = min(n, left) values of a PLAIN BYTE_ARRAY page as an Arrow string
        array's buffers: ``offsets`` (k + 1), ``data`` (at least :attr:`plain_bytes`),
        ``valid`` (k, 0 for a null); k, or -1 when the page is damaged."""
        cdef Py_ssize_t k = min(n, <Py_ssize_t>self.left), got
        if self.c.phys != P_BYTE_ARRAY or self.c.dict_page:
            raise ValueError("not a PLAIN BYTE_ARRAY page")
        if offsets.shape[0] < k + 1 or valid.shape[0] < k or data.shape[0] < self.plain_bytes:
            raise ValueError("output shorter than asked")
        offsets[0] = 0
        if k <= 0:
            return 0
        with nogil:
            got = _strings(&self.c, k, &offsets[0], &data[0] if data.shape[0] else NULL,
                           data.shape[0], &valid[0])
        if got < 0:
            self.left = 0
            return -1
        self.left -= k
        return k

    @property
    def plain_bytes(self):
        """Bytes of the PLAIN values left in the page (what :meth:`strings` may copy)."""
        return 0 if self.c.dict_page else self.c.vend - self.c.vp

    def take(self, int64_t[::1] out, Py_ssize_t n):
        """OUT out[:k]: the next k = min(n, left) values of the page; k, or -1 at a value not
        plain (or a damaged page)."""
        cdef Py_ssize_t k = min(n, <Py_ssize_t>self.left), got
        if k <= 0:
            return 0
        if out.shape[0] < k:
            raise ValueError("output shorter than asked")
        with nogil:
            got = _take(&self.c, &out[0], k)
        if got < 0:
            self.left = 0
            return -1
        self.left -= k
        return k


cdef inline int _plain_next(int phys, const uint8_t** p, const uint8_t* end,
                            const uint8_t** s, int64_t* m) noexcept nogil:
    """s[0][:m[0]]: the next PLAIN value at p[0] (a BYTE_ARRAY's bytes; an integer's 4 or 8
    bytes), p[0] moved past it; -1 past the end."""
    cdef uint32_t n
    cdef Py_ssize_t size
    if phys == P_BYTE_ARRAY:
        if end - p[0] < 4:
            return -1
        memcpy(&n, p[0], 4)
        if n > <uint32_t>(end - p[0] - 4):
            return -1
        s[0], m[0] = p[0] + 4, n
        p[0] += 4 + n
        return 0
    size = 4 if phys == P_INT32 else 8
    if end - p[0] < size:
        return -1
    s[0], m[0] = p[0], size
    p[0] += size
    return 0


cdef inline int _plain_value(const Column* c, const uint8_t* s, int64_t m,
                             int64_t* out) noexcept nogil:
    """out[0]: the value of a PLAIN value's bytes under the column's mode; -1 if not plain."""
    cdef int32_t x32
    cdef int64_t x
    if c.mode == M_TEXT:
        return _convert(&c.rule, True, s, m, out)
    if c.mode == M_CODES:
        return -1
    if c.phys == P_INT32:
        memcpy(&x32, s, 4)
        x = x32
    else:
        memcpy(&x, s, 8)
    if c.mode == M_INSTANT:
        out[0] = _floor_div(x, c.unit) - c.shift
        return 0
    return _int_rule(&c.rule, x, out)


cdef inline int64_t _hrepeat(Hybrid* h, int64_t* v) noexcept nogil:
    """The values left in the hybrid's current repeated run (the next run loaded once the
    current one is spent), each v[0]; 0 in a bit-packed run, -1 past the end."""
    if _hload(h) < 0:
        return -1
    v[0] = h.rle_value
    return h.rle_left


cdef Py_ssize_t _values(Column* c, int64_t* out, Py_ssize_t n) noexcept nogil:
    """out[:n]: the next n values of the page, none of them null (the loop of each layout
    apart); -1 at one not plain."""
    cdef Py_ssize_t i
    cdef int64_t k, m = 0
    cdef const uint8_t* s = NULL
    if c.dict_page:
        for i in range(n):
            if _hnext(&c.idx, &k) < 0 or k >= c.tsize or c.tbad[k]:
                return -1
            out[i] = c.table[k]
    elif c.mode == M_TEXT:
        for i in range(n):
            if _plain_next(P_BYTE_ARRAY, &c.vp, c.vend, &s, &m) < 0 \
                    or _convert(&c.rule, True, s, m, &out[i]) < 0:
                return -1
    else:
        for i in range(n):
            if _plain_next(c.phys, &c.vp, c.vend, &s, &m) < 0 \
                    or _plain_value(c, s, m, &out[i]) < 0:
                return -1
    return n


cdef Py_ssize_t _take(Column* c, int64_t* out, Py_ssize_t n) noexcept nogil:
    """out[:n]: the next n values of the page; -1 at one not plain.  Definition levels are
    read a repeated run at a time (a column without nulls: one run per page)."""
    cdef Py_ssize_t i = 0, run
    cdef int64_t d
    if not c.has_defs:
        return _values(c, out, n)
    while i < n:
        run = _hrepeat(&c.defs, &d)
        if run < 0:
            return -1
        if run > 0 and d == 1:                  # a run of values
            run = min(run, n - i)
            c.defs.rle_left -= run
            if _values(c, out + i, run) < 0:
                return -1
            i += run
            continue
        if _hnext(&c.defs, &d) < 0:             # one level of a bit-packed or null run
            return -1
        if d == 1:
            if _values(c, out + i, 1) < 0:
                return -1
        elif c.mode == M_TEXT or c.mode == M_INT:
            if _convert(&c.rule, False, NULL, 0, &out[i]) < 0:
                return -1
        elif not c.null_ok:
            return -1
        else:
            out[i] = c.null_value
        i += 1
    return n


cdef Py_ssize_t _strings(Column* c, Py_ssize_t n, int32_t* off, uint8_t* data, Py_ssize_t cap,
                         uint8_t* valid) noexcept nogil:
    cdef Py_ssize_t i, pos = 0
    cdef int64_t d, m = 0
    cdef const uint8_t* s = NULL
    for i in range(n):
        valid[i] = 1
        if c.has_defs:
            if _hnext(&c.defs, &d) < 0:
                return -1
            if d != 1:
                valid[i] = 0
                off[i + 1] = pos
                continue
        if _plain_next(P_BYTE_ARRAY, &c.vp, c.vend, &s, &m) < 0 or m > cap - pos \
                or pos + m > 0x7fffffff:
            return -1
        memcpy(data + pos, s, m)
        pos += m
        off[i + 1] = pos
    return n


def byte_arrays(const uint8_t[::1] page, Py_ssize_t n):
    """The ``n`` PLAIN BYTE_ARRAY values of a dictionary page as a list of bytes, or None
    when the page is damaged (a record type or cell column's dictionary: few values)."""
    cdef const uint8_t* p = &page[0] if page.shape[0] else NULL
    cdef const uint8_t* end = p + page.shape[0]
    cdef const uint8_t* s = NULL
    cdef int64_t m = 0
    cdef Py_ssize_t i
    out = []
    for i in range(n):
        if _plain_next(P_BYTE_ARRAY, &p, end, &s, &m) < 0:
            return None
        out.append(s[:m])
    return out
