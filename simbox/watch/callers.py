"""Calls a SIM received from its own group, read from the watch's window (alert policy).

The alert policy reads a call received from a number the SIM had not called as a sign
that people know its number: an office's agents are called by customers
(:func:`simbox.watch.policy.unsolicited`).  A SIM box that makes its SIMs look human
has them call *each other*: a sibling's call is a call from a number the SIM had not
called, but it says nothing of an office.  This module counts, per SIM, the calls it
received from a number it had not called at an earlier time, made by an on-net SIM of its
**group**: one whose main site or main IMEI is its own (the same box, the same rack).
The policy subtracts them (``unsolicited_in`` of the evidence table).

On the simulator's networks (seen ones, 1105-1107) every unsolicited call of the
human-like boxes' SIMs came from their group; 4.7 % of a call centre's and 0.2 % of a
desk gateway's agents' did (docs/watch.md, "Session 12").

The events are the window's (the hour slices), read only for the SIMs asked about; the
group is that of the feature table of the same refresh (``res.sims``: main site, main
IMEI, MSISDN).  A caller is matched by its number's digits to a SIM's MSISDN exactly (a
number written in another format than the MSISDNs is not matched: the call then counts
as from outside, the reading before this module).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simbox.fastpath.events import RecordType, decode_array
from simbox.fastpath.keys import decode_ids
from simbox.fastpath.partials import ranges

_FIELDS = ["rtype", "time", "imsi", "other"]


def window_calls(window, codes: np.ndarray) -> np.ndarray:
    """The voice calls (MOC and MTC with a number) of the subscribers ``codes`` (key codes,
    sorted, distinct) in the window's slices: a record array of :data:`_FIELDS`."""
    pieces = []
    for h in sorted(window.slices):
        s = window.slices[h]
        _, a, b = s.spans(codes)
        if len(a):
            rows = np.asarray(s.rows[ranges(a, b)])[_FIELDS]
            keep = ((rows["rtype"] == RecordType.MOC) | (rows["rtype"] == RecordType.MTC)) \
                & (rows["other"] != 0)
            pieces.append(rows[keep])
    if not pieces:
        return np.zeros(0, np.dtype([(f, np.int64) for f in _FIELDS]))
    return np.concatenate(pieces)


def unsolicited_in_group(window, res, keys) -> np.ndarray:
    """Per key of ``keys`` (subscriber keys, as in ``res.features``' index): the calls it
    received in the window from a number it had not called at an earlier time, made by an
    on-net SIM whose main site or main IMEI is its own (0 for a key not in the window)."""
    keys = pd.Index(np.asarray(keys, dtype=object).astype(str))
    out = np.zeros(len(keys))
    red = getattr(window, "red", None)
    if red is None or not len(keys) or not len(red.imsi):
        return out
    names = pd.Index(decode_ids(red.imsi, getattr(window.celldict, "keys", None)))
    pos = names.get_indexer(keys)
    have = np.flatnonzero(pos >= 0)
    if not len(have):
        return out
    codes = np.unique(np.asarray(red.imsi)[pos[have]])
    calls = window_calls(window, codes)
    if not len(calls):
        return out
    sub, other, t = calls["imsi"], calls["other"], calls["time"]
    moc = calls["rtype"] == RecordType.MOC
    # the first time each subscriber called each number; an MTC after it is a callback
    first = pd.Series(t[moc]).groupby([sub[moc], other[moc]]).min()
    mtc = np.flatnonzero(~moc)
    called = first.reindex(pd.MultiIndex.from_arrays([sub[mtc], other[mtc]])).to_numpy(float)
    mtc = mtc[~(called < t[mtc])]          # NaN (never called) or called later
    if not len(mtc):
        return out
    sims = res.sims
    msisdn = sims["msisdn"].fillna("").astype(str)
    msisdn = msisdn[msisdn != ""]
    msisdn = msisdn[~msisdn.duplicated(keep=False)]          # a number of one SIM only
    caller = pd.Index(msisdn.to_numpy()).get_indexer(decode_array(other[mtc]))
    callee = names.get_indexer(decode_ids(sub[mtc], getattr(window.celldict, "keys", None)))
    ok = caller >= 0
    mtc, caller, callee = mtc[ok], caller[ok], callee[ok]
    caller_key = msisdn.index.to_numpy()[caller]
    callee_key = names.to_numpy()[callee]
    same = np.zeros(len(mtc), bool)
    for col in ("main_site", "main_imei"):
        if col not in sims:
            continue
        v = sims[col].fillna("").astype(str)
        a = v.reindex(caller_key).fillna("").to_numpy()
        b = v.reindex(callee_key).fillna("").to_numpy()
        same |= (a == b) & (a != "")
    same &= caller_key != callee_key
    counts = pd.Series(same.astype(float)).groupby(callee_key).sum()
    return counts.reindex(keys).fillna(0.0).to_numpy()
