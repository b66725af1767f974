"""The populations of the simulated network: one table of kinds and classes.

Every simulated SIM has a ``kind`` (its population) and a ``class`` (what a
detector should call it).  ``truth.csv`` carries both; training and evaluation
import this table to report per-kind results, so names here are a contract.
"""
from __future__ import annotations

from dataclasses import dataclass

CLASSES = ("legit", "simbox", "cardfarm")


@dataclass(frozen=True)
class Kind:
    name: str
    cls: str          # one of CLASSES
    meaning: str
    hard_negative: bool = False   # a legit kind that looks like fraud on naive features


KINDS = (
    Kind("ordinary", "legit", "a person: home and work cells, daily rhythm, repeat contacts"),
    Kind("call_centre", "legit", "call-centre / telemarketing agent: many distinct callees, "
         "stationary, business hours, few incoming calls", True),
    Kind("driver", "legit", "taxi or delivery driver: many calls, very mobile", True),
    Kind("small_business", "legit", "shop or trade: many distinct customers both ways, "
         "stationary in business hours", True),
    Kind("m2m", "legit", "M2M / IoT SIM: stationary, data- or SMS-only, modem TAC", True),
    Kind("dual_sim", "legit", "one of two SIMs in a dual-SIM phone (two IMSIs on one IMEI)", True),
    Kind("phone_changer", "legit", "a person who changes (or swaps back and forth) handsets", True),
    Kind("traveller", "legit", "a person who leaves the city for some days", True),
    Kind("low_activity", "legit", "a rarely used SIM", False),
    Kind("desk_gateway", "legit", "call-centre or office agent whose SIM sits in a multi-SIM "
         "desk gateway / fixed cellular terminal: several IMSIs on one gateway IMEI, "
         "consecutive numbers, one site, weekday office hours, dialling sessions to fresh "
         "numbers, customers calling back", True),
    Kind("roamer", "legit", "inbound roamer: foreign IMSI and number, a few days' stay, "
         "calls and SMS with the home country", True),
    Kind("simbox_plain", "simbox", "GOIP-style gateway or SIM bank at one site: outgoing calls "
         "only, many distinct local callees, port bursts"),
    Kind("simbox_human", "simbox", "SIM box simulating humans: SIMs call and text each other, "
         "small repeat-contact set, daily caps, night sleep"),
    Kind("simbox_spoof", "simbox", "SIM box spoofing handset-like IMEIs, one per SIM"),
    Kind("simbox_mobile", "simbox", "SIM box in a moving vehicle, changing cells"),
    Kind("simbox_lowrate", "simbox", "low-rate SIM box: few calls per SIM, many SIMs"),
    Kind("simbox_remote_bank", "simbox", "remote SIM bank: the same SIM served to gateways "
         "at distant sites"),
    Kind("cardfarm_otp", "cardfarm", "OTP / registration farm: many SMS from short codes, "
         "almost no voice, modem pools"),
    Kind("cardfarm_spam", "cardfarm", "SMS spam farm: bursts of SMS to many distinct numbers"),
    Kind("cardfarm_rented", "cardfarm", "rented numbers: receive verification SMS and a few calls"),
    # appended last: the kind codes of the kinds above stay as they were
    Kind("cloned_imei", "legit", "a person whose counterfeit handset carries a cloned IMEI: "
         "tens to hundreds of unrelated IMSIs on one IMEI, spread over the whole city, each living "
         "an ordinary life", True),
)

KIND_BY_NAME = {k.name: k for k in KINDS}
KIND_NAMES = tuple(k.name for k in KINDS)
KIND_CODE = {k.name: i for i, k in enumerate(KINDS)}
LEGIT_KINDS = tuple(k.name for k in KINDS if k.cls == "legit")
FRAUD_KINDS = tuple(k.name for k in KINDS if k.cls != "legit")
SIMBOX_KINDS = tuple(k.name for k in KINDS if k.cls == "simbox")
CARDFARM_KINDS = tuple(k.name for k in KINDS if k.cls == "cardfarm")
HARD_NEGATIVE_KINDS = tuple(k.name for k in KINDS if k.hard_negative)


def class_of(kind: str) -> str:
    """The class (``legit``, ``simbox``, ``cardfarm``) of a kind name."""
    return KIND_BY_NAME[kind].cls
