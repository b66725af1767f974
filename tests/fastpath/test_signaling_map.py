"""GSM MAP over SIGTRAN (issue 19): the Cython walker against pycrate-encoded messages,
pycrate's decoder (``MapReference``) and Wireshark's dissectors (tshark)."""
import collections
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from map_helpers import Dialogue, capture, tbcd
from simbox.data import sigtran_writer as W
from simbox.errors import ParseError
from simbox.fastpath.events import EventBatch
from simbox.fastpath.signaling import SOURCES, decode_signaling, read_signaling_events
from simbox.fastpath.signaling_ref import reference_decode
from simbox.fastpath.stats import ReadStats

FIELDS = ["packet", "kind", "time", "imsi", "imei", "msisdn", "plmn", "lac", "ci", "node",
          "status"]
TSHARK = shutil.which("tshark")


def digits(lo, hi):
    return st.text("0123456789", min_size=lo, max_size=hi)


plmns = st.builds(lambda mcc, mnc: mcc + mnc, digits(3, 3), digits(2, 3))


@st.composite
def dialogues(draw):
    op = draw(st.sampled_from([2, 23, 56, 43, 70, 71]))
    d = Dialogue(op, otid=draw(st.binary(min_size=1, max_size=4)),
                 invoke_id=draw(st.integers(0, 127)), dialogue=draw(st.booleans()))
    d.imsi = draw(digits(6, 15))
    if op in (2, 23):
        d.node = draw(digits(1, 15))
        d.imei = draw(st.sampled_from(["", draw(digits(16, 16))]))
        if op == 2 and draw(st.booleans()):
            d.plmn, d.lac = draw(plmns), draw(st.integers(0, 0xFFFF))
    elif op == 56:
        d.v2 = draw(st.booleans())
    elif op == 43:
        d.v2 = draw(st.booleans())
        d.imei = draw(digits(15, 16))
        d.status = draw(st.integers(0, 2))
        d.answered = draw(st.booleans())
        if d.v2 or draw(st.booleans()):
            d.imsi = ""
    else:
        d.answered = draw(st.booleans())
        if op == 71 and draw(st.booleans()):
            d.imsi, d.msisdn = "", draw(digits(5, 15))
        if draw(st.booleans()):
            d.plmn, d.lac = draw(plmns), draw(st.integers(0, 0xFFFF))
            d.ci = draw(st.sampled_from([-1, draw(st.integers(0, 0xFFFF))]))
        d.imei = draw(st.sampled_from(["", draw(digits(15, 16))]))
    return d


def rows(path):
    df = decode_signaling(path)
    return df[FIELDS].to_dict("records") if len(df) else []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=st.lists(dialogues(), min_size=1, max_size=6),
       transport=st.sampled_from(["m3ua", "m2pa"]), sccp=st.sampled_from(["udt", "xudt"]))
def test_pycrate_encoded_dialogues_decode_to_their_fields(tmp_path, ds, transport, sccp):
    records, expected = capture(ds, transport, sccp)
    path = tmp_path / "map.pcap"
    W.write_map_pcap(path, records)
    assert rows(path) == expected
    assert [{k: r[k] for k in FIELDS} for r in reference_decode(path)] == expected


def _writer_capture(path, transport="m3ua", sccp="udt"):
    w = W.MapDialogues(transport, sccp)
    t = 1772366405_000000
    w.update_location(t, "460001234567890", "8613900000101", "3520990017614823",
                      W.lai_octets("46000", 1234))
    w.update_gprs_location(t + 1_000_000, "46000123456789", "8613900000401", "352099001761482")
    w.send_auth_info(t + 2_000_000, "460001234567892")
    w.check_imei(t + 3_000_000, "352099001761482", "460001234567893", 2)
    w.check_imei(t + 4_000_000, "352099001761482")              # no IMSI: no event
    w.provide_subscriber_info(t + 5_000_000, "460001234567894", W.lai_octets("310410", 65535, 7),
                              "3520990017614823")
    W.write_map_pcap(path, w.records)


@pytest.mark.parametrize("transport,sccp", [("m3ua", "udt"), ("m2pa", "xudt")])
def test_simulator_writer_decodes_as_pycrate_decodes_it(tmp_path, transport, sccp):
    path = tmp_path / "w.pcap"
    _writer_capture(path, transport, sccp)
    ours = rows(path)
    assert ours == [{k: r[k] for k in FIELDS} for r in reference_decode(path)]
    assert [(r["kind"], r["imsi"], r["imei"], r["node"], r["status"], r["plmn"], r["lac"], r["ci"])
            for r in ours] == [
        ("map_ul", "460001234567890", "3520990017614823", "8613900000101", -1, "46000", 1234, -1),
        ("map_ugl", "46000123456789", "352099001761482", "8613900000401", -1, "", -1, -1),
        ("map_sai", "460001234567892", "", "", -1, "", -1, -1),
        ("map_check_imei", "460001234567893", "352099001761482", "", 2, "", -1, -1),
        ("map_psi", "460001234567894", "3520990017614823", "", -1, "310410", 65535, 7)]


def test_events_carry_their_source_and_lai_token(tmp_path):
    path = tmp_path / "w.pcap"
    _writer_capture(path)
    counts = collections.Counter()
    stats = ReadStats()
    b = EventBatch.concat(list(read_signaling_events(path, counts=counts, stats=stats)))
    c = b.columns()
    assert c["other"].tolist() == [SOURCES[k] for k in ("map_ul", "map_ugl", "map_sai",
                                                         "map_check_imei", "map_psi")]
    assert c["other"].tolist() == [1, 1, 2, 3, 4]
    assert c["duration"].tolist() == [1235, 0, 0, 0, 65536]        # LAC + 1
    assert c["cell"][0] == -1 and c["cell"][4] >= 0                # a LAI alone is no cell
    assert counts["no_imsi"] == 1 and counts["packets"] == 12 and counts["events"] == 5
    df = decode_signaling(path)
    assert df["source"].tolist() == ["map_registration", "map_registration", "map_auth",
                                     "map_check_imei", "map_location"]
    assert df["cell_id"].tolist() == ["46000-1234-*", "", "", "", "310410-65535-7"]


def _one_ul(imsi_octets: bytes) -> bytes:
    arg = W.tlv(0x30, W.tlv(0x04, imsi_octets) + W.tlv(0x81, W.address("861390000001"))
                + W.tlv(0x04, W.address("861390000001")))
    return W.Framer().packet("10.0.0.1", "10.0.0.2", W.m3ua_data(
        W.sccp_udt(W.begin(1, 2, arg), 201, 6, 101, 7), 101, 201))


def _pcap(tmp_path, pkts):
    path = tmp_path / "x.pcap"
    W.write_map_pcap(path, [(1772366405_000000 + i, p) for i, p in enumerate(pkts)])
    return path


def test_bad_imsi_digits_are_rejected_with_the_operation(tmp_path):
    path = _pcap(tmp_path, [_one_ul(b"\x64\x00\x1a\x32\x54\x76\x98\xf0")])
    st_ = ReadStats()
    assert list(read_signaling_events(path, stats=st_)) == []
    assert dict(st_.rejected) == {"invalid digits": 1}
    with pytest.raises(ParseError) as e:
        list(read_signaling_events(path, on_bad_records="error"))
    assert str(e.value) == f"{path} (byte 24): field 'MAP updateLocation': invalid digits (packet 1)"


def test_truncated_ber_in_tcap_is_rejected(tmp_path):
    pkt = bytearray(_one_ul(tbcd("460001234567890")))
    i = pkt.index(b"\xa1\x24\x02\x01\x01")       # the Invoke's invokeID: 3 octets long
    pkt[i + 3] = 3
    with pytest.raises(ParseError) as e:
        list(read_signaling_events(_pcap(tmp_path, [bytes(pkt)]), on_bad_records="error"))
    assert str(e.value).endswith("field 'TCAP Invoke': TCAP message invalid (BER TLV, "
                                 "transaction id or component) (packet 1)")


def test_m3ua_length_past_the_chunk_is_rejected(tmp_path):
    pkt = bytearray(_one_ul(tbcd("460001234567890")))
    pkt[62 + 4:62 + 8] = (0xFFFF).to_bytes(4, "big")          # M3UA message length
    with pytest.raises(ParseError) as e:
        list(read_signaling_events(_pcap(tmp_path, [bytes(pkt)]), on_bad_records="error"))
    assert str(e.value).endswith("field 'M3UA': M3UA message or parameter length invalid (packet 1)")


def test_segments_aborts_and_management_are_counted_not_decoded(tmp_path):
    f = W.Framer()
    sai = W.begin(7, 56, W.sai_arg("460001234567892"))
    pkts = [
        f.packet("10.0.0.1", "10.0.0.2", W.m3ua_data(W.sccp_xudt(sai, 201, 6, 101, 7,
                                                                  segment=b"\x81\x00\x00\x01"), 101, 201)),
        f.packet("10.0.0.1", "10.0.0.2", W.m3ua_data(W.sccp_xudt(sai, 201, 6, 101, 7,
                                                                  segment=b"\x80\x00\x00\x01"), 101, 201)),
        f.packet("10.0.0.1", "10.0.0.2", W.m3ua_data(W.sccp_udt(W.tlv(0x67, W.tlv(0x49, b"\x01")),
                                                                 201, 6, 101, 7), 101, 201)),
        f.packet("10.0.0.1", "10.0.0.2", bytes.fromhex("0100030100000008")),      # ASPSM BEAT
    ]
    counts = collections.Counter()
    df = decode_signaling(_pcap(tmp_path, pkts), counts=counts)
    assert df["imsi"].tolist() == ["460001234567892"]      # a single-segment XUDT is whole
    assert (counts["sccp_segment"], counts["tcap_other"], counts["sigtran_other"]) == (1, 1, 1)
    assert counts["rejected"] == 0


# --- Wireshark as a second reference -------------------------------------------------

def tshark_fields(path, *fields):
    if TSHARK is None:
        pytest.skip("tshark is not installed (.ci/run installs Debian's tshark)")
    cmd = [TSHARK, "-r", str(path), "-n", "-o", "gsm_map.ericsson.proprietary.extensions:TRUE",
           "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in ("frame.number", "_ws.malformed", "_ws.expert.severity") + fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def _tbcd_hex(h: str) -> str:
    """Digits of a TBCD octet string shown by tshark as hex (FT_BYTES)."""
    out = []
    for x in bytes.fromhex(h.replace(":", "")):
        for d in (x & 15, x >> 4):
            if d != 15:
                out.append(str(d))
    return "".join(out)


def _check_tshark(path):
    lines = tshark_fields(path, "e212.imsi", "gsm_map.ms.imeisv", "gsm_map.ms.imei",
                          "gsm_map.ericsson.imei")
    assert lines, "tshark read no packet"
    # no malformed packet, no expert info of error severity (0x00800000)
    assert [ln for ln in lines if ln[1]] == []
    assert [ln for ln in lines if any(int(s) >= 0x00800000 for s in ln[2].split(",") if s)] == []
    theirs = collections.Counter()
    for ln in lines:
        for imsi in filter(None, ln[3].split(",")):
            theirs["imsi", imsi] += 1
        for col in ln[4:7]:
            for imei in filter(None, col.split(",")):
                theirs["imei", _tbcd_hex(imei)] += 1
    df = decode_signaling(path)
    ours = collections.Counter()
    for kind, imsi, imei in zip(df["kind"], df["imsi"], df["imei"]):
        if kind not in ("map_psi", "map_ati"):              # these come from the answer
            ours["imsi", imsi] += 1
            if imei:
                ours["imei", imei] += 1
    # every IMSI / IMEI simbox reads from a request, tshark reads there too
    assert not (ours - theirs), ours - theirs
    return theirs


@pytest.mark.parametrize("transport,sccp", [("m3ua", "udt"), ("m3ua", "xudt"), ("m2pa", "udt")])
def test_tshark_dissects_the_simulator_writer(tmp_path, transport, sccp):
    path = tmp_path / "w.pcap"
    _writer_capture(path, transport, sccp)
    _check_tshark(path)
    # each dialogue in the application context of its operation (TS 29.002 17.3.2)
    ac = {(ln[3], ln[4]) for ln in tshark_fields(path, "tcap.application_context_name",
                                                 "gsm_old.localValue") if ln[3]}
    assert ac == {("0.4.0.0.1.0.1.3", "2"), ("0.4.0.0.1.0.32.3", "23"),
                  ("0.4.0.0.1.0.14.3", "56"), ("0.4.0.0.1.0.13.3", "43"),
                  ("0.4.0.0.1.0.28.3", "70")}


def test_tshark_dissects_pycrate_encoded_dialogues(tmp_path):
    rng = np.random.default_rng(19)
    ds = []
    for i in range(40):
        op = [2, 23, 56, 43, 70, 71][i % 6]
        imsi = "46000" + "".join(map(str, rng.integers(0, 10, 10)))
        imei = "35" + "".join(map(str, rng.integers(0, 10, 13)))
        ds.append(Dialogue(op, imsi=imsi, imei=imei if op in (43, 70) else "",
                           node="8613900000101" if op in (2, 23) else "", status=i % 3,
                           plmn="46000", lac=int(rng.integers(0, 65536)),
                           ci=int(rng.integers(0, 65536)) if op != 2 else -1,
                           otid=int(i + 1).to_bytes(4, "big")))
    records, expected = capture(ds)
    path = tmp_path / "p.pcap"
    W.write_map_pcap(path, records)
    assert rows(path) == expected
    theirs = _check_tshark(path)
    assert sum(v for (k, _), v in theirs.items() if k == "imsi") >= 40


def test_tshark_reads_the_simulated_network_as_simbox_does(tmp_path):
    """``simulate --signaling``: every MAP packet dissects without error, and the IMSIs and
    IMEIs of its requests are the ones simbox reads."""
    from simbox.data.simulate import simulate
    simulate(400, 1, "mixed", 3, tmp_path / "sim", signaling=True)
    pcap = tmp_path / "sim" / "signaling.pcap"
    map_only = tmp_path / "map.pcap"
    df = decode_signaling(pcap)
    mp = df[df.kind.str.startswith("map_")]
    assert len(mp) > 100 and set(mp.kind) >= {"map_ul", "map_sai", "map_check_imei"}
    if TSHARK is None:
        pytest.skip("tshark is not installed (.ci/run installs Debian's tshark)")
    subprocess.run([TSHARK, "-r", str(pcap), "-Y", "sctp", "-w", str(map_only)],
                   capture_output=True, check=True)
    theirs = _check_tshark(map_only)
    assert sum(v for (k, _), v in theirs.items() if k == "imsi") >= len(mp[~mp.kind.isin(
        ["map_psi", "map_ati"])])
