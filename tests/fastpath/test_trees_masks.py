"""Byte codes scored by leaf masks (``_trees_masks.h``) against the float walk
(``raw_predict``) and scikit-learn's ``_raw_predict``, at every vector width the CPU runs:
trees of 1 to 20 levels, single leaves, trees over 32 leaves (walked), NaN, ties at the
thresholds, blocks under MASK_MIN_ROWS rows, and node arrays that are not trees."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simbox.fastpath import _trees
from simbox.fastpath.trees import MASK_LEAVES, MISSING_CODE, Ensemble, mask_trees

LEVELS = sorted({_trees.masks_set_level(k) for k in (0, 1, 2)})
_trees.masks_set_level(-1)


@pytest.fixture(params=LEVELS, ids=lambda k: ("sse2", "avx2", "avx512")[k])
def level(request):
    """Each vector width this CPU runs (the widest again afterwards)."""
    assert _trees.masks_set_level(request.param) == request.param
    yield request.param
    _trees.masks_set_level(-1)


def grown_tree(rng, n_features, depth, leafy):
    """Nodes in preorder, as a boosting tree has them; a node stops early with chance
    ``1 - leafy``; thresholds on, between and beyond the codes, and NaN."""
    nodes = []

    def grow(d):
        i = len(nodes)
        nodes.append(None)
        if d == 0 or rng.random() > leafy:
            nodes[i] = dict(value=rng.normal(), threshold=0.0, feature=0, left=0, right=0,
                            missing_left=0, is_leaf=1)
            return i
        left = grow(d - 1)
        right = grow(d - 1)
        threshold = rng.choice([-np.inf, -1.0, 0.0, 0.5, 1.0, 2.0, 3.5, 253.5, 254.0, 300.0,
                                np.inf, np.nan, float(rng.integers(0, 6))])
        nodes[i] = dict(value=0.0, threshold=threshold, feature=int(rng.integers(n_features)),
                        left=left, right=right, missing_left=int(rng.integers(2)), is_leaf=0)
        return i
    grow(depth)
    return {k: np.array([n[k] for n in nodes]) for k in nodes[0]}


def as_floats(codes):
    return np.where(codes == MISSING_CODE, np.nan, codes.astype(float))


@settings(max_examples=30, deadline=None,   # the level stays for every example
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n_trees=st.integers(1, 10), k=st.integers(1, 3),
       n_features=st.integers(1, 6), rows=st.sampled_from([0, 1, 63, 64, 65, 255, 256, 300, 356, 530]))
def test_masks_give_the_walks_sums_bit_for_bit(level, seed, n_trees, k, n_features, rows):
    rng = np.random.default_rng(seed)
    trees = [grown_tree(rng, n_features, int(rng.integers(0, 21)), rng.uniform(0.3, 0.7))
             for _ in range(n_trees)]
    e = Ensemble.from_nodes(trees, np.arange(n_trees) % k, rng.normal(size=k), n_features)
    codes = rng.choice([0, 1, 2, 3, 4, 5, 253, 254, 255], size=(rows, n_features)).astype(np.uint8)
    assert np.array_equal(e.raw_predict_codes(codes), e.raw_predict(as_floats(codes)))


def test_large_trees_are_walked_and_small_ones_masked():
    rng = np.random.default_rng(3)
    trees = [grown_tree(rng, 4, 0, 1.0), grown_tree(rng, 4, 5, 1.0), grown_tree(rng, 4, 6, 1.0)]
    e = Ensemble.from_nodes(trees, [0, 0, 0], [0.5], 4)
    _, start, by_masks, leaves = mask_trees(e.nodes, e.roots)
    assert by_masks.tolist() == [1, 1, 0]        # 1, 32 and 64 leaves
    assert np.diff(start).tolist() == [0, 31, 0]
    assert leaves[0] == trees[0]["value"][0]
    assert leaves[MASK_LEAVES:2 * MASK_LEAVES].tolist() == \
        trees[1]["value"][trees[1]["is_leaf"] == 1].tolist()
    codes = rng.integers(0, 256, size=(700, 4)).astype(np.uint8)
    assert np.array_equal(e.raw_predict_codes(codes), e.raw_predict(as_floats(codes)))


def test_nodes_shared_or_unreached_are_walked(level):
    # children after their parent (so accepted) but not a tree: node 2 is the right child
    # of 0 and of 1; in the other, node 3 no node reaches.  Masks would clear a passing row's leaf.
    def node(is_leaf, left=0, right=0, value=0.0, threshold=0.5):
        return dict(value=value, threshold=threshold, feature=0, left=left, right=right,
                    missing_left=0, is_leaf=is_leaf)
    shared = [node(0, 1, 2), node(0, 3, 2, threshold=-0.5), node(1, value=2.0),
              node(1, value=3.0)]
    unreached = [node(0, 1, 2), node(1, value=1.0), node(1, value=4.0), node(1, value=8.0)]
    trees = [{k: np.array([n[k] for n in t]) for k in shared[0]} for t in (shared, unreached)]
    e = Ensemble.from_nodes(trees, [0, 0], [0.0], 1)
    assert mask_trees(e.nodes, e.roots)[2].tolist() == [0, 0]
    codes = np.tile(np.array([[0], [1], [255]], dtype=np.uint8), (10, 1))
    assert e.raw_predict_codes(codes)[:3, 0].tolist() == [2.0 + 1.0, 2.0 + 4.0, 2.0 + 4.0]


@pytest.mark.parametrize("max_leaf_nodes, max_depth", [(31, None), (8, 3), (None, 20), (64, None)])
def test_masks_give_scikit_learns_raw_predict(level, max_leaf_nodes, max_depth):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from simbox.training.model import packed_trees
    rng = np.random.default_rng(max_depth or 7)
    n, m = 3000, 8
    X = rng.integers(0, 40, size=(n, m)).astype(float)
    X[:, 5] = rng.integers(0, 255, size=n)                 # the most bins a byte holds
    X[rng.random(X.shape) < 0.15] = np.nan
    y = ((np.nan_to_num(X[:, 0], nan=20) + rng.normal(0, 8, n) > 20).astype(int)
         + (np.nan_to_num(X[:, 1], nan=5) > 30))
    clf = HistGradientBoostingClassifier(max_iter=15, max_leaf_nodes=max_leaf_nodes,
                                         max_depth=max_depth, min_samples_leaf=5,
                                         random_state=0).fit(X, y)
    e = packed_trees(clf)
    Xt = rng.integers(-1, 42, size=(1500, m)).astype(float)     # ties with every threshold
    Xt[:, 5] = rng.integers(0, 255, size=1500)
    Xt[rng.random(Xt.shape) < 0.15] = np.nan
    codes = np.where(np.isnan(Xt), MISSING_CODE, np.clip(Xt, 0, 254)).astype(np.uint8)
    want = clf._raw_predict(as_floats(codes))
    assert np.array_equal(e.raw_predict_codes(codes), want)
    assert np.array_equal(e.raw_predict_codes(codes[:9]), want[:9])


@pytest.fixture(scope="module")
def farm_features(tmp_path_factory):
    """The sample network with a card farm of 400 SIMs on one device: its features."""
    from simbox.features import compute_features
    from tests.farms import small_farm
    path = tmp_path_factory.mktemp("farm") / "cdrs.csv"
    src = small_farm(path, "35000000000001", 400)
    return compute_features(path, cells=src / "cells.csv", tac=src / "tac.csv").features


def test_the_shipped_model_on_farm_and_sample_rows(level, farm_features):
    from simbox.training.folder import DEFAULT_MODEL
    from simbox.training.scoring import (bin_columns, evidence_masks, feature_columns,
                                         load_scorer)
    model = load_scorer(DEFAULT_MODEL)
    s = model.scoring
    columns = feature_columns(farm_features, model.feature_names, s["columns"])
    codes = bin_columns(columns, s["edges"], evidence_masks(columns, s["rules"],
                                                            s["min_events"]))
    assert len(codes) > 400 and mask_trees(s["ensemble"].nodes, s["ensemble"].roots)[2].all()
    want = s["ensemble"].raw_predict(as_floats(codes))
    for rows in (codes, codes[:1], codes[:100], np.repeat(codes, 25, axis=0)[:10000]):
        got = s["ensemble"].raw_predict_codes(rows)
        assert np.array_equal(got, want[:len(got)] if len(rows) <= len(want)
                              else s["ensemble"].raw_predict(as_floats(rows)))


def test_more_features_than_the_codes_hold_are_refused():
    e = Ensemble.from_nodes([{"value": np.array([1.0]), "threshold": np.array([0.0]),
                              "feature": np.array([0]), "left": np.array([0]),
                              "right": np.array([0]), "missing_left": np.array([0]),
                              "is_leaf": np.array([1])}], [0], [0.0], 40000)
    with pytest.raises(ValueError, match="byte codes take at most 32767 features, not 40000"):
        e.raw_predict_codes(np.zeros((2, 40000), dtype=np.uint8))


def test_a_used_ensemble_copies_and_pickles():
    import copy
    import pickle
    rng = np.random.default_rng(5)
    e = Ensemble.from_nodes([grown_tree(rng, 3, 4, 0.7) for _ in range(4)], [0, 1, 0, 1],
                            [0.1, -0.2], 3)
    codes = rng.integers(0, 256, size=(200, 3)).astype(np.uint8)
    want = e.raw_predict_codes(codes)
    for other in (copy.deepcopy(e), pickle.loads(pickle.dumps(e))):
        assert np.array_equal(other.raw_predict_codes(codes), want)
