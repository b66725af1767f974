"""scoring.npz: the arrays a scan scores with, without scikit-learn or skops
(simbox.training.scoring), against the full pipeline (Model.predict) as reference."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from simbox.errors import ModelError
from simbox.training import scoring
from simbox.training.convert_model import add_scoring
from simbox.training.folder import DEFAULT_MODEL, sha256_file
from simbox.training.model import Model, feature_matrix, packed_trees
from simbox.training.scoring import ScoringModel, load_scorer

KEY = b"0123456789abcdef-team-secret"


def fit(network, names, schema_hash, relabel=None):
    X, truth = network
    y = truth["label"] if relabel is None else truth["label"].replace(relabel)
    m = Model(feature_names=names, schema_hash=schema_hash, max_iter=30)
    m.fit(X, y, groups=truth["case_id"])
    m.threshold = 0.4
    return m


@pytest.fixture(scope="module")
def fitted(network, names, schema_hash):
    return fit(network, names, schema_hash)


@pytest.fixture
def folder(fitted, tmp_path):
    fitted.card = {"timezone": "UTC"}
    return fitted.save(tmp_path / "m")


def perturbed(X, seed):
    """Rows of ``X`` redrawn, rescaled, with NaNs, infinities, evidence counts near the
    minimum, columns missing entirely, extra columns and another column order."""
    rng = np.random.default_rng(seed)
    Y = X.sample(len(X) // 2, random_state=seed, replace=True).reset_index(drop=True)
    Y = Y * rng.choice([0.0, 0.3, 1.0, 1.0, 2.5], size=Y.shape)
    Y = Y.mask(rng.random(Y.shape) < rng.uniform(0.05, 0.5))
    Y.iloc[:, int(rng.integers(Y.shape[1]))] = np.nan
    Y.iloc[rng.integers(len(Y), size=5), int(rng.integers(Y.shape[1]))] = np.inf
    for c in ("n_moc", "n_mtc"):           # counts the evidence mask reads
        Y[c] = np.where(rng.random(len(Y)) < 0.3, rng.integers(0, 6, len(Y)), Y[c])
    Y["not_a_feature"] = rng.random(len(Y))
    Y.index = pd.Index([f"s{i}" for i in range(len(Y))], name="imsi")
    return Y[list(rng.permutation(Y.columns))]


def assert_same_scores(full, light, X, threshold=None):
    assert np.array_equal(full.predict_proba(X), light.predict_proba(X), equal_nan=True)
    a, b = full.predict(X, threshold=threshold), light.predict(X, threshold=threshold)
    assert a.equals(b)


def test_light_model_scores_bit_for_bit(folder, fitted, network, names, schema_hash):
    light = load_scorer(folder, schema=(names, schema_hash))
    assert isinstance(light, ScoringModel)
    assert (light.threshold, light.feature_names, light.schema_hash) == (0.4, names, schema_hash)
    assert light.card == json.loads((folder / "model.json").read_text())
    X, _ = network
    assert_same_scores(fitted, light, X)
    masked = fitted.pipeline_[:-3].transform(perturbed(X, 0)[names])
    assert np.isnan(masked).sum() > np.isnan(perturbed(X, 0)[names].to_numpy()).sum()
    for seed in range(6):
        Y = perturbed(X, seed)
        assert_same_scores(fitted, light, Y)
        assert_same_scores(fitted, light, Y, threshold=float(np.median(
            fitted.predict(Y)["score"])))
    assert_same_scores(fitted, light, X.iloc[:0])


def test_two_class_booster(network, names, schema_hash, tmp_path):
    # labels of one fraud class: the booster has one output (logistic, not softmax)
    m = fit(network, names, schema_hash, relabel={"cardfarm": "simbox"})
    booster = m.pipeline_.named_steps["booster"].estimator_
    assert booster.n_trees_per_iteration_ == 1
    # the logistic of the packed trees against scikit-learn's own predict_proba
    codes = m.pipeline_[:-2].transform(feature_matrix(network[0], names))
    assert np.array_equal(scoring.booster_proba(packed_trees(booster).raw_predict(codes)),
                          booster.predict_proba(codes))
    light = load_scorer(m.save(tmp_path / "m2"), schema=(names, schema_hash))
    assert isinstance(light, ScoringModel)
    for seed in range(3):
        assert_same_scores(m, light, perturbed(network[0], seed))


def test_shipped_default_model(tmp_path):
    full, light = Model.load(DEFAULT_MODEL), load_scorer(DEFAULT_MODEL)
    assert isinstance(light, ScoringModel)
    X = pd.read_parquet(DEFAULT_MODEL / "knowledge.parquet", columns=full.feature_names)
    X = X.sample(4000, random_state=0)
    assert_same_scores(full, light, X)
    rng = np.random.default_rng(1)
    assert_same_scores(full, light, X.mask(rng.random(X.shape) < 0.2) * 1.5)
    # the shipped file is what --add-scoring derives from model.skops, byte for byte
    d = tmp_path / "dm"
    d.mkdir()
    for f in ("model.json", "model.skops"):
        shutil.copy(DEFAULT_MODEL / f, d / f)
    card = json.loads((d / "model.json").read_text())
    del card["files"]["scoring.npz"]
    (d / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    assert add_scoring(d) == d / "scoring.npz"
    assert (d / "scoring.npz").read_bytes() == (DEFAULT_MODEL / "scoring.npz").read_bytes()
    assert (d / "model.json").read_bytes() == (DEFAULT_MODEL / "model.json").read_bytes()


def test_file_is_listed_deterministic_and_plain_arrays(folder, fitted, tmp_path):
    card = json.loads((folder / "model.json").read_text())
    assert card["files"]["scoring.npz"] == {"sha256": sha256_file(folder / "scoring.npz"),
                                            "bytes": (folder / "scoring.npz").stat().st_size}
    again = fitted.save(tmp_path / "again")
    assert (again / "scoring.npz").read_bytes() == (folder / "scoring.npz").read_bytes()
    with np.load(folder / "scoring.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def rewrite(folder, write=scoring.write_npz, **arrays):
    """Replace arrays of scoring.npz and update its sha256 in the card (a crafted file)."""
    with np.load(folder / "scoring.npz", allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    data.update(arrays)
    write(folder / "scoring.npz", data)
    card = json.loads((folder / "model.json").read_text())
    card["files"]["scoring.npz"] = {"sha256": sha256_file(folder / "scoring.npz"),
                                    "bytes": (folder / "scoring.npz").stat().st_size}
    (folder / "model.json").write_text(json.dumps(card))


def test_damaged_or_missing_file_is_refused(folder, names, schema_hash):
    f = folder / "scoring.npz"
    data = f.read_bytes()
    f.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    with pytest.raises(ModelError) as e:
        load_scorer(folder, schema=(names, schema_hash))
    assert str(e.value) == (f"{f}: sha256 differs from model.json (same size, different "
                            "content): the file is truncated or corrupted; copy the model folder "
                            "again or retrain")
    f.unlink()
    with pytest.raises(ModelError) as e:
        load_scorer(folder, schema=(names, schema_hash))
    assert str(e.value) == f"{f}: missing; copy the whole model folder again or retrain"


@pytest.mark.parametrize("change, message", [
    (lambda z: {"node_left": np.where(z["node_is_leaf"] == 0, 10_000, 0).astype(np.int32)},
     r"tree 0 node 0: left child 10000 is not after it inside the tree"),
    (lambda z: {"node_feature": z["node_feature"] + 1000},
     r"feature 10\d\d outside the 18 features"),
    (lambda z: {"evidence_counts": z["evidence_counts"] + 99}, r"a feature index outside"),
    (lambda z: {"evidence_offsets": z["evidence_offsets"][:-1]}, r"offsets do not cut"),
    (lambda z: {"quantile_offsets": z["quantile_offsets"][:5]}, r"offsets do not cut"),
    (lambda z: {"quantile_edges": z["quantile_edges"][::-1].copy()}, r"edges are not sorted"),
    (lambda z: {"tree_sizes": z["tree_sizes"][:-1]}, r"do not add up to the nodes"),
    (lambda z: {"tree_output": z["tree_output"] + 3}, r"an output column outside"),
    (lambda z: {"classes": np.array(["a", "b", "c"])}, r"classes \['a', 'b', 'c'\]"),
    (lambda z: {"calibrator_slope": np.array("steep")}, r"'calibrator_slope' is <U5"),
    (lambda z: {"format": np.array("simbox-scoring/9")}, r"format 'simbox-scoring/9'"),
])
def test_crafted_file_is_refused(folder, names, schema_hash, change, message):
    with np.load(folder / "scoring.npz", allow_pickle=False) as z:
        rewrite(folder, **change(z))
    with pytest.raises(ModelError, match=rf"scoring.npz: malformed \(.*{message}.*\); the file was "
                                         "damaged or crafted: do not use it, retrain the model"):
        load_scorer(folder, schema=(names, schema_hash))


def test_pickled_array_is_not_loaded(folder, names, schema_hash):
    def pickling(path, data):
        with open(path, "wb") as fh:
            np.savez(fh, **data)
    rewrite(folder, write=pickling, columns=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ModelError, match=r"scoring.npz: cannot be read \(ValueError: Object "
                                         r"arrays cannot be loaded when allow_pickle=False\)"):
        load_scorer(folder, schema=(names, schema_hash))


def test_signed_folder_covers_the_file(fitted, names, schema_hash, tmp_path, network):
    d = fitted.save(tmp_path / "s", key=KEY)
    light = load_scorer(d, schema=(names, schema_hash), key=KEY)
    assert isinstance(light, ScoringModel)
    assert_same_scores(fitted, light, network[0])
    rewrite(d, calibrator_slope=np.array(50.0))       # sha256 updated, signature not
    with pytest.raises(ModelError, match="signature does not match the signing key"):
        load_scorer(d, schema=(names, schema_hash), key=KEY)
    # --add-scoring on a signed folder: only with its key, which signs the new card
    card = json.loads((d / "model.json").read_text())
    with pytest.raises(ModelError, match="the model folder is signed; give its key"):
        add_scoring(d)
    fitted.save(d, key=KEY)
    add_scoring(d, key=KEY)
    assert json.loads((d / "model.json").read_text())["signature"] != card["signature"]
    assert_same_scores(fitted, load_scorer(d, schema=(names, schema_hash), key=KEY), network[0])


def test_folder_without_the_file_loads_its_pipeline(folder, fitted, names, schema_hash, network):
    (folder / "scoring.npz").unlink()
    card = json.loads((folder / "model.json").read_text())
    del card["files"]["scoring.npz"]
    (folder / "model.json").write_text(json.dumps(card))
    m = load_scorer(folder, schema=(names, schema_hash))
    assert isinstance(m, Model)
    assert m.predict(network[0]).equals(fitted.predict(network[0]))
    add_scoring(folder)
    assert_same_scores(fitted, load_scorer(folder, schema=(names, schema_hash)), network[0])


def test_schema_is_checked(folder, names, schema_hash):
    with pytest.raises(ModelError, match="feature schema .* differs from this simbox's"):
        load_scorer(folder, schema=(names, "another-hash"))


SCAN = """
import sys
from simbox.cli import main
rc = main(["scan", sys.argv[1], "--cells", sys.argv[2], "--timezone", "UTC", "--out", sys.argv[3],
           "--no-history", *sys.argv[4:]])    # compared scans: neither sees the other's flags
print(rc, sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "skops"}))
"""


def test_scan_imports_neither_scikit_learn_nor_skops(tmp_path):
    from simbox.data import simulate
    simulate(1500, 2, "baseline", 5, tmp_path / "net")
    old = tmp_path / "old_model"           # the shipped model without scoring.npz: the control
    old.mkdir()
    for f in ("model.json", "model.skops"):
        shutil.copy(DEFAULT_MODEL / f, old / f)
    card = json.loads((old / "model.json").read_text())
    del card["files"]["scoring.npz"]
    (old / "model.json").write_text(json.dumps(card))

    def scan(out, *args):
        env = dict(os.environ, SIMBOX_HISTORY=str(tmp_path / f"history-{out}.sqlite"))
        proc = subprocess.run([sys.executable, "-c", SCAN, str(tmp_path / "net" / "cdrs.csv.gz"),
                               str(tmp_path / "net" / "cells.csv"), str(tmp_path / out), *args],
                              capture_output=True, text=True, timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()[-1]
    assert scan("light") == "0 []"
    assert scan("full", "--model", str(old)) == "0 ['sklearn', 'skops']"
    for f in ("scores.csv", "deployments.csv"):
        assert (tmp_path / "light" / f).read_bytes() == (tmp_path / "full" / f).read_bytes()
    # flagged.csv: equal but for the history's wall-clock columns (each scan its own history)
    light, full = (pd.read_csv(tmp_path / d / "flagged.csv", dtype=str) for d in ("light", "full"))
    assert len(light) == len(full)
    pd.testing.assert_frame_equal(light.drop(columns=["first_flagged"]),
                                  full.drop(columns=["first_flagged"]))
    assert (tmp_path / "light" / "scores.csv").read_text().count("\n") > 1000


def test_a_model_made_before_features_were_added_scores_with_its_own(folder, names, schema_hash):
    """The registry gained features (e.g. the registration group): a model whose own features
    are defined as when it was made loads; one whose features changed meaning does not."""
    from simbox.features.registry import REGISTRY
    from simbox.features.registry import schema_hash as registry_hash
    from simbox.training.schema import own_features_unchanged
    card = json.loads((folder / "model.json").read_text())
    added = [f.name for f in REGISTRY if f.group == "registration"]
    own = [n for n in card["features"]["names"] if n not in added]
    times = [f.name for f in REGISTRY if f.unit == "epoch s"]
    old_hash = registry_hash(own + times)          # what a registry of only these gave
    assert old_hash != schema_hash
    assert own_features_unchanged(own, old_hash)
    assert not own_features_unchanged(own, "another-hash")
    assert not own_features_unchanged(own + ["retired_feature"], old_hash)
    card["features"]["names"], card["features"]["schema_hash"] = own, old_hash
    (folder / "model.json").write_text(json.dumps(card))
    assert load_scorer(folder, schema=(names, schema_hash)).feature_names == own
