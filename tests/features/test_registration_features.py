"""Registration features (issue 19) on a hand-made network: values worked out by hand."""
import math

import numpy as np

from simbox.fastpath.events import CellDict, EventBatch, RecordType, encode_digits
from simbox.features import features_from_events

T = 1772366400                       # 2026-03-01 12:00:00 UTC, an hour boundary
A, B, C = "460001234567890", "460001234567891", "460001234567950"   # A, B neighbours
GW = "35693803123456"                # a gateway port: IMEI (14) and IMEISV (16) of it
GW_SV = "3569380312345601"


def batch(rows):
    """rows: (rtype, time, imsi, imei, other, duration)."""
    cols = {"rtype": np.array([r[0] for r in rows], np.uint8),
            "time": np.array([r[1] for r in rows], np.int64),
            "imsi": np.array([encode_digits(r[2]) for r in rows], np.int64),
            "imei": np.array([encode_digits(r[3]) for r in rows], np.int64),
            "msisdn": np.zeros(len(rows), np.int64),
            "other": np.array([r[4] if r[0] == RecordType.ATTACH else encode_digits(r[4])
                               for r in rows], np.int64),
            "duration": np.array([r[5] for r in rows], np.int32),
            "cell": np.full(len(rows), -1, np.int32)}
    return EventBatch(cols)


ATT, MOC = RecordType.ATTACH, RecordType.MOC
REG, AUTH, CHECK = 1, 2, 3
LAC = 4820 + 1


def test_registration_features_by_hand():
    rows = [
        # A: registers on the gateway (IMEISV), calls, registers again, never calls again
        (ATT, T + 10, A, GW_SV, REG, LAC), (ATT, T + 11, A, GW, CHECK, 0),
        (ATT, T + 12, A, "", AUTH, 0), (ATT, T + 13, A, "", AUTH, 0), (ATT, T + 14, A, "", AUTH, 0),
        (MOC, T + 60, A, GW, "8613900000000", 30),
        (ATT, T + 4000, A, GW_SV, REG, LAC),
        # B: the same port, the same hour and LAC; never calls
        (ATT, T + 100, B, GW_SV, REG, LAC), (ATT, T + 3700, B, "", AUTH, 0),
        # C: a phone elsewhere, registers on day 2 on the gateway (churn: 3 SIMs / 2 days)
        (ATT, T + 86400, C, GW, CHECK, 0), (MOC, T + 86500, C, GW, "8613900000001", 10),
    ]
    res = features_from_events([batch(rows)], CellDict())
    f = res.features
    assert f.loc[A, "n_registrations"] == 2 and f.loc[B, "n_registrations"] == 1
    assert f.loc[C, "n_registrations"] == 0
    assert (f.loc[A, "auth_max_per_hour"], f.loc[B, "auth_max_per_hour"]) == (3, 1)
    assert f.loc[A, "reg_idle_share"] == 0.5 and f.loc[B, "reg_idle_share"] == 1.0
    assert math.isnan(f.loc[C, "reg_idle_share"])
    # the port's hour T..T+3599: A and B (IMEI and IMEISV are one device); hour +1: A alone
    assert list(f["reg_imei_imsis_hour"]) == [2, 2, 1]
    # the port: 3 SIMs over 2 UTC days
    assert list(f["reg_device_churn"]) == [1.5, 1.5, 1.5]
    # A and B registered in LAC 4820 within the first hour: neighbours; C no LAC
    assert list(f["reg_lac_neighbours"]) == [1, 1, 0]


def test_without_map_signaling_the_counts_are_zero_and_the_rest_nan():
    rows = [(MOC, T + 60, A, GW, "8613900000000", 30), (ATT, T + 70, A, GW, 0, 0)]   # LTE attach
    f = features_from_events([batch(rows)], CellDict()).features
    assert (f.loc[A, "n_registrations"], f.loc[A, "auth_max_per_hour"],
            f.loc[A, "reg_imei_imsis_hour"], f.loc[A, "reg_lac_neighbours"]) == (0, 0, 0, 0)
    assert math.isnan(f.loc[A, "reg_idle_share"]) and math.isnan(f.loc[A, "reg_device_churn"])
