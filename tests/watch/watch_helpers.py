"""Helpers of the watch tests: event times, the batch reference, the comparison, a replay
of 15-minute drops."""
import os

import numpy as np
import pandas as pd


def epoch(rows: pd.DataFrame) -> np.ndarray:
    t = pd.to_datetime(rows["start_time"], utc=True)
    return ((t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy()


def batch_features(paths, newest, window_s, cells, timezone):
    """The reference: the batch path (``features_from_events``) over the files, the events
    outside the window ending at ``newest`` dropped."""
    from simbox.fastpath.events import CellDict, EventBatch
    from simbox.fastpath.readers import open_events
    from simbox.features import features_from_events
    from simbox.watch.window import in_window
    cd = CellDict()
    batches = []
    for b in open_events(list(paths), cells=cd):
        b = EventBatch(b.columns())        # a copy: the reader recycles its memory
        batches.append(b.take(in_window(b.time, newest, window_s)))
    return features_from_events(batches, cd, cells=cells, timezone=timezone).features


def taken(file_times, window_s) -> list:
    """Per file (its event times, in arrival order), the mask of the events a watch takes
    by the rule of docs/watch.md ("The window and the state"): those dated more than a window
    after both the file's median time (whole seconds) and the newest event taken before, or
    twice the file's spread below its median when that is more, are clock errors and not
    taken; the newest event taken then includes the file's others."""
    newest, masks = None, []
    for t in file_times:
        t = np.asarray(t, dtype=np.int64)
        if not len(t):
            masks.append(np.ones(0, dtype=bool))
            continue
        mid = int(np.median(t))
        base = mid if newest is None else max(mid, newest)
        keep = t <= base + max(window_s, 2 * (mid - int(t.min())))
        masks.append(keep)
        newest = int(t[keep].max()) if newest is None else max(newest, int(t[keep].max()))
    return masks


def assert_same_features(got: pd.DataFrame, want: pd.DataFrame):
    """Bit for bit for integer features, 1e-9 relative for floats."""
    assert list(got.index) == list(want.index)
    assert list(got.columns) == list(want.columns)
    for c in want.columns:
        a, b = got[c].to_numpy(), want[c].to_numpy()
        if np.issubdtype(b.dtype, np.integer):
            np.testing.assert_array_equal(a, b, err_msg=c)
        else:
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-9, atol=0,
                                       equal_nan=True, err_msg=c)


def quarter_hours(rows: pd.DataFrame, drops: int) -> list:
    """Row positions of the files of a replay: the first two days in one, then ``drops``
    files of 15 minutes each."""
    t = epoch(rows)
    order = np.argsort(t, kind="stable")
    start = t.min() + 2 * 86400
    cuts = [start] + [start + 900 * (i + 1) for i in range(drops)]
    return [order[t[order] < cuts[0]]] + [order[(t[order] >= a) & (t[order] < b)]
                                          for a, b in zip(cuts, cuts[1:])]


def drop_each(w, rows: pd.DataFrame, plan: list, folder) -> None:
    """Each file of ``plan`` written to ``folder``, taken by the watcher ``w`` and
    followed by its refresh."""
    for i, idx in enumerate(plan):
        if not len(idx):
            continue
        p = folder / f"f{i:03d}.csv"
        rows.iloc[idx].to_csv(p, index=False)
        st = os.stat(p)
        w.refresh([w.take(p, st.st_size, st.st_mtime)])
