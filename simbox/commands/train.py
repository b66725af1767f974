"""simbox train: fit a model on labelled seizures and write a model folder."""
from __future__ import annotations

import json

from simbox.options import add_input_options, input_options
from simbox.progress import Bar
from simbox.training.defaults import KIND_HOLDOUT, MAX_GROUP_FPR, SEIZURE_WEIGHT, UNLABELLED

NAME = "train"
HELP = "train a model on labelled SIMs (labels.csv) and write a model folder"
DESCRIPTION = """\
Train the SIM box / card farm model on what raids confirmed.  Features come from
CDR files (through the fast path) or from a features file; labels.csv has rows
imsi|imei,label,case_id with label in simbox, cardfarm, legit (subscriber or msisdn
instead of imsi for features keyed by subscriber, e.g. of exports without an IMSI;
docs/input-formats.md, "Anonymised exports").  Cross-validation
is grouped by case_id; the operating threshold is chosen on cross-validated
scores to reach --target-precision.  The folder gets model.skops (skops.io: it
cannot run code when loaded), scoring.npz (the same model as plain arrays: what
simbox scan scores with), model.json (the model card), PR/calibration/importance
plots and report.html.  To sign it for others: python -m simbox.training.convert_model
FOLDER --model-key KEY_FILE (docs/training.md, "Model folders").

By default the model also learns from simbox's own labelled simulated knowledge
(SIMs of many simulated networks, shipped with the default model), so kinds of
fraud your raids did not find are still caught; seized SIMs weigh more
(--seizure-weight).  --no-simulated trains on the seizures alone.  Unlabelled
SIMs that score like labelled fraud are not used as legit (--unlabelled pu).
The mix and the method are written in the model card.

Example:
  simbox train cdrs/*.csv.gz --cells cells.csv --labels labels.csv --out model/
  simbox train --features features.parquet --labels labels.csv --out model/ \\
      --target-precision 0.99 --unlabelled ignore
  simbox train cdrs/*.csv.gz --labels-from team.sqlite --probe-numbers probes.txt --out model/
"""


def add_arguments(p):
    p.add_argument("inputs", nargs="*", metavar="CDR", help="CDR files or folders")
    p.add_argument("--features", metavar="FILE", help="a features file (simbox features --out) "
                   "instead of CDR files")
    p.add_argument("--labels", metavar="CSV", help="labels.csv: imsi|imei,label,case_id "
                   "(subscriber|msisdn for features keyed by subscriber)")
    p.add_argument("--labels-from", metavar="HISTORY",
                   help="take the labels from a history store (test calls, confirmed and "
                        "seized verdicts: what simbox labels export writes); the model card "
                        "lists their provenance and the recall per provenance")
    p.add_argument("--truth", metavar="CSV", help="the simulator's truth.csv for these SIMs "
                   "(labels every SIM when --labels is not given, adds kinds to the metrics)")
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    p.add_argument("--simulated", metavar="DIR", action="append",
                   help="also train on this folder written by simbox simulate (cdrs, "
                        "cells.csv, tac.csv, truth.csv); may be repeated.  simbox's own "
                        "simulated knowledge of many worlds is always added unless "
                        "--no-simulated")
    p.add_argument("--no-simulated", action="store_true",
                   help="train on the seizures alone, without simbox's simulated knowledge "
                        "(kinds no raid found are then not learnt)")
    p.add_argument("--simulated-timezone", default="Asia/Shanghai", metavar="TZ",
                   help="local time zone of the simulated network (default: the simulator's, "
                        "Asia/Shanghai)")
    p.add_argument("--simulated-weight", type=float, default=1.0, metavar="W",
                   help="training weight of a simulated SIM (default 1)")
    p.add_argument("--seizure-weight", type=float, default=SEIZURE_WEIGHT, metavar="W",
                   help=f"training weight of a seized (labelled) SIM (default {SEIZURE_WEIGHT:g}; "
                        "a simulated SIM weighs 1)")
    p.add_argument("--unlabelled", choices=("pu", "presumed-legit", "ignore"),
                   default=UNLABELLED,
                   help="unlabelled SIMs: pu (default): a sample used as legit with a lower "
                        "weight, except those that score like labelled fraud (positive-"
                        "unlabelled learning); presumed-legit: all of the sample; ignore: "
                        "left out")
    p.add_argument("--unlabelled-max", type=int, default=100_000, metavar="N",
                   help="size of the presumed-legit sample (default 100000)")
    p.add_argument("--unlabelled-weight", type=float, default=0.5, metavar="W",
                   help="training weight of a presumed-legit SIM (default 0.5)")
    p.add_argument("--target-precision", type=float, default=0.995, metavar="P",
                   help="per-SIM precision the operating threshold must reach (default 0.995)")
    p.add_argument("--recall-slack", type=float, default=0.0, metavar="R",
                   help="give up at most this share of recall for a higher threshold "
                        "(default 0: the threshold of the best recall reaching P)")
    p.add_argument("--max-group-fpr", type=float, default=MAX_GROUP_FPR, metavar="F",
                   help="raise the threshold until no legit population group of the simulated "
                        "knowledge (call centres, desk gateways, IoT fleets, ...) has a "
                        f"cross-validated false-positive rate over F (default {MAX_GROUP_FPR:g}; "
                        "1 turns it off)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--seed", type=int, default=0)
    hold = p.add_mutually_exclusive_group()
    hold.add_argument("--kind-holdout", dest="kind_holdout", action="store_true",
                      default=KIND_HOLDOUT,
                      help="also refit once per fraud kind without it and report its recall "
                           "(the card's kinds_absent_from_training; about 40%% more time)")
    hold.add_argument("--no-kind-holdout", dest="kind_holdout", action="store_false",
                      help="skip those refits" + (" (the default)" if not KIND_HOLDOUT else ""))
    p.add_argument("--json", action="store_true", help="print the model card summary as JSON")
    add_input_options(p, NAME)


def run(args) -> int:
    from simbox.training.run import train_files  # lazy: CLI start-up (sklearn, pandas)
    sim = [(d, args.simulated_timezone) for d in args.simulated or []]
    labels = args.labels
    if args.labels_from:
        labels = history_labels(args.labels_from, args.labels)
    model = train_files(
        inputs=args.inputs, features=args.features, labels=labels, out=args.out,
        truth=args.truth, simulated=sim, knowledge=not args.no_simulated,
        feature_options=input_options(args, out=args.out),
        progress=Bar("reading CDRs"),
        target_precision=args.target_precision, recall_slack=args.recall_slack,
        max_group_fpr=args.max_group_fpr,
        folds=args.folds, seed=args.seed,
        unlabelled=args.unlabelled, unlabelled_max=args.unlabelled_max,
        unlabelled_weight=args.unlabelled_weight, seizure_weight=args.seizure_weight,
        simulated_weight=args.simulated_weight, kind_holdout=args.kind_holdout)
    s = model.card["metrics"]["model"]["per_sim"]
    r = model.card["metrics"]["rules"]["per_sim"]
    summary = {"out": args.out, "threshold": model.threshold,
               "sims": model.card["training_data"]["sims"],
               "label_counts": model.card["training_data"]["label_counts"],
               "cv_precision": s["precision"], "cv_recall": s["recall"],
               "cv_false_positive_rate": s["false_positive_rate"],
               "rules_recall": r["recall"], "seconds": model.card["seconds"],
               "warnings": model.card.get("warnings", [])}
    if args.json:
        from simbox.training.model import nan_free  # lazy: CLI start-up (sklearn, pandas)
        print(json.dumps(nan_free(summary)))
    else:
        f = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        print(f"model written to {args.out}: {summary['sims']:,} SIMs, threshold "
              f"{f(model.threshold)}; cross-validated precision {f(s['precision'])}, recall "
              f"{f(s['recall'])}, FPR {f(s['false_positive_rate'])} (rules recall "
              f"{f(r['recall'])}); see {args.out}/report.html"
              + (f"; {len(summary['warnings'])} WARNING(S) above" if summary["warnings"] else ""))
    return 0


def history_labels(path, labels_file=None):
    """The label rows of a history store (``--labels-from``), its path in ``attrs``."""
    from simbox.errors import ConfigError, InputError
    from simbox.feedback.history import open_history  # lazy: pandas, sqlite3
    if labels_file:
        raise ConfigError("give --labels or --labels-from, not both")
    with open_history(path, create=False) as store:
        rows = store.labels()
    if not len(rows):
        raise InputError(f"{path}: the history store holds no labels yet (no matched test call, "
                         "no confirmed or seized verdict)")
    rows.attrs["source"] = f"history {path}"
    return rows
