"""``simbox columns check``: read files with a profile and say, per field, what was accepted.

:func:`check_profile` reads every record (nothing is aggregated, nothing is
written) through the reader the profile needs and counts, per contract field,
the records whose value in it was bad, the reasons, and the first example of
each reason (file, line, value).  ``preview(path, columns, n)`` gives the first
``n`` parsed records as a DataFrame.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

from simbox.fastpath.columns import FIELDS, load_mapping
from simbox.fastpath.events import CellDict, EventBatch
from simbox.fastpath.readers import expand_inputs, open_events
from simbox.fastpath.stats import ReadStats, reject_share_error


class _Collector:
    """A rejects sink (the RejectsWriter interface) keeping counts and first examples."""

    def __init__(self):
        self.by_field = collections.Counter()         # header name -> bad records
        self.examples = {}                             # reason -> (file, line, field, record)
        self.count = 0

    def write(self, file, reason, *, line=None, byte_offset=None, field=None, record=None,
              detail=None):
        self.count += 1
        self.by_field[field or ""] += 1
        if isinstance(record, (bytes, bytearray)):
            record = bytes(record).decode("utf-8", "backslashreplace")
        self.examples.setdefault(reason, (str(file), line, field, (record or "")[:120]))


@dataclass
class CheckResult:
    profile: object
    stats: ReadStats
    bad_by_column: dict
    examples: dict
    per_file: list = field(default_factory=list)     # (file, records, rejected)

    def fields(self) -> list:
        """``(field, columns, bad records)`` per contract field the profile reads."""
        m = self.profile
        out = []
        for f in FIELDS + ("token",):
            cols = m.source_columns(f)
            for p in m.parties.values():
                if p.get(f) and p[f] not in cols:
                    cols.append(p[f])
            if cols:
                out.append((f, cols, sum(self.bad_by_column.get(c, 0) for c in cols)))
        return out

    def error(self, limit):
        """The error of a file rejecting more than ``limit`` of its records (or None)."""
        for name, records, rejected in self.per_file:
            e = reject_share_error(name, records, rejected, limit)
            if e is not None:
                return e
        return None

    def as_dict(self) -> dict:
        return {"profile": self.profile.name, "engine": self.profile.engine,
                "subscriber_key": self.profile.subscriber_key, **self.stats.as_dict(),
                "fields": [{"field": f, "columns": c, "bad": n} for f, c, n in self.fields()],
                "examples": {r: {"file": e[0], "line": e[1], "field": e[2], "record": e[3]}
                             for r, e in self.examples.items()}}


def check_profile(inputs, columns="canonical") -> CheckResult:
    """Read ``inputs`` with the profile ``columns``; the counts per field and reason."""
    m = load_mapping(columns)
    stats, sink, cells = ReadStats(), _Collector(), CellDict()
    per_file = []
    for item in expand_inputs(inputs):
        snap = stats.snapshot()
        for b in open_events(item, columns=m, rejects=sink, cells=cells, stats=stats):
            b.recycle()
        records, rejected = stats.since(snap)
        per_file.append((str(item), records, rejected))
    return CheckResult(m, stats, dict(sink.by_field), sink.examples, per_file)


def preview(path, columns, n: int = 10):
    """The first ``n`` records of ``path`` read with the profile, as a readable DataFrame."""
    cells, got = CellDict(), []
    for b in open_events(path, columns=load_mapping(columns), cells=cells, stats=ReadStats()):
        got.append(b.take(slice(0, n - sum(len(g) for g in got))))
        if sum(len(g) for g in got) >= n:
            break
    return EventBatch.concat(got).to_pandas(cells)
