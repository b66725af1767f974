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
import simbox.device_rule as device_rule_mod
import simbox.outputs as outputs_mod
import simbox.sites as sites_mod
from simbox.data import simulate
from simbox.training import scoring as scoring_mod

compute_mod = importlib.import_module("simbox.features.compute")

scan_mod = importlib.import_module("simbox.scan")    # the module (simbox.scan is callable)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    base = tmp_path_factory.mktemp("net")
    simulate(3000, 2, "mixed", 11, base)
    return base


def counts_reference(values):
    """sites._code_counts as it was (of the values): a dict of counts, most frequent first,
    ties first seen."""
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


def flagged_rows_reference(res, preds, sims, reasons, key, ids, rows, per_row):
    """scan.flagged_rows as it was: the SIMs' rows joined, then sorted by deployment."""
    out = scan_mod.by_deployment(scan_mod._sim_rows(res, preds, sims, reasons, key), ids, key)
    return out[scan_mod.keyed(scan_mod.FLAGGED_COLUMNS, key) + per_row].reset_index(drop=True)


def factorized_reference(values):
    """deployments.factorized as it was: pd.factorize of the values as objects."""
    import numpy as np
    code, uniques = pd_factorize(values.to_numpy() if hasattr(values, "to_numpy") else values)
    return code, np.asarray(uniques, dtype=object)


def pd_factorize(values):
    import pandas as pd
    return pd.factorize(values)


def names_reference(codes, names):
    """compute.text_of_codes as it was: features.post's object array of names ("" for -1)."""
    import numpy as np
    from simbox.features import post
    return post._names(np.asarray(codes), np.asarray(names, dtype=object))


def reference_paths(mp):
    """The paths the fast ones replace: float codes, the csv module, a sort of scores and
    keys (and of deployments, scores and keys), the reference statistics computed even when
    no SIM is flagged, value counts by a dict, pair lookups by the keys' texts, texts
    factorized as objects, the flagged and score rows joined and sorted as DataFrames."""
    import numpy as np
    mp.setattr(scoring_mod, "MAX_CODE_EDGES", -1)
    mp.setattr(scan_mod, "by_deployment", by_deployment_reference)
    mp.setattr(sites_mod, "_code_counts", lambda code, names: counts_reference(
        np.append(np.asarray(names, dtype=object), np.nan)[np.asarray(code)]))
    mp.setattr(sites_mod, "positions", lambda values, index: None)
    mp.setattr(deployments_mod, "positions", lambda values, index: None)
    mp.setattr(outputs_mod, "_write_rows_fast", lambda df, f: False)
    mp.setattr(scan_mod, "by_score", lambda df, key: df.sort_values(
        ["score", key], ascending=[False, True], kind="stable").reset_index(drop=True))
    reasons = scan_mod._reasons
    mp.setattr(scan_mod, "_reasons", lambda *a, **k: reasons(*a, **{**k, "explain": True}))
    mp.setattr(scan_mod, "by_deployment_id", lambda *a: None)    # every site located again
    mp.setattr(deployments_mod, "_ordered_join", ordered_join_reference)
    mp.setattr(deployments_mod, "distinct_per", distinct_per_reference)
    mp.setattr(deployments_mod, "unique_ints", unique_ints_reference)
    mp.setattr(deployments_mod, "majority_class",
               lambda df, pos, comps: deployments_mod._tally_classes(df, comps))
    mp.setattr(scan_mod, "flagged_rows", flagged_rows_reference)
    mp.setattr(scan_mod, "score_rows", lambda preds, sims, key, per_row, res=None:
               scan_mod.scores_table(preds, sims, key, per_row))
    mp.setattr(scan_mod, "_aligned", lambda values, index: values.reindex(index))
    mp.setattr(compute_mod, "text_of_codes", names_reference)
    for mod in (scan_mod, sites_mod, deployments_mod, device_rule_mod):
        name = "codes_of" if mod is sites_mod else "factorized"
        mp.setattr(mod, name, factorized_reference)


def ordered_join_reference(keys, values):
    """deployments._ordered_join as it was: pandas groupbys of the (key, value) pairs."""
    import numpy as np
    import pandas as pd
    df = pd.DataFrame({"k": keys, "v": values.astype(str).to_numpy(), "o": np.arange(len(keys))})
    df = df.loc[df["v"] != ""]
    c = df.groupby(["k", "v"], sort=False).agg(n=("o", "size"), o=("o", "min")).reset_index()
    c = c.sort_values(["k", "n", "o"], ascending=[True, False, True])
    return c.groupby("k", sort=False).agg(n=("v", "size"), joined=("v", ";".join))


def distinct_per_reference(group, codes, name):
    """deployments.distinct_per as it was: pandas' ``nunique`` per group (of the values
    whose codes are ``codes``, -1 missing)."""
    import numpy as np
    import pandas as pd
    values = np.where(np.asarray(codes) >= 0, np.asarray(codes).astype(str), None)
    return pd.DataFrame({name: group, "imei": values}).groupby(name)["imei"].nunique()


def unique_ints_reference(values, *, return_index=False, return_inverse=False):
    import numpy as np
    return np.unique(values, return_index=return_index, return_inverse=return_inverse)


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
    # the library's tables too: the same values and dtypes
    import pandas as pd
    for table in ("flagged", "scores", "deployments", "sites"):
        pd.testing.assert_frame_equal(getattr(fast, table), getattr(ref, table), check_exact=True)


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
    one = [vals[0] if vals else "=x"] * n + mixed[n:]       # one text (then other objects)
    for df in (pd.DataFrame({"s": pd.array(vals, dtype="str"), "o": pd.Series(vals, dtype=object),
                             "x": np.arange(n)}),
               pd.DataFrame({"o": pd.Series(mixed, dtype=object)}),
               pd.DataFrame({"o": pd.Series(one, dtype=object)})):
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
                 # sums past the rows' own integers (made in int64), negative and unsigned
                 rng.integers(2**30, 2**31 - 1, (n, width)).astype(np.int32),
                 rng.integers(-2**15, 2**15 - 1, (n, width)).astype(np.int16),
                 rng.integers(0, 255, (n, width)).astype(np.uint8),
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
    deployments_mod._SAME_KEYS.clear()      # the categories (str or objects) against objects
    assert deployments_mod.same_keys(values.cat.categories, index) == (cats == list(keys))
    assert deployments_mod.same_keys(index, values.cat.categories) == (cats == list(keys))


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
@given(rows=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["", "a", "b", "S1", "S2", None])),
                     max_size=40), ordered=st.booleans(), shift=st.sampled_from([0, -3]))
def test_ordered_join_equals_the_pandas_groupbys(rows, ordered, shift):
    """_ordered_join (one sort of factorized pairs) against the groupbys it replaces, as
    deployment_table reads them: empty and missing values, ties broken by first row; rows
    in order already (no sort) and negative keys."""
    import numpy as np
    import pandas as pd
    rows = sorted(rows, key=lambda r: (r[0], str(r[1]))) if ordered else rows
    keys = np.array([r[0] for r in rows], dtype=np.int64) + shift
    values = pd.Series([r[1] for r in rows], dtype=object)
    got, want = deployments_mod._ordered_join(keys, values), ordered_join_reference(keys, values)
    comps = np.arange(6) + shift
    for c, fill in (("n", 0), ("joined", "")):
        assert got[c].reindex(comps, fill_value=fill).tolist() == \
            want[c].reindex(comps, fill_value=fill).tolist()


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from([0, 3, 7, None, 2]),
                               st.sampled_from(["x", "y", "z", None, "35"])), max_size=40),
       textual=st.booleans())
def test_distinct_per_equals_nunique(rows, textual):
    """distinct_per (factorized pairs, one sort) against pandas' ``groupby().nunique()``:
    missing groups left out, a group of missing values counted 0, groups in order."""
    import numpy as np
    import pandas as pd
    group = np.array([None if g is None else (f"S{g}" if textual else g) for g, _ in rows],
                     dtype=object)
    if not textual and None not in group.tolist():
        group = group.astype(np.int64)
    values = pd.array([v for _, v in rows], dtype="str")
    codes = pd.factorize(values)[0]
    got, want = deployments_mod.distinct_per(group, codes, "site"), \
        pd.DataFrame({"site": group, "imei": values}).groupby("site")["imei"].nunique()
    assert distinct_per_reference(group, codes, "site").tolist() == want.tolist()
    assert got.index.tolist() == want.index.tolist() and got.tolist() == want.tolist()
    assert got.index.name == want.index.name
    if group.dtype.kind == "i":
        assert got.index.dtype == want.index.dtype


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.integers(-3, 6), max_size=40), wide=st.booleans(),
       ordered=st.booleans())
def test_unique_ints_equals_np_unique(values, wide, ordered):
    import numpy as np
    x = np.array(values, dtype=np.int64 if wide else np.int32) * (2**40 if wide else 1)
    x = np.sort(x) if ordered else x            # (in order: unique_ints sorts nothing)
    for flags in ({}, {"return_index": True}, {"return_inverse": True},
                  {"return_index": True, "return_inverse": True}):
        got, want = deployments_mod.unique_ints(x, **flags), np.unique(x, **flags)
        got, want = (got,) if not flags else got, (want,) if not flags else want
        assert all(np.array_equal(a, b) for a, b in zip(got, want))


@settings(max_examples=200, deadline=None)
@given(seconds=st.lists(st.integers(-62135596800, 253402300799), max_size=8),
       nat=st.integers(0, 2), zoned=st.booleans(), unit=st.sampled_from(["s", "ms", "ns"]))
def test_iso_times_equal_numpys_text_and_a_z(seconds, nat, zoned, unit):
    """iso_times (numpy's text with its "Z", timezone="UTC") against the expression it
    replaces: ``np.char.add(datetime_as_string(...), "Z")``, NaT empty; naive and zoned."""
    import numpy as np
    import pandas as pd
    values = np.array(seconds + [0] * nat, dtype=np.int64).view("datetime64[s]")
    values[len(seconds):] = np.datetime64("NaT")
    if unit == "ns":            # (datetime64[ns] holds the years 1678-2261 only)
        values = values[(values >= np.datetime64("1678-01-01")) | np.isnat(values)]
    s = pd.Series(values.astype(f"datetime64[{unit}]"))
    if zoned:
        s = s.dt.tz_localize("UTC").dt.tz_convert("Asia/Dhaka")
    df = pd.DataFrame({"t": s, "x": range(len(s))})
    secs = outputs_mod.utc_times(s).astype("datetime64[s]")
    want = pd.Series(np.char.add(np.datetime_as_string(secs, unit="s"), "Z").astype(object),
                     index=df.index).where(s.notna(), "")
    got = outputs_mod.iso_times(df)
    assert got["t"].tolist() == want.tolist() and got["x"].tolist() == df["x"].tolist()


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.text(alphabet="abc", min_size=1, max_size=3), unique=True, max_size=40),
       probe=st.lists(st.one_of(st.none(), st.text(alphabet="abcd", min_size=1, max_size=3)),
                      unique=True, max_size=6),
       keys_str=st.booleans(), probe_str=st.booleans())
def test_index_of_equals_get_indexer(keys, probe, keys_str, probe_str):
    """index_of (a short index looked up in the keys' hash table, or the keys in the index)
    against ``index.get_indexer(keys)``, the lookup it replaces, with keys and index of the
    ``str`` dtype or objects, and a missing key; member() of unique values likewise."""
    import pandas as pd
    k = pd.Index(keys, dtype="str" if keys_str else object)
    index = pd.Index(probe, dtype="str" if probe_str and None not in probe else object)
    want = index.get_indexer(k)
    assert deployments_mod.index_of(k, index).tolist() == want.tolist()
    deployments_mod._LAST_MEMBER[0] = None
    assert deployments_mod.member(k, index).tolist() == (want >= 0).tolist()


def test_index_of_keeps_the_last_answer_of_the_same_two_indexes():
    """The answers kept for the last Index objects: the same again, a copy each time (a
    caller changing it changes nothing kept); another object of the same keys in the same
    order served too; one of other keys (or another order) looked up."""
    import pandas as pd
    keys = pd.Index([f"k{i}" for i in range(50)], dtype=object)
    index = pd.Index([f"k{i}" for i in range(0, 50, 3)] + ["absent"], dtype=object)
    want = index.get_indexer(keys).tolist()
    first = deployments_mod.index_of(keys, index)
    assert first.tolist() == want
    first[:] = 99
    assert deployments_mod.index_of(keys, index).tolist() == want
    other = pd.Index(list(index[:-1]) + ["k1"], dtype=object)   # another object, another answer
    assert deployments_mod.index_of(keys, other).tolist() == other.get_indexer(keys).tolist()
    assert deployments_mod.index_of(keys, index).tolist() == want
    again = pd.Index(list(index), dtype="str")                  # the same keys, another object
    assert deployments_mod.index_of(keys, again).tolist() == want
    turned = pd.Index(list(index)[::-1], dtype=object)
    assert deployments_mod.index_of(keys, turned).tolist() == turned.get_indexer(keys).tolist()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["simbox", "cardfarm", "legit", None]),
                          st.sampled_from([0.5, 0.25, 0.75, 1.0, 0.1, float("nan")])),
                min_size=1, max_size=40),
       st.booleans())
def test_majority_class_equals_the_groupby_tally(rows, as_str):
    """deployments.majority_class (a component of one class at once) equals the groupby tally
    of every component (most rows, then the higher summed score, then the class order),
    with missing classes and scores, as the object or the text dtype."""
    import numpy as np
    import pandas as pd
    comp, cls, score = (list(x) for x in zip(*rows))
    df = pd.DataFrame({"class": pd.Series(cls, dtype="str" if as_str else object),
                       "score": score, "_comp": np.asarray(comp, dtype=np.int64) * 3})
    comps = np.unique(df["_comp"].to_numpy())
    pos = np.searchsorted(comps, df["_comp"].to_numpy())
    got = deployments_mod.majority_class(df, pos, comps)
    want = deployments_mod._tally_classes(df, comps)
    assert got.index.tolist() == comps.tolist()
    assert [None if pd.isna(v) else v for v in got.tolist()] == \
        [None if pd.isna(v) else v for v in want.tolist()]


def _fake_run(rng, n, n_flagged, key_kind, score_pool):
    """A feature run's tables (keys in order, pair tables' ``imsi`` categorical over them),
    predictions and the flagged SIMs' table with deployments, as :func:`scan.assemble` has them."""
    import types
    import numpy as np
    import pandas as pd
    keys = sorted({str(k) for k in rng.integers(10 ** 5, 10 ** 5 + 4 * n + 1, size=n)})
    n = len(keys)
    index = pd.Index(np.array(keys, dtype=object), name="imsi", dtype=object)
    features = pd.DataFrame({c: rng.integers(0, 9, n) for c in
                             ("n_moc", "n_mtc", "n_sms_mo", "n_sms_mt", "n_data")}, index=index)
    t0 = pd.Timestamp("2026-03-01", tz="UTC")
    sims = pd.DataFrame({"msisdn": rng.choice(["", "33612", "=1+2", "é9"], n),
                         "main_imei": rng.choice(["", "3569", "1234"], n),
                         "device_type": rng.choice(["", "phone"], n),
                         "main_cell": rng.choice(["c1", "c2", ""], n),
                         "main_site": rng.choice(["S1", "S2", ""], n),
                         "first_seen": t0 + pd.to_timedelta(rng.integers(0, 99, n), unit="s"),
                         "last_seen": t0 + pd.to_timedelta(rng.integers(99, 999, n), unit="s"),
                         "n_events": rng.integers(1, 50, n)}, index=index)
    if key_kind:
        sims["subscriber_key"] = rng.choice(["imsi", "msisdn"], n)
    cat = pd.CategoricalDtype(index.to_numpy())
    devices = pd.DataFrame({"imsi": pd.Categorical.from_codes(np.arange(n), dtype=cat),
                            "imei": sims["main_imei"].to_numpy()})
    res = types.SimpleNamespace(features=features, sims=sims, devices=devices, cells=devices)
    preds = pd.DataFrame({"score_simbox": rng.choice(score_pool, n),
                          "score_cardfarm": rng.choice(score_pool, n),
                          "score_legit": rng.random(n),
                          "class": rng.choice(["simbox", "cardfarm", "legit"], n),
                          "score": rng.choice(score_pool, n)}, index=index)
    preds["class"] = preds["class"].astype("str")
    preds["flagged"] = np.zeros(n, dtype=bool)
    rows = np.sort(rng.choice(n, size=min(n_flagged, n), replace=False))
    preds.iloc[rows, preds.columns.get_loc("flagged")] = True
    mask = preds["flagged"].to_numpy()
    flagged = sims.loc[mask].join(preds.loc[mask, ["class", "score"]])
    pool = ["D1", "D2", "D10", "D3"]
    flagged = flagged.assign(deployment_id=pd.Series(rng.choice(pool, len(flagged)),
                                                     index=flagged.index, dtype=object))
    ids = pd.Series(list(rng.permutation(pool))[: int(rng.integers(1, 5))])   # some in none
    return res, preds, flagged, ids, rows


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 60), share=st.floats(0, 1),
       key_kind=st.booleans(), with_reasons=st.booleans(),
       key=st.sampled_from(["imsi", "subscriber"]))
def test_flagged_rows_equal_the_joined_and_sorted_rows(seed, n, share, key_kind, with_reasons, key):
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    # scores that tie, tie once rounded to 4 decimals, or are missing
    pool = [0.5, 0.12344, 0.12341, 0.9, np.nan, 0.0, 1.0]
    res, preds, flagged, ids, rows = _fake_run(rng, n, int(round(share * n)), key_kind, pool)
    reasons = pd.Series(rng.choice(["a, b", "=x", ""], len(flagged)), index=flagged.index,
                        dtype=object) if with_reasons else pd.Series([], dtype=object)
    per_row = ["subscriber_key"] if key_kind else []
    got = scan_mod.flagged_rows(res, preds, flagged, reasons, key, ids, rows, per_row)
    want = flagged_rows_reference(res, preds, flagged, reasons, key, ids, rows, per_row)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 60), key_kind=st.booleans(),
       key=st.sampled_from(["imsi", "subscriber"]))
def test_score_rows_equal_the_scores_table(seed, n, key_kind, key):
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    pool = [0.5, 0.12344, 0.12341, 0.9, np.nan, 0.0, 1.0, 0.33333333]
    res, preds, _, _, _ = _fake_run(rng, n, n // 2, key_kind, pool)
    per_row = ["subscriber_key"] if key_kind else []
    got = scan_mod.score_rows(preds, res.sims, key, per_row, res)
    want = scan_mod.scores_table(preds, res.sims, key, per_row)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    # (and without the run's texts: the keys converted here)
    pd.testing.assert_frame_equal(scan_mod.score_rows(preds, res.sims, key, per_row), want,
                                  check_exact=True)


@settings(max_examples=200, deadline=None)
@given(codes=st.lists(st.integers(-1, 4), max_size=30),
       names=st.lists(st.sampled_from(["", "S1", "é", "46000-1-2", "a,b", "=x"]), min_size=5,
                      max_size=5))
def test_text_of_codes_equals_the_names_array(codes, names):
    import numpy as np
    import pandas as pd
    got = pd.DataFrame({"c": compute_mod.text_of_codes(np.array(codes, dtype=np.int64), names)})
    want = pd.DataFrame({"c": names_reference(np.array(codes, dtype=np.int64), names)})
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.sampled_from(["", "a", "S1", "é", "D001", "10"]),
                                 st.just(None)), max_size=40),
       as_str=st.booleans())
def test_factorized_equals_pd_factorize_of_the_objects(values, as_str):
    import numpy as np
    import pandas as pd
    s = pd.Series(values, dtype="str" if as_str else object)
    code, names = deployments_mod.factorized(s)
    want_code, want_names = pd.factorize(s.to_numpy())
    assert np.array_equal(code, want_code) and names.dtype == object
    assert names.tolist() == list(want_names)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.sampled_from(["", "a", "S1", "é", "D001"]), st.just(None)),
                      max_size=40))
def test_code_counts_equal_the_value_counts_of_the_values(values):
    import numpy as np
    import pandas as pd
    code, names = deployments_mod.factorized(pd.Series(values, dtype=object))
    keys, counts = sites_mod._code_counts(code, names)
    values = np.append(names, np.nan)[code]           # (a missing value: NaN)
    want_keys, want_counts = counts_reference(values)
    assert [k if k == k else "NaN" for k in keys] == [k if k == k else "NaN" for k in want_keys]
    assert counts.tolist() == want_counts.tolist()
    vc = pd.Series(values, dtype=object).value_counts(dropna=False, sort=True)
    assert counts.tolist() == vc.tolist()


def flag_reference(predictions, threshold, farms=None):
    """scan._flag as it was: pandas' masked assignments into the class column."""
    import numpy as np
    p = predictions.copy()
    if threshold is not None:
        p["flagged"] = p["score"].to_numpy() >= threshold
    p["flagged"] = p["flagged"].astype(bool)
    fraud = [c for c in ("score_simbox", "score_cardfarm") if c in p.columns]
    wrong = p["flagged"] & ~p["class"].isin(scan_mod.FRAUD_CLASSES)
    if wrong.any() and len(fraud) == 2:
        p.loc[wrong, "class"] = np.where(p.loc[wrong, "score_simbox"] >= p.loc[wrong, "score_cardfarm"],
                                         "simbox", "cardfarm")
    elif wrong.any():
        p.loc[wrong, "class"] = "simbox"
    if farms is not None and len(farms):
        rows = deployments_mod.member(p.index, farms.index)
        p.loc[rows, "flagged"] = True
        p.loc[rows, "class"] = device_rule_mod.CLASS
    return p


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["simbox", "cardfarm", "legit", None]),
                               st.one_of(st.floats(0, 1), st.just(float("nan"))),
                               st.floats(0, 1), st.floats(0, 1), st.booleans(), st.booleans()),
                     max_size=30),
       threshold=st.one_of(st.none(), st.floats(0, 1)), dtype=st.sampled_from(["str", object]),
       scores=st.booleans(), farm_share=st.floats(0, 1))
def test_flag_equals_the_masked_assignments(rows, threshold, dtype, scores, farm_share):
    """_flag on arrays against pandas' masked assignments: thresholds, missing classes and
    scores, texts of the str dtype or objects, with and without the class scores, device-rule
    SIMs flagged none / some / all."""
    import numpy as np
    import pandas as pd
    keys = [f"k{i:03d}" for i in range(len(rows))]
    p = pd.DataFrame({"score_simbox": [r[2] for r in rows], "score_cardfarm": [r[3] for r in rows],
                      "class": pd.array([r[0] for r in rows], dtype=dtype),
                      "score": [r[1] for r in rows], "flagged": [r[4] for r in rows]},
                     index=pd.Index(keys, dtype=object))
    if not scores:
        p = p.drop(columns=["score_simbox"])
    farm_keys = [k for k, r in zip(keys, rows) if r[5]][:int(len(keys) * farm_share) + 1]
    farms = pd.DataFrame({"imei": ["1"] * len(farm_keys)}, index=pd.Index(farm_keys, dtype=object))
    for f in (None, farms):
        got, want = scan_mod._flag(p, threshold, f), flag_reference(p, threshold, f)
        pd.testing.assert_frame_equal(got, want, check_exact=True)


@settings(max_examples=100, deadline=None)
@given(groups=st.lists(st.sampled_from(["D1", "D2", "S1", ""]), max_size=30),
       only=st.lists(st.sampled_from(["D1", "S1", "X"]), unique=True), seed=st.integers(0, 99))
def test_hours_by_made_on_first_use_equal_the_dicts(groups, only, seed):
    """The report's hour sums (scan.hours_by, in a scan.Lazy mapping) against the dicts the scan
    made at once: sums per group in order of first appearance, the kept groups in their order."""
    import numpy as np
    import pandas as pd
    hours = np.random.default_rng(seed).integers(0, 9, (len(groups), 24)).astype(np.int32)
    group = pd.Series(groups, dtype="str")
    code, names = pd.factorize(group.to_numpy(dtype=object))
    want = {n: hours[code == i].sum(axis=0).astype(float) for i, n in enumerate(names)}
    lazy = scan_mod.Lazy(lambda: scan_mod.hours_by(hours, group))
    assert list(lazy) == list(want) and len(lazy) == len(want)
    assert all(np.array_equal(lazy[k], want[k]) for k in want) and lazy.get("none") is None
    kept = scan_mod.hours_by(hours, group, pd.Series(only, dtype=object))
    assert list(kept) == [s for s in only if s in want]


@settings(max_examples=200, deadline=None)
@given(codes=st.lists(st.one_of(st.integers(-1, 0), st.integers(10 ** 14, 2 * 10 ** 15),
                                st.integers(1, 10 ** 18)), max_size=30),
       tokens=st.booleans())
def test_digit_texts_equal_the_column_of_decode_ids(codes, tokens):
    """compute.digit_texts (digits written into Arrow's buffers) against the column pandas made
    of decode_ids' objects (dtype and values; no row: the objects as they were), with and
    without a key book (tokens: keys that are not digits)."""
    import numpy as np
    import pandas as pd
    from simbox.fastpath.keys import KeyBook, decode_ids
    arr = np.array(codes, dtype=np.int64)
    book = None
    if tokens:
        book = KeyBook()
        arr = np.concatenate([arr, book.encode(np.array(["tok-a", "tok-b"], dtype=object))])
    got = pd.DataFrame({"c": compute_mod.digit_texts(arr, book)})
    want = pd.DataFrame({"c": decode_ids(arr, book)})
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_factorized_keeps_the_codes_of_an_arrow_array_not_a_changed_one():
    """The codes kept for an Arrow array (``_arrow_factorized``) are those of its texts:
    asked again, the same answer (copies: a caller's change stays its own); a column set
    anew (a new Arrow array) is factorized again; against ``pd.factorize``."""
    import numpy as np
    import pandas as pd
    s = pd.Series(["b", "a", None, "b", "c"], dtype="str")
    want = pd.factorize(s.array)
    for _ in range(2):
        code, names = deployments_mod.factorized(s)
        assert code.tolist() == np.asarray(want[0]).tolist() and names.tolist() == list(want[1])
        code[:] = 7
        names[0] = "x"
    s.iloc[0] = "c"                        # a new Arrow array under the same Series
    code, names = deployments_mod.factorized(s)
    want = pd.factorize(s.array)
    assert code.tolist() == np.asarray(want[0]).tolist() and names.tolist() == list(want[1])
    many = [pd.Series([str(i)] * 3, dtype="str")
            for i in range(deployments_mod.ARROW_CODES_KEPT + 3)]
    for m in many + many[::-1]:
        assert deployments_mod.factorized(m)[1].tolist() == [m.iloc[0]]
    assert len(deployments_mod._ARROW_CODES) <= deployments_mod.ARROW_CODES_KEPT
    # a column gone: its codes are not kept (weak reference)
    import gc
    kept = len(deployments_mod._ARROW_CODES)
    last = pd.Series(["gone", "soon"], dtype="str")
    deployments_mod.factorized(last)
    del last, many, m
    gc.collect()
    assert len(deployments_mod._ARROW_CODES) <= 1 < kept + 1      # (s alone is alive)
    assert all(ref() is not None for ref, _, _ in deployments_mod._ARROW_CODES)


@settings(max_examples=200, deadline=None)
@given(code=st.lists(st.integers(0, 4), max_size=30), ordered=st.booleans())
def test_members_equal_the_positions_of_each_code(code, ordered):
    """sites._members (codes in order: no sort) against the stable sort it skips."""
    import numpy as np
    from simbox import sites as sites_mod
    code = np.array(sorted(code) if ordered else code, dtype=np.int64)
    code = np.unique(code, return_inverse=True)[1] if len(code) else code   # (0..n-1, all used)
    got = sites_mod._members(code)
    want = np.split(np.argsort(code, kind="stable"), np.flatnonzero(np.diff(np.sort(code))) + 1)
    assert len(got) == len(want) and all(np.array_equal(g, w) for g, w in zip(got, want))
