"""The numpy co-movement that ``features/_comove.pyx`` replaced: the slow reference.

Moves are paired by shifting the sorted (site pair, time) values against themselves
``j = 1 .. crowd - 1`` places (one array op per shift) and the (move, peer) pairs made
distinct by sorting; ``comove_peers``/``comove_share`` by ``np.add.at``/``np.maximum.at``.
Only the bucketing of site pairs and the sort keys are shared with the library
(``bucket_counts``, ``pair_time_codes``, ``_sort_with_tags``).
"""
import numpy as np

from simbox.features.comove import (CHUNK, CROWD, MATCH_S, MIN_SHARED, _sort_with_tags,
                                    bucket_counts, pair_time_codes)


def reference_comovement_counts(row, frm, to, time, n, *, match_s=MATCH_S, crowd=CROWD,
                                min_shared=MIN_SHARED, chunk=CHUNK):
    """``comovement_counts`` by numpy array ops: ``(moves, comove_peers, comove_share)``."""
    row = np.asarray(row)
    moves = np.bincount(row, minlength=n).astype(float)
    peers = np.zeros(n)
    share = np.where(moves > 0, 0.0, np.nan)
    parts = bucket_counts(row, frm, to, time, n, match_s, crowd, chunk, bucket_shared)
    # per (row, peer) over all buckets: moves of the row shared with the peer
    rp, shared = _sum_runs(np.concatenate([k for k, _ in parts] or [np.zeros(0, np.int64)]),
                           np.concatenate([c for _, c in parts] or [np.zeros(0, np.int64)]))
    if not len(rp):
        return moves, peers, share
    r = rp // n
    np.add.at(peers, r[shared >= min_shared], 1.0)
    best = np.zeros(n)
    np.maximum.at(best, r, shared.astype(float))
    has = moves > 0
    share[has] = best[has] / moves[has]
    return moves, peers, share


def bucket_shared(row, frm, to, rel, span, sites, n, match_s, crowd):
    """The moves of one bucket of site pairs: distinct ``row * n + peer`` keys (sorted)
    and, for each, how many of the row's moves match a move of the peer."""
    empty = np.zeros(0, np.int64)
    if len(row) < 2:
        return empty, empty
    v, top = pair_time_codes(frm, to, rel, span, sites)
    vs, o = _sort_with_tags(v, top, np.arange(len(v)), len(v))
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
    mp = np.unique(mv * n + peer)
    return _runs(np.sort(row[mp // n].astype(np.int64) * n + mp % n))


def _sum_runs(keys, counts):
    """Distinct keys (sorted) and the sum of their counts."""
    if not len(keys):
        return keys, counts
    o = np.argsort(keys, kind="stable")
    k = keys[o]
    start = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[start], np.add.reduceat(counts[o], start)


def _runs(x):
    """Distinct values of a sorted array and how often each occurs."""
    if not len(x):
        return x, np.zeros(0, np.int64)
    start = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    return x[start], np.diff(np.r_[start, len(x)])
