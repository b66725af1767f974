"""Scores of ``simbox watch`` between drops: the SIMs a drop changed are scored again,
the others keep their scores (issue 16: "the subscribers it touched are rescored").

A SIM's score depends on its feature row alone.  Most columns of a row change only with
the SIM's own events or with those of SIMs it shares a device, a site or a number block
with (the cross-SIM features); those are compared exactly.  A few columns **drift** with
the population rather than with the SIM (:data:`DRIFTING`): the percentile ranks
(``*_pct``, group ``network``: a rank among all SIMs of the window moves a little on
every drop) and the window shares (``lifetime_share``, ``active_day_share``: over the
window's span, which grows until the window is full).  Comparing them exactly would
rescore every SIM on every drop.

The policy (:class:`Rescorer`):

- a SIM is scored again when it is new, when any column other than the drifting ones
  differs from the row it was last scored on, or when a drifting column moved by more
  than ``tolerance`` (default :data:`TOLERANCE`, 0.02: two percentile points) since;
- every SIM is scored again (a *full rescore*) at the first drop of each new network
  hour (``every``, default :data:`EVERY` = 3600 s of network time; the network time is
  the newest event's), and whenever the feature columns change;
- between full rescores, a kept score was computed on a row whose drifting columns are
  within ``tolerance`` of today's and whose other columns are today's.

After a full rescore the scores equal the model's on the whole table; between two, they
differ only through the drifting columns (``benchmarks/bench_watch.py scale`` measures
the gap on a replay: flags that differ, largest score gap; docs/watch.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simbox.features.registry import REGISTRY

#: the feature columns that move with the population or the window, not the SIM's events
DRIFTING = tuple([f.name for f in REGISTRY if f.group == "network"]
                 + ["lifetime_share", "active_day_share"])
#: how far a drifting column may move before the SIM is scored again
TOLERANCE = 0.02
#: network seconds between full rescores
EVERY = 3600


@dataclass
class Rescorer:
    """The scores of the last drop and the feature rows they were computed on."""

    predict: object                       # DataFrame of features -> DataFrame of predictions
    every: int = EVERY
    tolerance: float = TOLERANCE
    predictions: pd.DataFrame | None = field(init=False, default=None)
    last_full: int | None = field(init=False, default=None)  # network time of the last full
    last: dict = field(init=False, default_factory=dict)     # what the last call did
    _index: pd.Index | None = field(init=False, default=None)   # the rows as last scored:
    _values: np.ndarray | None = field(init=False, default=None)  # their values (float)
    _dtypes: pd.Series | None = field(init=False, default=None)

    @property
    def features(self) -> pd.DataFrame | None:
        """Each SIM's feature row as it was when it was last scored."""
        if self._index is None:
            return None
        return pd.DataFrame(self._values, index=self._index,
                            columns=self._dtypes.index).astype(self._dtypes)

    def due(self, feats: pd.DataFrame, network_time: int | None) -> bool:
        """Whether this drop rescores every SIM."""
        if self._index is None or list(feats.columns) != list(self._dtypes.index):
            return True
        if network_time is None or self.last_full is None:
            return network_time is not None
        return network_time // self.every != self.last_full // self.every

    def _changed(self, pos: np.ndarray, now: np.ndarray, columns) -> np.ndarray:
        prev = self._values[pos]
        same = (prev == now) | (np.isnan(prev) & np.isnan(now))
        drift = np.isin(columns, DRIFTING)
        exact = same[:, ~drift].all(axis=1)
        near = (same[:, drift] | (np.abs(prev[:, drift] - now[:, drift]) <= self.tolerance)
                ).all(axis=1)
        return ~(exact & near) | (pos < 0)

    def changed(self, feats: pd.DataFrame) -> np.ndarray:
        """Mask of the rows of ``feats`` to score again (see the module docstring)."""
        return self._changed(self._index.get_indexer(feats.index), feats.to_numpy(float),
                             feats.columns)

    def __call__(self, feats: pd.DataFrame, network_time: int | None = None) -> pd.DataFrame:
        """The predictions of every row of ``feats`` (same index)."""
        now = feats.to_numpy(float)
        full = self.due(feats, network_time)
        if full:
            changed = np.ones(len(feats), bool)
        else:
            pos = self._index.get_indexer(feats.index)
            changed = self._changed(pos, now, feats.columns)
        fresh = self.predict(feats.iloc[np.flatnonzero(changed)]) if changed.any() else None
        if full:
            preds, values = fresh, now
            self.last_full = network_time
        else:
            values = self._values[pos]
            values[changed] = now[changed]
            kept = self.predictions.iloc[pos[~changed]]
            both = pd.concat([kept, fresh]) if fresh is not None else kept
            where = np.r_[np.flatnonzero(~changed), np.flatnonzero(changed)]
            order = np.empty(len(where), np.int64)
            order[where] = np.arange(len(where))
            preds = both.iloc[order].set_axis(feats.index)
        self._index, self._values, self._dtypes = feats.index, values, feats.dtypes
        self.predictions = preds
        self.last = {"rescored": int(changed.sum()), "rows": len(feats), "full": bool(full),
                     "last_full": self.last_full, "every_s": self.every,
                     "tolerance": self.tolerance}
        return preds
