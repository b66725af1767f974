"""``simbox columns detect``: propose a column profile for an unknown CDR export.

:func:`detect_profile` reads the start of a file (at most ``SAMPLE_BYTES`` of
text, ``SAMPLE_ROWS`` records) and sniffs, in this order:

1. the separator: of ``, ; | TAB`` the one splitting the most lines into the
   same number (> 1) of fields (quoting as RFC 4180, quote ``"``);
2. the header: the first line, when most of its fields are not numbers;
3. null tokens: ``\\N _N NULL null NA N/A`` seen as whole values;
4. a built-in layout whose columns are all in the header (the one reading the
   most columns) is taken as it is, with confidence 1;
5. otherwise which column is which, from the header names (synonyms) checked
   against the values: IMSI-like (15 digits), IMEI-like (14-16 digits, or short
   tokens under a device-like name), MSISDN-like (digit strings), duration
   (non-negative numbers), time (a format parsing every value; a date column
   with a time or an hour column beside it), cell (one column, or LAC + CI),
   record type (few distinct words or codes; a second code column such as a
   teleservice), A- and B-party column pairs (the served subscriber of a
   terminating record in the B columns);
6. the subscriber key: the IMSI, the IMSI or else the MSISDN when the IMSI is
   sometimes empty, the MSISDN when there is no IMSI column.

Every guess a person should confirm is listed in ``ambiguities`` (unmapped
record-type codes, a time without a zone, numeric record codes read as the
common MSC coding); ``confidence`` is 1 minus 0.1 per ambiguity (at least 0.1).
A required field that no column or several columns equally fit raises
:class:`DetectError`: nothing is written.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field

from simbox.errors import InputError
from simbox.fastpath.bytesource import open_source
from simbox.fastpath.columns import (PROFILES_DIR, ColumnMapping, _norm, builtin_profiles,
                                     load_mapping)

SAMPLE_BYTES = 1 << 20
SAMPLE_ROWS = 2000
SEPARATORS = (",", ";", "|", "\t")
NULL_CANDIDATES = ("\\N", "_N", "NULL", "null", "NA", "N/A")
_FLOAT0 = re.compile(r"^([0-9]+)\.0+$")

#: header synonyms (names lower-cased, non-alphanumerics dropped), most specific first
NAMES = {
    "record_type": ("recordtype", "rectype", "calltype", "recordkind", "eventtype", "type",
                    "kind", "servicetype"),
    "code": ("teleservice", "servicecode", "eventcode", "basicservice"),
    "imsi": ("servedimsi", "imsi", "subsimsi", "aimsi"),
    "imei": ("servedimei", "imei", "aimei", "deviceid", "device", "imeisv"),
    "msisdn": ("servedmsisdn", "msisdn", "subsmsisdn", "amsisdn", "anum", "anumber", "calling",
               "caller", "callingnumber"),
    "other_party": ("otherparty", "bnum", "bnumber", "bmsisdn", "called", "othernumber",
                    "callednumber", "destination", "dialled"),
    "duration_s": ("duration", "callduration", "durationsec", "dur", "seconds"),
    "start_time": ("starttime", "seizuretime", "answertime", "eventtime", "calltime", "time",
                   "timestamp", "datetime", "start"),
    "date": ("calldate", "eventdate", "date", "startdate"),
    "hour": ("eventhour", "hour", "callhour"),
    "cell_id": ("cellid", "cell", "cgi", "ci", "cellidentity"),
    "lac": ("lac", "lacod", "locationarea"),
    "plmn": ("mccmnc", "plmn", "plmnid"),
}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "iso", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S",
                "%Y%m%d%H%M%S", "%y%m%d%H%M%S", "%d.%m.%Y %H:%M:%S")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d")
TYPE_WORDS = {
    "MOC": ("moc", "mo", "originating", "mocall", "mocallrecord", "outgoing", "0"),
    "MTC": ("mtc", "mt", "terminating", "mtcall", "mtcallrecord", "incoming", "1"),
    "SMS_MO": ("smsmo", "smo", "mosms", "mosmsrecord", "6"),
    "SMS_MT": ("smsmt", "smt", "mtsms", "mtsmsrecord", "7"),
    "DATA": ("data", "gprs", "ps"),
    None: ("transit", "callforwarding", "roamingcallforwarding", "fwd", "forwarding", "2"),
}
SERVICE_CODES = {"11": "speech", "21": "sms_mt", "22": "sms_mo"}


class DetectError(InputError):
    """The layout cannot be told from the file: a required field fits no or several columns."""


@dataclass
class Detection:
    """What :func:`detect_profile` found."""

    profile: ColumnMapping
    confidence: float
    ambiguities: list = field(default_factory=list)
    builtin: str | None = None          # the built-in layout recognised, if any
    roles: dict = field(default_factory=dict)   # header name -> what it looks like

    def to_dict(self) -> dict:
        """The profile JSON, with the detection under ``detect``."""
        d = self.profile.to_dict()
        d["detect"] = {"confidence": round(self.confidence, 2), "builtin": self.builtin,
                       "ambiguities": list(self.ambiguities), "columns": dict(self.roles)}
        return d


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def read_sample(path) -> str:
    """The first ``SAMPLE_BYTES`` of a file's text (gzip inflated), cut at a line end; of a
    Parquet or ORC file, its first rows written as CSV."""
    p = os.fspath(path)
    if os.path.isfile(p):
        from simbox.fastpath.columnar import sample_csv  # lazy: pyarrow, only to sniff columnar files
        text = sample_csv(p)                # Parquet or ORC: its first rows as CSV
        if text is not None:
            return text
    src = open_source(p, threaded=False, what="a CSV file")
    try:
        raw = src.peek(SAMPLE_BYTES)
    except OSError as e:
        raise InputError(f"{p}: cannot read it ({e})") from None
    finally:
        src.close()
    if not raw.strip():
        raise InputError(f"{p}: empty file (no header line, no records)")
    if len(raw) == SAMPLE_BYTES and b"\n" in raw:
        raw = raw[:raw.rindex(b"\n") + 1]
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", "replace")


def _rows(text: str, sep: str) -> list:
    return [r for r in csv.reader(io.StringIO(text), delimiter=sep, quotechar='"') if r]


def sniff_separator(text: str) -> str:
    lines = "\n".join(text.splitlines()[:50])
    best, score = ",", -1.0
    for sep in SEPARATORS:
        counts = Counter(len(r) for r in _rows(lines, sep))
        if not counts:
            continue
        width, n = counts.most_common(1)[0]
        s = n / sum(counts.values()) if width > 1 else 0.0
        if s > score + 1e-9:
            best, score = sep, s
    return best


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def detect_profile(path, *, use_builtins: bool = True, name: str | None = None,
                   timezone: str | None = None) -> Detection:
    """Propose a column profile for the CDR file ``path`` (see the module docstring).

    ``timezone``: the IANA zone of the file's local times (detection cannot see it),
    written into the profile when its times carry no zone.
    """
    det = _detect(path, use_builtins, name)
    m = det.profile
    if timezone and m.time_format not in ("epoch", "epoch_ms") and \
            not (det.builtin and m.time_format == "iso"):      # ISO times carry their zone
        d = m.to_dict()
        d["timezone"] = timezone
        det.profile = ColumnMapping.from_dict(d, source=os.fspath(path))
        det.ambiguities = [a for a in det.ambiguities if not a.startswith("times carry no zone")]
        det.confidence = max(0.1, 1.0 - 0.1 * len(det.ambiguities)) if not det.builtin else 1.0
    return det


def _detect(path, use_builtins, name) -> Detection:
    p = os.fspath(path)
    text = read_sample(p)
    sep = sniff_separator(text)
    rows = _rows(text, sep)[:SAMPLE_ROWS + 1]
    header = [h.strip() for h in rows[0]]
    if sum(_is_number(h) for h in header if h) > len(header) / 2:
        raise DetectError(f"{p}:1: no header line (line 1 is numbers); simbox needs a header "
                          "naming the columns: add one, or write the profile by hand "
                          "(docs/input-formats.md)")
    body = [r for r in rows[1:] if len(r) == len(header)]
    if not body:
        raise DetectError(f"{p}: no record after the header line with its {len(header)} fields "
                          f"(separator {sep!r}); cannot tell the columns apart")
    values = {h: [r[i].strip() for r in body] for i, h in enumerate(header)}
    nulls = sorted({v for vs in values.values() for v in vs if v in NULL_CANDIDATES},
                   key=NULL_CANDIDATES.index)
    if use_builtins:
        found = _builtin(header, sep)
        if found is not None:
            m = load_mapping(found)
            return Detection(m, 1.0, [], found, {h: f"column of built-in layout {found}"
                                                 for h in m.used_columns()})
    return _Guess(p, header, values, sep, nulls, name).run()


def _builtin(header, sep):
    best, used = None, 0
    for b in builtin_profiles():
        m = load_mapping(PROFILES_DIR / f"{b}.json")
        if m.separator == sep and not m.missing_columns(header) and len(m.used_columns()) > used:
            best, used = b, len(m.used_columns())
    return best


class _Guess:
    def __init__(self, path, header, values, sep, nulls, name):
        self.path, self.header, self.sep, self.nulls = path, header, sep, nulls
        self.name = name or os.path.splitext(os.path.basename(path))[0] + "-detected"
        self.values = {h: [v for v in vs if v and v not in nulls] for h, vs in values.items()}
        self.rawvals = values
        self.empty = {h: sum(1 for v in vs if not v or v in nulls) for h, vs in values.items()}
        self.ambiguities = []
        self.roles = {}
        self.taken = set()
        self.unsure = {}            # field -> the columns that fit it equally

    # ---- value tests -----------------------------------------------------------
    def digits(self, h, lo, hi) -> float:
        """Share of the column's values that are digit strings of lo-hi digits."""
        vs = self.values[h]
        if not vs:
            return 0.0
        ok = sum(1 for v in vs if (lambda s: s.isdigit() and lo <= len(s) <= hi)(
            _FLOAT0.sub(r"\1", v.lstrip("+"))))
        return ok / len(vs)

    def floaty(self, h) -> bool:
        return any(_FLOAT0.match(v) for v in self.values[h])

    def named(self, fld, pool=None):
        """Columns whose name is a synonym of ``fld``, best first."""
        out = []
        for rank, syn in enumerate(NAMES[fld]):
            for h in (pool or self.header):
                if h not in self.taken and _key(h) == syn:
                    out.append((rank, h))
        for rank, syn in enumerate(NAMES[fld]):       # then names containing a synonym
            for h in (pool or self.header):
                k = _key(h)
                if h not in self.taken and len(syn) > 3 and syn in k and \
                        all(h != o for _, o in out):
                    out.append((len(NAMES[fld]) + rank, h))
        return [h for _, h in sorted(out)]

    def take(self, fld, h, why):
        self.taken.add(h)
        self.roles[h] = f"{fld} ({why})"
        return h

    def pick(self, fld, test, required=False, what=None):
        """The column of ``fld``: a named one passing ``test``, else the only unnamed one."""
        for h in self.named(fld):
            if test(h) >= 0.9:
                return self.take(fld, h, "name and values")
        fits = [h for h in self.header if h not in self.taken and h and test(h) >= 0.98]
        if len(fits) == 1:
            return self.take(fld, fits[0], "values")
        if required:
            if len(fits) > 1:
                raise DetectError(f"{self.path}: cannot tell which column holds {what or fld}: "
                                  f"{', '.join(fits)} all fit; write the profile by hand "
                                  "(docs/input-formats.md)")
            raise DetectError(f"{self.path}: no column looks like {what or fld} (header: "
                              f"{', '.join(h or repr(h) for h in self.header)}); write the "
                              "profile by hand (docs/input-formats.md)")
        if len(fits) > 1:
            self.unsure[fld] = fits
            self.ambiguities.append(f"{fld}: several columns fit ({', '.join(fits)}); none chosen")
        return None

    def time_format(self, h, formats):
        vs = self.values[h][:200]
        for f in formats:
            try:
                for v in vs:
                    if f == "iso":
                        if len(v) < 16:
                            raise ValueError("a date, not a time")
                        dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
                    else:
                        dt.datetime.strptime(v, f)
                return f
            except ValueError:
                continue
        return None

    # ---- the guess -----------------------------------------------------------------
    def run(self) -> Detection:
        cols = {}
        cols["start_time"], time_format = self.times()
        cols["record_type"], codes = self.record_types()
        imsi = self.pick("imsi", lambda h: self.digits(h, 15, 15))
        cols["imsi"] = imsi
        cols["imei"] = self.pick("imei", lambda h: self.digits(h, 14, 16))
        imei_tokens = False
        if cols["imei"] is None:
            for h in self.named("imei"):
                if self.values[h]:
                    cols["imei"] = self.take("imei", h, "name; values are tokens")
                    imei_tokens = True
                    self.ambiguities.append(f"imei: {h} holds device tokens, not IMEIs "
                                            "(imei_tokens: true; no TAC lookup)")
                    break
        cols["msisdn"] = self.pick("msisdn", lambda h: self.digits(h, 6, 15))
        cols["other_party"] = self.pick("other_party", lambda h: self.digits(h, 3, 18))
        cols["duration_s"] = self.pick("duration_s", lambda h: self.numbers(h))
        cols["cell_id"] = self.cells()
        parties = self.parties(cols)
        if imsi is not None:
            n = len(self.rawvals[imsi])
            key = "imsi_or_msisdn" if self.empty[imsi] > 0.01 * n and cols["msisdn"] else "imsi"
        elif cols["msisdn"] is not None:
            key = "msisdn"
            self.ambiguities.append(f"no IMSI column: the subscriber key is the MSISDN "
                                    f"({cols['msisdn']})")
        elif "imsi" in self.unsure or "msisdn" in self.unsure:
            fld = "imsi" if "imsi" in self.unsure else "msisdn"
            raise DetectError(f"{self.path}: cannot tell which column holds the {fld}: "
                              f"{', '.join(self.unsure[fld])} all fit; write the profile by "
                              "hand (docs/input-formats.md)")
        else:
            raise DetectError(f"{self.path}: no column looks like an IMSI or an MSISDN (header: "
                              f"{', '.join(h or repr(h) for h in self.header)}); set "
                              "subscriber_key and its column in a profile by hand "
                              "(docs/input-formats.md)")
        floats = any(self.floaty(h) for h in (cols["imsi"], cols["msisdn"], cols["other_party"],
                                             cols["imei"], cols["duration_s"]) if h)
        zone = time_format not in ("epoch", "epoch_ms") and not any(
            re.search(r"(Z|[+-]\d\d:?\d\d)$", v) for v in self.values[self.time_cols[0]][:50])
        if zone:
            self.ambiguities.append("times carry no zone: set timezone to the network's IANA "
                                    "zone (taken as UTC)")
        d = {"name": self.name, "separator": self.sep, "columns": cols,
             "time_format": time_format, "record_types": codes, "float_numbers": floats,
             "null_tokens": self.nulls, "subscriber_key": key, "imei_tokens": imei_tokens,
             "parties": parties, "keep": self.keep(),
             "description": f"proposed by simbox columns detect from {os.path.basename(self.path)}"}
        m = ColumnMapping.from_dict(d, source=self.path)
        conf = max(0.1, 1.0 - 0.1 * len(self.ambiguities))
        for h in self.header:
            self.roles.setdefault(h, "not used")
        return Detection(m, conf, self.ambiguities, None, self.roles)

    def numbers(self, h) -> float:
        vs = self.values[h]
        if not vs:
            return 0.0
        ok = sum(1 for v in vs if re.fullmatch(r"[0-9]+(\.[0-9]*)?", v))
        return ok / len(vs)

    def times(self):
        for h in self.named("start_time"):
            f = self.time_format(h, TIME_FORMATS)
            if f:
                self.time_cols = [self.take("start_time", h, f"format {f}")]
                return h, f
        for h in self.named("date"):
            df = self.time_format(h, DATE_FORMATS)
            if not df:
                continue
            for t in self.named("start_time") + [x for x in self.header if _key(x) == "time"]:
                if t != h and self.time_format(t, ("%H:%M:%S",)):
                    self.time_cols = [self.take("start_time", h, "date"),
                                      self.take("start_time", t, "time of day")]
                    return [h, t], f"{df} %H:%M:%S"
            for t in self.named("hour"):
                vs = self.values[t]
                if vs and sum(v.isdigit() and int(v) < 24 for v in vs) >= 0.98 * len(vs):
                    self.time_cols = [self.take("start_time", h, "date"),
                                      self.take("start_time", t, "hour")]
                    self.ambiguities.append("times are whole hours (a date and an hour column)")
                    return [h, t], f"{df} %H"
        for h in self.header:               # any column parsing as times
            if h and h not in self.taken and self.values[h]:
                f = self.time_format(h, TIME_FORMATS)
                if f:
                    self.time_cols = [self.take("start_time", h, f"values, format {f}")]
                    return h, f
        raise DetectError(f"{self.path}: no column (or date and time columns) parses as times "
                          f"(header: {', '.join(h or repr(h) for h in self.header)}); write the "
                          "profile by hand with its time_format (docs/input-formats.md)")

    def _type_of(self, v):
        k = _key(v)
        for rt, words in TYPE_WORDS.items():
            if k in words:
                return rt, True
        return None, False

    def record_types(self):
        cands = [h for h in self.named("record_type") if 0 < len(set(self.values[h])) <= 16]
        if not cands:
            cands = [h for h in self.header if h not in self.taken and h and
                     0 < len(set(self.values[h])) <= 8 and
                     all(self._type_of(v)[1] for v in set(self.values[h]))]
        if not cands:
            raise DetectError(f"{self.path}: no column looks like the record type (few distinct "
                              "words or codes); write the profile by hand "
                              "(docs/input-formats.md)")
        h = self.take("record_type", cands[0], "few distinct values")
        seen = Counter(self.values[h])
        code_col = next((c for c in self.named("code") if 0 < len(set(self.values[c])) <= 16),
                        None)
        codes, unknown = {}, []
        if code_col:
            self.take("record_type", code_col, "service code beside the record kind")
            i, j = self.header.index(h), self.header.index(code_col)
            pairs = Counter()
            for r in zip(self._raw(i), self._raw(j)):
                pairs[r] += 1
            for (w, c), _ in pairs.most_common():
                rt, known = self._type_of(w)
                if known and rt is None:
                    codes[w] = None
                    continue
                svc = SERVICE_CODES.get(c)
                if rt in ("MOC", "MTC") and svc == "speech":
                    codes[f"{w}|{c}"] = rt
                elif rt == "MOC" and svc == "sms_mo":
                    codes[f"{w}|{c}"] = "SMS_MO"
                elif rt == "MTC" and svc == "sms_mt":
                    codes[f"{w}|{c}"] = "SMS_MT"
                elif not known:
                    unknown.append(w)
            self.ambiguities.append(f"record types from {h} and {code_col}: service codes "
                                    "11 speech, 21 SMS MT, 22 SMS MO assumed")
            return [h, code_col], codes
        for v, _ in seen.most_common():
            rt, known = self._type_of(v)
            if known:
                codes[v] = rt
            else:
                unknown.append(v)
        if any(v.isdigit() for v in codes):
            self.ambiguities.append("numeric record codes read as the common MSC coding "
                                    "0 MOC, 1 MTC, 6 SMS MO, 7 SMS MT, 2 forwarding (skipped): "
                                    "check record_types")
        if unknown:
            self.ambiguities.append(f"record-type code(s) {', '.join(sorted(set(unknown)))} of "
                                    f"{h} not mapped: their records are rejected unless listed "
                                    "in record_types")
        if not codes:
            raise DetectError(f"{self.path}: the values of {h} ({', '.join(list(seen)[:6])}) "
                              "are no record types simbox knows; write record_types by hand")
        return h, codes

    def _raw(self, i):
        return self.rawvals[self.header[i]]

    def cells(self):
        lac = self.named("lac")
        cell = self.pick("cell_id", lambda h: 0.95 if self.values[h] else 0.0)   # by name only
        if cell and lac:
            self.take("cell_id", lac[0], "location area, joined before the cell")
            plmn = self.named("plmn")
            if plmn:
                self.take("cell_id", plmn[0], "network (MCC MNC), joined first")
                return [plmn[0], lac[0], cell]
            return [lac[0], cell]
        return cell

    def parties(self, cols):
        """A/B column pairs: a terminating record's served subscriber in the B columns."""
        out = {}
        a_imsi = cols.get("imsi")
        if not a_imsi or self.empty[a_imsi] <= 0.01 * len(self.rawvals[a_imsi]):
            fields = ()         # the A columns always hold the served subscriber
        else:
            fields = ("imsi", "imei", "msisdn")
        for fld in fields:
            a = cols.get(fld)
            if not a or not re.match(r"(?i)^a[_ ]?", a):
                continue
            b = next((h for h in self.header if h != a and _key(h) == "b" + _key(a)[1:]), None)
            if b is None:
                continue
            self.taken.add(b)
            self.roles[b] = f"{fld} of terminating records (B party)"
            for rt in ("MTC", "SMS_MT"):
                out.setdefault(rt, {})[fld] = b
        if out and cols.get("msisdn"):
            for rt in out:
                out[rt]["other_party"] = cols["msisdn"]
            self.ambiguities.append("A/B party columns: on terminating records the served "
                                    "subscriber is read from the B columns")
        other = cols.get("other_party")
        if not out and other and _key(other) == "called":
            calling = next((h for h in self.header if _key(h) == "calling"), None)
            if calling:
                self.taken.add(calling)
                self.roles[calling] = "other_party of terminating records (the caller)"
                out = {rt: {"other_party": calling} for rt in ("MTC", "SMS_MT")}
        return out

    def keep(self):
        """Trunk columns, kept for later features."""
        out = [h for h in self.header if h not in self.taken and "trunk" in _key(h)]
        for h in out:
            self.roles[h] = "kept (trunk)"
        return out
