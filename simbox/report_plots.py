"""The plots of the report, drawn with matplotlib (Agg) as inline SVG.

- score distribution of every scanned SIM, with the operating threshold;
- activity by hour of day of the top deployments (share of each one's events);
- feature comparison: flagged SIMs against all SIMs on the features that most
  often explain a flag (those with a ``compare`` place in the feature registry).
"""
from __future__ import annotations

import inspect
import io
import re

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter

from simbox.features.registry import compared_features
from simbox.outputs import CLASS_COLOURS
from simbox.plotting import figure

__all__ = ["score_plot", "hours_plot", "feature_plot", "COMPARED_FEATURES"]

# (feature, label) in plot order, from the feature registry's ``compare``
COMPARED_FEATURES = [(f.name, f.compare[1]) for f in compared_features()]
DEPLOYMENT_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#7b3fb2", "#8c564b"]


def _horizontal_kwargs():
    if "orientation" in inspect.signature(Axes.boxplot).parameters:
        return {"orientation": "horizontal"}
    return {"vert": False}


def _svg(fig, salt: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt,
                                "font.family": "sans-serif"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)   # RDF with external URIs
    # matplotlib sizes the svg in pt; let the page size it, keep the viewBox
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)


def _plain_number(v, _pos=None):
    return f"{v:,.0f}" if v >= 1 or v == 0 else f"{v:g}"


def _plain():
    """A tick formatter writing plain numbers (1, 10, 1,000)."""
    return FuncFormatter(_plain_number)


def _style(ax):
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)
    ax.grid(axis="y", color="#e6e9ec", linewidth=0.8)
    ax.set_axisbelow(True)


def score_plot(scores: pd.Series, classes: pd.Series, threshold: float | None) -> str:
    fig = figure(6.4, 3.2)
    ax = fig.add_subplot()
    bins = np.linspace(0, 1, 51)
    flagged = scores >= threshold if threshold is not None else pd.Series(False, index=scores.index)
    ax.hist(scores[~flagged], bins=bins, color="#9aa7b3", label="not flagged")
    for cls, colour in CLASS_COLOURS.items():
        sel = flagged & (classes == cls)
        if sel.any():
            ax.hist(scores[sel], bins=bins, color=colour, label=f"flagged {cls}")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_plain())
    if threshold is not None:
        ax.axvline(threshold, color="#1d2329", linestyle="--", linewidth=1.2)
        ax.text(threshold, ax.get_ylim()[1], f" threshold {threshold:.2f}", va="top", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraud score", fontsize=10)
    ax.set_ylabel("SIMs (log scale)", fontsize=10)
    ax.legend(fontsize=8.5, frameon=False, loc="upper center")
    _style(ax)
    return _svg(fig, "score")


def hours_plot(deployments: pd.DataFrame, profiles: dict[str, np.ndarray],
               baseline: np.ndarray | None, top: int = 5) -> str:
    fig = figure(6.4, 3.2)
    ax = fig.add_subplot()
    hrs = np.arange(24)
    if baseline is not None and baseline.sum() > 0:
        ax.fill_between(hrs, 100 * baseline / baseline.sum(), step="mid", color="#dfe4e8",
                        label="all SIMs")
    for k, row in enumerate(deployments.head(top).to_dict(orient="records")):
        p = np.asarray(profiles.get(row["deployment_id"], np.zeros(24)), dtype=float)
        if p.sum() <= 0:
            continue
        ax.step(hrs, 100 * p / p.sum(), where="mid", linewidth=1.8,
                color=DEPLOYMENT_COLOURS[k % len(DEPLOYMENT_COLOURS)],
                label=f"{row['deployment_id']} ({row['class']}, {row['n_sims']} SIMs)")
    ax.set_xticks(range(0, 24, 3))
    ax.set_xlim(-0.5, 23.5)
    ax.set_xlabel("hour of day (network local time)", fontsize=10)
    ax.set_ylabel("% of events", fontsize=10)
    ax.legend(fontsize=8.5, frameon=False, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    _style(ax)
    return _svg(fig, "hours")


def feature_plot(features: pd.DataFrame, flagged: pd.Series) -> str:
    feats = [(n, label) for n, label in COMPARED_FEATURES if n in features.columns]
    if not feats:
        return ""
    cols = 4
    rows = (len(feats) + cols - 1) // cols
    fig = figure(12.8, 1.6 * rows + 0.3)
    for k, (name, label) in enumerate(feats):
        ax = fig.add_subplot(rows, cols, k + 1)
        groups = [features.loc[~flagged, name].dropna(), features.loc[flagged, name].dropna()]
        data = [g.to_numpy(dtype=float) if len(g) else np.array([np.nan]) for g in groups]
        box = ax.boxplot(data, **_horizontal_kwargs(), widths=0.6, showfliers=False,
                         patch_artist=True, medianprops={"color": "#1d2329"})
        for patch, colour in zip(box["boxes"], ("#c5ced6", CLASS_COLOURS["simbox"])):
            patch.set_facecolor(colour)
            patch.set_alpha(0.8)
        ax.set_yticks([1, 2], ["others", "flagged"], fontsize=8.5)
        top = max(np.nanmax(d) if np.isfinite(d).any() else 0 for d in data)
        if top > 50:
            ax.set_xscale("symlog", linthresh=1)
            ax.set_xlim(left=0)
            ax.xaxis.set_major_locator(FixedLocator([0] + [10 ** k for k in range(int(np.log10(top)) + 1)]))
            ax.xaxis.set_minor_locator(FixedLocator([]))
            ax.xaxis.set_major_formatter(_plain())
        ax.set_title(label, fontsize=9.5)
        ax.tick_params(axis="x", labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.subplots_adjust(hspace=0.9, wspace=0.35)
    return _svg(fig, "features")
