"""Comparisons of the Spark engine's results with the local engine's."""
import numpy as np


def assert_same_features(a, b):
    """The feature tables of two FeatureResults: same subscribers, integers equal, floats
    within 1e-9 (NaN where NaN)."""
    fa, fb = a.features, b.features
    assert list(fa.index) == list(fb.index)
    assert list(fa.columns) == list(fb.columns)
    for c in fa.columns:
        x, y = fa[c].to_numpy(), fb[c].to_numpy()
        if x.dtype.kind == "f":
            np.testing.assert_allclose(y, x, rtol=0, atol=1e-9, equal_nan=True, err_msg=c)
        else:
            np.testing.assert_array_equal(y, x, err_msg=c)
