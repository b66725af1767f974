import os
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
    assert card["files"]["model.skops"]["sha256"] == model_mod.sha256_file(tmp_path / "m" / "model.skops")
    assert card["format"] == "simbox-model/2" and "signature" not in card
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
    f = d / "model.skops"
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
    (d / "model.json").write_text('{"format": "simbox-model/2", ')
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
    # another patch release of the same scikit-learn series loads
    card["libraries"]["numpy"] = np.__version__
    card["libraries"]["scikit-learn"] = ".".join(sklearn.__version__.split(".")[:2]) + ".999"
    (d / "model.json").write_text(json.dumps(card))
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


# ---- issue 14 item 6: a model file that cannot run code; signed folders ---------------------

KEY = b"0123456789abcdef-team-secret"


def _rewrite_card(d, **changes):
    card = json.loads((d / "model.json").read_text())
    card.update(changes)
    (d / "model.json").write_text(json.dumps(card))
    return card


def test_a_swapped_pickle_with_its_hash_updated_is_not_loaded(fitted, names, schema_hash, tmp_path):
    import joblib
    d = saved(fitted, tmp_path)
    ran = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(ran), "w"))
    joblib.dump(Evil(), d / "model.joblib")
    (d / "model.skops").unlink()
    _rewrite_card(d, format="simbox-model/1", files={"model.joblib": {
        "sha256": model_mod.sha256_file(d / "model.joblib"),
        "bytes": (d / "model.joblib").stat().st_size}})
    with pytest.raises(ModelError) as e:
        Model.load(d, schema=(names, schema_hash))
    assert str(e.value) == (f"{d}: holds model.joblib, a pickle that can run any code when loaded; "
                            "convert it once from a trusted copy (python -m "
                            f"simbox.training.convert_model {d}), or pass --trust-pickle if you "
                            "trust where it came from")
    assert not ran.exists()


def test_skops_file_with_a_type_outside_the_allow_list_is_refused(fitted, names, schema_hash,
                                                                  tmp_path):
    from skops import io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer
    d = saved(fitted, tmp_path)
    sio.dump(Pipeline([("f", FunctionTransformer(os.system))]), d / "model.skops")
    _rewrite_card(d, files={"model.skops": {"sha256": model_mod.sha256_file(d / "model.skops"),
                                            "bytes": (d / "model.skops").stat().st_size}})
    with pytest.raises(ModelError) as e:
        Model.load(d, schema=(names, schema_hash))
    assert str(e.value).startswith(f"{d / 'model.skops'}: holds types simbox does not load (")
    assert str(e.value).endswith("); it was not written by simbox train: retrain the model")


def test_old_pickle_folder_loads_when_trusted_and_converts(fitted, names, schema_hash, tmp_path,
                                                           network):
    import joblib
    from simbox.training.convert_model import convert
    X, _ = network
    d = saved(fitted, tmp_path)
    joblib.dump(fitted.pipeline_, d / "model.joblib")
    (d / "model.skops").unlink()
    _rewrite_card(d, format="simbox-model/1", files={"model.joblib": {
        "sha256": model_mod.sha256_file(d / "model.joblib"),
        "bytes": (d / "model.joblib").stat().st_size}})
    old = Model.load(d, schema=(names, schema_hash), trust_pickle=True)
    assert old.predict(X).equals(fitted.predict(X))
    convert(d)
    assert sorted(p.name for p in d.iterdir()) == ["model.json", "model.skops", "scoring.npz"]
    assert Model.load(d, schema=(names, schema_hash)).predict(X).equals(fitted.predict(X))


def test_signed_folder(fitted, names, schema_hash, tmp_path, network):
    X, _ = network
    key_file = tmp_path / "team.key"
    key_file.write_bytes(KEY + b"\n")
    fitted.card = {}
    d = fitted.save(tmp_path / "m", key=key_file)
    card = json.loads((d / "model.json").read_text())
    assert card["signature"]["algorithm"] == "hmac-sha256" and len(card["signature"]["value"]) == 64
    assert Model.load(d, schema=(names, schema_hash), key=KEY).predict(X).equals(fitted.predict(X))
    assert Model.load(d, schema=(names, schema_hash)).threshold == 0.5       # no key: not checked
    # a changed threshold (or a swapped file with its sha256 updated) breaks the signature
    card["threshold"]["value"] = 0.01
    (d / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError) as e:
        Model.load(d, schema=(names, schema_hash), key=key_file)
    assert str(e.value) == (f"{d}: signature does not match the signing key: the model was changed "
                            "after it was signed, or signed with another key; do not use it")
    with pytest.raises(ModelError, match="signature does not match"):
        fitted.save(tmp_path / "m2", key=KEY)
        Model.load(tmp_path / "m2", schema=(names, schema_hash), key=b"another-key-of-16-bytes")
    unsigned = saved(fitted, tmp_path / "u")
    with pytest.raises(ModelError) as e:
        Model.load(unsigned, schema=(names, schema_hash), key=KEY)
    assert str(e.value) == (f"{unsigned}: the model folder is not signed, and a signing key was "
                            "given; sign it (python -m simbox.training.convert_model FOLDER --model-key "
                            "KEY_FILE) or load it without the key")
    with pytest.raises(ModelError, match="the model signing key is shorter than 16 bytes"):
        Model.load(d, schema=(names, schema_hash), key=b"short")


def test_scores_equal_scikit_learn_bit_for_bit(fitted, network, names):
    # the packed trees (fastpath.trees) and the column fast path against the pipeline as
    # scikit-learn runs it, step by step on a DataFrame
    X, _ = network
    order = [list(fitted.classes_).index(c) for c in ("simbox", "cardfarm", "legit")]
    booster = fitted.pipeline_.named_steps["booster"].estimator_
    assert model_mod.packed_trees(booster) is not None
    fast = fitted.predict_proba(X)
    model_mod._PACKED[booster] = None          # scikit-learn's own predict_proba
    try:
        slow = fitted.pipeline_.predict_proba(model_mod.feature_matrix(X, names))[:, order]
    finally:
        del model_mod._PACKED[booster]
    assert np.isnan(fitted.pipeline_[:-2].transform(model_mod.feature_matrix(X, names))).any()
    assert np.array_equal(fast, slow)


def test_skops_file_with_malformed_trees_is_refused(fitted, names, schema_hash, tmp_path):
    # skops checks the types, not what is in them: a tree node pointing past its tree would
    # make scikit-learn read out of bounds when scoring; loading checks every node first
    import copy
    from skops import io as sio
    d = saved(fitted, tmp_path)
    pipe = copy.deepcopy(fitted.pipeline_)
    nodes = pipe.named_steps["booster"].estimator_._predictors[3][1].nodes
    split = int(np.flatnonzero(nodes["is_leaf"] == 0)[0])
    nodes["left"][split] = 10_000
    sio.dump(pipe, d / "model.skops")
    _rewrite_card(d, files={"model.skops": {"sha256": model_mod.sha256_file(d / "model.skops"),
                                            "bytes": (d / "model.skops").stat().st_size}})
    with pytest.raises(ModelError) as e:
        Model.load(d, schema=(names, schema_hash))
    assert str(e.value) == (
        f"{d / 'model.skops'}: the booster's trees are malformed (tree 10 node {split}: left "
        f"child 10000 is not after it inside the tree ({len(nodes)} nodes)); the file was "
        "damaged or crafted: do not use it, retrain the model")
