"""Reference tables a feature run joins: ``cells.csv`` (cell -> site, coordinates) and
the TAC table (``tac,device_type``, GSMA style).

Read with the ``csv`` module and numpy, as ``pandas.read_csv`` reads them (blank and
repeated column names, short rows, blank lines): ``simbox features`` never imports
pandas (see :mod:`simbox.features.frames`).  pyarrow's CSV reader refuses short rows
and lines of spaces.  DataFrames from library callers are accepted too;
:meth:`Cells.to_frame` gives the checked cell table as a DataFrame.
"""
from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from simbox.errors import InputError
from simbox.fastpath.aggregate import CellTable
from simbox.fastpath.events import normalise_cell_id
from simbox.features.frames import is_frame, is_series

CELL_COLUMNS = ("cell_id", "site_id", "lat", "lon")
TAC_COLUMNS = ("tac", "device_type")
# device types (GSMA TAC database wording, lower case) that are handsets
PHONE_WORDS = ("phone", "tablet", "smartphone", "handheld")
TAC_RE = re.compile(r"[0-9]{8}")


@dataclass
class _Rows:
    """A reference table as object columns: from a CSV file (strings as written) or a
    DataFrame (its values)."""

    name: str                   # file name or "the <what> DataFrame", for messages
    columns: list               # column names, stripped
    data: dict                  # column name -> object ndarray
    frame: object = None        # the DataFrame given, if any
    lines: list | None = None   # the file line of each row (None: row i is line i + 2)

    def __len__(self):
        return len(self.data[self.columns[0]]) if self.columns else 0

    def line(self, i: int) -> int:
        """The line of the file row i stands on (of a DataFrame: i + 2, as if written out)."""
        return self.lines[i] if self.lines is not None else i + 2

    def value(self, col: str, i: int):
        """The value as given (for messages)."""
        if self.frame is not None:
            return self.frame.iloc[i, self.columns.index(col)]
        return self.data[col][i]

    def strings(self, col: str) -> np.ndarray:
        """``str(value).strip()`` of every value of a column (object array)."""
        return np.array([str(v).strip() for v in self.data[col]], dtype=object)


def _header(names) -> list:
    """Column names as pandas.read_csv gives them: stripped here, blank names
    ``Unnamed: i``, repeated names ``name.1``, ``name.2``..."""
    out, seen = [], set()
    for i, c in enumerate(names):
        c = c if c != "" else f"Unnamed: {i}"
        base, k = c, 0
        while c in seen:
            k += 1
            c = f"{base}.{k}"
        seen.add(c)
        out.append(c)
    return [c.strip() for c in out]


def _read_csv(name: str, what: str) -> _Rows:
    rows, lines = [], []
    try:
        with open(name, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            start = 1
            for r in reader:                     # blank lines are skipped
                if r and not (len(r) == 1 and not r[0].strip()):
                    rows.append(r)
                    lines.append(start)
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not a readable {what} CSV ({exc})") from None
    except csv.Error as exc:
        raise InputError(f"{name}: not a readable {what} CSV ({exc})") from None
    if not rows:
        raise InputError(f"{name}: empty {what} file (no header line)")
    header = rows[0]
    k = len(header)
    for line, r in zip(lines[1:], rows[1:]):
        if len(r) > k:
            raise InputError(f"{name}:{line}: {len(r)} fields where the header has {k} (a value "
                             "holding the separator must be quoted)")
    cols = [np.array([r[j] if j < len(r) else "" for r in rows[1:]], dtype=object) for j in range(k)]
    columns = _header(header)
    return _Rows(name, columns, dict(zip(columns, cols)), lines=lines[1:])


def _read(src, what: str, required, example: str) -> _Rows:
    if is_frame(src):
        columns = [str(c).strip() for c in src.columns]
        data = {c: src.iloc[:, j].to_numpy(dtype=object) for j, c in enumerate(columns)}
        rows = _Rows(f"the {what} DataFrame", columns, data, frame=src)
    else:
        name = os.fspath(src)
        if not os.path.exists(name):
            raise InputError(f"{name}: {what} file not found")
        rows = _read_csv(name, what)
    missing = [c for c in required if c not in rows.columns]
    if missing:
        raise InputError(f"{rows.name}: {what} lacks column(s) {', '.join(missing)} "
                         f"(header must include {','.join(required)}; e.g. {example})")
    return rows


def _number(v) -> float:
    """The value as a float, NaN when it is not a number (as ``pd.to_numeric(errors="coerce")``)."""
    if isinstance(v, str):
        s = v.strip()
        if not s.isascii() or "_" in s:
            return math.nan
        try:
            return float(s)
        except ValueError:
            return math.nan
    if isinstance(v, (bool, int, float, np.number)):
        return float(v)
    return math.nan


@dataclass
class Cells:
    """The checked cell table: ``cell_id`` (unique, str), ``site_id`` (str), ``lat``,
    ``lon`` (float64) per row, in file order, and the other columns as given."""

    cell_id: np.ndarray         # object (str)
    site_id: np.ndarray         # object (str)
    lat: np.ndarray             # float64
    lon: np.ndarray             # float64
    rows: _Rows = field(repr=False)

    def __len__(self):
        return len(self.cell_id)

    def to_frame(self):
        """A DataFrame indexed by ``cell_id`` with ``site_id``, ``lat``, ``lon`` and the
        other columns (from a file: strings; from a DataFrame: as given)."""
        import pandas as pd  # lazy: simbox features never imports pandas
        rows = self.rows
        if rows.frame is not None:
            df = rows.frame.copy()
            df.columns = rows.columns
        else:
            df = pd.DataFrame(rows.data, columns=rows.columns, dtype=str)
        df["cell_id"] = pd.Series(self.cell_id, index=df.index, dtype=str)
        df["site_id"] = pd.Series(self.site_id, index=df.index, dtype=str)
        df["lat"] = self.lat
        df["lon"] = self.lon
        return df.set_index("cell_id")


def load_cells(src) -> Cells:
    """``cells.csv`` (path or DataFrame) checked: cell_id unique, lat/lon numeric in range.

    Returns a :class:`Cells` (``.to_frame()``: a DataFrame indexed by ``cell_id``).
    """
    if isinstance(src, Cells):
        return src
    rows = _read(src, "cells", CELL_COLUMNS, "46000-1234-56789,S0042,31.23,121.47,120")
    cell_id, site_id = rows.strings("cell_id"), rows.strings("site_id")
    # 7585772.0 (a spreadsheet's) is 7585772, as in the CDRs
    cell_id = np.array([normalise_cell_id(c) for c in cell_id], dtype=object)
    coords = {}
    for col, lo, hi in (("lat", -90, 90), ("lon", -180, 180)):
        vals = np.array([_number(v) for v in rows.data[col]], dtype=float)
        with np.errstate(invalid="ignore"):
            bad = np.isnan(vals) | (vals < lo) | (vals > hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{rows.name}:{rows.line(i)}: field {col!r}: {rows.value(col, i)!r} is not a "
                             f"{'latitude' if col == 'lat' else 'longitude'} in [{lo}, {hi}]")
        coords[col] = vals
    seen = {}
    for i, c in enumerate(cell_id):
        if seen.setdefault(c, i) != i:
            raise InputError(f"{rows.name}:{rows.line(i)}: field 'cell_id': {c!r} is listed twice")
    return Cells(cell_id, site_id, coords["lat"], coords["lon"], rows)


def load_tac(src) -> dict:
    """TAC table (path or DataFrame) -> ``{8-digit TAC: device_type}`` (first row of a
    TAC listed twice)."""
    if isinstance(src, dict):
        return src
    if is_series(src):          # an already loaded table: device_type by TAC
        pairs = zip(map(str, src.index), src.to_numpy(dtype=object))
    else:
        rows = _read(src, "TAC", TAC_COLUMNS, "35693803,Smartphone")
        tac = rows.strings("tac")
        for i, t in enumerate(tac):
            if not TAC_RE.fullmatch(t):
                raise InputError(f"{rows.name}:{rows.line(i)}: field 'tac': {t!r} is not 8 digits")
        pairs = zip(tac, rows.strings("device_type"))
    out: dict = {}
    for t, d in pairs:
        out.setdefault(t, d)
    return out


def is_phone(device_type: str) -> bool:
    t = device_type.lower()
    return any(w in t for w in PHONE_WORDS)


def cell_table(tokens: list[str], cells: Cells | None) -> tuple[CellTable, np.ndarray, str]:
    """Kernel cell table for the run's cell tokens.

    Returns (table, site names indexed by site code, a warning about the cells
    missing from cells.csv or "").  Without cells.csv every cell is its own site,
    unlocated; a cell missing from cells.csv is its own site too.
    """
    n = len(tokens)
    if cells is None:
        return CellTable.unlocated(tokens), np.array(tokens, dtype=object), ""
    index = {c: i for i, c in enumerate(cells.cell_id)}
    pos = np.array([index.get(normalise_cell_id(t), -1) for t in tokens], dtype=np.intp)
    known = pos >= 0
    pos[~known] = 0
    if not len(cells):
        cells = Cells(np.empty(1, object), np.empty(1, object), np.full(1, np.nan),
                      np.full(1, np.nan), None)     # nothing known: any row serves
    tok = np.array(tokens, dtype=object) if n else np.empty(0, object)
    site_name = np.where(known, cells.site_id[pos], tok) if n else tok
    codes, uniq = _factorize(site_name)
    lat = np.where(known, cells.lat[pos], np.nan) if n else np.empty(0)
    lon = np.where(known, cells.lon[pos], np.nan) if n else np.empty(0)
    missing = int((~known).sum())
    msg = ""
    if missing:
        sample = ", ".join(list(tok[~known][:3]))
        msg = (f"{missing} cell(s) of the input are not in cells.csv (e.g. {sample}): each is "
               "counted as its own site, without coordinates")
    return CellTable.build(codes, lat, lon, tokens, uniq), uniq, msg


def _factorize(values) -> tuple[np.ndarray, np.ndarray]:
    """(code per value, distinct values in order of first appearance)."""
    uniq, first, codes = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[codes], uniq[order]
