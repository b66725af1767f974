"""``simulate(..., format="ber")``: the same network as TS 32.297 BER files, and the same
features from them as from the CSV (end to end, through open_events and compute_features)."""
import numpy as np
import pandas as pd
import pytest

from simbox.data import simulate
from simbox.fastpath import CellDict, EventBatch, ReadStats
from simbox.fastpath.ber import sniff_path
from simbox.fastpath.readers import open_events


@pytest.fixture(scope="module")
def two_formats(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    csv = simulate(400, 3, "mixed", seed=5, out=out / "csv", format="csv")
    ber = simulate(400, 3, "mixed", seed=5, out=out / "ber", format="ber")
    return csv, ber


def test_ber_folder_layout(two_formats):
    _, ber = two_formats
    folder = ber.paths["cdrs"]
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["cdrs-00001.cdr", "data_sessions.csv.gz"]
    assert sniff_path(folder / "cdrs-00001.cdr") == "ts32297"


def test_same_events_as_csv(two_formats):
    csv, ber = two_formats

    def events(path):
        cells, stats = CellDict(), ReadStats()
        b = EventBatch.concat(open_events(str(path), cells=cells, stats=stats))
        df = b.to_pandas(cells)
        key = ["start_time", "imsi", "record_type", "other_party", "duration_s", "cell_id", "imei"]
        return df.sort_values(key, kind="stable").reset_index(drop=True), stats

    a, sa = events(csv.paths["cdrs"])
    b, sb = events(ber.paths["cdrs"])
    assert sa.rejected_total == sb.rejected_total == 0
    assert sa.accepted == sb.accepted == len(csv.network.cdrs)
    pd.testing.assert_frame_equal(a, b)


def test_same_features_as_csv(two_formats):
    from simbox.features import compute_features
    csv, ber = two_formats
    cells = csv.paths["cells"]
    fa = compute_features([csv.paths["cdrs"]], cells=cells, timezone="Asia/Shanghai")
    fb = compute_features([ber.paths["cdrs"]], cells=cells, timezone="Asia/Shanghai")
    pd.testing.assert_frame_equal(fa.features, fb.features)
    pd.testing.assert_frame_equal(fa.sims, fb.sims)
    assert np.array_equal(fa.hours, fb.hours)
    assert (fa.stats.accepted, fa.stats.duplicates) == (fb.stats.accepted, fb.stats.duplicates)


def test_simulate_command_format_ber(tmp_path, capsys):
    from simbox.cli import main
    assert main(["simulate", "--subscribers", "60", "--days", "1", "--seed", "2",
                 "--format", "ber", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "cdrs" / "cdrs-00001.cdr").exists()
    out = tmp_path / "f.csv"
    assert main(["features", str(tmp_path / "cdrs"), "--cells", str(tmp_path / "cells.csv"),
                 "--out", str(out)]) == 0
    assert "0 rejected" in capsys.readouterr().out


def test_scan_same_on_ber_and_csv(two_formats, tmp_path):
    from simbox.cli import main
    csv, ber = two_formats
    for name, res, inp in (("csv", csv, csv.paths["cdrs"]), ("ber", ber, ber.paths["cdrs"])):
        assert main(["scan", str(inp), "--cells", str(res.paths["cells"]), "--tac",
                     str(res.paths["tac"]), "--out", str(tmp_path / name), "--no-report"]) == 0
    for f in ("flagged.csv", "deployments.csv", "sites.csv"):
        assert (tmp_path / "ber" / f).read_bytes() == (tmp_path / "csv" / f).read_bytes(), f
