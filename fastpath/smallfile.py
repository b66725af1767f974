"""A small text file people write (labels, exclusions, verdicts, test-call results, probe
numbers), read whole with the one-line errors every such reader gives.

Small files only: the CDR readers stream through :mod:`simbox.fastpath.bytesource`.
"""
from __future__ import annotations

import os

from simbox.errors import InputError

__all__ = ["read_small_text", "check_digits"]


def read_small_text(path, what: str) -> tuple[str, str]:
    """``(name, text)`` of a path or a file object (text or bytes), UTF-8 with or without a
    byte-order mark.  ``what`` names the file in the errors: ``"<name>: no such <what>
    file"``, ``"<name>: not UTF-8 text (byte N); save the <what> as UTF-8 CSV"``."""
    if hasattr(path, "read"):
        name = getattr(path, "name", f"<{what}>")
        text = path.read()
        return name, text.decode("utf-8-sig") if isinstance(text, bytes) else text
    name = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return name, fh.read()
    except FileNotFoundError:
        raise InputError(f"{name}: no such {what} file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a folder, not a {what} file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text (byte {exc.start}); save the {what} as "
                         "UTF-8 CSV") from None


def check_digits(value: str, lo: int = 1, hi: int = 18) -> str | None:
    """Why ``value`` is not a string of ``lo`` to ``hi`` digits (None: it is)."""
    if not (value.isascii() and value.isdigit()):
        return f"{value!r} is not a string of digits"
    if not lo <= len(value) <= hi:
        want = f"{lo}" if lo == hi else f"{lo} to {hi}"
        return f"{value!r} has {len(value)} digits, expected {want}"
    return None
