"""GSM MAP over SIGTRAN -> attach events: the Cython walker vs scapy vs pycrate, and
``simbox features --signaling`` end to end, on one >= 1M-packet capture.

    python benchmarks/bench_map.py                           # >= 1M packets
    python benchmarks/bench_map.py --packets 200000 --sample 2000

The capture is the simulator's MAP registration traffic (``data/sigtran_writer.py``:
Ethernet / IPv4 / SCTP / M3UA / SCCP UDT / TCAP / MAP; sendAuthenticationInfo,
updateLocation, checkIMEI, updateGprsLocation, provideSubscriberInfo, each a Begin and
an End) of a simulated network, repeated with shifted times until it holds
``--packets``.  Timed on the same file:

- the Cython walker alone on the file's bytes in memory;
- simbox ``read_signaling_events`` end to end (file -> EventBatches);
- scapy's full dissection (``Ether()`` of each packet: scapy stops at the SCTP DATA
  chunk, it has no M3UA, SCCP, TCAP or MAP layer) on the first ``--sample`` packets,
  extrapolated;
- pycrate decoding the M3UA payloads (SIGTRAN, SCCP, TCAP-MAP ASN.1: the reference,
  ``fastpath/sigtran_ref.py``) on the same sample, extrapolated;
- ``simbox features --signaling`` (the command, in this process) on the capture.

Prints a table.  Figures depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_signaling import time_kernel, time_simbox  # noqa: E402


def build_capture(path, packets, subscribers, days, seed):
    from simbox.data.pcap_writer import PCAP_HEADER
    from simbox.data.simulate import build_network
    from simbox.data.sigtran_writer import pcap_records, registration_plan, registration_records
    import numpy as np
    t0 = time.perf_counter()
    net = build_network(subscribers, days, "mixed", seed)
    plan = registration_plan(net, seed)
    tokens = np.asarray(net.cells["cell_id"], dtype=object)
    recs = registration_records(plan, tokens, seed)
    span_us = days * 86400 * 1_000_000
    n = reps = 0
    with open(path, "wb") as f:
        f.write(PCAP_HEADER)
        while n < packets:
            take = recs[:packets - n]
            f.write(pcap_records([(t + reps * span_us, d) for t, d in take]))
            n += len(take)
            reps += 1
    note = (f"simulator: {subscribers:,} subscribers x {days} days, {len(plan['time']):,} MAP "
            f"registrations, {len(recs):,} packets, written {reps}x")
    return n, time.perf_counter() - t0, note


def time_scapy_ether(path, sample):
    """scapy's full dissection of each packet (it ends at the SCTP DATA chunk)."""
    from scapy.layers.l2 import Ether
    from scapy.layers.sctp import SCTPChunkData
    from scapy.utils import RawPcapReader
    t0 = time.perf_counter()
    n = chunks = 0
    with RawPcapReader(str(path)) as r:
        for data, _ in r:
            p = Ether(data)
            chunks += SCTPChunkData in p
            n += 1
            if n >= sample:
                break
    return time.perf_counter() - t0, n, chunks


def time_pycrate(path, sample):
    """pycrate on the M3UA payloads (the reference), the framing below done by offsets."""
    from scapy.utils import RawPcapReader
    from simbox.fastpath.sigtran_ref import MapReference
    ref = MapReference()
    payloads = []
    with RawPcapReader(str(path)) as r:
        for data, meta in r:
            payloads.append((bytes(data[14 + 20 + 12 + 16:]), meta.sec))
            if len(payloads) >= sample:
                break
    t0 = time.perf_counter()
    events = sum(len(ref.m3ua(p, i, t)) for i, (p, t) in enumerate(payloads))
    return time.perf_counter() - t0, len(payloads), events


def time_features(path, out):
    from simbox.cli import main
    t0 = time.perf_counter()
    rc = main(["features", "--signaling", str(path), "--out", str(out)])
    if rc != 0:
        raise SystemExit(f"simbox features failed ({rc})")
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sample", type=int, default=5_000, help="packets decoded by scapy / pycrate")
    ap.add_argument("--keep", metavar="DIR", help="write the capture here and keep it")
    args = ap.parse_args(argv)
    d = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="bench-map-"))
    d.mkdir(parents=True, exist_ok=True)
    path = d / "map.pcap"
    n_pkts, t_write, note = build_capture(path, args.packets, args.subscribers, args.days, args.seed)
    size = os.path.getsize(path)
    print(f"capture: {path} {n_pkts:,} packets, {size / 1e6:,.0f} MB ({note}); "
          f"built in {t_write:.1f} s", file=sys.stderr)

    t_k, ev_k, pk_k = time_kernel(path)
    t_sb, ev_sb, pk_sb = time_simbox(path)
    t_sc, pk_sc, _ = time_scapy_ether(path, args.sample)
    t_pc, pk_pc, ev_pc = time_pycrate(path, args.sample)
    t_f = time_features(path, d / "features.parquet")
    rows = [
        ("Cython MAP walker alone (bytes in memory)", pk_k, ev_k, t_k),
        ("simbox read_signaling_events (end to end)", pk_sb, ev_sb, t_sb),
        (f"scapy full dissection, to SCTP DATA only (first {pk_sc:,}, extrapolated)", pk_k, 0,
         pk_k * t_sc / pk_sc),
        (f"pycrate SIGTRAN+SCCP+TCAP-MAP (first {pk_pc:,}, extrapolated)", pk_k,
         round(pk_k * ev_pc / pk_pc), pk_k * t_pc / pk_pc),
        ("simbox features --signaling (command, end to end)", pk_sb, ev_sb, t_f),
    ]
    print(f"\nGSM MAP over SIGTRAN -> attach events, {pk_k:,}-packet capture, {size / 1e6:,.0f} MB")
    print(f"{'what':<70} {'packets':>11} {'events':>11} {'seconds':>9} {'packets/s':>12}")
    for name, p, e, t in rows:
        print(f"{name:<70} {p:>11,} {e:>11,} {t:>9.2f} {p / t:>12,.0f}")
    print(f"\nwalker vs scapy's dissection: {(pk_k / t_k) / (pk_sc / t_sc):,.0f}x packets/s; "
          f"vs pycrate: {(pk_k / t_k) / (pk_pc / t_pc):,.0f}x")
    if not args.keep:
        for f in d.iterdir():
            f.unlink()
        d.rmdir()


if __name__ == "__main__":
    main()
