"""Rebuild expected_features.csv with the pandas reference (tests/features/features_reference.py):

    python tests/data/features/make_expected.py

The events come from the CSV reader; the features from the slow reference, not the kernels.
"""
import pathlib
import sys
import warnings

import pandas as pd

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1] / "features"))
from features_reference import reference_features  # noqa: E402

from simbox.fastpath import CellDict, ReadStats  # noqa: E402
from simbox.fastpath.readers import open_events  # noqa: E402


def main():
    cells = CellDict()
    batches = list(open_events([HERE / "day1.csv", HERE / "day2.csv"], cells=cells, stats=ReadStats()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        feats, dups = reference_features(batches, cells.tokens, cells=pd.read_csv(HERE / "cells.csv", dtype=str),
                                         tac=pd.read_csv(HERE / "tac.csv", dtype=str),
                                         timezone="Asia/Shanghai")
    feats.to_csv(HERE / "expected_features.csv", float_format="%.12g")
    print(f"{len(feats)} IMSIs, {dups} duplicate(s) dropped -> expected_features.csv")


if __name__ == "__main__":
    main()
