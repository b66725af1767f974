"""Desk gateways, call centres, roamers, cloned IMEIs and IoT fleets: the hard negatives that
look like boxes and farms on naive features, and the behaviour that tells them apart."""
import numpy as np
import pandas as pd
import pytest

from simbox.data import build_network
from simbox.fastpath.events import RecordType, decode_array


def events(net):
    c = net.cdrs
    df = pd.DataFrame({"imsi": decode_array(c.imsi), "rtype": c.rtype, "time": c.time,
                       "other": c.other, "imei": c.imei, "cell": c.cell})
    return df.join(net.truth.set_index("imsi"), on="imsi")


@pytest.fixture(scope="module")
def week(small):
    """2,000 SIMs x 7 days (Monday to Sunday) with many desk gateways, roamers and cloned
    IMEIs."""
    shares = dict(small["legit"]["shares"], desk_gateway=0.06, roamer=0.03, m2m=0.08,
                  cloned_imei=0.05)
    net = build_network(2000, 7, "mixed", 3, config=dict(small, legit={"shares": shares},
                                                         m2m={"sms_only_share": 0.6,
                                                              "block_sims": [10, 30]}))
    return net, events(net)


def test_desk_gateway_sims_share_gateway_imeis_with_consecutive_imsis(week):
    net, df = week
    dg = df[(df.kind == "desk_gateway") & (df.imei > 0)]
    assert dg.imsi.nunique() >= 60
    tac = net.tac.set_index("tac")["device_type"]
    imeis = dg.imei.unique()
    assert set(tac.loc[pd.Series(decode_array(imeis)).str[:8]]) <= {"gsm_gateway", "fct"}
    per_imei = dg.groupby("imei")["imsi"].unique()
    shared = per_imei[per_imei.map(len) >= 4]
    assert len(shared) >= 1
    # the SIMs of a shared gateway come from one block: consecutive IMSIs, one site
    consecutive = 0
    for sims in shared:
        n = np.sort(np.array([int(s) for s in sims]))
        consecutive += int(n[-1] - n[0] == len(n) - 1)
    assert consecutive >= 1
    sites = net.cells["site_id"].to_numpy()
    main_site = dg.assign(site=sites[dg.cell]).groupby("imei")["site"].agg(
        lambda s: s.value_counts().index[0])
    per_imsi_site = dg.assign(site=sites[dg.cell]).groupby("imsi")["site"].agg(
        lambda s: s.value_counts().index[0])
    assert per_imsi_site.nunique() <= main_site.nunique()


def test_desk_gateways_work_weekdays_in_office_hours_and_dial_in_sessions(week):
    net, df = week
    moc = df[(df.kind == "desk_gateway") & (df.rtype == RecordType.MOC)]
    local = moc.time + 8 * 3600
    weekday = (local // 86400 + 3) % 7          # 0 = Monday
    per_day = np.bincount(weekday, minlength=7)
    assert per_day[5:].mean() < 0.3 * per_day[:5].mean()
    hour = (local % 86400) // 3600
    assert hour.between(8, 19).mean() > 0.9 and (hour < 6).sum() == 0
    # sessions: calls back to back, never two at once on one SIM
    m = moc.sort_values(["imsi", "time"])
    gap = m.time.diff()[m.imsi == m.imsi.shift()]
    assert (gap > 0).all() and gap.median() < 300


def callback_share(df, kind):
    """Share of a kind's incoming calls that come from a number it called before."""
    d = df[df.kind == kind]
    moc = d[d.rtype == RecordType.MOC].groupby(["imsi", "other"])["time"].min()
    mtc = d[d.rtype == RecordType.MTC]
    first = moc.reindex(pd.MultiIndex.from_arrays([mtc.imsi, mtc.other])).to_numpy()
    return float(np.mean(first < mtc.time.to_numpy())), len(mtc)


def test_customers_call_agents_back(week):
    _, df = week
    for kind in ("desk_gateway", "call_centre"):
        share, n = callback_share(df, kind)
        assert n > 50 and 0.1 < share < 0.95, (kind, share)
    # desk-gateway agents also get calls from numbers they never called (inbound queues)
    share, _ = callback_share(df, "desk_gateway")
    assert share < 0.9


def test_cloned_imei_sims_share_a_few_imeis_all_over_the_city(week):
    """Counterfeit handsets: tens of unrelated SIMs on each cloned IMEI, at sites all over
    the city, the clones used by no other kind."""
    net, df = week
    cl = df[(df.kind == "cloned_imei") & (df.imei > 0)]
    assert cl.imsi.nunique() >= 60
    per_imei = cl.groupby("imei")["imsi"].nunique()
    assert len(per_imei) <= 3 and per_imei.max() >= 30
    tac = net.tac.set_index("tac")["device_type"]
    assert set(tac.loc[pd.Series(decode_array(per_imei.index.to_numpy())).str[:8]]) == \
        {"feature_phone"}
    assert not df[(df.kind != "cloned_imei") & df.imei.isin(per_imei.index)].size
    sites = net.cells["site_id"].to_numpy()
    top = per_imei.idxmax()
    home = cl[cl.imei == top].assign(site=sites[cl[cl.imei == top].cell]).groupby("imsi")[
        "site"].agg(lambda s: s.value_counts().index[0])
    n_sites = net.cells["site_id"].nunique()          # unrelated people, not one site
    assert home.nunique() >= 0.5 * min(len(home), n_sites)
    n = np.sort(np.array([int(s) for s in home.index]))
    assert (np.diff(n) == 1).mean() < 0.2              # not one block of numbers
    # each lives an ordinary life: calls both ways, a few a day
    voice = cl[cl.rtype.isin([RecordType.MOC, RecordType.MTC])]
    per_day = voice.groupby("imsi").size() / 7
    assert 1 < per_day.median() < 20


def test_roamers_have_foreign_sims_short_stays_and_call_home(week):
    net, df = week
    ro = df[df.kind == "roamer"]
    assert ro.imsi.nunique() >= 30
    assert not ro.imsi.str.startswith("46000").any()
    assert (ro.imsi.str.len() == 15).all()
    msisdn = decode_array(net.cdrs.msisdn[np.isin(decode_array(net.cdrs.imsi), ro.imsi.unique())])
    assert not pd.Series(msisdn).str.startswith("86").any()
    days = ro.assign(day=(ro.time + 8 * 3600) // 86400).groupby("imsi")["day"].nunique()
    assert days.median() < 7
    voice = ro[ro.rtype.isin([RecordType.MOC, RecordType.MTC])]
    intl = pd.Series(decode_array(voice.other.to_numpy())).str.startswith("00")
    assert 0.3 < intl.mean() < 1.0


def test_iot_fleets_share_one_tac_and_one_server(week):
    net, df = week
    m2m = df[(df.kind == "m2m") & (df.imei > 0)]
    tac = pd.Series(decode_array(m2m.imei.to_numpy()), index=m2m.index).str[:8]
    sms = m2m[m2m.rtype == RecordType.SMS_MO]
    assert len(sms) > 0
    # fleets are consecutive IMSIs: group SIMs by runs of consecutive IMSIs
    sims = np.sort(m2m.imsi.astype(np.int64).unique())
    run = np.r_[0, np.cumsum(np.diff(sims) != 1)]
    fleet = pd.Series(run, index=sims.astype(str))
    per_fleet_tac = tac.groupby(fleet.reindex(m2m.imsi).to_numpy()).nunique()
    assert (per_fleet_tac[fleet.value_counts().reindex(per_fleet_tac.index) >= 5] == 1).all()
    servers = sms.groupby(fleet.reindex(sms.imsi).to_numpy())["other"].nunique()
    assert (servers == 1).all()
    # they report around the clock
    hour = ((m2m.time + 8 * 3600) % 86400) // 3600
    assert np.bincount(hour, minlength=24).min() > 0


def test_offices_and_fleets_opening_mid_window_start_together(small):
    """``new_office_share``: with 1.0 no call-centre or desk-gateway SIM is active on the
    first day (early-warning hard negatives); the default (0) keeps offices active from
    the first day."""
    shares = dict(small["legit"]["shares"], desk_gateway=0.06, call_centre=0.05, m2m=0.08)
    cfg = dict(small, legit={"shares": shares}, call_centre={"new_office_share": 1.0},
               desk_gateway={"new_office_share": 1.0}, m2m={"new_fleet_share": 1.0,
                                                           "block_sims": [10, 30]})
    df = events(build_network(2000, 5, "mixed", 4, config=cfg))
    day = (df.time - df.time.min()) // 86400
    first = day.groupby(df.imsi).min()
    for kind in ("call_centre", "desk_gateway"):
        sims = df[df.kind == kind].imsi.unique()
        assert len(sims) >= 20
        assert (first.loc[sims] >= 1).all(), kind          # no office open on day 0
    default = events(build_network(2000, 5, "mixed", 4, config=dict(small, legit={"shares": shares})))
    dday = (default.time - default.time.min()) // 86400
    dfirst = dday.groupby(default.imsi).min()
    offices = default[default.kind.isin(["call_centre", "desk_gateway"])].imsi.unique()
    assert (dfirst.loc[offices] == 0).mean() > 0.9
