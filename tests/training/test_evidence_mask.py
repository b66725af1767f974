"""The minimum-evidence mask: statistics of fewer than 5 events are unknown to the model."""
import numpy as np
import pandas as pd

from simbox.training.evidence import EVIDENCE, MIN_EVENTS, EvidenceMask


def test_statistics_of_few_events_become_nan_counts_stay():
    names = ["n_moc", "n_mtc", "moc_gap_median", "mt_mo_ratio", "n_sms_mt",
             "sms_mt_short_share", "moves", "comove_share", "gyration_km"]
    X = np.array([
        [2, 14, 112.0, 7.0, 3, 0.0, 0, np.nan, 0.8],     # two calls: the gap median says nothing
        [5, 0, 200.0, 0.0, 9, 1.0, 12, 0.8, 0.1],      # enough of everything
        [4, 1, 30.0, 0.25, 4, 0.5, 4, 1.0, 0.0],       # mt_mo_ratio: 5 calls in all, kept
    ])
    out = EvidenceMask(feature_names=names).fit(X).transform(X)
    want = X.copy()
    want[0, [2, 5]] = np.nan            # gap median (2 MOC), SMS share (3 SMS MT)
    want[2, [2, 5, 7]] = np.nan         # 4 MOC, 4 SMS MT, 4 moves
    assert np.array_equal(np.isnan(out), np.isnan(want))
    assert np.allclose(out[~np.isnan(out)], want[~np.isnan(want)])
    assert np.array_equal(out[:, [0, 1, 4, 6, 8]], X[:, [0, 1, 4, 6, 8]])   # counts untouched
    assert np.isnan(X).sum() == 1       # the input is not modified in place


def test_rules_need_both_the_statistic_and_its_counts():
    m = EvidenceMask(feature_names=["moc_gap_median", "gyration_km"]).fit(np.zeros((1, 2)))
    assert m.rules_ == []
    X = pd.DataFrame({"n_moc": [1.0], "moc_gap_median": [5.0]})
    assert np.isnan(EvidenceMask(feature_names=list(X.columns)).fit(X).transform(X)[0, 1])
    assert all(MIN_EVENTS == 5 and counts for counts in EVIDENCE.values())
