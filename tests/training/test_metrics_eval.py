import numpy as np
import pandas as pd
import pytest

from simbox.training.metrics import (deployment_recovery, evaluate_flags, fpr_by_legit_group,
                                     misses_at_precision, recall_by_kind, sim_metrics)


def frame():
    return pd.DataFrame({
        "label": ["simbox"] * 4 + ["cardfarm"] * 2 + ["legit"] * 4,
        "score": [0.9, 0.8, 0.3, 0.2, 0.95, 0.7, 0.85, 0.1, 0.1, 0.1],
        "pred_class": ["simbox", "simbox", "simbox", "cardfarm", "cardfarm", "simbox",
                       "simbox", "simbox", "simbox", "simbox"],
        "group": ["a", "a", "b", "b", "c", "c", "l1", "l2", "l3", "l4"],
        "deployment": ["a", "a", "b", "b", "c", "c", "", "", "", ""],
        "weight": [1, 1, 1, 1, 1, 1, 1, 1, 1, 5.0],
        "kind": ["plain", "plain", "spoof", "spoof", "farm", "farm", "", "", "", ""],
        "legit_group": ["", "", "", "", "", "", "driver", "driver", "m2m", "ordinary"],
    })


def test_sim_metrics_point_values():
    f = frame()
    m = sim_metrics(f, f["score"] >= 0.5, n_boot=0)
    assert m["precision"] == pytest.approx(4 / 5)
    assert m["recall"] == pytest.approx(4 / 6)
    assert m["false_positive_rate"] == pytest.approx(1 / 8)     # weights 1+1+1+5
    assert (m["true_positives"], m["false_positives"], m["missed"]) == (4, 1, 2)


def test_sim_metrics_ci_brackets_point():
    rng = np.random.default_rng(0)
    n = 400
    f = pd.DataFrame({"label": np.where(rng.random(n) < 0.3, "simbox", "legit"),
                      "group": rng.integers(0, 80, n), "weight": 1.0})
    flagged = (f["label"] == "simbox") ^ (rng.random(n) < 0.1)
    m = sim_metrics(f, flagged, n_boot=200, seed=1)
    for k in ("precision", "recall", "false_positive_rate"):
        lo, hi = m[k + "_ci"]
        assert lo <= m[k] <= hi and lo < hi


def test_deployment_recovery_half_rule():
    f = frame()
    d = deployment_recovery(f, f["score"] >= 0.5, n_boot=0)
    # a: 2/2 flagged, b: 0/2, c: 2/2
    assert (d["deployments"], d["recovered"]) == (3, 2)
    assert d["share"] == pytest.approx(2 / 3)
    d = deployment_recovery(f, f["score"] >= 0.8, n_boot=0)   # a 2/2, b 0, c 1/2 -> recovered
    assert d["recovered"] == 2


def test_recall_by_kind_and_fpr_by_group():
    f = frame()
    flagged = f["score"] >= 0.5
    r = recall_by_kind(f, flagged, n_boot=0)
    assert {k: v["recall"] for k, v in r.items()} == {"farm": 1.0, "plain": 1.0, "spoof": 0.0}
    g = fpr_by_legit_group(f, flagged, n_boot=0)
    assert {k: v["false_positive_rate"] for k, v in g.items()} == {
        "driver": 0.5, "m2m": 0.0, "ordinary": 0.0}


def test_misses_at_precision_and_evaluate_flags():
    f = frame()
    m = misses_at_precision(f, f["score"].to_numpy(), 1.0)
    assert m["threshold"] == 0.9 and m["missed"] == 4
    e = evaluate_flags(f, f["score"] >= 0.5, n_boot=20)
    assert set(e) == {"per_sim", "per_deployment", "per_class", "recall_by_kind",
                      "fpr_by_legit_group"}
    assert e["per_class"]["cardfarm"] == {"sims": 2, "flagged_as": 1, "precision": 1.0,
                                          "recall": 0.5}
