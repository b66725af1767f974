"""The engines that compute a feature table: ``local`` (this machine) or ``spark``.

``compute(engine, inputs, **options)`` calls :func:`simbox.features.compute_features`
or :func:`simbox.spark.compute_features_spark` with the same options (those of
``compute_features``; ``spark_master`` and ``in_spark`` only for Spark: with it the table
stays in Spark, for a scan that scores it there: simbox.spark.scan).  Both give the same
table.
"""
from __future__ import annotations

from simbox.errors import ConfigError

ENGINES = ("local", "spark")


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    return engine


def compute(engine: str, inputs, *, spark_master=None, **options):
    """The :class:`~simbox.features.FeatureResult` of ``inputs`` computed by ``engine``."""
    if check_engine(engine) == "spark":
        from simbox.spark import compute_features_spark  # lazy: pyspark, only for this engine
        if options.get("signaling"):
            raise ConfigError("the Spark engine reads CDRs only: compute the features of "
                              "signaling captures with --engine local")
        options.pop("signaling", None)
        if options.pop("probe_numbers", None):
            raise ConfigError("the Spark engine does not drop test-call probe numbers yet: give "
                              "--probe-numbers with --engine local")
        return compute_features_spark(inputs, master=spark_master, **options)
    from simbox.features import compute_features  # lazy: as the commands import it
    return compute_features(inputs, **options)
