"""From an unknown export to a scan in three commands (columns detect, columns check, scan),
on every built-in layout; and the one-line failures on bad input, with nothing half-written."""
import json
import logging
import pathlib
import sys

import pytest

from simbox.cli import main

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))
import exports  # noqa: E402

TIMEZONES = {"operator-anon": "Europe/Berlin", "msc-words": "Europe/Berlin",
             "msc-hourly": "Asia/Jakarta", "msc-compact": "Europe/London"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return exports.write_all(tmp_path_factory.mktemp("exports"))


def run(argv, capsys):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("layout", exports.LAYOUTS)
def test_three_commands_from_export_to_scan(files, layout, tmp_path, capsys):
    f = files[layout]
    profile = tmp_path / "profile.json"
    code, out, err = run(["columns", "detect", f, "--timezone", TIMEZONES[layout], "--out",
                          profile, "--no-builtin"], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith(f"{f}: a new layout, confidence ")
    assert "first records as read:" in out
    doc = json.loads(profile.read_text())
    assert doc["timezone"] == TIMEZONES[layout] and doc["detect"]["ambiguities"]
    code, out, err = run(["columns", "check", f, "--columns", profile], capsys)
    assert (code, err) == (0, "")
    skipped, reasons = exports.BROKEN[layout]
    n = exports.EVENTS
    assert f"{n + skipped + sum(reasons.values())} records read, {n} accepted" in out
    scan = tmp_path / "scan"
    code, out, err = run(["scan", f, "--columns", profile, "--timezone", TIMEZONES[layout],
                          "--out", scan], capsys)
    assert (code, err) == (0, "")
    assert out.startswith(f"scanned {exports.SUBSCRIBERS} SIMs ({n} records)")
    assert "no cell table (--cells): each site is one cell, its coordinates are unknown" in out
    summary = json.loads((scan / "summary.json").read_text())
    assert summary["coordinates"] == "unknown" and summary["timezone_source"] == "given"
    assert summary["subscriber_key"] == ({"msisdn": 12} if layout == "operator-anon"
                                         else {"imsi": 12})
    assert (scan / "rejects.csv").read_text().count("\n") == 1 + sum(reasons.values())


def test_scan_warns_when_the_time_zone_is_the_models(files, tmp_path, capsys, caplog):
    from simbox.training.run import DEFAULT_MODEL
    zone = json.loads((DEFAULT_MODEL / "model.json").read_text())["timezone"]   # the default model's
    with caplog.at_level(logging.WARNING):
        code, out, _ = run(["scan", files["operator-anon"], "--columns", "operator-anon",
                            "--out", tmp_path / "s"], capsys)
    assert code == 0
    assert f"no --timezone given: time-of-day features use the model's time zone {zone} " \
           "(model default); give the network's with --timezone" in caplog.text
    assert out.rstrip().split("; ")[-2] == \
        f"time zone {zone}: the model's (no --timezone given)"
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["timezone_source"] == "the model's (no --timezone given)"


def test_total_rejection_exits_1_and_writes_nothing(files, tmp_path, capsys):
    bad = tmp_path / "imsi.json"
    d = json.loads((pathlib.Path(__file__).parents[2] / "fastpath" / "profiles" /
                    "operator-anon.json").read_text())
    d["columns"]["imsi"] = "A_Num"
    d["subscriber_key"] = "imsi"
    bad.write_text(json.dumps(d))
    out = tmp_path / "f.parquet"
    message = (f"{files['operator-anon']}: 338 of 338 records rejected (more than the "
               "--max-reject-share 0.5), no output written: imsi is not 15 digits in 335 of 338 "
               "records: if the export has no IMSI, set subscriber_key in the profile (msisdn, "
               "token or imsi_or_msisdn); wrong field count in 1; unparsable time in 1")
    for argv, cmd in ((["features", files["operator-anon"], "--columns", bad, "--out", out],
                       "features"),
                      (["scan", files["operator-anon"], "--columns", bad, "--timezone", "UTC",
                        "--out", tmp_path / "scan"], "scan"),
                      (["columns", "check", files["operator-anon"], "--columns", bad],
                       "columns")):
        code, stdout, err = run(argv, capsys)
        assert code == 1
        assert err == f"simbox {cmd}: error: {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imsi.json"]


def test_ambiguous_detection_exits_1_without_a_profile(tmp_path, capsys):
    p = tmp_path / "x.csv"
    p.write_text("kind,when,x,y\nMOC,2024-06-03 10:00:00,262014000000001,262014000000002\n")
    code, out, err = run(["columns", "detect", p, "--out", tmp_path / "p.json"], capsys)
    assert (code, out) == (1, "")
    assert err == (f"simbox columns: error: {p}: cannot tell which column holds the imsi: x, y "
                   "all fit; write the profile by hand (docs/input-formats.md)\n")
    assert not (tmp_path / "p.json").exists()


def test_profile_naming_a_missing_column_exits_1(files, tmp_path, capsys):
    d = json.loads((pathlib.Path(__file__).parents[2] / "fastpath" / "profiles" /
                    "msc-compact.json").read_text())
    d["columns"]["cell_id"] = ["LAC", "CELL_ID"]
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps(d))
    code, out, err = run(["features", files["msc-compact"], "--columns", bad, "--out",
                          tmp_path / "f.csv"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"simbox features: error: {files['msc-compact']}: the header lacks "
                          "column(s) CELL_ID required by column profile 'msc-compact' (header: ")
    assert err.count("\n") == 1
    assert sorted(x.name for x in tmp_path.iterdir()) == ["p.json"]
