"""The radio network: sites and cells over a city, plus a few distant towns.

Sites are scattered around the city centre with a density falling off
exponentially (dense core, sparse suburbs), macro sites carry three sectors
(azimuths about 0/120/240 degrees), small cells one.  Each place where a
subscriber or a device stays has a *primary cell*; events there are served by
it most of the time and otherwise by one of its nearest cells (serving-cell
jitter, as in real CDRs).  Cell tokens follow ``MCCMNC-LAC-CI``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

EARTH_KM_PER_DEG = 111.32


class RadioNetwork:
    """Cells (rows of :attr:`cells`, code = row index) with neighbour lists.

    ``city`` marks the cells of the city; ``weight_home`` / ``weight_work`` are
    the relative densities used to place homes and work places (work places
    concentrate in the business district, so its cells carry heavy load).
    """

    def __init__(self, rng: np.random.Generator, cfg, n_subscribers: int):
        c = cfg.city
        n_sites = max(int(c.min_sites), int(np.ceil(n_subscribers / c.subscribers_per_site)))
        # -- city sites: radius from a truncated exponential, angle uniform
        u = rng.random(n_sites)
        rmax = float(c.radius_km)
        scale = float(c.density_scale_km)
        r = -scale * np.log1p(-u * (1 - np.exp(-rmax / scale)))
        theta = rng.random(n_sites) * 2 * np.pi
        x, y = r * np.cos(theta), r * np.sin(theta)       # km east / north of the centre
        small = rng.random(n_sites) < c.small_cell_share
        # -- distant towns: a few sites each
        n_towns = int(c.towns)
        lo, hi = c.town_distance_km
        tr = rng.uniform(lo, hi, size=n_towns)
        tt = rng.random(n_towns) * 2 * np.pi
        per = int(c.town_sites)
        tx = np.repeat(tr * np.cos(tt), per) + rng.normal(0, 1.5, n_towns * per)
        ty = np.repeat(tr * np.sin(tt), per) + rng.normal(0, 1.5, n_towns * per)
        town_of_site = np.concatenate([np.full(n_sites, -1), np.repeat(np.arange(n_towns), per)])
        x = np.concatenate([x, tx])
        y = np.concatenate([y, ty])
        small = np.concatenate([small, np.zeros(n_towns * per, bool)])
        n_all = len(x)
        sectors = np.where(small, 1, 3)
        site_of_cell = np.repeat(np.arange(n_all), sectors)
        sector = np.concatenate([np.arange(s) for s in sectors])
        az0 = rng.integers(0, 120, size=n_all)
        azimuth = np.where(np.repeat(small, sectors), 0,
                           (np.repeat(az0, sectors) + 120 * sector) % 360)
        # cell positions: the site, nudged 60 m toward the sector's direction
        cx = x[site_of_cell] + np.where(azimuth > 0, 0.06 * np.sin(np.radians(azimuth)), 0)
        cy = y[site_of_cell] + np.where(azimuth > 0, 0.06 * np.cos(np.radians(azimuth)), 0)
        lat0, lon0 = float(c.centre_lat), float(c.centre_lon)
        site_lat = lat0 + y / EARTH_KM_PER_DEG
        site_lon = lon0 + x / (EARTH_KM_PER_DEG * np.cos(np.radians(lat0)))
        # LAC: a 5 km grid (towns get their own), CI = site number * 10 + sector
        lac = np.where(town_of_site < 0,
                       4000 + (np.floor(x / 5) + 20) * 40 + (np.floor(y / 5) + 20),
                       9000 + np.maximum(town_of_site, 0)).astype(np.int64)
        site_ids = np.array([f"S{i:05d}" for i in range(n_all)], dtype=object)
        mccmnc = cfg.run.mcc_mnc
        ci = (np.arange(n_all)[site_of_cell] + 1) * 10 + sector + 1
        tokens = np.array([f"{mccmnc}-{lac[s]}-{ci_}" for s, ci_ in zip(site_of_cell, ci)],
                          dtype=object)
        self.cells = pd.DataFrame({
            "cell_id": tokens,
            "site_id": site_ids[site_of_cell],
            "lat": np.round(site_lat[site_of_cell], 6),
            "lon": np.round(site_lon[site_of_cell], 6),
            "azimuth": azimuth.astype(np.int64),
        })
        self.n_cells = len(tokens)
        self.site_of_cell = site_of_cell
        self.site_xy = np.column_stack([x, y])
        self.xy = np.column_stack([cx, cy])
        self.town_of_cell = town_of_site[site_of_cell]
        self.city = self.town_of_cell < 0
        self.city_cells = np.flatnonzero(self.city)
        self.n_towns = n_towns
        self.town_cells = [np.flatnonzero(self.town_of_cell == t) for t in range(n_towns)]
        # densities: homes follow the site density (one weight per cell); work places
        # concentrate in the business district
        d = np.hypot(cx, cy)
        self.weight_home = np.where(self.city, 1.0, 0.0)
        self.weight_work = np.where(self.city, 1.0 + 8.0 * np.exp(-(d / float(c.cbd_km)) ** 2), 0.0)
        tree = cKDTree(self.xy)
        k = min(int(c.neighbours) + 1, self.n_cells)
        self.near = tree.query(self.xy, k=k)[1].astype(np.int32)           # includes itself
        kw = min(int(c.wide_neighbours) + 1, self.n_cells)
        self.wide = tree.query(self.xy, k=kw)[1].astype(np.int32)
        self.p_primary = float(cfg.mobility.p_primary_cell)
        # radio conditions differ per place: how often another cell serves it, and how
        # many other cells can (1 at a clean spot, up to 6 at a cell edge)
        self.place_p = np.clip(self.p_primary + rng.normal(0, 0.07, self.n_cells), 0.55, 0.995)
        self.place_k = rng.integers(1, min(7, self.near.shape[1]), size=self.n_cells)

    # -- picking places -------------------------------------------------------
    def pick(self, rng, n, weight="home", cells=None):
        """``n`` primary cells drawn with the home or work density."""
        w = self.weight_home if weight == "home" else self.weight_work
        if cells is not None:
            w = np.where(np.isin(np.arange(self.n_cells), cells), w, 0.0)
        p = w / w.sum()
        return rng.choice(self.n_cells, size=n, p=p).astype(np.int32)

    def pick_sites(self, rng, n, weight="home"):
        """Primary cells of ``n`` distinct sites (for deployments at their own site)."""
        cells = self.pick(rng, 4 * n + 8, weight)
        _, first = np.unique(self.site_of_cell[cells], return_index=True)
        order = np.sort(first)[:n]
        out = cells[order]
        if len(out) < n:   # tiny networks: reuse sites
            out = np.resize(out, n)
        return out

    def serve(self, rng, place: np.ndarray, p_primary=None) -> np.ndarray:
        """Serving cell of events at ``place`` (primary cell, sometimes a near one)."""
        place = np.asarray(place, np.int32)
        p = self.place_p[place]
        if p_primary is not None:          # a device's own radio (e.g. a gateway's antennas)
            p = np.maximum(p, p_primary)
        jitter = rng.random(len(place)) >= p
        out = place.copy()
        if jitter.any():
            # the other sectors of the site and the nearest cells, nearest first
            pj = place[jitter]
            k = self.place_k[pj]
            j = 1 + np.minimum((rng.random(len(pj)) ** 2 * k).astype(np.int64), k - 1)
            out[jitter] = self.near[pj, j]
        return out

    def wander(self, rng, base: np.ndarray) -> np.ndarray:
        """A random cell within the wide area around ``base``."""
        k = self.wide.shape[1]
        return self.wide[base, rng.integers(0, k, size=len(base))]

    def distance_km(self, a, b):
        return np.hypot(*(self.xy[a] - self.xy[b]).T)
