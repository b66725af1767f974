"""The one byte source and the one bad-record policy (issue 15.1): their contracts."""
import csv
import gzip
import io
import zlib

import pytest

from simbox.errors import InputError, ParseError, shorten
from simbox.fastpath import bytesource
from simbox.fastpath.badrecords import BadRecords, RejectsWriter, REJECTS_COLUMNS
from simbox.fastpath.bytesource import open_source
from simbox.fastpath.stats import ReadStats

DATA = bytes(range(256)) * 4000          # 1 MB, not text


@pytest.fixture(params=["inline", "threaded", "zlib"])
def inflate(request, monkeypatch):
    monkeypatch.setattr(bytesource, "THREADED_INFLATE", request.param == "threaded")
    if request.param == "zlib":
        monkeypatch.setattr(bytesource, "decompressor", bytesource.ZlibDecompressor)


def chunks(src, n=7777):
    out = bytearray(n)
    parts = []
    while True:
        k = src.readinto(out)
        if not k:
            return b"".join(parts)
        parts.append(bytes(out[:k]))


@pytest.mark.parametrize("gz", [False, True])
def test_peek_does_not_consume_and_every_byte_comes_once(tmp_path, gz, inflate):
    p = tmp_path / "f"
    p.write_bytes(gzip.compress(DATA) if gz else DATA)
    with open_source(p) as src:
        assert src.gzipped is gz and src.name == str(p) and src.size == p.stat().st_size
        assert src.peek(10) == DATA[:10] and src.peek(5000) == DATA[:5000] and src.pos == 0
        assert chunks(src) == DATA and src.pos == len(DATA)
        assert src.raw_pos == p.stat().st_size and src.problem is None
        assert (src.mappable() is not None) is (not gz) and src.path == str(p)


def test_members_padding_and_damage(inflate):
    two = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:]) + b"\0" * 9
    src = open_source(io.BytesIO(two))
    assert src.read() == DATA and src.problem is None
    src = open_source(io.BytesIO(gzip.compress(DATA) + b"HLjunk"), name="x.gz")
    assert src.read() == DATA
    assert src.problem == ("corrupt gzip", "bytes that are not gzip follow the compressed stream")
    gz = gzip.compress(DATA)
    src = open_source(io.BytesIO(gz[:len(gz) // 2]))
    got = src.read()
    assert DATA.startswith(got) and len(got) >= len(zlib.decompressobj(31).decompress(
        gz[:len(gz) // 2])) - bytesource.INFLATE_STEP
    assert src.problem == ("truncated gzip", "the file ends inside the compressed stream, before "
                                             "the gzip end marker")


def test_what_can_be_opened(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: no such file$"):
        open_source(tmp_path / "nope.csv")
    with pytest.raises(InputError, match=r": is a folder, not a CSV file$"):
        open_source(tmp_path, what="a CSV file")
    with pytest.raises(InputError, match=r"^cannot read from a int: give a path, '-'"):
        open_source(3)
    assert open_source(io.StringIO("a,b\n")).read() == b"a,b\n"
    s = open_source(io.BytesIO(b"x"))
    assert open_source(s) is s and s.name == "<stream>" and s.mappable() is None
    assert s.path is None


def test_policy_counts_writes_then_raises(tmp_path):
    stats = ReadStats()
    with RejectsWriter(tmp_path / "r.csv") as w:
        bad = BadRecords("error", w, stats)
        with pytest.raises(ParseError) as e:
            bad.reject("f.csv", "wrong field count", "expected 8 fields, saw 7", line=3,
                       offset=120, record=b"x" * 5000)
    assert str(e.value) == "f.csv:3: wrong field count (expected 8 fields, saw 7)"
    assert stats.rejected == {"wrong field count": 1}
    rows = list(csv.reader((tmp_path / "r.csv").open()))
    assert tuple(rows[0]) == REJECTS_COLUMNS
    assert rows[1][:6] == ["f.csv", "3", "120", "", "wrong field count", "expected 8 fields, saw 7"]
    assert rows[1][6] == "x" * 2000 + "... (5000 bytes)"
    with pytest.raises(ParseError) as e:
        BadRecords("error").reject("c.cdr", "bad BCD digit", "nibble 0xa", offset=54,
                                   field="servedIMSI")
    assert str(e.value) == "c.cdr (byte 54): field 'servedIMSI': bad BCD digit (nibble 0xa)"
    skip = BadRecords("skip", None, stats)
    skip.reject("f.csv", "wrong field count", line=9)
    assert stats.rejected == {"wrong field count": 2}


def test_shorten():
    assert shorten("x" * 3145728) == "x" * 40 + "... (3145728 bytes)"
    assert shorten(b"ab\ncd") == "ab\\ncd" and shorten("short") == "short"
