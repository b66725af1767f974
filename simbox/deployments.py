"""Deployments: flagged SIMs grouped into the physical boxes and farms they sit in.

Two flagged SIMs are *linked* when

- **device**: they were seen in the same device (IMEI) -- the slots of one
  gateway, or SIMs rotated through one modem;
- **device block**: they were seen in devices with consecutive IMEIs (one TAC,
  serials at most ``number_gap`` apart) in a run of at least 4 devices -- the
  ports of one gateway, the modems of one farm, wherever they are;
- **site+hours**: they have the same main site, their active periods overlap
  and their hour-of-day profiles are alike (cosine similarity of the rows of
  ``FeatureResult.hours`` of at least ``hour_similarity``) -- boxes that sit
  together and work the same shift.  Found by leader clustering per site (each
  SIM compared with at most ``max_leaders`` leaders, never with every other
  SIM: see :func:`_site_hours_links`).  This link is *weak*: two separate boxes
  can share a mast and a shift, so it never merges two groups already tied by
  the strong links (see :func:`group_sims`);
- **handover**: they have the same main site and one starts within
  ``handover_gap_s`` (30 min) of the other's last event, neither at the edge of
  the data -- a box replacing a burnt SIM in the same slot.  Weak, like site+hours;
- **imsi block** / **msisdn block**: their IMSIs (or MSISDNs), of the same
  length, are at most ``number_gap`` apart in a sorted run at the same main
  site -- SIMs bought as one batch of consecutive numbers; at different sites
  when IMSI and MSISDN step together (a batch spread over several sites).

Every link but site+hours comes from sorting or grouping by a key, so the
grouping is near-linear in the flagged SIMs however many share a site.

A deployment is a connected component of these links (union-find, weak links
restricted as said); a SIM linked to nothing is a deployment of one SIM.  Each deployment gets the class of the
majority of its SIMs (ties go to the class with the higher summed score), the
counts, its sites and time window, and a priority for action:

    priority = 100 x mean score x size x recency
    size     = min(1, log2(1 + SIMs) / log2(1 + 32))   (a full 32-port gateway counts fully)
    recency  = 0.8 ** days between the deployment's last event and the scan's last event

so a large, confidently scored deployment that is still active comes first.
Deployment ids (``D001``, ``D002``, ...) follow the priority order.
"""
from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simbox._leaders import site_leaders
from simbox.errors import ConfigError

__all__ = ["LinkRules", "UnionFind", "link_sims", "group_sims", "deployment_table", "pairs_of",
           "positions", "factorized", "devices_per", "distinct_per", "member",
           "active_hours", "format_hours", "hours_text", "sum_rows", "priority", "LINK_KINDS",
           "rank_deployments", "linked_by", "unique_ints", "majority_class", "one_text"]

log = logging.getLogger("simbox.deployments")
LINK_KINDS = ("device", "device block", "site+hours", "handover", "imsi block",
              "msisdn block")
#: the name of the "imsi block" links in the outputs of a run keyed by subscriber (some key is
#: not an IMSI: the blocks are of keys, e.g. MSISDNs)
SUBSCRIBER_BLOCK = "subscriber block"
FULL_BOX_SIMS = 32


@dataclass(frozen=True)
class LinkRules:
    """Thresholds of the links between flagged SIMs."""

    hour_similarity: float = 0.8   # cosine of hour-of-day profiles, same main site
    number_gap: int = 8            # max difference of neighbouring IMSIs/MSISDNs in a block
    max_leaders: int = 64          # site+hours: profiles each SIM is compared with, per site
    handover_gap_s: int = 1800     # handover: a SIM starts at most this long after another ends

    def __post_init__(self):
        if not 0.0 <= self.hour_similarity <= 1.0:
            raise ConfigError(f"hour_similarity must be within [0, 1], not {self.hour_similarity}")
        if self.number_gap < 1:
            raise ConfigError(f"number_gap must be at least 1, not {self.number_gap}")
        if self.handover_gap_s < 0:
            raise ConfigError(f"handover_gap_s must be at least 0, not {self.handover_gap_s}")
        if self.max_leaders < 1:
            raise ConfigError(f"max_leaders must be at least 1, not {self.max_leaders}")


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int):
        self.parent = np.arange(n)
        self.size = np.ones(n, dtype=np.int64)

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return int(i)

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return True

    def labels(self) -> np.ndarray:
        """Component label of each element: 0..k-1 in order of first appearance."""
        roots = np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)
        _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        return order[inverse]


def pairs_of(pairs: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """The rows of a pair table (``FeatureResult.devices`` or ``.cells``: an ``imsi`` column)
    whose SIM is in ``index``, in their order: ``pairs[pairs["imsi"].isin(index)]``, through
    the category codes when ``imsi`` is a categorical (one test per distinct SIM)."""
    col = pairs["imsi"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        hit = np.append(member(col.cat.categories, index), False)
        return pairs.loc[hit[codes]]             # code -1 (no SIM): the False appended
    return pairs.loc[member(col, index)]


def positions(values: pd.Series, index: pd.Index) -> np.ndarray | None:
    """The position in ``index`` (unique) of each value, -1 when absent: through the
    categories of a categorical column (a lookup per distinct value); None when ``index``
    has duplicates or ``values`` is not categorical (the caller looks them up itself)."""
    if not isinstance(values.dtype, pd.CategoricalDtype) or not index.is_unique:
        return None
    cats = values.cat.categories
    per = np.arange(len(index)) if same_keys(cats, index) else index_of(cats, index)
    return np.append(per, -1)[values.cat.codes.to_numpy()]       # code -1: the -1 appended


def index_of(keys: pd.Index, index: pd.Index) -> np.ndarray:
    """``index.get_indexer(keys)`` for unique ``keys`` and ``index``: the position in ``index``
    of each key, -1 when absent.  When ``index`` is much shorter (a few flagged SIMs, ``keys``
    the categories of a feature run's pair tables) its keys are looked up in ``keys`` instead,
    whose hash table pandas keeps on the Index (built once a scan): not every key converted
    and hashed again at each call (100,000 keys of the ``str`` dtype: 10 ms a call).  The
    answers for the last few pairs of ``pd.Index`` (immutable) are kept, and serve another
    ``index`` object of the same keys in the same order (:func:`same_keys`: one comparison,
    not a lookup per key): a scan's steps ask for the flagged SIMs among the pair tables'
    categories eight times, each step with its own Index of them.  A copy is returned."""
    for k, i, answer in _INDEX_OF:
        if k is keys and (i is index or (isinstance(index, pd.Index) and len(i) == len(index)
                                         and same_keys(i, index))):
            return answer.copy()
    out = _index_of(keys, index)
    if isinstance(keys, pd.Index) and isinstance(index, pd.Index):
        _INDEX_OF.insert(0, (keys, index, out.copy()))
        del _INDEX_OF[3:]
    return out


def _index_of(keys: pd.Index, index: pd.Index) -> np.ndarray:
    """:func:`index_of` (its answer made)."""
    if len(index) == 0:
        return np.full(len(keys), -1, dtype=np.intp)
    if len(index) * 8 < len(keys) and keys.is_unique:
        probe = index
        if probe.dtype != keys.dtype and isinstance(keys.dtype, pd.StringDtype) and \
                probe.dtype == object and probe.inferred_type == "string":
            probe = probe.astype(keys.dtype)       # texts alike: the same keys, its dtype
        if probe.dtype == keys.dtype:
            at = keys.get_indexer(probe)
            out = np.full(len(keys), -1, dtype=np.intp)
            hit = at >= 0
            out[at[hit]] = np.flatnonzero(hit)
            return out
    return index.get_indexer(keys)


def factorized(values) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values.to_numpy())`` of a Series (or of an array: its values): the codes (-1:
    missing) and the distinct values as an object array, in order of first appearance.  A
    column of pandas' ``str`` dtype held by Arrow is encoded by Arrow's dictionary encoding,
    without a Python text per row (100,000 texts: 9 ms to 2 ms)."""
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":   # (a Series or array)
        array = values.array if isinstance(values, pd.Series) else values
        return _arrow_factorized(array)
    values = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if values.dtype == object and one_text(values):     # one text in every row: no hashing
        return np.zeros(len(values), dtype=np.intp), values[:1].copy()
    code, uniques = pd.factorize(values)
    return np.asarray(code), np.asarray(uniques, dtype=object)


def _arrow_factorized(array) -> tuple[np.ndarray, np.ndarray]:
    """:func:`factorized` of a pandas text array held by Arrow.  The answers for the last
    few Arrow arrays (immutable: a pandas array set anew holds a new one) are kept, each
    with its array: a scan asks for the codes of one column (deployment ids, classes,
    sites: 100,000 texts, 1-2 ms) in several of its steps.  Copies are returned.  An
    array is held by a weak reference: its answer goes when the column goes (no memory
    kept after a scan's tables are gone, e.g. in ``simbox watch``)."""
    data = getattr(array, "_pa_array", None)
    for ref, code, uniques in list(_ARROW_CODES) if data is not None else ():
        if ref() is data:
            return code.copy(), uniques.copy()
    code, uniques = pd.factorize(array)
    code, uniques = np.asarray(code), np.asarray(uniques, dtype=object)
    if data is not None:
        try:
            ref = weakref.ref(data, _forget_codes)
        except TypeError:                    # (an array that takes no weak reference)
            return code, uniques
        _ARROW_CODES.insert(0, (ref, code.copy(), uniques.copy()))
        del _ARROW_CODES[ARROW_CODES_KEPT:]
    return code, uniques


def _forget_codes(ref) -> None:
    """The kept codes of an Arrow array that is gone (its weak reference's callback)."""
    _ARROW_CODES[:] = [e for e in _ARROW_CODES if e[0] is not ref]


ARROW_CODES_KEPT = 6
_ARROW_CODES: list = []      # (weak ref. to an Arrow array, its codes, its texts), latest first


def one_text(values: np.ndarray) -> bool:
    """Whether an object array holds one text (a ``str``) in every row, e.g. a device rule's
    reason, 100,000 flags' status or time: one comparison a row (the first and last rows
    first), the same object answered at once, where a hash of each costs 4-6 ms."""
    if not (len(values) and isinstance(values[0], str) and isinstance(values[-1], str) and
            values[-1] == values[0]):
        return False
    try:
        return bool(np.all(values == values[0]))
    except (TypeError, ValueError):             # (objects that compare as arrays)
        return False


def devices_per(devices: pd.DataFrame, group: pd.Series, name: str) -> pd.Series:
    """Distinct devices (``devices``' non-empty ``imei`` of the SIMs of ``group``'s index)
    per value of ``group`` (a Series indexed by SIM), indexed by it (named ``name``)."""
    at = positions(devices["imsi"], group.index)
    imei = devices["imei"]
    if at is None:
        dev = devices.loc[devices["imsi"].isin(group.index) & (imei.astype(str) != "")]
        return distinct_per(group.reindex(dev["imsi"].to_numpy()).to_numpy(),
                            pd.factorize(dev["imei"])[0], name)
    keep = (at >= 0) & (imei.astype(str) != "").to_numpy()
    return distinct_per(group.to_numpy()[at[keep]], factorized(imei)[0][keep], name)


def distinct_per(group: np.ndarray, codes: np.ndarray, name: str) -> pd.Series:
    """``DataFrame({name: group, "imei": values}).groupby(name)["imei"].nunique()`` of the
    values whose ``pd.factorize`` codes are ``codes`` (-1: missing): the distinct values per
    group (missing groups and values left out), indexed by the groups in order, by one sort
    of the (group, value) pairs."""
    group = np.asarray(group)
    if group.dtype.kind in "iu":            # (integers, never missing: sorted by one sort)
        groups, g = unique_ints(group, return_inverse=True)
    else:
        g, groups = pd.factorize(group, sort=True)
    v = np.asarray(codes, dtype=np.int64)
    ok = (g >= 0) & (v >= 0)
    width = int(v.max(initial=0)) + 1
    pair = unique_ints(g[ok].astype(np.int64) * width + v[ok])
    counts = np.bincount(pair // width, minlength=len(groups)).astype(np.int64)
    seen = np.bincount(g[g >= 0], minlength=len(groups)) > 0     # (a group of missing values: 0)
    return pd.Series(counts[seen], index=pd.Index(groups[seen], name=name), name="imei")


def member(values, index: pd.Index) -> np.ndarray:
    """``values.isin(index)`` as a bool array, by a hash lookup in ``index`` when its keys are
    unique (pandas' ``isin`` of text columns builds an Arrow scalar per value: a second for
    100,000 keys).  The last answer for two ``pd.Index`` (immutable) is kept: a scan asks
    for the same flagged SIMs among the same keys several times."""
    if len(index) == 0:                # (nothing flagged: no hash table of the values)
        return np.zeros(len(values), dtype=bool)
    last = _LAST_MEMBER[0]
    if last is not None and last[0] is values and last[1] is index:
        return last[2].copy()
    given = index
    index = index if isinstance(index, pd.Index) else pd.Index(index)
    if index.is_unique and isinstance(values, pd.Index) and same_keys(values, index):
        out = np.ones(len(values), dtype=bool)
    elif index.is_unique and isinstance(values, pd.Index) and values.is_unique:
        out = index_of(values, index) >= 0              # (a pair table's categories)
    elif index.is_unique:
        out = index.get_indexer(values if isinstance(values, pd.Index) else pd.Index(values)) >= 0
    else:
        out = np.asarray(pd.Index(values).isin(index), dtype=bool)
    if isinstance(values, pd.Index) and isinstance(given, pd.Index):
        _LAST_MEMBER[0] = (values, given, out.copy())
    return out


def same_keys(a: pd.Index, b: pd.Index) -> bool:
    """Whether two indexes hold the same keys in the same order (one comparison of the
    values: cheaper than a hash lookup of each, as when every SIM is flagged).  Two text
    indexes of objects, or one of objects and one of the ``str`` dtype, are compared value by
    value by numpy (a missing key, unequal to itself there, makes them differ: the caller then
    looks the keys up)."""
    if a is b:
        return True
    if len(a) != len(b):
        return False
    for x, y, answer in _SAME_KEYS:       # the same two (immutable) indexes asked again
        if x is a and y is b:
            return answer
    if isinstance(a, pd.MultiIndex) or isinstance(b, pd.MultiIndex):
        answer = a.equals(b)
    elif a.dtype == object and b.dtype == object:
        answer = bool(np.array_equal(a.to_numpy(), b.to_numpy()))
    elif (a.dtype == object) != (b.dtype == object) and \
            isinstance((b if a.dtype == object else a).dtype, pd.StringDtype):
        # texts of the str dtype (a pair table's categories) against objects (the flagged SIMs):
        # compared as objects, the categories converted once (pandas' equals converts them
        # at each call: 5-10 ms for 100,000 keys)
        answer = bool(np.array_equal(_objects(a), _objects(b)))
    else:
        answer = a.equals(b)
    if isinstance(a, pd.Index) and isinstance(b, pd.Index):
        _SAME_KEYS.insert(0, (a, b, answer))
        del _SAME_KEYS[4:]
    return answer


def _objects(index: pd.Index) -> np.ndarray:
    """An index's values as an object array; a ``str`` index's kept for the next call (the last
    two: a feature run's pair tables share one Index of categories)."""
    if index.dtype == object:
        return index.to_numpy()
    for x, values in _OBJECTS:
        if x is index:
            return values
    values = index.to_numpy(dtype=object)
    _OBJECTS.insert(0, (index, values))
    del _OBJECTS[2:]
    return values


_OBJECTS: list = []              # (str Index, its values as objects): _objects' last two
_INDEX_OF: list = []             # (keys, index, answer) of index_of's last three pairs of Index
_LAST_MEMBER: list = [None]      # (values, index, answer) of member's last pair of Index
#: same_keys' last answers (a scan compares the flagged SIMs with the pair tables' SIMs, and
#: those with the cells', several times: 100,000 texts each time)
_SAME_KEYS: list = []


def _pairs(a, b) -> np.ndarray:
    """Row pairs as an int64 array of shape (k, 2)."""
    return np.stack([np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)], axis=1) \
        if len(a) else np.zeros((0, 2), dtype=np.int64)


def _device_links(imsis: pd.Index, devices: pd.DataFrame) -> np.ndarray:
    """A star per IMEI: its first SIM linked to each other SIM seen in it (no comparison).
    On codes (:func:`_sim_devices`): one sort of (IMEI, SIM) integers; the pandas
    statement (:func:`_device_links_frames`) when the pair table's SIMs are not categories."""
    got = _sim_devices(imsis, devices)
    if got is None:
        return _device_links_frames(imsis, devices)
    sim, code, uniques = got
    texts = uniques.astype(str)
    rank = np.empty(len(uniques), dtype=np.int64)        # the IMEIs in text order
    rank[np.argsort(texts, kind="stable")] = np.arange(len(uniques))
    keep = (texts != "")[code]
    n = max(len(imsis), 1)
    key = unique_ints(rank[code[keep]] * n + sim[keep])  # distinct (IMEI, SIM), sorted
    device, sim = key // n, key % n
    start = np.r_[True, device[1:] != device[:-1]] if len(key) else np.zeros(0, dtype=bool)
    first = sim[start][np.cumsum(start) - 1]             # each IMEI's first (smallest) SIM
    return _pairs(first[~start], sim[~start])


def _device_links_frames(imsis: pd.Index, devices: pd.DataFrame) -> np.ndarray:
    """:func:`_device_links` by pandas (any pair table; the reference of the tests)."""
    d = devices.loc[devices["imsi"].isin(imsis) & (devices["imei"].astype(str) != ""),
                    ["imsi", "imei"]].drop_duplicates()
    pos = pd.Series(np.arange(len(imsis)), index=imsis)
    d = d.assign(i=pos.reindex(d["imsi"].to_numpy()).to_numpy()).sort_values(["imei", "i"])
    first = d.groupby("imei", sort=False)["i"].transform("first").to_numpy()
    i = d["i"].to_numpy()
    keep = first != i
    return _pairs(first[keep], i[keep])


def _sim_devices(imsis: pd.Index, devices: pd.DataFrame):
    """``(sim, code, uniques)``: of each row of the pair table ``devices`` whose SIM is in
    ``imsis`` and whose IMEI is there, the SIM's position in ``imsis`` and the IMEI's code
    into the distinct IMEIs ``uniques`` (:func:`factorized`: Arrow's dictionary encoding, no
    text per row); None when the SIMs are not categories of a unique ``imsis``
    (:func:`positions`)."""
    at = positions(devices["imsi"], imsis)
    if at is None:
        return None
    code, uniques = factorized(devices["imei"])
    keep = (at >= 0) & (code >= 0)
    return at[keep].astype(np.int64), code[keep].astype(np.int64), uniques


def _ns(times: pd.Series) -> np.ndarray:
    """Times as int64 nanoseconds since 1970 (UTC)."""
    t = pd.to_datetime(times, utc=True)
    return t.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view(np.int64)


#: decimals the cosine of two hour profiles is compared at
ALIKE_DECIMALS = 9
#: site+hours: a site's SIMs are decided in chunks of this many rows, each against the leaders
#: of the chunks before it first (:func:`_site_hours_links`)
LEADER_CHUNK = 4096


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

    The SIMs go in chunks of :data:`LEADER_CHUNK`: each SIM of a chunk is matched with the
    leaders of the chunks before first (these links come first, in row order), and only
    if none fits with the leaders its own chunk made before it (these links follow).
    The cosines are compared rounded to :data:`ALIKE_DECIMALS` decimals (``rint(c x 1e9) /
    1e9``, as ``np.round``): two leaders of one profile tie and the earlier wins.  The rule
    runs in one call of the kernel ``simbox._leaders.site_leaders`` for every site, without
    the GIL; it divides each row by its norm itself and sums each cosine's products in hour
    order, so a cosine does not depend on where its rows sit.  A BLAS product (the numpy
    code this replaced, ``tests/simbox/leaders_reference.py``) may differ in its last bit:
    then, rarely, a rounded cosine differs by 1e-9, which changes a link only at a tie or at
    the threshold within 1e-9.
    """
    first, last = _ns(sims["first_seen"]), _ns(sims["last_seen"])
    site, names = pd.factorize(sims["main_site"].astype(str), sort=False)
    blank = np.flatnonzero(names == "")
    ok = site >= 0
    if len(blank):
        ok &= site != blank[0]
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return _pairs([], [])
    order = idx[_site_time_order(site[idx], first[idx])]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(site[order])) + 1, [len(order)]])
    sizes = np.diff(starts)
    n_chunks = int((-(-sizes[sizes >= 2] // LEADER_CHUNK)).sum())
    links = np.empty((len(order), 2), dtype=np.int64)
    done, compared = np.empty(n_chunks, dtype=np.int64), np.empty(n_chunks, dtype=np.int64)
    made, chunks, comparisons = site_leaders(
        _hour_counts(hours), order, starts.astype(np.int64), first, last, float(threshold),
        max_leaders, LEADER_CHUNK, 10.0 ** ALIKE_DECIMALS, links, done, compared)
    if log_every:           # the progress lines, as each chunk crossed a multiple of log_every
        before = np.concatenate([[0], done[:chunks - 1]])
        for at in np.flatnonzero(done[:chunks] // log_every != before // log_every):
            log.info("grouping: site+hours links, %s of %s SIMs (%s comparisons)",
                     f"{int(done[at]):,}", f"{len(idx):,}",
                     f"{counter['comparisons'] + int(compared[at]):,}")
    counter["comparisons"] += comparisons
    return links[:made]


def _site_time_order(site: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The order of the rows by site code, then ``first``, then row (``np.lexsort((rows,
    first, site))``): one stable sort of ``site x span + first`` when that fits in int64
    (a week in nanoseconds at 40 sites: 11 ms -> 4 ms for 100,000 rows)."""
    if not len(first):
        return np.zeros(0, dtype=np.int64)
    lo, hi = int(first.min()), int(first.max())
    span = hi - lo + 1
    if int(site.max()) * span + span - 1 > np.iinfo(np.int64).max:
        return np.lexsort((np.arange(len(first)), first, site))
    return np.argsort(site.astype(np.int64) * span + (first - lo), kind="stable")


def _hour_counts(hours: np.ndarray) -> np.ndarray:
    """``hours`` as the leader kernel reads it: C order, int32, int64 or float64 (the
    others made int64 or float64)."""
    h = np.asarray(hours)
    if h.dtype not in (np.int32, np.int64, np.float64):
        h = h.astype(np.int64 if h.dtype.kind in "iub" else np.float64)
    return np.ascontiguousarray(h)


def _handover_links(sims: pd.DataFrame, gap_s: int) -> np.ndarray:
    """SIMs of one main site where one begins at most ``gap_s`` after the other's last
    event: each SIM that stops before the end of the data is linked to the first SIM
    of its site that starts after it within the gap (not at the start of the data).
    One sort and one binary search: linear-logarithmic in the SIMs."""
    if len(sims) < 2:
        return _pairs([], [])
    first, last = _ns(sims["first_seen"]) // 10**9, _ns(sims["last_seen"]) // 10**9   # s
    begin, end = first.min(), last.max()
    site, names = pd.factorize(sims["main_site"].astype(str), sort=False)
    blank = np.flatnonzero(names == "")
    ok = site >= 0
    if len(blank):
        ok &= site != blank[0]
    starts = np.flatnonzero(ok & (first > begin + gap_s))         # B: began inside the data
    stops = np.flatnonzero(ok & (last < end - gap_s))             # A: stopped inside the data
    if not len(starts) or not len(stops):
        return _pairs([], [])
    span = np.int64(end - begin + 1)
    key = site[starts].astype(np.int64) * span + (first[starts] - begin)
    order = np.argsort(key, kind="stable")
    starts, key = starts[order], key[order]
    pos = np.searchsorted(key, site[stops].astype(np.int64) * span + (last[stops] - begin),
                          side="left")
    hit = pos < len(starts)
    a, b = stops[hit], starts[pos[hit]]
    near = (site[b] == site[a]) & (first[b] - last[a] <= gap_s) & (a != b)
    return _pairs(a[near], b[near])


def _runs(group: np.ndarray, value: np.ndarray, gap: int, min_run: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(i, j)`` of sorted neighbours in runs: rows already sorted by
    (group, value); a run is a stretch of neighbours of one group at most ``gap``
    apart, kept when it has at least ``min_run`` members."""
    near = (group[1:] == group[:-1]) & (value[1:] - value[:-1] <= gap)
    k = np.flatnonzero(near)
    if min_run > 2 and len(k):
        start = np.r_[True, k[1:] != k[:-1] + 1]          # first link of each run
        run_id = np.cumsum(start) - 1
        members = np.bincount(run_id) + 1
        k = k[members[run_id] >= min_run]
    return k, k + 1


def _digit_texts(numbers, lo: int, hi: int):
    """``(texts, ok)``: the entries as one Arrow text array and, per entry, whether it is
    ``lo``-``hi`` ASCII digits (Arrow's kernels: no Python ``str`` test per entry); None
    when the entries are not all texts (missing ones aside)."""
    import pyarrow as pa  # lazy: pandas has imported it
    import pyarrow.compute as pc
    values = numbers
    if isinstance(numbers, (pd.Series, pd.Index)):     # (Arrow's own buffers, or objects)
        values = numbers.array if isinstance(numbers.dtype, pd.StringDtype) else \
            numbers.to_numpy()
    try:
        texts = pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    length = pc.binary_length(texts)
    ok = pc.and_(pc.and_(pc.string_is_ascii(texts), pc.utf8_is_digit(texts)),
                 pc.and_(pc.greater_equal(length, lo), pc.less_equal(length, hi)))
    return texts, ok.fill_null(False).to_numpy(zero_copy_only=False)


def _int_texts(texts, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Digit texts (Arrow), or their code units ``start:stop``, as int64."""
    import pyarrow as pa  # lazy: pandas has imported it
    import pyarrow.compute as pc
    if start or stop is not None:
        texts = pc.utf8_slice_codeunits(texts, start, stop if stop is not None else 2**31 - 1)
    return np.asarray(pc.cast(texts, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _digits(numbers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(positions, lengths, values)`` of the entries that are 1-18 ASCII digits: by
    :func:`_digit_texts` (100,000 numbers: no Python ``str`` test per entry), or by
    :func:`_digits_of_objects` when the entries are not all texts."""
    import pyarrow as pa  # lazy: pandas has imported it
    import pyarrow.compute as pc
    got = _digit_texts(numbers, 1, 18)
    if got is None:
        return _digits_of_objects(numbers)
    texts, ok = got
    kept = texts.filter(pa.array(ok))
    return np.flatnonzero(ok), np.asarray(pc.binary_length(kept).to_numpy(
        zero_copy_only=False), dtype=np.int64), _int_texts(kept)


def _digits_of_objects(numbers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_digits` entry by entry (``str`` of each: any objects)."""
    s = np.asarray(numbers, dtype=object).astype(str)
    valid = np.array([x.isdigit() and x.isascii() and 0 < len(x) <= 18 for x in s], dtype=bool)
    idx = np.flatnonzero(valid)
    return idx, np.array([len(s[i]) for i in idx], dtype=np.int64), \
        np.array([int(s[i]) for i in idx], dtype=np.int64)


def _block_links(numbers: pd.Series, sites: pd.Series, gap: int, partner=None) -> np.ndarray:
    """Neighbours in the sorted run of numbers of one length at one site (sort, no comparison).

    With ``partner`` (the other number of each SIM: MSISDN for IMSI) SIMs at
    *different* sites are linked too when both numbers step together (IMSI and
    MSISDN each ``d`` apart, ``d <= gap``): one batch of SIMs spread over a
    farm's sites, a moving box, a remote bank.
    """
    site, blank = _site_codes(sites)
    idx, length, value = _digits(numbers)
    if len(idx) < 2:
        return _pairs([], [])
    out = []
    here = ~blank[site[idx]]
    i1, v1 = idx[here], value[here]
    grp = pd.factorize(length[here] * (len(blank) + 1) + site[i1])[0]  # (length, site) groups
    order = np.lexsort((v1, grp))
    a, b = _runs(grp[order], v1[order], gap, 2)
    out.append(_pairs(i1[order][a], i1[order][b]))
    if partner is not None:
        out.append(_stepping_links(idx, length, value, site, partner, gap))
    return np.concatenate(out)


def _stepping_links(idx, length, value, site, partner, gap: int) -> np.ndarray:
    """:func:`_block_links`' links between SIMs at different sites (``site``: a value per
    SIM, compared by ``!=``) whose numbers (``idx``/``length``/``value`` of
    :func:`_digits`) and ``partner`` numbers step together, ``d <= gap`` apart."""
    pidx, plen, pval = _digits(partner)
    other = np.full(len(site), -1, dtype=np.int64)
    other[pidx] = pval
    plength = np.zeros(len(site), dtype=np.int64)
    plength[pidx] = plen
    order = np.lexsort((value, length))
    i3, v3 = idx[order], value[order]
    a, b = _runs(length[order], v3, gap, 2)
    pa, pb = other[i3[a]], other[i3[b]]
    same = (pa >= 0) & (pb >= 0) & (plength[i3[a]] == plength[i3[b]]) & \
        (pb - pa == v3[b] - v3[a]) & (site[i3[a]] != site[i3[b]])
    return _pairs(i3[a[same]], i3[b[same]])


def _site_codes(sites: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(code, blank)``: each SIM's site as a code of its text (equal texts, equal codes;
    values other than texts by ``str``) and, per code, whether the SIM has no site there: an
    empty text, or a missing value, which takes the empty text's code (one "no site", as the
    texts compared it: ``tests/simbox/test_link_codes.py``), else a code of its own, the
    last.  By :func:`factorized`: no text per SIM."""
    code, uniques = factorized(sites)
    if not all(isinstance(x, str) for x in uniques):       # numbers...: by their texts
        merged, uniques = pd.factorize(np.array([str(x) for x in uniques], dtype=object))
        code = np.where(code >= 0, np.asarray(merged)[np.maximum(code, 0)], -1)
    blank = np.append(np.asarray(uniques, dtype=object) == "", True)
    empty = np.flatnonzero(blank[:-1])
    missing = int(empty[0]) if len(empty) else len(blank) - 1
    return np.where(code >= 0, code, missing).astype(np.int64), blank


def _imei_parts(imeis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tac, serial, ok)``: of the IMEIs that are 14-16 ASCII digits (``ok``), the type
    allocation code (digits 1-8) and the serial (digits 9-14) as integers, by Arrow's
    kernels; entry by entry (``str`` of each) when they are not all texts."""
    import pyarrow as pa  # lazy: pandas has imported it
    got = _digit_texts(imeis, 14, 16)
    if got is not None:
        texts, ok = got
        kept = texts.filter(pa.array(ok))
        return _int_texts(kept, 0, 8), _int_texts(kept, 8, 14), ok
    imei = np.asarray(imeis, dtype=object).astype(str)
    ok = np.array([x.isdigit() and x.isascii() and 14 <= len(x) <= 16 for x in imei], dtype=bool)
    return np.array([int(x[:8]) for x in imei[ok]], dtype=np.int64), \
        np.array([int(x[8:14]) for x in imei[ok]], dtype=np.int64), ok


def _device_block_links(imsis: pd.Index, devices: pd.DataFrame, gap: int, min_run: int = 4
                        ) -> np.ndarray:
    """SIMs in devices with consecutive IMEIs: one type allocation code (first 8
    digits), serials (digits 9-14) at most ``gap`` apart, in runs of at least
    ``min_run`` devices -- the ports of one gateway, the modems of one farm.  Runs
    (not pairs) keep two handsets that happen to be neighbours apart.  Devices that
    each held two or more flagged SIMs (SIM rotation: modems, gateway ports) link in
    runs of any length: two or three modems of one farm at different sites are one
    batch of hardware, and a phone rarely carries several flagged SIMs."""
    got = _sim_devices(imsis, devices)
    if got is None:
        return _device_block_links_frames(imsis, devices, gap, min_run)
    sim, code, uniques = got
    tac_u, serial_u, ok_u = _imei_parts(uniques)        # per distinct IMEI, not per row
    tac_of = np.zeros(len(uniques), dtype=np.int64)
    serial_of = np.zeros(len(uniques), dtype=np.int64)
    tac_of[ok_u], serial_of[ok_u] = tac_u, serial_u
    keep = ok_u[code]
    n = max(len(imsis), 1)
    pair = unique_ints(code[keep] * n + sim[keep])      # distinct (IMEI, SIM)
    if len(pair) < 2:
        return _pairs([], [])
    code, sim = pair // n, pair % n
    tac, serial = tac_of[code], serial_of[code]
    order = np.lexsort((sim, serial, tac))
    tac, serial, sim = tac[order], serial[order], sim[order]
    device = np.r_[True, (tac[1:] != tac[:-1]) | (serial[1:] != serial[:-1])]
    new_sim = device | np.r_[True, sim[1:] != sim[:-1]]
    sims_in = np.bincount(np.cumsum(device) - 1, weights=new_sim)   # distinct SIMs a device
    ft, fs, fi = tac[device], serial[device], sim[device]          # one SIM per device
    a, b = _runs(ft, fs, gap, min_run)
    multi = sims_in >= 2
    ma, mb = _runs(ft[multi], fs[multi], gap, 2)
    mi = fi[multi]
    return np.concatenate([_pairs(fi[a], fi[b]), _pairs(mi[ma], mi[mb])])


def _device_block_links_frames(imsis: pd.Index, devices: pd.DataFrame, gap: int,
                               min_run: int = 4) -> np.ndarray:
    """:func:`_device_block_links` by pandas (any pair table; the reference of the tests)."""
    d = devices.loc[devices["imsi"].isin(imsis), ["imsi", "imei"]].drop_duplicates()
    tac, serial, ok = _imei_parts(d["imei"])
    d = d.loc[ok]
    if len(d) < 2:
        return _pairs([], [])
    pos = pd.Series(np.arange(len(imsis)), index=imsis).reindex(d["imsi"].to_numpy()).to_numpy()
    u = pd.DataFrame({"tac": tac, "serial": serial, "i": pos}).sort_values(["tac", "serial", "i"])
    sims_in = u.groupby(["tac", "serial"], sort=False)["i"].transform("nunique").to_numpy()
    first = u.drop_duplicates(["tac", "serial"])            # one SIM per device
    a, b = _runs(first["tac"].to_numpy(), first["serial"].to_numpy(), gap, min_run)
    i = first["i"].to_numpy()
    multi = first.loc[sims_in[~u.duplicated(["tac", "serial"]).to_numpy()] >= 2]
    ma, mb = _runs(multi["tac"].to_numpy(), multi["serial"].to_numpy(), gap, 2)
    mi = multi["i"].to_numpy()
    return np.concatenate([_pairs(i[a], i[b]), _pairs(mi[ma], mi[mb])])


def link_sims(sims: pd.DataFrame, hours: np.ndarray, devices: pd.DataFrame,
              rules: LinkRules = LinkRules(), *, stats: dict | None = None) -> dict[str, np.ndarray]:
    """The links between flagged SIMs, by kind: int arrays of (row, row) pairs.

    ``sims`` (index imsi): ``msisdn, main_site, first_seen, last_seen``;
    ``hours``: its hour-of-day rows; ``devices``: ``imsi, imei`` pairs.
    ``stats`` (a dict, optional) receives ``comparisons``: the hour-profile
    comparisons made (at most ``SIMs x rules.max_leaders``); every other link
    comes from sorting or grouping by a key, without pairwise comparison.
    """
    counter = {"comparisons": 0}
    n = len(sims)
    if n == 0:                  # no SIM: no link, and no pass over the pair tables
        empty = np.zeros((0, 2), dtype=np.int64)
        links = dict.fromkeys(LINK_KINDS, empty)
    else:
        links = _links(sims, hours, devices, rules, counter)
    if stats is not None:
        stats.update(counter)
        stats["links"] = {k: int(len(v)) for k, v in links.items()}
    return links


def _links(sims, hours, devices, rules, counter) -> dict[str, np.ndarray]:
    """:func:`link_sims`' links of one or more SIMs."""
    n = len(sims)
    return {
        "device": _device_links(sims.index, devices),
        "site+hours": _site_hours_links(sims, hours, rules.hour_similarity, rules.max_leaders,
                                        counter, log_every=50_000 if n >= 50_000 else 0),
        "device block": _device_block_links(sims.index, devices, rules.number_gap),
        "handover": _handover_links(sims, rules.handover_gap_s),
        "imsi block": _block_links(pd.Series(sims.index, index=sims.index), sims["main_site"],
                                   rules.number_gap, partner=sims["msisdn"]),
        "msisdn block": _block_links(sims["msisdn"], sims["main_site"], rules.number_gap),
    }


STRONG_LINKS = ("device", "device block", "imsi block", "msisdn block")
WEAK_LINKS = ("site+hours", "handover")


def _components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected component of each of ``n`` nodes, any numbering: the smallest node of its
    component.  Labels are lowered along the links, then chased to their roots (pointer
    jumping), until every link joins two nodes of one label: a few numpy passes over the
    links (no scipy import; ``tests/simbox/test_deployments.py`` checks it against
    ``scipy.sparse.csgraph.connected_components``)."""
    label = np.arange(n, dtype=np.int64)
    if n == 0 or len(pairs) == 0:
        return label
    a, b = np.asarray(pairs[:, 0], np.int64), np.asarray(pairs[:, 1], np.int64)
    while True:
        la, lb = label[a], label[b]
        split = la != lb
        if not split.any():
            return label
        low = np.minimum(la[split], lb[split])
        np.minimum.at(label, la[split], low)      # each root takes the lowest label it meets
        np.minimum.at(label, lb[split], low)
        while True:                               # every node to its root's label
            up = label[label]
            if np.array_equal(up, label):
                break
            label = up


def _first_appearance(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in order of first appearance."""
    _, first, inverse = unique_ints(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse]


def group_sims(sims: pd.DataFrame, hours: np.ndarray, devices: pd.DataFrame,
               rules: LinkRules = LinkRules(), *, stats: dict | None = None, fixed=None
               ) -> tuple[np.ndarray, pd.DataFrame]:
    """Component of each flagged SIM (array aligned with ``sims``) and the link
    counts per component (DataFrame, one column per link kind).

    Device and number-block links are strong: they always join.  Site+hours
    links are weak, since two separate boxes can share a mast and a shift: they
    join SIMs that no strong link ties to others, among themselves, and attach
    each such group to at most one strongly linked group (the one it has most
    site+hours links with; ties: the group seen first); they never merge two
    strongly linked groups.  Components come from sparse graphs
    (``scipy.sparse.csgraph.connected_components``): linear in SIMs and links.
    ``stats``: see :func:`link_sims`.  ``fixed`` (optional, an int per SIM, -1 for none):
    SIMs whose group is known already (the device rule's farms: one deployment per
    device); they are grouped by it alone, linked to nothing else, and counted as
    ``device`` links (a star per group): no link is searched among them.
    """
    if fixed is not None and (np.asarray(fixed) >= 0).any():
        return _group_fixed(sims, hours, devices, rules, stats, np.asarray(fixed, np.int64))
    t0 = time.monotonic()
    stats = {} if stats is None else stats
    links = link_sims(sims, hours, devices, rules, stats=stats)
    n = len(sims)
    if n == 0:
        return np.zeros(0, dtype=np.int64), pd.DataFrame(columns=list(LINK_KINDS), dtype=int)
    strong = np.concatenate([links[k] for k in STRONG_LINKS])
    core = _components(n, strong)
    loose = np.bincount(core)[core] == 1
    weak = np.concatenate([links[k] for k in WEAK_LINKS])
    both = loose[weak[:, 0]] & loose[weak[:, 1]]
    groups = _components(n, np.concatenate([strong, weak[both]]))   # loose SIMs among themselves
    mixed = weak[loose[weak[:, 0]] != loose[weak[:, 1]]]
    if len(mixed):
        a_loose = loose[mixed[:, 0]]
        g = np.where(a_loose, groups[mixed[:, 0]], groups[mixed[:, 1]])
        other = np.where(a_loose, mixed[:, 1], mixed[:, 0])        # a SIM of the core
        votes = pd.DataFrame({"g": g, "c": groups[other], "first": other})
        votes = votes.groupby(["g", "c"], sort=False).agg(n=("first", "size"),
                                                          first=("first", "min")).reset_index()
        votes = votes.sort_values(["g", "n", "first"], ascending=[True, False, True])
        best = votes.drop_duplicates("g")
        rep = pd.Series(np.arange(n)).groupby(groups).first()      # a SIM of each group
        join = _pairs(rep.reindex(best["g"]).to_numpy(), best["first"].to_numpy())
        groups = _components(n, np.concatenate([strong, weak[both], join]))
    labels = _first_appearance(groups)
    k = int(labels.max()) + 1
    counts = pd.DataFrame(0, index=pd.RangeIndex(k), columns=list(LINK_KINDS))
    for kind, pairs in links.items():
        inside = labels[pairs[:, 0]][labels[pairs[:, 0]] == labels[pairs[:, 1]]]
        counts[kind] = np.bincount(inside, minlength=k)
    log.info("grouping: %s flagged SIMs, %s deployments, %s links, %s profile comparisons "
             "(%.1fs)", f"{n:,}", f"{k:,}", f"{sum(len(v) for v in links.values()):,}",
             f"{stats['comparisons']:,}", time.monotonic() - t0)
    return labels, counts


def _group_fixed(sims, hours, devices, rules, stats, fixed):
    """:func:`group_sims` with the groups ``fixed`` (>= 0) known: the others grouped by
    their links, the fixed ones by their group; labels in order of first appearance."""
    free = np.flatnonzero(fixed < 0)
    some, counts = group_sims(sims.iloc[free], np.asarray(hours)[free], devices, rules,
                              stats=stats)
    comp = np.empty(len(sims), dtype=np.int64)
    comp[free] = some
    known = np.flatnonzero(fixed >= 0)
    code = pd.factorize(fixed[known])[0]
    comp[known] = len(counts) + code
    labels = _first_appearance(comp)
    k = int(labels.max()) + 1
    new_of = np.empty(len(counts) + int(code.max()) + 1, dtype=np.int64)
    new_of[comp] = labels
    out = pd.DataFrame(0, index=pd.RangeIndex(k), columns=list(LINK_KINDS))
    out.iloc[new_of[:len(counts)]] = counts[list(LINK_KINDS)].to_numpy()
    out.loc[new_of[len(counts):], "device"] = np.bincount(code) - 1
    return labels, out


def active_hours(profile: np.ndarray, min_share: float = 0.3) -> list[int]:
    """Hours of day when a group is active: its 24 hourly event counts smoothed
    over neighbouring hours (weights 1-2-1, around midnight too), then the hours
    with at least ``min_share`` of the busiest smoothed hour.  The smoothing keeps
    a sparse profile from breaking into many one-hour pieces."""
    p = np.asarray(profile, dtype=float)
    if p.max(initial=0) <= 0:
        return []
    smooth = (np.roll(p, 1) + 2 * p + np.roll(p, -1)) / 4
    return np.flatnonzero(smooth >= min_share * smooth.max()).tolist()


def format_hours(hours: list[int]) -> str:
    """Hours of day as ranges, end exclusive: ``[22, 23, 0, 1, 8, 9]`` ->
    ``"08:00-10:00, 22:00-02:00"``; 16 hours or more with one gap ->
    ``"all day except 02:00-05:00"``."""
    if not hours:
        return ""
    hs = sorted(set(hours))
    if len(hs) == 24:
        return "00:00-24:00"
    runs = []
    for h in hs:
        if runs and h == runs[-1][1]:
            runs[-1][1] = h + 1
        else:
            runs.append([h, h + 1])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == 24:
        runs[0][0] = runs.pop()[0]
    if len(runs) == 1 and len(hs) >= 16:
        start, end = runs[0]
        return f"all day except {end % 24:02d}:00-{start:02d}:00"
    return ", ".join(f"{a:02d}:00-{b if b == 24 else b % 24:02d}:00" for a, b in sorted(runs))


def priority(mean_score, n_sims, days_idle) -> np.ndarray:
    """The priority formula of the module docstring (vectorised)."""
    size = np.minimum(1.0, np.log2(1.0 + np.asarray(n_sims, dtype=float)) /
                      np.log2(1.0 + FULL_BOX_SIMS))
    recency = 0.8 ** np.maximum(0.0, np.asarray(days_idle, dtype=float))
    return np.round(100.0 * np.asarray(mean_score, dtype=float) * size * recency, 1)


def sum_rows(rows: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Rows summed per group (``group``: 0..n_groups-1 per row), as floats: linear in the
    rows, whatever the number of groups.

    Column by column with ``np.bincount``; integer rows (the hour counts) whose groups
    come in order (one deployment, one site: a card farm's 100,000 SIMs) are summed as
    int64, each group's rows at once (``np.add.reduceat``), then made floats: the exact
    sums, so the very values of the float sums while they stay below 2**53."""
    rows = np.asarray(rows)
    if rows.ndim != 2:      # (0, 24) stays as it is: reshape(0, -1) cannot infer the width
        rows = rows.reshape(len(group), -1 if len(group) else 0)
    group = np.asarray(group, dtype=np.int64)
    if rows.dtype.kind in "iu" and rows.size and (group[1:] >= group[:-1]).all():
        # the largest magnitude from the extremes (no absolute copy of the rows); sums that
        # cannot overflow the rows' own integers are made in them (no cast of each row)
        top = max(int(rows.max()), -int(rows.min())) * len(group)
        if top < 2 ** 53:
            out = np.zeros((n_groups, rows.shape[1]))
            starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
            acc = rows.dtype if top <= np.iinfo(rows.dtype).max else np.int64
            out[group[starts]] = rows.sum(axis=0, dtype=acc) if len(starts) == 1 else \
                np.add.reduceat(rows, starts, axis=0, dtype=acc)       # (one group: its sum)
            return out
    rows = rows.astype(float, copy=False)
    out = np.empty((n_groups, rows.shape[1]))
    for c in range(rows.shape[1]):
        out[:, c] = np.bincount(group, weights=rows[:, c], minlength=n_groups)
    return out


def unique_ints(values, *, return_index: bool = False, return_inverse: bool = False):
    """``np.unique`` of a 1-d integer array (with its ``return_index``: the first position of
    each value, and ``return_inverse``), by one stable sort: numpy 2's ``np.unique`` hashes
    the values and then sorts them, 4-5 times slower for 100,000 keys."""
    values = np.asarray(values)
    if values.ndim != 1 or values.dtype.kind not in "iub":
        raise ValueError(f"unique_ints takes a 1-d integer array, not {values.dtype} of "
                         f"shape {values.shape}")
    # values in order already (one device's SIMs by row, one site's SIMs): no sort, the
    # stable sort's order being the identity
    ordered = bool((values[1:] >= values[:-1]).all())
    if ordered:
        order, ranked = None, values
    else:
        order = np.argsort(values, kind="stable") if return_index or return_inverse else None
        ranked = values[order] if order is not None else np.sort(values)
    start = np.empty(len(ranked), dtype=bool)
    start[:1] = True
    np.not_equal(ranked[1:], ranked[:-1], out=start[1:])
    out = [ranked[start]]
    if return_index:
        out.append(np.flatnonzero(start) if ordered else order[start])
    if return_inverse:
        inverse = np.empty(len(values), dtype=np.intp)
        if ordered:
            np.cumsum(start, out=inverse)
            inverse -= 1
        else:
            inverse[order] = np.cumsum(start) - 1
        out.append(inverse)
    return out[0] if len(out) == 1 else tuple(out)


def hours_text(profiles: np.ndarray, min_share: float = 0.3) -> list[str]:
    """:func:`format_hours` of :func:`active_hours` for each row of ``profiles``
    (vectorised smoothing; one formatting per distinct set of hours)."""
    p = np.asarray(profiles, dtype=float).reshape(-1, 24)
    smooth = (np.roll(p, 1, axis=1) + 2 * p + np.roll(p, -1, axis=1)) / 4
    top = smooth.max(axis=1, initial=0)
    on = (smooth >= min_share * top[:, None]) & (top[:, None] > 0)
    keys = on.astype(np.int64) @ (1 << np.arange(24, dtype=np.int64))
    uniq, first = unique_ints(keys, return_index=True)
    done = {int(k): format_hours(np.flatnonzero(on[i]).tolist()) for k, i in zip(uniq, first)}
    return [done[int(k)] for k in keys]


def _ordered_join(keys: np.ndarray, values: pd.Series) -> pd.DataFrame:
    """Per key (integers), its distinct values (texts; empty and missing ones left out)
    ``;``-joined, most frequent first (ties: first seen): ``n`` (how many) and ``joined``,
    indexed by key, ascending.  By sorting codes (``pd.factorize`` of the values): the
    order of a grouping of the (key, value) pairs sorted by key, count and first row."""
    keys = np.asarray(keys, dtype=np.int64)
    code, names = factorized(values.astype(str))
    keep = code >= 0
    keep[keep] = np.array([n != "" for n in names.tolist()], dtype=bool)[code[keep]] \
        if len(names) else False                  # (each distinct value tested once)
    row = np.flatnonzero(keep)
    k, c = keys[row], code[row]
    # by key, value, then row: one stable sort of (key, value) as one integer (none when in
    # order already: one deployment at one site)
    pair = (k - int(k.min(initial=0))) * (len(names) + 1) + c
    order = np.arange(len(pair)) if (pair[1:] >= pair[:-1]).all() else \
        np.argsort(pair, kind="stable") if int(pair.max(initial=0)) < 2 ** 62 else \
        np.lexsort((row, c, k))
    k, c, row = k[order], c[order], row[order]
    start = np.flatnonzero(np.r_[True, (k[1:] != k[:-1]) | (c[1:] != c[:-1])][:len(k)])
    n = np.diff(np.r_[start, len(k)])                 # rows per (key, value)
    k, c, first = k[start], c[start], row[start]
    order = np.lexsort((first, -n, k))                # by key, most rows, first row
    k, c = k[order], c[order]
    begin = np.flatnonzero(np.r_[True, k[1:] != k[:-1]][:len(k)])
    counts = np.diff(np.r_[begin, len(k)]).astype(np.int64)
    texts = names[c].tolist()
    joined = np.array([";".join(texts[b:b + m]) for b, m in zip(begin.tolist(), counts.tolist())],
                      dtype=object)
    return pd.DataFrame({"n": counts, "joined": joined}, index=pd.Index(k[begin], name="k"))


def deployment_table(sims: pd.DataFrame, labels: np.ndarray, hours: np.ndarray,
                     devices: pd.DataFrame, link_counts: pd.DataFrame,
                     locations: pd.DataFrame | None = None,
                     scan_end: pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The deployment table and the deployment id of each flagged SIM.

    ``sims`` (index imsi): ``class, score, main_site, first_seen, last_seen,
    n_events``; ``labels`` from :func:`group_sims`; ``locations`` (optional,
    indexed by component label): ``lat, lon, radius_m``.  ``scan_end`` defaults
    to the latest ``last_seen``.  Grouped operations only (no loop over
    deployments): 100,000 deployments of one SIM cost about as much as one of
    100,000.
    """
    columns = ["deployment_id", "class", "n_sims", "n_devices", "n_sites", "sites", "lat", "lon",
               "radius_m", "first_seen", "last_seen", "active_hours", "events", "score",
               "priority", "linked_by"]
    if len(sims) == 0:
        return pd.DataFrame(columns=columns), pd.Series([], index=sims.index, name="deployment_id",
                                                       dtype=object)
    labels = np.asarray(labels, dtype=np.int64)
    df = sims.assign(_comp=labels)
    if scan_end is None:
        scan_end = df["last_seen"].max()
    n_devices = devices_per(devices, pd.Series(labels, index=df.index), "_comp")
    g = df.groupby("_comp", sort=True)
    table = pd.DataFrame({"n_sims": g.size(), "first_seen": g["first_seen"].min(),
                          "last_seen": g["last_seen"].max(),
                          "events": g["n_events"].sum().astype(np.int64),
                          "score": g["score"].mean().round(4)})
    comps = table.index.to_numpy()
    pos = np.searchsorted(comps, labels)             # each SIM's row of the table
    table["class"] = majority_class(df, pos, comps)
    table["n_devices"] = n_devices.reindex(comps, fill_value=0).astype(int).to_numpy()
    sites = _ordered_join(labels, df["main_site"])
    table["n_sites"] = sites["n"].reindex(comps, fill_value=0).astype(int).to_numpy()
    table["sites"] = sites["joined"].reindex(comps, fill_value="").to_numpy()
    for c in ("lat", "lon", "radius_m"):
        table[c] = (locations[c].astype(float).reindex(comps).to_numpy()
                    if locations is not None and len(locations) else np.nan)
    table["active_hours"] = hours_text(sum_rows(hours, pos, len(comps)))
    table["linked_by"] = linked_by(link_counts.reindex(comps, fill_value=0))
    table = rank_deployments(table.rename_axis("_comp").reset_index(), scan_end)
    ids = table.set_index("_comp")["deployment_id"].reindex(comps).to_numpy()
    # (the ids converted to pandas' texts once each, then taken per SIM)
    per_sim = pd.Series(pd.array(ids, dtype="str").take(pos), index=sims.index,
                        name="deployment_id")
    return table[columns].reset_index(drop=True), per_sim


def majority_class(df: pd.DataFrame, pos: np.ndarray, comps: np.ndarray) -> pd.Series:
    """Each component's most frequent ``class`` among the rows of ``df`` (ties: the higher
    summed ``score``, then the first class in sort order), indexed by ``comps`` (``pos``: each
    row's component as its position in ``comps``).  A component whose rows hold one class
    takes it at once; the classes of the others are tallied by pandas' groupby
    (:func:`_tally_classes`), which gives every component the same answer."""
    code, names = pd.factorize(df["class"])
    one = np.empty(len(comps), dtype=np.int64)
    one[pos] = code                       # a class of each component's rows (any one)
    mixed = np.bincount(pos, weights=code != one[pos], minlength=len(comps)) > 0
    mixed |= one < 0                      # (a missing class: as the groupby leaves it)
    out = pd.Series(names.take(one, allow_fill=True, fill_value=np.nan),
                    index=pd.Index(comps, name="_comp"), name="class")
    if mixed.any():
        out[mixed] = _tally_classes(df.loc[mixed[pos]], comps[mixed]).to_numpy()
    return out


def _tally_classes(df: pd.DataFrame, comps: np.ndarray) -> pd.Series:
    """:func:`majority_class` by pandas' groupby of ``df``'s ``_comp`` and ``class``."""
    tally = df.groupby(["_comp", "class"]).agg(size=("score", "size"), sum=("score", "sum"))
    tally = tally.reset_index().sort_values(["_comp", "size", "sum"], ascending=[True, False, False])
    return tally.drop_duplicates("_comp").set_index("_comp")["class"].reindex(comps)


def linked_by(link_counts: pd.DataFrame) -> list:
    """The ``linked_by`` text of each row of ``link_counts`` (a column per link kind)."""
    return [", ".join(f"{k} ({int(n)})" for k, n in zip(LINK_KINDS, row) if n > 0)
            for row in link_counts[list(LINK_KINDS)].to_numpy()]


def rank_deployments(table: pd.DataFrame, scan_end) -> pd.DataFrame:
    """The rows of ``table`` (in component order) with their ``priority`` (recency to
    ``scan_end``), highest first (ties: more SIMs, higher score, then component order),
    and ids ``D001``, ``D002``, ... in that order."""
    idle = (pd.Timestamp(scan_end) - table["last_seen"]).dt.total_seconds() / 86400.0
    table = table.assign(priority=priority(table["score"], table["n_sims"], idle))
    table = table.sort_values(["priority", "n_sims", "score"], ascending=False, kind="stable")
    width = max(3, len(str(len(table))))
    table["deployment_id"] = [f"D{i:0{width}d}" for i in range(1, len(table) + 1)]
    return table
