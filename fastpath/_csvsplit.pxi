# Record splitting of the CSV kernel, included by _csvread.pyx: find the fields of
# one record (RFC 4180 quoting, \n or \r\n line ends) without converting them.

cdef inline int _split_fast(Field* fields, int ncols, uint8_t sep, uint8_t quote, const uint8_t* b,
                            Py_ssize_t* pp, Py_ssize_t end, Split* sp) noexcept nogil:
    """The record at pp[0] when it holds no quote: 64 bytes per step, SIMD.

    Returns 1 with the same outputs as _split, or 0 (nothing changed) when the
    record needs the byte-by-byte path (a quote nearby, or near the buffer end).
    """
    cdef Py_ssize_t p = pp[0], fs = p, e
    cdef uint64_t stop, qm, hm, hi = 0
    cdef int nf = 0, k
    while p + 64 <= end:
        stop = csv_scan64(b + p, sep, quote, &qm, &hm)
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

cdef inline int _split(Field* fields, int ncols, uint8_t sep, uint8_t quote, const uint8_t* b,
                       Py_ssize_t* pp, Py_ssize_t end, bint final, Split* sp) noexcept nogil:
    """Find the fields of the record at pp[0]; -1 if it is not complete in the buffer.

    OUT: fields (first ncols), sp; pp[0] = start of the next record.
    """
    cdef Py_ssize_t p = pp[0], fs, fe
    cdef uint8_t c, hi = 0, esc, bad_quote = 0
    cdef int nf = 0
    cdef int64_t nl_in = 0
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
