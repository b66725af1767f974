"""Features computed after the per-IMSI reduction, from the pair tables of all IMSIs.

Cross-IMSI features (IMEIs shared by several IMSIs, numeric neighbours on the
same device or site, SIMs moving together) need every partition, window shares need the whole
input's time span and percentile ranks (``*_pct``) the whole scanned network; the kernels give per-IMSI columns and the compact IMSI-IMEI
and IMSI-cell tables, reduced here with numpy and the kernels ``_post.pyx`` (numeric
neighbours) and ``_comove.pyx`` (co-movement).  :data:`POST` maps each feature
computed here to its function.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simbox.fastpath import constants
from simbox.fastpath.events import decode_array
from simbox.fastpath.keys import decode_ids
from simbox.features import _post
from simbox.features.comove import comovement_counts
from simbox.features.tables import is_phone

NEIGHBOUR_DISTANCE = constants.NEIGHBOUR_DISTANCE


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
    keys: object = field(default=None)              # the run's KeyBook (device tokens)
    reg_row: np.ndarray = field(default=None)       # MAP registrations (fastpath reg_*)
    reg_imei: np.ndarray = field(default=None)
    reg_time: np.ndarray = field(default=None)
    reg_lac: np.ndarray = field(default=None)

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
    code = np.asarray(ctx.main_imei_code, np.int64)
    ctx.main_imei = decode_ids(code, ctx.keys)
    ctx.main_tac, ctx.device_type, flag = device_types(code, ctx.tac)
    ctx.set("device_not_phone", flag)


def device_types(code, tac):
    """Per main IMEI digits code: ``(TAC, device type, device_not_phone)`` (``""``, ``""``,
    NaN where unknown); ``tac``: device type by TAC (:func:`features.tables.load_tac`) or None.
    A pure function of each row (the Spark engine calls it per partition)."""
    n = len(code)
    tacs, tac_of, has = _tacs(code)
    tac_s = np.full(n, "", dtype=object)
    tac_s[has] = tacs[tac_of]
    dtype = np.full(n, "", dtype=object)
    flag = np.full(n, np.nan)
    if tac is not None and len(tacs):
        # per distinct TAC: its device type and whether it is a phone
        get = tac.get
        dt = np.array([get(t) for t in tacs], dtype=object)
        known = np.array([t is not None for t in dt], dtype=bool)
        not_phone = np.full(len(tacs), np.nan)
        not_phone[known] = [0.0 if is_phone(t) else 1.0 for t in dt[known]]
        rows = np.flatnonzero(has)[known[tac_of]]
        dtype[rows] = dt[tac_of][known[tac_of]]
        flag[rows] = not_phone[tac_of][known[tac_of]]
    return tac_s, dtype, flag


_POW10 = 10 ** np.arange(19, dtype=np.int64)


def _tacs(code):
    """The TACs of IMEI digits codes: the first 8 digits of an IMEI of 14-16 digits.

    Returns ``(tacs, tac_of, has)``: the distinct TACs (str, sorted), for each code
    with a TAC (``has``) the index of its TAC.  A digits code is ``"1" + digits``.
    """
    has = (code >= _POW10[14]) & (code < 2 * _POW10[16])     # 14-16 digits (not a token)
    long = code[has]
    width = np.searchsorted(_POW10, long, side="right")      # digits of the code
    codes, tac_of = np.unique(long // _POW10[width - 9], return_inverse=True)
    return decode_array(codes), tac_of.reshape(-1), has


def window_shares(ctx: Context):
    first, last = ctx.col("first_seen"), ctx.col("last_seen")
    if len(first) == 0:
        return
    t0, t1 = int(np.nanmin(first)), int(np.nanmax(last))
    life, days = window_share_values(first, last, ctx.col("active_days"), t0, t1, ctx.tz)
    ctx.set("lifetime_share", life)
    ctx.set("active_day_share", days)


def window_share_values(first, last, active_days, t0, t1, tz):
    """``(lifetime_share, active_day_share)`` of rows within the input's span ``[t0, t1]``
    (the earliest first and latest last event, epoch s; local days by ``tz``)."""
    span = t1 - t0
    life = (last - first) / span if span > 0 else np.full(len(first), np.nan)
    off = tz.offsets([t0, t1])
    days = (t1 + off[1]) // 86400 - (t0 + off[0]) // 86400 + 1
    return life, active_days / days


def _groups(ctx: Context):
    """(group, row) pairs: devices (IMEI code > 0) and sites; groups numbered 0..count-1.

    Returns ``(group, row, count)``.
    """
    imeis, dev = np.unique(ctx.dev_imei, return_inverse=True)
    lo, hi = (int(ctx.site_code.min()), int(ctx.site_code.max())) if len(ctx.site_code) else (0, -1)
    site = ctx.site_code.astype(np.int64) + (len(imeis) - lo)
    count = len(imeis) + hi - lo + 1
    group = np.concatenate([dev.reshape(-1).astype(np.int64), site])
    rows = np.concatenate([ctx.dev_row, ctx.site_row]).astype(np.int64)
    return group, rows, count


def neighbour_counts(group, rows, values, n, count, distance=NEIGHBOUR_DISTANCE):
    """Per row: distinct other rows sharing a group whose value is within ``distance``.

    IN: distinct (group, row) pairs, groups in ``0..count-1``.  Rows with value 0
    (unknown) neither have nor are neighbours.
    """
    keys = close_pair_keys(group, rows, values, n, count, distance)
    out = np.zeros(n)
    _post.distinct_per_row(keys, n, out)
    return out


def close_pair_keys(group, rows, values, n, count, distance=NEIGHBOUR_DISTANCE):
    """The keys ``a * n + b`` (sorted, with repeats) of the rows ``a != b`` sharing a group
    whose values are within ``distance`` (both ways); IN as :func:`neighbour_counts`."""
    ok = values[rows] != 0
    group, rows = _group_sort(group[ok], rows[ok], values, n, count)
    keys = _post.close_pairs(group, rows, values[rows], distance, n)
    keys.sort()
    return keys


def _group_sort(group, rows, values, n, count):
    """The (group, row) pairs sorted by (group, value of the row), by one plain sort.

    Rows of equal value come in any order.  Ordering by value is ordering by the
    row's rank in a sort of ``values`` (n rows: cheap).  The (group, row) pairs are
    distinct, so are the combined keys ``group * n + rank``, which give both back.
    """
    if count * n >= 1 << 62:                 # no room for one combined key
        o = np.lexsort((values[rows], group))
        return group[o], rows[o]
    by_rank = np.argsort(values)
    rank = np.empty(n, np.int64)
    rank[by_rank] = np.arange(n, dtype=np.int64)
    c = group * n + rank[rows]
    c.sort()
    return c // n, by_rank[c % n]


def neighbours(ctx: Context):
    n = len(ctx.imsi)
    group, rows, count = _groups(ctx)
    ctx.set("imsi_neighbours", neighbour_counts(group, rows, ctx.imsi, n, count))
    ctx.set("msisdn_neighbours", neighbour_counts(group, rows, ctx.msisdn, n, count))


def comovement(ctx: Context):
    n = len(ctx.imsi)
    empty = np.empty(0, np.int64)
    get = lambda a: empty if a is None else a  # noqa: E731
    moves, peers, share = comovement_counts(get(ctx.move_row), get(ctx.move_from),
                                            get(ctx.move_to), get(ctx.move_time), n)
    ctx.set("moves", moves)
    ctx.set("comove_peers", peers)
    ctx.set("comove_share", share)


def percentile_rank(values, among):
    """Per row: the mean rank (1-based) of its value among the rows of ``among`` whose
    value is not NaN, divided by their number (pandas' ``rank(pct=True)``); NaN for the
    other rows.  Equal values share their mean rank."""
    out = np.full(len(values), np.nan)
    ok = among & ~np.isnan(values)
    v = values[ok]
    if len(v):
        s = np.sort(v)
        below = np.searchsorted(s, v, side="left")
        upto = np.searchsorted(s, v, side="right")
        out[ok] = mean_rank_share(below, upto, len(v))
    return out


def mean_rank_share(below, upto, total):
    """The mean 1-based rank over ``total`` of values with ``below`` values less than them
    and ``upto`` values less than or equal (int arrays)."""
    return (below + upto + 1) / 2 / total


# percentile features: (feature, numerator, denominator or None)
RANKED = (("moc_per_day_pct", "n_moc", "active_days"),
          ("callees_per_day_pct", "moc_callees", "active_days"),
          ("sms_mo_per_day_pct", "n_sms_mo", "active_days"),
          ("moc_dur_mean_pct", "moc_dur_mean", None))


def network_ranks(ctx: Context):
    """Levels that depend on the network (tariffs, habits) as percentile ranks within the
    scanned network, among the SIMs with a call or SMS."""
    active, ranked = rank_inputs(ctx.col)
    for name, x in ranked:
        ctx.set(name, percentile_rank(x, active))


def rank_inputs(col):
    """``(active, [(feature, values), ...])`` of :data:`RANKED` for the rows whose feature
    columns ``col(name)`` gives: the SIMs ranked (a call or SMS) and each level ranked."""
    active = (col("n_moc") + col("n_mtc") + col("n_sms_mo") + col("n_sms_mt")) > 0
    out = []
    for name, num, den in RANKED:
        x = col(num)
        if den is not None:
            d = col(den)
            x = np.divide(x, d, out=np.full(len(x), np.nan), where=d > 0)
        out.append((name, x))
    return active, out


def _names(codes, names):
    out = np.full(len(codes), "", dtype=object)
    ok = codes >= 0
    if ok.any():
        out[ok] = names[codes[ok]]
    return out


def imei14(codes: np.ndarray) -> np.ndarray:
    """Digits codes of the first 14 digits (TAC + serial) of IMEI / IMEISV codes (0: 0).

    A digits code of d digits lies in [10**d, 2 * 10**d); the IMEI of a device and its
    IMEISV share these 14 digits."""
    codes = np.asarray(codes, np.int64)
    out = codes.copy()
    for d in range(15, 19):
        big = (codes >= 10 ** d) & (codes < 2 * 10 ** d)
        out[big] = codes[big] // 10 ** (d - 14)
    return out


def registration_devices(ctx: Context):
    """reg_imei_imsis_hour and reg_device_churn from the registrations with an IMEI."""
    n = len(ctx.imsi)
    per_hour = np.zeros(n)
    churn = np.full(n, np.nan)
    has = ctx.reg_imei != 0 if ctx.reg_imei is not None else np.zeros(0, bool)
    if has.any():
        row = ctx.reg_row[has].astype(np.int64)
        dev = np.unique(imei14(ctx.reg_imei[has]), return_inverse=True)[1].reshape(-1)
        t = ctx.reg_time[has]
        nd = int(dev.max()) + 1
        # distinct IMSIs per (device, hour): distinct (device, hour, row), counted per (device, hour)
        dh = np.unique(np.stack([dev, t // 3600]), axis=1, return_inverse=True)[1].reshape(-1)
        trip = np.unique(np.stack([dh, row]), axis=1)
        imsis_dh = np.bincount(trip[0], minlength=int(dh.max()) + 1)
        np.maximum.at(per_hour, row, imsis_dh[dh].astype(float))
        # churn per device: distinct IMSIs / distinct UTC days
        imsis_d = np.bincount(np.unique(np.stack([dev, row]), axis=1)[0], minlength=nd)
        days_d = np.bincount(np.unique(np.stack([dev, t // 86400]), axis=1)[0], minlength=nd)
        c = imsis_d / days_d
        np.fmax.at(churn, row, c[dev])
    ctx.set("reg_imei_imsis_hour", per_hour)
    ctx.set("reg_device_churn", churn)


def registration_neighbours(ctx: Context):
    """reg_lac_neighbours: numeric IMSI neighbours among the SIMs registering in one location
    area in one clock hour (groups: distinct (LAC, hour))."""
    n = len(ctx.imsi)
    has = ctx.reg_lac > 0 if ctx.reg_lac is not None else np.zeros(0, bool)
    if not has.any():
        ctx.set("reg_lac_neighbours", np.zeros(n))
        return
    grp = np.unique(np.stack([ctx.reg_lac[has].astype(np.int64), ctx.reg_time[has] // 3600]),
                    axis=1, return_inverse=True)[1].reshape(-1)
    pairs = np.unique(np.stack([grp, ctx.reg_row[has].astype(np.int64)]), axis=1)
    ctx.set("reg_lac_neighbours", neighbour_counts(pairs[0], pairs[1], ctx.imsi, n,
                                                   int(grp.max()) + 1))


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
    **{name: network_ranks for name, _, _ in RANKED},
    "reg_imei_imsis_hour": registration_devices,
    "reg_device_churn": registration_devices,
    "reg_lac_neighbours": registration_neighbours,
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
