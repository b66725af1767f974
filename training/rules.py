"""The rules baseline: the handful of thresholds the SIM-box literature uses.

A SIM is flagged when at least ``min_hits`` of these conditions hold:

- ``many_callees``: ``moc_callees >= callees`` (a box calls many distinct numbers);
- ``no_incoming``: ``mt_mo_ratio <= incoming`` (nobody calls a box SIM back);
- ``one_cell``: ``n_cells <= cells`` (a box does not move);
- ``shared_device``: ``imei_max_imsis >= imsis_per_imei`` (many SIMs in one device).

The thresholds are chosen from small literature grids (:data:`GRID`) on the
training folds only, as the configuration of highest recall that reaches the
target precision, and applied to the test fold: the baseline is fitted and
evaluated on exactly the folds of the model, so the two are comparable.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

FEATURES = ("moc_callees", "mt_mo_ratio", "n_cells", "imei_max_imsis", "n_moc", "n_sms_mo")

GRID = {
    "callees": (20, 50, 100, 200),
    "incoming": (0.0, 0.02, 0.05, 0.1),
    "cells": (1, 2),
    "imsis_per_imei": (2, 4, 8),
    "min_hits": (1, 2, 3, 4),
}


def conditions(X: pd.DataFrame, params: dict) -> np.ndarray:
    """(n, 4) boolean array of the four conditions; NaN never satisfies a condition."""
    def col(name):
        return X[name].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return np.stack([
            col("moc_callees") >= params["callees"],
            col("mt_mo_ratio") <= params["incoming"],
            col("n_cells") <= params["cells"],
            col("imei_max_imsis") >= params["imsis_per_imei"],
        ], axis=1)


class RulesBaseline:
    """Literature rules with thresholds picked on training data for a target precision."""

    def __init__(self, *, target_precision=0.995, grid=None):
        self.target_precision = target_precision
        self.grid = grid

    def fit(self, X: pd.DataFrame, y_fraud, sample_weight=None):
        grid = self.grid or GRID
        y = np.asarray(y_fraud, dtype=bool)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        best, best_key = None, None
        keys = [k for k in grid if k != "min_hits"]
        for values in itertools.product(*(grid[k] for k in keys)):
            params = dict(zip(keys, values))
            hits = conditions(X, params).sum(axis=1)
            for k in grid["min_hits"]:
                f = hits >= k
                tp, fp = (w * (y & f)).sum(), (w * (~y & f)).sum()
                prec = tp / (tp + fp) if tp + fp > 0 else 0.0
                rec = (y & f).sum() / max(y.sum(), 1)
                # reach the target first, then recall; below target, precision first
                key = (prec >= self.target_precision, rec if prec >= self.target_precision
                       else prec, rec)
                if best_key is None or key > best_key:
                    best_key, best = key, dict(params, min_hits=k)
        self.params_ = best
        self.train_precision_reached_ = bool(best_key[0])
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Share of conditions that hold (0, 0.25, ... 1): the baseline's ranking score."""
        return conditions(X, self.params_).sum(axis=1) / 4.0

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return conditions(X, self.params_).sum(axis=1) >= self.params_["min_hits"]

    def predict_class(self, X: pd.DataFrame) -> np.ndarray:
        """Card farm when a SIM sends more SMS than it makes calls, else SIM box."""
        sms = X["n_sms_mo"].to_numpy(dtype=float)
        moc = X["n_moc"].to_numpy(dtype=float)
        return np.where(np.nan_to_num(sms) > np.nan_to_num(moc), "cardfarm", "simbox")


def rules_out_of_fold(X: pd.DataFrame, y_fraud, splits, *, sample_weight=None,
                      target_precision=0.995):
    """Fit the rules on each training fold, flag the test fold.

    Returns ``(flagged, score, pred_class, params_per_fold)``.
    """
    y = np.asarray(y_fraud, dtype=bool)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    flagged = np.zeros(len(y), dtype=bool)
    score = np.zeros(len(y))
    params = []
    for train, test in splits:
        r = RulesBaseline(target_precision=target_precision).fit(X.iloc[train], y[train], w[train])
        flagged[test] = r.predict(X.iloc[test])
        score[test] = r.score(X.iloc[test])
        params.append(r.params_)
    return flagged, score, RulesBaseline().predict_class(X), params
