#!/usr/bin/env python3
"""The history store's cost: schema 1 (one row per flag) beside schema 2 (one batch per
scan), in one process.

    OMP_NUM_THREADS=1 python benchmarks/bench_history.py                 # 100,000 SIMs, 100 scans
    python benchmarks/bench_history.py --sims 20000 --scans 20 --repeat 3 --dir /tmp/h

The flags are a card farm's: ``--sims`` SIMs, 15-digit keys, 13-digit MSISDNs, scores of
4 decimals, one big deployment and ``--small`` deployments of 10 SIMs.  Schema 1 is the
code at commit 43f546a (``tests/feedback/history_schema1.py``, or ``--old FILE``).

1. ``record_scan`` (process CPU: the main thread and its insert thread, ``wait=False``
   then ``finish``; and wall) of the first scan into a new store and of the tenth scan of
   the same SIMs, medians of ``--repeat`` stores;
2. a store of ``--scans`` scans of those SIMs (schema 1: the first scan recorded, the
   others copied in SQL; schema 2: that store migrated, timed; and a schema 2 store
   recorded scan by scan), a few verdicts (one of them dismissed), then each query's time
   (median of ``--query-repeat``; process CPU and wall), with the results checked equal
   to schema 1's, and the files' sizes (a migrated store keeps schema 1's pages, freed,
   until ``VACUUM``).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

from simbox.feedback.history import HistoryStore
from simbox.feedback.verdicts import Verdict

ROOT = Path(__file__).resolve().parents[1]


def schema1(path=None):
    """simbox.feedback.history of schema 1, as a module of its own."""
    code = Path(path or ROOT / "tests" / "feedback" / "history_schema1.py").read_text()
    mod = types.ModuleType("history_schema1")
    exec(compile(code, "history_schema1.py", "exec"), mod.__dict__)
    return mod


def farm(n: int, small: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keys = pd.array([f"46000{i:010d}" for i in np.sort(rng.choice(10**10, n, replace=False))],
                    dtype="str")
    dep = np.array(["D0000"] * n, dtype=object)
    dep[:small * 10] = [f"D{1 + i // 10:04d}" for i in range(small * 10)]
    return pd.DataFrame({"imsi": keys,
                         "msisdn": pd.array([f"86{k[5:]}" for k in keys], dtype="str"),
                         "class": pd.array(["cardfarm"] * n, dtype="str"),
                         "score": np.round(rng.random(n), 4),
                         "deployment_id": pd.array(dep, dtype="str")})


def result(flagged: pd.DataFrame, day: int):
    return types.SimpleNamespace(flagged=flagged.copy(), excluded=None, summary={
        "scanned_at": f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T00:00:00Z",
        "sims": len(flagged), "key_column": "imsi", "model": "default"})


def fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c, time.perf_counter() - w, out


def record(store, flagged, day):
    def go():
        store.record_scan(result(flagged, day), wait=False)
        store.finish()
    return timed(go)[:2]


def med(xs):
    return statistics.median(xs)


def copy_scans_v1(path: Path, scans: int) -> None:
    """Scans 2.. of a schema 1 store as copies of its first (rows as record_scan writes)."""
    import sqlite3
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    for day in range(1, scans):
        at = result(pd.DataFrame(), day).summary["scanned_at"]
        cur = db.execute("INSERT INTO scans (scanned_at, kind, key_column, model, sims, flagged, "
                         "excluded) SELECT ?, kind, key_column, model, sims, flagged, excluded "
                         "FROM scans WHERE scan_id = 1", (at,))
        db.execute("INSERT INTO flags SELECT ?, sim, msisdn, class, score, deployment_id, "
                   "'known', excluded_by, exclusion_reason FROM flags WHERE scan_id = 1 "
                   "ORDER BY sim", (cur.lastrowid,))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def checkpointed_size(path: Path) -> int:
    """The store's size once its write-ahead log is copied into it."""
    import sqlite3
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return os.path.getsize(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sims", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=100, help="deployments of 10 SIMs")
    ap.add_argument("--scans", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5, help="stores for the insert costs")
    ap.add_argument("--query-repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/bench_history")
    ap.add_argument("--old", help="schema 1's history.py (default: tests/feedback/history_schema1.py)")
    args = ap.parse_args(argv)
    old = schema1(args.old)
    kinds = {"schema 1": old.HistoryStore, "schema 2": HistoryStore}
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    flagged = farm(args.sims, args.small)
    print(f"{args.sims:,} flagged SIMs a scan ({args.small} deployments of 10, one of the "
          f"rest); medians of {args.repeat} stores (queries: of {args.query_repeat} runs); CPU: process (main thread and insert thread)\n")

    # 1. record_scan: the first scan into a new store, the tenth
    cost = {k: {"first": [], "tenth": []} for k in kinds}
    for _ in range(args.repeat):
        for name, cls in kinds.items():
            with cls(fresh(d / "insert.sqlite")) as store:
                cost[name]["first"].append(record(store, flagged, 0))
                for day in range(1, 9):
                    record(store, flagged, day)
                cost[name]["tenth"].append(record(store, flagged, 9))
    print("| record_scan | schema 1 CPU / wall ms | schema 2 CPU / wall ms | CPU ratio |")
    print("|---|---|---|---|")
    for which in ("first", "tenth"):
        a = [med([c[i] for c in cost["schema 1"][which]]) * 1000 for i in (0, 1)]
        b = [med([c[i] for c in cost["schema 2"][which]]) * 1000 for i in (0, 1)]
        print(f"| {which} scan | {a[0]:.0f} / {a[1]:.0f} | {b[0]:.0f} / {b[1]:.0f} | "
              f"{b[0] / a[0]:.2f} |")

    # 2. queries on a store of --scans scans
    p1, p2 = fresh(d / "one.sqlite"), fresh(d / "two.sqlite")
    with old.HistoryStore(p1) as store:
        store.record_scan(result(flagged, 0))
    copy_scans_v1(p1, args.scans)
    keys = flagged["imsi"].astype(str).tolist()
    msisdns = flagged["msisdn"].astype(str).tolist()
    verdicts = [Verdict(2, "imsi", keys[-1], "dismissed", "2026-03-04", "C0")] + \
        [Verdict(3 + i, "imsi", keys[-2 - i], "confirmed", "2026-03-04", "C1") for i in range(9)]
    with old.HistoryStore(p1) as store:
        store.import_verdicts(verdicts, source="v.csv")
    shutil.copyfile(p1, p2)
    mig_cpu, mig_wall, _ = timed(lambda: HistoryStore(p2).close())
    scores = pd.Series(flagged["score"].to_numpy(), index=keys)
    queries = {
        "`simbox history SIM` (sim_record)": lambda s: s.sim_record(keys[50_000 % len(keys)]),
        "`simbox history MSISDN`": lambda s: s.sim_record(msisdns[60_000 % len(keys)]),
        "verdicts: 3 SIMs": lambda s: s.import_verdicts(
            [Verdict(2 + i, "imsi", keys[i * 97], "confirmed", "2026-03-05", "C2")
             for i in range(3)], source="a.csv"),
        "verdicts: 3 MSISDNs": lambda s: s.import_verdicts(
            [Verdict(2 + i, "msisdn", msisdns[i * 89], "seized", "2026-03-05", "C3")
             for i in range(3)], source="b.csv"),
        "verdicts: a deployment of 10 SIMs": lambda s: s.import_verdicts(
            [Verdict(2, "deployment_id", "D0007", "confirmed", "2026-03-05", "C4")], source="c.csv"),
        "labels()": lambda s: s.labels(),
        "dismissed() of a scan's scores": lambda s: s.dismissed(scores),
        "summary()": lambda s: {k: v for k, v in s.summary().items() if k != "store"},
    }
    p3 = fresh(d / "three.sqlite")
    with HistoryStore(p3) as store:
        for day in range(args.scans):
            store.record_scan(result(flagged, day), wait=(day % 10 != 0))
        store.import_verdicts(verdicts, source="v.csv")
    stores = {"schema 1": (old.HistoryStore, p1), "schema 2, migrated": (HistoryStore, p2),
              "schema 2, scan by scan": (HistoryStore, p3)}
    times = {k: {} for k in stores}
    answers = {k: {} for k in stores}
    for name, (cls, path) in stores.items():
        with cls(path) as store:
            for q, fn in queries.items():
                runs = [timed(lambda: fn(store)) for _ in range(args.query_repeat)]
                times[name][q] = (med([r[0] for r in runs]), med([r[1] for r in runs]))
                answers[name][q] = runs[0][2]
            times[name]["record_scan, scan {}".format(args.scans + 1)] = record(
                store, flagged, args.scans)
    for name in list(stores)[1:]:
        for q in queries:
            a, b = answers["schema 1"][q], answers[name][q]
            same = a.equals(b) if isinstance(a, pd.DataFrame) else \
                all(x.equals(y) if isinstance(x, pd.DataFrame) else x == y
                    for x, y in zip(a.values(), b.values())) if isinstance(a, dict) else a == b
            if not same:
                print(f"error: {q}: {name} answers otherwise than schema 1", file=sys.stderr)
                return 1
    print(f"\nA store of {args.scans} scans of the same SIMs and 10 verdicts (schema 1: its "
          f"first scan recorded, the others copied in SQL; migrated to schema 2 in "
          f"{mig_cpu:.1f} s CPU, {mig_wall:.1f} s wall; and recorded scan by scan in "
          "schema 2); every answer equal:\n")
    print("| query, CPU / wall s | " + " | ".join(stores) + " |")
    print("|---|---|---|---|")
    for q in times["schema 1"]:
        print(f"| {q} | " + " | ".join(f"{times[k][q][0]:.3f} / {times[k][q][1]:.3f}"
                                       for k in stores) + " |")
    print("| file size, MB | " + " | ".join(f"{checkpointed_size(p) / 1e6:.0f}"
                                            for _, p in stores.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
