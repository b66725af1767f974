"""Signaling captures -> attach events: golden files, the scapy reference, bad input."""
import collections
import io
import shutil
import struct

import numpy as np
import pytest
from scapy.utils import RawPcapReader

from simbox.errors import InputError, ParseError
from simbox.fastpath import RecordType, decode_digits
from simbox.fastpath.events import CellDict, EventBatch
from simbox.fastpath.signaling import decode_signaling, is_capture, read_signaling_events
from simbox.fastpath.signaling_ref import reference_decode
from simbox.fastpath.stats import ReadStats, RejectsWriter

CAPTURES = ["magma_gx_gy_combined_03_210505_132953-1.pcapng",
            "magma_gx_gy_combined_06_210505_133132-1.pcapng",
            "magma_inbound_roaming_01_210505_130828-1.pcapng",
            "magma_inbound_roaming_05_210504_215514-1.pcapng",
            "magma_nsa_connection.pcap", "ndpi_gtp_c.pcap", "ndpi_diameter.pcap",
            "ndpi_sip.pcap", "pcpp_gtpv2.pcap", "pcpp_sip_reqs.pcap"]
FIELDS = ["packet", "kind", "time", "imsi", "imei", "msisdn", "plmn", "lac", "ci", "rat"]

# (kind, imsi, imei, msisdn, cell_id) of every attach message, checked by hand on the bytes
GOLDEN = {
    "magma_inbound_roaming_01_210505_130828-1.pcapng": [
        ("s6a_ulr", "001020000000064", "", "", ""),
        ("gtpv2_csr", "001020000000064", "4094175337760000", "0012000", "001001-1-1")],
    "magma_inbound_roaming_05_210504_215514-1.pcapng": [
        ("s6a_ulr", "001020000000064", "", "", ""),
        ("gtpv2_csr", "001020000000064", "4094175337760000", "0012000", "001001-1-1")],
    "magma_gx_gy_combined_03_210505_132953-1.pcapng": [
        ("s6a_ulr", "999991234567810", "", "", ""),
        ("gx_ccr", "999991234567810", "4094175337760000", "1234567810", "00101-1-257"),
        ("gx_ccr", "999991234567810", "", "", "")],
    "magma_gx_gy_combined_06_210505_133132-1.pcapng": [
        ("s6a_ulr", "999991234567810", "", "", ""),
        ("gx_ccr", "999991234567810", "4094175337760000", "1234567810", "00101-1-257"),
        ("gx_ccr", "999991234567810", "", "", "")],
    "magma_nsa_connection.pcap": [
        ("s6a_ulr", "222010100001140", "", "", ""),
        ("gtpv2_csr", "222010100001140", "", "", "22201-1-917760")],
    # TBCD 98 76 54 = MCC 896 MNC 457; TAC 0x1234; ECI = 0x2345678 (the 28 bits, spare nibble 1 dropped)
    "ndpi_gtp_c.pcap": [
        ("gtpv2_csr", "987654112233445", "436587092110203", "896745214365", "896457-4660-36984440")],
    "ndpi_diameter.pcap": [],      # Gy CCR over TCP, no IMSI, not Gx: no attach
    "pcpp_gtpv2.pcap": [],         # Echo / Modify Bearer only
    "ndpi_sip.pcap": [],
    "pcpp_sip_reqs.pcap": [],
}


@pytest.fixture
def pcapdir(captures_dir):
    return captures_dir


def packets_in(path) -> int:
    """Packets in a pcap or pcapng file, counted by scapy (every packet is a record read)."""
    with RawPcapReader(str(path)) as r:
        return sum(1 for _ in r)


@pytest.mark.parametrize("name", CAPTURES)
def test_golden_attaches(pcapdir, name):
    df = decode_signaling(pcapdir / name)
    got = list(df[["kind", "imsi", "imei", "msisdn", "cell_id"]].itertuples(index=False, name=None))
    assert got == GOLDEN[name]


@pytest.mark.parametrize("name", CAPTURES)
def test_cython_agrees_with_scapy_on_every_capture(pcapdir, name):
    ours = decode_signaling(pcapdir / name)[FIELDS].to_dict("records")
    assert ours == reference_decode(pcapdir / name)


def test_known_values_magma_roaming(pcapdir):
    df = decode_signaling(pcapdir / "magma_inbound_roaming_01_210505_130828-1.pcapng")
    csr = df[df.kind == "gtpv2_csr"].iloc[0]
    assert csr.imsi == "001020000000064" and len(csr.imei) == 16
    assert csr.rat == 6 and csr.lac == 1 and csr.ci == 1
    ulr = df[df.kind == "s6a_ulr"].iloc[0]
    assert ulr.plmn == "00101" and ulr.rat == 1004     # Visited-PLMN-Id, no cell


def test_counts_of_negative_cases(pcapdir):
    c = collections.Counter()
    st = ReadStats()
    assert list(read_signaling_events(pcapdir / "ndpi_diameter.pcap", counts=c, stats=st)) == []
    assert c == {"packets": 6, "diameter_other": 6}
    assert (st.files, st.records, st.accepted, st.skipped) == (1, 6, 0, 6)
    c = collections.Counter()
    assert list(read_signaling_events(pcapdir / "pcpp_gtpv2.pcap", counts=c)) == []
    assert c["events"] == 0 and c["gtp_other"] >= 4


def test_events_batches_and_cells(pcapdir):
    cells = CellDict(["x"])
    st = ReadStats()
    paths = [pcapdir / n for n in CAPTURES]
    batches = list(read_signaling_events(paths, cells=cells, stats=st, chunk_packets=50))
    b = EventBatch.concat(batches)
    assert len(b) == sum(len(v) for v in GOLDEN.values()) == st.accepted
    assert st.files == len(CAPTURES) and st.records == sum(packets_in(p) for p in paths)
    assert (b.rtype == RecordType.ATTACH).all() and (b.other == 0).all() and (b.duration == 0).all()
    assert {decode_digits(i) for i in b.imsi} == {"001020000000064", "999991234567810",
                                                  "222010100001140", "987654112233445"}
    assert cells.tokens == ["x", "00101-1-257", "001001-1-1", "22201-1-917760",
                            "896457-4660-36984440"]
    df = b.to_pandas(cells)
    assert set(df.cell_id) == {"", "00101-1-257", "001001-1-1", "22201-1-917760",
                               "896457-4660-36984440"}


def test_chunking_bounds_batches(pcapdir, tmp_path):
    from simbox.data.pcap_writer import write_attach_pcap
    from simbox.fastpath.events import encode_digits as e
    n = 25
    path = tmp_path / "a.pcap"
    write_attach_pcap(path, np.arange(n) + 1772366405, np.array([e(f"4600000000000{i:02d}") for i in range(n)]),
                      np.zeros(n, np.int64), np.zeros(n, np.int64),
                      np.array(["46000-1-2"] * n, dtype=object))
    sizes = [len(b) for b in read_signaling_events(path, chunk_packets=10)]
    assert sizes == [10, 10, 10, 10, 10]        # 2 packets per attach, 1 event per packet


def test_file_objects_and_gzip(pcapdir, tmp_path):
    import gzip
    raw = (pcapdir / "ndpi_gtp_c.pcap").read_bytes()
    assert is_capture(raw[:4]) and not is_capture(b"reco")
    b1 = EventBatch.concat(read_signaling_events(io.BytesIO(raw)))
    gz = tmp_path / "x.pcap.gz"
    gz.write_bytes(gzip.compress(raw))
    b2 = EventBatch.concat(read_signaling_events(gz))
    assert len(b1) == len(b2) == 1 and b1.imsi[0] == b2.imsi[0]
    ng = tmp_path / "n.pcapng.gz"
    ng.write_bytes(gzip.compress((pcapdir / "magma_nsa_connection.pcap").read_bytes()))
    assert list(decode_signaling(ng).cell_id) == ["", "22201-1-917760"]


def _pcap(records, linktype=1):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for data, orig in records:
        out += struct.pack("<IIII", 1614767558, 0, len(data), orig) + data
    return out


def _csr_packet(pcapdir):
    from scapy.utils import RawPcapReader
    return next(iter(RawPcapReader(str(pcapdir / "ndpi_gtp_c.pcap"))))[0]


def test_truncated_packet_is_rejected_with_offset(pcapdir, tmp_path):
    pkt = _csr_packet(pcapdir)
    path = tmp_path / "cut.pcap"
    path.write_bytes(_pcap([(pkt, len(pkt)), (pkt[:100], len(pkt))]))
    st = ReadStats()
    rej = tmp_path / "rejects.csv"
    with RejectsWriter(rej) as rw:
        b = EventBatch.concat(read_signaling_events(path, stats=st, rejects=rw))
    assert len(b) == 1
    assert dict(st.rejected) == {"GTPv2-C message longer than the packet": 1}
    lines = rej.read_text().splitlines()
    assert lines[0] == "file,line,byte_offset,field,reason,detail,record"
    assert lines[1].startswith(f"{path},,{24 + 16 + len(pkt)},GTPv2-C,"
                               "GTPv2-C message longer than the packet,packet 2,packet 2: ")
    with pytest.raises(ParseError) as e:
        list(read_signaling_events(path, on_bad_records="error"))
    assert str(e.value) == (f"{path} (byte {24 + 16 + len(pkt)}): field 'GTPv2-C': "
                            "GTPv2-C message longer than the packet (packet 2)")


def test_bad_imsi_digits_are_rejected(pcapdir, tmp_path):
    pkt = bytearray(_csr_packet(pcapdir))
    i = pkt.index(bytes.fromhex("0100080089674511223344f5"))
    pkt[i + 4] = 0x8A                     # a nibble 0xA inside the IMSI
    path = tmp_path / "bad.pcap"
    path.write_bytes(_pcap([(bytes(pkt), len(pkt))]))
    with pytest.raises(ParseError) as e:
        list(read_signaling_events(path, on_bad_records="error"))
    assert str(e.value) == (f"{path} (byte 24): field 'GTPv2 IE 1 (IMSI)': invalid digits (packet 1)")


def test_capture_ending_inside_a_record(pcapdir, tmp_path):
    pkt = _csr_packet(pcapdir)
    path = tmp_path / "short.pcap"
    path.write_bytes(_pcap([(pkt, len(pkt))]) + _pcap([(pkt, len(pkt))])[24:24 + 50])
    st = ReadStats()
    assert len(EventBatch.concat(read_signaling_events(path, stats=st))) == 1
    assert dict(st.rejected) == {"capture ends inside a packet record": 1}
    assert st.records == 2
    with pytest.raises(ParseError) as e:
        list(read_signaling_events(path, on_bad_records="error"))
    assert str(e.value) == (f"{path} (byte {24 + 16 + len(pkt)}): capture ends inside a packet "
                            "record (50 bytes left)")


def test_corrupt_record_header(tmp_path):
    path = tmp_path / "corrupt.pcap"
    path.write_bytes(_pcap([]) + struct.pack("<IIII", 0, 0, 0x7FFFFFFF, 0x7FFFFFFF) + b"x" * 40)
    st = ReadStats()
    assert list(read_signaling_events(path, stats=st)) == []
    assert dict(st.rejected) == {"bad pcap record header": 1}
    assert (st.records, st.skipped_bytes, st.bytes) == (1, 56, 24 + 56)
    with pytest.raises(ParseError) as e:
        list(read_signaling_events(path, on_bad_records="error"))
    assert str(e.value) == (f"{path} (byte 24): bad pcap record header (56 bytes passed over to "
                            "the end of the capture, no plausible record after them)")


def test_not_a_capture(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("record_type,start_time\n")
    with pytest.raises(InputError) as e:
        list(read_signaling_events(p))
    assert str(e.value) == (f"{p}: not a pcap or pcapng capture (starts with 7265636f); "
                            "export the capture as pcap or pcapng")
    with pytest.raises(InputError, match="missing.pcap: no such file"):
        list(read_signaling_events(tmp_path / "missing.pcap"))


def test_big_endian_pcap_and_raw_ip(pcapdir, tmp_path):
    pkt = _csr_packet(pcapdir)
    be = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    be += struct.pack(">IIII", 1614767558, 0, len(pkt) - 14, len(pkt) - 14) + pkt[14:]
    path = tmp_path / "be.pcap"
    path.write_bytes(be)
    df = decode_signaling(path)
    assert list(df.imsi) == ["987654112233445"] and list(df.time) == [1614767558]
    assert df[FIELDS].to_dict("records") == reference_decode(path)


def test_pcapng_copy_reads_the_same(pcapdir, tmp_path):
    shutil.copy(pcapdir / "magma_nsa_connection.pcap", tmp_path / "n.pcapng")
    a = decode_signaling(tmp_path / "n.pcapng")[FIELDS]
    b = decode_signaling(pcapdir / "magma_nsa_connection.pcap")[FIELDS]
    assert a.equals(b)


def test_pcapng_cut_inside_a_block(pcapdir, tmp_path):
    data = (pcapdir / "magma_nsa_connection.pcap").read_bytes()
    path = tmp_path / "cut.pcapng"
    path.write_bytes(data[:3000])
    st = ReadStats()
    rej = tmp_path / "r.csv"
    with RejectsWriter(rej) as rw:
        assert list(read_signaling_events(path, stats=st, rejects=rw)) == []
    assert dict(st.rejected) == {"capture ends inside a pcapng block": 1}
    assert rej.read_text().splitlines()[1] == (
        f"{path},,2820,,capture ends inside a pcapng block,180 bytes left,packet 16")


def test_open_events_reads_captures_among_cdrs(pcapdir, tmp_path):
    import gzip
    from simbox.fastpath.readers import detect_format, open_events
    csv = tmp_path / "cdrs.csv"
    csv.write_text("record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
                   "MOC,2026-03-01T12:00:05Z,987654112233445,436587092110203,8613800000000,"
                   "0049301234,12,896457-4660-36984440\n")
    gz = tmp_path / "gtp.pcap.gz"
    gz.write_bytes(gzip.compress((pcapdir / "ndpi_gtp_c.pcap").read_bytes()))
    assert detect_format(str(gz)).name == detect_format(str(pcapdir / "pcpp_gtpv2.pcap")).name == "pcap"
    cells = CellDict()
    st = ReadStats()
    b = EventBatch.concat(open_events([csv, gz, pcapdir / "magma_nsa_connection.pcap"],
                                      cells=cells, stats=st))
    assert list(b.rtype) == [RecordType.MOC, RecordType.ATTACH, RecordType.ATTACH, RecordType.ATTACH]
    assert b.cell[0] == b.cell[1]          # the same cell token from the CDR and from the ECGI
    assert cells.tokens == ["896457-4660-36984440", "22201-1-917760"]
    assert (st.files, st.accepted) == (3, 4)


def test_records_spanning_read_blocks(pcapdir, tmp_path, monkeypatch):
    from simbox.fastpath import signaling
    from simbox.data.pcap_writer import write_attach_pcap
    from simbox.fastpath.events import encode_digits as e
    n = 40
    path = tmp_path / "a.pcap"
    write_attach_pcap(path, np.arange(n) + 1772366405,
                      np.array([e(f"4600000000000{i:02d}") for i in range(n)]),
                      np.full(n, e("352099001761481")), np.zeros(n, np.int64),
                      np.array([f"46000-1-{i}" for i in range(n)], dtype=object))
    whole = EventBatch.concat(read_signaling_events(path))
    for block in (7, 100, 333):
        monkeypatch.setattr(signaling, "BLOCK", block)
        st = ReadStats()
        parts = EventBatch.concat(read_signaling_events(path, stats=st, chunk_packets=3))
        assert st.rejected_total == 0 and st.records == 2 * n
        for col in ("time", "imsi", "imei", "cell"):
            assert (getattr(parts, col) == getattr(whole, col)).all()


def test_empty_captures(tmp_path):
    from simbox.errors import EmptyInputError
    from simbox.fastpath.readers import open_events
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    header_only = tmp_path / "h.pcap"
    header_only.write_bytes(_pcap([]))
    for p, msg in ((empty, "empty file (no capture header, no packets)"),
                   (header_only, "the capture holds no packets")):
        with pytest.raises(EmptyInputError) as e:
            list(read_signaling_events(p))
        assert str(e.value) == f"{p}: {msg}"
    with pytest.raises(EmptyInputError) as e:
        list(open_events([header_only]))
    assert str(e.value) == f"{header_only}: the capture holds no packets"
