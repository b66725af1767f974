"""The project's own reader takes every simulated file with zero rejected rows."""
import numpy as np
import pytest

from simbox.data import sample_dir, simulate
from simbox.fastpath.events import CellDict, EventBatch
from simbox.fastpath.readers import open_events
from simbox.fastpath.stats import ReadStats


def read_all(path, cells):
    stats = ReadStats()
    batch = EventBatch.concat(open_events(path, cells=cells, stats=stats,
                                          on_bad_records="error", chunk_rows=50_000))
    return batch, stats


@pytest.mark.parametrize("scenario", ["baseline", "evasive", "mixed"])
def test_reader_takes_every_row_and_gets_the_network_back(tmp_path, small, scenario):
    res = simulate(2500, 2, scenario, 8, tmp_path, config=small)
    net = res.network
    cells = CellDict(net.cells["cell_id"])
    got, stats = read_all(tmp_path / "cdrs.csv.gz", cells)
    assert stats.rejected_total == 0
    assert stats.records == stats.accepted == len(net.cdrs)
    assert len(cells) == len(net.cells)          # every cell token was in cells.csv
    for name in ("rtype", "time", "imsi", "imei", "msisdn", "other", "duration", "cell"):
        assert np.array_equal(getattr(got, name), getattr(net.cdrs, name)), name


def test_reader_takes_the_shipped_sample():
    cells = CellDict()
    got, stats = read_all(sample_dir() / "cdrs.csv.gz", cells)
    assert stats.rejected_total == 0 and stats.accepted == len(got) > 100_000
    import csv
    with open(sample_dir() / "cells.csv", newline="") as f:
        known = {r["cell_id"] for r in csv.DictReader(f)}
    assert set(cells.tokens) <= known
