"""``simbox demo``: simulate a small network, scan it, say what was found."""
from __future__ import annotations

import json

from simbox.demo import DEMO_NETWORK, demo
from simbox.progress import Bar

NAME = "demo"
HELP = "simulate a small network, scan it with the default model, compare with the truth"
DESCRIPTION = """\
Simulate a small city's network (legitimate subscribers, hard negatives, SIM
boxes, card farms), scan it with the model shipped with simbox, and print the
path of report.html and what the scan found against the simulator's truth:
planted deployments found, SIM precision and recall, legitimate SIMs flagged,
distance to the planted sites.  The network goes to OUT/network, the scan's
files to OUT/scan.

Example:
  simbox demo
  simbox demo --out demo/ --subscribers 10000 --days 7 --json
"""


def add_arguments(p):
    p.add_argument("--out", help="output folder (default: a new temporary folder)")
    p.add_argument("--subscribers", type=int, default=DEMO_NETWORK["subscribers"],
                   help=f"SIMs to simulate (default {DEMO_NETWORK['subscribers']})")
    p.add_argument("--days", type=int, default=DEMO_NETWORK["days"],
                   help=f"days to simulate (default {DEMO_NETWORK['days']})")
    p.add_argument("--seed", type=int, default=DEMO_NETWORK["seed"],
                   help=f"random seed (default {DEMO_NETWORK['seed']})")
    p.add_argument("--model", help="model folder (default: the model shipped with simbox)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args) -> int:
    from simbox.scan import summary_line  # lazy: CLI start-up (scan: pandas, sklearn)
    res = demo(args.out, subscribers=args.subscribers, days=args.days, seed=args.seed,
               model=args.model, progress=Bar("demo"))
    if args.json:
        print(json.dumps({"report": str(res.report), "network": str(res.network_dir),
                          "scan": res.scan.summary, "truth": res.comparison,
                          "seconds": round(res.seconds, 1)}, default=str))
    else:
        print(f"report: {res.report}")
        print(summary_line(res.scan.summary).split("; report:")[0])
        print(res.summary_line())
    return 0
