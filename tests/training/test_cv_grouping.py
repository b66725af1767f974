import numpy as np
from hypothesis import given, settings, strategies as st

from simbox.training.cv import grouped_splits, inner_splits


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 5), st.integers(0, 40), st.integers(10, 200))
def test_splits_keep_groups_whole_and_cover_everything(seed, k, n_cases, n_single):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 12, n_cases)
    groups = np.r_[np.repeat([f"case{i}" for i in range(n_cases)], sizes),
                   [f"u{i}" for i in range(n_single)]].astype(str)
    y = np.r_[np.repeat(rng.choice(["simbox", "cardfarm"], n_cases), sizes),
              np.full(n_single, "legit")]
    if any(len(set(groups[y == c])) < 2 for c in set(y)) or len(set(groups)) < k:
        return
    splits = grouped_splits(y, groups, n_splits=k, seed=seed)
    seen = np.zeros(len(y), int)
    for tr, te in splits:
        assert not set(groups[tr]) & set(groups[te])
        assert len(tr) + len(te) == len(y)
        seen[te] += 1
    assert (seen == 1).all()
    if min(len(set(groups[y == c])) for c in set(y)) >= 3:     # else: ungrouped, with a warning
        for tr, te in inner_splits(y, groups, n_splits=3, seed=seed):
            assert not set(groups[tr]) & set(groups[te])


def test_singletons_spread_evenly():
    y = np.r_[np.repeat(["simbox", "cardfarm"], 50), np.full(5000, "legit")]
    groups = np.r_[np.repeat([f"c{i}" for i in range(20)], 5), [f"u{i}" for i in range(5000)]]
    splits = grouped_splits(y, groups, n_splits=5)
    sizes = [len(te) for _, te in splits]
    assert max(sizes) - min(sizes) <= 10
    for _, te in splits:
        assert (y[te] == "simbox").sum() > 0 and (y[te] == "cardfarm").sum() > 0
