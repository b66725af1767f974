"""Every file the simulator writes follows the contracts of DESIGN.md (strict check)."""
import csv
import gzip
import re

import pytest

from simbox.data import simulate
from simbox.data.kinds import CLASSES, KIND_BY_NAME

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DIGITS = re.compile(r"^\d+$")
CDR_COLUMNS = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party",
               "duration_s", "cell_id"]


def check_cdr_row(row, cells):
    """Reasons a row breaks the canonical CDR contract (empty list = valid)."""
    bad = []
    if len(row) != 8:
        return [f"expected 8 fields, saw {len(row)}"]
    rt, t, imsi, imei, msisdn, other, dur, cell = row
    if rt not in ("MOC", "MTC", "SMS_MO", "SMS_MT", "DATA"):
        bad.append("record_type")
    if not TIME.match(t):
        bad.append("start_time")
    if not (DIGITS.match(imsi) and len(imsi) == 15):
        bad.append("imsi")
    if imei and not (DIGITS.match(imei) and 14 <= len(imei) <= 16):
        bad.append("imei")
    if not (DIGITS.match(msisdn) and 8 <= len(msisdn) <= 15):
        bad.append("msisdn")
    if rt == "DATA":
        if other:
            bad.append("other_party")
    elif not (DIGITS.match(other) and 3 <= len(other) <= 18):
        bad.append("other_party")
    if not DIGITS.match(dur):
        bad.append("duration_s")
    elif rt.startswith("SMS") and dur != "0":
        bad.append("duration_s")
    if cell not in cells:
        bad.append("cell_id")
    return bad


@pytest.fixture(scope="module")
def written(tmp_path_factory, small):
    out = tmp_path_factory.mktemp("sim")
    res = simulate(3000, 2, "mixed", 4, out, config=small)
    return res, out


def test_cdrs_follow_the_contract(written):
    res, out = written
    with open(out / "cells.csv", newline="") as f:
        cells = {r["cell_id"] for r in csv.DictReader(f)}
    with gzip.open(out / "cdrs.csv.gz", "rt", newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        assert next(reader) == CDR_COLUMNS
        rejected = []
        n = 0
        last = ""
        for line, row in enumerate(reader, start=2):
            n += 1
            bad = check_cdr_row(row, cells)
            if bad:
                rejected.append((line, bad))
            assert row[1] >= last, f"line {line}: not sorted by time"
            last = row[1]
    assert rejected == []
    assert n == len(res.network.cdrs) > 10_000


def test_reference_tables(written):
    res, out = written
    with open(out / "cells.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["cell_id", "site_id", "lat", "lon", "azimuth"]
    for r in rows:
        assert re.match(r"^46000-\d+-\d+$", r["cell_id"])
        assert -90 <= float(r["lat"]) <= 90 and -180 <= float(r["lon"]) <= 180
        assert 0 <= int(r["azimuth"]) < 360
    assert len({r["cell_id"] for r in rows}) == len(rows)
    with open(out / "tac.csv", newline="") as f:
        tac = list(csv.DictReader(f))
    assert list(tac[0]) == ["tac", "device_type"]
    assert all(len(r["tac"]) == 8 and r["tac"].isdigit() for r in tac)
    with open(out / "truth.csv", newline="") as f:
        truth = list(csv.DictReader(f))
    assert list(truth[0]) == ["imsi", "class", "deployment_id", "kind"]
    for r in truth:
        assert r["class"] in CLASSES
        assert KIND_BY_NAME[r["kind"]].cls == r["class"]
        assert (r["deployment_id"] == "") == (r["class"] == "legit")
    assert len({r["imsi"] for r in truth}) == len(truth) == 3000
    with open(out / "labels.csv", newline="") as f:
        labels = list(csv.DictReader(f))
    assert list(labels[0]) == ["imsi", "imei", "label", "case_id"]
    for r in labels:
        assert (r["imsi"] == "") != (r["imei"] == "")
        assert r["label"] in CLASSES and r["case_id"].startswith("CASE-")


def test_every_imei_is_valid_luhn(written):
    res, _ = written
    from simbox.fastpath.events import decode_digits
    import numpy as np
    for code in np.unique(res.network.cdrs.imei)[:2000]:
        if code == 0:
            continue
        s = decode_digits(code)
        digits = [int(c) for c in s]
        total = 0
        for i, d in enumerate(reversed(digits)):
            if i % 2 == 1:
                d = d * 2 - 9 if d * 2 > 9 else d * 2
            total += d
        assert total % 10 == 0, s
