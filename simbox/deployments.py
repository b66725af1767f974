"""Deployments: flagged SIMs grouped into the physical boxes and farms they sit in.

Two flagged SIMs are *linked* when

- **device**: they were seen in the same device (IMEI) -- the slots of one
  gateway, or SIMs rotated through one modem;
- **site+hours**: they have the same main site, their active periods overlap
  and their hour-of-day profiles are alike (cosine similarity of the rows of
  ``FeatureResult.hours`` of at least ``hour_similarity``) -- boxes that sit
  together and work the same shift.  This link is *weak*: two separate boxes
  can share a mast and a shift, so it never merges two groups already tied by
  the strong links below (see :func:`group_sims`);
- **imsi block** / **msisdn block**: their IMSIs (or MSISDNs), of the same
  length, are at most ``number_gap`` apart in a sorted run at the same main
  site -- SIMs bought as one batch of consecutive numbers.  (Consecutive SIMs in
  one device are already linked by the device rule.)

A deployment is a connected component of these links (union-find, weak links
restricted as said); a SIM linked to nothing is a deployment of one SIM.  Each deployment gets the class of the
majority of its SIMs (ties go to the class with the higher summed score), the
counts, its sites and time window, and a priority for action:

    priority = 100 x mean score x size x recency
    size     = min(1, log2(1 + SIMs) / log2(1 + 32))   (a full 32-port gateway counts fully)
    recency  = 0.8 ** days between the deployment's last event and the scan's last event

so a large, confidently scored deployment that is still active comes first.
Deployment ids (``D001``, ``D002``, ...) follow the priority order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["LinkRules", "UnionFind", "link_sims", "group_sims", "deployment_table",
           "active_hours", "format_hours", "priority", "LINK_KINDS"]

LINK_KINDS = ("device", "site+hours", "imsi block", "msisdn block")
FULL_BOX_SIMS = 32


@dataclass(frozen=True)
class LinkRules:
    """Thresholds of the links between flagged SIMs."""

    hour_similarity: float = 0.8   # cosine of hour-of-day profiles, same main site
    number_gap: int = 8            # max difference of neighbouring IMSIs/MSISDNs in a block

    def __post_init__(self):
        from simbox.errors import ConfigError
        if not 0.0 <= self.hour_similarity <= 1.0:
            raise ConfigError(f"hour_similarity must be within [0, 1], not {self.hour_similarity}")
        if self.number_gap < 1:
            raise ConfigError(f"number_gap must be at least 1, not {self.number_gap}")


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int):
        self.parent = np.arange(n)
        self.size = np.ones(n, dtype=np.int64)

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return int(i)

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return True

    def labels(self) -> np.ndarray:
        """Component label of each element: 0..k-1 in order of first appearance."""
        roots = np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)
        _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        return order[inverse]


def _device_links(imsis: pd.Index, devices: pd.DataFrame):
    d = devices.loc[devices["imsi"].isin(imsis) & (devices["imei"].astype(str) != ""),
                    ["imsi", "imei"]].drop_duplicates()
    pos = pd.Series(np.arange(len(imsis)), index=imsis)
    d = d.assign(i=pos.reindex(d["imsi"]).to_numpy()).sort_values(["imei", "i"])
    first = d.groupby("imei", sort=False)["i"].transform("first").to_numpy()
    i = d["i"].to_numpy()
    keep = first != i
    return list(zip(first[keep].tolist(), i[keep].tolist()))


def _cosine_links(sims: pd.DataFrame, hours: np.ndarray, threshold: float):
    h = np.asarray(hours, dtype=float)
    norm = np.linalg.norm(h, axis=1)
    unit = np.divide(h, norm[:, None], out=np.zeros_like(h), where=norm[:, None] > 0)
    first = sims["first_seen"].to_numpy()
    last = sims["last_seen"].to_numpy()
    site = sims["main_site"].astype(str).to_numpy()
    pairs = []
    for s in pd.unique(site):
        if s == "":
            continue
        idx = np.flatnonzero(site == s)
        if len(idx) < 2:
            continue
        for lo in range(0, len(idx), 2048):
            rows = idx[lo:lo + 2048]
            sim = unit[rows] @ unit[idx].T
            overlap = (first[rows][:, None] <= last[idx][None, :]) & \
                      (first[idx][None, :] <= last[rows][:, None])
            a, b = np.nonzero((sim >= threshold) & overlap)
            a, b = rows[a], idx[b]
            keep = a < b
            pairs.extend(zip(a[keep].tolist(), b[keep].tolist()))
    return pairs


def _block_links(numbers: pd.Series, sites: pd.Series, gap: int):
    s = numbers.astype(str).to_numpy()
    site = sites.astype(str).to_numpy()
    valid = np.array([x.isdigit() and x.isascii() and 0 < len(x) <= 18 for x in s], dtype=bool)
    pairs = []
    idx = np.flatnonzero(valid)
    if len(idx) < 2:
        return pairs
    length = np.array([len(s[i]) for i in idx])
    value = np.array([int(s[i]) for i in idx], dtype=np.int64)
    order = np.lexsort((value, site[idx], length))
    idx, length, value = idx[order], length[order], value[order]
    same = (length[1:] == length[:-1]) & (site[idx[1:]] == site[idx[:-1]]) & \
           (site[idx[1:]] != "") & (value[1:] - value[:-1] <= gap)
    for k in np.flatnonzero(same):
        pairs.append((int(idx[k]), int(idx[k + 1])))
    return pairs


def link_sims(sims: pd.DataFrame, hours: np.ndarray, devices: pd.DataFrame,
              rules: LinkRules = LinkRules()) -> dict[str, list[tuple[int, int]]]:
    """The links between flagged SIMs, by kind: lists of (row, row) pairs.

    ``sims`` (index imsi): ``msisdn, main_site, first_seen, last_seen``;
    ``hours``: its hour-of-day rows; ``devices``: ``imsi, imei`` pairs.
    """
    return {
        "device": _device_links(sims.index, devices),
        "site+hours": _cosine_links(sims, hours, rules.hour_similarity),
        "imsi block": _block_links(pd.Series(sims.index, index=sims.index), sims["main_site"],
                                   rules.number_gap),
        "msisdn block": _block_links(sims["msisdn"], sims["main_site"], rules.number_gap),
    }


STRONG_LINKS = ("device", "imsi block", "msisdn block")
WEAK_LINKS = ("site+hours",)


def group_sims(sims: pd.DataFrame, hours: np.ndarray, devices: pd.DataFrame,
               rules: LinkRules = LinkRules()) -> tuple[np.ndarray, pd.DataFrame]:
    """Component of each flagged SIM (array aligned with ``sims``) and the link
    counts per component (DataFrame, one column per link kind).

    Device and number-block links are strong: they always join.  Site+hours
    links are weak, since two separate boxes can share a mast and a shift: they
    join SIMs that no strong link ties to others, among themselves, and attach
    each such group to at most one strongly linked group (the one it has most
    site+hours links with); they never merge two strongly linked groups.
    """
    links = link_sims(sims, hours, devices, rules)
    n = len(sims)
    uf = UnionFind(n)
    for kind in STRONG_LINKS:
        for a, b in links[kind]:
            uf.union(a, b)
    core = np.array([uf.find(i) for i in range(n)], dtype=np.int64)
    core_size = np.bincount(core, minlength=n) if n else np.zeros(0, np.int64)
    loose = core_size[core] == 1 if n else np.zeros(0, bool)
    weak = [p for kind in WEAK_LINKS for p in links[kind]]
    for a, b in weak:                      # loose SIMs group among themselves
        if loose[a] and loose[b]:
            uf.union(a, b)
    votes: dict[int, dict[int, int]] = {}  # loose group -> core -> site+hours links
    for a, b in weak:
        if loose[a] != loose[b]:
            g, c = (uf.find(a), core[b]) if loose[a] else (uf.find(b), core[a])
            votes.setdefault(g, {}).setdefault(int(c), 0)
            votes[g][int(c)] += 1
    for g, by_core in votes.items():
        best = max(sorted(by_core), key=lambda c: by_core[c])
        uf.union(g, best)
    labels = uf.labels() if n else np.zeros(0, dtype=np.int64)
    counts = pd.DataFrame(0, index=pd.RangeIndex(labels.max() + 1 if n else 0),
                          columns=list(LINK_KINDS))
    for kind, pairs in links.items():
        inside = [labels[a] for a, b in pairs if labels[a] == labels[b]]
        if inside:
            counts[kind] = pd.Series(inside).value_counts().reindex(counts.index, fill_value=0)
    return labels, counts


def active_hours(profile: np.ndarray, min_share: float = 0.3) -> list[int]:
    """Hours of day when a group is active: its 24 hourly event counts smoothed
    over neighbouring hours (weights 1-2-1, around midnight too), then the hours
    with at least ``min_share`` of the busiest smoothed hour.  The smoothing keeps
    a sparse profile from breaking into many one-hour pieces."""
    p = np.asarray(profile, dtype=float)
    if p.max(initial=0) <= 0:
        return []
    smooth = (np.roll(p, 1) + 2 * p + np.roll(p, -1)) / 4
    return np.flatnonzero(smooth >= min_share * smooth.max()).tolist()


def format_hours(hours: list[int]) -> str:
    """Hours of day as ranges, end exclusive: ``[22, 23, 0, 1, 8, 9]`` ->
    ``"08:00-10:00, 22:00-02:00"``; 16 hours or more with one gap ->
    ``"all day except 02:00-05:00"``."""
    if not hours:
        return ""
    hs = sorted(set(hours))
    if len(hs) == 24:
        return "00:00-24:00"
    runs = []
    for h in hs:
        if runs and h == runs[-1][1]:
            runs[-1][1] = h + 1
        else:
            runs.append([h, h + 1])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == 24:
        runs[0][0] = runs.pop()[0]
    if len(runs) == 1 and len(hs) >= 16:
        start, end = runs[0]
        return f"all day except {end % 24:02d}:00-{start:02d}:00"
    return ", ".join(f"{a:02d}:00-{b if b == 24 else b % 24:02d}:00" for a, b in sorted(runs))


def priority(mean_score, n_sims, days_idle) -> np.ndarray:
    """The priority formula of the module docstring (vectorised)."""
    size = np.minimum(1.0, np.log2(1.0 + np.asarray(n_sims, dtype=float)) /
                      np.log2(1.0 + FULL_BOX_SIMS))
    recency = 0.8 ** np.maximum(0.0, np.asarray(days_idle, dtype=float))
    return np.round(100.0 * np.asarray(mean_score, dtype=float) * size * recency, 1)


def _majority_class(group: pd.DataFrame) -> str:
    tally = group.groupby("class")["score"].agg(["size", "sum"])
    return tally.sort_values(["size", "sum"], ascending=False).index[0]


def deployment_table(sims: pd.DataFrame, labels: np.ndarray, hours: np.ndarray,
                     devices: pd.DataFrame, link_counts: pd.DataFrame,
                     locations: pd.DataFrame | None = None,
                     scan_end: pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The deployment table and the deployment id of each flagged SIM.

    ``sims`` (index imsi): ``class, score, main_site, first_seen, last_seen,
    n_events``; ``labels`` from :func:`group_sims`; ``locations`` (optional,
    indexed by component label): ``lat, lon, radius_m``.  ``scan_end`` defaults
    to the latest ``last_seen``.
    """
    columns = ["deployment_id", "class", "n_sims", "n_devices", "n_sites", "sites", "lat", "lon",
               "radius_m", "first_seen", "last_seen", "active_hours", "events", "score",
               "priority", "linked_by"]
    if len(sims) == 0:
        return pd.DataFrame(columns=columns), pd.Series([], index=sims.index, name="deployment_id",
                                                       dtype=object)
    df = sims.assign(_comp=labels)
    if scan_end is None:
        scan_end = df["last_seen"].max()
    dev = devices.loc[devices["imsi"].isin(df.index) & (devices["imei"].astype(str) != "")]
    dev = dev.assign(_comp=pd.Series(labels, index=df.index).reindex(dev["imsi"]).to_numpy())
    n_devices = dev.groupby("_comp")["imei"].nunique()
    rows = []
    for comp, g in df.groupby("_comp", sort=True):
        pos = np.flatnonzero(labels == comp)
        site_counts = g.loc[g["main_site"].astype(str) != "", "main_site"].value_counts()
        kinds = link_counts.loc[comp] if comp in link_counts.index else pd.Series(dtype=int)
        loc = locations.loc[comp] if locations is not None and comp in locations.index else None
        rows.append({
            "_comp": comp,
            "class": _majority_class(g),
            "n_sims": len(g),
            "n_devices": int(n_devices.get(comp, 0)),
            "n_sites": len(site_counts),
            "sites": ";".join(map(str, site_counts.index)),
            "lat": float(loc["lat"]) if loc is not None else np.nan,
            "lon": float(loc["lon"]) if loc is not None else np.nan,
            "radius_m": float(loc["radius_m"]) if loc is not None else np.nan,
            "first_seen": g["first_seen"].min(),
            "last_seen": g["last_seen"].max(),
            "active_hours": format_hours(active_hours(np.asarray(hours)[pos].sum(axis=0))),
            "events": int(g["n_events"].sum()),
            "score": round(float(g["score"].mean()), 4),
            "linked_by": ", ".join(f"{k} ({int(kinds[k])})" for k in LINK_KINDS
                                   if kinds.get(k, 0) > 0),
        })
    table = pd.DataFrame(rows)
    idle = (pd.Timestamp(scan_end) - table["last_seen"]).dt.total_seconds() / 86400.0
    table["priority"] = priority(table["score"], table["n_sims"], idle)
    table = table.sort_values(["priority", "n_sims", "score"], ascending=False, kind="stable")
    width = max(3, len(str(len(table))))
    table["deployment_id"] = [f"D{i:0{width}d}" for i in range(1, len(table) + 1)]
    ids = table.set_index("_comp")["deployment_id"]
    per_sim = pd.Series(ids.reindex(labels).to_numpy(), index=sims.index, name="deployment_id")
    return table[columns].reset_index(drop=True), per_sim
