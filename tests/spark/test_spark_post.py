"""The features computed after the kernel (features/post.py) in Spark, against the local
engine's functions (on a network: test_spark_features.py)."""
import numpy as np
import pytest

from simbox.features import post
from simbox.features.registry import feature_names

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def test_distributed_percentile_ranks_equal_the_local_ranks(spark):
    """Many ties, levels of several features, more range partitions than distinct levels of
    one feature: the ranks equal post.percentile_rank's exactly."""
    from simbox.spark.post import percentile_ranks
    rng = np.random.default_rng(5)
    rows = []
    want = {}
    for f, distinct in ((0, 3), (1, 50), (2, 2000)):
        x = rng.integers(0, distinct, 3000) / 7.0
        want[f] = post.percentile_rank(x, np.ones(len(x), bool))
        rows += [(i, f, float(v)) for i, v in enumerate(x)]
    df = spark.createDataFrame(rows, "imsi long, f int, x double")
    ranks, held = percentile_ranks(df, 9)
    got = ranks.collect()
    held.unpersist()
    for f in want:
        v = np.full(3000, np.nan)
        for r in got:
            if r.f == f:
                v[r.imsi] = r.v
        np.testing.assert_array_equal(v, want[f])


def test_every_post_feature_has_its_spark_form():
    from simbox.spark.post import DEFAULTS, ROW_WISE
    assert set(post.POST) == set(DEFAULTS) | set(ROW_WISE)
    assert set(post.POST) <= set(feature_names())
