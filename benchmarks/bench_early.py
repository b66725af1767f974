"""The early-warning layer of ``simbox watch`` (simbox/watch/early.py), offline: its flags at
every 15-minute drop of a network, without a full replay, and the time to detect of the
watch's alerts with it (the model's alerts of an earlier replay, plus these).

    python benchmarks/bench_watch.py ttd net3 --work /tmp/ttd        # the model's alerts
    python benchmarks/bench_early.py net3 --alerts /tmp/ttd/net20k-3/out/alerts.jsonl

At the end of each 15-minute file (cut by event time, as ``bench_watch.py ttd`` drops
them) the feature table of the SIMs that can be young then (first CDR within
:data:`~simbox.watch.early.MAX_AGE`, after the warm-up) is computed from their events so
far, and :func:`~simbox.watch.early.early_flags` run on it: the early layer reads only
those SIMs' rows (its rules look at a SIM's own features and at the other young SIMs of
its site and TAC), so its flags are those of the watch's refresh at that drop.  A SIM's
first alert is the earlier of its first early flag and its first model alert (the layer
adds flags to the model's; it never removes one), so the table is the one a replay of
the watch with the layer would give.  Without ``--alerts``: the early layer alone.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import bench_watch as bw  # noqa: E402

from simbox.fastpath.events import COLUMNS, CellDict, EventBatch  # noqa: E402
from simbox.fastpath.readers import open_events  # noqa: E402
from simbox.features.compute import features_from_events  # noqa: E402
from simbox.features.tables import load_cells, load_tac  # noqa: E402
from simbox.watch import parse_duration  # noqa: E402
from simbox.watch.early import MAX_AGE, early_flags  # noqa: E402

DROP_S = 900


def read(net: Path):
    celldict = CellDict()
    batches = [b.columns() for b in open_events([net / "cdrs.csv.gz"], cells=celldict)]
    cols = {n: np.concatenate([b[n] for b in batches]) for n, _ in COLUMNS}
    return cols, celldict


def early_first(net: Path, timezone: str, min_history: int) -> dict:
    """imsi -> (network time of its first early flag, class, reasons)."""
    cols, celldict = read(net)
    cells, tac = load_cells(net / "cells.csv"), load_tac(net / "tac.csv")
    t, imsi = cols["time"], cols["imsi"]
    start = int(t.min())
    order = np.lexsort((t, imsi))
    u, first_idx = np.unique(imsi[order], return_index=True)
    first = t[order][first_idx]
    file_of = (t - start) // DROP_S
    out = {}
    for k in range(int(file_of.max()) + 1):
        newest = int(t[file_of <= k].max())
        if newest - start < min_history:
            continue
        cand = u[(first >= max(start + min_history, newest - MAX_AGE)) & (first <= newest)]
        if len(cand) == 0:
            continue
        m = np.isin(imsi, cand) & (t <= newest)
        batch = EventBatch({n: cols[n][m] for n, _ in COLUMNS})
        res = features_from_events([batch], celldict, cells=cells, tac=tac,
                                   timezone=timezone, workers=1)
        flags = early_flags(res, newest=newest, oldest=start, min_history=min_history,
                            timezone=timezone)
        when = pd.Timestamp(newest, unit="s", tz="UTC")
        for s, r in flags.iterrows():
            out.setdefault(str(s), (when, r["class"], r["reasons"]))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("nets", nargs="+", help="folders of simbox simulate")
    ap.add_argument("--alerts", nargs="*", default=[],
                    help="alerts.jsonl of a replay of each network (same order)")
    ap.add_argument("--timezone", default=None,
                    help="time zone (default: world.json's, else Asia/Shanghai)")
    ap.add_argument("--warmup", default="2d", help="the watch's --min-history (default 2d)")
    ap.add_argument("--cache", help="a folder keeping each network's early flags "
                    "(<name>.json): computed once, read again by later runs")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    warmup = parse_duration(args.warmup, "--warmup")
    deps, totals, fps = [], dict(alerted=0, true=0, right=0, legit=0), []
    for i, name in enumerate(args.nets):
        net = Path(name)
        wj = net / "world.json"
        tz = args.timezone or (json.loads(wj.read_text())["config"]["run"]["timezone"]
                               if wj.exists() else "Asia/Shanghai")
        cached = Path(args.cache) / f"{net.name}.json" if args.cache else None
        if cached is not None and cached.exists():
            early = {s: (pd.Timestamp(w), c, r) for s, (w, c, r) in
                     json.loads(cached.read_text()).items()}
        else:
            early = early_first(net, tz, warmup)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_text(json.dumps({s: (str(w), c, r) for s, (w, c, r) in
                                              early.items()}))
        alerts = []
        if i < len(args.alerts):
            alerts = [json.loads(x) for x in Path(args.alerts[i]).read_text().splitlines()]
        truth = pd.read_csv(net / "truth.csv", dtype=str).set_index("imsi")
        for s, (when, cls, why) in early.items():
            k = truth["kind"].get(s, "?")
            if truth["class"].get(s) == "legit":
                fps.append({"net": net.name, "imsi": s, "kind": k, "reasons": why})
        merged = [{"imsi": s, "state": "new", "class": c, "network_time": str(w)}
                  for s, (w, c, _) in early.items()]
        merged = sorted(alerts + merged, key=lambda a: pd.Timestamp(a["network_time"]))
        det = bw.detection(net, merged, pd.Timedelta(seconds=warmup))
        deps += det["deployments"]
        totals["alerted"] += det["alerted_sims"]
        totals["true"] += det["true_sims"]
        totals["right"] += det["class_right"]
        totals["legit"] += det["legit_alerted"]
        print(f"{net.name}: {len(early)} SIMs flagged early, "
              f"{sum(f['net'] == net.name for f in fps)} legit", flush=True)
    table = bw._table(deps)
    bw.print_table(table)
    prec = totals["true"] / totals["alerted"] if totals["alerted"] else float("nan")
    print(f"per-SIM precision at alert time: {prec:.4f} ({totals['alerted']} SIMs alerted, "
          f"{totals['legit']} legit; early flags on legit SIMs: {len(fps)})")
    for f in fps:
        print("  legit flagged early:", f)
    late = sorted((d for d in deps if d["late"]), key=lambda d: -(d.get("minutes") or 1e9))
    for d in late[:8]:
        print(f"  {d['net']} {d['deployment']} {d['kind']}: {d.get('minutes')} min, "
              f"{d.get('calls')} calls")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"table": table, "precision": prec, **totals, "early_legit": fps,
             "deployments": [{**d, "first_cdr": str(d["first_cdr"]), "alert": str(d["alert"])}
                             for d in deps]}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
