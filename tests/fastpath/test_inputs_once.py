"""Inputs are read once (issue 14.7): a FIFO does not hang, /dev/stdin and '-' lose no byte."""
import gzip
import os
import pathlib
import subprocess
import sys
import threading

import pandas as pd
import pytest

from simbox.fastpath import ReadStats
from simbox.fastpath.events import CellDict, EventBatch
from simbox.fastpath.readers import expand_inputs, open_events

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"


def read_all(inputs):
    cells, stats = CellDict(), ReadStats()
    b = EventBatch.concat(list(open_events(inputs, cells=cells, stats=stats)))
    return b.to_pandas(cells), stats


def through_fifo(tmp_path, payload: bytes, timeout=30):
    """Events of ``payload`` written into a FIFO by another thread (fails instead of hanging)."""
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)

    def write():
        with open(fifo, "wb") as f:
            f.write(payload)

    w = threading.Thread(target=write, daemon=True)
    w.start()
    out = {}
    r = threading.Thread(target=lambda: out.setdefault("v", read_all([str(fifo)])), daemon=True)
    r.start()
    r.join(timeout)
    if r.is_alive():                       # unblock the writer's open, then fail
        os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        pytest.fail(f"reading a FIFO did not end within {timeout} s")
    w.join(timeout)
    return out["v"]


@pytest.mark.parametrize("gz", [False, True])
def test_fifo_csv_does_not_hang_and_loses_nothing(tmp_path, gz):
    raw = (DATA / "csv" / "good.csv").read_bytes()
    df, st = through_fifo(tmp_path, gzip.compress(raw) if gz else raw)
    ref, _ = read_all([str(DATA / "csv" / "good.csv")])
    pd.testing.assert_frame_equal(df, ref)
    assert st.records == 6 and st.accepted == 6


def test_fifo_pcap_gz(tmp_path, captures_dir):
    raw = (captures_dir / "ndpi_gtp_c.pcap").read_bytes()
    df, st = through_fifo(tmp_path, gzip.compress(raw))
    ref, _ = read_all([str(captures_dir / "ndpi_gtp_c.pcap")])
    pd.testing.assert_frame_equal(df, ref)
    assert st.records == 4


def test_dash_is_standard_input():
    assert expand_inputs(["-", str(DATA / "csv")])[0] == "-"


@pytest.mark.parametrize("arg", ["-", "/dev/stdin"])
@pytest.mark.parametrize("gz", [False, True])
def test_standard_input_keeps_its_first_bytes(tmp_path, arg, gz):
    raw = (DATA / "csv" / "good.csv").read_bytes()
    run = [sys.executable, "-m", "simbox", "features", arg, "--out", str(tmp_path / "a.csv")]
    r = subprocess.run(run, input=gzip.compress(raw) if gz else raw, capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    subprocess.run([sys.executable, "-m", "simbox", "features", str(DATA / "csv" / "good.csv"),
                    "--out", str(tmp_path / "b.csv")], check=True, capture_output=True)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
