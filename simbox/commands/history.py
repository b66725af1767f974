"""``simbox history``: one SIM's record in the history store."""
from __future__ import annotations

import json

from simbox.options import add_history_option

NAME = "history"
HELP = "print one SIM's record from the history store: flags, scores, verdicts, test calls"
DESCRIPTION = """\
Print what the history store (docs/feedback.md) keeps about one SIM, named by its
key (IMSI, or the subscriber key of data keyed otherwise) or by an MSISDN it was
flagged with: first and last flagged, its score in every recorded scan (and the
exclusions it hit), the analysts' verdicts and the test calls that caught it.

Example:
  simbox history 460001601171868
  simbox history 8616121052204 --history team.sqlite --json
"""


def add_arguments(p):
    p.add_argument("sim", metavar="SIM", help="the SIM's key (IMSI) or an MSISDN")
    add_history_option(p)
    p.add_argument("--json", action="store_true", help="print the record as JSON")


def run(args) -> int:
    from simbox.feedback.history import open_history  # lazy: pandas
    with open_history(args.history, create=False) as store:
        rec = store.sim_record(args.sim)
    if args.json:
        out = {k: (v.to_dict(orient="records") if hasattr(v, "to_dict") else v)
               for k, v in rec.items()}
        print(json.dumps(out, default=str))
        return 0
    print(format_record(rec))
    return 0


def format_record(rec: dict) -> str:
    """The record as text: a header line, then the scans, verdicts and test calls."""
    lines = [f"SIM {rec['sim']}" + (f" (MSISDN {rec['msisdn']})" if rec["msisdn"] else "")
             + f": flagged {rec['times_flagged']} time(s)"
             + (f", first {rec['first_flagged']}, last {rec['last_flagged']}"
                if rec["times_flagged"] else "")
             + (f"; excluded {rec['times_excluded']} time(s)" if rec["times_excluded"] else "")]
    for title, df in (("scans", rec["flags"]), ("verdicts", rec["verdicts"]),
                      ("test calls", rec["testcalls"])):
        if len(df):
            lines.append(f"{title}:")
            lines.append(df.fillna("").to_string(index=False))
    return "\n".join(lines)
