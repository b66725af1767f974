"""The history store's tables (schema 2), a scan's flags written as one batch, and the
migration of a schema 1 store.

Schema 1 (simbox up to session 16) kept each flag as a row of ``flags`` (scan_id, sim,
msisdn, class, score, deployment_id, status, excluded_by, exclusion_reason), in three
B-trees (its rows, its primary key (scan_id, sim), an index on sim).  Schema 2 keeps the
same values as one row per scan (:mod:`simbox.feedback.flagbatch`) and two small tables:
``sims`` (each SIM ever recorded: since when it is flagged, its first scan) and
``deployments`` (which scans hold which deployment ids).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from simbox.errors import InputError
from simbox.feedback.flagbatch import COLUMNS, TEXT_COLUMNS, fixed_texts, pack, texts_of

__all__ = ["SCHEMA", "SCHEMA_VERSION", "migrate", "sorted_sims", "text_order", "batch_blobs",
           "write_batch", "factorized"]

log = logging.getLogger("simbox.feedback.history")

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans (
    scan_id INTEGER PRIMARY KEY AUTOINCREMENT,
    scanned_at TEXT NOT NULL,          -- ISO UTC
    kind TEXT NOT NULL,                -- scan, watch
    out TEXT, model TEXT, threshold REAL, key_column TEXT NOT NULL,
    data_from TEXT, data_to TEXT, sims INTEGER, flagged INTEGER, excluded INTEGER);
CREATE TABLE IF NOT EXISTS flag_batches (
    scan_id INTEGER PRIMARY KEY REFERENCES scans(scan_id),
    rows INTEGER NOT NULL,             -- flags: flagged SIMs and excluded ones
    sim BLOB NOT NULL, score BLOB NOT NULL, msisdn BLOB NOT NULL, class BLOB NOT NULL,
    deployment_id BLOB NOT NULL,
    status BLOB NOT NULL,              -- a STATUS, or excluded
    excluded_by BLOB NOT NULL, exclusion_reason BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sims (
    sim TEXT PRIMARY KEY,
    first_flagged INTEGER,             -- a scan at its earliest scanned_at flagging it (NULL: only excluded)
    first_scan INTEGER NOT NULL        -- the first scan holding it, flagged or excluded
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deployments (
    deployment_id TEXT NOT NULL, scan_id INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, scan_id)) WITHOUT ROWID;
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


def factorized(values, *, distinct: bool = False) -> tuple:
    """(codes, uniques) of texts (an object array of str and None, or a pandas string
    array; missing: code -1).  ``distinct``: a column of mostly distinct values (MSISDNs):
    without missing values, (None, values) (row ``i``: value ``i``), else each row its
    own code."""
    if distinct:
        missing = pd.isna(values) if not hasattr(values, "isna") else np.asarray(values.isna())
        if not missing.any():
            return None, values
        codes = np.arange(len(values))
        codes[missing] = -1
        return codes, np.where(missing, "", np.asarray(values, dtype=object))
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if getattr(uniques, "dtype", None) == object:
        uniques = [u if type(u) is str else str(u) for u in uniques]
    return codes, uniques


def sorted_sims(sims, where: str = "") -> tuple:
    """The keys (str) as :func:`~simbox.feedback.flagbatch.fixed_texts`, sorted, and the
    order that sorts them.  A SIM twice is an :class:`~simbox.errors.InputError` naming it
    (``where``: the store)."""
    fixed = fixed_texts(sims)
    order = text_order(fixed)
    fixed = fixed[order]
    twice = np.flatnonzero(fixed[1:] == fixed[:-1])
    if len(twice):
        raise InputError(f"{where}: SIM {texts_of(fixed[twice[:1]])[0]} is twice in one scan's "
                         "flagged and excluded rows; nothing recorded")
    return fixed, order


def text_order(fixed: np.ndarray) -> np.ndarray:
    """``np.argsort(fixed, kind="stable")`` of a bytes array (numpy's ``S`` dtype): by its
    bytes read as big-endian 8-byte words, zero-padded to a multiple of 8, sorted by one
    stable ``np.lexsort`` of the words (the same order: bytes compared one by one from the
    first are words compared one by one, and the padding sorts as numpy's ``S`` compare
    treats trailing NULs; 100,000 keys of 16 bytes: 8 ms to 2)."""
    n, width = len(fixed), fixed.dtype.itemsize
    words = -(-width // 8)
    if n < 2 or width == 0:
        return np.arange(n, dtype=np.intp)
    raw = np.ascontiguousarray(fixed).view(np.uint8).reshape(n, width)
    if width != 8 * words:
        raw = np.concatenate([raw, np.zeros((n, 8 * words - width), dtype=np.uint8)], axis=1)
    keys = np.ascontiguousarray(raw).view(">u8").reshape(n, words)
    return np.lexsort(keys.T[::-1])


def batch_blobs(fixed, order, score, texts: dict) -> dict:
    """The BLOBs of one scan's flags: the sorted keys and their order (:func:`sorted_sims`),
    ``score`` (float64) and ``texts[name]`` (codes, uniques) of each text column, these
    in the rows' order before sorting."""
    def ordered(codes, uniques):
        if codes is None:               # row i: value i, now in the keys' order
            return None, _take(uniques, order)
        return np.asarray(codes)[order], uniques
    return pack(fixed, np.asarray(score, dtype=np.float64)[order],
                {name: ordered(*cu) for name, cu in texts.items()})


def _take(values, order):
    """``values`` (an array, numpy or pandas) at ``order``."""
    return values.take(order) if hasattr(values, "take") else np.asarray(values)[order]


def write_batch(db, scan_id: int, n: int, blobs: dict) -> None:
    """Insert one scan's batch (:func:`batch_blobs`)."""
    db.execute(f"INSERT INTO flag_batches (scan_id, rows, {', '.join(COLUMNS)}) VALUES "
               f"(?, ?, {', '.join('?' * len(COLUMNS))})",
               (scan_id, n, *(blobs[c] for c in COLUMNS)))


def migrate(db, path) -> None:
    """Turn a schema 1 store into schema 2, inside the caller's transaction: each scan's
    ``flags`` rows into one batch, ``sims`` and ``deployments`` from them, then ``flags``
    dropped.  Every query of the store answers as before (tests/feedback/test_history_schema.py)."""
    # (SQLite built with SECURE_DELETE zeroes every page of the dropped table: as much
    # journal as the store; FAST zeroes no more pages than it writes anyway.  Their
    # content is the batches' own.)
    secure = db.execute("PRAGMA secure_delete").fetchone()[0]
    db.execute("PRAGMA secure_delete=FAST")
    try:
        _migrate(db, path)
    finally:
        db.execute(f"PRAGMA secure_delete={int(secure)}")


def _migrate(db, path) -> None:
    scans = [r[0] for r in db.execute("SELECT DISTINCT scan_id FROM flags ORDER BY scan_id")]
    flags = 0
    for scan_id in scans:
        rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM flags WHERE scan_id = ?",
                          (scan_id,)).fetchall()
        cols = dict(zip(COLUMNS, zip(*rows)))
        score = np.array([np.nan if s is None else s for s in cols["score"]], dtype=np.float64)
        fixed, order = sorted_sims(list(cols["sim"]), str(path))
        blobs = batch_blobs(fixed, order, score,
                            {name: factorized(np.array(cols[name], dtype=object),
                                              distinct=name == "msisdn")
                             for name in TEXT_COLUMNS})
        write_batch(db, scan_id, len(rows), blobs)
        flags += len(rows)
    db.execute("INSERT INTO sims SELECT m.sim, (SELECT MIN(s.scan_id) FROM scans s WHERE "
               "s.scanned_at = m.first_at), m.first_scan FROM (SELECT f.sim, MIN(CASE WHEN "
               "f.status != 'excluded' THEN s.scanned_at END) AS first_at, MIN(f.scan_id) AS "
               "first_scan FROM flags f JOIN scans s USING (scan_id) GROUP BY f.sim) m "
               "ORDER BY m.sim")
    db.execute("INSERT INTO deployments SELECT DISTINCT deployment_id, scan_id FROM flags "
               "WHERE deployment_id IS NOT NULL")
    db.execute("DROP TABLE flags")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
    log.warning("%s: history store migrated from schema 1 to %d (%d scans, %d flags); "
                "simbox before schema %d no longer opens it", path, SCHEMA_VERSION, len(scans),
                flags, SCHEMA_VERSION)
