"""The feature schema a model is tied to: the feature registry's names and hash.

A model uses every registry feature except absolute times (unit ``epoch s``:
``first_seen``, ``last_seen``), which say *when* the data was taken, not how a
SIM behaves, and would not carry over to another week of data.  The hash covers
what the feature values mean (names, dtypes, units, meanings, evidence rules and
the constants of ``fastpath/constants.py``; see ``features.registry.schema_hash``):
any change to it makes old models refuse to load.
"""
from __future__ import annotations

from simbox.features.registry import REGISTRY, schema_hash

EXCLUDED_UNITS = ("epoch s",)


def own_features_unchanged(model_names, model_hash) -> bool:
    """True if the registry defines a model's features as when it was made, features added
    since aside: the hash of the registry restricted to the model's features (and the
    absolute times every registry has) is the model's hash."""
    names = set(model_names) | {f.name for f in REGISTRY if f.unit in EXCLUDED_UNITS}
    return set(model_names) <= {f.name for f in REGISTRY} and schema_hash(names) == model_hash


def registry_schema() -> tuple[list[str], str]:
    """``(model feature names, schema_hash)`` of this simbox's feature registry."""
    return [f.name for f in REGISTRY if f.unit not in EXCLUDED_UNITS], schema_hash()
