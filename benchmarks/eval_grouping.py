#!/usr/bin/env python3
"""Deployments recovered whole, per kind, on simulated worlds the model never saw.

    python benchmarks/eval_grouping.py                                   # 4 seeds, evasive + mixed
    python benchmarks/eval_grouping.py --subscribers 20000 --days 3 --seeds 11 12 --scenarios evasive

For each scenario and seed: ``simbox simulate``, then ``scan`` (the shipped model,
no report), then per true deployment (``truth.csv``): its flagged SIMs, and
whether at least 80 % of them fall under one deployment id of the scan
("recovered whole", issue 12's target: >= 95 % of deployments).  Also counted:
scan deployments that mix SIMs of two or more true deployments ("merged"; fraud
SIMs only).  Prints one table per kind, pooled over seeds and scenarios.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

WHOLE = 0.8


def judge(flagged, truth) -> list[dict]:
    """One row per true fraud deployment with at least one flagged SIM."""
    m = flagged[["imsi", "deployment_id"]].merge(truth, on="imsi", how="inner",
                                                 suffixes=("", "_true"))
    m = m.loc[m["class"] != "legit"]
    rows = []
    for dep, g in m.groupby("deployment_id_true"):
        top = g["deployment_id"].value_counts()
        rows.append({"kind": g["kind"].iloc[0], "deployment": dep, "flagged": len(g),
                     "pieces": len(top), "whole": top.iloc[0] / len(g) >= WHOLE})
    return rows


def merged(flagged, truth) -> int:
    m = flagged[["imsi", "deployment_id"]].merge(truth, on="imsi", how="inner",
                                                 suffixes=("", "_true"))
    m = m.loc[m["class"] != "legit"]
    per = m.groupby("deployment_id")["deployment_id_true"].nunique()
    for dep in per.index[per > 1]:
        g = m.loc[m["deployment_id"] == dep]
        parts = g.groupby(["deployment_id_true", "kind"]).size()
        print(f"    merged {dep}: " + ", ".join(f"{k} ({n} SIMs)" for (_, k), n in parts.items()))
    return int((per > 1).sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=50_000)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[21, 22, 23, 24])
    ap.add_argument("--scenarios", nargs="+", default=["evasive", "mixed"])
    ap.add_argument("--fraud-share", type=float, default=0.02)
    ap.add_argument("--workdir")
    a = ap.parse_args(argv)
    import pandas as pd
    from simbox.data.config import load_config
    from simbox.data.simulate import simulate
    from simbox.scan import scan
    work = pathlib.Path(a.workdir or tempfile.mkdtemp(prefix="eval-grouping-"))
    rows, merges = [], 0
    print(f"# {a.subscribers:,} subscribers x {a.days} days, fraud share {a.fraud_share}; "
          f"scenarios {', '.join(a.scenarios)}; seeds {', '.join(map(str, a.seeds))}", flush=True)
    for scenario in a.scenarios:
        for seed in a.seeds:
            folder = work / f"{scenario}-{seed}"
            if not (folder / "truth.csv").exists():
                simulate(a.subscribers, a.days, scenario, seed, out=folder,
                         config=load_config(overrides={"fraud": {"share": a.fraud_share}}))
            t0 = time.monotonic()
            res = scan([folder / "cdrs.csv.gz"], cells=folder / "cells.csv",
                       tac=folder / "tac.csv", history=False)
            truth = pd.read_csv(folder / "truth.csv", dtype=str)
            truth = truth.rename(columns={"deployment_id": "deployment_id_true"})
            got = judge(res.flagged.astype({"imsi": str}), truth)
            mg = merged(res.flagged.astype({"imsi": str}), truth)
            merges += mg
            rows += got
            whole = sum(r["whole"] for r in got)
            print(f"{scenario:>8} seed {seed}: {whole}/{len(got)} deployments whole, "
                  f"{mg} merged, scan {time.monotonic() - t0:.1f}s", flush=True)
    df = pd.DataFrame(rows)
    table = df.groupby("kind").agg(deployments=("whole", "size"), whole=("whole", "sum"),
                                   pieces_max=("pieces", "max"))
    table["share"] = (table["whole"] / table["deployments"]).round(3)
    table.loc["all"] = [len(df), int(df["whole"].sum()), int(df["pieces"].max()),
                        round(float(df["whole"].mean()), 3)]
    print()
    print(f"| kind | deployments | recovered whole | share | most pieces |")
    print("|---|---|---|---|---|")
    for k, r in table.iterrows():
        print(f"| {k} | {int(r['deployments'])} | {int(r['whole'])} | {r['share']:.3f} | "
              f"{int(r['pieces_max'])} |")
    print(f"\nscan deployments mixing two or more true deployments: {merges}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
