"""The history store: what simbox learnt about each SIM across scans (SQLite).

One SQLite file (WAL journal: readers never block the writer; every write one
``BEGIN IMMEDIATE`` transaction, waiting up to :data:`BUSY_TIMEOUT_S` for another
writer) holds (schema 2, :mod:`simbox.feedback.history_schema`; a store of schema 1 is
migrated when opened):

- ``scans``: one row per recorded scan (or watch alert batch): when, model, threshold;
- ``flag_batches``: per scan, one row holding each flagged SIM (score, class,
  deployment, status) and each SIM that would have been flagged but was excluded
  (``excluded_by``) as arrays (:mod:`simbox.feedback.flagbatch`); ``sims``: each SIM
  ever recorded, its first scan and since when it is flagged; ``deployments``: the scans
  holding each deployment id.  Scores over time, first and last flagged, exclusions hit;
- ``verdicts``: analysts' verdicts (:mod:`simbox.feedback.verdicts`), with the SIM's
  score when the verdict was imported (a dismissed SIM is alerted again only when its
  score rises :data:`DISMISS_MARGIN` above that);
- ``testcalls``: SIMs caught terminating a test call (:mod:`simbox.feedback.testcalls`).

Where: ``--history PATH``, else the environment variable ``SIMBOX_HISTORY``, else
``$XDG_DATA_HOME/simbox/history.sqlite`` (``~/.local/share/simbox/history.sqlite``).
A team shares one store by pointing ``SIMBOX_HISTORY`` at a shared path (a local or
NFS-safe disk: SQLite's WAL needs the writers on one machine).

A flagged SIM's ``status`` in ``flagged.csv``: ``new`` (never flagged before),
``known`` (flagged by an earlier scan), ``confirmed`` / ``seized`` (its latest verdict),
``re-alerted`` (dismissed, and its score rose by the margin since).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from simbox.background import Background
from simbox.errors import ConfigError, InputError
from simbox.feedback import DISMISS_MARGIN
from simbox.feedback.exclusions import EXCLUDED_COLUMNS
from simbox.feedback.flagbatch import json_texts, texts_of
from simbox.feedback.flagreads import FlagReads
from simbox.feedback.history_schema import (SCHEMA, SCHEMA_VERSION, batch_blobs, factorized,
                                            migrate, sorted_sims, write_batch)

__all__ = ["HistoryStore", "default_history_path", "open_history", "DISMISS_MARGIN",
           "STATUSES", "SCHEMA_VERSION"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 60.0
MMAP_BYTES = 1 << 31         # (SQLite maps 2 GB at most)
STATUSES = ("new", "known", "confirmed", "seized", "re-alerted")
#: a flagged SIM's status from its latest verdict (other verdicts: new or known)
VERDICT_STATUS = {"confirmed": "confirmed", "seized": "seized", "dismissed": "re-alerted"}
ENV = "SIMBOX_HISTORY"
#: a flag's status codes in a scan's batch (the excluded SIMs: the last)
_STATUS_WORDS = STATUSES + ("excluded",)
_FLAG_FRAME = ["scan", "scanned_at", "kind", "score", "class", "deployment_id", "status",
               "excluded_by", "exclusion_reason", "msisdn"]


def default_history_path() -> Path:
    """``SIMBOX_HISTORY``, else ``$XDG_DATA_HOME/simbox/history.sqlite``."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                           "share")
    return Path(base) / "simbox" / "history.sqlite"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class HistoryStore(FlagReads):
    """A history store file (created on first use).  Use as a context manager or
    :meth:`close` it."""

    def __init__(self, path, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InputError(f"{self.path}: no such history store (a scan with --history "
                             "creates one)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # (record_scan may finish its transaction in a thread of its own: one at a time)
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # a scan's flags are a BLOB of some MB: read through a mapping, one of its pages
            # is a memory access, not a read() (a SIM's history: 7 times faster)
            self.db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            with self.transaction():
                self._schema()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a usable history store ({exc})") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open the history store "
                             f"({exc.strerror or exc})") from None

    def _schema(self) -> None:
        """Create the tables of a new store, migrate one of schema 1 (one transaction with
        the caller's), refuse one of a newer simbox."""
        has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                                   "name='meta'").fetchone()
        row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() \
            if has_meta else None
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise ConfigError(f"{self.path}: a history store of a newer simbox (schema "
                              f"{row[0]}, this simbox reads {SCHEMA_VERSION}); upgrade "
                              "simbox")
        for stmt in SCHEMA.split(";"):
            if stmt.strip():
                self.db.execute(stmt)
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) < SCHEMA_VERSION:
            migrate(self.db, self.path)

    def close(self) -> None:
        """Close the store, after the insert :meth:`record_scan` left running (its failure
        logged here: the caller that did not :meth:`finish` is failing already)."""
        try:
            self.finish()
        except Exception as exc:
            log.warning("%s: the scan was not recorded (%s)", self.path, exc)
        finally:
            self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextlib.contextmanager
    def transaction(self):
        """One write transaction (``BEGIN IMMEDIATE``: the write lock at once, so two
        scans recording at the same time take turns instead of failing)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _keys(self, keys) -> None:
        """Fill the temporary table ``k`` with ``keys`` (inside a transaction or read)."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS k (sim TEXT PRIMARY KEY)")
        self.db.execute("DELETE FROM k")
        # one statement over a JSON array (no Python call per key), in key order: the
        # primary key's B-tree is filled left to right (a third faster)
        self.db.execute("INSERT OR IGNORE INTO k SELECT value FROM json_each(?) ORDER BY value",
                        (json.dumps(list(map(str, keys))),))

    def _latest_verdicts(self) -> pd.DataFrame:
        """The latest verdict of each SIM of ``k``: sim, verdict, day, case_id, score, imported_at."""
        return pd.read_sql_query(
            "SELECT v.sim, v.verdict, v.day, v.case_id, v.score, v.imported_at FROM verdicts v "
            "JOIN k USING (sim) WHERE v.verdict_id = (SELECT w.verdict_id FROM verdicts w "
            "WHERE w.sim = v.sim ORDER BY w.day DESC, w.verdict_id DESC LIMIT 1)",
            self.db).set_index("sim")

    # -- a scan -----------------------------------------------------------------------

    def dismissed(self, scores: pd.Series, *, margin: float = DISMISS_MARGIN) -> pd.DataFrame:
        """The SIMs of ``scores`` (index: key, values: this scan's scores) that an analyst
        dismissed and whose score has not risen ``margin`` above their score when
        dismissed: indexed by key, with :data:`EXCLUDED_COLUMNS` (for
        :func:`simbox.scan.assemble`'s ``exclude``).  A SIM dismissed before it was ever
        scored is measured against its first score after the verdict."""
        if not 0.0 <= margin <= 1.0:
            raise ConfigError(f"dismiss margin must be within [0, 1], not {margin}")
        if self.db.execute("SELECT 1 FROM verdicts WHERE verdict = 'dismissed' LIMIT 1"
                           ).fetchone() is None:        # none ever: no SIM to look up
            return pd.DataFrame(columns=EXCLUDED_COLUMNS, index=pd.Index([], dtype=object))
        with self.transaction():
            self._keys(scores.index)
            v = self._latest_verdicts()
            v = v[v["verdict"] == "dismissed"]
            first_after = {}
            if len(v) and v["score"].isna().any():
                for sim, at in v.loc[v["score"].isna(), "imported_at"].items():
                    first_after[sim] = self._first_score_after(sim, at)
        if not len(v):
            return pd.DataFrame(columns=EXCLUDED_COLUMNS, index=pd.Index([], dtype=object))
        ref = v["score"].copy()
        for sim, s in first_after.items():
            ref[sim] = s if s is not None else float(scores[sim])
        # scores are stored (and shown) to 4 decimals: compare at that precision, or a
        # score of 0.99996 would stay below the 1.0 it was dismissed at
        now = scores.reindex(v.index).astype(float).round(4)
        keep = now < ref.astype(float) + margin - 1e-12
        v, ref, now = v[keep], ref[keep], now[keep]
        return pd.DataFrame({
            "excluded_by": "verdict:dismissed",
            "exclusion_reason": [f"dismissed on {d} (case {c}); score {s:.4f} has not risen "
                                 f"{margin:g} above {r:.4f}"
                                 for d, c, s, r in zip(v["day"], v["case_id"], now, ref)],
            "exclusion_owner": "analyst", "exclusion_expires": "",
            "exclusion_line": pd.Series([np.nan] * len(v), dtype=object, index=v.index)},
            index=v.index)

    def record_scan(self, result, *, kind: str = "scan", out=None, wait: bool = True) -> int:
        """Record a :class:`~simbox.scan.ScanResult` (its flagged and excluded SIMs) in one
        transaction; fill its flagged table's ``first_flagged`` and ``status`` and its
        summary's ``history``.  Returns the scan's number.

        The scan's flags are one row of ``flag_batches``; ``sims`` says, for each SIM, since
        when it is flagged (one B-tree lookup per SIM of the scan; a new SIM is inserted).
        ``wait=False``: the inserts, and the commit, run in a thread (SQLite releases the
        GIL: beside the writing of the scan's files); :meth:`finish` waits for it and raises
        what failed (nothing of the scan is then kept).  The store is not to be used before
        :meth:`finish`."""
        self.finish()
        summary = result.summary
        key = summary.get("key_column", "imsi")
        flagged, excluded = _flag_columns(result, key)
        n = len(flagged["sim"])
        at = summary.get("scanned_at") or _now()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute(
                "INSERT INTO scans (scanned_at, kind, out, model, threshold, key_column, data_from,"
                " data_to, sims, flagged, excluded) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (at, kind, None if out is None else os.fspath(out), summary.get("model"),
                 summary.get("threshold"), key, summary.get("first_seen"),
                 summary.get("last_seen"), summary.get("sims"), n,
                 0 if excluded is None else len(excluded["sim"])))
            scan_id = cur.lastrowid
            sims = _rows(flagged, excluded, "sim")
            fixed, order = sorted_sims(sims, str(self.path))
            held, first, scanned = self._held(fixed)
            never = first < 0
            is_flagged = order < n
            unsorted = np.empty(len(order), dtype=np.intp)
            unsorted[order] = np.arange(len(order))
            mine = unsorted[:n]                          # each flagged row's sorted position
            status = np.where(never[mine], 0, 1).astype(np.int8)       # new, known
            if self.db.execute("SELECT EXISTS (SELECT 1 FROM verdicts)").fetchone()[0]:
                self._keys(np.asarray(flagged["sim"], dtype=object))
                verdicts = self._latest_verdicts()["verdict"]
                words = verdicts[verdicts.isin(list(VERDICT_STATUS))].map(VERDICT_STATUS)
                if len(words):
                    status[pd.Index(np.asarray(flagged["sim"], dtype=object)).get_indexer(
                        words.index)] = [_STATUS_WORDS.index(w) for w in words]
            # each flagged row's first flag: this scan's time when none before (codes, texts)
            first_codes, ids = pd.factorize(np.where(never[mine], -1, first[mine]))
            first_flagged = (first_codes, [at if i < 0 else scanned[i] for i in ids.tolist()])
            # SIMs flagged now whose first flag is later than this scan (or none): this scan
            scan_of, ids = pd.factorize(first)
            after = np.array([i < 0 or scanned[i] > at for i in ids.tolist()], dtype=bool)
            later = held & is_flagged & after[scan_of]
            statuses = status if excluded is None else np.concatenate(
                [status, np.full(len(fixed) - n, len(STATUSES), np.int8)])
            # (the batch's BLOBs and the new SIMs' JSON are made by the insert's thread)
            insert = _insert_scan(self.db, scan_id, fixed, order, flagged, excluded, statuses,
                                  ~held, is_flagged, later)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        if wait:
            insert()
        else:
            self._pending = Background(insert, "simbox-history-insert")
        _set_history_columns(result, first_flagged, status)
        counts = np.bincount(status, minlength=len(STATUSES))
        summary["history"] = {"store": os.fspath(self.path), "scan": scan_id,
                              "status": {s: int(counts[i]) for i, s in enumerate(STATUSES)
                                         if counts[i]}}
        return scan_id

    def _held(self, fixed) -> tuple:
        """Of a scan's SIMs (sorted, :func:`~simbox.feedback.flagbatch.fixed_texts`), those
        the store holds (a mask), each one's earliest flag's scan (-1: only excluded so far,
        or not held) and the times of those scans (scan -> ``scanned_at``).  One lookup a SIM
        in ``sims``, in key order (its B-tree walked left to right)."""
        held = np.zeros(len(fixed), dtype=bool)
        first = np.full(len(fixed), -1, dtype=np.int64)
        scanned = {}
        if self.db.execute("SELECT EXISTS (SELECT 1 FROM sims)").fetchone()[0]:
            rows, first_scans = map(json.loads, self.db.execute(
                "SELECT json_group_array(j.key), json_group_array(s.first_flagged) FROM "
                "json_each(?) j JOIN sims s ON s.sim = j.value", (json_texts(fixed),)).fetchone())
            if rows:
                scanned = dict(self.db.execute("SELECT scan_id, scanned_at FROM scans"))
                rows = np.asarray(rows, dtype=np.intp)
                held[rows] = True
                first[rows] = [-1 if f is None else f for f in first_scans]
        return held, first, scanned

    def finish(self) -> None:
        """Wait for the flags :meth:`record_scan` (``wait=False``) is inserting; raises what
        failed there (the scan's transaction then rolled back)."""
        pending, self._pending = getattr(self, "_pending", None), None
        if pending is not None:
            pending.get()

    # -- verdicts ---------------------------------------------------------------------

    def import_verdicts(self, verdicts, *, source: str = "") -> dict:
        """Keep checked verdicts (:func:`simbox.feedback.verdicts.read_verdicts`) in one
        transaction.  A deployment verdict applies to the SIMs of that deployment in the
        latest scan holding it (or the row's ``scan``); one naming no recorded deployment
        is an error (nothing imported).  A SIM never flagged is kept too, and counted
        (``unknown``): a seizure may find SIMs no scan flagged.  The same verdict twice
        (SIM, verdict, date, case) is kept once."""
        now = _now()
        counts = {"rows": len(verdicts), "sims": 0, "new": 0, "repeated": 0, "unknown": 0,
                  "unknown_examples": []}
        with self.transaction():
            by_msisdn = self._sims_by_msisdn({v.value for v in verdicts
                                              if v.key_column == "msisdn"})
            plan = []
            for v in verdicts:
                if v.key_column == "deployment_id":
                    sims = self._deployment_sims(v, source)
                elif v.key_column == "msisdn":
                    sims = [(s, None) for s in by_msisdn.get(v.value, [])] or [(v.value, None)]
                else:
                    sims = [(v.value, None)]
                plan.append((v, sims))
            latest = self._last_flags({sim for _, sims in plan for sim, _ in sims})
            for v, sims in plan:
                for sim, scan_id in sims:
                    last = latest.get(sim)
                    if last is None:
                        counts["unknown"] += 1
                        if len(counts["unknown_examples"]) < 3:
                            counts["unknown_examples"].append(f"{source}:{v.line}: {sim}")
                    cur = self.db.execute(
                        "INSERT OR IGNORE INTO verdicts (sim, verdict, day, case_id, note, label,"
                        " deployment_id, scan_id, score, source, line, imported_at) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (sim, v.verdict, v.day, v.case_id, v.note,
                         v.label or (last[1] if last and last[1] in ("simbox", "cardfarm") else ""),
                         v.value if v.key_column == "deployment_id" else None, scan_id,
                         last[0] if last else None, source, v.line, now))
                    counts["sims"] += 1
                    counts["new" if cur.rowcount else "repeated"] += 1
        if counts["unknown"]:
            log.warning("%d verdict(s) name a SIM no recorded scan flagged (e.g. %s); kept: "
                        "they become labels when they say confirmed or seized with a label",
                        counts["unknown"], counts["unknown_examples"][0])
        return counts

    def _deployment_sims(self, v, source) -> list:
        """The SIMs (key order) of a deployment verdict's deployment, with their scan."""
        if v.scan is not None:
            scan = self.db.execute("SELECT scan_id FROM deployments WHERE deployment_id=? AND "
                                   "scan_id=?", (v.value, v.scan)).fetchone()
        else:
            scan = self.db.execute("SELECT MAX(scan_id) FROM deployments WHERE deployment_id=?",
                                   (v.value,)).fetchone()
        if not scan or scan[0] is None:
            where = f" in scan {v.scan}" if v.scan is not None else ""
            raise InputError(f"{source}:{v.line}: field 'deployment_id': no recorded scan has "
                             f"deployment {v.value}{where}; name its SIMs instead (nothing "
                             "imported)")
        batch = self._batch(scan[0])
        return [(sim, scan[0]) for sim in sorted(texts_of(
            batch.sims[batch.rows_with("deployment_id", [v.value])]))]

    # -- test calls -------------------------------------------------------------------

    def record_testcalls(self, matched: pd.DataFrame, *, key: str = "imsi",
                         source: str = "") -> dict:
        """Keep matched test calls (:func:`simbox.feedback.testcalls.match_testcalls`'s
        ``matched``); a test id already kept is not kept again."""
        now = _now()
        new = 0
        with self.transaction():
            for r in matched.to_dict(orient="records"):
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO testcalls VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (str(r["test_id"]), str(r[key]), _text(r.get("msisdn")),
                     _text(r.get("campaign")), str(r["case_id"]), _text(r.get("cdr_time")),
                     _text(r.get("matched_by")), _text(r.get("evidence")), source, now))
                new += cur.rowcount
        return {"matched": int(len(matched)), "new": int(new),
                "already_kept": int(len(matched) - new)}

    # -- reading ----------------------------------------------------------------------

    def sim_record(self, sim: str) -> dict:
        """Everything kept about one SIM (its key, or an MSISDN it was flagged with)."""
        sim = str(sim)
        q = lambda sql, k: pd.read_sql_query(sql, self.db, params=(k,))  # noqa: E731
        scans = {r[0]: r[1:] for r in self.db.execute("SELECT scan_id, scanned_at, kind FROM scans")}
        others = None
        k = sim
        while True:
            flags = pd.DataFrame.from_records(
                [(scan_id, *scans[scan_id], row["score"][0], row["class"][0],
                  row["deployment_id"][0], row["status"][0], row["excluded_by"][0],
                  row["exclusion_reason"][0], row["msisdn"][0])
                 for scan_id, row in self._sim_flags(k)], columns=_FLAG_FRAME, coerce_float=True)
            verdicts = q("SELECT day, verdict, case_id, label, note, score AS score_then, "
                         "deployment_id, source, line FROM verdicts WHERE sim=? "
                         "ORDER BY day, verdict_id", k)
            tests = q("SELECT test_id, call_time, case_id, matched_by, evidence FROM testcalls "
                      "WHERE sim=? ORDER BY call_time", k)
            if len(flags) or len(verdicts) or len(tests):
                break
            if others is None:          # not a SIM of the store: an MSISDN it was flagged with?
                others = [s for s in self._sims_by_msisdn([sim])[sim] if s != sim]
            if not others:
                raise InputError(f"{sim}: no such SIM in the history store {self.path} (never "
                                 "flagged, no verdict, no test call)")
            k = others.pop(0)
        flagged = flags[flags["status"] != "excluded"]
        return {"sim": k, "msisdn": next((m for m in flags["msisdn"] if m), ""),
                "first_flagged": flagged["scanned_at"].min() if len(flagged) else None,
                "last_flagged": flagged["scanned_at"].max() if len(flagged) else None,
                "times_flagged": int(len(flagged)),
                "times_excluded": int((flags["status"] == "excluded").sum()),
                "flags": flags.drop(columns="msisdn"), "verdicts": verdicts, "testcalls": tests}

    def labels(self) -> pd.DataFrame:
        """Label rows from test calls and verdicts: ``imsi, label, case_id, provenance,
        evidence`` (``provenance``: ``testcall``, ``verdict`` or ``seizure``).  A SIM's
        latest verdict wins; a dismissed one gives no label; a confirmed or seized verdict
        without a label (a SIM never flagged, no label column) gives none, and is counted
        in ``attrs["unlabelled_verdicts"]``."""
        tests = pd.read_sql_query(
            "SELECT sim AS imsi, 'simbox' AS label, case_id, 'testcall' AS provenance, "
            "'test call ' || test_id || ' at ' || COALESCE(call_time, '?') || ' ('"
            " || COALESCE(matched_by, '') || ')' AS evidence FROM testcalls ORDER BY sim, call_time",
            self.db)
        verdicts = pd.read_sql_query(
            "SELECT v.sim AS imsi, v.label, v.case_id, CASE v.verdict WHEN 'seized' THEN "
            "'seizure' ELSE 'verdict' END AS provenance, v.verdict || ' on ' || v.day || "
            "CASE WHEN COALESCE(v.note, '') != '' THEN ': ' || v.note ELSE '' END AS evidence "
            "FROM verdicts v WHERE v.verdict_id = (SELECT w.verdict_id FROM verdicts w "
            "WHERE w.sim = v.sim ORDER BY w.day DESC, w.verdict_id DESC LIMIT 1) "
            "AND v.verdict != 'dismissed' ORDER BY v.sim", self.db)
        dismissed = {r[0] for r in self.db.execute(
            "SELECT v.sim FROM verdicts v WHERE v.verdict='dismissed' AND v.verdict_id = "
            "(SELECT w.verdict_id FROM verdicts w WHERE w.sim = v.sim ORDER BY w.day DESC, "
            "w.verdict_id DESC LIMIT 1)")}
        unlabelled = int((verdicts["label"].fillna("") == "").sum())
        verdicts = verdicts[verdicts["label"].fillna("") != ""]
        # a SIM a test call caught and an analyst later dismissed is not a label
        tests = tests[~tests["imsi"].isin(dismissed)]
        out = pd.concat([verdicts, tests], ignore_index=True)
        out = out.drop_duplicates("imsi", keep="first").sort_values(
            ["provenance", "case_id", "imsi"], kind="stable").reset_index(drop=True)
        out.attrs["unlabelled_verdicts"] = unlabelled
        return out

    def summary(self) -> dict:
        one = lambda sql: self.db.execute(sql).fetchone()[0]  # noqa: E731
        return {"store": os.fspath(self.path), "scans": one("SELECT COUNT(*) FROM scans"),
                "sims_flagged": one("SELECT COUNT(*) FROM sims WHERE first_flagged IS NOT NULL"),
                "verdicts": one("SELECT COUNT(*) FROM verdicts"),
                "testcalls": one("SELECT COUNT(*) FROM testcalls")}


def _text(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(v)


def _texts(values: pd.Series) -> list:
    """:func:`_text` of each value of a column, in one pass (strings as they are; a text
    column's values straight from its array, missing ones None)."""
    if isinstance(values.dtype, pd.StringDtype):
        return values.to_numpy(dtype=object, na_value=None).tolist()
    return [x if type(x) is str else _text(x) for x in values.tolist()]


def _flag_columns(result, key: str) -> tuple:
    """What :meth:`HistoryStore.record_scan` reads of a scan's result: its flagged rows and
    its excluded ones (None: none), each a dict of arrays (numpy, or pandas' Arrow string
    arrays as the table holds them): ``sim`` (the key, str), ``msisdn``, ``class``,
    ``deployment_id`` (str, missing: None or NaN), ``score`` (float64; NaN: none); the
    excluded ones also ``excluded_by`` and ``exclusion_reason``."""
    flagged, excluded = result.flagged, result.excluded

    def texts(values):
        return values.array if isinstance(values.dtype, pd.StringDtype) else \
            _object_array(_texts(values))
    out = {"sim": texts(flagged[key].astype(str)),
           "score": flagged["score"].to_numpy(dtype=np.float64)}
    for name in ("msisdn", "class", "deployment_id"):
        out[name] = texts(flagged[name])
    if excluded is None or not len(excluded):
        return out, None
    ex = {"sim": texts(excluded[key].astype(str)),
          "score": excluded["score"].to_numpy(dtype=np.float64)}
    for name in ("msisdn", "class", "excluded_by", "exclusion_reason"):
        ex[name] = texts(excluded[name])
    return out, ex


def _set_history_columns(result, first_flagged: tuple, status: np.ndarray) -> None:
    """What :meth:`HistoryStore.record_scan` writes into a scan's result: each flagged
    row's ``first_flagged`` (codes into ISO texts, as UTC times) and ``status`` (codes into
    :data:`STATUSES`, as texts): each distinct value made once, then taken per row."""
    flagged = result.flagged
    codes, texts = first_flagged
    if len(flagged):
        flagged["first_flagged"] = pd.to_datetime(pd.Series(texts, dtype=object),
                                                  utc=True).array.take(codes)
    else:
        flagged["first_flagged"] = pd.Series(dtype="datetime64[ns, UTC]")
    # (the texts as pandas makes them of a list, from the words: no text per row)
    flagged["status"] = pd.array(list(STATUSES), dtype="str").take(status) if len(status) \
        else []


def _rows(flagged: dict, excluded: dict | None, name: str):
    """A column of the flagged rows then the excluded ones (a column they lack: None;
    deployments: the excluded SIMs are in none)."""
    def col(part, n):
        if name in part and not (part is excluded and name == "deployment_id"):
            return part[name]
        return np.full(n, None, dtype=object)
    n = len(flagged["sim"])
    if excluded is None:
        return col(flagged, n)
    parts = [col(flagged, n), col(excluded, len(excluded["sim"]))]
    if name == "score":
        return np.concatenate(parts)
    # texts as objects, missing ones None (as pandas' NaN of an Arrow string array)
    return np.concatenate([np.asarray(p, dtype=object) for p in parts])


def _object_array(values: list) -> np.ndarray:
    """A list as a 1-d object array (its items as they are)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _insert_scan(db, scan_id: int, fixed: np.ndarray, order: np.ndarray, flagged: dict,
                 excluded: dict | None, status: np.ndarray, new: np.ndarray,
                 is_flagged: np.ndarray, later: np.ndarray):
    """A callable that writes a scan's flags (after its ``scans`` row) and commits (rolls
    back and raises on failure): its batch (:func:`batch_blobs` of the sorted keys ``fixed``,
    ``order`` and the columns of ``flagged`` and ``excluded``, :func:`_flag_columns`; the
    ``status`` codes), its deployments, the SIMs new to the store (``new``, a mask of
    ``fixed``: JSON arrays in key order, ``sims``' B-tree filled left to right), flagged (first
    flagged now) or excluded (not flagged yet), and ``later``: SIMs held whose first flag is
    now this scan.  Nothing here is needed by the scan's files: a scan runs it in a thread
    beside their writing."""
    def work():
        texts = {name: factorized(_rows(flagged, excluded, name), distinct=name == "msisdn")
                 for name in ("msisdn", "class", "deployment_id", "excluded_by",
                              "exclusion_reason")}
        texts["status"] = (status, _STATUS_WORDS)
        if len(fixed):
            write_batch(db, scan_id, len(fixed),
                        batch_blobs(fixed, order, _rows(flagged, excluded, "score"), texts))
        db.executemany("INSERT INTO deployments VALUES (?, ?)",
                       [(d, scan_id) for d in sorted(map(str, texts["deployment_id"][1]))])
        for sims, first in ((json_texts(fixed[new & is_flagged]), scan_id),
                            (json_texts(fixed[new & ~is_flagged]), None)):
            if sims != "[]":
                db.execute("INSERT INTO sims SELECT value, ?, ? FROM json_each(?)",
                           (first, scan_id, sims))
        if later.any():
            db.execute("UPDATE sims SET first_flagged = ? WHERE sim IN (SELECT value FROM "
                       "json_each(?))", (scan_id, json_texts(fixed[later])))

    return lambda: _commit(db, work)


def _commit(db, work) -> None:
    """``work()`` then COMMIT; ROLLBACK and raise when either fails."""
    try:
        work()
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def open_history(history, *, create: bool = True) -> HistoryStore | None:
    """A store from a ``history`` option: None (the default store,
    :func:`default_history_path`), a path, a :class:`HistoryStore` (used as is), or False
    (no history: None).  ``create=False``: a missing store is an error."""
    if history is False:
        return None
    if isinstance(history, HistoryStore):
        return history
    return HistoryStore(default_history_path() if history is None else history, create=create)
