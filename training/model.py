"""The simbox model: a calibrated scikit-learn pipeline and its model folder.

A model folder holds:

- ``model.skops``: the fitted :class:`sklearn.pipeline.Pipeline` in the skops.io
  format, which cannot run code when loaded: it holds no pickle, and every type
  in it is checked against an allow-list (:data:`ALLOWED_TYPES`) before anything
  is built; the pipeline: column
  selection, the minimum-evidence mask (:mod:`simbox.training.evidence`),
  quantile coding, a
  :class:`~sklearn.ensemble.HistGradientBoostingClassifier` whose log-probabilities
  feed a :class:`~simbox.training.calibration.MonotoneCalibrator` fitted on
  *out-of-fold* log-probabilities (Platt scaling of the fraud margin, increasing:
  calibration never reorders SIMs); three classes ``simbox, cardfarm, legit``;
- ``scoring.npz``: the same model as plain arrays (:mod:`simbox.training.scoring`):
  what a scan scores with, without importing scikit-learn or skops;
- ``model.json``: the model card: feature schema, library versions, training data
  fingerprint, cross-validated metrics, operating threshold, the sha256 of
  ``model.skops`` and ``scoring.npz`` and, when saved with a signing key, ``signature``: an
  HMAC-SHA256 with that key over the card (which holds the files' sha256);
- plots (``*.png``, ``report.html``), written by :mod:`simbox.training.plots`.

The sha256 in the card finds truncated and corrupted copies, not forgeries: whoever
can change the model file can change the card too.  Teams that pass models around
sign them: ``Model.save(path, key=...)`` and ``Model.load(path, key=...)`` (the
key is a secret kept *outside* the folder: ``--model-key FILE`` or the file named
by ``SIMBOX_MODEL_KEY_FILE``); loading with a key refuses an unsigned or
differently signed folder.  Folders of older simbox versions (``model.joblib``,
a pickle: loading it runs code) load only with ``trust_pickle=True``
(``--trust-pickle``); ``python -m simbox.training.convert_model DIR`` rewrites one
in the skops format once.  :meth:`Model.load` checks the signature, the sha256,
the library versions and the feature schema *before* it loads the pipeline and
refuses a mismatch with one line that says what differs and what to do.

skops checks the *types* in a file, not what they hold: the booster's tree nodes
hold child and feature indices that scikit-learn follows without bounds checks
(skops itself warns that a crafted ``TreePredictor`` can crash the process).  So
:func:`load_pipeline` checks every node (:func:`packed_trees`,
:class:`simbox.fastpath.trees.Ensemble`) before the model scores anything, and
the booster is then scored by that packed, checked copy: the same probabilities
as scikit-learn's, bit for bit, a few times faster (each SIM walks all trees
while its features are in the cache).
"""
from __future__ import annotations

import datetime
import os
import pathlib
import platform
import weakref
import zipfile

import joblib
import numpy as np
import pandas as pd
import sklearn
from threadpoolctl import threadpool_limits
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from simbox._version import __version__
from simbox.errors import InputError, ModelError
from simbox.fastpath.machine import usable_cores
from simbox.fastpath.trees import Ensemble, MalformedTrees
from simbox.training.calibration import MonotoneCalibrator
from simbox.training.cv import inner_splits
from simbox.training.evidence import MIN_EVENTS, EvidenceMask
from simbox.training.folder import (  # noqa: F401  (the folder's names, also from here)
    FORMAT, MODEL_FILE, PICKLE_FILE, SCORING_FILE, _json_float, _series, check_numpy,
    checked_folder, file_entry, model_file, nan_free, read_card, read_key, sha256_file,
    write_card)
from simbox.training.labels import CLASSES, FRAUD_CLASSES
from simbox.training.scoring import (TINY, NotScorable, booster_proba, class_logits,
                                     decisions, feature_matrix, no_threshold, quantile_codes,
                                     scoring_arrays, write_npz)
# the only types (besides those skops trusts by default: numpy, builtins) a model file may hold
ALLOWED_TYPES = frozenset({
    "simbox.training.calibration.MonotoneCalibrator",
    "simbox.training.evidence.EvidenceMask",
    "simbox.training.model.BoosterLogits",
    "simbox.training.model.QuantileCodes",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
})


def booster_threads():
    """A context in which the booster uses the OpenMP threads that pay: the usable cores on
    an idle machine, one thread when the cores are already busy (the load average at least
    the cores): the booster's threads spin-wait for each other, and on a busy machine a
    fit or a prediction costs several times more with two threads than with one."""
    cores = usable_cores()
    try:
        busy = os.getloadavg()[0] >= cores
    except OSError:
        busy = False
    return threadpool_limits(limits=1 if busy else cores, user_api="openmp")


def library_versions() -> dict:
    return {"simbox": __version__, "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "pandas": pd.__version__,
            "joblib": joblib.__version__, "skops": _skops_version(),
            "python": platform.python_version()}


def _skops_version() -> str | None:
    try:
        import skops  # lazy: skops costs ~0.3 s, only to save or load model.skops
    except ImportError:
        return None
    return skops.__version__


def _neg_log_loss(estimator, X, y, sample_weight=None):
    """``neg_log_loss`` over all of the model's classes, also when ``y`` lacks one (labels
    of one fraud class only, e.g. test calls: simbox and legit)."""
    classes = np.asarray(estimator.classes_).astype(str)
    order = np.argsort(classes, kind="stable")      # log_loss takes the labels sorted
    return -log_loss(y, estimator.predict_proba(X)[:, order], labels=list(classes[order]),
                     sample_weight=sample_weight)


class QuantileCodes(TransformerMixin, BaseEstimator):
    """Replace each feature by the index of its (unweighted) quantile bin; NaN stays NaN.

    A monotone recoding, so trees split the same way, but with at most ``n_bins``
    distinct values per feature: the boosting step then bins by distinct values
    instead of computing weighted percentiles (slow when sample weights are given).
    """

    def __init__(self, *, n_bins=255, subsample=200_000, random_state=0):
        self.n_bins = n_bins
        self.subsample = subsample
        self.random_state = random_state

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        if len(X) > self.subsample:
            rng = np.random.default_rng(self.random_state)
            X = X[rng.choice(len(X), self.subsample, replace=False)]
        qs = np.linspace(0, 1, self.n_bins + 1)[1:-1]
        self.edges_ = []
        self.empty_ = []
        for j in range(X.shape[1]):
            col = X[:, j][~np.isnan(X[:, j])]
            self.edges_.append(np.unique(np.quantile(col, qs)) if len(col) else np.array([]))
            if not len(col):
                self.empty_.append(j)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "edges_")
        # a feature missing for every training SIM (no TAC table, no signaling) says
        # nothing: a constant (the booster's binning fails on an all-missing column)
        return quantile_codes(X, self.edges_, getattr(self, "empty_", []))


class BoosterLogits(TransformerMixin, BaseEstimator):
    """The log-probabilities of a classifier in :data:`CLASSES` order, as features for the
    calibrator; a class absent from the training rows gets probability ~0 (1e-12)."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y, sample_weight=None):
        self.estimator_ = clone(self.estimator).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.estimator_.classes_
        self.in_class_order_ = True      # columns in CLASSES order (older models: classes_)
        return self

    def transform(self, X):
        check_is_fitted(self, "estimator_")
        trees = packed_trees(self.estimator_)
        if trees is None:
            p = self.estimator_.predict_proba(X)
        else:       # the same probabilities as predict_proba, bit for bit, faster
            p = booster_proba(trees.raw_predict(X))
        if not getattr(self, "in_class_order_", False):
            # a model of an older simbox (--trust-pickle): its calibrator reads the
            # columns in the booster's classes_ order
            return np.log(np.clip(p, TINY, 1.0))
        return class_logits(p, self.classes_)


_PACKED = weakref.WeakKeyDictionary()     # fitted booster -> its Ensemble (None: not packable)


def packed_trees(booster) -> Ensemble | None:
    """The trees of a fitted :class:`HistGradientBoostingClassifier`, checked and packed for
    :class:`simbox.fastpath.trees.Ensemble` (kept while the booster lives), or None for what
    the kernel does not score (another estimator, categorical splits).  Raises
    :class:`~simbox.fastpath.trees.MalformedTrees` for nodes that are not trees."""
    try:
        return _PACKED[booster]
    except (KeyError, TypeError):
        pass
    ensemble = None
    if isinstance(booster, HistGradientBoostingClassifier) and \
            getattr(booster, "is_categorical_", None) is None:
        try:
            k = int(booster.n_trees_per_iteration_)
            trees = [p.nodes for iteration in booster._predictors for p in iteration]
            trees = [{"value": t["value"], "threshold": t["num_threshold"],
                      "feature": t["feature_idx"], "left": t["left"], "right": t["right"],
                      "missing_left": t["missing_go_to_left"], "is_leaf": t["is_leaf"]}
                     for t in trees]
            baseline, n_features = booster._baseline_prediction, int(booster.n_features_in_)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise MalformedTrees(f"not the trees of a fitted booster ({type(exc).__name__}: "
                                 f"{exc})") from None
        ensemble = Ensemble.from_nodes(trees, output=np.arange(len(trees)) % k,
                                       baseline=baseline, n_features=n_features)
    _PACKED[booster] = ensemble
    return ensemble


class Model(BaseEstimator):
    """Calibrated three-class SIM model with an operating threshold on the fraud score.

    The fraud score of a SIM is ``1 - P(legit)``; a SIM is flagged when its fraud
    score reaches :attr:`threshold`, and then gets the more likely fraud class.

    Parameters (keyword-only) are stored as given; :meth:`fit` sets ``pipeline_``
    and ``classes_``.  Besides the booster's own: ``max_features`` (share of the
    features each split may choose from: the trees cannot all lean on the one
    feature a new kind of fraud defeats), ``min_evidence`` (:mod:`~simbox.training.
    evidence`), ``fraud_weight`` (fraud rows weigh this much more in the *booster*
    only: the few fraud cases shape the trees, while the calibrator, fitted with the
    population weights, keeps the probabilities honest).  ``max_iter=100`` at
    ``learning_rate=0.2``: the same precision and recall on the held-out worlds as 200 at
    0.1 (and fewer legit SIMs flagged), with half the trees to walk at every scan
    (docs/scan.md, "What a scan costs").
    """

    def __init__(self, *, feature_names=(), schema_hash=None, calibration_c=100.0,
                 calibration_folds=3, max_iter=100, learning_rate=0.2, max_leaf_nodes=31,
                 min_samples_leaf=20, l2_regularization=1.0, max_features=0.5,
                 min_evidence=MIN_EVENTS, fraud_weight=30.0, random_state=0):
        self.feature_names = feature_names
        self.schema_hash = schema_hash
        self.calibration_c = calibration_c
        self.calibration_folds = calibration_folds
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_features = max_features
        self.min_evidence = min_evidence
        self.fraud_weight = fraud_weight
        self.random_state = random_state
        self.threshold = None
        self.card = {}

    def _booster(self):
        names = list(self.feature_names)
        hgb = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, max_features=self.max_features,
            early_stopping=False, random_state=self.random_state)
        return Pipeline([
            ("features", ColumnTransformer([("model_inputs", "passthrough", names)],
                                           remainder="drop", verbose_feature_names_out=False)),
            ("evidence", EvidenceMask(feature_names=names, min_events=self.min_evidence)),
            ("quantile_codes", QuantileCodes(random_state=self.random_state)),
            ("booster", BoosterLogits(hgb)),
        ])

    def _check_labels(self, y):
        if not len(self.feature_names):
            raise ValueError("Model needs feature_names")
        y = np.asarray(y).astype(str)
        unknown = sorted(set(y) - set(CLASSES))
        if unknown:
            raise ValueError(f"unknown class(es) {unknown}; expected {CLASSES}")
        if "legit" not in set(y) or not set(FRAUD_CLASSES) & set(y):
            missing = "legit" if "legit" not in set(y) else " or ".join(FRAUD_CLASSES)
            raise InputError(f"no training SIM of class {missing}: the model needs examples "
                             "of fraud (simbox or cardfarm) and of legit SIMs")
        return y

    def fit_booster(self, X, y, *, sample_weight=None):
        """The uncalibrated part alone, fitted: a Pipeline whose ``transform`` gives logits."""
        y = self._check_labels(y)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        w = w * np.where(y == "legit", 1.0, float(self.fraud_weight))
        with booster_threads():
            return self._booster().fit(feature_matrix(X, self.feature_names), y,
                                       booster__sample_weight=w)

    def booster_logits(self, booster, X) -> np.ndarray:
        """Log-probabilities of a fitted booster (:meth:`fit_booster`) on feature rows ``X``."""
        with booster_threads():
            return booster.transform(feature_matrix(X, self.feature_names))

    def fit_calibrator(self, logits, y, *, sample_weight=None):
        """The monotone calibrator fitted on out-of-fold log-probabilities."""
        cal = MonotoneCalibrator(C=self.calibration_c)
        return cal.fit(logits, np.asarray(y).astype(str), sample_weight=sample_weight)

    def fit(self, X: pd.DataFrame, y, *, sample_weight=None, groups=None, oof_logits=None):
        """Fit on feature rows ``X`` and labels ``y`` (class names).

        The calibrator needs log-probabilities of rows the booster did not see:
        ``oof_logits`` when the caller already has them (its own grouped
        cross-validation), else they come from ``calibration_folds`` folds grouped
        by ``groups`` (the case of each row).
        """
        y = self._check_labels(y)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if oof_logits is None:
            splits = inner_splits(y, groups, n_splits=self.calibration_folds,
                                  seed=self.random_state)
            oof_logits = np.zeros((len(y), len(CLASSES)))
            for tr, te in splits:
                b = self.fit_booster(X.iloc[tr], y[tr],
                                     sample_weight=None if w is None else w[tr])
                oof_logits[te] = self.booster_logits(b, X.iloc[te])
        booster = self.fit_booster(X, y, sample_weight=w)
        cal = self.fit_calibrator(oof_logits, y, sample_weight=w)
        self.pipeline_ = Pipeline(booster.steps + [("calibrator", cal)])
        self.classes_ = np.asarray(cal.classes_)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, columns in :data:`CLASSES` order."""
        check_is_fitted(self, "pipeline_")
        with booster_threads():
            p = self.pipeline_.predict_proba(feature_matrix(X, self.feature_names))
        order = [list(self.classes_).index(c) for c in CLASSES]
        return p[:, order]

    def predict(self, X: pd.DataFrame, threshold=None) -> pd.DataFrame:
        """Scores and decisions per SIM, indexed like ``X``.

        Columns: ``score_simbox, score_cardfarm, score_legit`` (calibrated
        probabilities), ``score`` (fraud score ``1 - score_legit``), ``flagged``
        (score >= threshold), ``class`` (the more likely fraud class when flagged,
        else ``legit``).  ``threshold`` defaults to the model's operating threshold.
        """
        check_is_fitted(self, "pipeline_")
        t = self.threshold if threshold is None else threshold
        if t is None:
            raise no_threshold()
        return decisions(self.predict_proba(X), X.index, t)

    def importances(self, X, y, *, sample_weight=None, n_repeats=1, max_rows=3000, seed=0):
        """Permutation importance (mean drop of log-loss) per feature, descending.

        Measured on at most ``max_rows`` rows, drawn per class (at most a third each)
        so that the rare fraud classes weigh in.
        """
        check_is_fitted(self, "pipeline_")
        Xm = feature_matrix(X, self.feature_names)
        y = np.asarray(y).astype(str)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if len(Xm) > max_rows:
            rng = np.random.default_rng(seed)
            idx = np.sort(np.concatenate([
                rng.choice(i, min(len(i), max_rows // len(CLASSES)), replace=False)
                for i in (np.flatnonzero(y == c) for c in CLASSES)]))
            Xm, y = Xm.iloc[idx], y[idx]
            w = None if w is None else w[idx]
        with booster_threads():
            r = permutation_importance(self.pipeline_, Xm, y, scoring=_neg_log_loss,
                                       n_repeats=n_repeats, random_state=seed,
                                       sample_weight=w)
        return (pd.DataFrame({"importance": r.importances_mean, "std": r.importances_std},
                             index=list(self.feature_names))
                .sort_values("importance", ascending=False))

    # ---- model folder -------------------------------------------------------------

    def save(self, path, *, timestamp=True, key=None) -> pathlib.Path:
        """Write ``model.skops``, ``scoring.npz`` and ``model.json`` into the folder ``path``.

        ``timestamp=False`` leaves the save time out of the card, so that the same
        training run gives byte-identical files (the shipped default model).
        ``key`` (bytes, or a key file's path): sign the folder (see the module doc).
        A ``model.joblib`` of an older save is removed.
        """
        from skops import io as sio  # lazy: as above
        check_is_fitted(self, "pipeline_")
        secret = read_key(key) if key is not None else None
        folder = pathlib.Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (MODEL_FILE + ".tmp")
        sio.dump(self.pipeline_, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        os.replace(tmp, folder / MODEL_FILE)
        (folder / PICKLE_FILE).unlink(missing_ok=True)
        files = {MODEL_FILE: file_entry(folder / MODEL_FILE)}
        if self.write_scoring(folder):
            files[SCORING_FILE] = file_entry(folder / SCORING_FILE)
        card = dict(self.card)
        card.update({
            "format": FORMAT,
            "classes": list(CLASSES),
            "features": {"names": list(self.feature_names), "count": len(self.feature_names),
                         "schema_hash": self.schema_hash},
            "libraries": library_versions(),
            "params": {k: v for k, v in self.get_params().items()
                       if k not in ("feature_names", "schema_hash")},
            "threshold": dict(card.get("threshold", {}), value=_json_float(self.threshold)),
            "files": files,
        })
        if timestamp:
            card["saved"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds")
        else:
            card.pop("saved", None)
        self.card = write_card(folder, card, secret)
        return folder

    def write_scoring(self, folder) -> bool:
        """Write the folder's ``scoring.npz`` (:mod:`simbox.training.scoring`) from the fitted
        pipeline; False (and no file) for a pipeline of an older simbox it cannot reproduce."""
        check_is_fitted(self, "pipeline_")
        path = pathlib.Path(folder) / SCORING_FILE
        booster = self.pipeline_.named_steps.get("booster")
        try:
            arrays = scoring_arrays(self.pipeline_, packed_trees(getattr(booster, "estimator_",
                                                                         None)),
                                    self.feature_names)
        except NotScorable:
            path.unlink(missing_ok=True)
            return False
        write_npz(path, arrays)
        return True

    @classmethod
    def load(cls, path, *, schema=None, key=None, trust_pickle=False) -> "Model":
        """Load a model folder, refusing anything that does not match this simbox.

        ``schema``: ``(feature_names, schema_hash)`` the caller computes features
        with; default: the feature registry of this simbox.  ``key`` (bytes or a
        key file's path; default: the file named by ``SIMBOX_MODEL_KEY_FILE``, if
        set): the folder must be signed with it.  ``trust_pickle``: also load an
        older folder's ``model.joblib`` (a pickle runs code when loaded).
        """
        folder, card, name = checked_folder(
            path, lambda folder, card: model_file(folder, card, trust_pickle), key=key,
            schema=schema, libraries=check_libraries)
        pipe = load_pipeline(folder / name)
        m = cls(feature_names=list(card["features"]["names"]),
                schema_hash=card["features"]["schema_hash"], **card.get("params", {}))
        m.pipeline_ = pipe
        m.classes_ = np.asarray(pipe.classes_)
        m.threshold = card.get("threshold", {}).get("value")
        m.card = card
        return m


def load_pipeline(p: pathlib.Path) -> Pipeline:
    """The pipeline of a model file: skops with the allow-list, or a trusted pickle."""
    try:
        if p.name == MODEL_FILE:
            from skops import io as sio  # lazy: as above
            from skops.io.exceptions import UntrustedTypesFoundException  # lazy: as above
            try:      # one pass: skops checks every type against the allow-list before building
                pipe = sio.load(p, trusted=sorted(ALLOWED_TYPES))
            except UntrustedTypesFoundException:
                refused = sorted(t for t in sio.get_untrusted_types(file=p)
                                 if t not in ALLOWED_TYPES)
                raise ModelError(f"{p}: holds types simbox does not load ({', '.join(refused[:3])}"
                                 f"{' ...' if len(refused) > 3 else ''}); it was not written by "
                                 "simbox train: retrain the model") from None
        else:
            pipe = joblib.load(p)
    except ModelError:
        raise
    except Exception as exc:  # a file that passed the sha256 but does not load
        raise ModelError(f"{p}: cannot be loaded ({type(exc).__name__}: {exc}); retrain the "
                         "model with simbox train") from None
    if not isinstance(pipe, Pipeline):
        raise ModelError(f"{p}: holds a {type(pipe).__name__}, not a simbox pipeline; retrain "
                         "the model with simbox train")
    for _, step in pipe.steps:       # scikit-learn walks the nodes unchecked: check them first
        if isinstance(step, BoosterLogits) and hasattr(step, "estimator_"):
            try:
                packed = packed_trees(step.estimator_)
            except MalformedTrees as exc:
                raise ModelError(f"{p}: the booster's trees are malformed ({exc}); the file was "
                                 "damaged or crafted: do not use it, retrain the model") from None
            if packed is None and p.name == MODEL_FILE:
                raise ModelError(f"{p}: holds a booster simbox train does not make "
                                 f"({type(step.estimator_).__name__}, categorical splits?); "
                                 "retrain the model")
    return pipe


def check_libraries(folder: pathlib.Path, card: dict):
    saved = card["libraries"]
    now = library_versions()
    # A pickled estimator is only guaranteed to load in the scikit-learn release
    # series it was saved with; patch releases of one series are accepted.
    if _series(saved.get("scikit-learn")) != _series(now["scikit-learn"]):
        v = saved.get("scikit-learn")
        raise ModelError(f"{folder}: saved with scikit-learn {v}, this environment has "
                         f"{now['scikit-learn']}; install it (pip install scikit-learn=={v}) "
                         "or retrain the model with simbox train")
    check_numpy(folder, card)


