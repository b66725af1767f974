"""The feature table on Spark: stage 1 (normalise), shuffle, stage 2 (kernels), stage 3 (post).

1. ``mapInArrow`` normalises every input partition to canonical event rows
   (``events.py``; its rejects and counts are rows too, *meta* rows);
2. ``repartition(n, imsi)`` + ``sortWithinPartitions(imsi, time)``: every event of a
   subscriber in one partition, in time order;
3. ``mapInArrow`` reduces each partition with the local engine's kernel in bounded
   chunks (``reduce.py``): one binary row per chunk, the per-subscriber quantities and
   the subscriber-device, -cell and -site pairs, never the events; the meta rows pass;
   these rows are persisted on the executors (disk);
4. the driver takes the meta rows (writes every reject, adds the counts: exact when
   Spark runs a task again) and the chunks' duplicate counts;
5. the features computed after the kernel (IMEIs shared across subscribers, numeric
   neighbours, co-movement, window shares, percentile ranks) are computed in Spark
   (``post.py``): :func:`spark_table` returns them still in Spark (:class:`SparkFeatures`);
   :func:`spark_features` has the driver take the finished feature table.

The driver thus holds at most the feature table (66 values per subscriber), never the
events, pairs or moves; a scan takes less (``scan.py``).  The per-subscriber tables of
:class:`~simbox.features.FeatureResult` (``sims``, ``hours``, ``devices``, ``cells``) are
made on the driver from the stage-2 rows when first asked (``_assemble_parts``).  The
result equals the local engine's on the same records (tests/spark/).
"""
from __future__ import annotations

import pickle
import re
import time
import warnings
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np


from simbox.errors import InputError, ParseError
from simbox.fastpath.aggregate import Reduced, TimeZone
from simbox.fastpath.columnar import batch_reader
from simbox.fastpath.events import CellDict, normalise_cell_id
from simbox.fastpath.keys import MSISDN_BASE, KeyBook, decode_ids, kind_of
from simbox.fastpath.stats import (MAX_REJECT_SHARE, ReadStats, RejectsWriter, check_policy,
                                   check_share, reject_share_error)
from simbox.fastpath.window import TimeWindow
from simbox.features import post
from simbox.features.compute import FeatureResult, _assemble, _tables
from simbox.features.registry import feature_names
from simbox.features.tables import cell_table, load_cells, load_tac
from simbox.spark.events import EVENT_SCHEMA, normaliser, read_meta
from simbox.spark.post import chunk_counts, feature_frame, table_columns
from simbox.spark.reduce import PART_SCHEMA, CHUNK_BYTES, load_part, reducer
from simbox.spark.session import arrow_to_driver, get_session, read_cdrs, to_driver

#: meta rows (rejects and counts) collected in one job; more are taken a partition at a time
META_COLLECT = 100_000


def spark_features(df, **options) -> FeatureResult:
    """The feature table of a Spark DataFrame of CDRs (see the module docstring), on the
    driver: :func:`spark_table` (its options), collected."""
    return spark_table(df, **options).collect()


def spark_table(df, *, cells=None, tac=None, columns="canonical", timezone="UTC",
                   on_bad_records="skip", rejects=None, time_from=None, time_to=None,
                   partitions: int | None = None, chunk_bytes: int = CHUNK_BYTES,
                   max_reject_share=MAX_REJECT_SHARE, name: str = "<spark DataFrame>",
                   stats: ReadStats | None = None,
                   post_partitions: int | None = None) -> "SparkFeatures":
    """The feature table of a Spark DataFrame of CDRs, left in Spark (see the module docstring).

    ``df``: rows in the canonical layout or the layout of ``columns`` (a profile);
    string, integer, timestamp (any session time zone) columns.  ``partitions``:
    partitions of the shuffle (default ``spark.sql.shuffle.partitions``);
    ``post_partitions``: those of stage 3's repartitions (default ``partitions``; its rows,
    per subscriber and pair, are far fewer than the events).  The other
    options are those of :func:`simbox.features.compute_features`; rejects are located
    by ``partition P, batch B, row I`` of the input DataFrame, each written once to
    ``rejects`` (in the order of their input partition within each shuffle partition).
    """
    t0 = time.monotonic()
    tz = TimeZone(timezone)
    check_policy(on_bad_records)
    max_reject_share = check_share(max_reject_share)
    window = TimeWindow.of(time_from, time_to)
    cell_rows = load_cells(cells) if cells is not None else None
    tac_map = load_tac(tac) if tac is not None else None
    stats = stats if stats is not None else ReadStats()
    probe = batch_reader(columns, name=name, cells=CellDict(), stats=ReadStats())
    _, names = probe.columns_read(df.columns)            # a missing column: said here
    spark = df.sparkSession
    events = normalised(df.select(*names), probe.m, names, name=name,
                        on_bad_records=on_bad_records, window=window)
    n = partitions or int(spark.conf.get("spark.sql.shuffle.partitions"))
    parts = (events.repartition(n, "imsi").sortWithinPartitions("imsi", "time")
             .mapInArrow(reducer(cell_rows, tz.name, chunk_bytes), PART_SCHEMA))
    own = rejects is not None and not isinstance(rejects, RejectsWriter)
    writer = RejectsWriter(rejects) if own else rejects
    from pyspark import StorageLevel  # lazy: pyspark
    from pyspark.sql import functions as F  # lazy: pyspark
    parts = parts.persist(StorageLevel.DISK_ONLY)       # read by the steps of stage 3
    try:
        meta = parts.where(F.col("meta").isNotNull()).select("meta")
        # the counts rows and a few rejects in one job; many rejects a partition at a time
        many = meta.count() > META_COLLECT
        for row in to_driver(meta, "meta rows", local_iterator=many):
            read_meta(row.meta, stats, writer)
    except Exception as e:          # noqa: BLE001  (a Py4J/PySpark error: its first simbox line)
        parts.unpersist()
        raise _simbox_error(e) from None
    finally:
        if own:
            writer.close()
    error = reject_share_error(name, stats.records, stats.rejected, max_reject_share)
    if error is not None:
        parts.unpersist()
        raise error
    blobs = parts.where(F.col("part").isNotNull()).select("part")
    got, = to_driver(blobs.mapInArrow(chunk_counts, "chunks long, duplicates long").agg(
        F.sum("chunks").alias("chunks"), F.sum("duplicates").alias("duplicates")), "counts")
    stats.duplicates += int(got.duplicates or 0)
    table, held = feature_frame(parts, tz=tz, tac=tac_map, partitions=post_partitions or n)
    return SparkFeatures(table=table, blobs=blobs, held=held, parts=parts, stats=stats, tz=tz,
                         cell_rows=cell_rows, tac=tac_map, partitions=post_partitions or n,
                         t0=t0,
                         info={"engine": "spark", "partitions": n,
                               "chunks": int(got.chunks or 0)})


@dataclass
class SparkFeatures:
    """The feature table of a run still in Spark (:func:`spark_table`): ``table`` (rows of
    :data:`~simbox.spark.post.FEATS_SCHEMA`), ``blobs`` (the stage-2 rows, for the
    per-subscriber tables), the DataFrames persisted for them (``held`` for the table,
    ``parts`` for the stage-2 rows: :meth:`release` them once done).  :meth:`collect` gives the :class:`FeatureResult` on the driver (the
    whole table); a scan takes only what it needs (``simbox.spark.scan``)."""

    table: object
    blobs: object
    held: list
    parts: object
    stats: ReadStats
    tz: TimeZone
    cell_rows: object
    tac: object
    partitions: int
    t0: float
    info: dict

    def release(self) -> None:
        for df in (*self.held, self.parts):
            df.unpersist()

    def collect(self) -> FeatureResult:
        """The whole feature table on the driver (``simbox features``, ``train``); the
        per-subscriber tables are taken from the stage-2 rows when first asked."""
        try:
            tables = list(arrow_to_driver(self.table, "feature table"))
        except Exception as e:      # noqa: BLE001  (a Py4J/PySpark error: its first simbox line)
            self.release()
            raise _simbox_error(e) from None
        for df in self.held:
            df.unpersist()
        columns, codes = table_columns(tables)
        del tables
        key_kind = None
        if len(codes) and int(codes.max()) >= MSISDN_BASE:
            key_kind = kind_of(codes)

        def tables_of_driver():
            """The per-subscriber tables (sims, hours, devices, cells): the stage-2 rows on
            the driver (:func:`_assemble_parts`)."""
            try:
                got = [pickle.loads(row.part) for row in to_driver(
                    self.blobs, "stage-2 rows", local_iterator=True,
                    size=lambda r: 1 + len(r.part) // 2048)]  # ~2 KB per subscriber
            finally:
                self.parts.unpersist()
            return _assemble_parts(got, self.cell_rows, self.tac, self.tz, ReadStats(), self.t0,
                                   self.partitions).tables()

        return FeatureResult(columns, tables_of_driver, stats=self.stats, timezone=self.tz.name,
                             seconds=time.monotonic() - self.t0, info=self.info,
                             subscriber_key=key_kind, key_collisions=0)


def normalised(df, mapping, names, *, name, on_bad_records, window):
    """Stage 1: the event and meta rows (:data:`~simbox.spark.events.EVENT_SCHEMA`) of ``df``."""
    return df.mapInArrow(normaliser(mapping, names, name=name, on_bad_records=on_bad_records,
                                    window=window), EVENT_SCHEMA)


def compute_features_spark(inputs, *, spark=None, master=None, cells=None, tac=None,
                           columns="canonical", timezone="UTC", on_bad_records="skip",
                           rejects=None, time_from=None, time_to=None,
                           max_reject_share=MAX_REJECT_SHARE, partitions=None, progress=None,
                           in_spark: bool = False, **ignored):
    """:func:`simbox.features.compute_features` on Spark: CDR files (Parquet, ORC or CSV;
    hive partitions pruned by the window), a catalog table (``table:db.name``) or a Spark
    DataFrame, read by ``spark`` (default: :func:`get_session` with ``master``).
    ``workers`` and ``memory_limit`` are Spark's to set (ignored).  A FeatureResult, or with
    ``in_spark`` the :class:`SparkFeatures` left in Spark (what a scan takes)."""
    frames = [i for i in (inputs if isinstance(inputs, (list, tuple)) else [inputs])
              if hasattr(i, "sparkSession")]
    if frames:
        if len(frames) > 1 or isinstance(inputs, (list, tuple)) and len(inputs) > 1:
            raise InputError("give one Spark DataFrame alone as the input")
        run = spark_table(frames[0], cells=cells, tac=tac, columns=columns,
                              timezone=timezone, on_bad_records=on_bad_records, rejects=rejects,
                              time_from=time_from, time_to=time_to, partitions=partitions,
                          max_reject_share=max_reject_share)
        return run if in_spark else run.collect()
    spark = spark or get_session(master)
    df, nfiles, size, pruned = read_cdrs(spark, inputs, columns=columns, time_from=time_from,
                                         time_to=time_to)
    stats = ReadStats(files=nfiles, bytes=size, pruned_files=pruned)
    names = ", ".join(map(str, inputs)) if isinstance(inputs, (list, tuple)) else str(inputs)
    run = spark_table(df, cells=cells, tac=tac, columns=columns, timezone=timezone,
                      on_bad_records=on_bad_records, rejects=rejects, time_from=time_from,
                      time_to=time_to, partitions=partitions, name=names, stats=stats,
                      max_reject_share=max_reject_share)
    return run if in_spark else run.collect()


def _recoded(blobs, cell_rows):
    """(Reduced of the stage-2 rows ``blobs`` recoded to one cell dictionary, the cell
    dictionary, its cell table, site names, KeyBook or None), consuming ``blobs``."""
    celldict = CellDict(sorted({t for d in blobs for t in d["tokens"]}))
    table, site_names, warning = cell_table(celldict.tokens, cell_rows)
    if warning:
        warnings.warn(warning, stacklevel=4)
    site_code = {s: i for i, s in enumerate(site_names)}
    book = None
    tokens = {c: t for d in blobs for c, t in d["book"].items()}
    if tokens:
        book = celldict.keys = KeyBook()
        book.encode(np.array(list(tokens.values()), dtype=object))
    parts = [load_part(d, celldict._codes, site_code) for d in blobs]
    blobs.clear()
    red = Reduced.concat(parts, len(feature_names()))
    return red, celldict, table, site_names, book, len(parts)


def _assemble_parts(blobs, cell_rows, tac, tz, stats, t0, n) -> FeatureResult:
    """The feature table of the stage-2 rows (see the module docstring, step 4)."""
    red, celldict, table, site_names, book, chunks = _recoded(blobs, cell_rows)
    stats.duplicates += red.duplicates
    columns, tables, key_kind = _assemble(red, feature_names(), celldict, table, site_names,
                                          tac, tz, book)
    return FeatureResult(columns, tables, stats=stats, timezone=tz.name,
                         seconds=time.monotonic() - t0,
                         info={"engine": "spark", "partitions": n, "chunks": chunks},
                         subscriber_key=key_kind,
                         key_collisions=book.collisions if book is not None else 0)


def flagged_tables(blobs, cell_rows, tac, columns: dict):
    """``(sims, hours, devices, cells)`` of :class:`FeatureResult` for the subscribers of the
    stage-2 rows ``blobs`` (the flagged SIMs' rows, trimmed: ``simbox.spark.scan._taker``),
    made as the local engine makes them (:func:`simbox.features.compute._tables`) but
    without the post features (``columns``: their feature columns, sorted by key, with
    ``imsi``, ``first_seen``, ``last_seen`` and ``n_events``: the scored table's)."""
    red, celldict, table, site_names, book, _ = _recoded(blobs, cell_rows)
    keys = decode_ids(red.imsi, book).astype(str)
    order = np.argsort(keys, kind="stable")
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    keys = keys[order]
    if not np.array_equal(keys, np.asarray(columns["imsi"], dtype=str)):
        raise RuntimeError("the flagged SIMs' stage-2 rows are not those of their scores")
    tokens = np.array([normalise_cell_id(t) for t in celldict.tokens], dtype=object)
    code = red.main_imei[order]
    main_tac, device_type, _ = post.device_types(code, tac)
    ctx = SimpleNamespace(msisdn=red.msisdn[order], main_imei=decode_ids(code, book),
                          main_tac=main_tac, device_type=device_type,
                          main_cell=post._names(red.main_cell[order], tokens),
                          main_site=post._names(red.main_site[order], site_names),
                          dev_row=inv[red.dev_row])
    key_kind = kind_of(red.imsi[order]) if len(red.imsi) and \
        int(red.imsi.max()) >= MSISDN_BASE else None
    return _tables(red, ctx, columns, keys, inv, order, tokens, table, book, key_kind)


_SIMBOX_LINE = re.compile(r"simbox\.errors\.(\w+): (.*)")


def _simbox_error(e: Exception) -> Exception:
    """The simbox error inside a failed Spark job (its one line), else an InputError."""
    m = _SIMBOX_LINE.search(str(e))
    if m is not None:
        message = m.group(2).strip()
        if m.group(1) != "ParseError":
            return InputError(message)
        err = ParseError.__new__(ParseError)        # its message as the executor wrote it
        InputError.__init__(err, message)
        err.reason = message
        err.path = err.line = err.field = err.offset = err.detail = None
        return err
    first = next((ln for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
    return InputError(f"the Spark job failed: {first.strip()}")
