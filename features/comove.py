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
:data:`CHUNK` moves.  The pairing of moves is the kernel ``_comove.matched_peers``
(the numpy reference it replaced: ``tests/features/comove_reference.py``).
"""
from __future__ import annotations

import numpy as np

from simbox.fastpath import constants
from simbox.features import _comove

MATCH_S = constants.COMOVE_MATCH_S        # moves of two SIMs this close are the same move
CROWD = constants.COMOVE_CROWD            # more moves than this between two sites: no evidence
MIN_SHARED = constants.COMOVE_MIN_SHARED  # a peer shares at least this many of the IMSI's moves
# moves per bucket of site pairs worked through at once: the kernel needs about 55 B a
# move of a bucket (the numpy pairing it replaced, 150 B: 1 << 20 then; 3.9M moves:
# peak 282 MiB then, 204 MiB now)
CHUNK = 1 << 21


def comovement_counts(row, frm, to, time, n, *, match_s=MATCH_S, crowd=CROWD,
                      min_shared=MIN_SHARED, chunk=CHUNK):
    """Per row 0..n-1: ``(moves, comove_peers, comove_share)`` as float arrays.

    IN: one entry per move: ``row`` (the IMSI's row), ``frm``/``to`` (site codes),
    ``time`` (epoch seconds).  ``comove_share`` is NaN for a row without moves.
    Moves match only between the same two sites, so they are worked through in
    buckets of site pairs of about ``chunk`` moves each: memory stays some tens of
    bytes per move of one bucket, whatever the number of moves.
    """
    row = np.asarray(row)
    moves = np.bincount(row, minlength=n).astype(float)
    peers = np.zeros(n)
    share = np.where(moves > 0, 0.0, np.nan)
    parts = bucket_counts(row, frm, to, time, n, match_s, crowd, chunk, _bucket_shared)
    while len(parts) > 1:        # pairwise merges: log2(buckets) passes over the keys
        parts = [_comove.merge_counts(*parts[i], *parts[i + 1]) if i + 1 < len(parts)
                 else parts[i] for i in range(0, len(parts), 2)]
    if parts:
        best = np.zeros(n)
        _comove.tally(*parts[0], n, min_shared, peers, best)
        has = moves > 0
        share[has] = best[has] / moves[has]
    return moves, peers, share


def bucket_counts(row, frm, to, time, n, match_s, crowd, chunk, per_bucket):
    """Per bucket of site pairs, ``per_bucket(row, frm, to, rel, span, sites, n, match_s,
    crowd)`` of its moves (``rel``: seconds since the first move): a list.

    ``per_bucket`` gives distinct ``row * n + peer`` keys (sorted) and, for each, how
    many of the row's moves match a move of the peer.  Fewer than two moves: no bucket.
    """
    if len(row) < 2:
        return []
    frm, to = np.asarray(frm), np.asarray(to)
    time = np.asarray(time, np.int64)
    t0 = int(time.min())
    span = int(time.max()) - t0 + 2 * match_s + 1
    sites = int(max(frm.max(), to.max())) + 1
    nb = max(1, -(-len(row) // max(int(chunk), 1)))
    if nb == 1:
        return [per_bucket(row, frm, to, time - t0, span, sites, n, match_s, crowd)]
    bucket = ((frm.astype(np.int64) * sites + to) % nb).astype(np.int32)
    parts = []
    for b in range(nb):
        sel = np.flatnonzero(bucket == b)
        parts.append(per_bucket(row[sel], frm[sel], to[sel], time[sel] - t0, span, sites, n,
                                match_s, crowd))
    return parts


def pair_time_codes(frm, to, rel, span, sites):
    """One int64 per move, ``(site pair code, time)`` in sortable form, and its bound.

    Pair codes are ``span`` apart, more than the times of one pair spread.
    """
    # built in place: a few arrays of len(frm), not one per step (fresh memory is costly)
    if sites * sites * span >= 2 ** 62:      # many sites and a long window: dense codes
        _, v = np.unique(frm.astype(np.int64) * sites + to, return_inverse=True)
        v = v.ravel().astype(np.int64)
        if (int(v.max()) + 1) * span >= 2 ** 62:
            raise ValueError(f"co-movement: {len(frm)} moves over {span} s do not fit "
                             "64-bit sort keys")
    else:
        v = frm.astype(np.int64)
        v *= sites
        v += to
    top = (int(v.max()) + 1) * span
    v *= span
    v += rel
    return v, top


def _bucket_shared(row, frm, to, rel, span, sites, n, match_s, crowd):
    """The moves of one bucket of site pairs: distinct ``row * n + peer`` keys (sorted)
    and, for each, how many of the row's moves match a move of the peer."""
    if len(row) < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty
    v, top = pair_time_codes(frm, to, rel, span, sites)
    vs, rs = _sort_with_tags(v, top, row, n)         # the row of each move, not its index
    keys = _comove.matched_peers(vs, np.asarray(rs, np.int64), int(match_s), int(crowd), int(n))
    keys.sort()
    return _comove.count_runs(keys)


def _sort_with_tags(v, top, tags, limit):
    """``(np.sort(v), tags in the same order)`` for an int64 array ``v`` of values in
    ``0..top-1`` (consumed) and integer ``tags`` in ``0..limit-1``.

    Equal values come in any order.  When value and tag fit one int64, both are
    sorted as one key (a plain sort, several times faster than an argsort).
    """
    bits = max(1, (int(limit) - 1).bit_length())
    if top >= 1 << (62 - bits):
        o = np.argsort(v)
        return v[o], tags[o]
    v <<= bits
    v |= tags
    v.sort()
    t = v & ((1 << bits) - 1)
    v >>= bits
    return v, t
