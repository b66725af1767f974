#!/usr/bin/env python3
"""The data-lake figures of issue 17: local CSV vs local Parquet vs Spark, and a projection.

On the benchmark network of ``gen_cdrs.py`` (``--rows``, default 11M) this times, in
one run and interleaved (``--repeat`` rounds, medians printed):

- ``simbox features`` on the plain CSV and on a Parquet copy, with ``--workers 2``
  (the copy as pyarrow writes it by default: every column a string, snappy, dictionary
  encoding on, falling back to plain pages for the digit columns once a column chunk's
  dictionary passes 1 MiB; one row group per 64 MiB block of the CSV, about 668,000
  rows: the writer's 1M-row cap is never reached), each in its own process under ``/usr/bin/time``
  (wall seconds, peak RSS); ``--formats`` adds the lake layout (``lake``: times
  timestamp[us, UTC], durations int32, digit columns strings, dictionary on, 1Mi-row row
  groups, zstd; ``lake-snappy``), vendor-typed Parquet and ORC (``build_local_formats``);
  ``--reader-only`` times the readers alone instead of ``simbox features``;
- the Spark engine (``simbox.spark.compute_features_spark``) on the same Parquet file
  in ``local[1]`` and ``local[2]``, each in its own process (``--spark-run``): wall
  seconds, the seconds of stage 1 alone (read + normalise, written to Spark's
  ``noop`` sink), the peak RSS of the driver's Python process, of the JVM (driver
  and executor in local mode) and of the executors' Python workers (summed, sampled
  every 0.2 s from /proc), and the CPU seconds of the whole process tree (the work,
  whatever the machine's load: the projection's basis when the load is high);

then prints a Markdown table and a projection of nodes and hours for 5 billion CDRs a
day from the measured per-core throughput of ``local[1]`` and the scaling of
``local[2]``.  ``--slots 2`` times ``local[2]`` only; ``--build-only`` makes the inputs.

``--scan-sims 20000,100000,300000`` measures instead a whole ``simbox scan --engine spark``
(default model, no cell table, no report) on networks of those many subscribers at the
same 16 rows per subscriber (one day), each in its own process: the peak RSS of the
driver's Python process (VmHWM) and of the JVM (driver and executor in local mode), the
rows that reached the driver per kind (``simbox.spark.session.DRIVER_ROWS``) and, for
contrast, the peak of the driver when it collects the whole feature table instead
(``compute_features_spark``, what ``simbox features --engine spark`` does).  With
``--threshold T`` the scans flag every SIM scoring at least T (0: all of them), so that
the flagged SIMs themselves grow: the driver's memory per flagged SIM.

    python benchmarks/bench_lake.py --rows 11_000_000 --work bench-out --repeat 3
    python benchmarks/bench_lake.py --rows 50_000_000 --days 32 --work bench-out --repeat 1
    python benchmarks/bench_lake.py --scan-sims 20000,100000,300000 --work bench-out
    python benchmarks/bench_lake.py --scan-sims 20000,50000,100000 --threshold 0 --work bench-out

Absolute times drift with the machine's load (2 shared cores): compare within a run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party", "duration_s",
          "cell_id"]
CDRS_PER_DAY = 5_000_000_000


# ---- inputs --------------------------------------------------------------------------------

def build(rows: int, work: str, days: int = 7) -> tuple[str, str]:
    """(CSV, Parquet) of the benchmark network of ``rows`` rows over ``days`` days in ``work``
    (kept for reuse; about rows / days / 16 subscribers)."""
    os.makedirs(work, exist_ok=True)
    tag = (f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else f"{rows}") + \
        (f"-{days}d" if days != 7 else "")
    csv_path = os.path.join(work, f"lake-{tag}.csv")
    pq_path = os.path.join(work, f"lake-{tag}.parquet")
    if not os.path.exists(csv_path):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_cdrs.py"), "--rows", str(rows),
                        "--days", str(days), "--out", csv_path], check=True)
    if not os.path.exists(pq_path):
        import pyarrow as pa
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq
        reader = pcsv.open_csv(csv_path, read_options=pcsv.ReadOptions(block_size=64 << 20),
                               convert_options=pcsv.ConvertOptions(
                                   column_types={h: pa.string() for h in HEADER},
                                   strings_can_be_null=False))
        tmp = pq_path + ".tmp"
        writer = None
        for batch in reader:
            if writer is None:
                writer = pq.ParquetWriter(tmp, batch.schema)
            writer.write_table(pa.Table.from_batches([batch]), row_group_size=1 << 20)
        writer.close()
        os.replace(tmp, pq_path)
    return csv_path, pq_path


def build_local_formats(csv_path: str, kinds=("typed", "orc", "lake", "lake-snappy")) -> dict:
    """The local engine's other inputs beside ``csv_path`` (kept for reuse): a "vendor-typed"
    Parquet copy (IMSI and IMEI as int64, times as timestamp[us, tz=UTC], durations int32,
    1M-row row groups), an ORC copy (string columns, snappy as the Parquet files) and the
    benchmark's lake layout with zstd (Iceberg's default codec) and with snappy (Spark's):
    the columns typed as a data lake types them (times an Iceberg ``timestamptz``,
    timestamp[us, tz=UTC]; durations int32), the digit columns kept as strings (leading
    zeros are significant), dictionary encoding on (pyarrow's default: the record type, cell
    and time columns stay dictionaries; the digit columns fall back to plain pages once a
    chunk's dictionary passes 1 MiB), whole 1Mi-row row groups."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.orc as orc
    import pyarrow.parquet as pq
    base = csv_path[:-len(".csv")]
    paths = {k: base + {"typed": "-typed.parquet", "orc": ".orc", "lake": "-lake.parquet",
                        "lake-snappy": "-lake-snappy.parquet"}[k] for k in kinds}
    strings = {h: pa.string() for h in HEADER}
    lake = {**strings, "duration_s": pa.int32(), "start_time": pa.timestamp("s", tz="UTC")}
    types = {"typed": {**strings, "imsi": pa.int64(), "imei": pa.int64(),
                       "duration_s": pa.int32(), "start_time": pa.timestamp("s", tz="UTC")},
             "orc": strings, "lake": lake, "lake-snappy": lake}
    for kind, path in paths.items():
        if os.path.exists(path):
            continue
        reader = pcsv.open_csv(csv_path, read_options=pcsv.ReadOptions(block_size=64 << 20),
                               convert_options=pcsv.ConvertOptions(
                                   column_types=types[kind], strings_can_be_null=False))
        tmp, writer = path + ".tmp", None
        rows = []
        for batch in reader:
            t = pa.Table.from_batches([batch])
            if kind == "orc":
                if writer is None:
                    writer = orc.ORCWriter(tmp, compression="snappy")
                writer.write(t)
                continue
            i = t.schema.get_field_index("start_time")
            t = t.set_column(i, "start_time", t.column(i).cast(pa.timestamp("us", tz="UTC")))
            if kind == "typed":
                if writer is None:
                    writer = pq.ParquetWriter(tmp, t.schema)
                writer.write_table(t, row_group_size=1 << 20)
                continue
            # the lake layout: whole 1Mi-row row groups (the CSV's blocks gathered)
            if writer is None:
                writer = pq.ParquetWriter(tmp, t.schema, compression="zstd" if kind == "lake"
                                          else "snappy")
            rows.append(t)
            if sum(x.num_rows for x in rows) >= 1 << 20:
                whole = pa.concat_tables(rows)
                writer.write_table(whole.slice(0, 1 << 20), row_group_size=1 << 20)
                rows = [whole.slice(1 << 20)]
        if rows:
            writer.write_table(pa.concat_tables(rows), row_group_size=1 << 20)
        writer.close()
        os.replace(tmp, path)
    return paths


def count_rows(pq_path: str) -> int:
    import pyarrow.parquet as pq
    return pq.ParquetFile(pq_path).metadata.num_rows


# ---- runs ----------------------------------------------------------------------------------

#: ``--reader-only``: the events of a whole file read and handed back, nothing else
READER = ("import sys\nfrom simbox.fastpath.readers import open_events\n"
          "for b in open_events([sys.argv[1]]):\n    b.recycle()\n")


def local_run(path: str, out: str, reader_only: bool = False) -> dict:
    """``simbox features`` (``reader_only``: the reader alone, :data:`READER`) in its own
    process: wall s, CPU s (user + system), peak RSS MiB and the load average (1 min)
    before it."""
    load = os.getloadavg()[0]
    cmd = ["/usr/bin/time", "-f", "%e %M %U %S", sys.executable] + (
        ["-c", READER, path] if reader_only else
        ["-m", "simbox", "features", path, "--workers", "2", "--out", out])
    p = subprocess.run(cmd, capture_output=True, text=True,
                       env={**os.environ, "SIMBOX_NO_PROGRESS": "1"})
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    wall, kb, user, system = p.stderr.strip().splitlines()[-1].split()
    return {"wall": float(wall), "peak_mib": int(kb) / 1024, "cpu": float(user) + float(system),
            "load": load}


def spark_run(master: str, path: str, partitions: int) -> dict:
    """The Spark engine in its own process (this script with ``--spark-run``)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--spark-run", master, path,
           "--partitions", str(partitions)]
    p = subprocess.run(cmd, capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return json.loads(lines[-1])


class TreeMemory:
    """Peak RSS (MiB) of this process, its JVM child and the JVM's Python workers, sampled
    from /proc every ``every`` seconds in a thread."""

    def __init__(self, every: float = 0.2):
        self.every, self.peak = every, {"driver_python": 0.0, "jvm": 0.0, "workers": 0.0}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _procs():
        out = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
                with open(f"/proc/{pid}/status") as f:
                    rss = next((int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")), 0)
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            out[int(pid)] = (ppid, rss / 1024, stat.split("(", 1)[1].split(")")[0])
        return out

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system, with reaped children) of this process, its JVM and
        the JVM's descendants so far: the work, whatever the machine's load."""
        procs = self._procs()
        kids = {}
        for pid, (ppid, _, _) in procs.items():
            kids.setdefault(ppid, []).append(pid)
        tree, stack = [], [os.getpid()]
        while stack:
            p = stack.pop()
            tree.append(p)
            stack.extend(kids.get(p, []))
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for p in tree:
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(x) for x in fields[11:15])      # utime stime cutime cstime
        return total / tick

    def sample(self):
        procs = self._procs()
        me = os.getpid()
        kids = {}
        for pid, (ppid, _, _) in procs.items():
            kids.setdefault(ppid, []).append(pid)
        jvm = [p for p in kids.get(me, []) if procs[p][2] == "java"]
        workers = []
        stack = list(jvm)
        while stack:
            p = stack.pop()
            for c in kids.get(p, []):
                stack.append(c)
                if procs[c][2].startswith("python"):
                    workers.append(c)
        now = {"driver_python": procs.get(me, (0, 0.0))[1],
               "jvm": sum(procs[p][1] for p in jvm),
               "workers": sum(procs[p][1] for p in workers)}
        for k, v in now.items():
            self.peak[k] = max(self.peak[k], v)

    def _run(self):
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def bench_session(master: str, partitions: int):
    """The Spark session of a benchmark child (``partitions``: its shuffle partitions)."""
    from simbox.spark import get_session
    conf = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": str(partitions),
            "spark.driver.memory": os.environ.get("SIMBOX_BENCH_DRIVER_MEMORY", "2g")}
    if os.environ.get("SIMBOX_BENCH_GC_LOG"):       # the JVM's heap after each collection
        conf["spark.driver.extraJavaOptions"] = f"-Xlog:gc:file={os.environ['SIMBOX_BENCH_GC_LOG']}"
    spark = get_session(master, conf=conf)
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def heap_after_gc_mib(path: str | None) -> float | None:
    """The largest heap occupancy after a collection in the JVM's GC log (``-Xlog:gc``:
    ``... 612M->143M(2048M) ...``), MiB: what the JVM's live data needed at its peak."""
    import re
    if not path or not os.path.exists(path):
        return None
    units = {"K": 1 / 1024, "M": 1, "G": 1024}
    got = [float(m.group(1)) * units[m.group(2)] for m in
           re.finditer(r"->(\d+)([KMG])\(\d+[KMG]\)", open(path).read())]
    return max(got) if got else None


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM), MiB."""
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:")) / 1024


def spark_child(master: str, path: str, partitions: int) -> None:
    """``--spark-run``: one Spark engine run, a JSON line on stdout."""
    import warnings
    warnings.simplefilter("ignore")
    from simbox.fastpath.columnar import batch_reader
    from simbox.fastpath.events import CellDict
    from simbox.fastpath.stats import ReadStats
    from simbox.spark import compute_features_spark
    from simbox.spark.events import EVENT_SCHEMA, normaliser

    with TreeMemory() as mem:
        spark = bench_session(master, partitions)
        # stage 1 alone: read + normalise, into Spark's noop sink
        df = spark.read.parquet(path)
        probe = batch_reader("canonical", name=path, cells=CellDict(), stats=ReadStats())
        _, names = probe.columns_read(df.columns)
        t = time.monotonic()
        (df.select(*names).mapInArrow(normaliser(probe.m, names, name=path, on_bad_records="skip",
                                                 window=None), EVENT_SCHEMA)
         .write.format("noop").mode("overwrite").save())
        stage1 = time.monotonic() - t
        t, cpu = time.monotonic(), mem.cpu_seconds()
        res = compute_features_spark(path, spark=spark, partitions=partitions)
        wall = time.monotonic() - t
        cpu = mem.cpu_seconds() - cpu
        mem.sample()
    hwm = peak_rss_mib()
    print(json.dumps({"wall": wall, "cpu": cpu, "load": os.getloadavg()[0], "stage1": stage1, "subscribers": res.shape[0],
                      "records": res.stats.records, "driver_python_hwm": hwm, **mem.peak}))


def scan_child(master: str, path: str, partitions: int, collect: bool,
               threshold: float | None = None) -> None:
    """``--scan-run``: one Spark scan (or, with ``collect``, the whole feature table taken to
    the driver), a JSON line on stdout."""
    import warnings
    warnings.simplefilter("ignore")
    from simbox.scan import scan
    from simbox.spark import compute_features_spark
    from simbox.spark.session import DRIVER_ROWS

    with TreeMemory() as mem:
        spark = bench_session(master, partitions)
        t = time.monotonic()
        with tempfile.TemporaryDirectory() as out:
            if collect:
                res = compute_features_spark(path, spark=spark, partitions=partitions)
                sims, flagged = res.shape[0], None
                res.features  # noqa: B018  (the DataFrame, as a scan of the table would make)
            else:
                r = scan(path, engine="spark", out=os.path.join(out, "scan"), report=False,
                         history=False, timezone="UTC", threshold=threshold)
                sims, flagged = r.summary["sims"], r.summary["flagged"]
        wall = time.monotonic() - t
        mem.sample()
    hwm = peak_rss_mib()
    print(json.dumps({"wall": wall, "sims": sims, "flagged": flagged, "driver_python_hwm": hwm,
                      "heap_after_gc": heap_after_gc_mib(os.environ.get("SIMBOX_BENCH_GC_LOG")),
                      "rows_to_driver": dict(DRIVER_ROWS), **mem.peak}))


def scan_memory(counts, work: str, partitions: int, master: str,
                threshold: float | None = None, collect: bool = True) -> None:
    """The ``--scan-sims`` table (see the module docstring); with ``threshold`` (a forced
    flagged share) or without ``collect``, the scans only, not the collected feature table."""
    print("| SIMs | rows | mode | flagged | wall s | driver Python peak MiB | JVM peak MiB "
          "| JVM heap after GC, max MiB | rows to the driver per kind (scores.csv's excluded) |")
    print("|---|---|---|---|---|---|---|---|---|")
    paths = {n: build(n * 16, work, days=1)[0] for n in counts}
    for collect in (False, True) if collect and threshold is None else (False,):
        for n in counts:
            csv_path = paths[n]
            cmd = [sys.executable, os.path.abspath(__file__), "--scan-run", master, csv_path,
                   "--partitions", str(partitions)] + (["--collect"] if collect else []) + \
                ([] if threshold is None else ["--threshold", str(threshold)])
            gc_log = os.path.join(work, f"gc-{n}-{os.getpid()}.log")
            p = subprocess.run(cmd, capture_output=True, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1",
                                    "SIMBOX_NO_PROGRESS": "1", "SIMBOX_BENCH_GC_LOG": gc_log})
            lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
            if p.returncode != 0 or not lines:
                raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
            m = json.loads(lines[-1])
            per = ", ".join(f"{k} {v:,}" for k, v in sorted(m["rows_to_driver"].items())
                            if k != "scores")
            mode = "feature table collected" if collect else \
                "scan" + ("" if threshold is None else f", threshold {threshold:g}")
            print(f"| {m['sims']:,} | {n * 16:,} | {mode} "
                  f"| {'' if m['flagged'] is None else m['flagged']} | {m['wall']:.0f} "
                  f"| {m['driver_python_hwm']:,.0f} | {m['jvm']:,.0f} "
                  f"| {m['heap_after_gc'] or 0:,.0f} | {per} |", flush=True)


# ---- the table -----------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=11_000_000)
    ap.add_argument("--days", type=int, default=7,
                    help="days of the network (subscribers: rows / days / 16; default 7)")
    ap.add_argument("--work", default="bench-out")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="local,spark", help="local, spark or both (default)")
    ap.add_argument("--formats", default="csv,parquet,lake,lake-snappy,typed,orc",
                    help="the local engine's inputs: csv, parquet (all strings, snappy), lake "
                         "(the lake layout, zstd), lake-snappy, typed (vendor-typed Parquet), "
                         "orc (default all six)")
    ap.add_argument("--reader-only", action="store_true",
                    help="the local runs read the events of each file and do nothing else "
                         "(no features): the readers' own cost")
    ap.add_argument("--partitions", type=int, default=8, help="shuffle partitions of Spark")
    ap.add_argument("--driver-memory", default=None,
                    help="spark.driver.memory of the runs (default 2g; in local mode the "
                         "executors' heap too: a scan of 300k SIMs in 8 partitions needs more "
                         "than 2g, session 9)")
    ap.add_argument("--slots", default="1,2",
                    help="Spark masters local[K] to time, K comma separated (default 1,2)")
    ap.add_argument("--build-only", action="store_true", help="make the inputs, time nothing")
    ap.add_argument("--scan-sims", help="driver memory of a Spark scan at these subscriber "
                    "counts (comma separated), 16 rows each")
    ap.add_argument("--master", default="local[2]", help="Spark master of --scan-sims")
    ap.add_argument("--threshold", type=float, help="--scan-sims: the scans' threshold (a "
                    "forced flagged share, e.g. 0 flags every SIM); default the model's")
    ap.add_argument("--scan-only", action="store_true",
                    help="--scan-sims: the scans only, not the collected feature table")
    ap.add_argument("--spark-run", nargs=2, metavar=("MASTER", "PARQUET"), help=argparse.SUPPRESS)
    ap.add_argument("--scan-run", nargs=2, metavar=("MASTER", "CSV"), help=argparse.SUPPRESS)
    ap.add_argument("--collect", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.driver_memory:                          # the children read it (bench_session)
        os.environ["SIMBOX_BENCH_DRIVER_MEMORY"] = a.driver_memory
    if a.spark_run:
        spark_child(*a.spark_run, a.partitions)
        return 0
    if a.scan_run:
        scan_child(*a.scan_run, a.partitions, a.collect, a.threshold)
        return 0
    if a.scan_sims:
        scan_memory([int(x) for x in a.scan_sims.replace("_", "").split(",")], a.work,
                    a.partitions, a.master, a.threshold, collect=not a.scan_only)
        return 0
    csv_path, pq_path = build(a.rows, a.work, a.days)
    if a.build_only:
        return 0
    rows = count_rows(pq_path)
    only = set(a.only.split(","))
    runs = []
    if "local" in only:
        formats = a.formats.split(",")
        other = build_local_formats(csv_path, [f for f in formats if f not in
                                               ("csv", "parquet")])
        paths = {"csv": ("CSV", csv_path), "parquet": ("Parquet, all strings, snappy", pq_path),
                 "typed": ("Parquet, vendor-typed", other.get("typed")),
                 "orc": ("ORC", other.get("orc")),
                 "lake": ("Parquet, lake layout, zstd", other.get("lake")),
                 "lake-snappy": ("Parquet, lake layout, snappy", other.get("lake-snappy"))}
        what = "the reader alone" if a.reader_only else "local engine, 2 workers"
        runs += [(what, paths[f][0], lambda o, p=paths[f][1]: local_run(p, o, a.reader_only))
                 for f in formats]
    if "spark" in only:
        runs += [(f"Spark engine, local[{k}]", "Parquet",
                  lambda o, k=k: spark_run(f"local[{k}]", pq_path, a.partitions))
                 for k in map(int, a.slots.split(","))]
    got = {i: [] for i in range(len(runs))}
    with tempfile.TemporaryDirectory(dir=a.work) as tmp:
        for r in range(a.repeat):
            for i, (what, fmt, fn) in enumerate(runs):
                res = fn(os.path.join(tmp, f"f{i}.parquet"))
                got[i].append(res)
                print(f"round {r + 1}: {what} / {fmt}: {res}", file=sys.stderr, flush=True)
    med = {i: {k: statistics.median(x[k] for x in got[i]) for k in got[i][0]} for i in got}
    print(f"\n{rows:,} rows over {a.days} days ({os.path.getsize(csv_path) / 2**20:,.0f} MiB CSV, "
          f"{os.path.getsize(pq_path) / 2**20:,.0f} MiB Parquet), medians of {a.repeat} "
          f"round(s), load average before: {os.getloadavg()[0]:.1f}\n")
    print("| engine | input | wall s | M rows/s | M rows/s per core | peak MiB | Spark stage 1 s "
          "| driver Python MiB | JVM MiB | executor Python MiB | CPU s | M rows per CPU-s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for i, (what, fmt, _) in enumerate(runs):
        m = med[i]
        cores = 1 if "local[1]" in what else 2
        rate = rows / m["wall"] / 1e6
        if "Spark" in what:
            print(f"| {what} | {fmt} | {m['wall']:.1f} | {rate:.2f} | {rate / cores:.2f} | "
                  f"{m['jvm'] + m['workers'] + m['driver_python']:,.0f} | {m['stage1']:.1f} | "
                  f"{m['driver_python_hwm']:,.0f} | {m['jvm']:,.0f} | {m['workers']:,.0f} | "
                  f"{m['cpu']:,.0f} | {rows / m['cpu'] / 1e6:.3f} |")
        else:
            print(f"| {what} | {fmt} | {m['wall']:.2f} | {rate:.2f} | {rate / cores:.2f} | "
                  f"{m['peak_mib']:,.0f} | | | | | | |")
    local = [i for i, r in enumerate(runs) if "Spark" not in r[0]]
    if local:
        loads = [x["load"] for i in local for x in got[i]]
        print(f"\nLocal engine, CPU time (user + system of the process), medians of {a.repeat}; "
              f"load average (1 min) before the runs: {min(loads):.1f}-{max(loads):.1f}\n")
        print("| input | wall s | CPU s | CPU s / CSV | peak MiB |")
        print("|---|---|---|---|---|")
        for i in local:
            m = med[i]
            print(f"| {runs[i][1]} | {m['wall']:.2f} | {m['cpu']:.2f} | "
                  f"{m['cpu'] / med[local[0]]['cpu']:.2f} | {m['peak_mib']:,.0f} |")
    spark1 = next((med[i] for i, r in enumerate(runs) if "local[1]" in r[0]), None)
    spark2 = next((med[i] for i, r in enumerate(runs) if "local[2]" in r[0]), None)
    cpu = [med[i]["cpu"] for i, r in enumerate(runs) if "Spark" in r[0]]
    if cpu:
        per_cpu = rows / max(cpu)
        print(f"\nProjection from CPU time (the slowest Spark run: {per_cpu / 1e3:,.0f}k rows per "
              f"CPU-second): {CDRS_PER_DAY / per_cpu / 3600:,.0f} core-hours a day for "
              f"{CDRS_PER_DAY / 1e9:.0f} billion CDRs; at 50 % cluster efficiency "
              + ", ".join(f"{n} nodes x 16 cores: {2 * CDRS_PER_DAY / per_cpu / 3600 / (16 * n):.1f} h"
                          for n in (4, 8, 16)) + ".")
    if spark1:
        per_core = rows / spark1["wall"]
        eff = (rows / spark2["wall"]) / (2 * per_core) if spark2 else 1.0
        core_hours = CDRS_PER_DAY / per_core / 3600
        print(f"\nProjection for {CDRS_PER_DAY / 1e9:.0f} billion CDRs a day: {per_core / 1e3:,.0f}k "
              f"rows/s per core (local[1]), 2-core efficiency {eff:.0%} -> "
              f"{core_hours:,.0f} core-hours a day at that rate; at the 2-core efficiency, "
              f"{core_hours / eff:,.0f} core-hours: "
              + ", ".join(f"{n} nodes x 16 cores: {core_hours / eff / (16 * n):.1f} h"
                          for n in (4, 8, 16)) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
