"""simbox watch: files taken once, files skipped, quarantine, full disk, hooks, status, logs."""
import errno
import http.server
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from simbox.cli import main
from simbox.watch import ALERT_FIELDS, Watcher, url_hook
from simbox.watch.store import Store

from watch_helpers import epoch


@pytest.fixture
def drops(tmp_path, sample_rows):
    folder = tmp_path / "drops"
    folder.mkdir()
    order = np.argsort(epoch(sample_rows), kind="stable")
    for i, idx in enumerate(np.array_split(order, 4)):
        p = folder / f"d{i}.csv"
        sample_rows.iloc[idx].to_csv(p, index=False)
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
    return folder


def _cli(*argv):
    return main(["watch", *map(str, argv)])


def test_once_takes_each_file_once_and_skips_the_rest(tmp_path, drops, cells_csv, capsys):
    (drops / "d1.csv.tmp").write_text("half a file")
    (drops / ".d5.csv").write_text("hidden")
    (drops / "copy.csv").write_bytes((drops / "d0.csv").read_bytes())   # the same file again
    (drops / "quiet.csv").write_text("record_type,start_time,imsi,imei,msisdn,other_party,"
                                     "duration_s,cell_id\n")
    (drops / "bad.csv").write_text("garbage\n")
    common = ["--state", tmp_path / "st", "--out", tmp_path / "out", "--settle", 0,
              "--cells", cells_csv, "--timezone", "UTC", "--retries", 2, "--once"]
    assert _cli(drops, *common) == 0
    assert "5 file(s) taken" in capsys.readouterr().out       # d0-d3 and quiet.csv
    assert (drops / "bad.csv").exists()                      # one failure: retried
    assert _cli(drops, *common) == 0
    assert "0 file(s) taken" in capsys.readouterr().out
    assert not (drops / "bad.csv").exists()
    reason = (drops / "quarantine" / "bad.csv.reason.txt").read_text()
    assert "bad.csv:1: no header line" in reason and "attempts: 2" in reason
    assert (drops / "d1.csv.tmp").exists() and (drops / ".d5.csv").exists()
    db = Store(tmp_path / "st")
    names = sorted(r[0] for r in db.db.execute("select name from ledger"))
    db.close()
    assert names == ["d0.csv", "d1.csv", "d2.csv", "d3.csv", "quiet.csv"]
    alerts = [json.loads(x) for x in (tmp_path / "out" / "alerts.jsonl").read_text().splitlines()]
    assert alerts and all(tuple(a) == ALERT_FIELDS for a in alerts)
    assert {a["state"] for a in alerts} <= {"new", "escalated", "cleared"}
    first = next(a for a in alerts if a["state"] == "new")
    assert first["network_time"] >= first["first_seen"]
    start = min(epoch(pd.read_csv(drops / f"d{i}.csv", dtype=str))
                               .min() for i in range(4))
    # no alert in the first two days of network time (--min-history 2d)
    assert min(pd.Timestamp(a["network_time"]).timestamp() for a in alerts) >= start + 2 * 86400
    for f in ("flagged.csv", "deployments.csv", "sites.csv", "sites.geojson", "sites.kml",
              "report.html"):
        assert (tmp_path / "out" / "current" / f).is_file()
    html = (tmp_path / "out" / "current" / "report.html").read_text()
    assert "Since last drop" in html
    assert _cli("status", "--state", tmp_path / "st", "--json") == 0
    s = json.loads(capsys.readouterr().out)
    assert s["files"] == 5 and s["quarantined"] == 1 and s["alerts"] == len(alerts)
    assert s["last_alert"] == alerts[-1] and s["state_bytes"] > 0
    assert s["scoring"]["rows"] > 0 and s["scoring"]["every_s"] == 3600   # rescore.py
    assert 0 < s["scoring"]["rescored"] <= s["scoring"]["rows"]
    assert _cli("status", "--state", tmp_path / "st") == 0
    text = capsys.readouterr().out
    assert "files taken:       5" in text
    assert "SIMs rescored at the last drop; every SIM at the first drop of each 60 network " \
        "minutes" in text


def test_status_without_state_is_one_line(tmp_path, capsys):
    assert _cli("status", "--state", tmp_path / "none") == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"simbox watch: error: {tmp_path / 'none'}: no watch state here (give the "
                   "--state folder of simbox watch)")


def test_a_growing_file_waits_for_the_settle_time(tmp_path, drops, cells_csv, model):
    now = [1_000_000.0 + 3]
    w = Watcher(drops, tmp_path / "st", None, model=model, cells=cells_csv, timezone="UTC",
                settle=10, clock=lambda: now[0])
    try:
        assert w.ready() == []                       # d3 written 0 s ago, d0 3 s ago
        now[0] += 20
        assert [p.name for p, *_ in w.ready()] == ["d0.csv", "d1.csv", "d2.csv", "d3.csv"]
        with open(drops / "d3.csv", "a") as f:       # still growing
            f.write("")
        os.utime(drops / "d3.csv", (now[0], now[0]))
        assert [p.name for p, *_ in w.ready()] == ["d0.csv", "d1.csv", "d2.csv"]
    finally:
        w.close()


def test_a_full_disk_is_reported_and_the_file_taken_later(tmp_path, drops, cells_csv, model,
                                                          monkeypatch, caplog):
    w = Watcher(drops, tmp_path / "st", None, model=model, cells=cells_csv, timezone="UTC",
                settle=0, batch=1)          # each file alone: the one that fails is retried
    real = Store.write_slice
    calls = {"n": 0}

    def full(self, hour, rows):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device", "slices/x.npy")
        return real(self, hour, rows)
    monkeypatch.setattr(Store, "write_slice", full)
    try:
        taken = [d.name for d in w.poll()]
        assert "d0.csv" not in taken
        assert "No space left on device" in caplog.text and "taken again" in caplog.text
        assert w.store.files() == len(taken)
        assert set(os.listdir(w.store.slice_dir)) == set(w.store.manifest().values())
        assert [d.name for d in w.poll()] == ["d0.csv"]
    finally:
        w.close()


def test_on_alert_command_gets_the_alert_lines(tmp_path, drops, cells_csv):
    got = tmp_path / "hook.jsonl"
    cmd = f"{sys.executable} -c \"import sys; open(r'{got}', 'a').write(sys.stdin.read())\""
    assert _cli(drops, "--state", tmp_path / "st", "--out", tmp_path / "out", "--settle", 0,
                "--cells", cells_csv, "--timezone", "UTC", "--once", "--no-report",
                "--on-alert", cmd) == 0
    assert got.read_text() == (tmp_path / "out" / "alerts.jsonl").read_text()


def test_on_alert_url_posts_a_json_array_and_retries(tmp_path):
    bodies, codes = [], [503, 200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(codes.pop(0))
            self.end_headers()

        def log_message(self, *a):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        lines = ['{"imsi": "1", "state": "new"}', '{"imsi": "2", "state": "cleared"}']
        url_hook(f"http://127.0.0.1:{server.server_port}/a", backoff=0)(lines)
    finally:
        server.shutdown()
    assert len(bodies) == 2 and json.loads(bodies[1]) == [json.loads(x) for x in lines]


def test_log_json_and_print_alerts(tmp_path, drops, cells_csv):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "simbox", "watch", str(drops), "--state",
                        str(tmp_path / "st"), "--out", str(tmp_path / "out"), "--settle", "0",
                        "--cells", str(cells_csv), "--timezone", "UTC", "--once", "--no-report",
                        "--log-json", "--print-alerts"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    logs = [json.loads(x) for x in p.stderr.splitlines()]
    drops_logged = [x for x in logs if x.get("event") == "drop"]
    assert [x["name"] for x in drops_logged] == ["d0.csv", "d1.csv", "d2.csv", "d3.csv"]
    assert all(x["events"] > 0 and x["level"] == "info" for x in drops_logged)
    assert p.stdout == (tmp_path / "out" / "alerts.jsonl").read_text()


def test_a_backlog_in_one_refresh(tmp_path, drops, cells_csv, model):
    w = Watcher(drops, tmp_path / "st", tmp_path / "out", model=model, cells=cells_csv,
                timezone="UTC", settle=0, batch=4, catch_up="30d", report=False)
    try:
        taken = w.poll()
        assert [d.name for d in taken] == ["d0.csv", "d1.csv", "d2.csv", "d3.csv"]
        assert w.store.files() == 4
    finally:
        w.close()
    alerts = [json.loads(x) for x in (tmp_path / "out" / "alerts.jsonl").read_text().splitlines()]
    assert alerts and {a["state"] for a in alerts} == {"new"}
    assert len({a["network_time"] for a in alerts}) == 1      # one refresh, at the end


def test_outputs_that_cannot_be_written_do_not_stop_the_watch(tmp_path, drops, cells_csv,
                                                              model, monkeypatch, caplog):
    from simbox.errors import OutputError
    from simbox.scan import ScanResult

    def full(self, out_dir, *, report=True):
        raise OutputError(f"{out_dir}: cannot write the scan output: no space left on the device")
    monkeypatch.setattr(ScanResult, "write", full)
    w = Watcher(drops, tmp_path / "st", tmp_path / "out", model=model, cells=cells_csv,
                timezone="UTC", settle=0, report=False)
    try:
        assert len(w.poll()) == 4
    finally:
        w.close()
    assert "the outputs are not rewritten" in caplog.text
    assert (tmp_path / "out" / "alerts.jsonl").read_text().count("\n") > 0


def test_the_command_and_the_library_default_to_the_same_backlog_groups():
    """``--batch`` and ``--catch-up`` default to the library's (a backlog after downtime is
    caught up in groups without asking; one file ready at a time is refreshed alone)."""
    import argparse
    from simbox.commands import watch as command
    from simbox.watch.watcher import DEFAULT_BATCH, DEFAULT_CATCH_UP
    p = argparse.ArgumentParser()
    command.add_arguments(p)
    defaults = {a.dest: a.default for a in p._actions}
    assert (defaults["batch"], defaults["catch_up"]) == (DEFAULT_BATCH, DEFAULT_CATCH_UP)
    assert DEFAULT_BATCH > 1
