"""The numbers that define feature values, in one place.

The aggregation kernel (``_aggregate.pyx``) reads them when it is imported, the
post-processing (``features/post.py``, ``features/comove.py``) and the
minimum-evidence mask of models (``training/evidence.py``, through the feature
registry) use them, and the feature schema hash (``features/registry.py``)
covers every upper-case name here: change one and the models and knowledge files
made before refuse to load.  Say the change in the meaning of the features it
touches too (``docs/features.md``).  Pure Python, imports nothing.
"""

# calls and SMS (fastpath/_aggregate.pyx)
SHORT_CALL_S = 10           # moc_short_share: an answered MOC shorter than this is short
SHORT_CODE_MIN = 1000       # sms_mt_short_share: digits codes of 3..6 digit numbers are
SHORT_CODE_END = 10000000   # SHORT_CODE_MIN <= code < SHORT_CODE_END (a leading 1 + digits)
INTL_MIN_DIGITS = 8         # *_intl_share: an E.164 number abroad has at least this many digits
BURST_GAP_S = 30            # moc_gap_lt30_share: a MOC gap shorter than this is a burst

# local time of day and week (fastpath/_aggregate.pyx)
NIGHT_END = 6               # night: local hours 0 .. NIGHT_END - 1
OFFICE_FROM = 9             # office hours: Monday-Friday, local hours OFFICE_FROM ..
OFFICE_TO = 18              # .. OFFICE_TO - 1
EVENING_FROM = 18           # evening: local hours EVENING_FROM .. 23

# mobility (fastpath/_aggregate.pyx, features/comove.py)
EARTH_KM = 6371.0088        # mean Earth radius of the haversine distance (gyration_km)
MOVE_GAP_S = 1200           # moves: two runs at different sites at most this far apart
COMOVE_MATCH_S = 1200       # comove_*: moves of two SIMs at most this far apart are one move
COMOVE_CROWD = 48           # comove_*: more moves than this between two sites within
                            # COMOVE_MATCH_S are a crowd (a road, a train) and match nothing
COMOVE_MIN_SHARED = 3       # comove_peers: a peer shares at least this many moves

# numbers bought in a batch (features/post.py)
NEIGHBOUR_DISTANCE = 10     # *_neighbours: IMSIs or MSISDNs at most this far apart

# models (training/evidence.py): a statistic of fewer events is unknown to the model
MIN_EVIDENCE = 5


def values() -> dict:
    """Every constant of this module by name (what the feature schema hash covers)."""
    return {k: v for k, v in globals().items() if k.isupper() and not k.startswith("_")}
