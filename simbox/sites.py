"""Sites: where the flagged SIMs physically are, for the field team.

The cell table (``cells.csv``: ``cell_id,site_id,lat,lon,azimuth`` plus any
extra columns, such as an address) gives each cell a position.  A group of SIMs
(a deployment, or the flagged SIMs whose main site is one site) is *located* from
the positions (masts) that carried its events:

1. positions are grouped into clusters of masts within ``CLUSTER_M`` (3 km) of
   the cluster's busiest mast, and only the cluster with most events is kept: a
   box that moved, or a SIM bank feeding remote gateways, is located where most
   of its traffic was (its other sites are still in the site list);
2. the location is the centroid of the kept positions, each weighted by the
   square of its events: a static box sends most of its traffic through its
   best cell and some through neighbours it reselects now and then; squared
   weights keep the estimate at the dominant mast, leaning towards a strong
   second one (86 % / 14 % of the events: 3 % of the way), while a box between
   two masts (50 % / 50 %) lands between them;
3. the **confidence radius** is the root-mean-square distance of the kept
   positions from the centroid, with the same weights (0 when all its events
   were on one mast: the box is then within that site's coverage, not
   necessarily at the mast).

The site list has one row per cell site that is the main site of at least one
flagged SIM: its located position, the cells used, the deployments and the
counts, the hours it is active, first and last seen, and a priority:

    site priority = sum over deployments d at the site of
                    priority(d) x (SIMs of d whose main site is this site) / (SIMs of d)
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from simbox.deployments import devices_per, hours_text, positions, sum_rows, unique_ints
from simbox.deployments import factorized as codes_of
from simbox.errors import InputError
from simbox.features.tables import load_cells as read_cells

__all__ = ["CELL_COLUMNS", "load_cells", "haversine_m", "locate", "site_table", "SITE_COLUMNS"]

CELL_COLUMNS = ("cell_id", "site_id", "lat", "lon", "azimuth")
SITE_COLUMNS = ["site_id", "lat", "lon", "radius_m", "cells", "deployments", "n_deployments",
                "class", "n_sims", "n_devices", "active_hours", "first_seen", "last_seen",
                "events", "priority"]
EARTH_RADIUS_M = 6_371_008.8
CLUSTER_M = 3000.0


def load_cells(cells) -> pd.DataFrame:
    """The cell table from a path or a DataFrame, checked.

    Returns a DataFrame indexed by ``cell_id`` (str) with ``site_id`` (str),
    ``lat``, ``lon`` (float) and the other columns as given (``azimuth``, an
    address...).  The checks are those of the feature run
    (:func:`simbox.features.tables.load_cells`: columns, coordinates, unique
    cells, with file:line:field), plus: at least one cell.
    """
    return checked_cells(cells)[0]


def checked_cells(cells) -> tuple:
    """``(table, checked)``: :func:`load_cells`'s table and the checked cells it was made of
    (:class:`simbox.features.tables.Cells`, which the feature run takes as they are)."""
    if isinstance(cells, pd.DataFrame) and cells.index.name == "cell_id":
        cells = cells.reset_index()
    checked = read_cells(cells)
    table = checked.to_frame()
    if len(table) == 0:
        name = os.fspath(cells) if isinstance(cells, (str, os.PathLike)) else "the cells DataFrame"
        raise InputError(f"{name}: the cells file has no rows")
    return table, checked


def haversine_m(lat1, lon1, lat2, lon2):
    """Great-circle distance in metres (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _spread_centroids(per_cell: pd.DataFrame, cluster_m: float) -> dict:
    """The location (:func:`_centroid_arrays`) of the busiest cluster of masts
    (:func:`_cluster_mask`) of each group of ``per_cell`` (``group, cell_id, events, lat,
    lon``), group by group on numpy arrays: the positions of a group in order of first
    appearance, their events summed."""
    if not len(per_cell):
        return {}
    gcode, groups = pd.factorize(per_cell["group"].to_numpy(), sort=False)
    order = np.argsort(gcode, kind="stable")            # each group's rows in their order
    bounds = np.flatnonzero(np.diff(gcode[order])) + 1
    lat_all, lon_all = per_cell["lat"].to_numpy(dtype=float), per_cell["lon"].to_numpy(dtype=float)
    ev_all = per_cell["events"].to_numpy()
    cell_all = per_cell["cell_id"].astype(str).to_numpy(dtype=object)
    out = {}
    for rows in np.split(order, bounds):
        lat, lon, ev = lat_all[rows], lon_all[rows], ev_all[rows]
        # the positions, in order of first appearance, their events summed
        at: dict = {}
        for k, key in enumerate(zip(lat.tolist(), lon.tolist())):
            at.setdefault(key, []).append(k)
        plat = np.array([key[0] for key in at], dtype=float)
        plon = np.array([key[1] for key in at], dtype=float)
        pev = np.array([ev[ks].sum() for ks in at.values()], dtype=ev.dtype)
        keep = _cluster_mask(plat, plon, pev, cluster_m)
        out[groups[gcode[rows[0]]]] = _centroid_arrays(plat[keep], plon[keep], pev[keep],
                                                      ev, cell_all[rows])
    return out


def _cluster_mask(lat: np.ndarray, lon: np.ndarray, events: np.ndarray, cluster_m: float) -> np.ndarray:
    """Mask of the positions in the busiest cluster: positions are taken busiest first and
    join the first cluster whose seed is within ``cluster_m``."""
    order = np.argsort(-events, kind="stable")
    label = np.full(len(lat), -1)
    seeds: list[int] = []
    for i in order:
        near = [k for k, j in enumerate(seeds) if haversine_m(lat[i], lon[i], lat[j], lon[j]) <= cluster_m]
        if near:
            label[i] = near[0]
        else:
            label[i] = len(seeds)
            seeds.append(i)
    totals = np.bincount(label, weights=events.astype(float))
    return label == int(np.argmax(totals))


def _centroid_arrays(lat, lon, events, cell_events, cell_ids) -> dict:
    """Location of one group from its kept positions ``lat, lon, events`` and its cells
    (``cell_events``, ``cell_ids``: its rows in order, listed most events first)."""
    w = events.astype(float) ** 2
    lat0 = float(np.average(lat, weights=w))
    lon_r = np.radians(lon)
    lon0 = float(np.degrees(np.arctan2(np.average(np.sin(lon_r), weights=w),
                                       np.average(np.cos(lon_r), weights=w))))
    d = haversine_m(lat0, lon0, lat, lon)
    radius = float(np.sqrt(np.average(d ** 2, weights=w)))
    by = np.argsort(-cell_events, kind="stable")
    return {"lat": round(lat0, 6), "lon": round(lon0, 6), "radius_m": round(radius, 0),
            "events": int(cell_events.sum()), "cells": ";".join(cell_ids[by].tolist())}


def _centroids(pos: pd.DataFrame, cells_used: pd.DataFrame) -> dict:
    """:func:`_centroid_arrays` of many groups at once (every position of a group kept)."""
    w = pos["events"].to_numpy(dtype=float) ** 2
    lon_r = np.radians(pos["lon"].to_numpy())
    sums = pd.DataFrame({"group": pos["group"].to_numpy(), "w": w, "wlat": w * pos["lat"].to_numpy(),
                         "wsin": w * np.sin(lon_r), "wcos": w * np.cos(lon_r)}) \
        .groupby("group", sort=False).sum()
    lat0 = sums["wlat"] / sums["w"]
    lon0 = np.degrees(np.arctan2(sums["wsin"] / sums["w"], sums["wcos"] / sums["w"]))
    d = haversine_m(lat0.reindex(pos["group"]).to_numpy(), lon0.reindex(pos["group"]).to_numpy(),
                    pos["lat"].to_numpy(), pos["lon"].to_numpy())
    rad = pd.Series(w * d ** 2, index=pos["group"].to_numpy()).groupby(level=0, sort=False).sum()
    radius = np.sqrt(rad.reindex(sums.index) / sums["w"])
    c = cells_used.assign(_o=np.arange(len(cells_used))) \
        .sort_values(["group", "events", "_o"], ascending=[True, False, True], kind="stable")
    c = c.assign(cell_id=c["cell_id"].astype(str))
    per = c.groupby("group", sort=False).agg(events=("events", "sum"), cells=("cell_id", ";".join))
    return {g: {"lat": round(float(lat0[g]), 6), "lon": round(float(lon0[g]), 6),
                "radius_m": round(float(radius[g]), 0), "events": int(per.at[g, "events"]),
                "cells": per.at[g, "cells"]} for g in sums.index}


def locate(groups: pd.Series, cell_events: pd.DataFrame, cells: pd.DataFrame,
           cluster_m: float = CLUSTER_M) -> pd.DataFrame:
    """Position of each group of SIMs from the cells that carried its events.

    ``groups``: group key per imsi (index imsi); ``cell_events``: ``imsi,
    cell_id, events``; ``cells`` from :func:`load_cells`.  Returns a DataFrame
    indexed by group key: ``lat, lon, radius_m, events, cells`` (every cell
    used, most events first, ";"-joined).  Groups with no located event are
    left out.  A categorical ``imsi`` over ``groups``' index and ``cell_id`` (the feature
    run's pair tables) are aggregated on their codes (:func:`_located_codes`); other
    inputs by pandas' groupbys (:func:`_locate_frames`, the reference), to the same table.
    """
    fast = _located_codes(groups, cell_events, cells, cluster_m)
    return fast if fast is not None else _locate_frames(groups, cell_events, cells, cluster_m)


def _locate_frames(groups: pd.Series, cell_events: pd.DataFrame, cells: pd.DataFrame,
                   cluster_m: float = CLUSTER_M) -> pd.DataFrame:
    """:func:`locate` by pandas' groupbys of the events' rows (any ``imsi`` and ``cell_id``)."""
    at = positions(cell_events["imsi"], groups.index)
    if at is None:
        ev = cell_events.loc[cell_events["imsi"].isin(groups.index), ["imsi", "cell_id", "events"]]
        group = groups.reindex(ev["imsi"].to_numpy()).to_numpy()
    else:
        ev = cell_events.loc[at >= 0, ["imsi", "cell_id", "events"]]
        group = groups.to_numpy()[at[at >= 0]]
    cell = positions(ev["cell_id"], cells.index)
    if cell is None:
        lat = cells["lat"].reindex(ev["cell_id"]).to_numpy()
        lon = cells["lon"].reindex(ev["cell_id"]).to_numpy()
    else:
        lat = np.append(cells["lat"].to_numpy(dtype=float), np.nan)[cell]
        lon = np.append(cells["lon"].to_numpy(dtype=float), np.nan)[cell]
    ev = ev.assign(group=group, lat=lat, lon=lon)
    ev = ev.dropna(subset=["lat", "lon"])
    ev = ev.loc[ev["events"] > 0]
    cols = ["lat", "lon", "radius_m", "events", "cells"]
    if len(ev) == 0:
        return pd.DataFrame(columns=cols)
    per_cell = ev.groupby(["group", "cell_id"], sort=False).agg(
        events=("events", "sum"), lat=("lat", "first"), lon=("lon", "first")).reset_index()
    pos = per_cell.groupby(["group", "lat", "lon"], sort=False)["events"].sum().reset_index()
    # the busiest position of each group; a group whose positions all lie within cluster_m
    # of it is one cluster (every position joins the first seed): done in bulk below,
    # the others (a box that moved, a remote bank) one by one
    top = pos.sort_values(["group", "events"], ascending=[True, False], kind="stable") \
        .drop_duplicates("group").set_index("group")
    far = haversine_m(top["lat"].reindex(pos["group"]).to_numpy(), top["lon"].reindex(pos["group"]).to_numpy(),
                      pos["lat"].to_numpy(), pos["lon"].to_numpy()) > cluster_m
    spread = set(pos.loc[far, "group"])
    out = _spread_centroids(per_cell.loc[per_cell["group"].isin(spread)], cluster_m)
    one = pos.loc[~pos["group"].isin(spread)]
    if len(one):
        out.update(_centroids(one, per_cell.loc[~per_cell["group"].isin(spread)]))
    return pd.DataFrame.from_dict(out, orient="index", columns=cols)


LOCATED_COLUMNS = ["lat", "lon", "radius_m", "events", "cells"]


def _located_codes(groups: pd.Series, cell_events: pd.DataFrame, cells: pd.DataFrame,
                   cluster_m: float) -> pd.DataFrame | None:
    """:func:`locate` on codes when ``cell_events``' ``imsi`` and ``cell_id`` are categoricals
    (else None): the (group, cell) rows and the (group, position) rows summed by sorting
    integer keys, in order of first appearance as the groupbys of :func:`_locate_frames`
    give them (event counts: exact sums); a group at one position located from its row
    with the arithmetic of :func:`_centroids` (a sum of one value is ``0.0 + value``);
    groups spread over several positions, or a group at one position of many, go through
    :func:`_spread_centroids` and :func:`_centroids` as there."""
    col = cell_events["cell_id"]
    if not isinstance(col.dtype, pd.CategoricalDtype):
        return None
    at = positions(cell_events["imsi"], groups.index)
    cell = positions(col, cells.index)
    if at is None or cell is None:
        return None
    lat_of = np.append(cells["lat"].to_numpy(dtype=float), np.nan)
    lon_of = np.append(cells["lon"].to_numpy(dtype=float), np.nan)
    events = cell_events["events"].to_numpy()
    gcode, gnames = pd.factorize(groups.to_numpy())
    g = np.append(gcode, -1)[at]                      # (not a SIM of groups: -1)
    rows = np.flatnonzero((g >= 0) & ~np.isnan(lat_of[cell]) & ~np.isnan(lon_of[cell]) &
                          (events > 0))
    if not len(rows):
        return pd.DataFrame(columns=LOCATED_COLUMNS)
    g, cc = g[rows].astype(np.int64), col.cat.codes.to_numpy()[rows].astype(np.int64)
    # the (group, cell) rows in order of first appearance, their events summed
    first, inv = _first_seen(g * len(col.cat.categories) + cc)
    c_ev = np.bincount(inv, weights=events[rows], minlength=len(first)).astype(np.int64)
    c_g, c_cc = g[first], cc[first]
    c_lat, c_lon = lat_of[cell[rows[first]]], lon_of[cell[rows[first]]]
    # the (group, position) rows likewise
    bits = np.column_stack([c_g, (c_lat + 0.0).view(np.int64), (c_lon + 0.0).view(np.int64)])
    p_first, p_inv = _first_seen(bits)
    p_ev = np.bincount(p_inv, weights=c_ev, minlength=len(p_first)).astype(np.int64)
    p_g, p_lat, p_lon = c_g[p_first], c_lat[p_first], c_lon[p_first]
    # each group's busiest position (ties: the first), and the groups spread beyond cluster_m
    by = np.lexsort((np.arange(len(p_g)), -p_ev, p_g))
    top = np.empty(len(gnames), dtype=np.int64)
    top[p_g[by][::-1]] = by[::-1]                    # (the first of each group written last)
    far = haversine_m(p_lat[top[p_g]], p_lon[top[p_g]], p_lat, p_lon) > cluster_m
    spread = np.zeros(len(gnames), dtype=bool)
    spread[p_g[far]] = True
    names = np.asarray(col.cat.categories, dtype=object)

    def per_cell(keep):
        return pd.DataFrame({"group": gnames[c_g[keep]], "cell_id": names[c_cc[keep]],
                             "events": c_ev[keep], "lat": c_lat[keep], "lon": c_lon[keep]})
    out = _spread_centroids(per_cell(spread[c_g]), cluster_m) if spread.any() else {}
    one, cone = ~spread[p_g], ~spread[c_g]
    if one.any() and len(unique_ints(p_g[one])) < one.sum():     # a group at two positions
        pos = pd.DataFrame({"group": gnames[p_g[one]], "lat": p_lat[one], "lon": p_lon[one],
                            "events": p_ev[one]})
        out.update(_centroids(pos, per_cell(cone)))
    elif one.any():
        out.update(_single_centroids(gnames[p_g[one]], p_lat[one], p_lon[one], p_ev[one],
                                     p_g[one], c_g[cone], c_ev[cone],
                                     names[c_cc[cone]].astype(str)))
    return pd.DataFrame.from_dict(out, orient="index", columns=LOCATED_COLUMNS)


def _first_seen(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows where each distinct key (an int, or a row of ints) is first seen, in that
    order, and each row's rank among them: ``groupby(sort=False)``'s order of groups."""
    if keys.ndim == 1:
        _, first, inv = unique_ints(keys, return_index=True, return_inverse=True)
    else:
        _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return first[order], rank[inv]


def _single_centroids(keys, lat, lon, events, gpos, cgroup, cevents, cids) -> dict:
    """:func:`_centroids` of groups at one position each (``keys``, ``lat``, ``lon``,
    ``events``: one row a group, ``gpos`` its group code; ``cgroup``, ``cevents``, ``cids``:
    the groups' cells in order): each sum of :func:`_centroids` is of one value, which
    pandas' sum gives as ``0.0 + value``; the same operations on the same arrays."""
    w = events.astype(float) ** 2
    lon_r = np.radians(lon)
    sw, wlat = 0.0 + w, 0.0 + w * lat
    wsin, wcos = 0.0 + w * np.sin(lon_r), 0.0 + w * np.cos(lon_r)
    lat0 = wlat / sw
    lon0 = np.degrees(np.arctan2(wsin / sw, wcos / sw))
    d = haversine_m(lat0, lon0, lat, lon)
    radius = np.sqrt((0.0 + w * d ** 2) / sw)
    # each group's cells, most events first (ties: in order), ";"-joined; their events summed
    order = np.lexsort((np.arange(len(cgroup)), -cevents, cgroup))
    cg, texts = cgroup[order], cids[order].tolist()
    starts = np.flatnonzero(np.r_[True, cg[1:] != cg[:-1]])
    ends = np.r_[starts[1:], len(cg)]
    joined = {int(cg[a]): ";".join(texts[a:b]) for a, b in zip(starts.tolist(), ends.tolist())}
    total = np.bincount(cgroup, weights=cevents, minlength=int(gpos.max()) + 1)
    return {k: {"lat": round(float(a), 6), "lon": round(float(o), 6),
                "radius_m": round(float(r), 0), "events": int(total[p]), "cells": joined[p]}
            for k, a, o, r, p in zip(keys.tolist() if keys.dtype != object else list(keys),
                                     lat0.tolist(), lon0.tolist(), radius.tolist(),
                                     gpos.tolist())}


def _code_counts(code: np.ndarray, names) -> tuple[list, np.ndarray]:
    """The distinct values ``names[code]`` (code -1: a missing value) and their counts as
    ``pd.Series.value_counts`` orders them: most frequent first, ties in order of first
    appearance; from the codes (:func:`~simbox.deployments.factorized` of a column, once), no
    text per row hashed again."""
    code = np.asarray(code, dtype=np.int64)
    values, first, inverse = unique_ints(code, return_index=True, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(values)).astype(np.int64)
    order = np.lexsort((first, -counts))           # most frequent first, ties first seen
    keys = np.append(np.asarray(names, dtype=object), np.nan)[values[order]]
    return keys.tolist(), counts[order]


def _instants(times: pd.Series) -> np.ndarray:
    """Times as numpy datetime64 (UTC when they are zoned)."""
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.to_numpy()


def _stamp(t, tz):
    """A value of :func:`_instants` back as the Timestamp pandas' ``min``/``max`` give
    (in ``tz``, when the times were zoned)."""
    t = pd.Timestamp(t)
    return t if tz is None or pd.isna(t) else t.tz_localize("UTC").tz_convert(tz)


def site_table(sims: pd.DataFrame, hours: np.ndarray, devices: pd.DataFrame,
               cell_events: pd.DataFrame, cells: pd.DataFrame,
               deployments: pd.DataFrame, located: pd.DataFrame | None = None) -> pd.DataFrame:
    """The site list.

    ``sims`` (index imsi, flagged SIMs): ``main_site, deployment_id, class,
    first_seen, last_seen``; ``hours`` its hour rows; ``devices``: ``imsi,
    imei``; ``deployments`` from :func:`simbox.deployments.deployment_table`.
    Extra columns of the cell table (first value per site) follow the
    documented ones.  ``located``: :func:`locate`'s rows of the deployments, indexed by
    ``deployment_id``: a site whose SIMs are exactly the SIMs of one deployment takes its
    row (the same events, so the same position) instead of locating them again.
    """
    extra = [c for c in cells.columns if c not in CELL_COLUMNS]
    columns = SITE_COLUMNS + extra
    site_of = sims["main_site"].astype(str)
    placed = (site_of != "").to_numpy()
    if not placed.all():
        sims, site_of, hours = sims.loc[placed], site_of.loc[placed], np.asarray(hours)[placed]
    if len(sims) == 0:
        return pd.DataFrame(columns=columns)
    code, names = codes_of(site_of)
    located = _site_locations(site_of, code, names, sims["deployment_id"], deployments, located,
                              cell_events, cells)
    site_info = cells.groupby("site_id")[extra].first() if extra else None
    n_dev = devices_per(devices, pd.Series(code, index=site_of.index), "site")   # by code
    texts = dict(zip(names, hours_text(sum_rows(hours, code, len(names)))))
    mean_lat = cells.groupby("site_id")["lat"].mean()
    mean_lon = cells.groupby("site_id")["lon"].mean()
    # each site's SIMs (in their order), then one row per site in order of first appearance
    members = _members(code)
    by_dep = site_deployments(site_of, sims["deployment_id"], deployments, (code, names))
    classes = codes_of(sims["class"])
    first_seen, last_seen = _instants(sims["first_seen"]), _instants(sims["last_seen"])
    events = sims["n_events"].to_numpy() if "n_events" in sims else None
    tz = sims["first_seen"].dt.tz if isinstance(sims["first_seen"].dtype, pd.DatetimeTZDtype) \
        else None
    rows = []
    for i, (s, idx) in enumerate(zip(names, members)):
        loc = located.loc[s] if s in located.index else None
        if loc is None:
            lat, lon = float(mean_lat.get(s, np.nan)), float(mean_lon.get(s, np.nan))
        row = {
            "site_id": s,
            "lat": float(loc["lat"]) if loc is not None else lat,
            "lon": float(loc["lon"]) if loc is not None else lon,
            "radius_m": float(loc["radius_m"]) if loc is not None else 0.0,
            "cells": loc["cells"] if loc is not None else "",
            **by_dep[s],
            "class": _code_counts(classes[0][idx], classes[1])[0][0],
            "n_sims": len(idx),
            "n_devices": int(n_dev.get(i, 0)),
            "active_hours": texts[s],
            "first_seen": _stamp(first_seen[idx].min(), tz),
            "last_seen": _stamp(last_seen[idx].max(), tz),
            "events": int(events[idx].sum()) if events is not None else 0,
        }
        for c in extra:
            row[c] = site_info[c].get(s, "") if site_info is not None else ""
        rows.append(row)
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["priority", "n_sims"], ascending=False, kind="stable") \
        .reset_index(drop=True)


def _site_locations(site_of: pd.Series, code: np.ndarray, names, deployment_id: pd.Series,
                    deployments: pd.DataFrame, located: pd.DataFrame | None,
                    cell_events: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """:func:`locate` of the sites (``site_of`` per SIM, factorized as ``code``, ``names``):
    a site whose SIMs are all of one deployment that has no other SIM takes that deployment's
    row of ``located`` (indexed by deployment id); the other sites are located."""
    if located is None or not len(located) or not len(code):
        return locate(site_of, cell_events, cells)
    dep_code, dep_names = codes_of(deployment_id)
    n = len(names)
    lo = np.full(n, np.iinfo(np.int64).max)
    hi = np.full(n, -1)
    np.minimum.at(lo, code, dep_code)
    np.maximum.at(hi, code, dep_code)
    per_site = np.bincount(code, minlength=n)
    size = deployments.set_index("deployment_id")["n_sims"].reindex(
        np.asarray(dep_names, dtype=object)).to_numpy(dtype=float)
    one = (lo == hi) & (lo >= 0)
    one[one] = size[lo[one]] == per_site[one]
    dep = np.asarray(dep_names, dtype=object)[np.where(one, lo, 0)]
    one &= pd.Index(dep).isin(located.index) if one.any() else one
    if not one.any():
        return locate(site_of, cell_events, cells)
    taken = located.loc[dep[one]].set_axis(pd.Index(np.asarray(names, dtype=object)[one]))
    rest = ~one[code]
    if not rest.any():
        return taken
    return pd.concat([taken, locate(site_of.loc[rest], cell_events, cells)])


def _members(code: np.ndarray) -> list:
    """Per code 0..n-1 (``pd.factorize`` codes): the positions holding it, in order (codes
    in order already, as one site's: no sort)."""
    code = np.asarray(code)
    if (code[1:] >= code[:-1]).all():
        return np.split(np.arange(len(code)), np.flatnonzero(np.diff(code)) + 1)
    return np.split(np.argsort(code, kind="stable"), np.flatnonzero(np.diff(np.sort(code))) + 1)


def site_deployments(site_of: pd.Series, deployment_id: pd.Series, deployments: pd.DataFrame,
                     factorized: tuple | None = None) -> dict:
    """Per site (``site_of``: the site of each flagged SIM, ``deployment_id`` its
    deployment): its ``deployments`` (ids, sorted, ``;``-joined), ``n_deployments`` and
    ``priority``: the sum over its deployments of the deployment's priority times the
    share of the deployment's SIMs at the site (``deployments`` from
    :func:`simbox.deployments.deployment_table`), summed as pandas would: the terms in
    ``value_counts`` order (most SIMs first).  ``factorized``: ``pd.factorize`` of
    ``site_of``'s values, when the caller has it."""
    size_of = deployments.set_index("deployment_id")["n_sims"].to_dict()
    prio_of = deployments.set_index("deployment_id")["priority"].to_dict()
    code, names = factorized if factorized is not None else codes_of(site_of)
    ids, id_names = codes_of(deployment_id)
    out = {}
    for s, idx in zip(names, _members(code)):
        deps, counts = _code_counts(ids[idx], id_names)
        prio = float((np.array([prio_of[d] for d in deps], dtype=float) * counts /
                      np.array([size_of[d] for d in deps], dtype=float)).sum())
        out[s] = {"deployments": ";".join(sorted(deps)), "n_deployments": len(deps),
                  "priority": round(prio, 1)}
    return out
