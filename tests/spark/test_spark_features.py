"""The Spark engine's feature table against the local engine's, on simulated networks."""
import csv
import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simbox.data import simulate
from simbox.errors import InputError, ParseError
from simbox.features import compute_features, post

from spark_checks import assert_same_features

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    base = tmp_path_factory.mktemp("spark-net")
    sim = simulate(1200, 3, "mixed", 7, base)
    return base, sim.network.timezone


@pytest.fixture(scope="module")
def local(net):
    base, tz = net
    return compute_features(base / "cdrs.csv.gz", cells=base / "cells.csv", tac=base / "tac.csv",
                            timezone=tz)


def opts(net):
    base, tz = net
    return dict(cells=base / "cells.csv", tac=base / "tac.csv", timezone=tz)


def text_table(path):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return df


@pytest.fixture(scope="module")
def through_spark(spark, net):
    """The network's CSV through the Spark engine (5 shuffle partitions), with the driver's
    post step (features.compute._assemble, post.fill) refusing to run while the feature
    table is computed: every post feature must come from Spark."""
    import simbox.features.compute as compute
    import simbox.spark.features as sf
    from simbox.spark import compute_features_spark

    def refuse(*a, **k):
        raise AssertionError("the post features were computed on the driver")

    base, _ = net
    with pytest.MonkeyPatch.context() as mp:
        for where, name in ((compute, "_assemble"), (sf, "_assemble"), (post, "fill")):
            mp.setattr(where, name, refuse)
        got = compute_features_spark(base / "cdrs.csv.gz", spark=spark, partitions=5,
                                     **opts(net))
        got.features  # noqa: B018  (the table, still under the patch)
    return got


def test_csv_through_spark_equals_local(through_spark, local):
    got = through_spark
    assert_same_features(local, got)
    assert got.stats.records == local.stats.records
    assert got.stats.accepted == local.stats.accepted
    assert got.stats.duplicates == local.stats.duplicates
    pd.testing.assert_frame_equal(local.sims, got.sims)
    pd.testing.assert_frame_equal(local.devices.astype({"imsi": str}),
                                  got.devices.astype({"imsi": str}))


def test_rejects_counted_and_written(spark, tmp_path):
    from simbox.spark import spark_features
    good = ["MOC", "2026-03-01T12:00:01Z", "460001234567891", "35678901234567", "8613800000001",
            "8613912345678", "1", "46000-1234-56789"]
    bad_imsi = good[:2] + ["46000123456789X"] + good[3:]
    bad_time = good[:1] + ["2026-03-01 25:00:05"] + good[2:]
    header = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party",
              "duration_s", "cell_id"]
    sdf = spark.createDataFrame([good, bad_imsi, good, bad_time], header).coalesce(1)
    rej = tmp_path / "rejects.csv"
    got = spark_features(sdf, rejects=rej, max_reject_share=None)
    assert (got.stats.records, got.stats.accepted) == (4, 2)
    assert dict(got.stats.rejected) == {"imsi is not 15 digits": 1, "unparsable time": 1}
    rows = list(csv.DictReader(open(rej)))
    assert [(r["line"], r["field"], r["reason"]) for r in rows] == [
        ("partition 0, batch 0, row 1", "imsi", "imsi is not 15 digits"),
        ("partition 0, batch 0, row 3", "start_time", "unparsable time")]
    with pytest.raises(ParseError) as e:
        spark_features(sdf, on_bad_records="error")
    assert str(e.value) == ("<spark DataFrame>:partition 0, batch 0, row 1: field 'imsi': imsi "
                            "is not 15 digits (value '46000123456789X')")


def test_missing_column_is_said_on_the_driver(spark):
    from simbox.spark import spark_features
    sdf = spark.createDataFrame([("MOC", "460001234567890")], ["record_type", "imsi"])
    with pytest.raises(InputError) as e:
        spark_features(sdf)
    assert "start_time" in str(e.value) and "\n" not in str(e.value)


def test_timestamp_hive_lake_in_any_session_time_zone(spark, net, tmp_path):
    """A hive lake (``date=...`` folders) of Parquet files with a timestamp column: a timestamp
    is an instant whatever spark.sql.session.timeZone says (stage 1, where times become UTC
    seconds, gives the same events in three session time zones), and the feature table of
    the lake pruned by --from, in a session zone west of UTC, equals the local engine's."""
    from simbox.fastpath.columnar import batch_reader
    from simbox.fastpath.events import CellDict
    from simbox.fastpath.stats import ReadStats
    from simbox.spark import compute_features_spark
    from simbox.spark.features import normalised
    base, tz = net
    df = text_table(base / "cdrs.csv.gz")
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True)
    for day, part in df.groupby(df["start_time"].dt.strftime("%Y-%m-%d")):
        d = tmp_path / "lake" / f"date={day}"
        d.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), d / "part-0.parquet",
                       row_group_size=20_000)
    lo = (df["start_time"].min().normalize() + pd.Timedelta(days=1)).isoformat()
    old = spark.conf.get("spark.sql.session.timeZone")
    events = {}
    try:
        for session_tz in ("UTC", "Asia/Shanghai", "America/Los_Angeles"):
            spark.conf.set("spark.sql.session.timeZone", session_tz)
            sdf = spark.read.parquet(str(tmp_path / "lake"))
            probe = batch_reader("canonical", name="x", cells=CellDict(), stats=ReadStats())
            _, names = probe.columns_read(sdf.columns)
            ev = normalised(sdf.select(*names), probe.m, names, name="x", on_bad_records="skip",
                            window=None).where("meta is null").select("time", "imsi", "cell")
            events[session_tz] = sorted(map(tuple, ev.collect()))
        got = compute_features_spark(tmp_path / "lake", spark=spark, time_from=lo, **opts(net))
    finally:
        spark.conf.set("spark.sql.session.timeZone", old)
    assert len(events["UTC"]) == len(df)
    assert events["Asia/Shanghai"] == events["UTC"] == events["America/Los_Angeles"]
    ref = compute_features(tmp_path / "lake", time_from=lo, **opts(net))
    assert_same_features(ref, got)
    assert got.stats.pruned_files == ref.stats.pruned_files == 1
    assert got.stats.filtered == ref.stats.filtered


def test_a_million_events_of_one_subscriber_and_empty_partitions(spark, tmp_path):
    """The issue's skew: one IMSI with 1,000,000 events (16 Arrow batches of 65,536 rows and
    more, carried over from batch to batch into one kernel chunk) beside three small ones
    cut into kernel chunks of 200 kB (about 3,000 events), in 8 shuffle partitions (at least 4 of them
    empty; stage 3 in 2)."""
    from simbox.spark import spark_features
    rng = np.random.default_rng(5)
    n_big, n_small = 1_000_000, 12_000
    n = n_big + n_small
    t0 = int(datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc).timestamp())
    times = t0 + rng.integers(0, 14 * 86400, n)
    imsi = np.where(np.arange(n) < n_big, 460001234567890, 460001234500000 + rng.integers(1, 4, n))
    t = pa.table({
        "record_type": pa.array(rng.choice(["MOC", "MTC", "SMS_MO", "SMS_MT", "DATA"], n)),
        "start_time": pa.array(times * 1000, pa.timestamp("ms", tz="UTC")),
        "imsi": pa.array(imsi.astype(str)),
        "imei": pa.array(rng.choice(["35678901234567", "35678901234568", ""], n)),
        "msisdn": pa.array(np.full(n, "8613800000001")),
        "other_party": pa.array((8613900000000 + rng.integers(0, 5000, n)).astype(str)),
        "duration_s": pa.array(rng.integers(0, 300, n).astype(np.int32)),
        "cell_id": pa.array([f"46000-1-{x}" for x in rng.integers(0, 60, n)]),
    })
    pq.write_table(t, tmp_path / "skew.parquet", row_group_size=200_000)
    local = compute_features(tmp_path / "skew.parquet")
    got = spark_features(spark.read.parquet(str(tmp_path / "skew.parquet")), partitions=8,
                         chunk_bytes=200_000, post_partitions=2)
    assert_same_features(local, got)
    assert int(got.features.loc["460001234567890", "n_events"]) > 0.99 * n_big
    assert got.shape[0] == 4 and got.info["chunks"] >= 4


SPARK_POST = sorted(set(post.POST) - {"reg_imei_imsis_hour", "reg_device_churn",
                                      "reg_lac_neighbours"})     # CDRs have no registrations


def test_post_features_come_from_spark_not_the_driver(through_spark, local):
    """The driver's post step is not run for the feature table (``through_spark``), and
    every post feature equals the local engine's; the network gives each one values beyond
    its default, so a feature computed differently shows."""
    got = through_spark
    want = local.features
    for name in SPARK_POST:
        x = want[name].to_numpy()
        assert len(np.unique(x[~np.isnan(x)])) > 1, f"{name}: one value only"
    assert (want["comove_peers"] > 0).any() and (want["imsi_neighbours"] > 0).any()
    assert (want["msisdn_neighbours"] > 0).any() and (want["imei_max_imsis"] > 1).any()
    assert_same_features(local, got)


def test_token_keys_and_device_tokens_equal_local(spark, tmp_path):
    """Subscribers keyed by anonymised tokens, devices by tokens (shared by two of them):
    the keys are decoded on the executors as the driver decodes them locally."""
    import json
    from simbox.spark import compute_features_spark
    profile = tmp_path / "tokens.json"
    profile.write_text(json.dumps({
        "name": "tokens", "columns": {"record_type": "t", "start_time": "s", "imsi": None,
                                      "token": "sub", "imei": "dev", "cell_id": "c"},
        "subscriber_key": "token", "imei_tokens": True}))
    rows = ["t,s,sub,dev,c"]
    for i in range(300):
        sub = f"u_{i % 7:02x}z"
        dev = "" if i % 11 == 0 else f"dev-{i % 5}"
        rows.append(f"{'MOC' if i % 3 else 'SMS_MO'},2026-03-01T{i // 60 % 24:02d}:{i % 60:02d}:05Z,"
                    f"{sub},{dev},46000-12-{i % 4}")
    path = tmp_path / "tokens.csv"
    path.write_text("\n".join(rows) + "\n")
    local = compute_features(path, columns=profile)
    got = compute_features_spark(path, spark=spark, columns=profile)
    assert list(local.features.index)[:2] == ["u_00z", "u_01z"]
    assert (local.features["imei_max_imsis"] > 1).any()
    assert_same_features(local, got)
    assert list(got.subscriber_key) == list(local.subscriber_key)
