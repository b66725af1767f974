"""simbox watch: scan each new CDR file of a drop folder as it lands, and raise alerts."""
from __future__ import annotations

import json
import logging
import sys
import time

from simbox.errors import ConfigError
from simbox.options import add_feedback_options, add_input_options, feedback_options, input_options

NAME = "watch"
HELP = "scan each new CDR file of a drop folder as it lands; alerts to OUT/alerts.jsonl"
DESCRIPTION = """\
Watch DROP_DIR, where a mediation system drops CDR files (any format simbox reads),
and take each new file once, in arrival order: its events join a rolling window of
the last --window (default 7d) kept in STATE_DIR, the subscribers it touched are
scored again and the deployments regrouped.  New, escalated and cleared flags are
appended to OUT/alerts.jsonl (one JSON object a line); OUT/current/ holds the scan's
files (flagged.csv, deployments.csv, sites.*, report.html), rewritten atomically
after each file.  Files named *.tmp, *.part or .* and files still growing (size or
time changed within --settle seconds) are not read.  A file that fails to read is
retried, then moved to DROP_DIR/quarantine/ with the reason.  kill -9 and a restart
lose no event and count none twice (docs/watch.md).  --exclude keeps SIMs off the
flags (current/excluded.csv; the file is read again when it changes), and every drop
is recorded in the history store (docs/feedback.md).
The rejects of each file go to STATE_DIR/rejects/<file>.csv; --workers and
--memory-limit are not used (a drop is small).

'simbox watch status --state STATE_DIR' shows the files taken, the lag, the events
per second, the state size and the last alert.

Example:
  simbox watch /data/mediation/out --state /var/lib/simbox --out /srv/simbox \\
      --cells cells.csv --timezone Asia/Shanghai --on-alert 'notify-soc --json'
  simbox watch /data/mediation/out --state /var/lib/simbox --out /srv/simbox --once
  simbox watch status --state /var/lib/simbox --json
"""


def add_arguments(p):
    p.add_argument("drop_dir", metavar="DROP_DIR",
                   help="the folder CDR files are dropped into (or 'status': show the state)")
    p.add_argument("--state", required=True, metavar="STATE_DIR",
                   help="the watch's state folder: ledger, window slices, alerts (kept across "
                        "restarts; one watch at a time)")
    p.add_argument("--out", metavar="OUT_DIR",
                   help="alerts.jsonl and current/ (the scan's files) go here")
    p.add_argument("--window", default="7d", metavar="DURATION",
                   help="the rolling window before the newest event: 7d, 36h... in whole UTC "
                        "hours (default %(default)s)")
    p.add_argument("--min-history", default="2d", metavar="DURATION",
                   help="no alert before the state holds this much network time (the model "
                        "scores days of behaviour; 0: alert at once; default %(default)s)")
    p.add_argument("--no-early", action="store_true",
                   help="no early warnings: alert on the model's flags only (the early layer "
                        "alerts new SIMs of gateways and modems that only dial out or only "
                        "take SMS, in their first hours; docs/watch.md)")
    p.add_argument("--once", action="store_true",
                   help="take the files ready now and exit (for cron)")
    p.add_argument("--interval", type=float, default=5.0, metavar="S",
                   help="seconds between polls of DROP_DIR (default %(default)s)")
    p.add_argument("--settle", type=float, default=5.0, metavar="S",
                   help="a file is read once its size and time are unchanged this long "
                        "(default %(default)s)")
    p.add_argument("--retries", type=int, default=3, metavar="N",
                   help="attempts at a file that fails to read before it is quarantined "
                        "(default %(default)s)")
    p.add_argument("--batch", type=int, default=96, metavar="N",
                   help="a backlog (several files ready at once, after a stop): take up to N "
                        "files together, then score once (default %(default)s; 1: score after "
                        "every file; one file ready at a time is always scored alone)")
    p.add_argument("--catch-up", default="1h", metavar="DURATION|auto",
                   help="with --batch N: a group of files ends once its events reach this much "
                        "network time past the newest event before it (default %(default)s: "
                        "an alert in a backlog comes at most about this late); auto: every "
                        "file ready at a poll is taken with one refresh (committed N files at "
                        "a time), so a watch under load refreshes less often instead of "
                        "falling behind")
    p.add_argument("--model", help="model folder (default: the model shipped with simbox)")
    p.add_argument("--threshold", type=float, help="operating threshold (default: the model's)")
    p.add_argument("--on-alert", metavar="CMD",
                   help="run CMD once per file that raised alerts, the alerts' JSON lines on "
                        "its standard input")
    p.add_argument("--on-alert-url", metavar="URL",
                   help="POST the alerts of each file as a JSON array to URL (retried 3 times)")
    p.add_argument("--print-alerts", action="store_true",
                   help="also print each alert's JSON line on standard output")
    p.add_argument("--no-report", action="store_true", help="do not write current/report.html")
    p.add_argument("--log-json", action="store_true",
                   help="log JSON lines on standard error (time, level, event, fields)")
    p.add_argument("--json", action="store_true", help="status: print the status as JSON")
    add_input_options(p, NAME)
    add_feedback_options(p)


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the record's ``fields``."""

    def format(self, record):
        out = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
               "level": record.levelname.lower(), "logger": record.name,
               "message": record.getMessage()}
        out.update(getattr(record, "fields", {}) or {})
        return json.dumps(out, default=str)


def _log_json() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    logging.getLogger("simbox.watch").setLevel(logging.INFO)


def _status_text(s: dict) -> str:
    rows = [("state", s["state"]), ("files taken", f"{s['files']:,}"),
            ("last file", f"{s['last_file']} (network time {s['last_file_network_time']})"),
            ("lag", f"{s['lag_s']} s since the last file; network time {s['network_time']}"),
            ("events per second", f"{s['events_per_s']:,.0f}" if s["events_per_s"] else "-"),
            ("window", f"{s['window_hours']} hour slices, {s['window_events']:,} events"),
            ("state size", f"{s['state_bytes'] / 1e6:.1f} MB"),
            ("alerts", f"{s['alerts']:,}"),
            ("last alert", json.dumps(s["last_alert"]) if s["last_alert"] else "none"),
            ("failing files", ", ".join(f"{f['file']} ({f['attempts']}x: {f['error']})"
                                        for f in s["failing"]) or "none"),
            ("quarantined", s["quarantined"]),
            ("scores", _scoring_text(s.get("scoring")))]
    return "\n".join(f"{k + ':':<19}{v}" for k, v in rows)


def _scoring_text(sc) -> str:
    """The scoring policy and what the last drop did (simbox/watch/rescore.py)."""
    if not sc:
        return "-"
    done = "all" if sc["full"] else f"{sc['rescored']:,} of {sc['rows']:,}"
    return (f"{done} SIMs rescored at the last drop; every SIM at the first drop of each "
            f"{sc['every_s'] // 60} network minutes (last {sc['last_full']}), the others when "
            f"their row changed (ranks and window shares: by more than {sc['tolerance']})")


def run(args) -> int:
    from simbox.watch import Watcher, command_hook, status, url_hook  # lazy: CLI start-up

    if args.drop_dir == "status":
        s = status(args.state)
        print(json.dumps(s, default=str) if args.json else _status_text(s))
        return 0
    if args.rejects is not None:
        raise ConfigError("simbox watch writes the rejects of each file to "
                          "STATE_DIR/rejects/<file>.csv; leave out --rejects")
    if args.log_json:
        _log_json()
    opts = input_options(args)
    hooks = []
    if args.print_alerts:
        def echo(lines):
            sys.stdout.write("".join(ln + "\n" for ln in lines))
            sys.stdout.flush()
        hooks.append(echo)
    if args.on_alert:
        hooks.append(command_hook(args.on_alert))
    if args.on_alert_url:
        hooks.append(url_hook(args.on_alert_url))
    with Watcher(args.drop_dir, args.state, args.out, window=args.window, model=args.model,
                 threshold=args.threshold, timezone=opts.get("timezone"), cells=opts["cells"],
                 tac=opts["tac"], columns=opts["columns"], on_bad_records=opts["on_bad_records"],
                 max_reject_share=opts["max_reject_share"], settle=args.settle,
                 retries=args.retries, report=not args.no_report, hooks=hooks,
                 batch=args.batch, catch_up=args.catch_up, min_history=args.min_history,
                 early=not args.no_early,
                 **feedback_options(args)) as w:
        taken = w.run(once=args.once, interval=args.interval)
    if args.once and not args.print_alerts:
        print(f"{args.drop_dir}: {taken} file(s) taken; state {args.state}"
              + (f"; alerts in {args.out}/alerts.jsonl" if args.out else ""))
    return 0
