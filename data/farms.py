"""Card farms: modem pools and multi-card devices holding 50-500 SIMs.

A farm sits at one to three sites.  Its modems (one IMEI each, a modem TAC,
consecutive serials) each cycle through a group of SIMs: one SIM is active in
a modem for a slot of some minutes, then the next one, so many IMSIs appear
on one IMEI.  What the active SIM does depends on the business:

- OTP / registration farms receive verification SMS from service short codes
  (and the odd voice-OTP call), almost no voice of their own;
- SMS spam farms send bursts of SMS to many distinct numbers;
- rented numbers receive a few verification SMS and calls.
"""
from __future__ import annotations

import numpy as np

from simbox.data.fraud import Deployment
from simbox.data.kinds import KIND_CODE
from simbox.data.registry import (DATA, MTC, OWN, SMS_MO, SMS_MT, lognormal, substream,
                                  uniform_range)
from simbox.data.timing import PROFILE_CODE, profile_table


class FarmFactory:
    def __init__(self, seed, cfg, subs, ids, net, window, log, callees, shortcodes, dep_start):
        self.seed, self.cfg, self.subs, self.ids = seed, cfg, subs, ids
        self.net, self.window, self.log = net, window, log
        self.callees = callees
        self.shortcodes = shortcodes
        self.next_id = dep_start

    def build(self, kind, budget):
        rng = substream(self.seed, "fraud:" + kind)
        out = []
        left = int(budget)
        lo = int(self.cfg.cardfarm.sims[0])
        while left >= min(lo, 4) and left > 0:
            size = min(int(uniform_range(rng, self.cfg.cardfarm.sims)), left)
            if size < 4:
                break
            out.append(self._one(rng, kind, size))
            left -= size
        return out

    def _one(self, rng, kind, n_sims):
        cfg, window, net = self.cfg, self.window, self.net
        cf = cfg.cardfarm
        kp = cfg[kind]
        dep_id = f"D{self.next_id:04d}"
        self.next_id += 1
        per_modem = int(min(uniform_range(rng, cf.sims_per_modem), n_sims))
        n_modems = int(np.ceil(n_sims / per_modem))
        n_sites = int(min(uniform_range(rng, cf.sites), n_modems))
        sites = net.pick_sites(rng, n_sites, "home")
        modem_site = sites[np.arange(n_modems) % n_sites]
        modem_imei = self.ids.imeis("modem", n_modems, consecutive=True)
        sim_modem = np.arange(n_sims) // per_modem
        group = np.bincount(sim_modem, minlength=n_modems)
        late = rng.random() < cfg.fraud.late_start_share and window.days > 1
        start_day = int(rng.integers(1, window.days)) if late else 0
        t0 = window.start + start_day * 86400
        batch = rng.random() >= cfg.fraud.scattered_numbers_share   # else bought one by one
        imsi, msisdn = self.ids.sim_numbers(n_sims, block=batch)
        sims = self.subs.add(imsi=imsi, msisdn=msisdn, kind=KIND_CODE[kind],
                             deployment=int(dep_id[1:]), imei=modem_imei[sim_modem],
                             home=modem_site[sim_modem], mode=OWN, start_day=start_day)
        # slots: each modem runs one of its SIMs at a time, round robin
        cycle = int(uniform_range(rng, cf.cycle_min)) * 60
        n_slots = int((window.end - t0) // cycle) + 1
        slot_start = t0 + cycle * np.arange(n_slots, dtype=np.int64)
        offset = rng.integers(0, per_modem, size=n_modems)
        m_idx = np.repeat(np.arange(n_modems), n_slots)
        s_idx = np.tile(np.arange(n_slots), n_modems)
        active_slot = (s_idx + offset[m_idx]) % group[m_idx]
        # the SIM active in (modem, slot)
        first_sim = np.r_[0, np.cumsum(group)[:-1]]
        active_sim = first_sim[m_idx] + active_slot
        ts = slot_start[s_idx]
        hours_active = 24.0 / per_modem          # hours a SIM is on air per day
        tab = profile_table()[PROFILE_CODE["resident"], 0]
        hw = tab / tab.mean()                     # hourly factor, mean 1
        hw_slot = hw[window.local_hour(ts)]
        slot_h = cycle / 3600.0

        def emit(per_sim_day, rtype, other_fn, dur_fn=None, burst=None):
            if np.ndim(per_sim_day) == 0:
                per_sim_day = np.full(n_sims, float(per_sim_day))
            lam = per_sim_day[active_sim] / hours_active * slot_h * hw_slot
            if burst is None:
                cnt = rng.poisson(lam)
                rows = np.repeat(np.arange(len(ts)), cnt)
                t = ts[rows] + rng.integers(0, cycle, size=len(rows))
            else:
                blo, bhi = burst
                mean_b = (blo + bhi) / 2
                nb = rng.poisson(lam / mean_b)
                brow = np.repeat(np.arange(len(ts)), nb)
                bsize = rng.integers(int(blo), int(bhi) + 1, size=len(brow))
                bstart = ts[brow] + rng.integers(0, cycle, size=len(brow))
                rows = np.repeat(brow, bsize)
                gaps = np.maximum(1, lognormal(rng, cfg.cardfarm_spam.burst_gap_s, 0.6,
                                               len(rows))).astype(np.int64)
                firsts = np.cumsum(bsize) - bsize
                cs = np.cumsum(gaps)
                within = cs - np.repeat(cs[firsts], bsize)
                t = np.repeat(bstart, bsize) + within
            ok = t < window.end
            rows, t = rows[ok], t[ok]
            s = active_sim[rows]
            m = m_idx[rows]
            cell = net.serve(rng, modem_site[m], 0.9)
            n = len(t)
            dur = np.zeros(n, np.int64) if dur_fn is None else dur_fn(n)
            self.log.add(sims[s], rtype, t, other_fn(n), dur, cell, modem_imei[m])

        ids = self.ids
        if kind == "cardfarm_otp":
            emit(uniform_range(rng, kp.sms_mt_per_day, n_sims, integer=False), SMS_MT,
                 lambda n: self._senders(rng, n))
            emit(kp.mtc_per_day, MTC, lambda n: self._senders(rng, n),
                 lambda n: rng.integers(15, 45, size=n))
            emit(kp.data_per_day, DATA, lambda n: np.zeros(n, np.int64),
                 lambda n: np.maximum(1, lognormal(rng, 60, 0.8, n)).astype(np.int64))
        elif kind == "cardfarm_spam":
            callees = self.callees

            def targets(n):
                out = ids.offnet_numbers(n)
                on = rng.random(n) < cfg.fraud.onnet_callee_share
                if len(callees):
                    out[on] = callees.draw(rng, on.sum())
                return out
            emit(uniform_range(rng, kp.sms_mo_per_day, n_sims, integer=False), SMS_MO, targets,
                 burst=kp.burst_size)
        else:   # rented numbers
            emit(uniform_range(rng, kp.sms_mt_per_day, n_sims, integer=False), SMS_MT,
                 lambda n: self._senders(rng, n))
            emit(kp.mtc_per_day, MTC, lambda n: np.where(
                rng.random(n) < kp.international_caller_share, ids.international_numbers(n),
                ids.offnet_numbers(n)),
                lambda n: np.where(rng.random(n) < 0.2, 0, rng.integers(10, 90, size=n)))
        # the SIMs in the modems at the end: all of them (a farm keeps its cards)
        return Deployment(dep_id, kind, sims, modem_imei, np.unique(modem_site), sims,
                          modem_imei)

    def _senders(self, rng, n):
        """Verification senders: service short codes, sometimes international numbers."""
        sc = self.shortcodes[rng.integers(len(self.shortcodes), size=n)]
        intl = rng.random(n) < self.cfg.cardfarm.international_sender_share
        if intl.any():
            sc[intl] = self.ids.international_numbers(int(intl.sum()))
        return sc
