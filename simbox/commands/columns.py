"""``simbox columns``: propose a column profile for an export (detect), and check one (check)."""
from __future__ import annotations

import json
import os

from simbox.errors import ConfigError

NAME = "columns"
HELP = "column profiles of CDR exports: detect one from a file, check a file against one"
DESCRIPTION = """\
From an unknown CDR export to a scan in three commands, without rewriting it:

  simbox columns detect export.csv --timezone Europe/Berlin --out profile.json
      sniffs the separator, header, null tokens, time format, record-type codes and
      which column is which (IMSI-, IMEI-, MSISDN-like, duration, time, cell), writes
      the profile with its confidence and the points to check, and shows 10 records
      as simbox reads them;
  simbox columns check export.csv --columns profile.json
      reads every record with the profile: per field the bad values, the top reasons
      with an example each (exit status 1 above --max-reject-share);
  simbox scan export.csv --columns profile.json --timezone Europe/Berlin --out scan/

Example:
  simbox columns detect cdrs/day1.csv.gz --out my-switch.json
  simbox columns check cdrs/ --columns my-switch.json
  simbox columns list
"""


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    d = sub.add_parser("detect", help="propose a column profile for CDR files",
                       description="Propose a column profile (JSON) for CDR files.")
    d.add_argument("files", nargs="+", metavar="FILE", help="CDR CSV files (plain or gzip)")
    d.add_argument("--out", metavar="JSON", help="write the profile here (default: print it)")
    d.add_argument("--timezone", metavar="TZ",
                   help="IANA zone of the export's local times (e.g. Europe/Berlin), written into "
                        "the profile (detection cannot see it)")
    d.add_argument("--no-builtin", action="store_true",
                   help="guess every column even when a built-in layout matches the header")
    d.add_argument("--json", action="store_true", help="print the detection as JSON")
    c = sub.add_parser("check", help="read CDR files with a profile: accepted and rejected "
                                     "per field, top reasons")
    c.add_argument("files", nargs="+", metavar="FILE", help="CDR files or folders")
    c.add_argument("--columns", required=True, metavar="PROFILE",
                   help="a built-in profile name or a profile file")
    c.add_argument("--max-reject-share", type=float, default=None, metavar="SHARE",
                   help="exit status 1 when a file rejects more than this share (default: "
                        "that of the other commands)")
    c.add_argument("--json", action="store_true", help="print the counts as JSON")
    sub.add_parser("list", help="the built-in profiles")


def run(args) -> int:
    if args.action == "detect":
        return _detect(args)
    if args.action == "check":
        return _check(args)
    if args.action == "list":
        from simbox.fastpath.columns import builtin_profiles, load_mapping  # lazy: CLI start-up
        for name in builtin_profiles():
            print(f"{name}: {load_mapping(name).description}")
        return 0
    raise ConfigError("give an action: simbox columns detect|check|list (see --help)")


def _detect(args) -> int:
    from simbox.fastpath.detect import DetectError, detect_profile  # lazy: CLI start-up
    from simbox.fastpath.profile_check import preview  # lazy: CLI start-up
    det = detect_profile(args.files[0], use_builtins=not args.no_builtin,
                         timezone=args.timezone)
    for other in args.files[1:]:
        d2 = detect_profile(other, use_builtins=not args.no_builtin, timezone=args.timezone)
        if d2.profile.to_dict()["columns"] != det.profile.to_dict()["columns"]:
            raise DetectError(f"{other}: its layout differs from that of {args.files[0]}; "
                              "detect each layout apart")
    doc = det.to_dict()
    table = preview(args.files[0], det.profile, 10)
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        _write_atomic(args.out, text)
    if args.json:
        print(json.dumps({"profile": doc, "out": args.out,
                          "preview": json.loads(table.to_json(orient="records",
                                                              date_format="iso"))}))
        return 0
    m = det.profile
    what = f"built-in layout {det.builtin}" if det.builtin else "a new layout"
    print(f"{args.files[0]}: {what}, confidence {det.confidence:.1f}, subscriber key "
          f"{m.subscriber_key}, read by the {m.engine} engine")
    for h, role in det.roles.items():
        print(f"  {h or repr(h)}: {role}")
    for a in det.ambiguities:
        print(f"  check: {a}")
    print("first records as read:")
    print(table.to_string(index=False))
    if args.out:
        print(f"profile written to {args.out}; next: simbox columns check {args.files[0]} "
              f"--columns {args.out}")
    else:
        print(text, end="")
    return 0


def _check(args) -> int:
    from simbox.fastpath.profile_check import check_profile  # lazy: CLI start-up
    from simbox.fastpath.stats import MAX_REJECT_SHARE, check_share  # lazy: CLI start-up
    limit = check_share(MAX_REJECT_SHARE if args.max_reject_share is None
                        else args.max_reject_share)
    res = check_profile(args.files, args.columns)
    st = res.stats
    if args.json:
        print(json.dumps(res.as_dict()))
    else:
        m = res.profile
        print(f"profile {m.name} ({m.engine} engine, subscriber key {m.subscriber_key}): "
              f"{st.summary()}")
        checked = st.records - st.skipped
        for fld, cols, bad in res.fields():
            share = f"{100 * (checked - bad) / checked:.1f}%" if checked else "-"
            print(f"  {fld:<12} {', '.join(cols):<32} {share} accepted, {bad:,} bad")
        for reason, n in st.rejected.most_common(5):
            f, line, col, rec = res.examples.get(reason, ("", "", "", ""))
            where = f"{f}:{line}" + (f" field {col}" if col else "")
            print(f"  {reason}: {n:,} (first {where}: {rec!r})")
    error = res.error(limit)
    if error is not None:
        raise error
    return 0


def _write_atomic(path, text: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
