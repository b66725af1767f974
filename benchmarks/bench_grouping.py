#!/usr/bin/env python3
"""Time the deployment grouping of many flagged SIMs at one site (issue 14 item 1).

    python benchmarks/bench_grouping.py                 # 1k, 10k, 100k SIMs
    python benchmarks/bench_grouping.py --sims 1000 10000 100000 300000 --shifts 500

Each row: ``n`` flagged SIMs at one site (a card farm), hour profiles drawn from
``--shifts`` distinct shifts, in one IMEI or (``--no-device``) each in its own;
then :func:`simbox.deployments.group_sims` and
:func:`simbox.deployments.deployment_table` timed (wall-clock seconds), with the
hour-profile comparisons the grouping made and what all pairs would have cost.
Growth should be near-linear: the comparisons are at most ``n x max_leaders``.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd


def farm(n, shifts, one_device, seed=0):
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2026-03-01T00:00:00Z")
    imsis = [f"46000{i:010d}" for i in rng.choice(10**9, n, replace=False)]
    sims = pd.DataFrame({"msisdn": [f"86{i:011d}" for i in rng.choice(10**10, n, replace=False)],
                         "main_site": "S1", "class": "cardfarm", "score": 0.9, "first_seen": t,
                         "last_seen": t + pd.Timedelta(days=7), "n_events": 50}, index=imsis)
    profiles = rng.poisson(3.0, size=(shifts, 24)) * (rng.random((shifts, 24)) < 0.3)
    hours = profiles[rng.integers(0, shifts, n)]
    imei = ["35000000000001"] * n if one_device else [f"35{i:012d}" for i in
                                                        rng.choice(10**12, n, replace=False)]
    return sims, hours, pd.DataFrame({"imsi": imsis, "imei": imei})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sims", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--shifts", type=int, default=500)
    ap.add_argument("--no-device", action="store_true", help="one IMEI per SIM (spoofing)")
    a = ap.parse_args(argv)
    from simbox.deployments import LinkRules, deployment_table, group_sims
    rules = LinkRules()
    print(f"| flagged SIMs at one site | grouping s | table s | deployments | comparisons | "
          f"per SIM | all pairs |")
    print("|---|---|---|---|---|---|---|")
    for n in a.sims:
        sims, hours, devices = farm(n, a.shifts, not a.no_device)
        stats = {}
        t0 = time.perf_counter()
        labels, counts = group_sims(sims, hours, devices, rules, stats=stats)
        t1 = time.perf_counter()
        table, _ = deployment_table(sims, labels, hours, devices, counts)
        t2 = time.perf_counter()
        c = stats["comparisons"]
        print(f"| {n:,} | {t1 - t0:.2f} | {t2 - t1:.2f} | {len(table):,} | {c:,} | "
              f"{c / n:.1f} | {n * (n - 1) // 2:,} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
