"""Column profiles: built-in vendor layouts, user profile files, validation messages."""
import io
import json

import pytest

from simbox.errors import ConfigError, InputError
from simbox.fastpath import CellDict, EventBatch, ReadStats, RejectsWriter
from simbox.fastpath.columns import ColumnMapping, builtin_profiles, load_mapping
from simbox.fastpath.csvread import read_csv_events
from simbox.fastpath.csvref import read_reference


def read(path, mapping, tmp_path):
    cells, stats = CellDict(), ReadStats()
    with RejectsWriter(tmp_path / "r.csv") as rej:
        b = EventBatch.concat(read_csv_events(path, mapping=mapping, cells=cells, stats=stats,
                                              rejects=rej))
    df = b.to_pandas(cells)
    df["start_time"] = df["start_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    df["record_type"] = df["record_type"].astype(str)
    return [tuple(r) for r in df.itertuples(index=False)], stats


def test_builtin_profiles_load():
    assert builtin_profiles() == ["canonical", "msc-compact", "msc-hourly", "msc-semicolon",
                                  "msc-words", "operator-anon", "spreadsheet"]
    for name in builtin_profiles():
        m = load_mapping(name)
        assert m.name == name and ColumnMapping.from_dict(m.to_dict()) == m
    assert load_mapping(None) == load_mapping("canonical") == ColumnMapping()


def test_msc_semicolon_profile(datadir, tmp_path):
    rows, stats = read(datadir / "csv" / "msc_semicolon.csv", "msc-semicolon", tmp_path)
    assert rows == [
        ("MOC", "2026-03-01T12:00:05Z", "460001234567890", "35678901234567", "8613800000001",
         "008613912345678", 65, "46000-1234-56789"),
        ("MTC", "2026-03-01T12:01:00Z", "460001234567891", "", "8613800000002", "8613800000001",
         0, "46000-1234-56788"),
        ("SMS_MO", "2026-03-01T23:59:59Z", "460001234567890", "35678901234567", "8613800000001",
         "10086", 0, ""),
        ("SMS_MT", "2026-02-28T00:00:00Z", "001010000000001", "", "0049170000001",
         "0049170000002", 0, "46000-1234-56789"),
    ]
    assert stats.skipped == 1                        # code 2 (call forwarding) maps to null
    assert stats.rejected == {"unknown record type": 1, "unparsable time": 1}
    assert (tmp_path / "r.csv").read_text().splitlines()[1:] == [
        f"{datadir / 'csv' / 'msc_semicolon.csv'},7,568,RECORD_TYPE,unknown record type,value '9',"
        "9;20260301120005;460001234567890;35678901234567;8613800000001;10086;0;46000;1234;56789;MSC02",
        f"{datadir / 'csv' / 'msc_semicolon.csv'},8,661,SEIZURE_TIME,unparsable time,value '2026030112000',"
        "0;2026030112000;460001234567890;35678901234567;8613800000001;10086;0;46000;1234;56789;MSC02",
    ]


def test_spreadsheet_profile(datadir, tmp_path):
    rows, stats = read(datadir / "csv" / "spreadsheet.csv", "spreadsheet", tmp_path)
    assert [r[2:7] for r in rows] == [
        ("460001234567890", "35678901234567", "8613800000001", "8613912345678", 65),
        ("460001234567891", "", "8613800000002", "8613800000001", 0)]
    assert rows[0][1] == "2026-03-01T12:00:05Z"
    assert stats.rejected == {"imsi is not 15 digits": 1}     # 4.60001234567891e+14


def test_user_profile_file(datadir, tmp_path):
    prof = datadir / "csv" / "user_profile.json"
    rows, stats = read(datadir / "csv" / "user_layout.csv", str(prof), tmp_path)
    assert rows == [
        ("MOC", "2026-03-01T12:00:05Z", "460001234567890", "", "8613800000001", "10086", 0,
         "46000-1234-56789"),
        ("DATA", "2026-03-01T00:00:05Z", "460001234567890", "", "8613800000001", "", 0,
         "46000-1234-56789")]
    assert stats.rejected == {"unparsable time": 1}           # a zone the pattern lacks


@pytest.mark.parametrize("fixture,profile", [
    ("msc_semicolon.csv", "msc-semicolon"), ("spreadsheet.csv", "spreadsheet"),
    ("user_layout.csv", "user_profile.json")])
def test_reference_agrees_on_profiles(datadir, tmp_path, fixture, profile):
    if profile.endswith(".json"):
        profile = str(datadir / "csv" / profile)
    rows, stats = read(datadir / "csv" / fixture, profile, tmp_path)
    ref_rows, ref_rejects, ref_skipped = read_reference(datadir / "csv" / fixture, profile)
    assert len(rows) == len(ref_rows) and stats.skipped == ref_skipped
    assert stats.rejected_total == len(ref_rejects)


@pytest.mark.parametrize("fmt,value,expected", [
    ("iso", "2026-03-01T12:00:05Z", 1772366405),
    ("iso", "2026-03-01 12:00:05", 1772366405),
    ("iso", "2026-03-01T12:00:05.999999999Z", 1772366405),
    ("iso", "2026-03-01T13:30:05+01:30", 1772366405),
    ("iso", "2026-03-01T06:00:05-0600", 1772366405),
    ("iso", "2026-03-01T14:00:05+02", 1772366405),
    ("compact", "20260301120005", 1772366405),
    ("epoch", "1772366405", 1772366405),
    ("epoch", "1772366405.75", 1772366405),
    ("epoch_ms", "1772366405750", 1772366405),
    ("%Y-%m-%d %H:%M:%S", "2026-03-01 12:00:05", 1772366405),
    ("%d.%m.%y %H:%M", "01.03.26 12:00", 1772366400),
    ("%Y%m%d%H%M%S%z", "20260301120005Z", 1772366405),
    ("%Y-%m-%dT%H:%M:%S.%f", "2026-03-01T12:00:05.5", 1772366405),
    ("%d/%m/%Y %H:%M:%S", "1/3/2026 12:0:05", 1772366405),
    ("iso", "2024-02-29T00:00:00Z", 1709164800),
])
def test_time_formats(fmt, value, expected):
    data = f"record_type,start_time,imsi\nMOC,{value},460001234567890\n".encode()
    m = ColumnMapping(time_format=fmt, columns={"record_type": "record_type",
                                                "start_time": "start_time", "imsi": "imsi"})
    b = EventBatch.concat(read_csv_events(io.BytesIO(data), mapping=m))
    assert list(b.time) == [expected]


@pytest.mark.parametrize("fmt,value", [
    ("iso", "2026-03-01T12:00:05"), ("iso", "2026-03-01T12:00:05+05:30")])
def test_utc_offset_applies_to_naive_times_only(fmt, value):
    data = f"record_type,start_time,imsi\nMOC,{value},460001234567890\n".encode()
    m = ColumnMapping(utc_offset="+05:30", columns={"record_type": "record_type",
                                                    "start_time": "start_time", "imsi": "imsi"})
    b = EventBatch.concat(read_csv_events(io.BytesIO(data), mapping=m))
    assert list(b.time) == [1772366405 - 5 * 3600 - 1800]


@pytest.mark.parametrize("fmt,value", [
    ("iso", "2026-13-01T12:00:05Z"), ("iso", "2026-02-29T12:00:05Z"), ("iso", "2026-03-01T24:00:00Z"),
    ("iso", "2026-03-01T12:00:60Z"), ("iso", "2026-03-01T12:00:05z"), ("iso", "2026-03-01T12:00:05+2"),
    ("iso", "2026-03-01T12:00:05+24:00"), ("iso", "2026-03-01T12:00:05."), ("iso", "1899-12-31T23:59:59Z"),
    ("iso", "2026-03-01"), ("iso", ""), ("compact", "2026030112000"), ("compact", "202603011200055"),
    ("epoch", "-1"), ("epoch", "1e9"), ("epoch", "7258118400"), ("epoch_ms", ""),
    ("%d/%m/%Y %H:%M:%S", "1/3/2026 12:0:5x"),
])
def test_unparsable_times(fmt, value):
    data = f"record_type,start_time,imsi\nMOC,{value},460001234567890\n".encode()
    m = ColumnMapping(time_format=fmt, columns={"record_type": "record_type",
                                                "start_time": "start_time", "imsi": "imsi"})
    stats = ReadStats()
    assert len(EventBatch.concat(read_csv_events(io.BytesIO(data), mapping=m, stats=stats))) == 0
    assert stats.rejected == {"unparsable time": 1}


def write_profile(tmp_path, d):
    p = tmp_path / "p.json"
    p.write_text(json.dumps(d) if not isinstance(d, str) else d)
    return str(p)


COLS = {"record_type": "t", "start_time": "s", "imsi": "i"}


@pytest.mark.parametrize("profile,message", [
    ({"columns": COLS, "sep": ";"},
     "column profile {p}: unknown key(s) sep (allowed: name, description, separator, quote, "
     "columns, time_format, utc_offset, record_types, float_numbers, null_tokens, subscriber_key, "
     "imei_tokens, timezone, parties, keep, detect)"),
    ({"columns": {"record_type": "t", "start_time": "s"}},
     "column profile '{p}': columns: imsi is required by subscriber_key 'imsi' (give the header "
     "name of its column); if the export has no IMSI, set subscriber_key to msisdn, token or "
     "imsi_or_msisdn"),
    ({"columns": dict(COLS, cell="c")},
     "column profile '{p}': columns: unknown field(s) cell (fields: record_type, start_time, "
     "imsi, imei, msisdn, other_party, duration_s, cell_id, token)"),
    ({"columns": dict(COLS, imei=3)},
     "column profile '{p}': columns: imei must be a header name (string) or null, not 3"),
    ({"columns": COLS, "separator": ";;"},
     "column profile '{p}': separator: must be one ASCII character other than a newline, not ';;'"),
    ({"columns": COLS, "time_format": "%Y-%m-%d %I"},
     "column profile '{p}': time_format: %I is not supported (use %Y %y %m %d %H %M %S %f %z %%)"),
    ({"columns": COLS, "time_format": "yyyymmdd"},
     "column profile '{p}': time_format: 'yyyymmdd' is not one of iso, epoch, epoch_ms, compact "
     "or a pattern like '%Y-%m-%d %H:%M:%S'"),
    ({"columns": COLS, "time_format": "%H:%M"},
     "column profile '{p}': time_format: '%H:%M' must contain %Y (or %y), %m and %d"),
    ({"columns": COLS, "utc_offset": "8"},
     "column profile '{p}': utc_offset: must look like +08:00 or -0500, not '8'"),
    ({"columns": COLS, "record_types": {"0": "VOICE"}},
     "column profile '{p}': record_types: code '0' maps to 'VOICE'; allowed: MOC, MTC, SMS_MO, "
     "SMS_MT, DATA or null (skip the record)"),
    ({"columns": COLS, "float_numbers": "yes"},
     "column profile '{p}': float_numbers: must be true or false, not 'yes'"),
    ("[1, 2]", "column profile {p}: must be a JSON object, not list"),
    ("{", "column profile file {p}: not valid JSON (line 1, column 2: Expecting property name "
          "enclosed in double quotes)"),
])
def test_profile_validation_messages(tmp_path, profile, message):
    p = write_profile(tmp_path, profile)
    with pytest.raises(ConfigError) as e:
        load_mapping(p)
    assert str(e.value) == message.format(p=p)


def test_unknown_profile_name_and_missing_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_mapping("ericsson")
    assert str(e.value) == ("unknown column profile 'ericsson': built-in profiles are canonical, "
                            "msc-compact, msc-hourly, msc-semicolon, msc-words, operator-anon, "
                            "spreadsheet; or give the path of a .json profile file")
    with pytest.raises(ConfigError) as e:
        load_mapping(str(tmp_path / "none.json"))
    assert str(e.value) == f"column profile file {tmp_path / 'none.json'} does not exist"


def test_profile_missing_columns_in_file(tmp_path):
    data = b"a;b;c\n1;2;3\n"
    with pytest.raises(InputError) as e:
        list(read_csv_events(io.BytesIO(data), mapping="msc-semicolon", name="v.csv"))
    assert str(e.value).startswith("v.csv:1: no header line: line 1 ('a;b;c') names none of the "
                                   "columns of profile 'msc-semicolon'")


def test_one_column_may_feed_several_fields():
    # the profiled engine reads it: the subscriber's number is both the key and the msisdn
    m = ColumnMapping(columns={"record_type": "t", "start_time": "s", "imsi": None, "msisdn": "a",
                               "other_party": "a"}, subscriber_key="msisdn")
    assert m.engine == "profile"
    b = EventBatch.concat(read_csv_events(io.BytesIO(b"t,s,a\nMOC,2026-03-01T12:00:05Z,8613800000001\n"),
                                          mapping=m))
    assert b.to_pandas()[["msisdn", "other_party"]].values.tolist() == [["8613800000001"] * 2]
