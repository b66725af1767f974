"""``deployments._new_leaders`` (the leader rule decided between new leaders, not row by row)
against the sequential loop it replaced, written again here as the reference."""
import numpy as np
from hypothesis import example, given, settings, strategies as st

from simbox.deployments import ALIKE_DECIMALS, _new_leaders, _unit_rows


def sequential(rows, unit, first, last, threshold, room, counter):
    """Session 18's loop: each row in turn against the leaders made before it (its
    products rounded as ``_alike`` rounds them: a product's last bits depend on the
    BLAS kernel's lanes, so the loop's own ties between leaders of one profile were not
    reproducible)."""
    out_a, out_b, new = [], [], []
    for r in rows:
        if new:
            lead = np.asarray(new)
            s = np.round(unit[lead] @ unit[r], ALIKE_DECIMALS)
            counter["comparisons"] += len(lead)
            f = (s >= threshold) & (first[r] <= last[lead]) & (first[lead] <= last[r])
            if f.any():
                out_a.append(int(lead[int(np.argmax(np.where(f, s, -np.inf)))]))
                out_b.append(int(r))
                continue
        if len(new) < room:
            new.append(int(r))
    return out_a, out_b, new


def case(seed, n, kinds, room, threshold, spread):
    """``n`` SIMs whose hour profiles are noisy copies of ``kinds`` shapes (some exact
    copies: equal products, ties between leaders), with overlapping or separate periods."""
    rng = np.random.default_rng(seed)
    shapes = rng.integers(0, 6, (kinds, 24))
    kind = rng.integers(0, kinds, n)
    hours = shapes[kind] + rng.integers(0, 3, (n, 24)) * (rng.random(n) < spread)[:, None]
    hours[rng.random(n) < 0.05] = 0                       # no events: a zero profile
    first = rng.integers(0, 100, n)
    last = first + rng.integers(0, 60, n)
    rows = rng.permutation(n)[: max(0, n - rng.integers(0, 3))]
    return rows.astype(np.int64), _unit_rows(hours), first, last, threshold, room


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), kinds=st.integers(1, 12),
       room=st.integers(0, 70), threshold=st.sampled_from([0.0, 0.5, 0.8, 0.95, 1.0, 1.01]),
       spread=st.floats(0, 1))
@example(seed=0, n=0, kinds=1, room=64, threshold=0.8, spread=0.0)
@example(seed=1, n=200, kinds=1, room=64, threshold=1.0, spread=0.0)     # every profile equal
@example(seed=2, n=300, kinds=12, room=3, threshold=0.5, spread=1.0)     # room runs out
def test_new_leaders_equal_the_sequential_rule(seed, n, kinds, room, threshold, spread):
    rows, unit, first, last, threshold, room = case(seed, n, kinds, room, threshold, spread)
    want_count, got_count = {"comparisons": 0}, {"comparisons": 0}
    want = sequential(rows, unit, first, last, threshold, room, want_count)
    a, b, new = _new_leaders(rows, unit, first, last, threshold, room, got_count)
    assert a.tolist() == want[0]
    assert b.tolist() == want[1]
    assert new.tolist() == want[2]
    assert got_count == want_count


def test_new_leaders_turn_once_per_leader_not_per_row(monkeypatch):
    """4,000 alike SIMs and a room of 64: a handful of leaders, so a handful of products
    of one leader with the rows after it, where the loop made one product per row."""
    rows, unit, first, last, threshold, room = case(5, 4000, 3, 64, 0.8, 0.3)
    calls = []
    real = np.flatnonzero

    def counting(a):
        calls.append(len(a))
        return real(a)
    import simbox.deployments as d
    monkeypatch.setattr(d.np, "flatnonzero", counting)
    try:
        _, b, new = _new_leaders(rows, unit, first, last, threshold, room, {"comparisons": 0})
    finally:
        monkeypatch.setattr(d.np, "flatnonzero", real)
    assert len(calls) <= len(new) + 1
    assert len(new) <= room and len(b) + len(new) <= len(rows)
