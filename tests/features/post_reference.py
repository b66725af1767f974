"""The numpy numeric neighbours that ``features/_post.pyx`` replaced: the slow reference.

Pairs are found by shifting the sorted (group, value) entries against themselves
``j = 1, 2, ...`` places, one array op per shift, and made distinct by ``np.unique``.
"""
import numpy as np


def reference_neighbour_counts(keys, rows, values, n, distance=10):
    """Per row: distinct other rows sharing a group key whose value is within ``distance``.

    Rows with value 0 (unknown) neither have nor are neighbours.
    """
    v = values[rows]
    ok = v != 0
    keys, rows, v = keys[ok], rows[ok], v[ok]
    o = np.lexsort((rows, v, keys))
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


def reference_device_not_phone(imei, tac_table, is_phone):
    """``(tac, device_type, device_not_phone)`` per IMEI string, one by one.

    ``tac_table``: ``{TAC: device_type}``, or None.
    """
    tac = np.array([s[:8] if 14 <= len(s) <= 16 else "" for s in imei], dtype=object)
    dtype = np.full(len(imei), "", dtype=object)
    flag = np.full(len(imei), np.nan)
    if tac_table is not None and len(imei):
        dt = [tac_table.get(t) if t else None for t in tac]
        known = np.array([t is not None for t in dt], dtype=bool)
        dt = np.array(dt, dtype=object)
        dtype[known] = dt[known]
        flag[known] = [0.0 if is_phone(t) else 1.0 for t in dt[known]]
    return tac, dtype, flag
