"""A model's scores from plain arrays: what a scan runs, without scikit-learn or skops.

The model (:mod:`simbox.training.model`) is a scikit-learn pipeline; scoring with
it needs scikit-learn and skops imported (about 0.8 s of a scan).  Its steps are
simple once fitted: pick the feature columns, mask statistics of too few events
(:mod:`~simbox.training.evidence`), replace each value by its quantile bin, sum the
booster's trees (:mod:`simbox.fastpath.trees`), take the booster's probabilities
and the calibrator's Platt curve (:mod:`~simbox.training.calibration`).  This
module holds that arithmetic once: the pipeline's steps call these functions, and
:class:`ScoringModel` calls them on the arrays of the model folder's
``scoring.npz``, so both give the same scores, bit for bit.

``scoring.npz`` is a zip of ``.npy`` arrays (numbers and strings, read with
``allow_pickle=False``: nothing in it runs), written beside ``model.skops`` by
``Model.save`` and listed with its sha256 in ``model.json`` (so covered by the
signature).  Every array is checked when read (:func:`read_scoring`): the trees
by :meth:`Ensemble.from_nodes`, the indices against the feature count; a damaged
or crafted file is a one-line :class:`~simbox.errors.ModelError`.  A folder
without it (older simbox) loads its pipeline from ``model.skops``
(:func:`load_scorer`); ``python -m simbox.training.convert_model DIR
--add-scoring`` adds it.
"""
from __future__ import annotations

import pathlib
import zipfile

import numpy as np
import pandas as pd

from simbox.errors import InputError, ModelError
from simbox.fastpath.trees import (MAX_CODE_EDGES, NODE_FIELDS, Ensemble, MalformedTrees,
                                   bin_codes, bin_columns)
from simbox.training.folder import SCORING_FILE, checked_folder, read_card
from simbox.training.labels import CLASSES, FRAUD_CLASSES

SCORING_FORMAT = "simbox-scoring/1"
PREDICT_COLUMNS = ("score_simbox", "score_cardfarm", "score_legit", "class", "score", "flagged")
_LEGIT = CLASSES.index("legit")
_FRAUD = [CLASSES.index(c) for c in FRAUD_CLASSES]
TINY = 1e-12           # the probability of a class the booster never saw


class NotScorable(ValueError):
    """A pipeline whose steps :class:`ScoringModel` does not reproduce (an older simbox's)."""


# ---- the arithmetic of the pipeline's steps -----------------------------------------

def feature_matrix(X: pd.DataFrame, names, what="features") -> pd.DataFrame:
    """The model's input columns of ``X``, numeric, or an InputError naming what is wrong."""
    return check_features(X, names, what).astype(np.float64)


def check_features(X: pd.DataFrame, names, what="features") -> pd.DataFrame:
    """``X``'s columns ``names``, or an InputError naming the missing or non-numeric ones."""
    if not isinstance(X, pd.DataFrame):
        raise InputError(f"{what}: expected a DataFrame of features, got {type(X).__name__}")
    missing = [n for n in names if n not in X.columns]
    if missing:
        raise InputError(f"{what} lack {len(missing)} feature(s) the model needs: "
                         f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}; "
                         "recompute the features with this simbox (simbox features)")
    out = X.loc[:, list(names)]
    bad = [n for n in names if not pd.api.types.is_numeric_dtype(out[n])]
    if bad:
        raise InputError(f"{what}: feature(s) not numeric: {', '.join(bad)}")
    return out


def feature_columns(X, names, columns, what="features") -> list:
    """The columns ``columns`` of ``X`` as float64 arrays (no copy of a float64 column), as
    ``feature_matrix(X, names)`` would hold them, checked as it checks them.  ``X``: a
    DataFrame, or a feature run (:class:`~simbox.features.FeatureResult`): its arrays
    (``columns``) taken as they are, no DataFrame made (:func:`check_arrays`)."""
    arrays = run_arrays(X)
    if arrays is not None:
        check_arrays(arrays, names, what)
        return [np.asarray(arrays[c], dtype=np.float64) for c in columns]
    check_features(X, names, what)
    return [X[c].to_numpy(dtype=np.float64) if X[c].dtype == np.float64
            else X[c].astype(np.float64).to_numpy() for c in columns]


def run_arrays(X) -> dict | None:
    """The feature arrays of a feature run (``FeatureResult.columns``: the keys, then one
    array per feature), or None when ``X`` is not one (a DataFrame)."""
    arrays = getattr(X, "columns", None)
    return arrays if isinstance(arrays, dict) and hasattr(X, "key_index") else None


def check_arrays(arrays: dict, names, what="features") -> None:
    """:func:`check_features` of a feature run's arrays: the same checks, the same messages."""
    missing = [n for n in names if n not in arrays or n == "imsi"]
    if missing:
        raise InputError(f"{what} lack {len(missing)} feature(s) the model needs: "
                         f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}; "
                         "recompute the features with this simbox (simbox features)")
    bad = [n for n in names if not pd.api.types.is_numeric_dtype(np.asarray(arrays[n]).dtype)]
    if bad:
        raise InputError(f"{what}: feature(s) not numeric: {', '.join(bad)}")


def features_of(model, res):
    """What ``model.predict`` scores of a feature run ``res``: the run itself for a
    :class:`ScoringModel` (its arrays, :func:`feature_columns`), else its DataFrame."""
    return res if isinstance(model, ScoringModel) else res.features


def evidence_masks(columns: list, rules, min_events) -> list:
    """Per column, the rows whose value :func:`mask_evidence` sets to NaN (bool), or None:
    the same sums on the same values (a rule's counts read the columns as the rules
    before it left them)."""
    masks = [None] * len(columns)
    for stat, counts in rules:
        # (np.nansum of the stacked columns, axis 1: NaN as 0, summed left to right, row_sum)
        few = row_sum([_zero_nan(_masked(columns[c], masks[c])) for c in counts]) < min_events
        masks[stat] = few if masks[stat] is None else masks[stat] | few
    return masks


def _zero_nan(x):
    """``x`` with NaN as 0 (``np.nansum``'s replacement), a copy only when it holds NaN."""
    nan = np.isnan(x)
    if not nan.any():
        return x
    x = x.copy()
    x[nan] = 0.0
    return x


def row_sum(a) -> np.ndarray:
    """``a.sum(axis=1)`` of a 2-d float array of a few columns (or a list of its columns):
    column by column, left to right, as numpy's reduction runs down the rows of such an
    array (its inner loop over the rows, each adding the next column): the same values
    bit for bit (``tests/training/test_scoring_rows.py``), without a loop of a few
    elements per row (100,000 rows of 3: 1.5 to 0.1 ms).  NaN stays NaN (its payload may be
    another NaN's)."""
    cols = _columns_of(a)
    if cols is None:
        return np.asarray(a).sum(axis=1)
    out = np.zeros(len(cols[0]))                # (from 0.0, as numpy: -0.0 alone sums to 0.0)
    for c in cols:
        out += c
    return out


def row_max(a) -> np.ndarray:
    """``a.max(axis=1)`` of a 2-d float array of a few columns, column by column as
    :func:`row_sum` (NaN propagated as numpy's maximum does)."""
    cols = _columns_of(a)
    if cols is None:
        return np.asarray(a).max(axis=1)
    out = np.array(cols[0], dtype=np.float64, copy=True)
    for c in cols[1:]:
        np.maximum(out, c, out=out)
    return out


ROW_COLUMNS = 4          # row_sum and row_max go column by column up to this many columns
#                          (numpy sums 8 or more by pairs: not a left fold)


def _columns_of(a):
    """The columns of a 2-d float64 array of 1 to :data:`ROW_COLUMNS` columns (or the
    list of them given), else None (numpy's own reduction then)."""
    if isinstance(a, list):
        return a if 0 < len(a) <= ROW_COLUMNS and all(
            isinstance(c, np.ndarray) and c.dtype == np.float64 and c.ndim == 1 for c in a) \
            else None if a else None
    a = np.asarray(a)
    if a.ndim != 2 or a.dtype != np.float64 or not 0 < a.shape[1] <= ROW_COLUMNS:
        return None
    return [a[:, j] for j in range(a.shape[1])]


def _masked(x, mask):
    if mask is None or not mask.any():
        return x
    x = x.copy()
    x[mask] = np.nan
    return x


def mask_evidence(X, rules, min_events) -> np.ndarray:
    """A copy of ``X`` with NaN for statistic ``stat`` of each rule ``(stat, counts)`` where
    the ``counts`` columns sum to less than ``min_events``."""
    X = np.array(X, dtype=np.float64, copy=True)
    for stat, counts in rules:
        few = np.nansum(X[:, counts], axis=1) < min_events
        X[few, stat] = np.nan
    return X


def quantile_codes(X, edges, empty) -> np.ndarray:
    """Each value replaced by its bin among ``edges[j]`` of its column (the number of edges
    below it); NaN stays NaN; the columns ``empty`` (missing for every training SIM)
    become 0.  The kernel ``trees.bin_codes``; ``tests/training`` holds the numpy reference."""
    out = bin_codes(X, edges)
    out[:, empty] = 0.0
    return out


def expit(x) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))`` (0 where ``exp(-x)`` overflows); numpy's
    own, so that a scan does not import scipy.special (0.1 s)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def logsumexp(a, axis=1) -> np.ndarray:
    """``log(sum(exp(a)))`` along ``axis``, shifted by the largest value (finite inputs)."""
    a = np.asarray(a, dtype=np.float64)
    if axis == 1 and a.ndim == 2:                       # (rows of a few columns: row_*)
        top = row_max(a)
        return top + np.log(row_sum(np.exp(a - top[:, None])))
    top = a.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.exp(a - top).sum(axis=axis))


def booster_proba(raw: np.ndarray) -> np.ndarray:
    """The booster's probabilities from its raw sums: scikit-learn's log-loss link (softmax
    over the columns; one column: the logistic of the second class), the same arithmetic."""
    if raw.shape[1] == 1:
        proba = np.empty((raw.shape[0], 2), dtype=raw.dtype)
        from scipy.special import expit as logistic  # lazy: as scikit-learn, bit for bit
        proba[:, 1] = logistic(raw[:, 0])
        proba[:, 0] = 1 - proba[:, 1]
        return proba
    X = np.array(raw, copy=True)
    X -= row_max(X).reshape((-1, 1))
    np.exp(X, out=X)
    X /= row_sum(X).reshape((-1, 1))
    return X


def class_logits(p: np.ndarray, classes) -> np.ndarray:
    """Log-probabilities in :data:`CLASSES` order from probabilities of ``classes``."""
    out = np.full((len(p), len(CLASSES)), TINY)
    for j, c in enumerate(classes):
        out[:, CLASSES.index(str(c))] = p[:, j]
    return np.log(np.clip(out, TINY, 1.0))


def fraud_margin(logits) -> np.ndarray:
    """``log P(fraud) - log P(legit)`` from log-probabilities in :data:`CLASSES` order."""
    lg = np.asarray(logits, dtype=np.float64)
    return logsumexp(lg[:, _FRAUD], axis=1) - lg[:, _LEGIT]


def calibrated(logits, slope: float, intercept: float) -> np.ndarray:
    """Calibrated probabilities (:data:`CLASSES` order): the Platt curve of the fraud
    margin, split between the fraud classes in the booster's proportion."""
    lg = np.asarray(logits, dtype=np.float64)
    pf = expit(slope * fraud_margin(lg) + intercept)
    fr = lg[:, _FRAUD]
    share = np.exp(fr - logsumexp(fr, axis=1)[:, None])      # P(class | fraud)
    out = np.empty((len(lg), len(CLASSES)))
    out[:, _FRAUD] = pf[:, None] * share
    out[:, _LEGIT] = 1.0 - pf
    return out


def decisions(p: np.ndarray, index, threshold) -> pd.DataFrame:
    """The columns of ``Model.predict`` from probabilities ``p`` (:data:`CLASSES` order)."""
    out = pd.DataFrame(p, index=index, columns=[f"score_{c}" for c in CLASSES])
    score = 1.0 - p[:, _LEGIT]
    flagged = score >= float(threshold)
    # each row's class by its code, taken from the three texts as pandas' text array (each
    # converted once, not one text per row; no row: the dtype pandas gives a unicode array)
    code = np.where(flagged, np.where(p[:, 0] >= p[:, 1], 0, 1), 2)
    out["class"] = pd.array([FRAUD_CLASSES[0], FRAUD_CLASSES[1], "legit"], dtype="str").take(code) \
        if len(code) else np.array([], dtype=str)
    out["score"] = score
    out["flagged"] = flagged
    return out[list(PREDICT_COLUMNS)]


def no_threshold() -> ModelError:
    return ModelError("the model has no operating threshold: pass threshold= or train it "
                      "with simbox train")


# ---- scoring.npz ---------------------------------------------------------------------

def scoring_arrays(pipeline, ensemble: Ensemble | None, feature_names) -> dict:
    """The arrays of ``scoring.npz`` for a fitted simbox pipeline whose trees ``ensemble``
    packs, or :class:`NotScorable` (read by attribute: no scikit-learn import here)."""
    steps = dict(pipeline.steps)
    if [n for n, _ in pipeline.steps] != ["features", "evidence", "quantile_codes", "booster",
                                          "calibrator"] or ensemble is None:
        raise NotScorable("not the steps of a simbox pipeline")
    booster, cal = steps["booster"], steps["calibrator"]
    if not getattr(booster, "in_class_order_", False) or not hasattr(cal, "slope_"):
        raise NotScorable("a booster or calibrator of an older simbox")
    (_, how, columns), = [t for t in steps["features"].transformers_ if t[0] != "remainder"]
    identity = how == "passthrough" or (type(how).__name__ == "FunctionTransformer"
                                        and getattr(how, "func", 0) is None)
    if not identity or list(columns) != list(feature_names):
        raise NotScorable("the pipeline selects other columns than the model's features")
    rules = steps["evidence"].rules_
    edges = steps["quantile_codes"].edges_
    sizes = np.diff(np.append(ensemble.roots, len(ensemble.nodes)))
    root = np.repeat(ensemble.roots, sizes)
    split = ensemble.nodes["is_leaf"] == 0
    trees = {f"node_{f}": ensemble.nodes[f] for f in NODE_FIELDS}
    for f in ("left", "right"):        # numbered within the tree, as Ensemble.from_nodes takes
        trees[f"node_{f}"] = np.where(split, ensemble.nodes[f] - root, 0).astype(np.int32)
    return {
        "format": np.array(SCORING_FORMAT),
        "columns": np.array(list(columns), dtype=str),
        "evidence_stat": np.array([s for s, _ in rules], dtype=np.int64),
        "evidence_counts": np.array([c for _, cs in rules for c in cs], dtype=np.int64),
        "evidence_offsets": np.cumsum([0] + [len(cs) for _, cs in rules]).astype(np.int64),
        "min_events": np.array(steps["evidence"].min_events),
        "quantile_edges": np.concatenate([np.asarray(e, np.float64) for e in edges] + [[]]),
        "quantile_offsets": np.cumsum([0] + [len(e) for e in edges]).astype(np.int64),
        "quantile_empty": np.array(getattr(steps["quantile_codes"], "empty_", []), np.int64),
        **trees,
        "tree_sizes": sizes.astype(np.int64),
        "tree_output": ensemble.output.astype(np.int64),
        "baseline": ensemble.baseline,
        "booster_classes": np.array([str(c) for c in booster.classes_], dtype=str),
        "calibrator_slope": np.array(float(cal.slope_)),
        "calibrator_intercept": np.array(float(cal.intercept_)),
        "classes": np.array([str(c) for c in cal.classes_], dtype=str),
    }


def write_npz(path: pathlib.Path, arrays: dict) -> None:
    """``arrays`` as an ``.npz`` whose bytes depend on the arrays only (fixed member dates,
    sorted names, stored: no compressor whose output could differ between builds), written
    atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asarray(arrays[name]), allow_pickle=False)
    tmp.replace(path)


def _array(z, name, kind, ndim, what):
    try:
        a = z[name]
    except KeyError:
        raise MalformedTrees(f"no array {name!r}") from None
    if a.dtype.kind not in kind or a.ndim != ndim:
        raise MalformedTrees(f"{name!r} is {a.dtype} of {a.ndim} dimension(s), not {what}")
    return a


def _ragged(flat, offsets, name, limit=None):
    """``flat`` cut at ``offsets`` (checked: increasing from 0 to its length)."""
    if len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(flat) or \
            (np.diff(offsets) < 0).any():
        raise MalformedTrees(f"{name!r}: offsets do not cut its {len(flat)} values")
    if limit is not None and len(flat) and (flat.min() < 0 or flat.max() >= limit):
        raise MalformedTrees(f"{name!r}: a feature index outside the {limit} features")
    return [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def read_scoring(path: pathlib.Path) -> dict:
    """The checked contents of a ``scoring.npz``: ``columns``, ``rules``, ``min_events``,
    ``edges``, ``empty``, ``ensemble``, ``booster_classes``, ``slope``, ``intercept``,
    ``classes``; a damaged or crafted file is a ModelError."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(_array(z, "format", "U", 0, "a string")) != SCORING_FORMAT:
                raise MalformedTrees(f"format {str(z['format'])!r}, this simbox reads "
                                     f"{SCORING_FORMAT!r}")
            columns = [str(c) for c in _array(z, "columns", "U", 1, "strings")]
            n = len(columns)
            stat = _array(z, "evidence_stat", "i", 1, "integers")
            counts = _ragged(_array(z, "evidence_counts", "i", 1, "integers"),
                             _array(z, "evidence_offsets", "i", 1, "integers"),
                             "evidence_counts", n)
            if len(counts) != len(stat) or (len(stat) and (stat.min() < 0 or stat.max() >= n)):
                raise MalformedTrees("'evidence_stat': not one feature per rule")
            edges = _ragged(_array(z, "quantile_edges", "f", 1, "floats"),
                            _array(z, "quantile_offsets", "i", 1, "integers"), "quantile_edges")
            if any(len(e) and (np.isnan(e).any() or (np.diff(e) < 0).any()) for e in edges):
                raise MalformedTrees("'quantile_edges': a column's edges are not sorted")
            empty = _array(z, "quantile_empty", "i", 1, "integers")
            if len(edges) != n or (len(empty) and (empty.min() < 0 or empty.max() >= n)):
                raise MalformedTrees(f"quantile bins for {len(edges)} of {n} features")
            nodes = {f: _array(z, f"node_{f}", "fiub", 1, "numbers") for f in NODE_FIELDS}
            sizes = _array(z, "tree_sizes", "i", 1, "integers")
            if (sizes < 0).any() or sizes.sum() != len(nodes["value"]):
                raise MalformedTrees("'tree_sizes' do not add up to the nodes")
            cut = np.cumsum(sizes)[:-1]
            trees = [dict(zip(NODE_FIELDS, parts)) for parts in
                     zip(*(np.split(nodes[f], cut) for f in NODE_FIELDS))] if len(sizes) else []
            baseline = _array(z, "baseline", "f", 1, "floats")
            ensemble = Ensemble.from_nodes(trees, _array(z, "tree_output", "i", 1, "integers"),
                                           baseline, n)
            booster_classes = [str(c) for c in _array(z, "booster_classes", "U", 1, "strings")]
            if not set(booster_classes) <= set(CLASSES) or \
                    len(booster_classes) != (2 if len(baseline) == 1 else len(baseline)):
                raise MalformedTrees(f"booster classes {booster_classes} for {len(baseline)} "
                                     "tree outputs")
            classes = [str(c) for c in _array(z, "classes", "U", 1, "strings")]
            if sorted(classes) != sorted(CLASSES):
                raise MalformedTrees(f"classes {classes}, not {list(CLASSES)}")
            out = {"columns": columns, "rules": list(zip(stat.tolist(),
                                                          [c.tolist() for c in counts])),
                   "min_events": _array(z, "min_events", "iuf", 0, "a number")[()],
                   "edges": edges, "empty": empty.tolist(), "ensemble": ensemble,
                   "booster_classes": booster_classes, "classes": classes,
                   "slope": float(_array(z, "calibrator_slope", "f", 0, "a float")),
                   "intercept": float(_array(z, "calibrator_intercept", "f", 0, "a float"))}
    except MalformedTrees as exc:
        raise ModelError(f"{path}: malformed ({exc}); the file was damaged or crafted: do not "
                         "use it, retrain the model") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"{path}: cannot be read ({type(exc).__name__}: {exc}); copy the "
                         "model folder again or retrain") from None
    return out


# ---- the light model -------------------------------------------------------------------

class ScoringModel:
    """A model folder's scores from its ``scoring.npz``: ``predict`` and ``predict_proba``
    as :class:`~simbox.training.model.Model`'s (the same numbers), with its
    ``feature_names``, ``schema_hash``, ``threshold``, ``classes_`` and ``card``."""

    def __init__(self, scoring: dict, card: dict):
        self.scoring = scoring
        self.card = card
        self.feature_names = list(card["features"]["names"])
        self.schema_hash = card["features"]["schema_hash"]
        self.threshold = card.get("threshold", {}).get("value")
        self.classes_ = np.asarray(scoring["classes"])

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, columns in :data:`CLASSES` order.  ``X``: a DataFrame of
        features, or a feature run (:class:`~simbox.features.FeatureResult`, scored from
        its arrays)."""
        s = self.scoring
        if max(map(len, s["edges"]), default=0) <= MAX_CODE_EDGES:
            raw = self._raw_from_codes(X)
        else:                 # bins that do not fit a byte: the float codes of the pipeline
            X = X.features if run_arrays(X) is not None else X
            Xm = feature_matrix(X, self.feature_names).loc[:, s["columns"]].to_numpy()
            codes = quantile_codes(mask_evidence(Xm, s["rules"], s["min_events"]), s["edges"],
                                   s["empty"])
            raw = s["ensemble"].raw_predict(codes)
        logits = class_logits(booster_proba(raw), s["booster_classes"])
        p = calibrated(logits, s["slope"], s["intercept"])
        return p[:, [s["classes"].index(c) for c in CLASSES]]

    def _raw_from_codes(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's raw sums through byte codes (``Ensemble.raw_predict_codes``): the
        pipeline's steps column by column, without the float matrices (an eighth of the
        memory, the same numbers bit for bit)."""
        s = self.scoring
        columns = feature_columns(X, self.feature_names, s["columns"])
        masks = evidence_masks(columns, s["rules"], s["min_events"])
        arrays = run_arrays(X)
        n = len(X) if arrays is None else len(arrays["imsi"])
        for j in s["empty"]:                # missing for every training SIM: bin 0 always
            columns[j], masks[j] = np.zeros(n), None
        return s["ensemble"].raw_predict_codes(bin_columns(columns, s["edges"], masks))

    def predict(self, X, threshold=None) -> pd.DataFrame:
        """Scores and decisions per SIM, indexed like ``X`` (see ``Model.predict``; a feature
        run: by its keys, ``FeatureResult.key_index``)."""
        t = self.threshold if threshold is None else threshold
        if t is None:
            raise no_threshold()
        index = X.key_index() if run_arrays(X) is not None else X.index
        return decisions(self.predict_proba(X), index, t)


def load_scorer(path, *, schema=None, key=None, trust_pickle=False):
    """The model of a folder for scoring: a :class:`ScoringModel` when the folder has a
    ``scoring.npz`` (no scikit-learn, no skops), else ``Model.load`` (its pipeline).
    The card, signature (``key``), file and schema checks are those of ``Model.load``."""
    if SCORING_FILE not in read_card(pathlib.Path(path))["files"]:
        from simbox.training.model import Model  # lazy: scikit-learn, only for folders without scoring.npz
        return Model.load(path, schema=schema, key=key, trust_pickle=trust_pickle)
    folder, card, _ = checked_folder(path, lambda folder, card: SCORING_FILE, key=key,
                                     schema=schema)
    scoring = read_scoring(folder / SCORING_FILE)
    if scoring["columns"] != list(card["features"]["names"]):
        raise ModelError(f"{folder / SCORING_FILE}: scores other features than model.json "
                         "names; copy the model folder again or retrain")
    return ScoringModel(scoring, card)
