"""Features computed after the per-IMSI reduction, from the pair tables of all IMSIs.

Cross-IMSI features (IMEIs shared by several IMSIs, numeric neighbours on the
same device or site, SIMs moving together) need every partition, and window shares need the whole
input's time span; the kernels give per-IMSI columns and the compact IMSI-IMEI
and IMSI-cell tables, reduced here with numpy.  :data:`POST` maps each feature
computed here to its function.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simbox.fastpath.events import decode_array
from simbox.features.tables import is_phone

NEIGHBOUR_DISTANCE = 10


@dataclass
class Context:
    imsi: np.ndarray          # int64 digits codes, one per row
    msisdn: np.ndarray        # int64 digits codes (0 unknown)
    feats: np.ndarray         # float64 (rows, len(names)), kernel columns filled
    names: list
    dev_row: np.ndarray       # IMSI-IMEI pairs
    dev_imei: np.ndarray
    site_row: np.ndarray      # IMSI-site pairs
    site_code: np.ndarray
    main_imei_code: np.ndarray  # per row (0 none)
    main_cell_code: np.ndarray  # per row (-1 none)
    main_site_code: np.ndarray  # per row (-1 none)
    cell_tokens: np.ndarray   # token per cell code
    site_names: np.ndarray    # site name per site code
    tac: dict | None          # device_type by TAC (features.tables.load_tac)
    tz: object                # TimeZone
    move_row: np.ndarray = field(default=None)    # moves (site changes), one per row
    move_from: np.ndarray = field(default=None)
    move_to: np.ndarray = field(default=None)
    move_time: np.ndarray = field(default=None)
    main_imei: np.ndarray = field(default=None)
    main_tac: np.ndarray = field(default=None)
    device_type: np.ndarray = field(default=None)
    main_cell: np.ndarray = field(default=None)
    main_site: np.ndarray = field(default=None)

    def col(self, name):
        return self.feats[:, self.names.index(name)]

    def set(self, name, values):
        self.feats[:, self.names.index(name)] = values


def imei_max_imsis(ctx: Context):
    n = len(ctx.imsi)
    out = np.zeros(n)
    if len(ctx.dev_imei):
        _, inv, counts = np.unique(ctx.dev_imei, return_inverse=True, return_counts=True)
        np.maximum.at(out, ctx.dev_row, counts[inv].astype(float))
    ctx.set("imei_max_imsis", out)


def device_not_phone(ctx: Context):
    n = len(ctx.imsi)
    imei = decode_array(ctx.main_imei_code)
    tac = np.array([s[:8] if len(s) >= 14 else "" for s in imei], dtype=object)
    ctx.main_imei, ctx.main_tac = imei, tac
    dtype = np.full(n, "", dtype=object)
    flag = np.full(n, np.nan)
    if ctx.tac is not None and n:
        get = ctx.tac.get
        dt = [get(t) if t else None for t in tac]
        known = np.array([t is not None for t in dt], dtype=bool)
        dt = np.array(dt, dtype=object)
        dtype[known] = dt[known]
        flag[known] = [0.0 if is_phone(t) else 1.0 for t in dt[known]]
    ctx.device_type = dtype
    ctx.set("device_not_phone", flag)


def window_shares(ctx: Context):
    first, last = ctx.col("first_seen"), ctx.col("last_seen")
    if len(first) == 0:
        return
    t0, t1 = int(np.nanmin(first)), int(np.nanmax(last))
    span = t1 - t0
    ctx.set("lifetime_share", (last - first) / span if span > 0 else np.full(len(first), np.nan))
    off = ctx.tz.offsets([t0, t1])
    days = (t1 + off[1]) // 86400 - (t0 + off[0]) // 86400 + 1
    ctx.set("active_day_share", ctx.col("active_days") / days)


def _groups(ctx: Context):
    """(group key, row) pairs: devices (IMEI code > 0) and sites (-(site code + 1))."""
    keys = np.concatenate([ctx.dev_imei, -(ctx.site_code.astype(np.int64) + 1)])
    rows = np.concatenate([ctx.dev_row, ctx.site_row]).astype(np.int64)
    return keys, rows


def neighbour_counts(keys, rows, values, n, distance=NEIGHBOUR_DISTANCE):
    """Per row: distinct other rows sharing a group key whose value is within ``distance``.

    Rows with value 0 (unknown) neither have nor are neighbours.
    """
    v = values[rows]
    ok = v != 0
    keys, rows, v = keys[ok], rows[ok], v[ok]
    o = _group_order(keys, rows, values, n)
    keys, rows, v = keys[o], rows[o], v[o]
    pa, pb = [], []
    j = 1
    while j < len(keys):
        same = (keys[j:] == keys[:-j]) & (v[j:] - v[:-j] <= distance)
        if not same.any():
            break
        a, b = rows[:-j][same], rows[j:][same]
        diff = a != b
        pa.append(a[diff])
        pb.append(b[diff])
        j += 1
    out = np.zeros(n)
    if pa:
        a = np.concatenate(pa + pb)
        b = np.concatenate(pb + pa)
        pairs = np.unique(a * n + b)
        np.add.at(out, pairs // n, 1.0)
    return out


def _group_order(keys, rows, values, n):
    """The permutation ``np.lexsort((rows, values[rows], keys))``, by one sort of one key.

    Ordering by (value, row) is ordering by the row's rank in a stable sort of
    ``values`` (n rows: cheap); keys are replaced by their dense rank.  The (key, row)
    pairs are distinct, so are the combined keys: any sort gives this order.
    """
    if len(keys) == 0:
        return np.zeros(0, np.intp)
    rank = np.empty(n, np.int64)
    rank[np.argsort(values, kind="stable")] = np.arange(n, dtype=np.int64)
    uk, kd = np.unique(keys, return_inverse=True)
    if len(uk) * n >= 1 << 62:              # no room for one combined key
        return np.lexsort((rows, values[rows], keys))
    return np.argsort(kd.astype(np.int64).reshape(-1) * n + rank[rows])


def neighbours(ctx: Context):
    n = len(ctx.imsi)
    keys, rows = _groups(ctx)
    ctx.set("imsi_neighbours", neighbour_counts(keys, rows, ctx.imsi, n))
    ctx.set("msisdn_neighbours", neighbour_counts(keys, rows, ctx.msisdn, n))


def comovement(ctx: Context):
    from simbox.features.comove import comovement_counts
    n = len(ctx.imsi)
    empty = np.empty(0, np.int64)
    get = lambda a: empty if a is None else a  # noqa: E731
    moves, peers, share = comovement_counts(get(ctx.move_row), get(ctx.move_from),
                                            get(ctx.move_to), get(ctx.move_time), n)
    ctx.set("moves", moves)
    ctx.set("comove_peers", peers)
    ctx.set("comove_share", share)


def _names(codes, names):
    out = np.full(len(codes), "", dtype=object)
    ok = codes >= 0
    if ok.any():
        out[ok] = names[codes[ok]]
    return out


def main_places(ctx: Context):
    """Not features: the names of the main cell and main site of each IMSI (for ``sims``)."""
    ctx.main_cell = _names(ctx.main_cell_code, ctx.cell_tokens)
    ctx.main_site = _names(ctx.main_site_code, ctx.site_names)


POST = {
    "imei_max_imsis": imei_max_imsis,
    "device_not_phone": device_not_phone,
    "lifetime_share": window_shares,
    "active_day_share": window_shares,
    "imsi_neighbours": neighbours,
    "msisdn_neighbours": neighbours,
    "moves": comovement,
    "comove_peers": comovement,
    "comove_share": comovement,
}


def fill(ctx: Context):
    done = set()
    for name in ctx.names:
        fn = POST.get(name)
        if fn is not None and fn not in done:
            fn(ctx)
            done.add(fn)
    if device_not_phone not in done:
        device_not_phone(ctx)
    main_places(ctx)
