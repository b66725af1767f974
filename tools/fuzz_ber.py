"""Fuzz the BER reader with byte mutations of valid TS 32.297 / raw BER files.

Run it against the debug build (kernel reads checked against the buffer, Cython
bounds checks on), e.g.::

    SIMBOX_DEBUG=1 pip install --no-build-isolation -e .      # in a separate venv
    python tools/fuzz_ber.py --inputs 1000000 --seed 1

Each input is a valid file (written by ``simbox.data.ber_writer``, or a slice of
the pycrate-encoded fixture) with 1-8 mutations: bit flips, byte sets, inserted
random bytes, deleted ranges, truncation, corrupted length octets, spliced
copies.  It must be decoded or rejected: the reader may only raise InputError
(not a BER file at all); every record is accepted, rejected or skipped; no
hang (a watchdog aborts an input after ``--timeout`` seconds); a crash or an
overread aborts the process (the input index and seed say how to replay it).
Every ``--check-every``-th input is also compared with the pure-Python reference.
Prints a summary table.
"""
from __future__ import annotations

import argparse
import faulthandler
import io
import logging
import os
import pathlib
import random
import signal
import struct
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
if __name__ == "__main__":      # the bounds-checked kernel, loaded before the reader imports it
    from debug_build import kernels
    kernels(["_ber"], allow_release="--allow-release" in sys.argv)

from simbox.data import ber_writer  # noqa: E402
from simbox.errors import InputError  # noqa: E402
from simbox.fastpath import ReadStats, ber, ber_reference  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
MAKE_FIXTURE = HERE.parent / "tests" / "data" / "ber" / "make_pycrate_cdr.py"


def pycrate_fixture() -> bytes | None:
    """The pycrate-encoded cross-check file (written by tests/data/ber/make_pycrate_cdr.py),
    or None without pycrate."""
    import importlib.util
    import tempfile
    try:
        import pycrate_asn1dir.CDR  # noqa: F401
    except ImportError:
        return None
    spec = importlib.util.spec_from_file_location("make_pycrate_cdr", MAKE_FIXTURE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with tempfile.TemporaryDirectory() as d:
        return mod.build(pathlib.Path(d) / "x.cdr", records=200).read_bytes()


def corpus(seed: int) -> list[bytes]:
    """Valid files: writer output (plain/indefinite, with/without headers) and fixture slices."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    files = []
    for k in range(6):
        n = int(rng.integers(1, 25))
        rt = rng.choice(["MOC", "MTC", "SMS_MO", "SMS_MT"], n)
        ev = pd.DataFrame(dict(
            record_type=rt, start_time=rng.integers(946771200, 4102358400, n),
            imsi=[str(x) for x in rng.integers(10**5, 10**15, n)],
            imei=[str(x) if x % 3 else "" for x in rng.integers(10**13, 10**16, n)],
            msisdn=[str(x) if x % 4 else "" for x in rng.integers(10**6, 10**15, n)],
            other_party=[str(rng.choice(["", "0049301234567", "112", "8613900000000"])) for _ in range(n)],
            duration_s=np.where(np.isin(rt, ["MOC", "MTC"]), rng.integers(0, 10**5, n), 0),
            cell_id=[str(rng.choice(["", "46000-1-2", "310410-65535-0", "7-8"])) for _ in range(n)]))
        path = f"/tmp/fuzz-ber-{os.getpid()}.cdr"
        ber_writer.write_ber(path, ev, indefinite=bool(k % 2), utc_offset_minutes=[0, 330, -480][k % 3])
        data = pathlib.Path(path).read_bytes()
        os.unlink(path)
        files.append(data)
        files.append(ber_writer.records_without_headers(data))
    fx = pycrate_fixture()
    if fx is not None:
        for start in (0, 3000):
            end = cdr_boundary(fx, start + 40)
            body = fx[cdr_boundary(fx, start):end] if start else fx[54:end]
            files.append(ber_writer.file_header(54 + len(body), 40, 946771200, 946771200) + body)
    return files


def cdr_boundary(data: bytes, index: int) -> int:
    """Offset of the index-th CDR of a TS 32.297 file."""
    off = struct.unpack_from(">I", data, 4)[0]
    for _ in range(index):
        off += 5 + int.from_bytes(data[off:off + 2], "big")
    return off


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not b:
            break
        i = rng.randrange(len(b))
        op = rng.randrange(8)
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[i] = rng.randrange(256)
        elif op == 2:
            b[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 3:
            del b[i:i + rng.randint(1, 32)]
        elif op == 4:
            del b[i:]
        elif op == 5:       # a length octet made long, indefinite, reserved or huge
            b[i:i + 1] = rng.choice([b"\x80", b"\x81", b"\x84\xff\xff\xff\xff", b"\xff", b"\x7f",
                                     b"\x83\x01\x00\x00", b"\x00"])
        elif op == 6:       # splice a copy of another part
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randint(1, 64)]
        else:               # deep nesting of indefinite lengths
            b[i:i] = b"\xa0\x80" * rng.randint(1, 40)
    return bytes(b)


def one(data: bytes, chunk: int) -> tuple:
    stats = ReadStats()
    rows = 0
    for _, _, n in ber._iter_columns(io.BytesIO(data), stats=stats, rejects=None,
                                     on_bad_records="skip", chunk_records=chunk, progress=None,
                                     full=chunk % 2 == 1):
        rows += n
    assert rows == stats.accepted
    assert stats.records == stats.accepted + stats.rejected_total + stats.skipped
    return stats.accepted, stats.rejected_total, stats.skipped


def check_reference(data: bytes, got: tuple):
    layout = ber.sniff(data[:ber.HEAD_BYTES])
    if layout == "ts32297":
        hl = struct.unpack_from(">I", data, 4)[0]
        if len(data) < hl:
            exp = (0, 1, 0)
        else:
            rows, rej, sk = ber_reference.decode_bytes(data, hl, 1)
            exp = (len(rows), len(rej), sk)
    else:
        rows, rej, sk = ber_reference.decode_bytes(data, 0, 2)
        exp = (len(rows), len(rej), sk)
    assert got == exp, (got, exp)


class Hang(Exception):
    pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per input before a hang")
    ap.add_argument("--check-every", type=int, default=50)
    ap.add_argument("--replay", type=int, default=None, help="run only input number N (debugging)")
    ap.add_argument("--allow-release", action="store_true",
                    help="without Cython and without an installed debug build, fuzz the release build")
    args = ap.parse_args(argv)
    faulthandler.enable()
    logging.getLogger("simbox").setLevel(logging.ERROR)   # header/count mismatch warnings
    from simbox.fastpath import _ber
    debug = _ber.DEBUG_BUILD
    files = corpus(args.seed)
    ber.HEAD_BYTES = 64

    def alarm(*_):
        raise Hang()
    signal.signal(signal.SIGALRM, alarm)
    counts = {"decoded clean": 0, "with rejects": 0, "not BER (InputError)": 0, "checked vs reference": 0}
    records = [0, 0, 0]
    t0 = time.monotonic()
    todo = [args.replay] if args.replay is not None else range(args.inputs)
    for i in todo:
        rng = random.Random(args.seed * 1_000_003 + i)
        data = mutate(rng, rng.choice(files))
        ber.BLOCK_BYTES = 1 if rng.random() < 0.01 else rng.choice([7, 64, 300, 4096, 1 << 20])
        chunk = rng.choice([1, 3, 50, 100_000, 100_000, 100_000])
        signal.setitimer(signal.ITIMER_REAL, args.timeout)
        try:
            got = one(data, chunk)
        except InputError:
            counts["not BER (InputError)"] += 1
            got = None
        except Hang:
            print(f"HANG at input {i} (seed {args.seed}): {data.hex()}", file=sys.stderr)
            return 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if got is not None:
            counts["with rejects" if got[1] else "decoded clean"] += 1
            for k in range(3):
                records[k] += got[k]
            if args.check_every and i % args.check_every == 0:
                check_reference(data, got)
                counts["checked vs reference"] += 1
        if i and i % 100_000 == 0:
            print(f"  {i:,} inputs, {time.monotonic() - t0:,.0f} s", file=sys.stderr, flush=True)
    dt = time.monotonic() - t0
    n = len(todo)
    print(f"fuzz_ber: {n:,} inputs in {dt:,.0f} s ({n / dt:,.0f}/s), seed {args.seed}, "
          f"build {'debug (reads checked)' if debug else 'release'}, no crash, no hang")
    print(f"{'outcome':<28} {'inputs':>12}")
    for k, v in counts.items():
        print(f"{k:<28} {v:>12,}")
    print(f"{'records accepted':<28} {records[0]:>12,}")
    print(f"{'records rejected':<28} {records[1]:>12,}")
    print(f"{'records skipped':<28} {records[2]:>12,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
