"""Test-call matching: clock skew, CLI formats, unanswered calls, duplicates, one to one."""
import json

import pandas as pd
import pytest

from simbox.cli import main
from simbox.errors import ParseError
from simbox.feedback.numbers import e164
from simbox.feedback.testcalls import match_testcalls, probe_events, read_testcalls

P = "8619000000001"
CDRS = """record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id
MOC,2026-03-01T11:00:00Z,460000000000001,,8613800000001,8613999999999,30,46000-1-1
MOC,2026-03-01T12:00:30Z,460000000000001,,8613800000001,{P},60,46000-1-1
MOC,2026-03-01T12:10:00Z,460000000000002,,8613800000002,{P},0,46000-1-1
MOC,2026-03-01T13:00:00Z,460000000000003,,8613800000003,{P},40,46000-1-1
MOC,2026-03-01T14:00:05Z,460000000000004,,8613800000004,{P},40,46000-1-1
MOC,2026-03-01T15:00:00Z,460000000000005,,8613800000005,{P},40,46000-1-1
MOC,2026-03-01T15:00:20Z,460000000000006,,8613800000006,{P},40,46000-1-1
MOC,2026-03-01T16:00:00Z,460000000000007,,8613800000007,8613999999999,40,46000-1-1
MTC,2026-03-01T16:30:00Z,460000000000001,,8613800000001,{P},40,46000-1-1
""".replace("{P}", P)
HEAD = "test_id,origin,a_number_sent,b_number,cli_received,attempt_time,answer_time,release_time,result\n"
RESULTS = HEAD + """T1,44,+447700900001,+8619000000001,+86 138 0000 0001,2026-03-01T12:00:25Z,2026-03-01T12:00:32Z,2026-03-01T12:01:32Z,bypass
T2,44,+447700900002,019000000001,013800000002,2026-03-01T12:09:58Z,,,bypass
T3,44,+447700900003,8619000000001,008613800000003,2026-03-01T12:57:00Z,2026-03-01T12:57:10Z,2026-03-01T12:58:00Z,bypass
T4,49,+4917000000004,8619000000001,,2026-03-01T14:00:00Z,2026-03-01T14:00:09Z,2026-03-01T14:01:00Z,blank_cli
T5,49,+4917000000005,8619000000001,+447700900123,2026-03-01T15:00:10Z,2026-03-01T15:00:15Z,2026-03-01T15:01:00Z,spoofed_cli
T6,1,+12025550106,8619000000001,8613800000009,2026-03-01T16:00:00Z,2026-03-01T16:00:08Z,2026-03-01T16:01:00Z,bypass
T7,1,+12025550107,8619000000001,8613800000007,2026-03-01T16:10:00Z,,,bypass
T8,1,+12025550108,8619000000001,,2026-03-01T16:20:00Z,,,no_answer
T9,1,+12025550109,8619000000001,+12025550109,2026-03-01T16:30:00Z,2026-03-01T16:30:05Z,2026-03-01T16:31:00Z,ok
T11,44,+447700900001,8619000000001,+8613800000001,2026-03-01T12:00:40Z,2026-03-01T12:00:45Z,2026-03-01T12:01:00Z,bypass
T1,44,+447700900001,+8619000000001,+86 138 0000 0001,2026-03-01T12:00:25Z,2026-03-01T12:00:32Z,2026-03-01T12:01:32Z,bypass
T9,1,+12025550109,8619000000001,+12025550109,2026-03-01T16:31:00Z,2026-03-01T16:31:05Z,2026-03-01T16:32:00Z,ok
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "cdrs.csv").write_text(CDRS)
    (tmp_path / "results.csv").write_text(RESULTS)
    return tmp_path


@pytest.mark.parametrize("text, out", [
    ("+86 138-0000-0001", ("8613800000001", "international")),
    ("008613800000001", ("8613800000001", "international")),
    ("013800000001", ("8613800000001", "national")),
    ("8613800000001", ("8613800000001", "e164")),
    ("", (None, "blank")), ("Anonymous", (None, "blank")),
    ("13800x", (None, "'13800x' is not a phone number")),
])
def test_cli_formats(text, out):
    assert e164(text, "86") == out


def test_national_cli_needs_the_country_code():
    assert e164("013800000001") == (None, "'013800000001' is a national number and no country "
                                          "code is given")


def match(files, tolerance=120):
    res = read_testcalls(files / "results.csv", country_code="86")
    ev = probe_events([files / "cdrs.csv"], sorted(set(res.calls["b_number"])))
    return res, match_testcalls(res, ev, campaign="camp", country_code="86",
                                tolerance_s=tolerance)


def test_matching(files, caplog):
    res, m = match(files)
    assert "results.csv:12: test id T1 repeats line 2; the first row is used" in caplog.text
    assert "results.csv:13: test id T9 repeats line 10 with other values" in caplog.text
    got = m.matched.set_index("test_id")[["imsi", "matched_by", "skew_s"]]
    assert got.to_dict(orient="index") == {
        "T1": {"imsi": "460000000000001", "matched_by": "cli", "skew_s": 5},
        "T2": {"imsi": "460000000000002", "matched_by": "cli", "skew_s": 2},
        "T4": {"imsi": "460000000000004", "matched_by": "probe+time", "skew_s": 5}}
    why = m.unmatched.set_index("test_id")["reason"].to_dict()
    assert why == {
        "T3": "the nearest MOC of CLI 8613800000003 to the probe is +180 s from the attempt, "
              "outside the 120 s tolerance (clock skew? raise --tolerance)",
        "T5": "spoofed CLI and 2 MOC to the probe within 120 s: which SIM is not known",
        "T6": "no MOC of CLI 8613800000009 to the probe in the CDRs (the CLI made no call to a "
              "probe: another network's SIM, a spoofed local CLI, or CDRs of other days)",
        "T7": "not answered and no CDR: no MOC of CLI 8613800000007 to the probe (an unanswered "
              "call may leave no CDR)",
        "T8": "not answered: no CLI, nothing to match",
        "T11": "its MOC matched a nearer test call",
        "T1": "test id repeats line 2; the first row is used",
        "T9": "test id repeats line 10 with other values; the first row is used"}
    assert m.labels[["imsi", "label", "case_id", "provenance"]].values.tolist() == [
        ["460000000000001", "simbox", "tc:camp:2026-03-01", "testcall"],
        ["460000000000002", "simbox", "tc:camp:2026-03-01", "testcall"],
        ["460000000000004", "simbox", "tc:camp:2026-03-01", "testcall"]]
    assert m.summary["by_result"] == {"ok": 1, "bypass": 6, "blank_cli": 1, "spoofed_cli": 1,
                                      "no_answer": 1}
    assert m.summary["matched"] == 3 and m.summary["duplicates"] == 2


def test_a_larger_tolerance_absorbs_the_clock_skew(files):
    _, m = match(files, tolerance=200)
    got = m.matched.set_index("test_id")
    assert got.loc["T3", "imsi"] == "460000000000003" and got.loc["T3", "skew_s"] == 180


@pytest.mark.parametrize("row, message", [
    ("X1,44,+44,8619000000001,+8613800000001,2026-03-01 12:00,,,bypas",
     ":2: field 'result': 'bypas' is not one of ok, bypass, blank_cli, spoofed_cli, no_answer"),
    ("X1,44,+44,8619000000001,+8613800000001,yesterday,,,bypass",
     ":2: field 'attempt_time': 'yesterday' is not an ISO-8601 time"),
    (",44,+44,8619000000001,+8613800000001,2026-03-01T12:00:00Z,,,bypass",
     ":2: field 'test_id': empty test_id"),
    ("X1,44,+44,,+8613800000001,2026-03-01T12:00:00Z,,,bypass",
     ":2: field 'b_number': empty b_number (the probe called)"),
])
def test_malformed_rows(tmp_path, row, message):
    p = tmp_path / "r.csv"
    p.write_text(HEAD + row + "\n")
    with pytest.raises(ParseError) as e:
        read_testcalls(p, country_code="86")
    assert str(e.value) == f"{p}{message}"


def test_command(files, history, capsys):
    code = main(["testcalls", str(files / "results.csv"), str(files / "cdrs.csv"),
                 "--country-code", "86", "--campaign", "camp", "--out", str(files / "tc"),
                 "--json"])
    assert code == 0
    s = json.loads(capsys.readouterr().out)
    assert s["matched"] == 3 and s["history"]["new"] == 3
    assert sorted(p.name for p in (files / "tc").iterdir()) == ["labels.csv", "matched.csv",
                                                                "summary.json", "unmatched.csv"]
    # again: the same test ids are kept once; the folder is replaced
    assert main(["testcalls", str(files / "results.csv"), str(files / "cdrs.csv"),
                 "--country-code", "86", "--campaign", "camp", "--out", str(files / "tc")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("10 test call(s) (1 ok, 6 bypass, 1 blank_cli, 1 spoofed_cli, "
                          "1 no_answer): 3 matched to 3 SIM(s) in 1 case(s), 5 not matched "
                          "(unmatched.csv), 2 repeated test id(s); output: ")
    assert main(["labels", "export", "--out", str(files / "labels.csv")]) == 0
    lab = pd.read_csv(files / "labels.csv", dtype=str)
    assert lab["provenance"].tolist() == ["testcall"] * 3
    assert lab["evidence"].iloc[0].startswith("test call T1 at 2026-03-01T12:00:30Z (cli)")


def test_simulated_campaign_matches_its_truth(tc_network):
    net, network, c = tc_network
    res = read_testcalls(net / "testcalls.csv", country_code="86")
    ev = probe_events([net / "cdrs.csv.gz"], c.probes)
    m = match_testcalls(res, ev, campaign="sim", country_code="86")
    truth = c.truth.set_index("test_id")
    found = m.matched.set_index("test_id")["imsi"]
    # every match is right, and every call whose CDR exists and names one SIM is found
    assert (found == truth.loc[found.index, "imsi"]).all()
    findable = truth[(truth["lost"] == False) & (truth["result"] == "bypass")]  # noqa: E712
    assert set(findable.index) <= set(found.index)
    lost = truth.index[truth["lost"]]
    assert len(lost) and not set(lost) & set(found.index)
    assert set(m.unmatched.loc[m.unmatched["test_id"].isin(lost), "result"]) <= \
        {"bypass", "blank_cli", "spoofed_cli"}
    # the SIMs caught are box SIMs of the deployments the campaign reached
    t = network.truth.set_index("imsi")
    assert set(t.loc[m.labels["imsi"], "deployment_id"]) <= set(c.reached)


def test_probe_numbers_leave_the_features(tc_network, tmp_path):
    from simbox.features import compute_features
    net, _, c = tc_network
    (tmp_path / "probes.txt").write_text("# probes\n" + "\n".join("+" + p for p in c.probes))
    a = compute_features([net / "cdrs.csv.gz"], timezone="Asia/Shanghai")
    b = compute_features([net / "cdrs.csv.gz"], timezone="Asia/Shanghai",
                         probe_numbers=tmp_path / "probes.txt")
    cdr = pd.read_csv(net / "cdrs.csv.gz", dtype=str)
    to_probe = cdr[(cdr["record_type"] == "MOC") & cdr["other_party"].isin(c.probes)]
    per_sim = to_probe.groupby("imsi").size()
    assert b.info["probe_calls_dropped"] == len(to_probe) > 0
    diff = (a.features["n_moc"] - b.features["n_moc"].reindex(a.features.index).fillna(0))
    assert diff[diff != 0].astype(int).to_dict() == per_sim.to_dict()


def test_simulate_writes_a_campaign(tmp_path, capsys):
    assert main(["simulate", "--subscribers", "2000", "--days", "2", "--seed", "3",
                 "--testcalls", "50", "--out", str(tmp_path / "s"), "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert {"testcalls", "probes", "testcalls_truth"} <= set(files)
    res = read_testcalls(files["testcalls"], country_code="86")
    probes = (tmp_path / "s" / "probes.txt").read_text().split()
    assert set(res.calls["b_number"]) <= set(probes) and len(res.calls) == 50
    cdr = pd.read_csv(tmp_path / "s" / "cdrs.csv.gz", dtype=str)
    truth = pd.read_csv(files["testcalls_truth"], dtype=str)
    # each bypassed call whose CDR was kept is an MOC of its SIM to a probe, in the CDRs
    kept = truth[truth["lost"] == "False"]
    moc = cdr[(cdr["record_type"] == "MOC") & cdr["other_party"].isin(probes)]
    assert sorted(zip(kept["imsi"], kept["cdr_time"])) == \
        sorted(zip(moc["imsi"], moc["start_time"]))


def test_a_vendor_file_through_a_column_profile(files, tmp_path):
    vendor = pd.read_csv(files / "results.csv", dtype=str, keep_default_na=False).head(9)
    vendor = vendor.rename(columns={"test_id": "CallRef", "b_number": "Probe",
                                    "cli_received": "CLI", "attempt_time": "Start",
                                    "result": "Verdict"})
    vendor["Verdict"] = vendor["Verdict"].map({"bypass": "SIMBOX", "blank_cli": "NO CLI",
                                               "spoofed_cli": "FAKE CLI", "no_answer": "NA",
                                               "ok": "OK"})
    vendor.to_csv(tmp_path / "vendor.csv", index=False)
    (tmp_path / "vendor.json").write_text(json.dumps({
        "columns": {"test_id": "CallRef", "b_number": "Probe", "cli_received": "CLI",
                    "attempt_time": "Start", "result": "Verdict"},
        "values": {"result": {"SIMBOX": "bypass", "NO CLI": "blank_cli",
                              "FAKE CLI": "spoofed_cli", "NA": "no_answer", "OK": "ok"}}}))
    ours = read_testcalls(files / "results.csv", country_code="86").calls.head(9)
    theirs = read_testcalls(tmp_path / "vendor.csv", country_code="86",
                            profile=tmp_path / "vendor.json").calls
    pd.testing.assert_frame_equal(theirs.drop(columns="line"),
                                  ours.drop(columns="line").reset_index(drop=True))
