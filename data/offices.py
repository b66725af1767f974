"""Offices of agents: call centres and desk gateways, the hardest negatives.

A call centre (``call_centre``) or an office whose agents' SIMs sit in
multi-SIM desk gateways (``desk_gateway``) places its agents at one site, all
SIMs fixed there, often bought as one block (consecutive IMSIs and MSISDNs).
Call-centre agents use handsets or single-SIM fixed cellular terminals; a desk
gateway holds 4-32 SIMs (a GOIP-like box on the desk, or a multi-SIM fixed
cellular terminal) that report a gateway or FCT TAC — for most gateways the
same IMEI for every SIM (several IMSIs on one IMEI), for the others one IMEI
per channel with consecutive serials.

What separates them from SIM boxes is behaviour a real network shows: weekday
office hours with a lunch dip and quiet weekends (the ``business`` rhythm);
desk-gateway agents dial in sessions (a predictive dialler puts calls back to
back, with a short wrap-up between them); customers call back the numbers that
called them (:func:`callbacks`), some agents take inbound queue calls from
people they never called, and the traffic is domestic.
"""
from __future__ import annotations

import numpy as np

from simbox.data.registry import (MTC, lognormal, push_back, substream, uniform_range)
from simbox.data.timing import PROFILE_CODE

OPEN_HOURS = (8, 19)     # local hours an office answers its phones (weekdays)
CLOSING_H = 20           # no dialling session runs past this local hour
LUNCH_H = 12             # ... nor through the lunch hour


def offices(rng, sizes_range, n, net):
    """Office of each of ``n`` agents (sizes drawn from ``sizes_range``) and its site."""
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(uniform_range(rng, sizes_range)))
    sizes[-1] -= sum(sizes) - n
    sizes = [s for s in sizes if s > 0]
    sites = net.pick_sites(rng, len(sizes), "work")
    office = np.repeat(np.arange(len(sizes)), sizes)
    return office, sites[office]


def gateway_imeis(rng, p, office, ids):
    """(IMEI, gateway id) of every desk-gateway SIM: an office's SIMs fill its gateways
    in order (``gateway_sims`` each); a gateway reports one IMEI for all its SIMs
    (``shared_imei_share``) or one per channel (consecutive serials), with a
    GSM-gateway TAC (``gateway_tac_share``) or a fixed-cellular-terminal TAC."""
    n = len(office)
    imei = np.empty(n, np.int64)
    gateway = np.empty(n, np.int64)
    g = 0
    for o in np.unique(office):
        members = np.flatnonzero(office == o)
        pos = 0
        while pos < len(members):
            k = int(min(uniform_range(rng, p.gateway_sims), len(members) - pos))
            m = members[pos:pos + k]
            dtype = "gsm_gateway" if rng.random() < p.gateway_tac_share else "fct"
            if rng.random() < p.shared_imei_share:
                imei[m] = ids.imeis(dtype, 1)[0]
            else:
                imei[m] = ids.imeis(dtype, k, consecutive=True)
            gateway[m] = g
            pos, g = pos + k, g + 1
    return imei, gateway


def dial_sessions(rng, p, window, pos, day, dur):
    """Times of outgoing calls dialled in sessions (desk-gateway agents).

    Each agent-day has ``sessions_per_day`` sessions starting at hours drawn from
    the kind's rhythm within office hours; its calls are spread over them and placed back to back from the session start (an unanswered
    call rings 20-45 s, then a wrap-up pause of median ``wrapup_s``), never two at
    once on one SIM.  Each agent takes an hour's lunch starting between 11:30 and
    13:00 (around ``LUNCH_H``); morning calls that would run into it and afternoon
    calls after ``CLOSING_H`` local time are not made (the agent is at lunch, or
    has gone home).  Returns the times and that mask.
    """
    n = len(pos)
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, bool)
    agent_day = pos.astype(np.int64) * window.days + day
    uniq, inv = np.unique(agent_day, return_inverse=True)
    n_sess = uniform_range(rng, p.sessions_per_day, len(uniq))
    sess = (rng.random(n) * n_sess[inv]).astype(np.int64)
    first = np.zeros(len(uniq), np.int64)
    first[inv[::-1]] = np.arange(n)[::-1]           # a call of each agent-day
    hi = int(p.sessions_per_day[1])
    h = np.arange(24)
    office = (h >= OPEN_HOURS[0] - 1) & (h < CLOSING_H - 1)
    starts = window.sample_times(rng, np.repeat(day[first], hi), PROFILE_CODE[p.profile],
                                 hours_mask=office)
    start = starts.reshape(len(uniq), hi)[inv, sess]
    midnight = window.midnight_utc[day]
    # each agent's own lunch hour: from 11:30, 12:00, 12:30 or 13:00
    agents = np.unique(pos, return_inverse=True)[1]
    lunch = midnight + LUNCH_H * 3600 + \
        rng.choice(np.array([-1800, 0, 1800, 3600]), size=agents.max() + 1)[agents]
    afternoon = start >= lunch
    start = np.where(afternoon, np.maximum(start, lunch + 3600), start)
    occupy = np.where(dur > 0, dur, rng.integers(20, 46, size=n))
    gap = np.maximum(1, lognormal(rng, p.wrapup_s, 0.7, n)).astype(np.int64)
    block = inv * 2 + afternoon                     # morning and afternoon dial apart
    order = np.lexsort((rng.random(n), start, block))
    t = np.empty(n, np.int64)
    t[order] = push_back(block[order], start[order], occupy[order], gap[order])
    return t, t < np.where(afternoon, midnight + CLOSING_H * 3600, lunch)


def callbacks(seed, kind, cfg, subs, net, window, log, sub, t, other, dur):
    """Customers calling an agent back: ``callback_share`` of its outgoing calls to
    other carriers' numbers come back as incoming calls from the called number after
    a delay (lognormal, median ``callback_delay_min``); answered (a conversation) when
    the office is open, else a missed call (duration 0)."""
    p = cfg[kind]
    rng = substream(seed, "callbacks:" + kind)
    offnet = ~np.isin(other, subs.msisdn)
    pick = np.flatnonzero(offnet & (rng.random(len(t)) < p.callback_share))
    k = len(pick)
    if k == 0:
        return 0
    tb = t[pick] + np.maximum(60, lognormal(rng, p.callback_delay_min * 60, 1.0, k)).astype(
        np.int64)
    ok = tb < window.end
    pick, tb = pick[ok], tb[ok]
    k = len(pick)
    s = sub[pick]
    hour = window.local_hour(tb)
    open_ = ~window.weekend[window.day_of(tb)] & (hour >= OPEN_HOURS[0]) & (hour < OPEN_HOURS[1])
    talk = np.maximum(1, lognormal(rng, p.duration_median_s, cfg.legit.duration_sigma, k))
    d = np.where(open_ & (rng.random(k) >= p.unanswered_share), talk, 0).astype(np.int64)
    log.add(s, MTC, tb, other[pick], d, subs.locate(rng, net, window, cfg, s, tb),
            subs.device(rng, s, tb))
    return k
