"""Positive-unlabelled learning: unlabelled SIMs are not blindly legit.

Raids confirm some fraud SIMs; nobody confirms the rest of the network is clean.
The unlabelled SIMs hold the deployments no raid has found yet, and using them as
"legit" teaches the model that those boxes' behaviour is normal (with raid-like
labels the previous design cross-validated to recall 0.17 at threshold 1.0).

:func:`exclude_likely_fraud` is a two-step method in the family of the "spy"
technique (Liu et al., *Partially supervised classification of text documents*,
ICML 2002): a first booster is cross-fitted on the *labelled* SIMs only: fraud
(seizures and simulated knowledge) against the labelled legit ones (confirmed
customers and the knowledge's legit populations), never on the unlabelled; each
unlabelled SIM is scored by every fold's fit (the mean margin).  Fitting against
the unlabelled too, as a first version did, let the unraided boxes teach the first
booster that they are normal: on a 50,000-subscriber network it excluded 0 of
49,509 unlabelled SIMs, the unraided boxes among them.  The labelled fraud SIMs,
scored out of fold (folds grouped by case), play the spies: an unlabelled SIM whose fraud
margin reaches the ``quantile`` of the labelled fraud margins "looks like labelled
fraud" and is kept out of the presumed-legit set, both for fitting and for
choosing the threshold.  At most ``max_share`` of the unlabelled SIMs are
excluded (the highest margins), so a weak first model cannot empty the negative
set.  The count and the margin cut go into the model card.

Without two labelled cases of legit SIMs (test-call labels, for one: they name box
SIMs only), there is nothing to fit against but the unlabelled, and the method
falls back to the spy technique itself: the booster is cross-fitted on labelled
fraud against the unlabelled (folds over the fraud cases and over the unlabelled
SIMs), so that every unlabelled SIM is scored by a fit that did not see it as legit,
and the labelled fraud SIMs scored out of fold are the spies that set the cut.
"""
from __future__ import annotations

import logging

import numpy as np

from simbox.training.calibration import fraud_margin
from simbox.training.cv import grouped_splits
from simbox.training.labels import FRAUD_CLASSES

log = logging.getLogger(__name__)

METHOD = ("two-step positive-unlabelled (spy quantile): unlabelled SIMs whose fraud "
          "margin, from a booster fitted on the labelled SIMs only, reaches the {q:.0%} "
          "quantile of the labelled fraud SIMs' (out of fold) are not used as legit (at "
          "most {cap:.1%} of the unlabelled)")


def exclude_likely_fraud(make_model, X, rows, *, quantile=0.1, max_share=0.02, folds=3,
                         seed=0, progress=None):
    """Boolean mask over ``rows`` of the unlabelled SIMs to leave out, and the card entry.

    ``rows``: the training rows (:class:`~simbox.training.dataset.TrainingSet.rows`),
    with ``label``, ``group``, ``train_weight`` and ``source``.
    """
    source = rows["source"].to_numpy()
    unl = source == "unlabelled"
    label = rows["label"].to_numpy().astype(str)
    fraud = np.isin(label, FRAUD_CLASSES)
    info = {"method": METHOD.format(q=quantile, cap=max_share), "quantile": quantile,
            "max_share": max_share, "unlabelled": int(unl.sum()), "excluded": 0}
    if not unl.any() or fraud.sum() < 2:
        return np.zeros(len(rows), dtype=bool), info
    tw = rows["train_weight"].to_numpy(dtype=float)
    groups = rows["group"].to_numpy().astype(str)
    lab = np.flatnonzero(~unl)
    legit_lab = ~np.isin(label[lab], FRAUD_CLASSES)
    per_class = [len(set(groups[lab][legit_lab])), len(set(groups[lab][~legit_lab]))]
    n = max(2, min(folds, len(set(groups[fraud]))))
    m = make_model()
    margin = np.full(len(rows), np.nan)
    if per_class[1] < 2:
        log.warning("positive-unlabelled: fewer than two labelled cases of fraud SIMs; every "
                    "unlabelled SIM is used as legit")
        info["skipped"] = "fewer than two labelled cases of fraud"
        return np.zeros(len(rows), dtype=bool), info
    if per_class[0] < 2:
        # no labelled legit to fit against: labelled fraud against the unlabelled, each
        # unlabelled SIM scored by the fit of a fold that left it out
        fit = np.flatnonzero(fraud | unl)
        y = np.where(fraud[fit], label[fit], "legit")
        splits = grouped_splits(y, groups[fit], n_splits=n, seed=seed)
        info["against"] = "the unlabelled (no labelled legit SIMs)"
        for train, test in splits:
            tr, te = fit[train], fit[test]
            b = m.fit_booster(X.iloc[tr], y[train], sample_weight=tw[tr])
            margin[te] = fraud_margin(m.booster_logits(b, X.iloc[te]))
            if progress is not None:
                progress(1)
    else:
        splits = grouped_splits(label[lab], groups[lab], n_splits=n, seed=seed)
        margin[unl] = 0.0
        Xu = X.iloc[np.flatnonzero(unl)]
        for train, test in splits:
            tr, te = lab[train], lab[test]
            b = m.fit_booster(X.iloc[tr], label[tr], sample_weight=tw[tr])
            margin[te] = fraud_margin(m.booster_logits(b, X.iloc[te]))
            margin[unl] += fraud_margin(m.booster_logits(b, Xu)) / len(splits)
            if progress is not None:
                progress(1)
    cut = float(np.quantile(margin[fraud], quantile))
    cand = np.flatnonzero(unl & (margin >= cut))
    cap = int(max_share * unl.sum())
    if len(cand) > cap:
        cand = cand[np.argsort(-margin[cand], kind="stable")[:cap]]
    out = np.zeros(len(rows), dtype=bool)
    out[cand] = True
    info.update({"margin_cut": round(cut, 4), "excluded": int(out.sum()),
                 "capped": bool(len(cand) == cap and cap < int((unl & (margin >= cut)).sum())),
                 "excluded_share": round(float(out.sum() / unl.sum()), 5)})
    log.info("positive-unlabelled: %d of %d unlabelled SIMs score like labelled fraud and are "
             "not used as legit", out.sum(), unl.sum())
    return out, info
