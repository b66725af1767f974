"""Subscriber keys and device tokens: one int64 space for IMSIs, MSISDNs and tokens.

Events carry the subscriber as an int64 (the ``imsi`` column of an
:class:`~simbox.fastpath.events.EventBatch`).  The aggregation key is the IMSI
when the record has one; a column profile may declare another
(``subscriber_key``, see docs/input-formats.md).  The key space is split into
disjoint ranges so that keys of different kinds never meet:

==============================  ==============================================
range                           key
==============================  ==============================================
``1 .. 2e18``                   digits code of an IMSI (``int("1" + digits)``)
``MSISDN_BASE .. TOKEN_BASE``   ``MSISDN_BASE`` + digits code of an MSISDN
``TOKEN_BASE .. 2**63``         an anonymised token: ``TOKEN_BASE`` + the first
                                64 bits of its BLAKE2b hash modulo the range
==============================  ==============================================

Device identifiers use the same scheme: an IMEI of 14-16 digits is its digits
code; with ``imei_tokens`` any other identifier (an anonymised 4-digit token,
a hex string) becomes a token code.  Token codes cannot be decoded by
arithmetic: :class:`KeyBook` keeps each code's token (one entry per distinct
subscriber or device) and counts *collisions*: two tokens of one run hashed to
one code (expected about ``n**2 / 2**63``, i.e. never in practice; a collision
merges two subscribers, so it is counted and reported).
"""
from __future__ import annotations

import hashlib
import threading

import numpy as np

from simbox.fastpath.events import decode_array

MSISDN_BASE = 2 * 10 ** 18
TOKEN_BASE = 4 * 10 ** 18
TOKEN_RANGE = (1 << 63) - 1 - TOKEN_BASE
KEY_KINDS = ("imsi", "msisdn", "token", "imsi_or_msisdn")
#: the name of the key column in the outputs: ``imsi`` when every key of a run is an IMSI,
#: else ``subscriber`` (and a ``subscriber_key`` column gives each row's kind)
IMSI_COLUMN, SUBSCRIBER_COLUMN = "imsi", "subscriber"


def key_column(kinds) -> str:
    """The key column's name in the outputs of a run whose keys are of ``kinds`` (kind names,
    e.g. :attr:`FeatureResult.key_kinds`): :data:`IMSI_COLUMN` when all are IMSIs, else
    :data:`SUBSCRIBER_COLUMN`."""
    return IMSI_COLUMN if set(kinds) <= {"imsi"} else SUBSCRIBER_COLUMN


def token_code(token: str) -> int:
    """The code of a token string (stable across runs and machines)."""
    h = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
    return TOKEN_BASE + h % TOKEN_RANGE


def kind_of(codes) -> np.ndarray:
    """The kind of each key code: ``"imsi"`` (digits), ``"msisdn"`` or ``"token"`` (object array)."""
    codes = np.asarray(codes, np.int64)
    return np.select([codes >= TOKEN_BASE, codes >= MSISDN_BASE], ["token", "msisdn"],
                     "imsi").astype(object)


class KeyBook:
    """The tokens behind the token codes of one run, and the collisions among them.

    ``encode(tokens)`` gives the codes of an array of distinct token strings and
    remembers them; ``decode(codes)`` gives digit strings or tokens back.
    Thread-safe (readers of one run may run in threads).
    """

    def __init__(self):
        self.tokens: dict[int, str] = {}
        self.collisions = 0
        self._lock = threading.Lock()

    def encode(self, tokens) -> np.ndarray:
        out = np.empty(len(tokens), np.int64)
        with self._lock:
            for i, t in enumerate(tokens):
                c = token_code(t)
                seen = self.tokens.setdefault(c, t)
                if seen != t:
                    self.collisions += 1
                out[i] = c
        return out

    def decode(self, codes) -> np.ndarray:
        """Strings of key or device codes: digits for digit codes, the token for tokens."""
        codes = np.ascontiguousarray(codes, np.int64)
        tok = codes >= TOKEN_BASE
        msisdn = (codes >= MSISDN_BASE) & ~tok
        if not tok.any() and not msisdn.any():
            return decode_array(codes)
        plain = np.where(msisdn, codes - MSISDN_BASE, np.where(tok, 0, codes))
        out = decode_array(plain)
        get = self.tokens.get
        out[tok] = [get(int(c), f"#{int(c) - TOKEN_BASE:x}") for c in codes[tok]]
        return out


def decode_ids(codes, book: KeyBook | None = None) -> np.ndarray:
    """Strings of subscriber keys or device codes (``book`` None: plain digits codes)."""
    if book is None:
        codes = np.ascontiguousarray(codes, np.int64)
        if not len(codes) or int(codes.max()) < MSISDN_BASE:
            return decode_array(codes)
        book = KeyBook()
    return book.decode(codes)
