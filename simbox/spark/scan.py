"""A scan on Spark: every SIM scored on the executors, the flagged ones assembled on the driver.

:func:`scored` takes the feature table left in Spark (:class:`~simbox.spark.features.
SparkFeatures`) and gives what :func:`simbox.scan.assemble` needs, equal to the local
engine's, with the driver holding the flagged SIMs and a few aggregates, never a row per
subscriber:

1. ``mapInArrow`` scores each batch of the feature table with the model (broadcast; its
   ``predict``, the local engine's code: the rows as the local table types them), and the
   scored table is persisted (executors' disk);
2. one aggregate: SIMs, flagged SIMs, SIMs per kind of key;
3. the flagged rows (features and scores; with them the device rule's candidates, SIMs
   seen on a device of more than 512 IMSIs: :mod:`simbox.device_rule`, applied by
   ``assemble`` as in the local engine) go to the driver, and their rows of the stage-2
   results (``Reduced.take`` on the executors, trimmed to what the tables need: hours,
   main IMEI/cell/site, device and cell pairs, the cells and sites they name), from which
   the driver makes their per-subscriber tables (``sims``, ``hours``, ``devices``,
   ``cells``) as the local engine does, without computing any feature again
   (``simbox.spark.features.flagged_tables``);
4. the reference SIMs of the reasons, those pandas' ``sample(REFERENCE_SIMS,
   random_state=0)`` picks among the SIMs not flagged in key order: the positions drawn on
   an executor (``RandomState(0).choice``: an array of one int64 per SIM, off the driver),
   the SIMs ranked by key in range partitions (counts per partition, then offsets), the
   chosen rows taken;
5. the time outliers (:func:`simbox.scan.time_outliers`): the two order statistics around
   each percentile from counts per day, per hour of that day, per second of that hour;
   then the outliers themselves and the ``start``/``end`` of the others (one aggregate);
6. events per hour of day and per cell over every SIM (one group-by of the stage-2 rows);
7. ``scores.csv``: its columns sorted by (score descending, key) in Spark, taken an Arrow
   batch at a time (``toLocalIterator``) and written by the local engine's code
   (:func:`simbox.scan.scores_table`, :func:`simbox.outputs.write_csv_batches`): one local
   file, byte for byte the local engine's, one batch in the driver's memory at a time.

Every row that reaches the driver goes through :func:`~simbox.spark.session.to_driver`
(counted per kind).
"""
from __future__ import annotations

import logging
import pickle
import time
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa

from simbox import device_rule
from simbox.fastpath.events import decode_array, normalise_cell_id
from simbox.fastpath.keys import MSISDN_BASE, TOKEN_BASE, key_column, kind_of
from simbox.features.compute import FeatureResult
from simbox.features.registry import feature_names
from simbox.spark.features import SparkFeatures, flagged_tables
from simbox.spark.post import UNLOCATED, _load, table_columns
from simbox.spark.session import arrow_to_driver, to_driver
from simbox.training.scoring import PREDICT_COLUMNS

SCORED_SCHEMA = ("imsi long, key string, msisdn long, feats array<double>, score_simbox double, "
                 "score_cardfarm double, score_legit double, class string, score double, "
                 "flagged boolean, candidate boolean")
SCORES = list(PREDICT_COLUMNS)
log = logging.getLogger("simbox.spark")


class ScanRows(FeatureResult):
    """The flagged SIMs' :class:`FeatureResult`, with the key kinds of every SIM."""

    all_kinds: dict = None

    @property
    def key_kinds(self) -> dict:
        return self.all_kinds


def scored(sf: SparkFeatures, model, threshold: float, *, reference: int):
    """``(res, predictions, population)`` of a scan (see the module docstring): ``res`` and
    ``predictions`` of the SIMs at or above ``threshold``, ``population`` the
    :class:`simbox.scan.Population` of every SIM; ``reference``: the scan's REFERENCE_SIMS."""
    from pyspark import StorageLevel  # lazy: pyspark
    from pyspark.sql import functions as F  # lazy: pyspark
    spark = sf.table.sparkSession
    model_b = spark.sparkContext.broadcast(pickle.dumps(model, protocol=5))
    table = sf.table.mapInArrow(_scorer(model_b, float(threshold)), SCORED_SCHEMA) \
        .persist(StorageLevel.DISK_ONLY)
    try:
        counts, = to_driver(table.agg(
            F.count(F.lit(1)).alias("n"), F.sum(F.col("flagged").cast("long")).alias("flagged"),
            F.sum((F.col("flagged") | F.col("candidate")).cast("long")).alias("taken"),
            F.sum((F.col("imsi") >= TOKEN_BASE).cast("long")).alias("token"),
            F.sum(((F.col("imsi") >= MSISDN_BASE) & (F.col("imsi") < TOKEN_BASE)).cast("long"))
            .alias("msisdn")), "counts")
        t0 = time.monotonic()
        n = int(counts.n)
        kinds = {"imsi": n - int(counts.token or 0) - int(counts.msisdn or 0),
                 "msisdn": int(counts.msisdn or 0), "token": int(counts.token or 0)}
        kinds = {k: v for k, v in kinds.items() if v} if kinds["imsi"] < n else {"imsi": n}
        key = key_column(kinds)
        log.info("scored %d SIMs, %d flagged (%.1fs)", n, counts.flagged or 0,
                 time.monotonic() - sf.t0)
        res, preds = _flagged(sf, table, kinds)
        log.info("flagged SIMs and their tables taken (%.1fs)", time.monotonic() - t0)
        ref, ref_preds = _reference(table, n - int(counts.taken or 0), reference,
                                    sf.partitions, res, preds)
        log.info("reference SIMs taken (%.1fs)", time.monotonic() - t0)
        outliers = _outliers(table, key)
        log.info("time outliers (%.1fs)", time.monotonic() - t0)
        hours, cells = _aggregates(sf.blobs)
        log.info("hours and cells (%.1fs)", time.monotonic() - t0)
    finally:
        sf.release()
    from simbox.scan import Population  # lazy: simbox.scan imports the engines
    population = Population(sims=n, reference=ref, reference_predictions=ref_preds,
                            outliers=outliers, baseline_hours=hours, cells=cells,
                            write_scores=_scores_writer(table, threshold, key,
                                                        per_row=set(kinds) != {"imsi"}))
    return res, preds, population


# ---- 1. scoring ---------------------------------------------------------------------------

def _frame(t: pa.Table):
    """(features DataFrame as the local engine types it, the rows' codes, msisdn codes,
    order) of rows of the scored or feature table, sorted by key."""
    columns, codes = table_columns([t])
    order = np.argsort(np.asarray(t.column("key").to_pylist(), dtype=str), kind="stable")
    cols = dict(columns)
    index = pd.Index(cols.pop("imsi"), name="imsi", dtype=object)
    return pd.DataFrame(cols, index=index, copy=False), codes, \
        t.column("msisdn").to_numpy()[order], order


def _scorer(model_b, threshold: float):
    """The ``mapInArrow`` function scoring feature rows (:data:`SCORED_SCHEMA` out)."""

    def run(batches):
        model = pickle.loads(model_b.value)
        for b in batches:
            if b.num_rows == 0:
                continue
            t = pa.Table.from_batches([b])
            X, codes, msisdn, order = _frame(t)
            p = model.predict(X, threshold=threshold)
            yield pa.RecordBatch.from_arrays([
                pa.array(codes), pa.array(X.index.to_numpy(dtype=object), pa.string()),
                pa.array(msisdn), t.column("feats").take(pa.array(order)).combine_chunks(),
                *(pa.array(p[c].to_numpy()) for c in SCORES[:3]),
                pa.array(p["class"].to_numpy(dtype=object), pa.string()),
                pa.array(p["score"].to_numpy()), pa.array(p["flagged"].to_numpy(bool)),
                pa.array(device_rule.candidates(X))],
                names=["imsi", "key", "msisdn", "feats", *SCORES, "candidate"])

    return run


def _rows(df, what: str, extra: str | None = None):
    """(features, predictions, codes, msisdn codes, ``extra`` column) of the rows of ``df``
    (scored table) on the driver, sorted by key; a partition at a time through Arrow."""
    tables = list(arrow_to_driver(df, what))
    t = pa.concat_tables(tables) if tables else pa.Table.from_batches([], _empty_schema())
    return _scored_frame(t, extra)


def _scored_frame(t: pa.Table, extra: str | None = None):
    """:func:`_rows` of an Arrow table of scored rows."""
    X, codes, msisdn, order = _frame(t)
    preds = pd.DataFrame({c: t.column(c).to_numpy(zero_copy_only=False)[order] for c in SCORES},
                         index=X.index)
    preds["flagged"] = preds["flagged"].astype(bool)
    more = t.column(extra).to_numpy()[order] if extra else None
    return X, preds, codes, msisdn, more


def _empty_schema():
    from pyspark.sql.pandas.types import to_arrow_schema  # lazy: pyspark
    from pyspark.sql.types import _parse_datatype_string  # lazy: pyspark
    return to_arrow_schema(_parse_datatype_string(SCORED_SCHEMA))


# ---- 3. the flagged SIMs ------------------------------------------------------------------

def _flagged(sf: SparkFeatures, table, kinds: dict):
    """(res, predictions) of the flagged SIMs: their feature rows and scores, their rows of
    the stage-2 results (trimmed on the executors: :func:`_taker`) made into the
    per-subscriber tables (:func:`~simbox.spark.features.flagged_tables`)."""
    from pyspark.sql import functions as F  # lazy: pyspark
    # the model's flags and the device rule's candidates (simbox/device_rule.py: assemble
    # applies the rule to them as the local engine does)
    X, preds, codes, _, _ = _rows(table.where(F.col("flagged") | F.col("candidate")),
                                  "flagged rows")
    wanted = sf.table.sparkSession.sparkContext.broadcast(np.sort(codes))
    blobs = [pickle.loads(r.part) for r in to_driver(
        sf.blobs.mapInArrow(_taker(wanted), "part binary, n long"), "flagged stage-2 rows",
        size=lambda r: r.n)]
    columns = {"imsi": X.index.to_numpy(dtype=str), **{c: X[c].to_numpy() for c in X.columns}}
    with warnings.catch_warnings():      # cells not in cells.csv: the scan says it, once
        warnings.simplefilter("ignore")
        tables = flagged_tables(blobs, sf.cell_rows, sf.tac, columns)
    sims = tables[0]
    if set(kinds) != {"imsi"} and "subscriber_key" not in sims:
        sims = sims.assign(subscriber_key=kind_of(codes))
    res = ScanRows(columns, (sims, *tables[1:]), stats=sf.stats, timezone=sf.tz.name,
                   seconds=0.0, info=sf.info,
                   subscriber_key=kind_of(codes) if set(kinds) != {"imsi"} else None)
    res.all_kinds = kinds
    return res, preds


def _taker(wanted):
    """The ``mapInArrow`` function keeping, of each stage-2 row, the subscribers of the
    sorted codes ``wanted`` (a broadcast), trimmed (:func:`_trim`)."""

    def run(batches):
        codes = wanted.value
        for d, red, _ in _blobs_of(batches):
            imsi = np.asarray(red["imsi"], np.int64)
            pos = np.minimum(np.searchsorted(codes, imsi), max(len(codes) - 1, 0))
            rows = np.flatnonzero(codes[pos] == imsi) if len(codes) else np.zeros(0, np.int64)
            if len(rows) == 0:
                continue
            from simbox.fastpath.aggregate import Reduced
            blob = pickle.dumps(_trim(d, Reduced(**red).take(rows)), protocol=5)
            yield pa.RecordBatch.from_arrays([pa.array([blob], pa.binary()),
                                              pa.array([len(rows)], pa.int64())],
                                             names=["part", "n"])

    return run


def _trim(d: dict, taken) -> dict:
    """The stage-2 row ``d`` with ``taken`` (a Reduced of its flagged subscribers) holding
    only what the per-subscriber tables need: hours, the main IMEI, cell and site, the
    device and cell pairs; no feature values (the scored table's are used), no site pairs,
    moves or registrations; its cells, sites and tokens only those used."""
    from simbox.fastpath.aggregate import TABLES  # lazy: as Reduced
    taken.feats = np.zeros((len(taken.imsi), 0))
    for kind in ("site", "move", "reg"):
        for f, dtype in TABLES[kind].items():
            setattr(taken, f, np.zeros(0, dtype))
    cell = np.asarray(taken.main_cell)
    cells = np.unique(np.concatenate([cell[cell >= 0], np.asarray(taken.cell_code)]))
    cmap = np.full(len(d["tokens"]) + 1, -1, np.int32)       # code -1 -> the last: -1
    cmap[cells] = np.arange(len(cells), dtype=np.int32)
    taken.main_cell, taken.cell_code = cmap[cell], cmap[np.asarray(taken.cell_code)]
    site = np.asarray(taken.main_site)
    sites = np.unique(site[site >= 0])
    smap = np.full(len(d["sites"]) + 1, -1, np.int32)
    smap[sites] = np.arange(len(sites), dtype=np.int32)
    taken.main_site = smap[site]
    used = set(np.asarray(taken.imsi).tolist()) | set(np.asarray(taken.dev_imei).tolist())
    return {"red": vars(taken), "tokens": [d["tokens"][i] for i in cells],
            "sites": [d["sites"][i] for i in sites],
            "book": {c: t for c, t in d["book"].items() if c in used}}


def _blobs_of(batches):
    for b in batches:
        for blob in b.column(0).to_pylist():
            if blob is not None:
                yield _load(blob)


# ---- 4. the reference SIMs ----------------------------------------------------------------

def _reference(table, m: int, size: int, partitions: int, res, preds):
    """(features, predictions) of the reference SIMs of :func:`simbox.scan.assemble`: the
    ``m`` SIMs not flagged nor device-rule candidates (every SIM when none is), or pandas' ``sample(size,
    random_state=0)`` of them, in its order."""
    from pyspark import StorageLevel  # lazy: pyspark
    from pyspark.sql import functions as F  # lazy: pyspark
    if m == 0:
        return res.features, preds
    # not flagged: by the model, nor a candidate of the device rule (the rule flags its
    # candidates unless their device is a placeholder or spans more than two sites: such
    # SIMs are in the local engine's pool and not in this one)
    others = table.where(~(F.col("flagged") | F.col("candidate")))
    if m <= size:
        X, p, _, _, _ = _rows(others, "reference rows")
        return X, p
    spark = table.sparkSession
    picks = spark.range(1, numPartitions=1).mapInArrow(_choice(m, size), "pos binary")
    pos, = to_driver(picks, "reference positions")
    pos = np.frombuffer(pos.pos, np.int64)
    wanted = spark.sparkContext.broadcast(np.sort(pos))
    ranged = others.repartitionByRange(partitions, "key").persist(StorageLevel.DISK_ONLY)
    try:
        sizes = {r.p: r.n for r in to_driver(ranged.mapInArrow(_partition_size, "p int, n long"),
                                             "counts")}
        offsets, total = {}, 0
        for p in sorted(sizes):
            offsets[p] = total
            total += sizes[p]
        if total != m:
            raise RuntimeError(f"the SIMs not flagged were {m:,}, then {total:,}")
        X, p, _, _, at = _rows(ranged.mapInArrow(_at_positions(offsets, wanted),
                                                 SCORED_SCHEMA + ", pos long"),
                               "reference rows", extra="pos")
    finally:
        ranged.unpersist()
    take = pd.Series(np.arange(len(X)), index=at).reindex(pos).to_numpy()   # the draw's order
    return X.iloc[take], p.iloc[take]


def _choice(m: int, size: int):
    """The ``mapInArrow`` function drawing pandas' sample positions (one binary row)."""

    def run(batches):
        for _ in batches:
            pass
        pos = np.random.RandomState(0).choice(m, size=size, replace=False).astype(np.int64)
        yield pa.RecordBatch.from_arrays([pa.array([pos.tobytes()], pa.binary())], names=["pos"])

    return run


def _partition_size(batches):
    from pyspark import TaskContext  # lazy: on the executor
    n = sum(b.num_rows for b in batches)
    yield pa.RecordBatch.from_arrays([pa.array([TaskContext.get().partitionId()], pa.int32()),
                                      pa.array([n], pa.int64())], names=["p", "n"])


def _at_positions(offsets: dict, wanted):
    """The ``mapInArrow`` function keeping the rows of a range partition whose position in
    key order (``offsets``: rows before each partition) is ``wanted`` (sorted, broadcast)."""

    def run(batches):
        from pyspark import TaskContext  # lazy: on the executor
        got = [b for b in batches if b.num_rows]
        if not got:
            return
        t = pa.Table.from_batches(got)
        order = np.argsort(np.asarray(t.column("key").to_pylist(), dtype=str), kind="stable")
        pos = np.empty(len(order), np.int64)
        pos[order] = offsets[TaskContext.get().partitionId()] + np.arange(len(order))
        codes = wanted.value
        i = np.minimum(np.searchsorted(codes, pos), len(codes) - 1)
        keep = np.flatnonzero(codes[i] == pos)
        if len(keep):
            t = t.take(pa.array(keep))
            yield from t.append_column("pos", pa.array(pos[keep])).to_batches()

    return run


# ---- 5. the time outliers -----------------------------------------------------------------

DAY = 86_400


def _outliers(table, key: str) -> dict:
    """:func:`simbox.scan.time_outliers` of every SIM of the scored ``table``.

    The order statistics around the percentiles exactly (:func:`_order_statistics`), then
    one aggregate (the ``start`` and ``end`` of the SIMs that are not outliers) and the
    outliers themselves."""
    from pyspark.sql import functions as F  # lazy: pyspark
    from simbox.scan import sorted_quantile, time_bounds, time_outliers  # lazy: as Population
    names = feature_names()
    times = table.select(F.col("key"), F.col("feats")[names.index("first_seen")].alias("first"),
                         F.col("feats")[names.index("last_seen")].alias("last"))
    known = F.array(*(F.when(F.col(c).isNotNull() & ~F.isnan(c), F.struct(
        F.lit(c).alias("c"), F.col(c).cast("long").alias("t"))) for c in ("first", "last")))
    seen = times.select(F.explode(F.filter(known, lambda x: x.isNotNull())).alias("x")) \
        .select("x.c", "x.t")
    n, = to_driver(seen.agg(F.sum((F.col("c") == "first").cast("long")).alias("first"),
                            F.sum((F.col("c") == "last").cast("long")).alias("last")), "counts")
    if not n.first or not n.last:
        return {"mask": np.zeros(0, bool), "end": None, "start": None}
    ranks = {}
    for c, q in (("first", 0.1), ("last", 0.9)):
        i = int(np.floor((n[c] - 1) * np.float64(q)))
        ranks[c] = (i, min(i + 1, n[c] - 1))
    value = _order_statistics(seen, ranks)
    lo = sorted_quantile(n.first, 0.1, lambda i, j: _stamp([value["first", i], value["first", j]]))
    hi = sorted_quantile(n.last, 0.9, lambda i, j: _stamp([value["last", i], value["last", j]]))
    early, late = time_bounds(lo, hi)
    ns = 1_000_000_000
    out = F.coalesce((F.col("first").cast("long") * ns < F.lit(early.value))
                     | (F.col("last").cast("long") * ns > F.lit(late.value)), F.lit(False))
    span, = to_driver(times.agg(
        F.min(F.when(~out, F.col("first"))).alias("start"),
        F.max(F.when(~out, F.col("last"))).alias("end"),
        F.sum(out.cast("long")).alias("n")), "counts")
    rows = list(to_driver(times.where(out).orderBy("key"), "time outliers")) if span.n else []
    sims = pd.DataFrame({"first_seen": _stamp([r["first"] for r in rows]).to_numpy(),
                         "last_seen": _stamp([r["last"] for r in rows]).to_numpy()},
                        index=pd.Index([r["key"] for r in rows], name="imsi", dtype=object))
    start, end = (_stamp([v]).iloc[0] if v is not None else pd.NaT for v in (span.start, span.end))
    return time_outliers(sims, key, bulk=(lo, hi, start, end))


#: bucket widths (s) of the order statistics' passes: days, hours, seconds
WIDTHS = (86_400, 3_600, 1)


def _order_statistics(seen, ranks: dict) -> dict:
    """``{(c, rank): value}``: the values of 0-based ``rank`` (``ranks``: c -> ranks) in
    sorted order of the integer ``t`` of the rows of ``seen`` (``c, t``) of each ``c``.

    One pass per width of :data:`WIDTHS`: the rows per bucket of that width, counted in
    Spark within the bucket each rank fell in at the pass before (the first: all rows);
    the driver finds the bucket of each rank from the counts (at most a day's hours or an
    hour's seconds per rank, whatever the rows)."""
    from pyspark.sql import functions as F  # lazy: pyspark
    where = {(c, r): (None, 0) for c, rs in ranks.items() for r in rs}  # (bucket range, below)
    for w in WIDTHS:
        cond = F.lit(False)
        for c, lo_hi in {(c, rng) for (c, _), (rng, _) in where.items()}:
            part = F.col("c") == c
            if lo_hi is not None:
                part = part & (F.col("t") >= lo_hi[0]) & (F.col("t") < lo_hi[1])
            cond = cond | part
        counts = {}
        for r in to_driver(seen.where(cond).groupBy("c", F.floor(F.col("t") / w).alias("b"))
                           .count(), "order statistics"):
            counts.setdefault(r.c, []).append((int(r.b), int(r["count"])))
        for (c, rank), (rng, below) in where.items():
            for b, k in sorted(counts[c]):
                if rng is not None and not rng[0] <= b * w < rng[1]:
                    continue
                if rank < below + k:
                    where[(c, rank)] = ((b * w, (b + 1) * w), below)
                    break
                below += k
    return {cr: rng[0] for cr, (rng, _) in where.items()}


def _stamp(seconds) -> pd.Series:
    return pd.Series(pd.to_datetime(np.asarray(seconds, np.float64), unit="s", utc=True))


# ---- 6. hours and cells of every SIM ------------------------------------------------------

HOUR = "\x00hour "     # the events of hour h of every SIM: the row of "cell" HOUR + h


def _aggregates(blobs):
    """(events per hour of day of every SIM, DataFrame ``cell_id, events`` of every cell):
    one group-by of the stage-2 rows' cell and hour events."""
    from pyspark.sql import functions as F  # lazy: pyspark
    rows = list(to_driver(blobs.mapInArrow(_cell_events, "cell_id string, events long")
                          .groupBy("cell_id").agg(F.sum("events").alias("events")), "cells"))
    hours = np.zeros(24, np.int64)
    cells = []
    for r in rows:
        if r.cell_id.startswith(HOUR):
            hours[int(r.cell_id[len(HOUR):])] = r.events
        else:
            cells.append(r)
    return hours, pd.DataFrame({"cell_id": pd.Series([r.cell_id for r in cells], dtype=object),
                                "events": np.array([r.events for r in cells], np.int64)})


def _cell_events(batches):
    for d, red, _ in _blobs_of(batches):
        code = np.asarray(red["cell_code"])
        ok = code >= 0
        tokens = np.array([normalise_cell_id(t) for t in d["tokens"]] + [UNLOCATED], dtype=object)
        hours = np.asarray(red["hours"], np.int64).reshape(-1, 24).sum(axis=0)
        yield pa.RecordBatch.from_arrays([
            pa.array(np.concatenate([tokens[code[ok]], [f"{HOUR}{h:02d}" for h in range(24)]])
                     .astype(object), pa.string()),
            pa.array(np.concatenate([np.asarray(red["cell_events"])[ok].astype(np.int64), hours]))],
            names=["cell_id", "events"])


# ---- 7. scores.csv ------------------------------------------------------------------------

def _scores_writer(table, threshold: float, key: str, per_row: bool):
    """(path) -> None writing ``scores.csv`` of the scored ``table`` (then unpersisted): its
    key, MSISDN and score columns sorted by (score descending, key) in Spark, taken an Arrow
    batch at a time."""

    def write(path, farms=None) -> None:
        """``farms``: the device rule's SIMs, flagged as in the local engine's scores.csv."""
        from pyspark.sql import functions as F  # lazy: pyspark
        from simbox.outputs import write_csv_batches  # lazy: as simbox.scan
        from simbox.scan import _flag, scores_table  # lazy: as Population
        ordered = table.select("imsi", "key", "msisdn", *SCORES) \
            .orderBy(F.desc("score"), F.asc("key"))

        def frame(t):
            """The ``scores.csv`` rows of an Arrow table of ``ordered`` rows."""
            keys = pd.Index(t.column("key").to_pylist(), name="imsi", dtype=object)
            preds = pd.DataFrame({c: t.column(c).to_numpy(zero_copy_only=False)
                                  for c in SCORES}, index=keys)
            preds["flagged"] = preds["flagged"].astype(bool)
            sims = pd.DataFrame({"msisdn": decode_array(t.column("msisdn").to_numpy())},
                                index=keys)
            if per_row:
                sims["subscriber_key"] = kind_of(t.column("imsi").to_numpy())
            return scores_table(_flag(preds, threshold, farms), sims, key,
                                ["subscriber_key"] if per_row else [])

        def frames():
            yield frame(pa.table({"imsi": pa.array([], pa.int64()), "key": pa.array([], pa.string()),
                                  "msisdn": pa.array([], pa.int64()),
                                  **{c: pa.array([], pa.float64()) for c in SCORES[:3]},
                                  "class": pa.array([], pa.string()),
                                  "score": pa.array([], pa.float64()),
                                  "flagged": pa.array([], pa.bool_())}))
            for t in arrow_to_driver(ordered, "scores", local_iterator=True, per_batch=True):
                yield frame(t)
        try:
            write_csv_batches(frames(), path)
        finally:
            table.unpersist()

    return write
