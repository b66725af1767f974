"""The scoring's sums and maxima of the rows of a few columns (``row_sum``, ``row_max``:
column by column) against numpy's reductions along axis 1 (the code they replace), bit for
bit: NaN, infinities, signed zeros, ties; and the functions built on them (softmax, log-sum-
exp, the evidence masks) against their numpy expressions."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simbox.training import scoring

VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-300, 5e-324, 1e300, 0.1, 0.2, 0.3]))


def table(min_cols=1, max_cols=scoring.ROW_COLUMNS):
    return st.tuples(st.integers(0, 60), st.integers(min_cols, max_cols)).flatmap(
        lambda s: arrays(np.float64, s, elements=VALUES))


def same(a, b):
    """The same values bit for bit (-0.0 is not 0.0), NaN where NaN (of any payload)."""
    nan = np.isnan(a)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(nan, np.isnan(b)) and \
        np.array_equal(a[~nan].view(np.int64), b[~nan].view(np.int64))


@settings(max_examples=400, deadline=None)
@given(a=table(), layout=st.sampled_from(["C", "F", "strided", "list"]))
def test_row_sum_and_max_equal_numpys_reductions(a, layout):
    x = np.asfortranarray(a) if layout == "F" else \
        np.repeat(a, 2, axis=1)[:, ::2] if layout == "strided" else a
    given_ = [a[:, j].copy() for j in range(a.shape[1])] if layout == "list" else x
    with np.errstate(all="ignore"):
        assert same(scoring.row_sum(given_), a.sum(axis=1))
        assert same(scoring.row_max(given_), a.max(axis=1))


@settings(max_examples=300, deadline=None)
@given(a=table(1, 3))
def test_softmax_and_logsumexp_equal_the_numpy_expressions(a):
    a = np.where(np.isfinite(a), np.clip(a, -700, 700), 0.0)      # (finite raw sums)
    want = np.array(a, copy=True)
    want -= want.max(axis=1).reshape((-1, 1))
    np.exp(want, out=want)
    want /= want.sum(axis=1).reshape((-1, 1))
    with np.errstate(all="ignore"):
        if a.shape[1] > 1:
            assert same(scoring.booster_proba(a), want)
        top = a.max(axis=1, keepdims=True)
        lse = np.squeeze(top, axis=1) + np.log(np.exp(a - top).sum(axis=1))
        assert same(scoring.logsumexp(a, axis=1), lse)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 50), seed=st.integers(0, 2**32 - 1), min_events=st.integers(0, 6))
def test_evidence_masks_equal_the_stacked_nansums(n, seed, min_events):
    rng = np.random.default_rng(seed)
    cols = [np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 5, n).astype(float))
            for _ in range(5)]
    rules = [(0, [1]), (1, [0, 2]), (2, [3, 4, 0]), (0, [4]), (3, [3])]
    want = [None] * 5
    for stat, counts in rules:
        sub = np.column_stack([scoring._masked(cols[c], want[c]) for c in counts])
        few = np.nansum(sub, axis=1) < min_events
        want[stat] = few if want[stat] is None else want[stat] | few
    got = scoring.evidence_masks([c.copy() for c in cols], rules, min_events)
    assert all((g is None and w is None) or np.array_equal(g, w) for g, w in zip(got, want))
