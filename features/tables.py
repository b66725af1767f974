"""Reference tables a feature run joins: ``cells.csv`` (cell -> site, coordinates) and
the TAC table (``tac,device_type``, GSMA style)."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from simbox.errors import InputError
from simbox.fastpath.aggregate import CellTable

CELL_COLUMNS = ("cell_id", "site_id", "lat", "lon")
TAC_COLUMNS = ("tac", "device_type")
# device types (GSMA TAC database wording, lower case) that are handsets
PHONE_WORDS = ("phone", "tablet", "smartphone", "handheld")


def _read(src, what: str, required, example: str) -> tuple[pd.DataFrame, str]:
    if isinstance(src, pd.DataFrame):
        df, name = src.copy(), f"the {what} DataFrame"
    else:
        name = os.fspath(src)
        if not os.path.exists(name):
            raise InputError(f"{name}: {what} file not found")
        try:
            df = pd.read_csv(name, dtype=str, keep_default_na=False, encoding="utf-8")
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"{name}: not a readable {what} CSV ({exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{name}: {what} lacks column(s) {', '.join(missing)} "
                         f"(header must include {','.join(required)}; e.g. {example})")
    return df, name


def load_cells(src) -> pd.DataFrame:
    """``cells.csv`` (path or DataFrame) checked: cell_id unique, lat/lon numeric in range.

    Returns a DataFrame indexed by ``cell_id`` (str) with ``site_id`` (str), ``lat``,
    ``lon`` (float) and any extra columns.
    """
    df, name = _read(src, "cells", CELL_COLUMNS, "46000-1234-56789,S0042,31.23,121.47,120")
    df["cell_id"] = df["cell_id"].astype(str).str.strip()
    df["site_id"] = df["site_id"].astype(str).str.strip()
    for col, lo, hi in (("lat", -90, 90), ("lon", -180, 180)):
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = vals.isna() | (vals < lo) | (vals > hi)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{name}:{i + 2}: field {col!r}: {df[col].iloc[i]!r} is not a "
                             f"{'latitude' if col == 'lat' else 'longitude'} in [{lo}, {hi}]")
        df[col] = vals.astype(float)
    dup = df["cell_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"{name}:{i + 2}: field 'cell_id': {df['cell_id'].iloc[i]!r} is listed twice")
    return df.set_index("cell_id")


def load_tac(src) -> pd.Series:
    """TAC table (path or DataFrame) -> Series device_type indexed by 8-digit TAC (str)."""
    df, name = _read(src, "TAC", TAC_COLUMNS, "35693803,Smartphone")
    tac = df["tac"].astype(str).str.strip()
    bad = ~tac.str.fullmatch(r"[0-9]{8}")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{name}:{i + 2}: field 'tac': {tac.iloc[i]!r} is not 8 digits")
    s = pd.Series(df["device_type"].astype(str).str.strip().to_numpy(), index=tac.to_numpy())
    return s[~s.index.duplicated(keep="first")]


def is_phone(device_type: str) -> bool:
    t = device_type.lower()
    return any(w in t for w in PHONE_WORDS)


def cell_table(tokens: list[str], cells: pd.DataFrame | None) -> tuple[CellTable, np.ndarray, str]:
    """Kernel cell table for the run's cell tokens.

    Returns (table, site names indexed by site code, a warning about the cells
    missing from cells.csv or "").  Without cells.csv every cell is its own site,
    unlocated; a cell missing from cells.csv is its own site too.
    """
    n = len(tokens)
    tok = pd.Index(tokens, dtype=object)
    if cells is None:
        return CellTable.unlocated(tokens), np.array(tokens, dtype=object), ""
    pos = cells.index.get_indexer(tok)
    known = pos >= 0
    site_name = np.where(known, cells["site_id"].to_numpy(dtype=object)[np.where(known, pos, 0)],
                         np.array(tokens, dtype=object)) if n else np.empty(0, object)
    codes, uniq = pd.factorize(pd.Series(site_name, dtype=object), sort=False)
    lat = np.where(known, cells["lat"].to_numpy()[np.where(known, pos, 0)], np.nan) if n else np.empty(0)
    lon = np.where(known, cells["lon"].to_numpy()[np.where(known, pos, 0)], np.nan) if n else np.empty(0)
    missing = int((~known).sum())
    msg = ""
    if missing:
        sample = ", ".join(list(np.array(tokens, dtype=object)[~known][:3]))
        msg = (f"{missing} cell(s) of the input are not in cells.csv (e.g. {sample}): each is "
               "counted as its own site, without coordinates")
    uniq = np.asarray(uniq, dtype=object)
    return CellTable.build(codes, lat, lon, tokens, uniq), uniq, msg
