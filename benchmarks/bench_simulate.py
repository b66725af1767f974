"""Benchmark: simulate 100k subscribers x 7 days and write the CSV files.

    python benchmarks/bench_simulate.py [--subscribers 100000] [--days 7] [--out DIR]

Prints a table: stage, seconds, rows, rows/s, peak memory (RSS high-water mark).
"""
import argparse
import os
import resource
import sys
import tempfile
import time


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--scenario", default="mixed")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    from simbox.data import build_network, writers
    rows = []
    t = time.perf_counter()
    net = build_network(a.subscribers, a.days, a.scenario, a.seed)
    t_build = time.perf_counter() - t
    n = len(net.cdrs)
    rows.append(("generate (in memory)", t_build, n, peak_mb()))
    out = a.out or tempfile.mkdtemp(prefix="bench-sim-")
    os.makedirs(out, exist_ok=True)
    t = time.perf_counter()
    writers.WRITERS["csv"](net, out)
    writers.write_tables(net, out)
    t_write = time.perf_counter() - t
    rows.append(("write cdrs.csv.gz + tables", t_write, n, peak_mb()))
    rows.append(("total", t_build + t_write, n, peak_mb()))
    print(f"simulate {a.subscribers:,} subscribers x {a.days} days, scenario {a.scenario}, "
          f"seed {a.seed} (python {sys.version.split()[0]})")
    print(f"{'stage':<28}{'seconds':>9}{'rows':>13}{'rows/s':>13}{'peak MB':>10}")
    for name, s, r, m in rows:
        print(f"{name:<28}{s:>9.1f}{r:>13,}{r / s:>13,.0f}{m:>10,.0f}")


if __name__ == "__main__":
    main()
