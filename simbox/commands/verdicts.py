"""``simbox verdicts``: keep analysts' verdicts in the history store."""
from __future__ import annotations

import json

from simbox.options import add_history_option

NAME = "verdicts"
HELP = "import analysts' verdicts (confirmed, dismissed, seized) into the history store"
DESCRIPTION = """\
Import a verdicts file into the history store (docs/feedback.md): one row per SIM
(imsi, or subscriber / msisdn) or per deployment of a recorded scan (deployment_id),
with verdict (confirmed, dismissed, seized), date, case_id, and optionally note,
label (simbox, cardfarm) and scan.  Dismissed SIMs are not flagged again unless their
score rises by the scan's --dismiss-margin; confirmed and seized SIMs become labels
(simbox labels export).  A malformed row stops the import with one line naming it
(nothing imported); the same verdict imported twice is kept once.

Example:
  simbox verdicts verdicts-2026-03.csv --history team.sqlite
"""


def add_arguments(p):
    p.add_argument("file", metavar="CSV", help="verdicts file")
    add_history_option(p)
    p.add_argument("--columns", metavar="PROFILE",
                   help="column profile (JSON) of a verdicts file with other column names")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")


def run(args) -> int:
    from simbox.feedback.history import open_history  # lazy: pandas
    from simbox.feedback.verdicts import read_verdicts  # lazy: as above
    name, verdicts = read_verdicts(args.file, profile=args.columns)
    with open_history(args.history) as store:
        counts = store.import_verdicts(verdicts, source=name)
    if args.json:
        print(json.dumps(dict(counts, store=str(store.path))))
    else:
        print(f"{counts['rows']:,} verdict row(s) for {counts['sims']:,} SIM(s): "
              f"{counts['new']:,} new, {counts['repeated']:,} already kept"
              + (f", {counts['unknown']:,} for SIMs no scan flagged" if counts["unknown"] else "")
              + f"; history {store.path}")
    return 0
