"""A Spark task that fails once and runs again counts its records and rejects once."""
import csv
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[test]')")

SCRIPT = textwrap.dedent('''
    import json, sys
    from pyspark import TaskContext
    from simbox.spark import get_session
    import simbox.spark.features as sf
    from simbox.spark.events import EVENT_SCHEMA

    MARK = sys.argv[2]

    def fail_once(batches):
        """Stage 1's rows as they are; the first attempt of partition 0 fails at its end,
        after the normaliser has read its whole partition and given its rejects and counts."""
        for b in batches:
            yield b
        ctx = TaskContext.get()
        if ctx.partitionId() == 0 and ctx.attemptNumber() == 0:
            open(MARK, "w").close()
            raise RuntimeError("injected failure of the first attempt")

    stage1 = sf.normalised
    sf.normalised = lambda df, *a, **k: stage1(df, *a, **k).mapInArrow(fail_once, EVENT_SCHEMA)
    # local[2,2]: two threads, a task may fail once (spark.task.maxFailures of local mode)
    spark = get_session("local[2,2]", conf={"spark.ui.enabled": "false",
                                            "spark.sql.shuffle.partitions": "2"})
    spark.sparkContext.setLogLevel("OFF")
    good = ["MOC", None, "460001234567891", "35678901234567", "8613800000001",
            "8613912345678", "1", "46000-1234-56789"]
    bad = good[:2] + ["46000123456789X"] + good[3:]
    rows = [[r[0], f"2026-03-01T12:00:{i:02d}Z"] + r[2:] for i, r in
            enumerate(good if i % 3 else bad for i in range(60))]
    header = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party",
              "duration_s", "cell_id"]
    df = spark.createDataFrame(rows, header).repartition(2)
    res = sf.spark_features(df, rejects=sys.argv[1], max_reject_share=None)
    print(json.dumps({"records": res.stats.records, "accepted": res.stats.accepted,
                      "rejected": dict(res.stats.rejected), "sims": res.shape[0],
                      "events": int(res.features["n_events"].sum())}))
''')


def test_a_task_run_again_counts_once(tmp_path):
    """spark.task.maxFailures 2 (``local[2,2]``), a failure injected after stage 1 of partition
    0 on its first attempt (TaskContext.attemptNumber): the counts and the rejects file are
    those of one run (a second session: its own process)."""
    import json
    import shutil
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("Java is not installed (the Spark tests need Java 17: .ci/run installs it)")
    rej = tmp_path / "rejects.csv"
    mark = tmp_path / "failed-once"
    p = subprocess.run([sys.executable, "-c", SCRIPT, str(rej), str(mark)], capture_output=True, text=True,
                       env={**os.environ, "PYSPARK_PYTHON": sys.executable}, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert mark.exists()                           # the first attempt did fail
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got == {"records": 60, "accepted": 40, "rejected": {"imsi is not 15 digits": 20},
                   "sims": 1, "events": 40}
    rows = list(csv.DictReader(open(rej)))
    assert len(rows) == 20
    assert len({r["line"] for r in rows}) == 20
    assert {r["reason"] for r in rows} == {"imsi is not 15 digits"}
