"""Deployments, sites and reasons of ``simbox watch`` between drops: what a drop did not
change is carried over (issue 16: "deployments are regrouped where new SIMs join").

Everything the grouping, the locating and the wording read of a flagged SIM is its
*fingerprint* (:func:`fingerprints`): its row of the flagged table (``res.sims``'s
columns with ``class`` and ``score``: counts, first and last event), its hour-of-day row
and its feature row but for the drifting columns (:data:`~simbox.watch.rescore.DRIFTING`,
whose moves within the tolerance keep a score too); its device and cell rows follow from
its events, which no drop changes without changing its count or its first or last event.

The policy (:class:`Regrouper`):

- a **full regroup** (:func:`simbox.scan.group_tables`, what a scan does) when the scores
  were all computed again (the first drop of each network hour:
  :mod:`simbox.watch.rescore`), after a restart, and when no SIM is flagged;
- between full regroups, the links of every flagged SIM are computed again
  (:func:`~simbox.deployments.group_sims`, a tenth of a second for a thousand flagged
  SIMs), so the grouping is exact: a SIM that joins an untouched deployment through any
  link joins it.  Then

  - a deployment whose SIMs are those of a deployment of the last drop, none of them with
    a changed fingerprint, keeps its row (SIMs, devices, sites, position, hours, events,
    score) but for its links, counted again (a SIM elsewhere at its site can change the
    site's leaders: :func:`~simbox.deployments.group_sims`); the others are made by :func:`~simbox.deployments.deployment_table`
    and :func:`~simbox.sites.locate` over their SIMs only; every deployment's priority
    (its recency moves with the network time), rank and id are computed again
    (:func:`~simbox.deployments.rank_deployments`);
  - a site whose flagged SIMs are those of the last drop, unchanged, keeps its row; the
    others come from :func:`~simbox.sites.site_table` over their SIMs; every site's
    deployments and priority are computed again (:func:`~simbox.sites.site_deployments`);
  - a SIM whose fingerprint did not change keeps its reasons; the others are worded
    against the reference SIMs (and their statistics) of the last full regroup, with the
    model's contributions when the SIM is within the occlusion budget of the whole flagged
    list (as :func:`simbox.scan.group_tables` does).

So the deployments and sites equal a full regroup's after every drop, and the reasons
equal them at each full regroup; between two, a SIM's reasons may differ only through
the reference population (taken again each network hour) and its drifting columns.
``tests/watch/test_regroup.py`` checks both on replays; ``benchmarks/bench_watch.py
scale`` times it.  On a busy 15-minute drop of a 100k-subscriber network most
deployments have a SIM that called (docs/watch.md, "Per-drop latency"): the saving is in
the reasons and the tables of SIMs that did not, and in the quiet hours.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simbox.deployments import (SUBSCRIBER_BLOCK, deployment_table, group_sims, linked_by,
                                rank_deployments)
from simbox.fastpath.keys import IMSI_COLUMN
from simbox.reasons import occlusion_contributions, reasons_table
from simbox.sites import locate, site_deployments, site_table
from simbox.watch.rescore import DRIFTING

_MIX = np.array([1, 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F], dtype=np.uint64)


def _row_hashes(df: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(df, index=False).to_numpy(np.uint64)


def fingerprints(res, sims: pd.DataFrame, hours: np.ndarray) -> np.ndarray:
    """A 64-bit hash per flagged SIM of ``sims`` of its row there (with class and score),
    its hour-of-day row and its feature row but for the drifting columns.  Its device and
    cell rows need no hash: they follow from its events, and any change of those changes
    its row's ``n_events``, ``first_seen`` or ``last_seen`` (events are added, or the
    oldest hour expires)."""
    if len(sims) == 0:
        return np.zeros(0, np.uint64)
    cols = [c for c in res.features.columns if c not in DRIFTING]
    parts = [_row_hashes(sims.reset_index()), _row_hashes(pd.DataFrame(np.asarray(hours))),
             _row_hashes(res.features.loc[sims.index, cols])]
    with np.errstate(over="ignore"):
        return sum((p * m for p, m in zip(parts, _MIX)), np.zeros(len(sims), np.uint64))


def _linked_by(counts: pd.DataFrame, key: str) -> list:
    """``linked_by`` of deployments from their link counts, as :func:`simbox.scan.group_tables`
    words them (the "imsi block" links of a run keyed by another key: subscriber block)."""
    text = linked_by(counts)
    return text if key == IMSI_COLUMN else [t.replace("imsi block", SUBSCRIBER_BLOCK)
                                            for t in text]


class _Cut:
    """A FeatureResult whose device and cell tables hold the flagged SIMs' rows only (all
    that grouping, locating and wording read of them: each filters them by those SIMs)."""

    def __init__(self, res, devices: pd.DataFrame, cells: pd.DataFrame):
        self._res, self.devices, self.cells = res, devices, cells

    def __getattr__(self, name):
        return getattr(self._res, name)


@dataclass
class Regrouper:
    """The deployments, sites and reasons of the last drop, and what they were made of.

    Called as :func:`simbox.scan.group_tables` (its ``grouping``), with ``full`` true
    for a full regroup."""

    fp: pd.Series | None = field(init=False, default=None)          # SIM -> fingerprint
    deployments: pd.DataFrame | None = field(init=False, default=None)
    members: dict = field(init=False, default_factory=dict)    # frozenset of SIMs -> row
    sites: pd.DataFrame | None = field(init=False, default=None)
    site_members: dict = field(init=False, default_factory=dict)     # site -> tuple of SIMs
    reasons: pd.Series | None = field(init=False, default=None)
    reference: pd.DataFrame | None = field(init=False, default=None)
    stats: pd.DataFrame | None = field(init=False, default=None)
    last: dict = field(init=False, default_factory=dict)               # what the last call did

    def __call__(self, res, sims, hours, cells, *, rules, scan_end, key, would, score=None,
                 explain=False, population=None, farms=None, by_model=None, full: bool = True):
        from simbox.scan import group_tables     # lazy: simbox.scan imports the watch's callers
        hours = np.asarray(hours)
        devices = res.devices.loc[res.devices["imsi"].isin(sims.index)]
        cell_rows = res.cells.loc[res.cells["imsi"].isin(sims.index)]
        fp = fingerprints(res, sims, hours)
        if full or self.fp is None or self.stats is None or len(sims) == 0 \
                or population is not None or (farms is not None and len(farms)):
            # (the device rule's farms: always a full regroup, as a scan makes them)
            out = group_tables(_Cut(res, devices, cell_rows), sims, hours, cells, rules=rules,
                               scan_end=scan_end, key=key, would=would, score=score,
                               explain=explain, population=population, farms=farms,
                               by_model=by_model)
            self.reference, self.stats = out[4], out[5]
            self._keep(out[0], out[1], out[2], out[3], fp)
            self.last = {"full": True, "sims": len(sims), "changed": len(sims),
                         "deployments_made": len(out[1]), "sites_made": len(out[2])}
            return out
        pos = self.fp.index.get_indexer(sims.index)
        changed = (pos < 0) | (self.fp.to_numpy()[pos] != fp)
        labels, counts = group_sims(sims, hours, devices, rules)
        deployments, per_sim, made = self._deployments(sims, hours, labels, counts, changed,
                                                       devices, cell_rows, cells, scan_end, key)
        sims = sims.assign(deployment_id=per_sim)
        sites, sites_made = self._sites(sims, hours, changed, devices, cell_rows, cells,
                                        deployments)
        reasons = self._reasons(res, sims, changed, score)
        self._keep(sims, deployments, sites, reasons, fp)
        self.last = {"full": False, "sims": len(sims), "changed": int(changed.sum()),
                     "deployments_made": made, "sites_made": sites_made}
        return sims, deployments, sites, reasons, self.reference, self.stats

    def _keep(self, sims, deployments, sites, reasons, fp) -> None:
        self.fp = pd.Series(fp, index=sims.index)
        by_dep = sims.groupby("deployment_id", sort=False).groups
        self.deployments = deployments
        self.members = {frozenset(by_dep[d]): i for i, d in enumerate(deployments["deployment_id"])}
        self.sites = sites.set_index("site_id", drop=False) if len(sites) else None
        site_of = sims["main_site"].astype(str)
        self.site_members = {s: tuple(g) for s, g in
                             sims.index.to_series().groupby(site_of, sort=False)}
        self.reasons = pd.Series(np.asarray(reasons, dtype=object), index=sims.index)

    def _deployments(self, sims, hours, labels, counts, changed, devices, cell_rows, cells,
                     scan_end, key):
        """``(deployments, deployment id per SIM, deployments made again)``."""
        order = pd.Series(np.arange(len(sims))).groupby(labels).groups      # label -> rows
        kept, redo = {}, []
        for lab, rows in order.items():
            rows = np.asarray(rows)
            row = self.members.get(frozenset(sims.index[rows]))
            if row is None or changed[rows].any():
                redo.append(lab)
            else:
                kept[lab] = row
        parts = []
        if kept:        # their links again: a SIM elsewhere can move a site's leaders
            old = self.deployments.iloc[list(kept.values())]
            parts.append(old.assign(_comp=list(kept), linked_by=_linked_by(
                counts.loc[list(kept)], key)))
        if redo:
            sub = np.isin(labels, redo)
            code, uniq = pd.factorize(labels[sub], sort=True)      # label order kept
            locations = locate(pd.Series(code, index=sims.index[sub]), cell_rows, cells)
            made, per_sim = deployment_table(
                sims.loc[sub], code, hours[sub], devices,
                counts.loc[uniq].reset_index(drop=True), locations, scan_end=scan_end)
            if key != IMSI_COLUMN and len(made):
                made["linked_by"] = made["linked_by"].str.replace("imsi block",
                                                                  SUBSCRIBER_BLOCK, regex=False)
            comp = pd.Series(labels[sub]).groupby(per_sim.to_numpy()).first()
            parts.append(made.assign(_comp=comp.reindex(made["deployment_id"]).to_numpy()))
        table = pd.concat(parts, ignore_index=True).sort_values("_comp", kind="stable")
        table = rank_deployments(table.reset_index(drop=True), scan_end)
        ids = table.set_index("_comp")["deployment_id"]
        per_sim = pd.Series(ids.reindex(labels).to_numpy(), index=sims.index,
                            name="deployment_id")
        return table.drop(columns="_comp").reset_index(drop=True), per_sim, len(redo)

    def _sites(self, sims, hours, changed, devices, cell_rows, cells, deployments):
        """``(sites, sites made again)``."""
        site_of = sims["main_site"].astype(str)
        here = (site_of != "").to_numpy()
        located = sims.index[here].to_series().groupby(site_of[here], sort=False)
        hit = pd.Series(changed, index=sims.index)
        kept, redo = [], []
        for s, g in located:
            same = self.sites is not None and s in self.sites.index and \
                self.site_members.get(s) == tuple(g) and not hit[g].any()
            (kept if same else redo).append(s)
        parts = []
        if redo:
            sub = site_of.isin(redo).to_numpy()
            parts.append(site_table(sims.loc[sub], hours[sub], devices, cell_rows, cells,
                                    deployments))
        if kept:
            old = self.sites.loc[kept].reset_index(drop=True)
            sub = site_of.isin(kept).to_numpy()
            dep = pd.DataFrame.from_dict(site_deployments(site_of[sub],
                                                          sims.loc[sub, "deployment_id"],
                                                          deployments), orient="index")
            for c in dep.columns:
                old[c] = dep[c].reindex(old["site_id"]).to_numpy()
            parts.append(old)
        if not parts:
            return site_table(sims.iloc[:0], hours[:0], devices, cell_rows, cells,
                              deployments), 0
        first = {s: i for i, s in enumerate(located.groups)}
        table = pd.concat([p for p in parts if len(p)], ignore_index=True)
        table = table.iloc[np.argsort(table["site_id"].map(first).to_numpy(), kind="stable")]
        return table.sort_values(["priority", "n_sims"], ascending=False, kind="stable") \
            .reset_index(drop=True), len(redo)

    def _reasons(self, res, sims, changed, score) -> pd.Series:
        """The reasons of every flagged SIM: kept for the unchanged ones (module docstring)."""
        from simbox.scan import OCCLUDED_FEATURES, OCCLUSION_MIN_ROWS   # lazy: as __call__
        out = self.reasons.reindex(sims.index)
        if not changed.any():
            return out
        by_score = sims["score"].sort_values(ascending=False, kind="stable").index
        budget = max(OCCLUSION_MIN_ROWS, len(res.features) // 8) // OCCLUDED_FEATURES
        redo = by_score[np.isin(by_score, sims.index[changed])]
        within = int(np.isin(redo, by_score[:budget]).sum())    # a prefix of ``redo``
        contributions = None if score is None else occlusion_contributions(
            score, res.features, redo, self.reference, candidates=OCCLUDED_FEATURES,
            budget_rows=within * OCCLUDED_FEATURES,
            base=sims["score"].reindex(redo).to_numpy(), stats=self.stats)
        out.loc[redo] = reasons_table(res.features, redo, contributions=contributions,
                                      reference=self.reference, stats=self.stats)
        return out
