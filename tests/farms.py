"""A card farm added to the sample network (tests of the device rule, both engines)."""
import gzip

import pandas as pd

from simbox.data import sample_dir


def small_farm(path, imei: str, sims: int):
    """The sample network's CDRs plus a farm: ``sims`` IMSIs, 3 SMS each, through ``imei``
    at one cell of the sample's cells."""
    src = sample_dir()
    with gzip.open(src / "cdrs.csv.gz", "rt") as f:
        text = f.read()
    cell = pd.read_csv(src / "cells.csv", dtype=str)["cell_id"].iloc[0]
    t0 = pd.Timestamp(text.splitlines()[1].split(",")[1])
    rows = []
    for i in range(sims):
        for k in range(3):
            t = (t0 + pd.Timedelta(seconds=600 * i + 7 * k)).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows.append(f"SMS_MO,{t},4609900{i:08d},{imei},8619900{i:06d},861380000{k:04d},0,{cell}\n")
    path.write_text(text + "".join(rows))
    return src
