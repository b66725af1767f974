import numpy as np
from hypothesis import given, settings, strategies as st

from simbox.training.threshold import (precision_recall_curve_weighted, threshold_bootstrap,
                                       threshold_for_precision)


def reference_threshold(y, s, w, target):
    """Brute force: every distinct score, keep those reaching target, take the lowest."""
    best = np.inf
    for t in sorted(set(s)):
        f = s >= t
        tp, fp = (w * (y & f)).sum(), (w * (~y & f)).sum()
        if tp > 0 and tp / (tp + fp) >= target:
            best = min(best, t)
    return best


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20), st.sampled_from([1.0, 1.0, 4.0])),
                min_size=1, max_size=60),
       st.sampled_from([0.5, 0.8, 0.9, 1.0]))
def test_threshold_matches_brute_force(rows, target):
    y = np.array([r[0] for r in rows]); s = np.array([r[1] / 20 for r in rows])
    w = np.array([r[2] for r in rows])
    assert threshold_for_precision(y, s, target, w) == reference_threshold(y, s, w, target)


def test_weights_count_sampled_negatives_fully():
    y = np.array([1, 1, 1, 1, 0, 0], bool)
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.65, 0.1])
    assert threshold_for_precision(y, s, 0.8) == 0.6          # 4 TP, 1 FP: precision 0.8
    w = np.array([1, 1, 1, 1, 10, 10.0])                     # the negative stands for 10 SIMs
    assert threshold_for_precision(y, s, 0.8, w) == 0.7
    assert threshold_for_precision(y, s, 1.0, w) == 0.7
    assert threshold_for_precision(~y, s, 1.0) == np.inf


def test_pr_curve_weighted():
    thr, p, r = precision_recall_curve_weighted([1, 0, 1], [0.9, 0.5, 0.5], [1, 3, 1])
    assert thr.tolist() == [0.9, 0.5]
    assert p.tolist() == [1.0, 0.4]
    assert r.tolist() == [0.5, 1.0]


def test_threshold_bootstrap_interval_contains_threshold():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(200), 5)
    y = np.repeat(rng.random(200) < 0.3, 5)
    s = np.clip(np.where(y, 0.7, 0.3) + rng.normal(0, 0.15, len(y)), 0, 1)
    r = threshold_bootstrap(y, s, groups, 0.95, n_boot=100, seed=3)
    assert r["threshold"] == threshold_for_precision(y, s, 0.95)
    lo, hi = r["ci"]
    assert lo <= r["threshold"] <= hi and lo < hi
    assert r["unreachable_share"] == 0.0
    again = threshold_bootstrap(y, s, groups, 0.95, n_boot=100, seed=3)
    assert again == r
