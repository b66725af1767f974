"""Every registry feature against the pandas reference on random event sets."""
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from features_reference import reference_features
from simbox.fastpath.events import CellDict, EventBatch, encode_digits
from simbox.features import REGISTRY, features_from_events

IMSIS = ["460001234567890", "460001234567891", "460001234567899", "460001234567950",
         "262019876543210", "46000123456789"]
IMEIS = ["", "35693803123456", "35693803123457", "8675309000000011", "35000001000002"]
MSISDNS = ["", "8613800000001", "8613800000005", "4915112345678", "013800000009"]
OTHERS = ["", "10086", "123", "8613900000000", "4930123456", "0049301234567", "0013800138000",
          "1205550100", "0212345678", "8613900000000"]
TOKENS = [f"46000-{i}-{i * 7}" for i in range(6)]
CELLS = pd.DataFrame({"cell_id": TOKENS[:4], "site_id": ["S1", "S1", "S2", "S3"],
                      "lat": [31.2, 31.21, 31.5, -33.9], "lon": [121.4, 121.41, 121.0, 151.2],
                      "azimuth": [0, 120, 240, 0]})
TAC = pd.DataFrame({"tac": ["35693803", "86753090", "35000001"],
                    "device_type": ["Smartphone", "Modem", "IoT Device"]})
# around the Europe/Berlin spring-forward (2024-03-31 01:00 UTC) and a day boundary
T0 = 1711839600


def _codes(values, idx):
    return np.array([encode_digits(values[i]) for i in idx], dtype=np.int64)


@st.composite
def event_sets(draw):
    n = draw(st.integers(1, 70))
    ints = lambda hi: draw(st.lists(st.integers(0, hi), min_size=n, max_size=n))  # noqa: E731
    spread = draw(st.sampled_from([5, 200, 4000, 200_000]))   # small spreads force ties in time
    cols = {
        "rtype": np.array(ints(5), np.uint8),
        "time": T0 + np.array(ints(spread), np.int64) * draw(st.sampled_from([1, 7])),
        "imsi": _codes(IMSIS, ints(len(IMSIS) - 1)),
        "imei": _codes(IMEIS, ints(len(IMEIS) - 1)),
        "msisdn": _codes(MSISDNS, ints(len(MSISDNS) - 1)),
        "other": _codes(OTHERS, ints(len(OTHERS) - 1)),
        "duration": np.array(draw(st.lists(st.sampled_from([0, 0, 3, 9, 10, 45, 300]),
                                           min_size=n, max_size=n)), np.int32),
        "cell": np.array(ints(len(TOKENS)), np.int32) - 1,
    }
    # ATTACH events: a MAP source (1 registration, 2 authentication, 3 CheckIMEI, 4
    # location) in ``other``, the LAC + 1 in ``duration`` (fastpath/signaling.py)
    att = cols["rtype"] == 5
    if att.any() and draw(st.booleans()):
        k = int(att.sum())
        cols["other"][att] = draw(st.lists(st.integers(0, 4), min_size=k, max_size=k))
        cols["duration"][att] = draw(st.lists(st.integers(0, 3), min_size=k, max_size=k))
    # exact duplicates: repeat some rows
    rep = draw(st.lists(st.integers(0, n - 1), max_size=5))
    if rep:
        cols = {k: np.concatenate([v, v[rep]]) for k, v in cols.items()}
    # arbitrary order, split into several "files"
    perm = np.array(draw(st.permutations(range(len(cols["time"])))), dtype=np.int64)
    cols = {k: v[perm] for k, v in cols.items()}
    cuts = sorted(draw(st.lists(st.integers(0, len(perm)), max_size=3)))
    bounds = [0] + cuts + [len(perm)]
    batches = [EventBatch({k: v[a:b] for k, v in cols.items()}) for a, b in zip(bounds, bounds[1:])]
    return batches, len(rep)


def assert_frames_match(got: pd.DataFrame, want: pd.DataFrame):
    assert list(got.index) == list(want.index)
    assert list(got.columns) == list(want.columns)
    for f in REGISTRY:
        a = got[f.name].to_numpy(dtype=float)
        b = want[f.name].to_numpy(dtype=float)
        if f.dtype == "int64":
            assert str(got[f.name].dtype) == "int64", f.name
            assert np.array_equal(a, b), (f.name, got[f.name], want[f.name])
        else:
            na, nb = np.isnan(a), np.isnan(b)
            ok = (na == nb) & (na | np.isclose(a, b, rtol=1e-9, atol=1e-9))
            assert ok.all(), (f.name, list(zip(got.index[~ok], a[~ok], b[~ok])))


def run_both(batches, *, cells=None, tac=None, timezone="UTC", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = features_from_events(batches, CellDict(TOKENS), cells=cells, tac=tac,
                                   timezone=timezone, **kw)
    want, dups = reference_features(batches, TOKENS, cells=cells, tac=tac, timezone=timezone)
    return got, want, dups


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_sets(), st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns"]),
       st.booleans(), st.integers(1, 2))
def test_all_features_match_reference(data, tz, with_tables, workers):
    batches, _ = data
    tables = dict(cells=CELLS, tac=TAC) if with_tables else {}
    got, want, dups = run_both(batches, timezone=tz, workers=workers, **tables)
    assert_frames_match(got.features, want)
    assert got.stats.duplicates == dups


def one(rtype, t, imsi="460001234567890", imei="", msisdn="", other="", duration=0, cell=-1):
    return EventBatch({"rtype": [rtype], "time": [t], "imsi": [encode_digits(imsi)],
                       "imei": [encode_digits(imei)], "msisdn": [encode_digits(msisdn)],
                       "other": [encode_digits(other)], "duration": [duration], "cell": [cell]})


def test_one_event_imsi():
    got, want, _ = run_both([one(0, T0, other="8613900000000", duration=5, cell=0)], cells=CELLS)
    assert_frames_match(got.features, want)
    f = got.features.iloc[0]
    assert f.n_moc == 1 and np.isnan(f.moc_dur_std) and np.isnan(f.moc_gap_median)
    assert f.gyration_km == 0 and f.top_cell_share == 1 and np.isnan(f.lifetime_share)


def test_attach_events_count_for_devices_not_calls():
    b = [one(5, T0, imei="35693803123456", cell=1), one(5, T0 + 60, imei="35693803123457", cell=2),
         one(0, T0 + 120, other="10086", duration=3)]
    got, want, _ = run_both(b)
    assert_frames_match(got.features, want)
    f = got.features.iloc[0]
    assert (f.n_moc, f.n_mtc, f.n_sms_mo, f.n_data, f.n_events) == (1, 0, 0, 0, 3)
    assert (f.n_imeis, f.imei_changes, f.n_cells) == (2, 1, 2)
    assert list(got.devices.imei) == ["35693803123456", "35693803123457"]


def test_night_share_uses_local_time():
    # 2026-03-01 20:00 UTC is 04:00 the next day in Asia/Shanghai
    t = 1772395200
    utc = features_from_events([one(0, t)], CellDict(), timezone="UTC").features
    sh = features_from_events([one(0, t)], CellDict(), timezone="Asia/Shanghai").features
    assert utc.moc_night_share.iloc[0] == 0 and sh.moc_night_share.iloc[0] == 1
    hours = features_from_events([one(0, t)], CellDict(), timezone="Asia/Shanghai").hours
    assert hours.shape == (1, 24) and hours[0, 4] == 1 and hours.sum() == 1


def test_empty_input_gives_empty_tables():
    res = features_from_events([], CellDict())
    assert len(res.features) == 0 and list(res.features.columns) == [f.name for f in REGISTRY]
    assert res.hours.shape == (0, 24)


def test_unknown_timezone_is_a_clear_error():
    from simbox.errors import ConfigError
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Base'"):
        features_from_events([], CellDict(), timezone="Mars/Base")


def test_times_before_1970_floor_to_the_right_hour_and_day():
    b = [one(0, -1, other="10086", duration=5), one(0, -3601, other="10086"), one(1, -86401)]
    got, want, _ = run_both(b, timezone="America/St_Johns")
    assert_frames_match(got.features, want)
    assert got.features.active_hours.iloc[0] == 3


def test_callbacks_with_many_numbers():
    """Hundreds of callees (the hash set grows and probes), call-backs before, after and
    in the same second as the call, callers that were never called."""
    rng = np.random.default_rng(7)
    numbers = [f"86139{k:08d}" for k in rng.choice(10**8, 400, replace=False)]
    n = 1500
    rtype = rng.choice([0, 1, 3], n, p=[0.5, 0.4, 0.1]).astype(np.uint8)
    cols = {"rtype": rtype, "time": T0 + np.sort(rng.integers(0, 20 * 86400, n)) // 5 * 5,
            "imsi": _codes(IMSIS, rng.integers(0, 2, n)), "imei": np.zeros(n, np.int64),
            "msisdn": _codes(MSISDNS, np.full(n, 1)),
            "other": np.array([encode_digits(numbers[i]) for i in rng.integers(0, 400, n)]),
            "duration": rng.integers(0, 100, n).astype(np.int32), "cell": np.full(n, -1, np.int32)}
    got, want, _ = run_both([EventBatch(cols)], timezone="Europe/Berlin")
    assert_frames_match(got.features, want)
    f = got.features
    assert (f.mtc_callback_share > 0.2).all() and (f.moc_called_back_share > 0.2).all()


def test_a_callback_in_the_same_second_follows_the_call():
    # events of one second sort MOC before MTC: the MTC answers the call
    b = [one(1, T0, other="8613900000000"), one(0, T0, other="8613900000000"),
         one(1, T0 + 5, other="4930123456")]
    got, want, _ = run_both(b)
    assert_frames_match(got.features, want)
    f = got.features.iloc[0]
    assert (f.mtc_callback_share, f.moc_called_back_share) == (0.5, 1.0)
