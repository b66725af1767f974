"""Stage 1 of the Spark engine: CDR rows of any profile -> canonical event rows, per partition.

Each partition of the input DataFrame goes through the columnar reader's
normalisation (``simbox.fastpath.columnar.batch_reader``: the profile's names and
codes, time parsing to UTC, digits codes, bad-record reasons) in the Arrow batches
``mapInArrow`` hands over, so a record gives the same event (or the same reject)
as in the local engine.  Out come the :data:`EVENT_SCHEMA` rows: the event columns,
the cell *token* (codes are per partition; stage 2 codes them again) and the
tokens behind token-coded subscribers and devices (for the driver's KeyBook).

Rejects and counts are rows of the same output, not side effects: each reject is a
*meta* row (``meta``: its JSON), and so is the task's counts (records, accepted,
skipped, filtered, rejected by reason), the task's last row.  Meta rows carry a
negative key, one per input partition (:func:`meta_key`), and their order in
``time``: the shuffle takes them to stage 2 beside the events, sorted first, and
stage 2 passes them on to the driver, which writes every reject and adds the counts.
Spark keeps the output of one attempt of each task, so a task run again (a failure,
a lost executor) counts once.  With ``on_bad_records="error"`` the first bad record
fails the job; the driver turns Spark's error back into the one-line
:class:`ParseError` message.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from simbox.fastpath.columnar import batch_reader
from simbox.fastpath.events import CellDict
from simbox.fastpath.keys import TOKEN_BASE
from simbox.fastpath.profile_read import keybook
from simbox.fastpath.stats import ReadStats

EVENT_SCHEMA = ("rtype byte, time long, imsi long, imei long, msisdn long, other long, "
                "duration int, cell string, key_token string, imei_token string, meta string")
EVENT_NAMES = ["rtype", "time", "imsi", "imei", "msisdn", "other", "duration", "cell",
               "key_token", "imei_token", "meta"]
COUNTS = ("records", "accepted", "skipped", "filtered")
#: meta rows flushed to the output at once (a partition full of rejects stays bounded)
META_BATCH = 4096


def meta_key(partition: int) -> int:
    """The key of the meta rows of input partition ``partition``: negative (no subscriber
    key is), one per partition, so one stage-2 task receives them in their order."""
    return (partition - (1 << 62)) if partition >= 0 else -(1 << 62)


class _MetaRows:
    """A rejects writer that turns each reject into a meta row (JSON) of the output."""

    def __init__(self):
        self.rows = []

    def write(self, file, reason, **where):
        rec = where.get("record")
        where["record"] = rec.decode("utf-8", "backslashreplace") \
            if isinstance(rec, (bytes, bytearray)) else rec
        self.rows.append(json.dumps({"reject": [str(file), reason, where]}))

    def batch(self, key: int, first: int):
        """The held rows as a RecordBatch of meta rows numbered from ``first`` (then none held)."""
        rows, self.rows = self.rows, []
        n = len(rows)
        return pa.RecordBatch.from_arrays([
            pa.array(np.zeros(n, np.int8)), pa.array(np.arange(first, first + n, dtype=np.int64)),
            pa.array(np.full(n, key, np.int64)), *(pa.array(np.zeros(n, np.int64))
                                                   for _ in range(3)),
            pa.array(np.zeros(n, np.int32)), *(pa.nulls(n, pa.string()) for _ in range(3)),
            pa.array(rows, pa.string())], names=EVENT_NAMES)


def normaliser(mapping, names, *, name, on_bad_records, window):
    """The ``mapInArrow`` function of stage 1 for the input columns ``names``."""

    def run(batches):
        from pyspark import TaskContext  # lazy: on the executor
        ctx = TaskContext.get()
        part = ctx.partitionId() if ctx is not None else 0
        key = meta_key(part)
        cells, stats, meta = CellDict(), ReadStats(), _MetaRows()
        reader = batch_reader(mapping, name=name, cells=cells, stats=stats, rejects=meta,
                              on_bad_records=on_bad_records)
        wanted, _ = reader.columns_read(names)
        book = keybook(cells)
        first, nmeta = 0, 0
        for i, batch in enumerate(batches):
            for ev in reader.convert(batch, wanted, f"partition {part}, batch {i}", first):
                if window is not None:
                    ev = window.filter(ev, stats)
                    if ev is None:
                        continue
                yield _event_rows(ev, cells, book)
            first += batch.num_rows
            if len(meta.rows) >= META_BATCH:
                nmeta += len(meta.rows)
                yield meta.batch(key, nmeta - len(meta.rows))
        meta.rows.append(json.dumps({"counts": {**{k: getattr(stats, k) for k in COUNTS},
                                                "rejected": dict(stats.rejected)}}))
        yield meta.batch(key, nmeta)

    return run


def read_meta(text: str, stats: ReadStats, rejects) -> None:
    """Take one meta row (its JSON): a task's counts added to ``stats``, a reject written
    to ``rejects`` (a :class:`~simbox.fastpath.stats.RejectsWriter` or None)."""
    d = json.loads(text)
    if "counts" in d:
        c = d["counts"]
        for k in COUNTS:
            setattr(stats, k, getattr(stats, k) + c[k])
        for r, n in c["rejected"].items():
            stats.rejected[r] += n
    elif rejects is not None:
        file, reason, where = d["reject"]
        rejects.write(file, reason, line=where.get("line"), byte_offset=where.get("byte_offset"),
                      field=where.get("field"), record=where.get("record"),
                      detail=where.get("detail"))


def _tokens(codes, book):
    """The token of each token code, None elsewhere (an Arrow string array)."""
    tok = codes >= TOKEN_BASE
    if not tok.any():
        return pa.nulls(len(codes), pa.string())
    out = np.full(len(codes), None, dtype=object)
    out[tok] = [book.tokens[int(c)] for c in codes[tok]]
    return pa.array(out, pa.string())


def _event_rows(ev, cells, book):
    table = np.array(cells.tokens + [None], dtype=object)
    return pa.RecordBatch.from_arrays([
        pa.array(ev.rtype.astype(np.int8)), pa.array(ev.time), pa.array(ev.imsi),
        pa.array(ev.imei), pa.array(ev.msisdn), pa.array(ev.other), pa.array(ev.duration),
        pa.array(table[ev.cell], pa.string()), _tokens(ev.imsi, book), _tokens(ev.imei, book),
        pa.nulls(len(ev.time), pa.string())], names=EVENT_NAMES)
