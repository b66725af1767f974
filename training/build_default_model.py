"""Rebuild the default model shipped in ``training/default_model/``, and its knowledge.

    python -m simbox.training.build_default_model                 # the shipped settings
    python -m simbox.training.build_default_model --out /tmp/m --worlds 0-3 --subscribers 10000
    python -m simbox.training.build_default_model --out /tmp/m --generator 4   # the latest worlds

Simulates the *training worlds* of the many-world simulator (``simbox.data.worlds``:
population mix, hard negatives and fraud variants drawn per world; the held-out
worlds are never used here), computes each world's features through the fast path
exactly as ``simbox scan`` does, and writes

- ``knowledge.parquet`` (:mod:`simbox.training.knowledge`): every fraud and
  hard-negative SIM of every world, and a weighted sample of the other legit
  SIMs: what ``simbox train`` learns beside a carrier's seizures;
- the default model, trained on that knowledge (every SIM labelled by the
  simulator's truth, cases = deployments).

Everything is seeded and the card carries no timestamp, so a rerun with the same
library versions gives the same files.  Leave-world-out figures:
``python benchmarks/eval_worlds.py``.
"""
from __future__ import annotations

import argparse
import json
import logging
import pathlib
import shutil
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from simbox.data.kinds import HARD_NEGATIVE_KINDS
from simbox.data.simulate import simulate
from simbox.data.worlds import GENERATOR_VERSION, GENERATORS, simulate_world
from simbox.errors import SimboxError
from simbox.features import compute_features
from simbox.training.knowledge import KNOWLEDGE_FILE, read_knowledge, subsample, write_knowledge
from simbox.training.run import DEFAULT_MODEL, read_truth
from simbox.training import young
from simbox.training.schema import registry_schema
from simbox.training.train import train, write_model_folder

SUBSCRIBERS = 10_000
DAYS = 7
WORLDS = range(0, 48)     # training worlds; held-out worlds are 1000 and up
# the version of the worlds' draws the shipped model was trained on: the default
# rebuild draws them so, and gives the shipped files again (the newer versions' worlds
# are for held-out tables and for the next model: --generator)
GENERATOR = 3
EASY_LEGIT_RATE = 0.15    # share of the easy legit SIMs kept in the knowledge
# large legit groups sampled too (each kept SIM weighs 1 / rate): the knowledge of 48
# worlds stays ~100k SIMs, so that `simbox train` beside it stays within minutes
GROUP_RATES = {"ordinary": 0.1, "m2m": 0.3, "driver": 0.4, "small_business": 0.4,
               "dual_sim": 0.4, "phone_changer": 0.4, "traveller": 0.5}
TARGET_PRECISION = 0.995
YOUNG_CUTS = 2            # cuts per world whose young SIMs join the knowledge (training/young.py)


def simulate_features(subscribers, days, scenario, seed, workdir, *, world=None,
                      progress=None, cuts=0, generator=GENERATOR_VERSION):
    """Simulate a network into ``workdir`` and compute its features from the written CDRs.

    ``world``: a world seed of :mod:`simbox.data.worlds` (its drawn configuration;
    ``scenario`` is then ignored; ``generator``: the version of its draws).  A folder
    that already holds this very simulation (``simulation.json`` with the same parameters) is reused.  Returns
    ``(FeatureResult, truth, summary dict)``; with ``cuts`` > 0 the summary also
    holds ``"young"``: ``[(cut, FeatureResult of the events before it)]`` at that many
    cut times (:mod:`simbox.training.young`).
    """
    workdir = pathlib.Path(workdir)
    params = {"subscribers": subscribers, "days": days, "scenario": scenario, "seed": seed}
    if world is not None:
        params = {"subscribers": subscribers, "days": days, "world": world, "seed": seed,
                  "generator": int(generator)}
    marker = workdir / "simulation.json"
    info = json.loads(marker.read_text()) if marker.is_file() else None
    if info is None or info.get("params") != params:
        if world is not None:
            sim = simulate_world(world, subscribers, days, seed=seed, out=workdir,
                                 progress=progress, generator=generator)
        else:
            sim = simulate(subscribers, days, scenario, seed, out=workdir, progress=progress)
        info = dict(sim.network.summary(), days=days, timezone=sim.network.timezone,
                    params=params, cdr_files=[pathlib.Path(sim.paths["cdrs"]).name])
        marker.write_text(json.dumps(info))
    files = [str(workdir / f) for f in info["cdr_files"]]
    kw = dict(cells=str(workdir / "cells.csv"), tac=str(workdir / "tac.csv"),
              timezone=info["timezone"], progress=progress)
    res = compute_features(files, **kw)
    truth = read_truth(workdir / "truth.csv")
    if cuts:
        first, last = young.window_bounds(res.features)
        info = dict(info, young=[(c, compute_features(files, time_to=young.iso_utc(c), **kw))
                                 for c in young.cut_times(seed if world is None else world,
                                                          first, last, cuts)])
    return res, truth, info


def _stacked(features, truth, w, tag, names, keep=None):
    """One world's rows, indexed ``w<world><tag>:<imsi>``, with their truth (a world
    column, case ids made unique across worlds); ``keep``: a mask of the SIMs kept."""
    X = features.loc[:, names] if keep is None else features.loc[keep, names]
    X = X.copy()
    X.index = f"w{w}{tag}:" + X.index.astype(str)
    t = truth.copy()
    t["imsi"] = f"w{w}{tag}:" + t["imsi"].astype(str)
    t["case_id"] = np.where(t["case_id"] != "", f"w{w}:" + t["case_id"], "")
    t["world"] = str(w)
    t = t.set_index("imsi").reindex(X.index).dropna(subset=["label"])
    return X.loc[t.index], t.reset_index()


def world_tables(worlds, subscribers, days, workdir, *, log=print, young_cuts=0,
                 generator=GENERATOR):
    """Features and truth of several worlds, stacked: index ``w<world>:<imsi>``
    (``generator``: the version of the worlds' draws).

    ``young_cuts``: also that many cuts per world, whose young SIMs are stacked as
    ``w<world>@<cut>:<imsi>`` (:mod:`simbox.training.young`).  Returns ``(X, truth
    with a world column and a ``young`` flag, [info per world])``.
    """
    names, _ = registry_schema()
    Xs, truths, infos = [], [], []
    for w in worlds:
        t0 = time.monotonic()
        res, truth, info = simulate_features(subscribers, days, None, w,
                                             pathlib.Path(workdir) / f"world-{w}", world=w,
                                             cuts=young_cuts, generator=generator)
        X, t = _stacked(res.features, truth, w, "", names)
        t["young"] = False
        Xs.append(X)
        truths.append(t)
        n_young = 0
        for cut, yres in info.get("young", []):
            keep = young.young_mask(yres.features["first_seen"], cut)
            Xy, ty = _stacked(yres.features, truth, w, f"{young.YOUNG_TAG}{cut}", names, keep)
            ty["young"] = True
            Xs.append(Xy)
            truths.append(ty)
            n_young += len(Xy)
        infos.append({"world": w, "sims": int(len(X)), "cdrs": info.get("cdrs"),
                      "simbox_sims": info.get("simbox_sims"),
                      "cardfarm_sims": info.get("cardfarm_sims"),
                      "deployments": info.get("deployments"), "timezone": info["timezone"],
                      **({"young_cuts": [c for c, _ in info["young"]],
                          "young_rows": n_young} if young_cuts else {})})
        log(f"world {w}: {len(X):,} SIMs, {info.get('deployments')} deployments"
            + (f", {n_young:,} young rows at {young_cuts} cuts" if young_cuts else "")
            + f" ({time.monotonic() - t0:.0f}s)")
    return pd.concat(Xs), pd.concat(truths, ignore_index=True), infos


def build(out=DEFAULT_MODEL, *, subscribers=SUBSCRIBERS, days=DAYS, worlds=WORLDS,
          target_precision=TARGET_PRECISION, workdir=None, kind_holdout=True,
          easy_rate=EASY_LEGIT_RATE, model_params=None, young_cuts=YOUNG_CUTS,
          generator=GENERATOR):
    """Simulate the training worlds, write ``knowledge.parquet`` and the model into ``out``.
    ``model_params``: booster parameters other than the defaults (``{"max_iter": 100}``);
    ``young_cuts``: cuts per world whose young SIMs join the knowledge
    (:mod:`simbox.training.young`; 0: whole windows only); ``generator``: the version
    of the worlds' draws (:data:`GENERATOR`, the shipped model's)."""
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="simbox-default-model-")
        workdir = tmp
    names, schema = registry_schema()
    out = pathlib.Path(out)
    stage = pathlib.Path(tempfile.mkdtemp(prefix="simbox-knowledge-"))
    try:
        X, truth, infos = world_tables(list(worlds), subscribers, days, workdir,
                                       young_cuts=young_cuts, generator=generator)
        weight = subsample(truth, HARD_NEGATIVE_KINDS, rate=easy_rate, seed=0,
                           group_rates=GROUP_RATES)
        info = {"schema_hash": schema, "worlds": infos, "subscribers": subscribers,
                "days": days, "easy_legit_rate": easy_rate, "group_rates": GROUP_RATES,
                "young_cuts": young_cuts, "young_hours": young.YOUNG_HOURS,
                "kept_whole": ["fraud", *(k for k in HARD_NEGATIVE_KINDS if k not in GROUP_RATES)],
                "rebuild": "python -m simbox.training.build_default_model"}
        write_knowledge(stage / KNOWLEDGE_FILE, X, truth, weight, info)
        kn = read_knowledge(stage / KNOWLEDGE_FILE, names, schema)
        model = train(kn.X.iloc[:0], pd.DataFrame(columns=["imsi", "label", "case_id"]),
                      simulated=kn, unlabelled="ignore", target_precision=target_precision,
                      cv_group="world",
                      seed=0, kind_holdout=kind_holdout, model_params=model_params,
                      inputs=[{"knowledge": {"worlds": [i["world"] for i in infos],
                                             "subscribers": subscribers, "days": days,
                                             "rows": len(kn)},
                               "rebuild": "python -m simbox.training.build_default_model"}])
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    model.card.pop("seconds", None)     # keep the card reproducible
    model.card.pop("seconds_by_step", None)
    if out.exists():
        shutil.rmtree(out)
    write_model_folder(model, out, timestamp=False)
    shutil.move(str(stage / KNOWLEDGE_FILE), out / KNOWLEDGE_FILE)
    shutil.rmtree(stage, ignore_errors=True)
    return model


def parse_worlds(text):
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]``."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_MODEL))
    ap.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    ap.add_argument("--days", type=int, default=DAYS)
    ap.add_argument("--worlds", type=parse_worlds, default=list(WORLDS), metavar="A-B,C",
                    help=f"training world seeds (default {WORLDS.start}-{WORLDS.stop - 1})")
    ap.add_argument("--generator", type=int, choices=GENERATORS, default=GENERATOR,
                    help=f"version of the worlds' draws (default {GENERATOR}, the shipped "
                         f"model's; {GENERATOR_VERSION} the latest: simbox.data.worlds)")
    ap.add_argument("--easy-rate", type=float, default=EASY_LEGIT_RATE,
                    help="share of the easy legit SIMs kept in the knowledge")
    ap.add_argument("--workdir", help="keep the simulated networks here")
    ap.add_argument("--no-kind-holdout", action="store_true")
    ap.add_argument("--young-cuts", type=int, default=YOUNG_CUTS, metavar="N",
                    help="cut every world's window at N times and add the SIMs young at each "
                         f"cut to the knowledge (default {YOUNG_CUTS}; training/young.py)")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="a booster parameter other than the default (e.g. max_iter=100); "
                         "repeatable")
    a = ap.parse_args(argv)
    params = {}
    for item in a.param:
        name, eq, value = item.partition("=")
        if not eq or not name:
            ap.error(f"--param {item!r}: expected NAME=VALUE")
        params[name] = json.loads(value)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.monotonic()
    try:
        m = build(a.out, subscribers=a.subscribers, days=a.days, worlds=a.worlds,
                  workdir=a.workdir, kind_holdout=not a.no_kind_holdout, easy_rate=a.easy_rate,
                  model_params=params or None, young_cuts=a.young_cuts, generator=a.generator)
    except SimboxError as exc:
        print(f"build_default_model: error: {exc}", file=sys.stderr)
        return 1
    s = m.card["metrics"]["model"]["per_sim"]
    size = sum(p.stat().st_size for p in pathlib.Path(a.out).iterdir())
    print(f"default model written to {a.out} ({size / 1e6:.1f} MB) in "
          f"{time.monotonic() - t0:.0f}s: threshold {m.threshold:.4f}, cross-validated "
          f"precision {s['precision']:.4f} recall {s['recall']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
