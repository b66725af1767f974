"""A backlog taken in groups (``batch``, ``catch_up``): the same state as its files taken one
by one, and groups bounded in files and in network time."""
import os
import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from simbox.watch import Watcher

from watch_helpers import assert_same_features, batch_features, epoch, taken

LEDGER = "select name, events, duplicates, too_old, ahead, network_time from ledger order by id"


def _files(tmp, rows, plan, dup_share, seed):
    """The files of ``plan`` (row positions), some rows copied into the next file."""
    rng = np.random.default_rng(seed)
    folder = tmp / "drops"
    folder.mkdir()
    paths = []
    for i, idx in enumerate(plan):
        extra = plan[i - 1][rng.random(len(plan[i - 1])) < dup_share] if i else []
        p = folder / f"f{i:03d}.csv"
        rows.iloc[np.r_[idx, extra].astype(int)].to_csv(p, index=False)
        os.utime(p, (1_000_000 + i, 1_000_000 + i))          # arrival order
        paths.append(p)
    if len(paths) > 2:                                       # the same file twice
        again = folder / "f999.csv"
        again.write_bytes(paths[1].read_bytes())
        os.utime(again, (1_000_000 + len(paths), 1_000_000 + len(paths)))
    return folder


def _state(tmp, folder, model, cells, window_h, **kw):
    w = Watcher(folder, tmp / "state", None, window=f"{window_h}h", model=model, cells=cells,
                timezone="UTC", settle=0, min_history=0, early=False, **kw)
    try:
        refreshes = []
        refresh = w.refresh
        w.refresh = lambda drops: (refreshes.append([d.name for d in drops]), refresh(drops))
        w.poll(once=True)
        feats, _ = w.window.features()
        slices = {h: np.array(s.rows) for h, s in w.window.slices.items()}
        ledger = w.store.db.execute(LEDGER).fetchall()
        return feats.features, slices, ledger, refreshes
    finally:
        w.close()


def _one_by_one_and_grouped(tmp_path_factory, rows, cells, model, cuts, shuffle, dup_share,
                            window_h, seed, **grouped):
    """The files of ``rows`` cut at ``cuts`` (shuffled: late and out-of-order files) taken one
    by one and as a backlog with the options ``grouped``: both states (:func:`_state`), the
    plan and the grouped run's folder; the same ledger (every file counted as if taken
    alone) and the same slices asserted."""
    t = epoch(rows)
    order = np.argsort(t, kind="stable")
    plan = np.split(order, sorted({int(c * len(order)) for c in cuts}))
    if shuffle:
        plan = [plan[i] for i in np.random.default_rng(seed).permutation(len(plan))]
    f1 = _files(tmp_path_factory.mktemp("one"), rows, plan, dup_share, seed)
    f2 = _files(tmp_path_factory.mktemp("grouped"), rows, plan, dup_share, seed)
    a = _state(f1.parent, f1, model, cells, window_h, batch=1)
    b = _state(f2.parent, f2, model, cells, window_h, **grouped)
    assert b[2] == a[2]
    assert a[1].keys() == b[1].keys()
    for h in a[1]:
        np.testing.assert_array_equal(a[1][h], b[1][h])
    return a, b, plan, f2


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=7),
       shuffle=st.booleans(), dup_share=st.sampled_from([0.0, 0.2]),
       window_h=st.sampled_from([20, 200]), batch=st.integers(2, 9),
       seed=st.integers(0, 2**16))
def test_a_backlog_in_groups_equals_its_files_one_by_one(tmp_path_factory, sample_rows,
                                                         cells_csv, model, cuts, shuffle,
                                                         dup_share, window_h, batch, seed):
    a, b, _, _ = _one_by_one_and_grouped(tmp_path_factory, sample_rows, cells_csv, model, cuts,
                                         shuffle, dup_share, window_h, seed, batch=batch,
                                         catch_up="365d")
    assert_same_features(b[0], a[0])
    assert [len(g) for g in a[3]] == [1] * len(a[2])
    assert max(len(g) for g in b[3]) == min(batch, len(b[2]))


def test_a_group_ends_once_its_events_reach_catch_up(tmp_path, sample_rows, cells_csv, model):
    t = epoch(sample_rows)
    order = np.argsort(t, kind="stable")
    start = t.min()
    plan = [order[(t[order] >= start + 1800 * i) & (t[order] < start + 1800 * (i + 1))]
            for i in range(10)]                        # ten half-hour files
    folder = _files(tmp_path, sample_rows, plan, 0.0, 0)
    (folder / "f999.csv").unlink()
    feats, _, ledger, refreshes = _state(tmp_path, folder, model, cells_csv, 200, batch=100,
                                         catch_up="1h")
    # each group ends at the first file whose newest event is 1 h past the newest event
    # before the group (in a new state, the first file's)
    newest = [r[5] for r in ledger]
    want, group, start = [], 0, newest[0]
    for t in newest:
        group += 1
        if t - start >= 3600:
            want.append(group)
            group, start = 0, max(start, t)
    want += [group] if group else []
    assert [len(g) for g in refreshes] == want
    assert len(want) > 2 and sum(want) == len(ledger) == 10


def test_catch_up_must_be_a_duration(tmp_path, model):
    from simbox.errors import ConfigError
    for bad in ("soon", "0"):
        with pytest.raises(ConfigError) as e:
            Watcher(tmp_path, tmp_path / "state", None, model=model, catch_up=bad)
        assert str(e.value) == (f"--catch-up {bad!r}: give a duration such as 1h or 1d, or "
                                "auto (every file ready at a poll, one refresh)")


def test_a_bad_column_profile_is_refused_when_the_watch_starts(tmp_path, model):
    """The profile is loaded once, by the watch, not file after file (each then quarantined)."""
    from simbox.errors import ConfigError
    with pytest.raises(ConfigError) as e:
        Watcher(tmp_path, tmp_path / "state", None, model=model, columns="no-such-profile")
    assert str(e.value).startswith("unknown column profile 'no-such-profile': built-in "
                                   "profiles are ")
    assert not (tmp_path / "state").exists()


def _taken_copies(folder, tmp, window_s) -> list:
    """The drop files in arrival order (their times), each copied into ``tmp`` without the
    events a watch takes as clock errors (``watch_helpers.taken``); the copies' rows."""
    import pandas as pd
    paths = sorted(folder.glob("f*.csv"), key=lambda p: p.stat().st_mtime)
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths]
    kept = [f[m] for f, m in zip(frames, taken([epoch(f) for f in frames], window_s))]
    for p, f in zip(paths, kept):
        f.to_csv(tmp / p.name, index=False)
    return kept


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=7),
       shuffle=st.booleans(), dup_share=st.sampled_from([0.0, 0.2]),
       window_h=st.sampled_from([20, 200]), batch=st.integers(1, 5),
       group_events=st.sampled_from([1, 3000, 1 << 22]), seed=st.integers(0, 2**16))
# (CI, session 19) shuffled files with a window of 20 h: the watch takes 119 events of one
# file and 16 of another as clock errors, by the documented rule; the reference must too
@example(cuts=[0.0, 0.642947287725684, 0.753347862855178, 0.618487951292711,
               0.7397370465704441, 0.9995, 0.998], shuffle=True, dup_share=0.2, window_h=20,
         batch=1, group_events=1, seed=133)
def test_catch_up_auto_takes_every_ready_file_with_one_refresh(
        tmp_path_factory, sample_rows, cells_csv, model, monkeypatch, cuts, shuffle, dup_share,
        window_h, batch, group_events, seed):
    """``--catch-up auto`` (load-driven): every file ready at the poll, committed in groups of
    at most ``batch`` files and ``GROUP_EVENTS`` events, one refresh: the same ledger and
    slices as the files one by one, the features of the batch path over the window, every
    distinct event of the window once (none lost, none doubled).  The reference reads the
    events a watch takes of each file (clock errors left out: ``watch_helpers.taken``)."""
    import pandas as pd
    from simbox.watch import watcher
    monkeypatch.setattr(watcher, "GROUP_EVENTS", group_events)
    _, b, plan, f2 = _one_by_one_and_grouped(tmp_path_factory, sample_rows, cells_csv, model,
                                             cuts, shuffle, dup_share, window_h, seed,
                                             batch=batch, catch_up="auto")
    assert [len(g) for g in b[3]] == [len(b[2])]       # one refresh for all of them
    ref = tmp_path_factory.mktemp("reference")
    kept = _taken_copies(f2, ref, window_h * 3600)
    newest = max(r[5] for r in b[2] if r[5] is not None)
    assert_same_features(b[0], batch_features(sorted(ref.glob("f*.csv")), newest,
                                              window_h * 3600, cells_csv, "UTC"))
    first = newest // 3600 - window_h + 1             # the window's distinct events, once
    rows = pd.concat(kept).drop_duplicates()
    assert sum(len(r) for r in b[1].values()) == int((epoch(rows) // 3600 >= first).sum())


def test_catch_up_auto_one_ready_file_is_refreshed_alone(tmp_path, sample_rows, cells_csv, model):
    """Files landing one at a time are each taken and refreshed alone in ``auto`` too."""
    t = epoch(sample_rows)
    order = np.argsort(t, kind="stable")
    folder = _files(tmp_path, sample_rows, np.array_split(order, 4), 0.0, 0)
    (folder / "f999.csv").unlink()
    hidden = sorted(folder.glob("f*.csv"))
    for p in hidden:
        p.rename(p.with_name("." + p.name))            # dotfiles: not read
    w = Watcher(folder, tmp_path / "state", None, window="200h", model=model, cells=cells_csv,
                timezone="UTC", settle=0, min_history=0, early=False, catch_up="auto")
    try:
        refreshes = []
        refresh = w.refresh
        w.refresh = lambda drops: (refreshes.append([d.name for d in drops]), refresh(drops))
        for p in hidden:
            p.with_name("." + p.name).rename(p)
            w.poll(once=True)
    finally:
        w.close()
    assert refreshes == [[p.name] for p in hidden]
