"""The properties that make the simulated network realistic (and detection hard)."""
import pandas as pd
import pytest

from simbox.data import build_network
from simbox.data.kinds import HARD_NEGATIVE_KINDS
from simbox.fastpath.events import RecordType, decode_array


def per_sim(net):
    c = net.cdrs
    truth = net.truth.set_index("imsi")
    df = pd.DataFrame({"imsi": decode_array(c.imsi), "rtype": c.rtype, "other": c.other,
                       "cell": c.cell, "imei": c.imei, "time": c.time})
    df = df.join(truth, on="imsi")
    days = (net.end - net.start) / 86400
    moc = df[df.rtype == RecordType.MOC].groupby("imsi")
    g = df.groupby("imsi")
    st = pd.DataFrame({
        "kind": g["kind"].first(), "class": g["class"].first(),
        "callees_per_day": moc["other"].nunique() / days,
        "cells": g["cell"].nunique(),
        "mtc": df[df.rtype == RecordType.MTC].groupby("imsi").size(),
        "sms": df[df.rtype.isin([RecordType.SMS_MO, RecordType.SMS_MT])].groupby("imsi").size(),
    }).fillna(0)
    return df, st


@pytest.fixture(scope="module")
def mixed(mixed_net):
    return per_sim(mixed_net)


def test_every_population_exists(mixed_net):
    kinds = set(mixed_net.truth["kind"])
    assert set(HARD_NEGATIVE_KINDS) - {"cloned_imei"} <= kinds   # a world kind: test_sim_offices
    assert {"simbox_plain", "simbox_human", "cardfarm_otp", "cardfarm_spam"} <= kinds


def test_fraud_share_and_kinds_match_the_configuration(mixed_net):
    truth = mixed_net.truth
    fraud = (truth["class"] != "legit").mean()
    assert fraud == pytest.approx(0.03, abs=0.002)
    base = build_network(4000, 2, "baseline", 3, config={"fraud": {"share": 0.02}})
    kinds = set(base.truth.loc[base.truth["class"] != "legit", "kind"])
    assert kinds <= {"simbox_plain", "cardfarm_otp", "cardfarm_spam", "cardfarm_rented"}
    assert len(base.truth) == 4000


def test_deployment_sizes_follow_the_configuration(mixed_net):
    dep = mixed_net.deployments
    truth = mixed_net.truth
    sizes = truth[truth.deployment_id != ""].groupby("deployment_id").size()
    assert (dep.set_index("deployment_id")["sims"] == sizes).all()
    farms = dep[dep["class"] == "cardfarm"]
    assert farms["sims"].max() <= 60
    assert (farms["sims"] >= 4).all()
    # every deployment has one kind
    assert (truth[truth.deployment_id != ""].groupby("deployment_id")["kind"].nunique() == 1).all()


def test_call_centre_agents_call_more_distinct_numbers_than_the_median_simbox(mixed):
    _, st = mixed
    agents = st.loc[st.kind == "call_centre", "callees_per_day"].median()
    boxes = st.loc[st["class"] == "simbox", "callees_per_day"].median()
    assert agents > boxes


def test_m2m_is_as_stationary_as_simboxes(mixed):
    """Within one cell: M2M fleets stand at a few sites each, so the SIM median
    follows a handful of fleet places (some with more neighbouring cells)."""
    _, st = mixed
    m2m = st.loc[st.kind == "m2m", "cells"]
    assert m2m.median() <= st.loc[st.kind == "simbox_plain", "cells"].median() + 1
    assert m2m.quantile(0.75) <= st.loc[st.kind == "ordinary", "cells"].quantile(0.25)


def test_drivers_are_more_mobile_than_people(mixed):
    _, st = mixed
    assert st.loc[st.kind == "driver", "cells"].median() > \
        2 * st.loc[st.kind == "ordinary", "cells"].median()


def test_plain_boxes_have_almost_no_incoming_but_evasive_ones_do(evasive_net, mixed):
    _, st = mixed
    plain = st[st.kind == "simbox_plain"]
    assert plain.mtc.sum() < 0.05 * plain.callees_per_day.sum() * 4   # a few callbacks
    _, ev = per_sim(evasive_net)
    human = ev[ev.kind == "simbox_human"]
    assert len(human) > 0
    assert (human.mtc > 0).mean() > 0.8
    assert (human.sms > 0).mean() > 0.8


def test_sim_bank_rotation_puts_many_imsis_on_one_imei(mixed):
    df, _ = mixed
    box = df[(df["class"] == "simbox") & (df.imei > 0)]
    per_imei = box.groupby("imei")["imsi"].nunique()
    assert per_imei.max() >= 5
    people = df[(df.kind == "ordinary") & (df.imei > 0)].groupby("imei")["imsi"].nunique()
    assert people.max() == 1


def test_dual_sim_phones_have_two_imsis(mixed):
    df, _ = mixed
    d = df[(df.kind == "dual_sim") & (df.imei > 0)].groupby("imei")["imsi"].nunique()
    assert (d == 2).mean() > 0.8


def test_spoofing_boxes_use_one_handset_imei_per_sim(evasive_net):
    df, _ = per_sim(evasive_net)
    spoof = df[(df.kind == "simbox_spoof") & (df.imei > 0)]
    assert spoof.groupby("imei")["imsi"].nunique().max() == 1
    tac = evasive_net.tac.set_index("tac")["device_type"]
    tacs = pd.Series(decode_array(spoof["imei"].unique())).str[:8]
    assert set(tac.loc[tacs]) <= {"smartphone", "feature_phone", "tablet"}


def test_remote_bank_sims_appear_at_distant_places(evasive_net):
    df, _ = per_sim(evasive_net)
    rb = df[df.kind == "simbox_remote_bank"]
    cells = evasive_net.cells
    lat = cells["lat"].to_numpy()[rb["cell"]]
    spread = pd.Series(lat).groupby(rb["imsi"].to_numpy()).agg(lambda x: x.max() - x.min())
    assert (spread > 0.09).mean() > 0.5      # > ~10 km apart


def test_rhythm_follows_local_time(mixed):
    df, _ = mixed
    people = df[df.kind == "ordinary"]
    local_hour = ((people.time + 8 * 3600) % 86400) // 3600
    utc_hour = (people.time % 86400) // 3600
    assert (local_hour.between(2, 5)).mean() < 0.05
    assert (utc_hour.between(2, 5)).mean() > 0.15     # the CDRs carry UTC


def test_people_call_mostly_repeat_contacts(mixed):
    df, _ = mixed
    calls = df[(df.kind == "ordinary") & (df.rtype == RecordType.MOC)]
    repeats = calls.duplicated(["imsi", "other"]).mean()
    assert repeats > 0.3
    boxes = df[(df.kind == "simbox_plain") & (df.rtype == RecordType.MOC)]
    assert boxes.duplicated(["imsi", "other"]).mean() < 0.05


def test_labels_cover_part_of_the_fraud_and_never_contradict_truth(mixed_net, mixed):
    df, _ = mixed
    truth = mixed_net.truth.set_index("imsi")["class"]
    lab = mixed_net.labels
    by_imsi = lab[lab.imsi != ""]
    assert (truth.loc[by_imsi.imsi].to_numpy() == by_imsi.label.to_numpy()).all()
    by_imei = lab[lab.imei != ""]
    seen = df[df.imei > 0].assign(imei_s=lambda x: decode_array(x.imei.to_numpy()))
    for imei, label in zip(by_imei.imei, by_imei.label):
        sims = seen.loc[seen.imei_s == imei, "imsi"].unique()
        assert len(sims) and (truth.loc[sims] == label).all()
    fraud = truth[truth != "legit"]
    covered = fraud.index.isin(by_imsi.imsi)
    assert 0 < covered.mean() < 1
    assert (by_imsi.label == "legit").sum() > 0
    # a case never mixes classes
    assert (lab.groupby("case_id")["label"].nunique() == 1).all()


def test_some_cells_carry_heavy_load_and_the_centre_is_denser(mixed_net):
    import numpy as np
    cells = mixed_net.cells
    load = np.bincount(mixed_net.cdrs.cell, minlength=len(cells))
    s = np.sort(load)[::-1]
    assert s[: max(1, len(s) // 20)].sum() > 0.15 * s.sum()
    assert s[0] > 5 * np.median(s)
    cfg = mixed_net.config.city
    d = np.hypot((cells.lat - cfg.centre_lat) * 111.3,
                 (cells.lon - cfg.centre_lon) * 111.3 * np.cos(np.radians(cfg.centre_lat)))
    city = d <= cfg.radius_km
    assert (d[city] < 10).mean() > 0.4           # sites crowd the centre
    assert city.sum() < len(cells)               # and a few towns lie far away


def test_attaches_show_rotation_and_precede_activity(mixed_net):
    import numpy as np
    a, c = mixed_net.attaches, mixed_net.cdrs
    assert (a.rtype == RecordType.ATTACH).all() and (np.diff(a.time) >= 0).all()
    assert (a.imei > 0).all()                                   # signaling always has the IMEI
    assert set(np.unique(c.imsi)) == set(np.unique(a.imsi))     # every active SIM attaches
    first_event = pd.Series(c.time).groupby(c.imsi).min()
    first_attach = pd.Series(a.time).groupby(a.imsi).min()
    assert (first_attach <= first_event.loc[first_attach.index]).all()
    truth = mixed_net.truth.set_index("imsi")["class"]
    cls = truth.loc[decode_array(a.imsi)].to_numpy()
    per_imei = pd.Series(a.imsi[cls == "simbox"]).groupby(a.imei[cls == "simbox"]).nunique()
    assert per_imei.max() >= 5                  # many IMSIs attach on one gateway port
