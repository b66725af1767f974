"""Issue 12: deployments come back whole on a simulated world, spoofing boxes included
(every SIM its own handset IMEI), without merging deployments that share a busy site.

Grouping is judged on its own: the flagged SIMs are exactly the simulator's fraud
SIMs (no model), so a split or a merge here is the grouping's alone.
`benchmarks/eval_grouping.py` measures the same through whole scans on larger worlds.
"""
import numpy as np
import pandas as pd
import pytest

from simbox.deployments import group_sims


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from simbox.data.config import load_config
    from simbox.data.simulate import simulate
    from simbox.features import compute_features
    out = tmp_path_factory.mktemp("world")
    cfg = load_config(overrides={"fraud": {"share": 0.06}})
    sim = simulate(6000, 2, "evasive", 31, out=out, config=cfg)
    res = compute_features([sim.paths["cdrs"]], cells=out / "cells.csv", tac=out / "tac.csv",
                           timezone=sim.network.timezone)
    truth = pd.read_csv(out / "truth.csv", dtype=str).set_index("imsi")
    return res, truth


def test_every_deployment_comes_back_whole_and_none_merge(world):
    res, truth = world
    fraud = truth.loc[truth["class"] != "legit"]
    keep = res.sims.index.isin(fraud.index)
    sims = res.sims.loc[keep].assign(**{"class": "simbox", "score": 0.9})
    labels, _ = group_sims(sims, np.asarray(res.hours)[keep], res.devices)
    df = pd.DataFrame({"got": labels, "true": fraud["deployment_id"].reindex(sims.index).to_numpy(),
                       "kind": fraud["kind"].reindex(sims.index).to_numpy()})
    whole = df.groupby("true")["got"].agg(lambda s: s.value_counts().iloc[0] / len(s) >= 0.8)
    kinds = df.drop_duplicates("true").set_index("true")["kind"]
    assert "simbox_spoof" in set(kinds)
    assert whole.mean() >= 0.95, whole.groupby(kinds).mean().to_dict()
    assert whole[kinds[kinds == "simbox_spoof"].index].all()
    merged = df.groupby("got")["true"].nunique()
    assert (merged > 1).sum() <= 1
