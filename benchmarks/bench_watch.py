"""Time to detect, throughput, per-drop latency and state size of ``simbox watch`` (issue 16).

Three runs, each printing a table (and ``--json`` a JSON object)::

    # simulated networks whose boxes and farms start mid-window
    simbox simulate --subscribers 20000 --days 7 --seed 3 --config late.json --out net3
    python benchmarks/bench_watch.py ttd net3 net4 net5 --work /tmp/ttd

    # a 100k-subscriber network over 14 days
    simbox simulate --subscribers 100000 --days 14 --seed 5 --config late.json --out net100k
    python benchmarks/bench_watch.py scale net100k --work /tmp/scale

    # the sustained rate: files landing at an offered rate while the watch runs (a long
    # network: 21 days offered after the 7 of the state, so the lag's trend shows)
    simbox simulate --subscribers 100000 --days 28 --seed 5 --config late.json --out net100k-28
    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/bench_watch.py sustained net100k-28 \
        --work /tmp/sus --rates 600k 1M 1.4M

(``late.json``: ``{"fraud": {"late_start_share": 0.6}}``.)

``ttd``: each network's CDRs are cut into 15-minute files by event time and dropped
one by one into a :class:`~simbox.watch.Watcher` (the shipped default model and the
early-warning layer, ``--no-early`` without it; outputs written without report.html),
as fast as it takes them.  ``bench_early.py`` adds the early layer to the alerts of a
replay without it, offline.  Per deployment (truth from
``truth.csv``): the network minutes and the calls (MOC + MTC of its SIMs) from its
first CDR to its first alert; per SIM: the precision of the first alerts.  Then
``compute_features`` over the same file (one worker) for the batch rate.

``sustained``: the watch's sustained rate (issue 16: the highest rate of events offered
to the drop folder, files landing continuously in wall time, that one core keeps up with
at a bounded lag).  The first ``--warm-days`` days' files make a state (a day per refresh;
kept in ``WORK/base`` and reused while its files are the same); then for each offered rate
and each ``--modes`` (``--catch-up`` of the watch: ``auto``, load-driven, or a duration)
a copy of that state is opened by a :class:`~simbox.watch.Watcher` (in this process: run
it under ``taskset -c 0`` and ``OMP_NUM_THREADS=1`` for one core) while a feeder thread
hard-links the later days' files into the drop folder, each at the wall time its events
are due at that rate (file ``i`` lands when the events before it are ``rate`` per second
in).  The watch polls every ``--interval`` s and takes whatever is ready.  Per rate: the
events taken per second from the first landing to the last file taken, the lag after each
cycle (events landed and not yet taken; the age of the oldest file not yet taken) and
after the last file lands, the cycles (files taken by one poll, then one refresh) with
their median size and time, and a least-squares fit of a cycle's seconds to ``c * events
+ F``; the watch keeps up with a rate ``R`` while ``R * c < 1`` (cycles of about ``F / (1
- R * c)`` s).  Whether it keeps up is read from the lag after each cycle (printed per
rate): each cycle's lag against the one before, fitted by least squares over the cycles
that ended while files were landing: a ratio under 1 levels off, at the level printed
("keeps up" under 0.9, "at the edge" from 0.9), 1 or more grows ("falls behind")
(:func:`lag_trend`; at least 4 such cycles: a longer feed, ``--offer-days``), not from the
events taken per second, which a finite feed's last cycle understates.  Then
``compute_features`` on the whole file (one worker) in the same run.

``scale``: the 100k network's files, a day at a time (``batch``: 96 files, one
refresh) for days 1-7, then on day 8 single 15-minute drops from ``--latency-offset``
(the per-drop latency, with the time of each step), then the rest of day 8 a day at a
time and the later days as a backlog (``--batch 96 --catch-up 1h``: a refresh per network
hour); the reading and committing alone; the state size after each day,
the peak memory, and the batch rate of ``compute_features`` on the whole file.
``--reduce merge`` (default) makes the touched subscribers' kernel rows by the merge of
partials, ``--reduce events`` by reducing their whole window again (the path before);
with ``merge``, each timed drop also times the ``events`` path on the same subscribers
(``events_path_s``, not part of the drop), so the two are compared under the same load,
and scores every SIM again (``full_score_s``, not part of the drop): how many SIMs the
drop rescored, the flags that differ from a full rescore and the largest score gap
(``simbox/watch/rescore.py``), and makes the deployments, sites and reasons by a full
regroup (``full_regroup_s``, not part of the drop): whether the drop's equal them, and the
SIMs whose reasons differ (``simbox/watch/regroup.py``).  At the end, a restart on the state: its seconds and the
events of whole days the partial kernel reduced again for it (0: stored partials read back).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from simbox.features import compute_features
from simbox.watch import Watcher, parse_duration
from simbox.watch.policy import IMMEDIATE, AlertPolicy, evidence
from simbox.watch.replay import split_by_time

FRAUD = ("simbox", "cardfarm")


def _q(values, q):
    v = np.asarray([x for x in values if x is not None], float)
    return float(np.quantile(v, q)) if len(v) else float("nan")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_now_mb() -> dict:
    """The resident memory now: anonymous (the process's own) and of mapped files (the
    slices and partials pages read, which the kernel may drop), MB (Linux; else empty)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return {}
    kb = dict(line.split(":", 1) for line in text.splitlines() if line.startswith("Rss"))
    return {k.lower() + "_mb": int(v.split()[0]) / 1024 for k, v in kb.items()
            if k in ("RssAnon", "RssFile")}


def net_timezone(net: Path, given: str | None) -> str:
    """The time zone to read a simulated network in: ``given``, else its world's
    (``world.json``), else the simulator's default city's."""
    if given:
        return given
    wj = net / "world.json"
    if wj.exists():
        return json.loads(wj.read_text())["config"]["run"]["timezone"]
    return "Asia/Shanghai"


def _watcher(net: Path, work: Path, timezone: str, **kw) -> Watcher:
    (work / "drop").mkdir(parents=True, exist_ok=True)
    return Watcher(work / "drop", work / "state", work / "out", cells=net / "cells.csv",
                   tac=net / "tac.csv", timezone=timezone, settle=0, report=False,
                   history=False, **kw)


def _drop(w: Watcher, paths) -> list:
    for p in paths:
        os.link(p, w.drop_dir / p.name)
    return w.poll()


def _batch_rate(net: Path, timezone: str) -> tuple[int, float]:
    t = time.monotonic()
    res = compute_features([net / "cdrs.csv.gz"], cells=net / "cells.csv", tac=net / "tac.csv",
                           timezone=timezone, workers=1)
    return res.stats.accepted, time.monotonic() - t


# -- time to detect -------------------------------------------------------------------
class Recorder:
    """An alert policy that keeps each drop's evidence table (``bench_alert_policy.py``
    tries other settings on them offline) and applies ``policy``.  The kept tables ask
    ``in_group`` of every SIM, not only of those younger than the policy's
    ``group_age`` as the watch does, so that settings with a longer office age read the
    calls they need (what the watch skips changes no decision of ``policy``:
    tests/watch/test_policy.py)."""

    def __init__(self, policy: AlertPolicy):
        self.policy, self.tables = policy, []

    def for_model(self, model) -> "Recorder":
        self.policy = self.policy.for_model(model)
        return self

    def apply(self, flagged, res, preds, *, before, state, network_time, threshold,
              in_group=None):
        ev = evidence(flagged, res, preds, threshold, before, in_group)
        self.tables.append(ev.assign(network_time=int(network_time)))
        return self.policy.apply(flagged, res, preds, before=before, state=state,
                                 network_time=network_time, threshold=threshold,
                                 in_group=in_group)


def replay(net: Path, work: Path, timezone: str, early: bool = True,
           quiet_hours: float = 0.0, model=None, policy: AlertPolicy | None = None,
           record: Path | None = None) -> dict:
    """Drop the network's 15-minute files one by one; the watch's and the batch's rates
    (``early``: with the early-warning layer, the default).  ``quiet_hours``: the files
    of the first hours go in 6-hour batches (no alert can come before the watch's
    ``--min-history``, and incremental equals batch, so the alerts are the same; the
    rates then count those batches too)."""
    shutil.rmtree(work, ignore_errors=True)
    paths = split_by_time(net / "cdrs.csv.gz", work / "all", seconds=900)
    rec = Recorder(policy or AlertPolicy()) if record else None
    # the quiet hours' 6-hour groups in one refresh each, as before --catch-up
    w = _watcher(net, work, timezone, early=early, alert_policy=rec or policy, catch_up="30d",
                 **({"model": model} if model else {}))
    per_drop, events, t0 = [], 0, time.monotonic()
    quiet = int(quiet_hours * 4)
    groups = [paths[i:min(i + 24, quiet)] for i in range(0, min(quiet, len(paths)), 24)] + \
        [[p] for p in paths[quiet:]]
    try:
        for group in groups:
            w.batch = len(group)
            for d in _drop(w, group):
                per_drop.append(d.seconds + d.refresh_seconds)
                events += d.events
    finally:
        w.close()
        if rec is not None and rec.tables:
            record.parent.mkdir(parents=True, exist_ok=True)
            pd.concat(rec.tables).to_parquet(record)
    wall = time.monotonic() - t0
    n_batch, s_batch = _batch_rate(net, timezone)
    return {"net": net.name, "drops": len(paths), "events": events, "watch_s": wall,
            "per_drop": per_drop, "batch_events": n_batch, "batch_s": s_batch}


def first_alerts(alerts: list, start, warmup) -> dict:
    """imsi -> (network time of its first alert, class) had the watch raised no alert
    before ``start + warmup`` (None: the alerts as raised).  The flags are rebuilt from
    the alerts (new / escalated: flagged, cleared: not); a SIM flagged when the warm-up
    ends is alerted at the first refresh after it.  Exact for a warm-up at least the
    run's ``--min-history``."""
    if warmup is None:
        out = {}
        for a in alerts:
            if a["state"] in ("new", "escalated") and a["imsi"] not in out:
                out[a["imsi"]] = (pd.Timestamp(a["network_time"]), a["class"])
        return out
    end = start + warmup
    flagged, out, crossed = {}, {}, False
    for a in alerts:
        t = pd.Timestamp(a["network_time"])
        if t >= end and not crossed:            # the first refresh after the warm-up
            crossed = True
            for imsi, cls in flagged.items():
                out.setdefault(imsi, (t, cls))
        if a["state"] == "cleared":
            flagged.pop(a["imsi"], None)
        else:
            flagged[a["imsi"]] = a["class"]
            if t >= end:
                out.setdefault(a["imsi"], (t, a["class"]))
    return out


def detection(net: Path, alerts: list, warmup=None) -> dict:
    """Per deployment: minutes and calls from its first CDR to its first alert (``late``:
    the first CDR after the warm-up, i.e. the box started while the watch was alerting);
    per SIM: the precision of the first alerts."""
    truth = pd.read_csv(net / "truth.csv", dtype=str).set_index("imsi")
    cdrs = pd.read_csv(net / "cdrs.csv.gz", usecols=["record_type", "start_time", "imsi"],
                       dtype=str)
    start = pd.to_datetime(cdrs["start_time"].min(), utc=True)
    late_from = start + (warmup if warmup is not None else pd.Timedelta(days=1))
    fraud = truth[truth["class"].isin(FRAUD)]
    ev = cdrs[cdrs["imsi"].isin(fraud.index)].copy()
    ev["t"] = pd.to_datetime(ev["start_time"], utc=True)
    ev["dep"] = fraud["deployment_id"].reindex(ev["imsi"]).to_numpy()
    ev["call"] = ev["record_type"].isin(["MOC", "MTC"])
    first = first_alerts(alerts, start, warmup)
    deps = []
    for dep, g in ev.groupby("dep"):
        sims = fraud.index[fraud["deployment_id"] == dep]
        hits = [first[s][0] for s in sims if s in first]
        t0 = g["t"].min()
        row = {"net": net.name, "deployment": dep, "class": fraud.loc[sims[0], "class"],
               "kind": fraud.loc[sims[0], "kind"], "sims": len(sims),
               "late": bool(t0 >= late_from), "first_cdr": t0,
               "alert": min(hits) if hits else None}
        if hits:
            row["minutes"] = (row["alert"] - t0).total_seconds() / 60
            row["calls"] = int((g["call"] & (g["t"] <= row["alert"])).sum())
        deps.append(row)
    cls = truth["class"].reindex(list(first))
    return {"deployments": deps, "alerted_sims": len(first),
            "true_sims": int(cls.isin(FRAUD).sum()),
            "class_right": int(sum(cls.get(s) == c for s, (_, c) in first.items())),
            "legit_alerted": int((cls == "legit").sum())}


def _table(deps: list) -> list:
    rows = []
    for cls in FRAUD:
        for late in (True, None):
            sel = [d for d in deps if d["class"] == cls and (late is None or d["late"])]
            found = [d for d in sel if d["alert"] is not None]
            rows.append({"class": cls, "boxes": "started after warm-up" if late else "all",
                         "n": len(sel), "alerted": len(found),
                         "median_min": _q([d["minutes"] for d in found], 0.5),
                         "p90_min": _q([d["minutes"] for d in found], 0.9),
                         "median_calls": _q([d["calls"] for d in found], 0.5),
                         "p90_calls": _q([d["calls"] for d in found], 0.9)})
    return rows


def print_table(rows: list) -> None:
    """The time-to-detect table of :func:`_table` on standard output."""
    print(f"{'class':<9} {'deployments':<22} {'n':>3} {'alerted':>7} {'median min':>10} "
          f"{'p90 min':>8} {'median calls':>12} {'p90 calls':>9}")
    for r in rows:
        print(f"{r['class']:<9} {r['boxes']:<22} {r['n']:>3} {r['alerted']:>7} "
              f"{r['median_min']:>10.0f} {r['p90_min']:>8.0f} {r['median_calls']:>12.0f} "
              f"{r['p90_calls']:>9.0f}")


def ttd(args) -> dict:
    work = Path(args.work)
    if args.reuse:
        runs = json.loads(Path(args.reuse).read_text())["runs"]
    else:
        policy = IMMEDIATE if args.policy == "immediate" else AlertPolicy()
        runs = [replay(Path(n), work / Path(n).name, net_timezone(Path(n), args.timezone),
                       early=not args.no_early, quiet_hours=args.quiet_hours, model=args.model,
                       policy=policy, record=Path(args.record) / f"{Path(n).name}.parquet"
                       if args.record else None)
                for n in args.nets]
    out = {"runs": [{k: v for k, v in r.items() if k != "per_drop"} for r in runs]}
    per_drop = [x for r in runs for x in r.get("per_drop", [])]
    out.update(
        watch_events_per_s=sum(r["events"] for r in runs) / sum(r["watch_s"] for r in runs),
        batch_events_per_s=sum(r["batch_events"] for r in runs) / sum(r["batch_s"] for r in runs),
        peak_rss_mb=_rss_mb())
    if per_drop:
        out.update(per_drop_median_s=_q(per_drop, 0.5), per_drop_p90_s=_q(per_drop, 0.9),
                   per_drop_max_s=max(per_drop))
    out["warmups"] = {}
    for text in args.warmup:
        warmup = pd.Timedelta(seconds=parse_duration(text, "--warmup"))
        dets = [detection(Path(n), [json.loads(x) for x in (
            work / Path(n).name / "out" / "alerts.jsonl").read_text().splitlines()], warmup)
            for n in args.nets]
        deps = [d for r in dets for d in r["deployments"]]
        alerted = sum(r["alerted_sims"] for r in dets)
        res = out["warmups"][text] = {
            "table": _table(deps),
            "precision": sum(r["true_sims"] for r in dets) / alerted if alerted else None,
            "class_precision": sum(r["class_right"] for r in dets) / alerted if alerted else None,
            "alerted_sims": alerted, "legit_alerted": sum(r["legit_alerted"] for r in dets),
            "deployments": [{**d, "first_cdr": str(d["first_cdr"]), "alert": str(d["alert"])}
                            for d in deps]}
        print(f"--min-history {text}: {len(args.nets)} network(s)")
        print_table(res["table"])
        print(f"per-SIM precision at alert time: {res['precision']:.4f} (class right "
              f"{res['class_precision']:.4f}; {alerted} SIMs alerted, {res['legit_alerted']} "
              "legit)\n")
    print(f"watch {out['watch_events_per_s']:,.0f} events/s over 15-minute drops; batch "
          f"(compute_features, 1 worker) {out['batch_events_per_s']:,.0f} events/s")
    if per_drop:
        print(f"per drop: median {out['per_drop_median_s']:.2f} s, p90 {out['per_drop_p90_s']:.2f} s, "
              f"max {out['per_drop_max_s']:.2f} s")
    return out


# -- 100k: state size, per-drop latency ---------------------------------------------------
def scale(args) -> dict:
    net, work = Path(args.nets[0]), Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    t = time.monotonic()
    paths = split_by_time(net / "cdrs.csv.gz", work / "all", seconds=900)
    split_s = time.monotonic() - t
    days = [paths[i:i + 96] for i in range(0, len(paths), 96)]
    w = _watcher(net, work, net_timezone(net, args.timezone), batch=96, catch_up="1d")
    w.window.merge = args.reduce == "merge"
    out = {"net": net.name, "reduce": args.reduce, "files": len(paths), "split_s": split_s,
           "days": [], "drops": []}

    def day(i, files):
        t0 = time.monotonic()
        taken = _drop(w, files)
        row = {"day": i + 1, "files": len(taken), "events": sum(d.events for d in taken),
               "seconds": time.monotonic() - t0, "window_events": w.window.events(),
               "catch_up_s": w.catch_up, "read_commit_s": sum(d.seconds for d in taken),
               "refresh_s": sum(d.refresh_seconds for d in taken),
               "state_mb": w.store.size() / 1e6, "rss_mb": _rss_mb(), **_rss_now_mb()}
        out["days"].append(row)
        print(f"day {row['day']:>2}: {row['events']:>10,} events in {row['seconds']:6.1f} s "
              f"({row['events'] / row['seconds']:,.0f}/s), window {row['window_events']:,} "
              f"events, state {row['state_mb']:,.0f} MB, peak RSS {row['rss_mb']:,.0f} MB (now "
              f"{row.get('rssanon_mb', 0):,.0f} MB anonymous, {row.get('rssfile_mb', 0):,.0f} MB "
              "of mapped files)",
              flush=True)
    try:
        for i in range(min(7, len(days))):
            day(i, days[i])
        if len(days) > 7:
            w.batch = 96
            a, b = args.latency_offset, args.latency_offset + args.latency_drops
            _drop(w, days[7][:a])
            w.batch = 1
            _pair_with_events_path(w)
            _pair_with_full_rescore(w)
            _pair_with_full_regroup(w)
            for p in days[7][a:b]:
                d = _drop(w, [p])[0]
                paired = w.timings.get("events_path_s", 0.0) + w.timings.get("full_score_s", 0.0) \
                    + w.timings.get("full_regroup_s", 0.0)
                w.timings["scores"] = w.timings["scores"] - w.timings.get("full_score_s", 0.0)
                w.timings["deployments, sites, reasons"] -= w.timings.get("full_regroup_s", 0.0)
                out["drops"].append({"name": d.name, "events": d.events, "touched": d.touched,
                                     "read_commit_s": d.seconds,
                                     "refresh_s": d.refresh_seconds - paired, **w.timings})
                print(f"drop {d.name}: {d.events:,} events, {d.touched:,} subscribers reduced "
                      f"again, {d.seconds:.2f} s read+commit, {d.refresh_seconds - paired:.2f} s refresh "
                      f"{w.timings}", flush=True)
            w.batch = 96
            day(7, days[7][b:])
            w.catch_up = parse_duration(args.catch_up, "--catch-up")
            for i in range(8, min(len(days), args.days)):
                day(i, days[i])
    finally:
        w.close()
    out["peak_rss_watch_mb"] = _rss_mb()
    _restart(net, work, args, out)
    lat = [d["read_commit_s"] + d["refresh_s"] for d in out["drops"]]
    if lat:
        out.update(latency_median_s=_q(lat, 0.5), latency_p90_s=_q(lat, 0.9),
                   latency_max_s=max(lat),
                   single_drop_rate=sum(d["events"] for d in out["drops"]) / sum(lat))
        print(f"per-drop latency ({len(lat)} drops of 15 min, --reduce {args.reduce}): median "
              f"{out['latency_median_s']:.2f} s, p90 {out['latency_p90_s']:.2f} s, max "
              f"{out['latency_max_s']:.2f} s; {out['single_drop_rate']:,.0f} events/s")
        _steps(out["drops"])
        gaps = [d for d in out["drops"] if "score_gap" in d]
        if gaps:
            out.update(rescored_median=_q([d["rescored"] for d in gaps], 0.5),
                       full_rescores=sum(d["rescored"] == d["rows"] for d in gaps),
                       flags_differ_max=max(d["flags_differ"] for d in gaps),
                       score_gap_max=max(d["score_gap"] for d in gaps))
            print(f"scores: a median of {out['rescored_median']:,.0f} SIMs rescored a drop "
                  f"({out['full_rescores']} full rescores in {len(gaps)} drops); against a full "
                  f"rescore after each drop: at most {out['flags_differ_max']} flag(s) differ, "
                  f"largest score gap {out['score_gap_max']:.4f}")
    pairs = [d for d in out["drops"] if "regroup_equal" in d]
    if pairs:
        out.update(regroup_equal=sum(d["regroup_equal"] for d in pairs),
                   regroup_drops=len(pairs),
                   reasons_differ_max=max(d["reasons_differ"] for d in pairs),
                   regroup_changed_median=_q([d["regroup_changed"] for d in pairs], 0.5),
                   full_regroup_median_s=_q([d["full_regroup_s"] for d in pairs], 0.5),
                   regroup_median_s=_q([d["regroup_s"] for d in pairs], 0.5))
        print(f"regroup: deployments and sites equal a full regroup's after "
              f"{out['regroup_equal']} of {len(pairs)} drops; a median of "
              f"{out['regroup_changed_median']:,.0f} flagged SIMs changed a drop; reasons of at "
              f"most {out['reasons_differ_max']} SIM(s) differ; median "
              f"{out['regroup_median_s']:.2f} s, a full regroup of the same drops (paired) "
              f"{out['full_regroup_median_s']:.2f} s")
    whole = [d for d in out["days"] if d["catch_up_s"] >= 86400]
    rates = [d["events"] / d["seconds"] for d in whole]
    if rates:
        out["batch96_rate"] = sum(d["events"] for d in whole) / sum(d["seconds"] for d in whole)
        print(f"--batch 96 (a day of drops, one refresh): {out['batch96_rate']:,.0f} events/s "
              f"(days: {min(rates):,.0f} to {max(rates):,.0f})")
        ingest = sum(d["read_commit_s"] for d in out["days"])
        out.update(ingest_rate=sum(d["events"] for d in out["days"]) / ingest,
                   refresh_median_s=_q([d["refresh_s"] for d in whole], 0.5))
        print(f"  reading and committing the files alone (every day): {out['ingest_rate']:,.0f} "
              f"events/s; the day's refresh (features, scores, deployments, alerts, outputs): "
              f"median {out['refresh_median_s']:.1f} s")
    caught = [d for d in out["days"] if d["catch_up_s"] < 86400]
    if caught:
        out["catch_up_rate"] = sum(d["events"] for d in caught) / sum(d["seconds"] for d in caught)
        print(f"backlog catch-up (--batch 96 --catch-up {args.catch_up}: a refresh per "
              f"{args.catch_up} of network time), days {caught[0]['day']}-{caught[-1]['day']}: "
              f"{out['catch_up_rate']:,.0f} events/s")
    if not args.no_batch:
        n, s = _batch_rate(net, net_timezone(net, args.timezone))
        out.update(batch_events=n, batch_s=s)
        print(f"batch compute_features (1 worker): {n:,} events in {s:.1f} s ({n / s:,.0f}/s)")
    out["peak_rss_mb"] = _rss_mb()
    return out


# -- the sustained rate: files landing at an offered rate --------------------------------
def _rate(text: str) -> float:
    """Events per second of ``250k``, ``1.5M`` or ``2000000``."""
    t = text.strip().lower()
    scale_ = {"k": 1e3, "m": 1e6}.get(t[-1:], 1.0)
    return float(t[:-1] if t[-1:] in "km" else t) * scale_


def _records(path: Path) -> int:
    with open(path, "rb") as f:
        return f.read().count(b"\n") - 1            # the header


def _base_state(net: Path, work: Path, days: list, timezone: str) -> Path:
    """``WORK/base``: the state after the first days' files (a day per refresh), made once
    and reused while it holds the same files."""
    base = work / "base"
    names = [p.name for d in days for p in d]
    stamp = base / "files.json"
    if stamp.exists() and json.loads(stamp.read_text()) == names:
        return base
    shutil.rmtree(base, ignore_errors=True)
    w = _watcher(net, base, timezone, batch=96, catch_up="1d")
    try:
        for i, files in enumerate(days):
            t = time.monotonic()
            taken = _drop(w, files)
            print(f"base day {i + 1}: {sum(d.events for d in taken):,} events in "
                  f"{time.monotonic() - t:.1f} s", flush=True)
    finally:
        w.close()
    stamp.write_text(json.dumps(names))
    return base


def _fit(cycles: list, what: str = "seconds") -> tuple:
    """(c, F) of a least-squares fit of a cycle's seconds (``what``: wall ``seconds`` or
    ``cpu_s``, the process's CPU time) to ``c * events + F``."""
    if len(cycles) < 3:
        return float("nan"), float("nan")
    x = np.array([c["events"] for c in cycles], float)
    y = np.array([c[what] for c in cycles], float)
    if np.ptp(x) == 0:
        return float("nan"), float("nan")
    c, f = np.polyfit(x, y, 1)
    return float(c), float(f)


#: a lag ratio from here to 1 is "at the edge": the lag would level off only after tens of
#: cycles, at ten times a cycle or more, and the fit over a few cycles cannot tell it from 1
EDGE = 0.9


def lag_trend(cycles: list) -> tuple:
    """(ratio, level, verdict) of the lag after each cycle that ended while files were still
    landing (those after the feed's last file take its tail: their lag falls to 0).

    A cycle takes what landed during the one before, so a watch whose cycle costs ``c`` a
    event plus ``F`` runs cycles of ``T[n+1] = R c T[n] + F`` at an offered rate ``R``: its
    lag levels off at ``F / (1 - R c)`` when ``R c < 1`` and grows without bound otherwise.
    ``ratio`` is the least-squares slope of each cycle's lag against the one before (``R c``
    seen from the lags themselves, with no model of the cost), ``level`` the lag it levels
    off at (``b / (1 - ratio)`` of the fit ``lag[n+1] = ratio lag[n] + b``; inf when it does
    not), the verdict "keeps up" under :data:`EDGE`, "at the edge" from there to 1, "falls
    behind" at 1 or more; (nan, nan, "too few
    cycles") with fewer than 4 such cycles (a longer feed: ``--offer-days``, a longer network).
    A slope of the lag over the cycles would read a lag still levelling off as growing."""
    fed = [c for c in cycles if not c.get("feed_over", False)]
    if len(fed) < 4:
        return float("nan"), float("nan"), "too few cycles"
    lags = np.array([c["lag_s"] for c in fed], float)
    ratio, b = np.polyfit(lags[:-1], lags[1:], 1)
    ratio, b = float(ratio), float(b)
    if ratio >= 1:
        return ratio, float("inf"), "falls behind"
    return ratio, b / (1 - ratio), "keeps up" if ratio < EDGE else "at the edge"


def _offered(w: Watcher, files: list, counts: list, rate: float, interval: float) -> dict:
    """Land ``files`` into the watch's drop folder at ``rate`` events/s of wall time (a
    feeder thread) while the watch polls; returns the cycles and lags."""
    import threading
    due = np.r_[0, np.cumsum(counts)[:-1]] / rate
    landed = []                                    # wall time each file landed
    t0 = time.monotonic()

    def feed():
        for path, at in zip(files, due):
            wait = t0 + at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            os.link(path, w.drop_dir / path.name)
            landed.append(time.monotonic())
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    cycles, taken, events_taken = [], 0, 0
    cum = np.cumsum(counts)
    while taken < len(files):
        t, cpu = time.monotonic(), time.process_time()
        drops = w.poll()
        if not drops:
            time.sleep(interval)
            continue
        now = time.monotonic()
        n = sum(d.records for d in drops)
        taken += len(drops)
        events_taken += n
        k = len(landed)
        cycles.append({"files": len(drops), "events": n, "seconds": now - t,
                       "cpu_s": time.process_time() - cpu,
                       "behind_events": int(cum[k - 1] - events_taken) if k else 0,
                       "lag_s": now - landed[taken] if taken < k else 0.0,
                       "feed_over": k == len(files)})
    feeder.join()
    end = time.monotonic()
    total = int(cum[-1])
    return {"offered": rate, "events": total, "files": len(files),
            "feed_s": landed[-1] - t0, "taken_s": end - t0,
            "rate": total / (end - t0), "lag_end_s": end - landed[-1],
            "lag_max_s": max(c["lag_s"] for c in cycles),
            "behind_max": max(c["behind_events"] for c in cycles),
            "cycles": cycles}


def sustained(args) -> dict:
    net, work = Path(args.nets[0]), Path(args.work)
    tz = net_timezone(net, args.timezone)
    split = work / "all"
    if not (split / "done").exists():
        shutil.rmtree(split, ignore_errors=True)
        split_by_time(net / "cdrs.csv.gz", split, seconds=900)
        (split / "done").write_text("")
    paths = sorted(split.glob("drop-*.csv"))
    days = [paths[i:i + 96] for i in range(0, len(paths), 96)]
    base = _base_state(net, work, days[:args.warm_days], tz)
    files = [p for d in days[args.warm_days:args.warm_days + (args.offer_days or len(days))]
             for p in d]
    counts = [_records(p) for p in files]
    out = {"net": net.name, "warm_days": args.warm_days, "events": sum(counts),
           "files": len(files), "runs": []}
    print(f"{len(files)} files, {sum(counts):,} events offered after a {args.warm_days}-day "
          "state", flush=True)
    for mode in args.modes:
        for text in args.rates:
            run = work / "run"
            shutil.rmtree(run, ignore_errors=True)
            shutil.copytree(base / "state", run / "state")
            t = time.monotonic()
            w = _watcher(net, run, tz, catch_up=mode)
            opened = time.monotonic() - t
            try:
                r = _offered(w, files, counts, _rate(text), args.interval)
            finally:
                w.close()
            c, f = _fit(r["cycles"])
            cc, cf = _fit(r["cycles"], "cpu_s")
            sizes = [x["events"] for x in r["cycles"]]
            ratio, level, verdict = lag_trend(r["cycles"])
            r.update(mode=mode, label=text, open_s=opened, c_us=c * 1e6, F_s=f,
                     lag_ratio=ratio, lag_level_s=level, verdict=verdict,
                     cpu_c_us=cc * 1e6, cpu_F_s=cf,
                     cpu_share=sum(x["cpu_s"] for x in r["cycles"]) /
                     sum(x["seconds"] for x in r["cycles"]),
                     cycles_n=len(sizes), cycle_events_median=_q(sizes, 0.5),
                     cycle_s_median=_q([x["seconds"] for x in r["cycles"]], 0.5),
                     uptime=os.getloadavg())
            out["runs"].append(r)
            print(f"--catch-up {mode}, offered {text}/s: {r['rate']:,.0f} events/s taken; lag "
                  f"at the end {r['lag_end_s']:.1f} s (max {r['lag_max_s']:.1f} s, "
                  f"{r['behind_max']:,} events behind); {len(sizes)} cycles, median "
                  f"{r['cycle_events_median']:,.0f} events in {r['cycle_s_median']:.2f} s; "
                  f"c {c * 1e6:.2f} us, F {f:.2f} s (CPU: c {cc * 1e6:.2f} us, F {cf:.2f} s; "
                  f"{r['cpu_share']:.0%} of a core); load {os.getloadavg()[0]:.1f}", flush=True)
            print("  lag after each cycle (s): " +
                  " ".join(f"{x['lag_s']:.1f}" for x in r["cycles"]) +
                  f"; each against the one before: ratio {ratio:.2f}, levels off at "
                  f"{level:.1f} s: {verdict}", flush=True)
    for mode in args.modes:
        runs = [r for r in out["runs"] if r["mode"] == mode]
        c, f = _fit([x for r in runs for x in r["cycles"]])
        cc, cf = _fit([x for r in runs for x in r["cycles"]], "cpu_s")
        out.setdefault("fit", {})[mode] = {"c_us": c * 1e6, "F_s": f, "cpu_c_us": cc * 1e6,
                                           "cpu_F_s": cf}
        print(f"\n--catch-up {mode}: every cycle of every rate: c = {c * 1e6:.3f} us an event, "
              f"F = {f:.2f} s (keeps up while R * c < 1: R < {1 / c:,.0f} events/s); in CPU "
              f"time of the process: c = {cc * 1e6:.3f} us, F = {cf:.2f} s (R < {1 / cc:,.0f} "
              "events/s on a core of its own)")
        print(f"{'offered/s':>10} {'lag ratio':>9} {'level s':>7} {'verdict':>14} {'lag end s':>9} "
              f"{'lag max s':>9} {'taken/s':>11} {'cycles':>6} {'median events':>13} "
              f"{'median s':>8} {'CPU c us':>8} {'CPU F s':>7}")
        for r in runs:
            print(f"{r['offered']:>10,.0f} {r['lag_ratio']:>9.2f} {r['lag_level_s']:>7.1f} "
                  f"{r['verdict']:>14} "
                  f"{r['lag_end_s']:>9.1f} {r['lag_max_s']:>9.1f} {r['rate']:>11,.0f} "
                  f"{r['cycles_n']:>6} {r['cycle_events_median']:>13,.0f} "
                  f"{r['cycle_s_median']:>8.2f} {r['cpu_c_us']:>8.2f} {r['cpu_F_s']:>7.2f}")
    if not args.no_batch:
        n, s = _batch_rate(net, tz)
        out.update(batch_events=n, batch_s=s)
        print(f"batch compute_features (1 worker), same run: {n:,} events in {s:.1f} s "
              f"({n / s:,.0f}/s)")
    out["peak_rss_mb"] = _rss_mb()
    return out


def _restart(net: Path, work: Path, args, out: dict) -> None:
    """A restart on the state of the run: the seconds to open it and make the window's
    table (the first refresh), and the partials the kernel made for it (events of whole
    days reduced: 0 when the stored partials of the whole days are read back)."""
    from simbox.watch import days, window
    made = {"calls": 0, "whole_day_events": 0}
    kernel = window.partials_from_rows

    def counted(parts, **kw):
        made["calls"] += 1
        return kernel(parts, **kw)
    day_partials = window.Window._day_partials

    def whole_day(self, d, subs=None):
        made["whole_day_events"] += sum(len(self.slices[h].rows) for h in self.slices
                                        if h // window.DAY_HOURS == d)
        return day_partials(self, d, subs)
    window.Window._day_partials = whole_day
    window.partials_from_rows = days.partials_from_rows = counted
    try:
        t = time.monotonic()
        w = _watcher(net, work, net_timezone(net, args.timezone), batch=96, catch_up="1d")
        out.update(restart_s=time.monotonic() - t, restart_kernel_calls=made["calls"],
                   restart_whole_day_events=made["whole_day_events"])
        w.close()
    finally:
        window.partials_from_rows = days.partials_from_rows = kernel
        window.Window._day_partials = day_partials
    print(f"restart: {out['restart_s']:.1f} s to open the state and make the window's table; "
          f"{out['restart_whole_day_events']:,} events of whole days reduced again "
          f"({out['restart_kernel_calls']} partial-kernel calls)", flush=True)


def _pair_with_events_path(w: Watcher) -> None:
    """After each refresh, time the path before partials on the same subscribers: their
    whole window reduced again (``events_path_s`` in the drop's timings; not used)."""
    from simbox.fastpath.aggregate import reduce_events, slot_columns
    from simbox.watch.window import _columns
    from simbox.features import feature_names
    from simbox.features.tables import cell_table
    win, features = w.window, w.window.features

    def paired(stats=None):
        res, todo = features(stats)
        names = feature_names()
        table, _, _ = cell_table(win.celldict.tokens, win.cells)
        t = time.monotonic()
        for _, (pieces,) in win._chunks(todo, [sorted(win.slices)]):
            reduce_events(_columns(pieces), columns=slot_columns(names), ncols=len(names),
                          timezone=win.tz, cells=table, workspace=win._workspace())
        win.timings["events_path_s"] = round(time.monotonic() - t, 4)
        return res, todo
    win.features = paired


def _pair_with_full_regroup(w: Watcher) -> None:
    """After each drop's deployments, sites and reasons, make them by a full regroup too
    (not used; ``full_regroup_s`` in the drop's timings) and compare: ``regroup_equal``
    (deployments and sites equal), ``reasons_differ`` (SIMs whose reasons differ: 0 at
    each full regroup; between, through the reference population only)."""
    from simbox.scan import group_tables
    regroup = w.regrouper

    class Paired:
        last = property(lambda self: regroup.last)

        def __call__(self, *args, full=True, **kw):
            t = time.monotonic()
            out = regroup(*args, full=full, **kw)
            took = time.monotonic() - t
            t = time.monotonic()
            want = group_tables(*args, **kw)
            same = all(a.reset_index(drop=True).equals(b.reset_index(drop=True))
                       for a, b in ((out[1], want[1]), (out[2], want[2])))
            same = same and out[0]["deployment_id"].equals(want[0]["deployment_id"])
            w.window.timings.update(
                full_regroup_s=round(time.monotonic() - t, 4), regroup_s=round(took, 4),
                regroup_equal=bool(same),
                reasons_differ=int((out[3].reindex(want[3].index).astype(str)
                                    != want[3].astype(str)).sum()))
            return out
    w.regrouper = Paired()


def _pair_with_full_rescore(w: Watcher) -> None:
    """After each drop's scores, score every SIM again (not used; ``full_score_s`` in the
    drop's timings) and compare: ``flags_differ``, ``score_gap`` (largest), ``rescored``."""
    score = w._score

    def paired(feats):
        preds = score(feats)
        t = time.monotonic()
        full = w.model.predict(feats, threshold=w.threshold)
        gap = np.abs(preds["score"].to_numpy(float) - full["score"].to_numpy(float))
        w.window.timings.update(
            full_score_s=round(time.monotonic() - t, 4), score_gap=float(np.nanmax(gap)),
            flags_differ=int((preds["flagged"].to_numpy() != full["flagged"].to_numpy()).sum()),
            rescored=w.rescorer.last["rescored"], rows=w.rescorer.last["rows"])
        return preds
    w._score = paired


STEPS = ("read_commit_s", "reduce", "day_partials", "post", "scores",
         "deployments, sites, reasons", "alerts", "outputs")


def _steps(drops: list) -> None:
    """The median seconds of each step of a drop, and its share of the median drop."""
    rows = [{**d, "reduce": d.get("reduce", 0.0) - d.get("day_partials", 0.0)} for d in drops]
    med = {k: _q([d.get(k, 0.0) for d in rows], 0.5) for k in STEPS}   # reduce: without the days
    total = sum(med.values())
    print(f"{'step (median of the drops)':<32} {'s':>7} {'share':>6}")
    for k, v in med.items():
        print(f"{k:<32} {v:7.2f} {v / total:6.0%}")
    print(f"{'reduced events (median)':<32} {_q([d['reduced_events'] for d in drops], 0.5):>9,.0f}")
    if any("events_path_s" in d for d in drops):
        print(f"{'the same drops, whole window reduced again (paired)':<32} "
              f"{_q([d['events_path_s'] for d in drops], 0.5):7.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", choices=("ttd", "scale", "sustained"))
    ap.add_argument("nets", nargs="+", help="folders of simbox simulate")
    ap.add_argument("--work", required=True, help="scratch folder (replaced)")
    ap.add_argument("--model", help="ttd: model folder (default: the shipped one)")
    ap.add_argument("--quiet-hours", type=float, default=0.0,
                    help="ttd: drop the first hours' files in 6-hour batches (at most the "
                         "watch's --min-history, 48 h: the alerts are the same, faster)")
    ap.add_argument("--timezone", default=None,
                    help="the simulated city's time zone (default: the network's world.json, "
                         "else Asia/Shanghai, the simulator's default)")
    ap.add_argument("--latency-drops", type=int, default=16,
                    help="scale: single 15-minute drops timed on day 8 (default %(default)s)")
    ap.add_argument("--latency-offset", type=int, default=40,
                    help="scale: the first timed drop's place in day 8 (default %(default)s: "
                         "10:00 local time in a network starting at local midnight)")
    ap.add_argument("--days", type=int, default=14, help="scale: days to replay (default 14)")
    ap.add_argument("--no-batch", action="store_true", help="scale: skip the batch run")
    ap.add_argument("--catch-up", default="1h", metavar="DURATION",
                    help="scale: the days after day 8 go in as a backlog with this bound "
                         "(--batch 96 --catch-up; default %(default)s, the watch's)")
    ap.add_argument("--reduce", choices=("merge", "events"), default="merge",
                    help="scale: a drop merges the partials of whole days (default) or reduces "
                         "the touched subscribers' whole window again (`events`: the path "
                         "before partials)")
    ap.add_argument("--warmup", nargs="+", default=["1d", "2d"], metavar="DURATION",
                    help="ttd: the figures as if no alert were raised before this much network "
                         "time (at least the run's --min-history, 1d; default 1d 2d)")
    ap.add_argument("--policy", choices=("default", "immediate"), default="default",
                    help="ttd: the alert policy (simbox/watch/policy.py): its default "
                         "settings, or every flag alerted and cleared at once (before "
                         "session 8)")
    ap.add_argument("--record", metavar="DIR",
                    help="ttd: write each network's evidence tables (every drop's) to "
                         "DIR/<net>.parquet, for bench_alert_policy.py")
    ap.add_argument("--no-early", action="store_true",
                    help="ttd: the watch without its early-warning layer (the model alone)")
    ap.add_argument("--reuse", metavar="JSON",
                    help="ttd: take the rates of this earlier run's JSON and its alerts in "
                         "--work; no replay")
    ap.add_argument("--rates", nargs="+", default=["250k", "500k", "1M", "1.5M", "2M"],
                    metavar="RATE", help="sustained: offered events per second of wall time "
                    "(default %(default)s)")
    ap.add_argument("--modes", nargs="+", default=["auto"], metavar="CATCH_UP",
                    help="sustained: the watch's --catch-up for each run (default auto; "
                         "a duration such as 1h: the default watch)")
    ap.add_argument("--warm-days", type=int, default=7,
                    help="sustained: days of files in the state before the feed (default "
                         "%(default)s: the window full)")
    ap.add_argument("--offer-days", type=int, default=None,
                    help="sustained: days of files offered after the state's (default: all "
                         "the rest)")
    ap.add_argument("--interval", type=float, default=0.2,
                    help="sustained: seconds between polls when nothing is ready (default "
                         "%(default)s)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    out = {"ttd": ttd, "scale": scale, "sustained": sustained}[args.run](args)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
