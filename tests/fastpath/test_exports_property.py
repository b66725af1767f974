"""Any canonical file rewritten into a random supported layout (separator, null token, time
split and zone, record codes, key, float numbers, column order) gives the same features as the
canonical file: the profiled engine against the Cython kernel on the canonical text."""
import datetime as dt
import pathlib
import sys
import zoneinfo

import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

from simbox.features import compute_features

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))
import exports  # noqa: E402

NAMES = {"MOC": "MOC", "MTC": "MTC", "SMS_MO": "SMS_MO", "SMS_MT": "SMS_MT"}
NUMERIC = {"MOC": "0", "MTC": "1", "SMS_MO": "6", "SMS_MT": "7"}
TIMES = {"iso": ("iso", "%Y-%m-%dT%H:%M:%SZ"), "space": ("%Y-%m-%d %H:%M:%S", None),
         "compact": ("%y%m%d%H%M%S", None), "split": ("%d/%m/%Y %H:%M:%S", None)}


@st.composite
def layouts(draw):
    return {"sep": draw(st.sampled_from([",", ";", "|", "\t"])),
            "null": draw(st.sampled_from(["", "\\N", "_N", "NULL"])),
            "time": draw(st.sampled_from(sorted(TIMES))),
            "zone": draw(st.sampled_from([None, "Asia/Shanghai", "Europe/Berlin"])),
            "codes": draw(st.sampled_from(["names", "numeric", "words"])),
            "key": draw(st.sampled_from(["imsi", "msisdn", "imsi_or_msisdn"])),
            "floats": draw(st.booleans()),
            "order": draw(st.permutations(range(8))),
            "seed": draw(st.integers(0, 10_000))}


def write(rows, lay, path):
    """The rows in layout ``lay``; returns the profile (a dict) that reads it."""
    sep, null = lay["sep"], lay["null"]
    fmt, _ = TIMES[lay["time"]]
    fields = ["REC", "WHEN", "SUB_IMSI", "DEVICE", "SUB_NUM", "PEER", "SECS", "CELL"]
    blank_imsi = rows[5]["imsi"]

    def f(v):
        return v if v else null

    def num(v):
        return f"{v}.0" if (lay["floats"] and v) else v

    out = []
    for r in rows:
        if lay["codes"] == "words":
            word, code = exports.WORDS[r["record_type"]]
            rec = [word, code]
        else:
            rec = [(NAMES if lay["codes"] == "names" else NUMERIC)[r["record_type"]]]
        t = dt.datetime.fromtimestamp(r["start_time"], zoneinfo.ZoneInfo(lay["zone"])
                                      if lay["zone"] else dt.timezone.utc)
        if lay["time"] == "iso":
            when = [t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")]
        elif lay["time"] == "split":
            when = [f"{t.day}/{t.month}/{t.year}", f"{t.hour}:{t.minute:02d}:{t.second:02d}"]
        else:
            when = [t.strftime(fmt)]
        imsi = "" if lay["key"] == "imsi_or_msisdn" and r["imsi"] == blank_imsi else r["imsi"]
        body = [f(imsi), f(r["imei"]), f(num(r["msisdn"])), f(num(r["other_party"])),
                f(num(r["duration_s"])), f(r["cell_id"])]
        body = [rec, when] + [[v] for v in body]
        if lay["key"] == "msisdn":
            del body[2]
        out.append(body)
    names = [["REC"] + (["SERVICE"] if lay["codes"] == "words" else []),
             ["DAY", "CLOCK"] if lay["time"] == "split" else ["WHEN"]] + \
        [[n] for n in fields[2:]]
    if lay["key"] == "msisdn":
        del names[2]
    order = [i for i in lay["order"] if i < len(names)]
    lines = [sep.join(sum((names[i] for i in order), []))]
    lines += [sep.join(sum((b[i] for i in order), [])) for b in out]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if lay["codes"] == "words":
        codes = {f"{w}|{c}": rt for rt, (w, c) in exports.WORDS.items()}
    else:
        codes = {v: k for k, v in (NAMES if lay["codes"] == "names" else NUMERIC).items()}
    cols = {"record_type": names[0] if len(names[0]) > 1 else names[0][0],
            "start_time": names[1] if len(names[1]) > 1 else names[1][0],
            "imsi": None if lay["key"] == "msisdn" else "SUB_IMSI", "imei": "DEVICE",
            "msisdn": "SUB_NUM", "other_party": "PEER", "duration_s": "SECS",
            "cell_id": "CELL"}
    time_format = "%d/%m/%Y %H:%M:%S" if lay["time"] == "split" else fmt
    profile = {"name": "random", "separator": sep, "columns": cols, "time_format": time_format,
               "record_types": codes, "float_numbers": lay["floats"],
               "subscriber_key": lay["key"], "null_tokens": [null] if null else []}
    if lay["zone"] and lay["time"] != "iso":
        profile["timezone"] = lay["zone"]
    return profile


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lay=layouts())
def test_random_layout_gives_the_canonical_features(lay, tmp_path):
    rows = exports.base_events(lay["seed"], 240, cells_numeric=lay["seed"] % 2 == 0)
    canon = tmp_path / "canonical.csv"
    exports.write_canonical(rows, canon)
    other = tmp_path / "layout.txt"
    profile = write(rows, lay, other)
    want = compute_features(canon, timezone="Asia/Shanghai").features
    res = compute_features(other, columns=profile, timezone="Asia/Shanghai")
    got = res.features
    assert res.stats.accepted == len(rows) and res.stats.rejected_total == 0
    to_msisdn = {r["imsi"]: r["msisdn"] for r in rows}
    if lay["key"] == "msisdn":
        want = want.rename(index=to_msisdn)
    elif lay["key"] == "imsi_or_msisdn":
        want = want.rename(index={rows[5]["imsi"]: rows[5]["msisdn"]})
    if lay["key"] != "imsi":             # neighbouring keys are then not neighbouring IMSIs
        got, want = got.drop(columns="imsi_neighbours"), want.drop(columns="imsi_neighbours")
    pd.testing.assert_frame_equal(got.sort_index(), want.sort_index(), check_exact=True,
                                  check_index_type=False)
    kinds = res.key_kinds
    assert kinds == ({"imsi": 12} if lay["key"] == "imsi" else {"msisdn": 12}
                     if lay["key"] == "msisdn" else {"imsi": 11, "msisdn": 1})
