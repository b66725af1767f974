"""The reasons' picking kernel (``simbox._reasons.pick_places``, behind ``reasons._pick_all``)
against the rule written row by row in Python: random scores with ties (exact, -0.0 and
0.0, at the floor), NaN scores and values, shared phrase groups, limits per SIM, SIMs
that arrive with places and groups already taken (the deviations' pass after the
contributions'), and strided or Fortran-ordered inputs as pandas hands them over."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from simbox._reasons import pick_places
from simbox.reasons import _pick_all


def reference(values, scores, rank, group_of, floor, limit, count, picked, used):
    """Each SIM on its own: every feature sorted by (-score, rank, column), in turn."""
    n, f = scores.shape
    for i in range(n):
        order = sorted((j for j in range(f) if scores[i, j] > floor),
                       key=lambda j: (-scores[i, j], rank[j], j))
        for j in order:
            if count[i] >= limit[i]:
                break
            if np.isnan(values[i, j]) or used[i, group_of[j]]:
                continue
            used[i, group_of[j]] = True
            picked[i, count[i]] = j
            count[i] += 1


@st.composite
def cases(draw):
    n = draw(st.integers(0, 30))
    f = draw(st.integers(0, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    pool = np.array([np.nan, -0.0, 0.0, 0.01, 0.02, 1.0, 1.0000000000000002, 2.5, 5.0, np.inf, -3.0])
    scores = rng.choice(pool, size=(n, f))
    values = np.where(rng.random((n, f)) < 0.15, np.nan, rng.random((n, f)))
    rank = rng.integers(0, max(f // 2, 1), size=f)             # equal ranks: the column decides
    groups = int(rng.integers(1, max(f, 1) + 1))
    group_of = rng.integers(0, groups, size=f)
    top = draw(st.integers(0, 6))
    limit = rng.integers(0, top + 1, size=n)
    count = np.zeros(n, dtype=np.int64)
    picked = np.full((n, top), -1, dtype=np.int64)
    used = np.zeros((n, groups), dtype=bool)
    for i in range(n):                                        # places taken by an earlier pass
        for j in rng.permutation(f)[:int(rng.integers(0, 3))]:
            if count[i] < min(limit[i], top) and not used[i, group_of[j]]:
                used[i, group_of[j]] = True
                picked[i, count[i]] = j
                count[i] += 1
    floor = float(draw(st.sampled_from([0.0, 0.01, 1.0, -1.0])))
    return values, scores, rank, group_of, floor, limit, count, picked, used


@settings(max_examples=400, deadline=None)
@given(cases(), st.booleans())
@example((np.array([[1.0, 1.0, 1.0]]), np.array([[5.0, 5.0, 5.0]]), np.array([1, 0, 0]),
          np.array([0, 1, 1]), 1.0, np.array([4]), np.zeros(1, dtype=np.int64),
          np.full((1, 4), -1, dtype=np.int64), np.zeros((1, 2), dtype=bool)), False)
def test_kernel_equals_the_row_by_row_rule(case, fortran):
    values, scores, rank, group_of, floor, limit, count, picked, used = case
    want = [a.copy() for a in (count, picked, used)]
    reference(values, scores, rank, group_of, floor, np.minimum(limit, picked.shape[1]), *want)
    if fortran:                       # DataFrame.to_numpy of one float block: Fortran order
        values, scores = np.asfortranarray(values), np.asfortranarray(scores)
    _pick_all(values, scores, rank, group_of, floor, limit, count, picked, used)
    for got, exp in zip((count, picked, used), want):
        np.testing.assert_array_equal(got, exp)


def test_equal_scores_and_ranks_go_by_column_and_groups_are_worded_once():
    values = np.ones((1, 4))
    scores = np.array([[5.0, 5.0, 5.0, 7.0]])
    count, picked = np.zeros(1, dtype=np.int64), np.full((1, 4), -1, dtype=np.int64)
    used = np.zeros((1, 3), dtype=bool)
    _pick_all(values, scores, np.array([2, 0, 0, 9]), np.array([0, 1, 1, 2]), 1.0,
              np.array([4]), count, picked, used)
    assert count.tolist() == [3] and picked.tolist() == [[3, 1, 0, -1]]   # 2: group 1 taken


def test_disagreeing_shapes_and_groups_out_of_range_are_refused():
    one = np.ones((2, 3))
    count, picked = np.zeros(2, dtype=np.int64), np.full((2, 2), -1, dtype=np.int64)
    used = np.zeros((2, 2), dtype=np.uint8)
    tie, limit = np.arange(3, dtype=np.int64), np.full(2, 2, dtype=np.int64)
    with pytest.raises(ValueError, match="shapes do not agree"):
        pick_places(np.ones((3, 3)), one, tie, np.zeros(3, dtype=np.int64), 0.0, limit, count,
                    picked, used)
    with pytest.raises(ValueError, match="group 2 is out of range"):
        pick_places(one, one, tie, np.array([0, 1, 2], dtype=np.int64), 0.0, limit, count,
                    picked, used)
