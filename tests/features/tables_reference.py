"""The pandas readers of cells.csv and the TAC table that features/tables.py replaced
(pd.read_csv, pd.to_numeric): the reference its csv-module readers are compared with."""
import os

import numpy as np
import pandas as pd

from simbox.errors import InputError

CELL_COLUMNS = ("cell_id", "site_id", "lat", "lon")
TAC_COLUMNS = ("tac", "device_type")


def _read(src, what, required, example):
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
    df, name = _read(src, "TAC", TAC_COLUMNS, "35693803,Smartphone")
    tac = df["tac"].astype(str).str.strip()
    bad = ~tac.str.fullmatch(r"[0-9]{8}")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{name}:{i + 2}: field 'tac': {tac.iloc[i]!r} is not 8 digits")
    s = pd.Series(df["device_type"].astype(str).str.strip().to_numpy(), index=tac.to_numpy())
    return s[~s.index.duplicated(keep="first")]
