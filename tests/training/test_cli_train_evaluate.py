"""simbox train / simbox evaluate end to end on the shipped sample network (simbox.data)."""
import contextlib
import json
import pathlib
import shutil

import pytest

import simbox.data
import simbox.training.run
from simbox.cli import main
from training_network import FAST

pytest.importorskip("simbox.data.simulate", reason="needs the simulator's sample network")
pytest.importorskip("simbox.features.compute", reason="needs the feature pipeline")

SAMPLE = pathlib.Path(simbox.data.__file__).parent / "sample"
FEATURE_ARGS = ["--cells", str(SAMPLE / "cells.csv"), "--tac", str(SAMPLE / "tac.csv"),
                "--timezone", "Asia/Shanghai"]
TRAIN_ARGS = ["train", str(SAMPLE / "cdrs.csv.gz"), *FEATURE_ARGS, "--truth",
              str(SAMPLE / "truth.csv"), "--folds", "3", "--target-precision", "0.95",
              "--no-kind-holdout", "--no-simulated", "--json"]
# small model settings for the library (simbox train has no options for them)
SMALL = {"model_params": FAST, "n_boot": 20}


@contextlib.contextmanager
def small_models():
    """``simbox train`` whose library call gets :data:`SMALL`; fails if the command does not
    train through :func:`simbox.training.run.train_files`."""
    real, calls = simbox.training.run.train_files, []

    def train_files(**options):
        calls.append(options)
        return real(**options, **SMALL)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(simbox.training.run, "train_files", train_files)
        yield
    assert calls, "simbox train did not call simbox.training.run.train_files"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model"
    with small_models():
        assert main([*TRAIN_ARGS, "--out", str(out)]) == 0
    return out


def check_folder_and_card(folder, bootstrap, boosting_iterations):
    card = json.loads((folder / "model.json").read_text())
    assert card["timezone"] == "Asia/Shanghai"
    assert card["training_data"]["label_counts"]["simbox"] > 20
    assert card["training_data"]["inputs"][0]["read"]["accepted"] > 100_000
    assert (folder / "report.html").stat().st_size > 10_000
    assert card["cross_validation"]["bootstrap"] == bootstrap
    assert card["params"]["max_iter"] == boosting_iterations


def test_train_cli_writes_folder_and_card(trained):
    check_folder_and_card(trained, SMALL["n_boot"], FAST["max_iter"])


@pytest.mark.slow
def test_train_cli_at_the_library_defaults(tmp_path):
    """The one end-to-end training at the library's model settings (the suite's slowest)."""
    assert main([*TRAIN_ARGS, "--out", str(tmp_path / "model")]) == 0
    check_folder_and_card(tmp_path / "model", 200, 100)      # the booster's default iterations


def test_evaluate_cli_with_truth_and_device_labels(trained, capsys):
    capsys.readouterr()
    rc = main(["evaluate", "--model", str(trained), str(SAMPLE / "cdrs.csv.gz"), *FEATURE_ARGS,
               "--truth", str(SAMPLE / "truth.csv"), "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    n_truth = sum(1 for _ in open(SAMPLE / "truth.csv")) - 1
    assert 0.95 * n_truth < res["sims"] <= n_truth      # SIMs without any event are not scored
    assert set(res["model"]["recall_by_kind"]) >= {"simbox_plain", "cardfarm_otp"}
    assert "call_centre" in res["model"]["fpr_by_legit_group"]
    rc = main(["evaluate", "--model", str(trained), str(SAMPLE / "cdrs.csv.gz"), *FEATURE_ARGS,
               "--labels", str(SAMPLE / "labels.csv")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "SIMs evaluated" in out and "model" in out and "rules" in out


def test_cli_errors_are_one_line(trained, tmp_path, capsys):
    bad = tmp_path / "labels.csv"
    bad.write_text("imsi,label,case_id\n123,simbox,r1\n")
    rc = main(["train", "--features", str(tmp_path / "none.parquet"), "--labels", str(bad),
               "--out", str(tmp_path / "m")])
    assert rc == 1
    assert capsys.readouterr().err.strip() == (
        f"simbox train: error: {tmp_path / 'none.parquet'}: no such features file")
    broken = tmp_path / "broken"
    shutil.copytree(trained, broken)
    (broken / "model.skops").write_bytes((broken / "model.skops").read_bytes()[:1000])
    rc = main(["evaluate", "--model", str(broken), "--features", str(tmp_path / "x.parquet"),
               "--labels", str(bad)])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the file is truncated or corrupted" in err


def test_train_seizures_beside_simulated_network(tmp_path, capsys):
    out = tmp_path / "m"
    with small_models():
        rc = main(["train", str(SAMPLE / "cdrs.csv.gz"), *FEATURE_ARGS, "--labels",
                   str(SAMPLE / "labels.csv"), "--simulated", str(SAMPLE), "--seizure-weight",
                   "5", "--simulated-weight", "0.5", "--out", str(out), "--folds", "3",
                   "--target-precision", "0.9", "--no-kind-holdout", "--no-simulated"])
    assert rc == 0, capsys.readouterr().err
    card = json.loads((out / "model.json").read_text())
    data = card["training_data"]
    assert data["labels"]["from_devices"] > 0            # imei rows expanded through the CDRs
    assert data["simulated"][0]["train_weight"] == 0.5 and data["seizure_weight"] == 5.0
    n_truth = sum(1 for _ in open(SAMPLE / "truth.csv")) - 1
    assert 0.95 * n_truth < data["sources"]["simulated"] <= n_truth
    assert data["sources"]["unlabelled"] > 0.9 * n_truth
    assert card["unlabelled"]["policy"] == "pu"
    assert card["unlabelled"]["pu"]["excluded"] <= 0.02 * data["sources"]["unlabelled"] + 1
    assert set(card["metrics"]["model"]["by_source"]) >= {"seizure", "simulated"}


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_max_group_fpr_out_of_range_is_one_line_and_writes_nothing(tmp_path, capsys, value):
    out = tmp_path / "m"
    assert main(TRAIN_ARGS + ["--out", str(out), "--max-group-fpr", value]) == 1
    err = capsys.readouterr().err
    assert err == (f"simbox train: error: max group false-positive rate must be within [0, 1], "
                   f"not {float(value)}\n")
    assert not out.exists()
