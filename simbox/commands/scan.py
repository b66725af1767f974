"""``simbox scan``: the shutdown list, the deployments and the sites for a raid."""
from __future__ import annotations

import json

from simbox.errors import ConfigError
from simbox.options import add_engine_options, add_feedback_options, add_input_options, \
    engine_options, feedback_options, input_options
from simbox.progress import Bar

NAME = "scan"
HELP = "scan CDRs: SIMs to shut down, deployments, sites to raid, report.html"
DESCRIPTION = """\
Compute the features of the CDR files, score every SIM with the model (the
shipped default unless --model), flag those at or above the operating threshold,
group them into deployments (shared devices, same site and hours, blocks of
consecutive numbers) and locate them on sites.  Without --cells the sites are
the cells themselves, without coordinates (no map; the site files say so).  Writes into --out:
flagged.csv (the shutdown list with reasons), scores.csv (every SIM's score),
deployments.csv, sites.csv,
sites.geojson (QGIS), sites.kml (Google Earth), report.html (offline), summary.json
and rejects.csv (malformed records, if any).  See docs/scan.md.

Every scan is recorded in the history store (--history, else $SIMBOX_HISTORY, else
~/.local/share/simbox/history.sqlite; --no-history: none): flagged.csv gets
first_flagged and status, and SIMs an analyst dismissed stay off the list unless their
score rose by --dismiss-margin.  --exclude exclusions.csv keeps known customers off the
list: they go to excluded.csv.  See docs/feedback.md.

Example:
  simbox scan cdrs/*.csv.gz --cells cells.csv --tac tac.csv --out scan-2026-03/
  simbox scan cdrs.csv.gz --cells cells.csv --model models/v3 --target-precision 0.99 --out out/ --json
  simbox scan cdrs/*.csv.gz --signaling core/s11.pcap --cells cells.csv --out scan-2026-03/
  simbox scan export.csv --columns profile.json --timezone Europe/Berlin --out scan/
  simbox scan cdrs/*.csv.gz --cells cells.csv --exclude exclusions.csv --history team.sqlite --out scan/
  simbox scan lake/cdr/ --from 2026-03-01 --to 2026-03-08 --engine spark --cells cells.csv --out scan/
"""


def add_arguments(p):
    p.add_argument("inputs", nargs="*", metavar="CDR", help="CDR files or folders (CSV, gzip, BER, Parquet, ORC)")
    p.add_argument("--signaling", nargs="+", default=[], metavar="PCAP",
                   help="signaling captures or folders (pcap, pcapng, gzip): attach events "
                        "(IMSI, IMEI, cell) joined to the CDRs; may be given without CDRs")
    p.add_argument("--model", help="model folder (default: the model shipped with simbox)")
    p.add_argument("--model-key", metavar="FILE",
                   help="the model folder must be signed with this key file (HMAC; default: "
                        "the file named by SIMBOX_MODEL_KEY_FILE, if set)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="also load a model folder of an older simbox (model.joblib: a pickle, "
                        "which runs code when loaded); only for folders from a trusted source")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--threshold", type=float, help="flag SIMs with a fraud score at least this")
    g.add_argument("--target-precision", type=float,
                   help="use the lowest threshold reaching this precision on the model's validation")
    p.add_argument("--no-young-hold", action="store_true",
                   help="put the model's flags of SIMs first seen within 48 h of the scan's end "
                        "on the shutdown list at the operating threshold (default: those under "
                        "the model card's young-SIM threshold go to excluded.csv)")
    p.add_argument("--out", required=True, help="output folder (replaced atomically)")
    p.add_argument("--allow-missing-cells", action="store_true",
                   help="scan even when some CDR cells are missing from --cells: warn, and "
                        "locate their SIMs from their other cells (default: an error)")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_feedback_options(p)
    add_input_options(p, NAME)
    add_engine_options(p)


def run(args) -> int:
    from simbox.fastpath.signaling import check_captures  # lazy: CLI start-up
    from simbox.features_ahead import start  # lazy: CLI start-up (no pandas)
    if not args.inputs and not args.signaling:
        raise ConfigError("give at least one CDR file or --signaling capture")
    check_captures(args.signaling)
    inputs, engine, bar = input_options(args), engine_options(args), Bar("scan")
    # the features computed while pandas and the scan's modules are imported
    ahead = start(args.inputs, engine=engine["engine"], progress=bar, signaling=args.signaling,
                  model=args.model, **inputs)
    try:
        from simbox.scan import scan, summary_line  # lazy: CLI start-up (pandas, sklearn)
        if not args.no_report:       # its templates compiled while the features are computed
            from simbox.report import prepare  # lazy: Jinja2, only with a report
            prepare()
        result = scan(args.inputs, signaling=args.signaling, model=args.model,
                      threshold=args.threshold, target_precision=args.target_precision,
                      allow_missing_cells=args.allow_missing_cells, out=args.out,
                      report=not args.no_report, progress=bar,
                      model_key=args.model_key, trust_pickle=args.trust_pickle,
                      young_hold=not args.no_young_hold, features_ahead=ahead, **feedback_options(args), **inputs, **engine)
    finally:
        if ahead is not None:
            ahead.close()
    if args.json:
        print(json.dumps(result.summary, default=str))
    else:
        print(summary_line(result.summary))
    return 0
