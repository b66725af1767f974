"""One set of input options: the same names, defaults and help in features, scan, train and
evaluate, defaults taken from the library, and the library's other entry points agreeing."""
import inspect

import pytest

from simbox.cli import build_parser
from simbox.features import compute_features
from simbox.options import INPUT_OPTIONS, library_defaults

COMMANDS = ("features", "scan", "train", "evaluate")


def input_actions(command):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {a.dest if a.dest != "on_bad_records" or "--on-bad-records" in a.option_strings
            else "strict": (tuple(a.option_strings), a.default, a.help)
            for a in sub._actions if a.dest in INPUT_OPTIONS or a.dest == "on_bad_records"}


def test_every_command_has_the_same_input_options():
    first = input_actions("features")
    assert sorted(first) == sorted(INPUT_OPTIONS + ("strict",))
    for command in COMMANDS[1:]:
        assert input_actions(command) == first


def test_defaults_come_from_the_library():
    d = library_defaults()
    acts = input_actions("features")
    for name in ("columns", "on_bad_records", "max_reject_share", "workers", "memory_limit"):
        assert acts[name][1] == d[name]
    assert acts["timezone"][1] is None and d["timezone"] == "UTC"
    assert "threads" in acts["workers"][2]


@pytest.mark.parametrize("function", ["simbox.scan.scan"])
def test_library_entry_points_share_the_defaults(function):
    import importlib
    mod, name = function.rsplit(".", 1)
    sig = inspect.signature(getattr(importlib.import_module(mod), name)).parameters
    base = inspect.signature(compute_features).parameters
    for opt in ("columns", "on_bad_records", "max_reject_share", "workers", "memory_limit",
                "tac"):
        assert sig[opt].default == base[opt].default, opt


def test_train_cli_and_library_agree():
    from simbox.training.train import train
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["train"]
    cli = {a.dest: a.default for a in sub._actions}
    lib = inspect.signature(train).parameters
    for name in ("seizure_weight", "unlabelled_weight", "unlabelled_max", "target_precision",
                 "folds", "seed", "simulated_weight"):
        assert cli[name] == lib[name].default, name
