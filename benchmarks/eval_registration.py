#!/usr/bin/env python3
"""SIM boxes from 2G/3G registration signaling alone (issue 19): recall at precision >= 0.99
and the hours of signaling a new box needs, leave-world-out.

    python benchmarks/eval_registration.py                    # train worlds 0-5, held out 1000-1003
    python benchmarks/eval_registration.py --train 0-9 --heldout 1000-1007 --subscribers 20000

Each world (``simbox.data.worlds``: its own population mix and fraud variants) is
simulated with ``--signaling`` (GSM MAP over SIGTRAN for SIM boxes and 30% of the
population, LTE for the others); its features come from the capture alone (no CDRs:
``compute_features([], signaling=...)``).  A model (``training.model.Model``, the
library's calibrated booster) is fitted on the *registration features* only (group
``registration`` of the registry; ``--features signaling``: every feature a signaling
capture alone gives, device and mobility ones too) of the training worlds (seeds < 1000); its threshold
is the lowest fraud score at which the training worlds' out-of-fold precision is
>= 0.99.  Held-out worlds (seeds >= 1000, never used for tuning) are scored with it.

Reported, per held-out world and pooled, among the SIMs with MAP registration signaling
(the others have no registration feature: LTE-only SIMs are counted apart):
precision and recall of SIM-box SIMs and of all fraud at the training threshold, and
the best recall at precision >= 0.99 on the held-out SIMs (an oracle threshold: an upper
bound).  Then, for the SIM-box deployments of the held-out worlds, the hours of
signaling from a deployment's first registration until it is flagged (half its SIMs
seen so far flagged), features recomputed on the capture cut at 1, 2, 4, ... hours.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np
import pandas as pd

CUTS_H = (1, 2, 3, 4, 6, 8, 12, 18, 24, 36, 48, 72)
TARGET = 0.99
LEGIT = 2          # column of "legit" in Model.predict_proba (training.labels.CLASSES)


def parse_range(s: str) -> list[int]:
    a, _, b = s.partition("-")
    return list(range(int(a), int(b or a) + 1))


def model_names(which: str) -> list[str]:
    """``registration``: the registry's registration group; ``signaling``: every model
    feature a signaling capture alone gives values to (the registry minus absolute times:
    device, mobility and time features come from the attach events too)."""
    from simbox.features.registry import REGISTRY
    from simbox.training.schema import registry_schema
    if which == "registration":
        return [f.name for f in REGISTRY if f.group == "registration"]
    return registry_schema()[0]


def world_capture(w: int, a, work: pathlib.Path):
    """(capture path, truth, cells path) of world ``w``, simulated once into ``work``."""
    from simbox.data.worlds import simulate_world
    folder = work / f"world-{w}"
    if not (folder / "signaling.pcap").is_file():
        simulate_world(w, a.subscribers, a.days, out=folder, signaling=True)
    truth = pd.read_csv(folder / "truth.csv", dtype=str, keep_default_na=False).set_index("imsi")
    return folder / "signaling.pcap", truth, folder / "cells.csv"


def events(pcap):
    from simbox.fastpath.events import CellDict
    from simbox.fastpath.signaling import read_signaling_events
    cells = CellDict()
    return list(read_signaling_events(pcap, cells=cells)), cells


def features(batches, celldict, cells, until=None):
    """Registration-signaling features (a DataFrame), of the events before ``until``."""
    from simbox.features import features_from_events
    if until is not None:
        batches = [b.take(np.flatnonzero(b.time < until)) for b in batches]
    return features_from_events(batches, celldict, cells=cells).features


def frame(w, a, work):
    pcap, truth, cells = world_capture(w, a, work)
    batches, cd = events(pcap)
    f = features(batches, cd, str(cells))
    cls = truth["class"].reindex(f.index).fillna("legit")
    on_map = (f["n_registrations"] + f["auth_max_per_hour"]) > 0
    return f, cls, on_map, (batches, cd, str(cells), truth)


def precision_recall(flag, fraud):
    tp = int((flag & fraud).sum())
    fp = int((flag & ~fraud).sum())
    return (tp / (tp + fp) if tp + fp else float("nan")), (tp / fraud.sum() if fraud.sum() else float("nan")), tp, fp


def best_recall(score, fraud, target=TARGET):
    """The largest recall at precision >= target over all thresholds (oracle)."""
    o = np.argsort(-score, kind="stable")
    tp = np.cumsum(fraud[o])
    k = np.arange(1, len(o) + 1)
    ok = tp / k >= target
    return float(tp[ok].max() / fraud.sum()) if ok.any() and fraud.sum() else 0.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", default="0-5")
    ap.add_argument("--heldout", default="1000-1003")
    ap.add_argument("--subscribers", type=int, default=8000)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--workdir", type=pathlib.Path)
    ap.add_argument("--features", choices=("registration", "signaling"), default="registration",
                    help="the model's inputs: the registration group, or every feature of a "
                         "signaling-only input")
    args = ap.parse_args(argv)
    from simbox.training.labels import CLASSES
    from simbox.training.model import Model
    legit = CLASSES.index("legit")
    assert legit == LEGIT
    work = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="eval-reg-"))
    work.mkdir(parents=True, exist_ok=True)
    names = model_names(args.features)
    t0 = time.monotonic()
    Xs, ys, groups = [], [], []
    for w in parse_range(args.train):
        if w >= 1000:
            raise SystemExit("training worlds are seeds < 1000")
        f, cls, on_map, _ = frame(w, args, work)
        Xs.append(f.loc[on_map, names].set_axis([f"w{w}:{i}" for i in f.index[on_map]]))
        ys.append(cls[on_map].to_numpy())
        groups.append(np.full(int(on_map.sum()), w))
        print(f"train world {w}: {int(on_map.sum()):,} SIMs with MAP registrations, "
              f"{int((cls[on_map] == 'simbox').sum())} SIM-box, "
              f"{int((cls[on_map] == 'cardfarm').sum())} card-farm ({time.monotonic() - t0:.0f} s)",
              file=sys.stderr)
    X, y, g = pd.concat(Xs), np.concatenate(ys), np.concatenate(groups)
    model = Model(feature_names=names, calibration_folds=3, random_state=0)
    # the threshold from out-of-fold scores, folds = training worlds (leave-world-out)
    oof = np.zeros(len(y))
    for w in np.unique(g):
        tr, te = g != w, g == w
        if len(set(y[tr])) < 2:
            continue
        m = Model(feature_names=names, calibration_folds=3, random_state=0).fit(
            X[tr], y[tr], groups=g[tr])
        oof[te] = 1 - m.predict_proba(X[te])[:, legit]
    fraud_tr = y != "legit"
    thr = None
    for t in np.unique(oof)[::-1]:
        p, r, _, _ = precision_recall(oof >= t, fraud_tr)
        if p >= TARGET:
            thr = float(t)
    thr = 1.0 if thr is None else thr
    model.fit(X, y, groups=g)
    model.threshold = thr
    p, r, _, _ = precision_recall(oof >= thr, fraud_tr)
    print(f"\nmodel: {len(names)} {args.features} features, {len(y):,} training SIMs "
          f"({int(fraud_tr.sum())} fraud) of worlds {args.train}; threshold {thr:.4f} "
          f"(out-of-fold precision {p:.3f}, recall {r:.3f})")

    rows, pooled, hours = [], [], []
    for w in parse_range(args.heldout):
        f, cls, on_map, (batches, cd, cells, truth) = frame(w, args, work)
        s = 1 - model.predict_proba(f.loc[on_map, names])[:, legit]
        c = cls[on_map].to_numpy()
        flag = s >= thr
        box, fraud = c == "simbox", c != "legit"
        pb, rb, tpb, fpb = precision_recall(flag, box)
        pf, rf, tpf, fpf = precision_recall(flag, fraud)
        lte_fraud = int(((cls != "legit") & ~on_map).sum())
        rows.append((w, int(on_map.sum()), int(box.sum()), int(fraud.sum()), pf, rf, rb, fpf,
                     best_recall(s, fraud), lte_fraud))
        pooled.append(pd.DataFrame({"score": s, "class": c}))
        hours += hours_to_flag(model, names, thr, batches, cd, cells, truth, f.index[on_map][box])
        print(f"held-out world {w} done ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    P = pd.concat(pooled)
    sc, cl = P["score"].to_numpy(), P["class"].to_numpy()
    pb, rb, _, _ = precision_recall(sc >= thr, cl == "simbox")
    pf, rf, tpf, fpf = precision_recall(sc >= thr, cl != "legit")
    print(f"\nheld-out worlds (SIMs with MAP registration signaling; {args.features} features)")
    print(f"{'world':>6} {'SIMs':>7} {'box SIMs':>8} {'fraud':>6} {'precision':>9} {'recall':>7} "
          f"{'box recall':>10} {'FP':>4} {'best recall @P>=0.99':>21} {'fraud on LTE only':>17}")
    for w, n, nb, nf, p_, r_, rb_, fp_, br, lte in rows:
        print(f"{w:>6} {n:>7,} {nb:>8,} {nf:>6,} {p_:>9.3f} {r_:>7.3f} {rb_:>10.3f} {fp_:>4} "
              f"{br:>21.3f} {lte:>17,}")
    print(f"{'pooled':>6} {len(P):>7,} {int((cl == 'simbox').sum()):>8,} {int((cl != 'legit').sum()):>6,} "
          f"{pf:>9.3f} {rf:>7.3f} {rb:>10.3f} {fpf:>4} {best_recall(sc, cl != 'legit'):>21.3f}")
    h = pd.Series([x for x in hours if x is not None], dtype=float)
    never = sum(x is None for x in hours)
    print(f"\nhours of registration signaling until a new SIM-box deployment is flagged (half "
          f"its SIMs seen so far; cuts {', '.join(map(str, CUTS_H))} h): {len(hours)} deployments, "
          f"median {h.median():.0f} h, 90th percentile {h.quantile(0.9):.0f} h, "
          f"max {h.max():.0f} h, never within the window {never}" if len(h) else
          f"\nno SIM-box deployment flagged within the window ({never} deployments)")
    print(f"\n({time.monotonic() - t0:.0f} s; work in {work})")


def hours_to_flag(model, names, thr, batches, cd, cells, truth, box_imsis):
    """Per SIM-box deployment of the world: hours from its first registration until half of
    its SIMs registered so far are flagged (None: not within the window)."""
    if not len(box_imsis):
        return []
    dep = truth["deployment_id"].reindex(box_imsis)
    from simbox.fastpath.events import decode_array
    first = {}
    for b in batches:
        im = decode_array(b.imsi)
        for i, t in zip(im, b.time.tolist()):
            if i in dep.index and (i not in first or t < first[i]):
                first[i] = t
    start = {d: min(first[i] for i in dep.index[dep == d] if i in first) for d in dep.unique()}
    need = {d: None for d in start}
    for h in CUTS_H:
        open_ = [d for d in need if need[d] is None]
        if not open_:
            break
        cut = {d: start[d] + 3600 * h for d in open_}
        for until in sorted(set(cut.values())):
            f = features(batches, cd, cells, until=until)
            seen = [i for i in f.index if i in dep.index]
            if not seen:
                continue
            s = pd.Series(1 - model.predict_proba(f.loc[seen, names])[:, LEGIT], index=seen)
            for d in [d for d in open_ if cut[d] == until]:
                mine = [i for i in seen if dep[i] == d]
                if mine and (s[mine] >= thr).mean() >= 0.5:
                    need[d] = h
    return list(need.values())


if __name__ == "__main__":
    main()
