"""Golden files: compute_features on small CDR files against the expected table."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from simbox.cli import main
from simbox.errors import InputError
from simbox.features import REGISTRY, compute_features

from test_features_vs_reference import assert_frames_match


@pytest.fixture
def gold(datadir):
    d = datadir / "features"
    return {"cdr": [d / "day1.csv", d / "day2.csv"], "cells": d / "cells.csv", "tac": d / "tac.csv",
            "expected": d / "expected_features.csv"}


def expected(gold):
    df = pd.read_csv(gold["expected"], dtype={"imsi": str}).set_index("imsi")
    return df


def run(gold, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = compute_features(gold["cdr"], cells=gold["cells"], tac=gold["tac"],
                               timezone="Asia/Shanghai", **kw)
    return res, [str(x.message) for x in w]


@pytest.mark.parametrize("workers", [1, 2])
def test_golden_features(gold, workers):
    res, warns = run(gold, workers=workers)
    assert_frames_match(res.features, expected(gold))
    assert res.stats.duplicates == 1 and res.stats.records == 20 and res.stats.accepted == 20
    assert warns == ["1 cell(s) of the input are not in cells.csv (e.g. 26201-9-99): each is "
                     "counted as its own site, without coordinates"]


def test_golden_values_by_hand(gold):
    f = run(gold)[0].features
    a = f.loc["460001234567801"]
    assert (a.n_moc, a.moc_callees, a.moc_callee_ratio, a.moc_repeat_share) == (4, 3, 0.75, 1 / 3)
    assert (a.moc_intl_share, a.moc_night_share, a.moc_gap_median, a.moc_gap_lt30_share) == (1, 1, 21, 1)
    assert (a.moc_max_per_hour, a.imei_max_imsis, a.device_not_phone) == (4, 3, 1)
    assert (a.imsi_neighbours, a.msisdn_neighbours) == (2, 2)
    d = f.loc["460001234567900"]
    assert (d.n_moc, d.n_mtc, d.n_sms_mt, d.sms_mt_short_share) == (4, 2, 2, 0.5)
    assert (d.n_imeis, d.imei_changes, d.moc_gap_median, d.moc_gap_lt30_share) == (2, 1, 60, 1 / 3)
    assert (d.device_not_phone, d.imsi_neighbours, d.moc_intl_share) == (0, 0, 0)
    # 8613900000001, called at 07:59 and 08:00 UTC, calls back at 09:30; 8613900000005 is
    # never called.  Local (Asia/Shanghai) 2026-03-01 is a Sunday: three MOC on Sunday
    # afternoon, one on Monday at 17:00
    assert (d.mtc_callback_share, d.moc_called_back_share, d.in_intl_share) == (0.5, 0.5, 0)
    assert d.mtc_zero_share == 0.5          # the call from ...05 (0 s) was not answered, ...01's was
    assert (d.moc_weekend_share, d.moc_office_share, d.moc_evening_share) == (0.75, 0.25, 0)
    assert (a.moc_weekend_share, a.moc_office_share, a.moc_called_back_share) == (0, 0, 0)
    assert np.isnan(a.mtc_callback_share) and np.isnan(a.in_intl_share)      # nothing received
    assert np.isnan(a.mtc_zero_share)
    # per active day among the four SIMs with calls: MOC 4, 2, 2, 2 (d: 4 over 2 days)
    assert (a.moc_per_day_pct, d.moc_per_day_pct, d.callees_per_day_pct) == (1, 0.5, 0.25)
    e = f.loc["262019876543210"]
    assert (e.n_events, e.n_data, e.n_sites, e.n_cells) == (1, 1, 1, 1)
    assert np.isnan(e.moc_per_day_pct) and np.isnan(e.in_intl_share)
    assert np.isnan(e.gyration_km) and np.isnan(e.device_not_phone)


def test_golden_side_tables(gold):
    res = run(gold)[0]
    s = res.sims.loc["460001234567801"]
    assert (s.msisdn, s.main_imei, s.main_tac, s.device_type) == ("8613800000101", "86753090000011", "86753090", "Modem")
    assert (s.main_cell, s.main_site, s.n_events) == ("46000-1-11", "S1", 4)
    assert s.first_seen == pd.Timestamp("2026-03-01T16:00:05Z")
    e = res.sims.loc["262019876543210"]
    assert (e.main_imei, e.main_tac, e.device_type, e.main_site) == ("", "", "", "26201-9-99")
    assert list(res.sims.index) == list(res.features.index)
    d = res.devices[res.devices.imsi == "460001234567900"]
    assert list(d.imei) == ["35693803123456", "35693803123457"] and list(d.events) == [8, 1]
    c = res.cells[res.cells.imsi == "460001234567900"]
    assert list(c.cell_id) == ["46000-2-21", "46000-2-22"] and list(c.events) == [6, 4]
    assert res.hours.shape == (5, 24) and res.hours.sum() == 19
    assert res.hours[list(res.features.index).index("460001234567801"), 0] == 4   # 00:xx local
    assert res.timezone == "Asia/Shanghai" and res.seconds > 0


def test_features_command_golden(gold, tmp_path, capsys):
    out = tmp_path / "f.parquet"
    args = ["features", *map(str, gold["cdr"]), "--cells", str(gold["cells"]), "--tac", str(gold["tac"]),
            "--timezone", "Asia/Shanghai", "--out", str(out)]
    assert main(args) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{out}: 5 IMSIs x {len(REGISTRY)} features from 2 file(s), 20 records read, "
                           "20 accepted, 0 rejected, 1 duplicates dropped, in ")
    got = pd.read_parquet(out).set_index("imsi")
    assert_frames_match(got, expected(gold))
    assert not (tmp_path / "f.parquet.rejects.csv").exists()
    csv = tmp_path / "f.csv"
    assert main(args[:-1] + [str(csv), "--json", "--workers", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["imsis"], summary["records"], summary["duplicates"], summary["rejected"]) == (5, 20, 1, 0)
    got = pd.read_csv(csv, dtype={"imsi": str}).set_index("imsi")
    assert_frames_match(got, expected(gold))


def test_features_command_rejects_and_errors(datadir, tmp_path, capsys):
    bad = datadir / "csv" / "bad_rows.csv"
    out = tmp_path / "f.csv"
    # 11 of its 16 records are bad: over the default --max-reject-share 0.5
    assert main(["features", str(bad), "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"simbox features: error: {bad}: 11 of 16 records rejected (more than the "
        "--max-reject-share 0.5), no output written: wrong field count in 2 of 16 records: "
        "check the separator and quote of the profile; not UTF-8 in 1; unparsable time in 1\n")
    assert not out.exists() and not (tmp_path / "f.csv.rejects.csv").exists()
    assert main(["features", str(bad), "--out", str(out), "--max-reject-share", "1"]) == 0
    line = capsys.readouterr().out
    assert "rejected" in line and f"rejects in {out}.rejects.csv" in line
    assert (tmp_path / "f.csv.rejects.csv").exists()
    assert main(["features", str(bad), "--out", str(out), "--on-bad-records", "error"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("simbox features: error: ") and "bad_rows.csv:3" in err
    assert main(["features", str(bad), "--out", str(tmp_path / "f.txt")]) == 1
    assert capsys.readouterr().err.strip() == \
        f"simbox features: error: --out {tmp_path / 'f.txt'}: give a .parquet or .csv file name"
    assert main(["features", "--out", str(out)]) == 1
    assert "give at least one CDR file or --signaling capture (or --list)" in capsys.readouterr().err
    assert main(["features", str(bad), "--out", str(out), "--timezone", "Mars/Base"]) == 1
    assert "unknown time zone 'Mars/Base'" in capsys.readouterr().err
    assert main(["features", str(bad), "--out", str(out), "--memory-limit", "lots"]) == 1
    assert "memory limit 'lots' is not a size" in capsys.readouterr().err


def test_cells_and_tac_errors(gold, tmp_path):
    bad = tmp_path / "cells.csv"
    bad.write_text("cell_id,site_id,lat,lon\nA,S1,31.2,121.4\nB,S1,95.0,121.4\n")
    with pytest.raises(InputError, match=r"cells.csv:3: field 'lat': '95.0' is not a latitude in \[-90, 90\]"):
        compute_features(gold["cdr"], cells=bad)
    bad.write_text("cell,site_id,lat,lon\nA,S1,31.2,121.4\n")
    with pytest.raises(InputError, match=r"cells lacks column\(s\) cell_id \(header must include "
                                         r"cell_id,site_id,lat,lon"):
        compute_features(gold["cdr"], cells=bad)
    bad.write_text("cell_id,site_id,lat,lon\nA,S1,31.2,121.4\nA,S2,31.2,121.4\n")
    with pytest.raises(InputError, match="cells.csv:3: field 'cell_id': 'A' is listed twice"):
        compute_features(gold["cdr"], cells=bad)
    tac = tmp_path / "tac.csv"
    tac.write_text("tac,device_type\n1234,Modem\n")
    with pytest.raises(InputError, match="tac.csv:2: field 'tac': '1234' is not 8 digits"):
        compute_features(gold["cdr"], tac=tac)
    with pytest.raises(InputError, match="nothere.csv: cells file not found"):
        compute_features(gold["cdr"], cells=tmp_path / "nothere.csv")


def test_side_tables_are_built_once_on_first_use(gold):
    res = run(gold)[0]
    assert callable(res.tables)                 # nothing built for the feature table alone
    sims = res.sims
    assert not callable(res.tables)
    assert res.sims is sims and res.cells is res.cells and res.devices is res.devices
    assert list(sims.index) == list(res.features.index) and res.hours.shape == (len(sims), 24)
