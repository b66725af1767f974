#!/usr/bin/env python3
"""What a scan costs beside ``simbox features`` on the same files (issue 14 item 1).

    python benchmarks/bench_scan_cost.py --input cdrs.csv.gz --cells cells.csv --tac tac.csv
    python benchmarks/bench_scan_cost.py ... --threshold 0          # every SIM flagged
    python benchmarks/bench_scan_cost.py ... --device-rule off      # the rule flags nothing
    python benchmarks/bench_scan_cost.py ... --peer /work/venv-main/bin/python --repeat 3

Runs ``simbox features`` and ``simbox scan --no-report`` (``--report``: with its report) as child processes, in
turns (features, scan, peer scan, ...) so that the load of a shared machine
falls on all alike, ``--repeat`` times, and prints the medians: wall seconds
and CPU seconds (user + system of the child and its threads),
and the ratio scan / features.  CPU is the figure to trust on a busy machine.
The scans run through ``benchmarks/scan_stages.py``, which times the scan's
stages in the same run: a second table gives their medians (CPU of the thread
that ran each stage; the features' reading threads and the model loading thread
are counted in the total only, the latter also as ``model load (thread)``).
``--peer``: another interpreter with simbox installed (the code before a
change) whose scan is timed beside.  The issue's bound is a ratio of at most 1.5.
Each scan records into a new history store of its own (``SIMBOX_HISTORY``): the cost of
a first scan, not growing with the repeats (nor touching the user's default store).
The machine's load average (``os.getloadavg``) is printed before and after.
Before timing, each interpreter's simbox packages are byte-compiled (``compileall``), as
``pip install`` leaves them: an editable install run with ``PYTHONDONTWRITEBYTECODE`` would
otherwise compile the scan's modules from source at every run (about 0.1 s more for the
scan, which imports more of them than ``simbox features``).

The inputs of issue 14's figures (session 10):

- the 11M-row plain-CSV week: ``python benchmarks/gen_cdrs.py --rows 11_000_000 --out
  DIR/cdrs.csv`` (cells in ``DIR/cells.csv``);
- a card farm, every SIM flagged by the device rule: 3M rows, one IMEI for 100k IMSIs at
  one cell (``tools/attack.py`` writes it: the ``farm`` attack);
- a clustered week with ~2,000 fraud SIMs in 42 deployments (1.5-2k flagged):
  ``echo '{"fraud": {"share": 0.02}}' > fraud2.json; simbox simulate --subscribers 100000
  --days 7 --scenario mixed --seed 14 --config fraud2.json --out w14``, scanned with
  ``--tac w14/tac.csv``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

STAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scan_stages.py")


def run(args, history=None, extra_env=None) -> tuple[float, float, int, str]:
    """Wall and CPU seconds of one child, its status and its standard output (``history``:
    the history store it records into, as ``SIMBOX_HISTORY``; ``extra_env``: more variables)."""
    env = dict(os.environ, SIMBOX_NO_PROGRESS="1", **({"SIMBOX_HISTORY": history} if history else {}),
               **(extra_env or {}))
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, env=env)
    wall = time.monotonic() - t0
    if p.returncode:
        sys.stderr.write(p.stderr.decode(errors="replace")[-2000:])
    return wall, _child_cpu(), p.returncode, p.stdout.decode(errors="replace")


_LAST = [0.0]

PACKAGES = ("simbox", "simbox.fastpath", "simbox.features", "simbox.training")


def byte_compile(python: str) -> None:
    """The simbox packages of ``python`` byte-compiled in place (``__pycache__``), as
    ``pip install`` compiles an install: the timed runs read them, not the sources."""
    code = ("import importlib, os\n"
            f"for p in {PACKAGES!r}:\n"
            "    print(os.path.dirname(importlib.import_module(p).__file__))")
    folders = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    subprocess.run([python, "-m", "compileall", "-q", *sorted(set(folders.stdout.split()))],
                   capture_output=True, check=True)


def _child_cpu() -> float:
    """CPU seconds (user + system, all threads) of the children ended since the last call."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = r.ru_utime + r.ru_stime
    cpu, _LAST[0] = total - _LAST[0], total
    return cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", nargs="+", required=True)
    ap.add_argument("--cells", required=True)
    ap.add_argument("--tac")
    ap.add_argument("--timezone", default="UTC")
    ap.add_argument("--model", help="model folder for the scans (default: the shipped one)")
    ap.add_argument("--threshold", help="for the scans (0: flag every SIM)")
    ap.add_argument("--peer", help="python of another install, scanned beside (e.g. before)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="folder to keep the last scans' outputs in (scan/, peer/)")
    ap.add_argument("--report", action="store_true",
                    help="scans write report.html too (the default of simbox scan; else --no-report)")
    ap.add_argument("--device-rule", choices=["on", "off"], default="on",
                    help="off: the scans run with the device rule switched off (what the same "
                         "rows cost when the rule flags nothing; scan_stages.py)")
    a = ap.parse_args(argv)
    common = ["--cells", a.cells, "--timezone", a.timezone] + (["--tac", a.tac] if a.tac else [])
    scan_extra = (["--threshold", a.threshold] if a.threshold is not None else []) + \
        (["--model", a.model] if a.model else [])
    pythons = [("scan", sys.executable)] + ([("peer scan", a.peer)] if a.peer else [])
    times: dict[str, list] = {}
    stages: dict[str, dict[str, list]] = {}
    for _, py in pythons:
        byte_compile(py)
    _child_cpu()
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = a.keep or scratch
        os.makedirs(tmp, exist_ok=True)
        for r in range(a.repeat):
            jobs = [("features", [sys.executable, "-m", "simbox", "features", *a.input, *common,
                                  "--out", os.path.join(scratch, f"f{r}.parquet")])]
            jobs += [(name, [py, STAGES, "--", "scan", *a.input, *common, *scan_extra,
                             *([] if a.report else ["--no-report"]),
                             "--out", os.path.join(tmp, name.split()[0])])
                     for name, py in pythons]
            for name, args in jobs:
                if name != "features":
                    shutil.rmtree(args[-1], ignore_errors=True)
                # each scan records into a new history store (a first scan: the cost
                # does not grow with the repeats, nor with other users' scans)
                wall, cpu, status, out = run(args, None if name == "features" else
                                             os.path.join(scratch, f"history-{r}-{name[:4]}.sqlite"),
                                             None if name == "features" or a.device_rule == "on"
                                             else {"SIMBOX_STAGES_DEVICE_RULE": "off"})
                if status:
                    print(f"{name} failed (status {status})", file=sys.stderr)
                    return 1
                times.setdefault(name, []).append((wall, cpu))
                if name != "features":
                    report = json.loads(out.strip().splitlines()[-1])
                    for stage, (c, w) in report["stages"].items():
                        stages.setdefault(name, {}).setdefault(stage, []).append((c, w))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for k, v in times.items()}
    fw, fc = med["features"]
    flag = (f", --threshold {a.threshold}" if a.threshold is not None else "") + \
        (", device rule off" if a.device_rule == "off" else "") + (", with report" if a.report else "")
    print(f"| {', '.join(map(os.path.basename, a.input))}{flag} | wall s (median of {a.repeat}) | "
          f"x features | CPU s | x features |")
    print("|---|---|---|---|---|")
    for k, (w, c) in med.items():
        print(f"| {k} | {w:.2f} | {w / fw:.2f} | {c:.2f} | {c / fc:.2f} |")
    print(f"load average (1, 5, 15 min): before {', '.join(f'{x:.1f}' for x in load0)}; "
          f"after {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    names = list(stages)
    print()
    print("| stage (median) | " + " | ".join(f"{n}: CPU s | wall s" for n in names) + " |")
    print("|---|" + "---|---|" * len(names))
    order = list(dict.fromkeys(s for n in names for s in stages[n]))
    for s in order:
        cells = []
        for n in names:
            v = stages[n].get(s)
            cells.append(f"{statistics.median(c for c, _ in v):.2f} | "
                         f"{statistics.median(w for _, w in v):.2f}" if v else "- | -")
        print(f"| {s} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
