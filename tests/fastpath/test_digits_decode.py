"""The digits kernel's decoding (``fastpath/_digits.pyx`` ``decode_array``) against the
digits codes' definition: a code ``"1" + digits`` read as an integer; 0 or less is ``""``."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.fastpath import _digits
from simbox.fastpath.events import encode_digits


#: digits codes (``"1" + digits``), zero, negative ones and any other int64
CODES = st.lists(st.one_of(st.integers(-(2 ** 63), 0), st.integers(1, 2 ** 63 - 1),
                           st.text(alphabet="0123456789", min_size=1, max_size=18).map(
                               lambda d: int("1" + d))), max_size=50)


def decoded_reference(code: int) -> str:
    return "" if code <= 0 else str(code)[1:]


@settings(max_examples=300, deadline=None)
@given(CODES)
def test_decode_array_equals_the_codes_digits(codes):
    arr = np.array(codes, dtype=np.int64)
    got = _digits.decode_array(arr)
    assert got.dtype == object
    assert got.tolist() == [decoded_reference(c) for c in codes]
    assert all(type(s) is str for s in got)


def test_decode_array_inverts_encode_digits():
    digits = ["0", "00", "123", "000000000000000001", "999999999999999999", "46000123456789"]
    codes = np.array([encode_digits(d) for d in digits], dtype=np.int64)
    assert _digits.decode_array(codes).tolist() == digits


@settings(max_examples=300, deadline=None)
@given(CODES)
def test_decode_buffers_hold_the_texts_of_decode_array(codes):
    """The texts as Arrow holds them (ASCII bytes, int64 offsets) against decode_array's."""
    arr = np.array(codes, dtype=np.int64)
    data, offsets = _digits.decode_buffers(arr)
    assert data.dtype == np.uint8 and offsets.dtype == np.int64 and len(offsets) == len(codes) + 1
    got = [bytes(data[a:b]).decode("ascii") for a, b in zip(offsets[:-1], offsets[1:])]
    assert offsets[0] == 0 and offsets[-1] == len(data)
    assert got == _digits.decode_array(arr).tolist()
