"""Co-movement by the kernel (features/_comove.pyx) against the numpy code it replaced.

Same floats to the bit, on move sets built to hit the edges: ties in time, one IMSI
moving twice between the same sites, site pairs crowded just at and above the cap,
buckets small enough that one run works through several.
"""
import numpy as np
from hypothesis import given, settings, strategies as st

from comove_reference import reference_comovement_counts
from simbox.features.comove import CROWD, MATCH_S, comovement_counts

T0 = 1772409600          # 2026-03-02 00:00 UTC


@st.composite
def clustered_moves(draw, crowd):
    """Clusters of moves of one site pair: sizes around the crowd cap, times on a coarse
    grid (ties and differences of exactly ``MATCH_S``), few IMSIs (repeat moves)."""
    n = draw(st.integers(1, 12))
    rows, frm, to, times = [], [], [], []
    for _ in range(draw(st.integers(0, 6))):
        f, t = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        size = draw(st.sampled_from([1, 2, 3, crowd - 1, crowd, crowd + 1, crowd + 2]))
        base = T0 + draw(st.integers(0, 6)) * MATCH_S
        steps = draw(st.lists(st.sampled_from([0, 1, 60, MATCH_S // 2, MATCH_S, MATCH_S + 1]),
                              min_size=size, max_size=size))
        rows += draw(st.lists(st.integers(0, n - 1), min_size=size, max_size=size))
        frm += [f] * size
        to += [t] * size
        times += [base + s for s in steps]
    order = draw(st.permutations(range(len(rows))))
    pick = lambda xs, dt: np.array([xs[i] for i in order], dt)  # noqa: E731
    return pick(rows, np.int64), pick(frm, np.int32), pick(to, np.int32), pick(times, np.int64), n


def _same_bits(got, want):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == np.float64 and g.shape == w.shape
        assert np.array_equal(g.view(np.int64), w.view(np.int64)), (g, w)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from([CROWD, 2, 5]), st.sampled_from([0, 60, MATCH_S]),
       st.integers(1, 4), st.sampled_from([1, 3, 40, 1 << 21]))
def test_kernel_is_the_numpy_reference(data, crowd, match_s, min_shared, chunk):
    row, frm, to, time, n = data.draw(clustered_moves(crowd))
    kw = dict(match_s=match_s, crowd=crowd, min_shared=min_shared, chunk=chunk)
    _same_bits(comovement_counts(row, frm, to, time, n, **kw),
               reference_comovement_counts(row, frm, to, time, n, **kw))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 1), st.integers(1, 5))
def test_no_move_or_one_move(n_moves, n):
    row = np.full(n_moves, n - 1, np.int64)
    args = (row, np.zeros(len(row), np.int32), np.ones(len(row), np.int32),
            np.full(len(row), T0, np.int64), n)
    got = comovement_counts(*args)
    _same_bits(got, reference_comovement_counts(*args))
    assert got[0].sum() == len(row) and not got[1].any()


def test_crowd_cap_at_and_above():
    # k IMSIs leave site 0 for site 1 together twice: peers while k <= CROWD, not above
    for k, peers in ((CROWD, CROWD - 1), (CROWD + 1, 0)):
        row = np.tile(np.arange(k), 3)
        time = np.repeat([T0, T0 + 3600, T0 + 7200], k)
        got = comovement_counts(row, np.zeros(3 * k, np.int32), np.ones(3 * k, np.int32), time, k)
        assert (got[1] == peers).all(), (k, got[1])
        _same_bits(got, reference_comovement_counts(row, np.zeros(3 * k, np.int32),
                                                    np.ones(3 * k, np.int32), time, k))
