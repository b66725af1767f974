"""``train``: fit, cross-validate, choose the threshold, write the model folder.

Steps (each reported in the model card):

1. the training set (:mod:`simbox.training.dataset`): seized SIMs (weighted
   ``seizure_weight``), simbox's labelled simulated knowledge of many worlds
   (:mod:`simbox.training.knowledge`, on by default) and a weighted sample of the
   unlabelled SIMs as presumed legit, less those that score like labelled fraud
   (positive-unlabelled learning, :mod:`simbox.training.pu`);
2. cross-validation grouped by case and stratified (:mod:`simbox.training.cv`):
   out-of-fold calibrated scores for every SIM;
3. the operating threshold: a fraud score reaching the target precision on the
   out-of-fold scores (the highest within ``recall_slack`` of the best recall), bagged
   over case-bootstrap replicates (:mod:`simbox.training.threshold`), with its
   interval.  The
   metrics reported are *cross-validated thresholds*: each fold is flagged with
   the threshold chosen on the other folds' scores, so the figures include the
   error of choosing the threshold;
4. the rules baseline fitted and evaluated on the same folds;
5. recall on kinds absent from training: for each fraud kind (when a simulator
   truth gives kinds), a model fitted without that kind scores it;
6. the final model on all rows; permutation importances; plots.
"""
from __future__ import annotations

import logging
import os
import pathlib
import time

import numpy as np
import pandas as pd

from simbox.errors import ConfigError, InputError
from simbox.training.calibration import separability
from simbox.training.cv import grouped_splits, out_of_fold
from simbox.training.dataset import UNLABELLED_POLICIES, TrainingSet, build_training_set
from simbox.training.knowledge import KNOWLEDGE_FILE, default_knowledge, read_knowledge
from simbox.training.defaults import KIND_HOLDOUT, MAX_GROUP_FPR, SEIZURE_WEIGHT, \
    UNLABELLED  # noqa: F401 (re-exported)
from simbox.training.labels import CLASSES, FRAUD_CLASSES
from simbox.training.metrics import evaluate_flags, misses_at_precision
from simbox.training.model import Model
from simbox.training.pu import exclude_likely_fraud
from simbox.training.rules import RulesBaseline, rules_out_of_fold
from simbox.training.schema import registry_schema
from simbox.training.threshold import RECALL_SLACK, compact_curve, group_fpr_floor, \
    threshold_bootstrap

log = logging.getLogger(__name__)


def eval_frame(ts: TrainingSet, proba: np.ndarray) -> pd.DataFrame:
    """The evaluation frame (:mod:`simbox.training.metrics`) of scored training rows."""
    r = ts.rows
    frame = pd.DataFrame({
        "label": r["label"].to_numpy(), "score": 1.0 - proba[:, CLASSES.index("legit")],
        "pred_class": np.where(proba[:, 0] >= proba[:, 1], FRAUD_CLASSES[0], FRAUD_CLASSES[1]),
        "group": r["group"].to_numpy(), "weight": r["weight"].to_numpy(dtype=float),
        "deployment": r["deployment"].to_numpy(), "source": r["source"].to_numpy(),
    }, index=r.index)
    for c in ("kind", "legit_group", "world", "young"):
        if c in r:
            frame[c] = r[c].to_numpy()
    return frame


def legit_groups(frame):
    """The population group of each SIM of an evaluation frame, per simulated world
    (``"<world>:<group>"``: a carrier judges the false positives of its own network), or
    None when no SIM has one."""
    if "legit_group" not in frame:
        return None
    g = frame["legit_group"].fillna("").astype(str)
    if "world" in frame:
        w = frame["world"].fillna("").astype(str)
        g = g.where((g == "") | (w == ""), w + ":" + g)
    return g.to_numpy(dtype=object)


def cross_validated_flags(frame, fold, target, *, n_boot=200, seed=0, slack=RECALL_SLACK,
                          max_group_fpr=MAX_GROUP_FPR):
    """Flag each fold with the threshold chosen (bagged, as the model's own, raised to the
    group floor) on the other folds' out-of-fold scores."""
    fraud = frame["label"].isin(FRAUD_CLASSES).to_numpy()
    score, w = frame["score"].to_numpy(), frame["weight"].to_numpy()
    groups, lg = frame["group"].to_numpy(), legit_groups(frame)
    flagged = np.zeros(len(frame), dtype=bool)
    per_fold = []
    for k in np.unique(fold):
        test, rest = fold == k, fold != k
        t = threshold_bootstrap(fraud[rest], score[rest], groups[rest], target, w[rest],
                                n_boot=n_boot, seed=seed, slack=slack)["bagged"]
        if lg is not None and max_group_fpr < 1.0:
            t = max(t, group_fpr_floor(fraud[rest], score[rest], lg[rest], w[rest],
                                       max_group_fpr)[0])
        flagged[test] = score[test] >= t
        per_fold.append(float(t))
    return flagged, per_fold


def young_metrics(frame, threshold) -> dict:
    """Out-of-fold figures of the young-age rows (training/young.py) at the operating
    threshold: what ``simbox watch`` would flag among SIMs first seen within 48 h."""
    fraud = frame["label"].isin(FRAUD_CLASSES).to_numpy()
    flag = frame["score"].to_numpy() >= threshold
    w = frame["weight"].to_numpy(dtype=float)
    tp, fp = float(w[flag & fraud].sum()), float(w[flag & ~fraud].sum())
    lg = frame["legit_group"].astype(str).to_numpy() if "legit_group" in frame else None
    by_group = {}
    if lg is not None:
        for g in sorted(set(lg[~fraud]) - {""}):
            m = ~fraud & (lg == g)
            by_group[g] = [int((flag & m).sum()), int(m.sum())]
    return {"rows": int(len(frame)), "fraud_rows": int(fraud.sum()),
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": float(w[flag & fraud].sum() / w[fraud].sum()) if fraud.any() else None,
            "legit_flagged_by_group": by_group,
            "note": "out-of-fold, weighted by population; young rows never set the threshold"}


def young_threshold(frame, threshold, target_precision) -> float | None:
    """The score from which a young SIM's flag reaches ``target_precision`` out of fold:
    the lowest score ``t >= threshold`` such that, among the young-age rows scoring at
    least any ``t' >= t``, the weighted precision is at least the target (so the
    precision never dips under it above ``t``).  ``simbox watch`` holds a young SIM's
    model flag until its score reaches it (simbox/watch/policy.py).  None without
    young rows or fraud among them; 1.0 when no score reaches the target."""
    fraud = frame["label"].isin(FRAUD_CLASSES).to_numpy()
    if not fraud.any():
        return None
    score = frame["score"].to_numpy(dtype=float)
    w = frame["weight"].to_numpy(dtype=float)
    order = np.argsort(-score, kind="stable")
    s, tp, fp = score[order], np.cumsum(w[order] * fraud[order]), np.cumsum(w[order] * ~fraud[order])
    last = np.r_[s[1:] != s[:-1], True]          # the last row of each run of equal scores
    s, tp, fp = s[last], tp[last], fp[last]
    ok = tp / np.maximum(tp + fp, 1e-300) >= target_precision
    bad = np.flatnonzero(~ok)                    # from the top: the prefix where it holds
    good = len(ok) if len(bad) == 0 else bad[0]
    if good == 0:
        return 1.0
    return float(max(s[good - 1], threshold))


def _fold_count(y, groups, folds):
    """``folds``, lowered to the number of cases of the rarest class (at least 2)."""
    fewest = min(len(set(groups[y == c])) for c in np.unique(y))
    if fewest < 2:
        return folds          # grouped_splits says what is wrong
    if fewest < folds:
        log.warning("only %d cases of a class: %d-fold cross-validation instead of %d",
                    fewest, fewest, folds)
    return max(2, min(folds, fewest))


def _best_precision(fraud, score, weight):
    order = np.argsort(-score, kind="stable")
    tp = np.cumsum(np.where(fraud[order], weight[order], 0.0))
    fp = np.cumsum(np.where(fraud[order], 0.0, weight[order]))
    prec = tp / np.maximum(tp + fp, 1e-12)
    return float(prec[tp > 0].max()) if (tp > 0).any() else 0.0


def _by_source(frame, flagged, n_boot, seed):
    out = {}
    for src in sorted(frame["source"].unique()):
        m = (frame["source"] == src).to_numpy()
        if frame.loc[m, "label"].isin(FRAUD_CLASSES).any():
            out[src] = evaluate_flags(frame[m], flagged[m], n_boot=n_boot, seed=seed)["per_sim"]
    return out


def kind_holdout_recall(ts: TrainingSet, model: Model, threshold, *, progress=None) -> dict:
    """Recall on each fraud kind by a booster that never saw that kind.

    A booster is fitted on all rows except the SIMs of the kind; its
    log-probabilities of those SIMs go through ``model``'s calibrator and are
    flagged at ``threshold``: how well a kind no raid has found yet would be caught.
    """
    kinds = ts.rows["kind"] if "kind" in ts.rows else None
    if kinds is None:
        return {}
    fraud_kinds = sorted(k for k in kinds[ts.rows["label"] != "legit"].unique() if k)
    out = {}
    if len(fraud_kinds) < 2:
        return out
    cal = model.pipeline_.named_steps["calibrator"]
    legit = list(cal.classes_).index("legit")
    tw = ts.rows["train_weight"].to_numpy(dtype=float)
    for kind in fraud_kinds:
        held = (kinds == kind).to_numpy()
        rest = ~held
        y = ts.y[rest]
        if any((y == c).sum() == 0 for c in CLASSES):
            continue   # the kind is the only one of its class: nothing left to learn it from
        b = model.fit_booster(ts.X[rest], y, sample_weight=tw[rest])
        score = 1.0 - cal.predict_proba(model.booster_logits(b, ts.X[held]))[:, legit]
        out[kind] = {"sims": int(held.sum()), "recall": float((score >= threshold).mean()),
                     "score_quartiles": [round(float(q), 4) for q in
                                         np.quantile(score, [0.25, 0.5, 0.75])],
                     "class": str(ts.rows.loc[held, "label"].iloc[0])}
        if progress is not None:
            progress(1)
    return out


SIMULATED_DEFAULT = "default"


def resolve_simulated(simulated):
    """``simulated`` as :func:`build_training_set` takes it: ``"default"`` is the knowledge
    shipped with the default model, a path a ``knowledge.parquet`` (or a model folder
    holding one); a list may mix them with ``(features, truth)`` pairs."""
    if simulated is None or simulated is False:
        return None
    items = simulated if isinstance(simulated, list) else [simulated]
    names, reg_hash = registry_schema()
    out = []
    for s in items:
        if isinstance(s, str) and s == SIMULATED_DEFAULT:
            s = default_knowledge(names, reg_hash)
        elif isinstance(s, (str, os.PathLike)):
            p = pathlib.Path(s)
            s = read_knowledge(p / KNOWLEDGE_FILE if p.is_dir() else p, names, reg_hash)
        out.append(s)
    return out


def train(features, labels, *, target_precision=0.995, recall_slack=RECALL_SLACK,
          max_group_fpr=MAX_GROUP_FPR, folds=5,
          seed=0, unlabelled=UNLABELLED, unlabelled_max=100_000, unlabelled_weight=0.5,
          seizure_weight=SEIZURE_WEIGHT, simulated=SIMULATED_DEFAULT, simulated_weight=1.0,
          truth=None, feature_names=None, schema_hash=None, model_params=None, n_boot=200,
          kind_holdout=KIND_HOLDOUT, cv_group="case", timezone=None, out=None, inputs=None,
          progress=None) -> Model:
    """Train a model on labelled SIMs; return it fitted, with threshold and card.

    ``features``: FeatureResult or DataFrame indexed by imsi.  ``labels``: a
    labels file, a DataFrame of label rows or a LabelSet.  ``feature_names`` /
    ``schema_hash`` default to the feature registry.  With ``out`` the model
    folder (model, card, plots, report.html) is written there.  ``timezone``: the
    network's time zone the features were computed in, when ``features`` is a
    DataFrame (a FeatureResult carries its own).  ``recall_slack``: the recall the
    threshold may give up for a higher score; ``max_group_fpr``: the highest out-of-fold
    false-positive rate any legit population group of the simulated knowledge may
    have at the threshold (1 turns it off; :mod:`simbox.training.threshold`).

    ``simulated``: ``"default"`` (simbox's shipped knowledge of many simulated
    worlds), the path of a ``knowledge.parquet`` or of a model folder holding one,
    None (the seizures alone), a ``(features, truth)`` pair of a simulated network,
    or a list of these.  ``unlabelled``: ``"pu"`` (presumed legit except
    the SIMs that score like labelled fraud, :mod:`simbox.training.pu`),
    ``"presumed-legit"`` (all of the sample) or ``"ignore"``.  ``cv_group``:
    ``"case"`` (folds keep each case whole) or ``"world"`` (folds keep each simulated
    world whole: the cross-validated figures are then leave-world-out figures).

    Raises :class:`~simbox.errors.InputError` when no threshold reaches
    ``target_precision`` on the cross-validated scores (no honest operating point);
    warns (log, card ``warnings``, report) when the seized fraud SIMs do not rank
    above the labelled legit ones out of fold or are too few.
    """
    if not 0.0 <= recall_slack < 1.0:
        raise ConfigError(f"recall slack must be within [0, 1), not {recall_slack}")
    if not 0.0 <= max_group_fpr <= 1.0:
        raise ConfigError(f"max group false-positive rate must be within [0, 1], "
                          f"not {max_group_fpr}")
    t0 = time.monotonic()
    steps = {}
    last = [t0]

    def step(name):
        now = time.monotonic()
        steps[name] = round(now - last[0], 1)
        last[0] = now
        log.info("training: %s %.1fs", name, steps[name])

    if feature_names is None or schema_hash is None:
        reg_names, reg_hash = registry_schema()
        feature_names = reg_names if feature_names is None else feature_names
        schema_hash = reg_hash if schema_hash is None else schema_hash
    if unlabelled not in UNLABELLED_POLICIES + ("pu",):
        raise ConfigError(f"unlabelled policy must be one of pu, "
                          f"{', '.join(UNLABELLED_POLICIES)}, not {unlabelled!r}")
    sim = resolve_simulated(simulated)
    ts = build_training_set(features, labels,
                            unlabelled="presumed-legit" if unlabelled == "pu" else unlabelled,
                            unlabelled_max=unlabelled_max, unlabelled_weight=unlabelled_weight,
                            seizure_weight=seizure_weight, simulated=sim,
                            simulated_weight=simulated_weight, truth=truth, seed=seed)
    params = dict(model_params or {})
    params.setdefault("random_state", seed)

    def make_model():
        return Model(feature_names=list(feature_names), schema_hash=schema_hash, **params)

    step("training set")
    pu_info = None
    if unlabelled == "pu":
        drop, pu_info = exclude_likely_fraud(make_model, ts.X, ts.rows, seed=seed,
                                             progress=progress)
        if drop.any():
            ts = TrainingSet(ts.X[~drop], ts.rows[~drop], ts.info)
        ts.info["unlabelled"] = dict(ts.info["unlabelled"], policy="pu", pu=pu_info)
        step("positive-unlabelled")
    y, groups = ts.y, ts.rows["group"].to_numpy()
    if cv_group == "world":
        if "world" not in ts.rows or (ts.rows["world"] == "").any():
            raise ConfigError("cv_group='world' needs a world for every training SIM "
                              "(simulated knowledge alone)")
        groups = ("world:" + ts.rows["world"]).to_numpy()
    elif cv_group != "case":
        raise ConfigError(f"cv_group must be 'case' or 'world', not {cv_group!r}")
    tw = ts.rows["train_weight"].to_numpy(dtype=float)
    folds = _fold_count(y, groups, folds)
    splits = grouped_splits(y, groups, n_splits=folds, seed=seed)
    log.info("cross-validating on %d SIMs, %d folds", len(y), folds)
    logits, proba, fold = out_of_fold(make_model, ts.X, y, splits, sample_weight=tw,
                                      progress=progress)
    step("cross-validation")
    frame = eval_frame(ts, proba)
    # young-age rows (training/young.py) are learnt from; the threshold and the metrics
    # are those of whole windows, as a scan sees them (young rows reported apart)
    young_frame = None
    if "young" in frame and frame["young"].any():
        judged = ~frame["young"].to_numpy(dtype=bool)
        young_frame, frame, fold = frame[~judged], frame[judged], fold[judged]
        proba = proba[judged]                # the card's plots: whole windows, as the metrics
    fraud = frame["label"].isin(FRAUD_CLASSES).to_numpy()
    thr = threshold_bootstrap(fraud, frame["score"], frame["group"], target_precision,
                              frame["weight"], n_boot=n_boot, seed=seed, slack=recall_slack)
    threshold = thr["bagged"]
    floor, floor_group = -np.inf, None
    if legit_groups(frame) is not None and max_group_fpr < 1.0:
        floor, floor_group = group_fpr_floor(fraud, frame["score"], legit_groups(frame),
                                             frame["weight"], max_group_fpr)
        if np.isfinite(threshold) and floor > threshold:
            log.info("threshold raised from %.4f to %.4f: at the lower one more than %g of "
                     "the %s SIMs would be flagged", threshold, floor, max_group_fpr,
                     floor_group)
            threshold = floor
    if np.isfinite(threshold) and threshold > 1.0:
        raise InputError(f"no threshold keeps the false-positive rate of every legit group "
                         f"under {max_group_fpr} ({floor_group} SIMs score 1.0 out of fold): "
                         "check the labels, or raise --max-group-fpr")
    if not np.isfinite(threshold):
        best = _best_precision(fraud, frame["score"].to_numpy(), frame["weight"].to_numpy())
        raise InputError(f"no threshold reaches precision {target_precision} on the "
                         f"cross-validated scores (the best is {best:.4f}): there is no "
                         "honest operating point; add labelled cases, check the labels, or "
                         "lower --target-precision")
    sep = separability(frame["label"].to_numpy(), frame["score"].to_numpy(),
                       frame["source"].to_numpy(), cases=frame["deployment"].to_numpy())
    for w in sep["warnings"]:
        log.warning("%s", w)
    flagged, per_fold = cross_validated_flags(frame, fold, target_precision, n_boot=n_boot,
                                              seed=seed, slack=recall_slack,
                                              max_group_fpr=max_group_fpr)
    model_metrics = evaluate_flags(frame, flagged, n_boot=n_boot, seed=seed)
    model_metrics["by_source"] = _by_source(frame, flagged, n_boot, seed)
    step("threshold and metrics")

    rules_X, rules_splits = ts.X, splits
    if young_frame is not None:             # the rules baseline on the same rows as the model
        rules_X = ts.X.loc[frame.index]
        pos = pd.Series(np.arange(len(ts.X)), index=ts.X.index)
        keep = np.zeros(len(ts.X), dtype=bool)
        keep[pos.loc[frame.index].to_numpy()] = True
        new_pos = np.cumsum(keep) - 1
        rules_splits = [(new_pos[tr[keep[tr]]], new_pos[te[keep[te]]]) for tr, te in splits]
    rules_flags, rules_score, rules_class, rules_params = rules_out_of_fold(
        rules_X, fraud, rules_splits, sample_weight=frame["weight"].to_numpy(),
        target_precision=target_precision)
    rframe = frame.assign(score=rules_score, pred_class=rules_class)
    rules_metrics = evaluate_flags(rframe, rules_flags, n_boot=n_boot, seed=seed)
    rp = rules_metrics["per_sim"]["precision"]
    young_thr = (young_threshold(young_frame, threshold, target_precision)
                 if young_frame is not None else None)
    comparison = None
    if rp is not None and rp > 0:
        comparison = {"rules": {"precision": rp, "missed": rules_metrics["per_sim"]["missed"]},
                      "model": misses_at_precision(frame, frame["score"].to_numpy(), rp)}
    step("rules baseline")
    model = make_model().fit(ts.X, y, sample_weight=tw, oof_logits=logits)
    step("final fit")
    model.threshold = float(threshold) if np.isfinite(threshold) else float("inf")
    holdout = kind_holdout_recall(ts, model, threshold, progress=progress) \
        if kind_holdout and np.isfinite(threshold) else {}
    final_rules = RulesBaseline(target_precision=target_precision).fit(
        rules_X, fraud, frame["weight"].to_numpy())
    step("kind hold-out")
    importances = model.importances(ts.X, y, sample_weight=tw, seed=seed)
    step("importances")
    model.card = {
        "warnings": sep["warnings"],
        "separability": {k: v for k, v in sep.items() if k != "warnings"},
        "calibration": {"method": "Platt scaling of the booster's fraud margin, slope > 0 "
                                  "(monotone: never reorders SIMs)",
                        "slope": model.pipeline_.named_steps["calibrator"].slope_,
                        "intercept": model.pipeline_.named_steps["calibrator"].intercept_},
        "timezone": ts.info.get("timezone") or timezone or "UTC",
        "training_data": dict(ts.info, inputs=inputs or []),
        "unlabelled": ts.info["unlabelled"],
        "cross_validation": {"folds": folds, "grouped_by": "simulated world (leave-world-out)"
                             if cv_group == "world" else "case (merged when cases share a SIM)",
                             "stratified": True, "seed": seed, "bootstrap": n_boot,
                             "thresholds_per_fold": per_fold},
        "threshold": {"score": "1 - P(legit)", "target_precision": target_precision,
                      "rule": "median over "
                              f"{n_boot} case-bootstrap replicates of the out-of-fold scores "
                              "of the highest threshold reaching the target whose recall is "
                              f"within {recall_slack} of the best recall at the target, "
                              "raised to the lowest at which no legit group of the simulated "
                              f"knowledge has a false-positive rate over {max_group_fpr}",
                      "recall_slack": recall_slack,
                      "max_group_fpr": max_group_fpr,
                      "group_floor": float(floor) if np.isfinite(floor) else None,
                      "group_floor_group": floor_group,
                      "unbagged": thr["threshold"],
                      "ci": thr["ci"], "unreachable_share": thr["unreachable_share"],
                      "curve": compact_curve(fraud, frame["score"].to_numpy(),
                                             frame["weight"].to_numpy(),
                                             exact_at=(target_precision,))},
        "metrics": {"model": model_metrics, "rules": rules_metrics,
                    **({"young": {**young_metrics(young_frame, threshold),
                                  "threshold": young_thr,
                                  "at_threshold": (young_metrics(young_frame, young_thr)
                                                   if young_thr is not None else None)}}
                       if young_frame is not None else {}),
                    "same_precision": comparison, "kinds_absent_from_training": holdout},
        "rules_baseline": {"params_per_fold": rules_params, "params": final_rules.params_},
        "importances": importances["importance"].round(6).to_dict(),
        "seconds": round(time.monotonic() - t0, 1),
        "seconds_by_step": steps,
    }
    model.oof_ = (frame, proba)
    model.importances_ = importances
    if out is not None:
        write_model_folder(model, out)
    return model


def write_model_folder(model: Model, out, *, timestamp=True):
    """Save the model and its plots (from the out-of-fold scores) and report.html."""
    from simbox.training import plots  # lazy: matplotlib, only when a folder is written
    model.card["plots"] = list(plots.PLOTS) + ["report.html"]
    folder = model.save(out, timestamp=timestamp)
    frame, proba = model.oof_
    rules = model.card["metrics"]["rules"]["per_sim"]
    plots.plot_pr_curves(folder / "pr_curves.png", frame["label"].to_numpy(), proba,
                         frame["weight"].to_numpy(), threshold=model.threshold,
                         rules_point=(rules.get("recall"), rules.get("precision")))
    plots.plot_calibration(folder / "calibration.png", frame["label"].to_numpy(), proba)
    plots.plot_importances(folder / "importances.png", model.importances_)
    plots.write_report(folder, model.card)
    return folder
