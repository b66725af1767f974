"""simbox evaluate: the metrics of a model on new labelled data."""
from __future__ import annotations

import json

from simbox.options import add_input_options, input_options
from simbox.progress import Bar

NAME = "evaluate"
HELP = "print a model's metrics on new labelled data (labels.csv and/or the simulator's truth.csv)"
DESCRIPTION = """\
Score new data with a model folder and print the same metrics as the model card:
per SIM precision, recall and false-positive rate (with 95% intervals from a
bootstrap over cases), the share of deployments with at least half their SIMs
flagged, and the rules baseline beside the model.  Given the simulator's
truth.csv it also prints recall per fraud kind and the false-positive rate within
each legitimate group.  Without --model the shipped default model is used.

Example:
  simbox evaluate --model model/ --labels labels.csv cdrs/*.csv.gz --cells cells.csv
  simbox evaluate --model model/ --truth sim/truth.csv --features sim_features.parquet --json
"""


def add_arguments(p):
    p.add_argument("inputs", nargs="*", metavar="CDR", help="CDR files or folders")
    p.add_argument("--model", metavar="DIR", help="model folder (default: the shipped model)")
    p.add_argument("--features", metavar="FILE", help="a features file instead of CDR files")
    p.add_argument("--labels", metavar="CSV", help="labels.csv: imsi|imei,label,case_id "
                   "(subscriber|msisdn for features keyed by subscriber)")
    p.add_argument("--truth", metavar="CSV", help="the simulator's truth.csv")
    p.add_argument("--threshold", type=float, help="score threshold instead of the model's")
    p.add_argument("--unlabelled", choices=("ignore", "presumed-legit"), default="ignore",
                   help="unlabelled SIMs: left out (default) or counted as legit")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_input_options(p, NAME)


def run(args) -> int:
    from simbox.training.evaluate import format_report  # lazy: CLI start-up (sklearn, pandas)
    from simbox.training.model import nan_free  # lazy: CLI start-up (sklearn, pandas)
    from simbox.training.run import evaluate_files  # lazy: CLI start-up (sklearn, pandas)
    res = evaluate_files(model=args.model, inputs=args.inputs, features=args.features,
                         labels=args.labels, truth=args.truth,
                         feature_options=input_options(args), progress=Bar("reading CDRs"),
                         threshold=args.threshold, unlabelled=args.unlabelled)
    if args.json:
        print(json.dumps(nan_free(res)))
    else:
        print(format_report(res))
    return 0
