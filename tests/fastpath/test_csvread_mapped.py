"""Big plain files are parsed in place (mmap): the same batches, counts, rejects, errors."""
import random

import numpy as np
import pytest

from simbox.errors import ParseError
from simbox.fastpath import csvread, textmap
from simbox.fastpath.events import COLUMN_NAMES

from test_csvread import GOOD_ROW, HEADER, read

BAD = [b"MOC,2026-03-01T12:00:05Z,46000123,35678901234567,8613800000001,10086,65,46000-1-2\n",
       b"MTC,2026-03-01T12:00:05Z,460001234567890,,8613800000001\n",
       b'SMS_MO,2026-03-01T12:00:06Z,460001234567891,"",8613800000001,"10,086",0,"46000-1-3"\n',
       b"MOC,2026-03-01T12:00:05Z,460001234567890,35678901234567,8613800000001,10086,65,46000-1-2\r\n"]


def text(seed, rows=3000, end=b""):
    rnd = random.Random(seed)
    body = b"".join(rnd.choice(BAD) if rnd.random() < 0.05 else
                    GOOD_ROW.replace(b"4567890", b"%07d" % rnd.randrange(10 ** 7))
                    for _ in range(rows))
    return HEADER + body + end


@pytest.fixture
def spy(monkeypatch):
    maps = []

    class Spy(csvread.MappedText):
        def __init__(self, *a):
            super().__init__(*a)
            maps.append(self)
    monkeypatch.setattr(csvread, "MappedText", Spy)
    return maps


def both(path, monkeypatch, spy, **kw):
    monkeypatch.setattr(csvread, "MAP_MIN", 1 << 62)
    want = read(str(path), rejects_path=path.with_suffix(".a"), **kw)
    assert spy == []
    monkeypatch.setattr(csvread, "MAP_MIN", 0)
    got = read(str(path), rejects_path=path.with_suffix(".b"), **kw)
    assert len(spy) == 1
    return got, want


@pytest.mark.parametrize("seed,slack,end", [(1, 4096, b""), (2, 100, b""),
                                             (3, 300, GOOD_ROW[:-1]), (4, 7, b"MOC,2026-03")])
def test_mapped_read_equals_buffered_read(tmp_path, monkeypatch, spy, seed, slack, end):
    monkeypatch.setattr(textmap, "MAP_SLACK", slack)
    p = tmp_path / "c.csv"
    p.write_bytes(text(seed, end=end))
    (b1, s1, c1, r1), (b0, s0, c0, r0) = both(p, monkeypatch, spy, chunk_rows=97)
    assert 0 < spy[0].cut < p.stat().st_size and spy[0].dropped > 0
    for name in COLUMN_NAMES:
        assert np.array_equal(getattr(b1, name), getattr(b0, name)), name
    assert c1.tokens == c0.tokens and r1 == r0 and len(r0) > 50
    assert s1.as_dict() == s0.as_dict() and s1.bytes == p.stat().st_size


def test_mapped_read_stops_at_the_same_bad_record(tmp_path, monkeypatch, spy):
    p = tmp_path / "c.csv"
    p.write_bytes(HEADER + GOOD_ROW * 500 + BAD[0] + GOOD_ROW * 500)
    monkeypatch.setattr(csvread, "MAP_MIN", 0)
    with pytest.raises(ParseError) as e:
        read(str(p), on_bad_records="error")
    assert len(spy) == 1
    line, offset = 502, len(HEADER) + 500 * len(GOOD_ROW)
    assert str(e.value).startswith(f"{p}:{line}:") and e.value.line == line
    assert offset < spy[0].cut


def test_small_files_and_streams_are_not_mapped(tmp_path, monkeypatch, spy):
    p = tmp_path / "c.csv"
    p.write_bytes(HEADER + GOOD_ROW * 10)
    assert read(str(p))[1].accepted == 10 and spy == []     # below MAP_MIN
    monkeypatch.setattr(csvread, "MAP_MIN", 0)
    with open(p, "rb") as f:
        assert read(f)[1].accepted == 10 and spy == []      # not opened by the reader: no size
    assert read(str(p))[1].accepted == 10                   # shorter than the slack:
    assert [m.cut for m in spy] == [0]                      # mapped, nothing to parse in place
