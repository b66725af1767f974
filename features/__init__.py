"""simbox.features: the feature catalogue and per-IMSI feature tables."""
try:
    from simbox.features import _comove, _post  # noqa: F401  (probe: are the kernels built?)
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(f"simbox's feature kernels (features/_*.pyx) are not built ({exc}): "
                      "rebuild from the source folder with pip install -e .") from exc
from simbox.features.registry import (REGISTRY, Feature, catalogue, feature_names,  # noqa: F401
                                      schema_hash)
from simbox.features.compute import (FeatureResult, compute_features,  # noqa: E402,F401
                                     features_from_events, features_from_reduced,
                                     write_table)

__all__ = ["REGISTRY", "Feature", "FeatureResult", "catalogue", "compute_features",
           "feature_names", "features_from_events", "features_from_reduced", "schema_hash", "write_table"]
