"""report.html: one self-contained page a field team and an analyst can use offline.

Everything is inline: CSS, the SVG map (drawn from coordinates, the cells as
background), the tables and the SVG plots.  There is no script and no external
URL; a Content-Security-Policy meta tag (``default-src 'none'``) makes the browser
refuse any request the page might still try, so it works the same on a laptop in
the field with no network.  The page is the Jinja2 template
``simbox/templates/report.html`` and its partials (autoescape on); this module
gathers the values it shows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simbox.deployments import LINK_KINDS, SUBSCRIBER_BLOCK, factorized
from simbox.pages import Markup, compile_templates, render
from simbox.report_map import site_maps
from simbox.report_plots import feature_plot, hours_plot, score_plot

__all__ = ["render_report", "html_table", "prepare"]

#: the templates of report.html: the page and every template it extends or includes
TEMPLATES = ("report.html", "base.html", "_report.css", "_todo.html", "_warnings.html",
             "_sheet.html", "_table.html", "_method.html")

FLAGGED_ROWS = 500
NUMBER_FORMATS = {"lat": "{:.5f}", "lon": "{:.5f}", "radius_m": "{:,.0f}", "score": "{:.3f}",
                  "priority": "{:.1f}"}
ID_COLUMNS = ("imsi", "subscriber", "msisdn", "site_id", "deployment_id", "imei")


def hour_bars(profile) -> Markup:
    """A tiny inline SVG bar chart of 24 hourly counts (hours 0-23, left to right)."""
    p = np.asarray(profile, dtype=float)
    top = float(p.max()) if len(p) and p.max() > 0 else 1.0
    bars = "".join(f'<rect x="{3 * h}" y="{18 - 17 * v / top:.1f}" width="2.4" '
                   f'height="{max(0.6, 17 * v / top):.1f}"/>'
                   for h, v in enumerate(p.tolist()))     # (Python floats: the same bits)
    return Markup(f'<svg class="hours" viewBox="0 0 72 18" width="96" height="24" role="img" '
                  'preserveAspectRatio="none" '
                  f'aria-label="events by hour of day"><title>events by hour of day, 00 to 23</title>'
                  f'<rect x="0" y="17.4" width="72" height="0.6" fill="#c5ced6"/>'
                  f'<g fill="#1d2329">{bars}</g></svg>')


FIELD_SHEETS = 6


def _where(row, within: str) -> str:
    """A site's coordinates (``within`` formats its confidence radius), or that they are unknown
    (a scan without a cell table)."""
    if pd.isna(row["lat"]) or pd.isna(row["lon"]):
        where = "coordinates unknown (no cell table)"
    else:
        where = f"{row['lat']:.5f}, {row['lon']:.5f}"
    if row.get("radius_m", 0) and row["radius_m"] > 0:
        where += within.format(row["radius_m"])
    return where


def _maps(result, sites: pd.DataFrame) -> list:
    """The report's maps, ``(svg, caption)``: the map of every site, then one of each field
    sheet's site (:data:`FIELD_SHEETS`), centred on it."""
    shown = sites.head(FIELD_SHEETS)
    cells = [str(c) for c in shown["cells"].tolist()] if "cells" in shown else [""] * len(shown)
    return site_maps(sites, result.cells, [{}] + [
        dict(focus=i, width=250, height=250, legend=False, min_pad_m=500, used_cells=cells[i])
        for i in range(len(shown))])


def _field_sheets(result, sites: pd.DataFrame, maps: list) -> list[dict]:
    """The first sites' field sheets, with their maps (``maps``: one a sheet, :func:`_maps`)
    and what their SIMs are (:class:`_Tally`)."""
    flagged = result.flagged
    sheets = []
    shown = sites.head(FIELD_SHEETS).to_dict(orient="records")
    tally = _Tally(flagged, [str(row["site_id"]) for row in shown]) if shown else None
    for i, row in enumerate(shown):
        types, deps = tally.site(str(row["site_id"]))
        sheets.append(field_sheet(result, i, row, types, deps, maps[i]))
    return sheets


def field_sheet(result, i: int, row: dict, types: list, deps: list, drawn: tuple) -> dict:
    """The field sheet of the site ``row`` (rank ``i + 1``): ``types`` its SIMs' device types
    with their counts, ``deps`` its deployments with their classes (pairs, in the order
    shown), ``drawn`` its map and caption."""
    mini, caption = drawn
    items = [("where", _where(row, " \u00b1 {:.0f} m"))]
    if row.get("address"):
        items.append(("address", str(row["address"])))
    items += [
        ("when", (row["active_hours"] or "-") + " (local time)"),
        ("seen", f"{_day(row['first_seen'])} to {_day(row['last_seen'])}"),
        ("expect", f"{_count(row['n_sims'], 'SIM')} in {_count(row['n_devices'], 'device')}"
         + (" (" + ", ".join(f"{n} {t}" for t, n in types) + ")" if len(types) else "")),
        ("deployments", ", ".join(f"{d} ({c})" for d, c in deps)),
        ("cells", _first_items(str(row.get("cells", "")), 4).replace(";", "; ")),
        ("priority", f"{row['priority']:.1f}"),
    ]
    return {"rank": i + 1, "site_id": str(row["site_id"]), "cls": row["class"], "map": Markup(mini),
            "caption": caption, "items": items,
            "hours": hour_bars(result.site_hours.get(row["site_id"], np.zeros(24)))}


class _Tally:
    """The flagged SIMs of some sites (``site_ids``), as a field sheet counts them, from codes
    made once (the main sites of every flagged SIM, the deployments, classes and device
    types of those at these sites).

    :meth:`site` gives ``(types, deployments)``: the SIMs' device types with how many
    (``""`` counted as ``unknown``), most first, ties in order of first appearance (as
    ``value_counts`` orders them), missing ones left out; and the deployments they belong
    to, ordered by id (as ``groupby`` orders them), each with the class most of its SIMs
    here have (ties: the first to appear).
    """

    def __init__(self, flagged: pd.DataFrame, site_ids: list[str]):
        code, names = factorized(flagged["main_site"].astype(str))
        site_code = {name: k for k, name in enumerate(names.tolist())}
        self.site_code = {s: site_code.get(s, -2) for s in site_ids}
        at = np.flatnonzero(np.isin(code, list(self.site_code.values())))  # (these sites' SIMs)
        self.code = code[at]
        self.dep, self.dep_names = factorized(flagged["deployment_id"].take(at))
        self.cls, self.cls_names = factorized(flagged["class"].take(at))
        self.type = None
        if "device_type" in flagged:
            code, names = factorized(flagged["device_type"].take(at))
            merged: dict = {}                 # ("" and "unknown": one type)
            remap = np.array([merged.setdefault("unknown" if t == "" else t, len(merged))
                              for t in names.tolist()] + [-1], dtype=np.int64)
            self.type, self.type_names = remap[code], list(merged)

    def site(self, site_id: str) -> tuple[list, list]:
        at = np.flatnonzero(self.code == self.site_code.get(site_id, -2))
        types = []
        if self.type is not None:
            t = self.type[at]
            types = [(self.type_names[k], n) for k, n in _most_first(t[t >= 0])]
        dep, cls = self.dep[at], self.cls[at]
        deps = []
        for d in sorted(np.unique(dep[dep >= 0]).tolist(), key=lambda d: self.dep_names[d]):
            c = cls[dep == d]
            most = _most_first(c[c >= 0])
            if not most:
                raise IndexError(f"deployment {self.dep_names[d]}: no class of its SIMs")
            deps.append((self.dep_names[d], self.cls_names[most[0][0]]))
        return types, deps


def _most_first(codes: np.ndarray) -> list[tuple[int, int]]:
    """``(code, count)`` of the distinct ``codes``, most first, ties in order of first
    appearance (``value_counts``' order)."""
    if not len(codes):
        return []
    u, first, count = np.unique(codes, return_index=True, return_counts=True)
    order = np.lexsort((first, -count))
    return list(zip(u[order].tolist(), count[order].tolist()))


def _day(t) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") if pd.notna(t) else "?"


def _cell(col: str, v) -> tuple:
    """What a table cell shows: ``(cls, kind, value)``, ``kind`` one of ``badge``, ``rank``,
    ``parts`` (a list of ";"-items) or ``text``."""
    if type(v) is str and col not in SPECIAL_COLUMNS:     # (the common case first)
        parts = v.split(";")
        cls = "id" if col in ID_COLUMNS else ""
        return (cls, "parts", parts) if len(parts) > 1 else (cls, "text", parts[0])
    return _any_cell(col, v)


def _any_cell(col: str, v) -> tuple:
    """:func:`_cell` of any value (a ``str`` too: the tests' reference of its first case)."""
    if col == "hours":            # hour_bars' SVG (pandas keeps it as a plain str)
        return "", "text", Markup(v)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "", "text", ""
    if col == "class":
        return "", "badge", str(v)
    if col == "rank":
        return "", "rank", int(v)
    if isinstance(v, (int, np.integer)):
        return "num", "text", f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        fmt = NUMBER_FORMATS.get(col)
        text = fmt.format(v) if fmt else (f"{v:.3f}" if abs(v) < 1 else f"{v:,.1f}" if abs(v) < 1000
                                          else f"{v:,.0f}")
        return "num", "text", text
    if isinstance(v, pd.Timestamp):
        return "num", "text", v.strftime("%Y-%m-%d %H:%M")
    parts = str(v).split(";")
    cls = "id" if col in ID_COLUMNS else ""
    return (cls, "parts", parts) if len(parts) > 1 else (cls, "text", parts[0])


#: the columns whose cells :func:`_cell` shows otherwise than by their values' types
SPECIAL_COLUMNS = ("hours", "class", "rank")


def html_table(df: pd.DataFrame, headers: dict[str, str] | None = None) -> Markup:
    """A plain HTML table of ``df`` (times as ISO UTC), headers renamed by ``headers``: the
    template ``_table.html`` (autoescape).  The cells (:func:`_cell`) are made column by
    column, from each column's values as objects (as its rows would give them), a column
    of times formatted at once (:func:`_minutes`), not row by row."""
    headers = headers or {}
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]) and df[c].dt.tz is not None:
            df = df.assign(**{c: df[c].dt.tz_convert("UTC")})
    numeric = {c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and c != "rank"}
    head = [(headers.get(c, c), c in numeric) for c in df.columns]
    columns = [[("num", "text", t) for t in times] if c not in SPECIAL_COLUMNS and
               (times := _minutes(df.iloc[:, j])) is not None else
               [_cell(c, v) for v in df.iloc[:, j].to_numpy(dtype=object)]
               for j, c in enumerate(df.columns)]
    rows = list(zip(*columns)) if columns else [()] * len(df)
    return Markup(render("_table.html", head=head, rows=rows))


def _minutes(col: pd.Series) -> list | None:
    """The texts :func:`_cell` shows for the times of a datetime column (``%Y-%m-%d %H:%M``),
    made at once; None (each made by :func:`_cell`) when one is missing or of a year
    before 1000 or after 9999."""
    if not pd.api.types.is_datetime64_any_dtype(col.dtype) or not len(col):
        return None
    values = (col.dt.tz_localize(None) if col.dt.tz is not None else col).to_numpy()
    minutes = values.astype("datetime64[m]")                  # (floored, as strftime shows)
    years = minutes.astype("datetime64[Y]").astype(np.int64) + 1970
    if np.isnat(minutes).any() or years.min() < 1000 or years.max() > 9999:
        return None
    return [t[:10] + " " + t[11:] for t in np.datetime_as_string(minutes, unit="m").tolist()]


def _cards(summary: dict) -> list[tuple[str, str]]:
    by = summary.get("flagged_by_class", {})
    return [
        (f"{summary.get('sims', 0):,}", "SIMs scanned"),
        (f"{summary.get('flagged', 0):,}", "SIMs to shut down" + (
            " (" + ", ".join(f"{n:,} {c}" for c, n in by.items()) + ")" if by else "")),
        (f"{summary.get('deployments', 0):,}", "deployments (boxes and farms)"),
        (f"{summary.get('sites', 0):,}", "sites to visit"),
        (f"{summary.get('devices', 0):,}", "devices (IMEIs) to seize"),
    ]


def _first_items(text: str, n: int) -> str:
    """The first ``n`` items of a ";"-list, and how many more."""
    items = [x for x in text.split(";") if x]
    return ";".join(items[:n]) + (f";+{len(items) - n} more" if len(items) > n else "")


def _count(n, word: str) -> str:
    return f"{int(n):,} {word}{'' if int(n) == 1 else 's'}"


def _visits(sites: pd.DataFrame) -> list[dict]:
    """The first three sites to visit, as the summary's to-do list says them."""
    return [{"site_id": str(row["site_id"]), "address": str(row["address"]) if row.get("address") else "",
             "where": _where(row, " (within about {:.0f} m)"), "sims": _count(row["n_sims"], "SIM"),
             "devices": _count(row["n_devices"], "device"), "cls": row["class"],
             "hours": row["active_hours"] or "-"}
            for row in sites.head(3).to_dict(orient="records")]


def prepare() -> None:
    """The report's templates compiled ahead (:data:`TEMPLATES`, ~0.05 s): ``simbox scan``
    calls it while the features are computed, so that writing the report only fills them."""
    compile_templates(TEMPLATES)


def render_report(result) -> str:
    """The HTML text of the report of a :class:`simbox.scan.ScanResult`."""
    summary = result.summary
    sites = result.sites.reset_index(drop=True)
    deployments = result.deployments
    flagged = result.flagged
    (map_svg, caption), *minis = _maps(result, sites)
    site_cols = ["rank", "site_id"] + (["address"] if "address" in sites.columns else []) + [
        "lat", "lon", "radius_m", "class", "n_sims", "n_devices", "deployments", "active_hours",
        "hours", "first_seen", "last_seen", "cells", "priority"]
    sites_view = sites.assign(
        rank=np.arange(1, len(sites) + 1),
        cells=[_first_items(c, 3) for c in sites["cells"].astype(str)],
        hours=[hour_bars(result.site_hours.get(s, np.zeros(24))) for s in sites["site_id"]])[
        [c for c in site_cols if c in sites.columns or c in ("rank", "hours")]] if len(sites) else sites
    dep_cols = ["deployment_id", "class", "n_sims", "n_devices", "sites", "lat", "lon", "radius_m",
                "active_hours", "first_seen", "last_seen", "score", "priority", "linked_by"]
    flag_cols = [summary.get("key_column", "imsi"), "msisdn", "class", "score", "deployment_id",
                 "main_site", "status", "first_flagged", "reasons"]
    headers = {"n_sims": "SIMs", "n_devices": "devices", "radius_m": "radius m", "site_id": "site",
               "deployment_id": "deployment", "active_hours": "active hours", "first_seen": "first seen",
               "last_seen": "last seen", "linked_by": "linked by", "main_site": "site", "rank": "#",
               "hours": "by hour (0-23)", "first_flagged": "first flagged",
               "excluded_by": "excluded by", "exclusion_reason": "why",
               "exclusion_owner": "owner", "exclusion_expires": "expires"}
    scores = result.predictions["score"]
    plots = [("Score distribution", score_plot(scores, result.predictions["class"],
                                                summary.get("threshold")),
              "Every scanned SIM by score; those right of the threshold are flagged."),
             ("Activity by hour of the top deployments",
              hours_plot(deployments, result.deployment_hours, result.baseline_hours),
              "Share of each deployment's events per hour of day, against all SIMs."),
             ("Flagged SIMs against the others", feature_plot(result.features,
                                                               result.predictions["flagged"]),
              "Boxes span the middle half of each group, the line is the median.")]
    meta = [x for x in (
        f"simbox {summary.get('simbox_version', '')}", f"model {summary.get('model', '')}",
        f"threshold {summary.get('threshold')}", f"{summary.get('records', {}).get('accepted', 0):,} "
        "records", f"data from {summary.get('first_seen', '?')} to {summary.get('last_seen', '?')}",
        f"scanned {summary.get('scanned_at')}" if summary.get("scanned_at") else ""
    ) if x]
    shown = flagged.head(FLAGGED_ROWS)
    since = _since_last_drop(summary.get("since_last_drop"), headers)
    return render(
        "report.html", title="simbox scan: shutdown list and sites to raid", summary=summary,
        meta=meta, cards=_cards(summary), visits=_visits(sites), link_kinds=[
            SUBSCRIBER_BLOCK if k == "imsi block" and summary.get("key_column") else k
            for k in LINK_KINDS],
        map=Markup(map_svg), map_caption=caption, sheets=_field_sheets(result, sites, minis),
        sites_table=html_table(sites_view, headers),
        deployments_table=html_table(deployments[[c for c in dep_cols if c in deployments.columns]],
                                     headers),
        plots=[(t, Markup(svg), c) for t, svg, c in plots if svg],
        flagged_shown=len(shown), flagged_total=len(flagged),
        flagged_table=html_table(shown[[c for c in flag_cols if c in shown.columns]], headers),
        since=since, **_excluded(result, headers))


def _excluded(result, headers) -> dict:
    """The report's "Excluded SIMs" section: who would have been flagged, the exclusions
    that expired and those that covered no flagged SIM (stale ones show)."""
    ex = result.excluded
    info = result.summary.get("exclusions") or {}
    if ex is None and not info:
        return {"excluded": None}
    key = result.summary.get("key_column", "imsi")
    cols = [key, "msisdn", "class", "score", "excluded_by", "exclusion_reason", "exclusion_owner",
            "exclusion_expires"]
    shown = ex.head(FLAGGED_ROWS) if ex is not None else pd.DataFrame(columns=cols)
    rules = lambda rows: pd.DataFrame(rows, columns=["line", "kind", "value", "reason", "owner",  # noqa: E731
                                                     "expires"])
    return {"excluded": {
        "total": len(ex) if ex is not None else 0, "shown": len(shown),
        "table": html_table(shown[[c for c in cols if c in shown.columns]], headers),
        "file": info.get("file"), "as_of": info.get("as_of"),
        "expired": html_table(rules(info["expired_rows"]), headers)
        if info.get("expired_rows") else None,
        "unused": html_table(rules(info["unused_rows"]), headers)
        if info.get("unused_rows") else None}}


SINCE_COLUMNS = ["state", "imsi", "class", "score", "deployment", "site", "first_seen", "reasons"]


def _since_last_drop(since: dict | None, headers: dict) -> dict | None:
    """The "since last drop" section of ``simbox watch`` (None in a scan's report): the
    files of the drop and the alerts they raised."""
    if not since:
        return None
    files = ", ".join(f"{f['name']} ({f['events']:,} events)" for f in since.get("files", []))
    alerts = pd.DataFrame(since.get("alerts", []), columns=SINCE_COLUMNS)
    return {"files": files or "none (a restart)", "network_time": since.get("network_time"),
            "count": len(alerts), "table": html_table(alerts.head(FLAGGED_ROWS), headers)}
