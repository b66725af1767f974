"""Stage 1 of the Spark engine: CDR rows of any profile -> canonical event rows, per partition.

Each partition of the input DataFrame goes through the columnar reader's
normalisation (``simbox.fastpath.columnar.batch_reader``: the profile's names and
codes, time parsing to UTC, digits codes, bad-record reasons) in the Arrow batches
``mapInArrow`` hands over, so a record gives the same event (or the same reject)
as in the local engine.  Out come the :data:`EVENT_SCHEMA` rows: the event columns,
the cell *token* (codes are per partition; stage 2 codes them again) and the
tokens behind token-coded subscribers and devices (for the driver's KeyBook).

Counts (records, accepted, skipped, filtered, rejected by reason) and the first
:data:`REJECT_SAMPLE` rejects of each partition come back to the driver in an
accumulator: a task Spark runs again counts again (docs/spark.md).  With
``on_bad_records="error"`` the first bad record fails the job; the driver turns
Spark's error back into the one-line :class:`ParseError` message.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
from pyspark.accumulators import AccumulatorParam

from simbox.fastpath.columnar import batch_reader
from simbox.fastpath.events import CellDict
from simbox.fastpath.keys import TOKEN_BASE
from simbox.fastpath.profile_read import keybook
from simbox.fastpath.stats import ReadStats

EVENT_SCHEMA = ("rtype byte, time long, imsi long, imei long, msisdn long, other long, "
                "duration int, cell string, key_token string, imei_token string")
REJECT_SAMPLE = 1000
COUNTS = ("records", "accepted", "skipped", "filtered")


class Counts(AccumulatorParam):
    """Accumulated read counts: ``{"records": n, ..., "rejected": {reason: n}, "rejects": [...]}``."""

    def zero(self, value=None):
        return {**{k: 0 for k in COUNTS}, "rejected": {}, "rejects": []}

    def addInPlace(self, a, b):
        for k in COUNTS:
            a[k] += b[k]
        for r, n in b["rejected"].items():
            a["rejected"][r] = a["rejected"].get(r, 0) + n
        a["rejects"].extend(b["rejects"][:max(0, REJECT_SAMPLE - len(a["rejects"]))])
        return a


class _Sample:
    """A rejects writer that keeps the first rejects of a partition for the driver."""

    def __init__(self):
        self.rows = []

    def write(self, file, reason, **where):
        if len(self.rows) < REJECT_SAMPLE:
            rec = where.get("record")
            where["record"] = rec.decode("utf-8", "backslashreplace") \
                if isinstance(rec, (bytes, bytearray)) else rec
            self.rows.append((file, reason, where))


def normaliser(mapping, names, *, name, on_bad_records, window, counts):
    """The ``mapInArrow`` function of stage 1 for the input columns ``names``."""

    def run(batches):
        from pyspark import TaskContext  # lazy: on the executor
        ctx = TaskContext.get()
        part = ctx.partitionId() if ctx is not None else 0
        cells, stats, sample = CellDict(), ReadStats(), _Sample()
        reader = batch_reader(mapping, name=name, cells=cells, stats=stats, rejects=sample,
                              on_bad_records=on_bad_records)
        wanted, _ = reader.columns_read(names)
        book = keybook(cells)
        first = 0
        for i, batch in enumerate(batches):
            for ev in reader.convert(batch, wanted, f"partition {part}, batch {i}", first):
                if window is not None:
                    ev = window.filter(ev, stats)
                    if ev is None:
                        continue
                yield _event_rows(ev, cells, book)
            first += batch.num_rows
        counts.add({**{k: getattr(stats, k) for k in COUNTS}, "rejected": dict(stats.rejected),
                    "rejects": sample.rows})

    return run


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
    ], names=["rtype", "time", "imsi", "imei", "msisdn", "other", "duration", "cell",
              "key_token", "imei_token"])
