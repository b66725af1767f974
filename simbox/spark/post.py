"""Stage 3 of the Spark engine: the features computed after the kernel, in Spark.

The stage-2 rows (one pickled :class:`~simbox.fastpath.aggregate.Reduced` per chunk,
``reduce.py``) stay in Spark; ``mapInArrow`` turns them into DataFrames of
subscribers (:data:`SUBS_SCHEMA`), subscriber-device pairs, subscriber-site pairs and
moves, with site *names* (each chunk codes its own sites).  The features of
``features/post.py`` that need every subscriber are then joins and group-bys, each
reduced by the local engine's own functions where a group is worked through:

- ``imei_max_imsis``: subscribers per IMEI (group by IMEI), the largest per subscriber;
- ``imsi_neighbours``/``msisdn_neighbours``: pairs repartitioned by group (``d`` +
  IMEI, ``s`` + site), each partition's close pairs by
  :func:`~simbox.features.post.close_pair_keys`, distinct pairs counted per subscriber;
- ``moves``/``comove_peers``/``comove_share``: moves repartitioned by site pair (every
  move between two sites in one partition), each partition's matches by
  :func:`~simbox.features.comove.bucket_counts` (the local kernel), ``shared`` summed
  per (subscriber, peer) and tallied per subscriber as ``_comove.tally`` does;
- ``*_pct``: exact percentile ranks by a distributed sort: the levels
  (:func:`~simbox.features.post.rank_inputs`) range-partitioned by (feature, level),
  each partition's smallest level and count per feature collected (a few numbers), and
  each partition ranks its levels from the counts of the partitions of lower levels
  (equal levels always share a partition; the partitions are persisted between the two
  passes, and a partition not seen in the first stops the run);
- ``lifetime_share``/``active_day_share``: the input's first and last event (one
  aggregate), then per row; ``device_not_phone`` per row (the TAC table broadcast);
- ``reg_*``: the Spark engine reads CDRs only (no registrations): their empty values.

The driver holds none of these tables: it collects the counts above and, when asked,
the finished feature table (``feature_table``).  Every value is computed with the same
numpy expressions as the local engine (floats bit for bit).
"""
from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa

from simbox.fastpath.keys import KeyBook, decode_ids
from simbox.features import comove, post
from simbox.features.registry import REGISTRY, feature_names
from simbox.spark.session import to_driver

SUBS_SCHEMA = "imsi long, key string, msisdn long, main_imei long, feats array<double>"
DEV_SCHEMA = "imsi long, imei long"
SITE_SCHEMA = "imsi long, site string"
MOVE_SCHEMA = "imsi long, frm string, to string, time long"
LONG_SCHEMA = "imsi long, f int, v double"          # one post feature value of a subscriber
FEATS_SCHEMA = "imsi long, key string, msisdn long, feats array<double>"
#: values of the features computed here for a subscriber that none of their rows gives
DEFAULTS = {"moves": 0.0, "comove_peers": 0.0, "comove_share": np.nan, "imei_max_imsis": 0.0,
            "imsi_neighbours": 0.0, "msisdn_neighbours": 0.0, "reg_imei_imsis_hour": 0.0,
            "reg_device_churn": np.nan, "reg_lac_neighbours": 0.0,
            **{name: np.nan for name, _, _ in post.RANKED}}
ROW_WISE = ("device_not_phone", "lifetime_share", "active_day_share")
assert set(post.POST) == set(DEFAULTS) | set(ROW_WISE), "a post feature without its Spark form"
UNLOCATED = "\x00unlocated"      # the site name of site code -1


def _load(blob):
    d = pickle.loads(blob)
    sites = np.array(list(d["sites"]) + [UNLOCATED], dtype=object)
    return d, d["red"], sites


def _blobs(batches):
    for b in batches:
        for blob in b.column(0).to_pylist():
            if blob is not None:
                yield _load(blob)


def _subs(batches):
    for d, red, _ in _blobs(batches):
        book = None
        if d["book"]:
            book = KeyBook()
            book.tokens.update(d["book"])
        feats = np.ascontiguousarray(red["feats"], np.float64)
        n, k = feats.shape if feats.ndim == 2 else (0, len(feature_names()))
        yield pa.RecordBatch.from_arrays([
            pa.array(red["imsi"]), pa.array(decode_ids(red["imsi"], book).astype(str)),
            pa.array(red["msisdn"]), pa.array(red["main_imei"]),
            pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k, dtype=np.int32)),
                                     pa.array(feats.reshape(-1)))],
            names=["imsi", "key", "msisdn", "main_imei", "feats"])


def _devs(batches):
    for _, red, _ in _blobs(batches):
        yield pa.RecordBatch.from_arrays([pa.array(red["imsi"][red["dev_row"]]),
                                          pa.array(red["dev_imei"])], names=["imsi", "imei"])


def _sites(batches):
    for _, red, sites in _blobs(batches):
        yield pa.RecordBatch.from_arrays([pa.array(red["imsi"][red["site_row"]]),
                                          pa.array(sites[red["site_code"]], pa.string())],
                                         names=["imsi", "site"])


def _moves(batches):
    for _, red, sites in _blobs(batches):
        yield pa.RecordBatch.from_arrays([
            pa.array(red["imsi"][red["move_row"]]), pa.array(sites[red["move_from"]], pa.string()),
            pa.array(sites[red["move_to"]], pa.string()),
            pa.array(np.asarray(red["move_time"], np.int64))],
            names=["imsi", "frm", "to", "time"])


def chunk_counts(batches):
    """Per stage-2 row: (chunks 1, duplicate events of the chunk)."""
    for _, red, _ in _blobs(batches):
        yield pa.RecordBatch.from_arrays([pa.array([1]), pa.array([int(red["duplicates"])])],
                                         names=["chunks", "duplicates"])


def to_ipc(batches):
    """Rows of any schema as one Arrow IPC stream per partition (a binary row, and its rows):
    the driver takes a partition at a time (:func:`~simbox.spark.session.arrow_to_driver`)."""
    sink, writer, n = None, None, 0
    for b in batches:
        if writer is None:
            sink = pa.BufferOutputStream()
            writer = pa.ipc.new_stream(sink, b.schema)
        writer.write_batch(b)
        n += b.num_rows
    if writer is not None:
        writer.close()
        yield pa.RecordBatch.from_arrays([pa.array([sink.getvalue().to_pybytes()], pa.binary()),
                                          pa.array([n], pa.int64())], names=["ipc", "rows"])


def ipc_batches(batches):
    """Rows of any schema as one Arrow IPC stream per Arrow batch (a binary row, and its rows)."""
    for b in batches:
        if b.num_rows == 0:
            continue
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, b.schema) as writer:
            writer.write_batch(b)
        yield pa.RecordBatch.from_arrays([pa.array([sink.getvalue().to_pybytes()], pa.binary()),
                                          pa.array([b.num_rows], pa.int64())],
                                         names=["ipc", "rows"])


def _table(batches):
    """The rows of a partition as one table, None when it has none."""
    got = [b for b in batches if b.num_rows]
    return pa.Table.from_batches(got) if got else None


def _dense(codes):
    """(distinct codes, index of each) of an int64 array."""
    u, inv = np.unique(np.asarray(codes, np.int64), return_inverse=True)
    return u, inv.reshape(-1).astype(np.int64)


def _close_pairs(batches):
    """Per partition of (group, imsi, imsi value, msisdn value) rows: the distinct close pairs
    (a, b, which: 0 by IMSI, 1 by MSISDN)."""
    t = _table(batches)
    if t is None:
        return
    group = np.unique(t.column("g").to_numpy(zero_copy_only=False).astype(str),
                      return_inverse=True)[1].reshape(-1).astype(np.int64)
    imsis, rows = _dense(t.column("imsi").to_numpy())
    n = len(imsis)
    for which, col in enumerate(("imsi", "msisdn")):
        values = np.zeros(n, np.int64)
        values[rows] = t.column(col).to_numpy()
        keys = np.unique(post.close_pair_keys(group, rows, values, n, int(group.max()) + 1))
        yield pa.RecordBatch.from_arrays([
            pa.array(imsis[keys // n]), pa.array(imsis[keys % n]),
            pa.array(np.full(len(keys), which, np.int8))], names=["a", "b", "which"])


def _comoves(batches):
    """Per partition of moves (every move of a site pair in one partition): for each
    (subscriber, peer), how many of the subscriber's moves match a move of the peer."""
    t = _table(batches)
    if t is None or t.num_rows < 2:
        return
    imsis, row = _dense(t.column("imsi").to_numpy())
    names, code = np.unique(np.concatenate([t.column("frm").to_numpy(zero_copy_only=False),
                                            t.column("to").to_numpy(zero_copy_only=False)])
                            .astype(str), return_inverse=True)
    code = code.reshape(-1).astype(np.int32)
    frm, to = code[:t.num_rows], code[t.num_rows:]
    n = len(imsis)
    for keys, shared in comove.bucket_counts(row, frm, to, t.column("time").to_numpy(), n,
                                             comove.MATCH_S, comove.CROWD, comove.CHUNK,
                                             comove._bucket_shared):
        yield pa.RecordBatch.from_arrays([pa.array(imsis[keys // n]), pa.array(imsis[keys % n]),
                                          pa.array(np.asarray(shared, np.int64))],
                                         names=["a", "b", "c"])


def _rank_levels(index):
    """Per subscriber: (f, level) of each ranked feature it is ranked by (``index``: the
    feature's column); f is the feature's index in the feature names."""

    def run(batches):
        for b in batches:
            feats = _matrix(b.column(b.schema.get_field_index("feats")))
            active, ranked = post.rank_inputs(lambda name: feats[:, index[name]])
            imsi = b.column(b.schema.get_field_index("imsi")).to_numpy()
            for name, x in ranked:
                ok = active & ~np.isnan(x)
                yield pa.RecordBatch.from_arrays([
                    pa.array(imsi[ok]), pa.array(np.full(int(ok.sum()), index[name], np.int32)),
                    pa.array(x[ok])], names=["imsi", "f", "x"])
    return run


def _range_counts(batches):
    """Per range partition of (imsi, f, x): for each f, its smallest level and its rows."""
    t = _table(batches)
    if t is None:
        return
    f, x = t.column("f").to_numpy(), t.column("x").to_numpy()
    ks = np.unique(f)
    yield pa.RecordBatch.from_arrays([
        pa.array(ks.astype(np.int32)), pa.array([float(x[f == k].min()) for k in ks]),
        pa.array([int((f == k).sum()) for k in ks], pa.int64())], names=["f", "lo", "n"])


def _ranks(offsets, totals):
    """Per range partition of (imsi, f, x): each row's percentile rank (``offsets``:
    (f, smallest level of the partition) -> rows of f in the partitions before it, the
    partitions of one f holding disjoint ranges; ``totals``: f -> rows of f)."""

    def run(batches):
        t = _table(batches)
        if t is None:
            return
        f, x, imsi = (t.column(c).to_numpy() for c in ("f", "x", "imsi"))
        for k in np.unique(f):
            sel = f == k
            v = x[sel]
            s = np.sort(v)
            off = offsets.get((int(k), float(s[0])))
            if off is None:
                raise RuntimeError("the range partitions of the percentile ranks changed "
                                   "between their two passes")
            below = np.searchsorted(s, v, side="left") + off
            upto = np.searchsorted(s, v, side="right") + off
            yield pa.RecordBatch.from_arrays([
                pa.array(imsi[sel]), pa.array(np.full(len(v), k, np.int32)),
                pa.array(post.mean_rank_share(below, upto, totals[int(k)]))],
                names=["imsi", "f", "v"])
    return run


def _matrix(lists) -> np.ndarray:
    """The float64 matrix of a list<double> column of rows of equal length."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    n = len(lists)
    flat = lists.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(n, -1) if n else np.zeros((0, len(feature_names())))


def _finish(index, span, tz_name, tac):
    """The final rows: kernel columns, the post values given, the defaults, and the
    row-wise features (``span``: the input's first and last event; ``tac``: TAC table)."""
    from simbox.fastpath.aggregate import TimeZone
    defaults = [(index[k], v) for k, v in DEFAULTS.items() if k in index]

    def run(batches):
        tz = TimeZone(tz_name)
        for b in batches:
            if b.num_rows == 0:
                continue
            col = {name: b.column(b.schema.get_field_index(name)) for name in b.schema.names}
            feats = _matrix(col["feats"]).copy()
            for i, v in defaults:
                feats[:, i] = v
            given = col["post"]
            if given.null_count < len(given):
                rows = np.repeat(np.arange(len(given)),
                                 given.value_lengths().fill_null(0).to_numpy())
                flat = given.flatten()
                feats[rows, flat.field("f").to_numpy()] = flat.field("v").to_numpy()
            if "device_not_phone" in index:
                feats[:, index["device_not_phone"]] = post.device_types(
                    col["main_imei"].to_numpy(), tac)[2]
            if span is not None and "lifetime_share" in index:
                life, days = post.window_share_values(
                    feats[:, index["first_seen"]], feats[:, index["last_seen"]],
                    feats[:, index["active_days"]], span[0], span[1], tz)
                feats[:, index["lifetime_share"]] = life
                feats[:, index["active_day_share"]] = days
            n, k = feats.shape
            yield pa.RecordBatch.from_arrays([
                col["imsi"], col["key"], col["msisdn"],
                pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k, dtype=np.int32)),
                                         pa.array(feats.reshape(-1)))],
                names=["imsi", "key", "msisdn", "feats"])
    return run


def feature_frame(parts, *, tz, tac=None, partitions: int):
    """The feature table of the stage-2 rows ``parts`` (persisted: read several times) as a
    Spark DataFrame (:data:`FEATS_SCHEMA`: ``feats`` in :func:`feature_names` order), and
    the DataFrames it persisted (to unpersist once the table is taken)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # lazy: pyspark

    names = feature_names()
    index = {n: i for i, n in enumerate(names)}
    blobs = parts.where(F.col("part").isNotNull()).select("part")
    subs = blobs.mapInArrow(_subs, SUBS_SCHEMA).persist(StorageLevel.DISK_ONLY)
    devs = blobs.mapInArrow(_devs, DEV_SCHEMA)
    sites = blobs.mapInArrow(_sites, SITE_SCHEMA)
    moves = blobs.mapInArrow(_moves, MOVE_SCHEMA)
    long = []
    # imei_max_imsis: subscribers per IMEI, the largest of a subscriber's IMEIs
    per_imei = devs.groupBy("imei").agg(F.count(F.lit(1)).alias("n"))
    long.append(devs.join(per_imei, "imei").groupBy("imsi")
                .agg(F.max("n").cast("double").alias("v"))
                .select("imsi", F.lit(index["imei_max_imsis"]).alias("f"), "v"))
    # numeric neighbours: close pairs within each device and site group
    values = subs.select("imsi", "msisdn")
    groups = devs.select(F.concat(F.lit("d"), F.col("imei").cast("string")).alias("g"), "imsi") \
        .unionByName(sites.select(F.concat(F.lit("s"), F.col("site")).alias("g"), "imsi"))
    close = (groups.join(values, "imsi").repartition(partitions, "g")
             .mapInArrow(_close_pairs, "a long, b long, which byte").distinct())
    for which, name in enumerate(("imsi_neighbours", "msisdn_neighbours")):
        long.append(close.where(F.col("which") == which).groupBy("a")
                    .agg(F.count(F.lit(1)).cast("double").alias("v"))
                    .select(F.col("a").alias("imsi"), F.lit(index[name]).alias("f"), "v"))
    # co-movement: moves per subscriber; matched moves per (subscriber, peer), tallied
    per_sub = moves.groupBy("imsi").agg(F.count(F.lit(1)).cast("double").alias("moves"))
    shared = (moves.repartition(partitions, "frm", "to")
              .mapInArrow(_comoves, "a long, b long, c long")
              .groupBy("a", "b").agg(F.sum("c").alias("c"))
              .groupBy("a").agg(F.sum((F.col("c") >= comove.MIN_SHARED).cast("long"))
                                .cast("double").alias("peers"),
                                F.max("c").cast("double").alias("best")))
    co = per_sub.join(shared.withColumnRenamed("a", "imsi"), "imsi", "left").fillna(0.0)
    long += [co.select("imsi", F.lit(index["moves"]).alias("f"), F.col("moves").alias("v")),
             co.select("imsi", F.lit(index["comove_peers"]).alias("f"), F.col("peers").alias("v")),
             co.select("imsi", F.lit(index["comove_share"]).alias("f"),
                       (F.col("best") / F.col("moves")).alias("v"))]
    # percentile ranks: a distributed sort, counts per partition, offsets
    levels = subs.mapInArrow(_rank_levels(index), "imsi long, f int, x double")
    ranks, ranged = percentile_ranks(levels, partitions)
    long.append(ranks)
    # the input's first and last event (window shares)
    span, = to_driver(subs.select(F.min(F.col("feats")[index["first_seen"]]).alias("t0"),
                                  F.max(F.col("feats")[index["last_seen"]]).alias("t1")), "counts")
    span = None if span.t0 is None else (int(span.t0), int(span.t1))
    given = long[0]
    for df in long[1:]:
        given = given.unionByName(df)
    given = given.groupBy("imsi").agg(F.collect_list(F.struct("f", "v")).alias("post"))
    table = subs.join(given, "imsi", "left").mapInArrow(
        _finish(index, span, tz.name, tac), FEATS_SCHEMA)
    return table, [ranged, subs]


def percentile_ranks(levels, partitions: int):
    """``(ranks, persisted)``: the rows ``(imsi, f, v)`` of ``levels`` (``imsi long, f int,
    x double``, no NaN) with ``v`` the mean rank of ``x`` among the rows of its ``f`` over
    their number (:func:`simbox.features.post.percentile_rank`); ``persisted``: the range
    partitions, to unpersist once ``ranks`` is computed."""
    from pyspark import StorageLevel
    ranged = levels.repartitionByRange(partitions, "f", "x").persist(StorageLevel.DISK_ONLY)
    counts = list(to_driver(ranged.mapInArrow(_range_counts, "f int, lo double, n long"),
                            "counts"))
    totals, offsets = {}, {}
    for r in sorted(counts, key=lambda r: (r.f, r.lo)):
        offsets[(r.f, r.lo)] = totals.get(r.f, 0)
        totals[r.f] = totals.get(r.f, 0) + r.n
    return ranged.mapInArrow(_ranks(offsets, totals), LONG_SCHEMA), ranged


def table_columns(batch_tables) -> dict:
    """The ``columns`` of a :class:`~simbox.features.FeatureResult` from Arrow tables of
    :data:`FEATS_SCHEMA` rows: sorted by key string, each feature in the registry's dtype."""
    t = pa.concat_tables(batch_tables) if batch_tables else None
    names = feature_names()
    if t is None or t.num_rows == 0:
        columns = {"imsi": np.array([], dtype=str)}
        feats = np.zeros((0, len(names)))
        codes = np.zeros(0, np.int64)
    else:
        key = np.asarray(t.column("key").to_pylist(), dtype=str)
        order = np.argsort(key, kind="stable")
        columns = {"imsi": key[order]}
        feats = _matrix(t.column("feats"))[order]
        codes = t.column("imsi").to_numpy()[order]
    for i, f in enumerate(REGISTRY):
        columns[f.name] = feats[:, i].astype(f.dtype)
    return columns, codes
