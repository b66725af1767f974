"""HTML pages from the Jinja2 templates in ``simbox/templates/``, autoescape on.

``base.html`` is the frame of every page; ``report.html`` (a scan) and
``model_report.html`` (a model folder) extend it and include partials
(``_*.html``).  Values are escaped by the templates; markup simbox draws itself
(the SVG map and plots) is passed as :class:`markupsafe.Markup`.  This module
imports nothing of the project, so every layer may render a page.
"""
from __future__ import annotations

import functools

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

__all__ = ["render", "compile_templates", "Markup"]


@functools.cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("simbox", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def render(name: str, **context) -> str:
    """The text of template ``name`` filled with ``context``."""
    return _environment().get_template(name).render(**context)


def compile_templates(names) -> None:
    """Templates ``names`` compiled now (kept by the environment for :func:`render`): a
    command compiles those of its page while it waits for other work."""
    env = _environment()
    for name in names:
        env.get_template(name)
