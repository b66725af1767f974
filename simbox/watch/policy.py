"""The alert policy of ``simbox watch``: which flags become alerts, and when a flag ends.

The model and the early layer (:mod:`simbox.watch.early`) say, after each drop, which
SIMs look like a SIM box or a card farm *now*.  A scan of days acts on that; a watch that
alerts on it within minutes also alerts on SIMs that are hours old, when the evidence is
thin: an office that opens in the middle of the window (fresh SIMs in fixed cellular
terminals or desk gateways, dialling out, no callbacks yet) scores like a young SIM box
for hours, then falls back as its customers call back (docs/watch.md, "Alert states").
The policy turns the flags of each drop into the flags to alert on, with two rules:

**Confirmation (new flags).**  A SIM flagged now and not before is *pending* until it
is confirmed; it raises ``new`` only then.  It is confirmed at once when it is
*established* (its first CDR at least :attr:`AlertPolicy.young` old) or when it is one of
two or more young SIMs that passed through one IMEI one after another
(:func:`rotation`: a SIM bank's port, a modem cycling its SIMs), unless it shows the sign
of an office below in its own calls or its evidence peers' and it is flagged as a SIM box (a
desk gateway reporting one IMEI, its agents starting one after another) or each SIM of the
rotation was seen once (:func:`rotations`: a gateway's lines each taking one call line up
one after another too).  Otherwise it must be
flagged at every drop over :attr:`AlertPolicy.confirm` of network time (a streak; a drop
without the flag starts it again), and is then alerted unless it shows a **sign of an
office** (:func:`office_sign`): it, or a *peer* (a SIM of the evidence at its main site
first seen within :data:`PEER_WINDOW` of it; for an early-layer flag, any SIM of the
window there), received a call from a number it had not called (:func:`unsolicited`:
people know its number; a call from an on-net SIM of its own site or IMEI, a box's SIMs
calling each other, does not count: :mod:`simbox.watch.callers`), and it is not busy at
night (:func:`busy_at_night`: offices close; a call *received* at night says nothing of
the SIM; an office's night shift, a few calls of its own with colleagues called, is not
busy).
A SIM with the sign waits until it is :attr:`AlertPolicy.office_age` old and still
flagged.  A SIM bank's numbers are known to nobody: its only calls are the few
callbacks of the people it called.

**The young score.**  A model flag of a SIM younger than
:attr:`AlertPolicy.young_score_age` starts its confirmation only from
:attr:`AlertPolicy.young_score` (the model card's young-SIM threshold) when an office may
be there (:func:`office_evidence`: it or a peer was called by a number it had not
called).  Without that evidence the operating threshold is enough: a new SIM box at a
site where nobody is called has no office to be confused with (``young_hold="age"``
holds every young SIM, as in session 9).

**Hysteresis (cleared).**  A flagged SIM stays flagged (no line) while its score is at
least the threshold minus :attr:`AlertPolicy.clear_margin`, and, under that, until it
has stayed under for :attr:`AlertPolicy.clear_after` of network time; then ``cleared``.
A SIM whose events left the window (no row) is cleared at once.  So a score oscillating
around the threshold gives one ``new`` line, not a series.

The policy is a pure function of a per-drop *evidence table* (:func:`evidence`: the
rows of the SIMs flagged now, or scored above :data:`FLOOR` times the threshold, with
the columns the rules read) and of its own state (pending streaks, times under the
margin), kept in the watch state between drops: a replay can record the evidence
tables and try other settings offline (``benchmarks/bench_alert_policy.py``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from simbox.training.young import young_threshold_of

#: the evidence table keeps the SIMs scored above this share of the threshold
FLOOR = 0.5
#: the feature columns the rules read (from the window's feature table)
FEATURES = ("first_seen", "n_moc", "n_mtc", "moc_callees", "moc_repeat_share",
            "mtc_callback_share", "moc_called_back_share", "n_sms_mo", "n_sms_mt", "n_data",
            "device_not_phone", "imsi_neighbours", "imei_max_imsis", "n_imeis", "last_seen",
            "night_share", "moc_office_share", "active_hours")
#: SIMs first seen this close to a SIM's first CDR, at its main site, are its *peers*
#: (an office's agents, a box's SIMs: put in service together)
PEER_WINDOW = 12 * 3600
#: a SIM with at least this share of its events at night (local 00:00-05:59) shows no
#: sign of an office (offices close; their SIMs take at most a missed call at night) ...
NIGHT = 0.05
#: ... when at least this many of its night events are its own (not calls or SMS it
#: received): one call at the edge of the night is an office opening early, a box or a
#: farm at work is busy all night
NIGHT_OWN = 2
#: ... unless they are fewer than this and peers of its kind at its site were called by
#: strangers (``peers_known_like``): an office's night shift makes a call an hour or two;
#: a box or a farm at work at night makes them by the dozen
NIGHT_SHIFT = 4
#: a SIM seen once counts in a rotation only when the next SIM came at least this much
#: later (a SIM bank's port holds a SIM for a slot; a gateway's channels start together)
ROTATION_GAP = 15 * 60
#: columns of the evidence table besides :data:`FEATURES`
COLUMNS = ("flagged", "class", "score", "reasons", "deployment_id", "main_site",
           "main_imei", "early", "peers", "peers_known", "peers_known_like", "unsolicited_in")


@dataclass(frozen=True)
class AlertPolicy:
    """Settings of the policy (seconds of network time; see the module docstring)."""

    young: int = 24 * 3600
    confirm: int = 30 * 60
    office_age: int = 72 * 3600
    clear_margin: float = 0.2
    clear_after: int = 6 * 3600
    # a model flag of a SIM younger than young_score_age starts pending only from this
    # score; None: the model card's young-SIM threshold (:func:`young_score_of`)
    young_score: float | None = None
    young_score_age: int = 48 * 3600    # (0: off)
    # which young SIMs the young score holds: "office" (those with evidence that an office
    # may be there: :func:`office_evidence`) or "age" (all of them: session 9)
    young_hold: str = "office"
    # whose calls are an office's evidence for the young hold, besides the SIM's own: its
    # peers in the "window" (any SIM of its site first seen near it), those of them on a
    # device of its kind ("like"), or its peers in the "evidence" table
    office_peers: str = "like"

    def __post_init__(self):
        if self.young_hold not in ("office", "age"):
            raise ValueError(f"alert policy: young_hold must be 'office' or 'age', "
                             f"not {self.young_hold!r}")
        if self.office_peers not in ("window", "like", "evidence"):
            raise ValueError(f"alert policy: office_peers must be 'window', 'like' or "
                             f"'evidence', "
                             f"not {self.office_peers!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def group_age(self) -> int:
        """The age under which a SIM's calls from its own group (``unsolicited_in``) can
        change a decision of :func:`decide`: the office sign and the young hold weigh only
        SIMs younger than ``max(office_age, young, young_score_age)`` (an older SIM is
        confirmed whatever its sign), and their peers, first seen within
        :data:`PEER_WINDOW` of them."""
        return max(self.office_age, self.young, self.young_score_age) + PEER_WINDOW

    def for_model(self, model) -> "AlertPolicy":
        """This policy with ``young_score`` taken from ``model``'s card when unset."""
        if self.young_score is not None:
            return self
        return replace(self, young_score=young_score_of(model))

    def apply(self, flagged: pd.DataFrame, res, preds: pd.DataFrame, *, before: dict,
              state: dict, network_time: int, threshold: float,
              in_group=None) -> tuple[pd.DataFrame, dict]:
        """``(the table to alert on, in the columns of ``flagged``; the new state)``: the
        :func:`evidence` of the drop put through :func:`decide`."""
        ev = evidence(flagged, res, preds, threshold, before, in_group,
                      in_group_since=network_time - self.group_age)
        table, state = decide(ev, before, state, network_time=network_time,
                              threshold=threshold, policy=self)
        key = flagged.columns[0]
        cols = [c for c in flagged.columns if c != key and c in table.columns]
        return table[cols].rename_axis(key).reset_index(), state


#: ``young_score`` of a model whose card has no young-SIM threshold (models before
#: session 9): the value chosen on held-out world 1081 in session 8
FALLBACK_YOUNG_SCORE = 0.9


def young_score_of(model) -> float:
    """The model card's young-SIM threshold (:func:`simbox.training.young.young_threshold_of`,
    never under the model's operating threshold); :data:`FALLBACK_YOUNG_SCORE` without one."""
    t = young_threshold_of(model)
    return t if t is not None else FALLBACK_YOUNG_SCORE


#: the policy before session 8: every flag alerted at once, cleared at once
IMMEDIATE = AlertPolicy(young=0, confirm=0, office_age=0, clear_margin=0.0, clear_after=0,
                        young_score=0.0, young_score_age=0)


def evidence(flagged: pd.DataFrame, res, preds: pd.DataFrame, threshold: float,
             before=(), in_group=None, in_group_since=None) -> pd.DataFrame:
    """The evidence table of a drop, index the subscriber key: the SIMs of ``flagged``
    (the model's flags and the early layer's, the alert table before the policy), the
    SIMs scored at least :data:`FLOOR` times ``threshold`` and those of ``before`` (the
    flags of the last drop) still in the window; :data:`COLUMNS` (``flagged``: in
    ``flagged``; ``early``: flagged by the early layer; ``unsolicited_in``: the calls of
    :func:`unsolicited` that came from the SIM's own group, ``in_group(keys)``:
    :func:`simbox.watch.callers.unsolicited_in_group`; 0 without it) and
    :data:`FEATURES`.

    ``in_group_since``: ``in_group`` is asked only of SIMs (rows and their peers) first
    seen at or after this network time; the others' ``unsolicited_in`` is NaN, read as 0
    (:meth:`AlertPolicy.group_age`: an older SIM's calls from its group change no
    decision, and reading them is most of the alert step's time on a big network)."""
    key = flagged.columns[0]
    f = flagged.set_index(flagged[key].astype(str))
    score = preds["score"]
    near = score.index[score.to_numpy(float) >= FLOOR * threshold].astype(str)
    kept = pd.Index([str(k) for k in before]).intersection(res.features.index.astype(str))
    idx = f.index.union(pd.Index(near)).union(kept)
    feats = res.features.reindex(idx)
    sims = res.sims.reindex(idx)
    out = pd.DataFrame(index=idx)
    out.index.name = key
    out["flagged"] = idx.isin(f.index)
    out["class"] = f["class"].reindex(idx).fillna("legit").astype(str)
    out["score"] = score.reindex(idx).to_numpy(float)
    for col in ("reasons", "deployment_id", "main_site"):
        out[col] = f[col].reindex(idx) if col in f else None
    out["main_site"] = out["main_site"].fillna(sims["main_site"] if "main_site" in sims else None)
    out["main_imei"] = sims["main_imei"] if "main_imei" in sims else None
    out["early"] = out["reasons"].fillna("").astype(str).str.startswith("early warning")
    for col in FEATURES:
        out[col] = feats[col].to_numpy(float) if col in feats else np.nan
    since = -np.inf if in_group_since is None else float(in_group_since)
    out["unsolicited_in"] = _in_group(out, in_group, since)
    out["peers"], out["peers_known"], out["peers_known_like"] = _peers(out, res, in_group,
                                                                       since)
    return out


def _in_group(ev: pd.DataFrame, in_group, since: float = -np.inf) -> np.ndarray:
    """``in_group`` of the rows of ``ev`` first seen at or after ``since`` that have calls
    of :func:`unsolicited` (0 for the others with such calls and for those without, NaN
    for rows first seen before ``since``: not asked)."""
    out = np.zeros(len(ev))
    if in_group is None:
        return out
    young = ev["first_seen"].to_numpy(float) >= since
    out[~young] = np.nan
    ask = np.flatnonzero((unsolicited(ev) >= 1) & young)
    if len(ask):
        out[ask] = in_group(ev.index[ask])
    return out


def _peers(out: pd.DataFrame, res, in_group=None, since: float = -np.inf) -> tuple:
    """Per row of ``out``: its peers in the window (other SIMs of its main site first seen
    within :data:`PEER_WINDOW` of it), how many of them received a call from a number
    they had not called (:func:`unsolicited`, less the calls of their own group:
    ``in_group``, asked only for those peers first seen at or after ``since``), and how
    many of those are on a device of the SIM's kind (``device_not_phone`` the same: an
    office's agents share a kind of terminal; a quiet subscriber first seen late on a
    phone is no colleague of a gateway's SIMs)."""
    n, k, like = np.zeros(len(out)), np.zeros(len(out)), np.zeros(len(out))
    site_all = res.sims["main_site"].reindex(res.features.index) if "main_site" in res.sims \
        else None
    if site_all is None or not len(out):
        return n, k, like
    mine = out["main_site"].fillna("").astype(str).to_numpy()
    want = np.isin(site_all.fillna("").astype(str).to_numpy(), np.unique(mine[mine != ""]))
    f = res.features.loc[want]
    sites = site_all[want].astype(str).to_numpy()
    first = f["first_seen"].to_numpy(float)
    by_site = pd.Series(np.arange(len(f))).groupby(sites).indices
    t0 = out["first_seen"].to_numpy(float)
    me = f.index.get_indexer(out.index)         # the SIM's own row in f (-1: none)
    peers = [None] * len(out)
    for i, (site, t) in enumerate(zip(mine, t0)):
        rows = by_site.get(site)
        if rows is None or np.isnan(t):
            continue
        near = rows[np.abs(first[rows] - t) <= PEER_WINDOW]
        peers[i] = near[near != me[i]]
    calls = unsolicited(f)
    if in_group is not None:
        ask = [p for p in peers if p is not None and len(p)]
        ask = np.unique(np.concatenate(ask)) if ask else np.zeros(0, np.int64)
        ask = ask[(calls[ask] >= 1) & (first[ask] >= since)]
        if len(ask):
            calls[ask] = np.maximum(calls[ask] - in_group(f.index[ask]), 0)
    known = calls >= 1
    kind = np.nan_to_num(f["device_not_phone"].to_numpy(float)) >= 0.5
    mine_kind = np.nan_to_num(out["device_not_phone"].to_numpy(float)) >= 0.5
    for i, near in enumerate(peers):
        if near is not None:
            n[i], k[i] = len(near), known[near].sum()
            like[i] = (known[near] & (kind[near] == mine_kind[i])).sum()
    return n, k, like


def _age(ev: pd.DataFrame, network_time: int) -> np.ndarray:
    first = ev["first_seen"].to_numpy(float)
    return np.where(np.isnan(first), np.inf, network_time - first)


def unsolicited(ev: pd.DataFrame) -> np.ndarray:
    """Per row: calls the SIM received from numbers it had not called (``n_mtc`` less its
    callbacks), less those of them made by its own group (``unsolicited_in``: a SIM box's
    SIMs calling each other, :mod:`simbox.watch.callers`): people who know its number."""
    share = np.nan_to_num(ev["mtc_callback_share"].to_numpy(float))
    calls = np.round(np.nan_to_num(ev["n_mtc"].to_numpy(float)) * (1.0 - share))
    if "unsolicited_in" in ev:
        calls = np.maximum(calls - np.nan_to_num(ev["unsolicited_in"].to_numpy(float)), 0)
    return calls


def office_evidence(ev: pd.DataFrame, peers: str = "window") -> np.ndarray:
    """Per row: whether an office may be there, which is what the young-SIM hold waits
    on: the SIM, or one of its peers in the window (:func:`_peers`; with ``peers="like"``
    only those on a device of its kind), received a call from a number it had not called
    (:func:`unsolicited`).  A young SIM box's SIMs are called
    by nobody but the people they called; an office's agents, new or not, are called by
    customers within hours (their numbers are printed, passed on, dialled back later)."""
    own = unsolicited(ev) >= 1
    if peers == "like":
        col = "peers_known_like" if "peers_known_like" in ev else "peers_known"
        return own | (ev[col].to_numpy(float) >= 1)
    if peers == "evidence":
        return own | _known_peer(ev, own) | (ev["early"].to_numpy(bool)
                                             & (ev["peers_known"].to_numpy(float) >= 1))
    return own | (ev["peers_known"].to_numpy(float) >= 1)


def office_evidence_of(res, keys, peers: str = "like") -> np.ndarray:
    """:func:`office_evidence` of the SIMs ``keys`` of a feature run ``res`` (a scan's: no
    calls of their own groups known, ``peers`` ``"window"`` or ``"like"``), from their
    features and their peers in the run (:func:`_peers`)."""
    keys = pd.Index(keys)
    feats = res.features.reindex(keys)
    ev = pd.DataFrame({c: feats[c].to_numpy(float) for c in
                       ("first_seen", "n_mtc", "mtc_callback_share", "device_not_phone")},
                      index=keys)
    ev["main_site"] = res.sims["main_site"].reindex(keys).to_numpy() \
        if "main_site" in res.sims else None
    ev["peers"], ev["peers_known"], ev["peers_known_like"] = _peers(ev, res)
    return office_evidence(ev, peers)


def _known_peer(ev: pd.DataFrame, own: np.ndarray) -> np.ndarray:
    """Per row of ``ev``: whether another row at its main site first seen within
    :data:`PEER_WINDOW` of it has ``own``."""
    out = np.zeros(len(ev), bool)
    site = ev["main_site"].fillna("").astype(str).to_numpy()
    first = ev["first_seen"].to_numpy(float)
    for rows in pd.Series(np.arange(len(ev))).groupby(site).agg(list):
        if len(rows) < 2 or site[rows[0]] == "":
            continue
        rows = np.asarray(rows)
        known = rows[own[rows]]
        if not len(known):
            continue
        near = np.abs(first[rows][:, None] - first[known][None, :]) <= PEER_WINDOW
        near &= rows[:, None] != known[None, :]
        out[rows] |= near.any(axis=1)
    return out


def office_sign(ev: pd.DataFrame, age: np.ndarray, policy: AlertPolicy, *,
                window: bool = True) -> np.ndarray:
    """Per row of ``ev``: whether the SIM, or a young SIM of the evidence at its site,
    received a call from a number it had not called, and it is not busy at night (module
    docstring).  ``window``: an early-layer flag also counts the called peers of the
    whole window (``peers_known``: its evidence is thinner)."""
    own = unsolicited(ev) >= 1
    out = own | _known_peer(ev, own)
    if window:
        out |= ev["early"].to_numpy(bool) & (ev["peers_known"].to_numpy(float) >= 1)
    return out & ~busy_at_night(ev)


def busy_at_night(ev: pd.DataFrame) -> np.ndarray:
    """Per row: whether the SIM is busy at night (local 00:00-05:59), which no office is:
    at least :data:`NIGHT` of its events at night, and at least :data:`NIGHT_OWN` of them
    its own.  Its night events less everything it received (calls and SMS, at any hour)
    is a lower bound of its own: a SIM whose only night event is a call it received (a
    missed call, a customer dialling early) is not busy.

    A SIM with fewer than :data:`NIGHT_SHIFT` own night events whose peers of its kind in
    the window were called by strangers (``peers_known_like``, :func:`_peers`: an office is
    there) is not busy either: an office's night shift (agents calling at 02:00, a call an
    hour or two) is no box at work, which at night makes its calls by the dozen."""
    def col(name):
        return np.nan_to_num(ev[name].to_numpy(float)) if name in ev \
            else np.zeros(len(ev))
    share = col("night_share")
    events = sum(col(c) for c in ("n_moc", "n_mtc", "n_sms_mo", "n_sms_mt", "n_data"))
    own = np.round(share * events) - col("n_mtc") - col("n_sms_mt")
    shift = (own < NIGHT_SHIFT) & (col("peers_known_like") >= 1)
    return (share >= NIGHT) & (own >= NIGHT_OWN) & ~shift


def rotation(ev: pd.DataFrame, young: np.ndarray) -> np.ndarray:
    """Per row: whether the SIM is one of two or more young SIMs of ``ev`` that passed
    through its main IMEI one after another (each first seen after the one before was
    last seen): a SIM bank's port or a modem cycling its SIMs.  SIMs in service together
    on one IMEI (a multi-SIM desk gateway reporting one IMEI) are not a rotation; nor
    are SIMs seen once each within :data:`ROTATION_GAP` of the next one (a single event
    has no span: the channels of such a gateway, each with its first call minutes apart,
    line up "one after another")."""
    return rotations(ev, young)[0]


def rotations(ev: pd.DataFrame, young: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rotation(ev, young), spanned)``: ``spanned`` per row, whether the SIM's rotation
    has a SIM seen over a span (events at two times or more), one that held the IMEI for
    a while and gave it up before the next came.  SIMs seen once each always line up one
    after another, in a SIM bank's port as in a gateway whose lines are in service
    together and each took one call or one SMS: their order alone is no evidence of a
    rotation."""
    out, spanned = np.zeros(len(ev), bool), np.zeros(len(ev), bool)
    imei = ev["main_imei"].fillna("").astype(str).to_numpy()
    sel = np.flatnonzero(young & (imei != ""))
    if len(sel) < 2:
        return out, spanned
    first = ev["first_seen"].to_numpy(float)
    last = ev["last_seen"].to_numpy(float)
    for rows in pd.Series(sel).groupby(imei[sel]).agg(list):
        if len(rows) < 2:
            continue
        rows = sorted(rows, key=lambda r: first[r])
        if all(first[b] >= last[a]
               and (last[a] > first[a] or first[b] - last[a] >= ROTATION_GAP)
               for a, b in zip(rows, rows[1:])):
            out[rows] = True
            spanned[rows] = any(last[r] > first[r] for r in rows)
    return out, spanned


def decide(ev: pd.DataFrame, before: dict, state: dict, *, network_time: int,
           threshold: float, policy: AlertPolicy) -> tuple[pd.DataFrame, dict]:
    """``(the table to alert on, the new state)`` from a drop's evidence table.

    ``before``: the flags of the last drop (:meth:`simbox.watch.store.Store.flags`;
    a SIM of it without a row in ``ev`` left the window: not held); ``state``: the
    policy's state after the last drop (``{}`` at first).  The table: the evidence
    table's rows of the confirmed new flags, the flags kept and the SIMs the hysteresis
    holds (with the class and deployment of their last alert), index the key.
    """
    t = int(network_time)
    pending, under = state.get("pending", {}), state.get("under", {})
    age = _age(ev, t)
    flagged = ev["flagged"].to_numpy(bool)
    was = ev.index.isin(list(before))
    score = np.nan_to_num(ev["score"].to_numpy(float))
    # new flags: pending until confirmed; a young SIM's model flag only from young_score
    # (young offices score over the threshold for hours; the early layer's flags keep
    # their own evidence)
    young_score = FALLBACK_YOUNG_SCORE if policy.young_score is None else policy.young_score
    thin = ~ev["early"].to_numpy(bool) & (age < policy.young_score_age) & \
        (score < young_score)
    if policy.young_hold == "office":
        thin &= office_evidence(ev, policy.office_peers)
    cand = flagged & ~was & ~thin
    since = np.array([pending.get(s, t) for s in ev.index], float)
    lasted = (t - since) >= policy.confirm
    office = office_sign(ev, age, policy)
    # a rotation yields to the sign of an office in the SIM's own calls or its evidence
    # peers' when the SIM is flagged as a SIM box (a desk gateway's agents starting one
    # after another on its one IMEI), or when each SIM of it was seen once (a gateway's
    # lines each taking one call line up as well); a card farm's rotation with a SIM that
    # held the port over a span confirms (its SIMs receive: verification calls are its
    # business)
    rotated, spanned = rotations(ev, age < policy.young)
    called = office_sign(ev, age, policy, window=False) & \
        ((ev["class"].astype(str).to_numpy() == "simbox") | ~spanned)
    confirmed = cand & (np.where(office, age >= policy.office_age, age >= policy.young)
                        | (lasted & ~office) | (rotated & ~called))
    new_pending = {s: int(v) for s, v, c in zip(ev.index, since, cand & ~confirmed) if c}
    # flags whose score fell: held while over the margin, and for clear_after under it
    # (a SIM not flagged at its score, excluded or dismissed, is cleared at once)
    fell = was & ~flagged & (score < threshold)
    low = fell & (score < threshold - policy.clear_margin)
    new_under = {s: int(under.get(s, t)) for s in ev.index[low]}
    held = fell & ~np.array([s in new_under and t - new_under[s] >= policy.clear_after
                             for s in ev.index], bool)
    if policy.clear_after <= 0:
        held &= ~low
    out = ev.loc[confirmed | (flagged & was) | held].copy()
    if held.any():
        keep = out.index.isin(ev.index[held])
        out.loc[keep, "class"] = [before[s][0] for s in out.index[keep]]
        out.loc[keep, "deployment_id"] = [before[s][3] for s in out.index[keep]]
    out["first_seen"] = pd.to_datetime(out["first_seen"], unit="s", utc=True)
    return out, {"pending": new_pending,
                 "under": {s: v for s, v in new_under.items() if s in set(out.index)}}
