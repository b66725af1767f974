"""``simbox demo``: simulate a small network, scan it, compare with the truth.

The first command of the README: with nothing but the package installed it
simulates a small city (legitimate subscribers, hard negatives, SIM boxes and
card farms), scans it with the shipped default model and says what the scan
found against the simulator's truth:

- planted deployments *found*: at least half of their SIMs flagged;
- SIM precision and recall of the shutdown list;
- legitimate SIMs flagged, by kind (the hard negatives a wrong shutdown hits);
- distance from each found deployment's located position to its planted site (the site
  serving most of its traffic, deployments.csv main_site).
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from simbox.progress import as_progress

__all__ = ["demo", "compare_with_truth", "DemoResult", "DEMO_NETWORK"]

DEMO_NETWORK = {"subscribers": 4000, "days": 3, "scenario": "baseline", "seed": 7}


@dataclass
class DemoResult:
    scan: object            # ScanResult
    comparison: dict
    network_dir: Path
    report: Path
    seconds: float

    def summary_line(self) -> str:
        c = self.comparison
        line = (f"found {c['deployments_found']} of {c['deployments_planted']} planted deployments; "
                f"SIMs: precision {c['sim_precision']:.3f}, recall {c['sim_recall']:.3f} "
                f"({c['legit_flagged']} legitimate SIM(s) flagged)")
        if c.get("median_distance_m") is not None:
            line += f"; located within {c['median_distance_m']:.0f} m of the planted site (median)"
        return line + f"; {self.seconds:.0f} s"


def compare_with_truth(flagged: pd.DataFrame, deployments: pd.DataFrame, truth: pd.DataFrame,
                       planted: pd.DataFrame) -> dict:
    """What a scan found against the simulator's ``truth.csv`` and ``deployments.csv``."""
    import numpy as np  # lazy: the CLI's parser reads DEMO_NETWORK
    import pandas as pd  # lazy: the CLI's parser reads DEMO_NETWORK
    from simbox.sites import haversine_m  # lazy: pandas; the CLI's parser reads DEMO_NETWORK
    truth = truth.astype({"imsi": str}).set_index("imsi")
    fraud = truth.index[truth["class"].isin(["simbox", "cardfarm"])]
    flagged_ids = pd.Index(flagged["imsi"].astype(str))
    tp = int(flagged_ids.isin(fraud).sum())
    legit = truth.reindex(flagged_ids)
    legit = legit.loc[~legit["class"].isin(["simbox", "cardfarm"])]
    dep_of = flagged.set_index(flagged["imsi"].astype(str))["deployment_id"]
    ours = deployments.set_index("deployment_id")
    found, distances, per = 0, [], []
    for row in planted.to_dict(orient="records"):
        sims = truth.index[truth["deployment_id"].astype(str) == str(row["deployment_id"])]
        hit = dep_of.reindex(sims).dropna()
        share = len(hit) / max(1, len(sims))
        entry = {"deployment_id": row["deployment_id"], "kind": row.get("kind", row.get("class")),
                 "sims": len(sims), "flagged_share": round(share, 3), "ours": None,
                 "grouped_share": None, "distance_m": None}
        if share >= 0.5:
            found += 1
            top = hit.value_counts()
            entry["ours"] = top.index[0]
            entry["grouped_share"] = round(top.iloc[0] / len(hit), 3)
            d = ours.loc[top.index[0]]
            if pd.notna(d["lat"]) and pd.notna(row.get("lat")):
                entry["distance_m"] = round(float(haversine_m(d["lat"], d["lon"], row["lat"],
                                                              row["lon"])), 0)
                distances.append(entry["distance_m"])
        per.append(entry)
    return {
        "deployments_planted": len(planted), "deployments_found": found,
        "sims_fraud": len(fraud), "sims_flagged": len(flagged_ids), "sims_true_positive": tp,
        "sim_precision": tp / len(flagged_ids) if len(flagged_ids) else 1.0,
        "sim_recall": tp / len(fraud) if len(fraud) else 1.0,
        "legit_flagged": int(len(legit)),
        "legit_flagged_by_kind": {str(k): int(v) for k, v in legit["kind"].value_counts().items()},
        "median_distance_m": float(np.median(distances)) if distances else None,
        "per_deployment": per,
    }


def demo(out=None, *, subscribers: int = DEMO_NETWORK["subscribers"],
         days: int = DEMO_NETWORK["days"], scenario: str = DEMO_NETWORK["scenario"],
         seed: int = DEMO_NETWORK["seed"], model=None, progress=None) -> DemoResult:
    """Simulate into ``out/network``, scan into ``out/scan``, compare with the truth.

    ``out`` defaults to a new folder in the system's temporary folder.
    """
    import pandas as pd  # lazy: the CLI's parser reads DEMO_NETWORK
    from simbox.data import simulate  # lazy: pandas; the CLI's parser reads DEMO_NETWORK
    from simbox.scan import scan  # lazy: sklearn; the CLI's parser reads DEMO_NETWORK
    t0 = time.monotonic()
    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="simbox-demo-"))
    net_dir = out / "network"
    progress = as_progress(progress)
    progress.stage("simulating")
    sim = simulate(subscribers, days, scenario, seed, net_dir, progress=progress)
    paths = {k: Path(v) for k, v in sim.paths.items()}
    cdrs = paths.get("cdrs", net_dir / "cdrs.csv.gz")
    result = scan([cdrs], cells=paths.get("cells", net_dir / "cells.csv"),
                  tac=paths.get("tac", net_dir / "tac.csv"), model=model, out=out / "scan",
                  timezone=sim.network.timezone, progress=progress,
                  history=False)          # a simulated network: nothing for the team's store
    truth = pd.read_csv(paths.get("truth", net_dir / "truth.csv"), dtype=str, keep_default_na=False)
    planted = pd.read_csv(paths.get("deployments", net_dir / "deployments.csv"),
                          dtype={"deployment_id": str})
    comparison = compare_with_truth(result.flagged, result.deployments, truth, planted)
    return DemoResult(scan=result, comparison=comparison, network_dir=net_dir,
                      report=Path(os.fspath(out / "scan" / "report.html")),
                      seconds=time.monotonic() - t0)
