"""The simulator's pcap writer: scapy dissects what it writes, the reader gives the attaches back."""
import numpy as np
import pytest

import scapy.contrib.diameter as dm
import scapy.contrib.gtp_v2 as g2
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapReader

from simbox.data.pcap_writer import parse_cell, plmn_octets, write_attach_pcap
from simbox.errors import InputError
from simbox.fastpath.events import CellDict, EventBatch, decode_array, encode_digits as e
from simbox.fastpath.signaling import read_signaling_events
from simbox.fastpath.signaling_ref import plmn

ATTACHES = [  # time, imsi, imei, msisdn, cell
    (1772366405, "460001234567890", "3520990017614823", "8613800000000", "46000-1234-56789"),
    (1772366406, "460001234567891", "352099001761481", "", "310410-65535-268435455"),
    (1772366407, "46000123456", "", "86138", "46000-1-2"),
    (1772366408, "460001234567893", "35209900176148", "8613800000001", "46001-7-9"),
]


@pytest.fixture
def written(tmp_path):
    path = tmp_path / "sig.pcap"
    cols = list(zip(*ATTACHES))
    n = write_attach_pcap(path, np.array(cols[0]), np.array([e(x) for x in cols[1]]),
                          np.array([e(x) for x in cols[2]]), np.array([e(x) for x in cols[3]]),
                          np.array(cols[4], dtype=object))
    assert n == 2 * len(ATTACHES)
    return path


def test_scapy_dissects_written_packets(written):
    pkts = [Ether(d) for d, _ in RawPcapReader(str(written))]
    for (t, imsi, imei, msisdn, cell), ulr, csr in zip(ATTACHES, pkts[0::2], pkts[1::2]):
        p, lac, ci = parse_cell(cell)
        for pkt in (ulr, csr):       # checksums as scapy computes them
            ip = pkt[IP].copy()
            del ip.chksum
            assert IP(bytes(ip)).chksum == pkt[IP].chksum
        tcp = ulr[TCP]
        rebuilt = ulr.copy()
        del rebuilt[TCP].chksum
        assert Ether(bytes(rebuilt))[TCP].chksum == tcp.chksum
        d = ulr[dm.DiamG]
        assert (int(d.drCode), int(d.drAppId), int(d.drFlags) & 0x80) == (316, 16777251, 0x80)
        avps = {int(a.avpCode): a for a in d.avpList if hasattr(a, "avpCode")}
        assert avps[1].val == imsi.encode()
        assert bytes(avps[1407])[12:15] == plmn_octets(p)
        if imei:
            ti = {int(a.avpCode): a.val for a in avps[1401].val if hasattr(a, "avpCode")}
            sv = len(imei) == 16                 # IMEISV: 14 IMEI digits + Software-Version
            assert ti[1402] == (imei[:14] if sv else imei).encode()
            assert ti.get(1403, b"") == (imei[14:] if sv else "").encode()
        else:
            assert 1401 not in avps
        ies = {ie.ietype: ie for ie in csr[g2.GTPV2CreateSessionRequest].IE_list}
        assert ies[1].IMSI == imsi.encode()
        assert (ies[75].MEI == imei.encode()) if imei else 75 not in ies
        assert (ies[76].digits == msisdn.encode()) if msisdn else 76 not in ies
        uli = ies[86]
        assert uli.TAI_Present and uli.ECGI_Present
        assert (uli.TAI.TAC, uli.ECGI.ECI) == (lac, ci)
        assert plmn(bytes(uli.ECGI)[:3]) == plmn(bytes(uli.TAI)[:3]) == p
        assert ies[82].RAT_type == 6


def test_reader_gives_the_attaches_back(written):
    cells = CellDict()
    b = EventBatch.concat(read_signaling_events(written, cells=cells))
    df = b.to_pandas(cells)
    assert len(df) == 8
    csr = df.iloc[1::2]
    assert list(csr.imsi) == [a[1] for a in ATTACHES]
    assert list(csr.imei) == [a[2] for a in ATTACHES]
    assert list(csr.msisdn) == [a[3] for a in ATTACHES]
    assert list(csr.cell_id) == [a[4] for a in ATTACHES]
    assert list(b.time[1::2]) == [a[0] for a in ATTACHES]
    ulr = df.iloc[0::2]                       # same IMSI and IMEI(SV) from the Diameter side
    assert list(ulr.imsi) == [a[1] for a in ATTACHES]
    assert list(ulr.imei) == [a[2] for a in ATTACHES]
    assert list(ulr.cell_id) == [""] * 4


@pytest.mark.parametrize("token,msg", [
    ("46000-1-", "cell id '46000-1-' is not MCCMNC-LAC-CI"),
    ("4600-1-2", "cell PLMN must be 5 or 6 digits (MCC+MNC), not '4600'"),
    ("46000-70000-2", "cell id '46000-70000-2': LAC must be < 65536 and CI < 2**28 to map to TAC/ECI"),
])
def test_bad_cells(token, msg):
    with pytest.raises(InputError) as exc:
        parse_cell(token)
    assert str(exc.value) == msg


def test_simulate_signaling_shows_sim_bank_rotation(tmp_path):
    """simbox simulate --signaling writes a pcap in which SIM-bank rotation is visible, and
    simbox features reads it alone (every IMSI of the capture gets a row) or with the CDRs."""
    import json
    import pandas as pd
    from simbox.cli import main
    from simbox.fastpath.signaling import decode_signaling
    out = tmp_path / "sim"
    assert main(["simulate", "--subscribers", "6000", "--days", "1", "--scenario", "mixed",
                 "--seed", "1", "--out", str(out), "--signaling"]) == 0
    pcap = out / "signaling.pcap"
    truth = pd.read_csv(out / "truth.csv", dtype=str).set_index("imsi")
    df = decode_signaling(pcap)
    csr = df[df.kind == "gtpv2_csr"]
    ulr = df[df.kind == "s6a_ulr"]
    assert len(csr) == len(ulr) and (ulr.imei.values == csr.imei.values).all()
    # 2G/3G registrations (GSM MAP over SIGTRAN): every SIM box, part of the population
    ul = df[df.kind == "map_ul"]
    assert set(truth.loc[csr.imsi, "class"]) <= {"legit", "cardfarm"}
    assert set(truth.loc[ul.imsi, "class"]) == {"legit", "cardfarm", "simbox"}
    assert set(df.kind) == {"gtpv2_csr", "s6a_ulr", "map_ul", "map_ugl", "map_sai",
                            "map_check_imei", "map_psi"}
    reg = pd.concat([csr, ul])
    pop = truth.loc[reg.imsi, "kind"].values
    bank = reg[pop == "simbox_remote_bank"]
    legit = reg[truth.loc[reg.imsi, "class"].values == "legit"]
    # rotation: a banked SIM moves between gateway ports (IMEIs); a port carries many SIMs
    assert bank.groupby("imsi").imei.nunique().max() >= 2
    assert bank.groupby("imei").imsi.nunique().max() >= 3
    assert legit[legit.imei != ""].groupby("imei").imsi.nunique().max() <= 2   # dual-SIM phones
    cells = set(pd.read_csv(out / "cells.csv", dtype=str).cell_id)
    assert set(csr.cell_id) <= cells                    # ECGI tokens are the simulator's cells
    assert set(df[df.kind == "map_psi"].cell_id) <= cells          # so are the CGIs of PSI answers
    lai = {c.rsplit("-", 1)[0] + "-*" for c in cells}
    assert set(ul.cell_id) <= lai                       # the LAI of UpdateLocation: MCCMNC-LAC-*

    feats = tmp_path / "f.csv"
    assert main(["features", "--signaling", str(pcap), "--cells", str(out / "cells.csv"),
                 "--out", str(feats)]) == 0
    f = pd.read_csv(feats, dtype={"imsi": str}).set_index("imsi")
    assert set(f.index) == set(df.imsi)
    assert f.loc[bank.imsi.unique(), "n_imeis"].max() >= 2
    assert f.loc[bank.imsi.unique(), "imei_max_imsis"].max() >= 3
    assert (f.n_moc == 0).all()                         # attaches are never calls
    both = tmp_path / "both.csv"
    assert main(["features", str(out / "cdrs.csv.gz"), "--signaling", str(pcap),
                 "--out", str(both), "--json"]) == 0


def test_features_signaling_must_be_captures(tmp_path, capsys):
    from simbox.cli import main
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n")
    assert main(["features", "--signaling", str(bad), "--out", str(tmp_path / "f.csv")]) == 1
    assert capsys.readouterr().err == (f"simbox features: error: {bad}: not a pcap or pcapng capture "
                                       "(starts with 612c620a); export the capture as pcap or pcapng\n")
    assert main(["features", "--out", str(tmp_path / "f.csv")]) == 1
    assert "give at least one CDR file or --signaling capture" in capsys.readouterr().err
