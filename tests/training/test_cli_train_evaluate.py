"""simbox train / simbox evaluate end to end on the shipped sample network (simbox.data)."""
import json
import pathlib
import shutil

import pytest

import simbox.data
from simbox.cli import main

pytest.importorskip("simbox.data.simulate", reason="needs the simulator's sample network")
pytest.importorskip("simbox.features.compute", reason="needs the feature pipeline")

SAMPLE = pathlib.Path(simbox.data.__file__).parent / "sample"
FEATURE_ARGS = ["--cells", str(SAMPLE / "cells.csv"), "--tac", str(SAMPLE / "tac.csv"),
                "--timezone", "Asia/Shanghai"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model"
    rc = main(["train", str(SAMPLE / "cdrs.csv.gz"), *FEATURE_ARGS, "--truth",
               str(SAMPLE / "truth.csv"), "--out", str(out), "--folds", "3",
               "--target-precision", "0.95", "--no-kind-holdout", "--no-simulated", "--json"])
    assert rc == 0
    return out


def test_train_cli_writes_folder_and_card(trained, capsys):
    card = json.loads((trained / "model.json").read_text())
    assert card["timezone"] == "Asia/Shanghai"
    assert card["training_data"]["label_counts"]["simbox"] > 20
    assert card["training_data"]["inputs"][0]["read"]["accepted"] > 100_000
    assert (trained / "report.html").stat().st_size > 10_000


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
    rc = main(["train", str(SAMPLE / "cdrs.csv.gz"), *FEATURE_ARGS, "--labels",
               str(SAMPLE / "labels.csv"), "--simulated", str(SAMPLE), "--seizure-weight", "5",
               "--simulated-weight", "0.5", "--out", str(out), "--folds", "3",
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
