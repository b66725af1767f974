"""Partials made at a commit from the rows in memory (``Window.segments``): the whole days
and the held closed hours made from them equal those made from the slices (the path
before), and the table equals the batch's; a late file into a segment's hour drops it."""
import os

import numpy as np
import pytest

from simbox.watch import Watcher
from simbox.watch.window import DAY_HOURS, HOUR

from test_incremental_merge import _longer
from watch_helpers import assert_same_features, batch_features, epoch


def _assert_same_partials(w, a, b, what):
    """The kernel rows of two partials of the same events (their runs and gaps may be cut
    differently: partials of the parts merged): equal, floats to 1e-12."""
    from simbox.fastpath.aggregate import TABLES, slot_columns
    from simbox.fastpath.partials import finish
    from simbox.features import feature_names
    from simbox.features.tables import cell_table
    names = feature_names()
    table, _, _ = cell_table(w.celldict.tokens, w.cells)
    x, y = (finish(p, columns=slot_columns(names), ncols=len(names), cells=table) for p in (a, b))
    np.testing.assert_allclose(x.feats, y.feats, rtol=1e-12, equal_nan=True, err_msg=what)
    fields = ["imsi", "hours", "msisdn", "main_imei", "main_cell", "main_site",
              *(f for t in TABLES.values() for f in t)]
    for f in fields:
        np.testing.assert_array_equal(getattr(x, f), getattr(y, f), err_msg=f"{what}: {f}")


def _replay(tmp, rows, plan, model, cells, window_s=200 * HOUR):
    """Each file of ``plan`` committed alone (no refresh between: a cycle of files), the
    whole days checked against the path before after each; a refresh at the end."""
    drops = tmp / "drops"
    drops.mkdir()
    w = Watcher(drops, tmp / "state", None, window=window_s, model=model, cells=cells,
                timezone="Asia/Shanghai", settle=0)
    made, paths = {"segments": 0, "days": set()}, []
    try:
        for i, idx in enumerate(plan):
            p = drops / f"f{i:03d}.csv"
            rows.iloc[idx].to_csv(p, index=False)
            st = os.stat(p)
            w.take(p, st.st_size, st.st_mtime)
            made["segments"] += len(w.window.segments)
            plan_ = w.window._plan()
            for d in plan_[1] if plan_ else ():
                if d not in w.window.days:
                    continue                  # (made by the refresh)
                part = w.window.days[d]
                made["days"].add(d)
                _assert_same_partials(w.window, part, w.window._day_partials(d), f"day {d}")
            paths.append(p)
        got, _ = w.window.features()
        closed = w.window.held["closed"]
        want_closed = w.window._hours_partials(sorted(closed[0]), w.window._all_of(
            closed[0].values()))
        _assert_same_partials(w.window, closed[1], want_closed, "the held closed hours")
        newest = w.window.newest
    finally:
        w.close()
    want = batch_features(paths, newest, window_s, cells, "Asia/Shanghai")
    return got.features, want, made


def _in_order(rows, n):
    order = np.argsort(epoch(rows), kind="stable")
    return list(np.array_split(order, n))


def test_days_from_the_rows_of_the_commits(tmp_path, sample_rows, cells_csv, model):
    """Files of about a day each, in time order: each day's partials are made at the
    commit that closes it, from segments, equal to the day's from its slices."""
    rows = _longer(sample_rows)
    got, want, made = _replay(tmp_path, rows, _in_order(rows, 8), model, cells_csv)
    assert made["segments"] and len(made["days"]) >= 4
    assert_same_features(got, want)


def _late_into_a_segment(sample_rows):
    """(rows, files, day): files in time order, but a third of a day's events held back
    from the files before it and dropped late, before the day is whole."""
    rows = _longer(sample_rows)
    t = epoch(rows)
    plan = _in_order(rows, 12)
    day = t[plan[3]].max() // HOUR // DAY_HOURS
    late = np.flatnonzero(t // HOUR // DAY_HOURS == day)[::3]
    return rows, [np.setdiff1d(p, late) for p in plan[:4]] + [late] + plan[4:], day


def test_a_late_file_into_a_segment_drops_it(tmp_path, sample_rows, cells_csv, model):
    """A late file rewrites an hour of a segment before its day is whole: the segment is
    not used, the hour comes from its slice."""
    rows, plan, day = _late_into_a_segment(sample_rows)
    got, want, made = _replay(tmp_path, rows, plan, model, cells_csv)
    assert made["segments"] and day in made["days"]
    assert_same_features(got, want)


def test_a_segment_kept_through_a_late_file_fails(tmp_path, sample_rows, cells_csv, model,
                                                  monkeypatch):
    """The test above can fail: a segment used although a late file rewrote its hour."""
    from simbox.watch import window
    monkeypatch.setattr(window.Window, "_current", lambda self, files: all(
        h in self.slices for h in files))
    rows, plan, day = _late_into_a_segment(sample_rows)
    with pytest.raises(AssertionError):
        got, want, _ = _replay(tmp_path, rows, plan, model, cells_csv)
        assert_same_features(got, want)
