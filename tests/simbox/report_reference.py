"""The report's code as it was before session 20 (main at bc14f57): the reference its faster
paths are tested against (tests/simbox/test_report_fast_paths.py).  Verbatim but for the
names it imports."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from simbox.outputs import CLASS_COLOURS, FORMULA_START, _NUMBER
from simbox.deployments import one_text
from simbox.pages import Markup, _environment
from simbox.report import FIELD_SHEETS, field_sheet, _any_cell
from simbox.report_map import WIDTH, HEIGHT, PAD, M_PER_DEG, _label, \
    map_legend, scale_bar_and_north
from simbox.report_plots import (NOT_FLAGGED, histogram)
from simbox.svg import add as _add, root as svg_root


def _text(svg) -> str:
    """(simbox.svg.text as it was)"""
    return ET.tostring(svg, encoding="unicode", short_empty_elements=True)


text = _text


def site_map(sites: pd.DataFrame, cells: pd.DataFrame | None, *, focus: int | None = None,
             width: int = WIDTH, height: int = HEIGHT, legend: bool = True,
             min_pad_m: float = 1000.0, used_cells: str = "") -> tuple[str, str]:
    """An ``<svg>`` element with the sites over the cells, and its caption.

    Sites are numbered by their row (priority rank).  ``focus`` (a row number)
    centres the view on that site alone (the others still drawn when in view);
    ``used_cells`` (";"-list) rings the masts of those cells.
    """
    s = sites.reset_index(drop=True)
    s = s.assign(_rank=np.arange(1, len(s) + 1)).dropna(subset=["lat", "lon"]).reset_index(drop=True)
    if len(s) == 0:
        return '<p class="note">No located site to draw.</p>', ""
    view = s if focus is None else s.loc[s["_rank"] == focus + 1]
    lat0 = float(view["lat"].mean())
    kx = math.cos(math.radians(lat0)) * M_PER_DEG       # metres per degree of longitude
    ky = M_PER_DEG
    # view in metres around the sites, padded, with the map's aspect ratio
    xs, ys = view["lon"].to_numpy() * kx, view["lat"].to_numpy() * ky
    rv = view["radius_m"].fillna(0).to_numpy() if "radius_m" in view else np.zeros(len(view))
    x0, x1 = float((xs - rv).min()), float((xs + rv).max())
    y0, y1 = float((ys - rv).min()), float((ys + rv).max())
    radius = s["radius_m"].fillna(0).to_numpy() if "radius_m" in s else np.zeros(len(s))
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
    if cells is not None and len(cells):
        c = cells.drop_duplicates(subset=["lat", "lon"])
        cx_, cy_ = px(c["lon"].to_numpy(), c["lat"].to_numpy())
        inside = (cx_ >= 0) & (cx_ <= width) & (cy_ >= 0) & (cy_ <= height)
        n_cells = int(inside.sum())
        dot = str(2 if focus is None else 3)
        g = _add(svg, "g", fill="#8a97a3", fill_opacity="0.45")
        for a, b in zip(cx_[inside], cy_[inside]):
            _add(g, "circle", cx=f"{a:.1f}", cy=f"{b:.1f}", r=dot)
        used = cells.loc[cells.index.isin([x for x in used_cells.split(";") if x])]
        if len(used):
            ux, uy = px(used["lon"].to_numpy(), used["lat"].to_numpy())
            g = _add(svg, "g", fill="none", stroke="#1d2329", stroke_width="1.3")
            _add(g, "title", "masts of the cells these SIMs used")
            for a, b in zip(ux, uy):
                _add(g, "circle", cx=f"{a:.1f}", cy=f"{b:.1f}", r="6")
    sx, sy = px(s["lon"].to_numpy(), s["lat"].to_numpy())
    n_sims = s["n_sims"].to_numpy(dtype=float) if "n_sims" in s else np.ones(len(s))
    r_px = np.clip(5 + 3.2 * np.sqrt(n_sims), 10, 30)
    # confidence circles first, then markers from the lowest priority up (rank 1 on top)
    for i in range(len(s)):
        i_rank = int(s.loc[i, "_rank"])
        if radius[i] > 0:
            colour = CLASS_COLOURS.get(s.loc[i, "class"], "#444")
            _add(svg, "circle", cx=f"{sx[i]:.1f}", cy=f"{sy[i]:.1f}", r=f"{radius[i] * scale:.1f}",
                 fill=colour, fill_opacity=f"{0.07 if focus in (None, i_rank - 1) else 0}",
                 stroke=colour, stroke_width="1.2", stroke_dasharray="5 4")
    order = list(reversed(range(len(s))))
    if focus is not None:   # the focused site on top
        order = [i for i in order if s.loc[i, "_rank"] != focus + 1] + \
            [i for i in order if s.loc[i, "_rank"] == focus + 1]
    for i in order:
        row = s.loc[i]
        colour = CLASS_COLOURS.get(row.get("class"), "#444")
        tip = (f"#{row['_rank']} site {row['site_id']}: {row.get('n_sims', '?')} SIMs, "
               f"{row.get('n_devices', '?')} devices, {row.get('class', '')}; deployments "
               f"{row.get('deployments', '')}; active {row.get('active_hours', '')}; "
               f"{row['lat']:.5f}, {row['lon']:.5f}")
        if radius[i] > 0:
            tip += f" (within about {radius[i]:.0f} m)"
        g = _add(svg, "g")
        _add(g, "title", tip)
        _add(g, "circle", cx=f"{sx[i]:.1f}", cy=f"{sy[i]:.1f}", r=f"{r_px[i]:.1f}", fill=colour,
             fill_opacity="0.85", stroke="#fff", stroke_width="2")
        _add(g, "text", str(row["_rank"]), x=f"{sx[i]:.1f}", y=f"{sy[i] + 4:.1f}", text_anchor="middle",
             font_size="12", font_weight="700", fill="#fff")
        _add(g, "text", str(row["site_id"]), x=f"{sx[i] + r_px[i] + 4:.1f}", y=f"{sy[i] + 4:.1f}",
             font_size="12.5", fill="#1d2329", stroke="#fdfdfb", stroke_width="3", paint_order="stroke")
    scale_bar_and_north(svg, width, height, scale)     # (unchanged: the module's)
    if not legend:
        return _text(svg), f"view about {_label(round(width / scale, -2))} across"
    map_legend(svg)
    width_m = width / scale
    caption = (f"{len(s)} site(s), {n_cells} cell site(s) of the network in view, "
               f"view about {_label(round(width_m, -2) or width_m)} across; numbers are priority ranks")
    return _text(svg), caption



def _field_sheets(result, sites: pd.DataFrame) -> list[dict]:
    flagged = result.flagged
    sheets = []
    for i, row in enumerate(sites.head(FIELD_SHEETS).to_dict(orient="records")):
        mini, caption = site_map(sites, result.cells, focus=i, width=250, height=250, legend=False,
                                 min_pad_m=500, used_cells=str(row.get("cells", "")))
        here = flagged.loc[flagged["main_site"].astype(str) == str(row["site_id"])]
        types = here["device_type"].replace("", "unknown").value_counts() \
            if "device_type" in here else pd.Series(dtype=int)
        deps = here.groupby("deployment_id")["class"].agg(lambda c: c.value_counts().index[0])
        sheets.append(field_sheet(result, i, row, list(types.items()), list(deps.items()),
                                  (mini, caption)))       # (unchanged: the module's)
    return sheets


def _cell(col: str, v) -> tuple:
    """(report._cell as it was: without its first case, the text's)"""
    return _any_cell(col, v)


def html_table(df: pd.DataFrame, headers: dict[str, str] | None = None) -> Markup:
    """A plain HTML table of ``df`` (times as ISO UTC), headers renamed by ``headers``."""
    headers = headers or {}
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]) and df[c].dt.tz is not None:
            df = df.assign(**{c: df[c].dt.tz_convert("UTC")})
    numeric = {c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and c != "rank"}
    head = [(headers.get(c, c), c in numeric) for c in df.columns]
    rows = [[_cell(c, v) for c, v in zip(df.columns, row)]
            for row in df.itertuples(index=False, name=None)]
    return Markup(_TABLE.render(head=head, rows=rows))


def score_series(scores: pd.Series, classes: pd.Series, threshold: float | None) -> list:
    """(report_plots.score_plot's bars as it made them: each class as an object compared)"""
    score = np.asarray(scores, dtype=float)
    cls = np.asarray(classes, dtype=object)
    flagged = score >= threshold if threshold is not None else np.zeros(len(score), bool)
    series = [("not flagged", NOT_FLAGGED, histogram(score[~flagged]))]
    for c, colour in CLASS_COLOURS.items():
        sel = flagged & (cls == c)
        if sel.any():
            series.append((f"flagged {c}", colour, histogram(score[sel])))
    return series


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, made inert (CSV injection).

    As OWASP recommends: a text cell starting with ``= + - @``, a tab or a carriage
    return gets a leading single quote (``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``),
    so Excel, LibreOffice and Google Sheets show it as text.  Numbers (``-12.5``)
    and non-text columns are left as they are.
    Each distinct value of an object column is tested once (a device rule's 100,000
    flagged SIMs share one reason: a column of one text is tested once without hashing).
    """
    out = None
    for c in df.columns:
        col = df[c]
        if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
            continue
        if pd.api.types.is_string_dtype(col) and not pd.api.types.is_object_dtype(col):
            text = formula_starts(col)
            if text.any():
                text[text] = [_NUMBER.fullmatch(str(v)) is None for v in col[text]]
        elif one_text(values := col.to_numpy(dtype=object)):    # one text in every row
            text = np.full(len(values), _formula(values[0]), dtype=bool)
        else:                                    # objects: each distinct value tested once
            try:
                code, uniques = pd.factorize(col)
            except TypeError:                    # unhashable objects: each value tested
                code, uniques = np.arange(len(col)), values
            risky = np.array([_formula(v) for v in uniques] + [False], dtype=bool)
            text = risky[code]                   # code -1 (missing): the False appended
        if text.any():
            out = df.copy() if out is None else out
            out.loc[text, c] = "'" + col[text].astype(str)
    return df if out is None else out



def hour_bars(profile) -> Markup:
    """A tiny inline SVG bar chart of 24 hourly counts (hours 0-23, left to right)."""
    p = np.asarray(profile, dtype=float)
    top = p.max() if len(p) and p.max() > 0 else 1.0
    bars = "".join(f'<rect x="{3 * h}" y="{18 - 17 * v / top:.1f}" width="2.4" '
                   f'height="{max(0.6, 17 * v / top):.1f}"/>' for h, v in enumerate(p))
    return Markup(f'<svg class="hours" viewBox="0 0 72 18" width="96" height="24" role="img" '
                  'preserveAspectRatio="none" '
                  f'aria-label="events by hour of day"><title>events by hour of day, 00 to 23</title>'
                  f'<rect x="0" y="17.4" width="72" height="0.6" fill="#c5ced6"/>'
                  f'<g fill="#1d2329">{bars}</g></svg>')


def formula_starts(col: pd.Series) -> np.ndarray:
    """(its definition, where main read Arrow's first bytes)"""
    return col.str[:1].isin(FORMULA_START).to_numpy(dtype=bool).copy()


def _formula(v) -> bool:
    return isinstance(v, str) and v[:1] in FORMULA_START and _NUMBER.fullmatch(v) is None


#: simbox/templates/_table.html as it was, rendered by the report's environment
_TABLE = _environment().from_string('{% if not rows %}<p class="note">None.</p>{% else %}\n<table><thead><tr>{% for name, numeric in head %}<th{% if numeric %} class=num{% endif %}>{{ name }}</th>{% endfor %}</tr></thead><tbody>\n{% for row in rows %}<tr>{% for cls, kind, v in row %}<td{% if cls %} class="{{ cls }}"{% endif %}>\n{%- if kind == "badge" %}<span class="badge {{ v }}">{{ v }}</span>\n{%- elif kind == "rank" %}<span class="rank">{{ v }}</span>\n{%- elif kind == "parts" %}{% for p in v %}<span class="nw">{{ p }}</span>{% if not loop.last %}; {% endif %}{% endfor %}\n{%- else %}{{ v }}{% endif %}</td>{% endfor %}</tr>\n{% endfor %}</tbody></table>{% endif %}\n')
