"""The device rule (simbox/device_rule.py): a non-placeholder IMEI carrying more than 512
IMSIs whose SIMs have at most 2 main sites is a card farm, whatever the model says."""
import gzip
import importlib

import numpy as np
import pandas as pd
import pytest

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))
from farms import small_farm  # noqa: E402
from simbox.device_rule import (MAX_GATEWAY_SIMS, candidates, farm_devices, placeholder_imei,
                                reason_text)

scan_mod = importlib.import_module("simbox.scan")    # the module (simbox.scan is callable)


@pytest.mark.parametrize("imei, placeholder", [
    ("", True), ("0", True), ("00000000000000", True),
    ("35000000000000", True),              # a TAC and no serial
    ("350000000000001", True),             # the same with a check digit
    ("3569380300000012", True),            # an IMEISV of that form
    ("86111111999999", True),              # a TAC of one repeated digit
    ("11111111234567", True),
    ("35693803777777", True),              # a serial of one repeated digit
    ("35000000000001", False),             # the attack's farm: serial 000001
    ("35693803564380", False), ("356938035643809", False),
    ("a1b2c3", False),                     # an anonymised token is a device
])
def test_placeholder_imeis(imei, placeholder):
    assert placeholder_imei([imei]).tolist() == [placeholder]


def tables(pairs: pd.DataFrame, site: dict, categorical: bool):
    """``(features, sims, devices)`` shaped as a FeatureResult's, from IMSI-IMEI ``pairs``
    and each SIM's main site."""
    on = pairs.assign(n=pairs["imei"].map(pairs.groupby("imei")["imsi"].nunique()))
    index = pd.Index(sorted(site), name="imsi", dtype=object)
    features = pd.DataFrame({"imei_max_imsis": on.groupby("imsi")["n"].max().reindex(index)
                             .to_numpy(), "n_moc": 0}, index=index)
    sims = pd.DataFrame({"main_site": pd.Series(site).reindex(index).to_numpy()}, index=index)
    if categorical:
        pairs = pairs.assign(imsi=pd.Categorical(pairs["imsi"], dtype=pd.CategoricalDtype(index)))
    return features, sims, pairs


def network(devices: dict, categorical: bool):
    """:func:`tables` of devices given as IMEI -> ``(number of SIMs, sites)``: new SIMs for
    each device, their main sites cycling through that many sites."""
    rows, site, start = [], {}, 0
    for name, (n, sites) in devices.items():
        for i in range(n):
            k = f"46000{start + i:010d}"
            rows.append((k, name))
            site[k] = f"S{i % sites}"
        start += n
    return tables(pd.DataFrame(rows, columns=["imsi", "imei"]), site, categorical)


@pytest.mark.parametrize("categorical", [False, True])
def test_more_than_512_sims_at_two_sites_or_fewer(categorical):
    f, s, d = network({"35693803564380": (513, 1),     # a farm
                       "35693803564390": (512, 1),     # a full SIM bank: not more than 512
                       "35693803564400": (600, 2),     # a farm over two sites
                       "35693803564410": (600, 3),     # three sites: not a farm
                       "35000000000000": (700, 1),     # placeholders
                       "00000000000000": (700, 1),
                       "86111111999999": (700, 1),
                       "": (900, 1)}, categorical)
    farms = farm_devices(f, s, d)
    assert farms["imei"].value_counts().to_dict() == {"35693803564380": 513,
                                                      "35693803564400": 600}
    assert farms.index.is_monotonic_increasing and farms.index.isin(f.index).all()
    row = farms.loc[farms["imei"] == "35693803564400"].iloc[0]
    assert (row["device_sims"], row["device_sites"]) == (600, 2)
    assert candidates(f).sum() == 513 + 600 + 600 + 3 * 700 + 900
    text = reason_text(farms)
    assert text.iloc[0] == ("one of 513 SIMs on device 35693803564380 at one site "
                            "(device rule: a SIM bank or card farm)")
    assert text.loc[farms["imei"] == "35693803564400"].iloc[0].startswith(
        "one of 600 SIMs on device 35693803564400 at two sites")


def test_a_sim_on_two_farms_belongs_to_the_larger_one():
    # device A: SIMs 0-599; device B: SIMs 500-1399 (900): the 100 shared go to B
    keys = [f"46000{i:010d}" for i in range(1400)]
    pairs = pd.DataFrame([(k, "35693803564380") for k in keys[:600]] +
                         [(k, "35693803564390") for k in keys[500:]], columns=["imsi", "imei"])
    f, s, d = tables(pairs, {k: "S1" for k in keys}, True)
    farms = farm_devices(f, s, d)
    assert len(farms) == 1400 and not farms.index.duplicated().any()
    assert farms.loc[keys[500:600], "imei"].unique().tolist() == ["35693803564390"]
    assert farms["imei"].value_counts().to_dict() == {"35693803564390": 900,
                                                      "35693803564380": 500}
    assert farms.loc[keys[0], "device_sims"] == 600


def test_nothing_to_do_without_a_large_device():
    f, s, d = network({"35693803564380": (MAX_GATEWAY_SIMS, 1)}, True)
    assert len(farm_devices(f, s, d)) == 0
    f2 = f.drop(columns="imei_max_imsis")        # a table without the feature: no candidate
    assert len(farm_devices(f2, s, d)) == 0


@pytest.mark.parametrize("imei, sims, fires", [("35693803564380", 600, True),
                                               ("35000000000000", 600, False),
                                               ("35693803564380", 512, False)])
def test_scan_flags_a_small_farm_as_one_card_farm_deployment(tmp_path, imei, sims, fires):
    src = small_farm(tmp_path / "cdrs.csv", imei, sims)
    res = scan_mod.scan([tmp_path / "cdrs.csv"], cells=src / "cells.csv", tac=src / "tac.csv",
                        timezone="Asia/Shanghai", out=tmp_path / "out", report=False,
                        history=False)
    farm = res.flagged["imsi"].astype(str).str.startswith("4609900")
    if not fires:
        assert "device_rule" not in res.summary
        assert not any("device rule" in n for n in res.summary.get("notes", []))
        assert not res.flagged.loc[farm, "reasons"].str.contains("device rule").any()
        return
    assert farm.sum() == sims
    rows = res.flagged[farm]
    assert (rows["class"] == "cardfarm").all() and rows["deployment_id"].nunique() == 1
    assert rows["reasons"].str.startswith(f"one of {sims:,} SIMs on device {imei} at one "
                                          "site (device rule: a SIM bank or card farm)").all()
    dep = res.deployments.set_index("deployment_id").loc[rows["deployment_id"].iloc[0]]
    assert (dep["n_sims"], dep["n_devices"], dep["class"]) == (sims, 1, "cardfarm")
    assert dep["linked_by"] == f"device ({sims - 1})"
    # the model's own flags are grouped as without the farm
    others = res.flagged[~farm]
    assert len(others) and not others["reasons"].str.contains("device rule").any()
    assert res.summary["device_rule"]["devices"] == 1
    assert res.summary["device_rule"]["examples"] == [{"imei": imei, "sims": sims, "sites": 1}]
    assert any(n.startswith(f"device rule: {sims:,} SIMs on 1 device(s)")
               for n in res.summary["notes"])
    scores = pd.read_csv(tmp_path / "out" / "scores.csv", dtype={"imsi": str})
    on = scores["imsi"].str.startswith("4609900")
    assert scores.loc[on, "flagged"].all() and (scores.loc[on, "class"] == "cardfarm").all()


def summary_reference(farms):
    """device_rule.summary as it was: a groupby of the IMEIs, their first rows."""
    from simbox import device_rule
    per = farms.groupby("imei", sort=True).agg(sims=("device_sims", "first"),
                                               sites=("device_sites", "first"))
    return {"devices": int(len(per)), "sims": int(len(farms)),
            "max_device_sims": device_rule.MAX_GATEWAY_SIMS, "max_sites": device_rule.MAX_SITES,
            "examples": [{"imei": str(i), "sims": int(r.sims), "sites": int(r.sites)}
                         for i, r in per.head(5).iterrows()]}


@pytest.mark.parametrize("seed", range(12))
def test_summary_equals_the_groupby_of_the_imeis(seed):
    """The rule's summary (each device's first row, devices in IMEI order) equals the groupby
    it replaced: devices in any order, some rows without an IMEI, none at all."""
    from simbox import device_rule
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    pool = [f"35{int(k):012d}" for k in rng.integers(0, 10**6, int(rng.integers(1, 9)))]
    imei = [None if rng.random() < 0.1 else pool[int(rng.integers(len(pool)))] for _ in range(n)]
    sims = {i: int(rng.integers(513, 9999)) for i in pool}
    sites = {i: int(rng.integers(1, 3)) for i in pool}
    farms = pd.DataFrame({"imei": pd.Series(imei, dtype="str" if seed % 2 else object),
                          "device_sims": np.array([sims.get(i, 0) for i in imei], dtype=np.int64),
                          "device_sites": np.array([sites.get(i, 0) for i in imei], dtype=np.int64)},
                         index=pd.Index([f"{k:015d}" for k in range(n)], name="imsi"))
    assert device_rule.summary(farms) == summary_reference(farms)


def farm_devices_reference(features, sims, devices, limit, max_sites):
    """The rule as its docstring words it, by pandas groupbys of the distinct pairs."""
    cand = features.index[features["imei_max_imsis"].to_numpy(dtype=float) > limit]
    if len(cand) <= limit:
        return []
    pairs = devices.assign(imsi=devices["imsi"].astype(object))
    pairs = pairs.loc[pairs["imsi"].isin(cand) & (pairs["imei"].astype(str) != "")] \
        .drop_duplicates(["imsi", "imei"])
    n_sims = pairs.groupby("imei")["imsi"].nunique()
    big = [i for i in n_sims.index if n_sims[i] > limit and not placeholder_imei([i])[0]]
    pairs = pairs.loc[pairs["imei"].isin(big)]
    site = sims["main_site"].reindex(pairs["imsi"]).fillna("").astype(str).to_numpy()
    n_sites = pairs.assign(site=site).loc[site != ""].groupby("imei")["site"].nunique() \
        .reindex(big, fill_value=0)
    farm = [i for i in big if n_sites[i] <= max_sites]
    pairs = pairs.loc[pairs["imei"].isin(farm)]
    out = []
    for k in features.index:
        on = pairs.loc[pairs["imsi"] == k, "imei"].tolist()
        if on:
            best = sorted(on, key=lambda i: (-n_sims[i], i))[0]
            out.append((k, best, int(n_sims[best]), int(n_sites[best])))
    return out


@pytest.mark.parametrize("seed", range(24))
def test_farm_devices_equals_the_rule_by_groupbys(seed, monkeypatch):
    """Several devices of random sizes around the limit (lowered to 6), SIMs on one or two
    of them, placeholders and empty IMEIs, sites missing: the SIMs, devices and counts of
    the rule worded by groupbys (the sorted shortcut of one device per SIM included)."""
    import simbox.device_rule as rule
    monkeypatch.setattr(rule, "MAX_GATEWAY_SIMS", 6)
    rng = np.random.default_rng(seed)
    imeis = ["35693803564380", "35693803564390", "35693803564400", "35000000000000", "",
             "35693803564410"][:int(rng.integers(1, 7))]
    keys = [f"46000{i:010d}" for i in range(int(rng.integers(5, 40)))]
    rows = [(k, i) for k in keys for i in imeis if rng.random() < rng.choice([0.15, 0.5, 0.9])]
    if seed % 3 == 0:                     # each SIM on one device
        rows = [(k, imeis[j % len(imeis)]) for j, k in enumerate(keys)]
    sites = [["S1"], ["S1", ""], ["S1", "S2"], ["S1", "S2", "S3", ""]][seed % 4]
    site = {k: rng.choice(sites) for k in keys}
    pairs = pd.DataFrame(rows or [(keys[0], imeis[0])], columns=["imsi", "imei"])
    f, s, d = tables(pairs, site, bool(seed % 2))
    got = rule.farm_devices(f, s, d)
    want = farm_devices_reference(f, s, d, 6, rule.MAX_SITES)
    assert [(k, str(i), int(n), int(m)) for k, i, n, m in zip(
        got.index, got["imei"], got["device_sims"], got["device_sites"])] == want
