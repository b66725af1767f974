"""Synthetic per-SIM feature tables for the training tests (no CDRs needed)."""
import numpy as np
import pandas as pd

NAMES = ["n_moc", "n_mtc", "n_sms_mo", "n_sms_mt", "n_data", "moc_callees", "moc_callee_ratio",
         "n_cells", "n_imeis", "moc_dur_mean", "moc_dur_std", "moc_zero_share",
         "moc_night_share", "active_hours", "moc_gap_median", "moc_gap_lt30_share",
         "mt_mo_ratio", "imei_max_imsis"]
SCHEMA_HASH = "test-schema-" + "-".join(n[:3] for n in NAMES)
#: model settings of the tests that train: 30 boosting iterations (the library's 200 take
#: ~7x as long and test nothing more; the one slow end-to-end run keeps the defaults)
FAST = {"max_iter": 30}


def make_network(n_legit=3000, n_boxes=24, n_farms=12, seed=0, overlap=0.15):
    """Features of a small network: legit SIMs, SIM boxes and card farms in cases.

    Returns (features, truth): truth has imsi, label, case_id, kind, legit_group, imei.
    ``overlap`` is the share of fraud SIMs that behave like legit ones (hard cases).
    """
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    imsi = 460001000000000

    def sim(label, case, kind, group, imei, k_imsis):
        nonlocal imsi
        imsi += 1
        hard = label != "legit" and rng.random() < overlap
        if label == "simbox" and not hard:
            moc = rng.poisson(300); mtc = rng.poisson(2); smo = rng.poisson(1)
            callees = int(moc * rng.uniform(0.7, 1.0)); cells = rng.integers(1, 3)
        elif label == "cardfarm" and not hard:
            moc = rng.poisson(3); mtc = rng.poisson(1); smo = rng.poisson(400)
            callees = min(moc, rng.poisson(3)); cells = rng.integers(1, 3)
        else:
            moc = rng.poisson(rng.choice([10, 40, 120])); mtc = rng.poisson(max(moc * 0.8, 1))
            smo = rng.poisson(15); callees = int(moc * rng.uniform(0.1, 0.6))
            cells = rng.integers(1, 40)
        d = rng.gamma(2, 60, size=max(moc, 1))
        rows.append({
            "imsi": str(imsi), "n_moc": moc, "n_mtc": mtc, "n_sms_mo": smo,
            "n_sms_mt": rng.poisson(10), "n_data": rng.poisson(50 if label == "legit" or hard else 2),
            "moc_callees": callees, "moc_callee_ratio": callees / moc if moc else np.nan,
            "n_cells": cells, "n_imeis": 1 + (rng.random() < 0.05),
            "moc_dur_mean": d.mean() if moc else np.nan,
            "moc_dur_std": d.std(ddof=1) if moc > 1 else np.nan,
            "moc_zero_share": rng.uniform(0, 0.3) if moc else np.nan,
            "moc_night_share": rng.uniform(0, 0.2) if moc else np.nan,
            "active_hours": rng.integers(5, 150),
            "moc_gap_median": rng.exponential(600) if moc > 1 else np.nan,
            "moc_gap_lt30_share": rng.uniform(0, 0.5) if moc > 1 else np.nan,
            "mt_mo_ratio": mtc / moc if moc else np.nan,
            "imei_max_imsis": k_imsis,
        })
        truth.append((str(imsi), label, case, kind, group, imei))

    for i in range(n_legit):
        group = rng.choice(["ordinary", "call_centre", "driver", "m2m"], p=[0.85, 0.05, 0.05, 0.05])
        sim("legit", f"legit-{i}", "", group, f"35{i:013d}", 1 + (group == "driver"))
    for b in range(n_boxes + n_farms):
        label = "simbox" if b < n_boxes else "cardfarm"
        kind = ("plain" if b % 2 else "spoof") if label == "simbox" else ("sms_farm" if b % 2 else "otp_farm")
        n = int(rng.integers(4, 17))
        per_device = 8 if kind in ("plain", "sms_farm") else 1
        for j in range(n):
            sim(label, f"case-{b}", kind, "", f"86{b:06d}{j // per_device:07d}",
                min(per_device, n))
    feats = pd.DataFrame(rows).set_index("imsi")
    feats.index.name = "imsi"
    truth = pd.DataFrame(truth, columns=["imsi", "label", "case_id", "kind", "legit_group", "imei"])
    return feats[NAMES], truth
