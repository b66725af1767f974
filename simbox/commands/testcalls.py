"""``simbox testcalls``: bypassed test calls matched to the SIMs that terminated them."""
from __future__ import annotations

import json
import pathlib

from simbox.errors import ConfigError

from simbox.options import add_history_option, history_option

NAME = "testcalls"
HELP = "match test-call results to the CDRs: the SIMs that terminated bypassed calls, as labels"
DESCRIPTION = """\
Read a test-call results file (test_id,origin,a_number_sent,b_number,cli_received,
attempt_time,answer_time,release_time,result) and the CDRs of the same days; match
each bypassed call to the SIM that terminated it: the received CLI (international or
national format, --country-code) is a SIM's MSISDN, and that SIM made an MOC to the
probe (b_number) within --tolerance seconds of the call.  Calls with a blank or
spoofed CLI match when exactly one SIM called the probe then.  Writes into --out:
matched.csv (the calls and their SIMs), unmatched.csv (every call not matched, with
the reason), labels.csv (label simbox, case id tc:<campaign>:<day>, the evidence) and
summary.json; the matches are kept in the history store (labels for simbox labels
export and simbox train --labels-from).  Scan and train with --probe-numbers so the
probes never count as ordinary callees.  See docs/feedback.md.

Example:
  simbox testcalls tcg-2026-03.csv cdrs/*.csv.gz --country-code 86 --out testcalls/
  simbox testcalls results.csv cdrs.csv.gz --results-columns vendor.json --tolerance 300 --out tc/
"""


def add_arguments(p):
    from simbox.feedback import DEFAULT_TOLERANCE_S  # lazy: when a parser is built
    p.add_argument("results", metavar="RESULTS", help="test-call results CSV")
    p.add_argument("inputs", nargs="+", metavar="CDR", help="CDR files or folders")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (replaced atomically)")
    p.add_argument("--campaign", metavar="NAME",
                   help="campaign name in the case ids (default: the results file's name)")
    p.add_argument("--country-code", metavar="CC",
                   help="the network's country code, to read national-format CLIs (e.g. 86)")
    p.add_argument("--tolerance", type=int, default=DEFAULT_TOLERANCE_S, metavar="S",
                   help="seconds between the test system's attempt time and the CDR "
                        "(clock skew, set-up; default %(default)s)")
    p.add_argument("--columns", default="canonical", metavar="PROFILE",
                   help="column profile of the CDR files (as for scan)")
    p.add_argument("--results-columns", metavar="PROFILE",
                   help="column profile (JSON) of a results file with other column names or "
                        "result words")
    add_history_option(p, optional=True)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args) -> int:
    from simbox.feedback import testcalls as tc  # lazy: pandas
    history = history_option(args)
    if args.country_code is not None and not args.country_code.isdigit():
        raise ConfigError(f"--country-code must be digits (e.g. 86), not {args.country_code!r}")
    results = tc.read_testcalls(args.results, country_code=args.country_code,
                                profile=args.results_columns)
    probes = sorted(set(results.calls["b_number"]))
    events = tc.probe_events(args.inputs, probes, columns=args.columns)
    campaign = args.campaign or pathlib.Path(args.results).name.split(".")[0]
    res = tc.match_testcalls(results, events, campaign=campaign, country_code=args.country_code,
                             tolerance_s=args.tolerance)
    tc.write_testcalls(res, args.out)
    if history is not False:
        from simbox.feedback.history import open_history  # lazy: sqlite3
        with open_history(history) as store:
            res.summary["history"] = dict(store.record_testcalls(res.matched, source=results.source),
                                          store=str(store.path))
    s = res.summary
    if args.json:
        print(json.dumps(s, default=str))
    else:
        print(f"{s['calls']:,} test call(s) (" + ", ".join(f"{n:,} {r}" for r, n in
                                                          s["by_result"].items())
              + f"): {s['matched']:,} matched to {s['sims']:,} SIM(s) in {s['cases']:,} case(s), "
              f"{s['unmatched']:,} not matched (unmatched.csv)"
              + (f", {s['duplicates']} repeated test id(s)" if s["duplicates"] else "")
              + f"; output: {args.out}")
    return 0
