"""Simulated test-call campaigns: a test-call system calling the carrier's probes from abroad.

A campaign places ``calls`` test calls over the network's window to ``probes`` probe
numbers (on-net numbers no simulated subscriber has).  The international routes it
buys reach some of the SIM-box deployments (``reach``: the share of the simbox
deployments, at least one); a call on such a route is *bypassed* with probability
``bypass_share``: a box SIM of a reached deployment terminates it.  The call then *is*
one of that SIM's MOC: the simulator rewrites the called party of one of its MOC
(a call it places anyway) to the probe, so the box's behaviour is unchanged.

What the test system records (:data:`COLUMNS`, DESIGN.md "Test-call results"):

- a bypassed call: ``bypass`` with the SIM's MSISDN as the CLI, written in international
  (``+86...``), national (``0...``) or plain E.164 form; or ``blank_cli`` /
  ``spoofed_cli`` (no CLI / a foreign number) at ``blank_share`` / ``spoofed_share``;
  the attempt time is the CDR's start less a set-up of 2-8 s plus the test system's
  clock skew (normal, ``skew_s``); unanswered MOC (duration 0) have no answer time;
- ``lost_share`` of the bypassed calls left no CDR (the MOC is removed: an unanswered
  call the switch did not record);
- a call not bypassed: ``ok`` (the A-number delivered) or ``no_answer``;
- ``duplicate_share`` of the rows are written twice (test systems re-export).

:func:`campaign` returns the network with the rewritten CDRs and a :class:`Campaign`
(results, probe numbers, the truth of each bypassed call); :func:`write_campaign` writes
``testcalls.csv``, ``probes.txt`` and ``testcalls_truth.csv``.  The simulator never
imports the detector: the campaign knows the truth, not what simbox would flag.
"""
from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import pandas as pd

from simbox.data.registry import substream
from simbox.errors import ConfigError
from simbox.fastpath.events import EventBatch, RecordType, decode_array, encode_digits

__all__ = ["COLUMNS", "Campaign", "campaign", "write_campaign", "DEFAULTS"]

COLUMNS = ["test_id", "origin", "a_number_sent", "b_number", "cli_received", "attempt_time",
           "answer_time", "release_time", "result"]
DEFAULTS = dict(calls=400, probes=5, reach=0.5, bypass_share=0.35, blank_share=0.05,
                spoofed_share=0.05, lost_share=0.03, no_answer_share=0.1, skew_s=20.0,
                duplicate_share=0.01, name="tcg")
ORIGINS = ("44", "1", "49", "33", "971", "234")


@dataclasses.dataclass
class Campaign:
    results: pd.DataFrame      # COLUMNS, one row per call (and the duplicated rows)
    probes: list               # probe numbers (E.164 digits)
    truth: pd.DataFrame        # test_id, imsi, msisdn, deployment_id, cdr_time, lost
    reached: list              # deployment ids the campaign's routes reach
    name: str


def _iso(t) -> str:
    return pd.to_datetime(np.asarray(t, np.int64), unit="s", utc=True).strftime(
        "%Y-%m-%dT%H:%M:%SZ").tolist() if np.ndim(t) else \
        pd.Timestamp(int(t), unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _cli_format(rng, msisdn: str, cc: str) -> str:
    u = rng.random()
    if u < 0.4:
        return "+" + msisdn
    if u < 0.7 and msisdn.startswith(cc):
        return "0" + msisdn[len(cc):]
    if u < 0.85:
        return "00" + msisdn
    return msisdn


def campaign(net, *, seed: int = 0, **options):
    """``(network with the campaign's CDRs, Campaign)``; ``options`` override :data:`DEFAULTS`."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown test-call campaign option(s): {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(DEFAULTS)}")
    o = dict(DEFAULTS, **options)
    if int(o["calls"]) < 1 or int(o["probes"]) < 1:
        raise ConfigError("a test-call campaign needs at least one call and one probe")
    rng = substream(seed, "testcalls:" + str(o["name"]))
    cc = str(net.config.run.country_code)
    cdr = net.cdrs.columns()
    msisdns = set(decode_array(np.unique(cdr["msisdn"])))
    probes = []
    while len(probes) < int(o["probes"]):
        p = cc + "19" + "".join(map(str, rng.integers(0, 10, size=9)))
        if p not in msisdns and p not in probes:
            probes.append(p)
    boxes = net.deployments.loc[net.deployments["class"] == "simbox", "deployment_id"].tolist()
    n_reach = max(1, int(round(len(boxes) * float(o["reach"])))) if boxes else 0
    reached = sorted(rng.choice(boxes, size=n_reach, replace=False).tolist()) if boxes else []
    truth = net.truth.set_index("imsi")
    imsi_text = decode_array(cdr["imsi"])
    dep_of = truth["deployment_id"].reindex(imsi_text).fillna("").to_numpy()
    box_moc = np.flatnonzero((cdr["rtype"] == int(RecordType.MOC)) & np.isin(dep_of, reached))
    n = int(o["calls"])
    t_call = np.sort(rng.integers(net.start, net.end, size=n))
    bypass = (rng.random(n) < float(o["bypass_share"])) & (len(box_moc) > 0)
    other = cdr["other"].copy()
    drop = np.zeros(len(other), bool)
    used = set()
    rows, hits = [], []
    for i in range(n):
        tid = f"{o['name']}-{i + 1:05d}"
        origin = str(rng.choice(ORIGINS))
        a_number = origin + "".join(map(str, rng.integers(0, 10, size=9)))
        probe = probes[int(rng.integers(len(probes)))]
        # a bypassed call: the box MOC nearest the planned time that no other call took
        order = np.argsort(np.abs(cdr["time"][box_moc] - t_call[i]), kind="stable") \
            if bypass[i] else []
        free = [box_moc[q] for q in order[:len(used) + 1] if box_moc[q] not in used]
        if free:
            j = free[0]
            used.add(j)
            other[j] = encode_digits(probe)
            t = int(cdr["time"][j])
            dur = int(cdr["duration"][j])
            attempt = t - int(rng.integers(2, 9)) + int(round(rng.normal(0, float(o["skew_s"]))))
            answer = attempt + int(rng.integers(4, 16)) if dur > 0 else None
            lost = rng.random() < float(o["lost_share"])
            if lost:
                drop[j] = True
                answer = None
            msisdn = decode_array(np.array([cdr["msisdn"][j]]))[0]
            u = rng.random()
            if u < float(o["blank_share"]):
                result, cli = "blank_cli", ""
            elif u < float(o["blank_share"]) + float(o["spoofed_share"]):
                result = "spoofed_cli"
                cli = "+" + str(rng.choice(ORIGINS)) + "".join(map(str, rng.integers(0, 10, 9)))
            else:
                result, cli = "bypass", _cli_format(rng, msisdn, cc)
            rows.append((tid, origin, "+" + a_number, probe, cli, attempt, answer,
                         None if answer is None else answer + dur, result))
            hits.append((tid, imsi_text[j], msisdn, dep_of[j], t, lost, result))
        else:
            attempt = int(t_call[i])
            if rng.random() < float(o["no_answer_share"]):
                rows.append((tid, origin, "+" + a_number, probe, "", attempt, None, None,
                             "no_answer"))
            else:
                answer = attempt + int(rng.integers(4, 16))
                rows.append((tid, origin, "+" + a_number, probe, "+" + a_number, attempt,
                             answer, answer + int(rng.integers(20, 300)), "ok"))
    res = pd.DataFrame(rows, columns=COLUMNS)
    for c in ("attempt_time", "answer_time", "release_time"):
        v = res[c]
        res[c] = [_iso(int(x)) if pd.notna(x) else "" for x in v]
    dups = np.flatnonzero(rng.random(len(res)) < float(o["duplicate_share"]))
    if len(dups):
        res = pd.concat([res, res.iloc[dups]], ignore_index=True)
    keep = ~drop
    cols = {k: (other if k == "other" else v)[keep] for k, v in cdr.items()}
    new_net = dataclasses.replace(net, cdrs=EventBatch(cols, source="simulated"))
    hit = pd.DataFrame(hits, columns=["test_id", "imsi", "msisdn", "deployment_id", "cdr_time",
                                      "lost", "result"])
    hit["cdr_time"] = [_iso(int(t)) for t in hit["cdr_time"]]
    return new_net, Campaign(res, probes, hit, reached, str(o["name"]))


def write_campaign(c: Campaign, out) -> dict:
    """``testcalls.csv``, ``probes.txt`` and ``testcalls_truth.csv`` into ``out``."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"testcalls": out / "testcalls.csv", "probes": out / "probes.txt",
             "testcalls_truth": out / "testcalls_truth.csv"}
    c.results.to_csv(paths["testcalls"], index=False, lineterminator="\n")
    paths["probes"].write_text("".join(p + "\n" for p in c.probes), encoding="utf-8")
    c.truth.to_csv(paths["testcalls_truth"], index=False, lineterminator="\n")
    return paths
