"""The partials of the window's days (:class:`~simbox.watch.window.Window`, moved here
from window.py): the plan of the window's days (its first day's hours, its whole days, its
last day's hours), the partials of each whole day (made once, stored in the state folder,
read back at a restart, made again for the subscribers of a late file), the whole days
merged into one (the middle), the partials held in memory of the first day and of the last
day's closed hours, and the partials made at a commit from the rows in memory (segments).
"Incremental equals batch" in docs/watch.md gives the design; window.py the rest.
"""
from __future__ import annotations

import logging
import sqlite3

import numpy as np

from simbox.fastpath.partials import KINDS, SCALARS, Partials, combine, partials_from_rows
from simbox.fastpath.slicerows import distinct_keys

log = logging.getLogger("simbox.watch")

HOUR = 3600
DAY_HOURS = 24
#: what stored partials must have been written with to be read back
PARTIALS_LAYOUT = f"layout {len(SCALARS)} scalars {KINDS}"
#: the ``partials`` row (in place of a day) of the window's whole days merged into one
MIDDLE = -1
#: closed hours of one UTC day a commit must bring for their partials to be made at the
#: commit, from the rows in memory (a backlog, a ``--catch-up auto`` cycle); a drop of fewer
#: hours leaves them to the held closed hours and the day's slices, as before
SEGMENT_HOURS = 4


class DayPartials:
    """The day-planning and partial-making methods of :class:`Window` (a mixin: they use
    its slices, store, time zone and the state fields it declares)."""

    # -- partials made at a commit ----------------------------------------------------
    def _segment(self, hours: list) -> list:
        """``[(hours, their partials)]`` of the closed hours ``[(hour, its rows)]`` of one
        UTC day a commit wrote (every subscriber's events of those hours, from the rows in
        memory), when there are at least :data:`SEGMENT_HOURS` of them; else ``[]``."""
        if not self.merge or len(hours) < SEGMENT_HOURS:
            return []
        return [([h for h, _ in hours],
                 partials_from_rows([rows for _, rows in hours], timezone=self.tz))]

    def _whole_from_segments(self) -> None:
        """The partials of the whole days of the window that partials made at a commit
        cover (in part), made now and stored (a cycle of days of files holds no more than
        about a day of such partials in memory); their segments dropped."""
        plan = self._plan() if self.merge else None
        if plan is None:
            self.segments = []
            return
        days = {min(f) // DAY_HOURS for f, _ in self.segments} & set(plan[1])
        for d in sorted(days - set(self.days)):
            if self.saved.get(d, (None, None))[1] == self._day_inputs(d):
                continue                      # stored already: read back by the refresh
            self.days[d] = self._stored(d, self._day_from_closed(d), self._day_inputs(d))
        last = self.newest // HOUR // DAY_HOURS   # (the others' days are whole or gone)
        self.segments = [s for s in self.segments if min(s[0]) // DAY_HOURS == last]

    # -- partials of the first day and of the last day's closed hours ---------------
    def _held(self, which: str, hours: list) -> Partials:
        """The partials of every subscriber's events in ``hours`` (the window's first day's
        hours, or its last day's hours before the newest: ``which``), kept in memory
        between drops and made again only for the subscribers of the hours that changed
        since (an hour that left the window or closed, a slice a late file rewrote):
        those subscribers' partials over all of ``hours`` from the events.  So a drop
        reduces only the touched subscribers' events of the newest hour, and once a network
        hour those of the hour that expired or closed."""
        now = {h: self.slices[h] for h in hours}
        kept = self.held.get(which)
        if kept is None or not set(kept[0]) & set(now):   # (a new day: nothing to keep)
            made = self._pieces(hours)
        else:
            old, p = kept
            changed = [s for h, s in old.items() if now.get(h) is not s] + \
                [s for h, s in now.items() if old.get(h) is not s]
            if not changed:
                return p
            redo = self._all_of(changed)
            made = _splice(p, self._hours_partials(hours, redo), redo)
        self.held[which] = (now, made)
        return made

    def _hours_partials(self, hours: list, subs: np.ndarray) -> Partials:
        """The partials of the subscribers ``subs`` (sorted) of their events in ``hours``."""
        parts = []
        for _, (pieces,) in self._chunks(subs, [hours]):
            self._held_events += sum(len(p) for p in pieces)
            parts.append(partials_from_rows(pieces, timezone=self.tz))
        return Partials.concat(parts)

    @staticmethod
    def _all_of(slices) -> np.ndarray:
        return distinct_keys([s.imsi for s in slices])

    # -- partials of whole days ------------------------------------------------------
    def _plan(self):
        """(the hours of the window's first day, the whole days between its first and its
        last day, the hours of its last day), or None when there are no such whole days."""
        if self.newest is None:
            return None
        first = self.newest // HOUR - self.hours + 1
        d0, d1 = first // DAY_HOURS, self.newest // HOUR // DAY_HOURS
        if d1 - d0 < 2:
            return None
        hours = sorted(self.slices)
        return ([h for h in hours if h // DAY_HOURS == d0], tuple(range(d0 + 1, d1)),
                [h for h in hours if h // DAY_HOURS == d1])

    def _whole_days(self, days: tuple) -> list:
        """The partials of each whole day of ``days`` for every subscriber: read from the
        state when they were made from the day's slices as they are now (a restart makes
        none again), else made from the day's events (again only for the subscribers a
        late file touched) and stored.  Days that left the window are forgotten."""
        gone = [d for d in self.saved if d not in days and d != MIDDLE]
        for d in [d for d in self.days if d not in days]:
            del self.days[d]
            self.stale.pop(d, None)
        if gone:
            self._forget_stored(gone)
        for d in days:
            if d in self.days and d not in self.stale:
                continue
            inputs = self._day_inputs(d)
            if d not in self.days:
                saved = self.saved.get(d)
                if saved is not None and saved[1] == inputs:
                    self.days[d] = self.store.read_partials(saved[0])
                    continue
                made = self._day_from_closed(d)
            else:
                subs = np.array(sorted(self.stale.pop(d)), np.int64)
                made = _splice(self.days[d], self._day_partials(d, subs), subs)
            self.days[d] = self._stored(d, made, inputs)
        return [self.days[d] for d in days]

    def _middle(self, days: tuple, whole: list, stale: set) -> list:
        """The parts a drop merges for the whole days ``days`` (``whole``, theirs): their
        partials merged into one per subscriber (the *middle*), so that a drop merges four
        partials a subscriber, not one a day; kept while the days and their slices are the
        same, made again for the subscribers ``stale`` (a late file into a whole day: their
        day partials were made again), else made again from ``whole``.

        Made at the **second** refresh of a set of whole days (since session 14): the
        first refresh after midnight UTC (and after a restart) merges each touched
        subscriber's days themselves (``whole`` returned), so a cycle of files that crosses
        midnight at every refresh (a backlog, ``--catch-up auto`` under load: most
        subscribers touched) merges each day once, not twice (into the middle, then the
        middle with the rest), and never makes a middle it would not use.

        Held in memory, not stored (since session 12): writing it (0.5 GB for the 100k
        network, with its sync) took 1.5-3 s of a day's refresh, merging the stored days
        again takes about 1 s at a restart.  A middle stored by an older version is read
        back while its inputs hold, and removed once a new one is made."""
        seen, self._days_seen = self._days_seen, days
        inputs = sorted([f"day {d}" for d in days] + [x for d in days for x in self._day_inputs(d)])
        if self.middle is not None and self.middle[0] == inputs:
            return [self.middle[2]]
        saved = self.saved.get(MIDDLE)
        if saved is not None and saved[1] == inputs:
            made = self.store.read_partials(saved[0])
            self.middle = (inputs, days, made)
            return [made]
        if self.middle is not None and self.middle[1] == days and stale:
            subs = np.array(sorted(stale), np.int64)
            made = _splice(self.middle[2], combine([(p, p.rows_of(subs)) for p in whole]), subs)
        elif days != seen:                  # the first refresh of these days: no middle yet
            self.middle = None
            return list(whole)
        else:
            made = combine(whole)
        if saved is not None:
            self._forget_stored([MIDDLE])
        self.middle = (inputs, days, made)
        return [made]

    def _forget_stored(self, days: list) -> None:
        """Stored partials of ``days`` dropped from the state (logged if it cannot be
        written: they are not used while their inputs differ)."""
        try:
            self.store.drop_partials(days)
        except (OSError, sqlite3.Error) as exc:
            log.warning("stored partials of %s not removed (%s)", days, exc)
            return
        for d in days:
            self.saved.pop(d, None)

    def _stored(self, day: int, made: Partials, inputs: list) -> Partials:
        """``made`` written to the state as the partials of ``day``, and read back
        memory-mapped; kept in memory (and made again after a restart) when the state
        cannot be written (a full disk: logged)."""
        name = None
        try:
            name = self.store.write_partials(day, made)
            self.store.record_partials(day, name, inputs)
        except (OSError, sqlite3.Error) as exc:
            if name is not None:
                self.store.remove_partials([name])
            log.warning("the partials of day %s are not stored (%s); they stay in memory",
                        day, exc, extra={"fields": {"event": "partials_not_stored",
                                                    "error": str(exc)}})
            return made
        self.saved = self.store.partials()
        return self.store.read_partials(name)

    def _day_from_closed(self, day: int) -> Partials:
        """The partials of a day that just became whole, from the partials already made
        of runs of its hours (:meth:`_pieces`): the held partials of its closed hours
        (``Window.held["closed"]``, of the last refresh: a drop past midnight UTC) and
        those made at the commits of a backlog or a cycle of files (``Window.segments``),
        merged with the partials of its other hours, made from their events; with none of
        those, all of the day from its events.  So a day of files reduces each event
        about once, and a cycle of days of files reduces each at its commit, from the
        rows in memory, not read back from the slices."""
        hours = [h for h in sorted(self.slices) if h // DAY_HOURS == day]
        return self._pieces(hours) if self._sources(hours) else self._day_partials(day)

    def _sources(self, hours: list) -> dict:
        """The partials already made of runs of ``hours`` (sorted, consecutive hours of the
        window), by their first hour: ``{hour: [(its hours, Partials)]}``, each made from
        the slices as they are now (the held closed hours, the segments of commits)."""
        found = {}
        kept = self.held.get("closed")
        runs = [({h: s.name for h, s in kept[0].items()}, kept[1])] if kept and kept[0] else []
        at = {h: i for i, h in enumerate(hours)}
        for files, p in runs + self.segments:
            hs = sorted(files)
            i = at.get(hs[0])
            if i is not None and hours[i:i + len(hs)] == hs and self._current(files):
                found.setdefault(hs[0], []).append((hs, p))
        return found

    def _pieces(self, hours: list) -> Partials:
        """Every subscriber's partials of its events in ``hours`` (sorted): the partials
        already made of runs of them (:meth:`_sources`: the longest at each hour), the
        hours between reduced from their slices, merged in time order."""
        found, parts, rest, i = self._sources(hours), [], [], 0

        def reduced(rest):                  # the hours between, from their slices
            return [self._hours_partials(rest, self._all_of(self.slices[h] for h in rest))] \
                if rest else []
        while i < len(hours):
            runs = found.get(hours[i])
            if not runs:
                rest.append(hours[i])
                i += 1
                continue
            hs, p = max(runs, key=lambda r: len(r[0]))
            parts += reduced(rest) + [p]
            rest = []
            i += len(hs)
        return combine(parts + reduced(rest))

    def _day_inputs(self, day: int) -> list:
        """What the partials of day ``day`` are made from: its slice files, the time zone
        and the layout of the partials."""
        return sorted([*(s.name for h, s in self.slices.items() if h // DAY_HOURS == day),
                       f"timezone {self.tz.name}", PARTIALS_LAYOUT])

    def _day_partials(self, day: int, subs: np.ndarray | None = None) -> Partials:
        """The partials of day ``day`` (its slices' events) of ``subs`` (default: all)."""
        hours = [h for h in sorted(self.slices) if h // DAY_HOURS == day]
        if subs is None:
            subs = distinct_keys([self.slices[h].imsi for h in hours])
        return Partials.concat([partials_from_rows(pieces, timezone=self.tz)
                                for _, (pieces,) in self._chunks(subs, [hours])])


def _splice(old: Partials, new: Partials, subs: np.ndarray) -> Partials:
    """``old`` with the partials of the subscribers ``subs`` replaced by ``new``'s (the
    entries copied twice, not three times: the rows taken from both in one pass)."""
    both = Partials.concat([old, new])
    rows = np.r_[np.flatnonzero(~np.isin(old.imsi, subs)), len(old) + np.arange(len(new))]
    return both.take(rows[np.argsort(both.imsi[rows], kind="stable")])
