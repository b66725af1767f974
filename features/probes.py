"""Probe numbers: calls to a test-call system's probes are not ordinary calls.

A test-call campaign calls the carrier's own probe numbers from abroad; a SIM box that
terminates one makes an MOC to the probe.  Those calls are evidence
(:mod:`simbox.feedback.testcalls`), not behaviour: left in, the probes would be callees
that many box SIMs share, and a model trained on test-call labels would learn "calls
the probe" instead of what a box does.  ``--probe-numbers FILE`` (features, scan, train,
evaluate) drops every MOC to a listed number before the features are computed.

The file lists one number per line (E.164 digits as the CDRs write the called party;
``+``, spaces and dashes are ignored; ``#`` starts a comment), or is a CSV whose header
has a ``number`` (or ``b_number``) column.
"""
from __future__ import annotations

import csv
import io
import os

import numpy as np

from simbox.errors import InputError, ParseError
from simbox.fastpath.events import EventBatch, RecordType, encode_digits
from simbox.fastpath.smallfile import read_small_text

__all__ = ["read_probe_numbers", "probe_codes", "drop_probe_calls"]

_IGNORED = str.maketrans("", "", "+ -().")


def read_probe_numbers(path) -> list[str]:
    """The digit strings of a probe numbers file (see the module docstring)."""
    name, text = read_small_text(path, "probe numbers")
    lines = text.splitlines()
    first = lines[0].strip().lower() if lines else ""
    if "," in first or first in ("number", "b_number"):
        rows = list(csv.reader(io.StringIO(text)))
        header = [h.strip().lower() for h in rows[0]]
        col = next((header.index(c) for c in ("number", "b_number") if c in header), None)
        if col is None:
            raise ParseError("no number column", path=name, line=1,
                             detail=f"header is {','.join(header)}; expected number or b_number")
        values = [(i, r[col] if col < len(r) else "") for i, r in enumerate(rows[1:], start=2)]
    else:
        values = list(enumerate(lines, start=1))
    out = []
    for line, v in values:
        v = v.split("#", 1)[0].strip().translate(_IGNORED)
        if not v:
            continue
        if not (v.isascii() and v.isdigit() and len(v) <= 18):
            raise ParseError(f"{v!r} is not a phone number (digits)", path=name, line=line)
        out.append(v)
    if not out:
        raise InputError(f"{name}: no probe number in the file")
    return sorted(set(out))


def probe_codes(numbers) -> np.ndarray:
    """Digits codes (fastpath/events.py) of probe numbers: a file or an iterable of digits."""
    if isinstance(numbers, (str, os.PathLike)):
        numbers = read_probe_numbers(numbers)
    return np.unique(np.array([encode_digits(str(n)) for n in numbers], dtype=np.int64))


def drop_probe_calls(batches, codes: np.ndarray, counter: dict):
    """The event batches without their MOC to a probe (``codes``: :func:`probe_codes`);
    ``counter["probe_calls_dropped"]`` counts what was dropped."""
    counter.setdefault("probe_calls_dropped", 0)
    for b in batches:
        drop = (b.rtype == int(RecordType.MOC)) & np.isin(b.other, codes)
        if not drop.any():
            yield b
            continue
        counter["probe_calls_dropped"] += int(drop.sum())
        kept = b.take(~drop)
        b.recycle()
        yield EventBatch(kept.columns(), b.source, extra=kept.extra)
