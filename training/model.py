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
- ``model.json``: the model card: feature schema, library versions, training data
  fingerprint, cross-validated metrics, operating threshold, the sha256 of
  ``model.skops`` and, when saved with a signing key, ``signature``: an
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
import hashlib
import hmac
import json
import os
import pathlib
import platform
import weakref

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from simbox._version import __version__
from simbox.errors import InputError, ModelError
from simbox.fastpath.trees import Ensemble, MalformedTrees
from simbox.training.calibration import MonotoneCalibrator
from simbox.training.cv import inner_splits
from simbox.training.evidence import MIN_EVENTS, EvidenceMask
from simbox.training.labels import CLASSES, FRAUD_CLASSES

FORMAT = "simbox-model/2"
FORMATS_READ = ("simbox-model/1", FORMAT)     # /1: model.joblib (a pickle)
MODEL_FILE = "model.skops"
PICKLE_FILE = "model.joblib"
CARD_FILE = "model.json"
KEY_ENV = "SIMBOX_MODEL_KEY_FILE"
# the only types (besides those skops trusts by default: numpy, builtins) a model file may hold
ALLOWED_TYPES = frozenset({
    "simbox.training.calibration.MonotoneCalibrator",
    "simbox.training.evidence.EvidenceMask",
    "simbox.training.model.BoosterLogits",
    "simbox.training.model.QuantileCodes",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
})
PREDICT_COLUMNS = ("score_simbox", "score_cardfarm", "score_legit", "class", "score", "flagged")


def booster_threads():
    """A context in which the booster uses the OpenMP threads that pay: the usable cores on
    an idle machine, one thread when the cores are already busy (the load average at least
    the cores): the booster's threads spin-wait for each other, and on a busy machine a
    fit or a prediction costs several times more with two threads than with one."""
    from threadpoolctl import threadpool_limits
    from simbox.fastpath.machine import usable_cores
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
        import skops
    except ImportError:
        return None
    return skops.__version__


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def feature_matrix(X: pd.DataFrame, names, what="features") -> pd.DataFrame:
    """The model's input columns of ``X``, numeric, or an InputError naming what is wrong."""
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
    return out.astype(np.float64)


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
        X = np.asarray(X, dtype=np.float64)
        out = np.empty_like(X)
        for j, e in enumerate(self.edges_):
            out[:, j] = np.searchsorted(e, X[:, j], side="left")
        out[np.isnan(X)] = np.nan
        # a feature missing for every training SIM (no TAC table, no signaling) says
        # nothing: a constant (the booster's binning fails on an all-missing column)
        out[:, getattr(self, "empty_", [])] = 0.0
        return out


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
            p = self.estimator_._loss.predict_proba(trees.raw_predict(X))
        if not getattr(self, "in_class_order_", False):
            # a model of an older simbox (--trust-pickle): its calibrator reads the
            # columns in the booster's classes_ order
            return np.log(np.clip(p, 1e-12, 1.0))
        out = np.full((len(p), len(CLASSES)), 1e-12)
        for j, c in enumerate(self.classes_):
            out[:, CLASSES.index(str(c))] = p[:, j]
        return np.log(np.clip(out, 1e-12, 1.0))


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
    population weights, keeps the probabilities honest).
    """

    def __init__(self, *, feature_names=(), schema_hash=None, calibration_c=100.0,
                 calibration_folds=3, max_iter=200, learning_rate=0.1, max_leaf_nodes=31,
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
            raise ModelError("the model has no operating threshold: pass threshold= or "
                             "train it with simbox train")
        p = self.predict_proba(X)
        out = pd.DataFrame(p, index=X.index, columns=[f"score_{c}" for c in CLASSES])
        score = 1.0 - p[:, CLASSES.index("legit")]
        flagged = score >= float(t)
        fraud_class = np.where(p[:, 0] >= p[:, 1], FRAUD_CLASSES[0], FRAUD_CLASSES[1])
        out["class"] = np.where(flagged, fraud_class, "legit")
        out["score"] = score
        out["flagged"] = flagged
        return out[list(PREDICT_COLUMNS)]

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
            r = permutation_importance(self.pipeline_, Xm, y, scoring="neg_log_loss",
                                       n_repeats=n_repeats, random_state=seed,
                                       sample_weight=w)
        return (pd.DataFrame({"importance": r.importances_mean, "std": r.importances_std},
                             index=list(self.feature_names))
                .sort_values("importance", ascending=False))

    # ---- model folder -------------------------------------------------------------

    def save(self, path, *, timestamp=True, key=None) -> pathlib.Path:
        """Write ``model.skops`` and ``model.json`` into the folder ``path``.

        ``timestamp=False`` leaves the save time out of the card, so that the same
        training run gives byte-identical files (the shipped default model).
        ``key`` (bytes, or a key file's path): sign the folder (see the module doc).
        A ``model.joblib`` of an older save is removed.
        """
        import zipfile
        from skops import io as sio
        check_is_fitted(self, "pipeline_")
        secret = read_key(key) if key is not None else None
        folder = pathlib.Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (MODEL_FILE + ".tmp")
        sio.dump(self.pipeline_, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        os.replace(tmp, folder / MODEL_FILE)
        (folder / PICKLE_FILE).unlink(missing_ok=True)
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
            "files": {MODEL_FILE: {"sha256": sha256_file(folder / MODEL_FILE),
                                   "bytes": (folder / MODEL_FILE).stat().st_size}},
        })
        if timestamp:
            card["saved"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds")
        else:
            card.pop("saved", None)
        card.pop("signature", None)
        card = nan_free(card)
        if secret is not None:
            card["signature"] = {"algorithm": "hmac-sha256", "value": sign_card(card, secret)}
        with open(folder / (CARD_FILE + ".tmp"), "w", encoding="utf-8") as fh:
            json.dump(nan_free(card), fh, indent=2, default=_json_default, allow_nan=False)
            fh.write("\n")
        os.replace(folder / (CARD_FILE + ".tmp"), folder / CARD_FILE)
        self.card = card
        return folder

    @classmethod
    def load(cls, path, *, schema=None, key=None, trust_pickle=False) -> "Model":
        """Load a model folder, refusing anything that does not match this simbox.

        ``schema``: ``(feature_names, schema_hash)`` the caller computes features
        with; default: the feature registry of this simbox.  ``key`` (bytes or a
        key file's path; default: the file named by ``SIMBOX_MODEL_KEY_FILE``, if
        set): the folder must be signed with it.  ``trust_pickle``: also load an
        older folder's ``model.joblib`` (a pickle runs code when loaded).
        """
        folder = pathlib.Path(path)
        card = read_card(folder)
        if key is None and os.environ.get(KEY_ENV):
            key = os.environ[KEY_ENV]
        if key is not None:
            check_signature(folder, card, read_key(key))
        name = model_file(folder, card, trust_pickle)
        check_files(folder, card, name)
        check_libraries(folder, card)
        if schema is None:
            from simbox.training.schema import registry_schema
            schema = registry_schema()
        check_schema(folder, card, *schema)
        pipe = load_pipeline(folder / name)
        m = cls(feature_names=list(card["features"]["names"]),
                schema_hash=card["features"]["schema_hash"], **card.get("params", {}))
        m.pipeline_ = pipe
        m.classes_ = np.asarray(pipe.classes_)
        m.threshold = card.get("threshold", {}).get("value")
        m.card = card
        return m


def nan_free(obj):
    """``obj`` with NaN / inf floats replaced by None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: nan_free(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [nan_free(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _json_float(v):
    return None if v is None else float(v)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (pathlib.Path,)):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_card(folder: pathlib.Path) -> dict:
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such model folder")
    p = folder / CARD_FILE
    if not p.is_file():
        raise ModelError(f"{folder}: no {CARD_FILE}: not a simbox model folder, or an "
                         "incomplete copy; copy the whole folder again or retrain")
    try:
        card = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno}" if hasattr(exc, "lineno") else f"byte {exc.start}"
        raise ModelError(f"{p}: corrupted (not valid JSON at {where}); copy the model "
                         "folder again or retrain") from None
    if not isinstance(card, dict) or card.get("format") not in FORMATS_READ:
        got = card.get("format") if isinstance(card, dict) else None
        raise ModelError(f"{p}: format {got!r}, this simbox reads {FORMAT!r}; retrain the "
                         "model with this simbox")
    for key in ("files", "libraries", "features"):
        if not isinstance(card.get(key), dict):
            raise ModelError(f"{p}: corrupted (no {key!r} section); copy the model folder "
                             "again or retrain")
    return card


def read_key(key) -> bytes:
    """The signing key: bytes as given, or the contents of a key file (str or Path)."""
    if isinstance(key, (bytes, bytearray)):
        secret = bytes(key)
    else:
        p = pathlib.Path(key)
        try:
            secret = p.read_bytes().strip()
        except OSError as exc:
            raise ModelError(f"{p}: cannot read the model signing key ({exc.strerror})") from None
        if not secret:
            raise ModelError(f"{p}: the model signing key file is empty")
    if len(secret) < 16:
        raise ModelError("the model signing key is shorter than 16 bytes; use a long random "
                         "secret (e.g. head -c 32 /dev/urandom | base64 > model.key)")
    return secret


def sign_card(card: dict, secret: bytes) -> str:
    """HMAC-SHA256 (hex) of the card without its signature, as canonical JSON; the card
    holds each file's sha256, so this signs the files too."""
    body = {k: v for k, v in card.items() if k != "signature"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_json_default,
                      allow_nan=False)
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def check_signature(folder: pathlib.Path, card: dict, secret: bytes):
    sig = card.get("signature")
    if not isinstance(sig, dict) or not sig.get("value"):
        raise ModelError(f"{folder}: the model folder is not signed, and a signing key was "
                         "given; sign it (python -m simbox.training.convert_model FOLDER --model-key KEY_FILE) "
                         "or load it without the key")
    if sig.get("algorithm") != "hmac-sha256" or not hmac.compare_digest(
            str(sig["value"]), sign_card(card, secret)):
        raise ModelError(f"{folder}: signature does not match the signing key: the model was "
                         "changed after it was signed, or signed with another key; do not use it")


def model_file(folder: pathlib.Path, card: dict, trust_pickle: bool) -> str:
    """The model file of a folder: ``model.skops``, or the pickle of an older save when trusted."""
    if MODEL_FILE in card["files"]:
        return MODEL_FILE
    if PICKLE_FILE in card["files"]:
        if not trust_pickle:
            raise ModelError(f"{folder}: holds {PICKLE_FILE}, a pickle that can run any code when "
                             "loaded; convert it once from a trusted copy (python -m "
                             f"simbox.training.convert_model {folder}), or pass --trust-pickle "
                             "if you trust where it came from")
        return PICKLE_FILE
    raise ModelError(f"{folder / CARD_FILE}: names no model file; copy the model folder again "
                     "or retrain")


def load_pipeline(p: pathlib.Path) -> Pipeline:
    """The pipeline of a model file: skops with the allow-list, or a trusted pickle."""
    try:
        if p.name == MODEL_FILE:
            from skops import io as sio
            from skops.io.exceptions import UntrustedTypesFoundException
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


def check_files(folder: pathlib.Path, card: dict, name: str = MODEL_FILE):
    p = folder / name
    want = card["files"].get(name, {})
    if not p.is_file():
        raise ModelError(f"{p}: missing; copy the whole model folder again or retrain")
    size = p.stat().st_size
    if want.get("sha256") != sha256_file(p):
        how = (f"{size} bytes, the card says {want.get('bytes')}"
               if size != want.get("bytes") else "same size, different content")
        raise ModelError(f"{p}: sha256 differs from {CARD_FILE} ({how}): the file is "
                         "truncated or corrupted; copy the model folder again or retrain")


def _series(version) -> str:
    """``"1.9.1"`` -> ``"1.9"``: the release series of a version string."""
    return ".".join(str(version or "").split(".")[:2])


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
    s_np, n_np = str(saved.get("numpy", "")).split(".")[0], now["numpy"].split(".")[0]
    if s_np != n_np:
        v = saved.get("numpy")
        raise ModelError(f"{folder}: saved with numpy {v}, this environment has "
                         f"{now['numpy']}; install it (pip install numpy=={v}) or retrain "
                         "the model with simbox train")


def check_schema(folder: pathlib.Path, card: dict, names, schema_hash):
    f = card["features"]
    if f.get("schema_hash") == schema_hash:
        return
    saved = list(f.get("names", []))
    added = [n for n in names if n not in saved]
    removed = [n for n in saved if n not in names]
    diff = []
    if added:
        diff.append("added: " + ", ".join(added))
    if removed:
        diff.append("removed: " + ", ".join(removed))
    if not diff:
        diff.append("same names, changed definitions")
    made_by = card.get("libraries", {}).get("simbox", "?")
    raise ModelError(f"{folder}: feature schema {str(f.get('schema_hash'))[:12]} of the model "
                     f"differs from this simbox's {str(schema_hash)[:12]} ({'; '.join(diff)}); "
                     f"retrain the model with simbox train, or install simbox=={made_by} "
                     "that made it")
