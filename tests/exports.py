"""Realistic operator exports written from canonical events (test helper).

``base_events(seed, n)`` makes canonical CDR rows of a small network (phones,
a SIM box calling out, a card farm sending SMS); ``write_layout(events, layout,
path, ...)`` writes them in the layout of a built-in profile (or a random layout
of the hypothesis test), with the layout's broken rows when ``broken``.  The
expected counts of each layout's broken rows are in ``BROKEN``.

Written for simbox (no external source); run as a script to write every layout
into a folder: ``python tests/exports.py OUT_DIR``.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import sys
import zoneinfo

CANONICAL = ("record_type", "start_time", "imsi", "imei", "msisdn", "other_party",
             "duration_s", "cell_id")
LAYOUTS = ("operator-anon", "msc-words", "msc-hourly", "msc-compact")
T0 = int(dt.datetime(2024, 6, 3, tzinfo=dt.timezone.utc).timestamp())
EVENTS = 333        # good records of each layout's file (besides its broken rows)
SUBSCRIBERS = 12    # the SIMs the events cycle through: 3 boxes, 2 farms, 7 phones


def base_events(seed: int = 7, n: int = EVENTS, *, cells_numeric: bool = True) -> list:
    """``n`` canonical rows (dicts of strings; start_time as epoch seconds, int)."""
    rng = random.Random(seed)
    subs = []
    for i in range(SUBSCRIBERS):
        kind = "box" if i < 3 else "farm" if i < 5 else "phone"
        subs.append({"imsi": f"26201{4000000000 + 37 * i:010d}",
                     "msisdn": f"4917{20000000 + 7919 * i:08d}",
                     "imei": f"{35693803 if kind == 'phone' else 86176004}{100000 + i * 13:06d}"[:14],
                     "kind": kind})
    cell_ids = [str(7585770 + k) if cells_numeric else f"{4100 + k}-{k * 11 + 3}"
                for k in range(9)]
    rows = []
    for j in range(n):
        s = subs[j % len(subs)]
        kind = s["kind"]
        if kind == "box":
            rt = rng.choice(["MOC"] * 9 + ["MTC"])
        elif kind == "farm":
            rt = rng.choice(["SMS_MO"] * 6 + ["SMS_MT"] * 3 + ["MOC"])
        else:
            rt = rng.choice(["MOC", "MTC", "SMS_MO", "SMS_MT", "MOC", "MTC"])
        other = (f"00{rng.randint(100000000, 999999999)}" if kind == "box" and rt == "MOC"
                 else f"4917{rng.randint(20000000, 29999999)}")
        dur = 0 if rt.startswith("SMS") else rng.choice([0, rng.randint(1, 900)])
        rows.append({
            "record_type": rt,
            "start_time": T0 + rng.randint(0, 5 * 86400 - 1),
            "imsi": s["imsi"], "imei": s["imei"], "msisdn": s["msisdn"], "other_party": other,
            "duration_s": str(dur),
            "cell_id": cell_ids[(j % len(subs)) % 4 if kind != "phone" else rng.randrange(9)]})
    rows.sort(key=lambda r: (r["start_time"], r["imsi"]))
    return rows


def iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_canonical(rows, path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        write_canonical_to(rows, f)


def write_canonical_to(rows, f) -> None:
    f.write(",".join(CANONICAL) + "\n")
    for r in rows:
        f.write(",".join(iso(r[c]) if c == "start_time" else r[c] for c in CANONICAL) + "\n")


def local(t: int, zone: str | None) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(zone) if zone else dt.timezone.utc
    return dt.datetime.fromtimestamp(t, tz)


def imei_token(imei: str) -> str:
    """An anonymised device token of 4-5 digits (stable per IMEI)."""
    return str(1000 + int(imei) % 98999) if imei else ""


MT = ("MTC", "SMS_MT")


# ---- the built-in layouts -------------------------------------------------------------

def operator_anon(rows, broken):
    codes = {"MOC": "0", "MTC": "1", "SMS_MO": "6", "SMS_MT": "7"}
    out = [",Call_Type,A_Num,B_Num,Start_Time,Duration,IMEI,Cell_ID"]
    for i, r in enumerate(rows):
        t = local(r["start_time"], None).strftime("%Y-%m-%d %H:%M:%S")
        out.append(f"{i},{codes[r['record_type']]},{r['msisdn']},{r['other_party']},{t},"
                   f"{float(r['duration_s'])},{imei_token(r['imei'])},"
                   f"{r['cell_id'] + '.0' if r['cell_id'] else ''}")
    if broken:
        k = len(rows)
        out += [f"{k},0,491720000000,4917299,2024-06-03 10:00:00,12.0,4711",        # 7 fields
                f"{k + 1},0,491720000000,4917299,2024-13-03 10:00:00,12.0,4711,7585771.0",
                f"{k + 2},0,491720000000,4917299,2024-06-03 10:00:00,-5.0,4711,7585771.0",
                f"{k + 3},9,491720000000,4917299,2024-06-03 10:00:00,12.0,4711,7585771.0",
                f"{k + 4},0,,4917299,2024-06-03 10:00:00,12.0,4711,7585771.0"]
    return "\n".join(out) + "\n"


WORDS = {"MOC": ("originating", "11"), "SMS_MO": ("originating", "22"),
         "MTC": ("terminating", "11"), "SMS_MT": ("terminating", "21")}


def msc_words(rows, broken, *, drop_imsi_every=0):
    cols = ["RECORD_KIND", "TELESERVICE", "CALL_DATE", "CALL_TIME", "A_IMSI", "A_MSISDN",
            "A_IMEI", "B_IMSI", "B_MSISDN", "B_IMEI", "DURATION", "CELL", "IN_TRUNK",
            "OUT_TRUNK"]
    out = [";".join(cols)]
    N = "\\N"
    for i, r in enumerate(rows):
        word, code = WORDS[r["record_type"]]
        t = local(r["start_time"], "Europe/Berlin")
        imsi = N if drop_imsi_every and i % drop_imsi_every == 0 else r["imsi"]
        served = [imsi, r["msisdn"], r["imei"] or N]
        other = [N, r["other_party"] or N, N]
        a, b = (other, served) if r["record_type"] in MT else (served, other)
        out.append(";".join([word, code, f"{t.day}/{t.month}/{t.year}",
                             f"{t.hour}:{t.minute:02d}:{t.second:02d}", *a, *b,
                             r["duration_s"], r["cell_id"] or N, "TRK_IN_07", "TRK_OUT_12"]))
    if broken:
        tail = ";\\N;4917299;\\N;0;\\N;TRK_IN_07;TRK_OUT_12"
        out += [f"transit;11;3/6/2024;10:00:00;\\N;491720000000;\\N{tail}",
                f"callForwarding;11;3/6/2024;10:00:00;262014000000000;491720000000;\\N{tail}",
                f"roamingCallForwarding;11;3/6/2024;10:00:00;\\N;\\N;\\N{tail}",
                f"originating;11;31/4/2024;10:00:00;262014000000000;491720000000;\\N{tail}",
                f"originating;99;3/6/2024;10:00:00;262014000000000;491720000000;\\N{tail}",
                f"originating;11;3/6/2024;10:00:00;\\N;\\N;\\N{tail}",
                f"originating;11;3/6/2024;10:00:00;26201400000;491720000000;\\N{tail}"]
    return "\n".join(out) + "\n"


def msc_hourly(rows, broken):
    codes = {"MOC": "MOC", "MTC": "MTC", "SMS_MO": "SMO", "SMS_MT": "SMT"}
    out = ["SUBS_IMSI,SUBS_MSISDN,OTHER_NUMBER,CALL_TYPE,EVENT_DATE,EVENT_HOUR,DURATION_SEC,"
           "TRUNK_IN,TRUNK_OUT"]
    for r in rows:
        t = local(r["start_time"], "Asia/Jakarta")
        out.append(",".join([r["imsi"], r["msisdn"], r["other_party"] or "_N",
                             codes[r["record_type"]], t.strftime("%Y-%m-%d"), str(t.hour),
                             r["duration_s"], "JKT01", "_N"]))
    if broken:
        out += ["262014000000000,491720000000,4917299,FWD,2024-06-03,10,0,JKT01,JKT02",
                "262014000000000,491720000000,4917299,MOC,2024-06-03,25,0,JKT01,_N",
                "262014000000000,491720000000,4917299,MOC,2024-06-03,10,0,JKT01",
                "_N,491720000000,4917299,MOC,2024-06-03,10,0,JKT01,_N",
                "262014000000000,491720000000,4917299,VOICE,2024-06-03,10,0,JKT01,_N"]
    return "\n".join(out) + "\n"


def msc_compact(rows, broken):
    codes = {"MOC": "0", "MTC": "1", "SMS_MO": "6", "SMS_MT": "7"}
    out = ["SERVED_IMSI;SERVED_MSISDN;SERVED_IMEI;CALLED;CALLING;REC_TYPE;ANSWER_TIME;DUR;LAC;CI"]
    for r in rows:
        t = local(r["start_time"], "Europe/London").strftime("%y%m%d%H%M%S")
        mt = r["record_type"] in MT
        called, calling = ("NULL", r["other_party"]) if mt else (r["other_party"], "NULL")
        lac, ci = (r["cell_id"].split("-", 1) if "-" in r["cell_id"] else ("NULL", "NULL")) \
            if r["cell_id"] else ("NULL", "NULL")
        out.append(";".join([r["imsi"], r["msisdn"], r["imei"] or "NULL", called or "NULL",
                             calling or "NULL", codes[r["record_type"]], t, r["duration_s"],
                             lac, ci]))
    if broken:
        out += ["262014000000000;491720000000;NULL;4917299;NULL;2;240603100000;0;26201;4101",
                "262014000000000;491720000000;NULL;4917299;NULL;0;2406031000;0;26201;4101",
                "26201400000000;491720000000;NULL;4917299;NULL;0;240603100000;0;26201;4101",
                "262014000000000;491720000000;NULL;4917299;NULL;0;240603100000;12s;26201;4101"]
    return "\n".join(out) + "\n"


WRITERS = {"operator-anon": operator_anon, "msc-words": msc_words, "msc-hourly": msc_hourly,
           "msc-compact": msc_compact}
FILE_NAMES = {"operator-anon": "operator_anon.csv", "msc-words": "msc_words.csv",
              "msc-hourly": "msc_hourly.csv.gz", "msc-compact": "msc_compact.csv"}
#: the broken rows each layout appends: (skipped, {reason: count})
BROKEN = {
    "operator-anon": (0, {"wrong field count": 1, "unparsable time": 1,
                          "duration is not 0-172800 seconds": 1, "unknown record type": 1,
                          "no subscriber key": 1}),
    "msc-words": (3, {"unparsable time": 1, "unknown record type": 1, "no subscriber key": 1,
                      "imsi is not 15 digits": 1}),
    "msc-hourly": (1, {"unparsable time": 1, "wrong field count": 1, "imsi is not 15 digits": 1,
                       "unknown record type": 1}),
    "msc-compact": (1, {"unparsable time": 1, "imsi is not 15 digits": 1,
                        "duration is not 0-172800 seconds": 1}),
}


def write_layout(rows, layout: str, path, broken: bool = True) -> str:
    text = WRITERS[layout](rows, broken)
    path = os.fspath(path)
    if path.endswith(".gz"):
        import gzip
        with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return path


def canonical_rows(rows, layout: str) -> list:
    """The canonical rows a layout keeps of ``rows`` (what the layout cannot carry dropped)."""
    out = []
    for r in rows:
        r = dict(r)
        if layout == "msc-hourly":          # the hour only; no IMEI, no cell
            r["start_time"] -= r["start_time"] % 3600
            r["imei"], r["cell_id"] = "", ""
        out.append(r)
    return out


def write_all(folder, seed: int = 7, n: int = EVENTS) -> dict:
    """Every built-in layout's test file (broken rows included) in ``folder``: {layout: path}."""
    os.makedirs(folder, exist_ok=True)
    out = {}
    for layout in LAYOUTS:
        cells_numeric = layout != "msc-compact"
        rows = base_events(seed, n, cells_numeric=cells_numeric)
        out[layout] = write_layout(rows, layout, os.path.join(folder, FILE_NAMES[layout]))
    return out


if __name__ == "__main__":
    for name, path in write_all(sys.argv[1] if len(sys.argv) > 1 else "exports").items():
        print(name, path)
