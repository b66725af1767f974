"""Partitioning by IMSI hash, spilling under a memory budget, recursive splits."""
import os
import threading

import numpy as np
import pandas as pd
import pytest

from simbox.errors import ConfigError
from simbox.fastpath.events import BYTES_PER_EVENT, CellDict, EventBatch
from simbox.fastpath.partition import Partitioner, parse_memory, reduce_partitioned
from simbox.features import features_from_events


def random_batches(n, nimsi, seed=0, batch=50_000):
    rng = np.random.default_rng(seed)
    imsi = 1_460_000_000_000_000 + rng.integers(0, nimsi, n)
    cols = {
        "rtype": rng.integers(0, 6, n).astype(np.uint8),
        "time": 1_770_000_000 + rng.integers(0, 7 * 86400, n),
        "imsi": imsi,
        "imei": np.where(rng.random(n) < 0.1, 0, 135_000_000_000_000 + imsi % 5000),
        "msisdn": 18_613_800_000_000 + (imsi - 1_460_000_000_000_000),
        "other": 18_613_900_000_000 + rng.integers(0, 300, n),
        "duration": rng.integers(0, 200, n).astype(np.int32),
        "cell": rng.integers(-1, 50, n).astype(np.int32),
    }
    return [EventBatch({k: v[a:a + batch] for k, v in cols.items()}) for a in range(0, n, batch)]


@pytest.mark.parametrize("text,n", [("512MB", 512 << 20), ("2G", 2 << 30), ("1.5GiB", 3 << 29),
                                    (" 64 mb ", 64 << 20), (8 << 20, 8 << 20)])
def test_parse_memory(text, n):
    assert parse_memory(text) == n


@pytest.mark.parametrize("text,msg", [("lots", "memory limit 'lots' is not a size such as 512MB"),
                                      ("12XB", "memory limit '12XB' is not a size"),
                                      ("100KB", "memory limit '100KB' is below 1MB")])
def test_parse_memory_errors(text, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_memory(text)


def test_every_event_of_an_imsi_in_one_partition_and_spill_roundtrip(tmp_path):
    batches = random_batches(60_000, 3000, batch=7000)
    with Partitioner(8, 1 << 20, tmpdir=str(tmp_path)) as p:
        for b in batches:
            p.add(b.columns())
        assert p.spills >= 1 and p.rows == 60_000
        seen, total = set(), 0
        for q in range(8):
            cols = p.load(q)
            ids = set(np.unique(cols["imsi"]).tolist())
            assert not ids & seen
            seen |= ids
            total += len(cols["imsi"])
        assert total == 60_000
        spill_dir = p.tmpdir
        assert os.listdir(spill_dir)
    assert not os.path.exists(spill_dir)


def test_tiny_memory_budget_gives_the_same_features(tmp_path):
    batches = random_batches(400_000, 20_000, seed=3)
    tokens = [f"c{i}" for i in range(50)]
    big = features_from_events(batches, CellDict(tokens), memory_limit="4GB", workers=2)
    small = features_from_events(batches, CellDict(tokens), memory_limit="1MB", workers=2,
                                 tmpdir=str(tmp_path))
    assert 400_000 * BYTES_PER_EVENT > 10 * (1 << 20)
    assert big.info["spills"] == 0
    assert small.info["spills"] > 0 and small.info["splits"] > 0
    pd.testing.assert_frame_equal(small.features, big.features)
    pd.testing.assert_frame_equal(small.sims, big.sims)
    np.testing.assert_array_equal(small.hours, big.hours)
    pd.testing.assert_frame_equal(small.devices, big.devices)
    pd.testing.assert_frame_equal(small.cells, big.cells)
    assert small.stats.duplicates == big.stats.duplicates
    assert os.listdir(tmp_path) == []       # spill folders removed


def test_spill_folder_removed_on_error(tmp_path):
    def boom(cols):
        raise RuntimeError("reducer failed")

    with pytest.raises(RuntimeError, match="reducer failed"):
        reduce_partitioned(random_batches(50_000, 1000), boom, memory_limit="1MB",
                           tmpdir=str(tmp_path))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("read_thread", [True, False])
def test_reader_errors_reach_the_caller(tmp_path, read_thread):
    def bad_reader():
        yield from random_batches(10_000, 100)
        raise ValueError("line 7: bad")

    with pytest.raises(ValueError, match="line 7: bad"):
        reduce_partitioned(bad_reader(), lambda c: None, memory_limit="1MB", tmpdir=str(tmp_path),
                           read_thread=read_thread)
    assert os.listdir(tmp_path) == []


def test_reading_in_a_thread_or_not_gives_the_same_partitions(monkeypatch):
    # on one core (taskset) the batches are read in the partitioning thread itself
    from simbox.fastpath import partition
    batches = random_batches(60_000, 3_000, seed=4, batch=7_000)

    readers = set()

    def read():
        for b in batches:
            readers.add(threading.current_thread().name)
            yield b

    def run():
        readers.clear()
        return sorted((int(c["imsi"][0]), len(c["imsi"]), int(c["time"].sum()))
                      for c in reduce_partitioned(read(), lambda c: {k: v.copy() for k, v in c.items()},
                                                  memory_limit="1MB", workers=1))

    monkeypatch.setattr(partition, "usable_cores", lambda: 1)
    one_core = run()
    assert readers == {threading.current_thread().name}
    monkeypatch.setattr(partition, "usable_cores", lambda: 2)
    assert run() == one_core
    assert readers == {"simbox-reader"}
    assert sum(n for _, n, _ in one_core) == 60_000


def test_one_huge_imsi_under_a_tiny_budget(tmp_path):
    # all events of one IMSI cannot be split further: reduced in one piece, no endless recursion
    batches = random_batches(120_000, 1, seed=5)
    tokens = [f"c{i}" for i in range(50)]
    big = features_from_events(batches, CellDict(tokens), memory_limit="4GB", workers=1)
    small = features_from_events(batches, CellDict(tokens), memory_limit="1MB", workers=2,
                                 tmpdir=str(tmp_path))
    assert small.info["spills"] > 0 and small.info["splits"] >= 1
    pd.testing.assert_frame_equal(small.features, big.features)
    assert len(small.features) == 1 and os.listdir(tmp_path) == []
