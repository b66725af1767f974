"""simbox train --labels-from HISTORY: the test-call and verdict labels, their provenance on
the model card."""
import json

import pandas as pd

from simbox.cli import main


def test_train_from_the_history(tc_network, history, tmp_path, capsys):
    net, network, c = tc_network
    assert main(["testcalls", str(net / "testcalls.csv"), str(net / "cdrs.csv.gz"),
                 "--country-code", "86", "--out", str(tmp_path / "tc")]) == 0
    caught = pd.read_csv(tmp_path / "tc" / "labels.csv", dtype=str)
    # a seizure of a card farm the test calls cannot see, with its label
    farm = network.truth.loc[network.truth["class"] == "cardfarm", "imsi"].head(3).tolist()
    (tmp_path / "v.csv").write_text("imsi,verdict,date,case_id,label\n" + "".join(
        f"{s},seized,2026-03-04,RAID-{i % 2},cardfarm\n" for i, s in enumerate(farm)))
    assert main(["verdicts", str(tmp_path / "v.csv")]) == 0
    capsys.readouterr()
    code = main(["train", str(net / "cdrs.csv.gz"), "--cells", str(net / "cells.csv"),
                 "--timezone", "Asia/Shanghai", "--labels-from", str(history), "--no-simulated",
                 "--probe-numbers", str(net / "probes.txt"), "--target-precision", "0.5",
                 "--out", str(tmp_path / "model"), "--json"])
    assert code == 0, capsys.readouterr().err
    card = json.loads((tmp_path / "model" / "model.json").read_text())
    prov = card["label_provenance"]
    assert set(prov) == {"testcall", "seizure"}
    assert prov["testcall"]["sims"] == len(caught) and prov["testcall"]["by_label"] == \
        {"simbox": len(caught)}
    assert prov["seizure"]["by_label"] == {"cardfarm": 3}
    assert card["training_data"]["labels"]["by_provenance"] == {"seizure": 3,
                                                                "testcall": len(caught)}
    assert card["training_data"]["inputs"][-1] == {"labels": f"history {history}",
                                                   "rows": len(caught) + 3}
    for p in prov.values():
        assert 0.0 <= p["recall_oof"] <= 1.0


def test_labels_and_labels_from_together(tmp_path, history, capsys):
    assert main(["train", "x.csv", "--labels", "l.csv", "--labels-from", str(history),
                 "--out", str(tmp_path / "m")]) == 1
    assert capsys.readouterr().err == "simbox train: error: give --labels or --labels-from, " \
                                      "not both\n"
