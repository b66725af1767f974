"""The Spark session of a run, and CDR files as a Spark DataFrame.

Under ``spark-submit`` the session is the one the submit configured (master,
executors, ``spark.archives``); elsewhere a local session is made (``master``,
default ``local[*]``).  The inputs are listed and pruned exactly as the local engine
does (``simbox.fastpath.readers.expand_inputs`` and the ``--from/--to`` window), so
both engines read the same files.
"""
from __future__ import annotations

import os
import shutil

from simbox.errors import ConfigError, InputError
from simbox.fastpath.columns import load_mapping
from simbox.fastpath.readers import detect_format, expand_inputs
from simbox.fastpath.window import TimeWindow

#: rows per Arrow batch handed to the kernels (spark.sql.execution.arrow.maxRecordsPerBatch)
ARROW_BATCH_ROWS = 65536
#: and bytes (spark.sql.execution.arrow.maxBytesPerBatch): the stage-2 rows are chunks of
#: up to a few MB each (``reduce.py``), so a batch of them stays small in the JVM's heap
ARROW_BATCH_BYTES = 16 << 20


def get_session(master: str | None = None, *, app_name: str = "simbox", conf: dict | None = None):
    """The active SparkSession, or a new one (``master`` default: ``local[*]`` unless
    spark-submit gave one).  ConfigError when Java is missing."""
    from pyspark.sql import SparkSession  # lazy: pyspark starts a JVM

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise ConfigError("the Spark engine needs Java 17 (java on PATH or JAVA_HOME); "
                          "install it (e.g. apt-get install openjdk-17-jre-headless)")
    b = SparkSession.builder.appName(app_name)
    if master is not None or "PYSPARK_SUBMIT_ARGS" not in os.environ:
        b = b.master(master or os.environ.get("SIMBOX_SPARK_MASTER", "local[*]"))
    settings = {"spark.sql.execution.arrow.maxRecordsPerBatch": str(ARROW_BATCH_ROWS),
                "spark.sql.execution.arrow.maxBytesPerBatch": str(ARROW_BATCH_BYTES),
                "spark.ui.showConsoleProgress": "false"}
    settings.update(conf or {})
    for k, v in settings.items():
        b = b.config(k, v)
    return b.getOrCreate()


TABLE_PREFIX = "table:"


def read_cdrs(spark, inputs, *, columns="canonical", time_from=None, time_to=None):
    """(DataFrame, files, bytes, pruned) of CDR files: Parquet, ORC or CSV (plain or gzip),
    all of one format; or of one catalog table named ``table:db.name`` (a Hive table).

    CSV is read as text with the profile's separator and quote (the profile then reads
    it as the local engine does).  Hive partition files outside the ``time_from``/
    ``time_to`` window are left out (``pruned``: how many); a table is filtered on its
    day partition column (``date``, ``dt``, ``day``, ``ds``: ``YYYY-MM-DD`` strings or
    dates), which Spark prunes.
    """
    m = load_mapping(columns)
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    tables = [os.fspath(i)[len(TABLE_PREFIX):] for i in inputs
              if isinstance(i, (str, os.PathLike)) and os.fspath(i).startswith(TABLE_PREFIX)]
    if tables:
        if len(tables) != len(inputs) or len(tables) > 1:
            raise InputError("give one table:NAME input alone (not with files or other tables)")
        return read_table(spark, tables[0], TimeWindow.of(time_from, time_to)) + (0, 0, 0)
    files = expand_inputs(inputs)
    if any(not isinstance(f, str) or f == "-" for f in files):
        raise InputError("the Spark engine reads files and folders, not standard input or "
                         "file objects")
    window = TimeWindow.of(time_from, time_to)
    kept = [f for f in files if window is None or window.keeps_path(f)]
    pruned = len(files) - len(kept)
    if not kept:
        raise InputError(f"no input file lies in the window {window} ({len(files)} partition "
                         "file(s) outside it)")
    kinds = {}
    for f in kept:
        kinds.setdefault(detect_format(f).name, []).append(f)
    if len(kinds) > 1:
        raise InputError("the Spark engine reads inputs of one format at a time, not "
                         + " and ".join(f"{len(v)} {k}" for k, v in sorted(kinds.items())))
    (kind, paths), = kinds.items()
    if kind == "parquet":
        df = spark.read.parquet(*paths)
    elif kind == "orc":
        df = spark.read.orc(*paths)
    elif kind == "csv":
        df = spark.read.csv(paths, header=True, sep=m.separator, quote=m.quote, escape=m.quote,
                            inferSchema=False, multiLine=True, mode="PERMISSIVE",
                            enforceSchema=False)
    else:
        raise InputError(f"the Spark engine reads Parquet, ORC and CSV, not {kind} "
                         f"({paths[0]}); use the local engine")
    size = sum(os.path.getsize(p) for p in paths)
    return df, len(paths), size, pruned


def read_table(spark, name: str, window) -> tuple:
    """(DataFrame,) of a catalog table, filtered on its day partition by ``window``."""
    from pyspark.sql import functions as F  # lazy: pyspark
    from pyspark.sql.utils import AnalysisException  # lazy: pyspark
    try:
        df = spark.table(name)
        parts = [c.name for c in spark.catalog.listColumns(name) if c.isPartition]
    except AnalysisException as e:
        raise InputError(f"table:{name}: {str(e).splitlines()[0]}") from None
    day = next((c for c in parts if c.lower() in ("date", "dt", "day", "ds")), None)
    if window is not None and day is not None:
        import datetime
        def iso(t):
            return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d")
        col = F.col(day).cast("string")
        if window.start is not None:
            df = df.where(col >= iso(window.start))
        if window.end is not None:
            df = df.where(col <= iso(window.end - 1))
    return (df,)


#: rows taken to the driver per kind (``what`` of :func:`to_driver`), for tests and figures
DRIVER_ROWS: dict = {}


def to_driver(df, what: str, *, local_iterator: bool = False, size=None):
    """The rows of ``df`` on the driver: every result a run takes from Spark goes through
    here (``collect``, or ``toLocalIterator``: one partition at a time), counted in
    :data:`DRIVER_ROWS` under ``what`` as they arrive (``size``: the rows a row stands for,
    e.g. the subscribers of a stage-2 row), so that a test sees a collect of a whole
    table as rows, not as seconds or bytes of memory."""
    rows = df.toLocalIterator() if local_iterator else df.collect()
    for row in rows:
        DRIVER_ROWS[what] = DRIVER_ROWS.get(what, 0) + (1 if size is None else size(row))
        yield row


def arrow_to_driver(df, what: str, *, local_iterator: bool = False, per_batch: bool = False):
    """The rows of ``df`` on the driver as Arrow tables, one per partition (``to_ipc``) or,
    with ``per_batch``, one per Arrow batch (``spark.sql.execution.arrow.maxRecordsPerBatch``
    rows: with ``local_iterator``, the driver's Python holds one at a time), counted as their
    rows by :func:`to_driver`."""
    import pyarrow as pa
    from simbox.spark.post import ipc_batches, to_ipc  # lazy: post imports this module
    blocks = df.mapInArrow(ipc_batches if per_batch else to_ipc, "ipc binary, rows long")
    for row in to_driver(blocks, what, local_iterator=local_iterator, size=lambda r: r.rows):
        yield pa.ipc.open_stream(row.ipc).read_all()
