"""Inline SVG for the report, built with ElementTree (which escapes every text and value).

The map (:mod:`simbox.report_map`) and the plots (:mod:`simbox.report_plots`) draw
with these: :func:`root` makes an ``<svg>`` with a viewBox the page scales,
:func:`add` a child (``stroke_width=`` is the attribute ``stroke-width``), and
:func:`text` the markup.  This module imports nothing of the project.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

__all__ = ["root", "add", "text", "num"]

NAMESPACE = "http://www.w3.org/2000/svg"


def root(width: float, height: float, label: str, css_class: str | None = None) -> ET.Element:
    """An ``<svg>`` of ``width`` x ``height`` user units (the page sizes it), ``label`` read out."""
    attrs = {"viewBox": f"0 0 {num(width)} {num(height)}", "xmlns": NAMESPACE, "role": "img",
             "aria-label": label, "font-family": "sans-serif"}
    if css_class:
        attrs = {"class": css_class, **attrs}
    return ET.Element("svg", attrs)


def add(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    """A child element; ``stroke_width=`` becomes the attribute ``stroke-width``."""
    e = ET.SubElement(parent, tag, {k.replace("_", "-"): v for k, v in attrs.items()})
    e.text = text
    return e


def text(svg: ET.Element) -> str:
    """The markup of ``svg``."""
    return ET.tostring(svg, encoding="unicode", short_empty_elements=True)


def num(v: float) -> str:
    """A coordinate as short text: one decimal, no trailing ``.0``."""
    s = f"{float(v):.1f}"
    return s[:-2] if s.endswith(".0") else s
