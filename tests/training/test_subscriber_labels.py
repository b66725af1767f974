"""Features keyed by ``subscriber`` (the key is not an IMSI for every SIM) and their labels:
labels files keyed by ``subscriber`` or ``msisdn``, read by ``simbox train`` and
``simbox evaluate``, and the one-line refusal of a labels file keyed otherwise."""
import json
import pathlib

import pandas as pd
import pytest

import simbox.data
import simbox.fastpath
from simbox.cli import main
from simbox.errors import InputError, ParseError
from simbox.features import compute_features, write_table
from simbox.training.labels import load_labels, read_labels
from simbox.training.run import evaluate_files, features_key, read_features_file, train_files

from training_network import FAST

SAMPLE = pathlib.Path(simbox.data.__file__).parent / "sample"
PROFILES = pathlib.Path(simbox.fastpath.__file__).parent / "profiles"
SMALL = dict(knowledge=False, folds=3, target_precision=0.95, kind_holdout=False,
             model_params=FAST, n_boot=20)


def write(tmp_path, text, name="labels.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_labels_keyed_by_subscriber_or_msisdn(tmp_path):
    p = write(tmp_path, "subscriber,label,case_id\nA7f3-token,simbox,r1\n491720015838,legit,r2\n")
    assert read_labels(p)[["imsi", "label"]].values.tolist() == [["A7f3-token", "simbox"],
                                                                 ["491720015838", "legit"]]
    p = write(tmp_path, "msisdn,imei,label,case_id\n491720015838,,cardfarm,r1\n")
    assert read_labels(p)["imsi"].tolist() == ["491720015838"]


@pytest.mark.parametrize("text, msg", [
    ("msisdn,label,case_id\n4917x,simbox,r1\n",
     "labels.csv:2: field 'msisdn': '4917x' is not a string of digits"),
    ("subscriber,imei,label,case_id\n,,simbox,r1\n",
     "labels.csv:2: field 'subscriber': neither subscriber nor imei given"),
    ("imsi,subscriber,label,case_id\n",
     "labels.csv:1: more than one key column (imsi, subscriber) "
     "(give one of imsi, subscriber or msisdn: the features' key column)"),
])
def test_bad_subscriber_labels_exact_messages(tmp_path, text, msg):
    p = write(tmp_path, text)
    with pytest.raises(ParseError) as e:
        read_labels(p)
    assert str(e.value) == str(tmp_path / msg)


@pytest.mark.parametrize("header, features, error", [
    ("imsi", "subscriber", "the labels are keyed by imsi but the features by subscriber; not "
     "every SIM of the features has an IMSI: name the key column subscriber and give the "
     "features' subscriber values (or msisdn)"),
    ("subscriber", "imsi", "the labels are keyed by subscriber but the features by imsi; name "
     "the key column imsi and give the SIMs' IMSIs"),
    ("msisdn", "imsi", "the labels are keyed by msisdn but the features by imsi; name "
     "the key column imsi and give the SIMs' IMSIs"),
    ("subscriber", "subscriber", None), ("msisdn", "subscriber", None), ("imsi", "imsi", None),
])
def test_labels_key_must_fit_the_features_key(tmp_path, header, features, error):
    p = write(tmp_path, f"{header},label,case_id\n262014000000037,simbox,r1\n")
    if error is None:
        assert load_labels(p, key=features).counts()["simbox"] == 1
        return
    with pytest.raises(InputError) as e:
        load_labels(p, key=features)
    assert str(e.value) == f"{p}: {error}"


def test_device_rows_fit_either_key(tmp_path):
    p = write(tmp_path, "imei,label,case_id\n356938035643809,simbox,r1\n")
    devices = pd.DataFrame({"imsi": ["491720015838"], "imei": ["356938035643809"]})
    for key in ("imsi", "subscriber"):
        assert load_labels(p, devices, key=key).sims.index.tolist() == ["491720015838"]


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_read_a_subscriber_keyed_features_file(tmp_path, ext):
    df = pd.DataFrame({"subscriber": ["491720015838", "A7f3-token"],
                       "subscriber_key": ["msisdn", "token"], "n_moc": [3, 4]})
    path = tmp_path / f"f.{ext}"
    df.to_csv(path, index=False) if ext == "csv" else df.to_parquet(path)
    got = read_features_file(path)
    assert got.index.tolist() == ["491720015838", "A7f3-token"]
    assert features_key(got) == "subscriber" and got["n_moc"].tolist() == [3, 4]
    pd.concat([df, df]).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(InputError, match="subscriber 491720015838 appears more than once"):
        read_features_file(tmp_path / "dup.csv")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample network's features keyed by MSISDN (a profile's ``subscriber_key``) and
    by IMSI, and its seized SIMs labelled by IMSI and by MSISDN."""
    d = tmp_path_factory.mktemp("msisdn")
    profile = json.loads((PROFILES / "canonical.json").read_text())
    profile.update(name="canonical-msisdn", subscriber_key="msisdn")
    (d / "profile.json").write_text(json.dumps(profile))
    opts = dict(cells=SAMPLE / "cells.csv", tac=SAMPLE / "tac.csv", timezone="Asia/Shanghai")
    by_imsi = compute_features(SAMPLE / "cdrs.csv.gz", **opts)
    by_msisdn = compute_features(SAMPLE / "cdrs.csv.gz", columns=d / "profile.json", **opts)
    assert by_msisdn.key_kinds == {"msisdn": len(by_imsi.features)}
    write_table(by_imsi, d / "imsi.parquet")
    write_table(by_msisdn, d / "msisdn.parquet")
    truth = pd.read_csv(SAMPLE / "truth.csv", dtype=str, keep_default_na=False)
    seized = truth[truth["class"] != "legit"]
    labels = pd.DataFrame({"imsi": seized["imsi"], "label": seized["class"],
                           "case_id": seized["deployment_id"]})
    labels.to_csv(d / "imsi_labels.csv", index=False)
    msisdn = by_imsi.sims["msisdn"].reindex(labels["imsi"]).to_numpy()
    labels.assign(imsi=msisdn).rename(columns={"imsi": "subscriber"}) \
        .to_csv(d / "subscriber_labels.csv", index=False)
    return d, labels["label"].value_counts().to_dict()


def test_train_and_evaluate_on_msisdn_keyed_features(sample, tmp_path):
    d, counts = sample
    model = train_files(features=d / "msisdn.parquet", labels=d / "subscriber_labels.csv",
                        out=tmp_path / "model", **SMALL)
    seen = model.card["training_data"]["labels"]
    assert seen["by_label"] == {"simbox": counts["simbox"], "cardfarm": counts["cardfarm"],
                                "legit": 0}
    assert seen["not_in_features"] == 0
    res = evaluate_files(model=tmp_path / "model", features=d / "msisdn.parquet",
                         labels=d / "subscriber_labels.csv", n_boot=0)
    assert res["sims"] == sum(counts.values())


@pytest.mark.parametrize("command", ["train", "evaluate"])
@pytest.mark.parametrize("features, labels, key, other", [
    ("msisdn.parquet", "imsi_labels.csv", "imsi", "subscriber"),
    ("imsi.parquet", "subscriber_labels.csv", "subscriber", "imsi")])
def test_cli_refuses_labels_keyed_otherwise(sample, tmp_path, capsys, command, features, labels,
                                            key, other):
    d, _ = sample
    argv = [command, "--features", str(d / features), "--labels", str(d / labels)]
    argv += ["--out", str(tmp_path / "m"), "--no-simulated"] if command == "train" else []
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"simbox {command}: error: {d / labels}: the labels are keyed by {key} "
                          f"but the features by {other}; ")
    assert not (tmp_path / "m").exists()
