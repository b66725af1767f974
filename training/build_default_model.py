"""Rebuild the default model shipped in ``training/default_model/``.

    python -m simbox.training.build_default_model            # the shipped settings
    python -m simbox.training.build_default_model --out /tmp/m --subscribers 20000

Simulates the ``mixed`` scenario of the labelled network simulator
(``simbox.data.simulate``), computes the features through the fast path exactly
as ``simbox scan`` does, and trains on the simulator's truth (every SIM
labelled, cases = deployments).  Everything is seeded and the card carries no
timestamp, so a rerun with the same library versions gives the same files.
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

from simbox.errors import SimboxError
from simbox.training.run import DEFAULT_MODEL

SUBSCRIBERS = 50_000
DAYS = 7
SEED = 101          # simulator seed of the training network (benchmarks evaluate on others)
TARGET_PRECISION = 0.995


def simulate_features(subscribers, days, scenario, seed, workdir, *, progress=None):
    """Simulate a network into ``workdir`` and compute its features from the written CDRs.

    A folder that already holds this very simulation (``simulation.json`` with the
    same parameters) is reused.  Returns ``(FeatureResult, truth, summary dict)``.
    """
    from simbox.features import compute_features
    from simbox.training.run import read_truth
    workdir = pathlib.Path(workdir)
    params = {"subscribers": subscribers, "days": days, "scenario": scenario, "seed": seed}
    marker = workdir / "simulation.json"
    info = json.loads(marker.read_text()) if marker.is_file() else None
    if info is None or info.get("params") != params:
        from simbox.data.simulate import simulate
        sim = simulate(subscribers, days, scenario, seed, out=workdir, progress=progress)
        info = dict(sim.network.summary(), days=days, timezone=sim.network.timezone,
                    params=params, cdr_files=[pathlib.Path(sim.paths["cdrs"]).name])
        marker.write_text(json.dumps(info))
    res = compute_features([str(workdir / f) for f in info["cdr_files"]],
                           cells=str(workdir / "cells.csv"), tac=str(workdir / "tac.csv"),
                           timezone=info["timezone"], progress=progress)
    truth = read_truth(workdir / "truth.csv")
    return res, truth, info


def build(out=DEFAULT_MODEL, *, subscribers=SUBSCRIBERS, days=DAYS, seed=SEED,
          target_precision=TARGET_PRECISION, workdir=None, kind_holdout=True):
    """Simulate, train, write the model folder ``out``; return the Model."""
    from simbox.training.dataset import truth_labels
    from simbox.training.train import train, write_model_folder
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="simbox-default-model-")
        workdir = tmp
    try:
        res, truth, info = simulate_features(subscribers, days, "mixed", seed, workdir)
        model = train(res, truth_labels(truth), truth=truth, target_precision=target_precision,
                      seed=0, kind_holdout=kind_holdout,
                      inputs=[{"simulated": {k: info[k] for k in (
                          "scenario", "seed", "subscribers", "days", "cdrs", "simbox_sims",
                          "cardfarm_sims", "deployments", "timezone")},
                          "rebuild": "python -m simbox.training.build_default_model"}])
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    model.card.pop("seconds", None)     # keep the card reproducible
    out = pathlib.Path(out)
    if out.exists():
        shutil.rmtree(out)
    write_model_folder(model, out, timestamp=False)
    return model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_MODEL))
    ap.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    ap.add_argument("--days", type=int, default=DAYS)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--workdir", help="keep the simulated network here")
    ap.add_argument("--no-kind-holdout", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.monotonic()
    try:
        m = build(a.out, subscribers=a.subscribers, days=a.days, seed=a.seed,
                  workdir=a.workdir, kind_holdout=not a.no_kind_holdout)
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
