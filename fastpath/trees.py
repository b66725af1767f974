"""A tree ensemble (gradient boosting) scored row by row: the sum of leaf values per output.

:meth:`Ensemble.from_nodes` takes the trees as node arrays (children numbered
within their tree), checks every node and packs them for the kernel
(``_trees.raw_predict``); :meth:`Ensemble.raw_predict` gives, for each row of
``X``, ``baseline[c]`` plus the leaf values of the trees of output ``c``, added
tree by tree in the order given: the same floating-point sums as scikit-learn's
``HistGradientBoosting*._raw_predict``, several times faster (each row walks all
trees while it is in the cache).

A scan scores byte codes (:func:`bin_columns`, :meth:`Ensemble.raw_predict_codes`): the
same leaves, so the same sums.  There a tree of at most :data:`MASK_LEAVES` leaves is
scored by leaf masks (:func:`mask_trees`, ``_trees_masks.h``): every split of the tree
tested for 256 rows at once, vectorised, instead of each row's walk down its path
(branches the CPU cannot foresee); 4-5x less CPU than the walk for the shipped model
(``benchmarks/bench_trees.py``).  Larger trees, and blocks of fewer than 64 rows, walk.

The check makes a crafted model file harmless: a split node's children must lie
after it and inside its tree (so every walk ends at a leaf: no cycle), and its
feature inside the row; anything else is a :class:`MalformedTrees` error naming
the tree and node, before any row is scored.  Masks are made only for trees (each node
but the root the child of exactly one node), and a mask picks one of its tree's 32 leaf
slots whatever its bits.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from simbox.fastpath import _trees

#: one packed node, the kernel's ``node_t``
NODE_DTYPE = np.dtype([("value", "<f8"), ("threshold", "<f8"), ("feature", "<i4"),
                       ("left", "<i4"), ("right", "<i4"), ("missing_left", "u1"),
                       ("is_leaf", "u1")])
NODE_FIELDS = ("value", "threshold", "feature", "left", "right", "missing_left", "is_leaf")
#: one packed node of the trees over byte codes, the kernel's ``code_node_t``
CODE_NODE_DTYPE = np.dtype([("left", "<i4"), ("right", "<i4"), ("feature", "<i2"),
                            ("threshold", "<i2"), ("shift", "u1"), ("is_leaf", "u1"),
                            ("pad", "u1", 2)])
#: the byte code of a missing value; bins are 0..MAX_CODE_EDGES
MISSING_CODE = 255
MAX_CODE_EDGES = 254
#: the features of a row of byte codes, at most (the kernel's int16 ``feature``)
MAX_CODE_FEATURES = 32767
#: one split node of a tree scored by leaf masks, the kernel's ``mask_node_t``
MASK_NODE_DTYPE = np.dtype([("keep_left", "<u4"), ("keep_right", "<u4"), ("column", "<u2"),
                            ("shift", "u1"), ("threshold", "u1")])
#: the leaves of a tree scored by masks, at most (the bits of a mask)
MASK_LEAVES = 32
#: rows from which the byte kernels run on two threads (each on half of the rows; the
#: kernels release the GIL, every row is computed alone: the same bytes and sums)
THREADED_ROWS = 16384
THREADS = 2


class MalformedTrees(ValueError):
    """Tree nodes that do not form trees over the given features."""


class Ensemble:
    """Trees packed for :func:`_trees.raw_predict`; build with :meth:`from_nodes`."""

    def __init__(self, nodes: np.ndarray, roots: np.ndarray, output: np.ndarray,
                 baseline: np.ndarray, n_features: int):
        self.nodes, self.roots, self.output = nodes, roots, output
        self.baseline, self.n_features = baseline, n_features
        self._code_trees = None     # for raw_predict_codes, made when first used

    def __getstate__(self):
        """Copied and pickled without the kernel's packed trees (remade when first used)."""
        return dict(self.__dict__, _code_trees=None)

    @classmethod
    def from_nodes(cls, trees, output, baseline, n_features: int) -> "Ensemble":
        """``trees``: per tree, a mapping of :data:`NODE_FIELDS` to equal-length arrays
        (``left``/``right`` numbered within the tree, ignored on leaves); ``output``: the
        output column of each tree; ``baseline``: the starting value of each column."""
        baseline = np.array(baseline, dtype=np.float64).ravel()
        output = np.asarray(output, dtype=np.int64)
        if len(output) != len(trees):
            raise MalformedTrees(f"{len(trees)} trees but {len(output)} output columns")
        if len(output) and (output.min() < 0 or output.max() >= len(baseline)):
            raise MalformedTrees(f"an output column outside 0..{len(baseline) - 1}")
        sizes = np.array([len(t["value"]) for t in trees], dtype=np.int64)
        roots = np.cumsum(sizes) - sizes
        nodes = np.zeros(int(sizes.sum()), dtype=NODE_DTYPE)
        for i, (tree, root, size) in enumerate(zip(trees, roots, sizes)):
            split = _check_tree(i, tree, int(size), n_features)
            part = nodes[root:root + size]
            for f in ("value", "threshold"):
                part[f] = np.asarray(tree[f])
            part["missing_left"] = np.asarray(tree["missing_left"]) != 0
            part["is_leaf"] = ~split
            part["feature"] = np.where(split, tree["feature"], 0)
            part["left"] = np.where(split, np.asarray(tree["left"], dtype=np.int64) + root, 0)
            part["right"] = np.where(split, np.asarray(tree["right"], dtype=np.int64) + root, 0)
        return cls(nodes, roots, output.astype(np.int32), baseline, int(n_features))

    def raw_predict(self, X) -> np.ndarray:
        """``(rows, outputs)``: baseline plus the leaf values of each output's trees."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {X.shape}")
        out = np.empty((len(X), len(self.baseline)))
        if not len(self.roots):
            out[:] = 0.0 + self.baseline
            return out
        _trees.raw_predict(X, self.nodes, self.roots, self.output, self.baseline, out)
        return out

    def raw_predict_codes(self, codes) -> np.ndarray:
        """:meth:`raw_predict` of the bins ``codes`` (uint8, rows x features, as
        :func:`bin_columns` makes them: :data:`MISSING_CODE` for NaN): the same sums, bit
        for bit, from an eighth of the memory.  Trees of at most :data:`MASK_LEAVES`
        leaves are scored by leaf masks (:func:`mask_trees`), a block of rows at a time,
        the others walked.  From :data:`THREADED_ROWS` rows, two threads score half of
        the rows each."""
        codes = np.ascontiguousarray(codes)
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != self.n_features:
            raise ValueError(f"expected uint8 codes of {self.n_features} features, got "
                             f"{codes.dtype} of shape {codes.shape}")
        if self.n_features > MAX_CODE_FEATURES:
            raise ValueError(f"byte codes take at most {MAX_CODE_FEATURES} features, not "
                             f"{self.n_features}: use raw_predict")
        out = np.empty((len(codes), len(self.baseline)))
        if not len(self.roots):
            out[:] = 0.0 + self.baseline
            return out
        if self._code_trees is None:
            code = code_nodes(self.nodes)
            self._code_trees = _trees.CodeTrees(
                code, np.ascontiguousarray(self.nodes["value"]), self.roots, self.output,
                self.baseline, *mask_trees(self.nodes, self.roots, code))
        _in_halves(len(codes), lambda lo, hi: self._code_trees.raw_predict(codes[lo:hi],
                                                                             out[lo:hi]))
        return out


def bin_codes(X, edges) -> np.ndarray:
    """Each value of ``X`` (rows, columns) replaced by its bin among ``edges[j]`` of its
    column (sorted, no NaN): the number of edges below it, as numpy's
    ``searchsorted(edges[j], v, side="left")``; NaN stays NaN."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(edges):
        raise ValueError(f"expected rows of {len(edges)} features, got shape {X.shape}")
    sizes = np.array([len(e) for e in edges], dtype=np.int64)
    offsets = np.zeros(len(edges) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    flat = np.concatenate([np.asarray(e, dtype=np.float64) for e in edges]) if len(edges) \
        else np.empty(0)
    out = np.empty(X.shape)
    _trees.bin_codes(X, flat, offsets, out)
    return out


def code_nodes(nodes: np.ndarray) -> np.ndarray:
    """The packed nodes (:data:`NODE_DTYPE`, checked) for integer codes: a code ``c`` (0 to
    :data:`MAX_CODE_EDGES`) goes left when ``c <= floor(threshold)``, which is
    ``float(c) <= threshold`` for every finite, infinite or NaN threshold (NaN: never;
    the floor is clamped to -1..254); :data:`MISSING_CODE` as ``missing_left`` says."""
    out = np.zeros(len(nodes), dtype=CODE_NODE_DTYPE)
    for f in ("left", "right", "feature", "is_leaf"):
        out[f] = nodes[f]
    t = np.floor(nodes["threshold"])
    t = np.where(np.isnan(t), -1, np.clip(np.nan_to_num(t), -1, MAX_CODE_EDGES)).astype(np.int16)
    # MISSING (255) goes left by a shift of every code by one (mod 256): codes 0..254
    # become 1..255 against a threshold one higher, MISSING becomes 0 (at or below any)
    shift = nodes["missing_left"] != 0
    out["shift"] = shift
    out["threshold"] = t + shift
    return out


def mask_trees(nodes: np.ndarray, roots: np.ndarray, code: np.ndarray | None = None):
    """The trees of the packed nodes (:data:`NODE_DTYPE`, checked; ``code``: their
    :func:`code_nodes`, made here if None) with at most
    :data:`MASK_LEAVES` leaves, as the mask kernel (``_trees_masks.h``) takes them:
    ``(mask_nodes, mask_start, by_masks, leaves)``.

    Each tree of ``by_masks`` numbers its leaves 0.. in node order; ``leaves[32 t + i]``
    is the value of leaf ``i`` of tree ``t``; its split nodes are
    ``mask_nodes[mask_start[t]:mask_start[t + 1]]`` (:data:`MASK_NODE_DTYPE`), each
    keeping, on the side a row takes, every leaf but those under the other child.  The
    test is :func:`code_nodes`' (a threshold that no code passes, or that every code
    passes, keeps the same leaves both ways).  A tree goes by masks only when every node
    but its root is the child of exactly one node: a node shared by two parents, or one
    no parent reaches, would clear the leaf of a row passing elsewhere; such a tree, or
    a larger one, is walked (``by_masks`` 0, no mask nodes)."""
    n, t_count = len(nodes), len(roots)
    sizes = np.diff(np.append(roots, n))
    tree = np.repeat(np.arange(t_count), sizes)
    leaf = nodes["is_leaf"] != 0
    split = ~leaf
    left = nodes["left"].astype(np.int64)
    right = nodes["right"].astype(np.int64)
    parents = np.bincount(np.concatenate([left[split], right[split]]), minlength=n)
    not_tree = parents != 1
    not_tree[roots] = parents[roots] != 0
    n_leaves = np.bincount(tree, weights=leaf, minlength=t_count)
    by_masks = (n_leaves <= MASK_LEAVES) & (np.bincount(tree, weights=not_tree,
                                                           minlength=t_count) == 0)
    mine = by_masks[tree]
    # leaf i of its tree: bit i (leaves in node order)
    before = np.cumsum(leaf) - leaf
    rank = before - before[roots][tree]
    sub = np.where(leaf & mine, np.left_shift(1, np.where(mine, rank, 0)), 0).astype(np.uint32)
    depth = np.full(n, -1, dtype=np.int64)
    level = roots[by_masks]
    d = 0
    while len(level):           # at most MASK_LEAVES levels in a tree of by_masks
        depth[level] = d
        level = level[split[level]]
        level = np.concatenate([left[level], right[level]])
        d += 1
    for k in range(d - 1, -1, -1):      # each split node: the leaves under it, from below
        at = np.flatnonzero((depth == k) & split)
        sub[at] = sub[left[at]] | sub[right[at]]
    code = code_nodes(nodes) if code is None else code
    at = np.flatnonzero(split & mine)
    mask_nodes = np.zeros(len(at), dtype=MASK_NODE_DTYPE)
    keep_left, keep_right = ~sub[right[at]], ~sub[left[at]]
    threshold = code["threshold"][at].astype(np.int64)
    never, always = threshold < 0, threshold > 254
    mask_nodes["keep_left"] = np.where(never, keep_right, keep_left)
    mask_nodes["keep_right"] = np.where(always, keep_left, keep_right)
    mask_nodes["column"] = nodes["feature"][at]
    mask_nodes["shift"] = code["shift"][at]
    mask_nodes["threshold"] = np.where(never | always, 0, threshold)
    mask_start = np.zeros(t_count + 1, dtype=np.int64)
    np.cumsum(np.bincount(tree[at], minlength=t_count), out=mask_start[1:])
    leaves = np.zeros(MASK_LEAVES * t_count)
    own = np.flatnonzero(leaf & mine)
    leaves[MASK_LEAVES * tree[own] + rank[own]] = nodes["value"][own]
    return mask_nodes, mask_start, by_masks.astype(np.uint8), leaves


def _in_halves(n: int, work) -> None:
    """``work(lo, hi)`` over the rows ``0..n``: on :data:`THREADS` threads, each a slice of
    rows, from :data:`THREADED_ROWS` rows (the kernels release the GIL); else at once."""
    if n < THREADED_ROWS or THREADS < 2:
        work(0, n)
        return
    cuts = [n * k // THREADS for k in range(THREADS + 1)]
    with ThreadPoolExecutor(THREADS, thread_name_prefix="simbox-trees") as pool:
        for f in [pool.submit(work, lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:])]:
            f.result()


def bin_columns(columns, edges, masked=None) -> np.ndarray:
    """:func:`bin_codes` as bytes, column after column: ``columns`` (float64 arrays of one
    length) each binned among ``edges[j]`` (at most :data:`MAX_CODE_EDGES`, sorted, no NaN);
    NaN, and the rows of ``masked[j]`` (a bool array, or None), become :data:`MISSING_CODE`.
    Returns ``(rows, columns)`` uint8, C order."""
    n = len(columns[0]) if len(columns) else 0
    out = np.empty((n, len(columns)), dtype=np.uint8)
    none = np.empty(0, dtype=np.uint8)
    xs, es, ms = [], [], []
    for j, (x, e) in enumerate(zip(columns, edges)):
        e = np.ascontiguousarray(e, dtype=np.float64)
        x = np.ascontiguousarray(x, dtype=np.float64)
        if len(e) > MAX_CODE_EDGES or len(x) != n:
            raise ValueError(f"column {j}: {len(x)} values, {len(e)} edges (at most "
                             f"{MAX_CODE_EDGES} edges, {n} values)")
        m = none if masked is None or masked[j] is None else \
            np.ascontiguousarray(masked[j], dtype=np.uint8)
        if len(m) not in (0, n):
            raise ValueError(f"column {j}: a mask of {len(m)} rows for {n}")
        xs.append(x)
        es.append(e)
        ms.append(m)
    # every column in one kernel call a thread: the GIL released once, not once a column
    _in_halves(n, lambda lo, hi: _trees.bin_columns(xs, es, ms, out, lo, hi))
    return out


def _check_tree(i: int, tree, size: int, n_features: int) -> np.ndarray:
    """The split nodes of a tree (the others are leaves), or MalformedTrees."""
    if size == 0:
        raise MalformedTrees(f"tree {i}: no node")
    for f in NODE_FIELDS:
        if len(tree[f]) != size:
            raise MalformedTrees(f"tree {i}: {len(tree[f])} values of {f!r} for {size} nodes")
    split = np.asarray(tree["is_leaf"]) == 0
    at = np.flatnonzero(split)
    for f in ("left", "right"):
        child = np.asarray(tree[f], dtype=np.int64)[split]
        bad = (child <= at) | (child >= size)
        if bad.any():
            j = int(np.argmax(bad))
            raise MalformedTrees(f"tree {i} node {at[j]}: {f} child {child[j]} is not after it "
                                 f"inside the tree ({size} nodes)")
    feature = np.asarray(tree["feature"], dtype=np.int64)[split]
    bad = (feature < 0) | (feature >= n_features)
    if bad.any():
        j = int(np.argmax(bad))
        raise MalformedTrees(f"tree {i} node {at[j]}: feature {feature[j]} outside the "
                             f"{n_features} features")
    return split
