"""Young-age rows: what the detector sees of a SIM in its first hours.

``simbox watch`` scores every subscriber after each file drop, so a SIM box, a
card farm or a call centre that started yesterday is scored on a few hours of
traffic, while a batch scan of a finished week sees most SIMs whole.  A model
trained only on whole weeks meets young SIMs as strangers: on held-out networks
with offices that open mid-window, most wrong alerts of ``simbox watch`` were
call-centre and desk-gateway agents with less than a day of history.

The knowledge therefore also holds *young rows*: each training world's features
computed again as if the window ended at a **cut** inside it (events before the
cut only, exactly what ``simbox watch`` holds at that network time), keeping the
SIMs whose first event falls within :data:`YOUNG_HOURS` before the cut.  Their
labels are the simulator's truth (a box is a box from its first call), their
cases the same deployments, their world the same world, so cross-validation by
world keeps a world's young and whole rows on the same side.

The cuts are drawn per world from its seed (:func:`cut_times`), after
:data:`MIN_HISTORY_DAYS` of window (``simbox watch --min-history`` raises no
alert before that) and before its end.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

YOUNG_HOURS = 48.0          # a SIM is young at a cut when its first event is this recent
MIN_HISTORY_DAYS = 2.0      # no cut before this much of the window (watch's --min-history)
CUT_STEP_S = 900            # cuts fall on the quarter hour (a 15-minute file drop)
YOUNG_TAG = "@"             # index of a young row: w<world>@<cut>:<imsi>


def cut_times(world: int, first: float, last: float, n: int) -> list[int]:
    """``n`` cut times (UTC epoch seconds) in ``[first + MIN_HISTORY_DAYS, last)``,
    drawn from ``world`` (the same world gives the same cuts), on the quarter hour.
    Empty when the window is shorter than the minimum history."""
    lo = float(first) + MIN_HISTORY_DAYS * 86400.0
    hi = float(last)
    if n <= 0 or not hi > lo + CUT_STEP_S:
        return []
    rng = np.random.default_rng([int(world), 7170, int(n)])
    span = (hi - lo) / n                        # one cut per stretch: spread over the window
    cuts = [lo + span * (k + rng.random()) for k in range(n)]
    return sorted({int(c // CUT_STEP_S * CUT_STEP_S) for c in cuts})


def iso_utc(epoch_s: int) -> str:
    """A cut as ``compute_features(time_to=...)`` takes it."""
    return pd.Timestamp(int(epoch_s), unit="s", tz="UTC").isoformat()


def young_threshold_of(model) -> float | None:
    """The score from which a young SIM's model flag reaches the model's target precision
    out of fold (``card["metrics"]["young"]["threshold"]``, chosen on the young-age rows
    of the training worlds: training/train.py ``young_threshold``); None when the card has
    none (models before session 9)."""
    card = getattr(model, "card", None) or {}
    t = ((card.get("metrics") or {}).get("young") or {}).get("threshold")
    return float(t) if t is not None else None


def young_mask(first_seen, cut: int, hours: float = YOUNG_HOURS) -> np.ndarray:
    """SIMs whose first event is at most ``hours`` before ``cut``."""
    fs = np.asarray(first_seen, dtype=float)
    return fs >= float(cut) - hours * 3600.0


def window_bounds(features: pd.DataFrame) -> tuple[float, float]:
    """(first, last) event time of a feature table (its ``first_seen``/``last_seen``)."""
    return float(features["first_seen"].min()), float(features["last_seen"].max())
