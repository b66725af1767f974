"""Make the plots of ``docs/simulator.md`` (PNG files in ``docs/img/``).

    python -m simbox.data.plot_docs [--out docs/img] [--subscribers 20000] [--days 7]

Simulates a mixed network and draws, per group of SIMs, the distributions an
analyst checks before trusting the simulator: calls per day, distinct callees
per day, distinct cells, gaps between calls, the local hourly rhythm, IMSIs
per IMEI, and the map of sites and deployments.  Statistics are computed here
with pandas (the simulator never uses the detector's features).
"""
from __future__ import annotations

import argparse
import pathlib

import numpy as np
import pandas as pd

from simbox.fastpath.events import RecordType

GROUPS = {
    "ordinary": ["ordinary", "phone_changer", "traveller", "dual_sim"],
    "low activity": ["low_activity"],
    "call centre": ["call_centre"],
    "driver": ["driver"],
    "small business": ["small_business"],
    "M2M": ["m2m"],
    "SIM box (plain)": ["simbox_plain"],
    "SIM box (evasive)": ["simbox_human", "simbox_spoof", "simbox_mobile", "simbox_lowrate",
                          "simbox_remote_bank"],
    "card farm": ["cardfarm_otp", "cardfarm_spam", "cardfarm_rented"],
}
COLORS = ["#4c72b0", "#8da0cb", "#dd8452", "#c9a227", "#937860", "#8c8c8c", "#c44e52",
          "#e377c2", "#55a868"]


def per_sim_stats(net) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-SIM table, per-event table) with a ``group`` column."""
    c = net.cdrs
    kind_of = dict(zip(net.truth["imsi"].map(lambda s: int("1" + s)), net.truth["kind"]))
    group_of = {k: g for g, ks in GROUPS.items() for k in ks}
    ev = pd.DataFrame({"imsi": c.imsi, "rtype": c.rtype, "time": c.time, "other": c.other,
                       "cell": c.cell, "imei": c.imei})
    ev["group"] = ev["imsi"].map(kind_of).map(group_of)
    days = (net.end - net.start) / 86400
    moc = ev[ev.rtype == RecordType.MOC]
    g = ev.groupby("imsi")
    st = pd.DataFrame({"group": g["group"].first(), "cells": g["cell"].nunique()})
    st["calls_per_day"] = moc.groupby("imsi").size().reindex(st.index, fill_value=0) / days
    st["callees_per_day"] = moc.groupby("imsi")["other"].nunique().reindex(
        st.index, fill_value=0) / days
    mc = moc.sort_values(["imsi", "time"])
    gap = mc["time"].diff()
    gap[mc["imsi"] != mc["imsi"].shift()] = np.nan
    st["gap_median_s"] = gap.groupby(mc["imsi"]).median().reindex(st.index)
    return st, ev


def _hist(ax, st, col, title, xlabel, log=True):
    data = [(g, st.loc[st.group == g, col].dropna()) for g in GROUPS]
    data = [(g, v[v > 0] if log else v) for g, v in data]
    allv = np.concatenate([v.to_numpy() for _, v in data if len(v)])
    bins = np.logspace(np.log10(max(allv.min(), 0.01)), np.log10(allv.max() + 1), 40) if log \
        else np.linspace(0, allv.max() + 1, 40)
    for (g, v), color in zip(data, COLORS):
        if len(v) == 0:
            continue
        w = np.full(len(v), 1.0 / len(v))
        ax.hist(v, bins=bins, weights=w, histtype="step", lw=1.6, color=color, label=g)
    if log:
        ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of SIMs in the group")


def make_plots(net, out) -> list[pathlib.Path]:
    import matplotlib  # lazy: matplotlib, only when the docs plots are made
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: as above
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    st, ev = per_sim_stats(net)
    paths = []

    def save(fig, name):
        p = out / name
        fig.tight_layout()
        fig.savefig(p, dpi=80, metadata={"Software": None})
        plt.close(fig)
        paths.append(p)

    for col, title, xl, name in [
            ("calls_per_day", "Outgoing calls per day", "calls per day (log)", "sim_calls.png"),
            ("callees_per_day", "Distinct callees per day", "distinct numbers per day (log)",
             "sim_callees.png"),
            ("cells", "Distinct cells over the window", "cells (log)", "sim_cells.png"),
            ("gap_median_s", "Median gap between outgoing calls", "seconds (log)",
             "sim_gaps.png")]:
        fig, ax = plt.subplots(figsize=(8, 4.2))
        _hist(ax, st, col, title, xl)
        ax.legend(fontsize=7, ncol=2)
        save(fig, name)
    # local hourly rhythm of outgoing activity
    fig, ax = plt.subplots(figsize=(8, 4.2))
    import zoneinfo  # lazy: only for the plots
    import datetime as dt  # lazy: only for the plots
    tz = zoneinfo.ZoneInfo(net.timezone)
    off = int(dt.datetime.fromtimestamp(net.start + 43200, tz).utcoffset().total_seconds())
    hour = ((ev["time"] + off) % 86400) // 3600
    for (g, _), color in zip(GROUPS.items(), COLORS):
        m = ev.group == g
        if m.any():
            h = np.bincount(hour[m], minlength=24) / m.sum()
            ax.plot(range(24), h, color=color, lw=1.6, label=g)
    ax.set_xlabel(f"local hour ({net.timezone})")
    ax.set_ylabel("share of the group's events")
    ax.set_title("Hourly rhythm (all events, local time)")
    ax.legend(fontsize=7, ncol=2)
    save(fig, "sim_hours.png")
    # IMSIs per IMEI
    fig, ax = plt.subplots(figsize=(8, 4.2))
    dev = ev[ev.imei > 0].groupby("imei").agg(n=("imsi", "nunique"), group=("group", "first"))
    for (g, _), color in zip(GROUPS.items(), COLORS):
        v = dev.loc[dev.group == g, "n"]
        if len(v):
            vc = v.value_counts(normalize=True).sort_index()
            ax.plot(vc.index, vc.values, "o-", color=color, label=g, ms=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("IMSIs seen on one IMEI")
    ax.set_ylabel("share of the group's devices")
    ax.set_title("SIMs per device (SIM-bank rotation, modem pools, dual-SIM phones)")
    ax.legend(fontsize=7, ncol=2)
    save(fig, "sim_imeis.png")
    # map: sites by load, deployments
    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    cells = net.cells
    load = np.bincount(ev["cell"], minlength=len(cells))
    cfg = net.config.city
    dy = (cells["lat"] - cfg.centre_lat) * 111.32
    dx = (cells["lon"] - cfg.centre_lon) * 111.32 * np.cos(np.radians(cfg.centre_lat))
    city = np.hypot(dx, dy) <= cfg.radius_km + 5
    ax.scatter(cells["lon"][city], cells["lat"][city], s=3 + 200 * load[city] / load.max(),
               c="#8c8c8c", alpha=0.5, label="cells (size = events)")
    dep = net.deployments
    for cls, color, marker in (("simbox", "#c44e52", "^"), ("cardfarm", "#55a868", "s")):
        d = dep[dep["class"] == cls]
        ax.scatter(d["lon"], d["lat"], s=40 + d["sims"], c=color, marker=marker,
                   edgecolor="k", label=f"{cls} deployments")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title("City cells and fraud deployments")
    ax.legend(fontsize=7, loc="lower left")
    save(fig, "sim_map.png")
    return paths


def summary_table(net) -> pd.DataFrame:
    """Median per-SIM statistics per group (the table in docs/simulator.md)."""
    st, _ = per_sim_stats(net)
    t = st.groupby("group")[["calls_per_day", "callees_per_day", "cells", "gap_median_s"]]
    t = t.median().reindex(list(GROUPS)).round(1)
    t.insert(0, "sims", st.groupby("group").size().reindex(list(GROUPS)))
    return t


def markdown_summary(net) -> str:
    """The table of medians in docs/simulator.md."""
    t = summary_table(net)
    lines = ["| group | SIMs | outgoing calls / day | distinct callees / day | cells (7 days) "
             "| median gap between calls (s) |", "|---|---|---|---|---|---|"]
    for g, r in t.iterrows():
        gap = "—" if np.isnan(r.gap_median_s) else f"{r.gap_median_s:,.0f}"
        lines.append(f"| {g} | {int(r.sims):,} | {r.calls_per_day:g} | {r.callees_per_day:g} "
                     f"| {r.cells:g} | {gap} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Make the plots of docs/simulator.md.")
    ap.add_argument("--out", default="docs/img")
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--params", action="store_true",
                    help="print the parameter table of docs/simulator.md and stop")
    ap.add_argument("--worlds", action="store_true",
                    help="print the table of how worlds draw their parameters and stop")
    a = ap.parse_args(argv)
    if a.params:
        from simbox.data.config import markdown_table  # lazy: only for the tables
        print(markdown_table())
        return
    if a.worlds:
        from simbox.data.worlds import ranges_table  # lazy: only for the tables
        print(ranges_table())
        return
    from simbox.data import build_network  # lazy: the whole generator, only for the plots
    net = build_network(a.subscribers, a.days, "mixed", a.seed,
                        config={"fraud": {"share": 0.02}})
    for p in make_plots(net, a.out):
        print(p)
    print(markdown_summary(net))


if __name__ == "__main__":
    main()
