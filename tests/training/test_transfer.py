"""Training that transfers: monotone calibration, positive-unlabelled learning, tiny and
degenerate label sets, the simulated knowledge file (issue 12)."""
import numpy as np
import pandas as pd
import pytest

from simbox.errors import InputError
from simbox.training.calibration import MonotoneCalibrator, fraud_margin, separability
from simbox.training.dataset import build_training_set, truth_labels
from simbox.training.knowledge import read_knowledge, subsample, write_knowledge
from simbox.training.labels import CLASSES
from simbox.training.model import Model
from simbox.training.pu import exclude_likely_fraud
from simbox.training.train import train
from training_network import FAST


def _logits(rng, n, shift):
    p = rng.dirichlet([1, 1, 1], size=n)
    p[:, 2] *= np.exp(-shift)          # shift > 0: less legit
    p /= p.sum(axis=1, keepdims=True)
    return np.log(p)


@pytest.mark.parametrize("inverted", [False, True])
def test_calibration_is_increasing_in_the_fraud_margin(inverted):
    rng = np.random.default_rng(1)
    fraud = _logits(rng, 200, -3.0 if inverted else 3.0)
    legit = _logits(rng, 2000, 0.0)
    lg = np.vstack([fraud, legit])
    y = np.array(["simbox"] * 100 + ["cardfarm"] * 100 + ["legit"] * 2000)
    cal = MonotoneCalibrator().fit(lg, y)
    assert cal.inverted_ is inverted and cal.slope_ > 0
    test = _logits(rng, 5000, rng.normal())
    p = cal.predict_proba(test)
    assert np.allclose(p.sum(axis=1), 1.0)
    order = np.argsort(fraud_margin(test), kind="stable")
    assert (np.diff(1.0 - p[order, CLASSES.index("legit")]) >= -1e-15).all()
    # the fraud probability is split in the booster's own proportion
    share = np.exp(test[:, 0]) / (np.exp(test[:, 0]) + np.exp(test[:, 1]))
    assert np.allclose(p[:, 0] / (p[:, 0] + p[:, 1]), share)


def test_separability_warns_when_seizures_rank_below_legit():
    label = np.array(["simbox"] * 5 + ["legit"] * 5 + ["legit"] * 10)
    score = np.r_[np.full(5, 0.01), np.full(5, 0.4), np.full(10, 0.9)]
    source = np.array(["seizure"] * 10 + ["simulated"] * 10)
    cases = np.array([f"c{i}" for i in range(5)] + [""] * 15)
    s = separability(label, score, source, cases=cases)
    assert s["auc"] == 0.0 and s["fraud"] == 5 and s["legit"] == 5 and s["cases"] == 5
    assert any("do not rank above the labelled legit ones out of fold (AUC 0.00)" in w
               for w in s["warnings"])
    assert any(w.startswith("only 5 seized fraud SIM(s) in 5 case(s)") for w in s["warnings"])


def test_tiny_label_set_trains_or_refuses_in_one_line(network, names, schema_hash):
    X, truth = network
    fraud = truth[truth["label"] == "simbox"].drop_duplicates("case_id").iloc[:5]
    legit = truth[truth["label"] == "legit"].iloc[:5]
    labels = truth_labels(pd.concat([fraud, legit]))
    try:
        m = train(X, labels, unlabelled="ignore", simulated=None, feature_names=names,
                  schema_hash=schema_hash, model_params=FAST, n_boot=20, kind_holdout=False,
                  target_precision=0.9)
    except InputError as exc:
        assert "\n" not in str(exc)
        assert str(exc).startswith("no threshold reaches precision 0.9 on the cross-validated "
                                   "scores")
    else:
        assert any("only 5 seized fraud SIM(s)" in w for w in m.card["warnings"])
        assert m.card["separability"]["fraud"] == 5
        # one fraud class only: the other gets no probability
        assert (m.predict(X)["score_cardfarm"] < 1e-9).all()


def test_a_feature_missing_for_every_sim_trains(network, names, schema_hash):
    X, truth = network
    X = X.copy()
    X["imei_max_imsis"] = np.nan           # no TAC table / no device information at all
    sim = X.copy()
    sim["imei_max_imsis"] = 3.0
    m = train(X, truth_labels(truth), unlabelled="ignore", simulated=(sim, truth),
              feature_names=names, schema_hash=schema_hash, model_params=FAST, n_boot=20,
              kind_holdout=False, folds=3, target_precision=0.9)
    assert m.card["training_data"]["unavailable_features"] == ["imei_max_imsis"]
    assert np.isfinite(m.threshold)


def test_unraided_boxes_are_not_used_as_legit(network, names, schema_hash):
    X, truth = network
    fraud_cases = sorted(truth.loc[truth["label"] != "legit", "case_id"].unique())
    raided = set(fraud_cases[::3]) | set(fraud_cases[1::3])       # two thirds raided
    lab = truth[truth["case_id"].isin(raided) | (truth["label"] == "legit")].iloc[::1]
    lab = pd.concat([lab[lab["label"] != "legit"], lab[lab["label"] == "legit"].iloc[:300]])
    ts = build_training_set(X, truth_labels(lab), unlabelled="presumed-legit")

    def make():
        return Model(feature_names=names, schema_hash=schema_hash, **FAST)

    drop, info = exclude_likely_fraud(make, ts.X, ts.rows, max_share=0.05)
    unraided = truth.set_index("imsi").reindex(ts.rows.index)
    is_fraud = (unraided["label"] != "legit").to_numpy()
    un = (ts.rows["source"] == "unlabelled").to_numpy()
    assert info["excluded"] == drop.sum() <= int(0.05 * un.sum())
    assert not drop[~un].any()                                    # labelled rows stay
    caught = drop & is_fraud
    # most of the unraided fraud SIMs that behave like fraud are kept out, few legit ones
    assert caught.sum() >= 0.6 * (un & is_fraud).sum()
    assert (drop & ~is_fraud).sum() <= 0.02 * (un & ~is_fraud).sum()


def test_knowledge_file_round_trip_and_schema_guard(network, names, schema_hash, tmp_path):
    X, truth = network
    t = truth.copy()
    t["world"] = "7"
    w = subsample(t, ["call_centre"], rate=0.1, seed=0)
    lab = t["label"].to_numpy()
    assert (w[lab != "legit"] == 1).all()
    assert (w[(t["legit_group"] == "call_centre").to_numpy()] == 1).all()
    easy = (lab == "legit") & (t["legit_group"] != "call_centre").to_numpy()
    assert set(np.unique(w[easy])) <= {0.0, 10.0}
    cc = (t["legit_group"] == "call_centre").to_numpy()
    w2 = subsample(t, ["call_centre"], rate=0.1, seed=0, group_rates={"call_centre": 0.5})
    assert (w2[lab != "legit"] == 1).all() and set(np.unique(w2[cc])) == {0.0, 2.0}
    assert abs(w2[cc].sum() - cc.sum()) < 0.35 * cc.sum()      # the kept stand for the rest
    path = tmp_path / "knowledge.parquet"
    write_knowledge(path, X, t, w, {"schema_hash": schema_hash, "worlds": [7]})
    kn = read_knowledge(path, names, schema_hash)
    assert len(kn) == int((w > 0).sum())
    assert np.allclose(kn.X.to_numpy(), X.to_numpy(dtype=np.float32)[w > 0], equal_nan=True)
    assert kn.info["worlds"] == [7]
    with pytest.raises(InputError, match=r"computed with feature schema .* this simbox has "
                                         r"other; rebuild the default model"):
        read_knowledge(path, names, "other")
    ts = build_training_set(X.iloc[:0], pd.DataFrame(columns=["imsi", "label", "case_id"]),
                            simulated=kn, unlabelled="ignore")
    sim = ts.rows
    assert (sim["source"] == "simulated").all() and len(sim) == len(kn)
    assert np.allclose(sim["weight"], kn.weight)


def test_leave_world_out_cross_validation(network, names, schema_hash, tmp_path):
    X, truth = network
    t = truth.copy()
    # three worlds, each deployment and each legit SIM in one of them
    t["world"] = (pd.factorize(t["case_id"])[0] % 3).astype(str)
    path = tmp_path / "knowledge.parquet"
    write_knowledge(path, X, t, np.ones(len(t)), {"schema_hash": schema_hash})
    kn = read_knowledge(path, names, schema_hash)
    empty = X.iloc[:0]
    no_labels = pd.DataFrame(columns=["imsi", "label", "case_id"])
    m = train(empty, no_labels, simulated=kn, unlabelled="ignore", cv_group="world", folds=3,
              feature_names=names, schema_hash=schema_hash, model_params=FAST, n_boot=20,
              kind_holdout=False, target_precision=0.9)
    cv = m.card["cross_validation"]
    assert cv["grouped_by"] == "simulated world (leave-world-out)" and cv["folds"] == 3
    with pytest.raises(Exception, match="cv_group='world' needs a world for every training SIM"):
        train(X, truth_labels(truth), simulated=None, unlabelled="ignore", cv_group="world",
              feature_names=names, schema_hash=schema_hash, model_params=FAST, n_boot=20,
              kind_holdout=False)


def test_booster_logits_of_an_older_model_keep_their_column_order(network, names, schema_hash):
    from simbox.training.model import BoosterLogits
    X, truth = network
    y = truth.set_index("imsi")["label"].reindex(X.index).to_numpy()
    b = Model(feature_names=names, schema_hash=schema_hash, **FAST).fit_booster(X, y)
    step = b.named_steps["booster"]
    new = step.transform(b[:-1].transform(X))
    assert list(step.classes_) == ["cardfarm", "legit", "simbox"]
    del step.in_class_order_                      # as unpickled from an older simbox
    old = step.transform(b[:-1].transform(X))
    assert np.allclose(old[:, [2, 0, 1]], new)    # same numbers, the booster's own order
    assert isinstance(step, BoosterLogits)


def test_fraud_labels_alone_are_fitted_against_the_unlabelled(network, names, schema_hash):
    # test-call labels: box SIMs only, no labelled legit SIM; the spies' fallback fits the
    # labelled fraud against the unlabelled, each unlabelled SIM scored out of fold
    X, truth = network
    fraud_cases = sorted(truth.loc[truth["label"] != "legit", "case_id"].unique())
    lab = truth[truth["case_id"].isin(set(fraud_cases[::2]))]
    assert (lab["label"] != "legit").all()
    ts = build_training_set(X, truth_labels(lab), unlabelled="presumed-legit")

    def make():
        return Model(feature_names=names, schema_hash=schema_hash, **FAST)

    drop, info = exclude_likely_fraud(make, ts.X, ts.rows, max_share=0.05)
    assert info["against"] == "the unlabelled (no labelled legit SIMs)"
    assert "skipped" not in info
    unraided = truth.set_index("imsi").reindex(ts.rows.index)
    is_fraud = (unraided["label"] != "legit").to_numpy()
    un = (ts.rows["source"] == "unlabelled").to_numpy()
    assert info["excluded"] == drop.sum() <= int(0.05 * un.sum())
    assert not drop[~un].any()
    assert (drop & is_fraud).sum() >= 0.5 * (un & is_fraud).sum()
    assert (drop & ~is_fraud).sum() <= 0.02 * (un & ~is_fraud).sum()


def test_the_default_rebuild_draws_the_shipped_models_worlds():
    """`build_default_model` draws its worlds with the generator the shipped model was
    trained on: world 1 at the shipped size gives the very records its knowledge counted
    (a newer generator draws another world)."""
    from simbox.data.worlds import GENERATOR_VERSION, build_world
    from simbox.training.build_default_model import DAYS, GENERATOR, SUBSCRIBERS
    from simbox.training.knowledge import default_knowledge
    from simbox.training.schema import registry_schema
    info = {w["world"]: w for w in default_knowledge(*registry_schema()).info["worlds"]}[1]
    net = build_world(1, SUBSCRIBERS, DAYS, generator=GENERATOR)
    got = net.summary()
    assert {k: got[k] for k in ("cdrs", "simbox_sims", "cardfarm_sims", "deployments")} == \
        {k: info[k] for k in ("cdrs", "simbox_sims", "cardfarm_sims", "deployments")}
    assert GENERATOR < GENERATOR_VERSION
