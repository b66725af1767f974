import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from simbox.deployments import (LinkRules, UnionFind, active_hours, deployment_table, format_hours,
                                group_sims, link_sims, priority)
from simbox.errors import ConfigError


def flagged_view(network):
    pred = network.predictions
    keep = pred["flagged"].to_numpy()
    sims = network.res.sims.loc[keep].join(pred.loc[keep, ["class", "score"]])
    return sims, network.res.hours[keep]


def test_planted_deployments_come_back_grouped(network):
    sims, hours = flagged_view(network)
    labels, counts = group_sims(sims, hours, network.res.devices)
    truth = network.truth.reindex(sims.index)
    # each planted deployment is exactly one component, and no component mixes two
    for dep in ["A", "B", "C", "D"]:
        comps = set(labels[(truth == dep).to_numpy()])
        assert len(comps) == 1, dep
    assert len(set(labels)) == 4
    a = labels[(truth == "A").to_numpy()][0]
    b = labels[(truth == "B").to_numpy()][0]
    assert counts.loc[a, "device"] == 14          # 2 gateways of 8 SIMs: 7 + 7 links
    assert counts.loc[a, "imsi block"] == 15      # 16 consecutive IMSIs
    assert counts.loc[b, "device"] == 0           # one IMEI per modem
    assert counts.loc[b, "msisdn block"] == 23
    assert counts.loc[b, "site+hours"] > 0


def test_same_site_different_shift_stays_apart(network):
    sims, hours = flagged_view(network)
    links = link_sims(sims, hours, network.res.devices)
    truth = network.truth.reindex(sims.index).to_numpy()
    for kind, pairs in links.items():
        for i, j in pairs:
            assert truth[i] == truth[j], (kind, sims.index[i], sims.index[j])


def test_deployment_table(network):
    sims, hours = flagged_view(network)
    labels, counts = group_sims(sims, hours, network.res.devices)
    table, per_sim = deployment_table(sims, labels, hours, network.res.devices, counts)
    assert list(table["deployment_id"]) == ["D001", "D002", "D003", "D004"]
    assert table["priority"].is_monotonic_decreasing
    truth = network.truth.reindex(sims.index)
    a = table.set_index("deployment_id").loc[per_sim[truth == "A"].iloc[0]]
    assert (a["class"], a["n_sims"], a["n_devices"], a["sites"]) == ("simbox", 16, 2, "S14")
    assert a["active_hours"] == "08:00-21:00"
    assert a["first_seen"] == pd.Timestamp("2026-03-01T01:00:00Z")
    assert a["last_seen"] == pd.Timestamp("2026-03-07T22:00:00Z")
    assert "device (14)" in a["linked_by"] and "imsi block (15)" in a["linked_by"]
    b = table.set_index("deployment_id").loc[per_sim[truth == "B"].iloc[0]]
    assert (b["class"], b["n_sims"], b["n_devices"]) == ("cardfarm", 24, 24)
    assert b["active_hours"] == "00:00-24:00"
    c = table.set_index("deployment_id").loc[per_sim[truth == "C"].iloc[0]]
    # last seen 3 days before the scan's end: recency 0.8 ** 3
    assert c["priority"] == pytest.approx(100 * 0.7 * np.log2(7) / np.log2(33) * 0.8 ** 3, abs=0.05)
    assert per_sim.notna().all() and per_sim.index.equals(sims.index)


def test_empty_flagged_set(network):
    sims, hours = flagged_view(network)
    none = sims.iloc[:0]
    labels, counts = group_sims(none, hours[:0], network.res.devices)
    table, per_sim = deployment_table(none, labels, hours[:0], network.res.devices, counts)
    assert len(table) == 0 and "deployment_id" in table.columns and len(per_sim) == 0


def test_majority_class_ties_go_to_higher_score():
    t = pd.Timestamp("2026-03-01T00:00:00Z")
    sims = pd.DataFrame({"msisdn": ["1", "2"], "main_site": ["S", "S"], "class": ["simbox", "cardfarm"],
                         "score": [0.6, 0.9], "first_seen": [t, t], "last_seen": [t, t],
                         "n_events": [1, 1]}, index=["460000000000001", "460000000000002"])
    devices = pd.DataFrame({"imsi": sims.index, "imei": ["1111", "1111"]})
    hours = np.ones((2, 24))
    labels, counts = group_sims(sims, hours, devices)
    table, _ = deployment_table(sims, labels, hours, devices, counts)
    assert table.loc[0, "class"] == "cardfarm"


def test_link_rules_validated():
    with pytest.raises(ConfigError, match=r"hour_similarity must be within \[0, 1\], not 1.5"):
        LinkRules(hour_similarity=1.5)
    with pytest.raises(ConfigError, match="number_gap must be at least 1, not 0"):
        LinkRules(number_gap=0)


@pytest.mark.parametrize("hours, text", [
    ([], ""), (list(range(24)), "00:00-24:00"), ([8, 9, 10], "08:00-11:00"),
    ([22, 23, 0, 1, 8, 9], "08:00-10:00, 22:00-02:00"), ([0, 5, 23], "05:00-06:00, 23:00-01:00"),
    ([23], "23:00-24:00"), (list(range(23, 24)) + list(range(0, 17)), "all day except 17:00-23:00"),
    (list(range(3, 24)), "all day except 00:00-03:00"),
    (list(range(0, 8)) + list(range(9, 20)), "00:00-08:00, 09:00-20:00"),
])
def test_format_hours(hours, text):
    assert format_hours(hours) == text


def test_active_hours_smooths_sparse_profiles():
    p = np.zeros(24)
    p[[8, 10, 12, 14, 16]] = 10        # every other hour, a sparse day shift
    p[3] = 1                           # one stray night event
    assert active_hours(p) == list(range(7, 18))
    assert format_hours(active_hours(p)) == "07:00-18:00"
    assert active_hours(np.zeros(24)) == []


def test_priority_formula():
    assert priority([1.0], [32], [0])[0] == 100.0
    assert priority([1.0], [1], [0])[0] == pytest.approx(100 / np.log2(33), abs=0.05)
    assert priority([0.5], [64], [2])[0] == pytest.approx(50 * 0.64, abs=0.05)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=60))
def test_union_find_matches_reference(n, pairs):
    pairs = [(a % n, b % n) for a, b in pairs]
    uf = UnionFind(n)
    for a, b in pairs:
        uf.union(a, b)
    labels = uf.labels()
    # reference: repeated relabelling until stable
    ref = list(range(n))
    changed = True
    while changed:
        changed = False
        for a, b in pairs:
            m = min(ref[a], ref[b])
            if ref[a] != m or ref[b] != m:
                ref[a] = ref[b] = m
                changed = True
    for i in range(n):
        for j in range(n):
            assert (labels[i] == labels[j]) == (ref[i] == ref[j])
    # labels numbered in order of first appearance
    seen = []
    for lab in labels:
        if lab not in seen:
            seen.append(lab)
    assert seen == list(range(len(seen)))


def test_site_and_hours_never_merge_two_strong_groups():
    t = pd.Timestamp("2026-03-01T00:00:00Z")
    imsis = ["460000000000101", "460000000000102",   # box 1: one device
             "460000000000901", "460000000000902",   # box 2: another device, another batch
             "460000055555555", "460000066666666"]   # loose SIMs: random numbers, own phones
    sims = pd.DataFrame({"msisdn": ["8613%09d" % (i * 7919) for i in range(6)], "main_site": "S1",
                         "class": "simbox", "score": 0.9, "first_seen": t,
                         "last_seen": t + pd.Timedelta(days=2), "n_events": 100}, index=imsis)
    devices = pd.DataFrame({"imsi": imsis, "imei": ["111", "111", "222", "222", "333", "444"]})
    hours = np.tile(np.r_[np.zeros(8), np.ones(12), np.zeros(4)], (6, 1))
    labels, counts = group_sims(sims, hours, devices)
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2]
    # the loose SIMs join each other and then one box, not both
    assert labels[4] == labels[5] and labels[4] in (labels[0], labels[2])
    assert len(set(labels)) == 2
    # links are counted inside components only: one device link per box; site+hours:
    # each SIM of the site to its leader (the first SIM): 3 inside the joined box, while
    # the other box's two links cross to the leader's group and are not counted
    assert counts["device"].tolist() == [1, 1]
    assert sorted(counts["site+hours"].tolist()) == [0, 3]


def one_site_farm(n, shifts=500, seed=0):
    """``n`` flagged SIMs at one site in one IMEI, hour profiles from ``shifts`` distinct shifts
    (the benchmark's farm: benchmarks/bench_grouping.py)."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).parents[2] / "benchmarks" / "bench_grouping.py"
    spec = importlib.util.spec_from_file_location("bench_grouping", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.farm(n, shifts, True, seed)


def test_grouping_comparisons_grow_linearly_with_sims_at_one_site(caplog):
    """Issue 14 item 1: 100k flagged SIMs at one site must not compare every pair."""
    rules = LinkRules()
    done = {}
    for n in (1_000, 10_000, 100_000):
        sims, hours, devices = one_site_farm(n)
        stats = {}
        with caplog.at_level("INFO", logger="simbox.deployments"):
            labels, counts = group_sims(sims, hours, devices, rules, stats=stats)
        assert len(set(labels)) == 1                      # one IMEI: one deployment
        assert stats["comparisons"] <= n * rules.max_leaders
        done[n] = stats["comparisons"]
    assert done[100_000] <= 12 * done[10_000] and done[10_000] <= 12 * done[1_000]
    assert done[100_000] < 100_000 ** 2 / 1000
    # progress at -v: a long grouping says how far it is
    assert re.search(r"grouping: site\+hours links, 5\d,\d{3} of 100,000 SIMs \([\d,]+ comparisons\)",
                     caplog.text)
    assert "grouping: 100,000 flagged SIMs, 1 deployments, " in caplog.text


def test_site_hours_leaders_cap_the_work_but_keep_alike_profiles_together():
    sims, hours, devices = one_site_farm(5_000, shifts=3)
    devices = devices.iloc[:0]                            # no shared device
    stats = {}
    labels, _ = group_sims(sims, hours, devices, LinkRules(max_leaders=8), stats=stats)
    assert stats["comparisons"] <= 5_000 * 8
    assert len(set(labels)) <= 3 + int((np.asarray(hours).sum(axis=1) == 0).sum())
    with pytest.raises(ConfigError, match="max_leaders must be at least 1, not 0"):
        LinkRules(max_leaders=0)


def _loose_sims(imsis, msisdns, sites):
    t = pd.Timestamp("2026-03-01T00:00:00Z")
    n = len(imsis)
    return pd.DataFrame({"msisdn": msisdns, "main_site": sites, "class": "simbox", "score": 0.9,
                         "first_seen": t, "last_seen": t + pd.Timedelta(days=2),
                         "n_events": 100}, index=imsis)


def test_device_block_links_need_a_run_of_consecutive_imeis():
    # a moving gateway: 5 ports with consecutive IMEIs, SIMs with main sites along its route;
    # two handsets elsewhere whose IMEIs happen to be neighbours are not a run
    imsis = [f"46000{7000000000 + i * 977:010d}" for i in range(7)]
    sims = _loose_sims(imsis, [f"86{13000000000 + i * 7919:011d}" for i in range(7)],
                       ["S1", "S2", "S3", "S4", "S5", "S8", "S9"])
    imeis = [f"86123456{100200 + i}0" for i in range(5)] + ["35000000123450", "35000000123460"]
    devices = pd.DataFrame({"imsi": imsis, "imei": imeis})
    hours = np.eye(24)[np.arange(7) * 3]                          # no site+hours link
    links = link_sims(sims, hours, devices)
    assert sorted(map(tuple, links["device block"].tolist())) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    labels, counts = group_sims(sims, hours, devices)
    assert len(set(labels[:5])) == 1 and len(set(labels)) == 3
    assert counts.loc[labels[0], "device block"] == 4


def test_two_modems_of_one_farm_at_two_sites_are_one_deployment():
    # a farm's modems (consecutive IMEIs) at two sites, three rotated SIMs each, numbers
    # bought one by one; two single-SIM handsets with neighbouring IMEIs stay apart
    imsis = [f"46000{7000000000 + i * 977:010d}" for i in range(8)]
    sims = _loose_sims(imsis, [f"86{13000000000 + i * 7919:011d}" for i in range(8)],
                       ["S1", "S1", "S1", "S2", "S2", "S2", "S8", "S9"])
    imeis = ["86123456100200", "86123456100200", "86123456100200",
             "86123456100204", "86123456100204", "86123456100204",
             "35000000123450", "35000000123460"]
    devices = pd.DataFrame({"imsi": imsis, "imei": imeis})
    hours = np.eye(24)[np.arange(8) * 3]                          # no site+hours link
    links = link_sims(sims, hours, devices)
    pairs = {tuple(sorted(p)) for p in links["device block"].tolist()}
    assert len(pairs) == 1 and pairs.pop()[1] >= 3 and not (set(map(tuple, links[
        "device block"].tolist())) & {(6, 7), (7, 6)})
    labels, _ = group_sims(sims, hours, devices)
    assert len(set(labels[:6])) == 1 and len(set(labels)) == 3


def test_one_batch_at_two_sites_is_linked_when_imsi_and_msisdn_step_together():
    imsis = ["460001234500001", "460001234500002", "460001234500003", "460009999900001"]
    msisdns = ["8613800000101", "8613800000102", "8613800000203", "8613800000104"]
    sims = _loose_sims(imsis, msisdns, ["S1", "S2", "S3", "S4"])
    links = link_sims(sims, np.eye(24)[[0, 5, 10, 15]], pd.DataFrame(columns=["imsi", "imei"]))
    # 1-2: both +1 (in step) across sites; 2-3: IMSI +1 but MSISDN +101: not a batch
    assert links["imsi block"].tolist() == [[0, 1]]


def test_handover_links_a_sim_that_takes_over_a_burnt_sims_slot():
    t = pd.Timestamp("2026-03-01T00:00:00Z")
    h = pd.Timedelta(hours=1)
    imsis = [f"46000{7000000000 + i * 977:010d}" for i in range(6)]
    sims = pd.DataFrame({
        "msisdn": [f"86{13000000000 + i * 7919:011d}" for i in range(6)],
        "main_site": ["S1", "S1", "S1", "S2", "S1", "S1"], "class": "simbox", "score": 0.9,
        "first_seen": [t, t + 30 * h + pd.Timedelta(minutes=10), t, t + 30 * h + pd.Timedelta(minutes=5),
                       t + 33 * h, t + 2 * h],
        "last_seen": [t + 30 * h, t + 72 * h, t + 72 * h, t + 72 * h, t + 72 * h, t + 72 * h],
        "n_events": 100}, index=imsis)
    # 0 stops at 30 h; 1 starts 10 min later at its site: a handover.  3 starts then too,
    # at another site; 4 starts 3 h later; 5 starts long before 0 stops
    hours = np.eye(24)[np.arange(6) * 3]                          # no site+hours link
    links = link_sims(sims, hours, pd.DataFrame(columns=["imsi", "imei"]))
    assert links["handover"].tolist() == [[0, 1]]
    labels, counts = group_sims(sims, hours, pd.DataFrame(columns=["imsi", "imei"]))
    assert labels[0] == labels[1] and len(set(labels)) == 5
    assert counts.loc[labels[0], "handover"] == 1
    # none at the edges of the data: a SIM seen from the first second did not "start"
    late = sims.assign(first_seen=[t, t, t, t, t, t + 30 * h + pd.Timedelta(minutes=1)])
    assert link_sims(late, hours, pd.DataFrame(columns=["imsi", "imei"]))["handover"].tolist() \
        == [[0, 5]]


@pytest.mark.parametrize("seed", range(30))
def test_components_are_scipys_connected_components(seed):
    """The grouping's connected components (numpy, no scipy import) against
    scipy.sparse.csgraph's: the same partition of the nodes."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from simbox.deployments import _components
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    shape = seed % 3          # random links, a chain (the slowest to settle), stars
    if shape == 0:
        pairs = rng.integers(0, n, size=(int(rng.integers(0, 2 * n)), 2))
    elif shape == 1:
        order = rng.permutation(n)
        pairs = np.stack([order[:-1], order[1:]], axis=1)[: int(rng.integers(0, n))]
    else:
        pairs = np.stack([rng.integers(0, 5, size=n), rng.integers(0, n, size=n)], axis=1)
    got = _components(n, pairs)
    if len(pairs):
        g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        want = connected_components(g, directed=False)[1]
    else:
        want = np.arange(n)
    assert len(set(zip(got.tolist(), want.tolist()))) == len(set(got.tolist())) == \
        len(set(want.tolist()))
