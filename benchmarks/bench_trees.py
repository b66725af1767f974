#!/usr/bin/env python3
"""CPU time of the scan's tree sums (``Ensemble.raw_predict_codes``), this checkout beside
another one's kernel (``--peer``) in the same process, on the same codes.

    python benchmarks/bench_trees.py --peer /work/main [--cdrs farm.csv --cells cells.csv
        --tac tac.csv] [--repeat 7]

The codes are those a scan bins (``bin_columns``) from the features of ``--cdrs`` (default:
the shipped sample network), rows drawn with replacement up to each size of ``--rows``
(default 1, 100, 10,000, 100,000).  Two models: the shipped one (``training/default_model``)
and a deep one fitted here (``HistGradientBoostingClassifier``, ``max_depth=20``, no leaf
limit, 20 iterations of 3 classes, on 20,000 of the rows labelled by the shipped model's
classes with a tenth flipped: trees of hundreds of leaves).  ``--peer``: a built checkout
(e.g. the main branch) whose ``fastpath/trees.py`` and ``fastpath/_trees`` extension are
imported under other names; both score every size in turns (this, peer, this, ...),
``--repeat`` times, and the sums are checked equal, bit for bit.  Printed: the CPU
milliseconds of one call (``time.process_time``: both threads from 16,384 rows), medians,
and the ratio peer / this.  Run with ``OMP_NUM_THREADS=1``.
"""
from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import time
import types

import numpy as np

from simbox.data import sample_dir
from simbox.fastpath import trees
from simbox.features import compute_features
from simbox.training.folder import DEFAULT_MODEL
from simbox.training.model import packed_trees
from simbox.training.scoring import bin_columns, evidence_masks, feature_columns, load_scorer

IMPORT = "from simbox.fastpath import _trees\n"


def peer_trees(checkout: str) -> types.ModuleType:
    """``fastpath/trees.py`` of ``checkout`` with its own built ``_trees`` extension."""
    found = glob.glob(os.path.join(checkout, "fastpath", "_trees.*.so")) + \
        glob.glob(os.path.join(checkout, "fastpath", "_trees.*.pyd"))
    if not found:
        raise SystemExit(f"{checkout}: no built fastpath/_trees extension (build it there first)")
    spec = importlib.util.spec_from_file_location("simbox_peer._trees", found[0])
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    path = os.path.join(checkout, "fastpath", "trees.py")
    with open(path) as f:
        source = f.read()
    if IMPORT not in source:
        raise SystemExit(f"{path}: no line {IMPORT.strip()!r} to replace")
    mod = types.ModuleType("simbox_peer.trees")
    mod._trees = ext
    exec(compile(source.replace(IMPORT, "\n"), path, "exec"), mod.__dict__)
    return mod


def scan_codes(cdrs, cells, tac):
    """The shipped model and the codes a scan of ``cdrs`` scores."""
    model = load_scorer(DEFAULT_MODEL)
    s = model.scoring
    features = compute_features(cdrs, cells=cells, tac=tac).features
    columns = feature_columns(features, model.feature_names, s["columns"])
    return model, bin_columns(columns, s["edges"], evidence_masks(columns, s["rules"],
                                                                  s["min_events"]))


def deep_model(codes, shipped, rng):
    """A booster of deep trees over the codes (as floats, NaN for missing)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    rows = codes[rng.integers(0, len(codes), 20000)]
    X = np.where(rows == trees.MISSING_CODE, np.nan, rows.astype(float))
    for j in range(X.shape[1]):     # scikit-learn refuses a column without two values
        if len(np.unique(X[~np.isnan(X[:, j]), j])) < 2:
            X[:, j] = rng.integers(0, 2, len(X))
    y = shipped.raw_predict_codes(rows).argmax(axis=1)
    flip = rng.random(len(y)) < 0.1
    y[flip] = rng.integers(0, 3, flip.sum())
    clf = HistGradientBoostingClassifier(max_iter=20, max_depth=20, max_leaf_nodes=None,
                                         min_samples_leaf=5, early_stopping=False,
                                         random_state=0).fit(X, y)
    return packed_trees(clf)


def timed(ensemble, codes, calls):
    t = time.process_time()
    for _ in range(calls):
        out = ensemble.raw_predict_codes(codes)
    return (time.process_time() - t) / calls, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", help="a built checkout whose kernel is timed beside (e.g. main)")
    ap.add_argument("--cdrs", help="CDR file whose features are scored (default: the sample)")
    ap.add_argument("--cells")
    ap.add_argument("--tac")
    ap.add_argument("--rows", default="1,100,10000,100000")
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args(argv)
    src = sample_dir()
    cdrs = a.cdrs or str(src / "cdrs.csv.gz")
    cells = a.cells or (None if a.cdrs else str(src / "cells.csv"))
    tac = a.tac or (None if a.cdrs else str(src / "tac.csv"))
    rng = np.random.default_rng(18)
    model, codes = scan_codes(cdrs, cells, tac)
    shipped = model.scoring["ensemble"]
    models = [("shipped", shipped), ("deep", deep_model(codes, shipped, rng))]
    peer = peer_trees(a.peer) if a.peer else None
    print(f"{len(codes):,} rows of {codes.shape[1]} codes from {cdrs}; CPU ms per call, "
          f"medians of {a.repeat}\n")
    print("| model | trees | leaves (max) | rows | this | peer | peer / this |")
    print("|---|---|---|---|---|---|---|")
    for name, e in models:
        leaves = np.add.reduceat(e.nodes["is_leaf"] != 0, e.roots)
        other = peer and peer.Ensemble(e.nodes, e.roots, e.output, e.baseline, e.n_features)
        for n in (int(r) for r in a.rows.split(",")):
            rows = np.ascontiguousarray(codes[rng.integers(0, len(codes), n)])
            calls = max(1, 20000 // n)
            timed(e, rows, 1)
            mine, theirs = [], []
            for _ in range(a.repeat):
                t, got = timed(e, rows, calls)
                mine.append(t)
                if other:
                    t, want = timed(other, rows, calls)
                    theirs.append(t)
                    if not np.array_equal(got, want):
                        raise SystemExit(f"{name}, {n} rows: the sums differ from the peer's")
            m = np.median(mine) * 1e3
            p = np.median(theirs) * 1e3 if theirs else float("nan")
            print(f"| {name} | {len(e.roots)} | {leaves.max()} | {n:,} | {m:.3f} | {p:.3f} | "
                  f"{p / m:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
