"""Small CSV tables people write (exclusions, verdicts, test-call results): read and checked.

One reader for the three: UTF-8 (a byte-order mark allowed), a header line, one row
per line; a column profile (a JSON file ``{"columns": {"canonical": "theirs"}, "values":
{"column": {"theirs": "canonical"}}}``) renames a vendor's columns and values.  Bad rows
are all checked; the first is named in one :class:`~simbox.errors.ParseError`
(``file:line: field 'x': reason``) with the count of all problems, and nothing is used.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from dataclasses import dataclass, field

from simbox.errors import ConfigError, EmptyInputError, ParseError
from simbox.fastpath.smallfile import read_small_text

MAX_REPORTED_ERRORS = 5


@dataclass
class Profile:
    """How a vendor's file names the canonical columns and values."""

    columns: dict = field(default_factory=dict)     # canonical -> the file's header name
    values: dict = field(default_factory=dict)      # canonical column -> {theirs: canonical}

    @classmethod
    def load(cls, spec) -> "Profile":
        """``spec``: None (canonical), a dict, or a JSON file."""
        if spec is None or isinstance(spec, Profile):
            return spec or cls()
        if isinstance(spec, dict):
            d, name = spec, "<profile>"
        else:
            name = os.fspath(spec)
            try:
                with open(spec, encoding="utf-8") as f:
                    d = json.load(f)
            except FileNotFoundError:
                raise ConfigError(f"{name}: no such column profile") from None
            except (ValueError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{name}: not a JSON column profile ({exc})") from None
        if not isinstance(d, dict) or set(d) - {"columns", "values", "name", "description"}:
            raise ConfigError(f"{name}: a column profile has the keys columns and values "
                              "(and name, description)")
        cols, vals = d.get("columns", {}), d.get("values", {})
        if not isinstance(cols, dict) or not isinstance(vals, dict) or \
                not all(isinstance(v, dict) for v in vals.values()):
            raise ConfigError(f"{name}: columns must map canonical names to the file's, values "
                              "each column to a mapping of the file's words to canonical ones")
        return cls({k: str(v).strip().lower() for k, v in cols.items()},
                   {k: {str(a).strip().lower(): str(b) for a, b in v.items()}
                    for k, v in vals.items()})


class Rows:
    """The rows of a table: ``for line, get in rows`` yields the 1-based line number and a
    function ``get(column) -> str`` (stripped; ``""`` for an absent optional column)."""

    def __init__(self, name, header, records, profile):
        self.name, self.header, self.records, self.profile = name, header, records, profile

    def __iter__(self):
        index = {h: i for i, h in enumerate(self.header)}
        cols, values = self.profile.columns, self.profile.values
        for lineno, rec in self.records:
            def get(c, rec=rec):
                i = index.get(cols.get(c, c))
                v = rec[i].strip() if i is not None else ""
                return values.get(c, {}).get(v.lower(), v)
            yield lineno, get

    def has(self, column) -> bool:
        return self.profile.columns.get(column, column) in self.header


def read_table(path, required, *, what: str, optional=(), profile=None) -> Rows:
    """The rows of a CSV table at ``path`` (or a file object) whose header holds the
    ``required`` columns (after ``profile``).  Blank lines are skipped; rows with the wrong
    number of fields are left out and noted in ``rows.errors`` (a :class:`RowErrors` the
    caller adds its own checks to, then raises)."""
    profile = Profile.load(profile)
    name, text = read_small_text(path, what)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise EmptyInputError(f"{name}: empty {what} file; expected a header "
                              f"'{','.join(required)}'")
    header = [h.strip().lower() for h in header]
    missing = [c for c in required if profile.columns.get(c, c) not in header]
    if missing:
        raise ParseError(f"missing column(s) {', '.join(missing)}", path=name, line=1,
                         detail=f"header is {','.join(header)}; expected "
                                f"{','.join(list(required) + list(optional))}")
    errors = RowErrors(name)
    records = []
    for lineno, rec in enumerate(reader, start=2):
        if not rec or all(not f.strip() for f in rec):
            continue
        if len(rec) != len(header):
            errors.add(lineno, None, f"expected {len(header)} fields, saw {len(rec)}")
            continue
        records.append((lineno, rec))
    rows = Rows(name, header, records, profile)
    rows.errors = errors
    return rows


class RowErrors:
    """Problems found in a table's rows: :meth:`raise_if_any` raises one ParseError naming
    the first (file:line: field) with the count of all and the next few."""

    def __init__(self, name):
        self.name = name
        self.items = []

    def add(self, line, fld, why):
        self.items.append((line, fld, why))

    def __bool__(self):
        return bool(self.items)

    def raise_if_any(self):
        if not self.items:
            return
        items = sorted(self.items, key=lambda e: e[0])
        line, fld, why = items[0]
        detail = None
        if len(items) > 1:
            others = [f"{self.name}:{ln}: " + (f"field {f!r}: " if f else "") + w
                      for ln, f, w in items[1:MAX_REPORTED_ERRORS]]
            detail = f"{len(items)} problems in all; also " + "; ".join(others)
            if len(items) > MAX_REPORTED_ERRORS:
                detail += "; ..."
        raise ParseError(why, path=self.name, line=line, field=fld, detail=detail)


def parse_date(value: str) -> dt.date:
    """An ISO date (``2026-03-01``; a time after it is ignored).  ValueError otherwise."""
    return dt.date.fromisoformat(value[:10]) if len(value) >= 10 and value[10:11] in ("", "T", " ") \
        else dt.date.fromisoformat(value)


def parse_time(value: str) -> int:
    """Epoch seconds of an ISO-8601 time (``2026-03-01T12:00:05Z``; no zone: UTC)."""
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp())


def iso(epoch) -> str:
    """ISO-8601 UTC text of epoch seconds (``""`` for None)."""
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
