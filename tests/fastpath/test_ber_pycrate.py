"""The BER reader against an independent decoder: pycrate's TS 32.298 module.

pycrate decodes the same bytes; the expected events are derived from its values
with the small, obviously-correct interpretations below (TBCD digits, TimeStamp,
LocationAreaAndCell), written independently of simbox's kernel and reference.
"""
import datetime as dt
import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

pycrate_cdr = pytest.importorskip("pycrate_asn1dir.CDR")

from simbox.data import ber_writer  # noqa: E402
from simbox.fastpath import CellDict, ReadStats, RejectsWriter  # noqa: E402
from simbox.fastpath.ber import read_ber_events, read_ber_records  # noqa: E402

CSRecord = pycrate_cdr.CSChargingDataTypes.CSRecord
KINDS = {"moCallRecord": "MOC", "mtCallRecord": "MTC", "moSMSRecord": "SMS_MO", "mtSMSRecord": "SMS_MT"}


# -- independent interpretations of pycrate's values --------------------------------------

def digits(b: bytes) -> str:
    s = "".join(f"{x:02x}"[::-1] for x in b)
    return s[:s.index("f")] if "f" in s else s


def number(b: bytes | None) -> str:
    return digits(b[1:]) if b else ""


def tp_number(b: bytes | None) -> str:
    if not b or len(b) < 2 or (b[1] >> 4) & 7 == 5:
        return ""
    return digits(b[2:])[:b[0]]


def utc(ts: bytes) -> int:
    local = dt.datetime.strptime("20" + ts[:6].hex(), "%Y%m%d%H%M%S").replace(tzinfo=dt.timezone.utc)
    off = dt.timedelta(hours=int(ts[7:8].hex()), minutes=int(ts[8:9].hex()))
    return int((local - off if ts[6:7] == b"+" else local + off).timestamp())


def cell(loc: dict | None) -> str:
    if loc is None:
        return ""
    lac = int.from_bytes(loc["locationAreaCode"], "big")
    ci = int.from_bytes(loc["cellId"], "big")
    if "mCC-MNC" not in loc:
        return f"{lac}-{ci}"
    s = "".join(f"{x:02x}"[::-1] for x in loc["mCC-MNC"])
    return f"{s[0:3]}{s[4:6]}{s[3] if s[3] != 'f' else ''}-{lac}-{ci}"


def expected_event(kind: str, v: dict) -> dict:
    """The event the contract wants from one pycrate-decoded record."""
    rt = KINDS[kind]
    if rt in ("MOC", "MTC"):
        t = next(v[k] for k in ("seizureTime", "answerTime", "releaseTime") if k in v)
        other = number(v.get("calledNumber" if rt == "MOC" else "callingNumber"))
        dur = v["callDuration"]
    else:
        t = v["originationTime" if rt == "SMS_MO" else "deliveryTime"]
        other = (tp_number(v.get("destinationNumber")) if rt == "SMS_MO"
                 else number(v.get("cAMELSMSInformation", {}).get("callingPartyNumber")))
        dur = 0
    return {"record_type": rt, "time": utc(t), "imsi": digits(v["servedIMSI"]),
            "imei": digits(v.get("servedIMEI", b"")), "msisdn": number(v.get("servedMSISDN")),
            "other_party": other, "duration": dur, "cell_id": cell(v.get("location"))}


def pycrate_records(data: bytes, header_length: int):
    """(offset, kind, value) of every CDR of a TS 32.297 file, decoded by pycrate."""
    out, off = [], header_length
    while off < len(data):
        n = int.from_bytes(data[off:off + 2], "big")
        hl = 5 if data[off + 2] >> 5 == 7 else 4
        CSRecord.from_ber(data[off + hl:off + hl + n])
        kind, v = CSRecord.get_val()
        out.append((off, kind, v))
        off += hl + n
    return out


def ours(path_or_obj):
    stats = ReadStats()
    df = read_ber_records(path_or_obj, stats=stats)
    rows = [{"record_type": {"moCallRecord": "MOC", "mtCallRecord": "MTC", "moSMSRecord": "SMS_MO",
                             "mtSMSRecord": "SMS_MT"}[r.record_type],
             "time": r.time, "imsi": r.imsi, "imei": r.imei, "msisdn": r.msisdn,
             "other_party": r.other_party, "duration": r.duration, "cell_id": r.cell_id}
            for r in df.itertuples()]
    return df, rows, stats


# -- the independently encoded file (made in the session: tests/data/ber/make_pycrate_cdr.py) ---------------------------------------------------

def test_capture_field_for_field_with_pycrate(pycrate_cdr):
    CAPTURE = pycrate_cdr
    data = CAPTURE.read_bytes()
    header_length = struct.unpack_from(">I", data, 4)[0]
    recs = pycrate_records(data, header_length)
    df, rows, stats = ours(CAPTURE)
    assert stats.records == stats.accepted == len(recs) == 10_000
    assert stats.rejected_total == 0 and stats.skipped == 0
    assert list(df.offset) == [off for off, _, _ in recs]
    assert rows == [expected_event(k, v) for _, k, v in recs]
    # cause and the call times, field for field
    for r, (_, kind, v) in zip(df.itertuples(), recs):
        if kind in ("moCallRecord", "mtCallRecord"):
            assert r.cause == v["causeForTerm"]
            assert r.answer == utc(v["answerTime"])
            assert (r.seizure == utc(v["seizureTime"])) if "seizureTime" in v else r.seizure < 0


def test_capture_events_same_as_records(pycrate_cdr):
    CAPTURE = pycrate_cdr
    cells = CellDict()
    stats = ReadStats()
    batches = list(read_ber_events(CAPTURE, cells=cells, stats=stats, chunk_records=3000))
    assert [len(b) for b in batches] == [3000, 3000, 3000, 1000]
    df = __import__("pandas").concat([b.to_pandas(cells) for b in batches], ignore_index=True)
    _, rows, _ = ours(CAPTURE)
    assert list(df.record_type.astype(str)) == [r["record_type"] for r in rows]
    assert list(df.other_party) == [r["other_party"] for r in rows]
    assert list(df.cell_id) == [r["cell_id"] for r in rows]
    assert list(df.start_time.astype("datetime64[s, UTC]").astype("int64")) == [r["time"] for r in rows]
    assert stats.summary() == "1 file(s), 10,000 records read, 10,000 accepted, 0 rejected, 0 duplicates dropped"


def test_capture_from_file_object_and_plmn_option(pycrate_cdr):
    CAPTURE = pycrate_cdr
    df = read_ber_records(io.BytesIO(CAPTURE.read_bytes()), plmn="23415")
    assert len(df) == 10_000
    assert df.cell_id.str.startswith("23415-4660-").all()


# -- random records encoded by pycrate ---------------------------------------------------

def bcd_number(draw, lo=0, hi=18, tons=range(8)):
    s = draw(st.text("0123456789", min_size=lo, max_size=hi))
    ton = draw(st.sampled_from(list(tons)))
    return bytes((0x80 | ton << 4 | 1,)) + ber_writer.tbcd(s)


def ts_value(draw):
    t = draw(st.datetimes(dt.datetime(2000, 1, 2), dt.datetime(2099, 12, 30)))
    sign = draw(st.sampled_from(b"+-"))
    oh, om = draw(st.integers(0, 14)), draw(st.sampled_from([0, 30, 45]))
    vals = (t.year % 100, t.month, t.day, t.hour, t.minute, t.second, oh, om)
    bcd = bytes((v // 10) << 4 | v % 10 for v in vals)
    return bcd[:6] + bytes((sign,)) + bcd[6:]


def loc_value(draw):
    v = {"locationAreaCode": draw(st.binary(min_size=2, max_size=2)),
         "cellId": draw(st.binary(min_size=2, max_size=2))}
    if draw(st.booleans()):
        m = draw(st.text("0123456789", min_size=5, max_size=6))
        v["mCC-MNC"] = ber_writer.location(f"{m}-1-1")[-3:]
    return v


EXTRAS = {  # optional fields simbox does not use (must be skipped), with pycrate values
    "mscIncomingTKGP": st.sampled_from([("tkgpName", "trunk-7"), ("tkgpNumber", 12)]),
    "basicService": st.sampled_from([("teleservice", b"\x11"), ("bearerService", b"\x21")]),
    "diagnostics": st.sampled_from([("gsm0408Cause", 16), ("networkSpecificCause", {
        "identifier": (1, 2, 3), "information": ("_unk_004", b"\x04\x01a")})]),
    "systemType": st.sampled_from(["unknown", "iuUTRAN", "gERAN"]),
    "dataVolume": st.integers(0, 2**40),
    "privateUserID": st.text("abcxyz@.", max_size=40),
    "iCSI2ActiveFlag": st.just(0),
    "redial": st.booleans(),
    "sequenceNumber": st.integers(0, 2**31),
    "additionalChgInfo": st.just({"chargeIndicator": 1, "chargeParameters": b"\x01\x02"}),
    "levelOfCAMELService": st.just((5, 3)),
    "recordExtensions": st.lists(st.fixed_dictionaries({
        "identifier": st.just((1, 3, 6, 1, 4, 1, 99)), "significance": st.booleans(),
        "information": st.binary(max_size=300).map(lambda b: ("_unk_004", b"\x04" + bytes((len(b),)) + b
                                                              if len(b) < 128 else
                                                              b"\x04\x82" + len(b).to_bytes(2, "big") + b))}),
        max_size=2),
    "freeFormatData": st.binary(min_size=1, max_size=160),
}
CALL_EXTRAS = ["mscIncomingTKGP", "basicService", "diagnostics", "systemType", "dataVolume",
               "privateUserID", "iCSI2ActiveFlag", "sequenceNumber", "additionalChgInfo",
               "recordExtensions"]
MOC_EXTRAS = CALL_EXTRAS + ["redial", "levelOfCAMELService", "freeFormatData"]


@st.composite
def record(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    opt = lambda: draw(st.booleans())  # noqa: E731
    imsi = ber_writer.tbcd(draw(st.text("0123456789", min_size=15, max_size=15)))
    imei = ber_writer.tbcd(draw(st.text("0123456789", min_size=14, max_size=16))).ljust(8, b"\xff")
    v = {"recordType": {"moCallRecord": 0, "mtCallRecord": 1, "moSMSRecord": 6, "mtSMSRecord": 7}[kind],
         "servedIMSI": imsi, "recordingEntity": b"\x91\x44\x77"}
    if opt():
        v["servedIMEI"] = imei
    if opt():
        v["servedMSISDN"] = bcd_number(draw, 1, 15)
    if opt():
        v["location"] = loc_value(draw)
    if kind in ("moCallRecord", "mtCallRecord"):
        v["callDuration"] = draw(st.integers(0, 172800))
        v["causeForTerm"] = draw(st.integers(0, 2**31))
        v["callReference"] = draw(st.binary(min_size=1, max_size=8))
        for k in draw(st.lists(st.sampled_from(["seizureTime", "answerTime", "releaseTime"]),
                               min_size=1, max_size=3, unique=True)):
            v[k] = ts_value(draw)
        if opt():
            v["calledNumber" if kind == "moCallRecord" else "callingNumber"] = bcd_number(draw)
        if kind == "moCallRecord" and opt():
            v["callingNumber"] = bcd_number(draw)
        if opt():
            v["connectedNumber"] = bcd_number(draw)
        if kind == "moCallRecord" and opt():
            v["changeOfLocation"] = [{"location": loc_value(draw), "changeTime": ts_value(draw)}]
        for k in draw(st.lists(st.sampled_from(MOC_EXTRAS if kind == "moCallRecord" else CALL_EXTRAS),
                               unique=True, max_size=6)):
            v[k] = draw(EXTRAS[k])
    else:
        v["msClassmark"] = b"\x33\x19\xa2"
        v["serviceCentre"] = b"\x91\x44\x77\x58"
        v["originationTime" if kind == "moSMSRecord" else "deliveryTime"] = ts_value(draw)
        if opt():
            v["systemType"] = draw(EXTRAS["systemType"])
        if opt():
            v["recordExtensions"] = draw(EXTRAS["recordExtensions"])
        if kind == "moSMSRecord":
            v["messageReference"] = b"\x07"
            if opt():
                s = draw(st.text("0123456789", min_size=1, max_size=18))
                toa = draw(st.sampled_from([0x81, 0x91, 0xA1]))
                v["destinationNumber"] = bytes((len(s), toa)) + ber_writer.tbcd(s)
        elif opt():
            camel = {"serviceKey": draw(st.integers(0, 2**31 - 1))}
            if opt():
                camel["callingPartyNumber"] = bcd_number(draw)
            v["cAMELSMSInformation"] = camel
    return kind, v


def to_indefinite(b: bytes) -> bytes:
    """The same BER with every constructed value re-encoded with an indefinite length
    and every primitive length in the long form (both valid BER)."""
    out, pos = [], 0
    while pos < len(b):
        start = pos
        pos += 1
        if b[start] & 0x1F == 0x1F:
            while b[pos] & 0x80:
                pos += 1
            pos += 1
        ident = b[start:pos]
        n = b[pos]
        pos += 1
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(b[pos:pos + k], "big")
            pos += k
        content = b[pos:pos + n]
        pos += n
        if b[start] & 0x20:
            out.append(ident + b"\x80" + to_indefinite(content) + b"\x00\x00")
        else:
            out.append(ident + b"\x81" + bytes((n,)) + content if n < 256 else
                       ident + ber_writer.length_octets(n, True) + content)
    return b"".join(out)


def ts32297_file(bodies) -> bytes:
    cdrs = b"".join(struct.pack(">H", len(x)) + ber_writer.CDR_HEADER + x for x in bodies)
    return ber_writer.file_header(54 + len(cdrs), len(bodies), 946771200, 946771200) + cdrs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record(), min_size=1, max_size=6), st.booleans())
def test_random_pycrate_records(recs, indefinite):
    bodies = []
    for kind, v in recs:
        CSRecord.set_val((kind, v))
        b = CSRecord.to_ber()
        bodies.append(to_indefinite(b) if indefinite else b)
    data = ts32297_file(bodies)
    expected = []
    for b in bodies:            # pycrate decodes what is in the file (indefinite too)
        CSRecord.from_ber(b)
        kind, v = CSRecord.get_val()
        expected.append(expected_event(kind, v))
    df, rows, stats = ours(io.BytesIO(data))
    assert stats.rejected_total == 0, stats.rejected
    assert rows == expected
    offsets, off = [], 54
    for b in bodies:
        offsets.append(off)
        off += 5 + len(b)
    assert list(df.offset) == offsets


def test_records_of_other_types_are_counted_and_skipped():
    CSRecord.set_val(("ssActionRecord", {"recordType": 10, "servedIMSI": ber_writer.tbcd("460001234567890"),
                                         "msClassmark": b"\x33", "recordingEntity": b"\x91",
                                         "ssActionTime": ts32297_file([])[:0] + bytes(6) + b"+" + bytes(2),
                                         "callReference": b"\x01"}))
    other = CSRecord.to_ber()
    CSRecord.set_val(("moSMSRecord", {"recordType": 6, "servedIMSI": ber_writer.tbcd("460001234567890"),
                                      "msClassmark": b"\x33", "serviceCentre": b"\x91",
                                      "recordingEntity": b"\x91", "messageReference": b"\x01",
                                      "originationTime": bytes.fromhex("260301120005") + b"+\x00\x00"}))
    sms = CSRecord.to_ber()
    stats = ReadStats()
    rej = RejectsWriter(None)
    batches = list(read_ber_events(io.BytesIO(ts32297_file([other, sms, other])), stats=stats,
                                   rejects=rej))
    assert sum(len(b) for b in batches) == 1
    assert (stats.records, stats.accepted, stats.skipped, stats.rejected_total) == (3, 1, 2, 0)
    assert int(batches[0].time[0]) == int(dt.datetime(2026, 3, 1, 12, 0, 5, tzinfo=dt.timezone.utc).timestamp())
    assert np.all(batches[0].cell == -1)


def test_writer_output_is_valid_ts32298_for_pycrate():
    """simbox's BER writer (simulate --format ber) checked by pycrate, size constraints included."""
    from ber_helpers import ber_bytes, sample_events
    ev = sample_events(300, seed=11)
    data = ber_bytes(ev, utc_offset_minutes=-210)
    got = [expected_event(kind, v) for _, kind, v in pycrate_records(data, 54)]
    want = ev.rename(columns={"start_time": "time", "duration_s": "duration"}).to_dict("records")
    assert got == want
