"""Calibration that cannot invert a ranking.

The booster gives each SIM log-probabilities of ``simbox, cardfarm, legit``.  Its
*fraud margin* ``log(P(simbox) + P(cardfarm)) - log(P(legit))`` orders SIMs from
most legit to most fraud-like.  :class:`MonotoneCalibrator` maps that margin to a
fraud probability with a one-dimensional logistic curve (Platt scaling) fitted on
out-of-fold margins, whose slope is constrained to be positive: the calibrated
fraud score is a strictly increasing function of the margin, so calibration can
change how sure the model is, never which SIM it finds more suspicious.  The
fraud probability is then split between ``simbox`` and ``cardfarm`` in the
booster's own proportion.

A multinomial calibrator on all log-probabilities (matrix scaling, the previous
design) has no such guarantee: trained on 5 + 5 seized SIMs beside a simulated
network, it scored the seized fraud SIMs 1e-80 and the seized legit ones 0.4.

When the out-of-fold margins of fraud are not above those of legit (a slope that
would have to be zero or negative), :meth:`MonotoneCalibrator.fit` records it in
``inverted_`` and keeps the smallest positive slope; training turns that into a
loud warning (:func:`separability`).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.utils.validation import check_is_fitted

from simbox.training.labels import CLASSES, FRAUD_CLASSES
from simbox.training.scoring import calibrated, fraud_margin  # noqa: F401

MIN_SLOPE = 1e-3


class MonotoneCalibrator(ClassifierMixin, BaseEstimator):
    """Platt scaling of the fraud margin with a positive slope; classes in CLASSES order.

    Input: booster log-probabilities, columns in :data:`CLASSES` order.  ``C``: the
    inverse regularisation of the one-dimensional logistic fit.
    """

    def __init__(self, *, C=100.0):
        self.C = C

    def fit(self, logits, y, sample_weight=None):
        m = fraud_margin(logits)[:, None]
        fraud = np.isin(np.asarray(y).astype(str), FRAUD_CLASSES)
        if fraud.all() or not fraud.any():
            raise ValueError("calibration needs fraud and legit rows")
        lr = LogisticRegression(C=self.C, max_iter=1000).fit(m, fraud,
                                                            sample_weight=sample_weight)
        slope, intercept = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        self.inverted_ = slope < MIN_SLOPE
        if self.inverted_:
            # keep the ranking: the smallest positive slope through the weighted fraud rate
            w = np.ones(len(m)) if sample_weight is None else np.asarray(sample_weight, float)
            rate = np.clip(np.average(fraud, weights=w), 1e-9, 1 - 1e-9)
            slope = MIN_SLOPE
            intercept = float(np.log(rate / (1 - rate)) - slope * np.average(m[:, 0], weights=w))
        self.slope_, self.intercept_ = slope, intercept
        self.classes_ = np.asarray(CLASSES)
        self.n_features_in_ = np.asarray(logits).shape[1]
        return self

    def predict_proba(self, logits):
        check_is_fitted(self, "slope_")
        return calibrated(logits, self.slope_, self.intercept_)

    def predict(self, logits):
        return self.classes_[np.argmax(self.predict_proba(logits), axis=1)]


def separability(label, score, source=None, *, min_fraud=10, min_cases=3, cases=None) -> dict:
    """Does labelled fraud rank above labelled legit out of fold?  Warnings to print.

    ``label``, ``score``: the labelled rows' classes and out-of-fold fraud scores;
    ``source``: the rows' sources, the check is made on the ``seizure`` rows when
    given (the user's own labels), ``cases``: their case ids.  Returns
    ``{"auc", "fraud", "legit", "cases", "warnings": [...]}``.
    """
    label = np.asarray(label).astype(str)
    score = np.asarray(score, dtype=float)
    if source is not None:
        keep = np.asarray(source) == "seizure"
        label, score = label[keep], score[keep]
        cases = None if cases is None else np.asarray(cases)[keep]
    fraud = np.isin(label, FRAUD_CLASSES)
    legit = label == "legit"
    n_cases = None if cases is None else int(len(set(np.asarray(cases)[fraud])))
    out = {"fraud": int(fraud.sum()), "legit": int(legit.sum()), "cases": n_cases,
           "auc": None, "warnings": []}
    if fraud.any() and legit.any():
        out["auc"] = float(roc_auc_score(fraud[fraud | legit], score[fraud | legit]))
        if out["auc"] < 0.7:
            out["warnings"].append(
                f"the seized fraud SIMs do not rank above the labelled legit ones out of fold "
                f"(AUC {out['auc']:.2f}): the labels are not separable with these features; "
                "check the labels (wrong IMSIs, SIMs idle in the window) before trusting "
                "this model")
    if out["fraud"] and (out["fraud"] < min_fraud or (n_cases is not None
                                                     and n_cases < min_cases)):
        out["warnings"].append(
            f"only {out['fraud']} seized fraud SIM(s)"
            + (f" in {n_cases} case(s)" if n_cases is not None else "")
            + ": too few to measure this model on your own network; its figures come "
              "mostly from the simulated knowledge")
    return out
