"""End to end on the simulator: test-call labels alone train a model that flags the boxes'
other SIMs.

For each seed: simulate a network, run a test-call campaign on it (data/testcalls.py:
its routes reach about half of the SIM-box deployments), match the results to the CDRs
(simbox testcalls), train on those labels alone (no simulated knowledge, no seizures;
the unlabelled SIMs as presumed legit, positive-unlabelled), then scan the same CDRs
and, as a check of generalisation, a second network of another seed with the same
model; probe numbers are kept out of the features everywhere.  Recall is measured
against the simulator's truth, per group of SIM-box SIMs:

- ``hit``: SIMs a test call caught (the training labels: an upper bound);
- ``same box``: the other SIMs of a deployment a test call reached;
- ``unreached box``: SIMs of deployments no test call reached;
- ``fresh network``: every SIM-box SIM of the second network (no test call at all);

and the legit SIMs flagged (false positives), at two thresholds: the model's own, and
one catching ``--label-recall`` of the labelled SIMs by their out-of-fold scores (a
rule that needs no legit label).

On the same network only the SIMs outside the presumed-legit training sample
(``--sample``: 30% of the SIMs, as ``--unlabelled-max`` 100,000 is of a large network)
are counted: test-call labels give no labelled legit SIM, so the positive-unlabelled
step cannot run, and a box SIM in the sample is fitted as legit (the model would
merely repeat its label).  The precision target is the one the cross-validation can
honestly reach when every unlabelled SIM counts as legit (boxes no test call reached
are then "false positives"): the highest of 0.99, 0.95, ... 0.5 that it reaches, at most
``--target-precision``.

    OMP_NUM_THREADS=1 python benchmarks/eval_testcall_labels.py --subscribers 10000 --days 5 \\
        --seeds 1 2 3
"""
from __future__ import annotations

import argparse
import os
import pathlib
import tempfile
import time

import numpy as np

from simbox.errors import InputError
from simbox.data import writers
from simbox.data.simulate import build_network
from simbox.data.testcalls import campaign, write_campaign
from simbox.feedback.testcalls import match_testcalls, probe_events, read_testcalls
from simbox.scan import scan
from simbox.training.run import train_files


TARGETS = (0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5)


def write_net(net, out: pathlib.Path):
    out.mkdir(parents=True, exist_ok=True)
    writers.WRITERS["csv"](net, out, None)
    writers.write_tables(net, out)


def recall(flagged: set, sims) -> tuple[int, int]:
    sims = list(sims)
    return sum(s in flagged for s in sims), len(sims)


def one(seed, args, base):
    net = build_network(args.subscribers, args.days, "mixed", seed)
    net, c = campaign(net, seed=seed, calls=args.calls)
    d = base / f"net{seed}"
    write_net(net, d)
    write_campaign(c, d)
    cc = str(net.config.run.country_code)
    results = read_testcalls(d / "testcalls.csv", country_code=cc)
    events = probe_events([d / "cdrs.csv.gz"], sorted(set(results.calls["b_number"])))
    m = match_testcalls(results, events, campaign="tcg", country_code=cc)
    labels = m.labels
    truth = net.truth.astype(str).set_index("imsi")
    fopts = dict(cells=str(d / "cells.csv"), tac=str(d / "tac.csv"), timezone=net.timezone,
                 probe_numbers=c.probes)
    t0 = time.monotonic()
    for target in TARGETS:       # the highest precision target the cross-validation reaches
        if target > args.target_precision:
            continue
        try:
            model = train_files(inputs=[str(d / "cdrs.csv.gz")], labels=labels,
                                out=base / f"model{seed}", knowledge=False, feature_options=fopts,
                                kind_holdout=False, target_precision=target,
                                unlabelled_max=int(args.sample * args.subscribers),
                                unlabelled_weight=args.unlabelled_weight)
            break
        except InputError as exc:
            if "no threshold reaches precision" not in str(exc):
                raise
    else:
        raise SystemExit(f"seed {seed}: no precision target down to {TARGETS[-1]} is reachable")
    t_train = time.monotonic() - t0
    frame = model.oof_[0]
    trained = set(frame.index[frame["source"] == "unlabelled"].astype(str))   # fitted as legit
    lab = frame.loc[frame["source"] == "seizure", "score"]
    rules = {"model": model.threshold,
             "labels": float(np.quantile(lab, 1 - args.label_recall)) if len(lab) else 1.0}
    res = scan([d / "cdrs.csv.gz"], model=base / f"model{seed}", history=False, report=False,
               **fopts)
    score = res.scores.set_index("imsi")["score"]
    box = truth[truth["class"] == "simbox"]
    box = box[~box.index.isin(trained)]      # recall on the SIMs the model never saw
    hit = set(labels["imsi"])
    reached = box[box["deployment_id"].isin(c.reached)]
    legit = truth.index[(truth["class"] == "legit") & ~truth.index.isin(trained)]
    farms = truth.index[(truth["class"] == "cardfarm") & ~truth.index.isin(trained)]
    # a fresh network, no campaign: the same model
    fresh = build_network(args.subscribers, args.days, "mixed", seed + 1000)
    f = base / f"fresh{seed}"
    write_net(fresh, f)
    res2 = scan([f / "cdrs.csv.gz"], model=base / f"model{seed}", history=False, report=False,
                cells=str(f / "cells.csv"), tac=str(f / "tac.csv"), timezone=fresh.timezone)
    score2 = res2.scores.set_index("imsi")["score"]
    t2 = fresh.truth.astype(str).set_index("imsi")
    out = {"seed": seed, "boxes": int(truth.loc[truth["class"] == "simbox", "deployment_id"]
                                      .nunique()), "reached": len(c.reached),
           "calls": m.summary["calls"], "matched": m.summary["matched"],
           "label_sims": int(labels["imsi"].nunique()), "cases": int(labels["case_id"].nunique()),
           "train_s": round(t_train, 1), "target": target, "legit": len(legit),
           "fresh_legit": int((t2["class"] == "legit").sum()),
           "provenance": model.card.get("label_provenance")}
    for rule, thr in rules.items():
        flagged = set(score.index[score.to_numpy() >= thr].astype(str))
        flagged2 = set(score2.index[score2.to_numpy() >= thr].astype(str))
        out[rule] = {"threshold": round(thr, 4),
                     "hit": recall(flagged, hit & set(box.index)),
                     "same box": recall(flagged, set(reached.index) - hit),
                     "unreached box": recall(flagged, set(box.index) - set(reached.index)),
                     "fresh network": recall(flagged2, t2.index[t2["class"] == "simbox"]),
                     "legit_flagged": sum(x in flagged for x in legit),
                     "fresh_legit_flagged": sum(x in flagged2 for x in
                                                t2.index[t2["class"] == "legit"]),
                     "cardfarm": recall(flagged, farms),
                     "fresh_by_kind": {k: recall(flagged2, g.index) for k, g in
                                       t2[t2["class"] == "simbox"].groupby("kind")}}
    out["labelled_kinds"] = truth.loc[list(hit), "kind"].value_counts().to_dict()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--target-precision", type=float, default=0.99)
    ap.add_argument("--sample", type=float, default=0.3,
                    help="share of the SIMs sampled as presumed legit (unlabelled-max); the "
                         "recall on the same network counts the others only")
    ap.add_argument("--unlabelled-weight", type=float, default=0.5,
                    help="training weight of a presumed-legit SIM (simbox train's default 0.5)")
    ap.add_argument("--label-recall", type=float, default=0.9,
                    help="the second operating point: the threshold catching this share of "
                         "the labelled SIMs by their out-of-fold scores")
    ap.add_argument("--keep", metavar="DIR", help="keep the networks and models here")
    args = ap.parse_args(argv)
    base = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="simbox-tc-eval-"))
    os.environ.setdefault("SIMBOX_NO_PROGRESS", "1")
    out = [one(s, args, base) for s in args.seeds]
    fmt = lambda r: f"{r[0]}/{r[1]} ({r[0] / r[1]:.0%})" if r[1] else "-"  # noqa: E731
    print(f"\n{args.subscribers:,} subscribers, {args.days} days, mixed scenario, {args.calls} "
          "test calls per network; model trained on the test-call labels alone, no simulated "
          f"knowledge; presumed-legit sample {args.sample:.0%} of the SIMs, weight "
          f"{args.unlabelled_weight:g}")
    for rule, title in (("model", "the model's threshold (the highest precision target "
                                  "reached on cross-validation, shown)"),
                        ("labels", f"a threshold catching {args.label_recall:.0%} of the "
                                   "labelled SIMs out of fold")):
        print(f"\nAt {title}:\n")
        print("| seed | boxes reached | matched calls | labelled SIMs (cases) | threshold | "
              "recall: hit | same box, no hit | unreached box | fresh network | legit flagged "
              "(same / fresh) | card farms |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        tot = {k: [0, 0] for k in ("hit", "same box", "unreached box", "fresh network")}
        for r in out:
            q = r[rule]
            for k in tot:
                tot[k][0] += q[k][0]
                tot[k][1] += q[k][1]
            thr = f"{q['threshold']}" + (f" (target {r['target']})" if rule == "model" else "")
            print(f"| {r['seed']} | {r['reached']} of {r['boxes']} | {r['matched']} of "
                  f"{r['calls']} | {r['label_sims']} ({r['cases']}) | {thr} | {fmt(q['hit'])} | "
                  f"{fmt(q['same box'])} | {fmt(q['unreached box'])} | "
                  f"{fmt(q['fresh network'])} | {q['legit_flagged']} of {r['legit']:,} / "
                  f"{q['fresh_legit_flagged']} of {r['fresh_legit']:,} | {fmt(q['cardfarm'])} |")
        print(f"| all | | | | | {fmt(tot['hit'])} | {fmt(tot['same box'])} | "
              f"{fmt(tot['unreached box'])} | {fmt(tot['fresh network'])} | | |")
    kinds = {}
    for r in out:
        for k, (n, d) in r["labels"]["fresh_by_kind"].items():
            kinds.setdefault(k, [0, 0])
            kinds[k][0] += n
            kinds[k][1] += d
    labelled = {}
    for r in out:
        for k, n in r["labelled_kinds"].items():
            labelled[k] = labelled.get(k, 0) + n
    print("\nFresh networks, by SIM-box kind, at the second threshold (labelled SIMs of that "
          "kind in all campaigns):\n")
    print("| kind | labelled SIMs | recall |\n|---|---|---|")
    for k in sorted(kinds):
        print(f"| {k} | {labelled.get(k, 0)} | {fmt(kinds[k])} |")
    print("\ntraining seconds: " + ", ".join(str(r["train_s"]) for r in out))
    print("label provenance on the card (seed %d): %s" % (out[0]["seed"], out[0]["provenance"]))
    return out


if __name__ == "__main__":
    main()
