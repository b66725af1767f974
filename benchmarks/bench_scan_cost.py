#!/usr/bin/env python3
"""What a scan costs beside ``simbox features`` on the same files (issue 14 item 1).

    python benchmarks/bench_scan_cost.py --input cdrs.csv.gz --cells cells.csv --tac tac.csv
    python benchmarks/bench_scan_cost.py ... --peer /work/venv-main/bin/python --repeat 3

Runs ``simbox features`` and ``simbox scan --no-report`` as child processes, in
turns (features, scan, peer scan, ...) so that the load of a shared machine
falls on all alike, ``--repeat`` times, and prints the medians: wall seconds
and CPU seconds (user + system of the child and its threads, from ``wait4``),
and the ratio scan / features.  ``--peer``: another interpreter with simbox
installed (the code before a change) whose scan is timed beside.  The issue's
bound is a ratio of at most 1.5.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(args) -> tuple[float, float, int]:
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=dict(os.environ, SIMBOX_NO_PROGRESS="1"))
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status:
        sys.stderr.write(p.stderr.read().decode(errors="replace")[-2000:])
    return wall, usage.ru_utime + usage.ru_stime, status


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", nargs="+", required=True)
    ap.add_argument("--cells", required=True)
    ap.add_argument("--tac")
    ap.add_argument("--timezone")
    ap.add_argument("--threshold", help="for the scans (0: flag every SIM)")
    ap.add_argument("--peer", help="python of another install, scanned beside (e.g. before)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="folder to keep the last scans' outputs in (scan/, peer/)")
    a = ap.parse_args(argv)
    common = ["--cells", a.cells] + (["--tac", a.tac] if a.tac else []) + \
        (["--timezone", a.timezone] if a.timezone else [])
    scan_extra = ["--threshold", a.threshold] if a.threshold is not None else []
    pythons = [("scan", sys.executable)] + ([("peer scan", a.peer)] if a.peer else [])
    times: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = a.keep or scratch
        os.makedirs(tmp, exist_ok=True)
        for r in range(a.repeat):
            jobs = [("features", [sys.executable, "-m", "simbox", "features", *a.input, *common,
                                  "--out", os.path.join(scratch, f"f{r}.parquet")])]
            jobs += [(name, [py, "-m", "simbox", "scan", *a.input, *common, *scan_extra,
                             "--no-report", "--out", os.path.join(tmp, name.split()[0])])
                     for name, py in pythons]
            for name, args in jobs:
                if name != "features":
                    shutil.rmtree(args[-1], ignore_errors=True)
                wall, cpu, status = run(args)
                if status:
                    print(f"{name} failed (status {status})", file=sys.stderr)
                    return 1
                times.setdefault(name, []).append((wall, cpu))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for k, v in times.items()}
    fw, fc = med["features"]
    print(f"| {', '.join(map(os.path.basename, a.input))} | wall s (median of {a.repeat}) | "
          f"x features | CPU s | x features |")
    print("|---|---|---|---|---|")
    for k, (w, c) in med.items():
        print(f"| {k} | {w:.1f} | {w / fw:.2f} | {c:.1f} | {c / fc:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
