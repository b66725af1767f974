# cython: language_level=3
"""Digits codes (see events.py) on whole arrays."""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t
from libc.string cimport memcpy
from cpython.unicode cimport PyUnicode_DecodeASCII

cnp.import_array()


def decode_array(const int64_t[::1] codes):
    """Object array of digit strings for an int64 array of digits codes (0 -> "")."""
    cdef Py_ssize_t i, n = codes.shape[0]
    cdef int64_t c
    cdef char buf[24]
    cdef int k
    out = np.empty(n, dtype=object)
    cdef object[:] o = out
    for i in range(n):
        c = codes[i]
        if c <= 0:
            o[i] = ""
            continue
        # the digits written from the end of buf; the first one is the sentinel '1'
        k = 24
        while c > 0:
            k -= 1
            buf[k] = <char>(48 + c % 10)
            c //= 10
        o[i] = PyUnicode_DecodeASCII(buf + k + 1, 23 - k, NULL)   # (one str, no bytes between)
    return out


def decode_buffers(const int64_t[::1] codes):
    """``(data, offsets)``: the digit strings of ``decode_array`` as Arrow holds texts, their
    ASCII bytes one after another (uint8) and the int64 offset of each (one more than the
    codes; 0 -> an empty text): no ``str`` made."""
    cdef Py_ssize_t i, n = codes.shape[0], at = 0
    cdef int64_t c
    cdef char buf[24]
    cdef int k
    data = np.empty(max(n * 19, 1), dtype=np.uint8)     # (at most 18 digits a code)
    offsets = np.empty(n + 1, dtype=np.int64)
    cdef unsigned char[::1] d = data
    cdef int64_t[::1] o = offsets
    o[0] = 0
    with nogil:
        for i in range(n):
            c = codes[i]
            if c > 0:
                k = 24
                while c > 0:
                    k -= 1
                    buf[k] = <char>(48 + c % 10)
                    c //= 10
                memcpy(&d[at], buf + k + 1, 23 - k)     # (the sentinel '1' left out)
                at += 23 - k
            o[i + 1] = at
    return data[:at], offsets


def encode_array(strings):
    """int64 digits codes of an iterable of digit strings ("" -> 0).

    Raises ValueError naming the index of the first string that is not 1-18 ASCII digits.
    """
    cdef list items = list(strings)
    cdef Py_ssize_t i, n = len(items)
    cdef int64_t v
    out = np.zeros(n, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef bytes b
    cdef unsigned char ch
    for i in range(n):
        s = items[i]
        if s is None or s == "":
            continue
        b = s.encode("ascii", "replace") if isinstance(s, str) else bytes(s)
        if len(b) > 18:
            raise ValueError(f"item {i}: more than 18 digits: {s!r}")
        v = 1
        for ch in b:
            if ch < 48 or ch > 57:
                raise ValueError(f"item {i}: not a digit string: {s!r}")
            v = v * 10 + (ch - 48)
        o[i] = v
    return out
