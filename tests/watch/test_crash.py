"""Crash safety: kill -9 at any point, then a restart, loses no event and counts none twice."""
import json
import os
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from simbox.watch import Watcher

from watch_helpers import assert_same_features, batch_features, epoch

CHILD = os.path.join(os.path.dirname(__file__), "crash_child.py")


def _drops(tmp, rows, n=10):
    folder = tmp / "drops"
    folder.mkdir()
    order = np.argsort(epoch(rows), kind="stable")
    paths = []
    for i, idx in enumerate(np.array_split(order, n)):
        p = folder / f"d{i:02d}.csv"
        rows.iloc[idx].to_csv(p, index=False)
        os.utime(p, (1_000_000 + i, 1_000_000 + i))       # arrival order
        paths.append(p)
    extra = folder / "d99.csv"                             # a late copy of a file: skipped
    extra.write_bytes(paths[3].read_bytes())
    os.utime(extra, (2_000_000, 2_000_000))
    return folder, paths


def _child(folder, tmp, cells, *point, batch=1, catch_up="30d"):
    env = dict(os.environ, CELLS=str(cells), OMP_NUM_THREADS="1", BATCH=str(batch),
               CATCH_UP=catch_up)
    return subprocess.Popen([sys.executable, CHILD, str(folder), str(tmp / "state"),
                             str(tmp / "out"), *map(str, point)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check(tmp, paths, cells, model):
    """Every file once in the ledger, the window equal to the batch, alerts.jsonl equal to
    the alerts raised (each once), no slice file outside the manifest."""
    db = sqlite3.connect(tmp / "state" / "state.sqlite")
    names = [r[0] for r in db.execute("select name from ledger order by id")]
    lines = [r[0] for r in db.execute("select line from alerts order by seq")]
    db.close()
    assert sorted(names) == sorted(p.name for p in paths)
    w = Watcher(paths[0].parent, tmp / "state", tmp / "out", window="7d", model=model,
                cells=cells, timezone="UTC", settle=0, report=False)
    try:
        assert w.poll() == []
        res, _ = w.window.features()
        want = batch_features(paths, w.window.newest, 7 * 86400, cells, "UTC")
        assert_same_features(res.features, want)
        assert {p.name for p in w.store.slice_dir.iterdir()} == set(w.store.manifest().values())
        assert {p.name for p in w.store.partial_dir.iterdir()} == \
            {f for f, _ in w.store.partials().values()}
        events = sum(n for n, in w.store.db.execute("select events from slices"))
    finally:
        w.close()
    assert events > 0
    text = (tmp / "out" / "alerts.jsonl").read_text()
    assert text.endswith("\n")
    got = text.splitlines()
    assert got == lines
    keys = [(a["imsi"], a["state"], a["network_time"]) for a in map(json.loads, got)]
    assert len(keys) == len(set(keys))
    assert any(a["state"] == "new" for a in map(json.loads, got))


@pytest.mark.parametrize("point,n", [("before_commit", 2), ("after_commit", 3),
                                     ("after_alerts", 2), ("mid_alert_line", 1),
                                     ("partials_written", 1), ("partials_recorded", 1)])
def test_kill_at_a_point_then_restart(tmp_path, sample_rows, cells_csv, model, point, n):
    folder, paths = _drops(tmp_path, sample_rows)
    p = _child(folder, tmp_path, cells_csv, point, n)
    p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL
    p = _child(folder, tmp_path, cells_csv)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    _check(tmp_path, paths, cells_csv, model)


@pytest.mark.parametrize("catch_up", ["30d", "auto"])
@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_kill_in_a_backlog_taken_in_groups_then_restart(tmp_path, sample_rows, cells_csv, model,
                                                        point, catch_up):
    """Files committed four at a time (one transaction): a kill at the second group's
    commit, then a restart taking the rest one by one.  ``auto``: the groups of one
    cycle are committed before its one refresh, so the kill comes between a committed
    group and any refresh of it; the restart's refresh raises what was not raised."""
    folder, paths = _drops(tmp_path, sample_rows)
    p = _child(folder, tmp_path, cells_csv, point, 2, batch=4, catch_up=catch_up)
    p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL
    db = sqlite3.connect(tmp_path / "state" / "state.sqlite")
    taken = db.execute("select count(*) from ledger").fetchone()[0]
    db.close()
    assert taken == (4 if point == "before_commit" else 8)       # whole groups or nothing
    p = _child(folder, tmp_path, cells_csv)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    _check(tmp_path, paths, cells_csv, model)


def test_kill_at_random_times_then_restart(tmp_path, sample_rows, cells_csv, model):
    folder, paths = _drops(tmp_path, sample_rows)
    rng = np.random.default_rng(11)
    kills = 0
    for attempt in range(40):
        p = _child(folder, tmp_path, cells_csv)
        try:
            # later attempts wait longer: on a loaded machine a child may need more
            # than 4 s to import and take a file, and every attempt must be able to end
            p.wait(timeout=float(rng.uniform(0.3, 4.0)) * (1 + attempt / 8))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            kills += 1
        out, err = p.communicate(timeout=300)
        if p.returncode == 0:
            break
        assert p.returncode == -signal.SIGKILL, err
    else:
        pytest.fail("the watcher never finished")
    assert kills >= 1
    _check(tmp_path, paths, cells_csv, model)
