"""Fuzz the signaling decoder with byte mutations of real packets, under the bounds-checked build.

Since issue 19 the seeds include GSM MAP over SIGTRAN (M3UA / M2PA, SCCP UDT / XUDT).

    python tools/fuzz_signaling.py --inputs 1000000            # builds the debug kernel first
    python tools/fuzz_signaling.py --inputs 20000 --module path/to/_sigdecode.so

Seeds: every packet of the captures in ../shared/captures/ (when there) plus packets written by the
simulator's pcap writer.  Each input is a seed packet with 1-8 mutations (bit flips,
random bytes, 16/24/32-bit length fields set to extremes, truncation, insertion,
deletion, duplication), decoded under each link type it could be read as; whole
mutated pcap files go through the classic-pcap record walker too.

The kernel is built as ``SIMBOX_DEBUG=1`` builds it (Cython bounds checks on) under
``build/fuzz-debug`` (``tools/debug_build.py``), so the normal in-place build is left alone;
without Cython an installed ``SIMBOX_DEBUG=1`` build is used.  An out-of-bounds read shows as an IndexError, a crash kills the process
(faulthandler prints where), a hang trips the watchdog (``--hang-seconds`` per
batch).  The failing input is saved to ``--out`` with its batch seed.  Exit 0 =
no failure.
"""
from __future__ import annotations

import argparse
import faulthandler
import glob
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
CAPTURES = ROOT.parent / "shared" / "captures"      # real captures, beside the repository
sys.path.insert(0, str(ROOT / "tools"))
from debug_build import kernels  # noqa: E402
LINKTYPES = np.array([1, 113, 101, 276, 0], np.int32)


def seeds() -> list[tuple[bytes, int]]:
    """(packet, link type) of every packet of the test captures and of the pcap writer."""
    from scapy.utils import RawPcapReader
    out = []
    files = sorted(glob.glob(str(CAPTURES / "*.pcap*")))
    from simbox.data.pcap_writer import AttachPcapWriter
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "w.pcap"
        with AttachPcapWriter(p) as w:
            w.write([1772366405, 1772366406], ["460001234567890", "46000123456"],
                    ["3520990017614823", ""], ["8613800000000", ""],
                    ["46000-1234-56789", "310410-65535-268435455"])
        for f in files + [str(p)] + map_seed_captures(pathlib.Path(d)):
            r = RawPcapReader(f)
            for data, meta in r:
                out.append((bytes(data), getattr(meta, "linktype", None) or r.linktype))
            r.close()
    return out


def map_seed_captures(d: pathlib.Path) -> list[str]:
    """GSM MAP over SIGTRAN captures of every operation, transport and SCCP message type
    written by the simulator's SIGTRAN writer (``data/sigtran_writer.py``)."""
    from simbox.data import sigtran_writer as W
    out = []
    for tr in ("m3ua", "m2pa"):
        for sc in ("udt", "xudt"):
            w = W.MapDialogues(tr, sc)
            t = 1772366405_000000
            w.update_location(t, "460001234567890", "8613900000101", "3520990017614823",
                              W.lai_octets("46000", 1234))
            w.update_gprs_location(t, "46000123456789", "8613900000401", "352099001761482")
            w.send_auth_info(t, "460001234567892")
            w.check_imei(t, "352099001761482", "460001234567893", 2)
            w.check_imei(t, "352099001761482")
            w.provide_subscriber_info(t, "460001234567894", W.lai_octets("310410", 65535, 65535),
                                      "3520990017614823")
            p = d / f"map_{tr}_{sc}.pcap"
            W.write_map_pcap(p, w.records)
            out.append(str(p))
    return out


def is_sigtran(pkt: bytes) -> bool:
    """An Ethernet/IPv4/SCTP packet whose first chunk is DATA with PPID 3 (M3UA) or 5 (M2PA)."""
    return (len(pkt) > 62 and pkt[12:14] == b"\x08\x00" and pkt[23] == 132 and pkt[46] == 0
            and pkt[58:62] in (b"\0\0\0\x03", b"\0\0\0\x05"))


def signaling_seeds(mod, pool):
    """The seeds that reach GTPv2-C or Diameter (by the decoder's own counts); attach ones x8."""
    keep = []
    for data, lt in pool:
        sink = mod.Sink(16)
        mod.decode_packets(sink, data, np.array([0]), np.array([len(data)]), np.array([lt], np.int32),
                           np.zeros(1, np.int64), np.zeros(1, np.uint8), np.zeros(1, np.int64), 0)
        c = dict(zip(mod.COUNT_NAMES, sink.counts.tolist()))
        if c["events"]:
            keep += [(data, lt)] * 8
        elif (c["gtp_other"] or c["diameter_other"] or c["no_imsi"] or c["map_other"]
              or c["tcap_other"] or c["sccp_segment"]):
            keep.append((data, lt))
    return keep


def mutate(rng: np.random.Generator, pkt: bytes) -> bytes:
    b = bytearray(pkt)
    for _ in range(int(min(rng.geometric(0.5), 8))):
        op = int(rng.integers(0, 8))
        n = len(b)
        if n == 0:
            b = bytearray(rng.bytes(int(rng.integers(1, 64))))
            continue
        # mostly inside the signaling message, past the link/IP/transport headers
        lo = min(n - 1, 42) if rng.random() < 0.85 else 0
        i = int(rng.integers(lo, n))
        if op == 0:
            b[i] ^= 1 << int(rng.integers(0, 8))
        elif op == 1:
            b[i] = int(rng.integers(0, 256))
        elif op == 2:                                   # a length-like field to an extreme
            w = int(rng.choice([1, 2, 3, 4]))
            v = int(rng.choice([0, 1, 4, 7, 8, 12, 20, 255, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF]))
            b[i:i + w] = (v & ((1 << (8 * w)) - 1)).to_bytes(w, "big")
        elif op == 3:
            del b[i:]
        elif op == 4:
            b[i:i] = rng.bytes(int(rng.integers(1, 16)))
        elif op == 5:
            del b[i:i + int(rng.integers(1, 16))]
        elif op == 6:
            j = int(rng.integers(0, n))
            b[i:i] = b[j:j + int(rng.integers(1, 32))]
        else:
            b[i:i + 4] = b"\x00" * 4
    return bytes(b)


def make_inputs(rng, pool, sig, n):
    pick_sig = rng.random(n) < 0.8
    out, links = [], np.empty(n, np.int32)
    for k in range(n):
        src = sig if pick_sig[k] else pool
        data, lt = src[int(rng.integers(0, len(src)))]
        out.append(mutate(rng, data))
        links[k] = lt if rng.random() < 0.95 else LINKTYPES[int(rng.integers(0, len(LINKTYPES)))]
    return out, links


def run_batch(mod, rng, pool, sig, n, totals):
    pkts, links = make_inputs(rng, pool, sig, n)
    lens = np.fromiter((len(p) for p in pkts), np.int64, n)
    ends = np.cumsum(lens)
    starts = ends - lens
    buf = b"".join(pkts)
    sink = mod.Sink(1024)
    mod.decode_packets(sink, buf, starts, ends, links, np.zeros(n, np.int64),
                       rng.integers(0, 2, n).astype(np.uint8), starts, 0)
    c = sink.counts
    totals["counts"] += c
    for r in np.asarray(sink.rej_reason[:sink.nrej]).tolist():
        totals["reasons"][r] = totals["reasons"].get(r, 0) + 1
    if c[0] != n or sink.n != c[1] or (sink.n and (np.asarray(sink.imsi[:sink.n]) <= 0).any()):
        raise AssertionError(f"inconsistent counts {c.tolist()} for {n} packets, {sink.n} rows")
    # the container walker on a mutated pcap made of a few of these packets
    recs = b"".join(np.array([0, 0, len(p), len(p)], "<u4").tobytes() + p for p in pkts[:50])
    blob = mutate(rng, recs) if rng.random() < 0.5 else recs
    mod.walk_records(mod.Sink(64), blob, 0, bool(rng.integers(0, 2)), 1, 0, 24, 1 << 30, 1 << 18)
    return pkts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inputs", type=int, default=1_000_000, help="mutated packets to decode")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--module", type=pathlib.Path, help="a built _sigdecode module (default: build debug)")
    ap.add_argument("--hang-seconds", type=float, default=120.0)
    ap.add_argument("--allow-release", action="store_true",
                    help="without Cython and without an installed debug build, fuzz the release build")
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "fuzz-failures")
    args = ap.parse_args(argv)
    mod = kernels(["_sigdecode"], allow_release=args.allow_release,
                  module_paths={"_sigdecode": args.module} if args.module else None)["_sigdecode"]
    if not mod.DEBUG:
        print(f"warning: {mod.__file__} is not a SIMBOX_DEBUG build: bounds are not checked",
              file=sys.stderr)
    pool = seeds()
    sig = signaling_seeds(mod, pool)     # 80% of the inputs: they reach the deep parsers
    # MAP over SIGTRAN: half of the signaling inputs (its few seeds weighted up)
    maps = [x for x in sig if is_sigtran(x[0])]
    if maps:
        sig += maps * max(1, (len(sig) - len(maps)) // len(maps))
    done, batch_no, t0 = 0, 0, time.monotonic()
    totals = {"counts": np.zeros(len(mod.COUNT_NAMES), np.int64), "reasons": {}}
    faulthandler.enable()
    while done < args.inputs:
        n = min(args.batch, args.inputs - done)
        rng = np.random.default_rng([args.seed, batch_no])
        faulthandler.dump_traceback_later(args.hang_seconds, exit=True)
        try:
            run_batch(mod, rng, pool, sig, n, totals)
        except Exception as exc:
            args.out.mkdir(parents=True, exist_ok=True)
            # replay the batch packet by packet to isolate the input
            rng = np.random.default_rng([args.seed, batch_no])
            pkts, _ = make_inputs(rng, pool, sig, n)
            bad = args.out / f"batch{batch_no}.bin"
            bad.write_bytes(b"".join(len(p).to_bytes(4, "big") + p for p in pkts))
            print(f"FAIL batch {batch_no} (seed {args.seed}): {type(exc).__name__}: {exc}; "
                  f"inputs saved to {bad}", file=sys.stderr)
            return 1
        finally:
            faulthandler.cancel_dump_traceback_later()
        done += n
        batch_no += 1
        if batch_no % 20 == 0:
            el = time.monotonic() - t0
            print(f"{done:,} inputs, {el:.0f}s, {done / el:,.0f}/s", file=sys.stderr, flush=True)
    el = time.monotonic() - t0
    print(f"OK: {done:,} mutated inputs ({len(pool):,} seeds; signaling ones weighted, "
          f"debug={mod.DEBUG}) in {el:.0f}s, "
          "no crash, no hang, no out-of-bounds read")
    print("decoder outcomes: " + ", ".join(f"{k} {v:,}" for k, v in
                                           zip(mod.COUNT_NAMES, totals["counts"].tolist())))
    print("rejects by reason: " + ", ".join(
        f"{mod.REASONS[r]} {v:,}" for r, v in sorted(totals["reasons"].items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
