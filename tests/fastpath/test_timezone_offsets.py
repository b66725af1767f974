"""TimeZone offsets per 15-minute bucket (zoneinfo) against pandas' tz_convert."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from simbox.fastpath.aggregate import OFFSET_BUCKET, TimeZone, _offsets

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
         "America/St_Johns", "Africa/Casablanca", "Pacific/Apia", "Asia/Shanghai", "UTC"]


def pandas_offsets(name, q0, q1):
    """The offsets as pandas gives them (the obviously-correct reference)."""
    q = np.arange(q0, q1 + 1, dtype=np.int64) * OFFSET_BUCKET
    utc = pd.to_datetime(q, unit="s", utc=True)
    local = utc.tz_convert(name).tz_localize(None)
    return np.asarray((local - utc.tz_localize(None)) // pd.Timedelta(seconds=1), dtype=np.int32)


def bucket(day):
    return int(pd.Timestamp(day, tz="UTC").timestamp()) // OFFSET_BUCKET


@pytest.mark.parametrize("name", ZONES)
@pytest.mark.parametrize("start, end", [("1965-03-02", "1982-01-01"), ("2009-12-31", "2041-06-30")])
def test_offsets_match_pandas_over_years(name, start, end):
    q0, q1 = bucket(start) + 5, bucket(end) + 11          # not on a 6-hour boundary
    got = _offsets(name, q0, q1)
    assert got.dtype == np.int32 and len(got) == q1 - q0 + 1
    assert np.array_equal(got, pandas_offsets(name, q0, q1))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ZONES), st.integers(-2_000_000_000, 4_000_000_000), st.integers(0, 40_000_000))
def test_offsets_of_random_times_match_pandas(name, t0, span):
    times = np.array([t0, t0 + span // 3, t0 + span], dtype=np.int64)
    got = TimeZone(name).offsets(times)
    want = pandas_offsets(name, int(times.min()) // OFFSET_BUCKET, int(times.max()) // OFFSET_BUCKET)
    assert np.array_equal(got, want[times // OFFSET_BUCKET - times.min() // OFFSET_BUCKET])


def test_transitions_land_on_their_bucket():
    # Lord Howe: +10:30 -> +11:00 at 2024-10-06 02:00 local (15:30 UTC the day before)
    q = bucket("2024-10-05") + 62
    assert list(_offsets("Australia/Lord_Howe", q - 1, q)) == [37800, 39600]
    # Berlin: +1 -> +2 at 2024-03-31 01:00 UTC
    q = bucket("2024-03-31") + 4
    assert list(_offsets("Europe/Berlin", q - 1, q)) == [3600, 7200]
    assert set(_offsets("Asia/Kathmandu", q, q + 1000)) == {20700}
