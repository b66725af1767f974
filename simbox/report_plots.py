"""The plots of the report, drawn as inline SVG from numpy (no plotting library).

- score distribution of every scanned SIM, with the operating threshold;
- activity by hour of day of the top deployments (share of each one's events);
- feature comparison: flagged SIMs against all SIMs on the features that most
  often explain a flag (those with a ``compare`` place in the feature registry).

Each plot is an ``<svg>`` built with :mod:`simbox.svg` (ElementTree: every text
escaped), sized by its viewBox so the page scales it; bars and boxes carry a
``<title>`` with their numbers, which a browser shows on hover.  The numbers are
computed here (:func:`histogram`, :func:`box_stats`: the statistics of a box plot
as matplotlib draws them, whiskers at 1.5 times the interquartile range, no
outliers), so a report costs no import of matplotlib and a few milliseconds per
plot however many SIMs it shows.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simbox.features.registry import compared_features
from simbox.outputs import CLASS_COLOURS
from simbox.svg import add, num, root, text

__all__ = ["score_plot", "hours_plot", "feature_plot", "box_stats", "histogram",
           "COMPARED_FEATURES"]

# (feature, label) in plot order, from the feature registry's ``compare``
COMPARED_FEATURES = [(f.name, f.compare[1]) for f in compared_features()]
DEPLOYMENT_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#7b3fb2", "#8c564b"]
INK, MUTED, GRID, NOT_FLAGGED, OTHERS = "#1d2329", "#5b6670", "#e6e9ec", "#9aa7b3", "#c5ced6"
FONT = "sans-serif"
CHAR_EM = 0.56          # a character's mean width in ems (sans-serif): to lay out labels
SCORE_BINS = 50
WHISKER_IQR = 1.5


# -- numbers ---------------------------------------------------------------------------

def histogram(values, bins: int = SCORE_BINS, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """Counts of the finite ``values`` in ``bins`` equal bins over [lo, hi] (the last bin
    closed, as :func:`numpy.histogram`); values outside are not counted."""
    v = np.asarray(values, dtype=float)
    return np.histogram(v[np.isfinite(v)], bins=bins, range=(lo, hi))[0]


def box_stats(values) -> dict | None:
    """A box plot's statistics of the finite ``values`` (None when there are none): the
    quartiles ``q1``, ``med``, ``q3`` (linear interpolation) and the whiskers ``lo`` and
    ``hi``: the furthest values within 1.5 times the interquartile range of the box (the
    box's edge when none is), and ``n``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    least = v.min()
    if least == v.max() and (least != 0 or not np.signbit(v).any()):
        # one value (a count all these SIMs share): every statistic is it, exactly as the
        # interpolation gives it, without the partitions (slowest on equal values)
        x = float(least)
        return {"q1": x, "med": x, "q3": x, "lo": x, "hi": x, "n": int(len(v))}
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    iqr = q3 - q1
    below = v[v <= q3 + WHISKER_IQR * iqr]
    above = v[v >= q1 - WHISKER_IQR * iqr]
    hi = q3 if not len(below) or below.max() < q3 else below.max()
    lo = q1 if not len(above) or above.min() > q1 else above.min()
    return {"q1": float(q1), "med": float(med), "q3": float(q3), "lo": float(lo), "hi": float(hi),
            "n": int(len(v))}


def plain_number(v: float) -> str:
    """A tick label: 1, 10, 1,000 (thousands separated), 0.5, 2.5."""
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:g}"


def nice_ticks(lo: float, hi: float, most: int = 6) -> np.ndarray:
    """Round ticks covering [lo, hi]: a step of 1, 2, 2.5 or 5 times a power of ten, at
    most ``most`` + 1 of them."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return np.array([lo if np.isfinite(lo) else 0.0])
    raw = (hi - lo) / most
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    return np.round(ticks, 12)


def _text_width(s: str, size: float) -> float:
    return len(s) * size * CHAR_EM


# -- scales ----------------------------------------------------------------------------

class Scale:
    """Data to pixels on one axis: ``linear``, ``log`` (base 10) or ``symlog`` (linear
    within 1 of 0, base 10 beyond, as matplotlib's with ``linthresh=1``)."""

    def __init__(self, kind: str, lo: float, hi: float, p0: float, p1: float):
        self.kind, self.p0, self.p1 = kind, p0, p1
        self.t0, self.t1 = self._t(lo), self._t(hi)
        if self.t1 == self.t0:
            self.t1 = self.t0 + 1.0

    def _t(self, v):
        v = np.asarray(v, dtype=float)
        if self.kind == "log":
            return np.log10(v)
        if self.kind == "symlog":             # matplotlib: linscale 1, base 10
            k = 1.0 / (1.0 - 0.1)
            a = np.abs(v)
            return np.sign(v) * np.where(a <= 1.0, a * k, k + np.log10(np.maximum(a, 1.0)))
        return v

    def __call__(self, v):
        return self.p0 + (self._t(v) - self.t0) * (self.p1 - self.p0) / (self.t1 - self.t0)


class Panel:
    """One plot area at (``left``, ``top``) of ``width`` x ``height`` in an SVG ``svg``, with
    ``x`` and ``y`` :class:`Scale` objects set by :meth:`scales`."""

    def __init__(self, svg, left: float, top: float, width: float, height: float):
        self.svg, self.left, self.top, self.width, self.height = svg, left, top, width, height
        self.bottom, self.right = top + height, left + width

    def scales(self, x: tuple, y: tuple) -> "Panel":
        """``x`` and ``y``: (kind, lo, hi)."""
        self.x = Scale(x[0], x[1], x[2], self.left, self.right)
        self.y = Scale(y[0], y[1], y[2], self.bottom, self.top)
        return self

    def x_axis(self, ticks, labels=None, size: float = 11, grid: bool = False, label: str = ""):
        g = add(self.svg, "g", font_size=num(size), fill=INK, text_anchor="middle")
        for v, s in zip(ticks, labels if labels is not None else map(plain_number, ticks)):
            px = float(self.x(v))
            if grid:
                add(self.svg, "path", d=f"M{num(px)} {num(self.top)}V{num(self.bottom)}", stroke=GRID)
            add(self.svg, "path", d=f"M{num(px)} {num(self.bottom)}v4", stroke=INK)
            add(g, "text", s, x=num(px), y=num(self.bottom + 6 + size))
        add(self.svg, "path", d=f"M{num(self.left)} {num(self.bottom)}H{num(self.right)}",
            stroke=INK, stroke_width="1")
        if label:
            add(self.svg, "text", label, x=num((self.left + self.right) / 2),
                y=num(self.bottom + 2 * size + 16), font_size="13", fill=INK, text_anchor="middle")

    def y_axis(self, ticks, labels=None, size: float = 11, grid: bool = True, label: str = ""):
        g = add(self.svg, "g", font_size=num(size), fill=INK, text_anchor="end")
        widest = 0.0
        for v, s in zip(ticks, labels if labels is not None else map(plain_number, ticks)):
            py = float(self.y(v))
            if grid:
                add(self.svg, "path", d=f"M{num(self.left)} {num(py)}H{num(self.right)}", stroke=GRID)
            add(self.svg, "path", d=f"M{num(self.left - 4)} {num(py)}h4", stroke=INK)
            add(g, "text", s, x=num(self.left - 7), y=num(py + size * 0.35))
            widest = max(widest, _text_width(s, size))
        add(self.svg, "path", d=f"M{num(self.left)} {num(self.top)}V{num(self.bottom)}",
            stroke=INK, stroke_width="1")
        if label:
            x, y = self.left - widest - 16, (self.top + self.bottom) / 2
            add(self.svg, "text", label, x=num(x), y=num(y), font_size="13", fill=INK,
                text_anchor="middle", transform=f"rotate(-90 {num(x)} {num(y)})")


def _legend(svg, items: list, x: float, y: float, columns: int = 1, column_width: float = 0,
            size: float = 11.5) -> None:
    """``items``: (label, colour, kind) with kind ``box`` (a swatch) or ``line``; laid out in
    ``columns`` columns from (x, y), top to bottom then left to right."""
    g = add(svg, "g", font_size=num(size), fill=INK)
    rows = (len(items) + columns - 1) // columns
    for k, (label, colour, kind) in enumerate(items):
        cx, cy = x + (k // rows) * column_width, y + (k % rows) * (size + 7)
        if kind == "line":
            add(svg, "path", d=f"M{num(cx)} {num(cy - size * 0.35)}h20", stroke=colour,
                stroke_width="2")
        else:
            add(svg, "rect", x=num(cx), y=num(cy - size * 0.75), width="20", height=num(size * 0.75),
                fill=colour)
        add(g, "text", label, x=num(cx + 26), y=num(cy))


# -- the plots -------------------------------------------------------------------------

def _array(values, dtype) -> np.ndarray:
    """``np.asarray(values, dtype)``; a Series by its values: numpy asks a Series for
    ``__array_struct__``, which pandas looks for among its index's labels, and the first
    such look-up builds the index's hash table (120,000 SIMs' keys: 8 ms)."""
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy()
    return np.asarray(values, dtype=dtype)


def score_series(scores: pd.Series, classes: pd.Series, threshold: float | None) -> list:
    """:func:`score_plot`'s bars, ``(label, colour, counts per bin)``: the SIMs not flagged,
    then the flagged ones of each fraud class that has some.  The classes compared as a
    column (no ``str`` made per SIM), the scores taken without the index's hash table."""
    score = _array(scores, float)
    classes = pd.Series(classes, copy=False)
    flagged = score >= threshold if threshold is not None else np.zeros(len(score), bool)
    series = [("not flagged", NOT_FLAGGED, histogram(score[~flagged]))]
    for c, colour in CLASS_COLOURS.items():
        sel = flagged & (classes == c).to_numpy(dtype=bool, na_value=False)
        if sel.any():
            series.append((f"flagged {c}", colour, histogram(score[sel])))
    return series


def score_plot(scores: pd.Series, classes: pd.Series, threshold: float | None) -> str:
    """Every SIM's score in 50 bins on a log scale: those not flagged, then the flagged ones of
    each fraud class (their colours), the threshold as a dashed line."""
    w, h = 640, 330
    series = score_series(scores, classes, threshold)
    top = max(1, max(int(s[2].max()) for s in series))
    decades = int(math.floor(math.log10(top)))
    svg = root(w, h, "Score distribution: SIMs per score bin, log scale")
    p = Panel(svg, 76, 34, w - 76 - 18, h - 34 - 58).scales(
        ("linear", 0.0, 1.0), ("log", 0.7, 10 ** (math.log10(top) * 1.08 + 0.05)))
    p.y_axis([10 ** k for k in range(decades + 1)], label="SIMs (log scale)")
    edges = np.linspace(0.0, 1.0, SCORE_BINS + 1)
    for label, colour, counts in series:
        g = add(svg, "g", fill=colour)
        for i in np.flatnonzero(counts):
            x0, x1 = float(p.x(edges[i])), float(p.x(edges[i + 1]))
            y = float(p.y(counts[i]))
            r = add(g, "rect", x=num(x0), y=num(y), width=num(max(x1 - x0 - 0.6, 0.6)),
                    height=num(p.bottom - y))
            add(r, "title", f"{label}: {counts[i]:,} SIM(s) scored {edges[i]:.2f}-{edges[i + 1]:.2f}")
    p.x_axis(np.round(np.arange(0, 1.01, 0.2), 1), [f"{v:.1f}" for v in np.arange(0, 1.01, 0.2)],
             label="fraud score")
    if threshold is not None and np.isfinite(threshold):
        tx = float(p.x(min(max(threshold, 0.0), 1.0)))
        add(svg, "path", d=f"M{num(tx)} {num(p.top)}V{num(p.bottom)}", stroke=INK,
            stroke_width="1.4", stroke_dasharray="6 4")
        near_right = tx > p.right - 110          # the label left of the line
        add(svg, "text", f"threshold {threshold:.2f}", x=num(tx - 4 if near_right else tx + 4),
            y=num(p.top + 11), font_size="11.5", fill=INK,
            text_anchor="end" if near_right else "start")
    _legend(svg, [(label, colour, "box") for label, colour, _ in series],
            p.left + (p.width - 132 * len(series)) / 2, 16, columns=len(series), column_width=132)
    return text(svg)


def hours_plot(deployments: pd.DataFrame, profiles: dict[str, np.ndarray],
               baseline: np.ndarray | None, top: int = 5) -> str:
    """The share of each of the ``top`` deployments' events per hour of day (a step line
    each, in its colour), over that of all SIMs (``baseline``, filled)."""
    w = 640
    hrs = np.arange(24)
    lines = []
    for k, row in enumerate(deployments.head(top).to_dict(orient="records")):
        prof = np.asarray(profiles.get(row["deployment_id"], np.zeros(24)), dtype=float)
        if prof.sum() <= 0:
            continue
        lines.append((f"{row['deployment_id']} ({row['class']}, {row['n_sims']} SIMs)",
                      DEPLOYMENT_COLOURS[k % len(DEPLOYMENT_COLOURS)], 100 * prof / prof.sum()))
    base = None
    if baseline is not None and np.asarray(baseline, dtype=float).sum() > 0:
        b = np.asarray(baseline, dtype=float)
        base = 100 * b / b.sum()
    items = ([("all SIMs", "#dfe4e8", "box")] if base is not None else []) + \
        [(label, colour, "line") for label, colour, _ in lines]
    legend_rows = (len(items) + 1) // 2
    h = 300 + legend_rows * 19
    svg = root(w, h, "Activity by hour of day of the top deployments")
    high = max([float(v.max()) for _, _, v in lines] + ([float(base.max())] if base is not None
                                                         else []) + [1.0])
    ticks = nice_ticks(0.0, high * 1.05)
    p = Panel(svg, 64, 14, w - 64 - 18, 230).scales(("linear", -0.5, 23.5),
                                                    ("linear", 0.0, max(high * 1.05, ticks[-1])))
    p.y_axis(ticks, label="% of events")

    def steps(v):                      # a step per hour, centred on it
        d = [f"M{num(p.x(-0.5))} {num(p.y(v[0]))}"]
        for hr in hrs:
            d.append(f"H{num(p.x(hr + 0.5))}")
            if hr < 23:
                d.append(f"V{num(p.y(v[hr + 1]))}")
        return "".join(d)

    if base is not None:
        area = add(svg, "path", d=steps(base) + f"V{num(p.bottom)}H{num(p.x(-0.5))}Z",
                   fill="#dfe4e8")
        add(area, "title", "all SIMs: " + ", ".join(f"{hr:02d}h {v:.1f}%" for hr, v in zip(hrs, base)))
    for label, colour, v in lines:
        line = add(svg, "path", d=steps(v), fill="none", stroke=colour, stroke_width="2")
        add(line, "title", f"{label}: " + ", ".join(f"{hr:02d}h {x:.1f}%" for hr, x in zip(hrs, v)))
    p.x_axis(range(0, 24, 3), label="hour of day (network local time)")
    _legend(svg, items, 120, p.bottom + 62, columns=2, column_width=250)
    return text(svg)


def feature_plot(features: pd.DataFrame, flagged: pd.Series) -> str:
    """One panel per compared feature: a box of the SIMs not flagged ("others") under one of
    the flagged SIMs; a symmetric log scale when the values pass 50."""
    feats = [(n, label) for n, label in COMPARED_FEATURES if n in features.columns]
    if not feats:
        return ""
    cols, pw, ph = 4, 320, 176
    rows = (len(feats) + cols - 1) // cols
    svg = root(cols * pw, rows * ph, "Flagged SIMs against the others, feature by feature")
    mask = _array(flagged, bool)
    for k, (name, label) in enumerate(feats):
        v = features[name].to_numpy(dtype=float, na_value=np.nan)
        stats = [("others", OTHERS, box_stats(v[~mask])), ("flagged", CLASS_COLOURS["simbox"],
                                                          box_stats(v[mask]))]
        left, top = (k % cols) * pw + 70, (k // cols) * ph + 30
        add(svg, "text", label, x=num(left + (pw - 90) / 2), y=num(top - 10), font_size="13",
            fill=INK, text_anchor="middle")
        shown = [s for _, _, s in stats if s is not None]
        lo = min([s["lo"] for s in shown] + [0.0])
        hi = max([s["hi"] for s in shown] + [0.0])
        p = Panel(svg, left, top, pw - 90, ph - 78)
        if hi > 50:
            p.scales(("symlog", min(lo, 0.0), hi * 1.25), ("linear", 0.4, 2.6))
            ticks = [0.0] + [10.0 ** d for d in range(int(math.log10(hi)) + 1)]
        else:
            span = (hi - lo) or 1.0
            lo_, hi_ = lo - 0.05 * span, hi + 0.05 * span
            ticks = [t for t in nice_ticks(lo_, hi_, most=5) if lo_ <= t <= hi_]
            p.scales(("linear", lo_, hi_), ("linear", 0.4, 2.6))
        p.y_axis([1, 2], ["others", "flagged"], size=11.5, grid=False)
        for row, (who, colour, s) in enumerate(stats, start=1):
            if s is None:
                continue
            y, half = float(p.y(row)), 0.3 * (p.y(0) - p.y(1))
            x = {key: float(p.x(s[key])) for key in ("lo", "q1", "med", "q3", "hi")}
            g = add(svg, "g", stroke=INK, stroke_width="1.1")
            add(g, "title", f"{who} ({s['n']:,} SIMs): median {plain_number(round(s['med'], 3))}, "
                            f"middle half {plain_number(round(s['q1'], 3))}-"
                            f"{plain_number(round(s['q3'], 3))}, whiskers "
                            f"{plain_number(round(s['lo'], 3))}-{plain_number(round(s['hi'], 3))}")
            add(g, "path", d=f"M{num(x['lo'])} {num(y)}H{num(x['q1'])}M{num(x['q3'])} {num(y)}"
                             f"H{num(x['hi'])}M{num(x['lo'])} {num(y - half / 2)}v{num(half)}"
                             f"M{num(x['hi'])} {num(y - half / 2)}v{num(half)}", fill="none")
            add(g, "rect", x=num(x["q1"]), y=num(y - half), width=num(max(x["q3"] - x["q1"], 0.8)),
                height=num(2 * half), fill=colour, fill_opacity="0.8")
            add(g, "path", d=f"M{num(x['med'])} {num(y - half)}v{num(2 * half)}", stroke_width="1.6")
        p.x_axis(ticks, size=10.5)
    return text(svg)
