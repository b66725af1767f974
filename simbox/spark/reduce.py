"""Stage 2 of the Spark engine: each sorted partition reduced by the fastpath kernel.

The canonical event rows are ``repartition``-ed by the subscriber key and sorted
within partitions by (key, time); ``mapInArrow`` hands a partition over in Arrow
batches of bounded size.  The batches are gathered until they hold
:data:`CHUNK_BYTES` bytes of events (Arrow bytes, not rows: rows vary with the cell
and token strings), then every subscriber that is complete (all but the last one,
whose events may go on in the next batch) is reduced with
:func:`simbox.fastpath.aggregate.reduce_events`, the kernel of the local engine;
the open subscriber is carried over.  Memory per task: one chunk plus the largest
subscriber, whatever the partition's size.

A chunk's result (:class:`~simbox.fastpath.aggregate.Reduced`, with cell and site
codes of the chunk's own cell dictionary, and the tokens behind its token codes)
goes to the driver as one binary row (about 0.75 byte per byte of events: 6 MB for
a full chunk, whatever the skew: a subscriber's own rows are at most its events'); :func:`load_part` recodes it to the run's
cell dictionary.  Later stages take these rows into Python in Arrow batches bounded
in bytes too (``spark.sql.execution.arrow.maxBytesPerBatch``,
``simbox.spark.session``), so the JVM's heap per task is bounded by a few chunks.
The meta rows of stage 1 (rejects and counts, negative keys: sorted
first) are passed on as they are, in the ``meta`` column.  The result depends on the
chunk only through its events, so the driver's assembled table equals the local
engine's.
"""
from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simbox.fastpath.aggregate import Reduced, TimeZone, Workspace, reduce_events, slot_columns
from simbox.fastpath.events import COLUMNS
from simbox.features.registry import feature_names
from simbox.features.tables import cell_table

#: Arrow bytes of events reduced at once (about 110,000 events of the canonical rows)
CHUNK_BYTES = 8 << 20
PART_SCHEMA = "part binary, meta string"
#: fields of Reduced holding cell codes, and site codes (recoded by load_part)
CELL_FIELDS = ("main_cell", "cell_code")
SITE_FIELDS = ("main_site", "site_code", "move_from", "move_to")


def reducer(cells, timezone: str, chunk_bytes: int = CHUNK_BYTES):
    """The ``mapInArrow`` function of stage 2 (``cells``: the loaded cell table or None)."""

    def run(batches):
        tz = TimeZone(timezone)
        names = feature_names()
        slots = slot_columns(names)
        work = Workspace()
        held, size = [], 0
        for b in batches:
            if b.num_rows == 0:
                continue
            meta = b.column(b.schema.get_field_index("meta"))
            if meta.null_count < len(meta):             # meta rows (stage 1): passed on
                has = pc.is_valid(meta)
                m = meta.filter(has)
                yield pa.RecordBatch.from_arrays([pa.nulls(len(m), pa.binary()), m],
                                                 names=["part", "meta"])
                b = b.filter(pc.invert(has))
                if b.num_rows == 0:
                    continue
            held.append(b)
            size += b.nbytes
            if size < chunk_bytes:
                continue
            t = pa.Table.from_batches(held)
            key = t.column("imsi").to_numpy()
            cut = int(np.searchsorted(key, key[-1]))    # the open subscriber's first event
            if cut == 0:
                continue                                # one subscriber so far: gather more
            yield _part(t.slice(0, cut), cells, tz, names, slots, work)
            held = t.slice(cut).to_batches()
            size = sum(x.nbytes for x in held)
        if held:
            yield _part(pa.Table.from_batches(held), cells, tz, names, slots, work)

    return run


def _part(t, cells, tz, names, slots, work):
    cols = {name: t.column(name).to_numpy().astype(dtype, copy=False)
            for name, dtype in COLUMNS if name != "cell"}
    enc = pc.dictionary_encode(t.column("cell")).combine_chunks()
    tokens = enc.dictionary.to_pylist()
    cols["cell"] = enc.indices.fill_null(-1).to_numpy().astype(np.int32)
    table, site_names, _ = cell_table(tokens, cells)
    red = reduce_events(cols, columns=slots, ncols=len(names), timezone=tz, cells=table,
                        workspace=work)
    book = {}
    for col in ("key_token", "imei_token"):
        code_col = "imsi" if col == "key_token" else "imei"
        tok = t.column(col)
        if tok.null_count < len(tok):
            mask = pc.is_valid(tok)
            codes = t.column(code_col).filter(mask).to_numpy()
            book.update(zip(codes.tolist(), tok.filter(mask).to_pylist()))
    blob = pickle.dumps({"red": vars(red), "tokens": tokens, "sites": list(site_names),
                         "book": book}, protocol=5)
    return pa.RecordBatch.from_arrays([pa.array([blob], pa.binary()), pa.nulls(1, pa.string())],
                                      names=["part", "meta"])


def load_part(d: dict, cell_code: dict, site_code: dict) -> Reduced:
    """The Reduced of a stage-2 row (``pickle.loads`` of it), recoded to the run's cells and
    sites (``cell_code``/``site_code``: token -> code and site name -> code of the run)."""
    red = Reduced(**d["red"])
    cmap = np.array([cell_code[t] for t in d["tokens"]] + [-1], np.int32)
    smap = np.array([site_code[s] for s in d["sites"]] + [-1], np.int32)
    for f in CELL_FIELDS:
        setattr(red, f, cmap[getattr(red, f)])
    for f in SITE_FIELDS:
        setattr(red, f, smap[getattr(red, f)])
    return red
