"""The map of the report: inline SVG drawn from coordinates, no tiles.

The view covers the sites with a margin (at least 1 km); the city's cells in the
view are drawn as faint points, so the map reads without any base map.  Each site
is a circle sized by its SIM count and coloured by class, numbered by priority
rank, with its dashed confidence circle (true to scale) when it has one.  A scale
bar and a north arrow make distances readable; hovering shows the details.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simbox.outputs import CLASS_COLOURS
from simbox.svg import add as _add, root as svg_root, text as _text

__all__ = ["site_map", "site_maps"]

WIDTH, HEIGHT, PAD = 1000, 620, 28
M_PER_DEG = 111_195.0


NICE_LENGTHS_M = (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 50_000,
                  100_000, 200_000, 500_000)


def _nice_length(max_m: float) -> float:
    """The longest round length not above ``max_m`` (50 m at least)."""
    fits = [v for v in NICE_LENGTHS_M if v <= max_m]
    return fits[-1] if fits else NICE_LENGTHS_M[0]


def _label(m: float) -> str:
    return f"{m / 1000:g} km" if m >= 1000 else f"{m:g} m"


def site_map(sites: pd.DataFrame, cells: pd.DataFrame | None, *, focus: int | None = None,
             width: int = WIDTH, height: int = HEIGHT, legend: bool = True,
             min_pad_m: float = 1000.0, used_cells: str = "") -> tuple[str, str]:
    """An ``<svg>`` element with the sites over the cells, and its caption.

    Sites are numbered by their row (priority rank).  ``focus`` (a row number)
    centres the view on that site alone (the others still drawn when in view);
    ``used_cells`` (";"-list) rings the masts of those cells.
    """
    return site_maps(sites, cells, [dict(focus=focus, width=width, height=height, legend=legend,
                                         min_pad_m=min_pad_m, used_cells=used_cells)])[0]


def site_maps(sites: pd.DataFrame, cells: pd.DataFrame | None, views: list[dict]) -> list:
    """:func:`site_map` of each of ``views`` (its keyword arguments) of the same sites and
    cells: what does not depend on the view (the sites' values and marker texts, the masts'
    coordinates) made once for all of them (a report draws seven)."""
    layer = _Layer(sites, cells)
    return [layer.draw(**view) for view in views]


class _Layer:
    """The located sites of a site list and the masts of a cell table, as a map draws them."""

    def __init__(self, sites: pd.DataFrame, cells: pd.DataFrame | None):
        located = sites["lat"].notna().to_numpy() & sites["lon"].notna().to_numpy()
        s = sites.loc[located] if not located.all() else sites
        self.n = len(s)
        if not self.n:
            return
        self.s = s
        self.ranks = (np.flatnonzero(located) + 1).tolist()
        self.lat, self.lon = s["lat"].to_numpy(dtype=float), s["lon"].to_numpy(dtype=float)
        self.radius = s["radius_m"].fillna(0).to_numpy() if "radius_m" in s else np.zeros(self.n)
        n_sims = s["n_sims"].to_numpy(dtype=float) if "n_sims" in s else np.ones(self.n)
        self.r_px = np.clip(5 + 3.2 * np.sqrt(n_sims), 10, 30)
        # each site's values as a row of the table gives them (objects: a row of mixed columns)
        site_id, n_sims_v, n_devices, classes, deployments, active = _rows(
            s, ("site_id", "n_sims", "n_devices", "class", "deployments", "active_hours"))
        self.colours = [CLASS_COLOURS.get(_get(classes, i, None), "#444") for i in range(self.n)]
        self.labels = [str(v) for v in site_id]
        self.tips = []
        for i in range(self.n):
            tip = (f"#{self.ranks[i]} site {site_id[i]}: {_get(n_sims_v, i, '?')} SIMs, "
                   f"{_get(n_devices, i, '?')} devices, {_get(classes, i, '')}; deployments "
                   f"{_get(deployments, i, '')}; active {_get(active, i, '')}; "
                   f"{self.lat[i]:.5f}, {self.lon[i]:.5f}")
            if self.radius[i] > 0:
                tip += f" (within about {self.radius[i]:.0f} m)"
            self.tips.append(tip)
        self.cells = cells if cells is not None and len(cells) else None
        if self.cells is not None:
            masts = cells.drop_duplicates(subset=["lat", "lon"])
            self.mast_lon, self.mast_lat = masts["lon"].to_numpy(), masts["lat"].to_numpy()

    def draw(self, *, focus: int | None = None, width: int = WIDTH, height: int = HEIGHT,
             legend: bool = True, min_pad_m: float = 1000.0, used_cells: str = ""):
        """:func:`site_map` of these sites and cells."""
        if not self.n:
            return '<p class="note">No located site to draw.</p>', ""
        s, ranks, lat, lon, radius, r_px = self.s, self.ranks, self.lat, self.lon, self.radius, \
            self.r_px
        view = slice(None) if focus is None else np.asarray(ranks) == focus + 1
        lat0 = float(s["lat"][view].mean())
        kx = math.cos(math.radians(lat0)) * M_PER_DEG       # metres per degree of longitude
        ky = M_PER_DEG
        # view in metres around the sites, padded, with the map's aspect ratio
        xs, ys, rv = lon[view] * kx, lat[view] * ky, radius[view]
        x0, x1 = float((xs - rv).min()), float((xs + rv).max())
        y0, y1 = float((ys - rv).min()), float((ys + rv).max())
        pad = max(min_pad_m, 0.15 * max(x1 - x0, y1 - y0))
        x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
        w, h = width - 2 * PAD, height - 2 * PAD
        scale = min(w / (x1 - x0), h / (y1 - y0))          # px per metre
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

        def px(lon, lat):
            return (width / 2 + (np.asarray(lon) * kx - cx) * scale,
                    height / 2 - (np.asarray(lat) * ky - cy) * scale)

        svg = svg_root(width, height, "Map of the sites", "map")
        _add(svg, "rect", x="0", y="0", width=str(width), height=str(height), fill="#fdfdfb")
        n_cells = 0
        if self.cells is not None:
            cx_, cy_ = px(self.mast_lon, self.mast_lat)
            inside = (cx_ >= 0) & (cx_ <= width) & (cy_ >= 0) & (cy_ <= height)
            n_cells = int(inside.sum())
            dot = str(2 if focus is None else 3)
            g = _add(svg, "g", fill="#8a97a3", fill_opacity="0.45")
            for a, b in zip(cx_[inside], cy_[inside]):
                _add(g, "circle", cx=f"{a:.1f}", cy=f"{b:.1f}", r=dot)
            cells = self.cells
            used = cells.loc[cells.index.isin([x for x in used_cells.split(";") if x])]
            if len(used):
                ux, uy = px(used["lon"].to_numpy(), used["lat"].to_numpy())
                g = _add(svg, "g", fill="none", stroke="#1d2329", stroke_width="1.3")
                _add(g, "title", "masts of the cells these SIMs used")
                for a, b in zip(ux, uy):
                    _add(g, "circle", cx=f"{a:.1f}", cy=f"{b:.1f}", r="6")
        sx, sy = px(lon, lat)
        sx_t, sy_t = [f"{v:.1f}" for v in sx], [f"{v:.1f}" for v in sy]
        sy4 = [f"{v + 4:.1f}" for v in sy]
        # confidence circles first, then markers from the lowest priority up (rank 1 on top)
        for i in np.flatnonzero(radius > 0):
            colour = self.colours[i]
            _add(svg, "circle", cx=sx_t[i], cy=sy_t[i], r=f"{radius[i] * scale:.1f}",
                 fill=colour, fill_opacity=f"{0.07 if focus in (None, ranks[i] - 1) else 0}",
                 stroke=colour, stroke_width="1.2", stroke_dasharray="5 4")
        order = list(reversed(range(self.n)))
        if focus is not None:   # the focused site on top
            order = [i for i in order if ranks[i] != focus + 1] + \
                [i for i in order if ranks[i] == focus + 1]
        for i in order:
            g = _add(svg, "g")
            _add(g, "title", self.tips[i])
            _add(g, "circle", cx=sx_t[i], cy=sy_t[i], r=f"{r_px[i]:.1f}", fill=self.colours[i],
                 fill_opacity="0.85", stroke="#fff", stroke_width="2")
            _add(g, "text", str(ranks[i]), x=sx_t[i], y=sy4[i], text_anchor="middle",
                 font_size="12", font_weight="700", fill="#fff")
            _add(g, "text", self.labels[i], x=f"{sx[i] + r_px[i] + 4:.1f}", y=sy4[i],
                 font_size="12.5", fill="#1d2329", stroke="#fdfdfb", stroke_width="3",
                 paint_order="stroke")
        scale_bar_and_north(svg, width, height, scale)
        if not legend:
            return _text(svg), f"view about {_label(round(width / scale, -2))} across"
        map_legend(svg)
        width_m = width / scale
        caption = (f"{len(s)} site(s), {n_cells} cell site(s) of the network in view, "
                   f"view about {_label(round(width_m, -2) or width_m)} across; numbers are priority ranks")
        return _text(svg), caption



def scale_bar_and_north(svg, width: float, height: float, scale: float) -> None:
    """A map's scale bar (bottom left, a round length near a quarter of the width) and its
    north arrow (top right); ``scale``: pixels per metre."""
    bar_m = _nice_length((width / 4) / scale)
    bar_px = bar_m * scale
    bx, by = PAD, height - PAD
    g = _add(svg, "g", font_size="12", fill="#1d2329")
    _add(g, "rect", x=str(bx - 6), y=str(by - 22), width=f"{bar_px + 60:.1f}", height="30",
         fill="#fdfdfb", fill_opacity="0.85")
    _add(g, "path", d=f"M{bx} {by - 6}v6h{bar_px:.1f}v-6", fill="none", stroke="#1d2329",
         stroke_width="2")
    _add(g, "text", _label(bar_m), x=f"{bx + bar_px + 6:.1f}", y=str(by))
    nx, ny = width - PAD - 10, PAD + 6
    g = _add(svg, "g")
    _add(g, "path", d=f"M{nx} {ny}l8 22h-16z", fill="#1d2329")
    _add(g, "text", "N", x=str(nx), y=str(ny + 38), text_anchor="middle", font_size="13",
         font_weight="700", fill="#1d2329")


def map_legend(svg) -> None:
    """A map's legend (top left): the classes' colours, the network's cell sites, the
    confidence radius."""
    ly = PAD
    g = _add(svg, "g", font_size="12", fill="#1d2329")
    _add(g, "rect", x=str(PAD - 6), y=str(ly - 14), width="230", height="84", fill="#fdfdfb",
         fill_opacity="0.9", stroke="#d9dee3")
    for k, (cls, colour) in enumerate(CLASS_COLOURS.items()):
        _add(g, "circle", cx=str(PAD + 4), cy=str(ly + k * 18), r="6", fill=colour)
        _add(g, "text", f"{cls} site (size: SIMs)", x=str(PAD + 16), y=str(ly + 4 + k * 18))
    _add(g, "circle", cx=str(PAD + 4), cy=str(ly + 36), r="2.5", fill="#8a97a3")
    _add(g, "text", "cell site of the network", x=str(PAD + 16), y=str(ly + 40))
    _add(g, "circle", cx=str(PAD + 4), cy=str(ly + 54), r="6", fill="none", stroke="#444",
         stroke_dasharray="3 2")
    _add(g, "text", "confidence radius", x=str(PAD + 16), y=str(ly + 58))

_MISSING = object()


def _rows(s: pd.DataFrame, columns) -> list:
    """Per column of ``columns``, its values as a row of ``s`` holds them (``s.loc[i]``): a
    list (:data:`_MISSING` for a column ``s`` lacks).  A row of columns of several dtypes
    is of objects: each value boxed alone, numbers as numpy scalars (their text as Python's)."""
    return [s[c].tolist() if c in s else _MISSING for c in columns]


def _get(values, i: int, default):
    """``row.get(column, default)`` of row ``i`` of a :func:`_rows` column."""
    return default if values is _MISSING else values[i]
