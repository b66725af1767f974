"""The report's and the CSV writer's faster paths of session 20 against the code they replace
(tests/simbox/report_reference.py, main at bc14f57), on random inputs."""
import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import report_reference as ref
from simbox.fastpath.csvwrite import first_chars_in
from simbox.outputs import FORMULA_BYTES, neutralise_formulas
from simbox.report import _field_sheets, _maps, hour_bars, html_table
from simbox.report_map import site_map
from simbox.report_plots import box_stats, score_plot, score_series
from simbox.scan import assemble
from simbox.sites import load_cells

TEXT = st.text(alphabet=st.sampled_from(list('ab;,"<>&\n =+-@\t\r\'é5.\u4e2d\U0001f600')), max_size=8)
MISSING = st.sampled_from([None, np.nan])
NAMES = ["imsi", "site_id", "class", "rank", "score", "lat", "priority", "radius_m", "n_sims",
         "reasons", "x"]


class Sub(str):
    """A str subclass (a value some library might hand over)."""


@st.composite
def columns(draw, n):
    """A column of ``n`` values of one of the kinds a report's table holds."""
    kind = draw(st.sampled_from(["str", "object", "int", "float", "bool", "time", "naive",
                                 "Int64"]))
    if kind == "str":
        return pd.Series(draw(st.lists(st.one_of(TEXT, MISSING), min_size=n, max_size=n)),
                         dtype="str")
    if kind == "object":
        return pd.Series(draw(st.lists(st.one_of(TEXT, MISSING, st.integers(-10**6, 10**6),
                                                 st.floats(allow_nan=True),
                                                 st.builds(Sub, TEXT), st.just(pd.NA)),
                                       min_size=n, max_size=n)), dtype=object)
    if kind in ("int", "Int64"):
        values = draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n))
        if kind == "int":
            return pd.Series(values, dtype="int64")
        return pd.Series([None if v % 3 == 0 else v for v in values], dtype="Int64")
    if kind == "float":
        return pd.Series(draw(st.lists(st.floats(allow_nan=True, allow_infinity=True),
                                       min_size=n, max_size=n)), dtype="float64")
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    seconds = draw(st.lists(st.one_of(st.none(), st.integers(-10**10, 10**10)), min_size=n,
                            max_size=n))
    times = pd.to_datetime(pd.Series(seconds, dtype="float64"), unit="s",
                           utc=kind == "time")
    return times.dt.tz_convert("Asia/Shanghai") if kind == "time" and draw(st.booleans()) \
        else times


@st.composite
def tables(draw):
    n = draw(st.integers(0, 6))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=5))
    df = pd.DataFrame({j: draw(columns(n)) for j in range(len(names))})
    df.columns = names                      # (names may repeat, as a table's may)
    if draw(st.booleans()):
        df["hours"] = [f"<svg>{k}</svg>" for k in range(n)]
    return df


@settings(max_examples=200, deadline=None)
@given(df=tables(), renamed=st.booleans())
@example(df=pd.DataFrame([[np.nan, pd.NaT], ["", pd.NaT]], columns=["rank", "rank"]),
         renamed=False)                  # (CI, session 20: ValueError by column, TypeError by row)
def test_html_table_is_the_row_by_row_table(df, renamed):
    headers = {"site_id": "site", "rank": "#"} if renamed else None
    _both(html_table, ref.html_table, df, headers)


def test_html_table_of_columns_but_no_values_and_of_rows_but_no_columns():
    assert html_table(pd.DataFrame({"a": []})) == ref.html_table(pd.DataFrame({"a": []}))
    empty = pd.DataFrame(index=range(3))
    assert html_table(empty) == ref.html_table(empty)


CELL_IDS = ["C1", "C2", "C3", "C4", "C5", "<&>"]


@st.composite
def maps(draw):
    """A site list (some unlocated, some columns left out) and a cell table."""
    n = draw(st.integers(0, 7))
    coord = st.one_of(st.floats(31.0, 31.3), st.just(np.nan))
    sites = pd.DataFrame({
        "site_id": pd.Series(draw(st.lists(TEXT, min_size=n, max_size=n)), dtype="str"),
        "lat": draw(st.lists(coord, min_size=n, max_size=n)),
        "lon": [v + 90.2 for v in draw(st.lists(coord, min_size=n, max_size=n))],
        "radius_m": draw(st.lists(st.one_of(st.just(0.0), st.just(np.nan), st.floats(1, 5000)),
                                  min_size=n, max_size=n)),
        "class": pd.Series(draw(st.lists(st.one_of(st.sampled_from(["simbox", "cardfarm", "x"]),
                                                   st.none()), min_size=n, max_size=n)),
                           dtype="str"),
        "n_sims": draw(st.lists(st.integers(1, 5000), min_size=n, max_size=n)),
        "n_devices": draw(st.lists(st.integers(1, 64), min_size=n, max_size=n)),
        "deployments": pd.Series(draw(st.lists(st.one_of(TEXT, st.none()), min_size=n,
                                               max_size=n)), dtype="str"),
        "active_hours": draw(st.lists(st.sampled_from(["00:00-24:00", "", "x&y"]), min_size=n,
                                      max_size=n)),
    })
    for c in ("radius_m", "n_sims", "n_devices", "deployments", "active_hours"):
        if draw(st.integers(0, 5)) == 0:
            sites = sites.drop(columns=c)
    k = draw(st.integers(0, len(CELL_IDS)))
    cells = pd.DataFrame({"site_id": ["S"] * k,
                          "lat": draw(st.lists(st.sampled_from([31.1, 31.2, 31.25]), min_size=k,
                                               max_size=k)),
                          "lon": draw(st.lists(st.sampled_from([121.3, 121.4]), min_size=k,
                                               max_size=k))},
                         index=pd.Index(CELL_IDS[:k], name="cell_id"))
    return sites, cells if k or draw(st.booleans()) else None


def _both(f, g, *args, **kwargs):
    """``f`` and ``g`` of the same arguments: the same text, or the same kind of error (a
    value the cell cannot show, ``int("")`` or ``int(NaT)``: ``f`` may meet another bad cell
    first, going column by column where ``g`` goes row by row)."""
    try:
        want = g(*args, **kwargs)
    except Exception as exc:                      # noqa: BLE001  (compared below)
        bad_value = (TypeError, ValueError)
        with pytest.raises(bad_value if isinstance(exc, bad_value) else type(exc)):
            f(*args, **kwargs)
        return
    assert f(*args, **kwargs) == want


@settings(max_examples=150, deadline=None)
@given(m=maps(), data=st.data())
def test_site_map_is_the_row_by_row_map(m, data):
    sites, cells = m
    _both(site_map, ref.site_map, sites, cells)
    for focus in range(len(sites)):
        used = ";".join(data.draw(st.lists(st.sampled_from(CELL_IDS + ["", "C9"]), max_size=3)))
        _both(site_map, ref.site_map, sites, cells, focus=focus, width=250, height=250,
              legend=False, min_pad_m=500, used_cells=used)


@st.composite
def flagged_at_sites(draw):
    """A scan's result as the field sheets read it: flagged SIMs at sites, of deployments."""
    n_sites = draw(st.integers(0, 8))
    site_ids = [f"S{k}" for k in range(n_sites)] + ["S<&>"]
    n = draw(st.integers(0, 80))
    main_site = draw(st.lists(st.one_of(st.sampled_from(site_ids), st.none()), min_size=n,
                              max_size=n))
    flagged = pd.DataFrame({
        "imsi": pd.Series([f"4600{k}" for k in range(n)], dtype="str"),
        "class": pd.Series(draw(st.lists(st.sampled_from(["simbox", "cardfarm"]), min_size=n,
                                         max_size=n)), dtype="str"),
        "deployment_id": pd.Series(draw(st.lists(st.one_of(st.sampled_from(
            ["D1", "D2", "D10", "Z", "a", "\u00e9"]), st.none()), min_size=n, max_size=n)),
            dtype="str"),
        "device_type": pd.Series(draw(st.lists(st.one_of(st.sampled_from(
            ["", "unknown", "modem", "phone"] + [f"t{k}" for k in range(18)]), st.none()),
            min_size=n, max_size=n)), dtype="str"),
        "main_site": pd.Series(main_site, dtype=draw(st.sampled_from(["str", object]))),
    })
    if draw(st.integers(0, 4)) == 0:
        flagged = flagged.drop(columns="device_type")
    k = len(site_ids)
    t = pd.Timestamp("2026-03-01", tz="UTC")
    sites = pd.DataFrame({
        "site_id": site_ids, "lat": [31.1 + 0.01 * j for j in range(k)],
        "lon": [121.4 + 0.01 * j for j in range(k)], "radius_m": [0.0, 40.0] * (k // 2) + [0.0] * (k % 2),
        "cells": ["C1;C2", "C3"] * (k // 2) + [""] * (k % 2),
        "class": ["simbox"] * k, "n_sims": list(range(1, k + 1)), "n_devices": [1] * k,
        "active_hours": ["00:00-24:00"] * k, "first_seen": [t] * k, "last_seen": [pd.NaT] * k,
        "priority": [1.5] * k})
    cells = pd.DataFrame({"site_id": ["S0", "S1", "S2"], "lat": [31.1, 31.11, 31.12],
                          "lon": [121.4, 121.41, 121.42]},
                         index=pd.Index(["C1", "C2", "C3"], name="cell_id"))
    return types.SimpleNamespace(flagged=flagged, cells=cells, site_hours={"S0": np.arange(24)}), \
        sites


@settings(max_examples=100, deadline=None)
@given(case=flagged_at_sites())
def test_field_sheets_are_those_of_each_site_filtered(case):
    result, sites = case
    assert _field_sheets(result, sites, _maps(result, sites)[1:]) == \
        ref._field_sheets(result, sites)


def test_field_sheets_of_the_synthetic_network(network):
    res = assemble(network.res, network.predictions, load_cells(network.cells), threshold=0.5,
                   summary={"model": "synthetic"})
    sites = res.sites.reset_index(drop=True)
    maps = _maps(res, sites)
    assert _field_sheets(res, sites, maps[1:]) == ref._field_sheets(res, sites)
    assert maps[0] == ref.site_map(sites, res.cells)


@settings(max_examples=100, deadline=None)
@given(scores=st.lists(st.floats(0, 1), max_size=30), data=st.data(),
       threshold=st.one_of(st.none(), st.floats(0, 1)))
def test_score_plot_compares_the_classes_as_a_column(scores, data, threshold):
    n = len(scores)
    classes = data.draw(st.lists(st.one_of(st.sampled_from(["simbox", "cardfarm", "legit"]),
                                           MISSING), min_size=n, max_size=n))
    for dtype in ("str", object, "string"):
        if dtype == "string" and any(x is None or x != x for x in classes):
            continue                    # (NA: the objects' comparison fails, the column's not)
        c = pd.Series(classes, dtype=dtype)
        got = score_series(pd.Series(scores, dtype=float), c, threshold)
        want = ref.score_series(pd.Series(scores, dtype=float), c, threshold)
        assert [(a, b) for a, b, _ in got] == [(a, b) for a, b, _ in want]
        for (_, _, x), (_, _, y) in zip(got, want):
            np.testing.assert_array_equal(x, y)
        assert score_plot(pd.Series(scores, dtype=float), c, threshold).startswith("<svg")


OBJECTS = st.one_of(TEXT, st.builds(Sub, TEXT), MISSING, st.just(pd.NA),
                    st.integers(-10, 10), st.floats(allow_nan=True), st.binary(max_size=3),
                    st.sampled_from(["-1.5", "+3", "=1+2", "@a", "-", "\u00e9", "\U0001f600x"]))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(OBJECTS, max_size=12))
def test_first_chars_in_is_the_first_character_looked_up(values):
    v = np.array(values + [None], dtype=object)[:-1]          # (objects, never a 2-d array)
    want = [isinstance(x, str) and len(x) > 0 and ord(x[0]) < 256 and bool(FORMULA_BYTES[ord(x[0])])
            for x in v]
    assert first_chars_in(v, FORMULA_BYTES).tolist() == want


@settings(max_examples=200, deadline=None)
@given(values=st.lists(OBJECTS, max_size=12), text=st.lists(st.one_of(TEXT, MISSING), max_size=12))
def test_neutralise_formulas_is_the_hashed_test(values, text):
    n = min(len(values), len(text))
    v = np.array(values[:n] + [None], dtype=object)[:-1]
    df = pd.DataFrame({"o": pd.Series(v, dtype=object), "s": pd.Series(text[:n], dtype="str"),
                       "f": np.arange(n, dtype=float)})
    got, want = neutralise_formulas(df), ref.neutralise_formulas(df)
    pd.testing.assert_frame_equal(got, want)
    assert [type(x) for x in got["o"]] == [type(x) for x in want["o"]]


def test_first_chars_in_refuses_a_table_of_another_size():
    with pytest.raises(ValueError, match="the table of characters has 128 entries, not 256"):
        first_chars_in(np.array(["a"], dtype=object), np.zeros(128, dtype=bool))


@settings(max_examples=200, deadline=None)
@given(profile=st.lists(st.one_of(st.integers(0, 10**9), st.floats(0, 1e12), st.just(np.nan)),
                        max_size=24), ints=st.booleans())
def test_hour_bars_of_python_floats_are_those_of_numpy_floats(profile, ints):
    p = np.array([int(v) if v == v else 0 for v in profile]) if ints else np.array(profile)
    assert hour_bars(p) == ref.hour_bars(p)


def test_field_sheet_of_many_device_types_tied():
    """More than 16 distinct types (where a sort's ties would show), each on as many SIMs."""
    rng = np.random.default_rng(3)
    kinds = [f"type{k}" for k in rng.permutation(40)] * 3 + ["", "unknown"] * 3
    n = len(kinds)
    flagged = pd.DataFrame({
        "class": pd.Series(rng.choice(["simbox", "cardfarm"], n), dtype="str"),
        "deployment_id": pd.Series(rng.choice(["D2", "D10", "D1"], n), dtype="str"),
        "device_type": pd.Series(kinds, dtype="str"),
        "main_site": pd.Series(["S0"] * n, dtype="str")})
    t = pd.Timestamp("2026-03-01", tz="UTC")
    sites = pd.DataFrame({"site_id": ["S0"], "lat": [31.1], "lon": [121.4], "radius_m": [0.0],
                          "cells": ["C1"], "class": ["simbox"], "n_sims": [n], "n_devices": [9],
                          "active_hours": ["00:00-24:00"], "first_seen": [t], "last_seen": [t],
                          "priority": [1.0]})
    result = types.SimpleNamespace(flagged=flagged, cells=None, site_hours={})
    assert _field_sheets(result, sites, _maps(result, sites)[1:]) == \
        ref._field_sheets(result, sites)


def _box_stats_by_percentiles(values):
    """box_stats as it was: every set of values through the percentiles."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    iqr = q3 - q1
    below = v[v <= q3 + 1.5 * iqr]
    above = v[v >= q1 - 1.5 * iqr]
    hi = q3 if not len(below) or below.max() < q3 else below.max()
    lo = q1 if not len(above) or above.min() > q1 else above.min()
    return {"q1": float(q1), "med": float(med), "q3": float(q3), "lo": float(lo), "hi": float(hi),
            "n": int(len(v))}


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.sampled_from([0.0, -0.0, 3.0, 1e300, -2.5, np.nan, np.inf]),
                                 st.floats(allow_nan=True)), max_size=20), same=st.booleans())
def test_box_stats_of_one_value_are_the_percentiles(values, same):
    if same and values:
        values = [values[0]] * len(values) + [np.nan]
    with np.errstate(over="ignore", invalid="ignore"):     # (floats near the largest)
        got, want = box_stats(values), _box_stats_by_percentiles(values)
    assert got == want
    if got is not None:          # (the same bits: -0.0 is not 0.0)
        assert [np.signbit(got[k]) for k in ("q1", "med", "q3", "lo", "hi")] == \
            [np.signbit(want[k]) for k in ("q1", "med", "q3", "lo", "hi")]
