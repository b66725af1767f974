"""Early warning of young deployments: what a SIM box or card farm shows in its first hours.

The model scores days of behaviour; a SIM bank whose SIMs make 4-14 calls a day has made
two or three calls in its first hours, too few for the model (docs/watch.md, "Time to
detect").  A young deployment shows other evidence at once, on the *device*: new SIMs
that do nothing but one thing (dial out, or take SMS) through gateways, modules and
modems, several of them at one site, or one after another through one port.  The early
layer reads that evidence from the window's feature table after each drop and flags:

A SIM is **young** when its first CDR came at least ``min_history`` after the start of
the window, and after a day of weekday time in it (the watch had been watching, so the
SIM is new, not quiet; an office quiet over a weekend is not new on Monday), and at most
:data:`MAX_AGE` before the network time (after that the model has the evidence).  A
young SIM is **one-way** when its main device's TAC is not a phone or tablet
(``device_not_phone`` 1: a GSM gateway, a module, a fixed cellular terminal, a modem)
and its traffic so far is all of one kind:

- *dialling*: outgoing calls, each to a different number, at most
  :data:`MAX_CALLS_PER_HOUR` in a clock hour; nothing received but SMS from short codes
  (the operator's balance messages); no SMS sent, no data;
- *SMS*: SMS only, with two or more other parties (received from short codes or
  international senders, or sent); no call, no data.  (An M2M device reporting by
  SMS writes to one server number.)

The young one-way SIMs are grouped by site and TAC (one gateway or modem rack: one
model of device at one place).  A group is flagged when

- ``simbox``: its dialling SIMs made at least :data:`MIN_CALLS` calls together, or two
  or more of them passed through one IMEI (a SIM bank's rotation);
- ``cardfarm``: two or more of its SMS SIMs passed through one IMEI (a modem cycling
  its SIMs), or :data:`MIN_FARM_SIMS` SMS SIMs started together at the site.

Why these hold on the hard negatives: dual-SIM phones, phone shops (one handset
activating many new SIMs) and new subscribers are phones (``device_not_phone`` 0);
call centres and desk gateways receive callbacks and run from the first day, and an
M2M device carries one SIM, reports by data or SMS to one server and never calls.  What
this layer cannot tell in its first hours: a *new* office that puts fresh SIMs into
desk gateways and only dials out looks like a low-rate SIM bank until its customers
call back (docs/watch.md "Limits").  Hence its own wording ("early warning: ...") and
the model's score in the alert: an early alert whose SIM the model later flags comes
again as ``escalated``, one the evidence no longer supports is ``cleared``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: a SIM is young for this long after its first CDR (then the model has its evidence)
MAX_AGE = 24 * 3600
#: a SIM is new (not only quiet) when it first appears at least this long after the start
#: of the window (the watch's --min-history when longer)
NEW_AFTER = 24 * 3600
#: of which this much weekday time (local Monday-Friday): an office quiet over a weekend
#: is not new on Monday morning
NEW_WEEKDAYS = 24 * 3600
#: a dialling SIM making more calls than this in a clock hour is left to the model (call
#: centres and offices dial faster; the boxes that dial fast are the model's)
MAX_CALLS_PER_HOUR = 8
#: outgoing calls, pooled over a group's dialling SIMs, that flag the group
MIN_CALLS = 2
#: SMS SIMs starting together at one site (one device model) that flag a farm
MIN_FARM_SIMS = 3
#: columns of the table :func:`early_flags` returns (those of the scan's flagged table
#: that the alerts use)
COLUMNS = ("class", "score", "reasons", "deployment_id", "main_site", "first_seen")


def _minutes(seconds) -> str:
    m = int(round(float(seconds) / 60))
    return f"{m} min" if m < 120 else f"{m / 60:.1f} h"


def new_from(oldest: int, newest: int, min_history: int, timezone: str = "UTC") -> int:
    """The first time at which a SIM's first CDR makes it new: ``min_history`` after
    ``oldest`` and :data:`NEW_WEEKDAYS` of local weekday time after it (whole hours;
    past ``newest`` when the window holds too little)."""
    start = oldest - oldest % 3600
    hours = pd.date_range(pd.Timestamp(start, unit="s", tz="UTC"),
                          pd.Timestamp(max(newest, start), unit="s", tz="UTC"), freq="h")
    weekday = (hours.tz_convert(timezone).day_of_week < 5).astype(np.int64) * 3600
    enough = np.flatnonzero(np.cumsum(weekday) >= NEW_WEEKDAYS)
    by_weekdays = int(start + (enough[0] + 1) * 3600) if len(enough) else newest + 1
    return max(oldest + min_history, by_weekdays)


def one_way(features: pd.DataFrame, sims: pd.DataFrame, *, newest: int, oldest: int,
            min_history: int, timezone: str = "UTC") -> pd.DataFrame:
    """The young one-way SIMs (see the module docstring): index imsi, columns ``kind``
    (``dialling`` or ``sms``), ``calls``, ``sms``, ``site``, ``tac``, ``imei``, ``age_s``."""
    f = features
    first = f["first_seen"].to_numpy(np.int64)
    young = (first >= new_from(oldest, newest, min_history, timezone)) \
        & (newest - first <= MAX_AGE)
    not_phone = f["device_not_phone"].to_numpy(float) == 1
    sel = np.flatnonzero(young & not_phone)
    f = f.iloc[sel]
    moc, mtc = f["n_moc"].to_numpy(), f["n_mtc"].to_numpy()
    sms_mo, sms_mt = f["n_sms_mo"].to_numpy(), f["n_sms_mt"].to_numpy()
    data = f["n_data"].to_numpy()
    short_in = np.nan_to_num(f["sms_mt_short_share"].to_numpy(float)) == 1
    dialling = (moc > 0) & (f["moc_callees"].to_numpy() == moc) & (mtc == 0) & (sms_mo == 0) \
        & (data == 0) & ((sms_mt == 0) | short_in) \
        & (f["moc_max_per_hour"].to_numpy() <= MAX_CALLS_PER_HOUR)
    peers = f["sms_peers"].to_numpy()
    texting = (moc + mtc == 0) & (peers >= 2) & (data == 0)
    keep = dialling | texting
    f = f[keep]
    s = sims.reindex(f.index)
    return pd.DataFrame({
        "kind": np.where(dialling[keep], "dialling", "sms"),
        "calls": moc[keep], "sms": (sms_mo + sms_mt)[keep],
        "site": s["main_site"].fillna("").astype(str).to_numpy(),
        "tac": s["main_tac"].fillna("").astype(str).to_numpy(),
        "device": s["device_type"].fillna("").astype(str).to_numpy()
        if "device_type" in s else "",
        "imei": s["main_imei"].fillna("").astype(str).to_numpy(),
        "age_s": (newest - first[sel][keep]).astype(np.int64),
        "first_seen": first[sel][keep]}, index=f.index)


def early_flags(res, *, newest: int, oldest: int, min_history: int, timezone: str = "UTC",
                scores: pd.Series | None = None) -> pd.DataFrame:
    """The SIMs of young deployments, from a window's FeatureResult ``res``: index imsi,
    :data:`COLUMNS` (``score``: the model's score of the SIM, from ``scores``; NaN
    without).  ``newest``/``oldest``: the newest and oldest event times of the window;
    ``min_history``: how long after ``oldest`` a SIM must first appear to be new (and
    :data:`NEW_WEEKDAYS` of weekday time in ``timezone``, the network's)."""
    cand = one_way(res.features, res.sims, newest=newest, oldest=oldest,
                   min_history=min_history, timezone=timezone)
    rows = []
    for (site, tac), g in cand.groupby(["site", "tac"], sort=True):
        for kind, cls in (("dialling", "simbox"), ("sms", "cardfarm")):
            m = g[g["kind"] == kind]
            if m.empty:
                continue
            per_imei = m[m["imei"] != ""].groupby("imei").size()
            rotating = int(per_imei.max()) if len(per_imei) else 0
            calls = int(m["calls"].sum())
            if cls == "simbox":
                hit = calls >= MIN_CALLS or rotating >= 2
            else:
                hit = rotating >= 2 or len(m) >= MIN_FARM_SIMS
            if not hit:
                continue
            device = m["device"].iloc[0] or "not a phone"
            where = f"at site {site}" if site else "at one place"
            what = (f"{calls} outgoing calls, each to a new number, nothing received"
                    if cls == "simbox" else f"{int(m['sms'].sum())} SMS and no call")
            share = (f"; {rotating} of them one after another through one IMEI (rotation)"
                     if rotating >= 2 else "")
            text = (f"early warning: {len(m)} new SIM(s) on {device} devices (TAC {tac}) "
                    f"{where}, first CDR {_minutes(m['age_s'].max())} ago: {what}{share}")
            for imsi, r in m.iterrows():
                rows.append((imsi, cls, text, f"early-{site or '?'}-{tac}", site or None,
                             int(r["first_seen"])))
    out = pd.DataFrame(rows, columns=["imsi", "class", "reasons", "deployment_id",
                                      "main_site", "first_seen"]).set_index("imsi")
    sc = scores.reindex(out.index) if scores is not None else pd.Series(np.nan, out.index)
    out["score"] = sc.to_numpy(float)
    out["first_seen"] = pd.to_datetime(out["first_seen"], unit="s", utc=True)
    return out[list(COLUMNS)]


def early_held(early: pd.DataFrame, res, feedback: dict) -> pd.DataFrame:
    """``early`` without the SIMs an exclusion covers or an analyst dismissed (whose score
    has not risen by the margin since): the scan's feedback (:func:`simbox.scan.held_back`)
    applied to the early flags."""
    exclusions, store = feedback["exclusions"], feedback["store"]
    if early.empty:
        return early
    if exclusions is not None:
        from simbox.feedback.exclusions import match_exclusions  # lazy: feedback only
        sims = res.sims.reindex(early.index)
        frame = pd.DataFrame({"msisdn": sims["msisdn"] if "msisdn" in sims else "",
                              "imei": sims.get("main_imei", "")}, index=early.index)
        early = early[~early.index.isin(match_exclusions(frame, exclusions, res.devices).index)]
    if store is not None:
        gone = store.dismissed(early["score"], margin=feedback["margin"])
        early = early[~early.index.isin(gone.index)]
    return early
