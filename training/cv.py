"""Cross-validation grouped by case: no SIM of a raid on both sides of a split.

Groups are what must stay together: the (merged) case of a seized SIM, the
deployment of a simulated fraud SIM, and for a presumed-legit SIM its own
singleton group (or its device, when it shares one).  Folds are stratified by
class on top of that (:class:`sklearn.model_selection.StratifiedGroupKFold`).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from simbox.errors import InputError

log = logging.getLogger(__name__)


def grouped_splits(y, groups, *, n_splits=5, seed=0):
    """Stratified, grouped (train, test) index pairs.

    Raises :class:`~simbox.errors.InputError` when there are fewer groups than
    folds, or when a class lives in fewer than two groups (then no fold could both
    train on it and test it).  Warns when a class has fewer groups than folds.
    """
    y = np.asarray(y)
    groups = np.asarray(groups).astype(str)
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise InputError(f"only {n_groups} cases for {n_splits}-fold cross-validation: "
                         "lower the number of folds or add labelled cases")
    for c in np.unique(y):
        g = len(np.unique(groups[y == c]))
        if g < 2:
            raise InputError(f"all {c} SIMs come from a single case: cross-validation cannot "
                             f"test on a case it did not train on; add {c} SIMs from "
                             "another raid")
        if g < n_splits:
            log.warning("%s SIMs come from only %d cases; %d of the %d test folds have none",
                        c, g, n_splits - g, n_splits)
    return _splits_from_folds(_assign_folds(y, groups, n_splits, seed), n_splits)


def _assign_folds(y, groups, n_splits, seed):
    """Fold number of each row: groups kept whole, classes balanced across folds.

    Rows alone in their group (most presumed-legit SIMs) are spread by
    :class:`StratifiedKFold`; multi-row groups (cases, devices) by
    :class:`StratifiedGroupKFold`, whose greedy balancing is slow on tens of
    thousands of singletons and gains nothing there.
    """
    fold = np.full(len(y), -1)
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    single = counts[inverse.ravel()] == 1
    multi = ~single
    n_multi = len(np.unique(groups[multi]))
    if n_multi >= n_splits and single.sum() >= n_splits and \
            np.unique(y[single], return_counts=True)[1].min() >= n_splits:
        sgk = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        idx = np.flatnonzero(multi)
        for k, (_, te) in enumerate(sgk.split(idx, y[idx], groups[idx])):
            fold[idx[te]] = k
        skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        idx = np.flatnonzero(single)
        # start the singletons' folds where the groups' folds are smallest
        order = np.argsort(np.bincount(fold[multi], minlength=n_splits), kind="stable")
        for k, (_, te) in enumerate(skf.split(idx, y[idx])):
            fold[idx[te]] = order[k]
    else:
        sgk = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        for k, (_, te) in enumerate(sgk.split(np.zeros(len(y)), y, groups)):
            fold[te] = k
    return fold


def _splits_from_folds(fold, n_splits):
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_splits)]


def inner_splits(y, groups, *, n_splits=3, seed=0):
    """Splits for fitting the calibration inside one training set.

    Grouped when ``groups`` is given and has enough groups per class, otherwise
    plain stratified folds (with a warning: calibration may then be optimistic).
    """
    y = np.asarray(y)
    if groups is not None:
        groups = np.asarray(groups).astype(str)
        per_class = min(len(np.unique(groups[y == c])) for c in np.unique(y))
        if per_class >= n_splits:
            return _splits_from_folds(_assign_folds(y, groups, n_splits, seed), n_splits)
        log.warning("a class has fewer than %d cases: calibration folds are not grouped",
                    n_splits)
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y))


def out_of_fold(make_model, X: pd.DataFrame, y, splits, *, sample_weight=None, groups=None,
                progress=None):
    """Out-of-fold calibrated probabilities of a fresh model per fold.

    ``make_model()`` returns an unfitted :class:`~simbox.training.model.Model`.
    Returns ``(proba, fold)``: an ``(n, n_classes)`` array (each SIM scored by the
    model that did not see its case) and the fold number of each SIM.
    """
    y = np.asarray(y)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    g = None if groups is None else np.asarray(groups)
    proba, fold = None, np.full(len(y), -1)
    for k, (train, test) in enumerate(splits):
        m = make_model().fit(X.iloc[train], y[train],
                             sample_weight=None if w is None else w[train],
                             groups=None if g is None else g[train])
        p = m.predict_proba(X.iloc[test])
        if proba is None:
            proba = np.zeros((len(y), p.shape[1]))
        proba[test] = p
        fold[test] = k
        if progress is not None:
            progress(1)
    return proba, fold
