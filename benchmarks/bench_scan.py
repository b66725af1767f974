"""Time ``simbox demo`` and ``simbox scan`` on simulated networks; print a table.

    python benchmarks/bench_scan.py                       # demo + 20k x 7 days
    python benchmarks/bench_scan.py --subscribers 5000 20000 --days 7

Each scan is a library call in this process with the shipped default model;
the stages are timed from the progress callbacks (features, scoring,
grouping/reasons, writing).  Times are wall-clock seconds on this machine, as is:
compare rows of one run, not runs of different days.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


class StageClock:
    """A progress callback that records when each stage starts."""

    def __init__(self):
        self.marks = [("start", time.monotonic())]

    def stage(self, label, total=None, unit=""):
        self.marks.append((label, time.monotonic()))

    def __call__(self, advance=0.0, total=None):
        pass

    def finish(self):
        pass

    def durations(self) -> dict:
        marks = self.marks + [("end", time.monotonic())]
        out = {}
        for (label, t0), (_, t1) in zip(marks, marks[1:]):
            out[label] = out.get(label, 0.0) + (t1 - t0)
        return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, nargs="+", default=[20_000])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--scenario", default="mixed")
    args = ap.parse_args(argv)
    from simbox.data import simulate
    from simbox.demo import demo
    from simbox.scan import scan

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        res = demo(Path(tmp) / "demo")
        rows.append(("simbox demo (defaults)", res.scan.summary["sims"], "", time.monotonic() - t0,
                     res.summary_line()))
        for n in args.subscribers:
            net = Path(tmp) / f"net{n}"
            sim = simulate(n, args.days, args.scenario, 1, net)
            clock = StageClock()
            t0 = time.monotonic()
            r = scan([net / "cdrs.csv.gz"], cells=net / "cells.csv", tac=net / "tac.csv",
                     timezone=sim.network.timezone, out=Path(tmp) / f"out{n}", progress=clock,
                     history=False)
            total = time.monotonic() - t0
            stages = ", ".join(f"{k} {v:.1f}" for k, v in clock.durations().items() if v >= 0.05)
            rows.append((f"scan {n:,} x {args.days} d", r.summary["sims"],
                         f"{r.summary['records']['accepted']:,}", total, stages))
    print(f"| what | SIMs | records | wall s | detail |")
    print("|---|---|---|---|---|")
    for what, sims, recs, secs, detail in rows:
        print(f"| {what} | {sims:,} | {recs} | {secs:.1f} | {detail} |")


if __name__ == "__main__":
    main()
