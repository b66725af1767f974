"""The scan's fast paths (byte-code scoring, the CSV row kernel, one sort of the scores and
of the flagged rows, no reasons when nothing is flagged, value counts by factorize, pair
tables looked up by category codes) write the same bytes as the reference paths they
replace: every output file of a small network compared byte for byte, with SIMs
flagged, none flagged and all flagged."""
import importlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simbox
import simbox.deployments as deployments_mod
import simbox.outputs as outputs_mod
import simbox.sites as sites_mod
from simbox.data import simulate
from simbox.training import scoring as scoring_mod

scan_mod = importlib.import_module("simbox.scan")    # the module (simbox.scan is callable)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    base = tmp_path_factory.mktemp("net")
    simulate(3000, 2, "mixed", 11, base)
    return base


def counts_reference(values):
    """sites._counts as it was: a dict of counts, most frequent first, ties first seen."""
    import numpy as np
    n = {}
    for v in values.tolist():
        n[v] = n.get(v, 0) + 1
    keys = list(n)
    counts = np.array([n[k] for k in keys], dtype=np.int64)
    order = np.argsort(-counts, kind="stable")
    return [keys[i] for i in order], counts[order]


def by_deployment_reference(flagged, ids, key):
    rank = {d: i for i, d in enumerate(ids)}
    return flagged.assign(_r=flagged["deployment_id"].map(rank)) \
        .sort_values(["_r", "score", key], ascending=[True, False, True], kind="stable")


def reference_paths(mp):
    """The paths the fast ones replace: float codes, the csv module, a sort of scores and
    keys (and of deployments, scores and keys), the reference statistics computed even when
    no SIM is flagged, value counts by a dict, pair lookups by the keys' texts."""
    mp.setattr(scoring_mod, "MAX_CODE_EDGES", -1)
    mp.setattr(scan_mod, "by_deployment", by_deployment_reference)
    mp.setattr(sites_mod, "_counts", counts_reference)
    mp.setattr(sites_mod, "positions", lambda values, index: None)
    mp.setattr(deployments_mod, "positions", lambda values, index: None)
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


@pytest.mark.parametrize("seed", range(20))
def test_by_deployment_is_the_sort_by_deployment_score_then_key(seed):
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    keys = sorted(set(rng.choice(["a", "b", "aa", "é", "Z", "10", "9", "x", "y"], size=n)))
    if seed % 3 == 0:                     # keys out of order: the full sort
        keys = list(rng.permutation(keys))
    n = len(keys)
    df = pd.DataFrame({"imsi": pd.Series(keys, dtype="str" if seed % 2 else object),
                       "score": rng.choice([0.0, -0.0, 0.1, 0.5, 1.0, np.nan], size=n),
                       "deployment_id": rng.choice(["D1", "D2", "D3", "none"], size=n)})
    ids = pd.Series(list(rng.permutation(["D1", "D2", "D3"]))[: int(rng.integers(0, 4))])
    want = by_deployment_reference(df, ids, "imsi")
    assert list(scan_mod.by_deployment(df, ids, "imsi").index) == list(want.index)


def formulas_reference(df):
    """outputs.neutralise_formulas as it was: each cell's first character tested."""
    import pandas as pd
    out = None
    for c in df.columns:
        col = df[c]
        if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
            continue
        first = col.str[:1] if pd.api.types.is_string_dtype(col) else \
            col.map(lambda v: v[:1] if isinstance(v, str) else "")
        text = first.isin(outputs_mod.FORMULA_START).to_numpy(dtype=bool).copy()
        if text.any():
            text[text] = [outputs_mod._NUMBER.fullmatch(str(v)) is None for v in col[text]]
        if text.any():
            out = df.copy() if out is None else out
            out.loc[text, c] = "'" + col[text].astype(str)
    return df if out is None else out


@pytest.mark.parametrize("seed", range(30))
def test_formulas_neutralised_as_each_cell_tested(seed):
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    alpha = list("=+-@\t\r1.eE a,") + ["=HYPERLINK(x)", "-12.5", "+1e5", "@x", ""]
    n = int(rng.integers(0, 12))
    vals = ["".join(rng.choice(alpha, int(rng.integers(0, 4)))) for _ in range(n)]
    mixed = vals + [None, np.nan, 3, [1]][: int(rng.integers(0, 5))]
    for df in (pd.DataFrame({"s": pd.array(vals, dtype="str"), "o": pd.Series(vals, dtype=object),
                             "x": np.arange(n)}),
               pd.DataFrame({"o": pd.Series(mixed, dtype=object)})):
        got, want = outputs_mod.neutralise_formulas(df), formulas_reference(df)
        assert got.equals(want) and list(got.dtypes) == list(want.dtypes)


def test_member_keeps_its_last_answer_for_the_same_indexes():
    import numpy as np
    import pandas as pd
    values, index = pd.Index(["a", "b", "c"]), pd.Index(["c", "a"])
    first = deployments_mod.member(values, index)
    first[:] = False                                  # the caller's copy, not the kept one
    assert deployments_mod.member(values, index).tolist() == [True, False, True]
    assert deployments_mod.member(values, pd.Index(["b"])).tolist() == [False, True, False]
    assert deployments_mod.member(np.array(["a", "b"]), index).tolist() == [True, False]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 40), groups=st.integers(1, 6), width=st.integers(0, 5),
       seed=st.integers(0, 2**32 - 1), ordered=st.booleans(), big=st.booleans())
def test_sum_rows_equals_the_float_bincount_sums(n, groups, width, seed, ordered, big):
    """sum_rows (integer rows in group order: int64 sums) against float ``np.bincount`` per
    column, the path it replaces; unordered groups and float rows take that path itself."""
    import numpy as np
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, n)
    if ordered:
        group = np.sort(group)
    top = 2**40 if big else 60
    for rows in (rng.integers(0, top, (n, width)).astype(np.int64),
                 rng.integers(0, 60, (n, width)).astype(np.int32),
                 rng.random((n, width))):
        want = np.empty((groups, width))
        for c in range(width):
            want[:, c] = np.bincount(group, weights=rows[:, c].astype(float), minlength=groups)
        got = deployments_mod.sum_rows(rows, group, groups)
        assert got.dtype == np.float64 and got.shape == (groups, width)
        assert np.array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), unique=True, max_size=5),
       other=st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), unique=True, max_size=5),
       same=st.booleans(), as_str=st.booleans())
def test_lookups_of_the_same_keys_equal_the_hash_lookups(keys, other, same, as_str):
    """positions() and member() with the same keys in the same order (same_keys: no lookup)
    against ``get_indexer``, the lookup they skip; categories of the str dtype too."""
    import numpy as np
    import pandas as pd
    index = pd.Index(keys, dtype=object)
    cats = list(keys) if same else list(other)
    values = pd.Series(pd.Categorical.from_codes(
        np.arange(-1, len(cats)) if cats else np.array([-1]),
        dtype=pd.CategoricalDtype(pd.Index(cats, dtype="str" if as_str else object))))
    want = np.append(index.get_indexer(values.cat.categories), -1)[values.cat.codes.to_numpy()]
    assert deployments_mod.positions(values, index).tolist() == want.tolist()
    deployments_mod._LAST_MEMBER[0] = None
    probe = pd.Index(cats, dtype=object)
    assert deployments_mod.member(probe, index).tolist() == (index.get_indexer(probe) >= 0).tolist()
    assert deployments_mod.same_keys(probe, index) == (list(probe) == list(index))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(
    list("=+-@\t\r a1é日'")), max_size=4)), max_size=12), cut=st.integers(0, 2))
def test_formula_starts_equal_the_str_accessor(values, cut):
    """formula_starts (first bytes from the Arrow buffers) against ``str[:1].isin``, the
    path it replaces, with missing values and a column that is a slice of another."""
    import pandas as pd
    col = pd.Series(["x"] * cut + values, dtype="str").iloc[cut:]
    want = col.str[:1].isin(outputs_mod.FORMULA_START).to_numpy(dtype=bool)
    assert outputs_mod.formula_starts(col).tolist() == want.tolist()
    assert outputs_mod.formula_starts(col.astype(object).astype("string[python]")).tolist() == \
        want.tolist()


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 60), sims=st.integers(1, 8), n_cells=st.integers(1, 6),
       seed=st.integers(0, 2**32 - 1), labels=st.booleans(), big=st.booleans())
def test_cell_sums_by_codes_equal_the_groupby(n, sims, n_cells, seed, labels, big):
    """cell_sums through the category codes (numpy sums per (group, cell) pair) against the
    ``groupby`` of every event row it replaces (its path without lookups by codes): groups of
    texts or integer labels (one missing), SIMs not in any group, cells missing from the
    table, without coordinates, with no code (NaN), events of 0 and sums past 2**32."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    keys = [f"s{i}" for i in range(sims)]
    cell_ids = [f"c{i}" for i in range(n_cells)]
    known = sorted(rng.choice(cell_ids, int(rng.integers(0, n_cells + 1)), replace=False))
    cells = pd.DataFrame({"site_id": [f"S{c}" for c in known],
                          "lat": rng.choice([1.0, 2.0, np.nan], len(known)),
                          "lon": rng.choice([3.0, 4.0, np.nan], len(known))},
                         index=pd.Index(known, name="cell_id", dtype=object))
    codes = rng.integers(-1, n_cells, n)
    cell_events = pd.DataFrame({
        "imsi": pd.Categorical.from_codes(rng.integers(-1, sims, n),
                                          dtype=pd.CategoricalDtype(pd.Index(keys, dtype=object))),
        "cell_id": pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(
            pd.Index(list(rng.permutation(cell_ids)), dtype=object))),
        "events": rng.integers(0, 2**40 if big else 5, n).astype(np.int64)})
    members = [k for k in keys if rng.random() < 0.8]
    values = rng.integers(0, 3, len(members)) if labels else \
        np.array(rng.choice(["A", "B", "é"], len(members)), dtype=object)
    if labels and len(members) > 1:
        values = values.astype(float)
        values[0] = np.nan                                    # a SIM in no group
    groups = pd.Series(values, index=pd.Index(members, dtype=object))
    got = sites_mod.cell_sums(groups, cell_events, cells)
    with pytest.MonkeyPatch.context() as mp:      # no lookup by codes: the DataFrame path
        mp.setattr(sites_mod, "positions", lambda values, index: None)
        want = sites_mod.cell_sums(groups, cell_events, cells)
    assert (got is None) == (want is None)
    if want is not None:
        pd.testing.assert_frame_equal(got, want)
