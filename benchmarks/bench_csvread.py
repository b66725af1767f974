"""Throughput of the CDR CSV reader, plain and gzip, against pyarrow and the cat/zcat floor.

Generates a contract-shaped CDR CSV (15-digit IMSIs, IMEIs, MSISDNs, other
parties with leading zeros, MCCMNC-LAC-CI cells, ISO times), then times one
full read of each file single-threaded and prints a table::

    python benchmarks/bench_csvread.py --rows 3000000 [--dir /tmp/bench] [--repeat 3]
"""
from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import time

import numpy as np


def generate(path: str, rows: int, seed: int = 1) -> None:
    """Write a realistic canonical CDR CSV of ``rows`` rows (vectorised, ~1 s per million)."""
    rng = np.random.default_rng(seed)
    n_sims = max(1000, rows // 40)
    imsi = 460001000000000 + rng.choice(10**8, n_sims, replace=False)
    imei = 35000000000000 + rng.integers(0, 10**12, n_sims) * 10
    msisdn = 8613000000000 + rng.integers(0, 10**9, n_sims)
    n_cells = max(100, rows // 2000)
    cells = np.array([f"46000-{rng.integers(1000, 9999)}-{rng.integers(10000, 99999)}"
                      for _ in range(n_cells)], dtype=object)
    types = np.array(["MOC", "MTC", "SMS_MO", "SMS_MT", "DATA"], dtype=object)
    t0 = 1772323200  # 2026-03-01
    with open(path, "w", newline="") as f:
        f.write("record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n")
        block = 200_000
        for start in range(0, rows, block):
            n = min(block, rows - start)
            who = rng.integers(0, n_sims, n)
            rt = rng.choice(5, n, p=[0.35, 0.3, 0.12, 0.13, 0.1])
            t = np.sort(t0 + rng.integers(0, 7 * 86400, n))
            ts = np.datetime_as_string(t.astype("datetime64[s]"), unit="s")
            other = rng.integers(10**9, 10**12, n)
            intl = rng.random(n) < 0.2
            dur = np.where(rt < 2, rng.integers(0, 600, n), np.where(rt == 4, rng.integers(0, 3600, n), 0))
            has_imei = rng.random(n) < 0.9
            lines = []
            for i in range(n):
                r = rt[i]
                op = "" if r == 4 else (("00" if intl[i] else "86") + str(other[i]))
                lines.append(f"{types[r]},{ts[i]}Z,{imsi[who[i]]},"
                             f"{imei[who[i]] if has_imei[i] else ''},{msisdn[who[i]]},{op},"
                             f"{dur[i]},{cells[(who[i] * 7 + i // 50) % n_cells]}\n")
            f.write("".join(lines))


def timed(fn, repeat):
    """(best wall seconds, best CPU seconds of this process and its children, result)."""
    best_wall = best_cpu = float("inf")
    out = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), os.times()
        out = fn()
        t1, c1 = time.perf_counter(), os.times()
        cpu = (c1.user + c1.system + c1.children_user + c1.children_system
               - c0.user - c0.system - c0.children_user - c0.children_system)
        best_wall, best_cpu = min(best_wall, t1 - t0), min(best_cpu, cpu)
    return best_wall, best_cpu, out


def read_simbox(path):
    from simbox.fastpath.csvread import read_csv_events
    n = 0
    for b in read_csv_events(path):
        n += len(b)
    return n


def read_pyarrow(path):
    import pyarrow as pa
    import pyarrow.csv as pc
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    t = pc.read_csv(path, read_options=pc.ReadOptions(use_threads=False, block_size=16 << 20),
                    convert_options=pc.ConvertOptions(column_types={
                        "imsi": pa.string(), "imei": pa.string(), "msisdn": pa.string(),
                        "other_party": pa.string(), "cell_id": pa.dictionary(pa.int32(), pa.string())}))
    return t.num_rows


def inflate_only(path):
    """Inflate with ISA-L in this process, discarding the text: the gzip floor."""
    from isal import igzip_lib
    d = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
    with open(path, "rb") as f:
        while True:
            data = f.read(4 << 20)
            if not data:
                return None
            while True:
                d.decompress(data, 1 << 20)
                data = b""
                if d.needs_input or d.eof:
                    break


def shell(cmd):
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--dir", default="/tmp/simbox-bench-csv")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-pyarrow", action="store_true")
    a = ap.parse_args(argv)
    os.makedirs(a.dir, exist_ok=True)
    plain = os.path.join(a.dir, f"cdr_{a.rows}.csv")
    gz = plain + ".gz"
    if not os.path.exists(plain):
        generate(plain, a.rows)
    if not os.path.exists(gz):
        if shutil.which("gzip"):
            shell(f"gzip -6 -c {plain} > {gz}")
        else:
            with open(plain, "rb") as fi, gzip.open(gz, "wb", 6) as fo:
                shutil.copyfileobj(fi, fo)
    size, gsize = os.path.getsize(plain), os.path.getsize(gz)
    rows = [("floor: cat", plain, lambda: shell(f"cat {plain}"))]
    if shutil.which("zcat"):
        rows.append(("floor: zcat", gz, lambda: shell(f"zcat {gz}")))
    rows.append(("floor: isal inflate", gz, lambda: inflate_only(gz)))
    rows += [("simbox csv plain", plain, lambda: read_simbox(plain)),
             ("simbox csv gzip", gz, lambda: read_simbox(gz))]
    if not a.no_pyarrow:
        rows += [("pyarrow.csv 1 thread plain", plain, lambda: read_pyarrow(plain)),
                 ("pyarrow.csv 1 thread gzip", gz, lambda: read_pyarrow(gz))]
    print(f"{a.rows:,} rows; plain {size / 1e6:.0f} MB, gzip {gsize / 1e6:.0f} MB; "
          f"best of {a.repeat}; load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores")
    print("rates from CPU seconds (user+sys, the reader's threads and children included), "
          "which a loaded machine disturbs less than wall seconds")
    print(f"{'reader':<28} {'wall s':>7} {'CPU s':>7} {'Mrows/s':>8} {'MB/s (text)':>12}")
    for label, path, fn in rows:
        wall, cpu, n = timed(fn, a.repeat)
        if n is not None and n != a.rows:
            raise SystemExit(f"{label}: read {n} rows, expected {a.rows}")
        print(f"{label:<28} {wall:7.3f} {cpu:7.3f} {a.rows / cpu / 1e6:8.2f} {size / cpu / 1e6:12.0f}")


if __name__ == "__main__":
    main()
