"""The scan's fast paths (byte-code scoring, the CSV row kernel, one sort of the scores,
no reasons when nothing is flagged) write the same bytes as the reference paths they
replace: every output file of a small network compared byte for byte, with SIMs
flagged, none flagged and all flagged."""
import importlib
import json

import pytest

import simbox
import simbox.outputs as outputs_mod
from simbox.data import simulate
from simbox.training import scoring as scoring_mod

scan_mod = importlib.import_module("simbox.scan")    # the module (simbox.scan is callable)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    base = tmp_path_factory.mktemp("net")
    simulate(3000, 2, "mixed", 11, base)
    return base


def reference_paths(mp):
    """The paths the fast ones replace: float codes, the csv module, a sort of scores and
    keys, the reference statistics computed even when no SIM is flagged."""
    mp.setattr(scoring_mod, "MAX_CODE_EDGES", -1)
    mp.setattr(outputs_mod, "_write_rows_fast", lambda df, f: False)
    mp.setattr(scan_mod, "by_score", lambda df, key: df.sort_values(
        ["score", key], ascending=[False, True], kind="stable").reset_index(drop=True))
    reasons = scan_mod._reasons
    mp.setattr(scan_mod, "_reasons", lambda *a, **k: reasons(*a, **{**k, "explain": True}))


def files(folder):
    out = {}
    for p in sorted(folder.iterdir()):
        if p.name == "summary.json":
            s = json.loads(p.read_text())
            for k in ("seconds", "scanned_at", "out"):
                s.pop(k, None)
            out[p.name] = s
        else:
            out[p.name] = p.read_bytes()
    return out


@pytest.mark.parametrize("threshold", [None, 0.0, 1.0])
def test_outputs_are_byte_identical_to_the_reference_paths(net, tmp_path, threshold):
    def run(out):
        return simbox.scan([net / "cdrs.csv.gz"], cells=net / "cells.csv", tac=net / "tac.csv",
                           timezone="UTC", threshold=threshold, out=tmp_path / out,
                           report=False, history=False)
    fast = run("fast")
    with pytest.MonkeyPatch.context() as mp:
        reference_paths(mp)
        ref = run("ref")
    flagged = fast.summary["flagged"]
    assert flagged == ref.summary["flagged"]
    assert (flagged == 0) == (threshold == 1.0) and (flagged == fast.summary["sims"]) == \
        (threshold == 0.0)
    a, b = files(tmp_path / "fast"), files(tmp_path / "ref")
    assert sorted(a) == sorted(b) and "scores.csv" in a
    for name in a:
        assert a[name] == b[name], name


@pytest.mark.parametrize("seed", range(20))
def test_by_score_is_the_sort_by_score_then_key(seed):
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    keys = sorted(rng.choice(["a", "b", "aa", "é", "Z", "10", "9"], size=n))
    if seed % 3 == 0:                     # keys out of order: the full sort
        keys = list(rng.permutation(keys))
    df = pd.DataFrame({"imsi": pd.Series(keys, dtype="str" if seed % 2 else object),
                       "score": rng.choice([0.0, -0.0, 0.1, 0.5, 1.0, np.nan], size=n),
                       "row": np.arange(n)})
    want = df.sort_values(["score", "imsi"], ascending=[False, True], kind="stable")
    assert scan_mod.by_score(df, "imsi").equals(want.reset_index(drop=True))
