import json
import logging

import numpy as np
import pytest

from simbox.training.dataset import build_training_set, truth_labels
from simbox.training.model import Model
from simbox.training.train import train
from simbox.training.threshold import pick_on_curve
from training_network import FAST


@pytest.fixture(scope="module")
def trained(network, names, schema_hash, tmp_path_factory):
    X, truth = network
    out = tmp_path_factory.mktemp("model") / "m"
    m = train(X, truth_labels(truth), truth=truth, target_precision=0.99, folds=4,
              feature_names=names, schema_hash=schema_hash, model_params=FAST, n_boot=50,
              simulated=None, kind_holdout=True, out=out)
    return m, out


def test_train_writes_model_folder(trained, names, schema_hash, network):
    m, out = trained
    assert sorted(p.name for p in out.iterdir()) == [
        "calibration.png", "importances.png", "model.json", "model.skops", "pr_curves.png",
        "report.html", "scoring.npz"]
    card = json.loads((out / "model.json").read_text())
    assert card["classes"] == ["simbox", "cardfarm", "legit"]
    assert card["threshold"]["target_precision"] == 0.99
    assert 0 < card["threshold"]["value"] < 1
    counts = network[1]["label"].value_counts()
    assert card["training_data"]["label_counts"] == {c: int(counts[c]) for c in
                                                     ("simbox", "cardfarm", "legit")}
    assert card["cross_validation"]["folds"] == 4
    assert set(card["metrics"]) == {"model", "rules", "same_precision",
                                    "kinds_absent_from_training"}
    assert set(card["metrics"]["kinds_absent_from_training"]) == {"plain", "spoof", "sms_farm",
                                                                  "otp_farm"}
    assert set(card["importances"]) == set(names)
    loaded = Model.load(out, schema=(names, schema_hash))
    X = network[0]
    assert loaded.predict(X).equals(m.predict(X))


def test_cross_validated_metrics_are_sane(trained, network):
    m, _ = trained
    truth = network[1]
    cv = m.card["metrics"]["model"]
    s = cv["per_sim"]
    # the synthetic network has 15% legit-looking fraud SIMs: recall cannot pass ~0.85+
    assert 0.6 < s["recall"] < 0.95
    assert s["precision"] > 0.95
    lo, hi = s["recall_ci"]
    assert lo <= s["recall"] <= hi
    # every fraud case of the network (its SIM boxes and card farms) is a deployment
    assert cv["per_deployment"]["deployments"] == truth.loc[truth["label"] != "legit",
                                                             "case_id"].nunique()
    assert set(cv["recall_by_kind"]) == {"plain", "spoof", "sms_farm", "otp_farm"}
    assert set(cv["fpr_by_legit_group"]) == {"ordinary", "call_centre", "driver", "m2m"}
    rules = m.card["metrics"]["rules"]["per_sim"]
    assert rules["recall"] is not None


def test_unlabelled_presumed_legit_sample(network):
    X, truth = network
    seized = truth[truth["label"] != "legit"].iloc[:100]
    labels = truth_labels(seized)
    ts = build_training_set(X, labels, unlabelled_max=1000, unlabelled_weight=0.25, seed=1)
    un = ts.rows[ts.rows["source"] == "unlabelled"]
    assert len(un) == 1000 and set(un["label"]) == {"legit"}
    assert np.allclose(un["weight"], (len(X) - 100) / 1000)
    assert np.allclose(un["train_weight"], 0.25)
    assert ts.info["unlabelled"]["sampled"] == 1000
    ig = build_training_set(X, labels, unlabelled="ignore")
    assert len(ig.rows) == 100 and ig.info["unlabelled"]["policy"] == "ignore"


def test_simulated_network_added_with_prefix(network, caplog):
    X, truth = network
    labels = truth_labels(truth[truth["label"] != "legit"].iloc[:50])
    with caplog.at_level(logging.WARNING):
        ts = build_training_set(X.iloc[:2000], labels, simulated=(X, truth),
                                simulated_weight=0.3, unlabelled_max=500)
    sim = ts.rows[ts.rows["source"] == "simulated"]
    assert len(sim) == len(X) and sim.index.str.startswith("sim:").all()
    assert np.allclose(sim["train_weight"], 0.3)
    assert ts.X.index.equals(ts.rows.index)
    assert "labelled SIM(s) do not occur in the features" in caplog.text
    assert ts.info["simulated"][0]["sims"] == len(X)


def test_card_curve_gives_back_the_operating_threshold(trained):
    from simbox.scan import threshold_for_target
    m, out = trained
    curve = json.loads((out / "model.json").read_text())["threshold"]["curve"]
    assert 2 <= len(curve) <= 200
    assert all(0 <= p <= 1 and 0 <= r <= 1 for _, p, r in curve)
    t = threshold_for_target(Model.load(out, schema=(m.feature_names, m.schema_hash)), 0.99)
    card = json.loads((out / "model.json").read_text())["threshold"]
    floor = card["group_floor"] if card["group_floor"] is not None else -np.inf
    pick = pick_on_curve(curve, 0.99)
    assert t == max(pick, floor)                 # the model's rule, floor included
    point = {c[0]: c for c in curve}[pick]       # a stored point reaching the target
    assert point[1] >= 0.99
    lo, hi = card["ci"]
    assert lo <= pick <= hi and lo <= card["unbagged"] <= hi
    assert m.threshold == max(card["value"], floor) == card["value"]
    assert threshold_for_target(m, 0.5) <= t
