import numpy as np
from hypothesis import given, settings, strategies as st

from simbox.training.threshold import (PRECISION_GRID, RECALL_SLACK, compact_curve, group_fpr_floor,
                                       pick_on_curve, precision_recall_curve_weighted,
                                       threshold_bootstrap, threshold_for_precision)


def reference_points(y, s, w):
    """Brute force: (threshold, precision, recall) at every distinct score with a true positive."""
    points = []
    for t in sorted(set(s)):
        f = s >= t
        tp, fp = (w * (y & f)).sum(), (w * (~y & f)).sum()
        if tp > 0:
            points.append((t, tp / (tp + fp), tp / (w * y).sum()))
    return points


def reference_threshold(y, s, w, target, slack=None, points=None):
    """Every distinct score reaching target with its recall; the highest within ``slack``
    of the best recall among them (no slack: the lowest such score).  ``points``: those
    of :func:`reference_points`, when already made."""
    points = reference_points(y, s, w) if points is None else points
    ok = [(t, r) for t, p, r in points if p >= target]
    if not ok:
        return np.inf
    best = max(r for _, r in ok)
    if not slack:
        return min(t for t, _ in ok)
    return max(t for t, r in ok if r >= best - slack - 1e-12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20), st.sampled_from([1.0, 1.0, 4.0])),
                min_size=1, max_size=60),
       st.sampled_from([0.5, 0.8, 0.9, 1.0]), st.sampled_from([RECALL_SLACK, 0.005, 0.1, 0.3]))
def test_threshold_matches_brute_force(rows, target, slack):
    y = np.array([r[0] for r in rows]); s = np.array([r[1] / 20 for r in rows])
    w = np.array([r[2] for r in rows])
    assert threshold_for_precision(y, s, target, w, slack) == \
        reference_threshold(y, s, w, target, slack)


def test_precision_first_moves_into_the_gap():
    """1,000 fraud SIMs, 3 of them scoring among the legitimate: the plain choice sits on
    the last legitimate SIM, the one with a recall slack in the gap above it."""
    y = np.r_[np.ones(1000, bool), np.zeros(5000, bool)]
    s = np.r_[np.linspace(0.9, 0.99, 997), [0.05, 0.04, 0.03], np.linspace(0.0, 0.035, 5000)]
    plain = reference_threshold(y, s, np.ones(len(y)), 0.995)
    first = threshold_for_precision(y, s, 0.995, slack=0.005)
    assert plain <= 0.04 and first >= 0.9
    assert (s[y] >= first).mean() >= (s[y] >= plain).mean() - 0.005
    assert threshold_for_precision(y, s, 0.995) == plain      # the default: the lowest
    assert ((s >= first) & ~y).sum() == 0


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
    # the bagged threshold: the median replicate's own choice, a real score
    picks = _bootstrap_picks(y, s, groups, 0.95, 100, 3)
    assert r["bagged"] == np.quantile(picks, 0.5, method="lower")
    assert r["bagged"] in set(s.tolist())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40), st.sampled_from([1.0, 1.0, 3.0])),
                min_size=1, max_size=80),
       st.sampled_from([0.5, 0.75, 0.9, 1.0]))
def test_compact_curve_gives_the_exact_threshold(rows, target):
    """Picking the lowest curve threshold reaching P equals the brute-force choice."""
    y = np.array([r[0] for r in rows]); s = np.array([r[1] / 40 for r in rows])
    w = np.array([r[2] for r in rows])
    curve = compact_curve(y, s, w)
    thr = [t for t, p, _ in curve if p >= target and _ > 0]
    assert (min(thr) if thr else np.inf) == reference_threshold(y, s, w, target)
    # the precision-first choice on the short curve never falls below the target
    t = pick_on_curve(curve, target)
    if t is not None:
        f = s >= t
        assert (w * (y & f)).sum() / (w * f).sum() >= target - 1e-9
    ts = [c[0] for c in curve]
    assert ts == sorted(ts, reverse=True)
    assert [c[1] for c in curve] == sorted((c[1] for c in curve), reverse=True)


def test_compact_curve_is_short_and_never_overstates_precision():
    rng = np.random.default_rng(4)
    y = rng.random(20_000) < 0.1
    s = np.clip(np.where(y, 0.75, 0.35) + rng.normal(0, 0.15, len(y)), 0, 1)
    curve = compact_curve(y, s, max_points=50)
    assert 2 <= len(curve) <= 50
    assert curve[0][1] == 1.0 and curve[-1] == compact_curve(y, s)[-1]
    for t, p, r in curve:
        f = s >= t
        assert p - 1e-12 <= (y & f).sum() / f.sum() < p + 1e-5
        assert r == round((y & f).sum() / y.sum(), 5)
    points = reference_points(y, s, np.ones(len(y)))     # one brute-force pass for every target
    for target in PRECISION_GRID:
        picks = [t for t, p, _ in curve if p >= target]
        assert (min(picks) if picks else np.inf) == reference_threshold(y, s, None, target,
                                                                        points=points)


def _bootstrap_picks(y, s, groups, target, n_boot, seed):
    """Brute force: the plain choice on each case-bootstrap replicate, drawn as the code does."""
    from simbox.training.threshold import group_bootstrap_weights, group_codes
    codes = group_codes(groups)
    picks = []
    for mult in group_bootstrap_weights(codes, n_boot, np.random.default_rng(seed)):
        for m in mult:
            w = m[codes]
            picks.append(threshold_for_precision(y, s, target, w) if (w * y).sum() > 0
                         else np.inf)
    return np.array(picks)



def _group_floor_brute(y, s, g, w, max_fpr):
    """Try every candidate threshold (each score and just above it), lowest first."""
    cands = sorted({float(v) for v in s} | {float(np.nextafter(v, np.inf)) for v in s}
                   | {-np.inf})
    groups = {x for x, yy in zip(g, y) if x and not yy}
    for t in cands:
        ok = True
        for name in groups:
            m = (g == name) & ~y
            if w[m & (s >= t)].sum() > max_fpr * w[m].sum() * (1 + 1e-12):
                ok = False
        if ok:
            return t
    raise AssertionError("no candidate")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 15), st.sampled_from(["", "a", "b", "c"]),
                          st.sampled_from([1.0, 1.0, 5.0])), min_size=1, max_size=60),
       st.sampled_from([0.0, 0.05, 0.1, 0.34]))
def test_group_floor_is_the_lowest_threshold_keeping_every_group_under_the_rate(rows, max_fpr):
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] / 10 for r in rows], dtype=float)
    g = np.array([r[2] for r in rows], dtype=object)
    w = np.array([r[3] for r in rows])
    floor, group = group_fpr_floor(y, s, g, w, max_fpr)
    ref = _group_floor_brute(y, s, g, w, max_fpr)
    # the same flags: no score lies between the two thresholds
    assert ((s >= floor) == (s >= ref)).all()
    if group is not None:
        m = (g == group) & ~y
        lower = s[m][s[m] < floor].max(initial=-np.inf)
        assert w[m & (s >= lower)].sum() > max_fpr * w[m].sum()   # it binds
    else:
        assert floor == -np.inf


def test_group_floor_keeps_a_call_centre_out_that_precision_lets_in():
    # 1000 fraud SIMs at 0.9, 2 call-centre SIMs at 0.5 among 100 (FPR 2e-2), fraud at 0.3
    y = np.r_[np.ones(1000, bool), np.zeros(100, bool), np.ones(10, bool)]
    s = np.r_[np.full(1000, 0.9), [0.5, 0.5], np.full(98, 0.01), np.full(10, 0.3)]
    g = np.r_[[""] * 1000, ["call_centre"] * 100, [""] * 10].astype(object)
    assert threshold_for_precision(y, s, 0.995) <= 0.3          # precision alone flags both
    floor, group = group_fpr_floor(y, s, g, None, 1e-3)
    assert group == "call_centre" and 0.5 < floor < 0.9
