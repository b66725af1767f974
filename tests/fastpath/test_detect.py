"""simbox columns detect (fastpath/detect.py): the right mapping on every built-in layout's test
file, guessed column by column; what it is unsure of; one-line errors when it cannot tell."""
import pathlib
import sys

import pytest

from simbox.fastpath.columns import load_mapping
from simbox.fastpath.detect import DetectError, detect_profile
from simbox.fastpath.profile_check import check_profile, preview

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))
import exports  # noqa: E402

DATA = pathlib.Path(__file__).parents[1] / "data" / "csv"
SAME = ("separator", "columns", "record_types", "float_numbers", "null_tokens",
        "subscriber_key", "imei_tokens", "parties", "keep")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = exports.write_all(tmp_path_factory.mktemp("exports"))
    out["canonical"] = str(DATA / "good.csv")
    out["msc-semicolon"] = str(DATA / "msc_semicolon.csv")
    return out


LAYOUTS = exports.LAYOUTS + ("canonical", "msc-semicolon")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_detect_recognises_the_builtin_layout(files, layout):
    d = detect_profile(files[layout])
    assert d.builtin == layout and d.confidence == 1.0 and d.profile == load_mapping(layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_detect_guesses_every_column_of_the_layout(files, layout):
    d = detect_profile(files[layout], use_builtins=False)
    got, want = d.profile.to_dict(), load_mapping(layout).to_dict()
    assert {k: got.get(k) for k in SAME} == {k: want.get(k) for k in SAME}
    aliases = {"compact": "%Y%m%d%H%M%S"}
    assert aliases.get(got["time_format"], got["time_format"]) == \
        aliases.get(want["time_format"], want["time_format"])
    # the profile it proposes reads the file as the built-in does
    assert check_profile(files[layout], d.profile).stats.as_dict() == \
        check_profile(files[layout], layout).stats.as_dict()


def test_detect_says_where_it_is_unsure(files):
    d = detect_profile(files["operator-anon"], use_builtins=False)
    assert d.ambiguities == [
        "numeric record codes read as the common MSC coding 0 MOC, 1 MTC, 6 SMS MO, 7 SMS MT, "
        "2 forwarding (skipped): check record_types",
        "record-type code(s) 9 of Call_Type not mapped: their records are rejected unless listed "
        "in record_types",
        "imei: IMEI holds device tokens, not IMEIs (imei_tokens: true; no TAC lookup)",
        "no IMSI column: the subscriber key is the MSISDN (A_Num)",
        "times carry no zone: set timezone to the network's IANA zone (taken as UTC)"]
    assert d.confidence == pytest.approx(0.5)
    assert d.to_dict()["detect"]["columns"][""] == "not used"      # the unnamed index column


def test_preview_shows_ten_parsed_records(files):
    df = preview(files["msc-words"], "msc-words", 10)
    assert len(df) == 10 and list(df.columns) == [
        "record_type", "start_time", "imsi", "imei", "msisdn", "other_party", "duration_s",
        "cell_id", "IN_TRUNK", "OUT_TRUNK"]          # the kept columns last


@pytest.mark.parametrize("text,message", [
    ("kind,when,x,y\nMOC,2024-06-03 10:00:00,262014000000001,262014000000002\n"
     "MTC,2024-06-03 10:00:05,262014000000003,262014000000004\n",
     "cannot tell which column holds the imsi: x, y all fit; write the profile by hand "
     "(docs/input-formats.md)"),
    ("kind,when,dur\nMOC,2024-06-03 10:00:00,12\n",
     "no column looks like an IMSI or an MSISDN (header: kind, when, dur); set subscriber_key "
     "and its column in a profile by hand (docs/input-formats.md)"),
    ("type,imsi\nMOC,262014000000001\n",
     "no column (or date and time columns) parses as times (header: type, imsi); write the "
     "profile by hand with its time_format (docs/input-formats.md)"),
    ("0,20240603100000,262014000000001\n1,20240603100001,262014000000002\n",
     "no header line (line 1 is numbers); simbox needs a header naming the columns: add one, or "
     "write the profile by hand (docs/input-formats.md)"),
])
def test_undecidable_detection_is_one_line(tmp_path, text, message):
    p = tmp_path / "x.csv"
    p.write_text(text)
    with pytest.raises(DetectError) as e:
        detect_profile(p)
    where = f"{p}:1" if message.startswith("no header") else f"{p}"
    assert str(e.value) == f"{where}: {message}"


def test_detect_writes_the_given_time_zone(files):
    d = detect_profile(files["msc-compact"], use_builtins=False, timezone="Europe/London")
    assert d.profile.timezone == "Europe/London"
    assert not any(a.startswith("times carry no zone") for a in d.ambiguities)
    assert d.profile.to_dict() == dict(load_mapping("msc-compact").to_dict(),
                                       name=d.profile.name, description=d.profile.description,
                                       time_format="%y%m%d%H%M%S")
