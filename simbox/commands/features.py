"""simbox features: per-IMSI feature table from CDR files (and signaling captures)."""
from __future__ import annotations

import json
import sys

from simbox.errors import ConfigError
from simbox.options import add_engine_options, add_input_options, engine_options, input_options
from simbox.progress import Bar

NAME = "features"
HELP = "compute the per-IMSI feature table of CDR files (--list: the catalogue)"
DESCRIPTION = """\
Read CDR files (CSV, gzip CSV, 3GPP BER) and signaling captures (pcap, pcapng:
--signaling), reduce the events per IMSI and write one row of features per IMSI
to a Parquet or CSV file.  Signaling adds attach events (IMSI, IMEI, cell) to the
device and mobility features, also for SIMs that never call; it may be given
without CDR files.
Malformed records are counted and written to the rejects file (default:
<out>.rejects.csv); exact duplicate records are counted and dropped.

Example:
  simbox features cdrs/day1.csv.gz cdrs/day2.csv.gz --cells cells.csv \\
      --timezone Asia/Shanghai --out features.parquet
  simbox features cdrs.csv.gz --signaling s11.pcap s6a.pcapng --out features.parquet
  simbox features --signaling core/ --out attaches-only.parquet
  simbox features --list
  simbox features lake/cdr/ --from 2026-03-01 --to 2026-03-02 --engine spark --out features.parquet
"""


def add_arguments(p):
    p.add_argument("inputs", nargs="*", metavar="CDR", help="CDR files or folders (and pcap files)")
    p.add_argument("--signaling", nargs="+", default=[], metavar="PCAP",
                   help="signaling captures or folders of them (pcap, pcapng, gzip): attach "
                        "events (GTPv2-C Create Session, Diameter S6a ULR, Gx CCR)")
    p.add_argument("--out", metavar="FILE", help="output .parquet or .csv")
    p.add_argument("--list", action="store_true", help="print the feature catalogue and exit")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_input_options(p, NAME)
    add_engine_options(p)


def run(args) -> int:
    from simbox.engines import compute  # lazy: CLI start-up
    from simbox.features import catalogue, write_table  # lazy: CLI start-up

    if args.list:
        print(catalogue())
        return 0
    if not args.inputs and not args.signaling:
        raise ConfigError("give at least one CDR file or --signaling capture (or --list)")
    if not args.out:
        raise ConfigError("give --out FILE.parquet or FILE.csv")
    if not args.out.lower().endswith((".parquet", ".csv")):
        raise ConfigError(f"--out {args.out}: give a .parquet or .csv file name")
    from simbox.fastpath.signaling import check_captures  # lazy: CLI start-up
    check_captures(args.signaling)
    opts = input_options(args, out=args.out)
    rejects = opts["rejects"]
    res = compute(args.engine, args.inputs, signaling=args.signaling, progress=Bar("reading"),
                  spark_master=args.spark_master, **opts)
    write_table(res, args.out)        # Parquet straight from the result's columns: no pandas
    st = res.stats
    if args.json:
        n_imsis, n_features = res.shape
        out = {"out": args.out, "imsis": n_imsis, "features": n_features,
               "seconds": round(res.seconds, 3), "timezone": res.timezone,
               "subscriber_key": res.key_kinds, "key_collisions": res.key_collisions,
               **({"key_column": res.key_column} if res.subscriber_key is not None else {}),
               **st.as_dict(),
               "rejects_file": rejects if st.rejected_total else None}
        print(json.dumps(out))
    else:
        line = f"{args.out}: {res.summary()}"
        if st.rejected_total:
            line += f"; rejects in {rejects}"
        print(line, file=sys.stdout)
    return 0
