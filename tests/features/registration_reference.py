"""Slow, obviously-correct reference of the registration features (issue 19), from the
sorted events of ``features_reference.events_frame``: loops over plain Python lists."""
from __future__ import annotations

import math

import pandas as pd

ATTACH, REG, AUTH, CHECK = 5, 1, 2, 3


def imei14(code: int) -> int:
    """The digits code of the first 14 digits of an IMEI / IMEISV code (0 stays 0)."""
    if code == 0:
        return 0
    d = str(int(code))[1:]
    return int("1" + d[:14])


def reference_registration(df: pd.DataFrame) -> pd.DataFrame:
    rows = {}
    regs = []          # (imsi_s, imsi code, imei14, time, lac + 1) of registrations / CheckIMEI
    for imsi, g in df.groupby("imsi_s", sort=True):
        ev = list(zip(g.rtype, g.other, g.time, g.imei, g.duration))
        n_reg = sum(1 for r, o, *_ in ev if r == ATTACH and o == REG)
        per_hour = {}
        for r, o, t, *_ in ev:
            if r == ATTACH and o == AUTH:
                per_hour[t // 3600] = per_hour.get(t // 3600, 0) + 1
        idle = 0
        for k, (r, o, *_) in enumerate(ev):
            if r != ATTACH or o != REG:
                continue
            traffic = False
            for r2, o2, *_ in ev[k + 1:]:
                if r2 == ATTACH and o2 == REG:
                    break
                if r2 <= 3:
                    traffic = True
                    break
            idle += not traffic
        rows[imsi] = {"n_registrations": n_reg,
                      "auth_max_per_hour": max(per_hour.values(), default=0),
                      "reg_idle_share": idle / n_reg if n_reg else math.nan}
        for r, o, t, imei, lac in ev:
            if r == ATTACH and o in (REG, CHECK):
                regs.append((imsi, int(g.imsi.iloc[0]), imei14(int(imei)), int(t), int(lac)))
    out = pd.DataFrame.from_dict(rows, orient="index")
    # IMSIs per IMEI per clock hour, device churn
    by_dev_hour, by_dev, days = {}, {}, {}
    for imsi, _, imei, t, _ in regs:
        if imei:
            by_dev_hour.setdefault((imei, t // 3600), set()).add(imsi)
            by_dev.setdefault(imei, set()).add(imsi)
            days.setdefault(imei, set()).add(t // 86400)
    per_hour, churn = {}, {}
    for imsi, _, imei, t, _ in regs:
        if imei:
            per_hour[imsi] = max(per_hour.get(imsi, 0), len(by_dev_hour[(imei, t // 3600)]))
            c = len(by_dev[imei]) / len(days[imei])
            churn[imsi] = max(churn.get(imsi, -1.0), c)
    out["reg_imei_imsis_hour"] = [per_hour.get(i, 0) for i in out.index]
    out["reg_device_churn"] = [churn.get(i, math.nan) for i in out.index]
    # numeric neighbours registering in one location area in one clock hour
    groups = {}
    for imsi, code, _, t, lac in regs:
        if lac > 0:
            groups.setdefault((lac, t // 3600), set()).add((imsi, code))
    nb = {i: set() for i in out.index}
    for members in groups.values():
        for a, ca in members:
            for b, cb in members:
                if a != b and len(a) == len(b) and abs(int(a) - int(b)) <= 10:
                    nb[a].add(b)
    out["reg_lac_neighbours"] = [len(nb[i]) for i in out.index]
    return out
