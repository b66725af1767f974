"""The alert policy of ``simbox watch`` (simbox/watch/policy.py), offline: the alerts a
replay would raise with other settings, from the evidence tables a replay recorded.

    python benchmarks/bench_watch.py ttd net3 --work /tmp/ttd --record /tmp/rec
    python benchmarks/bench_alert_policy.py net3 --record /tmp/rec
    python benchmarks/bench_alert_policy.py net3 --record /tmp/rec --set confirm=2700 young=0

Each drop's evidence table (:func:`simbox.watch.policy.evidence`: the SIMs the model or
the early layer flagged, those scored above half the threshold, and those flagged at the
drop before) is put through :func:`~simbox.watch.policy.decide` and
:func:`~simbox.watch.alerts.diff` as the watch does, with the policy's own flags and
state, so the alerts are those of a replay with these settings.  One approximation: a
SIM this policy holds (hysteresis) that the recorded run had cleared and that scored
under half the threshold has no row in the table; it is given score 0 (it stays in the
window of a 7-day replay), not treated as gone.  Then the time to detect and the per-SIM
precision at alert time as ``bench_watch.py ttd`` reports them (``--warmup``: the run's
``--min-history``), the legitimate SIMs alerted by kind and by layer, the alert lines.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import bench_watch as bw  # noqa: E402

from simbox.watch import parse_duration  # noqa: E402
from simbox.watch.alerts import diff  # noqa: E402
from simbox.watch.policy import AlertPolicy, decide  # noqa: E402

OUT_COLUMNS = ["class", "score", "reasons", "deployment_id", "main_site", "first_seen"]


def alerts_of(ev_all: pd.DataFrame, policy: AlertPolicy, threshold: float) -> tuple[list, float]:
    """The alert dicts a watch with ``policy`` raises on these evidence tables, and the
    seconds the policy took (decide and diff, all drops)."""
    flags, state, out, spent, last = {}, {}, [], 0.0, {}
    for t, ev in ev_all.groupby("network_time", sort=True):
        ev = ev.drop(columns="network_time")
        missing = [s for s in flags if s not in ev.index]
        if missing:
            fill = pd.DataFrame([last[s] for s in missing], index=pd.Index(missing, name=ev.index.name))
            fill["score"], fill["flagged"], fill["early"] = 0.0, False, False
            ev = pd.concat([ev, fill[ev.columns]])
        t0 = time.monotonic()
        table, state = decide(ev, flags, state, network_time=int(t), threshold=threshold,
                              policy=policy)
        table = table[OUT_COLUMNS].rename_axis("imsi").reset_index()
        flags, alerts = diff(flags, table, network_time=int(t), now=float(t))
        spent += time.monotonic() - t0
        out += alerts
        kept = ev.loc[ev.index.isin(list(flags))]
        last = {s: r for s, r in zip(kept.index, kept.to_dict(orient="records"))}
    return out, spent


def start_of(net: Path) -> pd.Timestamp:
    t = pd.read_csv(net / "cdrs.csv.gz", usecols=["start_time"])["start_time"]
    return pd.to_datetime(t.min(), utc=True)


def load(model):
    from simbox.scan import load_model
    return load_model(model)[0]


def _value(text: str):
    """A ``--set`` value: an int, a float, or the text (``young_hold=age``)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("nets", nargs="+", help="folders of simbox simulate")
    ap.add_argument("--record", required=True, help="the folder of bench_watch.py --record")
    ap.add_argument("--model", help="the replay's model folder (its threshold; default the "
                                    "shipped model)")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="policy settings (simbox.watch.policy.AlertPolicy fields)")
    ap.add_argument("--warmup", default="2d", help="the replay's --min-history (default 2d)")
    ap.add_argument("--cut", action="store_true",
                    help="the recording ends before the network (a replay interrupted): "
                         "count only the deployments whose first CDR came at least 2 h "
                         "before its last drop")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    settings = {}
    for kv in args.set:
        k, v = kv.split("=", 1)
        settings[k] = _value(v)
    m = load(args.model)
    policy = AlertPolicy(**settings).for_model(m)
    threshold = float(m.threshold)
    print(f"young_score {policy.young_score:.4f} (holding young SIMs by {policy.young_hold}), "
          f"threshold {threshold:.4f}")
    warmup = pd.Timedelta(seconds=parse_duration(args.warmup, "--warmup"))
    deps, tot = [], dict(alerted=0, true=0, legit=0)
    lines = cleared = drops = 0
    spent = 0.0
    by_kind: dict = {}
    for name in args.nets:
        net = Path(name)
        ev = pd.read_parquet(Path(args.record) / f"{net.name}.parquet")
        alerts, s = alerts_of(ev, policy, threshold)
        spent += s
        drops += ev["network_time"].nunique()
        lines += len(alerts)
        cleared += sum(a["state"] == "cleared" for a in alerts)
        det = bw.detection(net, alerts, warmup)
        if args.cut:
            end = pd.Timestamp(int(ev["network_time"].max()), unit="s", tz="UTC")
            det["deployments"] = [d for d in det["deployments"]
                                  if d["first_cdr"] <= end - pd.Timedelta(hours=2)]
            print(f"{net.name}: recorded to {end} (hour {(end - start_of(net)) / pd.Timedelta(hours=1):.1f})")
        deps += det["deployments"]
        tot["alerted"] += det["alerted_sims"]
        tot["true"] += det["true_sims"]
        tot["legit"] += det["legit_alerted"]
        truth = pd.read_csv(net / "truth.csv", dtype=str).set_index("imsi")
        firsts = {}
        for a in alerts:
            if a["state"] != "cleared" and a["imsi"] not in firsts:
                firsts[a["imsi"]] = a
        for s, a in firsts.items():
            if truth["class"].get(s) == "legit":
                layer = "early" if a["reasons"].startswith("early warning") else "model"
                k = (truth["kind"].get(s), layer)
                by_kind[k] = by_kind.get(k, 0) + 1
        print(f"{net.name}: {len(alerts)} alert lines ({sum(a['state'] == 'cleared' for a in alerts)}"
              f" cleared), {det['alerted_sims']} SIMs alerted, {det['legit_alerted']} legit",
              flush=True)
    table = bw._table(deps)
    print(f"policy {policy.as_dict()}")
    bw.print_table(table)
    prec = tot["true"] / tot["alerted"] if tot["alerted"] else float("nan")
    print(f"per-SIM precision at alert time: {prec:.4f} ({tot['alerted']} SIMs alerted, "
          f"{tot['legit']} legit: {', '.join(f'{k} {l} {n}' for (k, l), n in sorted(by_kind.items()))}); "
          f"{lines} alert lines, {cleared} cleared; policy {1000 * spent / max(drops, 1):.1f} ms a drop")
    late = sorted((d for d in deps if d["late"] and d["class"] == "simbox"),
                  key=lambda d: -(d.get("minutes") or 1e9))
    for d in late[:6]:
        print(f"  slowest box: {d['net']} {d['deployment']} {d['kind']}: {d.get('minutes')} min, "
              f"{d.get('calls')} calls")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"policy": policy.as_dict(), "table": table, "precision": prec, **tot,
             "legit_by_kind": {f"{k}/{l}": n for (k, l), n in by_kind.items()},
             "lines": lines, "cleared": cleared}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
