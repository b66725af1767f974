"""End to end: the shipped sample goes through the feature stage, and the hard
negatives overlap fraud on the project's own (naive) features."""
import pytest

from simbox.data import sample_dir


@pytest.fixture(scope="module")
def feats():
    import pandas as pd
    from simbox.features import compute_features
    d = sample_dir()
    res = compute_features(d / "cdrs.csv.gz", cells=d / "cells.csv", tac=d / "tac.csv",
                           timezone="Asia/Shanghai", workers=1)
    truth = pd.read_csv(d / "truth.csv", dtype=str).set_index("imsi")
    return res, res.features.join(truth, how="left")


def test_sample_passes_the_feature_stage_without_rejects(feats):
    res, f = feats
    assert res.stats.rejected_total == 0
    assert f["class"].notna().all()                 # every SIM with events is in truth.csv
    assert set(f["class"]) == {"legit", "simbox", "cardfarm"}
    assert (res.sims["main_site"] != "").all()     # every cell is in cells.csv


def test_hard_negatives_overlap_fraud_on_single_features(feats):
    _, f = feats
    box = f[f["class"] == "simbox"]
    assert f.loc[f.kind == "call_centre", "moc_callees"].median() > box["moc_callees"].median()
    # within one cell: M2M fleets stand at a few sites each (a handful of fleet places)
    assert f.loc[f.kind == "m2m", "n_cells"].median() <= box["n_cells"].median() + 1
    assert f.loc[f.kind == "dual_sim", "imei_max_imsis"].max() >= 2
    assert f.loc[f["class"] == "cardfarm", "imei_max_imsis"].median() >= 4
    # desk gateways: more callees than a box, several IMSIs on a gateway IMEI, as still
    desk = f[f.kind == "desk_gateway"]
    assert desk["moc_callees"].median() > box["moc_callees"].median()
    assert desk["imei_max_imsis"].max() >= 4
    assert desk["n_cells"].median() <= box["n_cells"].median()
