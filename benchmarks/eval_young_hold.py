#!/usr/bin/env python3
"""The scan's young hold on held-out worlds where offices open mid-week, with and without it.

    python benchmarks/eval_young_hold.py                       # held-out worlds 1360-1365
    python benchmarks/eval_young_hold.py --worlds 1370-1379 --workdir /tmp/yh --model m/

Each held-out world (``simbox.data.worlds``, the latest generator) is simulated with
more offices than it draws (desk gateways at ``--desk-share`` of the legit SIMs, call
centres at ``--centre-share``) and half of them opening during the window
(``new_office_share`` 0.5): agents with a day or two of history at the scan's end, the
SIMs the young hold is for (docs/scan.md, "Young SIMs").  Every world is scanned twice
with the same model, with the hold (the default) and with ``young_hold=False``; per world
and pooled, side by side: the office agents (desk gateways and call centres) with at most
two active days and the older ones flagged, every other legit SIM flagged, the fraud SIMs
flagged (recall) and the SIMs the hold kept off the list (fraud / legit).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile

import numpy as np
import pandas as pd

from simbox.data.worlds import GENERATOR_VERSION, HELDOUT_FIRST, simulate_world, world_config
from simbox.training.build_default_model import parse_worlds

OFFICES = ("desk_gateway", "call_centre")


def world(w: int, a, work: pathlib.Path) -> pathlib.Path:
    """Simulate (or reuse) held-out world ``w`` with the late offices."""
    folder = work / f"late-{w}-g{a.generator}-{a.subscribers}x{a.days}"
    if (folder / "truth.csv").exists():
        return folder
    shares = dict(world_config(w, a.generator)["legit"]["shares"], desk_gateway=a.desk_share,
                  call_centre=a.centre_share)
    over = {"legit": {"shares": shares}, "desk_gateway": {"new_office_share": 0.5},
            "call_centre": {"new_office_share": 0.5}}
    simulate_world(w, a.subscribers, a.days, out=folder, overrides=over, generator=a.generator)
    return folder


def figures(folder: pathlib.Path, model, hold: bool) -> dict:
    from simbox.scan import scan
    info = json.loads((folder / "world.json").read_text())
    r = scan([str(folder / "cdrs.csv.gz")], cells=str(folder / "cells.csv"),
             tac=str(folder / "tac.csv"), model=model, history=False,
             timezone=info["config"]["run"]["timezone"], allow_missing_cells=True,
             young_hold=hold)
    t = pd.read_csv(folder / "truth.csv", dtype=str).set_index("imsi")
    t = t[t.index.isin(r.features.index.astype(str))]          # SIMs with events
    flag = t.index.isin(set(r.flagged["imsi"].astype(str)))
    held = t.index.isin(set(r.excluded.loc[r.excluded["excluded_by"] == "young", "imsi"]
                            .astype(str)) if r.excluded is not None else set())
    days = r.features["active_days"].reindex(t.index).to_numpy(float)
    legit = (t["class"] == "legit").to_numpy()
    office = t["kind"].isin(OFFICES).to_numpy()
    young = office & (days <= 2)
    return {"young_offices": int(young.sum()), "young_flagged": int((flag & young).sum()),
            "old_offices": int((office & ~young).sum()),
            "old_flagged": int((flag & office & ~young).sum()),
            "other_legit_flagged": int((flag & legit & ~office).sum()),
            "fraud": int((~legit).sum()), "fraud_flagged": int((flag & ~legit).sum()),
            "held_fraud": int((held & ~legit).sum()), "held_legit": int((held & legit).sum())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worlds", type=parse_worlds, default=parse_worlds("1360-1365"),
                    metavar="A-B,C", help="held-out world seeds (default 1360-1365)")
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--desk-share", type=float, default=0.03)
    ap.add_argument("--centre-share", type=float, default=0.02)
    ap.add_argument("--generator", type=int, default=GENERATOR_VERSION)
    ap.add_argument("--model", help="model folder (default: the shipped default model)")
    ap.add_argument("--workdir", help="keep the simulated worlds here (default: a temp folder)")
    a = ap.parse_args(argv)
    if any(w < HELDOUT_FIRST for w in a.worlds):
        ap.error(f"held-out worlds start at {HELDOUT_FIRST}")
    tmp = None if a.workdir else tempfile.TemporaryDirectory(prefix="simbox-young-hold-")
    work = pathlib.Path(a.workdir or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for w in a.worlds:
        folder = world(w, a, work)
        for hold in (True, False):
            rows.append(dict(world=w, hold="on" if hold else "off",
                             **figures(folder, a.model, hold)))
            print(f"# world {w}, hold {rows[-1]['hold']}: done", file=sys.stderr, flush=True)
    df = pd.DataFrame(rows)
    pooled = df.groupby("hold", as_index=False).sum(numeric_only=True).assign(world="pooled")
    df = pd.concat([df, pooled[df.columns]], ignore_index=True)
    print(f"| world | hold | office agents <= 2 days: flagged | older agents: flagged | "
          f"other legit flagged | fraud flagged (recall) | held: fraud / legit |")
    print("|---|---|---|---|---|---|---|")
    for _, r in df.iterrows():
        rec = r["fraud_flagged"] / r["fraud"] if r["fraud"] else np.nan
        print(f"| {r['world']} | {r['hold']} | {r['young_flagged']} of {r['young_offices']} | "
              f"{r['old_flagged']} of {r['old_offices']} | {r['other_legit_flagged']} | "
              f"{r['fraud_flagged']} of {r['fraud']} ({rec:.4f}) | "
              f"{r['held_fraud']} / {r['held_legit']} |")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
