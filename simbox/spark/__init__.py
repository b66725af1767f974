"""simbox on Apache Spark: the same kernels over a carrier's data lake (docs/spark.md).

``spark_features(df)`` gives the per-subscriber feature table of a Spark DataFrame of
CDRs (the canonical layout or any column profile), equal to the local engine's
(:func:`simbox.features.compute_features`) on the same records;
``read_cdrs(spark, inputs)`` makes that DataFrame from Parquet, ORC or CSV paths
(hive partitions pruned by ``time_from``/``time_to`` as the local readers do);
``compute_features_spark(inputs, ...)`` is both, with the options of
``compute_features`` (the ``--engine spark`` of ``simbox features`` and ``scan``).

pyspark is an optional dependency (``pip install simbox[spark]``); importing this
package without it raises an ImportError that says so.
"""
try:
    import pyspark  # noqa: F401  (probe: the engine needs it)
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(f"the Spark engine needs pyspark ({exc}): pip install 'simbox[spark]' "
                      "(and Java 17 on the machine)") from exc

from simbox.spark.features import compute_features_spark, spark_features  # noqa: E402
from simbox.spark.session import get_session, read_cdrs  # noqa: E402

__all__ = ["compute_features_spark", "get_session", "read_cdrs", "spark_features"]
