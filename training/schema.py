"""The feature schema a model is tied to: the names and hash of the feature registry."""
from __future__ import annotations


def registry_schema() -> tuple[list[str], str]:
    """``(feature_names, schema_hash)`` of this simbox's feature registry."""
    from simbox.features.registry import feature_names, schema_hash
    return list(feature_names()), schema_hash()
