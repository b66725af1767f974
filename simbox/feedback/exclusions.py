"""Exclusions: SIMs a scan must never put on the shutdown list.

``exclusions.csv`` (DESIGN.md) has the columns ``kind,value,reason,owner,expires``:

======== ================================================================
kind     value
======== ================================================================
imsi     the SIM's key (15 digits; for data keyed otherwise: the key)
msisdn   the SIM's MSISDN (E.164 digits, no ``+``)
imei     a device: every SIM seen on it in the scanned data
prefix   leading digits of the MSISDN (a business customer's number block)
range    ``FROM-TO``: MSISDNs from FROM to TO inclusive (equal lengths)
======== ================================================================

``reason`` and ``owner`` are required (an exclusion nobody owns never gets reviewed);
``expires`` is an ISO date or empty (never).  An exclusion whose ``expires`` is before
the scan's day has expired: it no longer applies and the scan reports it (summary,
report), so a stale exclusion shows instead of silently protecting a SIM.  A SIM that
matches several exclusions is excluded by the first in the file.

:func:`read_exclusions` reads and checks the file (one bad row: one line naming it);
:func:`match_exclusions` gives, for a table of SIMs, the exclusion each one hits;
:func:`split_flagged` splits a flagged table into kept rows and ``excluded.csv`` rows.
``simbox scan --exclude`` uses them; ``simbox watch`` can call them the same way.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simbox.fastpath.smallfile import check_digits
from simbox.feedback.tables import RowErrors, parse_date, read_table

__all__ = ["KINDS", "COLUMNS", "EXCLUDED_COLUMNS", "Exclusion", "Exclusions", "read_exclusions",
           "match_exclusions", "split_flagged"]

KINDS = ("imsi", "msisdn", "imei", "prefix", "range")
COLUMNS = ("kind", "value", "reason", "owner", "expires")
#: what ``excluded.csv`` adds to the columns of ``flagged.csv``
EXCLUDED_COLUMNS = ["excluded_by", "exclusion_reason", "exclusion_owner", "exclusion_expires",
                    "exclusion_line"]


@dataclass(frozen=True)
class Exclusion:
    """One row of an exclusions file."""

    line: int
    kind: str
    value: str
    reason: str
    owner: str
    expires: dt.date | None

    @property
    def label(self) -> str:
        """``kind:value``, as ``excluded.csv`` names it."""
        return f"{self.kind}:{self.value}"

    def as_dict(self) -> dict:
        return {"line": self.line, "kind": self.kind, "value": self.value, "reason": self.reason,
                "owner": self.owner, "expires": self.expires.isoformat() if self.expires else ""}


@dataclass
class Exclusions:
    """The exclusions of a file on a day: ``active`` apply, ``expired`` do not."""

    source: str
    active: list
    expired: list
    today: dt.date

    def summary(self, hits: dict | None = None) -> dict:
        """For summary.json: counts, the expired ones and the active ones that hit nothing."""
        hits = hits or {}
        return {"file": self.source, "active": len(self.active), "expired": len(self.expired),
                "as_of": self.today.isoformat(),
                "expired_rows": [e.as_dict() for e in self.expired],
                "unused_rows": [e.as_dict() for e in self.active if not hits.get(e.line)],
                "hits": {str(k): int(v) for k, v in sorted(hits.items())}}


def _check_row(kind, value, get, errors, line):
    if kind not in KINDS:
        errors.add(line, "kind", f"{get('kind')!r} is not one of {', '.join(KINDS)}")
        return None
    if not value:
        errors.add(line, "value", f"empty value for kind {kind}")
        return None
    if kind in ("msisdn", "prefix") and (why := check_digits(value)):
        errors.add(line, "value", why)
    elif kind == "imei" and (why := check_digits(value, 14, 16)):
        errors.add(line, "value", why)
    elif kind == "range":
        lo, sep, hi = value.partition("-")
        lo, hi = lo.strip(), hi.strip()
        if not sep or check_digits(lo) or check_digits(hi):
            errors.add(line, "value", f"{value!r} is not a range FROM-TO of digits")
        elif len(lo) != len(hi):
            errors.add(line, "value", f"{value!r}: FROM and TO have different lengths")
        elif int(lo) > int(hi):
            errors.add(line, "value", f"{value!r}: FROM is after TO")
        else:
            return f"{lo}-{hi}"
    return value


def read_exclusions(path, *, today: dt.date | str | None = None, profile=None) -> Exclusions:
    """Read and check an exclusions file; ``today`` (default: the UTC date now) decides
    which have expired.  Raises :class:`~simbox.errors.ParseError` naming the first bad row."""
    today = _day(today)
    rows = read_table(path, COLUMNS, what="exclusions", profile=profile)
    errors: RowErrors = rows.errors
    active, expired = [], []
    for line, get in rows:
        kind, value = get("kind").lower(), get("value")
        value = _check_row(kind, value, get, errors, line)
        for c in ("reason", "owner"):
            if not get(c):
                errors.add(line, c, f"empty {c} (every exclusion says why and who owns it)")
        expires = None
        if get("expires"):
            try:
                expires = parse_date(get("expires"))
            except ValueError:
                errors.add(line, "expires", f"{get('expires')!r} is not an ISO date "
                                            "(YYYY-MM-DD) nor empty")
        if errors and errors.items[-1][0] == line:
            continue
        e = Exclusion(line, kind, value, get("reason"), get("owner"), expires)
        (expired if expires is not None and expires < today else active).append(e)
    errors.raise_if_any()
    return Exclusions(rows.name, active, expired, today)


def _day(today) -> dt.date:
    if today is None:
        return dt.datetime.now(dt.timezone.utc).date()
    if isinstance(today, str):
        return parse_date(today)
    if isinstance(today, dt.datetime):
        return today.date()
    return today


def _digits_code(values: pd.Series) -> np.ndarray:
    """MSISDN text as integers keeping the length (``"1" + digits``; -1 when not digits)."""
    s = values.fillna("").astype(str)
    ok = s.str.fullmatch(r"\d{1,18}")
    out = np.full(len(s), -1, dtype=np.int64)
    if ok.any():
        out[ok.to_numpy()] = ("1" + s[ok]).astype(np.int64).to_numpy()
    return out


def match_exclusions(sims: pd.DataFrame, exclusions: Exclusions,
                     devices: pd.DataFrame | None = None) -> pd.DataFrame:
    """The exclusion each SIM hits.

    ``sims``: indexed by the SIM key, with a ``msisdn`` column (and ``imei``: its main
    device, used when ``devices`` is not given).  ``devices``: the key-IMEI links of the
    data (columns ``imsi, imei``): an ``imei`` exclusion then covers every SIM seen on
    the device.  Returns the rows of ``sims`` that hit one, indexed like it, with the
    columns :data:`EXCLUDED_COLUMNS` (the first matching exclusion in the file).
    """
    keys = sims.index.astype(str)
    msisdn = sims["msisdn"].fillna("").astype(str) if "msisdn" in sims else \
        pd.Series("", index=sims.index)
    code = _digits_code(msisdn)
    length = msisdn.str.len().to_numpy()
    hit = np.full(len(sims), -1, dtype=np.int64)        # position in exclusions.active
    for pos, e in enumerate(exclusions.active):
        if e.kind == "imsi":
            m = keys == e.value
        elif e.kind == "msisdn":
            m = (msisdn == e.value).to_numpy()
        elif e.kind == "prefix":
            m = msisdn.str.startswith(e.value).to_numpy()
        elif e.kind == "range":
            lo, hi = e.value.split("-")
            m = (length == len(lo)) & (code >= int("1" + lo)) & (code <= int("1" + hi))
        else:       # imei
            if devices is not None:
                on = devices.loc[devices["imei"].astype(str) == e.value, "imsi"].astype(str)
                m = keys.isin(set(on))
            else:
                m = (sims["imei"].fillna("").astype(str) == e.value).to_numpy() \
                    if "imei" in sims else np.zeros(len(sims), bool)
        hit[np.asarray(m, bool) & (hit < 0)] = pos
    rows = np.flatnonzero(hit >= 0)
    picked = [exclusions.active[i] for i in hit[rows]]
    return pd.DataFrame({"excluded_by": [e.label for e in picked],
                         "exclusion_reason": [e.reason for e in picked],
                         "exclusion_owner": [e.owner for e in picked],
                         "exclusion_expires": [e.expires.isoformat() if e.expires else ""
                                               for e in picked],
                         "exclusion_line": [e.line for e in picked]},
                        index=sims.index[rows])


def hits_per_line(matched: pd.DataFrame) -> dict:
    """``{line: SIMs}`` of :func:`match_exclusions`' result."""
    if not len(matched):
        return {}
    return {int(k): int(v) for k, v in matched["exclusion_line"].value_counts().items()
            if isinstance(k, (int, np.integer))}


def split_flagged(flagged: pd.DataFrame, matched: pd.DataFrame, key: str = "imsi"):
    """``(kept, excluded)``: the rows of a flagged table (key column ``key``) that hit no
    exclusion, and those that do with the exclusion's columns (``excluded.csv``).
    ``matched``: indexed by the key, with :data:`EXCLUDED_COLUMNS` (:func:`match_exclusions`,
    or a dismissed verdict: :mod:`simbox.feedback.history`)."""
    k = flagged[key].astype(str)
    out = k.isin(matched.index.astype(str)).to_numpy()
    excluded = flagged.loc[out].join(matched, on=key) if out.any() else \
        flagged.iloc[0:0].assign(**{c: pd.Series(dtype=object) for c in EXCLUDED_COLUMNS})
    return flagged.loc[~out].reset_index(drop=True), excluded.reset_index(drop=True)
