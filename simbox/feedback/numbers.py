"""Phone numbers as people and test-call systems write them, to the CDRs' E.164 digits.

The CDRs write numbers as E.164 digits without ``+`` (``8613800138000``).  A CLI
received at a probe may be international (``+86 138 0013 8000``, ``008613800138000``)
or national (``013800138000``, the trunk prefix ``0`` then the national number):
:func:`e164` turns all of them into the CDR form, given the network's country code.
"""
from __future__ import annotations

__all__ = ["e164", "BLANK_CLI_WORDS"]

#: CLI texts that mean "no CLI" (besides an empty field)
BLANK_CLI_WORDS = ("anonymous", "unknown", "private", "restricted", "withheld", "unavailable")
_IGNORED = str.maketrans("", "", " -().\t/")


def e164(text: str, country_code: str | None = None, *, trunk_prefix: str = "0",
         international_prefix: str = "00") -> tuple[str | None, str]:
    """``(digits or None, why)`` of a written number.

    ``+CC...`` and ``00CC...`` (``international_prefix``) are international; a number
    starting with ``trunk_prefix`` is national and gets ``country_code`` (without one it
    cannot be read: None); other digits are taken as E.164 already.  ``why`` is
    ``international``, ``national``, ``e164``, or, with None, what is wrong (``blank``
    for an empty or withheld CLI).
    """
    t = (text or "").strip()
    if not t or t.lower() in BLANK_CLI_WORDS:
        return None, "blank"
    t = t.translate(_IGNORED)
    plus = t.startswith("+")
    digits = t[1:] if plus else t
    if not (digits.isascii() and digits.isdigit()):
        return None, f"{text!r} is not a phone number"
    if plus:
        out, kind = digits, "international"
    elif international_prefix and digits.startswith(international_prefix):
        out, kind = digits[len(international_prefix):], "international"
    elif trunk_prefix and digits.startswith(trunk_prefix):
        if not country_code:
            return None, f"{text!r} is a national number and no country code is given"
        out, kind = country_code + digits[len(trunk_prefix):], "national"
    else:
        out, kind = digits, "e164"
    if not 3 <= len(out) <= 18:
        return None, f"{text!r} has {len(out)} digits"
    return out, kind
