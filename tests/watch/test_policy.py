"""The alert policy (simbox/watch/policy.py): confirmation of young flags, the office sign,
a SIM bank's rotation, hysteresis before ``cleared``; drop by drop through ``diff`` as the
watch runs it, against outcomes written out by hand."""
import numpy as np
import pandas as pd

from simbox.watch.alerts import diff
from simbox.watch.policy import COLUMNS, FEATURES, IMMEDIATE, AlertPolicy, decide

T0 = 1_772_000_000          # network time of the first drop
DROP = 900
THRESHOLD = 0.5
POLICY = AlertPolicy(young=24 * 3600, confirm=30 * 60, office_age=72 * 3600,
                     clear_margin=0.2, clear_after=2 * 3600)


def row(imsi, *, score, age, flagged=None, n_moc=5, n_mtc=0, callback_share=np.nan,
        site="S1", imei="", peers_known=0, peers_like=None, last=None, early=False, t=T0):
    """One evidence row of a SIM ``age`` seconds old at network time ``t``."""
    r = {c: np.nan for c in FEATURES}
    r.update({c: None for c in COLUMNS})
    first = t - age
    r.update(flagged=score >= THRESHOLD if flagged is None else flagged,
             **{"class": "simbox" if score >= THRESHOLD else "legit"}, score=score,
             reasons="early warning: x" if early else "model", deployment_id="D1",
             main_site=site, main_imei=imei, early=early, peers=10, peers_known=peers_known,
             peers_known_like=peers_known if peers_like is None else peers_like,
             first_seen=first, last_seen=first if last is None else last, n_moc=n_moc,
             n_mtc=n_mtc, mtc_callback_share=callback_share, moc_called_back_share=0.0,
             device_not_phone=1.0, imsi_neighbours=3.0)
    return pd.Series(r, name=imsi)


def run(drops, policy=POLICY):
    """Each drop (a list of rows, at T0 + k * DROP) through decide and diff; the alert
    lines as (drop index, imsi, state)."""
    flags, state, out = {}, {}, []
    for k, rows in enumerate(drops):
        t = T0 + k * DROP
        ev = pd.DataFrame(rows) if rows else pd.DataFrame(
            columns=list(COLUMNS) + list(FEATURES))
        ev.index.name = "imsi"
        table, state = decide(ev, flags, state, network_time=t, threshold=THRESHOLD,
                              policy=policy)
        table = table[["class", "score", "reasons", "deployment_id", "main_site",
                       "first_seen"]].rename_axis("imsi").reset_index()
        flags, alerts = diff(flags, table, network_time=t, now=float(t))
        out += [(k, a["imsi"], a["state"]) for a in alerts]
    return out


def test_a_young_office_without_callbacks_waits_for_the_confirmation():
    # an agent's SIM in a fixed cellular terminal, an hour old, flagged at every drop,
    # nobody has called it yet: pending for 30 minutes (two drops), then alerted
    drops = [[row("A", score=0.9, age=3600 + k * DROP, t=T0 + k * DROP)] for k in range(4)]
    assert run(drops) == [(2, "A", "new")]
    # flagged at one drop only (a spike): never alerted
    spike = [[row("A", score=0.9, age=3600, t=T0)]] + [
        [row("A", score=0.3, age=3600 + k * DROP, t=T0 + k * DROP)] for k in range(1, 4)]
    assert run(spike) == []
    # the streak starts again after a drop without the flag
    gap = [[row("A", score=s, age=3600 + k * DROP, t=T0 + k * DROP)]
           for k, s in enumerate([0.9, 0.9, 0.3, 0.9, 0.9, 0.9])]
    assert run(gap) == [(5, "A", "new")]


def test_calls_from_the_sims_own_group_are_no_sign_of_an_office():
    # a young human-like box: its two SIMs take calls from numbers they had not called,
    # all made by each other (unsolicited_in): alerted after the streak, like a box
    # nobody calls; the same calls from outside (an office's customers) hold them
    def drops(inside):
        def one(s, k):
            r = row(s, score=0.99, age=3600 + k * DROP, n_mtc=4, callback_share=0.0,
                    t=T0 + k * DROP)
            r["unsolicited_in"] = 4.0 if inside else 0.0
            return r
        return [[one(s, k) for s in ("A", "B")] for k in range(4)]
    got = run(drops(True))
    assert sorted(got) == [(2, "A", "new"), (2, "B", "new")]
    assert run(drops(False)) == []
    # a row without the column (an evidence table recorded before it) reads as outside
    assert run([[r.drop("unsolicited_in") for r in d] for d in drops(True)]) == []


def test_a_young_office_whose_peers_are_called_is_held_until_it_is_established():
    # a peer at its site (an agent who started an hour after it, scored under the
    # threshold) received calls from numbers it had not called: an office; the SIM waits
    # until it is 72 h old, still flagged
    age0 = 64 * 3600

    def drop(k, peer_age_offset=3600, site="S1"):
        t = T0 + k * DROP
        return [row("A", score=0.9, age=age0 + k * DROP, t=t),
                row("P", score=0.3, age=age0 - peer_age_offset + k * DROP, n_mtc=3,
                    callback_share=0.0, site=site, t=t)]
    due = -(-(72 * 3600 - age0) // DROP)          # the first drop at which it is 72 h old
    assert run([drop(k) for k in range(40)]) == [(due, "A", "new")]
    # the called SIM at another site, or first seen two days apart: no peer; the SIM is
    # older than 24 h: alerted at once
    assert run([drop(k, site="S2") for k in range(3)]) == [(0, "A", "new")]
    assert run([drop(k, peer_age_offset=48 * 3600) for k in range(3)]) == [(0, "A", "new")]
    # its own calls received from numbers it never called: held
    own = [[row("A", score=0.9, age=3600 + k * DROP, n_mtc=2, callback_share=0.0,
                t=T0 + k * DROP)] for k in range(8)]
    assert run(own) == []
    # ... unless it is busy at night (an office sleeps): 4 of its 7 events at night, at
    # least 2 of them its own calls
    def at_night(share):
        drops = [[row("A", score=0.9, age=3600 + k * DROP, n_mtc=2, callback_share=0.0,
                      t=T0 + k * DROP)] for k in range(3)]
        for (r,) in drops:
            r["night_share"] = share
        return drops
    assert run(at_night(4 / 7)) == [(2, "A", "new")]
    # 3 of 7 at night may be its 2 received calls and one own call (an office opening
    # early): not busy, held
    assert run(at_night(3 / 7)) == []
    # an office's night shift: called by strangers, 2 own calls at night (busy by the rule
    # above), and peers of its kind at the site called too: held; 4 own night events or
    # more (a box at work at night calls by the dozen), or no called peer of its kind:
    # busy, alerted
    def shift(own, like, rate=1):
        drops = [[row("A", score=0.9, age=3600 + k * DROP, n_moc=own + k * rate,
                      n_mtc=2, callback_share=0.0, peers_known=like, peers_like=like,
                      t=T0 + k * DROP)]
                 for k in range(5)]
        for (r,) in drops:
            r["night_share"] = 1.0
        return drops
    assert run(shift(own=2, like=1, rate=0)) == []
    assert run(shift(own=2, like=0, rate=0)) == [(2, "A", "new")]
    assert run(shift(own=4, like=1, rate=0)) == [(2, "A", "new")]
    # its night calls pass 3 at the third drop: the streak ran from the first, alerted then
    assert run(shift(own=1, like=1)) == [(3, "A", "new")]
    # calls received that all answer its own calls (callbacks) are no sign of an office
    back = [[row("A", score=0.9, age=3600 + k * DROP, n_mtc=2, callback_share=1.0,
                 t=T0 + k * DROP)] for k in range(3)]
    assert run(back) == [(2, "A", "new")]
    # an early-layer flag counts the called peers of the whole window (``peers_known``)
    early = [[row("E", score=0.01, flagged=True, early=True, age=3600 + k * DROP,
                  peers_known=1, t=T0 + k * DROP)] for k in range(3)]
    assert run(early) == []


def test_an_established_sim_is_alerted_at_once():
    assert run([[row("A", score=0.9, age=30 * 3600)]]) == [(0, "A", "new")]


def test_a_rotating_sim_bank_is_alerted_at_once():
    # three new SIMs through one gateway IMEI one after another (each in service after the
    # one before left), one of them with a peer that was called: confirmed at the first drop
    t = T0
    bank = [row(s, score=0.6, age=3 * 3600 - i * 3600, last=t - 3 * 3600 + i * 3600 + 600,
                imei="86000001000001", early=True, peers_known=1 if i == 0 else 0)
            for i, s in enumerate(["B1", "B2", "B3"])]
    assert sorted(run([bank])) == [(0, "B1", "new"), (0, "B2", "new"), (0, "B3", "new")]
    # the same SIMs in service together on the IMEI (a desk gateway): not a rotation
    together = [row(s, score=0.6, age=3 * 3600, last=t, imei="86000001000001", early=True)
                for s in ["B1", "B2", "B3"]]
    assert run([together]) == []
    # SIMs seen once each, minutes apart (a shared-IMEI desk gateway's channels, one first
    # call apiece): no span, so "one after another" says nothing
    once = [row(s, score=0.6, age=3600 - i * 300, last=t - 3600 + i * 300,
                imei="86000001000001", early=True, peers_known=1 if i == 0 else 0)
            for i, s in enumerate(["B1", "B2", "B3"])]
    assert run([once]) == []
    # seen once each but a slot apart (a SIM bank's port, one call per SIM): a rotation
    slots = [row(s, score=0.6, age=3 * 3600 - i * 2400, last=t - 3 * 3600 + i * 2400,
                 imei="86000001000001", early=True, peers_known=1 if i == 0 else 0)
             for i, s in enumerate(["B1", "B2", "B3"])]
    assert sorted(run([slots])) == [(0, "B1", "new"), (0, "B2", "new"), (0, "B3", "new")]


def test_a_desk_gateways_agents_one_after_another_are_no_rotation_where_an_office_is():
    # two new agents' SIMs on a desk gateway reporting one IMEI, the second's first call
    # after the first's last one, both flagged as a SIM box; a colleague at the site (in
    # the evidence, scored under the threshold) was called by a number it had not called:
    # an office, held until it is established, not confirmed as a rotation
    t = T0

    def drop(cls="simbox", called=True, night=np.nan):
        a = row("A", score=0.95, age=1800, last=t - 1200, imei="86000001000001")
        b = row("B", score=0.95, age=900, last=t, imei="86000001000001")
        p = row("P", score=0.3, age=2400, n_mtc=2 if called else 0, callback_share=0.0)
        for r in (a, b):
            r["class"], r["night_share"] = cls, night
        return [a, b, p]
    assert run([drop()]) == []
    both = [(0, "A", "new"), (0, "B", "new")]
    # nobody called there: a SIM bank's port, confirmed at once
    assert sorted(run([drop(called=False)])) == both
    # busy at night (4 of its 5 events, its own calls): no office
    assert sorted(run([drop(night=0.8)])) == both
    # flagged as a card farm: calls its SIMs receive are its business, not an office's
    assert sorted(run([drop(cls="cardfarm")])) == both


def test_sims_seen_once_one_after_another_are_no_rotation_where_an_office_is():
    # a new office's desk gateway reporting one IMEI: its lines in service together, each
    # took one call from a number it had not called before the agents started, hours
    # apart; flagged as a card farm (a SIM that only received): held like any SIM with the
    # sign of an office, not confirmed as a rotation
    t = T0

    def drop(n_mtc=1, span=0):
        rows = []
        for i, s in enumerate(["A", "B", "C"]):
            first = t - 3 * 3600 + i * 3600
            r = row(s, score=0.95, age=t - first, last=first + span, imei="86000001000001",
                    n_moc=0, n_mtc=n_mtc, callback_share=0.0)
            r["class"], r["n_sms_mt"] = "cardfarm", 1 - n_mtc + (1 if span else 0)
            rows.append(r)
        return [rows]
    assert run(drop()) == []
    three = [(0, "A", "new"), (0, "B", "new"), (0, "C", "new")]
    # each took an SMS, nobody called them: no office, the rotation confirms at once
    assert sorted(run(drop(n_mtc=0))) == three
    # each held the port for 20 minutes (a call and an SMS) and gave it up before the
    # next came: a modem cycling its SIMs, whose SIMs receive calls by its business
    assert sorted(run(drop(span=1200))) == three


def test_hysteresis_one_line_for_a_score_around_the_threshold():
    scores = [0.9, 0.45, 0.55, 0.35, 0.52, 0.4, 0.6, 0.48]      # never under 0.3
    drops = [[row("A", score=s, age=30 * 3600 + k * DROP, t=T0 + k * DROP)]
             for k, s in enumerate(scores)]
    assert run(drops) == [(0, "A", "new")]
    # the policy before: a line at every crossing
    assert [s for _, _, s in run(drops, IMMEDIATE)] == \
        ["new", "cleared", "new", "cleared", "new", "cleared", "new", "cleared"]
    # under the margin for clear_after (2 h = 8 drops): cleared once, at the 8th drop under
    low = [[row("A", score=s, age=30 * 3600 + k * DROP, t=T0 + k * DROP)]
           for k, s in enumerate([0.9] + [0.1] * 10)]
    assert run(low) == [(0, "A", "new"), (9, "A", "cleared")]
    # back over the margin meanwhile: the count starts again
    back = [[row("A", score=s, age=30 * 3600 + k * DROP, t=T0 + k * DROP)]
            for k, s in enumerate([0.9] + [0.1] * 5 + [0.4] + [0.1] * 9)]
    assert run(back) == [(0, "A", "new"), (15, "A", "cleared")]
    # a SIM not flagged at its score (excluded, dismissed) is cleared at once
    excluded = [[row("A", score=0.9, age=30 * 3600)],
                [row("A", score=0.9, age=30 * 3600 + DROP, flagged=False, t=T0 + DROP)]]
    assert run(excluded) == [(0, "A", "new"), (1, "A", "cleared")]
    # a SIM whose events left the window (no row) is cleared at once
    gone = [[row("A", score=0.9, age=30 * 3600)], []]
    assert run(gone) == [(0, "A", "new"), (1, "A", "cleared")]


def test_a_young_sims_model_flag_needs_the_young_score():
    """A SIM younger than ``young_score_age`` flagged by the model under ``young_score``
    never starts its confirmation; at the young score it does; once old enough the
    threshold is enough; the early layer's flags keep their own evidence."""
    policy = AlertPolicy(young=24 * 3600, confirm=30 * 60, office_age=72 * 3600,
                         clear_margin=0.2, clear_after=2 * 3600, young_score=0.9,
                         young_score_age=48 * 3600, young_hold="age")
    young = [[row("A", score=0.7, age=3600 + k * DROP, t=T0 + k * DROP)] for k in range(8)]
    assert run(young, policy) == []
    assert run(young, AlertPolicy(**dict(policy.as_dict(), young_score=0.0))) == \
        [(2, "A", "new")]
    sure = [[row("A", score=0.95, age=3600 + k * DROP, t=T0 + k * DROP)] for k in range(4)]
    assert run(sure, policy) == [(2, "A", "new")]
    old = [[row("A", score=0.7, age=49 * 3600 + k * DROP, t=T0 + k * DROP)] for k in range(2)]
    assert run(old, policy) == [(0, "A", "new")]
    early = [[row("A", score=0.7, age=3600 + k * DROP, t=T0 + k * DROP, early=True)]
             for k in range(4)]
    assert run(early, policy) == run(early, AlertPolicy(**dict(policy.as_dict(),
                                                                young_score=0.0)))


def test_the_young_score_comes_from_the_models_card_unless_set():
    """``young_score`` None takes the card's young-SIM threshold; a model without one
    (before session 9) gets the fallback; a set value is kept."""
    from types import SimpleNamespace

    from simbox.watch.policy import FALLBACK_YOUNG_SCORE

    card = {"metrics": {"young": {"threshold": 0.97}}}
    assert AlertPolicy().for_model(SimpleNamespace(card=card)).young_score == 0.97
    assert AlertPolicy().for_model(SimpleNamespace(card={})).young_score == FALLBACK_YOUNG_SCORE
    assert AlertPolicy(young_score=0.5).for_model(SimpleNamespace(card=card)).young_score == 0.5
    young = [[row("A", score=0.95, age=3600 + k * DROP, t=T0 + k * DROP)] for k in range(4)]
    assert run(young, AlertPolicy(young_hold="age").for_model(SimpleNamespace(card=card))) == []
    assert run(young, AlertPolicy(young_score=0.9, young_hold="age")) == [(2, "A", "new")]


def test_the_young_score_holds_only_where_an_office_may_be():
    """With ``young_hold="office"`` (the default) a young SIM's model flag under the
    young score is held only when it, or a peer at its site, was called by a number it
    had not called; otherwise the threshold and the confirmation streak are enough.
    ``young_hold="age"`` holds every young SIM."""
    policy = AlertPolicy(young=24 * 3600, confirm=30 * 60, office_age=72 * 3600,
                         clear_margin=0.2, clear_after=2 * 3600, young_score=0.9,
                         young_score_age=48 * 3600)
    assert policy.young_hold == "office"

    def drops(**kw):
        return [[row("A", score=0.7, age=3600 + k * DROP, t=T0 + k * DROP, **kw)]
                for k in range(8)]

    # nobody calls it or its peers: a box's evidence, confirmed after the streak
    assert run(drops(), policy) == [(2, "A", "new")]
    # a callback from a number it called is no office either
    assert run(drops(n_mtc=3, callback_share=1.0), policy) == [(2, "A", "new")]
    # its own unsolicited call, or a called peer: held under the young score
    assert run(drops(n_mtc=1, callback_share=0.0), policy) == []
    assert run(drops(peers_known=1), policy) == []
    # a called peer on another kind of device (a quiet subscriber's phone first seen
    # late, beside a gateway's SIMs) is no colleague: not held (office_peers="like")
    assert run(drops(peers_known=1, peers_like=0), policy) == [(2, "A", "new")]
    assert run(drops(peers_known=1, peers_like=0),
               AlertPolicy(**dict(policy.as_dict(), office_peers="window"))) == []
    # over the young score the office evidence does not hold it (the office sign may)
    sure = [[row("A", score=0.95, age=3600 + k * DROP, t=T0 + k * DROP, peers_known=1)]
            for k in range(4)]
    assert run(sure, policy) == run(sure, AlertPolicy(**dict(policy.as_dict(),
                                                              young_hold="age")))
    # "age" holds them all
    assert run(drops(), AlertPolicy(**dict(policy.as_dict(), young_hold="age"))) == []
    import pytest
    with pytest.raises(ValueError, match="young_hold must be 'office' or 'age'"):
        AlertPolicy(young_hold="sometimes")


# -- calls from the group are read only where they can change a decision ---------------
from hypothesis import given, settings, strategies as st  # noqa: E402

from simbox.watch.policy import PEER_WINDOW, evidence  # noqa: E402

_POLICIES = [POLICY, AlertPolicy(), AlertPolicy(office_peers="window"),
             AlertPolicy(office_peers="evidence"), AlertPolicy(young_hold="age"),
             AlertPolicy(young=96 * 3600, office_age=24 * 3600, young_score=0.8)]


@st.composite
def _evidence_drop(draw):
    """A random evidence table at T0 (ages on both sides of every horizon of the
    policies above), the flags of the drop before and the policy's pending state."""
    n = draw(st.integers(1, 7))
    rows, before, pending = [], {}, {}
    for i in range(n):
        s = f"S{i}"
        age = draw(st.sampled_from([600, 3 * 3600, 20 * 3600, 30 * 3600, 47 * 3600,
                                    60 * 3600, 71 * 3600, 73 * 3600, 80 * 3600,
                                    90 * 3600, 100 * 3600, 200 * 3600]))
        age += draw(st.integers(-1800, 1800))
        score = draw(st.sampled_from([0.05, 0.4, 0.6, 0.85, 0.95]))
        n_mtc = draw(st.integers(0, 4))
        r = row(s, score=score, age=age, n_mtc=n_mtc,
                callback_share=draw(st.sampled_from([np.nan, 0.0, 0.5, 1.0])),
                site=draw(st.sampled_from(["S1", "S2"])),
                imei=draw(st.sampled_from(["", "I1"])),
                peers_known=draw(st.integers(0, 2)), early=draw(st.booleans()),
                flagged=draw(st.booleans()))
        r["peers_known_like"] = draw(st.integers(0, int(r["peers_known"])))
        r["unsolicited_in"] = float(draw(st.integers(0, n_mtc)))
        r["night_share"] = draw(st.sampled_from([np.nan, 0.0, 0.5]))
        r["device_not_phone"] = float(draw(st.booleans()))
        rows.append(r)
        if draw(st.booleans()):
            before[s] = ("simbox", 0.9, "model", "D0")
        if draw(st.booleans()):
            pending[s] = T0 - draw(st.integers(0, 7200))
    ev = pd.DataFrame(rows)
    ev.index.name = "imsi"
    return ev, before, {"pending": pending, "under": {}}


@settings(max_examples=300, deadline=None)
@given(drop=_evidence_drop(), policy=st.sampled_from(_POLICIES), data=st.data())
def test_calls_from_the_group_of_old_sims_change_no_decision(drop, policy, data):
    """``AlertPolicy.group_age``: the evidence asks ``in_group`` only of SIMs younger than
    it (and counts called peers only from those).  Any other values for the older SIMs
    (``unsolicited_in`` past ``group_age``; ``peers_known`` and ``peers_known_like``,
    whose peers are first seen within PEER_WINDOW, past ``group_age - PEER_WINDOW``)
    leave every decision as it was."""
    ev, before, state = drop
    age = T0 - ev["first_seen"].to_numpy(float)
    other = ev.copy()
    for col, old in (("unsolicited_in", age >= policy.group_age),
                     ("peers_known", age >= policy.group_age - PEER_WINDOW),
                     ("peers_known_like", age >= policy.group_age - PEER_WINDOW)):
        for i in np.flatnonzero(old):
            other.iloc[i, other.columns.get_loc(col)] = data.draw(
                st.sampled_from([np.nan, 0.0, 1.0, 3.0]), label=f"{col}[{i}]")
    got = decide(ev, before, state, network_time=T0, threshold=THRESHOLD, policy=policy)
    alt = decide(other, before, state, network_time=T0, threshold=THRESHOLD, policy=policy)
    cols = [c for c in got[0].columns if c not in ("unsolicited_in", "peers_known",
                                                   "peers_known_like")]
    pd.testing.assert_frame_equal(got[0][cols], alt[0][cols])
    assert got[1] == alt[1]


def test_the_group_age_reaches_the_peers_of_the_oldest_held_sim():
    """The bound is not loose at its edge: a SIM 66 h old (under the office age) beside a
    SIM of its site first seen 10 h before it (76 h old, past the office age): whether
    the older one's received calls came from its group decides whether the younger one
    is held as an office, so the older one must be asked (``group_age`` reaches
    ``office_age + PEER_WINDOW``)."""
    def ev(inside):
        a = row("A", score=0.95, age=66 * 3600)
        p = row("P", score=0.3, age=76 * 3600, n_mtc=2, callback_share=0.0)
        p["unsolicited_in"] = 2.0 if inside else 0.0
        a["unsolicited_in"] = 0.0
        out = pd.DataFrame([a, p])
        out.index.name = "imsi"
        return out
    got = {inside: decide(ev(inside), {}, {}, network_time=T0, threshold=THRESHOLD,
                          policy=POLICY)[0].index.tolist() for inside in (True, False)}
    assert got == {True: ["A"], False: []}
    assert 76 * 3600 < POLICY.group_age


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_the_evidence_asks_the_group_only_of_young_sims_and_their_peers(data):
    """``evidence(in_group_since=t)`` against ``evidence`` asking every SIM, on a random
    network (a fake ``in_group`` that counts random calls and records whom it was asked):
    the same ``unsolicited_in`` for SIMs first seen at or after ``t`` (NaN before it),
    the same peers' counts for SIMs first seen PEER_WINDOW after ``t``, and nobody first
    seen before ``t`` asked."""
    from types import SimpleNamespace
    n = data.draw(st.integers(2, 30), label="sims")
    keys = [f"{100000 + i}" for i in range(n)]
    first = np.array([T0 - data.draw(st.integers(0, 150), label="age h") * 3600
                      for _ in keys], float)
    mtc = np.array([data.draw(st.integers(0, 3)) for _ in keys], float)
    feats = pd.DataFrame({"first_seen": first, "n_mtc": mtc, "mtc_callback_share": 0.0,
                          "device_not_phone": [float(data.draw(st.booleans())) for _ in keys]},
                         index=pd.Index(keys, name="imsi"))
    sims = pd.DataFrame({"main_site": [data.draw(st.sampled_from(["A", "B"])) for _ in keys],
                         "main_imei": ""}, index=feats.index)
    counts = pd.Series([float(data.draw(st.integers(0, int(m)))) for m in mtc], index=keys)
    res = SimpleNamespace(features=feats, sims=sims)
    flagged = pd.DataFrame({"imsi": keys[: max(1, n // 2)], "class": "simbox"})
    preds = pd.DataFrame({"score": np.full(n, 0.9)}, index=feats.index)
    asked = []

    def in_group(ks):
        asked.extend(ks)
        return counts.reindex([str(k) for k in ks]).to_numpy(float)
    since = T0 - data.draw(st.sampled_from([0, 12, 40, 84, 100])) * 3600
    full = evidence(flagged, res, preds, THRESHOLD, (), in_group)
    asked.clear()
    part = evidence(flagged, res, preds, THRESHOLD, (), in_group, in_group_since=since)
    assert all(feats.at[k, "first_seen"] >= since for k in asked)
    young = part["first_seen"].to_numpy(float) >= since
    np.testing.assert_array_equal(part["unsolicited_in"].to_numpy()[young],
                                  full["unsolicited_in"].to_numpy()[young])
    assert np.isnan(part["unsolicited_in"].to_numpy()[~young]).all()
    inner = part["first_seen"].to_numpy(float) >= since + PEER_WINDOW
    for col in ("peers", "peers_known", "peers_known_like"):
        np.testing.assert_array_equal(part[col].to_numpy()[inner], full[col].to_numpy()[inner])
