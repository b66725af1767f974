"""Run the simulator: build a labelled :class:`Network` in memory, write it out.

``build_network(subscribers, days, scenario, seed)`` generates everything
(deterministic for a seed); ``simulate(..., out=DIR)`` also writes the files.
"""
from __future__ import annotations

import dataclasses
import logging
import pathlib
import time as _time

import numpy as np
import pandas as pd

from simbox.data import writers
from simbox.data.config import SCENARIOS, Config, load_config
from simbox.data.farms import FarmFactory
from simbox.data.fraud import SimboxFactory
from simbox.data.identities import IdentityPool, tac_table
from simbox.data.kinds import CARDFARM_KINDS, FRAUD_KINDS, KIND_BY_NAME, SIMBOX_KINDS
from simbox.data.labels import label_table, truth_table
from simbox.data.network import RadioNetwork
from simbox.data.population import create_legit, generate_legit, mirror, split_counts
from simbox.data.registry import EventLog, Subscribers, reachable, substream
from simbox.data.timing import Window
from simbox.errors import ConfigError
from simbox.fastpath.events import CellDict, EventBatch, RecordType
from simbox.progress import as_progress

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Network:
    """A simulated, labelled network.

    - ``cdrs``: :class:`EventBatch` sorted by time (``cell`` = row of ``cells``);
    - ``attaches``: :class:`EventBatch` of attach / location-update events
      (``rtype`` ATTACH): one when a SIM first appears, each local day it comes
      back, whenever its device changes and when it moves to another location area;
    - ``cells``, ``tac``, ``truth``, ``labels``, ``deployments``: DataFrames as written.
    """
    cdrs: EventBatch
    attaches: EventBatch
    cells: pd.DataFrame
    tac: pd.DataFrame
    truth: pd.DataFrame
    labels: pd.DataFrame
    deployments: pd.DataFrame
    config: Config
    scenario: str
    seed: int
    timezone: str
    start: int
    end: int
    world: int | None = None      # the world drawn by simbox.data.worlds, if any

    def cdr_frame(self) -> pd.DataFrame:
        """The CDRs as a readable DataFrame (for small networks)."""
        return self.cdrs.to_pandas(CellDict(self.cells["cell_id"]))

    def summary(self) -> dict:
        cls = self.truth["class"].value_counts()
        return {"subscribers": len(self.truth), "cdrs": len(self.cdrs),
                "attaches": len(self.attaches), "cells": len(self.cells),
                "simbox_sims": int(cls.get("simbox", 0)),
                "cardfarm_sims": int(cls.get("cardfarm", 0)),
                "deployments": len(self.deployments), "labels": len(self.labels),
                "scenario": self.scenario, "seed": self.seed, "world": self.world}


@dataclasses.dataclass
class SimulationResult:
    network: Network
    paths: dict
    seconds: float

    def summary_line(self) -> str:
        s = self.network.summary()
        return (f"{s['subscribers']:,} subscribers, {s['cdrs']:,} CDRs, "
                f"{s['simbox_sims']} SIM-box + {s['cardfarm_sims']} card-farm SIMs in "
                f"{s['deployments']} deployments, {s['labels']} labels "
                f"-> {pathlib.Path(next(iter(self.paths.values()))).parent} "
                f"({self.seconds:.1f}s)")


def _config(config) -> Config:
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return Config(config)
    return load_config(config)


def build_network(subscribers: int, days: int, scenario: str = "mixed", seed: int = 0, *,
                  config=None, progress=None) -> Network:
    """Generate a labelled network of ``subscribers`` SIMs over ``days`` days."""
    cfg = _config(config)
    if scenario not in SCENARIOS:
        raise ConfigError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    subscribers, days, seed = int(subscribers), int(days), int(seed)
    if subscribers < 10:
        raise ConfigError(f"subscribers must be at least 10, got {subscribers}")
    if days < 1:
        raise ConfigError(f"days must be at least 1, got {days}")
    if seed < 0:
        raise ConfigError(f"seed must be >= 0, got {seed}")
    progress = as_progress(progress)

    def step(label):
        progress.stage(label)
        log.info("simulate: %s", label)

    step("network")
    window = Window(cfg.run.start_date, days, cfg.run.timezone)
    net = RadioNetwork(substream(seed, "network"), cfg, subscribers)
    tac = tac_table()
    ids = IdentityPool(substream(seed, "identities"), cfg.run.mcc_mnc, cfg.run.country_code, tac,
                       cfg.run.operator_short_code)
    subs = Subscribers()
    events = EventLog()
    fraud_target = int(round(subscribers * cfg.fraud.share))
    step("legitimate subscribers")
    created = create_legit(seed, cfg, subs, ids, net, window, subscribers - fraud_target)
    shortcodes = ids.short_code_pool()
    callees = reachable(subs, cfg)
    step("fraud deployments")
    budgets = split_counts(fraud_target, cfg.fraud_mix(scenario), FRAUD_KINDS)
    deployments = []
    boxes = SimboxFactory(seed, cfg, subs, ids, net, window, events, callees, 1)
    farms = FarmFactory(seed, cfg, subs, ids, net, window, events, callees, shortcodes, 1)
    for kind in FRAUD_KINDS:
        if budgets.get(kind, 0) <= 0:
            continue
        factory = boxes if kind in SIMBOX_KINDS else farms
        factory.next_id = len(deployments) + 1
        deployments += factory.build(kind, budgets[kind])
    short = fraud_target - sum(len(d.sims) for d in deployments)
    if short > 0:   # budgets that do not divide into deployments go to ordinary people
        extra = create_legit(seed, cfg, subs, ids, net, window, short,
                             counts={"ordinary": short}, tag="extra")
        created["ordinary"] = (np.concatenate([created.get("ordinary", (np.empty(0, int),))[0],
                                               extra["ordinary"][0]]), {})
    step("legitimate traffic")
    generate_legit(seed, cfg, subs, ids, net, window, events, created, shortcodes)
    mirror(seed, cfg, subs, net, window, events)
    step("assembling")
    cdrs, attaches = _assemble(seed, cfg, subs, net, window, events)
    truth = truth_table(subs, deployments)
    legit_groups = {}
    for kind, (idx, extra_info) in created.items():
        if kind in ("call_centre", "desk_gateway") and "centre" in extra_info:
            c = extra_info["centre"]
            legit_groups[kind] = [idx[c == k] for k in np.unique(c)]
        else:
            legit_groups[kind] = [idx]
    labels = label_table(seed, cfg, subs, deployments, legit_groups)
    return Network(cdrs=cdrs, attaches=attaches, cells=net.cells, tac=tac, truth=truth,
                   labels=labels, deployments=_deployment_table(deployments, net, cdrs, subs),
                   config=cfg, scenario=scenario, seed=seed, timezone=cfg.run.timezone,
                   start=window.start, end=window.end)


def _deployment_table(deployments, net, cdrs, subs) -> pd.DataFrame:
    """One row per deployment; ``main_site``/``lat``/``lon`` is where it really is.

    That is the site serving most of the deployment's CDR events: the place of its
    gateways or modems for a box that stays put (their serving cells jitter around
    it), the place it spent most traffic at for one that moved once, the base it
    returns to between drives for a mobile box, and the busiest of its places for
    a farm spread over several sites.  Ties go to the lowest site index; a
    deployment without events keeps its first place.
    """
    col = cdrs.columns()
    ev_site = net.site_of_cell[np.asarray(col["cell"], np.int64)]
    ev_imsi = np.asarray(col["imsi"])
    rows = []
    for d in deployments:
        sites = np.unique(net.site_of_cell[d.sites])
        mine = np.isin(ev_imsi, subs.imsi[np.asarray(d.sims)])
        counts = np.bincount(ev_site[mine])
        main_site = int(np.argmax(counts)) if counts.sum() else int(net.site_of_cell[d.sites[0]])
        main = int(np.argmax(net.site_of_cell == main_site))      # a cell of that site
        rows.append((d.id, KIND_BY_NAME[d.kind].cls, d.kind, len(d.sims), len(d.seizable_devices),
                     len(sites), net.cells.at[main, "site_id"],
                     net.cells.at[main, "lat"], net.cells.at[main, "lon"]))
    return pd.DataFrame(rows, columns=["deployment_id", "class", "kind", "sims", "devices",
                                       "sites", "main_site", "lat", "lon"])


def _assemble(seed, cfg, subs, net, window, events):
    rng = substream(seed, "assemble")
    c = events.columns()
    keep = (c["time"] >= window.start) & (c["time"] < window.end)
    order = np.argsort(c["time"], kind="stable")
    if not keep.all():
        order = order[keep[order]]
    c = {k: v[order] for k, v in c.items()}
    sub = c["sub"]
    n = len(sub)
    true_imei = c["imei"]
    imei = np.where(rng.random(n) < cfg.run.missing_imei_share, 0, true_imei)
    cdrs = EventBatch({"rtype": c["rtype"], "time": c["time"], "imsi": subs.imsi[sub],
                       "imei": imei, "msisdn": subs.msisdn[sub], "other": c["other"],
                       "duration": c["duration"], "cell": c["cell"]}, source="simulated")
    # attaches: first event of a SIM, each new local day, a new device or location area
    lac = np.array([int(t.split("-")[1]) for t in net.cells["cell_id"]], np.int64)
    o = np.argsort(sub, kind="stable")          # rows are in time order already
    s, t, im, cell = sub[o], c["time"][o], true_imei[o], c["cell"][o]
    day = window.day_of(t)
    new = np.ones(len(s), bool)
    if len(s):
        new[1:] = (s[1:] != s[:-1]) | (im[1:] != im[:-1]) | (day[1:] != day[:-1]) | \
            (lac[cell[1:]] != lac[cell[:-1]])
    a = np.flatnonzero(new)
    at = np.maximum(t[a] - rng.integers(1, 120, size=len(a)), window.start)
    ao = np.argsort(at, kind="stable")
    a, at = a[ao], at[ao]
    attaches = EventBatch({"rtype": np.full(len(a), int(RecordType.ATTACH)), "time": at,
                           "imsi": subs.imsi[s[a]], "imei": im[a], "msisdn": subs.msisdn[s[a]],
                           "other": np.zeros(len(a), np.int64), "duration": np.zeros(len(a)),
                           "cell": cell[a]}, source="simulated")
    return cdrs, attaches


def simulate(subscribers: int, days: int, scenario: str = "mixed", seed: int = 0,
             out=None, *, config=None, format: str = "csv", signaling: bool | str = False,
             testcalls: int | dict | None = None, progress=None) -> SimulationResult:
    """Simulate a labelled network and write it to ``out`` (see ``docs/simulator.md``).

    Writes ``cdrs.csv.gz`` (or the CDRs in ``format``), ``cells.csv``, ``tac.csv``,
    ``truth.csv``, ``labels.csv`` and ``deployments.csv``; with ``signaling`` also
    the attach events: ``True`` writes ``signaling.pcap``, a string names the
    signaling writer (``csv``: ``attaches.csv.gz``).  ``testcalls``: a test-call campaign
    of that many calls (or the options of :func:`simbox.data.testcalls.campaign`) runs on
    the network: its probe calls are in the CDRs, and ``testcalls.csv``, ``probes.txt``
    and ``testcalls_truth.csv`` are written.
    """
    t0 = _time.monotonic()
    if format not in writers.WRITERS:
        raise ConfigError(f"unknown format {format!r}; available: "
                          f"{', '.join(sorted(writers.WRITERS))}")
    if signaling is True:
        signaling = "pcap"
    if signaling and signaling not in writers.SIGNALING_WRITERS:
        raise ConfigError(f"unknown signaling format {signaling!r}; available: "
                          f"{', '.join(sorted(writers.SIGNALING_WRITERS))}")
    if out is None:
        raise ConfigError("simulate needs an output folder (out=...)")
    out = pathlib.Path(out)
    progress = as_progress(progress)
    net = build_network(subscribers, days, scenario, seed, config=config, progress=progress)
    tc = None
    if testcalls:
        from simbox.data.testcalls import campaign  # lazy: only with a campaign
        net, tc = campaign(net, seed=seed, **(testcalls if isinstance(testcalls, dict)
                                               else {"calls": int(testcalls)}))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {out}: {exc.strerror}") from None
    progress.stage("writing CDRs", total=len(net.cdrs), unit="rows")
    paths = dict(writers.WRITERS[format](net, out, progress))
    paths.update(writers.write_tables(net, out))
    if signaling:
        paths.update(writers.SIGNALING_WRITERS[signaling](net, out, None))
    if tc is not None:
        from simbox.data.testcalls import write_campaign  # lazy: as above
        paths.update(write_campaign(tc, out))
    progress.finish()
    return SimulationResult(network=net, paths=paths, seconds=_time.monotonic() - t0)


__all__ = ["Network", "SimulationResult", "build_network", "simulate", "CARDFARM_KINDS"]
