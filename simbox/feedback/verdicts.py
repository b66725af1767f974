"""Analysts' verdicts on flags: read and checked.

A verdicts file has one row per SIM or deployment::

    imsi,deployment_id,verdict,date,case_id,note,label
    460001601171868,,confirmed,2026-03-04,CASE-7,box at the market,simbox
    ,D0003,dismissed,2026-03-04,CASE-8,hotel switchboard,
    460001601171869,,seized,2026-03-06,RAID-2,,

- the SIM: ``imsi`` (or ``subscriber`` / ``msisdn`` for data keyed otherwise), or a
  ``deployment_id`` of a recorded scan (all its SIMs; the latest scan holding that id,
  or the scan named in an optional ``scan`` column);
- ``verdict``: ``confirmed`` (it is fraud), ``dismissed`` (it is not; the SIM is not
  alerted again unless its score rises by a margin), ``seized`` (found in a raid);
- ``date`` (ISO), ``case_id`` (required), ``note`` and ``label`` (``simbox`` or
  ``cardfarm``; default: the class the SIM was flagged with) optional.

:func:`read_verdicts` returns the checked rows; :meth:`HistoryStore.import_verdicts
<simbox.feedback.history.HistoryStore.import_verdicts>` keeps them.
"""
from __future__ import annotations

from dataclasses import dataclass

from simbox.fastpath.smallfile import check_digits
from simbox.feedback.tables import parse_date, read_table

__all__ = ["VERDICTS", "Verdict", "read_verdicts"]

VERDICTS = ("confirmed", "dismissed", "seized")
KEY_COLUMNS = ("imsi", "subscriber", "msisdn")
LABELS = ("simbox", "cardfarm")


@dataclass(frozen=True)
class Verdict:
    line: int
    key_column: str        # imsi, subscriber, msisdn or deployment_id
    value: str
    verdict: str
    day: str               # ISO date
    case_id: str
    note: str = ""
    label: str = ""
    scan: int | None = None


def read_verdicts(path, *, profile=None) -> tuple[str, list]:
    """``(file name, [Verdict, ...])``; one :class:`~simbox.errors.ParseError` names the
    first bad row (and counts all) when any row is bad: nothing is imported then."""
    rows = read_table(path, ("verdict", "date", "case_id"), what="verdicts", profile=profile,
                      optional=("imsi", "deployment_id", "note", "label", "scan"))
    keys = [c for c in KEY_COLUMNS if rows.has(c)]
    errors = rows.errors
    if len(keys) > 1:
        errors.add(1, None, f"more than one key column ({', '.join(keys)}); give one")
        errors.raise_if_any()
    if not keys and not rows.has("deployment_id"):
        errors.add(1, None, "no column naming the SIM: give imsi (or subscriber, msisdn) "
                            "or deployment_id")
        errors.raise_if_any()
    key = keys[0] if keys else None
    out = []
    for line, get in rows:
        n = len(errors.items)
        sim = get(key) if key else ""
        dep = get("deployment_id")
        if bool(sim) == bool(dep):
            errors.add(line, key or "deployment_id",
                       f"give one of {key or 'imsi'} or deployment_id"
                       + (", not both" if sim else ""))
        elif sim and key == "imsi" and (why := check_digits(sim, 15, 15)):
            errors.add(line, key, why)
        elif sim and key == "msisdn" and (why := check_digits(sim)):
            errors.add(line, key, why)
        verdict = get("verdict").lower()
        if verdict not in VERDICTS:
            errors.add(line, "verdict", f"{get('verdict')!r} is not one of {', '.join(VERDICTS)}")
        day = ""
        try:
            day = parse_date(get("date")).isoformat()
        except ValueError:
            errors.add(line, "date", f"{get('date')!r} is not an ISO date (YYYY-MM-DD)")
        if not get("case_id"):
            errors.add(line, "case_id", "empty case_id (the case the verdict belongs to)")
        label = get("label").lower()
        if label and label not in LABELS:
            errors.add(line, "label", f"{get('label')!r} is not one of {', '.join(LABELS)}")
        scan = None
        if get("scan"):
            if not get("scan").isdigit():
                errors.add(line, "scan", f"{get('scan')!r} is not a scan number")
            else:
                scan = int(get("scan"))
        if len(errors.items) > n:
            continue
        out.append(Verdict(line, key if sim else "deployment_id", sim or dep, verdict, day,
                           get("case_id"), get("note"), label, scan))
    errors.raise_if_any()
    return rows.name, out
