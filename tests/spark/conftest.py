"""One local[2,2] Spark session for the whole run (tests/spark/); skipped, with the reason,
only when pyspark or Java is missing (CI has both: .ci/run)."""
import os
import shutil

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[test]')")
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("Java is not installed (the Spark tests need Java 17: .ci/run installs it)")
    from simbox.spark import get_session
    # local[2,2]: two threads, a task may fail once (test_spark_retries injects a failure)
    s = get_session("local[2,2]", conf={
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "2",    # tests wanting more say so (partitions=)
        "spark.default.parallelism": "2",
        # small Arrow batches: subscribers cross batch boundaries in every test
        "spark.sql.execution.arrow.maxRecordsPerBatch": "5000",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": "1g",
        # a short-lived JVM: the C1 compiler only and the serial collector (2-3x less JVM
        # CPU on the tests' small jobs, measured: docs/spark.md, "Tests")
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        "spark.python.worker.reuse": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",   # createDataFrame(pandas) by Arrow
        "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("warehouse")),
    })
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()
