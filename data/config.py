"""Every parameter of the simulator, with its documented default.

Parameters live in sections (``run``, ``city``, ``mobility``, ``legit``, one per
population kind, ``fraud``, ``labels``).  A configuration file (JSON, or TOML when
the name ends in ``.toml``) overrides any of them::

    {"fraud": {"share": 0.02}, "call_centre": {"moc_per_day": 220}}

Unknown sections or keys, and values of the wrong type, raise
:class:`simbox.errors.ConfigError` naming the key.  Dict-valued parameters
(population shares, scenario mixes) are replaced as a whole; their values are
relative weights.  ``[lo, hi]`` pairs are ranges a value is drawn from uniformly
(integers for counts).  :func:`describe` lists everything; :func:`markdown_table`
prints the parameter table of ``docs/simulator.md`` (a test keeps them in step).
"""
from __future__ import annotations

import copy
import difflib
import json
import pathlib
from types import MappingProxyType

from simbox.data.kinds import FRAUD_KINDS, LEGIT_KINDS
from simbox.data.timing import PROFILES
from simbox.errors import ConfigError

SCENARIOS = ("baseline", "evasive", "mixed")
SIGNED = {"city.centre_lat": (-90, 90), "city.centre_lon": (-180, 180)}   # may be negative


def _behaviour(moc, mtc, sms_mo, sms_mt, data, contacts, repeat, dur, unanswered, profile,
               **extra):
    """The common parameters of a legitimate population (per-day medians)."""
    spec = {
        "moc_per_day": (moc, "outgoing calls per active day (mean over SIMs; each SIM's own rate is "
                                 "drawn from a gamma law around it)"),
        "mtc_per_day": (mtc, "incoming calls from off-net numbers per day; on-net callers "
                             "add mirrored incoming calls"),
        "sms_mo_per_day": (sms_mo, "SMS sent per day"),
        "sms_mt_per_day": (sms_mt, "SMS received from people per day"),
        "data_per_day": (data, "data sessions per day"),
        "contacts": (contacts, "size of the personal contact list (median)"),
        "repeat_share": (repeat, "share of calls and SMS that go to the contact list"),
        "duration_median_s": (dur, "median answered call duration, seconds (lognormal)"),
        "unanswered_share": (unanswered, "share of outgoing calls not answered (duration 0)"),
        "profile": (profile, "hourly rhythm in local time (see timing.PROFILES)"),
    }
    for k, v in extra.items():
        spec[k] = v
    return spec


def _agents(dispersion, weekend, callback):
    """The parameters every office of agents has (call centres, desk gateways)."""
    return {
        "activity_dispersion": (dispersion, "gamma shape of agents' activity (agents are alike)"),
        "weekend_activity": (weekend, "weekend activity relative to weekdays"),
        "callback_share": (callback, "share of outgoing calls to other carriers' numbers whose "
                                     "callee calls the agent back later (a customer returning "
                                     "the call)"),
        "callback_delay_min": (90, "median delay of a callback, minutes (lognormal)"),
    }


SPEC = {
    "run": {
        "start_date": ("2026-03-02", "first simulated day (local date, a Monday by default)"),
        "timezone": ("Asia/Shanghai", "IANA time zone of the city: rhythms follow local time, "
                                      "CDRs carry UTC"),
        "mcc_mnc": ("46000", "the carrier's MCC+MNC (IMSI prefix and cell token prefix)"),
        "country_code": ("86", "country calling code of MSISDNs and local numbers"),
        "operator_short_code": ("10086", "the carrier's own service number (balance and top-up "
                                         "SMS to every SIM)"),
        "missing_imei_share": (0.002, "share of CDRs exported without an IMEI"),
        "new_subscriber_share": (0.03, "share of legitimate SIMs first active during the window"),
        "activity_dispersion": (1.3, "gamma shape of per-SIM activity (smaller = more "
                                     "heterogeneous users)"),
        "day_dispersion": (4.0, "gamma shape of day-to-day variation of a SIM's activity"),
    },
    "city": {
        "centre_lat": (31.2304, "latitude of the city centre"),
        "centre_lon": (121.4737, "longitude of the city centre"),
        "radius_km": (30.0, "radius of the covered area"),
        "density_scale_km": (6.0, "scale of the exponential fall-off of site density from "
                                  "the centre"),
        "cbd_km": (3.0, "radius of the business district where work places concentrate"),
        "subscribers_per_site": (120, "simulated subscribers per city site"),
        "min_sites": (30, "minimum number of city sites"),
        "small_cell_share": (0.15, "share of sites that are single-sector small cells"),
        "towns": (6, "distant towns (for travellers and remote SIM banks)"),
        "town_sites": (3, "sites per distant town"),
        "town_distance_km": ([80, 1200], "distance of the towns from the city"),
        "neighbours": (8, "cells considered 'near' a place (serving-cell jitter)"),
        "wide_neighbours": (60, "cells within a driver's or moving box's area"),
    },
    "mobility": {
        "p_primary_cell": (0.85, "probability an event at a place is served by its main cell"),
        "p_work_hours_at_work": (0.75, "probability of being at work in weekday work hours"),
        "p_home_evening": (0.8, "probability of being at home in the evening and night"),
        "p_elsewhere_city": (0.1, "share of 'elsewhere' events anywhere in the city (the rest "
                                  "at a few favourite places near home or work)"),
        "unemployed_share": (0.25, "share of ordinary people without a work place"),
        "p_home_day": (0.45, "probability of being at home in the day when not at work"),
        "p_elsewhere_near_work": (0.4, "share of 'elsewhere' places near work rather than home"),
    },
    "legit": {
        "shares": ({"ordinary": 0.70, "low_activity": 0.10, "m2m": 0.06, "driver": 0.03,
                    "small_business": 0.03, "dual_sim": 0.03, "phone_changer": 0.02,
                    "traveller": 0.02, "call_centre": 0.01, "desk_gateway": 0.0, "roamer": 0.0,
                    "cloned_imei": 0.0},
                   "relative share of each legitimate kind among legitimate SIMs (desk "
                   "gateways, roamers and cloned IMEIs come with worlds, see "
                   "simbox.data.worlds)"),
        "onnet_contacts": (0.35, "share of a person's contacts that are subscribers of this "
                                 "network (their calls appear on both sides)"),
        "shortcode_sms_per_day": (0.4, "SMS received from bank / service short codes per day "
                                       "(every person gets a few OTPs)"),
        "data_duration_median_s": (240, "median data session duration"),
        "data_duration_sigma": (1.2, "sigma of the log data session duration"),
        "duration_sigma": (1.0, "sigma of the log call duration"),
        "contacts_sigma": (0.6, "sigma of the log contact-list size"),
        "contact_skew": (2.2, "skew of contact choice toward the first contacts (1 = uniform)"),
        "new_number_onnet_share": (0.3, "share of calls to new numbers that reach a subscriber "
                                        "of this network"),
    },
    "ordinary": _behaviour(3.0, 1.6, 1.0, 1.2, 8.0, 14, 0.8, 55, 0.18, "resident",
                           block_share=(0.03, "share of SIMs on a family plan: consecutive IMSIs "
                                              "and MSISDNs bought together, one home"),
                           block_sims=([2, 5], "SIMs per family plan")),
    "low_activity": _behaviour(0.3, 0.3, 0.2, 0.2, 0.8, 5, 0.85, 50, 0.2, "resident",
                               silent_day_share=(0.5, "share of days without any event"),
                               callee_weight=(0.15, "how likely others call this SIM, relative "
                                                    "to other people (1)")),
    "call_centre": _behaviour(
        230.0, 3.0, 0.3, 0.5, 2.0, 20, 0.03, 70, 0.35, "business",
        centre_agents=([15, 120], "agents per call centre (all at one site)"),
        fct_share=(0.25, "share of centres using fixed cellular terminals instead of handsets"),
        new_office_share=(0.0, "share of centres that open after the first day: all their "
                               "agents' SIMs start on the same day (hard negatives for early "
                               "warning)"),
        block_share=(0.6, "share of centres whose agents' SIMs were bought as one block "
                          "(consecutive IMSIs and MSISDNs)"),
        **_agents(6.0, 0.15, 0.06)),
    "desk_gateway": _behaviour(
        150.0, 2.0, 0.3, 0.3, 0.0, 15, 0.03, 60, 0.35, "business",
        office_agents=([8, 60], "agents (SIMs) per office, all at one site"),
        gateway_sims=([4, 32], "SIMs per desk gateway / multi-SIM fixed cellular terminal"),
        new_office_share=(0.0, "share of offices that open after the first day: all their "
                               "gateways' SIMs start on the same day"),
        shared_imei_share=(0.7, "share of gateways whose SIMs all report the gateway's one IMEI "
                                "(the rest one IMEI per channel, consecutive serials)"),
        gateway_tac_share=(0.5, "share of gateways reporting a GSM-gateway TAC (the rest a "
                                "fixed-cellular-terminal TAC)"),
        sessions_per_day=([1, 4], "dialling sessions per agent-day (calls back to back)"),
        wrapup_s=(25, "median pause between two calls of a session, seconds (dialler wrap-up)"),
        international_share=(0.02, "share of outgoing calls to international numbers"),
        inbound_agent_share=(0.3, "share of agents who also take inbound queue calls"),
        inbound_per_day=(30.0, "inbound queue calls per weekday for those agents (callers "
                               "never called before)"),
        **_agents(5.0, 0.08, 0.12),
        block_share=(0.9, "share of offices whose SIMs were bought as one block (consecutive "
                          "IMSIs and MSISDNs, in gateway order)")),
    "driver": _behaviour(16.0, 12.0, 2.0, 3.0, 14.0, 30, 0.35, 35, 0.15, "driver",
                         block_share=(0.5, "share of drivers whose SIM came from a fleet "
                                           "purchase (taxi / delivery company: consecutive "
                                           "IMSIs and MSISDNs)"),
                         block_sims=([5, 40], "SIMs per fleet purchase")),
    "small_business": _behaviour(9.0, 14.0, 2.0, 3.0, 6.0, 25, 0.35, 75, 0.12, "business",
                                 weekend_activity=(0.6, "weekend activity relative to weekdays"),
                                 block_share=(0.4, "share of SIMs bought as a company block "
                                                   "(consecutive numbers, one workplace)"),
                                 block_sims=([3, 15], "SIMs per company block")),
    "m2m": {
        "sms_only_share": (0.3, "share of M2M SIMs that report by SMS to a server short code, "
                                "not by data sessions"),
        "report_period_min": ([15, 120], "reporting period, minutes (one per SIM)"),
        "missed_report_share": (0.03, "share of reports missed (coverage, power)"),
        "command_share": (0.3, "share of SIMs that receive a command SMS from their server"),
        "move_share": (0.1, "share of M2M SIMs that move (fleet trackers)"),
        "block_share": (0.8, "share of M2M SIMs provisioned in fleets (consecutive IMSIs and "
                             "MSISDNs)"),
        "block_sims": ([10, 200], "SIMs per M2M fleet"),
        "fleet_sites": ([1, 3], "sites a fleet's fixed devices stand at (meters, POS "
                                "terminals of one customer)"),
        "modem_tac_share": (0.25, "share of fleets whose devices are modems (modem TAC; the rest "
                                  "IoT modules, some routers); a fleet has one TAC, consecutive "
                                  "serials"),
        "server_long_number_share": (0.3, "share of SMS-reporting fleets whose server is a mobile "
                                          "number rather than a short code"),
        "new_fleet_share": (0.0, "share of fleets deployed after the first day: all their SIMs "
                                 "start on the same day"),
    },
    "dual_sim": _behaviour(2.0, 1.2, 0.7, 0.8, 5.0, 10, 0.8, 50, 0.18, "resident",
                           second_activity=(0.5, "activity of the second SIM relative to "
                                                 "the first")),
    "phone_changer": _behaviour(3.0, 1.6, 1.0, 1.2, 8.0, 14, 0.8, 55, 0.18, "resident",
                                back_and_forth_share=(0.3, "share that keep using the old "
                                                           "handset now and then")),
    "traveller": _behaviour(3.0, 1.6, 1.0, 1.2, 8.0, 14, 0.8, 55, 0.18, "resident",
                            away_days=([1, 4], "days spent in a distant town")),
    "cloned_imei": _behaviour(3.0, 1.6, 1.0, 1.2, 8.0, 14, 0.8, 55, 0.18, "resident",
                              clones=([1, 3], "cloned IMEIs the kind's SIMs share (each SIM "
                                              "on one of them, drawn at random)")),
    "roamer": _behaviour(2.0, 1.2, 1.5, 1.5, 10.0, 10, 0.75, 110, 0.2, "resident",
                         stay_days=([1, 6], "days in the country (arrivals on any day)"),
                         home_share=(0.75, "share of contacts in the home country: calls "
                                           "and SMS to and from international numbers"),
                         callee_weight=(0.0, "how likely locals call this SIM (its foreign "
                                             "number is international for them)")),
    "fraud": {
        "share": (0.01, "fraud SIMs as a share of all subscribers (0.005-0.02 is realistic)"),
        "mix_baseline": ({"simbox_plain": 0.55, "cardfarm_otp": 0.15, "cardfarm_spam": 0.15,
                          "cardfarm_rented": 0.15},
                         "weights of fraud kinds in the baseline scenario (by SIMs)"),
        "mix_evasive": ({"simbox_plain": 0.05, "simbox_human": 0.22, "simbox_spoof": 0.16,
                         "simbox_mobile": 0.12, "simbox_lowrate": 0.18,
                         "simbox_remote_bank": 0.12, "cardfarm_otp": 0.05,
                         "cardfarm_spam": 0.05, "cardfarm_rented": 0.05},
                        "weights of fraud kinds in the evasive scenario (by SIMs)"),
        "mix_mixed": ({"simbox_plain": 0.25, "simbox_human": 0.09, "simbox_spoof": 0.08,
                       "simbox_mobile": 0.06, "simbox_lowrate": 0.08,
                       "simbox_remote_bank": 0.06, "cardfarm_otp": 0.14,
                       "cardfarm_spam": 0.12, "cardfarm_rented": 0.12},
                      "weights of fraud kinds in the mixed scenario (by SIMs)"),
        "international_share": (0.0, "share of box calls with an international callee"),
        "onnet_callee_share": (0.3, "share of box callees that are this network's subscribers"),
        "late_start_share": (0.3, "share of deployments that start after the first day"),
        "roaming_sims_share": (0.0, "share of SIM-box deployments using foreign SIMs roaming on "
                                    "this network (one foreign carrier's batch)"),
        "scattered_numbers_share": (0.15, "share of deployments whose SIMs were bought one "
                                          "by one (scattered IMSIs and MSISDNs) instead of as "
                                          "one batch"),
    },
    "simbox": {
        "ports": ([4, 8, 16, 32, 64, 128, 256, 512], "gateway port counts to draw from"),
        "port_weights": ([6, 10, 14, 10, 6, 3, 1.5, 0.7], "relative weights of the port counts"),
        "attempts_per_port_hour": (18.0, "call attempts per port per hour at the traffic peak"),
        "duration_median_s": (85, "median answered call duration (lognormal)"),
        "duration_sigma": (0.95, "sigma of the log duration"),
        "unanswered_share": (0.3, "share of attempts not answered"),
        "short_call_share": (0.12, "share of answered calls cut within 10 s"),
        "setup_gap_s": (12, "median idle gap between two calls on a port, seconds"),
        "sim_bank_share": (0.4, "share of plain deployments using a SIM bank (rotation)"),
        "bank_pool_factor": ([2, 4], "SIMs in a bank per port"),
        "rotation_min": ([30, 240], "minutes a SIM stays on a port before rotation"),
        "replace_per_day": (0.04, "share of a box's SIMs blocked and replaced per day"),
        "moved_once_share": (0.2, "share of plain deployments moved once to another site"),
        "night_activity": (0.25, "traffic in the local night relative to the evening peak"),
        "callback_share": (0.02, "share of box calls whose callee calls the number back "
                                 "(the box rejects most callbacks)"),
        "operator_sms_per_day": (0.3, "balance / top-up SMS from the carrier per SIM-day"),
        "fct_tac_share": (0.0, "share of gateways whose modules report a fixed-cellular-"
                               "terminal TAC (FCTs used as small boxes)"),
        "caller_shift_h": ([0, 0], "hours the callers' time zone lags the box's (each "
                                   "deployment draws its own; 0: callers' evening is local "
                                   "evening, 7: callers in Europe for a box in China)"),
        "module_tac_share": (0.5, "share of gateways whose GSM modules report an M2M-module TAC "
                                  "(the rest a dedicated gateway TAC)"),
    },
    "simbox_human": {
        "daily_cap": ([35, 90], "calls per SIM per day (cap)"),
        "sibling_call_share": (0.15, "share of calls to other SIMs of the same box (faked "
                                     "incoming calls)"),
        "sms_per_day": (3.0, "SMS sent per SIM per day (half to siblings)"),
        "repeat_contacts": (8, "size of each SIM's fake repeat-contact set"),
        "repeat_share": (0.3, "share of calls to the repeat-contact set"),
        "sleep_hours": ([0, 7], "local hours with no activity (night sleep)"),
        "data_per_day": (2.0, "data sessions per SIM per day"),
    },
    "simbox_spoof": {
        "ports": ([8, 16, 32, 64], "port counts to draw from"),
    },
    "simbox_mobile": {
        "ports": ([4, 8, 16, 32], "port counts to draw from"),
        "move_every_min": ([10, 40], "minutes between cell changes while driving"),
        "driving_hours": ([7, 22], "local hours on the road (parked at the base otherwise)"),
    },
    "simbox_lowrate": {
        "calls_per_sim_day": ([4, 14], "calls per SIM per day"),
        "ports": ([8, 16, 32, 64], "port counts to draw from"),
        "pool_factor": ([5, 12], "SIMs per port"),
    },
    "simbox_remote_bank": {
        "gateways": ([2, 4], "gateways at distant sites sharing one SIM bank"),
        "ports": ([8, 16, 32, 64], "ports per gateway"),
        "rotation_min": ([10, 60], "minutes a SIM stays on one gateway port"),
    },
    "cardfarm": {
        "sims": ([50, 500], "SIMs per farm"),
        "sites": ([1, 3], "sites per farm"),
        "sims_per_modem": ([8, 32], "SIMs cycled through one modem (multi-card device)"),
        "cycle_min": ([20, 180], "minutes a SIM stays active in a modem slot"),
        "international_sender_share": (0.15, "share of verification SMS from international "
                                             "numbers (the rest from short codes)"),
    },
    "cardfarm_otp": {
        "sms_mt_per_day": ([4, 30], "verification SMS received per active SIM-day"),
        "mtc_per_day": (0.05, "incoming calls per SIM-day"),
        "data_per_day": (0.5, "data sessions per SIM-day"),
    },
    "cardfarm_spam": {
        "sms_mo_per_day": ([120, 600], "SMS sent per SIM per day"),
        "burst_size": ([20, 80], "SMS per burst"),
        "burst_gap_s": (4, "median seconds between SMS of a burst"),
    },
    "cardfarm_rented": {
        "sms_mt_per_day": ([1, 8], "verification SMS received per SIM-day"),
        "mtc_per_day": (0.6, "incoming (voice verification) calls per SIM-day"),
        "international_caller_share": (0.5, "share of those calls from international numbers"),
    },
    "labels": {
        "raided_share": (0.35, "share of deployments raided (labelled)"),
        "min_raids": (2, "minimum raided deployments (one of each class when possible)"),
        "found_share": (0.85, "share of a raided deployment's SIMs found (those in the devices "
                              "at raid time are always found)"),
        "device_rows": (True, "label seized devices by IMEI too"),
        "legit_cases": (6, "complaint cases confirmed legitimate (hard negatives mostly)"),
        "legit_case_size": ([1, 12], "SIMs per legitimate case (e.g. one company)"),
    },
}

for _k in LEGIT_KINDS:
    assert _k in SPEC, _k


def _freeze(value):
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


class Section:
    """Attribute access to one section (read only); reads are recorded in ``used``."""

    def __init__(self, name, values, used):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_used", used)

    def __getattr__(self, key):
        try:
            value = self._values[key]
        except KeyError:
            raise AttributeError(f"no parameter {self._name}.{key}") from None
        self._used.add(f"{self._name}.{key}")
        return value

    def __setattr__(self, key, value):
        raise AttributeError("configuration is read only; use Config.with_overrides")

    def get(self, key, default=None):
        if key in self._values:
            self._used.add(f"{self._name}.{key}")
        return self._values.get(key, default)

    def __contains__(self, key):
        return key in self._values

    def as_dict(self):
        return {k: (list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, MappingProxyType)
                    else v) for k, v in self._values.items()}


class Config:
    """The simulator's parameters: ``cfg.fraud.share``, ``cfg["call_centre"].moc_per_day``."""

    def __init__(self, overrides: dict | None = None, source: str = "<overrides>"):
        values = {s: {k: copy.deepcopy(v[0]) for k, v in params.items()}
                  for s, params in SPEC.items()}
        if overrides:
            _apply(values, overrides, source)
        self._raw = values
        self.used: set = set()       # parameters read so far (a test checks none is dead)
        self._sections = {s: Section(s, {k: _freeze(v) for k, v in p.items()}, self.used)
                          for s, p in values.items()}

    def __getattr__(self, name):
        try:
            return self.__dict__["_sections"][name]
        except KeyError:
            raise AttributeError(f"no configuration section {name!r}") from None

    def __getitem__(self, name) -> Section:
        return self._sections[name]

    def as_dict(self) -> dict:
        return copy.deepcopy(self._raw)

    def with_overrides(self, overrides: dict, source: str = "<overrides>") -> "Config":
        merged = self.as_dict()
        _apply(merged, overrides, source)
        return Config(merged, source)

    def fraud_mix(self, scenario: str) -> dict:
        if scenario not in SCENARIOS:
            raise ConfigError(f"unknown scenario {scenario!r}; choose one of "
                              f"{', '.join(SCENARIOS)}")
        return dict(getattr(self.fraud, f"mix_{scenario}"))


def _suggest(word, choices):
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_value(where, default, value, source):
    def bad(what):
        raise ConfigError(f"{source}: {where}: {what}, got {value!r}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            bad("expected true or false")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            bad("expected a number")
        if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float) \
                and not value.is_integer():
            bad("expected an integer")
        if where in SIGNED:
            lo, hi = SIGNED[where]
            if not lo <= value <= hi:
                bad(f"expected a number between {lo} and {hi}")
        elif value < 0:
            bad("expected a number >= 0")
        if where.endswith(("share", "_share")) or where.split(".")[-1].startswith("p_"):
            if value > 1:
                bad("expected a share between 0 and 1")
        return type(default)(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            bad("expected a string")
    elif isinstance(default, list):
        if not isinstance(value, list) or not value or \
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
                        for v in value):
            bad("expected a non-empty list of numbers >= 0")
        if len(default) == 2 and len(value) != 2:
            bad("expected a [low, high] pair")
        if len(default) == 2 and value[0] > value[1]:
            bad("expected low <= high")
    elif isinstance(default, dict):
        if not isinstance(value, dict) or not value:
            bad("expected a table of weights")
        for k, w in value.items():
            if k not in default and k not in FRAUD_KINDS and k not in LEGIT_KINDS:
                raise ConfigError(f"{source}: {where}: unknown kind {k!r}"
                                  f"{_suggest(k, default)}")
            if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
                raise ConfigError(f"{source}: {where}.{k}: expected a weight >= 0, got {w!r}")
        if sum(value.values()) <= 0:
            bad("expected at least one positive weight")
        allowed = LEGIT_KINDS if set(default) <= set(LEGIT_KINDS) else FRAUD_KINDS
        for k in value:
            if k not in allowed:
                raise ConfigError(f"{source}: {where}: kind {k!r} does not belong here")
    return value


def _apply(values, overrides, source):
    if not isinstance(overrides, dict):
        raise ConfigError(f"{source}: the configuration must be a table of sections")
    for section, params in overrides.items():
        if section not in SPEC:
            raise ConfigError(f"{source}: unknown section {section!r}{_suggest(section, SPEC)}")
        if not isinstance(params, dict):
            raise ConfigError(f"{source}: section {section!r} must be a table of parameters")
        for key, value in params.items():
            if key not in SPEC[section]:
                raise ConfigError(f"{source}: unknown key {section}.{key}"
                                  f"{_suggest(key, SPEC[section])}")
            default = SPEC[section][key][0]
            values[section][key] = _check_value(f"{section}.{key}", default, value, source)
    _check_timezone(values["run"]["timezone"], source)
    _check_date(values["run"]["start_date"], source)
    for section, params in values.items():
        prof = params.get("profile")
        if prof is not None and prof not in PROFILES:
            raise ConfigError(f"{source}: {section}.profile: unknown profile {prof!r}; choose one "
                              f"of {', '.join(PROFILES)}")
    for key in ("mcc_mnc", "country_code", "operator_short_code"):
        v = values["run"][key]
        if not (v.isdigit() and v.isascii()):
            raise ConfigError(f"{source}: run.{key}: expected digits, got {v!r}")
    if len(values["run"]["mcc_mnc"]) not in (5, 6):
        raise ConfigError(f"{source}: run.mcc_mnc: expected 5 or 6 digits, "
                          f"got {values['run']['mcc_mnc']!r}")
    if not 1 <= len(values["run"]["country_code"]) <= 3:
        raise ConfigError(f"{source}: run.country_code: expected 1 to 3 digits, "
                          f"got {values['run']['country_code']!r}")


def _check_date(text, source):
    import datetime as dt  # lazy: only for dates in the config
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{source}: run.start_date: expected a date like 2026-03-02, "
                          f"got {text!r}") from None


def _check_timezone(name, source):
    import zoneinfo  # lazy: zoneinfo loads sysconfig; only when a zone is checked
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{source}: run.timezone: unknown time zone {name!r} "
                          "(use an IANA name such as 'Asia/Shanghai')") from None


def read_config_file(path) -> dict:
    """The overrides of a JSON/TOML configuration file, validated (a ``world.json``
    written by :func:`simbox.data.worlds.simulate_world` gives its ``config`` table)."""
    p = pathlib.Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {p}: {exc.strerror}") from None
    try:
        if p.suffix.lower() == ".toml":
            import tomllib  # lazy: only when a TOML config is read
            data = tomllib.loads(text.decode("utf-8"))
        else:
            data = json.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid {'TOML' if p.suffix.lower() == '.toml' else 'JSON'}:"
                          f" {exc}") from None
    if isinstance(data, dict) and "world" in data and "config" in data:
        data = data["config"]
    Config(data, str(p))
    return data


def load_config(path=None, overrides: dict | None = None) -> Config:
    """The default configuration, overridden by a JSON/TOML file and then by ``overrides``."""
    cfg = Config()
    if path is not None:
        cfg = Config(read_config_file(path), str(path))
    if overrides:
        cfg = cfg.with_overrides(overrides)
    return cfg


def describe() -> list[tuple[str, object, str]]:
    """``(section.key, default, meaning)`` for every parameter, in table order."""
    return [(f"{s}.{k}", v[0], v[1]) for s, params in SPEC.items() for k, v in params.items()]


def markdown_table() -> str:
    """The parameter reference of ``docs/simulator.md``."""
    lines = ["| parameter | default | meaning |", "|---|---|---|"]
    for name, default, meaning in describe():
        if isinstance(default, dict):
            d = ", ".join(f"{k} {v:g}" for k, v in default.items())
        else:
            d = json.dumps(default)
        lines.append(f"| `{name}` | {d} | {meaning} |")
    return "\n".join(lines)

