#!/usr/bin/env python3
"""A farm the model flags (not the device rule): modem pools, for ``bench_scan_cost.py``.

    python benchmarks/make_pool_farm.py --out /tmp/pools/pools.csv
    python benchmarks/bench_scan_cost.py --input /tmp/pools/pools.csv --threshold 0.03 \\
        --cells data/sample/cells.csv --tac data/sample/tac.csv

``--pools`` modem pools (default 40) of ``--sims`` SIMs each (2,500), each pool on 16
IMEIs (a SIM on the modem ``sim % 16``) at the first cell of its own site of the cell
table, sending ``--rows`` SMS in all (3 M) at random times over a week to random numbers;
the pools' numbers (IMSI and MSISDN) are consecutive.  Beside them ``--phones`` ordinary
phones (20,000; calls, SMS and data on random cells, 600,000 records).  At the shipped
model's threshold no pool SIM is flagged (they score about 0.05-0.24); at
``--threshold 0.03`` nearly all are, in one deployment over the pools' sites: the scan's
grouping and reasons then work on 100,000 SIMs the model flagged (session 19: 2.4x the
cost of ``simbox features``; see docs/scan.md).  Seeded: the same file every time.
"""
from __future__ import annotations

import argparse
import csv
import os

import numpy as np

HEADER = "record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
START = 1772323200                      # 2026-03-01T00:00:00Z


def main(argv=None) -> None:
    from simbox.data import __file__ as data_init    # the shipped sample network's cells
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--cells", default=os.path.join(os.path.dirname(data_init), "sample",
                                                    "cells.csv"))
    ap.add_argument("--pools", type=int, default=40)
    ap.add_argument("--sims", type=int, default=2_500)
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--phones", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    sites: dict[str, list[str]] = {}
    with open(a.cells, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            sites.setdefault(r["site_id"], []).append(r["cell_id"])
    cells = [c for s in sorted(sites) for c in sites[s]]
    site_ids = sorted(sites)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(HEADER)
        n = a.rows
        pool = rng.integers(0, a.pools, n)
        sim = pool * a.sims + rng.integers(0, a.sims, n)
        imei = 35100000000000 + pool * 16 + sim % 16
        pool_cell = np.array([sites[site_ids[p % len(site_ids)]][0] for p in range(a.pools)])
        t = START + rng.integers(0, 7 * 86400, n)
        o = np.argsort(t, kind="stable")
        times = np.datetime_as_string(t[o].astype("datetime64[s]"))
        other = 8613000000000 + rng.integers(0, 10**9, n)
        f.writelines(f"SMS_MO,{x}Z,{460010000000000 + s},{d},{8615000000000 + s},{p},0,{c}\n"
                     for x, s, d, p, c in zip(times, sim[o], imei[o], other, pool_cell[pool[o]]))
        m = a.phones * 30
        phone = rng.integers(0, a.phones, m)
        kind = np.array(["MOC", "MTC", "SMS_MO", "SMS_MT", "DATA"])[rng.integers(0, 5, m)]
        t = np.datetime_as_string((START + rng.integers(0, 7 * 86400, m)).astype("datetime64[s]"))
        cell = np.array(cells)[rng.integers(0, len(cells), m)]
        dur = np.where(np.isin(kind, ["MOC", "MTC"]), rng.integers(5, 600, m), 0)
        other = 8613000000000 + rng.integers(0, 10**9, m)
        f.writelines(f"{k},{x}Z,{460020000000000 + p},{35200000000000 + p},{8616000000000 + p},"
                     f"{q},{d},{c}\n" for k, x, p, q, d, c in zip(kind, t, phone, other, dur, cell))
    print(f"{a.out}: {a.rows + m:,} records, {a.pools} pools of {a.sims:,} SIMs, "
          f"{a.phones:,} phones")


if __name__ == "__main__":
    main()
