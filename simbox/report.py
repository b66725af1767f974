"""report.html: one self-contained page a field team and an analyst can use offline.

Everything is inline: CSS, the SVG map (drawn from coordinates, the cells as
background), the tables and the SVG plots.  There is no script and no external
URL; a Content-Security-Policy meta tag (``default-src 'none'``) makes the browser
refuse any request the page might still try, so it works the same on a laptop in
the field with no network.
"""
from __future__ import annotations

import html
import string
from importlib import resources

import numpy as np
import pandas as pd

from simbox.deployments import LINK_KINDS
from simbox.report_map import site_map
from simbox.report_plots import feature_plot, hours_plot, score_plot

__all__ = ["render_report", "html_table"]

FLAGGED_ROWS = 500
NUMBER_FORMATS = {"lat": "{:.5f}", "lon": "{:.5f}", "radius_m": "{:,.0f}", "score": "{:.3f}",
                  "priority": "{:.1f}"}


def _template() -> string.Template:
    text = resources.files("simbox").joinpath("templates/report.html").read_text(encoding="utf-8")
    return string.Template(text)


def hour_bars(profile) -> str:
    """A tiny inline SVG bar chart of 24 hourly counts (hours 0-23, left to right)."""
    p = np.asarray(profile, dtype=float)
    top = p.max() if len(p) and p.max() > 0 else 1.0
    bars = "".join(f'<rect x="{3 * h}" y="{18 - 17 * v / top:.1f}" width="2.4" '
                   f'height="{max(0.6, 17 * v / top):.1f}"/>' for h, v in enumerate(p))
    return (f'<svg class="hours" viewBox="0 0 72 18" width="96" height="24" role="img" '
            'preserveAspectRatio="none" '
            f'aria-label="events by hour of day"><title>events by hour of day, 00 to 23</title>'
            f'<rect x="0" y="17.4" width="72" height="0.6" fill="#c5ced6"/>'
            f'<g fill="#1d2329">{bars}</g></svg>')


FIELD_SHEETS = 6


def _where(row) -> str:
    """A site's coordinates, or that they are unknown (a scan without a cell table)."""
    if pd.isna(row["lat"]) or pd.isna(row["lon"]):
        return "coordinates unknown (no cell table)"
    return f"{row['lat']:.5f}, {row['lon']:.5f}"


def _field_sheets(result, sites: pd.DataFrame) -> str:
    flagged = result.flagged
    cards = []
    for i, row in enumerate(sites.head(FIELD_SHEETS).to_dict(orient="records")):
        mini, caption = site_map(sites, result.cells, focus=i, width=250, height=250, legend=False,
                                 min_pad_m=500, used_cells=str(row.get("cells", "")))
        here = flagged.loc[flagged["main_site"].astype(str) == str(row["site_id"])]
        types = here["device_type"].replace("", "unknown").value_counts() \
            if "device_type" in here else pd.Series(dtype=int)
        deps = here.groupby("deployment_id")["class"].agg(lambda c: c.value_counts().index[0])
        where = _where(row)
        if row.get("radius_m", 0) and row["radius_m"] > 0:
            where += f" &plusmn; {row['radius_m']:.0f} m"
        items = [("where", where)]
        if row.get("address"):
            items.append(("address", html.escape(str(row["address"]))))
        items += [
            ("when", html.escape(row["active_hours"] or "-") + " (local time)"),
            ("seen", f"{_day(row['first_seen'])} to {_day(row['last_seen'])}"),
            ("expect", f"{_count(row['n_sims'], 'SIM')} in {_count(row['n_devices'], 'device')}"
             + (" (" + ", ".join(f"{n} {html.escape(str(t))}" for t, n in types.items()) + ")"
                if len(types) else "")),
            ("deployments", ", ".join(f"{html.escape(d)} ({html.escape(c)})" for d, c in deps.items())),
            ("cells", html.escape(_first_items(str(row.get("cells", "")), 4).replace(";", "; "))),
            ("priority", f"{row['priority']:.1f}"),
        ]
        dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
        bars = hour_bars(result.site_hours.get(row["site_id"], np.zeros(24)))
        cards.append(f'<div class="sheet"><h3><span class="rank">{i + 1}</span> site '
                     f'{html.escape(str(row["site_id"]))} <span class="badge {html.escape(row["class"])}">'
                     f'{html.escape(row["class"])}</span></h3><div class="body"><div>{mini}'
                     f'<div class="note">{html.escape(caption)}; ringed: masts of the cells used'
                     f'</div></div><div><dl>{dl}</dl><div class="note" style="margin-top:6px">events '
                     f'by hour of day, 00-23</div>{bars}</div></div></div>')
    return "".join(cards) or '<p class="note">No site to visit.</p>'


def _day(t) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") if pd.notna(t) else "?"


def _cell(col: str, v) -> str:
    if col == "hours":
        return f"<td>{v}</td>"
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "<td></td>"
    if col == "class":
        return f'<td><span class="badge {html.escape(str(v))}">{html.escape(str(v))}</span></td>'
    if col == "rank":
        return f'<td><span class="rank">{int(v)}</span></td>'
    if isinstance(v, (int, np.integer)):
        return f'<td class="num">{int(v):,}</td>'
    if isinstance(v, (float, np.floating)):
        fmt = NUMBER_FORMATS.get(col)
        text = fmt.format(v) if fmt else (f"{v:.3f}" if abs(v) < 1 else f"{v:,.1f}" if abs(v) < 1000
                                          else f"{v:,.0f}")
        return f'<td class="num">{text}</td>'
    if isinstance(v, pd.Timestamp):
        return f'<td class="num">{v.strftime("%Y-%m-%d %H:%M")}</td>'
    cls = ' class="id"' if col in ("imsi", "msisdn", "site_id", "deployment_id", "imei") else ""
    parts = str(v).split(";")
    if len(parts) == 1:
        return f"<td{cls}>{html.escape(parts[0])}</td>"
    return f"<td{cls}>" + "; ".join(f'<span class="nw">{html.escape(p)}</span>' for p in parts) + "</td>"


def html_table(df: pd.DataFrame, headers: dict[str, str] | None = None) -> str:
    """A plain HTML table of ``df`` (times as ISO UTC), headers renamed by ``headers``."""
    headers = headers or {}
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]) and df[c].dt.tz is not None:
            df = df.assign(**{c: df[c].dt.tz_convert("UTC")})
    if len(df) == 0:
        return '<p class="note">None.</p>'
    numeric = {c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and c != "rank"}
    head = "".join(f'<th{" class=num" if c in numeric else ""}>{html.escape(headers.get(c, c))}</th>'
                   for c in df.columns)
    body = "\n".join("<tr>" + "".join(_cell(c, v) for c, v in zip(df.columns, row)) + "</tr>"
                     for row in df.itertuples(index=False, name=None))
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _cards(summary: dict) -> str:
    by = summary.get("flagged_by_class", {})
    items = [
        (f"{summary.get('sims', 0):,}", "SIMs scanned"),
        (f"{summary.get('flagged', 0):,}", "SIMs to shut down" + (
            " (" + ", ".join(f"{n:,} {c}" for c, n in by.items()) + ")" if by else "")),
        (f"{summary.get('deployments', 0):,}", "deployments (boxes and farms)"),
        (f"{summary.get('sites', 0):,}", "sites to visit"),
        (f"{summary.get('devices', 0):,}", "devices (IMEIs) to seize"),
    ]
    return "".join(f'<div class="card"><b>{v}</b><span>{html.escape(t)}</span></div>' for v, t in items)


def _first_items(text: str, n: int) -> str:
    """The first ``n`` items of a ";"-list, and how many more."""
    items = [x for x in text.split(";") if x]
    return ";".join(items[:n]) + (f";+{len(items) - n} more" if len(items) > n else "")


def _count(n, word: str) -> str:
    return f"{int(n):,} {word}{'' if int(n) == 1 else 's'}"


def _todo(sites: pd.DataFrame, deployments: pd.DataFrame, summary: dict) -> str:
    if summary.get("flagged", 0) == 0:
        return '<p>No SIM scored above the threshold: nothing to shut down.</p>'
    lines = [f"Shut down the {summary['flagged']:,} SIMs of <code>flagged.csv</code>, "
             "deployment by deployment, highest priority first."]
    for i, row in enumerate(sites.head(3).to_dict(orient="records")):
        where = _where(row)
        if row.get("radius_m", 0) and row["radius_m"] > 0:
            where += f" (within about {row['radius_m']:.0f} m)"
        extra = f", {html.escape(str(row['address']))}" if row.get("address") else ""
        lines.append(f'<span class="rank">{i + 1}</span> Visit site <b>{html.escape(str(row["site_id"]))}'
                     f"</b>{extra} at {where}: {_count(row['n_sims'], 'SIM')} in "
                     f"{_count(row['n_devices'], 'device')}, {row['class']}, active "
                     f"{html.escape(row['active_hours'] or '-')} (local time).")
    return '<ul class="todo">' + "".join(f"<li>{x}</li>" for x in lines) + "</ul>"


def _warnings(summary: dict) -> str:
    out = []
    unk = summary.get("unknown_cells", {})
    if unk.get("cells"):
        out.append(f"{unk['cells']:,} cell(s) of the CDRs ({unk['events']:,} events) are not in the cell "
                   "table: the SIMs using them are located from their other cells.")
    if summary.get("unlocated_flagged"):
        out.append(f"{summary['unlocated_flagged']:,} flagged SIM(s) have no known main site and appear "
                   "in no site.")
    for w in summary.get("model_warnings", []):
        out.append("The model warns: " + html.escape(w))
    for note in summary.get("notes", []):
        out.append(html.escape(note[0].upper() + note[1:]) + ".")
    if summary.get("timezone_source", "given") != "given":
        out.append(html.escape(f"Time of day in {summary.get('timezone')}: "
                               f"{summary['timezone_source']}."))
    rec = summary.get("records", {})
    if rec.get("rejected"):
        out.append(f"{rec['rejected']:,} malformed record(s) were rejected (see <code>rejects.csv</code>).")
    return "".join(f'<p class="warn">{x}</p>' for x in out)


def _method(summary: dict) -> str:
    thr = summary.get("threshold")
    return f"""<ul class="note">
<li>A SIM is flagged when its fraud score is at least {thr if thr is not None else '-'}
({html.escape(str(summary.get('threshold_source', 'the model')))}). Reasons name the features that
drove the score, in words.</li>
<li>Flagged SIMs are grouped into deployments when they share a device (IMEI), sit at the same site
and are active in the same hours, or come from one block of consecutive IMSIs/MSISDNs at one site
(links: {', '.join(LINK_KINDS)}).</li>
<li>Deployment priority = 100 &times; mean score &times; size &times; recency, with size =
min(1, log2(1 + SIMs) / log2(33)) and recency = 0.8<sup>days since last seen</sup>; a site's priority
adds up the priorities of its deployments, in proportion to their SIMs there.</li>
<li>A site's position is the event-weighted centre of the cells its flagged SIMs used; the confidence
radius is their weighted spread (0: all on one mast, search its coverage).</li>
<li>Times are UTC; hours of day are the network's local time ({html.escape(str(summary.get('timezone', 'UTC')))}).
Open <code>sites.geojson</code> in QGIS (Layer &rsaquo; Add Vector Layer) and <code>sites.kml</code>
in Google Earth or a phone's map app.</li>
</ul>"""


def render_report(result) -> str:
    """The HTML text of the report of a :class:`simbox.scan.ScanResult`."""
    summary = result.summary
    sites = result.sites.reset_index(drop=True)
    deployments = result.deployments
    flagged = result.flagged
    map_svg, caption = site_map(sites, result.cells)
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
    flag_cols = ["imsi", "msisdn", "class", "score", "deployment_id", "main_site", "reasons"]
    headers = {"n_sims": "SIMs", "n_devices": "devices", "radius_m": "radius m", "site_id": "site",
               "deployment_id": "deployment", "active_hours": "active hours", "first_seen": "first seen",
               "last_seen": "last seen", "linked_by": "linked by", "main_site": "site", "rank": "#",
               "hours": "by hour (0-23)"}
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
    figures = "".join(f"<figure{' class=wide' if i == 2 else ''}><h3 style='font-size:14px;margin:0 0 4px'>{html.escape(t)}</h3>{svg}"
                      f"<figcaption>{html.escape(c)}</figcaption></figure>"
                      for i, (t, svg, c) in enumerate(plots) if svg)
    shown = flagged.head(FLAGGED_ROWS)
    flagged_caption = (f"{len(flagged):,} SIMs by deployment; all of them with their counts in "
                       "<code>flagged.csv</code>")
    if len(flagged) > FLAGGED_ROWS:
        flagged_caption = f"the first {FLAGGED_ROWS} of " + flagged_caption
    meta = " &middot; ".join(html.escape(str(x)) for x in (
        f"simbox {summary.get('simbox_version', '')}", f"model {summary.get('model', '')}",
        f"threshold {summary.get('threshold')}", f"{summary.get('records', {}).get('accepted', 0):,} "
        "records", f"data from {summary.get('first_seen', '?')} to {summary.get('last_seen', '?')}",
        f"scanned {summary.get('scanned_at')}" if summary.get("scanned_at") else ""
    ) if x)
    return _template().substitute(
        title="simbox scan: shutdown list and sites to raid",
        meta=meta, cards=_cards(summary), todo=_todo(sites, deployments, summary),
        warnings=_warnings(summary), map=map_svg, map_caption=html.escape(caption),
        field_sheets=_field_sheets(result, sites),
        sites_table=html_table(sites_view, headers),
        deployments_table=html_table(deployments[[c for c in dep_cols if c in deployments.columns]],
                                     headers),
        plots=figures, flagged_caption=flagged_caption,
        flagged_table=html_table(shown[[c for c in flag_cols if c in shown.columns]], headers),
        method=_method(summary))
