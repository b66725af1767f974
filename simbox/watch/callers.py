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


class GroupCalls:
    """:func:`unsolicited_in_group` of one refresh, callable on keys: the lookups over every
    subscriber of the window (their keys, MSISDNs, main sites and IMEIs) are made once, at
    the first call, and serve every call of the refresh (the evidence table's SIMs, then
    their peers)."""

    def __init__(self, window, res):
        self.window, self.res = window, res
        self._made = None

    def _make(self):
        red = self.window.red
        book = getattr(self.window.celldict, "keys", None)
        codes = np.asarray(red.imsi, np.int64)
        names = pd.Index(decode_ids(codes, book))
        sims = self.res.sims
        sims = sims[[c for c in ("msisdn", "main_site", "main_imei") if c in sims]] \
            .reindex(names)
        msisdn = sims["msisdn"].fillna("").astype(str).to_numpy() if "msisdn" in sims \
            else np.full(len(names), "", object)
        once = ~pd.Series(msisdn).duplicated(keep=False).to_numpy()
        owner = np.flatnonzero(once & (msisdn != ""))   # a number of one SIM only
        groups = []
        for col in ("main_site", "main_imei"):
            if col in sims:
                v = sims[col].fillna("").astype(str).to_numpy()
                code = pd.factorize(v)[0]
                groups.append(np.where(v == "", -1, code))
        order = np.argsort(codes, kind="stable")
        self._made = (names, codes, order, pd.Index(msisdn[owner]), owner, groups)
        return self._made

    def __call__(self, keys) -> np.ndarray:
        keys = pd.Index(np.asarray(keys, dtype=object).astype(str))
        out = np.zeros(len(keys))
        red = getattr(self.window, "red", None)
        if red is None or not len(keys) or not len(red.imsi):
            return out
        names, codes, order, numbers, owner, groups = self._made or self._make()
        pos = names.get_indexer(keys)
        have = pos >= 0
        if not have.any():
            return out
        calls = window_calls(self.window, np.unique(codes[pos[have]]))
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
        caller = numbers.get_indexer(decode_array(other[mtc]))
        ok = caller >= 0
        mtc, caller = mtc[ok], owner[caller[ok]]
        callee = order[np.searchsorted(codes, sub[mtc], sorter=order)]
        same = np.zeros(len(mtc), bool)
        for g in groups:
            same |= (g[caller] == g[callee]) & (g[caller] >= 0)
        same &= caller != callee
        counts = np.bincount(callee[same], minlength=len(names)).astype(float)
        out[have] = counts[pos[have]]
        return out


def unsolicited_in_group(window, res, keys) -> np.ndarray:
    """Per key of ``keys`` (subscriber keys, as in ``res.features``' index): the calls it
    received in the window from a number it had not called at an earlier time, made by an
    on-net SIM whose main site or main IMEI is its own (0 for a key not in the window)."""
    return GroupCalls(window, res)(keys)
