"""The reasons' picking kernel (``simbox._reasons.pick_places``, behind ``reasons._pick_all``)
against the rule written row by row in Python: random scores with ties (exact, -0.0 and
0.0, at the floor), NaN scores and values, shared phrase groups, limits per SIM, SIMs
that arrive with places and groups already taken (the deviations' pass after the
contributions'), and strided or Fortran-ordered inputs as pandas hands them over."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from simbox._reasons import pick_places
from simbox.reasons import CAP, _deviation_array, _pick_all


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
@given(cases(), st.booleans(), st.booleans())
@example((np.array([[1.0, 1.0, 1.0]]), np.array([[5.0, 5.0, 5.0]]), np.array([1, 0, 0]),
          np.array([0, 1, 1]), 1.0, np.array([4]), np.zeros(1, dtype=np.int64),
          np.full((1, 4), -1, dtype=np.int64), np.zeros((1, 2), dtype=bool)), False, False)
def test_kernel_equals_the_row_by_row_rule(case, fortran, by_rows):
    """Scores per SIM, or a few score rows shared out by ``rows`` (-1: none), as the
    contributions of the SIMs occluded are given."""
    values, scores, rank, group_of, floor, limit, count, picked, used = case
    n = len(values)
    rows = None
    if by_rows:
        rng = np.random.default_rng(n)
        rows = np.where(rng.random(n) < 0.3, -1, rng.permutation(n)).astype(np.int64)
        full = np.full_like(scores, np.nan)
        full[rows >= 0] = scores[rows[rows >= 0]]
        want_scores = full
    else:
        want_scores = scores
    want = [a.copy() for a in (count, picked, used)]
    reference(values, want_scores, rank, group_of, floor, np.minimum(limit, picked.shape[1]), *want)
    if fortran:                       # DataFrame.to_numpy of one float block: Fortran order
        values, scores = np.asfortranarray(values), np.asfortranarray(scores)
    _pick_all(values, scores, rank, group_of, floor, limit, count, picked, used, rows=rows)
    for got, exp in zip((count, picked, used), want):
        np.testing.assert_array_equal(got, exp)


@settings(max_examples=300, deadline=None)
@given(cases(), st.integers(0, 2**32 - 1))
def test_deviations_made_in_the_kernel_equal_deviation_array(case, seed):
    """The deviation pass: the kernel's z-scores (per SIM, as it picks) pick what the
    array of ``_deviation_array`` picks: NaN and infinite values, NaN medians (a column the
    statistics lack), directions -1, 0 (absolute value) and +1, the cap."""
    values, scores, rank, group_of, floor, limit, count, picked, used = case
    f = values.shape[1]
    rng = np.random.default_rng(seed)
    x = scores * rng.choice([1.0, 3.0, -7.0, 1e6], size=scores.shape)      # the scale's values
    med = np.where(rng.random(f) < 0.15, np.nan, rng.normal(0, 2, f))
    scale = rng.choice([1e-3, 0.5, 1.0, 4.0], size=f)
    direction = rng.choice([-1.0, 0.0, 1.0], size=f)
    dev = x.copy()
    dev -= med
    dev /= scale
    for j in range(f):
        dev[:, j] = dev[:, j] * direction[j] if direction[j] != 0 else np.abs(dev[:, j])
    np.minimum(dev, CAP, out=dev)
    want = [a.copy() for a in (count, picked, used)]
    reference(values, dev, rank, group_of, floor, np.minimum(limit, picked.shape[1]), *want)
    _pick_all(values, x, rank, group_of, floor, limit, count, picked, used,
              deviation=(med, scale, direction))
    for got, exp in zip((count, picked, used), want):
        np.testing.assert_array_equal(got, exp)


def test_the_deviation_statement_here_is_deviation_array():
    """The reference above restates ``_deviation_array`` (no registry column: no log):
    the same numbers."""
    import pandas as pd
    rng = np.random.default_rng(3)
    x = rng.normal(0, 10, (50, 3))
    x[::7, 1] = np.nan
    stats = pd.DataFrame({"median": [1.0, -2.0, 0.5], "scale": [2.0, 0.5, 1e-3]},
                         index=["a", "b", "c"])
    want = x.copy()
    want -= stats["median"].to_numpy()
    want /= stats["scale"].to_numpy()
    want = np.minimum(np.abs(want), CAP)          # columns unknown to the registry: direction 0
    np.testing.assert_array_equal(_deviation_array(x.copy(), ["a", "b", "c"], stats), want)


def test_equal_scores_and_ranks_go_by_column_and_groups_are_worded_once():
    values = np.ones((1, 4))
    scores = np.array([[5.0, 5.0, 5.0, 7.0]])
    count, picked = np.zeros(1, dtype=np.int64), np.full((1, 4), -1, dtype=np.int64)
    used = np.zeros((1, 3), dtype=bool)
    _pick_all(values, scores, np.array([2, 0, 0, 9]), np.array([0, 1, 1, 2]), 1.0,
              np.array([4]), count, picked, used)
    assert count.tolist() == [3] and picked.tolist() == [[3, 1, 0, -1]]   # 2: group 1 taken


def test_disagreeing_shapes_and_groups_or_rows_out_of_range_are_refused():
    one = np.ones((2, 3))
    count, picked = np.zeros(2, dtype=np.int64), np.full((2, 2), -1, dtype=np.int64)
    used = np.zeros((2, 2), dtype=np.uint8)
    tie, limit = np.arange(3, dtype=np.int64), np.full(2, 2, dtype=np.int64)
    rows, groups = np.arange(2, dtype=np.int64), np.zeros(3, dtype=np.int64)
    with pytest.raises(ValueError, match="shapes do not agree"):
        pick_places(np.ones((3, 3)), one, rows, tie, groups, 0.0, limit, count, picked, used)
    with pytest.raises(ValueError, match="group 2 is out of range"):
        pick_places(one, one, rows, tie, np.array([0, 1, 2], dtype=np.int64), 0.0, limit, count,
                    picked, used)
    with pytest.raises(ValueError, match="score row 5 is out of range"):
        pick_places(one, one, np.array([0, 5], dtype=np.int64), tie, groups, 0.0, limit, count,
                    picked, used)
    with pytest.raises(ValueError, match="one value per feature"):
        pick_places(one, one, rows, tie, groups, 0.0, limit, count, picked, used,
                    median=np.zeros(2), scale=np.ones(3), direction=np.ones(3))


def test_float_rows_equal_loc_to_numpy():
    """``reasons._float_rows`` (each column taken on its own, in Fortran order) against
    ``.loc[index, cols].to_numpy(dtype=float)``: int, float, bool, nullable and object
    columns; repeated keys (pandas' own path); a key not there is a KeyError."""
    import pandas as pd
    from simbox.reasons import _float_rows
    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame({
        "i64": rng.integers(-5, 10**12, n), "f64": rng.normal(size=n),
        "i32": rng.integers(0, 9, n).astype(np.int32), "f32": rng.normal(size=n).astype(np.float32),
        "flag": rng.random(n) < 0.5,
        "nullable": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 5, n)),
                             dtype="Int64"),
        "obj": pd.Series(np.where(rng.random(n) < 0.2, None, rng.normal(size=n)), dtype=object),
    }, index=[f"4600{i:011d}" for i in range(n)])
    df.loc[df.index[::11], "f64"] = np.nan
    cols = list(df.columns)
    idx = pd.Index(df.index[rng.permutation(n)[:200]])
    got = _float_rows(df, idx, cols)
    assert got.flags.f_contiguous
    np.testing.assert_array_equal(got, df.loc[idx, cols].to_numpy(dtype=float, na_value=np.nan))
    twice = pd.Index(list(idx[:5]) * 2)
    np.testing.assert_array_equal(_float_rows(df, twice, cols),
                                  df.loc[twice, cols].to_numpy(dtype=float, na_value=np.nan))
    with pytest.raises(KeyError, match="not in the features' index"):
        _float_rows(df, pd.Index(["nope"]), cols)
    # ``out``/``only``: the columns of ``only`` taken again, the others left as they are
    only = np.array([c in ("i64", "f32", "nullable") for c in cols])
    for keys in (idx, twice):
        want = df.loc[keys, cols].to_numpy(dtype=float, na_value=np.nan)
        out = _float_rows(df, keys, cols)
        out[:] = -7.0
        assert _float_rows(df, keys, cols, out=out, only=only) is out
        np.testing.assert_array_equal(out[:, only], want[:, only])
        assert (out[:, ~only] == -7.0).all()


@pytest.mark.parametrize("repeated", [False, True])
def test_contribution_rows_are_those_of_reindex(repeated):
    """``reasons._contribution_rows`` against ``contributions.reindex(index, columns)``: SIMs
    occluded or not (all-NaN rows), SIMs of the contributions not flagged and flagged SIMs
    without contributions, columns the contributions lack or have beyond ``cols``,
    repeated keys."""
    import pandas as pd
    from simbox.reasons import _contribution_rows
    rng = np.random.default_rng(11)
    keys = [f"k{i}" for i in range(60)]
    c = pd.DataFrame(rng.choice([np.nan, 0.0, 0.02, 0.4], size=(40, 5)),
                     index=keys[10:50], columns=["a", "b", "c", "d", "extra"])
    c.iloc[::3] = np.nan                                       # not occluded
    c.iloc[1, :4] = np.nan                                     # NaN in cols, a value beyond
    c.iloc[1, 4] = 0.3
    flagged = pd.Index(keys[:30] + keys[45:60])
    if repeated:
        flagged = flagged.append(pd.Index(keys[20:23]))
    cols = ["d", "a", "missing", "b", "c"]
    scores, rows = _contribution_rows(c, flagged, cols)
    want = c.reindex(index=flagged, columns=cols).to_numpy(dtype=float)
    got = np.full_like(want, np.nan)
    got[rows >= 0] = scores[rows[rows >= 0]]
    np.testing.assert_array_equal(got, want)
    assert ((rows >= 0) == ~np.isnan(want).all(axis=1)).all()
