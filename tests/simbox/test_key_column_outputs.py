"""The key column of the outputs: ``imsi`` when every subscriber key is an IMSI, else
``subscriber`` with each row's kind in ``subscriber_key`` (features table, flagged.csv,
scores.csv, summary, report), on the built-in export layouts of tests/exports.py."""
import csv
import json
import pathlib
import sys

import pandas as pd
import pytest

import simbox.data
import simbox.fastpath
from simbox.features import compute_features, write_table
from simbox.scan import scan

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))
import exports  # noqa: E402

TIMEZONES = {"operator-anon": "Europe/Berlin", "msc-words": "Europe/Berlin",
             "msc-hourly": "Asia/Jakarta", "msc-compact": "Europe/London"}
ROWS = exports.base_events()
IMSIS = {r["imsi"] for r in ROWS}          # the reference: what the exports were written from
MSISDNS = {r["msisdn"] for r in ROWS}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    out = exports.write_all(folder)
    out["canonical"] = str(folder / "canonical.csv")
    exports.write_canonical(ROWS, out["canonical"])
    return out


def header_and_rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def scans(files, tmp_path_factory):
    out = {}
    for layout in ("operator-anon", "canonical"):
        folder = tmp_path_factory.mktemp("scan") / layout
        # a threshold of its own: this checks how outputs name the key, not what a
        # model flags on a dozen toy subscribers; a tiny threshold flags every one
        # with a score above 0, whatever the shipped model
        scan(files[layout], columns=layout, timezone=TIMEZONES.get(layout, "UTC"), out=folder,
             threshold=1e-12)
        out[layout] = folder
    return out


@pytest.mark.parametrize("name", ["flagged.csv", "scores.csv"])
def test_msisdn_keyed_scan_names_the_key_column_subscriber(scans, name):
    header, rows = header_and_rows(scans["operator-anon"] / name)
    assert header[0] == "subscriber" and header[-1] == "subscriber_key"
    assert "imsi" not in header
    assert rows, name
    assert {r[0] for r in rows} <= MSISDNS and {r[-1] for r in rows} == {"msisdn"}
    if name == "scores.csv":          # every subscriber of the export, once
        assert {r[0] for r in rows} == MSISDNS


def test_msisdn_keyed_scan_says_which_key_in_summary_and_report(scans):
    folder = scans["operator-anon"]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["key_column"] == "subscriber"
    assert summary["subscriber_key"] == {"msisdn": len(MSISDNS)}
    html = (folder / "report.html").read_text()
    assert ("The subscriber key is not the IMSI for every SIM: MSISDN (12). The tables, "
            "<code>flagged.csv</code> and <code>scores.csv</code> name the key column "
            "<code>subscriber</code>") in html
    flagged_table = html[html.index('id="flagged"'):]
    assert "<th>subscriber</th>" in flagged_table.replace(' class="num"', "")
    assert "<th>imsi</th>" not in flagged_table


@pytest.mark.parametrize("name", ["flagged.csv", "scores.csv"])
def test_imsi_keyed_scan_keeps_imsi(scans, name):
    header, rows = header_and_rows(scans["canonical"] / name)
    assert header[0] == "imsi" and "subscriber_key" not in header and "subscriber" not in header
    assert {r[0] for r in rows} <= IMSIS
    summary = json.loads((scans["canonical"] / "summary.json").read_text())
    assert "key_column" not in summary and summary["subscriber_key"] == {"imsi": len(IMSIS)}
    assert "The subscriber key is not the IMSI" not in \
        (scans["canonical"] / "report.html").read_text()


@pytest.mark.parametrize("layout", ["canonical", *exports.LAYOUTS])
@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_features_table_key_column(files, layout, ext, tmp_path):
    res = compute_features(files[layout], columns=layout, timezone=TIMEZONES.get(layout, "UTC"))
    path = write_table(res, tmp_path / f"f.{ext}")
    df = pd.read_csv(path, dtype=str) if ext == "csv" else pd.read_parquet(path)
    if layout == "operator-anon":       # no IMSI column in the export: the MSISDN is the key
        assert list(df.columns[:2]) == ["subscriber", "subscriber_key"]
        assert set(df["subscriber"]) == MSISDNS and set(df["subscriber_key"]) == {"msisdn"}
    else:
        assert df.columns[0] == "imsi" and "subscriber_key" not in df.columns
        assert set(df["imsi"]) == IMSIS
    assert res.features.index.name == "imsi"        # inside, the name stays


def test_mixed_keys_name_each_rows_kind(tmp_path):
    """imsi_or_msisdn with the IMSI missing on some records: both kinds under ``subscriber``."""
    path = tmp_path / "words.csv"
    path.write_text(exports.msc_words(ROWS, False, drop_imsi_every=5), encoding="utf-8")
    res = compute_features(path, columns="msc-words", timezone="Europe/Berlin")
    write_table(res, tmp_path / "f.csv")
    header, rows = header_and_rows(tmp_path / "f.csv")
    assert header[:2] == ["subscriber", "subscriber_key"]
    kinds = {r[1] for r in rows}
    assert kinds == {"imsi", "msisdn"}
    for key, kind, *_ in rows:
        assert key in (IMSIS if kind == "imsi" else MSISDNS)


def test_number_blocks_of_subscriber_keys_are_named_so(tmp_path):
    """The sample network keyed by MSISDN: the links of neighbouring keys are a
    ``subscriber block`` in deployments.csv and the report (``imsi block`` keyed by IMSI)."""
    sample = pathlib.Path(simbox.data.__file__).parent / "sample"
    profile = json.loads((pathlib.Path(simbox.fastpath.__file__).parent / "profiles"
                          / "canonical.json").read_text())
    profile.update(name="canonical-msisdn", subscriber_key="msisdn")
    (tmp_path / "profile.json").write_text(json.dumps(profile))
    linked = {}
    for columns in ("canonical", tmp_path / "profile.json"):
        out = tmp_path / ("imsi" if columns == "canonical" else "msisdn")
        scan(sample / "cdrs.csv.gz", cells=sample / "cells.csv", columns=columns,
             timezone="UTC", out=out)
        linked[out.name] = " ".join(pd.read_csv(out / "deployments.csv")["linked_by"].fillna(""))
        linked[out.name + " report"] = (out / "report.html").read_text()
    assert "imsi block" in linked["imsi"] and "subscriber block" not in linked["imsi"]
    assert "subscriber block" in linked["msisdn"] and "imsi block" not in linked["msisdn"]
    assert "handover, subscriber block, msisdn block)" in linked["msisdn report"]
    assert "imsi block" not in linked["msisdn report"]


@pytest.mark.parametrize("layout, key", [("operator-anon", "subscriber"), ("canonical", "imsi")])
def test_features_command_says_the_key_column(files, tmp_path, capsys, layout, key):
    from simbox.cli import main
    out = tmp_path / "f.csv"
    assert main(["features", files[layout], "--columns", layout, "--timezone", "UTC",
                 "--out", str(out), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said.get("key_column", "imsi") == key and ("key_column" in said) == (key != "imsi")
    assert header_and_rows(out)[0][0] == key
