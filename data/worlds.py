"""Many simulated worlds: one drawn configuration per world seed.

A detector trained on one simulated network learns that network's quirks (its
population mix, its call-centre size, its boxes' call rate).  A *world* is a
configuration of the simulator drawn at random from plausible ranges:
:func:`world_config` turns a world seed into overrides for
:class:`simbox.data.config.Config`, validated like any configuration file:

- the city and carrier (time zone, coordinates, MCC-MNC, country code) and the
  first day of the window (any weekday, DST switches included);
- the population mix: every legitimate kind's share is the default times a
  lognormal factor, a hard-negative kind is absent from about one world in six
  and several times as common in another;
- every kind's behaviour: per-day rates of calls, SMS and data around the
  defaults (about 0.5x-1.5x), contact lists, durations, rhythms' weekend level,
  call-centre and gateway sizes, M2M fleets and their report periods;
- the fraud: its share of subscribers, the mix over every fraud kind (each
  present or absent; at least one SIM-box and one card-farm kind), and each
  variant's parameters (port counts, call rates, callbacks, the international
  wave and the callers' time zone, bank sizes, farm sizes and rates).

Worlds ``0 .. 999`` are **training worlds**; worlds from ``1000`` on are
**held-out worlds**: build and tune on the first, report on the second, whose
parameters nobody looked at (:func:`split_of`).  Each world draws every section
from its own random stream, so adding a parameter to one section does not
reshuffle the others.  :func:`simulate_world` simulates one world and writes
its drawn configuration as ``world.json`` beside the outputs.

The simulator never imports the detector (``simbox.training``): worlds are
drawn without looking at any model.
"""
from __future__ import annotations

import json
import pathlib

import numpy as np

from simbox.data.config import SPEC, Config
from simbox.data.kinds import CARDFARM_KINDS, FRAUD_KINDS, SIMBOX_KINDS
from simbox.data.registry import substream
from simbox.data.simulate import build_network, simulate
from simbox.errors import ConfigError

GENERATOR_VERSION = 4     # raised whenever a world seed would draw another configuration
GENERATORS = (3, 4)       # the versions world_config can still draw (3: the shipped model's)
# what each version added, none of it drawn by an earlier version
NEW_IN = {4: {"cloned_imei (legit kind)", "cardfarm.sims_per_modem from a SIM bank",
             "cardfarm_spam spread thin (a few SMS per SIM-day)"}}
TRAINING_WORLDS = range(0, 1000)          # build, tune and train here
HELDOUT_FIRST = 1000                      # worlds >= 1000: held out for the final report
WORLD_FILE = "world.json"

# cities a world's carrier can sit in: (time zone, lat, lon, MCC-MNC, country code,
# the carrier's service short code)
CITIES = {
    "shanghai": ("Asia/Shanghai", 31.2304, 121.4737, "46000", "86", "10086"),
    "lagos": ("Africa/Lagos", 6.5244, 3.3792, "62130", "234", "777"),
    "nairobi": ("Africa/Nairobi", -1.2864, 36.8172, "63902", "254", "100"),
    "accra": ("Africa/Accra", 5.6037, -0.1870, "62001", "233", "100"),
    "kampala": ("Africa/Kampala", 0.3476, 32.5825, "64101", "256", "100"),
    "cairo": ("Africa/Cairo", 30.0444, 31.2357, "60201", "20", "880"),
    "dhaka": ("Asia/Dhaka", 23.8103, 90.4125, "47001", "880", "121"),
    "karachi": ("Asia/Karachi", 24.8607, 67.0011, "41001", "92", "789"),
    "manila": ("Asia/Manila", 14.5995, 120.9842, "51502", "63", "8888"),
    "jakarta": ("Asia/Jakarta", -6.2088, 106.8456, "51010", "62", "888"),
    "riyadh": ("Asia/Riyadh", 24.7136, 46.6753, "42001", "966", "900"),
    "mexico_city": ("America/Mexico_City", 19.4326, -99.1332, "334020", "52", "611"),
    "sao_paulo": ("America/Sao_Paulo", -23.5505, -46.6333, "72405", "55", "1052"),
    "rome": ("Europe/Rome", 41.9028, 12.4964, "22201", "39", "40916"),
    "london": ("Europe/London", 51.5074, -0.1278, "23415", "44", "191"),
}


def split_of(world_seed: int) -> str:
    """``"training"`` for worlds 0-999, ``"held-out"`` from 1000 on."""
    return "training" if int(world_seed) < HELDOUT_FIRST else "held-out"


def training_worlds(n: int, start: int = 0) -> list[int]:
    """``n`` training world seeds from ``start`` (refuses to reach the held-out ones)."""
    worlds = list(range(int(start), int(start) + int(n)))
    if worlds and worlds[-1] >= HELDOUT_FIRST:
        raise ConfigError(f"training worlds end at {HELDOUT_FIRST - 1}; "
                          f"{n} worlds from {start} reach the held-out worlds")
    return worlds


def heldout_worlds(n: int, start: int = HELDOUT_FIRST) -> list[int]:
    """``n`` held-out world seeds from ``start`` (>= 1000)."""
    if int(start) < HELDOUT_FIRST:
        raise ConfigError(f"held-out worlds start at {HELDOUT_FIRST}, got {start}")
    return list(range(int(start), int(start) + int(n)))


# -- how each parameter is drawn ------------------------------------------------------
#
# section -> key -> rule (every key of a legitimate kind's behaviour is drawn by
# _behaviour as well, see BEHAVIOUR):
#   ("x", lo, hi)             the default times a factor drawn in [lo, hi]
#   ("share", lo, hi)         a share drawn in [lo, hi]
#   ("maybe", p, lo, hi)      with probability p a share drawn in [lo, hi], else 0
#   ("range", lo, hi, least)  the default [low, high] scaled by a factor in [lo, hi], its
#                             width by one in [0.6, 1.6], never below ``least``
#   ("int", lo, hi)           an integer in [lo, hi]
#   ("upto", lo, hi)          [the default low, an integer in [lo, hi]]
RANGES = {
    "run": {"missing_imei_share": ("share", 0.0, 0.01),
            "new_subscriber_share": ("share", 0.005, 0.08),
            "activity_dispersion": ("x", 0.6, 1.6), "day_dispersion": ("x", 0.5, 2.0)},
    "city": {"radius_km": ("x", 0.5, 1.5), "density_scale_km": ("x", 0.6, 1.6),
             "cbd_km": ("x", 0.6, 1.6), "subscribers_per_site": ("x", 0.6, 1.6),
             "small_cell_share": ("share", 0.0, 0.35), "towns": ("int", 3, 10)},
    "mobility": {"p_primary_cell": ("share", 0.72, 0.93),
                 "p_work_hours_at_work": ("share", 0.6, 0.88),
                 "p_home_evening": ("share", 0.65, 0.9),
                 "p_elsewhere_city": ("share", 0.04, 0.2),
                 "unemployed_share": ("share", 0.1, 0.45), "p_home_day": ("share", 0.3, 0.6)},
    "legit": {"onnet_contacts": ("share", 0.15, 0.55),
              "shortcode_sms_per_day": ("x", 0.3, 2.5), "duration_sigma": ("x", 0.8, 1.25),
              "contact_skew": ("x", 0.7, 1.4),
              "new_number_onnet_share": ("share", 0.15, 0.45)},
    "low_activity": {"silent_day_share": ("share", 0.2, 0.8),
                     "callee_weight": ("x", 0.4, 2.5)},
    "call_centre": {"centre_agents": ("range", 0.3, 1.5, 3),
                    "activity_dispersion": ("x", 0.5, 2.0), "fct_share": ("share", 0.0, 0.6),
                    "callback_share": ("share", 0.0, 0.15),
                    "callback_delay_min": ("x", 0.3, 3.0),
                    "new_office_share": ("maybe", 0.5, 0.05, 0.4)},
    "desk_gateway": {"office_agents": ("range", 0.4, 1.6, 4),
                     "gateway_sims": ("range", 0.5, 1.2, 2),
                     "shared_imei_share": ("share", 0.2, 1.0),
                     "gateway_tac_share": ("share", 0.0, 1.0),
                     "activity_dispersion": ("x", 0.5, 2.0), "sessions_per_day": ("upto", 1, 6),
                     "wrapup_s": ("x", 0.4, 2.5), "international_share": ("share", 0.0, 0.08),
                     "inbound_agent_share": ("share", 0.0, 0.8),
                     "inbound_per_day": ("x", 0.3, 2.0), "callback_share": ("share", 0.02, 0.3),
                     "callback_delay_min": ("x", 0.3, 3.0),
                     "new_office_share": ("maybe", 0.5, 0.05, 0.4)},
    "roamer": {"stay_days": ("range", 0.5, 2.0, 1), "home_share": ("share", 0.4, 0.95)},
    "m2m": {"sms_only_share": ("share", 0.0, 0.85),
            "report_period_min": ("range", 0.3, 2.5, 5),
            "missed_report_share": ("share", 0.0, 0.1), "command_share": ("share", 0.05, 0.6),
            "move_share": ("share", 0.0, 0.3), "block_share": ("share", 0.4, 1.0),
            "block_sims": ("range", 0.3, 1.5, 4), "fleet_sites": ("upto", 1, 5),
            "modem_tac_share": ("share", 0.0, 0.8),
            "server_long_number_share": ("share", 0.0, 0.8),
            "new_fleet_share": ("maybe", 0.4, 0.05, 0.3)},
    "dual_sim": {"second_activity": ("share", 0.1, 1.0)},
    "phone_changer": {"back_and_forth_share": ("share", 0.0, 0.6)},
    "traveller": {"away_days": ("upto", 1, 6)},
    "cloned_imei": {"clones": ("upto", 1, 8)},
    "fraud": {"international_share": ("maybe", 0.4, 0.0, 0.15),
              "onnet_callee_share": ("share", 0.1, 0.5),
              "late_start_share": ("share", 0.0, 0.6),
              "roaming_sims_share": ("maybe", 0.3, 0.05, 0.4),
              "scattered_numbers_share": ("share", 0.0, 0.5)},
    "simbox": {"attempts_per_port_hour": ("x", 0.45, 1.5), "duration_median_s": ("x", 0.55, 1.6),
               "duration_sigma": ("x", 0.75, 1.3), "unanswered_share": ("share", 0.12, 0.5),
               "short_call_share": ("share", 0.02, 0.3), "setup_gap_s": ("x", 0.4, 3.0),
               "sim_bank_share": ("share", 0.0, 0.8), "bank_pool_factor": ("upto", 2, 8),
               "rotation_min": ("range", 0.3, 2.0, 5), "replace_per_day": ("share", 0.0, 0.12),
               "moved_once_share": ("share", 0.0, 0.4), "night_activity": ("share", 0.05, 0.7),
               "callback_share": ("share", 0.0, 0.08), "operator_sms_per_day": ("x", 0.2, 2.5),
               "module_tac_share": ("share", 0.0, 1.0),
               "fct_tac_share": ("maybe", 0.4, 0.05, 0.4)},
    "simbox_human": {"daily_cap": ("range", 0.4, 1.4, 5),
                     "sibling_call_share": ("share", 0.0, 0.35), "sms_per_day": ("x", 0.2, 3.0),
                     "repeat_contacts": ("x", 0.4, 3.0), "repeat_share": ("share", 0.05, 0.6),
                     "data_per_day": ("x", 0.2, 4.0)},
    "simbox_mobile": {"move_every_min": ("range", 0.5, 2.0, 3)},
    "simbox_lowrate": {"calls_per_sim_day": ("range", 0.3, 1.8, 1),
                       "pool_factor": ("range", 0.5, 1.6, 2)},
    "simbox_remote_bank": {"gateways": ("upto", 2, 6), "rotation_min": ("range", 0.4, 2.0, 3)},
    "cardfarm": {"sims": ("range", 0.3, 1.5, 8), "sites": ("upto", 1, 4),
                 "cycle_min": ("range", 0.3, 2.0, 5),
                 "international_sender_share": ("share", 0.0, 0.5)},
    "cardfarm_otp": {"sms_mt_per_day": ("range", 0.3, 1.8, 1), "mtc_per_day": ("x", 0.2, 5.0),
                     "data_per_day": ("x", 0.0, 3.0)},
    "cardfarm_spam": {"sms_mo_per_day": ("range", 0.15, 1.5, 5),
                      "burst_size": ("range", 0.3, 1.5, 2), "burst_gap_s": ("x", 0.5, 4.0)},
    "cardfarm_rented": {"sms_mt_per_day": ("range", 0.3, 2.0, 1),
                        "mtc_per_day": ("x", 0.3, 3.0),
                        "international_caller_share": ("share", 0.1, 0.9)},
    "labels": {"raided_share": ("share", 0.15, 0.6), "found_share": ("share", 0.6, 0.95),
               "legit_cases": ("int", 2, 12)},
}

# what _behaviour draws for every legitimate kind with per-day rates
BEHAVIOUR = {
    "rates": "moc/mtc/sms_mo/sms_mt/data_per_day: the default times the kind's activity level "
             "in this world (0.6-1.5) times 0.7-1.35 per stream",
    "contacts": "default x 0.6-1.6",
    "repeat_share": "default + normal(0, 0.08), within 0-0.97",
    "duration_median_s": "default x 0.6-1.6",
    "unanswered_share": "default x 0.6-1.5, within 0.02-0.7",
    "weekend_activity": "default x 0.3-2.0, at most 1",
    "block_share": "0 to twice the default",
    "block_sims": "the default range x 0.5-1.6 (at least 2)",
}
BEHAVIOUR_RATES = ("moc_per_day", "mtc_per_day", "sms_mo_per_day", "sms_mt_per_day",
                   "data_per_day")
# shares of the kinds that are absent from the default configuration (as in the
# default population's relative weights)
WORLD_SHARES = {"desk_gateway": 0.008, "roamer": 0.015, "cloned_imei": 0.01}
ABSENT_CHANCE = 0.15          # a non-ordinary legitimate kind is absent from a world
CROWDED_CHANCE = 0.15         # ... or 2.5-5 times as common as its lognormal draw
PORT_POOL_CHANCE = 0.3       # a world's farms keep one SIM (or few) per modem port
BANK_POOL_CHANCE = 0.3       # ... or a SIM bank feeds each modem 32-256 SIMs in turn
BANK_POOL_SIMS = (32, 256)
THIN_SPAM_CHANCE = 0.3       # a world's spam farms send a few SMS per SIM-day, in small bursts
THIN_SPAM_PER_DAY = (2, 20)
MAX_FACTOR = 4.0              # no kind more than 4 times its default share
FRAUD_ABSENT_CHANCE = 0.25    # a fraud kind is absent from a world


def _round(x):
    return float(f"{x:.4g}")


class _Draw:
    """Draws of one section of one world (its own random stream)."""

    def __init__(self, world_seed, section, generator=GENERATOR_VERSION):
        self.rng = substream(int(world_seed), f"world:{section}")
        self.spec = SPEC[section]
        self.generator = generator

    def factor(self, lo, hi):
        return float(self.rng.uniform(lo, hi))

    def chance(self, p):
        return bool(self.rng.random() < p)

    def integer(self, lo, hi):
        return int(self.rng.integers(int(lo), int(hi) + 1))

    def rule(self, key, rule):
        """One parameter drawn by a RANGES rule."""
        what, *a = rule
        d = self.spec[key][0]
        if what == "x":
            return _scaled(d, self.factor(*a))
        if what == "share":
            return _round(self.factor(*a))
        if what == "maybe":
            return _round(self.factor(a[1], a[2])) if self.chance(a[0]) else 0.0
        if what == "int":
            return self.integer(*a)
        if what == "upto":
            return [d[0], max(d[0], self.integer(*a))]
        if what == "range":
            lo, hi, least = a
            f, w = self.factor(lo, hi), self.factor(0.6, 1.6)
            mid, half = (d[0] + d[1]) / 2 * f, (d[1] - d[0]) / 2 * f * w
            low, high = max(least, mid - half), max(least, mid + half)
            if isinstance(d[0], int):
                low, high = int(round(low)), int(round(high))
            else:
                low, high = _round(low), _round(high)
            return [low, max(low, high)]
        raise ValueError(f"unknown rule {what!r}")


def _scaled(default, f):
    if isinstance(default, int):
        return max(1, int(round(default * f)))
    return _round(default * f)


def _behaviour(d: _Draw) -> dict:
    """Common per-kind behaviour (BEHAVIOUR): rates, contacts, durations, blocks."""
    out = {}
    if "moc_per_day" not in d.spec:
        return out
    level = d.factor(0.6, 1.5)                     # the kind's overall activity in this world
    for key in BEHAVIOUR_RATES:
        out[key] = _scaled(d.spec[key][0], level * d.factor(0.7, 1.35))
    out["contacts"] = _scaled(d.spec["contacts"][0], d.factor(0.6, 1.6))
    out["repeat_share"] = _round(float(np.clip(d.spec["repeat_share"][0] +
                                               d.rng.normal(0, 0.08), 0.0, 0.97)))
    out["duration_median_s"] = _scaled(d.spec["duration_median_s"][0], d.factor(0.6, 1.6))
    out["unanswered_share"] = _round(float(np.clip(
        d.spec["unanswered_share"][0] * d.factor(0.6, 1.5), 0.02, 0.7)))
    if "weekend_activity" in d.spec:
        out["weekend_activity"] = _round(min(1.0, d.spec["weekend_activity"][0] *
                                             d.factor(0.3, 2.0)))
    if "block_share" in d.spec:
        out["block_share"] = _round(d.factor(0.0, min(1.0, 2 * d.spec["block_share"][0])))
    if "block_sims" in d.spec:
        out["block_sims"] = d.rule("block_sims", ("range", 0.5, 1.6, 2))
    return out


# -- the sections drawn by code ----------------------------------------------------

def _city_of(world_seed):
    d = _Draw(world_seed, "run")
    return sorted(CITIES)[int(d.rng.integers(len(CITIES)))], d


def _run(d: _Draw, world_seed) -> dict:
    city, d = _city_of(world_seed)                 # the city's draw comes first
    tz, _, _, mccmnc, cc, op = CITIES[city]
    day = np.datetime64("2025-01-01") + int(d.rng.integers(0, 3 * 365))
    return {"timezone": tz, "mcc_mnc": mccmnc, "country_code": cc, "operator_short_code": op,
            "start_date": str(day)}, d


def _city(d: _Draw, world_seed) -> dict:
    lat, lon = CITIES[_city_of(world_seed)[0]][1:3]
    return {"centre_lat": lat, "centre_lon": lon}, d


def _legit(d: _Draw, world_seed) -> dict:
    shares = {}
    for kind, w in dict(SPEC["legit"]["shares"][0], **WORLD_SHARES).items():
        if kind == "cloned_imei" and d.generator < 4:
            continue                                 # drawn last: the others as before
        if kind == "ordinary":
            shares[kind] = _round(w * d.factor(0.75, 1.15))
            continue
        f = float(np.exp(d.rng.normal(0.0, 0.6)))
        if d.chance(ABSENT_CHANCE):
            f = 0.0                                  # this world has none of them
        elif d.chance(CROWDED_CHANCE):
            f *= d.factor(2.5, 5.0)                  # and this one many
        shares[kind] = _round(w * min(f, MAX_FACTOR))
    return {"shares": shares}, d


def _fraud(d: _Draw, world_seed) -> dict:
    mix = {}
    for kind in FRAUD_KINDS:
        mix[kind] = 0.0 if d.chance(FRAUD_ABSENT_CHANCE) else \
            _round(float(np.exp(d.rng.normal(0.0, 0.8))))
    for family in (SIMBOX_KINDS, CARDFARM_KINDS):   # at least one box and one farm kind
        if not any(mix[k] > 0 for k in family):
            mix[family[int(d.rng.integers(len(family)))]] = 1.0
    share = _round(float(np.exp(d.rng.uniform(np.log(0.003), np.log(0.03)))))
    return {"share": share, "mix_mixed": mix}, d


def _simbox(d: _Draw, world_seed) -> dict:
    weights = [_round(w * float(np.exp(d.rng.normal(0, 0.7))))
               for w in d.spec["port_weights"][0]]
    shift = d.integer(2, 12) if d.chance(0.5) else 0
    return {"port_weights": weights, "caller_shift_h": [0, shift]}, d


def _simbox_human(d: _Draw, world_seed) -> dict:
    lo = d.integer(0, 2)
    return {"sleep_hours": [lo, lo + d.integer(4, 8)]}, d


def _cardfarm(d: _Draw, world_seed) -> dict:
    if d.chance(PORT_POOL_CHANCE):      # modem pools with one SIM per port: one IMSI per IMEI
        return {"sims_per_modem": [1, d.integer(1, 4)]}, d
    if d.generator >= 4 and d.chance(BANK_POOL_CHANCE / (1 - PORT_POOL_CHANCE)):
        lo = d.integer(BANK_POOL_SIMS[0], BANK_POOL_SIMS[1] // 2)
        return {"sims_per_modem": [lo, d.integer(lo, BANK_POOL_SIMS[1])]}, d
    return {"sims_per_modem": d.rule("sims_per_modem", ("range", 0.4, 1.5, 2))}, d


def _cardfarm_spam(d: _Draw, world_seed) -> dict:
    if d.generator >= 4 and d.chance(THIN_SPAM_CHANCE):
        # spread thin over many SIMs, under per-SIM volume rules: a few SMS a SIM-day
        lo = d.integer(THIN_SPAM_PER_DAY[0], THIN_SPAM_PER_DAY[1] // 2)
        size = d.integer(2, 5)
        return {"sms_mo_per_day": [lo, d.integer(lo, THIN_SPAM_PER_DAY[1])],
                "burst_size": [size, d.integer(size, 12)]}, d
    return {}, d


SPECIAL = {"run": _run, "cardfarm": _cardfarm, "cardfarm_spam": _cardfarm_spam, "city": _city,
           "legit": _legit, "fraud": _fraud, "simbox": _simbox, "simbox_human": _simbox_human}
SPECIAL_DOC = {
    "run.timezone, mcc_mnc, country_code, operator_short_code; city.centre_lat/lon":
        f"one of {len(CITIES)} cities ({', '.join(sorted(CITIES))})",
    "run.start_date": "any day of 2025-2027 (any weekday; DST switches included)",
    "legit.shares": f"ordinary x 0.75-1.15; every other kind default x lognormal(0, 0.6) "
                    f"(desk_gateway {WORLD_SHARES['desk_gateway']}, roamer "
                    f"{WORLD_SHARES['roamer']}, cloned_imei {WORLD_SHARES['cloned_imei']}), "
                    f"absent with probability {ABSENT_CHANCE}, "
                    f"2.5-5x more with {CROWDED_CHANCE}, at most {MAX_FACTOR:g}x the default",
    "fraud.share": "log-uniform 0.3 %-3 % of subscribers",
    "fraud.mix_mixed": f"every fraud kind lognormal(0, 0.8), absent with probability "
                       f"{FRAUD_ABSENT_CHANCE}; at least one SIM-box and one card-farm kind",
    "simbox.port_weights": "default x lognormal(0, 0.7) per port count",
    "simbox.caller_shift_h": "[0, 0] in half the worlds, else [0, 2-12] (callers' time zones "
                             "behind the box's)",
    "simbox_human.sleep_hours": "from 0-2 h for 4-8 hours",
    "cardfarm.sims_per_modem": f"[1, 1-4] (modem pools with a SIM per port) in "
                               f"{PORT_POOL_CHANCE:.0%} of worlds, [a, b] within "
                               f"{BANK_POOL_SIMS[0]}-{BANK_POOL_SIMS[1]} (a SIM bank feeding "
                               f"each modem) in {BANK_POOL_CHANCE:.0%}, else the default "
                               f"range x 0.4-1.5 (at least 2)",
    "cardfarm_spam.sms_mo_per_day, burst_size": f"[a, b] within {THIN_SPAM_PER_DAY[0]}-"
                                                f"{THIN_SPAM_PER_DAY[1]} SMS per SIM-day in bursts "
                                                f"of [2-5, up to 12] (spam spread thin) in "
                                                f"{THIN_SPAM_CHANCE:.0%} of worlds, else the "
                                                f"rules below",
}


def world_config(world_seed: int, generator: int = GENERATOR_VERSION) -> dict:
    """The configuration overrides of world ``world_seed`` (a plain, JSON-ready dict).

    Deterministic per seed; validated by :class:`simbox.data.config.Config` (a
    ``ConfigError`` here would be a bug of the generator).  ``generator``: the version
    of the draws (:data:`GENERATORS`); an earlier one draws every world exactly as it
    did, without what later versions added (:data:`NEW_IN`).
    """
    world_seed = int(world_seed)
    if world_seed < 0:
        raise ConfigError(f"world must be >= 0, got {world_seed}")
    if generator not in GENERATORS:
        raise ConfigError(f"world generator version must be one of "
                          f"{', '.join(map(str, GENERATORS))}, got {generator}")
    out = {}
    for section in SPEC:
        if section == "cloned_imei" and generator < 4:
            continue
        d = _Draw(world_seed, section, generator)
        values = {}
        if section in SPECIAL:
            values, d = SPECIAL[section](d, world_seed)
        values.update(_behaviour(d))
        for key, rule in RANGES.get(section, {}).items():
            if key not in values:                    # drawn by its SPECIAL function
                values[key] = d.rule(key, rule)
        if values:
            out[section] = values
    Config(out, source=f"world {world_seed}")        # validate
    return out


def ranges_table() -> str:
    """How every world draws its parameters (the table of ``docs/simulator.md``)."""
    def show(rule):
        what, *a = rule
        return {"x": lambda: f"default x {a[0]:g}-{a[1]:g}",
                "share": lambda: f"{a[0]:g}-{a[1]:g}",
                "maybe": lambda: f"{a[1]:g}-{a[2]:g} in {a[0]:.0%} of worlds, else 0",
                "int": lambda: f"{a[0]}-{a[1]}",
                "upto": lambda: f"[default low, {a[0]}-{a[1]}]",
                "range": lambda: f"default range x {a[0]:g}-{a[1]:g} (at least {a[2]:g})",
                }[what]()
    lines = ["| parameter | drawn per world |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in SPECIAL_DOC.items()]
    lines += [f"| every legitimate kind's `{k}` | {v} |" for k, v in BEHAVIOUR.items()]
    lines += [f"| `{s}.{k}` | {show(r)} |" for s, keys in RANGES.items() for k, r in keys.items()]
    return "\n".join(lines)


def world_document(world_seed: int, seed: int | None = None, config: dict | None = None,
                   generator: int = GENERATOR_VERSION) -> dict:
    """What ``world.json`` holds: the world, its split, the generator version and its config.

    ``simbox simulate --config world.json`` reads the ``config`` table of such a file.
    """
    return {"world": int(world_seed), "split": split_of(world_seed),
            "generator_version": int(generator), "seed": seed,
            "config": world_config(world_seed, generator) if config is None else config}


def _world(world_seed, seed, overrides, generator=GENERATOR_VERSION):
    """(Config, its overrides as a dict, the network seed) of a world run."""
    conf = world_config(world_seed, generator)
    cfg = Config(conf, source=f"world {world_seed}")
    if overrides:
        cfg = cfg.with_overrides(overrides)
        conf = cfg.as_dict()
    return cfg, conf, int(world_seed) if seed is None else int(seed)


def build_world(world_seed: int, subscribers: int, days: int, seed: int | None = None, *,
                overrides: dict | None = None, progress=None,
                generator: int = GENERATOR_VERSION):
    """The :class:`~simbox.data.simulate.Network` of world ``world_seed`` (in memory).

    ``seed`` draws the network inside the world (default: the world seed);
    ``overrides`` apply on top of the world's configuration; ``generator``: the version
    of the world's draws (:func:`world_config`).
    """
    cfg, _, s = _world(world_seed, seed, overrides, generator)
    net = build_network(subscribers, days, "mixed", s, config=cfg, progress=progress)
    net.world = int(world_seed)
    return net


def simulate_world(world_seed: int, subscribers: int, days: int, seed: int | None = None,
                   out=None, *, overrides: dict | None = None, format: str = "csv",
                   signaling: bool | str = False, progress=None,
                   generator: int = GENERATOR_VERSION):
    """Simulate world ``world_seed`` into ``out`` (as :func:`simbox.data.simulate`) and
    write ``world.json`` (the world, its split and its drawn configuration) beside it.

    ``seed`` draws the network inside the world (default: the world seed), so
    ``simulate_world(w, n, d)`` is fully determined by ``w`` (and ``generator``, the
    version of the world's draws: :func:`world_config`).
    """
    cfg, conf, s = _world(world_seed, seed, overrides, generator)
    res = simulate(subscribers, days, "mixed", s, out, config=cfg, format=format,
                   signaling=signaling, progress=progress)
    res.network.world = int(world_seed)
    path = pathlib.Path(out) / WORLD_FILE
    doc = world_document(world_seed, s, conf, generator)
    doc.update(subscribers=int(subscribers), days=int(days))
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    res.paths["world"] = path
    return res


__all__ = ["world_config", "world_document", "ranges_table", "build_world", "simulate_world",
           "split_of", "training_worlds", "heldout_worlds", "TRAINING_WORLDS", "HELDOUT_FIRST", "CITIES"]
