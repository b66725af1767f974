"""--engine and --from/--to: defined once (simbox/options.py), defaults of the library."""
import inspect

import pytest

from simbox.cli import build_parser, main
from simbox.features import compute_features
from simbox.scan import scan


def actions(command):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {a.dest: a for a in sub._actions}


def test_engine_options_of_features_and_scan():
    lib = inspect.signature(scan).parameters
    for command in ("features", "scan"):
        acts = actions(command)
        assert acts["engine"].default == lib["engine"].default == "local"
        assert acts["engine"].choices == ("local", "spark")
        assert acts["spark_master"].default is lib["spark_master"].default is None
    for command in ("train", "evaluate"):
        assert "engine" not in actions(command)


def test_window_defaults_are_the_library_defaults():
    base = inspect.signature(compute_features).parameters
    lib = inspect.signature(scan).parameters
    for command in ("features", "scan", "train", "evaluate"):
        acts = actions(command)
        for name in ("time_from", "time_to"):
            assert acts[name].default is base[name].default is lib[name].default is None


@pytest.mark.parametrize("argv,message", [
    (["--from", "soon"], "simbox features: error: --from 'soon': give an ISO-8601 time or date"),
    (["--from", "2026-03-02", "--to", "2026-03-01"],
     "simbox features: error: --to (2026-03-01T00:00:00Z) must be after --from (2026-03-02T00:00:00Z)"),
])
def test_bad_window_is_one_line(tmp_path, capsys, argv, message):
    f = tmp_path / "c.csv"
    f.write_text("record_type,start_time,imsi\nMOC,2026-03-01T00:00:00Z,460001234567890\n")
    assert main(["features", str(f), "--out", str(tmp_path / "f.parquet"), *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err


def test_spark_engine_refuses_options_it_cannot_honour():
    from simbox.engines import compute
    from simbox.errors import ConfigError
    with pytest.raises(ConfigError, match=r"^the Spark engine does not drop test-call probe "
                                          r"numbers yet: give --probe-numbers with --engine local$"):
        compute("spark", ["x.parquet"], probe_numbers=["+8613800000000"])
    with pytest.raises(ConfigError, match=r"^the Spark engine reads CDRs only"):
        compute("spark", ["x.parquet"], signaling=["s.pcap"])
