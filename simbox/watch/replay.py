"""Replays for tests and benchmarks: canonical CDR CSV cut into drop files by event time."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd


def split_by_time(csv_path, out_dir, *, seconds: int = 900, prefix: str = "drop") -> list:
    """Write the rows of a canonical CDR CSV (plain or gzip) into one file per ``seconds``
    of event time (``<prefix>-<YYYYmmddTHHMM>.csv``, each with the header, rows in file
    order), as a mediation system drops them; returns the paths in time order.

    Streams the file (one line at a time): memory holds the open files, not the rows.
    """
    if 86400 % seconds:
        raise ValueError("seconds must divide a day")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if str(csv_path).endswith(".gz") else open
    files, names = {}, {}
    with opener(csv_path, "rt", encoding="utf-8", newline="") as f:
        header = f.readline()
        col = header.rstrip("\r\n").split(",").index("start_time")
        for line in f:
            t = line.split(",", col + 1)[col]            # 2026-03-01T12:00:05Z
            key = (t[:10], (int(t[11:13]) * 3600 + int(t[14:16]) * 60 + int(t[17:19])) // seconds)
            fh = files.get(key)
            if fh is None:
                s = key[1] * seconds
                name = f"{prefix}-{key[0].replace('-', '')}T{s // 3600:02d}{s % 3600 // 60:02d}.csv"
                fh = files[key] = open(out / f".{name}.tmp", "w", encoding="utf-8", newline="")
                names[key] = name
                fh.write(header)
            fh.write(line)
    paths = []
    for key in sorted(files):
        files[key].close()
        os.replace(out / f".{names[key]}.tmp", out / names[key])
        paths.append(out / names[key])
    return paths


def epoch_of(name: str) -> int:
    """The start (epoch seconds) of a drop file named by :func:`split_by_time`."""
    stamp = name.rsplit("-", 1)[1].split(".")[0]
    return int(pd.Timestamp(stamp, tz="UTC").timestamp())
