"""The device rule: one device carrying hundreds of SIMs at one place is a card farm.

A SIM-bank gateway rotates at most :data:`MAX_GATEWAY_SIMS` (512) SIMs through its
ports; in the held-out simulated worlds no legit device carries more than 33 IMSIs and
no fraud device more than 53.  A device (IMEI) that carries **more than 512 distinct
IMSIs** while its SIMs have **at most 2 main sites** between them is a SIM bank or a
card farm, whatever the model says: such a device lies outside anything the model
was trained on (100,000 IMSIs through one IMEI at one cell score as ordinary phones).

Its SIMs are flagged as ``cardfarm``, with their own reason (:func:`reason_text`), and
form one deployment per device (:func:`farm_devices` gives each SIM its device).  An
exclusion (``--exclude``, kind ``imei``) keeps a carrier's own gateway off the list,
as for any flag.

Placeholder IMEIs never count as a device (:func:`placeholder_imei`): empty, all zeros,
a type allocation code (digits 1-8) or a serial (digits 9-14) that is one repeated
digit -- the forms networks and vendors fill in when the handset's is unknown
(``35000000000000``, ``00000000000000``, ``86111111999999``), shared by unrelated
phones all over a network.  An identifier that is not 14-16 digits (an anonymised
token) is taken as a device.

The rule reads the per-SIM feature ``imei_max_imsis`` (the most IMSIs seen on any of
a SIM's IMEIs) to find the candidates at once (:func:`candidates`: nothing more is
done when no SIM has a device of more than 512), then the IMSI-IMEI pairs of the
feature run (``FeatureResult.devices``) and the SIMs' main sites.  It is applied where
the model's flags are made (:func:`simbox.scan.assemble` and
:func:`simbox.scan.held_back`), so ``simbox scan`` and ``simbox watch`` both apply it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simbox.deployments import factorized, same_keys, unique_ints

__all__ = ["MAX_GATEWAY_SIMS", "MAX_SITES", "CLASS", "placeholder_imei", "candidates",
           "farm_devices", "reason_text"]

#: a device carrying more distinct IMSIs than this is a candidate (a SIM bank's ports)
MAX_GATEWAY_SIMS = 512
#: ... and a farm when its SIMs have at most this many main sites between them
MAX_SITES = 2
#: the class its SIMs are flagged as
CLASS = "cardfarm"
#: the per-SIM feature that finds the candidates (features/registry.py)
FEATURE = "imei_max_imsis"


def placeholder_imei(imeis) -> np.ndarray:
    """Per identifier, True when it is not a device: empty, all zeros, or an IMEI (14-16
    digits) whose type allocation code (digits 1-8) or serial (digits 9-14) is one
    repeated digit.  Other identifiers (anonymised tokens) are devices."""
    s = np.asarray(imeis, dtype=object).astype(str)
    out = np.empty(len(s), dtype=bool)
    for i, x in enumerate(s):
        x = x.strip()
        if x == "" or set(x) == {"0"}:
            out[i] = True
        elif x.isascii() and x.isdigit() and 14 <= len(x) <= 16:
            out[i] = len(set(x[:8])) == 1 or len(set(x[8:14])) == 1
        else:
            out[i] = False
    return out


def candidates(features: pd.DataFrame) -> np.ndarray:
    """SIMs that were seen on a device of more than :data:`MAX_GATEWAY_SIMS` IMSIs (the
    feature ``imei_max_imsis``): the only SIMs :func:`farm_devices` can flag."""
    if FEATURE not in features.columns:
        return np.zeros(len(features), dtype=bool)
    return features[FEATURE].to_numpy(dtype=np.float64) > MAX_GATEWAY_SIMS


def farm_devices(features: pd.DataFrame, sims: pd.DataFrame, devices: pd.DataFrame) -> pd.DataFrame:
    """The SIMs of card-farm devices: a DataFrame indexed by key (SIMs of ``features``'
    index, in its order) with ``imei`` (the farm device), ``device_sims`` (its distinct
    IMSIs) and ``device_sites`` (its SIMs' main sites); empty when the rule does not fire.

    ``features``: the feature table (``imei_max_imsis``); ``sims``: ``main_site`` per SIM;
    ``devices``: ``imsi, imei`` pairs (``FeatureResult.devices``).  A SIM on two farm
    devices belongs to the one with more SIMs (ties: the lower IMEI).
    """
    empty = pd.DataFrame({"imei": pd.Series(dtype=object), "device_sims": pd.Series(dtype=np.int64),
                          "device_sites": pd.Series(dtype=np.int64)},
                         index=pd.Index([], name=features.index.name, dtype=object))
    cand = candidates(features)
    if cand.sum() <= MAX_GATEWAY_SIMS:         # a farm device has more SIMs than that
        return empty
    # the pairs of the candidates, as (row of features, device code)
    row = _rows_of(devices["imsi"], features.index)
    pick = row >= 0
    pick[pick] = cand[row[pick]]
    row = row[pick]
    # (str: factorize leaves missing ones out; pandas' Arrow texts encoded by Arrow)
    code, texts = factorized(devices["imei"].array[pick])
    names = texts.astype(str)
    ok = (code >= 0) & (names[np.maximum(code, 0)] != "")
    row, code = row[ok], code[ok]
    if not len(row):
        return empty
    pair = unique_ints(code.astype(np.int64) * len(features) + row)     # distinct (device, SIM)
    d, row = pair // len(features), pair % len(features)
    n_sims = np.bincount(d, minlength=len(names))
    big = n_sims > MAX_GATEWAY_SIMS
    big[big] = ~placeholder_imei(names[big])
    if not big.any():
        return empty
    keep = big[d]
    d, row = d[keep], row[keep]
    site = sims["main_site"] if sims.index.equals(features.index) else \
        sims["main_site"].reindex(features.index)
    site_code, site_names = factorized(site.fillna("").astype(str))
    s = site_code[row]
    seen = np.asarray(site_names, dtype=object)[s] != ""       # SIMs without a main site
    width = len(site_names) + 1
    ds = unique_ints(d[seen] * width + s[seen]) // width          # distinct (device, site)
    n_sites = np.bincount(ds, minlength=len(names))
    farm = big & (n_sites <= MAX_SITES)
    keep = farm[d]
    d, row = d[keep], row[keep]
    if not len(row):
        return empty
    # one device per SIM: the one with most SIMs, then the lower IMEI (rows ascending and
    # distinct, as one device's pairs come: each SIM on one farm device, nothing to choose)
    if not (row[1:] > row[:-1]).all():
        by_name = np.argsort(np.argsort(names, kind="stable"), kind="stable")   # IMEI order
        order = np.lexsort((by_name[d], -n_sims[d], row))
        d, row = d[order], row[order]
        first = np.r_[True, row[1:] != row[:-1]]
        d, row = d[first], row[first]      # rows ascending: the order of features
    imei = texts[d]
    if all(isinstance(t, str) for t in texts):        # (as pandas' texts: each converted once)
        imei = pd.array(texts, dtype="str").take(d)
    out = pd.DataFrame({"imei": imei, "device_sims": n_sims[d].astype(np.int64),
                        "device_sites": n_sites[d].astype(np.int64)},
                       index=pd.Index(features.index[row], dtype=object))
    out.index.name = features.index.name
    return out


def _rows_of(imsi: pd.Series, index: pd.Index) -> np.ndarray:
    """The row of ``index`` of each value of ``imsi`` (-1: none); by the category codes when
    ``imsi`` is a categorical over ``index`` (the feature run's pair tables)."""
    if isinstance(imsi.dtype, pd.CategoricalDtype) and same_keys(imsi.cat.categories, index):
        return imsi.cat.codes.to_numpy().astype(np.int64)
    return index.get_indexer(imsi.astype(object).to_numpy()).astype(np.int64)


def reason_text(farms: pd.DataFrame) -> pd.Series:
    """The reason of each SIM of :func:`farm_devices`, e.g. ``one of 100,000 SIMs on
    device 356938035643809 at one site (device rule: a SIM bank or card farm)`` (worded
    once per device)."""
    code, imeis = factorized(farms["imei"])
    first = unique_ints(code, return_index=True)[1] if len(code) else np.zeros(0, np.int64)
    n, sites = farms["device_sims"].to_numpy()[first], farms["device_sites"].to_numpy()[first]
    text = np.array([f"one of {k:,} SIMs on device {i} at {'one site' if m <= 1 else 'two sites'}"
                     " (device rule: a SIM bank or card farm)"
                     for k, i, m in zip(n.tolist(), imeis, sites.tolist())] + [""], dtype=object)
    return pd.Series(text[code], index=farms.index, name="reasons", dtype=object)


def summary(farms: pd.DataFrame) -> dict:
    """The rule's part of ``summary.json``: devices, SIMs, and the devices (at most 5)."""
    # each device's first row (the rule's counts are the same in each of its rows), the
    # devices in IMEI order: a groupby's first rows, without grouping 100,000 SIMs
    code, imeis = factorized(farms["imei"])
    values, first = unique_ints(code, return_index=True) if len(code) else (code, code)
    first = first[values >= 0]                    # (no IMEI: in no group)
    imeis = np.asarray(imeis, dtype=object)
    n, sites = farms["device_sims"].to_numpy()[first], farms["device_sites"].to_numpy()[first]
    return {"devices": int(len(imeis)), "sims": int(len(farms)),
            "max_device_sims": MAX_GATEWAY_SIMS, "max_sites": MAX_SITES,
            "examples": [{"imei": str(imeis[i]), "sims": int(n[i]), "sites": int(sites[i])}
                         for i in np.argsort(imeis, kind="stable")[:5].tolist()]}


def note(farms: pd.DataFrame) -> str:
    """The line the summary and the report say about the rule."""
    n_dev = len(factorized(farms["imei"])[1])     # (the distinct IMEIs: its nunique)
    return (f"device rule: {len(farms):,} SIMs on {n_dev:,} device(s) carrying more than "
            f"{MAX_GATEWAY_SIMS} SIMs at {MAX_SITES} sites or fewer flagged as card farm "
            f"(SIM bank; one deployment per device)")
