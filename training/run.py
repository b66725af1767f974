"""File-level entry points of ``simbox train`` and ``simbox evaluate``.

They turn paths into tables (CDR files through the fast path, or a features file),
call :func:`~simbox.training.train.train` / :func:`~simbox.training.evaluate.evaluate`
and return what the command prints.
"""
from __future__ import annotations

import logging
import os
import pathlib
from typing import TYPE_CHECKING

import pandas as pd

from simbox.errors import InputError
from simbox.fastpath.keys import IMSI_COLUMN, SUBSCRIBER_COLUMN
from simbox.features import compute_features
from simbox.progress import as_progress
from simbox.training.folder import DEFAULT_MODEL

if TYPE_CHECKING:
    from simbox.training.model import Model

log = logging.getLogger(__name__)

KEY_COLUMNS = (IMSI_COLUMN, SUBSCRIBER_COLUMN)     # a features file's key column


def default_model_path() -> pathlib.Path:
    """The model folder shipped in the package (used by ``simbox scan`` without --model)."""
    return DEFAULT_MODEL


def load_model(path=None, *, key=None, trust_pickle=False) -> Model:
    """Load a model folder, or the shipped default model when ``path`` is None
    (``key``, ``trust_pickle``: see :meth:`Model.load`; the shipped model is unsigned,
    so a key applies to given folders only)."""
    from simbox.training.model import Model  # lazy: a scan (model_timezone) needs no sklearn
    if path is None:
        return Model.load(DEFAULT_MODEL, trust_pickle=trust_pickle)
    return Model.load(path, key=key, trust_pickle=trust_pickle)


def model_timezone(timezone, model, name) -> tuple[str, str]:
    """``(time zone, where it comes from)``: the one given, else the model's (with a
    warning: the network's zone should be given), else UTC."""
    if timezone:
        return timezone, "given"
    tz = (getattr(model, "card", None) or {}).get("timezone")
    if tz:
        log.warning("no --timezone given: time-of-day features use the model's time zone %s "
                    "(model %s); give the network's with --timezone", tz, name)
        return tz, "the model's (no --timezone given)"
    return "UTC", "UTC (no --timezone given, none in the model)"


def read_features_file(path) -> pd.DataFrame:
    """A per-IMSI features table written by ``simbox features`` (Parquet or CSV).

    Its key column is ``imsi``, or ``subscriber`` when some key is not an IMSI; the
    table is indexed by it (named ``imsi`` inside) and ``attrs["key_column"]`` keeps
    the file's name (:func:`features_key`).
    """
    p = pathlib.Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such features file")
    with open(p, "rb") as fh:
        magic = fh.read(4)
    try:
        if magic == b"PAR1":
            df = pd.read_parquet(p)
        else:
            df = pd.read_csv(p, dtype={k: str for k in KEY_COLUMNS}, compression="infer")
    except Exception as exc:
        raise InputError(f"{p}: not a readable features file (Parquet or CSV): {exc}") from None
    key = next((k for k in KEY_COLUMNS if k in df.columns), None)
    if key is not None:
        df = df.set_index(key)
    elif df.index.name in KEY_COLUMNS:
        key = df.index.name
    else:
        raise InputError(f"{p}: no 'imsi' column (nor 'subscriber', for keys that are not all "
                         "IMSIs); write features with simbox features --out")
    df.index = df.index.astype(str).rename(IMSI_COLUMN)
    if df.index.has_duplicates:
        dup = df.index[df.index.duplicated()][0]
        raise InputError(f"{p}: {key} {dup} appears more than once")
    df.attrs["key_column"] = key
    return df


def features_key(features) -> str:
    """The key column of features: ``imsi``, or ``subscriber`` when some key is not an IMSI
    (a FeatureResult's :attr:`key_column`, or a features file's key column)."""
    if isinstance(features, pd.DataFrame):
        return features.attrs.get("key_column", IMSI_COLUMN)
    return getattr(features, "key_column", IMSI_COLUMN)


def features_from(inputs=(), features=None, *, progress=None, **options):
    """``(FeatureResult or DataFrame, input fingerprint)`` from CDR files or a features file.

    ``options``: those of :func:`simbox.features.compute_features` (its defaults).
    """
    if bool(inputs) == bool(features):
        raise InputError("give either CDR files or --features FILE (not both, not neither)")
    if features:
        df = read_features_file(features)
        return df, [{"path": os.fspath(features), "rows": int(len(df))}]
    res = compute_features(list(inputs), progress=progress, **options)
    files = [{"path": os.fspath(p), "bytes": os.path.getsize(p) if os.path.isfile(p) else None}
             for p in inputs]
    return res, [{"files": files, "read": res.stats.as_dict(), "sims": int(len(res.features))}]


def read_truth(path) -> pd.DataFrame:
    """The simulator's ``truth.csv`` as a table with ``imsi, label, case_id, kind, legit_group``."""
    p = pathlib.Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such truth file")
    # lazy: the training modules (~25 ms) are not for simbox scan, which loads this module
    from simbox.training.dataset import truth_frame
    try:
        t = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not a readable truth.csv: {exc}") from None
    try:
        return truth_frame(t)
    except InputError as exc:
        raise InputError(f"{p}: {exc}") from None


def train_files(*, inputs=(), features=None, labels, out, truth=None, simulated=(),
                knowledge=True, feature_options=None, progress=None, **train_options) -> Model:
    """``simbox train``: features from files, labels from ``labels.csv``, model folder ``out``.

    ``labels``: a labels file, or a table of label rows (``imsi, label, case_id``, and
    ``provenance`` / ``evidence``: what ``HistoryStore.labels()`` of
    :mod:`simbox.feedback.history` exports; its ``attrs["source"]`` names it).  With a
    ``provenance`` the card gets ``label_provenance`` (:func:`provenance_metrics`).

    ``simulated``: ``[(folder, timezone), ...]`` of networks written by ``simbox
    simulate`` to train beside the seizures (their CDRs, ``cells.csv``, ``tac.csv``,
    ``truth.csv``); ``knowledge``: also simbox's shipped simulated knowledge.
    """
    from simbox.training.train import SIMULATED_DEFAULT, train  # lazy: as truth_frame
    fopts = dict(feature_options or {})
    progress = as_progress(progress)
    feats, fingerprint = features_from(inputs, features, progress=progress, **fopts)
    t = read_truth(truth) if truth else None
    sims = [SIMULATED_DEFAULT] if knowledge else []
    if isinstance(simulated, tuple) and len(simulated) == 2 and isinstance(simulated[1], str):
        simulated = [simulated]
    for folder, tz in simulated or ():
        folder = pathlib.Path(folder)
        cdrs = sorted(str(p) for p in folder.glob("cdrs*"))
        if not cdrs or not (folder / "truth.csv").is_file():
            raise InputError(f"{folder}: not a simulated network (no cdrs* and truth.csv); "
                             "make one with simbox simulate")
        s_feats, s_print = features_from(
            cdrs, None, progress=progress, cells=str(folder / "cells.csv"),
            tac=str(folder / "tac.csv") if (folder / "tac.csv").is_file() else None,
            timezone=tz)
        sims.append((s_feats, read_truth(folder / "truth.csv")))
        fingerprint.append({"simulated": s_print, "truth": os.fspath(folder / "truth.csv")})
    if labels is None:
        if t is None:
            raise InputError("give --labels labels.csv (or --truth truth.csv of a simulation)")
        from simbox.training.dataset import truth_labels  # lazy: as truth_frame
        labels = truth_labels(t)
    elif isinstance(labels, pd.DataFrame):
        fingerprint.append({"labels": labels.attrs.get("source", "<label rows>"),
                            "rows": int(len(labels))})
        from simbox.training.labels import expand_labels  # lazy: as truth_frame
        labels = expand_labels(label_rows(labels), getattr(feats, "devices", None),
                               source=labels.attrs.get("source", "labels"))
    else:
        fingerprint.append({"labels": os.fspath(labels)})
        from simbox.training.labels import load_labels  # lazy: as truth_frame
        labels = load_labels(labels, getattr(feats, "devices", None), key=features_key(feats))
    progress.stage("training", unit="model fits")
    model = train(feats, labels, truth=t, simulated=sims or None, out=None, inputs=fingerprint,
                  timezone=fopts.get("timezone"), progress=progress, **train_options)
    if "provenance" in getattr(getattr(labels, "sims", None), "columns", ()):
        model.card["label_provenance"] = provenance_metrics(model, labels.sims)
    if out is not None:
        from simbox.training.train import write_model_folder  # lazy: as truth_frame
        write_model_folder(model, out)
    progress.finish()
    return model


def label_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Label rows (:func:`simbox.training.labels.read_labels`' columns) of a table with
    ``imsi`` (or ``subscriber`` / ``msisdn``), ``label``, ``case_id`` and optionally
    ``imei`` and ``provenance``."""
    key = next((k for k in ("imsi", "subscriber", "msisdn") if k in table), None)
    missing = [c for c in ("label", "case_id") if c not in table] + ([] if key else ["imsi"])
    if missing:
        raise InputError(f"label rows lack column(s) {', '.join(missing)}")
    out = pd.DataFrame({"imsi": table[key].fillna("").astype(str),
                        "imei": table["imei"].fillna("").astype(str) if "imei" in table else "",
                        "label": table["label"].astype(str), "case_id": table["case_id"].astype(str),
                        "line": range(2, len(table) + 2)})
    if "provenance" in table:
        out["provenance"] = table["provenance"].fillna("").astype(str)
    return out


def provenance_metrics(model, sims: pd.DataFrame) -> dict:
    """Per label provenance (testcall, verdict, seizure): the labelled SIMs by class and,
    for the fraud ones, the share flagged by their out-of-fold score at the model's
    threshold (``recall_oof``: each SIM scored by a model that did not train on its case).

    ``sims``: a LabelSet's ``sims`` with ``provenance``; the model's ``oof_`` frame gives
    the scores (SIMs not in the features are counted as ``not_in_features``)."""
    frame = model.oof_[0]
    prov = sims["provenance"].replace("", "unknown")
    out = {}
    for p in sorted(prov.unique()):
        ids = prov.index[prov == p].astype(str)
        here = frame.reindex(ids).dropna(subset=["score"])
        fraud = here[here["label"] != "legit"]
        flagged = int((fraud["score"] >= model.threshold).sum())
        out[p] = {"sims": int(len(ids)), "not_in_features": int(len(ids) - len(here)),
                  "by_label": {str(k): int(v) for k, v in
                               sims.loc[prov == p, "label"].value_counts().items()},
                  "fraud_flagged_oof": flagged,
                  "recall_oof": round(flagged / len(fraud), 4) if len(fraud) else None}
    return out


def evaluate_files(*, model=None, inputs=(), features=None, labels=None, truth=None,
                   feature_options=None, progress=None, **options) -> dict:
    """``simbox evaluate``: the metrics of a model folder on new labelled data."""
    from simbox.training.evaluate import evaluate  # lazy: as truth_frame
    from simbox.training.labels import load_labels  # lazy: as truth_frame
    m = load_model(model)
    fopts = dict(feature_options or {})
    if "timezone" not in fopts and inputs:        # (a features file has its times)
        fopts["timezone"] = model_timezone(None, m, os.fspath(model) if model else "default")[0]
    feats, fingerprint = features_from(inputs, features, progress=progress, **fopts)
    devices = getattr(feats, "devices", None)
    ls = load_labels(labels, devices, key=features_key(feats)) if labels else None
    res = evaluate(m, feats, labels=ls, truth=read_truth(truth) if truth else None, **options)
    res["inputs"] = fingerprint
    return res
