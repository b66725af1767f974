"""Peak memory of ``simbox features`` on inputs with very long lines, fields and cell names.

Issue 14.2: the 1 MiB record limit is enforced and nothing holds a long value more
than a bounded number of times.  Each case is a canonical CDR CSV written here; each
run is a fresh ``simbox features`` process whose peak resident memory (``ru_maxrss``)
is reported with what was kept and rejected::

    python benchmarks/bench_long_fields.py [--scale 1.0] [--dir /tmp/bench-long] [--memory-limit 64MB]

``--scale 0.1`` makes every case ten times smaller (the test suite's size).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time

HEADER = b"record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"


def row(i: int, cell: str | bytes) -> bytes:
    cell = cell.encode() if isinstance(cell, str) else cell
    return (f"MOC,2026-03-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z,"
            f"4600000{i % 5000:08d},35678901234567,86138{i % 5000:08d},8613912345678,"
            f"{i % 300},").encode() + cell + b"\n"


def _good(f, n, start=0, cells=1500):
    f.write(b"".join(row(start + i, f"46000-{(start + i) % cells}-1") for i in range(n)))


def case_long_line(path, scale):
    """Good rows, then a 200 MB line without a newline (the file's end)."""
    with open(path, "wb") as f:
        f.write(HEADER)
        _good(f, 5000)
        chunk = b"9" * (1 << 20)
        for _ in range(int(200 * scale)):
            f.write(chunk)
    return {"kept": 5000, "rejected": {"record too long": 1}}


def case_long_field(path, scale):
    """Good rows, one row whose cell_id is 200 MiB, good rows."""
    with open(path, "wb") as f:
        f.write(HEADER)
        _good(f, 2500)
        f.write(row(2500, b"")[:-1])
        chunk = b"c" * (1 << 20)
        for _ in range(int(200 * scale)):
            f.write(chunk)
        f.write(b"\n")
        _good(f, 2499, start=2501)
    return {"kept": 4999, "rejected": {"record too long": 1}}


def case_cell_3mib(path, scale):
    """5,000 rows over ~1,500 cells, one of them named by 3 MiB (over the limit: rejected)
    and one by 1,000,000 bytes (under it: kept, and ranked among the others)."""
    with open(path, "wb") as f:
        f.write(HEADER)
        _good(f, 4998)
        f.write(row(4998, b"x" * int(3 * (1 << 20) * max(scale, 0.34))))
        f.write(row(4999, b"y" * 1_000_000))
    return {"kept": 4999, "rejected": {"record too long": 1}}


def case_many_cells(path, scale):
    """10^6 rows, each cell distinct and 100 bytes long."""
    n = int(1_000_000 * scale)
    with open(path, "wb") as f:
        f.write(HEADER)
        for s in range(0, n, 100_000):
            f.write(b"".join(row(i, f"46000-{i:010d}-" + "z" * 83) for i in range(s, min(n, s + 100_000))))
    return {"kept": n, "rejected": {}}


CASES = {"200 MB line without newline": case_long_line, "200 MiB cell_id field": case_long_field,
         "3 MiB cell_id among 1,500 cells": case_cell_3mib,
         "10^6 distinct 100-byte cell names": case_many_cells}

PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def run(path, out, memory_limit):
    """(exit status, peak RSS in MiB, seconds, summary dict) of ``simbox features`` on path."""
    cmd = [sys.executable, "-c", PEAK, sys.executable, "-m", "simbox", "features", str(path),
           "--out", str(out), "--memory-limit", memory_limit, "--json"]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t
    lines = r.stdout.strip().splitlines()
    code, kib = map(int, lines[-1].split())
    summary = json.loads(lines[0]) if len(lines) > 1 and lines[0].startswith("{") else {}
    return code, kib / 1024, secs, summary, r.stderr.strip()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--dir", default="/tmp/bench-long")
    ap.add_argument("--memory-limit", default="64MB")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args(argv)
    d = pathlib.Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    print(f"| case (scale {args.scale}) | file MB | exit | peak RSS MiB | seconds | accepted | rejected |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, make in CASES.items():
        path = d / "case.csv"
        make(path, args.scale)
        size = path.stat().st_size / 1e6
        code, peak, secs, s, err = run(path, d / "out.parquet", args.memory_limit)
        print(f"| {name} | {size:,.0f} | {code} | {peak:,.0f} | {secs:.1f} | "
              f"{s.get('accepted', '-'):,} | {s.get('rejected_by_reason', err[:60])} |", flush=True)
        if not args.keep:
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
