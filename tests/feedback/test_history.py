"""The history store: scans recorded, statuses, verdicts, concurrency, labels export."""
import json
import os
import subprocess
import sys
import types

import pandas as pd
import pytest

from simbox.cli import main
from simbox.errors import InputError, ParseError
from simbox.feedback.history import HistoryStore
from simbox.feedback.verdicts import read_verdicts


def fake_result(rows, scanned_at="2026-03-05T00:00:00Z"):
    """A ScanResult's parts record_scan reads: flagged rows (imsi, msisdn, class, score,
    deployment_id)."""
    flagged = pd.DataFrame(rows, columns=["imsi", "msisdn", "class", "score", "deployment_id"])
    return types.SimpleNamespace(flagged=flagged, excluded=None,
                                 summary={"scanned_at": scanned_at, "sims": 100})


def verdicts_file(tmp_path, body, key="subscriber"):
    """A verdicts file keyed by ``key`` (subscriber: the short keys of fake_result)."""
    p = tmp_path / "verdicts.csv"
    p.write_text(f"{key},deployment_id,verdict,date,case_id,note\n" + body, encoding="utf-8")
    return p


def test_statuses_first_flagged_and_restart(tmp_path):
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        r1 = fake_result([("1", "861", "simbox", 0.9, "D001"), ("2", "862", "simbox", 0.8, "D001")],
                         "2026-03-01T00:00:00Z")
        assert store.record_scan(r1) == 1
    assert r1.flagged["status"].tolist() == ["new", "new"]
    with HistoryStore(path) as store:          # a new process would do the same
        r2 = fake_result([("2", "862", "simbox", 0.85, "D001"), ("3", "863", "cardfarm", 0.7, "D002")],
                         "2026-03-02T00:00:00Z")
        store.record_scan(r2)
        rec = store.sim_record("2")
    assert r2.flagged["status"].tolist() == ["known", "new"]
    assert [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in r2.flagged["first_flagged"]] == \
        ["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"]
    assert r2.summary["history"]["status"] == {"new": 1, "known": 1}
    assert rec["times_flagged"] == 2 and rec["first_flagged"] == "2026-03-01T00:00:00Z"
    assert rec["flags"]["score"].tolist() == [0.8, 0.85]


def test_dismissed_is_not_realerted_unless_the_score_rises_by_the_margin(tmp_path):
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record_scan(fake_result([("1", "861", "simbox", 0.80, "D001"),
                                       ("2", "862", "simbox", 0.90, "D001")]))
        name, v = read_verdicts(verdicts_file(tmp_path, "1,,dismissed,2026-03-04,C1,switchboard\n"))
        assert store.import_verdicts(v, source=name)["new"] == 1
        held = store.dismissed(pd.Series({"1": 0.84, "2": 0.95}), margin=0.05)
        assert list(held.index) == ["1"] and held.loc["1", "excluded_by"] == "verdict:dismissed"
        assert held.loc["1", "exclusion_reason"] == ("dismissed on 2026-03-04 (case C1); score "
                                                     "0.8400 has not risen 0.05 above 0.8000")
        assert len(store.dismissed(pd.Series({"1": 0.86}), margin=0.05)) == 0
        # re-alerted: its status says so
        r = fake_result([("1", "861", "simbox", 0.86, "D001")])
        store.record_scan(r)
        assert r.flagged["status"].tolist() == ["re-alerted"]


def test_dismissed_scores_compare_at_the_stored_precision(tmp_path):
    """Scores are recorded to 4 decimals: a SIM dismissed at 1.0 (0.99996 rounded) and
    scored 0.99996 again has not gone down, so margin 0 alerts it again."""
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record_scan(fake_result([("1", "861", "simbox", 1.0, "D001")]))
        name, v = read_verdicts(verdicts_file(tmp_path, "1,,dismissed,2026-03-04,C1,pbx\n"))
        store.import_verdicts(v, source=name)
        assert len(store.dismissed(pd.Series({"1": 0.99996}), margin=0.0)) == 0
        assert list(store.dismissed(pd.Series({"1": 0.99994}), margin=0.0).index) == ["1"]


def test_verdict_for_a_sim_never_flagged_is_kept_and_counted(tmp_path, caplog):
    with HistoryStore(tmp_path / "h.sqlite") as store:
        name, v = read_verdicts(verdicts_file(tmp_path, "460009999999999,,seized,2026-03-05,R1,\n"))
        counts = store.import_verdicts(v, source=name)
        assert counts["unknown"] == 1 and counts["new"] == 1
        assert "name a SIM no recorded scan flagged (e.g. " in caplog.text
        rec = store.sim_record("460009999999999")
        assert rec["verdicts"]["verdict"].tolist() == ["seized"]
        # no label column, never flagged: no class to label it with
        assert len(store.labels()) == 0 and store.labels().attrs["unlabelled_verdicts"] == 1


def test_deployment_verdict_and_labels_export(tmp_path):
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record_scan(fake_result([("1", "861", "simbox", 0.9, "D001"),
                                       ("2", "862", "simbox", 0.9, "D001"),
                                       ("3", "863", "cardfarm", 0.9, "D002")]))
        name, v = read_verdicts(verdicts_file(tmp_path, ",D001,confirmed,2026-03-04,C1,box\n"
                                                        "3,,dismissed,2026-03-04,C2,\n"))
        assert store.import_verdicts(v, source=name)["sims"] == 3
        # the same file again: kept once
        assert store.import_verdicts(v, source=name)["repeated"] == 3
        labels = store.labels()
    assert labels[["imsi", "label", "case_id", "provenance"]].values.tolist() == [
        ["1", "simbox", "C1", "verdict"], ["2", "simbox", "C1", "verdict"]]
    assert labels["evidence"].tolist() == ["confirmed on 2026-03-04: box"] * 2


def test_unknown_deployment_imports_nothing(tmp_path):
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record_scan(fake_result([("1", "861", "simbox", 0.9, "D001")]))
        p = verdicts_file(tmp_path, "1,,confirmed,2026-03-04,C1,\n,D009,confirmed,2026-03-04,C1,\n")
        name, v = read_verdicts(p)
        with pytest.raises(InputError) as e:
            store.import_verdicts(v, source=name)
        assert str(e.value) == (f"{p}:3: field 'deployment_id': no recorded scan has deployment "
                                "D009; name its SIMs instead (nothing imported)")
        assert store.summary()["verdicts"] == 0


@pytest.mark.parametrize("row, message", [
    ("460001601171868,,confirmd,2026-03-04,C1,", ":2: field 'verdict': 'confirmd' is not one of confirmed, "
                                   "dismissed, seized"),
    ("460001601171868,,confirmed,04/03/2026,C1,", ":2: field 'date': '04/03/2026' is not an ISO "
                                                  "date (YYYY-MM-DD)"),
    ("460001601171868,D001,confirmed,2026-03-04,C1,", ":2: field 'imsi': give one of imsi or "
                                                      "deployment_id, not both"),
    ("460001601171868,,confirmed,2026-03-04,,", ":2: field 'case_id': empty case_id (the case "
                                                "the verdict belongs to)"),
])
def test_bad_verdict_rows(tmp_path, row, message):
    p = verdicts_file(tmp_path, row + "\n", key="imsi")
    with pytest.raises(ParseError) as e:
        read_verdicts(p)
    assert str(e.value).startswith(f"{p}{message}")


# ---- real scans -------------------------------------------------------------------------

def scan_argv(net, out, *extra):
    # (the young hold, tests/simbox/test_young_hold.py, would add its SIMs to excluded.csv)
    return ["scan", str(net / "cdrs.csv.gz"), "--cells", str(net / "cells.csv"), "--timezone",
            "Asia/Shanghai", "--no-report", "--no-young-hold", "--out", str(out), *extra]


def test_scan_writes_status_and_excluded(tc_network, history, tmp_path, capsys, caplog):
    net, _, _ = tc_network
    assert main(scan_argv(net, tmp_path / "o1")) == 0
    f1 = pd.read_csv(tmp_path / "o1" / "flagged.csv", dtype=str)
    assert len(f1) > 5 and set(f1["status"]) == {"new"}
    first = f1.iloc[0]
    (tmp_path / "ex.csv").write_text(
        "kind,value,reason,owner,expires\n"
        f"msisdn,{first['msisdn']},hotel switchboard,ops,\n"
        "prefix,999,nobody,ops,2020-01-01\n", encoding="utf-8")
    capsys.readouterr()
    assert main(scan_argv(net, tmp_path / "o2", "--exclude", str(tmp_path / "ex.csv"))) == 0
    cap = capsys.readouterr()
    assert "ex.csv:3: exclusion prefix:999 (nobody, owner ops) expired on 2020-01-01: it no " \
        "longer applies" in caplog.text
    f2 = pd.read_csv(tmp_path / "o2" / "flagged.csv", dtype=str)
    ex = pd.read_csv(tmp_path / "o2" / "excluded.csv", dtype=str)
    assert first["imsi"] not in set(f2["imsi"]) and ex["imsi"].tolist() == [first["imsi"]]
    assert list(ex.columns) == list(f1.columns) + ["excluded_by", "exclusion_reason",
                                                   "exclusion_owner", "exclusion_expires",
                                                   "exclusion_line"]
    assert ex.loc[0, "exclusion_reason"] == "hotel switchboard" and ex.loc[0, "exclusion_line"] == "2"
    assert set(f2["status"]) == {"known"} and len(f2) == len(f1) - 1
    assert (f2["first_flagged"].to_numpy() ==
            f1.set_index("imsi").loc[f2["imsi"], "first_flagged"].to_numpy()).all()
    s = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert s["excluded"] == 1 and s["exclusions"]["expired_rows"][0]["line"] == 3
    assert "; 1 excluded (excluded.csv)" in cap.out
    # the SIM's record shows the exclusion it hit
    capsys.readouterr()
    assert main(["history", first["imsi"], "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert [f["status"] for f in rec["flags"]] == ["new", "excluded"]
    assert rec["flags"][1]["excluded_by"] == f"msisdn:{first['msisdn']}"


def test_malformed_exclusions_fail_before_any_output(tc_network, history, tmp_path, capsys):
    net, _, _ = tc_network
    (tmp_path / "ex.csv").write_text("kind,value,reason,owner,expires\nimsi,1,x,y,z\n")
    assert main(scan_argv(net, tmp_path / "o", "--exclude", str(tmp_path / "ex.csv"))) == 1
    err = capsys.readouterr().err
    assert err == (f"simbox scan: error: {tmp_path / 'ex.csv'}:2: field 'expires': 'z' is not "
                   "an ISO date (YYYY-MM-DD) nor empty\n")
    assert not (tmp_path / "o").exists() and not history.exists()


def test_two_scans_at_once_against_one_store(tc_network, tmp_path):
    net, _, _ = tc_network
    store = tmp_path / "shared.sqlite"
    env = dict(os.environ, SIMBOX_HISTORY=str(store), OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-m", "simbox", *scan_argv(net, tmp_path / f"o{i}")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    flagged = [pd.read_csv(tmp_path / f"o{i}" / "flagged.csv", dtype=str) for i in range(2)]
    with HistoryStore(store, create=False) as h:
        scans = pd.read_sql_query("SELECT scan_id, flagged FROM scans ORDER BY scan_id", h.db)
        per_scan = h.flags().groupby("scan_id").size()
    assert scans["scan_id"].tolist() == [1, 2]
    assert sorted(per_scan.tolist()) == sorted([len(flagged[0]), len(flagged[1])])
    # one of them recorded first: all new; the other saw it: all known
    assert sorted(tuple(sorted(set(f["status"]))) for f in flagged) == [("known",), ("new",)]


def test_verdict_cli_then_scan(tc_network, history, tmp_path, capsys):
    net, _, _ = tc_network
    assert main(scan_argv(net, tmp_path / "o1")) == 0
    f1 = pd.read_csv(tmp_path / "o1" / "flagged.csv", dtype=str)
    dep = f1["deployment_id"].iloc[0]
    other = f1.loc[f1["deployment_id"] != dep, "imsi"].iloc[0]
    v = tmp_path / "v.csv"
    v.write_text("imsi,deployment_id,verdict,date,case_id,note\n"
                 f",{dep},confirmed,2026-03-04,C1,\n{other},,dismissed,2026-03-04,C2,legit PBX\n")
    capsys.readouterr()
    assert main(["verdicts", str(v)]) == 0
    n_dep = int((f1["deployment_id"] == dep).sum())
    assert capsys.readouterr().out.startswith(f"2 verdict row(s) for {n_dep + 1} SIM(s): "
                                              f"{n_dep + 1} new, 0 already kept; history ")
    assert main(scan_argv(net, tmp_path / "o2")) == 0
    f2 = pd.read_csv(tmp_path / "o2" / "flagged.csv", dtype=str)
    ex = pd.read_csv(tmp_path / "o2" / "excluded.csv", dtype=str)
    assert set(f2.loc[f2["imsi"].isin(f1.loc[f1["deployment_id"] == dep, "imsi"]), "status"]) \
        == {"confirmed"}
    assert ex["imsi"].tolist() == [other] and ex.loc[0, "excluded_by"] == "verdict:dismissed"
    # margin 0: the same score is enough to alert again
    assert main(scan_argv(net, tmp_path / "o3", "--dismiss-margin", "0")) == 0
    f3 = pd.read_csv(tmp_path / "o3" / "flagged.csv", dtype=str)
    assert f3.loc[f3["imsi"] == other, "status"].tolist() == ["re-alerted"]
    # labels: the confirmed deployment, by the class it was flagged with
    capsys.readouterr()
    assert main(["labels", "export", "--out", str(tmp_path / "labels.csv"), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["by_provenance"] == {"verdict": n_dep}
    lab = pd.read_csv(tmp_path / "labels.csv", dtype=str)
    assert sorted(lab["imsi"]) == sorted(f1.loc[f1["deployment_id"] == dep, "imsi"])
    assert (lab["label"].to_numpy() ==
            f1.set_index("imsi").loc[lab["imsi"], "class"].to_numpy()).all()


def test_history_of_an_unknown_sim(history, tmp_path, capsys):
    assert main(["history", "123"]) == 1
    assert capsys.readouterr().err == (f"simbox history: error: {history}: no such history store "
                                       "(a scan with --history creates one)\n")
    HistoryStore(history).close()
    assert main(["history", "123"]) == 1
    assert capsys.readouterr().err == (f"simbox history: error: 123: no such SIM in the history "
                                       f"store {history} (never flagged, no verdict, no test "
                                       "call)\n")


def test_report_shows_the_excluded_and_the_stale_exclusions(tc_network, history, tmp_path):
    net, _, _ = tc_network
    assert main(scan_argv(net, tmp_path / "o1")) == 0
    first = pd.read_csv(tmp_path / "o1" / "flagged.csv", dtype=str).iloc[0]
    (tmp_path / "ex.csv").write_text(
        "kind,value,reason,owner,expires\n"
        f"imsi,{first['imsi']},call centre of a bank,sales,\n"
        "prefix,999,expired block,ops,2020-01-01\n"
        "msisdn,111,covers nothing,ops,\n", encoding="utf-8")
    argv = [a for a in scan_argv(net, tmp_path / "o2") if a != "--no-report"]
    assert main(argv + ["--exclude", str(tmp_path / "ex.csv")]) == 0
    html = (tmp_path / "o2" / "report.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="excluded">'):html.index('<section id="method">')]
    assert first["imsi"] in section and "call centre of a bank" in section
    assert "expired before" in section and "expired block" in section
    assert "covered no flagged SIM in this scan" in section and "covers nothing" in section


@pytest.mark.parametrize("decimals,farm", [(4, None), (None, None), (4, "score"),
                                           (4, "nan"), (None, "score")])
def test_flags_kept_as_given(tmp_path, decimals, farm):
    """record_scan (in a thread with wait=False) keeps each flag's values exactly (texts
    with quotes, backslashes, line breaks and other scripts; scores of any precision and
    NaN), the excluded rows beside the flagged; ``farm``: the class, deployment, MSISDN and
    score of every row the same (a card farm: a column of one value is kept as one code)."""
    import numpy as np
    rng = np.random.default_rng(3)
    n = 500
    score = rng.random(n) * rng.choice([1.0, 3.0, 1e-3], n)
    score = np.round(score, decimals) if decimals is not None else score
    score[rng.random(n) < 0.05] = np.nan
    score[:3] = [0.0, -0.0, 1.0] if decimals is not None else score[:3]
    texts = ["a", "é日", 'q"uo\\te', "x,y", "\u2028", "", "\n\t", "[1]", "null"]
    keys = [f"{k:015d}" for k in rng.permutation(10**6)[:n]]
    rows = [(k, None if i % 7 == 0 else rng.choice(texts) + str(i),
             str(rng.choice(["simbox", "cardfarm"])), float(s), str(rng.choice(texts)))
            for i, (k, s) in enumerate(zip(keys, score))]
    if farm is not None:
        one = np.nan if farm == "nan" else float(score[5])
        rows = [(k, None, "cardfarm", one, "D001") for k, _, _, _, _ in rows]
    r = fake_result(rows)
    r.excluded = pd.DataFrame({"imsi": ["9", "8"], "msisdn": ["1", None], "class": ["simbox"] * 2,
                               "score": [0.5, np.nan], "excluded_by": ["imsi", "verdict:dismissed"],
                               "exclusion_reason": ["own 'gateway'", None]})
    if farm is not None:
        r.excluded = None
    with HistoryStore(tmp_path / "got.sqlite") as store:
        store.record_scan(r, wait=False)
        store.finish()
        got = store.flags()
    want = sorted([(1, k, m, c, None if s != s else s, d, "new", None, None)
                   for k, m, c, s, d in rows] +
                  ([(1, "9", "1", "simbox", 0.5, None, "excluded", "imsi", "own 'gateway'"),
                    (1, "8", None, "simbox", None, None, "excluded", "verdict:dismissed", None)]
                   if farm is None else []), key=lambda t: t[1])
    got = [tuple(None if isinstance(x, float) and x != x else x for x in t)
           for t in got.itertuples(index=False, name=None)]
    assert got == want
    assert all(type(t[4]) is float for t in got if t[4] is not None)


def test_a_failed_insert_in_the_thread_keeps_nothing(tmp_path, monkeypatch):
    import sqlite3

    import simbox.feedback.history as history
    path = tmp_path / "h.sqlite"
    real = history.write_batch

    def broken(db, scan_id, n, blobs):
        real(db, scan_id, n, blobs)
        raise sqlite3.OperationalError("disk I/O error")
    with HistoryStore(path) as store:
        monkeypatch.setattr(history, "write_batch", broken)
        store.record_scan(fake_result([("1", "861", "simbox", 0.9, "D001")]), wait=False)
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            store.finish()
        assert store.db.execute("SELECT COUNT(*) FROM scans").fetchone() == (0,)
        assert store.summary()["sims_flagged"] == 0 and len(store.flags()) == 0
        monkeypatch.setattr(history, "write_batch", real)
        assert store.record_scan(fake_result([("1", "861", "simbox", 0.9, "D001")])) == 1
        assert len(store.flags()) == 1


def test_a_sim_twice_in_one_scan_records_nothing(tmp_path):
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        with pytest.raises(InputError) as e:
            store.record_scan(fake_result([("1", "861", "simbox", 0.9, "D001"),
                                           ("1", "861", "simbox", 0.9, "D001")]), wait=False)
        assert str(e.value) == (f"{path}: SIM 1 is twice in one scan's flagged and excluded "
                                "rows; nothing recorded")
        assert store.summary()["scans"] == 0
        assert store.record_scan(fake_result([("1", "861", "simbox", 0.9, "D001")])) == 1
