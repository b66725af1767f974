import pathlib

import pytest

from simbox.data import writers
from simbox.data.simulate import build_network
from simbox.data.testcalls import campaign, write_campaign


@pytest.fixture(scope="session")
def tc_network(tmp_path_factory):
    """A small simulated network (mixed: SIM boxes and card farms) with a test-call
    campaign written beside it: cdrs.csv.gz, cells.csv, tac.csv, truth.csv,
    testcalls.csv, probes.txt, testcalls_truth.csv.  Returns (folder, network, campaign)."""
    out = tmp_path_factory.mktemp("tcnet")
    net = build_network(3000, 3, "mixed", 7)
    net, c = campaign(net, seed=1, calls=300, lost_share=0.1)
    writers.WRITERS["csv"](net, out, None)
    writers.write_tables(net, out)
    write_campaign(c, out)
    return pathlib.Path(out), net, c


@pytest.fixture
def history(tmp_path, monkeypatch):
    """A fresh history store path, also the default one (SIMBOX_HISTORY)."""
    path = tmp_path / "history.sqlite"
    monkeypatch.setenv("SIMBOX_HISTORY", str(path))
    return path
