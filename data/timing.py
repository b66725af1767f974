"""Time: the simulated window, hourly rhythms in local time, UTC conversion.

Hourly profiles are relative activity per local hour (weekday, weekend).  The
``resident`` shape follows the aggregate activity curves of the Telecom Italia
Big Data Challenge (Milan, 2013) and Orange D4D data: a deep trough around
4-5 h, a rise from 7 h, a plateau through the day with peaks late morning and
early evening, a slow decline after 21 h; weekends start later and lower.
``intl_wave`` is the traffic a bypass gateway terminates: international calls
into the country, shaped by the callers' time zones (a flatter curve with an
evening peak and real night traffic).
"""
from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np

_RES_WD = [1.2, 0.6, 0.35, 0.25, 0.25, 0.5, 1.5, 3.5, 5.5, 6.5, 7.0, 7.2,
           6.8, 6.6, 6.8, 7.0, 7.2, 7.4, 7.3, 7.0, 6.4, 5.4, 4.0, 2.4]
_RES_WE = [1.8, 1.0, 0.6, 0.4, 0.3, 0.4, 0.8, 1.6, 3.0, 4.6, 5.8, 6.4,
           6.6, 6.4, 6.4, 6.5, 6.6, 6.8, 6.9, 6.8, 6.3, 5.6, 4.4, 2.9]
_BUS_WD = [0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.1, 0.6, 3.0, 8.0, 9.0, 8.5,
           4.0, 5.5, 8.5, 9.0, 8.5, 6.0, 1.5, 0.6, 0.3, 0.15, 0.08, 0.04]
_BUS_WE = [0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.1, 0.4, 1.5, 4.0, 5.0, 5.0,
           3.0, 3.5, 4.5, 4.5, 4.0, 3.0, 1.0, 0.4, 0.2, 0.1, 0.05, 0.03]
_DRV = [1.0, 0.6, 0.4, 0.3, 0.4, 1.0, 3.0, 5.5, 7.0, 6.5, 6.0, 6.5,
        7.0, 6.5, 6.0, 6.2, 6.8, 7.5, 7.6, 7.0, 6.0, 5.0, 3.5, 2.0]
_FLAT = [1.0] * 24
_INTL = [2.6, 2.0, 1.6, 1.4, 1.3, 1.5, 2.0, 2.8, 3.6, 4.2, 4.6, 4.8,
         4.6, 4.5, 4.7, 5.0, 5.4, 5.8, 6.4, 7.0, 7.3, 6.8, 5.4, 3.8]

PROFILES = {
    # name: (weekday, weekend) hourly weights in local time
    "resident": (_RES_WD, _RES_WE),
    "business": (_BUS_WD, _BUS_WE),
    "driver": (_DRV, _DRV),
    "flat": (_FLAT, _FLAT),
    "intl_wave": (_INTL, _INTL),
}
PROFILE_NAMES = tuple(PROFILES)
PROFILE_CODE = {n: i for i, n in enumerate(PROFILE_NAMES)}


def profile_table() -> np.ndarray:
    """(n_profiles, 2, 24) hourly weights (weekday, weekend), normalised per row."""
    tab = np.array([PROFILES[n] for n in PROFILE_NAMES], dtype=float)
    return tab / tab.sum(axis=2, keepdims=True)


def wave(night_activity: float) -> np.ndarray:
    """The international traffic wave: 24 weights, peak 1, local hours 0-6 scaled so
    that their mean is ``night_activity`` (relative to the evening peak)."""
    w = np.array(_INTL, float)
    w = w / w.max()
    night = np.arange(24) < 7
    w[night] = w[night] / w[night].mean() * float(night_activity)
    return np.clip(w, 0.0, 1.0)


class Window:
    """The simulated days: local midnights, UTC offsets, weekday flags."""

    def __init__(self, start_date: str, days: int, timezone: str):
        tz = zoneinfo.ZoneInfo(timezone)
        d0 = dt.date.fromisoformat(start_date)
        self.days = int(days)
        self.timezone = timezone
        mids, offs, weekend = [], [], []
        for i in range(self.days + 1):
            d = d0 + dt.timedelta(days=i)
            midnight = dt.datetime(d.year, d.month, d.day, tzinfo=tz)
            noon = dt.datetime(d.year, d.month, d.day, 12, tzinfo=tz)
            mids.append(int(midnight.timestamp()))
            offs.append(int(noon.utcoffset().total_seconds()))
            weekend.append(d.weekday() >= 5)
        self.midnight_utc = np.array(mids[:-1], np.int64)     # UTC epoch of local midnight
        self.offset = np.array(offs[:-1], np.int64)           # local - UTC at local noon
        self.weekend = np.array(weekend[:-1], bool)
        self.start = int(mids[0])
        self.end = int(mids[-1])

    def local_hour(self, t_utc: np.ndarray) -> np.ndarray:
        """Local hour of day (0-23) of UTC epoch seconds."""
        day = self.day_of(t_utc)
        return ((t_utc - self.midnight_utc[day]) // 3600).clip(0, 23).astype(np.int8)

    def day_of(self, t_utc: np.ndarray) -> np.ndarray:
        return (np.searchsorted(self.midnight_utc, t_utc, side="right") - 1).clip(0, self.days - 1)

    def sample_times(self, rng, day: np.ndarray, profile: np.ndarray, table=None,
                     hours_mask=None) -> np.ndarray:
        """UTC times of events on local ``day`` following hourly ``profile`` codes.

        ``hours_mask`` (24 bools) removes hours (e.g. a night sleep) from every profile.
        """
        tab = profile_table() if table is None else table
        if hours_mask is not None:
            tab = tab * np.asarray(hours_mask, float)
            tab = tab / tab.sum(axis=2, keepdims=True)
        cum = np.cumsum(tab, axis=2)
        n = len(day)
        hour = np.empty(n, np.int64)
        u = rng.random(n)
        we = self.weekend[day]
        if np.ndim(profile) == 0:
            for w in (0, 1):
                m = we == bool(w)
                hour[m] = np.searchsorted(cum[int(profile), w], u[m], side="right")
        else:
            for p in np.unique(profile):
                for w in (0, 1):
                    m = (profile == p) & (we == bool(w))
                    if m.any():
                        hour[m] = np.searchsorted(cum[p, w], u[m], side="right")
        hour = np.minimum(hour, 23)
        sec = rng.integers(0, 3600, size=n)
        return self.midnight_utc[day] + hour * 3600 + sec
