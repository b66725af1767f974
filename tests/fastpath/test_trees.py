"""The tree-ensemble kernel against a plain walk, and its refusal of nodes that are not trees."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.fastpath.trees import MISSING_CODE, Ensemble, MalformedTrees, bin_codes, bin_columns


def random_tree(rng, n_features, depth):
    """Nodes in depth-first order (children after their parent), as a boosting tree has them."""
    nodes = []

    def grow(d):
        i = len(nodes)
        nodes.append(None)
        if d == 0 or rng.random() < 0.25:
            nodes[i] = dict(value=rng.normal(), threshold=0.0, feature=0, left=0, right=0,
                            missing_left=0, is_leaf=1)
            return i
        left = grow(d - 1)
        right = grow(d - 1)
        nodes[i] = dict(value=0.0, threshold=float(rng.integers(-3, 4)),   # rows hit it exactly too
                        feature=int(rng.integers(n_features)), left=left, right=right,
                        missing_left=int(rng.integers(2)), is_leaf=0)
        return i
    grow(depth)
    return {k: np.array([n[k] for n in nodes]) for k in nodes[0]}


def walk(tree, row):
    i = 0
    while not tree["is_leaf"][i]:
        v = row[tree["feature"][i]]
        if np.isnan(v):
            i = tree["left"][i] if tree["missing_left"][i] else tree["right"][i]
        else:
            i = tree["left"][i] if v <= tree["threshold"][i] else tree["right"][i]
    return tree["value"][i]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_trees=st.integers(0, 12), k=st.integers(1, 3),
       n_features=st.integers(1, 6), rows=st.integers(0, 40))
def test_sums_equal_a_plain_walk_tree_by_tree(seed, n_trees, k, n_features, rows):
    rng = np.random.default_rng(seed)
    trees = [random_tree(rng, n_features, int(rng.integers(0, 6))) for _ in range(n_trees)]
    output = np.arange(n_trees) % k
    baseline = rng.normal(size=k)
    X = rng.integers(-4, 5, size=(rows, n_features)).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    want = np.zeros((rows, k)) + baseline
    for t, c in zip(trees, output):          # added in the trees' order: the same float sums
        want[:, c] += [walk(t, r) for r in X]
    got = Ensemble.from_nodes(trees, output, baseline, n_features).raw_predict(X)
    assert got.shape == (rows, k)
    assert np.array_equal(got, want)


def test_rows_of_another_width_are_refused():
    rng = np.random.default_rng(0)
    e = Ensemble.from_nodes([random_tree(rng, 3, 3)], [0], [0.0], 3)
    with pytest.raises(ValueError, match=r"expected rows of 3 features, got shape \(2, 4\)"):
        e.raw_predict(np.zeros((2, 4)))


def split(left, right, feature=0):
    return dict(value=0.0, threshold=0.5, feature=feature, left=left, right=right,
                missing_left=0, is_leaf=0)


LEAF = dict(value=1.0, threshold=0.0, feature=0, left=0, right=0, missing_left=0, is_leaf=1)


def tree_of(*nodes):
    return {k: np.array([n[k] for n in nodes]) for k in LEAF}


@pytest.mark.parametrize("tree, message", [
    (tree_of(split(1, 0), LEAF), "tree 0 node 0: right child 0 is not after it inside the tree (2 nodes)"),
    (tree_of(split(1, 2), LEAF, split(1, 3), LEAF),
     "tree 0 node 2: left child 1 is not after it inside the tree (4 nodes)"),
    (tree_of(split(1, 7), LEAF), "tree 0 node 0: right child 7 is not after it inside the tree (2 nodes)"),
    (tree_of(split(1, 2, feature=3), LEAF, LEAF), "tree 0 node 0: feature 3 outside the 3 features"),
    (tree_of(split(1, 2, feature=-1), LEAF, LEAF), "tree 0 node 0: feature -1 outside the 3 features"),
    ({k: np.array([]) for k in LEAF}, "tree 0: no node"),
])
def test_nodes_that_are_not_trees_are_refused(tree, message):
    # a cycle or an index past the end would loop for ever or read out of bounds in the kernel
    with pytest.raises(MalformedTrees) as e:
        Ensemble.from_nodes([tree], [0], [0.0], 3)
    assert str(e.value) == message


def test_outputs_must_match_the_baseline():
    with pytest.raises(MalformedTrees, match="an output column outside 0..1"):
        Ensemble.from_nodes([tree_of(LEAF)], [2], [0.0, 0.0], 3)
    with pytest.raises(MalformedTrees, match="1 trees but 2 output columns"):
        Ensemble.from_nodes([tree_of(LEAF)], [0, 1], [0.0, 0.0], 3)


def test_a_leaf_flag_means_the_same_to_the_check_and_the_kernel():
    # 256 does not fit the kernel's byte (it would wrap to 0, a split with unchecked
    # children): any non-zero flag is a leaf to both
    odd = dict(split(99, 99), value=2.5, is_leaf=256)
    e = Ensemble.from_nodes([tree_of(odd)], [0], [1.0], 3)
    assert e.raw_predict(np.zeros((2, 3))).tolist() == [[3.5], [3.5]]


def reference_bins(X, edges):
    """numpy, column by column: the bin of each value, NaN kept."""
    out = np.empty(X.shape)
    for j, e in enumerate(edges):
        out[:, j] = np.searchsorted(e, X[:, j], side="left")
    out[np.isnan(X)] = np.nan
    return out


_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.sampled_from([0.0, -0.0, 1.0, 2.0, 2.5]))


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(0, 6), st.integers(0, 30))
def test_bin_codes_equal_numpy_searchsorted(data, m, n):
    edges = [np.sort(np.array(data.draw(st.lists(st.one_of(
        st.floats(allow_nan=False, allow_infinity=True), st.sampled_from([1.0, 2.0, 2.0])),
        max_size=12)), dtype=float)) for _ in range(m)]
    X = np.array(data.draw(st.lists(st.lists(_values, min_size=m, max_size=m), min_size=n,
                                    max_size=n)), dtype=float).reshape(n, m)
    if data.draw(st.booleans()):
        X = np.asfortranarray(X)
    assert np.array_equal(bin_codes(X, edges), reference_bins(X, edges), equal_nan=True)


def test_bin_codes_refuse_rows_of_another_width():
    with pytest.raises(ValueError, match="expected rows of 2 features"):
        bin_codes(np.zeros((3, 1)), [np.array([1.0]), np.array([2.0])])


# ---- byte codes: raw_predict_codes and bin_columns against the float kernels ---------------

THRESHOLDS = [-np.inf, -1.5, -1.0, 0.0, 0.5, 1.0, 3.0, 3.5, 253.5, 254.0, 300.0, np.inf, np.nan]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_trees=st.integers(1, 12), k=st.integers(1, 3),
       n_features=st.integers(1, 6), rows=st.integers(0, 40))
def test_byte_codes_give_the_float_sums_bit_for_bit(seed, n_trees, k, n_features, rows):
    rng = np.random.default_rng(seed)
    trees = [random_tree(rng, n_features, int(rng.integers(0, 6))) for _ in range(n_trees)]
    for t in trees:            # thresholds between, on and beyond the codes, and NaN
        t["threshold"] = rng.choice(THRESHOLDS, size=len(t["threshold"]))
    e = Ensemble.from_nodes(trees, np.arange(n_trees) % k, rng.normal(size=k), n_features)
    codes = rng.choice([0, 1, 2, 3, 4, 253, 254, 255], size=(rows, n_features)).astype(np.uint8)
    X = np.where(codes == 255, np.nan, codes.astype(float))
    assert np.array_equal(e.raw_predict_codes(codes), e.raw_predict(X))


def test_byte_codes_of_another_width_or_type_are_refused():
    rng = np.random.default_rng(0)
    e = Ensemble.from_nodes([random_tree(rng, 3, 3)], [0], [0.0], 3)
    with pytest.raises(ValueError, match=r"expected uint8 codes of 3 features, got float64 "
                                         r"of shape \(2, 3\)"):
        e.raw_predict_codes(np.zeros((2, 3)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(0, 30), m=st.integers(1, 5))
def test_bin_columns_are_bin_codes_as_bytes(seed, rows, m):
    rng = np.random.default_rng(seed)
    edges = [np.unique(rng.integers(-5, 6, size=int(rng.integers(0, 9))).astype(float))
             for _ in range(m - 1)] + [np.arange(254.0)]          # the most a byte holds
    X = rng.choice([-6.0, -5.0, -0.5, 0.0, 0.5, 2.0, 5.0, 7.0, 100.0, 253.0, 300.0, np.inf,
                    -np.inf, np.nan], size=(rows, m))
    masked = [rng.random(rows) < 0.3 if rng.random() < 0.5 else None for _ in range(m)]
    want = bin_codes(X, edges)
    for j, mk in enumerate(masked):
        if mk is not None:
            want[mk, j] = np.nan
    got = bin_columns([X[:, j].copy() for j in range(m)], edges, masked)
    assert got.dtype == np.uint8 and got.shape == (rows, m)
    assert np.array_equal(np.where(got == MISSING_CODE, np.nan, got), want, equal_nan=True)


def test_bin_columns_refuse_more_edges_than_a_byte_holds():
    with pytest.raises(ValueError, match="column 0: 3 values, 255 edges"):
        bin_columns([np.zeros(3)], [np.arange(255.0)])


@pytest.mark.parametrize("rows", [0, 1, 2, 7, 3001])
def test_two_threads_give_the_codes_and_sums_of_one(rows, monkeypatch):
    """From THREADED_ROWS rows the byte kernels run on two threads, each on half of the rows:
    the same codes and the same sums, bit for bit, as one pass (and as the float walk)."""
    from simbox.fastpath import trees
    rng = np.random.default_rng(rows)
    m = 5
    tree_list = [random_tree(rng, m, int(rng.integers(0, 6))) for _ in range(20)]
    e = Ensemble.from_nodes(tree_list, np.arange(20) % 3, rng.normal(size=3), m)
    edges = [np.unique(rng.normal(size=int(rng.integers(0, 30)))) for _ in range(m)]
    X = rng.normal(size=(rows, m))
    X[rng.random((rows, m)) < 0.1] = np.nan
    masked = [rng.random(rows) < 0.2 if j % 2 else None for j in range(m)]
    monkeypatch.setattr(trees, "THREADED_ROWS", 10**9)
    one_codes = bin_columns([X[:, j].copy() for j in range(m)], edges, masked)
    one_sums = e.raw_predict_codes(one_codes)
    monkeypatch.setattr(trees, "THREADED_ROWS", 1)
    calls = []
    real = e._code_trees          # made by the first call

    class Spy:
        def raw_predict(self, codes, out):
            calls.append(len(codes))
            real.raw_predict(codes, out)
    if real is not None:
        e._code_trees = Spy()
    two_codes = bin_columns([X[:, j].copy() for j in range(m)], edges, masked)
    two_sums = e.raw_predict_codes(two_codes)
    assert np.array_equal(two_codes, one_codes)
    assert np.array_equal(two_sums, one_sums)
    assert np.array_equal(two_sums, e.raw_predict(np.where(one_codes == MISSING_CODE, np.nan,
                                                           one_codes.astype(float))))
    assert (sorted(calls) == [rows // 2, rows - rows // 2]) or rows == 0


def test_bin_columns_kernel_fills_its_rows_and_refuses_what_does_not_fit():
    """``_trees.bin_columns`` (every column in one call without the GIL): rows ``lo:hi`` only,
    as ``bin_codes`` bins them; lists of another length, a column or mask of other rows and
    rows outside ``out`` are a ValueError naming them, not a read out of bounds."""
    from simbox.fastpath import _trees
    X = np.array([[0.5, np.nan], [3.0, 1.0], [-1.0, 9.0], [2.0, 0.0]])
    edges = [np.array([0.0, 1.0, 2.0]), np.array([0.5])]
    mask = np.array([0, 0, 1, 0], dtype=np.uint8)
    out = np.full((4, 2), 7, dtype=np.uint8)
    _trees.bin_columns([X[:, 0].copy(), X[:, 1].copy()], edges, [np.empty(0, np.uint8), mask],
                       out, 1, 3)
    assert out.tolist() == [[7, 7], [3, 1], [0, MISSING_CODE], [7, 7]]
    cols = [X[:, 0].copy(), X[:, 1].copy()]
    none = [np.empty(0, np.uint8)] * 2
    with pytest.raises(ValueError, match="one values, edges and mask array per column"):
        _trees.bin_columns(cols, edges[:1], none, out, 0, 4)
    with pytest.raises(ValueError, match=r"rows 2:5 outside the 4 of out"):
        _trees.bin_columns(cols, edges, none, out, 2, 5)
    with pytest.raises(ValueError, match="column 1 has 3 values and a mask of 0 for 4 rows"):
        _trees.bin_columns([cols[0], cols[1][:3].copy()], edges, none, out, 0, 4)
    with pytest.raises(ValueError, match="column 0 has 4 values and a mask of 2 for 4 rows"):
        _trees.bin_columns(cols, edges, [np.zeros(2, np.uint8), none[1]], out, 0, 4)
