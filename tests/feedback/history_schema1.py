# simbox/feedback/history.py as of commit 43f546a (schema 1), kept verbatim as the reference of
# tests/feedback/test_history_schema.py: schema 2 must answer every query as this code did.
# It is not part of the package; do not change it.
"""The history store: what simbox learnt about each SIM across scans (SQLite).

One SQLite file (WAL journal: readers never block the writer; every write one
``BEGIN IMMEDIATE`` transaction, waiting up to :data:`BUSY_TIMEOUT_S` for another
writer) holds:

- ``scans``: one row per recorded scan (or watch alert batch): when, model, threshold;
- ``flags``: per scan, each flagged SIM (score, class, deployment, status) and each SIM
  that would have been flagged but was excluded (``excluded_by``): scores over time,
  first and last flagged, exclusions hit;
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
import itertools
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
from simbox.fastpath.csvwrite import json_text

__all__ = ["HistoryStore", "default_history_path", "open_history", "DISMISS_MARGIN",
           "STATUSES", "SCHEMA_VERSION"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60.0
STATUSES = ("new", "known", "confirmed", "seized", "re-alerted")
#: a flagged SIM's status from its latest verdict (other verdicts: new or known)
VERDICT_STATUS = {"confirmed": "confirmed", "seized": "seized", "dismissed": "re-alerted"}
ENV = "SIMBOX_HISTORY"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans (
    scan_id INTEGER PRIMARY KEY AUTOINCREMENT,
    scanned_at TEXT NOT NULL,          -- ISO UTC
    kind TEXT NOT NULL,                -- scan, watch
    out TEXT, model TEXT, threshold REAL, key_column TEXT NOT NULL,
    data_from TEXT, data_to TEXT, sims INTEGER, flagged INTEGER, excluded INTEGER);
CREATE TABLE IF NOT EXISTS flags (
    scan_id INTEGER NOT NULL REFERENCES scans(scan_id),
    sim TEXT NOT NULL, msisdn TEXT, class TEXT, score REAL, deployment_id TEXT,
    status TEXT NOT NULL,              -- a STATUS, or excluded
    excluded_by TEXT, exclusion_reason TEXT,
    PRIMARY KEY (scan_id, sim));
CREATE INDEX IF NOT EXISTS flags_sim ON flags(sim);
CREATE TABLE IF NOT EXISTS verdicts (
    verdict_id INTEGER PRIMARY KEY AUTOINCREMENT,
    sim TEXT NOT NULL, verdict TEXT NOT NULL, day TEXT NOT NULL, case_id TEXT NOT NULL,
    note TEXT, label TEXT, deployment_id TEXT, scan_id INTEGER,
    score REAL,                        -- the SIM's last score when imported (NULL: unknown)
    source TEXT, line INTEGER, imported_at TEXT NOT NULL,
    UNIQUE (sim, verdict, day, case_id));
CREATE INDEX IF NOT EXISTS verdicts_sim ON verdicts(sim);
CREATE TABLE IF NOT EXISTS testcalls (
    test_id TEXT PRIMARY KEY, sim TEXT NOT NULL, msisdn TEXT, campaign TEXT,
    case_id TEXT NOT NULL, call_time TEXT, matched_by TEXT, evidence TEXT,
    source TEXT, imported_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS testcalls_sim ON testcalls(sim);
"""


def default_history_path() -> Path:
    """``SIMBOX_HISTORY``, else ``$XDG_DATA_HOME/simbox/history.sqlite``."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                           "share")
    return Path(base) / "simbox" / "history.sqlite"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class HistoryStore:
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
            with self.transaction():
                for stmt in SCHEMA.split(";"):
                    if stmt.strip():
                        self.db.execute(stmt)
                row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif int(row[0]) > SCHEMA_VERSION:
                    raise ConfigError(f"{self.path}: a history store of a newer simbox (schema "
                                      f"{row[0]}, this simbox reads {SCHEMA_VERSION}); upgrade "
                                      "simbox")
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a usable history store ({exc})") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open the history store "
                             f"({exc.strerror or exc})") from None

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
                    r = self.db.execute(
                        "SELECT f.score FROM flags f JOIN scans s USING (scan_id) WHERE f.sim=? "
                        "AND s.scanned_at >= ? ORDER BY s.scan_id LIMIT 1", (sim, at)).fetchone()
                    first_after[sim] = r[0] if r else None
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

        ``wait=False``: the flags are inserted, and the transaction committed, in a thread
        (one SQLite statement, which releases the GIL: it runs beside the writing of the
        scan's files); :meth:`finish` waits for it and raises what failed (nothing of the
        scan is then kept).  The store is not to be used before :meth:`finish`."""
        self.finish()
        flagged, excluded, summary = result.flagged, result.excluded, result.summary
        key = summary.get("key_column", "imsi")
        keys = flagged[key].astype(str).tolist()
        at = summary.get("scanned_at") or _now()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute(
                "INSERT INTO scans (scanned_at, kind, out, model, threshold, key_column, data_from,"
                " data_to, sims, flagged, excluded) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (at, kind, None if out is None else os.fspath(out), summary.get("model"),
                 summary.get("threshold"), key, summary.get("first_seen"),
                 summary.get("last_seen"), summary.get("sims"), len(flagged),
                 0 if excluded is None else len(excluded)))
            scan_id = cur.lastrowid
            first, verdicts = {}, {}
            if self.db.execute("SELECT EXISTS (SELECT 1 FROM flags WHERE status != 'excluded') "
                               "OR EXISTS (SELECT 1 FROM verdicts)").fetchone()[0]:
                self._keys(keys)         # (a new store: no SIM to look up)
                first = dict(self.db.execute(
                    "SELECT f.sim, MIN(s.scanned_at) FROM flags f JOIN k USING (sim) JOIN scans s "
                    "USING (scan_id) WHERE f.status != 'excluded' GROUP BY f.sim").fetchall())
                verdicts = self._latest_verdicts()["verdict"].to_dict()   # a dict: 100k lookups
            by_verdict = {s: VERDICT_STATUS[v] for s, v in verdicts.items() if v in VERDICT_STATUS}
            status = [by_verdict.get(sim) or ("known" if sim in first else "new") for sim in keys] \
                if by_verdict else ["known" if sim in first else "new" for sim in keys] if first \
                else ["new"] * len(keys)                # (no SIM flagged before: all new)
            first_flagged = [first.get(sim, at) for sim in keys] if first else None
            # rows built column-wise, in key order: the indexes' B-trees filled left to right
            # (inserting 100k flags takes half the time of the flagged table's order)
            order = np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.intp)
            cols = [_object_array(c)[order] for c in (
                keys, _texts(flagged["msisdn"]), _texts(flagged["class"]),
                _texts(flagged["deployment_id"]), status, [None] * len(keys), [None] * len(keys))]
            score = flagged["score"].to_numpy(dtype=np.float64)[order]
            if excluded is not None and len(excluded):
                ex = (_texts(excluded[key].astype(str)), _texts(excluded["msisdn"]),
                      _texts(excluded["class"]), [None] * len(excluded),
                      ["excluded"] * len(excluded), _texts(excluded["excluded_by"]),
                      _texts(excluded["exclusion_reason"]))
                cols = [np.concatenate([c, _object_array(e)]) for c, e in zip(cols, ex)]
                score = np.concatenate([score, excluded["score"].to_numpy(dtype=np.float64)])
            insert = _insert_flags(self.db, scan_id, cols, score)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        if wait:
            insert()
        else:
            self._pending = Background(insert, "simbox-history-insert")
        flagged["first_flagged"] = pd.to_datetime(pd.Series(
            first_flagged if first_flagged is not None else [at], dtype=object), utc=True) \
            .repeat(len(flagged) if first_flagged is None else 1).array if len(flagged) else \
            pd.Series(dtype="datetime64[ns, UTC]")
        flagged["status"] = status
        counts = pd.Series(status, dtype=object).value_counts()
        summary["history"] = {"store": os.fspath(self.path), "scan": scan_id,
                              "status": {s: int(counts[s]) for s in STATUSES if s in counts}}
        return scan_id

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
            for v in verdicts:
                if v.key_column == "deployment_id":
                    sims = self._deployment_sims(v, source)
                elif v.key_column == "msisdn":
                    sims = [(r[0], None) for r in self.db.execute(
                        "SELECT DISTINCT sim FROM flags WHERE msisdn=?", (v.value,))] or \
                        [(v.value, None)]
                else:
                    sims = [(v.value, None)]
                for sim, scan_id in sims:
                    last = self.db.execute(
                        "SELECT score, class FROM flags f WHERE sim=? ORDER BY scan_id DESC "
                        "LIMIT 1", (sim,)).fetchone()
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
        if v.scan is not None:
            scan = self.db.execute("SELECT scan_id FROM flags WHERE scan_id=? AND deployment_id=?"
                                   " LIMIT 1", (v.scan, v.value)).fetchone()
        else:
            scan = self.db.execute("SELECT MAX(scan_id) FROM flags WHERE deployment_id=?",
                                   (v.value,)).fetchone()
        if not scan or scan[0] is None:
            where = f" in scan {v.scan}" if v.scan is not None else ""
            raise InputError(f"{source}:{v.line}: field 'deployment_id': no recorded scan has "
                             f"deployment {v.value}{where}; name its SIMs instead (nothing "
                             "imported)")
        return [(r[0], scan[0]) for r in self.db.execute(
            "SELECT sim FROM flags WHERE scan_id=? AND deployment_id=? ORDER BY sim",
            (scan[0], v.value))]

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
        keys = [sim] + [r[0] for r in self.db.execute(
            "SELECT DISTINCT sim FROM flags WHERE msisdn=? AND sim != ?", (sim, sim))]
        q = lambda sql, k: pd.read_sql_query(sql, self.db, params=(k,))  # noqa: E731
        for k in keys:
            flags = q("SELECT s.scan_id AS scan, s.scanned_at, s.kind, f.score, f.class, "
                      "f.deployment_id, f.status, f.excluded_by, f.exclusion_reason, f.msisdn "
                      "FROM flags f JOIN scans s USING (scan_id) WHERE f.sim=? "
                      "ORDER BY s.scan_id", k)
            verdicts = q("SELECT day, verdict, case_id, label, note, score AS score_then, "
                         "deployment_id, source, line FROM verdicts WHERE sim=? "
                         "ORDER BY day, verdict_id", k)
            tests = q("SELECT test_id, call_time, case_id, matched_by, evidence FROM testcalls "
                      "WHERE sim=? ORDER BY call_time", k)
            if len(flags) or len(verdicts) or len(tests):
                break
        else:
            raise InputError(f"{sim}: no such SIM in the history store {self.path} (never "
                             "flagged, no verdict, no test call)")
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
                "sims_flagged": one("SELECT COUNT(DISTINCT sim) FROM flags "
                                    "WHERE status != 'excluded'"),
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


def _object_array(values: list) -> np.ndarray:
    """A list as a 1-d object array (its items as they are)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def insert_rows(constant: dict, width: int = 8) -> str:
    """The statement inserting a scan's flags from one JSON array of rows (``?1``: the scan,
    ``?2``: the array): field ``j`` of the ``width`` after ``scan_id`` is the row's next JSON
    value, or the parameter ``constant[j]`` (one value for every row, bound once: SQLite's
    ``json_extract`` of each field costs more than its insert).  The score (field 3) comes as
    ten-thousandths: exact, see :func:`_insert_flags`."""
    fields, at = [], 0
    for j in range(width):
        if j in constant:
            v = f"?{constant[j]}"
        else:
            v, at = f"json_extract(value, '$[{at}]')", at + 1
        fields.append(f"{v} / 10000.0" if j == 3 else v)
    return f"INSERT INTO flags SELECT ?1, {', '.join(fields)} FROM json_each(?2)"


def _constant(values: list) -> bool:
    """Whether a column holds one value (the same type) in every row."""
    return len(values) > 1 and values.count(values[0]) == len(values) and \
        all(type(v) is type(values[0]) for v in values[:1] + values[-1:])


def _insert_flags(db, scan_id: int, cols: list, score: np.ndarray):
    """A callable that inserts the flags and commits (rolls back and raises on failure):
    ``cols``, the text columns of ``flags`` after ``scan_id`` but the score (object arrays
    of str and None, rows in insertion order), ``score`` (float64, NaN: NULL).  One statement
    over a JSON array of the rows when every score is a whole number of ten-thousandths
    (the scan's scores are rounded to 4 decimals): SQLite's ``u / 10000.0`` is then the
    very double Python binds (the nearest to ``u / 10**4``), texts pass through JSON
    unchanged; a column of one value (a card farm's class, deployment, status) is bound
    once instead (:func:`insert_rows`); else one ``executemany``, the rows as they are."""
    units = np.rint(score * 10000.0)
    missing = np.isnan(score)
    texts = [c.tolist() for c in cols]
    if np.all(missing | ((np.abs(units) < 2.0 ** 53) & (units / 10000.0 == score))):
        ints = np.where(missing, 0.0, units).astype(np.int64)
        fields = texts[:3] + [ints] + texts[3:]
        nulls = [None] * 3 + [missing] + [None] * (len(texts) - 3)
        if len(ints) > 1 and (missing.all() or (not missing.any() and (ints == ints[0]).all())):
            one = [None if missing[0] else int(ints[0])]
        else:
            one = None
        constant, params = {}, []
        for j, f in enumerate(fields):
            # the key (field 0) stays in the rows: they must be there, one per SIM
            if j and (one if j == 3 else f if _constant(f) else None) is not None:
                constant[j] = len(params) + 3
                params.append(one[0] if j == 3 else f[0])
        rows = [(f, z) for j, (f, z) in enumerate(zip(fields, nulls)) if j not in constant]
        # json.dumps of the rows' other fields: by the CSV kernel's JSON writer
        text = json_text([f for f, _ in rows], [z for _, z in rows])
        sql = insert_rows(constant, len(fields))

        def insert():
            _commit(db, lambda: db.execute(sql, (scan_id, text, *params)))
    else:
        values = score.astype(object)
        values[missing] = None

        def insert():
            _commit(db, lambda: db.executemany(
                "INSERT INTO flags VALUES (?,?,?,?,?,?,?,?,?)",
                zip(itertools.repeat(scan_id), *texts[:3], values.tolist(), *texts[3:])))
    return insert


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
