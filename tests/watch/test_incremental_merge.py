"""Incremental equals batch through the merge of partials: whole days of the window kept
as partials (docs/watch.md), late files into such a day, the re-reduce path beside it."""
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from simbox.watch import Watcher
from simbox.watch.window import DAY_HOURS, HOUR

from watch_helpers import assert_same_features, batch_features, epoch


def _replay(tmp, rows, plan, window_s, model, cells, merge=True, check=None):
    drops = tmp / "drops"
    drops.mkdir()
    w = Watcher(drops, tmp / "state", None, window=window_s, model=model, cells=cells,
                timezone="Asia/Shanghai", settle=0)
    w.window.merge = merge
    paths, seen = [], []
    try:
        for i, idx in enumerate(plan):
            p = drops / f"f{i:03d}.csv"
            rows.iloc[idx].to_csv(p, index=False)
            st_ = os.stat(p)
            w.take(p, st_.st_size, st_.st_mtime)
            w.window.features()
            seen.append((sorted(w.window.days), w.window.timings.get("day_partials", 0.0)))
            paths.append(p)
        got, _ = w.window.features()
        newest = w.window.newest
    finally:
        w.close()
    want = batch_features(paths, newest, window_s, cells, "Asia/Shanghai")
    return got.features, want, seen


@pytest.mark.parametrize("window_h", [50, 200])
def test_late_file_into_a_whole_day(tmp_path, sample_rows, cells_csv, model, window_h):
    """Files in time order, then a late one with events of a day kept as partials (some
    repeated): the day's partials of the subscribers it touched are made again."""
    t = epoch(sample_rows)
    order = np.argsort(t, kind="stable")
    plan = [a for a in np.array_split(order, 12)]
    rng = np.random.default_rng(1)
    late_day = max((t.max() // HOUR - window_h + 1) // DAY_HOURS,   # a whole day in the window
                   t.min() // HOUR // DAY_HOURS) + 1
    in_day = np.flatnonzero(t // HOUR // DAY_HOURS == late_day)
    assert len(in_day) > 100
    late = rng.choice(in_day, len(in_day) // 3, replace=False)
    kept = [np.setdiff1d(p, late) for p in plan]
    plan = kept + [np.concatenate([late, rng.choice(np.concatenate(kept), 20)])]
    got, want, seen = _replay(tmp_path, sample_rows, plan, window_h * HOUR, model, cells_csv)
    assert any(late_day in days for days, _ in seen)            # the merge path was taken
    assert_same_features(got, want)


def test_the_re_reduce_path_is_kept(tmp_path, sample_rows, cells_csv, model):
    order = np.argsort(epoch(sample_rows), kind="stable")
    got, want, seen = _replay(tmp_path, sample_rows, np.array_split(order, 5), 200 * HOUR,
                              model, cells_csv, merge=False)
    assert all(days == [] for days, _ in seen)
    assert_same_features(got, want)


def test_a_stale_day_not_made_again_fails(tmp_path, sample_rows, cells_csv, model, monkeypatch):
    """The test can fail: a window that ignores late events in a whole day's partials
    differs from the batch path."""
    from simbox.watch import window
    monkeypatch.setattr(window.Window, "apply", _apply_without_stale(window.Window.apply))
    t = epoch(sample_rows)
    order = np.argsort(t, kind="stable")
    day = t.min() // HOUR // DAY_HOURS + 1
    late = np.flatnonzero(t // HOUR // DAY_HOURS == day)[::2]
    plan = [np.setdiff1d(p, late) for p in np.array_split(order, 6)] + [late]
    got, want, _ = _replay(tmp_path, sample_rows, plan, 200 * HOUR, model, cells_csv)
    with pytest.raises(AssertionError):
        assert_same_features(got, want)


def _apply_without_stale(apply):
    def wrapped(self, p):
        apply(self, p)
        self.stale.clear()
    return wrapped


def _longer(rows, copies: int = 3):
    """The rows followed by ``copies - 1`` copies of them, each 3 days later (the same
    subscribers going on): a window of several whole days."""
    t = pd.to_datetime(rows["start_time"], utc=True)
    parts = [rows.assign(start_time=(t + pd.Timedelta(days=3 * k)).dt.strftime(
        "%Y-%m-%dT%H:%M:%SZ")) for k in range(copies)]
    return pd.concat(parts, ignore_index=True)


def test_several_whole_days_merged_into_one(tmp_path, sample_rows, cells_csv, model):
    """A window of about a week: its whole days are merged once into the window's middle
    partials (kept while the days are the same, spliced for a late file's subscribers)."""
    rows = _longer(sample_rows)
    t = epoch(rows)
    order = np.argsort(t, kind="stable")
    plan = list(np.array_split(order, 10))
    rng = np.random.default_rng(2)
    day = t.min() // HOUR // DAY_HOURS + 4                 # a whole day of the window's middle
    late = rng.choice(np.flatnonzero(t // HOUR // DAY_HOURS == day), 200, replace=False)
    plan = [np.setdiff1d(p, late) for p in plan] + [late]
    got, want, seen = _replay(tmp_path, rows, plan, 200 * HOUR, model, cells_csv)
    assert max(len(days) for days, _ in seen) >= 4 and any(day in days for days, _ in seen)
    assert_same_features(got, want)



def _late_first_and_closed(rows, window_h):
    """Files in time order, then late files with events of the window's first day and of a
    closed hour of its last day."""
    t = epoch(rows)
    newest = t.max()
    first_day = (newest // HOUR - window_h + 1) // DAY_HOURS
    closed = np.flatnonzero((t // HOUR // DAY_HOURS == newest // HOUR // DAY_HOURS)
                            & (t // HOUR < newest // HOUR))
    in_first = np.flatnonzero((t // HOUR // DAY_HOURS == first_day)
                              & (t // HOUR > newest // HOUR - window_h))
    assert len(closed) > 50 and len(in_first) > 50
    rng = np.random.default_rng(3)
    late = [rng.choice(in_first, len(in_first) // 4, replace=False),
            rng.choice(closed, len(closed) // 4, replace=False)]
    order = np.setdiff1d(np.arange(len(t)), np.concatenate(late))
    order = order[np.argsort(t[order], kind="stable")]
    return list(np.array_split(order, 14)) + late


def test_late_files_into_the_first_day_and_a_closed_hour(tmp_path, sample_rows, cells_csv, model):
    """The partials of the window's first day and of its last day's closed hours are kept
    between drops (``Window.held``), made again for the subscribers of the hours that
    expired or closed under them and of the slices late files rewrote: the table equals
    the batch's."""
    rows = _longer(sample_rows)
    got, want, _ = _replay(tmp_path, rows, _late_first_and_closed(rows, 200), 200 * HOUR,
                           model, cells_csv)
    assert_same_features(got, want)


def test_held_partials_not_made_again_fail(tmp_path, sample_rows, cells_csv, model, monkeypatch):
    """The test above can fail: held partials kept through the late files differ."""
    from simbox.watch import window
    held = window.Window._held

    def stuck(self, which, hours):
        if which in self.held and set(self.held[which][0]) == set(hours):
            return self.held[which][1]          # the slices a late file rewrote ignored
        return held(self, which, hours)
    monkeypatch.setattr(window.Window, "_held", stuck)
    rows = _longer(sample_rows)
    got, want, _ = _replay(tmp_path, rows, _late_first_and_closed(rows, 200), 200 * HOUR,
                           model, cells_csv)
    with pytest.raises(AssertionError):
        assert_same_features(got, want)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(6, 16), late=st.lists(st.integers(0, 15), min_size=1, max_size=3),
       window_h=st.sampled_from([60, 80, 200]))
def test_held_partials_with_random_late_files(tmp_path_factory, sample_rows, cells_csv, model,
                                              n, late, window_h):
    """Property: files in time order cut at random, some of them dropped last (late files
    into hours the held partials hold, or the middle): the table equals the batch's."""
    rows = _longer(sample_rows)
    order = np.argsort(epoch(rows), kind="stable")
    plan = list(np.array_split(order, n))
    moved = sorted({i % n for i in late})
    plan = [p for i, p in enumerate(plan) if i not in moved] + [plan[i] for i in moved]
    got, want, _ = _replay(tmp_path_factory.mktemp("held"), rows, plan, window_h * HOUR, model,
                           cells_csv)
    assert_same_features(got, want)


def _whole_day_calls(monkeypatch):
    """Record the days made whole (``_day_from_closed``) and those made from all their
    events (``_day_partials``)."""
    from simbox.watch import window
    seen = {"whole": [], "events": []}
    from_closed, from_events = window.Window._day_from_closed, window.Window._day_partials

    def closed(self, day):
        seen["whole"].append(day)
        return from_closed(self, day)

    def events(self, day, subs=None):
        seen["events"].append(day)
        return from_events(self, day, subs)
    monkeypatch.setattr(window.Window, "_day_from_closed", closed)
    monkeypatch.setattr(window.Window, "_day_partials", events)
    return seen


def test_a_day_made_whole_from_its_held_closed_hours(tmp_path, sample_rows, cells_csv, model,
                                                     monkeypatch):
    """A day that becomes whole is the held partials of its closed hours merged with its
    other hours' (not all its events reduced again): the table equals the batch's."""
    seen = _whole_day_calls(monkeypatch)
    rows = _longer(sample_rows)
    order = np.argsort(epoch(rows), kind="stable")
    got, want, _ = _replay(tmp_path, rows, list(np.array_split(order, 40)), 200 * HOUR,
                           model, cells_csv)
    assert set(seen["whole"]) - set(seen["events"])     # the held hours were used
    assert_same_features(got, want)


def test_a_day_made_whole_without_its_other_hours_fails(tmp_path, sample_rows, cells_csv, model,
                                                        monkeypatch):
    """The test above can fail: the held closed hours alone are not the whole day."""
    from simbox.watch import window

    def closed_only(self, day):
        kept = self.held.get("closed")
        return kept[1] if kept is not None and kept[0] else self._day_partials(day)
    monkeypatch.setattr(window.Window, "_day_from_closed", closed_only)
    rows = _longer(sample_rows)
    order = np.argsort(epoch(rows), kind="stable")
    got, want, _ = _replay(tmp_path, rows, list(np.array_split(order, 40)), 200 * HOUR,
                           model, cells_csv)
    with pytest.raises(AssertionError):
        assert_same_features(got, want)
