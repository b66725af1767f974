"""Co-movement: SIMs that change site together, in the same minutes (a SIM box on wheels).

The SIMs of one box share its radio: when the vehicle moves, all of them leave the
same site for the same next site within minutes of each other.  Drivers of one
fleet, however alike their call patterns, drive different routes.

The kernel (``fastpath/_aggregate.pyx``) gives each IMSI's *moves*: a change of
site between two runs of its events at most an hour apart, with the time of its
first event at the new site (a lone event at another site between two events at
one site, a serving-cell flicker, is no move).  Here, across all IMSIs:

- two moves of different IMSIs *match* when they go from the same site to the same
  site and their times differ by at most :data:`MATCH_S`;
- a move is *crowded*, and matches nothing, when more than :data:`CROWD` moves
  (of any IMSIs, itself included) go between the same two sites within
  :data:`MATCH_S` of it: a busy road at rush hour, a train;
- ``shared(a, b)``: the moves of ``a`` matching at least one move of ``b``.

Per IMSI: ``comove_peers`` = the IMSIs ``b`` with ``shared(a, b) >= MIN_SHARED``,
``comove_share`` = the largest ``shared(a, b)`` over the number of moves of ``a``.
The work is bounded by the crowd cap: each move is compared with at most
:data:`CROWD` others; memory by working through buckets of site pairs of about
:data:`CHUNK` moves.
"""
from __future__ import annotations

import numpy as np

MATCH_S = 1200       # moves of two SIMs at most 20 min apart are the same move
CROWD = 48           # more moves than this between two sites within MATCH_S: no evidence
MIN_SHARED = 3       # a peer shares at least this many of the IMSI's moves
CHUNK = 1 << 20      # moves per bucket of site pairs worked through at once


def comovement_counts(row, frm, to, time, n, *, match_s=MATCH_S, crowd=CROWD,
                      min_shared=MIN_SHARED, chunk=CHUNK):
    """Per row 0..n-1: ``(moves, comove_peers, comove_share)`` as float arrays.

    IN: one entry per move: ``row`` (the IMSI's row), ``frm``/``to`` (site codes),
    ``time`` (epoch seconds).  ``comove_share`` is NaN for a row without moves.
    Moves match only between the same two sites, so they are worked through in
    buckets of site pairs of about ``chunk`` moves each: memory stays a few
    hundred bytes per move of one bucket, whatever the number of moves.
    """
    row = np.asarray(row)
    moves = np.bincount(row, minlength=n).astype(float)
    peers = np.zeros(n)
    share = np.where(moves > 0, 0.0, np.nan)
    if len(row) < 2:
        return moves, peers, share
    frm, to = np.asarray(frm), np.asarray(to)
    time = np.asarray(time, np.int64)
    t0 = int(time.min())
    span = int(time.max()) - t0 + 2 * match_s + 1
    sites = int(max(frm.max(), to.max())) + 1
    nb = max(1, -(-len(row) // max(int(chunk), 1)))
    bucket = ((frm.astype(np.int64) * sites + to) % nb).astype(np.int32) if nb > 1 else None
    keys, counts = [], []
    for b in range(nb):
        sel = np.flatnonzero(bucket == b) if nb > 1 else np.arange(len(row))
        k, c = _bucket_shared(row[sel], frm[sel], to[sel], time[sel] - t0, span, sites, n,
                              match_s, crowd)
        keys.append(k)
        counts.append(c)
    # per (row, peer) over all buckets: moves of the row shared with the peer
    rp, shared = _sum_runs(np.concatenate(keys), np.concatenate(counts))
    if not len(rp):
        return moves, peers, share
    r = rp // n
    np.add.at(peers, r[shared >= min_shared], 1.0)
    best = np.zeros(n)
    np.maximum.at(best, r, shared.astype(float))
    has = moves > 0
    share[has] = best[has] / moves[has]
    return moves, peers, share


def _bucket_shared(row, frm, to, rel, span, sites, n, match_s, crowd):
    """The moves of one bucket of site pairs: distinct ``row * n + peer`` keys (sorted)
    and, for each, how many of the row's moves match a move of the peer."""
    empty = np.zeros(0, np.int64)
    if len(row) < 2:
        return empty, empty
    # one sortable value per move: (site pair code, time); pair codes are > span apart.
    # Built in place: a few arrays of len(row), not one per step (fresh memory is costly)
    if sites * sites * span >= 2 ** 62:      # many sites and a long window: dense codes
        _, v = np.unique(frm.astype(np.int64) * sites + to, return_inverse=True)
        v = v.ravel().astype(np.int64)
        if (int(v.max()) + 1) * span >= 2 ** 62:
            raise ValueError(f"co-movement: {len(row)} moves over {span} s do not fit "
                             "64-bit sort keys")
    else:
        v = frm.astype(np.int64)
        v *= sites
        v += to
    top = (int(v.max()) + 1) * span
    v *= span
    v += rel
    vs, o = _sort_with_index(v, top)
    # most moves have no other within match_s: only the others are counted and paired
    close = np.diff(vs) <= match_s
    social = np.zeros(len(vs), bool)
    social[:-1] |= close
    social[1:] |= close
    q = vs[social]
    dense = np.searchsorted(vs, q + match_s, "right") - np.searchsorted(vs, q - match_s, "left")
    keep = np.flatnonzero(social)[dense <= crowd]
    vs, idx = vs[keep], o[keep]
    own, other = [], []
    for j in range(1, crowd):
        if len(vs) <= j:
            break
        near = vs[j:] - vs[:-j] <= match_s      # same pair code (codes are > span apart)
        if not near.any():
            break
        a, b = idx[:-j][near], idx[j:][near]
        ra, rb = row[a].astype(np.int64), row[b].astype(np.int64)
        diff = ra != rb
        own += [a[diff], b[diff]]
        other += [rb[diff], ra[diff]]
    if not own:
        return empty, empty
    mv = np.concatenate(own).astype(np.int64)
    peer = np.concatenate(other).astype(np.int64)
    del own, other
    # distinct (move, peer) -> per (row, peer): moves of the row shared with the peer
    mp = _distinct(mv * n + peer)
    return _runs(np.sort(row[mp // n].astype(np.int64) * n + mp % n))


def _sort_with_index(v, top):
    """``(np.sort(v), order)`` for an int64 array ``v`` of values in ``0..top-1``, consumed.

    Equal values come in any order.  When index and value fit one int64, both are
    sorted as one key (a plain sort, several times faster than an argsort).
    """
    bits = max(1, (len(v) - 1).bit_length())
    if top >= 1 << (62 - bits):
        o = np.argsort(v)
        return v[o], o
    v <<= bits
    v |= np.arange(len(v), dtype=np.int64)
    v.sort()
    o = v & ((1 << bits) - 1)
    v >>= bits
    return v, o


def _sum_runs(keys, counts):
    """Distinct keys (sorted) and the sum of their counts."""
    if not len(keys):
        return keys, counts
    o = np.argsort(keys, kind="stable")
    k = keys[o]
    start = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[start], np.add.reduceat(counts[o], start)


def _distinct(x):
    """The distinct values of an int64 array, sorted (a sort, no hashing)."""
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


def _runs(x):
    """Distinct values of a sorted array and how often each occurs."""
    if not len(x):
        return x, np.zeros(0, np.int64)
    start = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    return x[start], np.diff(np.r_[start, len(x)])
