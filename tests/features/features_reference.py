"""Slow, obviously-correct pandas reference of every registry feature.

Works on decoded strings and plain pandas/numpy per IMSI, independently of the
kernels; the tests compare it with :func:`simbox.features.features_from_events`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simbox.fastpath.events import EventBatch

CC2 = {"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
       "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
       "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"}


def country_code(d: str) -> str:
    if d[0] in "17":
        return d[:1]
    return d[:2] if d[:2] in CC2 else d[:3]


def international(other: str, own: str) -> bool:
    if other.startswith("00"):
        return True
    if len(other) < 8 or other.startswith("0"):
        return False
    if len(own) < 8 or own.startswith("0"):
        return False
    return country_code(other) != country_code(own)


def entropy(values) -> float:
    s = pd.Series(list(values))
    if len(s) == 0:
        return math.nan
    p = s.value_counts(normalize=True).to_numpy()
    return float(max(0.0, -(p * np.log2(p)).sum()))


def haversine(lat1, lon1, lat2, lon2):
    r = math.pi / 180
    a = (np.sin((lat2 - lat1) * r / 2) ** 2
         + np.cos(lat1 * r) * np.cos(lat2 * r) * np.sin((lon2 - lon1) * r / 2) ** 2)
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def div(a, b):
    return a / b if b else math.nan


def events_frame(batches, tokens, cells=None, timezone="UTC"):
    """Events (duplicates dropped, sorted) with strings, local time, site, lat/lon."""
    b = EventBatch.concat(batches)
    df = pd.DataFrame(b.columns())
    before = len(df)
    df = df.drop_duplicates()
    dups = before - len(df)
    df = df.sort_values(["imsi", "time", "rtype", "other", "imei", "msisdn", "duration", "cell"],
                        kind="mergesort").reset_index(drop=True)
    dec = lambda c: "" if c == 0 else str(int(c))[1:]  # noqa: E731
    for c in ("imsi", "imei", "msisdn", "other"):
        df[c + "_s"] = [dec(x) for x in df[c]]
    local = pd.to_datetime(df["time"], unit="s", utc=True).dt.tz_convert(timezone)
    df["lhour"] = local.dt.hour
    df["lday"] = local.dt.date
    df["lweekday"] = local.dt.day_of_week      # 0 = Monday
    tok = [tokens[c] if c >= 0 else None for c in df["cell"]]
    df["token"] = pd.Series(tok, dtype=object)
    site, lat, lon = {}, {}, {}
    for t in tokens:
        if cells is not None and t in set(cells["cell_id"]):
            row = cells[cells["cell_id"] == t].iloc[0]
            site[t], lat[t], lon[t] = row["site_id"], float(row["lat"]), float(row["lon"])
        else:
            site[t], lat[t], lon[t] = t, math.nan, math.nan
    df["site"] = pd.Series([site[t] if t is not None else None for t in tok], dtype=object)
    df["lat"] = [lat[t] if t is not None else math.nan for t in tok]
    df["lon"] = [lon[t] if t is not None else math.nan for t in tok]
    return df, dups


MOVE_GAP_S = 1200


def reference_moves(sites, times, gap=MOVE_GAP_S):
    """Moves of one IMSI: ``[(from site, to site, time)]`` from its time-ordered events
    with a known site (runs at one site; a lone event between two events at one site is
    no run of its own)."""
    runs = []                       # [site, first time, last time, events]
    for site, t in zip(sites, times):
        if runs and runs[-1][0] == site:
            runs[-1][2], runs[-1][3] = t, runs[-1][3] + 1
        elif len(runs) >= 2 and runs[-1][3] == 1 and runs[-2][0] == site:
            runs.pop()
            runs[-1][2], runs[-1][3] = t, runs[-1][3] + 1
        else:
            runs.append([site, t, t, 1])
    return [(a[0], b[0], b[1]) for a, b in zip(runs, runs[1:]) if b[1] - a[2] <= gap]


def reference_comovement(moves: dict, match_s=1200, crowd=48, min_shared=3) -> dict:
    """``{key: (moves, comove_peers, comove_share)}`` by brute force over all pairs of moves.

    ``moves``: ``{key: [(from, to, time)]}``.
    """
    every = [(k, f, t, tm) for k, ms in moves.items() for f, t, tm in ms]

    def crowded(f, t, tm):
        return sum(1 for _, f2, t2, tm2 in every
                   if f2 == f and t2 == t and abs(tm2 - tm) <= match_s) > crowd

    free = {k: [m for m in ms if not crowded(*m)] for k, ms in moves.items()}
    out = {}
    for a, ms in moves.items():
        shared = {}
        for f, t, tm in free[a]:
            for b, others in free.items():
                if b != a and any(f2 == f and t2 == t and abs(tm2 - tm) <= match_s
                                  for f2, t2, tm2 in others):
                    shared[b] = shared.get(b, 0) + 1
        best = max(shared.values(), default=0)
        out[a] = (len(ms), sum(1 for v in shared.values() if v >= min_shared),
                  best / len(ms) if ms else math.nan)
    return out


def per_imsi(g: pd.DataFrame) -> dict:
    f = {}
    moc = g[g.rtype == 0]
    mtc = g[g.rtype == 1]
    smo, smt = g[g.rtype == 2], g[g.rtype == 3]
    n_moc = len(moc)
    f["n_moc"] = n_moc
    f["n_moc_answered"] = int((moc.duration > 0).sum())
    callees = [o for o in moc.other_s if o != ""]
    f["moc_callees"] = len(set(callees))
    f["moc_callee_ratio"] = div(len(set(callees)), n_moc)
    f["moc_callee_entropy"] = entropy(callees)
    counts = pd.Series(callees).value_counts()
    f["moc_repeat_share"] = div(int((counts >= 2).sum()), len(counts))
    d = moc.duration.astype(float)
    f["moc_dur_mean"] = d.mean() if n_moc else math.nan
    f["moc_dur_median"] = d.median() if n_moc else math.nan
    f["moc_dur_std"] = d.std(ddof=1) if n_moc > 1 else math.nan
    f["moc_zero_share"] = div(int((d == 0).sum()), n_moc)
    f["moc_short_share"] = div(int(((d > 0) & (d < 10)).sum()), n_moc)
    own = [m for m in g.msisdn_s if m != ""]
    own = own[-1] if own else ""
    f["moc_intl_share"] = div(sum(international(o, own) for o in moc.other_s), n_moc)
    # contacts: walk the events in order, remembering the numbers called so far
    called, back, mtc_known, callbacks = set(), set(), 0, 0
    for r, o in zip(g.rtype, g.other_s):
        if r == 0 and o:
            called.add(o)
        elif r == 1 and o:
            mtc_known += 1
            if o in called:
                callbacks += 1
                back.add(o)
    f["moc_called_back_share"] = div(len(back), len(called))
    f["mtc_callback_share"] = div(callbacks, mtc_known)
    inc = g[g.rtype.isin([1, 3])]
    f["in_intl_share"] = div(sum(international(o, own) for o in inc.other_s), len(inc))
    f["n_mtc"] = len(mtc)
    f["mtc_callers"] = len({o for o in mtc.other_s if o})
    f["mt_mo_ratio"] = div(len(mtc), n_moc)
    f["mtc_zero_share"] = div(int((mtc.duration <= 0).sum()), len(mtc))
    f["n_sms_mo"], f["n_sms_mt"] = len(smo), len(smt)
    f["sms_peers"] = len({o for o in pd.concat([smo.other_s, smt.other_s]) if o})
    f["sms_mt_short_share"] = div(sum(3 <= len(o) <= 6 for o in smt.other_s), len(smt))
    f["n_data"] = int((g.rtype == 4).sum())
    known = g[g.cell >= 0]
    f["n_cells"] = known.token.nunique()
    f["n_sites"] = known.site.nunique()
    loc = known.dropna(subset=["lat", "lon"])
    if len(loc):
        clat, clon = loc.lat.mean(), loc.lon.mean()
        f["gyration_km"] = float(np.sqrt(np.mean(haversine(loc.lat.to_numpy(), loc.lon.to_numpy(),
                                                            clat, clon) ** 2)))
    else:
        f["gyration_km"] = math.nan
    vc = known.token.value_counts()
    f["top_cell_share"] = div(int(vc.max()) if len(vc) else 0, len(known))
    f["cell_entropy"] = entropy(known.token)
    f["n_events"] = len(g)
    f["active_days"] = g.lday.nunique()
    f["active_hours"] = (g.time // 3600).nunique()
    f["moc_night_share"] = div(int((moc.lhour < 6).sum()), n_moc)
    f["moc_evening_share"] = div(int((moc.lhour >= 18).sum()), n_moc)
    weekend = moc.lweekday >= 5
    f["moc_weekend_share"] = div(int(weekend.sum()), n_moc)
    f["moc_office_share"] = div(int((~weekend & (moc.lhour >= 9) & (moc.lhour < 18)).sum()), n_moc)
    f["night_share"] = div(int((g.lhour < 6).sum()), len(g))
    f["hour_entropy"] = entropy(g.lhour)
    gaps = np.diff(moc.time.to_numpy()).astype(float)
    f["moc_gap_median"] = float(np.median(gaps)) if len(gaps) else math.nan
    f["moc_gap_p10"] = float(np.percentile(gaps, 10)) if len(gaps) else math.nan
    f["moc_gap_cv"] = (float(np.std(gaps, ddof=1) / gaps.mean())
                       if len(gaps) > 1 and gaps.mean() != 0 else math.nan)
    f["moc_gap_lt30_share"] = div(int((gaps < 30).sum()), len(gaps))
    f["moc_max_per_hour"] = int((moc.time // 3600).value_counts().max()) if n_moc else 0
    imeis = [i for i in g.imei if i != 0]
    f["n_imeis"] = len(set(imeis))
    f["imei_changes"] = sum(a != b for a, b in zip(imeis, imeis[1:]))
    ic = pd.Series(imeis, dtype="int64").value_counts()
    f["main_imei_share"] = div(int(ic.max()) if len(ic) else 0, len(imeis))
    f["first_seen"], f["last_seen"] = int(g.time.min()), int(g.time.max())
    f["_msisdn"] = own
    if len(ic):
        top = ic[ic == ic.max()].index.min()    # ties: smallest IMEI number
        f["_main_imei"] = str(int(top))[1:]
    else:
        f["_main_imei"] = ""
    return f


def reference_features(batches, tokens, *, cells=None, tac=None, timezone="UTC"):
    """(features DataFrame indexed by imsi string, sims extras, duplicates dropped)."""
    from simbox.features.registry import feature_names
    df, dups = events_frame(batches, tokens, cells, timezone)
    rows = {imsi: per_imsi(g) for imsi, g in df.groupby("imsi_s", sort=True)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    # IMEIs shared by several IMSIs
    pairs = df[df.imei != 0][["imsi_s", "imei"]].drop_duplicates()
    per_imei = pairs.groupby("imei").imsi_s.nunique()
    out["imei_max_imsis"] = 0
    for imsi, g in pairs.groupby("imsi_s"):
        out.loc[imsi, "imei_max_imsis"] = int(per_imei[g.imei].max())
    # device class
    tac_map = {} if tac is None else dict(zip(tac["tac"], tac["device_type"]))
    dev = []
    for imsi in out.index:
        m = out.loc[imsi, "_main_imei"]
        t = m[:8] if len(m) >= 14 else ""
        if tac is None or t not in tac_map:
            dev.append(math.nan)
        else:
            kind = tac_map[t].lower()
            dev.append(0.0 if any(w in kind for w in ("phone", "tablet", "handheld")) else 1.0)
    out["device_not_phone"] = dev
    # the window
    t0, t1 = df.time.min(), df.time.max()
    # moves and co-movement
    moves = {imsi: reference_moves(list(g.site[g.cell >= 0]), list(g.time[g.cell >= 0]))
             for imsi, g in df.groupby("imsi_s")}
    co = reference_comovement(moves)
    for i, col in enumerate(("moves", "comove_peers", "comove_share")):
        out[col] = [co[imsi][i] for imsi in out.index]
    out["lifetime_share"] = [(b - a) / (t1 - t0) if t1 > t0 else math.nan
                             for a, b in zip(out.first_seen, out.last_seen)]
    z = pd.to_datetime(pd.Series([t0, t1]), unit="s", utc=True).dt.tz_convert(timezone).dt.date
    ndays = (z[1] - z[0]).days + 1
    out["active_day_share"] = out.active_days / ndays
    # numeric neighbours sharing a device or a site
    groups = {imsi: set(("imei", i) for i in g.imei if i != 0) | set(("site", s) for s in g.site if s)
              for imsi, g in df.groupby("imsi_s")}
    groups = {k: {x for x in v if x[1] is not None} for k, v in groups.items()}
    for col, key in (("imsi_neighbours", lambda i: i), ("msisdn_neighbours", lambda i: out.loc[i, "_msisdn"])):
        res = []
        for a in out.index:
            va = key(a)
            n = 0
            for b in out.index:
                vb = key(b)
                if a == b or not va or not vb or len(va) != len(vb) or abs(int(va) - int(vb)) > 10:
                    continue
                if groups[a] & groups[b]:
                    n += 1
            res.append(n)
        out[col] = res
    # percentile ranks within the network, among SIMs with a call or SMS
    active = (out.n_moc + out.n_mtc + out.n_sms_mo + out.n_sms_mt) > 0
    for col, x in (("moc_per_day_pct", out.n_moc / out.active_days),
                   ("callees_per_day_pct", out.moc_callees / out.active_days),
                   ("sms_mo_per_day_pct", out.n_sms_mo / out.active_days),
                   ("moc_dur_mean_pct", out.moc_dur_mean)):
        out[col] = x[active].rank(method="average", pct=True).reindex(out.index)
    from registration_reference import reference_registration
    reg = reference_registration(df)
    for col in reg.columns:
        out[col] = reg[col].reindex(out.index)
    out.index.name = "imsi"
    return out[feature_names()].sort_index(), dups
