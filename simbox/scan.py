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
import sys
import time
import types
import logging
from collections.abc import Mapping
from functools import partial
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simbox import device_rule
from simbox.background import Background
from simbox._version import __version__
from simbox.deployments import (SUBSCRIBER_BLOCK, LinkRules, deployment_table, factorized,
                                group_sims, member, pairs_of, same_keys, sum_rows, unique_ints)
from simbox.errors import ConfigError, EmptyInputError, InputError, ModelError
from simbox.engines import check_engine, compute
from simbox.fastpath.keys import IMSI_COLUMN
from simbox.fastpath.stats import MAX_REJECT_SHARE
from simbox.outputs import atomic_folder, write_csv, write_geojson, write_kml
from simbox.progress import as_progress
from simbox.reasons import occlusion_contributions, reasons_table, reference_stats
from simbox.sites import checked_cells, locate, site_table
from simbox.training.folder import DEFAULT_MODEL
from simbox.training.run import model_timezone
from simbox.training.scoring import features_of, load_scorer   # scoring.npz: no scikit-learn
from simbox.training.threshold import pick_on_curve
from simbox.training.young import YOUNG_HOURS, young_mask, young_threshold_of

__all__ = ["scan", "assemble", "ScanResult", "summary_line", "time_outliers", "FLAGGED_COLUMNS",
           "SCORES_COLUMNS"]

FLAGGED_COLUMNS = ["imsi", "msisdn", "class", "score", "deployment_id", "reasons", "first_seen",
                   "last_seen", "n_events", "n_moc", "n_mtc", "n_sms_mo", "n_sms_mt", "n_data",
                   "imei", "device_type", "main_site", "main_cell", "score_simbox", "score_cardfarm",
                   "first_flagged", "status"]    # the last two: from the history store
SCORES_COLUMNS = ["imsi", "msisdn", "score", "score_simbox", "score_cardfarm", "score_legit",
                  "class", "flagged"]
FRAUD_CLASSES = ("simbox", "cardfarm")
OCCLUDED_FEATURES = 8          # reasons: features occluded per flagged SIM (its most deviating)
REFERENCE_SIMS = 20_000        # reasons: SIMs not flagged that give the medians (a fixed sample)
OCCLUSION_MIN_ROWS = 12_000    # reasons: model evaluations allowed, at least (else SIMs / 8)
NO_CELLS_NOTE = ("no cell table (--cells): each site is one cell, its coordinates are unknown; "
                 "no map")
log = logging.getLogger("simbox.scan")


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
    deployment_hours: Mapping = field(default_factory=dict, repr=False)   # id -> 24 counts
    site_hours: Mapping = field(default_factory=dict, repr=False)         # site_id -> 24 counts
    baseline_hours: np.ndarray | None = field(default=None, repr=False)
    rejects_path: str | None = None
    out: Path | None = None
    scores: pd.DataFrame | None = field(default=None, repr=False)   # every SIM, SCORES_COLUMNS
    #: SIMs that would have been flagged but are excluded (exclusions, dismissed verdicts)
    excluded: pd.DataFrame | None = field(default=None, repr=False)
    #: (path) -> None: writes scores.csv when ``scores`` is None (an engine that streams it)
    write_scores: object = field(default=None, repr=False)

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
        if self.scores is not None:
            write_csv(self.scores, folder / "scores.csv")
        elif self.write_scores is not None:
            self.write_scores(folder / "scores.csv")
        if self.excluded is not None:
            write_csv(self.excluded, folder / "excluded.csv")
        if self.rejects_path and os.path.exists(self.rejects_path) and \
                Path(self.rejects_path).resolve() != (folder / "rejects.csv").resolve():
            shutil.copyfile(self.rejects_path, folder / "rejects.csv")
        if report:
            from simbox.report import render_report  # lazy: Jinja2 and matplotlib, only when a report is written
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
    if summary.get("excluded"):
        young = summary.get("held_young", 0)
        line += (f"; {summary['excluded']:,} excluded (excluded.csv"
                 + (f": {young:,} first seen within 48 h, held under the young-SIM threshold "
                    f"{summary['young_threshold']:.4f}" if young else "") + ")")
    if summary.get("top_site"):
        t = summary["top_site"]
        line += f"; first site {t['site_id']} ({t['n_sims']} SIMs)"
    kinds = summary.get("subscriber_key") or {}
    if set(kinds) - {"imsi"}:
        line += (f"; key column {summary.get('key_column', 'subscriber')}: "
                 + ", ".join(f"{n:,} {k}" for k, n in kinds.items()))
    for note in summary.get("notes", []):
        line += f"; {note}"
    if summary.get("timezone_source", "given") != "given":
        line += f"; time zone {summary.get('timezone')}: {summary['timezone_source']}"
    if summary.get("out") and summary.get("report", True):
        line += f"; report: {os.path.join(summary['out'], 'report.html')}"
    elif summary.get("out"):
        line += f"; output: {summary['out']}"
    return line


@dataclass
class Population:
    """What a scan takes of every SIM when the engine keeps them (Spark: simbox.spark.scan),
    the ``FeatureResult`` and predictions given to :func:`assemble` then holding the SIMs
    at or above the threshold only.  Each field is what :func:`assemble` computes from every
    SIM otherwise, equal to it."""

    sims: int                       # SIMs scanned
    reference: pd.DataFrame         # features of the reference SIMs (the sample, its order)
    reference_predictions: pd.DataFrame   # their predictions (the report's "others")
    outliers: dict                  # time_outliers() of every SIM (its mask: of none)
    baseline_hours: np.ndarray      # events per hour of day over every SIM
    cells: pd.DataFrame             # cell_id, events: every cell's events (its unknown cells)
    write_scores: object            # (path) -> None: scores.csv of every SIM


def time_outliers(sims: pd.DataFrame, key: str = IMSI_COLUMN, *, bulk=None) -> dict:
    """SIMs whose first or last event lies far from the bulk of the data.

    The bulk runs from the 10th percentile of the SIMs' first events to the 90th
    percentile of their last events; a SIM is an outlier when its first event is
    more than ``max(1 day, the bulk's length)`` before the bulk or its last event
    that much after it (one row dated 2199 in a week of CDRs).  Returns ``mask``
    (per SIM), ``end`` (the latest last event that is not an outlier: the scan's
    end for recency), ``start`` and, when any, ``summary`` (for summary.json)
    and ``message`` (the warning, naming an example by its ``key``: ``imsi`` or
    ``subscriber``).  ``bulk``: ``(lo, hi, start, end)`` computed elsewhere from every SIM
    (the 10th and 90th percentiles, the ``start`` and ``end`` of the SIMs that are not
    outliers), ``sims`` then holding the outliers only (:func:`time_bounds`).
    """
    first = pd.to_datetime(sims["first_seen"], utc=True)
    last = pd.to_datetime(sims["last_seen"], utc=True)
    if bulk is None and (len(sims) == 0 or last.isna().all()):
        return {"mask": np.zeros(len(sims), bool), "end": None, "start": None}
    lo, hi = (_quantile(first, 0.1), _quantile(last, 0.9)) if bulk is None else bulk[:2]
    early_limit, late_limit = time_bounds(lo, hi)
    mask = ((first < early_limit) | (last > late_limit)).fillna(False).to_numpy()
    out = {"mask": mask, "end": last[~mask].max(), "start": first[~mask].min()} if bulk is None \
        else {"mask": mask, "end": bulk[3], "start": bulk[2]}
    if mask.any():
        early = (lo - first).where(first < early_limit)
        late = (last - hi).where(last > late_limit)
        cand = pd.DataFrame({"d": pd.concat([early, late]), "t": pd.concat([first, last])}).dropna()
        worst = cand["d"].idxmax()
        when = cand["t"].to_numpy()[cand["d"].to_numpy().argmax()]
        out["summary"] = {"sims": int(mask.sum()), "bulk": [_iso(out["start"]), _iso(out["end"])],
                          "earliest": _iso(min(first[mask].min(), last[mask].min())),
                          "latest": _iso(max(first[mask].max(), last[mask].max())),
                          "examples": [str(i) for i in sims.index[mask][:3]]}
        out["message"] = (f"{int(mask.sum()):,} SIM(s) have events far outside the bulk of the "
                          f"data ({_iso(out['start'])} to {_iso(out['end'])}), e.g. "
                          f"{'IMSI' if key == IMSI_COLUMN else key} {worst} "
                          f"at {_iso(when)}; they do not move the scan's end: recency is measured "
                          f"to {_iso(out['end'])}")
    return out


def _quantile(times: pd.Series, q: float):
    """``times.quantile(q)`` (datetimes, NaT left out) from its two order statistics
    (:func:`sorted_quantile`), found by ``np.argpartition`` of the int64 values: no sort of
    100,000 times."""
    i8 = np.asarray(times.array.asi8) if hasattr(times.array, "asi8") else None
    if i8 is None:
        return times.quantile(q)
    ok = np.flatnonzero(i8 != np.iinfo(np.int64).min)          # (NaT: left out)
    if not len(ok):
        return times.quantile(q)
    values = i8[ok]

    def at(i, j):
        part = np.argpartition(values, [i, j])
        return times.iloc[ok[part[[i, j]]]]
    return sorted_quantile(len(ok), q, at)


def time_bounds(lo, hi) -> tuple:
    """``(earliest, latest)``: a SIM whose first event is before ``earliest`` or last event
    after ``latest`` is a time outlier (:func:`time_outliers`; ``lo``, ``hi``: the 10th
    percentile of the first events, the 90th of the last ones)."""
    tol = max(pd.Timedelta(days=1), hi - lo)
    return lo - tol, hi + tol


def sorted_quantile(n: int, q: float, at):
    """pandas' quantile ``q`` (linear) of ``n`` values from two of them: ``at(i, j)`` gives
    the ``i``-th and ``j``-th smallest (a Series; an engine that sorts elsewhere)."""
    virtual = (n - 1) * np.float64(q)
    i = int(np.floor(virtual))
    pair = at(i, min(i + 1, n - 1))
    return pair.quantile(float(virtual - i)) if i + 1 < n else pair.iloc[0]


def keyed(columns: list, key: str) -> list:
    """``columns`` (flagged.csv's or scores.csv's) with their ``imsi`` named ``key``
    (:func:`~simbox.fastpath.keys.key_column`: ``subscriber`` when some key is not an IMSI)."""
    return [key if c == IMSI_COLUMN else c for c in columns]


def _flag(predictions: pd.DataFrame, threshold: float | None, farms=None) -> pd.DataFrame:
    """The predictions with ``flagged`` at ``threshold`` (None: as given) and the SIMs of
    the device rule's ``farms`` (:func:`simbox.device_rule.farm_devices`) flagged as its
    class; a flagged SIM always has a fraud class (a SIM flagged under a lowered threshold
    takes the likelier fraud class).  On arrays: the classes by their codes
    (:func:`~simbox.deployments.factorized`), the class column made again from them only
    when a class changes (pandas' masked assignment into a text column: 6 ms for 100,000)."""
    p = predictions.copy()
    flagged = p["score"].to_numpy() >= threshold if threshold is not None else \
        p["flagged"].to_numpy().astype(bool)
    code, names = factorized(p["class"])
    names = list(names)

    def code_of(name):
        if name not in names:
            names.append(name)
        return names.index(name)
    fraud = np.isin(code, [i for i, c in enumerate(names) if c in FRAUD_CLASSES])
    wrong = flagged & ~fraud
    new = code.copy()
    if wrong.any() and "score_simbox" in p.columns and "score_cardfarm" in p.columns:
        likelier = p["score_simbox"].to_numpy()[wrong] >= p["score_cardfarm"].to_numpy()[wrong]
        new[wrong] = np.where(likelier, code_of("simbox"), code_of("cardfarm"))
    elif wrong.any():
        new[wrong] = code_of("simbox")
    if farms is not None and len(farms):
        rows = member(p.index, farms.index)
        flagged = flagged | rows
        new[rows] = code_of(device_rule.CLASS)
    p["flagged"] = flagged
    changed = new != code
    if changed.any():
        p["class"] = _class_column(p["class"], new, names, changed)
    return p


def flag_sims(res, predictions: pd.DataFrame, threshold: float | None,
              farms: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(by_model, preds)``: the predictions of ``res``' SIMs (in its key order) flagged at
    ``threshold`` by the model alone, then with the device rule's ``farms`` (:func:`_flag`);
    made once a scan for :func:`held_back` and :func:`assemble`."""
    by_model = _flag(predictions.reindex(keys_of(res)), threshold)
    return by_model, _flag(by_model, None, farms) if len(farms) else by_model


def keys_of(res) -> pd.Index:
    """The keys of a feature run, in order: ``FeatureResult.key_index`` (no DataFrame of the
    features made), else its features' index (a run given as tables)."""
    return res.key_index() if hasattr(res, "key_index") else res.features.index


def _class_column(column: pd.Series, code: np.ndarray, names: list, changed: np.ndarray):
    """``column`` with the classes ``names[code]`` where ``changed``, in its dtype: a text
    column taken from the names by code (code -1: missing), objects set where changed."""
    if isinstance(column.dtype, pd.StringDtype):
        return pd.array(names, dtype=column.dtype).take(code, allow_fill=True)
    values = column.to_numpy(dtype=object).copy()
    values[changed] = np.asarray(names, dtype=object)[code[changed]]
    return pd.Series(values, index=column.index, dtype=column.dtype, name=column.name)


def farm_devices(res) -> pd.DataFrame:
    """The device rule's SIMs of a feature run (:func:`simbox.device_rule.farm_devices`)."""
    return device_rule.farm_devices(res.features, res.sims, res.devices)


def assemble(res, predictions: pd.DataFrame, cells: pd.DataFrame, *, threshold: float | None = None,
             rules: LinkRules | None = None, score=None, summary: dict | None = None,
             exclude: pd.DataFrame | None = None, population: Population | None = None,
             farms: pd.DataFrame | None = None, grouping=None, flags: tuple | None = None,
             young_threshold: float | None = None) -> ScanResult:
    """The scan's tables from a ``FeatureResult`` and the model's predictions.

    ``cells`` comes from :func:`simbox.sites.load_cells`.  ``threshold`` (None:
    keep the predictions' ``flagged``) flags SIMs with ``score >= threshold``.
    ``score`` (the model's scoring function, DataFrame -> scores) lets the
    reasons follow what drove the model (:func:`simbox.reasons.occlusion_contributions`);
    without it they follow the deviation from the SIMs not flagged.
    ``exclude``: SIMs kept off the shutdown list (indexed by the key, with
    :data:`simbox.feedback.exclusions.EXCLUDED_COLUMNS`): a flagged one goes to
    ``ScanResult.excluded`` (and ``excluded.csv``) instead, in no deployment or site.
    ``population``: what is needed of every SIM, when ``res`` and ``predictions`` hold the
    SIMs at or above the threshold only (:class:`Population`).  ``farms``: the device
    rule's SIMs (:func:`farm_devices`; None: found here).  ``flags``: :func:`flag_sims` of
    these predictions, threshold and farms, when the caller has them (:func:`held_back` too).
    ``young_threshold``: the model's flags of SIMs first seen within 48 h of the scan's end
    and scored under it are held too (:func:`young_held`; None: none held).
    ``grouping``: what makes the deployments, sites and reasons (a callable with the
    arguments of :func:`group_tables`, default it; ``simbox watch`` gives one that
    carries over what a drop did not change: :mod:`simbox.watch.regroup`).
    """
    rules = rules or LinkRules()
    if farms is None:                            # the device rule (simbox/device_rule.py)
        farms = farm_devices(res)
    by_model, preds = flag_sims(res, predictions, threshold, farms) if flags is None else flags
    key = getattr(res, "key_column", IMSI_COLUMN)     # the key column's name in the outputs
    outliers = time_outliers(res.sims, key) if population is None else population.outliers
    scan_end = outliers["end"]
    if outliers.get("message"):
        log.warning("%s", outliers["message"])
    young = young_held(res, by_model, farms, scan_end, young_threshold)
    if young is not None:       # (an exclusion or a dismissal of the same SIM comes first)
        exclude = young if exclude is None else \
            pd.concat([exclude, young[~young.index.isin(exclude.index)]])
    would = preds["flagged"].to_numpy()          # flagged before the exclusions
    held = would & preds.index.isin(exclude.index) if exclude is not None and len(exclude) \
        else np.zeros(len(preds), bool)
    mask = would & ~held
    sims = res.sims.loc[mask].join(preds.loc[mask, ["class", "score"]])
    hours = np.asarray(res.hours)
    hours = hours if mask.all() else hours[mask]    # (all flagged: the rows as they are)
    sims, deployments, sites, reasons, reference, stats = (grouping or group_tables)(
        res, sims, hours, cells, rules=rules, scan_end=scan_end, key=key, would=would,
        score=score, explain=held.any(), population=population, farms=farms,
        by_model=by_model)
    per_row = ["subscriber_key"] if "subscriber_key" in res.sims else []   # the key's kind
    flagged = flagged_rows(res, preds, sims, reasons, key, deployments["deployment_id"],
                           np.flatnonzero(mask), per_row)
    excluded = None
    if exclude is not None:
        from simbox.feedback.exclusions import EXCLUDED_COLUMNS  # lazy: only with exclusions or a history
        ex_sims = res.sims.loc[held].join(preds.loc[held, ["class", "score"]])
        ex_reasons = reasons_table(res.features, ex_sims.index, contributions=None,
                                   reference=reference, stats=stats) if held.any() else []
        if len(farms) and held.any():
            ex_reasons = _rule_reasons(ex_reasons, farms, ex_sims.index)
        excluded = _sim_rows(res, preds, ex_sims, ex_reasons, key).join(
            exclude.reindex(ex_sims.index).reset_index(drop=True))
        excluded = excluded.sort_values(["score", key], ascending=[False, True], kind="stable")[
            keyed(FLAGGED_COLUMNS, key) + per_row + EXCLUDED_COLUMNS].reset_index(drop=True)

    scores = score_rows(preds, res.sims, key, per_row, res) if population is None else None

    # (the report's: summed when it asks)
    dep_hours = Lazy(partial(hours_by, hours, sims["deployment_id"]))
    site_hours = Lazy(partial(hours_by, hours, sims["main_site"].astype(str), sites["site_id"]))
    summary = dict(summary or {})
    # the flagged SIMs' classes and distinct devices counted on codes (the same SIMs as
    # flagged.csv's rows; value_counts and nunique leave missing ones out, as factorized)
    code, names = factorized(sims["class"])
    by_class = dict(zip(names.tolist(), np.bincount(code[code >= 0], minlength=len(names))))
    imeis = factorized(pairs_of(res.devices, sims.index)["imei"])[1]
    summary.update({
        "simbox_version": __version__,
        "threshold": None if threshold is None else round(float(threshold), 4),
        "sims": int(len(res.features) if population is None else population.sims),
        "flagged": int(mask.sum()),
        **({"excluded": int(held.sum())} if exclude is not None else {}),
        **({"held_young": int(member(preds.index[held], young.index).sum()),
            "young_threshold": round(float(young_threshold), 4)} if young is not None else {}),
        "flagged_by_class": {c: int(by_class[c]) for c in FRAUD_CLASSES if c in by_class},
        "deployments": int(len(deployments)),
        "sites": int(len(sites)),
        "devices": sum(str(i) != "" for i in imeis.tolist()),
        "unlocated_flagged": int((sims["main_site"].astype(str) == "").sum()),
        "first_seen": _iso(outliers["start"]),
        "last_seen": _iso(outliers["end"]),
        "time_outliers": outliers.get("summary", {"sims": 0}),
        "top_site": ({k: _plain(sites.iloc[0][k]) for k in ("site_id", "lat", "lon", "n_sims")}
                     if len(sites) else None),
    })
    if key != IMSI_COLUMN:           # (an IMSI-keyed summary stays as it was)
        summary["key_column"] = key
    ruled = farms.loc[member(farms.index, sims.index)] if len(farms) else farms
    if len(ruled):                   # (a summary without the rule firing stays as it was)
        summary["device_rule"] = device_rule.summary(ruled)
        summary["notes"] = list(summary.get("notes", [])) + [device_rule.note(ruled)]
    if population is None:
        features, baseline = res.features, np.asarray(res.hours).sum(axis=0)
    else:       # the report's "others": the reference SIMs
        features, baseline = pd.concat([res.features, reference]), population.baseline_hours
        preds = pd.concat([preds, population.reference_predictions.reindex(columns=preds.columns)])
    return ScanResult(flagged=flagged, deployments=deployments, sites=sites, summary=summary,
                      scores=scores, excluded=excluded, predictions=preds, features=features,
                      cells=cells, write_scores=None if population is None else
                      partial(population.write_scores, farms=farms if len(farms) else None),
                      deployment_hours=dep_hours,
                      site_hours=site_hours, baseline_hours=baseline)


def hours_by(hours: np.ndarray, group: pd.Series, only=None) -> dict:
    """The hour rows ``hours`` summed per value of ``group`` (aligned with them): value -> 24
    sums (:func:`~simbox.deployments.sum_rows`), in order of first appearance; ``only``: the
    values to keep, in their order (those of ``group``)."""
    code, names = factorized(group)
    sums = dict(zip(names, sum_rows(hours, code, len(names))))
    return sums if only is None else {s: sums[s] for s in only if s in sums}


class Lazy(Mapping):
    """A read-only mapping made by ``make()`` on first use (the report's hour sums: a scan
    without a report never sums them)."""

    def __init__(self, make):
        self._make, self._data = make, None

    def _mapping(self) -> dict:
        if self._data is None:
            self._data, self._make = self._make(), None
        return self._data

    def __getitem__(self, key):
        return self._mapping()[key]

    def __iter__(self):
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())


def flagged_rows(res, preds: pd.DataFrame, sims: pd.DataFrame, reasons, key: str,
                 ids: pd.Series, rows: np.ndarray, per_row: list) -> pd.DataFrame:
    """The table of ``flagged.csv``: :func:`_sim_rows` of the flagged SIMs ``sims`` in
    :func:`by_deployment` order (deployments in the order of ``ids``), :data:`FLAGGED_COLUMNS`
    and ``per_row``.  ``rows``: the positions of ``sims`` in ``res.features`` (and in
    ``preds``, aligned with it).  Built column by column: the order found once from the
    deployments' ranks and the scores (the keys are in order in the feature table), each
    column taken once in that order, one DataFrame made of them (no join, sort or take of
    a 22-column table); other inputs go through :func:`_sim_rows` and :func:`by_deployment`."""
    index = res.features.index
    if not (len(sims) == len(rows) > 0 and sims["score"].dtype.kind == "f" and
            index.is_monotonic_increasing and same_keys(preds.index, index) and
            (reasons is None or len(reasons) == 0 or reasons.index.equals(sims.index)) and
            np.array_equal(sims.index.to_numpy(), index.to_numpy()[rows])):
        out = by_deployment(_sim_rows(res, preds, sims, reasons, key), ids, key)
        return out[keyed(FLAGGED_COLUMNS, key) + per_row].reset_index(drop=True)
    code, names = factorized(sims["deployment_id"])
    ids = pd.Index(ids)
    if ids.is_unique:
        rank = ids.get_indexer(names)
    else:                                       # (the first of equal ids, as a dict keeps it)
        first = {d: i for i, d in enumerate(ids)}
        rank = np.array([first.get(d, -1) for d in names], dtype=np.int64)
    r = np.where(rank < 0, np.inf, rank.astype(np.float64))
    r = np.append(r, np.inf)[code]                           # (code -1, no deployment: last)
    score = np.round(sims["score"].to_numpy(), 4)      # (sorted as written: rounded)
    order = np.lexsort((-score, r))              # by deployment rank, score (NaN last), key
    at = rows[order]                             # the rows of res.features in that order
    counts = [c for c in ("n_moc", "n_mtc", "n_sms_mo", "n_sms_mt", "n_data")
              if c in res.features.columns]
    reasons = reasons.to_numpy(dtype=object)[order] if reasons is not None and len(reasons) \
        else np.full(len(order), np.nan, dtype=object)
    cols = {key: key_texts(res).take(at),
            "class": sims["class"].array.take(order),
            "score": score[order],
            "deployment_id": sims["deployment_id"].array.take(order),
            "reasons": reasons,
            **{c: res.features[c].to_numpy()[at] for c in counts},
            **{c: preds[c].to_numpy()[at] for c in ("score_simbox", "score_cardfarm")
               if c in preds.columns}}
    given = {"imei": "main_imei"}
    for c in keyed(FLAGGED_COLUMNS, key) + per_row:
        source = given.get(c, c)
        if c not in cols and source in res.sims.columns:
            cols[c] = res.sims[source].array.take(at)
    n = len(at)
    # (each column keeps its dtype: an object column is not made texts; copy=False: the
    # columns as they are, not consolidated into 2-d blocks by dtype, a copy of each)
    return pd.DataFrame({c: pd.Series(cols[c], dtype=cols[c].dtype, copy=False) if c in cols
                         else np.full(n, np.nan) for c in keyed(FLAGGED_COLUMNS, key) + per_row},
                        copy=False)


def key_texts(res):
    """The keys of a feature run (``res.features.index``, objects) as pandas' ``str`` array, as
    a column of them becomes: converted once a run (``flagged.csv`` and ``scores.csv`` both take
    them; the last run's kept)."""
    index = res.features.index
    last = _KEY_TEXTS[0]
    if last is not None and last[0] is index:
        return last[1]
    texts = pd.array(index.to_numpy(dtype=object), dtype="str")
    _KEY_TEXTS[0] = (index, texts)
    return texts


_KEY_TEXTS: list = [None]        # (a run's key index, its keys as texts): key_texts' last


def score_rows(preds: pd.DataFrame, sims: pd.DataFrame, key: str, per_row: list,
               res=None) -> pd.DataFrame:
    """:func:`scores_table`, column by column when the predictions' keys are those of
    ``sims`` in order (the feature table's): one stable sort of the scores, each column
    taken once in that order, rounded, one DataFrame made of them (``res``: the feature
    run, whose keys are taken as texts, :func:`key_texts`)."""
    index = preds.index
    if not (len(preds) and "msisdn" in sims.columns and preds["score"].dtype.kind == "f" and
            index.is_monotonic_increasing and same_keys(index, sims.index)):
        return scores_table(preds, sims, key, per_row)
    score = preds["score"].to_numpy()
    order = np.argsort(-score, kind="stable")
    cols = {key: key_texts(res).take(order) if res is not None else index.to_numpy()[order]}
    for c in keyed(SCORES_COLUMNS, key)[1:] + per_row:
        if c in ("msisdn", "subscriber_key"):       # (the SIMs' own, as scores_table takes them)
            v = sims[c]
        elif c in preds.columns:
            v = preds[c]
        elif c in sims.columns:
            v = sims[c]
        else:
            cols[c] = np.full(len(order), np.nan)
            continue
        if c in ("score", "score_simbox", "score_cardfarm", "score_legit") and \
                v.dtype.kind in "fiub":
            cols[c] = np.round(v.to_numpy(dtype=np.float64)[order], 4)
        elif c in ("score", "score_simbox", "score_cardfarm", "score_legit"):
            cols[c] = pd.to_numeric(v.take(order), errors="coerce").round(4).to_numpy()
        else:
            cols[c] = v.array.take(order)
    return pd.DataFrame(cols, copy=False)        # (the columns as they are: no 2-d blocks)


def by_deployment(flagged: pd.DataFrame, ids: pd.Series, key: str) -> pd.DataFrame:
    """The rows of ``flagged`` in the order of their deployment in ``ids`` (those in none
    last), then by ``score``, highest first (NaN last), then by ``key``.  Rows already in
    key order (the feature table's): one stable ``np.lexsort`` of the ranks and scores gives
    that order, without sorting the keys (texts) again."""
    rank = {d: i for i, d in enumerate(ids)}
    if flagged["score"].dtype.kind == "f" and flagged[key].is_monotonic_increasing:
        r = pd.Index(ids).get_indexer(flagged["deployment_id"]) if pd.Index(ids).is_unique \
            else flagged["deployment_id"].map(rank).fillna(-1).to_numpy(dtype=np.int64)
        r = np.where(r < 0, np.inf, r.astype(np.float64))            # in none: last
        return flagged.take(np.lexsort((-flagged["score"].to_numpy(), r)))
    return flagged.assign(_r=flagged["deployment_id"].map(rank)) \
        .sort_values(["_r", "score", key], ascending=[True, False, True], kind="stable")


def _rule_reasons(reasons: pd.Series, farms: pd.DataFrame, index: pd.Index) -> pd.Series:
    """The reasons of the SIMs ``index``: the device rule's first for the SIMs of ``farms``,
    then those of ``reasons`` (the model's, of the SIMs it flagged), joined as one list."""
    rule = device_rule.reason_text(farms)
    pos = np.arange(len(index)) if same_keys(rule.index, index) else rule.index.get_indexer(index)
    on = pos >= 0
    model = reasons.reindex(index).to_numpy(dtype=object) if len(reasons) else \
        np.full(len(index), None, dtype=object)
    has = np.array([isinstance(m, str) and m != "" for m in model], dtype=bool) if len(reasons) \
        else np.zeros(len(index), dtype=bool)        # (a farm alone: no SIM the model flagged)
    out = np.where(has, model, "").astype(object)
    text = rule.to_numpy(dtype=object)
    out[on] = text[pos[on]]
    both = np.flatnonzero(on & has)
    out[both] = [f"{a}, {b}" for a, b in zip(text[pos[both]], model[both])]
    return pd.Series(out, index=index, name="reasons", dtype=object)


def group_tables(res, sims: pd.DataFrame, hours: np.ndarray, cells: pd.DataFrame, *,
                 rules: LinkRules, scan_end, key: str, would: np.ndarray, score=None,
                 explain: bool = False, population: Population | None = None,
                 farms: pd.DataFrame | None = None, by_model: pd.DataFrame | None = None
                 ) -> tuple:
    """``(sims, deployments, sites, reasons, reference, stats)`` of the flagged SIMs
    ``sims`` (``res.sims`` rows with ``class`` and ``score``; ``hours`` their hour rows):
    grouped into deployments (``sims`` gains ``deployment_id``; one deployment per
    device of ``farms``, the device rule's SIMs), located on sites and explained
    (:func:`_reasons` for the SIMs the model flagged, ``by_model``, the rule's wording for
    the others; ``would``: the mask of ``res.features`` flagged before the exclusions).
    The reasons are made in a thread while this one groups and locates: their kernels
    (the model's trees, the picking) and numpy's large operations run without the GIL."""
    with_farms = farms is not None and len(farms) > 0
    model_only = None
    if with_farms:
        model_only = ~member(sims.index, farms.index) | \
            _aligned(by_model["flagged"], sims.index).to_numpy(dtype=bool)
    res.features    # noqa: B018  (built here, before the reasons' thread reads it)
    explained = Background(partial(_reasons, res, sims if model_only is None else sims[model_only],
                                   would, score, explain=explain, population=population),
                           name="simbox-reasons")
    device = factorized(_aligned(farms["imei"], sims.index))[0] if with_farms else None
    devices, cell_events = pairs_of(res.devices, sims.index), pairs_of(res.cells, sims.index)
    labels, counts = group_sims(sims, hours, devices, rules, fixed=device)
    locations = locate(pd.Series(labels, index=sims.index), cell_events, cells)
    deployments, per_sim = deployment_table(sims, labels, hours, devices, counts, locations,
                                            scan_end=scan_end)
    if key != IMSI_COLUMN and len(deployments):    # the "imsi block" links compared the keys
        deployments["linked_by"] = deployments["linked_by"].str.replace(
            "imsi block", SUBSCRIBER_BLOCK, regex=False)
    sims = sims.assign(deployment_id=per_sim)
    sites = site_table(sims, hours, devices, cell_events, cells, deployments,
                       located=by_deployment_id(locations, labels, per_sim))
    reasons, reference, stats = explained.get()
    if with_farms:
        reasons = _rule_reasons(reasons, farms, sims.index)
    return sims, deployments, sites, reasons, reference, stats


def _aligned(values: pd.Series, index: pd.Index) -> pd.Series:
    """``values.reindex(index)``'s values, without a lookup of each key when ``values``
    holds the keys of ``index`` in its order (the device rule's SIMs, every SIM flagged)."""
    return values if same_keys(values.index, index) else values.reindex(index)


def by_deployment_id(locations: pd.DataFrame, labels: np.ndarray, per_sim: pd.Series
                     ) -> pd.DataFrame | None:
    """:func:`~simbox.sites.locate`'s rows of the deployments (indexed by component
    ``labels``) indexed by deployment id (``per_sim``: each SIM's, aligned with ``labels``)."""
    if locations is None or not len(locations):
        return None
    comps, first = unique_ints(np.asarray(labels, dtype=np.int64), return_index=True)
    ids = pd.Series(np.asarray(per_sim.array.take(first), dtype=object), index=comps)
    return locations.set_axis(pd.Index(ids.reindex(locations.index).to_numpy(), dtype=object))


def scores_table(preds: pd.DataFrame, sims: pd.DataFrame, key: str, per_row: list) -> pd.DataFrame:
    """The rows of ``scores.csv`` (:data:`SCORES_COLUMNS`): the predictions ``preds`` of SIMs of
    ``sims`` (their ``msisdn`` and ``subscriber_key``), best score first, ties by key."""
    scores = preds.assign(msisdn=sims["msisdn"].reindex(preds.index)) if "msisdn" in sims \
        else preds.assign(msisdn="")
    if per_row:
        scores["subscriber_key"] = sims["subscriber_key"].reindex(preds.index)
    scores.index.name = key
    scores = scores.reset_index()
    for c in keyed(SCORES_COLUMNS, key):
        if c not in scores.columns:
            scores[c] = np.nan
    scores = by_score(scores[keyed(SCORES_COLUMNS, key) + per_row], key)
    for c in ("score", "score_simbox", "score_cardfarm", "score_legit"):
        scores[c] = pd.to_numeric(scores[c], errors="coerce").round(4)
    return scores


def by_score(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """``df`` sorted by ``score``, highest first (NaN last), then by ``key``; index reset.
    The feature table's keys are in order already: then one stable sort of the scores
    gives that order, without sorting the keys (texts) again."""
    score = df["score"].to_numpy()
    if score.dtype.kind == "f" and df[key].is_monotonic_increasing:
        return df.take(np.argsort(-score, kind="stable")).reset_index(drop=True)
    return df.sort_values(["score", key], ascending=[False, True], kind="stable") \
        .reset_index(drop=True)


def _reasons(res, sims: pd.DataFrame, would: np.ndarray, score, explain: bool = False,
             population=None):
    """``(reasons, reference, stats)``: the reasons of the flagged SIMs ``sims`` (see
    :func:`assemble`), the reference SIMs (those not flagged, at most
    :data:`REFERENCE_SIMS`; ``population.reference`` on the Spark engine) and their
    :func:`~simbox.reasons.reference_stats`.  With no SIM flagged, and ``explain`` false
    (no SIM held back either), no statistics: the reasons are an empty Series, the
    reference None (the population's on Spark) and the stats None."""
    if len(sims) == 0 and not explain:
        return (pd.Series([], index=pd.Index(sims.index), name="reasons", dtype=object),
                None if population is None else population.reference, None)
    if population is not None:
        reference = population.reference
    else:
        reference = res.features.loc[~would] if (~would).any() else res.features
        if len(reference) > REFERENCE_SIMS:     # medians and spreads: a fixed sample is enough
            reference = reference.sample(REFERENCE_SIMS, random_state=0)
    n_sims = len(res.features) if population is None else population.sims
    stats = reference_stats(reference)       # once, for the contributions and the reasons
    by_score = sims["score"].sort_values(ascending=False, kind="stable")
    contributions = None if score is None else occlusion_contributions(
        score, res.features, by_score.index, reference, candidates=OCCLUDED_FEATURES,
        budget_rows=max(OCCLUSION_MIN_ROWS, n_sims // 8), base=by_score.to_numpy(),
        stats=stats, only_occluded=True)
    reasons = reasons_table(res.features, sims.index, contributions=contributions,
                            reference=reference, stats=stats)
    return reasons, reference, stats


def _sim_rows(res, preds: pd.DataFrame, sims: pd.DataFrame, reasons, key: str) -> pd.DataFrame:
    """The rows of ``flagged.csv`` (or ``excluded.csv``) of the SIMs of ``sims`` (indexed by
    the key, with ``class`` and ``score`` joined): counts, class scores, reasons, the key
    column named ``key``, every column of :data:`FLAGGED_COLUMNS` present."""
    counts_cols = [c for c in ("n_moc", "n_mtc", "n_sms_mo", "n_sms_mt", "n_data")
                   if c in res.features.columns]
    rows = sims.join(res.features.loc[sims.index, counts_cols]).join(
        preds.loc[sims.index, [c for c in ("score_simbox", "score_cardfarm") if c in preds.columns]])
    rows = rows.assign(reasons=reasons, imei=sims["main_imei"])
    rows.index.name = key
    rows = rows.reset_index()
    for c in keyed(FLAGGED_COLUMNS, key):
        if c not in rows.columns:
            rows[c] = np.nan
    rows["score"] = rows["score"].round(4)
    return rows


def _iso(t) -> str | None:
    if t is None or pd.isna(t):
        return None
    t = pd.Timestamp(t)
    t = t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(v):
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and np.isnan(v) else v


def load_model(model, *, key=None, trust_pickle: bool = False):
    """``(model, name)`` from a model folder, a loaded Model, or None (the shipped default);
    ``key`` (signing key bytes or key file) and ``trust_pickle``: see
    :meth:`simbox.training.model.Model.load`."""
    if model is None:
        if not (DEFAULT_MODEL / "model.json").exists():
            raise ModelError(f"{DEFAULT_MODEL}: this install has no default model; give a model "
                             "folder with --model (simbox train makes one)")
        # the shipped model is unsigned, so a key applies to given folders only
        return load_scorer(DEFAULT_MODEL, trust_pickle=trust_pickle), "default"
    if isinstance(model, (str, os.PathLike)):
        return load_scorer(model, key=key, trust_pickle=trust_pickle), os.fspath(model)
    if hasattr(model, "predict") and hasattr(model, "threshold"):
        return model, type(model).__name__
    raise ConfigError(f"model must be a model folder or a Model, not {type(model).__name__}")


def threshold_for_target(model, target_precision: float) -> float:
    """The threshold reaching the target precision on the model's validation curve.

    The curve is ``card["threshold"]["curve"]``: ``[[threshold, precision, recall], ...]``;
    the choice is the model's own rule (:func:`simbox.training.threshold.pick_on_curve`
    with the card's ``threshold.recall_slack``), raised to the card's ``group_floor`` (no legit
    group of the simulated knowledge over the model's ``max_group_fpr``).
    """
    curve = (getattr(model, "card", None) or {}).get("threshold", {}).get("curve")
    if not curve:
        raise ModelError("this model records no precision curve (model.json threshold.curve), so "
                         "--target-precision cannot be used with it; give --threshold instead")
    slack = float(model.card["threshold"].get("recall_slack") or 0.0)
    t = pick_on_curve(curve, target_precision, slack)
    if t is None:
        best = max(float(p) for _, p, *_ in curve if p is not None)
        raise ConfigError(f"no threshold reaches precision {target_precision} on this model's "
                          f"validation curve (best {best:.4f}); lower --target-precision")
    floor = model.card["threshold"].get("group_floor")
    return max(t, float(floor)) if floor is not None else t


def _check_options(threshold, target_precision):
    if threshold is not None and target_precision is not None:
        raise ConfigError("give --threshold or --target-precision, not both")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be within [0, 1], not {threshold}")
    if target_precision is not None and not 0.0 < target_precision < 1.0:
        raise ConfigError(f"target precision must be within (0, 1), not {target_precision}")


def _unknown_cells(res, cells: pd.DataFrame) -> dict:
    """Cells of the events missing from ``cells.csv``: tested once per distinct cell id,
    not per SIM-cell pair."""
    ev = res.cells
    if isinstance(ev["cell_id"].dtype, pd.CategoricalDtype):    # the codes: no hashing of rows
        code = ev["cell_id"].cat.codes.to_numpy().astype(np.int64)
        used = np.bincount(code[code >= 0], minlength=len(ev["cell_id"].cat.categories)) > 0
        ids = pd.Index(ev["cell_id"].cat.categories[used]).astype(str)
        code = np.cumsum(used)[np.maximum(code, 0)] - 1 if len(code) else code
        code[ev["cell_id"].cat.codes.to_numpy() < 0] = -1
    else:
        code, ids = pd.factorize(ev["cell_id"])
        ids = pd.Index(ids).astype(str)
    known = np.asarray(ids.isin(cells.index), dtype=bool)
    events = np.bincount(code[code >= 0], weights=ev["events"].to_numpy(dtype=float)[code >= 0],
                         minlength=len(ids))
    return {"cells": int((~known).sum()),
            "events": int(round(events[~known].sum())),
            "known_cells": int(known.sum()),
            "examples": sorted(ids[~known].tolist())[:3]}


def scan(inputs, *, cells=None, tac=None, model=None, threshold: float | None = None,
         target_precision: float | None = None, columns="canonical", timezone: str | None = None,
         on_bad_records: str = "skip", allow_missing_cells: bool = False, memory_limit="1GB",
         workers: int = 2, link_rules: LinkRules | None = None, out=None, report: bool = True,
         signaling=(), progress=None, rejects=None,
         max_reject_share: float | None = MAX_REJECT_SHARE, model_key=None,
         trust_pickle: bool = False, exclude=None, history=None,
         dismiss_margin: float | None = None, probe_numbers=None, time_from=None,
         time_to=None, engine: str = "local", spark_master: str | None = None,
         young_hold: bool = True, features_ahead=None) -> ScanResult:
    """Scan CDR files: the shutdown list, the deployments and the sites.

    ``signaling``: signaling captures (pcap/pcapng) whose attach events join the CDRs
    (see docs/input-formats-signaling.md); ``inputs`` may then be empty.
    ``cells``: ``cells.csv`` path or DataFrame, or None: then every cell is its own
    site, without coordinates (the site files say so; the report has no map).
    ``model``: a model folder or a loaded Model (None: the shipped default);
    ``threshold`` / ``target_precision`` override its operating threshold.
    ``timezone``: the network's local time (None: the model's, with a warning).  CDR cells
    missing from the cell table are an error (a site list would silently lose
    them) unless ``allow_missing_cells``: then they are counted and warned about
    and their SIMs are located from their other cells.  With ``out`` every file is written
    there atomically (rejected records in ``rejects.csv``, or in ``rejects``).
    ``model_key``: the model folder must be signed with this key (bytes or a key
    file); ``trust_pickle``: also load a model folder of an older simbox (a pickle).
    ``exclude``: an exclusions file (or :class:`~simbox.feedback.exclusions.Exclusions`):
    SIMs it covers go to ``excluded.csv`` instead of the shutdown list.  ``history``: the
    history store (None: the default one, :func:`~simbox.feedback.history.default_history_path`;
    a path or a :class:`~simbox.feedback.history.HistoryStore`; False: none): the scan is
    recorded there, ``flagged.csv`` gets ``first_flagged`` and ``status``, and SIMs an analyst
    dismissed stay off the list unless their score rose by ``dismiss_margin`` (default
    :data:`~simbox.feedback.history.DISMISS_MARGIN`).  See docs/feedback.md.
    ``engine``: ``local`` or ``spark`` (``spark_master``: its master; see docs/spark.md).
    ``young_hold``: at the model's operating threshold, its flags of SIMs first seen within
    48 h of the scan's end and scored under the card's young-SIM threshold go to
    ``excluded.csv``, not the shutdown list (:func:`young_held`; a given ``threshold`` or
    ``target_precision`` holds none).
    ``features_ahead``: the feature run already started by the command
    (:class:`simbox.features_ahead.FeaturesAhead`), taken when it has these options.
    The other options are those of :func:`simbox.features.compute_features`.
    """
    t0 = _T0[0] = time.monotonic()
    progress = as_progress(progress)
    _check_options(threshold, target_precision)
    # checked once: the feature run takes the checked cells as they are (local engine)
    cell_table, checked = checked_cells(cells) if cells is not None else (no_cells(), None)
    feedback = open_feedback(exclude, history, dismiss_margin)
    card = _peek_card(model, trust_pickle)
    if card is None:      # a loaded Model, or a folder that will not load: say why at once
        mdl, model_name = load_model(model, key=model_key, trust_pickle=trust_pickle)
    else:                 # load it (and import scikit-learn) while the features are computed
        model_name = "default" if model is None else os.fspath(model)
        mdl = ModelLoading(card, lambda: load_model(model, key=model_key,
                                                    trust_pickle=trust_pickle)[0])
    if target_precision is not None:
        threshold = threshold_for_target(mdl, target_precision)
        source = f"set for precision {target_precision} on the model's validation curve"
    elif threshold is not None:
        source = "given"
    else:
        threshold = mdl.threshold
        source = "the model's operating threshold"
    if threshold is None or not np.isfinite(threshold):
        raise ModelError(f"{model_name}: the model has no usable operating threshold "
                         f"({threshold}); give --threshold")
    tz, tz_source = model_timezone(timezone, mdl, model_name)
    run = dict(engine=check_engine(engine), spark_master=spark_master,
               model=mdl, model_name=model_name, threshold=threshold, source=source,
               young_hold=young_hold and source == "the model's operating threshold",
               allow_missing_cells=allow_missing_cells, link_rules=link_rules, progress=progress, started=t0,
               located=cells is not None, timezone_source=tz_source, feedback=feedback,
               checked_cells=checked,
               features=dict(tac=tac, columns=columns, timezone=tz, memory_limit=memory_limit,
                             workers=workers, on_bad_records=on_bad_records, progress=progress,
                             signaling=signaling, max_reject_share=max_reject_share,
                             time_from=time_from, time_to=time_to,
                             **({"probe_numbers": probe_numbers} if probe_numbers else {})))
    if features_ahead is not None and (run["engine"] != "local" or not features_ahead.matches(
            [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs),
            dict(run["features"], cells=cells))):
        features_ahead = None
    run["features_ahead"] = features_ahead
    try:
        if out is None:
            return _scan(inputs, cell_table, rejects=rejects, **run)
        with atomic_folder(out) as tmp:
            feedback["out"] = out
            result = _scan(inputs, cell_table, rejects=rejects or tmp / "rejects.csv", **run)
            result.summary["out"] = os.fspath(out)
            result.summary["report"] = bool(report)
            _stage(progress, "writing outputs", f"into {tmp}")
            result.write_into(tmp, report=report)
            if feedback["store"] is not None:     # the flags' insert, run beside the writing
                feedback["store"].finish()
    finally:
        if feedback["store"] is not None and feedback["own_store"]:
            feedback["store"].close()
    result.out = Path(out)
    progress.finish()
    return result


def open_feedback(exclude, history, dismiss_margin) -> dict:
    """The exclusions and the history store of a scan, opened before the work starts (a
    bad file fails at once)."""
    from simbox.feedback.exclusions import Exclusions, read_exclusions  # lazy: feedback only
    from simbox.feedback.history import DISMISS_MARGIN, HistoryStore, open_history  # lazy: sqlite3
    margin = DISMISS_MARGIN if dismiss_margin is None else float(dismiss_margin)
    if not 0.0 <= margin <= 1.0:
        raise ConfigError(f"dismiss margin must be within [0, 1], not {margin}")
    exclusions = exclude if exclude is None or isinstance(exclude, Exclusions) else \
        read_exclusions(exclude)
    return {"exclusions": exclusions, "store": open_history(history), "margin": margin,
            "own_store": not isinstance(history, HistoryStore), "out": None}


def young_held(res, by_model: pd.DataFrame, farms: pd.DataFrame, end, young_threshold: float,
               hours: float = YOUNG_HOURS) -> pd.DataFrame | None:
    """The model's flags kept off the shutdown list for being young: SIMs flagged as SIM boxes
    (an office dials out like one; none looks like a card farm) first seen at most
    ``hours`` before the scan's ``end`` whose score is under the model card's young-SIM
    threshold ``young_threshold`` (:func:`simbox.training.young.young_threshold_of`), when an
    office may be there: it, or a SIM on a device of its kind that started at its site
    within 12 h of it, was called by a number it had not called
    (:func:`simbox.watch.policy.office_evidence_of`).  An office that opened a day ago
    (agents in desk gateways or call centres dialling fresh numbers) scores like a new SIM
    box, but its customers call in; a new SIM box is called by nobody but the people it
    called.  At the young threshold the young rows of the training worlds reach the target
    precision.  This is ``simbox watch``'s young hold (``young_hold="office"``,
    ``office_peers="like"``, without the calls of the SIMs' own groups: a SIM box whose
    SIMs call each other may be held).  The device rule's SIMs are not held.  ``by_model``: the
    predictions flagged by the model (:func:`flag_sims`' first).  Returns the rows of
    :data:`simbox.feedback.exclusions.EXCLUDED_COLUMNS` (``excluded_by`` ``young``, the
    time it stops being young as its expiry), None when none is held."""
    if young_threshold is None or end is None or pd.isna(end):
        return None
    score = by_model["score"].to_numpy(float)
    cand = by_model["flagged"].to_numpy(bool) & (score < float(young_threshold))
    if cand.any():
        cand &= by_model["class"].to_numpy() == "simbox"
    if cand.any() and len(farms):
        cand &= ~member(by_model.index, farms.index)
    if not cand.any():
        return None
    first = np.asarray(res.columns["first_seen"] if hasattr(res, "columns") else
                       res.features["first_seen"].reindex(by_model.index), dtype=float)
    end_s = pd.Timestamp(end).timestamp()
    rows = np.flatnonzero(cand & young_mask(first, end_s, hours))
    if len(rows):
        from simbox.watch.policy import office_evidence_of  # lazy: only with young flags
        rows = rows[office_evidence_of(res, by_model.index[rows])]
    if not len(rows):
        return None
    first, score = first[rows], score[rows]
    age_h = (end_s - first) / 3600.0
    until = pd.to_datetime(first + hours * 3600.0, unit="s", utc=True).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame({
        "excluded_by": "young",
        "exclusion_reason": [f"first seen {a:.0f} h before the scan's end and called by "
                             f"people (it or a SIM that started beside it): score {s:.4f} is "
                             f"under the young-SIM threshold {young_threshold:.4f} (an office "
                             f"that just opened scores like a new SIM box); scan again when "
                             f"it is older" for a, s in zip(age_h, score)],
        "exclusion_owner": "simbox", "exclusion_expires": list(until),
        "exclusion_line": pd.Series([np.nan] * len(rows), dtype=object,
                                    index=by_model.index[rows])},
        index=by_model.index[rows])


def held_back(res, predictions, threshold, feedback, summary, farms=None,
              flagged: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """The flagged SIMs kept off the shutdown list: those an exclusion covers (each
    expired exclusion warned about), then those an analyst dismissed (history).
    ``flagged``: the predictions flagged with the device rule (:func:`flag_sims`' second),
    when the caller has them."""
    exclusions, store = feedback["exclusions"], feedback["store"]
    if exclusions is None and store is None:
        return None
    from simbox.feedback.exclusions import hits_per_line, match_exclusions  # lazy: as open_feedback
    if flagged is None:
        flagged = _flag(predictions.reindex(keys_of(res)), threshold,
                        farm_devices(res) if farms is None else farms)
    cand = flagged.index[flagged["flagged"].to_numpy()]
    parts = []
    if exclusions is not None:
        sims = res.sims.reindex(cand)
        sims = pd.DataFrame({"msisdn": sims["msisdn"] if "msisdn" in sims else "",
                             "imei": sims.get("main_imei", "")}, index=cand)
        matched = match_exclusions(sims, exclusions, res.devices)
        summary["exclusions"] = exclusions.summary(hits_per_line(matched))
        for e in exclusions.expired:
            log.warning("%s:%d: exclusion %s (%s, owner %s) expired on %s: it no longer applies",
                        exclusions.source, e.line, e.label, e.reason, e.owner, e.expires)
        parts.append(matched)
    if store is not None:
        # (every SIM flagged: the column as it is, no lookup of each key)
        scores = flagged["score"] if len(cand) == len(flagged) else flagged.loc[cand, "score"]
        dismissed = store.dismissed(scores, margin=feedback["margin"])
        if parts:
            dismissed = dismissed[~dismissed.index.isin(parts[0].index)]
        parts.append(dismissed)
    return pd.concat(parts) if len(parts) > 1 else parts[0]


def no_cells() -> pd.DataFrame:
    """The cell table of a scan without one: no cell, so no coordinates."""
    return pd.DataFrame({"site_id": pd.Series(dtype=object), "lat": pd.Series(dtype=float),
                         "lon": pd.Series(dtype=float)},
                        index=pd.Index([], name="cell_id", dtype=object))


def _peek_card(model, trust_pickle: bool) -> dict | None:
    """The card of a model folder that looks loadable (read as JSON, nothing checked), else None."""
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return None
    if model is None:
        folder = DEFAULT_MODEL
    else:
        folder = Path(model)
    try:
        card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = card.get("files") if isinstance(card, dict) else None
    if not isinstance(files, dict) or not isinstance(card.get("threshold", {}), dict):
        return None
    if "model.skops" not in files and not (trust_pickle and "model.joblib" in files):
        return None
    return card


class ModelLoading(Background):
    """A model folder loading in a thread (its card already read): :meth:`get` waits
    for the model, or raises what loading raised.  A scan starts it before the
    features, which then hide the import of scikit-learn and the load."""

    def __init__(self, card: dict, load):
        self.card = card
        self.threshold = card.get("threshold", {}).get("value")
        super().__init__(load, "simbox-model-load")


def _stage(progress, label: str, detail: str = "", **bar) -> None:
    """A new stage: logged (seen with -v, also without a terminal) and shown on the bar."""
    log.info("%s%s (%.1fs)", label, f": {detail}" if detail else "", time.monotonic() - _T0[0])
    progress.stage(label, **bar)


_T0 = [time.monotonic()]


def _scan(inputs, cell_table, *, engine, spark_master, model, model_name, threshold, source,
          young_hold, allow_missing_cells, link_rules, progress, started, features, rejects, located=True,
          timezone_source="given", feedback=None, checked_cells=None, features_ahead=None):
    """Features, scores, tables: the work of :func:`scan` (``features``: options of
    :func:`simbox.features.compute_features`)."""
    if isinstance(inputs, (str, os.PathLike)) or hasattr(inputs, "sparkSession"):
        inputs = [inputs]           # a path, or a Spark DataFrame (engine spark)
    inputs = list(inputs)
    if not inputs and not features.get("signaling"):
        raise EmptyInputError("no CDR input given (and no signaling capture)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if features_ahead is not None:       # started by the command (simbox.features_ahead)
            res = features_ahead.get()
        else:
            res = compute(engine, inputs, cells=None if not located else checked_cells
                          if engine == "local" and checked_cells is not None else
                          cell_table.reset_index(),
                          rejects=rejects, spark_master=spark_master, **features,
                          **({"in_spark": True} if engine == "spark" else {}))
    if features_ahead is not None:
        caught = features_ahead.warnings + list(caught)
        rejects = features_ahead.rejects
    population = None
    if engine == "spark":       # scored in Spark; the driver takes the flagged SIMs only
        from simbox.spark.scan import scored  # lazy: pyspark
        if isinstance(model, ModelLoading):
            model = model.get()
        _stage(progress, "scoring in Spark")
        res, predictions, population = scored(res, model, threshold, reference=REFERENCE_SIMS)
    for w in caught:   # one line each; cells missing from the table are said once, below
        if "not in cells.csv" not in str(w.message):
            log.warning("%s", w.message)
    n_sims = res.shape[0] if population is None else population.sims
    if n_sims == 0:
        raise EmptyInputError(f"no usable CDR record in the input ({res.stats.summary()}); "
                              "nothing to scan")
    nothing = {"cells": 0, "events": 0, "known_cells": 0, "examples": []}
    if population is None:
        # the SIMs' tables (FeatureResult.sims, .cells: pandas) built beside the scoring,
        # whose kernels release the GIL; their cells checked there too
        check = Background(lambda: _unknown_cells(res, cell_table) if located else
                           (res.sims, nothing)[1], "simbox-scan-tables")
        if isinstance(model, ModelLoading):
            model = model.get()
        _stage(progress, "scoring", f"{n_sims:,} SIMs", total=n_sims, unit="SIMs")
        predictions = model.predict(features_of(model, res), threshold=threshold)
        progress(n_sims)
        unknown = check.get()
    else:
        unknown = _unknown_cells(population, cell_table) if located else nothing
    if unknown["cells"]:
        msg = (f"{unknown['cells']:,} cell(s) of the CDRs ({unknown['events']:,} events) are not in "
               f"the cell table (e.g. {', '.join(unknown['examples'])})")
        if unknown["known_cells"] == 0:
            raise InputError(f"none of the CDRs' cells is in the cell table ({unknown['cells']:,} "
                             f"cells, e.g. {', '.join(unknown['examples'])}): is it the cells file "
                             "of this network?")
        if not allow_missing_cells:
            raise InputError(msg + "; add them to the cell table, or pass --allow-missing-cells "
                             "to locate their SIMs from their other cells")
        log.warning("%s; their SIMs are located from their other cells", msg)
    if isinstance(model, ModelLoading):
        model = model.get()
    stats = res.stats.as_dict() if hasattr(res.stats, "as_dict") else {}
    model_warnings = list((getattr(model, "card", None) or {}).get("warnings", []))
    for w in model_warnings:
        log.warning("model %s: %s", model_name, w)
    summary = {"model": model_name, "threshold_source": source, "timezone": features["timezone"],
               "model_warnings": model_warnings,
               "timezone_source": timezone_source, "subscriber_key": res.key_kinds,
               "key_collisions": res.key_collisions,
               "coordinates": "known" if located else "unknown",
               "records": stats, "unknown_cells": {k: unknown[k] for k in ("cells", "events")},
               "scanned_at": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")}
    _stage(progress, "grouping deployments, reasons",
           f"{int(predictions['flagged'].sum()):,} SIMs at the model's threshold")
    def score(X):
        return model.predict(X, threshold=threshold)["score"].to_numpy()
    feedback = feedback or {"exclusions": None, "store": None}
    farms = farm_devices(res)          # the device rule: its SIMs, once for both
    flagged = flag_sims(res, predictions, threshold, farms) if population is None else None
    held = held_back(res, predictions, threshold, feedback, summary, farms,
                     flagged=None if flagged is None else flagged[1])
    result = assemble(res, predictions, cell_table, threshold=threshold, rules=link_rules,
                      score=score, summary=summary, exclude=held, population=population,
                      farms=farms, flags=flagged,
                      young_threshold=young_threshold_of(model) if young_hold else None)
    if feedback["store"] is not None:
        # with an output folder, the flags are inserted while its files are written
        feedback["store"].record_scan(result, out=feedback.get("out"),
                                      wait=feedback.get("out") is None)
    if not located:
        result.summary["notes"] = [NO_CELLS_NOTE] + result.summary.get("notes", [])
        sites = result.sites
        result.sites = sites.assign(coordinates="unknown", cells=sites["site_id"].astype(str)) \
            if len(sites) else sites.assign(coordinates=pd.Series(dtype=object))
    result.summary["seconds"] = round(time.monotonic() - started, 1)
    result.rejects_path = os.fspath(rejects) if rejects is not None else None
    return result


class _ScanModule(types.ModuleType):
    """``simbox.scan`` is both this module and the public function: once the module is
    imported, Python binds the package attribute ``simbox.scan`` to it, so the module
    itself calls :func:`scan`."""

    def __call__(self, *args, **kwargs):
        return scan(*args, **kwargs)


sys.modules[__name__].__class__ = _ScanModule
