"""Moves and co-movement (features/comove.py) against the brute-force reference."""
import math

import numpy as np
from hypothesis import given, settings, strategies as st

from features_reference import reference_comovement, reference_moves
from simbox.fastpath.events import CellDict, EventBatch, encode_digits
from simbox.features import features_from_events
from simbox.features.comove import comovement_counts

T0 = 1772409600          # 2026-03-02 00:00 UTC


@st.composite
def move_sets(draw):
    n = draw(st.integers(1, 6))
    k = draw(st.integers(0, 60))
    rows = draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k))
    frm = draw(st.lists(st.integers(0, 3), min_size=k, max_size=k))
    to = draw(st.lists(st.integers(0, 3), min_size=k, max_size=k))
    scale = draw(st.sampled_from([1, 60, 600]))
    times = [T0 + scale * t for t in draw(st.lists(st.integers(0, 40), min_size=k, max_size=k))]
    return n, rows, frm, to, times


@settings(max_examples=300, deadline=None)
@given(move_sets(), st.integers(1, 6), st.integers(1, 3), st.sampled_from([0, 60, 1200]),
       st.sampled_from([1 << 20, 1, 4, 16]))
def test_comovement_matches_brute_force(data, crowd, min_shared, match_s, chunk):
    """Also worked through in buckets of site pairs (``chunk``): the same counts."""
    n, rows, frm, to, times = data
    moves, peers, share = comovement_counts(np.array(rows, np.int32), np.array(frm, np.int32),
                                            np.array(to, np.int32), np.array(times, np.int64),
                                            n, match_s=match_s, crowd=crowd,
                                            min_shared=min_shared, chunk=chunk)
    by_row = {r: [] for r in range(n)}
    for r, f, t, tm in zip(rows, frm, to, times):
        by_row[r].append((f, t, tm))
    want = reference_comovement(by_row, match_s=match_s, crowd=crowd, min_shared=min_shared)
    for r in range(n):
        m, p, s = want[r]
        assert moves[r] == m and peers[r] == p, (r, moves[r], peers[r], want[r])
        assert (math.isnan(s) and math.isnan(share[r])) or math.isclose(s, share[r]), (r, share[r], s)


def test_run_rules_of_moves():
    # A A B A (lone B: flicker) C C (gap 10 min) D (gap 30 min: no move)
    sites = ["A", "A", "B", "A", "C", "C", "D"]
    times = [0, 60, 120, 180, 780, 840, 2640]
    assert reference_moves(sites, times) == [("A", "C", 780)]


def _events(imsi, stops, cell_of, per_stop=3, spacing=120):
    """Calls of one SIM: ``per_stop`` calls at each (cell, start time) stop."""
    rows = [(t + i * spacing, cell_of[c]) for c, t in stops for i in range(per_stop)]
    n = len(rows)
    return EventBatch({"rtype": [0] * n, "time": [t for t, _ in rows],
                       "imsi": [encode_digits(imsi)] * n, "imei": [0] * n, "msisdn": [0] * n,
                       "other": [encode_digits("8613900000000")] * n, "duration": [30] * n,
                       "cell": [c for _, c in rows]})


def test_sims_of_a_moving_box_are_peers_and_a_driver_is_not():
    tokens = [f"46000-1-{i}" for i in range(6)]
    cell_of = {name: i for i, name in enumerate("ABCDEF")}
    route = [("A", T0), ("B", T0 + 1200), ("C", T0 + 2400), ("D", T0 + 3600), ("E", T0 + 4800)]
    box = [_events(f"46000000000000{i}", [(c, t + 30 * i) for c, t in route], cell_of)
           for i in range(3)]
    driver = _events("460000000000009", [("A", T0), ("C", T0 + 1200), ("B", T0 + 2400),
                                         ("F", T0 + 3600)], cell_of)
    res = features_from_events(box + [driver], CellDict(tokens))
    f = res.features
    box_rows = f.loc[[f"46000000000000{i}" for i in range(3)]]
    assert (box_rows.moves == 4).all() and (box_rows.comove_peers == 2).all()
    assert (box_rows.comove_share == 1.0).all()
    d = f.loc["460000000000009"]
    assert (d.moves, d.comove_peers, d.comove_share) == (3, 0, 0.0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=80), st.sampled_from([51, 1 << 60]))
def test_sort_with_tags_packed_and_plain(values, top):
    from simbox.features.comove import _sort_with_tags
    v = np.array(values, np.int64)
    # top 2**60: no room for the tag bits (argsort)
    vs, o = _sort_with_tags(v.copy(), top, np.arange(len(v)), len(v))
    assert np.array_equal(vs, np.sort(v)) and np.array_equal(v[o], vs)
    assert sorted(o.tolist()) == list(range(len(v)))
    tags = (v * 7 + 3) % 5                         # tags of the values: they travel along
    vs, t = _sort_with_tags(v.copy(), top, tags.astype(np.int32), 5)
    assert np.array_equal(vs, np.sort(v)) and np.array_equal(t, (vs * 7 + 3) % 5)


@settings(max_examples=60, deadline=None)
@given(move_sets())
def test_comovement_same_with_huge_site_codes(data):
    # site codes far apart: the sort keys no longer leave room for the index (plain argsort)
    n, rows, frm, to, times = data
    args = (np.array(rows, np.int32), np.array(times, np.int64), n)
    small = comovement_counts(args[0], np.array(frm, np.int32), np.array(to, np.int32), *args[1:])
    big = comovement_counts(args[0], np.array(frm, np.int32) * 2_000_000,
                            np.array(to, np.int32) * 2_000_000, *args[1:])
    for a, b in zip(small, big):
        assert np.array_equal(a, b, equal_nan=True)
