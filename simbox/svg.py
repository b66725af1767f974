"""Inline SVG for the report, built with ElementTree (which escapes every text and value).

The map (:mod:`simbox.report_map`) and the plots (:mod:`simbox.report_plots`) draw
with these: :func:`root` makes an ``<svg>`` with a viewBox the page scales,
:func:`add` a child (``stroke_width=`` is the attribute ``stroke-width``), and
:func:`text` the markup.  This module imports nothing of the project.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

__all__ = ["root", "add", "text", "num", "escape_text"]

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
    """The markup of ``svg``: ``ET.tostring(svg, encoding="unicode")``, written here for the
    elements :func:`root` and :func:`add` make (plain tag and attribute names, texts): a
    report's maps and plots hold thousands, and ElementTree's writer spends most of its
    time on namespaces they do not have.  Anything else is left to ElementTree."""
    out: list[str] = []
    try:
        _write(svg, out.append)
    except _NotPlain:
        return ET.tostring(svg, encoding="unicode", short_empty_elements=True)
    return "".join(out)


class _NotPlain(Exception):
    """An element :func:`_write` leaves to ElementTree (a namespace, a comment, a value that
    is not a text)."""


def _write(e: ET.Element, put) -> None:
    """``e`` as ElementTree writes it (``short_empty_elements``), piece by piece to ``put``."""
    tag = e.tag
    if type(tag) is not str or tag[:1] == "{":
        raise _NotPlain
    attrs = []
    for k, v in e.items():
        if type(k) is not str or k[:1] == "{" or type(v) is not str:
            raise _NotPlain
        attrs.append(f' {k}="{_escape_attrib(v)}"')
    put("<" + tag + "".join(attrs))
    text, tail = e.text, e.tail
    if text is not None and type(text) is not str or tail is not None and type(tail) is not str:
        raise _NotPlain
    if text or len(e):
        put(">")
        if text:
            put(escape_text(text))
        for child in e:
            _write(child, put)
        put("</" + tag + ">")
    else:
        put(" />")
    if tail:
        put(escape_text(tail))


def escape_text(s: str) -> str:
    """A text with ``&``, ``<`` and ``>`` escaped, as ElementTree escapes element text."""
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    return s


def _escape_attrib(s: str) -> str:
    """An attribute's value as ElementTree escapes it."""
    s = escape_text(s)
    if '"' in s:
        s = s.replace('"', "&quot;")
    if "\r" in s:
        s = s.replace("\r", "&#13;")
    if "\n" in s:
        s = s.replace("\n", "&#10;")
    if "\t" in s:
        s = s.replace("\t", "&#09;")
    return s


def num(v: float) -> str:
    """A coordinate as short text: one decimal, no trailing ``.0``."""
    s = f"{float(v):.1f}"
    return s[:-2] if s.endswith(".0") else s
