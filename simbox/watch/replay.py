"""Replays for tests and benchmarks: canonical CDR CSV cut into drop files by event time."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def split_by_time(csv_path, out_dir, *, seconds: int = 900, prefix: str = "drop") -> list:
    """Write the rows of a canonical CDR CSV (plain or gzip) into one file per
    ``seconds`` of event time (``<prefix>-<YYYYmmddTHHMM>.csv``, rows in file order),
    as a mediation system drops them; returns the paths in time order."""
    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    t = pd.to_datetime(df["start_time"], utc=True)
    epoch = (t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    slot = (epoch // seconds) * seconds
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for s, part in df.groupby(slot.to_numpy(), sort=True):
        name = pd.Timestamp(int(s), unit="s").strftime(f"{prefix}-%Y%m%dT%H%M.csv")
        tmp = out / f".{name}.tmp"
        part.to_csv(tmp, index=False)
        os.replace(tmp, out / name)
        paths.append(out / name)
    return paths
