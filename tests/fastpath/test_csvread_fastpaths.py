"""The CSV kernel's fast paths: digits eight at a time (and the last 1-7 digits of a long
field as one overlapping word), the date of the previous time reused, the cell-token cache."""
import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from simbox.errors import ParseError
from simbox.fastpath import CellDict, ReadStats
from simbox.fastpath.csvread import read_csv_events
from simbox.fastpath.csvref import read_reference
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


@pytest.mark.parametrize("n", range(9, 19))
def test_a_non_digit_anywhere_in_the_tail_of_a_long_number_is_rejected(n):
    # 9-18 digits: eight at a time, then the rest as the last eight bytes of the field
    for pos in range(n):
        other = bytearray(b"123456789012345678"[:n])
        other[pos:pos + 1] = b"x" if pos % 2 else b"/"
        with pytest.raises(ParseError) as e:
            read(HEADER + row() + row(other=bytes(other)), on_bad_records="error", name="f.csv")
        assert str(e.value) == (f"f.csv:3: field 'other_party': other_party is not a digit "
                                f"string (value {other.decode()!r})")
    batch, _ = read(HEADER + row(other=b"123456789012345678"[:n]))
    assert batch.other.tolist() == [encode_digits("123456789012345678"[:n])]


same_day_time = st.builds(
    lambda d, h, mi, s, frac, sep, zone: f"2026-{d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{zone}",
    st.sampled_from(["03-01", "03-02", "02-29", "02-28", "13-01", "03-0x"]),
    st.integers(0, 24), st.integers(0, 60), st.integers(0, 60),
    st.sampled_from(["", ".5", ".1234567890", "."]), st.sampled_from(["T", " "]),
    st.sampled_from(["Z", "", "+08:00", "+24:00", "Zx"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(same_day_time, min_size=1, max_size=30))
def test_times_of_few_dates_match_the_reference(times):
    # runs of one date (valid or not: 2026-02-29 and month 13 are not dates) with valid
    # and invalid times of day: the date reused from the previous record must not change
    # what is accepted, rejected, or the time
    data = HEADER + b"".join(
        b"MOC," + t.encode() + b",460001234567890,35678901234567,8613800000001,10086,65,c\n"
        for t in times)
    ref_rows, ref_rejects, _ = read_reference(data)
    batch, _ = read(data)
    assert batch.time.tolist() == [r[1] for r in ref_rows]
    assert len(times) - len(ref_rows) == len(ref_rejects)


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
