import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

import simbox
from simbox.cli import build_parser, command_modules, main
from simbox.fastpath import events
from simbox.fastpath import _digits


def test_version_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"simbox {simbox.__version__}"


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "simbox", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "usage: simbox" in out.stdout


def test_every_command_has_help_with_example():
    for mod in command_modules():
        assert mod.HELP and "Example" in mod.DESCRIPTION, mod.NAME


@given(st.text(alphabet="0123456789", min_size=0, max_size=18))
def test_digits_code_roundtrip(s):
    code = events.encode_digits(s)
    assert events.decode_digits(code) == s
    assert list(_digits.decode_array(np.array([code], dtype=np.int64))) == [s]
    assert list(_digits.encode_array([s])) == [code]


def test_digits_code_keeps_leading_zeros_and_order():
    a, b = events.encode_digits("0049"), events.encode_digits("49")
    assert a != b
    assert events.encode_digits("460001234567891") - events.encode_digits("460001234567890") == 1


@pytest.mark.parametrize("bad", ["12a", "+49", "1" * 19, "１２"])
def test_digits_code_rejects(bad):
    with pytest.raises(ValueError):
        events.encode_digits(bad)
    with pytest.raises(ValueError):
        _digits.encode_array([bad])


def test_event_batch_concat_and_pandas():
    cells = events.CellDict(["46000-1-2"])
    b = events.EventBatch({
        "rtype": [0], "time": [1772366405], "imsi": [events.encode_digits("460001234567890")],
        "imei": [0], "msisdn": [events.encode_digits("8613800000000")],
        "other": [events.encode_digits("0049301234")], "duration": [12], "cell": [0]})
    both = events.EventBatch.concat([b, b])
    assert len(both) == 2
    df = both.to_pandas(cells)
    assert df.loc[0, "other_party"] == "0049301234"
    assert df.loc[0, "cell_id"] == "46000-1-2"
    assert str(df.loc[0, "start_time"]) == "2026-03-01 12:00:05+00:00"


def test_public_api_is_exported_and_lazy():
    code = ("import sys, simbox; assert 'pandas' not in sys.modules; "
            "f = simbox.scan; import simbox.scan as s; from simbox.training.train import train; "
            "assert f is s.scan and simbox.train is train; "
            "assert callable(simbox.scan) and simbox.scan.__call__.__doc__ is None; "
            "assert callable(simbox.compute_features) and callable(simbox.evaluate); "
            "assert set(simbox.__all__) >= {'scan', 'train', 'evaluate', 'simulate'}")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_every_package_folder_is_installed():
    # a folder with an __init__.py that setup.py does not list works in the editable
    # install (the tests) and is missing from a wheel ("No module named simbox.feedback")
    import ast
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1]
    tree = ast.parse((root / "setup.py").read_text())
    listed = next(ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
                  and any(getattr(t, "id", None) == "PACKAGES" for t in n.targets))
    folders = {pathlib.Path(f) for f in listed.values()}
    for top in folders:
        for init in (root / top).rglob("__init__.py"):
            folder = init.parent.relative_to(root)
            if "build" in folder.parts or "tests" in folder.parts:
                continue
            assert folder in folders, f"{folder} is a package that setup.py does not install"
