"""The reduction kernel's fast paths: input order, duplicates, reused workspace and the
selection-based quantiles (the international-number rule: tests/features/).

The kernel skips sorting an IMSI's events when they arrive in order and skips the
duplicate pass when none are adjacent; these tests feed the same events in many
orders and check every output is bit-identical.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from simbox.fastpath.aggregate import (SLOTS, CellTable, TimeZone, Workspace, reduce_events,
                                       slot_columns)
from simbox.fastpath.events import encode_digits

TOKENS = [f"46000-{i}-{i * 7}" for i in range(5)]
OTHERS = ["", "10086", "123", "8613900000000", "4930123456", "0049301234567", "0013800138000",
          "12025550100", "0212345678", "35312345678", "8613900000001", "7"]
COLS = slot_columns(SLOTS)


def reduce(cols, workspace=None, tz="UTC"):
    return reduce_events(cols, columns=COLS, ncols=len(SLOTS), timezone=TimeZone(tz),
                         cells=CellTable.unlocated(TOKENS), workspace=workspace)


def canonical(r):
    """Outputs keyed by IMSI (rows come in order of first appearance, which order changes)."""
    o = np.argsort(r.imsi)
    pos = np.empty_like(o)
    pos[o] = np.arange(len(o))
    out = {"imsi": r.imsi[o], "feats": r.feats[o], "hours": r.hours[o], "msisdn": r.msisdn[o],
           "main_imei": r.main_imei[o], "main_cell": r.main_cell[o], "main_site": r.main_site[o]}
    out["dev"] = sorted(zip(pos[r.dev_row].tolist(), r.dev_imei.tolist(), r.dev_events.tolist(),
                            r.dev_first.tolist(), r.dev_last.tolist()))
    out["cell"] = sorted(zip(pos[r.cell_row].tolist(), r.cell_code.tolist(), r.cell_events.tolist()))
    out["site"] = sorted(zip(pos[r.site_row].tolist(), r.site_code.tolist(), r.site_events.tolist()))
    return out


def assert_same(a, b):
    ca, cb = canonical(a), canonical(b)
    for k in ca:
        if k == "feats":
            # bit-identical, NaN where NaN
            assert np.array_equal(ca[k].view(np.int64), cb[k].view(np.int64)), k
        elif isinstance(ca[k], list):
            assert ca[k] == cb[k], k
        else:
            assert np.array_equal(ca[k], cb[k]), k


@st.composite
def events(draw):
    n = draw(st.integers(1, 150))
    ints = lambda hi: np.array(draw(st.lists(st.integers(0, hi), min_size=n, max_size=n)))  # noqa: E731
    spread = draw(st.sampled_from([3, 600, 90_000, 2_000_000]))
    imsi = 1_460_001_234_567_000 + ints(draw(st.integers(0, 7)))
    return {
        "rtype": ints(5).astype(np.uint8),
        "time": 1_711_839_600 + ints(spread).astype(np.int64),
        "imsi": imsi.astype(np.int64),
        "imei": np.where(ints(3) == 0, 0, 135_693_803_123_450 + ints(2)).astype(np.int64),
        "msisdn": np.where(ints(4) == 0, 0, 18_613_800_000_000 + imsi % 7).astype(np.int64),
        "other": np.array([encode_digits(OTHERS[i]) for i in ints(len(OTHERS) - 1)], np.int64),
        "duration": np.array(draw(st.lists(st.sampled_from([0, 0, 3, 9, 10, 45, 300]),
                                           min_size=n, max_size=n)), np.int32),
        "cell": (ints(len(TOKENS)) - 1).astype(np.int32),
    }


def take(cols, idx):
    return {k: np.ascontiguousarray(v[idx]) for k, v in cols.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(), st.randoms(use_true_random=False))
def test_any_order_and_duplicates_give_identical_outputs(cols, rnd):
    n = len(cols["time"])
    key = np.lexsort((cols["cell"], cols["duration"], cols["msisdn"], cols["imei"], cols["other"],
                      cols["rtype"], cols["time"]))
    ws = Workspace()
    ref = reduce(take(cols, key))                       # sorted: the fast path
    perm = list(range(n))
    rnd.shuffle(perm)
    for idx in (np.arange(n), key[::-1], np.array(perm)):
        assert_same(reduce(take(cols, idx), workspace=ws), ref)
    # exact duplicates, adjacent in arrival order and not: dropped and counted
    dup = np.array([rnd.randrange(n) for _ in range(rnd.randrange(1, 6))])
    for idx in (np.concatenate([key, dup]), np.sort(np.concatenate([key, dup]), kind="stable"),
                np.concatenate([dup, np.array(perm)])):
        got = reduce(take(cols, idx), workspace=ws)
        assert got.duplicates == len(dup) + ref.duplicates
        got.duplicates = ref.duplicates
        assert_same(got, ref)


def test_workspace_reused_across_partitions_of_any_size():
    rng = np.random.default_rng(3)
    ws = Workspace()
    for n in (5000, 10, 20_000, 1, 7000):
        cols = {
            "rtype": rng.integers(0, 5, n).astype(np.uint8),
            "time": 1_711_839_600 + rng.integers(0, 7 * 86400, n),
            "imsi": 1_460_001_234_567_000 + rng.integers(0, 50, n),
            "imei": 135_693_803_123_450 + rng.integers(0, 3, n),
            "msisdn": np.full(n, 18_613_800_000_001),
            "other": 18_613_900_000_000 + rng.integers(0, 40, n),
            "duration": rng.integers(0, 100, n).astype(np.int32),
            "cell": rng.integers(-1, len(TOKENS), n).astype(np.int32),
        }
        assert_same(reduce(cols, workspace=ws), reduce(cols))
    assert len(ws.ev_buf) >= 20_000 * 40       # grown to the largest partition, kept


# ---- medians and the 10th percentile by selection -------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 4, 10, 11, 57, 400])
def test_selection_quantiles_equal_the_sorted_ones(n):
    rng = np.random.default_rng(n)
    gaps = rng.choice([0, 1, 5, 30, 31, 600, 3600, 86400], size=n)
    cols = {
        "rtype": np.zeros(n + 1, np.uint8),
        "time": 1_711_839_600 + np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64),
        "imsi": np.full(n + 1, 1_460_001_234_567_890, np.int64),
        "imei": np.zeros(n + 1, np.int64),
        "msisdn": np.zeros(n + 1, np.int64),
        "other": np.arange(n + 1, dtype=np.int64) + 110_086,
        "duration": rng.integers(0, 50, n + 1).astype(np.int32),
        "cell": np.full(n + 1, -1, np.int32),
    }
    f = dict(zip(SLOTS, reduce(cols).feats[0]))
    d = np.sort(cols["duration"].astype(np.int64))
    g = np.sort(gaps.astype(np.int64))
    assert f["moc_dur_median"] == np.median(d)
    assert f["moc_gap_median"] == np.median(g)
    lo = int(np.floor(0.1 * (n - 1)))
    p10 = g[lo] + (float(g[min(lo + 1, n - 1)]) - float(g[lo])) * (0.1 * (n - 1) - lo)
    assert f["moc_gap_p10"] == p10
    assert f["moc_gap_p10"] == pytest.approx(np.quantile(g, 0.1), rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("n,pool", [(1, 5), (2, 1), (17, 3), (300, 40), (5000, 4000), (5000, 7)])
def test_distinct_callers_and_peers_by_hash_set(n, pool):
    rng = np.random.default_rng(n + pool)
    other = np.where(rng.random(n) < 0.1, 0, 18_613_900_000_000 + rng.integers(0, pool, n) * 7919)
    rtype = rng.choice([1, 2, 3], size=n).astype(np.uint8)          # MTC, SMS_MO, SMS_MT
    cols = {"rtype": rtype, "time": 1_711_839_600 + np.arange(n, dtype=np.int64),
            "imsi": np.full(n, 1_460_001_234_567_890, np.int64), "imei": np.zeros(n, np.int64),
            "msisdn": np.zeros(n, np.int64), "other": other.astype(np.int64),
            "duration": np.zeros(n, np.int32), "cell": np.full(n, -1, np.int32)}
    f = dict(zip(SLOTS, reduce(cols).feats[0]))
    assert f["mtc_callers"] == len(set(other[(rtype == 1) & (other != 0)].tolist()))
    assert f["sms_peers"] == len(set(other[(rtype != 1) & (other != 0)].tolist()))
