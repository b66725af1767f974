"""Random GTPv2-C CSR, S6a ULR and Gx CCR packets built with scapy: Cython decoder == scapy reference."""
import os
import struct
import tempfile

from hypothesis import HealthCheck, given, settings, strategies as st

import scapy.contrib.diameter as dm
import scapy.contrib.gtp_v2 as g2
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import CookedLinux, Dot1Q, Ether
from scapy.layers.sctp import SCTP, SCTPChunkData

from simbox.fastpath.signaling import decode_signaling
from simbox.fastpath.signaling_ref import reference_decode

FIELDS = ["packet", "kind", "time", "imsi", "imei", "msisdn", "plmn", "lac", "ci", "rat"]


def digits(lo, hi):
    return st.text(alphabet="0123456789", min_size=lo, max_size=hi)


def tbcd(d):
    if len(d) % 2:
        d += "F"
    return bytes(int(d[i + 1], 16) << 4 | int(d[i], 16) for i in range(0, len(d), 2))


def plmn_bytes(p):
    mnc3 = int(p[5]) if len(p) == 6 else 0xF
    return bytes([int(p[1]) << 4 | int(p[0]), mnc3 << 4 | int(p[2]), int(p[4]) << 4 | int(p[3])])


plmns = st.one_of(digits(5, 5), digits(6, 6))
location = st.fixed_dictionaries({
    "plmn": plmns, "tac": st.integers(0, 0xFFFF), "eci": st.integers(0, 0x0FFFFFFF),
    "kind": st.sampled_from(["tai_ecgi", "ecgi", "cgi", "sai", "tai", "none"]),
})
subscriber = st.fixed_dictionaries({
    "imsi": digits(6, 15), "imei": st.one_of(st.just(""), digits(14, 16)),
    "msisdn": st.one_of(st.just(""), digits(1, 15)), "loc": location,
    "rat": st.integers(0, 10),
    "diameter_rat": st.sampled_from([1000, 1004, 1005, 32767, 32768, 2**32 - 1]),
})


def uli_fields(loc):
    """(ULI flags, octets) of a location, as TS 29.274 8.21 lays them out."""
    p = plmn_bytes(loc["plmn"])
    tai = p + loc["tac"].to_bytes(2, "big")
    ecgi = p + loc["eci"].to_bytes(4, "big")
    lac_ci = p + loc["tac"].to_bytes(2, "big") + (loc["eci"] & 0xFFFF).to_bytes(2, "big")
    return {"tai_ecgi": (0x18, tai + ecgi), "ecgi": (0x10, ecgi), "cgi": (0x01, lac_ci),
            "sai": (0x02, lac_ci), "tai": (0x08, tai), "none": (0, b"")}[loc["kind"]]


def csr(sub, seq):
    ies = [g2.IE_IMSI(IMSI=sub["imsi"])]
    if sub["msisdn"]:
        ies.append(g2.IE_MSISDN(digits=sub["msisdn"]))
    if sub["imei"]:
        ies.append(g2.IE_MEI(MEI=sub["imei"]))
    flags, octets = uli_fields(sub["loc"])
    # scapy's ULI sub-fields split the PLMN nibbles wrongly: give the IE its octets as a raw IE
    ies.append(g2.IE_NotImplementedTLV(ietype=86, length=1 + len(octets),
                                       data=bytes([flags]) + octets))
    ies += [g2.IE_RAT(RAT_type=sub["rat"]), g2.IE_APN(APN="internet")]
    return g2.GTPHeader(T=1, teid=0, seq=seq, gtp_type=32) / g2.GTPV2CreateSessionRequest(IE_list=ies)


def ulr(sub):
    avps = [dm.AVP(263, val="mme;1;2"), dm.AVP(1, val=sub["imsi"]),
            dm.AVP([1032, 10415], val=sub["diameter_rat"])]
    imei = sub["imei"]
    if imei:
        ti = [dm.AVP([1402, 10415], val=imei[:14] if len(imei) == 16 else imei)]
        if len(imei) == 16:
            ti.append(dm.AVP([1403, 10415], val=imei[14:]))
        avps.append(dm.AVP([1401, 10415], val=ti))
    avps.append(dm.AVP([1407, 10415], val=plmn_bytes(sub["loc"]["plmn"])))
    return dm.DiamG(drFlags=0xC0, drCode=316, drAppId=16777251, avpList=avps)


def ccr(sub, ue_format):
    avps = [dm.AVP(263, val="pgw;1;2"), dm.AVP(416, val=1),
            dm.AVP(443, val=[dm.AVP(450, val=1), dm.AVP(444, val=sub["imsi"])])]
    if sub["msisdn"]:
        avps.append(dm.AVP(443, val=[dm.AVP(444, val=sub["msisdn"]), dm.AVP(450, val=0)]))
    imei = sub["imei"]
    if imei:
        value = {"ascii": imei.encode(), "octets": bytes(int(c) for c in imei),
                 "tbcd": tbcd(imei)}[ue_format]
        if ue_format == "tbcd" and all(b <= 9 for b in value) and 14 <= len(value) <= 16:
            value = imei.encode()     # would read as one digit per octet: not a TBCD test
        avps.append(dm.AVP(458, val=[dm.AVP(459, val=0), dm.AVP(460, val=value)]))
    flags, octets = uli_fields(sub["loc"])
    typ = {0x18: 130, 0x10: 129, 0x01: 0, 0x02: 1, 0x08: 128, 0: 131}[flags]
    avps.append(dm.AVP([22, 10415], val=bytes([typ]) + octets))
    avps.append(dm.AVP([1032, 10415], val=1004))
    return dm.DiamG(drFlags=0xC0, drCode=272, drAppId=16777238, avpList=avps)


# MAC addresses given: scapy would look the destination up (ARP, routes) for each frame
MACS = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}


def frame(l3, link, vlan):
    if link == "ether":
        return (Ether(**MACS) / Dot1Q(vlan=7) / l3) if vlan else Ether(**MACS) / l3
    if link == "sll":
        return CookedLinux(proto=0x0800 if IP in l3 else 0x86DD) / l3
    return l3


@st.composite
def packets(draw):
    sub = draw(subscriber)
    msg = draw(st.sampled_from(["csr", "ulr", "ccr"]))
    ipv6 = draw(st.booleans())
    ip = IPv6(src="2001:db8::1", dst="2001:db8::2") if ipv6 else IP(src="10.0.0.1", dst="10.0.0.2")
    if msg == "csr":
        l3 = ip / UDP(sport=draw(st.sampled_from([2123, 40000])), dport=2123) / csr(sub, 1)
    else:
        diam = ulr(sub) if msg == "ulr" else ccr(sub, draw(st.sampled_from(["ascii", "octets", "tbcd"])))
        if draw(st.booleans()):
            l3 = ip / TCP(sport=40000, dport=3868, flags="PA") / diam
        else:
            l3 = ip / SCTP(sport=3868, dport=3868) / SCTPChunkData(proto_id=46, data=bytes(diam),
                                                                   beginning=1, ending=1)
    link = draw(st.sampled_from(["ether", "sll", "raw"]))
    return bytes(frame(l3, link, draw(st.booleans()))), {"ether": 1, "sll": 113, "raw": 101}[link]




@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(packets(), min_size=1, max_size=4), st.integers(0, 2**31))
def test_random_packets_cython_equals_scapy(pkts, t):
    fd, path = tempfile.mkstemp(suffix=".pcap")
    try:
        with os.fdopen(fd, "wb") as f:
            # one file per link type: a classic pcap has one link type
            lt = pkts[0][1]
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, lt))
            kept = [p for p, l in pkts if l == lt]
            for p in kept:
                f.write(struct.pack("<IIII", t, 0, len(p), len(p)) + p)
        ours = decode_signaling(path)[FIELDS].to_dict("records")
        ref = reference_decode(path)
        assert ours == ref
        assert len(ours) == len(kept)       # every random message carries an IMSI
    finally:
        os.unlink(path)
