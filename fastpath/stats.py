"""What every reader counts (the rejects file and policy: ``simbox.fastpath.badrecords``).

A reader never drops a record silently: each one is either accepted or rejected
with a reason, and rejected records go to the rejects file with their file, line
or byte offset, field and reason.  :class:`ReadStats` is summed over files and
readers and printed by every command.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

from simbox.errors import ConfigError, TooManyRejectsError
from simbox.fastpath.badrecords import (  # noqa: F401  (re-exported)
    BAD_RECORD_POLICIES, REJECTS_COLUMNS, RejectsWriter, check_policy,
)

#: a file (or a run) rejecting more than this share of its records fails (None: never)
MAX_REJECT_SHARE = 0.5
#: what to do about the commonest reasons, for the message of a failed share check
FIXES = {
    "imsi is not 15 digits": "if the export has no IMSI, set subscriber_key in the profile "
                             "(msisdn, token or imsi_or_msisdn)",
    "imei is not 14-16 digits": "if the device identifiers are anonymised tokens, set "
                                "imei_tokens: true in the profile",
    "unparsable time": "check time_format (and the time column) of the profile",
    "unknown record type": "list the file's record-type codes in record_types of the profile",
    "wrong field count": "check the separator and quote of the profile",
    "not UTF-8": "convert the file to UTF-8",
    "no subscriber key": "check the subscriber_key columns of the profile",
}


def check_share(limit) -> float | None:
    """``limit`` checked: None, or a share in [0, 1]."""
    if limit is None:
        return None
    try:
        v = float(limit)
    except (TypeError, ValueError):
        v = -1.0
    if not 0.0 <= v <= 1.0:
        raise ConfigError(f"max_reject_share must be a share between 0 and 1 (or None), "
                          f"not {limit!r}")
    return v


def reject_share_error(name: str, records: int, rejected, limit: float | None):
    """A :class:`TooManyRejectsError` when more than ``limit`` of ``records`` were rejected
    (``rejected``: reason -> count), else None."""
    total = sum(rejected.values())
    if limit is None or records <= 0 or total <= limit * records:
        return None
    top = collections.Counter(rejected).most_common()
    reason, n = top[0]
    fix = FIXES.get(reason, "check the column profile (simbox columns check FILE --columns "
                            "PROFILE)")
    more = "".join(f"; {r} in {c:,}" for r, c in top[1:3])
    return TooManyRejectsError(
        f"{name}: {total:,} of {records:,} records rejected (more than the "
        f"--max-reject-share {limit:g}), no output written: {reason} in {n:,} of {records:,} "
        f"records: {fix}{more}")


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
    filtered: int = 0         # accepted events outside the --from/--to window, dropped
    pruned_files: int = 0     # hive partition files outside the --from/--to window, unread
    rejected: collections.Counter = field(default_factory=collections.Counter)  # reason -> count

    def snapshot(self) -> tuple:
        """(records, rejected by reason) now, for the counts of one file (:meth:`since`)."""
        return self.records, collections.Counter(self.rejected)

    def since(self, snap) -> tuple:
        """(records, rejected by reason) added since ``snap``."""
        return self.records - snap[0], self.rejected - snap[1]

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
        self.filtered += other.filtered
        self.pruned_files += other.pruned_files
        self.rejected.update(other.rejected)
        return self

    def as_dict(self) -> dict:
        return {
            "files": self.files, "bytes": self.bytes, "records": self.records,
            "accepted": self.accepted, "rejected": self.rejected_total,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "duplicates": self.duplicates, "skipped": self.skipped,
            "skipped_bytes": self.skipped_bytes,
            "filtered": self.filtered, "pruned_files": self.pruned_files,
        }

    def summary(self) -> str:
        s = (f"{self.files} file(s), {self.records:,} records read, {self.accepted:,} accepted, "
             f"{self.rejected_total:,} rejected, {self.duplicates:,} duplicates dropped")
        if self.skipped:
            s += f", {self.skipped:,} skipped"
        if self.skipped_bytes:
            s += f", {self.skipped_bytes:,} damaged bytes passed over"
        if self.filtered:
            s += f", {self.filtered:,} outside --from/--to"
        if self.pruned_files:
            s += f", {self.pruned_files:,} partition file(s) outside --from/--to unread"
        if self.rejected:
            s += " (" + ", ".join(f"{r}: {n:,}" for r, n in self.rejected.most_common()) + ")"
        return s
