import numpy as np
import pandas as pd
import pytest

from simbox.reasons import (PHRASES, deviations, occlusion_contributions, reasons, reasons_table,
                            reference_stats)


def test_reasons_read_at_a_glance(network):
    pred = network.predictions
    out = reasons_table(network.res.features, pred.index[pred["flagged"]])
    first = {d: out.loc[network.truth[network.truth == d].index[0]] for d in "ABCD"}
    assert first["A"] == ("400 distinct numbers called, 7 other SIMs on the same device, "
                          "no calls received, 70% of calls within 30 s of the previous one")
    assert first["B"] == ("3,000 SMS sent, no calls received, "
                          "70% of calls within 30 s of the previous one, no data use")
    assert first["D"].startswith("no calls received, ")
    assert out.index.equals(pred.index[pred["flagged"]])


def test_reasons_follow_contributions():
    row = pd.Series({"moc_callees": 412.0, "n_mtc": 0.0, "n_cells": 1.0, "imei_max_imsis": 24.0,
                     "n_data": 5.0, "mystery": 0.25})
    contrib = pd.Series({"n_cells": 0.3, "moc_callees": 0.2, "imei_max_imsis": 0.1, "n_mtc": 0.15,
                         "n_data": -0.1, "mystery": 0.05})
    assert reasons(row, contrib, meanings={}) == \
        "one cell, 412 distinct numbers called, no calls received, 23 other SIMs on the same device"
    assert reasons(row, contrib, top=2, meanings={}) == "one cell, 412 distinct numbers called"
    # a feature the phrase table does not know is worded from the registry's meaning
    assert reasons(row, pd.Series({"mystery": 1.0}), meanings={"mystery": "share of odd calls"}) == \
        "share of odd calls: 0.25"


def test_one_phrase_per_group():
    row = pd.Series({"n_mtc": 0.0, "mt_mo_ratio": 0.0, "n_imeis": 3.0, "imei_changes": 8.0,
                     "first_seen": 1.7e9})
    contrib = pd.Series({"n_mtc": 2.0, "mt_mo_ratio": 3.0, "n_imeis": 1.0, "imei_changes": 0.5,
                         "first_seen": 9.0})
    assert reasons(row, contrib, meanings={}) == "no calls received, moved between 3 devices"


def test_deviation_needs_direction_and_skips_nan():
    ref = pd.DataFrame({"n_mtc": np.arange(10, 30, dtype=float), "moc_dur_mean": np.linspace(60, 120, 20),
                        "mt_mo_ratio": np.linspace(0.5, 2, 20)})
    stats = reference_stats(ref)
    # many received calls is not suspicious; a NaN ratio is not worded
    row = pd.Series({"n_mtc": 500.0, "moc_dur_mean": 900.0, "mt_mo_ratio": np.nan})
    z = deviations(row.to_frame().T, stats).iloc[0]
    assert z["n_mtc"] < 0 and z["moc_dur_mean"] == 5.0 and np.isnan(z["mt_mo_ratio"])
    assert reasons(row, stats=stats, meanings={}) == "calls last 900 s on average"
    with pytest.raises(ValueError, match="needs contributions or reference stats"):
        reasons(row)


@pytest.mark.parametrize("name, value, text", [
    ("n_mtc", 3, "only 3 calls received"), ("mt_mo_ratio", 0.02, "1 call received per 50 made"),
    ("mt_mo_ratio", 1.5, "1.5 calls received per call made"), ("n_cells", 4, "only 4 cells"),
    ("imei_max_imsis", 2, "another SIM on the same device"), ("moc_callee_ratio", 1.0,
     "every call to a different number"), ("moc_night_share", 0.456, "46% of calls at night"),
    ("n_sms_mo", 12345, "12,345 SMS sent"), ("moc_gap_median", 12.4, "a call every 12 s (median)"),
    ("gyration_km", 0.25, "never moves (within 250 m)"), ("gyration_km", 3.21, "moves within 3.2 km"),
    ("device_not_phone", 1.0, "in a modem or gateway, not a phone"),
    ("mtc_callers", 0, "nobody calls it"), ("hour_entropy", 4.5, "active around the clock"),
    ("hour_entropy", 1.6, "active only a few hours of the day"), ("n_mtc", 200, "200 calls received"),
    ("n_cells", 40, "40 cells"), ("gyration_km", 0.0, "never moves"),
    ("gyration_km", 12.0, "moves within 12.0 km"),
    ("moc_called_back_share", 0, "no number it calls ever calls back"),
    ("moc_called_back_share", 0.123, "12% of the numbers it calls call back"),
    ("mtc_callback_share", 0, "no call received from a number it called"),
    ("moc_weekend_share", 2 / 7, "29% of calls at weekends"),
    ("moc_office_share", 0.05, "5% of calls in office hours (Mon-Fri 9-18)"),
    ("in_intl_share", 0.9, "90% of calls and SMS received from abroad"),
    ("moc_per_day_pct", 0.995, "calls a day in the top 1% of the network's SIMs"),
    ("callees_per_day_pct", 0.9, "numbers called a day in the top 10% of the network's SIMs"),
    ("moc_dur_mean_pct", 0.02, "mean call length in the bottom 2% of the network's SIMs"),
    ("moves", 0, "never changes site"),
    ("moves", 1, "changes site once"), ("moves", 1234, "changes site 1,234 times"),
])
def test_phrases(name, value, text):
    assert PHRASES[name].words(value) == text


def test_every_feature_has_a_phrase():
    """Each registry entry says how a reason words its feature, or that it is never a reason;
    the phrases of the registry are ranked, and word any value."""
    from simbox.features.registry import NOT_A_REASON, REASON_ORDER, REGISTRY
    from simbox.features.wording import Phrase
    from simbox.reasons import NOT_REASONS
    assert [f.name for f in REGISTRY if not isinstance(f.phrase, Phrase)] == []
    assert sorted(NOT_REASONS) == ["active_day_share", "active_days", "first_seen", "last_seen"]
    worded = [f for f in REGISTRY if f.phrase is not NOT_A_REASON]
    assert sorted(REASON_ORDER) == sorted(f.name for f in worded)
    assert list(PHRASES) == list(REASON_ORDER)
    for f in worded:
        assert f.phrase.direction in (-1, 0, 1) and f.phrase.group, f.name
        for v in (0.0, 0.004, 0.5, 1.0, 2.0, 7.0, 1234.5):
            text = f.phrase.words(v)
            assert text and ": " not in text and "nan" not in text.split(), (f.name, v, text)


def test_occlusion_contributions_follow_the_model(network):
    feats = network.res.features
    pred = network.predictions
    flagged = pred.index[pred["flagged"]]
    reference = feats.loc[~feats.index.isin(flagged)]
    # a model that only looks at received calls and distinct callees
    weights = {"n_mtc": -0.01, "moc_callees": 0.002}

    def score(X):
        return np.clip(0.5 + sum(w * X[f].to_numpy() for f, w in weights.items()), 0, 1)

    c = occlusion_contributions(score, feats, flagged, reference, max_rows=100)
    assert c.shape == (len(flagged), feats.shape[1]) and c.index.equals(flagged)
    untouched = [f for f in feats.columns if f not in weights]
    assert np.allclose(c[untouched].to_numpy(), 0.0)
    a = network.truth[network.truth == "A"].index[0]
    med = reference.median()
    expect_mtc = score(feats.loc[[a]])[0] - score(feats.loc[[a]].assign(n_mtc=med["n_mtc"]))[0]
    assert c.loc[a, "n_mtc"] == pytest.approx(expect_mtc) and expect_mtc > 0
    text = reasons_table(feats, flagged, contributions=c)
    # for the box the model leans on both features: they lead its reasons, by contribution;
    # the deviations from the others fill the remaining places
    order = ["400 distinct numbers called", "no calls received"]
    if c.loc[a, "n_mtc"] > c.loc[a, "moc_callees"]:
        order.reverse()
    assert text.loc[a] == ", ".join(order + ["7 other SIMs on the same device",
                                             "70% of calls within 30 s of the previous one"])


def test_rows_without_model_contributions_fall_back_to_deviations(network):
    feats = network.res.features
    flagged = network.predictions.index[network.predictions["flagged"]]
    zero = pd.DataFrame(0.0, index=flagged, columns=feats.columns)
    assert reasons_table(feats, flagged, contributions=zero).equals(reasons_table(feats, flagged))


def test_occlusion_budget_and_candidates_bound_the_model_calls(network):
    feats = network.res.features
    pred = network.predictions
    ranked = pred.sort_values("score", ascending=False)
    flagged = ranked.index[ranked["flagged"].to_numpy()]
    reference = feats.loc[~feats.index.isin(flagged)]
    rows = []

    def score(X):
        rows.append(len(X))
        return np.clip(0.5 - 0.01 * X["n_mtc"].to_numpy() + 0.002 * X["moc_callees"].to_numpy(), 0, 1)

    c = occlusion_contributions(score, feats, flagged, reference, candidates=3, budget_rows=30)
    assert sum(rows) == 10 + 30                       # base scores of 10 SIMs, then 10 x 3
    assert c.iloc[:10].notna().all().all() and c.iloc[10:].isna().all().all()
    assert (c.iloc[:10].ne(0).sum(axis=1) <= 3).all()
    text = reasons_table(feats, flagged, contributions=c)
    assert text.iloc[10:].equals(reasons_table(feats, flagged).iloc[10:])
    # only the occluded SIMs' rows (the scan's call): those rows, the same reasons; the
    # keys beyond the budget are not looked up
    rows.clear()
    head = occlusion_contributions(score, feats, flagged.append(pd.Index(["not a SIM"])),
                                   reference, candidates=3, budget_rows=30, only_occluded=True)
    assert sum(rows) == 10 + 30
    pd.testing.assert_frame_equal(head, c.iloc[:10])
    assert reasons_table(feats, flagged, contributions=head).equals(text)


def test_only_occluded_rows_of_a_feature_table_with_repeated_keys():
    """Keys that repeat in the feature table: the budget counts ``.loc``'s rows (as without
    ``only_occluded``), whose first rows are returned."""
    rng = np.random.default_rng(0)
    feats = pd.DataFrame(rng.normal(size=(12, 4)), columns=["n_mtc", "moc_callees", "c", "d"],
                         index=[f"s{i % 10}" for i in range(12)])
    def score(X):
        return X["n_mtc"].to_numpy() * 0.1
    index = pd.Index(["s1", "s0", "s3"])                 # s0 and s1: two rows each
    full = occlusion_contributions(score, feats, index, feats.iloc[:5], candidates=2,
                                   budget_rows=6)
    head = occlusion_contributions(score, feats, index, feats.iloc[:5], candidates=2,
                                   budget_rows=6, only_occluded=True)
    assert len(full) == 5 and len(head) == 3
    pd.testing.assert_frame_equal(head, full.iloc[:3])
    assert full.iloc[3:].isna().all().all()


def _reasons_one_by_one(features, index, contributions, reference, top=4, floor=0.01):
    """The slow reference of reasons_table: each SIM on its own, through ``_pick``."""
    from simbox.reasons import NOT_REASONS, _RANK, _phrase, _pick
    cols = [c for c in features.columns if c not in NOT_REASONS]
    rank = np.array([_RANK.get(c, len(_RANK)) for c in cols])
    phrases = [_phrase(c, {}) for c in cols]
    values = features.loc[index, cols].to_numpy(dtype=float)
    dev = deviations(features.loc[index], reference_stats(reference)).reindex(columns=cols)
    dev = dev.to_numpy(dtype=float)
    contrib = None if contributions is None else \
        contributions.reindex(index=index, columns=cols).to_numpy(dtype=float)
    out = []
    for i in range(len(index)):
        groups: set = set()
        got = [] if contrib is None or np.isnan(contrib[i]).all() else _pick(
            values[i], contrib[i], rank, phrases, floor, top, groups)
        got += _pick(values[i], dev[i], rank, phrases, 1.0, top - len(got), groups)
        out.append(", ".join(got))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_reasons_table_equals_one_sim_at_a_time(seed):
    """Vectorised picking and wording (per feature, not per SIM) give the per-SIM result:
    ties, NaN values, all-NaN contribution rows, -0.0, repeated values, top 0 to 6."""
    rng = np.random.default_rng(seed)
    names = [n for n in PHRASES][:30] + ["mystery", "first_seen"]
    n = 400
    x = pd.DataFrame(rng.choice([0.0, -0.0, 1.0, 2.0, 0.3, 40.0, 2500.0], size=(n, len(names))),
                     columns=names, index=[f"46000{i:010d}" for i in range(n)])
    x = x.mask(rng.random(x.shape) < 0.1)
    x.iloc[:, :10] *= rng.lognormal(0, 2, size=(n, 10)).round(1)
    index = x.index[rng.permutation(n)[:250]]
    contrib = pd.DataFrame(rng.choice([0.0, 0.005, 0.02, 0.05, 0.3], size=(250, len(names))),
                           index=index, columns=names)
    contrib.iloc[::4] = np.nan
    reference = x.loc[~x.index.isin(index)]
    for c in (None, contrib):
        for top in (0, 1, 4, 6):
            got = reasons_table(x, index, contributions=c, reference=reference, top=top)
            assert got.tolist() == _reasons_one_by_one(x, index, c, reference, top=top)
            assert (got.str.count(", ") == top - 1).any() if top else (got == "").all()


def _pandas_reference_stats(reference: pd.DataFrame) -> pd.DataFrame:
    """The column-wise pandas statement of ``reference_stats`` (its earlier code)."""
    x = reference.astype(float)
    for name in x.columns:
        if name in PHRASES and PHRASES[name].log:
            x[name] = np.log1p(x[name].clip(lower=0))
    med = x.median()
    mad = (x - med).abs().median() * 1.4826
    iqr = (x.quantile(0.75) - x.quantile(0.25)) / 1.349
    scale = pd.concat([mad, iqr, 0.1 * med.abs()], axis=1).max(axis=1).fillna(0.0)
    return pd.DataFrame({"median": med, "scale": scale.where(scale > 0, 1e-3)})


@pytest.mark.parametrize("seed", range(6))
def test_reference_stats_equal_the_pandas_statement(seed):
    rng = np.random.default_rng(seed)
    names = list(PHRASES)[:20] + ["not_a_registry_column"]
    n = int(rng.integers(1, 400))
    x = rng.lognormal(0, 2, (n, len(names))) * rng.choice([-1.0, 1.0, 1.0], (n, len(names)))
    x[rng.random((n, len(names))) < 0.2] = np.nan
    x[:, 3] = np.nan                                    # an all-NaN column
    x[:, 4] = 0.0                                       # a constant column: scale 1e-3
    x[:, 5] = np.round(x[:, 5])                         # ties
    ref = pd.DataFrame(x, columns=names)
    got, want = reference_stats(ref), _pandas_reference_stats(ref)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=0)
    feats = pd.DataFrame(rng.lognormal(0, 2, (7, len(names))), columns=names)
    dev = deviations(feats, got)
    assert (dev.fillna(-np.inf) <= 5.0).all().all()


@pytest.mark.parametrize("seed", range(6))
def test_occluding_medians_cast_once_equal_the_rows_cast(seed, monkeypatch):
    """The medians put in cast to their columns' dtypes once (``_occluding_values``) give the
    contributions of the occluded rows cast as a DataFrame (the code before): int columns
    with medians between two integers (truncated), float32, bool, uint8 columns, NaN values;
    an empty reference (NaN medians: no column cast, as ``errors="ignore"`` did)."""
    import simbox.reasons as r
    rng = np.random.default_rng(seed)
    n = 40
    feats = pd.DataFrame({
        "a": rng.integers(0, 9, n), "b": rng.normal(size=n).astype(np.float32),
        "c": rng.random(n) < 0.3, "d": rng.integers(0, 200, n).astype(np.uint8),
        "e": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        "f": rng.integers(-10**12, 10**12, n)}, index=[f"s{i}" for i in range(n)])
    seen = []

    def score(X):                     # a score of every column, as the model sees them
        seen.append(X.dtypes.tolist())
        v = np.column_stack([X[c].astype(np.float64).to_numpy() for c in X.columns])
        return np.nansum(np.sin(v * [1.0, 2.0, 3.0, 0.1, 5.0, 1e-12]), axis=1)

    for reference in (feats.iloc[: 2 * (seed + 1)], feats.iloc[:0]):
        flagged = feats.index[rng.permutation(n)[:15]]
        got = occlusion_contributions(score, feats, flagged, reference)
        with monkeypatch.context() as m:
            m.setattr(r, "_occluding_values", lambda med, dtypes: (med, True))
            want = occlusion_contributions(score, feats, flagged, reference)
        pd.testing.assert_frame_equal(got, want)
    assert any(t != [np.dtype(np.float64)] * 6 for t in seen)     # the old path did cast
