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


def test_batches_of_consecutive_imsis_and_msisdns(mixed_net):
    truth = mixed_net.truth
    for dep, g in truth[truth.deployment_id != ""].groupby("deployment_id"):
        imsi = np.sort(g.imsi.astype(np.int64).to_numpy())
        assert (np.diff(imsi) == 1).all(), dep


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
