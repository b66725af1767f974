"""open_events: folders, several files, file objects, format detection by content."""
import gzip
import io
import logging

import pytest

from simbox.errors import EmptyInputError, InputError
from simbox.fastpath import CellDict, EventBatch, ReadStats
from simbox.fastpath import readers
from simbox.fastpath.readers import Format, detect_format, open_events, register_format


@pytest.fixture
def files(datadir, tmp_path):
    good = (datadir / "csv" / "good.csv").read_bytes()
    (tmp_path / "day1.csv").write_bytes(good)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "day2.dat").write_bytes(gzip.compress(good))        # gzip under any name
    (tmp_path / ".hidden.csv").write_bytes(b"junk")
    return tmp_path


def test_folder_is_expanded_sorted_and_hidden_files_skipped(files):
    stats, cells = ReadStats(), CellDict()
    batches = list(open_events(files, stats=stats, cells=cells))
    assert [b.source for b in batches] == [str(files / "day1.csv"), str(files / "sub" / "day2.dat")]
    assert stats.files == 2 and stats.records == stats.accepted == 12
    assert len(cells) == 2


def test_paths_path_objects_and_file_objects(files):
    with open(files / "day1.csv", "rb") as f1, open(files / "sub" / "day2.dat", "rb") as f2:
        batches = list(open_events([str(files / "day1.csv"), files / "day1.csv", f1, f2,
                                    io.BytesIO((files / "day1.csv").read_bytes())]))
    assert [len(b) for b in batches] == [6] * 5
    assert batches[2].source == str(files / "day1.csv")        # a file object's name
    assert batches[4].source == "<stream>"
    first = batches[0].columns()
    for b in batches[1:]:
        assert all((b.columns()[k] == first[k]).all() for k in first)


def test_plain_file_named_gz(files, tmp_path):
    p = tmp_path / "plain.csv.gz"
    p.write_bytes((files / "day1.csv").read_bytes())
    assert len(EventBatch.concat(open_events(p))) == 6


def test_missing_path():
    with pytest.raises(InputError) as e:
        open_events(["/no/such/cdrs.csv"])
    assert str(e.value) == "/no/such/cdrs.csv: no such file or folder"


def test_empty_folder(tmp_path):
    with pytest.raises(InputError) as e:
        open_events(tmp_path)
    assert str(e.value) == f"{tmp_path}: the folder holds no files"


@pytest.mark.parametrize("content,shown", [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 24, "first bytes 89 50 4e 47 0d 0a 1a 0a 00 00 00 00 00 00 00 00"),
    (gzip.compress(b"\x7fELF\x02\x01\x01" + b"\0" * 40, mtime=0), "inflated content 7f 45 4c 46 02 01 01 00 00 00 00 00 00 00 00 00"),
])
def test_binary_content_is_not_csv(tmp_path, content, shown):
    p = tmp_path / "x.bin"
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        list(open_events(p))
    assert str(e.value) == f"{p}: not a CDR or capture file simbox reads ({shown}); the formats read are parquet, orc, ber, pcap, csv"


def test_empty_file_among_others_is_skipped_with_a_warning(files, tmp_path, caplog):
    (tmp_path / "empty.csv").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="simbox.fastpath.readers"):
        batches = list(open_events([tmp_path / "empty.csv", files / "day1.csv"]))
    assert [len(b) for b in batches] == [6]
    assert f"{tmp_path / 'empty.csv'}: empty file (no header line, no records) (skipped)" in caplog.text


def test_all_inputs_empty(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"")
    (tmp_path / "b.csv").write_bytes(b"record_type,start_time,imsi,imei,msisdn,other_party,"
                                     b"duration_s,cell_id\n")
    with pytest.raises(EmptyInputError) as e:
        list(open_events(tmp_path))
    assert str(e.value) == (f"no records in any input: {tmp_path / 'a.csv'}: empty file (no header "
                            f"line, no records); {tmp_path / 'b.csv'}: no records after the "
                            "header line")
    with pytest.raises(EmptyInputError) as e:
        list(open_events(tmp_path / "a.csv"))
    assert str(e.value) == f"{tmp_path / 'a.csv'}: empty file (no header line, no records)"


def test_progress_total_covers_all_files(files):
    seen = []
    list(open_events(files, progress=lambda adv, total=None: seen.append((adv, total))))
    size = (files / "day1.csv").stat().st_size + (files / "sub" / "day2.dat").stat().st_size
    assert seen[0] == (0, size)
    assert sum(a for a, _ in seen) == size


def test_registered_format_is_detected_first(tmp_path):
    calls = []

    def sniff(head, gzipped):
        return head.startswith(b"FAKE")

    def read(source, **kw):
        calls.append((source.name, source.peek(4), sorted(kw)))    # a ByteSource, unread
        yield EventBatch.empty(source=source.name)

    register_format(Format("fake", sniff, read))
    try:
        p = tmp_path / "f.fake"
        p.write_bytes(b"FAKE data")
        assert [b.source for b in open_events(p)] == [str(p)]
        assert calls == [(str(p), b"FAKE", ["cells", "chunk_rows", "columns", "name", "on_bad_records",
                                   "progress", "rejects", "stats"])]
        assert detect_format(str(p)).name == "fake"
        with pytest.raises(ValueError):
            register_format(Format("fake", sniff, read))
    finally:
        readers.FORMATS[:] = [f for f in readers.FORMATS if f.name != "fake"]


def test_options_are_checked_before_reading(files):
    with pytest.raises(Exception) as e:
        open_events(files, on_bad_records="warn")
    assert str(e.value) == "on_bad_records must be one of skip, error, not 'warn'"
    with pytest.raises(Exception) as e:
        open_events(files, columns="nope")
    assert str(e.value).startswith("unknown column profile 'nope'")


def test_bad_rows_through_open_events_go_to_the_rejects_file(datadir, tmp_path):
    from simbox.fastpath import RejectsWriter
    stats = ReadStats()
    with RejectsWriter(tmp_path / "rejects.csv") as rej:
        n = sum(len(b) for b in open_events(datadir / "csv" / "bad_rows.csv", rejects=rej,
                                            stats=stats))
    assert n == 5 and stats.rejected_total == 11
    assert len((tmp_path / "rejects.csv").read_text().splitlines()) == 12


class Pipe(io.RawIOBase):
    """A non-seekable stream, like a pipe."""

    def __init__(self, data):
        self._b = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self._b.readinto(b)


@pytest.mark.parametrize("compress", [False, True])
def test_non_seekable_streams_and_text_streams(files, compress):
    data = (files / "day1.csv").read_bytes()
    if compress:
        data = gzip.compress(data)
    assert len(EventBatch.concat(open_events(Pipe(data)))) == 6
    text = io.StringIO((files / "day1.csv").read_text())
    assert len(EventBatch.concat(open_events([text]))) == 6
