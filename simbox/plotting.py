"""Matplotlib, set up once for the plots of a model folder (its PNGs; the scan report draws
its SVG itself: :mod:`simbox.report_plots`).

Figures are made with :class:`matplotlib.figure.Figure`, not pyplot: no GUI
backend is chosen or switched (a notebook's stays as it is), no figure is kept in
pyplot's global list, and ``savefig`` renders with Agg (PNG) or the SVG writer.
This module imports nothing of the project, so every layer may use it.
"""
from __future__ import annotations

from matplotlib.figure import Figure

__all__ = ["figure"]


def figure(width: float, height: float, dpi: int = 100):
    """A new Figure of ``width`` x ``height`` inches."""
    return Figure(figsize=(width, height), dpi=dpi)
