"""What every reader counts (the rejects file and policy: ``simbox.fastpath.badrecords``).

A reader never drops a record silently: each one is either accepted or rejected
with a reason, and rejected records go to the rejects file with their file, line
or byte offset, field and reason.  :class:`ReadStats` is summed over files and
readers and printed by every command.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

from simbox.fastpath.badrecords import (  # noqa: F401  (re-exported)
    BAD_RECORD_POLICIES, REJECTS_COLUMNS, RejectsWriter, check_policy,
)


@dataclass
class ReadStats:
    """Counts of one read (one file, or the sum of many)."""

    files: int = 0
    bytes: int = 0
    records: int = 0          # records seen (data rows, BER records, packets of interest)
    accepted: int = 0         # records that became events
    duplicates: int = 0       # exact duplicate events dropped (counted by aggregation)
    skipped: int = 0          # records deliberately ignored (other record types, non-signaling packets)
    skipped_bytes: int = 0    # bytes passed over to find the next record after damage
    rejected: collections.Counter = field(default_factory=collections.Counter)  # reason -> count

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def add(self, other: "ReadStats") -> "ReadStats":
        self.files += other.files
        self.bytes += other.bytes
        self.records += other.records
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.skipped += other.skipped
        self.skipped_bytes += other.skipped_bytes
        self.rejected.update(other.rejected)
        return self

    def as_dict(self) -> dict:
        return {
            "files": self.files, "bytes": self.bytes, "records": self.records,
            "accepted": self.accepted, "rejected": self.rejected_total,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "duplicates": self.duplicates, "skipped": self.skipped,
            "skipped_bytes": self.skipped_bytes,
        }

    def summary(self) -> str:
        s = (f"{self.files} file(s), {self.records:,} records read, {self.accepted:,} accepted, "
             f"{self.rejected_total:,} rejected, {self.duplicates:,} duplicates dropped")
        if self.skipped:
            s += f", {self.skipped:,} skipped"
        if self.skipped_bytes:
            s += f", {self.skipped_bytes:,} damaged bytes passed over"
        if self.rejected:
            s += " (" + ", ".join(f"{r}: {n:,}" for r, n in self.rejected.most_common()) + ")"
        return s
