"""Fraud deployments behave like the real devices they model."""
import numpy as np
import pandas as pd
import pytest

from simbox.fastpath.events import RecordType, decode_array


@pytest.fixture(scope="module")
def events(mixed_net):
    c = mixed_net.cdrs
    truth = mixed_net.truth.set_index("imsi")
    df = pd.DataFrame({"imsi": decode_array(c.imsi), "rtype": c.rtype, "time": c.time,
                       "other": c.other, "duration": c.duration, "imei": c.imei, "cell": c.cell})
    return df.join(truth, on="imsi")


def test_box_calls_have_real_durations_with_short_and_unanswered_calls(events):
    box = events[(events.kind == "simbox_plain") & (events.rtype == RecordType.MOC)]
    unanswered = (box.duration == 0).mean()
    assert 0.2 <= unanswered <= 0.4
    answered = box.duration[box.duration > 0]
    assert 50 <= answered.median() <= 130
    assert (answered <= 10).mean() > 0.08


def test_ports_dial_in_bursts_and_never_carry_two_calls(events):
    box = events[(events.kind == "simbox_plain") & (events.rtype == RecordType.MOC) &
                 (events.imei > 0)].sort_values(["imei", "time"])
    same = box.imei.to_numpy()[1:] == box.imei.to_numpy()[:-1]
    idle = (box.time.to_numpy()[1:] - box.time.to_numpy()[:-1]
            - box.duration.to_numpy()[:-1])[same]
    # unanswered attempts ring up to 45 s with duration 0: allow that much overlap
    assert (idle >= -45).all()
    assert np.median(idle) < 120          # back to back at the peak


def sim_numbers(net):
    """truth.csv with each SIM's MSISDN (from its CDRs and attaches) as int64 columns.

    A few quiet SIMs have no event in the window: they are left out."""
    c = pd.concat([pd.DataFrame({"imsi": decode_array(b.imsi), "msisdn": decode_array(b.msisdn)})
                   for b in (net.cdrs, net.attaches)]).drop_duplicates("imsi")
    t = net.truth.merge(c, on="imsi", how="inner")
    assert len(t) > 0.95 * len(net.truth)
    return t.astype({"imsi": np.int64, "msisdn": np.int64})


def runs_in_step(g):
    """Lengths of runs of SIMs whose IMSI and MSISDN both go up by one."""
    g = g.sort_values("imsi")
    step = (np.diff(g.imsi.to_numpy()) == 1) & (np.diff(g.msisdn.to_numpy()) == 1)
    ends = np.flatnonzero(np.r_[True, ~step, True])
    return np.diff(ends)


def test_fraud_batches_are_consecutive_or_scattered(mixed_net):
    t = sim_numbers(mixed_net)
    batch, scattered = 0, 0
    for dep, g in t[t.deployment_id != ""].groupby("deployment_id"):
        runs = runs_in_step(g)
        if runs.max() > 1:                        # a batch (a SIM never seen splits a run)
            assert runs[runs > 1].sum() >= 0.9 * len(g), dep
            batch += 1
        else:
            assert runs.max() == 1, dep           # bought one by one: no two in step
            scattered += 1
    assert batch >= 10 and scattered >= 1, (batch, scattered)


def test_legit_blocks_of_consecutive_numbers(mixed_net):
    t = sim_numbers(mixed_net)
    blocks = {k: (runs_in_step(g) >= 2).sum() for k, g in t[t.deployment_id == ""].groupby("kind")}
    assert blocks["call_centre"] >= 1 and blocks["m2m"] >= 2 and blocks["driver"] >= 1
    assert blocks["desk_gateway"] >= 1
    assert blocks["small_business"] >= 1
    assert blocks.get("low_activity", 0) == 0 and blocks.get("traveller", 0) == 0
    assert blocks.get("roamer", 0) == 0


def test_number_blocks_follow_the_configuration(small):
    from simbox.data import build_network
    none = {"call_centre": {"block_share": 0.0}, "desk_gateway": {"block_share": 0.0},
            "driver": {"block_share": 0.0},
            "m2m": {"block_share": 0.0}, "small_business": {"block_share": 0.0},
            "ordinary": {"block_share": 0.0}, "fraud": {"share": 0.03,
                                                          "scattered_numbers_share": 1.0}}
    t = sim_numbers(build_network(3000, 1, "baseline", 4, config=dict(small, **none)))
    assert all(runs_in_step(g).max() == 1 for _, g in t.groupby("deployment_id"))
    allin = {"m2m": {"block_share": 1.0, "block_sims": [10, 10], "fleet_sites": [1, 1]},
             "fraud": {"share": 0.03, "scattered_numbers_share": 0.0}}
    net = build_network(3000, 1, "baseline", 4, config=dict(small, **allin))
    t = sim_numbers(net)
    m2m = t[t.kind == "m2m"]
    runs = runs_in_step(m2m)                 # fleets of 10 (the last one may be cut short)
    assert len(m2m) >= 20 and runs.max() == 10 and (runs == 10).sum() >= len(runs) - 2
    for dep, g in t[t.deployment_id != ""].groupby("deployment_id"):
        runs = runs_in_step(g)
        assert runs[runs > 1].sum() >= 0.9 * len(g), dep


def test_card_farms(events):
    otp = events[events.kind == "cardfarm_otp"]
    assert (otp.rtype == RecordType.SMS_MT).mean() > 0.85
    short = decode_array(otp.loc[otp.rtype == RecordType.SMS_MT, "other"].to_numpy())
    assert np.mean([len(s) <= 6 for s in short]) > 0.7
    spam = events[events.kind == "cardfarm_spam"]
    assert (spam.rtype == RecordType.SMS_MO).all()
    assert spam.other.nunique() > 0.8 * len(spam)      # lists of numbers, few repeats
    farms = events[(events["class"] == "cardfarm") & (events.imei > 0)]
    assert farms.groupby("imei").imsi.nunique().median() >= 4
    rented = events[events.kind == "cardfarm_rented"]
    assert set(rented.rtype) <= {RecordType.SMS_MT, RecordType.MTC}


def test_boxes_follow_the_international_wave_with_night_traffic(events, mixed_net):
    box = events[(events.kind == "simbox_plain") & (events.rtype == RecordType.MOC)]
    people = events[(events.kind == "ordinary") & (events.rtype == RecordType.MOC)]
    night = lambda t: (((t + 8 * 3600) % 86400) // 3600 < 6).mean()   # noqa: E731
    assert night(box.time) > 2 * night(people.time)


def test_deployment_site_is_where_most_of_its_events_are_served(events, mixed_net):
    cells = mixed_net.cells
    site = cells["site_id"].to_numpy()[events["cell"].to_numpy()]
    busiest = (events.assign(site=site)[events.deployment_id != ""]
               .groupby("deployment_id")["site"].agg(lambda s: s.value_counts().index[0]))
    deps = mixed_net.deployments.set_index("deployment_id")
    assert len(deps) >= 5 and set(busiest.index) == set(deps.index)
    for dep, row in deps.iterrows():
        counts = pd.Series(site).loc[(events.deployment_id == dep).to_numpy()].value_counts()
        assert counts[row.main_site] == counts.max(), dep          # ties: any busiest site
        here = cells.loc[cells.site_id == row.main_site].iloc[0]
        assert (row.lat, row.lon) == (here.lat, here.lon)
    far = deps.loc[deps.sites > 1]
    assert len(far), "every deployment sits at one site: the test proves little"


def test_boxes_on_roaming_sims_and_fct_modules(small):
    """No artificial tell: boxes can run foreign SIMs (as roamers have) and report
    fixed-cellular-terminal TACs (as desk phones do); their callers' evening can be
    our night."""
    from simbox.data import build_network
    over = dict(small, fraud={"share": 0.03, "roaming_sims_share": 1.0},
                simbox=dict(small["simbox"], fct_tac_share=1.0, caller_shift_h=[7, 7],
                            night_activity=0.25))
    net = build_network(2000, 2, "baseline", 8, config=over)
    t = net.truth
    boxes = t[t["class"] == "simbox"]
    assert len(boxes) > 0 and not boxes.imsi.str.startswith("46000").any()
    c = net.cdrs
    box_rows = np.isin(decode_array(c.imsi), boxes.imsi.to_numpy())
    tac = net.tac.set_index("tac")["device_type"]
    imeis = pd.Series(decode_array(np.unique(c.imei[box_rows & (c.imei > 0)]))).str[:8]
    assert set(tac.loc[imeis]) == {"fct"}
    hour = ((c.time[box_rows] + 8 * 3600) % 86400) // 3600
    per_hour = np.bincount(hour, minlength=24)
    assert per_hour[2:5].sum() > per_hour[14:17].sum()      # the wave peaks in our night
