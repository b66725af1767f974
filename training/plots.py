"""Plots of a model folder: PR curves per class, calibration, feature importances.

Each figure is written as a PNG and all of them, with the headline metrics, in a
self-contained ``report.html`` (images inlined, works offline).  Matplotlib runs
with the non-interactive Agg backend.
"""
from __future__ import annotations

import base64
import html
import pathlib

import numpy as np

from simbox.training.labels import CLASSES, FRAUD_CLASSES
from simbox.training.threshold import precision_recall_curve_weighted

PLOTS = ("pr_curves.png", "calibration.png", "importances.png")


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


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
    _pyplot().close(fig)


def plot_pr_curves(path, labels, proba, weight=None, *, threshold=None, rules_point=None):
    """Precision-recall per class (one-vs-rest) and for fraud (``1 - P(legit)``)."""
    plt = _pyplot()
    labels = np.asarray(labels)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
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
    from sklearn.calibration import calibration_curve
    plt = _pyplot()
    labels = np.asarray(labels)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
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
    plt = _pyplot()
    imp = importances.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.3 * len(imp) + 1.2), dpi=100)
    ax.barh(list(imp.index), imp["importance"], xerr=imp["std"], color="#4878a8")
    _finish(fig, ax, path, "Feature importance (permutation)",
            "drop in log-likelihood when the feature is shuffled", None, legend=None)


def _fmt(v, digits=4):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _ci(m, key):
    lo, hi = m.get(key + "_ci", [None, None])
    if lo is None:
        return _fmt(m.get(key))
    return f"{_fmt(m.get(key))} [{_fmt(lo)}, {_fmt(hi)}]"


def write_report(folder, card: dict) -> pathlib.Path:
    """``report.html`` with the model card's headline numbers and the PNGs inlined."""
    folder = pathlib.Path(folder)
    cv = card.get("metrics", {})
    rows = []
    for name, m in (("model", cv.get("model", {})), ("rules baseline", cv.get("rules", {}))):
        s, d = m.get("per_sim", {}), m.get("per_deployment", {})
        if s:
            rows.append(f"<tr><td>{name}</td><td>{_ci(s, 'precision')}</td>"
                        f"<td>{_ci(s, 'recall')}</td><td>{_ci(s, 'false_positive_rate')}</td>"
                        f"<td>{_fmt(s.get('missed'))}</td><td>{_ci(d, 'share')}</td></tr>")
    kinds = "".join(f"<tr><td>{html.escape(k)}</td><td>{v['sims']}</td><td>{_ci(v, 'recall')}"
                    f"</td></tr>" for k, v in cv.get("model", {}).get("recall_by_kind", {}).items())
    imgs = "".join(
        f'<figure><img alt="{p}" src="data:image/png;base64,'
        f'{base64.b64encode((folder / p).read_bytes()).decode()}"></figure>'
        for p in PLOTS if (folder / p).is_file())
    t = card.get("threshold", {})
    data = card.get("training_data", {})
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in card.get("warnings", []))
    warn = (f'<div style="border:2px solid #c00;padding:0 1em;background:#fee">'
            f"<h2>Warnings</h2><ul>{warn}</ul></div>") if warn else ""
    mix = [f"{s.get('sims', 0):,} simulated SIMs ({html.escape(str(s.get('source', '')))}, "
           f"weight {s.get('train_weight')})" for s in data.get("simulated") or []]
    pu = (card.get("unlabelled") or {}).get("pu") or {}
    mix_line = (f"<p>Mix: seized SIMs weigh {data.get('seizure_weight')}; "
                f"{html.escape('; '.join(mix) or 'no simulated knowledge (--no-simulated)')}."
                + (f" Positive-unlabelled: {html.escape(pu.get('method', ''))}; "
                   f"{pu.get('excluded', 0):,} of {pu.get('unlabelled', 0):,} unlabelled SIMs "
                   "left out." if pu else "") + "</p>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>simbox model card</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
td:first-child{{text-align:left}}figure{{display:inline-block;margin:4px}}</style></head><body>
<h1>simbox model</h1>
{warn}
<p>Classes: {html.escape(', '.join(card.get('classes', CLASSES)))}.
Operating threshold on the fraud score (1 - P(legit)): <b>{_fmt(t.get('value'))}</b>,
chosen on out-of-fold scores for precision {_fmt(t.get('target_precision'))}
(bootstrap interval over cases {_fmt((t.get('ci') or [None])[0])} to
{_fmt((t.get('ci') or [None, None])[1])}).</p>
<p>Training data: {html.escape(str(data.get('sims', '?')))} SIMs,
labels {html.escape(str(data.get('label_counts', {})))}.
Unlabelled SIMs: {html.escape(str(card.get('unlabelled', {}).get('policy', '?')))}.</p>
{mix_line}
<h2>Cross-validated metrics (grouped by case, 95% intervals)</h2>
<table><tr><th></th><th>precision</th><th>recall</th><th>false-positive rate</th>
<th>missed</th><th>deployments recovered</th></tr>{''.join(rows)}</table>
{'<h2>Recall per fraud kind</h2><table><tr><th>kind</th><th>SIMs</th><th>recall</th></tr>'
 + kinds + '</table>' if kinds else ''}
<h2>Plots</h2>{imgs}
<p><small>model.skops cannot run code when loaded; sign folders you pass around (docs/training.md).
Full card: model.json.</small></p>
</body></html>
"""
    out = folder / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
