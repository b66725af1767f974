import json

from simbox.cli import main


def test_simulate_command_writes_files_and_a_summary(tmp_path, capsys):
    out = tmp_path / "net"
    rc = main(["simulate", "--subscribers", "600", "--days", "1", "--scenario", "baseline",
               "--seed", "2", "--out", str(out)])
    assert rc == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("simulated 600 subscribers, ") and str(out) in line
    for name in ("cdrs.csv.gz", "cells.csv", "tac.csv", "truth.csv", "labels.csv"):
        assert (out / name).stat().st_size > 0


def test_simulate_command_json(tmp_path, capsys):
    rc = main(["simulate", "--subscribers", "300", "--days", "1", "--out", str(tmp_path),
               "--json"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    assert s["subscribers"] == 300 and s["cdrs"] > 0 and s["scenario"] == "mixed"
    assert s["files"]["truth"].endswith("truth.csv")


def test_simulate_command_bad_config_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"fraud": {"sahre": 0.1}}')
    rc = main(["simulate", "--subscribers", "300", "--days", "1", "--out", str(tmp_path / "o"),
               "--config", str(cfg)])
    assert rc == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"simbox simulate: error: {cfg}: unknown key fraud.sahre "
                   "(did you mean 'share'?)")


def test_simulate_command_bad_format(tmp_path, capsys):
    rc = main(["simulate", "--subscribers", "300", "--days", "1", "--out", str(tmp_path),
               "--format", "xml"])
    assert rc == 1
    assert "unknown --format 'xml'; available: ber, csv" in capsys.readouterr().err


def test_writer_tables_and_signaling(tmp_path, capsys):
    from simbox.data import simulate, writers
    seen = {}

    def fake_pcap(net, out, progress):
        seen["attaches"] = len(net.attaches)
        p = out / "attaches.pcap"
        p.write_bytes(b"")
        return {"signaling": p}

    real = writers.SIGNALING_WRITERS.get("pcap")     # data/pcap_writer.py, registered by writers
    writers.register_writer("pcap", fake_pcap, signaling=True)
    try:
        res = simulate(300, 1, "mixed", 1, tmp_path / "a", signaling=True)
        assert res.paths["signaling"].name == "attaches.pcap" and seen["attaches"] > 0
        res = simulate(300, 1, "mixed", 1, tmp_path / "b", signaling="csv")
        assert res.paths["attaches"].name == "attaches.csv.gz"
    finally:
        if real is None:
            del writers.SIGNALING_WRITERS["pcap"]
        else:
            writers.register_writer("pcap", real, signaling=True)
    rc = main(["simulate", "--subscribers", "300", "--days", "1", "--out", str(tmp_path / "c"),
               "--signaling", "xml"])
    assert rc == 1
    assert "unknown signaling format 'xml'; available: csv, pcap" in capsys.readouterr().err


def test_progress_reports_stages_and_rows(tmp_path):
    from simbox.data import simulate

    class Recorder:
        def __init__(self):
            self.stages, self.rows = [], 0

        def stage(self, label, total=None, unit=""):
            self.stages.append(label)

        def __call__(self, advance=0, total=None):
            self.rows += advance

        def finish(self):
            self.stages.append("done")

    rec = Recorder()
    res = simulate(400, 1, "mixed", 1, tmp_path, progress=rec)
    assert rec.stages == ["network", "legitimate subscribers", "fraud deployments",
                          "legitimate traffic", "assembling", "writing CDRs", "done"]
    assert rec.rows == len(res.network.cdrs)
