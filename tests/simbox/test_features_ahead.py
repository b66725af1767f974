"""``simbox scan`` computes the features while pandas is imported (simbox/features_ahead.py):
the same output files, rejects and warnings as the scan computing them itself."""
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import simbox.features_ahead as ahead_module
import simbox.scan as scan_module
from simbox.cli import main
from simbox.features_ahead import FeaturesAhead

SAMPLE = Path(scan_module.__file__).resolve().parent.parent / "data" / "sample"
FILES = ["flagged.csv", "scores.csv", "deployments.csv", "sites.csv", "sites.geojson",
         "sites.kml", "rejects.csv"]
VARYING = ("seconds", "scanned_at", "out")          # summary.json: the run's time and folder


@pytest.fixture(scope="module")
def cdrs(tmp_path_factory):
    """The sample's CDRs with a malformed row and a row on a cell missing from cells.csv."""
    p = tmp_path_factory.mktemp("ahead") / "cdrs.csv"
    with gzip.open(SAMPLE / "cdrs.csv.gz", "rt") as f:
        text = f.read()
    first = text.splitlines()[1].split(",")
    p.write_text(text + "MOC,not-a-time,460001234567890,,,,0,x\n"
                 + ",".join(first[:7] + ["99999-9-9"]) + "\n")
    return p


def argv(cdrs, out):
    return ["scan", str(cdrs), "--cells", str(SAMPLE / "cells.csv"), "--tac",
            str(SAMPLE / "tac.csv"), "--timezone", "UTC", "--no-report", "--no-history",
            "--allow-missing-cells", "--json", "--out", str(out)]


def outputs(out: Path) -> dict:
    files = {f: (out / f).read_bytes() for f in FILES}
    summary = json.loads((out / "summary.json").read_text())
    return dict(files, summary={k: v for k, v in summary.items() if k not in VARYING})


def warnings_of(err: str) -> list:
    return sorted(line for line in err.splitlines() if "WARNING" in line)


@pytest.fixture(scope="module")
def reference(cdrs, tmp_path_factory):
    """The scan computing its features itself (no run ahead started)."""
    out = tmp_path_factory.mktemp("ref") / "out"
    r = subprocess.run([sys.executable, "-c", "import sys, simbox.features_ahead as a; "
                        "a.start = lambda *x, **k: None; from simbox.cli import main; "
                        "sys.exit(main(sys.argv[1:]))", *argv(cdrs, out)],
                       capture_output=True, text=True, env=dict(os.environ, SIMBOX_NO_PROGRESS="1"))
    assert r.returncode == 0, r.stderr
    return outputs(out), warnings_of(r.stderr)


def test_the_command_takes_the_run_ahead_and_writes_the_same(cdrs, reference, tmp_path):
    """A fresh process: pandas is imported by the scan while the run reads."""
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "simbox", *argv(cdrs, out)], capture_output=True,
                       text=True, env=dict(os.environ, SIMBOX_NO_PROGRESS="1"))
    assert r.returncode == 0, r.stderr
    files, warns = reference
    assert outputs(out) == files
    assert warnings_of(r.stderr) == warns
    assert any("not in the cell table" in w for w in warns)       # a warning of the run
    assert b"not-a-time" in files["rejects.csv"]
    assert json.loads(r.stdout)["records"]["rejected"] == 1


def test_the_scan_uses_the_run_ahead_once(cdrs, reference, tmp_path, monkeypatch, capsys):
    taken = []
    get = FeaturesAhead.get
    monkeypatch.setattr(FeaturesAhead, "get", lambda self: taken.append(1) or get(self))
    monkeypatch.setattr(scan_module, "compute", lambda *a, **k: pytest.fail("computed again"))
    assert main(argv(cdrs, tmp_path / "out")) == 0
    capsys.readouterr()
    assert taken == [1] and outputs(tmp_path / "out") == reference[0]
    assert not list(tmp_path.glob("simbox-scan-rejects-*"))


def test_a_run_with_other_options_is_not_taken(cdrs, tmp_path):
    other = FeaturesAhead([str(cdrs)], {"cells": str(SAMPLE / "cells.csv"), "timezone": "Asia/Tokyo"})
    try:
        assert not other.matches([str(cdrs)], {"cells": str(SAMPLE / "cells.csv"),
                                               "timezone": "UTC"})
        assert other.matches([str(cdrs)], {"cells": str(SAMPLE / "cells.csv"),
                                           "timezone": "Asia/Tokyo", "rejects": "r.csv",
                                           "probe_numbers": None})
        res = scan_module.scan([str(cdrs)], cells=SAMPLE / "cells.csv", timezone="UTC",
                               allow_missing_cells=True, history=False, features_ahead=other)
        own = scan_module.scan([str(cdrs)], cells=SAMPLE / "cells.csv", timezone="UTC",
                               allow_missing_cells=True, history=False)
        assert res.scores.equals(own.scores)
    finally:
        other.close()


def test_without_a_time_zone_the_models_is_read_ahead(cdrs, reference, tmp_path, monkeypatch,
                                                      capsys):
    """No --timezone: the run ahead takes the model card's zone (as the scan decides it)
    and is taken; the files are those of the scan with that zone given."""
    from simbox.training.folder import DEFAULT_MODEL
    card = json.loads((DEFAULT_MODEL / "model.json").read_text())
    assert ahead_module.card_timezone() == (card.get("timezone") or "UTC")
    assert ahead_module.card_timezone(DEFAULT_MODEL) == ahead_module.card_timezone()
    if (card.get("timezone") or "UTC") != "UTC":
        pytest.skip("the shipped model's zone is not the reference's UTC")
    taken = []
    get = FeaturesAhead.get
    monkeypatch.setattr(FeaturesAhead, "get", lambda self: taken.append(1) or get(self))
    monkeypatch.setattr(scan_module, "compute", lambda *a, **k: pytest.fail("computed again"))
    args = argv(cdrs, tmp_path / "out")
    i = args.index("--timezone")
    assert main(args[:i] + args[i + 2:]) == 0
    capsys.readouterr()
    got = outputs(tmp_path / "out")
    assert taken == [1]
    assert {f: got[f] for f in FILES} == {f: reference[0][f] for f in FILES}
    assert got["summary"]["timezone_source"].startswith("the model's")


def test_a_model_card_that_cannot_be_read_starts_no_run(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    assert ahead_module.card_timezone(folder) is None                  # no model.json
    assert ahead_module.start(["x.csv"], engine="local", model=folder) is None
    (folder / "model.json").write_text("[1, 2]")
    assert ahead_module.card_timezone(folder) is None                  # not an object
    (folder / "model.json").write_text("{not json")
    assert ahead_module.card_timezone(folder) is None
    (folder / "model.json").write_text('{"timezone": "Asia/Tokyo"}')
    assert ahead_module.card_timezone(folder) == "Asia/Tokyo"
    (folder / "model.json").write_text('{"format": 3}')
    assert ahead_module.card_timezone(folder) == "UTC"                # as model_timezone


def test_no_run_ahead_on_spark_or_without_inputs():
    assert ahead_module.start(["x.csv"], engine="spark", timezone="UTC") is None
    assert ahead_module.start([], engine="local", timezone="UTC") is None
