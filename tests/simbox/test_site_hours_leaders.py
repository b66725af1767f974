"""The site+hours links of the leader kernel (``simbox._leaders.site_leaders``, behind
``deployments._site_hours_links``) against the numpy code it replaced
(``leaders_reference.py``), and that code's ``_new_leaders`` (the rule decided between new
leaders) against the sequential loop it replaced, written again here."""
import logging
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings, strategies as st

import leaders_reference as ref
import simbox.deployments as d
from simbox import _leaders
from simbox.deployments import ALIKE_DECIMALS, _site_hours_links

#: the products' code levels this CPU runs (0 SSE2, 1 AVX2): the same cosines on each
LEVELS = sorted({_leaders.set_level(k) for k in (0, 1)})
_leaders.set_level(-1)


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


def profiles(rng, n, kinds, spread):
    """``n`` int32 hour rows, noisy copies of ``kinds`` shapes (some exact copies and
    doubled copies: equal cosines, ties between leaders; some zero rows)."""
    shapes = rng.integers(0, 6, (kinds, 24))
    kind = rng.integers(0, kinds, n)
    hours = shapes[kind] + rng.integers(0, 3, (n, 24)) * (rng.random(n) < spread)[:, None]
    hours[rng.random(n) < 0.1] *= 2                       # the same unit row as the shape
    hours[rng.random(n) < 0.05] = 0                       # no events: a zero profile
    return hours.astype(np.int32)


def case(seed, n, kinds, room, threshold, spread):
    """``_new_leaders``' arguments: the rows of one site in random order."""
    rng = np.random.default_rng(seed)
    hours = profiles(rng, n, kinds, spread)
    first = rng.integers(0, 100, n)
    last = first + rng.integers(0, 60, n)
    rows = rng.permutation(n)[: max(0, n - rng.integers(0, 3))]
    return rows.astype(np.int64), ref._unit_rows(hours), first, last, threshold, room


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), kinds=st.integers(1, 12),
       room=st.integers(0, 70), threshold=st.sampled_from([0.0, 0.5, 0.8, 0.95, 1.0, 1.01]),
       spread=st.floats(0, 1))
@example(seed=0, n=0, kinds=1, room=64, threshold=0.8, spread=0.0)
@example(seed=1, n=200, kinds=1, room=64, threshold=1.0, spread=0.0)     # every profile equal
@example(seed=2, n=300, kinds=12, room=3, threshold=0.5, spread=1.0)     # room runs out
def test_reference_new_leaders_equal_the_sequential_rule(seed, n, kinds, room, threshold, spread):
    rows, unit, first, last, threshold, room = case(seed, n, kinds, room, threshold, spread)
    want_count, got_count = {"comparisons": 0}, {"comparisons": 0}
    want = sequential(rows, unit, first, last, threshold, room, want_count)
    a, b, new = ref._new_leaders(rows, unit, first, last, threshold, room, got_count)
    assert a.tolist() == want[0]
    assert b.tolist() == want[1]
    assert new.tolist() == want[2]
    assert got_count == want_count


def sims_frame(seed, n, sites, kinds, spread, blank, disjoint):
    """``n`` flagged SIMs at ``sites`` main sites (some blank, some "None"), in random row
    order; their periods in hours from a base time, overlapping or (``disjoint``) mostly
    apart, a few ending before they start."""
    rng = np.random.default_rng(seed)
    names = np.array([f"S{k}" for k in range(sites)] + ["", "None"], dtype=object)
    weights = np.r_[np.ones(sites), blank, blank / 2]
    site = names[rng.choice(len(names), n, p=weights / weights.sum())]
    if n and rng.random() < 0.3:           # one site holds most SIMs
        site[rng.random(n) < 0.7] = "S0"
    start = rng.integers(0, 2000 if disjoint else 100, n)
    length = rng.integers(-2, 6 if disjoint else 80, n)
    base = pd.Timestamp("2026-03-01", tz="UTC")
    sims = pd.DataFrame({
        "main_site": site,
        "first_seen": base + pd.to_timedelta(start, unit="h"),
        "last_seen": base + pd.to_timedelta(start + length, unit="h"),
    }, index=pd.Index([f"46000{k:010d}" for k in range(n)], name="imsi"))
    return sims, profiles(rng, n, kinds, spread)


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def links_and_lines(fn, sims, hours, threshold, leaders, log_every):
    """``fn``'s links, its comparisons (the counter starting at 7) and its progress lines."""
    counter = {"comparisons": 7}
    handler, logger = Lines(), logging.getLogger("simbox.deployments")
    level, logger.level = logger.level, logging.INFO
    logger.addHandler(handler)
    try:
        links = fn(sims, hours, threshold, leaders, counter, log_every=log_every)
    finally:
        logger.removeHandler(handler)
        logger.level = level
    return links, counter, handler.lines


def assert_same_links(sims, hours, threshold, leaders, log_every):
    """The kernel's links, comparisons and lines are the numpy code's, on every level."""
    want = links_and_lines(ref._site_hours_links, sims, hours, threshold, leaders, log_every)
    try:
        for level in LEVELS:
            assert _leaders.set_level(level) == level
            got = links_and_lines(_site_hours_links, sims, hours, threshold, leaders, log_every)
            assert got[0].dtype == np.int64 and got[0].shape == want[0].shape
            assert got[0].tolist() == want[0].tolist()
            assert got[1] == want[1]
            assert got[2] == want[2]
    finally:
        _leaders.set_level(-1)
    return got[0]


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), sites=st.integers(1, 6),
       kinds=st.integers(1, 10), spread=st.floats(0, 1), blank=st.floats(0, 2),
       disjoint=st.booleans(), leaders=st.integers(1, 70), chunk=st.integers(1, 60),
       threshold=st.sampled_from([0.0, 0.5, 0.8, 0.95, 1.0, 1.01]),
       log_every=st.sampled_from([0, 1, 7, 50]))
@example(seed=0, n=0, sites=1, kinds=1, spread=0.0, blank=0.0, disjoint=False, leaders=64,
         chunk=4096, threshold=0.8, log_every=0)                         # no SIM
@example(seed=1, n=1, sites=1, kinds=1, spread=0.0, blank=0.0, disjoint=False, leaders=64,
         chunk=4096, threshold=0.8, log_every=1)                         # one SIM
@example(seed=2, n=300, sites=1, kinds=1, spread=0.0, blank=0.0, disjoint=False, leaders=64,
         chunk=50, threshold=1.0, log_every=7)                           # every profile equal
@example(seed=3, n=300, sites=3, kinds=10, spread=1.0, blank=0.0, disjoint=True, leaders=2,
         chunk=13, threshold=0.5, log_every=50)                          # room runs out
@example(seed=4, n=200, sites=40, kinds=3, spread=0.5, blank=1.0, disjoint=False, leaders=5,
         chunk=3, threshold=0.0, log_every=1)                            # one-row sites, blanks
def test_kernel_links_equal_the_numpy_code(seed, n, sites, kinds, spread,
                                           blank, disjoint, leaders, chunk, threshold, log_every):
    """Same pairs in the same order, same comparisons and progress lines: random sites,
    copies of profiles (ties), zero rows, overlapping and separate periods, room small and
    large, thresholds 0 to above 1, chunks crossed (the chunk shrunk in both), on each level."""
    sims, hours = sims_frame(seed, n, sites, kinds, spread, blank, disjoint)
    with mock.patch.object(ref, "CHUNK", chunk), mock.patch.object(d, "LEADER_CHUNK", chunk):
        assert_same_links(sims, hours, threshold, leaders, log_every)


def test_kernel_crosses_the_real_chunk():
    """More than 4,096 SIMs at a site (two chunks at one, one at the other) in the chunk
    of the scan: the links of the SIMs after the boundary against the first chunk's
    leaders, then those the second chunk's leaders take."""
    sims, hours = sims_frame(11, 9_500, 2, 40, 0.3, 0.0, False)
    sims.loc[sims.index[:7_000], "main_site"] = "S0"
    sims["last_seen"] = sims["first_seen"] + pd.Timedelta(days=30)
    links = assert_same_links(sims, hours, 0.8, 64, 1_000)
    at_s0 = np.flatnonzero(sims["main_site"].to_numpy() == "S0")
    place = np.full(len(sims), -1)
    place[at_s0[np.lexsort((at_s0, d._ns(sims["first_seen"])[at_s0]))]] = np.arange(len(at_s0))
    a, b = place[links[:, 0]], place[links[:, 1]]
    assert ((a >= 0) & (a < 4_096) & (b >= 4_096)).sum() > 1_000    # across the boundary


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64, np.uint8, np.int16])
def test_hours_of_any_count_type(dtype):
    """The int32 counts of a scan are read as they are; other types as int64 or float64,
    with the same links (whole counts: the norms exact in any order)."""
    sims, hours = sims_frame(5, 600, 3, 4, 0.5, 0.3, False)
    assert_same_links(sims, hours.astype(dtype), 0.8, 16, 0)
    assert_same_links(sims, np.asfortranarray(hours.astype(dtype)), 0.8, 16, 0)


def test_site_leaders_refuses_inconsistent_arrays():
    hours = np.ones((3, 24), dtype=np.int32)
    t = np.zeros(3, dtype=np.int64)
    order, starts = np.arange(3, dtype=np.int64), np.array([0, 3], dtype=np.int64)
    links, chunks = np.zeros((3, 2), dtype=np.int64), np.zeros(1, dtype=np.int64)

    def call(**kw):
        args = dict(hours=hours, order=order, starts=starts, first=t, last=t, threshold=0.8,
                    max_leaders=64, chunk=4096, scale=1e9, links=links, chunk_done=chunks,
                    chunk_comparisons=chunks)
        args.update(kw)
        return _leaders.site_leaders(*args.values())

    assert call() == (2, 1, 2)
    with pytest.raises(ValueError, match=r"first and last need one time per SIM \(3\), not 2 and 3"):
        call(first=t[:2])
    with pytest.raises(ValueError, match=r"order\[1\] = 3 is not a row of hours \(3\)"):
        call(order=np.array([0, 3, 1], dtype=np.int64))
    with pytest.raises(ValueError, match="starts must run from 0 to the length of order"):
        call(starts=np.array([0, 2], dtype=np.int64))
    with pytest.raises(ValueError, match="starts decrease at site 1"):
        call(starts=np.array([0, 4, 3], dtype=np.int64))
    with pytest.raises(ValueError, match=r"links must hold 3 \(leader, SIM\) rows"):
        call(links=links[:2])
    with pytest.raises(ValueError, match="the chunk arrays must hold 1 chunks"):
        call(chunk_done=chunks[:0])
    with pytest.raises(ValueError, match=r"chunk \(0\), max_leaders \(64\) and scale"):
        call(chunk=0)


def test_rounded_as_numpy_rounds():
    """``(y + 1.5 x 2^52) - 1.5 x 2^52`` (the kernel's rint) is ``np.round``'s ``rint(x x
    1e9) / 1e9``, halves to even, on random and on tied values."""
    rng = np.random.default_rng(3)
    x = np.r_[rng.random(100_000) * 2 - 1, np.arange(-2000, 2001) / 2e9, 0.0, 1.0, -1.0]
    magic = 6755399441055744.0
    y = x * 1e9
    assert np.array_equal((y + magic) - magic, np.rint(y))
    assert np.array_equal(((y + magic) - magic) / 1e9, np.round(x, ALIKE_DECIMALS))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 500), sites=st.integers(1, 50),
       span=st.sampled_from([1, 3_600 * 10**9, 2**40, 2**62]))
def test_site_time_order_is_the_lexsort(seed, n, sites, span):
    """One stable sort of ``site x span + first`` when it fits in int64, else the lexsort
    (NaT is int64's least value: a span too wide); ties by row either way."""
    rng = np.random.default_rng(seed)
    site = rng.integers(0, sites, n)
    first = rng.integers(0, span, n) - span // 2
    if n and rng.random() < 0.2:
        first[rng.integers(0, n)] = np.iinfo(np.int64).min            # NaT
    want = np.lexsort((np.arange(n), first, site))
    assert d._site_time_order(site, first).tolist() == want.tolist()
