"""Fixtures of the watch tests: a small network cut from the shipped sample."""
import pathlib

import numpy as np
import pandas as pd
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def sample_rows():
    """Canonical CDR rows (strings) of about 300 subscribers of the sample (3 days), the
    SIM boxes and card farms among them kept."""
    df = pd.read_csv(SAMPLE / "cdrs.csv.gz", dtype=str, keep_default_na=False)
    truth = pd.read_csv(SAMPLE / "truth.csv", dtype=str)
    fraud = set(truth.loc[truth["class"] != "legit", "imsi"])
    imsis = sorted(df["imsi"].unique())
    rng = np.random.default_rng(7)
    keep = set(rng.choice(imsis, 260, replace=False)) | set(sorted(fraud)[:40])
    return df[df["imsi"].isin(keep)].reset_index(drop=True)


@pytest.fixture(scope="session")
def cells_csv():
    return SAMPLE / "cells.csv"


@pytest.fixture(scope="session")
def model():
    from simbox.scan import load_model
    return load_model(None)[0]
