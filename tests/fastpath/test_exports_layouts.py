"""Real operator exports (the built-in layouts of tests/exports.py, with broken rows): counts,
reasons, rejects, messages, and the events against the canonical file of the same records."""
import gzip
import csv
import io
import sys
import pathlib

import numpy as np
import pytest

from simbox.errors import ConfigError, InputError, ParseError, TooManyRejectsError
from simbox.fastpath import CellDict, EventBatch, ReadStats, RejectsWriter
from simbox.fastpath.columns import ColumnMapping, load_mapping
from simbox.fastpath.readers import open_events

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))
import exports  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return exports.write_all(tmp_path_factory.mktemp("exports"))


def read(path, columns, tmp_path=None, **kw):
    cells, stats = CellDict(), ReadStats()
    rej = RejectsWriter(tmp_path / "rejects.csv" if tmp_path else None)
    with rej:
        b = EventBatch.concat(open_events(path, columns=columns, cells=cells, stats=stats,
                                          rejects=rej, **kw))
    return b.to_pandas(cells), stats


@pytest.mark.parametrize("layout", exports.LAYOUTS)
def test_layout_counts_and_reasons(files, layout, tmp_path):
    df, stats = read(files[layout], layout, tmp_path)
    skipped, reasons = exports.BROKEN[layout]
    assert (stats.accepted, stats.skipped, dict(stats.rejected)) == (exports.EVENTS, skipped,
                                                                     reasons)
    assert stats.records == exports.EVENTS + skipped + sum(reasons.values())
    assert len(df) == exports.EVENTS
    lines = (tmp_path / "rejects.csv").read_text().splitlines()
    assert lines[0] == "file,line,byte_offset,field,reason,detail,record"
    assert len(lines) == 1 + sum(reasons.values())
    # the profiled engine rejects through the one policy: reason and detail apart
    rows = list(csv.DictReader(io.StringIO((tmp_path / "rejects.csv").read_text())))
    assert {r["reason"] for r in rows} == set(reasons)
    assert all(r["detail"] for r in rows)


def expected_events(layout):
    """The events the layout's good rows must give: the canonical rows read by the kernel."""
    rows = exports.canonical_rows(exports.base_events(cells_numeric=layout != "msc-compact"),
                                  layout)
    buf = io.StringIO()
    exports.write_canonical_to(rows, buf)
    df, _ = read(io.BytesIO(buf.getvalue().encode()), "canonical")
    return df


@pytest.mark.parametrize("layout", exports.LAYOUTS)
def test_layout_events_are_the_canonical_events(files, layout):
    got, _ = read(files[layout], layout)
    want = expected_events(layout)
    key = ["start_time", "msisdn", "other_party", "record_type"]
    got = got.sort_values(key, kind="stable").reset_index(drop=True)
    want = want.sort_values(key, kind="stable").reset_index(drop=True)
    same = ["record_type", "start_time", "msisdn", "other_party", "duration_s", "cell_id"]
    assert got[same].astype(str).equals(want[same].astype(str))
    if layout == "operator-anon":       # no IMSI: the MSISDN is the key; IMEIs are tokens
        assert got["imsi"].tolist() == want["msisdn"].tolist()
        assert got["imei"].tolist() == [exports.imei_token(i) for i in want["imei"]]
    else:
        assert got["imsi"].tolist() == want["imsi"].tolist()
        assert got["imei"].tolist() == want["imei"].tolist()


def test_msc_words_rejects_file(files, tmp_path):
    read(files["msc-words"], "msc-words", tmp_path)
    name = files["msc-words"]
    tail = ";\\N;4917299;\\N;0;\\N;TRK_IN_07;TRK_OUT_12"
    assert (tmp_path / "rejects.csv").read_text().splitlines()[1:] == [
        f"{name},338,,CALL_DATE,unparsable time,value '31/4/2024',"
        f"originating;11;31/4/2024;10:00:00;262014000000000;491720000000;\\N{tail}",
        f"{name},339,,RECORD_KIND,unknown record type,value 'originating',"
        f"originating;99;3/6/2024;10:00:00;262014000000000;491720000000;\\N{tail}",
        f"{name},340,,A_IMSI,no subscriber key,value '\\\\N',"
        f"originating;11;3/6/2024;10:00:00;\\N;\\N;\\N{tail}",
        f"{name},341,,A_IMSI,imsi is not 15 digits,value '26201400000',"
        f"originating;11;3/6/2024;10:00:00;26201400000;491720000000;\\N{tail}"]


def test_imsi_or_msisdn_falls_back_per_record(tmp_path):
    rows = exports.base_events(n=60)
    p = tmp_path / "w.csv"
    p.write_text(exports.msc_words(rows, False, drop_imsi_every=5))
    df, stats = read(p, "msc-words")
    assert stats.accepted == 60
    by_key = df.groupby("imsi")["msisdn"].first()
    # the records without an IMSI are keyed by the MSISDN
    assert sum(k == v for k, v in by_key.items()) > 0
    assert all(len(k) == 15 or k == v for k, v in by_key.items())


def test_dst_aware_local_times():
    # Europe/Berlin: 31 March 2024 02:30 does not exist (the earlier instant is taken);
    # 27 October 02:30 happens twice (the earlier, summer time); July is UTC+2
    text = ("RECORD_KIND;TELESERVICE;CALL_DATE;CALL_TIME;A_IMSI;A_MSISDN;A_IMEI;B_IMSI;B_MSISDN;"
            "B_IMEI;DURATION;CELL;IN_TRUNK;OUT_TRUNK\n" + "".join(
                f"originating;11;{d};{t};262014000000000;491720000000;\\N;\\N;4917299;\\N;0;1;a;b\n"
                for d, t in (("31/3/2024", "2:30:00"), ("27/10/2024", "2:30:00"),
                             ("1/7/2024", "12:00:00"), ("1/1/2024", "12:00:00"))))
    df, _ = read(io.BytesIO(text.encode()), "msc-words")
    assert df["start_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist() == [
        "2024-03-31T00:59:59Z", "2024-10-27T00:30:00Z", "2024-07-01T10:00:00Z",
        "2024-01-01T11:00:00Z"]


def test_token_key_hashes_any_string_and_counts_collisions():
    m = ColumnMapping.from_dict({
        "name": "tokens", "columns": {"record_type": "t", "start_time": "s", "imsi": None,
                                      "token": "sub", "imei": "dev"},
        "subscriber_key": "token", "imei_tokens": True})
    text = ("t,s,sub,dev\nMOC,2026-03-01T12:00:05Z,u_9f2c,ab12\nMTC,2026-03-01T12:00:06Z,u_9f2c,\n"
            "MOC,2026-03-01T12:00:07Z,ZZ-01,4711\n")
    cells = CellDict()
    b = EventBatch.concat(open_events(io.BytesIO(text.encode()), columns=m, cells=cells))
    df = b.to_pandas(cells)
    assert df["imsi"].tolist() == ["u_9f2c", "u_9f2c", "ZZ-01"]
    assert df["imei"].tolist() == ["ab12", "", "4711"]
    assert b.imsi.min() >= 4 * 10 ** 18 and cells.keys.collisions == 0
    # a collision: two tokens forced onto one code are counted
    book = cells.keys
    code = int(b.imsi[0])
    book.tokens[code] = "another token"
    book.encode(["u_9f2c"])
    assert book.collisions == 1


def test_total_rejection_fails_loudly(files, tmp_path):
    bad = dict(load_mapping("operator-anon").to_dict(), subscriber_key="imsi",
               imei_tokens=False)
    bad["columns"] = dict(bad["columns"], imsi="A_Num", msisdn="A_Num")
    with pytest.raises(TooManyRejectsError) as e:
        read(files["operator-anon"], bad, tmp_path, max_reject_share=0.5)
    assert str(e.value) == (
        f"{files['operator-anon']}: 338 of 338 records rejected (more than the "
        "--max-reject-share 0.5), no output written: imsi is not 15 digits in 335 of 338 records: "
        "if the export has no IMSI, set subscriber_key in the profile (msisdn, token or "
        "imsi_or_msisdn); wrong field count in 1; unparsable time in 1")


def test_anonymised_imei_tokens_without_imei_tokens_are_rejected(files):
    d = dict(load_mapping("operator-anon").to_dict(), imei_tokens=False)
    with pytest.raises(TooManyRejectsError) as e:
        read(files["operator-anon"], d, max_reject_share=0.5)
    assert "imei is not 14-16 digits in 334 of 338 records: if the device identifiers are " \
           "anonymised tokens, set imei_tokens: true in the profile" in str(e.value)


def test_profile_naming_a_missing_column(files):
    d = dict(load_mapping("msc-hourly").to_dict())
    d["columns"] = dict(d["columns"], duration_s="CALL_SECONDS")
    with pytest.raises(InputError) as e:
        read(files["msc-hourly"], d)
    assert str(e.value).startswith(
        f"{files['msc-hourly']}: the header lacks column(s) CALL_SECONDS required by column "
        "profile 'msc-hourly' (header: SUBS_IMSI, SUBS_MSISDN, OTHER_NUMBER, CALL_TYPE, "
        "EVENT_DATE, EVENT_HOUR, DURATION_SEC, TRUNK_IN, TRUNK_OUT); give the file's layout with "
        "--columns")


def test_strict_stops_at_the_first_bad_record(files):
    with pytest.raises(ParseError) as e:
        read(files["msc-compact"], "msc-compact", on_bad_records="error")
    assert str(e.value) == (f"{files['msc-compact']}:336: field 'ANSWER_TIME': unparsable time "
                            "(value '2406031000')")


@pytest.mark.parametrize("profile,message", [
    ({"columns": {"record_type": "t", "start_time": "s", "msisdn": "m"},
      "subscriber_key": "phone"},
     "column profile '<profile>': subscriber_key: 'phone' is not one of imsi, msisdn, token, "
     "imsi_or_msisdn"),
    ({"columns": {"record_type": "t", "start_time": "s", "imsi": "i"}, "timezone": "Mars/Base"},
     "column profile '<profile>': timezone: 'Mars/Base' is not an IANA time zone such as "
     "'Europe/Berlin' (times written without a zone are local times of that zone)"),
    ({"columns": {"record_type": "t", "start_time": "s", "imsi": "i"},
      "parties": {"MT": {"imsi": "b"}}},
     "column profile '<profile>': parties: 'MT' is not a record type (MOC, MTC, SMS_MO, "
     "SMS_MT, DATA)"),
    ({"columns": {"record_type": "t", "start_time": "s", "imsi": None}, "subscriber_key": "token"},
     "column profile '<profile>': columns: token is required by subscriber_key 'token' (give "
     "the header name of its column)"),
])
def test_profile_key_validation(profile, message):
    with pytest.raises(ConfigError) as e:
        ColumnMapping.from_dict(profile)
    assert str(e.value) == message


def test_gzip_layout_is_streamed(files):
    assert files["msc-hourly"].endswith(".gz")
    with open(files["msc-hourly"], "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    df, stats = read(files["msc-hourly"], "msc-hourly")
    assert stats.bytes == len(open(files["msc-hourly"], "rb").read())
    assert (df["start_time"].dt.minute == 0).all() and (df["imei"] == "").all()
    assert (df["cell_id"] == "").all()


def test_profiled_engine_rejects_like_the_kernel(tmp_path):
    # the canonical layout read by both engines: the same reasons, lines and fields (the
    # profiled engine reads unbalanced quotes leniently: no 'bad quoting')
    bad = pathlib.Path(__file__).parents[1] / "data" / "csv" / "bad_rows.csv"
    profiled = ColumnMapping(null_tokens=("\\N",))
    assert profiled.engine == "profile" and ColumnMapping().engine == "kernel"
    got = {}
    for engine, m in (("kernel", ColumnMapping()), ("profile", profiled)):
        (tmp_path / engine).mkdir()
        df, stats = read(bad, m, tmp_path / engine)
        lines = (tmp_path / engine / "rejects.csv").read_text().splitlines()[1:]
        got[engine] = (df, stats, [tuple(x.split(",")[1:5:2]) + (x.split(",")[4],)
                                   for x in lines])
    kernel, profile = got["kernel"], got["profile"]
    assert [r for r in kernel[2] if r[2] != "bad quoting"][:-1] == profile[2][:-1]
    # every record the kernel accepts is accepted alike; pyarrow also takes the badly quoted one
    k, p = (x[0].astype(str).apply(tuple, axis=1).tolist() for x in (kernel, profile))
    assert len(p) == len(k) + 1 and all(r in p for r in k)
    assert kernel[1].rejected - profile[1].rejected == {"bad quoting": 1}


def test_kept_columns_ride_on_the_batches(files):
    df, _ = read(files["msc-words"], "msc-words")
    assert list(df.columns[-2:]) == ["IN_TRUNK", "OUT_TRUNK"]
    assert set(df["IN_TRUNK"]) == {"TRK_IN_07"} and set(df["OUT_TRUNK"]) == {"TRK_OUT_12"}
    df, _ = read(files["msc-hourly"], "msc-hourly")
    assert set(df["TRUNK_IN"]) == {"JKT01"} and df["TRUNK_OUT"].isna().all()   # _N is empty


# ---- the profiled engine reads through the one byte source ---------------------------------
def test_profiled_engine_reads_a_pipe_once(files, tmp_path):
    """A file object that cannot seek (a pipe, standard input) gives the same events."""
    want, _ = read(files["msc-words"], "msc-words")

    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def seekable(self):
            return False

        def readinto(self, b):
            return self.data.readinto(b)

    pipe = Pipe(gzip.compress(pathlib.Path(files["msc-words"]).read_bytes()))
    got, stats = read(io.BufferedReader(pipe), "msc-words")
    assert stats.accepted == exports.EVENTS
    assert got.equals(want)


def test_profiled_engine_keeps_what_came_before_gzip_damage(files, tmp_path):
    text = pathlib.Path(files["msc-words"]).read_bytes()
    whole = gzip.compress(text)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[:len(whole) * 2 // 3])
    df, stats = read(cut, "msc-words", tmp_path)
    assert 0 < stats.accepted < exports.EVENTS
    assert stats.rejected["truncated gzip"] == 1
    rows = list(csv.DictReader(io.StringIO((tmp_path / "rejects.csv").read_text())))
    row = [r for r in rows if r["reason"] == "truncated gzip"][0]
    assert row["detail"] and row["detail"] not in row["reason"]
    # every accepted record is one of the whole file's, the cut one is not half read
    want, _ = read(files["msc-words"], "msc-words")
    key = ["start_time", "msisdn", "other_party"]
    assert set(map(tuple, df[key].astype(str).values)) <= \
        set(map(tuple, want[key].astype(str).values))


def test_profiled_engine_error_policy_raises_reason_and_detail(files):
    with pytest.raises(ParseError) as e:
        read(files["msc-words"], "msc-words", on_bad_records="error")
    assert "unparsable time" in str(e.value) and "'31/4/2024'" in str(e.value)
