"""Fuzz every reader end to end (format detection, byte source, reader, kernel, reject policy)
with mutated whole files, on the bounds-checked kernels.

    python tools/fuzz_readers.py --format pcap.gz --inputs 1000000
    python tools/fuzz_readers.py --format all --inputs 20000        # each format in turn

Formats: csv, csv.gz, ber, ber.gz, pcap, pcap.gz (``all``: each).  Seeds are small valid
files: CDR CSV rows, BER files written by ``simbox.data.ber_writer``, pcap files written
by the simulator's pcap writer and the small classic pcaps of ``../shared/captures``.  Each input is a seed with 1-8 mutations (bit flips,
random bytes, 32-bit fields set to extremes, cuts, insertions, deletions, duplications,
junk after the end); ``.gz`` inputs are mutated before or after compression.  Each is
read with ``open_events`` from memory; a failure is any exception that is not a
``SimboxError`` (one-line user error), a hang (``--hang-seconds`` per input, the
watchdog prints where and exits), an out-of-bounds read in the debug kernels, or counts
that do not add up:

- every record is accepted, skipped or rejected (CSV, BER), and for captures every
  record is a packet or a rejected damaged stretch / end;
- the bytes read are the input's bytes (plain inputs), and the bytes passed over to
  resynchronise are at most the content's.

Exit 0 = no failure; else the failing input is saved under ``--out``.
"""
from __future__ import annotations

import argparse
import collections
import faulthandler
import gzip
import io
import os
import pathlib
import random
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from debug_build import kernels  # noqa: E402

FORMATS = ("csv", "csv.gz", "ber", "ber.gz", "pcap", "pcap.gz")
CAPTURE_ENDS = ("bad pcap record header", "capture ends inside a packet record", "truncated gzip",
                "corrupt gzip", "capture ends inside a pcapng block", "unreadable pcapng block")

CSV_SEED = (b"record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
            b"MOC,2026-03-01T12:00:05Z,460001234567890,35678901234567,8613800000001,10086,65,46000-1-2\n"
            b'"MTC","2026-03-01 12:00:05.5+08:00","460001234567891",,"+86138","0049",-0,"46-""1"",2"\r\n'
            b"SMS_MO,2026-03-01T12:00:05Z,460001234567892,,8613800000001,10086,12.5,\n"
            b'DATA,2026-03-01T12:00:05Z,460001234567893,,8613800000001,,3600,"a\nb"\n')


def seeds(fmt: str) -> list[bytes]:
    base = fmt.split(".")[0]
    if base == "csv":
        return [CSV_SEED, CSV_SEED * 3]
    import numpy as np
    with tempfile.TemporaryDirectory() as d:
        if base == "ber":
            import pandas as pd
            from simbox.data import ber_writer
            out = []
            for k, n in enumerate((1, 3, 7)):
                ev = pd.DataFrame(dict(
                    record_type=(["MOC", "MTC", "SMS_MO", "SMS_MT"] * 2)[:n],
                    start_time=[1772366405 + i for i in range(n)],
                    imsi=[f"46000123456789{i}" for i in range(n)], imei=["35678901234567"] * n,
                    msisdn=["8613800000001"] * n, other_party=["10086"] * n,
                    duration_s=[5 * i for i in range(n)], cell_id=["46000-1-2"] * n))
                p = os.path.join(d, "f.cdr")
                ber_writer.write_ber(p, ev, indefinite=bool(k % 2))
                data = pathlib.Path(p).read_bytes()
                out += [data, ber_writer.records_without_headers(data)]
            return out
        from simbox.data.pcap_writer import write_attach_pcap
        from simbox.fastpath.events import encode_digits
        out = []
        for n in (1, 3, 6):
            p = os.path.join(d, "a.pcap")
            write_attach_pcap(p, np.arange(n) + 1772366405,
                              np.array([encode_digits(f"46000000000{i:04d}") for i in range(n)]),
                              np.array([encode_digits("35678901234567")] * n),
                              np.array([encode_digits("8613800000001")] * n),
                              np.array(["46000-1-2"] * n, dtype=object))
            out.append(pathlib.Path(p).read_bytes())
        # small real captures, when the shared folder is there (../shared/captures)
        for f in sorted((ROOT.parent / "shared" / "captures").glob("*.pcap")):
            data = f.read_bytes()
            if len(data) <= 1 << 16 and data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"):
                out.append(data)
        return out


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(min(int(rng.expovariate(0.7)) + 1, 8)):
        op = rng.randrange(9)
        i = rng.randrange(len(b) + 1) if b else 0
        if op == 0 and b:                                   # bit flip
            i = min(i, len(b) - 1)
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:                                 # random byte
            b[min(i, len(b) - 1)] = rng.randrange(256)
        elif op == 2 and len(b) >= 4:                       # a 32-bit field set to an extreme
            i = min(i, len(b) - 4)
            b[i:i + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff",
                                     b"\x00\x01\x00\x00", b"\x00\x00\x01\x00"])
        elif op == 3:                                       # cut
            del b[i:]
        elif op == 4:                                       # insertion
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        elif op == 5 and b:                                 # deletion
            del b[i:i + rng.randrange(1, 16)]
        elif op == 6 and b:                                 # duplication
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randrange(1, 64)]
        elif op == 7:                                       # junk after the end
            b += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 32)))
        elif op == 8:                                       # special bytes
            b[i:i] = rng.choice([b",", b'"', b"\n", b"\r", b"\x00", b"\xff", b"\x1f\x8b", b"\xc3"])
    return bytes(b)


def make_input(rng: random.Random, fmt: str, pool: list[bytes]) -> bytes:
    data = rng.choice(pool)
    if not fmt.endswith(".gz"):
        return mutate(rng, data)
    if rng.random() < 0.5:                 # mutate the content, or the compressed stream
        return gzip.compress(mutate(rng, data), compresslevel=1)
    return mutate(rng, gzip.compress(data, compresslevel=1))


def check(data: bytes, fmt: str, threaded: bool) -> str | None:
    """None, or what went wrong with ``data``."""
    from simbox.errors import SimboxError
    from simbox.fastpath import bytesource
    from simbox.fastpath.events import CellDict
    from simbox.fastpath.readers import open_events
    from simbox.fastpath.stats import ReadStats
    bytesource.THREADED_INFLATE = threaded
    stats, cells = ReadStats(), CellDict()
    f = io.BytesIO(data)
    f.name = "fuzz." + fmt
    try:
        n = sum(len(b) for b in open_events([f], cells=cells, stats=stats, chunk_rows=7))
    except SimboxError as e:
        if "\n" in str(e):
            return f"a multi-line error: {e!r}"
        return None
    if n != stats.accepted:
        return f"{n} events but {stats.accepted} accepted"
    if stats.rejected_total and sum(stats.rejected.values()) != stats.rejected_total:
        return "rejected counts disagree"
    if not any(r in stats.rejected for r in CAPTURE_ENDS) and data[:2] != b"\x1f\x8b":
        if stats.records != stats.accepted + stats.skipped + stats.rejected_total and \
                not fmt.startswith("pcap"):
            return f"records {stats.records} != accepted + skipped + rejected ({stats})"
    if data[:2] != b"\x1f\x8b" and stats.bytes != len(data):
        return f"{stats.bytes} bytes counted, the input has {len(data)}"
    if stats.skipped_bytes > len(data) * (1 if data[:2] != b"\x1f\x8b" else 1 << 12):
        return f"skipped_bytes {stats.skipped_bytes} > the content"
    return None


def run(fmt: str, args) -> int:
    pool = seeds(fmt)
    rng = random.Random(f"{args.seed}-{fmt}")
    t0 = time.monotonic()
    outcomes = collections.Counter()
    faulthandler.enable()
    for i in range(args.inputs):
        data = make_input(rng, fmt, pool)
        faulthandler.dump_traceback_later(args.hang_seconds, exit=True)
        try:
            problem = check(data, fmt, threaded=i % 16 == 0)
        except Exception as exc:             # a crash of a reader: not a SimboxError
            problem = f"{type(exc).__name__}: {exc}"
        finally:
            faulthandler.cancel_dump_traceback_later()
        if problem:
            args.out.mkdir(parents=True, exist_ok=True)
            bad = args.out / f"{fmt}-{args.seed}-{i}.bin"
            bad.write_bytes(data)
            print(f"FAIL {fmt} input {i}: {problem}; saved to {bad}", file=sys.stderr)
            return 1
        outcomes["ok"] += 1
        if (i + 1) % args.report == 0:
            el = time.monotonic() - t0
            print(f"{fmt}: {i + 1:,} inputs, {el:.0f}s, {(i + 1) / el:,.0f}/s", file=sys.stderr,
                  flush=True)
    el = time.monotonic() - t0
    print(f"OK {fmt}: {args.inputs:,} mutated inputs in {el:.0f}s ({len(pool)} seeds), no crash, "
          "no hang, no out-of-bounds read, counts consistent", flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", choices=FORMATS + ("all",), default="all")
    ap.add_argument("--inputs", type=int, default=100_000, help="inputs per format")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hang-seconds", type=float, default=300.0,
                    help="seconds one input may take (a loaded shared machine stalls for a minute)")
    ap.add_argument("--report", type=int, default=50_000, help="print progress every N inputs")
    ap.add_argument("--allow-release", action="store_true",
                    help="without Cython and without an installed debug build, fuzz the release build")
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "fuzz-failures")
    args = ap.parse_args(argv)
    mods = kernels(["_csvread", "_ber", "_sigdecode"], allow_release=args.allow_release)
    print("kernels: " + ", ".join(f"{n} debug={bool(getattr(m, 'DEBUG', getattr(m, 'DEBUG_BUILD', False)))}"
                                  for n, m in mods.items()), flush=True)
    import logging
    logging.disable(logging.WARNING)
    for fmt in FORMATS if args.format == "all" else (args.format,):
        if run(fmt, args):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
