"""Young-age rows of the knowledge (training/young.py, build_default_model.world_tables).

The young rows must be exactly what ``simbox watch`` holds at the cut: the batch
features of the events before the cut, restricted to the SIMs whose first event
is recent.  The reference is an independent computation: the simulated CDR file
filtered with pandas, written out, and reduced by ``compute_features``.
"""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from simbox.features import compute_features
from simbox.training import young
from simbox.training.build_default_model import world_tables
from simbox.training.schema import registry_schema


@settings(max_examples=200, deadline=None)
@given(world=st.integers(0, 10_000), first=st.integers(0, 2_000_000_000),
       days=st.floats(0.0, 30.0), n=st.integers(0, 5))
def test_cut_times_fall_inside_the_window_after_the_minimum_history(world, first, days, n):
    last = first + days * 86400
    cuts = young.cut_times(world, first, last, n)
    assert cuts == young.cut_times(world, first, last, n)          # drawn from the world
    assert cuts == sorted(set(cuts)) and len(cuts) <= n
    for c in cuts:
        assert c % young.CUT_STEP_S == 0
        assert first + young.MIN_HISTORY_DAYS * 86400 - young.CUT_STEP_S < c < last
    if days < young.MIN_HISTORY_DAYS:
        assert cuts == []


def test_young_mask_keeps_first_events_within_the_hours_before_the_cut():
    cut = 1_000_000
    fs = np.array([cut - 48 * 3600 - 1, cut - 48 * 3600, cut - 60, cut - 1])
    assert young.young_mask(fs, cut).tolist() == [False, True, True, True]
    assert young.young_mask(fs, cut, hours=1).tolist() == [False, False, True, True]


@pytest.fixture(scope="module")
def one_world(tmp_path_factory):
    work = tmp_path_factory.mktemp("worlds")
    X, truth, infos = world_tables([3], 400, 4, work, log=lambda *_: None, young_cuts=2)
    return work / "world-3", X, truth, infos[0]


def test_young_rows_are_the_features_of_the_events_before_the_cut(one_world, tmp_path):
    folder, X, truth, info = one_world
    names, _ = registry_schema()
    assert len(info["young_cuts"]) == 2 and info["young_rows"] > 0
    cdrs = pd.read_csv(folder / "cdrs.csv.gz", dtype=str, keep_default_na=False)
    tz = info["timezone"]
    for cut in info["young_cuts"]:
        # the reference: filter the events with pandas (the simulator writes UTC times)
        t = pd.to_datetime(cdrs["start_time"], utc=True, format="ISO8601")
        kept = cdrs[t < pd.Timestamp(cut, unit="s", tz="UTC")]
        path = tmp_path / f"cut-{cut}.csv.gz"
        with gzip.open(path, "wt") as fh:
            kept.to_csv(fh, index=False)
        ref = compute_features([str(path)], cells=str(folder / "cells.csv"),
                               tac=str(folder / "tac.csv"), timezone=tz).features
        want = ref.index[young.young_mask(ref["first_seen"], cut)].astype(str)
        got = X[X.index.str.startswith(f"w3{young.YOUNG_TAG}{cut}:")]
        assert sorted(got.index.str.split(":").str[1]) == sorted(want)
        assert len(want) < len(ref)                       # the old SIMs are not young rows
        ref_rows = ref.loc[want, names]
        ref_rows.index = f"w3{young.YOUNG_TAG}{cut}:" + ref_rows.index.astype(str)
        pd.testing.assert_frame_equal(got.loc[ref_rows.index], ref_rows, check_dtype=False,
                                      rtol=1e-9)


def test_young_rows_keep_their_sims_label_case_and_world(one_world):
    _, X, truth, _ = one_world
    t = truth.set_index("imsi")
    yt = t[t["young"]]
    assert len(yt) and (~t["young"]).sum() == len([i for i in X.index if "@" not in i])
    whole = t[~t["young"]]
    plain = yt.index.str.replace(r"@\d+:", ":", regex=True)
    assert (whole.loc[plain, "label"].to_numpy() == yt["label"].to_numpy()).all()
    assert (whole.loc[plain, "case_id"].to_numpy() == yt["case_id"].to_numpy()).all()
    assert set(yt["world"]) == {"3"}


def test_young_rows_are_learnt_from_but_never_set_the_threshold(tmp_path):
    """The threshold and metrics are those of whole windows; the young rows are reported
    apart (card ``metrics.young``), scored out of fold at that threshold."""
    from simbox.training.knowledge import KNOWLEDGE_FILE, read_knowledge, write_knowledge
    from simbox.training.threshold import threshold_bootstrap
    from simbox.training.train import train
    names, schema = registry_schema()
    X, truth, _ = world_tables([3, 5, 6, 7], 2000, 4, tmp_path / "w", log=lambda *_: None,
                               young_cuts=1)
    weight = np.ones(len(truth))
    write_knowledge(tmp_path / KNOWLEDGE_FILE, X, truth, weight, {"schema_hash": schema})
    kn = read_knowledge(tmp_path / KNOWLEDGE_FILE, names, schema)
    assert kn.truth["young"].sum() == truth["young"].sum() > 0
    model = train(kn.X.iloc[:0], pd.DataFrame(columns=["imsi", "label", "case_id"]),
                  simulated=kn, unlabelled="ignore", cv_group="world", seed=0, n_boot=20,
                  kind_holdout=False, max_group_fpr=1.0)
    frame, proba = model.oof_
    assert len(frame) == len(proba) == int((~truth["young"]).sum())
    assert not frame.index.str.contains(young.YOUNG_TAG).any()
    fraud = frame["label"].isin(["simbox", "cardfarm"]).to_numpy()
    again = threshold_bootstrap(fraud, frame["score"], frame["group"], 0.995, frame["weight"],
                                n_boot=20, seed=0)["bagged"]
    assert model.threshold == pytest.approx(again)
    yc = model.card["metrics"]["young"]
    assert yc["rows"] == int(truth["young"].sum())
    assert model.card["metrics"]["model"]["per_sim"]["fraud_sims"] == int(fraud.sum())


def test_young_threshold_is_where_precision_from_the_top_first_fails():
    """Against a brute force over every candidate score: the lowest t >= the operating
    threshold such that every t' >= t keeps the weighted precision at the target."""
    from simbox.training.train import young_threshold

    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        fraud = rng.random(n) < 0.6
        frame = pd.DataFrame({"label": np.where(fraud, "simbox", "legit"),
                              "score": np.round(rng.random(n) * (1 + fraud), 1) / 2,
                              "weight": rng.integers(1, 4, n).astype(float)})
        thr, target = float(rng.choice([0.0, 0.2, 0.6])), float(rng.choice([0.5, 0.9, 0.99]))
        got = young_threshold(frame, thr, target)
        if not fraud.any():
            assert got is None
            continue

        def precision_from(t):
            m = frame.score >= t
            tp = frame.weight[m & fraud].sum()
            return tp / frame.weight[m].sum()

        cands = sorted(set(frame.score), reverse=True)
        want = None
        for t in cands:
            if precision_from(t) < target:
                break
            want = t
        want = 1.0 if want is None else max(want, thr)
        assert got == want
