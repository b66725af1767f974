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
from simbox.training.labels import CLASSES

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


def out_of_fold(make_model, X: pd.DataFrame, y, splits, *, sample_weight=None, progress=None):
    """Out-of-fold log-probabilities and calibrated probabilities.

    For each split a fresh booster (``make_model().fit_booster``) is fitted on the
    training part and gives the test part's log-probabilities; then for each split
    the calibrator is fitted on the *other* folds' out-of-fold log-probabilities and
    applied to the test part.  So every SIM is scored by a model that never saw its
    case.  Returns ``(logits, proba, fold)``: ``proba`` columns in ``CLASSES`` order.
    """
    y = np.asarray(y).astype(str)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    m = make_model()
    logits, proba = np.zeros((len(y), len(CLASSES))), np.zeros((len(y), len(CLASSES)))
    fold = np.full(len(y), -1)
    for k, (train, test) in enumerate(splits):
        b = m.fit_booster(X.iloc[train], y[train], sample_weight=w[train])
        logits[test] = m.booster_logits(b, X.iloc[test])
        fold[test] = k
        if progress is not None:
            progress(1)
    for train, test in splits:
        cal = m.fit_calibrator(logits[train], y[train], sample_weight=w[train])
        order = [list(cal.classes_).index(c) for c in CLASSES]
        proba[test] = cal.predict_proba(logits[test])[:, order]
    return logits, proba, fold
