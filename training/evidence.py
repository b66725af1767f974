"""Minimum evidence: statistics of too few events say nothing, so the model does not see them.

A SIM with two outgoing calls 112 s apart has a "median gap between calls" of
112 s, right where SIM boxes sit; a booster that learned boxes from that median
scores such a SIM as sure fraud.  :class:`EvidenceMask` replaces a statistic by
NaN (the booster's "unknown", learned from the data like any value) when the
events it is computed from are fewer than :data:`MIN_EVENTS`.  Counts themselves
are never masked, so the amount of evidence stays visible to the model.
"""
from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin

from simbox.features.registry import MIN_EVIDENCE, REGISTRY
from simbox.training.scoring import mask_evidence

MIN_EVENTS = MIN_EVIDENCE
# statistic -> the counts whose sum is the number of events it is computed from
EVIDENCE = {f.name: f.evidence for f in REGISTRY if f.evidence}


class EvidenceMask(TransformerMixin, BaseEstimator):
    """NaN for each statistic of :data:`EVIDENCE` whose counts sum to less than ``min_events``.

    ``feature_names``: the column order of the arrays it is given.  Statistics or
    counts missing from it are left alone.
    """

    def __init__(self, *, feature_names=(), min_events=MIN_EVENTS):
        self.feature_names = feature_names
        self.min_events = min_events

    def fit(self, X, y=None):
        pos = {n: i for i, n in enumerate(self.feature_names)}
        self.rules_ = [(pos[s], [pos[c] for c in counts]) for s, counts in EVIDENCE.items()
                       if s in pos and all(c in pos for c in counts)]
        self.n_features_in_ = len(self.feature_names)
        return self

    def transform(self, X):
        return mask_evidence(X, getattr(self, "rules_", []), self.min_events)
