"""Identities of the simulated network: TAC table, IMEIs, IMSIs, MSISDNs, numbers.

All identities are built as *digits codes* (see :mod:`simbox.fastpath.events`):
``int("1" + digits)``, so arrays of them stay int64 and consecutive numbers stay
consecutive.

- IMEI: 8-digit TAC + 6-digit serial + Luhn check digit (15 digits).
- IMSI: MCC+MNC + MSIN, 15 digits; a SIM bought alone gets a random MSIN, SIMs
  bought together (a fraud batch, a company fleet, an M2M fleet, a family plan)
  get consecutive ones.
- MSISDN: country code + ``1`` + 10 digits (mainland-China style mobile numbers);
  again random alone, one consecutive block per purchase.
- Other parties: local numbers of other carriers, international numbers
  (``00`` + country code + digits) and service short codes (5-6 digits).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

# device types of tac.csv, with the number of synthetic TACs and their popularity
DEVICE_TYPES = {
    # name: (number of TACs, share of handsets using one of them)
    "smartphone": (120, 0.93),
    "feature_phone": (20, 0.05),
    "tablet": (10, 0.02),
    "modem": (12, 0.0),        # USB dongles / modem pools (card farms, some M2M)
    "m2m_module": (16, 0.0),   # IoT modules (meters, trackers, POS)
    "gsm_gateway": (10, 0.0),  # GOIP-style multi-port VoIP gateways
    "fct": (6, 0.0),           # fixed cellular terminals (desk phones with a SIM)
    "router": (8, 0.0),        # 4G routers / MiFi
}
TAC_BASE = 35_000_000   # synthetic TACs: 35xxxxxx, allocated per device type in blocks


def tac_table() -> pd.DataFrame:
    """``tac, device_type``: the synthetic TAC allocation (deterministic)."""
    rows = []
    block = 0
    for dtype, (n, _) in DEVICE_TYPES.items():
        start = TAC_BASE + block * 100_000 + 1_234
        for i in range(n):
            rows.append((f"{start + i * 37:08d}", dtype))
        block += 1
    return pd.DataFrame(rows, columns=["tac", "device_type"])


def tacs_of(table: pd.DataFrame, device_type: str) -> np.ndarray:
    return table.loc[table["device_type"] == device_type, "tac"].astype(np.int64).to_numpy()


def luhn_digit(body: np.ndarray) -> np.ndarray:
    """Luhn check digit of 14-digit IMEI bodies (int64 array)."""
    body = np.asarray(body, dtype=np.int64)
    total = np.zeros(len(body), dtype=np.int64)
    x = body.copy()
    for pos in range(14):               # rightmost digit first; it gets doubled
        d = x % 10
        x //= 10
        if pos % 2 == 0:
            d = d * 2
            d = d - 9 * (d > 9)
        total += d
    return (10 - total % 10) % 10


def make_imeis(tacs: np.ndarray, serials: np.ndarray) -> np.ndarray:
    """Digits codes of 15-digit IMEIs from TACs and 6-digit serials."""
    body = np.asarray(tacs, np.int64) * 1_000_000 + np.asarray(serials, np.int64) % 1_000_000
    return 10**15 + body * 10 + luhn_digit(body)


class IdentityPool:
    """Hands out unique IMEIs, IMSIs and MSISDNs (deterministic for its generator)."""

    def __init__(self, rng: np.random.Generator, mcc_mnc: str, country_code: str,
                 tac: pd.DataFrame, operator_code: str = "10086"):
        self.rng = rng
        self.tac = tac
        self.msin_digits = 15 - len(mcc_mnc)          # IMSIs have 15 digits
        self.imsi_prefix = int(mcc_mnc) * 10**self.msin_digits
        self.imsi_code0 = 10**15
        self.cc = country_code
        self.mcc_mnc = mcc_mnc
        self.operator_code = int("1" + operator_code)
        # mobile numbers: cc + "1" + 10 digits
        self.msisdn_code0 = int("1" + country_code + "1") * 10**10
        self.msisdn_len = len(country_code) + 11
        self._used_msin: set = set()
        self._used_msisdn: set = set()
        self._used_imei: set = set()
        self._used_foreign: set = set()     # foreign IMSIs and MSISDNs (roamers, boxes)
        self._imei_serial_next: dict = {}

    # -- SIM numbers --------------------------------------------------------
    def _unique_random(self, n, space, used):
        out = np.empty(0, np.int64)
        while len(out) < n:
            cand = self.rng.integers(0, space, size=int((n - len(out)) * 1.1) + 8)
            cand = pd.unique(cand)
            cand = np.array([c for c in cand if c not in used], dtype=np.int64) \
                if used else cand
            cand = cand[np.isin(cand, out, invert=True)]
            out = np.concatenate([out, cand[: n - len(out)]])
        used.update(out.tolist())
        return out

    def _unique_block(self, n, space, used):
        for _ in range(1000):
            start = int(self.rng.integers(0, space - n))
            block = np.arange(start, start + n, dtype=np.int64)
            if not any(int(b) in used for b in block):
                used.update(block.tolist())
                return block
        raise RuntimeError("identity space exhausted")

    def imsis(self, n, block=False):
        space = 10**self.msin_digits
        msin = self._unique_block(n, space, self._used_msin) if block else \
            self._unique_random(n, space, self._used_msin)
        return self.imsi_code0 + self.imsi_prefix + msin

    def msisdns(self, n, block=False):
        space = 10**10
        loc = self._unique_block(n, space, self._used_msisdn) if block else \
            self._unique_random(n, space, self._used_msisdn)
        return self.msisdn_code0 + loc

    def sim_numbers(self, n, block=False):
        """IMSIs and MSISDNs of ``n`` SIMs; consecutive (in step) when bought as one block."""
        return self.imsis(n, block=block), self.msisdns(n, block=block)

    def purchases(self, group):
        """IMSIs and MSISDNs for purchase ids: one block per id >= 0, -1 bought alone."""
        group = np.asarray(group)
        imsi = np.empty(len(group), np.int64)
        msisdn = np.empty(len(group), np.int64)
        alone = group < 0
        imsi[alone], msisdn[alone] = self.sim_numbers(int(alone.sum()))
        for g in np.unique(group[~alone]):
            m = group == g
            imsi[m], msisdn[m] = self.sim_numbers(int(m.sum()), block=True)
        return imsi, msisdn

    # -- devices ------------------------------------------------------------
    def imeis(self, device_type, n, consecutive=False, tac=None):
        """``n`` new IMEIs of ``device_type`` (one TAC and consecutive serials if asked)."""
        tacs = tacs_of(self.tac, device_type)
        if tac is None:
            if consecutive:
                tac = np.full(n, tacs[self.rng.integers(len(tacs))], np.int64)
            else:
                shares = _popularity(len(tacs))
                tac = tacs[self.rng.choice(len(tacs), size=n, p=shares)]
        else:
            tac = np.broadcast_to(np.asarray(tac, np.int64), (n,)).copy()
        if consecutive:
            start = int(self.rng.integers(0, 900_000))
            serial = start + np.arange(n)
        else:
            serial = self.rng.integers(0, 1_000_000, size=n)
        codes = make_imeis(tac, serial)
        # re-draw the rare collisions (two devices never share an IMEI by accident)
        for _ in range(20):
            used = self._used_imei
            dup = pd.Series(codes).duplicated().to_numpy() | np.fromiter(
                (c in used for c in codes.tolist()), bool, len(codes))
            if not dup.any():
                break
            serial = np.where(dup, self.rng.integers(0, 1_000_000, size=n), serial)
            codes = make_imeis(tac, serial)
        self._used_imei.update(codes.tolist())
        return codes

    def handset_imeis(self, n):
        """IMEIs of ordinary handsets (smartphones mostly, some feature phones, tablets)."""
        kinds = np.array(["smartphone", "feature_phone", "tablet"])
        shares = np.array([DEVICE_TYPES[k][1] for k in kinds])
        which = self.rng.choice(len(kinds), size=n, p=shares / shares.sum())
        out = np.empty(n, np.int64)
        for i, k in enumerate(kinds):
            m = which == i
            if m.any():
                out[m] = self.imeis(k, int(m.sum()))
        return out

    # -- other parties -------------------------------------------------------
    def offnet_numbers(self, n):
        """Local mobile numbers of other carriers (random, may repeat)."""
        return self.msisdn_code0 + self.rng.integers(0, 10**10, size=n)

    def international_numbers(self, n, cc=None):
        """International numbers: 00 + country code (1-3 digits) + 9 digits; ``cc``
        (one code or one per number) fixes the countries, else drawn from
        :data:`ABROAD`."""
        if cc is None:
            codes = np.array([c for _, c in ABROAD.values() if str(c) != self.cc], np.int64)
            c = codes[self.rng.integers(len(codes), size=n)]
        else:
            c = np.broadcast_to(np.asarray(cc, np.int64), (n,))
        body = self.rng.integers(10**8, 10**9, size=n)
        ndig = np.where(c < 10, 1, np.where(c < 100, 2, 3))
        # "1" + "00" + cc + body  ->  code = (1*10^2 ... ) built arithmetically
        return ((10**2 * 10 ** ndig + c) * 10**9 + body)

    def foreign_sims(self, n, one_home=False, block=False):
        """Foreign SIMs (inbound roamers, or a box's roaming SIMs): (IMSIs, MSISDNs,
        country codes).

        Each SIM's home carrier is drawn from :data:`ABROAD` (never this country;
        ``one_home``: one carrier for all); the IMSI is that carrier's MCC-MNC +
        MSIN (15 digits), the MSISDN its country code + 10 digits; random, or
        consecutive and in step for a ``block`` bought together.
        """
        homes = [h for h in ABROAD.values() if h[0] != self.mcc_mnc and str(h[1]) != self.cc]
        which = np.full(n, self.rng.integers(len(homes))) if one_home else \
            self.rng.integers(len(homes), size=n)
        mccmnc = np.array([homes[i][0] for i in which])
        cc = np.array([homes[i][1] for i in which], np.int64)
        msin_digits = 15 - np.char.str_len(mccmnc)
        prefix = np.array([int("1" + m) for m in mccmnc], np.int64) * 10**msin_digits
        ndig = np.where(cc < 10, 1, np.where(cc < 100, 2, 3))
        cc_code = (10**ndig + cc) * 10**10
        imsi = np.zeros(n, np.int64)
        msisdn = np.zeros(n, np.int64)
        used = self._used_foreign
        todo = np.arange(n)
        while len(todo):       # re-draw the rare repeats
            if block:
                step = np.arange(n)
                imsi = prefix + int(self.rng.integers(0, 10**8)) + step
                msisdn = cc_code + int(self.rng.integers(10**9, 10**10 - n)) + step
            else:
                imsi[todo] = prefix[todo] + (self.rng.random(len(todo)) *
                                             10.0**msin_digits[todo]).astype(np.int64)
                msisdn[todo] = cc_code[todo] + self.rng.integers(10**9, 10**10, size=len(todo))
            seen = np.fromiter(((a in used or b in used) for a, b in
                                zip(imsi.tolist(), msisdn.tolist())), bool, n)
            todo = np.flatnonzero(seen | pd.Series(imsi).duplicated().to_numpy() |
                                  pd.Series(msisdn).duplicated().to_numpy())
        used.update(imsi.tolist())
        used.update(msisdn.tolist())
        return imsi, msisdn, cc

    def short_codes(self, n, pool):
        """Service short codes (5-6 digits) picked from ``pool`` (digits codes)."""
        return pool[self.rng.integers(len(pool), size=n)]

    def short_code_pool(self, n=60):
        five = 100_000 + self.rng.integers(10_000, 99_999, size=n // 2)
        six = 1_000_000 + self.rng.integers(100_000, 999_999, size=n - n // 2)
        return np.unique(np.concatenate([five, six, [self.operator_code]]))


# foreign carriers: the home networks of inbound roamers, and the countries of
# international numbers (country: (MCC-MNC, country calling code))
ABROAD = {
    "US": ("310260", 1), "GB": ("23410", 44), "DE": ("26201", 49), "FR": ("20801", 33),
    "AE": ("42402", 971), "SA": ("42001", 966), "MY": ("50212", 60), "SG": ("52501", 65),
    "JP": ("44010", 81), "KR": ("45005", 82), "NG": ("62130", 234), "KE": ("63902", 254),
    "IN": ("40410", 91), "PK": ("41001", 92), "BD": ("47001", 880), "PH": ("51502", 63),
}


def _popularity(n):
    w = 1.0 / np.arange(1, n + 1) ** 0.9
    return w / w.sum()
