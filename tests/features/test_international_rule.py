"""The kernel's international-number rule (digits-code ranges) against the reference's
string rule, on every kind of own number and other party."""
import numpy as np

from features_reference import international
from simbox.fastpath.aggregate import SLOTS, CellTable, TimeZone, reduce_events, slot_columns
from simbox.fastpath.events import encode_digits


def reduce(cols):
    return reduce_events(cols, columns=slot_columns(SLOTS), ncols=len(SLOTS),
                         timezone=TimeZone("UTC"), cells=CellTable.unlocated([]))


OWNS = ["12025550100", "4915112345678", "8613800000001", "35312345678", "0123456789", "1234567",
        "79161234567", "2348031234567", "999999999999999999"]
OTHER_CASES = ["", "0", "00", "001", "1", "12", "1234567", "12345678", "0012345678", "012345678",
               "12025550199", "13025550199", "4930123456", "4915112345600", "4815112345600",
               "8613900000000", "8523900000000", "35387654321", "35487654321", "35312345",
               "79031234567", "2348031234500", "2358031234500", "999999999999999999",
               "100000000000000000", "000000000000000000", "99999999", "10000000"]


def test_international_rule_matches_the_string_rule():
    rows = [(own, other) for own in OWNS for other in OTHER_CASES]
    n = len(rows)
    cols = {
        "rtype": np.zeros(n, np.uint8),                        # one MOC per IMSI
        "time": np.full(n, 1_711_839_600, np.int64),
        "imsi": 1_460_001_000_000_000 + np.arange(n, dtype=np.int64),
        "imei": np.zeros(n, np.int64),
        "msisdn": np.array([encode_digits(own) for own, _ in rows], np.int64),
        "other": np.array([encode_digits(other) for _, other in rows], np.int64),
        "duration": np.full(n, 5, np.int32),
        "cell": np.full(n, -1, np.int32),
    }
    r = reduce(cols)
    got = r.feats[np.argsort(r.imsi), SLOTS.index("moc_intl_share")]
    want = [float(international(other, own)) for own, other in rows]
    bad = [(rows[i], got[i], want[i]) for i in range(n) if got[i] != want[i]]
    assert not bad


def test_incoming_calls_and_sms_follow_the_same_rule():
    rows = [(own, other) for own in OWNS for other in OTHER_CASES]
    n = len(rows)
    own = np.array([encode_digits(o) for o, _ in rows], np.int64)
    other = np.array([encode_digits(x) for _, x in rows], np.int64)
    cols = {   # per IMSI: one MTC and one SMS MT from the same number
        "rtype": np.repeat(np.array([[1, 3]], np.uint8), n, axis=0).ravel(),
        "time": np.full(2 * n, 1_711_839_600, np.int64),
        "imsi": np.repeat(1_460_001_000_000_000 + np.arange(n, dtype=np.int64), 2),
        "imei": np.zeros(2 * n, np.int64),
        "msisdn": np.repeat(own, 2),
        "other": np.repeat(other, 2),
        "duration": np.zeros(2 * n, np.int32),
        "cell": np.full(2 * n, -1, np.int32),
    }
    r = reduce(cols)
    got = r.feats[np.argsort(r.imsi), SLOTS.index("in_intl_share")]
    want = [float(international(x, o)) for o, x in rows]
    assert [(rows[i], got[i]) for i in range(n) if got[i] != want[i]] == []
