"""Honest metrics of a flagging: per SIM, per deployment, per fraud kind, per legit group.

Everything here works on one *evaluation frame*, a DataFrame with one row per SIM:

============  ===============================================================
column        meaning
============  ===============================================================
label         true class: ``simbox``, ``cardfarm`` or ``legit``
score         fraud score (calibrated ``1 - P(legit)``)
pred_class    predicted class when flagged (``simbox`` / ``cardfarm``)
group         resampling unit of the bootstrap (the case / raid, or the SIM)
weight        population weight (1, or 1/sampling rate for sampled unlabelled)
deployment    optional: the deployment / case a fraud SIM belongs to
kind          optional: the fraud kind of a fraud SIM (simulator truth)
legit_group   optional: the kind of legitimate subscriber (call centre, ...)
============  ===============================================================

Confidence intervals are percentile intervals of a bootstrap that draws whole
groups (all SIMs of one raid together), because SIMs of one box are not
independent.  Deployment recovery resamples deployments.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simbox.training.labels import FRAUD_CLASSES
from simbox.training.threshold import (group_bootstrap_weights, group_codes,
                                       threshold_for_precision)

DEPLOYMENT_SHARE = 0.5   # a deployment is recovered when at least half its SIMs are flagged


def _ci(values, alpha):
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return [None, None]
    return [float(np.quantile(v, alpha / 2)), float(np.quantile(v, 1 - alpha / 2))]


def _ratio(num, den):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _per_group_sums(codes, columns):
    n = int(codes.max()) + 1 if len(codes) else 0
    return np.stack([np.bincount(codes, weights=c, minlength=n) for c in columns], axis=1)


def _bootstrap(codes, columns, stat, n_boot, seed, alpha):
    """Point value and CI of ``stat(sums)`` where ``sums`` are group-resampled column sums.

    ``stat`` may be a dict of statistics: then a dict of ``(point, ci)``, all from
    the same bootstrap replicates.
    """
    stats = stat if isinstance(stat, dict) else {None: stat}
    sums = _per_group_sums(codes, columns)
    total = sums.sum(axis=0)[None, :]
    points = {k: f(total)[0] for k, f in stats.items()}
    if n_boot <= 0 or len(codes) == 0:
        cis = {k: [None, None] for k in stats}
    else:
        rng = np.random.default_rng(seed)
        reps = {k: [] for k in stats}
        for m in group_bootstrap_weights(codes, n_boot, rng):
            s = m @ sums
            for k, f in stats.items():
                reps[k].append(f(s))
        cis = {k: _ci(np.concatenate(v), alpha) for k, v in reps.items()}
    out = {k: (points[k], cis[k]) for k in stats}
    return out if isinstance(stat, dict) else out[None]


def _fmt(v):
    return None if v is None or not np.isfinite(v) else float(v)


def sim_metrics(frame: pd.DataFrame, flagged, *, n_boot=200, seed=0, alpha=0.05) -> dict:
    """Per-SIM precision, recall and false-positive rate (fraud vs legit) with CIs."""
    flagged = np.asarray(flagged, dtype=bool)
    fraud = frame["label"].isin(FRAUD_CLASSES).to_numpy()
    w = frame["weight"].to_numpy(dtype=float)
    codes = group_codes(frame["group"])
    cols = [w * fraud * flagged, w * ~fraud * flagged, w * fraud, w * ~fraud]
    out = {}
    stats = {
        "precision": lambda s: _ratio(s[:, 0], s[:, 0] + s[:, 1]),
        "recall": lambda s: _ratio(s[:, 0], s[:, 2]),
        "false_positive_rate": lambda s: _ratio(s[:, 1], s[:, 3]),
    }
    for name, (point, ci) in _bootstrap(codes, cols, stats, n_boot, seed, alpha).items():
        out[name] = _fmt(point)
        out[name + "_ci"] = ci
    out.update({
        "fraud_sims": int(fraud.sum()), "legit_sims": int((~fraud).sum()),
        "legit_weight": float(w[~fraud].sum()),
        "flagged": int(flagged.sum()), "true_positives": int((fraud & flagged).sum()),
        "false_positives": int((~fraud & flagged).sum()),
        "false_positives_weighted": float((w * (~fraud & flagged)).sum()),
        "missed": int((fraud & ~flagged).sum()),
    })
    return out


def class_metrics(frame: pd.DataFrame, flagged) -> dict:
    """Per fraud class: precision of the class assigned to flagged SIMs, recall."""
    flagged = np.asarray(flagged, dtype=bool)
    w = frame["weight"].to_numpy(dtype=float)
    label = frame["label"].to_numpy()
    pred = np.where(flagged, frame["pred_class"].to_numpy(), "legit")
    out = {}
    for c in FRAUD_CLASSES:
        is_c, said_c = label == c, pred == c
        tp, said, n = (w * (is_c & said_c)).sum(), (w * said_c).sum(), is_c.sum()
        out[c] = {"sims": int(n), "flagged_as": int(said_c.sum()),
                  "precision": _fmt(tp / said) if said > 0 else None,
                  "recall": _fmt((is_c & said_c).sum() / n) if n > 0 else None}
    return out


def deployment_recovery(frame: pd.DataFrame, flagged, *, column="deployment",
                        n_boot=200, seed=0, alpha=0.05) -> dict:
    """Share of fraud deployments with at least half their SIMs flagged."""
    flagged = np.asarray(flagged, dtype=bool)
    fraud = frame["label"].isin(FRAUD_CLASSES).to_numpy()
    if column not in frame or not fraud.any():
        return {"deployments": 0, "recovered": 0, "share": None, "share_ci": [None, None]}
    per = (pd.DataFrame({"d": frame[column].to_numpy()[fraud], "f": flagged[fraud]})
           .groupby("d")["f"].mean())
    rec = (per >= DEPLOYMENT_SHARE).to_numpy(dtype=float)
    codes = np.arange(len(rec))
    point, ci = _bootstrap(codes, [rec, np.ones_like(rec)], lambda s: _ratio(s[:, 0], s[:, 1]),
                           n_boot, seed, alpha)
    return {"deployments": int(len(rec)), "recovered": int(rec.sum()),
            "share": _fmt(point), "share_ci": ci}


def _rate_by(frame, flagged, mask, column, n_boot, seed, alpha, name):
    out = {}
    sub = frame.loc[mask]
    f = np.asarray(flagged, dtype=bool)[mask.to_numpy()]
    for i, (key, idx) in enumerate(sorted(sub.groupby(column).indices.items())):
        part, fl = sub.iloc[idx], f[idx]
        w = part["weight"].to_numpy(dtype=float)
        point, ci = _bootstrap(group_codes(part["group"]), [w * fl, w],
                               lambda s: _ratio(s[:, 0], s[:, 1]), n_boot, seed + i, alpha)
        out[str(key)] = {"sims": int(len(part)), "flagged": int(fl.sum()),
                         name: _fmt(point), name + "_ci": ci}
    return out


def recall_by_kind(frame, flagged, *, n_boot=200, seed=0, alpha=0.05) -> dict:
    """Recall per fraud kind (``kind`` column, fraud SIMs only)."""
    if "kind" not in frame:
        return {}
    mask = frame["label"].isin(FRAUD_CLASSES)
    return _rate_by(frame, flagged, mask, "kind", n_boot, seed, alpha, "recall")


def fpr_by_legit_group(frame, flagged, *, n_boot=200, seed=0, alpha=0.05) -> dict:
    """False-positive rate within each legitimate group (``legit_group`` column)."""
    if "legit_group" not in frame:
        return {}
    mask = frame["label"] == "legit"
    return _rate_by(frame, flagged, mask, "legit_group", n_boot, seed, alpha,
                    "false_positive_rate")


def misses_at_precision(frame: pd.DataFrame, score, precision: float) -> dict:
    """Fraud SIMs missed at the lowest threshold reaching ``precision`` on this frame."""
    fraud = frame["label"].isin(FRAUD_CLASSES).to_numpy()
    w = frame["weight"].to_numpy(dtype=float)
    t = threshold_for_precision(fraud, score, precision, w)
    flagged = np.asarray(score) >= t
    return {"precision_target": float(precision), "threshold": _fmt(t),
            "recall": _fmt((fraud & flagged).sum() / max(fraud.sum(), 1)),
            "missed": int((fraud & ~flagged).sum())}


def evaluate_flags(frame: pd.DataFrame, flagged, *, n_boot=200, seed=0, alpha=0.05) -> dict:
    """Every metric of one flagging of the SIMs in ``frame``."""
    kw = dict(n_boot=n_boot, seed=seed, alpha=alpha)
    out = {"per_sim": sim_metrics(frame, flagged, **kw),
           "per_deployment": deployment_recovery(frame, flagged, **kw)}
    if "pred_class" in frame:
        out["per_class"] = class_metrics(frame, flagged)
    if "kind" in frame:
        out["recall_by_kind"] = recall_by_kind(frame, flagged, **kw)
    if "legit_group" in frame:
        out["fpr_by_legit_group"] = fpr_by_legit_group(frame, flagged, **kw)
    return out
