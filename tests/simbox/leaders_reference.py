"""The site+hours links as numpy computed them before session 21 (main at 96f195c): the
reference of the leader kernel ``simbox._leaders.site_leaders`` (behind
``deployments._site_hours_links``; tests/simbox/test_site_hours_leaders.py).  Verbatim but
for the names it imports and the chunk of 4,096 rows named ``CHUNK`` (the tests cross it
with fewer rows)."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from simbox.deployments import ALIKE_DECIMALS, _ns, _pairs

log = logging.getLogger("simbox.deployments")
CHUNK = 4096


def _unit_rows(hours: np.ndarray) -> np.ndarray:
    h = np.asarray(hours, dtype=np.float64)
    norm = np.linalg.norm(h, axis=1) if h.size else np.zeros(len(h))
    return np.divide(h, norm[:, None], out=np.zeros_like(h), where=norm[:, None] > 0)


def _site_hours_links(sims: pd.DataFrame, hours: np.ndarray, threshold: float, max_leaders: int,
                      counter: dict, log_every: int = 0) -> np.ndarray:
    """Site+hours links by leader clustering, site by site (near-linear).

    The SIMs of a site are taken in order of first activity.  Each is compared
    with the site's *leaders* (at most ``max_leaders`` of them): it is linked to
    the most alike leader whose hour-of-day profile reaches ``threshold``
    (cosine) and whose active period overlaps its own; a SIM that matches no
    leader becomes one while there are fewer than ``max_leaders``.  So a site of
    ``m`` SIMs costs at most ``m x max_leaders`` profile comparisons (counted in
    ``counter["comparisons"]``), never ``m^2``: 100,000 SIMs at one site are
    grouped like 100.
    """
    unit = _unit_rows(hours)
    first, last = _ns(sims["first_seen"]), _ns(sims["last_seen"])
    site, names = pd.factorize(sims["main_site"].astype(str), sort=False)
    blank = np.flatnonzero(names == "")
    ok = site >= 0
    if len(blank):
        ok &= site != blank[0]
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return _pairs([], [])
    order = idx[np.lexsort((idx, first[idx], site[idx]))]
    bounds = np.flatnonzero(np.diff(site[order])) + 1
    out_a, out_b = [], []
    done = 0
    for block in np.split(order, bounds):
        if len(block) < 2:
            continue
        leaders = np.empty(0, dtype=np.int64)
        for lo in range(0, len(block), CHUNK):
            rows = block[lo:lo + CHUNK]
            matched = np.zeros(len(rows), dtype=bool)
            if len(leaders):
                sim = _alike(unit[rows] @ unit[leaders].T)
                counter["comparisons"] += sim.size
                fit = (sim >= threshold) & (first[rows][:, None] <= last[leaders][None, :]) & \
                      (first[leaders][None, :] <= last[rows][:, None])
                matched = fit.any(axis=1)
                best = np.argmax(np.where(fit, sim, -np.inf), axis=1)
                out_a.append(leaders[best[matched]])
                out_b.append(rows[matched])
            # SIMs no leader fits, in order: each fits one of the leaders this block made
            # before it, or becomes one while there is room (:func:`_new_leaders`)
            a, b, new = _new_leaders(rows[~matched], unit, first, last, threshold,
                                     max_leaders - len(leaders), counter)
            out_a.append(a)
            out_b.append(b)
            if len(new):
                leaders = np.concatenate([leaders, new])
            done += len(rows)
            if log_every and done // log_every != (done - len(rows)) // log_every:
                log.info("grouping: site+hours links, %s of %s SIMs (%s comparisons)",
                         f"{done:,}", f"{len(idx):,}", f"{counter['comparisons']:,}")
    if not out_a:
        return _pairs([], [])
    return _pairs(np.concatenate(out_a), np.concatenate(out_b))


def _alike(products: np.ndarray) -> np.ndarray:
    """Cosines of unit hour profiles as compared: rounded to :data:`ALIKE_DECIMALS`.  A
    matrix product's last bits depend on where a row sits in it (the BLAS kernel's lanes),
    so two leaders of one profile could tie or not by their places; rounded, they tie, and
    the earlier leader wins (``np.argmax``: the first of the largest)."""
    return np.round(products, ALIKE_DECIMALS)


def _new_leaders(rows: np.ndarray, unit: np.ndarray, first: np.ndarray, last: np.ndarray,
                 threshold: float, room: int, counter: dict) -> tuple:
    """The leader rule of :func:`_site_hours_links` over ``rows`` (in order), none of which
    fits the leaders made before: each row is linked to the most alike of the leaders made
    from ``rows`` before it (``threshold``, overlapping periods), else becomes a leader
    while fewer than ``room`` were made.  Returns the links ``(leaders, rows)`` in row order
    and the new leaders.

    The rule is sequential, but a row's leaders change only when a row fits none: the
    rows up to the next such row are decided at once against the leaders made so far
    (one column of profile products a leader, for the rows after it), so the loop turns
    once per new leader (at most ``room``), not once per row."""
    n = len(rows)
    u, f, la = unit[rows], first[rows], last[rows]      # (gathered once; sliced below)
    seen = np.zeros(n, dtype=np.int64)       # leaders made before each row: those it sees
    width = max(0, min(room, n))
    sims = np.empty((width, n))              # a row per new leader: its products, contiguous
    fits = np.zeros((width, n), dtype=bool)
    anyfit = np.zeros(n, dtype=bool)
    new: list[int] = []
    at = 0
    while at < n:
        stop = at + int(np.argmin(anyfit[at:]))          # the next row no leader fits
        if anyfit[stop]:
            stop = n
        seen[at:stop] = len(new)
        if stop == n:
            break
        seen[stop] = len(new)
        if len(new) >= room:                  # no room: the later rows see these leaders
            seen[stop:] = len(new)
            break
        k = len(new)
        new.append(int(rows[stop]))
        s = sims[k, stop + 1:]
        np.matmul(u[stop + 1:], u[stop], out=s)
        np.round(s, ALIKE_DECIMALS, out=s)   # (as _alike)
        fit = fits[k, stop + 1:]
        np.greater_equal(s, threshold, out=fit)
        fit &= f[stop + 1:] <= la[stop]
        fit &= la[stop + 1:] >= f[stop]
        anyfit[stop + 1:] |= fit
        at = stop + 1
    counter["comparisons"] += int(seen.sum())
    lead = np.asarray(new, dtype=np.int64)
    m = len(new)
    visible = fits[:m].T & (np.arange(m)[None, :] < seen[:, None])
    hit = visible.any(axis=1)
    best = np.argmax(np.where(visible, sims[:m].T, -np.inf), axis=1) if m \
        else np.zeros(n, dtype=np.int64)
    return lead[best[hit]], rows[hit], lead
