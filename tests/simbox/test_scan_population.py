"""The pieces a scan takes of every SIM when another engine keeps them (simbox.scan.Population):
each against what the local scan computes from the whole table."""
import io

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.outputs import write_csv, write_csv_batches
from simbox.scan import _quantile, sorted_quantile, time_bounds, time_outliers


def stamps(seconds):
    return pd.Series(pd.to_datetime(np.asarray(seconds, np.float64), unit="s", utc=True))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1_700_000_000, 1_800_000_000), min_size=1, max_size=300),
       st.sampled_from([0.1, 0.5, 0.9, 0.0, 1.0, 0.37]))
def test_sorted_quantile_is_pandas_quantile(values, q):
    """From the two order statistics it asks for, pandas' quantile of the whole Series
    (datetimes, as time_outliers takes them), to the nanosecond."""
    s = np.sort(np.asarray(values, np.int64))
    asked = []

    def at(i, j):
        asked.append((i, j))
        return stamps(s[[i, j]])

    assert sorted_quantile(len(s), q, at) == stamps(values).quantile(q)
    assert len(asked) == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1_700_000_000, 1_800_000_000) | st.none(), min_size=1, max_size=300),
       st.sampled_from([0.1, 0.5, 0.9, 0.0, 1.0, 0.37]))
def test_quantile_by_partition_is_pandas_quantile(values, q):
    """time_outliers' percentiles from two order statistics found by a partition (_quantile)
    equal pandas' quantile of the Series, missing times (NaT) left out."""
    s = stamps([np.nan if v is None else v for v in values])
    got, want = _quantile(s, q), s.quantile(q)
    assert (pd.isna(got) and pd.isna(want)) or got == want


def test_time_outliers_from_the_outliers_and_the_bulk():
    """time_outliers of the outliers alone with ``bulk`` (the percentiles and the span of the
    others, computed elsewhere) says what it says of every SIM."""
    rng = np.random.default_rng(4)
    t0 = 1_772_323_200
    first = t0 + rng.integers(0, 7 * 86_400, 500)
    last = first + rng.integers(0, 3 * 86_400, 500)
    first[[17, 230]] = t0 - 400 * 86_400                 # a year before the bulk
    last[[5, 230, 499]] = t0 + 60_000 * 86_400           # dated 2190
    sims = pd.DataFrame({"first_seen": stamps(first).to_numpy(),
                         "last_seen": stamps(last).to_numpy()},
                        index=pd.Index([f"4600000000{i:05d}" for i in range(500)], name="imsi"))
    want = time_outliers(sims)
    lo, hi = stamps(first).quantile(0.1), stamps(last).quantile(0.9)
    early, late = time_bounds(lo, hi)
    out = ((sims["first_seen"] < early) | (sims["last_seen"] > late)).to_numpy()
    assert out.sum() == 4                                 # 230: both
    got = time_outliers(sims.loc[out], bulk=(lo, hi, sims.loc[~out, "first_seen"].min(),
                                            sims.loc[~out, "last_seen"].max()))
    assert got["mask"].all()
    assert {k: v for k, v in got.items() if k != "mask"} == \
        {k: v for k, v in want.items() if k != "mask"}


def test_csv_batches_are_the_csv_of_their_concatenation(tmp_path):
    df = pd.DataFrame({"imsi": ["460001", "=cmd", "460003", "460004"],
                       "score": [0.5, np.nan, 1e-12, 0.25], "flagged": [True, False, True, False],
                       "msisdn": ["", "86138", None, "-1"]})
    write_csv(df, tmp_path / "one.csv")
    write_csv_batches([df.iloc[:0], df.iloc[:1], df.iloc[1:3], df.iloc[3:]], tmp_path / "many.csv")
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "many.csv").read_bytes()
    write_csv(df.iloc[:0], tmp_path / "empty.csv")
    write_csv_batches([df.iloc[:0]], tmp_path / "empty-batches.csv")
    assert (tmp_path / "empty.csv").read_bytes() == (tmp_path / "empty-batches.csv").read_bytes()
    assert io.StringIO((tmp_path / "many.csv").read_text()).readline().strip() == \
        "imsi,score,flagged,msisdn"
