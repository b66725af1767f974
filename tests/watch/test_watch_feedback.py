"""simbox watch and the feedback loop (issue 18): exclusions and the history store."""
import json
import sqlite3

import pandas as pd
import pytest

from simbox.watch import Watcher

from test_watch_cli import drops  # noqa: F401  (the fixture: four drop files of the sample)


def _watch(tmp_path, drops, cells_csv, model, state, out=None, **kw):  # noqa: F811
    return Watcher(drops, tmp_path / state, out, model=model, cells=cells_csv, timezone="UTC",
                   settle=0, batch=4, catch_up="30d", report=False, min_history=0, **kw)


def test_exclusions_and_history_in_a_watch(tmp_path, drops, cells_csv, model):  # noqa: F811
    w = _watch(tmp_path, drops, cells_csv, model, "plain", history=False)
    try:
        w.poll()
        flagged = w.result.flagged
    finally:
        w.close()
    key = flagged.columns[0]
    assert len(flagged) >= 2
    first, second = flagged[key].astype(str).iloc[:2]
    excl = tmp_path / "exclusions.csv"
    excl.write_text("kind,value,reason,owner,expires\n"
                    f"imsi,{first},call centre of a bank,fraud-ops,\n")
    hist = tmp_path / "history.sqlite"
    out = tmp_path / "out"
    w = _watch(tmp_path, drops, cells_csv, model, "fed", out, exclude=excl, history=hist)
    try:
        w.poll()
        keys = set(w.result.flagged[key].astype(str))
        assert first not in keys and second in keys
        excluded = pd.read_csv(out / "current" / "excluded.csv", dtype=str)
        assert excluded[key].tolist() == [first]
        assert excluded["exclusion_reason"].tolist() == ["call centre of a bank"]
        alerts = [json.loads(x) for x in (out / "alerts.jsonl").read_text().splitlines()]
        assert first not in {a["imsi"] for a in alerts} and second in {a["imsi"] for a in alerts}
        assert set(w.result.flagged["status"]) == {"new"}
        # the file is edited while the watch runs: the next refresh reads it again
        excl.write_text(excl.read_text() + f"imsi,{second},test SIM of the carrier,noc,\n")
        w.refresh([])
        assert second not in set(w.result.flagged[key].astype(str))
        alerts = [json.loads(x) for x in (out / "alerts.jsonl").read_text().splitlines()]
        assert [a["state"] for a in alerts if a["imsi"] == second] == ["new", "cleared"]
        assert set(w.result.flagged["status"]) == {"known"}
    finally:
        w.close()
    with sqlite3.connect(hist) as db:
        assert db.execute("SELECT kind, COUNT(*) FROM scans GROUP BY kind").fetchall() == \
            [("watch", 2)]


def test_a_malformed_exclusions_file_stops_the_start_and_is_kept_later(tmp_path, drops,  # noqa: F811
                                                                       cells_csv, model, caplog):
    from simbox.errors import SimboxError
    excl = tmp_path / "exclusions.csv"
    excl.write_text("kind,value,reason,owner,expires\nimsis,1,x,y,\n")
    with pytest.raises(SimboxError, match=r"exclusions.csv:2: field 'kind': 'imsis' is not one"):
        _watch(tmp_path, drops, cells_csv, model, "bad", exclude=excl, history=False)
    excl.write_text("kind,value,reason,owner,expires\n")
    w = _watch(tmp_path, drops, cells_csv, model, "later", exclude=excl, history=False)
    try:
        w.poll()
        excl.write_text("kind,value,reason,owner,expires\nimsis,1,x,y,\n")
        w.refresh([])
        assert "kept the previous exclusions" in caplog.text
    finally:
        w.close()


def test_a_row_dated_2199_is_not_taken_and_the_window_stays(tmp_path, drops, cells_csv,  # noqa: F811
                                                            model):
    first = drops / "d0.csv"
    rows = first.read_text().splitlines()
    head = rows[0].split(",")
    bad = rows[1].split(",")
    bad[head.index("start_time")] = "2199-01-01T00:00:00Z"
    first.write_text("\n".join(rows + [",".join(bad)]) + "\n")
    w = _watch(tmp_path, drops, cells_csv, model, "ahead", history=False)
    try:
        taken = w.poll()
        assert {d.name: d.ahead for d in taken} == {"d0.csv": 1, "d1.csv": 0, "d2.csv": 0,
                                                    "d3.csv": 0}
        assert sum(d.events for d in taken) == sum(
            len(p.read_text().splitlines()) - 1 for p in sorted(drops.glob("d*.csv"))) - 1
        assert w.window.newest < 4102444800          # 2100-01-01: the window did not jump
        assert w.store.db.execute("SELECT name, ahead FROM ledger ORDER BY name").fetchall() == \
            [("d0.csv", 1), ("d1.csv", 0), ("d2.csv", 0), ("d3.csv", 0)]
    finally:
        w.close()
