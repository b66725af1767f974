"""The CDR CSV reader on golden files and on every kind of bad input."""
import csv
import gzip
import io
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from simbox.errors import EmptyInputError, InputError, ParseError
from simbox.fastpath import CellDict, EventBatch, ReadStats, RejectsWriter
from simbox.fastpath import bytesource, csvread
from simbox.fastpath.csvread import read_csv_events
from simbox.fastpath.csvref import read_reference

HEADER = b"record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
GOOD_ROW = b"MOC,2026-03-01T12:00:05Z,460001234567890,35678901234567,8613800000001,10086,65,46000-1-2\n"


def read(source, **kw):
    """(one EventBatch, ReadStats, CellDict, rejects rows as dicts) of a whole read."""
    cells, stats = kw.pop("cells", None) or CellDict(), ReadStats()
    rej_path = kw.pop("rejects_path", None)
    rejects = RejectsWriter(rej_path)
    try:
        batches = list(read_csv_events(source, cells=cells, stats=stats, rejects=rejects, **kw))
    finally:
        rejects.close()
    rows = []
    if rej_path is not None and rejects.count:
        with open(rej_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    assert stats.records == stats.accepted + stats.rejected_total + stats.skipped
    return EventBatch.concat(batches), stats, cells, rows


def rows_of(batch, cells):
    df = batch.to_pandas(cells)
    df["start_time"] = df["start_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    df["record_type"] = df["record_type"].astype(str)
    return [tuple(r) for r in df.itertuples(index=False)]


GOOD_EXPECTED = [
    ("MOC", "2026-03-01T12:00:05Z", "460001234567890", "35678901234567", "8613800000001",
     "008613912345678", 65, "46000-1234-56789"),
    ("MTC", "2026-03-01T12:01:00Z", "460001234567891", "", "8613800000002", "8613800000001",
     0, "46000-1234-56788"),
    ("SMS_MO", "2026-03-01T23:59:59Z", "460001234567890", "3567890123456701", "8613800000001",
     "10086", 0, "46000-1234-56789"),
    ("SMS_MT", "2026-02-28T00:00:00Z", "001010000000001", "356789012345678", "0049170000001",
     "0049170000002", 0, ""),
    ("DATA", "2026-03-01T12:00:05Z", "460001234567891", "", "8613800000002", "", 3600,
     "46000-1234-56788"),
    ("MOC", "2026-03-01T12:00:05Z", "460001234567890", "35678901234567", "8613800000001", "112",
     0, "46000-1234-56789"),
]


@pytest.mark.parametrize("fixture", ["good.csv", "crlf.csv"])
def test_golden_file(datadir, fixture):
    batch, stats, cells, _ = read(datadir / "csv" / fixture)
    assert rows_of(batch, cells) == GOOD_EXPECTED
    assert stats.as_dict()["rejected"] == 0 and stats.records == 6 and stats.files == 1
    assert batch.imsi.dtype == np.int64 and batch.cell.dtype == np.int32
    assert batch.cell[3] == -1 and cells.tokens == ["46000-1234-56789", "46000-1234-56788"]


def test_gzip_equals_plain(datadir, tmp_path, inflate_mode):
    gz = tmp_path / "good.csv.gz"
    gz.write_bytes(gzip.compress((datadir / "csv" / "good.csv").read_bytes()))
    batch, stats, cells, _ = read(gz)
    assert rows_of(batch, cells) == GOOD_EXPECTED
    assert stats.bytes == gz.stat().st_size


@pytest.fixture(params=["isal", "isal-threaded", "zlib"])
def inflate_mode(request, monkeypatch):
    """Each gzip test runs with ISA-L inline, ISA-L in a thread and the zlib fallback."""
    monkeypatch.setattr(bytesource, "THREADED_INFLATE", request.param == "isal-threaded")
    if request.param == "zlib":
        monkeypatch.setattr(bytesource, "decompressor", bytesource.ZlibDecompressor)
    return request.param


def test_multi_member_gzip(datadir, tmp_path, inflate_mode):
    data = (datadir / "csv" / "good.csv").read_bytes()
    cut = data.index(b"\nSMS_MO") + 1
    gz = tmp_path / "two.csv.gz"
    gz.write_bytes(gzip.compress(data[:cut]) + gzip.compress(data[cut:]) + b"\0" * 8)
    batch, stats, cells, _ = read(gz)
    assert rows_of(batch, cells) == GOOD_EXPECTED


def test_bad_rows_rejects_file_and_good_rows_kept(datadir, tmp_path):
    path = datadir / "csv" / "bad_rows.csv"
    batch, stats, cells, rows = read(path, rejects_path=tmp_path / "rejects.csv", name="bad_rows.csv")
    # the five good rows, all of them
    assert [r[2] for r in rows_of(batch, cells)] == [f"46000123456789{i}" for i in range(1, 6)]
    assert list(batch.duration) == [1, 2, 3, 4, 5]
    with open(datadir / "csv" / "bad_rows.rejects.csv", newline="", encoding="utf-8") as f:
        assert rows == list(csv.DictReader(f))
    assert dict(stats.rejected) == {
        "wrong field count": 2, "not UTF-8": 1, "unparsable time": 1, "imsi is not 15 digits": 1,
        "imei is not 14-16 digits": 1, "msisdn is not a digit string": 1,
        "other_party is not a digit string": 1, "duration is not 0-172800 seconds": 1,
        "unknown record type": 1, "bad quoting": 1}
    assert stats.records == 16 and stats.accepted == 5          # the blank line is no record
    data = path.read_bytes()
    for r in rows:                                             # offsets point at the records
        rec = r["record"].encode("utf-8", "surrogateescape")
        if b"\\x" not in rec:
            assert data[int(r["byte_offset"]):].startswith(rec)
        assert data.count(b"\n", 0, int(r["byte_offset"])) + 1 == int(r["line"])


ERROR_MESSAGES = [
    (b"MOC,2026-03-01T12:00:05Z,460001234567890,,1,2,3\n",
     "f.csv:3: wrong field count (expected 8 fields, saw 7)"),
    (b"MOC,2026-03-01T12:00:05Z,460001234567890,,1,2,3,\xff\n",
     "f.csv:3: field 'cell_id': not UTF-8 (byte 0xff at offset 48 of the record)"),
    (b"MOC,2026-02-30T12:00:05Z,460001234567890,,1,2,3,c\n",
     "f.csv:3: field 'start_time': unparsable time (value '2026-02-30T12:00:05Z')"),
    (b"MOC,2026-03-01T12:00:05Z,46000123456789a,,1,2,3,c\n",
     "f.csv:3: field 'imsi': imsi is not 15 digits (value '46000123456789a')"),
    (b"MOC,2026-03-01T12:00:05Z,460001234567890,1234,1,2,3,c\n",
     "f.csv:3: field 'imei': imei is not 14-16 digits (value '1234')"),
    (b"MOC,2026-03-01T12:00:05Z,460001234567890,,+,2,3,c\n",
     "f.csv:3: field 'msisdn': msisdn is not a digit string (value '+')"),
    (b"MOC,2026-03-01T12:00:05Z,460001234567890,,1,2 ,3,c\n",
     "f.csv:3: field 'other_party': other_party is not a digit string (value '2 ')"),
    (b"MOC,2026-03-01T12:00:05Z,460001234567890,,1,2,172801,c\n",
     "f.csv:3: field 'duration_s': duration is not 0-172800 seconds (value '172801')"),
    (b"moc,2026-03-01T12:00:05Z,460001234567890,,1,2,3,c\n",
     "f.csv:3: field 'record_type': unknown record type (value 'moc')"),
    (b'MOC,2026-03-01T12:00:05Z,"460001234567890,,1,2,3,c\n',
     'f.csv:3: bad quoting (a quoted field must be closed by a quote followed by the separator '
     'or the line end; a quote inside it is written "")'),
]


@pytest.mark.parametrize("bad,message", ERROR_MESSAGES)
def test_error_policy_stops_at_first_bad_record(bad, message):
    data = HEADER + GOOD_ROW + bad + GOOD_ROW
    with pytest.raises(ParseError) as e:
        read(io.BytesIO(data), on_bad_records="error", name="f.csv")
    assert str(e.value) == message
    assert e.value.line == 3


@pytest.mark.parametrize("bad,message", ERROR_MESSAGES)
def test_skip_policy_keeps_every_good_row(bad, message, tmp_path):
    data = HEADER + GOOD_ROW + bad + GOOD_ROW.replace(b"10086", b"10087")
    batch, stats, cells, rows = read(io.BytesIO(data), name="f.csv",
                                     rejects_path=tmp_path / "r.csv")
    assert list(batch.other) == [110086, 110087]
    assert stats.rejected_total == 1 and stats.accepted == 2
    reason = message.split(": ")[-1].split(" (")[0]
    assert rows[0]["reason"] == reason and rows[0]["line"] == "3" and rows[0]["file"] == "f.csv"


def test_quoted_fields(datadir, tmp_path):
    batch, stats, cells, rows = read(datadir / "csv" / "quoted.csv", name="quoted.csv",
                                     rejects_path=tmp_path / "r.csv")
    got = rows_of(batch, cells)
    assert got[0][:8] == GOOD_EXPECTED[0][:6] + (65, "46000-1234-56789")
    assert got[1][7] == 'cell "A", sector 1'                # separator and "" inside quotes
    assert got[2][0] == "SMS_MO" and len(got) == 4           # a newline inside quotes
    assert got[3][1] == "2026-03-01T12:00:07Z"
    with open(datadir / "csv" / "quoted.rejects.csv", newline="", encoding="utf-8") as f:
        assert rows == list(csv.DictReader(f))              # line 6: the record after 2 lines


def test_unterminated_quote_keeps_the_rows_after_it(tmp_path):
    data = HEADER + GOOD_ROW + b'MOC,"2026\n' + GOOD_ROW.replace(b"65", b"66") + GOOD_ROW
    batch, stats, cells, rows = read(io.BytesIO(data), rejects_path=tmp_path / "r.csv", name="u")
    assert list(batch.duration) == [65, 66, 65]
    assert [(r["line"], r["reason"], r["record"]) for r in rows] == [("3", "bad quoting", 'MOC,"2026')]


def test_record_too_long(monkeypatch, tmp_path):
    monkeypatch.setattr(csvread, "MAX_RECORD", 4096)
    data = HEADER + GOOD_ROW + b"MOC," + b"9" * 10000 + b"\n" + GOOD_ROW
    batch, stats, cells, rows = read(io.BytesIO(data), rejects_path=tmp_path / "r.csv",
                                     chunk_bytes=1000, name="long.csv")
    assert len(batch) == 2 and stats.rejected == {"record too long": 1}
    assert rows[0]["line"] == "3" and rows[0]["record"] == "MOC," + "9" * 1996


def test_truncated_gzip_keeps_complete_rows(datadir, tmp_path, inflate_mode):
    data = (datadir / "csv" / "good.csv").read_bytes()
    gz = gzip.compress(data)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gz[: len(gz) - 30])
    batch, stats, cells, rows = read(path, rejects_path=tmp_path / "r.csv", name="cut.csv.gz")
    n = len(batch)
    assert 1 <= n < 6 and rows_of(batch, cells) == GOOD_EXPECTED[:n]
    assert stats.rejected == {"truncated gzip": 1}
    assert len(rows) == 1 and rows[0]["reason"] == "truncated gzip"
    assert rows[0]["line"] == str(n + 2)
    assert data[int(rows[0]["byte_offset"]):].startswith(rows[0]["record"].encode())
    with pytest.raises(ParseError) as e:
        read(path, on_bad_records="error", name="cut.csv.gz")
    assert str(e.value) == (f"cut.csv.gz:{n + 2}: truncated gzip (the file ends inside the "
                            "compressed stream, before the gzip end marker)")


def test_corrupt_gzip(tmp_path, inflate_mode):
    data = HEADER + b"".join(GOOD_ROW.replace(b"65", b"%d" % (i % 1000)) for i in range(20000))
    gz = bytearray(gzip.compress(data))
    gz[-8] ^= 0xFF                                               # the CRC
    path = tmp_path / "crc.csv.gz"
    path.write_bytes(bytes(gz))
    batch, stats, cells, rows = read(path, rejects_path=tmp_path / "r.csv")
    # the rows before the damaged inflate step are kept (at most 128 KiB of text lost)
    assert 20000 - csvread.INFLATE_STEP // len(GOOD_ROW) - 1 <= len(batch) < 20000
    assert list(batch.duration) == [i % 1000 for i in range(len(batch))]
    assert stats.rejected == {"corrupt gzip": 1}
    assert rows[0]["reason"] == "corrupt gzip"
    small = tmp_path / "small.csv.gz"
    small.write_bytes(bytes(gz[:10]) + b"\xff" * 20)          # header + invalid block type
    with pytest.raises(InputError) as e:
        read(small, name="small.csv.gz")
    assert str(e.value).startswith("small.csv.gz: corrupt gzip (inflate failed: ")
    assert str(e.value).endswith(") before the header line")


def test_empty_file(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(EmptyInputError) as e:
        read(tmp_path / "e.csv")
    assert str(e.value) == f"{tmp_path / 'e.csv'}: empty file (no header line, no records)"
    (tmp_path / "e.csv.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(EmptyInputError, match="empty file"):
        read(tmp_path / "e.csv.gz")


@pytest.mark.parametrize("data", [HEADER, HEADER.rstrip(b"\n"), HEADER + b"\n\r\n"])
def test_header_only(data):
    with pytest.raises(EmptyInputError) as e:
        read(io.BytesIO(data), name="h.csv")
    assert str(e.value) == "h.csv: no records after the header line"


def test_missing_header():
    with pytest.raises(InputError) as e:
        read(io.BytesIO(GOOD_ROW * 2), name="n.csv")
    assert str(e.value) == (
        "n.csv:1: no header line: line 1 ('MOC,2026-03-01T12:00:05Z,460001234567890,"
        "35678901234567,8613800000001,10086,6...') names none of the columns of profile "
        "'canonical' (record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id);"
        " a CDR CSV file starts with a header line naming its columns, or give the file's "
        "layout with --columns (see docs/input-formats.md)")


def test_header_lacking_columns():
    data = b"record_type,start_time,IMSI_NO,imei,msisdn,other_party,duration_s,cell\n" + GOOD_ROW
    with pytest.raises(InputError) as e:
        read(io.BytesIO(data), name="x.csv")
    assert str(e.value) == (
        "x.csv: the header lacks column(s) imsi, cell_id required by column profile "
        "'canonical' (header: record_type, start_time, IMSI_NO, imei, msisdn, other_party, "
        "duration_s, cell); give the file's layout with --columns (a built-in profile: "
        "canonical, msc-compact, msc-hourly, msc-semicolon, msc-words, operator-anon, spreadsheet, or a profile file, see docs/input-formats.md)")


def test_header_not_utf8():
    with pytest.raises(InputError) as e:
        read(io.BytesIO(b"record_type,\xffstart\n" + GOOD_ROW), name="b.csv")
    assert str(e.value) == ("b.csv:1: the header line is not UTF-8 text (byte 0xff at offset "
                            "12); is this a CDR CSV file?")


def test_header_case_bom_and_extra_columns():
    data = (b"\xef\xbb\xbfRECORD_TYPE, Start_Time ,imsi,x,imei,msisdn,other_party,duration_s,"
            b"cell_id\r\nMOC,2026-03-01T12:00:05Z,460001234567890,junk,,1,2,3,c\r\n")
    batch, stats, cells, _ = read(io.BytesIO(data))
    assert rows_of(batch, cells) == [("MOC", "2026-03-01T12:00:05Z", "460001234567890", "", "1",
                                      "2", 3, "c")]


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 64, 65, 200])
@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
@pytest.mark.parametrize("fixture", ["bad_rows.csv", "quoted.csv", "crlf.csv"])
def test_chunk_boundaries_do_not_matter(datadir, tmp_path, fixture, chunk_bytes, chunk_rows):
    path = datadir / "csv" / fixture
    ref, ref_stats, ref_cells, ref_rows = read(path, rejects_path=tmp_path / "a.csv")
    got, stats, cells, rows = read(path, chunk_bytes=chunk_bytes, chunk_rows=chunk_rows,
                                   rejects_path=tmp_path / "b.csv")
    assert rows_of(got, cells) == rows_of(ref, ref_cells)
    assert rows == ref_rows and stats == ref_stats


def test_batches_are_bounded():
    data = HEADER + GOOD_ROW * 25
    batches = list(read_csv_events(io.BytesIO(data), chunk_rows=10, chunk_bytes=100))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert all(b.source == "<stream>" for b in batches)


def test_cells_shared_across_files_and_readers(datadir):
    cells = CellDict(["46000-1234-56788", "other"])
    b1, *_ = read(datadir / "csv" / "good.csv", cells=cells)
    b2, *_ = read(datadir / "csv" / "crlf.csv", cells=cells)
    cells.code("added-by-another-reader")
    b3, *_ = read(io.BytesIO(HEADER + GOOD_ROW.replace(b"46000-1-2", b"added-by-another-reader")),
                  cells=cells)
    assert list(b1.cell) == list(b2.cell) == [2, 0, 2, -1, 0, 2]
    assert list(b3.cell) == [3] and len(cells) == 4


def test_reference_agrees_on_fixtures(datadir):
    for name in ["good.csv", "crlf.csv", "quoted.csv", "bad_rows.csv"]:
        batch, stats, cells, _ = read(datadir / "csv" / name)
        rows, rejects, skipped = read_reference(datadir / "csv" / name)
        got = [(int(b[0]), int(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]), int(b[6]),
                cells.tokens[b[7]] if b[7] >= 0 else None)
               for b in zip(*batch.columns().values())]
        assert got == rows, name
        assert stats.rejected_total == len(rejects)


def test_file_objects_text_and_binary(datadir):
    expected = rows_of(*read(datadir / "csv" / "good.csv")[::2])
    with open(datadir / "csv" / "good.csv", "rb") as f:
        assert rows_of(*read(f)[::2]) == expected
    with open(datadir / "csv" / "good.csv", encoding="utf-8", newline="") as f:
        assert rows_of(*read(f)[::2]) == expected
    raw = io.BytesIO(gzip.compress((datadir / "csv" / "good.csv").read_bytes()))
    assert rows_of(*read(raw)[::2]) == expected


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError) as e:
        read(tmp_path / "nope.csv")
    assert str(e.value) == f"{tmp_path / 'nope.csv'}: no such file"
    with pytest.raises(InputError, match="is a folder"):
        read(tmp_path)


def test_bad_options():
    with pytest.raises(Exception) as e:
        read_csv_events(io.BytesIO(b""), on_bad_records="ignore")
    assert str(e.value) == "on_bad_records must be one of skip, error, not 'ignore'"


def test_progress_reports_every_byte(datadir, tmp_path, inflate_mode):
    gz = tmp_path / "g.csv.gz"
    shutil.copy(datadir / "csv" / "good.csv", tmp_path / "g.csv")
    gz.write_bytes(gzip.compress((tmp_path / "g.csv").read_bytes()))
    for path in (tmp_path / "g.csv", gz):
        seen = []
        list(read_csv_events(path, chunk_bytes=16, progress=lambda a, total=None: seen.append((a, total))))
        assert sum(a for a, _ in seen) == path.stat().st_size
        assert {t for _, t in seen} == {path.stat().st_size}


def test_to_pandas_round_trip_of_times():
    data = HEADER + b"MOC,1999-12-31T23:59:59-00:30,460001234567890,,,,,\n"
    batch, *_ = read(io.BytesIO(data))
    assert pd.Timestamp(int(batch.time[0]), unit="s") == pd.Timestamp("2000-01-01T00:29:59")


def test_old_mac_line_ends():
    data = HEADER.replace(b"\n", b"\r") + GOOD_ROW.replace(b"\n", b"\r")
    with pytest.raises(InputError) as e:
        read(io.BytesIO(data), name="mac.csv")
    assert str(e.value) == ("mac.csv:1: the header line holds a carriage return (\\r); lines "
                            "must end with \\n or \\r\\n (old Mac files: convert the line ends "
                            "first)")


def test_stopping_early_stops_the_inflate_thread(tmp_path, monkeypatch):
    import threading
    monkeypatch.setattr(bytesource, "THREADED_INFLATE", True)
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(HEADER + GOOD_ROW * 50000))
    it = read_csv_events(path, chunk_rows=10)
    assert len(next(it)) == 10
    it.close()
    assert not any(t.name == "simbox-inflate" for t in threading.enumerate())


def test_warns_when_no_record_is_accepted(caplog):
    data = HEADER + GOOD_ROW.replace(b",65,", b",65;") * 1500
    with caplog.at_level("WARNING", logger="simbox.fastpath.csvread"):
        batch, stats, *_ = read(io.BytesIO(data), name="w.csv")
    assert len(batch) == 0 and stats.rejected == {"wrong field count": 1500}
    assert len(caplog.messages) == 1
    assert re.fullmatch(r"w\.csv: none of the first \d{4} records was accepted \(mostly: wrong "
                        r"field count\); is the column profile 'canonical' the file's layout\?",
                        caplog.messages[0])


def test_very_wide_header():
    header = HEADER.rstrip(b"\n") + b"," * 300000 + b"\n"
    row = GOOD_ROW.rstrip(b"\n") + b"," * 300000 + b"\n"
    batch, stats, *_ = read(io.BytesIO(header + row + GOOD_ROW))
    assert len(batch) == 1 and stats.rejected == {"wrong field count": 1}


def test_signed_zero_duration_is_zero():
    """'-0' (a float export of 0) is a duration of 0; other signed values stay rejected."""
    values = [b"-0", b"-0.0", b"-00", b"-1", b"-0.5", b"-", b"-.0", b"-0.", b"--0", b"-0.0.0"]
    data = HEADER + b"".join(GOOD_ROW.replace(b",65,", b"," + v + b",") for v in values)
    batch, stats, _, _ = read(io.BytesIO(data))
    ref_rows, ref_rejects, _ = read_reference(data)
    assert list(batch.duration) == [r[6] for r in ref_rows] == [0, 0, 0]
    assert [line for line, _, _ in ref_rejects] == list(range(5, 12))
    assert stats.rejected == {"duration is not 0-172800 seconds": 7}


def test_reads_with_new_cell_dicts_do_not_leak():
    """Each CellDict's kernel cache (128 KiB) goes with it (fuzzing ran out of memory)."""
    import gc
    import resource

    def rss_mib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / (1 << 20)

    data = HEADER + GOOD_ROW
    for _ in range(200):
        read(io.BytesIO(data))
    gc.collect()
    before = rss_mib()
    for _ in range(2000):
        read(io.BytesIO(data))
    gc.collect()
    assert rss_mib() - before < 60          # a leak: 2000 x 128 KiB = 250 MiB
