#!/usr/bin/env python3
"""simbox features against DuckDB and polars computing the same features, in one run.

Builds (or reuses) a CDR file of ``--rows`` rows (plain and gzip), then times, each
as a separate process under ``/usr/bin/time -v`` (wall seconds, peak RSS):

- the read floors: ``zcat | wc -l``, ``cat | wc -l`` and isal's inflater;
- ``simbox features`` with 1 worker (pinned to one core with taskset) and 2 workers;
- the DuckDB and polars anchors (``--anchors DIR``: a folder of features_duckdb.py,
  features_polars.py and compare.py kept outside this repository; they need
  ``pip install duckdb polars``) with 1 thread (pinned) and all threads;

checks that simbox's 18 anchor features equal DuckDB's (the anchors' compare.py,
integers equal, floats within 1e-9) and prints one table with the ratios to DuckDB.
Absolute times drift with machine load: compare ratios taken in one run.

    pip install duckdb polars          # for the anchors' rows only
    python benchmarks/bench_features.py --rows 10_000_000 --work bench-out --anchors DIR
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ANCHOR_FEATURES = None   # filled from the registry in main()



def timed(cmd: list[str] | str, *, pin: bool = False, env=None) -> tuple[float, float, str]:
    """Run cmd under /usr/bin/time -v: (wall s, peak RSS MiB, stderr tail)."""
    shell = isinstance(cmd, str)
    argv = ["/usr/bin/time", "-v"] + (["sh", "-c", cmd] if shell else list(cmd))
    if pin and shutil.which("taskset"):
        argv = ["taskset", "-c", "0"] + argv
    t = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.monotonic() - t
    err = p.stderr
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({p.returncode}):\n{err[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    return wall, rss, err


def count_rows(path: str) -> int:
    with open(path, "rb") as fh:
        return sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 24), b"")) - 1


def build(rows: int, work: str) -> tuple[str, str]:
    csv = os.path.join(work, f"cdrs_{rows}.csv")
    if not (os.path.exists(csv) and os.path.exists(csv + ".gz")):
        sys.path.insert(0, HERE)
        from gen_cdrs import generate
        print(f"building {rows:,} rows -> {csv} (+ .gz) ...", file=sys.stderr)
        generate(rows, csv, gzip=True)
    return csv, csv + ".gz"


def warm(*paths: str) -> None:
    """Read an input once, so the case run next finds it in the page cache."""
    for path in paths:
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass


def agree(simbox_out: str, duck_out: str, anchors: str, work: str) -> str:
    import pandas as pd
    ref = pd.read_parquet(duck_out)
    mine = pd.read_parquet(simbox_out)[list(ref.columns)]
    p = os.path.join(work, "simbox_anchor_cols.parquet")
    mine.to_parquet(p)
    r = subprocess.run([sys.executable, os.path.join(anchors, "compare.py"), duck_out, p],
                       capture_output=True, text=True)
    return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()[-300:]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    ap.add_argument("--work", default=os.path.join(REPO, "bench-out"), help="folder for data and outputs")
    ap.add_argument("--anchors", default=None,
                    help="folder of features_duckdb.py / features_polars.py / compare.py "
                         "(without it the DuckDB/polars rows are skipped)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds: every case runs once per round; the table shows medians")
    ap.add_argument("--only", default="", help="comma list: floor,simbox,duckdb,polars (default all)")
    ap.add_argument("--inputs", default="gz,plain", help="comma list: gz,plain (default both)")
    ap.add_argument("--memory-limit", default="1GB", help="simbox --memory-limit")
    a = ap.parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    have_anchors = a.anchors is not None and os.path.exists(os.path.join(a.anchors, "features_duckdb.py"))
    if not have_anchors:
        print(f"no anchors folder{f' at {a.anchors}' if a.anchors else ''} (give --anchors DIR; "
              "pip install duckdb polars): DuckDB/polars rows skipped", file=sys.stderr)
    only = set(a.only.split(",")) - {""} or {"floor", "simbox", "duckdb", "polars"}
    csv, gz = build(a.rows, a.work)
    rows = count_rows(csv)
    py = sys.executable
    simbox = [py, "-m", "simbox", "features"]
    env1 = dict(os.environ, POLARS_MAX_THREADS="1", SIMBOX_NO_PROGRESS="1")
    out = lambda name: os.path.join(a.work, name)  # noqa: E731
    kinds = set(a.inputs.split(",")) - {""}
    if not kinds <= {"gz", "plain"}:
        ap.error(f"--inputs {a.inputs}: give gz, plain or gz,plain")
    cases = []   # (label, input kind, threads, cmd, pin, env, output)
    if "floor" in only:
        cases += [c for c in [
            ("floor: zcat, wc -l", "gz", 1, f"zcat {gz} | wc -l", True, None, None),
            ("floor: isal igzip -d, wc -l", "gz", 1, f"{py} -m isal.igzip -d -c {gz} | wc -l", True, None, None),
            ("floor: cat, wc -l", "plain", 1, f"cat {csv} | wc -l", True, None, None)]
            if c[1] in kinds]
    for kind, path in (("gz", gz), ("plain", csv)):
        if kind not in kinds:
            continue
        if "simbox" in only:
            for w in (1, 2):
                o = out(f"f_simbox_{kind}_{w}.parquet")
                cases.append((f"simbox features, {w} worker{'s' * (w > 1)}", kind, w,
                              simbox + [path, "--workers", str(w), "--memory-limit", a.memory_limit,
                                        "--out", o], w == 1, env1, o))
        if have_anchors and "duckdb" in only:
            for t in (1, 2):
                o = out(f"f_duckdb_{kind}_{t}.parquet")
                cases.append((f"DuckDB, {t} thread{'s' * (t > 1)}", kind, t,
                              [py, os.path.join(a.anchors, "features_duckdb.py"), path, "--out", o,
                               "--threads", str(t)], t == 1, None, o))
        if have_anchors and "polars" in only:
            for t in (1, 2):
                o = out(f"f_polars_{kind}_{t}.parquet")
                cases.append((f"polars, {t} thread{'s' * (t > 1)}", kind, t,
                              [py, os.path.join(a.anchors, "features_polars.py"), path, "--out", o,
                               "--threads", str(t)], t == 1, None, o))
    # rounds: every case once per round, so a drift of the machine's speed (a shared,
    # noisy VM) hits all engines alike instead of the cases run in its bad minutes
    runs = {(label, kind): ([], []) for label, kind, *_ in cases}
    for rnd in range(a.repeat):
        for label, kind, threads, cmd, pin, env, o in cases:
            warm(gz if kind == "gz" else csv)     # this VM drops cached files now and then
            w, r, _ = timed(cmd, pin=pin, env=env)
            runs[(label, kind)][0].append(w)
            runs[(label, kind)][1].append(r)
            print(f"  round {rnd + 1}: {label:<28} {kind:<5} {w:7.2f} s  {r:7.0f} MiB",
                  file=sys.stderr)
    results = {}
    for label, kind, threads, cmd, pin, env, o in cases:
        walls, rsss = runs[(label, kind)]
        results[(label, kind)] = (statistics.median(walls), max(rsss), threads, o)
    load = os.getloadavg()
    print(f"\n{rows:,} rows; {os.path.getsize(csv) / 2**20:,.0f} MiB plain, "
          f"{os.path.getsize(gz) / 2**20:,.0f} MiB gzip; {os.cpu_count()} cores; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (machine shared: noisy)")
    print(f"'1 thread' runs are pinned to one core (taskset -c 0); medians of {a.repeat} run(s), "
          "each round running every case once\n")
    print(f"| what | input | wall s | M rows/s | peak MiB | DuckDB (same input, threads) / this |")
    print("|---|---|---|---|---|---|")
    for (label, kind), (wall, rss, threads, o) in results.items():
        duck = results.get((f"DuckDB, {threads} thread{'s' * (threads > 1)}", kind))
        ratio = f"{duck[0] / wall:.2f}x" if duck and not label.startswith("DuckDB") and not label.startswith("floor") else ""
        print(f"| {label} | {kind} | {wall:.2f} | {rows / wall / 1e6:.2f} | {rss:,.0f} | {ratio} |")
    if have_anchors:
        print()
        for (label, kind), (_, _, threads, o) in results.items():
            if label.startswith("simbox"):
                d = results.get((f"DuckDB, 1 thread", kind))
                if d:
                    print(f"{label} ({kind}) vs DuckDB, 18 anchor features: {agree(o, d[3], a.anchors, a.work)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
