"""The partials of whole days are stored in STATE_DIR: a restart reads them back instead of
making them again from the slices, and uses them only while they match the day's slices."""
import os

import numpy as np
import pytest

from simbox.watch import Watcher, days, window
from simbox.watch.window import DAY_HOURS, HOUR

from watch_helpers import assert_same_features, batch_features, epoch

TZ = "Asia/Shanghai"


@pytest.fixture
def kernel_days(monkeypatch):
    """The UTC days of the events of every call of the partial kernel, in call order."""
    calls = []
    kernel = window.partials_from_rows

    def counted(parts, **kw):
        days = set().union(*[(np.asarray(p["time"]) // HOUR // DAY_HOURS).tolist() for p in parts])
        if days:                    # (a chunk without events: no kernel work)
            calls.append(days)
        return kernel(parts, **kw)
    for module in (window, days):       # (the last hour's in one, the days' in the other)
        monkeypatch.setattr(module, "partials_from_rows", counted)
    return calls


def _files(tmp, rows, plan):
    drops = tmp / "drops"
    drops.mkdir(exist_ok=True)
    paths = []
    for i, idx in enumerate(plan):
        p = drops / f"f{i:03d}.csv"
        rows.iloc[idx].to_csv(p, index=False)
        paths.append(p)
    return drops, paths


def _open(drops, tmp, model, cells):
    return Watcher(drops, tmp / "state", None, window=200 * HOUR, model=model, cells=cells,
                   timezone=TZ, settle=0)


def _take(w, paths):
    for p in paths:
        st = os.stat(p)
        w.take(p, st.st_size, st.st_mtime)


def _whole_days(w):
    _, days, _ = w.window._plan()
    return set(days)


def test_a_restart_reads_the_partials_back(tmp_path, sample_rows, cells_csv, model,
                                           kernel_days):
    order = np.argsort(epoch(sample_rows), kind="stable")
    drops, paths = _files(tmp_path, sample_rows, np.array_split(order, 6))
    with _open(drops, tmp_path, model, cells_csv) as w:
        for p in paths:
            _take(w, [p])
            w.window.features()
        whole = _whole_days(w) & set((epoch(sample_rows) // HOUR // DAY_HOURS).tolist())
        stored = w.store.partials()
    assert whole and whole <= set(stored)
    assert any(days & whole for days in kernel_days)      # made once, from the slices
    kernel_days.clear()
    with _open(drops, tmp_path, model, cells_csv) as w:   # the restart: one refresh
        assert w.store.partials() == stored
        res, _ = w.window.features()                      # the kernel rows of the restart
        newest = w.window.newest
    assert kernel_days and not any(days & whole for days in kernel_days), kernel_days
    assert_same_features(res.features, batch_features(paths, newest, 200 * HOUR, cells_csv, TZ))


def _late_then_restart(tmp_path, rows, cells, model, kernel_days):
    """A late file committed into a whole day, then the process ends before that day's
    partials were written again; a restart.  Returns the day, the restart's features and
    the batch's."""
    t = epoch(rows)
    order = np.argsort(t, kind="stable")
    day = t.min() // HOUR // DAY_HOURS + 1
    late = np.flatnonzero(t // HOUR // DAY_HOURS == day)[::2]
    plan = [np.setdiff1d(p, late) for p in np.array_split(order, 6)] + [late]
    drops, paths = _files(tmp_path, rows, plan)
    with _open(drops, tmp_path, model, cells) as w:
        _take(w, paths[:-1])
        w.window.features()
        assert day in _whole_days(w) and day in w.store.partials()
        _take(w, paths[-1:])                              # committed; no refresh
    kernel_days.clear()
    with _open(drops, tmp_path, model, cells) as w:
        res, _ = w.window.features()
        newest = w.window.newest
    return day, res.features, batch_features(paths, newest, 200 * HOUR, cells, TZ)


def test_partials_of_older_slices_are_made_again(tmp_path, sample_rows, cells_csv, model,
                                                 kernel_days):
    """The restart makes the day of the late file again from its slices."""
    day, got, want = _late_then_restart(tmp_path, sample_rows, cells_csv, model, kernel_days)
    assert any(day in days for days in kernel_days)
    assert_same_features(got, want)


def test_stored_partials_of_older_slices_used_would_fail(tmp_path, sample_rows, cells_csv,
                                                         model, kernel_days, monkeypatch):
    """The test above can fail: a restart that takes stored partials whatever slices they
    were made from misses the late file's events."""
    monkeypatch.setattr(window.Window, "_day_inputs", lambda self, day: ["any"])
    _, got, want = _late_then_restart(tmp_path, sample_rows, cells_csv, model, kernel_days)
    with pytest.raises(AssertionError):
        assert_same_features(got, want)
