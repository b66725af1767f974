"""Reasons for a flagged SIM, in words a fraud analyst reads at a glance.

A reason is a short phrase built from one feature value ("412 distinct numbers
called", "no calls received", "one cell", "23 other SIMs on the same device");
each feature's phrase is in its feature registry entry (``features/registry.py``).
The phrases of one SIM are ordered by how much each feature drove its score:

- with ``contributions`` (per-feature contributions from the model, larger =
  pushed the score up), those come first, in that order, and the deviations
  below fill the remaining places.  :func:`occlusion_contributions` gets
  them from any model: the drop of the SIM's score when one feature at a time is
  set to the reference population's median;
- without, by how far the SIM sits from the reference population (the SIMs that
  were not flagged) in the direction that looks like fraud: a robust z-score
  ``(x - median) / scale`` on the feature (on ``log1p`` for counts), where
  ``scale`` is the larger of 1.4826 x MAD, IQR / 1.349 and 10 % of the median
  (never 0), multiplied by the feature's suspicious direction (+1: high values
  look like fraud, -1: low values do, 0: either way, absolute value), capped
  at 5: beyond that a feature is simply far outside the normal range, and among
  such features the registry's ``REASON_ORDER`` (most telling first) decides.

Features that say the same thing (``n_mtc`` and ``mt_mo_ratio``) share a phrase
group and only the strongest of a group is worded.  Columns the registry does not
know are worded from their name (or a label given in ``meanings``).
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from simbox._reasons import pick_places
from simbox.features.registry import BY_NAME, NOT_A_REASON, REASON_ORDER, REGISTRY
from simbox.features.wording import Phrase

log = logging.getLogger("simbox.reasons")

__all__ = ["Phrase", "PHRASES", "reference_stats", "deviations", "reasons", "reasons_table",
           "occlusion_contributions"]

# the registry's phrases, most telling first: this order breaks ties
PHRASES: dict[str, Phrase] = {name: BY_NAME[name].phrase for name in REASON_ORDER}
# features that are never a reason on their own (times, calendar coverage)
NOT_REASONS = frozenset(f.name for f in REGISTRY if f.phrase is NOT_A_REASON)
_RANK = {name: i for i, name in enumerate(PHRASES)}
CAP = 5.0


def _phrase(name: str, meanings: dict[str, str] | None = None) -> Phrase:
    """The registry's phrase of a feature; a column it does not know is worded from
    ``meanings`` (name -> label) or its name."""
    if name in PHRASES:
        return PHRASES[name]
    label = (meanings or {}).get(name) or name.replace("_", " ")
    return Phrase(0, name, False, lambda v, label=label: f"{label}: {v:,.3g}")


def _log_columns(names) -> np.ndarray:
    return np.array([PHRASES.get(n, Phrase(0, "", False, str)).log for n in names], dtype=bool)


def _transform_array(values: pd.DataFrame, names) -> np.ndarray:
    """The columns ``names`` of ``values`` as floats, the log-scaled features as
    ``log1p`` of their value clipped at 0 (NaN stays NaN)."""
    return _log_in_place(values[list(names)].to_numpy(dtype=float, copy=True), names)


def _log_in_place(x: np.ndarray, names) -> np.ndarray:
    """The log-scaled features among the columns ``names`` of ``x`` made ``log1p`` of their
    value clipped at 0, in ``x``; returns ``x``."""
    log = _log_columns(names)
    if not log.any():
        return x
    if x.flags.f_contiguous and x.ndim == 2:      # column by column, each contiguous
        for j in np.flatnonzero(log):
            col = x[:, j]
            np.maximum(col, 0.0, out=col)
            np.log1p(col, out=col)
    else:
        x[:, log] = np.log1p(np.maximum(x[:, log], 0.0))
    return x


def _row_positions(features: pd.DataFrame, index: pd.Index) -> np.ndarray | None:
    """The positions of the keys ``index`` in ``features`` (KeyError for a key not there), or
    None when keys repeat (``.loc``'s rows then)."""
    if not (features.index.is_unique and index.is_unique):
        return None
    pos = features.index.get_indexer(index)
    if (pos < 0).any():
        raise KeyError(f"{index[pos < 0][:5].tolist()} not in the features' index")
    return pos


def _float_rows(features: pd.DataFrame, index: pd.Index, cols: list, *, out=None,
                only=None, pos=False) -> np.ndarray:
    """``features.loc[index, cols]`` as a float array in column order (Fortran): each column
    taken on its own from its array, without pandas' interleaving of the mixed dtypes
    into rows; ``.loc``'s own result when the keys repeat.  ``out`` (a result of this
    function for the same arguments) and ``only`` (a mask of ``cols``): the columns of
    ``only`` taken again into ``out``, the others left as they are.  ``pos``:
    :func:`_row_positions` of ``index`` when the caller has them."""
    take = np.ones(len(cols), dtype=bool) if only is None else np.asarray(only, dtype=bool)
    pos = _row_positions(features, index) if pos is False else pos
    if pos is None:
        block = features.loc[index, [c for c, t in zip(cols, take) if t]].to_numpy(dtype=float)
        if out is None:
            return np.asfortranarray(block)
        out[:, take] = block
        return out
    if out is None:
        out = np.empty((len(index), len(cols)), dtype=np.float64, order="F")
    for j in np.flatnonzero(take):
        col = features[cols[j]].to_numpy()
        if col.dtype.kind in "biuf":
            np.take(col, pos, out=out[:, j]) if col.dtype == np.float64 else \
                np.copyto(out[:, j], col.take(pos), casting="unsafe")
        else:
            out[:, j] = features[cols[j]].iloc[pos].to_numpy(dtype=float, na_value=np.nan)
    return out


def _transform(values: pd.DataFrame, names) -> pd.DataFrame:
    return pd.DataFrame(_transform_array(values, names), index=values.index, columns=list(names))


def reference_stats(reference: pd.DataFrame) -> pd.DataFrame:
    """Median and robust scale of each feature over a reference population: the median,
    and the largest of the MAD x 1.4826, the IQR / 1.349 and a tenth of the median's
    size (1e-3 where all are 0), NaN ignored.  numpy over the whole array (pandas'
    column-wise median and quantile give the same numbers: ``tests/simbox``)."""
    cols = list(reference.columns)
    x = _transform_array(reference, cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)       # all-NaN columns: NaN
        med = np.nanmedian(x, axis=0) if len(x) else np.full(len(cols), np.nan)
        mad = (np.nanmedian(np.abs(x - med), axis=0) if len(x) else med.copy()) * 1.4826
        q75, q25 = (np.nanquantile(x, [0.75, 0.25], axis=0) if len(x)
                    else (med.copy(), med.copy()))
    iqr = (q75 - q25) / 1.349
    scale = np.fmax(np.fmax(mad, iqr), 0.1 * np.abs(med))
    scale = np.where(np.isnan(scale), 0.0, scale)
    scale = np.where(scale > 0, scale, 1e-3)
    return pd.DataFrame({"median": med, "scale": scale}, index=pd.Index(cols))


def deviations(features: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    """Robust z-scores in the suspicious direction, capped at ``CAP`` (NaN where undefined)."""
    cols = [c for c in features.columns if c in stats.index and c not in NOT_REASONS]
    z = _deviation_array(features[cols].to_numpy(dtype=float, copy=True), cols, stats)
    return pd.DataFrame(z, index=features.index, columns=cols, copy=False)


def _deviation_array(x: np.ndarray, cols, stats: pd.DataFrame) -> np.ndarray:
    """:func:`deviations` of the values ``x`` (float, one column per name of ``cols``, all in
    ``stats``), made in ``x`` itself (100,000 SIMs x 60 features: each temporary array
    would be 48 MB of fresh pages); returns ``x``."""
    _log_in_place(x, cols)
    x -= stats.loc[cols, "median"].to_numpy(dtype=float)
    x /= stats.loc[cols, "scale"].to_numpy(dtype=float)
    d = np.array([PHRASES[c].direction if c in PHRASES else 0 for c in cols], dtype=float)
    for j in range(len(cols)):           # x * d in the suspicious direction, else |x|
        col = x[:, j]
        if d[j] != 0:
            col *= d[j]
        else:
            np.abs(col, out=col)
    np.minimum(x, CAP, out=x)            # NaN stays NaN
    return x


def _phrases(row: pd.Series, contributions: pd.Series, floor: float, top: int,
             meanings: dict[str, str] | None, groups: set) -> list[str]:
    """Up to ``top`` phrases of the features above ``floor``, strongest first, one per
    group; ``groups`` (updated) holds the groups already worded."""
    c = contributions.dropna()
    c = c[~c.index.isin(NOT_REASONS)]
    rank = [_RANK.get(name, len(_RANK)) for name in c.index]
    order = c.iloc[np.lexsort((rank, -c.to_numpy(dtype=float)))]
    phrases = []
    for name, v in order.items():
        if v <= floor or len(phrases) >= top:
            break
        value = row.get(name)
        if value is None or pd.isna(value):
            continue
        p = _phrase(name, meanings)
        if p.group in groups:
            continue
        groups.add(p.group)
        phrases.append(p.words(float(value)))
    return phrases


def reasons(features_row: pd.Series, contributions: pd.Series | None = None, *,
            stats: pd.DataFrame | None = None, top: int = 4, min_contribution: float | None = None,
            meanings: dict[str, str] | None = None) -> str:
    """The reasons of one SIM: up to ``top`` phrases joined by ", ".

    ``contributions`` ranks the features (larger first, only those above
    ``min_contribution``, default 0); with ``stats`` too, the remaining places
    are filled by the deviation ranking.  Without ``contributions``, ``stats``
    (from :func:`reference_stats`) is required: the deviation from the reference
    ranks the features, keeping deviations above ``min_contribution`` (default 1).
    """
    if contributions is None and stats is None:
        raise ValueError("reasons() needs contributions or reference stats")
    groups: set = set()
    phrases = []
    if contributions is not None:
        floor = 0.0 if min_contribution is None else min_contribution
        phrases = _phrases(features_row, contributions, floor, top, meanings, groups)
    if stats is not None and len(phrases) < top:
        floor = 1.0 if contributions is not None or min_contribution is None else min_contribution
        dev = deviations(features_row.to_frame().T, stats).iloc[0]
        phrases += _phrases(features_row, dev, floor, top - len(phrases), meanings, groups)
    return ", ".join(phrases)


def _pick(values: np.ndarray, scores: np.ndarray, rank: np.ndarray, phrases: list, floor: float,
          top: int, groups: set) -> list[str]:
    """:func:`_phrases` on arrays: ``scores`` aligned with ``values`` and ``phrases``."""
    if top <= 0:
        return []
    ok = np.flatnonzero(~np.isnan(scores) & (scores > floor))
    out = []
    for j in ok[np.lexsort((rank[ok], -scores[ok]))]:
        if len(out) >= top:
            break
        v = values[j]
        if np.isnan(v):
            continue
        p = phrases[j]
        if p.group in groups:
            continue
        groups.add(p.group)
        out.append(p.words(float(v)))
    return out


def reasons_table(features: pd.DataFrame, flagged_index, *, contributions: pd.DataFrame | None = None,
                  reference: pd.DataFrame | None = None, top: int = 4,
                  min_model_contribution: float = 0.01, stats: pd.DataFrame | None = None
                  ) -> pd.Series:
    """Reasons of every SIM in ``flagged_index`` (a Series indexed like it).

    ``contributions`` (a DataFrame like ``features``, e.g. from
    :func:`occlusion_contributions`) puts first the features carrying at least
    ``min_model_contribution`` of the score; the remaining places (all of them
    without contributions) go to the features where the SIM deviates most from
    ``reference``, which defaults to the SIMs of ``features`` not in
    ``flagged_index`` (all of them if every SIM is flagged).  A row of
    ``contributions`` that is all NaN (a SIM not occluded) falls back to the
    deviations.  Picked for all SIMs at once, one pass per place; worded per feature
    over its distinct values: 100,000 SIMs take a fraction of a second.
    ``stats``: :func:`reference_stats` of ``reference`` when the caller has them.
    """
    flagged_index = pd.Index(flagged_index)
    if reference is None:
        reference = features.loc[~features.index.isin(flagged_index)]
        if len(reference) == 0:
            reference = features
    cols = [c for c in features.columns if c not in NOT_REASONS]
    rank = np.array([_RANK.get(c, len(_RANK)) for c in cols])
    phrases = [_phrase(c) for c in cols]
    pos = _row_positions(features, flagged_index)
    values = _float_rows(features, flagged_index, cols, pos=pos)
    if stats is None:
        stats = reference_stats(reference)
    n, top = len(flagged_index), int(top)
    count = np.zeros(n, dtype=np.int64)
    picked = np.full((n, max(top, 0)), -1, dtype=np.int64)     # feature column per place
    group_of = pd.factorize(pd.Index([p.group for p in phrases]))[0] if cols else np.zeros(0, int)
    used = np.zeros((n, int(group_of.max()) + 1 if len(group_of) else 0), dtype=bool)
    if contributions is not None:
        contrib, rows = _contribution_rows(contributions, flagged_index, cols)
        _pick_all(values, contrib, rank, group_of, min_model_contribution, np.full(n, top),
                  count, picked, used, rows=rows)
    # the deviations (see deviations()), made per SIM by the kernel as it picks: from the
    # values on the statistics' scale, the columns the statistics lack never picked
    med = stats["median"].reindex(cols).to_numpy(dtype=float)
    scale = stats["scale"].reindex(cols).fillna(1.0).to_numpy(dtype=float)
    direction = np.array([PHRASES[c].direction if c in PHRASES else 0 for c in cols], dtype=float)
    # the values on that scale made in place (NaN stays NaN: the kernel's test of a value
    # unchanged), not in a copy (100,000 SIMs: 50 MB of fresh pages); the log-scaled
    # columns then taken again for the words
    _pick_all(values, _log_in_place(values, cols), rank, group_of, 1.0, np.full(n, top),
              count, picked, used, deviation=(med, scale, direction))
    logged = _log_columns(cols)
    if logged.any():
        _float_rows(features, flagged_index, cols, out=values, only=logged, pos=pos)
    return pd.Series(_word(values, picked, count, phrases), index=flagged_index, name="reasons",
                     dtype=object)


def _contribution_rows(contributions: pd.DataFrame, flagged_index: pd.Index, cols: list
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, rows)``: the rows of ``contributions`` (columns ``cols``) that are not all
    NaN (the SIMs occluded), and for each SIM of ``flagged_index`` the row of its own in
    them (-1: none, the SIM is explained by its deviations) -- the SIMs of
    ``contributions.reindex(flagged_index)`` without a 100,000-row copy of NaN rows."""
    if not (contributions.columns.is_unique and flagged_index.is_unique and
            contributions.index.is_unique):                  # repeated keys: as reindex does
        full = contributions.reindex(index=flagged_index, columns=cols).to_numpy(dtype=float)
        return full, np.where(np.isnan(full).all(axis=1), -1, np.arange(len(full))).astype(np.int64)
    at = contributions.columns.get_indexer(cols)
    there = np.flatnonzero(at >= 0)
    c = contributions.to_numpy(dtype=float)       # (one float block: no copy)
    occluded = ~np.isnan(c).take(at[there], axis=1).all(axis=1)
    scores = np.full((int(occluded.sum()), len(cols)), np.nan)
    scores[:, there] = c[occluded][:, at[there]]
    sim = flagged_index.get_indexer(contributions.index[occluded])
    rows = np.full(len(flagged_index), -1, dtype=np.int64)
    rows[sim[sim >= 0]] = np.flatnonzero(sim >= 0)
    return scores, rows


def _pick_all(values: np.ndarray, scores: np.ndarray, rank: np.ndarray, group_of: np.ndarray,
              floor: float, limit: np.ndarray, count: np.ndarray, picked: np.ndarray,
              used: np.ndarray, *, rows: np.ndarray | None = None,
              deviation: tuple | None = None) -> None:
    """:func:`_pick` for every SIM at once (IN: ``values`` SIMs x features, ``scores`` a row
    per SIM or, with ``rows``, the row ``rows[i]`` for SIM ``i`` (-1: none), ``limit``
    places per SIM; IN/OUT: ``count`` places taken, ``picked`` the feature of each place,
    ``used`` groups worded): the features ordered by score (higher first), ties by
    :data:`PHRASES` order then column, those at or below ``floor`` never, a NaN value
    skipped, one feature per group.  ``deviation``: ``(median, scale, direction)`` per
    feature, ``scores`` then being the values on the statistics' scale and the score the
    capped deviation (:func:`_deviation_array`).  The kernel
    ``simbox._reasons.pick_places``, without the GIL (the scan explains in a thread beside
    the grouping)."""
    n, f = values.shape
    if n == 0 or f == 0:
        return
    tie = np.empty(f, dtype=np.int64)          # the place of each feature in (rank, column) order
    tie[np.argsort(rank, kind="stable")] = np.arange(f)
    rows = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    med, scale, direction = (None, None, None) if deviation is None else deviation
    pick_places(values, scores, rows, tie, np.asarray(group_of, dtype=np.int64), float(floor),
                np.ascontiguousarray(limit, dtype=np.int64), count, picked, used.view(np.uint8),
                median=med, scale=scale, direction=direction, cap=CAP)


def _word(values: np.ndarray, picked: np.ndarray, count: np.ndarray, phrases: list) -> list[str]:
    """The picked features in words, joined by ", " in place order: once per distinct
    row of picks and values (the SIMs of a farm share a few: 100,000 SIMs of 40 modem pools
    have 136 reasons), each word made per feature over its distinct values."""
    n, top = picked.shape
    if n == 0 or top == 0:
        return [""] * n
    v = values[np.arange(n)[:, None], np.maximum(picked, 0)]     # the value of each place
    v[picked < 0] = 0.0
    key = pd.DataFrame(np.concatenate([picked, v.view(np.int64)], axis=1))   # (values: bits)
    row = key.groupby(list(key.columns), sort=False).ngroup().to_numpy()   # by first sight
    first = np.flatnonzero(row > np.maximum.accumulate(np.r_[-1, row[:-1]]))
    texts = np.array(_word_rows(v[first], picked[first], count[first], phrases), dtype=object)
    return texts[row].tolist()


def _word_rows(v: np.ndarray, picked: np.ndarray, count: np.ndarray, phrases: list) -> list[str]:
    """:func:`_word` of rows given the values ``v`` of their places, per feature over its
    distinct values (not per row)."""
    words = np.full(picked.shape, "", dtype=object)
    for c in np.unique(picked[picked >= 0]):
        where = picked == c
        x = np.ascontiguousarray(v[where])
        bits, first, inverse = np.unique(x.view(np.int64), return_index=True, return_inverse=True)
        text = np.array([phrases[c].words(float(y)) for y in x[first]], dtype=object)
        words[where] = text[inverse.reshape(-1)]
    return [", ".join(w[:k]) for w, k in zip(words.tolist(), count.tolist())]


def _occluding_values(median: np.ndarray, dtypes: list) -> tuple[np.ndarray, bool]:
    """The medians that replace a feature's value in :func:`occlusion_contributions` as its
    column's dtype holds them (an int64 column's median truncated, a float32 one rounded),
    and whether the occluded rows must still be cast to the dtypes as a DataFrame.

    The occluded rows were cast to the features' dtypes (``astype(dtypes,
    errors="ignore")``) before being scored, which takes them as floats again: for numpy
    int, bool and float columns that changes only the medians put in, since the other
    values came from those dtypes.  So the medians are cast here once, with pandas'
    rule (a column at a time; a NaN median of an int column fails its cast and, with
    ``errors="ignore"``, stays NaN), and the rows stay floats.  Other dtypes (extension
    arrays): the DataFrame cast, as before."""
    if not all(isinstance(d, np.dtype) and d.kind in "biuf" for d in dtypes):
        return median, True
    out = median.copy()
    for j, d in enumerate(dtypes):
        if d != np.float64 and not (d.kind in "iu" and np.isnan(median[j])):
            out[j] = np.asarray(median[j]).astype(d).astype(np.float64)
    return out, False


def occlusion_contributions(score, features: pd.DataFrame, index, reference: pd.DataFrame, *,
                            max_rows: int = 200_000, candidates: int | None = None,
                            budget_rows: int | None = None, base=None,
                            stats: pd.DataFrame | None = None,
                            only_occluded: bool = False) -> pd.DataFrame:
    """Per-feature contributions to the scores of the SIMs in ``index``.

    ``score``: a callable DataFrame -> array of scores (the model's).  The
    contribution of feature f to SIM i is ``score(x_i) - score(x_i with f set
    to the median of reference)``: how much of the score that feature carries.
    Rows are scored in chunks of at most ``max_rows``.

    The cost is one model evaluation per SIM and occluded feature.  To bound it:
    ``candidates`` occludes, per SIM, only the features where it sits furthest
    from the reference (robust z-score, either direction; the others get 0: a
    feature at the median carries nothing); ``budget_rows`` caps the evaluations
    of the whole call: SIMs in ``index`` order (give the highest scores first)
    until the budget is spent, the rest get NaN rows (their reasons then follow
    the deviations).  ``base``: the SIMs' scores when already known; ``stats``:
    :func:`reference_stats` of ``reference`` when already known.  ``only_occluded``: the
    rows of the SIMs occluded only (the first of ``index`` the budget allows; the others'
    keys not looked up), not a NaN row for each other SIM (:func:`reasons_table` takes
    either: a scan of 100,000 flagged SIMs occludes 1,875).
    """
    index = pd.Index(index)
    cols = list(features.columns)
    k = len(cols) if candidates is None else max(1, min(int(candidates), len(cols)))
    sims = len(index)
    if only_occluded and budget_rows is not None and features.index.is_unique:
        index = index[:max(0, int(budget_rows) // k)]      # (a row each: the budget's SIMs)
    if features.index.is_unique:        # the rows by position: only the first n copied
        pos = features.index.get_indexer(index)
        if (pos < 0).any():
            raise KeyError(f"{index[pos < 0][:5].tolist()} not in the features' index")
        rows = features.index.take(pos)
    else:
        X = features.loc[index]
        pos, rows = None, X.index
    median = reference[cols].median()
    if len(rows) == 0:
        return pd.DataFrame(index=rows, columns=cols, dtype=float)
    n = len(rows) if budget_rows is None else min(len(rows), max(0, int(budget_rows) // k))
    out = np.full((len(rows), len(cols)), np.nan)
    if n == 0:
        return pd.DataFrame(out, index=rows, columns=cols)
    if n < max(len(rows), sims):
        log.info("reasons: the model's contributions for the first %s of %s flagged SIMs; the "
                 "others are explained by their deviations", f"{n:,}",
                 f"{max(len(rows), sims):,}")
    if only_occluded and n < len(rows):
        out, rows = out[:n], rows[:n]
    X = features.iloc[pos[:n]] if pos is not None else X.iloc[:n]
    values = X.to_numpy(dtype=float)
    base = np.asarray(score(X.iloc[:n]) if base is None else base, dtype=float)[:n]
    if k == len(cols):
        which = np.tile(np.arange(len(cols)), (n, 1))
    else:
        if stats is None:
            stats = reference_stats(reference[cols])
        stats = stats.reindex(cols)
        z = ((_transform(X.iloc[:n], cols) - stats["median"]) / stats["scale"]).abs()
        z = z.fillna(-1.0).to_numpy()
        which = np.argsort(-z, axis=1, kind="stable")[:, :k]
    dtypes = features.dtypes.to_dict()
    med, cast = _occluding_values(median.to_numpy(dtype=float), [dtypes[c] for c in cols])
    step = max(1, max_rows // k)
    out[:n] = 0.0
    for lo in range(0, n, step):
        block, w = values[lo:lo + step], which[lo:lo + step]
        m = len(block)
        stacked = np.repeat(block, k, axis=0)                        # sim-major, k rows each
        f = w.reshape(-1)
        stacked[np.arange(m * k), f] = med[f]
        frame = pd.DataFrame(stacked, columns=cols)
        if cast:
            frame = frame.astype(dtypes, errors="ignore")
        s = np.asarray(score(frame), dtype=float).reshape(m, k)
        np.put_along_axis(out[lo:lo + m], w, base[lo:lo + m, None] - s, axis=1)
    return pd.DataFrame(out, index=rows, columns=cols)
