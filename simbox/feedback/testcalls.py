"""Test calls: the SIM that terminated a bypassed test call, found in the CDRs.

A test-call system calls the carrier's own probe numbers from abroad.  When the call
reaches the probe with a local CLI instead of the international A-number, a SIM box
terminated it: the box's SIM made an MOC to the probe.  The results file (DESIGN.md)::

    test_id,origin,a_number_sent,b_number,cli_received,attempt_time,answer_time,release_time,result

(times ISO-8601 UTC, empty when the call was not answered; ``result`` one of
:data:`RESULTS`).  A column profile (:class:`~simbox.feedback.tables.Profile`) reads a
vendor's names and result words.

Matching (:func:`match_testcalls`), for each call whose result is ``bypass``,
``blank_cli`` or ``spoofed_cli``:

1. the probe: ``b_number`` as E.164 digits (:func:`~simbox.feedback.numbers.e164`);
2. the CDR candidates: MOC to the probe starting within ``tolerance_s`` of the call,
   i.e. in ``[attempt - tolerance, (answer or attempt) + tolerance]`` (clock skew between
   the test system and the switch, and the box's set-up time);
3. ``bypass``: the candidate whose MSISDN is the received CLI (international or national
   format) -- ``matched_by`` ``cli``; a blank or spoofed CLI names no SIM, so the call
   matches when exactly one candidate is left -- ``matched_by`` ``probe+time``;
4. each CDR event matches one call at most (the nearest in time first).

A call that does not match is reported with the reason (no MOC of that CLI to the
probe; the nearest one is N s away: clock skew?; the CLI made no call to a probe; the
call was not answered and left no CDR; several candidates).  A test id seen twice keeps
its first row; the repeat is reported.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simbox.feedback import DEFAULT_TOLERANCE_S
from simbox.feedback.numbers import e164
from simbox.feedback.tables import iso, parse_time, read_table

__all__ = ["RESULTS", "COLUMNS", "TestCallResults", "read_testcalls", "probe_events",
           "match_testcalls", "MatchResult", "DEFAULT_TOLERANCE_S"]

log = logging.getLogger(__name__)

RESULTS = ("ok", "bypass", "blank_cli", "spoofed_cli", "no_answer")
COLUMNS = ("test_id", "origin", "a_number_sent", "b_number", "cli_received", "attempt_time",
           "answer_time", "release_time", "result")
REQUIRED = ("test_id", "b_number", "cli_received", "attempt_time", "result")
MATCHED = ("bypass", "blank_cli", "spoofed_cli")
#: the files of ``simbox testcalls --out``
OUTPUT_FILES = ("matched.csv", "unmatched.csv", "labels.csv", "summary.json")
MATCHED_COLUMNS = ["test_id", "imsi", "msisdn", "label", "case_id", "matched_by", "result",
                   "cli_received", "b_number", "attempt_time", "cdr_time", "skew_s",
                   "cdr_duration_s", "cell_id", "imei", "evidence", "line"]
UNMATCHED_COLUMNS = ["test_id", "result", "reason", "cli_received", "b_number", "attempt_time",
                     "line"]


@dataclass
class TestCallResults:
    """Checked test-call rows (``calls``: one per test id) and the repeats left out."""

    __test__ = False          # (not a pytest class)
    source: str
    calls: pd.DataFrame
    duplicates: list = field(default_factory=list)    # (line, test_id, first line, same?)


def read_testcalls(path, *, country_code: str | None = None, profile=None) -> TestCallResults:
    """Read and check a test-call results file.  Every bad row is checked; one
    :class:`~simbox.errors.ParseError` names the first (nothing is used then)."""
    rows = read_table(path, REQUIRED, what="test-call results", profile=profile,
                      optional=[c for c in COLUMNS if c not in REQUIRED])
    errors = rows.errors
    out, seen, dups = [], {}, []
    for line, get in rows:
        n = len(errors.items)
        tid = get("test_id")
        if not tid:
            errors.add(line, "test_id", "empty test_id")
        result = get("result").lower()
        if result not in RESULTS:
            errors.add(line, "result", f"{get('result')!r} is not one of {', '.join(RESULTS)}")
        probe, why = e164(get("b_number"), country_code)
        if probe is None:
            errors.add(line, "b_number", "empty b_number (the probe called)" if why == "blank"
                       else why)
        times = {}
        for c in ("attempt_time", "answer_time", "release_time"):
            v = get(c)
            if not v:
                if c == "attempt_time":
                    errors.add(line, c, "empty attempt_time")
                times[c] = None
                continue
            try:
                times[c] = parse_time(v)
            except ValueError:
                errors.add(line, c, f"{v!r} is not an ISO-8601 time")
        if len(errors.items) > n:
            continue
        record = (tid, get("origin"), get("a_number_sent"), probe, get("cli_received"),
                  times["attempt_time"], times["answer_time"], times["release_time"], result)
        if tid in seen:
            first_line, first = seen[tid]
            dups.append((line, tid, first_line, first == record))
            continue
        seen[tid] = (line, record)
        out.append(record + (line,))
    errors.raise_if_any()
    calls = pd.DataFrame(out, columns=list(COLUMNS) + ["line"])
    for line, tid, first, same in dups:
        log.warning("%s:%d: test id %s repeats line %d%s; the first row is used", rows.name,
                    line, tid, first, "" if same else " with other values")
    return TestCallResults(rows.name, calls, dups)


def probe_events(inputs, probes, *, columns="canonical", on_bad_records="skip",
                 progress=None) -> pd.DataFrame:
    """The MOC to ``probes`` (E.164 digit strings) in CDR files, as a DataFrame
    (``imsi, msisdn, time`` epoch seconds, ``other_party, duration_s, cell_id, imei``),
    read through the fast path without keeping the rest."""
    from simbox.fastpath.events import CellDict, EventBatch, RecordType, encode_digits  # lazy: kernels
    from simbox.fastpath.readers import open_events  # lazy: as above
    codes = np.unique(np.array([encode_digits(p) for p in probes], dtype=np.int64))
    cells = CellDict()
    kept = []
    for b in open_events(inputs, columns=columns, on_bad_records=on_bad_records, cells=cells,
                         progress=progress):
        m = (b.rtype == int(RecordType.MOC)) & np.isin(b.other, codes)
        if m.any():
            kept.append(b.take(m))
        b.recycle()
    batch = EventBatch.concat(kept)
    ev = batch.to_pandas(cells).assign(time=batch.time.astype(np.int64))
    return ev.drop(columns=["start_time", "record_type"]).reset_index(drop=True)


@dataclass
class MatchResult:
    matched: pd.DataFrame          # MATCHED_COLUMNS
    unmatched: pd.DataFrame        # UNMATCHED_COLUMNS
    labels: pd.DataFrame           # imsi, label, case_id, provenance, evidence
    summary: dict


def _case(campaign: str, t: int) -> str:
    return f"tc:{campaign}:{iso(t)[:10]}"


def match_testcalls(results: TestCallResults, events: pd.DataFrame, *, campaign: str,
                    country_code: str | None = None,
                    tolerance_s: int = DEFAULT_TOLERANCE_S) -> MatchResult:
    """Match the calls of ``results`` to the probe MOC ``events`` (:func:`probe_events`);
    see the module docstring.  ``campaign`` names the cases (``tc:<campaign>:<day>``)."""
    if tolerance_s < 0:
        from simbox.errors import ConfigError  # lazy: rare
        raise ConfigError(f"tolerance must be at least 0 seconds, not {tolerance_s}")
    calls = results.calls
    ev = events.reset_index(drop=True)
    ev_time = ev["time"].to_numpy(dtype=np.int64) if len(ev) else np.empty(0, np.int64)
    ev_other = ev["other_party"].astype(str).to_numpy() if len(ev) else np.empty(0, object)
    ev_msisdn = ev["msisdn"].astype(str).to_numpy() if len(ev) else np.empty(0, object)
    known = set(ev_msisdn)
    # every (call, event) pair in the window, nearest first: a one-to-one greedy assignment
    pairs, notes = [], {}
    for i, c in enumerate(calls.itertuples(index=False)):
        if c.result not in MATCHED:
            continue
        answered = not pd.isna(c.answer_time)
        lo = c.attempt_time - tolerance_s
        hi = (int(c.answer_time) if answered else c.attempt_time) + tolerance_s
        at_probe = np.flatnonzero(ev_other == c.b_number)
        window = at_probe[(ev_time[at_probe] >= lo) & (ev_time[at_probe] <= hi)]
        if c.result == "bypass":
            cli, why = e164(c.cli_received, country_code)
            if cli is None:
                notes[i] = f"bypass with an unreadable CLI: {why}"
                continue
            mine = at_probe[ev_msisdn[at_probe] == cli]
            hits = window[ev_msisdn[window] == cli]
            if not len(hits):
                notes[i] = _why_not(c, cli, mine, ev_time, known, tolerance_s, answered)
                continue
            pairs += [(abs(int(ev_time[j]) - c.attempt_time), i, j, "cli") for j in hits]
        else:
            if len(window) == 1:
                pairs.append((abs(int(ev_time[window[0]]) - c.attempt_time), i, window[0],
                              "probe+time"))
            else:
                kind = "blank" if c.result == "blank_cli" else "spoofed"
                notes[i] = (f"{kind} CLI and no MOC to the probe within {tolerance_s} s"
                            if not len(window) else
                            f"{kind} CLI and {len(window)} MOC to the probe within "
                            f"{tolerance_s} s: which SIM is not known")
    pairs.sort(key=lambda p: (p[0], p[1], p[2]))
    used_call, used_ev, rows = set(), set(), []
    for skew, i, j, how in pairs:
        if i in used_call or j in used_ev:
            continue
        used_call.add(i)
        used_ev.add(j)
        rows.append((i, j, how))
    for i, c in enumerate(calls.itertuples(index=False)):
        if c.result in MATCHED and i not in used_call and i not in notes:
            notes[i] = "its MOC matched a nearer test call"
    matched = _matched_table(calls, ev, rows, campaign)
    unmatched = _unmatched_table(calls, notes, results.duplicates)
    labels = _labels(matched)
    by_result = calls["result"].value_counts()
    summary = {"file": results.source, "campaign": campaign, "calls": int(len(calls)),
               "by_result": {r: int(by_result[r]) for r in RESULTS if r in by_result},
               "matched": int(len(matched)),
               "matched_by": matched["matched_by"].value_counts().to_dict(),
               "unmatched": int((unmatched["result"].isin(MATCHED)).sum()),
               "duplicates": len(results.duplicates), "sims": int(labels["imsi"].nunique()),
               "cases": int(labels["case_id"].nunique()), "tolerance_s": int(tolerance_s),
               "probe_calls_in_cdrs": int(len(ev))}
    return MatchResult(matched, unmatched, labels, summary)


def _why_not(c, cli, mine, ev_time, known, tolerance_s, answered) -> str:
    if len(mine):
        gap = ev_time[mine] - c.attempt_time
        k = int(np.argmin(np.abs(gap)))
        if not answered:
            return (f"not answered and no MOC of CLI {cli} to the probe within {tolerance_s} s "
                    f"(an unanswered call may leave no CDR; the nearest is {int(gap[k]):+d} s "
                    "away)")
        return (f"the nearest MOC of CLI {cli} to the probe is {int(gap[k]):+d} s from the "
                f"attempt, outside the {tolerance_s} s tolerance (clock skew? raise --tolerance)")
    if cli not in known:
        if not answered:
            return (f"not answered and no CDR: no MOC of CLI {cli} to the probe (an "
                    "unanswered call may leave no CDR)")
        return (f"no MOC of CLI {cli} to the probe in the CDRs (the CLI made no call to a "
                "probe: another network's SIM, a spoofed local CLI, or CDRs of other days)")
    return f"no MOC of CLI {cli} to the probe {c.b_number}"


def _matched_table(calls, ev, rows, campaign) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=MATCHED_COLUMNS)
    ci = [i for i, _, _ in rows]
    ej = [j for _, j, _ in rows]
    c = calls.iloc[ci].reset_index(drop=True)
    e = ev.iloc[ej].reset_index(drop=True)
    skew = e["time"].to_numpy(np.int64) - c["attempt_time"].to_numpy(np.int64)
    out = pd.DataFrame({
        "test_id": c["test_id"], "imsi": e["imsi"].astype(str), "msisdn": e["msisdn"].astype(str),
        "label": "simbox",
        "case_id": [_case(campaign, t) for t in c["attempt_time"]],
        "matched_by": [how for _, _, how in rows], "result": c["result"],
        "cli_received": c["cli_received"], "b_number": c["b_number"],
        "attempt_time": [iso(t) for t in c["attempt_time"]],
        "cdr_time": [iso(t) for t in e["time"]], "skew_s": skew,
        "cdr_duration_s": e["duration_s"].to_numpy(), "cell_id": e.get("cell_id", ""),
        "imei": e["imei"].astype(str), "line": c["line"]})
    out["evidence"] = [f"test {t} {r} CLI {cli or '-'} -> MOC {m} to {b} at {ct} ({s:+d} s)"
                       for t, r, cli, m, b, ct, s in zip(out["test_id"], out["result"],
                                                         out["cli_received"], out["msisdn"],
                                                         out["b_number"], out["cdr_time"], skew)]
    return out[MATCHED_COLUMNS].sort_values(["attempt_time", "test_id"]).reset_index(drop=True)


def _unmatched_table(calls, notes, duplicates) -> pd.DataFrame:
    rows = []
    for i, c in enumerate(calls.itertuples(index=False)):
        if i in notes:
            reason = notes[i]
        elif c.result == "no_answer":
            reason = "not answered: no CLI, nothing to match"
        else:
            continue
        rows.append((c.test_id, c.result, reason, c.cli_received, c.b_number, iso(c.attempt_time),
                     c.line))
    for line, tid, first, same in duplicates:
        rows.append((tid, "duplicate", f"test id repeats line {first}"
                     + ("" if same else " with other values") + "; the first row is used",
                     "", "", "", line))
    return pd.DataFrame(rows, columns=UNMATCHED_COLUMNS)


def _labels(matched: pd.DataFrame) -> pd.DataFrame:
    """One label row per SIM: the case of its first caught call (campaign and day), every
    call that caught it as evidence.  (One case per SIM: cases sharing a SIM would be
    merged into one cross-validation group, and a box caught on several days would leave
    a single case.)"""
    cols = ["imsi", "label", "case_id", "provenance", "evidence"]
    if not len(matched):
        return pd.DataFrame(columns=cols)
    g = matched.sort_values(["attempt_time", "test_id"]).groupby("imsi", sort=True)
    out = g.agg(label=("label", "first"), case_id=("case_id", "first"),
                evidence=("evidence", lambda s: "; ".join(s))).reset_index()
    out["provenance"] = "testcall"
    return out[cols]


def write_testcalls(result: MatchResult, out) -> None:
    """``matched.csv``, ``unmatched.csv``, ``labels.csv`` and ``summary.json`` into ``out``
    (atomically: :func:`simbox.outputs.atomic_folder`)."""
    import json  # lazy: small
    from simbox.outputs import atomic_folder, write_csv  # lazy: the writers
    with atomic_folder(out, files=OUTPUT_FILES) as tmp:
        write_csv(result.matched, tmp / "matched.csv")
        write_csv(result.unmatched, tmp / "unmatched.csv")
        write_csv(result.labels, tmp / "labels.csv")
        with open(tmp / "summary.json", "w", encoding="utf-8") as f:
            json.dump(result.summary, f, indent=1, default=str)
            f.write("\n")

