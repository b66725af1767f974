"""The partitioner recycles the memory of batches given away, and only those."""
import numpy as np

from simbox.fastpath.events import COLUMN_NAMES, EventBatch
from simbox.fastpath.partition import Partitioner, reduce_partitioned


def batches(n=30_000, batch=7000, seed=1, reusable=False):
    rng = np.random.default_rng(seed)
    imsi = 1_460_000_000_000_000 + rng.integers(0, 900, n)
    cols = {"rtype": rng.integers(0, 5, n).astype(np.uint8),
            "time": 1_770_000_000 + rng.integers(0, 86400, n),
            "imsi": imsi, "imei": 135_000_000_000_000 + imsi % 77,
            "msisdn": 18_613_800_000_000 + imsi % 1000,
            "other": 18_613_900_000_000 + rng.integers(0, 300, n),
            "duration": rng.integers(0, 200, n).astype(np.int32),
            "cell": rng.integers(-1, 50, n).astype(np.int32)}
    # sizes differ (the last batch is smaller): a recycled buffer is used only when big enough
    return [EventBatch({k: v[a:a + batch].copy() for k, v in cols.items()}, reusable=reusable)
            for a in range(0, n, batch)]


def partitions(bs, reuse, limit=1 << 30, tmpdir=None):
    with Partitioner(8, limit, tmpdir=tmpdir) as p:
        for b in bs:
            p.add(b.columns(), reuse=reuse)
        return [p.load(q) for q in range(8)]


def test_reuse_gives_the_same_partitions(tmp_path):
    want = partitions(batches(), reuse=False)
    for limit in (1 << 30, 1 << 20):              # in memory, and spilling on the way
        got = partitions(batches(), reuse=True, limit=limit, tmpdir=str(tmp_path))
        for a, b in zip(got, want):
            for name in COLUMN_NAMES:
                assert np.array_equal(a[name], b[name]), name


def snapshot(bs):
    return [{k: v.copy() for k, v in b.columns().items()} for b in bs]


def unchanged(bs, snap):
    return all(np.array_equal(getattr(b, k), s[k]) for b, s in zip(bs, snap) for k in COLUMN_NAMES)


def test_batches_are_overwritten_only_when_both_sides_agree():
    def total(c):
        return len(c["imsi"])

    # the caller keeps its batches (reuse_batches=False): untouched even if marked reusable
    bs = batches(reusable=True)
    snap = snapshot(bs)
    assert sum(reduce_partitioned(bs, total, workers=1)) == 30_000
    assert unchanged(bs, snap)
    # the reader did not mark them reusable: untouched even if the caller gives them away
    bs = batches(reusable=False)
    snap = snapshot(bs)
    assert sum(reduce_partitioned(bs, total, workers=1, reuse_batches=True)) == 30_000
    assert unchanged(bs, snap)
    # both agree: the memory is recycled (a batch's arrays receive a later batch)
    bs = batches(reusable=True)
    snap = snapshot(bs)
    assert sum(reduce_partitioned(bs, total, workers=1, reuse_batches=True)) == 30_000
    assert not unchanged(bs, snap)


def test_readers_mark_their_fresh_batches_reusable(tmp_path):
    from simbox.fastpath.csvread import read_csv_events
    p = tmp_path / "c.csv"
    p.write_bytes(b"record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
                  b"MOC,2026-03-01T12:00:05Z,460001234567890,,8613800000001,10086,65,c1\n" * 5)
    bs = list(read_csv_events(str(p), chunk_rows=2))
    assert [len(b) for b in bs] == [2, 2, 1] and all(b.reusable for b in bs)
    assert not EventBatch.empty().reusable
