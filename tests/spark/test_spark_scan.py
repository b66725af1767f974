"""``scan`` and ``simbox features`` with ``--engine spark``: the outputs of the local engine."""
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from simbox.cli import main
from simbox.data import simulate
from simbox.errors import ConfigError
from simbox.scan import scan

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
OUTPUTS = ("flagged.csv", "scores.csv", "deployments.csv", "sites.csv", "sites.geojson")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    base = tmp_path_factory.mktemp("spark-scan")
    sim = simulate(1500, 3, "mixed", 11, base / "net")
    return base, base / "net", sim.network.timezone


def test_scan_outputs_equal_the_local_engine(spark, net, monkeypatch):
    """Byte for byte, with the reasons' reference a sample of the SIMs not flagged (100 of
    them, as pandas draws it); the driver takes the flagged SIMs, the sample and a few
    aggregates: no row per subscriber (rows counted by to_driver, the one way to it).
    The input: a Spark DataFrame of the CSV (the CLI's path input: test_features_command...
    and tests/spark/test_shipping.py)."""
    import simbox.scan as scan_module
    from simbox.spark import read_cdrs, session
    base, n, tz = net
    monkeypatch.setattr(scan_module, "REFERENCE_SIMS", 100)
    # no history store: the second scan would see the first one's SIMs as "known"
    kw = dict(cells=n / "cells.csv", tac=n / "tac.csv", timezone=tz, report=False, history=False)
    a = scan([n / "cdrs.csv.gz"], out=base / "local", **kw)
    session.DRIVER_ROWS.clear()
    b = scan(read_cdrs(spark, n / "cdrs.csv.gz")[0], out=base / "spark", engine="spark", **kw)
    assert len(a.flagged) > 0 and len(b.flagged) == len(a.flagged)
    for name in OUTPUTS:
        assert (base / "local" / name).read_bytes() == (base / "spark" / name).read_bytes(), name
    files = ("files", "bytes")          # a DataFrame has no files
    assert {k: v for k, v in a.summary["records"].items() if k not in files} == \
        {k: v for k, v in b.summary["records"].items() if k not in files}
    same = ("seconds", "scanned_at", "out", "records")
    assert {k: v for k, v in a.summary.items() if k not in same} == \
        {k: v for k, v in b.summary.items() if k not in same}
    rows = dict(session.DRIVER_ROWS)
    sims, flagged = a.summary["sims"], a.summary["flagged"]
    assert sims > 5 * (flagged + 100)
    assert "feature table" not in rows and "stage-2 rows" not in rows, rows
    assert rows["flagged rows"] == rows["flagged stage-2 rows"] == flagged
    assert rows["reference rows"] == 100
    assert rows["scores"] == sims       # scores.csv: every SIM, a partition at a time
    # the others: counts, the cells' and the order statistics' buckets (bounded by the cells
    # and by the seconds of an hour, not by the subscribers), the time outliers (none here)
    per_sim = sum(v for k, v in rows.items() if k not in ("scores", "cells", "order statistics"))
    assert per_sim < 2 * flagged + 100 + 100, rows


def test_features_command_with_engine_spark(spark, net, capsys):
    base, n, tz = net
    common = [str(n / "cdrs.csv.gz"), "--cells", str(n / "cells.csv"), "--timezone", tz,
              "--json"]
    assert main(["features", *common, "--out", str(base / "local.parquet")]) == 0
    capsys.readouterr()
    assert main(["features", *common, "--engine", "spark",
                 "--out", str(base / "spark.parquet")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["records"] > 0 and out["rejected"] == 0
    a = pq.read_table(base / "local.parquet").to_pandas()
    b = pq.read_table(base / "spark.parquet").to_pandas()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-9)


def test_spark_engine_refuses_signaling(net):
    from simbox.engines import compute
    base, n, tz = net
    with pytest.raises(ConfigError) as e:
        compute("spark", [n / "cdrs.csv.gz"], signaling=[n / "x.pcap"])
    assert str(e.value).startswith("the Spark engine reads CDRs only")
    with pytest.raises(ConfigError):
        compute("hadoop", [n / "cdrs.csv.gz"])


def test_scan_of_a_partitioned_table_with_no_sim_flagged(spark, net):
    """From a catalog table (partitioned by date, pruned by --from), at a threshold no SIM
    reaches: the same (empty) flagged.csv, deployments and sites, the same scores.csv and
    summary as the local engine; the report is written; no flagged row or stage-2 row
    reaches the driver."""
    from simbox.spark import compute_features_spark, session
    base, n, tz = net
    df = pd.read_csv(n / "cdrs.csv.gz", dtype=str, keep_default_na=False)
    df["date"] = df["start_time"].str[:10]
    days = sorted(df["date"].unique())
    sdf = spark.createDataFrame(df)
    sdf.write.partitionBy("date").mode("overwrite").saveAsTable("cdr")
    kw = dict(cells=n / "cells.csv", tac=n / "tac.csv", timezone=tz, history=False,
              time_from=days[1], threshold=1.0)
    ref = scan([n / "cdrs.csv.gz"], out=base / "local-none", report=False, **kw)
    session.DRIVER_ROWS.clear()
    got = scan("table:cdr", engine="spark", out=base / "spark-none", **kw)
    assert got.summary["records"]["records"] == int((df["date"] >= days[1]).sum())
    assert ref.summary["flagged"] == got.summary["flagged"] == 0 and len(got.flagged) == 0
    for name in OUTPUTS:
        assert (base / "local-none" / name).read_bytes() == \
            (base / "spark-none" / name).read_bytes(), name
    same = ("seconds", "scanned_at", "out", "records", "report")
    assert {k: v for k, v in ref.summary.items() if k not in same} == \
        {k: v for k, v in got.summary.items() if k not in same}
    assert (base / "spark-none" / "report.html").stat().st_size > 0
    rows = dict(session.DRIVER_ROWS)
    assert rows.get("flagged rows", 0) == rows.get("flagged stage-2 rows", 0) == 0, rows
    with pytest.raises(Exception) as e:
        compute_features_spark("table:no_such_table", spark=spark)
    assert str(e.value).startswith("table:no_such_table: ")


def test_the_device_rule_flags_the_same_farm_on_both_engines(spark, tmp_path, monkeypatch):
    """A card farm of 600 SIMs on one device (simbox/device_rule.py) added to the sample
    network: its SIMs reach the driver as the rule's candidates and every output equals
    the local engine's, byte for byte (the farm flagged, one deployment, its wording,
    scores.csv flagging them)."""
    import pathlib
    import sys

    import simbox.scan as scan_module
    from simbox.spark import read_cdrs, session
    sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))
    from farms import small_farm

    monkeypatch.setattr(scan_module, "REFERENCE_SIMS", 100)
    src = small_farm(tmp_path / "cdrs.csv", "35693803564380", 600)
    kw = dict(cells=src / "cells.csv", tac=src / "tac.csv", timezone="Asia/Shanghai",
              report=False, history=False)
    a = scan([tmp_path / "cdrs.csv"], out=tmp_path / "local", **kw)
    session.DRIVER_ROWS.clear()
    b = scan(read_cdrs(spark, tmp_path / "cdrs.csv")[0], out=tmp_path / "spark", engine="spark",
             **kw)
    assert a.summary["device_rule"]["devices"] == 1 == b.summary["device_rule"]["devices"]
    for name in OUTPUTS:
        assert (tmp_path / "local" / name).read_bytes() == \
            (tmp_path / "spark" / name).read_bytes(), name
    # (the driver takes every flagged SIM; the young hold keeps some off the list)
    assert session.DRIVER_ROWS["flagged rows"] == a.summary["flagged"] + \
        a.summary.get("excluded", 0)
