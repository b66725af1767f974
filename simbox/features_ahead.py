"""A scan's feature run started before pandas is imported (the ``simbox scan`` command).

Importing pandas and the scan's modules takes about 0.3 s at the start of ``simbox
scan``, while the feature run that follows spends its time in reading kernels that
release the GIL.  :class:`FeaturesAhead` starts :func:`simbox.features.compute_features`
in a thread at once, before those imports; :func:`simbox.scan.scan` (``features_ahead``)
takes its result instead of computing the features again, when it was started with
the options the scan would use (:meth:`FeaturesAhead.matches`).

Started only for the local engine.  Without ``--timezone`` the model's card decides the
time zone: it is read from the model folder's ``model.json`` at once (plain JSON; the
scan reads and checks the folder again, and a run whose options turn out not to match
is not taken).
Rejected records go to a temporary file (unless ``--rejects`` names one), which the
scan copies into its output folder as it does its own; :meth:`FeaturesAhead.close`
removes it.  Warnings of the run are recorded and handed to the scan, which says them
as it says those of its own run.  This module imports neither pandas nor the scan.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
import warnings

from simbox.background import Background

__all__ = ["FeaturesAhead", "start"]


class FeaturesAhead(Background):
    """:func:`~simbox.features.compute_features` of ``inputs`` with ``options`` (its keyword
    arguments, ``rejects`` among them or not), running in a daemon thread."""

    def __init__(self, inputs: list, options: dict):
        self.inputs = list(inputs)
        self.options = dict(options)
        self._tmp = None
        if self.options.get("rejects") is None:
            self._tmp = tempfile.mkdtemp(prefix="simbox-scan-rejects-")
            self.options["rejects"] = os.path.join(self._tmp, "rejects.csv")
        self.rejects = self.options["rejects"]
        self.warnings: list = []
        super().__init__(self._compute, "simbox-features-ahead")

    def _compute(self):
        from simbox.features import compute_features  # lazy: this module is imported first
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return compute_features(self.inputs, **self.options)
            finally:
                self.warnings = list(caught)

    def matches(self, inputs: list, options: dict) -> bool:
        """Whether this run is the one a scan of ``inputs`` with the feature ``options``
        (those of ``compute_features`` but ``rejects``; None as not given) would make."""
        def given(d):
            return {k: v for k, v in d.items() if k != "rejects" and v is not None}
        return list(inputs) == self.inputs and given(self.options) == given(options)

    def close(self) -> None:
        """Remove the temporary rejects file (the scan has copied it).  A run the scan did
        not wait for (it failed first: a bad option) is left to end with the process."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def start(inputs, *, engine: str, timezone=None, model=None,
          **options) -> FeaturesAhead | None:
    """A :class:`FeaturesAhead` for a scan of ``inputs`` (``options``: the input options of
    the command, :func:`simbox.options.input_options`, with ``signaling`` and ``progress``),
    or None when the scan runs on another engine, reads no CDR file, or takes its time
    zone from a model whose card cannot be read here (``timezone`` None;
    :func:`card_timezone` of ``model``, the shipped one when None)."""
    if engine != "local" or not inputs:
        return None
    timezone = timezone or card_timezone(model)
    if not timezone:
        return None
    return FeaturesAhead(list(inputs), dict(options, timezone=timezone))


def card_timezone(model=None) -> str | None:
    """The time zone a scan with no ``--timezone`` takes from the model folder ``model``
    (the shipped default when None): its card's, else UTC, as
    :func:`simbox.training.run.model_timezone` decides; None when ``model.json`` cannot
    be read as a JSON object (the scan then says why)."""
    from simbox.training.folder import DEFAULT_MODEL  # numpy only
    folder = pathlib.Path(model) if model else DEFAULT_MODEL
    try:
        card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(card, dict):
        return None
    return card.get("timezone") or "UTC"
