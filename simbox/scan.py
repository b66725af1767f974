"""The main job: CDRs in; shutdown list, deployments and sites out.

``scan()`` computes the features through the fast path, scores every SIM with
the model (the shipped default when none is given), flags those at or above the
operating threshold (the model's, unless ``threshold`` or ``target_precision``
overrides it), explains each flag in words, groups the flagged SIMs into
deployments and locates them on sites.  :class:`ScanResult` holds the tables as
DataFrames; ``ScanResult.write(folder)`` writes the files of DESIGN.md
atomically.  See docs/scan.md for the columns and formulas.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simbox._version import __version__
from simbox.deployments import LinkRules, deployment_table, group_sims
from simbox.errors import ConfigError, EmptyInputError, InputError, ModelError
from simbox.outputs import atomic_folder, check_output_folder, write_csv, write_geojson, write_kml
from simbox.reasons import reasons_table
from simbox.sites import load_cells, locate, site_table

__all__ = ["scan", "assemble", "ScanResult", "summary_line", "FLAGGED_COLUMNS"]

FLAGGED_COLUMNS = ["imsi", "msisdn", "class", "score", "deployment_id", "reasons", "first_seen",
                   "last_seen", "n_events", "n_moc", "n_mtc", "n_sms_mo", "n_sms_mt", "n_data",
                   "imei", "device_type", "main_site", "main_cell", "score_simbox", "score_cardfarm"]
FRAUD_CLASSES = ("simbox", "cardfarm")


@dataclass
class ScanResult:
    """The tables of a scan (DataFrames) and what the report needs to draw them."""

    flagged: pd.DataFrame
    deployments: pd.DataFrame
    sites: pd.DataFrame
    summary: dict
    predictions: pd.DataFrame = field(repr=False)       # every SIM: class, score, flagged
    features: pd.DataFrame = field(repr=False)          # every SIM's features
    cells: pd.DataFrame | None = field(default=None, repr=False)
    deployment_hours: dict = field(default_factory=dict, repr=False)
    baseline_hours: np.ndarray | None = field(default=None, repr=False)
    rejects_path: str | None = None
    out: Path | None = None

    def write(self, out_dir, *, report: bool = True) -> Path:
        """Write every output file into ``out_dir`` atomically; returns the folder."""
        with atomic_folder(out_dir) as tmp:
            self.write_into(tmp, report=report)
        self.out = Path(out_dir)
        self.summary["out"] = os.fspath(self.out)
        return self.out

    def write_into(self, folder, *, report: bool = True) -> None:
        """Write the files into an existing folder (not atomic: see :meth:`write`)."""
        folder = Path(folder)
        write_csv(self.flagged, folder / "flagged.csv")
        write_csv(self.deployments, folder / "deployments.csv")
        write_csv(self.sites, folder / "sites.csv")
        write_geojson(self.sites, folder / "sites.geojson")
        write_kml(self.sites, folder / "sites.kml")
        if self.rejects_path and os.path.exists(self.rejects_path) and \
                Path(self.rejects_path).resolve() != (folder / "rejects.csv").resolve():
            shutil.copyfile(self.rejects_path, folder / "rejects.csv")
        if report:
            from simbox.report import render_report
            (folder / "report.html").write_text(render_report(self), encoding="utf-8")
        with open(folder / "summary.json", "w", encoding="utf-8") as f:
            json.dump(self.summary, f, indent=1, default=str)
            f.write("\n")


def summary_line(summary: dict) -> str:
    """The one-line summary a command prints."""
    by = summary.get("flagged_by_class", {})
    classes = " (" + ", ".join(f"{n:,} {c}" for c, n in by.items()) + ")" if by else ""
    line = (f"scanned {summary['sims']:,} SIMs ({summary.get('records', {}).get('accepted', 0):,} "
            f"records): {summary['flagged']:,} flagged{classes} in {summary['deployments']:,} "
            f"deployment(s) at {summary['sites']:,} site(s)")
    if summary.get("top_site"):
        t = summary["top_site"]
        line += f"; first site {t['site_id']} ({t['n_sims']} SIMs)"
    if summary.get("out"):
        line += f"; report: {os.path.join(summary['out'], 'report.html')}"
    return line


def _flag(predictions: pd.DataFrame, threshold: float | None) -> pd.DataFrame:
    p = predictions.copy()
    if threshold is not None:
        p["flagged"] = p["score"].to_numpy() >= threshold
    p["flagged"] = p["flagged"].astype(bool)
    # a SIM flagged under a lowered threshold takes the likelier fraud class
    fraud = [c for c in ("score_simbox", "score_cardfarm") if c in p.columns]
    wrong = p["flagged"] & ~p["class"].isin(FRAUD_CLASSES)
    if wrong.any() and len(fraud) == 2:
        p.loc[wrong, "class"] = np.where(p.loc[wrong, "score_simbox"] >= p.loc[wrong, "score_cardfarm"],
                                         "simbox", "cardfarm")
    elif wrong.any():
        p.loc[wrong, "class"] = "simbox"
    return p


def assemble(res, predictions: pd.DataFrame, cells: pd.DataFrame, *, threshold: float | None = None,
             rules: LinkRules | None = None, contributions: pd.DataFrame | None = None,
             summary: dict | None = None) -> ScanResult:
    """The scan's tables from a ``FeatureResult`` and the model's predictions.

    ``cells`` comes from :func:`simbox.sites.load_cells`.  ``threshold`` (None:
    keep the predictions' ``flagged``) flags SIMs with ``score >= threshold``.
    """
    rules = rules or LinkRules()
    preds = _flag(predictions.reindex(res.features.index), threshold)
    mask = preds["flagged"].to_numpy()
    sims = res.sims.loc[mask].join(preds.loc[mask, ["class", "score"]])
    hours = np.asarray(res.hours)[mask]
    labels, counts = group_sims(sims, hours, res.devices, rules)
    locations = locate(pd.Series(labels, index=sims.index), res.cells, cells)
    scan_end = res.sims["last_seen"].max() if len(res.sims) else None
    deployments, per_sim = deployment_table(sims, labels, hours, res.devices, counts, locations,
                                            scan_end=scan_end)
    sims = sims.assign(deployment_id=per_sim)
    sites = site_table(sims, hours, res.devices, res.cells, cells, deployments)

    reasons = reasons_table(res.features, sims.index, contributions=contributions)
    counts_cols = [c for c in ("n_moc", "n_mtc", "n_sms_mo", "n_sms_mt", "n_data")
                   if c in res.features.columns]
    flagged = sims.join(res.features.loc[mask, counts_cols]).join(
        preds.loc[mask, [c for c in ("score_simbox", "score_cardfarm") if c in preds.columns]])
    flagged = flagged.assign(reasons=reasons, imei=sims["main_imei"])
    flagged.index.name = "imsi"
    flagged = flagged.reset_index()
    for c in FLAGGED_COLUMNS:
        if c not in flagged.columns:
            flagged[c] = np.nan
    rank = {d: i for i, d in enumerate(deployments["deployment_id"])}
    flagged = flagged.assign(_r=flagged["deployment_id"].map(rank)) \
        .sort_values(["_r", "score", "imsi"], ascending=[True, False, True], kind="stable")
    flagged = flagged[FLAGGED_COLUMNS].reset_index(drop=True)
    flagged["score"] = flagged["score"].round(4)

    dep_hours = {d: hours[(per_sim == d).to_numpy()].sum(axis=0) for d in deployments["deployment_id"]}
    summary = dict(summary or {})
    dev = res.devices.loc[res.devices["imsi"].isin(sims.index) & (res.devices["imei"].astype(str) != "")]
    by_class = flagged["class"].value_counts()
    summary.update({
        "simbox_version": __version__,
        "threshold": None if threshold is None else round(float(threshold), 4),
        "sims": int(len(res.features)),
        "flagged": int(mask.sum()),
        "flagged_by_class": {c: int(by_class[c]) for c in FRAUD_CLASSES if c in by_class},
        "deployments": int(len(deployments)),
        "sites": int(len(sites)),
        "devices": int(dev["imei"].nunique()),
        "unlocated_flagged": int((sims["main_site"].astype(str) == "").sum()),
        "first_seen": _iso(res.sims["first_seen"].min()) if len(res.sims) else None,
        "last_seen": _iso(res.sims["last_seen"].max()) if len(res.sims) else None,
        "top_site": ({k: _plain(sites.iloc[0][k]) for k in ("site_id", "lat", "lon", "n_sims")}
                     if len(sites) else None),
    })
    return ScanResult(flagged=flagged, deployments=deployments, sites=sites, summary=summary,
                      predictions=preds, features=res.features, cells=cells,
                      deployment_hours=dep_hours, baseline_hours=np.asarray(res.hours).sum(axis=0))


def _iso(t) -> str | None:
    if t is None or pd.isna(t):
        return None
    t = pd.Timestamp(t)
    t = t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v
