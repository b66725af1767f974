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
                "spark.ui.showConsoleProgress": "false"}
    settings.update(conf or {})
    for k, v in settings.items():
        b = b.config(k, v)
    return b.getOrCreate()


def read_cdrs(spark, inputs, *, columns="canonical", time_from=None, time_to=None):
    """(DataFrame, files, bytes) of CDR files: Parquet, ORC or CSV (plain or gzip), all of
    one format.  CSV is read as text with the profile's separator and quote (the
    profile then reads it as the local engine does).  Hive partition files outside the
    ``time_from``/``time_to`` window are left out (``pruned``: how many).
    """
    m = load_mapping(columns)
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
