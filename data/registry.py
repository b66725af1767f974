"""Shared state of a simulation run: the subscriber registry and the event log.

Every population adds its SIMs to :class:`Subscribers` (identities, kind,
deployment, places, mobility mode) and its events to :class:`EventLog` (global
subscriber index, record type, UTC time, other party, duration, serving cell,
device).  The registry also answers *where is this SIM at time t* for SIMs that
move like people (:meth:`Subscribers.locate`) and *which device is it in*
(:meth:`Subscribers.device`), so that calls between two subscribers of the
network appear on both sides.
"""
from __future__ import annotations

import zlib

import numpy as np

from simbox.data.kinds import KIND_NAMES, LEGIT_KINDS
from simbox.fastpath.events import RecordType

MOC, MTC, SMS_MO, SMS_MT, DATA = (int(RecordType.MOC), int(RecordType.MTC),
                                  int(RecordType.SMS_MO), int(RecordType.SMS_MT),
                                  int(RecordType.DATA))

# mobility modes
RESIDENT, FIXED, WANDER, TRAVELLER, OWN = 0, 1, 2, 3, 4   # OWN: the generator sets cells


def substream(seed: int, name: str) -> np.random.Generator:
    """An independent generator per population: adding one never reshuffles another."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(
        name.encode()),)))


def lognormal(rng, median, sigma, n):
    return np.exp(np.log(max(float(median), 1e-9)) + sigma * rng.standard_normal(n))


def uniform_range(rng, pair, n=None, integer=True):
    lo, hi = pair
    if integer:
        return rng.integers(int(lo), int(hi) + 1, size=n)
    return rng.uniform(float(lo), float(hi), size=n)


class Subscribers:
    """Columns per SIM (global index = row)."""

    FIELDS = {
        "imsi": np.int64, "msisdn": np.int64, "kind": np.int16, "deployment": np.int32,
        "imei": np.int64, "imei2": np.int64, "switch_t": np.int64, "old_share": np.float32,
        "home": np.int32, "work": np.int32, "mode": np.int8, "start_day": np.int16,
        "end_day": np.int16,
        "away_day": np.int16, "away_len": np.int16, "away_cell": np.int32,
        "callable": np.bool_,
    }

    def __init__(self):
        self._parts = {k: [] for k in self.FIELDS}
        self.n = 0
        self.deployments = []      # (deployment_id, kind, n_sims, n_devices, extra dict)

    def add(self, **cols) -> np.ndarray:
        """Add SIMs; returns their global indices."""
        n = len(cols["imsi"])
        defaults = {"deployment": -1, "imei2": 0, "switch_t": np.iinfo(np.int64).max,
                    "old_share": 0.0, "work": -1, "start_day": 0, "end_day": 32767,
                    "away_day": -1,
                    "away_len": 0, "away_cell": -1, "callable": False, "home": -1,
                    "mode": OWN}
        for k, dt in self.FIELDS.items():
            v = cols.get(k, defaults.get(k))
            if v is None:
                raise KeyError(k)
            self._parts[k].append(np.broadcast_to(np.asarray(v, dtype=dt), (n,)).copy())
        idx = np.arange(self.n, self.n + n)
        self.n += n
        self._cache = None
        return idx

    def __getattr__(self, name):
        if name in Subscribers.FIELDS:
            cache = self.__dict__.get("_cache")
            if cache is None:
                cache = {k: (np.concatenate(v) if v else np.empty(0, self.FIELDS[k]))
                         for k, v in self._parts.items()}
                self.__dict__["_cache"] = cache
            return cache[name]
        raise AttributeError(name)

    def set(self, name, idx, values):
        arr = getattr(self, name).copy()
        arr[idx] = values
        self._parts[name] = [arr]
        self._cache = None

    # -- behaviour of people --------------------------------------------------
    def locate(self, rng, net, window, cfg, sub, t):
        """Serving cell of SIMs ``sub`` at UTC times ``t`` (people and fixed devices)."""
        m = cfg.mobility
        sub = np.asarray(sub)
        n = len(sub)
        mode = self.mode[sub]
        home = self.home[sub]
        work = self.work[sub]
        day = window.day_of(t)
        hour = window.local_hour(t)
        weekend = window.weekend[day]
        place = home.copy()
        # people: work in weekday work hours, home in evening/night, elsewhere otherwise
        u = rng.random(n)
        at_work_time = (~weekend) & (hour >= 9) & (hour < 18) & (work >= 0)
        evening = (hour >= 20) | (hour < 7)
        p_home = np.where(evening, m.p_home_evening, m.p_home_day)
        go_work = at_work_time & (u < m.p_work_hours_at_work)
        place = np.where(go_work, work, place)
        elsewhere = ~go_work & (rng.random(n) >= p_home)
        people = (mode == RESIDENT) | (mode == TRAVELLER)
        elsewhere &= people
        if elsewhere.any():
            k = int(elsewhere.sum())
            anywhere = rng.random(k) < m.p_elsewhere_city
            base = np.where((work[elsewhere] >= 0) & (rng.random(k) < m.p_elsewhere_near_work),
                            work[elsewhere],
                            home[elsewhere])
            # a few favourite places per person (shops, friends, gym), fixed per SIM
            fav = (sub[elsewhere].astype(np.int64) * 7919 + rng.integers(0, 3, size=k) * 104729)
            near = net.wide[base, fav % net.wide.shape[1]]
            city = net.city_cells[rng.integers(len(net.city_cells), size=k)]
            place[elsewhere] = np.where(anywhere, city, near)
        wander = mode == WANDER
        if wander.any():
            place[wander] = net.wander(rng, home[wander])
        away = (mode == TRAVELLER) & (day >= self.away_day[sub]) & \
            (day < self.away_day[sub] + self.away_len[sub])
        if away.any():
            ac = self.away_cell[sub][away]
            place[away] = net.near[ac, rng.integers(0, net.near.shape[1], size=int(away.sum()))]
        return net.serve(rng, place)

    def device(self, rng, sub, t):
        """IMEI of SIMs ``sub`` at times ``t`` (handset changes, back-and-forth use)."""
        imei = self.imei[sub]
        after = t >= self.switch_t[sub]
        if after.any():
            old = rng.random(len(sub)) < self.old_share[sub]
            imei = np.where(after & ~old, self.imei2[sub], imei)
        return imei


class Callees:
    """The network's reachable subscribers (MSISDNs), drawn with weights.

    People who use their phone more are called more: a SIM's weight is its
    kind's ``callee_weight`` (low-activity SIMs are rarely someone's callee).
    """

    def __init__(self, msisdn: np.ndarray, weight: np.ndarray):
        self.msisdn = np.asarray(msisdn, np.int64)
        w = np.asarray(weight, float)
        self.cum = np.cumsum(w) / w.sum() if len(w) and w.sum() > 0 else np.empty(0)

    def __len__(self):
        return len(self.msisdn)

    def draw(self, rng, n):
        i = np.searchsorted(self.cum, rng.random(int(n)), side="right")
        return self.msisdn[np.minimum(i, len(self.msisdn) - 1)]


def reachable(subs, cfg) -> Callees:
    """The callable subscribers registered so far, weighted by kind."""
    idx = np.flatnonzero(subs.callable)
    kw = np.array([cfg[k].get("callee_weight", 1.0) if k in LEGIT_KINDS else 1.0
                   for k in KIND_NAMES])
    return Callees(subs.msisdn[idx], kw[subs.kind[idx]])


class EventLog:
    """Columns of generated events, appended per population."""

    COLS = (("sub", np.int32), ("rtype", np.uint8), ("time", np.int64), ("other", np.int64),
            ("duration", np.int32), ("cell", np.int32), ("imei", np.int64))

    def __init__(self):
        self.parts = []

    def add(self, sub, rtype, time, other, duration, cell, imei):
        n = len(time)
        cols = {}
        for (name, dt), v in zip(self.COLS, (sub, rtype, time, other, duration, cell, imei)):
            cols[name] = np.broadcast_to(np.asarray(v, dtype=dt), (n,)).copy() \
                if np.ndim(v) == 0 else np.asarray(v, dtype=dt)
        self.parts.append(cols)

    def __len__(self):
        return sum(len(p["time"]) for p in self.parts)

    def columns(self):
        if not self.parts:
            return {name: np.empty(0, dt) for name, dt in self.COLS}
        return {name: np.concatenate([p[name] for p in self.parts]) for name, _ in self.COLS}


def daily_counts(rng, rate, days, day_dispersion, active=None, day_factor=None):
    """(n, days) event counts: Poisson around ``rate`` with gamma day-to-day noise."""
    rate = np.asarray(rate, float)
    n = len(rate)
    k = float(day_dispersion)
    noise = rng.gamma(k, 1.0 / k, size=(n, days)) if k > 0 else np.ones((n, days))
    lam = rate[:, None] * noise
    if day_factor is not None:
        lam = lam * day_factor
    if active is not None:
        lam = lam * active
    return rng.poisson(lam)


def expand(counts):
    """(sub_position, day) of every event from an (n, days) count matrix."""
    n, days = counts.shape
    flat = counts.ravel()
    pos = np.repeat(np.repeat(np.arange(n), days), flat)
    day = np.repeat(np.tile(np.arange(days), n), flat)
    return pos, day


def rank_in_group(keys_sorted):
    """0-based rank of each row inside runs of equal keys (input sorted by key)."""
    n = len(keys_sorted)
    if n == 0:
        return np.empty(0, np.int64)
    start = np.r_[True, keys_sorted[1:] != keys_sorted[:-1]]
    idx = np.arange(n)
    first = np.maximum.accumulate(np.where(start, idx, 0))
    return idx - first


BIG = np.int64(10**11)


def push_back(port, t, occupy, gap):
    """Shift calls so a port never carries two at once (exact, vectorised).

    ``port`` sorted, ``t`` sorted within each port; a call starts at its time or
    when the port's previous call (``occupy`` seconds) and a ``gap`` have passed."""
    if len(t) == 0:
        return t
    step = occupy + gap
    cs = np.cumsum(step) - step                      # sum of previous steps (global)
    first = np.r_[True, port[1:] != port[:-1]]
    base = np.maximum.accumulate(np.where(first, cs, 0))
    s = cs - base                                    # within-port prefix sum
    key = port.astype(np.int64) * BIG + (t - s)
    run = np.maximum.accumulate(key) - port.astype(np.int64) * BIG
    return run + s
