"""exclusions.csv: reading, the one-line errors, matching each kind, expiry."""
import datetime as dt

import pandas as pd
import pytest

from simbox.errors import ParseError
from simbox.feedback.exclusions import (EXCLUDED_COLUMNS, match_exclusions, read_exclusions,
                                        split_flagged)

HEADER = "kind,value,reason,owner,expires\n"


def write(tmp_path, body, name="exclusions.csv"):
    p = tmp_path / name
    p.write_text(HEADER + body, encoding="utf-8")
    return p


SIMS = pd.DataFrame({
    "msisdn": ["8613800000001", "8613800000002", "8613900000050", "8613900000099",
               "861390000010", "8615000000000"],
    "imei": ["350000000000011", "350000000000011", "", "", "", "351111111111111"]},
    index=pd.Index(["460000000000001", "460000000000002", "460000000000003", "460000000000004",
                    "460000000000005", "460000000000006"], name="imsi"))


def reference(sims, rules, devices):
    """Which rule (its line) each SIM hits, by plain loops: the first in the file."""
    out = {}
    for imsi, row in sims.iterrows():
        for line, kind, value in rules:
            m = row["msisdn"]
            if kind == "imsi":
                hit = imsi == value
            elif kind == "msisdn":
                hit = m == value
            elif kind == "prefix":
                hit = m.startswith(value)
            elif kind == "range":
                lo, hi = value.split("-")
                hit = len(m) == len(lo) and int(lo) <= int(m) <= int(hi)
            else:
                hit = any(d == (imsi, value) for d in devices)
            if hit:
                out[imsi] = line
                break
    return out


def test_each_kind_matches_as_documented(tmp_path):
    path = write(tmp_path, "imsi,460000000000006,test SIM,noc,\n"
                           "range,8613900000000-8613900000060,hotel block,sales,2099-12-31\n"
                           "imei,351111111111111,lab phone,noc,\n"
                           "prefix,86138,business customer,sales,\n"
                           "msisdn,8613900000099,taxi company,sales,\n")
    ex = read_exclusions(path, today="2026-03-01")
    assert [e.line for e in ex.active] == [2, 3, 4, 5, 6] and ex.expired == []
    devices = [("460000000000006", "351111111111111"), ("460000000000004", "351111111111111")]
    dev = pd.DataFrame(devices, columns=["imsi", "imei"])
    got = match_exclusions(SIMS, ex, dev)
    rules = [(e.line, e.kind, e.value) for e in ex.active]
    assert got["exclusion_line"].to_dict() == reference(SIMS, rules, devices)
    # the range is numeric over equal lengths: 12 digits "861390000010" is outside
    assert "460000000000005" not in got.index
    # the device exclusion covers every SIM seen on it (the devices table), first rule wins
    assert got.loc["460000000000004", "excluded_by"] == "imei:351111111111111"
    assert got.loc["460000000000006", "excluded_by"] == "imsi:460000000000006"
    assert list(got.columns) == EXCLUDED_COLUMNS


def test_expired_exclusions_stop_applying_and_are_reported(tmp_path):
    path = write(tmp_path, "msisdn,8613800000001,old contract,sales,2026-02-28\n"
                           "msisdn,8613800000002,renewed,sales,2026-03-01\n")
    ex = read_exclusions(path, today=dt.date(2026, 3, 1))
    assert [e.line for e in ex.expired] == [2] and [e.line for e in ex.active] == [3]
    got = match_exclusions(SIMS, ex)
    assert list(got.index) == ["460000000000002"]    # expires today: still applies
    s = ex.summary({3: 1})
    assert s["expired_rows"][0] == {"line": 2, "kind": "msisdn", "value": "8613800000001",
                                    "reason": "old contract", "owner": "sales",
                                    "expires": "2026-02-28"}
    assert s["unused_rows"] == []


@pytest.mark.parametrize("row, message", [
    ("imsis,1,x,y,", "exclusions.csv:2: field 'kind': 'imsis' is not one of imsi, msisdn, "
                     "imei, prefix, range"),
    ("range,200-199,x,y,", "exclusions.csv:2: field 'value': '200-199': FROM is after TO"),
    ("range,100-1000,x,y,", "exclusions.csv:2: field 'value': '100-1000': FROM and TO have "
                            "different lengths"),
    ("prefix,86-1,x,y,", "exclusions.csv:2: field 'value': '86-1' is not a string of digits"),
    ("msisdn,8613800000001,,y,", "exclusions.csv:2: field 'reason': empty reason (every "
                                 "exclusion says why and who owns it)"),
    ("msisdn,8613800000001,x,y,31/12/2026", "exclusions.csv:2: field 'expires': '31/12/2026' "
                                            "is not an ISO date (YYYY-MM-DD) nor empty"),
    ("msisdn,8613800000001,x", "exclusions.csv:2: expected 5 fields, saw 3"),
])
def test_a_malformed_row_is_one_line_naming_it(tmp_path, row, message):
    path = write(tmp_path, row + "\n")
    with pytest.raises(ParseError) as e:
        read_exclusions(path, today="2026-03-01")
    assert str(e.value) == str(tmp_path / message)
    assert "\n" not in str(e.value)


def test_several_bad_rows_name_the_first_and_count_all(tmp_path):
    path = write(tmp_path, "imsi,460000000000001,ok,me,\nfoo,1,x,y,\nprefix,,x,y,\n")
    with pytest.raises(ParseError) as e:
        read_exclusions(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}:3: field 'kind': 'foo' is not one of")
    assert "2 problems in all; also " in msg and f"{path}:4: field 'value': empty value" in msg


def test_missing_columns(tmp_path):
    p = tmp_path / "ex.csv"
    p.write_text("kind,value\nimsi,1\n")
    with pytest.raises(ParseError) as e:
        read_exclusions(p)
    assert str(e.value) == (f"{p}:1: missing column(s) reason, owner, expires (header is "
                            "kind,value; expected kind,value,reason,owner,expires)")


def test_split_flagged_keeps_every_column():
    flagged = pd.DataFrame({"imsi": ["1", "2", "3"], "msisdn": ["a", "b", "c"],
                            "score": [0.9, 0.8, 0.7]})
    matched = pd.DataFrame({c: ["x"] for c in EXCLUDED_COLUMNS}, index=pd.Index(["2"]))
    kept, excluded = split_flagged(flagged, matched)
    assert list(kept["imsi"]) == ["1", "3"]
    assert list(excluded.columns) == ["imsi", "msisdn", "score"] + EXCLUDED_COLUMNS
    assert excluded["imsi"].tolist() == ["2"]
