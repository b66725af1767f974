"""``simbox labels export``: labels.csv from the feedback loop, with provenance."""
from __future__ import annotations

import json

from simbox.options import add_history_option

NAME = "labels"
HELP = "export labels.csv from the history store (test calls, verdicts, seizures)"
DESCRIPTION = """\
Write labels.csv for simbox train from what the history store keeps
(docs/feedback.md): SIMs caught by test calls (label simbox, case id per
campaign and day), and confirmed and seized SIMs (the verdict's label, else the
class they were flagged with).  A SIM's latest verdict wins: a dismissed SIM
gives no label.  Columns: imsi,label,case_id,provenance,evidence (provenance:
testcall, verdict, seizure).  simbox train --labels-from HISTORY does the same
without the file.

Example:
  simbox labels export --history team.sqlite --out labels.csv
"""


def add_arguments(p):
    p.add_argument("action", choices=("export",), help="export: write labels.csv")
    add_history_option(p)
    p.add_argument("--out", required=True, metavar="CSV", help="labels file to write")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")


def run(args) -> int:
    from simbox.feedback.history import open_history  # lazy: pandas
    from simbox.outputs import write_csv  # lazy: as above
    from simbox.errors import InputError
    with open_history(args.history, create=False) as store:
        labels = store.labels()
    if not len(labels):
        raise InputError(f"{store.path}: no labels yet (no matched test call, no confirmed or "
                         "seized verdict); nothing written")
    write_csv(labels, args.out)
    counts = {"out": args.out, "sims": int(len(labels)),
              "by_provenance": labels["provenance"].value_counts().to_dict(),
              "by_label": labels["label"].value_counts().to_dict(),
              "unlabelled_verdicts": labels.attrs.get("unlabelled_verdicts", 0)}
    if args.json:
        print(json.dumps(counts))
    else:
        print(f"{counts['sims']:,} labelled SIM(s) written to {args.out} ("
              + ", ".join(f"{n:,} {p}" for p, n in counts["by_provenance"].items()) + ")"
              + (f"; {counts['unlabelled_verdicts']} confirmed/seized verdict(s) without a "
                 "label left out" if counts["unlabelled_verdicts"] else ""))
    return 0
