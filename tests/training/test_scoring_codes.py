"""ScoringModel scores through byte codes (one column at a time) with the numbers of the
float path (feature_matrix, mask_evidence, quantile_codes, raw_predict: the reference),
bit for bit, on random tables with NaN, infinities, ties on the edges and integer columns."""
import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.training import scoring
from simbox.training.folder import DEFAULT_MODEL
from simbox.training.scoring import load_scorer


@pytest.fixture(scope="module")
def shipped():
    return load_scorer(DEFAULT_MODEL)


def reference_raw(model, X):
    s = model.scoring
    Xm = scoring.feature_matrix(X, model.feature_names).loc[:, s["columns"]].to_numpy()
    codes = scoring.quantile_codes(scoring.mask_evidence(Xm, s["rules"], s["min_events"]),
                                   s["edges"], s["empty"])
    return s["ensemble"].raw_predict(codes)


def reference_proba(model, X):
    s = model.scoring
    logits = scoring.class_logits(scoring.booster_proba(reference_raw(model, X)),
                                  s["booster_classes"])
    p = scoring.calibrated(logits, s["slope"], s["intercept"])
    return p[:, [s["classes"].index(c) for c in scoring.CLASSES]]


def random_table(model, seed, rows):
    """Values drawn from each column's edges (ties), their neighbours, NaN, +-inf and a
    spread around them; about a third of the columns int64; extra columns, shuffled."""
    rng = np.random.default_rng(seed)
    cols = {}
    for name, e in zip(model.scoring["columns"], model.scoring["edges"]):
        e = np.asarray(e) if len(e) else np.array([0.0])
        pool = np.concatenate([e, np.nextafter(e, np.inf), np.nextafter(e, -np.inf),
                               [e.min() - 1, e.max() + 1, 0.0, np.nan, np.inf, -np.inf]])
        v = rng.choice(pool, size=rows)
        v[rng.random(rows) < rng.uniform(0, 0.5)] = np.nan
        if rng.random() < 0.35:       # an integer column (counts): no NaN, rounded edges
            v = np.nan_to_num(np.round(v), posinf=10**6, neginf=-1).astype(np.int64)
        cols[name] = v
    cols["not_a_feature"] = rng.random(rows)
    X = pd.DataFrame(cols, index=pd.Index([f"s{i}" for i in range(rows)], name="imsi"))
    return X[list(rng.permutation(X.columns))]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 300))
def test_codes_path_equals_the_float_path(shipped, seed, rows):
    X = random_table(shipped, seed, rows)
    assert np.array_equal(shipped._raw_from_codes(X), reference_raw(shipped, X))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 200), min_events=st.integers(0, 8))
def test_chained_evidence_rules(shipped, seed, rows, min_events):
    """Rules whose counts are another rule's statistic (masked before they are summed),
    several rules on one statistic, a rule over several counts."""
    rng = np.random.default_rng(seed)
    m = copy.copy(shipped)
    m.scoring = dict(shipped.scoring)
    n = len(m.scoring["columns"])
    a, b, c, d = (int(i) for i in rng.choice(n, size=4, replace=False))
    m.scoring["rules"] = [(a, [b]), (b, [a, c]), (a, [d]), (c, [a, b, d]), (d, [d])]
    m.scoring["min_events"] = min_events
    X = random_table(m, seed, rows)
    assert np.array_equal(m._raw_from_codes(X), reference_raw(m, X))
    assert np.array_equal(m.predict_proba(X), m.predict_proba(X.astype(np.float64)))


def test_bins_wider_than_a_byte_take_the_float_path(shipped, monkeypatch):
    m = copy.copy(shipped)
    m.scoring = dict(shipped.scoring)
    m.scoring["edges"] = list(m.scoring["edges"])
    m.scoring["edges"][0] = np.arange(300.0)        # 300 bins: no byte code
    monkeypatch.setattr(m, "_raw_from_codes", None)  # would fail if called
    X = random_table(m, 7, 50)
    assert np.array_equal(m.predict_proba(X), reference_proba(m, X))


def test_probabilities_of_the_shipped_model_match_the_reference(shipped):
    X = random_table(shipped, 3, 2000)
    assert np.array_equal(shipped.predict_proba(X), reference_proba(shipped, X))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1) | st.just(np.nan)),
                min_size=0, max_size=40),
       st.floats(0, 1))
def test_decisions_classes_as_the_unicode_expression(rows, threshold):
    """``decisions``' class column (texts picked by code from an object array) equals the
    numpy unicode expression it replaced: the same values and dtype, NaN and ties included."""
    p = np.array(rows, dtype=float).reshape(-1, 3)
    index = pd.Index([f"{i:015d}" for i in range(len(p))], dtype=object)
    got = scoring.decisions(p, index, threshold)
    flagged = (1.0 - p[:, 2]) >= float(threshold)
    fraud = np.where(p[:, 0] >= p[:, 1], scoring.FRAUD_CLASSES[0], scoring.FRAUD_CLASSES[1])
    want = pd.DataFrame(index=index)
    want["class"] = np.where(flagged, fraud, "legit")
    pd.testing.assert_series_equal(got["class"], want["class"])
    assert list(got.columns) == list(scoring.PREDICT_COLUMNS)


class ArraysRun:
    """A feature run as the scan hands it to the model: ``columns`` (the keys, then one
    array per column) and ``key_index`` (:class:`simbox.features.FeatureResult`'s)."""

    def __init__(self, X):
        self.columns = {"imsi": X.index.to_numpy(dtype=object),
                        **{c: X[c].to_numpy() for c in X.columns}}
        self._index = pd.Index(X.index, name="imsi", dtype=object)

    def key_index(self):
        return self._index


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 300))
def test_a_feature_runs_arrays_score_as_its_dataframe(shipped, seed, rows):
    """``predict`` of a feature run's arrays (``features_of``: no DataFrame made) equals
    ``predict`` of the DataFrame (the reference), columns, dtypes and index."""
    X = random_table(shipped, seed, rows)
    run = ArraysRun(X)
    X = X.set_axis(run.key_index())       # (FeatureResult.features: indexed by key_index)
    assert scoring.features_of(shipped, run) is run
    got = shipped.predict(run, threshold=0.3)
    pd.testing.assert_frame_equal(got, shipped.predict(X, threshold=0.3))


def test_a_feature_runs_arrays_are_checked_as_a_dataframe(shipped):
    X = random_table(shipped, 5, 20)
    names = shipped.feature_names
    for drop in ([names[0]], names[:10]):
        with pytest.raises(scoring.InputError) as df_err:
            shipped.predict(X.drop(columns=drop))
        with pytest.raises(scoring.InputError) as run_err:
            shipped.predict(ArraysRun(X.drop(columns=drop)))
        assert str(run_err.value) == str(df_err.value)
        assert "lack" in str(run_err.value)
    bad = X.assign(**{names[1]: ["x"] * len(X), names[4]: [True] * len(X)})
    with pytest.raises(scoring.InputError) as df_err:
        shipped.predict(bad)
    with pytest.raises(scoring.InputError) as run_err:
        shipped.predict(ArraysRun(bad))
    assert str(run_err.value) == str(df_err.value)
    assert "not numeric" in str(run_err.value)


def test_the_float_path_of_a_feature_run_uses_its_dataframe(shipped, monkeypatch):
    """Bins wider than a byte: the run's DataFrame (``FeatureResult.features``) is scored."""
    m = copy.copy(shipped)
    m.scoring = dict(shipped.scoring)
    m.scoring["edges"] = list(m.scoring["edges"])
    m.scoring["edges"][0] = np.arange(300.0)
    X = random_table(m, 9, 40)
    run = ArraysRun(X)
    run.features = X
    assert np.array_equal(m.predict_proba(run), reference_proba(m, X))
