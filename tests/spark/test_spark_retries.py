"""A Spark task that fails once and runs again counts its records and rejects once."""
import csv

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def test_a_task_run_again_counts_once(spark, tmp_path, monkeypatch):
    """The session's master is ``local[2,2]`` (conftest: a task may fail once); a failure is
    injected after stage 1 of partition 0 on its first attempt (TaskContext.attemptNumber),
    after the normaliser has read its whole partition and given its rejects and counts: the
    counts and the rejects file are those of one run."""
    import simbox.spark.features as sf
    from simbox.spark.events import EVENT_SCHEMA
    mark = str(tmp_path / "failed-once")

    def fail_once(batches):
        from pyspark import TaskContext
        for b in batches:
            yield b
        ctx = TaskContext.get()
        if ctx.partitionId() == 0 and ctx.attemptNumber() == 0:
            open(mark, "w").close()
            raise RuntimeError("injected failure of the first attempt")

    stage1 = sf.normalised
    monkeypatch.setattr(sf, "normalised",
                        lambda df, *a, **k: stage1(df, *a, **k).mapInArrow(fail_once, EVENT_SCHEMA))
    good = ["MOC", None, "460001234567891", "35678901234567", "8613800000001",
            "8613912345678", "1", "46000-1234-56789"]
    bad = good[:2] + ["46000123456789X"] + good[3:]
    rows = [[r[0], f"2026-03-01T12:00:{i:02d}Z"] + r[2:] for i, r in
            enumerate(good if i % 3 else bad for i in range(60))]
    header = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party",
              "duration_s", "cell_id"]
    df = spark.createDataFrame(rows, header).repartition(2)
    rej = tmp_path / "rejects.csv"
    res = sf.spark_features(df, rejects=rej, max_reject_share=None, partitions=2)
    assert (tmp_path / "failed-once").exists()            # the first attempt did fail
    assert (res.stats.records, res.stats.accepted) == (60, 40)
    assert dict(res.stats.rejected) == {"imsi is not 15 digits": 20}
    assert (res.shape[0], int(res.features["n_events"].sum())) == (1, 40)
    rows = list(csv.DictReader(open(rej)))
    assert len(rows) == 20
    assert len({r["line"] for r in rows}) == 20
    assert {r["reason"] for r in rows} == {"imsi is not 15 digits"}
