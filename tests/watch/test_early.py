"""The early-warning layer of simbox watch (simbox/watch/early.py) on a small network: the
sample's subscribers plus young devices written here, whose truth the test knows."""
import json
import os

import numpy as np
import pandas as pd
from simbox.watch import Watcher
from simbox.watch.early import MIN_CALLS

GATEWAY, MODEM, MODULE, FCT, PHONE = "86000001", "86000003", "86000002", "86000004", "35001234"
HOUR = 3600


def _imei(tac: str, serial: int) -> str:
    return f"{tac}{serial:06d}0"


class Rows:
    """Canonical CDR rows of made-up SIMs."""

    def __init__(self, cell):
        self.rows, self.cell, self.n = [], cell, 0

    def sim(self) -> str:
        self.n += 1
        return f"4600099{self.n:08d}"

    def add(self, rtype, t, imsi, imei, other="", duration=0):
        self.n += 1
        self.rows.append({"record_type": rtype,
                          "start_time": pd.Timestamp(t, unit="s", tz="UTC")
                          .strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "imsi": imsi, "imei": imei, "msisdn": "86199" + imsi[-8:],
                          "other_party": other, "duration_s": str(duration),
                          "cell_id": self.cell})

    def fresh(self) -> str:
        self.n += 1
        return f"86138{self.n:08d}"


def _build(sample_rows, cells_csv, tmp):
    t = pd.to_datetime(sample_rows["start_time"], utc=True)
    start = int((t.min() - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1))
    cell = pd.read_csv(cells_csv, dtype=str)["cell_id"].iloc[0]
    r = Rows(cell)
    truth = {}
    # young devices start on the third day (the sample starts on a Sunday: the first day
    # of weekday time, which makes a SIM new rather than quiet, ends on Tuesday 00:00)
    t0 = start - start % HOUR + 40 * HOUR
    # A: a SIM bank, 6 SIMs one after another through one gateway port, one call each
    gw = _imei(GATEWAY, 1)
    bank = [r.sim() for _ in range(6)]
    for i, s in enumerate(bank):
        r.add("MOC", t0 + i * 2400 + 600, s, gw, r.fresh(), 75)
        truth[s] = "simbox"
    r.add("SMS_MT", t0 + 700, bank[0], gw, "10086")
    calls = sorted(t0 + i * 2400 + 600 for i in range(6))
    # B: a new dual-SIM phone, both SIMs dialling new numbers only
    phone = _imei(PHONE, 900001)
    for k in range(2):
        s = r.sim()
        truth[s] = "dual_sim"
        for j in range(3):
            r.add("MOC", t0 + k * 300 + j * 900, s, phone, r.fresh(), 40)
    # C: a phone shop: one handset activates 8 new SIMs (a call each), which then go on in
    #    their owners' phones
    shop = _imei(PHONE, 900002)
    for k in range(8):
        s = r.sim()
        truth[s] = "phone_shop"
        r.add("MOC", t0 + k * 600, s, shop, r.fresh(), 20)
        own = _imei(PHONE, 910000 + k)
        for j in range(4):
            r.add("MOC", t0 + 2 * HOUR + j * 1800, s, own, r.fresh(), 60)
        r.add("MTC", t0 + 3 * HOUR, s, own, r.fresh(), 30)
        r.add("DATA", t0 + 3 * HOUR + 60, s, own, "", 120)
    # D: a call centre on fixed cellular terminals, there from the first hour
    for k in range(5):
        s = r.sim()
        truth[s] = "call_centre"
        term = _imei(FCT, 800 + k)
        for j in range(40):
            r.add("MOC", start + 600 + j * 1700 + k * 13, s, term, r.fresh(), 50)
    # E: a card farm's modem cycling 4 new SIMs, each taking verification SMS
    modem = _imei(MODEM, 5)
    farm = [r.sim() for _ in range(4)]
    for i, s in enumerate(farm):
        truth[s] = "cardfarm"
        for j, code in enumerate(("95588", "10690", "106575")):
            r.add("SMS_MT", t0 + i * 1800 + 120 + j * 400, s, modem, code)
    # F: a new M2M fleet of 3 meters at one site reporting by SMS to one server number
    server = r.fresh()
    for k in range(3):
        s = r.sim()
        truth[s] = "m2m"
        for j in range(8):
            r.add("SMS_MO", t0 + k * 60 + j * 1800, s, _imei(MODULE, 700 + k), server)
    rows = pd.concat([sample_rows, pd.DataFrame(r.rows)], ignore_index=True)
    tac = pd.read_csv(cells_csv.parent / "tac.csv", dtype=str)
    tac = pd.concat([tac, pd.DataFrame({"tac": [GATEWAY, MODEM, MODULE, FCT],
                                        "device_type": ["gsm_gateway", "modem", "m2m_module",
                                                        "fct"]})])
    tac_path = tmp / "tac.csv"
    tac.to_csv(tac_path, index=False)
    return rows, tac_path, truth, {"start": start, "bank_calls": calls, "young": t0}


def _drops(rows, folder, start):
    """Day one as one file, then one file an hour (file names in time order)."""
    folder.mkdir()
    t = pd.to_datetime(rows["start_time"], utc=True)
    sec = ((t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy()
    slot = np.maximum((sec - start) // HOUR - 23, 0)
    names = []
    for k in np.unique(slot):
        name = folder / f"drop-{int(k):04d}.csv"
        rows[slot == k].sort_values("start_time").to_csv(name, index=False)
        names.append(name)
    return names


def test_early_alerts_a_sim_bank_and_a_farm_and_spares_the_hard_negatives(
        sample_rows, cells_csv, model, tmp_path):
    rows, tac, truth, times = _build(sample_rows, cells_csv, tmp_path)
    drops = tmp_path / "drops"
    drops.mkdir()
    files = _drops(rows, tmp_path / "staged", times["start"])
    out = tmp_path / "out"
    # the model's threshold out of reach: the alerts are the early layer's alone (on so
    # little history the model flags some of the hard negatives written here too)
    w = Watcher(drops, tmp_path / "state", out, model=model, cells=cells_csv, tac=tac,
                timezone="UTC", settle=0, report=False, min_history="1d", history=False,
                threshold=1.0)
    try:
        for f in files:          # one file at a time, in order, as they land
            os.replace(f, drops / f.name)
            w.poll(once=True)
    finally:
        w.close()
    alerts = [json.loads(x) for x in (out / "alerts.jsonl").read_text().splitlines()]
    early = [a for a in alerts if a["state"] != "cleared"]
    assert all(a["reasons"].startswith("early warning: ") for a in early)
    by_kind = {}
    for a in early:
        by_kind.setdefault(truth.get(a["imsi"], "sample"), []).append(a)
    # the reference: the bank is alerted by the first drop after its MIN_CALLS-th call (a
    # file holds an hour: the alert's network time is at most an hour after that call)
    bank = by_kind.get("simbox", [])
    assert bank, "the SIM bank raised no early alert"
    first = min(pd.Timestamp(a["network_time"]) for a in bank)
    due = pd.Timestamp(times["bank_calls"][MIN_CALLS - 1], unit="s", tz="UTC")
    assert due <= first <= due + pd.Timedelta(hours=1)
    assert {a["class"] for a in bank} == {"simbox"}
    assert "rotation" in " ".join(a["reasons"] for a in bank)
    farm = by_kind.get("cardfarm", [])
    assert farm and {a["class"] for a in farm} == {"cardfarm"}
    for kind in ("dual_sim", "phone_shop", "call_centre", "m2m"):
        assert kind not in by_kind, (kind, by_kind.get(kind))
    # the layer off: none of these alerts
    w = Watcher(drops, tmp_path / "state2", tmp_path / "out2", model=model, cells=cells_csv,
                tac=tac, timezone="UTC", settle=0, report=False, min_history="1d",
                history=False, early=False, batch=100, threshold=1.0)
    try:
        w.poll(once=True)
    finally:
        w.close()
    assert not (tmp_path / "out2" / "alerts.jsonl").exists() or \
        not (tmp_path / "out2" / "alerts.jsonl").read_text()
