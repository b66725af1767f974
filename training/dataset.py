"""The training set: labelled SIMs, presumed-legit unlabelled SIMs, the simulated network.

Every row is one SIM with

- ``label`` (class), ``group`` (what cross-validation keeps together),
  ``deployment`` (the case a fraud SIM was seized in / the simulated deployment),
- ``train_weight`` (what the fit sees) and ``weight`` (the population weight used
  to count false positives: ``1 / sampling rate`` for sampled unlabelled SIMs),
- ``source``: ``seizure``, ``unlabelled`` or ``simulated``,
- ``kind`` / ``legit_group`` when a simulator truth is known.

Positive-unlabelled data is the reality of seizures: raids confirm some fraud
SIMs, nobody confirms the rest of the network is clean.  By default a random
sample of the unlabelled SIMs is used as presumed legit with a lower training
weight (:data:`UNLABELLED_POLICIES`); the choice goes into the model card.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simbox.errors import InputError
from simbox.training.defaults import SEIZURE_WEIGHT
from simbox.training.knowledge import Knowledge
from simbox.training.labels import CLASSES, LabelSet, expand_labels, read_labels

log = logging.getLogger(__name__)

UNLABELLED_POLICIES = ("presumed-legit", "ignore")
TRUTH_COLUMNS = ("imsi", "label", "case_id", "kind", "legit_group")


@dataclass
class TrainingSet:
    X: pd.DataFrame              # features, index imsi (prefixed "sim:" for simulated rows)
    rows: pd.DataFrame           # same index: label, group, deployment, train_weight, weight, source, kind, legit_group
    info: dict                   # what went in, for the model card

    @property
    def y(self) -> np.ndarray:
        return self.rows["label"].to_numpy()


def split_features(features):
    """``(features DataFrame, devices or None, sims or None, timezone or None)``."""
    if isinstance(features, pd.DataFrame):
        return features, None, None, None
    f = getattr(features, "features", None)
    if not isinstance(f, pd.DataFrame):
        raise TypeError("features must be a FeatureResult or a DataFrame indexed by imsi")
    return f, getattr(features, "devices", None), getattr(features, "sims", None), \
        getattr(features, "timezone", None)


def as_label_set(labels, devices) -> LabelSet:
    if isinstance(labels, LabelSet):
        return labels
    if isinstance(labels, pd.DataFrame):
        df = labels.copy()
        for c in ("imsi", "imei"):
            df[c] = df[c].fillna("").astype(str) if c in df else ""
        if "line" not in df:
            df["line"] = np.arange(2, len(df) + 2)
        return expand_labels(df, devices, source="labels")
    return expand_labels(read_labels(labels), devices, source=str(labels))


def truth_labels(truth: pd.DataFrame) -> pd.DataFrame:
    """Label rows (``imsi, imei, label, case_id, line``) from a simulator truth table.

    ``truth`` has the columns of :data:`TRUTH_COLUMNS`; legit SIMs with an empty
    ``case_id`` become their own case.
    """
    t = truth_frame(truth)
    case = t["case_id"].where(t["case_id"] != "", "legit:" + t["imsi"])
    return pd.DataFrame({"imsi": t["imsi"], "imei": "", "label": t["label"],
                         "case_id": case, "line": np.arange(2, len(t) + 2)})


def truth_frame(truth: pd.DataFrame) -> pd.DataFrame:
    """The truth table with :data:`TRUTH_COLUMNS`, all strings.

    Accepts the simulator's ``truth.csv`` (``imsi, class, deployment_id, kind``):
    a fraud SIM's ``kind`` stays its kind, a legit SIM's kind becomes its
    ``legit_group`` (call centre, driver, M2M, ...).
    """
    if {"class", "deployment_id", "kind"} <= set(truth.columns) and "label" not in truth:
        cls = truth["class"].fillna("").astype(str)
        kind = truth["kind"].fillna("").astype(str)
        truth = pd.DataFrame({"imsi": truth["imsi"], "label": cls,
                              "case_id": truth["deployment_id"],
                              "kind": kind.where(cls != "legit", ""),
                              "legit_group": kind.where(cls == "legit", "")})
    missing = [c for c in TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise InputError(f"truth table lacks column(s) {', '.join(missing)}; expected the "
                         "simulator's truth.csv (imsi,class,deployment_id,kind)")
    t = truth.loc[:, list(TRUTH_COLUMNS)].copy()
    for c in TRUTH_COLUMNS:
        t[c] = t[c].fillna("").astype(str)
    bad = sorted(set(t["label"]) - set(CLASSES))
    if bad:
        raise InputError(f"truth table: unknown label(s) {', '.join(bad)}")
    return t


def _labelled_rows(X, ls: LabelSet, source, weight, prefix=""):
    sims = ls.sims
    sims = sims.set_axis(prefix + sims.index.astype(str))
    seen = sims.index.isin(X.index)
    missing = int((~seen).sum())
    sims = sims[seen]
    fraud = sims["label"] != "legit"
    rows = pd.DataFrame({
        "label": sims["label"], "group": prefix + sims["group"].astype(str),
        "deployment": np.where(fraud, prefix + sims["case_id"].astype(str), ""),
        "train_weight": float(weight), "weight": 1.0, "source": source,
    }, index=sims.index)
    return rows, missing


def _unlabelled_rows(X, labelled_index, sims, *, policy, max_sims, weight, seed):
    if policy not in UNLABELLED_POLICIES:
        raise InputError(f"unlabelled policy must be one of {', '.join(UNLABELLED_POLICIES)}, "
                         f"not {policy!r}")
    pool = X.index[~X.index.isin(labelled_index)]
    info = {"policy": policy, "unlabelled_sims": int(len(pool))}
    if policy == "ignore" or len(pool) == 0:
        return pd.DataFrame(columns=["label", "group", "deployment", "train_weight", "weight",
                                     "source"]), dict(info, sampled=0)
    rng = np.random.default_rng(seed)
    n = min(len(pool), int(max_sims))
    chosen = pool[np.sort(rng.choice(len(pool), n, replace=False))] if n < len(pool) else pool
    rate = n / len(pool)
    # SIMs sharing a device stay together: an undiscovered box is not split across folds
    group = pd.Series("u:" + chosen.astype(str), index=chosen)
    if sims is not None and "main_imei" in sims:
        imei = sims["main_imei"].reindex(chosen).fillna("").astype(str)
        group = group.where(imei == "", "u:dev:" + imei)
    rows = pd.DataFrame({"label": "legit", "group": group, "deployment": "",
                         "train_weight": float(weight), "weight": 1.0 / rate,
                         "source": "unlabelled"}, index=chosen)
    return rows, dict(info, sampled=int(n), sampling_rate=rate, train_weight=float(weight),
                      population_weight=1.0 / rate)


def _with_truth(rows, truth, prefix=""):
    t = truth_frame(truth).set_index("imsi")
    t.index = prefix + t.index
    rows["kind"] = t["kind"].reindex(rows.index).fillna("").to_numpy()
    rows["legit_group"] = t["legit_group"].reindex(rows.index).fillna("").to_numpy()
    if "world" in truth:
        w = pd.Series(truth["world"].astype(str).to_numpy(), index=prefix + pd.Index(
            truth["imsi"].astype(str)))
        rows["world"] = w.reindex(rows.index).fillna("").to_numpy()
    if "young" in truth:
        y = pd.Series(truth["young"].astype(bool).to_numpy(), index=prefix + pd.Index(
            truth["imsi"].astype(str)))
        rows["young"] = y.reindex(rows.index).fillna(False).astype(bool).to_numpy()
    return rows


def _simulated_sets(simulated):
    """``[(X DataFrame, truth, population weights or None, info)]`` of the simulated inputs:
    a :class:`~simbox.training.knowledge.Knowledge`, a ``(features, truth)`` pair, or a
    list of them."""
    if simulated is None:
        return []
    if isinstance(simulated, (Knowledge, tuple)):
        simulated = [simulated]
    out = []
    for s in simulated:
        if isinstance(s, Knowledge):
            out.append((s.X, s.truth, s.weight, dict(s.info, source="knowledge")))
        else:
            sX, s_truth = s
            sX, _, _, _ = split_features(sX)
            out.append((sX, s_truth, None, {"source": "simulated network"}))
    return out


def unavailable_features(X: pd.DataFrame) -> list:
    """Features missing (NaN) for every SIM of ``X``: what this network's data cannot give
    (no TAC table, no signaling, no cells)."""
    if not len(X):
        return []
    num = X.select_dtypes("number")
    return [c for c in num.columns if num[c].isna().all()]


def build_training_set(features, labels, *, unlabelled="presumed-legit",
                       unlabelled_max=100_000, unlabelled_weight=0.5, seizure_weight=SEIZURE_WEIGHT,
                       simulated=None, simulated_weight=1.0, truth=None,
                       seed=0) -> TrainingSet:
    """Assemble the rows a model is trained and cross-validated on.

    ``features``: FeatureResult or DataFrame (index imsi); ``labels``: labels file,
    DataFrame of label rows or :class:`LabelSet`.  ``simulated``: labelled simulated
    SIMs added with ``simulated_weight``: simbox's shipped knowledge
    (:class:`~simbox.training.knowledge.Knowledge`), a ``(features, truth)`` pair of
    a simulated network, or a list of them (their SIMs are prefixed ``sim:<n>:`` so
    they never collide with real ones).  Features this network's data lacks
    entirely (:func:`unavailable_features`) are blanked in the simulated rows too, so
    the model cannot tell the worlds apart by them.  ``truth``: the simulator truth
    of ``features`` itself (benchmarks), which adds ``kind`` and ``legit_group``.
    """
    X, devices, sims, tz = split_features(features)
    X = X.copy()
    X.index = X.index.astype(str)
    ls = as_label_set(labels, devices)
    rows, missing = _labelled_rows(X, ls, "seizure", seizure_weight)
    if missing:
        log.warning("%d labelled SIM(s) do not occur in the features and are not used", missing)
    un_rows, un_info = _unlabelled_rows(X, rows.index, sims, policy=unlabelled,
                                        max_sims=unlabelled_max, weight=unlabelled_weight,
                                        seed=seed)
    rows = pd.concat([rows, un_rows])
    if truth is not None:
        rows = _with_truth(rows, truth)
    Xs = [X.loc[rows.index]]
    blank = unavailable_features(X)
    sim_info = []
    for n, (sX, s_truth, pop, s_meta) in enumerate(_simulated_sets(simulated)):
        prefix = f"sim:{n}:"
        sX = sX.copy()
        sX.index = prefix + sX.index.astype(str)
        if blank:
            sX.loc[:, [c for c in blank if c in sX.columns]] = np.nan
        s_ls = as_label_set(truth_labels(s_truth), None)
        s_rows, s_missing = _labelled_rows(sX, s_ls, "simulated", simulated_weight, prefix)
        s_rows = _with_truth(s_rows, s_truth, prefix)
        if pop is not None:
            pw = pd.Series(np.asarray(pop, dtype=float), index=prefix + pd.Index(
                s_truth["imsi"].astype(str))).reindex(s_rows.index).fillna(1.0).to_numpy()
            s_rows["weight"] = pw
            s_rows["train_weight"] = s_rows["train_weight"].to_numpy() * pw
        rows = pd.concat([rows, s_rows])
        Xs.append(sX.loc[s_rows.index])
        sim_info.append(dict(s_meta, sims=int(len(s_rows)),
                             train_weight=float(simulated_weight),
                             label_counts=s_rows["label"].value_counts().to_dict()))
    for c in ("kind", "legit_group", "world"):
        if c in rows:
            rows[c] = rows[c].fillna("")
    if "young" in rows:
        rows["young"] = rows["young"].fillna(False).astype(bool)
    Xall = pd.concat(Xs)
    info = {
        "sims": int(len(rows)),
        "label_counts": {c: int((rows["label"] == c).sum()) for c in CLASSES},
        "labels": dict(ls.summary(), not_in_features=int(missing)),
        "unlabelled": un_info,
        "seizure_weight": float(seizure_weight),
        "simulated": sim_info or None,
        "unavailable_features": blank,
        "sources": rows["source"].value_counts().to_dict(),
        "timezone": tz,
    }
    return TrainingSet(Xall, rows, info)
