"""Seizure labels: read and check ``labels.csv``, expand device rows, merge cases.

``labels.csv`` (see DESIGN.md) has a header and one row per SIM or device found in
a raid::

    imsi,imei,label,case_id
    460001234567890,,simbox,raid-2026-03-01
    ,356938035643809,cardfarm,raid-2026-03-04

``label`` is one of :data:`CLASSES`.  A row gives an ``imsi`` (15 digits) or an
``imei`` (14-16 digits), or both (then the SIM is labelled and the device is only
recorded).  A device row labels every SIM seen on that device in the training
window (the IMSI-IMEI link table ``devices`` of the feature run).

Features of data whose subscriber key is not always the IMSI (a column profile's
``subscriber_key``) are keyed by ``subscriber``; their labels file names its key
column ``subscriber`` (the key as the features give it: MSISDN, IMSI or token) or
``msisdn`` (digits) instead of ``imsi``.  :func:`check_key` refuses a labels file
keyed otherwise than its features.  Inside, the key column is ``imsi`` whatever its
name in the file.

A SIM labelled twice with different labels is a *conflict*: it is reported
(:attr:`LabelSet.conflicts`, a warning) and left out of training.  Cases that
share a SIM are merged into one *group*, so cross-validation never puts the same
SIM on both sides of a split.
"""
from __future__ import annotations

import csv
import io
import logging
import os

import pandas as pd

from simbox.errors import EmptyInputError, InputError, ParseError
from simbox.fastpath.smallfile import check_digits, read_small_text

log = logging.getLogger(__name__)

CLASSES = ("simbox", "cardfarm", "legit")
FRAUD_CLASSES = ("simbox", "cardfarm")
MAX_REPORTED_ERRORS = 5
#: the key columns a labels file may have (one of them), and the check of their values
KEY_COLUMNS = {"imsi": (15, 15), "msisdn": (1, 18), "subscriber": None}


def read_labels(path, *, features_key: str | None = None) -> pd.DataFrame:
    """Read and check a labels file (its key column against ``features_key``, the
    features' key column, with :func:`check_key`; None: not checked).

    Returns a DataFrame with columns ``imsi, imei, label, case_id, line`` (strings,
    ``""`` where absent; ``line`` is the 1-based line in the file), and ``provenance``
    when the file has that column (``simbox labels export``: testcall, verdict, seizure).  Every bad row
    is checked; the first few are named in one :class:`~simbox.errors.ParseError`
    (``file:line: field 'x': reason``) with the count of all bad rows.
    """
    name, text = read_small_text(path, "labels")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise EmptyInputError(f"{name}: empty labels file; expected a header "
                              "'imsi,label,case_id' (or 'imei,label,case_id')")
    header = [h.strip().lower() for h in header]
    keys = [c for c in KEY_COLUMNS if c in header]
    if len(keys) > 1:
        raise ParseError(f"more than one key column ({', '.join(keys)})", path=name, line=1,
                         detail="give one of imsi, subscriber or msisdn: the features' key column")
    key = keys[0] if keys else None
    if features_key is not None:
        check_key(key, features_key, name)
    missing = [c for c in ("label", "case_id") if c not in header]
    if key is None and "imei" not in header:
        missing.insert(0, "imsi or imei")
    if missing:
        raise ParseError(f"missing column(s) {', '.join(missing)}", path=name, line=1,
                         detail=f"header is {','.join(header)}; expected imsi,imei,label,case_id")
    col = {c: header.index(c) for c in (key, "imei", "label", "case_id", "provenance")
           if c in header}
    key = key or "imsi"
    rows, errors = [], []
    for lineno, rec in enumerate(reader, start=2):
        if not rec or all(not f.strip() for f in rec):
            continue
        if len(rec) != len(header):
            errors.append((lineno, None, f"expected {len(header)} fields, saw {len(rec)}"))
            continue
        get = {c: rec[i].strip() for c, i in col.items()}
        imsi, imei = get.get(key, ""), get.get("imei", "")
        label, case = get["label"].lower(), get["case_id"]
        row_errors = []
        if not imsi and not imei:
            row_errors.append((key, f"neither {key} nor imei given"))
        if imsi and KEY_COLUMNS[key] and (why := check_digits(imsi, *KEY_COLUMNS[key])):
            row_errors.append((key, why))
        if imei and (why := check_digits(imei, 14, 16)):
            row_errors.append(("imei", why))
        if label not in CLASSES:
            row_errors.append(("label", f"{get['label']!r} is not one of {', '.join(CLASSES)}"))
        if not case:
            row_errors.append(("case_id", "empty case_id (the raid this row comes from)"))
        if row_errors:
            errors.extend((lineno, f, why) for f, why in row_errors)
            continue
        rows.append((imsi, imei, label, case, lineno, get.get("provenance", "")))
    if errors:
        first_line, first_field, first_why = errors[0]
        others = [f"{name}:{ln}: " + (f"field {f!r}: " if f else "") + why
                  for ln, f, why in errors[1:MAX_REPORTED_ERRORS]]
        detail = None
        if len(errors) > 1:
            detail = f"{len(errors)} problems in all; also " + "; ".join(others)
            if len(errors) > MAX_REPORTED_ERRORS:
                detail += "; ..."
        raise ParseError(first_why, path=name, line=first_line, field=first_field, detail=detail)
    if not rows:
        raise EmptyInputError(f"{name}: no label rows after the header")
    out = pd.DataFrame(rows, columns=["imsi", "imei", "label", "case_id", "line", "provenance"])
    return out if "provenance" in header else out.drop(columns="provenance")


def check_key(key: str | None, features_key: str, source: str = "labels.csv") -> None:
    """Refuse a labels file whose key column ``key`` (None: device rows only) does not
    fit the features' key column ``features_key`` (``imsi`` or ``subscriber``:
    :func:`simbox.fastpath.keys.key_column`).  ``imsi`` features take ``imsi`` labels;
    ``subscriber`` features take ``subscriber`` or ``msisdn`` labels; device rows fit both.
    """
    fits = {"imsi": ("imsi",), "subscriber": ("subscriber", "msisdn")}.get(features_key, ())
    if key is None or key in fits:
        return
    if features_key == "imsi":
        hint = "name the key column imsi and give the SIMs' IMSIs"
    else:
        hint = ("not every SIM of the features has an IMSI: name the key column subscriber and "
                "give the features' subscriber values (or msisdn)")
    raise InputError(f"{source}: the labels are keyed by {key} but the features by "
                     f"{features_key}; {hint}")


class LabelSet:
    """Labels per SIM after device expansion and conflict resolution.

    Attributes
    ----------
    sims : DataFrame indexed by ``imsi``: ``label``, ``case_id`` (the first case
        naming the SIM), ``group`` (merged case: cases sharing a SIM are one
        group), ``source`` (``imsi`` or ``imei``), and ``provenance`` when the label
        rows give one (where the label comes from: testcall, verdict, seizure).
    conflicts : DataFrame ``imsi, labels, cases, lines``: SIMs labelled with
        different labels; left out of :attr:`sims`.
    unseen_imeis : DataFrame of device rows (``imei, label, case_id, line``) whose
        device no SIM was seen on in the data: they label nothing.
    """

    def __init__(self, sims, conflicts, unseen_imeis, n_rows):
        self.sims = sims
        self.conflicts = conflicts
        self.unseen_imeis = unseen_imeis
        self.n_rows = n_rows

    def counts(self) -> dict:
        return {c: int((self.sims["label"] == c).sum()) for c in CLASSES}

    def summary(self) -> dict:
        by = {} if "provenance" not in self.sims else {"by_provenance": {
            str(p): int(n) for p, n in self.sims["provenance"].replace("", "unknown")
            .value_counts().items()}}
        return {**by,
            "rows": int(self.n_rows),
            "sims": int(len(self.sims)),
            "by_label": self.counts(),
            "cases": int(self.sims["case_id"].nunique()),
            "groups": int(self.sims["group"].nunique()),
            "from_devices": int((self.sims["source"] == "imei").sum()),
            "conflicts": int(len(self.conflicts)),
            "unseen_imeis": int(len(self.unseen_imeis)),
        }


def _merge_groups(pairs: pd.DataFrame) -> dict:
    """Union-find over cases linked by a shared SIM: case_id -> group name."""
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, cases in pairs.groupby("imsi", sort=False)["case_id"]:
        cases = list(dict.fromkeys(cases))
        root = find(cases[0])
        for c in cases[1:]:
            r = find(c)
            if r != root:
                parent[max(r, root)] = min(r, root)
                root = min(r, root)
    return {c: find(c) for c in pairs["case_id"].unique()}


def expand_labels(labels: pd.DataFrame, devices: pd.DataFrame | None = None, *,
                  source: str = "labels.csv") -> LabelSet:
    """SIM labels from label rows (:func:`read_labels`) and the IMSI-IMEI link table.

    ``devices``: DataFrame with at least ``imsi, imei`` (one row per pair seen in the
    training window, as ``FeatureResult.devices``).  Needed when a row gives only an
    ``imei``; a device row then labels every SIM seen on the device.
    """
    extra = ["provenance"] if "provenance" in labels else []
    by_imsi = labels.loc[labels["imsi"] != "", ["imsi", "label", "case_id", "line"] + extra].copy()
    by_imsi["source"] = "imsi"
    dev_rows = labels.loc[labels["imsi"] == "", ["imei", "label", "case_id", "line"] + extra]
    unseen = dev_rows.iloc[0:0]
    parts = [by_imsi]
    if len(dev_rows):
        if devices is None:
            first = dev_rows.iloc[0]
            raise InputError(f"{source}:{first['line']}: field 'imei': device rows need the "
                             "IMSI-IMEI links of the CDRs; train from CDR files (or give the "
                             "devices table) instead of a features file alone")
        links = devices[["imsi", "imei"]].astype(str).drop_duplicates()
        joined = dev_rows.merge(links, on="imei", how="left")
        unseen = joined.loc[joined["imsi"].isna(), ["imei", "label", "case_id", "line"]]
        if len(unseen):
            log.warning("%d device row(s) of %s name a device no SIM was seen on "
                        "(first: %s:%s imei %s); they label nothing", len(unseen), source,
                        source, unseen["line"].iloc[0], unseen["imei"].iloc[0])
        exp = joined.loc[joined["imsi"].notna(), ["imsi", "label", "case_id", "line"] + extra].copy()
        exp["source"] = "imei"
        parts.append(exp)
    pairs = pd.concat(parts, ignore_index=True)
    n_labels = pairs.groupby("imsi")["label"].nunique()
    bad = n_labels.index[n_labels > 1]
    conflicts = (pairs[pairs["imsi"].isin(bad)].groupby("imsi")
                 .agg(labels=("label", lambda s: ",".join(sorted(set(s)))),
                      cases=("case_id", lambda s: ",".join(dict.fromkeys(s))),
                      lines=("line", lambda s: ",".join(map(str, sorted(set(s))))))
                 .reset_index())
    if len(conflicts):
        c = conflicts.iloc[0]
        log.warning("%d SIM(s) have conflicting labels in %s and are left out of training "
                    "(first: imsi %s is %s at lines %s)", len(conflicts), source,
                    c["imsi"], c["labels"].replace(",", " and "), c["lines"])
    pairs = pairs[~pairs["imsi"].isin(bad)]
    group_of = _merge_groups(pairs) if len(pairs) else {}
    # an explicit imsi row wins over a device expansion for case and source
    pairs = pairs.sort_values(["imsi", "source", "line"], kind="stable")
    sims = pairs.drop_duplicates("imsi").set_index("imsi")[["label", "case_id", "source"] + extra]
    sims.insert(2, "group", sims["case_id"].map(group_of))
    return LabelSet(sims, conflicts, unseen.reset_index(drop=True), len(labels))


def load_labels(path, devices: pd.DataFrame | None = None, *,
                key: str | None = None) -> LabelSet:
    """:func:`read_labels` (its key column checked against the features' ``key`` column;
    None: not checked), then :func:`expand_labels`."""
    name = os.fspath(path) if not hasattr(path, "read") else getattr(path, "name", "<labels>")
    return expand_labels(read_labels(path, features_key=key), devices, source=name)
