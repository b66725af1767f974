import logging

import pandas as pd
import pytest

from simbox.errors import EmptyInputError, InputError, ParseError
from simbox.training.labels import expand_labels, load_labels, read_labels

IMSI1, IMSI2, IMSI3 = "460001234567890", "460001234567891", "460001234567892"
IMEI = "356938035643809"


def write(tmp_path, text, name="labels.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_read_labels_imsi_and_imei_rows(tmp_path):
    p = write(tmp_path, f"imsi,imei,label,case_id\n{IMSI1},,simbox,raid-1\n"
                        f",{IMEI},CardFarm,raid-2\n\n")
    df = read_labels(p)
    assert df.to_dict("records") == [
        {"imsi": IMSI1, "imei": "", "label": "simbox", "case_id": "raid-1", "line": 2},
        {"imsi": "", "imei": IMEI, "label": "cardfarm", "case_id": "raid-2", "line": 3}]


def test_read_labels_without_imei_column_and_bom(tmp_path):
    p = tmp_path / "l.csv"
    p.write_bytes(("\ufeffcase_id,label,imsi\nr1,legit," + IMSI1 + "\n").encode())
    assert read_labels(p)[["imsi", "label", "case_id"]].values.tolist() == [[IMSI1, "legit", "r1"]]


@pytest.mark.parametrize("row, msg", [
    (f"{IMSI1},,simbx,r1", "labels.csv:2: field 'label': 'simbx' is not one of simbox, cardfarm, legit"),
    ("46000123,,simbox,r1", "labels.csv:2: field 'imsi': '46000123' has 8 digits, expected 15"),
    ("4600012345678x0,,simbox,r1", "labels.csv:2: field 'imsi': '4600012345678x0' is not a string of digits"),
    (",12345,simbox,r1", "labels.csv:2: field 'imei': '12345' has 5 digits, expected 14 to 16"),
    (f"{IMSI1},,simbox,", "labels.csv:2: field 'case_id': empty case_id (the raid this row comes from)"),
    (",,simbox,r1", "labels.csv:2: field 'imsi': neither imsi nor imei given"),
    (f"{IMSI1},simbox,r1", "labels.csv:2: expected 4 fields, saw 3"),
])
def test_read_labels_bad_rows_exact_messages(tmp_path, row, msg):
    p = write(tmp_path, "imsi,imei,label,case_id\n" + row + "\n")
    with pytest.raises(ParseError) as e:
        read_labels(p)
    assert str(e.value) == str(p.parent / msg)
    assert e.value.line == 2


def test_read_labels_counts_every_bad_row(tmp_path, monkeypatch):
    # a short relative path: the "also ..." part is cut at 300 characters, and a run's
    # temporary folder (pytest-xdist adds one level) must not change the message
    monkeypatch.chdir(tmp_path)
    p = write(tmp_path, f"imsi,imei,label,case_id\n{IMSI1},,x,r1\n{IMSI2},,legit,r1\n{IMSI3},,y,\n")
    p = p.relative_to(tmp_path)
    with pytest.raises(ParseError) as e:
        read_labels(p)
    assert str(e.value) == (
        f"{p}:2: field 'label': 'x' is not one of simbox, cardfarm, legit "
        f"(3 problems in all; also {p}:4: field 'label': 'y' is not one of simbox, cardfarm, "
        f"legit; {p}:4: field 'case_id': empty case_id (the raid this row comes from))")


def test_read_labels_header_problems(tmp_path):
    with pytest.raises(ParseError) as e:
        read_labels(write(tmp_path, "phone,label\n1,simbox\n"))
    assert str(e.value).endswith("labels.csv:1: missing column(s) imsi or imei, case_id "
                                 "(header is phone,label; expected imsi,imei,label,case_id)")
    with pytest.raises(EmptyInputError):
        read_labels(write(tmp_path, ""))
    with pytest.raises(EmptyInputError, match="no label rows"):
        read_labels(write(tmp_path, "imsi,label,case_id\n"))
    with pytest.raises(InputError, match="no such labels file"):
        read_labels(tmp_path / "nope.csv")


def test_imei_rows_label_every_sim_of_the_device(tmp_path):
    p = write(tmp_path, f"imsi,imei,label,case_id\n,{IMEI},simbox,raid-9\n"
                        f",359999999999999,simbox,raid-9\n")
    devices = pd.DataFrame({"imsi": [IMSI1, IMSI2, IMSI3], "imei": [IMEI, IMEI, "351111111111111"],
                            "events": [3, 4, 5]})
    ls = load_labels(p, devices)
    assert ls.sims.index.tolist() == [IMSI1, IMSI2]
    assert set(ls.sims["source"]) == {"imei"}
    assert ls.unseen_imeis["imei"].tolist() == ["359999999999999"]
    assert ls.summary()["from_devices"] == 2


def test_imei_rows_need_devices(tmp_path):
    p = write(tmp_path, f"imsi,imei,label,case_id\n,{IMEI},simbox,r1\n")
    with pytest.raises(InputError, match=r"labels.csv:2: field 'imei': device rows need"):
        load_labels(p, None)


def test_conflicts_reported_and_left_out(tmp_path, caplog):
    p = write(tmp_path, f"imsi,imei,label,case_id\n{IMSI1},,simbox,r1\n,{IMEI},legit,r2\n"
                        f"{IMSI2},,cardfarm,r3\n")
    devices = pd.DataFrame({"imsi": [IMSI1, IMSI3], "imei": [IMEI, IMEI]})
    with caplog.at_level(logging.WARNING):
        ls = load_labels(p, devices)
    assert ls.conflicts.to_dict("records") == [
        {"imsi": IMSI1, "labels": "legit,simbox", "cases": "r1,r2", "lines": "2,3"}]
    assert sorted(ls.sims.index) == [IMSI2, IMSI3]
    assert "1 SIM(s) have conflicting labels" in caplog.text
    assert f"imsi {IMSI1} is legit and simbox at lines 2,3" in caplog.text


def test_cases_sharing_a_sim_become_one_group():
    labels = pd.DataFrame({"imsi": [IMSI1, IMSI1, IMSI2, IMSI3], "imei": [""] * 4,
                           "label": ["simbox"] * 4, "case_id": ["b", "a", "b", "c"],
                           "line": [2, 3, 4, 5]})
    ls = expand_labels(labels)
    assert ls.sims["group"].to_dict() == {IMSI1: "a", IMSI2: "a", IMSI3: "c"}
    assert ls.sims.loc[IMSI1, "case_id"] == "b"
