"""simbox.features: the feature catalogue and per-IMSI feature tables."""
