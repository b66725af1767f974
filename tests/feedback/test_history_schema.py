"""The history store's schema 2 against schema 1 (the code before it, at commit 43f546a,
kept in ``history_schema1.py`` as the reference): the same scans and verdicts give the same statuses,
first-flagged times, dismissed SIMs, SIM records, labels and summary, in a store of
schema 2 from the start and in a schema 1 store migrated; the migration is all or
nothing; a store of a newer schema is refused."""
import importlib.util
import os
import shutil
import sqlite3
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from simbox.errors import ConfigError, InputError
from simbox.feedback.flagbatch import fixed_texts, json_texts, texts_of
from simbox.feedback.history import HistoryStore
from simbox.feedback.verdicts import Verdict



@pytest.fixture(scope="module")
def v1():
    """simbox.feedback.history as of schema 1 (``history_schema1.py``, its code at 43f546a),
    loaded as a module of its own."""
    path = Path(__file__).with_name("history_schema1.py")
    spec = importlib.util.spec_from_file_location("simbox_history_schema1", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules.setdefault("simbox_history_schema1", mod)
    return mod


def result(rows, excluded=None, at="2026-03-05T00:00:00Z"):
    flagged = pd.DataFrame(rows, columns=["imsi", "msisdn", "class", "score", "deployment_id"])
    if excluded is not None:
        excluded = pd.DataFrame(excluded, columns=["imsi", "msisdn", "class", "score",
                                                   "excluded_by", "exclusion_reason"])
    return types.SimpleNamespace(flagged=flagged, excluded=excluded,
                                 summary={"scanned_at": at, "sims": 100, "model": "m"})


# ---- random histories ---------------------------------------------------------------------

SIMS = [f"46000{i:010d}" for i in range(12)] + ["x", "x1", "é日", "a\"b\\c"]
MSISDNS = ["8613000000001", "8613000000002", "8613000000003", None, "861300000000é"]


@st.composite
def histories(draw):
    steps = []
    for _ in range(draw(st.integers(1, 7))):
        if draw(st.integers(0, 3)) == 0 and any(s[0] == "scan" for s in steps):
            kind = draw(st.sampled_from(["imsi", "msisdn", "deployment_id"]))
            value = draw(st.sampled_from(SIMS if kind == "imsi" else
                                         [m for m in MSISDNS if m] if kind == "msisdn" else
                                         ["D1", "D2", "D3"]))
            steps.append(("verdicts", [Verdict(
                2, kind, value, draw(st.sampled_from(["confirmed", "dismissed", "seized"])),
                draw(st.sampled_from(["2026-03-04", "2026-03-06"])), "C1", "",
                draw(st.sampled_from(["", "simbox"])), None)]))
            continue
        sims = draw(st.lists(st.sampled_from(SIMS), max_size=9, unique=True))
        cut = draw(st.integers(0, len(sims)))
        def row(s):
            score = draw(st.one_of(st.just(float("nan")),
                                   st.integers(0, 10 ** 4).map(lambda u: u / 10 ** 4),
                                   st.floats(0, 1)))
            return (s, draw(st.sampled_from(MSISDNS)), draw(st.sampled_from(["simbox", "cardfarm"])),
                    score)
        flagged = [row(s) + (draw(st.sampled_from(["D1", "D2", "D3", None])),) for s in sims[:cut]]
        excluded = [row(s) + (draw(st.sampled_from(["imsi:1", "verdict:dismissed"])),
                              draw(st.sampled_from(["pbx", None, "own 'gw'"])))
                    for s in sims[cut:]]
        at = draw(st.sampled_from(["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z",
                                   "2026-03-07T00:00:00Z"]))
        steps.append(("scan", flagged, excluded or None, at,
                      draw(st.sampled_from([None, 0.0, 0.05]))))
    return steps


def run(store, steps):
    """Apply the steps; what each returned, comparable across schemas."""
    seen = []
    for step in steps:
        if step[0] == "verdicts":
            try:
                counts = store.import_verdicts(step[1], source="v.csv")
            except InputError as exc:
                counts = str(exc)
            seen.append(counts)
            continue
        _, flagged, excluded, at, margin = step
        if margin is not None and flagged:
            scores = pd.Series([r[3] for r in flagged], index=[r[0] for r in flagged])
            seen.append(store.dismissed(scores, margin=margin))
        r = result(flagged, excluded, at)
        store.record_scan(r, wait=False)
        store.finish()
        seen.append((r.flagged.drop(columns=[]), r.summary["history"]["status"],
                     r.summary["history"]["scan"]))
    return seen


def records(store):
    out = []
    for q in SIMS + [m for m in MSISDNS if m] + ["nobody"]:
        try:
            out.append(store.sim_record(q))
        except InputError as exc:
            out.append(str(exc).replace(str(store.path), "STORE"))
    return out, store.labels(), {k: v for k, v in store.summary().items() if k != "store"}


def assert_same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b or (a != a and b != b), (a, b)


def v1_flags(path):
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT scan_id, sim, msisdn, class, score, deployment_id, status, "
                          "excluded_by, exclusion_reason FROM flags ORDER BY scan_id, sim").fetchall()
    return rows


def v2_flags(store):
    f = store.flags()
    return [tuple(None if (isinstance(x, float) and x != x) else x for x in r)
            for r in f.itertuples(index=False, name=None)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(steps=histories())
def test_schema_2_answers_as_schema_1_and_a_migrated_store_too(v1, tmp_path_factory, steps):
    d = tmp_path_factory.mktemp("h")
    with v1.HistoryStore(d / "one.sqlite") as old:
        seen_old = run(old, steps)
        want = records(old)
    with HistoryStore(d / "two.sqlite") as new:
        seen_new = run(new, steps)
        got = records(new)
        got_flags = v2_flags(new)
    assert_same(seen_old, seen_new)
    assert_same(want, got)
    want_flags = v1_flags(d / "one.sqlite")
    assert got_flags == want_flags
    with HistoryStore(d / "one.sqlite") as migrated:        # schema 1 -> 2
        assert_same(want, records(migrated))
        assert v2_flags(migrated) == want_flags
        # and on from there, as a store of schema 2 from the start
        more = [s for s in steps if s[0] == "scan"][:2]
        with HistoryStore(d / "two.sqlite") as new:
            assert_same(run(migrated, more), run(new, more))
            assert_same(records(migrated), records(new))


def test_migration_keeps_what_a_query_sees_and_logs_it(v1, tmp_path, caplog):
    path = tmp_path / "h.sqlite"
    with v1.HistoryStore(path) as old:
        old.record_scan(result([("1", "861", "simbox", 0.9, "D001"), ("2", None, "cardfarm",
                                                                      float("nan"), None)],
                               [("3", "863", "simbox", 0.5, "imsi:3", "pbx")]))
        before = records(old)
    with HistoryStore(path, create=False) as store:
        assert_same(before, records(store))
        tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
    assert "flags" not in tables and {"flag_batches", "sims", "deployments"} <= tables
    assert f"{path}: history store migrated from schema 1 to 2 (1 scans, 3 flags); simbox " \
        "before schema 2 no longer opens it" in caplog.text
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("2",)


def test_a_failed_migration_keeps_schema_1(v1, tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite"
    with v1.HistoryStore(path) as old:
        old.record_scan(result([("1", "861", "simbox", 0.9, "D001")]))
    import simbox.feedback.history_schema as schema

    def broken(db, scan_id, n, blobs):
        raise sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(schema, "write_batch", broken)
    with pytest.raises(InputError, match="not a usable history store \\(disk I/O error\\)"):
        HistoryStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("1",)
        assert db.execute("SELECT COUNT(*) FROM flags").fetchone() == (1,)
        assert db.execute("SELECT name FROM sqlite_master WHERE name='sims'").fetchone() is None


def test_a_newer_store_is_refused_and_left_alone(tmp_path, v1):
    path = tmp_path / "h.sqlite"
    HistoryStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='3' WHERE key='schema'")
    with pytest.raises(ConfigError) as e:
        HistoryStore(path)
    assert str(e.value) == (f"{path}: a history store of a newer simbox (schema 3, this simbox "
                            "reads 2); upgrade simbox")
    # and schema 1's code refuses a store of schema 2 the same way, changing nothing
    HistoryStore(tmp_path / "two.sqlite").close()
    with pytest.raises(ConfigError, match=r"\(schema 2, this simbox reads 1\)"):
        v1.HistoryStore(tmp_path / "two.sqlite")
    with sqlite3.connect(tmp_path / "two.sqlite") as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name='flags'").fetchone() is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=6), max_size=20, unique=True))
def test_fixed_texts_order_equality_and_json(texts):
    fixed = fixed_texts(texts)
    assert texts_of(fixed) == texts
    arrow = fixed_texts(pd.array(texts, dtype="str"))
    assert texts_of(arrow) == texts
    # equal encodings exactly for equal texts; the sorted array finds every text
    assert len(set(fixed.tolist())) == len(texts)
    order = np.argsort(fixed, kind="stable")
    found = np.searchsorted(fixed[order], fixed)
    assert (order[found] == np.arange(len(texts))).all()
    import json
    assert json.loads(json_texts(fixed)) == texts


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=19), max_size=30), st.booleans())
def test_text_order_is_numpys_stable_sort(values, encoded):
    """The keys' order by 8-byte words against ``np.argsort(kind="stable")``: any width
    (padded or a multiple of 8), NUL bytes inside and at the end, ties kept in order."""
    from simbox.feedback.history_schema import text_order
    fixed = fixed_texts([v.decode("latin-1") for v in values]) if encoded else \
        np.array(values, dtype=f"S{max([len(v) for v in values] + [1])}")
    assert text_order(fixed).tolist() == np.argsort(fixed, kind="stable").tolist()
    assert text_order(fixed[::-1]).tolist() == np.argsort(fixed[::-1], kind="stable").tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                                  max_size=8),
                          st.text(max_size=6)), max_size=20))
def test_json_texts_equal_json_dumps(texts):
    """The JSON array of fixed texts, written by the kernel when every text is printable ASCII
    without a quote or backslash (else json.dumps): json.dumps' text without spaces."""
    import json
    fixed = fixed_texts(texts)
    got = json_texts(fixed)
    assert json.loads(got) == texts
    if all(t.isascii() and t.isprintable() and '"' not in t and "\\" not in t for t in texts):
        assert got == json.dumps(texts, separators=(",", ":"))


# ---- a damaged store ----------------------------------------------------------------------

@pytest.mark.parametrize("damage", [
    "UPDATE flag_batches SET sim = x'00010203'",                       # not an .npy array
    "UPDATE flag_batches SET sim = substr(sim, 1, length(sim) - 40)",  # cut short
    "UPDATE flag_batches SET class = substr(class, 1, 90)",            # dictionary, no codes
])
def test_a_damaged_batch_is_a_one_line_error_naming_the_store_and_scan(tmp_path, damage):
    path = tmp_path / "h.sqlite"
    rows = [("460001", "861", "simbox", 0.9, "D1"), ("460002", "862", "cardfarm", 0.8, "D2")]
    with HistoryStore(path) as h:
        h.record_scan(result(rows))
    db = sqlite3.connect(path)
    db.execute(damage)
    db.commit()
    db.close()
    with HistoryStore(path, create=False) as h:
        with pytest.raises(InputError) as err:
            h.sim_record("460001")
            h.flags()
    msg = str(err.value)
    assert msg.startswith(f"{path}: the flags of scan 1 are damaged (") and "\n" not in msg
    assert msg.endswith("restore the store from a backup")


def test_a_batch_header_claiming_more_than_its_bytes_is_refused(tmp_path):
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as h:
        h.record_scan(result([("460001", "861", "simbox", 0.9, "D1")]))
    db = sqlite3.connect(path)
    blob = db.execute("SELECT score FROM flag_batches").fetchone()[0]
    forged = blob.replace(b"(1,)", b"(9999999,)", 1)      # the score array's shape
    assert forged != blob
    db.execute("UPDATE flag_batches SET score = ?", (forged,))
    db.commit()
    db.close()
    with HistoryStore(path, create=False) as h:
        with pytest.raises(InputError, match="are damaged .*does not fit the"):
            h.flags()
