"""Signaling capture -> attach events: simbox's reader vs scapy's full dissection, one run.

    python benchmarks/bench_signaling.py                      # >= 1M packets
    python benchmarks/bench_signaling.py --packets 200000 --scapy-sample 2000

Builds a classic pcap with the simulator's pcap writer (attaches of a simulated
network, GTPv2-C CSR + S6a ULR per attach; repeated with shifted times until the
capture holds ``--packets``), then times on the same file:

- simbox ``read_signaling_events`` end to end (file -> EventBatches with cell codes);
- its parts: the Cython walker alone on the file's bytes in memory, and the rest;
- scapy ``RawPcapReader`` alone (container only, no dissection);
- scapy full dissection (``RawPcapReader`` + ``Ether()`` + reading the fields, the
  reference decoder) on the first ``--scapy-sample`` packets, extrapolated;
- the pcapng path (scapy's ``RawPcapNgReader`` + the Cython walker) on a pcapng
  copy of the first ``--pcapng-packets`` packets.

Prints a table.  Figures depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

import numpy as np


def simulated_attaches(subscribers, days, seed):
    """(time, imsi, imei, msisdn, cell tokens, span seconds, source note)."""
    try:
        from simbox.data.simulate import build_network
    except ImportError:
        build_network = None
    if build_network is not None:
        net = build_network(subscribers, days, "mixed", seed)
        a = net.attaches
        tokens = np.asarray(net.cells["cell_id"], dtype=object)[a.cell]
        return (a.time, a.imsi, a.imei, a.msisdn, tokens, days * 86400,
                f"simulator: {subscribers:,} subscribers x {days} days, {len(a):,} attaches")
    from simbox.fastpath.events import encode_digits
    rng = np.random.default_rng(seed)
    n = subscribers * days
    imsi = 1460000000000000 + rng.integers(0, subscribers, n)
    dev = rng.integers(0, subscribers // 2, n)
    imei = 135209900000000 * 10 + dev
    cells = np.array([f"46000-{i % 500}-{i}" for i in range(5000)], dtype=object)
    t = np.sort(1772366400 + rng.integers(0, days * 86400, n))
    return (t, imsi, imei, np.full(n, encode_digits("8613800000000")), cells[rng.integers(0, 5000, n)],
            days * 86400, f"synthetic (simulator not installed): {n:,} attaches")


def build_capture(path, packets, subscribers, days, seed):
    from simbox.data.pcap_writer import AttachPcapWriter
    from simbox.fastpath.events import decode_array
    t, imsi, imei, msisdn, cells, span, note = simulated_attaches(subscribers, days, seed)
    imsi_s, imei_s, msisdn_s = decode_array(imsi), decode_array(imei), decode_array(msisdn)
    reps = 0
    t0 = time.perf_counter()
    with AttachPcapWriter(path) as w:
        while w.written < packets:
            for s in range(0, len(t), 100_000):
                sl = slice(s, s + 100_000)
                w.write((t[sl] + reps * span).tolist(), imsi_s[sl], imei_s[sl], msisdn_s[sl], cells[sl])
                if w.written >= packets:
                    break
            reps += 1
        n = w.written
    return n, time.perf_counter() - t0, f"{note}, written {reps}x"


def time_simbox(path):
    from simbox.fastpath.signaling import read_signaling_events
    from simbox.fastpath.stats import ReadStats
    st = ReadStats()
    t0 = time.perf_counter()
    events = sum(len(b) for b in read_signaling_events(path, stats=st))
    return time.perf_counter() - t0, events, st.records


def time_kernel(path):
    """The Cython walker alone, the file's bytes already in memory."""
    from simbox.fastpath import _sigdecode
    data = pathlib.Path(path).read_bytes()
    sink = _sigdecode.Sink(1 << 20)
    t0 = time.perf_counter()
    pos, n, bad = _sigdecode.walk_records(sink, data, 24, False, 1, 0, 0, 1 << 62, 1 << 18)
    return time.perf_counter() - t0, sink.n, n


def time_rawpcapreader(path, limit=None):
    from scapy.utils import RawPcapReader
    t0 = time.perf_counter()
    n = 0
    with RawPcapReader(str(path)) as r:
        for _ in r:
            n += 1
            if limit and n >= limit:
                break
    return time.perf_counter() - t0, n


def time_scapy(path, sample):
    from scapy.utils import RawPcapReader
    from simbox.fastpath.signaling_ref import decode_packet
    t0 = time.perf_counter()
    events = n = 0
    with RawPcapReader(str(path)) as r:
        for data, meta in r:
            events += len(decode_packet(data, r.linktype, meta.sec, n))
            n += 1
            if n >= sample:
                break
    return time.perf_counter() - t0, events, n


def write_pcapng(src, dst, limit):
    """A pcapng copy (SHB, one Ethernet IDB, EPBs with microsecond times) of the first packets."""
    import struct
    from scapy.utils import RawPcapReader
    n = 0
    with RawPcapReader(str(src)) as r, open(dst, "wb") as f:
        f.write(struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28))
        f.write(struct.pack("<IIHHII", 1, 20, 1, 0, 65535, 20))
        for data, meta in r:
            ts = meta.sec * 1_000_000 + meta.usec
            pad = b"\0" * (-len(data) % 4)
            blen = 32 + len(data) + len(pad)
            f.write(struct.pack("<IIIIIII", 6, blen, 0, ts >> 32, ts & 0xFFFFFFFF, len(data),
                                len(data)) + data + pad + struct.pack("<I", blen))
            n += 1
            if n >= limit:
                break
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--subscribers", type=int, default=50_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scapy-sample", type=int, default=5_000)
    ap.add_argument("--pcapng-packets", type=int, default=200_000)
    ap.add_argument("--keep", metavar="DIR", help="write the captures here and keep them")
    args = ap.parse_args(argv)
    d = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="bench-sig-"))
    d.mkdir(parents=True, exist_ok=True)
    path = d / "signaling.pcap"
    n_pkts, t_write, note = build_capture(path, args.packets, args.subscribers, args.days, args.seed)
    size = os.path.getsize(path)
    print(f"capture: {path} {n_pkts:,} packets, {size / 1e6:,.0f} MB ({note}); "
          f"written in {t_write:.1f} s ({n_pkts / t_write:,.0f} packets/s)", file=sys.stderr)

    t_sb, ev_sb, pk_sb = time_simbox(path)
    t_k, ev_k, pk_k = time_kernel(path)
    t_raw, pk_raw = time_rawpcapreader(path)
    t_sc, ev_sc, pk_sc = time_scapy(path, args.scapy_sample)
    ng = d / "signaling.pcapng"
    n_ng = write_pcapng(path, ng, args.pcapng_packets)
    t_ng, ev_ng, pk_ng = time_simbox(ng)

    ev_per_pkt = ev_sb / pk_sb
    scapy_pps = pk_sc / t_sc
    scapy_eps = ev_sc / t_sc
    rows = [
        ("simbox read_signaling_events (pcap, end to end)", pk_sb, ev_sb, t_sb),
        ("  Cython walker alone (bytes in memory)", pk_k, ev_k, t_k),
        ("  rest: file reads, cell tokens, batches", pk_sb, ev_sb, max(t_sb - t_k, 1e-9)),
        ("scapy RawPcapReader alone (no dissection)", pk_raw, 0, t_raw),
        (f"scapy full dissection (first {pk_sc:,} packets, extrapolated)", pk_sb,
         round(pk_sb * ev_sc / max(pk_sc, 1)), pk_sb / scapy_pps),
        (f"simbox on pcapng ({n_ng:,} packets; RawPcapNgReader + Cython)", pk_ng, ev_ng, t_ng),
    ]
    print(f"\nSignaling -> attach events, {pk_sb:,}-packet capture ({ev_per_pkt:.2f} events/packet)")
    print(f"{'what':<66} {'packets':>11} {'events':>11} {'seconds':>9} {'packets/s':>12} {'events/s':>12}")
    for name, p, e, t in rows:
        print(f"{name:<66} {p:>11,} {e:>11,} {t:>9.2f} {p / t:>12,.0f} {e / t if e else 0:>12,.0f}")
    print(f"\nspeed-up, attach events/s, simbox end to end vs scapy full dissection: "
          f"{(ev_sb / t_sb) / scapy_eps:,.0f}x")
    print(f"share of simbox's time in the Cython walker: {t_k / t_sb:.0%}; "
          f"RawPcapReader alone would take {t_raw / t_sb:.1f}x simbox's whole run")
    if not args.keep:
        for f in (path, ng):
            f.unlink()
        d.rmdir()


if __name__ == "__main__":
    main()
