"""The young hold of a scan (simbox/scan.py ``young_held``): the model's SIM-box flags of SIMs
first seen within 48 h of the scan's end, scored under the card's young-SIM threshold, with the
sign that an office may be there (it, or a SIM on a device of its kind that started at its
site within 12 h, was called by a number it had not called), go to excluded.csv, not the
shutdown list.  Checked against a slow pure-Python reference of that rule."""
import pathlib
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from simbox.cli import main
from simbox.features import compute_features
from simbox.scan import assemble, scan, young_held
from simbox.sites import load_cells

SAMPLE = pathlib.Path(__file__).parents[2] / "data" / "sample"
FILES = dict(cells=str(SAMPLE / "cells.csv"), tac=str(SAMPLE / "tac.csv"), timezone="UTC")
HOURS = 48 * 3600
PEER = 12 * 3600


def reference_held(features: pd.DataFrame, sites: pd.Series, flagged, score, end, young,
                   rule=(), cls=None) -> set:
    """The held SIMs, one by one in plain Python (``cls``: the flagged class, default every
    SIM a SIM box)."""
    keys = list(features.index)
    f = features
    called = {}
    for k in keys:
        share = f.at[k, "mtc_callback_share"]
        share = 0.0 if share != share else share
        n = f.at[k, "n_mtc"]
        called[k] = round((0.0 if n != n else n) * (1.0 - share)) >= 1
    held = set()
    for k in keys:
        if not flagged[k] or score[k] >= young or k in rule or \
                f.at[k, "first_seen"] < end - HOURS or (cls or {}).get(k, "simbox") != "simbox":
            continue
        evidence = called[k]
        site = sites.get(k, "")
        if not evidence and site:
            own = f.at[k, "device_not_phone"]
            mine = (own if own == own else 0) >= 0.5
            for j in keys:
                dnp = f.at[j, "device_not_phone"]
                if j != k and sites.get(j, "") == site and called[j] and \
                        abs(f.at[j, "first_seen"] - f.at[k, "first_seen"]) <= PEER and \
                        ((dnp if dnp == dnp else 0) >= 0.5) == mine:
                    evidence = True
                    break
        if evidence:
            held.add(k)
    return held


@pytest.fixture(scope="module")
def sample_run():
    res = compute_features([str(SAMPLE / "cdrs.csv.gz")], **FILES)
    return res, load_cells(FILES["cells"])


def test_assemble_holds_the_young_flags_with_an_office_sign(sample_run):
    """Every SIM of the sample first seen in its last 72 h flagged at 0.5 (people and
    fraud alike), the young threshold 0.99: the held ones are the reference's."""
    res, cells = sample_run
    f = res.features
    end = pd.Timestamp(f["last_seen"].max(), unit="s", tz="UTC")
    late = f["first_seen"].to_numpy(float) >= end.timestamp() - 72 * 3600
    preds = pd.DataFrame({"score": np.where(late, 0.5, 0.01), "class": "legit",
                          "score_simbox": np.where(late, 0.5, 0.01), "score_cardfarm": 0.0},
                         index=f.index)
    preds["flagged"] = late
    r = assemble(res, preds, cells, threshold=0.4, young_threshold=0.99)
    sites = res.sims["main_site"].astype(str)
    want = reference_held(f, sites, dict(zip(f.index, late)),
                          dict(zip(f.index, preds["score"])),
                          pd.Timestamp(r.summary["last_seen"]).timestamp(), 0.99)
    ex = r.excluded
    got = set(ex.loc[ex["excluded_by"] == "young", "imsi"])
    assert got == want
    assert 5 <= len(want) < int(late.sum())        # some held, some young SIMs without a sign
    assert set(r.flagged["imsi"]) == set(f.index[late]) - want
    assert r.summary["held_young"] == len(want) and r.summary["young_threshold"] == 0.99
    row = ex.set_index("imsi").loc[sorted(want)[0]]
    assert row["exclusion_reason"].startswith("first seen ")
    assert "called by people" in row["exclusion_reason"]
    assert pd.Timestamp(row["exclusion_expires"]) == \
        (pd.Timestamp(row["first_seen"]) + pd.Timedelta(hours=48)).floor("s")
    # without a young threshold (a given threshold, --no-young-hold, simbox watch): none
    r0 = assemble(res, preds, cells, threshold=0.4)
    assert r0.excluded is None and len(r0.flagged) == int(late.sum())


def test_the_shipped_model_holds_none_of_the_sample():
    """The sample's young fraud is called by nobody (no office sign): nothing held."""
    r = scan([str(SAMPLE / "cdrs.csv.gz")], history=False, **FILES)
    assert r.excluded is None and "held_young" not in r.summary


def test_cli_turns_it_off(tmp_path, capsys):
    args = ["scan", str(SAMPLE / "cdrs.csv.gz"), "--cells", FILES["cells"], "--tac",
            FILES["tac"], "--timezone", "UTC", "--no-history", "--no-report"]
    assert main(args + ["--no-young-hold", "--out", str(tmp_path / "b")]) == 0
    assert "held under" not in capsys.readouterr().out
    assert not (tmp_path / "b" / "excluded.csv").exists()


def test_young_held_leaves_old_sims_high_scores_quiet_sims_and_the_device_rule_alone():
    end = pd.Timestamp("2026-03-08T00:00:00Z")
    e = end.timestamp()
    idx = pd.Index([f"s{i}" for i in range(8)], name="imsi")
    first = np.array([e - 3600, e - 47 * 3600, e - 49 * 3600, e - 3600, e - 3600, e - 7200,
                      e - 40 * 3600, e - 3600])
    features = pd.DataFrame({
        "first_seen": first,
        "n_mtc": [3, 0, 3, 3, 3, 3, 2, 0], "mtc_callback_share": [0, np.nan, 0, 0, 0, 0, 0.5, 0],
        "device_not_phone": [1, 1, 1, 1, 1, 1, 1, 0]}, index=idx)
    sims = pd.DataFrame({"main_site": ["A", "B", "A", "A", "A", "A", "B", "A"]}, index=idx)
    res = SimpleNamespace(columns={"first_seen": first}, features=features, sims=sims)
    by_model = pd.DataFrame({"flagged": [True, True, True, True, False, True, False, True],
                             "score": [0.5, 0.7, 0.5, 0.99, 0.3, 0.6, 0.1, 0.6],
                             "class": "simbox"}, index=idx)
    farms = pd.DataFrame(index=pd.Index(["s5"], name="imsi"))
    out = young_held(res, by_model, farms, end, 0.98)
    # s0: called; s1: quiet, but s6 (its site, its kind of device, 7 h apart) was called;
    # s2: 49 h old; s3: above; s4: not flagged; s5: the device rule; s7: quiet, on a phone,
    # and the called SIMs of its site are on gateways
    assert out.index.tolist() == ["s0", "s1"]
    assert out["exclusion_reason"].tolist()[1].startswith("first seen 47 h before")
    assert out["exclusion_expires"].tolist() == ["2026-03-09T23:00:00Z", "2026-03-08T01:00:00Z"]
    want = reference_held(features, sims["main_site"], dict(by_model["flagged"]),
                          dict(by_model["score"]), e, 0.98, rule={"s5"})
    assert set(out.index) == want
    assert young_held(res, by_model, farms, end, None) is None
    assert young_held(res, by_model, farms, None, 0.98) is None
    assert young_held(res, by_model.assign(flagged=False), farms, end, 0.98) is None
    # a card farm's SIMs are not held (no office looks like one)
    farm = by_model.assign(**{"class": ["cardfarm"] + ["simbox"] * 7})
    assert young_held(res, farm, farms, end, 0.98).index.tolist() == ["s1"] == sorted(
        reference_held(features, sims["main_site"], dict(farm["flagged"]), dict(farm["score"]),
                       e, 0.98, rule={"s5"}, cls=dict(farm["class"])))
