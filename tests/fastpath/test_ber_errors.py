"""Bad BER input: each bad record rejected with file, byte offset, field and reason
(exact messages), the rest of the file kept; gzip, folders, file objects, strict mode."""
import csv
import gzip
import io

import pytest

from simbox.errors import ConfigError, InputError, ParseError
from simbox.fastpath import CellDict, ReadStats, RejectsWriter
from simbox.fastpath.ber import read_ber_events, read_ber_records, sniff_path

from ber_helpers import ber_bytes, kernel, raw_records, sample_events

# sample_events(3) as a TS 32.297 file: a 54-byte file header, then CDRs at 54 (moCallRecord,
# 118 bytes), 172 (moSMSRecord, 99 bytes) and 271 (mtCallRecord, 119 bytes); 390 bytes.
GOOD = ber_bytes(sample_events(3))
MOC, SMS, MTC = 54, 172, 271
SEIZURE = GOOD.index(bytes.fromhex("960926"), MOC) + 2     # the moCallRecord's seizureTime value


def mutate(at, value):
    b = bytearray(GOOD)
    b[at] = value
    return bytes(b)


CASES = [
    ("truncated file", GOOD[:-20], [MOC, SMS],
     (MTC, "truncated file (114 bytes needed, 94 left)", "CDR header")),
    ("length past its container", mutate(65, 0x7F), [SMS, MTC],
     (MOC, "length runs past its container (length 127, 106 bytes left, at byte 66)", "servedIMSI")),
    ("wrong tag", mutate(SMS + 5, 0x06), [MOC, MTC],
     (SMS, "wrong tag (identifier octet 0x06 is not a context-specific constructed record tag, "
           "at byte 177)", "record")),
    ("garbage bytes", GOOD[:SMS] + bytes(10) + GOOD[SMS:], [MOC, SMS + 10, MTC + 10],
     (SMS, "garbage bytes (10 bytes skipped; not BER at byte 172)", "CDR header")),
    ("CDR length too short", mutate(MOC + 1, 0x61), [SMS, MTC],
     (MOC, "garbage bytes (118 bytes skipped; length runs past its container at byte 61)", "record")),
    ("bad time", GOOD[:SEIZURE] + b"\x26\x13" + GOOD[SEIZURE + 2:], [SMS, MTC],
     (MOC, f"bad time stamp (not BCD YYMMDDhhmmss, sign, hhmm, at byte {SEIZURE})", "seizureTime")),
    ("bad digit", mutate(67, 0xA0), [SMS, MTC],
     (MOC, "bad BCD digit (nibble 0xa, at byte 67)", "servedIMSI")),
    ("indefinite primitive", mutate(65, 0x80), [SMS, MTC],
     (MOC, "indefinite length on a primitive value (at byte 65)", "servedIMSI")),
    ("reserved length octet", mutate(65, 0xFF), [SMS, MTC],
     (MOC, "bad length octets (length octet 0xff, at byte 65)", "servedIMSI")),
]


@pytest.mark.parametrize("name,data,kept,reject", CASES, ids=[c[0] for c in CASES])
def test_bad_record_rejected_rest_kept(name, data, kept, reject):
    rows, rejects, stats = kernel(data)
    assert [r[0] for r in rows] == kept
    assert rejects == [reject]
    assert stats.records == len(kept) + 1 and stats.accepted == len(kept)
    assert stats.rejected == {reject[1].split(" (")[0]: 1}


def test_rejects_file_and_counts(tmp_path):
    path = tmp_path / "bad.cdr"
    path.write_bytes(mutate(67, 0xA0))
    stats = ReadStats()
    with RejectsWriter(tmp_path / "rejects.csv") as rw:
        n = sum(len(b) for b in read_ber_events(path, stats=stats, rejects=rw))
    assert n == 2
    rows = list(csv.DictReader(open(tmp_path / "rejects.csv")))
    assert len(rows) == 1
    r = rows[0]
    assert (r["file"], r["line"], r["byte_offset"], r["field"], r["reason"], r["detail"]) == (
        str(path), "", "54", "servedIMSI", "bad BCD digit", "nibble 0xa, at byte 67")
    assert bytes.fromhex(r["record"]) == mutate(67, 0xA0)[MOC:SMS]
    assert stats.summary() == ("1 file(s), 3 records read, 2 accepted, 1 rejected, 0 duplicates "
                               "dropped (bad BCD digit: 1)")


def test_strict_mode_raises_parse_error(tmp_path):
    path = tmp_path / "bad.cdr"
    path.write_bytes(mutate(65, 0x7F))
    with pytest.raises(ParseError) as e:
        list(read_ber_events(path, on_bad_records="error"))
    assert str(e.value) == (f"{path} (byte 54): field 'servedIMSI': length runs past its container "
                            "(length 127, 106 bytes left, at byte 66)")
    assert (e.value.offset, e.value.field) == (54, "servedIMSI")
    with pytest.raises(ConfigError):
        list(read_ber_events(path, on_bad_records="ignore"))


def test_missing_fields_rejected():
    ev = sample_events(3)
    data = ber_bytes(ev)
    # drop the callDuration TLV (99 01 41) of the moCallRecord: lengths fixed up by hand
    i = data.index(bytes.fromhex("990141"), MOC)
    b = bytearray(data[:i] + data[i + 3:])
    b[MOC + 1] -= 3
    b[MOC + 6] -= 3
    rows, rejects, _ = kernel(bytes(b))
    assert rejects == [(MOC, "missing field", "callDuration")]
    assert [r[0] for r in rows] == [SMS - 3, MTC - 3]


def test_truncated_in_file_header():
    rows, rejects, stats = kernel(GOOD[:40])
    assert rows == [] and rejects == [(0, "truncated file (54 bytes needed, 40 left)", "file header")]


def test_not_ber_at_all_is_an_input_error():
    with pytest.raises(InputError, match="not a TS 32.297 CDR file nor BER CS records"):
        kernel(b"record_type,start_time,imsi\n")


def test_gzip_folder_and_file_objects(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.cdr").write_bytes(GOOD)
    (tmp_path / "a" / "y.dat").write_bytes(gzip.compress(GOOD))          # by content, not name
    (tmp_path / "a" / "z.ber").write_bytes(raw_records(GOOD))            # records back to back
    (tmp_path / "a" / "notes.txt").write_text("not a CDR file\n")
    assert sniff_path(tmp_path / "a" / "y.dat") == "ts32297"
    assert sniff_path(tmp_path / "a" / "z.ber") == "raw"
    assert sniff_path(tmp_path / "a" / "notes.txt") is None
    cells = CellDict()
    stats = ReadStats()
    progress = []
    batches = list(read_ber_events(tmp_path / "a", cells=cells, stats=stats,
                                   progress=lambda n, total=None: progress.append((n, total))))
    assert [b.source for b in batches] == [str(tmp_path / "a" / f) for f in ("x.cdr", "y.dat", "z.ber")]
    assert stats.files == 3 and stats.accepted == 9 and stats.rejected_total == 0
    assert cells.tokens == ["46000-1234-56789"]
    assert sum(n for n, _ in progress) == stats.bytes
    df = read_ber_records(io.BytesIO(GOOD))
    assert list(df.other_party) == ["0049301234", "10086", "8613800000002"]


def test_truncated_gzip_keeps_what_is_there(tmp_path, caplog):
    path = tmp_path / "t.cdr.gz"
    path.write_bytes(gzip.compress(GOOD)[:-30])
    rec = __import__("ber_helpers").Recorder()
    stats = ReadStats()
    n = sum(len(b) for b in read_ber_events(path, stats=stats, rejects=rec))
    assert n + stats.rejected_total == 3 and n == 2
    assert ("truncated gzip (the file ends inside the compressed stream, before the gzip end "
            "marker)") in caplog.text
    assert len(rec.items) == 1 and rec.items[0][1].startswith("truncated file (114 bytes needed, ")
    # cut exactly after a record: the cut counts as one rejected record, as in the CSV reader
    comp = gzip.compress(GOOD[:MTC])
    path.write_bytes(comp[:-8])                     # the gzip trailer (CRC, size) cut off
    rec = __import__("ber_helpers").Recorder()
    stats = ReadStats()
    n = sum(len(b) for b in read_ber_events(path, stats=stats, rejects=rec))
    assert (n, stats.rejected_total) == (2, 1)
    assert rec.items[0][:3] == (MTC, "truncated gzip (the file ends inside the compressed stream, before the gzip end marker)", None)


def test_call_duration_bound_as_csv():
    ev = sample_events(3)
    ev.loc[0, "duration_s"] = 172801
    data = ber_bytes(ev)
    at = data.index(bytes.fromhex("9903"), MOC) + 2
    rows, rejects, _ = kernel(data)
    assert rejects == [(MOC, f"bad callDuration (172801 seconds, not 0-172800, at byte {at})",
                        "callDuration")]
    assert len(rows) == 2
