"""Scores between drops (simbox/watch/rescore.py): the SIMs a drop changed are scored
again, the others keep their scores; every SIM at the first drop of a network hour."""

import numpy as np
import pandas as pd
import pytest

from simbox.watch import Watcher
from simbox.watch.rescore import DRIFTING, TOLERANCE, Rescorer
from simbox.watch.window import HOUR

from watch_helpers import drop_each, quarter_hours

EXACT = ["n_moc", "moc_callees", "imei_max_imsis"]
DRIFT = ["moc_per_day_pct", "lifetime_share"]
assert set(DRIFT) <= set(DRIFTING) and not set(EXACT) & set(DRIFTING)


def _linear(X: pd.DataFrame) -> pd.DataFrame:
    """A model whose score is a fixed linear function of the row (the reference)."""
    w = np.arange(1, X.shape[1] + 1, dtype=float) / X.shape[1]
    score = X.to_numpy(float) @ w
    return pd.DataFrame({"score": score, "flagged": score > 1.0}, index=X.index)


def _table(rng, n):
    return pd.DataFrame({**{c: rng.integers(0, 5, n).astype(float) for c in EXACT},
                         **{c: rng.uniform(0, 1, n) for c in DRIFT}},
                        index=[f"s{i:04d}" for i in range(n)])


def _check_policy(scorer, seed):
    """24 drops of 15 minutes against the linear model: what the policy says of the scores
    after each (module docstring of simbox/watch/rescore.py)."""
    rng = np.random.default_rng(seed)
    r = scorer(_linear)
    feats = _table(rng, 400)
    t = 10 * HOUR
    r(feats, t)                                        # the first drop: every SIM
    assert r.last["full"]
    partial = 0
    for step in range(24):
        t += 900                                       # 15-minute drops
        feats = feats.copy()
        touched = rng.choice(feats.index, 30, replace=False)
        feats.loc[touched, EXACT[0]] += 1              # their own events
        feats[DRIFT] += rng.uniform(-0.004, 0.004, (len(feats), len(DRIFT)))  # the population
        if step % 5 == 2:                              # a few rows drift far
            feats.loc[feats.index[:3], DRIFT[0]] += 0.1
        if step % 7 == 3:                              # a new SIM, a SIM that left
            feats.loc["n%03d" % step] = feats.iloc[0] + 1
            feats = feats.drop(feats.index[5])
        preds = r(feats, t)
        full = _linear(feats)
        assert list(preds.index) == list(feats.index)
        if t % HOUR < 900:                             # the first drop of a network hour
            assert r.last["full"]
            np.testing.assert_array_equal(preds["score"], full["score"])
            continue
        partial += 1
        assert r.last["rescored"] < len(feats)
        # every kept score is the model's on the row it was scored on ...
        np.testing.assert_allclose(preds["score"], _linear(r.features)["score"], rtol=0,
                                   atol=1e-12)
        # ... which is today's row, but for drifting columns within the tolerance
        pd.testing.assert_frame_equal(r.features[EXACT], feats[EXACT])
        assert (np.abs(r.features[DRIFT] - feats[DRIFT]) <= TOLERANCE).all().all()
        # the SIMs a drop touched are scored again
        np.testing.assert_allclose(preds.loc[touched, "score"], full.loc[touched, "score"],
                                   rtol=0, atol=1e-12)
    assert partial >= 12


@pytest.mark.parametrize("seed", [5, 6])
def test_kept_scores_follow_the_policy(seed):
    _check_policy(Rescorer, seed)


class _OnlyNew(Rescorer):
    """A mutation: only new SIMs scored between full rescores."""

    def _changed(self, pos, now, columns):
        return pos < 0


class _NoDriftLimit(Rescorer):
    """A mutation: drifting columns never rescore a SIM."""

    def _changed(self, pos, now, columns):
        other = ~np.isin(columns, DRIFTING)
        a, b = self._values[pos][:, other], now[:, other]
        return ~((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1) | (pos < 0)


@pytest.mark.parametrize("mutant", [_OnlyNew, _NoDriftLimit])
def test_the_policy_test_can_fail(mutant):
    with pytest.raises(AssertionError):
        _check_policy(mutant, 5)


def test_watch_scores_equal_a_full_rescore_where_the_policy_says(tmp_path, sample_rows,
                                                                   cells_csv, model):
    """Drops of 15 minutes into a watch: at the first drop of each network hour the scores
    are the model's on the whole table; between, each kept score is the model's on the row
    it was scored on, whose columns are today's but for the drifting ones (within the
    tolerance), and fewer SIMs than all are scored."""
    plan = quarter_hours(sample_rows, 10)             # two days in one file, then 15 minutes
    drops = tmp_path / "drops"
    drops.mkdir()
    w = Watcher(drops, tmp_path / "state", None, window="7d", model=model, cells=cells_csv,
                timezone="UTC", settle=0, min_history=0)
    seen = {"full": 0, "partial": 0}
    score = w._score

    def checked(feats):
        preds = score(feats)
        r = w.rescorer
        if r.last["full"]:
            seen["full"] += 1
            want = model.predict(feats, threshold=w.threshold)
            np.testing.assert_array_equal(preds["score"], want["score"])
            return preds
        seen["partial"] += 1
        assert r.last["rescored"] < len(feats)
        again = model.predict(r.features, threshold=w.threshold)
        np.testing.assert_allclose(preds["score"], again["score"], rtol=0, atol=1e-12)
        other = [c for c in feats.columns if c not in DRIFTING]
        a, b = r.features[other].to_numpy(float), feats[other].to_numpy(float)
        assert ((a == b) | (np.isnan(a) & np.isnan(b))).all()
        drift = [c for c in feats.columns if c in DRIFTING]
        a, b = r.features[drift].to_numpy(float), feats[drift].to_numpy(float)
        assert ((np.abs(a - b) <= TOLERANCE) | (np.isnan(a) & np.isnan(b))).all()
        return preds
    w._score = checked
    try:
        drop_each(w, sample_rows, plan, drops)
    finally:
        w.close()
    assert seen["full"] >= 2 and seen["partial"] >= 4, seen
