"""Transport cases of the signaling reader: TCP segments with several or partial Diameter
messages, SCTP bundles and fragments, IP fragments, piggybacked GTPv2-C, VLAN tags."""
import collections
import struct

import scapy.contrib.diameter as dm
import scapy.contrib.gtp_v2 as g2
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.layers.sctp import SCTP, SCTPChunkData, SCTPChunkSACK

from simbox.fastpath.signaling import decode_signaling
from simbox.fastpath.signaling_ref import reference_decode

FIELDS = ["packet", "kind", "time", "imsi", "imei", "msisdn", "plmn", "lac", "ci", "rat"]


def ulr(imsi):
    return bytes(dm.DiamG(drFlags=0xC0, drCode=316, drAppId=16777251,
                          avpList=[dm.AVP(263, val="mme;1"), dm.AVP(1, val=imsi)]))


def csr(imsi, piggyback=False):
    return bytes(g2.GTPHeader(T=1, P=int(piggyback), teid=0, seq=1, gtp_type=32)
                 / g2.GTPV2CreateSessionRequest(IE_list=[g2.IE_IMSI(IMSI=imsi)]))


# MAC addresses given: scapy would look the destination up (ARP, routes) for each frame
MACS = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}


def write(path, packets):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for p in packets:
        b = bytes(p)
        out += struct.pack("<IIII", 1700000000, 0, len(b), len(b)) + b
    path.write_bytes(out)
    return path


def run(path):
    c = collections.Counter()
    df = decode_signaling(path, counts=c)
    assert df[FIELDS].to_dict("records") == reference_decode(path)
    return list(df.imsi), c


def tcp(payload, flags="PA"):
    return Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=3868, flags=flags) / payload


def test_tcp_several_messages_split_and_continuation(tmp_path):
    a, b, c = ulr("001010000000001"), ulr("001010000000002"), ulr("001010000000003")
    path = write(tmp_path / "t.pcap", [
        tcp(a + b),                 # two messages in one segment
        tcp(c[:30]),                # a message continued in the next segment
        tcp(c[30:] + a),            # starts inside a message: skipped (no reassembly)
        tcp(b"", flags="A"),        # a bare ACK
    ])
    imsis, counts = run(path)
    assert imsis == ["001010000000001", "001010000000002"]
    assert counts["tcp_split"] == 1 and counts["tcp_continuation"] == 1
    assert counts["not_signaling"] == 1 and counts["events"] == 2


def test_sctp_bundles_and_fragments(tmp_path):
    a, b = ulr("001010000000004"), ulr("001010000000005")
    base = Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / SCTP(sport=3868, dport=3868)
    path = write(tmp_path / "s.pcap", [
        base / SCTPChunkSACK() / SCTPChunkData(proto_id=46, data=a, beginning=1, ending=1)
        / SCTPChunkData(proto_id=46, data=b, beginning=1, ending=1),
        base / SCTPChunkData(proto_id=46, data=a[:40], beginning=1, ending=0),
        base / SCTPChunkSACK(),
    ])
    imsis, counts = run(path)
    assert imsis == ["001010000000004", "001010000000005"]
    assert counts["sctp_other"] == 2


def test_ip_fragments_vlan_and_piggyback(tmp_path):
    udp = UDP(sport=2123, dport=2123)
    two = csr("001010000000006", piggyback=True) + csr("001010000000007")
    path = write(tmp_path / "g.pcap", [
        Ether(**MACS) / Dot1Q(vlan=10) / Dot1Q(vlan=20) / IP() / udp / two,
        Ether(**MACS) / IP(flags="MF", frag=0) / udp / csr("001010000000008"),
        Ether(**MACS) / IP() / UDP(sport=9999, dport=2152) / b"\x30\xff\x00\x00",
    ])
    imsis, counts = run(path)
    assert imsis == ["001010000000006", "001010000000007"]
    assert counts["ip_fragment"] == 1 and counts["not_signaling"] == 1
