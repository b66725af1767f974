"""Long fuzzing run of the CDR CSV reader (the suite runs a short one).

Mutates valid CDR CSV bytes (plain and gzip) at random and checks, for each
input, that the reader never crashes (only simbox errors), that every record is
accepted, rejected or skipped, and that the Cython kernel agrees exactly with
the pure-Python reference (``simbox.fastpath.csvref``) at random chunk sizes.
With ``atheris`` installed, ``--atheris`` runs it coverage-guided instead::

    python tools/fuzz_csv.py --seconds 600 [--seed 1]
    python tools/fuzz_csv.py --inputs 1000000 --seed 1     # bounds-checked kernel (tools/debug_build.py)
    python tools/fuzz_csv.py --atheris -- -max_total_time=600
"""
from __future__ import annotations

import argparse
import gzip
import io
import random
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
if __name__ == "__main__":      # the bounds-checked kernel, loaded before the reader imports it
    from debug_build import kernels
    kernels(["_csvread"], allow_release="--allow-release" in sys.argv)

from simbox.errors import SimboxError  # noqa: E402
from simbox.fastpath import CellDict, EventBatch, ReadStats, RejectsWriter  # noqa: E402
from simbox.fastpath.csvread import read_csv_events  # noqa: E402
from simbox.fastpath.csvref import read_reference  # noqa: E402

SEED = (b"record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
        b"MOC,2026-03-01T12:00:05Z,460001234567890,35678901234567,8613800000001,10086,65,46000-1-2\n"
        b'"MTC","2026-03-01 12:00:05.5+08:00","460001234567891",,"+86138","0049",0,"46000-""1"",2"\r\n'
        b"SMS_MO,2026-03-01T12:00:05Z,460001234567892,,8613800000001,10086,12.5,\n"
        b'DATA,2026-03-01T12:00:05Z,460001234567893,,8613800000001,,3600,"a\nb"\n'
        b"SMS_MT,20260301120005,460001234567894,,1,2,0,\xc3\xa9\n")
INTERESTING = b',"\r\n\x00\xff\xc3\x80.+-:ZT09 '


class Collect(RejectsWriter):
    def __init__(self):
        super().__init__(None)
        self.rows = []

    def write(self, file, reason, *, line=None, byte_offset=None, field=None, record=None,
              detail=None):
        super().write(file, reason)
        self.rows.append((line, field, reason))


def check(data: bytes, chunk_bytes: int) -> None:
    """Raise AssertionError when the reader misbehaves on ``data``."""
    cells, stats, rej = CellDict(), ReadStats(), Collect()
    try:
        b = EventBatch.concat(read_csv_events(io.BytesIO(data), cells=cells, stats=stats,
                                              rejects=rej, chunk_bytes=chunk_bytes))
    except SimboxError:
        return
    assert stats.records == stats.accepted + stats.rejected_total + stats.skipped
    if data[:2] == b"\x1f\x8b":
        return
    rows = [(int(r), int(t), int(i), int(e), int(m), int(o), int(d),
             cells.tokens[c] if c >= 0 else None) for r, t, i, e, m, o, d, c in zip(*b.columns().values())]
    ref_rows, ref_rejects, ref_skipped = read_reference(data)
    assert rows == ref_rows, "rows differ from the reference"
    assert rej.rows == ref_rejects, "rejects differ from the reference"
    assert stats.skipped == ref_skipped


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 10)):
        pos = rng.randint(0, len(b))
        byte = rng.choice(INTERESTING) if rng.random() < 0.7 else rng.randint(0, 255)
        op = rng.random()
        if op < 0.4:
            b[pos:pos] = bytes([byte])
        elif op < 0.7 and pos < len(b):
            b[pos] = byte
        elif pos < len(b):
            del b[pos:pos + rng.randint(1, 8)]
        else:
            b += b[:rng.randint(0, len(b))]
    return bytes(b)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--inputs", type=int, default=None, help="stop after N inputs (not a time)")
    ap.add_argument("--allow-release", action="store_true",
                    help="without Cython and without an installed debug build, fuzz the release build")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--atheris", action="store_true", help="coverage-guided (needs atheris)")
    a, rest = ap.parse_known_args(argv)
    if a.atheris:
        import atheris

        def one(data: bytes):
            check(data, 1 + (data[0] if data else 0))
        atheris.Setup([sys.argv[0]] + rest, one)
        atheris.Fuzz()
        return 0
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    gz = gzip.compress(SEED * 3)
    n, end = 0, time.monotonic() + (a.seconds if a.inputs is None else float("inf"))
    t0 = time.monotonic()
    while time.monotonic() < end and (a.inputs is None or n < a.inputs):
        data = mutate(rng, SEED) if rng.random() < 0.8 else mutate(rng, gz)[:rng.randint(0, len(gz))]
        try:
            check(data, rng.randint(1, 200))
        except AssertionError as e:
            print(f"seed {seed}, case {n}: {e}\ninput: {data!r}", file=sys.stderr)
            return 1
        n += 1
        if n % 100_000 == 0:
            print(f"{n:,} inputs, {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
    from simbox.fastpath import _csvread
    print(f"{n:,} inputs, no failure (seed {seed}, debug={_csvread.DEBUG})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
