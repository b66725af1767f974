#!/usr/bin/env python3
"""Write a large contract-shaped CDR CSV (plain and gzip) for benchmarks, fast (numpy + pyarrow).

A network of ``--subscribers`` SIMs over ``--days`` days, about 16 events per SIM
and day: each SIM has a home set of cells and one device (a few change devices,
some IMEIs empty), a mix of MOC/MTC/SMS/DATA with diurnal timing; 1 % of the SIMs
sit in SIM boxes (8 consecutive IMSIs per device, many short international MOC).
Rows are in time order, written one day at a time (memory stays small), with no
exact duplicate rows.  This is benchmark data, not the labelled simulator
(``simbox.data``).

    python benchmarks/gen_cdrs.py --rows 10_000_000 --out bench-out/cdrs.csv [--gzip]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

EVENTS_PER_DAY = 16
T0 = 1772323200          # 2026-03-01T00:00:00Z
TYPES = np.array(["MOC", "MTC", "SMS_MO", "SMS_MT", "DATA"])
MIX = np.array([0.30, 0.28, 0.10, 0.14, 0.18])
HEADER = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party", "duration_s", "cell_id"]


class Network:
    def __init__(self, subscribers: int, ncells: int, seed: int):
        rng = np.random.default_rng(seed)
        self.n = subscribers
        self.imsi = 460001000000000 + np.arange(subscribers, dtype=np.int64)
        self.msisdn = 8613800000000 + rng.permutation(subscribers).astype(np.int64)
        self.box = rng.random(subscribers) < 0.01
        # devices: own IMEI; SIM-box SIMs share one IMEI per 8 consecutive IMSIs
        self.imei = 35693803000000 + np.arange(subscribers, dtype=np.int64) * 7
        idx = np.flatnonzero(self.box)
        self.imei[idx] = 86753090000000 + (idx // 8)
        self.imei2 = self.imei + 3                               # second device for some
        self.has2 = rng.random(subscribers) < 0.05
        # home cells: 6 per SIM around a home cell
        self.ncells = ncells
        home = rng.integers(0, ncells, subscribers)
        self.cells = (home[:, None] + rng.integers(0, 12, (subscribers, 6))) % ncells
        self.rate = np.where(self.box, EVENTS_PER_DAY * 3, rng.gamma(2.0, EVENTS_PER_DAY / 2, subscribers))
        self.rate *= EVENTS_PER_DAY / self.rate.mean()

    def day(self, d: int, rng) -> pa.Table:
        counts = rng.poisson(self.rate)
        sub = np.repeat(np.arange(self.n), counts)
        m = len(sub)
        box = self.box[sub]
        # diurnal time of day: mixture peaking in the evening; SIM boxes around the clock
        tod = np.where(box, rng.integers(0, 86400, m),
                       (rng.normal(15 * 3600, 4.5 * 3600, m) % 86400).astype(np.int64))
        t = T0 + d * 86400 + tod
        # no two events of one SIM in the same second: no exact duplicate rows (the
        # DuckDB/polars anchors keep duplicates, simbox drops them)
        o = np.lexsort((t, sub))
        s_sub, s_t = sub[o], t[o]
        while True:
            clash = np.flatnonzero((s_sub[1:] == s_sub[:-1]) & (s_t[1:] <= s_t[:-1])) + 1
            if not len(clash):
                break
            s_t[clash] = s_t[clash - 1] + 1
        t[o] = s_t
        rtype = np.where(box, np.where(rng.random(m) < 0.9, 0, 1),
                         rng.choice(5, m, p=MIX)).astype(np.int8)
        dur = np.where(rtype <= 1, np.where(rng.random(m) < 0.2, 0, rng.gamma(1.5, 60, m).astype(np.int64)), 0)
        dur = np.where(box & (rtype == 0), rng.integers(0, 40, m), dur)
        contacts = (self.msisdn[sub] * 31 + rng.integers(0, 40, m)) % 100000000
        other = 8613900000000 + np.where(rng.random(m) < 0.7, contacts, rng.integers(0, 10 ** 8, m))
        intl = box | (rng.random(m) < 0.03)
        imei = np.where(self.has2[sub] & (rng.random(m) < 0.3), self.imei2[sub], self.imei[sub])
        cell = self.cells[sub, rng.integers(0, 6, m)]
        o = np.argsort(t, kind="stable")
        sub, t, rtype, dur, other, intl, imei, cell, box = (a[o] for a in (sub, t, rtype, dur, other, intl, imei, cell, box))
        other_s = pc.cast(pa.array(other), pa.string())
        intl_s = pc.cast(pa.array(440000000000 + other % 10 ** 10), pa.string())   # UK numbers
        other_s = pc.if_else(pa.array(intl & (rtype <= 1)),
                             pc.binary_join_element_wise("00", intl_s, ""), other_s)
        sms_mt_short = (rtype == 3) & (rng.random(m) < 0.3)
        other_s = pc.if_else(pa.array(sms_mt_short), pc.cast(pa.array(10000 + other % 90000), pa.string()), other_s)
        other_s = pc.if_else(pa.array(rtype == 4), pa.scalar("", pa.string()), other_s)
        imei_s = pc.if_else(pa.array(rng.random(m) < 0.02), pa.scalar("", pa.string()),
                            pc.cast(pa.array(imei), pa.string()))
        lac = pc.cast(pa.array(1000 + cell // 100), pa.string())
        ci = pc.cast(pa.array(cell), pa.string())
        cell_s = pc.binary_join_element_wise("46000", lac, ci, "-")
        ts = pc.strftime(pa.array(t, pa.timestamp("s", "UTC")), format="%Y-%m-%dT%H:%M:%SZ")
        return pa.table({
            "record_type": pa.array(TYPES[rtype]),
            "start_time": ts,
            "imsi": pc.cast(pa.array(self.imsi[sub]), pa.string()),
            "imei": imei_s,
            "msisdn": pc.cast(pa.array(self.msisdn[sub]), pa.string()),
            "other_party": other_s,
            "duration_s": pa.array(dur.astype(np.int64)),
            "cell_id": cell_s,
        })

    def cells_table(self, path: str):
        rng = np.random.default_rng(1)
        c = np.arange(self.ncells)
        site = c // 3
        lat = 31.0 + (site % 100) * 0.01 + rng.normal(0, 0.001, len(c))
        lon = 121.0 + (site // 100) * 0.01 + rng.normal(0, 0.001, len(c))
        with open(path, "w") as fh:
            fh.write("cell_id,site_id,lat,lon,azimuth\n")
            for i in c:
                fh.write(f"46000-{1000 + i // 100}-{i},S{site[i]:05d},{lat[i]:.6f},{lon[i]:.6f},{(i % 3) * 120}\n")


def generate(rows: int, out: str, days: int = 7, seed: int = 0, gzip: bool = False) -> dict:
    subs = max(100, int(round(rows / (days * EVENTS_PER_DAY))))
    net = Network(subs, max(30, subs // 20), seed)
    rng = np.random.default_rng(seed + 1)
    os.makedirs(os.path.dirname(os.path.abspath(out)) or ".", exist_ok=True)
    n = 0
    opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with pa.OSFile(out, "wb") as fh:
        fh.write((",".join(HEADER) + "\n").encode())
        writer = None
        for d in range(days):
            tab = net.day(d, rng)
            if writer is None:
                writer = pacsv.CSVWriter(fh, tab.schema, write_options=opts)
            writer.write_table(tab)
            n += tab.num_rows
        writer.close()
    net.cells_table(os.path.join(os.path.dirname(os.path.abspath(out)), "cells.csv"))
    info = {"rows": n, "subscribers": subs, "days": days, "csv": out}
    if gzip:
        import subprocess
        with open(out + ".gz", "wb") as fh:
            subprocess.run(["gzip", "-3", "-c", out], stdout=fh, check=True)
        info["gz"] = out + ".gz"
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gzip", action="store_true", help="also write OUT.gz (gzip -3)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    t = time.time()
    info = generate(a.rows, a.out, a.days, a.seed, a.gzip)
    print(f"{info['rows']:,} rows, {info['subscribers']:,} SIMs x {info['days']} days -> {a.out}"
          f"{' (+ .gz)' if a.gzip else ''} in {time.time() - t:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
