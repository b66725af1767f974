"""The CSV kernel's fast paths: digits eight at a time, the cell-token cache."""
import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from simbox.errors import ParseError
from simbox.fastpath import CellDict, ReadStats
from simbox.fastpath.csvread import read_csv_events
from simbox.fastpath.events import EventBatch, encode_digits

HEADER = b"record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"


def row(imsi=b"460001234567890", other=b"10086", cell=b"46000-1-2"):
    return b"MOC,2026-03-01T12:00:05Z," + imsi + b",35678901234567,8613800000001," + other + \
        b",65," + cell + b"\n"


def read(data, **kw):
    cells = kw.pop("cells", None) or CellDict()
    batches = list(read_csv_events(io.BytesIO(data), cells=cells, stats=ReadStats(), **kw))
    return EventBatch.concat(batches), cells


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("0123456789", min_size=1, max_size=18), min_size=1, max_size=20))
def test_digit_strings_of_every_length(others):
    batch, _ = read(HEADER + b"".join(row(other=o.encode()) for o in others))
    assert batch.other.tolist() == [encode_digits(o) for o in others]


@pytest.mark.parametrize("pos", range(15))
@pytest.mark.parametrize("bad", [b"a", b"/", b":", b" ", b"\x00"])
def test_a_non_digit_anywhere_in_a_long_field_is_rejected(pos, bad):
    imsi = bytearray(b"460001234567890")
    imsi[pos:pos + 1] = bad
    value = imsi.decode()
    with pytest.raises(ParseError) as e:
        read(HEADER + row() + row(imsi=bytes(imsi)), on_bad_records="error", name="f.csv")
    assert str(e.value) == f"f.csv:3: field 'imsi': imsi is not 15 digits (value {value!r})"


def test_many_cell_tokens_short_and_long():
    rng = np.random.default_rng(5)
    # tokens of 1..40 bytes, many differing only in their last digits (one slot line
    # holds 16 bytes inline; longer ones are compared in the arena too), enough to grow
    # the table several times
    tokens = [f"46000-{lac}-{ci}" for lac in range(40) for ci in range(100)]
    tokens += ["x" * k for k in range(1, 41)] + ["a" * 16 + str(i) for i in range(50)]
    tokens += ["a" * 15 + str(i) for i in range(10)]
    order = rng.permutation(np.repeat(np.arange(len(tokens)), 2))
    data = HEADER + b"".join(row(cell=tokens[i].encode()) for i in order)
    batch, cells = read(data)
    assert [cells.tokens[c] for c in batch.cell] == [tokens[i] for i in order]
    assert len(cells) == len(tokens)
    # a second file shares the dictionary: same codes for the same tokens
    again, _ = read(data, cells=cells)
    assert np.array_equal(again.cell, batch.cell)
