import json

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from simbox.errors import InputError, ModelError
from simbox.training import model as model_mod
from simbox.training.cv import grouped_splits, out_of_fold
from simbox.training.model import Model


@pytest.fixture(scope="module")
def fitted(network, names, schema_hash):
    X, truth = network
    m = Model(feature_names=names, schema_hash=schema_hash, max_iter=40)
    m.fit(X, truth["label"], groups=truth["case_id"])
    m.threshold = 0.5
    return m


def test_model_init_is_keyword_only_and_predict_needs_fit(names, network):
    with pytest.raises(TypeError):
        Model(names)
    with pytest.raises(NotFittedError):
        Model(feature_names=names).predict(network[0])


def test_predict_columns_and_decisions(fitted, network):
    X, truth = network
    out = fitted.predict(X)
    assert list(out.columns) == ["score_simbox", "score_cardfarm", "score_legit", "class",
                                 "score", "flagged"]
    assert out.index.equals(X.index)
    p = out[["score_simbox", "score_cardfarm", "score_legit"]].to_numpy()
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.allclose(out["score"], 1 - out["score_legit"])
    assert (out["flagged"] == (out["score"] >= 0.5)).all()
    assert set(out.loc[~out["flagged"], "class"]) == {"legit"}
    assert set(out.loc[out["flagged"], "class"]) <= {"simbox", "cardfarm"}
    fraud = truth["label"].ne("legit").to_numpy()
    assert (out["flagged"].to_numpy() == fraud).mean() > 0.9
    assert (fitted.predict(X, threshold=1.01)["flagged"] == False).all()  # noqa: E712


def test_predict_refuses_missing_features(fitted, network):
    X, _ = network
    with pytest.raises(InputError, match="features lack 1 feature\\(s\\) the model needs: "
                                         "imei_max_imsis; recompute"):
        fitted.predict(X.drop(columns=["imei_max_imsis"]))


def test_save_load_roundtrip(fitted, network, names, schema_hash, tmp_path):
    X, _ = network
    fitted.card = {"timezone": "UTC", "threshold": {"target_precision": 0.99}}
    fitted.save(tmp_path / "m")
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["files"]["model.joblib"]["sha256"] == model_mod.sha256_file(tmp_path / "m" / "model.joblib")
    assert card["threshold"] == {"target_precision": 0.99, "value": 0.5}
    assert card["features"] == {"names": names, "count": len(names), "schema_hash": schema_hash}
    m2 = Model.load(tmp_path / "m", schema=(names, schema_hash))
    assert m2.threshold == 0.5 and m2.get_params() == fitted.get_params()
    assert m2.predict(X).equals(fitted.predict(X))


def saved(fitted, tmp_path):
    fitted.card = {}
    return fitted.save(tmp_path / "m")


def test_load_refuses_truncated_and_corrupted(fitted, names, schema_hash, tmp_path):
    d = saved(fitted, tmp_path)
    f = d / "model.joblib"
    data = f.read_bytes()
    f.write_bytes(data[:-100])
    with pytest.raises(ModelError) as e:
        Model.load(d, schema=(names, schema_hash))
    assert str(e.value) == (f"{f}: sha256 differs from model.json ({len(data) - 100} bytes, the "
                            f"card says {len(data)}): the file is truncated or corrupted; copy "
                            "the model folder again or retrain")
    f.write_bytes(data[:50] + bytes([data[50] ^ 1]) + data[51:])
    with pytest.raises(ModelError, match=r"\(same size, different content\): the file is truncated"):
        Model.load(d, schema=(names, schema_hash))
    (d / "model.json").write_text('{"format": "simbox-model/1", ')
    with pytest.raises(ModelError, match=r"model.json: corrupted \(not valid JSON at line 1\)"):
        Model.load(d, schema=(names, schema_hash))
    (d / "model.json").unlink()
    with pytest.raises(ModelError, match="no model.json: not a simbox model folder"):
        Model.load(d, schema=(names, schema_hash))
    with pytest.raises(ModelError, match="no such model folder"):
        Model.load(tmp_path / "nope", schema=(names, schema_hash))


def test_load_refuses_other_library_versions(fitted, names, schema_hash, tmp_path):
    d = saved(fitted, tmp_path)
    card = json.loads((d / "model.json").read_text())
    card["libraries"]["scikit-learn"] = "0.24.2"
    (d / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError) as e:
        Model.load(d, schema=(names, schema_hash))
    import sklearn
    assert str(e.value) == (f"{d}: saved with scikit-learn 0.24.2, this environment has "
                            f"{sklearn.__version__}; install it (pip install scikit-learn==0.24.2)"
                            " or retrain the model with simbox train")
    card["libraries"]["scikit-learn"] = sklearn.__version__
    card["libraries"]["numpy"] = "1.26.4"
    (d / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"saved with numpy 1.26.4.*pip install numpy==1.26.4"):
        Model.load(d, schema=(names, schema_hash))


def test_load_refuses_other_feature_schema(fitted, names, schema_hash, tmp_path):
    d = saved(fitted, tmp_path)
    new = names[:-1] + ["imei_block_sims"]
    with pytest.raises(ModelError) as e:
        Model.load(d, schema=(new, "abcdef0123456789"))
    assert str(e.value) == (f"{d}: feature schema {schema_hash[:12]} of the model differs from "
                            "this simbox's abcdef012345 (added: imei_block_sims; removed: "
                            "imei_max_imsis); retrain the model with simbox train, or install "
                            f"simbox=={fitted.card['libraries']['simbox']} that made it")


def test_out_of_fold_never_scores_a_case_it_trained_on(network, names):
    X, truth = network
    y, groups = truth["label"].to_numpy(), truth["case_id"].to_numpy()
    splits = grouped_splits(y, groups, n_splits=4, seed=0)
    for tr, te in splits:
        assert not set(groups[tr]) & set(groups[te])
    logits, proba, fold = out_of_fold(lambda: Model(feature_names=names, max_iter=20), X, y,
                                      splits)
    assert (fold >= 0).all()
    assert np.allclose(proba.sum(axis=1), 1.0)
    m = Model(feature_names=names, max_iter=20)
    for k, (tr, te) in enumerate(splits):
        assert (fold[te] == k).all()
        b = m.fit_booster(X.iloc[tr], y[tr])
        assert np.allclose(logits[te], m.booster_logits(b, X.iloc[te]))
    cal = m.fit_calibrator(logits[splits[0][0]], y[splits[0][0]])
    order = [list(cal.classes_).index(c) for c in ("simbox", "cardfarm", "legit")]
    assert np.allclose(proba[splits[0][1]], cal.predict_proba(logits[splits[0][1]])[:, order])


def test_grouped_splits_refuses_single_case_class():
    y = np.array(["simbox"] * 3 + ["legit"] * 10)
    g = np.array(["r1"] * 3 + [f"l{i}" for i in range(10)])
    with pytest.raises(InputError, match="all simbox SIMs come from a single case"):
        grouped_splits(y, g, n_splits=3)
    with pytest.raises(InputError, match="only 11 cases for 20-fold"):
        grouped_splits(y, g, n_splits=20)
