"""SIM-box deployments: GOIP-style gateways and SIM banks, plain and evasive.

A deployment is one operation: one gateway (or several, for a remote SIM bank)
with ``P`` ports, each port a GSM module with its own IMEI (one TAC, consecutive
serials).  Every port dials a chain of calls: attempts arrive per hour following
the international traffic wave (in local time), then are pushed back so that a
port never carries two calls at once (back-to-back bursts at the peak).  The
SIM on a port at a given time comes from the deployment's schedule: one SIM
per port, replaced when blocked (plain boxes), or SIMs rotated from a bank
every few minutes (many IMSIs on one IMEI).  SIMs are bought in batches:
consecutive IMSIs and MSISDNs, first active when the deployment starts.
"""
from __future__ import annotations

import numpy as np

from simbox.data.kinds import KIND_CODE
from simbox.data.registry import (BIG, DATA, MOC, MTC, OWN, SMS_MO, SMS_MT, lognormal,
                                  push_back, rank_in_group, substream, uniform_range)
from simbox.data.timing import wave

class Deployment:
    """What a raid would find, and what truth.csv needs."""

    def __init__(self, dep_id, kind, sims, devices, sites, in_device_at_end, seizable_devices):
        self.id = dep_id
        self.kind = kind
        self.sims = sims                      # global subscriber indices
        self.devices = devices                # IMEIs the deployment used
        self.sites = sites                    # cell indices of its places
        self.in_device_at_end = in_device_at_end   # SIMs present at the end (always seized)
        self.seizable_devices = seizable_devices   # IMEIs of the physical devices


def _pick_ports(rng, choices, weights=None):
    choices = np.asarray(choices)
    if weights is None:
        w = 1.0 / np.arange(1, len(choices) + 1)
    else:
        w = np.asarray(weights[: len(choices)], float)
    return int(choices[rng.choice(len(choices), p=w / w.sum())])


def _attempts(rng, window, n_ports, t0, rate_peak, hour_weight):
    """Per-port attempt times (sorted within port): Poisson per hour."""
    hours = window.days * 24
    hs = window.start + 3600 * np.arange(hours, dtype=np.int64)
    lh = window.local_hour(hs)
    lam = rate_peak * hour_weight[lh] * (hs + 3600 > t0)
    counts = rng.poisson(np.broadcast_to(lam, (n_ports, hours)))
    flat = counts.ravel()
    port = np.repeat(np.repeat(np.arange(n_ports), hours), flat)
    h = np.repeat(np.tile(np.arange(hours), n_ports), flat)
    t = np.maximum(hs[h] + rng.integers(0, 3600, size=len(h)), t0)
    order = np.lexsort((t, port))
    return port[order], t[order]


def _call_durations(rng, n, sc):
    ans = rng.random(n) >= sc.unanswered_share
    d = np.maximum(1, lognormal(rng, sc.duration_median_s, sc.duration_sigma, n)).astype(np.int64)
    short = rng.random(n) < sc.short_call_share
    d = np.where(short, rng.integers(1, 11, size=n), np.minimum(d, 3 * 3600))
    dur = np.where(ans, d, 0)
    occupy = np.where(ans, d, rng.integers(20, 46, size=n))     # ringing time when unanswered
    return dur, occupy


def _schedule_bank(rng, n_ports, pool, t0, rotation_s, n_slots):
    """(n_slots, n_ports) SIM (0..pool-1) on each port in each rotation slot."""
    rank = rng.permutation(pool)                 # SIM -> group by rank // n_ports
    table = np.empty((n_slots, n_ports), np.int64)
    groups = [np.flatnonzero(rank // n_ports == g) for g in range(int(np.ceil(pool / n_ports)))]
    for s in range(n_slots):
        g = groups[s % len(groups)]
        if len(g) < n_ports:                     # last partial group: top up from the next
            g = np.concatenate([g, groups[0][: n_ports - len(g)]])
        table[s] = g[rng.permutation(n_ports)]
    return table


class SimboxFactory:
    """Builds the deployments of one SIM-box kind within a SIM budget."""

    def __init__(self, seed, cfg, subs, ids, net, window, log, callees, dep_start):
        self.seed, self.cfg, self.subs, self.ids = seed, cfg, subs, ids
        self.net, self.window, self.log = net, window, log
        self.callees = callees
        self.next_id = dep_start

    def build(self, kind, budget):
        rng = substream(self.seed, "fraud:" + kind)
        out = []
        left = int(budget)
        while left >= 4:
            dep = self._one(rng, kind, left)
            if dep is None:
                break
            left -= len(dep.sims)
            out.append(dep)
        return out

    # -- one deployment ----------------------------------------------------------
    def _one(self, rng, kind, left):
        cfg, sc, window, net = self.cfg, self.cfg.simbox, self.window, self.net
        kp = cfg[kind] if kind != "simbox_plain" else None
        gateways = 1
        bank = False
        factor = 1
        rotation = 0
        if kind == "simbox_plain":
            ports = _pick_ports(rng, sc.ports, sc.port_weights)
            bank = rng.random() < sc.sim_bank_share
        elif kind == "simbox_remote_bank":
            gateways = int(uniform_range(rng, kp.gateways))
            ports = _pick_ports(rng, kp.ports) * gateways
            bank = True
        elif kind == "simbox_human":
            ports = _pick_ports(rng, sc.ports[:5], sc.port_weights[:5])
        else:
            ports = _pick_ports(rng, kp.ports)
        if kind == "simbox_lowrate":
            bank = True
            factor = int(uniform_range(rng, kp.pool_factor))
        elif bank:
            factor = int(uniform_range(rng, sc.bank_pool_factor))
        if bank:
            rmin = kp.rotation_min if kind == "simbox_remote_bank" else sc.rotation_min
            rotation = int(uniform_range(rng, rmin)) * 60
        # fit the budget
        days = window.days
        repl_rate = 0.0 if bank else sc.replace_per_day
        per_port = factor + repl_rate * days
        if ports * per_port > left:
            ports = max(gateways, int(left // per_port) // gateways * gateways)
            if ports < 1:
                return None
        if ports > left:
            gateways = min(gateways, left)
            ports = left // gateways * gateways
        if ports * factor > left:
            factor = max(1, left // ports)
        pool = ports * factor
        # start and places
        late = rng.random() < cfg.fraud.late_start_share and days > 1
        start_day = int(rng.integers(1, days)) if late else 0
        t0 = window.start + start_day * 86400 + int(rng.integers(0, 6 * 3600))
        if kind == "simbox_remote_bank":
            cand = net.pick_sites(rng, gateways * 3, "home")
            far = [cand[0]]
            for c in cand[1:]:
                if len(far) < gateways and net.distance_km(np.array([c]), np.array(far)).min() > 10:
                    far.append(c)
            if net.n_towns and len(far) < gateways:
                far += [net.town_cells[i % net.n_towns][0] for i in range(gateways - len(far))]
            gw_site = np.resize(np.array(far, np.int32), gateways)
        else:
            gw_site = net.pick_sites(rng, gateways, "home")
        port_gw = np.repeat(np.arange(gateways), ports // gateways)
        # replacements (plain one-SIM-per-port boxes)
        if bank:
            repl_port = np.empty(0, np.int64)
            repl_t = np.empty(0, np.int64)
        else:
            n_rep = rng.binomial(ports, min(1.0, repl_rate * (window.end - t0) / 86400))
            n_rep = min(int(n_rep), max(0, left - ports))
            repl_port = rng.integers(0, ports, size=n_rep)
            repl_t = rng.integers(t0 + 3600, window.end, size=n_rep)
            o = np.lexsort((repl_t, repl_port))
            repl_port, repl_t = repl_port[o], repl_t[o]
        n_sims = pool + len(repl_t)
        # register the SIMs: one consecutive batch, or bought one by one
        dep_id = f"D{self.next_id:04d}"
        self.next_id += 1
        batch = rng.random() >= cfg.fraud.scattered_numbers_share   # else bought one by one
        if cfg.fraud.roaming_sims_share > 0 and rng.random() < cfg.fraud.roaming_sims_share:
            imsi, msisdn, _ = self.ids.foreign_sims(n_sims, one_home=True, block=batch)
        else:
            imsi, msisdn = self.ids.sim_numbers(n_sims, block=batch)
        # gateway modules: a dedicated gateway TAC, or the TAC of a common GSM module
        # (the same modules sit in meters and trackers), or a fixed cellular terminal's
        gw_type = ["m2m_module" if u < sc.module_tac_share else "gsm_gateway"
                   for u in rng.random(gateways)]
        if sc.fct_tac_share > 0:
            gw_type = ["fct" if u < sc.fct_tac_share else t
                       for u, t in zip(rng.random(gateways), gw_type)]
        gw_imeis = [self.ids.imeis(t, ports // gateways, consecutive=True) for t in gw_type]
        port_imei = np.concatenate(gw_imeis)
        spoof = kind == "simbox_spoof"
        sim_imei = self.ids.handset_imeis(n_sims) if spoof else None
        # the SIM's first place and device (for the registry)
        if bank:
            n_slots = int((window.end - t0) // rotation) + 1
            table = _schedule_bank(rng, ports, pool, t0, rotation, n_slots)
        first_port = np.zeros(n_sims, np.int64)
        if not bank:
            first_port[:ports] = np.arange(ports)
            first_port[ports:] = repl_port
        else:
            first_port[table[0]] = np.arange(ports)
        home = gw_site[port_gw[first_port]]
        sims = self.subs.add(imsi=imsi, msisdn=msisdn, kind=KIND_CODE[kind],
                             deployment=int(dep_id[1:]),
                             imei=sim_imei if spoof else port_imei[first_port],
                             home=home, mode=OWN, start_day=start_day)
        # traffic: attempts per port following the wave
        hour_w = wave(sc.night_activity)
        if sc.caller_shift_h[1] > 0:       # callers in a zone behind: their evening, our night
            hour_w = np.roll(hour_w, int(uniform_range(rng, sc.caller_shift_h)) % 24)
        if kind == "simbox_human":
            lo, hi = kp.sleep_hours
            hour_w = hour_w.copy()
            hour_w[int(lo):int(hi)] = 0.0
        rate = float(sc.attempts_per_port_hour)
        if kind == "simbox_lowrate":
            per_day = float(uniform_range(rng, kp.calls_per_sim_day, integer=False)) * factor
            rate = per_day / hour_w.sum()
        elif kind == "simbox_human":
            cap = uniform_range(rng, kp.daily_cap, n_sims)
            rate = min(rate, 1.4 * float(np.median(cap)) / hour_w.sum())
        port, t = _attempts(rng, window, ports, t0, rate, hour_w)
        dur, occ = _call_durations(rng, len(t), sc)
        gap = np.maximum(1, lognormal(rng, sc.setup_gap_s, 0.8, len(t))).astype(np.int64)
        t = push_back(port, t, occ, gap)
        keep = t < window.end
        port, t, dur = port[keep], t[keep], dur[keep]
        # which SIM was on the port
        if bank:
            slot = np.minimum((t - t0) // rotation, n_slots - 1)
            sim = table[slot, port]
        else:
            k = np.searchsorted(repl_port * BIG + repl_t, port * BIG + t, side="right") - \
                np.searchsorted(repl_port * BIG + repl_t, port * BIG, side="left")
            first_repl = np.searchsorted(repl_port, port, side="left")
            sim = np.where(k > 0, ports + first_repl + k - 1, port)
        if kind == "simbox_human":
            day = window.day_of(t)
            o = np.lexsort((t, day, sim))
            rnk = rank_in_group((sim[o] * 1000 + day[o]))
            ok = np.empty(len(t), bool)
            ok[o] = rnk < cap[sim[o]]
            port, t, dur, sim = port[ok], t[ok], dur[ok], sim[ok]
        # where: the gateway's place (moved once / driving), serving-cell jitter
        place = self._places(rng, kind, gw_site, port_gw[port], t, t0)
        cell = net.serve(rng, place, 0.85)
        imei = sim_imei[sim] if spoof else port_imei[port]
        n = len(t)
        other = self._callees(rng, n)
        gsub = sims[sim]
        if kind == "simbox_human":
            other = self._human(rng, kp, sims, msisdn, sim, t, dur, cell, imei, other, n_sims,
                                sim_imei, port_imei, first_port)
        self.log.add(gsub, MOC, t, other, dur, cell, imei)
        self._echoes(rng, sc, gsub, t, other, cell, imei)
        # what a raid finds at the end: SIMs in the ports (the whole bank), the gateways
        if bank:
            at_end = sims
        else:
            last = np.arange(ports)
            if len(repl_t):
                cnt = np.bincount(repl_port, minlength=ports)
                firsts = np.cumsum(cnt) - cnt
                last = np.where(cnt > 0, ports + firsts + cnt - 1, last)
            at_end = sims[last]
        sites = np.unique(np.concatenate([gw_site, np.unique(cell)]))
        return Deployment(dep_id, kind, sims, np.unique(imei), sites, at_end,
                          np.unique(port_imei))

    def _echoes(self, rng, sc, gsub, t, other, cell, imei):
        """What reaches a box SIM from outside: a few callbacks, the carrier's SMS."""
        end = self.window.end
        back = np.flatnonzero(rng.random(len(t)) < sc.callback_share)
        if len(back):
            tb = t[back] + np.maximum(30, rng.exponential(1800, len(back))).astype(np.int64)
            ok = tb < end
            b = back[ok]
            dur = np.where(rng.random(len(b)) < 0.85, 0, rng.integers(3, 30, size=len(b)))
            self.log.add(gsub[b], MTC, tb[ok], other[b], dur, cell[b], imei[b])
        if len(t):
            days = (end - t.min()) / 86400.0
            n_sims = len(np.unique(gsub))
            k = int(rng.poisson(sc.operator_sms_per_day * days * n_sims))
            if k:
                pick = rng.integers(0, len(t), size=k)       # while the SIM is on air
                ts = np.minimum(t[pick] + rng.integers(0, 600, size=k), end - 1)
                self.log.add(gsub[pick], SMS_MT, ts, self.ids.operator_code, 0, cell[pick],
                             imei[pick])

    def _callees(self, rng, n):
        f = self.cfg.fraud
        other = self.ids.offnet_numbers(n)
        on = rng.random(n) < f.onnet_callee_share
        if len(self.callees):
            other[on] = self.callees.draw(rng, on.sum())
        intl = rng.random(n) < f.international_share
        if intl.any():
            other[intl] = self.ids.international_numbers(int(intl.sum()))
        return other

    def _places(self, rng, kind, gw_site, gw, t, t0):
        net, window = self.net, self.window
        place = gw_site[gw].astype(np.int32)
        if kind == "simbox_plain" and rng.random() < self.cfg.simbox.moved_once_share:
            t_move = int(rng.integers(t0, window.end))
            new_site = net.pick_sites(rng, 1, "home")[0]
            place = np.where(t >= t_move, new_site, place)
        if kind == "simbox_mobile":
            lo, hi = self.cfg.simbox_mobile.move_every_min
            step = int(rng.integers(int(lo), int(hi) + 1)) * 60
            n_steps = int((window.end - t0) // step) + 2
            route = np.empty(n_steps, np.int32)
            route[0] = gw_site[0]
            jumps = rng.integers(1, net.near.shape[1], size=n_steps)
            for i in range(1, n_steps):             # a random walk over neighbouring cells
                route[i] = net.near[route[i - 1], jumps[i]]
                if not net.city[route[i]]:
                    route[i] = route[i - 1]
            k = (t - t0) // step
            h0, h1 = self.cfg.simbox_mobile.driving_hours
            lh = window.local_hour(t)
            driving = (lh >= h0) & (lh < h1)
            place = np.where(driving, route[np.clip(k, 0, n_steps - 1)], gw_site[0])
        return place

    def _human(self, rng, kp, sims, msisdn, sim, t, dur, cell, imei, other, n_sims,
               sim_imei, port_imei, first_port):
        """Human-behaviour simulation: calls and SMS between SIMs, repeat contacts, data."""
        n = len(t)
        window = self.window
        # repeat-contact set per SIM
        rc = int(kp.repeat_contacts)
        contacts = self.ids.offnet_numbers(n_sims * rc).reshape(n_sims, rc)
        rep = rng.random(n) < kp.repeat_share
        other = np.where(rep, contacts[sim, rng.integers(0, rc, size=n)], other)
        # calls to sibling SIMs: the sibling gets an incoming call (at the same box)
        sib_call = rng.random(n) < kp.sibling_call_share
        sib = (sim + rng.integers(1, max(n_sims, 2), size=n)) % n_sims
        other = np.where(sib_call, msisdn[sib], other)
        m = np.flatnonzero(sib_call)
        sib_imei = port_imei[first_port[sib[m]]] if sim_imei is None else sim_imei[sib[m]]
        self.log.add(sims[sib[m]], MTC, t[m], msisdn[sim[m]], dur[m], cell[m], sib_imei)
        # SMS: half to siblings (mirrored), half to the repeat contacts
        days = window.days
        n_sms = int(rng.poisson(kp.sms_per_day * days * n_sims * (n > 0)))
        if n_sms and n:
            pick = rng.integers(0, n, size=n_sms)          # next to one of the SIM's calls
            s_sim = sim[pick]
            s_t = t[pick] + rng.integers(60, 1800, size=n_sms)
            s_t = np.minimum(s_t, window.end - 1)
            to_sib = rng.random(n_sms) < 0.5
            s_sib = (s_sim + rng.integers(1, max(n_sims, 2), size=n_sms)) % n_sims
            s_other = np.where(to_sib, msisdn[s_sib],
                               contacts[s_sim, rng.integers(0, rc, size=n_sms)])
            self.log.add(sims[s_sim], SMS_MO, s_t, s_other, 0, cell[pick], imei[pick])
            j = np.flatnonzero(to_sib)
            j_imei = port_imei[first_port[s_sib[j]]] if sim_imei is None else sim_imei[s_sib[j]]
            self.log.add(sims[s_sib[j]], SMS_MT, s_t[j], msisdn[s_sim[j]], 0, cell[pick][j],
                         j_imei)
        n_data = int(rng.poisson(kp.data_per_day * days * n_sims * (n > 0)))
        if n_data and n:
            pick = rng.integers(0, n, size=n_data)
            d_t = np.minimum(t[pick] + rng.integers(30, 3600, size=n_data), window.end - 1)
            self.log.add(sims[sim[pick]], DATA, d_t, 0,
                         np.maximum(1, lognormal(rng, 120, 1.0, n_data)), cell[pick], imei[pick])
        return other
