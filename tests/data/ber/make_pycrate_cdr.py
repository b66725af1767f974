"""Write the BER cross-check file: 10,000 CS records encoded by pycrate, in a TS 32.297 file.

    python tests/data/ber/make_pycrate_cdr.py OUT.cdr [--records 10000] [--seed 2026]

The test session builds it (``tests/fastpath/test_ber_pycrate.py``, fixture
``pycrate_cdr``); it is not committed.  The records are encoded by an independent
encoder, pycrate's TS 32.298 module (``pycrate_asn1dir.CDR``, a test dependency); the
file and CDR headers are packed here with ``struct`` from TS 32.297, not by simbox.
What is inside: moCallRecord, mtCallRecord, moSMSRecord, mtSMSRecord in about equal
numbers; CDR headers ``e0 26 09`` (Rel-16, BER, TS number 6); locations without
MCC-MNC, LAC 4660; times with a ``+0100`` offset; moSMSRecord destinationNumber
values that declare 11 digits but carry 4 (a quirk seen in real files).
"""
from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import random
import struct
import sys

KINDS = ("moCallRecord", "mtCallRecord", "moSMSRecord", "mtSMSRecord")
RECORD_TYPE = {"moCallRecord": 0, "mtCallRecord": 1, "moSMSRecord": 6, "mtSMSRecord": 7}
CDR_HEADER = b"\xe0\x26\x09"       # release 7+9, version 0; data record format 1 (BER), TS 32.298 = 6
EPOCH = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def tbcd(digits: str) -> bytes:
    digits += "f" * (len(digits) % 2)
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def number(digits: str, ton: int = 1) -> bytes:
    """AddressString: extension bit, type of number, ISDN numbering plan; TBCD digits."""
    return bytes((0x80 | ton << 4 | 1,)) + tbcd(digits)


def timestamp(t: dt.datetime) -> bytes:
    """TimeStamp: BCD YYMMDDhhmmss, '+', hhmm (local time at +01:00)."""
    local = t + dt.timedelta(hours=1)
    vals = (local.year % 100, local.month, local.day, local.hour, local.minute, local.second)
    return bytes((v // 10) << 4 | v % 10 for v in vals) + b"+" + b"\x01\x00"


def digits(rng, n):
    return "".join(rng.choice("0123456789") for _ in range(n))


def value(rng: random.Random, kind: str, i: int) -> dict:
    t = EPOCH + dt.timedelta(seconds=i * 7 + rng.randrange(7))
    v = {"recordType": RECORD_TYPE[kind], "servedIMSI": tbcd("46000" + digits(rng, 10)),
         "recordingEntity": b"\x91\x44\x77\x00\x00\x00\x10"}
    if rng.random() < 0.9:
        v["servedIMEI"] = tbcd("35" + digits(rng, 12)).ljust(8, b"\xff")
    if rng.random() < 0.95:
        v["servedMSISDN"] = number("86138" + digits(rng, 8))
    v["location"] = {"locationAreaCode": (4660).to_bytes(2, "big"),
                     "cellId": rng.randrange(1, 65536).to_bytes(2, "big")}
    if kind in ("moCallRecord", "mtCallRecord"):
        dur = rng.choice([0, 0, rng.randrange(1, 3600)])
        v["callReference"] = i.to_bytes(4, "big")
        v["seizureTime"] = timestamp(t)
        v["answerTime"] = timestamp(t + dt.timedelta(seconds=rng.randrange(1, 20)))
        v["releaseTime"] = timestamp(t + dt.timedelta(seconds=30 + dur))
        v["callDuration"] = dur
        v["causeForTerm"] = rng.choice([0, 1, 2, 3, 16])
        other = rng.choice(["10086", "008613912345678", "8613" + digits(rng, 9)])
        v["calledNumber" if kind == "moCallRecord" else "callingNumber"] = number(other)
        if kind == "moCallRecord" and rng.random() < 0.3:
            del v["seizureTime"]
    else:
        v["msClassmark"] = b"\x33\x19\xa2"
        v["serviceCentre"] = b"\x91\x44\x77\x58\x10\x06\x50"
        v["originationTime" if kind == "moSMSRecord" else "deliveryTime"] = timestamp(t)
        if kind == "moSMSRecord":
            v["messageReference"] = bytes((i % 256,))
            v["destinationNumber"] = bytes((11, 0x81)) + tbcd(digits(rng, 4))
        elif rng.random() < 0.8:
            v["cAMELSMSInformation"] = {"serviceKey": 7, "callingPartyNumber":
                                        number("8613" + digits(rng, 9))}
    return v


def file_header(length: int, count: int, when: dt.datetime) -> bytes:
    """TS 32.297 CDR file header (54 octets): lengths, release/version, open and append
    times (month, day, hour, minute, UTC offset), CDR count, sequence number, closure
    reason, node IPv4 address, lost CDRs, no filter, no extension, Rel-16."""
    # time stamp: 4 octets, bits month(4) day(5) hour(5) minute(6), UTC offset sign/hh/mm 0
    stamp = struct.pack(">I", when.month << 28 | when.day << 23 | when.hour << 18 | when.minute << 12)
    h = struct.pack(">IIBB", length, 54, 0xE0, 0xE0) + stamp + stamp
    h += struct.pack(">II", count, 1) + b"\x00" + bytes(10) + b"\xff\xff" + bytes((127, 0, 0, 1))
    h += bytes(4) + b"\x00" + struct.pack(">HH", 0, 0) + b"\x09\x09"
    assert len(h) == 54
    return h


def build(path, records: int = 10_000, seed: int = 2026) -> pathlib.Path:
    """Write the file; returns its path."""
    from pycrate_asn1dir import CDR
    rec = CDR.CSChargingDataTypes.CSRecord
    rng = random.Random(seed)
    kinds = [KINDS[i % 4] for i in range(records)]
    rng.shuffle(kinds)
    cdrs = []
    for i, kind in enumerate(kinds):
        rec.set_val((kind, value(rng, kind, i)))
        body = rec.to_ber()
        cdrs.append(struct.pack(">H", len(body)) + CDR_HEADER + body)
    data = b"".join(cdrs)
    path = pathlib.Path(path)
    path.write_bytes(file_header(54 + len(data), records, EPOCH) + data)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args(argv)
    p = build(a.out, a.records, a.seed)
    print(f"{a.records:,} records -> {p} ({p.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
