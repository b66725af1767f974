"""Legitimate subscribers: the populations a detector must leave alone.

Each kind is a set of SIMs with identities, places (home / work / a fixed
site), a mobility mode and a behaviour: per-day rates of calls, SMS and data
sessions, drawn per SIM from a gamma law (heavy-tailed users) and per day
around it, timed by an hourly profile in local time, with a personal contact
list (most calls to repeat contacts; a third of contacts on this network, so
those calls appear on both sides).  See ``docs/simulator.md`` for the model of
each kind and :mod:`simbox.data.config` for the parameters.
"""
from __future__ import annotations

import numpy as np

from simbox.data.kinds import KIND_CODE, LEGIT_KINDS
from simbox.data.offices import callbacks, dial_sessions, gateway_imeis, offices
from simbox.data.registry import (DATA, FIXED, MOC, MTC, RESIDENT, SMS_MO, SMS_MT, TRAVELLER,
                                  WANDER, daily_counts, expand, lognormal, reachable,
                                  substream, uniform_range)
from simbox.data.timing import PROFILE_CODE

VOICE_KINDS = tuple(k for k in LEGIT_KINDS if k != "m2m")


def split_counts(total: int, weights: dict, order) -> dict:
    """Integer counts per key summing to ``total`` (largest remainder, deterministic)."""
    keys = [k for k in order if weights.get(k, 0) > 0]
    w = np.array([float(weights[k]) for k in keys])
    exact = total * w / w.sum()
    base = np.floor(exact).astype(int)
    rest = total - base.sum()
    for i in np.argsort(-(exact - base), kind="stable")[:rest]:
        base[i] += 1
    return {k: int(c) for k, c in zip(keys, base)}


def purchases(rng, n, share, sizes) -> np.ndarray:
    """Purchase id of each of ``n`` SIMs: about ``share`` of them in blocks of ``sizes``
    (consecutive SIMs, ids 0, 1, ...), the rest bought alone (-1)."""
    group = np.full(n, -1, np.int64)
    target = int(round(share * n))
    pos = g = 0
    while pos < target:
        size = int(min(uniform_range(rng, sizes), n - pos))
        if size < 2:
            break
        group[pos:pos + size] = g
        pos, g = pos + size, g + 1
    return group


def _shared_place(group, place):
    """Every member of a purchase gets the place of its first member."""
    place = place.copy()
    block = np.flatnonzero(group >= 0)
    if len(block):
        _, first = np.unique(group[block], return_index=True)
        lead = dict(zip(group[block][first].tolist(), place[block][first].tolist()))
        place[block] = [lead[g] for g in group[block].tolist()]
    return place


def create_legit(seed, cfg, subs, ids, net, window, n_legit, counts=None, tag=""):
    """Add every legitimate SIM to the registry; returns ``{kind: (indices, extra)}``."""
    if counts is None:
        counts = split_counts(n_legit, dict(cfg.legit.shares), LEGIT_KINDS)
    if counts.get("dual_sim", 0) % 2:
        counts["dual_sim"] -= 1
        counts["ordinary"] = counts.get("ordinary", 0) + 1
    out = {}
    days = window.days
    for kind in LEGIT_KINDS:
        n = counts.get(kind, 0)
        if n == 0:
            continue
        rng = substream(seed, "create:" + kind + tag)
        p = cfg[kind]
        home = net.pick(rng, n, "home")
        work = np.where(rng.random(n) < cfg.mobility.unemployed_share, -1,
                        net.pick(rng, n, "work"))
        mode = np.full(n, RESIDENT, np.int8)
        imei = ids.handset_imeis(n)
        extra = {}
        new = rng.random(n) < cfg.run.new_subscriber_share
        start_day = np.where(new & (days > 1), rng.integers(1, max(days, 2), size=n), 0)
        group = purchases(rng, n, p.block_share, p.block_sims) if "block_sims" in p else \
            np.full(n, -1, np.int64)
        if kind in ("call_centre", "desk_gateway"):
            # agents grouped in offices, all agents of an office at one site
            centre, home = offices(rng, p.centre_agents if kind == "call_centre"
                                   else p.office_agents, n, net)
            work = np.full(n, -1)
            mode = np.full(n, FIXED, np.int8)
            n_centres = int(centre.max()) + 1
            if kind == "call_centre":
                fct = rng.random(n_centres) < p.fct_share
                if fct.any():
                    m = fct[centre]
                    imei[m] = ids.imeis("fct", int(m.sum()))
            start_day = np.zeros(n, int)
            if p.new_office_share > 0 and days > 1:     # drawn only when asked: same seed, same files
                opens = rng.random(n_centres) < p.new_office_share
                start_day = np.where(opens, rng.integers(1, days, size=n_centres), 0)[centre]
            extra["centre"] = centre
            group = np.where((rng.random(n_centres) < p.block_share)[centre], centre, -1)
            if kind == "desk_gateway":
                imei, extra["gateway"] = gateway_imeis(rng, p, centre, ids)
        elif kind == "driver":
            mode = np.full(n, WANDER, np.int8)
        elif kind == "small_business":
            work = net.pick(rng, n, "work")
            work = _shared_place(group, work)             # a company block: one workplace
        elif kind == "m2m":
            mode = np.where(rng.random(n) < p.move_share, WANDER, FIXED).astype(np.int8)
            home = net.pick(rng, n, "work")
            for g in np.unique(group[group >= 0]):        # a fleet stands at 1-3 sites
                m = np.flatnonzero(group == g)
                sites = net.pick_sites(rng, int(uniform_range(rng, p.fleet_sites)), "work")
                home[m] = sites[np.arange(len(m)) % len(sites)]
            work = np.full(n, -1)
            dev = rng.random(n)
            imei = np.where(dev < 0.7, ids.imeis("m2m_module", n),
                            np.where(dev < 0.85, ids.imeis("router", n), ids.imeis("modem", n)))
            for g in np.unique(group[group >= 0]):        # a fleet: one model, one TAC
                m = np.flatnonzero(group == g)
                u = rng.random()
                dtype = "modem" if u < p.modem_tac_share else \
                    "router" if u < p.modem_tac_share + 0.15 else "m2m_module"
                imei[m] = ids.imeis(dtype, len(m), consecutive=True)
            if p.new_fleet_share > 0 and days > 1:      # drawn only when asked: same seed, same files
                fleets = np.unique(group[group >= 0])
                late = fleets[rng.random(len(fleets)) < p.new_fleet_share]
                day = rng.integers(1, days, size=len(late))
                for g, d in zip(late.tolist(), day.tolist()):
                    start_day[group == g] = d
            extra["fleet"] = group
        elif kind == "ordinary":
            home = _shared_place(group, home)             # a family plan: one home
        elif kind == "dual_sim":
            half = n // 2
            home[half:] = home[:half]
            work[half:] = work[:half]
            imei[half:] = imei[:half]
            start_day[half:] = start_day[:half]
        elif kind == "cloned_imei":
            # counterfeit handsets sold with one of a few cloned IMEIs: unrelated people
            # all over the city, each on one of them (the popular clone more often)
            clones = ids.imeis("feature_phone", max(int(uniform_range(rng, p.clones)), 1))
            weight = rng.dirichlet(np.ones(len(clones)))
            imei = clones[rng.choice(len(clones), size=n, p=weight)]
        elif kind == "roamer":
            home = net.pick(rng, n, "work")               # hotels crowd the centre
            stay = uniform_range(rng, p.stay_days, n)
            arrive = rng.integers(1 - stay, days)         # some arrived before the window
            start_day = np.maximum(arrive, 0)
        if kind == "roamer":
            imsi, msisdn, extra["country"] = ids.foreign_sims(n)
        else:
            imsi, msisdn = ids.purchases(group)
        cols = dict(imsi=imsi, msisdn=msisdn, kind=KIND_CODE[kind], imei=imei, home=home,
                    work=work, mode=mode, start_day=start_day,
                    callable=kind not in ("m2m", "roamer"))
        if kind == "roamer":
            cols["end_day"] = np.minimum(arrive + stay, 32767)
        if kind == "phone_changer":
            cols["imei2"] = ids.handset_imeis(n)
            lo, hi = window.start + 6 * 3600, window.end - 6 * 3600
            cols["switch_t"] = rng.integers(lo, max(hi, lo + 1), size=n)
            cols["old_share"] = np.where(rng.random(n) < p.back_and_forth_share,
                                         rng.uniform(0.1, 0.4, n), 0.0)
        if kind == "traveller":
            cols["mode"] = np.full(n, TRAVELLER, np.int8)
            length = uniform_range(rng, p.away_days, n)
            cols["away_len"] = np.minimum(length, max(days - 1, 1))
            cols["away_day"] = rng.integers(0, max(days - cols["away_len"].min(), 1), size=n)
            town = rng.integers(0, max(net.n_towns, 1), size=n)
            cols["away_cell"] = np.array([net.town_cells[t][0] if net.n_towns else 0
                                          for t in town])
        idx = subs.add(**cols)
        out[kind] = (idx, extra)
    return out


def _contacts(rng, n, size_median, sigma, onnet_share, callees, ids):
    """CSR contact lists: (ptr, numbers, onnet flags)."""
    size = np.maximum(1, np.round(lognormal(rng, size_median, sigma, n))).astype(np.int64)
    ptr = np.r_[0, np.cumsum(size)]
    total = int(ptr[-1])
    onnet = rng.random(total) < onnet_share
    nums = ids.offnet_numbers(total)
    if len(callees):
        nums[onnet] = callees.draw(rng, onnet.sum())
    return ptr, nums, onnet


def _pick_others(rng, pos, ptr, nums, onnet, repeat, callees, ids, lp, incoming=False):
    """Other party of each event: a contact (skewed to the first ones) or a new number."""
    n = len(pos)
    size = ptr[pos + 1] - ptr[pos]
    j = np.minimum((size * rng.random(n) ** lp.contact_skew).astype(np.int64), size - 1)
    k = ptr[pos] + j
    other = nums[k]
    new = rng.random(n) >= repeat
    fresh = ids.offnet_numbers(n)
    if not incoming and len(callees):
        on = rng.random(n) < lp.new_number_onnet_share
        fresh = np.where(on, callees.draw(rng, n), fresh)
    if incoming:
        # people on this network who call appear through their own outgoing calls
        new |= onnet[k]
    return np.where(new, fresh, other)


def _durations(rng, n, median, sigma, unanswered):
    d = np.maximum(1, lognormal(rng, median, sigma, n)).astype(np.int64)
    d = np.minimum(d, 4 * 3600)
    return np.where(rng.random(n) < unanswered, 0, d)


def generate_legit(seed, cfg, subs, ids, net, window, log, created, shortcodes):
    """Events of every legitimate population."""
    callees = reachable(subs, cfg)
    days = window.days
    for kind, (idx, extra) in created.items():
        rng = substream(seed, "events:" + kind)
        p = cfg[kind]
        n = len(idx)
        if kind == "m2m":
            _m2m(rng, cfg, subs, ids, net, window, log, idx, extra["fleet"], shortcodes)
            continue
        act = rng.gamma(cfg.run.activity_dispersion, 1.0 / cfg.run.activity_dispersion, n)
        if kind in ("call_centre", "desk_gateway"):
            act = rng.gamma(p.activity_dispersion, 1 / p.activity_dispersion, n)
        if kind == "dual_sim":
            act[n // 2:] *= cfg.dual_sim.second_activity
        day_no = np.arange(days)[None, :]
        active = ((day_no >= subs.start_day[idx][:, None]) &
                  (day_no < subs.end_day[idx][:, None])).astype(float)
        if kind == "low_activity":
            active *= rng.random((n, days)) >= p.silent_day_share
        day_factor = None
        if "weekend_activity" in p:
            day_factor = np.where(window.weekend, p.weekend_activity, 1.0)[None, :]
        profile = PROFILE_CODE[p.profile]
        lp = cfg.legit
        ptr, nums, onnet = _contacts(rng, n, p.contacts, lp.contacts_sigma, lp.onnet_contacts,
                                     callees, ids)
        if kind == "roamer":            # family and colleagues at home: international numbers
            home = np.flatnonzero(rng.random(len(nums)) < p.home_share)
            country = np.repeat(extra["country"], np.diff(ptr))[home]
            nums[home] = ids.international_numbers(len(home), cc=country)
            onnet[home] = False
        streams = [(MOC, p.moc_per_day, "people"), (MTC, p.mtc_per_day, "people"),
                   (SMS_MO, p.sms_mo_per_day, "people"), (SMS_MT, p.sms_mt_per_day, "people"),
                   (SMS_MT, cfg.legit.shortcode_sms_per_day, "shortcode"),
                   (DATA, p.data_per_day, "data")]
        if "inbound_agent_share" in p:  # inbound queue calls for some agents
            queue = rng.random(n) < p.inbound_agent_share
            streams.append((MTC, np.where(queue, p.inbound_per_day, 0.0), "queue"))
        for rtype, rate, source in streams:
            if np.all(np.asarray(rate) <= 0):
                continue
            counts = daily_counts(rng, act * rate, days, cfg.run.day_dispersion, active,
                                  day_factor)
            pos, day = expand(counts)
            if len(pos) == 0:
                continue
            sub = idx[pos]
            t = window.sample_times(rng, day, profile)
            m = len(pos)
            if source == "data":
                other = np.zeros(m, np.int64)
                dur = np.maximum(1, lognormal(rng, lp.data_duration_median_s,
                                              lp.data_duration_sigma, m))
            elif source == "shortcode":   # short-code SMS (bank OTPs, notifications)
                other = shortcodes[rng.integers(len(shortcodes), size=m)]
                dur = np.zeros(m)
            else:
                incoming = rtype in (MTC, SMS_MT)
                repeat = 0.0 if source == "queue" else p.repeat_share
                other = _pick_others(rng, pos, ptr, nums, onnet, repeat, callees, ids,
                                     lp, incoming)
                if rtype in (MOC, MTC):
                    dur = _durations(rng, m, p.duration_median_s, lp.duration_sigma,
                                     p.unanswered_share)
                else:
                    dur = np.zeros(m)
                if not incoming:
                    other = np.where(other == subs.msisdn[sub], ids.offnet_numbers(m), other)
            if rtype == MOC and "international_share" in p:
                intl = np.flatnonzero(rng.random(m) < p.international_share)
                other[intl] = ids.international_numbers(len(intl))
            if rtype == MOC and "sessions_per_day" in p:
                t, keep = dial_sessions(rng, p, window, pos, day, dur)
                keep &= t < window.end
                sub, t, other, dur = sub[keep], t[keep], other[keep], dur[keep]
            cell = subs.locate(rng, net, window, cfg, sub, t)
            imei = subs.device(rng, sub, t)
            log.add(sub, rtype, t, other, dur, cell, imei)
            if rtype == MOC and "callback_share" in p:
                callbacks(seed, kind, cfg, subs, net, window, log, sub, t, other, dur)


def _m2m(rng, cfg, subs, ids, net, window, log, idx, fleet, shortcodes):
    """M2M / IoT: periodic reports around the clock (data sessions, or SMS to a server).

    A fleet (one customer's meters, terminals or trackers) shares its firmware:
    one reporting period, one way of reporting and one server number (a short
    code, or a mobile number for ``server_long_number_share`` of SMS fleets); a
    SIM bought alone has its own.  Each device keeps its own phase.
    """
    p = cfg.m2m
    n = len(idx)
    unit = np.where(fleet >= 0, fleet, fleet.max(initial=-1) + 1 + np.arange(n))
    _, unit = np.unique(unit, return_inverse=True)
    n_units = int(unit.max()) + 1 if n else 0
    period = (uniform_range(rng, p.report_period_min, n_units) * 60)[unit]
    sms_only = (rng.random(n_units) < p.sms_only_share)[unit]
    phase = rng.integers(0, period)
    start = window.start + subs.start_day[idx].astype(np.int64) * 86400
    count = np.maximum(0, (window.end - start - phase) // period)
    pos = np.repeat(np.arange(n), count)
    k = np.arange(len(pos)) - np.repeat(np.cumsum(count) - count, count)
    t = start[pos] + phase[pos] + k * period[pos] + rng.integers(-20, 21, size=len(pos))
    t = np.clip(t, window.start, window.end - 1)
    # some devices skip reports (coverage, power)
    keep = rng.random(len(pos)) >= p.missed_report_share
    pos, t = pos[keep], t[keep]
    sub = idx[pos]
    server = np.where(rng.random(n_units) < p.server_long_number_share,
                      ids.offnet_numbers(n_units),
                      shortcodes[rng.integers(len(shortcodes), size=n_units)])[unit]
    is_sms = sms_only[pos]
    rtype = np.where(is_sms, SMS_MO, DATA)
    other = np.where(is_sms, server[pos], 0)
    dur = np.where(is_sms, 0, np.maximum(1, lognormal(rng, 20, 0.8, len(pos))))
    cell = subs.locate(rng, net, window, cfg, sub, t)
    log.add(sub, rtype, t, other, dur, cell, subs.imei[sub])
    # rare commands from the server
    cmd = rng.random(n) < p.command_share
    if cmd.any():
        ci = np.flatnonzero(cmd)
        tt = window.start + rng.integers(0, window.end - window.start, size=len(ci))
        tt = np.maximum(tt, start[ci])
        s = idx[ci]
        log.add(s, SMS_MT, tt, server[ci], 0, subs.locate(rng, net, window, cfg, s, tt),
                subs.imei[s])


def mirror(seed, cfg, subs, net, window, log):
    """Incoming side of calls and SMS between subscribers of this network.

    Every MOC / SMS_MO whose other party is a (callable) subscriber of the
    network gets its MTC / SMS_MT record on the callee's side, at the callee's
    place at that time, with the caller's MSISDN as other party.
    """
    rng = substream(seed, "mirror")
    msisdn = subs.msisdn
    callable_ = np.flatnonzero(subs.callable)
    if len(callable_) == 0:
        return 0
    order = np.argsort(msisdn[callable_], kind="stable")
    sorted_msisdn = msisdn[callable_][order]
    found = []
    for part in list(log.parts):
        rt = part["rtype"]
        out = np.flatnonzero((rt == MOC) | (rt == SMS_MO))
        if len(out) == 0:
            continue
        other = part["other"][out]
        pos = np.minimum(np.searchsorted(sorted_msisdn, other), len(sorted_msisdn) - 1)
        hit = sorted_msisdn[pos] == other
        rows = out[hit]
        callee = callable_[order[pos[hit]]]
        t = part["time"][rows]
        active = window.day_of(t) >= subs.start_day[callee]
        rows, callee, t = rows[active], callee[active], t[active]
        found.append((callee, np.where(rt[rows] == MOC, MTC, SMS_MT), t,
                      msisdn[part["sub"][rows]], part["duration"][rows]))
    if not found:
        return 0
    callee, rtype, t, caller, dur = (np.concatenate(x) for x in zip(*found))
    cell = subs.locate(rng, net, window, cfg, callee, t)
    imei = subs.device(rng, callee, t)
    log.add(callee, rtype, t, caller, dur, cell, imei)
    return len(t)
