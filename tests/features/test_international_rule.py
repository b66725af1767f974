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
