"""Column mappings: how a vendor's CDR CSV maps onto the canonical contract.

A :class:`ColumnMapping` names, for each contract field, the header of the
column that holds it, and says how the file is written: separator, quote
character, time format, UTC offset of times written without a zone, record-type
codes, and whether numbers may be float-formatted (``7585772.0``).  Built-in
profiles live in ``fastpath/profiles/*.json``; a user profile is a JSON file of
the same form (see docs/input-formats.md)::

    {"name": "my-switch", "separator": ";", "time_format": "%Y%m%d%H%M%S",
     "columns": {"record_type": "CALL_TYPE", "start_time": "START", "imsi": "IMSI",
                 "imei": "IMEI", "msisdn": "MSISDN", "other_party": "B_NUMBER",
                 "duration_s": "DURATION", "cell_id": ["MCCMNC", "LAC", "CI"]},
     "record_types": {"0": "MOC", "1": "MTC", "6": "SMS_MO", "7": "SMS_MT", "9": null}}

Columns not named are ignored; a contract field mapped to ``null`` is absent
(0 / unknown in the batches); ``cell_id`` may list several columns, joined with
``-``; a record-type code mapped to ``null`` marks records that are skipped
(counted, not rejected).

The keys of *real operator exports* (``null_tokens``, ``subscriber_key``,
``imei_tokens``, ``timezone``, ``parties``, ``keep``, a ``token`` column, a
``record_type`` of a word and a code column, a ``start_time`` of a date and a
time column, one column feeding several fields) are read by the profiled
engine (``profile_read.py``); :attr:`ColumnMapping.engine` says which engine a
profile needs.  The Cython kernel keeps every profile it can express.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
from dataclasses import dataclass, field

from simbox.errors import ConfigError, InputError
from simbox.fastpath import _csvread
from simbox.fastpath.events import RecordType

PROFILES_DIR = pathlib.Path(__file__).parent / "profiles"

#: Contract fields in canonical order (the canonical header).
FIELDS = ("record_type", "start_time", "imsi", "imei", "msisdn", "other_party",
          "duration_s", "cell_id")
#: fields only the profiled engine reads: an anonymised subscriber token
EXTRA_FIELDS = ("token",)
REQUIRED = ("record_type", "start_time")
#: the column a subscriber key needs
KEY_FIELDS = {"imsi": ("imsi",), "msisdn": ("msisdn",), "token": ("token",),
              "imsi_or_msisdn": ("imsi", "msisdn")}
#: fields a record type may take from other columns (``parties``)
PARTY_FIELDS = ("imsi", "imei", "msisdn", "other_party", "token")
MULTI = {"cell_id": 4, "record_type": 2, "start_time": 2}
ROLES = {
    "record_type": _csvread.ROLE_RTYPE, "start_time": _csvread.ROLE_TIME,
    "imsi": _csvread.ROLE_IMSI, "imei": _csvread.ROLE_IMEI, "msisdn": _csvread.ROLE_MSISDN,
    "other_party": _csvread.ROLE_OTHER, "duration_s": _csvread.ROLE_DURATION,
}
TIME_KINDS = {"iso": _csvread.TIME_ISO, "epoch": _csvread.TIME_EPOCH,
              "epoch_ms": _csvread.TIME_EPOCH_MS}
TIME_ALIASES = {"compact": "%Y%m%d%H%M%S"}
RECORD_TYPES = [t.name for t in RecordType if t != RecordType.ATTACH]
KEYS = ("name", "description", "separator", "quote", "columns", "time_format",
        "utc_offset", "record_types", "float_numbers", "null_tokens", "subscriber_key",
        "imei_tokens", "timezone", "parties", "keep", "detect")
#: keys whose non-default value needs the profiled engine
PROFILED_KEYS = ("null_tokens", "subscriber_key", "imei_tokens", "timezone", "parties", "keep")
CANONICAL_CODES = {name: name for name in RECORD_TYPES}
_OFFSET = re.compile(r"^([+-])(\d\d):?(\d\d)$")


@dataclass(frozen=True)
class ColumnMapping:
    """How one CSV layout maps onto the contract (see the module docstring)."""

    name: str = "canonical"
    columns: dict = field(default_factory=lambda: {f: f for f in FIELDS})
    separator: str = ","
    quote: str = '"'
    time_format: str = "iso"
    utc_offset: str = "+00:00"
    record_types: dict = field(default_factory=lambda: dict(CANONICAL_CODES))
    float_numbers: bool = False
    description: str = field(default="", compare=False)
    null_tokens: tuple = ()
    subscriber_key: str = "imsi"
    imei_tokens: bool = False
    timezone: str | None = None
    parties: dict = field(default_factory=dict)
    keep: tuple = ()
    detect: dict | None = field(default=None, compare=False)

    def __post_init__(self):
        if "token" not in self.columns:
            object.__setattr__(self, "columns", {**self.columns, "token": None})
        for key in ("null_tokens", "keep"):
            if isinstance(getattr(self, key), list):
                object.__setattr__(self, key, tuple(getattr(self, key)))
        _validate(self)

    @property
    def engine(self) -> str:
        """``"kernel"`` (the Cython CSV kernel reads it) or ``"profile"`` (profile_read.py)."""
        if (self.null_tokens or self.subscriber_key != "imsi" or self.imei_tokens
                or self.timezone or self.parties or self.keep
                or self.columns.get("token") is not None
                or any(len(self.source_columns(f)) > 1 for f in ("record_type", "start_time"))):
            return "profile"
        used = [_norm(n) for f in FIELDS for n in self.source_columns(f)]
        return "profile" if len(used) != len(set(used)) else "kernel"

    # ---- derived -----------------------------------------------------------
    @property
    def offset_seconds(self) -> int:
        """Seconds east of UTC of times written without a zone."""
        sign, hh, mm = _OFFSET.match(self.utc_offset).groups()
        return (1 if sign == "+" else -1) * (int(hh) * 3600 + int(mm) * 60)

    def time_program(self):
        """(kind, ops bytes, args bytes) for the kernel."""
        fmt = TIME_ALIASES.get(self.time_format, self.time_format)
        if fmt in TIME_KINDS:
            return TIME_KINDS[fmt], b"", b""
        return (_csvread.TIME_PATTERN,) + _compile_pattern(fmt, self.name)

    def code_table(self):
        """[(code bytes, RecordType value or -1 = skip)] for the kernel."""
        return [(code.encode("utf-8"), -1 if rt is None else int(RecordType[rt]))
                for code, rt in self.record_types.items()]

    def source_columns(self, fld: str) -> list:
        """Header names holding contract field ``fld`` ([] if absent)."""
        v = self.columns.get(fld)
        if v is None:
            return []
        return list(v) if isinstance(v, (list, tuple)) else [v]

    def field_columns(self, fld: str, rtype: str | None = None) -> list:
        """Header names of field ``fld`` for records of type ``rtype`` (``parties`` applied)."""
        if rtype is not None and fld in self.parties.get(rtype, {}):
            v = self.parties[rtype][fld]
            return [] if v is None else [v]
        return self.source_columns(fld)

    def used_columns(self) -> list:
        """Every header name the profile reads (fields, parties, keep), in order, once."""
        names = [n for f in FIELDS + EXTRA_FIELDS for n in self.source_columns(f)]
        names += [v for p in self.parties.values() for v in p.values() if v is not None]
        names += list(self.keep)
        out, seen = [], set()
        for n in names:
            if _norm(n) not in seen:
                seen.add(_norm(n))
                out.append(n)
        return out

    def resolve(self, header: list, path) -> list:
        """[(column index, role)] for a file's header; InputError if columns are missing."""
        index = {}
        for i, h in enumerate(header):
            index.setdefault(_norm(h), i)
        roles, missing = [], []
        for fld in FIELDS:
            names = self.source_columns(fld)
            for k, name in enumerate(names):
                i = index.get(_norm(name))
                if i is None:
                    missing.append(name)
                elif fld == "cell_id":
                    roles.append((i, _csvread.ROLE_CELL + k))
                else:
                    roles.append((i, ROLES[fld]))
        if missing:
            raise InputError(_missing_message(path, self, missing, header))
        if self.engine != "kernel":
            raise ConfigError(f"column profile {self.name!r} needs the profiled reader "
                              "(simbox.fastpath.profile_read), not the CSV kernel")
        used = [i for i, _ in roles]
        dup = sorted({header[i] for i in used if used.count(i) > 1})
        if dup:
            raise ConfigError(f"column profile {self.name!r} maps several fields to the column(s) "
                              f"{', '.join(dup)}")
        return roles

    def missing_columns(self, header: list) -> list:
        """Header names the profile reads that ``header`` lacks."""
        have = {_norm(h) for h in header}
        return [n for n in self.used_columns() if _norm(n) not in have]

    def to_dict(self) -> dict:
        d = {"name": self.name, "description": self.description,
             "separator": self.separator, "quote": self.quote,
             "columns": {k: v for k, v in self.columns.items()
                         if v is not None or k in FIELDS},
             "time_format": self.time_format,
             "utc_offset": self.utc_offset, "record_types": dict(self.record_types),
             "float_numbers": self.float_numbers}
        extra = {"null_tokens": list(self.null_tokens), "subscriber_key": self.subscriber_key,
                 "imei_tokens": self.imei_tokens, "timezone": self.timezone,
                 "parties": dict(self.parties), "keep": list(self.keep), "detect": self.detect}
        default = {"null_tokens": [], "subscriber_key": "imsi", "imei_tokens": False,
                   "timezone": None, "parties": {}, "keep": [], "detect": None}
        d.update({k: v for k, v in extra.items() if v != default[k]})
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "<profile>") -> "ColumnMapping":
        if not isinstance(d, dict):
            raise ConfigError(f"column profile {source}: must be a JSON object, "
                              f"not {type(d).__name__}")
        unknown = sorted(set(d) - set(KEYS))
        if unknown:
            raise ConfigError(f"column profile {source}: unknown key(s) {', '.join(unknown)} "
                              f"(allowed: {', '.join(KEYS)})")
        kw = dict(d)
        kw.setdefault("name", source)
        if "columns" in kw and isinstance(kw["columns"], dict):
            cols = {f: None for f in FIELDS + EXTRA_FIELDS}
            cols.update(kw["columns"])
            kw["columns"] = cols
        try:
            return cls(**kw)
        except ConfigError as e:
            if str(e).startswith("column profile"):
                raise
            raise ConfigError(f"column profile {source}: {e}") from None


def _norm(name) -> str:
    return str(name).strip().lstrip("\ufeff").strip().lower()


def _missing_message(path, m, missing, header) -> str:
    shown = ", ".join(h if h else "''" for h in header[:20])
    if len(header) > 20:
        shown += f", ... ({len(header)} columns)"
    return (f"{path}: the header lacks column(s) {', '.join(missing)} required by column "
            f"profile {m.name!r} (header: {shown}); give the file's layout with --columns "
            f"(a built-in profile: {', '.join(builtin_profiles())}, or a profile file, "
            f"see docs/input-formats.md)")


def no_header_message(path, m, header, wanted) -> str:
    """The message of a first line that names none of the profile's columns."""
    line = m.separator.join(header)
    shown = line if len(line) <= 80 else line[:77] + "..."
    return (f"{path}:1: no header line: line 1 ({shown!r}) names none of the columns of "
            f"profile {m.name!r} ({m.separator.join(wanted)}); a CDR CSV file starts with a "
            "header line naming its columns, or give the file's layout with --columns "
            "(see docs/input-formats.md)")


def _validate(m: ColumnMapping):
    def bad(key, msg):
        raise ConfigError(f"column profile {m.name!r}: {key}: {msg}")

    if not isinstance(m.name, str) or not m.name:
        raise ConfigError("column profile: name must be a non-empty string")
    for key in ("separator", "quote"):
        v = getattr(m, key)
        if not isinstance(v, str) or len(v) != 1 or not v.isascii() or v in "\r\n":
            bad(key, f"must be one ASCII character other than a newline, not {v!r}")
    if m.separator == m.quote:
        bad("quote", "must differ from the separator")
    if not isinstance(m.columns, dict):
        bad("columns", "must be an object {contract field: header name}")
    extra = sorted(set(m.columns) - set(FIELDS + EXTRA_FIELDS))
    if extra:
        bad("columns", f"unknown field(s) {', '.join(extra)} "
                       f"(fields: {', '.join(FIELDS + EXTRA_FIELDS)})")
    if m.subscriber_key not in KEY_FIELDS:
        bad("subscriber_key", f"{m.subscriber_key!r} is not one of {', '.join(KEY_FIELDS)}")
    for fld in FIELDS + EXTRA_FIELDS:
        v = m.columns.get(fld)
        if v is None:
            if fld in REQUIRED:
                bad("columns", f"{fld} is required (give the header name of its column)")
            if fld in KEY_FIELDS[m.subscriber_key] and not any(
                    m.parties.get(rt, {}).get(fld) for rt in m.parties or {}):
                hint = ("; if the export has no IMSI, set subscriber_key to msisdn, token or "
                        "imsi_or_msisdn" if fld == "imsi" else "")
                bad("columns", f"{fld} is required by subscriber_key {m.subscriber_key!r} "
                               f"(give the header name of its column){hint}")
            continue
        most = MULTI.get(fld, 1)
        names = v if (most > 1 and isinstance(v, list)) else [v]
        if most > 1 and not 1 <= len(names) <= most:
            bad("columns", f"{fld} lists 1 to {most} columns")
        for name in names:
            if not isinstance(name, str) or not name.strip():
                what = f"a header name or a list of 1-{most} header names" if most > 1 \
                    else "a header name (string) or null"
                bad("columns", f"{fld} must be {what}, not {name!r}")
    _validate_profiled(m, bad)
    tf = m.time_format
    if not isinstance(tf, str) or not tf:
        bad("time_format", "must be a string")
    tf = TIME_ALIASES.get(tf, tf)
    if tf not in TIME_KINDS:
        if "%" not in tf:
            bad("time_format", f"{m.time_format!r} is not one of iso, epoch, epoch_ms, compact "
                               "or a pattern like '%Y-%m-%d %H:%M:%S'")
        _compile_pattern(tf, m.name)
    if not isinstance(m.utc_offset, str) or not _OFFSET.match(m.utc_offset):
        bad("utc_offset", f"must look like +08:00 or -0500, not {m.utc_offset!r}")
    sign, hh, mm = _OFFSET.match(m.utc_offset).groups()
    if int(hh) > 23 or int(mm) > 59:
        bad("utc_offset", f"{m.utc_offset!r} is out of range")
    if not isinstance(m.record_types, dict) or not m.record_types:
        bad("record_types", "must be a non-empty object {code in the file: record type}")
    for code, rt in m.record_types.items():
        if not isinstance(code, str) or not code or len(code.encode("utf-8")) > 31:
            bad("record_types", f"code {code!r} must be a string of 1-31 bytes")
        if rt is not None and rt not in RECORD_TYPES:
            bad("record_types", f"code {code!r} maps to {rt!r}; allowed: "
                                f"{', '.join(RECORD_TYPES)} or null (skip the record)")
    if len(m.record_types) > 63:
        bad("record_types", "at most 63 codes")
    if not isinstance(m.float_numbers, bool):
        bad("float_numbers", f"must be true or false, not {m.float_numbers!r}")
    if not isinstance(m.description, str):
        bad("description", "must be a string")


def _validate_profiled(m: ColumnMapping, bad):
    """The keys of the profiled engine (see the module docstring)."""
    if not isinstance(m.null_tokens, tuple) or not all(isinstance(t, str) for t in m.null_tokens):
        bad("null_tokens", 'must be a list of strings, e.g. ["\\\\N", "_N", "NULL"]')
    if not isinstance(m.imei_tokens, bool):
        bad("imei_tokens", f"must be true or false, not {m.imei_tokens!r}")
    if m.timezone is not None:
        import zoneinfo  # lazy: it loads sysconfig; the CLI's parser imports this module
        try:
            zoneinfo.ZoneInfo(m.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            bad("timezone", f"{m.timezone!r} is not an IANA time zone such as 'Europe/Berlin' "
                            "(times written without a zone are local times of that zone)")
        if TIME_ALIASES.get(m.time_format, m.time_format) in TIME_KINDS and \
                m.time_format != "iso":
            bad("timezone", f"is not used with time_format {m.time_format!r} (epoch times are UTC)")
    if not isinstance(m.parties, dict):
        bad("parties", "must be an object {record type: {field: header name}}")
    for rt, cols in m.parties.items():
        if rt not in RECORD_TYPES:
            bad("parties", f"{rt!r} is not a record type ({', '.join(RECORD_TYPES)})")
        if not isinstance(cols, dict):
            bad("parties", f"{rt}: must be an object {{field: header name}}")
        for fld, name in cols.items():
            if fld not in PARTY_FIELDS:
                bad("parties", f"{rt}: {fld!r} is not one of {', '.join(PARTY_FIELDS)}")
            if name is not None and (not isinstance(name, str) or not name.strip()):
                bad("parties", f"{rt}: {fld} must be a header name or null, not {name!r}")
    if not isinstance(m.keep, tuple) or not all(isinstance(k, str) and k for k in m.keep):
        bad("keep", "must be a list of header names")
    if m.detect is not None and not isinstance(m.detect, dict):
        bad("detect", "must be an object (written by simbox columns detect)")


def _compile_pattern(fmt: str, name: str):
    """ops/args bytes of a strftime-style pattern (%Y %y %m %d %H %M %S %f %z %%)."""
    ops, args = bytearray(), bytearray()
    i = 0
    seen = set()
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            if i + 1 >= len(fmt):
                raise ConfigError(f"column profile {name!r}: time_format: {fmt!r} ends with '%'")
            d = fmt[i + 1]
            i += 2
            if d == "%":
                ops.append(_csvread.OP_LITERAL)
                args.append(ord("%"))
                continue
            if d not in _csvread.PATTERN_OPS:
                raise ConfigError(f"column profile {name!r}: time_format: %{d} is not supported "
                                  "(use %Y %y %m %d %H %M %S %f %z %%)")
            seen.add(d)
            ops.append(_csvread.PATTERN_OPS[d])
            # a 1-digit month/day/hour/minute/second only when a literal follows
            short = d in "mdHMS" and i < len(fmt) and (fmt[i] != "%" or fmt[i:i + 2] == "%%")
            args.append(1 if short else 0)
        else:
            if not ch.isascii():
                raise ConfigError(f"column profile {name!r}: time_format: only ASCII literals "
                                  f"are supported, not {ch!r}")
            ops.append(_csvread.OP_LITERAL)
            args.append(ord(ch))
            i += 1
    if not ({"Y", "y"} & seen and "m" in seen and "d" in seen):
        raise ConfigError(f"column profile {name!r}: time_format: {fmt!r} must contain "
                          "%Y (or %y), %m and %d")
    if len(ops) > 63:
        raise ConfigError(f"column profile {name!r}: time_format: {fmt!r} is too long")
    return bytes(ops), bytes(args)


def builtin_profiles() -> list:
    """Names of the built-in profiles."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.json"))


def read_profile(path) -> ColumnMapping:
    """A ColumnMapping from a JSON profile file."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"column profile file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"column profile file {path}: cannot read it ({e})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"column profile file {path}: not valid JSON "
                          f"(line {e.lineno}, column {e.colno}: {e.msg})") from None
    return ColumnMapping.from_dict(d, source=path)


def load_mapping(spec=None) -> ColumnMapping:
    """A ColumnMapping from a built-in name, a profile file path, a dict or a mapping."""
    if spec is None:
        spec = "canonical"
    if isinstance(spec, ColumnMapping):
        return spec
    if isinstance(spec, dict):
        return ColumnMapping.from_dict(spec)
    if isinstance(spec, (str, os.PathLike)):
        s = os.fspath(spec)
        if s in builtin_profiles():
            return read_profile(PROFILES_DIR / f"{s}.json")
        if os.sep in s or s.endswith(".json") or os.path.exists(s):
            return read_profile(s)
        raise ConfigError(f"unknown column profile {s!r}: built-in profiles are "
                          f"{', '.join(builtin_profiles())}; or give the path of a .json "
                          "profile file")
    raise ConfigError(f"columns must be a profile name, a profile file path or a "
                      f"ColumnMapping, not {type(spec).__name__}")
