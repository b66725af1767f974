"""How a reason words one feature value: :class:`Phrase` and its number formats.

Each registry entry (``features/registry.py``) carries the phrase of its feature;
``simbox/reasons.py`` ranks the features of a flagged SIM and joins their phrases.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

__all__ = ["Phrase", "count", "share", "few", "tail", "km"]


@dataclass(frozen=True)
class Phrase:
    direction: int                  # +1 high is suspicious, -1 low is, 0 both
    group: str                      # alternatives: only the strongest of a group is worded
    log: bool                       # compare on log1p (counts)
    words: Callable[[float], str]   # value -> phrase


def count(v) -> str:
    """A count, rounded, with thousands separators."""
    return f"{int(round(v)):,}"


def share(v) -> str:
    """A share (0-1) as a whole percentage."""
    return f"{100 * v:.0f}%"


def few(v, none: str, some: str) -> str:
    """``none`` for 0, ``some`` with "only" while the count is small, without it above."""
    if v < 0.5:
        return none
    text = some.format(n=count(v))
    return text if v <= 5 else text.replace("only ", "", 1)


def tail(v) -> str:
    """A percentile rank (0-1, 1 = the most) as the "top n%" or "bottom n%" of the
    network's SIMs (at least 1%)."""
    side, part = ("top", 1 - v) if v >= 0.5 else ("bottom", v)
    return f"{side} {max(1, int(math.ceil(100 * part - 1e-9)))}% of the network's SIMs"


def km(v) -> str:
    """A distance given in km, in m under 1 km."""
    return f"{1000 * v:,.0f} m" if v < 1 else f"{v:,.1f} km"
