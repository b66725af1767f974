"""The operating threshold: the lowest fraud score that still reaches a target precision.

Scores are calibrated fraud probabilities (``1 - P(legit)``) computed out of fold.
Precision counts each SIM with its *population weight*: 1 for a labelled SIM,
``1 / sampling rate`` for a SIM of the presumed-legit sample of the unlabelled
(one sampled SIM stands for that many of the network), so false positives are
not under-counted because only a sample of the unlabelled was scored.

Uncertainty comes from a bootstrap over cases (:func:`group_bootstrap_weights`):
all SIMs of one raid are drawn together, as they are not independent.

At a target precision of 0.995 the choice rests on the two or three legitimate
SIMs that score highest: which of them happen to be in the data moves the
lowest threshold reaching the target by a lot (from 0.3 to 0.99999 between the
folds of one training run).  The operating threshold is therefore *bagged*: the
median of the thresholds chosen on case-bootstrap replicates
(:func:`threshold_bootstrap`), always one replicate's own choice (a real score).

The choice is the lowest threshold reaching the target (the most recall).  Lower
thresholds that add no fraud SIM are kept on purpose: in a bootstrap replicate
the fraud SIMs of undrawn cases weigh nothing, and the lowest choice keeps the
threshold below where such SIMs, and new deployments like them, score; taking
the highest threshold of the same recall instead cut cross-validated recall of
the shipped model from 0.996 to 0.84.  ``recall_slack`` > 0 (``simbox train
--recall-slack``) takes the highest threshold whose recall is within that much
of the best, trading up to that share of the fraud SIMs for a threshold further
from the last legitimate SIMs of the training data.  It is not the default for
the same reason: a slack of 0.005 put two of the five folds' thresholds at 0.99
and cut cross-validated recall to 0.81.

Precision alone is blind to *who* the false positives are: at 0.995 pooled over a
network, a few dozen call-centre SIMs may still be flagged, and a wrongful
shutdown of a whole office is what a carrier fears most.  Where the legitimate
SIMs carry a population group (the simulated knowledge does: call centres, desk
gateways, IoT fleets, drivers, ...), the threshold is raised, if needed, to the
*group floor* (:func:`group_fpr_floor`): the lowest threshold at which no group's
weighted false-positive rate exceeds ``max_group_fpr`` (default 1e-3).  Groups are
taken per simulated world (``train`` keys them ``"<world>:<group>"``): each world is
one carrier's network, and a carrier judges its own call centres, not a pool.  SIMs
without a group (a carrier's own confirmed-legit customers) are bound by the
precision target only.
"""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

RECALL_SLACK = 0.0


def _as_arrays(y_fraud, score, weight):
    y = np.asarray(y_fraud, dtype=bool)
    s = np.asarray(score, dtype=float)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    if not (len(y) == len(s) == len(w)):
        raise ValueError("y_fraud, score and weight must have the same length")
    return y, s, w


def _curve_order(score):
    """Order by descending score and the index of the last SIM of each run of equal scores."""
    order = np.argsort(-score, kind="stable")
    s = score[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    return order, ends, s[ends]


def _pick(tp, fp, thresholds, target, slack=RECALL_SLACK):
    """The lowest threshold with precision >= target (``slack`` 0), or the highest whose
    recall is within ``slack`` of the best at that precision; +inf if none reaches it.

    ``tp``/``fp``: weighted counts flagged at each threshold, highest threshold first.
    """
    flagged = tp + fp
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(flagged > 0, tp / flagged, 0.0)
    ok = np.flatnonzero((prec >= target) & (tp > 0))
    if len(ok) == 0:
        return np.inf
    if slack <= 0:
        return thresholds[ok[-1]]
    pos = tp[-1]
    enough = ok[tp[ok] >= tp[ok[-1]] - slack * pos]
    return thresholds[enough[0]]


def pick_on_curve(curve, target, slack=RECALL_SLACK):
    """The same choice on a stored curve ``[[threshold, precision, recall], ...]`` (highest
    threshold first, as :func:`compact_curve` writes it); None if no point reaches ``target``."""
    ok = [(float(t), float(r)) for t, p, r, *_ in curve if p is not None and float(p) >= target]
    if not ok:
        return None
    if slack <= 0:
        return min(t for t, _ in ok)
    best = max(r for _, r in ok)
    return max(t for t, r in ok if r >= best - slack)


def precision_recall_curve_weighted(y_fraud, score, weight=None):
    """Weighted precision and recall at every distinct score, highest first.

    Returns ``(thresholds, precision, recall)``; SIMs with score >= threshold are flagged.
    """
    y, s, w = _as_arrays(y_fraud, score, weight)
    order, ends, thr = _curve_order(s)
    tp = np.cumsum((w * y)[order])[ends]
    fp = np.cumsum((w * ~y)[order])[ends]
    pos = tp[-1] if len(tp) else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        rec = tp / pos if pos > 0 else np.zeros_like(tp)
    return thr, prec, rec


PRECISION_GRID = (0.5, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.997, 0.998, 0.999, 0.9995,
                  0.9999)


def compact_curve(y_fraud, score, weight=None, max_points=200, digits=5, exact_at=()) -> list:
    """A short precision curve for picking thresholds later: ``[[threshold, precision, recall]]``.

    Keeps only the points a lowest-threshold-reaching-P choice can land on: a
    threshold whose precision is higher than at every lower threshold, highest
    threshold first (precision strictly falls along the curve).  When more than
    ``max_points`` remain, a subset is kept: the exact choice for each precision
    of :data:`PRECISION_GRID` and ``exact_at``, then points spread evenly by
    precision and by recall, always the first and last.  Precision is rounded
    *down* to ``digits`` decimals so it is never overstated, recall is rounded;
    thresholds stay exact scores.  Picking the lowest kept threshold with
    precision >= P never gives less than P on these scores, and gives exactly the
    full curve's choice for the grid precisions.
    """
    thr, prec, rec = precision_recall_curve_weighted(y_fraud, score, weight)
    if len(thr) == 0:
        return []
    # suffix maximum of precision over lower thresholds: keep strict records
    later_best = np.r_[np.maximum.accumulate(prec[::-1])[::-1][1:], -np.inf]
    keep = np.flatnonzero(prec > later_best)
    if len(keep) > max_points:
        pk, rk = prec[keep], rec[keep]
        grid = np.unique(np.r_[PRECISION_GRID, np.asarray(exact_at, float)])
        exact = np.searchsorted(-pk, -grid, side="right") - 1
        n = max((max_points - len(grid) - 2) // 2, 1)
        by_prec = np.searchsorted(-pk, -np.linspace(pk[0], pk[-1], n), side="right") - 1
        by_rec = np.searchsorted(rk, np.linspace(rk[0], rk[-1], n), side="left")
        pos = np.r_[0, exact, by_prec, by_rec, len(keep) - 1]
        keep = keep[np.unique(pos[(pos >= 0) & (pos < len(keep))])]
    scale = 10.0 ** digits
    return [[float(thr[i]), float(np.floor(prec[i] * scale + 1e-6) / scale),
             round(float(rec[i]), digits)] for i in keep]


def threshold_for_precision(y_fraud, score, target=0.995, weight=None,
                            slack=RECALL_SLACK) -> float:
    """The score threshold at which weighted precision reaches ``target``, precision first.

    The lowest such threshold, or with ``slack`` > 0 the highest whose recall is
    within ``slack`` of the best recall reachable at the target (module docstring).  Returns ``inf`` (flag nothing) when no
    threshold reaches the target.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target precision must be in (0, 1], not {target}")
    y, s, w = _as_arrays(y_fraud, score, weight)
    order, ends, thr = _curve_order(s)
    tp = np.cumsum((w * y)[order])[ends]
    fp = np.cumsum((w * ~y)[order])[ends]
    return float(_pick(tp, fp, thr, target, slack))


def group_fpr_floor(y_fraud, score, legit_group, weight=None, max_fpr=1e-3):
    """The lowest threshold at which no legit group's weighted FPR exceeds ``max_fpr``.

    ``legit_group``: the population group of each SIM (``""`` or None: none, not
    bound).  A SIM is flagged when its score is >= the threshold.  Returns
    ``(floor, group)``: ``-inf`` and None when no group binds; otherwise the floor is
    just above the score of the legit SIM whose flagging would take its group over
    ``max_fpr``, and ``group`` is the group that sets it (the highest floor).
    """
    y, s, w = _as_arrays(y_fraud, score, weight)
    g = np.asarray(["" if v is None or v != v else str(v) for v in legit_group], dtype=object) \
        if legit_group is not None else np.full(len(y), "", dtype=object)
    if len(g) != len(y):
        raise ValueError("legit_group must have one entry per SIM")
    if not 0.0 <= max_fpr < 1.0:
        raise ValueError(f"max_fpr must be within [0, 1), not {max_fpr}")
    floor, binding = -np.inf, None
    legit = ~y & (g != "")
    for name in np.unique(g[legit]):
        m = legit & (g == name)
        order = np.argsort(-s[m], kind="stable")
        ss, cw = s[m][order], np.cumsum(w[m][order])
        over = np.flatnonzero(cw > max_fpr * cw[-1] * (1 + 1e-12))
        if len(over) == 0:
            continue
        f = float(np.nextafter(ss[over[0]], np.inf))
        if f > floor:
            floor, binding = f, str(name)
    return floor, binding


def group_bootstrap_weights(groups, n_boot, rng, chunk=25):
    """Yield ``(k, n_groups)`` arrays: how often each group is drawn in each replicate.

    ``groups`` are integer codes 0..G-1.  Drawing G groups with replacement is one
    multinomial draw per replicate.
    """
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    p = np.full(n_groups, 1.0 / max(n_groups, 1))
    done = 0
    while done < n_boot:
        k = min(chunk, n_boot - done)
        yield rng.multinomial(n_groups, p, size=k).astype(np.float64)
        done += k


def group_codes(groups) -> np.ndarray:
    """Integer codes 0..G-1 of arbitrary group labels."""
    _, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return codes.ravel()


def threshold_bootstrap(y_fraud, score, groups, target=0.995, weight=None, *,
                        n_boot=200, seed=0, alpha=0.05, slack=RECALL_SLACK) -> dict:
    """The threshold and its case-grouped bootstrap interval.

    Returns ``{"threshold", "bagged", "ci": [lo, hi], "unreachable_share"}``: the
    threshold on all data, the median of the thresholds chosen on bootstrap
    replicates (a replicate's own choice, ``inf`` when over half of them cannot
    reach the target), their ``alpha``-level percentile interval, and the share of
    replicates where the target could not be reached.  A wide interval says the
    threshold rests on few cases.
    """
    y, s, w = _as_arrays(y_fraud, score, weight)
    codes = group_codes(groups)
    order, ends, thr = _curve_order(s)
    yo, wo, co = y[order], w[order], codes[order]
    rng = np.random.default_rng(seed)
    picks = []
    for mult in group_bootstrap_weights(codes, n_boot, rng):
        wb = mult[:, co] * wo                      # (k, n) weights of each SIM in each replicate
        tp = np.cumsum(wb * yo, axis=1)[:, ends]
        fp = np.cumsum(wb * ~yo, axis=1)[:, ends]
        picks.extend(_pick(tp[i], fp[i], thr, target, slack) for i in range(len(wb)))
    picks = np.asarray(picks)
    finite = picks[np.isfinite(picks)]
    t0 = threshold_for_precision(y, s, target, w, slack)
    ci = ([float(np.quantile(finite, alpha / 2)), float(np.quantile(finite, 1 - alpha / 2))]
          if len(finite) else [float("inf"), float("inf")])
    bagged = float(np.quantile(picks, 0.5, method="lower")) if len(picks) else t0
    return {"threshold": t0, "bagged": bagged, "ci": ci,
            "unreachable_share": float(1.0 - len(finite) / max(len(picks), 1))}
