"""A small synthetic network shaped exactly like ``FeatureResult`` (docs/internals.md).

Used to test deployments, sites, reasons and the writers without the fast path
or a model: the predictions are made up here, the grouping and locating are
what the tests check.
"""
from __future__ import annotations

import types

import numpy as np
import pandas as pd

FEATURES = ["n_moc", "n_mtc", "n_sms_mo", "n_sms_mt", "n_data", "moc_callees", "moc_callee_ratio",
            "n_cells", "n_imeis", "moc_dur_mean", "moc_dur_std", "moc_zero_share",
            "moc_night_share", "active_hours", "moc_gap_median", "moc_gap_lt30_share",
            "mt_mo_ratio", "imei_max_imsis"]

LAT0, LON0 = 31.2300, 121.4700
STEP = 0.005  # about 500 m between sites


def make_cells(n_side=6):
    rows = []
    for i in range(n_side):
        for j in range(n_side):
            site = f"S{i * n_side + j:02d}"
            for k, az in enumerate((0, 120, 240)):
                rows.append({"cell_id": f"46000-{i * n_side + j}-{k}", "site_id": site,
                             "lat": LAT0 + i * STEP, "lon": LON0 + j * STEP, "azimuth": az,
                             "address": f"{i * 10 + j} Test Road"})
    return pd.DataFrame(rows)


def _profile(hours, rng, total):
    p = np.zeros(24)
    p[list(hours)] = 1.0
    return rng.multinomial(total, p / p.sum()).astype(np.int32)


def make_network(seed=1):
    rng = np.random.default_rng(seed)
    cells = make_cells()
    cell_ids = cells["cell_id"].tolist()
    site_of = dict(zip(cells["cell_id"], cells["site_id"]))
    t0 = pd.Timestamp("2026-03-01T00:00:00Z")
    sims, feats, hours, devices, cell_ev, pred = [], [], [], [], [], []
    truth = {}

    def add(imsi, msisdn, imei, cellmix, hrs, total, cls, score, f, first_day=0, last_day=6,
            deployment=""):
        main_cell = max(cellmix, key=cellmix.get)
        sims.append({"imsi": imsi, "msisdn": msisdn, "main_imei": imei if isinstance(imei, str)
                     else imei[0], "main_tac": "", "device_type": "", "main_cell": main_cell,
                     "main_site": site_of.get(main_cell, ""),
                     "first_seen": t0 + pd.Timedelta(days=first_day, hours=1),
                     "last_seen": t0 + pd.Timedelta(days=last_day, hours=22), "n_events": total})
        feats.append(f)
        hours.append(_profile(hrs, rng, total))
        for im in ([imei] if isinstance(imei, str) else imei):
            if im:
                devices.append({"imsi": imsi, "imei": im, "events": total,
                                "first_seen": sims[-1]["first_seen"],
                                "last_seen": sims[-1]["last_seen"]})
        for c, share in cellmix.items():
            cell_ev.append({"imsi": imsi, "cell_id": c, "events": max(1, int(total * share))})
        pred.append({"imsi": imsi, "class": cls, "score": score, "flagged": cls != "legit"})
        truth[imsi] = deployment

    # legitimate subscribers: many cells, daytime, calls both ways
    for n in range(300):
        cs = rng.choice(cell_ids, size=rng.integers(3, 9), replace=False)
        mix = dict(zip(cs, rng.dirichlet(np.ones(len(cs)))))
        f = {"n_moc": rng.integers(5, 60), "n_mtc": rng.integers(5, 60), "n_sms_mo": rng.integers(0, 30),
             "n_sms_mt": rng.integers(0, 40), "n_data": rng.integers(20, 300),
             "moc_callees": rng.integers(3, 20), "moc_callee_ratio": rng.uniform(0.2, 0.6),
             "n_cells": len(cs), "n_imeis": 1, "moc_dur_mean": rng.uniform(40, 200),
             "moc_dur_std": rng.uniform(30, 150), "moc_zero_share": rng.uniform(0, 0.2),
             "moc_night_share": rng.uniform(0, 0.1), "active_hours": rng.integers(20, 80),
             "moc_gap_median": rng.uniform(1000, 20000), "moc_gap_lt30_share": rng.uniform(0, 0.05),
             "mt_mo_ratio": rng.uniform(0.5, 2.0), "imei_max_imsis": 1}
        add(f"4600010{n:08d}", f"86139{n:08d}", f"35{n:012d}", mix, range(7, 23),
            int(rng.integers(50, 400)), "legit", float(rng.uniform(0, 0.3)), f)

    def fraud_features(callees, sims_per_device, cells_n=1):
        return {"n_moc": callees + 20, "n_mtc": 0, "n_sms_mo": 0, "n_sms_mt": 1, "n_data": 0,
                "moc_callees": callees, "moc_callee_ratio": 0.95, "n_cells": cells_n, "n_imeis": 1,
                "moc_dur_mean": 95.0, "moc_dur_std": 12.0, "moc_zero_share": 0.4,
                "moc_night_share": 0.02, "active_hours": 80, "moc_gap_median": 25.0,
                "moc_gap_lt30_share": 0.7, "mt_mo_ratio": 0.0, "imei_max_imsis": sims_per_device}

    # A: a SIM box of 16 SIMs in 2 gateways (8 SIMs per IMEI), consecutive IMSIs, at S14
    for k in range(16):
        add(f"46000209{k:07d}", f"86150{rng.integers(10**7, 10**8)}", f"86{k // 8:012d}",
            {"46000-14-0": 0.9, "46000-15-2": 0.1}, range(8, 21), 800, "simbox",
            0.9 + 0.005 * (k % 4), fraud_features(400, 8), deployment="A")
    # B: a card farm of 24 modems, each its own IMEI, a block of MSISDNs, around the clock at S27
    for k in range(24):
        f = fraud_features(5, 1)
        f.update({"n_moc": 2, "moc_callees": 1, "n_sms_mo": 3000, "mt_mo_ratio": np.nan})
        add(f"4600030{rng.integers(10**7, 10**8)}", f"8617000{k:06d}", f"87{k:012d}",
            {"46000-27-1": 0.6, "46000-28-1": 0.4}, range(24), 1200, "cardfarm", 0.8, f,
            deployment="B")
    # C: a second, smaller box at S14 working nights, no shared devices or number blocks
    for k in range(6):
        add(f"4600040{rng.integers(10**7, 10**8)}", f"86188{rng.integers(10**7, 10**8)}",
            f"88{k:012d}", {"46000-14-1": 1.0}, range(0, 6), 500, "simbox", 0.7,
            fraud_features(200, 1), first_day=0, last_day=3, deployment="C")
    # D: one lone flagged SIM on a phone that moves
    add("460005000000001", "8613999999999", "89000000000000",
        {"46000-0-0": 0.5, "46000-35-0": 0.5}, range(9, 18), 100, "simbox", 0.65,
        fraud_features(60, 1, cells_n=2), deployment="D")

    sims_df = pd.DataFrame(sims).set_index("imsi")
    feats_df = pd.DataFrame(feats, index=sims_df.index)[FEATURES].astype(float)
    res = types.SimpleNamespace(
        features=feats_df, sims=sims_df, hours=np.vstack(hours).astype(np.int32),
        devices=pd.DataFrame(devices), cells=pd.DataFrame(cell_ev), timezone="UTC")
    predictions = pd.DataFrame(pred).set_index("imsi")
    return types.SimpleNamespace(res=res, cells=cells, predictions=predictions,
                                 truth=pd.Series(truth, name="deployment"))
