"""Damaged captures (issue 14.3, 14.4): a cut or trailing garbage in a pcap.gz, a bad record
header, mutated bytes.  What is kept is checked against scapy (``reference_decode``) on a
capture holding exactly the intact records, cut out by a plain Python record walker."""
import collections
import csv
import gzip
import random
import struct
import zlib

import numpy as np
import pytest

from simbox.errors import ParseError
from simbox.fastpath.events import encode_digits
from simbox.fastpath.signaling import decode_signaling, read_signaling_events
from simbox.fastpath.signaling_ref import reference_decode
from simbox.fastpath.stats import ReadStats, RejectsWriter

N_ATTACH = 400                       # 800 packets
KEY = ["time", "imsi", "imei", "msisdn", "plmn", "lac", "ci"]


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    from simbox.data.pcap_writer import write_attach_pcap
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("cap") / "attach.pcap"
    imsi = np.array([encode_digits(f"4600{i:011d}") for i in range(N_ATTACH)])
    imei = np.array([encode_digits(f"3567890{i:07d}") for i in range(N_ATTACH)])
    msisdn = np.array([encode_digits(f"86138{i:08d}") for i in range(N_ATTACH)])
    cells = np.array([f"46000-{rng.integers(1, 9)}-{rng.integers(1, 60000)}"
                      for _ in range(N_ATTACH)], dtype=object)
    write_attach_pcap(path, np.arange(N_ATTACH) + 1772366405, imsi, imei, msisdn, cells)
    return path


def records(data: bytes):
    """(offset, length) of every record of a little-endian microsecond pcap."""
    out, p = [], 24
    while p + 16 <= len(data):
        incl = struct.unpack_from("<I", data, p + 8)[0]
        if p + 16 + incl > len(data):
            break
        out.append((p, 16 + incl))
        p += 16 + incl
    return out


def events(df):
    return sorted(map(tuple, df[KEY].astype(str).to_numpy().tolist()))


def reference_of(tmp_path, data: bytes, recs):
    """scapy's attach messages of a capture made of the file header and ``recs``."""
    p = tmp_path / "ref.pcap"
    p.write_bytes(data[:24] + b"".join(data[o:o + n] for o, n in recs))
    return sorted(tuple(str(r[k]) for k in KEY) for r in reference_decode(p))


def test_pcap_gz_cut_mid_stream_keeps_every_whole_packet(capture, tmp_path):
    data = capture.read_bytes()
    gz = gzip.compress(data)
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(gz[:len(gz) // 2])
    inflated = zlib.decompressobj(31).decompress(gz[:len(gz) // 2])
    whole = records(inflated)
    st, rej = ReadStats(), tmp_path / "r.csv"
    with RejectsWriter(rej) as rw:
        df = decode_signaling(path, stats=st, rejects=rw)
    assert events(df) == reference_of(tmp_path, data, whole)
    assert len(whole) > 300 and st.records == len(whole) + 1
    assert dict(st.rejected) == {"truncated gzip": 1}
    left = len(inflated) - (whole[-1][0] + whole[-1][1])
    row = rej.read_text().splitlines()[1]
    assert row.startswith(f"{path},,{whole[-1][0] + whole[-1][1]},,truncated gzip,\"the file ends "
                          "inside the compressed stream, before the gzip end marker; ")
    assert f"; {left:,} bytes of a packet record left" in row or left == 0
    with pytest.raises(ParseError, match=r"cut\.pcap\.gz \(byte \d+\): truncated gzip \(the file "
                                         r"ends inside the compressed stream"):
        list(read_signaling_events(path, on_bad_records="error"))


def test_pcap_gz_with_trailing_garbage_keeps_every_packet(capture, tmp_path):
    data = capture.read_bytes()
    path = tmp_path / "tail.pcap.gz"
    path.write_bytes(gzip.compress(data) + b"HLjunk after the stream")
    st = ReadStats()
    df = decode_signaling(path, stats=st)
    assert events(df) == events(decode_signaling(capture))
    assert len(df) == 2 * N_ATTACH and st.records == 2 * N_ATTACH + 1
    assert dict(st.rejected) == {"corrupt gzip": 1}
    with pytest.raises(ParseError) as e:
        list(read_signaling_events(path, on_bad_records="error"))
    assert str(e.value) == (f"{path} (byte {len(data)}): corrupt gzip (bytes that are not gzip "
                            "follow the compressed stream)")


@pytest.mark.parametrize("bad", [0x7FFFFFFF, 5000, 3])
def test_bad_record_header_skips_one_record_only(capture, tmp_path, bad):
    data = bytearray(capture.read_bytes())
    recs = records(bytes(data))
    k = len(recs) // 3
    off, size = recs[k]
    struct.pack_into("<I", data, off + 8, bad)          # captured length of record k
    path = tmp_path / "bad.pcap"
    path.write_bytes(bytes(data))
    st, rej = ReadStats(), tmp_path / "r.csv"
    with RejectsWriter(rej) as rw:
        df = decode_signaling(path, stats=st, rejects=rw)
    assert events(df) == reference_of(tmp_path, bytes(data), recs[:k] + recs[k + 1:])
    rows = list(csv.DictReader(rej.open()))
    if bad == 3:          # a plausible header: 3 bytes read as a packet, then the damage
        assert dict(st.rejected) == {"bad pcap record header": 1, "truncated link-layer header": 1}
        assert st.skipped_bytes == size - 16 - 3 and st.records == len(recs) + 1
        start = off + 16 + 3
        assert (rows[0]["byte_offset"], rows[0]["reason"]) == (str(off), "truncated link-layer header")
    else:
        assert dict(st.rejected) == {"bad pcap record header": 1}
        assert st.skipped_bytes == size and st.records == len(recs)
        start = off
    assert [r for r in rows if r["reason"] == "bad pcap record header"] == [{
        "file": str(path), "line": "", "byte_offset": str(start), "field": "",
        "reason": "bad pcap record header",
        "detail": f"{off + size - start:,} bytes passed over to the next plausible record at "
                  f"byte {off + size:,}",
        "record": f"packet {k + 1 + (bad == 3)}"}]


def test_mutated_capture_keeps_most_packets_and_accounts_for_every_byte(capture, tmp_path):
    data = bytearray(capture.read_bytes())
    rng = random.Random(3)
    for i in rng.sample(range(24, len(data)), len(data) // 100):     # 1% of the bytes
        data[i] = rng.randrange(256)
    path = tmp_path / "mut.pcap"
    path.write_bytes(bytes(data))
    counts, st = collections.Counter(), ReadStats()
    n = sum(len(b) for b in read_signaling_events(path, stats=st, counts=counts))
    good = capture.read_bytes()
    intact = [(o, s) for o, s in records(good) if data[o:o + s] == good[o:o + s]]
    # every intact packet is read (a packet after a damaged header may be passed over with it)
    assert n >= 0.8 * len(intact) and st.records >= 0.9 * 2 * N_ATTACH
    assert st.records == counts["packets"] + st.rejected["bad pcap record header"]
    assert st.bytes == len(data) and st.skipped_bytes < len(data) // 10



def test_command_keeps_the_packets_of_a_cut_pcap_gz(capture, tmp_path):
    """Was: exit status 3, EOFError, every packet lost."""
    import json
    import subprocess
    import sys
    gz = gzip.compress(capture.read_bytes())
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(gz[:len(gz) // 2])
    r = subprocess.run([sys.executable, "-m", "simbox", "features", "--signaling", str(path),
                        "--out", str(tmp_path / "f.csv"), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    kept = len(decode_signaling(path))
    assert kept > 300 and s["accepted"] == kept and s["rejected_by_reason"] == {"truncated gzip": 1}
