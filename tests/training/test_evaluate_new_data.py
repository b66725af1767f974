import json

import numpy as np
import pytest

from training_network import FAST, make_network
from simbox.errors import InputError
from simbox.training.dataset import truth_labels
from simbox.training.evaluate import evaluate, format_report, nan_free
from simbox.training.run import read_features_file
from simbox.training.train import train


@pytest.fixture(scope="module")
def model(names, schema_hash):
    X, truth = make_network(n_legit=1500, n_boxes=12, n_farms=8, seed=5)
    return train(X, truth_labels(truth), truth=truth, target_precision=0.99, folds=3,
                 feature_names=names, schema_hash=schema_hash, model_params=FAST,
                 n_boot=20, kind_holdout=False, simulated=None)


def test_evaluate_on_another_seed_with_truth(model):
    X, truth = make_network(n_legit=1500, n_boxes=12, n_farms=8, seed=6)
    res = evaluate(model, X, truth=truth, n_boot=30)
    assert res["sims"] == len(X)
    s = res["model"]["per_sim"]
    flagged = model.predict(X)["flagged"].to_numpy()
    fraud = truth["label"].ne("legit").to_numpy()
    assert s["true_positives"] == int((flagged & fraud).sum())
    assert s["recall"] == pytest.approx((flagged & fraud).sum() / fraud.sum())
    assert set(res["model"]["recall_by_kind"]) == {"plain", "spoof", "sms_farm", "otp_farm"}
    assert set(res) >= {"rules", "same_precision"}
    text = format_report(res)
    assert "recall  plain" in text and "FPR     driver" in text and text.count("\n") > 8
    json.dumps(nan_free(res), allow_nan=False)


def test_evaluate_labels_only_ignores_unlabelled(model):
    X, truth = make_network(n_legit=1500, n_boxes=12, n_farms=8, seed=6)
    some = truth.iloc[::10]
    res = evaluate(model, X, labels=truth_labels(some), n_boot=0)
    assert res["sims"] == len(some)
    res = evaluate(model, X, labels=truth_labels(some), unlabelled="presumed-legit", n_boot=0)
    assert res["sims"] == len(X)
    with pytest.raises(InputError, match="needs labels"):
        evaluate(model, X)


def test_read_features_file(tmp_path, network):
    X, _ = network
    X.reset_index().to_parquet(tmp_path / "f.parquet")
    X.reset_index().to_csv(tmp_path / "f.csv", index=False)
    for p in ("f.parquet", "f.csv"):
        df = read_features_file(tmp_path / p)
        assert df.index.equals(X.index) and np.allclose(df.fillna(-1), X.fillna(-1))
    X.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match="no 'imsi' column"):
        read_features_file(tmp_path / "bad.csv")


def test_read_simulator_truth(tmp_path):
    from simbox.training.run import read_truth
    p = tmp_path / "truth.csv"
    p.write_text("imsi,class,deployment_id,kind\n460000005881096,legit,,call_centre\n"
                 "460000005881097,simbox,D0001,simbox_plain\n")
    t = read_truth(p)
    assert t.to_dict("records") == [
        {"imsi": "460000005881096", "label": "legit", "case_id": "", "kind": "",
         "legit_group": "call_centre"},
        {"imsi": "460000005881097", "label": "simbox", "case_id": "D0001",
         "kind": "simbox_plain", "legit_group": ""}]
    p.write_text("imsi,cls\n1,legit\n")
    with pytest.raises(InputError, match="truth.csv: truth table lacks column"):
        read_truth(p)
