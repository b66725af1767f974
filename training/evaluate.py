"""``evaluate``: the metrics of a trained model on new labelled data.

The same figures as the model card's cross-validated ones: per SIM (precision,
recall, false-positive rate), per deployment (share of cases with at least half
their SIMs flagged), and with a simulator truth, recall per fraud kind and the
false-positive rate within each legitimate group.  The rules baseline the model
was trained beside (its thresholds are in the card) is evaluated on the same SIMs,
and the model's misses are counted at the precision the rules reach.
"""
from __future__ import annotations

from simbox.errors import InputError
from simbox.training.dataset import build_training_set, split_features, truth_labels
from simbox.training.metrics import evaluate_flags, misses_at_precision
from simbox.training.model import Model, nan_free  # noqa: F401 (re-exported)
from simbox.training.rules import RulesBaseline
from simbox.training.train import eval_frame


def evaluate(model: Model, features, *, labels=None, truth=None, unlabelled="ignore",
             threshold=None, n_boot=200, seed=0) -> dict:
    """Evaluate ``model`` on ``features`` with ``labels`` and/or a simulator ``truth``.

    ``unlabelled``: ``ignore`` (only labelled SIMs count) or ``presumed-legit``
    (every unlabelled SIM counts as legit).  Returns a JSON-ready dict.
    """
    if labels is None and truth is None:
        raise InputError("evaluate needs labels (labels.csv) or a simulator truth (truth.csv)")
    if labels is None:
        labels = truth_labels(truth)
    X, _, _, _ = split_features(features)
    ts = build_training_set(features, labels, unlabelled=unlabelled, unlabelled_max=len(X),
                            unlabelled_weight=1.0, truth=truth, seed=seed)
    t = model.threshold if threshold is None else float(threshold)
    pred = model.predict(ts.X, threshold=t)
    proba = pred[["score_simbox", "score_cardfarm", "score_legit"]].to_numpy()
    frame = eval_frame(ts, proba)
    flagged = pred["flagged"].to_numpy()
    out = {"sims": int(len(frame)), "threshold": t,
           "label_counts": ts.info["label_counts"],
           "model": evaluate_flags(frame, flagged, n_boot=n_boot, seed=seed)}
    params = model.card.get("rules_baseline", {}).get("params")
    if params:
        rules = RulesBaseline()
        rules.params_ = params
        rflags = rules.predict(ts.X)
        rframe = frame.assign(score=rules.score(ts.X), pred_class=rules.predict_class(ts.X))
        out["rules"] = evaluate_flags(rframe, rflags, n_boot=n_boot, seed=seed)
        rp = out["rules"]["per_sim"]["precision"]
        if rp is not None and rp > 0:
            out["same_precision"] = {
                "rules": {"precision": rp, "missed": out["rules"]["per_sim"]["missed"]},
                "model": misses_at_precision(frame, frame["score"].to_numpy(), rp)}
    return out


def _pct(v):
    return "-" if v is None else f"{v:.4f}"


def _ci(m, k):
    lo, hi = m.get(k + "_ci", [None, None])
    return _pct(m.get(k)) + ("" if lo is None else f" [{_pct(lo)}, {_pct(hi)}]")


def format_report(res: dict) -> str:
    """The human-readable text of :func:`evaluate`'s result."""
    lines = [f"{res['sims']:,} SIMs evaluated ({', '.join(f'{k} {v:,}' for k, v in res['label_counts'].items())}), "
             f"threshold {res['threshold']:.4f}",
             f"{'':16} {'precision':>26} {'recall':>26} {'false-positive rate':>26} "
             f"{'missed':>7} {'deployments':>12}"]
    for name in ("model", "rules"):
        if name not in res:
            continue
        s, d = res[name]["per_sim"], res[name]["per_deployment"]
        dep = "-" if d["share"] is None else f"{d['recovered']}/{d['deployments']}"
        lines.append(f"{name:16} {_ci(s, 'precision'):>26} {_ci(s, 'recall'):>26} "
                     f"{_ci(s, 'false_positive_rate'):>26} {s['missed']:>7} {dep:>12}")
    sp = res.get("same_precision")
    if sp:
        lines.append(f"at the rules' precision {sp['rules']['precision']:.4f}: the model misses "
                     f"{sp['model']['missed']} fraud SIMs, the rules {sp['rules']['missed']}")
    for k, v in res["model"].get("recall_by_kind", {}).items():
        lines.append(f"  recall  {k:28} {_ci(v, 'recall'):>26}  ({v['flagged']}/{v['sims']})")
    for k, v in res["model"].get("fpr_by_legit_group", {}).items():
        lines.append(f"  FPR     {k:28} {_ci(v, 'false_positive_rate'):>26}  "
                     f"({v['flagged']}/{v['sims']})")
    return "\n".join(lines)
