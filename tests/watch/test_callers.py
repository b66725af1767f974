"""Calls from a SIM's own group (simbox/watch/callers.py) against a pandas reference over
the CSV rows; and the alert policy's reading of them: a box whose SIMs call each other
shows no sign of an office."""
import os

import numpy as np
import pandas as pd

from simbox.watch.callers import unsolicited_in_group
from simbox.watch.policy import unsolicited
from simbox.watch.watcher import Watcher

BOX = [f"46000990000000{i}" for i in range(1, 5)]
NUMBERS = [f"86199900000{i:02d}" for i in range(1, 5)]


def _box_rows(t0: pd.Timestamp) -> pd.DataFrame:
    """A box of four SIMs on two IMEIs at one cell calling each other, a call from an
    outside number and a callback."""
    rows, t = [], t0
    for k in range(24):
        a, b = k % 4, (k + 1 + k // 4) % 4
        if a == b:
            continue
        t += pd.Timedelta(minutes=7)
        for rtype, me, other in (("MOC", a, NUMBERS[b]), ("MTC", b, NUMBERS[a])):
            rows.append({"record_type": rtype, "start_time": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "imsi": BOX[me], "imei": f"35401382099900{me // 2}",
                         "msisdn": NUMBERS[me], "other_party": other, "duration_s": "60",
                         "cell_id": "46000-4819-53"})
    for rtype, other, dt in (("MTC", "8613800000001", 1), ("MOC", "8613800000002", 2),
                             ("MTC", "8613800000002", 3)):
        rows.append({"record_type": rtype,
                     "start_time": (t + pd.Timedelta(minutes=dt)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "imsi": BOX[0], "imei": "354013820999000", "msisdn": NUMBERS[0],
                     "other_party": other, "duration_s": "30", "cell_id": "46000-4819-53"})
    return pd.DataFrame(rows)


def _reference(rows: pd.DataFrame, sims: pd.DataFrame) -> pd.Series:
    """Per callee: MTC with a number, no MOC of the callee to that number before it, from a
    SIM (by its MSISDN in the rows) whose main site or main IMEI is the callee's."""
    t = pd.to_datetime(rows["start_time"], utc=True)
    moc = rows[rows["record_type"] == "MOC"].assign(t=t)
    mtc = rows[(rows["record_type"] == "MTC") & (rows["other_party"] != "")].assign(t=t)
    owner = rows[rows["msisdn"] != ""].groupby("msisdn")["imsi"].agg(set)
    owner = owner[owner.map(len) == 1].map(lambda s: next(iter(s)))
    out = {}
    for r in mtc.itertuples():
        earlier = moc[(moc["imsi"] == r.imsi) & (moc["other_party"] == r.other_party)
                      & (moc["t"] < r.t)]
        caller = owner.get(r.other_party)
        if len(earlier) or caller is None or caller == r.imsi or caller not in sims.index:
            continue
        same = any(sims.at[caller, c] == sims.at[r.imsi, c] and sims.at[caller, c] not in
                   ("", None) and not pd.isna(sims.at[caller, c])
                   for c in ("main_site", "main_imei"))
        out[r.imsi] = out.get(r.imsi, 0) + int(same)
    return pd.Series(out, dtype=float)


def test_calls_from_the_group_equal_the_reference(tmp_path, sample_rows, cells_csv, model):
    rows = sample_rows.copy()
    t0 = pd.to_datetime(rows["start_time"], utc=True).min() + pd.Timedelta(hours=30)
    rows = pd.concat([rows, _box_rows(t0)], ignore_index=True)
    drops = tmp_path / "drops"
    drops.mkdir()
    w = Watcher(drops, tmp_path / "state", None, window="7d", model=model, cells=cells_csv,
                settle=0)
    try:
        half = len(rows) // 2
        for i, part in enumerate((rows.iloc[:half], rows.iloc[half:])):
            p = drops / f"f{i}.csv"
            part.to_csv(p, index=False)
            st = os.stat(p)
            w.take(p, st.st_size, st.st_mtime)
        res, _ = w.window.features()
        keys = res.features.index
        got = pd.Series(unsolicited_in_group(w.window, res, keys), index=keys)
    finally:
        w.close()
    want = _reference(rows, res.sims).reindex(keys).fillna(0.0)
    pd.testing.assert_series_equal(got, want, check_names=False)
    # the box's SIMs: every call received from a sibling it had not called counts
    assert got[BOX].sum() > 0
    feats = res.features.loc[BOX]
    raw = unsolicited(feats)
    left = unsolicited(feats.assign(unsolicited_in=got[BOX].to_numpy()))
    # the box's first SIM keeps the one call from outside; its siblings are left with none
    assert left.tolist() == [1, 0, 0, 0], (raw, left)


def test_a_key_outside_the_window_counts_nothing(tmp_path, sample_rows, cells_csv, model):
    drops = tmp_path / "drops"
    drops.mkdir()
    w = Watcher(drops, tmp_path / "state", None, window="7d", model=model, cells=cells_csv,
                settle=0)
    try:
        p = drops / "f.csv"
        sample_rows.iloc[:500].to_csv(p, index=False)
        st = os.stat(p)
        w.take(p, st.st_size, st.st_mtime)
        res, _ = w.window.features()
        got = unsolicited_in_group(w.window, res, ["999999999999999", res.features.index[0]])
    finally:
        w.close()
    assert got[0] == 0 and np.isfinite(got).all()
