"""Plots of a model folder: PR curves per class, calibration, feature importances.

Each figure is written as a PNG and all of them, with the headline metrics, in a
self-contained ``report.html`` (images inlined, works offline; template
``simbox/templates/model_report.html``).  Figures come from :mod:`simbox.plotting`.
"""
from __future__ import annotations

import base64
import pathlib

import numpy as np
from sklearn.calibration import calibration_curve

from simbox.pages import render
from simbox.plotting import figure
from simbox.training.labels import CLASSES, FRAUD_CLASSES
from simbox.training.threshold import precision_recall_curve_weighted

PLOTS = ("pr_curves.png", "calibration.png", "importances.png")


def _finish(fig, ax, path, title, xlabel, ylabel, *, legend):
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if legend:
        ax.legend(loc=legend, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def plot_pr_curves(path, labels, proba, weight=None, *, threshold=None, rules_point=None):
    """Precision-recall per class (one-vs-rest) and for fraud (``1 - P(legit)``)."""
    labels = np.asarray(labels)
    fig = figure(6.4, 4.8)
    ax = fig.subplots()
    curves = [(c, labels == c, proba[:, CLASSES.index(c)]) for c in CLASSES]
    curves.append(("fraud (any)", np.isin(labels, FRAUD_CLASSES),
                   1.0 - proba[:, CLASSES.index("legit")]))
    for name, y, s in curves:
        if y.sum() == 0:
            continue
        _, prec, rec = precision_recall_curve_weighted(y, s, weight)
        ax.plot(np.r_[0.0, rec], np.r_[1.0, prec], label=f"{name} ({int(y.sum())} SIMs)",
                lw=2 if name.startswith("fraud") else 1)
    if threshold is not None and np.isfinite(threshold):
        y = np.isin(labels, FRAUD_CLASSES)
        f = (1.0 - proba[:, CLASSES.index("legit")]) >= threshold
        w = np.ones(len(y)) if weight is None else np.asarray(weight)
        tp, fp = (w * (y & f)).sum(), (w * (~y & f)).sum()
        if tp + fp > 0:
            ax.plot([(y & f).sum() / y.sum()], [tp / (tp + fp)], "ko",
                    label=f"operating threshold {threshold:.3f}")
    if rules_point is not None and rules_point[0] is not None and rules_point[1] is not None:
        ax.plot([rules_point[0]], [rules_point[1]], "rs", label="rules baseline")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    _finish(fig, ax, path, "Precision-recall, out-of-fold", "recall",
            "precision (population-weighted)", legend="lower left")


def plot_calibration(path, labels, proba, *, n_bins=10):
    """Reliability diagram per class: mean predicted probability vs observed share."""
    labels = np.asarray(labels)
    fig = figure(6.4, 4.8)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfectly calibrated")
    for c in CLASSES:
        y = labels == c
        if 0 < y.sum() < len(y):
            frac, mean = calibration_curve(y, proba[:, CLASSES.index(c)], n_bins=n_bins,
                                           strategy="quantile")
            ax.plot(mean, frac, "o-", ms=3, label=c)
    _finish(fig, ax, path, "Calibration, out-of-fold", "predicted probability",
            "observed share", legend="upper left")


def plot_importances(path, importances, *, top=20):
    """Horizontal bars of permutation importance (``importance``, ``std`` columns)."""
    imp = importances.head(top).iloc[::-1]
    fig = figure(6.4, 0.3 * len(imp) + 1.2)
    ax = fig.subplots()
    ax.barh(list(imp.index), imp["importance"], xerr=imp["std"], color="#4878a8")
    _finish(fig, ax, path, "Feature importance (permutation)",
            "drop in log-likelihood when the feature is shuffled", None, legend=None)


def _fmt(v, digits=4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def write_report(folder, card: dict) -> pathlib.Path:
    """``report.html`` with the model card's headline numbers and the PNGs inlined."""
    folder = pathlib.Path(folder)
    cv = card.get("metrics", {})
    rows = [(name, m.get("per_sim", {}), m.get("per_deployment", {}))
            for name, m in (("model", cv.get("model", {})), ("rules baseline", cv.get("rules", {})))
            if m.get("per_sim")]
    images = [(p, "data:image/png;base64," + base64.b64encode((folder / p).read_bytes()).decode())
              for p in PLOTS if (folder / p).is_file()]
    data = card.get("training_data", {})
    mix = [f"{s.get('sims', 0):,} simulated SIMs ({s.get('source', '')}, weight {s.get('train_weight')})"
           for s in data.get("simulated") or []]
    page = render("model_report.html", title="simbox model card", fmt=_fmt,
                  warnings=card.get("warnings", []), classes=card.get("classes", CLASSES),
                  threshold=card.get("threshold", {}), data=data,
                  unlabelled=card.get("unlabelled", {}),
                  pu=(card.get("unlabelled") or {}).get("pu") or {}, mix=mix, rows=rows,
                  kinds=list(cv.get("model", {}).get("recall_by_kind", {}).items()), images=images)
    out = folder / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
