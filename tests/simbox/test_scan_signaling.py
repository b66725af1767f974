"""simbox scan --signaling: attach events from a capture join the CDRs, or stand alone."""
import json

import pandas as pd

from simbox.cli import main
from simbox.data import simulate


def test_scan_with_signaling(tmp_path, capsys):
    sim = tmp_path / "sim"
    simulate(6000, 1, "mixed", 1, sim, signaling=True)
    pcap, cells = sim / "signaling.pcap", sim / "cells.csv"
    assert main(["scan", str(sim / "cdrs.csv.gz"), "--signaling", str(pcap), "--cells", str(cells),
                 "--tac", str(sim / "tac.csv"), "--out", str(tmp_path / "a"), "--no-report",
                 "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert main(["scan", str(sim / "cdrs.csv.gz"), "--cells", str(cells), "--tac",
                 str(sim / "tac.csv"), "--out", str(tmp_path / "b"), "--no-report", "--json"]) == 0
    cdr_only = json.loads(capsys.readouterr().out)
    assert json.dumps(both) != json.dumps(cdr_only)       # the attaches were read
    truth = pd.read_csv(sim / "truth.csv", dtype=str)
    flagged = pd.read_csv(tmp_path / "a" / "flagged.csv", dtype={"imsi": str})
    assert set(flagged.imsi) <= set(truth.imsi)
    # signaling alone is a valid input; a file that is not a capture is refused in one line
    assert main(["scan", "--signaling", str(pcap), "--cells", str(cells),
                 "--out", str(tmp_path / "c"), "--no-report"]) == 0
    capsys.readouterr()
    assert main(["scan", "--signaling", str(cells), "--cells", str(cells),
                 "--out", str(tmp_path / "d")]) == 1
    assert capsys.readouterr().err.startswith(f"simbox scan: error: {cells}: not a pcap or pcapng")
    assert main(["scan", "--cells", str(cells), "--out", str(tmp_path / "e")]) == 1
    assert capsys.readouterr().err == \
        "simbox scan: error: give at least one CDR file or --signaling capture\n"
