"""Reading the history store's flags (schema 2): a scan's batch, one SIM's rows.

:class:`FlagReads` is the part of :class:`~simbox.feedback.history.HistoryStore` that
reads ``flag_batches`` (:mod:`simbox.feedback.flagbatch`) with ``sims`` and
``deployments``: what schema 1 asked of its ``flags`` table in SQL.  A SIM's rows are
found by a binary search of each batch's sorted keys from the SIM's first scan on (a few
BLOB reads each, through the store's memory mapping).
"""
from __future__ import annotations

import json
import os

import pandas as pd

from simbox.feedback.flagbatch import COLUMNS, Batch, fixed_texts, texts_of

__all__ = ["FlagReads"]


class FlagReads:
    """Reads of the flags; ``self.db``: the store's connection."""

    def _batch(self, scan_id: int) -> Batch:
        """A scan's flags (:class:`~simbox.feedback.flagbatch.Batch`), read as needed."""
        return Batch(scan_id, lambda column: self.db.blobopen("flag_batches", column, scan_id,
                                                               readonly=True),
                     where=os.fspath(self.path))

    def _batches(self, since: int, *, newest_first: bool = False, at_or_after=None) -> list:
        """The scans with flags from scan ``since`` on (and scanned at or after
        ``at_or_after``), in scan order or newest first."""
        sql = "SELECT b.scan_id FROM flag_batches b"
        args = [since]
        if at_or_after is not None:
            sql += " JOIN scans s USING (scan_id) WHERE s.scanned_at >= ? AND"
            args.insert(0, at_or_after)
        else:
            sql += " WHERE"
        sql += f" b.scan_id >= ? ORDER BY b.scan_id {'DESC' if newest_first else ''}"
        return [r[0] for r in self.db.execute(sql, args)]

    def _first_scans(self, sims) -> dict:
        """Each SIM the store holds: its first scan."""
        return dict(self.db.execute("SELECT s.sim, s.first_scan FROM json_each(?) j JOIN sims s "
                                    "ON s.sim = j.value", (json.dumps(sorted(sims)),)))

    def _last_flags(self, sims) -> dict:
        """Each SIM's (score, class) in the latest scan holding it (flagged or excluded);
        SIMs no scan holds are left out."""
        first = self._first_scans(sims)
        out: dict = {}
        if not first:
            return out
        todo = sorted(first)
        for scan_id in self._batches(min(first.values()), newest_first=True):
            batch = self._batch(scan_id)
            rows = batch.find(fixed_texts(todo))
            hit = rows >= 0
            if hit.any():
                found = [s for s, h in zip(todo, hit.tolist()) if h]
                scores = batch.score(rows[hit]).tolist()
                classes = batch.texts("class", rows[hit])
                for sim, score, cls in zip(found, scores, classes):
                    out[sim] = (None if score != score else score, cls)
                todo = [s for s, h in zip(todo, hit.tolist()) if not h]
            if not todo:
                break
        return out

    def _first_score_after(self, sim: str, at: str):
        """A SIM's score in the first scan holding it scanned at or after ``at`` (None:
        none, or no score)."""
        first = self._first_scans([sim])
        if not first:
            return None
        wanted = fixed_texts([sim])
        for scan_id in self._batches(first[sim], at_or_after=at):
            batch = self._batch(scan_id)
            row = batch.find(wanted)[0]
            if row >= 0:
                s = float(batch.score([row])[0])
                return None if s != s else s
        return None

    def _sim_flags(self, sim: str) -> list:
        """A SIM's flags in scan order: (scan_id, the batch's row as a dict of lists)."""
        first = self._first_scans([sim])
        out = []
        if first:
            wanted = fixed_texts([sim])
            for scan_id in self._batches(first[sim]):
                batch = self._batch(scan_id)
                row = batch.find(wanted)[0]
                if row >= 0:
                    out.append((scan_id, batch.rows([row])))
        return out

    def _sims_by_msisdn(self, msisdns) -> dict:
        """The SIMs flagged (or excluded) with each MSISDN, in key order (as schema 1's
        ``SELECT DISTINCT sim FROM flags WHERE msisdn=?`` walking its index on sim)."""
        out: dict = {m: set() for m in msisdns}
        if not out:
            return {}
        for scan_id in self._batches(0):
            batch = self._batch(scan_id)
            rows = batch.rows_with("msisdn", out)
            if len(rows):
                for sim, m in zip(texts_of(batch.sims[rows]), batch.texts("msisdn", rows)):
                    out[m].add(sim)
        return {m: sorted(sims) for m, sims in out.items()}

    def flags(self, scan=None) -> pd.DataFrame:
        """Every flag kept (one scan's: ``scan``): the rows of schema 1's ``flags`` table,
        ``scan_id, sim, msisdn, class, score, deployment_id, status, excluded_by,
        exclusion_reason``, by scan then key."""
        ids = [r[0] for r in self.db.execute(
            "SELECT scan_id FROM flag_batches" + (" WHERE scan_id=?" if scan is not None else "")
            + " ORDER BY scan_id", () if scan is None else (scan,))]
        parts = []
        for scan_id in ids:
            rows = self._batch(scan_id).rows()
            frame = pd.DataFrame({"scan_id": scan_id, **{c: pd.Series(rows[c], dtype=object)
                                                         for c in COLUMNS}})
            parts.append(frame.sort_values("sim", kind="stable"))
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in ("scan_id",) + COLUMNS})
        out = pd.concat(parts, ignore_index=True)
        out["score"] = out["score"].astype(float)
        return out
