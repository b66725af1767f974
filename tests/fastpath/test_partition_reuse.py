"""Partitions grow in place (no join) and readers refill the batches handed back."""
import numpy as np
import pytest

from simbox.fastpath import _partition
from simbox.fastpath.events import COLUMN_NAMES, EventBatch
from simbox.fastpath.partition import Partitioner, reduce_partitioned

M64 = (1 << 64) - 1


def mix(x):
    """murmur3 fmix64, the reference of the kernels' partition hash."""
    x ^= x >> 33
    x = (x * 0xff51afd7ed558ccd) & M64
    x ^= x >> 33
    x = (x * 0xc4ceb9fe1a85ec53) & M64
    return x ^ (x >> 33)


def partition_ref(imsi, nparts, seed=0):
    salt = (0x9E3779B97F4A7C15 * (seed + 1)) & M64
    return np.array([mix((int(v) & M64) ^ salt) % nparts for v in imsi], np.int64)


def batches(n=30_000, batch=7000, seed=1, reusable=False, home=None):
    rng = np.random.default_rng(seed)
    imsi = 1_460_000_000_000_000 + rng.integers(0, 900, n)
    cols = {"rtype": rng.integers(0, 5, n).astype(np.uint8),
            "time": 1_770_000_000 + rng.integers(0, 86400, n),
            "imsi": imsi, "imei": 135_000_000_000_000 + imsi % 77,
            "msisdn": 18_613_800_000_000 + imsi % 1000,
            "other": 18_613_900_000_000 + rng.integers(0, 300, n),
            "duration": rng.integers(0, 200, n).astype(np.int32),
            "cell": rng.integers(-1, 50, n).astype(np.int32)}
    return [EventBatch({k: v[a:a + batch].copy() for k, v in cols.items()}, reusable=reusable,
                       home=home) for a in range(0, n, batch)]


@pytest.mark.parametrize("limit", [1 << 30, 1 << 20])     # in memory, and spilling on the way
@pytest.mark.parametrize("seed", [0, 3])
def test_partitions_are_the_events_of_their_hash_in_input_order(tmp_path, limit, seed):
    bs = batches(batch=3000 if seed else 7000)
    whole = EventBatch.concat(bs)
    part = partition_ref(whole.imsi, 8, seed)
    with Partitioner(8, limit, seed=seed, tmpdir=str(tmp_path)) as p:
        for b in bs:
            p.add(b.columns())
        assert (p.spills > 0) == (limit == 1 << 20)
        got = [p.load(q) for q in range(8)]
    for q in range(8):
        for name in COLUMN_NAMES:
            assert np.array_equal(got[q][name], getattr(whole, name)[part == q]), (q, name)
            assert got[q][name].flags.c_contiguous


def test_chunks_give_the_disk_part_then_the_memory_part(tmp_path):
    bs = batches()
    whole = EventBatch.concat(bs)
    part = partition_ref(whole.imsi, 8)
    with Partitioner(8, 1 << 30, tmpdir=str(tmp_path)) as p:
        for b in bs[:2]:
            p.add(b.columns())
        p.spill()
        for b in bs[2:]:
            p.add(b.columns())
        for q in range(8):
            cs = list(p.chunks(q, rows=1000))
            got = {k: np.concatenate([c[k] for c in cs]) for k in COLUMN_NAMES}
            for name in COLUMN_NAMES:
                assert np.array_equal(got[name], getattr(whole, name)[part == q]), (q, name)


def test_growing_column_keeps_its_rows_and_views_keep_it_alive():
    col = _partition.GrowingColumn(np.int64)
    col.grow(3)
    v = col.view(3)
    v[:] = [7, 8, 9]
    for rows in (100, 1 << 16, 1 << 20):  # small and large blocks (moved pages)
        col.grow(rows)
        v = col.view(rows)
        assert v.dtype == np.int64 and list(v[:3]) == [7, 8, 9]
        v[rows - 1] = rows
    kept = col.view(1 << 20)
    del col, v
    assert kept[0] == 7 and kept[-1] == 1 << 20
    with pytest.raises(ValueError, match="view of 5 rows of a column of 0"):
        _partition.GrowingColumn(np.int32).view(5)


def test_scatter_checks_the_capacity_before_writing():
    n = 10
    src = [np.zeros(n, d) for d in (np.uint8, np.int64, np.int64, np.int64, np.int64, np.int64,
                                    np.int32, np.int32)]
    part = np.zeros(n, np.uint8)
    fill, cap, addr = np.zeros(2, np.int64), np.array([9, 9]), np.zeros((8, 2), np.int64)
    with pytest.raises(ValueError, match="scatter_rows: partition 0 needs 10 rows, has 9"):
        _partition.scatter_rows(*src, part, fill, cap, addr)
    part[3] = 2
    with pytest.raises(ValueError, match="scatter_rows: partition 2 of row 3 is not below 2"):
        _partition.scatter_rows(*src, part, fill, cap, addr)
    assert not fill.any()


def test_batches_go_back_to_their_reader_only_when_both_sides_agree():
    def total(c):
        return len(c["imsi"])

    back = []
    # the caller keeps its batches (reuse_batches=False): nothing handed back
    assert sum(reduce_partitioned(batches(reusable=True, home=back.append), total,
                                  workers=1)) == 30_000
    assert back == []
    # not reusable: the home is ignored
    assert sum(reduce_partitioned(batches(home=back.append), total, workers=1,
                                  reuse_batches=True)) == 30_000
    assert back == []
    # both agree: every batch goes back, once, after it was partitioned
    bs = batches(reusable=True, home=back.append)
    assert sum(reduce_partitioned(iter(bs), total, workers=1, reuse_batches=True)) == 30_000
    assert [c["time"] is b.time for c, b in zip(back, bs)] == [True] * len(bs)
    bs[0].recycle()
    assert len(back) == len(bs)


def test_the_csv_reader_refills_the_batches_handed_back(tmp_path):
    from simbox.fastpath.csvread import read_csv_events
    p = tmp_path / "c.csv"
    p.write_bytes(b"record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
                  b"MOC,2026-03-01T12:00:05Z,460001234567890,,8613800000001,10086,65,c1\n" * 5)
    bs = list(read_csv_events(str(p), chunk_rows=2))
    assert [len(b) for b in bs] == [2, 2, 1] and all(b.reusable for b in bs)
    assert len({id(b.time) for b in bs}) == 3          # kept: fresh memory each
    seen = []
    for b in read_csv_events(str(p), chunk_rows=2):
        seen.append(b.time)
        b.recycle()
    assert seen[1] is seen[0]                        # the first batch's memory, refilled
    assert not EventBatch.empty().reusable
