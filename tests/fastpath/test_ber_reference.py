"""The BER kernel against its pure-Python reference, on valid and mutated files.

Every input is either decoded or rejected, identically by both, whatever the
block size the reader uses (so records cut between blocks decode the same).
"""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from simbox.errors import InputError
from simbox.fastpath import ber

from ber_helpers import ber_bytes, kernel, raw_records, reference, sample_events

BASES = {}


def base_file(seed, indefinite, raw):
    key = (seed, indefinite, raw)
    if key not in BASES:
        data = ber_bytes(sample_events(12, seed), indefinite=indefinite,
                         utc_offset_minutes=[0, 480, -330][seed % 3])
        BASES[key] = raw_records(data) if raw else data
    return BASES[key]


@st.composite
def mutated(draw):
    data = bytearray(base_file(draw(st.integers(0, 5)), draw(st.booleans()), draw(st.booleans())))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "length"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=12))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 12))]
        elif op == "truncate":
            del data[i:]
        else:   # a length octet made long or huge
            data[i] = draw(st.sampled_from([0x80, 0x81, 0x82, 0x84, 0x85, 0xFF, 0x7F]))
    return bytes(data)


def check_same(data, monkeypatch, block, chunk_records):
    monkeypatch.setattr(ber, "BLOCK_BYTES", block)
    monkeypatch.setattr(ber, "HEAD_BYTES", 64)
    exp = reference(data)
    if exp is None:
        with pytest.raises(InputError):
            kernel(data)
        return
    rows, rejects, stats = kernel(data, chunk_records=chunk_records)
    assert rejects == exp[1]
    assert rows == exp[0]
    assert stats.skipped == exp[2]
    assert stats.records == len(rows) + len(rejects) + stats.skipped


@pytest.mark.parametrize("indefinite", [False, True])
@pytest.mark.parametrize("raw", [False, True])
def test_valid_files_same_as_reference(indefinite, raw, monkeypatch):
    data = base_file(1, indefinite, raw)
    check_same(data, monkeypatch, 7, 5)
    rows, rejects, _ = kernel(data)
    assert len(rows) == 12 and rejects == []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=mutated(), block=st.integers(1, 300))
def test_mutated_files_same_as_reference(data, block, monkeypatch):
    check_same(data, monkeypatch, block, 3)
