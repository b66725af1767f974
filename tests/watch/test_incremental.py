"""Incremental equals batch: after any sequence of drops, the watch's feature table equals
the batch path's over the same files with the events outside the window dropped."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from simbox.fastpath.aggregate import Reduced
from simbox.watch import Watcher
from simbox.watch.window import HOUR

from watch_helpers import assert_same_features, batch_features, epoch, taken


def _write(rows, path):
    rows.to_csv(path, index=False)
    return path


def _replay(tmp, rows, plan, window_s, model, cells, timezone):
    """Drop the files of ``plan`` (lists of row indices, in arrival order) through a Watcher;
    returns (watch features, reference features, files).  The reference reads the events of
    each file a watch takes (``watch_helpers.taken``: clock errors left out)."""
    drops = tmp / "drops"
    drops.mkdir()
    ref = tmp / "reference"
    ref.mkdir()
    masks = taken([epoch(rows.iloc[idx]) for idx in plan], window_s)
    refs = [_write(rows.iloc[np.asarray(idx)[m]], ref / f"f{i:03d}.csv")
            for i, (idx, m) in enumerate(zip(plan, masks))]
    w = Watcher(drops, tmp / "state", None, window=window_s, model=model, cells=cells,
                timezone=timezone, settle=0)
    paths = []
    try:
        for i, idx in enumerate(plan):
            p = _write(rows.iloc[idx], drops / f"f{i:03d}.csv")
            st_ = os.stat(p)
            w.take(p, st_.st_size, st_.st_mtime)
            w.window.features()           # the table after each drop: kernel rows cached
            paths.append(p)
        got, _ = w.window.features()
        newest = w.window.newest
    finally:
        w.close()
    return got.features, batch_features(refs, newest, window_s, cells, timezone), paths


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# a late file taken second, most of it replays of the first: its new events lie more than the
# window after its median and the state, so the watch takes them as a clock error (the rule)
@example(cuts=[0.5, 0.96875, 0.25, 0.125], swaps=[(1, 4)], dup_share=0.3, repeat_file=False,
         window_h=20, seed=0, timezone="UTC")
@given(cuts=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=7),
       swaps=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=3),
       dup_share=st.sampled_from([0.0, 0.05, 0.3]),
       repeat_file=st.booleans(),
       window_h=st.sampled_from([5, 20, 30, 200]),
       seed=st.integers(0, 2**16),
       timezone=st.sampled_from(["UTC", "Asia/Shanghai"]))
def test_incremental_equals_batch(tmp_path_factory, sample_rows, cells_csv, model, cuts, swaps,
                                  dup_share, repeat_file, window_h, seed, timezone):
    rows = sample_rows
    order = np.argsort(epoch(rows), kind="stable")
    bounds = sorted(int(c * len(order)) for c in cuts)
    plan = [a for a in np.split(order, bounds) if len(a)]
    for a, b in swaps:                      # late and out-of-order files
        if a < len(plan) and b < len(plan):
            plan[a], plan[b] = plan[b], plan[a]
    rng = np.random.default_rng(seed)
    if dup_share and len(plan) > 1:         # events again in a later file
        for i in range(1, len(plan)):
            prev = plan[rng.integers(0, i)]
            extra = rng.choice(prev, int(dup_share * len(prev)), replace=False)
            plan[i] = rng.permutation(np.concatenate([plan[i], extra]))
    if repeat_file:                         # the same file dropped twice
        plan.append(plan[int(rng.integers(0, len(plan)))])
    got, want, _ = _replay(tmp_path_factory.mktemp("inc"), rows, plan, window_h * HOUR, model,
                           cells_csv, timezone)
    assert len(want) > 0
    assert_same_features(got, want)


def test_expiry_drops_subscribers_and_restart_keeps_the_window(tmp_path, sample_rows, cells_csv,
                                                               model):
    """A short window: subscribers whose events all expired leave the table; a restart
    rebuilds the same table from the state alone."""
    order = np.argsort(epoch(sample_rows), kind="stable")
    plan = np.array_split(order, 9)
    got, want, paths = _replay(tmp_path, sample_rows, plan, 6 * HOUR, model, cells_csv, "UTC")
    assert 0 < len(want) < sample_rows["imsi"].nunique()
    assert_same_features(got, want)
    w = Watcher(tmp_path / "drops", tmp_path / "state", None, window="6h", model=model,
                cells=cells_csv, timezone="UTC", settle=0)
    try:
        assert w.result is not None and len(w.result.features) == len(want)  # scored at start
        again, todo = w.window.features()
        assert len(todo) == 0                     # nothing new since the start
        assert w.ready() == []                    # every file in the ledger
    finally:
        w.close()
    assert_same_features(again.features, want)


def test_take_keeps_rows_and_their_tables(sample_rows, cells_csv):
    """Reduced.take of some rows equals the reduction of those subscribers' events alone."""
    from simbox.fastpath.aggregate import TimeZone, reduce_events, slot_columns
    from simbox.fastpath.events import CellDict
    from simbox.fastpath.readers import open_events
    from simbox.features import feature_names
    from simbox.features.tables import cell_table, load_cells
    import io
    buf = io.BytesIO(sample_rows.to_csv(index=False).encode())
    cd = CellDict()
    cols = [b.columns() for b in open_events([buf], cells=cd)]
    cols = {k: np.concatenate([c[k] for c in cols]) for k in cols[0]}
    table, _, _ = cell_table(cd.tokens, load_cells(cells_csv))
    names = feature_names()
    kw = dict(columns=slot_columns(names), ncols=len(names), timezone=TimeZone("UTC"),
              cells=table)
    full = reduce_events(cols, **kw)
    rows = np.arange(len(full.imsi))[::3][::-1]
    part = full.take(rows)
    mask = np.isin(cols["imsi"], full.imsi[rows])
    ref = reduce_events({k: v[mask] for k, v in cols.items()}, **kw)
    order = np.argsort(ref.imsi)
    ref = ref.take(np.argsort(ref.imsi))
    part = part.take(np.argsort(part.imsi))
    for name in Reduced.__dataclass_fields__:
        if name == "duplicates":
            continue
        a, b = getattr(part, name), getattr(ref, name)
        if name.endswith(("_row",)) or name in ("dev_imei", "cell_code", "site_code"):
            continue      # pair tables compared below as sets of (imsi, key, values)
        np.testing.assert_array_equal(a, b, err_msg=name)
    for table, key in (("dev", "dev_imei"), ("cell", "cell_code"), ("site", "site_code")):
        def pairs(r):
            rowcol = getattr(r, f"{table}_row")
            fields = [f for f in Reduced.__dataclass_fields__ if f.startswith(table + "_")
                      and f != f"{table}_row"]
            return sorted(zip(r.imsi[rowcol].tolist(),
                              *[getattr(r, f).tolist() for f in fields]))
        assert pairs(part) == pairs(ref), table
    assert order is not None
